"""The façade over a real engine (tiny random model) and the real watch service: signals, coalescing, threads."""

from __future__ import annotations

from pathlib import Path

from pytestqt.qtbot import QtBot

from memsa.app.gui.engine_host import AnswerDone
from memsa.app.gui.facade import MemoryFacade
from memsa.app.gui.records import EngineInfo, FailedFile, IngestStatus, Passage, SourceRoot
from memsa.core.settings import EngineSettings


def started(qtbot: QtBot, settings: EngineSettings) -> MemoryFacade:
    facade = MemoryFacade(settings, quiet_seconds=0.0)
    with qtbot.waitSignal(facade.engine_ready, timeout=60_000) as ready:
        facade.start()
    info = ready.args[0]
    assert isinstance(info, EngineInfo) and info.data_dir == str(settings.data_dir) and info.answers_by == "torch"
    return facade


def test_remember_a_folder_then_answer_with_citations(qtbot: QtBot, tiny_settings: EngineSettings, notes: Path) -> None:
    facade = started(qtbot, tiny_settings)
    progress: list[IngestStatus] = []
    roots: list[list[SourceRoot]] = []
    failures: list[list[FailedFile]] = []
    facade.ingest_progress.connect(progress.append)
    facade.sources_changed.connect(roots.append)
    facade.failures_changed.connect(failures.append)
    try:
        facade.add_root(notes, excludes=("*.txt",))
        qtbot.waitUntil(lambda: bool(progress) and progress[-1].total > 0 and not progress[-1].busy, timeout=60_000)
        qtbot.waitUntil(lambda: bool(roots) and roots[-1] and roots[-1][0].files == 3, timeout=10_000)
        [root] = roots[-1]
        assert root.path == str(notes.resolve()) and root.excludes == ("*.txt",)
        assert root.remembered == 2 and root.failed == 1  # colours.txt is excluded, broken.pdf fails
        assert progress[-1].tokens > 0 and progress[-1].done == progress[-1].total
        assert [Path(failed.path).name for failed in failures[-1]] == ["broken.pdf"] and failures[-1][0].reason

        chunks: list[str] = []
        facade.answer_text.connect(lambda key, text: chunks.append(text))
        with qtbot.waitSignal(facade.answer_finished, timeout=60_000) as finished:
            key = facade.ask("what is the wifi password at the lake cabin ?", top_k=4)
        assert finished.args[0] == key
        done = finished.args[1]
        assert isinstance(done, AnswerDone) and not done.stopped and not done.abstained
        assert "".join(chunks).strip() == done.text  # coalesced pieces add up to the whole answer
        assert {Path(citation.path).name for citation in done.citations} <= {"cabin.md", "office.md"}
        assert done.citations

        citation = done.citations[0]
        with qtbot.waitSignal(facade.passage_ready, timeout=10_000) as loaded:
            facade.load_passage(citation)
        passage = loaded.args[0]
        assert isinstance(passage, Passage) and passage.citation == citation
        assert passage.context[passage.start : passage.end].strip() == citation.snippet

        facade.apply_ignore_rules(())  # colours.txt is no longer excluded: it is read at once
        qtbot.waitUntil(lambda: roots[-1][0].excludes == () and roots[-1][0].remembered == 3, timeout=60_000)
    finally:
        facade.shutdown()


def test_stop_ends_the_answer_at_the_next_event(qtbot: QtBot, tiny_settings: EngineSettings, notes: Path) -> None:
    facade = started(qtbot, tiny_settings)
    try:
        progress: list[IngestStatus] = []
        facade.ingest_progress.connect(progress.append)
        facade.enqueue([notes / "cabin.md"])  # a one-off file: remembered, not watched
        qtbot.waitUntil(lambda: bool(progress) and progress[-1].total > 0 and not progress[-1].busy, timeout=60_000)
        assert facade.settings.data_dir.joinpath("bank").is_dir()
        with qtbot.waitSignal(facade.answer_finished, timeout=60_000) as finished:
            facade.ask("wifi password ?")
            facade.stop_answer()  # before the engine's first event reaches the host
        done = finished.args[1]
        assert done.stopped and done.citations == [] and done.text == ""
        with qtbot.waitSignal(facade.answer_finished, timeout=60_000) as again:
            facade.ask("wifi password ?")  # a new question is not stopped by the old request
        assert not again.args[1].stopped
    finally:
        facade.shutdown()


def test_a_missing_model_is_reported_not_raised(qtbot: QtBot, tmp_path: Path) -> None:
    facade = MemoryFacade(EngineSettings(data_dir=tmp_path / "memory", model=str(tmp_path / "nothing.gguf")))
    with qtbot.waitSignal(facade.engine_failed, timeout=30_000) as failed:
        facade.start()
    assert "nothing.gguf" in failed.args[0]
    failures: list[int] = []
    facade.answer_failed.connect(lambda key, message: failures.append(key))
    key = facade.ask("anything?")
    qtbot.waitUntil(lambda: failures == [key], timeout=5_000)
    facade.shutdown()


def test_restart_reopens_memory_with_new_settings(qtbot: QtBot, tiny_settings: EngineSettings, tmp_path: Path) -> None:
    from dataclasses import replace

    facade = started(qtbot, tiny_settings)
    try:
        moved = replace(tiny_settings, data_dir=tmp_path / "elsewhere")
        (moved.data_dir / "routers").mkdir(parents=True)
        for router in (tiny_settings.data_dir / "routers").iterdir():
            (moved.data_dir / "routers" / router.name).write_bytes(router.read_bytes())
        with qtbot.waitSignal(facade.engine_ready, timeout=60_000) as ready:
            facade.restart(moved)
        assert ready.args[0].data_dir == str(moved.data_dir) and facade.ready
        with qtbot.waitSignal(facade.engine_ready, timeout=60_000):
            facade.restart(tiny_settings)  # the same folder again: the first engine must have let go of it
    finally:
        facade.shutdown()
