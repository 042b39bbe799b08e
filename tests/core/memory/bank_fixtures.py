"""Deterministic tiny encodings for memory-bank tests (also imported by the crash-test writer subprocess)."""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import numpy as np
import torch

from memsa.core.memory.bank import INDEX_FILE, MemoryBank
from memsa.core.memory.index import MemoryIndex
from memsa.core.memory.records import BankIdentity, EncodedDocument, NewDocument, SourceInfo

LAYERS = (1, 3)
ROUTER_KEY_DIM = 8
KV_DIM = 12
CHUNK_TOKENS = 4
ROUTER_CHUNK_TOKENS = 2


def make_identity(model: str = "tiny", router: str = "router-a") -> BankIdentity:
    """A bank identity with tiny dims: layers (1, 3), D_r = 8, kv_dim = 12, P = 4, P_r = 2."""
    return BankIdentity(
        model_fingerprint=hashlib.sha256(model.encode()).hexdigest(),
        model_name=model,
        router_fingerprint=hashlib.sha256(router.encode()).hexdigest(),
        router_layers=LAYERS,
        router_key_dim=ROUTER_KEY_DIM,
        kv_dim=KV_DIM,
        chunk_tokens=CHUNK_TOKENS,
        router_chunk_tokens=ROUTER_CHUNK_TOKENS,
    )


def seed_of(*parts: str) -> int:
    return int.from_bytes(hashlib.sha256("\0".join(parts).encode()).digest()[:8], "little")


def make_encoding(seed: int, n_tokens: int | None = None) -> EncodedDocument:
    """Random but reproducible stage-1 output: C_r = ceil(T / 2) router rows, C = ceil(T / 4) K̄/V̄ rows."""
    generator = torch.Generator().manual_seed(seed % (2**63))
    if n_tokens is None:
        n_tokens = int(torch.randint(1, 21, (1,), generator=generator))
    router_count = math.ceil(n_tokens / ROUTER_CHUNK_TOKENS)
    kv_count = math.ceil(n_tokens / CHUNK_TOKENS)
    spans = np.stack([np.arange(router_count) * 10, np.arange(router_count) * 10 + 10], axis=1).astype(
        np.int64
    )
    return EncodedDocument(
        n_tokens=n_tokens,
        router_keys={
            layer: torch.randn(router_count, ROUTER_KEY_DIM, generator=generator) for layer in LAYERS
        },
        pooled_keys={layer: torch.randn(kv_count, KV_DIM, generator=generator) for layer in LAYERS},
        pooled_values={layer: torch.randn(kv_count, KV_DIM, generator=generator) for layer in LAYERS},
        router_chunk_spans=spans,
    )


def source_info(path: str, content_hash: str) -> SourceInfo:
    return SourceInfo(
        path=path, content_hash=content_hash, mtime_ns=seed_of(content_hash) % 10**12, size=len(path)
    )


def documents_for(content_hash: str, *, encoded: bool = True) -> list[NewDocument]:
    """The 1–4 documents of a source whose content hashes to ``content_hash``, all derived from the hash.

    Deriving from the hash (not the path) lets a test recompute what any stored source must hold, even
    after a rename.
    """
    count = 1 + seed_of(content_hash, "count") % 4
    documents = []
    for number in range(count):
        text = f"{content_hash} part {number}"
        documents.append(
            NewDocument(
                text=text,
                start=number * 100,
                end=number * 100 + len(text),
                title=f"{content_hash}#{number}",
                encoding=make_encoding(seed_of(content_hash, str(number))) if encoded else None,
            )
        )
    return documents


def f16(tensor: torch.Tensor) -> torch.Tensor:
    """What the bank gives back for ``tensor``: rounded to float16."""
    return tensor.to(torch.float16)


def check_bank(bank: MemoryBank) -> int:
    """Assert that every stored source holds exactly the documents and tensors derived from its content hash,
    and that the router keys are exactly the live documents' rows. Returns the number of documents checked.
    """
    expected_router: dict[int, dict[int, torch.Tensor]] = {}
    checked = 0
    for source in bank.sources():
        expected = documents_for(source.content_hash)
        doc_ids = bank.document_ids(source.path)
        assert len(doc_ids) == len(expected) == source.documents, f"{source.path} is half in"
        for record, document in zip(bank.documents(doc_ids), expected, strict=True):
            assert (record.path, record.text, record.title) == (source.path, document.text, document.title)
            assert (record.start, record.end) == (document.start, document.end)
            encoding = document.encoding
            assert encoding is not None and record.n_tokens == encoding.n_tokens
            np.testing.assert_array_equal(record.router_chunk_spans, encoding.router_chunk_spans)
            for layer in LAYERS:
                keys, values = bank.pooled_kv(layer, record.doc_id)
                assert torch.equal(keys, f16(encoding.pooled_keys[layer]))
                assert torch.equal(values, f16(encoding.pooled_values[layer]))
            expected_router[record.doc_id] = encoding.router_keys
            checked += 1
    for layer in LAYERS:
        matrix = bank.router_keys(layer)
        assert matrix.keys.dtype == torch.float32 and matrix.keys.is_contiguous()
        assert matrix.keys.shape[0] == sum(keys[layer].shape[0] for keys in expected_router.values())
        for doc_id, keys in expected_router.items():
            rows = torch.nonzero(matrix.doc_ids == doc_id).flatten()
            # A document's rows are contiguous and in chunk order.
            assert torch.equal(rows, torch.arange(int(rows[0]), int(rows[0]) + len(rows)))
            assert torch.equal(matrix.chunk_index[rows], torch.arange(len(rows)))
            assert torch.equal(matrix.keys[rows], f16(keys[layer]).float())
    stats = bank.stats()
    assert stats.router_chunks == sum(keys[LAYERS[0]].shape[0] for keys in expected_router.values())
    assert stats.documents == checked
    return checked


def assert_no_orphan_rows(bank_dir: Path) -> None:
    """Every row file holds exactly the rows its space committed, in the one generation the index names."""
    index = MemoryIndex.open(bank_dir / INDEX_FILE, read_only=True)
    try:
        spaces = index.row_spaces()
    finally:
        index.close()
    assert len({space.generation for space in spaces.values()}) == 1
    generation = spaces["router"].generation
    assert [folder.name for folder in (bank_dir / "tensors").iterdir()] == [f"g{generation}"]
    files = sorted((bank_dir / "tensors" / f"g{generation}").iterdir())
    assert len(files) == len(LAYERS) * 3
    for path in files:
        router = "router_keys" in path.name
        rows = spaces["router" if router else "kv"].committed_rows
        assert path.stat().st_size == rows * (ROUTER_KEY_DIM if router else KV_DIM) * 2, f"orphans in {path}"
