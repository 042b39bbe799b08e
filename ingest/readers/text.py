"""Plain text and code: bytes read under a size cap, decoded by BOM, UTF-8 or detection; binary files refused.

Decoding order: a byte-order mark (UTF-8, UTF-16, UTF-32); strict UTF-8 (most files); UTF-16 without a BOM,
recognised by its pattern of NUL bytes; UTF-8 with a few damaged bytes, shown as U+FFFD, when well-formed
multi-byte characters outnumber the damaged ones four to one; otherwise charset-normalizer's detection on the
first MiB (legacy code pages such as Windows-1252, Latin-1, Windows-1251, Shift-JIS). Text is read as
Windows-1252 when it decodes as such and fewer than 32 bytes are non-ASCII (too little for detection), or the
detector found it as good as its first choice, or chose a Latin look-alike without recognising a Central
European language (it often mistakes Windows-1252 for Windows-1250). Bytes no text encoding fits, NUL bytes
and runs of control characters mark a binary file.
"""

from __future__ import annotations

import codecs
import re
import stat
from pathlib import Path

from charset_normalizer import from_bytes

from ..document import Section, SourceDocument, UnreadableDocument

SUFFIXES = (
    *(".txt", ".text", ".log", ".rst", ".org", ".csv", ".tsv", ".tex", ".srt", ".vtt"),
    *(".py", ".js", ".ts", ".java", ".kt", ".c", ".h", ".cpp", ".hpp", ".cs", ".go", ".rs", ".rb", ".php"),
    *(".swift", ".scala", ".sh", ".sql", ".r", ".lua", ".pl", ".yaml", ".yml", ".toml", ".ini", ".cfg"),
)
MAX_BYTES = 32 * 1024 * 1024
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_DETECTION_SAMPLE = 1024 * 1024
_WESTERN_LOOKALIKES = frozenset({"cp1250", "iso8859_2", "mac_latin2", "cp1257", "iso8859_15", "latin_1", "cp850"})
_CENTRAL_EUROPEAN = frozenset({"Polish", "Czech", "Slovak", "Hungarian", "Croatian", "Slovene", "Romanian"})
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1a\x1c-\x1f\x7f]")
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")


def regular_file_size(path: Path, max_bytes: int) -> int:
    """The size of a regular file of at most ``max_bytes``.

    Raises:
        UnreadableDocument: missing, not a regular file (folder, pipe, device), unreadable, too large.
    """
    try:
        info = path.stat()
    except FileNotFoundError as error:
        raise UnreadableDocument("file vanished before it could be read") from error
    except PermissionError as error:
        raise UnreadableDocument("permission denied") from error
    except OSError as error:
        raise UnreadableDocument(f"cannot read the file: {error.strerror or error}") from error
    if not stat.S_ISREG(info.st_mode):
        raise UnreadableDocument("not a regular file (a folder, pipe or device)")
    if info.st_size > max_bytes:
        limit = size_text(max_bytes)
        raise UnreadableDocument(f"file is {size_text(info.st_size)}, over the {limit} limit for this format")
    return info.st_size


def read_bytes(path: Path, max_bytes: int = MAX_BYTES) -> bytes:
    """The bytes of a regular file, refusing anything over ``max_bytes`` (checked again while reading).

    Raises:
        UnreadableDocument: missing, not a regular file (folder, pipe, device), unreadable, too large.
    """
    regular_file_size(path, max_bytes)
    try:
        with path.open("rb") as handle:
            raw = handle.read(max_bytes + 1)
    except FileNotFoundError as error:
        raise UnreadableDocument("file vanished before it could be read") from error
    except PermissionError as error:
        raise UnreadableDocument("permission denied") from error
    except OSError as error:
        raise UnreadableDocument(f"cannot read the file: {error.strerror or error}") from error
    if len(raw) > max_bytes:
        raise UnreadableDocument(f"file grew over the {size_text(max_bytes)} limit for this format while being read")
    return raw


def size_text(size: int) -> str:
    """A size for people: whole MiB, or bytes under one MiB."""
    return f"{size / 2**20:.0f} MiB" if size >= 2**20 else f"{size} bytes"


def decode_text(raw: bytes) -> str:
    """Decode the bytes of a text file (see the module docstring for the order of attempts).

    Raises:
        UnreadableDocument: the bytes are binary, or match no text encoding.
    """
    for bom, encoding in _BOMS:
        if raw.startswith(bom):
            return _checked(raw.decode(encoding, errors="replace"))
    head = raw[:8192]
    if b"\x00" in head:
        utf16 = _utf16_without_bom(head)
        if utf16 is None:
            raise UnreadableDocument("binary file (contains NUL bytes), not text")
        return _checked(raw.decode(utf16, errors="replace"))
    try:
        return _checked(raw.decode("utf-8"))
    except UnicodeDecodeError:
        pass
    lenient = raw.decode("utf-8", errors="replace")
    if _mostly_utf8(lenient):
        return _checked(lenient)
    return _checked(raw.decode(_detect(raw), errors="replace"))


def _mostly_utf8(text: str) -> bool:
    """Whether UTF-8 with a few damaged bytes (replaced by U+FFFD) explains the bytes better than a code page:
    at least four well-formed non-ASCII characters for every damaged sequence."""
    damaged = text.count("\ufffd")
    well_formed = sum(1 for char in text if char > "\x7f") - damaged
    return well_formed >= 4 * damaged


def _utf16_without_bom(head: bytes) -> str | None:
    """UTF-16 LE/BE when the NUL bytes sit almost all at odd (LE) or even (BE) offsets, as in mostly-ASCII text."""
    even, odd = head[0::2], head[1::2]
    zeros_even, zeros_odd = even.count(0), odd.count(0)
    if zeros_odd > 0.3 * len(odd) and zeros_even < 0.02 * len(even):
        return "utf-16-le"
    if zeros_even > 0.3 * len(even) and zeros_odd < 0.02 * len(odd):
        return "utf-16-be"
    return None


def _detect(raw: bytes) -> str:
    """The legacy encoding of bytes that are not UTF-8, by charset-normalizer with a Western European bias."""
    sample = raw[:_DETECTION_SAMPLE]
    matches = [match for match in from_bytes(sample) if not match.encoding.startswith(("utf_16", "utf_32"))]
    best = matches[0] if matches else None
    too_little_evidence = sum(byte >= 0x80 for byte in sample[:65536]) < 32
    cp1252_ties = any(m.encoding == "cp1252" and best and m.chaos <= best.chaos + 0.01 for m in matches)
    if (
        best is None
        or too_little_evidence
        or cp1252_ties
        or (best.encoding in _WESTERN_LOOKALIKES and best.language not in _CENTRAL_EUROPEAN)
    ):
        try:
            sample.decode("cp1252")
            return "cp1252"
        except UnicodeDecodeError:
            pass
    if best is None:
        raise UnreadableDocument("not text: the bytes are neither UTF-8 nor any known text encoding (binary?)")
    return best.encoding


def _checked(text: str) -> str:
    """The text, unless control characters show it is binary data that happened to decode."""
    head = text[:65536]
    if head and len(_CONTROL.findall(head)) > 0.05 * len(head):
        raise UnreadableDocument("binary file (control characters), not text")
    return text


def paragraph_sections(text: str, offset: int = 0, heading: str = "", anchor: str = "") -> list[Section]:
    """Sections of non-blank paragraphs of ``text``, offsets shifted by ``offset``."""
    sections, start = [], 0
    for match in [*_PARAGRAPH_BREAK.finditer(text), None]:
        end = match.start() if match else len(text)
        chunk = text[start:end]
        if chunk.strip():
            left = start + (len(chunk) - len(chunk.lstrip()))
            right = start + len(chunk.rstrip())
            sections.append(Section(offset + left, offset + right, heading, anchor))
        if match:
            start = match.end()
    return sections


def normalize_newlines(text: str) -> str:
    """``\r\n`` and lone ``\r`` as ``\n``."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def read(path: Path) -> SourceDocument:
    """Read a plain-text file into paragraph sections."""
    text = normalize_newlines(decode_text(read_bytes(path)))
    if not text.strip():
        raise UnreadableDocument("file is empty")
    return SourceDocument(path=str(path), text=text, title=path.stem, sections=paragraph_sections(text))
