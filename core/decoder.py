"""A lean forward pass over a Hugging Face decoder's own weights that exposes what MSA keeps per layer.

Running the layers ourselves (rather than through ``model.forward`` with hooks) lets stage 1 stop at the
last router layer, skip the LM head, restart RoPE at 0 per document and capture the normed layer input,
post-RoPE keys and values in one pass. Llama, Mistral, Qwen2 and Qwen3 (q/k RMSNorm) layouts are supported.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from .errors import UnsupportedModel


@dataclass(frozen=True)
class DecoderShape:
    """The attention geometry of a decoder."""

    n_layers: int
    n_heads: int
    n_kv_heads: int
    head_dim: int
    hidden_size: int

    @property
    def kv_dim(self) -> int:
        """Width of one token's keys (or values) across KV heads: H_kv * head_dim."""
        return self.n_kv_heads * self.head_dim


@dataclass(frozen=True)
class LayerCapture:
    """What one layer saw and produced for a batch.

    Attributes:
        normed_input: [B, T, hidden], the layer's input after its input RMSNorm (the router's h).
        keys: [B, T, H_kv, d], keys after k-norm (Qwen3) and RoPE at document-local positions.
        values: [B, T, H_kv, d].
    """

    normed_input: torch.Tensor
    keys: torch.Tensor
    values: torch.Tensor


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    """The RoPE pairing used by Llama-family checkpoints: (x1, x2) -> (-x2, x1) over the last dim halves."""
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate ``x: [B, H, T, d]`` by ``cos, sin: [B, T, d]``."""
    return x * cos.unsqueeze(1) + rotate_half(x) * sin.unsqueeze(1)


class Decoder:
    """Runs the lower part of a causal LM's layer stack and captures router-layer tensors.

    Args:
        model: a transformers ``*ForCausalLM`` whose ``model`` has ``embed_tokens``, ``layers`` and
            ``rotary_emb``, each layer with ``self_attn.{q,k,v,o}_proj`` and optional ``q_norm``/``k_norm``.
    """

    def __init__(self, model: torch.nn.Module) -> None:
        backbone = getattr(model, "model", None)
        if backbone is None or not hasattr(backbone, "layers") or not hasattr(backbone, "rotary_emb"):
            raise UnsupportedModel("the model has no Llama/Qwen-style decoder stack (model.layers, rotary_emb)")
        config: Any = model.config
        self.model = model
        self.embed_tokens = backbone.embed_tokens
        self.layers = backbone.layers
        self.final_norm = backbone.norm
        self.rotary_emb = backbone.rotary_emb
        n_heads = config.num_attention_heads
        self.shape = DecoderShape(
            n_layers=len(self.layers),
            n_heads=n_heads,
            n_kv_heads=getattr(config, "num_key_value_heads", None) or n_heads,
            head_dim=getattr(config, "head_dim", None) or config.hidden_size // n_heads,
            hidden_size=config.hidden_size,
        )

    @property
    def device(self) -> torch.device:
        return self.embed_tokens.weight.device

    @property
    def dtype(self) -> torch.dtype:
        return self.embed_tokens.weight.dtype

    @torch.inference_mode()
    def capture(self, input_ids: torch.Tensor, layers: Sequence[int]) -> dict[int, LayerCapture]:
        """Run layers ``0..max(layers)`` on right-padded documents and capture the listed layers.

        Every row is its own document with positions 0..T-1 (document-wise RoPE). Rows are right-padded:
        with causal attention a real token never attends to a pad, so pads only waste the tail of a row.

        Args:
            input_ids: [B, T] token ids.
            layers: decoder layer indices to capture.

        Returns:
            layer -> LayerCapture for that layer.
        """
        wanted = sorted(set(layers))
        if not wanted or wanted[0] < 0 or wanted[-1] >= self.shape.n_layers:
            raise ValueError(f"layers must lie in 0..{self.shape.n_layers - 1}, got {list(layers)}")
        hidden = self.embed_tokens(input_ids.to(self.device))
        positions = torch.arange(input_ids.shape[1], device=self.device).expand(input_ids.shape[0], -1)
        cos, sin = self.rotary_emb(hidden, positions)
        captured: dict[int, LayerCapture] = {}
        for index in range(wanted[-1] + 1):
            hidden, capture = self.layer_forward(index, hidden, cos, sin)
            if index in wanted:
                captured[index] = capture
        return captured

    def layer_forward(
        self, index: int, hidden: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor
    ) -> tuple[torch.Tensor, LayerCapture]:
        """One pre-norm decoder layer with causal self-attention.

        Args:
            hidden: [B, T, hidden] residual stream entering the layer.
            cos, sin: [B, T, d] rotary tables for the rows' positions.

        Returns:
            the residual stream leaving the layer, and what the layer captured.
        """
        layer = self.layers[index]
        attention = layer.self_attn
        batch, length, _ = hidden.shape
        shape = self.shape
        normed = layer.input_layernorm(hidden)
        queries = attention.q_proj(normed).view(batch, length, shape.n_heads, shape.head_dim)
        keys = attention.k_proj(normed).view(batch, length, shape.n_kv_heads, shape.head_dim)
        values = attention.v_proj(normed).view(batch, length, shape.n_kv_heads, shape.head_dim)
        if hasattr(attention, "q_norm"):
            queries = attention.q_norm(queries)
            keys = attention.k_norm(keys)
        queries = apply_rope(queries.transpose(1, 2), cos, sin)
        keys = apply_rope(keys.transpose(1, 2), cos, sin)
        values = values.transpose(1, 2)
        attended = F.scaled_dot_product_attention(
            queries, keys, values, is_causal=True, enable_gqa=shape.n_heads != shape.n_kv_heads
        )
        attended = attended.transpose(1, 2).reshape(batch, length, shape.n_heads * shape.head_dim)
        hidden = hidden + attention.o_proj(attended)
        hidden = hidden + layer.mlp(layer.post_attention_layernorm(hidden))
        capture = LayerCapture(normed_input=normed, keys=keys.transpose(1, 2), values=values.transpose(1, 2))
        return hidden, capture
