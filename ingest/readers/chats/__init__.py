"""Chat history exports (ChatGPT, WhatsApp, Telegram, Slack, Discord, LoCoMo-style JSON) as conversation documents.

Each format's module offers ``detect(path)`` (cheap sniffing of the first bytes, the zip listing or the folder)
and ``read(path)``; exports share suffixes with other files (.json, .txt, .zip), so they are recognised by
content. ``detect`` here tries them in an order where the more specific formats come first.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from ...document import SourceDocument, UnreadableDocument
from . import chatgpt, discord, generic, slack, telegram, whatsapp


class ChatFormat(Protocol):
    """What every chat module provides."""

    NAME: str
    SUFFIXES: tuple[str, ...]

    def detect(self, path: Path) -> bool: ...

    def read(self, path: Path) -> SourceDocument: ...


FORMATS: tuple[ChatFormat, ...] = (chatgpt, telegram, discord, generic, whatsapp, slack)


def detect(path: Path) -> ChatFormat | None:
    """The chat format of the file (or, for Slack, folder) at ``path``; None when it is none or can't be looked at."""
    try:
        suffix = "" if path.is_dir() else path.suffix.lower()
        return next((chat for chat in FORMATS if suffix in chat.SUFFIXES and chat.detect(path)), None)
    except OSError:  # an unreadable folder or file: its reader will say why, if it is read at all
        return None


def read_chat(path: Path, chat: ChatFormat) -> SourceDocument:
    """Read an export in the detected format.

    Raises:
        UnreadableDocument: the export is damaged or shaped unlike its format.
    """
    try:
        return chat.read(path)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as error:
        # The sniffed format's shape checks cover the documented layouts; anything else is a stranger file.
        reason = f"not a readable {chat.NAME}: unexpected structure ({type(error).__name__})"
        raise UnreadableDocument(reason) from error
