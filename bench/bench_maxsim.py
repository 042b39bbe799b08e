"""Benchmark routing max-sim: ms per call and effective GB/s, naive vs fused, on CUDA if present else CPU.

Run: ``python bench/bench_maxsim.py [--dtype bfloat16]``. On CPU only the naive backend runs (the fused
kernel needs a GPU) and keys are float32; on CUDA the timings come from ``triton.testing.do_bench``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from functools import partial

import torch
from torch import Tensor

from memsa.kernels.maxsim import naive

KEY_COUNTS = (15_625, 156_250, 1_562_500)
DIMS = (192, 576)
QUERY_TOKENS = 32


def median_ms_on_cpu(call: Callable[[], Tensor], min_repeats: int = 3, budget_s: float = 1.0) -> float:
    """Median wall time of ``call`` in ms over at least ``min_repeats`` calls and about ``budget_s``.

    The first call is timed too: the median already discards one slow warm-up, and the largest
    cases take seconds a call, so a separate warm-up would double the run.
    """
    times: list[float] = []
    started = time.perf_counter()
    while len(times) < min_repeats or time.perf_counter() - started < budget_s:
        tick = time.perf_counter()
        call()
        times.append(time.perf_counter() - tick)
    return 1e3 * statistics.median(times)


def random_buffer(numel: int, dtype: torch.dtype, device: torch.device) -> Tensor:
    """[numel] values tiled from a small random block: real memory to stream, without seconds of RNG."""
    block = torch.rand(1 << 16, dtype=dtype, device=device) - 0.5
    return block.repeat(-(-numel // block.numel()))[:numel]


def useful_bytes(queries: Tensor, keys: Tensor) -> int:
    """Bytes any max-sim must move: read queries and keys once, write one fp32 score per key."""
    return (queries.numel() * queries.element_size() + keys.numel() * keys.element_size()
            + keys.shape[0] * 4)


def backends(device: torch.device) -> dict[str, Callable[[Tensor, Tensor], Tensor]]:
    """The backends that can run on ``device``: naive always, fused on CUDA."""
    chosen: dict[str, Callable[[Tensor, Tensor], Tensor]] = {"naive": naive.maxsim_scores}
    if device.type == "cuda":
        from memsa.kernels.maxsim import fused

        chosen["fused"] = fused.maxsim_scores
    return chosen


def gpu_ms(call: Callable[[], Tensor]) -> float:
    """Median GPU time of ``call`` in ms, from ``triton.testing.do_bench`` (first call autotunes)."""
    import triton.testing

    return float(triton.testing.do_bench(call))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dtype", default="bfloat16", choices=["float16", "bfloat16", "float32"],
                        help="key dtype on CUDA (CPU always uses float32)")
    args = parser.parse_args()
    on_gpu = torch.cuda.is_available()
    device = torch.device("cuda" if on_gpu else "cpu")
    dtype = getattr(torch, args.dtype) if on_gpu else torch.float32
    time_ms = gpu_ms if on_gpu else median_ms_on_cpu
    where = torch.cuda.get_device_name() if on_gpu else f"CPU, {torch.get_num_threads()} threads"
    print(f"# max-sim, Tq={QUERY_TOKENS}, keys {dtype}, {where}")
    print(f"{'backend':>7} {'C':>10} {'D':>5} {'ms/call':>10} {'GB/s':>8}")
    key_buffer = random_buffer(max(KEY_COUNTS) * max(DIMS), dtype, device)
    for dim in DIMS:
        queries = torch.randn(QUERY_TOKENS, dim, dtype=dtype, device=device)
        for count in KEY_COUNTS:
            keys = key_buffer[:count * dim].view(count, dim)
            for backend, scores in backends(device).items():
                ms = time_ms(partial(scores, queries, keys))
                gbps = useful_bytes(queries, keys) / (ms * 1e-3) / 1e9
                print(f"{backend:>7} {count:>10,} {dim:>5} {ms:>10.3f} {gbps:>8.1f}")

if __name__ == "__main__":
    main()
