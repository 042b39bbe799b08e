"""Backbone features for router training and measurement: router-layer inputs of queries and passages.

The frozen backbone runs once over every text; router training and every measurement afterwards work on
these cached tensors. Passages are kept as chunk means at a base pool size whose multiples can be derived
exactly (with the chunks' token counts), so one extraction serves several router chunk sizes P_r.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from .decoder import Decoder
from .encoding import length_batches
from .pooling import chunk_mean
from .router import LATE_REDUCTIONS, RouterProjectors


@dataclass
class QueryStates:
    """Router-layer inputs of query tokens, zero-padded.

    Attributes:
        states: layer -> [N, T, hidden] float16.
        mask: [N, T] bool, real tokens.
    """

    states: dict[int, torch.Tensor]
    mask: torch.Tensor

    def subset(self, rows: torch.Tensor) -> QueryStates:
        mask = self.mask[rows]
        width = max(1, int(mask.sum(dim=1).max()))
        return QueryStates({layer: tensor[rows, :width] for layer, tensor in self.states.items()}, mask[:, :width])


@dataclass
class PassageStates:
    """Router-layer inputs of passages as chunk means, zero-padded.

    Attributes:
        states: layer -> [M, C, hidden] float16 chunk means over ``chunk_tokens`` tokens.
        counts: [M, C] int32, tokens in each chunk (0 for padding).
        chunk_tokens: tokens per chunk.
    """

    states: dict[int, torch.Tensor]
    counts: torch.Tensor
    chunk_tokens: int

    @property
    def mask(self) -> torch.Tensor:
        return self.counts > 0

    def pooled(self, chunk_tokens: int) -> PassageStates:
        """The same passages pooled over ``chunk_tokens`` (a multiple of the stored size), exactly."""
        if chunk_tokens == self.chunk_tokens:
            return self
        if chunk_tokens % self.chunk_tokens:
            raise ValueError(f"cannot pool {self.chunk_tokens}-token chunks into {chunk_tokens}-token ones")
        factor = chunk_tokens // self.chunk_tokens
        n, c = self.counts.shape
        padded = math.ceil(c / factor) * factor
        counts = torch.zeros(n, padded, dtype=torch.float32, device=self.counts.device)
        counts[:, :c] = self.counts.float()
        grouped_counts = counts.view(n, -1, factor)
        states = {}
        for layer, tensor in self.states.items():
            sums = torch.zeros(n, padded, tensor.shape[-1], device=tensor.device)
            sums[:, :c] = tensor.float() * counts[:, :c, None]
            total = sums.view(n, -1, factor, tensor.shape[-1]).sum(dim=2)
            states[layer] = (total / grouped_counts.sum(dim=2).clamp_min(1.0)[..., None]).half()
        return PassageStates(states, grouped_counts.sum(dim=2).int(), chunk_tokens)

    def subset(self, rows: torch.Tensor) -> PassageStates:
        counts = self.counts[rows]
        width = max(1, int((counts > 0).sum(dim=1).max()))
        return PassageStates({layer: tensor[rows, :width] for layer, tensor in self.states.items()},
                             counts[:, :width], self.chunk_tokens)


def token_ids(tokenizer: object, texts: Sequence[str], limit: int) -> list[list[int]]:
    """Token ids of each text, at most ``limit``; an empty text gets one pad token."""
    encoded = tokenizer(list(texts), add_special_tokens=False)["input_ids"]  # type: ignore[operator]
    return [list(ids[:limit]) or [0] for ids in encoded]


def _run(decoder: Decoder, sequences: list[list[int]], layers: Sequence[int],
         keep: Callable[[list[int], dict[int, torch.Tensor], int], None],
         progress: Callable[[int], None] | None) -> None:
    """Run the backbone over length-sorted batches; ``keep(rows, layer -> [B, T, hidden], T)`` stores them."""
    for batch in length_batches([len(ids) for ids in sequences], 16384):
        longest = max(len(sequences[i]) for i in batch)
        input_ids = torch.zeros(len(batch), longest, dtype=torch.long)
        for row, index in enumerate(batch):
            input_ids[row, : len(sequences[index])] = torch.tensor(sequences[index])
        captured = decoder.capture(input_ids, layers)
        keep(batch, {layer: capture.normed_input for layer, capture in captured.items()}, longest)
        if progress is not None:
            progress(sum(len(sequences[i]) for i in batch))


def query_states(decoder: Decoder, sequences: list[list[int]], layers: Sequence[int],
                 progress: Callable[[int], None] | None = None) -> QueryStates:
    """Per-token router-layer inputs of queries."""
    width = max(map(len, sequences))
    hidden = decoder.shape.hidden_size
    states = {layer: torch.zeros(len(sequences), width, hidden, dtype=torch.float16, device=decoder.device)
              for layer in layers}
    lengths = torch.tensor([len(ids) for ids in sequences], device=decoder.device)
    mask = torch.arange(width, device=decoder.device)[None, :] < lengths[:, None]

    def keep(rows: list[int], captured: dict[int, torch.Tensor], longest: int) -> None:
        index = torch.tensor(rows, device=decoder.device)
        for layer, normed in captured.items():
            states[layer][index, :longest] = normed.half() * mask[index, :longest, None]

    _run(decoder, sequences, layers, keep, progress)
    return QueryStates(states, mask)


def passage_states(decoder: Decoder, sequences: list[list[int]], layers: Sequence[int], chunk_tokens: int,
                   progress: Callable[[int], None] | None = None) -> PassageStates:
    """Chunk-mean router-layer inputs of passages, each encoded alone from position 0."""
    width = math.ceil(max(map(len, sequences)) / chunk_tokens)
    hidden = decoder.shape.hidden_size
    states = {layer: torch.zeros(len(sequences), width, hidden, dtype=torch.float16, device=decoder.device)
              for layer in layers}
    counts = torch.zeros(len(sequences), width, dtype=torch.int32, device=decoder.device)
    for index, ids in enumerate(sequences):
        full, rest = divmod(len(ids), chunk_tokens)
        counts[index, :full] = chunk_tokens
        if rest:
            counts[index, full] = rest

    def keep(rows: list[int], captured: dict[int, torch.Tensor], longest: int) -> None:
        for row, index in enumerate(rows):
            length = len(sequences[index])
            for layer, normed in captured.items():
                pooled = chunk_mean(normed[row, :length], chunk_tokens)
                states[layer][index, : pooled.shape[0]] = pooled.half()

    _run(decoder, sequences, layers, keep, progress)
    return PassageStates(states, counts, chunk_tokens)


def score_block(router: RouterProjectors, layer: int, queries: QueryStates, passages: PassageStates) -> torch.Tensor:
    """Routing scores of every query against every passage, by the router's query reduction.

    Returns:
        [Nq, Np] float32: the max over query vectors and passage chunks of the head-mean dot product, or
        for "late" and "mixed" routers the sum over query vectors of their max over the passage's chunks.
    """
    reduction = router.spec.query_reduction
    query_vectors = router.router_queries(layer, queries.states[layer].float(), queries.mask)
    key_vectors = router.router_keys(layer, passages.states[layer].float())
    nq, tq, dim = query_vectors.shape
    npass, chunks, _ = key_vectors.shape
    similarity = (query_vectors.reshape(nq * tq, dim) @ key_vectors.reshape(npass * chunks, dim).T)
    similarity = similarity.view(nq, tq, npass, chunks)
    if reduction in LATE_REDUCTIONS:
        # Padded query tokens are zero vectors (weight 0), so their best chunk adds exactly 0.
        return similarity.masked_fill(~passages.mask[None, None, :, :], float("-inf")).amax(dim=3).sum(dim=1)
    query_mask = queries.mask if reduction == "max" else queries.mask.any(dim=1, keepdim=True)
    mask = query_mask[:, :, None, None] & passages.mask[None, None, :, :]
    return similarity.masked_fill(~mask, float("-inf")).amax(dim=(1, 3))


@torch.no_grad()
def score_all(router: RouterProjectors, layer: int, queries: QueryStates, passages: PassageStates,
              query_block: int = 256, passage_block: int = 2048, max_elements: int = 1 << 28) -> torch.Tensor:
    """:func:`score_block` over large sets in blocks. Returns [Nq, Np] float32.

    Queries and passages are visited in order of length, so each block is padded only to its own
    longest member; ``max_elements`` caps a block's [queries, tokens, passages, chunks] similarity by
    narrowing the passage block.
    """
    query_order = queries.mask.sum(dim=1).argsort()
    passage_order = passages.mask.sum(dim=1).argsort()
    n_queries, n_passages = query_order.shape[0], passage_order.shape[0]
    per_passage = query_block * queries.mask.shape[1] * passages.counts.shape[1]
    passage_block = max(1, min(passage_block, max_elements // max(1, per_passage)))
    scores = torch.empty(n_queries, n_passages, dtype=torch.float32, device=queries.mask.device)
    for start in range(0, n_queries, query_block):
        query_rows = query_order[start:start + query_block]
        block = queries.subset(query_rows)
        columns = torch.cat([
            score_block(router, layer, block, passages.subset(passage_order[first:first + passage_block]))
            for first in range(0, n_passages, passage_block)
        ], dim=1)
        scores[query_rows.view(-1, 1), passage_order.view(1, -1)] = columns
    return scores


def recall_at(scores: torch.Tensor, gold: torch.Tensor, k: int) -> float:
    """Share of queries whose gold column (``gold: [Nq]``) ranks in the top ``k`` of ``scores: [Nq, Np]``."""
    gold_scores = scores.gather(1, gold.view(-1, 1))
    rank = (scores > gold_scores).sum(dim=1)
    return float((rank < k).float().mean())
