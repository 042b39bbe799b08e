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
    names_in,
    new_entities,
)
from .machine import InterleaveLimits, InterleaveMachine, State


@dataclass(frozen=True)
class RoundStarted:
    """A routing round began; ``query`` is what the router scores memory against."""

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
        query: the routing query (the question, then the latest evidence).
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
    index, query = machine.begin(), question
    follow: set[str] | None = None  # names a follow-up round's documents must mention
    asked_names = names_in(question)
    records: list[RoundRecord] = []
    citations: list[Citation] = []
    ranking: list[RoutedDocument] = []
    while machine.state is State.ROUTING:
        yield RoundStarted(index, query)
        routed = route(query)
        ranking = ranking or routed
        eligible: set[int] | None
        if follow is None:  # the first round prefers documents naming what the question names, if any do
            naming = _mentioning(routed, asked_names, bar, machine.read, fetch) if asked_names else set()
            eligible = naming or None
        else:
            eligible = _mentioning(routed, follow, bar, machine.read, fetch)
        chosen = choose_documents(routed, bar, limits.max_documents, machine.read, eligible)
        if not chosen:
            machine.found_nothing()
            records.append(RoundRecord(index, query, [], [], RoundOutcome.NOTHING_NEW))
            yield DocumentsRead(index, [], [])
            break
        machine.chose([doc.doc_id for doc in chosen])
        read, evidence = _read(chosen, fetch, query, answer_config)
        citations.extend(read)
        yield DocumentsRead(index, chosen, read)
        follow = new_entities(evidence, query)
        outcome = _decide(follow, machine, satisfied, question, citations)
        records.append(RoundRecord(index, query, chosen, read, outcome))
        if outcome is RoundOutcome.FOLLOW_UP:
            index, query = machine.follow_up(), follow_up_query(question, evidence)
        else:
            machine.enough()
    return InterleaveResult(records, citations, machine, ranking)


def _decide(
    follow: set[str], machine: InterleaveMachine, satisfied: Satisfied | None, question: str,
    citations: list[Citation],
) -> RoundOutcome:
    if not follow:
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
    chosen: Sequence[RoutedDocument], fetch: Fetch, query: str, config: AnswerConfig
) -> tuple[list[Citation], list[Sentence]]:
    """Citations of the chosen documents, each centred on its evidence, and the evidence sentences."""
    records = {record.doc_id: record for record in fetch([doc.doc_id for doc in chosen])}
    evidence: list[Sentence] = []
    centred = []
    for doc in chosen:
        linked = link_sentences(records[doc.doc_id].text, query)
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
