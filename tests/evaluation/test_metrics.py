"""Retrieval and answer metrics on hand-made rankings."""

from __future__ import annotations

import pytest

from memsa.evaluation.benchmark import Query, SystemRun
from memsa.evaluation.metrics import (
    abstention_scores,
    contains_answer,
    exact_match,
    f1,
    normalize_answer,
    rank_of,
    recall_at,
    retrieval_scores,
)


def test_recall_counts_the_share_of_gold_documents_in_the_top_k() -> None:
    assert recall_at([4, 2, 9], [2], 1) == 0.0
    assert recall_at([4, 2, 9], [2], 2) == 1.0
    assert recall_at([4, 2, 9], [2, 7], 3) == 0.5
    with pytest.raises(ValueError):
        recall_at([1], [], 1)


def test_rank_of_a_missing_document_is_past_the_end() -> None:
    assert rank_of([5, 6], 6) == 2
    assert rank_of([5, 6], 1) == 3


QUERIES = [
    Query("a", "exact", "?", ("x",), (1,)),
    Query("b", "updated", "?", ("y",), (2,), stale=(3,)),
    Query("c", "multihop", "?", ("z",), (4, 5)),
    Query("d", "absent", "?", (), ()),
]


def test_retrieval_scores_per_query_kind() -> None:
    run = SystemRun("s", {"a": [1, 0], "b": [3, 2], "c": [4, 9, 5], "d": [1]}, abstained=None)
    scores = retrieval_scores(run, QUERIES, ks=(1, 3))
    assert scores.queries == 3  # the absent fact is not scored for recall
    assert scores.recall[1] == pytest.approx((1 + 0 + 0.5) / 3)
    assert scores.recall[3] == pytest.approx(1.0)
    assert scores.complete[1] == pytest.approx(1 / 3)  # chain c needs both 4 and 5
    assert scores.current_first == 0.0  # the stale document 3 ranks above the current one


def test_abstention_precision_recall_and_false_abstentions() -> None:
    abstained = {"a": True, "b": False, "c": False, "d": True}
    scores = abstention_scores(abstained, QUERIES)
    assert scores.precision == 0.5 and scores.recall == 1.0
    assert scores.false_abstentions == pytest.approx(1 / 3)
    never = abstention_scores(dict.fromkeys("abcd", False), QUERIES)
    assert never.precision is None and never.recall == 0.0


def test_squad_normalisation_exact_match_and_f1() -> None:
    assert normalize_answer("The  Denver Broncos!") == "denver broncos"
    assert exact_match("the Denver Broncos [3]", ["Denver Broncos"]) == 1.0
    assert exact_match("Broncos", ["Denver Broncos"]) == 0.0
    assert f1("Broncos", ["Denver Broncos"]) == pytest.approx(2 / 3)
    assert f1("nothing alike", ["Denver Broncos", "x"]) == 0.0
    assert contains_answer("It opens with 03-58-01 [12].", ["03-58-01"]) == 1.0
    assert contains_answer("It opens with 03-58-011.", ["03-58-01"]) == 0.0
