"""WatchService on a tiny random model: live events, start-up reconcile, renames without re-encoding."""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterator
from contextlib import nullcontext
from pathlib import Path

import pytest

from memsa.core.engine import MemoryEngine
from memsa.core.memory.records import QueueEvent
from memsa.ingest.ignoring import IgnoreRules
from memsa.ingest.pipeline import ingest_file
from memsa.ingest.watching import QueueProgress, WatchService
from memsa.ingest.watching.worker import PathProcessor, RootRules
from tests.support.tiny_models import TinyModel
from tests.support.watch_engine import open_tiny_engine, wait_for


@pytest.fixture()
def engine(tiny_llama: TinyModel, data_dir: Path) -> Iterator[MemoryEngine]:
    with open_tiny_engine(tiny_llama, data_dir) as opened:
        yield opened


def _status(engine: MemoryEngine, path: Path) -> str | None:
    recorded = engine.bank.ledger.outcome(str(path))
    return recorded[0].status if recorded else None


def _remembered(engine: MemoryEngine, path: Path, status: str, words: str) -> bool:
    """``path`` was remembered with ``words`` in it and its outcome says so.

    A save raises several events (created, modified, closed); one that arrives after the file was read finds
    it unchanged and records that, so "unchanged" after the expected status is a correct outcome too.
    """
    ids = engine.bank.document_ids(str(path))
    held = " ".join(record.text for record in engine.bank.documents(ids))
    return words in held and _status(engine, path) in (status, "unchanged")


def _idle(service: WatchService) -> bool:
    return service.pending() == 0


def test_changes_propagate_while_watching(engine: MemoryEngine, tmp_path: Path) -> None:
    root = tmp_path / "notes"
    root.mkdir()
    (root / "cabin.txt").write_text("the wifi password at the lake cabin is tango 4 2 .")
    progress: list[QueueProgress] = []
    lock = threading.RLock()
    service = WatchService(engine, engine_lock=lock, quiet_seconds=0.2, listener=progress.append)
    service.start()
    try:
        watched = service.add_root(root, excludes=("*.tmp",))
        assert watched.path == str(root) and watched.excludes == ("*.tmp",)
        wait_for(lambda: _status(engine, root / "cabin.txt") == "added", "the first file")

        note = root / "work.txt"
        note.write_text("the manager meeting is at the office .")
        (root / "scratch.tmp").write_text("excluded words .")
        wait_for(lambda: _remembered(engine, note, "added", "office"), "a created file")
        note.write_text("the manager meeting is at the lake .")
        wait_for(lambda: _remembered(engine, note, "updated", "lake"), "a modified file")
        ids = engine.bank.document_ids(str(note))

        renamed = root / "meeting.txt"
        note.rename(renamed)
        wait_for(lambda: _status(engine, renamed) == "moved", "a renamed file")
        assert engine.bank.document_ids(str(renamed)) == ids  # not encoded again
        assert engine.bank.source(str(note)) is None and _status(engine, note) is None

        folder = root / "trip"
        folder.mkdir()
        (folder / "plan.txt").write_text("alpha bravo charlie on 7 .")
        wait_for(lambda: _remembered(engine, folder / "plan.txt", "added", "bravo"), "a file in a new folder")
        plan_ids = engine.bank.document_ids(str(folder / "plan.txt"))
        folder.rename(root / "journey")
        wait_for(lambda: engine.bank.document_ids(str(root / "journey" / "plan.txt")) == plan_ids, "a moved folder")
        wait_for(lambda: engine.bank.source(str(folder / "plan.txt")) is None, "the old folder to be forgotten")

        (root / ".memsaignore").write_text("journey/\n")
        wait_for(lambda: not engine.bank.sources_under(str(root / "journey")), "an ignored folder to be forgotten")
        renamed.unlink()
        wait_for(lambda: engine.bank.source(str(renamed)) is None, "a deleted file")
        wait_for(lambda: _idle(service), "the queue to empty")
        assert {source.path for source in engine.bank.sources()} == {str(root / "cabin.txt")}
        assert engine.bank.source(str(root / "scratch.tmp")) is None
        (counts,) = [watched.counts for watched in service.roots()]
        assert counts == {"added": 1}
    finally:
        service.stop()
    latest = [event.latest for event in progress if event.latest is not None]
    assert {outcome.status for outcome in latest} >= {"added", "updated", "moved", "removed"}
    assert progress[-1].total >= progress[-1].done


def test_start_up_reconcile_catches_up_with_changes_made_while_closed(engine: MemoryEngine, tmp_path: Path) -> None:
    root = tmp_path / "notes"
    (root / "sub").mkdir(parents=True)
    texts = {"keep.txt": "red green blue .", "edit.txt": "alpha bravo .", "gone.txt": "golf hotel .",
             "sub/move.txt": "the wifi password is 4 2 ."}
    for name, text in texts.items():
        (root / name).write_text(text)
    service = WatchService(engine, quiet_seconds=0.1)
    service.add_root(root)
    service.start()
    wait_for(lambda: len(engine.bank.sources()) == 4, "the first reconcile")
    service.stop()
    moved_ids = engine.bank.document_ids(str(root / "sub" / "move.txt"))
    keep_ids = engine.bank.document_ids(str(root / "keep.txt"))

    (root / "edit.txt").write_text("alpha bravo charlie delta .")
    (root / "gone.txt").unlink()
    (root / "elsewhere").mkdir()
    shutil.move(root / "sub" / "move.txt", root / "elsewhere" / "moved.txt")
    (root / "new.txt").write_text("kilo lima mike .")

    restarted = WatchService(engine, quiet_seconds=0.1)
    restarted.start()
    try:
        wait_for(lambda: _status(engine, root / "new.txt") == "added", "a file added while closed")
        wait_for(lambda: _idle(restarted), "the queue to empty")
    finally:
        restarted.stop()
    assert _status(engine, root / "edit.txt") == "updated"
    assert _status(engine, root / "elsewhere" / "moved.txt") == "moved"
    assert engine.bank.document_ids(str(root / "elsewhere" / "moved.txt")) == moved_ids
    assert engine.bank.document_ids(str(root / "keep.txt")) == keep_ids
    assert engine.bank.source(str(root / "gone.txt")) is None and _status(engine, root / "gone.txt") is None
    (watched,) = restarted.roots()
    assert watched.last_scan is not None


def test_pause_one_off_paths_and_forgetting_a_root(engine: MemoryEngine, tmp_path: Path) -> None:
    root = tmp_path / "notes"
    root.mkdir()
    (root / "a.txt").write_text("alpha .")
    dropped = tmp_path / "dropped.txt"
    dropped.write_text("bravo .")
    service = WatchService(engine, quiet_seconds=0.1)
    service.start()
    try:
        service.pause()
        service.add_root(root)
        service.enqueue([dropped])
        assert service.paused and service.pending() == 2
        service.resume()
        wait_for(lambda: _status(engine, dropped) == "added", "a one-off file")
        wait_for(lambda: _status(engine, root / "a.txt") == "added", "the root's file")
        assert [outcome.path for outcome in service.outcomes(status="added")] != []
        service.remove_root(root, forget=True)
        assert service.roots() == [] and engine.bank.source(str(root / "a.txt")) is None
        assert engine.bank.source(str(dropped)) is not None
    finally:
        service.stop()


def _slack_day(folder: Path, day: str, text: str) -> None:
    messages = [{"type": "message", "user": "U1", "text": text, "ts": "1704067200.000100"}]
    (folder / "general").mkdir(exist_ok=True)
    (folder / "general" / f"{day}.json").write_text(json.dumps(messages))


def test_an_export_folder_is_one_source_and_follows_its_files(engine: MemoryEngine, tmp_path: Path) -> None:
    root = tmp_path / "archive"
    export = root / "slack-export"
    export.mkdir(parents=True)
    (export / "users.json").write_text(json.dumps([{"id": "U1", "name": "alice"}]))
    (export / "channels.json").write_text(json.dumps([{"id": "C1", "name": "general"}]))
    _slack_day(export, "2024-01-01", "the wifi password is tango 4 2")
    service = WatchService(engine, quiet_seconds=0.1)
    service.start()
    try:
        service.add_root(root)
        wait_for(lambda: _status(engine, export) == "added", "the export folder")
        (record,) = engine.bank.documents(engine.bank.document_ids(str(export)))
        assert record.anchors, "chat messages carry anchors"
        _slack_day(export, "2024-01-02", "the manager meeting is at the office")
        wait_for(lambda: _status(engine, export) == "updated", "the export to be read again")
        wait_for(lambda: _idle(service), "the queue to empty")
    finally:
        service.stop()
    assert [source.path for source in engine.bank.sources()] == [str(export)]


def test_a_move_out_of_every_watched_folder_forgets_the_file(engine: MemoryEngine, tmp_path: Path) -> None:
    root = tmp_path / "notes"
    root.mkdir()
    note = root / "a.txt"
    note.write_text("alpha bravo .")
    rules = RootRules(root, IgnoreRules(root))
    processor = PathProcessor(engine, nullcontext(), lambda path: rules if root in path.parents else None,
                              lambda folder: [], [], 3000)
    assert ingest_file(engine, note).status == "added"
    outside = tmp_path / "elsewhere.txt"
    note.rename(outside)
    # Some platforms report this as a move to an unwatched place rather than as a deletion.
    engine.bank.ledger.record([QueueEvent(str(note), "moved", 0.0, destination=str(outside))])
    (entries,) = engine.bank.ledger.due(quiet_before=1.0)
    outcome = processor.process(entries)
    assert outcome is not None and outcome.status == "removed"
    assert engine.bank.sources() == [] and engine.bank.ledger.counts() == {} and engine.bank.ledger.pending() == 0
