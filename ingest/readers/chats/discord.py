"""Discord channel export by DiscordChatExporter (JSON): ``{guild, channel, messages}``.

Each message has ``id``, ``type`` ("Default", "Reply", or a system type such as "GuildMemberJoin" or
"ChannelPinnedMessage"), ``timestamp`` (ISO 8601 with the exporter's offset, shown as written), ``content``,
``author`` ``{name, nickname}`` (the nickname is shown when set), ``attachments`` (``fileName``), ``embeds``
(title, description) and ``stickers``; a reply's ``reference.messageId`` names the message it answers.
The document is titled "Server / #channel" (direct messages: the channel's name); sections are headed by it
and the day, anchors carry the message id.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ...document import SourceDocument, UnreadableDocument
from .conversation import ChatMessage, chat_document, from_iso, load_json, sniff, text_field

NAME = "Discord export (DiscordChatExporter JSON)"
SUFFIXES: tuple[str, ...] = (".json",)
_CHAT_TYPES = frozenset({"Default", "Reply", ""})


def detect(path: Path) -> bool:
    """A JSON file that starts with a ``guild`` and a ``channel`` and holds ``messages``."""
    head = sniff(path, 8192)
    return '"guild"' in head and '"channel"' in head and '"messages"' in head


def _dicts(value: object) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _text(message: dict[str, Any]) -> str:
    pieces = [text_field(message.get("content"))]
    reference = message.get("reference")
    if message.get("type") == "Reply" and isinstance(reference, dict) and reference.get("messageId"):
        pieces[0] = f"(reply to msg {reference['messageId']}) {pieces[0]}"
    pieces += [f"[attachment: {text_field(item.get('fileName'))}]" for item in _dicts(message.get("attachments"))]
    for embed in _dicts(message.get("embeds")):
        parts = (text_field(embed.get("title")), text_field(embed.get("description")))
        described = " — ".join(part for part in parts if part)
        if described:
            pieces.append(f"[embed: {described}]")
    pieces += [f"[sticker: {text_field(item.get('name'))}]" for item in _dicts(message.get("stickers"))]
    kind = text_field(message.get("type"))
    if kind not in _CHAT_TYPES and not any(piece.strip() for piece in pieces):
        pieces.append(f"[{kind}]")
    return "\n".join(piece for piece in pieces if piece.strip())


def _messages(data: dict[str, Any], title: str) -> Iterator[ChatMessage]:
    for message in _dicts(data.get("messages")):
        author = message.get("author") if isinstance(message.get("author"), dict) else {}
        speaker = (text_field(author.get("nickname")) or text_field(author.get("name"))) if author else ""
        time = from_iso(message.get("timestamp"))
        yield ChatMessage(title, speaker, _text(message), time, str(message.get("id", "")))


def read(path: Path) -> SourceDocument:
    """Read a DiscordChatExporter JSON file; sections are messages headed by server/channel and day."""
    data = load_json(path, NAME)
    if not isinstance(data, dict) or not isinstance(data.get("messages"), list):
        raise UnreadableDocument(f"not a {NAME}: expected an object with guild, channel and messages")
    guild = data.get("guild") if isinstance(data.get("guild"), dict) else {}
    channel = data.get("channel") if isinstance(data.get("channel"), dict) else {}
    guild_name = text_field(guild.get("name")) if guild else ""
    channel_name = text_field(channel.get("name")) if channel else ""
    if guild_name and guild_name != "Direct Messages":
        title = f"{guild_name} / #{channel_name}"
    else:
        title = channel_name or "Discord chat"
    return chat_document(path, title, _messages(data, title))
