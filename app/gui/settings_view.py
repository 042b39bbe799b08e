"""The Settings page: model, device, documents to consider, ignore rules, data location, theme."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from memsa.core.errors import InvalidInput

from .preferences import THEMES, Preferences

DEFAULT_MODEL_TEXT = ""


def parse_top_k(text: str) -> int:
    """The "documents to consider" field as a number.

    Raises:
        InvalidInput: not a whole number.
    """
    try:
        return int(text.strip())
    except ValueError:
        raise InvalidInput(f"Documents to consider: {text.strip()!r} is not a whole number.") from None


class SettingsView(QWidget):
    """Edits a copy of the preferences; :attr:`saved` carries the validated result."""

    saved = Signal(object)  # Preferences

    def __init__(self, preferences: Preferences, gpu_available: bool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("Page")
        self.preferences = preferences
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 18, 24, 18)
        layout.setSpacing(12)
        title = QLabel("Settings")
        title.setObjectName("PageTitle")
        layout.addWidget(title)
        card = QFrame()
        card.setObjectName("Card")
        form = QFormLayout(card)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.FieldsStayAtSizeHint)
        form.setContentsMargins(18, 16, 18, 16)
        form.setHorizontalSpacing(18)
        form.setVerticalSpacing(12)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)

        self.model = QLineEdit()
        self.model.setMinimumWidth(380)
        self.model.setPlaceholderText("Embedded default: SmolLM2-135M-Instruct")
        model_row = QHBoxLayout()
        model_row.setSpacing(8)
        model_row.addWidget(self.model, 1)
        for text, slot in (("GGUF file…", self._choose_gguf), ("Model folder…", self._choose_folder),
                           ("Default", self.model.clear)):
            button = QPushButton(text)
            button.clicked.connect(slot)
            model_row.addWidget(button)
        form.addRow("Model", model_row)

        self.device = QComboBox()
        self.device.addItem("CPU", "cpu")
        if gpu_available:
            self.device.addItem("GPU (CUDA)", "cuda")
        self.device.setMinimumWidth(220)
        form.addRow("Device", self.device)

        self.top_k = QLineEdit()
        self.top_k.setMaximumWidth(120)
        form.addRow("Documents to consider", self.top_k)

        self.ignore_rules = QPlainTextEdit()
        self.ignore_rules.setPlaceholderText("One pattern per line, e.g. *.log or drafts/")
        self.ignore_rules.setFixedSize(380, 96)
        form.addRow("Ignore rules", self.ignore_rules)

        self.data_dir = QLineEdit()
        self.data_dir.setMinimumWidth(380)
        data_row = QHBoxLayout()
        data_row.setSpacing(8)
        data_row.addWidget(self.data_dir, 1)
        browse = QPushButton("Choose…")
        browse.clicked.connect(self._choose_data_dir)
        data_row.addWidget(browse)
        form.addRow("Data location", data_row)

        self.theme = QComboBox()
        for theme in THEMES:
            self.theme.addItem(theme.capitalize(), theme)
        self.theme.setMinimumWidth(220)
        form.addRow("Theme", self.theme)
        layout.addWidget(card)

        notes = QLabel("A new model, device or data location reopens memory; the rest applies at once.")
        notes.setObjectName("Hint")
        layout.addWidget(notes)
        bottom = QHBoxLayout()
        self.message = QLabel("")
        self.message.setWordWrap(True)
        bottom.addWidget(self.message, 1)
        revert = QPushButton("Revert")
        revert.clicked.connect(lambda: self.load(self.preferences))
        bottom.addWidget(revert)
        self.save_button = QPushButton("Save")
        self.save_button.setObjectName("Primary")
        self.save_button.clicked.connect(self.save)
        bottom.addWidget(self.save_button)
        layout.addLayout(bottom)
        layout.addStretch(1)
        self.load(preferences)

    def load(self, preferences: Preferences) -> None:
        self.preferences = preferences
        self.model.setText(preferences.model or DEFAULT_MODEL_TEXT)
        index = self.device.findData("cuda" if preferences.device.startswith("cuda") else "cpu")
        self.device.setCurrentIndex(max(index, 0))
        self.top_k.setText(str(preferences.top_k))
        self.ignore_rules.setPlainText("\n".join(preferences.ignore_rules))
        self.data_dir.setText(str(preferences.data_dir))
        self.theme.setCurrentIndex(max(self.theme.findData(preferences.theme), 0))
        self._say("", error=False)

    def edited(self) -> Preferences:
        """The preferences as the form shows them.

        Raises:
            InvalidInput: a field is invalid; the message names it.
        """
        data_dir = self.data_dir.text().strip()
        if not data_dir:
            raise InvalidInput("Data location: choose a folder.")
        return self.preferences.with_changes(
            model=self.model.text().strip() or None,
            device=str(self.device.currentData()),
            top_k=parse_top_k(self.top_k.text()),
            ignore_rules=tuple(line.strip() for line in self.ignore_rules.toPlainText().splitlines() if line.strip()),
            data_dir=Path(data_dir).expanduser(),
            theme=str(self.theme.currentData()),
        )

    def save(self) -> bool:
        try:
            preferences = self.edited()
        except InvalidInput as error:
            self._say(str(error), error=True)
            return False
        self.preferences = preferences
        self._say("Saved.", error=False)
        self.saved.emit(preferences)
        return True

    def _say(self, text: str, error: bool) -> None:
        self.message.setObjectName("Error" if error else "Ok")
        self.message.setText(text)
        self.message.style().unpolish(self.message)
        self.message.style().polish(self.message)

    def _choose_gguf(self) -> None:
        file, _ = QFileDialog.getOpenFileName(self, "Choose a GGUF model", "", "GGUF models (*.gguf)")
        if file:
            self.model.setText(file)

    def _choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose a Hugging Face model folder")
        if folder:
            self.model.setText(folder)

    def _choose_data_dir(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose where memory is kept", self.data_dir.text())
        if folder:
            self.data_dir.setText(folder)
