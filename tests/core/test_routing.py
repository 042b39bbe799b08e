"""Stage 2: streamed routing equals a brute-force per-head reference; the combination rule holds."""

from __future__ import annotations

import pytest
import torch

from memsa.core.memory.records import RouterKeyMatrix
from memsa.core.router import RouterProjectors, RouterSpec
from memsa.core.routing import (
    cpu_run_maxima,
    device_run_maxima,
    document_scores,
    late_document_scores,
    route,
    route_reference,
)

LAYERS = (0, 2, 3)


def _router(cosine: bool, reduction: str = "max") -> RouterProjectors:
    torch.manual_seed(0)
    spec = RouterSpec(layers=LAYERS, hidden_size=24, n_heads=3, head_dim=8, cosine=cosine,
                      router_chunk_tokens=4, model_fingerprint="test", query_reduction=reduction)
    router = RouterProjectors(spec).requires_grad_(False)
    for layer in LAYERS:
        if router.layer(layer).router_q_weight is not None:
            router.layer(layer).router_q_weight.weight.normal_()  # type: ignore[union-attr]
    return router


def _bank(router: RouterProjectors, n_docs: int, seed: int) -> dict[int, RouterKeyMatrix]:
    generator = torch.Generator().manual_seed(seed)
    chunks = torch.randint(1, 6, (n_docs,), generator=generator)
    doc_ids = torch.repeat_interleave(torch.arange(n_docs) * 3 + 5, chunks)  # sparse ids, like a real bank
    chunk_index = torch.cat([torch.arange(int(count)) for count in chunks])
    matrices = {}
    for layer in LAYERS:
        hidden = torch.randn(int(chunks.sum()), 24, generator=generator)
        matrices[layer] = RouterKeyMatrix(router.router_keys(layer, hidden), doc_ids, chunk_index)
    return matrices


@pytest.mark.parametrize("reduction", ["max", "weighted", "late", "mixed"])
@pytest.mark.parametrize("cosine", [True, False])
@pytest.mark.parametrize("n_docs,top_k", [(1, 1), (7, 3), (60, 16), (200, 5)])
def test_route_matches_brute_force(cosine: bool, n_docs: int, top_k: int, reduction: str) -> None:
    router = _router(cosine, reduction)
    bank = _bank(router, n_docs, seed=n_docs)
    states = {layer: torch.randn(9, 24) for layer in LAYERS}
    fast = route(router, states, bank.__getitem__, top_k)
    slow = route_reference(router, states, bank.__getitem__, top_k)
    assert [doc.doc_id for doc in fast] == [doc for doc, _ in slow]
    for doc, (_, score) in zip(fast, slow, strict=True):
        assert doc.score == pytest.approx(score, rel=1e-4, abs=1e-5)


@pytest.mark.parametrize("reduction", ["max", "mixed"])
def test_included_documents_keep_their_own_scores(reduction: str) -> None:
    router = _router(True, reduction)
    bank = _bank(router, 40, seed=4)
    states = {layer: torch.randn(9, 24) for layer in LAYERS}
    everything = route(router, states, bank.__getitem__, 40)
    top = route(router, states, bank.__getitem__, 5)
    wanted = [everything[-1].doc_id, everything[20].doc_id, top[0].doc_id, 10_000, 6]  # 10,000 and 6: no rows
    found = route(router, states, bank.__getitem__, 5, include=wanted)
    assert [doc.doc_id for doc in found] == [doc.doc_id for doc in top] + [everything[20].doc_id, everything[-1].doc_id]
    by_id = {doc.doc_id: doc for doc in everything}
    for doc in found:
        assert doc.score == pytest.approx(by_id[doc.doc_id].score, abs=1e-6)
        assert doc.relative_score == pytest.approx(by_id[doc.doc_id].relative_score, abs=1e-6)
        assert doc.best_chunk == by_id[doc.doc_id].best_chunk


def test_best_chunk_is_the_highest_scoring_chunk_of_the_best_layer() -> None:
    router = _router(cosine=True)
    bank = _bank(router, 30, seed=3)
    states = {layer: torch.randn(5, 24) for layer in LAYERS}
    for doc in route(router, states, bank.__getitem__, 5):
        layer = max(doc.layer_scores, key=doc.layer_scores.__getitem__)
        matrix = bank[layer]
        rows = (matrix.doc_ids == doc.doc_id).nonzero().flatten()
        scores = (router.router_queries(layer, states[layer]) @ matrix.keys[rows].T).amax(0)
        assert doc.best_chunk == int(matrix.chunk_index[rows[scores.argmax()]])
        assert max(doc.layer_scores.values()) == pytest.approx(float(scores.max()), rel=1e-5)


def test_empty_bank_routes_nothing() -> None:
    router = _router(cosine=True)
    empty = RouterKeyMatrix(torch.zeros(0, 24), torch.zeros(0, dtype=torch.long), torch.zeros(0, dtype=torch.long))
    assert route(router, {layer: torch.randn(3, 24) for layer in LAYERS}, lambda layer: empty, 4) == []


def test_late_scores_sum_each_tokens_best_chunk_of_the_document() -> None:
    """Late interaction: a document matching every question token in some chunk beats one whose chunks
    match both tokens only halfway; rows of a document need not lie together; blocks change nothing."""
    queries = torch.tensor([[0.5, 0.0], [0.0, 0.5]])  # two weighted token vectors
    keys = torch.tensor([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0], [0.6, 0.8], [0.0, -1.0]])
    doc_ids = torch.tensor([4, 1, 4, 1, 2])
    for block_rows in (1, 2, 3, 16384):
        scores = late_document_scores(queries, keys, doc_ids, n_slots=5, block_rows=block_rows)
        assert scores.tolist() == pytest.approx([float("-inf"), 0.8, -0.5, float("-inf"), 1.0])


def _late_brute_force(queries: torch.Tensor, keys: torch.Tensor, doc_ids: torch.Tensor, n_slots: int) -> list[float]:
    """Per-document loop in float64: each query vector's best row of the document, summed."""
    similarity = queries.double() @ keys.double().T  # [Tq, C]
    scores = [float("-inf")] * n_slots
    for doc in set(doc_ids.tolist()):
        scores[doc] = float(similarity[:, doc_ids == doc].amax(dim=1).sum())
    return scores


def _shuffled_documents(n_rows: int, seed: int) -> torch.Tensor:
    """[n_rows] doc ids in runs of 1-9 rows, ids out of order and documents split into several runs."""
    generator = torch.Generator().manual_seed(seed)
    lengths = torch.randint(1, 10, (n_rows,), generator=generator)
    ids = torch.randint(0, max(1, n_rows // 12), (n_rows,), generator=generator)
    return torch.repeat_interleave(ids, lengths)[:n_rows]


@pytest.mark.parametrize("block_rows", [None, 1, 3, 8, 64])
@pytest.mark.parametrize("layout", ["ascending", "shuffled", "one document", "one row"])
def test_late_scores_equal_a_per_document_loop(layout: str, block_rows: int | None) -> None:
    """Any run layout, blocks (and batches of blocks) cutting documents anywhere, a partial last block."""
    generator = torch.Generator().manual_seed(7)
    n_rows = {"one row": 1}.get(layout, 203)
    run_lengths = torch.randint(6, 11, (40,), generator=generator)  # at least 240 rows
    doc_ids = {
        "ascending": torch.repeat_interleave(torch.arange(40) * 2 + 1, run_lengths),
        "shuffled": _shuffled_documents(n_rows, seed=3),
        "one document": torch.full((n_rows,), 4),
        "one row": torch.tensor([2]),
    }[layout][:n_rows]
    keys = torch.randn(doc_ids.shape[0], 16, generator=generator)
    queries = torch.randn(5, 16, generator=generator)
    n_slots = int(doc_ids.max()) + 3
    scores = late_document_scores(queries, keys, doc_ids, n_slots, block_rows=block_rows)
    assert scores.dtype == torch.float32 and scores.shape == (n_slots,)
    assert scores.tolist() == pytest.approx(_late_brute_force(queries, keys, doc_ids, n_slots), rel=1e-5, abs=1e-5)


@pytest.mark.parametrize("block_rows,batch", [(1, 1), (2, 3), (5, 2), (16, 4), (1024, 16)])
def test_cpu_and_device_run_maxima_agree(block_rows: int, batch: int) -> None:
    """The CPU path (batched products, numpy segment max) equals the any-device path, float16 keys too."""
    generator = torch.Generator().manual_seed(block_rows)
    lengths = torch.randint(1, 12, (37,), generator=generator)
    run_starts = (lengths.cumsum(0) - lengths).numpy()
    keys = torch.randn(int(lengths.sum()), 24, generator=generator)
    queries = torch.randn(7, 24, generator=generator)
    for stored in (keys, keys.half()):
        on_cpu = cpu_run_maxima(queries, stored, run_starts, block_rows, batch)
        anywhere = device_run_maxima(queries, stored, run_starts, block_rows)
        expected = torch.stack([(queries @ stored.float()[start:start + int(length)].T).amax(dim=1)
                                for start, length in zip(run_starts.tolist(), lengths, strict=True)], dim=1)
        torch.testing.assert_close(torch.from_numpy(on_cpu), expected, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(anywhere, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_late_scores_on_the_gpu_equal_the_cpu_path() -> None:
    generator = torch.Generator().manual_seed(11)
    doc_ids = _shuffled_documents(5000, seed=11)
    keys, queries = torch.randn(5000, 32, generator=generator), torch.randn(9, 32, generator=generator)
    n_slots = int(doc_ids.max()) + 1
    on_cpu = late_document_scores(queries, keys, doc_ids, n_slots)
    for block_rows in (None, 300):
        on_gpu = late_document_scores(queries.cuda(), keys.cuda().half(), doc_ids.cuda(), n_slots, block_rows)
        expected = late_document_scores(queries, keys.half(), doc_ids, n_slots)
        torch.testing.assert_close(on_gpu.cpu(), expected, rtol=1e-5, atol=1e-4)
    on_gpu = late_document_scores(queries, keys.cuda(), doc_ids.cuda(), n_slots)
    torch.testing.assert_close(on_gpu.cpu(), on_cpu, rtol=1e-5, atol=1e-4)


def test_late_best_chunk_is_the_chunk_matching_the_weighted_question_best() -> None:
    router = _router(cosine=True, reduction="late")
    bank = _bank(router, 30, seed=4)
    states = {layer: torch.randn(6, 24) for layer in LAYERS}
    for doc in route(router, states, bank.__getitem__, 5):
        layer = max(doc.layer_scores, key=doc.layer_scores.__getitem__)
        matrix = bank[layer]
        rows = (matrix.doc_ids == doc.doc_id).nonzero().flatten()
        similarity = router.router_queries(layer, states[layer]) @ matrix.keys[rows].T  # [Tq, chunks]
        assert doc.best_chunk == int(matrix.chunk_index[rows[similarity.sum(0).argmax()]])
        assert doc.layer_scores[layer] == pytest.approx(float(similarity.amax(1).sum()), rel=1e-5)


def test_document_scores_take_the_max_over_chunks() -> None:
    scores = document_scores(torch.tensor([0.1, 0.9, 0.3, -0.5]), torch.tensor([2, 2, 0, 2]), n_slots=4)
    assert scores.tolist() == pytest.approx([0.3, float("-inf"), 0.9, float("-inf")])


def test_cosine_router_scores_are_head_mean_cosines() -> None:
    router = _router(cosine=True)
    hidden_q, hidden_k = torch.randn(1, 24), torch.randn(1, 24)
    score = float(router.router_queries(0, hidden_q) @ router.router_keys(0, hidden_k).T)
    module = router.layer(0)
    q = module.router_q_proj(module.standardise(hidden_q)).view(3, 8)
    k = module.router_k_proj(module.standardise(hidden_k)).view(3, 8)
    expected = torch.nn.functional.cosine_similarity(q, k, dim=-1).mean()
    assert score == pytest.approx(float(expected), rel=1e-5)
    assert -1.0 <= score <= 1.0
