"""Conversation JSON in generic shapes: LoCoMo-style sessions, or a plain list of messages.

LoCoMo-style (the long-term conversation benchmark's format): a list of samples (or one) whose
``conversation`` holds ``speaker_a``, ``speaker_b``, ``session_<n>`` lists of turns ``{speaker, dia_id, text,
blip_caption?}`` and ``session_<n>_date_time`` such as "1:56 pm on 8 May, 2023". Each session is a
conversation ("Caroline & Melanie, session 1"), every turn carries its session's time, a shared image is
kept as its caption, and a turn's anchor is its ``dia_id`` ("D1:3") exactly.

Plain: a list of messages (or ``{title?, messages: [...]}``) whose keys are common names: speaker from
``speaker``/``sender``/``sender_name``/``author``/``from``/``role``, text from
``text``/``content``/``message``/``body``, time from ``timestamp``/``timestamp_ms``/``time``/``date``/
``created_at`` (ISO 8601, or epoch seconds or milliseconds), id from ``id``/``message_id``/``dia_id`` (else
the message's position); Google Chat's ``creator``/``created_date`` ("Sunday, December 31, 2023 at 9:15:03 PM
UTC") too. Messages that all carry a time are put in time order, since some exports list the
newest first. This covers Facebook Messenger and Instagram ``message_1.json`` files too, whose text is UTF-8
mis-declared as Latin-1 escapes ("cafÃ©"): it is repaired for them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from ...document import SourceDocument, UnreadableDocument
from .conversation import ChatMessage, chat_document, from_epoch, from_iso, load_json, message_anchor, sniff

NAME = "conversation JSON"
SUFFIXES: tuple[str, ...] = (".json",)
_SESSION = re.compile(r"^session_(\d+)$")
_SESSION_TIMES = ("%I:%M %p on %d %B, %Y", "%I:%M %p on %d %b, %Y", "%I:%M %p on %B %d, %Y")
_WRITTEN_TIMES = ("%A, %B %d, %Y at %I:%M:%S %p",)  # Google Chat (Takeout): "Sunday, December 31, 2023 at …"
_KEYS = {
    "speaker": ("speaker", "sender", "sender_name", "author", "creator", "from", "role", "name"),
    "text": ("text", "content", "message", "body"),
    "time": ("timestamp", "timestamp_ms", "time", "date", "created_at", "created_date", "create_time"),
    "id": ("id", "message_id", "dia_id", "uuid"),
}
_GENERIC_SNIFF = [re.compile(rf'"(?:{"|".join(names)})"\s*:') for names in _KEYS.values() if names != _KEYS["id"]]


def detect(path: Path) -> bool:
    """LoCoMo's ``dia_id`` turns in ``session_<n>`` lists, or messages with speaker, text and time keys."""
    head = sniff(path)
    if '"dia_id"' in head and '"session_' in head:
        return True
    return head.lstrip().startswith(("[", "{")) and all(pattern.search(head) for pattern in _GENERIC_SNIFF)


def session_time(value: object) -> datetime | None:
    """A LoCoMo ``session_<n>_date_time`` such as "1:56 pm on 8 May, 2023", or an ISO time."""
    if not isinstance(value, str):
        return None
    for layout in _SESSION_TIMES:
        try:
            return datetime.strptime(" ".join(value.split()), layout)
        except ValueError:
            continue
    return from_iso(value)


def _locomo(sample: dict[str, Any]) -> Iterator[ChatMessage]:
    conversation = sample.get("conversation", sample)
    if not isinstance(conversation, dict):
        raise UnreadableDocument(f"not a {NAME}: a sample's conversation is not an object")
    speakers = [str(conversation[key]) for key in ("speaker_a", "speaker_b") if conversation.get(key)]
    people = " & ".join(speakers) or str(sample.get("sample_id", "Conversation"))
    numbered = sorted((int(match.group(1)), key) for key in conversation if (match := _SESSION.match(key)))
    for number, key in numbered:
        time = session_time(conversation.get(f"{key}_date_time"))
        turns = conversation[key] if isinstance(conversation[key], list) else []
        for turn in turns:
            if not isinstance(turn, dict):
                continue
            text = str(turn.get("text", ""))
            if turn.get("blip_caption"):
                text += f" [shares an image: {turn['blip_caption']}]"
            dia_id = str(turn.get("dia_id", ""))
            yield ChatMessage(f"{people}, session {number}", str(turn.get("speaker", "")), text, time, dia_id)


def _field(message: dict[str, Any], role: str) -> object:
    for key in _KEYS[role]:
        value = message.get(key)
        if value not in (None, ""):
            return value.get("name") if isinstance(value, dict) and role == "speaker" else value
    return None


def _time(value: object) -> datetime | None:
    """ISO 8601 or written-out text, or epoch seconds or milliseconds (past the year 5138 in seconds: ms)."""
    if isinstance(value, str) and not value.isdigit():
        return from_iso(value) or _written_time(value)
    if isinstance(value, int | float | str) and not isinstance(value, bool) and float(value) > 1e11:
        return from_epoch(float(value) / 1000)
    return from_epoch(value)


def _written_time(value: str) -> datetime | None:
    """A time written out in words, its zone name dropped (shown as written, like ISO times with offsets)."""
    words = " ".join(value.replace("\u202f", " ").split())
    head, _, last = words.rpartition(" ")
    if last.isalpha() and last.isupper() and last not in ("AM", "PM"):  # a zone name such as UTC or CET
        words = head
    for layout in _WRITTEN_TIMES:
        try:
            return datetime.strptime(words, layout)
        except ValueError:
            continue
    return None


def _meta_text(text: str) -> str:
    """Undo Meta's export quirk: UTF-8 bytes written as Latin-1 characters."""
    try:
        return text.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return text


def _plain(messages: list[Any], title: str, meta: bool) -> list[ChatMessage]:
    found = []
    for position, message in enumerate(messages, start=1):
        if not isinstance(message, dict):
            continue
        text, speaker = _field(message, "text"), str(_field(message, "speaker") or "")
        text = text if isinstance(text, str) else ""
        if meta:
            text, speaker = _meta_text(text), _meta_text(speaker)
        message_id = str(_field(message, "id") or position)
        found.append(ChatMessage(title, speaker, text, _time(_field(message, "time")), message_id))
    if found and all(message.time for message in found):
        found.sort(key=lambda message: message.time.timestamp() if message.time else 0.0)  # aware or naive
    return found


def _is_locomo(item: object) -> bool:
    conversation = item.get("conversation", item) if isinstance(item, dict) else None
    return isinstance(conversation, dict) and any(_SESSION.match(key) for key in conversation)


def read(path: Path) -> SourceDocument:
    """Read conversation JSON; sections are messages (turns) headed by conversation (session) and day."""
    data = load_json(path, NAME)
    samples = data if isinstance(data, list) else [data]
    if samples and all(_is_locomo(sample) for sample in samples):
        messages = [message for sample in samples for message in _locomo(sample)]
        return chat_document(path, path.stem, messages, anchor=lambda message: message.message_id)
    # Google Chat keeps every conversation's messages.json in a folder named after it.
    title, meta = (path.parent.name if path.stem == "messages" else path.stem), False
    if isinstance(data, dict) and isinstance(data.get("messages"), list):
        meta = "participants" in data and "thread_path" in data  # a Facebook Messenger or Instagram export
        title = str(data.get("title") or data.get("name") or title)
        title = _meta_text(title) if meta else title
        data = data["messages"]
    if not isinstance(data, list) or not data:
        raise UnreadableDocument(f"not a {NAME}: expected LoCoMo-style sessions or a list of messages")
    return chat_document(path, title, _plain(data, title, meta), anchor=message_anchor)
