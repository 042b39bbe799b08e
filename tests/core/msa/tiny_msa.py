"""A tiny random checkpoint in the EverMind-AI/MSA format, written file by file as the reference saves one.

``config.json`` is a Qwen3 config with ``model_type: "msa"`` and a nested ``msa_config`` (including the
reference's historical spelling ``lmloss_weigth``); the safetensors file holds the Qwen3 weights, one
``router_{q,k}_proj.0.weight`` pair per router layer and the training-only ``temperature`` scalar.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from tests.support.tiny_models import CHAT_TEMPLATE, SPECIALS, WORDS

MSA_SPECIALS = ["<|object_ref_end|>", "<End-of-Retrieve>"]
EXTRA_WORDS = ["user", "assistant"]
GEOMETRY: dict[str, Any] = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=4, num_attention_heads=4,
                num_key_value_heads=2, head_dim=16)

# Notes the tests remember: short, of a few 4-token chunks each, sharing words so routing has choices.
NOTES = [
    "the wifi password at the lake cabin is tango 4 2 .",
    "red green blue . alpha bravo charlie delta echo foxtrot golf hotel india .",
    "the manager meeting is at the office on 7 .",
    "kilo lima mike november oscar papa quebec romeo sierra .",
    "who is the manager of the lake office ? victor whiskey xray .",
    "zulu yankee 9 8 7 .",
]


@dataclass(frozen=True)
class TinyMsa:
    """A saved tiny MSA checkpoint."""

    path: Path
    router_layers: tuple[int, ...]
    pooling: int
    top_k: int


def msa_config(router_layers: str = "2,3", pooling: int = 4, top_k: int = 2,
               aux_loss_method: str = "INFONCE") -> dict[str, Any]:
    """The nested ``msa_config`` as the reference's re-save script writes it."""
    return {
        "router_layer_idx": router_layers, "aux_loss": False, "lmloss_weigth": 1.0, "auxloss_weight": 0.1,
        "recloss_weight": 0.0, "ansloss_weight": 1.0, "aux_loss_method": aux_loss_method,
        "decouple_router": True, "rewrite_position": True, "top_k_docs": top_k, "pooling_kernel_size": pooling,
        "infonce_loss_temp": 0.1, "head_reduce_method": "mean", "query_reduce_method": "max",
        "chunk_reduce_method": "max", "decouple_pooling_mode": "mean",
    }


def checkpoint_config(vocab_size: int, msa: dict[str, Any]) -> dict[str, Any]:
    """A ``config.json`` in the layout a transformers-4.51 ``MSAConfig.save_pretrained`` writes."""
    return {
        "architectures": ["MSAForCausalLM"], "attention_bias": False, "attention_dropout": 0.0,
        "bos_token_id": 1, "eos_token_id": 2, "pad_token_id": 3, "hidden_act": "silu",
        "initializer_range": 0.02, "max_position_embeddings": 512, "max_window_layers": 4,
        "model_type": "msa", "msa_config": msa, "rms_norm_eps": 1e-6, "rope_scaling": None,
        "rope_theta": 10000.0, "sliding_window": None, "tie_word_embeddings": True, "torch_dtype": "float32",
        "transformers_version": "4.51.3", "use_cache": True, "use_sliding_window": False,
        "vocab_size": vocab_size, **GEOMETRY,
    }


def build_msa_tokenizer(folder: Path, extra_words: Sequence[str] = ()) -> int:
    """Save a word-level tokenizer with the MSA protocol's special tokens; returns the vocabulary size."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    words = SPECIALS + MSA_SPECIALS + WORDS + EXTRA_WORDS + list(extra_words)
    vocab = {token: index for index, token in enumerate(words)}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Whitespace(), pre_tokenizers.Punctuation()])
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core, unk_token="<unk>", eos_token="<|im_end|>", pad_token="<pad>",
        bos_token="<|im_start|>", additional_special_tokens=MSA_SPECIALS,
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    tokenizer.save_pretrained(folder)
    return len(vocab)


def build_tiny_msa(folder: Path, seed: int = 0, router_layers: tuple[int, ...] = (2, 3), pooling: int = 4,
                   top_k: int = 2, aux_loss_method: str = "INFONCE", extra_words: Sequence[str] = ()) -> TinyMsa:
    """Write a random 4-layer MSA checkpoint (GQA: 4 query heads over 2 KV heads, head_dim 16)."""
    from transformers import Qwen3Config, Qwen3ForCausalLM

    folder.mkdir(parents=True, exist_ok=True)
    vocab_size = build_msa_tokenizer(folder, extra_words)
    torch.manual_seed(seed)
    backbone = Qwen3ForCausalLM(Qwen3Config(vocab_size=vocab_size, tie_word_embeddings=True, initializer_range=0.3,
                                            **GEOMETRY))
    tensors = {name: tensor.contiguous() for name, tensor in backbone.state_dict().items()
               if name != "lm_head.weight"}
    kv_width = GEOMETRY["num_key_value_heads"] * GEOMETRY["head_dim"]
    q_width = GEOMETRY["num_attention_heads"] * GEOMETRY["head_dim"]
    for layer in router_layers:
        prefix = f"model.layers.{layer}.self_attn"
        tensors[f"{prefix}.router_k_proj.0.weight"] = torch.randn(kv_width, GEOMETRY["hidden_size"]) * 0.1
        tensors[f"{prefix}.router_q_proj.0.weight"] = torch.randn(q_width, GEOMETRY["hidden_size"]) * 0.1
    tensors["temperature"] = torch.tensor(0.1)
    save_file(tensors, str(folder / "model.safetensors"), metadata={"format": "pt"})
    layers = ",".join(str(layer) for layer in router_layers)
    config = checkpoint_config(vocab_size, msa_config(layers, pooling, top_k, aux_loss_method))
    (folder / "config.json").write_text(json.dumps(config, indent=2))
    return TinyMsa(path=folder, router_layers=router_layers, pooling=pooling, top_k=top_k)


# What the scripted checkpoint writes: after a round's prompt (its last token is "assistant") it asks for
# documents 3 and 9 ("][" is one token, as in Qwen), and after the delimiter closing the evidence it ends
# retrieval and answers "kilo lima mike".
ASK_THEN_ANSWER = [
    ("assistant", "["), ("[", "3"), ("3", "]["), ("][", "9"), ("9", "]"), ("]", "<|object_ref_end|>"),
    ("<|object_ref_end|>", "<End-of-Retrieve>"), ("<End-of-Retrieve>", "kilo"), ("kilo", "lima"),
    ("lima", "mike"), ("mike", "<|im_end|>"),
]


def build_scripted_msa(folder: Path, script: Sequence[tuple[str, str]], seed: int = 0) -> TinyMsa:
    """A tiny MSA checkpoint whose greedy next token is a function of the current token, as ``script`` says.

    The checkpoint is a real one in the MSA format, loaded and run by the code under test; only its weights
    are chosen: each scripted token's embedding is a large basis vector of its own, the layers' output
    projections are scaled down so the residual stream stays close to the current token's embedding, and
    the (untied) LM head maps that embedding to the token that follows it.
    """
    from transformers import AutoTokenizer

    build_tiny_msa(folder, seed=seed, extra_words=["]["])
    tensors = load_file(str(folder / "model.safetensors"))
    vocab = AutoTokenizer.from_pretrained(folder).get_vocab()
    hidden = GEOMETRY["hidden_size"]
    scripted = list(dict.fromkeys(token for pair in script for token in pair))
    assert len(scripted) <= hidden
    embedding = tensors["model.embed_tokens.weight"]
    head = torch.zeros_like(embedding)
    for axis, token in enumerate(scripted):
        embedding[vocab[token]] = 0.0
        embedding[vocab[token], axis] = 10.0
    for current, following in script:
        head[vocab[following], scripted.index(current)] = 1.0
    tensors["lm_head.weight"] = head
    for name in list(tensors):
        if name.endswith(("self_attn.o_proj.weight", "mlp.down_proj.weight")):
            tensors[name] = tensors[name] * 0.01
    save_file(tensors, str(folder / "model.safetensors"), metadata={"format": "pt"})
    config = json.loads((folder / "config.json").read_text())
    config["tie_word_embeddings"] = False
    (folder / "config.json").write_text(json.dumps(config, indent=2))
    return TinyMsa(path=folder, router_layers=(2, 3), pooling=4, top_k=2)
