"""The thread that owns the model: opens the engine, answers questions, looks up passages.

Everything it learns is handed to ``post`` as a plain record (below); the façade turns those into Qt signals.
The engine lock is shared with the ingest worker, so one thread at a time uses the model and the SQLite writer.
"""

from __future__ import annotations

import logging
import os
import queue
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass

from memsa.core.engine import Finished, MemoryEngine, Retrieved, TextDelta
from memsa.core.errors import MemsaError, UserFixableError
from memsa.core.settings import EngineSettings
from memsa.ingest.watching import WatchService

from .records import CitationView, EngineInfo, Passage

log = logging.getLogger(__name__)

BACKGROUND_NICENESS = 5


@dataclass(frozen=True)
class EngineReady:
    info: EngineInfo


@dataclass(frozen=True)
class EngineFailed:
    message: str


@dataclass(frozen=True)
class AnswerDelta:
    key: int
    text: str


@dataclass(frozen=True)
class AnswerStep:
    """An interleave round: "looked at …" the documents it read."""

    key: int
    text: str


@dataclass(frozen=True)
class AnswerDone:
    key: int
    text: str
    citations: list[CitationView]
    abstained: bool
    stopped: bool


@dataclass(frozen=True)
class AnswerFailed:
    key: int
    message: str


@dataclass(frozen=True)
class PassageLoaded:
    passage: Passage


@dataclass(frozen=True)
class Problem:
    message: str


ServiceFactory = Callable[[MemoryEngine, threading.RLock], WatchService]


@dataclass(frozen=True)
class _Ask:
    key: int
    question: str
    top_k: int | None


@dataclass(frozen=True)
class _LoadPassage:
    citation: CitationView


class EngineHost:
    """Owns the engine on one thread; commands are queued, results posted back.

    Args:
        settings: how to open the engine.
        post: receives every result record; called on this host's thread.
        service_factory: builds the ingest service once the engine is open (started on this thread, so its
            start-up reconcile never runs on the GUI thread).
        previous: a host to close (on this thread) before opening, when memory is reopened with new settings.
    """

    def __init__(
        self,
        settings: EngineSettings,
        post: Callable[[object], None],
        service_factory: ServiceFactory | None = None,
        previous: EngineHost | None = None,
    ) -> None:
        self.settings = settings
        self.lock = threading.RLock()
        self.engine: MemoryEngine | None = None
        self.service: WatchService | None = None
        self._post = post
        self._service_factory = service_factory
        self._previous = previous
        self._commands: queue.Queue[object] = queue.Queue()
        self._stop_answer = threading.Event()
        self._thread = threading.Thread(target=self._run, name="memsa-engine", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def ask(self, key: int, question: str, top_k: int | None = None) -> None:
        self._stop_answer.clear()
        self._commands.put(_Ask(key, question, top_k))

    def stop_answer(self) -> None:
        """Stop the answer being generated (the text so far is kept)."""
        self._stop_answer.set()

    def load_passage(self, citation: CitationView) -> None:
        self._commands.put(_LoadPassage(citation))

    def close(self) -> None:
        """Stop the ingest service, close the engine, join the thread."""
        self._stop_answer.set()
        self._commands.put(None)
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        lower_thread_priority()
        if self._previous is not None:
            self._previous.close()
            self._previous = None
        try:
            self._open()
        except MemsaError as error:
            if not isinstance(error, UserFixableError):
                log.exception("the engine did not open")
            self._post(EngineFailed(str(error)))
            self._drain_until_closed()
            return
        try:
            while (command := self._commands.get()) is not None:
                if isinstance(command, _Ask):
                    self._answer(command)
                elif isinstance(command, _LoadPassage):
                    self._passage(command.citation)
        finally:
            self._shutdown()

    def _open(self) -> None:
        engine = MemoryEngine.open(self.settings)
        self.engine = engine
        stats = engine.status()
        answers_by = "llama.cpp" if engine.answers_with_llama_cpp else "torch"
        info = EngineInfo(engine.loaded.spec.name, str(self.settings.data_dir), self.settings.device, answers_by,
                          stats.documents, stats.sources)
        if self._service_factory is not None:
            self.service = self._service_factory(engine, self.lock)
            self.service.start()
        self._post(EngineReady(info))

    def _drain_until_closed(self) -> None:
        while (command := self._commands.get()) is not None:
            if isinstance(command, _Ask):
                self._post(AnswerFailed(command.key, "memory is not open"))

    def _answer(self, command: _Ask) -> None:
        assert self.engine is not None
        parts: list[str] = []
        try:
            with self.lock:
                events = self.engine.ask(command.question, command.top_k)
                try:
                    for event in events:
                        if self._stop_answer.is_set():
                            self._post(AnswerDone(command.key, "".join(parts).strip(), [], False, stopped=True))
                            return
                        self._relay(command.key, event, parts)
                finally:
                    events.close()
        except MemsaError as error:
            if not isinstance(error, UserFixableError):
                log.exception("answering failed")
            self._post(AnswerFailed(command.key, str(error)))

    def _relay(self, key: int, event: object, parts: list[str]) -> None:
        if isinstance(event, TextDelta):
            parts.append(event.text)
            self._post(AnswerDelta(key, event.text))
        elif isinstance(event, Finished):
            answer = event.answer
            citations = [CitationView.of(citation) for citation in answer.citations]
            self._post(AnswerDone(key, answer.text, citations, answer.abstained, stopped=False))
        elif isinstance(event, Retrieved):
            return
        elif type(event).__name__ == "DocumentsRead":  # interleave rounds, when the engine has them
            self._post(AnswerStep(key, looked_at(event)))

    def _passage(self, citation: CitationView) -> None:
        assert self.engine is not None
        with self.lock:
            records = self.engine.bank.documents([citation.doc_id])
        if not records:
            self._post(Problem(f"{citation.label} is no longer in memory"))
            return
        document = records[0]
        start = min(max(citation.start - document.start, 0), len(document.text))
        end = min(max(citation.end - document.start, start), len(document.text))
        self._post(PassageLoaded(Passage(citation, document.text, start, end)))

    def _shutdown(self) -> None:
        if self.service is not None:
            self.service.stop()
        if self.engine is not None:
            with self.lock:
                self.engine.close()


def lower_thread_priority(steps: int = BACKGROUND_NICENESS) -> None:
    """Make the calling thread (and the threads it starts: the ingest worker, the math libraries' pools) yield
    the CPU to the GUI thread, so a busy machine never keeps the window waiting for a core. Linux only: there
    a thread's nice value is its own and is inherited by the threads it creates."""
    if not sys.platform.startswith("linux"):
        return
    thread_id = threading.get_native_id()
    try:
        os.setpriority(os.PRIO_PROCESS, thread_id, os.getpriority(os.PRIO_PROCESS, thread_id) + steps)
    except OSError as error:
        log.info("background threads keep their priority: %s", error)


def looked_at(event: object) -> str:
    """ "Looked at notes.md, trip.md" for an interleave round's DocumentsRead event (rounds count from 1)."""
    names: list[str] = []
    for citation in getattr(event, "citations", []) or []:
        label = CitationView.of(citation).label
        if label not in names:
            names.append(label)
    if not names:
        names = [f"document {getattr(doc, 'doc_id', '?')}" for doc in getattr(event, "documents", []) or []]
    round_number = int(getattr(event, "index", 1))
    what = ", ".join(names) if names else "nothing new"
    return f"Looked at {what}" if round_number <= 1 else f"Round {round_number}: looked at {what}"
