"""MemoryBank: the persistent MSA memory, an SQLite index (what is remembered) over tensor files (where).

The bank owns the document and source side (storing, renaming, forgetting, looking up) and the locking; it
hands the tensor side (row files, resident router keys, compaction) to ``BankTensors``.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType

import torch

from ..errors import InvalidInput
from .bank_tensors import BankTensors
from .index import KV_SPACE, ROUTER_SPACE, MemoryIndex
from .ledger import IngestLedger
from .opening import acquire_lock, make_private_directory, settle_identity
from .records import (
    BankIdentity,
    BankStats,
    DocumentRecord,
    EncodedDocument,
    NewDocument,
    RouterKeyMatrix,
    RowRange,
    SourceInfo,
    SourceRecord,
)
from .tensor_store import check_encoding

log = logging.getLogger(__name__)

INDEX_FILE = "index.sqlite3"
_SEPARATORS = [os.sep] + ([os.altsep] if os.altsep else [])


class MemoryBank:
    """Documents with their stage-1 tensors, kept on disk and crash-safe.

    New tensor rows are appended and fsynced first; one index transaction then makes them live. A crash before
    that commit leaves orphan rows past the committed end, which the next open cuts away. Methods are
    thread-safe; one process at a time may open a bank for writing.
    """

    def __init__(
        self,
        directory: Path,
        identity: BankIdentity,
        index: MemoryIndex,
        lock_fd: int,
        *,
        read_only: bool,
        auto_compact_min_rows: int,
    ) -> None:
        self.directory = directory
        self.identity = identity
        self.read_only = read_only
        self._index = index
        self._lock_fd = lock_fd
        self._tensors = BankTensors(directory, identity, index, auto_compact_min_rows=auto_compact_min_rows)
        self._lock = threading.RLock()
        self._closed = False
        self._reserved: set[int] = set()  # ids from reserve_document_ids not stored yet
        self.ledger = IngestLedger(index, self._lock)

    @classmethod
    def open(
        cls,
        directory: Path,
        identity: BankIdentity,
        *,
        adopt_identity: bool = False,
        read_only: bool = False,
        auto_compact_min_rows: int = 4096,
    ) -> MemoryBank:
        """Open or create the bank in ``directory`` (mode 0o700) for ``identity``; repair a cut-off write.

        Args:
            adopt_identity: if the bank was built for another model, drop its tensors and keep its documents,
                all marked unencoded, instead of refusing.
            read_only: take a shared lock and never write (the bank must exist).
            auto_compact_min_rows: dead rows a row space must hold before writes compact it automatically.
        Raises:
            BankMismatch: the bank belongs to another model or router and ``adopt_identity`` is False.
            StorageUnavailable: the folder cannot be used, or another memsa process has the bank open.
            CorruptBank: the files lost rows that the index says were committed.
        """
        directory = Path(directory)
        if read_only and adopt_identity:
            raise InvalidInput("A memory opened read-only cannot adopt a new model.")
        if not read_only:
            make_private_directory(directory)
        lock_fd = acquire_lock(directory, shared=read_only)
        try:
            index = MemoryIndex.open(directory / INDEX_FILE, read_only=read_only)
            try:
                settle_identity(index, identity, directory, adopt=adopt_identity, read_only=read_only)
                bank = cls(
                    directory,
                    identity,
                    index,
                    lock_fd,
                    read_only=read_only,
                    auto_compact_min_rows=auto_compact_min_rows,
                )
                bank._tensors.recover(read_only=read_only)
            except BaseException:
                index.close()
                raise
        except BaseException:
            os.close(lock_fd)
            raise
        return bank

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._tensors.close()
            self._index.close()
            os.close(self._lock_fd)

    def __enter__(self) -> MemoryBank:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    def put_source(
        self,
        source: SourceInfo,
        documents: Sequence[NewDocument],
        *,
        within: Callable[[list[int]], None] | None = None,
    ) -> list[int]:
        """Make ``documents`` the whole content of ``source.path``, atomically; returns their ids in order.

        ``within`` is called with the new ids inside the same transaction, so the writes it makes (the
        ingestion ledger's) commit or vanish together with the documents.

        Raises:
            StorageFull: the disk filled up; the bank still holds what it held before.
            InvalidInput: an encoding does not fit the bank's identity.
        """
        for document in documents:
            if document.encoding is not None:
                check_encoding(self.identity, document.encoding)
        with self._lock:
            self._require_writable()
            self._check_reserved(documents)
            encodings = [document.encoding for document in documents if document.encoding is not None]
            placed = iter(self._tensors.append_rows(encodings))
            with self._index.transaction():
                removed = self._index.delete_documents_of(source.path)
                source_id = self._index.upsert_source(source)
                doc_ids = []
                for document in documents:
                    rows: tuple[RowRange | None, RowRange | None] = (None, None)
                    if document.encoding is not None:
                        rows = next(placed)
                    doc_ids.append(self._index.insert_document(source_id, document, *rows))
                self._tensors.commit_rows(encodings)
                if within is not None:
                    within(doc_ids)
            encoded_ids = [
                doc_id for doc_id, doc in zip(doc_ids, documents, strict=True) if doc.encoding is not None
            ]
            self._tensors.update_resident(removed, encoded_ids, encodings)
            self._reserved.difference_update(doc_ids)
            self._tensors.maybe_compact()
            return doc_ids

    def reserve_document_ids(self, count: int) -> list[int]:
        """Ids for ``count`` documents not stored yet, for encodings that must contain their own id (an MSA
        model reads a document's id in its memory and names it to have it read).

        Pass each to :meth:`put_source` as ``NewDocument.doc_id``. An id is given out once, used or not:
        forgetting documents or failing to store them never makes their ids come back.
        """
        if count < 0:
            raise InvalidInput("Cannot reserve a negative number of document ids.")
        with self._lock:
            self._require_writable()
            reserved = self._index.reserve_document_ids(count)
            self._reserved.update(reserved)
            return reserved

    def _check_reserved(self, documents: Sequence[NewDocument]) -> None:
        """Refuse a ``NewDocument.doc_id`` this bank did not reserve (or that is already stored)."""
        chosen = [document.doc_id for document in documents if document.doc_id is not None]
        stray = sorted(set(chosen) - self._reserved)
        if stray or len(set(chosen)) != len(chosen):
            raise InvalidInput(
                f"Document ids {stray or chosen} were not reserved with reserve_document_ids (or repeat)."
            )

    def set_encodings(self, items: Sequence[tuple[int, EncodedDocument]]) -> None:
        """Store encodings of documents that have none (after ``adopt_identity``); vanished ids are skipped.

        Raises:
            InvalidInput: an id repeats, a document is already encoded, or an encoding does not fit.
        """
        for _, encoding in items:
            check_encoding(self.identity, encoding)
        if len({doc_id for doc_id, _ in items}) != len(items):
            raise InvalidInput("set_encodings got the same document twice.")
        with self._lock:
            self._require_writable()
            existing = {
                record.doc_id: record for record in self._index.documents([doc_id for doc_id, _ in items])
            }
            if any(record.router_rows is not None for record in existing.values()):
                raise InvalidInput(
                    "A document is already encoded; replace its source with put_source instead."
                )
            items = [(doc_id, encoding) for doc_id, encoding in items if doc_id in existing]
            encodings = [encoding for _, encoding in items]
            placed = self._tensors.append_rows(encodings)
            with self._index.transaction():
                for (doc_id, encoding), (router_rows, kv_rows) in zip(items, placed, strict=True):
                    self._index.set_encoding(
                        doc_id, encoding.n_tokens, router_rows, kv_rows, encoding.router_chunk_spans
                    )
                self._tensors.commit_rows(encodings)
            self._tensors.update_resident([], [doc_id for doc_id, _ in items], encodings)

    def update_source_stat(
        self, path: str, mtime_ns: int, size: int, *, within: Callable[[], None] | None = None
    ) -> None:
        """Record a new mtime/size for a source whose content did not change (``within`` in the same
        transaction)."""
        with self._lock, self._index.transaction():
            self._require_writable()
            if not self._index.update_source_stat(path, mtime_ns, size):
                raise InvalidInput(f"{path} is not in the memory.")
            if within is not None:
                within()

    def rename_source(self, old_path: str, new_path: str, *, within: Callable[[], None] | None = None) -> None:
        """Move a source and its parts to ``new_path`` without re-encoding; a source already at ``new_path``
        is replaced. ``within`` runs inside the same transaction."""
        if old_path == new_path:
            return
        with self._lock:
            self._require_writable()
            with self._index.transaction():
                removed = self._index.delete_source(new_path)
                if not self._index.rename_source(old_path, new_path):
                    raise InvalidInput(f"{old_path} is not in the memory.")
                if within is not None:
                    within()
            self._tensors.forget(removed)

    def rename_tree(self, old_path: str, new_path: str, *, within: Callable[[], None] | None = None) -> int:
        """Move whatever memory holds at or inside ``old_path`` (a file and its parts, a folder's files) to
        the same place at ``new_path``, without re-encoding; what was at ``new_path`` is replaced. Returns
        the sources moved; ``within`` runs inside the same transaction."""
        if old_path == new_path:
            return 0
        with self._lock:
            self._require_writable()
            with self._index.transaction():
                removed = self._index.delete_source(new_path)
                removed += self._index.delete_sources_under(new_path, _SEPARATORS)
                moved = len(self._index.sources_under(old_path, _SEPARATORS))
                self._index.rename_source(old_path, new_path)
                self._index.rename_tree(old_path, new_path, _SEPARATORS)
                if within is not None:
                    within()
            self._tensors.forget(removed)
            return moved

    def delete_source(self, path: str) -> int:
        """Forget one source and its parts; returns how many documents went with them."""
        with self._lock:
            self._require_writable()
            removed = self._index.delete_source(path)
            self._tensors.forget(removed)
            return len(removed)

    def delete_sources_under(self, folder: str) -> int:
        """Forget every source inside ``folder`` (not ``folder`` itself, nor a sibling sharing its prefix)."""
        with self._lock:
            self._require_writable()
            removed = self._index.delete_sources_under(folder, _SEPARATORS)
            self._tensors.forget(removed)
            return len(removed)

    def forget_tree(self, path: str, *, within: Callable[[], None] | None = None) -> int:
        """Forget what memory holds at or inside ``path`` in one transaction (``within`` included); returns
        how many documents went."""
        with self._lock:
            self._require_writable()
            with self._index.transaction():
                removed = self._index.delete_source(path)
                removed += self._index.delete_sources_under(path, _SEPARATORS)
                if within is not None:
                    within()
            self._tensors.forget(removed)
            return len(removed)

    def parts_of(self, path: str) -> list[SourceRecord]:
        """The readable parts (``path#part``) stored for file ``path``."""
        with self._lock:
            return self._index.parts_of(path)

    def sources_under(self, folder: str) -> list[SourceRecord]:
        """Sources at or inside ``folder``, readable parts included (they name their ``parent``)."""
        with self._lock:
            return self._index.sources_under(folder, _SEPARATORS)

    def source(self, path: str) -> SourceRecord | None:
        with self._lock:
            return self._index.source(path)

    def sources(self) -> list[SourceRecord]:
        with self._lock:
            return self._index.sources()

    def documents(self, doc_ids: Sequence[int]) -> list[DocumentRecord]:
        """Documents in the order asked; unknown ids are skipped."""
        with self._lock:
            return self._index.documents(doc_ids)

    def document_ids(self, path: str) -> list[int]:
        """Ids of the documents of source ``path``, in the order they were stored."""
        with self._lock:
            return self._index.document_ids(path)

    def unencoded_document_ids(self) -> list[int]:
        with self._lock:
            return self._index.unencoded_document_ids()

    def lexical_matches(self, expression: str, limit: int) -> list[tuple[int, float, float]]:
        """Encoded documents matching an exact-words ``expression``, best first: (doc_id, BM25 score,
        share of the expression's words the document holds).

        See ``memsa.core.lexical``, which builds the expression from a question.
        """
        with self._lock:
            return self._index.lexical_matches(expression, limit)

    def router_keys(self, layer: int) -> RouterKeyMatrix:
        """Live router keys of ``layer``: keys [C, D_r] float32, doc_ids [C], chunk_index [C].

        Loaded from disk once per layer, then kept current by every write; the returned tensors never change.

        Raises:
            InvalidInput: ``layer`` is not a router layer of this memory.
        """
        with self._lock:
            return self._tensors.router_keys(layer)

    def pooled_kv(self, layer: int, doc_id: int) -> tuple[torch.Tensor, torch.Tensor]:
        """K̄ and V̄ of one document in ``layer``: ([C, kv_dim], [C, kv_dim]) float16, memory-mapped.

        Raises:
            InvalidInput: not a router layer, no such document, or it is not encoded.
        """
        with self._lock:
            return self._tensors.pooled_kv(layer, doc_id)

    def stats(self) -> BankStats:
        with self._lock:
            sources, documents, tokens = self._index.totals()
            spaces = self._index.row_spaces()
            on_disk = sum(
                (Path(folder) / name).stat().st_size
                for folder, _, names in os.walk(self.directory)
                for name in names
            )
            return BankStats(
                sources=sources,
                documents=documents,
                tokens=tokens,
                router_chunks=spaces[ROUTER_SPACE].live_rows,
                kv_chunks=spaces[KV_SPACE].live_rows,
                bytes_on_disk=on_disk,
                identity=self.identity,
            )

    def compact(self) -> None:
        """Rewrite the live rows into a new generation of files, dropping dead rows.

        Crash-safe: the index names one generation; the other one's folder is deleted on the next open.
        """
        with self._lock:
            self._require_writable()
            self._tensors.compact()

    def _require_writable(self) -> None:
        if self.read_only:
            raise InvalidInput(f"The memory at {self.directory} was opened read-only.")
