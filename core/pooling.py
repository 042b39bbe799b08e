"""Chunk-mean pooling: the only per-document reduction MSA keeps."""

from __future__ import annotations

import math

import torch


def chunk_count(n_tokens: int, chunk_tokens: int) -> int:
    """Chunks of ``chunk_tokens`` covering ``n_tokens`` (the last one may be short)."""
    return math.ceil(n_tokens / chunk_tokens)


def chunk_mean(values: torch.Tensor, chunk_tokens: int) -> torch.Tensor:
    """Mean over consecutive chunks of tokens; the last chunk averages only the tokens it has.

    Args:
        values: [T, ...] per-token tensor of one document (no padding).
        chunk_tokens: P, tokens per chunk.

    Returns:
        [ceil(T / P), ...] float32 chunk means.
    """
    n_tokens = values.shape[0]
    n_chunks = chunk_count(n_tokens, chunk_tokens)
    padded = torch.zeros((n_chunks * chunk_tokens, *values.shape[1:]), dtype=torch.float32, device=values.device)
    padded[:n_tokens] = values.float()
    sums = padded.view(n_chunks, chunk_tokens, *values.shape[1:]).sum(dim=1)
    counts = torch.full((n_chunks,), float(chunk_tokens), device=values.device)
    counts[-1] = n_tokens - (n_chunks - 1) * chunk_tokens
    return sums / counts.view(-1, *([1] * (values.dim() - 1)))
