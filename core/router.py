"""Router projectors: per router layer, ``router_q_proj`` / ``router_k_proj`` over the layer's normed input.

For a frozen backbone the projectors are trained by ``memsa train-router`` (see ``router_training``) and
saved as one safetensors file whose metadata records the recipe. Inputs are standardised per dimension
with statistics measured on the training text: without that a linear projector memorises its training
pairs instead of learning a direction that generalises.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from .errors import RouterUnavailable

QUERY_REDUCTIONS = ("max", "mean", "weighted", "late", "mixed")
# Reductions with learned per-token weights (a ``router_q_weight`` row per layer).
WEIGHTED_REDUCTIONS = ("weighted", "late", "mixed")
# Reductions that score a document by late interaction over its chunks, not by its best chunk.
LATE_REDUCTIONS = ("late", "mixed")


@dataclass(frozen=True)
class RouterSpec:
    """Geometry and provenance of a set of router projectors.

    Attributes:
        layers: decoder layers that route.
        hidden_size: width of the layer input h.
        n_heads: router heads (query and key heads are equal for trained-from-scratch projectors).
        head_dim: width of one router head; D_r = n_heads * head_dim.
        cosine: normalise each head before the dot product (as MSA does for INFONCE-trained routers).
        router_chunk_tokens: P_r the keys are pooled over.
        model_fingerprint: the backbone the projectors were trained for.
        abstain_below: relative score (best document's combined score minus the bank's median) under
            which a question is judged to have no memory.
        recipe: how the projectors were made (command, data, hyper-parameters, held-out results).
        query_reduction: how question tokens are reduced: "max" scores each chunk by its best question
            token (MSA); "mean" routes with one vector, the mean of the tokens' projections; "weighted"
            likewise with learned per-token weights (a softmax over a linear score of each token, so
            content words can outweigh function words); "late" (late interaction, as in ColBERT) scores a
            *document* by the sum over question tokens of the token's weight (as in "weighted") times its
            best cosine over the document's chunks, so each question word must be matched somewhere in the
            document instead of the question being blurred into one vector; "mixed" scores a document by
            half its "weighted" score (the pooled question's best chunk) plus half its "late" score.
    """

    layers: tuple[int, ...]
    hidden_size: int
    n_heads: int
    head_dim: int
    cosine: bool
    router_chunk_tokens: int
    model_fingerprint: str
    abstain_below: float = float("-inf")
    recipe: dict[str, Any] = field(default_factory=dict)
    query_reduction: str = "max"

    def __post_init__(self) -> None:
        if self.query_reduction not in QUERY_REDUCTIONS:
            raise ValueError(f"query_reduction must be one of {QUERY_REDUCTIONS}, got {self.query_reduction!r}")

    @property
    def key_dim(self) -> int:
        """D_r, the width of one router-key row."""
        return self.n_heads * self.head_dim


class LayerRouter(torch.nn.Module):
    """The projector pair of one router layer, with its input standardisation."""

    input_mean: torch.Tensor
    input_std: torch.Tensor

    def __init__(self, hidden_size: int, key_dim: int, token_weights: bool = False) -> None:
        super().__init__()
        self.register_buffer("input_mean", torch.zeros(hidden_size))
        self.register_buffer("input_std", torch.ones(hidden_size))
        self.router_q_proj = torch.nn.Linear(hidden_size, key_dim, bias=False)
        self.router_k_proj = torch.nn.Linear(hidden_size, key_dim, bias=False)
        # Only routers that weight question tokens have it, so the other kinds keep their weights' names
        # and fingerprint.
        self.router_q_weight = torch.nn.Linear(hidden_size, 1, bias=False) if token_weights else None

    def standardise(self, hidden: torch.Tensor) -> torch.Tensor:
        """``hidden: [..., hidden]`` -> the same, per-dimension zero-mean unit-variance."""
        return (hidden.float() - self.input_mean) / self.input_std


class RouterProjectors(torch.nn.Module):
    """All router layers of a model, mapping hidden states to routing vectors.

    Scoring contract: ``score(chunk) = max_t <router_queries(h)[t], router_keys(h_chunk)>`` equals the MSA
    score (max over question tokens of the head-mean of per-head dot products, cosine if ``spec.cosine``),
    because the head-mean and the 1/H scale are folded into the query vectors; a document scores its best
    chunk. For "late" and "mixed" routers a document instead scores ``sum_t max_c <router_queries(h)[t],
    key_c>`` over its chunks c (see ``memsa.core.routing.late_document_scores``).
    """

    def __init__(self, spec: RouterSpec) -> None:
        super().__init__()
        self.spec = spec
        self.per_layer = torch.nn.ModuleDict(
            {str(layer): LayerRouter(spec.hidden_size, spec.key_dim, spec.query_reduction in WEIGHTED_REDUCTIONS)
             for layer in spec.layers}
        )

    def layer(self, layer: int) -> LayerRouter:
        return self.per_layer[str(layer)]  # type: ignore[return-value]

    def router_queries(self, layer: int, hidden: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Question routing vectors: one per token, or one in all for "mean" and "weighted".

        For "late" each token's vector is scaled by its softmax weight (padding gets weight 0, so a zero
        vector). The weights are positive, so ``w_t * max_c <q_t, k_c> = max_c <w_t q_t, k_c>``: the late
        score of a document is the sum over these vectors of their best dot product with its chunks. For
        "mixed" the pooled "weighted" vector comes first, and every vector is halved, so the same sum is
        half the pooled score plus half the late one.

        Args:
            hidden: [..., T, hidden] normed layer input of the question tokens.
            mask: [..., T] bool, the real tokens of padded rows (None: all are real).

        Returns:
            [..., T, D_r] ([..., 1, D_r] for "mean" and "weighted", [..., 1 + T, D_r] for "mixed") float32,
            head-normalised if cosine, scaled by 1/H so a dot product is a head-mean.
        """
        module = self.layer(layer)
        standardised = module.standardise(hidden)
        queries = module.router_q_proj(standardised)
        reduction = self.spec.query_reduction
        if reduction == "max":
            return self._per_head_normalise(queries) / self.spec.n_heads
        real = torch.ones(queries.shape[:-1], dtype=torch.bool, device=queries.device) if mask is None else mask
        if module.router_q_weight is None:
            weights = real.float() / real.sum(dim=-1, keepdim=True).clamp_min(1)
        else:
            logits = module.router_q_weight(standardised).squeeze(-1).masked_fill(~real, float("-inf"))
            weights = torch.softmax(logits, dim=-1).nan_to_num(0.0)
        tokens = self._per_head_normalise(queries) * (weights.unsqueeze(-1) / self.spec.n_heads)
        if reduction == "late":
            return tokens
        pooled = self._per_head_normalise((queries * weights.unsqueeze(-1)).sum(dim=-2, keepdim=True))
        pooled = pooled / self.spec.n_heads
        return pooled if reduction != "mixed" else torch.cat([pooled, tokens], dim=-2) / 2

    def router_keys(self, layer: int, pooled_hidden: torch.Tensor) -> torch.Tensor:
        """Chunk routing keys K̄ᴿ from chunk-mean hidden states.

        The projection and standardisation are affine, so projecting the chunk mean equals the chunk mean
        of the projections (the MSA definition) at a P_r-th of the cost.

        Args:
            pooled_hidden: [C, hidden] chunk means of the normed layer input.

        Returns:
            [C, D_r] float32, head-normalised if cosine.
        """
        module = self.layer(layer)
        return self._per_head_normalise(module.router_k_proj(module.standardise(pooled_hidden)))

    def _per_head_normalise(self, vectors: torch.Tensor) -> torch.Tensor:
        if not self.spec.cosine:
            return vectors
        heads = vectors.view(*vectors.shape[:-1], self.spec.n_heads, self.spec.head_dim)
        return torch.nn.functional.normalize(heads, dim=-1).view(vectors.shape)

    def fingerprint(self) -> str:
        """sha256 over the weights and geometry: banks record it to refuse keys from other projectors."""
        digest = hashlib.sha256(json.dumps(_spec_geometry(self.spec), sort_keys=True).encode())
        for name, tensor in sorted(self.state_dict().items()):
            digest.update(name.encode())
            digest.update(tensor.detach().float().cpu().contiguous().numpy().tobytes())
        return digest.hexdigest()

    def save(self, path: Path) -> None:
        """Write the projectors and their spec (metadata) as one safetensors file, atomically."""
        tensors = {name: tensor.detach().float().contiguous() for name, tensor in self.state_dict().items()}
        metadata = {"memsa_router_spec": json.dumps(asdict(self.spec))}
        staging = path.with_name(path.name + ".partial")
        path.parent.mkdir(parents=True, exist_ok=True)
        save_file(tensors, str(staging), metadata=metadata)
        staging.replace(path)

    @classmethod
    def load(cls, path: Path) -> RouterProjectors:
        """Read projectors written by :meth:`save` (no pickle: safetensors + JSON metadata)."""
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
        raw = json.loads(metadata["memsa_router_spec"])
        raw["layers"] = tuple(raw["layers"])
        router = cls(RouterSpec(**raw))
        router.load_state_dict(load_file(str(path)))
        router.eval()
        router.requires_grad_(False)
        return router


def _spec_geometry(spec: RouterSpec) -> dict[str, Any]:
    # Fields added later enter only when they differ from their default, so earlier fingerprints hold.
    extra = {} if spec.query_reduction == "max" else {"query_reduction": spec.query_reduction}
    return {
        **extra,
        "layers": list(spec.layers),
        "hidden_size": spec.hidden_size,
        "n_heads": spec.n_heads,
        "head_dim": spec.head_dim,
        "cosine": spec.cosine,
        "router_chunk_tokens": spec.router_chunk_tokens,
    }


def shipped_router_dir() -> Path:
    """Folder of router projectors that ship with memsa (``memsa.resources``)."""
    from importlib.resources import files

    return Path(str(files("memsa.resources"))) / "routers"


def find_router(model_fingerprint: str, search_dirs: Sequence[Path], model_name: str) -> RouterProjectors:
    """The projectors trained for this exact model: the user's own first, then the shipped ones.

    Files are named ``<first 16 hex of the model fingerprint>.safetensors``.

    Raises:
        RouterUnavailable: none exists for this model.
    """
    name = f"{model_fingerprint[:16]}.safetensors"
    for folder in search_dirs:
        candidate = folder / name
        if candidate.is_file():
            router = RouterProjectors.load(candidate)
            if router.spec.model_fingerprint == model_fingerprint:
                return router
    raise RouterUnavailable(
        f"no trained router for {model_name}; train one with: memsa train-router --model <the same model>"
    )


def router_file_name(model_fingerprint: str) -> str:
    return f"{model_fingerprint[:16]}.safetensors"
