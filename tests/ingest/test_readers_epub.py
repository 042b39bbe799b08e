"""EPUB: spine order, chapter titles and anchors, metadata title, DRM and damaged books."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from memsa.ingest.document import UnreadableDocument
from memsa.ingest.readers import read_document
from tests.ingest.builders import chapter_xhtml, write_epub

CHAPTERS = [
    ("intro.xhtml", chapter_xhtml("Intro", "<p>Before the storm the harbour was calm.</p>")),
    (
        "storm.xhtml",
        chapter_xhtml("Storm", "<h1>The Storm</h1><p>Waves broke the pier.</p><h2>After</h2><p>Quiet.</p>"),
    ),
    ("cover.xhtml", chapter_xhtml("", "<div><img src='cover.jpg'/></div>")),
]


def test_chapters_follow_the_spine_with_anchors(tmp_path: Path) -> None:
    path = write_epub(tmp_path / "book.epub", CHAPTERS, title="Harbour Tales", spine_order=[2, 1, 0])
    document = read_document(path)
    assert document.title == "Harbour Tales"
    pieces = [(document.text[s.start : s.end], s.heading, s.anchor) for s in document.sections]
    assert pieces == [
        ("The Storm", "The Storm", "chapter 1: The Storm"),
        ("Waves broke the pier.", "The Storm", "chapter 1: The Storm"),
        ("After", "After", "chapter 1: The Storm"),
        ("Quiet.", "After", "chapter 1: The Storm"),
        ("Before the storm the harbour was calm.", "Intro", "chapter 2: Intro"),
    ]


def test_drm_protected_book_is_refused(tmp_path: Path) -> None:
    path = write_epub(tmp_path / "drm.epub", CHAPTERS, encrypted=True)
    with pytest.raises(UnreadableDocument, match=r"^EPUB book is DRM-protected"):
        read_document(path)


def test_damaged_books_are_refused(tmp_path: Path) -> None:
    with zipfile.ZipFile(tmp_path / "no-container.epub", "w") as archive:
        archive.writestr("mimetype", "application/epub+zip")
    with pytest.raises(UnreadableDocument, match="no META-INF/container.xml"):
        read_document(tmp_path / "no-container.epub")
    whole = write_epub(tmp_path / "whole.epub", CHAPTERS).read_bytes()
    (tmp_path / "cut.epub").write_bytes(whole[: len(whole) // 2])
    with pytest.raises(UnreadableDocument, match="^not a readable EPUB book"):
        read_document(tmp_path / "cut.epub")
    empty = write_epub(tmp_path / "empty.epub", [CHAPTERS[2]])
    with pytest.raises(UnreadableDocument, match="no readable chapters"):
        read_document(empty)


def test_missing_chapter_file_does_not_cost_the_rest(tmp_path: Path) -> None:
    path = write_epub(tmp_path / "gap.epub", CHAPTERS)
    kept = tmp_path / "kept.epub"
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(kept, "w") as target:
        for info in source.infolist():
            if not info.filename.endswith("storm.xhtml"):
                target.writestr(info, source.read(info))
    assert read_document(kept).text == "Before the storm the harbour was calm."


def test_navigation_document_is_not_read_as_a_chapter(tmp_path: Path) -> None:
    toc = ("nav.xhtml", chapter_xhtml("Contents", "<nav><ol><li>Intro</li><li>Storm</li></ol></nav><p>Contents</p>"))
    path = write_epub(tmp_path / "nav.epub", [toc, *CHAPTERS[:1]], navigation=True)
    assert read_document(path).text == "Before the storm the harbour was calm."
