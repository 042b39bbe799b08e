"""Word reader: paragraphs under Heading styles, titles, and refusal of damaged files and zip bombs."""

from __future__ import annotations

import zipfile
from pathlib import Path

import docx
import pytest

from memsa.ingest.document import UnreadableDocument
from memsa.ingest.readers import read_document


def _spans(path: Path) -> list[tuple[str, str]]:
    document = read_document(path)
    return [(document.text[s.start : s.end], s.heading) for s in document.sections]


def test_paragraphs_are_sectioned_by_headings(tmp_path: Path) -> None:
    word = docx.Document()
    word.add_paragraph("Before any heading.")
    word.add_heading("Trip to Lyon", level=1)
    word.add_paragraph("We fly on Friday.")
    word.add_paragraph("")
    word.add_paragraph("Hotel is booked.")
    word.add_heading("Food", level=2)
    word.add_paragraph("Tarte aux pralines.")
    table = word.add_table(rows=1, cols=2)
    table.cell(0, 0).text = "Bakery"
    table.cell(0, 1).text = "Rue Mercière"
    path = tmp_path / "trip.docx"
    word.save(str(path))

    document = read_document(path)
    assert document.title == "Trip to Lyon"
    assert _spans(path) == [
        ("Before any heading.", ""),
        ("Trip to Lyon", "Trip to Lyon"),
        ("We fly on Friday.", "Trip to Lyon"),
        ("Hotel is booked.", "Trip to Lyon"),
        ("Food", "Food"),
        ("Tarte aux pralines.", "Food"),
        ("Bakery | Rue Mercière", "Food"),
    ]
    assert all(a.end <= b.start for a, b in zip(document.sections, document.sections[1:], strict=False))


def test_title_comes_from_core_properties_then_stem(tmp_path: Path) -> None:
    word = docx.Document()
    word.core_properties.title = "Minutes, March"
    word.add_heading("Attendees", level=1)
    word.add_paragraph("Ann, Bo.")
    word.save(str(tmp_path / "m.docx"))
    assert read_document(tmp_path / "m.docx").title == "Minutes, March"

    plain = docx.Document()
    plain.add_paragraph("No headings here.")
    plain.save(str(tmp_path / "plain.docx"))
    assert read_document(tmp_path / "plain.docx").title == "plain"


def test_non_zip_and_wrong_zip_are_refused(tmp_path: Path) -> None:
    (tmp_path / "fake.docx").write_bytes(b"This was renamed from .txt")
    with pytest.raises(UnreadableDocument, match="not a readable Word document"):
        read_document(tmp_path / "fake.docx")
    with zipfile.ZipFile(tmp_path / "other.docx", "w") as archive:
        archive.writestr("hello.txt", "a zip, but not a Word document")
    with pytest.raises(UnreadableDocument, match="not a readable Word document"):
        read_document(tmp_path / "other.docx")


def test_truncated_docx_is_refused(tmp_path: Path) -> None:
    word = docx.Document()
    word.add_paragraph("Some text.")
    word.save(str(tmp_path / "whole.docx"))
    whole = (tmp_path / "whole.docx").read_bytes()
    (tmp_path / "cut.docx").write_bytes(whole[: len(whole) // 2])
    with pytest.raises(UnreadableDocument, match="not a readable Word document"):
        read_document(tmp_path / "cut.docx")


def test_zip_bomb_is_refused_before_unpacking(tmp_path: Path) -> None:
    path = tmp_path / "bomb.docx"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        with archive.open("word/document.xml", "w", force_zip64=True) as member:
            zeros = bytes(1 << 20)
            for _ in range(250):
                member.write(zeros)
    assert path.stat().st_size < 2 * 2**20
    reason = r"^Word document member word/document.xml unpacks to 250 MiB, over the 128 MiB per-member limit"
    with pytest.raises(UnreadableDocument, match=reason):
        read_document(path)
