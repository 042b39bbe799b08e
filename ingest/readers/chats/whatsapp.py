"""WhatsApp chat export (``.txt``, "Export chat" on Android or iOS), every message with sender and time.

Variants handled, as locales and versions write them:

- Android: ``12/31/23, 9:15 PM - Alice: text``, ``31/12/2023, 21:15 - Alice: text``, ``31.12.23, 21:15 - …``;
- iOS: ``[31.12.23, 21:15:03] Alice: text``, ``[12/31/23, 9:15:03 PM] Alice: text``, often with a
  left-to-right mark (U+200E) before the bracket or the text;
- 12-hour times with ``AM``/``pm``/``p. m.`` after a space, a no-break space or a narrow no-break space
  (U+202F, newer exports); 24-hour times with ``:`` or ``.``; two- or four-digit years, ISO dates.

Whether a date is day-first or month-first is decided once for the whole file: a first number over 12 means
day-first, a second one over 12 month-first; otherwise the order under which the dates run forward in time,
then the locale's habit (dots: day-first; AM/PM: month-first). Lines that do not start with a date continue
the previous message. System notices (no ``Name:``) keep an empty sender; ``<Media omitted>`` and
``<attached: file>`` become ``[Media omitted]`` and ``[attached: file]``. There are no message ids in the
export: each message's anchor names its line number in the file, stable while the export is unchanged.

The export may also come as the ``.zip`` WhatsApp shares (the chat as ``_chat.txt`` or ``WhatsApp Chat with
Alice.txt`` beside its photos): only the chat's text is unpacked, under the shared zip-bomb guard.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path

from ...document import SourceDocument, UnreadableDocument
from ..archive import ZIP_ERRORS, SafeZip, ZipLimits
from ..text import decode_text, normalize_newlines, read_bytes, regular_file_size
from .conversation import MAX_BYTES, ChatMessage, chat_document, message_anchor, sniff

NAME = "WhatsApp chat export"
SUFFIXES: tuple[str, ...] = (".txt", ".zip")
ZIP_LIMITS = ZipLimits(max_members=100_000, max_total_bytes=1 << 40)  # media are listed, never unpacked
_DATE = r"\d{1,4}[./-]\d{1,2}[./-]\d{1,4}"
_TIME = r"\d{1,2}[:.]\d{2}(?:[:.]\d{2})?(?:\s?[AaPp]\.?\s?[Mm]\.?)?"
_LINE = re.compile(
    rf"^[\u200e\u200f\ufeff]*(?:\[(?P<bdate>{_DATE}),?\s(?P<btime>{_TIME})\]\s(?P<brest>.*)"
    rf"|(?P<date>{_DATE}),?\s(?P<time>{_TIME})\s[-–]\s(?P<rest>.*))$"
)
_MARKS = re.compile(r"[\u200e\u200f]")
_MEDIA = re.compile(r"<(Media omitted|attached: [^>]*)>")
# A sender's name has no colon or quotes (a notice such as 'Ann changed the subject to "Trip: May"' has both).
_SENDER = re.compile(r"^([^:\n\"“”«»]{1,60}): (.*)$", re.DOTALL)


@dataclass
class _Raw:
    line: int
    numbers: tuple[int, int, int]
    first_is_year: bool
    dotted: bool
    clock: str
    rest: str


def detect(path: Path) -> bool:
    """A text file whose first non-empty line is a WhatsApp message line, or a zip holding one."""
    if path.suffix.lower() == ".zip":
        return path.is_file() and _chat_member(path) is not None  # a pipe named .zip would block the open
    return _starts_like_a_chat(sniff(path, 4096))


def _starts_like_a_chat(head: str) -> bool:
    lines = [line for line in head.splitlines() if line.strip()]
    return bool(lines) and _LINE.match(lines[0]) is not None


def _chat_member(path: Path) -> str | None:
    """The chat's text file in a WhatsApp export zip (top level, first line a message), or None."""
    try:
        with zipfile.ZipFile(path) as archive:
            candidates = [
                info for info in archive.infolist()
                if "/" not in info.filename and info.filename.lower().endswith(".txt")
            ]
            for info in candidates[:3]:
                with archive.open(info) as member:
                    if _starts_like_a_chat(member.read(4096).decode("utf-8", errors="ignore")):
                        return info.filename
    except ZIP_ERRORS:
        return None
    return None


def _chat_text(path: Path) -> tuple[str, str]:
    """The export's text and the name it goes by (the zip's, for a zipped export)."""
    if path.suffix.lower() != ".zip":
        return decode_text(read_bytes(path, MAX_BYTES)), _title(path)
    regular_file_size(path, ZIP_LIMITS.max_total_bytes)
    member = _chat_member(path)
    if member is None:
        raise UnreadableDocument(f"not a {NAME}: the zip holds no chat text")
    with SafeZip(path, NAME, ZIP_LIMITS) as archive:
        return decode_text(archive.read(member)), path.stem.replace("_", " ").strip() or "WhatsApp chat"


def _parse_lines(text: str) -> list[_Raw]:
    messages: list[_Raw] = []
    for number, line in enumerate(text.split("\n"), start=1):
        match = _LINE.match(line)
        if match is None:
            if messages:
                messages[-1].rest += "\n" + line
            continue
        date = match.group("bdate") or match.group("date")
        parts = re.split(r"[./-]", date)
        numbers = (int(parts[0]), int(parts[1]), int(parts[2]))
        rest = match.group("brest") if match.group("bdate") else match.group("rest")
        clock = match.group("btime") or match.group("time")
        messages.append(_Raw(number, numbers, len(parts[0]) == 4, "." in date, clock, rest))
    return messages


def _day_first(messages: list[_Raw]) -> bool:
    """Whether ``a/b/c`` dates are day/month/year, judged from every date in the file."""
    pairs = [raw.numbers[:2] for raw in messages if not raw.first_is_year]
    if any(first > 12 for first, _ in pairs):
        return True
    if any(second > 12 for _, second in pairs):
        return False
    forward = {True: 0, False: 0}
    for day_first in (True, False):
        dates = [_date(raw, day_first) for raw in messages]
        forward[day_first] = sum(1 for a, b in zip(dates, dates[1:], strict=False) if a and b and a <= b)
    if forward[True] != forward[False]:
        return forward[True] > forward[False]
    twelve_hour = any(re.search(r"[AaPp]\.?\s?[Mm]\.?$", raw.clock) for raw in messages)
    return any(raw.dotted for raw in messages) or not twelve_hour


def _date(raw: _Raw, day_first: bool) -> tuple[int, int, int] | None:
    """(year, month, day) of a raw date under the chosen order, None when impossible."""
    a, b, c = raw.numbers
    year, month, day = (a, b, c) if raw.first_is_year else ((c, b, a) if day_first else (c, a, b))
    year += 2000 if year < 100 else 0
    return (year, month, day) if 1 <= month <= 12 and 1 <= day <= 31 else None


def _time(raw: _Raw, day_first: bool) -> datetime | None:
    date = _date(raw, day_first)
    clock = re.match(r"(\d{1,2})[:.](\d{2})(?:[:.](\d{2}))?\s?(?:([AaPp])\.?\s?[Mm]\.?)?", raw.clock)
    if date is None or clock is None:
        return None
    hour, minute, second = int(clock.group(1)), int(clock.group(2)), int(clock.group(3) or 0)
    meridiem = (clock.group(4) or "").lower()
    if meridiem:
        hour = hour % 12 + (12 if meridiem == "p" else 0)
    try:
        return datetime(*date, hour, minute, second)
    except ValueError:
        return None


def _title(path: Path) -> str:
    """The chat's name from the export's file (``WhatsApp Chat with Alice.txt``) or folder (iOS ``_chat.txt``)."""
    name = path.parent.name if path.stem == "_chat" else path.stem
    return name.replace("_", " ").strip() or "WhatsApp chat"


def read(path: Path) -> SourceDocument:
    """Read a WhatsApp export; sections are messages headed by chat name and day."""
    raw_text, title = _chat_text(path)
    text = normalize_newlines(raw_text)
    raws = _parse_lines(text)
    if not raws:
        raise UnreadableDocument(f"not a {NAME}: no line starts with a message date")
    day_first = _day_first(raws)
    messages = []
    for raw in raws:
        body = _MEDIA.sub(r"[\1]", _MARKS.sub("", raw.rest)).rstrip()
        sender = _SENDER.match(body)
        speaker, message_text = (sender.group(1).strip(), sender.group(2)) if sender else ("", body)
        messages.append(ChatMessage(title, speaker, message_text, _time(raw, day_first), f"line {raw.line}"))
    return chat_document(path, title, messages, anchor=partial(message_anchor, prefix=""))
