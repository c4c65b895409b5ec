"""The folder sidebar: states, choosing a folder, removing one only after confirmation."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from photoclip.gui.folders import FolderList, FolderModel, FolderState, PathRole


def test_states_read_as_a_person_would_say_them() -> None:
    assert FolderState(Path("/p"), photos=3).summary == "3 photos · watching"
    assert FolderState(Path("/p"), online=False).summary == "0 photos · offline (photos kept)"
    assert FolderState(Path("/p"), indexing=True, failed=1).summary == (
        "0 photos, 1 could not be read · indexing"
    )
    assert FolderState(Path("/p"), polled=True).summary == "0 photos · polled"


def test_the_model_passes_qt_model_checks_and_marks_states(qtmodeltester: Any) -> None:
    model = FolderModel()
    model.set_folders([FolderState(Path("/a"), photos=1), FolderState(Path("/b"))])
    qtmodeltester.check(model)
    model.mark_indexing({Path("/b")})
    model.set_online(Path("/a"), False)
    text = [model.index(r).data(Qt.ItemDataRole.DisplayRole) for r in range(2)]
    assert text == ["a\n1 photo · offline (photos kept)", "b\n0 photos · indexing"]
    assert model.index(1).data(PathRole) == Path("/b")


@pytest.mark.parametrize(
    ("answer", "emitted"),
    [(QMessageBox.StandardButton.Yes, ["/a"]), (QMessageBox.StandardButton.Cancel, [])],
)
def test_removing_asks_first_and_says_the_files_stay(
    qtbot: Any, monkeypatch: pytest.MonkeyPatch, answer: Any, emitted: list[str]
) -> None:
    asked: list[str] = []

    def question(parent: Any, title: str, text: str, *rest: Any) -> Any:
        asked.append(text)
        return answer

    monkeypatch.setattr(QMessageBox, "question", question)
    model = FolderModel()
    model.set_folders([FolderState(Path("/a"))])
    folders = FolderList(model)
    qtbot.addWidget(folders)
    folders.view.setCurrentIndex(model.index(0))
    removed: list[str] = []
    folders.remove_requested.connect(removed.append)
    folders.remove.click()
    assert removed == emitted
    assert "files stay on your disk" in asked[0]


def test_choosing_a_folder_and_all_folders(qtbot: Any) -> None:
    model = FolderModel()
    model.set_folders([FolderState(Path("/a"))])
    folders = FolderList(model)
    qtbot.addWidget(folders)
    with qtbot.wait_signal(folders.folder_chosen) as blocker:
        folders.view.clicked.emit(model.index(0))
    assert blocker.args == ["/a"]
    with qtbot.wait_signal(folders.folder_chosen) as blocker:
        folders._choose_all()
    assert blocker.args == [""]


def test_an_added_folder_shows_as_scanning_until_the_catalog_has_it() -> None:
    model = FolderModel()
    known = FolderState(Path("/a"), photos=2)
    model.set_folders([known])
    model.add_pending({Path("/new")})
    assert [(f.path, f.summary) for f in model.folders] == [
        (Path("/a"), "2 photos · watching"),
        (Path("/new"), "scanning"),
    ]
    model.set_folders([known])  # a read from before the worker reached it
    assert [f.path for f in model.folders] == [Path("/a"), Path("/new")]
    model.set_folders([known, FolderState(Path("/new"), photos=1)])
    assert [f.summary for f in model.folders] == ["2 photos · watching", "1 photo · watching"]


def test_a_folder_the_worker_never_added_leaves_after_it_goes_idle() -> None:
    model = FolderModel()
    model.add_pending({Path("/gone")})
    model.settle_pending()
    model.set_folders([])
    assert model.folders == []


def test_a_folder_named_in_bytes_that_are_not_utf8_is_chosen_and_removed_as_itself(
    qtbot: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Qt strings drop the odd bytes of such a name: the folder went to the worker as
    '/photos/caf' and was never found."""
    odd = Path(os.fsdecode(b"/photos/caf\xe9"))
    monkeypatch.setattr(QMessageBox, "question", lambda *a: QMessageBox.StandardButton.Yes)
    model = FolderModel()
    model.set_folders([FolderState(odd)])
    assert "caf\\xe9" in model.data(model.index(0), Qt.ItemDataRole.DisplayRole)
    folders = FolderList(model)
    qtbot.addWidget(folders)
    with qtbot.wait_signal(folders.folder_chosen) as blocker:
        folders.view.clicked.emit(model.index(0))
    assert blocker.args == [str(odd)]
    folders.view.setCurrentIndex(model.index(0))
    removed: list[str] = []
    folders.remove_requested.connect(removed.append)
    folders.remove.click()
    assert removed == [str(odd)]
