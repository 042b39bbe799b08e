"""Rounds decided by the engine, for models not trained to name documents (the default SmolLM2).

Per round, four decisions, each a small function:

Which documents may be read (:func:`names_in`, :func:`mentions_any`). A question about someone names
them, and a small frozen backbone's router ranks documents by what they are about rather than by whom
they name: measured on the multi-hop set (``bench/bench_multihop.py``, 100K tokens, the first shipped
router), the document stating "X's mentor is Y" was among those single-round answering shows for 18% of
questions, behind other people's mentor facts. The engine reads the original text of a deeper candidate
list (``InterleaveLimits.candidates``) and, when some of those documents name what the query names, keeps
to them (the router's order still ranks them): that found the first hop for 85%. A question naming
nothing is left to the router alone.

How many documents to read (:func:`choose_documents`). Router scores mean something only against the
bank: a document's *relative* score (its score minus the median over all documents) is compared with the
router's calibrated bar (``RouterSpec.abstain_below``, measured on held-out pairs), exactly as single-round
answering does. Above the bar, the number of relevant documents differs from question to question, so a
fixed k either drowns a small reader in distractors or cuts off a second relevant document. Relevant
documents stand out from the background as a step in the sorted scores; the rule reads the documents above
the largest step among the first ``max_documents + 1`` scores (the elbow), so one clear winner is read
alone and a tie of two is read together.

What to ask next (:func:`link_sentences`, :func:`follow_up_query`). A second hop is named only in the
first hop's evidence ("A's manager is B"; then "B's office is in C"). The sentences of a read document that
share names with the question (or the previous evidence) are the evidence; the next routing query is the
question plus those sentences, so the router's max over query tokens can match the newly named entity.

When to stop (:func:`new_entities`). A follow-up round is worth its time only when the latest evidence
named something the query did not: otherwise routing again finds the same documents. And a document read
in a follow-up round must mention one of those new names — it is the next link of the chain, not another
document that merely resembles the question, which would distract the reader. So interleave stops when
the evidence names nothing new, when no unread document clears the bar and mentions a new name, when the
model says it has what it needs (optional, ``judge``), or at the round cap.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

from ..routing import RoutedDocument

_SENTENCE = re.compile(r"[^.!?\n]+(?:[.!?]+|$)")
_NAME = re.compile(r"\b[A-Z][\w'’-]*\w|\b\w*\d\w*")
_WORD = re.compile(r"[^\W_]{4,}")
_POSSESSIVE = re.compile(r"['’]s?$")
# Capitalised words that begin sentences or questions without naming anything.
_NOT_NAMES = frozenset({
    "a", "an", "the", "this", "that", "these", "those", "it", "its", "he", "she", "they", "we", "you", "i",
    "his", "her", "their", "our", "my", "your", "there", "here", "what", "where", "when", "which", "who",
    "whom", "whose", "why", "how", "is", "are", "was", "were", "do", "does", "did", "can", "could", "should",
    "would", "will", "in", "on", "at", "of", "for", "from", "to", "by", "with", "and", "or", "but", "if", "as",
    "so", "then", "also", "however", "after", "before", "since", "while", "yes", "no", "not", "note", "returns",
    "return", "see",
})


@dataclass(frozen=True)
class Sentence:
    """A sentence of a document and where it is in the document's text."""

    text: str
    start: int
    end: int


def choose_documents(
    routed: Sequence[RoutedDocument],
    bar: float,
    max_documents: int,
    already_read: Collection[int] = (),
    eligible: Collection[int] | None = None,
) -> list[RoutedDocument]:
    """The documents a round reads: above the bar, unread, and above the largest score step.

    Args:
        routed: the round's ranked documents, best first.
        bar: the least relative score a document must have (the router's calibrated bar).
        max_documents: most documents one round reads.
        already_read: documents read in earlier rounds (never read twice).
        eligible: if given, only these documents may be read (follow-up rounds: those naming a new entity).

    Returns:
        0..max_documents documents, best first.
    """
    fresh = [doc for doc in routed if doc.doc_id not in already_read]
    candidates = [
        doc for doc in fresh if doc.relative_score >= bar and (eligible is None or doc.doc_id in eligible)
    ]
    if not candidates:
        return []
    # The step after each candidate is measured to the next unread document of the whole ranking, eligible or
    # not: a candidate stands out only if it stands out from everything the router considered.
    # A step beyond the cap means the cap cuts through a plateau of equals: read up to the cap.
    scores = [doc.score for doc in fresh]
    best_cut, best_step = 1, float("-inf")
    for count, doc in enumerate(candidates[: max_documents + 1], start=1):
        position = fresh.index(doc)
        following = scores[position + 1] if position + 1 < len(scores) else doc.score  # unknown: no step
        step = doc.score - following
        if step > best_step:
            best_cut, best_step = count, step
    return candidates[: min(best_cut, max_documents)]


def sentences(text: str) -> list[Sentence]:
    """The sentences (or lines) of ``text`` with their character spans."""
    found = []
    for match in _SENTENCE.finditer(text):
        stripped = match.group().strip()
        if stripped:
            offset = match.group().index(stripped)
            found.append(Sentence(stripped, match.start() + offset, match.start() + offset + len(stripped)))
    return found


def names_in(text: str) -> set[str]:
    """Words that name things: capitalised words (not sentence-openers like "The") and words with digits.

    Possessive endings are dropped ("Quell's" -> "quell"); returned lower-cased.
    """
    found = set()
    for match in _NAME.finditer(text):
        word = _POSSESSIVE.sub("", match.group()).lower()
        if len(word) > 1 and word not in _NOT_NAMES:
            found.add(word)
    return found


def link_sentences(text: str, query: str, most: int = 2) -> list[Sentence]:
    """The sentences of a read document that connect to the query: those naming what the query names.

    Ranked by names shared with the query, then by other words shared (four letters or more); sentences
    sharing no name are never evidence.
    """
    query_names = names_in(query)
    query_words = {word.lower() for word in _WORD.findall(query)}
    ranked = []
    for sentence in sentences(text):
        shared_names = len(names_in(sentence.text) & query_names)
        if shared_names:
            shared_words = len({word.lower() for word in _WORD.findall(sentence.text)} & query_words)
            ranked.append((shared_names, shared_words, -sentence.start, sentence))
    ranked.sort(key=lambda item: item[:3], reverse=True)
    return sorted((item[3] for item in ranked[:most]), key=lambda sentence: sentence.start)


def new_entities(evidence: Iterable[Sentence], query: str) -> set[str]:
    """Names the evidence mentions that the query does not."""
    named: set[str] = set()
    for sentence in evidence:
        named |= names_in(sentence.text)
    return named - names_in(query)


def mentions_any(text: str, names: Collection[str]) -> bool:
    """Whether ``text`` mentions one of ``names`` (lower-cased, as :func:`names_in` returns them)."""
    return bool(names_in(text) & set(names))


def follow_up_query(question: str, evidence: Sequence[Sentence]) -> str:
    """The next round's routing query: the question, then the latest evidence sentences."""
    return " ".join([question, *(sentence.text for sentence in evidence)])
