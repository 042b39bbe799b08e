"""ChatGPT data export, ``conversations.json``: every conversation's current branch, user and model turns.

The file is a list of conversations (a single conversation object is accepted too), each with a ``title``,
``create_time`` (epoch seconds) and a ``mapping`` of nodes ``{id, message, parent, children}``: a tree,
because every edit or regeneration starts a branch. The branch the user last saw ends at ``current_node``;
it is read by walking ``parent`` links up to the root (older exports without ``current_node``: the newest
leaf). Kept: user and model messages addressed to everyone, text parts of ``text`` and ``multimodal_text``
content (images as ``[image]``, voice as its transcript). Left out: system and tool messages, hidden ones,
tool calls and the model's reasoning summaries.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ...document import SourceDocument, UnreadableDocument
from .conversation import ChatMessage, chat_document, from_epoch, load_json, sniff, text_field

NAME = "ChatGPT export"
SUFFIXES: tuple[str, ...] = (".json",)
_SPEAKERS = {"user": "User", "assistant": "ChatGPT"}


def detect(path: Path) -> bool:
    """A JSON file whose start shows a conversation ``mapping`` of messages with ``content_type``."""
    head = sniff(path)
    return '"mapping"' in head and '"content_type"' in head


def _branch(mapping: dict[str, Any], current: object) -> list[dict[str, Any]]:
    """The nodes from the root to ``current`` (or to the newest leaf), in order; cycles are cut."""
    if not isinstance(current, str) or current not in mapping:
        leaves = [node for node in mapping.values() if isinstance(node, dict) and not node.get("children")]
        if not leaves:
            return []
        newest = max(leaves, key=lambda node: _created(node) or 0.0)
        current = newest.get("id")
    nodes: list[dict[str, Any]] = []
    seen: set[str] = set()
    while isinstance(current, str) and current in mapping and current not in seen:
        seen.add(current)
        node = mapping[current]
        if not isinstance(node, dict):
            break
        nodes.append(node)
        current = node.get("parent")
    return nodes[::-1]


def _created(node: dict[str, Any]) -> float | None:
    message = node.get("message")
    value = message.get("create_time") if isinstance(message, dict) else None
    return float(value) if isinstance(value, int | float) else None


def _content_text(content: object) -> str:
    if not isinstance(content, dict) or content.get("content_type") not in ("text", "multimodal_text"):
        return ""
    parts = content.get("parts")
    pieces = []
    for part in parts if isinstance(parts, list) else []:
        if isinstance(part, str):
            pieces.append(part)
        elif isinstance(part, dict):
            kind = part.get("content_type", "")
            if kind == "image_asset_pointer":
                pieces.append("[image]")
            elif kind == "audio_transcription":
                pieces.append(text_field(part.get("text")))
    return "\n".join(piece for piece in pieces if piece.strip())


def _messages(conversation: dict[str, Any]) -> Iterator[ChatMessage]:
    title = " ".join(text_field(conversation.get("title")).split()) or "Untitled conversation"
    mapping = conversation.get("mapping")
    if not isinstance(mapping, dict):
        raise UnreadableDocument(f"not a {NAME}: a conversation has no message mapping")
    started = from_epoch(conversation.get("create_time"))
    for node in _branch(mapping, conversation.get("current_node")):
        message = node.get("message")
        if not isinstance(message, dict):
            continue
        author = message.get("author") if isinstance(message.get("author"), dict) else {}
        role = author.get("role") if isinstance(author, dict) else None
        metadata = message.get("metadata") if isinstance(message.get("metadata"), dict) else {}
        hidden = isinstance(metadata, dict) and metadata.get("is_visually_hidden_from_conversation")
        if not isinstance(role, str) or role not in _SPEAKERS or hidden or message.get("recipient", "all") != "all":
            continue
        yield ChatMessage(
            conversation=title,
            speaker=_SPEAKERS[role],
            text=_content_text(message.get("content")),
            time=from_epoch(message.get("create_time")) or started,
            message_id=text_field(message.get("id")) or text_field(node.get("id")),
        )


def read(path: Path) -> SourceDocument:
    """Read a ChatGPT export; sections are messages headed by conversation title and day."""
    data = load_json(path, NAME)
    conversations = [data] if isinstance(data, dict) else data
    if not isinstance(conversations, list) or not all(isinstance(item, dict) for item in conversations):
        raise UnreadableDocument(f"not a {NAME}: expected a list of conversations")
    messages = [message for conversation in conversations for message in _messages(conversation)]
    return chat_document(path, "ChatGPT conversations", messages)
