"""The category editor: edits become Category objects, and only valid ones are saved."""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from photoclip.core.categories import MULTI, Category, Label
from photoclip.core.profiles import CLOSED_VOCABULARIES
from photoclip.core.tagging import CategoryCheck
from photoclip.core.vocabulary import closed
from photoclip.gui.categoryeditor import CategoryEditor, tag_renames

PETS = Category(
    "Pets",
    (Label("dog", ("a puppy",)), Label("cat"), Label("no pet", counter=True)),
    context="a type of pet",
    margin=0.01,
)
SCENE = Category("Scene", (Label("beach"), Label("city", threshold=0.27)), kind=MULTI)


def _editor(qtbot: QtBot) -> CategoryEditor:
    editor = CategoryEditor([PETS, SCENE])
    qtbot.addWidget(editor)
    editor.show()
    return editor


def _type(qtbot: QtBot, widget: object, text: str) -> None:
    widget.selectAll()  # type: ignore[attr-defined]
    qtbot.keyClicks(widget, text)


def _save(qtbot: QtBot, editor: CategoryEditor) -> tuple[list[Category], list[str]]:
    with qtbot.wait_signal(editor.saved) as blocker:
        qtbot.mouseClick(editor.save_button, Qt.MouseButton.LeftButton)
    changed, removed = blocker.args
    return changed, removed


def test_it_shows_the_selected_category_and_label(qtbot: QtBot) -> None:
    editor = _editor(qtbot)
    assert editor.name_edit.text() == "Pets"
    assert editor.context_edit.text() == "a type of pet"
    assert editor.margin_spin.value() == 0.01 and editor.margin_spin.isEnabled()
    assert editor.phrasings_edit.toPlainText() == "a puppy"
    editor.select(1, 1)
    assert editor.kind_combo.currentData() == MULTI and not editor.margin_spin.isEnabled()
    assert editor.threshold_check.isChecked() and editor.threshold_spin.value() == 0.27


def test_editing_a_phrasing_saves_a_category_whose_label_has_it(qtbot: QtBot) -> None:
    editor = _editor(qtbot)
    editor.select(0, 1)
    qtbot.keyClicks(editor.phrasings_edit, "a kitten")
    changed, removed = _save(qtbot, editor)
    assert removed == []
    assert [c.name for c in changed] == ["Pets"]
    assert changed[0].label("cat") == Label("cat", ("a kitten",))
    assert changed[0].label("dog") == Label("dog", ("a puppy",))


def test_threshold_counter_and_kind_edits_reach_the_saved_category(qtbot: QtBot) -> None:
    editor = _editor(qtbot)
    editor.select(1, 0)
    editor.threshold_check.setChecked(True)
    editor.threshold_spin.setValue(0.3)
    editor.select(1, 1)
    editor.threshold_check.setChecked(False)
    editor.kind_combo.setCurrentIndex(0)
    changed, _ = _save(qtbot, editor)
    assert changed == [Category("Scene", (Label("beach", threshold=0.3), Label("city")))]


def test_unchanged_saves_nothing_and_a_removed_category_is_named(qtbot: QtBot) -> None:
    editor = _editor(qtbot)
    editor.select(0)
    qtbot.mouseClick(editor.remove_category_button, Qt.MouseButton.LeftButton)
    assert editor.name_edit.text() == "Scene"
    assert _save(qtbot, editor) == ([], ["Pets"])


def test_a_new_category_with_labels_is_saved(qtbot: QtBot) -> None:
    editor = _editor(qtbot)
    qtbot.mouseClick(editor.add_category_button, Qt.MouseButton.LeftButton)
    _type(qtbot, editor.name_edit, "Weather")
    editor.select(2, 0)
    _type(qtbot, editor.label_name_edit, "snow")
    qtbot.mouseClick(editor.add_label_button, Qt.MouseButton.LeftButton)
    qtbot.keyClicks(editor.label_name_edit, "rain")
    editor.counter_check.setChecked(False)
    changed, removed = _save(qtbot, editor)
    assert changed == [Category("Weather", (Label("snow"), Label("rain")))] and removed == []


def test_a_renamed_category_never_saved_is_one_removed_and_one_new(qtbot: QtBot) -> None:
    editor = _editor(qtbot)
    _type(qtbot, editor.name_edit, "Animals")
    assert editor.category_list.item(0).text() == "Animals"
    changed, removed = _save(qtbot, editor)
    assert [c.name for c in changed] == ["Animals"] and removed == ["Pets"]


def _stored(qtbot: QtBot) -> CategoryEditor:
    """An editor of categories as the tag store gives them: with their rows' ids."""
    labels = tuple(replace(label, id=10 + i) for i, label in enumerate(PETS.labels))
    pets = replace(PETS, labels=labels, id=1)
    editor = CategoryEditor([pets, replace(SCENE, id=2)])
    qtbot.addWidget(editor)
    editor.show()
    return editor


def test_a_renamed_stored_category_goes_back_as_itself(qtbot: QtBot) -> None:
    editor = _stored(qtbot)
    _type(qtbot, editor.name_edit, "Animals")
    changed, removed = _save(qtbot, editor)
    assert [(c.name, c.id) for c in changed] == [("Animals", 1)] and removed == []
    assert [label.id for label in changed[0].labels] == [10, 11, 12]


def test_a_renamed_stored_label_goes_back_with_its_id(qtbot: QtBot) -> None:
    editor = _stored(qtbot)
    editor.select(0, 0)
    _type(qtbot, editor.label_name_edit, "puppy")
    changed, removed = _save(qtbot, editor)
    assert removed == [] and [c.name for c in changed] == ["Pets"]
    puppy = changed[0].labels[0]
    assert (puppy, puppy.id) == (Label("puppy", ("a puppy",)), 10)


def test_a_removed_category_s_name_can_go_to_a_renamed_one(qtbot: QtBot) -> None:
    editor = _stored(qtbot)
    editor.select(1)
    qtbot.mouseClick(editor.remove_category_button, Qt.MouseButton.LeftButton)
    editor.select(0)
    _type(qtbot, editor.name_edit, "Scene")
    changed, removed = _save(qtbot, editor)
    assert [(c.name, c.id) for c in changed] == [("Scene", 1)] and removed == ["Scene"]


def test_invalid_categories_are_explained_and_never_saved(qtbot: QtBot) -> None:
    editor = _editor(qtbot)
    editor.name_edit.clear()
    qtbot.keyClicks(editor.name_edit, " ")
    assert not editor.save_button.isEnabled()
    assert "A category has no name" in editor.message.text()
    _type(qtbot, editor.name_edit, "scene")
    assert "Two categories are called 'scene'" in editor.message.text().replace("Scene", "scene")
    _type(qtbot, editor.name_edit, "Pets")
    editor.select(0, 1)
    _type(qtbot, editor.label_name_edit, "DOG")
    assert "'Pets' has two labels called 'DOG'" in editor.message.text()
    with qtbot.assert_not_emitted(editor.saved):
        editor.buttons.accepted.emit()
    _type(qtbot, editor.label_name_edit, "cat")
    assert editor.message.text() == "" and editor.save_button.isEnabled()


def test_a_category_needs_a_label_that_can_tag(qtbot: QtBot) -> None:
    editor = _editor(qtbot)
    editor.select(1, 0)
    qtbot.mouseClick(editor.remove_label_button, Qt.MouseButton.LeftButton)
    editor.counter_check.setChecked(True)
    assert "'Scene' has only counter-labels" in editor.message.text()
    qtbot.mouseClick(editor.remove_label_button, Qt.MouseButton.LeftButton)
    assert "'Scene' has no labels" in editor.message.text()
    assert not editor.save_button.isEnabled()
    assert not editor.label_name_edit.isEnabled()


def test_the_calibrated_threshold_is_shown_and_where_an_own_one_starts(qtbot: QtBot) -> None:
    editor = _editor(qtbot)
    editor.select(0, 1)
    editor.set_calibrated({("Pets", "cat"): 0.2712})
    assert "0.271 (learned)" in editor.threshold_hint.text()
    editor.threshold_check.setChecked(True)
    changed, _ = _save(qtbot, editor)
    assert changed[0].label("cat") == Label("cat", threshold=0.271)


def test_a_new_category_is_never_saved_with_placeholder_names(qtbot: QtBot) -> None:
    editor = _editor(qtbot)
    qtbot.mouseClick(editor.add_category_button, Qt.MouseButton.LeftButton)
    assert editor.name_edit.text() == "" and not editor.save_button.isEnabled()
    _type(qtbot, editor.name_edit, "Weather")
    editor.select(2, 0)
    _type(qtbot, editor.label_name_edit, "new label")
    assert "A label of 'Weather' has no name" in editor.message.text()
    _type(qtbot, editor.label_name_edit, "snow")
    # One label alone cannot tag: it needs a second one, or a counter-label.
    assert "'Weather' needs a second label, or a counter-label" in editor.message.text()
    with qtbot.assert_not_emitted(editor.saved):
        editor.buttons.accepted.emit()
    qtbot.mouseClick(editor.add_label_button, Qt.MouseButton.LeftButton)
    qtbot.keyClicks(editor.label_name_edit, "other weather")
    editor.counter_check.setChecked(True)
    changed, _ = _save(qtbot, editor)
    assert changed == [Category("Weather", (Label("snow"), Label("other weather", counter=True)))]


def test_it_shows_what_a_category_does_to_the_library(qtbot: QtBot) -> None:
    editor = _editor(qtbot)
    assert editor.check_text.text() == "Not saved yet."
    warning = "no photo stands out for 'cat'"
    editor.set_checks([CategoryCheck("Pets", 240, 60, {"dog": 60, "cat": 0}, [warning])])
    assert editor.check_text.text() == (
        f"Tags 25% of 240 photos: dog 60, cat 0\nWarning: {warning}"
    )


def _with_ids(name: str, id_: int, *labels: tuple[str, int]) -> Category:
    return Category(name, tuple(Label(n, id=i) for n, i in labels), id=id_)


def test_tag_renames_follow_ids_through_renames_swaps_and_removals() -> None:
    pets = _with_ids("Pets", 1, ("dog", 10), ("cat", 11), ("bird", 12))
    docs = _with_ids("Docs", 2, ("receipt", 20))
    food = _with_ids("Food", 3, ("pizza", 30))
    swapped = _with_ids(
        "Animals", 1, ("cat", 10), ("dog", 11)
    )  # renamed, labels swapped, bird gone
    renames = tag_renames([pets, docs, food], [swapped], ["Docs"])
    assert renames == {
        ("Pets", "dog"): ("Animals", "cat"),
        ("Pets", "cat"): ("Animals", "dog"),
        ("Pets", "bird"): None,
        ("Docs", "receipt"): None,
    }  # Food, untouched, is left out


def test_tag_renames_match_a_new_category_that_takes_a_removed_ones_name() -> None:
    old = _with_ids("Pets", 1, ("dog", 10))
    new = Category("Pets", (Label("dog"), Label("cat")))  # no ids: made anew in the editor
    assert tag_renames([old], [new], ["Pets"]) == {}
    assert tag_renames([old], [Category("Pets", (Label("cat"),))], ["Pets"]) == {
        ("Pets", "dog"): None
    }


def test_it_shows_the_other_words_a_category_is_compared_with(qtbot: QtBot) -> None:
    colours = Category("Colour", (Label("red"), Label("green"), Label("blue")))
    editor = CategoryEditor([colours, SCENE])
    qtbot.addWidget(editor)
    editor.show()
    assert editor.others_text.text().startswith("Other colours: black, white, yellow, brown")
    editor.set_known(closed(CLOSED_VOCABULARIES["PhotoClip-TestShapes"]))  # the demo model
    said = "Other colours: black, white, yellow, purple, orange. A photo that looks more like"
    assert editor.others_text.text().startswith(said)
    qtbot.mouseClick(editor.add_label_button, Qt.MouseButton.LeftButton)
    qtbot.keyClicks(editor.label_name_edit, "purple")  # now a label: no longer another word
    assert "purple" not in editor.others_text.text() and "orange" in editor.others_text.text()
    editor.other_words_check.setChecked(False)  # the user turns them off
    assert editor.others_text.text().startswith("Nothing else (turned off)")
    changed, _ = _save(qtbot, editor)
    assert [c.other_words for c in changed] == [False]
    editor = CategoryEditor([*changed, SCENE])
    qtbot.addWidget(editor)
    editor.show()
    assert not editor.other_words_check.isChecked() and editor.other_words_check.isEnabled()
    editor.kind_combo.setCurrentIndex(1)  # multi-label: each label on its own
    assert editor.others_text.text().startswith("Nothing else")
    editor.select(1)
    assert editor.others_text.text().startswith("Nothing else")
