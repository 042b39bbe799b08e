"""The views alone: the chat streams and stops, chips open citations, panels and forms behave."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QDesktopServices
from pytestqt.qtbot import QtBot

from memsa.app.gui.chat_view import ChatView
from memsa.app.gui.citation_panel import CitationPanel, passage_html
from memsa.app.gui.preferences import Preferences
from memsa.app.gui.records import CitationView, IngestStatus, Passage, Turn
from memsa.app.gui.settings_view import SettingsView
from memsa.app.gui.single_instance import SingleInstance
from memsa.app.gui.sources_view import SourcesView, format_duration, progress_text
from memsa.app.gui.stall_monitor import StallMonitor

CITATION = CitationView(doc_id=2, path="/notes/health.md", start=100, end=130, score=0.4,
                        snippet="Dentist on Tuesday 14 March", anchor="page 3")


def test_chat_asks_streams_stops_and_shows_citations(qtbot: QtBot) -> None:
    chat = ChatView()
    qtbot.addWidget(chat)
    chat.set_ready(True, "ready")
    with qtbot.waitSignal(chat.question_submitted) as asked:
        chat.composer.setPlainText("  When is the dentist?  ")
        qtbot.keyClick(chat.composer, Qt.Key.Key_Return)
    assert asked.args == ["When is the dentist?"] and chat.composer.toPlainText() == ""

    turn = chat.begin_turn("When is the dentist?")
    assert chat.busy and chat.send_button.text() == "Stop"
    chat.append_text("On Tues")
    chat.append_text("day.")
    chat.add_step("Round 1: looked at health.md")
    assert turn.answer_label.text() == "On Tuesday."
    with qtbot.waitSignal(chat.stop_requested):
        qtbot.mouseClick(chat.send_button, Qt.MouseButton.LeftButton)
    with qtbot.waitSignal(chat.stop_requested):
        qtbot.keyClick(chat.composer, Qt.Key.Key_Escape)

    chat.finish_turn(Turn("When is the dentist?", "On Tuesday [2].", [CITATION], turn.turn.steps, "done"))
    assert not chat.busy and chat.send_button.text() == "Ask"
    [chip] = turn.chip_buttons()
    assert "health.md · page 3" in chip.text()
    with qtbot.waitSignal(chat.citation_clicked) as clicked:
        qtbot.mouseClick(chip, Qt.MouseButton.LeftButton)
    assert clicked.args == [CITATION]


def test_chat_refuses_to_send_until_ready_and_shows_stored_turns(qtbot: QtBot) -> None:
    chat = ChatView()
    qtbot.addWidget(chat)
    with qtbot.assertNotEmitted(chat.question_submitted):
        chat.composer.setPlainText("hello?")
        chat.submit()
    assert not chat.send_button.isEnabled()
    chat.show_turns([Turn("a?", "b.", [CITATION], [], "done"), Turn("c?", "d", [], [], "stopped")])
    widgets = chat.turn_widgets()
    assert len(widgets) == 2 and len(widgets[0].chip_buttons()) == 1
    assert widgets[1].status_label.text() == "Stopped"
    chat.show_turns([])
    qtbot.waitUntil(lambda: len(chat.turn_widgets()) == 0)
    assert not chat.empty.isHidden()


def test_citation_panel_highlights_the_passage_and_opens_the_file(
    qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "health.md"
    source.write_text("x")
    citation = CitationView(1, f"{source}#msg-3/scan.pdf", 10, 20, 0.5, "cited text", anchor="")
    panel = CitationPanel()
    qtbot.addWidget(panel)
    context = "before <b> cited text after"
    start = context.index("cited text")
    passage = Passage(citation, context, start, start + len("cited text"))
    marked = passage_html(passage, "#ffe58a", "#000000")
    assert '<span style="background-color:#ffe58a; color:#000000;">cited text</span> after' in marked
    assert "&lt;b&gt;" in marked  # the context is text, never markup
    panel.set_colours("#ffe58a", "#000000")
    panel.show_passage(passage)
    assert "background-color:#ffe58a" in panel.text.toHtml() and panel.text.toPlainText() == context
    assert panel.title.text() == "health.md" and panel.anchor.text() == "part msg-3/scan.pdf"
    opened: list[str] = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url.toLocalFile()) or True)
    assert panel.open_button.isEnabled() and panel.open_file()
    assert opened == [str(source)]  # the containing file, not the part


def test_settings_refuse_invalid_values_with_a_message(qtbot: QtBot, tmp_path: Path) -> None:
    view = SettingsView(Preferences(data_dir=tmp_path / "memory"), gpu_available=False)
    qtbot.addWidget(view)
    assert view.device.count() == 1  # no GPU: CPU only
    view.top_k.setText("many")
    with qtbot.assertNotEmitted(view.saved):
        assert not view.save()
    assert "not a whole number" in view.message.text()
    view.top_k.setText("8")
    view.model.setText(str(tmp_path / "missing.gguf"))
    assert not view.save() and "does not exist" in view.message.text()
    view.model.clear()
    view.ignore_rules.setPlainText("*.log\n\ndrafts/")
    view.theme.setCurrentIndex(view.theme.findData("dark"))
    with qtbot.waitSignal(view.saved) as saved:
        assert view.save()
    chosen = saved.args[0]
    assert chosen.top_k == 8 and chosen.ignore_rules == ("*.log", "drafts/") and chosen.theme == "dark"
    assert chosen.model is None and view.message.text() == "Saved."


def test_sources_view_shows_progress_and_failures(qtbot: QtBot) -> None:
    view = SourcesView()
    qtbot.addWidget(view)
    view.set_status(IngestStatus(done=12, total=50, tokens=6340, files_per_s=3.1, tokens_per_s=1200, eta_s=13,
                                 current="/n/a.md"))
    assert view.progress.value() == 12 and view.progress.maximum() == 50
    assert view.counts.text() == "12 of 50 items · 6,340 tokens · 3.1 items/s · 1,200 tokens/s · about 13 s left"
    with qtbot.waitSignal(view.pause_toggled) as toggled:
        qtbot.mouseClick(view.pause_button, Qt.MouseButton.LeftButton)
    assert toggled.args == [True] and view.pause_button.text() == "Resume"
    assert progress_text(IngestStatus(done=50, total=50, tokens=9)) == "50 of 50 items · 9 tokens · done"
    assert format_duration(3725) == "1 h 02 min" and format_duration(75) == "1 min 15 s"


def test_stall_monitor_sees_a_blocked_event_loop(qtbot: QtBot) -> None:
    monitor = StallMonitor(interval_ms=5)
    monitor.start()
    qtbot.wait(100)
    time.sleep(0.12)  # the loop is blocked: the next tick comes late
    qtbot.wait(50)
    report = monitor.report()
    monitor.stop()
    assert report.longest_ms >= 100 and report.over_50ms >= 1 and report.ticks > 5


def test_a_second_instance_brings_the_first_to_the_front(qtbot: QtBot, tmp_path: Path) -> None:
    name = f"memsa-test-{time.monotonic_ns()}"
    first, second = SingleInstance(name), SingleInstance(name)
    assert not first.notify_running(100)
    assert first.claim()
    with qtbot.waitSignal(first.activated, timeout=3000):
        assert second.notify_running()
    first.release()
    assert not second.notify_running(100)
