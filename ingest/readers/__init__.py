"""One pure reader per format: path in, SourceDocument out. ``read_document`` picks by file suffix."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ..document import SourceDocument, UnreadableDocument
from . import docx, epub, html, mail, markdown, odt, pdf, text

Reader = Callable[[Path], SourceDocument]

READERS: dict[str, Reader] = {
    **{suffix: text.read for suffix in text.SUFFIXES},
    **{suffix: markdown.read for suffix in markdown.SUFFIXES},
    **{suffix: html.read for suffix in html.SUFFIXES},
    **{suffix: pdf.read for suffix in pdf.SUFFIXES},
    **{suffix: docx.read for suffix in docx.SUFFIXES},
    **{suffix: odt.read for suffix in odt.SUFFIXES},
    **{suffix: epub.read for suffix in epub.SUFFIXES},
    **{suffix: mail.read for suffix in mail.SUFFIXES},
}


def supported(path: Path) -> bool:
    """Whether a reader exists for this file's suffix."""
    return path.suffix.lower() in READERS


def read_document(path: Path) -> SourceDocument:
    """Read ``path`` with the reader for its suffix.

    Raises:
        UnreadableDocument: no reader for the format, or the reader refused the file.
    """
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise UnreadableDocument(f"{path.suffix or 'files without a suffix'} is not a format memsa reads yet")
    return reader(path)
