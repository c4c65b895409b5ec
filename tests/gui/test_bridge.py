"""Worker events, sent from the worker's thread, arrive as signals on the GUI thread."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from PySide6.QtCore import QThread
from PySide6.QtWidgets import QApplication

from photoclip.core import worker as w
from photoclip.gui.bridge import WorkerBridge


def test_an_event_from_another_thread_is_emitted_on_the_gui_thread(qtbot: Any) -> None:
    bridge = WorkerBridge()
    threads: list[bool] = []
    bridge.root_status_changed.connect(
        lambda _: threads.append(QThread.currentThread() is QApplication.instance().thread())
    )
    event = w.RootStatusChanged(Path("/photos"), online=False)
    with qtbot.wait_signal(bridge.root_status_changed) as blocker:
        threading.Thread(target=bridge, args=(event,)).start()
    assert blocker.args == [event]
    assert threads == [True]


def test_each_event_kind_has_its_signal(qtbot: Any) -> None:
    bridge = WorkerBridge()
    events = [
        (bridge.state_changed, w.StateChanged(w.IDLE, 0)),
        (bridge.job_failed, w.JobFailed("ScanRoots", "disk full")),
        (bridge.watch_degraded, w.WatchDegraded(Path("/p"), "polled")),
        (bridge.model_activated, w.ModelActivated("key")),
    ]
    for signal, event in events:
        with qtbot.wait_signal(signal) as blocker:
            bridge(event)
        assert blocker.args == [event]


def test_a_reply_runs_its_slot_on_the_gui_thread(qtbot: Any) -> None:
    bridge = WorkerBridge()
    got: list[tuple[int, bool]] = []
    reply = bridge.reply_to(
        lambda value: got.append(
            (value, QThread.currentThread() is QApplication.instance().thread())
        )
    )
    threading.Thread(target=reply, args=(7,)).start()
    qtbot.wait_until(lambda: got == [(7, True)])
