"""Answering a question with a model trained with the MSA protocol: the model names the documents it reads.

Each round is a routed prefill over memory (sparse generation, ``sparse.py``) of the question and what was
read so far; the model then writes the ids of the documents it wants (``[4][12]`` and the delimiter) or
``<End-of-Retrieve>``, parsed token by token (``retrieval.py``). The named documents' original text is the
next round's evidence (``prompt.question_prompt(..., rounds=...)``), and the latest evidence routes with the
question, so a second hop is found through what the first one said. The interleave state machine
(``interleave/machine.py``) holds the caps, rounds per question and documents per round; the rounds are
reported with the same events and records as the engine-decided rounds of other models.

The answer is decoded greedily over the last round's compact cache (memory is not read again):

- after ``<End-of-Retrieve>``, right after it, in the cache of that round;
- after a token outside the protocol (the model began answering without ending retrieval), that token is
  the answer's first;
- when the model asked for nothing new (only unknown ids or ids already read, or its call ran past
  :data:`CALL_TOKENS`), ``<End-of-Retrieve>`` is forced after its call, in the same cache;
- when the round cap stops a model that still asks, one more routed prefill shows it the documents it last
  named, with ``<End-of-Retrieve>`` forced after them: a capped question still reads what it asked for.

Unknown ids are ignored, logged and reported in the round record; ids already read are dropped (their text
is in the prompt already); a round reads at most ``max_documents``, in the order the model named them.

The question is framed by an instruction (answer from the documents in memory; first name the ones that
relate to the question), in our own words: the published model was trained with an instruction of that
meaning, and the question's tokens, instruction included, are what routes.
"""

from __future__ import annotations

import dataclasses
import logging
import statistics
import time
from collections.abc import Generator, Iterable, Iterator, Mapping
from dataclasses import dataclass

import torch

from ..answering import AnswerConfig, Citation, build_citations, order_by_support
from ..engine import Answer, AnswerEvent, Finished, Retrieved, stream_text
from ..interleave.machine import InterleaveLimits, InterleaveMachine
from ..interleave.protocol import CallEnd
from ..interleave.rounds import (
    DocumentsRead,
    Fetch,
    InterleaveResult,
    RoundEvent,
    RoundOutcome,
    RoundRecord,
    RoundStarted,
)
from ..routing import RoutedDocument
from .prompt import EvidenceRound, QuestionPrompt, TokenRole, question_prompt
from .retrieval import ModelCall, msa_protocol_tokens, read_retrieval_call
from .selection import LayerSelection, MemorySource
from .sparse import SparseGenerator, SparseState

log = logging.getLogger(__name__)

CALL_TOKENS = 64  # decoding budget of one retrieval call: about three tokens an id, far more ids than a round reads
QUESTION_FRAME = (
    "\nAnswer the question below from the documents in memory.\n\n{question}\n"
    "First name every document that relates to the question.\n"
)
STOP_TOKENS = ("<|im_end|>", "<|endoftext|>")


@dataclass
class AnswerStart:
    """Where the answer is decoded from.

    Attributes:
        state: the compact cache, every token up to the answer fed.
        logits: next-token logits [V] float32 at that point.
        lead: answer tokens already written (a first token outside the protocol).
    """

    state: SparseState
    logits: torch.Tensor
    lead: tuple[int, ...] = ()


@dataclass(frozen=True)
class ModelRounds:
    """The rounds of one question (records, citations read, the machine) and where its answer starts."""

    result: InterleaveResult
    start: AnswerStart


class MsaAsking:
    """Questions answered by an MSA model over a memory, with the rounds its retrieval calls drive.

    Args:
        generator: sparse generation for the model.
        tokenizer: the model's tokenizer (protocol tokens, stop tokens, decoding).
        memory: router keys and pooled K̄/V̄ (the bank).
        fetch: document ids -> stored records (their original text).
        answer: citation excerpt sizes and the answer's token budget.
        limits: the round and per-round document caps.
    """

    def __init__(self, generator: SparseGenerator, tokenizer: object, memory: MemorySource, fetch: Fetch,
                 answer: AnswerConfig, limits: InterleaveLimits) -> None:
        self.generator = generator
        self.tokenizer = tokenizer
        self.memory = memory
        self.fetch = fetch
        self.answer = answer
        self.limits = limits
        self.protocol = msa_protocol_tokens(tokenizer)
        vocab = tokenizer.get_vocab()  # type: ignore[attr-defined]
        self.stop_token_ids = frozenset(vocab[name] for name in STOP_TOKENS if name in vocab)

    def ask(self, question: str, rounds: int | None = None) -> Iterator[AnswerEvent]:
        """Stream a question's events: per round RoundStarted and DocumentsRead, then Retrieved, TextDelta…,
        Finished (the engine's ``ask`` contract).

        Args:
            rounds: most rounds; None: ``limits.max_rounds``.
        """
        started = time.perf_counter()
        limits = self.limits if rounds is None else dataclasses.replace(self.limits, max_rounds=rounds)
        walked = yield from self.read_rounds(question, limits)
        result = walked.result
        timings = {"route": _ms_since(started)}
        yield Retrieved(documents=result.ranking, citations=result.citations)
        text = yield from stream_text(self.answer_text(walked.start), started, timings)
        result.machine.answered()
        cited = order_by_support(text, result.citations)
        yield Finished(Answer(question, text, cited, abstained=False, timings=timings, rounds=result.rounds))

    def read_rounds(self, question: str, limits: InterleaveLimits) -> Generator[RoundEvent, None, ModelRounds]:
        """Run the model's retrieval rounds until it stops asking, asks for nothing new, or the cap."""
        machine = InterleaveMachine(limits)
        index = machine.begin()
        known = self.known_ids()
        framed = QUESTION_FRAME.format(question=question)
        evidence: list[EvidenceRound] = []
        records: list[RoundRecord] = []
        citations: list[Citation] = []
        ranking: list[RoutedDocument] = []
        while True:
            query = routing_query(question, evidence)
            yield RoundStarted(index, query)
            prompt = self._prompt(framed, evidence)
            made = read_retrieval_call(self.generator, prompt, self.memory, self.protocol, known, CALL_TOKENS)
            routed = routed_documents(made.state.selections)
            ranking = ranking or routed
            call = made.call
            if call.unknown_ids:
                log.info("round %d: the model named ids memory does not hold: %s", index, list(call.unknown_ids))
            new = [doc_id for doc_id in call.doc_ids if doc_id not in machine.read][: limits.max_documents]
            if call.ended_by is not CallEnd.DELIMITER or not new:
                machine.found_nothing()
                stopped = call.ended_by in (CallEnd.END_OF_RETRIEVE, CallEnd.STRAY)
                outcome = RoundOutcome.MODEL_SATISFIED if stopped else RoundOutcome.NOTHING_NEW
                records.append(RoundRecord(index, query, [], [], outcome, call.unknown_ids))
                yield DocumentsRead(index, [], [], call.unknown_ids)
                return ModelRounds(InterleaveResult(records, citations, machine, ranking), self._after_call(made))
            machine.chose(new)
            read_documents, read, shown = self._read(new, routed, made)
            citations.extend(read)
            evidence.append(shown)
            yield DocumentsRead(index, read_documents, read, call.unknown_ids)
            if machine.can_follow_up:
                records.append(RoundRecord(index, query, read_documents, read, RoundOutcome.FOLLOW_UP,
                                           call.unknown_ids))
                index = machine.follow_up()
                continue
            machine.enough()
            records.append(RoundRecord(index, query, read_documents, read, RoundOutcome.ROUND_CAP, call.unknown_ids))
            start = self._after_cap(framed, evidence)
            return ModelRounds(InterleaveResult(records, citations, machine, ranking), start)

    def _read(self, doc_ids: list[int], routed: list[RoutedDocument],
              made: ModelCall) -> tuple[list[RoutedDocument], list[Citation], EvidenceRound]:
        """The named documents read: with their scores this round, their citations, and the evidence the
        next round shows (the model's call, then each document's original text)."""
        stored = {record.doc_id: record for record in self.fetch(doc_ids)}
        by_id = {doc.doc_id: doc for doc in routed}
        documents = [by_id.get(doc_id, _unrouted(doc_id)) for doc_id in doc_ids if doc_id in stored]
        shown = EvidenceRound(tuple(made.token_ids), tuple((doc.doc_id, stored[doc.doc_id].text) for doc in documents))
        return documents, build_citations(documents, stored, self.answer), shown

    def answer_text(self, start: AnswerStart) -> Iterator[str]:
        """The answer decoded greedily from ``start``, as text pieces (a stop token ends it, unshown)."""
        return _text_pieces(self.tokenizer, self.answer_tokens(start))

    def answer_tokens(self, start: AnswerStart) -> Iterator[int]:
        """The answer's token ids, without the stop token."""
        budget = self.answer.max_new_tokens - len(start.lead)
        if start.lead and start.lead[-1] in self.stop_token_ids:
            yield from start.lead[:-1]
            return
        yield from start.lead
        if budget < 1:
            return
        for token in self.generator.greedy(start.state, start.logits, budget, self.stop_token_ids):
            if token in self.stop_token_ids:
                return
            yield token

    def known_ids(self) -> set[int]:
        """Ids of the documents memory holds (encoded ones: the only ones the model can have read)."""
        matrix = self.memory.router_keys(self.generator.router.spec.layers[0])
        return set(matrix.doc_ids.unique().tolist())

    def _prompt(self, framed: str, evidence: list[EvidenceRound]) -> QuestionPrompt:
        return question_prompt(self.tokenizer, self.generator.frame, framed, evidence, self.protocol.delimiter)

    def _after_call(self, made: ModelCall) -> AnswerStart:
        """The answer's start in the cache of the round whose call ended retrieval (see the module docstring)."""
        last = made.token_ids[-1]
        ended_by = made.call.ended_by
        if ended_by is CallEnd.STRAY:
            return AnswerStart(made.state, self.generator.decode_step(made.state, last), lead=(last,))
        logits = self.generator.decode_step(made.state, last)
        if ended_by is not CallEnd.END_OF_RETRIEVE:
            logits = self.generator.decode_step(made.state, self.protocol.end_of_retrieve)
        return AnswerStart(made.state, logits)

    def _after_cap(self, framed: str, evidence: list[EvidenceRound]) -> AnswerStart:
        """A last routed prefill with every round's evidence and ``<End-of-Retrieve>`` forced after it."""
        prompt = with_forced_token(self._prompt(framed, evidence), self.protocol.end_of_retrieve)
        logits, state = self.generator.prefill(prompt, self.memory, self.answer.max_new_tokens)
        return AnswerStart(state, logits)


def routing_query(question: str, evidence: list[EvidenceRound]) -> str:
    """What a round routes with, for the record: the question, then the latest round's evidence as shown."""
    if not evidence:
        return question
    shown = "".join(f"[{doc_id}]. {text}\n" for doc_id, text in evidence[-1].documents)
    return f"{question}\n{shown}".rstrip()


def routed_documents(selections: Mapping[int, LayerSelection]) -> list[RoutedDocument]:
    """The documents the router layers read in one prefill, best first.

    A document's score is the mean of its scores in the layers that selected it (the combination rule of
    ``routing.py``, over the layers that saw it); its relative score is that minus the median score of the
    documents selected in this prefill (how far it stands out from what memory offered the question). The
    best chunk is not reported by selection; excerpts start at the document's beginning.
    """
    per_document: dict[int, dict[int, float]] = {}
    for layer, selection in selections.items():
        for doc_id, score in zip(selection.doc_ids, selection.scores, strict=True):
            per_document.setdefault(doc_id, {})[layer] = score
    if not per_document:
        return []
    scores = {doc_id: statistics.fmean(layers.values()) for doc_id, layers in per_document.items()}
    median = statistics.median(scores.values())
    ranked = sorted(scores, key=lambda doc_id: (-scores[doc_id], doc_id))
    return [RoutedDocument(doc_id, scores[doc_id], per_document[doc_id], 0, scores[doc_id] - median)
            for doc_id in ranked]


def with_forced_token(prompt: QuestionPrompt, token: int) -> QuestionPrompt:
    """``prompt`` followed by one token written for the model (it reads it, it does not route)."""
    return QuestionPrompt(
        token_ids=torch.cat([prompt.token_ids, torch.tensor([token], dtype=torch.long)]),
        roles=(*prompt.roles, TokenRole.GENERATED),
        routes=(*prompt.routes, False),
    )


def _unrouted(doc_id: int) -> RoutedDocument:
    """A document the model named that no router layer selected in that round: it has no score there."""
    return RoutedDocument(doc_id, 0.0, {}, 0, 0.0)


def _text_pieces(tokenizer: object, token_ids: Iterable[int]) -> Iterator[str]:
    """Decode tokens as they come; a piece is held back while it ends inside a multi-byte character."""
    ids: list[int] = []
    shown = ""
    for token in token_ids:
        ids.append(token)
        text = tokenizer.decode(ids, skip_special_tokens=True)  # type: ignore[attr-defined]
        if text.endswith("\ufffd") or len(text) <= len(shown):
            continue
        yield text[len(shown):]
        shown = text


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)
