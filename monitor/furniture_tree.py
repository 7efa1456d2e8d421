"""The blocks of trafilatura's element tree as the furniture detector (``monitor.furniture``) judges them.

trafilatura keeps a page's structure as ``p``, ``head``, ``list``, ``quote`` and ``table`` elements, but a page
without that markup comes out as containers (``div``, a layout ``table``'s rows and cells) holding the blocks, or as
one ``p`` whose lines are split by ``<br>`` (``lb``). ``split_lines`` makes each such line its own paragraph and
``leaves`` lists the blocks inside the containers, so that a heading, a list or a promo on such a site is a block
of its own, as it is on a site with block markup. Both are linear and bounded by ``MAX_BLOCKS``.
"""

from __future__ import annotations

import re
from itertools import islice

from lxml import etree

__all__ = ["MAX_BLOCKS", "flat", "leaves", "split_lines"]

#: Blocks looked at; the rest of a (hostile) page is body as it stands. Real articles have a few hundred at most.
MAX_BLOCKS = 5_000

_WORD = re.compile(r"\w+")
_GOES_ON = re.compile(r"[,，、;；]$")


def flat(element: etree._Element) -> str:
    """An element's text, its whitespace collapsed."""
    return " ".join("".join(element.itertext()).split())


def split_lines(body: etree._Element) -> None:
    """Split each paragraph at its line breaks into one paragraph a line: sites without block markup put a heading,
    a list or a promo in one ``<p>`` with ``<br>``s (``lb``). A line that ends in a comma goes on; the newlines of
    a paragraph's text count only in trafilatura's fallback text (a body of one paragraph; elsewhere they are the
    source's line wrapping)."""
    fallback = len(body) == 1
    for p in list(islice(body.iter("p"), MAX_BLOCKS)):
        parent = p.getparent()
        if parent is None or p.find("lb") is None and (len(p) or not fallback or "\n" not in (p.text or "").strip()):
            continue
        lines = [etree.Element("p")]
        if len(p):
            lines[0].text = p.text
            for child in list(p):
                if child.tag == "lb" and not _GOES_ON.search(flat(lines[-1])):
                    lines.append(etree.Element("p"))
                    lines[-1].text = child.tail
                else:
                    lines[-1].append(child)  # with its tail
        else:
            lines = [etree.Element("p") for _ in (p.text or "").splitlines()]
            for line, text in zip(lines, (p.text or "").splitlines(), strict=True):
                line.text = text.strip()
        lines = [line for line in lines if flat(line)]
        if lines:
            lines[-1].tail, p.tail = p.tail, None
        anchor = p
        for line in lines:  # addnext, not insert(index): that is linear in the siblings, this loop would be quadratic
            anchor.addnext(line)
            anchor = line
        parent.remove(p)


#: Containers trafilatura keeps around blocks: a page without ``<p>`` or ``<ul>`` (divs, layout tables) is judged by
#: the blocks inside them.
_CONTAINERS = frozenset({"div", "section", "table", "row", "cell"})
_BLOCKS = frozenset({"p", "head", "list", "quote", "table", "row", "cell", "div", "section"})


def leaves(body: etree._Element) -> list[etree._Element]:
    """The blocks of the tree in document order: its children, and the blocks inside a container that holds blocks
    and no text of its own (a layout table: one filled cell a row; a data table stays one block)."""
    out: list[etree._Element] = []
    stack = list(reversed(list(islice(body, MAX_BLOCKS))))
    while stack and len(out) < MAX_BLOCKS:
        element = stack.pop()
        if element.tag in _CONTAINERS and _opens(element):
            stack.extend(reversed(list(islice(element, MAX_BLOCKS))))
        elif any(text.strip() for text in element.itertext()):
            out.append(element)
    return out


def _opens(element: etree._Element) -> bool:
    if not any(child.tag in _BLOCKS for child in element):
        return False
    if len(_WORD.findall(" ".join([element.text or "", *(child.tail or "" for child in element)])[:400])) > 2:
        return False  # text of its own between the blocks: one block
    if element.tag == "table":  # a layout table: no row with two filled cells
        return all(sum(bool(flat(cell)) for cell in row) <= 1 for row in element if row.tag == "row")
    return True
