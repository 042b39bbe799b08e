"""Routing benchmark: stage-2 time per question for router files at 100K and 1M memory tokens, side by side.

Run: .venv/bin/python bench/bench_routing.py [--router FILE ...] [--sizes 100000,1000000] [--threads 2]

Each router scores the same bank shape its geometry implies (``router_chunk_tokens``, ``key_dim``, its
layers): float32 router keys resident in RAM, as ``MemoryBank.router_keys`` serves them, in documents of
512 tokens. Rows are synthetic per-head unit vectors: scoring cost depends only on the shapes; the
question states are real (one question run through the default model). Routers are timed in alternation
so a busy machine slows them alike; the table gives the median of ``--repeats`` runs and each router's
ratio to the first one.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

from memsa.core.decoder import Decoder
from memsa.core.memory.records import RouterKeyMatrix
from memsa.core.models import load_model, resolve_model
from memsa.core.router import RouterProjectors, shipped_router_dir
from memsa.core.routing import question_states as encode_question
from memsa.core.routing import route
from memsa.core.settings import default_cache_dir

DOC_TOKENS = 512
QUESTION = "Which river flows through the city where the treaty was signed in 1648?"


def synthetic_bank(router: RouterProjectors, memory_tokens: int, seed: int) -> dict[int, RouterKeyMatrix]:
    """layer -> live router keys for ``memory_tokens`` tokens in 512-token documents."""
    spec = router.spec
    chunks_per_doc = DOC_TOKENS // spec.router_chunk_tokens
    n_docs = max(1, memory_tokens // DOC_TOKENS)
    doc_ids = torch.arange(n_docs).repeat_interleave(chunks_per_doc)
    chunk_index = torch.arange(chunks_per_doc).repeat(n_docs)
    generator = torch.Generator().manual_seed(seed)
    matrices = {}
    for layer in spec.layers:
        keys = torch.randn(n_docs * chunks_per_doc, spec.n_heads, spec.head_dim, generator=generator)
        matrices[layer] = RouterKeyMatrix(torch.nn.functional.normalize(keys, dim=-1).flatten(1), doc_ids,
                                          chunk_index)
    return matrices


def question_states(layers: set[int]) -> dict[int, torch.Tensor]:
    """Router-layer inputs of :data:`QUESTION`, run through the default model: layer -> [Tq, hidden]."""
    loaded = load_model(resolve_model(None), cache_dir=default_cache_dir())
    states = encode_question(Decoder(loaded.model), loaded.tokenizer, QUESTION, sorted(layers))
    return {layer: state.float() for layer, state in states.items()}


def time_routing(routers: list[RouterProjectors], sizes: list[int], repeats: int, top_k: int
                 ) -> dict[int, list[float]]:
    """size -> median milliseconds of :func:`route` per router, timed in alternation."""
    layers = {layer for router in routers for layer in router.spec.layers}
    states = question_states(layers)
    results = {}
    for size in sizes:
        banks = [synthetic_bank(router, size, seed=index) for index, router in enumerate(routers)]
        for router, bank in zip(routers, banks, strict=True):
            route(router, states, bank.__getitem__, top_k)  # warm-up
        times: list[list[float]] = [[] for _ in routers]
        for _ in range(repeats):
            for index, (router, bank) in enumerate(zip(routers, banks, strict=True)):
                started = time.perf_counter()
                route(router, states, bank.__getitem__, top_k)
                times[index].append((time.perf_counter() - started) * 1000)
        results[size] = [statistics.median(values) for values in times]
        del banks
    return results


def bytes_per_token(router: RouterProjectors) -> float:
    """Router-key bytes per memory token: float16 on disk (and float32 in RAM, twice this)."""
    spec = router.spec
    return len(spec.layers) * 2 * spec.key_dim / spec.router_chunk_tokens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--router", type=Path, action="append", default=[],
                        help="router file (repeatable; default: the shipped ones)")
    parser.add_argument("--sizes", default="100000,1000000", help="memory sizes in tokens")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--top-k", type=int, default=16)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    paths = args.router or sorted(shipped_router_dir().glob("*.safetensors"))
    routers = [RouterProjectors.load(path) for path in paths]
    sizes = [int(size) for size in args.sizes.split(",")]
    results = time_routing(routers, sizes, args.repeats, args.top_k)
    print(f"routing ms per question, median of {args.repeats}, {args.threads} threads, top-k {args.top_k}")
    header = f"{'router':<34} {'reduction':<9} {'layers':<20} {'B/token':>7}"
    print(header + "".join(f" {f'{size:,} tok':>14} {'ratio':>6}" for size in sizes))
    for index, (path, router) in enumerate(zip(paths, routers, strict=True)):
        spec = router.spec
        line = (f"{path.name[:34]:<34} {spec.query_reduction:<9} {','.join(map(str, spec.layers)):<20} "
                f"{bytes_per_token(router):>7.0f}")
        for size in sizes:
            line += f" {results[size][index]:>14.1f} {results[size][index] / results[size][0]:>6.2f}"
        print(line)


if __name__ == "__main__":
    main()
