"""Stage 3 assembly: which documents are shown, which passage of each, and how citations map back."""

from __future__ import annotations

import numpy as np
import pytest

from memsa.core.answering import (
    NOT_FOUND,
    AnswerConfig,
    Citation,
    build_citations,
    build_messages,
    choose_evidence,
    excerpt_span,
    order_by_support,
)
from memsa.core.errors import InvalidInput
from memsa.core.memory.records import DocumentRecord
from memsa.core.routing import RoutedDocument


def _routed(doc_id: int, score: float, chunk: int = 0) -> RoutedDocument:
    return RoutedDocument(doc_id=doc_id, score=score, layer_scores={0: score}, best_chunk=chunk,
                          relative_score=score - 0.1)


def _document(text: str, chunk_chars: int = 20, start: int = 100) -> DocumentRecord:
    spans = np.array([[s, min(s + chunk_chars, len(text))] for s in range(0, len(text), chunk_chars)])
    return DocumentRecord(doc_id=7, source_id=1, path="/notes/a.md", start=start, end=start + len(text), title="a",
                          text=text, n_tokens=len(text) // 4, router_rows=None, kv_rows=None,
                          router_chunk_spans=spans)


def test_nothing_above_the_bar_means_no_evidence() -> None:
    assert choose_evidence([_routed(1, 0.35), _routed(2, 0.1)], abstain_below=0.3, config=AnswerConfig()) == []
    assert choose_evidence([], abstain_below=0.0, config=AnswerConfig()) == []


def test_only_documents_close_to_the_best_are_shown() -> None:
    routed = [_routed(1, 0.9), _routed(2, 0.85), _routed(3, 0.5), _routed(4, 0.88)]
    chosen = choose_evidence(routed, abstain_below=0.3, config=AnswerConfig(score_margin=0.08, prompt_documents=2))
    assert [doc.doc_id for doc in chosen] == [1, 2]


def test_excerpt_is_centred_on_the_best_chunk_and_snaps_to_sentences() -> None:
    sentences = [f"Sentence number {i} says something." for i in range(40)]
    text = " ".join(sentences)
    document = _document(text, chunk_chars=30)
    target = text.index("Sentence number 20")
    start, end = excerpt_span(document.text, document.router_chunk_spans, best_chunk=target // 30, budget=200)
    assert start <= target < end
    assert end - start <= 200
    assert text[start:].startswith("Sentence number")


def test_short_documents_are_shown_whole() -> None:
    document = _document("Short note.")
    assert excerpt_span(document.text, document.router_chunk_spans, 0, budget=500) == (0, len("Short note."))


def test_citations_map_back_into_the_source() -> None:
    text = "The wifi password at the cabin is pinecone. Other words follow here."
    document = _document(text, start=1000)
    (citation,) = build_citations([_routed(7, 0.7)], {7: document}, AnswerConfig())
    assert (citation.start, citation.end) == (1000, 1000 + len(text))
    assert citation.snippet == text and citation.path == "/notes/a.md" and citation.score == 0.7


def test_messages_label_passages_with_ids_and_allow_abstaining() -> None:
    (citation,) = build_citations([_routed(7, 0.7)], {7: _document("Fact here.")}, AnswerConfig())
    system, user = build_messages("What fact?", [citation])
    assert NOT_FOUND in system["content"]
    assert "[7] Fact here." in user["content"] and user["content"].endswith("Question: What fact?")


def test_answer_config_validates() -> None:
    with pytest.raises(InvalidInput):
        AnswerConfig(prompt_documents=0)


def _citation(doc_id: int, snippet: str, score: float) -> Citation:
    return Citation(doc_id=doc_id, path=f"/{doc_id}.md", start=0, end=len(snippet), score=score, snippet=snippet)


def test_citations_the_answer_rests_on_come_first() -> None:
    hashing = _citation(3, "Hash a password with a salt before storing it.", 0.32)
    cabin = _citation(8, "The wifi password at the lake cabin is pinecone-harbor-42.", 0.30)
    unrelated = _citation(5, "Soup needs lentils.", 0.31)
    answer = "The wifi password is pinecone-harbor-42."
    assert [c.doc_id for c in order_by_support(answer, [hashing, unrelated, cabin])] == [8, 3, 5]
    assert [c.doc_id for c in order_by_support("See [5] and [3].", [hashing, unrelated, cabin])] == [5, 3, 8]
    assert [c.doc_id for c in order_by_support("", [hashing, unrelated, cabin])] == [3, 5, 8]
