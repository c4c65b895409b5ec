"""installer/photoclip.spec, executed with stand-ins for PyInstaller's build classes."""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from installer import bundle

SPEC = bundle.ROOT / "installer" / "photoclip.spec"


class Recorder:
    """Stands for Analysis, PYZ, EXE, COLLECT, BUNDLE: keeps its arguments."""

    calls: dict[str, Recorder]

    def __init__(self, kind, *args, **kwargs):
        self.kind, self.args, self.kwargs = kind, args, kwargs
        Recorder.calls[kind] = self
        if kind == "Analysis":
            self.datas = [*kwargs["datas"], ("torch/include/c10/macros.h", "/x", "DATA")]
            self.binaries = [("torch/bin/test_api", "/x", "BINARY"), ("libc10.so", "/x", "BINARY")]
            self.pure = self.scripts = []


def run_spec(tmp_path, monkeypatch, platform="linux", entry=None):
    Recorder.calls = {}
    monkeypatch.setattr(sys, "platform", platform)
    monkeypatch.setattr(sys, "path", list(sys.path))  # the spec puts the checkout first
    monkeypatch.delenv(bundle.ENTRY_ENV, raising=False)
    if entry:
        monkeypatch.setenv(bundle.ENTRY_ENV, entry)
    names = ["Analysis", "PYZ", "EXE", "COLLECT", "BUNDLE"]
    namespace = {name: (lambda *a, _n=name, **k: Recorder(_n, *a, **k)) for name in names}
    namespace.update(SPECPATH=str(SPEC.parent), workpath=str(tmp_path), __file__=str(SPEC))
    exec(compile(SPEC.read_text(encoding="utf-8"), str(SPEC), "exec"), namespace)
    return SimpleNamespace(**Recorder.calls)


def test_analysis_starts_from_a_launcher_for_the_gui_entry(tmp_path, monkeypatch):
    spec = run_spec(tmp_path, monkeypatch)
    launcher = Path(spec.Analysis.args[0][0])
    assert launcher.parent == tmp_path
    assert "from photoclip.gui.app import main" in launcher.read_text()
    assert spec.Analysis.kwargs["pathex"] == [str(bundle.ROOT)]


def test_entry_can_be_overridden_for_a_build_without_the_window(tmp_path, monkeypatch):
    spec = run_spec(tmp_path, monkeypatch, entry="photoclip.cli:main")
    assert "from photoclip.cli import main" in Path(spec.Analysis.args[0][0]).read_text()


def test_analysis_gets_the_data_files_and_excludes_and_drops_headers(tmp_path, monkeypatch):
    spec = run_spec(tmp_path, monkeypatch)
    assert spec.Analysis.kwargs["datas"] == bundle.datas()
    assert spec.Analysis.kwargs["binaries"] == bundle.torchvision_binaries()
    assert set(spec.Analysis.kwargs["excludes"]) >= {"tensorboard", "triton", "transformers"}
    assert not [d for d in spec.Analysis.datas if d[0].startswith("torch/include")]
    assert [b[0] for b in spec.Analysis.binaries] == ["libc10.so"]


def test_one_folder_build_named_photoclip_without_a_console(tmp_path, monkeypatch):
    spec = run_spec(tmp_path, monkeypatch)
    assert spec.EXE.kwargs["exclude_binaries"] is True  # one folder, not one file
    assert spec.EXE.kwargs["name"] == spec.COLLECT.kwargs["name"] == "PhotoClip"
    assert spec.EXE.kwargs["console"] is False
    assert "BUNDLE" not in Recorder.calls


def test_macos_build_makes_an_app_bundle_with_identifier_icon_and_plist(tmp_path, monkeypatch):
    spec = run_spec(tmp_path, monkeypatch, platform="darwin")
    app = spec.BUNDLE.kwargs
    assert app["name"] == "PhotoClip.app"
    assert app["bundle_identifier"] == bundle.BUNDLE_IDENTIFIER
    assert app["icon"].endswith(".icns") and Path(app["icon"]).is_file()
    assert app["info_plist"]["CFBundleShortVersionString"] == bundle.version()


@pytest.mark.parametrize("platform", ["win32", "linux"])
def test_windows_gets_an_ico_and_a_version_resource_other_platforms_none(
    tmp_path, monkeypatch, platform
):
    exe = run_spec(tmp_path, monkeypatch, platform=platform).EXE.kwargs
    if platform == "win32":
        assert exe["icon"].endswith(".ico")
        assert "PhotoClip.exe" in Path(exe["version"]).read_text(encoding="utf-8")
    else:
        assert exe["icon"] is None and exe["version"] is None


def test_onnxscript_is_collected_with_its_source(tmp_path, monkeypatch):
    """It compiles torch.onnx's operators from their source when the text export runs."""
    spec = run_spec(tmp_path, monkeypatch)
    assert spec.Analysis.kwargs["module_collection_mode"]["onnxscript"] == "pyz+py"
