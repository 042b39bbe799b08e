"""The one place that reads an MSA checkpoint's ``config.json``: its nested ``msa_config`` and Qwen3 backbone.

Checkpoints in the EverMind-AI/MSA format are a Qwen3 ``config.json`` with ``model_type: "msa"`` and a
nested ``msa_config`` object. Its keys come in more than one spelling: the selection size is written
``doc_top_k`` by the inference service and ``top_k_docs`` by the model, and the training-loss weights
carry historical spellings (``lmloss_weigth``). Every alias is listed in ``_ALIASES`` and nowhere else.

Only the routing rule the reference actually runs at inference is accepted (mean over heads, max over
question tokens, max over a document's chunks, decoupled router projections); anything else is refused
with a message that names the field, instead of silently routing differently from how the model was
trained.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ModelNotFound, UnsupportedModel

log = logging.getLogger(__name__)

MSA_MODEL_TYPE = "msa"

# canonical field -> spellings found in checkpoints, preferred first.
_ALIASES: dict[str, tuple[str, ...]] = {
    "router_layers": ("router_layer_idx", "router_layers"),
    "top_k_docs": ("doc_top_k", "top_k_docs", "top_k"),
    "pooling_kernel_size": ("pooling_kernel_size", "chunk_size"),
    "aux_loss_method": ("aux_loss_method",),
    "decouple_router": ("decouple_router",),
    "head_reduce_method": ("head_reduce_method",),
    "query_reduce_method": ("query_reduce_method",),
    "chunk_reduce_method": ("chunk_reduce_method",),
    "rewrite_position": ("rewrite_position",),
    "infonce_loss_temp": ("infonce_loss_temp", "infonce_temperature"),
    "aux_loss": ("aux_loss",),
    "lm_loss_weight": ("lmloss_weigth", "lmloss_weight", "lm_loss_weight"),
    "aux_loss_weight": ("auxloss_weight", "aux_loss_weight"),
    "reconstruction_loss_weight": ("recloss_weight", "rec_loss_weight", "reconstruction_loss_weight"),
    "answer_loss_weight": ("ansloss_weight", "ans_loss_weight", "answer_loss_weight"),
    "decouple_pooling_mode": ("decouple_pooling_mode",),
}

_SUPPORTED_RULE = {"head_reduce_method": "mean", "query_reduce_method": "max", "chunk_reduce_method": "max"}


@dataclass(frozen=True)
class MsaConfig:
    """What an MSA checkpoint says about memory: which layers route, how, and how coarsely memory is pooled.

    Attributes:
        router_layers: decoder layers with router projections that read memory (sorted).
        top_k_docs: documents each router layer selects (k).
        pooling_kernel_size: P, tokens pooled into one K̄/V̄ and router-key row.
        aux_loss_method: the routing loss the projections were trained with; exactly "INFONCE" means
            cosine routing (the reference normalises per head only then).
        decouple_router: routing uses the dedicated router_q/k projections (the only layout supported).
        head_reduce_method, query_reduce_method, chunk_reduce_method: the routing score's reductions.
        rewrite_position: training placed question positions after the memory slots.
        infonce_loss_temp: temperature of the routing loss (recorded, unused at inference).
        aux_loss, lm_loss_weight, aux_loss_weight, reconstruction_loss_weight, answer_loss_weight,
            decouple_pooling_mode: training recipe, recorded for provenance.
    """

    router_layers: tuple[int, ...]
    top_k_docs: int = 16
    pooling_kernel_size: int = 64
    aux_loss_method: str = "INFONCE"
    decouple_router: bool = True
    head_reduce_method: str = "mean"
    query_reduce_method: str = "max"
    chunk_reduce_method: str = "max"
    rewrite_position: bool = True
    infonce_loss_temp: float = 0.1
    aux_loss: bool = False
    lm_loss_weight: float = 1.0
    aux_loss_weight: float = 0.1
    reconstruction_loss_weight: float = 0.0
    answer_loss_weight: float = 1.0
    decouple_pooling_mode: str = "mean"

    @property
    def cosine(self) -> bool:
        """Cosine routing: only for exactly "INFONCE", as the reference's inference path decides."""
        return self.aux_loss_method == "INFONCE"

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any], n_layers: int) -> MsaConfig:
        """Read a checkpoint's ``msa_config`` object.

        Args:
            raw: the nested ``msa_config`` mapping, in any of the spellings in ``_ALIASES``.
            n_layers: decoder layers of the backbone, to expand "all" and check layer numbers.

        Raises:
            UnsupportedModel: a value is malformed, out of range, or a routing rule memsa does not run.
        """
        known = {spelling for spellings in _ALIASES.values() for spelling in spellings}
        unknown = sorted(set(raw) - known)
        if unknown:
            log.info("msa_config keys not used by memsa: %s", ", ".join(unknown))
        values: dict[str, Any] = {}
        for field_name, spellings in _ALIASES.items():
            present = [spelling for spelling in spellings if spelling in raw]
            if present:
                values[field_name] = raw[present[0]]
        if "router_layers" not in values:
            raise UnsupportedModel("the checkpoint's msa_config names no router layers (router_layer_idx)")
        values["router_layers"] = _parse_layers(values["router_layers"], n_layers)
        for name in ("top_k_docs", "pooling_kernel_size"):
            if name in values:
                values[name] = _positive_int(name, values[name])
        for name in ("decouple_router", "rewrite_position", "aux_loss"):
            if name in values:
                values[name] = _flag(name, values[name])
        config = cls(**values)
        config._check_rule()
        return config

    def _check_rule(self) -> None:
        if not self.decouple_router:
            raise UnsupportedModel(
                "this MSA checkpoint routes with its attention keys (decouple_router is false); memsa reads "
                "checkpoints with dedicated router_q_proj/router_k_proj projections"
            )
        for name, supported in _SUPPORTED_RULE.items():
            value = getattr(self, name)
            if value != supported:
                raise UnsupportedModel(
                    f"this MSA checkpoint scores memory with {name}={value!r}; memsa runs the published "
                    f"rule ({name}={supported!r})"
                )


def _parse_layers(value: object, n_layers: int) -> tuple[int, ...]:
    """``"all"``, ``"18,19,20"`` or a list of ints -> sorted layer numbers inside the stack."""
    if value == "all":
        return tuple(range(n_layers))
    try:
        if isinstance(value, str):
            layers = [int(part) for part in value.split(",") if part.strip()]
        elif isinstance(value, list | tuple):
            layers = [int(part) for part in value]
        else:
            raise TypeError(type(value).__name__)
    except (TypeError, ValueError) as error:
        raise UnsupportedModel(f"router_layer_idx {value!r} is not 'all' or a list of layer numbers") from error
    if not layers or any(layer < 0 or layer >= n_layers for layer in layers):
        raise UnsupportedModel(f"router_layer_idx {value!r} does not name layers of a {n_layers}-layer model")
    return tuple(sorted(set(layers)))


def _positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise UnsupportedModel(f"msa_config {name} must be a positive integer, got {value!r}")
    try:
        number = int(value)
    except ValueError as error:
        raise UnsupportedModel(f"msa_config {name} must be a positive integer, got {value!r}") from error
    if number < 1 or number != float(value):
        raise UnsupportedModel(f"msa_config {name} must be a positive integer, got {value!r}")
    return number


def _flag(name: str, value: object) -> bool:
    """JSON booleans, and the "true"/"false" strings shell-driven training scripts write."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise UnsupportedModel(f"msa_config {name} must be true or false, got {value!r}")


def read_checkpoint_config(folder: Path) -> dict[str, Any]:
    """The parsed ``config.json`` of a model folder.

    Raises:
        ModelNotFound: the file is missing or not a JSON object.
    """
    path = folder / "config.json"
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ModelNotFound(f"cannot read {path}: {error}") from error
    if not isinstance(raw, dict):
        raise ModelNotFound(f"{path} does not hold a JSON object")
    return raw


def is_msa_checkpoint(folder: Path) -> bool:
    """Whether ``folder`` holds a checkpoint in the MSA format (``model_type: "msa"``)."""
    if not (folder / "config.json").is_file():
        return False
    try:
        return read_checkpoint_config(folder).get("model_type") == MSA_MODEL_TYPE
    except ModelNotFound:
        return False


def split_checkpoint_config(raw: Mapping[str, Any]) -> tuple[dict[str, Any], MsaConfig]:
    """Split an MSA ``config.json`` into the Qwen3 backbone's config dict and the memory config.

    Raises:
        UnsupportedModel: ``msa_config`` is missing or malformed, or the backbone geometry is.
    """
    if raw.get("model_type") != MSA_MODEL_TYPE:
        raise UnsupportedModel(f"expected model_type {MSA_MODEL_TYPE!r}, got {raw.get('model_type')!r}")
    msa_raw = raw.get("msa_config")
    if not isinstance(msa_raw, dict):
        raise UnsupportedModel("the checkpoint's config.json has model_type 'msa' but no msa_config object")
    backbone = {key: value for key, value in raw.items() if key not in ("msa_config", "auto_map")}
    if backbone.get("rope_scaling", 0) is None:  # written by older transformers; newer ones warn on it
        del backbone["rope_scaling"]
    backbone["model_type"] = "qwen3"
    backbone["architectures"] = ["Qwen3ForCausalLM"]
    n_layers = backbone.get("num_hidden_layers")
    if not isinstance(n_layers, int) or n_layers < 1:
        raise UnsupportedModel("the checkpoint's config.json has no valid num_hidden_layers")
    return backbone, MsaConfig.from_dict(msa_raw, n_layers)
