"""What every chat reader builds: messages in order, rendered as one document with a section per message.

A message is one line (or more, for multi-line text) ``[2024-03-02 14:05] Alice: text``, so the model sees who
said what and when. Its section is headed by the conversation (or channel) and the day, so splitting on
structure makes memory documents of conversations and days, and anchored to the message ("msg 5f3a · Alice ·
2024-03-02 14:05") so a citation points to it. Epoch timestamps are shown in the machine's local time; textual
ones as written in the export.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from ...document import Section, SourceDocument, UnreadableDocument
from ..text import read_bytes

MAX_BYTES = 256 * 1024 * 1024
SNIFF_BYTES = 64 * 1024


@dataclass(frozen=True)
class ChatMessage:
    """One message of a chat.

    Attributes:
        conversation: the conversation's or channel's title.
        speaker: who wrote it ("" for system notices).
        text: what was written; media without text as ``[photo]``-style placeholders.
        time: when, or None when the export does not say.
        message_id: the export's id for it (or a stable stand-in such as its line number).
    """

    conversation: str
    speaker: str
    text: str
    time: datetime | None
    message_id: str


def stamp(time: datetime | None) -> str:
    """``YYYY-MM-DD HH:MM``, or "" for no time."""
    if time is None:
        return ""
    return f"{time.year:04d}-{time.month:02d}-{time.day:02d} {time.hour:02d}:{time.minute:02d}"


def message_anchor(message: ChatMessage, prefix: str = "msg ") -> str:
    """"msg <id> · <speaker> · <time>", the parts present."""
    parts = [f"{prefix}{message.message_id}" if message.message_id else "", message.speaker, stamp(message.time)]
    return " · ".join(part for part in parts if part)


def chat_document(
    path: Path,
    title: str,
    messages: Iterable[ChatMessage],
    anchor: Callable[[ChatMessage], str] = message_anchor,
) -> SourceDocument:
    """A document with one section per message, a blank line between days or conversations.

    Raises:
        UnreadableDocument: no message has text.
    """
    chunks: list[str] = []
    sections: list[Section] = []
    offset, previous_heading = 0, None
    for message in messages:
        text = message.text.strip()
        if not text:
            continue
        when = stamp(message.time)
        heading = f"{message.conversation} · {when[:10]}" if when else message.conversation
        who = f"{message.speaker}: " if message.speaker else ""
        line = f"[{when}] {who}{text}" if when else f"{who}{text}"
        if chunks:
            separator = "\n" if heading == previous_heading else "\n\n"
            chunks.append(separator)
            offset += len(separator)
        chunks.append(line)
        sections.append(Section(offset, offset + len(line), heading, anchor(message)))
        offset += len(line)
        previous_heading = heading
    if not sections:
        raise UnreadableDocument("chat export holds no messages with text")
    return SourceDocument(path=str(path), text="".join(chunks), title=title, sections=sections)


def load_json(path: Path, kind: str) -> Any:
    """A JSON export, parsed.

    Raises:
        UnreadableDocument: unreadable, too large, not JSON, or nested too deeply.
    """
    raw = read_bytes(path, MAX_BYTES)
    try:
        return json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as error:
        raise UnreadableDocument(f"not a {kind}: not UTF-8 JSON") from error
    except json.JSONDecodeError as error:
        raise UnreadableDocument(f"not a {kind}: invalid JSON (line {error.lineno}, column {error.colno})") from error
    except RecursionError as error:
        raise UnreadableDocument(f"not a {kind}: JSON nested too deeply") from error


def sniff(path: Path, size: int = SNIFF_BYTES) -> str:
    """The first ``size`` bytes of a regular file as text (undecodable bytes dropped); "" when unreadable."""
    try:
        if not path.is_file():
            return ""
        with path.open("rb") as handle:
            return handle.read(size).decode("utf-8", errors="ignore")
    except OSError:
        return ""


def from_epoch(value: object) -> datetime | None:
    """A local time from seconds since the epoch (number or numeric string); None when absent or absurd."""
    try:
        seconds = float(value)  # type: ignore[arg-type]
        return datetime.fromtimestamp(seconds) if 0 < seconds < 32503680000 else None
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def from_iso(value: object) -> datetime | None:
    """A time from an ISO 8601 string, shown as written (its own offset kept); None when absent or invalid."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def text_field(value: object) -> str:
    """A string field, or "" when it is missing or not a string."""
    return value if isinstance(value, str) else ""
