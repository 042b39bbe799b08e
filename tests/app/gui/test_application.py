"""The application on a first run (tiny random model): wizard, memory opened after it, preferences saved."""

from __future__ import annotations

import sys
from pathlib import Path

from pytestqt.qtbot import QtBot

from memsa.app.gui.application import LaunchOptions, MemsaApp, create_qapplication
from memsa.app.gui.preferences import Preferences, load_preferences, save_preferences
from memsa.app.gui.wizard import FirstRunDialog
from memsa.core.settings import EngineSettings


def test_first_run_wizard_starts_remembering_and_is_not_shown_again(
    qtbot: QtBot, tiny_settings: EngineSettings, notes: Path, tmp_path: Path
) -> None:
    preferences_file = tmp_path / "config" / "preferences.json"
    save_preferences(Preferences(data_dir=tiny_settings.data_dir, model=tiny_settings.model), preferences_file)
    memsa = MemsaApp(create_qapplication(sys.argv[:1]), LaunchOptions(preferences_file=preferences_file))
    memsa.facade.quiet_seconds = 0.0
    qtbot.addWidget(memsa.window)
    memsa.start()
    try:
        wizard = memsa.wizard
        assert wizard is not None and wizard.isVisible() and not memsa.facade.ready  # memory waits for the wizard
        wizard.start_button.click()
        assert wizard.isVisible() and "Add a folder first" in wizard.message.text()
        wizard.add_path(notes)
        wizard.add_path(notes)
        assert wizard.paths.count() == 1
        wizard.start_button.click()
        assert not wizard.isVisible() and memsa.wizard is None
        qtbot.waitUntil(lambda: memsa.facade.ready, timeout=60_000)
        qtbot.waitUntil(lambda: memsa.window.sources.roots_model.rowCount() == 1, timeout=60_000)
        assert memsa.window.pages.currentWidget() is memsa.window.sources
        saved = load_preferences(preferences_file)
        assert saved.first_run_done and saved.data_dir == tiny_settings.data_dir

        memsa.window.settings_view.theme.setCurrentIndex(memsa.window.settings_view.theme.findData("dark"))
        assert memsa.window.settings_view.save()
        assert load_preferences(preferences_file).theme == "dark" and memsa.palette.window == "#16181d"
    finally:
        memsa.shutdown()


def test_wizard_includes_the_sample_notes_when_asked(qtbot: QtBot, tmp_path: Path) -> None:
    wizard = FirstRunDialog(tmp_path / "memory")
    qtbot.addWidget(wizard)
    assert wizard.chosen_paths() == []
    wizard.samples.setChecked(True)
    [samples] = wizard.chosen_paths()
    assert samples.name == "sample_notes" and (samples / "health.md").is_file()
