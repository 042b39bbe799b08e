"""The main window: sidebar, chat / sources / settings pages, the citation panel, drag and drop, shortcuts."""

from __future__ import annotations

import html
import logging
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings, Qt, Signal
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import QHBoxLayout, QLabel, QMainWindow, QSplitter, QStackedWidget, QWidget

from .chat_view import ChatView
from .citation_panel import CitationPanel
from .conversations import ConversationStore, contextual_question
from .engine_host import AnswerDone
from .facade import MemoryFacade
from .preferences import Preferences
from .records import CitationView, EngineInfo, IngestStatus, Passage, Turn
from .settings_view import SettingsView
from .sidebar import Sidebar
from .sources_view import SourcesView, progress_text
from .theme import app_icon

log = logging.getLogger(__name__)

CHAT, SOURCES, SETTINGS = range(3)
HISTORY_FILE = "conversations.sqlite"


class MainWindow(QMainWindow):
    """Wires the views to the façade and the conversation store."""

    preferences_saved = Signal(object)  # Preferences, after validation

    def __init__(self, facade: MemoryFacade, preferences: Preferences, gpu_available: bool = False) -> None:
        super().__init__()
        self.facade = facade
        self.preferences = preferences
        self.store = ConversationStore(preferences.data_dir / HISTORY_FILE)
        self.conversation_id: int | None = None
        self._asking: tuple[int, Turn] | None = None
        self.setWindowTitle("memsa")
        self.setWindowIcon(app_icon())
        self.setAcceptDrops(True)
        self.setMinimumSize(960, 620)

        self.sidebar = Sidebar()
        self.chat = ChatView()
        self.sources = SourcesView()
        self.settings_view = SettingsView(preferences, gpu_available)
        self.pages = QStackedWidget()
        for page in (self.chat, self.sources, self.settings_view):
            self.pages.addWidget(page)
        self.citation_panel = CitationPanel()
        self.citation_panel.hide()
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.pages)
        self.splitter.addWidget(self.citation_panel)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self.splitter.setChildrenCollapsible(False)
        central = QWidget()
        row = QHBoxLayout(central)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(0)
        row.addWidget(self.sidebar)
        row.addWidget(self.splitter, 1)
        self.setCentralWidget(central)
        self.engine_label = QLabel("Opening memory…")
        self.engine_label.setTextFormat(Qt.TextFormat.RichText)
        self.ok_colour = "#2f9e6a"
        self.ingest_label = QLabel("")
        self.statusBar().addWidget(self.engine_label, 1)
        self.statusBar().addPermanentWidget(self.ingest_label)

        self._connect()
        self._shortcuts()
        self.refresh_history()
        self.show_page(CHAT)
        self.restore_state()

    def _connect(self) -> None:
        facade, chat, sources = self.facade, self.chat, self.sources
        self.sidebar.page_requested.connect(self.show_page)
        self.sidebar.new_conversation.connect(self.new_conversation)
        self.sidebar.conversation_chosen.connect(self.open_conversation)
        self.sidebar.conversation_deleted.connect(self.delete_conversation)
        self.sidebar.search_changed.connect(self.refresh_history)
        chat.question_submitted.connect(self.ask)
        chat.stop_requested.connect(facade.stop_answer)
        chat.citation_clicked.connect(self.show_citation)
        sources.add_root_requested.connect(self.add_root)
        sources.remove_root_requested.connect(facade.remove_root)
        sources.pause_toggled.connect(facade.set_paused)
        self.settings_view.saved.connect(self._on_preferences)
        facade.engine_ready.connect(self._on_engine_ready)
        facade.engine_failed.connect(self._on_engine_failed)
        facade.answer_text.connect(self._on_text)
        facade.answer_step.connect(self._on_step)
        facade.answer_finished.connect(self._on_finished)
        facade.answer_failed.connect(self._on_failed)
        facade.ingest_progress.connect(self._on_progress)
        facade.sources_changed.connect(sources.set_roots)
        facade.failures_changed.connect(sources.set_failures)
        facade.passage_ready.connect(self._on_passage)
        facade.problem.connect(lambda message: self.statusBar().showMessage(message, 8000))

    def _shortcuts(self) -> None:
        for keys, slot in (
            (QKeySequence("Ctrl+N"), self.new_conversation),
            (QKeySequence("Ctrl+F"), self.focus_search),
            (QKeySequence("Ctrl+."), self.facade.stop_answer),
            (QKeySequence("Ctrl+1"), lambda: self.show_page(CHAT)),
            (QKeySequence("Ctrl+2"), lambda: self.show_page(SOURCES)),
            (QKeySequence("Ctrl+,"), lambda: self.show_page(SETTINGS)),
        ):
            QShortcut(keys, self).activated.connect(slot)

    def show_page(self, index: int) -> None:
        self.pages.setCurrentIndex(index)
        self.sidebar.set_page(index)
        if index != CHAT:
            self.citation_panel.hide()

    def new_conversation(self) -> None:
        if self.chat.busy:
            return
        self.conversation_id = None
        self.chat.set_title("New conversation")
        self.chat.show_turns([])
        self.sidebar.select_conversation(None)
        self.show_page(CHAT)
        self.chat.focus_composer()

    def focus_search(self) -> None:
        self.sidebar.search.setFocus()
        self.sidebar.search.selectAll()

    def open_conversation(self, conversation_id: int) -> None:
        if self.chat.busy:
            return
        self.conversation_id = conversation_id
        summary = next((c for c in self.store.conversations() if c.conversation_id == conversation_id), None)
        self.chat.set_title(summary.title if summary else "Conversation")
        self.chat.show_turns(self.store.turns(conversation_id))
        self.show_page(CHAT)

    def delete_conversation(self, conversation_id: int) -> None:
        """Forget a conversation from the history (an answer still streaming into it is kept from harm)."""
        if self.chat.busy and conversation_id == self.conversation_id:
            return
        self.store.delete(conversation_id)
        if conversation_id == self.conversation_id:
            self.new_conversation()
        self.refresh_history()

    def refresh_history(self, search: str | None = None) -> None:
        text = self.sidebar.search.text() if search is None else search
        self.sidebar.history_model.set_conversations(self.store.conversations(text))
        self.sidebar.select_conversation(self.conversation_id)

    def ask(self, question: str) -> None:
        """Ask in the open conversation (a follow-up carries the question it follows)."""
        previous = self.store.turns(self.conversation_id) if self.conversation_id is not None else []
        if self.conversation_id is None:
            self.conversation_id = self.store.create(question)
            self.chat.set_title(self.store.conversations()[0].title)
            self.refresh_history()
        turn = self.chat.begin_turn(question).turn
        key = self.facade.ask(contextual_question(previous, question), self.preferences.top_k)
        self._asking = (key, turn)

    def add_root(self, path: Path) -> None:
        self.facade.add_root(path, self.preferences.ignore_rules)
        self.statusBar().showMessage(f"Remembering {path}", 5000)

    def show_citation(self, citation: CitationView) -> None:
        self.citation_panel.show_loading(citation)
        self.facade.load_passage(citation)
        if self.splitter.sizes()[1] == 0:
            self.splitter.setSizes([self.width() * 3 // 5, self.width() * 2 // 5])

    def _on_text(self, key: int, text: str) -> None:
        if self._asking and self._asking[0] == key:
            self.chat.append_text(text)

    def _on_step(self, key: int, text: str) -> None:
        if self._asking and self._asking[0] == key:
            self.chat.add_step(text)

    def _on_finished(self, key: int, done: AnswerDone) -> None:
        if not self._asking or self._asking[0] != key:
            return
        turn = self._asking[1]
        turn.answer = done.text if done.text or not done.stopped else turn.answer
        turn.citations = list(done.citations)
        turn.status = "stopped" if done.stopped else "done"
        self._complete(turn)

    def _on_failed(self, key: int, message: str) -> None:
        if self._asking and self._asking[0] == key:
            turn = self._asking[1]
            turn.status, turn.error = "failed", message
            self._complete(turn)

    def _complete(self, turn: Turn) -> None:
        self._asking = None
        if self.conversation_id is not None:
            turn.turn_id = self.store.add_turn(self.conversation_id, turn)
        self.chat.finish_turn(turn)
        self.refresh_history()

    def _on_passage(self, passage: Passage) -> None:
        if self.citation_panel.citation == passage.citation:
            self.citation_panel.show_passage(passage)

    def _on_engine_ready(self, info: EngineInfo) -> None:
        self.engine_label.setText(
            f'<span style="color:{self.ok_colour};">●</span>&nbsp; {html.escape(info.model_name)} · '
            f"{info.device.upper()} · answers by {info.answers_by}"
        )
        self.engine_label.setToolTip(
            f"{info.documents:,} documents from {info.sources:,} files when opened\nMemory kept in {info.data_dir}"
        )
        self.chat.set_ready(True, "Ready. Ask about anything memsa has read.  Ctrl+N new · Ctrl+F search · Esc stop")

    def _on_engine_failed(self, message: str) -> None:
        self.engine_label.setText(f"Memory could not be opened: {message}")
        self.chat.set_ready(False, f"Memory could not be opened: {message}  (check Settings)")

    def _on_progress(self, status: IngestStatus) -> None:
        self.sources.set_status(status)
        self.ingest_label.setText(("Reading: " if status.busy else "") + progress_text(status) if status.total else "")

    def _on_preferences(self, preferences: Preferences) -> None:
        reopen = (preferences.model, preferences.device, preferences.data_dir) != (
            self.preferences.model, self.preferences.device, self.preferences.data_dir)
        if preferences.data_dir != self.preferences.data_dir:
            self.store.close()
            self.store = ConversationStore(preferences.data_dir / HISTORY_FILE)
            self.conversation_id = None
            self.chat.show_turns([])
            self.refresh_history()
        if preferences.ignore_rules != self.preferences.ignore_rules and not reopen:
            self.facade.apply_ignore_rules(preferences.ignore_rules)
        self.preferences = preferences
        if reopen:
            self.engine_label.setText("Opening memory…")
            self.chat.set_ready(False, "Opening memory…")
            self.facade.restart(preferences.engine_settings())
        self.preferences_saved.emit(preferences)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 - Qt API
        if event.mimeData().hasUrls() and any(url.isLocalFile() for url in event.mimeData().urls()):
            self.statusBar().showMessage("Drop to remember these files and folders", 3000)
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 - Qt API
        paths = [Path(url.toLocalFile()) for url in event.mimeData().urls() if url.isLocalFile()]
        if paths:
            self.facade.enqueue(paths)
            self.statusBar().showMessage(f"Remembering {len(paths)} dropped item{'s' if len(paths) != 1 else ''}", 5000)
            event.acceptProposedAction()

    def restore_state(self) -> None:
        settings = QSettings()
        geometry = settings.value("window/geometry")
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        else:
            self.resize(1240, 800)
        splitter = settings.value("window/splitter")
        if isinstance(splitter, QByteArray):
            self.splitter.restoreState(splitter)

    def save_state(self) -> None:
        settings = QSettings()
        settings.setValue("window/geometry", self.saveGeometry())
        settings.setValue("window/splitter", self.splitter.saveState())

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt API
        self.save_state()
        super().closeEvent(event)
