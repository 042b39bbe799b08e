"""HTML: text of block elements as paragraphs, h1–h6 as section headings, ``<title>`` as title.

Parsed with the standard library's ``html.parser`` (forgiving, no dependency). Scripts, styles and the page's
navigation, header and footer are dropped.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

from ..document import Section, SourceDocument, UnreadableDocument
from .text import decode_text, read_bytes

SUFFIXES = (".html", ".htm")
_SKIPPED = frozenset({"script", "style", "nav", "header", "footer", "noscript", "template"})
_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_BLOCKS = _HEADINGS | frozenset(
    {
        "address", "article", "aside", "blockquote", "body", "caption", "dd", "details", "dialog", "div", "dl",
        "dt", "fieldset", "figcaption", "figure", "form", "hr", "html", "legend", "li", "main", "ol", "p",
        "pre", "section", "summary", "table", "tbody", "tfoot", "thead", "tr", "ul",
    }
)  # fmt: skip
_CELLS = frozenset({"td", "th"})
_SPACES = re.compile(r"[ \t\r\n\f\v\u00a0]+")
_LINE_SPACES = re.compile(r"[ \t\f\v\u00a0]+")
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)


@dataclass
class Extracted:
    """Readable text of an HTML page: paragraphs joined by blank lines, their sections, the page title."""

    text: str
    sections: list[Section] = field(default_factory=list)
    title: str = ""
    first_heading: str = ""


def assemble(blocks: Iterable[tuple[str, bool]]) -> tuple[str, list[Section]]:
    """Join ``(paragraph, is_heading)`` blocks with blank lines into text and sections.

    Every paragraph is one section carrying the nearest heading above it (a heading carries itself).
    """
    parts: list[str] = []
    sections: list[Section] = []
    offset, heading = 0, ""
    for paragraph, is_heading in blocks:
        paragraph = paragraph.strip()
        if not paragraph:
            continue
        if parts:
            parts.append("\n\n")
            offset += 2
        if is_heading:
            heading = _SPACES.sub(" ", paragraph)
        parts.append(paragraph)
        sections.append(Section(offset, offset + len(paragraph), heading))
        offset += len(paragraph)
    return "".join(parts), sections


class _TextParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[tuple[str, bool]] = []
        self.title = ""
        self._buffer: list[str] = []
        self._skip: list[str] = []  # open skipped elements, innermost last
        self._in_title = False
        self._pre = 0
        self._heading = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title" and not self._skip and not self.title:
            self._in_title = True
        elif tag in _SKIPPED:
            self._skip.append(tag)
        elif self._skip:
            return
        elif tag == "br":
            self._buffer.append("\n")
        elif tag in _CELLS:
            if "".join(self._buffer).strip():
                self._buffer.append(" | ")
        elif tag in _BLOCKS:
            self._flush()
            self._pre += tag == "pre"
            self._heading += tag in _HEADINGS

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        elif tag in _SKIPPED:
            if tag in self._skip:
                while self._skip.pop() != tag:
                    pass
        elif self._skip:
            return
        elif tag in _BLOCKS:
            self._flush()
            self._pre = max(0, self._pre - (tag == "pre"))
            self._heading = max(0, self._heading - (tag in _HEADINGS))

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        elif not self._skip:
            self._buffer.append(data if self._pre else _SPACES.sub(" ", data))

    def close(self) -> None:
        super().close()
        self._flush()

    def parse_marked_section(self, i: int, report: bool = True) -> int:
        """Skip a ``<![…]>`` section the standard parser rejects (it raises AssertionError on unknown keywords)."""
        try:
            return super().parse_marked_section(i, report)
        except AssertionError:
            end = self.rawdata.find(">", i)
            return len(self.rawdata) if end < 0 else end + 1

    def _flush(self) -> None:
        raw = "".join(self._buffer)
        self._buffer.clear()
        if self._pre:
            paragraph = raw.strip("\n").rstrip()
        else:
            lines = (_LINE_SPACES.sub(" ", line).strip() for line in raw.split("\n"))
            paragraph = "\n".join(line for line in lines if line)
        if paragraph.strip():
            self.blocks.append((paragraph, self._heading > 0))


def extract(markup: str) -> Extracted:
    """The readable text of an HTML page or fragment."""
    parser = _TextParser()
    parser.feed(markup)
    parser.close()
    text, sections = assemble(parser.blocks)
    first_heading = next((_SPACES.sub(" ", block).strip() for block, is_heading in parser.blocks if is_heading), "")
    return Extracted(text, sections, _SPACES.sub(" ", parser.title).strip(), first_heading)


def decode_html(raw: bytes) -> str:
    """Decode an HTML file: BOM, then a ``<meta charset>`` near the top, then UTF-8 or Windows-1252."""
    if not raw.startswith((codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        declared = _META_CHARSET.search(raw[:4096])
        if declared:
            try:
                return raw.decode(declared.group(1).decode("ascii"), errors="replace")
            except LookupError:
                pass
    return decode_text(raw)


def read(path: Path) -> SourceDocument:
    """Read an HTML file; every paragraph section carries its nearest heading."""
    page = extract(decode_html(read_bytes(path)))
    if not page.text:
        raise UnreadableDocument("no readable text in the page")
    title = page.title or page.first_heading or path.stem
    return SourceDocument(path=str(path), text=page.text, title=title, sections=page.sections)
