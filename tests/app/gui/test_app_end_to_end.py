"""The real application on the real default model: remember a small folder, ask, see the right citation."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from memsa.app.gui.application import LaunchOptions, MemsaApp, create_qapplication
from memsa.app.gui.preferences import Preferences, save_preferences

pytestmark = pytest.mark.model

NOTES = {
    "cabin.md": "# Lake cabin\n\nThe wifi password at the lake cabin is pinecone-harbor-42. The key is under the mat.",
    "garden.md": "# Garden\n\nTomatoes go in after the last frost. Water the roses twice a week in July.",
    "car.md": "# Car\n\nThe car's next service is due at 90,000 km. Tyre pressure is 2.4 bar at the front.",
    "books.md": "# Reading\n\nI am reading a history of the Roman roads; next on the list is a book on tides.",
}


def test_the_app_remembers_a_folder_and_cites_the_answer(qtbot: QtBot, tmp_path: Path) -> None:
    folder = tmp_path / "Notes"
    folder.mkdir()
    for name, text in NOTES.items():
        (folder / name).write_text(text + "\n", encoding="utf-8")
    preferences_file = tmp_path / "preferences.json"
    save_preferences(Preferences(data_dir=tmp_path / "memory", first_run_done=True), preferences_file)

    memsa = MemsaApp(create_qapplication(sys.argv[:1]), LaunchOptions(preferences_file=preferences_file))
    window = memsa.window
    qtbot.addWidget(window)
    memsa.start()
    try:
        qtbot.waitUntil(lambda: memsa.facade.ready, timeout=600_000)
        window.add_root(folder)
        qtbot.waitUntil(lambda: window.sources.roots_model.rowCount() == 1, timeout=120_000)

        def remembered() -> int:
            root = window.sources.roots_model.root_at(0)
            return root.remembered if root else 0

        qtbot.waitUntil(lambda: remembered() == len(NOTES), timeout=600_000)
        qtbot.waitUntil(lambda: window.sources.counts.text().endswith("done"), timeout=600_000)

        window.chat.composer.setPlainText("What is the wifi password at the lake cabin?")
        window.chat.submit()
        qtbot.waitUntil(lambda: not window.chat.busy, timeout=600_000)
        [turn] = window.chat.turn_widgets()
        assert turn.turn.status == "done", turn.turn.error
        assert Path(turn.turn.citations[0].path).name == "cabin.md"
        assert "pinecone-harbor-42" in turn.turn.citations[0].snippet
        assert "cabin.md" in turn.chip_buttons()[0].text()
        assert "pinecone-harbor-42" in turn.answer_label.text().lower()
    finally:
        memsa.shutdown()
