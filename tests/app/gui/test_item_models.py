"""Item models show the records they hold, by role."""

from __future__ import annotations

from PySide6.QtCore import Qt

from memsa.app.gui.item_models import ConversationListModel, FailedFilesModel, Role, SourcesTableModel
from memsa.app.gui.records import ConversationSummary, FailedFile, SourceRoot

DISPLAY = Qt.ItemDataRole.DisplayRole


def test_conversation_list(qapp: object) -> None:
    model = ConversationListModel()
    model.set_conversations([ConversationSummary(7, "Dentist", 1.7e9, 2), ConversationSummary(3, "Cabin", 1.6e9, 1)])
    assert model.rowCount() == 2
    assert model.index(0).data(DISPLAY) == "Dentist" and model.index(1).data(Role.Id) == 3
    assert "2 questions" in model.index(0).data(Qt.ItemDataRole.ToolTipRole)
    assert model.row_of(3) == 1 and model.row_of(99) == -1
    assert model.index(5).data(DISPLAY) is None


def test_sources_table_counts_and_status(qapp: object) -> None:
    model = SourcesTableModel()
    scanned = SourceRoot("/home/u/Notes", counts={"added": 40, "unchanged": 2, "failed": 3, "removed": 5},
                         last_scan=1.7e9)
    fresh = SourceRoot("/home/u/Archive", counts={}, last_scan=None)
    model.set_roots([scanned, fresh])
    rows = [[model.index(row, column).data(DISPLAY) for column in range(model.columnCount())] for row in range(2)]
    assert rows == [["Archive", "0", "0", "0", "Reading…"], ["Notes", "45", "42", "3", "Watching · 3 failed"]]
    assert model.index(1, 0).data(Qt.ItemDataRole.ToolTipRole) == "/home/u/Notes"
    model.set_queue_state(busy=False, paused=True)
    assert model.index(1, 4).data(DISPLAY) == "Paused"
    model.set_queue_state(busy=False, paused=False)
    model.set_roots([SourceRoot("/home/u/Notes", counts={"added": 1}, last_scan=1.7e9)])
    assert model.index(0, 4).data(DISPLAY) == "Up to date"


def test_failed_files(qapp: object) -> None:
    model = FailedFilesModel()
    model.set_files([FailedFile("/n/scan.pdf", "the PDF is damaged: no trailer")])
    assert model.index(0, 0).data(DISPLAY) == "scan.pdf"
    assert model.index(0, 1).data(DISPLAY) == "the PDF is damaged: no trailer"
    assert model.headerData(1, Qt.Orientation.Horizontal) == "Reason"
