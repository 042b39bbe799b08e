"""Qt item models over the app's plain records: conversation history, watched sources, failed files."""

from __future__ import annotations

import time
from enum import IntEnum
from pathlib import Path
from typing import Any, TypeAlias

from PySide6.QtCore import QAbstractListModel, QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt

from .records import ConversationSummary, FailedFile, SourceRoot

Index: TypeAlias = QModelIndex | QPersistentModelIndex
_NO_INDEX = QModelIndex()


class Role(IntEnum):
    """Extra data roles the views read."""

    Id = Qt.ItemDataRole.UserRole + 1
    Record = Qt.ItemDataRole.UserRole + 2


class ConversationListModel(QAbstractListModel):
    """The conversation history, newest first."""

    def __init__(self) -> None:
        super().__init__()
        self._items: list[ConversationSummary] = []

    def set_conversations(self, items: list[ConversationSummary]) -> None:
        self.beginResetModel()
        self._items = list(items)
        self.endResetModel()

    def row_of(self, conversation_id: int) -> int:
        return next((row for row, item in enumerate(self._items) if item.conversation_id == conversation_id), -1)

    def rowCount(self, parent: Index = _NO_INDEX) -> int:  # noqa: N802 - Qt API
        return 0 if parent.isValid() else len(self._items)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._items):
            return None
        item = self._items[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return item.title
        if role == Qt.ItemDataRole.ToolTipRole:
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(item.updated))
            return f"{item.title}\n{item.turns} question{'s' if item.turns != 1 else ''} · {when}"
        if role == Role.Id:
            return item.conversation_id
        if role == Role.Record:
            return item
        return None


class _HeadedTableModel(QAbstractTableModel):
    """A table whose columns are the class's ``HEADERS``: the column count and the header data."""

    HEADERS: tuple[str, ...] = ()

    def columnCount(self, parent: Index = _NO_INDEX) -> int:  # noqa: N802 - Qt API
        return 0 if parent.isValid() else len(self.HEADERS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:  # noqa: N802
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.HEADERS[section]
        return None


class SourcesTableModel(_HeadedTableModel):
    """Watched folders with their per-status file counts."""

    HEADERS = ("Source", "Files", "Remembered", "Failed", "Status")

    def __init__(self) -> None:
        super().__init__()
        self._roots: list[SourceRoot] = []
        self._busy = False
        self._paused = False

    def rowCount(self, parent: Index = _NO_INDEX) -> int:  # noqa: N802 - Qt API
        return 0 if parent.isValid() else len(self._roots)

    def set_roots(self, roots: list[SourceRoot]) -> None:
        self.beginResetModel()
        self._roots = sorted(roots, key=lambda root: root.path.lower())
        self.endResetModel()

    def set_queue_state(self, busy: bool, paused: bool) -> None:
        if (busy, paused) != (self._busy, self._paused):
            self._busy, self._paused = busy, paused
            if self._roots:
                column = len(self.HEADERS) - 1
                self.dataChanged.emit(self.index(0, column), self.index(len(self._roots) - 1, column))

    def root_at(self, row: int) -> SourceRoot | None:
        return self._roots[row] if 0 <= row < len(self._roots) else None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        root = self.root_at(index.row()) if index.isValid() else None
        if root is None:
            return None
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return (Path(root.path).name or root.path, f"{root.files:,}", f"{root.remembered:,}", f"{root.failed:,}",
                    self.status_text(root))[column]
        if role == Qt.ItemDataRole.ToolTipRole:
            return root.path
        if role == Qt.ItemDataRole.TextAlignmentRole and column in (1, 2, 3):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Role.Record:
            return root
        return None

    def status_text(self, root: SourceRoot) -> str:
        if self._paused:
            return "Paused"
        if root.last_scan is None or self._busy:
            return "Reading…" if root.last_scan is None else "Watching · updating"
        if root.failed:
            return f"Watching · {root.failed} failed"
        return "Up to date"


class FailedFilesModel(_HeadedTableModel):
    """Files that could not be remembered, with the reason."""

    HEADERS = ("File", "Reason")

    def __init__(self) -> None:
        super().__init__()
        self._files: list[FailedFile] = []

    def rowCount(self, parent: Index = _NO_INDEX) -> int:  # noqa: N802 - Qt API
        return 0 if parent.isValid() else len(self._files)

    def set_files(self, files: list[FailedFile]) -> None:
        self.beginResetModel()
        self._files = list(files)
        self.endResetModel()

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._files):
            return None
        failed = self._files[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return (Path(failed.path).name, failed.reason)[index.column()]
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{failed.path}\n{failed.reason}"
        if role == Role.Record:
            return failed
        return None
