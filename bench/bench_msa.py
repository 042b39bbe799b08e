"""MSA benchmark: encoding speed, routing and first-token time at 1M and 10M memory tokens, for a model of
MSA-4B's shape with random weights (its weights are not needed to time it).

Rows, each against a baseline measured in the same run:
- encoding: stage-1 tokens/s (our capture + pooling of K̄, V̄, K̄ᴿ in 18 router layers) vs a plain
  transformers forward of the same batches;
- routing: all 18 router layers choosing their top-16 documents, fused (Triton) vs naive (PyTorch) max-sim;
- first token: a routed sparse prefill (template prefix ; 16 documents' K̄/V̄ per router layer ; question)
  vs a full-attention prefill over the same 16 documents' raw tokens plus the question;
- decode: ms per token over the compact cache vs over the full-attention prompt's cache.
Memory rows are synthetic (unit-norm router keys per head, random K̄/V̄) — routing and gathering cost depend
on row counts, not values. ``--check`` first proves, on this device, that the fast sparse path equals the
reference path token for token on a tiny random MSA checkpoint.

Run: python bench/bench_msa.py [--device cuda] [--preset msa-4b|small] [--memory-tokens 1000000,10000000]
     [--check] [--out results.json]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from memsa.core.decoder import Decoder
from memsa.core.encoding import EncodingConfig, TokenizedDocument, encode_documents
from memsa.core.msa.prompt import ChatFrame, QuestionPrompt, TokenRole
from memsa.core.msa.router import MsaRouter
from memsa.core.msa.selection import select_documents
from memsa.core.msa.sparse import SparseGenerator
from memsa.core.msa.tensor_memory import TensorMemory
from memsa.core.router import RouterSpec

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# Qwen3-4B, the backbone of EverMind-AI/MSA-4B; its router layers are 18..35, k = 16, P = 64.
PRESETS: dict[str, dict[str, Any]] = {
    "msa-4b": dict(backbone=dict(vocab_size=151936, hidden_size=2560, intermediate_size=9728, num_hidden_layers=36,
                                 num_attention_heads=32, num_key_value_heads=8, head_dim=128, rope_theta=1e6,
                                 max_position_embeddings=40960, tie_word_embeddings=True),
                   router_layers=tuple(range(18, 36)), top_k=16, chunk=64),
    "small": dict(backbone=dict(vocab_size=4096, hidden_size=256, intermediate_size=512, num_hidden_layers=4,
                                num_attention_heads=4, num_key_value_heads=2, head_dim=64, rope_theta=1e6,
                                max_position_embeddings=40960, tie_word_embeddings=True),
                  router_layers=(2, 3), top_k=16, chunk=64),
}
QWEN_PREFIX = [151644, 872, 198]  # <|im_start|> user \n
QWEN_TAIL = [151645, 198, 151644, 77091, 198]  # <|im_end|> \n <|im_start|> assistant \n
DOC_TOKENS = 512
QUESTION_TOKENS = 32


def timed(run: Callable[[], object], device: torch.device, repeats: int, warmup: int = 2) -> float:
    """Median milliseconds of ``run`` (synchronised on a GPU)."""
    samples = []
    for index in range(warmup + repeats):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        started = time.perf_counter()
        run()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        if index >= warmup:
            samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def random_model(preset: dict[str, Any], device: torch.device, dtype: torch.dtype) -> tuple[Any, MsaRouter]:
    """A random-weight Qwen3 causal LM of the preset's shape and a random MSA router for it."""
    from transformers import Qwen3Config, Qwen3ForCausalLM

    config = Qwen3Config(**preset["backbone"])
    torch.manual_seed(0)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with torch.device(device):
            model = Qwen3ForCausalLM(config)
    finally:
        torch.set_default_dtype(previous)
    model.eval().requires_grad_(False)
    backbone = preset["backbone"]
    spec = RouterSpec(layers=preset["router_layers"], hidden_size=backbone["hidden_size"],
                      n_heads=backbone["num_key_value_heads"], head_dim=backbone["head_dim"], cosine=True,
                      router_chunk_tokens=preset["chunk"], model_fingerprint="random")
    router = MsaRouter(spec, query_heads=backbone["num_attention_heads"]).to(device=device, dtype=dtype)
    return model, router.eval().requires_grad_(False)


def synthetic_memory(n_tokens: int, router: MsaRouter, n_kv_heads: int, device: torch.device,
                     dtype: torch.dtype) -> TensorMemory:
    """``n_tokens`` of memory as documents of DOC_TOKENS tokens: per layer, unit-norm router keys and K̄/V̄."""
    spec = router.spec
    chunks_per_doc = DOC_TOKENS // spec.router_chunk_tokens
    n_docs = n_tokens // DOC_TOKENS
    n_rows = n_docs * chunks_per_doc
    generator = torch.Generator(device=device).manual_seed(1)

    def unit_keys() -> torch.Tensor:
        keys = torch.randn(n_rows, spec.n_heads, spec.head_dim, device=device, generator=generator)
        return torch.nn.functional.normalize(keys, dim=-1).view(n_rows, spec.key_dim)

    def pooled() -> torch.Tensor:
        return torch.randn(n_rows, spec.key_dim, device=device, generator=generator, dtype=dtype)

    counts = torch.tensor([0] + [chunks_per_doc] * n_docs)
    return TensorMemory(
        router_keys={layer: unit_keys() for layer in spec.layers},
        router_doc_ids=torch.arange(1, n_docs + 1, device=device).repeat_interleave(chunks_per_doc),
        router_chunk_index=torch.arange(chunks_per_doc, device=device).repeat(n_docs),
        pooled_keys={layer: pooled() for layer in spec.layers},
        pooled_values={layer: pooled() for layer in spec.layers},
        kv_starts=torch.cat([torch.zeros(1, dtype=torch.long), counts.cumsum(0)[:-1]]),
        kv_counts=counts,
    )


def bench_encoding(model: Any, decoder: Decoder, router: MsaRouter, vocab: int, device: torch.device,
                   n_docs: int) -> tuple[float, float]:
    """Stage-1 tokens/s, ours vs a plain transformers forward over the same padded batches."""
    generator = np.random.default_rng(0)
    documents = [
        TokenizedDocument(token_ids=generator.integers(0, vocab, DOC_TOKENS, dtype=np.int64),
                          char_spans=np.stack([np.arange(DOC_TOKENS), np.arange(1, DOC_TOKENS + 1)], axis=1))
        for _ in range(n_docs)
    ]
    config = EncodingConfig(chunk_tokens=router.spec.router_chunk_tokens, batch_tokens=16384)
    ours = timed(lambda: encode_documents(decoder, router, documents, config), device, repeats=3, warmup=1)
    batch = torch.from_numpy(np.stack([doc.token_ids for doc in documents])).to(device)
    rows = config.batch_tokens // DOC_TOKENS

    @torch.inference_mode()
    def plain_forward() -> None:
        for start in range(0, n_docs, rows):
            model.model(input_ids=batch[start:start + rows], use_cache=False)

    baseline = timed(plain_forward, device, repeats=3, warmup=1)
    tokens = n_docs * DOC_TOKENS
    return tokens / ours * 1000, tokens / baseline * 1000


def question(vocab: int) -> QuestionPrompt:
    ids = torch.randint(1000, min(vocab, 150000), (QUESTION_TOKENS,), generator=torch.Generator().manual_seed(2))
    tail = torch.tensor(QWEN_TAIL) % vocab
    roles = (TokenRole.QUERY,) * QUESTION_TOKENS + (TokenRole.TEMPLATE,) * tail.numel()
    routes = (True,) * QUESTION_TOKENS + (False,) * tail.numel()
    return QuestionPrompt(token_ids=torch.cat([ids, tail]), roles=roles, routes=routes)


def bench_memory_size(n_tokens: int, model: Any, decoder: Decoder, router: MsaRouter, sparse: SparseGenerator,
                      prompt: QuestionPrompt, device: torch.device, dtype: torch.dtype) -> dict[str, float]:
    """Routing, first-token and decode times with ``n_tokens`` of synthetic memory."""
    memory = synthetic_memory(n_tokens, router, decoder.shape.n_kv_heads, device, dtype)
    states = torch.randn(QUESTION_TOKENS, decoder.shape.hidden_size, device=device, dtype=dtype)
    row: dict[str, float] = {"memory_tokens": n_tokens,
                             "chunks_per_layer": float(memory.router_keys(router.spec.layers[0]).keys.shape[0])}
    for backend in ("fused", "naive"):
        if backend == "fused" and device.type != "cuda":
            continue
        os.environ["MEMSA_KERNEL_BACKEND"] = backend
        row[f"routing_ms_{backend}"] = timed(
            lambda: [select_documents(router, layer, states, memory.router_keys(layer), sparse.top_k)
                     for layer in router.spec.layers], device, repeats=5)
    os.environ.pop("MEMSA_KERNEL_BACKEND", None)
    row["first_token_ms_sparse"] = timed(lambda: sparse.prefill(prompt, memory, 1), device, repeats=5)
    _, state = sparse.prefill(prompt, memory, 64)
    selected = state.selections[router.spec.layers[-1]].doc_ids
    raw = torch.randint(0, model.config.vocab_size, (1, len(selected) * DOC_TOKENS), device=device)
    full_prompt = torch.cat([torch.tensor([QWEN_PREFIX], device=device) % model.config.vocab_size, raw,
                             prompt.token_ids.to(device).unsqueeze(0)], dim=1)

    @torch.inference_mode()
    def full_attention() -> torch.Tensor:
        hidden = model.model(input_ids=full_prompt, use_cache=True).last_hidden_state
        return model.lm_head(hidden[:, -1:])

    row["full_prompt_tokens"] = float(full_prompt.shape[1])
    row["first_token_ms_full_attention"] = timed(full_attention, device, repeats=5)
    token = int(sparse.prefill(prompt, memory, 1)[0].argmax())
    steps, warmup = 48, 8
    _, state = sparse.prefill(prompt, memory, steps + warmup)
    row["decode_ms_per_token"] = timed(lambda: sparse.decode_step(state, token), device, steps, warmup)
    with torch.inference_mode():
        cache = model(input_ids=full_prompt, use_cache=True).past_key_values
    step_input = torch.tensor([[token]], device=device)

    @torch.inference_mode()
    def full_attention_step() -> None:
        model(input_ids=step_input, past_key_values=cache, use_cache=True)

    row["decode_ms_per_token_full_attention"] = timed(full_attention_step, device, steps, warmup)
    return row


def check_equivalence(device: torch.device) -> dict[str, Any]:
    """Fast vs reference sparse generation on a tiny random MSA checkpoint, on this device."""
    from memsa.core.models import load_model, resolve_model
    from memsa.core.msa.prompt import chat_frame, question_prompt
    from memsa.core.msa.reference import generate_reference
    from tests.core.msa.tiny_msa import build_tiny_msa

    folder = Path(tempfile.mkdtemp()) / "tiny-msa"
    build_tiny_msa(folder)
    checkpoint = load_model(resolve_model(folder), cache_dir=folder.parent).msa
    assert checkpoint is not None
    model, router = checkpoint.model.to(device), checkpoint.router.to(device)
    decoder, tokenizer = Decoder(model), checkpoint.tokenizer
    texts = ["the wifi password at the lake cabin is tango 4 2 .", "red green blue . alpha bravo charlie delta .",
             "the manager meeting is at the office on 7 .", "kilo lima mike november oscar papa quebec romeo ."]
    from memsa.core.encoding import tokenize_document

    config = EncodingConfig(chunk_tokens=checkpoint.config.pooling_kernel_size)
    documents = [tokenize_document(tokenizer, text, config.max_document_tokens) for text in texts]
    memory = TensorMemory.from_encodings(encode_documents(decoder, router, documents, config), device=device)
    frame = chat_frame(tokenizer)
    prompt = question_prompt(tokenizer, frame, "what is the wifi password at the cabin ?")
    top_k = checkpoint.config.top_k_docs
    fast = SparseGenerator(decoder, router, frame, top_k).generate(prompt, memory, 12)
    slow = generate_reference(decoder, router, frame, prompt, memory, top_k, 12)
    return {"device": str(device), "fast": fast.token_ids, "reference": slow.token_ids,
            "equal": fast.token_ids == slow.token_ids and all(
                fast.selections[layer].doc_ids == slow.selections[layer].doc_ids for layer in fast.selections)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--preset", choices=sorted(PRESETS), default="msa-4b")
    parser.add_argument("--memory-tokens", default="1000000,10000000")
    parser.add_argument("--encode-docs", type=int, default=64)
    parser.add_argument("--check", action="store_true")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    device = torch.device(args.device)
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    results: dict[str, Any] = {"preset": args.preset, "device": torch.cuda.get_device_name(device)
                               if device.type == "cuda" else "cpu", "dtype": str(dtype)}
    preset = PRESETS[args.preset]
    model, router = random_model(preset, device, dtype)
    decoder = Decoder(model)
    vocab = preset["backbone"]["vocab_size"]
    ours, baseline = bench_encoding(model, decoder, router, vocab, device, args.encode_docs)
    results["encoding"] = {"ours_tokens_per_s": ours, "plain_forward_tokens_per_s": baseline}
    save(results, args.out)
    print(f"encoding: {ours:,.0f} tok/s (plain forward {baseline:,.0f} tok/s, ratio {ours / baseline:.2f})",
          flush=True)
    frame = ChatFrame(prefix=torch.tensor(QWEN_PREFIX) % vocab, tail=torch.tensor(QWEN_TAIL) % vocab)
    sparse = SparseGenerator(decoder, router, frame, preset["top_k"])
    prompt = question(vocab)
    results["memory"] = rows = []
    for size in args.memory_tokens.split(","):
        rows.append(bench_memory_size(int(size), model, decoder, router, sparse, prompt, device, dtype))
        print(json.dumps(rows[-1]), flush=True)
        save(results, args.out)
        gc.collect()  # the last size's memory goes before the next one is built
        if device.type == "cuda":
            torch.cuda.empty_cache()
    print_table(rows)
    if args.check:
        del model, decoder, router, sparse
        results["equivalence"] = check_equivalence(device)
        print(f"fast == reference on {device}: {results['equivalence']['equal']}", flush=True)
        save(results, args.out)


def save(results: dict[str, Any], path: Path | None) -> None:
    if path is not None:
        path.write_text(json.dumps(results, indent=2))


def print_table(rows: list[dict[str, float]]) -> None:
    header = ("memory tokens", "chunks/layer", "route fused ms", "route naive ms", "1st token sparse ms",
              "1st token full-attn ms", "full-attn tokens", "speed-up", "decode ms/tok sparse", "full-attn")
    print(" | ".join(header))
    for row in rows:
        fused = row.get("routing_ms_fused")
        print(" | ".join([
            f"{int(row['memory_tokens']):,}", f"{int(row['chunks_per_layer']):,}",
            "-" if fused is None else f"{fused:.2f}", f"{row['routing_ms_naive']:.2f}",
            f"{row['first_token_ms_sparse']:.1f}", f"{row['first_token_ms_full_attention']:.1f}",
            f"{int(row['full_prompt_tokens']):,}",
            f"{row['first_token_ms_full_attention'] / row['first_token_ms_sparse']:.2f}x",
            f"{row['decode_ms_per_token']:.2f}", f"{row['decode_ms_per_token_full_attention']:.2f}",
        ]))


if __name__ == "__main__":
    main()
