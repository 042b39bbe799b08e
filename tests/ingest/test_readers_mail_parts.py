"""E-mail anchors, readable attachments as their own documents, and mbox mailboxes."""

from __future__ import annotations

import io
import mailbox
import tempfile
from email.message import EmailMessage
from pathlib import Path

import docx
import pytest

from memsa.ingest.document import UnreadableDocument
from memsa.ingest.readers import read_document, read_source, supported
from memsa.ingest.splitting import split_document
from tests.ingest.test_readers_pdf import pdf_bytes


def _message(subject: str, body: str, message_id: str | None = "<a1@example.org>") -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Ann <ann@example.org>"
    message["To"] = "bo@example.org"
    message["Date"] = "Fri, 01 Mar 2024 10:00:00 +0100"
    message["Subject"] = subject
    if message_id:
        message["Message-ID"] = message_id
    message.set_content(body)
    return message


def _docx_bytes(text: str) -> bytes:
    word = docx.Document()
    word.add_paragraph(text)
    out = io.BytesIO()
    word.save(out)
    return out.getvalue()


def _leftover_parts() -> set[str]:
    return {entry.name for entry in Path(tempfile.gettempdir()).glob("memsa-part-*")}


def test_readable_attachments_become_documents(tmp_path: Path) -> None:
    message = _message("Report", "See attached.")
    message.add_attachment(pdf_bytes(["Quarterly revenue grew"]), maintype="application", subtype="pdf",
                           filename="report.pdf")
    message.add_attachment(_docx_bytes("Minutes of the board"), maintype="application",
                           subtype="vnd.openxmlformats-officedocument.wordprocessingml.document",
                           filename="minutes.docx")
    message.add_attachment("plain notes", filename="notes.txt")
    message.add_attachment("second notes", filename="notes.txt")
    message.add_attachment(b"\x89PNG\r\n\x1a\n", maintype="image", subtype="png", filename="photo.png")
    message.add_attachment(pdf_bytes(["cut"])[:40], maintype="application", subtype="pdf", filename="broken.pdf")
    forwarded = _message("Old thread", "Forwarded words.", "<old@example.org>")
    message.add_attachment(forwarded)
    path = tmp_path / "m.eml"
    path.write_bytes(message.as_bytes())
    before = _leftover_parts()
    documents = read_source(path)
    assert _leftover_parts() == before
    by_path = {document.path: document for document in documents}
    assert documents[0].path == str(path)
    assert "Attachments: report.pdf, minutes.docx, notes.txt, notes.txt, photo.png, broken.pdf" in documents[0].text
    assert by_path[f"{path}#report.pdf"].text == "Quarterly revenue grew"
    assert by_path[f"{path}#report.pdf"].sections[0].anchor == "page 1"
    assert by_path[f"{path}#minutes.docx"].text == "Minutes of the board"
    assert by_path[f"{path}#notes.txt"].text.strip() == "plain notes"
    assert by_path[f"{path}#notes-2.txt"].text.strip() == "second notes"
    assert "Forwarded words." in by_path[f"{path}#forwarded.eml"].text
    assert len(documents) == 6  # the png is not a readable format; the broken pdf is skipped
    assert read_document(path).path == str(path)


def test_anchor_is_message_id_or_a_stable_fallback(tmp_path: Path) -> None:
    path = tmp_path / "a.eml"
    path.write_bytes(_message("Hello", "Body.").as_bytes())
    assert {s.anchor for s in read_document(path).sections} == {"<a1@example.org>"}
    path.write_bytes(_message("Hello", "Body.", message_id=None).as_bytes())
    expected = "Ann <ann@example.org> · Fri, 01 Mar 2024 10:00:00 +0100 · Hello"
    assert {s.anchor for s in read_document(path).sections} == {expected}


def test_mbox_is_one_document_with_a_block_per_message(tmp_path: Path) -> None:
    path = tmp_path / "archive.mbox"
    box = mailbox.mbox(path)
    box.add(_message("Lyon trip", "Tickets booked.", "<m1@example.org>"))
    second = _message("Budget", "Numbers attached.", "<m2@example.org>")
    second.add_attachment("rent 900", filename="budget.txt")
    box.add(second)
    box.add(_message("No id here", "Still kept.", message_id=None))
    box.flush()
    box.close()
    assert supported(path)
    documents = read_source(path)
    assert [document.path for document in documents] == [str(path), f"{path}#msg-2/budget.txt"]
    mailbox_document = documents[0]
    anchors = {(s.heading, s.anchor) for s in mailbox_document.sections}
    assert ("Lyon trip", "<m1@example.org>") in anchors and ("Budget", "<m2@example.org>") in anchors
    assert any(heading == "No id here" and anchor.endswith("· No id here") for heading, anchor in anchors)
    assert "Tickets booked." in mailbox_document.text and "Still kept." in mailbox_document.text
    spans = split_document(mailbox_document, max_chars=3000)
    assert [anchor for span in spans for *_, anchor in span.anchors][:2] == ["<m1@example.org>", "<m2@example.org>"]


def test_file_that_is_not_a_mailbox_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.mbox"
    path.write_text("just notes, no messages\n")
    with pytest.raises(UnreadableDocument, match="no e-mail messages"):
        read_source(path)
