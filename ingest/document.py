"""What a reader returns: a file's extracted text with the spans a citation can point at."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace


class UnreadableDocument(Exception):
    """A file that cannot be read as a document; ``str(error)`` says why, for the user."""


@dataclass(frozen=True)
class Section:
    """A structural piece of the text (a heading's section, a paragraph run, a chat message).

    Attributes:
        start: first character, in the document's ``text``.
        end: one past the last character.
        heading: the heading it sits under (a chat's conversation title and day, a PDF's page).
        anchor: where a citation points inside the source, for the user: a page ("page 3"), a message's id,
            speaker and time, an e-mail's Message-ID. Empty when the heading says enough.
    """

    start: int
    end: int
    heading: str = ""
    anchor: str = ""


@dataclass(frozen=True)
class SourceDocument:
    """The text of one file (or one readable part of it, such as a mail attachment) and its structure.

    Attributes:
        path: the file, absolute; an embedded part is ``f"{file}#{part}"``.
        text: extracted text; citations are character offsets into it.
        title: a short title (first heading or file name).
        sections: non-overlapping, ordered sections covering the meaningful text.
    """

    path: str
    text: str
    title: str
    sections: list[Section] = field(default_factory=list)


def join_parts(parts: Iterable[tuple[str, list[Section]]], separator: str = "\n\n") -> tuple[str, list[Section]]:
    """Concatenate pieces of text (pages, chapters, messages) with their sections shifted to the joined text.

    Empty pieces are dropped, so no separator is doubled.
    """
    chunks: list[str] = []
    sections: list[Section] = []
    offset = 0
    for text, own_sections in parts:
        if not text:
            continue
        if chunks:
            chunks.append(separator)
            offset += len(separator)
        chunks.append(text)
        sections.extend(replace(s, start=s.start + offset, end=s.end + offset) for s in own_sections)
        offset += len(text)
    return "".join(chunks), sections
