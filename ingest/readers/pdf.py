"""PDF: the text layer, one section per page (heading and anchor ``page n``), read with pypdf.

Refused with a reason: password-protected PDFs (ones encrypted only against printing or copying open with the
empty password and are read), damaged or truncated files, scanned PDFs (pages of images, no text layer) and
PDFs whose pages are empty.
"""

from __future__ import annotations

import io
from pathlib import Path

from pypdf import PageObject, PdfReader
from pypdf.errors import DependencyError, FileNotDecryptedError, WrongPasswordError

from ..document import Section, SourceDocument, UnreadableDocument
from .text import read_bytes

SUFFIXES = (".pdf",)
MAX_BYTES = 256 * 1024 * 1024


def _open(raw: bytes) -> PdfReader:
    """A reader for the bytes, decrypted when the PDF opens without a password.

    Raises:
        UnreadableDocument: encrypted with a password, or not parseable.
    """
    try:
        reader = PdfReader(io.BytesIO(raw), strict=False)
    except Exception as error:  # pypdf raises many kinds on damaged input; any of them means "damaged"
        raise UnreadableDocument(f"PDF is damaged: {_reason(error)}") from error
    if reader.is_encrypted:
        try:
            # Many PDFs are encrypted only to restrict printing or editing: they open with an empty password.
            if not reader.decrypt(""):
                raise UnreadableDocument("PDF is encrypted")
        except (DependencyError, FileNotDecryptedError, WrongPasswordError, NotImplementedError) as error:
            raise UnreadableDocument("PDF is encrypted") from error
        except UnreadableDocument:
            raise
        except Exception as error:
            raise UnreadableDocument(f"PDF is damaged: {_reason(error)}") from error
    return reader


def _reason(error: Exception) -> str:
    """A short description of a parser error, for the user."""
    message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return message if len(message) <= 120 else message[:117] + "..."


def _has_images(page: PageObject) -> bool:
    """Whether the page draws an image (a scan), judged from its resources."""
    try:
        resources = page.get("/Resources")
        objects = resources.get_object().get("/XObject") if resources is not None else None
        if objects is None:
            return False
        objects = objects.get_object()
        return any(objects[name].get_object().get("/Subtype") == "/Image" for name in objects)
    except Exception:  # damaged resources: no evidence of a scan
        return False


def _title(reader: PdfReader) -> str:
    try:
        metadata = reader.metadata
        title = metadata.title if metadata else None
    except Exception:  # a broken Info dictionary must not cost the text
        return ""
    return " ".join(str(title).split()) if title else ""


def read(path: Path) -> SourceDocument:
    """Read a PDF's text layer; every page with text is one section headed ``page n``."""
    reader = _open(read_bytes(path, MAX_BYTES))
    parts: list[str] = []
    sections: list[Section] = []
    offset = 0
    try:
        pages = list(reader.pages)
        if not pages:
            raise UnreadableDocument("PDF has no pages")
        for number, page in enumerate(pages, start=1):
            page_text = (page.extract_text() or "").replace("\r\n", "\n").replace("\r", "\n").strip()
            if not page_text:
                continue
            if parts:
                parts.append("\n\n")
                offset += 2
            parts.append(page_text)
            sections.append(Section(offset, offset + len(page_text), f"page {number}", f"page {number}"))
            offset += len(page_text)
    except UnreadableDocument:
        raise
    except (DependencyError, FileNotDecryptedError) as error:
        raise UnreadableDocument("PDF is encrypted") from error
    except Exception as error:
        raise UnreadableDocument(f"PDF is damaged: {_reason(error)}") from error
    if not sections:
        if any(_has_images(page) for page in pages):
            raise UnreadableDocument(f"scanned PDF: {len(pages)} pages of images without a text layer")
        raise UnreadableDocument(f"PDF has no text: its {len(pages)} pages are empty")
    return SourceDocument(path=str(path), text="".join(parts), title=_title(reader) or path.stem, sections=sections)
