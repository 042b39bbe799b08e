"""Light and dark palettes and the one stylesheet that uses them."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from importlib.resources import files
from pathlib import Path
from string import Template

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFont, QGuiApplication, QIcon, QPalette
from PySide6.QtWidgets import QApplication


@dataclass(frozen=True)
class Palette:
    """The colours of one theme."""

    window: str
    surface: str
    sidebar: str
    border: str
    text: str
    muted: str
    accent: str
    accent_text: str
    accent_soft: str
    bubble_user: str
    bubble_user_text: str
    highlight: str
    danger: str
    success: str


LIGHT = Palette(
    window="#f6f7f9", surface="#ffffff", sidebar="#eef0f4", border="#dde1e8", text="#1c2330", muted="#687385",
    accent="#4f6bed", accent_text="#ffffff", accent_soft="#e6eafd", bubble_user="#4f6bed",
    bubble_user_text="#ffffff", highlight="#fff0b3", danger="#c8374a", success="#2f9e6a",
)
DARK = Palette(
    window="#16181d", surface="#1e2128", sidebar="#1a1c22", border="#2d313b", text="#e6e8ee", muted="#9098a8",
    accent="#7b8ff7", accent_text="#10131a", accent_soft="#2a3150", bubble_user="#3d4f9e",
    bubble_user_text="#f2f4ff", highlight="#8a6d12", danger="#f07a88", success="#5cc99a",
)

STYLESHEET = Template("""
* { font-size: 10.5pt; }
QMainWindow, QDialog, QWidget#Page { background: $window; color: $text; }
QWidget { color: $text; }
QWidget#Sidebar { background: $sidebar; border-right: 1px solid $border; }
QLabel#AppTitle { font-size: 15pt; font-weight: 700; color: $text; padding: 2px 4px; }
QLabel#PageTitle { font-size: 17pt; font-weight: 700; }
QLabel#SectionTitle { font-size: 11.5pt; font-weight: 600; margin-top: 6px; }
QLabel#Muted, QLabel#Hint { color: $muted; }
QLabel#Error { color: $danger; }
QLabel#Ok { color: $success; }
QPushButton#NavButton {
    border: none; border-radius: 8px; padding: 9px 14px; text-align: left; color: $text; background: transparent;
    font-size: 11pt;
}
QPushButton#NavButton:hover { background: $border; }
QPushButton#NavButton:checked { background: $accent_soft; color: $accent; font-weight: 600; }
QPushButton {
    background: $surface; border: 1px solid $border; border-radius: 8px; padding: 7px 14px; color: $text;
}
QPushButton:hover { border-color: $accent; }
QPushButton:disabled { color: $muted; }
QPushButton#Primary { background: $accent; color: $accent_text; border: 1px solid $accent; font-weight: 600; }
QPushButton#Primary:hover { background: $accent; border-color: $text; }
QPushButton#Primary:disabled { background: $border; border-color: $border; color: $muted; }
QPushButton#Danger { color: $danger; }
QPushButton#Chip {
    background: $accent_soft; color: $accent; border: none; border-radius: 11px; padding: 3px 10px;
    font-size: 9.5pt;
}
QPushButton#Chip:hover { text-decoration: underline; }
QLineEdit, QPlainTextEdit, QTextBrowser, QSpinBox, QComboBox {
    background: $surface; border: 1px solid $border; border-radius: 8px; padding: 6px 8px;
    selection-background-color: $accent; selection-color: $accent_text;
}
QLineEdit:focus, QPlainTextEdit:focus, QSpinBox:focus, QComboBox:focus { border-color: $accent; }
QPlainTextEdit#Composer { border-radius: 12px; padding: 8px 10px; }
QComboBox { padding-right: 24px; }
QComboBox::drop-down { border: none; width: 24px; subcontrol-origin: padding; subcontrol-position: center right; }
QComboBox::down-arrow { image: url("$chevron"); width: 12px; height: 12px; }
QComboBox QAbstractItemView { background: $surface; border: 1px solid $border; }
QListView, QTableView, QTreeView {
    background: $surface; border: 1px solid $border; border-radius: 10px; padding: 4px;
    alternate-background-color: $window; selection-background-color: $accent_soft; selection-color: $text;
}
QListWidget::item { padding: 6px 8px; border-radius: 6px; }
QListWidget::item:selected { background: $accent_soft; color: $text; }
QListView#History { background: transparent; border: none; }
QListView#History::item { padding: 8px 10px; border-radius: 8px; margin: 1px 0; }
QListView#History::item:selected { background: $accent_soft; color: $text; }
QListView#History::item:hover { background: $border; }
QHeaderView::section {
    background: $surface; border: none; border-bottom: 1px solid $border; padding: 6px 8px; color: $muted;
    font-weight: 600;
}
QTableView::item { padding: 4px 6px; }
QFrame#Card { background: $surface; border: 1px solid $border; border-radius: 12px; }
QFrame#UserBubble { background: $bubble_user; border-radius: 14px; }
QLabel#UserText { color: $bubble_user_text; }
QFrame#AnswerCard { background: $surface; border: 1px solid $border; border-radius: 14px; }
QLabel#Step { color: $muted; font-style: italic; }
QLabel#Stopped { color: $muted; font-size: 9pt; }
QScrollArea { border: none; background: transparent; }
QScrollArea > QWidget > QWidget { background: transparent; }
QProgressBar {
    background: $border; border: none; border-radius: 5px; height: 10px; text-align: center; color: transparent;
}
QProgressBar::chunk { background: $accent; border-radius: 5px; }
QSplitter::handle { background: $border; }
QStatusBar { background: $sidebar; color: $muted; border-top: 1px solid $border; }
QStatusBar QLabel { color: $muted; }
QScrollBar:vertical { background: transparent; width: 10px; margin: 2px; }
QScrollBar::handle:vertical { background: $border; border-radius: 4px; min-height: 30px; }
QScrollBar::add-line, QScrollBar::sub-line { height: 0; width: 0; }
QScrollBar:horizontal { background: transparent; height: 10px; margin: 2px; }
QScrollBar::handle:horizontal { background: $border; border-radius: 4px; min-width: 30px; }
QToolTip { background: $surface; color: $text; border: 1px solid $border; padding: 4px; }
QMenu { background: $surface; border: 1px solid $border; padding: 4px; }
QMenu::item { padding: 6px 18px; border-radius: 6px; }
QMenu::item:selected { background: $accent_soft; }
""")


def app_icon() -> QIcon:
    """The memsa logo (window, tray, splash)."""
    return QIcon(str(files("memsa.app.gui") / "icons" / "memsa.svg"))


def resolve_theme(theme: str) -> str:
    """"light" or "dark": "system" follows the desktop's colour scheme."""
    if theme in ("light", "dark"):
        return theme
    hints = QGuiApplication.styleHints()
    return "dark" if hints.colorScheme() == Qt.ColorScheme.Dark else "light"


def palette_of(theme: str) -> Palette:
    return DARK if resolve_theme(theme) == "dark" else LIGHT


def apply_theme(app: QApplication, theme: str) -> Palette:
    """Style the whole application; returns the palette in use (views read colours from it)."""
    colours = palette_of(theme)
    app.setStyle("Fusion")
    palette = QPalette()
    for role, colour in (
        (QPalette.ColorRole.Window, colours.window), (QPalette.ColorRole.Base, colours.surface),
        (QPalette.ColorRole.AlternateBase, colours.window), (QPalette.ColorRole.Text, colours.text),
        (QPalette.ColorRole.WindowText, colours.text), (QPalette.ColorRole.Button, colours.surface),
        (QPalette.ColorRole.ButtonText, colours.text), (QPalette.ColorRole.Highlight, colours.accent),
        (QPalette.ColorRole.HighlightedText, colours.accent_text), (QPalette.ColorRole.PlaceholderText, colours.muted),
        (QPalette.ColorRole.ToolTipBase, colours.surface), (QPalette.ColorRole.ToolTipText, colours.text),
        (QPalette.ColorRole.Link, colours.accent),
    ):
        palette.setColor(role, QColor(colour))
    app.setPalette(palette)
    font = QFont(app.font())
    font.setFamilies(["Inter", "Cantarell", "Noto Sans", "Segoe UI", "Helvetica Neue", "DejaVu Sans", "Sans Serif"])
    app.setFont(font)
    chevron = Path(str(files("memsa.app.gui") / "icons" / "chevron-down.svg")).as_posix()
    app.setStyleSheet(STYLESHEET.substitute(asdict(colours), chevron=chevron))
    return colours
