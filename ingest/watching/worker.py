"""The queue worker's job for one path: apply its recorded events to memory, crash-safely.

Every step removes the queue entries it answers in the transaction that commits its result, and any
follow-up work (a moved file's new place, the files of a new folder) goes into the queue in that same
transaction; a crash at any moment leaves the entries to be done again, and doing them again is harmless.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

from memsa.core.engine import MemoryEngine
from memsa.core.memory.records import FileOutcome, QueueEntry, QueueEvent, Settlement

from ..discovery import Found, examine_file, examine_link, is_export_folder
from ..ignoring import IgnoreRules
from ..pipeline import ingest_found
from .reconcile import DUE_NOW, plan_folder

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RootRules:
    """The watched root governing a path, and its rules."""

    root: Path
    rules: IgnoreRules


class PathProcessor:
    """Applies one path's queued events to memory.

    Args:
        engine: the engine whose bank and model are used.
        guard: the engine lock, held around each engine or bank write.
        governing: the watched root (and its rules) a path lies in, or None outside every root.
        nested_roots: the watched roots strictly inside a folder.
        private_folders: folders never to touch (the memory's own data folder).
        max_document_chars: size of memory documents.
    """

    def __init__(
        self,
        engine: MemoryEngine,
        guard: AbstractContextManager[object],
        governing: Callable[[Path], RootRules | None],
        nested_roots: Callable[[Path], list[Path]],
        private_folders: Sequence[Path],
        max_document_chars: int,
    ) -> None:
        self.engine = engine
        self.guard = guard
        self.governing = governing
        self.nested_roots = nested_roots
        self.private_folders = [str(folder) for folder in private_folders]
        self.max_document_chars = max_document_chars

    def process(self, entries: Sequence[QueueEntry]) -> FileOutcome | None:
        """Bring memory of ``entries[0].path`` in step with the disk; returns the file's outcome (None for
        folders and paths that needed nothing)."""
        path = Path(entries[0].path)
        if any(_inside(str(path), folder) for folder in self.private_folders):
            self._settle(Settlement(done=_ids(entries)))
            return None
        owner = self._stored_export_folder(path)
        if owner is not None:  # a file inside a folder read as one source (a Slack export): re-read that
            self._settle(Settlement(done=_ids(entries), enqueue=(QueueEvent(str(owner), "modified", DUE_NOW),)))
            return None
        moves = [entry for entry in entries if entry.kind == "moved" and entry.destination]
        others = [entry for entry in entries if entry not in moves]
        moved = self._apply_move(path, Path(moves[-1].destination or ""), _ids(moves)) if moves else None
        # Always look at the old place too: a move out of every watched folder must forget what was there.
        outcome = self._check(path, _ids(others))
        return moved or outcome

    def _stored_export_folder(self, path: Path) -> Path | None:
        """The folder above ``path`` (inside its watched root) that memory holds as one source, if any."""
        governing = self.governing(path)
        if governing is None:
            return None
        for folder in path.parents:
            if folder == governing.root or governing.root not in folder.parents:
                return None
            if self.engine.bank.source(str(folder)) is not None:
                return folder
        return None

    def _apply_move(self, old: Path, new: Path, done: tuple[int, ...]) -> FileOutcome | None:
        """A rename or move: memory follows without re-encoding when the destination is watched; otherwise
        the destination is queued as new (an editor's temporary file renamed over the original)."""
        bank = self.engine.bank
        target = self.governing(new)
        watched = target is not None and not target.rules.ignores(new, is_dir=new.is_dir())
        stored_file = bank.source(str(old))
        held = stored_file is not None or bool(bank.sources_under(str(old)))
        if not (held and watched and os.path.lexists(new)):
            follow = (QueueEvent(str(new), "created", DUE_NOW),) if watched else ()
            self._settle(Settlement(done=done, enqueue=follow))
            return None
        if stored_file is not None:
            same = _stat(new) == (stored_file.mtime_ns, stored_file.size)
            documents = stored_file.documents + sum(part.documents for part in bank.parts_of(str(old)))
            outcome = FileOutcome(str(new), "moved", f"from {old}", documents=documents, at=time.time())
            settlement = Settlement(
                done=done,
                outcome=outcome if same else None,
                stat=_stat(new),
                enqueue=() if same else (QueueEvent(str(new), "modified", DUE_NOW),),
            )
        else:
            outcome = FileOutcome(str(new), "moved", f"from {old}", at=time.time())
            settlement = Settlement(done=done, enqueue=(QueueEvent(str(new), "scan", DUE_NOW),))

        def record() -> None:
            bank.ledger.move_outcomes(str(old), str(new))
            bank.ledger.settle(settlement)

        with self.guard:
            bank.rename_tree(str(old), str(new), within=record)
        return outcome

    def _check(self, path: Path, done: tuple[int, ...]) -> FileOutcome | None:
        """Whatever is at ``path`` now: nothing (forget it), a folder (reconcile it) or a file (ingest it)."""
        if not os.path.lexists(path):
            return self._forget(path, done)
        governing = self.governing(path)
        is_dir = path.is_dir() and not path.is_symlink()
        if governing is not None and governing.rules.ignores(path, is_dir=is_dir):
            return self._forget(path, done)
        found: Found | None
        if is_dir:
            if not is_export_folder(path):
                return self._reconcile(path, governing, done)
            found = Found(path)
        elif governing is None:
            found = examine_file(path, IgnoreRules(path.parent), explicit=True)
        elif path.is_symlink():
            found = examine_link(path, os.path.realpath(governing.root))
        else:
            found = examine_file(path, governing.rules)
        if found is None:  # a format memsa does not read, or a link to a file remembered at its own place
            return self._forget(path, done)
        return ingest_found(self.engine, found, self.max_document_chars, done=done, guard=self.guard)

    def _reconcile(self, folder: Path, governing: RootRules | None, done: tuple[int, ...]) -> FileOutcome | None:
        rules = governing.rules if governing else IgnoreRules(folder)
        plan = plan_folder(self.engine.bank, folder, rules, self.nested_roots(folder))
        if plan.unreadable:
            outcome = FileOutcome(str(folder), "failed", plan.unreadable, at=time.time())
            log.warning("%s: %s", folder, plan.unreadable)
            self._settle(Settlement(done=done, outcome=outcome, stat=_stat(folder, follow=False)))
            return outcome
        for found in plan.unstorable:
            ingest_found(self.engine, found, self.max_document_chars, guard=self.guard)
        self._settle(Settlement(done=done, enqueue=plan.events()))
        if governing is not None and governing.root == folder:
            self.engine.bank.ledger.mark_scanned(str(folder), time.time())
        return None

    def _forget(self, path: Path, done: tuple[int, ...]) -> FileOutcome | None:
        """Forget whatever memory and the ledger hold at or inside ``path``."""
        bank = self.engine.bank
        key = str(path)
        recorded = bank.ledger.outcome(key) is not None or bool(bank.ledger.counts(under=key))
        held = bank.source(key) is not None or bool(bank.sources_under(key))
        if not (recorded or held):
            self._settle(Settlement(done=done))
            return None
        outcome = FileOutcome(key, "removed", at=time.time())
        with self.guard:
            removed = bank.forget_tree(key, within=lambda: bank.ledger.settle(Settlement(done=done, outcome=outcome)))
        return FileOutcome(key, "removed", documents=removed, at=outcome.at)

    def _settle(self, settlement: Settlement) -> None:
        with self.guard:
            self.engine.bank.ledger.settle(settlement)


def _ids(entries: Sequence[QueueEntry]) -> tuple[int, ...]:
    return tuple(entry.entry_id for entry in entries)


def _stat(path: Path, *, follow: bool = True) -> tuple[int, int] | None:
    try:
        info = path.stat() if follow else path.lstat()
    except OSError:
        return None
    return info.st_mtime_ns, info.st_size


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)
