"""Plain records that cross from the workers to the window: no Qt, no tensors, no SQL."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from memsa.core.answering import Citation

TurnStatus = Literal["streaming", "done", "stopped", "failed"]


@dataclass(frozen=True)
class CitationView:
    """One cited passage as the window shows it.

    Attributes:
        doc_id: the memory document.
        path: the source; a part inside a file is ``file#part``.
        start, end: the cited span in the source's extracted text.
        score: the routing score.
        snippet: the passage the model was shown.
        anchor: where inside the source (a chat message, a PDF page); empty when the source has none.
    """

    doc_id: int
    path: str
    start: int
    end: int
    score: float
    snippet: str
    anchor: str = ""

    @property
    def file_path(self) -> Path:
        """The file on disk (a ``file#part`` path names its containing file)."""
        return Path(self.path.split("#", 1)[0])

    @property
    def label(self) -> str:
        """A short name for a citation chip: the file (and part) name and the anchor."""
        name = Path(self.path.split("#", 1)[0]).name
        if "#" in self.path:
            name = f"{name} › {self.path.split('#', 1)[1]}"
        return f"{name} · {self.anchor}" if self.anchor else name

    @classmethod
    def of(cls, citation: Citation) -> CitationView:
        """From an engine ``Citation``."""
        return cls(
            doc_id=citation.doc_id, path=citation.path, start=citation.start, end=citation.end,
            score=citation.score, snippet=citation.snippet, anchor=citation.anchor,
        )


@dataclass
class Turn:
    """One question and its answer in a conversation."""

    question: str
    answer: str = ""
    citations: list[CitationView] = field(default_factory=list)
    steps: list[str] = field(default_factory=list)
    status: TurnStatus = "streaming"
    error: str = ""
    turn_id: int | None = None


@dataclass(frozen=True)
class ConversationSummary:
    """A conversation in the history list."""

    conversation_id: int
    title: str
    updated: float
    turns: int


@dataclass(frozen=True)
class IngestStatus:
    """The ingest queue at a glance.

    Attributes:
        done, total: files processed and files known in this run.
        tokens: tokens encoded so far.
        files_per_s, tokens_per_s: current rates.
        eta_s: seconds left (None when unknown).
        paused: whether the queue is paused.
        current: the latest file processed.
        error: a storage problem holding ingestion back (it retries by itself); empty when none.
    """

    done: int = 0
    total: int = 0
    tokens: int = 0
    files_per_s: float = 0.0
    tokens_per_s: float = 0.0
    eta_s: float | None = None
    paused: bool = False
    current: str = ""
    error: str = ""

    @property
    def busy(self) -> bool:
        return self.done < self.total


@dataclass(frozen=True)
class SourceRoot:
    """A watched folder or imported archive with its per-status file counts."""

    path: str
    excludes: tuple[str, ...] = ()
    counts: dict[str, int] = field(default_factory=dict)
    last_scan: float | None = None

    @property
    def files(self) -> int:
        return sum(count for status, count in self.counts.items() if status != "removed")

    @property
    def remembered(self) -> int:
        return sum(self.counts.get(status, 0) for status in ("added", "updated", "unchanged", "moved"))

    @property
    def failed(self) -> int:
        return self.counts.get("failed", 0)


@dataclass(frozen=True)
class FailedFile:
    """A file that could not be remembered and why."""

    path: str
    reason: str


@dataclass(frozen=True)
class Passage:
    """A cited passage in its context, for the citation panel.

    Attributes:
        citation: what was clicked.
        context: the text around the passage (the whole memory document).
        start, end: the cited span inside ``context``.
    """

    citation: CitationView
    context: str
    start: int
    end: int


@dataclass(frozen=True)
class EngineInfo:
    """What the running engine is: shown in the status bar and the settings."""

    model_name: str
    data_dir: str
    device: str
    answers_by: str
    documents: int
    sources: int
