"""What a reader returns: a file's extracted text with the spans a citation can point at."""

from __future__ import annotations

from dataclasses import dataclass, field


class UnreadableDocument(Exception):
    """A file that cannot be read as a document; ``str(error)`` says why, for the user."""


@dataclass(frozen=True)
class Section:
    """A structural piece of the text (a heading's section, a paragraph run): [start, end) in ``text``."""

    start: int
    end: int
    heading: str = ""


@dataclass(frozen=True)
class SourceDocument:
    """The text of one file and its structure.

    Attributes:
        path: the file, absolute.
        text: extracted text; citations are character offsets into it.
        title: a short title (first heading or file name).
        sections: non-overlapping, ordered sections covering the meaningful text.
    """

    path: str
    text: str
    title: str
    sections: list[Section] = field(default_factory=list)
