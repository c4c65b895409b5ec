"""The task manager: reads on the pool, results on the GUI thread, stale ones dropped."""

from __future__ import annotations

import threading
import time
from typing import Any

from PySide6.QtCore import QThread
from PySide6.QtWidgets import QApplication

from photoclip.core.actions import LoadModel


def test_a_read_answers_on_the_gui_thread_and_an_older_one_is_dropped(
    make_app: Any, qtbot: Any
) -> None:
    tasks = make_app().tasks
    answered: list[tuple[str, bool]] = []
    release = threading.Event()

    def slow() -> str:
        release.wait(10)
        return "old"

    def record(value: str) -> None:
        answered.append((value, QThread.currentThread() is QApplication.instance().thread()))

    tasks.run(slow, record, key="search")
    tasks.run(lambda: "new", record, key="search")
    qtbot.wait_until(lambda: answered == [("new", True)])
    release.set()
    assert tasks.wait(5000)
    qtbot.wait(50)
    assert answered == [("new", True)]


def test_a_failed_read_reports_its_message(make_app: Any, qtbot: Any) -> None:
    app = make_app()
    app.start()
    with qtbot.wait_signal(app.tasks.failed) as blocker:
        app.tasks.read(lambda s: s.search("a red circle"), lambda _: None)
    assert "Nothing is indexed yet" in blocker.args[0]


def test_an_action_replies_on_the_gui_thread(make_app: Any, qtbot: Any) -> None:
    app = make_app()
    app.start()
    replies: list[tuple[str, bool]] = []
    app.tasks.act(
        LoadModel,
        on_done=lambda name: replies.append(
            (name, QThread.currentThread() is QApplication.instance().thread())
        ),
    )
    qtbot.wait_until(lambda: replies == [("test-shapes", True)], timeout=30_000)


def test_the_gui_thread_never_waits_for_a_read(make_app: Any, qtbot: Any) -> None:
    tasks = make_app().tasks
    started = time.monotonic()
    tasks.run(lambda: time.sleep(0.5), lambda _: None)
    assert time.monotonic() - started < 0.1
    assert tasks.wait(5000)
