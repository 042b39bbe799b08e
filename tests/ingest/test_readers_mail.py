"""E-mail reader: header block then body; HTML-only bodies converted; anchors; attachments; mbox mailboxes."""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

import pytest

from memsa.ingest.document import UnreadableDocument
from memsa.ingest.readers import read_document

HEADER = (
    "From: Ann Example <ann@example.org>\nTo: bo@example.org\n"
    "Date: Fri, 01 Mar 2024 10:00:00 +0100\nSubject: Lyon trip – tickets\n\n"
)


def _message() -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Ann Example <ann@example.org>"
    message["To"] = "bo@example.org"
    message["Date"] = "Fri, 01 Mar 2024 10:00:00 +0100"
    message["Subject"] = "Lyon trip – tickets"  # non-ASCII: written as an RFC 2047 encoded word
    return message


def _write(tmp_path: Path, message: EmailMessage) -> Path:
    path = tmp_path / "m.eml"
    path.write_bytes(message.as_bytes())
    return path


def test_plain_text_message(tmp_path: Path) -> None:
    message = _message()
    message.set_content("Hi Bo,\n\nTickets are booked for Friday.\n\nAnn\n")
    message.add_alternative("<p>HTML version should not be used</p>", subtype="html")
    message.add_attachment(b"%PDF-1.4 attachment bytes", maintype="application", subtype="pdf", filename="t.pdf")
    document = read_document(_write(tmp_path, message))
    assert document.title == "Lyon trip – tickets"
    header = HEADER.strip() + "\nAttachments: t.pdf"
    assert document.text == header + "\n\nHi Bo,\n\nTickets are booked for Friday.\n\nAnn"
    assert [(document.text[s.start : s.end], s.heading) for s in document.sections] == [
        (header, "Lyon trip – tickets"),
        ("Hi Bo,", "Lyon trip – tickets"),
        ("Tickets are booked for Friday.", "Lyon trip – tickets"),
        ("Ann", "Lyon trip – tickets"),
    ]


def test_html_only_message_is_converted(tmp_path: Path) -> None:
    message = _message()
    message.set_content(
        "<html><head><style>p{}</style></head><body><p>Hi&nbsp;Bo,</p><p>Tickets are <b>booked</b>.</p></body></html>",
        subtype="html",
    )
    document = read_document(_write(tmp_path, message))
    assert document.text == HEADER + "Hi Bo,\n\nTickets are booked."
    assert [document.text[s.start : s.end] for s in document.sections][1:] == ["Hi Bo,", "Tickets are booked."]


def test_latin1_body_and_missing_headers(tmp_path: Path) -> None:
    path = tmp_path / "old.eml"
    path.write_bytes(
        b"From: x@example.org\r\nSubject: Caf\xe9\r\nContent-Type: text/plain; charset=iso-8859-1\r\n"
        b"Content-Transfer-Encoding: 8bit\r\n\r\nUn caf\xe9 ?\r\n"
    )
    document = read_document(path)
    assert document.text.endswith("\n\nUn café ?")
    assert document.text.startswith("From: x@example.org\nSubject: Caf")


def test_file_that_is_not_a_message_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.eml"
    path.write_text("just some notes\nwithout any headers\n")
    with pytest.raises(UnreadableDocument, match="not an e-mail message"):
        read_document(path)
