"""Retrieval and answer metrics: document recall@k, update order, abstention, SQuAD exact match and F1."""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from .benchmark import Query, SystemRun

RECALL_AT = (1, 5, 16)


def recall_at(ranking: Sequence[int], gold: Sequence[int], k: int) -> float:
    """Share of the gold documents found in the first ``k`` of ``ranking`` (1.0 or 0.0 for one gold)."""
    if not gold:
        raise ValueError("recall needs at least one gold document")
    top = set(ranking[:k])
    return sum(doc in top for doc in gold) / len(gold)


def rank_of(ranking: Sequence[int], doc: int) -> int:
    """1-based position of ``doc`` in ``ranking``; len(ranking) + 1 when it is not there."""
    return ranking.index(doc) + 1 if doc in ranking else len(ranking) + 1


@dataclass(frozen=True)
class RetrievalScores:
    """One system's retrieval quality on one group of queries.

    Attributes:
        queries: answerable queries scored.
        recall: k -> mean recall@k.
        complete: k -> share of queries with *every* gold document in the top k (chains).
        current_first: share of updated-fact queries whose current document ranks above the stale one
            (None where the group has none).
    """

    queries: int
    recall: dict[int, float]
    complete: dict[int, float]
    current_first: float | None = None


def retrieval_scores(run: SystemRun, queries: Sequence[Query], ks: Sequence[int] = RECALL_AT) -> RetrievalScores:
    """Recall of ``run`` over the answerable ``queries``."""
    answerable = [query for query in queries if not query.absent]
    if not answerable:
        return RetrievalScores(0, {}, {})
    recall = {k: _mean([recall_at(run.rankings[q.qid], q.gold, k) for q in answerable]) for k in ks}
    complete = {k: _mean([float(recall_at(run.rankings[q.qid], q.gold, k) == 1.0) for q in answerable]) for k in ks}
    with_stale = [query for query in answerable if query.stale]
    current_first = None
    if with_stale:
        current_first = _mean([
            float(rank_of(run.rankings[q.qid], q.gold[0]) < min(rank_of(run.rankings[q.qid], s) for s in q.stale))
            for q in with_stale
        ])
    return RetrievalScores(len(answerable), recall, complete, current_first)


@dataclass(frozen=True)
class AbstentionScores:
    """How well a system says "not in memory".

    Attributes:
        precision: of the queries it abstained on, the share that truly had no answer (None: it never
            abstained).
        recall: of the queries without an answer, the share it abstained on.
        false_abstentions: of the answerable queries, the share it wrongly abstained on.
    """

    precision: float | None
    recall: float | None
    false_abstentions: float | None


def abstention_scores(abstained: dict[str, bool], queries: Sequence[Query]) -> AbstentionScores:
    """Abstention quality, treating queries with no gold document as the ones to abstain on."""
    chosen = [query for query in queries if abstained[query.qid]]
    absent = [query for query in queries if query.absent]
    answerable = [query for query in queries if not query.absent]
    return AbstentionScores(
        precision=_mean([float(q.absent) for q in chosen]) if chosen else None,
        recall=_mean([float(abstained[q.qid]) for q in absent]) if absent else None,
        false_abstentions=_mean([float(abstained[q.qid]) for q in answerable]) if answerable else None,
    )


_ARTICLES = re.compile(r"\b(a|an|the)\b")
_CITATION = re.compile(r"\[\d+\]")


def normalize_answer(text: str) -> str:
    """SQuAD v1.1 normalisation: lower case, no punctuation, no articles, single spaces."""
    text = "".join(ch for ch in text.lower() if ch not in set(string.punctuation))
    return " ".join(_ARTICLES.sub(" ", text).split())


def exact_match(prediction: str, answers: Sequence[str]) -> float:
    """1.0 when the normalised prediction equals a normalised gold answer."""
    predicted = normalize_answer(_CITATION.sub(" ", prediction))
    return float(any(predicted == normalize_answer(answer) for answer in answers))


def f1(prediction: str, answers: Sequence[str]) -> float:
    """Best token-overlap F1 (SQuAD v1.1) of the prediction against any gold answer."""
    predicted = normalize_answer(_CITATION.sub(" ", prediction)).split()
    best = 0.0
    for answer in answers:
        gold = normalize_answer(answer).split()
        common = sum((Counter(predicted) & Counter(gold)).values())
        if common:
            precision, recall = common / len(predicted), common / len(gold)
            best = max(best, 2 * precision * recall / (precision + recall))
    return best


def contains_answer(prediction: str, answers: Sequence[str]) -> float:
    """1.0 when a normalised gold answer appears inside the normalised prediction (sentence answers)."""
    predicted = f" {normalize_answer(_CITATION.sub(' ', prediction))} "
    return float(any(f" {normalize_answer(answer)} " in predicted for answer in answers if answer.strip()))


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0
