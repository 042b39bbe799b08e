"""Where the bank's tensors live: per-layer append-only float16 row files (mmap) and RAM router keys."""

from __future__ import annotations

import errno
import logging
import os
import shutil
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import numpy.typing as npt
import torch

from ..errors import CorruptBank, InvalidInput, StorageFull, StorageUnavailable
from .index import KV_SPACE, ROUTER_SPACE, RowPlacements
from .records import BankIdentity, EncodedDocument, RouterKeyMatrix, RowRange

log = logging.getLogger(__name__)

# Kind of row file -> the row space its row numbers live in. Router keys have their own (finer) chunking.
KINDS: dict[str, str] = {"router_keys": ROUTER_SPACE, "pooled_keys": KV_SPACE, "pooled_values": KV_SPACE}
KV_KINDS = ("pooled_keys", "pooled_values")
ROW_DTYPE = np.dtype("<f2")
_COPY_BLOCK_BYTES = 64 << 20
_DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


def _pwrite_all(fd: int, data: bytes | memoryview, offset: int) -> None:
    """Write all of ``data`` at ``offset``; the one low-level write (tests replace it to fill the disk)."""
    view = memoryview(data).cast("B")
    while view:
        written = os.pwrite(fd, view, offset)
        view = view[written:]
        offset += written


def _private_opener(path: str, flags: int) -> int:
    """Row files are readable by their owner only, like the folder they live in."""
    return os.open(path, flags, 0o600)


def fsync_directory(path: Path) -> None:
    """Make created or removed directory entries durable (a file fsync alone does not cover its name)."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def _write_errors(path: Path) -> Iterator[None]:
    try:
        yield
    except OSError as error:
        if error.errno in _DISK_FULL:
            raise StorageFull(
                f"The disk holding {path} is full; free some space and try again "
                "(nothing of this write was kept)."
            ) from error
        raise StorageUnavailable(f"Cannot write the memory files at {path}: {error.strerror}") from error


def chunk_counts(encoding: EncodedDocument) -> tuple[int, int]:
    """(C_r, C): router-key rows and pooled K̄/V̄ rows of one document."""
    return int(encoding.router_chunk_spans.shape[0]), int(next(iter(encoding.pooled_keys.values())).shape[0])


def stacked_rows(encodings: Sequence[EncodedDocument], kind: str, layer: int) -> np.ndarray:
    """Rows of ``kind`` in ``layer`` of all ``encodings``, concatenated: [sum C, width] float16."""
    return np.concatenate(
        [getattr(e, kind)[layer].detach().to(device="cpu", dtype=torch.float16).numpy() for e in encodings]
    )


def check_encoding(identity: BankIdentity, encoding: EncodedDocument) -> None:
    """Raise InvalidInput unless the encoding has every router layer, the bank's widths and one chunking."""
    layers = set(identity.router_layers)
    for kind in ("router_keys", *KV_KINDS):
        if set(getattr(encoding, kind)) != layers:
            raise InvalidInput(
                f"An encoding's {kind} covers layers {sorted(getattr(encoding, kind))}, "
                f"but this memory keeps layers {sorted(layers)}."
            )
    spans = encoding.router_chunk_spans
    if spans.ndim != 2 or spans.shape[1] != 2 or encoding.n_tokens < 0:
        raise InvalidInput(f"An encoding's router_chunk_spans has shape {spans.shape}, expected [C_r, 2].")
    router_count, kv_count = chunk_counts(encoding)
    expected = {"router_keys": (router_count, identity.router_key_dim)}
    expected.update({kind: (kv_count, identity.kv_dim) for kind in KV_KINDS})
    for kind, shape in expected.items():
        for layer, tensor in getattr(encoding, kind).items():
            if tuple(tensor.shape) != shape:
                raise InvalidInput(
                    f"An encoding's {kind}[{layer}] has shape {tuple(tensor.shape)}, expected {shape}."
                )


class TensorStore:
    """Row files ``tensors/g{generation}/layer{L:02d}.{kind}.f16``; row r of a file sits at ``r * row_bytes``.

    The store knows nothing of documents: the index says which rows are committed and whose they are.
    """

    def __init__(self, directory: Path, identity: BankIdentity, generations: Mapping[str, int]) -> None:
        self.root = directory / "tensors"
        self._layers = identity.router_layers
        self._widths = {ROUTER_SPACE: identity.router_key_dim, KV_SPACE: identity.kv_dim}
        self._generations = dict(generations)
        self._maps: dict[tuple[int, str], np.memmap] = {}

    def width(self, kind: str) -> int:
        return self._widths[KINDS[kind]]

    def path(self, layer: int, kind: str, generation: int | None = None) -> Path:
        if generation is None:
            generation = self._generations[KINDS[kind]]
        return self.root / f"g{generation}" / f"layer{layer:02d}.{kind}.f16"

    def _files(self, space: str | None = None) -> Iterator[tuple[int, str]]:
        for layer in self._layers:
            for kind, kind_space in KINDS.items():
                if space is None or kind_space == space:
                    yield layer, kind

    def recover(self, committed: Mapping[str, int], *, read_only: bool = False) -> None:
        """Make the files agree with the index: cut rows past ``committed`` (orphans of a write that never
        committed), create empty files, delete other generations. Read-only: only check.

        Raises:
            CorruptBank: a file holds fewer rows than the index committed.
        """
        for layer, kind in self._files():
            path, rows = self.path(layer, kind), committed[KINDS[kind]]
            row_bytes = self.width(kind) * ROW_DTYPE.itemsize
            size = path.stat().st_size if path.exists() else 0
            if size < rows * row_bytes:
                raise CorruptBank(
                    f"The memory file {path} is missing rows; run `memsa reencode` to rebuild it."
                )
            if read_only or (size == rows * row_bytes and path.exists()):
                continue
            with _write_errors(path):
                path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                with open(path, "ab", opener=_private_opener) as file:
                    file.truncate(rows * row_bytes)
                    os.fsync(file.fileno())
            if size > rows * row_bytes:
                log.info("reclaimed %d orphan rows of %s", (size - rows * row_bytes) // row_bytes, path)
        if not read_only:
            self.remove_other_generations()

    def append(self, space: str, at_row: int, rows: Mapping[tuple[int, str], np.ndarray]) -> None:
        """Write rows of every (layer, kind) of ``space`` at row ``at_row`` and fsync them.

        Writing at the committed end rather than the file end overwrites orphans of an earlier failed write.

        Args:
            rows: (layer, kind) -> [n, width] float16, the same n for every file of the space.
        Raises:
            StorageFull: the disk or quota is full (rows already written stay past the committed end).
            StorageUnavailable: any other failure to write.
        """
        new_file = False
        for (layer, kind), block in rows.items():
            path = self.path(layer, kind)
            with _write_errors(path):
                new_file |= not path.exists()
                path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
                try:
                    data = np.ascontiguousarray(block, dtype=ROW_DTYPE)
                    _pwrite_all(fd, data.data, at_row * self.width(kind) * ROW_DTYPE.itemsize)
                    os.fsync(fd)
                finally:
                    os.close(fd)
        if new_file:
            folder = self.root / f"g{self._generations[space]}"
            with _write_errors(folder):
                fsync_directory(folder)
                fsync_directory(self.root)

    def discard_past(self, space: str, committed_rows: int) -> None:
        """Best effort: give back the disk space of rows written past ``committed_rows`` by a failed write."""
        for layer, kind in self._files(space):
            path = self.path(layer, kind)
            try:
                if path.exists():
                    os.truncate(path, committed_rows * self.width(kind) * ROW_DTYPE.itemsize)
            except OSError as error:
                log.warning("could not cut back %s after a failed write: %s", path, error)

    def _map(self, layer: int, kind: str, end_row: int) -> np.memmap:
        cached = self._maps.get((layer, kind))
        if cached is not None and cached.shape[0] >= end_row:
            return cached
        path, width = self.path(layer, kind), self.width(kind)
        rows_in_file = (path.stat().st_size if path.exists() else 0) // (width * ROW_DTYPE.itemsize)
        if rows_in_file < end_row:
            raise CorruptBank(f"The memory file {path} is missing rows; run `memsa reencode` to rebuild it.")
        # Copy-on-write mapping: tensors handed out are writable without ever touching the file.
        mapped = np.memmap(path, dtype=ROW_DTYPE, mode="c", shape=(rows_in_file, width))
        self._maps[(layer, kind)] = mapped
        return mapped

    def read(self, layer: int, kind: str, rows: RowRange) -> torch.Tensor:
        """Rows ``rows`` of one file, memory-mapped: [count, width] float16."""
        if rows.count == 0:
            return torch.zeros((0, self.width(kind)), dtype=torch.float16)
        mapped = self._map(layer, kind, rows.start + rows.count)
        return torch.from_numpy(mapped[rows.start : rows.start + rows.count])

    def gather(self, layer: int, kind: str, placements: RowPlacements) -> npt.NDArray[np.float16]:
        """The placed rows of one file, in placement order: [sum(counts), width] float16 (a copy)."""
        total = int(placements.counts.sum())
        if total == 0:
            return np.zeros((0, self.width(kind)), dtype=ROW_DTYPE)
        ends = placements.starts + placements.counts
        mapped = self._map(layer, kind, int(ends.max()))
        offsets = np.arange(total) - np.repeat(
            np.cumsum(placements.counts) - placements.counts, placements.counts
        )
        return np.asarray(mapped[np.repeat(placements.starts, placements.counts) + offsets])

    def write_generation(self, generation: int, placements: Mapping[str, RowPlacements]) -> None:
        """Write generation ``generation``: each space's placed rows packed in placement order, fsynced.

        Nothing reads the new files until the index commits the new generation.
        """
        folder = self.root / f"g{generation}"
        with _write_errors(folder):
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(mode=0o700, parents=True)
            for layer, kind in self._files():
                self._copy_live_rows(layer, kind, placements[KINDS[kind]], self.path(layer, kind, generation))
            fsync_directory(folder)
            fsync_directory(self.root)

    def _copy_live_rows(self, layer: int, kind: str, placements: RowPlacements, target: Path) -> None:
        width = self.width(kind)
        block_rows = max(1, _COPY_BLOCK_BYTES // (width * ROW_DTYPE.itemsize))
        starts, ends = placements.starts, placements.starts + placements.counts
        with open(target, "wb", opener=_private_opener) as file:
            if len(starts):
                mapped = self._map(layer, kind, int(ends.max()))
                # Neighbouring documents' rows are copied as one run, in blocks of bounded size.
                breaks = np.flatnonzero(starts[1:] != ends[:-1]) + 1
                run_starts = starts[np.concatenate(([0], breaks))]
                run_ends = ends[np.concatenate((breaks - 1, [len(ends) - 1]))]
                for run_start, run_end in zip(run_starts.tolist(), run_ends.tolist(), strict=True):
                    for block in range(run_start, run_end, block_rows):
                        file.write(
                            np.ascontiguousarray(mapped[block : min(block + block_rows, run_end)]).data
                        )
            file.flush()
            os.fsync(file.fileno())

    def use_generations(self, generations: Mapping[str, int]) -> None:
        self._generations = dict(generations)
        self._maps.clear()

    def remove_other_generations(self) -> None:
        """Delete generations the index does not name (old ones, or a compaction that never committed)."""
        keep = {f"g{generation}" for generation in self._generations.values()}
        if not self.root.exists():
            return
        for folder in self.root.iterdir():
            if folder.name not in keep:
                log.info("removing stale tensor generation %s", folder)
                shutil.rmtree(folder, ignore_errors=True)

    def close(self) -> None:
        self._maps.clear()


class ResidentRouterKeys:
    """Live router-key rows of one layer, resident in RAM as float32 and updated in place of re-reading files.

    Matrices handed out stay valid while the bank changes: appends only fill spare capacity past every row
    already handed out, and removals build fresh buffers (lazily, at the next ``matrix()``), so rows never
    move under a reader.
    """

    def __init__(self, keys: torch.Tensor, doc_ids: torch.Tensor, chunk_index: torch.Tensor) -> None:
        """keys: [N, D_r] float32; doc_ids, chunk_index: [N] int64."""
        self._rows = keys.shape[0]
        self._keys, self._doc_ids, self._chunk_index = keys, doc_ids, chunk_index
        self._removed: set[int] = set()
        self._matrix: RouterKeyMatrix | None = None

    @classmethod
    def load(cls, store: TensorStore, layer: int, placements: RowPlacements) -> ResidentRouterKeys:
        keys = store.gather(layer, "router_keys", placements)
        counts = placements.counts
        chunk_index = np.arange(len(keys)) - np.repeat(np.cumsum(counts) - counts, counts)
        return cls(
            torch.from_numpy(keys.astype(np.float32)),
            torch.from_numpy(np.repeat(placements.doc_ids, counts)),
            torch.from_numpy(chunk_index.astype(np.int64)),
        )

    def append(self, keys: np.ndarray, doc_ids: np.ndarray, chunk_index: np.ndarray) -> None:
        """Add rows. keys: [n, D_r] float16; doc_ids, chunk_index: [n] int64."""
        end = self._rows + len(keys)
        if end > self._keys.shape[0]:
            capacity = max(end, 2 * self._keys.shape[0], 256)
            self._keys = _grown(self._keys[: self._rows], capacity)
            self._doc_ids = _grown(self._doc_ids[: self._rows], capacity)
            self._chunk_index = _grown(self._chunk_index[: self._rows], capacity)
        self._keys[self._rows : end] = torch.from_numpy(np.asarray(keys, dtype=np.float32))
        self._doc_ids[self._rows : end] = torch.from_numpy(np.asarray(doc_ids, dtype=np.int64))
        self._chunk_index[self._rows : end] = torch.from_numpy(np.asarray(chunk_index, dtype=np.int64))
        self._rows = end
        self._matrix = None

    def remove(self, doc_ids: list[int]) -> None:
        if doc_ids:
            self._removed.update(doc_ids)
            self._matrix = None

    def matrix(self) -> RouterKeyMatrix:
        """The live rows: keys [C, D_r] float32 contiguous, doc_ids [C], chunk_index [C]."""
        if self._matrix is None:
            if self._removed:
                removed = torch.tensor(sorted(self._removed), dtype=torch.int64)
                keep = ~torch.isin(self._doc_ids[: self._rows], removed)
                self._keys = self._keys[: self._rows][keep]
                self._doc_ids = self._doc_ids[: self._rows][keep]
                self._chunk_index = self._chunk_index[: self._rows][keep]
                self._rows = self._keys.shape[0]
                self._removed.clear()
            rows = self._rows
            self._matrix = RouterKeyMatrix(self._keys[:rows], self._doc_ids[:rows], self._chunk_index[:rows])
        return self._matrix


def _grown(tensor: torch.Tensor, capacity: int) -> torch.Tensor:
    grown = torch.empty((capacity, *tensor.shape[1:]), dtype=tensor.dtype)
    grown[: tensor.shape[0]] = tensor
    return grown
