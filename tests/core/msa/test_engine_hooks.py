"""``--model <MSA checkpoint folder>`` through the engine: no router file needed, the bank keeps its identity."""

from __future__ import annotations

from pathlib import Path

from memsa.core.engine import Finished, MemoryEngine
from memsa.core.msa.router import MsaRouter
from tests.core.msa.conftest import msa_settings, open_with_notes
from tests.core.msa.tiny_msa import NOTES, TinyMsa


def test_an_msa_folder_opens_remembers_answers_and_reopens(tiny_cosine_msa: TinyMsa, tmp_path: Path) -> None:
    with open_with_notes(tiny_cosine_msa, tmp_path) as engine:
        assert isinstance(engine.router, MsaRouter)
        assert engine.bank.identity.router_layers == tiny_cosine_msa.router_layers
        assert engine.bank.identity.chunk_tokens == engine.bank.identity.router_chunk_tokens == tiny_cosine_msa.pooling
        assert engine.status().documents == len(NOTES)
        routed = engine.retrieve("wifi password cabin", top_k=3)
        assert len(routed) == 3 and routed[0].score >= routed[-1].score
        *_, finished = engine.ask("what is the wifi password ?", rounds=1)
        assert isinstance(finished, Finished) and finished.answer.rounds
    # The same checkpoint again: the same identity, nothing to re-encode.
    with MemoryEngine.open(msa_settings(tiny_cosine_msa, tmp_path)) as reopened:
        assert reopened.status().documents == len(NOTES)
        assert reopened.bank.unencoded_document_ids() == []
