"""Word reader: paragraphs under Heading styles, titles, and refusal of damaged files and zip bombs."""

from __future__ import annotations

import zipfile
from pathlib import Path

import docx
import pytest

from memsa.ingest.document import UnreadableDocument
from memsa.ingest.readers import read_document
from tests.ingest.builders import write_docx_xml


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


STYLES = (
    '<w:style w:styleId="H1"><w:name w:val="heading 1"/></w:style>'
    '<w:style w:styleId="Chapter"><w:name w:val="Chapter Heading"/><w:basedOn w:val="H1"/></w:style>'
    '<w:style w:styleId="Loop"><w:name w:val="loop"/><w:basedOn w:val="Loop"/></w:style>'
)


def _p(text_xml: str, style: str | None = None) -> str:
    properties = f'<w:pPr><w:pStyle w:val="{style}"/></w:pPr>' if style else ""
    return f"<w:p>{properties}{text_xml}</w:p>"


def test_word_markup_is_read_like_word_shows_it(tmp_path: Path) -> None:
    body = "".join([
        _p("<w:r><w:t>Part one</w:t></w:r>", "Chapter"),  # a style based on a heading style
        _p('<w:r><w:t xml:space="preserve">Kept </w:t></w:r><w:del><w:r><w:delText>gone</w:delText></w:r></w:del>'
           '<w:ins><w:r><w:t>added</w:t></w:r></w:ins><w:r><w:tab/><w:t>tabbed</w:t><w:br/><w:t>next line</w:t>'
           '</w:r><w:hyperlink><w:r><w:t> link</w:t></w:r></w:hyperlink>'),
        _p('<w:r><mc:AlternateContent><mc:Choice><w:drawing><w:txbxContent><w:p><w:r><w:t>box</w:t></w:r></w:p>'
           "</w:txbxContent></w:drawing></mc:Choice><mc:Fallback><w:t>box</w:t></mc:Fallback></mc:AlternateContent>"
           "</w:r><w:r><w:t>After the box</w:t></w:r>"),
        "<w:sdt><w:sdtContent>" + _p("<w:r><w:t>In a content control</w:t></w:r>", "Loop") + "</w:sdtContent></w:sdt>",
        "<w:tbl><w:tr><w:tc>" + _p("<w:r><w:t>A</w:t></w:r>") + "</w:tc><w:tc>" + _p("<w:r><w:t>B</w:t></w:r>")
        + "</w:tc></w:tr><w:tr><w:tc><w:tcPr><w:vMerge/></w:tcPr>" + _p("") + "</w:tc><w:tc>"
        + _p("<w:r><w:t>C</w:t></w:r>") + "</w:tc></w:tr></w:tbl>",
    ])
    path = write_docx_xml(tmp_path / "marked.docx", body, STYLES)
    assert _spans(path) == [
        ("Part one", "Part one"),
        ("Kept added\ttabbed\nnext line link", "Part one"),
        ("box\nAfter the box", "Part one"),
        ("In a content control", "Part one"),
        ("A | B", "Part one"),
        ("C", "Part one"),
    ]
    assert read_document(path).title == "Part one"
