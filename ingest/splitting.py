"""Cut a SourceDocument into memory documents sized for the model, on its own structure."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .document import Section, SourceDocument

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


@dataclass(frozen=True)
class MemorySpan:
    """One memory document: [start, end) in the source text, and the heading it sits under."""

    start: int
    end: int
    heading: str


def split_document(document: SourceDocument, max_chars: int = 3000) -> list[MemorySpan]:
    """Group consecutive sections into spans of at most ``max_chars`` characters.

    A new heading starts a new span once the current one holds a few hundred characters, so documents
    follow the author's structure; a section longer than ``max_chars`` is cut at sentence ends (or hard,
    for text without any). Spans never overlap and map back to the source exactly.
    """
    spans: list[MemorySpan] = []
    start = end = -1
    heading = ""
    for section in _bounded(document.sections, document.text, max_chars):
        new_topic = section.heading != heading and end - start >= max_chars // 6
        if start >= 0 and (section.end - start > max_chars or new_topic):
            spans.append(MemorySpan(start, end, heading))
            start = -1
        if start < 0:
            start, heading = section.start, section.heading
        end = section.end
    if start >= 0:
        spans.append(MemorySpan(start, end, heading))
    return spans


def _bounded(sections: list[Section], text: str, max_chars: int) -> list[Section]:
    """Sections, with any longer than ``max_chars`` cut into pieces that fit."""
    bounded = []
    for section in sections:
        start = section.start
        while section.end - start > max_chars:
            window = text[start : start + max_chars]
            cuts = [match.end() for match in _SENTENCE_END.finditer(window)]
            cut = cuts[-1] if cuts and cuts[-1] > max_chars // 4 else max_chars
            bounded.append(Section(start, start + cut, section.heading))
            start += cut
            while start < section.end and text[start].isspace():
                start += 1
        if start < section.end:
            bounded.append(Section(start, section.end, section.heading))
    return bounded
