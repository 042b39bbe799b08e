"""Damaged files of every format: truncated or with flipped bytes, each read gives documents or a reason.

Readers promise ``UnreadableDocument`` for bad content and nothing else; this holds them to it on mutations
of valid fixtures built here.
"""

from __future__ import annotations

import io
import json
import mailbox
import random
import zipfile
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path

import docx
import pytest

from memsa.ingest.document import UnreadableDocument
from memsa.ingest.readers import read_source
from tests.ingest.builders import chapter_xhtml, write_epub, write_odt
from tests.ingest.test_chats_chatgpt import trip
from tests.ingest.test_chats_discord import MESSAGES as DISCORD_MESSAGES
from tests.ingest.test_chats_discord import export
from tests.ingest.test_chats_telegram import MESSAGES as TELEGRAM_MESSAGES
from tests.ingest.test_chats_whatsapp import ANDROID_US
from tests.ingest.test_readers_pdf import pdf_bytes


def _docx(folder: Path) -> bytes:
    word = docx.Document()
    word.add_heading("Plan", 1)
    word.add_paragraph("Some words in a paragraph.")
    out = io.BytesIO()
    word.save(out)
    return out.getvalue()


def _eml(folder: Path) -> bytes:
    message = EmailMessage()
    message["From"], message["Subject"], message["Message-ID"] = "a@example.org", "Hi", "<x@example.org>"
    message.set_content("Body text.")
    message.add_attachment(pdf_bytes(["Attached page"]), maintype="application", subtype="pdf", filename="a.pdf")
    return message.as_bytes()


def _mbox(folder: Path) -> bytes:
    path = folder / "m.mbox"
    box = mailbox.mbox(path)
    box.add(_eml(folder))
    box.add(_eml(folder))
    box.close()
    return path.read_bytes()


def _slack(folder: Path) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("users.json", json.dumps([{"id": "U1", "name": "ann"}]))
        archive.writestr("channels.json", json.dumps([{"id": "C1", "name": "general"}]))
        archive.writestr("general/2024-01-01.json", json.dumps([{"user": "U1", "text": "hi", "ts": "1704103200.1"}]))
    return out.getvalue()


BUILDERS: dict[str, Callable[[Path], bytes]] = {
    "notes.txt": lambda folder: "Plain notes.\n\nSecond paragraph, café.".encode(),
    "notes.md": lambda folder: b"# Title\n\nBody.\n\n## Part\n\nMore.",
    "page.html": lambda folder: b"<html><title>T</title><body><h1>Head</h1><p>Para</p></body></html>",
    "report.pdf": lambda folder: pdf_bytes(["Page one text", "Page two text"], title="Report"),
    "plan.docx": _docx,
    "plan.odt": lambda folder: write_odt(folder / "x.odt", "<text:h>Head</text:h><text:p>Body</text:p>").read_bytes(),
    "book.epub": lambda folder: write_epub(folder / "x.epub", [("a.xhtml", chapter_xhtml("A", "<p>Text</p>"))])
    .read_bytes(),
    "mail.eml": _eml,
    "box.mbox": _mbox,
    "conversations.json": lambda folder: json.dumps([trip()]).encode(),
    "result.json": lambda folder: json.dumps({"name": "G", "type": "private_group", "messages": TELEGRAM_MESSAGES})
    .encode(),
    "discord.json": lambda folder: json.dumps(export("S", "c", DISCORD_MESSAGES)).encode(),
    "WhatsApp Chat.txt": lambda folder: ANDROID_US.encode(),
    "slack.zip": _slack,
}


def _mutations(raw: bytes, seed: int) -> list[bytes]:
    generator = random.Random(seed)
    cuts = [raw[: int(len(raw) * fraction)] for fraction in (0.0, 0.1, 0.33, 0.5, 0.9, 0.99)]
    flipped = []
    for _ in range(6):
        copy = bytearray(raw)
        for _ in range(generator.randint(1, 12)):
            copy[generator.randrange(len(copy))] = generator.randrange(256)
        flipped.append(bytes(copy))
    return [*cuts, *flipped, raw * 2, b"\x00" * 64]


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_damaged_files_fail_alone_with_a_reason(tmp_path: Path, name: str) -> None:
    raw = BUILDERS[name](tmp_path)
    target = tmp_path / name
    target.write_bytes(raw)
    assert read_source(target), "the undamaged fixture must read"
    reasons = set()
    for index, mutated in enumerate(_mutations(raw, seed=len(name))):
        target = tmp_path / f"m{index}" / name
        target.parent.mkdir()
        target.write_bytes(mutated)
        try:
            documents = read_source(target)
        except UnreadableDocument as error:
            assert str(error), "a refusal must say why"
            reasons.add(str(error))
            continue
        assert all(document.text and document.sections for document in documents)
    assert reasons, "at least the empty file is refused"
