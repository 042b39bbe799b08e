"""The ingestion ledger: queue entries leave with the write that answers them, outcomes, roots, migrations,
readable parts renamed and forgotten with their file, anchors kept per document."""

from __future__ import annotations

from pathlib import Path

import apsw
import pytest

from memsa.core.memory.bank import INDEX_FILE, MemoryBank
from memsa.core.memory.index import MemoryIndex
from memsa.core.memory.records import BankIdentity, FileOutcome, NewDocument, QueueEvent, Settlement, SourceInfo
from memsa.core.memory.schema import MIGRATIONS
from tests.core.memory.bank_fixtures import documents_for, source_info


def _queue(bank: MemoryBank, *paths: str, at: float = 1.0) -> list[int]:
    bank.ledger.record([QueueEvent(path, "modified", at) for path in paths])
    return [entry.entry_id for group in bank.ledger.due(quiet_before=at) for entry in group]


def test_an_entry_leaves_only_with_the_write_that_answers_it(fresh_bank: MemoryBank) -> None:
    (entry,) = _queue(fresh_bank, "/a.txt")
    outcome = FileOutcome("/a.txt", "added", documents=2, tokens=7, at=5.0)

    def failing_settle(doc_ids: list[int]) -> None:
        fresh_bank.ledger.settle(Settlement(done=(entry,), outcome=outcome, stat=(1, 2)))
        raise RuntimeError("killed mid-commit")

    with pytest.raises(RuntimeError):
        fresh_bank.put_source(source_info("/a.txt", "h1"), documents_for("h1"), within=failing_settle)
    assert fresh_bank.source("/a.txt") is None and fresh_bank.ledger.pending() == 1
    assert fresh_bank.ledger.outcome("/a.txt") is None

    fresh_bank.put_source(
        source_info("/a.txt", "h1"), documents_for("h1"),
        within=lambda ids: fresh_bank.ledger.settle(Settlement(done=(entry,), outcome=outcome, stat=(1, 2))),
    )
    assert fresh_bank.source("/a.txt") is not None and fresh_bank.ledger.pending() == 0
    assert fresh_bank.ledger.outcome("/a.txt") == (outcome, (1, 2))


def test_due_waits_for_a_quiet_path_and_groups_by_path(fresh_bank: MemoryBank) -> None:
    fresh_bank.ledger.record([QueueEvent("/a", "created", 1.0), QueueEvent("/b", "modified", 1.0),
                              QueueEvent("/a", "modified", 3.0), QueueEvent("/c", "moved", 0.0, destination="/d")])
    assert [[e.path for e in group] for group in fresh_bank.ledger.due(quiet_before=2.0)] == [["/b"], ["/c"]]
    groups = fresh_bank.ledger.due(quiet_before=3.0)
    assert [[e.kind for e in group] for group in groups] == [["created", "modified"], ["modified"], ["moved"]]
    assert groups[2][0].destination == "/d"
    assert fresh_bank.ledger.pending() == 3 and fresh_bank.ledger.next_due_at() == 0.0


def test_outcomes_counts_roots_and_moves(fresh_bank: MemoryBank) -> None:
    ledger = fresh_bank.ledger
    ledger.add_root("/root", ("*.tmp",), at=1.0)
    for path, status in [("/root/a", "added"), ("/root/sub/b", "failed"), ("/rooted/c", "added")]:
        ledger.settle(Settlement(outcome=FileOutcome(path, status, "why" if status == "failed" else "", at=2.0)))
    (root,) = ledger.roots()
    assert root.counts == {"added": 1, "failed": 1} and root.excludes == ("*.tmp",) and root.last_scan is None
    ledger.mark_scanned("/root", 9.0)
    assert ledger.roots()[0].last_scan == 9.0
    assert [o.path for o in ledger.outcomes(status="failed")] == ["/root/sub/b"]
    ledger.move_outcomes("/root/sub", "/root/moved")
    assert ledger.outcome("/root/moved/b") is not None and ledger.outcome("/root/sub/b") is None
    ledger.settle(Settlement(outcome=FileOutcome("/root", "removed")))
    assert ledger.counts() == {"added": 1} and ledger.remove_root("/root") and ledger.roots() == []


def test_parts_are_renamed_and_forgotten_with_their_file(fresh_bank: MemoryBank) -> None:
    fresh_bank.put_source(source_info("/m/a.eml", "h1"), documents_for("h1"))
    part = SourceInfo("/m/a.eml#msg-1/plan.txt", "h2", 1, 2, parent="/m/a.eml")
    fresh_bank.put_source(part, documents_for("h2"))
    fresh_bank.put_source(source_info("/m/a.eml#not-a-part.txt", "h3"), documents_for("h3"))
    assert [p.path for p in fresh_bank.parts_of("/m/a.eml")] == ["/m/a.eml#msg-1/plan.txt"]
    part_ids = fresh_bank.document_ids(part.path)
    fresh_bank.rename_tree("/m", "/n")
    assert fresh_bank.document_ids("/n/a.eml#msg-1/plan.txt") == part_ids
    assert [p.parent for p in fresh_bank.parts_of("/n/a.eml")] == ["/n/a.eml"]
    fresh_bank.rename_source("/n/a.eml", "/n/b.eml")
    assert [p.path for p in fresh_bank.parts_of("/n/b.eml")] == ["/n/b.eml#msg-1/plan.txt"]
    fresh_bank.delete_source("/n/b.eml")
    assert [s.path for s in fresh_bank.sources()] == ["/n/a.eml#not-a-part.txt"]


def test_anchors_round_trip(fresh_bank: MemoryBank) -> None:
    (document,) = documents_for("h1")[:1]
    anchored = NewDocument(document.text, document.start, document.end, document.title, document.encoding,
                           anchors=((0, 5, "page 1"), (5, 9, "msg 5f3a · Alice")))
    (doc_id,) = fresh_bank.put_source(source_info("/a.pdf", "h1"), [anchored])
    (record,) = fresh_bank.documents([doc_id])
    assert record.anchors == ((0, 5, "page 1"), (5, 9, "msg 5f3a · Alice"))


def test_a_bank_from_before_the_ledger_is_migrated(bank_dir: Path, identity: BankIdentity) -> None:
    bank_dir.mkdir(mode=0o700)
    connection = apsw.Connection(str(bank_dir / INDEX_FILE))
    connection.execute("CREATE TABLE migrations (name TEXT PRIMARY KEY, applied_at TEXT)")
    name, sql = MIGRATIONS[0]
    connection.execute(sql)
    connection.execute("INSERT INTO migrations VALUES (?, datetime('now'))", (name,))
    connection.execute("INSERT INTO sources (path, content_hash, mtime_ns, size) VALUES ('/old.txt', 'h', 1, 2)")
    connection.close()
    index = MemoryIndex.open(bank_dir / INDEX_FILE)
    try:
        applied = [row[0] for row in index.connection.execute("SELECT name FROM migrations ORDER BY name")]
        assert applied == [name for name, _ in MIGRATIONS]
        assert index.source("/old.txt") is not None and index.source("/old.txt").parent == ""  # type: ignore[union-attr]
    finally:
        index.close()
    with MemoryBank.open(bank_dir, identity) as bank:
        assert bank.ledger.counts() == {} and bank.ledger.pending() == 0
