"""Re-reading: a sentence-embedding model reorders the first documents of the fused ranking.

Routing (``routing.py``) and the exact-words index (``lexical.py``) find the right document among millions of
memory tokens, but a reworded question ("Where did Mateo rent an apartment?" for "Mateo finally signed the
lease for a flat on Quarry Hill") often leaves it below the same person's other facts, because the frozen
135M backbone does not know the paraphrase. Re-reading looks again at the first ``candidates`` documents
only: each one's passage around its best router chunk (the passage its citation shows) is split into
sentences, a sentence model (``sentence_encoder.py``) embeds them and the question, and a document scores
its best sentence's cosine minus ``rank_prior`` times log(1 + its fused rank), so the fused order still
decides between equally good sentences.

Re-reading changes which document holds each place, not the places' scores: the k-th re-read document takes
the k-th fused score and relative score. The calibrated rules downstream (the abstention bar, the reading
bar and the score-step cut of ``interleave/evidence.py``) see the score profile they were calibrated on.

The knobs were chosen on questions kept apart from the reported ones (SQuAD-dev's first half of articles, a
1M-token haystack of dev needle templates; H100, ``memsa eval --rerank-chars N --rerank-prior A``): 900
characters beat 420 on SQuAD (recall@5 0.971 against 0.957 at prior 0.1, 2-core CPU, 276 questions), and
priors 0.075 and 0.1 tie (recall@5 0.968 / 0.971, recall@1 0.857 / 0.855 on 806 questions; the haystack
identical); lower priors let a stray sentence outrank the fused leader (0.03: 0.949). Numbers: README.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from .answering import excerpt_span
from .errors import InvalidInput
from .interleave.evidence import sentences
from .routing import RoutedDocument
from .sentence_encoder import SentenceEncoder


@dataclass(frozen=True)
class RerankConfig:
    """Knobs of re-reading.

    Attributes:
        enabled: re-read at all; off, the fused ranking is the product's.
        candidates: the first documents of the fused ranking that are re-read (the rest keep their places).
        passage_chars: characters of each document read, around its best router chunk.
        rank_prior: weight of log(1 + fused rank) subtracted from a document's best sentence cosine.
        min_words: a sentence needs this many words to be read alone ("Yes." says nothing by itself).
    """

    enabled: bool = True
    candidates: int = 16
    passage_chars: int = 900
    rank_prior: float = 0.075
    min_words: int = 3

    def __post_init__(self) -> None:
        if self.candidates < 1 or self.passage_chars < 50 or self.min_words < 1:
            raise InvalidInput("re-reading needs candidates >= 1, passage_chars >= 50 and min_words >= 1")
        if self.rank_prior < 0:
            raise InvalidInput("rank_prior must not be negative")


DEFAULT_RERANK = RerankConfig()


def passage_text(text: str, chunk_spans: np.ndarray, best_chunk: int, chars: int) -> str:
    """The passage of a document that is re-read: about ``chars`` characters of ``text`` around its best
    router chunk, whole sentences (the span its citation shows, ``answering.excerpt_span``).

    Args:
        chunk_spans: ``[C, 2]`` character span of each router chunk.
    """
    start, end = excerpt_span(text, chunk_spans, best_chunk, chars)
    return text[start:end]


def passage_sentences(passage: str, min_words: int) -> list[str]:
    """The sentences of ``passage`` with at least ``min_words`` words, whitespace collapsed; the whole
    passage when none has."""
    found = [" ".join(sentence.text.split()) for sentence in sentences(passage)]
    kept = [text for text in found if len(text.split()) >= min_words]
    return kept or [" ".join(passage.split())]


def best_sentence_scores(question: str, passages: Sequence[str], encoder: SentenceEncoder,
                         min_words: int) -> np.ndarray:
    """Cosine between the question and each passage's best sentence.

    Returns:
        ``[len(passages)]`` float64.
    """
    split = [passage_sentences(passage, min_words) for passage in passages]
    vectors = encoder.embed([question] + [text for texts in split for text in texts])  # [1 + S, D]
    cosines = vectors[1:] @ vectors[0]  # [S]
    return np.array([float(part.max()) for part in torch.split(cosines, [len(texts) for texts in split])])


def rerank(question: str, ranking: Sequence[RoutedDocument], passages: Sequence[str], encoder: SentenceEncoder,
           config: RerankConfig = DEFAULT_RERANK) -> list[RoutedDocument]:
    """The ranking with its first ``len(passages)`` documents re-read (see the module docstring).

    Args:
        ranking: the fused ranking, best first (``lexical.fused_ranking``).
        passages: the text read of each of the first documents, ``ranking[: len(passages)]`` in order.

    Returns:
        The same documents; the re-read ones reordered, each holding its new place's score and relative score.
    """
    head = list(ranking[: len(passages)])
    if len(head) != len(passages):
        raise InvalidInput(f"{len(passages)} passages for {len(head)} documents")
    if len(head) < 2:
        return list(ranking)
    cosines = best_sentence_scores(question, passages, encoder, config.min_words)
    merit = cosines - config.rank_prior * np.log1p(np.arange(len(head)))
    order = np.argsort(-merit, kind="stable")
    reread = [
        dataclasses.replace(head[int(index)], score=place.score, relative_score=place.relative_score)
        for index, place in zip(order, head, strict=True)
    ]
    return reread + list(ranking[len(head):])

