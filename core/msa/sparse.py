"""Stage 3, fast path: a routed prefill over compressed memory, then greedy decoding over a compact cache.

In a router layer the question attends to ``[template-prefix KV ; K̄/V̄ of every chunk of the documents
this layer selected ; its own KV]``; other layers to ``[template prefix ; own KV]``. Question positions
continue after the prefix plus one slot per selected document. Decoding appends to that compact
per-layer cache; memory is not consulted again until the next prefill (the next interleave round).

Decisions where the reference leaves details open:

- *Slots per selected document.* The reference always reserves ``doc_top_k`` slots (3 + 16 = 19); we
  reserve ``min(top_k, documents in memory)``, which equals it for any bank of at least k documents and,
  for a smaller one, keeps the gap equal to what the question actually reads.
- *Routing queries.* Each router layer routes with the QUERY tokens' normed input *in that layer of the
  routed prefill* (after the prefix and the memory read by lower router layers), as the reference does;
  template-tail tokens never route.
- *Chunk order.* Selected documents' chunks are laid out in ascending document id (see
  ``LayerSelection.layout``); attention over non-causal memory slots does not depend on order.
- *Attention.* Plain ``torch`` SDPA with a lower-right causal bias (question token i sees all prefix and
  memory slots and question tokens <= i), so no flash-attn is needed and CPU and GPU share the code.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch.nn.attention.bias import causal_lower_right

from ..decoder import Decoder
from ..router import RouterProjectors
from .layers import expand_kv_heads, layer_inputs, layer_output, next_token_logits, rotary
from .prompt import ChatFrame, QuestionPrompt, question_positions
from .selection import LayerSelection, MemorySource, gather_memory, select_documents


@dataclass
class LayerCache:
    """One layer's compact cache, preallocated for the planned answer (a dumb buffer and a fill level).

    Attributes:
        keys, values: [1, H_kv, capacity, d].
        length: positions filled.
    """

    keys: torch.Tensor
    values: torch.Tensor
    length: int

    @classmethod
    def filled(cls, keys: torch.Tensor, values: torch.Tensor, spare: int) -> LayerCache:
        """A cache holding ``keys, values: [1, H_kv, L, d]`` with room for ``spare`` more positions."""
        batch, heads, length, dim = keys.shape
        cache = cls(keys.new_empty(batch, heads, length + spare, dim),
                    values.new_empty(batch, heads, length + spare, dim), length)
        cache.keys[:, :, :length] = keys
        cache.values[:, :, :length] = values
        return cache

    def append(self, keys: torch.Tensor, values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Write ``[1, H_kv, T, d]`` after the filled part; return the filled keys and values.

        An answer longer than planned doubles the buffer rather than failing.
        """
        end = self.length + keys.shape[2]
        if end > self.keys.shape[2]:
            grown = LayerCache.filled(self.keys[:, :, :self.length], self.values[:, :, :self.length],
                                      spare=max(self.length, keys.shape[2]))
            self.keys, self.values = grown.keys, grown.values
        self.keys[:, :, self.length:end] = keys
        self.values[:, :, self.length:end] = values
        self.length = end
        return self.keys[:, :, :end], self.values[:, :, :end]


@dataclass
class SparseState:
    """Where an answer stands: per-layer caches, the next RoPE position and what each router layer read."""

    caches: list[LayerCache]
    next_position: int
    selections: dict[int, LayerSelection] = field(default_factory=dict)


@dataclass(frozen=True)
class SparseAnswer:
    """A finished greedy answer: its token ids and the documents each router layer read."""

    token_ids: list[int]
    selections: dict[int, LayerSelection]


class SparseGenerator:
    """Sparse generation over a memory for one model.

    Args:
        decoder: the backbone.
        router: projectors of every router layer (an ``MsaRouter`` for MSA checkpoints).
        frame: the chat template around the question (its prefix is encoded once).
        top_k: documents each router layer selects.
    """

    def __init__(self, decoder: Decoder, router: RouterProjectors, frame: ChatFrame, top_k: int) -> None:
        self.decoder = decoder
        self.router = router
        self.frame = frame
        self.top_k = top_k
        self._prefix: list[tuple[torch.Tensor, torch.Tensor]] | None = None

    def prefix_kv(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Per layer, the template prefix's keys and values ``[1, H_kv, P, d]`` (positions 0..P-1), once."""
        if self._prefix is None:
            captured = self.decoder.capture(self.frame.prefix.unsqueeze(0), range(self.decoder.shape.n_layers))
            self._prefix = [
                (captured[index].keys.transpose(1, 2), captured[index].values.transpose(1, 2))
                for index in range(self.decoder.shape.n_layers)
            ]
        return self._prefix

    def selected_count(self, memory: MemorySource) -> int:
        """Documents each router layer will select: k, or fewer when memory holds fewer."""
        doc_ids = memory.router_keys(self.router.spec.layers[0]).doc_ids
        return min(self.top_k, int(doc_ids.unique().numel()))

    @torch.inference_mode()
    def prefill(self, prompt: QuestionPrompt, memory: MemorySource,
                max_new_tokens: int) -> tuple[torch.Tensor, SparseState]:
        """Run the question through the routed layers.

        Returns:
            next-token logits [V] float32, and the state to decode from.
        """
        decoder, device = self.decoder, self.decoder.device
        prefix = self.prefix_kv()
        n_prefix, n_tokens = self.frame.prefix.numel(), prompt.token_ids.numel()
        n_selected = self.selected_count(memory)
        hidden = decoder.embed_tokens(prompt.token_ids.to(device).unsqueeze(0))
        cos, sin = rotary(decoder, hidden, question_positions(n_prefix, n_selected, n_tokens))
        query_rows = prompt.query_mask.to(device)
        state = SparseState(caches=[], next_position=n_prefix + n_selected + n_tokens)
        for index in range(decoder.shape.n_layers):
            inputs = layer_inputs(decoder, index, hidden, cos, sin)
            keys, values = [prefix[index][0]], [prefix[index][1]]
            if index in self.router.spec.layers:
                selection = select_documents(self.router, index, inputs.normed[0, query_rows],
                                             memory.router_keys(index), self.top_k)
                state.selections[index] = selection
                memory_keys, memory_values = gather_memory(memory, selection, decoder.shape, device, hidden.dtype)
                keys.append(memory_keys)
                values.append(memory_values)
            cache = LayerCache.filled(torch.cat(keys + [inputs.keys], dim=2),
                                      torch.cat(values + [inputs.values], dim=2), max_new_tokens)
            state.caches.append(cache)
            attended = _attend(inputs.queries, cache.keys[:, :, :cache.length], cache.values[:, :, :cache.length])
            hidden = layer_output(decoder, index, hidden, attended)
        return next_token_logits(decoder, hidden), state

    @torch.inference_mode()
    def decode_step(self, state: SparseState, token: int) -> torch.Tensor:
        """Feed one token at the next position; return next-token logits [V] float32."""
        decoder = self.decoder
        hidden = decoder.embed_tokens(torch.tensor([[token]], device=decoder.device))
        cos, sin = rotary(decoder, hidden, torch.tensor([state.next_position]))
        for index, cache in enumerate(state.caches):
            inputs = layer_inputs(decoder, index, hidden, cos, sin)
            keys, values = cache.append(inputs.keys, inputs.values)
            attended = F.scaled_dot_product_attention(inputs.queries, keys, values, enable_gqa=True)
            hidden = layer_output(decoder, index, hidden, attended)
        state.next_position += 1
        return next_token_logits(decoder, hidden)

    def greedy(self, state: SparseState, logits: torch.Tensor, max_new_tokens: int,
               stop_token_ids: Collection[int] = ()) -> Iterator[int]:
        """Yield greedy token ids from a prefilled state; a stop token ends the answer (and is yielded)."""
        for produced in range(max_new_tokens):
            token = int(logits.argmax())
            yield token
            if token in stop_token_ids or produced + 1 == max_new_tokens:
                return
            logits = self.decode_step(state, token)

    def generate(self, prompt: QuestionPrompt, memory: MemorySource, max_new_tokens: int,
                 stop_token_ids: Collection[int] = ()) -> SparseAnswer:
        """The whole greedy answer and the documents each router layer read."""
        logits, state = self.prefill(prompt, memory, max_new_tokens)
        tokens = list(self.greedy(state, logits, max_new_tokens, stop_token_ids))
        return SparseAnswer(token_ids=tokens, selections=state.selections)


def _attend(queries: torch.Tensor, keys: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """Question queries ``[1, H, T, d]`` over ``[1, H_kv, L, d]`` keys with a lower-right causal bias."""
    heads = queries.shape[1]
    bias = causal_lower_right(queries.shape[2], keys.shape[2])
    return F.scaled_dot_product_attention(
        queries, expand_kv_heads(keys, heads), expand_kv_heads(values, heads), attn_mask=bias
    )
