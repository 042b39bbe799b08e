"""A memory held in tensors on one device: what sparse generation reads, without a bank on disk.

Benchmarks use it for synthetic memories of millions of tokens; tests use it where SQLite is not wanted.
Document ids are 1..N in the order the documents were given.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ..errors import InvalidInput
from ..memory.records import EncodedDocument, RouterKeyMatrix


class TensorMemory:
    """Per layer: router keys with their document ids, and pooled K̄/V̄ rows with each document's row range.

    Args:
        router_keys: layer -> [C_r, D_r].
        router_doc_ids: [C_r] int64, the document of each router-key row (same rows in every layer).
        router_chunk_index: [C_r] int64, each row's chunk number within its document.
        pooled_keys, pooled_values: layer -> [C, kv_dim].
        kv_starts, kv_counts: [N + 1] int64 indexed by document id: where its K̄/V̄ rows start, how many.
    """

    def __init__(self, router_keys: dict[int, torch.Tensor], router_doc_ids: torch.Tensor,
                 router_chunk_index: torch.Tensor, pooled_keys: dict[int, torch.Tensor],
                 pooled_values: dict[int, torch.Tensor], kv_starts: torch.Tensor, kv_counts: torch.Tensor) -> None:
        self._router_keys = router_keys
        self._router_doc_ids = router_doc_ids
        self._router_chunk_index = router_chunk_index
        self._pooled_keys = pooled_keys
        self._pooled_values = pooled_values
        self._kv_starts = kv_starts.tolist()
        self._kv_counts = kv_counts.tolist()

    @classmethod
    def from_encodings(cls, encodings: Sequence[EncodedDocument], device: torch.device | str = "cpu",
                       dtype: torch.dtype = torch.float16) -> TensorMemory:
        """Stack stage-1 encodings; document i (0-based) gets id i + 1. K̄/V̄ are kept in ``dtype``.

        Raises:
            InvalidInput: no encodings, or they disagree on their layers.
        """
        if not encodings:
            raise InvalidInput("a memory needs at least one encoded document")
        layers = sorted(encodings[0].router_keys)
        if any(sorted(encoding.router_keys) != layers for encoding in encodings):
            raise InvalidInput("encodings disagree on their router layers")
        router_counts = [encoding.router_keys[layers[0]].shape[0] for encoding in encodings]
        kv_counts = [encoding.pooled_keys[layers[0]].shape[0] for encoding in encodings]
        doc_ids = torch.repeat_interleave(torch.arange(1, len(encodings) + 1), torch.tensor(router_counts))
        chunk_index = torch.cat([torch.arange(count) for count in router_counts])
        counts = torch.tensor([0, *kv_counts])
        starts = torch.cat([torch.zeros(1, dtype=torch.long), counts.cumsum(0)[:-1]])

        def stacked(name: str, layer: int, as_dtype: torch.dtype) -> torch.Tensor:
            return torch.cat([getattr(encoding, name)[layer] for encoding in encodings]).to(device, as_dtype)

        return cls(
            router_keys={layer: stacked("router_keys", layer, torch.float32) for layer in layers},
            router_doc_ids=doc_ids.to(device),
            router_chunk_index=chunk_index.to(device),
            pooled_keys={layer: stacked("pooled_keys", layer, dtype) for layer in layers},
            pooled_values={layer: stacked("pooled_values", layer, dtype) for layer in layers},
            kv_starts=starts,
            kv_counts=counts,
        )

    def router_keys(self, layer: int) -> RouterKeyMatrix:
        """keys [C_r, D_r], doc_ids [C_r], chunk_index [C_r] of ``layer``."""
        return RouterKeyMatrix(self._router_keys[layer], self._router_doc_ids, self._router_chunk_index)

    def pooled_kv(self, layer: int, doc_id: int) -> tuple[torch.Tensor, torch.Tensor]:
        """K̄, V̄ of one document: ([C_doc, kv_dim], [C_doc, kv_dim]) views.

        Raises:
            InvalidInput: no such document.
        """
        if not 0 < doc_id < len(self._kv_starts):
            raise InvalidInput(f"Document {doc_id} is not in this memory.")
        start, count = self._kv_starts[doc_id], self._kv_counts[doc_id]
        return self._pooled_keys[layer][start:start + count], self._pooled_values[layer][start:start + count]
