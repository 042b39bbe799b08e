"""HTML reader: block text as paragraphs, h1–h6 as headings, page chrome and scripts dropped."""

from __future__ import annotations

from pathlib import Path

import pytest

from memsa.ingest.document import UnreadableDocument
from memsa.ingest.readers import read_document
from memsa.ingest.readers.html import extract

PAGE = """<!doctype html>
<html><head><title>Lyon  &amp; trip</title><style>p { color: red }</style>
<script>var hidden = "script text";</script></head>
<body>
<header><a href="/">Site name</a></header>
<nav><ul><li>Home</li><li>About</li></ul></nav>
<p>Intro   text with <b>bold</b> and
a line wrap.</p>
<h1>Trip <em>plans</em></h1>
<div>We fly on Friday.<br>Back on Monday.</div>
<ul><li>Passport</li><li>Tickets &eacute;lectroniques</li></ul>
<h2>Food</h2>
<table><tr><th>Place</th><th>Dish</th></tr><tr><td>Bouchon</td><td>Quenelles</td></tr></table>
<pre>line one
    indented</pre>
<footer>Copyright 2024</footer>
</body></html>"""


def test_blocks_headings_and_title(tmp_path: Path) -> None:
    path = tmp_path / "trip.html"
    path.write_text(PAGE, encoding="utf-8")
    document = read_document(path)
    assert document.title == "Lyon & trip"
    assert [(document.text[s.start : s.end], s.heading) for s in document.sections] == [
        ("Intro text with bold and a line wrap.", ""),
        ("Trip plans", "Trip plans"),
        ("We fly on Friday.\nBack on Monday.", "Trip plans"),
        ("Passport", "Trip plans"),
        ("Tickets électroniques", "Trip plans"),
        ("Food", "Food"),
        ("Place | Dish", "Food"),
        ("Bouchon | Quenelles", "Food"),
        ("line one\n    indented", "Food"),
    ]
    for dropped in ("Site name", "Home", "script text", "color", "Copyright"):
        assert dropped not in document.text


def test_fragment_without_title_uses_first_heading_then_stem(tmp_path: Path) -> None:
    (tmp_path / "a.htm").write_text("<h3>Notes</h3><p>One.</p>")
    assert read_document(tmp_path / "a.htm").title == "Notes"
    (tmp_path / "b.htm").write_text("Bare text <i>only</i>")
    document = read_document(tmp_path / "b.htm")
    assert (document.title, document.text) == ("b", "Bare text only")


def test_declared_charset_is_honoured(tmp_path: Path) -> None:
    path = tmp_path / "latin.html"
    path.write_bytes('<meta charset="iso-8859-1"><p>caf\xe9</p>'.encode("latin-1"))
    assert read_document(path).text == "café"


def test_page_with_only_chrome_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "empty.html"
    path.write_text("<html><head><title>T</title></head><body><nav>Menu</nav><script>x()</script></body></html>")
    with pytest.raises(UnreadableDocument, match="no readable text"):
        read_document(path)


def test_extract_tolerates_broken_markup() -> None:
    page = extract("<p>Unclosed <b>bold<div>Next block</p></span><h2>Tail")
    assert page.text == "Unclosed bold\n\nNext block\n\nTail"
    assert page.first_heading == "Tail"


def test_unknown_marked_sections_are_skipped_not_fatal(tmp_path: Path) -> None:
    path = tmp_path / "word-export.html"
    path.write_text("<p>Before</p><![foo bar]><p>After</p><![if !supportLists]>-<![endif]><p>End</p>")
    assert read_document(path).text == "Before\n\nAfter\n\n-\n\nEnd"
