"""Plain PyTorch routing max-sim: the reference the fused kernel must match."""

from __future__ import annotations

import torch
from torch import Tensor


def check_maxsim_inputs(queries: Tensor, keys: Tensor, block_rows: int, out: Tensor | None) -> None:
    """Reject inputs that no max-sim backend can score.

    Args:
        queries: [Tq, D] question vectors, Tq >= 1.
        keys: [C, D] stored chunk keys, floating point.
        block_rows: key rows per step, >= 1.
        out: optional contiguous [C] float32 buffer on the keys' device.

    Raises:
        ValueError: on a wrong rank, mismatched D, no queries, a non-float dtype or a bad buffer.
    """
    if queries.dim() != 2 or keys.dim() != 2:
        raise ValueError(f"expected queries [Tq, D] and keys [C, D], got {tuple(queries.shape)} and "
                         f"{tuple(keys.shape)}")
    if queries.shape[1] != keys.shape[1]:
        raise ValueError(f"queries have D={queries.shape[1]} but keys have D={keys.shape[1]}")
    if queries.shape[0] == 0:
        raise ValueError("max-sim needs at least one query vector (Tq >= 1)")
    if not (queries.is_floating_point() and keys.is_floating_point()):
        raise ValueError(f"expected floating-point tensors, got {queries.dtype} and {keys.dtype}")
    if block_rows < 1:
        raise ValueError(f"block_rows must be >= 1, got {block_rows}")
    if out is not None and (out.shape != (keys.shape[0],) or out.dtype != torch.float32
                            or out.device != keys.device or not out.is_contiguous()):
        raise ValueError(f"out must be a contiguous float32 [{keys.shape[0]}] tensor on {keys.device}, got "
                         f"{out.dtype} {tuple(out.shape)} on {out.device}")


def maxsim_scores(queries: Tensor, keys: Tensor, block_rows: int = 16384, *,
                  out: Tensor | None = None) -> Tensor:
    """Score every key by its best dot product with any query: ``scores[c] = max_t <q_t, k_c>``.

    Keys are streamed ``block_rows`` at a time, so the peak extra memory is a [block_rows, D] float32
    copy plus a [block_rows, Tq] score block, never [Tq, C].

    Args:
        queries: [Tq, D] question vectors, any float dtype, any device (moved to the keys' device).
        keys: [C, D] stored chunk keys, any float dtype, CPU or GPU.
        block_rows: key rows per matmul block.
        out: optional contiguous [C] float32 buffer on the keys' device to write into.

    Returns:
        [C] float32 scores on the keys' device (``out`` when given).

    Raises:
        ValueError: see ``check_maxsim_inputs``.
    """
    check_maxsim_inputs(queries, keys, block_rows, out)
    scores = torch.empty(keys.shape[0], dtype=torch.float32, device=keys.device) if out is None else out
    q = queries.to(device=keys.device, dtype=torch.float32)  # [Tq, D]
    for start in range(0, keys.shape[0], block_rows):
        k = keys[start:start + block_rows].to(torch.float32)  # [rows, D]
        torch.amax(k @ q.T, dim=1, out=scores[start:start + k.shape[0]])  # [rows, Tq] -> [rows]
    return scores
