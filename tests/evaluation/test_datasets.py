"""SQuAD and LoCoMo loaders on small files in their published formats."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from memsa.core.errors import InvalidInput
from memsa.evaluation.datasets import load_locomo, load_squad

TEN_EUROS = {"text": "ten euros", "answer_start": 13}


def write_squad(folder: Path) -> Path:
    folder.mkdir()
    data = {"version": "1.1", "canary": "canary-guid", "data": [
        {"title": "Ferries", "paragraphs": [
            {"context": "The ferry leaves pier four.", "qas": [
                {"id": "q1", "question": "Where does the ferry leave?",
                 "answers": [{"text": "pier four", "answer_start": 17}, {"text": "pier four", "answer_start": 17}]}]},
            {"context": "Tickets cost ten euros.", "qas": [
                {"id": "q2", "question": "What do tickets cost?", "answers": [TEN_EUROS]},
                {"id": "q3", "question": "Price of a ticket?", "answers": [TEN_EUROS]}]},
        ]}]}
    (folder / "squad.json.gz").write_bytes(gzip.compress(json.dumps(data).encode()))
    return folder


def test_squad_paragraphs_are_documents_and_each_question_has_its_own(tmp_path: Path) -> None:
    benchmark = load_squad(write_squad(tmp_path / "squad"), questions=None, seed=0)
    assert [doc.text for doc in benchmark.documents] == ["The ferry leaves pier four.", "Tickets cost ten euros."]
    assert {(q.qid, q.gold) for q in benchmark.queries} == {("q1", (0,)), ("q2", (1,)), ("q3", (1,))}
    assert benchmark.queries[0].answers == ("pier four",)  # duplicates folded
    assert benchmark.recipe["canary"] == "canary-guid"
    sampled = load_squad(tmp_path / "squad", questions=2, seed=1)
    assert len(sampled.queries) == 2 and sampled.recipe["of"] == 3


LOCOMO = [{
    "sample_id": "conv-1",
    "conversation": {
        "speaker_a": "Ann", "speaker_b": "Bo",
        "session_1_date_time": "1 May 2023", "session_1": [
            {"speaker": "Ann", "dia_id": "D1:1", "text": "I adopted a cat."},
            {"speaker": "Bo", "dia_id": "D1:2", "text": "Lovely!", "blip_caption": "a grey cat"}],
        "session_2_date_time": "9 May 2023", "session_2": [
            {"speaker": "Ann", "dia_id": "D2:1", "text": "The cat is called Miso."}],
    },
    "qa": [
        {"question": "What pet did Ann adopt?", "answer": "a cat", "evidence": ["D1:1"], "category": 4},
        {"question": "What is the name of the pet Ann adopted in May?", "answer": "Miso",
         "evidence": ["D1:1", "D2:1"], "category": 1},
        {"question": "What did Bo adopt?", "adversarial_answer": "a cat", "evidence": ["D1:1"], "category": 5},
        {"question": "Broken evidence?", "answer": "x", "evidence": ["D9:9"], "category": 4},
    ],
}]


def test_locomo_turns_and_sessions_with_evidence_as_gold(tmp_path: Path) -> None:
    (tmp_path / "locomo.json").write_text(json.dumps(LOCOMO))
    turns = load_locomo(tmp_path, "turn", questions=None, seed=0)
    assert [doc.text for doc in turns.documents] == [
        "Ann (1 May 2023): I adopted a cat.", "Bo (1 May 2023): Lovely! [shares a photo: a grey cat]",
        "Ann (9 May 2023): The cat is called Miso."]
    by_question = {q.question: q for q in turns.queries}
    assert len(turns.queries) == 3  # evidence naming no turn is dropped
    assert by_question["What pet did Ann adopt?"].gold == (0,)
    assert by_question["What is the name of the pet Ann adopted in May?"].gold == (0, 2)
    assert by_question["What did Bo adopt?"].absent and by_question["What did Bo adopt?"].family == "absent"
    sessions = load_locomo(tmp_path, "session", questions=None, seed=0)
    assert len(sessions.documents) == 2
    assert {q.question: q.gold for q in sessions.queries}["What is the name of the pet Ann adopted in May?"] == (0, 1)


def test_wrong_files_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="no"):
        load_squad(tmp_path, None, 0)
    (tmp_path / "other.json").write_text("[1, 2]")
    with pytest.raises(InvalidInput, match="not LoCoMo"):
        load_locomo(tmp_path, "turn", None, 0)
    with pytest.raises(InvalidInput, match="unknown LoCoMo memory unit"):
        load_locomo(tmp_path, "day", None, 0)
