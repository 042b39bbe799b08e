"""Slack exports, as a folder and as a zip: names resolved, markup made plain, threads, days, zip bombs."""

from __future__ import annotations

import json
import os
import zipfile
from datetime import datetime
from pathlib import Path

import pytest

from memsa.ingest.document import UnreadableDocument
from memsa.ingest.readers import read_document, read_source, supported
from memsa.ingest.readers.chats import detect, slack
from tests.ingest.builders import add_bomb_member

TS = 1_704_053_703  # 2023-12-31 around 20:15 UTC
USERS = [
    {"id": "U1", "name": "alice", "real_name": "Alice Smith", "profile": {"display_name": "alice", "real_name": "A"}},
    {"id": "U2", "name": "bob", "real_name": "Bob Jones", "profile": {"display_name": "", "real_name": "Bob Jones"}},
]
MARKUP = "Hi <@U2>, see <#C2|random> and <https://x.org|the doc> &amp; <!here>"
CHANNELS = [{"id": "C1", "name": "general", "created": TS}, {"id": "C2", "name": "random", "created": TS}]


def files() -> dict[str, object]:
    day = datetime.fromtimestamp(TS).strftime("%Y-%m-%d")
    later = datetime.fromtimestamp(TS + 86_400).strftime("%Y-%m-%d")
    return {
        "users.json": USERS,
        "channels.json": CHANNELS,
        "dms.json": [{"id": "D1", "members": ["U1", "U2"]}],
        f"general/{day}.json": [
            {"type": "message", "user": "U2", "text": "Second by time", "ts": f"{TS + 60}.000200"},
            {"type": "message", "user": "U1", "text": MARKUP, "ts": f"{TS}.000100", "thread_ts": f"{TS}.000100",
             "reply_count": 1},
            {"type": "message", "user": "U2", "text": "Agreed", "ts": f"{TS + 120}.000300",
             "thread_ts": f"{TS}.000100", "files": [{"name": "plan.pdf"}]},
            {"type": "message", "subtype": "channel_join", "user": "U3", "text": "<@U3> has joined the channel",
             "ts": f"{TS + 180}.0", "user_profile": {"real_name": "Carol"}},
        ],
        f"general/{later}.json": [{"type": "message", "user": "U1", "text": "Next day", "ts": f"{TS + 86_400}.0"}],
        f"D1/{day}.json": [{"type": "message", "user": "U2", "text": "private hello", "ts": f"{TS}.5"}],
        "random/notes.txt": "not a day file",
    }


def write_folder(root: Path) -> Path:
    for name, content in files().items():
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content if isinstance(content, str) else json.dumps(content))
    return root


def write_zip(path: Path, top: str = "") -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files().items():
            archive.writestr(top + name, content if isinstance(content, str) else json.dumps(content))
    return path


def expected_lines() -> list[str]:
    stamp = datetime.fromtimestamp(TS).strftime("%Y-%m-%d %H:%M")
    return [
        f"[{stamp}] alice: Hi @Bob Jones, see #random and the doc (https://x.org) & @here",
        f"[{datetime.fromtimestamp(TS + 60):%Y-%m-%d %H:%M}] Bob Jones: Second by time",
        f"[{datetime.fromtimestamp(TS + 120):%Y-%m-%d %H:%M}] Bob Jones: (reply in thread of {stamp}) Agreed\n"
        "[file: plan.pdf]",
        f"[{datetime.fromtimestamp(TS + 180):%Y-%m-%d %H:%M}] Carol: @U3 has joined the channel",
        f"[{datetime.fromtimestamp(TS + 86_400):%Y-%m-%d %H:%M}] alice: Next day",
        f"[{datetime.fromtimestamp(TS):%Y-%m-%d %H:%M}] Bob Jones: private hello",
    ]


def test_folder_export(tmp_path: Path) -> None:
    root = write_folder(tmp_path / "Acme Slack export")
    assert supported(root) and detect(root) is slack
    [document] = read_source(root)
    assert document.title == "Slack: Acme Slack export"
    assert [document.text[s.start : s.end] for s in document.sections] == expected_lines()
    day = datetime.fromtimestamp(TS).strftime("%Y-%m-%d")
    assert document.sections[0].heading == f"#general · {day}"
    assert document.sections[0].anchor.startswith(f"msg {TS}.000100 · alice · ")
    assert document.sections[-1].heading == f"D1 · {day}"


@pytest.mark.parametrize("top", ["", "Acme export/"])
def test_zip_export_matches_the_folder(tmp_path: Path, top: str) -> None:
    path = write_zip(tmp_path / "Acme.zip", top)
    assert supported(path) and detect(path) is slack
    document = read_document(path)
    assert [document.text[s.start : s.end] for s in document.sections] == expected_lines()


def test_other_zips_are_not_slack(tmp_path: Path) -> None:
    path = tmp_path / "photos.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("users.json", "[]")
    assert not supported(path)
    (tmp_path / "fake.zip").write_bytes(b"not a zip")
    assert not supported(tmp_path / "fake.zip")


def test_zip_bomb_disguised_as_slack_export(tmp_path: Path) -> None:
    path = tmp_path / "bomb.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        archive.writestr("users.json", "[]")
        archive.writestr("channels.json", '[{"name": "general"}]')
        add_bomb_member(archive, "general/2024-01-01.json", 80)
    with pytest.raises(UnreadableDocument, match=r"over the 64 MiB per-member limit \(zip bomb\?\)$"):
        read_document(path)


def test_damaged_day_file_is_refused_with_its_name(tmp_path: Path) -> None:
    root = write_folder(tmp_path / "export")
    day = datetime.fromtimestamp(TS).strftime("%Y-%m-%d")
    (root / "general" / f"{day}.json").write_text("[{")
    with pytest.raises(UnreadableDocument, match=rf"general/{day}.json is not valid JSON"):
        read_document(root)


def test_pipes_named_like_exports_are_not_opened(tmp_path: Path) -> None:
    for name in ("export.zip", "result.json", "chat.txt"):
        os.mkfifo(tmp_path / name)
        assert detect(tmp_path / name) is None  # returns at once instead of waiting for a writer


def test_bot_messages_are_named_by_their_bot(tmp_path: Path) -> None:
    root = tmp_path / "export"
    root.mkdir()
    (root / "users.json").write_text("[]")
    (root / "channels.json").write_text(json.dumps([{"id": "C1", "name": "alerts"}]))
    (root / "alerts").mkdir()
    (root / "alerts" / "2024-01-01.json").write_text(json.dumps([
        {"type": "message", "subtype": "bot_message", "bot_id": "B1", "bot_profile": {"name": "Deploy Bot"},
         "text": "deployed v2", "ts": "1704103200.1"},
    ]))
    assert read_document(root).text.endswith("] Deploy Bot: deployed v2")
