"""installer/bundle.py: what the app bundle carries, checked without PyInstaller."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from installer import bundle
from photoclip.core import categories, internal, profiles

PACKAGE_PARENT = Path(categories.__file__).resolve().parents[2]


def test_every_listed_data_file_exists_and_lands_in_a_relative_folder():
    for source, dest in bundle.datas():
        assert Path(source).is_file(), source
        assert not Path(dest).is_absolute(), dest


def destinations(datas):
    return {Path(dest) / Path(source).name for source, dest in datas}


def test_open_clip_tokenizer_vocab_and_model_configs_are_bundled():
    bundled = destinations(bundle.open_clip_data())
    assert Path("open_clip/bpe_simple_vocab_16e6.txt.gz") in bundled
    assert Path("open_clip/model_configs/ViT-B-32.json") in bundled


def test_torchvisions_native_extensions_are_bundled_beside_its_code():
    binaries = bundle.torchvision_binaries()
    assert binaries and {dest for _, dest in binaries} == {"torchvision"}
    names = {Path(source).name for source, _ in binaries}
    assert any(name.startswith("_C") for name in names)  # the ops torchvision registers


def test_package_data_is_every_file_pyproject_gives_setuptools():
    bundled = destinations(bundle.photoclip_data())
    assert Path("photoclip/core/model_configs/PhotoClip-TestShapes.json") in bundled
    assert Path("photoclip/resources/categories.toml") in bundled


def bundled_path(path: Path) -> Path:
    """Where a file the code finds from its own location sits inside the bundle."""
    return path.resolve().relative_to(PACKAGE_PARENT)


def test_code_finds_bundled_defaults_and_test_weights_where_the_bundle_puts_them():
    bundled = destinations(bundle.datas())
    assert bundled_path(categories.DEFAULT_CATEGORIES) in bundled
    assert bundled_path(profiles.TEST_SHAPES_WEIGHTS) in bundled


def test_no_user_data_or_model_weights_beyond_the_test_model():
    heavy = [s for s, _ in bundle.datas() if Path(s).suffix in {".safetensors", ".bin", ".pt"}]
    assert [Path(s).name for s in heavy] == ["test-shapes.safetensors"]
    from_elsewhere = {d for s, d in bundle.datas() if not Path(s).is_relative_to(bundle.ROOT)}
    assert from_elsewhere == {"open_clip", "open_clip/model_configs"}


def test_headers_cmake_files_and_test_programs_are_dropped_but_torch_code_is_kept():
    assert bundle.dropped("torch/include/ATen/ATen.h")
    assert bundle.dropped(os.path.join("torch", "share", "cmake", "Torch", "x.cmake"))
    assert bundle.dropped("torch/bin/test_jit")
    assert not bundle.dropped("torch/bin/torch_shm_manager")
    assert not bundle.dropped("torch/lib/libtorch_cpu.so")
    assert not bundle.dropped("torch/includes_nothing.py")


def test_modules_torch_imports_on_load_are_not_excluded():
    assert "torch.testing._internal" not in bundle.EXCLUDES  # torch.utils.checkpoint needs it


def test_excluded_modules_are_not_ones_photoclip_imports():
    ours = {"photoclip.core", "photoclip.cli", "open_clip", "torch", "PySide6.QtWidgets"}
    ours |= {"onnxruntime", "onnx", "onnxscript"}  # the text export: made, and used
    assert not ours & set(bundle.EXCLUDES)
    assert "photoclip.synthetic.scenes" not in bundle.EXCLUDES  # the self-test draws scenes


@pytest.mark.parametrize(("platform", "suffix"), [("win32", ".ico"), ("darwin", ".icns")])
def test_the_executable_icon_exists_for_each_platform(platform, suffix):
    icon = bundle.icon(platform)
    assert icon is not None and icon.endswith(suffix) and Path(icon).is_file()


def test_linux_executables_have_no_icon_the_desktop_entry_names_it():
    assert bundle.icon("linux") is None


def test_info_plist_carries_the_project_version_and_folder_access_reasons():
    plist = bundle.info_plist()
    assert plist["CFBundleShortVersionString"] == bundle.version() == "0.1.0"
    assert "folders you add" in str(plist["NSRemovableVolumesUsageDescription"])


def test_windows_version_resource_has_four_numbers_and_the_version(tmp_path):
    text = bundle.windows_version_info(tmp_path / "v.txt").read_text(encoding="utf-8")
    assert "filevers=(0, 1, 0, 0)" in text
    assert "StringStruct('ProductVersion', '0.1.0')" in text
    assert "{" not in text.replace("{numbers}", "")  # every placeholder filled


def test_gui_entry_is_pyprojects_gui_script_and_imports():
    entry = bundle.gui_entry()
    module, _, function = entry.partition(":")
    assert callable(getattr(importlib.import_module(module), function))


def test_launcher_runs_the_entry_and_exits_with_its_return_value(tmp_path):
    (tmp_path / "fakeapp.py").write_text("def main():\n    print('ran')\n    return 3\n")
    launcher = tmp_path / "launcher.py"
    launcher.write_text(bundle.launcher_source("fakeapp:main"))
    done = subprocess.run(
        [sys.executable, str(launcher)], cwd=tmp_path, capture_output=True, text=True
    )
    assert (done.returncode, done.stdout) == (3, "ran\n")


def test_launcher_lets_a_frozen_model_process_start_before_the_app_is_imported():
    """A frozen app's spawned child is this executable again: freeze_support() must run it
    (and exit) before the window's modules are imported."""
    source = bundle.launcher_source("photoclip.gui.app:main")
    assert source.index("multiprocessing.freeze_support()") < source.index("import main")
    assert source.index("run_internal(sys.argv[1:])") < source.index("import main")
    assert "if __name__ == '__main__':" in source


def test_the_internal_commands_and_what_the_text_export_needs_are_bundled():
    """Nothing imports them by name at the top of a module, so PyInstaller must be told."""
    wanted = {*internal.COMMANDS.values(), "onnxruntime", "onnx", "onnxscript"}
    assert wanted <= set(bundle.HIDDEN_IMPORTS)
    assert not wanted & set(bundle.EXCLUDES)


def test_launcher_runs_an_internal_command_instead_of_the_app(tmp_path):
    (tmp_path / "fakeapp.py").write_text("def main():\n    print('ran')\n    return 3\n")
    launcher = tmp_path / "launcher.py"
    launcher.write_text(bundle.launcher_source("fakeapp:main"))
    done = subprocess.run(
        [sys.executable, str(launcher), internal.FLAG, "no-such-command"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert (done.returncode, done.stdout) == (2, "")
    assert "no internal command 'no-such-command'" in done.stderr


#: Runs the launcher as the frozen app runs it, then says whether the window's code loaded.
AS_THE_APP = """
import runpy, sys
sys.frozen = True
sys.argv = sys.argv[1:]
try:
    runpy.run_path(sys.argv[0], run_name="__main__")
except SystemExit as exit:
    code = exit.code
print({"code": code, "gui": [m for m in ("PySide6", "photoclip.gui.app") if m in sys.modules]})
"""


@pytest.mark.slow
def test_the_frozen_apps_export_runs_without_the_window(tmp_path):
    """The command exports.start_export gives a frozen app, run through the launcher of
    the real window's entry point: the export is made, and no Qt is imported."""
    import torch

    from photoclip.core.device import DeviceProbe, save_probe
    from photoclip.core.imageexport import export_paths as image_export_paths
    from photoclip.core.profiles import resolve_profile
    from photoclip.core.textexport import export_paths

    launcher = tmp_path / "launcher.py"
    launcher.write_text(bundle.launcher_source(bundle.gui_entry()))
    cache = tmp_path / "cache"
    # (the probe of the model load that starts it: on the CPU, so the image tower too)
    save_probe(DeviceProbe("auto", "cpu", torch.__version__, ("cpu",)), cache)
    args = [internal.FLAG, "export", "test-shapes", str(cache)]
    done = subprocess.run(
        [sys.executable, "-c", AS_THE_APP, str(launcher), *args],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "QT_QPA_PLATFORM": "none"},  # a window that starts fails at once
    )
    assert done.stdout.strip().endswith("{'code': 0, 'gui': []}"), done.stderr[-2000:]
    key = resolve_profile("test-shapes").key
    assert export_paths(cache, key)[1].is_file() and image_export_paths(cache, key)[1].is_file()
