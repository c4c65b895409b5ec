"""The sort dialog: rules become core rules, plans are shown, and nothing applies unseen."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot

from photoclip.core.catalog import Catalog
from photoclip.core.categories import Category, Label
from photoclip.core.imageio import content_hash
from photoclip.core.sorting import APPLIED, BLOCKED, DONE, KEPT, Plan, Rule, Sorter, Step
from photoclip.core.tagstore import TagRow, TagStore
from photoclip.gui.sortdialog import PlanModel, SortDialog

COLOURS = Category("Colour", (Label("red"), Label("blue"), Label("no colour", counter=True)))


def _dialog(qtbot: QtBot) -> SortDialog:
    dialog = SortDialog()
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def _plan(state: str = "planned") -> Plan:
    return Plan(
        [
            Step(1, "/src/a.jpg", "/dest/Colour/red/a.jpg", "copy", 2_000_000),
            Step(2, "/src/b/a.jpg", "/dest/Colour/red/a (1).jpg", "copy", 1_000_000),
            Step(3, "/src/c.jpg", "/ro/c.jpg", "move", 10, status=BLOCKED, note="/ro is read-only"),
            Step(4, "/src/d.jpg", "Colourful", "album", 0),
        ],
        conflicts=["/dest/Colour/red/a.jpg exists: a.jpg will be a (1).jpg"],
        space={"/dest": (3_000_000, 40_000_000_000)},
        state=state,
    )


def _preview(qtbot: QtBot, dialog: SortDialog) -> list[Rule]:
    with qtbot.wait_signal(dialog.plan_requested) as blocker:
        qtbot.mouseClick(dialog.preview_button, Qt.MouseButton.LeftButton)
    rules: list[Rule] = blocker.args[0]
    return rules


def test_the_plan_model_passes_qtmodeltester(qtmodeltester: ModelTester) -> None:
    model = PlanModel()
    model.set_steps(_plan().steps)
    qtmodeltester.check(model)
    model.set_steps([])
    model.set_steps(_plan().steps[:2])


def test_rules_on_screen_become_core_rules(qtbot: QtBot) -> None:
    dialog = _dialog(qtbot)
    dialog.set_categories([COLOURS])
    assert [dialog._tag_box(0).itemText(i) for i in range(3)] == [
        "Colour:*", "Colour:red", "Colour:blue",
    ]  # fmt: skip
    dialog._tag_box(0).setCurrentText("Colour:red")
    dialog._where(0).setText("~/Sorted/{category}/{label}/{year}")
    dialog.add_rule("Colour:*", "Colourful", "album")
    dialog.add_rule("Colour:blue", "/tmp/blue", "move")
    assert _preview(qtbot, dialog) == [
        Rule("Colour", "red", "~/Sorted/{category}/{label}/{year}", "copy"),
        Rule("Colour", "*", "album:Colourful", "album"),
        Rule("Colour", "blue", "/tmp/blue", "move"),
    ]


def test_a_malformed_rule_is_explained_and_not_sent(qtbot: QtBot) -> None:
    dialog = _dialog(qtbot)
    dialog.add_rule("Colour", "/tmp/x")
    with qtbot.assert_not_emitted(dialog.plan_requested):
        qtbot.mouseClick(dialog.preview_button, Qt.MouseButton.LeftButton)
    assert "CATEGORY:LABEL=DESTINATION" in dialog.message.text()


@pytest.mark.parametrize(
    ("destination", "reason"),
    [
        ("~/Sorted/{place}", "unknown field 'place'"),
        ("~/Sorted/{label", "unknown field"),
        ("Sorted/{label}", "not a full folder path"),
    ],
)
def test_a_destination_the_plan_could_not_use_is_explained(
    qtbot: QtBot, destination: str, reason: str
) -> None:
    dialog = _dialog(qtbot)
    dialog.add_rule("Colour:red", destination)
    with qtbot.assert_not_emitted(dialog.plan_requested):
        qtbot.mouseClick(dialog.preview_button, Qt.MouseButton.LeftButton)
    assert reason in dialog.message.text()


def test_apply_is_refused_before_a_plan(qtbot: QtBot) -> None:
    dialog = _dialog(qtbot)
    dialog.add_rule("Colour:red", "/tmp/x")
    assert not dialog.apply_button.isEnabled() and not dialog.undo_button.isEnabled()
    with qtbot.assert_not_emitted(dialog.apply_requested):
        dialog._on_apply()
    assert "Preview" in dialog.message.text()


def test_the_plan_shows_destinations_renames_skips_and_free_space(qtbot: QtBot) -> None:
    dialog = _dialog(qtbot)
    dialog.show_plan(_plan())
    rows = [
        [dialog.model.index(r, c).data() for c in range(4)] for r in range(dialog.model.rowCount())
    ]
    assert rows[0] == ["/src/a.jpg", "/dest/Colour/red/a.jpg", "copy", "will copy"]
    assert rows[1][3] == "will copy, renamed (name taken)"
    assert rows[2][3] == "skipped: /ro is read-only"
    assert rows[3][1:] == ["album “Colourful”", "album", "will add to album"]
    summary = dialog.summary.text()
    assert "4 photos" in summary and "1 skipped" in summary
    assert "/dest: needs 3.0 MB, 40.0 GB free" in summary
    assert "a.jpg will be a (1).jpg" in summary
    assert dialog.apply_button.isEnabled()


def test_editing_the_rules_after_a_preview_needs_a_new_preview(qtbot: QtBot) -> None:
    dialog = _dialog(qtbot)
    dialog.show_plan(_plan())
    dialog._where(0).setText("/elsewhere")
    assert not dialog.apply_button.isEnabled()
    assert "Preview again" in dialog.message.text()


def test_a_plan_with_problems_cannot_be_applied(qtbot: QtBot) -> None:
    dialog = _dialog(qtbot)
    plan = _plan()
    plan.problems.append("/dest needs 3000000 bytes, 10 are free")
    dialog.show_plan(plan)
    assert not dialog.apply_button.isEnabled()
    assert "Cannot apply" in dialog.summary.text()


def test_apply_shows_progress_then_offers_undo(qtbot: QtBot) -> None:
    dialog = _dialog(qtbot)
    dialog.show_plan(_plan())
    with qtbot.wait_signal(dialog.apply_requested):
        qtbot.mouseClick(dialog.apply_button, Qt.MouseButton.LeftButton)
    assert not dialog.preview_button.isEnabled() and not dialog.apply_button.isEnabled()
    dialog.set_progress(2, 4)
    assert dialog.progress.value() == 2 and dialog.progress.maximum() == 4
    dialog.show_done("Sorted 3 photos.")
    assert dialog.message.text() == "Sorted 3 photos."
    assert not dialog.apply_button.isEnabled() and dialog.undo_button.isEnabled()
    with qtbot.wait_signal(dialog.undo_requested):
        qtbot.mouseClick(dialog.undo_button, Qt.MouseButton.LeftButton)
    dialog.show_done("Everything is back.")
    assert not dialog.undo_button.isEnabled() and dialog.preview_button.isEnabled()


def test_an_apply_cut_short_can_go_on_or_go_back(qtbot: QtBot) -> None:
    dialog = _dialog(qtbot)
    dialog.show_plan(_plan())
    dialog._on_apply()
    dialog.show_error("/src/c.jpg: No space left on device.")
    assert "No space left" in dialog.message.text()
    assert dialog.apply_button.isEnabled() and dialog.undo_button.isEnabled()


@pytest.fixture
def tagged(tmp_path: Path) -> Catalog:
    """Two red photos with the same name in two folders, one blue photo, tagged."""
    catalog = Catalog.open(tmp_path / "catalog.sqlite3")
    saved = TagStore(catalog).save_category(COLOURS)
    label_ids = {label.name: int(label.id or 0) for label in saved.labels}
    rows = []
    with catalog.transaction():
        root = catalog.add_root(tmp_path / "src")
        for name, label in (("a/x.jpg", "red"), ("b/x.jpg", "red"), ("a/y.jpg", "blue")):
            path = tmp_path / "src" / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(name.encode() * 50)
            photo_id = catalog.upsert_photo(
                path, root.id, size=path.stat().st_size, mtime_ns=path.stat().st_mtime_ns,
                content_hash=content_hash(path),
            )  # fmt: skip
            rows.append(TagRow(photo_id, label_ids[label], 0.5, 0.3))
    TagStore(catalog).replace_auto_tags(list(label_ids.values()), rows, None)
    return catalog


def test_a_real_plan_from_the_dialogs_rules_applies_and_shows_as_done(
    qtbot: QtBot, tagged: Catalog, tmp_path: Path
) -> None:
    dialog = _dialog(qtbot)
    dialog.add_rule("Colour:red", str(tmp_path / "out" / "{label}"), "copy")
    sorter = Sorter(tagged, tmp_path / "journals")
    dialog.show_plan(sorter.plan(_preview(qtbot, dialog)))
    statuses = sorted(dialog.model.index(r, 3).data() for r in range(2))
    assert statuses == ["will copy", "will copy, renamed (name taken)"]
    assert not (tmp_path / "out").exists()
    with qtbot.wait_signal(dialog.apply_requested):
        qtbot.mouseClick(dialog.apply_button, Qt.MouseButton.LeftButton)
    applied = sorter.apply()
    dialog.show_plan(applied)
    assert applied.state == APPLIED and dialog.undo_button.isEnabled()
    assert [dialog.model.index(r, 3).data() for r in range(2)] == ["done", "done"]
    assert sorted(p.name for p in (tmp_path / "out" / "red").iterdir()) == ["x (1).jpg", "x.jpg"]


def test_after_apply_each_row_says_what_happened_and_the_bar_counts(qtbot: QtBot) -> None:
    """Issue 19: every row still said "will copy" after Apply, and the bar had no count."""
    dialog = _dialog(qtbot)
    dialog.show_plan(_plan())
    dialog._on_apply()
    applied = _plan(APPLIED)
    for step in applied.steps[:2]:
        step.status = DONE
    applied.steps[3].status = KEPT
    applied.steps[3].note = "already in the album"
    dialog.show_done("Sorted: 2 of 4 photos.", applied)
    statuses = [dialog.model.index(r, 3).data() for r in range(4)]
    assert statuses == ["done", "done", "skipped: /ro is read-only", "kept: already in the album"]
    assert (dialog.progress.value(), dialog.progress.maximum()) == (2, 4)
    assert dialog.progress.text() == "2 of 4"
