"""Tiny random decoder models and a word-level tokenizer, saved as Hugging Face folders for tests."""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import torch

WORDS = [
    "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet", "kilo",
    "lima", "mike", "november", "oscar", "papa", "quebec", "romeo", "sierra", "tango", "uniform", "victor",
    "whiskey", "xray", "yankee", "zulu", "red", "green", "blue", "cabin", "wifi", "password", "is", "the",
    "what", "where", "when", "who", "lake", "office", "manager", "meeting", "on", "at", "of", "in", "a",
    ".", ",", "?", "[", "]", "1", "2", "3", "4", "5", "6", "7", "8", "9", "0", ":", "-",
]
SPECIALS = ["<unk>", "<|im_start|>", "<|im_end|>", "<pad>"]
CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


@dataclass(frozen=True)
class TinyModel:
    """A saved tiny model: its folder, family and geometry."""

    path: Path
    family: str
    n_layers: int
    hidden_size: int


def build_tokenizer(folder: Path) -> None:
    """A whitespace/punctuation word-level tokenizer over WORDS (offsets work, unknown words -> <unk>)."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {token: index for index, token in enumerate(SPECIALS + WORDS)}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Whitespace(), pre_tokenizers.Punctuation()])
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core, unk_token="<unk>", eos_token="<|im_end|>", pad_token="<pad>",
        bos_token="<|im_start|>",
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    tokenizer.save_pretrained(folder)


def build_tiny_model(folder: Path, family: str, seed: int = 0) -> TinyModel:
    """Save a random 4-layer model of ``family`` ("llama" or "qwen3") with GQA (4 query, 2 KV heads)."""
    from transformers import AutoModelForCausalLM, LlamaConfig, Qwen3Config

    torch.manual_seed(seed)
    common = dict(
        vocab_size=len(SPECIALS) + len(WORDS), hidden_size=64, intermediate_size=128, num_hidden_layers=4,
        num_attention_heads=4, num_key_value_heads=2, head_dim=16, max_position_embeddings=512,
        rms_norm_eps=1e-6, eos_token_id=2, pad_token_id=3, bos_token_id=1, tie_word_embeddings=True,
    )
    config = LlamaConfig(**common) if family == "llama" else Qwen3Config(**common)
    model = AutoModelForCausalLM.from_config(config)
    model.save_pretrained(folder)
    build_tokenizer(folder)
    return TinyModel(path=folder, family=family, n_layers=4, hidden_size=64)


def random_text(rng: random.Random, n_words: int) -> str:
    """A sentence-ish string of known words."""
    return " ".join(rng.choice(WORDS[:30]) for _ in range(n_words)) + " ."


def install_router(model: TinyModel, data_dir: Path, layers: tuple[int, ...] = (1, 3), seed: int = 0,
                   abstain_below: float = -1.0) -> Path:
    """Save random router projectors for ``model`` where the engine looks for user-trained ones."""
    from memsa.core.models import fingerprint_model, resolve_model
    from memsa.core.router import RouterProjectors, RouterSpec, router_file_name

    fingerprint = fingerprint_model(resolve_model(model.path))
    torch.manual_seed(seed)
    spec = RouterSpec(layers=layers, hidden_size=model.hidden_size, n_heads=2, head_dim=8, cosine=True,
                      router_chunk_tokens=4, model_fingerprint=fingerprint, abstain_below=abstain_below)
    path = data_dir / "routers" / router_file_name(fingerprint)
    RouterProjectors(spec).save(path)
    return path
