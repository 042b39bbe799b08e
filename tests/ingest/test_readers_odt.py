"""OpenDocument text: headings, paragraphs, lists, tables, inline markup, title, refusals."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from memsa.ingest.document import UnreadableDocument
from memsa.ingest.readers import read_document
from tests.ingest.builders import write_odt

BODY = (
    '<text:h text:outline-level="1">Trip to Lisbon</text:h>'
    "<text:p>We fly on <text:span>Friday</text:span>,<text:s text:c=\"2\"/>early.<text:line-break/>Gate 12."
    "<text:note><text:note-citation>1</text:note-citation><text:note-body><text:p>TAP flight</text:p>"
    "</text:note-body></text:note></text:p>"
    "<text:list><text:list-item><text:p>passport</text:p></text:list-item>"
    "<text:list-item><text:p>charger</text:p><text:list><text:list-item><text:p>USB-C</text:p></text:list-item>"
    "</text:list></text:list-item></text:list>"
    '<text:section text:name="s1"><text:h text:outline-level="2">Budget</text:h>'
    "<table:table><table:table-header-rows><table:table-row><table:table-cell><text:p>Item</text:p>"
    "</table:table-cell><table:table-cell><text:p>Cost</text:p></table:table-cell></table:table-row>"
    "</table:table-header-rows><table:table-row><table:table-cell><text:p>Hotel</text:p></table:table-cell>"
    "<table:table-cell><text:p>400 EUR</text:p></table:table-cell></table:table-row></table:table></text:section>"
)


def test_structure_becomes_sections_under_headings(tmp_path: Path) -> None:
    document = read_document(write_odt(tmp_path / "trip.odt", BODY))
    pieces = [(document.text[s.start : s.end], s.heading) for s in document.sections]
    assert pieces == [
        ("Trip to Lisbon", "Trip to Lisbon"),
        ("We fly on Friday,  early.\nGate 12. (TAP flight)", "Trip to Lisbon"),
        ("- passport", "Trip to Lisbon"),
        ("- charger", "Trip to Lisbon"),
        ("- USB-C", "Trip to Lisbon"),
        ("Budget", "Budget"),
        ("Item | Cost", "Budget"),
        ("Hotel | 400 EUR", "Budget"),
    ]
    assert document.title == "Trip to Lisbon"


def test_title_from_metadata(tmp_path: Path) -> None:
    document = read_document(write_odt(tmp_path / "t.odt", "<text:p>Body only.</text:p>", title="Minutes, May"))
    assert document.title == "Minutes, May"
    assert read_document(write_odt(tmp_path / "plain.odt", "<text:p>Body only.</text:p>")).title == "plain"


def test_refusals(tmp_path: Path) -> None:
    (tmp_path / "fake.odt").write_text("renamed text file")
    with pytest.raises(UnreadableDocument, match="^not a readable OpenDocument text"):
        read_document(tmp_path / "fake.odt")
    with pytest.raises(UnreadableDocument, match="^document has no text$"):
        read_document(write_odt(tmp_path / "empty.odt", "<text:p/>"))
    locked = write_odt(tmp_path / "locked.odt", "<text:p>x</text:p>", manifest_extra="<manifest:encryption-data/>")
    with pytest.raises(UnreadableDocument, match="^OpenDocument text is password-protected$"):
        read_document(locked)
    broken = write_odt(tmp_path / "broken.odt", "<text:p>unclosed")
    with pytest.raises(UnreadableDocument, match="content.xml is damaged"):
        read_document(broken)


def test_external_entities_are_not_fetched(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP SECRET")
    body = "<text:p>before &xxe; after</text:p>"
    path = write_odt(tmp_path / "xxe.odt", body)
    with zipfile.ZipFile(path) as archive:
        content = archive.read("content.xml").decode()
    doctype = f'<!DOCTYPE office:document-content [<!ENTITY xxe SYSTEM "file://{secret}">]>'
    content = content.replace("?>", "?>" + doctype, 1)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("content.xml", content)
    document = read_document(path)
    assert "TOP SECRET" not in document.text and "after" in document.text
