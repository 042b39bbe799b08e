"""Readers for plain text and Markdown, and splitting into memory documents."""

from __future__ import annotations

from pathlib import Path

import pytest

from memsa.ingest.discovery import discover
from memsa.ingest.document import UnreadableDocument
from memsa.ingest.readers import read_document
from memsa.ingest.splitting import split_document


def test_markdown_sections_carry_their_heading(tmp_path: Path) -> None:
    path = tmp_path / "n.md"
    path.write_text(
        "Intro line.\n\n# Trip\nWe fly Friday.\n\nHotel booked.\n\n```\n# not a heading\n```\n## Food\nTarts.\n"
    )
    document = read_document(path)
    assert document.title == "Trip"
    by_heading = [(document.text[s.start : s.end], s.heading) for s in document.sections]
    assert ("# Trip\nWe fly Friday.", "Trip") in by_heading
    assert ("Hotel booked.", "Trip") in by_heading
    assert ("## Food\nTarts.", "Food") in by_heading
    assert ("Intro line.", "") in by_heading
    assert not any(heading == "not a heading" for _, heading in by_heading)


def test_text_decoding_and_binary_refusal(tmp_path: Path) -> None:
    (tmp_path / "latin.txt").write_bytes("caf\xe9 au lait".encode("cp1252"))
    assert read_document(tmp_path / "latin.txt").text == "café au lait"
    (tmp_path / "bom.txt").write_bytes("\ufeffhello".encode("utf-8"))
    assert read_document(tmp_path / "bom.txt").text == "hello"
    (tmp_path / "bin.txt").write_bytes(b"\x00\x01\x02binary")
    with pytest.raises(UnreadableDocument, match="binary"):
        read_document(tmp_path / "bin.txt")
    (tmp_path / "empty.txt").write_text("  \n")
    with pytest.raises(UnreadableDocument, match="empty"):
        read_document(tmp_path / "empty.txt")
    with pytest.raises(UnreadableDocument, match="not a format"):
        read_document(tmp_path / "x.xyz")


def test_split_respects_size_and_maps_back(tmp_path: Path) -> None:
    paragraphs = [f"# Part {i}\n" + " ".join(f"Sentence {i}.{j} is here." for j in range(30)) for i in range(6)]
    path = tmp_path / "long.md"
    path.write_text("\n\n".join(paragraphs))
    document = read_document(path)
    spans = split_document(document, max_chars=500)
    assert all(span.end - span.start <= 500 for span in spans)
    assert all(a.end <= b.start for a, b in zip(spans, spans[1:], strict=False))
    covered = "".join(document.text[s.start : s.end] for s in spans)
    assert "Sentence 5.29 is here." in covered and "Sentence 0.0 is here." in covered
    assert {span.heading for span in spans} == {f"Part {i}" for i in range(6)}


def test_discovery_skips_hidden_and_unsupported(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("a")
    (tmp_path / ".hidden.md").write_text("h")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "b.txt").write_text("b")
    (tmp_path / "pic.png").write_bytes(b"\x89PNG")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "c.txt").write_text("c")
    found = sorted(item.path.relative_to(tmp_path).as_posix() for item in discover([tmp_path]) if not item.problem)
    assert found == ["a.md", "sub/c.txt"]
