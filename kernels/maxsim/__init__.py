"""Routing max-sim, ``scores[c] = max_t <queries[t], keys[c]>``, with the backend chosen in one place.

Backends: "fused" (Triton, ``fused.py``) and "naive" (plain PyTorch, ``naive.py``), same signature.
The default is "fused" when the keys are on CUDA in a dtype it takes and triton imports, else "naive".
A ``backend`` argument wins; otherwise the process switch ``MEMSA_KERNEL_BACKEND=naive|fused`` (read
here and nowhere else) forces one, e.g. to compare the two or to rule the kernel out of a bug.
"""

from __future__ import annotations

import importlib.util
import os

import torch
from torch import Tensor

from . import naive

BACKENDS = ("naive", "fused")
BACKEND_ENV_VAR = "MEMSA_KERNEL_BACKEND"
FUSED_DTYPES = (torch.float16, torch.bfloat16, torch.float32)  # key dtypes ``fused.py`` takes


def choose_backend(keys: Tensor, backend: str | None = None) -> str:
    """Name the backend that will score ``keys`` ([C, D]): the argument, else the env var, else the default.

    Raises:
        ValueError: an unknown backend name, from the argument or from ``MEMSA_KERNEL_BACKEND``.
    """
    chosen = backend or os.environ.get(BACKEND_ENV_VAR) or None
    if chosen is None:
        fused_fits = keys.device.type == "cuda" and keys.dtype in FUSED_DTYPES
        return "fused" if fused_fits and importlib.util.find_spec("triton") is not None else "naive"
    if chosen not in BACKENDS:
        raise ValueError(f"unknown max-sim backend {chosen!r} (from the argument or {BACKEND_ENV_VAR}); "
                         f"choose one of {BACKENDS}")
    return chosen


def maxsim_scores(queries: Tensor, keys: Tensor, *, backend: str | None = None,
                  out: Tensor | None = None) -> Tensor:
    """Score every stored key by its best dot product with any query, streaming over the keys.

    Args:
        queries: [Tq, D] question vectors, Tq >= 1.
        keys: [C, D] stored chunk keys: float32 on CPU; float16/bfloat16/float32 on GPU.
        backend: "naive" or "fused"; None picks as the module docstring says.
        out: optional contiguous [C] float32 buffer on the keys' device to write into.

    Returns:
        [C] float32 scores on the keys' device.

    Raises:
        ValueError: bad shapes or dtypes, an unknown backend, or "fused" where it cannot run.
        ImportError: "fused" forced where triton is not installed.
    """
    if choose_backend(keys, backend) == "fused":
        from . import fused  # imported on first use: triton is optional and slow to import

        return fused.maxsim_scores(queries, keys, out=out)
    return naive.maxsim_scores(queries, keys, out=out)
