"""Cut a SourceDocument into memory documents sized for the model, on its own structure."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .document import Section, SourceDocument

_SENTENCE_END = re.compile(r"(?<=[.!?…。！？])\s+")
_SPACE = re.compile(r"\s+")

Anchor = tuple[int, int, str]


@dataclass(frozen=True)
class MemorySpan:
    """One memory document: [start, end) in the source text, the heading it sits under, and its anchors.

    Attributes:
        start: first character in the source text.
        end: one past the last character.
        heading: the heading of its first section.
        anchors: ``(start, end, anchor)`` in source-text offsets for every anchored section it covers (a
            section cut in pieces keeps its anchor on each piece), ordered and non-overlapping.
    """

    start: int
    end: int
    heading: str
    anchors: tuple[Anchor, ...] = field(default=())


def split_document(document: SourceDocument, max_chars: int = 3000) -> list[MemorySpan]:
    """Group consecutive sections into spans of at most ``max_chars`` characters.

    A new heading (a Markdown heading, a PDF page, a chat's next conversation or day) starts a new span once the
    current one holds ``max_chars // 6`` characters, so documents follow the source's structure (a smaller last
    piece joins the one before when they fit together); a section
    longer than ``max_chars`` is cut at sentence ends, else at a space, else hard. Spans never overlap and map
    back to the source exactly. About 3000 characters (~750 tokens) suits the default model.
    """
    if max_chars < 1:
        raise ValueError("max_chars must be positive")
    spans: list[MemorySpan] = []
    start = end = -1
    heading = ""
    anchors: list[Anchor] = []
    for section in _bounded(document.sections, document.text, max_chars):
        new_topic = section.heading != heading and end - start >= max_chars // 6
        if start >= 0 and (section.end - start > max_chars or new_topic):
            spans.append(MemorySpan(start, end, heading, tuple(anchors)))
            start, anchors = -1, []
        if start < 0:
            start, heading = section.start, section.heading
        end = section.end
        if section.anchor:
            _add_anchor(anchors, section)
    if start >= 0:
        spans.append(MemorySpan(start, end, heading, tuple(anchors)))
    small_last = len(spans) > 1 and spans[-1].end - spans[-1].start < max_chars // 6
    if small_last and spans[-1].end - spans[-2].start <= max_chars:
        # A small last piece (the last short day of a chat, a closing line) joins the one before.
        last = spans.pop()
        spans[-1] = MemorySpan(spans[-1].start, last.end, spans[-1].heading, _joined(spans[-1].anchors, last.anchors))
    return spans


def _joined(first: tuple[Anchor, ...], second: tuple[Anchor, ...]) -> tuple[Anchor, ...]:
    if first and second and first[-1][2] == second[0][2]:
        return (*first[:-1], (first[-1][0], second[0][1], second[0][2]), *second[1:])
    return first + second


def _add_anchor(anchors: list[Anchor], section: Section) -> None:
    """Record the section's anchor, extending the last one when consecutive sections share it."""
    if anchors and anchors[-1][2] == section.anchor:
        anchors[-1] = (anchors[-1][0], section.end, section.anchor)
    else:
        anchors.append((section.start, section.end, section.anchor))


def _bounded(sections: list[Section], text: str, max_chars: int) -> list[Section]:
    """Sections, with any longer than ``max_chars`` cut into pieces that fit (each keeps heading and anchor)."""
    bounded = []
    for section in sections:
        start = section.start
        while section.end - start > max_chars:
            cut = start + _cut(text[start : start + max_chars], max_chars)
            end = cut
            while end > start and text[end - 1].isspace():
                end -= 1
            bounded.append(Section(start, end, section.heading, section.anchor))
            start = cut
            while start < section.end and text[start].isspace():
                start += 1
        if start < section.end:
            bounded.append(Section(start, section.end, section.heading, section.anchor))
    return bounded


def _cut(window: str, max_chars: int) -> int:
    """Where to cut a too-long window: after its last sentence end, else at its last space, else at the end."""
    for pattern in (_SENTENCE_END, _SPACE):
        cuts = [match.end() if pattern is _SENTENCE_END else match.start() for match in pattern.finditer(window)]
        if cuts and cuts[-1] > max_chars // 4:
            return cuts[-1]
    return max_chars
