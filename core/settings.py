"""Engine settings: where data lives, which model, which device; typed, frozen, validated."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import platformdirs

from .answering import AnswerConfig
from .encoding import EncodingConfig
from .errors import InvalidInput
from .interleave.machine import InterleaveLimits
from .rerank import RerankConfig

APP_NAME = "memsa"


def default_data_dir() -> Path:
    """The platform's per-user data folder for memsa (e.g. ~/.local/share/memsa on Linux)."""
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def default_cache_dir() -> Path:
    """The per-user cache folder (e.g. ~/.cache/memsa): models prepared for loading, safe to delete."""
    return Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False))


@dataclass(frozen=True)
class EngineSettings:
    """Everything the engine needs to start.

    Attributes:
        data_dir: holds the memory bank and user-trained routers (mode 0700).
        cache_dir: holds models converted for fast loading; shared by every data folder.
        model: a GGUF file or HF folder; None for the embedded default.
        device: "cpu", "cuda" or "cuda:N".
        top_k: documents each router layer selects.
        encoding: stage-1 sizes.
        answer: stage-3 knobs.
        interleave: caps on routing rounds per question and documents per round.
        rerank: re-reading of the fused ranking's first documents by the sentence model (``rerank.py``).
        threads: CPU threads for encoding, routing and llama.cpp answers; None: torch's default and every core.
    """

    data_dir: Path = field(default_factory=default_data_dir)
    cache_dir: Path = field(default_factory=default_cache_dir)
    model: str | None = None
    device: str = "cpu"
    top_k: int = 16
    encoding: EncodingConfig = field(default_factory=EncodingConfig)
    answer: AnswerConfig = field(default_factory=AnswerConfig)
    interleave: InterleaveLimits = field(default_factory=InterleaveLimits)
    rerank: RerankConfig = field(default_factory=RerankConfig)
    threads: int | None = None

    def __post_init__(self) -> None:
        if not (self.device == "cpu" or self.device == "cuda" or self.device.startswith("cuda:")):
            raise InvalidInput(f"unknown device {self.device!r}: use cpu, cuda or cuda:N")
        if self.top_k < 1:
            raise InvalidInput("top-k must be at least 1")
        if self.threads is not None and self.threads < 1:
            raise InvalidInput("threads must be at least 1")

    @property
    def bank_dir(self) -> Path:
        return self.data_dir / "bank"

    @property
    def router_dir(self) -> Path:
        return self.data_dir / "routers"


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) and make it readable by the user alone (0700)."""
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    return path
