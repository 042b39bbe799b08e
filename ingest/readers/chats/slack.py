"""Slack workspace export, as the downloaded ``.zip`` or its unpacked folder.

Layout: ``users.json`` (ids to names), ``channels.json`` (public channels; ``groups.json``, ``mpims.json`` and
``dms.json`` for private ones and direct messages, when present) and a folder per conversation holding one
``YYYY-MM-DD.json`` per day: a list of messages ``{type, subtype?, user, text, ts, thread_ts?, files?}``.
Everything may sit under one top folder. User ids are resolved to display names (else real names), and
Slack's markup to plain text: ``<@U123>`` → ``@Alice``, ``<#C1|general>`` → ``#general``, ``<url|label>`` →
``label (url)``, ``<!here>`` → ``@here``. Replies in a thread say which message they answer. ``ts``, Slack's
message id, is each message's anchor; sections are headed "#channel · day". Zip archives pass the shared
zip-bomb guard; a folder's files are read under the same total cap.
"""

from __future__ import annotations

import html
import json
import posixpath
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ...document import SourceDocument, UnreadableDocument
from ..archive import ZIP_ERRORS, SafeZip, ZipLimits
from ..text import read_bytes, regular_file_size, size_text
from .conversation import ChatMessage, chat_document, from_epoch, stamp, text_field

NAME = "Slack export"
SUFFIXES: tuple[str, ...] = (".zip", "")
LIMITS = ZipLimits(max_members=200_000, max_total_bytes=1024 * 1024 * 1024, max_member_bytes=64 * 1024 * 1024)
_LISTS = ("channels.json", "groups.json", "mpims.json", "dms.json")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}\.json$")
_MARKUP = re.compile(r"<([^<>]+)>")


class _Files:
    """The export's files by path relative to its root, from a zip or a folder, under one byte budget."""

    def __init__(self, path: Path) -> None:
        self._zip: SafeZip | None = None
        self._root = path
        self._budget = LIMITS.max_total_bytes
        if path.is_dir():
            names = [p.relative_to(path).as_posix() for p in path.rglob("*.json") if p.is_file()]
        else:
            regular_file_size(path, LIMITS.max_total_bytes)
            self._zip = SafeZip(path, NAME, LIMITS)  # read from disk member by member
            names = self._zip.names()
        users = [name for name in names if posixpath.basename(name) == "users.json"]
        prefix = posixpath.dirname(min(users, key=len)) if users else ""
        self.prefix = f"{prefix}/" if prefix else ""
        self.names = sorted(name[len(self.prefix) :] for name in names if name.startswith(self.prefix))

    def __enter__(self) -> _Files:
        return self

    def __exit__(self, *_: object) -> None:
        if self._zip is not None:
            self._zip.__exit__()

    def json(self, name: str) -> Any:
        if self._zip is not None:
            raw = self._zip.read(self.prefix + name)
        else:
            if self._budget <= 0:
                raise UnreadableDocument(f"{NAME} holds over {size_text(LIMITS.max_total_bytes)} of JSON, the limit")
            raw = read_bytes(self._root / (self.prefix + name), self._budget)
            self._budget -= len(raw)
        try:
            return json.loads(raw.decode("utf-8-sig"))
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
            raise UnreadableDocument(f"not a readable {NAME}: {name} is not valid JSON") from error


def detect(path: Path) -> bool:
    """A folder, or a zip (judged by its listing), holding ``users.json`` and ``channels.json`` side by side."""
    if path.is_dir():
        return (path / "users.json").is_file() and (path / "channels.json").is_file()
    if path.suffix.lower() != ".zip" or not path.is_file():  # a pipe named .zip would block the open
        return False
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
    except ZIP_ERRORS:
        return False
    return any(posixpath.join(posixpath.dirname(name), "channels.json") in names
               for name in names if posixpath.basename(name) == "users.json")


def _user_names(users: object) -> dict[str, str]:
    names = {}
    for user in users if isinstance(users, list) else []:
        if isinstance(user, dict) and isinstance(user.get("id"), str):
            profile = user.get("profile") if isinstance(user.get("profile"), dict) else {}
            display = text_field(profile.get("display_name")) or text_field(profile.get("real_name")) if profile else ""
            names[user["id"]] = display or text_field(user.get("real_name")) or text_field(user.get("name"))
    return names


def _plain(text: str, users: dict[str, str]) -> str:
    """Slack's message markup as plain text."""

    def replace(match: re.Match[str]) -> str:
        target, _, label = match.group(1).partition("|")
        if target.startswith("@"):
            return "@" + (users.get(target[1:]) or label or target[1:])
        if target.startswith("#"):
            return "#" + (label or target[1:])
        if target.startswith("!"):
            return label or "@" + target[1:].split("^")[0]
        return f"{label} ({target})" if label and label != target.removeprefix("mailto:") else label or target

    return html.unescape(_MARKUP.sub(replace, text))


def _conversations(files: _Files) -> list[tuple[str, str]]:
    """(folder, title) of every conversation listed, public channels first."""
    found: list[tuple[str, str]] = []
    for listing in _LISTS:
        if listing not in files.names:
            continue
        entries = files.json(listing)
        for entry in entries if isinstance(entries, list) else []:
            if isinstance(entry, dict):
                folder = text_field(entry.get("name")) or text_field(entry.get("id"))
                if folder:
                    found.append((folder, f"#{folder}" if listing in ("channels.json", "groups.json") else folder))
    return found


def _messages(files: _Files, folder: str, title: str, users: dict[str, str]) -> Iterator[ChatMessage]:
    days = [name for name in files.names if posixpath.dirname(name) == folder and _DAY.match(posixpath.basename(name))]
    for day in days:
        entries = files.json(day)
        records = [entry for entry in entries if isinstance(entry, dict)] if isinstance(entries, list) else []
        records.sort(key=lambda entry: float(entry["ts"]) if _is_number(entry.get("ts")) else 0.0)
        for entry in records:
            yield _message(entry, title, users)


def _is_number(value: object) -> bool:
    try:
        float(value)  # type: ignore[arg-type]
        return True
    except (TypeError, ValueError):
        return False


def _message(entry: dict[str, Any], title: str, users: dict[str, str]) -> ChatMessage:
    user = text_field(entry.get("user"))
    profile = entry.get("user_profile") if isinstance(entry.get("user_profile"), dict) else {}
    fallback = (text_field(profile.get("display_name")) or text_field(profile.get("real_name"))) if profile else ""
    bot = entry.get("bot_profile") if isinstance(entry.get("bot_profile"), dict) else {}
    bot_name = text_field(bot.get("name")) if bot else ""
    speaker = users.get(user) or fallback or text_field(entry.get("username")) or bot_name or user
    text = _plain(text_field(entry.get("text")), users)
    attached: list[Any] = entry["files"] if isinstance(entry.get("files"), list) else []
    text += "".join(f"\n[file: {text_field(item.get('name'))}]" for item in attached if isinstance(item, dict))
    ts, thread = text_field(entry.get("ts")), text_field(entry.get("thread_ts"))
    if thread and thread != ts:
        text = f"(reply in thread of {stamp(from_epoch(thread)) or thread}) {text}"
    return ChatMessage(title, speaker, text, from_epoch(ts), ts)


def read(path: Path) -> SourceDocument:
    """Read a Slack export (zip or folder); sections are messages headed by channel and day."""
    with _Files(path) as files:
        if "users.json" not in files.names or "channels.json" not in files.names:
            raise UnreadableDocument(f"not a {NAME}: users.json and channels.json are missing")
        users = _user_names(files.json("users.json"))
        messages = [
            message
            for folder, title in _conversations(files)
            for message in _messages(files, folder, title, users)
        ]
    name = path.stem if path.is_file() else path.name
    return chat_document(path, f"Slack: {name}", messages)
