"""MemoryBank add / replace / delete / rename / reopen round trips."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch

from memsa.core.errors import InvalidInput
from memsa.core.memory.bank import MemoryBank
from memsa.core.memory.records import BankIdentity, NewDocument
from tests.core.memory.bank_fixtures import LAYERS, check_bank, documents_for, f16, make_encoding, source_info


def put(bank: MemoryBank, path: str, version: str = "v1") -> list[int]:
    content_hash = f"{path}|{version}"
    return bank.put_source(source_info(path, content_hash), documents_for(content_hash))


def test_put_then_read_back(fresh_bank: MemoryBank) -> None:
    doc_ids = put(fresh_bank, "/notes/a.md")
    expected = documents_for("/notes/a.md|v1")
    assert len(doc_ids) == len(expected)
    records = fresh_bank.documents(doc_ids)
    assert [record.doc_id for record in records] == doc_ids
    assert [record.text for record in records] == [document.text for document in expected]
    encoding = expected[0].encoding
    assert encoding is not None
    keys, values = fresh_bank.pooled_kv(3, doc_ids[0])
    assert keys.dtype == torch.float16 and keys.shape == encoding.pooled_keys[3].shape
    torch.testing.assert_close(values.float(), encoding.pooled_values[3], rtol=1e-3, atol=1e-3)
    assert check_bank(fresh_bank) == len(expected)


def test_documents_keeps_asked_order_and_skips_missing(fresh_bank: MemoryBank) -> None:
    doc_ids = put(fresh_bank, "/a") + put(fresh_bank, "/b")
    asked = [doc_ids[-1], 10_000, doc_ids[0]]
    assert [record.doc_id for record in fresh_bank.documents(asked)] == [doc_ids[-1], doc_ids[0]]


def test_replace_source_swaps_documents_and_counts_dead_rows(fresh_bank: MemoryBank) -> None:
    old_ids = put(fresh_bank, "/a", "v1")
    put(fresh_bank, "/b", "v1")
    before = fresh_bank.router_keys(1)
    new_ids = put(fresh_bank, "/a", "v2")
    assert set(old_ids).isdisjoint(new_ids) and fresh_bank.documents(old_ids) == []
    source = fresh_bank.source("/a")
    assert source is not None and source.content_hash == "/a|v2"
    matrix = fresh_bank.router_keys(1)
    assert not torch.isin(matrix.doc_ids, torch.tensor(old_ids)).any()
    # A matrix handed out earlier is a snapshot: later writes never change it.
    assert torch.isin(before.doc_ids, torch.tensor(old_ids)).any()
    check_bank(fresh_bank)


def test_reopen_keeps_everything(bank_dir: Path, identity: BankIdentity) -> None:
    with MemoryBank.open(bank_dir, identity) as bank:
        for number in range(6):
            put(bank, f"/docs/{number}.txt")
        put(bank, "/docs/2.txt", "v2")
        bank.delete_source("/docs/4.txt")
        stats = bank.stats()
    with MemoryBank.open(bank_dir, identity) as bank:
        assert check_bank(bank) == stats.documents
        reopened = bank.stats()
        assert (reopened.sources, reopened.router_chunks, reopened.kv_chunks) == (
            5,
            stats.router_chunks,
            stats.kv_chunks,
        )


def test_unencoded_documents_then_set_encodings(fresh_bank: MemoryBank) -> None:
    documents = documents_for("/a|v1", encoded=False)
    doc_ids = fresh_bank.put_source(source_info("/a", "/a|v1"), documents)
    assert fresh_bank.unencoded_document_ids() == doc_ids
    assert fresh_bank.router_keys(1).keys.shape == (0, 8)
    with pytest.raises(InvalidInput):
        fresh_bank.pooled_kv(1, doc_ids[0])
    encodings = [document.encoding for document in documents_for("/a|v1")]
    fresh_bank.set_encodings([(doc_id, enc) for doc_id, enc in zip(doc_ids, encodings, strict=True) if enc])
    assert fresh_bank.unencoded_document_ids() == []
    check_bank(fresh_bank)
    with pytest.raises(InvalidInput, match="already encoded"):
        fresh_bank.set_encodings([(doc_ids[0], make_encoding(1))])


def test_delete_source_and_folder_prefix(fresh_bank: MemoryBank) -> None:
    for path in ("/a/b/x.txt", "/a/b/deep/y.txt", "/a/bc/z.txt", "/a/b", "/a/b.txt"):
        put(fresh_bank, path)
    removed = len(fresh_bank.document_ids("/a/b/x.txt")) + len(fresh_bank.document_ids("/a/b/deep/y.txt"))
    assert fresh_bank.delete_sources_under("/a/b/") == removed
    assert [source.path for source in fresh_bank.sources()] == ["/a/b", "/a/b.txt", "/a/bc/z.txt"]
    assert fresh_bank.delete_source("/a/bc/z.txt") > 0
    assert fresh_bank.delete_source("/nowhere") == 0
    check_bank(fresh_bank)


def test_rename_keeps_ids_and_tensors(fresh_bank: MemoryBank) -> None:
    doc_ids = put(fresh_bank, "/old.txt")
    put(fresh_bank, "/taken.txt")
    fresh_bank.rename_source("/old.txt", "/taken.txt")
    assert fresh_bank.source("/old.txt") is None
    assert fresh_bank.document_ids("/taken.txt") == doc_ids
    assert [record.path for record in fresh_bank.documents(doc_ids)] == ["/taken.txt"] * len(doc_ids)
    check_bank(fresh_bank)
    with pytest.raises(InvalidInput):
        fresh_bank.rename_source("/old.txt", "/elsewhere.txt")


def test_update_source_stat(fresh_bank: MemoryBank) -> None:
    put(fresh_bank, "/a")
    fresh_bank.update_source_stat("/a", 123, 456)
    source = fresh_bank.source("/a")
    assert source is not None and (source.mtime_ns, source.size) == (123, 456)
    with pytest.raises(InvalidInput):
        fresh_bank.update_source_stat("/missing", 1, 1)


def test_encoding_that_does_not_fit_is_refused(fresh_bank: MemoryBank) -> None:
    encoding = make_encoding(7, n_tokens=8)
    wrong_width = dataclasses.replace(encoding, router_keys={layer: torch.zeros(4, 9) for layer in LAYERS})
    missing_layer = dataclasses.replace(encoding, pooled_keys={1: encoding.pooled_keys[1]})
    for bad in (wrong_width, missing_layer):
        with pytest.raises(InvalidInput):
            fresh_bank.put_source(source_info("/a", "h"), [NewDocument("t", 0, 1, "t", bad)])
    assert fresh_bank.sources() == []


def test_compaction_preserves_everything(bank_dir: Path, identity: BankIdentity) -> None:
    with MemoryBank.open(bank_dir, identity, auto_compact_min_rows=10**9) as bank:
        for number in range(12):
            put(bank, f"/{number}")
        for number in range(0, 12, 2):
            put(bank, f"/{number}", "v2")
        bank.router_keys(3)  # resident before compaction: must stay right after it
        size_before = sum(path.stat().st_size for path in (bank_dir / "tensors").rglob("*.f16"))
        bank.compact()
        assert [folder.name for folder in (bank_dir / "tensors").iterdir()] == ["g1"]
        size_after = sum(path.stat().st_size for path in (bank_dir / "tensors").rglob("*.f16"))
        assert size_after < size_before
        documents = check_bank(bank)
        put(bank, "/after")
        check_bank(bank)
    with MemoryBank.open(bank_dir, identity) as bank:
        assert check_bank(bank) == documents + len(documents_for("/after|v1"))


def test_writes_compact_automatically(bank_dir: Path, identity: BankIdentity) -> None:
    with MemoryBank.open(bank_dir, identity, auto_compact_min_rows=4) as bank:
        put(bank, "/stable")
        for version in range(6):
            put(bank, "/churn", f"v{version}")
        assert not (bank_dir / "tensors" / "g0").exists()
        check_bank(bank)


def test_stats(fresh_bank: MemoryBank) -> None:
    put(fresh_bank, "/a")
    documents = documents_for("/a|v1")
    stats = fresh_bank.stats()
    encodings = [document.encoding for document in documents if document.encoding]
    assert (stats.sources, stats.documents) == (1, len(documents))
    assert stats.tokens == sum(encoding.n_tokens for encoding in encodings)
    assert stats.kv_chunks == sum(encoding.pooled_keys[1].shape[0] for encoding in encodings)
    assert stats.bytes_on_disk > 0 and stats.identity == fresh_bank.identity


def test_pooled_kv_equals_float16_of_input(fresh_bank: MemoryBank) -> None:
    encoding = make_encoding(11, n_tokens=13)
    (doc_id,) = fresh_bank.put_source(source_info("/a", "h"), [NewDocument("t", 0, 1, "t", encoding)])
    for layer in LAYERS:
        keys, values = fresh_bank.pooled_kv(layer, doc_id)
        assert keys.shape == (4, 12)
        assert torch.equal(keys, f16(encoding.pooled_keys[layer]))
        assert torch.equal(values, f16(encoding.pooled_values[layer]))
    with pytest.raises(InvalidInput):
        fresh_bank.router_keys(2)
