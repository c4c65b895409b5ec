"""resources/photoclip.desktop: the Linux menu entry's keys, program and icon."""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
import sys

import pytest

from installer import bundle, make_icons

DESKTOP = bundle.ROOT / "resources" / "photoclip.desktop"


@pytest.fixture
def entry():
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # keys are case-sensitive
    parser.read(DESKTOP, encoding="utf-8")
    return parser["Desktop Entry"]


def test_required_keys(entry):
    assert entry["Type"] == "Application"
    assert entry["Name"] == "PhotoClip"
    assert entry["Terminal"] == "false"
    assert {"Graphics", "Photography"} <= set(entry["Categories"].split(";"))


def test_exec_runs_pyprojects_gui_script(entry):
    gui_scripts = bundle.pyproject()["project"]["gui-scripts"]
    assert entry["Exec"].split()[0] in gui_scripts
    assert entry["TryExec"] == entry["Exec"].split()[0]


def test_icon_names_the_icon_set(entry):
    assert (make_icons.ICONS / f"{entry['Icon']}.svg").is_file()
    assert make_icons.png_path(256).name.startswith(entry["Icon"])


@pytest.mark.gui
def test_the_running_app_matches_this_entry(entry):
    # Desktops match a window to its entry by WM_CLASS on X11, which Qt takes from the
    # application's name, and by the app id on Wayland, which is Qt's desktop file name.
    code = (
        "from photoclip.gui.app import application\n"
        "app = application([])\n"
        "print(app.applicationName(), app.desktopFileName())\n"
    )
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(bundle.ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert done.stdout.split() == [entry["StartupWMClass"], DESKTOP.stem]


@pytest.mark.skipif(shutil.which("desktop-file-validate") is None, reason="desktop-file-utils")
def test_validates():
    done = subprocess.run(["desktop-file-validate", str(DESKTOP)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
