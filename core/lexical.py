"""Exact words beside the router: a safe full-text query from a question, and the rule that fuses the
exact-words ranking into the router's.

Why. The router ranks by meaning and finds a fact told in other words, where word matching fails; but it
can rank a document that holds the question's exact name, code or phrase a few places too low. The
memory bank keeps an FTS5 index over every document's text (``documents_fts``, migration
``0005_documents_fts``), updated in the transaction that writes the document, and ranks with its BM25.

Query. The question's words (Unicode letters and digits), stop words dropped, each quoted as an FTS5
string and joined by OR, so nothing the user types is ever read as FTS5 syntax (AND, NEAR, ``*``, ``^``,
column filters, quotes). Words are runs of letters and digits, as the index tokenizer (unicode61, case
and diacritics folded) cuts them: a code such as ``AB-1234-XZ`` is looked up as its parts, and the
document holding all of them, the rarer the better, ranks first.

Fusion rule (``fuse``). A document's fused score is its routing score plus a bonus for exact words::

    fused(d) = router(d) + weight * R * e(d) / max_d' e(d'),   e(d) = bm25(d) * coverage(d) ** c

where coverage(d) is the share of the question's words that d holds (an FTS5 auxiliary function of the
index) and R is the router's best relative score for the question (its top document's lead over the median
document, floored at 0). Measuring the bonus in R makes ``weight`` independent of the router's score
scale, and keeps the router in charge: a question whose documents the router does not tell apart gets
no bonus at all. A document that only the exact-words index found keeps its own routing score
(``fused_ranking`` routes the exact-words finds with the router's top k): scoring it from the weakest
routed document instead let every document holding a frequent name (in a 10M-token haystack, twenty
documents of one person) outrank documents the router found, and fused recall@5 fell below the
router's alone (0.715 against 0.787). Relative scores move with the scores (the same median is subtracted), so the
router's abstention bar still applies, to fused scores: a document can rise above the bar by at most
``weight * R``, and the best relative score is at most ``(1 + weight) * R``. That lift let absent-fact
questions clear the bar, so whether the engine answers at all is decided on the fused ranking by
``abstention.py`` (names of the question in no document, and a lead relative to the bar).

BM25 rewards a rare word seen often; the coverage factor (c = 0.5) makes a document that holds more of
the question's words worth more than one that repeats a single name or term: SQuAD's misses were mostly
paragraphs of the right article that share the article's name, not the question's other words. It was
chosen like the weight (SQuAD tuning articles 0.960 -> 0.964; c = 1 or 2 lost an updated fact on the dev
haystack). Its cost: a question sharing only a name with its fact gains nothing from it, and a namesake's
document holding one more of the question's words by chance gains (1M haystack, H100: reworded recall@5
0.760 -> 0.740, while SQuAD-dev's 1,500 questions went 0.956 -> 0.960).

Weight 0.75 was chosen with ``python -m memsa.evaluation.fusion_tuning`` on sets apart from the reported
ones (SQuAD-dev's first half of articles, haystacks with the "dev" needle templates), among 0-2; there
it beat scaling the bonus by the router's top-k score spread and reciprocal-rank fusion (README).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from .errors import InvalidInput
from .memory.records import RouterKeyMatrix
from .router import RouterProjectors
from .routing import RoutedDocument, route

# Function words carry no evidence and make an OR query visit nearly every document.
STOP_WORDS = frozenset({
    "a", "about", "above", "after", "again", "against", "all", "also", "am", "an", "and", "any", "are", "as", "at",
    "be", "because", "been", "before", "being", "below", "between", "both", "but", "by", "can", "could", "did",
    "do", "does", "doing", "down", "during", "each", "few", "for", "from", "further", "had", "has", "have",
    "having", "he", "her", "here", "hers", "him", "his", "how", "i", "if", "in", "into", "is", "it", "its",
    "itself", "just", "me", "more", "most", "my", "no", "nor", "not", "of", "off", "on", "once", "only", "or",
    "other", "our", "ours", "out", "over", "own", "same", "she", "should", "so", "some", "such", "than", "that",
    "the", "their", "theirs", "them", "then", "there", "these", "they", "this", "those", "through", "to", "too",
    "under", "until", "up", "very", "was", "we", "were", "what", "when", "where", "which", "while", "who", "whom",
    "whose", "why", "will", "with", "would", "you", "your", "yours",
})

_WORD = re.compile(r"\w+")
MAX_TERMS = 48

Matches = Callable[[str, int], list[tuple[int, float, float]]]


@dataclass(frozen=True)
class LexicalHit:
    """A document the exact-words index found: its id, BM25 score (higher is better) and the share of the
    question's words it holds (0..1)."""

    doc_id: int
    score: float
    coverage: float = 1.0


@dataclass(frozen=True)
class FusionConfig:
    """How the exact-words ranking joins the router's.

    Attributes:
        weight: the largest exact-words bonus, in units of the router's best relative score (0: the
            router's ranking unchanged).
        depth: documents taken from the exact-words ranking.
        coverage_power: a document's BM25 counts times (share of the question's words it holds) to this power.
    """

    weight: float = 0.75
    depth: int = 64
    coverage_power: float = 0.5

    def __post_init__(self) -> None:
        if not self.weight >= 0 or self.depth < 1 or not self.coverage_power >= 0:
            raise InvalidInput("fusion weight and coverage power must be >= 0 and depth >= 1, got "
                               f"{self.weight}, {self.coverage_power}, {self.depth}")


DEFAULT_FUSION = FusionConfig()


def query_terms(question: str) -> list[str]:
    """The question's distinct words that are not stop words, in order (at most ``MAX_TERMS``)."""
    terms: dict[str, str] = {}
    for word in _WORD.findall(question):
        key = word.lower()
        if key not in STOP_WORDS and key not in terms and any(char.isalnum() for char in word):
            terms[key] = word
    return list(terms.values())[:MAX_TERMS]


def match_expression(question: str) -> str | None:
    """An FTS5 MATCH expression that finds documents holding any of the question's words, or None when
    the question has none worth looking up. Every word is a quoted FTS5 string (quotes doubled)."""
    terms = query_terms(question)
    if not terms:
        return None
    return " OR ".join('"' + term.replace('"', '""') + '"' for term in terms)


def lexical_ranking(matches: Matches, question: str, depth: int = DEFAULT_FUSION.depth) -> list[LexicalHit]:
    """The documents holding the question's words, best BM25 first.

    Args:
        matches: (expression, limit) -> (doc_id, score) pairs, e.g. ``MemoryBank.lexical_matches``.
        depth: most documents returned.
    """
    expression = match_expression(question)
    if expression is None:
        return []
    return [LexicalHit(doc_id, score, coverage) for doc_id, score, coverage in matches(expression, depth)]


def fused_ranking(router: RouterProjectors, states: dict[int, torch.Tensor],
                  router_keys: Callable[[int], RouterKeyMatrix], matches: Matches, question: str, top_k: int,
                  config: FusionConfig = DEFAULT_FUSION) -> list[RoutedDocument]:
    """The product's ranking of a question (``MemoryEngine.retrieve``, and the harness's ``memsa`` row).

    The exact-words finds are looked up first and routed beside the router's own top k, so each is
    ranked by its true routing score plus its bonus (:func:`fuse`).

    Args:
        states: layer -> [Tq, hidden] question states (``routing.question_states``).
        router_keys: layer -> the memory's live router-key rows.
        matches: the memory's exact-words lookup (``MemoryBank.lexical_matches``).
    """
    hits = lexical_ranking(matches, question, config.depth)
    routed = route(router, states, router_keys, top_k, include=[hit.doc_id for hit in hits])
    return fuse(routed, hits, top_k, config)


def fuse(
    routed: Sequence[RoutedDocument], hits: Sequence[LexicalHit], top_k: int, config: FusionConfig = DEFAULT_FUSION
) -> list[RoutedDocument]:
    """The router's documents re-ranked with the exact-words bonus (see the module docstring).

    Args:
        routed: the router's ranking, best first (``memsa.core.routing.route``).
        hits: the exact-words ranking, best first (:func:`lexical_ranking`).
        top_k: length of the returned list.

    Returns:
        Up to ``top_k`` documents by fused score; ``score`` and ``relative_score`` are fused, ``layer_scores``
        stay the router's (empty for a document the router could not score; its ``best_chunk`` is 0).
    """
    evidence = {hit.doc_id: max(hit.score, 0.0) * hit.coverage ** config.coverage_power
                for hit in hits[: config.depth]}
    best = max(evidence.values(), default=0.0)
    if not routed or best <= 0 or config.weight == 0:
        return list(routed[:top_k])
    background = routed[0].score - routed[0].relative_score
    floor = min(doc.score for doc in routed)
    scale = config.weight * max(routed[0].relative_score, 0.0) / best
    bonus = {doc_id: scale * value for doc_id, value in evidence.items()}
    fused = [
        dataclasses.replace(doc, score=doc.score + bonus.get(doc.doc_id, 0.0),
                            relative_score=doc.relative_score + bonus.get(doc.doc_id, 0.0))
        for doc in routed
    ]
    seen = {doc.doc_id for doc in routed}
    fused += [
        RoutedDocument(doc_id, floor + extra, {}, 0, floor + extra - background)
        for doc_id, extra in bonus.items() if doc_id not in seen and extra > 0
    ]
    fused.sort(key=lambda doc: -doc.score)  # stable: equal scores keep the router's order
    return fused[:top_k]
