"""The conversation: questions, streamed answers with their "looked at" steps and citation chips, a composer."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from .records import Turn

EXAMPLES = ("When is the dentist appointment?", "What did I note about the trip?", "Which book am I reading?")


def _label(text: str, name: str = "", selectable: bool = False) -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    if name:
        label.setObjectName(name)
    if selectable:
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    label.setTextFormat(Qt.TextFormat.PlainText)
    return label


class TurnWidget(QWidget):
    """One question (right) and its answer card (left) with steps, text, status and citations."""

    citation_clicked = Signal(object)

    def __init__(self, turn: Turn, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.turn = turn
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 6, 0, 6)
        layout.setSpacing(8)

        question_row = QHBoxLayout()
        question_row.addStretch(1)
        bubble = QFrame()
        bubble.setObjectName("UserBubble")
        bubble_layout = QVBoxLayout(bubble)
        bubble_layout.setContentsMargins(14, 10, 14, 10)
        question = _label(turn.question, "UserText", selectable=True)
        # A wrapping label shrinks to its narrowest; give it the width of its text, up to a comfortable line.
        question.setMinimumWidth(min(question.fontMetrics().horizontalAdvance(turn.question) + 8, 520))
        bubble_layout.addWidget(question)
        bubble.setMaximumWidth(600)
        question_row.addWidget(bubble)
        layout.addLayout(question_row)

        self.card = QFrame()
        self.card.setObjectName("AnswerCard")
        self.card.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        card_layout = QVBoxLayout(self.card)
        card_layout.setContentsMargins(16, 12, 16, 12)
        card_layout.setSpacing(8)
        self._steps = QVBoxLayout()
        self._steps.setSpacing(2)
        card_layout.addLayout(self._steps)
        self.answer_label = _label(turn.answer or "Thinking…", selectable=True)
        card_layout.addWidget(self.answer_label)
        self.status_label = _label("", "Stopped")
        self.status_label.hide()
        card_layout.addWidget(self.status_label)
        self._citations = QVBoxLayout()
        self._citations.setSpacing(4)
        card_layout.addLayout(self._citations)
        answer_row = QHBoxLayout()
        answer_row.addWidget(self.card, 1)
        answer_row.addSpacing(48)
        layout.addLayout(answer_row)
        for step in turn.steps:
            self._add_step_label(step)
        if turn.status != "streaming":
            self.finish(turn)

    def append_text(self, text: str) -> None:
        self.turn.answer += text
        self.answer_label.setText(self.turn.answer.lstrip())

    def add_step(self, text: str) -> None:
        self.turn.steps.append(text)
        self._add_step_label(text)

    def finish(self, turn: Turn) -> None:
        """Show the final text, the status (stopped / failed) and the citation chips."""
        self.turn = turn
        self.answer_label.setText(turn.answer.strip() or ("(no answer)" if turn.status != "failed" else ""))
        if turn.status == "stopped":
            self.status_label.setText("Stopped")
            self.status_label.show()
        elif turn.status == "failed":
            self.status_label.setObjectName("Error")
            self.status_label.setText(turn.error or "The answer failed.")
            self.status_label.show()
        while self._citations.count():
            item = self._citations.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.deleteLater()
        if turn.citations:
            self._citations.addWidget(_label("Sources", "Muted"))
        for number, citation in enumerate(turn.citations, start=1):
            chip = QPushButton(f"[{number}]  {citation.label}")
            chip.setObjectName("Chip")
            chip.setCursor(Qt.CursorShape.PointingHandCursor)
            chip.setToolTip(f"{citation.path}\n\n{citation.snippet[:300]}")
            chip.clicked.connect(lambda _=False, c=citation: self.citation_clicked.emit(c))
            row = QHBoxLayout()
            row.addWidget(chip)
            row.addStretch(1)
            holder = QWidget()
            holder.setLayout(row)
            row.setContentsMargins(0, 0, 0, 0)
            self._citations.addWidget(holder)

    def _add_step_label(self, text: str) -> None:
        self._steps.addWidget(_label(f"↳ {text}", "Step"))

    def chip_buttons(self) -> list[QPushButton]:
        return self.card.findChildren(QPushButton, "Chip")


class Composer(QPlainTextEdit):
    """The question box: Enter sends, Shift+Enter starts a new line."""

    submitted = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("Composer")
        self.setPlaceholderText("Ask your memory…  (Enter to send, Shift+Enter for a new line)")
        self.setFixedHeight(64)
        self.setTabChangesFocus(True)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt API
        enter = event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter)
        if enter and not event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
            self.submitted.emit()
            return
        super().keyPressEvent(event)


class ChatView(QWidget):
    """The conversation page."""

    question_submitted = Signal(str)
    stop_requested = Signal()
    citation_clicked = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("Page")
        self._busy = False
        self._ready = False
        self.current: TurnWidget | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 18, 24, 18)
        layout.setSpacing(12)
        self.title = _label("New conversation", "PageTitle")
        layout.addWidget(self.title)

        self.transcript_scroll = QScrollArea()
        self.transcript_scroll.setWidgetResizable(True)
        self.transcript_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        container = QWidget()
        self._turns = QVBoxLayout(container)
        self._turns.setContentsMargins(0, 0, 8, 0)
        self._turns.setSpacing(6)
        self.empty = self._empty_state()
        self._turns.addWidget(self.empty)
        self._turns.addStretch(1)
        self.transcript_scroll.setWidget(container)
        layout.addWidget(self.transcript_scroll, 1)

        row = QHBoxLayout()
        row.setSpacing(10)
        self.composer = Composer()
        self.composer.submitted.connect(self.submit)
        self.composer.installEventFilter(self)
        row.addWidget(self.composer, 1)
        self.send_button = QPushButton("Ask")
        self.send_button.setObjectName("Primary")
        self.send_button.setMinimumWidth(88)
        self.send_button.setFixedHeight(44)
        self.send_button.clicked.connect(self._on_button)
        row.addWidget(self.send_button)
        layout.addLayout(row)
        self.hint = _label("Opening memory…", "Hint")
        layout.addWidget(self.hint)
        self._update_button()

    def _empty_state(self) -> QWidget:
        empty = QWidget()
        box = QVBoxLayout(empty)
        box.setContentsMargins(0, 40, 0, 0)
        box.setSpacing(10)
        box.addWidget(_label("Ask anything about what memsa has read.", "SectionTitle"))
        box.addWidget(_label("Answers stream in and point at the exact passage they came from. Try:", "Muted"))
        for example in EXAMPLES:
            button = QPushButton(example)
            button.setObjectName("Chip")
            button.clicked.connect(lambda _=False, text=example: self._use_example(text))
            row = QHBoxLayout()
            row.addWidget(button)
            row.addStretch(1)
            box.addLayout(row)
        return empty

    def set_title(self, title: str) -> None:
        self.title.setText(title)

    def set_ready(self, ready: bool, message: str) -> None:
        self._ready = ready
        self.hint.setText(message)
        self._update_button()

    @property
    def busy(self) -> bool:
        return self._busy

    def show_turns(self, turns: list[Turn]) -> None:
        """Replace the transcript (opening a conversation from history, or a new one)."""
        while self._turns.count() > 2:
            item = self._turns.takeAt(1)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.deleteLater()
        self.current = None
        for turn in turns:
            self._add(TurnWidget(turn))
        self.empty.setVisible(not turns)
        QTimer.singleShot(0, self._scroll_to_end)

    def begin_turn(self, question: str) -> TurnWidget:
        self.empty.hide()
        self.current = self._add(TurnWidget(Turn(question=question)))
        self.set_busy(True)
        QTimer.singleShot(0, self._scroll_to_end)
        return self.current

    def append_text(self, text: str) -> None:
        if self.current is not None:
            follow = self._near_end()
            self.current.append_text(text)
            if follow:
                QTimer.singleShot(0, self._scroll_to_end)

    def add_step(self, text: str) -> None:
        if self.current is not None:
            self.current.add_step(text)

    def finish_turn(self, turn: Turn) -> None:
        if self.current is not None:
            self.current.finish(turn)
        self.set_busy(False)
        QTimer.singleShot(0, self._scroll_to_end)

    def set_busy(self, busy: bool) -> None:
        self._busy = busy
        self._update_button()

    def submit(self) -> None:
        question = self.composer.toPlainText().strip()
        if not question or self._busy or not self._ready:
            return
        self.composer.clear()
        self.question_submitted.emit(question)

    def focus_composer(self) -> None:
        self.composer.setFocus()

    def turn_widgets(self) -> list[TurnWidget]:
        return self.findChildren(TurnWidget)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt API
        if watched is self.composer and event.type() == QEvent.Type.KeyPress:
            assert isinstance(event, QKeyEvent)
            if event.key() == Qt.Key.Key_Escape and self._busy:
                self.stop_requested.emit()
                return True
        return super().eventFilter(watched, event)

    def _add(self, widget: TurnWidget) -> TurnWidget:
        widget.citation_clicked.connect(self.citation_clicked)
        self._turns.insertWidget(self._turns.count() - 1, widget)
        return widget

    def _use_example(self, text: str) -> None:
        self.composer.setPlainText(text)
        self.composer.setFocus()

    def _on_button(self) -> None:
        if self._busy:
            self.stop_requested.emit()
        else:
            self.submit()

    def _update_button(self) -> None:
        self.send_button.setText("Stop" if self._busy else "Ask")
        self.send_button.setObjectName("Danger" if self._busy else "Primary")
        self.send_button.setEnabled(self._busy or self._ready)
        self.send_button.style().unpolish(self.send_button)
        self.send_button.style().polish(self.send_button)

    def _near_end(self) -> bool:
        bar = self.transcript_scroll.verticalScrollBar()
        return bar.value() >= bar.maximum() - 40

    def _scroll_to_end(self) -> None:
        bar = self.transcript_scroll.verticalScrollBar()
        bar.setValue(bar.maximum())
