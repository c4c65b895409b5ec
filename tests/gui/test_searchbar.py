"""The search bar: debounced typing, the request it makes, a photo dropped on it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from photoclip.core.search import DATE
from photoclip.gui.searchbar import DEBOUNCE_MS, SearchBar
from tests.gui.conftest import file_drop


def test_typing_searches_once_after_a_pause(qtbot: Any) -> None:
    bar = SearchBar()
    qtbot.addWidget(bar)
    emitted: list[None] = []
    bar.changed.connect(lambda: emitted.append(None))
    with qtbot.wait_signal(bar.changed, timeout=2000):
        qtbot.keyClicks(bar.field, "red circle")
    qtbot.wait(400)
    assert len(emitted) == 1
    assert bar.request().query == "red circle"


def test_the_request_carries_sort_cutoff_and_dates(qtbot: Any) -> None:
    bar = SearchBar()
    qtbot.addWidget(bar)
    assert bar.request().relative is None and bar.request().since is None
    with qtbot.wait_signal(bar.changed):
        bar.sort.setCurrentIndex(1)
    bar.cutoff.setValue(50)
    bar.dates.setChecked(True)
    request = bar.request()
    assert request.sort == DATE and request.relative == 0.5
    assert request.since is not None and request.until is not None
    assert request.until - request.since > 365 * 86400


def test_a_dropped_photo_becomes_the_query(qtbot: Any, tmp_path: Path) -> None:
    bar = SearchBar()
    qtbot.addWidget(bar)
    photo = tmp_path / "my photo.jpg"
    drop = file_drop(photo)
    with qtbot.wait_signal(bar.changed):
        bar.field.dropEvent(drop)
    assert bar.request().query == f'"{photo}"'


@pytest.mark.qt_log_level_fail("WARNING")
@pytest.mark.parametrize("slider", ["textness", "cutoff"])
def test_a_slider_moved_waits_the_debounce_without_a_qt_warning(qtbot: Any, slider: str) -> None:
    """Issue 19: the sliders' values reached QTimer.start as its interval ("negative
    intervals aren't allowed" for the text slider; a 95 ms debounce for the cutoff)."""
    bar = SearchBar()
    qtbot.addWidget(bar)
    with qtbot.wait_signal(bar.changed, timeout=2000):
        getattr(bar, slider).setValue(getattr(bar, slider).minimum() or 95)
    assert bar._debounce.interval() == DEBOUNCE_MS


def test_the_text_slider_says_when_it_waits_for_learning(qtbot: Any) -> None:
    bar = SearchBar()
    qtbot.addWidget(bar)
    bar.set_textness_learning(True)
    assert bar.textness_label.text() == "Text in photos (learning…)"
    bar.set_textness_learning(False)
    assert bar.textness_label.text() == "Text in photos"
