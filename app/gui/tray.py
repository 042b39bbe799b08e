"""The system tray icon: show the window, pause or resume reading, quit."""

from __future__ import annotations

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QApplication, QMenu, QSystemTrayIcon

from .facade import MemoryFacade
from .theme import app_icon
from .window import MainWindow


class TrayIcon(QSystemTrayIcon):
    """Mirrors the window's pause state; available where the desktop has a tray."""

    def __init__(self, window: MainWindow, facade: MemoryFacade) -> None:
        super().__init__(app_icon(), window)
        self.window = window
        self.facade = facade
        self.setToolTip("memsa")
        menu = QMenu()
        self.show_action = QAction("Show memsa", menu)
        self.show_action.triggered.connect(self.show_window)
        self.pause_action = QAction("Pause reading", menu)
        self.pause_action.triggered.connect(self.toggle_pause)
        quit_action = QAction("Quit", menu)
        quit_action.triggered.connect(QApplication.quit)
        for action in (self.show_action, self.pause_action):
            menu.addAction(action)
        menu.addSeparator()
        menu.addAction(quit_action)
        self._menu = menu
        self.setContextMenu(menu)
        self.activated.connect(self._on_activated)
        window.sources.pause_toggled.connect(self._sync)

    def toggle_pause(self) -> None:
        paused = not self.facade.paused
        self.facade.set_paused(paused)
        self.window.sources.set_paused(paused)
        self._sync(paused)

    def show_window(self) -> None:
        self.window.showNormal()
        self.window.raise_()
        self.window.activateWindow()

    def _sync(self, paused: bool) -> None:
        self.pause_action.setText("Resume reading" if paused else "Pause reading")

    def _on_activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason == QSystemTrayIcon.ActivationReason.Trigger:
            self.show_window()
