"""The system libraries Qt's xcb plugin lacks, read from ldd and told with their packages."""

from __future__ import annotations

from pathlib import Path

import pytest

from photoclip.gui import app, systemlibs

#: ldd on PySide6 6.12's libqxcb.so on a machine like the issue's (abridged)
LDD = """\
\tlinux-vdso.so.1 (0x00007f291281e000)
\tlibQt6XcbQpa.so.6 => /venv/PySide6/Qt/lib/libQt6XcbQpa.so.6 (0x00007f2912750000)
\tlibxkbcommon-x11.so.0 => /lib/x86_64-linux-gnu/libxkbcommon-x11.so.0 (0x00007f291273a000)
\tlibxcb-cursor.so.0 => /lib/x86_64-linux-gnu/libxcb-cursor.so.0 (0x00007f2912733000)
\tlibxcb-icccm.so.4 => not found
\tlibxcb-util.so.1 => /lib/x86_64-linux-gnu/libxcb-util.so.1 (0x00007f291272b000)
\tlibxcb-keysyms.so.1 => not found
\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f2910a1e000)
\tlibxcb-icccm.so.4 => not found
\tlibxcb-keysyms.so.1 => not found
\tlibweird.so.7 => not found
\t/lib64/ld-linux-x86-64.so.2 (0x00007f2912820000)
"""


def test_missing_libraries_are_the_not_found_ones_once_each() -> None:
    assert systemlibs.missing_libraries(LDD) == [
        "libxcb-icccm.so.4",
        "libxcb-keysyms.so.1",
        "libweird.so.7",
    ]
    assert systemlibs.missing_libraries("\tlibc.so.6 => /lib/libc.so.6 (0x1)\n") == []


def test_the_advice_names_the_libraries_and_the_apt_and_dnf_packages() -> None:
    text = systemlibs.advice(["libxcb-icccm.so.4", "libxcb-keysyms.so.1", "libweird.so.7"])
    assert "libxcb-icccm.so.4, libxcb-keysyms.so.1, libweird.so.7" in text
    assert "sudo apt install libxcb-icccm4 libxcb-keysyms1\n" in text
    assert "sudo dnf install xcb-util-wm xcb-util-keysyms\n" in text
    assert "libweird.so.7: apt-file search libweird.so.7" in text


def test_the_check_runs_ldd_on_the_plugin(tmp_path: Path) -> None:
    plugin = tmp_path / "libqxcb.so"
    seen: list[Path] = []

    def ldd(path: Path) -> str:
        seen.append(path)
        return LDD

    advice = systemlibs.check_platform_libraries(ldd, plugin)
    assert seen == [plugin] and advice is not None and "libxcb-icccm4" in advice
    assert systemlibs.check_platform_libraries(lambda _: "\tlibc.so.6 => /x\n", plugin) is None


def test_pyside6s_xcb_plugin_is_found_without_importing_qt() -> None:
    plugin = systemlibs.xcb_plugin()
    assert plugin is None or plugin.name == "libqxcb.so"


def test_only_the_xcb_platform_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(systemlibs.sys, "platform", "linux")
    assert systemlibs.uses_xcb({})
    assert systemlibs.uses_xcb({"QT_QPA_PLATFORM": "xcb"})
    assert not systemlibs.uses_xcb({"QT_QPA_PLATFORM": "offscreen"})
    monkeypatch.setattr(systemlibs.sys, "platform", "darwin")
    assert not systemlibs.uses_xcb({})


def test_the_app_prints_the_advice_and_exits_before_qt_aborts(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(systemlibs, "uses_xcb", lambda: True)
    monkeypatch.setattr(systemlibs, "check_platform_libraries", lambda: "ADVICE")
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setattr(app, "application", lambda argv: pytest.fail("Qt was started"))
    assert app.main([]) == 1
    assert capsys.readouterr().err == "ADVICE\n"
