"""Reconcile: compare a folder on disk with what memory holds of it and queue the differences.

Run at start-up for every watched root (what changed while memsa was closed) and for a folder that appears.
Files are compared by size and modification time; a file that vanished while one of the same size appeared
is checked by content hash, and a match becomes a rename, so a moved file is not encoded again.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

from memsa.core.memory.bank import MemoryBank
from memsa.core.memory.records import QueueEvent, SourceRecord

from ..discovery import Found, path_key, storable, walk
from ..document import UnreadableDocument
from ..ignoring import IgnoreRules
from ..pipeline import source_stat

DUE_NOW = 0.0
"""Recorded time of follow-up work: always past its quiet period."""


@dataclass
class ReconcilePlan:
    """What a reconcile found, as queue events (all due at once)."""

    created: list[str] = field(default_factory=list)
    modified: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    moved: list[tuple[str, str]] = field(default_factory=list)
    unreadable: str = ""
    """Why the folder itself cannot be listed (then nothing else is planned)."""
    unstorable: list[Found] = field(default_factory=list)
    """Files whose names memory cannot record (not UTF-8): their outcome is recorded directly, not queued."""

    def events(self) -> tuple[QueueEvent, ...]:
        return (
            *(QueueEvent(old, "moved", DUE_NOW, destination=new) for old, new in self.moved),
            *(QueueEvent(path, "created", DUE_NOW) for path in self.created),
            *(QueueEvent(path, "modified", DUE_NOW) for path in self.modified),
            *(QueueEvent(path, "deleted", DUE_NOW) for path in self.deleted),
        )


def plan_folder(
    bank: MemoryBank, folder: Path, rules: IgnoreRules, nested_roots: Collection[Path] = ()
) -> ReconcilePlan:
    """The queue events that bring memory of ``folder`` in step with the disk.

    Args:
        bank: the memory bank (its sources and recorded outcomes are read, nothing is written).
        folder: a folder inside ``rules.root`` (or the root).
        rules: the governing root's ignore rules.
        nested_roots: other watched roots inside ``folder``: they reconcile themselves.
    """
    on_disk: dict[str, tuple[int, int] | None] = {}
    unstorable: set[str] = set()  # stand-in names of present files whose own names memory cannot record
    plan = ReconcilePlan()
    for found in walk(folder, rules, skip_folders=set(nested_roots)):
        if found.path == folder:
            return ReconcilePlan(unreadable=found.problem)
        if not storable(found.path):
            stat = _stat(found.path, follow=False)
            if settled_stat(bank, found.path) != stat:
                plan.unstorable.append(found)
            unstorable.add(path_key(found.path))
            continue
        on_disk[str(found.path)] = _stat(found.path, follow=not found.problem)
        if not found.problem and found.path.is_dir():
            on_disk[str(found.path)] = _export_stat(found.path)
    nested = [str(root) for root in nested_roots]
    stored = {
        source.path: source
        for source in bank.sources_under(str(folder))
        if not source.parent and not _inside_any(source.path, nested)
    }
    settled = {
        path: (mtime_ns, size)
        for path, (_, mtime_ns, size) in bank.ledger.settled_stats(str(folder)).items()
        if not _inside_any(path, nested)
    }
    new_paths = []
    for path, stat in on_disk.items():
        source = stored.get(path)
        if source is not None:
            if stat != (source.mtime_ns, source.size):
                plan.modified.append(path)
        elif stat is None or settled.get(path) != stat:
            new_paths.append(path)
    missing = {path: source for path, source in stored.items() if path not in on_disk}
    _pair_renames(plan, new_paths, missing, on_disk)
    plan.created.extend(path for path in new_paths if path not in {new for _, new in plan.moved})
    plan.deleted.extend(path for path in missing if path not in {old for old, _ in plan.moved})
    plan.deleted.extend(
        path for path in settled if path not in on_disk and path not in stored and path not in unstorable
    )
    return plan


def _pair_renames(
    plan: ReconcilePlan,
    new_paths: list[str],
    missing: dict[str, SourceRecord],
    on_disk: dict[str, tuple[int, int] | None],
) -> None:
    """Turn a (vanished, appeared) pair with equal size and content hash into a move."""
    by_size: dict[int, list[str]] = {}
    for path, source in missing.items():
        by_size.setdefault(source.size, []).append(path)
    for path in new_paths:
        stat = on_disk[path]
        candidates = by_size.get(stat[1], []) if stat else []
        if not candidates:
            continue
        digest = _content_hash(Path(path))
        for old in candidates:
            if digest is not None and missing[old].content_hash == digest:
                plan.moved.append((old, path))
                candidates.remove(old)
                break


def _content_hash(path: Path) -> str | None:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except OSError:
        return None
    return digest.hexdigest()


def settled_stat(bank: MemoryBank, path: Path) -> tuple[int, int] | None:
    """The (mtime_ns, size) the outcome recorded for ``path`` was recorded with, if any."""
    recorded = bank.ledger.outcome(path_key(path))
    return recorded[1] if recorded else None


def _export_stat(path: Path) -> tuple[int, int] | None:
    try:
        return source_stat(path)
    except (OSError, UnreadableDocument):
        return None


def _stat(path: Path, *, follow: bool) -> tuple[int, int] | None:
    try:
        info = path.stat() if follow else path.lstat()
    except OSError:
        return None
    return info.st_mtime_ns, info.st_size


def _inside_any(path: str, folders: Collection[str]) -> bool:
    return any(path == folder or path.startswith(folder.rstrip(os.sep) + os.sep) for folder in folders)
