"""Markdown: sections by ATX heading (``#`` … ``######``), each section's paragraphs kept apart."""

from __future__ import annotations

import re
from pathlib import Path

from ..document import Section, SourceDocument, UnreadableDocument
from .text import decode_text, paragraph_sections, read_bytes

SUFFIXES = (".md", ".markdown", ".mdown", ".mkd")
_HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t#]*$", re.MULTILINE)
_FENCE = re.compile(r"^(```|~~~)", re.MULTILINE)


def headings(text: str) -> list[tuple[int, str]]:
    """(offset, heading text) of every ATX heading outside fenced code blocks."""
    fences = [match.start() for match in _FENCE.finditer(text)]
    found = []
    for match in _HEADING.finditer(text):
        inside_fence = sum(1 for position in fences if position < match.start()) % 2 == 1
        if not inside_fence:
            found.append((match.start(), match.group(2).strip()))
    return found


def read(path: Path) -> SourceDocument:
    """Read a Markdown file; every paragraph section carries its nearest heading."""
    text = decode_text(read_bytes(path)).replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise UnreadableDocument("file is empty")
    marks = headings(text)
    boundaries = [(0, "")] + marks if not marks or marks[0][0] > 0 else marks
    sections: list[Section] = []
    for index, (start, heading) in enumerate(boundaries):
        end = boundaries[index + 1][0] if index + 1 < len(boundaries) else len(text)
        sections.extend(paragraph_sections(text[start:end], offset=start, heading=heading))
    title = marks[0][1] if marks else path.stem
    return SourceDocument(path=str(path), text=text, title=title, sections=sections)
