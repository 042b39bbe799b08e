"""GUI tests run offscreen, with Qt's and memsa's settings kept in a temporary folder."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

os.environ["QT_QPA_PLATFORM"] = "offscreen"
# QSettings (window geometry) and preferences must never touch the user's own configuration.
os.environ["XDG_CONFIG_HOME"] = tempfile.mkdtemp(prefix="memsa-gui-config-")

from memsa.core.encoding import EncodingConfig  # noqa: E402
from memsa.core.settings import EngineSettings  # noqa: E402
from tests.support.tiny_models import TinyModel, install_router  # noqa: E402


@pytest.fixture()
def tiny_settings(tiny_llama: TinyModel, tmp_path: Path) -> EngineSettings:
    """Engine settings over the tiny random Llama with a router that never abstains."""
    data_dir = tmp_path / "memory"
    install_router(tiny_llama, data_dir, abstain_below=-1.0)
    return EngineSettings(data_dir=data_dir, model=str(tiny_llama.path), encoding=EncodingConfig(chunk_tokens=8))


@pytest.fixture()
def notes(tmp_path: Path) -> Path:
    """A folder of three small notes in the tiny tokenizer's words, and one broken PDF."""
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "cabin.md").write_text("# cabin\n\nthe wifi password at the lake cabin is red . " * 3, encoding="utf-8")
    (folder / "office.md").write_text("# office\n\nthe office manager is delta . meeting at 9 .", encoding="utf-8")
    (folder / "colours.txt").write_text("alpha bravo charlie green blue . " * 4, encoding="utf-8")
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4\nnot a pdf at all\n")
    return folder
