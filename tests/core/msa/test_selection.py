"""Per-layer document selection: the folded one-product score equals the MSA score spelled out per head."""

from __future__ import annotations

import pytest
import torch

from memsa.core.memory.records import RouterKeyMatrix
from memsa.core.msa.router import MsaRouter
from memsa.core.msa.selection import LayerSelection, select_documents, select_documents_reference
from memsa.core.router import RouterSpec


def _router(cosine: bool, seed: int = 0) -> MsaRouter:
    torch.manual_seed(seed)
    spec = RouterSpec(layers=(2, 5), hidden_size=24, n_heads=2, head_dim=8, cosine=cosine, router_chunk_tokens=4,
                      model_fingerprint="f" * 64)
    router = MsaRouter(spec, query_heads=6)  # 3 query heads per KV head
    for layer in spec.layers:
        torch.nn.init.normal_(router.layer(layer).router_q_proj.weight)
        torch.nn.init.normal_(router.layer(layer).router_k_proj.weight)
    return router.requires_grad_(False)


def _bank(router: MsaRouter, layer: int, n_docs: int, seed: int) -> RouterKeyMatrix:
    generator = torch.Generator().manual_seed(seed)
    chunks = torch.randint(1, 5, (n_docs,), generator=generator)
    doc_ids = torch.repeat_interleave(torch.arange(3, 3 + 2 * n_docs, 2), chunks)  # sparse, non-zero ids
    pooled_hidden = torch.randn(doc_ids.numel(), 24, generator=generator)
    chunk_index = torch.cat([torch.arange(int(count)) for count in chunks])
    return RouterKeyMatrix(router.router_keys(layer, pooled_hidden), doc_ids, chunk_index)


@pytest.mark.parametrize("cosine", [True, False])
@pytest.mark.parametrize("n_docs", [1, 7, 40])
def test_fast_selection_matches_the_per_head_definition(cosine: bool, n_docs: int) -> None:
    router = _router(cosine)
    matrix = _bank(router, 5, n_docs, seed=n_docs)
    question = torch.randn(9, 24)
    fast = select_documents(router, 5, question, matrix, top_k=4)
    reference = select_documents_reference(router, 5, question, matrix, top_k=4)
    assert fast.doc_ids == reference.doc_ids
    assert len(fast.doc_ids) == min(4, n_docs)
    torch.testing.assert_close(torch.tensor(fast.scores), torch.tensor(reference.scores), rtol=1e-5, atol=1e-5)
    assert list(fast.scores) == sorted(fast.scores, reverse=True)


def test_cosine_scores_are_bounded_and_dot_scores_are_scaled() -> None:
    question = torch.randn(5, 24) * 50
    cosine = select_documents_reference(_router(True), 2, question, _bank(_router(True), 2, 20, 1), top_k=20)
    assert max(abs(score) for score in cosine.scores) <= 1.0 + 1e-6
    dot_router = _router(False)
    matrix = _bank(dot_router, 2, 20, 1)
    scaled = select_documents(dot_router, 2, question, matrix, top_k=1).scores[0]
    heads = dot_router.layer(2).router_q_proj(question).view(5, 6, 8)
    keys = matrix.keys.view(-1, 2, 8)[:, torch.arange(6) // 3]
    unscaled = torch.einsum("thd,chd->tch", heads, keys).mean(dim=2).max()
    assert scaled == pytest.approx(float(unscaled) * 8**-0.5, rel=1e-4)


def test_an_empty_memory_selects_nothing() -> None:
    router = _router(True)
    empty = RouterKeyMatrix(torch.zeros(0, 16), torch.zeros(0, dtype=torch.long), torch.zeros(0, dtype=torch.long))
    assert select_documents(router, 2, torch.randn(3, 24), empty, top_k=4).doc_ids == ()


def test_layout_orders_chunks_by_document_id() -> None:
    assert LayerSelection(layer=2, doc_ids=(9, 3, 5), scores=(0.9, 0.5, 0.1)).layout == (3, 5, 9)


def test_ties_go_to_the_lower_document_id_on_both_paths() -> None:
    router = _router(True)
    keys = router.router_keys(2, torch.randn(3, 24))
    twice = RouterKeyMatrix(torch.cat([keys, keys]), torch.tensor([7, 8, 9, 4, 5, 6]), torch.zeros(6, dtype=torch.long))
    question = torch.randn(4, 24)
    fast = select_documents(router, 2, question, twice, top_k=3)
    reference = select_documents_reference(router, 2, question, twice, top_k=3)
    assert fast.doc_ids == reference.doc_ids
    for rank, doc in enumerate(fast.doc_ids):
        if doc >= 7:  # a second copy is only chosen after its first (documents 4..6 hold the same keys)
            assert doc - 3 in fast.doc_ids[:rank]
