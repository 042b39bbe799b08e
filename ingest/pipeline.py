"""Ingestion: read, split and remember files, recording every file's outcome; one bad file fails alone."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from memsa.core.engine import DocumentText, MemoryEngine
from memsa.core.errors import InvalidInput
from memsa.core.memory.records import SourceInfo

from .discovery import discover
from .document import UnreadableDocument
from .readers import read_document
from .splitting import split_document

log = logging.getLogger(__name__)

Status = Literal["added", "updated", "unchanged", "failed"]


@dataclass(frozen=True)
class FileOutcome:
    """What happened to one file.

    Attributes:
        path: the file.
        status: added, updated, unchanged or failed.
        reason: why it failed (empty otherwise).
        documents: memory documents it now holds.
        tokens: tokens encoded for it in this run.
    """

    path: str
    status: Status
    reason: str = ""
    documents: int = 0
    tokens: int = 0


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
    max_document_chars: int = 3000,
) -> list[FileOutcome]:
    """Remember every supported file under ``paths``; unchanged files are not re-encoded.

    Storage errors (full disk, bank in use) propagate: they stop the run and nothing half-written is live.
    """
    files = list(discover(paths))
    outcomes: list[FileOutcome] = []
    tokens = 0
    for index, path in enumerate(files, start=1):
        outcome = ingest_file(engine, path, max_document_chars)
        outcomes.append(outcome)
        tokens += outcome.tokens
        if outcome.status == "failed":
            log.warning("%s: %s", path, outcome.reason)
        if progress is not None:
            progress(IngestProgress(done=index, total=len(files), tokens=tokens, latest=outcome))
    return outcomes


def ingest_file(engine: MemoryEngine, path: Path, max_document_chars: int = 3000) -> FileOutcome:
    """Bring one file's memory up to date with the disk."""
    key = str(path)
    try:
        stat = path.stat()
    except OSError as error:
        return FileOutcome(key, "failed", f"cannot read the file: {error.strerror or error}")
    existing = engine.bank.source(key)
    if existing and existing.mtime_ns == stat.st_mtime_ns and existing.size == stat.st_size:
        return FileOutcome(key, "unchanged", documents=existing.documents)
    try:
        content_hash = _hash_file(path)
        if existing and existing.content_hash == content_hash:
            engine.bank.update_source_stat(key, stat.st_mtime_ns, stat.st_size)
            return FileOutcome(key, "unchanged", documents=existing.documents)
        document = read_document(path)
        spans = split_document(document, max_document_chars)
        if not spans:
            raise UnreadableDocument("no text found in the file")
        texts = [
            DocumentText(text=document.text[span.start : span.end], start=span.start, end=span.end,
                         title=span.heading or document.title)
            for span in spans
        ]
        source = SourceInfo(path=key, content_hash=content_hash, mtime_ns=stat.st_mtime_ns, size=stat.st_size)
        remembered = engine.remember(source, texts)
    except (UnreadableDocument, InvalidInput) as error:
        return FileOutcome(key, "failed", str(error))
    status: Status = "updated" if existing else "added"
    return FileOutcome(key, status, documents=len(remembered.doc_ids), tokens=remembered.tokens)


def _hash_file(path: Path) -> str:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except OSError as error:
        raise UnreadableDocument(f"cannot read the file: {error.strerror or error}") from error
    return digest.hexdigest()
