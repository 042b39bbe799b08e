"""Run the model over evaluation texts once and cache their router-layer inputs.

What is cached is the *normed input* h of each candidate router layer, chunk-mean pooled over
``pool_tokens`` tokens for documents and kept per token for questions. Router keys and queries are
affine in h (``RouterProjectors.router_keys`` / ``router_queries``), so any router over those layers
with a chunk size that is a multiple of ``pool_tokens`` is scored from the cache without the model.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from memsa.core.decoder import Decoder
from memsa.core.encoding import TokenizedDocument, length_batches, tokenize_document
from memsa.core.pooling import chunk_mean

from .state_store import EncodedText, StateStore, text_key

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class StateSpec:
    """What cached router-layer inputs depend on (it names the cache folder).

    Attributes:
        model_fingerprint: the backbone.
        layers: decoder layers whose normed inputs are kept.
        pool_tokens: P_b, tokens per cached document row; routers with P_r = m * P_b are scored exactly.
        hidden_size: width of h.
    """

    model_fingerprint: str
    layers: tuple[int, ...]
    pool_tokens: int
    hidden_size: int

    def folder(self, cache_dir: Path, kind: str) -> Path:
        layers = "-".join(map(str, self.layers))
        pool = self.pool_tokens if kind == "documents" else 1
        return cache_dir / "router-inputs" / self.model_fingerprint[:16] / f"{kind}-p{pool}-layers-{layers}"


def state_store_for(cache_dir: Path, spec: StateSpec, kind: str) -> StateStore:
    """The store of ``kind`` ("documents" or "questions") for ``spec``."""
    return StateStore(spec.folder(cache_dir, kind), spec.layers, spec.hidden_size)


def encode_missing(
    decoder: Decoder,
    tokenizer: object,
    store: StateStore,
    texts: Sequence[str],
    pool_tokens: int,
    max_tokens: int = 4096,
    batch_tokens: int = 8192,
    pack_tokens: int = 32768,
    progress: Progress | None = None,
) -> int:
    """Encode every text the store lacks, each alone from position 0 (as stage 1 does), in packs.

    Args:
        pool_tokens: tokens per stored row (1: per token, for questions).
        pack_tokens: tokens per pack written (what an interruption can lose).
        progress: called with (tokens done, tokens to do).

    Returns:
        tokens encoded.
    """
    keys = [text_key(text) for text in texts]
    wanted = set(store.missing(keys))
    pending: dict[str, TokenizedDocument] = {}
    for key, text in zip(keys, texts, strict=True):
        if key in wanted and key not in pending:
            pending[key] = tokenize_document(tokenizer, text, max_tokens)
    total = sum(doc.n_tokens for doc in pending.values())
    done = 0
    items = list(pending.items())
    start = 0
    while start < len(items):
        stop, tokens = start, 0
        while stop < len(items) and (tokens < pack_tokens or stop == start):
            tokens += items[stop][1].n_tokens
            stop += 1
        began = time.perf_counter()
        encoded = encode_pack(decoder, items[start:stop], store.layers, pool_tokens, batch_tokens)
        store.add(encoded, time.perf_counter() - began)
        done += tokens
        if progress is not None:
            progress(done, total)
        start = stop
    return total


@torch.inference_mode()
def encode_pack(
    decoder: Decoder,
    items: Sequence[tuple[str, TokenizedDocument]],
    layers: Sequence[int],
    pool_tokens: int,
    batch_tokens: int,
) -> list[EncodedText]:
    """Chunk-mean normed inputs of ``layers`` for each (key, document): rows [ceil(T / pool), hidden]."""
    results: list[EncodedText | None] = [None] * len(items)
    for batch in length_batches([document.n_tokens for _, document in items], batch_tokens):
        longest = max(items[i][1].n_tokens for i in batch)
        input_ids = torch.zeros((len(batch), longest), dtype=torch.long)
        for row, index in enumerate(batch):
            input_ids[row, : items[index][1].n_tokens] = torch.from_numpy(items[index][1].token_ids)
        captured = decoder.capture(input_ids, layers)
        for row, index in enumerate(batch):
            key, document = items[index]
            rows = {
                layer: chunk_mean(capture.normed_input[row, : document.n_tokens], pool_tokens).half().cpu()
                for layer, capture in captured.items()
            }
            results[index] = EncodedText(key, rows, document.n_tokens)
    return [result for result in results if result is not None]
