"""The one object between the window and the engine: methods in, queued Qt signals with plain records out.

Worker threads post records through a queued signal; streamed text and ingest progress are coalesced on
short timers so the window repaints a few dozen times a second however fast the workers go.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from memsa.core.engine import MemoryEngine
from memsa.core.errors import MemsaError
from memsa.core.settings import EngineSettings
from memsa.ingest.watching import QueueProgress, WatchedRoot, WatchService

from .engine_host import (
    AnswerDelta,
    AnswerDone,
    AnswerFailed,
    AnswerStep,
    EngineFailed,
    EngineHost,
    EngineReady,
    PassageLoaded,
    Problem,
)
from .records import CitationView, EngineInfo, FailedFile, IngestStatus, SourceRoot

log = logging.getLogger(__name__)

TEXT_FLUSH_MS = 40
PROGRESS_FLUSH_MS = 50
SOURCES_REFRESH_S = 1.0


QUIET_SECONDS = 2.0


class MemoryFacade(QObject):
    """Everything the window may ask of memory; every answer arrives as a signal on the GUI thread."""

    engine_ready = Signal(object)  # EngineInfo
    engine_failed = Signal(str)
    answer_text = Signal(int, str)  # key, newly generated text (coalesced)
    answer_step = Signal(int, str)  # key, "Round 1: looked at …"
    answer_finished = Signal(int, object)  # key, AnswerDone
    answer_failed = Signal(int, str)
    ingest_progress = Signal(object)  # IngestStatus (coalesced)
    sources_changed = Signal(object)  # list[SourceRoot]
    failures_changed = Signal(object)  # list[FailedFile]
    passage_ready = Signal(object)  # Passage
    problem = Signal(str)

    _posted = Signal(object)

    def __init__(
        self, settings: EngineSettings, quiet_seconds: float = QUIET_SECONDS, parent: QObject | None = None
    ) -> None:
        """``quiet_seconds``: how long a changed file must stay unchanged before it is read again."""
        super().__init__(parent)
        self.settings = settings
        self.quiet_seconds = quiet_seconds
        self.info: EngineInfo | None = None
        self.roots: list[SourceRoot] = []
        self._next_key = 0
        self._pending_text: dict[int, list[str]] = {}
        self._pending_progress: IngestStatus | None = None
        self._last_sources_refresh = 0.0
        self._pending_roots: list[tuple[Path, tuple[str, ...]]] = []
        self._paused = False
        self._closed = False
        self._posted.connect(self._receive)
        self._text_timer = _single_shot(self, TEXT_FLUSH_MS, self._flush_text)
        self._progress_timer = _single_shot(self, PROGRESS_FLUSH_MS, self._flush_progress)
        # Calls into the ingest service (which may scan folders or wait for the engine lock) run here.
        self._sources = ThreadPoolExecutor(max_workers=1, thread_name_prefix="memsa-sources")
        self._host = self._new_host(settings, previous=None)

    @property
    def ready(self) -> bool:
        return self.info is not None

    @property
    def paused(self) -> bool:
        return self._paused

    def start(self) -> None:
        """Open the engine in the background; ``engine_ready`` or ``engine_failed`` follows."""
        self._host.start()

    def restart(self, settings: EngineSettings) -> None:
        """Close the engine and open it again with ``settings`` (another model, device or data folder)."""
        self.settings = settings
        self.info = None
        self._host = self._new_host(settings, previous=self._host)
        self._host.start()

    def shutdown(self) -> None:
        """Stop answering and ingesting, close the engine and join every thread."""
        self._closed = True
        self._text_timer.stop()
        self._progress_timer.stop()
        self._sources.shutdown(wait=True, cancel_futures=True)
        self._host.close()

    def ask(self, question: str, top_k: int | None = None) -> int:
        """Start answering ``question``; returns the key its signals carry."""
        self._next_key += 1
        self._host.ask(self._next_key, question, top_k)
        return self._next_key

    def stop_answer(self) -> None:
        self._host.stop_answer()

    def load_passage(self, citation: CitationView) -> None:
        self._host.load_passage(citation)

    def add_root(self, path: Path, excludes: Iterable[str] = ()) -> None:
        """Keep a folder in memory (remembered at once, then kept in step); a file (a chat export) is
        remembered once."""
        if not self.ready:
            self._pending_roots.append((path, tuple(excludes)))
        elif path.is_dir():
            self._on_service("add_root", path, excludes=tuple(excludes))
        else:
            self.enqueue([path])

    def remove_root(self, path: Path) -> None:
        """Stop watching a folder and forget what memory holds from it."""
        self._on_service("remove_root", path, forget=True)

    def enqueue(self, paths: Iterable[Path]) -> None:
        """Remember dropped files and folders once."""
        self._on_service("enqueue", list(paths))

    def set_paused(self, paused: bool) -> None:
        self._paused = paused
        self._on_service("pause" if paused else "resume")

    def apply_ignore_rules(self, excludes: Iterable[str]) -> None:
        """Give every watched folder these ignore rules; each is reconciled with them at once."""
        for root in self.roots:
            self._on_service("add_root", Path(root.path), excludes=tuple(excludes))

    def refresh_sources(self) -> None:
        if not self._closed:
            self._sources.submit(self._query_sources)

    def _new_host(self, settings: EngineSettings, previous: EngineHost | None) -> EngineHost:
        def service(engine: MemoryEngine, lock: threading.RLock) -> WatchService:
            return WatchService(
                engine, engine_lock=lock, quiet_seconds=self.quiet_seconds, listener=self._on_queue_progress
            )

        return EngineHost(settings, self._posted.emit, service, previous)

    def _on_service(self, method: str, *args: Any, **kwargs: Any) -> None:
        if self._closed:
            return

        def call() -> None:
            service = self._host.service
            if service is None:
                self._posted.emit(Problem("memory is not open yet"))
                return
            try:
                getattr(service, method)(*args, **kwargs)
            except (MemsaError, OSError) as error:
                self._posted.emit(Problem(str(error)))
            self._query_sources()

        self._sources.submit(call)

    def _query_sources(self) -> None:
        service = self._host.service
        if service is None:
            return
        try:
            roots = [root_record(root) for root in service.roots()]
            failed = [FailedFile(o.path, o.reason) for o in service.outcomes(status="failed", limit=500)]
        except (MemsaError, OSError) as error:
            self._posted.emit(Problem(str(error)))
            return
        self._posted.emit(_SourcesSnapshot(roots, failed))

    def _on_queue_progress(self, progress: QueueProgress) -> None:
        """Called on the ingest worker thread after each file and when the queue empties."""
        self._posted.emit(
            IngestStatus(
                done=progress.done, total=progress.total, tokens=progress.tokens,
                files_per_s=progress.files_per_s, tokens_per_s=progress.tokens_per_s, eta_s=progress.eta_s,
                paused=progress.paused, current=progress.latest.path if progress.latest else "",
                error=progress.error,
            )
        )

    @Slot(object)
    def _receive(self, record: object) -> None:
        if isinstance(record, AnswerDelta):
            self._pending_text.setdefault(record.key, []).append(record.text)
            if not self._text_timer.isActive():
                self._text_timer.start()
        elif isinstance(record, IngestStatus):
            self._pending_progress = record
            if not self._progress_timer.isActive():
                self._progress_timer.start()
        elif isinstance(record, AnswerDone):
            self._flush_text()
            self.answer_finished.emit(record.key, record)
        elif isinstance(record, AnswerStep):
            self._flush_text()
            self.answer_step.emit(record.key, record.text)
        elif isinstance(record, AnswerFailed):
            self._flush_text()
            self.answer_failed.emit(record.key, record.message)
        elif isinstance(record, PassageLoaded):
            self.passage_ready.emit(record.passage)
        elif isinstance(record, EngineReady):
            self._on_ready(record.info)
        elif isinstance(record, EngineFailed):
            self.engine_failed.emit(record.message)
        elif isinstance(record, Problem):
            self.problem.emit(record.message)
        elif isinstance(record, _SourcesSnapshot):
            self.roots = record.roots
            self.sources_changed.emit(record.roots)
            self.failures_changed.emit(record.failed)

    def _on_ready(self, info: EngineInfo) -> None:
        self.info = info
        self.engine_ready.emit(info)
        pending, self._pending_roots = self._pending_roots, []
        for path, excludes in pending:
            self.add_root(path, excludes)
        if self._paused:
            self._on_service("pause")
        self.refresh_sources()

    def _flush_text(self) -> None:
        pending, self._pending_text = self._pending_text, {}
        for key, pieces in pending.items():
            self.answer_text.emit(key, "".join(pieces))

    def _flush_progress(self) -> None:
        progress, self._pending_progress = self._pending_progress, None
        if progress is None:
            return
        self.ingest_progress.emit(progress)
        now = time.monotonic()
        if not progress.busy or now - self._last_sources_refresh >= SOURCES_REFRESH_S:
            self._last_sources_refresh = now
            self.refresh_sources()


@dataclass(frozen=True)
class _SourcesSnapshot:
    roots: list[SourceRoot]
    failed: list[FailedFile]


def root_record(root: WatchedRoot) -> SourceRoot:
    """A watched root as the window shows it."""
    return SourceRoot(path=root.path, excludes=root.excludes, counts=dict(root.counts), last_scan=root.last_scan)


def _single_shot(parent: QObject, interval_ms: int, slot: Callable[[], None]) -> QTimer:
    timer = QTimer(parent)
    timer.setSingleShot(True)
    timer.setInterval(interval_ms)
    timer.timeout.connect(slot)
    return timer
