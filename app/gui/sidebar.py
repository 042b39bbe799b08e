"""The left column: the app's name, page buttons, and the searchable conversation history."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPoint, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QMenu,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from .item_models import ConversationListModel, Role
from .theme import app_icon

PAGES = ("Chat", "Sources", "Settings")
SEARCH_DELAY_MS = 150


class Sidebar(QWidget):
    """Page navigation and the conversation list; the list's model is filled by the window."""

    page_requested = Signal(int)
    new_conversation = Signal()
    conversation_chosen = Signal(int)
    conversation_deleted = Signal(int)
    search_changed = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("Sidebar")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.setFixedWidth(264)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(14, 16, 14, 14)
        layout.setSpacing(6)
        brand = QHBoxLayout()
        brand.setSpacing(8)
        logo = QLabel()
        logo.setPixmap(app_icon().pixmap(28, 28))
        brand.addWidget(logo)
        title = QLabel("memsa")
        title.setObjectName("AppTitle")
        brand.addWidget(title)
        brand.addStretch(1)
        layout.addLayout(brand)
        tagline = QLabel("a memory you can talk to")
        tagline.setObjectName("Hint")
        layout.addWidget(tagline)
        layout.addSpacing(10)

        self.pages = QButtonGroup(self)
        self.pages.setExclusive(True)
        for index, (name, keys) in enumerate(zip(PAGES, ("Ctrl+1", "Ctrl+2", "Ctrl+,"), strict=True)):
            button = QPushButton(name)
            button.setObjectName("NavButton")
            button.setToolTip(f"{name} ({keys})")
            button.setCheckable(True)
            button.setCursor(Qt.CursorShape.PointingHandCursor)
            button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
            self.pages.addButton(button, index)
            layout.addWidget(button)
        self.pages.idClicked.connect(self.page_requested)
        layout.addSpacing(14)

        header = QHBoxLayout()
        label = QLabel("Conversations")
        label.setObjectName("SectionTitle")
        header.addWidget(label)
        header.addStretch(1)
        self.new_button = QPushButton("+  New")
        self.new_button.setToolTip("New question (Ctrl+N)")
        self.new_button.clicked.connect(self.new_conversation)
        header.addWidget(self.new_button)
        layout.addLayout(header)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search conversations  (Ctrl+F)")
        self.search.setClearButtonEnabled(True)
        layout.addWidget(self.search)
        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(SEARCH_DELAY_MS)
        self._search_timer.timeout.connect(lambda: self.search_changed.emit(self.search.text()))
        self.search.textChanged.connect(lambda _: self._search_timer.start())

        self.history_model = ConversationListModel()
        self.history = QListView()
        self.history.setObjectName("History")
        self.history.setModel(self.history_model)
        self.history.setUniformItemSizes(True)
        self.history.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.history.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.history.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.history.customContextMenuRequested.connect(self._context_menu)
        self.history.clicked.connect(self._chosen)
        self.history.activated.connect(self._chosen)
        layout.addWidget(self.history, 1)
        self.empty_history = QLabel("Your questions and answers are kept here.")
        self.empty_history.setObjectName("Hint")
        self.empty_history.setWordWrap(True)
        layout.addWidget(self.empty_history)
        self.history_model.modelReset.connect(
            lambda: self.empty_history.setVisible(self.history_model.rowCount() == 0)
        )

    def set_page(self, index: int) -> None:
        button = self.pages.button(index)
        if button is not None:
            button.setChecked(True)

    def select_conversation(self, conversation_id: int | None) -> None:
        row = self.history_model.row_of(conversation_id) if conversation_id is not None else -1
        if row < 0:
            self.history.clearSelection()
        else:
            self.history.setCurrentIndex(self.history_model.index(row))

    def _context_menu(self, position: QPoint) -> None:
        conversation_id = self.history.indexAt(position).data(Role.Id)
        if conversation_id is None:
            return
        menu = QMenu(self)
        menu.addAction("Delete conversation", lambda: self.conversation_deleted.emit(int(conversation_id)))
        menu.exec(self.history.viewport().mapToGlobal(position))

    def _chosen(self, index: QModelIndex) -> None:
        conversation_id = index.data(Role.Id)
        if conversation_id is not None:
            self.conversation_chosen.emit(int(conversation_id))
