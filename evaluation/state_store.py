"""A content-addressed, append-only disk cache of per-text tensors (router-layer inputs, dense vectors).

Encoding is what an evaluation costs, so every text's tensors are kept under the sha256 of its text.
A haystack that grows, or a query side that changes, re-encodes only texts never seen before. Packs are
safetensors files (no pickle) written whole and renamed into place, so an interrupted run keeps every
finished pack and resumes after it.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file

log = logging.getLogger(__name__)


def text_key(text: str) -> str:
    """The cache key of a text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class StoredText:
    """Where a text's rows live.

    Attributes:
        pack: pack file name.
        start, count: the text's rows in the pack.
        n_tokens: tokens the text was encoded as (0 where rows are not per token).
        seconds: share of the pack's encoding time spent on this text.
    """

    pack: str
    start: int
    count: int
    n_tokens: int
    seconds: float


@dataclass(frozen=True)
class EncodedText:
    """Freshly encoded rows of one text: layer -> [rows, width]."""

    key: str
    rows: dict[int, torch.Tensor]
    n_tokens: int


@dataclass(frozen=True)
class GatheredRows:
    """Rows of several texts in one layer, concatenated in the order asked for.

    Attributes:
        rows: [R, width] float16.
        counts: [N] int64, rows of each text.
        n_tokens: [N] int64, tokens of each text.
    """

    rows: torch.Tensor
    counts: torch.Tensor
    n_tokens: torch.Tensor


class StateStore:
    """Per-text rows of fixed width for a fixed set of layers, under one folder.

    The folder name must capture everything the rows depend on (model, layers, pooling); see
    ``memsa.evaluation.encoding.state_store_for``.
    """

    def __init__(self, directory: Path, layers: Sequence[int], width: int) -> None:
        self.directory = directory
        self.layers = tuple(layers)
        self.width = width
        directory.mkdir(parents=True, exist_ok=True)
        self.index: dict[str, StoredText] = {}
        for pack in sorted(directory.glob("pack-*.safetensors")):
            self._read_index(pack)

    def _read_index(self, pack: Path) -> None:
        with safe_open(str(pack), framework="pt") as handle:
            metadata = handle.metadata() or {}
        for key, start, count, n_tokens, seconds in json.loads(metadata["texts"]):
            self.index[key] = StoredText(pack.name, start, count, n_tokens, seconds)

    def missing(self, keys: Sequence[str]) -> list[str]:
        """The keys not stored yet, each once, in first-seen order."""
        return list(dict.fromkeys(key for key in keys if key not in self.index))

    def add(self, encoded: Sequence[EncodedText], seconds: float) -> None:
        """Write one pack holding ``encoded`` (encoding took ``seconds`` in all)."""
        if not encoded:
            return
        total_tokens = max(1, sum(item.n_tokens for item in encoded))
        entries, start = [], 0
        for item in encoded:
            count = item.rows[self.layers[0]].shape[0]
            share = seconds * max(item.n_tokens, 1) / total_tokens
            entries.append([item.key, start, count, item.n_tokens, round(share, 6)])
            start += count
        tensors = {
            f"layer{layer}": torch.cat([item.rows[layer].to(torch.float16).cpu() for item in encoded]).contiguous()
            for layer in self.layers
        }
        number = len(list(self.directory.glob("pack-*.safetensors")))
        pack = self.directory / f"pack-{number:06d}.safetensors"
        staging = pack.with_name(pack.name + ".partial")
        save_file(tensors, str(staging), metadata={"texts": json.dumps(entries)})
        staging.replace(pack)
        self._read_index(pack)

    def gather(self, keys: Sequence[str], layer: int) -> GatheredRows:
        """Rows of ``keys`` in ``layer``, in order.

        Raises:
            KeyError: a key is not stored.
        """
        located = [self.index[key] for key in keys]
        by_pack: dict[str, list[int]] = {}
        for position, stored in enumerate(located):
            by_pack.setdefault(stored.pack, []).append(position)
        pieces: list[torch.Tensor | None] = [None] * len(located)
        for pack, positions in by_pack.items():
            with safe_open(str(self.directory / pack), framework="pt") as handle:
                tensor = handle.get_tensor(f"layer{layer}")
            for position in positions:
                stored = located[position]
                pieces[position] = tensor[stored.start : stored.start + stored.count]
        rows = torch.cat([piece for piece in pieces if piece is not None]) if located else torch.zeros(0, self.width)
        return GatheredRows(
            rows=rows.to(torch.float16),
            counts=torch.tensor([stored.count for stored in located], dtype=torch.int64),
            n_tokens=torch.tensor([stored.n_tokens for stored in located], dtype=torch.int64),
        )

    def seconds(self, keys: Sequence[str]) -> float:
        """Encoding time recorded for ``keys`` (each key once)."""
        return sum(self.index[key].seconds for key in dict.fromkeys(keys))
