"""The engine-decided rounds: documents per round from the score distribution, evidence, follow-up, stop.

Routing is replaced by a word-overlap scorer over a handful of texts, to isolate the round logic.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import pytest

from memsa.core.answering import AnswerConfig
from memsa.core.interleave.evidence import (
    choose_documents,
    entities_in,
    follow_up_query,
    link_sentences,
    merge_choices,
    names_in,
    new_entities,
    sentences,
    unused_words,
)
from memsa.core.interleave.machine import InterleaveLimits, State
from memsa.core.interleave.rounds import DocumentsRead, InterleaveResult, RoundOutcome, RoundStarted, run_rounds
from memsa.core.memory.records import DocumentRecord
from memsa.core.routing import RoutedDocument


def routed(*scores: float, median: float = 0.0) -> list[RoutedDocument]:
    return [RoutedDocument(doc_id=index, score=score, layer_scores={}, best_chunk=0, relative_score=score - median)
            for index, score in enumerate(scores)]


@pytest.mark.parametrize(
    "scores,expected",
    [
        ((0.9, 0.5, 0.45, 0.4), [0]),  # one clear winner is read alone
        ((0.9, 0.88, 0.5, 0.45), [0, 1]),  # a tie of two, then a step: both
        ((0.9, 0.84, 0.79, 0.75, 0.72), [0]),  # shrinking steps: the largest is after the best
        ((0.9, 0.89, 0.88, 0.87, 0.3), [0, 1, 2]),  # a plateau beyond the cap: read up to the cap
        ((0.2, 0.15), []),  # nothing clears the bar
    ],
)
def test_documents_per_round_follow_the_largest_step_above_the_bar(scores: tuple[float, ...],
                                                                    expected: list[int]) -> None:
    chosen = choose_documents(routed(*scores), bar=0.3, max_documents=3)
    assert [doc.doc_id for doc in chosen] == expected


def test_read_and_ineligible_documents_are_not_chosen_but_still_count_as_the_background() -> None:
    ranking = routed(0.9, 0.8, 0.79, 0.3)
    assert [doc.doc_id for doc in choose_documents(ranking, 0.3, 3, already_read={0})] == [1, 2]
    # Document 2 may be read, but it does not stand out from document 1 just below… above it.
    assert [doc.doc_id for doc in choose_documents(ranking, 0.3, 3, already_read={0}, eligible={2})] == [2]
    assert choose_documents(ranking, 0.3, 3, eligible=set()) == []


def test_names_are_capitalised_words_and_codes_not_sentence_openers() -> None:
    assert names_in("The office of Velda Orrin's manager is in Brask, room 4b.") == {"office", "velda", "orrin",
                                                                                    "brask", "4b"} - {"office"}
    assert names_in("Where does it go? What is this") == set()


def test_link_sentences_pick_what_names_the_query_entities() -> None:
    text = "Some unrelated prose about parsers.\n\nVelda Orrin's manager is Tomas Quell. More prose follows here."
    linked = link_sentences(text, "In which city does Velda Orrin's manager work?")
    assert [sentence.text for sentence in linked] == ["Velda Orrin's manager is Tomas Quell."]
    assert text[linked[0].start:linked[0].end] == linked[0].text
    assert new_entities(linked, names_in("In which city does Velda Orrin's manager work?")) == ["Tomas Quell"]
    assert link_sentences("nothing named here. at all.", "Where is Brask?") == []
    assert [s.text for s in sentences("One. Two!\nThree")] == ["One.", "Two!", "Three"]
    # Lines without closing punctuation (chat lines, notes) are sentences too, each with its own span.
    lines = sentences("Priya: see you at the station\nTomas: ok")
    assert [(s.text, s.start, s.end) for s in lines] == [("Priya: see you at the station", 0, 29),
                                                         ("Tomas: ok", 30, 39)]


@pytest.mark.parametrize(
    "text,expected",
    [
        ("Velda Orrin's manager is Tomas Quell.", ["Velda Orrin", "Tomas Quell"]),  # a possessive ends a name
        ("At work, Velda Orrin reports to Tomas Quell, who is Velda Orrin's manager.", ["Velda Orrin", "Tomas Quell"]),
        ("The office of Tomas Quell is in Brask.", ["Tomas Quell", "Brask"]),  # "The" names nothing
        ("RFC 2822 dates, as Python parses them", ["RFC 2822", "Python"]),
        ("nothing named here", []),
    ],
)
def test_entities_are_runs_of_adjacent_name_words(text: str, expected: list[str]) -> None:
    assert entities_in(text) == expected


def test_only_entities_with_an_unknown_name_are_new() -> None:
    evidence = sentences("Velda Orrin's manager is Tomas Quell. Tomas Quell's sister is Mira Vass and Velda.")
    assert new_entities(evidence, {"velda", "orrin"}) == ["Tomas Quell", "Mira Vass"]
    assert new_entities(evidence, {"velda", "orrin", "tomas", "quell"}) == ["Mira Vass"]
    assert new_entities(evidence, {"velda", "orrin", "tomas", "quell", "mira", "vass"}) == []


def test_a_follow_up_routes_the_new_entity_with_the_question_words_not_yet_used() -> None:
    question = "Where was the sister of Velda Orrin's manager born?"
    first = sentences("Velda Orrin's manager is Tomas Quell.")
    assert unused_words(question, first) == "Where was the sister of born?"
    assert follow_up_query(question, first, "Tomas Quell") == "Tomas Quell Where was the sister of born?"
    both = first + sentences("Tomas Quell's sister is Mira Vass.")
    assert follow_up_query(question, both, "Mira Vass") == "Mira Vass Where was the of born?"
    assert unused_words("Velda's manager?", sentences("Velda's manager is Tomas.")) == ""


def test_choices_of_several_queries_merge_by_relative_score_each_document_once() -> None:
    first = routed(0.9, 0.5, median=0.1)  # relative 0.8, 0.4
    second = [RoutedDocument(doc_id=7, score=0.6, layer_scores={}, best_chunk=0, relative_score=0.55),
              RoutedDocument(doc_id=1, score=0.7, layer_scores={}, best_chunk=0, relative_score=0.6)]
    merged = merge_choices([first, second], max_documents=3)
    assert [(doc.doc_id, doc.relative_score) for doc in merged] == [(0, pytest.approx(0.8)), (1, 0.6), (7, 0.55)]
    assert [doc.doc_id for doc in merge_choices([first, second], max_documents=2)] == [0, 1]


DOCS = {
    1: "Parsers read text. Velda Orrin's manager is Tomas Quell. Tokens are small.",
    2: "Tomas Quell's office is in Brask. Caches keep data.",
    3: "The manager of the build is a script. Caches keep data. Parsers read text.",
    4: "Unrelated words about sockets and pipes.",
    5: "In which city does the manager work? Nobody knows which city it does.",
    6: "Gardens need water and light.",
}
WORD = re.compile(r"[a-z]{4,}")


def fake_route(query: str, docs: dict[int, str] = DOCS) -> list[RoutedDocument]:
    """Score = shared words of four letters or more / 10; median over all documents."""
    words = set(WORD.findall(query.lower()))
    scores = {doc: len(words & set(WORD.findall(text.lower()))) / 10 for doc, text in docs.items()}
    median = float(np.median(list(scores.values())))
    ranked = sorted(scores, key=lambda doc: -scores[doc])
    return [RoutedDocument(doc, scores[doc], {}, 0, scores[doc] - median) for doc in ranked]


def fake_fetch(doc_ids: Sequence[int], docs: dict[int, str] = DOCS) -> list[DocumentRecord]:
    return [
        DocumentRecord(doc_id=doc, source_id=doc, path=f"/notes/{doc}.md", start=0, end=len(docs[doc]), title="",
                       text=docs[doc], n_tokens=10, router_rows=None, kv_rows=None,
                       router_chunk_spans=np.array([[0, 30], [30, len(docs[doc])]]))
        for doc in doc_ids
    ]


def drive(  # type: ignore[no-untyped-def]
    question: str, max_rounds: int = 3, satisfied=None, docs: dict[int, str] = DOCS, queries: list[str] | None = None
) -> tuple[list[object], InterleaveResult]:
    def route(query: str) -> list[RoutedDocument]:
        if queries is not None:
            queries.append(query)
        return fake_route(query, docs)

    events: list[object] = []
    generator = run_rounds(question, limits=InterleaveLimits(max_rounds=max_rounds, max_documents=2), bar=0.02,
                           route=route, fetch=lambda doc_ids: fake_fetch(doc_ids, docs),
                           answer_config=AnswerConfig(excerpt_chars=60), satisfied=satisfied)
    while True:
        try:
            events.append(next(generator))
        except StopIteration as stop:
            return events, stop.value


QUESTION = "In which city does Velda Orrin's manager work?"


def test_a_second_round_follows_the_entity_the_first_one_named() -> None:
    events, result = drive(QUESTION)
    assert [type(event) for event in events] == [RoundStarted, DocumentsRead] * 3
    assert [[doc.doc_id for doc in event.documents] for event in events if isinstance(event, DocumentsRead)] == [
        [1], [2], []]
    assert [record.outcome for record in result.rounds] == [
        RoundOutcome.FOLLOW_UP, RoundOutcome.FOLLOW_UP, RoundOutcome.NOTHING_NEW]
    assert result.rounds[1].query == "Tomas Quell In which city does work?"
    assert [citation.doc_id for citation in result.citations] == [1, 2]
    assert "Tomas Quell." in result.citations[0].snippet  # the excerpt is centred on the evidence
    assert result.machine.state is State.ANSWERING


def test_single_round_reads_only_the_first_hop() -> None:
    _, result = drive(QUESTION, max_rounds=1)
    assert [record.outcome for record in result.rounds] == [RoundOutcome.ROUND_CAP]
    assert [citation.doc_id for citation in result.citations] == [1]


def test_the_model_saying_it_has_enough_stops_the_rounds() -> None:
    asked: list[int] = []

    def satisfied(question: str, citations: list) -> bool:  # type: ignore[type-arg]
        asked.append(len(citations))
        return True

    _, result = drive(QUESTION, satisfied=satisfied)
    assert asked == [1] and [record.outcome for record in result.rounds] == [RoundOutcome.MODEL_SATISFIED]


def test_nothing_relevant_reads_nothing() -> None:
    events, result = drive("zzzz qqqq")
    assert [type(event) for event in events] == [RoundStarted, DocumentsRead]
    assert result.citations == [] and result.rounds[0].outcome is RoundOutcome.NOTHING_NEW


def test_evidence_naming_nothing_new_stops_after_one_round() -> None:
    _, result = drive("Where is the office of Tomas Quell in Brask?")
    assert [record.outcome for record in result.rounds] == [RoundOutcome.NOTHING_TO_FOLLOW]
    assert [citation.doc_id for citation in result.citations] == [2]


def test_the_first_round_prefers_documents_naming_whom_the_question_names() -> None:
    ranking = fake_route(QUESTION)
    assert ranking[0].doc_id == 5  # more words in common, but it names nobody
    events, result = drive(QUESTION, max_rounds=1)
    assert [citation.doc_id for citation in result.citations] == [1]
    _, unnamed = drive("In which city does the manager work?", max_rounds=1)
    assert [citation.doc_id for citation in unnamed.citations] == [5]  # no names asked: the router decides


NEIGHBOURS = {
    10: "Notes on the street. Nell Brisk's neighbours are Tomas Quell and Mira Vass. Bins go out on Monday.",
    11: "Tomas Quell's office is in Brask. Trains are slow.",
    12: "Mira Vass works from an office in Lund.",
    13: "Where do people work these days? Offices are everywhere.",
    14: "Gardens need water and light.",
    15: "Sockets and pipes carry bytes.",
}
NEIGHBOURS_QUESTION = "Where do Nell Brisk's neighbours work these days?"


def test_each_newly_named_entity_is_routed_on_its_own_and_their_documents_merged() -> None:
    queries: list[str] = []
    _, result = drive(NEIGHBOURS_QUESTION, max_rounds=2, docs=NEIGHBOURS, queries=queries)
    follow_ups = ["Tomas Quell Where do work these days?", "Mira Vass Where do work these days?"]
    assert queries == [NEIGHBOURS_QUESTION, *follow_ups]
    assert result.rounds[1].query == "\n".join(follow_ups)
    assert [[doc.doc_id for doc in record.documents] for record in result.rounds] == [[10], [11, 12]]
    assert [record.outcome for record in result.rounds] == [RoundOutcome.FOLLOW_UP, RoundOutcome.ROUND_CAP]


def test_a_follow_up_reads_only_documents_mentioning_its_entity() -> None:
    """Document 13 matches the unused question words best, but names neither neighbour: it is never read."""
    ranking = fake_route("Tomas Quell Where do work these days?", NEIGHBOURS)
    assert ranking[0].doc_id == 13
    _, result = drive(NEIGHBOURS_QUESTION, docs=NEIGHBOURS)
    assert 13 not in [doc.doc_id for record in result.rounds for doc in record.documents]
    assert result.rounds[-1].outcome in (RoundOutcome.NOTHING_NEW, RoundOutcome.NOTHING_TO_FOLLOW)
