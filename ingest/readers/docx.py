"""Word (.docx): paragraphs and table rows in order, sections by Heading styles, read with python-docx.

The archive passes the shared zip-bomb guard (``archive.SafeZip``) before python-docx opens it.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import docx
from docx.document import Document as WordDocument
from docx.table import Table
from docx.text.paragraph import Paragraph

from ..document import SourceDocument, UnreadableDocument
from .archive import SafeZip
from .html import assemble
from .text import read_bytes

SUFFIXES = (".docx",)
MAX_BYTES = 128 * 1024 * 1024


def _is_heading(paragraph: Paragraph, known: dict[str | None, bool]) -> bool:
    """Whether the paragraph's style, or a style it is based on, is a Heading (or Title) style.

    ``known`` caches the answer per style id: python-docx resolves a paragraph's style by scanning every style
    of the document, too slow to repeat for each paragraph.
    """
    style_id = paragraph._p.style  # the raw w:pStyle id; None for the default style
    if style_id not in known:
        known[style_id] = _style_is_heading(paragraph)
    return known[style_id]


def _style_is_heading(paragraph: Paragraph) -> bool:
    style = paragraph.style
    for _ in range(10):  # base-style chains are short; a cycle must not hang the reader
        if style is None:
            return False
        name = (style.name or "").lower()
        if name.startswith("heading") or name == "title":
            return True
        style = style.base_style
    return False


def _row_text(cells: list[str]) -> str:
    """A table row as one line; merged cells (repeated by python-docx) appear once."""
    kept: list[str] = []
    for cell in cells:
        if cell and (not kept or kept[-1] != cell):
            kept.append(cell)
    return " | ".join(kept)


def _blocks(document: WordDocument) -> Iterator[tuple[str, bool]]:
    known: dict[str | None, bool] = {}
    for item in document.iter_inner_content():
        if isinstance(item, Paragraph):
            yield item.text, _is_heading(item, known)
        elif isinstance(item, Table):
            for row in item.rows:
                yield _row_text([" ".join(cell.text.split()) for cell in row.cells]), False


def read(path: Path) -> SourceDocument:
    """Read a .docx file; every paragraph section carries its nearest heading."""
    raw = read_bytes(path, MAX_BYTES)
    with SafeZip(raw, "Word document") as archive:
        if "word/document.xml" not in archive:
            raise UnreadableDocument("not a readable Word document (no word/document.xml; not a .docx?)")
        archive.verify()  # python-docx unpacks the parts itself: bound them first
    try:
        document = docx.Document(io.BytesIO(raw))
        blocks = list(_blocks(document))
        core_title = document.core_properties.title or ""
    except Exception as error:  # python-docx and lxml raise many kinds on damaged parts; all mean "damaged"
        raise UnreadableDocument("not a readable Word document (damaged, or not a .docx)") from error
    text, sections = assemble(blocks)
    if not text:
        raise UnreadableDocument("document has no text")
    first_heading = next((" ".join(block.split()) for block, heading in blocks if heading and block.strip()), "")
    title = " ".join(core_title.split()) or first_heading or path.stem
    return SourceDocument(path=str(path), text=text, title=title, sections=sections)
