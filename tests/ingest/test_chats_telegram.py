"""Telegram Desktop result.json: single chats, full exports, entity-list text, media and service messages."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from memsa.ingest.document import UnreadableDocument
from memsa.ingest.readers import read_document, supported
from memsa.ingest.readers.chats import detect, telegram


def chat(name: str, messages: list[dict[str, Any]], kind: str = "personal_chat") -> dict[str, Any]:
    return {"name": name, "type": kind, "id": 4242, "messages": messages}


def message(number: int, date: str, sender: str, text: Any, **extra: Any) -> dict[str, Any]:
    return {"id": number, "type": "message", "date": date, "date_unixtime": "1704053703", "from": sender,
            "from_id": f"user{number}", "text": text, **extra}


MESSAGES = [
    {"id": 1, "type": "service", "date": "2023-12-31T21:00:00", "date_unixtime": "1704052800", "actor": "Alice",
     "actor_id": "user1", "action": "create_group", "title": "Hiking", "members": ["Alice", "Bob"], "text": ""},
    message(2, "2023-12-31T21:15:03", "Alice", "Meet at 8?"),
    message(3, "2023-12-31T21:16:00", "Bob", ["Route: ", {"type": "link", "text": "https://example.org/trail"},
                                             " ", {"type": "bold", "text": "steep"}]),
    message(4, "2024-01-01T08:01:00", "Bob", "", photo="photos/photo_1.jpg", width=800, height=600),
    message(5, "2024-01-01T08:02:00", "Alice", "", file="stickers/s.webp", media_type="sticker",
            sticker_emoji="👍"),
    message(6, "2024-01-01T08:03:00", "Alice", "Map attached", file="files/map.pdf", file_name="map.pdf",
            forwarded_from="Carol"),
]


def test_single_chat(tmp_path: Path) -> None:
    path = tmp_path / "result.json"
    path.write_text(json.dumps(chat("Hiking", MESSAGES, "private_group")), encoding="utf-8")
    assert supported(path) and detect(path) is telegram
    document = read_document(path)
    assert document.title == "Hiking"
    assert [document.text[s.start : s.end] for s in document.sections] == [
        "[2023-12-31 21:00] Alice create group Hiking Alice, Bob",
        "[2023-12-31 21:15] Alice: Meet at 8?",
        "[2023-12-31 21:16] Bob: Route: https://example.org/trail steep",
        "[2024-01-01 08:01] Bob: [photo]",
        "[2024-01-01 08:02] Alice: [sticker 👍]",
        "[2024-01-01 08:03] Alice: (forwarded from Carol) [file: map.pdf]\nMap attached",
    ]
    assert document.sections[1].anchor == "msg 2 · Alice · 2023-12-31 21:15"
    assert [s.heading for s in document.sections][2:4] == ["Hiking · 2023-12-31", "Hiking · 2024-01-01"]


def test_full_export_reads_every_chat(tmp_path: Path) -> None:
    export = {
        "about": "Here is the data you requested.",
        "personal_information": {"user_id": 1, "first_name": "Alice"},
        "contacts": {"about": "", "list": []},
        "chats": {"about": "", "list": [chat("Bob", MESSAGES[1:3]), {"type": "saved_messages", "id": 1,
                                                                     "messages": [message(9, "2024-02-01T10:00:00",
                                                                                          "Alice", "note to self")]}]},
        "left_chats": {"about": "", "list": [chat("Old club", [message(1, "2020-05-05T12:00:00", "Dan", "bye")])]},
    }
    path = tmp_path / "result.json"
    path.write_text(json.dumps(export))
    assert detect(path) is telegram
    document = read_document(path)
    assert document.title == "Telegram chats"
    assert {s.heading for s in document.sections} == {
        "Bob · 2023-12-31", "Saved Messages · 2024-02-01", "Old club · 2020-05-05"
    }


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ({"name": "x", "messages": "not a list", "date_unixtime": 1}, "no message list"),
        ({"personal_information": {}, "chats": {"list": []}}, "holds no messages"),
        ({"personal_information": {}, "chats": [1, 2]}, "expected a chat with messages"),
    ],
)
def test_wrong_shapes_are_refused(tmp_path: Path, data: object, reason: str) -> None:
    path = tmp_path / "result.json"
    path.write_text(json.dumps(data))
    with pytest.raises(UnreadableDocument, match=reason):
        read_document(path)
