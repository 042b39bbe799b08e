"""The memory engine end to end on tiny random models: remember, retrieve, ask, forget, reopen, re-encode."""

from __future__ import annotations

import dataclasses
import stat
from pathlib import Path

import pytest
import torch

from memsa.core.answering import NOT_FOUND
from memsa.core.encoding import EncodingConfig
from memsa.core.engine import DocumentText, Finished, MemoryEngine, Retrieved, TextDelta
from memsa.core.errors import BankMismatch, InvalidInput, RouterUnavailable
from memsa.core.interleave.rounds import DocumentsRead, RoundStarted
from memsa.core.memory.records import SourceInfo
from memsa.core.settings import EngineSettings
from tests.support.tiny_models import TinyModel, install_router

NOTES = {
    "/notes/cabin.md": ["the wifi password at the lake cabin is tango 4 2 .", "red green blue . alpha bravo ."],
    "/notes/work.md": ["the manager meeting is at the office on 7 ."],
}


def _settings(model: TinyModel, data_dir: Path) -> EngineSettings:
    return EngineSettings(data_dir=data_dir, model=str(model.path), encoding=EncodingConfig(chunk_tokens=8))


def _remember_all(engine: MemoryEngine) -> None:
    for path, texts in NOTES.items():
        documents, offset = [], 0
        for text in texts:
            documents.append(DocumentText(text=text, start=offset, end=offset + len(text)))
            offset += len(text) + 2
        engine.remember(SourceInfo(path=path, content_hash=path, mtime_ns=1, size=offset), documents)


def test_remember_retrieve_ask_forget_and_reopen(tiny_model: TinyModel, data_dir: Path) -> None:
    install_router(tiny_model, data_dir)
    settings = _settings(tiny_model, data_dir)
    with MemoryEngine.open(settings) as engine:
        _remember_all(engine)
        stats = engine.status()
        assert (stats.sources, stats.documents) == (2, 3)
        assert stats.tokens > 0 and stats.router_chunks > 0 and stats.kv_chunks > 0
        routed = engine.retrieve("where is the manager meeting ?", top_k=2)
        assert len(routed) == 2
        assert routed[0].score >= routed[1].score
        events = [  # the interleave rounds' events come first (tests/core/test_interleave_engine.py)
            event for event in engine.ask("what is the wifi password ?", top_k=3)
            if not isinstance(event, RoundStarted | DocumentsRead)
        ]
        assert isinstance(events[0], Retrieved) and isinstance(events[-1], Finished)
        assert all(isinstance(event, TextDelta) for event in events[1:-1])
        answer = events[-1].answer
        assert answer.citations and answer.citations[0].path in NOTES
        assert {"route", "first_token", "total"} <= set(answer.timings)
        assert engine.forget("/notes/work.md") == 1
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    with MemoryEngine.open(settings) as engine:
        assert engine.status().documents == 2
        assert {doc.doc_id for doc in engine.retrieve("manager meeting", top_k=5)} <= set(
            engine.bank.document_ids("/notes/cabin.md")
        )
        assert engine.forget("/notes") == 2
        assert engine.status().documents == 0
        assert engine.retrieve("anything", top_k=3) == []


def test_abstains_without_asking_the_model_when_nothing_clears_the_bar(tiny_llama: TinyModel, data_dir: Path) -> None:
    install_router(tiny_llama, data_dir, abstain_below=2.0)  # cosine scores never reach 2
    with MemoryEngine.open(_settings(tiny_llama, data_dir)) as engine:
        _remember_all(engine)
        *_, finished = engine.ask("what is the wifi password ?")
        assert isinstance(finished, Finished)
        assert finished.answer.abstained and finished.answer.text == NOT_FOUND and not finished.answer.citations


def test_bank_refuses_another_router_until_reencoded(tiny_llama: TinyModel, data_dir: Path) -> None:
    install_router(tiny_llama, data_dir, seed=0)
    settings = _settings(tiny_llama, data_dir)
    with MemoryEngine.open(settings) as engine:
        _remember_all(engine)
        before = engine.retrieve("wifi password", top_k=3)
    install_router(tiny_llama, data_dir, seed=1)
    with pytest.raises(BankMismatch, match="reencode"):
        MemoryEngine.open(settings)
    with MemoryEngine.open(settings, adopt_identity=True) as engine:
        assert engine.reencode() == 3
        after = engine.retrieve("wifi password", top_k=3)
        assert len(after) == len(before) == 3
        assert engine.bank.unencoded_document_ids() == []


def test_missing_router_says_how_to_train_one(tiny_llama: TinyModel, data_dir: Path) -> None:
    with pytest.raises(RouterUnavailable, match="train-router"):
        MemoryEngine.open(_settings(tiny_llama, data_dir))


def test_thread_setting_reaches_torch_and_is_checked(tiny_llama: TinyModel, data_dir: Path) -> None:
    install_router(tiny_llama, data_dir)
    before = torch.get_num_threads()
    try:
        with MemoryEngine.open(dataclasses.replace(_settings(tiny_llama, data_dir), threads=1)):
            assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
    with pytest.raises(InvalidInput, match="threads"):
        EngineSettings(data_dir=data_dir, threads=0)
