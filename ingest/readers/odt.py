"""OpenDocument text (.odt, .ott): headings, paragraphs, lists and tables of ``content.xml``, sections by heading.

The archive passes the shared zip-bomb guard; ``content.xml`` is parsed with lxml (no entity expansion).
Inline markup is flattened: ``text:s`` (runs of spaces), tabs and line breaks become whitespace, footnote
bodies stay in place, tables become one ``a | b | c`` line per row, list items a ``- `` line each. The title
comes from ``meta.xml`` (dc:title), else the first heading, else the file name. Password-protected documents
(encrypted parts listed in the manifest) are refused as such.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from lxml import etree

from ..document import SourceDocument, UnreadableDocument
from .archive import SafeZip, parse_xml
from .html import assemble
from .text import read_bytes

SUFFIXES = (".odt", ".ott")
MAX_BYTES = 128 * 1024 * 1024
_KIND = "OpenDocument text"
_TEXT = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"
_TABLE = "urn:oasis:names:tc:opendocument:xmlns:table:1.0"
_OFFICE = "urn:oasis:names:tc:opendocument:xmlns:office:1.0"
_DC = "http://purl.org/dc/elements/1.1/"
_SKIPPED = frozenset({f"{{{_TEXT}}}table-of-content", f"{{{_TEXT}}}tracked-changes", f"{{{_TEXT}}}note-citation"})
_ROW_GROUPS = frozenset({"table-header-rows", "table-rows", "table-row-group"})


def _inline(element: etree._Element) -> str:
    """The text of a paragraph-like element, its inline markup flattened."""
    parts = [element.text or ""]
    for child in element:
        tag = child.tag if isinstance(child.tag, str) else ""
        if tag == f"{{{_TEXT}}}s":
            parts.append(" " * int(child.get(f"{{{_TEXT}}}c", "1") or 1))
        elif tag == f"{{{_TEXT}}}tab":
            parts.append("\t")
        elif tag == f"{{{_TEXT}}}line-break":
            parts.append("\n")
        elif tag == f"{{{_TEXT}}}note-body":
            parts.append(f" ({' '.join(_inline(p) for p in child.iter(f'{{{_TEXT}}}p'))})")
        elif tag and tag not in _SKIPPED:
            parts.append(_inline(child))
        parts.append(child.tail or "")
    return "".join(parts)


def _blocks(container: etree._Element) -> Iterator[tuple[str, bool]]:
    """``(paragraph, is_heading)`` in document order."""
    for element in container:
        tag = element.tag if isinstance(element.tag, str) else ""
        namespace, _, name = tag[1:].partition("}")
        if tag in _SKIPPED:
            continue
        if namespace == _TEXT and name == "h":
            yield _inline(element), True
        elif namespace == _TEXT and name == "p":
            yield _inline(element), False
        elif namespace == _TEXT and name == "list":
            for item in element:
                for index, (text, heading) in enumerate(_blocks(item)):
                    yield (f"- {text.strip()}" if index == 0 and not heading else text), heading
        elif namespace == _TABLE and name == "table":
            yield from _table_rows(element)
        else:  # text:section, text:list-item, office:text and other containers
            yield from _blocks(element)


def _table_rows(table: etree._Element) -> Iterator[tuple[str, bool]]:
    for row in table.iter(f"{{{_TABLE}}}table-row"):
        cells = [" ".join(" ".join(_inline(p) for p in cell.iter(f"{{{_TEXT}}}p")).split()) for cell in row]
        line = " | ".join(cell for cell in cells if cell)
        if line:
            yield line, False


def read(path: Path) -> SourceDocument:
    """Read an .odt file; every paragraph section carries its nearest heading."""
    with SafeZip(read_bytes(path, MAX_BYTES), _KIND) as archive:
        if "content.xml" not in archive:
            raise UnreadableDocument(f"not a readable {_KIND} (no content.xml; not an .odt?)")
        if "META-INF/manifest.xml" in archive and b"encryption-data" in archive.read("META-INF/manifest.xml"):
            raise UnreadableDocument(f"{_KIND} is password-protected")
        content = parse_xml(archive.read("content.xml"), _KIND, "content.xml")
        meta = parse_xml(archive.read("meta.xml"), _KIND, "meta.xml") if "meta.xml" in archive else None
    body = content.find(f"{{{_OFFICE}}}body/{{{_OFFICE}}}text")
    if body is None:
        raise UnreadableDocument(f"not a readable {_KIND} (no text body; a spreadsheet or drawing?)")
    blocks = list(_blocks(body))
    text, sections = assemble(blocks)
    if not text:
        raise UnreadableDocument("document has no text")
    meta_title = meta.findtext(f".//{{{_DC}}}title") if meta is not None else None
    first_heading = next((" ".join(block.split()) for block, heading in blocks if heading and block.strip()), "")
    title = " ".join((meta_title or "").split()) or first_heading or path.stem
    return SourceDocument(path=str(path), text=text, title=title, sections=sections)
