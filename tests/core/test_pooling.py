"""Chunk-mean pooling, including the short last chunk, and chunk character spans."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from memsa.core.encoding import chunk_char_spans
from memsa.core.pooling import chunk_count, chunk_mean


@pytest.mark.parametrize("n_tokens,chunk", [(1, 4), (4, 4), (5, 4), (17, 16), (64, 64), (130, 64)])
def test_chunk_mean_matches_a_loop(n_tokens: int, chunk: int) -> None:
    values = torch.randn(n_tokens, 3, 5, dtype=torch.float16)
    pooled = chunk_mean(values, chunk)
    expected = torch.stack([values[s : s + chunk].float().mean(0) for s in range(0, n_tokens, chunk)])
    assert pooled.shape == (chunk_count(n_tokens, chunk), 3, 5) and pooled.dtype == torch.float32
    torch.testing.assert_close(pooled, expected)


def test_chunk_char_spans_cover_first_to_last_token_of_each_chunk() -> None:
    token_spans = np.array([[0, 3], [4, 9], [10, 12], [13, 20], [21, 25]])
    assert chunk_char_spans(token_spans, 2).tolist() == [[0, 9], [10, 20], [21, 25]]
    assert chunk_char_spans(token_spans, 8).tolist() == [[0, 25]]
