"""The Sources page: watched folders, ingest progress with counts and rate, pause/resume, failed files."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from .item_models import FailedFilesModel, SourcesTableModel
from .records import FailedFile, IngestStatus, SourceRoot


def progress_text(status: IngestStatus) -> str:
    """ "12 of 50 items · 6,340 tokens · 3.1 items/s · 1,200 tokens/s · about 13 s left" (an item is a file, or a
    folder to scan)."""
    if status.total == 0:
        return "Nothing to read: memory is up to date." if not status.paused else "Paused."
    parts = [f"{status.done:,} of {status.total:,} items", f"{status.tokens:,} tokens"]
    if status.busy and status.files_per_s > 0:
        parts.append(f"{status.files_per_s:.1f} items/s")
        parts.append(f"{status.tokens_per_s:,.0f} tokens/s")
    if status.paused:
        parts.append("paused")
    elif status.busy and status.eta_s is not None:
        parts.append(f"about {format_duration(status.eta_s)} left")
    elif not status.busy:
        parts.append("done")
    return " · ".join(parts)


def format_duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def _table(model: SourcesTableModel | FailedFilesModel) -> QTableView:
    table = QTableView()
    table.setModel(model)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.verticalHeader().hide()
    table.setShowGrid(False)
    table.setAlternatingRowColors(True)
    table.setWordWrap(False)
    header = table.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
    header.setHighlightSections(False)
    header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
    header.setMinimumSectionSize(90)
    table.verticalHeader().setDefaultSectionSize(34)
    return table


class SourcesView(QWidget):
    """Where the user sees and steers what memory reads."""

    add_root_requested = Signal(object)  # Path
    remove_root_requested = Signal(object)  # Path
    pause_toggled = Signal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("Page")
        self.roots_model = SourcesTableModel()
        self.failed_model = FailedFilesModel()
        self._paused = False
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 18, 24, 18)
        layout.setSpacing(12)

        header = QHBoxLayout()
        title = QLabel("Sources")
        title.setObjectName("PageTitle")
        header.addWidget(title)
        header.addStretch(1)
        self.add_folder_button = QPushButton("Add folder…")
        self.add_folder_button.setObjectName("Primary")
        self.add_folder_button.clicked.connect(self._choose_folder)
        header.addWidget(self.add_folder_button)
        self.add_export_button = QPushButton("Import chat export…")
        self.add_export_button.clicked.connect(self._choose_export)
        header.addWidget(self.add_export_button)
        layout.addLayout(header)

        card = QFrame()
        card.setObjectName("Card")
        card_layout = QVBoxLayout(card)
        card_layout.setContentsMargins(16, 14, 16, 14)
        card_layout.setSpacing(8)
        top = QHBoxLayout()
        self.progress_title = QLabel("Reading")
        self.progress_title.setObjectName("SectionTitle")
        top.addWidget(self.progress_title)
        top.addStretch(1)
        self.pause_button = QPushButton("Pause")
        self.pause_button.clicked.connect(self._toggle_pause)
        top.addWidget(self.pause_button)
        card_layout.addLayout(top)
        self.progress = QProgressBar()
        self.progress.setTextVisible(False)
        self.progress.setFixedHeight(10)
        card_layout.addWidget(self.progress)
        self.counts = QLabel("Waiting for memory to open…")
        card_layout.addWidget(self.counts)
        self.current = QLabel("")
        self.current.setObjectName("Hint")
        card_layout.addWidget(self.current)
        layout.addWidget(card)

        roots_header = QHBoxLayout()
        roots_title = QLabel("Folders kept in memory")
        roots_title.setObjectName("SectionTitle")
        roots_header.addWidget(roots_title)
        roots_header.addStretch(1)
        self.remove_button = QPushButton("Remove")
        self.remove_button.setObjectName("Danger")
        self.remove_button.setToolTip("Stop watching the selected folder and forget what memory holds from it")
        self.remove_button.clicked.connect(self._remove_selected)
        roots_header.addWidget(self.remove_button)
        layout.addLayout(roots_header)
        self.roots_table = _table(self.roots_model)
        layout.addWidget(self.roots_table, 3)

        self.failed_title = QLabel("Files that could not be read")
        self.failed_title.setObjectName("SectionTitle")
        layout.addWidget(self.failed_title)
        self.failed_table = _table(self.failed_model)
        self.failed_table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        self.failed_table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        layout.addWidget(self.failed_table, 2)
        hint = QLabel("Tip: drop files or folders anywhere on the window to remember them.")
        hint.setObjectName("Hint")
        layout.addWidget(hint)
        self.set_failures([])

    def set_status(self, status: IngestStatus) -> None:
        self.progress.setRange(0, max(status.total, 1))
        self.progress.setValue(status.done if status.total else 1)
        self.progress_title.setText("Paused" if status.paused else ("Reading" if status.busy else "Up to date"))
        self.counts.setText(progress_text(status))
        if status.error:
            self.current.setText(f"Waiting, will retry: {status.error}")
        else:
            self.current.setText(f"Latest: {status.current}" if status.current else "")
        self.roots_model.set_queue_state(status.busy, status.paused)
        self.set_paused(status.paused)

    def set_roots(self, roots: list[SourceRoot]) -> None:
        self.roots_model.set_roots(roots)

    def set_failures(self, failures: list[FailedFile]) -> None:
        self.failed_model.set_files(failures)
        self.failed_title.setText(
            f"Files that could not be read ({len(failures)})" if failures else "Files that could not be read: none"
        )
        self.failed_table.setVisible(bool(failures))

    def set_paused(self, paused: bool) -> None:
        self._paused = paused
        self.pause_button.setText("Resume" if paused else "Pause")

    def _toggle_pause(self) -> None:
        self.set_paused(not self._paused)
        self.pause_toggled.emit(self._paused)

    def _choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose a folder to remember")
        if folder:
            self.add_root_requested.emit(Path(folder))

    def _choose_export(self) -> None:
        file, _ = QFileDialog.getOpenFileName(
            self, "Choose a chat export", "", "Chat exports (*.json *.txt *.zip *.html *.mbox);;All files (*)"
        )
        if file:
            self.add_root_requested.emit(Path(file))

    def _remove_selected(self) -> None:
        rows = self.roots_table.selectionModel().selectedRows()
        root = self.roots_model.root_at(rows[0].row()) if rows else None
        if root is not None:
            self.remove_root_requested.emit(Path(root.path))
