"""ChatGPT conversations.json: the current branch of each conversation, speakers, times, message ids."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from memsa.ingest.document import UnreadableDocument
from memsa.ingest.readers import read_document, read_source, supported
from memsa.ingest.splitting import split_document

T0 = 1_709_370_000.0  # 2024-03-02, around 09:00 UTC


def node(node_id: str, parent: str | None, children: list[str], role: str | None, text: Any = "", offset: int = 0,
         **extra: Any) -> dict[str, Any]:
    message = None
    if role is not None:
        content = {"content_type": "text", "parts": [text]} if isinstance(text, str) else text
        message = {"id": node_id, "author": {"role": role, "name": None, "metadata": {}}, "create_time": T0 + offset,
                   "content": content, "status": "finished_successfully", "metadata": {}, "recipient": "all", **extra}
    return {"id": node_id, "message": message, "parent": parent, "children": children}


def conversation(title: str, nodes: list[dict[str, Any]], current: str | None) -> dict[str, Any]:
    return {"title": title, "create_time": T0, "update_time": T0 + 100, "current_node": current,
            "mapping": {item["id"]: item for item in nodes}, "id": f"conv-{title}"}


def trip() -> dict[str, Any]:
    return conversation("Lisbon trip", [
        node("root", None, ["sys"], None),
        node("sys", "root", ["u1"], "system", "You are helpful.",
             metadata={"is_visually_hidden_from_conversation": True}),
        node("u1", "sys", ["a1-old", "a1-new"], "user", "Plan three days in Lisbon.", 1),
        node("a1-old", "u1", [], "assistant", "An answer that was regenerated.", 2),
        node("a1-new", "u1", ["u2"], "assistant", "Day 1: Alfama. Day 2: Belém.", 3),
        node("u2", "a1-new", ["call"], "user", "Add a day trip.", 60),
        node("call", "u2", ["tool"], "assistant", {"content_type": "code", "text": "search('Sintra')"}, 61,
             recipient="browser"),
        node("tool", "call", ["a2"], "tool", "search results", 62),
        node("a2", "tool", [], "assistant", {"content_type": "multimodal_text",
                                             "parts": ["Sintra by train.", {"content_type": "image_asset_pointer"}]},
             63),
    ], current="a2")


def write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "conversations.json"
    path.write_text(json.dumps(data))
    return path


def test_current_branch_with_speakers_times_and_ids(tmp_path: Path) -> None:
    path = write(tmp_path, [trip()])
    assert supported(path)
    [document] = read_source(path)
    lines = [document.text[s.start : s.end] for s in document.sections]
    day = datetime.fromtimestamp(T0 + 1)
    stamp = f"{day:%Y-%m-%d %H:%M}"
    assert lines[0] == f"[{stamp}] User: Plan three days in Lisbon."
    assert [line.split("] ", 1)[1] for line in lines] == [
        "User: Plan three days in Lisbon.",
        "ChatGPT: Day 1: Alfama. Day 2: Belém.",
        "User: Add a day trip.",
        "ChatGPT: Sintra by train.\n[image]",
    ]
    assert "regenerated" not in document.text and "search" not in document.text
    assert document.sections[0].anchor == f"msg u1 · User · {stamp}"
    assert {s.heading for s in document.sections} == {f"Lisbon trip · {day:%Y-%m-%d}"}
    spans = split_document(document)
    assert [anchor for *_, anchor in spans[0].anchors][1] == f"msg a1-new · ChatGPT · {stamp}"


def test_several_conversations_split_apart_and_missing_current_node(tmp_path: Path) -> None:
    other = conversation("Untitled", [
        node("r", None, ["x"], None),
        node("x", "r", ["y1", "y2"], "user", "Which sourdough flour?", 0),
        node("y1", "x", [], "assistant", "Older leaf.", 1),
        node("y2", "x", [], "assistant", "Type 65 flour. " * 40, 5),
    ], current=None)
    long_trip = trip()
    long_trip["mapping"]["u1"]["message"]["content"]["parts"] = ["Plan three days in Lisbon. " * 30]
    path = write(tmp_path, [long_trip, other])
    document = read_document(path)
    assert "Type 65 flour." in document.text and "Older leaf." not in document.text
    spans = split_document(document, max_chars=3000)
    assert [span.heading.split(" · ")[0] for span in spans] == ["Lisbon trip", "Untitled"]


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ('{"mapping": {"content_type": 1}', "invalid JSON"),
        ('[{"title": "x", "mapping": [], "content_type": "text"}]', "no message mapping"),
        ('[1, 2, {"mapping": {}, "content_type": "text"}]', "expected a list of conversations"),
        ('[{"title": "x", "mapping": {"a": {"content_type": "text"}}}]', "holds no messages"),
    ],
)
def test_wrong_shaped_exports_are_refused(tmp_path: Path, content: str, reason: str) -> None:
    path = tmp_path / "conversations.json"
    path.write_text(content)
    with pytest.raises(UnreadableDocument, match=reason):
        read_document(path)


def test_cyclic_parent_links_do_not_hang(tmp_path: Path) -> None:
    looped = conversation("Loop", [
        node("a", "b", ["b"], "user", "first", 0),
        node("b", "a", ["a"], "assistant", "second", 1),
    ], current="b")
    document = read_document(write(tmp_path, [looped]))
    assert "first" in document.text and "second" in document.text
