"""The tag panel: a tree of categories and labels with counts; clicks ask for filters."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtWidgets import QPushButton
from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot

from photoclip.core.browsing import TagCount
from photoclip.gui.tagpanel import TagModel, TagPanel

COUNTS = [
    TagCount("Pets", "dog", 12),
    TagCount("Pets", "cat", 3),
    TagCount("Pets", "no pet", 0, counter=True),
    TagCount("Scene", "beach", 0, kind="multi"),
    TagCount("Scene", "city", 41, kind="multi"),
]


def _panel(qtbot: QtBot) -> TagPanel:
    panel = TagPanel()
    qtbot.addWidget(panel)
    panel.set_counts(COUNTS)
    panel.resize(300, 400)
    panel.show()
    return panel


def _rows(model: TagModel, parent: QModelIndex | None = None) -> list[tuple[str, str]]:
    parent = parent or QModelIndex()
    return [
        (model.index(r, 0, parent).data(), model.index(r, 1, parent).data())
        for r in range(model.rowCount(parent))
    ]


def test_the_model_passes_qtmodeltester_through_resets(qtmodeltester: ModelTester) -> None:
    model = TagModel()
    model.set_counts(COUNTS)
    qtmodeltester.check(model)
    model.set_counts(COUNTS[:2])
    model.set_counts([])
    model.set_counts(COUNTS)


def test_categories_hold_their_labels_with_counts_in_order(qtbot: QtBot) -> None:
    panel = _panel(qtbot)
    model = panel.model
    assert _rows(model) == [("Pets", ""), ("Scene", "")]
    assert _rows(model, model.index(0, 0)) == [("dog", "12"), ("cat", "3")]
    assert _rows(model, model.index(1, 0)) == [("beach", "0"), ("city", "41")]


def test_clicking_a_label_asks_for_its_filter_and_clear_clears_it(qtbot: QtBot) -> None:
    panel = _panel(qtbot)
    index = panel.model.label_index("Scene", "city")
    rect = panel.tree.visualRect(index)
    with qtbot.wait_signal(panel.filter_requested) as blocker:
        qtbot.mouseClick(panel.tree.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert blocker.args == ["Scene", "city"]
    assert panel.current_filter() == ("Scene", "city") and panel.clear_button.isEnabled()
    assert "Scene: city" in panel.filter_label.text()
    with qtbot.wait_signal(panel.filter_cleared):
        qtbot.mouseClick(panel.clear_button, Qt.MouseButton.LeftButton)
    assert panel.current_filter() is None and not panel.clear_button.isEnabled()


def test_clicking_a_category_asks_for_nothing(qtbot: QtBot) -> None:
    panel = _panel(qtbot)
    rect = panel.tree.visualRect(panel.model.index(0, 0))
    with qtbot.assert_not_emitted(panel.filter_requested):
        qtbot.mouseClick(panel.tree.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


def test_new_counts_keep_the_filter_selected(qtbot: QtBot) -> None:
    panel = _panel(qtbot)
    panel.set_filter("Pets", "cat")
    panel.set_counts([*COUNTS[:1], TagCount("Pets", "cat", 4)])
    current = panel.tree.currentIndex()
    assert current.data(Qt.ItemDataRole.UserRole) == ("Pets", "cat")
    assert current.siblingAtColumn(1).data() == "4"


def test_edit_categories_is_a_request(qtbot: QtBot) -> None:
    panel = _panel(qtbot)
    with qtbot.wait_signal(panel.edit_requested):
        qtbot.mouseClick(panel.edit_button, Qt.MouseButton.LeftButton)


def test_without_categories_the_panel_says_how_to_make_some(qtbot: QtBot) -> None:
    panel = _panel(qtbot)
    panel.set_counts([])
    assert panel.stack.currentWidget() is panel.empty
    suggest = next(b for b in panel.empty.findChildren(QPushButton) if "uggested" in b.text())
    with qtbot.wait_signal(panel.suggestions_requested):
        qtbot.mouseClick(suggest, Qt.MouseButton.LeftButton)
    panel.set_counts(COUNTS)
    assert panel.stack.currentWidget() is panel.tree
