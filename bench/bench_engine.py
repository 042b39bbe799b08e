"""Engine benchmark: prints encoding speed (vs llama.cpp prompt processing on the same GGUF), routing time
at 100K and 1M memory tokens, time to the first answer token, and bytes per memory token.

Run: .venv/bin/python bench/bench_engine.py [--device cpu|cuda] [--sizes 100000,1000000]

Memory beyond the encoded sample is filled with synthetic rows (per-head unit vectors, the shape and norm
of real router keys) because routing cost depends only on the number of rows; one real, planted document
is asked about so the answer path runs for real.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from memsa.core.encoding import encode_documents, tokenize_document
from memsa.core.engine import DocumentText, Finished, MemoryEngine
from memsa.core.generation import LlamaCppGenerator
from memsa.core.memory.records import EncodedDocument, NewDocument, SourceInfo
from memsa.core.models import resolve_model
from memsa.core.settings import EngineSettings

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.integration.real_text import stdlib_documents  # noqa: E402

QUESTION = "What is the wifi password at the lake cabin?"
FACT = "The wifi password at the lake cabin is pinecone-harbor-42."
SYNTHETIC_DOC_TOKENS = 512


def encoding_speed(engine: MemoryEngine, texts: list[str]) -> tuple[float, int]:
    """Stage-1 tokens per second over ``texts`` (tokenized beforehand; best of 2 runs)."""
    tokenizer, config = engine.loaded.tokenizer, engine.settings.encoding
    docs = [tokenize_document(tokenizer, text, config.max_document_tokens) for text in texts]
    tokens = sum(doc.n_tokens for doc in docs)
    best = float("inf")
    for _ in range(2):
        started = time.perf_counter()
        encode_documents(engine.decoder, engine.router, docs, config)
        best = min(best, time.perf_counter() - started)
    return tokens / best, tokens


def llama_cpp_prompt_speed(engine: MemoryEngine, texts: list[str]) -> float | None:
    """llama.cpp prompt-processing tokens per second for the same texts, each as its own prompt."""
    if engine.loaded.spec.kind != "gguf":
        return None
    from llama_cpp import Llama

    threads = torch.get_num_threads()
    llama = Llama(model_path=str(engine.loaded.spec.path), n_ctx=4096, n_batch=512, n_threads=threads,
                  n_threads_batch=threads, verbose=False)
    prompts = [llama.tokenize(text.encode(), add_bos=False) for text in texts]
    best = float("inf")
    for _ in range(2):
        started = time.perf_counter()
        for prompt in prompts:
            llama.reset()
            llama.eval(prompt)
        best = min(best, time.perf_counter() - started)
    return sum(map(len, prompts)) / best


def synthetic_encoding(engine: MemoryEngine, rng: np.random.Generator) -> EncodedDocument:
    """Rows shaped like a real 512-token document's, router keys unit-normalised per head."""
    spec, identity = engine.router.spec, engine.bank.identity
    n_router = SYNTHETIC_DOC_TOKENS // spec.router_chunk_tokens
    n_kv = SYNTHETIC_DOC_TOKENS // identity.chunk_tokens
    router_keys, pooled_keys, pooled_values = {}, {}, {}
    for layer in spec.layers:
        keys = torch.from_numpy(rng.standard_normal((n_router, spec.n_heads, spec.head_dim), dtype=np.float32))
        router_keys[layer] = torch.nn.functional.normalize(keys, dim=-1).flatten(1)
        pooled_keys[layer] = torch.from_numpy(rng.standard_normal((n_kv, identity.kv_dim), dtype=np.float32))
        pooled_values[layer] = torch.from_numpy(rng.standard_normal((n_kv, identity.kv_dim), dtype=np.float32))
    spans = np.stack([np.arange(n_router) * 40, np.arange(1, n_router + 1) * 40], axis=1)
    return EncodedDocument(SYNTHETIC_DOC_TOKENS, router_keys, pooled_keys, pooled_values, spans)


def fill_bank(engine: MemoryEngine, target_tokens: int, filler_text: str, rng: np.random.Generator) -> None:
    """Add synthetic documents until the bank holds ``target_tokens`` memory tokens."""
    batch = 50
    while engine.status().tokens < target_tokens:
        count = engine.status().documents
        documents = [
            NewDocument(text=filler_text, start=0, end=len(filler_text), title="filler",
                        encoding=synthetic_encoding(engine, rng))
            for _ in range(batch)
        ]
        engine.bank.put_source(SourceInfo(f"/synthetic/{count}.txt", str(count), 0, 0), documents)


def routing_ms(engine: MemoryEngine, repeats: int = 7) -> float:
    """Median wall time of stage 2 for one question (question encoding + scoring every row)."""
    engine.retrieve(QUESTION)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        engine.retrieve(QUESTION)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def first_token_ms(engine: MemoryEngine, repeats: int = 3) -> tuple[float, str]:
    """Median time from the question to the first streamed answer token, model loaded.

    llama.cpp forgets the previous prompt before each question, so the whole prompt (instructions,
    passages, question) is read every time; a running app would reuse the shared instructions prefix.
    """
    results = []
    for _ in range(repeats + 1):
        generator = engine.generator()
        if isinstance(generator, LlamaCppGenerator):
            generator.forget_prompt_cache()
        finished = [event for event in engine.ask(QUESTION) if isinstance(event, Finished)][0]
        results.append(finished.answer)
    return statistics.median(answer.timings["first_token"] for answer in results[1:]), results[-1].text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--sizes", default="100000,1000000", help="memory sizes in tokens")
    parser.add_argument("--model", default=None)
    args = parser.parse_args()
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    texts = [text for _, text in stdlib_documents(48)]
    rows: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory() as folder:
        settings = EngineSettings(data_dir=Path(folder), model=args.model, device=args.device)
        with MemoryEngine.open(settings) as engine:
            rows.append(("machine", f"{args.device}, torch {torch.__version__}, {torch.get_num_threads()} threads"))
            layers = list(engine.router.spec.layers)
            rows.append(("model", f"{resolve_model(args.model).name}, router layers {layers}"))
            speed, tokens = encoding_speed(engine, texts)
            rows.append(("encoding tokens/s (memsa stage 1)", f"{speed:,.0f}  ({tokens:,} tokens, {len(texts)} docs)"))
            reference = llama_cpp_prompt_speed(engine, texts) if args.device == "cpu" else None
            if reference:
                rows.append(("llama.cpp prompt tokens/s (same GGUF)", f"{reference:,.0f}"))
                rows.append(("encoding / llama.cpp prompt", f"{speed / reference:.2f}x"))
            planted = texts[0][: len(texts[0]) // 2] + "\n\n" + FACT + "\n\n" + texts[0][len(texts[0]) // 2 :]
            engine.remember(SourceInfo("/bench/planted.md", "planted", 0, len(planted)),
                            [DocumentText(planted, 0, len(planted), "planted")])
            for size in sorted(int(value) for value in args.sizes.split(",")):
                fill_bank(engine, size, texts[1], rng)
                stats = engine.status()
                label = f"{stats.tokens / 1e6:.2f}M" if stats.tokens >= 1e6 else f"{stats.tokens / 1e3:.0f}K"
                rows.append((f"routing ms/question @ {label} tokens", f"{routing_ms(engine):.1f}"))
                first, answer = first_token_ms(engine)
                rows.append((f"first answer token ms @ {label} tokens", f"{first:.0f}  (answer: {answer[:48]!r})"))
                rows.append((f"bytes per memory token @ {label}", f"{stats.bytes_on_disk / stats.tokens:,.0f}"))
            identity = engine.bank.identity
            router_bytes = 2 * identity.router_key_dim / identity.router_chunk_tokens
            kv_bytes = 2 * 2 * identity.kv_dim / identity.chunk_tokens
            rows.append(("tensor bytes per token (router + K/V)",
                         f"{len(identity.router_layers) * (router_bytes + kv_bytes):.0f} "
                         f"= {len(identity.router_layers)} layers x ({router_bytes:.0f} + {kv_bytes:.0f})"))
    width = max(len(name) for name, _ in rows)
    print(f"{'measure':<{width}}  value")
    print(f"{'-' * width}  {'-' * 40}")
    for name, value in rows:
        print(f"{name:<{width}}  {value}")


if __name__ == "__main__":
    main()
