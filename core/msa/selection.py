"""Per-layer document selection for sparse generation, and the memory it reads from.

Each router layer scores every stored chunk with the router queries of the question's QUERY tokens as the
question flows through *that* layer (so a layer's choice can depend on the memory read by the router
layers below it, as in the reference) and keeps its own top-k documents. The fast path is one max-sim
product per layer; the reference path spells the MSA score out head by head and document by document.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import torch

from memsa.kernels.maxsim import maxsim_scores

from ..decoder import DecoderShape
from ..memory.records import RouterKeyMatrix
from ..router import RouterProjectors
from ..routing import document_scores
from .router import MsaRouter


class MemorySource(Protocol):
    """What sparse generation reads: the bank's router keys and one document's pooled keys/values.

    ``memsa.core.memory.bank.MemoryBank`` is one; benchmarks use an in-memory one.
    """

    def router_keys(self, layer: int) -> RouterKeyMatrix:
        """keys [C, D_r], doc_ids [C], chunk_index [C] of every live router-key row of ``layer``."""
        ...

    def pooled_kv(self, layer: int, doc_id: int) -> tuple[torch.Tensor, torch.Tensor]:
        """K̄, V̄ of one document in ``layer``: ([C_doc, H_kv * d], [C_doc, H_kv * d])."""
        ...


@dataclass(frozen=True)
class LayerSelection:
    """The documents one router layer reads.

    Attributes:
        layer: the router layer.
        doc_ids: selected documents, best first.
        scores: their MSA scores (max over chunks and question tokens), in the same order.
    """

    layer: int
    doc_ids: tuple[int, ...]
    scores: tuple[float, ...]

    @property
    def layout(self) -> tuple[int, ...]:
        """The order the documents' chunks take in the key/value sequence: ascending document id.

        K̄ already carries document-local RoPE and memory slots are not causal among themselves, so the
        order does not change attention; fixing it makes the fast and reference paths add up alike.
        """
        return tuple(sorted(self.doc_ids))


@torch.inference_mode()
def select_documents(router: RouterProjectors, layer: int, query_states: torch.Tensor, matrix: RouterKeyMatrix,
                     top_k: int) -> LayerSelection:
    """Top-k documents of ``layer`` for question states ``query_states: [Tq, hidden]`` (fast path)."""
    if matrix.keys.shape[0] == 0:
        return LayerSelection(layer, (), ())
    queries = router.router_queries(layer, query_states).to(matrix.keys.device)
    chunk_scores = maxsim_scores(queries, matrix.keys)
    n_slots = int(matrix.doc_ids.max()) + 1
    per_document = document_scores(chunk_scores, matrix.doc_ids.to(chunk_scores.device), n_slots)
    k = min(top_k, int(torch.isfinite(per_document).sum()))
    # A stable sort, not topk: equal scores (the same text stored twice) go to the lower document id,
    # so the choice is deterministic and the same as the reference's.
    scores, doc_ids = per_document.sort(descending=True, stable=True)
    return LayerSelection(layer, tuple(doc_ids[:k].tolist()), tuple(scores[:k].tolist()))


@torch.inference_mode()
def select_documents_reference(router: MsaRouter, layer: int, query_states: torch.Tensor,
                               matrix: RouterKeyMatrix, top_k: int) -> LayerSelection:
    """The same choice, computed as the reference defines it: per query head, per chunk, per document.

    score(chunk) = max over tokens of mean over query heads h of <q_h, k_{h // group}> (both normalised
    per head when cosine, else times d ** -0.5); score(document) = max over its chunks.
    """
    spec = router.spec
    projection = router.layer(layer).router_q_proj
    heads = projection(query_states.to(projection.weight.dtype)).float().view(-1, router.query_heads, spec.head_dim)
    keys = matrix.keys.float().cpu().view(-1, spec.n_heads, spec.head_dim)  # stored normalised when cosine
    if spec.cosine:
        heads = torch.nn.functional.normalize(heads, dim=-1)
    group = router.query_heads // spec.n_heads
    kv_of_head = torch.arange(router.query_heads) // group
    per_head = torch.einsum("thd,chd->tch", heads.cpu(), keys[:, kv_of_head])  # [Tq, C, H]
    if not spec.cosine:
        per_head = per_head * spec.head_dim**-0.5
    chunk_scores = per_head.mean(dim=2).max(dim=0).values
    best: dict[int, float] = {}
    for row, doc_id in enumerate(matrix.doc_ids.tolist()):
        best[doc_id] = max(best.get(doc_id, float("-inf")), float(chunk_scores[row]))
    ranked = sorted(best.items(), key=lambda item: (-item[1], item[0]))[:top_k]
    return LayerSelection(layer, tuple(doc for doc, _ in ranked), tuple(score for _, score in ranked))


def gather_memory(memory: MemorySource, selection: LayerSelection, shape: DecoderShape, device: torch.device,
                  dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """K̄ and V̄ of the selected documents, in layout order, as attention keys/values.

    Returns:
        ([1, H_kv, C_sel, d], [1, H_kv, C_sel, d]) on ``device`` in ``dtype``.
    """
    pairs = [memory.pooled_kv(selection.layer, doc_id) for doc_id in selection.layout]
    if not pairs:
        empty = torch.zeros(1, shape.n_kv_heads, 0, shape.head_dim, device=device, dtype=dtype)
        return empty, empty
    keys = torch.cat([pair[0] for pair in pairs]).to(device=device, dtype=dtype)
    values = torch.cat([pair[1] for pair in pairs]).to(device=device, dtype=dtype)
    return _as_heads(keys, shape.n_kv_heads), _as_heads(values, shape.n_kv_heads)


def _as_heads(rows: torch.Tensor, n_kv_heads: int) -> torch.Tensor:
    """``[C, H_kv * d]`` -> ``[1, H_kv, C, d]``."""
    return rows.view(rows.shape[0], n_kv_heads, -1).transpose(0, 1).unsqueeze(0)
