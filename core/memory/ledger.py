"""The ingestion ledger in the bank's database: watched roots, the event queue and every file's outcome (SQL).

It shares the memory index's connection, so a queue entry can leave in the very transaction that stores
its result: a crash either keeps both (the entry is done again, harmlessly) or neither.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Sequence

from .index import MemoryIndex
from .records import FileOutcome, QueueEntry, QueueEvent, Settlement, WatchedRoot
from .rows import prefix_bounds

_SEPARATORS = tuple(sep for sep in (os.sep, os.altsep) if sep)
_OUTCOME_COLUMNS = "path, status, reason, documents, tokens, recorded_at"


class IngestLedger:
    """Roots, queue and outcomes. Thread-safe: every method holds the bank's lock.

    Args:
        index: the bank's index (its connection and transactions).
        lock: the bank's lock, so ledger writes never interleave with a bank write's transaction.
    """

    def __init__(self, index: MemoryIndex, lock: threading.RLock) -> None:
        self._index = index
        self._lock = lock

    # Roots

    def add_root(self, path: str, excludes: Sequence[str], at: float) -> None:
        """Watch ``path`` (again), with these exclude patterns."""
        with self._lock, self._index.transaction():
            self._index.connection.execute(
                """INSERT INTO watched_roots (path, excludes_json, added_at) VALUES (?, ?, ?)
                   ON CONFLICT(path) DO UPDATE SET excludes_json = excluded.excludes_json""",
                (path, json.dumps(list(excludes)), at),
            )

    def remove_root(self, path: str) -> bool:
        with self._lock, self._index.transaction():
            self._index.connection.execute("DELETE FROM watched_roots WHERE path = ?", (path,))
            return self._index.connection.changes() > 0

    def mark_scanned(self, path: str, at: float) -> None:
        with self._lock, self._index.transaction():
            self._index.connection.execute("UPDATE watched_roots SET last_scan = ? WHERE path = ?", (at, path))

    def roots(self) -> list[WatchedRoot]:
        """Every watched root with its outcome counts."""
        with self._lock:
            rows = self._index.connection.execute(
                "SELECT path, excludes_json, last_scan FROM watched_roots ORDER BY path"
            ).fetchall()
            return [
                WatchedRoot(
                    str(path), tuple(json.loads(str(excludes))), self.counts(str(path)),
                    None if last_scan is None else float(last_scan),
                )
                for path, excludes, last_scan in rows
            ]

    # Queue

    def record(self, events: Sequence[QueueEvent]) -> None:
        """Append events to the queue (the only thing a filesystem watcher does)."""
        if not events:
            return
        with self._lock, self._index.transaction():
            self._index.connection.executemany(
                "INSERT INTO ingest_queue (path, kind, destination, recorded_at) VALUES (?, ?, ?, ?)",
                [(event.path, event.kind, event.destination, event.at) for event in events],
            )

    def due(self, quiet_before: float, limit: int = 64) -> list[list[QueueEntry]]:
        """Entries of up to ``limit`` paths whose latest event is no later than ``quiet_before``, grouped by
        path in order of each path's first event (so a file still being written waits, others do not)."""
        with self._lock:
            paths = [
                path
                for (path,) in self._index.connection.execute(
                    """SELECT path FROM ingest_queue GROUP BY path HAVING MAX(recorded_at) <= ?
                       ORDER BY MIN(id) LIMIT ?""",
                    (quiet_before, limit),
                )
            ]
            return [self._entries_of(path) for path in paths]

    def _entries_of(self, path: str) -> list[QueueEntry]:
        rows = self._index.connection.execute(
            "SELECT id, path, kind, recorded_at, destination FROM ingest_queue WHERE path = ? ORDER BY id", (path,)
        )
        return [QueueEntry(*row) for row in rows]

    def pending(self) -> int:
        """Paths waiting in the queue."""
        with self._lock:
            row = self._index.connection.execute("SELECT COUNT(DISTINCT path) FROM ingest_queue").fetchone()
            return int(row[0]) if row else 0

    def next_due_at(self) -> float | None:
        """The earliest time at which some queued path has been quiet long enough is this plus the quiet
        period: the smallest per-path latest event time, or None for an empty queue."""
        with self._lock:
            row = self._index.connection.execute(
                "SELECT MIN(latest) FROM (SELECT MAX(recorded_at) AS latest FROM ingest_queue GROUP BY path)"
            ).fetchone()
            return None if row is None or row[0] is None else float(row[0])

    # Outcomes

    def settle(self, settlement: Settlement) -> None:
        """Apply ``settlement`` in one transaction (a savepoint inside a bank write's transaction)."""
        connection = self._index.connection
        with self._lock, self._index.transaction():
            connection.executemany("DELETE FROM ingest_queue WHERE id = ?", [(i,) for i in settlement.done])
            outcome = settlement.outcome
            if outcome is not None and outcome.status == "removed":
                self._forget_outcomes(outcome.path)
            elif outcome is not None:
                mtime_ns, size = settlement.stat if settlement.stat else (None, None)
                connection.execute(
                    """INSERT INTO file_outcomes (path, status, reason, documents, tokens, mtime_ns, size,
                           recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                       ON CONFLICT(path) DO UPDATE SET status = excluded.status, reason = excluded.reason,
                           documents = excluded.documents, tokens = excluded.tokens,
                           mtime_ns = excluded.mtime_ns, size = excluded.size,
                           recorded_at = excluded.recorded_at""",
                    (outcome.path, outcome.status, outcome.reason, outcome.documents, outcome.tokens,
                     mtime_ns, size, outcome.at),
                )
            self.record(settlement.enqueue)

    def move_outcomes(self, old: str, new: str) -> None:
        """Carry the outcomes recorded at or inside ``old`` over to ``new`` (replacing any there)."""
        connection = self._index.connection
        with self._lock, self._index.transaction():
            self._forget_outcomes(new)
            connection.execute("UPDATE file_outcomes SET path = ? WHERE path = ?", (new, old))
            for separator in _SEPARATORS:
                low, high = prefix_bounds(old, separator)
                new_low, _ = prefix_bounds(new, separator)
                connection.execute(
                    "UPDATE file_outcomes SET path = ? || substr(path, ?) WHERE path >= ? AND path < ?",
                    (new_low, len(low) + 1, low, high),
                )

    def discard_queued_under(self, path: str) -> None:
        """Drop queued events at or inside ``path`` (a root that is no longer watched)."""
        connection = self._index.connection
        with self._lock, self._index.transaction():
            connection.execute("DELETE FROM ingest_queue WHERE path = ?", (path,))
            for separator in _SEPARATORS:
                connection.execute(
                    "DELETE FROM ingest_queue WHERE path >= ? AND path < ?", prefix_bounds(path, separator)
                )

    def _forget_outcomes(self, path: str) -> None:
        connection = self._index.connection
        connection.execute("DELETE FROM file_outcomes WHERE path = ?", (path,))
        for separator in _SEPARATORS:
            low, high = prefix_bounds(path, separator)
            connection.execute("DELETE FROM file_outcomes WHERE path >= ? AND path < ?", (low, high))

    def outcomes(self, status: str | None = None, limit: int = 100, under: str | None = None) -> list[FileOutcome]:
        """Recorded outcomes, newest first; only ``status`` ones, only inside ``under`` when given."""
        where, bindings = self._where(status, under)
        with self._lock:
            rows = self._index.connection.execute(
                f"SELECT {_OUTCOME_COLUMNS} FROM file_outcomes {where} ORDER BY recorded_at DESC, path LIMIT ?",
                (*bindings, limit),
            )
            return [FileOutcome(*row) for row in rows]

    def outcome(self, path: str) -> tuple[FileOutcome, tuple[int, int] | None] | None:
        """The outcome recorded for ``path`` and the (mtime_ns, size) it was recorded for."""
        with self._lock:
            row = self._index.connection.execute(
                f"SELECT {_OUTCOME_COLUMNS}, mtime_ns, size FROM file_outcomes WHERE path = ?", (path,)
            ).fetchone()
        if row is None:
            return None
        stat = None if row[6] is None or row[7] is None else (int(row[6]), int(row[7]))
        return FileOutcome(*row[:6]), stat

    def settled_stats(self, under: str) -> dict[str, tuple[str, int, int]]:
        """path -> (status, mtime_ns, size) of outcomes inside ``under`` recorded with the file's stat."""
        where, bindings = self._where(None, under)
        with self._lock:
            rows = self._index.connection.execute(
                f"SELECT path, status, mtime_ns, size FROM file_outcomes {where} "
                f"{'AND' if where else 'WHERE'} mtime_ns IS NOT NULL",
                bindings,
            )
            return {path: (status, mtime_ns, size) for path, status, mtime_ns, size in rows}

    def counts(self, under: str | None = None) -> dict[str, int]:
        """Recorded outcomes per status (inside ``under`` when given)."""
        where, bindings = self._where(None, under)
        with self._lock:
            rows = self._index.connection.execute(
                f"SELECT status, COUNT(*) FROM file_outcomes {where} GROUP BY status ORDER BY status", bindings
            )
            return {status: int(count) for status, count in rows}

    @staticmethod
    def _where(status: str | None, under: str | None) -> tuple[str, tuple[object, ...]]:
        clauses: list[str] = []
        bindings: list[object] = []
        if status is not None:
            clauses.append("status = ?")
            bindings.append(status)
        if under is not None:
            inside = ["path = ?"]
            bindings.append(under)
            for separator in _SEPARATORS:
                inside.append("(path >= ? AND path < ?)")
                bindings.extend(prefix_bounds(under, separator))
            clauses.append(f"({' OR '.join(inside)})")
        return ("WHERE " + " AND ".join(clauses) if clauses else ""), tuple(bindings)
