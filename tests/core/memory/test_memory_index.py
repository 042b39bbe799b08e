"""MemoryIndex: migrations, dead-row accounting and folder-prefix bounds."""

from __future__ import annotations

from pathlib import Path

import pytest

from memsa.core.errors import CorruptBank
from memsa.core.memory.index import MIGRATIONS, MemoryIndex
from memsa.core.memory.records import RowRange
from memsa.core.memory.rows import prefix_bounds as _prefix_bounds
from tests.core.memory.bank_fixtures import documents_for, make_identity, source_info


@pytest.fixture
def fresh_index(tmp_path: Path) -> MemoryIndex:
    return MemoryIndex.open(tmp_path / "index.sqlite3")


def test_migrations_are_recorded_and_applied_once(tmp_path: Path) -> None:
    path = tmp_path / "index.sqlite3"
    MemoryIndex.open(path).close()
    index = MemoryIndex.open(path)  # a second run must not fail on CREATE TABLE
    names = [name for (name,) in index._conn.execute("SELECT name FROM migrations ORDER BY name")]
    assert names == [name for name, _ in MIGRATIONS]
    assert index._conn.pragma("journal_mode") == "wal" and index._conn.pragma("foreign_keys") == 1
    index.close()


def test_identity_round_trip(fresh_index: MemoryIndex) -> None:
    assert fresh_index.identity() is None
    fresh_index.set_identity(make_identity())
    assert fresh_index.identity() == make_identity()
    with fresh_index.transaction():
        fresh_index._conn.execute("UPDATE bank_identity SET identity_json = '{\"model_name\": 1}'")
    with pytest.raises(CorruptBank):
        fresh_index.identity()


def test_live_rows_follow_inserts_updates_and_cascading_deletes(fresh_index: MemoryIndex) -> None:
    source_id = fresh_index.upsert_source(source_info("/a", "h"))
    first, second = documents_for("h")[:1] * 2
    fresh_index.insert_document(source_id, first, RowRange(0, 5), RowRange(0, 3))
    doc_id = fresh_index.insert_document(source_id, second, RowRange(5, 2), RowRange(3, 1))
    fresh_index.set_row_space("router", committed_rows=7)
    spaces = fresh_index.row_spaces()
    assert (spaces["router"].live_rows, spaces["kv"].live_rows, spaces["router"].dead_rows) == (7, 4, 0)
    assert first.encoding is not None
    fresh_index.set_encoding(doc_id, 9, RowRange(7, 6), RowRange(4, 2), first.encoding.router_chunk_spans)
    assert fresh_index.row_spaces()["router"].live_rows == 11
    assert fresh_index.delete_source("/a") == [1, 2]
    spaces = fresh_index.row_spaces()
    assert (spaces["router"].live_rows, spaces["kv"].live_rows, spaces["router"].dead_rows) == (0, 0, 7)
    assert fresh_index.sources() == []


def test_upsert_keeps_the_source_id(fresh_index: MemoryIndex) -> None:
    first = fresh_index.upsert_source(source_info("/a", "h1"))
    assert fresh_index.upsert_source(source_info("/a", "h2")) == first
    source = fresh_index.source("/a")
    assert source is not None and source.content_hash == "h2"


@pytest.mark.parametrize(
    ("folder", "inside", "outside"),
    [
        ("/a/b", ["/a/b/x", "/a/b/c/d", "/a/b/"], ["/a/b", "/a/bc", "/a/b.txt", "/a/b0", "/a"]),
        ("/a/b/", ["/a/b/x"], ["/a/bc/x"]),
        ("/", ["/x", "/x/y"], []),
    ],
)
def test_prefix_bounds(folder: str, inside: list[str], outside: list[str]) -> None:
    low, high = _prefix_bounds(folder, "/")
    for path in inside:
        assert low.encode() <= path.encode() < high.encode(), path
    for path in outside:
        assert not low.encode() <= path.encode() < high.encode(), path
