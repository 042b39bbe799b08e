"""Loading a checkpoint folder in the MSA format through the model loader."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from memsa.core.decoder import Decoder
from memsa.core.engine import MemoryEngine
from memsa.core.errors import ModelNotFound, UnsupportedModel
from memsa.core.models import LoadedModel, load_model, resolve_model
from memsa.core.msa.checkpoint import engine_dtype
from memsa.core.msa.router import MsaRouter
from tests.core.msa.tiny_msa import TinyMsa, build_tiny_msa
from tests.support.tiny_models import TinyModel


def _load(folder: Path, cache: Path) -> LoadedModel:
    return load_model(resolve_model(folder), cache_dir=cache)


def test_loads_backbone_tokenizer_and_trained_router(tiny_msa: TinyMsa, tmp_path: Path) -> None:
    loaded = _load(tiny_msa.path, tmp_path)
    assert loaded.msa is not None
    router = loaded.msa.router
    saved = load_file(str(tiny_msa.path / "model.safetensors"))
    decoder = Decoder(loaded.model)
    assert decoder.shape.n_layers == 4 and decoder.shape.n_kv_heads == 2
    assert torch.equal(decoder.layers[1].self_attn.q_proj.weight, saved["model.layers.1.self_attn.q_proj.weight"])
    assert loaded.model.lm_head.weight.data_ptr() == decoder.embed_tokens.weight.data_ptr()  # tied
    assert isinstance(router, MsaRouter)
    assert router.spec.layers == tiny_msa.router_layers
    assert (router.spec.n_heads, router.spec.head_dim, router.query_heads) == (2, 16, 4)
    assert router.spec.router_chunk_tokens == tiny_msa.pooling
    assert router.spec.cosine is (loaded.msa.config.aux_loss_method == "INFONCE")
    assert router.spec.model_fingerprint == loaded.fingerprint
    for layer in tiny_msa.router_layers:
        prefix = f"model.layers.{layer}.self_attn"
        assert torch.equal(router.layer(layer).router_q_proj.weight, saved[f"{prefix}.router_q_proj.0.weight"])
        assert torch.equal(router.layer(layer).router_k_proj.weight, saved[f"{prefix}.router_k_proj.0.weight"])
    assert loaded.tokenizer.convert_tokens_to_ids("<End-of-Retrieve>") != loaded.tokenizer.unk_token_id


def test_engine_settings_take_the_checkpoints_pooling_and_k(tiny_cosine_msa: TinyMsa, tmp_path: Path) -> None:
    from memsa.core.settings import EngineSettings

    loaded = _load(tiny_cosine_msa.path, tmp_path)
    assert loaded.msa is not None
    settings = loaded.msa.engine_settings(EngineSettings(data_dir=tmp_path))
    assert settings.encoding.chunk_tokens == tiny_cosine_msa.pooling and settings.top_k == tiny_cosine_msa.top_k


def _copy(source: TinyMsa, target: Path) -> Path:
    shutil.copytree(source.path, target)
    return target


def _rewrite_weights(folder: Path, drop: str) -> None:
    tensors = load_file(str(folder / "model.safetensors"))
    save_file({name: tensor for name, tensor in tensors.items() if name != drop}, str(folder / "model.safetensors"))


def test_router_weights_without_the_sequential_index_load_too(tiny_cosine_msa: TinyMsa, tmp_path: Path) -> None:
    folder = _copy(tiny_cosine_msa, tmp_path / "plain")
    tensors = load_file(str(folder / "model.safetensors"))
    renamed = {name.replace("_proj.0.weight", "_proj.weight"): tensor for name, tensor in tensors.items()}
    save_file(renamed, str(folder / "model.safetensors"))
    loaded = _load(folder, tmp_path / "cache")
    assert loaded.msa is not None
    assert torch.equal(loaded.msa.router.layer(3).router_k_proj.weight,
                       tensors["model.layers.3.self_attn.router_k_proj.0.weight"])


def test_a_missing_router_projection_is_named(tiny_cosine_msa: TinyMsa, tmp_path: Path) -> None:
    folder = _copy(tiny_cosine_msa, tmp_path / "no-router")
    _rewrite_weights(folder, "model.layers.2.self_attn.router_q_proj.0.weight")
    with pytest.raises(UnsupportedModel, match="layer 2"):
        _load(folder, tmp_path / "cache")


def test_a_missing_backbone_weight_is_refused_not_randomly_initialised(tiny_cosine_msa: TinyMsa,
                                                                       tmp_path: Path) -> None:
    folder = _copy(tiny_cosine_msa, tmp_path / "incomplete")
    _rewrite_weights(folder, "model.layers.0.mlp.down_proj.weight")
    with pytest.raises(ModelNotFound, match="down_proj"):
        _load(folder, tmp_path / "cache")


def test_wrongly_shaped_router_weights_are_refused(tmp_path: Path) -> None:
    folder = build_tiny_msa(tmp_path / "shapes")
    config = json.loads((folder.path / "config.json").read_text())
    config["msa_config"]["router_layer_idx"] = "1,2,3"
    (folder.path / "config.json").write_text(json.dumps(config))
    with pytest.raises(UnsupportedModel, match="layer 1"):
        _load(folder.path, tmp_path / "cache")
    tensors = load_file(str(folder.path / "model.safetensors"))
    tensors["model.layers.1.self_attn.router_q_proj.0.weight"] = torch.zeros(8, 64)
    tensors["model.layers.1.self_attn.router_k_proj.0.weight"] = torch.zeros(32, 64)
    save_file(tensors, str(folder.path / "model.safetensors"))
    with pytest.raises(UnsupportedModel, match="router_q_proj has shape"):
        _load(folder.path, tmp_path / "cache")


def test_a_folder_without_safetensors_is_refused(tiny_cosine_msa: TinyMsa, tmp_path: Path) -> None:
    folder = _copy(tiny_cosine_msa, tmp_path / "bin-only")
    (folder / "model.safetensors").unlink()
    with pytest.raises(ModelNotFound, match="safetensors"):
        _load(folder, tmp_path / "cache")


@pytest.mark.parametrize(("device", "expected"), [("cpu", torch.float32), ("cuda", torch.bfloat16),
                                                  ("cuda:1", torch.bfloat16)])
def test_msa_checkpoints_load_in_bfloat16_on_cuda_only(tiny_cosine_msa: TinyMsa, device: str,
                                                       expected: torch.dtype) -> None:
    assert engine_dtype(tiny_cosine_msa.path, device) is expected


def test_other_models_keep_float32_on_cuda(tiny_llama: TinyModel, tmp_path: Path) -> None:
    gguf = tmp_path / "model.gguf"
    gguf.write_bytes(b"GGUF")
    for path in (tiny_llama.path, gguf, tmp_path / "missing"):
        assert engine_dtype(path, "cuda") is torch.float32


def test_the_cpu_engine_runs_in_float32(engine: MemoryEngine) -> None:
    assert {parameter.dtype for parameter in engine.loaded.model.parameters()} == {torch.float32}
    assert {parameter.dtype for parameter in engine.router.parameters()} == {torch.float32}


def test_a_bfloat16_load_casts_backbone_and_router(tiny_cosine_msa: TinyMsa, tmp_path: Path) -> None:
    spec = resolve_model(tiny_cosine_msa.path)
    loaded = load_model(spec, cache_dir=tmp_path, dtype=torch.bfloat16)
    assert loaded.msa is not None
    assert {parameter.dtype for parameter in loaded.model.parameters()} == {torch.bfloat16}
    assert {parameter.dtype for parameter in loaded.msa.router.parameters()} == {torch.bfloat16}
