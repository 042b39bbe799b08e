"""Conversation JSON through the generic path: LoCoMo-style sessions (the real benchmark file when present)
and plain message lists; sniffing leaves other JSON alone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from memsa.ingest.document import UnreadableDocument
from memsa.ingest.readers import read_document, supported
from memsa.ingest.readers.chats import detect, generic
from memsa.ingest.splitting import split_document

LOCOMO = Path(__file__).resolve().parents[3] / "shared" / "bench-data" / "locomo" / "locomo-dev2.json"


def locomo_sample() -> dict[str, object]:
    return {
        "sample_id": "conv-x",
        "conversation": {
            "speaker_a": "Caroline",
            "speaker_b": "Melanie",
            "session_2_date_time": "10:37 am on 27 June, 2023",
            "session_2": [{"speaker": "Melanie", "dia_id": "D2:1", "text": "Back from camping!",
                           "img_url": ["x"], "blip_caption": "a tent by a lake"}],
            "session_1_date_time": "1:56 pm on 8 May, 2023",
            "session_1": [
                {"speaker": "Caroline", "dia_id": "D1:1", "text": "Hey Mel!"},
                {"speaker": "Melanie", "dia_id": "D1:2", "text": "Hi Caroline, swamped with work."},
            ],
        },
        "qa": [{"question": "q", "answer": "a", "evidence": ["D1:2"], "category": 4}],
    }


def test_locomo_sessions_with_dia_id_anchors(tmp_path: Path) -> None:
    path = tmp_path / "locomo.json"
    path.write_text(json.dumps([locomo_sample()]))
    assert detect(path) is generic
    document = read_document(path)
    assert [(document.text[s.start : s.end], s.heading, s.anchor) for s in document.sections] == [
        ("[2023-05-08 13:56] Caroline: Hey Mel!", "Caroline & Melanie, session 1 · 2023-05-08", "D1:1"),
        ("[2023-05-08 13:56] Melanie: Hi Caroline, swamped with work.", "Caroline & Melanie, session 1 · 2023-05-08",
         "D1:2"),
        ("[2023-06-27 10:37] Melanie: Back from camping! [shares an image: a tent by a lake]",
         "Caroline & Melanie, session 2 · 2023-06-27", "D2:1"),
    ]


@pytest.mark.skipif(not LOCOMO.is_file(), reason=f"LoCoMo development file not present at {LOCOMO}")
def test_real_locomo_file_keeps_every_turn_citable() -> None:
    data = json.loads(LOCOMO.read_text())
    turns = {
        turn["dia_id"]
        for sample in data
        for key, session in sample["conversation"].items()
        if key.startswith("session_") and isinstance(session, list)
        for turn in session
    }
    document = read_document(LOCOMO)
    assert {s.anchor for s in document.sections} == turns
    spans = split_document(document, max_chars=3000)
    assert all(span.end - span.start <= 3000 for span in spans)
    cited = {anchor for span in spans for *_, anchor in span.anchors}
    assert cited == turns
    evidence = {dia_id for sample in data for qa in sample["qa"] for dia_id in qa.get("evidence", [])}
    assert len(evidence & cited) >= 0.95 * len(evidence)  # a few evidence ids in the benchmark are malformed
    assert all(" · " in span.heading and "session" in span.heading for span in spans)


def test_plain_message_list(tmp_path: Path) -> None:
    path = tmp_path / "export.json"
    path.write_text(json.dumps({"title": "Family", "messages": [
        {"sender": "Mum", "text": "Dinner at 7", "timestamp": "2024-03-02T18:05:00", "id": "m1"},
        {"author": {"name": "Tom"}, "content": "OK", "time": 1709402760},
    ]}))
    assert detect(path) is generic
    document = read_document(path)
    assert document.title == "Family"
    assert document.sections[0].anchor == "msg m1 · Mum · 2024-03-02 18:05"
    assert document.text.splitlines()[0] == "[2024-03-02 18:05] Mum: Dinner at 7"
    assert document.text.endswith("Tom: OK") and document.sections[1].anchor.startswith("msg 2 · Tom")


@pytest.mark.parametrize(
    "data",
    [{"name": "package", "version": "1.0"}, [1, 2, 3], {"rows": [{"a": 1}]}, {"speaker": "x"}],
)
def test_other_json_is_not_a_chat(tmp_path: Path, data: object) -> None:
    path = tmp_path / "data.json"
    path.write_text(json.dumps(data))
    assert detect(path) is None and not supported(path)


def test_truncated_locomo_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "cut.json"
    path.write_text(json.dumps([locomo_sample()])[:200])
    with pytest.raises(UnreadableDocument, match=r"^not a conversation JSON: invalid JSON \(line 1, column \d+\)$"):
        read_document(path)


def test_deeply_nested_json_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "deep.json"
    path.write_text('{"dia_id": 1, "session_1": ' + "[" * 200_000 + "]" * 200_000 + "}")
    with pytest.raises(UnreadableDocument, match="^not a conversation JSON: JSON nested too deeply$"):
        read_document(path)


def test_messenger_export_is_ordered_and_repaired(tmp_path: Path) -> None:
    path = tmp_path / "message_1.json"
    garbled = "Caf\u00c3\u00a9 at 8?"  # "Café at 8?" as Meta writes it
    path.write_text(json.dumps({
        "participants": [{"name": "Ren\u00c3\u00a9e"}, {"name": "Tom"}],
        "messages": [
            {"sender_name": "Tom", "timestamp_ms": 1709402760000, "content": "Yes!"},
            {"sender_name": "Ren\u00c3\u00a9e", "timestamp_ms": 1709402700000, "content": garbled},
        ],
        "title": "Ren\u00c3\u00a9e",
        "thread_path": "inbox/renee_123",
    }))
    assert detect(path) is generic
    document = read_document(path)
    assert document.title == "Renée"
    assert [document.text[s.start : s.end].split("] ", 1)[1] for s in document.sections] == [
        "Renée: Café at 8?", "Tom: Yes!"
    ]
    assert document.sections[0].anchor.startswith("msg 2 · Renée · ")


def test_mixed_time_styles_still_sort(tmp_path: Path) -> None:
    path = tmp_path / "mixed.json"
    path.write_text(json.dumps([
        {"sender": "A", "text": "later", "timestamp": "2024-03-02T18:05:00+00:00"},
        {"sender": "B", "text": "earlier", "timestamp": 1609459200},
    ]))
    assert read_document(path).text.endswith("A: later")


def test_google_chat_messages_file(tmp_path: Path) -> None:
    folder = tmp_path / "DM Ann"
    folder.mkdir()
    path = folder / "messages.json"
    path.write_text(json.dumps({"messages": [
        {"creator": {"name": "Ann", "email": "ann@example.org"}, "created_date":
         "Sunday, December 31, 2023 at 9:15:03\u202fPM UTC", "text": "Fireworks at ten", "topic_id": "t1"},
    ]}))
    assert detect(path) is generic
    document = read_document(path)
    assert document.title == "DM Ann"
    assert document.text == "[2023-12-31 21:15] Ann: Fireworks at ten"
