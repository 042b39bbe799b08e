"""Exact-words retrieval: safe FTS5 queries from any question, and the rule fusing them with the router."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from memsa.core.errors import InvalidInput
from memsa.core.lexical import FusionConfig, LexicalHit, Matches, fuse, lexical_ranking, match_expression
from memsa.core.memory.index import MemoryIndex
from memsa.core.memory.records import NewDocument, SourceInfo
from memsa.core.routing import RoutedDocument

TEXTS = {
    "code": "The shed padlock code is QX-4471-B, written on the back of the map.",
    "other code": "Locker QX-9000 and bay B are on the second floor.",
    "operators": "cats AND dogs NEAR the door; a wildcard* and a ^caret",
    "russian": "Москва — столица России; встреча в Москве в пятницу.",
    "accents": "Le café de la gare ouvre à sept heures.",
    "plain": "Nothing to see here, only a weather report about rain.",
}


@pytest.fixture
def matches(tmp_path: Path) -> Iterator[tuple[Matches, dict[str, int]]]:
    """An index holding ``TEXTS`` (unencoded documents, so every one is searchable) and their ids by name."""
    index = MemoryIndex.open(tmp_path / "index.sqlite3")
    ids = {}
    with index.transaction():
        source_id = index.upsert_source(SourceInfo("/notes/all.txt", "h", 0, 0))
        for name, text in TEXTS.items():
            ids[name] = index.insert_document(source_id, NewDocument(text, 0, len(text), name, None), None, None)
    yield (lambda expression, limit: index.lexical_matches(expression, limit, encoded_only=False)), ids
    index.close()


@pytest.mark.parametrize("question", [
    'what is "QX-4471-B"?', 'code" OR "x', "cats AND dogs", "NEAR(cats dogs, 2)", "wildcard*", "^caret",
    "text:cats", "a - b + c", "(unbalanced", '"', "'; DROP TABLE documents; --", "NOT cats",
])
def test_user_text_is_never_read_as_query_syntax(
    matches: tuple[Matches, dict[str, int]], question: str
) -> None:
    lookup, _ = matches
    hits = lexical_ranking(lookup, question, 10)  # would raise apsw.SQLError on FTS5 syntax
    assert all(isinstance(hit, LexicalHit) and hit.score > 0 for hit in hits)


def test_expression_quotes_every_word_and_drops_function_words() -> None:
    assert match_expression('What is the code "QX-4471-B" of the shed?') == '"code" OR "QX" OR "4471" OR "B" OR "shed"'
    assert match_expression("cats AND dogs NEAR(x)") == '"cats" OR "dogs" OR "NEAR" OR "x"'  # "and" is a function word
    assert match_expression("Cats cats CATS") == '"Cats"'
    for nothing in ("", "   ", "?!…", "what is the", "-- ; ()"):
        assert match_expression(nothing) is None


def test_exact_code_ranks_its_document_first(matches: tuple[Matches, dict[str, int]]) -> None:
    lookup, ids = matches
    hits = lexical_ranking(lookup, "Which note has QX-4471-B?", 10)
    assert hits[0].doc_id == ids["code"]
    assert ids["other code"] in [hit.doc_id for hit in hits[1:]]  # shares QX and B only
    assert [hit.score for hit in hits] == sorted((hit.score for hit in hits), reverse=True)


def test_operator_words_are_searched_as_words(matches: tuple[Matches, dict[str, int]]) -> None:
    lookup, ids = matches
    assert lexical_ranking(lookup, "NEAR wildcard*", 10)[0].doc_id == ids["operators"]
    assert lexical_ranking(lookup, "caret", 10)[0].doc_id == ids["operators"]


def test_non_latin_words_and_accents(matches: tuple[Matches, dict[str, int]]) -> None:
    lookup, ids = matches
    assert [hit.doc_id for hit in lexical_ranking(lookup, "Где столица?", 10)] == [ids["russian"]]
    assert [hit.doc_id for hit in lexical_ranking(lookup, "MOSKVA москва", 10)] == [ids["russian"]]
    assert lexical_ranking(lookup, "cafe gare", 10)[0].doc_id == ids["accents"]  # diacritics folded
    assert lexical_ranking(lookup, "", 10) == [] and lexical_ranking(lookup, "東京", 10) == []


def test_depth_limits_the_hits(matches: tuple[Matches, dict[str, int]]) -> None:
    lookup, _ = matches
    assert len(lexical_ranking(lookup, "code QX B cats café rain", 2)) == 2


def _routed(*scores: float, median: float = 0.0) -> list[RoutedDocument]:
    return [RoutedDocument(doc_id, score, {1: score}, 3, score - median) for doc_id, score in enumerate(scores)]


def test_fusion_adds_a_bonus_scaled_by_the_routers_lead() -> None:
    routed = _routed(0.9, 0.85, 0.5, median=0.4)  # lead 0.5 over the median; candidate spread 0.4
    hits = [LexicalHit(2, 8.0), LexicalHit(1, 2.0)]
    fused = fuse(routed, hits, 3, FusionConfig(weight=0.5))
    assert [doc.doc_id for doc in fused] == [1, 0, 2]
    by_id = {doc.doc_id: doc for doc in fused}
    assert by_id[2].score == pytest.approx(0.5 + 0.5 * 0.5)
    assert by_id[1].score == pytest.approx(0.85 + 0.5 * 0.5 * 2 / 8)
    assert by_id[1].relative_score == pytest.approx(by_id[1].score - 0.4)  # the same median
    assert by_id[0] == routed[0]  # no exact words: unchanged
    assert by_id[1].layer_scores == {1: 0.85} and by_id[1].best_chunk == 3  # the router's own
    stronger = fuse(routed, hits, 3, FusionConfig(weight=1.0))  # 0.5 + 0.5 = 1.0 > 0.85 + 0.125 > 0.9
    assert [doc.doc_id for doc in stronger] == [2, 1, 0]


def test_fusion_adds_documents_only_the_exact_words_found() -> None:
    routed = _routed(0.9, 0.6, median=0.5)
    fused = fuse(routed, [LexicalHit(7, 3.0), LexicalHit(1, 1.0)], 2, FusionConfig(weight=2.0))
    assert [doc.doc_id for doc in fused] == [7, 0]
    assert fused[0].score == pytest.approx(0.6 + 2.0 * 0.4)  # from the weakest routed document
    assert fused[0].layer_scores == {} and fused[0].best_chunk == 0
    assert fused[0].relative_score == pytest.approx(fused[0].score - 0.5)


def test_fusion_keeps_the_routers_ranking_when_it_has_nothing_to_add() -> None:
    routed = _routed(0.9, 0.8, 0.7, median=0.5)
    assert fuse(routed, [], 2) == routed[:2]
    assert fuse(routed, [LexicalHit(2, 5.0)], 3, FusionConfig(weight=0.0)) == routed
    assert fuse([], [LexicalHit(2, 5.0)], 3) == []
    flat = _routed(0.3, 0.2, median=0.35)  # nothing stands out from the bank: no lead, no bonus
    assert fuse(flat, [LexicalHit(1, 5.0)], 2) == flat


def test_fusion_never_lifts_past_the_bound_the_abstention_bar_relies_on() -> None:
    routed = _routed(0.62, 0.55, 0.5, median=0.5)
    weight = 0.75
    fused = fuse(routed, [LexicalHit(doc, 10.0 - doc) for doc in range(3)], 3, FusionConfig(weight=weight))
    lead = routed[0].relative_score
    assert max(doc.relative_score for doc in fused) <= (1 + weight) * lead + 1e-9


def test_fusion_config_is_checked() -> None:
    for bad in ({"weight": -0.1}, {"weight": float("nan")}, {"depth": 0}):
        with pytest.raises(InvalidInput):
            FusionConfig(**bad)  # type: ignore[arg-type]


def test_coverage_weighs_documents_holding_more_of_the_question() -> None:
    routed = _routed(0.9, 0.8, 0.7, median=0.5)
    one_word_often = LexicalHit(1, 8.0, coverage=0.25)
    every_word = LexicalHit(2, 6.0, coverage=1.0)
    plain = fuse(routed, [one_word_often, every_word], 3, FusionConfig(weight=1.0, coverage_power=0.0))
    assert [doc.doc_id for doc in plain] == [1, 2, 0]  # BM25 alone: 0.8 + 0.4 > 0.7 + 0.4 * 6 / 8 > 0.9
    covered = fuse(routed, [one_word_often, every_word], 3, FusionConfig(weight=1.0, coverage_power=1.0))
    assert [doc.doc_id for doc in covered] == [2, 1, 0]  # 6 * 1 now beats 8 * 0.25: 0.7 + 0.4 > 0.8 + 0.4 / 3
    with pytest.raises(InvalidInput, match="coverage power"):
        FusionConfig(coverage_power=-1.0)
