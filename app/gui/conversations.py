"""Conversation history: questions, answers and their citations, kept in a small SQLite file and searchable."""

from __future__ import annotations

import json
import re
import time
from dataclasses import asdict
from pathlib import Path

import apsw
import apsw.bestpractice

from .records import CitationView, ConversationSummary, Turn, TurnStatus

SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    id INTEGER PRIMARY KEY,
    title TEXT NOT NULL,
    created REAL NOT NULL,
    updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS turns (
    id INTEGER PRIMARY KEY,
    conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    question TEXT NOT NULL,
    answer TEXT NOT NULL,
    citations TEXT NOT NULL,
    steps TEXT NOT NULL,
    status TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS turns_by_conversation ON turns(conversation_id, id);
"""

_TITLE_CHARS = 60
# Words that make a question lean on the one before it ("and when is it?", "who else was there?").
_FOLLOW_UP_WORDS = re.compile(
    r"\b(it|its|that|this|those|these|they|them|their|there|he|she|him|her|his|hers|else|also|then)\b",
    re.IGNORECASE,
)


class ConversationStore:
    """Conversations and their turns in one SQLite file (WAL, foreign keys, busy timeout).

    Used from the GUI thread only; every write is one transaction.
    """

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = apsw.Connection(str(path))
        # apsw.bestpractice's connection hooks (WAL, foreign keys, busy timeout) on this connection only.
        for hook in apsw.bestpractice.recommended:
            if hook.__name__.startswith("connection_"):
                hook(self._db)
        # History is written on the GUI thread: in WAL mode NORMAL commits without waiting for the disk (a crash
        # may lose the last answer, never the file's integrity), so saving an answer never stalls the window.
        self._db.pragma("synchronous", "NORMAL")
        with self._db:
            self._db.execute(SCHEMA)

    def close(self) -> None:
        self._db.close()

    def create(self, first_question: str) -> int:
        """A new conversation titled after its first question; returns its id."""
        now = time.time()
        title = " ".join(first_question.split())
        title = title if len(title) <= _TITLE_CHARS else title[: _TITLE_CHARS - 1] + "…"
        with self._db:
            self._db.execute(
                "INSERT INTO conversations(title, created, updated) VALUES (?, ?, ?)", (title, now, now)
            )
            conversation_id = int(self._db.last_insert_rowid())
        return conversation_id

    def add_turn(self, conversation_id: int, turn: Turn) -> int:
        """Store a finished turn; returns its id."""
        now = time.time()
        citations = json.dumps([asdict(citation) for citation in turn.citations], ensure_ascii=False)
        with self._db:
            self._db.execute(
                "INSERT INTO turns(conversation_id, question, answer, citations, steps, status, created) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (conversation_id, turn.question, turn.answer, citations, json.dumps(turn.steps), turn.status, now),
            )
            turn_id = int(self._db.last_insert_rowid())
            self._db.execute("UPDATE conversations SET updated = ? WHERE id = ?", (now, conversation_id))
        return turn_id

    def turns(self, conversation_id: int) -> list[Turn]:
        rows = self._db.execute(
            "SELECT id, question, answer, citations, steps, status FROM turns WHERE conversation_id = ? ORDER BY id",
            (conversation_id,),
        ).fetchall()
        return [
            Turn(
                question=str(question), answer=str(answer),
                citations=[CitationView(**item) for item in json.loads(str(citations))],
                steps=list(json.loads(str(steps))), status=_status(status), turn_id=int(turn_id),  # type: ignore[arg-type]
            )
            for turn_id, question, answer, citations, steps, status in rows
        ]

    def conversations(self, search: str = "") -> list[ConversationSummary]:
        """Newest first; with ``search``, only those whose title, questions or answers contain every word."""
        words = search.split()
        clauses = " AND ".join(
            "(c.title LIKE ? ESCAPE '\\' OR EXISTS (SELECT 1 FROM turns s WHERE s.conversation_id = c.id "
            "AND (s.question LIKE ? ESCAPE '\\' OR s.answer LIKE ? ESCAPE '\\')))"
            for _ in words
        )
        parameters: list[str] = []
        for word in words:
            pattern = "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            parameters += [pattern, pattern, pattern]
        query = (
            "SELECT c.id, c.title, c.updated, (SELECT COUNT(*) FROM turns t WHERE t.conversation_id = c.id) "
            f"FROM conversations c {'WHERE ' + clauses if clauses else ''} ORDER BY c.updated DESC, c.id DESC"
        )
        return [ConversationSummary(int(i), t, float(u), int(n)) for i, t, u, n in self._db.execute(query, parameters)]

    def delete(self, conversation_id: int) -> None:
        with self._db:
            self._db.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,))


def _status(value: object) -> TurnStatus:
    return value if value in ("done", "stopped", "failed") else "done"


def contextual_question(previous: list[Turn], question: str) -> str:
    """The question as memory should read it: a follow-up carries the question it follows.

    "When does it open?" after "Where is the new bakery?" is routed and answered as
    "Where is the new bakery? When does it open?". A question that stands alone is left as it is.
    """
    question = question.strip()
    earlier = [turn.question for turn in previous if turn.status != "failed"]
    if not earlier or not _FOLLOW_UP_WORDS.search(question):
        return question
    return f"{earlier[-1].strip()} {question}"
