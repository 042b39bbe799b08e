"""One running app per user: a second launch asks the first to show its window, then exits."""

from __future__ import annotations

import getpass
import hashlib

from PySide6.QtCore import QObject, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket


def server_name(data_dir: str) -> str:
    """One name per user and data folder, so two memories can still be open side by side."""
    digest = hashlib.sha256(f"{getpass.getuser()}:{data_dir}".encode()).hexdigest()[:16]
    return f"memsa-{digest}"


class SingleInstance(QObject):
    """Claims the instance name; :attr:`activated` fires when a later launch asks to be shown."""

    activated = Signal()

    def __init__(self, name: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self._server: QLocalServer | None = None

    def notify_running(self, timeout_ms: int = 500) -> bool:
        """True when another instance is running (and was asked to come to the front)."""
        socket = QLocalSocket()
        socket.connectToServer(self.name)
        if not socket.waitForConnected(timeout_ms):
            return False
        socket.disconnectFromServer()
        return True

    def claim(self) -> bool:
        """Become the running instance; False if the name cannot be claimed."""
        server = QLocalServer(self)
        if not server.listen(self.name):
            # A crashed instance may have left its socket file behind: remove it and retry once.
            QLocalServer.removeServer(self.name)
            if not server.listen(self.name):
                return False
        server.newConnection.connect(self._on_connection)
        self._server = server
        return True

    def release(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None

    def _on_connection(self) -> None:
        """Any connection is a later launch asking for the window: nothing else connects to this name."""
        assert self._server is not None
        while (socket := self._server.nextPendingConnection()) is not None:
            socket.abort()
            socket.deleteLater()
            self.activated.emit()
