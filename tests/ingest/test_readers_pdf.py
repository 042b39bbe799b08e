"""PDF reader: text layer per page, titles, and the refusals (encrypted, damaged, scanned)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from pypdf import PdfReader, PdfWriter

from memsa.ingest.document import UnreadableDocument
from memsa.ingest.readers import read_document


def pdf_bytes(pages: list[str | None], title: str | None = None, scanned: bool = False) -> bytes:
    """A minimal valid PDF: one Helvetica text line per page (None: a page with no text), correct xref.

    ``scanned``: pages without text draw a 1x1 grey image instead, as a scanner's output does.
    """
    count = len(pages)
    font = 3 + 2 * count
    image = font + 1 + (title is not None)
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(count))
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", f"<< /Type /Pages /Kids [{kids}] /Count {count} >>".encode()]
    for i, line in enumerate(pages):
        stream = f"BT /F1 12 Tf 72 712 Td ({line}) Tj ET".encode() if line is not None else b""
        xobject = ""
        if line is None and scanned:
            stream, xobject = b"q 612 0 0 792 0 0 cm /Im1 Do Q", f" /XObject << /Im1 {image} 0 R >>"
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 {font} 0 R >>"
            f"{xobject} >> /Contents {4 + 2 * i} 0 R >>".encode()
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    if title is not None:
        objects.append(f"<< /Title ({title}) >>".encode())
    if scanned:
        objects.append(
            b"<< /Type /XObject /Subtype /Image /Width 1 /Height 1 /ColorSpace /DeviceGray /BitsPerComponent 8 "
            b"/Length 1 >>\nstream\n\x80\nendstream"
        )
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    out.writelines(b"%010d 00000 n \n" % offset for offset in offsets)
    info = f" /Info {font + 1} 0 R" if title is not None else ""
    out.write(f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R{info} >>\nstartxref\n{xref}\n%%EOF\n".encode())
    return out.getvalue()


def test_pages_become_sections_with_metadata_title(tmp_path: Path) -> None:
    path = tmp_path / "report.pdf"
    path.write_bytes(pdf_bytes(["Hello page one", None, "Hello page three"], title="Quarterly report"))
    document = read_document(path)
    assert document.title == "Quarterly report"
    assert [(document.text[s.start : s.end], s.heading) for s in document.sections] == [
        ("Hello page one", "page 1"),
        ("Hello page three", "page 3"),
    ]
    assert document.text == "Hello page one\n\nHello page three"
    assert [s.anchor for s in document.sections] == ["page 1", "page 3"]


def test_title_falls_back_to_file_stem(tmp_path: Path) -> None:
    path = tmp_path / "notes.pdf"
    path.write_bytes(pdf_bytes(["Only page"]))
    document = read_document(path)
    assert document.title == "notes"
    assert document.text == "Only page"


def _encrypted(user_password: str) -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf_bytes(["Secret words"]))))
    writer.encrypt(user_password=user_password, owner_password="owner", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_password_protected_pdf_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "locked.pdf"
    path.write_bytes(_encrypted("secret"))
    with pytest.raises(UnreadableDocument, match="^PDF is encrypted$"):
        read_document(path)


def test_pdf_encrypted_without_open_password_is_read(tmp_path: Path) -> None:
    path = tmp_path / "restricted.pdf"
    path.write_bytes(_encrypted(""))
    assert read_document(path).text == "Secret words"


@pytest.mark.parametrize("keep", [0.05, 0.5])
def test_truncated_pdf_is_damaged(tmp_path: Path, keep: float) -> None:
    whole = pdf_bytes(["Hello page one", "Hello page two"])
    path = tmp_path / "cut.pdf"
    path.write_bytes(whole[: int(len(whole) * keep)])
    with pytest.raises(UnreadableDocument, match="^PDF is damaged: "):
        read_document(path)


def test_garbage_and_empty_files_are_damaged(tmp_path: Path) -> None:
    (tmp_path / "junk.pdf").write_bytes(b"this is not a pdf at all\n" * 10)
    with pytest.raises(UnreadableDocument, match="^PDF is damaged: "):
        read_document(tmp_path / "junk.pdf")
    (tmp_path / "empty.pdf").write_bytes(b"")
    with pytest.raises(UnreadableDocument, match="^PDF is damaged: "):
        read_document(tmp_path / "empty.pdf")


def test_scanned_and_empty_pdfs_are_told_apart(tmp_path: Path) -> None:
    path = tmp_path / "scan.pdf"
    path.write_bytes(pdf_bytes([None, None], scanned=True))
    with pytest.raises(UnreadableDocument, match=r"^scanned PDF: 2 pages of images without a text layer$"):
        read_document(path)
    path = tmp_path / "blank.pdf"
    path.write_bytes(pdf_bytes([None, None, None]))
    with pytest.raises(UnreadableDocument, match=r"^PDF has no text: its 3 pages are empty$"):
        read_document(path)
