"""DiscordChatExporter JSON: server/channel titles, nicknames, replies, attachments, embeds, system messages."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from memsa.ingest.document import UnreadableDocument
from memsa.ingest.readers import read_document
from memsa.ingest.readers.chats import detect, discord


def author(name: str, nickname: str | None = None) -> dict[str, Any]:
    return {"id": f"id-{name}", "name": name, "discriminator": "0000", "nickname": nickname, "isBot": False}


def export(guild: str, channel: str, messages: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "guild": {"id": "1", "name": guild, "iconUrl": ""},
        "channel": {"id": "2", "type": "GuildTextChat", "category": "Text", "name": channel, "topic": None},
        "dateRange": {"after": None, "before": None},
        "exportedAt": "2024-01-02T00:00:00+00:00",
        "messages": messages,
        "messageCount": len(messages),
    }


MESSAGES = [
    {"id": "100", "type": "Default", "timestamp": "2023-12-31T21:15:03.123+01:00", "content": "Release is out",
     "author": author("alice", "Alice"), "attachments": [{"id": "a", "url": "u", "fileName": "notes.txt"}],
     "embeds": [{"title": "v2.0", "description": "Changelog"}], "stickers": [], "reactions": []},
    {"id": "101", "type": "Reply", "timestamp": "2023-12-31T21:20:00+01:00", "content": "Congrats!",
     "author": author("bob"), "attachments": [], "embeds": [], "reference": {"messageId": "100"}},
    {"id": "102", "type": "GuildMemberJoin", "timestamp": "2024-01-01T09:00:00+01:00", "content": "",
     "author": author("carol"), "attachments": [], "embeds": []},
]


def test_server_channel_messages(tmp_path: Path) -> None:
    path = tmp_path / "Dev - general [2].json"
    path.write_text(json.dumps(export("Dev", "general", MESSAGES)))
    assert detect(path) is discord
    document = read_document(path)
    assert document.title == "Dev / #general"
    assert [document.text[s.start : s.end] for s in document.sections] == [
        "[2023-12-31 21:15] Alice: Release is out\n[attachment: notes.txt]\n[embed: v2.0 — Changelog]",
        "[2023-12-31 21:20] bob: (reply to msg 100) Congrats!",
        "[2024-01-01 09:00] carol: [GuildMemberJoin]",
    ]
    assert [s.anchor for s in document.sections][0] == "msg 100 · Alice · 2023-12-31 21:15"
    assert [s.heading for s in document.sections] == [
        "Dev / #general · 2023-12-31", "Dev / #general · 2023-12-31", "Dev / #general · 2024-01-01"
    ]


def test_direct_messages_are_titled_by_channel(tmp_path: Path) -> None:
    path = tmp_path / "dm.json"
    path.write_text(json.dumps(export("Direct Messages", "bob", MESSAGES[1:2])))
    assert read_document(path).title == "bob"


def test_wrong_shape_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_text(json.dumps({"guild": {}, "channel": {}, "messages": {"not": "a list"}}))
    with pytest.raises(UnreadableDocument, match="expected an object with guild, channel and messages"):
        read_document(path)
