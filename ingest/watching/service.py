"""WatchService: keeps memory in step with watched folders, for ``memsa watch`` and the desktop app.

Threads: watchdog's observer only records events into the bank's queue table; one worker drains the queue,
a path once it has been quiet for ``quiet_seconds`` (events per path coalesce into one visit). Start-up
queues a reconcile of every watched root, so what changed while memsa was closed is caught up.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path

from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver, ObservedWatch

from memsa.core.engine import MemoryEngine
from memsa.core.errors import InvalidInput, MemsaError
from memsa.core.memory.ledger import IngestLedger
from memsa.core.memory.records import FileOutcome, QueueEntry, QueueEvent, Settlement, WatchedRoot

from ..ignoring import IgnoreConfig, IgnoreRules
from ..pipeline import MAX_DOCUMENT_CHARS
from .events import EventRecorder
from .reconcile import DUE_NOW
from .worker import PathProcessor, RootRules

log = logging.getLogger(__name__)

_RETRY_AFTER_STORAGE_ERROR_S = 5.0
_RECOUNT_S = 0.5


@dataclass(frozen=True)
class QueueProgress:
    """How the queue is doing, sent to the listener after each file and when the queue empties.

    Attributes:
        done: paths handled since the queue last emptied.
        total: ``done`` plus the paths still waiting.
        tokens: tokens encoded since the queue last emptied.
        files_per_s, tokens_per_s: rates over that time.
        eta_s: estimated seconds until the queue is empty (None before a rate is known).
        paused: whether the worker is paused.
        latest: the outcome of the latest file (None for a folder, or when the queue emptied).
        error: the storage problem holding the worker back ("" when none); it retries by itself.
    """

    done: int
    total: int
    tokens: int
    files_per_s: float
    tokens_per_s: float
    eta_s: float | None
    paused: bool
    latest: FileOutcome | None
    error: str = ""


Listener = Callable[[QueueProgress], None]


class WatchService:
    """Watched roots, the event queue and its one worker over a memory engine.

    Args:
        engine: the engine; its bank holds the roots, queue and outcomes.
        engine_lock: held by the worker around each engine or bank write; whoever asks questions takes it
            around ``engine.ask``.
        quiet_seconds: how long a path must see no event before it is read.
        listener: called from the worker thread with a QueueProgress.
        max_file_bytes: files larger than this in watched folders are skipped with a reason.
        max_document_chars: size of memory documents.
    """

    def __init__(
        self,
        engine: MemoryEngine,
        *,
        engine_lock: AbstractContextManager[object] | None = None,
        quiet_seconds: float = 2.0,
        listener: Listener | None = None,
        max_file_bytes: int = IgnoreConfig().max_file_bytes,
        max_document_chars: int = MAX_DOCUMENT_CHARS,
    ) -> None:
        if quiet_seconds < 0:
            raise InvalidInput("the quiet period cannot be negative")
        self.engine = engine
        self.quiet_seconds = quiet_seconds
        self._lock = engine_lock if engine_lock is not None else nullcontext()
        self._listener = listener
        self._max_file_bytes = max_file_bytes
        self._rules: dict[Path, IgnoreRules] = {}
        self._watches: dict[Path, ObservedWatch] = {}
        self._observer: BaseObserver | None = None
        self._worker: threading.Thread | None = None
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._running = threading.Event()
        self._running.set()
        self._state = threading.Lock()
        self._recorder = EventRecorder(engine.bank.ledger, self._wake, private_folders=[engine.bank.directory])
        self._processor = PathProcessor(
            engine, self._lock, self._governing, self._nested_roots, [engine.bank.directory], max_document_chars
        )
        self._load_roots()

    # Life cycle

    def start(self) -> None:
        """Queue a reconcile of every stored root, start watching them and start the worker."""
        if self._worker is not None:
            return
        self._stopping.clear()
        self._observer = Observer()
        with self._state:
            roots = list(self._rules)
        self.engine.bank.ledger.record([QueueEvent(str(root), "scan", DUE_NOW) for root in roots])
        for root in roots:
            self._schedule(root)
        self._observer.start()
        self._worker = threading.Thread(target=self._drain, name="memsa-ingest", daemon=True)
        self._worker.start()

    def stop(self) -> None:
        """Stop watching and let the worker finish the file in hand; both threads are joined."""
        self._stopping.set()
        self._running.set()
        self._wake.set()
        if self._observer is not None:
            self._observer.stop()
            self._observer.join()
            self._observer = None
            self._watches.clear()
        if self._worker is not None:
            self._worker.join()
            self._worker = None

    def pause(self) -> None:
        """Stop draining after the file in hand; events are still recorded."""
        self._running.clear()
        self._wake.set()

    def resume(self) -> None:
        self._running.set()
        self._wake.set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    # Roots and one-off paths

    def add_root(self, path: Path, excludes: Sequence[str] = ()) -> WatchedRoot:
        """Watch a folder (recorded in the bank) and reconcile it at once.

        Raises:
            InvalidInput: not an existing folder, or an exclude pattern is malformed.
        """
        root = Path(path).expanduser().resolve()
        if not root.is_dir():
            raise InvalidInput(f"{path} is not a folder")
        config = IgnoreConfig(excludes=tuple(excludes), max_file_bytes=self._max_file_bytes)
        ledger = self.engine.bank.ledger
        with self._lock:
            ledger.add_root(str(root), config.excludes, time.time())
            ledger.record([QueueEvent(str(root), "scan", DUE_NOW)])
        with self._state:
            self._rules[root] = IgnoreRules(root, config)
        if self._observer is not None:
            self._schedule(root)
        self._wake.set()
        return next(watched for watched in ledger.roots() if watched.path == str(root))

    def remove_root(self, path: Path, forget: bool = True) -> None:
        """Stop watching a folder; with ``forget``, memory lets go of everything in it."""
        root = Path(path).expanduser().resolve()
        with self._state:
            self._rules.pop(root, None)
        watch = self._watches.pop(root, None)
        if watch is not None and self._observer is not None:
            self._observer.unschedule(watch)
        bank = self.engine.bank
        with self._lock:
            bank.ledger.remove_root(str(root))
            bank.ledger.discard_queued_under(str(root))
            if forget:
                outcome = FileOutcome(str(root), "removed", at=time.time())
                bank.forget_tree(str(root), within=lambda: bank.ledger.settle(Settlement(outcome=outcome)))

    def roots(self) -> list[WatchedRoot]:
        return self.engine.bank.ledger.roots()

    def enqueue(self, paths: Iterable[Path]) -> None:
        """Queue one-off files or folders (a drop onto the window): read at once, not watched afterwards."""
        events = [QueueEvent(str(Path(path).expanduser().absolute()), "scan", DUE_NOW) for path in paths]
        self.engine.bank.ledger.record(events)
        self._wake.set()

    def outcomes(self, status: str | None = None, limit: int = 100) -> list[FileOutcome]:
        """Recorded outcomes, newest first (only ``status`` ones when given)."""
        return self.engine.bank.ledger.outcomes(status=status, limit=limit)

    def pending(self) -> int:
        """Paths waiting in the queue."""
        return self.engine.bank.ledger.pending()

    # Internals

    def _load_roots(self) -> None:
        for watched in self.engine.bank.ledger.roots():
            config = IgnoreConfig(excludes=watched.excludes, max_file_bytes=self._max_file_bytes)
            self._rules[Path(watched.path)] = IgnoreRules(Path(watched.path), config)

    def _schedule(self, root: Path) -> None:
        assert self._observer is not None
        if root in self._watches:
            return
        try:
            self._watches[root] = self._observer.schedule(self._recorder.for_root(root), str(root), recursive=True)
        except OSError as error:  # the folder vanished, or the system's watch limit is reached
            log.warning("cannot watch %s (%s); it is reconciled at each start instead", root, error)

    def _governing(self, path: Path) -> RootRules | None:
        """The innermost watched root holding ``path``."""
        with self._state:
            holding = [root for root in self._rules if path == root or root in path.parents]
            if not holding:
                return None
            root = max(holding, key=lambda candidate: len(candidate.parts))
            return RootRules(root, self._rules[root])

    def _nested_roots(self, folder: Path) -> list[Path]:
        with self._state:
            return [root for root in self._rules if folder in root.parents]

    def _drain(self) -> None:
        """The worker thread: handle due paths one at a time until stopped."""
        meter = _Meter()
        while not self._stopping.is_set():
            if not self._running.is_set():
                self._notify(meter, None)
                self._running.wait()
                continue
            ledger = self.engine.bank.ledger
            try:
                batches = ledger.due(time.time() - self.quiet_seconds)
                if not batches:
                    if meter.busy:
                        self._notify(meter, None)
                        meter = _Meter()
                    self._sleep_until_due()
                    continue
                for entries in batches:
                    if self._stopping.is_set() or not self._running.is_set():
                        break
                    outcome = self._process(entries)
                    meter.count(outcome)
                    self._notify(meter, outcome)
            except MemsaError as error:  # storage trouble: say so, wait, retry (nothing half-done is live)
                log.error("ingestion is waiting: %s", error)
                self._notify(meter, None, error=str(error))
                self._stopping.wait(_RETRY_AFTER_STORAGE_ERROR_S)

    def _process(self, entries: list[QueueEntry]) -> FileOutcome | None:
        """One path; a bug met on it is recorded as its failure so the queue goes on."""
        try:
            return self._processor.process(entries)
        except MemsaError:
            raise
        except Exception as error:
            log.exception("handling %s failed unexpectedly", entries[0].path)
            reason = f"memsa could not handle this file (internal error: {type(error).__name__}: {error})"
            outcome = FileOutcome(entries[0].path, "failed", reason, at=time.time())
            done = tuple(entry.entry_id for entry in entries)
            with self._lock:
                self.engine.bank.ledger.settle(Settlement(done=done, outcome=outcome))
            return outcome

    def _sleep_until_due(self) -> None:
        latest = self.engine.bank.ledger.next_due_at()
        timeout = None if latest is None else max(0.05, latest + self.quiet_seconds - time.time())
        self._wake.wait(timeout)
        self._wake.clear()

    def _notify(self, meter: _Meter, latest: FileOutcome | None, error: str = "") -> None:
        if self._listener is None:
            return
        waiting = meter.waiting(self.engine.bank.ledger, exact=latest is None)
        progress = meter.progress(waiting, self.paused, latest, error)
        try:
            self._listener(progress)
        except Exception:  # a listener's bug must not stop ingestion
            log.exception("the ingestion listener failed")


class _Meter:
    """Counts and rates since the queue last emptied."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.done = 0
        self.tokens = 0
        self._waiting = (0, -1.0)  # (paths waiting, when counted)

    @property
    def busy(self) -> bool:
        return self.done > 0

    def count(self, outcome: FileOutcome | None) -> None:
        self.done += 1
        self.tokens += outcome.tokens if outcome else 0

    def waiting(self, ledger: IngestLedger, exact: bool) -> int:
        """Paths waiting in the queue, counted at most twice a second unless ``exact`` (a long queue is
        costly to count); in between, each file done counts one less."""
        count, counted_at = self._waiting
        now = time.monotonic()
        if exact or now - counted_at >= _RECOUNT_S or count <= 1:
            self._waiting = count, counted_at = ledger.pending(), now
        else:
            count -= 1  # one more path done since it was counted
            self._waiting = count, counted_at
        return count

    def progress(self, waiting: int, paused: bool, latest: FileOutcome | None, error: str) -> QueueProgress:
        elapsed = max(time.monotonic() - self.started, 1e-6)
        files_per_s = self.done / elapsed
        eta = waiting / files_per_s if files_per_s > 0 else None
        return QueueProgress(
            done=self.done,
            total=self.done + waiting,
            tokens=self.tokens,
            files_per_s=files_per_s,
            tokens_per_s=self.tokens / elapsed,
            eta_s=eta,
            paused=paused,
            latest=latest,
            error=error,
        )
