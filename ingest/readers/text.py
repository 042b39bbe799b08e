"""Plain text: decoded with a BOM or as UTF-8, falling back to Windows-1252; binary files are refused."""

from __future__ import annotations

import codecs
import re
from pathlib import Path

from ..document import Section, SourceDocument, UnreadableDocument

SUFFIXES = (".txt", ".text", ".log", ".rst", ".org")
MAX_BYTES = 32 * 1024 * 1024
_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")


def read_bytes(path: Path, max_bytes: int = MAX_BYTES) -> bytes:
    """The file's bytes, refusing files over ``max_bytes``.

    Raises:
        UnreadableDocument: missing, unreadable, too large.
    """
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise UnreadableDocument(f"file is {size / 2**20:.0f} MiB, over the {max_bytes // 2**20} MiB limit")
        with path.open("rb") as handle:
            return handle.read(max_bytes + 1)
    except FileNotFoundError as error:
        raise UnreadableDocument("file vanished before it could be read") from error
    except PermissionError as error:
        raise UnreadableDocument("permission denied") from error
    except OSError as error:
        raise UnreadableDocument(f"cannot read the file: {error.strerror or error}") from error


def decode_text(raw: bytes) -> str:
    """Decode bytes of a text file.

    Raises:
        UnreadableDocument: the bytes look binary (NUL bytes without a UTF-16 BOM).
    """
    for bom, encoding in _BOMS:
        if raw.startswith(bom):
            return raw.decode(encoding, errors="replace")
    if b"\x00" in raw[:8192]:
        raise UnreadableDocument("binary file (contains NUL bytes), not text")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


def paragraph_sections(text: str, offset: int = 0, heading: str = "") -> list[Section]:
    """Sections of non-blank paragraphs of ``text``, offsets shifted by ``offset``."""
    sections, start = [], 0
    for match in [*_PARAGRAPH_BREAK.finditer(text), None]:
        end = match.start() if match else len(text)
        chunk = text[start:end]
        if chunk.strip():
            left = start + (len(chunk) - len(chunk.lstrip()))
            right = start + len(chunk.rstrip())
            sections.append(Section(offset + left, offset + right, heading))
        if match:
            start = match.end()
    return sections


def read(path: Path) -> SourceDocument:
    """Read a plain-text file into paragraph sections."""
    text = decode_text(read_bytes(path)).replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise UnreadableDocument("file is empty")
    return SourceDocument(path=str(path), text=text, title=path.stem, sections=paragraph_sections(text))
