"""The memory bank's SQLite index: sources, documents, their tensor row ranges, row-space state (all SQL)."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import apsw
import apsw.bestpractice
import numpy as np
import numpy.typing as npt

from ..errors import CorruptBank, StorageUnavailable
from .records import (
    BankIdentity,
    DocumentRecord,
    NewDocument,
    RowRange,
    SourceInfo,
    SourceRecord,
)
from .rows import (
    document_record,
    prefix_bounds,
    range_values,
    row_range,
    single_row,
    spans_to_blob,
    storage_errors,
)
from .schema import MIGRATIONS

log = logging.getLogger(__name__)

ROUTER_SPACE = "router"
KV_SPACE = "kv"
ROW_SPACES = (ROUTER_SPACE, KV_SPACE)

# Column names per row space; fixed strings, so formatting them into SQL is safe.
_ROW_COLUMNS = {
    ROUTER_SPACE: ("router_row_start", "router_row_count"),
    KV_SPACE: ("kv_row_start", "kv_row_count"),
}

_DOCUMENT_COLUMNS = """
    d.id, d.source_id, s.path, d.start, d."end", d.title, d.text, d.n_tokens,
    d.router_row_start, d.router_row_count, d.kv_row_start, d.kv_row_count, d.router_chunk_spans,
    d.anchors_json
"""


@dataclass(frozen=True)
class RowSpace:
    """State of one row space: which generation of files holds it, rows made live so far, rows still used."""

    name: str
    generation: int
    committed_rows: int
    live_rows: int

    @property
    def dead_rows(self) -> int:
        return self.committed_rows - self.live_rows


@dataclass(frozen=True)
class RowPlacements:
    """Where the encoded documents sit in one row space, ordered by row start.

    Attributes:
        doc_ids: [N] int64. starts: [N] int64. counts: [N] int64.
    """

    doc_ids: npt.NDArray[np.int64]
    starts: npt.NDArray[np.int64]
    counts: npt.NDArray[np.int64]


def _coverage(api: apsw.FTS5ExtensionApi, *_: apsw.SQLiteValue) -> float:
    """FTS5 auxiliary function ``coverage(documents_fts)``: the share of the query's phrases found in the
    current row."""
    phrases = api.phrase_count
    return sum(1 for phrase in range(phrases) if api.phrase_columns(phrase)) / phrases if phrases else 0.0


class MemoryIndex:
    """The bank's SQLite database. Every write runs in a transaction; ``transaction()`` groups several."""

    def __init__(self, path: Path, connection: apsw.Connection) -> None:
        self.path = path
        self._conn = connection

    @classmethod
    def open(cls, path: Path, *, read_only: bool = False) -> MemoryIndex:
        """Open (and, unless ``read_only``, create and migrate) the index at ``path``.

        Raises:
            StorageUnavailable: the file cannot be opened, or does not exist for a read-only open.
        """
        if read_only and not path.exists():
            raise StorageUnavailable(f"There is no memory at {path.parent}; add some folders first.")
        flags = (
            apsw.SQLITE_OPEN_READONLY if read_only else apsw.SQLITE_OPEN_READWRITE | apsw.SQLITE_OPEN_CREATE
        )
        with storage_errors(path):
            connection = apsw.Connection(str(path), flags=flags)
            # The connection hooks of apsw.bestpractice (WAL, foreign keys, busy timeout, no DQS, ...),
            # applied to this connection only instead of globally through apsw.bestpractice.apply.
            for hook in apsw.bestpractice.recommended:
                if hook.__name__.startswith("connection_"):
                    hook(connection)
            # Tensor rows are fsynced before the commit that makes them live; the commit must be as durable.
            connection.pragma("synchronous", "FULL")
            connection.register_fts5_function("coverage", _coverage)
            index = cls(path, connection)
            if not read_only:
                index._migrate()
                os.chmod(path, 0o600)
        return index

    def close(self) -> None:
        self._conn.close()

    @property
    def connection(self) -> apsw.Connection:
        """The connection, for the other module that owns tables here (the ingestion ledger)."""
        return self._conn

    def _migrate(self) -> None:
        with self._conn:
            self._conn.execute(
                "CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied_at TEXT)"
            )
        applied = {name for (name,) in self._conn.execute("SELECT name FROM migrations")}
        for name, sql in MIGRATIONS:
            if name in applied:
                continue
            with self._conn:
                self._conn.execute(sql)
                self._conn.execute("INSERT INTO migrations VALUES (?, datetime('now'))", (name,))
            log.info("memory index %s: applied migration %s", self.path, name)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One atomic unit of writes (nested uses become savepoints)."""
        with storage_errors(self.path), self._conn:
            yield

    def identity(self) -> BankIdentity | None:
        row = self._conn.execute("SELECT identity_json FROM bank_identity WHERE id = 1").fetchone()
        if row is None:
            return None
        try:
            data = json.loads(row[0])
            data["router_layers"] = tuple(data["router_layers"])
            return BankIdentity(**data)
        except (ValueError, KeyError, TypeError) as error:
            raise CorruptBank(f"The memory index {self.path} holds an unreadable bank identity.") from error

    def set_identity(self, identity: BankIdentity) -> None:
        with self.transaction():
            self._conn.execute(
                "INSERT INTO bank_identity VALUES (1, ?) "
                "ON CONFLICT(id) DO UPDATE SET identity_json = excluded.identity_json",
                (json.dumps(asdict(identity)),),
            )

    def row_spaces(self) -> dict[str, RowSpace]:
        rows = self._conn.execute("SELECT name, generation, committed_rows, live_rows FROM row_spaces")
        return {
            name: RowSpace(name, generation, committed, live) for name, generation, committed, live in rows
        }

    def set_row_space(self, name: str, *, committed_rows: int, generation: int | None = None) -> None:
        with self.transaction():
            self._conn.execute(
                "UPDATE row_spaces SET committed_rows = ?, generation = COALESCE(?, generation) "
                "WHERE name = ?",
                (committed_rows, generation, name),
            )

    def source(self, path: str) -> SourceRecord | None:
        rows = self._select_sources("WHERE s.path = ?", (path,))
        return rows[0] if rows else None

    def sources(self) -> list[SourceRecord]:
        return self._select_sources("", ())

    def parts_of(self, path: str) -> list[SourceRecord]:
        """The readable parts stored for file ``path``."""
        return self._select_sources("WHERE s.parent_path = ?", (path,))

    def sources_under(self, folder: str, separators: Sequence[str]) -> list[SourceRecord]:
        """Sources at ``folder`` itself or inside it, parts included."""
        found = self._select_sources("WHERE s.path = ?", (folder,))
        for separator in separators:
            low, high = prefix_bounds(folder, separator)
            found += self._select_sources("WHERE s.path >= ? AND s.path < ?", (low, high))
        return sorted(found, key=lambda source: source.path)

    def _select_sources(self, where: str, bindings: tuple[str, ...]) -> list[SourceRecord]:
        sql = f"""SELECT s.id, s.path, s.content_hash, s.mtime_ns, s.size,
                         (SELECT COUNT(*) FROM documents d WHERE d.source_id = s.id),
                         COALESCE(s.parent_path, '')
                  FROM sources s {where} ORDER BY s.path"""
        return [SourceRecord(*row) for row in self._conn.execute(sql, bindings)]

    def upsert_source(self, source: SourceInfo) -> int:
        """Insert or update the source row of ``source.path``; returns its id."""
        with self.transaction():
            cursor = self._conn.execute(
                """INSERT INTO sources (path, content_hash, mtime_ns, size, parent_path)
                   VALUES (?, ?, ?, ?, NULLIF(?, ''))
                   ON CONFLICT(path) DO UPDATE SET content_hash = excluded.content_hash,
                       mtime_ns = excluded.mtime_ns, size = excluded.size, parent_path = excluded.parent_path
                   RETURNING id""",
                (source.path, source.content_hash, source.mtime_ns, source.size, source.parent),
            )
            return int(single_row(cursor)[0])

    def update_source_stat(self, path: str, mtime_ns: int, size: int) -> bool:
        with self.transaction():
            self._conn.execute(
                "UPDATE sources SET mtime_ns = ?, size = ? WHERE path = ?", (mtime_ns, size, path)
            )
            return self._conn.changes() > 0

    def rename_source(self, old_path: str, new_path: str) -> bool:
        """Move source ``old_path`` and its parts (``old_path#part`` -> ``new_path#part``)."""
        with self.transaction():
            self._conn.execute("UPDATE sources SET path = ? WHERE path = ?", (new_path, old_path))
            renamed = self._conn.changes() > 0
            self._conn.execute(
                "UPDATE sources SET path = ? || substr(path, ?), parent_path = ? WHERE parent_path = ?",
                (new_path, len(old_path) + 1, new_path, old_path),
            )
            return renamed

    def rename_tree(self, old_folder: str, new_folder: str, separators: Sequence[str]) -> int:
        """Move every source inside ``old_folder`` to the same place inside ``new_folder``; returns how many."""
        moved = 0
        with self.transaction():
            for separator in separators:
                low, high = prefix_bounds(old_folder, separator)
                new_low, _ = prefix_bounds(new_folder, separator)
                self._conn.execute(
                    """UPDATE sources SET path = ? || substr(path, ?),
                           parent_path = CASE WHEN parent_path IS NULL THEN NULL
                                              ELSE ? || substr(parent_path, ?) END
                       WHERE path >= ? AND path < ?""",
                    (new_low, len(low) + 1, new_low, len(low) + 1, low, high),
                )
                moved += self._conn.changes()
        return moved

    def delete_documents_of(self, path: str) -> list[int]:
        """Delete the documents of source ``path`` (keeping the source row); returns their ids."""
        with self.transaction():
            rows = self._conn.execute(
                "DELETE FROM documents WHERE source_id = (SELECT id FROM sources WHERE path = ?) "
                "RETURNING id",
                (path,),
            )
            return [doc_id for (doc_id,) in rows]

    def delete_source(self, path: str) -> list[int]:
        """Delete source ``path``, its parts and their documents; returns the deleted document ids."""
        with self.transaction():
            doc_ids = self.delete_documents_of(path)
            parts = "SELECT id FROM sources WHERE parent_path = ?"
            rows = self._conn.execute(f"DELETE FROM documents WHERE source_id IN ({parts}) RETURNING id", (path,))
            doc_ids.extend(doc_id for (doc_id,) in rows)
            self._conn.execute("DELETE FROM sources WHERE path = ? OR parent_path = ?", (path, path))
        return doc_ids

    def delete_sources_under(self, folder: str, separators: Sequence[str]) -> list[int]:
        """Delete every source whose path lies under ``folder`` (``/a/b`` never matches ``/a/bc``)."""
        doc_ids: list[int] = []
        with self.transaction():
            for separator in separators:
                low, high = prefix_bounds(folder, separator)
                inside = "SELECT id FROM sources WHERE path >= ? AND path < ?"
                rows = self._conn.execute(
                    f"DELETE FROM documents WHERE source_id IN ({inside}) RETURNING id", (low, high)
                )
                doc_ids.extend(doc_id for (doc_id,) in rows)
                self._conn.execute("DELETE FROM sources WHERE path >= ? AND path < ?", (low, high))
        return doc_ids

    def insert_document(
        self,
        source_id: int,
        document: NewDocument,
        router_rows: RowRange | None,
        kv_rows: RowRange | None,
    ) -> int:
        """Insert one document, encoded (both row ranges given) or not (both None); returns its id."""
        encoding = document.encoding
        spans = None if encoding is None else spans_to_blob(encoding.router_chunk_spans)
        with self.transaction():
            cursor = self._conn.execute(
                """INSERT INTO documents (id, source_id, start, "end", title, text, n_tokens, router_row_start,
                       router_row_count, kv_row_start, kv_row_count, router_chunk_spans, anchors_json)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id""",
                (
                    document.doc_id,  # NULL: the next id of the AUTOINCREMENT sequence
                    source_id,
                    document.start,
                    document.end,
                    document.title,
                    document.text,
                    0 if encoding is None else encoding.n_tokens,
                    *range_values(router_rows),
                    *range_values(kv_rows),
                    spans,
                    json.dumps([list(anchor) for anchor in document.anchors], ensure_ascii=False),
                ),
            )
            return int(single_row(cursor)[0])

    def reserve_document_ids(self, count: int) -> list[int]:
        """Take the next ``count`` ids of the documents' AUTOINCREMENT sequence without inserting anything.

        The sequence moves past them, so no later insert is given one of them; a document inserted with
        one (``NewDocument.doc_id``) keeps it, and an id never used is simply skipped.
        """
        with self.transaction():
            last = int(
                single_row(
                    self._conn.execute(
                        """SELECT MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'documents'), 0),
                                      COALESCE((SELECT MAX(id) FROM documents), 0))"""
                    )
                )[0]
            )
            self._conn.execute("DELETE FROM sqlite_sequence WHERE name = 'documents'")
            self._conn.execute("INSERT INTO sqlite_sequence (name, seq) VALUES ('documents', ?)", (last + count,))
        return list(range(last + 1, last + count + 1))

    def set_encoding(
        self, doc_id: int, n_tokens: int, router_rows: RowRange, kv_rows: RowRange, spans: np.ndarray
    ) -> None:
        with self.transaction():
            self._conn.execute(
                """UPDATE documents SET n_tokens = ?, router_row_start = ?, router_row_count = ?,
                       kv_row_start = ?, kv_row_count = ?, router_chunk_spans = ? WHERE id = ?""",
                (
                    n_tokens,
                    *range_values(router_rows),
                    *range_values(kv_rows),
                    spans_to_blob(spans),
                    doc_id,
                ),
            )

    def clear_encodings(self) -> None:
        """Mark every document unencoded (its tensors belong to another model)."""
        with self.transaction():
            self._conn.execute(
                """UPDATE documents SET n_tokens = 0, router_row_start = NULL, router_row_count = NULL,
                       kv_row_start = NULL, kv_row_count = NULL, router_chunk_spans = NULL"""
            )

    def move_rows(self, space: str, doc_ids: Sequence[int], new_starts: Sequence[int]) -> None:
        start_column, _ = _ROW_COLUMNS[space]
        with self.transaction():
            self._conn.executemany(
                f"UPDATE documents SET {start_column} = ? WHERE id = ?", zip(new_starts, doc_ids, strict=True)
            )

    def placements(self, space: str) -> RowPlacements:
        start_column, count_column = _ROW_COLUMNS[space]
        rows = self._conn.execute(
            f"SELECT id, {start_column}, {count_column} FROM documents "
            f"WHERE {start_column} IS NOT NULL ORDER BY {start_column}"
        ).fetchall()
        table = np.array(rows, dtype=np.int64).reshape(-1, 3)
        return RowPlacements(table[:, 0].copy(), table[:, 1].copy(), table[:, 2].copy())

    def documents(self, doc_ids: Sequence[int]) -> list[DocumentRecord]:
        """Documents in the order asked; unknown ids are skipped."""
        rows = self._conn.execute(
            f"""SELECT {_DOCUMENT_COLUMNS} FROM documents d JOIN sources s ON s.id = d.source_id
                WHERE d.id IN (SELECT value FROM json_each(?))""",
            (json.dumps([int(doc_id) for doc_id in doc_ids]),),
        )
        by_id = {row[0]: document_record(row) for row in rows}
        return [by_id[doc_id] for doc_id in doc_ids if doc_id in by_id]

    def row_ranges(self, doc_id: int) -> tuple[RowRange | None, RowRange | None] | None:
        """(router rows, kv rows) of one document, or None if there is no such document."""
        row = self._conn.execute(
            "SELECT router_row_start, router_row_count, kv_row_start, kv_row_count "
            "FROM documents WHERE id = ?",
            (doc_id,),
        ).fetchone()
        return None if row is None else (row_range(row[0], row[1]), row_range(row[2], row[3]))

    def document_ids(self, path: str) -> list[int]:
        rows = self._conn.execute(
            "SELECT d.id FROM documents d JOIN sources s ON s.id = d.source_id "
            "WHERE s.path = ? ORDER BY d.id",
            (path,),
        )
        return [doc_id for (doc_id,) in rows]

    def lexical_matches(
        self, expression: str, limit: int, *, encoded_only: bool = True
    ) -> list[tuple[int, float, float]]:
        """Documents matching an FTS5 ``expression``, by BM25 (k1 1.2, b 0.75), best first.

        ``expression`` must be built by ``memsa.core.lexical.match_expression`` (user text is never FTS5
        syntax). Routing sees only encoded documents, so by default only those are returned. Returns
        (doc_id, score, coverage): score = -bm25(), higher is better; coverage = the share of the
        expression's phrases (the question's words) that the document holds, 0..1.
        """
        rows = list(self._conn.execute(
            """SELECT f.rowid, -bm25(documents_fts) FROM documents_fts f JOIN documents d ON d.id = f.rowid
               WHERE documents_fts MATCH ? AND (d.router_row_start IS NOT NULL OR NOT ?)
               ORDER BY bm25(documents_fts) LIMIT ?""",
            (expression, encoded_only, limit),
        ))
        if not rows:
            return []
        # Coverage in a second pass over the few rows kept: the first pass sorts every matching row.
        found = ",".join(str(int(doc_id)) for doc_id, _ in rows)
        covered = dict(self._conn.execute(
            f"SELECT rowid, coverage(documents_fts) FROM documents_fts WHERE documents_fts MATCH ? "
            f"AND rowid IN ({found})", (expression,)))
        return [(int(doc_id), float(score), float(covered[doc_id])) for doc_id, score in rows]

    def unencoded_document_ids(self) -> list[int]:
        rows = self._conn.execute("SELECT id FROM documents WHERE router_row_start IS NULL ORDER BY id")
        return [doc_id for (doc_id,) in rows]

    def totals(self) -> tuple[int, int, int]:
        """(sources, documents, tokens)."""
        row = single_row(
            self._conn.execute(
                """SELECT (SELECT COUNT(*) FROM sources), (SELECT COUNT(*) FROM documents),
                          (SELECT COALESCE(SUM(n_tokens), 0) FROM documents)"""
            )
        )
        return int(row[0]), int(row[1]), int(row[2])
