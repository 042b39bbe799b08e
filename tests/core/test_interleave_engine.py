"""Memory Interleave through the engine on a tiny random model: round events, the answer's rounds, the cap."""

from __future__ import annotations

from pathlib import Path

import pytest

from memsa.core.answering import AnswerConfig
from memsa.core.encoding import EncodingConfig
from memsa.core.engine import DocumentText, Finished, MemoryEngine, Retrieved, TextDelta
from memsa.core.interleave.rounds import DocumentsRead, RoundOutcome, RoundStarted
from memsa.core.memory.records import SourceInfo
from memsa.core.routing import RoutedDocument
from memsa.core.settings import EngineSettings
from tests.support.tiny_models import TinyModel, install_router

CHAIN = {
    "/notes/team.md": "red green blue . Alpha Kilo's manager is Bravo Lima . blue red .",
    "/notes/office.md": "green red . Bravo Lima's office is in Tango . red blue .",
    "/notes/other.md": "the wifi password at the lake cabin is tango 4 2 .",
    "/notes/more.md": "the manager meeting is at the office on 7 .",
}
QUESTION = "where does Alpha Kilo's manager work ?"


@pytest.fixture()
def engine(tiny_llama: TinyModel, data_dir: Path) -> MemoryEngine:
    install_router(tiny_llama, data_dir, abstain_below=-1.0)
    settings = EngineSettings(data_dir=data_dir, model=str(tiny_llama.path), encoding=EncodingConfig(chunk_tokens=8),
                              answer=AnswerConfig(max_new_tokens=4))
    engine = MemoryEngine.open(settings)
    for path, text in CHAIN.items():
        engine.remember(SourceInfo(path=path, content_hash=path, mtime_ns=1, size=len(text)),
                        [DocumentText(text=text, start=0, end=len(text))])
    yield engine
    engine.close()


def doc_id(engine: MemoryEngine, path: str) -> int:
    return engine.bank.document_ids(path)[0]


def test_round_events_come_before_the_answer_and_match_its_rounds(engine: MemoryEngine) -> None:
    events = list(engine.ask(QUESTION))
    retrieved = next(index for index, event in enumerate(events) if isinstance(event, Retrieved))
    rounds = events[:retrieved]
    assert rounds and all(isinstance(event, RoundStarted | DocumentsRead) for event in rounds)
    assert [type(event) for event in rounds] == [RoundStarted, DocumentsRead] * (len(rounds) // 2)
    assert all(isinstance(event, TextDelta) for event in events[retrieved + 1 : -1])
    answer = events[-1].answer  # type: ignore[union-attr]
    read_events = [event for event in rounds if isinstance(event, DocumentsRead)]
    assert [record.index for record in answer.rounds] == [event.index for event in read_events]
    assert [record.documents for record in answer.rounds] == [event.documents for event in read_events]
    read = [doc.doc_id for event in read_events for doc in event.documents]
    assert len(read) == len(set(read)) and len(answer.rounds) <= engine.settings.interleave.max_rounds
    assert [citation.doc_id for citation in events[retrieved].citations] == read  # type: ignore[union-attr]


def test_a_single_round_is_one_round(engine: MemoryEngine) -> None:
    *_, finished = engine.ask(QUESTION, rounds=1)
    assert isinstance(finished, Finished) and len(finished.answer.rounds) == 1


def test_the_second_round_reads_the_document_the_first_one_leads_to(engine: MemoryEngine,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """With a fixed ranking (the router is random), round 2 must follow "Bravo Lima" to the office note."""
    team, office, other = (doc_id(engine, path) for path in ("/notes/team.md", "/notes/office.md", "/notes/other.md"))
    queries: list[str] = []

    def ranking(question: str, top_k: int | None = None) -> list[RoutedDocument]:
        queries.append(question)
        order = [team, other, office]
        scores = [0.9, 0.5, 0.45]
        return [RoutedDocument(doc, score, {}, 0, score - 0.3) for doc, score in zip(order, scores, strict=True)]

    monkeypatch.setattr(engine, "retrieve", ranking)
    *_, finished = engine.ask(QUESTION)
    assert isinstance(finished, Finished)
    rounds = finished.answer.rounds
    assert [[doc.doc_id for doc in record.documents] for record in rounds] == [[team], [office], []]
    assert [record.outcome for record in rounds] == [
        RoundOutcome.FOLLOW_UP, RoundOutcome.FOLLOW_UP, RoundOutcome.NOTHING_NEW]
    assert queries[1] == "Bravo Lima where does work?"  # the new name and what the question still asks
    assert {citation.doc_id for citation in finished.answer.citations} <= {team, office}
