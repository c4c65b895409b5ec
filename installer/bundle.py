"""What goes into the PhotoClip app bundle: the lists installer/photoclip.spec hands to
PyInstaller, kept here as plain Python so that tests can check them without PyInstaller.

Everything is found from the checkout (ROOT) and from the installed packages, never from a
user's folders: the bundle carries no catalog, no settings and no model weights except the
project's tiny test-shapes model (package data, 9 MB: the demo model on the welcome page and
the one `--self-test` uses, so both work offline on any machine). Real weights are
downloaded on first run or picked from a file.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from photoclip.core import internal

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
NAME = "PhotoClip"
BUNDLE_IDENTIFIER = "org.photoclip.PhotoClip"
ICONS = ROOT / "resources" / "icons"
#: build.py sets this to `module:function` to bundle another entry point (the CLI, say).
ENTRY_ENV = "PHOTOCLIP_BUNDLE_ENTRY"

#: Modules the app never imports at run time; torch's hook would otherwise pull them in.
EXCLUDES = (
    # torch extras: the training dashboard and the GPU kernel compiler (torch.compile only).
    # Not torch.testing._internal: torch.utils.checkpoint imports it when torch loads.
    "tensorboard",
    "torch.utils.tensorboard",
    "triton",
    # The multilingual profile's text tower; see README "Install" (not bundled).
    "transformers",
    # Other stacks that optional imports in torch, timm and PIL reach for (the self-test run
    # from source loads none of them).
    "scipy",
    "matplotlib",
    "pandas",
    "IPython",
    "jupyter_client",
    "notebook",
    "tkinter",
    "pytest",
    "tensorflow",
    "jax",
    # Qt modules the window does not use (PySide6's hooks add only what is imported, but
    # plugins can drag these in).
    "PySide6.QtQml",
    "PySide6.QtQuick",
    "PySide6.QtPdf",
    "PySide6.QtSql",
    "PySide6.QtTest",
    "PySide6.QtDesigner",
    "PySide6.QtUiTools",
    # Our own code that only developers run.
    "photoclip.synthetic.training",
)
#: The window's Qt modules, named so a build without the GUI code (--entry) is sized alike;
#: the internal commands' modules, which the launcher imports by name; and what the ONNX
#: exports need that nothing imports at the top of a module: onnxruntime runs them (cold
#: searches and indexing without torch), torch.onnx imports onnx and onnxscript to make them.
#: (About 120 MB installed on Linux; without them every search loads the model.)
HIDDEN_IMPORTS = (
    "PySide6.QtCore",
    "PySide6.QtGui",
    "PySide6.QtWidgets",
    *internal.COMMANDS.values(),
    "onnxruntime",
    "onnx",
    "onnxscript",
)
#: Packages that need their .py source at run time, not only bytecode: onnxscript compiles
#: torch.onnx's operator library from its functions' source (inspect.getsource) when the
#: text export runs; without the source a frozen app's export failed ("Decorator script
#: does not work on dynamically compiled function Rank").
SOURCE_TOO = {"onnxscript": "pyz+py"}
#: Collected files under these folders are dropped after analysis: headers and CMake files
#: for compiling against torch, and torch's C++ test programs (130 MB), except KEPT.
DROPPED = ("torch/include", "torch/share", "torch/test", "torch/bin")
#: torch.multiprocessing's helper for sharing tensors through files.
KEPT = ("torch/bin/torch_shm_manager",)


def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def version() -> str:
    return pyproject()["project"]["version"]


def gui_entry() -> str:
    """`module:function` of the window, as pyproject's gui-scripts names it."""
    scripts = pyproject()["project"].get("gui-scripts", {})
    if "photoclip-gui" not in scripts:
        raise LookupError("pyproject.toml has no [project.gui-scripts] photoclip-gui")
    return scripts["photoclip-gui"]


def launcher_source(entry: str) -> str:
    """A script that runs `module:function` and exits with its return value.

    Two kinds of background process start as this same executable, and each is run (and
    exits) before the app is imported: the model process (core.encoderprocess), by
    `freeze_support()`; the towers' ONNX export (core.exports), by `run_internal` when the first
    argument is core.internal.FLAG."""
    module, _, function = entry.partition(":")
    return (
        f'"""PhotoClip app bundle entry point: {entry}."""\n'
        "import multiprocessing\n"
        "import sys\n\n"
        "if __name__ == '__main__':\n"
        "    multiprocessing.freeze_support()\n"
        "    from photoclip.core.internal import run_internal\n\n"
        "    internal = run_internal(sys.argv[1:])\n"
        "    if internal is not None:\n"
        "        sys.exit(internal)\n"
        f"    from {module} import {function}\n\n"
        f"    sys.exit({function}())\n"
    )


def _glob(base: Path, pattern: str, dest: str) -> list[tuple[str, str]]:
    return [(str(path), dest) for path in sorted(base.glob(pattern)) if path.is_file()]


def photoclip_data() -> list[tuple[str, str]]:
    """photoclip's package data, from the same patterns pyproject gives setuptools."""
    patterns = pyproject()["tool"]["setuptools"]["package-data"]["photoclip"]
    datas = []
    for pattern in patterns:
        dest = str(Path("photoclip", pattern).parent)
        datas += _glob(ROOT / "photoclip", pattern, dest)
    return datas


def open_clip_data() -> list[tuple[str, str]]:
    """open_clip's architecture configs and the BPE vocabulary its tokenizer reads."""
    package = package_dir("open_clip")
    return _glob(package, "model_configs/*.json", "open_clip/model_configs") + _glob(
        package, "*.txt.gz", "open_clip"
    )


def package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise LookupError(f"{name} is not installed")
    return Path(next(iter(spec.submodule_search_locations)))


def torchvision_binaries() -> list[tuple[str, str]]:
    """torchvision's native extensions (`_C_stable`, `image_stable` since 0.29).

    torchvision loads them by file name, not by import, and PyInstaller's torchvision hook
    only knows the older names: without them `import torchvision` fails ("operator
    torchvision::nms does not exist"), and open_clip imports torchvision.
    """
    folder = package_dir("torchvision")
    suffixes = {".so", ".pyd", ".dylib"}
    return [(str(p), "torchvision") for p in sorted(folder.iterdir()) if p.suffix in suffixes]


def desktop_data() -> list[tuple[str, str]]:
    """The icon set and the Linux .desktop entry, for the window icon and install.sh."""
    resources = ROOT / "resources"
    return (
        _glob(resources, "photoclip.desktop", "resources")
        + _glob(ICONS, "*.svg", "resources/icons")
        + _glob(ICONS, "png/*.png", "resources/icons/png")
    )


def datas() -> list[tuple[str, str]]:
    return photoclip_data() + open_clip_data() + desktop_data()


def dropped(dest_name: str) -> bool:
    """True for a collected file under one of DROPPED (a TOC entry's destination)."""
    name = Path(dest_name).as_posix()
    if name in KEPT:
        return False
    return any(name == folder or name.startswith(folder + "/") for folder in DROPPED)


def icon(platform: str | None = None) -> str | None:
    """The executable's icon: .ico on Windows, .icns on macOS, none on Linux (the .desktop
    entry names the icon there)."""
    platform = platform or sys.platform
    if platform.startswith("win"):
        return str(ICONS / "photoclip.ico")
    if platform == "darwin":
        return str(ICONS / "photoclip.icns")
    return None


def info_plist() -> dict[str, object]:
    """macOS Info.plist keys for PhotoClip.app."""
    reason = "PhotoClip reads the photos in the folders you add, to search and tag them."
    return {
        "CFBundleName": NAME,
        "CFBundleDisplayName": NAME,
        "CFBundleShortVersionString": version(),
        "CFBundleVersion": version(),
        "LSApplicationCategoryType": "public.app-category.photography",
        "LSMinimumSystemVersion": "11.0",
        "NSHighResolutionCapable": True,
        "NSPrincipalClass": "NSApplication",
        "NSRequiresAquaSystemAppearance": False,
        "NSDesktopFolderUsageDescription": reason,
        "NSDocumentsFolderUsageDescription": reason,
        "NSDownloadsFolderUsageDescription": reason,
        "NSRemovableVolumesUsageDescription": reason,
        "NSNetworkVolumesUsageDescription": reason,
    }


def windows_version_info(path: Path) -> Path:
    """Write the Windows version resource (file and product version from pyproject)."""
    numbers = ", ".join([*version().split("."), "0"][:4])
    template = (ROOT / "installer" / "windows" / "version_info.txt").read_text(encoding="utf-8")
    path.write_text(
        template.replace("{numbers}", numbers).replace("{version}", version()), encoding="utf-8"
    )
    return path
