"""Zip bombs disguised as DOCX, ODT and EPUB are refused, on declared sizes and while unpacking."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from memsa.ingest.document import UnreadableDocument
from memsa.ingest.readers import read_document
from memsa.ingest.readers.archive import SafeZip, ZipLimits
from tests.ingest.builders import add_bomb_member, declare_sizes

# The member each format reads first, so the bomb sits where the reader must look.
FORMATS = {".docx": "word/document.xml", ".odt": "content.xml", ".epub": "META-INF/container.xml"}


@pytest.mark.parametrize("suffix", sorted(FORMATS))
def test_bomb_over_the_member_limit_is_refused(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"bomb{suffix}"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        add_bomb_member(archive, FORMATS[suffix], 130)
    assert path.stat().st_size < 2**20
    with pytest.raises(UnreadableDocument, match=r"over the 128 MiB per-member limit \(zip bomb\?\)$"):
        read_document(path)


@pytest.mark.parametrize("suffix", sorted(FORMATS))
def test_high_ratio_member_is_refused(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"dense{suffix}"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        add_bomb_member(archive, FORMATS[suffix], 8)
    with pytest.raises(UnreadableDocument, match=r"is compressed \d+:1, over the 200:1 ratio limit \(zip bomb\?\)$"):
        read_document(path)


def test_members_declared_over_the_total_limit_are_refused_on_opening(tmp_path: Path) -> None:
    path = tmp_path / "wide.docx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for index in range(6):
            archive.writestr(f"word/media/part{index}.bin", b"small")
    declare_sizes(path, declared=100 * 2**20)
    with pytest.raises(UnreadableDocument, match=r"unpacks to 600 MiB, over the 512 MiB limit \(zip bomb\?\)$"):
        read_document(path)


def test_too_many_members(tmp_path: Path) -> None:
    path = tmp_path / "crowd.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for index in range(30):
            archive.writestr(f"f{index}", b"")
    with pytest.raises(UnreadableDocument, match="has 30 entries, over the 20 limit"):
        SafeZip(path, "archive", ZipLimits(max_members=20))


@pytest.mark.parametrize("suffix", sorted(FORMATS))
def test_member_lying_about_its_size_cannot_unpack_past_it(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"liar{suffix}"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        add_bomb_member(archive, FORMATS[suffix], 20)
    declare_sizes(path, declared=1000)
    with pytest.raises(UnreadableDocument, match="damaged"):
        read_document(path)


def test_unpacked_bytes_are_counted_as_they_stream(tmp_path: Path) -> None:
    path = tmp_path / "a.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("a", b"x" * 5000)
    archive = SafeZip(path, "archive", ZipLimits(max_total_bytes=12000))
    assert archive.read("a") == archive.read("a") == b"x" * 5000
    with pytest.raises(UnreadableDocument, match=r"^archive unpacks to 15000 bytes, over the 12000 bytes limit"):
        archive.read("a")
