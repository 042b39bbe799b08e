"""``MemoryEngine.ask`` with an MSA checkpoint: the model names documents round by round, then answers.

The scripted checkpoints (``tiny_msa.build_scripted_msa``) are real MSA checkpoints whose weights make the
greedy next token a function of the current one, so the protocol's every path can be driven on purpose.
Memory holds NOTES as documents 1..6; document 3 is "the manager meeting is at the office on 7 .".
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from memsa.core.answering import AnswerConfig
from memsa.core.engine import Finished, MemoryEngine, Retrieved, TextDelta
from memsa.core.interleave.machine import InterleaveLimits
from memsa.core.interleave.rounds import DocumentsRead, RoundOutcome, RoundStarted
from memsa.core.msa.asking import routed_documents, with_forced_token
from memsa.core.msa.prompt import QuestionPrompt, TokenRole
from memsa.core.msa.selection import LayerSelection
from tests.core.msa.conftest import msa_settings, open_with_notes
from tests.core.msa.tiny_msa import ASK_THEN_ANSWER, NOTES, TinyMsa, build_scripted_msa

QUESTION = "who is the manager ?"
ANSWER = "kilo lima mike"


def _script(*changes: tuple[str, str]) -> list[tuple[str, str]]:
    """ASK_THEN_ANSWER with the successors of some tokens changed."""
    changed = dict(changes)
    return [(current, changed.get(current, following)) for current, following in ASK_THEN_ANSWER]


@pytest.fixture(scope="module")
def asking(scripted_msa: TinyMsa, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MemoryEngine]:
    with open_with_notes(scripted_msa, tmp_path_factory.mktemp("asking")) as engine:
        yield engine


def _scripted_engine(folder: Path, script: list[tuple[str, str]]) -> MemoryEngine:
    return open_with_notes(build_scripted_msa(folder / "checkpoint", script), folder)


def test_the_model_reads_what_it_names_then_answers(asking: MemoryEngine, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="memsa.core.msa.asking"):
        events = list(asking.ask(QUESTION))
    kinds = [type(event) for event in events]
    assert kinds == [RoundStarted, DocumentsRead, RoundStarted, DocumentsRead, Retrieved,
                     TextDelta, TextDelta, TextDelta, Finished]
    first_read, second_read = events[1], events[3]
    assert isinstance(first_read, DocumentsRead) and isinstance(second_read, DocumentsRead)
    assert [doc.doc_id for doc in first_read.documents] == [3] and first_read.ignored_ids == (9,)
    assert [citation.doc_id for citation in first_read.citations] == [3]
    assert first_read.citations[0].snippet == NOTES[2].strip() and first_read.citations[0].path == "/notes/2.md"
    assert second_read.documents == [] and second_read.ignored_ids == ()
    assert "9" in caplog.text and "does not hold" in caplog.text

    answer = events[-1].answer  # type: ignore[union-attr]
    assert answer.text == ANSWER and "".join(event.text for event in events if isinstance(event, TextDelta)) == ANSWER
    assert [citation.doc_id for citation in answer.citations] == [3] and not answer.abstained
    assert [(record.index, record.outcome) for record in answer.rounds] == [
        (1, RoundOutcome.FOLLOW_UP), (2, RoundOutcome.MODEL_SATISFIED)]
    assert answer.rounds[0].ignored_ids == (9,) and [doc.doc_id for doc in answer.rounds[0].documents] == [3]
    # The second round routes with the question and what the first one read.
    assert answer.rounds[0].query == QUESTION
    assert answer.rounds[1].query == f"{QUESTION}\n[3]. {NOTES[2]}"
    assert set(answer.timings) == {"route", "first_token", "total"}
    assert answer.timings["route"] <= answer.timings["first_token"] <= answer.timings["total"]
    retrieved = events[4]
    assert isinstance(retrieved, Retrieved) and retrieved.citations == answer.citations
    assert retrieved.documents and all(doc.layer_scores for doc in retrieved.documents)


def test_the_round_cap_stops_a_model_that_still_asks(asking: MemoryEngine) -> None:
    events = list(asking.ask(QUESTION, rounds=1))
    assert [type(event) for event in events[:3]] == [RoundStarted, DocumentsRead, Retrieved]
    answer = events[-1].answer  # type: ignore[union-attr]
    assert [(record.index, record.outcome) for record in answer.rounds] == [(1, RoundOutcome.ROUND_CAP)]
    # What the capped round named is still read: a last prefill shows it, with <End-of-Retrieve> forced.
    assert [citation.doc_id for citation in answer.citations] == [3] and answer.text == ANSWER


def test_the_round_cap_and_the_answer_budget_come_from_settings(scripted_msa: TinyMsa, tmp_path: Path) -> None:
    settings = dataclasses.replace(msa_settings(scripted_msa, tmp_path), interleave=InterleaveLimits(max_rounds=1),
                                   answer=AnswerConfig(max_new_tokens=2))
    with open_with_notes(scripted_msa, tmp_path, settings) as engine:
        *_, finished = engine.ask(QUESTION)
    assert isinstance(finished, Finished)
    assert [record.outcome for record in finished.answer.rounds] == [RoundOutcome.ROUND_CAP]
    assert finished.answer.text == "kilo lima"


def test_ids_already_read_or_unknown_end_the_rounds(tmp_path: Path) -> None:
    # After the evidence's delimiter this model asks for [3][9] again instead of ending retrieval.
    with _scripted_engine(tmp_path, _script(("<|object_ref_end|>", "["))) as engine:
        *_, finished = engine.ask(QUESTION)
    assert isinstance(finished, Finished)
    answer = finished.answer
    assert [(record.index, record.outcome) for record in answer.rounds] == [
        (1, RoundOutcome.FOLLOW_UP), (2, RoundOutcome.NOTHING_NEW)]
    assert answer.rounds[1].documents == [] and answer.rounds[1].ignored_ids == (9,)
    # <End-of-Retrieve> is forced after the call that asked for nothing new; the answer follows it.
    assert [citation.doc_id for citation in answer.citations] == [3] and answer.text == ANSWER


def test_a_model_may_answer_without_reading(tmp_path: Path) -> None:
    # The first token after the prompt is an answer word, outside the protocol: it starts the answer.
    with _scripted_engine(tmp_path, _script(("assistant", "kilo"))) as engine:
        events = list(engine.ask(QUESTION))
    assert [type(event) for event in events[:3]] == [RoundStarted, DocumentsRead, Retrieved]
    answer = events[-1].answer  # type: ignore[union-attr]
    assert [(record.index, record.outcome) for record in answer.rounds] == [(1, RoundOutcome.MODEL_SATISFIED)]
    assert answer.citations == [] and answer.text == ANSWER


def test_routed_documents_average_the_layers_that_selected_them() -> None:
    routed = routed_documents({2: LayerSelection(2, (4, 1), (0.9, 0.5)), 3: LayerSelection(3, (1, 6), (0.7, 0.1))})
    assert [doc.doc_id for doc in routed] == [4, 1, 6]
    assert routed[1].layer_scores == {2: 0.5, 3: 0.7} and routed[1].score == pytest.approx(0.6)
    assert [doc.relative_score for doc in routed] == pytest.approx([0.3, 0.0, -0.5])
    assert routed_documents({}) == []


def test_a_forced_token_is_read_not_routed() -> None:
    prompt = QuestionPrompt(torch.tensor([5, 6]), (TokenRole.QUERY, TokenRole.TEMPLATE), (True, False))
    forced = with_forced_token(prompt, 9)
    assert forced.token_ids.tolist() == [5, 6, 9]
    assert forced.roles[-1] is TokenRole.GENERATED and forced.routes == (True, False, False)


def test_an_empty_memory_reports_every_named_id_and_still_answers(scripted_msa: TinyMsa, tmp_path: Path) -> None:
    with MemoryEngine.open(msa_settings(scripted_msa, tmp_path)) as engine:
        *_, finished = engine.ask(QUESTION)
    assert isinstance(finished, Finished)
    (record,) = finished.answer.rounds
    assert (record.outcome, record.documents, record.ignored_ids) == (RoundOutcome.NOTHING_NEW, [], (3, 9))
    assert finished.answer.citations == [] and finished.answer.text == ANSWER
