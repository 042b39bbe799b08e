"""Ingestion: read, split and remember files, recording every file's outcome; one bad file fails alone.

Each outcome is recorded in the bank's ledger in the transaction that stores the file's change (and removes
the queue entries it answers), so what the ledger says is always what memory holds.
"""

from __future__ import annotations

import hashlib
import logging
import os
import stat as stat_mode
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path

from memsa.core.engine import DocumentText, MemoryEngine, Remembered
from memsa.core.errors import InvalidInput, MemsaError
from memsa.core.memory.records import FileOutcome, OutcomeStatus, Settlement, SourceInfo

from . import readers
from .discovery import UNSTORABLE_NAME, Found, discover, is_export_folder, path_key, storable
from .document import SourceDocument, UnreadableDocument
from .splitting import split_document

log = logging.getLogger(__name__)

Status = OutcomeStatus
MAX_DOCUMENT_CHARS = 3000

__all__ = ["FileOutcome", "IngestProgress", "Status", "ingest_file", "ingest_found", "ingest_paths"]

Guard = AbstractContextManager[object]
"""The engine lock (or a no-op): held around each engine or bank write, never while a file is read."""


@dataclass(frozen=True)
class IngestProgress:
    """Progress after each file: files done of total, tokens encoded so far, the latest outcome."""

    done: int
    total: int
    tokens: int
    latest: FileOutcome


def ingest_paths(
    engine: MemoryEngine,
    paths: Sequence[Path],
    progress: Callable[[IngestProgress], None] | None = None,
    max_document_chars: int = MAX_DOCUMENT_CHARS,
) -> list[FileOutcome]:
    """Remember every supported file under ``paths``; unchanged files are not re-encoded.

    Storage errors (full disk, bank in use) propagate: they stop the run and nothing half-written is live.
    """
    found = list(discover(paths))
    outcomes: list[FileOutcome] = []
    tokens = 0
    for index, item in enumerate(found, start=1):
        outcome = ingest_found(engine, item, max_document_chars)
        outcomes.append(outcome)
        tokens += outcome.tokens
        if progress is not None:
            progress(IngestProgress(done=index, total=len(found), tokens=tokens, latest=outcome))
    return outcomes


def ingest_found(
    engine: MemoryEngine,
    found: Found,
    max_document_chars: int = MAX_DOCUMENT_CHARS,
    done: Sequence[int] = (),
    guard: Guard | None = None,
) -> FileOutcome:
    """Ingest a discovered file, or record why discovery will not read it."""
    if not found.problem:
        return ingest_file(engine, found.path, max_document_chars, done=done, guard=guard)
    status: OutcomeStatus = "skipped" if found.skipped else "failed"
    outcome = FileOutcome(path_key(found.path), status, found.problem, at=time.time())
    log.warning("%s: %s", outcome.path, outcome.reason)
    return _settle(engine, outcome, _lstat(found.path), done, guard or nullcontext())


def ingest_file(
    engine: MemoryEngine,
    path: Path,
    max_document_chars: int = MAX_DOCUMENT_CHARS,
    done: Sequence[int] = (),
    guard: Guard | None = None,
) -> FileOutcome:
    """Bring one file's memory up to date with the disk and record the outcome.

    Re-reads only when the file's size or modification time changed and re-encodes only when its content
    did. A file that fails keeps what memory held of it.
    The outcome commits together with the change and with the removal of the queue entries ``done``.

    Raises:
        StorageUnavailable, CorruptBank: the bank cannot be written; nothing of this file changed.
    """
    if not storable(path):
        return ingest_found(engine, Found(path, UNSTORABLE_NAME, skipped=True), done=done, guard=guard)
    key = str(path)
    bank = engine.bank
    guard = guard or nullcontext()
    try:
        stat = source_stat(path)
    except OSError as error:
        return _settle_failure(engine, key, f"cannot read the file: {_describe(error)}", None, done, guard)
    except UnreadableDocument as error:
        return _settle_failure(engine, key, str(error), None, done, guard)
    existing = bank.source(key)
    if existing and (existing.mtime_ns, existing.size) == stat:
        return _settle(engine, _unchanged(engine, key), stat, done, guard)
    try:
        content_hash = _hash_file(path)
        if existing and existing.content_hash == content_hash:
            outcome = _unchanged(engine, key)
            with guard:
                bank.update_source_stat(key, *stat, within=lambda: _record(engine, outcome, stat, done))
            return outcome
        documents = _read_sources(path)
        return _remember_file(engine, key, documents, content_hash, stat, max_document_chars, done, guard)
    except (UnreadableDocument, InvalidInput) as error:
        return _settle_failure(engine, key, str(error), stat, done, guard)
    except MemsaError:
        raise
    except Exception as error:  # a reader's bug must not stop the queue: report it with its trace, go on
        log.exception("reading %s failed unexpectedly", key)
        reason = f"memsa could not read this file (internal error: {type(error).__name__}: {error})"
        return _settle_failure(engine, key, reason, stat, done, guard)


def _remember_file(
    engine: MemoryEngine,
    key: str,
    documents: list[SourceDocument],
    content_hash: str,
    stat: tuple[int, int],
    max_document_chars: int,
    done: Sequence[int],
    guard: Guard,
) -> FileOutcome:
    """Store the file's readable parts first, then its own document with the outcome: until that last
    commit the file still looks changed, so a crash in between redoes it rather than leaving it half in."""
    bank = engine.bank
    pieces = [(document, _memory_texts(document, max_document_chars)) for document in documents]
    if not any(texts for _, texts in pieces):
        raise UnreadableDocument("no text found in the file")
    tokens = held = 0
    wanted_parts = set()
    for part, texts in pieces[1:]:
        if not texts:
            continue
        wanted_parts.add(part.path)
        part_hash = hashlib.sha256(part.text.encode("utf-8", "surrogatepass")).hexdigest()
        stored = bank.source(part.path)
        held += len(texts)
        if stored is not None and stored.content_hash == part_hash:
            continue
        source = SourceInfo(path=part.path, content_hash=part_hash, mtime_ns=stat[0], size=stat[1], parent=key)
        with guard:
            tokens += engine.remember(source, texts).tokens
    for stale in bank.parts_of(key):
        if stale.path not in wanted_parts:
            with guard:
                bank.delete_source(stale.path)
    own_texts = pieces[0][1]
    status: OutcomeStatus = "updated" if bank.source(key) else "added"
    source = SourceInfo(path=key, content_hash=content_hash, mtime_ns=stat[0], size=stat[1])

    def record(remembered: Remembered) -> None:
        outcome = FileOutcome(key, status, documents=held + len(remembered.doc_ids),
                              tokens=tokens + remembered.tokens, at=time.time())
        _record(engine, outcome, stat, done)
        results.append(outcome)

    results: list[FileOutcome] = []
    with guard:
        if own_texts:
            engine.remember(source, own_texts, within=record)
        else:  # only its parts hold text (a mail whose body is empty): the file itself holds no document
            bank.put_source(source, [], within=lambda doc_ids: record(Remembered(doc_ids, 0)))
    return results[0]


def _memory_texts(document: SourceDocument, max_document_chars: int) -> list[DocumentText]:
    """The memory documents of one source document, with their titles and section anchors."""
    return [
        DocumentText(
            text=document.text[span.start : span.end],
            start=span.start,
            end=span.end,
            title=span.heading or document.title,
            anchors=span.anchors,
        )
        for span in split_document(document, max_document_chars)
    ]


def _read_sources(path: Path) -> list[SourceDocument]:
    """The file's own document, then its readable parts."""
    return readers.read_source(path)


def source_stat(path: Path) -> tuple[int, int]:
    """(mtime_ns, size) of a file, or of a folder-shaped export (a Slack folder): its newest file's
    modification time and its files' total size.

    Raises:
        OSError: it cannot be inspected.
        UnreadableDocument: neither a regular file nor a folder memsa reads as one source.
    """
    info = path.stat()
    if stat_mode.S_ISREG(info.st_mode):
        return info.st_mtime_ns, info.st_size
    if stat_mode.S_ISDIR(info.st_mode) and is_export_folder(path):
        newest, total = info.st_mtime_ns, 0
        for file in _tree_files(path):
            file_info = file.stat()
            newest, total = max(newest, file_info.st_mtime_ns), total + file_info.st_size
        return newest, total
    raise UnreadableDocument("not a regular file (a folder, pipe, socket or device)")


def _tree_files(folder: Path) -> list[Path]:
    """The regular files inside a folder-shaped export, sorted, links not followed."""
    return sorted(
        Path(parent) / name
        for parent, _, names in os.walk(folder)
        for name in names
        if (Path(parent) / name).is_file() and not (Path(parent) / name).is_symlink()
    )


def _unchanged(engine: MemoryEngine, key: str) -> FileOutcome:
    held = sum(source.documents for source in [engine.bank.source(key), *engine.bank.parts_of(key)] if source)
    return FileOutcome(key, "unchanged", documents=held, at=time.time())


def _settle_failure(
    engine: MemoryEngine, key: str, reason: str, stat: tuple[int, int] | None, done: Sequence[int], guard: Guard
) -> FileOutcome:
    log.warning("%s: %s", key, reason)
    return _settle(engine, FileOutcome(key, "failed", reason, at=time.time()), stat, done, guard)


def _settle(
    engine: MemoryEngine, outcome: FileOutcome, stat: tuple[int, int] | None, done: Sequence[int], guard: Guard
) -> FileOutcome:
    """Record ``outcome`` on its own (memory itself does not change)."""
    with guard:
        _record(engine, outcome, stat, done)
    return outcome


def _record(engine: MemoryEngine, outcome: FileOutcome, stat: tuple[int, int] | None, done: Sequence[int]) -> None:
    """Record ``outcome`` and take ``done`` off the queue (inside the caller's transaction, if any)."""
    engine.bank.ledger.settle(Settlement(done=tuple(done), outcome=outcome, stat=stat))


def _lstat(path: Path) -> tuple[int, int] | None:
    try:
        info = path.lstat()
    except OSError:
        return None
    return info.st_mtime_ns, info.st_size


def _hash_file(path: Path) -> str:
    """SHA-256 of a file's bytes (of a folder-shaped export: of its files' relative names and bytes)."""
    digest = hashlib.sha256()
    files = _tree_files(path) if path.is_dir() else [path]
    try:
        for file in files:
            if file != path:
                digest.update(str(file.relative_to(path)).encode("utf-8", "surrogateescape") + b"\0")
            with file.open("rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
    except OSError as error:
        raise UnreadableDocument(f"cannot read the file: {_describe(error)}") from error
    return digest.hexdigest()


def _describe(error: OSError) -> str:
    if isinstance(error, PermissionError):
        return "permission denied"
    if isinstance(error, FileNotFoundError):
        return "it vanished before it could be read"
    return error.strerror or str(error)
