"""The first-run dialog: choose folders and chat exports to remember, see where memory is kept, start."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QPushButton,
    QVBoxLayout,
    QWidget,
)


def sample_notes_folder() -> Path:
    """The sample notes shipped with memsa (a quick way to try it)."""
    from importlib.resources import files

    return Path(str(files("memsa.resources"))) / "sample_notes"


class FirstRunDialog(QDialog):
    """Collects what to remember; :meth:`chosen_paths` and :attr:`data_dir` hold the answer once accepted."""

    def __init__(self, data_dir: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Welcome to memsa")
        self.setMinimumSize(620, 560)
        self.data_dir = data_dir
        layout = QVBoxLayout(self)
        layout.setContentsMargins(28, 24, 28, 22)
        layout.setSpacing(12)
        title = QLabel("Welcome to memsa")
        title.setObjectName("PageTitle")
        layout.addWidget(title)
        intro = QLabel(
            "memsa reads the folders you choose and answers questions about them, pointing at the exact "
            "passage each answer came from. Everything stays on this computer."
        )
        intro.setWordWrap(True)
        intro.setObjectName("Muted")
        layout.addWidget(intro)

        step = QLabel("1  ·  What should memsa remember?")
        step.setObjectName("SectionTitle")
        layout.addWidget(step)
        self.paths = QListWidget()
        self.paths.setMinimumHeight(150)
        layout.addWidget(self.paths, 1)
        buttons = QHBoxLayout()
        for text, slot in (("Add folder…", self._add_folder), ("Add chat export…", self._add_export),
                           ("Remove", self._remove)):
            button = QPushButton(text)
            button.clicked.connect(slot)
            buttons.addWidget(button)
        buttons.addStretch(1)
        layout.addLayout(buttons)
        self.samples = QCheckBox("Include the sample notes, to try it out")
        layout.addWidget(self.samples)

        step = QLabel("2  ·  Where memory is kept")
        step.setObjectName("SectionTitle")
        layout.addWidget(step)
        card = QFrame()
        card.setObjectName("Card")
        row = QHBoxLayout(card)
        row.setContentsMargins(14, 10, 14, 10)
        self.data_label = QLabel(str(data_dir))
        self.data_label.setWordWrap(True)
        row.addWidget(self.data_label, 1)
        change = QPushButton("Change…")
        change.clicked.connect(self._change_data_dir)
        row.addWidget(change)
        layout.addWidget(card)
        privacy = QLabel("Only you can read this folder. Nothing is sent anywhere.")
        privacy.setObjectName("Hint")
        layout.addWidget(privacy)

        bottom = QHBoxLayout()
        self.message = QLabel("")
        self.message.setObjectName("Error")
        bottom.addWidget(self.message, 1)
        skip = QPushButton("Skip for now")
        skip.clicked.connect(self.accept)
        bottom.addWidget(skip)
        self.start_button = QPushButton("Start remembering")
        self.start_button.setObjectName("Primary")
        self.start_button.setDefault(True)
        self.start_button.clicked.connect(self._start)
        bottom.addWidget(self.start_button)
        layout.addLayout(bottom)

    def add_path(self, path: Path) -> None:
        text = str(path.expanduser().absolute())
        if not self.paths.findItems(text, Qt.MatchFlag.MatchExactly):
            self.paths.addItem(text)
        self.message.setText("")

    def chosen_paths(self) -> list[Path]:
        chosen = [Path(self.paths.item(row).text()) for row in range(self.paths.count())]
        if self.samples.isChecked():
            chosen.append(sample_notes_folder())
        return chosen

    def _start(self) -> None:
        missing = [path for path in self.chosen_paths() if not path.exists()]
        if missing:
            self.message.setText(f"{missing[0]} no longer exists.")
            return
        if not self.chosen_paths():
            self.message.setText("Add a folder first, or choose Skip for now.")
            return
        self.accept()

    def _add_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose a folder to remember")
        if folder:
            self.add_path(Path(folder))

    def _add_export(self) -> None:
        file, _ = QFileDialog.getOpenFileName(
            self, "Choose a chat export", "", "Chat exports (*.json *.txt *.zip *.html *.mbox);;All files (*)"
        )
        if file:
            self.add_path(Path(file))

    def _remove(self) -> None:
        for item in self.paths.selectedItems():
            self.paths.takeItem(self.paths.row(item))

    def _change_data_dir(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose where memory is kept", str(self.data_dir))
        if folder:
            self.data_dir = Path(folder)
            self.data_label.setText(folder)
