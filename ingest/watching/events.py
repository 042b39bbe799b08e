"""The watchdog side: record each filesystem event (path, kind, time) in the queue table, nothing more."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler

from memsa.core.errors import MemsaError
from memsa.core.memory.ledger import IngestLedger
from memsa.core.memory.records import QueueEvent, QueueKind

from ..discovery import storable
from ..ignoring import IGNORE_FILE, is_hidden

log = logging.getLogger(__name__)

_KINDS: dict[str, QueueKind] = {"created": "created", "modified": "modified", "deleted": "deleted",
                                "moved": "moved", "closed": "modified"}


class EventRecorder:
    """Makes the per-root watchdog handlers; they share the ledger and the worker's wake-up event."""

    def __init__(self, ledger: IngestLedger, wake: threading.Event, private_folders: Sequence[Path]) -> None:
        self.ledger = ledger
        self.wake = wake
        self.private_folders = [str(folder) for folder in private_folders]

    def for_root(self, root: Path) -> FileSystemEventHandler:
        return _RootHandler(self, root)

    def record(self, root: Path, event: FileSystemEvent) -> None:
        """Turn one watchdog event into queue rows.

        Events that can never matter are dropped here, so a busy ``.git`` folder does not fill the queue:
        a folder's own "modified" (its entries' events say what changed), hidden entries and the memory's
        own folder. An edited ``.memsaignore`` queues a reconcile of its folder.
        """
        kind = _KINDS.get(event.event_type)
        if kind is None or (event.is_directory and kind == "modified"):
            return
        source = os.fsdecode(event.src_path)
        destination = os.fsdecode(event.dest_path) if kind == "moved" and event.dest_path else None
        events: list[QueueEvent] = []
        now = time.time()
        if Path(source).name == IGNORE_FILE or (destination and Path(destination).name == IGNORE_FILE):
            events.append(QueueEvent(str(Path(source).parent), "scan", now))
        elif kind == "moved" and destination and self._relevant(root, destination):
            if self._relevant(root, source):
                events.append(QueueEvent(source, "moved", now, destination=destination))
            else:  # renamed from a hidden name (an editor's temporary file) into view
                events.append(QueueEvent(destination, "created", now))
        elif self._relevant(root, source):
            events.append(QueueEvent(source, "deleted" if kind == "moved" else kind, now))
        events = [_storable(event) for event in events]
        if not events:
            return
        try:
            self.ledger.record(events)
        except MemsaError as error:  # the start-up reconcile catches up whatever could not be recorded
            log.error("could not record a change to %s: %s", source, error)
            return
        self.wake.set()

    def _relevant(self, root: Path, path: str) -> bool:
        if any(path == folder or path.startswith(folder + os.sep) for folder in self.private_folders):
            return False
        try:
            parts = Path(path).relative_to(root).parts
        except ValueError:
            return False
        return not any(is_hidden(part) for part in parts)


def _storable(event: QueueEvent) -> QueueEvent:
    """The event, or for a path memory cannot record (a name that is not UTF-8) a reconcile of the nearest
    folder it can: that records the file's outcome under a readable stand-in name."""
    paths = [event.path, *([event.destination] if event.destination else [])]
    if all(storable(path) for path in paths):
        return event
    folder = Path(event.path).parent
    while not storable(folder):
        folder = folder.parent
    return QueueEvent(str(folder), "scan", event.at)


class _RootHandler(FileSystemEventHandler):
    """Hands every event under ``root`` to the recorder."""

    def __init__(self, recorder: EventRecorder, root: Path) -> None:
        super().__init__()
        self.recorder = recorder
        self.root = root

    def on_any_event(self, event: FileSystemEvent) -> None:
        self.recorder.record(self.root, event)
