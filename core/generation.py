"""Streaming text generation at temperature 0: llama.cpp for GGUF models on a CPU, torch otherwise."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import torch

log = logging.getLogger(__name__)


class TextGenerator(Protocol):
    """Anything that continues a prompt, yielding text as it is produced."""

    name: str

    def stream(self, prompt: str, max_new_tokens: int) -> Iterator[str]:
        """Yield text deltas of the greedy continuation of ``prompt`` (a fully formatted chat prompt)."""
        ...


class LlamaCppGenerator:
    """llama.cpp through llama-cpp-python; on a CPU it decodes several times faster than torch."""

    name = "llama.cpp"

    def __init__(self, gguf_path: Path, stop: list[str], n_ctx: int = 4096, n_threads: int | None = None) -> None:
        from llama_cpp import Llama

        self.stop = stop
        threads = n_threads or max(1, os.cpu_count() or 1)
        self.llama = Llama(
            model_path=str(gguf_path),
            n_ctx=n_ctx,
            n_batch=512,
            n_threads=threads,
            n_threads_batch=threads,
            verbose=False,
        )

    def stream(self, prompt: str, max_new_tokens: int) -> Iterator[str]:
        for piece in self.llama.create_completion(
            prompt, max_tokens=max_new_tokens, temperature=0.0, top_k=1, stop=self.stop, stream=True
        ):
            text = piece["choices"][0]["text"]  # type: ignore[index]
            if text:
                yield text

    def forget_prompt_cache(self) -> None:
        """Drop the evaluated prompt, so the next prompt is read in full (llama.cpp reuses a shared prefix)."""
        self.llama.reset()


class TorchGenerator:
    """Greedy decoding with the transformers model and its KV cache: ``prefill`` then ``decode_step``."""

    name = "torch"

    def __init__(self, model: torch.nn.Module, tokenizer: object, stop_token_ids: list[int]) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.stop_token_ids = set(stop_token_ids)

    @torch.inference_mode()
    def prefill(self, input_ids: torch.Tensor) -> tuple[torch.Tensor, object]:
        """Run the prompt ``input_ids: [1, T]``; return next-token logits [1, V] and the KV cache."""
        device = next(self.model.parameters()).device
        output = self.model(input_ids=input_ids.to(device), use_cache=True)
        return output.logits[:, -1], output.past_key_values

    @torch.inference_mode()
    def decode_step(self, token: torch.Tensor, cache: object) -> tuple[torch.Tensor, object]:
        """Feed one token ``[1, 1]``; return next-token logits [1, V] and the grown cache."""
        output = self.model(input_ids=token, past_key_values=cache, use_cache=True)
        return output.logits[:, -1], output.past_key_values

    def stream(self, prompt: str, max_new_tokens: int) -> Iterator[str]:
        encoded = self.tokenizer(prompt, return_tensors="pt", add_special_tokens=False)  # type: ignore[operator]
        logits, cache = self.prefill(encoded["input_ids"])
        generated: list[int] = []
        emitted = ""
        for _ in range(max_new_tokens):
            token = int(logits.argmax(dim=-1))
            if token in self.stop_token_ids:
                break
            generated.append(token)
            text = self.tokenizer.decode(generated, skip_special_tokens=True)  # type: ignore[attr-defined]
            # Hold back a trailing replacement char: the next token may complete a multi-byte character.
            if len(text) > len(emitted) and not text.endswith("\ufffd"):
                yield text[len(emitted):]
                emitted = text
            logits, cache = self.decode_step(torch.tensor([[token]], device=logits.device), cache)


def llama_cpp_available() -> bool:
    """Whether llama-cpp-python is installed (it is optional for HF-folder models)."""
    import importlib.util

    return importlib.util.find_spec("llama_cpp") is not None
