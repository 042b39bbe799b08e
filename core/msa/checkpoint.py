"""Load a checkpoint folder in the EverMind-AI/MSA format: a Qwen3 backbone plus per-layer router projections.

The folder holds ``config.json`` (Qwen3 fields, ``model_type: "msa"``, nested ``msa_config``), the
tokenizer files and safetensors weights (one file or shards). The backbone weights load into
transformers' own ``Qwen3ForCausalLM``, which memsa's lean decoder runs; the router projections
(``model.layers.{i}.self_attn.router_{q,k}_proj.0.weight`` — a one-layer ``Sequential`` in the
reference, so ``.0.`` — or without the ``.0``) and the training-only scalars (``temperature``, ``b``)
are not backbone weights and are read separately.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from safetensors import SafetensorError, safe_open

from ..decoder import Decoder
from ..errors import ModelNotFound, UnsupportedModel
from .config import MsaConfig, is_msa_checkpoint, read_checkpoint_config, split_checkpoint_config
from .router import MsaRouter

if TYPE_CHECKING:  # settings pull in platform folders; loading a checkpoint needs none of that
    from ..settings import EngineSettings

log = logging.getLogger(__name__)

ROUTER_WEIGHT = re.compile(r"^(?:model\.)?layers\.(\d+)\.self_attn\.router_([qk])_proj(?:\.0)?\.weight$")
TRAINING_ONLY = ("temperature", "b")


@dataclass
class MsaCheckpoint:
    """An MSA checkpoint ready to run.

    Attributes:
        config: the memory config (router layers, k, P, routing rule).
        model: the Qwen3 causal LM holding the backbone weights, in eval mode.
        tokenizer: the checkpoint's tokenizer.
        router: its router projections as memsa router projectors.
    """

    config: MsaConfig
    model: torch.nn.Module
    tokenizer: object
    router: MsaRouter

    def engine_settings(self, settings: EngineSettings) -> EngineSettings:
        """``settings`` with the checkpoint's P (K̄/V̄ pooling) and k (documents per router layer).

        The model's layers were trained to read chunks of exactly P tokens and k documents' worth of memory
        slots, so these two come from the checkpoint, not from the defaults chosen for frozen backbones.
        """
        encoding = dataclasses.replace(settings.encoding, chunk_tokens=self.config.pooling_kernel_size)
        return dataclasses.replace(settings, encoding=encoding, top_k=self.config.top_k_docs)


def engine_dtype(model_path: Path, device: str) -> torch.dtype:
    """The dtype the engine loads a model in: bfloat16 for an MSA checkpoint on CUDA, float32 otherwise.

    MSA-4B is 8 GB of weights in bfloat16, the dtype it was trained and published in, and GPUs run bfloat16
    at full speed; on a CPU bfloat16 matmuls are slower than float32 ones (and the tiny test checkpoints
    must match the reference path bit for bit), so CPU stays float32. Other models keep float32 everywhere:
    their loading path has no dtype decision of its own.
    """
    if (device == "cuda" or device.startswith("cuda:")) and model_path.is_dir() and is_msa_checkpoint(model_path):
        return torch.bfloat16
    return torch.float32


def load_msa_checkpoint(folder: Path, fingerprint: str, dtype: torch.dtype = torch.float32) -> MsaCheckpoint:
    """Load backbone, tokenizer and router of the MSA checkpoint in ``folder``, never touching the network.

    Args:
        folder: the checkpoint folder.
        fingerprint: the model fingerprint (``models.fingerprint_model``), recorded in the router spec.
        dtype: weights are cast to this dtype.

    Raises:
        ModelNotFound: files are missing or unreadable, or a backbone weight is absent.
        UnsupportedModel: the msa_config asks for something memsa does not run, or shapes disagree.
    """
    from transformers import AutoTokenizer, Qwen3Config, Qwen3ForCausalLM

    backbone, config = split_checkpoint_config(read_checkpoint_config(folder))
    weight_files = sorted(folder.glob("*.safetensors"))
    if not weight_files:
        raise ModelNotFound(f"{folder} holds no .safetensors weights; MSA checkpoints are read from safetensors")
    router_weights = _read_router_weights(weight_files, dtype)
    try:
        loaded: Any = Qwen3ForCausalLM.from_pretrained(
            folder, config=Qwen3Config.from_dict(backbone), dtype=dtype, local_files_only=True,
            output_loading_info=True,
        )
        model, info = loaded
        with warnings.catch_warnings():  # it re-reads config.json, whose rope_scaling: null transformers 5 deprecates
            warnings.simplefilter("ignore", FutureWarning)
            tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    except (OSError, ValueError, KeyError, SafetensorError) as error:
        raise ModelNotFound(f"cannot load the MSA checkpoint at {folder}: {error}") from error
    missing = [name for name in info["missing_keys"] if "rotary_emb" not in name]
    if missing:
        raise ModelNotFound(
            f"the MSA checkpoint at {folder} lacks backbone weights ({', '.join(sorted(missing)[:3])}…); "
            "it is incomplete — download it again"
        )
    model.eval()
    model.requires_grad_(False)
    shape = Decoder(model).shape
    router = MsaRouter.from_weights(config, shape, _pair_router_weights(router_weights, config), fingerprint)
    return MsaCheckpoint(config=config, model=model, tokenizer=tokenizer, router=router)


def _read_router_weights(files: list[Path], dtype: torch.dtype) -> dict[tuple[int, str], torch.Tensor]:
    """(layer, "q" | "k") -> projection weight, read from whichever shard holds it."""
    found: dict[tuple[int, str], torch.Tensor] = {}
    for path in files:
        try:
            with safe_open(str(path), framework="pt") as handle:
                for name in handle.keys():  # noqa: SIM118 - safe_open has no __iter__
                    match = ROUTER_WEIGHT.match(name)
                    if match:
                        found[(int(match.group(1)), match.group(2))] = handle.get_tensor(name).to(dtype)
        except (OSError, SafetensorError) as error:
            raise ModelNotFound(f"cannot read the weights file {path}: {error}") from error
    return found


def _pair_router_weights(
    found: dict[tuple[int, str], torch.Tensor], config: MsaConfig
) -> dict[int, tuple[torch.Tensor, torch.Tensor]]:
    """layer -> (router_q_proj weight, router_k_proj weight) for the configured router layers."""
    extra = sorted({layer for layer, _ in found} - set(config.router_layers))
    if extra:
        log.info("router projections of layers %s are not router layers in msa_config; ignored", extra)
    pairs: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
    for layer in config.router_layers:
        if (layer, "q") not in found or (layer, "k") not in found:
            raise UnsupportedModel(
                f"msa_config names layer {layer} a router layer but the weights hold no "
                f"router_q_proj/router_k_proj for it"
            )
        pairs[layer] = (found[(layer, "q")], found[(layer, "k")])
    return pairs
