"""The parts of a decoder layer that sparse generation shares between its fast and reference paths.

Only the attention differs between the two paths (which keys a question sees, how they are gathered and
cached); projections, q/k norms, RoPE, the output projection and the MLP are these functions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import torch

from ..decoder import Decoder, apply_rope


@dataclass(frozen=True)
class LayerInputs:
    """What one layer computes from its residual stream before attention.

    Attributes:
        normed: [B, T, hidden] the layer input after its input RMSNorm (the router's h).
        queries: [B, H, T, d] after q-norm and RoPE.
        keys: [B, H_kv, T, d] after k-norm and RoPE.
        values: [B, H_kv, T, d].
    """

    normed: torch.Tensor
    queries: torch.Tensor
    keys: torch.Tensor
    values: torch.Tensor


def layer_inputs(decoder: Decoder, index: int, hidden: torch.Tensor, cos: torch.Tensor,
                 sin: torch.Tensor) -> LayerInputs:
    """Norm, project and rotate ``hidden: [B, T, hidden]`` for layer ``index`` (``cos, sin: [B, T, d]``)."""
    attention = decoder.layers[index].self_attn
    shape = decoder.shape
    batch, length, _ = hidden.shape
    normed = decoder.layers[index].input_layernorm(hidden)
    queries = attention.q_proj(normed).view(batch, length, shape.n_heads, shape.head_dim)
    keys = attention.k_proj(normed).view(batch, length, shape.n_kv_heads, shape.head_dim)
    values = attention.v_proj(normed).view(batch, length, shape.n_kv_heads, shape.head_dim)
    if hasattr(attention, "q_norm"):
        queries = attention.q_norm(queries)
        keys = attention.k_norm(keys)
    return LayerInputs(
        normed=normed,
        queries=apply_rope(queries.transpose(1, 2), cos, sin),
        keys=apply_rope(keys.transpose(1, 2), cos, sin),
        values=values.transpose(1, 2),
    )


def layer_output(decoder: Decoder, index: int, hidden: torch.Tensor, attended: torch.Tensor) -> torch.Tensor:
    """Finish layer ``index``: ``attended: [B, H, T, d]`` -> o_proj, residual, MLP -> [B, T, hidden]."""
    layer = decoder.layers[index]
    batch, _, length, _ = attended.shape
    merged = attended.transpose(1, 2).reshape(batch, length, -1)
    hidden = hidden + layer.self_attn.o_proj(merged)
    return hidden + layer.mlp(layer.post_attention_layernorm(hidden))


def rotary(decoder: Decoder, hidden: torch.Tensor, positions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """cos, sin ``[1, T, d]`` for ``positions: [T]``."""
    cos, sin = decoder.rotary_emb(hidden, positions.to(hidden.device).unsqueeze(0))
    return cos, sin


def next_token_logits(decoder: Decoder, hidden: torch.Tensor) -> torch.Tensor:
    """Logits ``[V]`` float32 of the last position of ``hidden: [1, T, hidden]``."""
    last = decoder.final_norm(hidden[:, -1:])
    head = cast(torch.nn.Module, cast(Any, decoder.model).get_output_embeddings())
    logits: torch.Tensor = head(last)
    return logits[0, -1].float()


def expand_kv_heads(tensor: torch.Tensor, n_heads: int) -> torch.Tensor:
    """``[B, H_kv, L, d]`` -> ``[B, H, L, d]``: query head h reads KV head ``h // (H / H_kv)``."""
    return tensor.repeat_interleave(n_heads // tensor.shape[1], dim=1)
