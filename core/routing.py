"""Stage 2: score every stored chunk against a question in each router layer and rank documents.

Combination rule. Each router layer keeps its own top-k documents (MSA's selection). The candidates are
the union of those lists, ranked by the *mean* of their per-layer scores. Every layer's projector is
trained with the same cosine InfoNCE objective and temperature, so its scores share one scale and can be
averaged; the mean (unlike the max) rewards documents that several layers agree on, which suppresses a
single layer's false positive, and restricting to per-layer top-k keeps MSA's per-layer selection.

A layer scores a document by its best chunk (MSA), or, for "late" and "mixed" routers, by late
interaction: the sum over the question's weighted vectors of each one's best chunk in the document.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from memsa.kernels.maxsim import maxsim_scores

from .decoder import Decoder
from .memory.records import RouterKeyMatrix
from .router import LATE_REDUCTIONS, RouterProjectors


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
                         block_rows: int | None = None) -> torch.Tensor:
    """Late-interaction scores, ``score[d] = sum_t max_{c in d} <queries[t], keys[c]>``, streamed over keys.

    A document's rows lie together in a bank, so maxima are taken over runs of equal doc ids, then the
    runs' [Tq, R] maxima merge into documents by a scatter, exact for rows in any order. The keys are
    walked in blocks (see :func:`cpu_run_maxima` and :func:`device_run_maxima`), so no [Tq, C] similarity
    matrix ever exists: on CPU a batch of [Tq, block_rows] blocks (1.2 MiB), on GPU one block.

    Args:
        queries: [Tq, D] weighted question vectors (``RouterProjectors.router_queries``).
        keys: [C, D] router keys; doc_ids: [C] int64 document of each key row.
        n_slots: one more than the largest doc id.
        block_rows: key rows per block; None: :data:`CPU_BLOCK_ROWS` or :data:`DEVICE_BLOCK_ROWS`.

    Returns:
        [n_slots] float32, -inf for ids without chunks.
    """
    q = queries.detach().to(device=keys.device, dtype=torch.float32)  # [Tq, D]; scores are never trained
    run_docs, run_lengths = torch.unique_consecutive(doc_ids, return_counts=True)  # [R], [R]
    run_starts = (run_lengths.cumsum(0) - run_lengths).cpu().numpy()
    if keys.device.type == "cpu":
        run_best = torch.from_numpy(cpu_run_maxima(q, keys, run_starts, block_rows or CPU_BLOCK_ROWS))
    else:
        run_best = device_run_maxima(q, keys, run_starts, block_rows or DEVICE_BLOCK_ROWS)
    per_token = torch.full((q.shape[0], n_slots), float("-inf"), dtype=torch.float32, device=keys.device)
    per_token.scatter_reduce_(1, run_docs.view(1, -1).expand_as(run_best), run_best, reduce="amax")
    return per_token.sum(dim=0)


CPU_BLOCK_ROWS = 1024
"""Key rows per block on CPU: a block's [Tq, rows] product stays in L2 cache for the reduction after it."""
CPU_BATCH = 16
"""Blocks per batched product on CPU: one ``torch.bmm`` call shares them among the threads, where a
single small product per call leaves threads waiting at every call, badly when other work takes a core."""
DEVICE_BLOCK_ROWS = 1 << 18
"""Key rows per block on GPU: 18 question vectors make an 18 MiB block, few launches."""


def cpu_run_maxima(q: torch.Tensor, keys: torch.Tensor, run_starts: np.ndarray, block_rows: int,
                   batch: int = CPU_BATCH) -> np.ndarray:
    """Each question vector's best dot product with each run of rows, on CPU.

    The product ``q @ block.T`` ([Tq, rows], one contiguous row per question vector) is the cost: Tq x D
    multiply-adds per key row, where a single pooled vector reads each row once. The segment max is then
    one ``numpy.maximum.reduceat`` pass per question vector, and every per-block step stays in numpy,
    whose calls cost microseconds where small torch indexing ops cost tens.

    Args:
        q: [Tq, D] float32; keys: [C, D] on CPU.
        run_starts: [R] int64, first row of each run, ascending, the first 0.
        block_rows: key rows per block (>= 1); batch: blocks per batched product (>= 1).

    Returns:
        [Tq, R] float32.
    """
    best = np.full((q.shape[0], len(run_starts)), -np.inf, dtype=np.float32)
    buffer = torch.empty(batch, q.shape[0], block_rows, dtype=torch.float32)
    for group_start in range(0, keys.shape[0], batch * block_rows):
        for start, similarity in _cpu_similarities(q, keys, group_start, buffer):
            first, last, offsets = _runs_in_block(run_starts, start, similarity.shape[1])
            merged = best[:, first:last]
            np.maximum(merged, np.maximum.reduceat(similarity, offsets, axis=1), out=merged)
    return best


def _cpu_similarities(q: torch.Tensor, keys: torch.Tensor, start: int, buffer: torch.Tensor
                      ) -> list[tuple[int, np.ndarray]]:
    """(first row, [Tq, rows] products) of up to ``buffer.shape[0]`` blocks of keys from row ``start``.

    Whole blocks go through one ``torch.bmm`` into ``buffer`` ([batch, Tq, block_rows]); rows short of a
    whole block at the end of the keys get their own product.
    """
    batch, _, block_rows = buffer.shape
    rows = min(batch * block_rows, keys.shape[0] - start)
    whole = rows // block_rows
    products = []
    if whole:
        group = keys[start:start + whole * block_rows].to(torch.float32).view(whole, block_rows, -1)
        torch.bmm(q.expand(whole, -1, -1), group.transpose(1, 2), out=buffer[:whole])
        products = [(start + index * block_rows, buffer[index].numpy()) for index in range(whole)]
    if rows > whole * block_rows:
        tail = keys[start + whole * block_rows:start + rows].to(torch.float32)  # [rows, D]
        products.append((start + whole * block_rows, (q @ tail.T).numpy()))
    return products


def device_run_maxima(q: torch.Tensor, keys: torch.Tensor, run_starts: np.ndarray, block_rows: int
                      ) -> torch.Tensor:
    """:func:`cpu_run_maxima` on any device, by ``torch.segment_reduce`` over each [rows, Tq] block.

    Returns:
        [Tq, R] float32 on the keys' device.
    """
    best = torch.full((len(run_starts), q.shape[0]), float("-inf"), dtype=torch.float32, device=keys.device)
    for start in range(0, keys.shape[0], block_rows):
        similarity = keys[start:start + block_rows].to(torch.float32) @ q.T  # [rows, Tq]
        first, last, offsets = _runs_in_block(run_starts, start, similarity.shape[0])
        lengths = torch.from_numpy(np.diff(offsets, append=similarity.shape[0])).to(keys.device)
        runs_best = torch.segment_reduce(similarity, "max", lengths=lengths, axis=0)  # [runs, Tq]
        best[first:last] = torch.maximum(best[first:last], runs_best)
    return best.T


def _runs_in_block(run_starts: np.ndarray, start: int, rows: int) -> tuple[int, int, np.ndarray]:
    """Runs [first, last) that meet rows [start, start + rows), and their offsets in the block ([runs],
    the first 0: a run cut by the block's start counts from there, and is merged by a maximum)."""
    first = int(np.searchsorted(run_starts, start, side="right")) - 1
    last = int(np.searchsorted(run_starts, start + rows))
    offsets = run_starts[first:last] - start
    offsets[0] = 0
    return first, last, offsets


def layer_document_scores(router: RouterProjectors, queries: torch.Tensor, matrix: RouterKeyMatrix,
                          n_slots: int) -> torch.Tensor:
    """One router layer's document scores [n_slots] (-inf for ids without chunks).

    Args:
        queries: [Tq', D_r] the layer's ``router.router_queries`` of the question.

    Returns:
        the best chunk's max-sim, or the late-interaction score for "late" and "mixed" routers.
    """
    if router.spec.query_reduction in LATE_REDUCTIONS:
        return late_document_scores(queries, matrix.keys, matrix.doc_ids, n_slots)
    return document_scores(maxsim_scores(queries, matrix.keys), matrix.doc_ids, n_slots)


@torch.inference_mode()
def route(
    router: RouterProjectors,
    states: dict[int, torch.Tensor],
    router_keys: Callable[[int], RouterKeyMatrix],
    top_k: int,
    include: Collection[int] = (),
) -> list[RoutedDocument]:
    """Rank documents for a question.

    Scoring is exact and streamed: the max-sim kernel (or the late-interaction loop) walks the chunk
    rows in blocks, so no [question tokens x chunks x heads] tensor ever exists.

    Args:
        router: projectors of every router layer.
        states: layer -> [Tq, hidden] question states (see :func:`question_states`).
        router_keys: layer -> the bank's live router-key rows.
        top_k: documents each layer selects, and the length of the ranking returned.
        include: documents to score as well wherever they rank (the exact-words index's finds, which
            ``lexical.fuse`` then ranks by their true routing scores).

    Returns:
        Up to ``top_k`` documents, best first, then those of ``include`` outside them that have router
        rows, best first.
    """
    layers = router.spec.layers
    matrices = {layer: router_keys(layer) for layer in layers}
    if any(matrix.keys.shape[0] == 0 for matrix in matrices.values()):
        return []
    n_slots = int(max(int(matrix.doc_ids.max()) for matrix in matrices.values())) + 1
    queries = {layer: router.router_queries(layer, states[layer]).to(matrices[layer].keys.device)
               for layer in layers}
    per_layer = {layer: layer_document_scores(router, queries[layer], matrices[layer], n_slots) for layer in layers}
    candidates: set[int] = set()
    for layer in layers:
        k = min(top_k, int(torch.isfinite(per_layer[layer]).sum()))
        candidates.update(per_layer[layer].topk(k).indices.tolist())
    ranked = sorted(candidates, key=lambda doc: -sum(float(per_layer[layer][doc]) for layer in layers))
    combined = torch.stack([per_layer[layer] for layer in layers]).mean(dim=0)
    background = float(combined[torch.isfinite(combined)].median())
    chosen = ranked[:top_k]
    extra = {doc for doc in include if 0 <= doc < n_slots and bool(torch.isfinite(combined[doc]))} - set(chosen)
    chosen += sorted(extra, key=lambda doc: -float(combined[doc]))
    layer_scores = {doc_id: {layer: float(per_layer[layer][doc_id]) for layer in layers} for doc_id in chosen}
    best_layers = {doc_id: max(scores, key=scores.__getitem__) for doc_id, scores in layer_scores.items()}
    best_chunks = _best_chunks(router, queries, matrices, best_layers)
    return [
        RoutedDocument(
            doc_id=doc_id,
            score=sum(layer_scores[doc_id].values()) / len(layers),
            layer_scores=layer_scores[doc_id],
            best_chunk=best_chunks[doc_id],
            relative_score=sum(layer_scores[doc_id].values()) / len(layers) - background,
        )
        for doc_id in chosen
    ]


def _best_chunks(router: RouterProjectors, queries: dict[int, torch.Tensor], matrices: dict[int, RouterKeyMatrix],
                 best_layers: dict[int, int]) -> dict[int, int]:
    """doc id -> chunk index of its best chunk in its best layer: by max-sim, or for late interaction by
    the sum of the question vectors (the chunk that matches the question as a whole best).

    One pass over each layer's doc ids finds the rows of all the documents that layer serves.
    """
    found: dict[int, int] = {}
    for layer in set(best_layers.values()):
        docs = torch.tensor([doc for doc, best in best_layers.items() if best == layer],
                            device=matrices[layer].doc_ids.device)
        matrix = matrices[layer]
        rows = torch.isin(matrix.doc_ids, docs).nonzero().flatten()
        layer_queries = queries[layer]
        if router.spec.query_reduction in LATE_REDUCTIONS:
            layer_queries = layer_queries.sum(dim=0, keepdim=True)
        chunk_scores = (matrix.keys[rows].float() @ layer_queries.T).amax(dim=1)
        for doc in docs.tolist():
            own = rows[matrix.doc_ids[rows] == doc]
            found[doc] = int(matrix.chunk_index[own[chunk_scores[matrix.doc_ids[rows] == doc].argmax()]])
    return found


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
        if spec.query_reduction in LATE_REDUCTIONS:
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
