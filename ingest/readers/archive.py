"""Zip archives opened safely: the one guard against zip bombs for DOCX, ODT, EPUB and chat export archives.

A zip bomb is refused on its declared sizes (member count and total on opening; a member's size and
compression ratio before it is unpacked), and again while a member is unpacked, counting the bytes actually
produced: a member whose header lies about its size cannot unpack past the limits. Members never read (the
photos of a chat export) are never judged.
"""

from __future__ import annotations

import io
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from ..document import UnreadableDocument
from .text import size_text

_CHUNK = 64 * 1024
ZIP_ERRORS = (
    zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, ValueError, EOFError, OSError, NotImplementedError,
    IndexError, RuntimeError,
)
"""What zipfile raises on damaged archives (RuntimeError: an encrypted member; NotImplementedError: an unknown
compression method or version; IndexError: an empty member name)."""


@dataclass(frozen=True)
class ZipLimits:
    """What an archive may unpack to.

    Attributes:
        max_members: entries in the archive.
        max_total_bytes: all members, unpacked, together.
        max_member_bytes: one member, unpacked.
        max_ratio: unpacked / packed size of one member (text compresses ~5-20x; bombs 1000x and more);
            members under ``ratio_floor_bytes`` are exempt, since tiny repetitive files compress very well.
    """

    max_members: int = 10_000
    max_total_bytes: int = 512 * 1024 * 1024
    max_member_bytes: int = 128 * 1024 * 1024
    max_ratio: float = 200.0
    ratio_floor_bytes: int = 1024 * 1024

    def __post_init__(self) -> None:
        if min(self.max_members, self.max_total_bytes, self.max_member_bytes, self.max_ratio) <= 0:
            raise ValueError("zip limits must be positive")


class SafeZip:
    """A zip archive whose members are read under ``ZipLimits``; ``kind`` names the format in reasons.

    Raises (on construction):
        UnreadableDocument: not a zip (or damaged), or its declared sizes break the limits.
    """

    def __init__(self, source: bytes | Path, kind: str, limits: ZipLimits | None = None) -> None:
        self.kind = kind
        self.limits = limits or ZipLimits()
        self._unpacked = 0
        try:
            self._archive = zipfile.ZipFile(io.BytesIO(source) if isinstance(source, bytes) else source)
            infos = self._archive.infolist()
        except ZIP_ERRORS as error:
            raise UnreadableDocument(f"not a readable {kind} (damaged, or not a zip archive)") from error
        self._members = {info.filename: info for info in infos if info.filename and not info.filename.endswith("/")}
        self._check_declared()

    def __enter__(self) -> SafeZip:
        return self

    def __exit__(self, *_: object) -> None:
        self._archive.close()

    def names(self) -> list[str]:
        """Member file names, in archive order."""
        return list(self._members)

    def __contains__(self, name: str) -> bool:
        return name in self._members

    def read(self, name: str) -> bytes:
        """A member's bytes, unpacked in chunks that count against the limits.

        Raises:
            UnreadableDocument: missing member, damaged data, or a limit crossed while unpacking.
        """
        return self._unpack(name, keep=True)

    def verify(self) -> None:
        """Unpack every member once, keeping nothing, for code that will read the archive itself."""
        for name in self._members:
            self._unpack(name, keep=False)

    def _unpack(self, name: str, keep: bool) -> bytes:
        info = self._members.get(name)
        if info is None:
            raise UnreadableDocument(f"not a readable {self.kind}: {name} is missing")
        self._check_unpacked(name, info.file_size, info.compress_size)  # declared sizes first: no wasted work
        chunks: list[bytes] = []
        size = 0
        try:
            with self._archive.open(info) as member:
                while chunk := member.read(_CHUNK):
                    size += len(chunk)
                    self._unpacked += len(chunk)
                    self._check_unpacked(name, size, info.compress_size)
                    if keep:
                        chunks.append(chunk)
        except ZIP_ERRORS as error:
            raise UnreadableDocument(f"not a readable {self.kind}: {name} is damaged or encrypted") from error
        return b"".join(chunks)

    def _check_declared(self) -> None:
        limits = self.limits
        if len(self._members) > limits.max_members:
            raise UnreadableDocument(
                f"{self.kind} has {len(self._members)} entries, over the {limits.max_members} limit (zip bomb?)"
            )
        total = sum(info.file_size for info in self._members.values())
        if total > limits.max_total_bytes:
            raise self._too_big(f"unpacks to {size_text(total)}", size_text(limits.max_total_bytes))

    def _check_unpacked(self, name: str, size: int, packed: int) -> None:
        """Refuse a member of ``size`` unpacked bytes (so far) from ``packed`` bytes, or the archive's running total."""
        limits = self.limits
        shown = name if len(name) <= 60 else name[:57] + "..."
        if size > limits.max_member_bytes:
            per_member = f"{size_text(limits.max_member_bytes)} per-member"
            raise self._too_big(f"member {shown} unpacks to {size_text(size)}", per_member)
        if self._unpacked > limits.max_total_bytes:
            raise self._too_big(f"unpacks to {size_text(self._unpacked)}", size_text(limits.max_total_bytes))
        if size > limits.ratio_floor_bytes and size > limits.max_ratio * max(packed, 1):
            raise self._too_big(
                f"member {shown} is compressed {size / max(packed, 1):.0f}:1", f"{limits.max_ratio:.0f}:1 ratio"
            )

    def _too_big(self, what: str, limit: str) -> UnreadableDocument:
        return UnreadableDocument(f"{self.kind} {what}, over the {limit} limit (zip bomb?)")


def parse_xml(raw: bytes, kind: str, part: str) -> etree._Element:
    """Parse an XML part of an archive without fetching or expanding external entities.

    Raises:
        UnreadableDocument: the part is not well-formed XML.
    """
    parser = etree.XMLParser(resolve_entities=False, no_network=True, remove_comments=True, huge_tree=False)
    try:
        root = etree.fromstring(raw, parser)
    except etree.XMLSyntaxError as error:
        raise UnreadableDocument(f"not a readable {kind}: {part} is damaged ({error.msg})") from error
    if root is None:
        raise UnreadableDocument(f"not a readable {kind}: {part} is empty")
    return root
