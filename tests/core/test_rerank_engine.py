"""The engine re-reads its first documents with the real sentence model: a reworded question finds its note."""

from __future__ import annotations

from pathlib import Path

from memsa.core.encoding import EncodingConfig
from memsa.core.engine import DocumentText, MemoryEngine
from memsa.core.memory.records import SourceInfo
from memsa.core.rerank import RerankConfig
from memsa.core.routing import RoutedDocument
from memsa.core.settings import EngineSettings
from tests.support.tiny_models import TinyModel, install_router

NOTES = [
    "Mateo plays the bassoon in a community orchestra every Tuesday.",
    "Mateo's dentist appointment is on Thursday the 27th at 16:30.",
    "Mateo was born in Porto and moved away at the age of six.",
    "The company transferred Mateo to its Ghent branch in March.",
    "Mateo drives a second-hand Toyota pickup.",
    "After the surgery, Mateo was told to stay away from coriander for good.",
    "Mateo panics around spiders and avoids them whenever possible.",
]
QUESTION = "What scares Mateo?"


def _engine(tiny_llama: TinyModel, data_dir: Path, rerank: RerankConfig) -> MemoryEngine:
    settings = EngineSettings(data_dir=data_dir, model=str(tiny_llama.path), encoding=EncodingConfig(chunk_tokens=8),
                              rerank=rerank)
    return MemoryEngine.open(settings)


def _remember_notes(tiny_llama: TinyModel, data_dir: Path) -> list[RoutedDocument]:
    """Remember the notes; return the fused ranking (no re-reading) of the question."""
    install_router(tiny_llama, data_dir)
    with _engine(tiny_llama, data_dir, RerankConfig(enabled=False)) as engine:
        for number, text in enumerate(NOTES):
            engine.remember(SourceInfo(f"/notes/{number}.md", str(number), 1, len(text)),
                            [DocumentText(text, 0, len(text))])
        return engine.retrieve(QUESTION, top_k=7)


def test_a_reworded_question_reads_its_note_first(tiny_llama: TinyModel, data_dir: Path) -> None:
    fused = _remember_notes(tiny_llama, data_dir)
    with _engine(tiny_llama, data_dir, RerankConfig()) as engine:
        spiders = engine.bank.document_ids("/notes/6.md")[0]
        reread = engine.retrieve(QUESTION, top_k=7)
    assert fused[0].doc_id != spiders  # the tiny random router cannot know
    assert reread[0].doc_id == spiders
    assert sorted(doc.doc_id for doc in reread) == sorted(doc.doc_id for doc in fused)
    # Places keep the fused scores, so the abstention and reading bars judge the same score profile.
    assert [doc.score for doc in reread] == [doc.score for doc in fused]
    assert [doc.relative_score for doc in reread] == [doc.relative_score for doc in fused]


def test_only_the_first_candidates_are_reread(tiny_llama: TinyModel, data_dir: Path) -> None:
    fused = _remember_notes(tiny_llama, data_dir)
    with _engine(tiny_llama, data_dir, RerankConfig(candidates=2)) as engine:
        reread = engine.retrieve(QUESTION, top_k=7)
    assert {doc.doc_id for doc in reread[:2]} == {doc.doc_id for doc in fused[:2]}
    assert reread[2:] == fused[2:]
