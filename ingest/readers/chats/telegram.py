"""Telegram Desktop export (``result.json``): one chat, or the full export's every chat.

Shapes: a single chat ``{name, type, id, messages}``, or a full export whose ``chats.list`` (and
``left_chats.list``) hold such chats. A message has ``id``, ``type`` ("message" or "service"), ``date``
(local time, ISO, as written) and ``date_unixtime``, ``from``, and ``text`` as a string or as a list of
strings and entity objects ``{type, text}`` (links, bold, mentions…), flattened to plain text. Media become
placeholders (``[photo]``, ``[sticker 😀]``, ``[voice message]``, ``[file: report.pdf]``, ``[poll: …]``),
forwards say so, and service messages (joins, pins, calls, title changes) keep an empty sender and read
"Alice pin message". Sections are headed by chat name and day; anchors carry the message id.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ...document import SourceDocument, UnreadableDocument
from .conversation import ChatMessage, chat_document, from_epoch, from_iso, load_json, sniff, text_field

NAME = "Telegram export"
SUFFIXES: tuple[str, ...] = (".json",)
_MEDIA = {
    "voice_message": "[voice message]",
    "video_file": "[video]",
    "video_message": "[video message]",
    "animation": "[GIF]",
    "audio_file": "[audio]",
}


def detect(path: Path) -> bool:
    """A JSON file whose start shows Telegram's ``date_unixtime`` or its full export's ``personal_information``."""
    head = sniff(path)
    single_chat = '"messages"' in head and ('"date_unixtime"' in head or '"from_id"' in head)
    return single_chat or '"personal_information"' in head


def flatten(text: object) -> str:
    """``text`` as a string, or a list of strings and ``{type, text}`` entities, as plain text."""
    if isinstance(text, str):
        return text
    if isinstance(text, list):
        return "".join(item if isinstance(item, str) else _entity_text(item) for item in text)
    return ""


def _entity_text(entity: object) -> str:
    return text_field(entity.get("text")) if isinstance(entity, dict) else ""


def _media(message: dict[str, Any]) -> str:
    if "photo" in message:
        return "[photo]"
    media_type = text_field(message.get("media_type"))
    if media_type == "sticker":
        return f"[sticker {text_field(message.get('sticker_emoji'))}]".replace(" ]", "]")
    if media_type in _MEDIA:
        return _MEDIA[media_type]
    if "file" in message:
        return f"[file: {text_field(message.get('file_name')) or Path(text_field(message.get('file'))).name}]"
    poll = message.get("poll")
    if isinstance(poll, dict):
        return f"[poll: {text_field(poll.get('question'))}]"
    if "location_information" in message:
        return "[location]"
    if "contact_information" in message:
        return "[contact]"
    return ""


def _service_text(message: dict[str, Any]) -> str:
    action = text_field(message.get("action")).replace("_", " ")
    details = [text_field(message.get(key)) for key in ("title", "text") if text_field(message.get(key))]
    members = message.get("members")
    if isinstance(members, list):
        details.append(", ".join(str(member) for member in members if member))
    return " ".join(part for part in [text_field(message.get("actor")), action, *details] if part)


def _messages(chat: dict[str, Any]) -> Iterator[ChatMessage]:
    title = text_field(chat.get("name")) or ("Saved Messages" if chat.get("type") == "saved_messages" else "Chat")
    messages = chat.get("messages")
    if not isinstance(messages, list):
        raise UnreadableDocument(f"not a {NAME}: a chat has no message list")
    for message in messages:
        if not isinstance(message, dict):
            continue
        time = from_iso(message.get("date")) or from_epoch(message.get("date_unixtime"))
        if message.get("type") == "service":
            yield ChatMessage(title, "", _service_text(message), time, str(message.get("id", "")))
            continue
        text = "\n".join(part for part in (_media(message), flatten(message.get("text"))) if part.strip())
        forwarded = text_field(message.get("forwarded_from"))
        if forwarded:
            text = f"(forwarded from {forwarded}) {text}"
        speaker = text_field(message.get("from")) or text_field(message.get("from_id"))
        yield ChatMessage(title, speaker, text, time, str(message.get("id", "")))


def _chats(data: object) -> list[dict[str, Any]]:
    """The chats of a single-chat or full export."""
    if isinstance(data, dict) and "messages" in data:
        return [data]
    if isinstance(data, dict) and isinstance(data.get("chats"), dict):
        chats = []
        for group in ("chats", "left_chats"):
            listing = data.get(group)
            items = listing.get("list") if isinstance(listing, dict) else None
            chats += [chat for chat in items or [] if isinstance(chat, dict)]
        return chats
    raise UnreadableDocument(f"not a {NAME}: expected a chat with messages, or a full export with chats")


def read(path: Path) -> SourceDocument:
    """Read a Telegram export; sections are messages headed by chat name and day."""
    chats = _chats(load_json(path, NAME))
    title = text_field(chats[0].get("name")) if len(chats) == 1 else "Telegram chats"
    messages = [message for chat in chats for message in _messages(chat)]
    return chat_document(path, title or "Telegram chat", messages)
