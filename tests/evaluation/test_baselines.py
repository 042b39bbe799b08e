"""BM25, the packaged MiniLM and reciprocal-rank fusion on tiny inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from memsa.evaluation.baselines import (
    DenseRetriever,
    bm25_scores,
    reciprocal_rank_fusion,
    run_baselines,
    top_k,
    windows,
)
from memsa.evaluation.benchmark import Document, Query

DOCUMENTS = [
    Document(0, "a", "The ferry to the island leaves from pier four every morning."),
    Document(1, "b", "Our cat sleeps on the warm windowsill all afternoon."),
    Document(2, "c", "The access code for the Wenfio archive room is SP-6658."),
    Document(3, "d", "Quarterly tax returns are due at the end of the month."),
]
QUERIES = [
    Query("q0", "exact", "What is the access code for the Wenfio archive room?", ("SP-6658",), (2,)),
    Query("q1", "reworded", "Where does my kitty nap after lunch?", ("windowsill",), (1,)),
]


def test_bm25_finds_the_document_sharing_the_rare_words() -> None:
    scores, index_seconds, query_ms = bm25_scores(DOCUMENTS, QUERIES)
    assert scores.shape == (2, 4)
    assert top_k(scores[0], 1) == [2]
    assert scores[1].max() == 0.0  # no shared content word: BM25 cannot tell
    assert index_seconds >= 0 and query_ms >= 0


def test_top_k_breaks_ties_by_position() -> None:
    assert top_k(np.array([0.5, 0.9, 0.5, 0.1]), 3) == [1, 0, 2]


def test_reciprocal_rank_fusion_sums_inverse_ranks() -> None:
    first = np.array([[3.0, 2.0, 1.0]])   # ranks 1, 2, 3
    second = np.array([[0.1, 0.9, 0.5]])  # ranks 3, 1, 2
    fused = reciprocal_rank_fusion([first, second], k=60)
    expected = [1 / 61 + 1 / 63, 1 / 62 + 1 / 61, 1 / 63 + 1 / 62]
    np.testing.assert_allclose(fused[0], expected)
    assert top_k(fused[0], 3) == [1, 0, 2]


def test_windows_overlap_and_cover_the_text() -> None:
    text = " ".join(str(i) for i in range(300))
    parts = windows(text, size=128, stride=96)
    assert [part.split()[0] for part in parts] == ["0", "96", "172"]
    assert parts[-1].split()[-1] == "299"
    assert windows("short text") == ["short text"]


def test_packaged_minilm_ranks_by_meaning_and_caches_its_vectors(tmp_path: Path) -> None:
    retriever = DenseRetriever(tmp_path, "cpu")
    retriever.index(DOCUMENTS)
    packs = sorted(tmp_path.rglob("pack-*.safetensors"))
    scores, _ = retriever.scores(DOCUMENTS, QUERIES)
    assert top_k(scores[1], 1) == [1]  # "kitty nap" finds the sleeping cat without shared words
    assert top_k(scores[0], 1) == [2]
    retriever.index(DOCUMENTS)
    assert sorted(tmp_path.rglob("pack-*.safetensors")) == packs  # nothing re-embedded

    runs = run_baselines(DOCUMENTS, QUERIES, k=2, cache_dir=tmp_path, device="cpu", tokens=60)
    assert [run.system for run in runs] == ["bm25", "minilm", "bm25+minilm rrf"]
    assert all(len(ranking) == 2 for run in runs for ranking in run.rankings.values())
    assert runs[2].rankings["q1"][0] == 1


@pytest.mark.parametrize("dense", [False])
def test_without_dense_only_bm25_runs(dense: bool, tmp_path: Path) -> None:
    runs = run_baselines(DOCUMENTS, QUERIES, k=3, cache_dir=tmp_path, device="cpu", tokens=60, dense=dense)
    assert [run.system for run in runs] == ["bm25"]
    assert runs[0].rankings["q0"][0] == 2


def test_fusion_ignores_documents_a_system_did_not_return() -> None:
    bm25 = np.array([[-np.inf, -np.inf, 2.0]])
    dense = np.array([[0.2, 0.9, 0.1]])
    fused = reciprocal_rank_fusion([bm25, dense], k=60)
    np.testing.assert_allclose(fused[0], [1 / 62, 1 / 61, 1 / 61 + 1 / 63])
