"""Converting between the bank's records and SQLite rows, and SQLite errors into the engine's named errors."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import apsw
import numpy as np
import numpy.typing as npt

from ..errors import CorruptBank, StorageFull, StorageUnavailable
from .records import DocumentRecord, RowRange


@contextmanager
def storage_errors(path: Path) -> Iterator[None]:
    """Turn SQLite failures into the engine's named storage errors, naming ``path``."""
    try:
        yield
    except apsw.FullError as error:
        raise StorageFull(f"The disk holding {path} is full; free some space and try again.") from error
    except (apsw.CorruptError, apsw.NotADBError) as error:
        raise CorruptBank(f"The memory index {path} is damaged ({error}).") from error
    except (
        apsw.IOError,
        apsw.CantOpenError,
        apsw.ReadOnlyError,
        apsw.BusyError,
        apsw.PermissionsError,
    ) as error:
        raise StorageUnavailable(f"Cannot use the memory index {path}: {error}") from error


def spans_to_blob(spans: np.ndarray) -> bytes:
    """[C_r, 2] character spans -> int64 little-endian bytes."""
    return np.ascontiguousarray(spans, dtype="<i8").tobytes()


def spans_from_blob(blob: bytes | None) -> npt.NDArray[np.int64]:
    if blob is None:
        return np.zeros((0, 2), dtype=np.int64)
    return np.frombuffer(blob, dtype="<i8").astype(np.int64).reshape(-1, 2)


def row_range(start: int | None, count: int | None) -> RowRange | None:
    return None if start is None or count is None else RowRange(start, count)


def prefix_bounds(folder: str, separator: str) -> tuple[str, str]:
    """[low, high) such that low <= path < high exactly for paths under ``folder`` (UTF-8 byte order)."""
    low = folder.rstrip(separator) + separator
    return low, low[:-1] + chr(ord(separator) + 1)


def single_row(cursor: apsw.Cursor) -> tuple[Any, ...]:
    """The one row of a statement that returns exactly one, run to completion (a half-read
    RETURNING statement would keep the transaction from committing)."""
    rows = cursor.fetchall()
    if len(rows) != 1:  # our bug
        raise RuntimeError(f"SQLite returned {len(rows)} rows where one was expected")
    return tuple(rows[0])


def range_values(rows: RowRange | None) -> tuple[int | None, int | None]:
    return (None, None) if rows is None else (rows.start, rows.count)


def document_record(row: tuple) -> DocumentRecord:
    (
        doc_id,
        source_id,
        path,
        start,
        end,
        title,
        text,
        n_tokens,
        r_start,
        r_count,
        kv_start,
        kv_count,
        spans,
        anchors_json,
    ) = row
    return DocumentRecord(
        doc_id=doc_id,
        source_id=source_id,
        path=path,
        start=start,
        end=end,
        title=title,
        text=text,
        n_tokens=n_tokens,
        router_rows=row_range(r_start, r_count),
        kv_rows=row_range(kv_start, kv_count),
        router_chunk_spans=spans_from_blob(spans),
        anchors=tuple((int(start), int(end), str(anchor)) for start, end, anchor in json.loads(anchors_json)),
    )
