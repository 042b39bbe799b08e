"""Stage 3, reference path: sparse generation spelled out, for tests to hold the fast path to.

No cache and no shortcuts: every step re-runs ``[template prefix ; question ; answer so far]`` through
every layer; router layers score memory head by head (``select_documents_reference``), copy the selected
documents' K̄/V̄ chunk row by chunk row, and attend with plain SDPA over an explicitly materialised
visibility mask. The fast path (``sparse.py``) must produce the same tokens at temperature 0.
"""

from __future__ import annotations

from collections.abc import Collection

import torch
import torch.nn.functional as F

from ..decoder import Decoder, DecoderShape
from .layers import expand_kv_heads, layer_inputs, layer_output, next_token_logits, rotary
from .prompt import ChatFrame, QuestionPrompt
from .router import MsaRouter
from .selection import LayerSelection, MemorySource, select_documents_reference
from .sparse import SparseAnswer


@torch.inference_mode()
def generate_reference(decoder: Decoder, router: MsaRouter, frame: ChatFrame, prompt: QuestionPrompt,
                       memory: MemorySource, top_k: int, max_new_tokens: int,
                       stop_token_ids: Collection[int] = ()) -> SparseAnswer:
    """Greedy sparse generation, recomputing everything for each new token."""
    documents = set(memory.router_keys(router.spec.layers[0]).doc_ids.tolist())
    n_selected = min(top_k, len(documents))
    tokens: list[int] = []
    selections: dict[int, LayerSelection] = {}
    while len(tokens) < max_new_tokens:
        logits, selections = _full_forward(decoder, router, frame, prompt, tokens, memory, top_k, n_selected)
        tokens.append(int(logits.argmax()))
        if tokens[-1] in stop_token_ids:
            break
    return SparseAnswer(token_ids=tokens, selections=selections)


def _full_forward(decoder: Decoder, router: MsaRouter, frame: ChatFrame, prompt: QuestionPrompt,
                  answer: list[int], memory: MemorySource, top_k: int,
                  n_selected: int) -> tuple[torch.Tensor, dict[int, LayerSelection]]:
    """Logits [V] after ``[prefix ; question ; answer]``, and each router layer's selection."""
    n_prefix = frame.prefix.numel()
    rest = torch.cat([prompt.token_ids, torch.tensor(answer, dtype=torch.long)])
    sequence = torch.cat([frame.prefix, rest]).to(decoder.device)
    positions = torch.cat([torch.arange(n_prefix), n_prefix + n_selected + torch.arange(rest.numel())])
    query_rows = [n_prefix + row for row, is_query in enumerate(prompt.query_mask.tolist()) if is_query]
    hidden = decoder.embed_tokens(sequence.unsqueeze(0))
    cos, sin = rotary(decoder, hidden, positions)
    selections: dict[int, LayerSelection] = {}
    for index in range(decoder.shape.n_layers):
        inputs = layer_inputs(decoder, index, hidden, cos, sin)
        empty = inputs.keys[:, :, :0]
        memory_keys, memory_values = empty, empty
        if index in router.spec.layers:
            selection = select_documents_reference(router, index, inputs.normed[0, query_rows],
                                                   memory.router_keys(index), top_k)
            selections[index] = selection
            memory_keys, memory_values = _copy_chunks(memory, selection, decoder.shape, inputs.keys)
        keys = torch.cat([inputs.keys[:, :, :n_prefix], memory_keys, inputs.keys[:, :, n_prefix:]], dim=2)
        values = torch.cat([inputs.values[:, :, :n_prefix], memory_values, inputs.values[:, :, n_prefix:]], dim=2)
        mask = visibility_mask(n_prefix, memory_keys.shape[2], rest.numel()).to(hidden.device)
        heads = decoder.shape.n_heads
        attended = F.scaled_dot_product_attention(
            inputs.queries, expand_kv_heads(keys, heads), expand_kv_heads(values, heads), attn_mask=mask
        )
        hidden = layer_output(decoder, index, hidden, attended)
    return next_token_logits(decoder, hidden), selections


def visibility_mask(n_prefix: int, n_memory: int, n_rest: int) -> torch.Tensor:
    """Which key each query row sees.

    Rows are ``[prefix ; question and answer]``, columns ``[prefix ; memory slots ; question and answer]``.
    A prefix token sees the prefix up to itself; a question or answer token sees the whole prefix, every
    memory slot, and the question and answer up to itself.

    Returns:
        [n_prefix + n_rest, n_prefix + n_memory + n_rest] bool.
    """
    mask = torch.zeros(n_prefix + n_rest, n_prefix + n_memory + n_rest, dtype=torch.bool)
    for row in range(n_prefix):
        mask[row, : row + 1] = True
    for row in range(n_rest):
        mask[n_prefix + row, : n_prefix + n_memory + row + 1] = True
    return mask


def _copy_chunks(memory: MemorySource, selection: LayerSelection, shape: DecoderShape,
                 like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The selected documents' K̄/V̄, copied one chunk row at a time into ``[1, H_kv, C_sel, d]``."""
    key_rows: list[torch.Tensor] = []
    value_rows: list[torch.Tensor] = []
    for doc_id in selection.layout:
        pooled_keys, pooled_values = memory.pooled_kv(selection.layer, doc_id)
        for row in range(pooled_keys.shape[0]):
            key_rows.append(pooled_keys[row].view(shape.n_kv_heads, shape.head_dim))
            value_rows.append(pooled_values[row].view(shape.n_kv_heads, shape.head_dim))
    if not key_rows:
        empty = like[:, :, :0]
        return empty, empty
    keys = torch.stack(key_rows, dim=1).unsqueeze(0).to(device=like.device, dtype=like.dtype)
    values = torch.stack(value_rows, dim=1).unsqueeze(0).to(device=like.device, dtype=like.dtype)
    return keys, values
