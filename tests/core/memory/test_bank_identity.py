"""A bank belongs to one model and router: mismatch, rename, adoption, and the private folder."""

from __future__ import annotations

import dataclasses
import stat
from pathlib import Path

import pytest
import torch

from memsa.core.errors import BankMismatch
from memsa.core.memory.bank import MemoryBank
from memsa.core.memory.records import BankIdentity, EncodedDocument
from tests.core.memory.bank_fixtures import check_bank, documents_for, make_identity, source_info


def fill(bank_dir: Path, identity: BankIdentity) -> None:
    with MemoryBank.open(bank_dir, identity) as bank:
        for path in ("/a", "/b"):
            bank.put_source(source_info(path, f"{path}|v1"), documents_for(f"{path}|v1"))


def test_other_model_is_refused_with_a_clear_message(bank_dir: Path, identity: BankIdentity) -> None:
    fill(bank_dir, identity)
    other = make_identity(model="bigger")
    with pytest.raises(BankMismatch) as raised:
        MemoryBank.open(bank_dir, other)
    message = str(raised.value)
    assert identity.describe() in message and other.describe() in message
    assert "memsa reencode" in message and "\n" not in message
    with MemoryBank.open(bank_dir, identity) as bank:  # the refused open changed nothing
        check_bank(bank)


def test_other_router_dims_are_refused(bank_dir: Path, identity: BankIdentity) -> None:
    fill(bank_dir, identity)
    with pytest.raises(BankMismatch, match="router_key_dim"):
        MemoryBank.open(bank_dir, dataclasses.replace(identity, router_key_dim=16))


def test_renamed_model_with_same_weights_is_accepted(bank_dir: Path, identity: BankIdentity) -> None:
    fill(bank_dir, identity)
    renamed = dataclasses.replace(identity, model_name="tiny-renamed")
    with MemoryBank.open(bank_dir, renamed) as bank:
        assert bank.stats().identity == renamed
        check_bank(bank)


def test_adopt_keeps_documents_and_drops_tensors(bank_dir: Path, identity: BankIdentity) -> None:
    fill(bank_dir, identity)
    with MemoryBank.open(bank_dir, identity) as bank:
        texts = {record.doc_id: record.text for record in bank.documents(bank.document_ids("/a"))}
    # The new router is wider: no old row may survive.
    other = dataclasses.replace(make_identity(router="router-b"), router_key_dim=16)
    with MemoryBank.open(bank_dir, other, adopt_identity=True) as bank:
        unencoded = bank.unencoded_document_ids()
        assert set(texts) <= set(unencoded) and len(unencoded) == bank.stats().documents
        assert {record.doc_id: record.text for record in bank.documents(list(texts))} == texts
        assert all(record.router_rows is None for record in bank.documents(unencoded))
        assert bank.router_keys(1).keys.shape == (0, 16)
        assert bank.stats().router_chunks == 0
        assert not (bank_dir / "tensors" / "g0").exists()
        wide = [
            (doc_id, widen(document.encoding))
            for doc_id, document in zip(bank.document_ids("/a"), documents_for("/a|v1"), strict=True)
            if document.encoding
        ]
        bank.set_encodings(wide)
        matrix = bank.router_keys(3)
        assert matrix.keys.shape == (sum(encoding.router_keys[3].shape[0] for _, encoding in wide), 16)
    with MemoryBank.open(bank_dir, other) as bank:
        assert len(bank.unencoded_document_ids()) == len(bank.document_ids("/b"))


def widen(encoding: EncodedDocument) -> EncodedDocument:
    keys = {layer: torch.cat([rows, rows], dim=1) for layer, rows in encoding.router_keys.items()}
    return dataclasses.replace(encoding, router_keys=keys)


def test_folder_is_private(tmp_path: Path, identity: BankIdentity) -> None:
    loose = tmp_path / "loose"
    loose.mkdir(mode=0o755)
    loose.chmod(0o755)
    for folder in (tmp_path / "new" / "memory", loose):
        MemoryBank.open(folder, identity).close()
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
