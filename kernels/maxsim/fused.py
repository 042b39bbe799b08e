"""Triton routing max-sim: one pass over the keys with a running max, never a [Tq, C] matrix."""

from __future__ import annotations

from typing import Any

import torch
import triton
import triton.language as tl
from torch import Tensor

from . import FUSED_DTYPES
from .naive import check_maxsim_inputs

# Bytes saved, per key row, against the naive path (fp16 keys, D=576, Tq=32):
#   naive: read k (2*D = 1152) + write and re-read its fp32 copy (2*4*D = 4608)
#          + write and re-read the [rows, Tq] fp32 block (2*4*Tq = 256) + write the score (4) = 6020 B
#   fused: read k (1152) + write the score (4) = 1156 B, about 5.2x less traffic.
# Against materialising the whole [Tq, C] fp32 matrix it also avoids 4*Tq*C bytes of memory
# (1.28 GB at Tq=32, C=10M) written once and read back once.
_CONFIGS = [
    triton.Config({"BLOCK_C": c, "BLOCK_T": t, "BLOCK_D": d}, num_warps=8 if c * t >= 8192 else 4,
                  num_stages=3)
    for c in (64, 128, 256)
    for t in (16, 32, 64)
    for d in (64, 128)
]
# The interpreter (TRITON_INTERPRET=1) cannot time configs, and small tiles keep it quick.
_INTERPRETER_BLOCKS = {"BLOCK_C": 64, "BLOCK_T": 16, "BLOCK_D": 32}


def _tq_bucket(tq: int) -> int:
    """Autotune key for the query count: the next power of two, so each new Tq does not re-tune."""
    return min(triton.next_power_of_2(tq), 512)


def _prune_configs(configs: list[triton.Config], named_args: dict[str, Any], **_: Any) -> list[triton.Config]:
    """Drop query tiles wider than the (bucketed) query count: they would only compute masked columns."""
    widest = max(16, named_args["TQ_BUCKET"])
    return [cfg for cfg in configs if cfg.kwargs["BLOCK_T"] <= widest]


@triton.autotune(configs=_CONFIGS, key=["D", "TQ_BUCKET"],
                 prune_configs_by={"early_config_prune": _prune_configs})
@triton.jit
def _maxsim_kernel(
    q_ptr, k_ptr, out_ptr,  # q: [Tq, D], k: [C, D], out: [C] fp32
    Tq, C, TQ_BUCKET,
    stride_qt, stride_qd, stride_kc, stride_kd,
    D: tl.constexpr,  # fixed per model, so the D loop has a known trip count
    BLOCK_C: tl.constexpr, BLOCK_T: tl.constexpr, BLOCK_D: tl.constexpr,
):
    # int64 rows: C * D passes 2**31 at a few million keys.
    offs_c = tl.program_id(0).to(tl.int64) * BLOCK_C + tl.arange(0, BLOCK_C)  # [BLOCK_C]
    mask_c = offs_c < C
    best = tl.full([BLOCK_C], float("-inf"), dtype=tl.float32)
    # A while, not range(0, Tq, BLOCK_T): triton 3.6's interpreter cannot index a runtime scalar under
    # numpy >= 2.4 (triton-lang/triton#9171). Only the inner D loop is worth software-pipelining anyway.
    t0 = 0
    while t0 < Tq:
        offs_t = t0 + tl.arange(0, BLOCK_T)  # [BLOCK_T]
        mask_t = offs_t < Tq
        acc = tl.zeros([BLOCK_C, BLOCK_T], dtype=tl.float32)
        for d0 in range(0, D, BLOCK_D):
            offs_d = d0 + tl.arange(0, BLOCK_D)  # [BLOCK_D]
            mask_d = offs_d < D
            k = tl.load(k_ptr + offs_c[:, None] * stride_kc + offs_d[None, :] * stride_kd,
                        mask=mask_c[:, None] & mask_d[None, :], other=0.0)  # [BLOCK_C, BLOCK_D]
            q = tl.load(q_ptr + offs_t[None, :] * stride_qt + offs_d[:, None] * stride_qd,
                        mask=mask_t[None, :] & mask_d[:, None], other=0.0)  # [BLOCK_D, BLOCK_T]
            # "ieee" keeps fp32 keys exact (no tf32); fp16/bf16 ignore it.
            acc = tl.dot(k, q, acc, input_precision="ieee")
        # Padded query columns scored 0, which would beat an all-negative row: mask them out of the max.
        acc = tl.where(mask_t[None, :], acc, float("-inf"))
        best = tl.maximum(best, tl.max(acc, axis=1))
        t0 += BLOCK_T
    tl.store(out_ptr + offs_c, best, mask=mask_c)


# Triton picks the interpreter when the kernel is decorated, i.e. when this module is imported.
INTERPRETED = not isinstance(_maxsim_kernel.fn, triton.runtime.JITFunction)


def maxsim_scores(queries: Tensor, keys: Tensor, block_rows: int = 16384, *,
                  out: Tensor | None = None) -> Tensor:
    """Score every key by its best dot product with any query: ``scores[c] = max_t <q_t, k_c>``.

    One launch covers all of C; each program streams BLOCK_C key rows through Tq and D tiles, holding
    only a [BLOCK_C, BLOCK_T] fp32 accumulator. Queries are cast to the keys' dtype for ``tl.dot``.

    Args:
        queries: [Tq, D] question vectors, any float dtype, any device (moved to the keys' device).
        keys: [C, D] stored chunk keys, float16/bfloat16/float32, on CUDA (or CPU under TRITON_INTERPRET=1).
        block_rows: accepted so both backends share one signature; the fused kernel's row tile is
            autotuned, so only its validity is checked.
        out: optional contiguous [C] float32 buffer on the keys' device to write into.

    Returns:
        [C] float32 scores on the keys' device (``out`` when given).

    Raises:
        ValueError: bad shapes or dtypes (see ``check_maxsim_inputs``), CPU keys without the interpreter,
            or bfloat16 keys under the interpreter.
    """
    check_maxsim_inputs(queries, keys, block_rows, out)
    if keys.dtype not in FUSED_DTYPES:
        raise ValueError(f"the fused max-sim kernel takes {FUSED_DTYPES} keys, got {keys.dtype}; "
                         "use the naive backend")
    if INTERPRETED and keys.dtype == torch.bfloat16:
        raise ValueError("bfloat16 keys cannot run under TRITON_INTERPRET=1: triton 3.6's interpreter "
                         "multiplies their raw bits in tl.dot; test with float16/float32 or on the GPU")
    if keys.device.type != "cuda" and not INTERPRETED:
        raise ValueError("the fused max-sim kernel needs CUDA keys; for CPU tensors set TRITON_INTERPRET=1 "
                         "before triton is imported, or use the naive backend")
    scores = torch.empty(keys.shape[0], dtype=torch.float32, device=keys.device) if out is None else out
    n_keys, dim = keys.shape
    if n_keys == 0:
        return scores
    q = queries.to(device=keys.device, dtype=keys.dtype)  # [Tq, D]
    args = (q, keys, scores, q.shape[0], n_keys, _tq_bucket(q.shape[0]),
            q.stride(0), q.stride(1), keys.stride(0), keys.stride(1), dim)
    if INTERPRETED:
        grid = (triton.cdiv(n_keys, _INTERPRETER_BLOCKS["BLOCK_C"]),)
        _maxsim_kernel.fn[grid](*args, **_INTERPRETER_BLOCKS)
        return scores
    with torch.cuda.device(keys.device):
        _maxsim_kernel[lambda meta: (triton.cdiv(n_keys, meta["BLOCK_C"]),)](*args)
    return scores
