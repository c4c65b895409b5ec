"""installer/linux/install.sh in a temporary HOME: menu entry, icons, desktop launcher,
uninstall."""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
import sys

import pytest

from installer import bundle

SCRIPT = bundle.ROOT / "installer" / "linux" / "install.sh"
pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux installer")


def run(home, *args, path=None):
    env = {"HOME": str(home), "PATH": path or os.environ["PATH"]}
    return subprocess.run(["sh", str(SCRIPT), *args], env=env, capture_output=True, text=True)


@pytest.fixture
def home(tmp_path):
    (tmp_path / "home").mkdir()
    return tmp_path / "home"


@pytest.fixture
def program(tmp_path):
    path = tmp_path / "apps dir" / "PhotoClip"
    path.parent.mkdir()
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    return path


def files_under(home):
    return sorted(p.relative_to(home).as_posix() for p in home.rglob("*") if p.is_file())


def entry(path):
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str
    parser.read(path, encoding="utf-8")
    return parser["Desktop Entry"]


def test_installs_a_menu_entry_that_runs_the_program_and_the_icon_at_each_size(home, program):
    done = run(home, "--exec", str(program))
    assert done.returncode == 0, done.stderr
    desktop = home / ".local/share/applications/photoclip.desktop"
    assert entry(desktop)["Exec"] == f'"{program}"'
    assert entry(desktop)["TryExec"] == str(program)
    icons = home / ".local/share/icons/hicolor"
    for size in (16, 32, 48, 256, 512):
        assert (icons / f"{size}x{size}/apps/photoclip.png").is_file()
    assert (icons / "scalable/apps/photoclip.svg").is_file()


@pytest.mark.skipif(shutil.which("desktop-file-validate") is None, reason="desktop-file-utils")
def test_installed_entry_is_a_valid_desktop_file(home, program):
    run(home, "--exec", str(program))
    desktop = home / ".local/share/applications/photoclip.desktop"
    done = subprocess.run(["desktop-file-validate", str(desktop)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_desktop_launcher_is_executable_and_uninstall_removes_every_file(home, program):
    assert run(home, "--exec", str(program), "--desktop").returncode == 0
    launcher = home / "Desktop" / "photoclip.desktop"
    assert os.access(launcher, os.X_OK)
    assert run(home, "--uninstall").returncode == 0
    assert files_under(home) == []


def test_uninstall_leaves_other_applications_alone(home, program):
    other = home / ".local/share/applications/other.desktop"
    other.parent.mkdir(parents=True)
    other.write_text("[Desktop Entry]\n")
    run(home, "--exec", str(program))
    run(home, "--uninstall")
    assert files_under(home) == [".local/share/applications/other.desktop"]


def test_finds_photoclip_gui_on_the_path(home, tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    gui = bin_dir / "photoclip-gui"
    gui.write_text("#!/bin/sh\n")
    gui.chmod(0o755)
    assert run(home, path=f"{bin_dir}:/usr/bin:/bin").returncode == 0
    assert entry(home / ".local/share/applications/photoclip.desktop")["Exec"] == f'"{gui}"'


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "no PhotoClip program found"),
        (("--exec", "PhotoClip"), "must be absolute"),
        (("--exec", "/no/such/PhotoClip"), "not an executable"),
        (("--exec", '/tmp/a"b'), "cannot hold"),
    ],
)
def test_refuses_without_a_program_it_can_run_and_installs_nothing(home, args, message):
    done = run(home, *args, path="/usr/bin:/bin")
    assert done.returncode == 1
    assert message in done.stderr
    assert files_under(home) == []
