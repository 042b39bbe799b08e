"""The bank stays consistent through failed writes, orphan rows, interrupted compactions, a second process."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from memsa.core.errors import CorruptBank, InvalidInput, StorageFull, StorageUnavailable
from memsa.core.memory import tensor_store
from memsa.core.memory.bank import MemoryBank
from memsa.core.memory.index import MemoryIndex
from memsa.core.memory.records import BankIdentity
from tests.core.memory.bank_fixtures import assert_no_orphan_rows, check_bank, documents_for, source_info


def put(bank: MemoryBank, path: str, version: str = "v1") -> list[int]:
    content_hash = f"{path}|{version}"
    return bank.put_source(source_info(path, content_hash), documents_for(content_hash))


def test_orphan_rows_of_an_uncommitted_write_are_reclaimed(
    bank_dir: Path, identity: BankIdentity, monkeypatch: pytest.MonkeyPatch
) -> None:
    with MemoryBank.open(bank_dir, identity) as bank:
        put(bank, "/a")

        def crash(*args: object, **kwargs: object) -> int:
            raise RuntimeError("simulated crash between the tensor write and the commit")

        with monkeypatch.context() as patch:
            patch.setattr(MemoryIndex, "insert_document", crash)
            with pytest.raises(RuntimeError):
                put(bank, "/b")
        assert bank.source("/b") is None
        check_bank(bank)
        bank.router_keys(1)
        put(bank, "/b", "v2")  # written over the orphans, not after them
        check_bank(bank)
        sizes = {path: path.stat().st_size for path in (bank_dir / "tensors").rglob("*.f16")}
    for path in sizes:  # more garbage past the committed end, as a torn write would leave
        with open(path, "ab") as file:
            file.write(b"\xff" * 37)
    with MemoryBank.open(bank_dir, identity) as bank:
        assert_no_orphan_rows(bank_dir)
        assert all(path.stat().st_size < size for path, size in sizes.items())
        put(bank, "/c")
        check_bank(bank)
        assert_no_orphan_rows(bank_dir)


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EDQUOT])
def test_full_disk_raises_storage_full_and_keeps_the_old_content(
    fresh_bank: MemoryBank, bank_dir: Path, identity: BankIdentity, monkeypatch: pytest.MonkeyPatch, code: int
) -> None:
    put(fresh_bank, "/a")
    put(fresh_bank, "/b")
    real_write = tensor_store._pwrite_all
    calls = []

    def write_until_full(fd: int, data: bytes | memoryview, offset: int) -> None:
        calls.append(offset)
        if len(calls) >= 4:  # the kv files: router rows are already written by then
            raise OSError(code, "No space left on device")
        real_write(fd, data, offset)

    with monkeypatch.context() as patch:
        patch.setattr(tensor_store, "_pwrite_all", write_until_full)
        with pytest.raises(StorageFull, match="free some space"):
            put(fresh_bank, "/a", "v2")
    source = fresh_bank.source("/a")
    assert source is not None and source.content_hash == "/a|v1"
    check_bank(fresh_bank)
    assert_no_orphan_rows(bank_dir)
    put(fresh_bank, "/a", "v3")
    check_bank(fresh_bank)
    fresh_bank.close()
    with MemoryBank.open(bank_dir, identity) as bank:
        assert check_bank(bank) == len(documents_for("/a|v3")) + len(documents_for("/b|v1"))


def test_other_write_errors_name_the_path(fresh_bank: MemoryBank, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(fd: int, data: bytes | memoryview, offset: int) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(tensor_store, "_pwrite_all", broken)
    with pytest.raises(StorageUnavailable) as raised:
        put(fresh_bank, "/a")
    assert not isinstance(raised.value, StorageFull) and "tensors" in str(raised.value)
    assert fresh_bank.sources() == []


def test_interrupted_compaction_leaves_the_bank_as_it_was(
    bank_dir: Path, identity: BankIdentity, monkeypatch: pytest.MonkeyPatch
) -> None:
    with MemoryBank.open(bank_dir, identity, auto_compact_min_rows=10**9) as bank:
        for version in range(4):
            put(bank, "/a", f"v{version}")
        put(bank, "/b")
        with monkeypatch.context() as patch:
            patch.setattr(
                MemoryIndex, "move_rows", lambda *args: (_ for _ in ()).throw(RuntimeError("crash"))
            )
            with pytest.raises(RuntimeError):
                bank.compact()
        assert [folder.name for folder in (bank_dir / "tensors").iterdir()] == ["g0"]
        check_bank(bank)
        # Crash after the commit but before the old folder went: the next open deletes it.
        with monkeypatch.context() as patch:
            patch.setattr(tensor_store.TensorStore, "remove_other_generations", lambda self: None)
            bank.compact()
        assert sorted(folder.name for folder in (bank_dir / "tensors").iterdir()) == ["g0", "g1"]
    (bank_dir / "tensors" / "g7").mkdir()  # a compaction that never committed
    (bank_dir / "tensors" / "g7" / "layer01.router_keys.f16").write_bytes(b"junk")
    with MemoryBank.open(bank_dir, identity) as bank:
        assert [folder.name for folder in (bank_dir / "tensors").iterdir()] == ["g1"]
        check_bank(bank)
        assert_no_orphan_rows(bank_dir)


def test_lost_rows_are_reported_as_corrupt(bank_dir: Path, identity: BankIdentity) -> None:
    with MemoryBank.open(bank_dir, identity) as bank:
        put(bank, "/a")
    victim = next((bank_dir / "tensors").rglob("layer03.pooled_values.f16"))
    victim.write_bytes(victim.read_bytes()[:-24])
    with pytest.raises(CorruptBank):
        MemoryBank.open(bank_dir, identity)


def test_second_writer_is_locked_out(bank_dir: Path, identity: BankIdentity) -> None:
    with MemoryBank.open(bank_dir, identity) as bank:
        put(bank, "/a")
        for read_only in (False, True):
            with pytest.raises(StorageUnavailable, match="memory is in use by another memsa process"):
                MemoryBank.open(bank_dir, identity, read_only=read_only)
    first = MemoryBank.open(bank_dir, identity, read_only=True)
    second = MemoryBank.open(bank_dir, identity, read_only=True)
    try:
        check_bank(second)
        with pytest.raises(InvalidInput, match="read-only"):
            put(first, "/b")
        with pytest.raises(StorageUnavailable, match="in use"):
            MemoryBank.open(bank_dir, identity)
    finally:
        first.close()
        second.close()
    MemoryBank.open(bank_dir, identity).close()


def test_read_only_open_of_a_missing_bank(tmp_path: Path, identity: BankIdentity) -> None:
    with pytest.raises(StorageUnavailable):
        MemoryBank.open(tmp_path / "nothing", identity, read_only=True)
