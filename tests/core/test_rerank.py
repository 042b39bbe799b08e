"""Re-reading the fused ranking's first documents with a sentence model."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
import torch

from memsa.core.errors import InvalidInput
from memsa.core.rerank import RerankConfig, passage_sentences, passage_text, rerank
from memsa.core.routing import RoutedDocument

_CONCEPTS = {"rent": 0, "lease": 0, "apartment": 1, "flat": 1, "dog": 2, "vet": 2, "bassoon": 3, "orchestra": 3}


class ConceptEncoder:
    """Embeds a text as the normalised count of the concepts its words name (synonyms share one), plus a
    small constant so that texts naming none are not zero vectors."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def embed(self, texts: Sequence[str]) -> torch.Tensor:
        self.calls.append(list(texts))
        vectors = torch.full((len(texts), 5), 0.01)
        for row, text in enumerate(texts):
            for word in text.lower().replace("?", " ").replace(".", " ").split():
                if word in _CONCEPTS:
                    vectors[row, _CONCEPTS[word]] += 1.0
        return torch.nn.functional.normalize(vectors, dim=1)


def _doc(doc_id: int, score: float) -> RoutedDocument:
    return RoutedDocument(doc_id, score, {4: score}, best_chunk=doc_id, relative_score=score - 0.1)


RANKING = [_doc(7, 0.9), _doc(3, 0.8), _doc(5, 0.7), _doc(1, 0.6)]
PASSAGES = [
    "Mateo plays the bassoon in a community orchestra every Tuesday.",
    "Mateo's dog sees the vet on Fridays.",
    "Some unrelated manual text. Mateo finally signed the lease for a flat on Quarry Hill last spring.",
]


def test_the_passage_with_the_reworded_fact_moves_first_and_places_keep_their_scores() -> None:
    reread = rerank("Where did Mateo rent an apartment?", RANKING, PASSAGES, ConceptEncoder())
    assert [doc.doc_id for doc in reread] == [5, 7, 3, 1]
    assert [doc.score for doc in reread] == [doc.score for doc in RANKING]
    assert [doc.relative_score for doc in reread] == [doc.relative_score for doc in RANKING]
    assert reread[0].best_chunk == 5 and reread[0].layer_scores == {4: 0.7}


def test_documents_past_the_passages_keep_their_places() -> None:
    reread = rerank("Where did Mateo rent an apartment?", RANKING, PASSAGES[:2], ConceptEncoder())
    assert [doc.doc_id for doc in reread][2:] == [5, 1]


def test_equal_sentences_keep_the_fused_order_and_the_prior_decides_close_calls() -> None:
    same = ["Mateo has a dog.", "Mateo has a dog.", "Mateo has a dog."]
    assert [d.doc_id for d in rerank("Who is the vet?", RANKING, same, ConceptEncoder())][:3] == [7, 3, 5]
    # Only a sentence clearly better than the first document's passes it when the prior is strong.
    close = ["Mateo has a dog and a bassoon.", "Mateo has a dog."]
    weak = rerank("Who is the vet?", RANKING, close, ConceptEncoder(), RerankConfig(rank_prior=0.0))
    strong = rerank("Who is the vet?", RANKING, close, ConceptEncoder(), RerankConfig(rank_prior=1.0))
    assert [d.doc_id for d in weak][:2] == [3, 7]
    assert [d.doc_id for d in strong][:2] == [7, 3]


def test_each_document_scores_its_best_sentence() -> None:
    encoder = ConceptEncoder()
    rerank("Where did Mateo rent an apartment?", RANKING, PASSAGES, encoder)
    (texts,) = encoder.calls
    assert texts[0] == "Where did Mateo rent an apartment?"
    assert "Some unrelated manual text." in texts and len(texts) == 1 + 4


def test_short_sentences_are_not_read_alone() -> None:
    assert passage_sentences("Yes. Mateo signed the lease. Ok!", min_words=3) == ["Mateo signed the lease."]
    assert passage_sentences("Yes. Ok!", min_words=3) == ["Yes. Ok!"]
    assert passage_sentences("line one here\nline two   here", min_words=3) == ["line one here", "line two here"]


def test_a_single_document_or_an_empty_ranking_is_returned_as_is() -> None:
    encoder = ConceptEncoder()
    assert rerank("q", RANKING[:1], PASSAGES[:1], encoder) == RANKING[:1]
    assert rerank("q", [], [], encoder) == []
    assert encoder.calls == []


def test_more_passages_than_documents_is_refused() -> None:
    with pytest.raises(InvalidInput, match="3 passages for 2 documents"):
        rerank("q", RANKING[:2], PASSAGES, ConceptEncoder())


def test_the_passage_is_the_text_around_the_best_chunk() -> None:
    text = " ".join(f"Sentence number {i} says something." for i in range(40))
    spans = torch.tensor([[i * 30, min(len(text), i * 30 + 30)] for i in range((len(text) + 29) // 30)]).numpy()
    target = text.index("Sentence number 33")
    passage = passage_text(text, spans, target // 30, 120)
    assert "Sentence number 33" in passage and len(passage) <= 120 and passage.startswith("Sentence number")


@pytest.mark.parametrize("config", [dict(candidates=0), dict(passage_chars=10), dict(rank_prior=-0.1),
                                    dict(min_words=0)])
def test_bad_settings_are_refused(config: dict[str, float]) -> None:
    with pytest.raises(InvalidInput):
        RerankConfig(**config)  # type: ignore[arg-type]
