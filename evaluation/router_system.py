"""The memsa router as an evaluated system, scored from cached router-layer inputs (no model run): each
router layer alone, the router's combined ranking (``memsa.core.routing.route``), and the product's
ranking, that one fused with the exact-words index (``memsa.core.lexical``), as ``MemoryEngine.retrieve``
does."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from memsa.core.abstention import BAR_ONLY, DEFAULT_ABSTENTION, AbstentionConfig, abstains, weak_lead
from memsa.core.errors import InvalidInput
from memsa.core.lexical import DEFAULT_FUSION, FusionConfig, Matches, fused_ranking
from memsa.core.memory.records import RouterKeyMatrix
from memsa.core.router import RouterProjectors
from memsa.core.routing import RoutedDocument, layer_document_scores, route

from .benchmark import Query, SystemRun
from .rereading import BenchmarkRereader
from .state_store import GatheredRows, StateStore


@dataclass(frozen=True)
class CachedInputs:
    """A benchmark's cached router-layer inputs.

    Attributes:
        documents: store of document rows pooled over ``pool_tokens``.
        questions: store of per-token question rows.
        document_keys: cache key of each document, doc_id order.
        question_keys: cache key of each question, query order.
        pool_tokens: P_b of the document rows.
    """

    documents: StateStore
    questions: StateStore
    document_keys: list[str]
    question_keys: list[str]
    pool_tokens: int


def regroup(gathered: GatheredRows, base: int, target: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Merge rows pooled over ``base`` tokens into rows pooled over ``target`` tokens, exactly.

    A document's last base row averages fewer tokens, so rows are weighted by their token counts.

    Returns:
        pooled: [C_t, hidden] float32; doc_ids: [C_t] int64 (position in the gathered order);
        chunk_index: [C_t] int64, the chunk's number within its document.

    Raises:
        InvalidInput: ``target`` is not a multiple of ``base``.
    """
    if target % base:
        raise InvalidInput(f"router chunks of {target} tokens cannot be built from cached chunks of {base}")
    factor = target // base
    counts, n_tokens = gathered.counts, gathered.n_tokens
    n_docs = counts.shape[0]
    base_doc = torch.repeat_interleave(torch.arange(n_docs), counts)
    base_start = torch.cumsum(counts, 0) - counts
    local = torch.arange(base_doc.shape[0]) - base_start[base_doc]
    weights = torch.full((base_doc.shape[0],), float(base))
    last = base_start + counts - 1
    weights[last] = (n_tokens - (counts - 1) * base).float()
    target_counts = (counts + factor - 1) // factor
    target_start = torch.cumsum(target_counts, 0) - target_counts
    group = target_start[base_doc] + local // factor
    total = int(target_counts.sum())
    sums = torch.zeros(total, gathered.rows.shape[1]).index_add_(0, group, gathered.rows.float() * weights[:, None])
    token_totals = torch.zeros(total).index_add_(0, group, weights)
    doc_ids = torch.repeat_interleave(torch.arange(n_docs), target_counts)
    chunk_index = torch.arange(total) - target_start[doc_ids]
    return sums / token_totals[:, None], doc_ids, chunk_index


@torch.inference_mode()
def router_key_matrices(router: RouterProjectors, inputs: CachedInputs, device: str,
                        block: int = 65536) -> dict[int, RouterKeyMatrix]:
    """Router keys of every document in every router layer, as the bank would hold them."""
    matrices = {}
    for layer in router.spec.layers:
        pooled, doc_ids, chunk_index = regroup(inputs.documents.gather(inputs.document_keys, layer),
                                               inputs.pool_tokens, router.spec.router_chunk_tokens)
        keys = torch.cat([
            router.router_keys(layer, pooled[start : start + block].to(device))
            for start in range(0, pooled.shape[0], block)
        ])
        matrices[layer] = RouterKeyMatrix(keys.contiguous(), doc_ids.to(device), chunk_index.to(device))
    return matrices


def question_states(inputs: CachedInputs, layers: Sequence[int], device: str) -> list[dict[int, torch.Tensor]]:
    """Per question: layer -> [Tq, hidden] float32 states, as ``memsa.core.routing.question_states`` gives."""
    states: list[dict[int, torch.Tensor]] = [{} for _ in inputs.question_keys]
    for layer in layers:
        gathered = inputs.questions.gather(inputs.question_keys, layer)
        pieces = gathered.rows.float().to(device).split(gathered.counts.tolist())
        for index, piece in enumerate(pieces):
            states[index][layer] = piece
    return states


@torch.inference_mode()
def run_router(router: RouterProjectors, inputs: CachedInputs, queries: Sequence[Query], top_k: int,
               device: str = "cpu", matches: Matches | None = None,
               fusion: FusionConfig = DEFAULT_FUSION,
               abstention: AbstentionConfig = DEFAULT_ABSTENTION,
               reread: BenchmarkRereader | None = None) -> list[SystemRun]:
    """Rank documents for every query: one run per router layer, the combined ``route`` ranking ("memsa
    router"), and, given the benchmark's exact-words index ``matches``, the product's fused ranking ("memsa");
    given ``reread`` too, the fused ranking is "memsa fused" and "memsa" is it re-read (``rereading.py``).

    "memsa router" abstains on a query when its best document's relative score is under the router's
    abstention bar; "memsa" abstains as the engine does before asking the model
    (``memsa.core.abstention.abstains`` on the fused ranking).
    """
    router = router.to(device)
    matrices = router_key_matrices(router, inputs, device)
    states = question_states(inputs, router.spec.layers, device)
    n_docs = len(inputs.document_keys)
    index_seconds = inputs.documents.seconds(inputs.document_keys)
    index_tokens = int(inputs.documents.gather(inputs.document_keys, router.spec.layers[0]).n_tokens.sum())
    question_seconds = [inputs.questions.seconds([key]) for key in inputs.question_keys]
    runs = []
    for layer in router.spec.layers:
        rankings, elapsed = {}, 0.0
        for query, state in zip(queries, states, strict=True):
            began = time.perf_counter()
            documents = layer_document_scores(router, router.router_queries(layer, state[layer]), matrices[layer],
                                              n_docs)
            rankings[query.qid] = documents.topk(min(top_k, n_docs)).indices.tolist()
            elapsed += time.perf_counter() - began
        runs.append(SystemRun(f"memsa layer {layer}", rankings, index_seconds=index_seconds,
                              index_tokens=index_tokens, query_ms=_mean_ms(elapsed, question_seconds)))
    routed_lists, elapsed = [], 0.0
    for state in states:
        began = time.perf_counter()
        routed_lists.append(route(router, state, matrices.__getitem__, top_k))
        elapsed += time.perf_counter() - began
    runs.append(_combined_run("memsa router", router, queries, routed_lists, index_seconds, index_tokens,
                              _mean_ms(elapsed, question_seconds)))
    if matches is not None:
        fused_lists, abstained, elapsed = [], {}, 0.0
        for query, state in zip(queries, states, strict=True):
            began = time.perf_counter()
            fused = fused_ranking(router, state, matrices.__getitem__, matches, query.question, top_k, fusion)
            elapsed += time.perf_counter() - began
            fused_lists.append(fused)
            abstained[query.qid] = abstains(query.question, fused, matches, router.spec.abstain_below, abstention)
        if reread is None:
            runs.append(_combined_run("memsa", router, queries, fused_lists, index_seconds, index_tokens,
                                      _mean_ms(elapsed, question_seconds), abstained))
            return runs
        runs.append(_combined_run("memsa fused", router, queries, fused_lists, index_seconds, index_tokens,
                                  _mean_ms(elapsed, question_seconds), abstained))
        before = reread.seconds
        reread_lists = [reread(query.question, fused) for query, fused in zip(queries, fused_lists, strict=True)]
        # Re-reading keeps each place's score, so the abstention decisions are the fused ranking's.
        runs.append(_combined_run("memsa", router, queries, reread_lists, index_seconds, index_tokens,
                                  _mean_ms(elapsed + reread.seconds - before, question_seconds), abstained))
    return runs


def _combined_run(name: str, router: RouterProjectors, queries: Sequence[Query],
                  ranked: Sequence[Sequence[RoutedDocument]], index_seconds: float, index_tokens: int,
                  query_ms: float, abstained: dict[str, bool] | None = None) -> SystemRun:
    """A ranking per query, abstaining as ``abstained`` says, by default where the best document is under
    the router's bar."""
    rankings = {query.qid: [doc.doc_id for doc in docs] for query, docs in zip(queries, ranked, strict=True)}
    if abstained is None:
        abstained = {query.qid: weak_lead(docs, router.spec.abstain_below, BAR_ONLY)
                     for query, docs in zip(queries, ranked, strict=True)}
    return SystemRun(name, rankings, abstained=abstained, index_seconds=index_seconds, index_tokens=index_tokens,
                     query_ms=query_ms)


def _mean_ms(routing_seconds: float, question_seconds: list[float]) -> float:
    """Mean per-question milliseconds: encoding the question (as recorded in the cache) plus routing."""
    count = max(1, len(question_seconds))
    return 1000 * (routing_seconds + sum(question_seconds)) / count
