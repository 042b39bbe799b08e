"""WhatsApp .txt exports: Android and iOS layouts, 12/24-hour clocks, date order, multi-line and media lines."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from memsa.ingest.document import UnreadableDocument
from memsa.ingest.readers import read_document, read_source, supported
from memsa.ingest.readers.chats import detect, whatsapp

ANDROID_US = (
    "12/31/23, 9:15 PM - Messages and calls are end-to-end encrypted. No one outside of this chat can read them.\n"
    "12/31/23, 9:15 PM - Alice: Happy new year!\n"
    "See you tomorrow\n"
    "12/31/23, 11:58 PM - Bob: <Media omitted>\n"
    "1/1/24, 12:05 AM - Alice: Back home: safe\n"
    '1/1/24, 12:06 AM - Alice changed the subject to "Trip: May"\n'
)
IOS_GERMAN = (
    "\u200e[31.12.23, 21:15:03] Alice: Frohes neues Jahr\n"
    "[31.12.23, 21:16:10] Bob: \u200e<attached: 00000012-PHOTO-2023-12-31-21-16-10.jpg>\n"
    "[01.01.24, 00:05:00] Alice: Danke!\n"
)
IOS_US_NARROW_SPACE = "[12/31/23, 9:15:03\u202fPM] Alice: hi\n[1/1/24, 12:00:59\u202fAM] Bob: midnight\n"
SPANISH = "31/12/23, 9:15 p. m. - Ana: hola\n31/12/23, 11:40 p. m. - Luis: ¡feliz año!\n"
ISO = "2023-12-31, 21:15 - Ana: iso dates\n"


def write(tmp_path: Path, text: str, name: str = "WhatsApp Chat with Alice.txt") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def lines(path: Path) -> list[tuple[str, str, str]]:
    document = read_document(path)
    return [(document.text[s.start : s.end], s.heading, s.anchor) for s in document.sections]


def test_android_us_twelve_hour(tmp_path: Path) -> None:
    path = write(tmp_path, ANDROID_US)
    assert detect(path) is whatsapp
    title = "WhatsApp Chat with Alice"
    assert lines(path) == [
        ("[2023-12-31 21:15] Messages and calls are end-to-end encrypted. No one outside of this chat can read them.",
         f"{title} · 2023-12-31", "line 1 · 2023-12-31 21:15"),
        ("[2023-12-31 21:15] Alice: Happy new year!\nSee you tomorrow", f"{title} · 2023-12-31",
         "line 2 · Alice · 2023-12-31 21:15"),
        ("[2023-12-31 23:58] Bob: [Media omitted]", f"{title} · 2023-12-31", "line 4 · Bob · 2023-12-31 23:58"),
        ("[2024-01-01 00:05] Alice: Back home: safe", f"{title} · 2024-01-01", "line 5 · Alice · 2024-01-01 00:05"),
        ('[2024-01-01 00:06] Alice changed the subject to "Trip: May"', f"{title} · 2024-01-01",
         "line 6 · 2024-01-01 00:06"),
    ]


def test_ios_day_first_with_marks_and_attachments(tmp_path: Path) -> None:
    path = write(tmp_path, IOS_GERMAN, name="_chat.txt")
    texts = [text for text, _, _ in lines(path)]
    assert texts == [
        "[2023-12-31 21:15] Alice: Frohes neues Jahr",
        "[2023-12-31 21:16] Bob: [attached: 00000012-PHOTO-2023-12-31-21-16-10.jpg]",
        "[2024-01-01 00:05] Alice: Danke!",
    ]
    assert read_document(path).title == tmp_path.name.replace("_", " ")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (IOS_US_NARROW_SPACE, ["[2023-12-31 21:15] Alice: hi", "[2024-01-01 00:00] Bob: midnight"]),
        (SPANISH, ["[2023-12-31 21:15] Ana: hola", "[2023-12-31 23:40] Luis: ¡feliz año!"]),
        (ISO, ["[2023-12-31 21:15] Ana: iso dates"]),
    ],
)
def test_locale_variants(tmp_path: Path, text: str, expected: list[str]) -> None:
    assert [line for line, _, _ in lines(write(tmp_path, text))] == expected


def test_ambiguous_dates_resolved_by_the_whole_file(tmp_path: Path) -> None:
    # Every number is <= 12: read month-first, 01/03 would jump back in time; day-first runs forward.
    text = "".join(f"{day}, 10:00 - Ann: note {i}\n" for i, day in enumerate(["01/02/23", "02/02/23", "03/02/23",
                                                                                 "01/03/23"]))
    assert [line[:12] for line, _, _ in lines(write(tmp_path, text))] == [
        "[2023-02-01 ", "[2023-02-02 ", "[2023-02-03 ", "[2023-03-01 "
    ]
    # One second number over 12 settles it month-first for every line.
    text = "02/01/23, 10:00 AM - Ann: a\n02/13/23, 10:00 AM - Ann: b\n"
    assert [line[:11] for line, _, _ in lines(write(tmp_path, text))] == ["[2023-02-01", "[2023-02-13"]


def test_plain_text_is_not_taken_for_a_chat(tmp_path: Path) -> None:
    path = write(tmp_path, "Shopping list\n12 eggs, 1 loaf\n", name="list.txt")
    assert detect(path) is None
    assert read_source(path)[0].title == "list"


def test_zipped_export_with_media(tmp_path: Path) -> None:
    path = tmp_path / "WhatsApp Chat - Alice.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("00000012-PHOTO-2023-12-31-21-16-10.jpg", b"\xff\xd8" + bytes(5000))
        archive.writestr("_chat.txt", IOS_GERMAN)
    assert supported(path) and detect(path) is whatsapp
    document = read_document(path)
    assert document.title == "WhatsApp Chat - Alice"
    assert document.text.splitlines()[0] == "[2023-12-31 21:15] Alice: Frohes neues Jahr"
    other = tmp_path / "photos.zip"
    with zipfile.ZipFile(other, "w") as archive:
        archive.writestr("readme.txt", "Holiday photos")
    assert detect(other) is None and not supported(other)


def test_zipped_export_bomb_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "chat.zip"
    zeros = bytes(1 << 20)
    with (
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive,
        archive.open("_chat.txt", "w", force_zip64=True) as member,
    ):
        member.write(b"[31.12.23, 21:15:03] Alice: hi\n")
        for _ in range(130):
            member.write(zeros)
    with pytest.raises(UnreadableDocument, match=r"zip bomb\?"):
        read_document(path)
