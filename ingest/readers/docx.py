"""Word (.docx): paragraphs and table rows in body order, sections by Heading styles, read with lxml.

The main part (named by ``_rels/.rels``, usually ``word/document.xml``) is walked directly: paragraphs, table
rows (one ``a | b`` line each, merged cells once), content controls and their text; tabs and breaks become
whitespace, a text box's paragraphs get lines of their own, deleted revisions and the fallback copies of
drawings (``mc:Fallback``) are left out. A paragraph is a heading when its style, or a style it is based on
(``word/styles.xml``), is named "Heading …" or "Title". The title is the core properties' title, else the
first heading, else the file name. The archive passes the shared zip-bomb guard and XML is parsed without
entity expansion. Walking the XML directly reads the same text as python-docx at a fraction of its cost.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator
from pathlib import Path

from lxml import etree

from ..document import SourceDocument, UnreadableDocument
from .archive import SafeZip, parse_xml
from .html import assemble
from .text import read_bytes

SUFFIXES = (".docx", ".docm")
MAX_BYTES = 128 * 1024 * 1024
_KIND = "Word document"
_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_MC_FALLBACK = "{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback"
_OFFICE_DOCUMENT = "/officeDocument"
# Word's own style ids for its built-in styles (the same in every language): known without reading styles.xml,
# which can be large (350 KB in python-docx's template).
_BUILT_IN_HEADINGS = frozenset({*(f"Heading{level}" for level in range(1, 10)), "Title"})
_BUILT_IN_PLAIN = frozenset({"Normal", "ListParagraph", "NoSpacing", "BodyText"})
_SKIPPED = frozenset({f"{_W}del", _MC_FALLBACK, f"{_W}instrText"})


def _main_part(archive: SafeZip) -> str:
    """The main document part, as the package relationships name it (``word/document.xml`` by default)."""
    if "_rels/.rels" in archive:
        relationships = parse_xml(archive.read("_rels/.rels"), _KIND, "_rels/.rels")
        for relationship in relationships:
            if str(relationship.get("Type", "")).endswith(_OFFICE_DOCUMENT):
                target = posixpath.normpath(str(relationship.get("Target", "")).lstrip("/"))
                if target in archive:
                    return target
    if "word/document.xml" in archive:
        return "word/document.xml"
    raise UnreadableDocument(f"not a readable {_KIND} (no main document part; not a .docx?)")


def _heading_styles(archive: SafeZip, folder: str) -> set[str]:
    """Ids of the styles that are Heading or Title styles, or based on one."""
    name = posixpath.join(folder, "styles.xml")
    if name not in archive:
        return set()
    styles = parse_xml(archive.read(name), _KIND, name)
    names: dict[str, str] = {}
    bases: dict[str, str | None] = {}
    for style in styles.iter(f"{_W}style"):
        style_id = style.get(f"{_W}styleId")
        if style_id:
            name, based = style.find(f"{_W}name"), style.find(f"{_W}basedOn")
            names[style_id] = str(name.get(f"{_W}val", "")).lower() if name is not None else ""
            bases[style_id] = based.get(f"{_W}val") if based is not None else None
    headings = set()
    for style_id in names:
        current: str | None = style_id
        for _ in range(10):  # base-style chains are short; a cycle must not hang the reader
            if current is None or current not in names:
                break
            if names[current].startswith("heading") or names[current] == "title":
                headings.add(style_id)
                break
            current = bases[current]
    return headings


def _text(element: etree._Element) -> str:
    """The text of a paragraph (or cell): runs, hyperlinks, insertions and fields flattened, the paragraphs of a
    text box on lines of their own."""
    parts: list[str] = []
    _collect(element, parts)
    return "".join(parts)


def _collect(element: etree._Element, parts: list[str]) -> None:
    for node in element:
        tag = node.tag
        if tag == f"{_W}t":
            parts.append(node.text or "")
        elif tag == f"{_W}tab":
            parts.append("\t")
        elif tag in (f"{_W}br", f"{_W}cr"):
            parts.append("\n")
        elif tag == f"{_W}p":
            parts.append("\n")
            _collect(node, parts)
            parts.append("\n")
        else:
            _collect(node, parts)


def _pruned(element: etree._Element) -> etree._Element:
    """``element`` without deleted revisions, text-box copies and properties (removed in place)."""
    for node in list(element.iter(*_SKIPPED)):
        parent = node.getparent()
        if parent is not None:
            parent.remove(node)
    return element


def _blocks(container: etree._Element, headings: set[str]) -> Iterator[tuple[str, bool]]:
    """``(paragraph, is_heading)`` in body order; a table row is one paragraph."""
    for element in container:
        if element.tag == f"{_W}p":
            style = element.find(f"{_W}pPr/{_W}pStyle")
            yield _text(element), style is not None and style.get(f"{_W}val") in headings
        elif element.tag == f"{_W}tbl":
            for row in element.iter(f"{_W}tr"):
                yield _row_text([" ".join(_text(cell).split()) for cell in row.iterchildren(f"{_W}tc")]), False
        elif element.tag in (f"{_W}sdt", f"{_W}sdtContent", f"{_W}customXml", f"{_W}smartTag"):
            yield from _blocks(element, headings)


def _row_text(cells: list[str]) -> str:
    """A table row as one line; repeated neighbouring cells appear once."""
    kept: list[str] = []
    for cell in cells:
        if cell and (not kept or kept[-1] != cell):
            kept.append(cell)
    return " | ".join(kept)


def _core_title(archive: SafeZip) -> str:
    if "docProps/core.xml" not in archive:
        return ""
    core = parse_xml(archive.read("docProps/core.xml"), _KIND, "docProps/core.xml")
    return " ".join((core.findtext("{http://purl.org/dc/elements/1.1/}title") or "").split())


def read(path: Path) -> SourceDocument:
    """Read a .docx file; every paragraph section carries its nearest heading."""
    with SafeZip(read_bytes(path, MAX_BYTES), _KIND) as archive:
        main = _main_part(archive)
        body = _pruned(parse_xml(archive.read(main), _KIND, main)).find(f"{_W}body")
        if body is None:
            raise UnreadableDocument(f"not a readable {_KIND} (its main part has no body)")
        used = {str(style.get(f"{_W}val")) for style in body.iter(f"{_W}pStyle")}
        headings = set(_BUILT_IN_HEADINGS)
        if used - _BUILT_IN_HEADINGS - _BUILT_IN_PLAIN:
            headings |= _heading_styles(archive, posixpath.dirname(main))
        blocks = list(_blocks(body, headings))
        core_title = _core_title(archive)
    text, sections = assemble(blocks)
    if not text:
        raise UnreadableDocument("document has no text")
    first_heading = next((" ".join(block.split()) for block, heading in blocks if heading and block.strip()), "")
    return SourceDocument(path=str(path), text=text, title=core_title or first_heading or path.stem, sections=sections)
