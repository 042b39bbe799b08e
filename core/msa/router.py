"""The router of an MSA checkpoint: its trained ``router_q_proj`` / ``router_k_proj`` as memsa router projectors.

Shapes. An MSA router layer projects the normed layer input h to a router key per KV head
(``router_k_proj: hidden -> H_kv * d``) and a router query per *query* head (``router_q_proj:
hidden -> H * d``); query head h is scored against KV head ``h // (H / H_kv)``. The chunk score is the
mean over query heads of the per-head dot products (cosine when ``aux_loss_method`` is exactly
"INFONCE"; otherwise scaled by ``d ** -0.5``, as the reference does), max over question tokens.

Because the head-mean is a sum, each KV head's group of query heads collapses into one vector: the sum
of the group's (normalised) query heads, divided by H. A question token's routing vector is then
``[H_kv * d]`` wide, the same width as a router key, and the chunk score is one dot product — the
contract of :class:`memsa.core.router.RouterProjectors`, so the bank, the max-sim kernel and routing take
MSA checkpoints unchanged. Router keys are stored per KV head, normalised when cosine.
"""

from __future__ import annotations

import hashlib
import json

import torch

from ..decoder import DecoderShape
from ..errors import UnsupportedModel
from ..router import RouterProjectors, RouterSpec
from .config import MsaConfig
from .memory_text import MEMORY_FORMAT


class MsaRouter(RouterProjectors):
    """Router projectors read from an MSA checkpoint (per router layer: q ``[H*d, hidden]``, k ``[H_kv*d, hidden]``).

    Args:
        spec: geometry with ``n_heads = H_kv`` (router-key heads) and ``head_dim = d``.
        query_heads: H, the number of router-query heads (the model's attention heads).
    """

    def __init__(self, spec: RouterSpec, query_heads: int) -> None:
        super().__init__(spec)
        if query_heads % spec.n_heads:
            raise UnsupportedModel(f"{query_heads} query heads do not group evenly over {spec.n_heads} KV heads")
        self.query_heads = query_heads
        for layer in spec.layers:
            self.layer(layer).router_q_proj = torch.nn.Linear(
                spec.hidden_size, query_heads * spec.head_dim, bias=False
            )

    @classmethod
    def from_weights(
        cls,
        config: MsaConfig,
        shape: DecoderShape,
        weights: dict[int, tuple[torch.Tensor, torch.Tensor]],
        model_fingerprint: str,
    ) -> MsaRouter:
        """Build the router from a checkpoint's projection weights.

        Args:
            config: the checkpoint's memory config.
            shape: the backbone's attention geometry.
            weights: router layer -> (router_q_proj weight ``[H*d, hidden]``, router_k_proj weight
                ``[H_kv*d, hidden]``).
            model_fingerprint: the checkpoint's fingerprint (the router is part of it).

        Raises:
            UnsupportedModel: a router layer's weights are missing or of the wrong shape.
        """
        spec = RouterSpec(
            layers=config.router_layers,
            hidden_size=shape.hidden_size,
            n_heads=shape.n_kv_heads,
            head_dim=shape.head_dim,
            cosine=config.cosine,
            router_chunk_tokens=config.pooling_kernel_size,
            model_fingerprint=model_fingerprint,
            recipe={"source": "msa checkpoint", "aux_loss_method": config.aux_loss_method},
        )
        router = cls(spec, shape.n_heads)
        for layer in config.router_layers:
            if layer not in weights:
                raise UnsupportedModel(
                    f"the checkpoint has no router_q_proj/router_k_proj weights for router layer {layer}"
                )
            query_weight, key_weight = weights[layer]
            module = router.layer(layer)
            for name, weight, projection in (
                ("router_q_proj", query_weight, module.router_q_proj),
                ("router_k_proj", key_weight, module.router_k_proj),
            ):
                if tuple(weight.shape) != tuple(projection.weight.shape):
                    raise UnsupportedModel(
                        f"layer {layer} {name} has shape {tuple(weight.shape)}, expected "
                        f"{tuple(projection.weight.shape)} for this backbone"
                    )
                projection.weight = torch.nn.Parameter(weight.detach().clone(), requires_grad=False)
        router.eval()
        router.requires_grad_(False)
        return router

    def router_queries(self, layer: int, hidden: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Question-token routing vectors, one dot product per chunk away from the MSA score.

        Args:
            hidden: [..., T, hidden] normed layer input of the question tokens.
            mask: unused: MSA scores each chunk by its best question token, so callers pass real tokens only.

        Returns:
            [..., T, H_kv * d] float32: per KV head, the sum of its query heads (each normalised if cosine)
            divided by H, times ``d ** -0.5`` when not cosine.
        """
        spec = self.spec
        projection = self.layer(layer).router_q_proj
        queries = projection(hidden.to(projection.weight.dtype)).float()
        leading = queries.shape[:-1]
        queries = queries.view(*leading, self.query_heads, spec.head_dim)  # [..., T, H, d]
        if spec.cosine:
            queries = torch.nn.functional.normalize(queries, dim=-1)
        group = self.query_heads // spec.n_heads
        grouped = queries.view(*leading, spec.n_heads, group, spec.head_dim).sum(dim=-2) / self.query_heads
        if not spec.cosine:
            grouped = grouped * spec.head_dim**-0.5
        return grouped.reshape(*leading, spec.key_dim)

    def router_keys(self, layer: int, pooled_hidden: torch.Tensor) -> torch.Tensor:
        """Chunk router keys K̄ᴿ from chunk-mean normed inputs (projection is linear, so mean-then-project).

        Args:
            pooled_hidden: [C, hidden].

        Returns:
            [C, H_kv * d] float32, normalised per KV head if cosine.
        """
        projection = self.layer(layer).router_k_proj
        keys = projection(pooled_hidden.to(projection.weight.dtype)).float()
        return self._per_head_normalise(keys)

    def fingerprint(self) -> str:
        """The router ships inside the checkpoint, whose fingerprint already covers these weights.

        The way documents are written into memory (``memory_text.MEMORY_FORMAT``) is part of it: a bank
        encoded another way is refused (and re-encoded by ``memsa reencode``) instead of read wrongly.
        """
        geometry = {"layers": list(self.spec.layers), "query_heads": self.query_heads, "cosine": self.spec.cosine,
                    "chunk": self.spec.router_chunk_tokens, "memory_format": MEMORY_FORMAT}
        digest = hashlib.sha256(self.spec.model_fingerprint.encode())
        digest.update(json.dumps(geometry, sort_keys=True).encode())
        return digest.hexdigest()
