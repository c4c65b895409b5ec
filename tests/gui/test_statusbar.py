"""The status bar: indexing progress in words, pause/resume, failures, and messages that
stay readable."""

from __future__ import annotations

from typing import Any

from photoclip.core import worker as w
from photoclip.core.indexing import IndexProgress
from photoclip.gui.statusbar import StatusBar, eta_text, progress_text


def test_progress_reads_as_done_of_total_rate_and_time_left() -> None:
    assert progress_text(IndexProgress(1200, 5000, 12.5, 304)) == (
        "1,200 of 5,000 photos · 12.5/s · 5 min left"
    )
    assert progress_text(IndexProgress(3, 10, 0.0, None)) == "3 of 10 photos · 0.0/s"
    assert (eta_text(42), eta_text(7200)) == ("42 s left", "2.0 h left")


def test_progress_is_cleared_when_the_worker_goes_idle(qtbot: Any) -> None:
    bar = StatusBar()
    qtbot.addWidget(bar)
    bar.show_state(w.StateChanged(w.WORKING, queue=1))
    bar.show_progress(IndexProgress(5, 10, 2.0, 2.5))
    assert bar.bar.isVisibleTo(bar) and "5 of 10" in bar.message
    bar.show_state(w.StateChanged(w.IDLE, queue=0))
    assert (bar.state.text(), bar.message, bar.bar.isVisibleTo(bar)) == (
        "Up to date",
        "",
        False,
    )


def test_a_failed_jobs_message_outlives_the_worker_going_idle(qtbot: Any) -> None:
    """A job fails, then the worker goes idle at once: the reason must stay readable."""
    bar = StatusBar()
    qtbot.addWidget(bar)
    bar.show_progress(IndexProgress(5, 10, 2.0, 2.5))
    bar.show_message("Thumbnails cannot be kept in /nope: Permission denied.")
    bar.show_state(w.StateChanged(w.IDLE, queue=0))
    assert bar.message == "Thumbnails cannot be kept in /nope: Permission denied."


def test_pause_button_says_what_it_will_do_and_reports_the_toggle(qtbot: Any) -> None:
    bar = StatusBar()
    qtbot.addWidget(bar)
    with qtbot.wait_signal(bar.pause_toggled) as paused:
        bar.pause.click()
    assert paused.args == [True] and bar.pause.text() == "Resume"
    with qtbot.wait_signal(bar.pause_toggled) as resumed:
        bar.pause.click()
    assert resumed.args == [False] and bar.pause.text() == "Pause"


def test_failures_button_shows_only_when_photos_failed(qtbot: Any) -> None:
    bar = StatusBar()
    qtbot.addWidget(bar)
    bar.show_failures(0)
    assert not bar.failures.isVisibleTo(bar)
    bar.show_failures(3)
    assert bar.failures.isVisibleTo(bar) and bar.failures.text() == "3 could not be read…"
    with qtbot.wait_signal(bar.failures_requested):
        bar.failures.click()


def test_pause_shows_only_while_something_runs(qtbot: Any) -> None:
    bar = StatusBar()
    qtbot.addWidget(bar)
    shown = []
    for state in (w.STARTING, w.WORKING, w.PAUSED, w.IDLE):
        bar.show_state(w.StateChanged(state, queue=0))
        shown.append(bar.pause.isVisibleTo(bar))
    assert shown == [False, True, True, False]


def test_results_read_as_count_and_search_time(qtbot: Any) -> None:
    bar = StatusBar()
    qtbot.addWidget(bar)
    bar.show_results(312, 0.0404)
    assert bar.results.text() == "312 photos, 40 ms"
    bar.show_results(1, None)  # shown again (Escape), not searched
    assert bar.results.text() == "1 photo"


def test_the_state_names_the_job_that_runs(qtbot: Any) -> None:
    """Issue 19: it said "Indexing" while loading the model, sorting, learning text."""
    bar = StatusBar()
    qtbot.addWidget(bar)
    said = []
    for job in ("ScanRoots", "LoadModel", "ApplySort", "ComputeTextness", "NewJob"):
        bar.show_state(w.StateChanged(w.WORKING, queue=1, job=job))
        said.append(bar.state.text())
    assert said == [
        "Indexing",
        "Loading the model",
        "Sorting",
        "Learning what text in photos looks like",
        "Working",
    ]


def test_every_job_that_counts_shows_its_count_in_its_own_unit(qtbot: Any) -> None:
    """Issue 19: a sort, a re-tag and learning the text direction show progress too."""
    bar = StatusBar()
    qtbot.addWidget(bar)
    bar.show_progress(IndexProgress(3, 8, 1.5, 3.3), "ApplySort")
    assert bar.message == "3 of 8 photos · 1.5/s · 3 s left"
    assert (bar.bar.value(), bar.bar.maximum()) == (3, 8)
    bar.show_progress(IndexProgress(1, 4, 0.5, 6.0), "SaveCategories")
    assert bar.message.startswith("1 of 4 categories")
    bar.show_progress(IndexProgress(64, 320, 20.0, 12.8), "ComputeTextness")
    assert bar.message.startswith("64 of 320 sample images")


def test_work_off_the_worker_names_itself_with_its_progress_until_it_ends(qtbot: Any) -> None:
    bar = StatusBar()
    qtbot.addWidget(bar)
    bar.show()
    bar.show_task("Finding near-duplicates", IndexProgress(25, 100, 50.0, 1.5))
    assert bar.message == "Finding near-duplicates: 25 of 100 photos · 50.0/s · 2 s left"
    assert bar.bar.isVisible()
    bar.show_task("Finding near-duplicates", None)
    assert bar.message == "" and not bar.bar.isVisible()


def test_scans_with_another_model_than_searches_use_say_they_re_embed(qtbot: Any) -> None:
    """Issue 19: after choosing another model, the re-embedding said "Indexing"."""
    bar = StatusBar()
    qtbot.addWidget(bar)
    bar.set_re_embedding(True)
    bar.show_state(w.StateChanged(w.WORKING, queue=1, job="ScanRoots"))
    assert bar.state.text() == "Re-embedding photos"
    bar.show_state(w.StateChanged(w.WORKING, queue=1, job="ApplySort"))
    assert bar.state.text() == "Sorting"
    bar.set_re_embedding(False)
    bar.show_state(w.StateChanged(w.WORKING, queue=1, job="ScanRoots"))
    assert bar.state.text() == "Indexing"
