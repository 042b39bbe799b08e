"""An engine over a tiny random model for ingestion and watch tests, and a polling wait."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from memsa.core.encoding import EncodingConfig
from memsa.core.engine import MemoryEngine
from memsa.core.settings import EngineSettings
from tests.support.tiny_models import TinyModel, install_router

T = TypeVar("T")


def tiny_settings(model: TinyModel, data_dir: Path) -> EngineSettings:
    """Settings for ``model`` with its random router installed in ``data_dir`` (once)."""
    if not (data_dir / "routers").exists():
        install_router(model, data_dir)
    return EngineSettings(data_dir=data_dir, model=str(model.path), encoding=EncodingConfig(chunk_tokens=8))


def open_tiny_engine(model: TinyModel, data_dir: Path) -> MemoryEngine:
    return MemoryEngine.open(tiny_settings(model, data_dir))


def wait_for(probe: Callable[[], T | None], what: str, timeout: float = 30.0) -> T:
    """Poll ``probe`` until it returns something truthy; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.05)
