"""Re-reading in the harness: the engine's ``rerank`` step on a benchmark's documents.

The engine reads a candidate's passage from the memory bank's stored text and router-chunk spans; here the
same passage comes from the benchmark's text, tokenized by the model's tokenizer as the engine's encoder
tokenizes it, so the harness's "memsa" ranking is the product's.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np

from memsa.core.encoding import chunk_char_spans, tokenize_document
from memsa.core.rerank import RerankConfig, passage_text, rerank
from memsa.core.routing import RoutedDocument
from memsa.core.sentence_encoder import SentenceEncoder

from .benchmark import Document


class BenchmarkRereader:
    """Re-reads fused rankings of one benchmark's documents (``memsa.core.rerank``).

    Attributes:
        seconds: time spent re-reading so far (the sentence model included), for the report's query times.
    """

    def __init__(self, documents: Sequence[Document], tokenizer: object, chunk_tokens: int,
                 encoder: SentenceEncoder, config: RerankConfig) -> None:
        self.documents = documents
        self.tokenizer = tokenizer
        self.chunk_tokens = chunk_tokens
        self.encoder = encoder
        self.config = config
        self.seconds = 0.0
        self._spans: dict[int, np.ndarray] = {}

    def chunk_spans(self, doc_id: int) -> np.ndarray:
        """``[C, 2]`` character span of each router chunk of a document (cached)."""
        if doc_id not in self._spans:  # as the engine's encoder tokenizes (no length limit here)
            tokenized = tokenize_document(self.tokenizer, self.documents[doc_id].text, 1 << 20)
            self._spans[doc_id] = chunk_char_spans(tokenized.char_spans, self.chunk_tokens)
        return self._spans[doc_id]

    def __call__(self, question: str, ranking: Sequence[RoutedDocument]) -> list[RoutedDocument]:
        """``ranking`` with its first ``config.candidates`` documents re-read."""
        head = ranking[: self.config.candidates]
        passages = [passage_text(self.documents[doc.doc_id].text, self.chunk_spans(doc.doc_id), doc.best_chunk,
                                 self.config.passage_chars) for doc in head]
        began = time.perf_counter()
        reread = rerank(question, ranking, passages, self.encoder, self.config)
        self.seconds += time.perf_counter() - began
        return reread
