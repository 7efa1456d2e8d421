"""Documents for the matcher from files, stdin and URLs: what ``monitor match`` and ``rules explain`` read.

An INPUT is a ``.txt`` file (title = first non-empty line, text = the whole file), an ``.html`` file (extracted with
the pipeline's extractor), a ``.jsonl`` file or ``-`` (JSON Lines on stdin, fields type-checked), or an ``http(s)://``
URL (fetched and extracted). A bad input is one ``DocumentError`` naming ``file:line`` where there is a line.
"""

from __future__ import annotations

import asyncio
import json
import math
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from monitor.config import FetchSettings
from monitor.errors import MonitorError
from monitor.rules import Document

__all__ = ["DocumentError", "InputDocument", "fetch_document", "html_document", "read_documents", "read_txt"]


class DocumentError(MonitorError, ValueError):
    """A document input cannot be read (missing file, bad JSON, unsupported kind)."""


@dataclass(frozen=True)
class InputDocument:
    """One document of an input and the name it is reported under."""

    id: str
    doc: Document
    #: The JSONL ``id`` as given, for ``--format json`` (a number stays a number); None: ``id``.
    json_id: object = None


def read_txt(path: Path) -> Document:
    text = path.read_text(encoding="utf-8-sig", errors="replace")  # -sig: a BOM is no part of the title or offsets
    title = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return Document(title=title, text=text)


def read_documents(name: str, fetch: FetchSettings | None = None) -> Iterator[InputDocument]:
    """The documents of one INPUT of ``monitor match`` (docs/rule-language.md section 5): a ``.txt``, ``.html`` or
    ``.jsonl`` file, ``-`` for JSONL on stdin, or an ``http(s)://`` URL (fetched with ``fetch``).

    Raises:
        DocumentError: the input cannot be read; it ends that input (the documents before it were yielded).
    """
    if name == "-":
        yield from _jsonl(_jsonl_lines(sys.stdin.buffer.read(), "-"), "-")
    elif name.startswith(("http://", "https://")):
        yield InputDocument(name, fetch_document(name, fetch or FetchSettings()))
    else:
        path = Path(name)
        if not path.is_file():
            raise DocumentError(f"{name}: no such file")
        suffix = path.suffix.lower()
        try:
            if suffix == ".txt":
                yield InputDocument(name, read_txt(path))
            elif suffix in (".html", ".htm"):
                yield InputDocument(name, html_document(path.read_bytes(), ""))
            elif suffix == ".jsonl":
                yield from _jsonl(_jsonl_lines(path.read_bytes(), name), name)
            else:
                raise DocumentError(f"{name}: unsupported input; use a .txt, .html or .jsonl file, '-' or a URL")
        except OSError as e:
            raise DocumentError(f"{name}: cannot read the file: {e.strerror or e}") from e


def _jsonl_lines(data: bytes, source: str) -> list[str]:
    """The lines of JSON Lines, split at line feeds only: JSON strings may hold U+2028, U+2029 and U+0085 raw,
    which ``str.splitlines()`` would break on."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:  # e.object is the data after a BOM, where e.start counts
        line = e.object.count(b"\n", 0, e.start) + 1
        raise DocumentError(f"{source}:{line}: not UTF-8 text: {e.reason}") from None
    return [line.removesuffix("\r") for line in text.split("\n")]


def _jsonl(lines: list[str], source: str) -> Iterator[InputDocument]:
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise DocumentError(f"{source}:{n}: invalid JSON: {e.msg}") from e
        except (ValueError, RecursionError) as e:  # an integer past Python's digits limit; nesting past the stack
            raise DocumentError(f"{source}:{n}: invalid JSON: {type(e).__name__}: {str(e)[:100]}") from None
        if not isinstance(obj, dict):
            raise DocumentError(f"{source}:{n}: a JSONL document must be an object")
        yield _jsonl_input(obj, f"{source}:{n}")


def _jsonl_input(obj: dict[str, object], where: str) -> InputDocument:
    """One JSONL document, its fields type-checked: a wrong type is an error, not a crash or a str() of it."""

    def text(key: str) -> str:
        value = obj.get(key)
        if value is None or isinstance(value, str):
            return value or ""
        raise DocumentError(f"{where}: '{key}' must be a string, not {_json_type(value)}")

    tags = obj.get("feed_tags")
    if tags is not None and not isinstance(tags, list):
        raise DocumentError(f"{where}: 'feed_tags' must be a list of strings, not {_json_type(tags)}")
    for tag in tags or ():
        if not isinstance(tag, str):
            raise DocumentError(f"{where}: each item of 'feed_tags' must be a string, not {_json_type(tag)}")
    doc = Document(
        title=text("title"),
        text=text("text"),
        url=text("url"),
        author=text("author"),
        lang=text("lang") or None,
        feed=text("feed"),
        feed_tags=tuple(tags or ()),
    )
    doc_id = obj.get("id")
    if doc_id is None:  # absent or null: the line's position names the document
        doc_id = where
    elif isinstance(doc_id, bool) or not isinstance(doc_id, (str, int, float)):
        raise DocumentError(f"{where}: 'id' must be a string or a number, not {_json_type(doc_id)}")
    elif isinstance(doc_id, float) and not math.isfinite(doc_id):  # NaN, Infinity, 1e400: not JSON on output
        raise DocumentError(f"{where}: 'id' must be a finite number, not {doc_id}")
    return InputDocument(str(doc_id), doc, doc_id)


def _json_type(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, (list, dict)):
        return "a list" if isinstance(value, list) else "an object"
    return "null" if value is None else "a string"


def html_document(body: bytes, url: str) -> Document:
    from monitor.extract import extract_html  # on use: trafilatura takes a second to import

    found = extract_html(body, url)
    if found is None:
        return Document(url=url)
    return Document(title=found.title, text=found.text, author=found.author, url=url, lang=found.lang)


def fetch_document(url: str, settings: FetchSettings) -> Document:
    """The article at ``url``, fetched (with the pipeline's limits and address checks) and extracted."""
    from monitor.fetch import Fetcher

    async def get() -> bytes:
        async with Fetcher(settings) as fetcher:
            result = await fetcher.fetch(url)
            return bytes(result.body)

    return html_document(asyncio.run(get()), url)
