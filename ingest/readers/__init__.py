"""One pure reader per format: path in, document(s) out, picked by suffix or, for chat exports, by content.

``read_source`` returns the file's own document first, then its embedded readable parts (mail attachments)
as documents of their own at ``file#part``; ``read_document`` returns the file's own document only.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from ..document import SourceDocument, UnreadableDocument
from . import chats, docx, epub, html, mail, markdown, odt, pdf, text

Reader = Callable[[Path], SourceDocument]


def _mbox_without_parts(path: Path) -> SourceDocument:
    return mail.read_mbox(path, lambda name, data, virtual_path: None)[0]


READERS: dict[str, Reader] = {
    **{suffix: text.read for suffix in text.SUFFIXES},
    **{suffix: markdown.read for suffix in markdown.SUFFIXES},
    **{suffix: html.read for suffix in html.SUFFIXES},
    **{suffix: pdf.read for suffix in pdf.SUFFIXES},
    **{suffix: docx.read for suffix in docx.SUFFIXES},
    **{suffix: odt.read for suffix in odt.SUFFIXES},
    **{suffix: epub.read for suffix in epub.SUFFIXES},
    **{suffix: mail.read for suffix in mail.SUFFIXES},
    **{suffix: _mbox_without_parts for suffix in mail.MBOX_SUFFIXES},
}


def supported(path: Path) -> bool:
    """Whether a reader exists for this file's suffix, or its content is a chat export (.json, .zip, a folder)."""
    return path.suffix.lower() in READERS or chats.detect(path) is not None


def read_document(path: Path) -> SourceDocument:
    """Read the document of ``path`` itself (without embedded parts).

    Raises:
        UnreadableDocument: no reader for the format, or the reader refused the file.
    """
    chat = chats.detect(path)
    if chat is not None:
        return chats.read_chat(path, chat)
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise UnreadableDocument(f"{path.suffix or 'files without a suffix'} is not a format memsa reads yet")
    return reader(path)


def read_source(path: Path) -> list[SourceDocument]:
    """The documents of ``path``: its own first, then readable attachments as ``file#part`` documents.

    Raises:
        UnreadableDocument: no reader for the format, or the reader refused the file (an unreadable
            attachment is skipped, not a reason to refuse its message).
    """
    suffix = path.suffix.lower()
    if suffix in mail.SUFFIXES:
        return mail.read_with_attachments(path, read_part)
    if suffix in mail.MBOX_SUFFIXES:
        return mail.read_mbox(path, read_part)
    return [read_document(path)]


def read_part(name: str, data: bytes, virtual_path: str) -> SourceDocument | None:
    """An embedded file (``name``, ``data``) read as a document at ``virtual_path``; None for unread formats.

    The bytes go to a private temporary folder for the reader and are deleted straight after; mailboxes and
    chat exports are not read from inside other files.

    Raises:
        UnreadableDocument: the reader refused the part, or it could not be written out.
    """
    reader = READERS.get(Path(name).suffix.lower())
    if reader is None or reader is _mbox_without_parts:
        return None
    try:
        with tempfile.TemporaryDirectory(prefix="memsa-part-") as folder:
            file = Path(folder) / name
            file.write_bytes(data)
            document = reader(file)
    except OSError as error:
        raise UnreadableDocument(f"cannot unpack the attachment: {error.strerror or error}") from error
    return replace(document, path=virtual_path)
