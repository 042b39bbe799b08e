"""What every evaluation set is made of: memory documents and questions with their gold documents."""

from __future__ import annotations

import gzip
import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from memsa.core.errors import InvalidInput


@dataclass(frozen=True)
class Document:
    """One memory document, as every system sees it.

    Attributes:
        doc_id: its position in ``Benchmark.documents``.
        title: a human-readable name (a manual page and passage number, a SQuAD article, a chat turn id).
        text: the text every system indexes.
    """

    doc_id: int
    title: str
    text: str


@dataclass(frozen=True)
class Query:
    """A question and what a good memory returns for it.

    Attributes:
        qid: stable id within the benchmark.
        family: the kind of question ("exact", "lookalike", "reworded", "updated", "multihop", "absent",
            "squad", "locomo-<category>").
        question: what is asked.
        answers: acceptable answers (any one is right); empty for absent facts.
        gold: documents that hold the answer (all are needed for a multi-hop chain); empty when memory
            holds no answer and the right behaviour is to abstain.
        stale: documents holding an outdated value of the fact (ranked below the gold one is right).
    """

    qid: str
    family: str
    question: str
    answers: tuple[str, ...]
    gold: tuple[int, ...]
    stale: tuple[int, ...] = ()

    @property
    def absent(self) -> bool:
        return not self.gold


@dataclass(frozen=True)
class Benchmark:
    """Documents plus questions, and the recipe that rebuilds them.

    Attributes:
        name: e.g. "haystack-65536", "squad-dev", "locomo-turns".
        documents: memory, doc_id == index.
        queries: the questions.
        recipe: how it was built (parameters, sources, seeds), recorded in the report.
        size_tokens: memory size in the model's tokens (0 until counted).
    """

    name: str
    documents: list[Document]
    queries: list[Query]
    recipe: dict[str, Any] = field(default_factory=dict)
    size_tokens: int = 0

    def fingerprint(self) -> str:
        """sha256 over the documents and questions: equal fingerprints mean identical evaluation input."""
        digest = hashlib.sha256()
        for document in self.documents:
            digest.update(document.text.encode())
            digest.update(b"\x00")
        for query in self.queries:
            digest.update(json.dumps([query.question, query.gold, query.answers]).encode())
        return digest.hexdigest()


@dataclass(frozen=True)
class SystemRun:
    """One system's answers to a benchmark's queries.

    Attributes:
        system: its name ("memsa", "memsa layer 6", "bm25", "minilm", "bm25+minilm rrf").
        rankings: qid -> the top-k document ids, best first.
        abstained: qid -> whether the system judged memory to hold no answer (None: it cannot tell).
        index_seconds: time spent encoding or indexing the documents (for memsa: as recorded when the
            cached encodings were made).
        index_tokens: memory tokens indexed.
        query_ms: mean milliseconds per question (encoding the question and ranking).
    """

    system: str
    rankings: dict[str, list[int]]
    abstained: dict[str, bool] | None = None
    index_seconds: float = 0.0
    index_tokens: int = 0
    query_ms: float = 0.0


def save_benchmark(benchmark: Benchmark, path: Path) -> None:
    """Write ``benchmark`` as gzip JSON, so the identical set can be evaluated on another machine."""
    payload = {
        "name": benchmark.name, "recipe": benchmark.recipe, "size_tokens": benchmark.size_tokens,
        "documents": [[doc.title, doc.text] for doc in benchmark.documents],
        "queries": [asdict(query) for query in benchmark.queries],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(json.dumps(payload, ensure_ascii=False).encode("utf-8")))


def load_benchmark(path: Path) -> Benchmark:
    """Read a benchmark written by :func:`save_benchmark`.

    Raises:
        InvalidInput: the file is not one.
    """
    try:
        payload = json.loads(gzip.decompress(path.read_bytes()))
        documents = [Document(index, title, text) for index, (title, text) in enumerate(payload["documents"])]
        queries = [Query(**{**raw, "answers": tuple(raw["answers"]), "gold": tuple(raw["gold"]),
                            "stale": tuple(raw["stale"])}) for raw in payload["queries"]]
        return Benchmark(payload["name"], documents, queries, payload["recipe"], payload["size_tokens"])
    except (OSError, EOFError, gzip.BadGzipFile, json.JSONDecodeError, KeyError, TypeError, ValueError) as error:
        raise InvalidInput(f"{path} is not a benchmark saved by memsa eval: {error}") from error
