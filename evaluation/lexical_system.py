"""The product's exact-words index over a benchmark's documents: a memory index (the bank's own SQLite
schema, migrations and FTS5 triggers) in a temporary folder, queried through ``memsa.core.lexical``."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from memsa.core.lexical import Matches
from memsa.core.memory.index import MemoryIndex
from memsa.core.memory.records import NewDocument, SourceInfo

from .benchmark import Document


@contextmanager
def exact_words_index(documents: Sequence[Document]) -> Iterator[Matches]:
    """Index ``documents`` as the bank does, and yield their ``MemoryBank.lexical_matches`` equivalent,
    speaking benchmark doc ids. The index is deleted on exit."""
    with tempfile.TemporaryDirectory(prefix="memsa-eval-fts-") as folder:
        index = MemoryIndex.open(Path(folder) / "index.sqlite3")
        try:
            to_benchmark: dict[int, int] = {}
            with index.transaction():
                source_id = index.upsert_source(SourceInfo("benchmark", "", 0, 0))
                for document in documents:
                    stored = NewDocument(document.text, 0, len(document.text), document.title, encoding=None)
                    to_benchmark[index.insert_document(source_id, stored, None, None)] = document.doc_id

            def matches(expression: str, limit: int) -> list[tuple[int, float, float]]:
                found = index.lexical_matches(expression, limit, encoded_only=False)
                return [(to_benchmark[doc_id], score, coverage) for doc_id, score, coverage in found]

            yield matches
        finally:
            index.close()
