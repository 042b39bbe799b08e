"""The bank's tensor side: rows made live by the index's transactions, resident router keys, compaction.

A write that stores encodings goes in three steps, always in this order: ``append_rows`` writes and fsyncs
the new rows past the committed ends; ``commit_rows``, inside the index transaction that stores the documents,
moves the committed ends past them; ``update_resident`` then applies the committed write to the router keys in
RAM, and ``maybe_compact`` reclaims dead rows. A write that only deletes documents ends with ``forget``,
which does both.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from ..errors import InvalidInput, StorageUnavailable
from .index import KV_SPACE, ROUTER_SPACE, ROW_SPACES, MemoryIndex
from .records import BankIdentity, EncodedDocument, RouterKeyMatrix, RowRange
from .tensor_store import KV_KINDS, ResidentRouterKeys, TensorStore, chunk_counts, stacked_rows

log = logging.getLogger(__name__)


class BankTensors:
    """The row files of one bank, the index's row-space state over them, and the router keys kept in RAM.

    Not thread-safe on its own: the bank calls every method under its lock, and checks that it may write.

    Args:
        directory: the bank's folder (the row files live in ``directory/tensors``).
        identity: the bank's identity (router layers and row widths).
        index: the bank's index, which names the committed rows, their owners and the file generation.
        auto_compact_min_rows: dead rows a row space must hold before ``maybe_compact`` compacts it.
    """

    def __init__(
        self, directory: Path, identity: BankIdentity, index: MemoryIndex, *, auto_compact_min_rows: int
    ) -> None:
        self.directory = directory
        self.identity = identity
        self._index = index
        self._auto_compact_min_rows = auto_compact_min_rows
        spaces = index.row_spaces()
        self._store = TensorStore(
            directory, identity, {name: space.generation for name, space in spaces.items()}
        )
        self._resident: dict[int, ResidentRouterKeys] = {}

    def recover(self, *, read_only: bool) -> None:
        """Make the row files agree with the index (see ``TensorStore.recover``).

        Raises:
            CorruptBank: a file holds fewer rows than the index committed.
        """
        committed = {name: space.committed_rows for name, space in self._index.row_spaces().items()}
        self._store.recover(committed, read_only=read_only)

    def close(self) -> None:
        self._resident.clear()
        self._store.close()

    def append_rows(self, encodings: Sequence[EncodedDocument]) -> list[tuple[RowRange, RowRange]]:
        """Write the rows of ``encodings`` past the committed ends, fsynced; return their (router, kv) rows.

        Nothing is live until ``commit_rows`` runs in the same index transaction as the documents.

        Raises:
            StorageFull, StorageUnavailable: the rows could not be written (what was written is cut back).
        """
        if not encodings:
            return []
        spaces = self._index.row_spaces()
        router_at, kv_at = spaces[ROUTER_SPACE].committed_rows, spaces[KV_SPACE].committed_rows
        placed: list[tuple[RowRange, RowRange]] = []
        router_row, kv_row = router_at, kv_at
        for encoding in encodings:
            router_count, kv_count = chunk_counts(encoding)
            placed.append((RowRange(router_row, router_count), RowRange(kv_row, kv_count)))
            router_row, kv_row = router_row + router_count, kv_row + kv_count
        layers = self.identity.router_layers
        try:
            self._store.append(
                ROUTER_SPACE,
                router_at,
                {(layer, "router_keys"): stacked_rows(encodings, "router_keys", layer) for layer in layers},
            )
            self._store.append(
                KV_SPACE,
                kv_at,
                {
                    (layer, kind): stacked_rows(encodings, kind, layer)
                    for layer in layers
                    for kind in KV_KINDS
                },
            )
        except StorageUnavailable:
            self._store.discard_past(ROUTER_SPACE, router_at)
            self._store.discard_past(KV_SPACE, kv_at)
            raise
        return placed

    def commit_rows(self, encodings: Sequence[EncodedDocument]) -> None:
        """Inside the caller's transaction: move the committed ends past the rows ``append_rows`` wrote."""
        if not encodings:
            return
        spaces = self._index.row_spaces()
        counts = [chunk_counts(encoding) for encoding in encodings]
        self._index.set_row_space(
            ROUTER_SPACE, committed_rows=spaces[ROUTER_SPACE].committed_rows + sum(c[0] for c in counts)
        )
        self._index.set_row_space(
            KV_SPACE, committed_rows=spaces[KV_SPACE].committed_rows + sum(c[1] for c in counts)
        )

    def update_resident(
        self, removed: Sequence[int], added: Sequence[int], encodings: Sequence[EncodedDocument]
    ) -> None:
        """Apply a committed write to the router keys already in RAM.

        Args:
            removed: ids of the documents the write deleted.
            added: ids of the documents it encoded, one per encoding, in the same order.
            encodings: their encodings.
        """
        try:
            for layer, resident in self._resident.items():
                resident.remove(list(removed))
                if added:
                    counts = [chunk_counts(encoding)[0] for encoding in encodings]
                    resident.append(
                        stacked_rows(encodings, "router_keys", layer),
                        np.repeat(np.asarray(added, dtype=np.int64), counts),
                        np.concatenate([np.arange(count, dtype=np.int64) for count in counts]),
                    )
        except BaseException:
            # The write is committed; rather than keep a wrong copy, reload from disk when next asked.
            self._resident.clear()
            raise

    def forget(self, removed: Sequence[int]) -> None:
        """After a committed write that deleted documents and stored none: drop their router keys from RAM,
        then compact if their rows left too many dead ones."""
        self.update_resident(removed, [], [])
        self.maybe_compact()

    def router_keys(self, layer: int) -> RouterKeyMatrix:
        """Live router keys of ``layer``: keys [C, D_r] float32, doc_ids [C], chunk_index [C].

        Loaded from disk once per layer, then kept current by ``update_resident``.
        """
        self._check_layer(layer)
        resident = self._resident.get(layer)
        if resident is None:
            resident = ResidentRouterKeys.load(self._store, layer, self._index.placements(ROUTER_SPACE))
            self._resident[layer] = resident
        return resident.matrix()

    def pooled_kv(self, layer: int, doc_id: int) -> tuple[torch.Tensor, torch.Tensor]:
        """K̄ and V̄ of one document in ``layer``: ([C, kv_dim], [C, kv_dim]) float16, memory-mapped.

        Raises:
            InvalidInput: no such document, or it is not encoded.
        """
        self._check_layer(layer)
        ranges = self._index.row_ranges(doc_id)
        if ranges is None or ranges[1] is None:
            raise InvalidInput(f"Document {doc_id} is not in the memory or not encoded.")
        kv_rows = ranges[1]
        return self._store.read(layer, "pooled_keys", kv_rows), self._store.read(layer, "pooled_values", kv_rows)

    def compact(self) -> None:
        """Rewrite the live rows into a new generation of files, dropping dead rows.

        Crash-safe: the index names one generation; the other one's folder is deleted on the next open.
        """
        spaces = self._index.row_spaces()
        generation = max(space.generation for space in spaces.values()) + 1
        placements = {space: self._index.placements(space) for space in ROW_SPACES}
        try:
            self._store.write_generation(generation, placements)
            with self._index.transaction():
                for space, placed in placements.items():
                    new_starts = np.cumsum(placed.counts) - placed.counts
                    self._index.move_rows(space, placed.doc_ids.tolist(), new_starts.tolist())
                    self._index.set_row_space(
                        space, committed_rows=int(placed.counts.sum()), generation=generation
                    )
        finally:
            # The generation the index names is the truth, whether or not the commit landed; the other
            # folder goes. Rows keep their order, so the resident router keys stay valid either way.
            self._store.use_generations(
                {name: space.generation for name, space in self._index.row_spaces().items()}
            )
            self._store.remove_other_generations()
        log.info("compacted the memory at %s into generation %d", self.directory, generation)

    def maybe_compact(self) -> None:
        """Compact once more than half of a row space's committed rows are dead, and at least
        ``auto_compact_min_rows`` of them; a compaction that finds no disk space waits for a later write."""
        spaces = self._index.row_spaces().values()
        if not any(
            s.dead_rows > s.committed_rows // 2 and s.dead_rows >= self._auto_compact_min_rows for s in spaces
        ):
            return
        try:
            self.compact()
        except StorageUnavailable as error:
            # The write that got here is committed; a compaction can wait for more disk space.
            log.warning("could not compact the memory at %s: %s", self.directory, error)

    def _check_layer(self, layer: int) -> None:
        if layer not in self.identity.router_layers:
            raise InvalidInput(
                f"Layer {layer} is not a router layer of this memory {self.identity.router_layers}."
            )
