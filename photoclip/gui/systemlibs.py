"""Linux system libraries the window needs, told by name before Qt gives up.

Without some X11 helper libraries Qt's xcb platform plugin cannot load, and Qt aborts with a
message that names libxcb-cursor0 whatever is really missing. Before the QApplication is made,
`ldd` on the plugin lists what the system lacks; PhotoClip then prints those libraries and the
Debian/Ubuntu and Fedora packages that provide them. Pure Python, no Qt: it runs before Qt.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

#: soname -> (apt package, dnf package). The xcb utilities are what desktops often lack.
PACKAGES: dict[str, tuple[str, str]] = {
    "libxcb-cursor.so.0": ("libxcb-cursor0", "xcb-util-cursor"),
    "libxcb-icccm.so.4": ("libxcb-icccm4", "xcb-util-wm"),
    "libxcb-keysyms.so.1": ("libxcb-keysyms1", "xcb-util-keysyms"),
    "libxcb-image.so.0": ("libxcb-image0", "xcb-util-image"),
    "libxcb-render-util.so.0": ("libxcb-render-util0", "xcb-util-renderutil"),
    "libxcb-util.so.1": ("libxcb-util1", "xcb-util"),
    "libxcb-xkb.so.1": ("libxcb-xkb1", "libxcb"),
    "libxcb-randr.so.0": ("libxcb-randr0", "libxcb"),
    "libxcb-shape.so.0": ("libxcb-shape0", "libxcb"),
    "libxcb-shm.so.0": ("libxcb-shm0", "libxcb"),
    "libxcb-sync.so.1": ("libxcb-sync1", "libxcb"),
    "libxcb-xfixes.so.0": ("libxcb-xfixes0", "libxcb"),
    "libxcb-xinerama.so.0": ("libxcb-xinerama0", "libxcb"),
    "libxcb-xinput.so.0": ("libxcb-xinput0", "libxcb"),
    "libxcb-render.so.0": ("libxcb-render0", "libxcb"),
    "libxcb-glx.so.0": ("libxcb-glx0", "libxcb"),
    "libxcb.so.1": ("libxcb1", "libxcb"),
    "libxkbcommon-x11.so.0": ("libxkbcommon-x11-0", "libxkbcommon-x11"),
    "libxkbcommon.so.0": ("libxkbcommon0", "libxkbcommon"),
    "libX11-xcb.so.1": ("libx11-xcb1", "libX11-xcb"),
    "libX11.so.6": ("libx11-6", "libX11"),
    "libSM.so.6": ("libsm6", "libSM"),
    "libICE.so.6": ("libice6", "libICE"),
    "libEGL.so.1": ("libegl1", "libglvnd-egl"),
    "libGL.so.1": ("libgl1", "libglvnd-glx"),
    "libOpenGL.so.0": ("libopengl0", "libglvnd-opengl"),
    "libfontconfig.so.1": ("libfontconfig1", "fontconfig"),
    "libfreetype.so.6": ("libfreetype6", "freetype"),
    "libdbus-1.so.3": ("libdbus-1-3", "dbus-libs"),
    "libglib-2.0.so.0": ("libglib2.0-0", "glib2"),
}

#: ldd's answer for the plugin: run(plugin) -> its standard output.
Ldd = Callable[[Path], str]


def missing_libraries(ldd_output: str) -> list[str]:
    """The sonames ldd could not find ('libfoo.so.1 => not found'), in its order, once."""
    found: list[str] = []
    for line in ldd_output.splitlines():
        name, arrow, where = line.strip().partition("=>")
        if arrow and where.strip() == "not found" and name.strip() not in found:
            found.append(name.strip())
    return found


def advice(missing: list[str]) -> str:
    """What to tell the user: the libraries, then the commands that install them."""
    apt = _unique(PACKAGES[name][0] for name in missing if name in PACKAGES)
    dnf = _unique(PACKAGES[name][1] for name in missing if name in PACKAGES)
    unknown = [name for name in missing if name not in PACKAGES]
    lines = [
        "PhotoClip's window cannot start: these system libraries are missing:",
        f"  {', '.join(missing)}",
        "Install them with:",
    ]
    if apt:
        lines.append(f"  Debian, Ubuntu: sudo apt install {' '.join(apt)}")
        lines.append(f"  Fedora, RHEL:   sudo dnf install {' '.join(dnf)}")
    for name in unknown:
        lines.append(f"  {name}: apt-file search {name}  or  dnf provides '*/{name}'")
    return "\n".join(lines)


def _unique(names: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(names))


def xcb_plugin() -> Path | None:
    """PySide6's xcb platform plugin, found without importing Qt."""
    spec = importlib.util.find_spec("PySide6")
    if spec is None or not spec.submodule_search_locations:
        return None
    plugin = Path(next(iter(spec.submodule_search_locations)), "Qt", "plugins", "platforms")
    plugin /= "libqxcb.so"
    return plugin if plugin.is_file() else None


def uses_xcb(environ: os._Environ[str] | dict[str, str] = os.environ) -> bool:
    """Whether Qt will try the xcb plugin: Linux, and no other platform asked for."""
    platform = environ.get("QT_QPA_PLATFORM", "")
    return sys.platform.startswith("linux") and (not platform or platform.startswith("xcb"))


def run_ldd(plugin: Path) -> str:
    done = subprocess.run(
        ["ldd", str(plugin)], capture_output=True, text=True, timeout=10, check=False
    )
    return done.stdout


def check_platform_libraries(ldd: Ldd | None = None, plugin: Path | None = None) -> str | None:
    """The advice when the xcb plugin lacks system libraries; None when all is there (or
    nothing can be checked: another platform, no ldd, no plugin)."""
    plugin = plugin or xcb_plugin()
    if plugin is None or (ldd is None and shutil.which("ldd") is None):
        return None
    try:
        output = (ldd or run_ldd)(plugin)
    except (OSError, subprocess.SubprocessError):
        return None
    missing = missing_libraries(output)
    return advice(missing) if missing else None
