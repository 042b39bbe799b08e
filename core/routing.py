"""Stage 2: score every stored chunk against a question in each router layer and rank documents.

Combination rule. Each router layer keeps its own top-k documents (MSA's selection). The candidates are
the union of those lists, ranked by the *mean* of their per-layer scores. Every layer's projector is
trained with the same cosine InfoNCE objective and temperature, so its scores share one scale and can be
averaged; the mean (unlike the max) rewards documents that several layers agree on, which suppresses a
single layer's false positive, and restricting to per-layer top-k keeps MSA's per-layer selection.

A layer scores a document by its best chunk (MSA), or, for "late" routers, by late interaction: the sum
over the question's weighted token vectors of each one's best chunk in the document.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from memsa.kernels.maxsim import maxsim_scores

from .decoder import Decoder
from .memory.records import RouterKeyMatrix
from .router import RouterProjectors


@dataclass(frozen=True)
class RoutedDocument:
    """A document chosen by routing.

    Attributes:
        doc_id: the bank's document id.
        score: combined score (mean over router layers).
        layer_scores: router layer -> the document's score in that layer (max over its chunks).
        best_chunk: router-chunk index, within the document, of its best chunk in its best layer.
        relative_score: ``score`` minus the median combined score of all documents for this question;
            how far the document stands out from the bank (the abstention rule uses it).
    """

    doc_id: int
    score: float
    layer_scores: dict[int, float]
    best_chunk: int
    relative_score: float


def question_states(
    decoder: Decoder, tokenizer: object, question: str, layers: Sequence[int]
) -> dict[int, torch.Tensor]:
    """Normed router-layer inputs of the question's tokens, encoded alone from position 0.

    Returns:
        layer -> [Tq, hidden].
    """
    ids = tokenizer(question, add_special_tokens=False, return_tensors="pt")["input_ids"]  # type: ignore[operator]
    captured = decoder.capture(ids, layers)
    return {layer: capture.normed_input[0] for layer, capture in captured.items()}


def document_scores(chunk_scores: torch.Tensor, doc_ids: torch.Tensor, n_slots: int) -> torch.Tensor:
    """Max over each document's chunks.

    Args:
        chunk_scores: [C] float32; doc_ids: [C] int64.
        n_slots: one more than the largest doc id.

    Returns:
        [n_slots] float32, -inf for ids without chunks.
    """
    scores = torch.full((n_slots,), float("-inf"), dtype=torch.float32, device=chunk_scores.device)
    return scores.scatter_reduce(0, doc_ids, chunk_scores.float(), reduce="amax")


def late_document_scores(queries: torch.Tensor, keys: torch.Tensor, doc_ids: torch.Tensor, n_slots: int,
                         block_rows: int = 16384) -> torch.Tensor:
    """Late-interaction scores, ``score[d] = sum_t max_{c in d} <queries[t], keys[c]>``, streamed over keys.

    Only a [block_rows, Tq] similarity block and the [n_slots, Tq] per-document maxima exist at once. A
    document's chunk rows usually lie together, so each block is first reduced over its runs of equal doc
    ids (a segment max) and only the runs' maxima are scattered into the per-document table.

    Args:
        queries: [Tq, D] weighted question-token vectors (``RouterProjectors.router_queries``).
        keys: [C, D] router keys; doc_ids: [C] int64 document of each key row.
        n_slots: one more than the largest doc id.

    Returns:
        [n_slots] float32, -inf for ids without chunks.
    """
    q = queries.to(device=keys.device, dtype=torch.float32)  # [Tq, D]
    per_token = torch.full((n_slots, q.shape[0]), float("-inf"), dtype=torch.float32, device=keys.device)
    for start in range(0, keys.shape[0], block_rows):
        similarity = keys[start:start + block_rows].to(torch.float32) @ q.T  # [rows, Tq]
        run_docs, run_lengths = torch.unique_consecutive(doc_ids[start:start + similarity.shape[0]],
                                                         return_counts=True)
        run_best = torch.segment_reduce(similarity, "max", lengths=run_lengths, axis=0)  # [runs, Tq]
        per_token.scatter_reduce_(0, run_docs.view(-1, 1).expand_as(run_best), run_best, reduce="amax")
    return per_token.sum(dim=1)


def layer_document_scores(router: RouterProjectors, layer: int, states: torch.Tensor, matrix: RouterKeyMatrix,
                          n_slots: int) -> torch.Tensor:
    """One router layer's document scores [n_slots] (-inf for ids without chunks) for question
    ``states: [Tq, hidden]``: the best chunk's max-sim, or the late-interaction score for "late" routers."""
    queries = router.router_queries(layer, states).to(matrix.keys.device)
    if router.spec.query_reduction == "late":
        return late_document_scores(queries, matrix.keys, matrix.doc_ids, n_slots)
    return document_scores(maxsim_scores(queries, matrix.keys), matrix.doc_ids, n_slots)


@torch.inference_mode()
def route(
    router: RouterProjectors,
    states: dict[int, torch.Tensor],
    router_keys: Callable[[int], RouterKeyMatrix],
    top_k: int,
) -> list[RoutedDocument]:
    """Rank documents for a question.

    Scoring is exact and streamed: the max-sim kernel (or the late-interaction loop) walks the chunk
    rows in blocks, so no [question tokens x chunks x heads] tensor ever exists.

    Args:
        router: projectors of every router layer.
        states: layer -> [Tq, hidden] question states (see :func:`question_states`).
        router_keys: layer -> the bank's live router-key rows.
        top_k: documents each layer selects, and the length of the returned list.

    Returns:
        Up to ``top_k`` documents, best first.
    """
    layers = router.spec.layers
    matrices = {layer: router_keys(layer) for layer in layers}
    if any(matrix.keys.shape[0] == 0 for matrix in matrices.values()):
        return []
    n_slots = int(max(int(matrix.doc_ids.max()) for matrix in matrices.values())) + 1
    per_layer = {layer: layer_document_scores(router, layer, states[layer], matrices[layer], n_slots)
                 for layer in layers}
    candidates: set[int] = set()
    for layer in layers:
        k = min(top_k, int(torch.isfinite(per_layer[layer]).sum()))
        candidates.update(per_layer[layer].topk(k).indices.tolist())
    ranked = sorted(candidates, key=lambda doc: -sum(float(per_layer[layer][doc]) for layer in layers))
    combined = torch.stack([per_layer[layer] for layer in layers]).mean(dim=0)
    background = float(combined[torch.isfinite(combined)].median())
    routed = []
    for doc_id in ranked[:top_k]:
        layer_scores = {layer: float(per_layer[layer][doc_id]) for layer in layers}
        best_layer = max(layer_scores, key=layer_scores.__getitem__)
        score = sum(layer_scores.values()) / len(layers)
        routed.append(
            RoutedDocument(
                doc_id=doc_id,
                score=score,
                layer_scores=layer_scores,
                best_chunk=_best_chunk(router, best_layer, states[best_layer], matrices[best_layer], doc_id),
                relative_score=score - background,
            )
        )
    return routed


def _best_chunk(router: RouterProjectors, layer: int, states: torch.Tensor, matrix: RouterKeyMatrix,
                doc_id: int) -> int:
    """Chunk index of the document's best chunk in ``layer``: by max-sim, or for "late" routers by the
    sum of the weighted token vectors (the chunk that matches the question as a whole best)."""
    rows = (matrix.doc_ids == doc_id).nonzero().flatten()
    queries = router.router_queries(layer, states).to(matrix.keys.device)
    if router.spec.query_reduction == "late":
        queries = queries.sum(dim=0, keepdim=True)
    chunk_scores = (matrix.keys[rows].float() @ queries.T).amax(dim=1)
    return int(matrix.chunk_index[rows[chunk_scores.argmax()]])


@torch.inference_mode()
def route_reference(
    router: RouterProjectors,
    states: dict[int, torch.Tensor],
    router_keys: Callable[[int], RouterKeyMatrix],
    top_k: int,
) -> list[tuple[int, float]]:
    """Slow brute-force routing for tests: explicit per-head scores, per-document loops.

    Returns:
        (doc_id, combined score) of the top ``top_k`` documents by the same combination rule.
    """
    spec = router.spec
    per_layer: list[dict[int, float]] = []
    for layer in spec.layers:
        matrix = router_keys(layer)
        queries = router.router_queries(layer, states[layer]) * spec.n_heads
        q_heads = queries.view(-1, spec.n_heads, spec.head_dim)
        k_heads = matrix.keys.view(-1, spec.n_heads, spec.head_dim)
        full = torch.einsum("thd,chd->tch", q_heads, k_heads).mean(dim=2)  # [Tq, C, H] -> head-mean
        scores: dict[int, float] = {}
        if spec.query_reduction == "late":
            for doc in set(matrix.doc_ids.tolist()):
                rows = (matrix.doc_ids == doc).nonzero().flatten()
                scores[doc] = float(sum(float(full[token, rows].max()) for token in range(full.shape[0])))
        else:
            chunk_best = full.max(dim=0).values
            for row, doc in enumerate(matrix.doc_ids.tolist()):
                scores[doc] = max(scores.get(doc, float("-inf")), float(chunk_best[row]))
        per_layer.append(scores)
    candidates: set[int] = set()
    for scores in per_layer:
        candidates.update(sorted(scores, key=lambda doc: -scores[doc])[:top_k])
    combined = {doc: sum(scores[doc] for scores in per_layer) / len(per_layer) for doc in candidates}
    return sorted(combined.items(), key=lambda item: -item[1])[:top_k]
