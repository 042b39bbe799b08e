"""Shared fixtures: tiny random Llama and Qwen3 models with a word-level tokenizer, built in the test."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Converted models go to a cache shared by the whole test session, never the user's own ~/.cache.
os.environ.setdefault("XDG_CACHE_HOME", os.path.join(tempfile.gettempdir(), "memsa-test-cache"))

from tests.support.tiny_models import TinyModel, build_tiny_model  # noqa: E402


@pytest.fixture(scope="session", params=["llama", "qwen3"])
def tiny_model(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> TinyModel:
    """A tiny random causal LM saved as an HF folder, in both attention families."""
    return build_tiny_model(tmp_path_factory.mktemp(f"tiny-{request.param}"), request.param)


@pytest.fixture(scope="session")
def tiny_llama(tmp_path_factory: pytest.TempPathFactory) -> TinyModel:
    return build_tiny_model(tmp_path_factory.mktemp("tiny-llama"), "llama")


@pytest.fixture()
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"
