"""installer/windows/photoclip.iss (Inno Setup) points at the build and the icon."""

from __future__ import annotations

import re
from pathlib import PureWindowsPath

from installer import build, bundle

ISS = bundle.ROOT / "installer" / "windows" / "photoclip.iss"
TEXT = ISS.read_text(encoding="utf-8")


def defined(name: str) -> str:
    match = re.search(rf'^\s*#define {name} "(.*)"$', TEXT, re.MULTILINE)
    assert match, name
    return match.group(1)


def resolve(value: str):
    """An .iss path ({#Root}\\...) on this machine: relative to the script's folder."""
    relative = PureWindowsPath(value.replace("{#Root}", defined("Root")))
    return (ISS.parent / relative.as_posix()).resolve()


def setting(key: str) -> str:
    match = re.search(rf"^{key}=(.*)$", TEXT, re.MULTILINE)
    assert match, key
    return match.group(1)


def test_installs_the_program_the_spec_builds():
    assert defined("AppExe") == f"{bundle.NAME}.exe"
    source = re.search(r'^Source: "([^"]+)\\\*"', TEXT, re.MULTILINE)
    assert source and resolve(source.group(1)) == build.APP_DIR


def test_setup_icon_is_the_projects_ico():
    assert resolve(setting("SetupIconFile")) == bundle.ICONS / "photoclip.ico"


def test_default_version_is_pyprojects():
    assert defined("AppVersion") == bundle.version()


def test_per_user_install_without_admin_rights():
    assert setting("PrivilegesRequired") == "lowest"
