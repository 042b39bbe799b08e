"""The main window over the real façade (tiny random model): asking, history, search, drops, shortcuts."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent
from pytestqt.qtbot import QtBot

from memsa.app.gui.facade import MemoryFacade
from memsa.app.gui.preferences import Preferences
from memsa.app.gui.window import MainWindow
from memsa.core.settings import EngineSettings


def open_window(qtbot: QtBot, settings: EngineSettings) -> MainWindow:
    facade = MemoryFacade(settings, quiet_seconds=0.0)
    window = MainWindow(facade, Preferences(data_dir=settings.data_dir, top_k=4))
    qtbot.addWidget(window)
    with qtbot.waitSignal(facade.engine_ready, timeout=60_000):
        facade.start()
    assert window.chat.send_button.isEnabled()
    return window


def drop(window: MainWindow, paths: list[Path]) -> None:
    data = QMimeData()
    data.setUrls([QUrl.fromLocalFile(str(path)) for path in paths])
    event = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, data, Qt.MouseButton.NoButton,
                       Qt.KeyboardModifier.NoModifier)
    window.dropEvent(event)


def test_drop_ask_keep_history_and_search(qtbot: QtBot, tiny_settings: EngineSettings, notes: Path) -> None:
    window = open_window(qtbot, tiny_settings)
    try:
        drop(window, [notes / "cabin.md", notes / "office.md"])
        qtbot.waitUntil(lambda: window.sources.counts.text().endswith("done"), timeout=60_000)
        assert window.sources.counts.text().startswith("2 of 2 items")

        window.chat.composer.setPlainText("what is the wifi password at the lake cabin ?")
        qtbot.keyClick(window.chat.composer, Qt.Key.Key_Return)
        assert window.chat.busy
        qtbot.waitUntil(lambda: not window.chat.busy, timeout=60_000)
        [turn] = window.chat.turn_widgets()
        assert turn.turn.status == "done" and turn.chip_buttons()
        qtbot.mouseClick(turn.chip_buttons()[0], Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: "background-color" in window.citation_panel.text.toHtml(), timeout=10_000)
        assert window.citation_panel.isVisibleTo(window)
        assert window.citation_panel.title.text() in {"cabin.md", "office.md"}

        window.chat.composer.setPlainText("and who is the office manager ?")
        window.chat.submit()
        qtbot.waitUntil(lambda: not window.chat.busy, timeout=60_000)
        assert window.sidebar.history_model.rowCount() == 1
        conversation = window.conversation_id
        assert conversation is not None and len(window.store.turns(conversation)) == 2

        with qtbot.waitActive(window):
            window.show()
            window.activateWindow()
        qtbot.keyClick(window.chat.composer, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)  # new question
        assert window.conversation_id is None
        qtbot.waitUntil(lambda: window.chat.turn_widgets() == [])
        window.open_conversation(conversation)
        assert [w.turn.question for w in window.chat.turn_widgets()][-1] == "and who is the office manager ?"

        qtbot.keyClick(window.chat.composer, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)  # focus search
        assert window.sidebar.search.hasFocus()
        window.sidebar.search.setText("manager")
        qtbot.waitUntil(lambda: window.sidebar.history_model.rowCount() == 1, timeout=2_000)
        window.sidebar.search.setText("dentist")
        qtbot.waitUntil(lambda: window.sidebar.history_model.rowCount() == 0, timeout=2_000)
        window.sidebar.search.clear()
        qtbot.waitUntil(lambda: window.sidebar.history_model.rowCount() == 1, timeout=2_000)
        window.sidebar.conversation_deleted.emit(conversation)
        assert window.sidebar.history_model.rowCount() == 0 and window.conversation_id is None
        assert window.store.turns(conversation) == []
    finally:
        window.facade.shutdown()
        window.store.close()


def test_window_geometry_is_remembered(qtbot: QtBot, tiny_settings: EngineSettings) -> None:
    facade = MemoryFacade(tiny_settings)
    window = MainWindow(facade, Preferences(data_dir=tiny_settings.data_dir))
    qtbot.addWidget(window)
    window.show()
    window.setGeometry(30, 40, 960, 640)
    window.splitter.setSizes([500, 300])
    window.save_state()
    again = MainWindow(facade, Preferences(data_dir=tiny_settings.data_dir))
    qtbot.addWidget(again)
    again.show()
    assert again.size() == window.size() and again.height() == 640  # the default height is 800
    assert again.splitter.saveState() == window.splitter.saveState()
    window.store.close()
    again.store.close()


def test_tray_pauses_and_resumes_reading(qtbot: QtBot, tiny_settings: EngineSettings) -> None:
    from memsa.app.gui.tray import TrayIcon

    facade = MemoryFacade(tiny_settings)
    window = MainWindow(facade, Preferences(data_dir=tiny_settings.data_dir))
    qtbot.addWidget(window)
    tray = TrayIcon(window, facade)
    tray.toggle_pause()
    assert facade.paused and tray.pause_action.text() == "Resume reading"
    assert window.sources.pause_button.text() == "Resume"
    qtbot.mouseClick(window.sources.pause_button, Qt.MouseButton.LeftButton)  # the window's button agrees
    assert tray.pause_action.text() == "Pause reading"
    tray.toggle_pause()
    assert facade.paused
    facade.shutdown()
    window.store.close()
