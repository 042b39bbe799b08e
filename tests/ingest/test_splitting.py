"""Splitting into memory documents: size bound, structure boundaries, overlap-free spans, anchors carried."""

from __future__ import annotations

import random

import pytest

from memsa.ingest.document import Section, SourceDocument, join_parts
from memsa.ingest.splitting import split_document


def chat(days: dict[str, list[str]]) -> SourceDocument:
    """A chat-shaped document: one section per message, headed by the day, anchored by message number."""
    parts, number = [], 0
    for day, messages in days.items():
        lines, sections, offset = [], [], 0
        for message in messages:
            number += 1
            line = f"[{day} 10:00] Ann: {message}"
            sections.append(Section(offset, offset + len(line), f"Chat · {day}", f"msg {number}"))
            lines.append(line)
            offset += len(line) + 1
        parts.append(("\n".join(lines), sections))
    text, sections = join_parts(parts)
    return SourceDocument("chat.json", text, "Chat", sections)


def test_days_of_a_chat_become_their_own_documents() -> None:
    document = chat({"2024-03-01": ["word " * 40] * 5, "2024-03-02": ["more " * 40] * 5, "2024-03-03": ["end"]})
    spans = split_document(document, max_chars=3000)
    assert [span.heading for span in spans] == ["Chat · 2024-03-01", "Chat · 2024-03-02"]  # the tiny day joins
    assert [anchor for *_, anchor in spans[0].anchors] == [f"msg {n}" for n in range(1, 6)]
    assert [anchor for *_, anchor in spans[1].anchors] == [f"msg {n}" for n in range(6, 12)]
    for span in spans:
        for start, end, anchor in span.anchors:
            assert span.start <= start < end <= span.end
            assert document.text[start:end].startswith("[2024-03-0")
            assert anchor.startswith("msg ")


def test_messages_are_never_cut_unless_one_alone_is_too_long() -> None:
    document = chat({"2024-03-01": [f"message {i} " + "x" * 90 for i in range(100)]})
    spans = split_document(document, max_chars=1000)
    bounds = {(s.start, s.end) for s in document.sections}
    starts, ends = {start for start, _ in bounds}, {end for _, end in bounds}
    assert all(span.start in starts and span.end in ends for span in spans)
    long_one = chat({"2024-03-01": ["Short hello.", "A sentence here. " * 200]})
    spans = split_document(long_one, max_chars=1000)
    assert all(span.end - span.start <= 1000 for span in spans)
    assert [[anchor for *_, anchor in span.anchors] for span in spans] == [["msg 1"]] + [["msg 2"]] * (len(spans) - 1)


def test_pdf_pages_start_new_documents_once_big_enough() -> None:
    pages = [("Page text. " * 60, [Section(0, 660, f"page {n}", f"page {n}")]) for n in range(1, 5)]
    text, sections = join_parts(pages)
    spans = split_document(SourceDocument("r.pdf", text, "r", sections), max_chars=3000)
    assert [span.heading for span in spans] == ["page 1", "page 2", "page 3", "page 4"]
    assert [span.anchors[0][2] for span in spans] == ["page 1", "page 2", "page 3", "page 4"]


def test_max_chars_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        split_document(SourceDocument("a", "a", "a", [Section(0, 1)]), max_chars=0)


@pytest.mark.parametrize("seed", range(20))
def test_random_documents_keep_every_invariant(seed: int) -> None:
    generator = random.Random(seed)
    words = ["alpha", "beta.", "gamma!", "delta?", "\n", "epsilon", "zeta" * 30]
    parts = []
    for index in range(generator.randint(1, 40)):
        body = " ".join(generator.choice(words) for _ in range(generator.randint(1, 400))).strip() or "x"
        heading = f"h{generator.randint(0, 3)}"
        anchor = generator.choice(["", f"a{index}"])
        parts.append((body, [Section(0, len(body), heading, anchor)]))
    text, sections = join_parts(parts)
    document = SourceDocument("doc", text, "doc", sections)
    max_chars = generator.choice([50, 300, 3000])
    spans = split_document(document, max_chars)
    assert all(0 < span.end - span.start <= max_chars for span in spans)
    assert all(a.end <= b.start for a, b in zip(spans, spans[1:], strict=False))
    covered = "".join(text[s.start : s.end] for s in spans)
    assert "".join(covered.split()) == "".join("".join(text[s.start : s.end] for s in sections).split())
    for span in spans:
        assert all(span.start <= start < end <= span.end for start, end, _ in span.anchors)
        assert all(a[1] <= b[0] for a, b in zip(span.anchors, span.anchors[1:], strict=False))
