"""The app as a whole: start-up without torch, --self-test, the PySide6 None guard."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QRect
from PySide6.QtGui import QPainter, QPixmap

import photoclip.gui  # noqa: F401 (its import guards None: the test below checks it)

ROOT = Path(__file__).resolve().parents[2]


def test_the_window_module_imports_neither_torch_nor_open_clip() -> None:
    code = (
        "import sys, photoclip.gui.app, photoclip.gui.mainwindow; "
        "print(sorted(m for m in ('torch', 'open_clip') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_many_void_and_bool_qt_calls_leave_none_and_bools_alive(qtbot: object) -> None:
    """Without photoclip.gui's guard, PySide6 6.12 on Python 3.11 aborts here."""
    pixmap = QPixmap(8, 8)
    painter = QPainter(pixmap)
    for _ in range(200_000):
        painter.drawRect(QRect(1, 1, 2, 2))
        painter.isActive()
        pixmap.isNull()
    painter.end()
    assert sys.getrefcount(None) > 0 and sys.getrefcount(True) > 0


@pytest.mark.slow
def test_self_test_prints_one_line_and_exits_0(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HOME": str(tmp_path)}
    env.pop("PHOTOCLIP_MODEL", None)
    done = subprocess.run(
        [sys.executable, "-m", "photoclip", "--self-test"],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 1 and lines[0].startswith("self-test ok:"), done.stdout
    assert "red-circle.png" in lines[0]


def test_a_start_fills_the_chosen_thumbnail_folder_left_unfinished(
    make_app: Any, qtbot: Any, scenes: Path, tmp_path: Path
) -> None:
    from photoclip.core.paths import Locations
    from photoclip.core.settings import Settings

    first = make_app()
    first.start()
    first.window.add_folders([scenes])
    qtbot.wait_until(lambda: first.worker.wait_idle(0) and first.worker.state == "idle",
                     timeout=60_000)  # fmt: skip
    first.window.close()
    first.stop()
    locations = Locations.from_environment()
    chosen = tmp_path / "thumbs"
    Settings(model="test-shapes", thumbnail_cache=str(chosen)).save(locations.settings)
    second = make_app()
    second.start()
    qtbot.wait_until(lambda: len(list(chosen.rglob("*.jpg"))) == 6, timeout=60_000)
    assert len(list(locations.thumbnails.rglob("*.jpg"))) == 6  # copied, not moved


GUI_PROCESS = """
import json, multiprocessing, sys
from pathlib import Path
from photoclip.core.paths import Locations
from photoclip.core.settings import Settings
from photoclip.gui.app import PhotoClipApp, application
from photoclip.gui.selftest import _ranked, wait_until, write_scenes

if __name__ == "__main__":
    application([])
    photos = Path(sys.argv[1])
    write_scenes(photos)
    locations = Locations.from_environment()
    app = PhotoClipApp(locations, Settings.load(locations.settings))
    app.window.show()
    app.start()
    app.window.add_folders([photos])
    wait_until(lambda: app.window.results.rowCount() == 6, "indexing")
    wait_until(lambda: app.worker.wait_idle(0), "the worker")
    app.window.search.field.setText("a red circle")
    wait_until(lambda: _ranked(app.window), "the search")
    first = app.window.results.photo(0).path.name
    with app.worker.searcher() as searcher:  # an image as the query: decoded in this process
        similar = searcher.similar(photos.parent / "query.png")[0].photo.path.name
    children = [p.pid for p in multiprocessing.active_children()]
    app.window.close()
    app.stop()
    print(json.dumps({
        "first": first,
        "similar": similar,
        "imported": sorted(m for m in ("torch", "open_clip", "torchvision") if m in sys.modules),
        "children": children,
        "left": [p.pid for p in multiprocessing.active_children()],
    }))
"""


@pytest.mark.slow
def test_the_window_process_indexes_and_searches_without_importing_torch(tmp_path: Path) -> None:
    """The model runs in a child process, which ends with the app."""
    from photoclip.synthetic.scenes import single_object_scene

    single_object_scene("blue", "square", render_seed=99).render().save(tmp_path / "query.png")
    script = tmp_path / "gui_process.py"
    script.write_text(GUI_PROCESS)
    # PYTHONFAULTHANDLER: a crash of the window process (Qt, at exit) shows its stack here.
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PHOTOCLIP_MODEL": "test-shapes",
           "PYTHONFAULTHANDLER": "1"}  # fmt: skip
    done = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "photos")],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.splitlines()[-1])
    assert (result["first"], result["similar"]) == ("red-circle.png", "blue-square.png")
    assert result["imported"] == []
    assert len(result["children"]) == 1  # the model's process
    assert result["left"] == []
    with pytest.raises(ProcessLookupError):
        os.kill(result["children"][0], 0)


def test_the_self_test_starts_no_text_export(monkeypatch: pytest.MonkeyPatch) -> None:
    """Its cache folder is deleted when it ends; an export would outlive it, for nothing."""
    from photoclip.core.exports import EXPORT_ENV
    from photoclip.gui import selftest

    for name in ("PHOTOCLIP_DATA_DIR", "PHOTOCLIP_CACHE_DIR", "PHOTOCLIP_MODEL"):
        monkeypatch.setenv(name, "restored after the test")
    monkeypatch.setenv(EXPORT_ENV, "1")
    seen: list[str | None] = []
    monkeypatch.setattr(
        selftest, "_run", lambda photos: seen.append(os.environ.get(EXPORT_ENV)) or ("x", 6)
    )
    assert selftest.self_test() == 0 and seen == ["0"]
