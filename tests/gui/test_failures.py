"""The failures dialog: every failed photo and its reason, sortable, paths copyable."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot

from photoclip.core.browsing import Failure
from photoclip.gui.failures import FailureModel, FailuresDialog

FAILURES = [
    Failure(Path("/photos/b.jpg"), "not an image", datetime(2026, 1, 5, 10, 0)),
    Failure(Path("/photos/a.heic"), "too large: 300 megapixels", datetime(2026, 3, 1, 9, 30)),
    Failure(Path("/photos/C.png"), "truncated file", datetime(2025, 12, 24, 18, 0)),
]


def _dialog(qtbot: QtBot) -> FailuresDialog:
    dialog = FailuresDialog()
    qtbot.addWidget(dialog)
    dialog.set_failures(FAILURES)
    dialog.show()
    return dialog


def _column(dialog: FailuresDialog, column: int) -> list[str]:
    return [dialog.proxy.index(r, column).data() for r in range(dialog.proxy.rowCount())]


def test_the_model_passes_qtmodeltester(qtmodeltester: ModelTester) -> None:
    model = FailureModel()
    model.set_failures(FAILURES)
    qtmodeltester.check(model)
    model.set_failures([])


def test_it_lists_each_failure_with_its_reason_and_date(qtbot: QtBot) -> None:
    dialog = _dialog(qtbot)
    assert "3 photos could not be read" in dialog.summary.text()
    rows = list(zip(_column(dialog, 0), _column(dialog, 1), _column(dialog, 2), strict=True))
    assert rows[0] == (str(Path("/photos/a.heic")), "too large: 300 megapixels", "2026-03-01 09:30")
    assert len(rows) == 3


def test_it_sorts_by_path_reason_or_date(qtbot: QtBot) -> None:
    dialog = _dialog(qtbot)
    names = lambda: [Path(p).name for p in _column(dialog, 0)]  # noqa: E731
    assert names() == ["a.heic", "b.jpg", "C.png"]
    dialog.table.sortByColumn(2, Qt.SortOrder.AscendingOrder)
    assert names() == ["C.png", "b.jpg", "a.heic"]
    dialog.table.sortByColumn(1, Qt.SortOrder.DescendingOrder)
    assert _column(dialog, 1) == ["truncated file", "too large: 300 megapixels", "not an image"]


def test_copy_path_puts_the_selected_paths_on_the_clipboard(qtbot: QtBot) -> None:
    dialog = _dialog(qtbot)
    dialog.table.selectRow(1)
    qtbot.mouseClick(dialog.copy_button, Qt.MouseButton.LeftButton)
    assert QGuiApplication.clipboard().text() == str(Path("/photos/b.jpg"))
    dialog.table.selectAll()
    dialog.copy_paths()
    assert QGuiApplication.clipboard().text().splitlines() == _column(dialog, 0)


def test_no_failures_says_so_and_has_nothing_to_copy(qtbot: QtBot) -> None:
    dialog = _dialog(qtbot)
    dialog.set_failures([])
    assert dialog.summary.text() == "Every photo was read."
    assert not dialog.copy_button.isEnabled()
