"""Full-text search over stored articles: what is indexed, and how a search box's words become an index query.

The index (migration 0006) covers each article's title and text. SQLite keeps an FTS5 external-content table,
``articles_fts``, that triggers update with the article; PostgreSQL a GIN index on
``to_tsvector('simple', monitor_search_text(title || ' ' || text))``. Both split words where the script puts
spaces (unicode61 folds case and diacritics; PostgreSQL's ``simple`` folds case only). Scripts written without
spaces between words (Thai, Lao, Khmer, Myanmar, Chinese, Japanese kana and kanji, Korean) give a tokenizer one
endless "word", so ``search_text`` puts a space around each of their characters, on both sides: a query in those
scripts becomes a phrase of characters, which finds it anywhere in the text (a substring search, indexed).

A search box's value is words (all must occur), ``"quoted phrases"`` and ``prefix*`` words. Every term goes to
the index as a quoted phrase, so no user input is ever read as the index's query syntax (FTS5 would fail on an
unbalanced quote or a bare ``AND``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, ColumnElement, Select, literal_column, select, text

__all__ = [
    "FTS_TABLE",
    "PG_DOCUMENT",
    "PG_SEARCH_FUNCTION",
    "PG_UNSPACED_PATTERN",
    "SearchTerm",
    "is_search_object",
    "parse_search",
    "search_condition",
    "search_text",
]

#: The SQLite FTS5 table (external content: ``articles``, rowid = article id).
FTS_TABLE = "articles_fts"
#: The PostgreSQL function the GIN index and the queries share (immutable, so it may be indexed).
PG_SEARCH_FUNCTION = "monitor_search_text"

# Scripts with no spaces between words (ranges of whole blocks): Thai, Lao, Tibetan is spaced by tsheg (punctuation),
# so not here; Myanmar, Khmer, Hiragana, Katakana, CJK ideographs (Ext A, unified, compatibility, Ext B+),
# Hangul syllables (particles cling to nouns), halfwidth katakana.
_UNSPACED = (
    "\u0e00-\u0eff"
    "\u1000-\u109f"
    "\u1780-\u17ff"
    "\u19e0-\u19ff"
    "\u3040-\u30ff"
    "\u3400-\u4dbf"
    "\u4e00-\u9fff"
    "\uac00-\ud7af"
    "\uf900-\ufaff"
    "\uff66-\uff9f"
    "\U00020000-\U0003134f"
)
_UNSPACED_CHAR = re.compile(f"([{_UNSPACED}])")
#: The same as a PostgreSQL regular expression (the database is UTF-8, so \u escapes name code points).
PG_UNSPACED_PATTERN = "([" + "".join(f"\\U{ord(c):08x}" if c != "-" else "-" for c in _UNSPACED) + "])"
_SEARCH_OBJECTS = re.compile(rf"^({FTS_TABLE}(_\w+)?|articles_search|ix_articles_search)$")
_TERM = re.compile(r'"([^"]*)"?|(\S+)')
_MAX_TERMS = 16  # a search box, not a document: more words than this are ignored


def is_search_object(name: str | None, *_: object) -> bool:
    """True for the index's own tables, view and index (alembic's autogenerate leaves them alone: no model has them;
    ``include_name`` takes ``not is_search_object``)."""
    return bool(name) and _SEARCH_OBJECTS.match(name or "") is not None


def search_text(value: str | None) -> str:
    """``value`` as the index sees it: a space around every character of a script written without spaces."""
    if not value:
        return ""
    return _UNSPACED_CHAR.sub(r" \1 ", value)


@dataclass(frozen=True)
class SearchTerm:
    """One term of a search: words that must occur together, in order; ``prefix``: the last one may go on."""

    words: str
    prefix: bool = False


def parse_search(query: str) -> list[SearchTerm]:
    """The terms of a search box's value; punctuation alone is no term (so ``"--"`` searches nothing)."""
    terms: list[SearchTerm] = []
    for found in _TERM.finditer(query or ""):
        phrase, word = found.group(1), found.group(2)
        raw = phrase if phrase is not None else word
        prefix = phrase is None and raw.endswith("*")
        words = " ".join(search_text(raw.rstrip("*") if prefix else raw).split())
        if any(ch.isalnum() for ch in words):
            terms.append(SearchTerm(words, prefix))
    return terms[:_MAX_TERMS]


def _fts5_query(terms: list[SearchTerm]) -> str:
    """FTS5 query text: each term a quoted phrase (quotes doubled), ``*`` after a prefix term, all ANDed."""
    parts = []
    for term in terms:
        quoted = '"' + term.words.replace('"', '""') + '"'
        parts.append(quoted + (" *" if term.prefix else ""))
    return " AND ".join(parts)


def _pg_lexeme(word: str) -> str:
    """A word quoted for ``to_tsquery`` (quote doubled, backslash escaped)."""
    return "'" + word.replace("\\", "\\\\").replace("'", "''") + "'"


def _pg_tsquery(terms: list[SearchTerm]) -> tuple[str, dict[str, str]]:
    """The tsquery expression of ``terms`` (ANDed) and its bound values."""
    parts: list[str] = []
    values: dict[str, str] = {}
    for i, term in enumerate(terms):
        name = f"search_{i}"
        if term.prefix:  # the last word as a prefix lexeme, after the others as a phrase
            words = [_pg_lexeme(w) for w in term.words.split()]
            values[name] = " <-> ".join(words[:-1] + [words[-1] + ":*"])
            parts.append(f"to_tsquery('simple'::regconfig, :{name})")
        else:
            values[name] = term.words
            parts.append(f"phraseto_tsquery('simple'::regconfig, :{name})")
    return "(" + " && ".join(parts) + ")", values


#: The indexed expression (migration 0006 indexes exactly this, so the query must repeat it).
PG_DOCUMENT = f"to_tsvector('simple'::regconfig, {PG_SEARCH_FUNCTION}(articles.title || ' ' || articles.text))"


def search_condition(dialect: str, terms: list[SearchTerm], article_id: Column[Any]) -> ColumnElement[bool]:
    """True for the rows whose article (``article_id``, a column of the query) holds every term in its title or
    text. ``terms`` must not be empty. On PostgreSQL the query must join ``articles`` (the condition reads it)."""
    assert terms, "an empty search has no query"
    if dialect == "postgresql":
        tsquery, values = _pg_tsquery(terms)
        return text(f"{PG_DOCUMENT} @@ {tsquery}").bindparams(**values)  # type: ignore[return-value]
    found: Select[Any] = (
        select(literal_column("rowid"))
        .select_from(text(FTS_TABLE))
        .where(text(f"{FTS_TABLE} MATCH :search").bindparams(search=_fts5_query(terms)))
    )
    # "+column": SQLite must not drive the query from the search's rowids (a common word lists most articles, each
    # then looked up and sorted: 200 ms at 100,000 articles) but scan matches newest first, testing each against the
    # list it builds once, and stop at the page's end (13 ms). docs/benchmarks.md has the numbers.
    unindexed: ColumnElement[Any] = literal_column(f"+{article_id.table.name}.{article_id.name}")
    return unindexed.in_(found)
