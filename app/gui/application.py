"""Starting the desktop app: preferences, single instance, theme, façade, window, tray, first-run wizard.

Process switch (read here only): ``MEMSA_STALL_MONITOR=1`` logs the longest event-loop stall at exit.
"""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import QCoreApplication, Qt
from PySide6.QtWidgets import QApplication, QSplashScreen, QSystemTrayIcon

from memsa.core.errors import InvalidInput

from .facade import MemoryFacade
from .preferences import Preferences, load_preferences, preferences_path, save_preferences
from .single_instance import SingleInstance, server_name
from .stall_monitor import StallMonitor
from .theme import app_icon, apply_theme
from .tray import TrayIcon
from .warmup import warm_up
from .window import MainWindow
from .wizard import FirstRunDialog

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LaunchOptions:
    """What the command line may override for this run (never saved unless changed in Settings).

    Attributes:
        data_dir, model, device: the ``--data-dir``, ``--model`` and ``--device`` options.
        preferences_file: where preferences are read and saved.
        wizard: show the first-run wizard (None: only when it was never completed).
    """

    data_dir: Path | None = None
    model: str | None = None
    device: str | None = None
    preferences_file: Path = field(default_factory=preferences_path)
    wizard: bool | None = None


def gpu_available() -> bool:
    import torch

    return bool(torch.cuda.is_available())


class MemsaApp:
    """The running application; the QApplication must exist before it is built."""

    def __init__(self, app: QApplication, options: LaunchOptions) -> None:
        self.app = app
        self.options = options
        self.startup_s = warm_up()
        self.preferences = self._preferences(options)
        self.palette = apply_theme(app, self.preferences.theme)
        self.facade = MemoryFacade(self.preferences.engine_settings())
        self.window = MainWindow(self.facade, self.preferences, gpu_available())
        self.window.citation_panel.set_colours(self.palette.highlight, self.palette.text)
        self.window.ok_colour = self.palette.success
        self.window.preferences_saved.connect(self._on_preferences)
        self.tray: TrayIcon | None = TrayIcon(self.window, self.facade) if QSystemTrayIcon.isSystemTrayAvailable() \
            else None
        self.stall_monitor = StallMonitor()
        self.wizard: FirstRunDialog | None = None
        self._started = False

    @staticmethod
    def _preferences(options: LaunchOptions) -> Preferences:
        preferences = load_preferences(options.preferences_file)
        changes: dict[str, object] = {}
        if options.data_dir is not None:
            changes["data_dir"] = options.data_dir.expanduser()
        if options.model is not None:
            changes["model"] = options.model
        if options.device is not None:
            changes["device"] = options.device
        return preferences.with_changes(**changes) if changes else preferences

    def start(self) -> None:
        """Show the window; on a first run the wizard comes first and memory opens once it is done."""
        self.window.show()
        if self.tray is not None:
            self.tray.show()
        show_wizard = self.options.wizard if self.options.wizard is not None else not self.preferences.first_run_done
        if show_wizard:
            self.wizard = FirstRunDialog(self.preferences.data_dir, self.window)
            self.wizard.accepted.connect(self._wizard_done)
            self.wizard.rejected.connect(self._wizard_done)
            self.wizard.open()
        else:
            self._open_memory()

    def shutdown(self) -> None:
        self.window.save_state()
        if self.tray is not None:
            self.tray.hide()
        self.facade.shutdown()
        self.window.store.close()

    def _wizard_done(self) -> None:
        assert self.wizard is not None
        wizard, self.wizard = self.wizard, None
        accepted = wizard.result() == FirstRunDialog.DialogCode.Accepted
        changes: dict[str, object] = {"first_run_done": True}
        if accepted and wizard.data_dir != self.preferences.data_dir:
            changes["data_dir"] = wizard.data_dir
        preferences = self.preferences.with_changes(**changes)
        if preferences.data_dir != self.preferences.data_dir:
            self.window.settings_view.load(preferences)
            self.window.settings_view.save()  # moves the history and the engine to the chosen folder
        self._save(preferences)
        self._open_memory()
        if accepted:
            for path in wizard.chosen_paths():
                self.window.add_root(path)
            if wizard.chosen_paths():
                self.window.show_page(1)

    def _open_memory(self) -> None:
        if not self._started:
            self._started = True
            self.facade.start()

    def _on_preferences(self, preferences: Preferences) -> None:
        if preferences.theme != self.preferences.theme:
            self.palette = apply_theme(self.app, preferences.theme)
            self.window.citation_panel.set_colours(self.palette.highlight, self.palette.text)
            self.window.ok_colour = self.palette.success
        self._save(preferences)

    def _save(self, preferences: Preferences) -> None:
        self.preferences = preferences
        try:
            save_preferences(preferences, self.options.preferences_file)
        except OSError as error:
            self.window.statusBar().showMessage(f"Settings could not be saved: {error.strerror or error}", 8000)


def create_qapplication(argv: list[str]) -> QApplication:
    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(argv)
    QCoreApplication.setOrganizationName("memsa")
    QCoreApplication.setApplicationName("memsa")
    app.setDesktopFileName("memsa")
    return app


def run(options: LaunchOptions) -> int:
    """Run the desktop app until it quits; returns the exit status.

    Raises:
        InvalidInput: a command-line override is invalid.
    """
    app = create_qapplication(sys.argv[:1])
    app.setQuitOnLastWindowClosed(True)
    preferences = MemsaApp._preferences(options)
    instance = SingleInstance(server_name(str(preferences.data_dir.absolute())))
    if instance.notify_running():
        print("memsa is already running; its window was brought to the front.", file=sys.stderr)
        return 0
    if not instance.claim():
        raise InvalidInput("another memsa is starting on this data folder; try again in a moment")
    splash = QSplashScreen(app_icon().pixmap(128, 128))
    splash.showMessage("Starting memsa…", Qt.AlignmentFlag.AlignBottom | Qt.AlignmentFlag.AlignHCenter)
    splash.show()
    app.processEvents()
    memsa = MemsaApp(app, options)
    instance.activated.connect(lambda: memsa.tray.show_window() if memsa.tray else _raise(memsa.window))
    monitor = os.environ.get("MEMSA_STALL_MONITOR") == "1"
    if monitor:
        memsa.stall_monitor.start()
    memsa.start()
    splash.finish(memsa.window)
    try:
        status = app.exec()
    finally:
        if monitor:
            report = memsa.stall_monitor.report()
            log.warning("longest event-loop stall %.1f ms (p99 %.1f ms, %d ticks over 50 ms of %d)",
                        report.longest_ms, report.p99_ms, report.over_50ms, report.ticks)
        memsa.shutdown()
        instance.release()
    return int(status)


def _raise(window: MainWindow) -> None:
    window.showNormal()
    window.raise_()
    window.activateWindow()
