"""Reading an MSA checkpoint's config: spellings, the cosine rule, and refusals that name the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from memsa.core.errors import ModelNotFound, UnsupportedModel
from memsa.core.msa.config import MsaConfig, is_msa_checkpoint, read_checkpoint_config, split_checkpoint_config
from tests.core.msa.tiny_msa import checkpoint_config, msa_config


def test_reads_the_reference_layout_with_its_historical_spellings() -> None:
    raw = msa_config(router_layers="18,19,20,35", pooling=64, top_k=16)
    raw["lmloss_weigth"] = 0.5
    config = MsaConfig.from_dict(raw, n_layers=36)
    assert config.router_layers == (18, 19, 20, 35)
    assert (config.top_k_docs, config.pooling_kernel_size) == (16, 64)
    assert config.lm_loss_weight == 0.5
    assert config.aux_loss_weight == 0.1 and config.answer_loss_weight == 1.0


def test_the_inference_spelling_of_k_wins_over_the_training_one() -> None:
    raw = msa_config(top_k=4) | {"doc_top_k": 16}
    assert MsaConfig.from_dict(raw, n_layers=4).top_k_docs == 16


@pytest.mark.parametrize(("value", "expected"), [("all", (0, 1, 2, 3)), ([3, 1, 3], (1, 3)), ("2, 3", (2, 3))])
def test_router_layers_in_every_form(value: object, expected: tuple[int, ...]) -> None:
    raw = msa_config() | {"router_layer_idx": value}
    assert MsaConfig.from_dict(raw, n_layers=4).router_layers == expected


def test_shell_written_flags_are_read_as_booleans() -> None:
    raw = msa_config() | {"decouple_router": "true", "rewrite_position": "False", "aux_loss": "true"}
    config = MsaConfig.from_dict(raw, n_layers=4)
    assert config.decouple_router is True and config.rewrite_position is False and config.aux_loss is True


@pytest.mark.parametrize(("method", "cosine"), [("INFONCE", True), ("INFONCE_DECOUPLE", False), ("infonce", False),
                                                ("INFONCE_FOCAL", False), ("BCE", False)])
def test_cosine_routing_only_for_exactly_infonce(method: str, cosine: bool) -> None:
    assert MsaConfig.from_dict(msa_config(aux_loss_method=method), n_layers=4).cosine is cosine


@pytest.mark.parametrize(("change", "message"), [
    ({"router_layer_idx": None}, "router_layer_idx"),
    ({"router_layer_idx": "2,9"}, "4-layer"),
    ({"router_layer_idx": "two"}, "router_layer_idx"),
    ({"head_reduce_method": "max"}, "head_reduce_method='max'"),
    ({"query_reduce_method": "last"}, "query_reduce_method"),
    ({"chunk_reduce_method": "mean"}, "chunk_reduce_method"),
    ({"decouple_router": False}, "decouple_router"),
    ({"top_k_docs": 0}, "top_k_docs"),
    ({"pooling_kernel_size": 2.5}, "pooling_kernel_size"),
    ({"rewrite_position": "maybe"}, "rewrite_position"),
])
def test_refuses_what_it_cannot_run_and_names_the_field(change: dict[str, object], message: str) -> None:
    raw = {key: value for key, value in (msa_config() | change).items() if value is not None}
    with pytest.raises(UnsupportedModel, match=message):
        MsaConfig.from_dict(raw, n_layers=4)


def test_split_gives_a_qwen3_backbone_and_the_memory_config() -> None:
    raw = checkpoint_config(vocab_size=70, msa=msa_config())
    backbone, config = split_checkpoint_config(raw)
    assert backbone["model_type"] == "qwen3" and "msa_config" not in backbone
    assert backbone["num_hidden_layers"] == 4 and backbone["rope_theta"] == raw["rope_theta"]
    assert config.router_layers == (2, 3)


def test_split_refuses_configs_that_are_not_msa() -> None:
    with pytest.raises(UnsupportedModel, match="model_type"):
        split_checkpoint_config(checkpoint_config(70, msa_config()) | {"model_type": "qwen3"})
    with pytest.raises(UnsupportedModel, match="no msa_config"):
        split_checkpoint_config({k: v for k, v in checkpoint_config(70, msa_config()).items() if k != "msa_config"})


def test_recognises_checkpoint_folders(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text('{"model_type": "msa"}')
    assert is_msa_checkpoint(tmp_path)
    (tmp_path / "config.json").write_text('{"model_type": "qwen3"}')
    assert not is_msa_checkpoint(tmp_path)
    (tmp_path / "config.json").write_text("{not json")
    assert not is_msa_checkpoint(tmp_path)
    with pytest.raises(ModelNotFound, match="config.json"):
        read_checkpoint_config(tmp_path)
    assert not is_msa_checkpoint(tmp_path / "absent")
