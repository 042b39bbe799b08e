"""The side panel that shows a cited passage highlighted in its context, with a button to open the file."""

from __future__ import annotations

import html

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QTextBrowser, QVBoxLayout, QWidget

from .records import CitationView, Passage


def passage_html(passage: Passage, highlight: str, text_colour: str) -> str:
    """The context as HTML with the cited span marked (``id="cited"``), paragraphs kept."""
    before = html.escape(passage.context[: passage.start])
    cited = html.escape(passage.context[passage.start : passage.end])
    after = html.escape(passage.context[passage.end :])
    body = (
        f'{before}<a name="cited"></a><span style="background-color:{highlight}; color:{text_colour};">'
        f"{cited}</span>{after}"
    )
    return f'<div style="white-space: pre-wrap; line-height: 145%;">{body}</div>'


class CitationPanel(QWidget):
    """Shows one passage; hidden until a citation is clicked."""

    closed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("Page")
        self.setMinimumWidth(320)
        self.citation: CitationView | None = None
        self._highlight = "#ffe58a"
        self._text_colour = "#1c2330"
        layout = QVBoxLayout(self)
        layout.setContentsMargins(18, 18, 18, 18)
        layout.setSpacing(8)
        header = QHBoxLayout()
        self.title = QLabel("Source")
        self.title.setObjectName("SectionTitle")
        self.title.setWordWrap(True)
        header.addWidget(self.title, 1)
        close = QPushButton("✕")
        close.setToolTip("Close the source panel")
        close.setFixedWidth(36)
        close.clicked.connect(self._close)
        header.addWidget(close)
        layout.addLayout(header)
        self.anchor = QLabel("")
        self.anchor.setObjectName("Muted")
        layout.addWidget(self.anchor)
        self.path = QLabel("")
        self.path.setObjectName("Hint")
        self.path.setWordWrap(True)
        self.path.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.path)
        self.text = QTextBrowser()
        self.text.setOpenLinks(False)
        layout.addWidget(self.text, 1)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        self.open_button = QPushButton("Open file")
        self.open_button.setObjectName("Primary")
        self.open_button.clicked.connect(self.open_file)
        buttons.addWidget(self.open_button)
        layout.addLayout(buttons)

    def set_colours(self, highlight: str, text_colour: str) -> None:
        self._highlight, self._text_colour = highlight, text_colour

    def show_loading(self, citation: CitationView) -> None:
        self._show_header(citation)
        self.text.setPlainText(citation.snippet)
        self.show()

    def show_passage(self, passage: Passage) -> None:
        self._show_header(passage.citation)
        self.text.setHtml(passage_html(passage, self._highlight, self._text_colour))
        self.text.scrollToAnchor("cited")
        self.show()

    def open_file(self) -> bool:
        """Open the cited file in the system's default application."""
        if self.citation is None:
            return False
        return QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.citation.file_path)))

    def _show_header(self, citation: CitationView) -> None:
        self.citation = citation
        self.title.setText(citation.file_path.name)
        part = citation.path.split("#", 1)[1] if "#" in citation.path else ""
        self.anchor.setText(citation.anchor or (f"part {part}" if part else ""))
        self.anchor.setVisible(bool(self.anchor.text()))
        self.path.setText(str(citation.file_path.parent))
        self.open_button.setEnabled(citation.file_path.exists())

    def _close(self) -> None:
        self.hide()
        self.closed.emit()
