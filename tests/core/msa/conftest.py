"""Tiny random MSA checkpoints (built once per test session) and engines that remember a few notes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from memsa.core.answering import AnswerConfig
from memsa.core.engine import DocumentText, MemoryEngine
from memsa.core.memory.records import SourceInfo
from memsa.core.settings import EngineSettings
from tests.core.msa.tiny_msa import ASK_THEN_ANSWER, NOTES, TinyMsa, build_scripted_msa, build_tiny_msa


@pytest.fixture(scope="session", params=["INFONCE", "INFONCE_DECOUPLE"])
def tiny_msa(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> TinyMsa:
    """A checkpoint with cosine routing ("INFONCE") and one with scaled dot-product routing."""
    return build_tiny_msa(tmp_path_factory.mktemp(f"msa-{request.param.lower()}"), aux_loss_method=request.param)


@pytest.fixture(scope="session")
def tiny_cosine_msa(tmp_path_factory: pytest.TempPathFactory) -> TinyMsa:
    return build_tiny_msa(tmp_path_factory.mktemp("msa-cosine"))


@pytest.fixture(scope="session")
def scripted_msa(tmp_path_factory: pytest.TempPathFactory) -> TinyMsa:
    """A checkpoint that asks for documents 3 and 9, then ends retrieval and answers (``ASK_THEN_ANSWER``)."""
    return build_scripted_msa(tmp_path_factory.mktemp("msa-scripted"), ASK_THEN_ANSWER)


def msa_settings(checkpoint: TinyMsa, folder: Path) -> EngineSettings:
    """Settings for ``checkpoint`` with data under ``folder`` and short answers (the model is random)."""
    return EngineSettings(data_dir=folder / "data", cache_dir=folder / "cache", model=str(checkpoint.path),
                          answer=AnswerConfig(max_new_tokens=8))


def open_with_notes(checkpoint: TinyMsa, folder: Path, settings: EngineSettings | None = None) -> MemoryEngine:
    """An engine on ``checkpoint`` (``settings``: by default :func:`msa_settings`) whose bank holds NOTES, one
    source each (document ids 1..6 in order)."""
    engine = MemoryEngine.open(settings or msa_settings(checkpoint, folder))
    for number, text in enumerate(NOTES):
        source = SourceInfo(path=f"/notes/{number}.md", content_hash=str(number), mtime_ns=1, size=len(text))
        engine.remember(source, [DocumentText(text=text, start=0, end=len(text))])
    return engine


@pytest.fixture()
def any_engine(tiny_msa: TinyMsa, tmp_path: Path) -> Iterator[MemoryEngine]:
    """Both routing rules (cosine and scaled dot product), a fresh bank each."""
    with open_with_notes(tiny_msa, tmp_path) as opened:
        yield opened


@pytest.fixture(scope="module")
def engine(tiny_cosine_msa: TinyMsa, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MemoryEngine]:
    """One cosine-routing engine shared by the tests of a module that only read from it."""
    with open_with_notes(tiny_cosine_msa, tmp_path_factory.mktemp("sparse")) as opened:
        yield opened
