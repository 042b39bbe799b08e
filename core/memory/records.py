"""Small typed records that flow in and out of the memory bank."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch


@dataclass(frozen=True)
class BankIdentity:
    """What the stored tensors depend on; a bank refuses to be used with any other identity.

    Attributes:
        model_fingerprint: stable hash of the model weights (file digest for GGUF, config+weights for HF).
        model_name: a human-readable name of the model, for messages.
        router_fingerprint: hash of the router projectors the router keys were made with.
        router_layers: the decoder layers that keep pooled keys/values and router keys.
        router_key_dim: D_r, width of one router-key row.
        kv_dim: H_kv * head_dim, width of one pooled-key or pooled-value row.
        chunk_tokens: P, tokens pooled into one K̄/V̄ row.
        router_chunk_tokens: P_r, tokens pooled into one router-key row (finer than P for frozen backbones).
    """

    model_fingerprint: str
    model_name: str
    router_fingerprint: str
    router_layers: tuple[int, ...]
    router_key_dim: int
    kv_dim: int
    chunk_tokens: int
    router_chunk_tokens: int

    def describe(self) -> str:
        """One line naming the model and router, for error messages."""
        return (
            f"model {self.model_name} ({self.model_fingerprint[:12]}), router {self.router_fingerprint[:12]}"
        )


@dataclass(frozen=True)
class EncodedDocument:
    """Stage-1 output for one memory document.

    Every layer in ``router_keys`` / ``pooled_keys`` / ``pooled_values`` is one of the bank's router layers.

    Attributes:
        n_tokens: T, tokens the document was encoded as.
        router_keys: layer -> [C_r, D_r], chunk-mean of router_k_proj(h) over P_r tokens, C_r = ceil(T / P_r).
        pooled_keys: layer -> [C, kv_dim], chunk-mean of post-RoPE keys over P tokens, C = ceil(T / P).
        pooled_values: layer -> [C, kv_dim], chunk-mean of values over P tokens.
        router_chunk_spans: [C_r, 2] int64, character [start, end) in the document text of each router chunk.
    """

    n_tokens: int
    router_keys: dict[int, torch.Tensor]
    pooled_keys: dict[int, torch.Tensor]
    pooled_values: dict[int, torch.Tensor]
    router_chunk_spans: np.ndarray


Anchor = tuple[int, int, str]
"""``(start, end, anchor)``: where a section sits in its source's text and how to name it for the user."""


@dataclass(frozen=True)
class SourceInfo:
    """A file on disk as the bank records it.

    ``parent`` is set for a readable part inside a file (``path`` is then ``f"{parent}#{part}"``): a part is
    renamed and forgotten together with its parent.
    """

    path: str
    content_hash: str
    mtime_ns: int
    size: int
    parent: str = ""


@dataclass(frozen=True)
class NewDocument:
    """A memory document to store: its text, where it came from in the source, and its encoding.

    ``start``/``end`` are character offsets of ``text`` inside the source's extracted text, so a citation
    can point back into the file; ``anchors`` are the anchored sections it covers, in the same offsets.
    ``doc_id`` is an id taken with ``MemoryBank.reserve_document_ids`` (for an encoding that contains its
    own id), or None to let the bank assign one.
    """

    text: str
    start: int
    end: int
    title: str
    encoding: EncodedDocument | None
    anchors: tuple[Anchor, ...] = ()
    doc_id: int | None = None


@dataclass(frozen=True)
class RowRange:
    """A contiguous run of rows in one of the tensor store's row spaces."""

    start: int
    count: int


@dataclass(frozen=True)
class DocumentRecord:
    """A stored memory document."""

    doc_id: int
    source_id: int
    path: str
    start: int
    end: int
    title: str
    text: str
    n_tokens: int
    router_rows: RowRange | None
    kv_rows: RowRange | None
    router_chunk_spans: np.ndarray = field(repr=False)
    anchors: tuple[Anchor, ...] = ()


@dataclass(frozen=True)
class SourceRecord:
    """A stored source file and how many documents it holds."""

    source_id: int
    path: str
    content_hash: str
    mtime_ns: int
    size: int
    documents: int
    parent: str = ""


@dataclass(frozen=True)
class RouterKeyMatrix:
    """All live router-key rows of one layer, ready for routing.

    Attributes:
        keys: [C, D_r] float32, contiguous, in RAM (or on the routing device).
        doc_ids: [C] int64, the document each row belongs to.
        chunk_index: [C] int64, the row's chunk number within its document.
    """

    keys: torch.Tensor
    doc_ids: torch.Tensor
    chunk_index: torch.Tensor


@dataclass(frozen=True)
class BankStats:
    """Totals shown by ``memsa status``."""

    sources: int
    documents: int
    tokens: int
    router_chunks: int
    kv_chunks: int
    bytes_on_disk: int
    identity: BankIdentity | None


OutcomeStatus = Literal["added", "updated", "unchanged", "moved", "skipped", "failed", "removed"]
"""What happened to a file: stored anew, re-encoded, found unchanged, moved without re-encoding, skipped by
a rule (size cap, a link out of its folder), failed (with the reason), or removed from memory."""


@dataclass(frozen=True)
class FileOutcome:
    """What happened to one file, as recorded (every status but ``removed`` is kept until the next one).

    Attributes:
        path: the file.
        status: see :data:`OutcomeStatus`.
        reason: why it failed or was skipped, where it moved from; empty otherwise.
        documents: memory documents it now holds (its readable parts included).
        tokens: tokens encoded for it by this outcome.
        at: when it was recorded (seconds since the epoch).
    """

    path: str
    status: OutcomeStatus
    reason: str = ""
    documents: int = 0
    tokens: int = 0
    at: float = 0.0


@dataclass(frozen=True)
class WatchedRoot:
    """A folder kept in step with memory.

    Attributes:
        path: the folder, absolute.
        excludes: its own gitignore-style patterns, on top of ``.memsaignore`` files.
        counts: recorded outcomes per status for files inside it.
        last_scan: when a reconcile last finished walking it (seconds since the epoch), None before the first.
    """

    path: str
    excludes: tuple[str, ...]
    counts: dict[str, int]
    last_scan: float | None


QueueKind = Literal["created", "modified", "deleted", "moved", "scan"]


@dataclass(frozen=True)
class QueueEvent:
    """A filesystem event to record: ``path`` changed in this way (moved to ``destination``) at ``at``."""

    path: str
    kind: QueueKind
    at: float
    destination: str | None = None


@dataclass(frozen=True)
class QueueEntry:
    """A recorded event waiting for the worker."""

    entry_id: int
    path: str
    kind: QueueKind
    at: float
    destination: str | None = None


@dataclass(frozen=True)
class Settlement:
    """Ledger writes that commit together with a change of memory (or alone, when memory did not change).

    Attributes:
        done: queue entries this result answers; they leave the queue.
        outcome: the outcome to record (``removed`` deletes the recorded outcomes at and under its path).
        stat: (mtime_ns, size) the file had when it was read, so an unchanged failure is not retried.
        enqueue: follow-up work (a moved file's new path, the files of a new folder).
    """

    done: tuple[int, ...] = ()
    outcome: FileOutcome | None = None
    stat: tuple[int, int] | None = None
    enqueue: tuple[QueueEvent, ...] = ()
