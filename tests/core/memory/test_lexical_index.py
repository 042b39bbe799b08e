"""The bank's exact-words index (FTS5 over documents' text) stays in step with the documents: through every
write, a migration of a bank made before it, and a writer killed mid-write."""

from __future__ import annotations

import dataclasses
import random
from pathlib import Path

import apsw
import pytest

from memsa.core.lexical import match_expression
from memsa.core.memory import index as index_module
from memsa.core.memory.bank import INDEX_FILE, MemoryBank
from memsa.core.memory.index import MemoryIndex
from memsa.core.memory.records import BankIdentity, NewDocument
from memsa.core.memory.schema import MIGRATIONS
from tests.core.memory.bank_fixtures import documents_for, source_info
from tests.core.memory.test_bank_crash import run_writer_until_killed


def found(bank: MemoryBank, text: str) -> list[int]:
    """Documents holding every word of ``text`` as one phrase."""
    return [doc_id for doc_id, _, _ in bank.lexical_matches('"' + text.replace('"', '""') + '"', 100)]


def assert_index_matches_documents(bank_dir: Path) -> None:
    """FTS5's own check of the index against the documents' text (raises if they differ)."""
    index = MemoryIndex.open(bank_dir / INDEX_FILE)
    try:
        index.connection.execute("INSERT INTO documents_fts (documents_fts, rank) VALUES ('integrity-check', 1)")
    finally:
        index.close()


def test_writes_keep_the_index_in_step(fresh_bank: MemoryBank, bank_dir: Path) -> None:
    first = fresh_bank.put_source(source_info("/n/a.txt", "alpha-17"), documents_for("alpha-17"))
    fresh_bank.put_source(source_info("/n/b.txt", "beta-4"), documents_for("beta-4"))
    assert found(fresh_bank, "alpha 17 part 0") == first[:1]
    replaced = fresh_bank.put_source(source_info("/n/a.txt", "gamma-9"), documents_for("gamma-9"))
    assert found(fresh_bank, "alpha 17") == [] and found(fresh_bank, "gamma 9 part 0") == replaced[:1]
    fresh_bank.rename_source("/n/a.txt", "/n/c.txt")
    assert found(fresh_bank, "gamma 9 part 0") == replaced[:1]  # text unchanged, ids unchanged
    fresh_bank.delete_sources_under("/n")
    assert found(fresh_bank, "gamma 9") == [] and found(fresh_bank, "beta 4") == []
    assert_index_matches_documents(bank_dir)


def test_unencoded_documents_are_left_to_a_later_encoding(fresh_bank: MemoryBank) -> None:
    fresh_bank.put_source(source_info("/n/a.txt", "delta-2"), documents_for("delta-2", encoded=False))
    assert found(fresh_bank, "delta 2") == []  # routing cannot see them either


def test_a_failed_write_leaves_no_trace_in_the_index(fresh_bank: MemoryBank, bank_dir: Path) -> None:
    def fail(_: list[int]) -> None:
        raise RuntimeError("the ledger write failed")

    with pytest.raises(RuntimeError):
        fresh_bank.put_source(source_info("/n/a.txt", "omega-5"), documents_for("omega-5"), within=fail)
    assert found(fresh_bank, "omega 5") == []
    assert_index_matches_documents(bank_dir)


def test_migration_indexes_a_bank_made_before_it(
    bank_dir: Path, identity: BankIdentity, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = tuple(migration for migration in MIGRATIONS if migration[0] < "0005")
    monkeypatch.setattr(index_module, "MIGRATIONS", before)
    with MemoryBank.open(bank_dir, identity) as bank:
        old = bank.put_source(source_info("/n/old.txt", "kappa-3"), documents_for("kappa-3"))
        with pytest.raises(apsw.SQLError):
            bank.lexical_matches('"kappa"', 5)
    monkeypatch.undo()
    with MemoryBank.open(bank_dir, identity) as bank:
        assert found(bank, "kappa 3 part 0") == old[:1]
        assert sorted(found(bank, "kappa 3")) == sorted(old)
        new = bank.put_source(source_info("/n/new.txt", "kappa-4"), documents_for("kappa-4"))
        assert sorted(found(bank, "kappa")) == sorted(old + new)
    assert_index_matches_documents(bank_dir)
    connection = apsw.Connection(str(bank_dir / INDEX_FILE))
    applied = [name for (name,) in connection.execute("SELECT name FROM migrations ORDER BY name")]
    connection.close()
    assert applied[-2:] == ["0005_documents_fts", "0006_documents_fts_stemmed"]


def stated(content_hash: str, text: str) -> list[NewDocument]:
    """One encoded document holding ``text``."""
    [document] = documents_for(content_hash)[:1]
    return [dataclasses.replace(document, text=text, end=document.start + len(text))]


def test_english_word_forms_match(fresh_bank: MemoryBank) -> None:
    conquest = fresh_bank.put_source(source_info("/n/a.txt", "h1"), stated("h1", "The Normans conquered England."))
    invasions = fresh_bank.put_source(source_info("/n/b.txt", "h2"), stated("h2", "Invasions of Britain by sea."))
    assert found(fresh_bank, "conquer") == conquest and found(fresh_bank, "invasion") == invasions
    assert found(fresh_bank, "Who conquers") == []  # a phrase still needs every word
    expression = match_expression("Which invasion conquered England?")
    assert expression is not None
    assert [doc for doc, _, _ in fresh_bank.lexical_matches(expression, 5)] == conquest + invasions


def test_migration_stems_the_index_of_a_bank_made_before_it(
    bank_dir: Path, identity: BankIdentity, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = tuple(migration for migration in MIGRATIONS if migration[0] != "0006_documents_fts_stemmed")
    monkeypatch.setattr(index_module, "MIGRATIONS", before)
    with MemoryBank.open(bank_dir, identity) as bank:
        old = bank.put_source(source_info("/n/old.txt", "h3"), stated("h3", "She was running the marathons."))
        assert found(bank, "marathon") == []  # whole words only before stemming
    monkeypatch.undo()
    with MemoryBank.open(bank_dir, identity) as bank:
        assert found(bank, "marathon") == old and found(bank, "runs") == old
        new = bank.put_source(source_info("/n/new.txt", "h4"), stated("h4", "Two more marathon runners."))
        assert sorted(found(bank, "marathons")) == sorted(old + new)
    assert_index_matches_documents(bank_dir)


def test_index_check_catches_a_document_written_behind_its_back(fresh_bank: MemoryBank, bank_dir: Path) -> None:
    """The consistency check the other tests rely on can fail."""
    fresh_bank.put_source(source_info("/n/a.txt", "sigma-1"), documents_for("sigma-1"))
    fresh_bank.close()
    index = MemoryIndex.open(bank_dir / INDEX_FILE)
    index.connection.execute("DROP TRIGGER documents_fts_delete")
    index.connection.execute("DELETE FROM documents")
    index.close()
    with pytest.raises(apsw.CorruptError):
        assert_index_matches_documents(bank_dir)


def test_killed_writer_leaves_the_index_in_step(tmp_path: Path, identity: BankIdentity) -> None:
    bank_dir = tmp_path / "memory"
    rng = random.Random(5)
    progress = 0
    for round_number in range(3):
        progress += run_writer_until_killed(bank_dir, seed=round_number, delay=rng.uniform(0.05, 0.6))
        assert_index_matches_documents(bank_dir)
    assert progress > 0, "the writer never got going; the test proved nothing"
    with MemoryBank.open(bank_dir, identity) as bank:
        for source in bank.sources():
            doc_ids = bank.document_ids(source.path)
            for record in bank.documents(doc_ids):
                expression = match_expression(record.text)
                assert expression is not None
                assert record.doc_id in [doc_id for doc_id, _, _ in bank.lexical_matches(expression, 1000)]


def test_coverage_is_the_share_of_the_query_words_a_document_holds(fresh_bank: MemoryBank) -> None:
    both = fresh_bank.put_source(source_info("/n/a.txt", "h1"), stated("h1", "The harbour ferry leaves at noon."))
    one = fresh_bank.put_source(source_info("/n/b.txt", "h2"), stated("h2", "Ferry, ferry, ferry, said the sign."))
    covered = {doc: coverage for doc, _, coverage in fresh_bank.lexical_matches('"harbour" OR "ferries"', 5)}
    assert covered == {both[0]: 1.0, one[0]: 0.5}
