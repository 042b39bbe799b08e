"""Rounds decided by the engine, for models not trained to name documents (the default SmolLM2).

Per round, four decisions, each a small function. Measurements below are from the multi-hop set
(``bench/bench_multihop.py``: 60 chains of 2-3 facts in 270 documents, 100K memory tokens, seed 0) with the
shipped router (a learned weighted mean of the query's tokens: one routing vector per query).

Which documents may be read (:func:`names_in`, :func:`mentions_any`). A question about someone names
them, and a small frozen backbone's router ranks documents by what they are about rather than by whom
they name: with the first shipped router, the document stating "X's mentor is Y" was among those
single-round answering shows for 18% of questions, behind other people's mentor facts. The engine reads
the original text of a deeper candidate list (``InterleaveLimits.candidates``) and, when some of those
documents name what the query names, keeps to them (the router's order still ranks them): that found the
first hop for 85% (98% with the current router). A question naming nothing is left to the router alone.

How many documents to read (:func:`choose_documents`). Router scores mean something only against the
bank: a document's *relative* score (its score minus the median over all documents) is compared with the
router's calibrated bar (``RouterSpec.abstain_below``, measured on held-out pairs), exactly as single-round
answering does. Above the bar, the number of relevant documents differs from question to question, so a
fixed k either drowns a small reader in distractors or cuts off a second relevant document. Relevant
documents stand out from the background as a step in the sorted scores; the rule reads the documents above
the largest step among the first ``max_documents + 1`` scores (the elbow), so one clear winner is read
alone and a tie of two is read together.

What to ask next (:func:`new_entities`, :func:`follow_up_query`). A second hop is named only in the first
hop's evidence ("A's manager is B"; then "B's office is in C"). The sentences of a read document that share
names with the query are the evidence; every entity they name that nothing before named gets a routing
query of its own: the entity, then the words of the question the evidence has not used up ("B" + "in which
city does … work?"; "A", "manager" and "is" were in the evidence). The router reduces a query to one
vector, so appending the evidence to the question dilutes the new name among the question's words: routed
on the question plus the evidence, the next hop's document was among the 64 candidates for 97% of hops but
cleared the bar for only 45%; on the new entity and the unused question words it ranked first for 71%, in
the top 3 for 99%, and cleared the bar for 97% (on the entity alone, for 100%, but ranked first for only
41%: the document that named the entity, already read, outranks the one about it, and nothing in an
entity-only query tells two documents about the same person apart). The relation words the question still
holds are what tells them apart in a real archive, where a person is named in many notes. Several new
entities (a sentence naming two people) are routed separately and their documents merged by relative
score, so one query's strong match cannot hide another's.

When to stop. A follow-up round is worth its time only when the latest evidence named something new:
otherwise routing again finds the same documents. And a document read in a follow-up round must mention
the entity its query followed — it is the next link of the chain, not another document that merely
resembles the question, which would distract the reader. So interleave stops when the evidence names
nothing new, when no unread document clears the bar and mentions a new entity, when the model says it has
what it needs (optional, ``judge``), or at the round cap.

Result (``bench/bench_multihop.py --router`` the weighted router of commit 763a3bd, 2-core CPU): every hop
read for 93.3% of chains (2 hops 97.1%, 3 hops 88.5%) with 2.32 documents and 2.92 rounds per question, vs
0% for single-round routing and 3.3% for single-round's top documents at the same budget (seed 0); 98.3%
vs 0% and 1.7% on another seed's names and placement (seed 1, 108K tokens). Routing on the question plus
the evidence had reached 31.7%.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

from ..routing import RoutedDocument

_SENTENCE = re.compile(r"[^.!?\n]+(?:[.!?]+|$)", re.MULTILINE)
_NAME = re.compile(r"\b[A-Z][\w'’-]*\w|\b\w*\d\w*")
_WORD = re.compile(r"[^\W_]{4,}")
_QUESTION_WORD = re.compile(r"[^\W_][\w'’-]*")
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


def merge_choices(choices: Iterable[Sequence[RoutedDocument]], max_documents: int) -> list[RoutedDocument]:
    """Documents chosen by several queries of one round, each once, by relative score, at most ``max_documents``.

    Relative scores (score minus the bank's median for that query) are what makes different queries'
    rankings comparable; a document two queries chose keeps its better score.
    """
    best: dict[int, RoutedDocument] = {}
    for chosen in choices:
        for doc in chosen:
            if doc.doc_id not in best or doc.relative_score > best[doc.doc_id].relative_score:
                best[doc.doc_id] = doc
    return sorted(best.values(), key=lambda doc: -doc.relative_score)[:max_documents]


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


def entities_in(text: str) -> list[str]:
    """Names as written, in order and each once: runs of adjacent name words ("Tomas Quell").

    A possessive ends a run ("Velda Orrin's manager" names "Velda Orrin"), as does anything but spaces.
    """
    found: list[str] = []
    run: list[str] = []
    previous_end = -1
    for match in _NAME.finditer(text):
        word = match.group()
        if _POSSESSIVE.sub("", word).lower() in _NOT_NAMES or len(word) < 2:
            continue
        joins = bool(run) and text[previous_end : match.start()].isspace() and not _POSSESSIVE.search(run[-1])
        if run and not joins:
            found.append(" ".join(run))
            run = []
        run.append(word)
        previous_end = match.end()
    if run:
        found.append(" ".join(run))
    return list(dict.fromkeys(_POSSESSIVE.sub("", entity) for entity in found))


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


def new_entities(evidence: Iterable[Sentence], known: Collection[str]) -> list[str]:
    """Entities the evidence names that are not known yet: some word of theirs is not in ``known``.

    Args:
        evidence: the round's evidence sentences.
        known: names already asked about or followed (lower-cased, as :func:`names_in` returns them).
    """
    found: list[str] = []
    for sentence in evidence:
        found.extend(entity for entity in entities_in(sentence.text) if not names_in(entity) <= set(known))
    return list(dict.fromkeys(found))


def mentions_any(text: str, names: Collection[str]) -> bool:
    """Whether ``text`` mentions one of ``names`` (lower-cased, as :func:`names_in` returns them)."""
    return bool(names_in(text) & set(names))


def unused_words(question: str, evidence: Iterable[Sentence]) -> str:
    """The question without the words the evidence has used (case-insensitive, possessives ignored).

    "In which city does Velda Orrin's manager work?" after "Velda Orrin's manager is Tomas Quell." is
    "In which city does work?": what is still to be found.
    """
    used = {_bare(word) for sentence in evidence for word in _QUESTION_WORD.findall(sentence.text)}
    kept = [word for word in _QUESTION_WORD.findall(question) if _bare(word) not in used]
    return " ".join(kept) + ("?" if question.rstrip().endswith("?") and kept else "")


def _bare(word: str) -> str:
    return _POSSESSIVE.sub("", word).lower()


def follow_up_query(question: str, evidence: Iterable[Sentence], entity: str) -> str:
    """The routing query that follows ``entity``: the entity, then the question's unused words."""
    return f"{entity} {unused_words(question, evidence)}".strip()
