"""Ingestion on a tiny random model: outcomes recorded with their change, re-encode only on content change,
section anchors kept per document and named by citations, readable parts kept with their file."""

from __future__ import annotations

import os
from email.message import EmailMessage
from pathlib import Path

import pytest

from memsa.core.answering import build_citations
from memsa.core.engine import MemoryEngine
from memsa.core.memory.records import DocumentRecord
from memsa.ingest import readers
from memsa.ingest.pipeline import ingest_file, ingest_paths
from tests.support.tiny_models import TinyModel
from tests.support.watch_engine import open_tiny_engine


@pytest.fixture()
def engine(tiny_llama: TinyModel, data_dir: Path) -> MemoryEngine:
    with open_tiny_engine(tiny_llama, data_dir) as opened:
        yield opened


def _outcome(engine: MemoryEngine, path: Path) -> tuple[str, str]:
    recorded = engine.bank.ledger.outcome(str(path))
    assert recorded is not None, f"no outcome recorded for {path}"
    return recorded[0].status, recorded[0].reason


def test_every_outcome_is_recorded_and_queryable(engine: MemoryEngine, tmp_path: Path) -> None:
    folder = tmp_path / "notes"
    folder.mkdir()
    good = folder / "cabin.txt"
    good.write_text("the wifi password at the lake cabin is tango 4 2 .")
    (folder / "binary.txt").write_bytes(b"\x00\x01\x02" * 100)
    (folder / "empty.md").write_text("")
    outcomes = {Path(o.path).name: o for o in ingest_paths(engine, [folder])}
    assert outcomes["cabin.txt"].status == "added" and outcomes["cabin.txt"].documents == 1
    assert outcomes["cabin.txt"].tokens > 0
    assert outcomes["binary.txt"].status == "failed" and "binary" in outcomes["binary.txt"].reason
    assert outcomes["empty.md"].status == "failed" and "empty" in outcomes["empty.md"].reason
    ledger = engine.bank.ledger
    assert ledger.counts() == {"added": 1, "failed": 2}
    assert {o.path for o in ledger.outcomes(status="failed")} == {str(folder / "binary.txt"), str(folder / "empty.md")}
    assert all(o.at > 0 for o in ledger.outcomes())
    again = {Path(o.path).name: o.status for o in ingest_paths(engine, [folder])}
    assert again == {"cabin.txt": "unchanged", "binary.txt": "failed", "empty.md": "failed"}


def test_reencodes_only_when_the_content_changes(engine: MemoryEngine, tmp_path: Path) -> None:
    note = tmp_path / "note.txt"
    note.write_text("the manager meeting is at the office on 7 .")
    assert ingest_file(engine, note).status == "added"
    first_ids = engine.bank.document_ids(str(note))
    os.utime(note, ns=(10**18, 10**18))  # a new modification time, the same content
    touched = ingest_file(engine, note)
    assert touched.status == "unchanged" and touched.tokens == 0
    assert engine.bank.document_ids(str(note)) == first_ids
    assert engine.bank.source(str(note)).mtime_ns == 10**18  # type: ignore[union-attr]
    note.write_text("the manager meeting is at the lake on 9 .")
    updated = ingest_file(engine, note)
    assert updated.status == "updated" and updated.tokens > 0
    assert engine.bank.document_ids(str(note)) != first_ids
    assert _outcome(engine, note) == ("updated", "")


def test_a_failure_keeps_what_memory_held(engine: MemoryEngine, tmp_path: Path) -> None:
    note = tmp_path / "note.txt"
    note.write_text("red green blue .")
    ingest_file(engine, note)
    note.write_bytes(b"\x00" * 64)
    failed = ingest_file(engine, note)
    assert failed.status == "failed"
    assert len(engine.bank.document_ids(str(note))) == 1


def _mail(path: Path, attachment: str | None = None) -> Path:
    message = EmailMessage()
    message["From"] = "alice@example.org"
    message["To"] = "bob@example.org"
    message["Subject"] = "cabin"
    message["Message-ID"] = "<cabin-1@example.org>"
    message.set_content("the wifi password at the lake cabin is tango 4 2 .")
    if attachment is not None:
        message.add_attachment(attachment.encode(), maintype="text", subtype="plain", filename="plan.txt")
    path.write_bytes(message.as_bytes())
    return path


def test_section_anchors_are_stored_and_cited(engine: MemoryEngine, tmp_path: Path) -> None:
    mail = _mail(tmp_path / "cabin.eml")
    assert ingest_file(engine, mail).status == "added"
    (record,) = engine.bank.documents(engine.bank.document_ids(str(mail)))
    assert isinstance(record, DocumentRecord)
    assert record.anchors and {anchor for _, _, anchor in record.anchors} == {"<cabin-1@example.org>"}
    routed = engine.retrieve("what is the wifi password ?", top_k=1)
    citations = build_citations(routed, {record.doc_id: record}, engine.settings.answer)
    assert citations and citations[0].anchor == "<cabin-1@example.org>"


@pytest.mark.skipif(not hasattr(readers, "read_source"), reason="the readers do not offer read_source yet")
def test_readable_parts_go_with_their_file(engine: MemoryEngine, tmp_path: Path) -> None:
    mail = _mail(tmp_path / "cabin.eml", attachment="the spare key is under the blue flowerpot .")
    outcome = ingest_file(engine, mail)
    assert outcome.status == "added" and outcome.documents == 2
    parts = engine.bank.parts_of(str(mail))
    assert len(parts) == 1 and parts[0].path.startswith(f"{mail}#")
    part_ids = engine.bank.document_ids(parts[0].path)
    moved = tmp_path / "moved.eml"
    engine.bank.rename_tree(str(mail), str(moved))
    assert [part.path.split("#", 1)[0] for part in engine.bank.parts_of(str(moved))] == [str(moved)]
    assert engine.bank.document_ids(engine.bank.parts_of(str(moved))[0].path) == part_ids
    _mail(moved)  # the attachment is gone from the mail
    assert ingest_file(engine, moved).status == "updated"
    assert engine.bank.parts_of(str(moved)) == []
    assert engine.bank.forget_tree(str(moved)) == 1
    assert engine.bank.sources() == []
