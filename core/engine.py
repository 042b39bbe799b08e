"""The memory engine: one object that owns the model, the router and the memory bank.

It is the only way callers (ingestion, CLI, GUI) reach the model: remember documents, forget sources,
ask questions. It is not thread-safe; one thread owns it.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

import torch

from .abstention import reading_bar
from .answering import (
    NOT_FOUND,
    Citation,
    build_messages,
    order_by_support,
)
from .decoder import Decoder
from .encoding import encode_documents
from .generation import LlamaCppGenerator, TextGenerator, TorchGenerator, llama_cpp_available
from .interleave.judge import SufficiencyJudge
from .interleave.rounds import DocumentsRead, InterleaveResult, RoundEvent, RoundRecord, RoundStarted, run_rounds
from .lexical import fused_ranking
from .memory.bank import MemoryBank
from .memory.records import BankIdentity, BankStats, NewDocument, SourceInfo
from .models import LoadedModel, load_model, resolve_model
from .msa.checkpoint import engine_dtype
from .msa.memory_text import memory_document
from .msa.prompt import chat_frame
from .msa.sparse import SparseGenerator
from .rerank import passage_text, rerank
from .router import RouterProjectors, find_router, shipped_router_dir
from .routing import RoutedDocument, question_states
from .sentence_encoder import MiniLMSentences, SentenceEncoder
from .settings import EngineSettings, ensure_private_dir

if TYPE_CHECKING:
    from .msa.asking import MsaAsking

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DocumentText:
    """A memory document to remember: its text, where it sits in its source's text, and the anchored
    sections it covers (``(start, end, anchor)`` in the same offsets)."""

    text: str
    start: int
    end: int
    title: str = ""
    anchors: tuple[tuple[int, int, str], ...] = ()


@dataclass(frozen=True)
class Remembered:
    """What remembering one source stored: its new document ids and the tokens encoded."""

    doc_ids: list[int]
    tokens: int


@dataclass(frozen=True)
class Retrieved:
    """Routing finished: the ranked documents and the citations of those shown to the model."""

    documents: list[RoutedDocument]
    citations: list[Citation]


@dataclass(frozen=True)
class TextDelta:
    """A piece of the answer as it is generated."""

    text: str


@dataclass(frozen=True)
class Answer:
    """A finished answer.

    Attributes:
        question: what was asked.
        text: the whole answer.
        citations: the evidence shown to the model, the passages the answer rests on first (empty when
            the model found nothing in them).
        abstained: true when memory held nothing relevant enough and the model was not asked.
        timings: milliseconds for ``route``, ``first_token`` and ``total``.
        rounds: every interleave round: its query, the documents it read with their scores, its outcome.
    """

    question: str
    text: str
    citations: list[Citation]
    abstained: bool
    timings: dict[str, float] = field(default_factory=dict)
    rounds: list[RoundRecord] = field(default_factory=list)


@dataclass(frozen=True)
class Finished:
    """The last event of a question."""

    answer: Answer


AnswerEvent = RoundStarted | DocumentsRead | Retrieved | TextDelta | Finished


class MemoryEngine:
    """Model + router + memory bank, opened from settings.

    Use :meth:`open`; close with :meth:`close` or a ``with`` block.
    """

    def __init__(
        self, settings: EngineSettings, loaded: LoadedModel, router: RouterProjectors, bank: MemoryBank
    ) -> None:
        self.settings = settings
        self.loaded = loaded
        self.router = router
        self.bank = bank
        self.decoder = Decoder(loaded.model)
        self._generator: TextGenerator | None = None

    @classmethod
    def open(cls, settings: EngineSettings, *, adopt_identity: bool = False) -> MemoryEngine:
        """Load the model and its router and open the memory bank.

        Raises:
            ModelNotFound, RouterUnavailable, BankMismatch, StorageUnavailable: with a message for the user.
        """
        ensure_private_dir(settings.data_dir)
        if settings.threads is not None:
            torch.set_num_threads(settings.threads)
        spec = resolve_model(settings.model)
        loaded = load_model(spec, cache_dir=settings.cache_dir, dtype=engine_dtype(spec.path, settings.device))
        loaded.model.to(settings.device)
        router: RouterProjectors
        if loaded.msa is not None:  # an MSA checkpoint carries its router and pooling size
            router, settings = loaded.msa.router, loaded.msa.engine_settings(settings)
        else:
            router = find_router(loaded.fingerprint, [settings.router_dir, shipped_router_dir()], spec.name)
        router.to(settings.device)
        bank = MemoryBank.open(settings.bank_dir, identity_of(loaded, router, settings), adopt_identity=adopt_identity)
        return cls(settings, loaded, router, bank)

    def close(self) -> None:
        self.bank.close()

    def __enter__(self) -> MemoryEngine:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def remember(
        self,
        source: SourceInfo,
        documents: Sequence[DocumentText],
        within: Callable[[Remembered], None] | None = None,
    ) -> Remembered:
        """Encode ``documents`` and make them the whole content of ``source`` in one transaction.

        ``within`` is called with the result inside that transaction (the ingestion ledger records the
        file's outcome there, so both commit together).
        """
        max_tokens = self.settings.encoding.max_document_tokens
        # An MSA model's memory carries each document's id, so ids are taken before encoding (msa/memory_text.py).
        doc_ids = self.bank.reserve_document_ids(len(documents)) if self.loaded.msa else [None] * len(documents)
        tokenized = [memory_document(self.loaded.tokenizer, doc.text, max_tokens, doc_id)
                     for doc, doc_id in zip(documents, doc_ids, strict=True)]
        encoded = encode_documents(self.decoder, self.router, tokenized, self.settings.encoding)
        tokens = sum(doc.n_tokens for doc in tokenized)
        doc_ids = self.bank.put_source(
            source,
            [
                NewDocument(text=doc.text, start=doc.start, end=doc.end, title=doc.title, encoding=encoding,
                            anchors=doc.anchors, doc_id=doc_id)
                for doc, encoding, doc_id in zip(documents, encoded, doc_ids, strict=True)
            ],
            within=None if within is None else lambda doc_ids: within(Remembered(doc_ids, tokens)),
        )
        return Remembered(doc_ids=doc_ids, tokens=tokens)

    def reencode(self, progress: Callable[[int, int], None] | None = None, batch: int = 32) -> int:
        """Encode every document the bank holds without an encoding (after a model or router change)."""
        pending = self.bank.unencoded_document_ids()
        for start in range(0, len(pending), batch):
            records = self.bank.documents(pending[start : start + batch])
            tokenized = [
                memory_document(self.loaded.tokenizer, record.text, self.settings.encoding.max_document_tokens,
                                record.doc_id if self.loaded.msa else None)
                for record in records
            ]
            encoded = encode_documents(self.decoder, self.router, tokenized, self.settings.encoding)
            self.bank.set_encodings([(record.doc_id, enc) for record, enc in zip(records, encoded, strict=True)])
            if progress is not None:
                progress(min(start + batch, len(pending)), len(pending))
        return len(pending)

    def forget(self, path: str) -> int:
        """Remove a source file, or every source under a folder. Returns documents removed."""
        removed = self.bank.delete_source(path)
        return removed + self.bank.delete_sources_under(path)

    def status(self) -> BankStats:
        return self.bank.stats()

    def retrieve(self, question: str, top_k: int | None = None) -> list[RoutedDocument]:
        """Stage 2 only: the ranked documents for a question.

        The router's ranking with the exact-words index's fused in (``lexical.py``: scores and relative
        scores, and so the abstention bar, are fused), its first documents re-read by the sentence model
        (``rerank.py``: places keep their scores) unless ``settings.rerank.enabled`` is off.
        """
        states = question_states(self.decoder, self.loaded.tokenizer, question, self.router.spec.layers)
        ranking = fused_ranking(self.router, states, self.bank.router_keys, self.bank.lexical_matches, question,
                                top_k or self.settings.top_k)
        config = self.settings.rerank
        if not config.enabled or len(ranking) < 2:
            return ranking
        head = ranking[: config.candidates]
        records = {record.doc_id: record for record in self.bank.documents([doc.doc_id for doc in head])}
        passages = [passage_text(records[doc.doc_id].text, records[doc.doc_id].router_chunk_spans, doc.best_chunk,
                                 config.passage_chars) for doc in head]
        return rerank(question, ranking, passages, self.sentence_encoder, config)

    @cached_property
    def sentence_encoder(self) -> SentenceEncoder:
        """The sentence model that re-reads passages, loaded on the first question."""
        return MiniLMSentences(self.settings.device)

    def interleave(
        self, question: str, top_k: int | None = None, rounds: int | None = None
    ) -> Generator[RoundEvent, None, InterleaveResult]:
        """The routing and reading rounds of a question (Memory Interleave, see ``interleave/``), no answer.

        Args:
            top_k: documents each router layer selects; by default deep enough for the rounds to look
                for documents naming what the query names (``settings.interleave.candidates``).
            rounds: most routing rounds; 1 routes once; None: up to ``settings.interleave.max_rounds``.
        """
        limits = self.settings.interleave
        if rounds is not None:
            limits = dataclasses.replace(limits, max_rounds=rounds)
        depth = top_k if top_k is not None else max(self.settings.top_k, limits.candidates)
        # The question is routed once, here, so the abstention rule (``abstention.py``) can judge its ranking;
        # when it abstains no document can clear the bar, and the first round reads nothing.
        first = {question: self.retrieve(question, depth)}
        bar = reading_bar(question, first[question], self.bank.lexical_matches, self.router.spec.abstain_below)
        return run_rounds(
            question, limits=limits, bar=bar,
            route=lambda query: first.pop(query) if query in first else self.retrieve(query, depth),
            fetch=self.bank.documents,
            answer_config=self.settings.answer, satisfied=self.sufficiency_judge if limits.model_check else None,
        )

    @cached_property
    def sufficiency_judge(self) -> SufficiencyJudge:
        """The model's yes/no check after an interleave round (``settings.interleave.model_check``)."""
        return SufficiencyJudge(self.loaded.model, self.loaded.tokenizer)

    def ask(self, question: str, top_k: int | None = None, rounds: int | None = None) -> Iterator[AnswerEvent]:
        """Answer a question from memory, streaming events: per round RoundStarted and DocumentsRead, then
        Retrieved, TextDelta…, Finished.

        Args:
            rounds: most routing rounds (Memory Interleave, see ``interleave/``); 1 routes once; None lets
                the engine stop by itself within ``settings.interleave.max_rounds``.

        An MSA checkpoint names the documents it reads itself, round by round (``msa/asking.py``).
        """
        if self.loaded.msa is not None:
            yield from self.msa_asking.ask(question, rounds)
            return
        started = time.perf_counter()
        interleaved = yield from self.interleave(question, top_k, rounds)
        citations = interleaved.citations
        timings = {"route": _ms_since(started)}
        yield Retrieved(documents=interleaved.ranking, citations=citations)
        if not citations:
            timings["first_token"] = timings["total"] = _ms_since(started)
            yield TextDelta(NOT_FOUND)
            interleaved.machine.answered()
            yield Finished(
                Answer(question, NOT_FOUND, [], abstained=True, timings=timings, rounds=interleaved.rounds)
            )
            return
        prompt = self.loaded.tokenizer.apply_chat_template(  # type: ignore[attr-defined]
            build_messages(question, citations), tokenize=False, add_generation_prompt=True
        )
        text = yield from stream_text(self.generator().stream(prompt, self.settings.answer.max_new_tokens), started,
                                      timings)
        abstained = text.startswith(NOT_FOUND)
        cited = [] if abstained else order_by_support(text, citations)
        interleaved.machine.answered()
        yield Finished(Answer(question, text, cited, abstained=abstained, timings=timings, rounds=interleaved.rounds))

    @property
    def answers_with_llama_cpp(self) -> bool:
        """llama.cpp answers for a GGUF model on a CPU (when installed); torch answers otherwise."""
        return self.loaded.spec.kind == "gguf" and self.settings.device == "cpu" and llama_cpp_available()

    def generator(self) -> TextGenerator:
        """The answer generator, built on first use (see :attr:`answers_with_llama_cpp`)."""
        if self._generator is None:
            tokenizer = self.loaded.tokenizer
            eos = tokenizer.eos_token  # type: ignore[attr-defined]
            spec = self.loaded.spec
            if self.answers_with_llama_cpp:
                self._generator = LlamaCppGenerator(spec.path, stop=[eos] if eos else [],
                                                    n_threads=self.settings.threads)
            else:
                self._generator = TorchGenerator(
                    self.loaded.model, tokenizer, [tokenizer.eos_token_id]  # type: ignore[attr-defined]
                )
            log.info("answers generated with %s", self._generator.name)
        return self._generator

    @cached_property
    def sparse_generator(self) -> SparseGenerator:
        """Sparse generation over the bank's pooled keys/values (MSA checkpoints; see ``msa/sparse.py``)."""
        return SparseGenerator(self.decoder, self.router, chat_frame(self.loaded.tokenizer), self.settings.top_k)

    @cached_property
    def msa_asking(self) -> MsaAsking:
        """Questions answered by an MSA checkpoint over the bank (``msa/asking.py``)."""
        from .msa.asking import MsaAsking  # it builds this module's answer events

        return MsaAsking(self.sparse_generator, self.loaded.tokenizer, self.bank, self.bank.documents,
                         self.settings.answer, self.settings.interleave)


def identity_of(loaded: LoadedModel, router: RouterProjectors, settings: EngineSettings) -> BankIdentity:
    """The identity a bank built by this model, router and settings carries."""
    decoder_shape = Decoder(loaded.model).shape
    return BankIdentity(
        model_fingerprint=loaded.fingerprint,
        model_name=loaded.spec.name,
        router_fingerprint=router.fingerprint(),
        router_layers=router.spec.layers,
        router_key_dim=router.spec.key_dim,
        kv_dim=decoder_shape.kv_dim,
        chunk_tokens=settings.encoding.chunk_tokens,
        router_chunk_tokens=router.spec.router_chunk_tokens,
    )


def stream_text(pieces: Iterable[str], started: float, timings: dict[str, float]) -> Generator[TextDelta, None, str]:
    """Yield each piece of an answer as a TextDelta and return the whole text, stripped; records
    ``first_token`` and ``total`` in ``timings`` (milliseconds since ``started``, a perf_counter time)."""
    collected: list[str] = []
    for piece in pieces:
        if not collected:
            timings["first_token"] = _ms_since(started)
        collected.append(piece)
        yield TextDelta(piece)
    timings["total"] = _ms_since(started)
    timings.setdefault("first_token", timings["total"])
    return "".join(collected).strip()


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)

