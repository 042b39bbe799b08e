"""BankTensors on its own, over a real index: resident router keys stay equal to a reload from disk."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from memsa.core.errors import InvalidInput
from memsa.core.memory.bank_tensors import BankTensors
from memsa.core.memory.index import MemoryIndex
from memsa.core.memory.records import BankIdentity, RouterKeyMatrix
from tests.core.memory.bank_fixtures import LAYERS, documents_for, f16, source_info


@pytest.fixture
def index(bank_dir: Path) -> Iterator[MemoryIndex]:
    bank_dir.mkdir(mode=0o700, parents=True)
    opened = MemoryIndex.open(bank_dir / "index.sqlite3")
    yield opened
    opened.close()


def open_tensors(bank_dir: Path, identity: BankIdentity, index: MemoryIndex) -> BankTensors:
    tensors = BankTensors(bank_dir, identity, index, auto_compact_min_rows=4096)
    tensors.recover(read_only=False)
    return tensors


def store(tensors: BankTensors, index: MemoryIndex, path: str, content_hash: str) -> list[int]:
    """Store the documents of ``content_hash`` at ``path`` the way the bank does, in the three steps."""
    documents = documents_for(content_hash)
    encodings = [document.encoding for document in documents if document.encoding is not None]
    placed = tensors.append_rows(encodings)
    with index.transaction():
        removed = index.delete_documents_of(path)
        source_id = index.upsert_source(source_info(path, content_hash))
        doc_ids = [
            index.insert_document(source_id, document, *rows) for document, rows in zip(documents, placed, strict=True)
        ]
        tensors.commit_rows(encodings)
    tensors.update_resident(removed, doc_ids, encodings)
    return doc_ids


def assert_same(left: RouterKeyMatrix, right: RouterKeyMatrix) -> None:
    """The same rows, whatever their order: sorted by (doc_id, chunk_index)."""
    def ordered(matrix: RouterKeyMatrix) -> tuple[torch.Tensor, torch.Tensor]:
        order = torch.argsort(matrix.doc_ids * 10_000 + matrix.chunk_index)
        return torch.stack([matrix.doc_ids, matrix.chunk_index])[:, order], matrix.keys[order]

    (left_ids, left_keys), (right_ids, right_keys) = ordered(left), ordered(right)
    assert torch.equal(left_ids, right_ids) and torch.equal(left_keys, right_keys)


def test_resident_keys_follow_writes_like_a_reload(bank_dir: Path, identity: BankIdentity, index: MemoryIndex) -> None:
    tensors = open_tensors(bank_dir, identity, index)
    before = {layer: tensors.router_keys(layer) for layer in LAYERS}  # resident from the start
    first = store(tensors, index, "/a.txt", "a1")
    store(tensors, index, "/b.txt", "b1")
    store(tensors, index, "/a.txt", "a2")  # replaces the first documents
    tensors.forget(index.delete_source("/b.txt"))
    generation = index.row_spaces()["router"].generation
    tensors.compact()  # moves every row
    assert index.row_spaces()["router"].generation == generation + 1
    reloaded = open_tensors(bank_dir, identity, index)
    for layer in LAYERS:
        assert before[layer].keys.shape[0] == 0  # a matrix handed out never changes
        matrix = tensors.router_keys(layer)
        assert not set(matrix.doc_ids.tolist()) & set(first)
        assert_same(matrix, reloaded.router_keys(layer))
    tensors.close()
    reloaded.close()


def test_rows_appended_but_not_committed_are_invisible_and_cut(
    bank_dir: Path, identity: BankIdentity, index: MemoryIndex
) -> None:
    tensors = open_tensors(bank_dir, identity, index)
    doc_ids = store(tensors, index, "/a.txt", "a1")
    encodings = [document.encoding for document in documents_for("x1") if document.encoding is not None]
    tensors.append_rows(encodings)  # a write that never commits
    key_file = next((bank_dir / "tensors" / "g0").glob("layer*.router_keys.f16"))
    committed = index.row_spaces()["router"].committed_rows
    assert key_file.stat().st_size > committed * identity.router_key_dim * 2
    tensors.close()

    reopened = open_tensors(bank_dir, identity, index)
    assert key_file.stat().st_size == committed * identity.router_key_dim * 2
    assert set(reopened.router_keys(LAYERS[0]).doc_ids.tolist()) == set(doc_ids)
    encoding = documents_for("a1")[0].encoding
    assert encoding is not None
    keys, values = reopened.pooled_kv(LAYERS[0], doc_ids[0])
    assert torch.equal(keys, f16(encoding.pooled_keys[LAYERS[0]]))
    assert torch.equal(values, f16(encoding.pooled_values[LAYERS[0]]))
    reopened.close()


def test_unknown_layer_or_document_is_refused(bank_dir: Path, identity: BankIdentity, index: MemoryIndex) -> None:
    tensors = open_tensors(bank_dir, identity, index)
    with pytest.raises(InvalidInput, match="not a router layer"):
        tensors.router_keys(2)
    with pytest.raises(InvalidInput, match="not in the memory"):
        tensors.pooled_kv(LAYERS[0], 12345)
    tensors.close()
