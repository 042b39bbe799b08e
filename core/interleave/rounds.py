"""Drive one question's interleave rounds: route, read the chosen documents, route again or stop.

The loop is a generator of events (``RoundStarted``, ``DocumentsRead``) whose return value is the
:class:`InterleaveResult`; the engine runs it with ``yield from`` and then answers from what was read.
Which documents a round reads and when to stop are decided by ``evidence`` (see its docstring for why).
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass

import numpy as np

from ..answering import AnswerConfig, Citation, build_citations
from ..memory.records import DocumentRecord
from ..routing import RoutedDocument
from .evidence import (
    Sentence,
    choose_documents,
    follow_up_query,
    link_sentences,
    mentions_any,
    merge_choices,
    names_in,
    new_entities,
)
from .machine import InterleaveLimits, InterleaveMachine, State


@dataclass(frozen=True)
class RoundStarted:
    """A routing round began; ``query`` is what the router scores memory against (a follow-up round routes
    one query per newly named entity: one per line)."""

    index: int
    query: str = ""


@dataclass(frozen=True)
class DocumentsRead:
    """The documents a round read (possibly none), with their scores and the excerpts the model sees.

    ``ignored_ids``: document ids a model named that memory does not hold (interleave-trained models).
    """

    index: int
    documents: list[RoutedDocument]
    citations: list[Citation]
    ignored_ids: tuple[int, ...] = ()


class RoundOutcome(enum.Enum):
    """What the engine decided after a round."""

    FOLLOW_UP = "follow-up"
    NOTHING_NEW = "no new document cleared the bar"
    NOTHING_TO_FOLLOW = "the evidence names nothing new"
    MODEL_SATISFIED = "the model has what it needs"
    ROUND_CAP = "round cap reached"


@dataclass(frozen=True)
class RoundRecord:
    """One round, as the answer reports it.

    Attributes:
        index: 1-based round number.
        query: the routing query: the question, or per newly named entity (one per line) the entity and the
            question's words the evidence has not used.
        documents: the documents read, best first, with their routing scores.
        citations: the excerpts of those documents shown to the model.
        outcome: what the engine decided after this round.
        ignored_ids: ids named by the model that memory does not hold.
    """

    index: int
    query: str
    documents: list[RoutedDocument]
    citations: list[Citation]
    outcome: RoundOutcome
    ignored_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class InterleaveResult:
    """Every round, everything read in reading order (the answer's evidence), and the question's own
    ranking (the first round's)."""

    rounds: list[RoundRecord]
    citations: list[Citation]
    machine: InterleaveMachine
    ranking: list[RoutedDocument]


RoundEvent = RoundStarted | DocumentsRead
Route = Callable[[str], list[RoutedDocument]]
Fetch = Callable[[Sequence[int]], list[DocumentRecord]]
Satisfied = Callable[[str, list[Citation]], bool]


@dataclass(frozen=True)
class _FollowUp:
    """A newly named entity to follow: the names a document must mention and the query that routes to it."""

    entity: str
    names: frozenset[str]
    query: str


def run_rounds(
    question: str,
    *,
    limits: InterleaveLimits,
    bar: float,
    route: Route,
    fetch: Fetch,
    answer_config: AnswerConfig,
    satisfied: Satisfied | None = None,
) -> Generator[RoundEvent, None, InterleaveResult]:
    """Alternate routing and reading until the evidence is complete, nothing new is found, or the cap.

    Round 1 routes the question; each later round routes one query per entity the previous round's evidence
    newly named (see ``evidence``), and reads only documents that mention it.

    Args:
        question: the user's question.
        limits: round and per-round document caps.
        bar: least relative routing score a document must have (``RouterSpec.abstain_below``).
        route: query -> ranked documents (the engine's stage 2).
        fetch: document ids -> stored records (original text).
        answer_config: excerpt size of citations.
        satisfied: optional model check: (question, citations so far) -> whether they suffice.

    Returns:
        The rounds and the citations read, when the machine reaches ANSWERING.
    """
    machine = InterleaveMachine(limits)
    index = machine.begin()
    known = names_in(question)  # names asked about or already followed
    follow_ups: list[_FollowUp] = []
    used: list[Sentence] = []  # every evidence sentence so far: the question words they hold are answered
    records: list[RoundRecord] = []
    citations: list[Citation] = []
    ranking: list[RoutedDocument] = []
    while machine.state is State.ROUTING:
        query = "\n".join(follow.query for follow in follow_ups) if follow_ups else question
        yield RoundStarted(index, query)
        if not follow_ups:
            ranking = route(question)
            chosen = _first_round(ranking, known, bar, limits, machine.read, fetch)
            linking = {doc.doc_id: question for doc in chosen}
        else:
            chosen, linking = _follow_round(follow_ups, route, bar, limits, machine.read, fetch)
        if not chosen:
            machine.found_nothing()
            records.append(RoundRecord(index, query, [], [], RoundOutcome.NOTHING_NEW))
            yield DocumentsRead(index, [], [])
            break
        machine.chose([doc.doc_id for doc in chosen])
        read, evidence = _read(chosen, fetch, linking, answer_config)
        citations.extend(read)
        used.extend(evidence)
        yield DocumentsRead(index, chosen, read)
        entities = new_entities(evidence, known)[: limits.max_documents]
        follow_ups = [
            _FollowUp(entity, frozenset(names_in(entity)), follow_up_query(question, used, entity))
            for entity in entities
        ]
        known |= {name for follow in follow_ups for name in follow.names}
        outcome = _decide(bool(follow_ups), machine, satisfied, question, citations)
        records.append(RoundRecord(index, query, chosen, read, outcome))
        if outcome is RoundOutcome.FOLLOW_UP:
            index = machine.follow_up()
        else:
            machine.enough()
    return InterleaveResult(records, citations, machine, ranking)


def _first_round(
    routed: Sequence[RoutedDocument], asked: set[str], bar: float, limits: InterleaveLimits, read: Sequence[int],
    fetch: Fetch,
) -> list[RoutedDocument]:
    """Round 1 prefers documents naming what the question names, if any do; otherwise the router decides."""
    naming = _mentioning(routed, asked, bar, read, fetch) if asked else set()
    return choose_documents(routed, bar, limits.max_documents, read, naming or None)


def _follow_round(
    follow_ups: Sequence[_FollowUp], route: Route, bar: float, limits: InterleaveLimits, read: Sequence[int],
    fetch: Fetch,
) -> tuple[list[RoutedDocument], dict[int, str]]:
    """Route each follow-up's query, choose among the documents mentioning its entity, merge the choices.

    Returns:
        The documents to read, and for each the query that chose it (its evidence is linked to that query).
    """
    choices: list[list[RoutedDocument]] = []
    linking: dict[int, str] = {}
    for follow in follow_ups:
        routed = route(follow.query)
        chosen = choose_documents(routed, bar, limits.max_documents, read,
                                  _mentioning(routed, set(follow.names), bar, read, fetch))
        choices.append(chosen)
        for doc in chosen:
            linking.setdefault(doc.doc_id, follow.query)
    return merge_choices(choices, limits.max_documents), linking


def _decide(
    anything_new: bool, machine: InterleaveMachine, satisfied: Satisfied | None, question: str,
    citations: list[Citation],
) -> RoundOutcome:
    if not anything_new:
        return RoundOutcome.NOTHING_TO_FOLLOW
    if not machine.can_follow_up:
        return RoundOutcome.ROUND_CAP
    if satisfied is not None and satisfied(question, citations):
        return RoundOutcome.MODEL_SATISFIED
    return RoundOutcome.FOLLOW_UP


def _mentioning(
    routed: Sequence[RoutedDocument], names: set[str], bar: float, read: Sequence[int], fetch: Fetch
) -> set[int]:
    """Unread documents above the bar whose text mentions one of ``names``."""
    candidates = [doc.doc_id for doc in routed if doc.relative_score >= bar and doc.doc_id not in read]
    return {record.doc_id for record in fetch(candidates) if mentions_any(record.text, names)}


def _read(
    chosen: Sequence[RoutedDocument], fetch: Fetch, linking: dict[int, str], config: AnswerConfig
) -> tuple[list[Citation], list[Sentence]]:
    """Citations of the chosen documents, each centred on its evidence, and the evidence sentences.

    ``linking``: document id -> the query that chose it; a document's evidence is what it shares with that query.
    """
    records = {record.doc_id: record for record in fetch([doc.doc_id for doc in chosen])}
    evidence: list[Sentence] = []
    centred = []
    for doc in chosen:
        linked = link_sentences(records[doc.doc_id].text, linking[doc.doc_id])
        evidence.extend(linked)
        chunk = _chunk_at(records[doc.doc_id], linked[0].start) if linked else doc.best_chunk
        centred.append(dataclasses.replace(doc, best_chunk=chunk))
    return build_citations(centred, records, config), evidence


def _chunk_at(record: DocumentRecord, position: int) -> int:
    """The router chunk of ``record`` holding character ``position`` of its text."""
    spans: np.ndarray = record.router_chunk_spans
    if spans.size == 0:
        return 0
    return int(np.clip(np.searchsorted(spans[:, 1], position, side="right"), 0, spans.shape[0] - 1))
