"""`photoclip doctor`'s report: the torch build, the device (the last probe kept, or a fresh
one), and the library's model (the one `photoclip status` shows), not only the one settings
name."""

from __future__ import annotations

import ast
import dataclasses
import time

import pytest

from photoclip.core import device, diagnostics
from photoclip.core.catalog import Catalog, ModelRecord
from photoclip.core.device import DeviceProbe, load_probe, save_probe
from photoclip.core.paths import Locations
from photoclip.core.profiles import BUILTIN_PROFILES


def _report(profile: str | None, *, chosen: bool = False, fresh: bool = False) -> dict[str, str]:
    locations = Locations.from_environment().ensure()
    return dict(diagnostics.diagnose(locations, profile, "cpu", chosen=chosen, fresh=fresh))


def _library_made_with(profile: str) -> None:
    key = BUILTIN_PROFILES[profile].key
    catalog = Catalog.open(Locations.from_environment().ensure().catalog)
    with catalog, catalog.transaction():
        catalog.register_model(ModelRecord(key, profile, "arch", 64, "3.3.0", False))
        catalog.set_meta("active_model", key)


def test_the_librarys_model_is_reported_as_status_shows_it() -> None:
    """Settings say nothing (or 'fast'); the library was indexed with test-shapes."""
    _library_made_with("test-shapes")
    for asked in (None, "fast"):
        report = _report(asked)
        assert report["model"].startswith("test-shapes (the library's model, ")
        assert report["weights"] == "present"


def test_model_asks_about_another_model() -> None:
    _library_made_with("test-shapes")
    report = _report("fast", chosen=True)
    assert report["model"].startswith("fast (ViT-B-32:")
    assert report["weights"] == "not downloaded yet (needs internet once)"


def test_the_exports_of_the_reported_model_are_named() -> None:
    """Whether a cold text search and indexing will start without torch (the tests turn
    exports off)."""
    _library_made_with("test-shapes")
    assert _report(None)["onnx exports"] == (
        "text: off (PHOTOCLIP_TEXT_EXPORT=0), text searches use torch; "
        "image: off (PHOTOCLIP_TEXT_EXPORT=0), indexing uses torch"
    )


def test_without_a_library_the_model_that_would_be_used() -> None:
    assert _report(None)["model"].startswith("fast (ViT-B-32:")


def _probe(device: str | None = "cpu", **changes: object) -> DeviceProbe:
    import torch

    found = DeviceProbe("auto", device, torch.__version__, ("cpu",), at=time.time() - 7200)
    return dataclasses.replace(found, **changes)  # type: ignore[arg-type]


def _keep(found: DeviceProbe) -> None:
    save_probe(found, Locations.from_environment().cache)


def test_the_torch_build_is_read_from_its_files_without_importing_it() -> None:
    import torch

    files = diagnostics.torch_files()
    assert files is not None and files["__version__"] == torch.__version__
    assert _report(None)["torch"] == f"{torch.__version__} ({diagnostics.torch_build(files)})"
    assert diagnostics.torch_build({"cuda": None, "hip": None}) == "CPU build"
    assert diagnostics.torch_build({"cuda": "13.0"}) == "CUDA 13.0 build"
    assert diagnostics.torch_build({"cuda": None, "hip": "6.2"}) == "ROCm 6.2 build"


def test_the_version_files_names_are_its_literals() -> None:
    tree = ast.parse("x: int = 1\ncuda: Optional[str] = None\n__version__ = '2.1+cpu'\ny = f()")
    assert dict(diagnostics._literals(tree)) == {"x": "1", "cuda": None, "__version__": "2.1+cpu"}


def test_no_probe_kept_yet_says_how_to_get_one() -> None:
    report = _report(None)
    assert report["device setting"] == "cpu"
    assert "`photoclip doctor --probe`" in report["device in use"]


def test_the_kept_probe_says_which_device_when_and_why(monkeypatch: pytest.MonkeyPatch) -> None:
    _keep(_probe("cuda", name="NVIDIA H100", failed={}, works=("cuda",)))
    report = _report(None)
    assert report["device in use"] == "cuda (NVIDIA H100)"
    assert report["device probe"].startswith("2 hours ago, torch ")
    _keep(_probe(failed={"cuda": "Found no NVIDIA driver on your system."}))
    report = _report(None)
    assert report["device in use"] == "cpu"
    assert "cuda failed: Found no NVIDIA driver on your system;" in report["device probe"] + ";"


def test_a_probe_older_than_torch_or_the_setting_says_to_probe_again() -> None:
    _keep(_probe(torch="1.0"))
    assert "now: `photoclip doctor --probe` probes again" in _report(None)["device probe"]
    _keep(_probe(requested="cuda"))  # the report asks with the setting "cpu"
    assert "the setting asks for cpu" in _report(None)["device probe"]
    _keep(_probe(requested="cpu"))
    assert "--probe" not in _report(None)["device probe"]


def test_a_requested_device_that_failed_says_so() -> None:
    _keep(_probe(None, requested="cuda"))
    assert _report(None)["device in use"].startswith("none: 'cuda' does not work here")


def test_a_fresh_probe_tries_every_device_and_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(device, "why_unusable", lambda name: None if name == "cpu" else "no")
    report = _report(None, fresh=True)
    assert report["devices that work"] == "cpu" and report["device in use"] == "cpu"
    assert report["cuda fails"] == report["mps fails"] == "no"
    kept = load_probe(Locations.from_environment().cache)
    assert kept is not None and kept.works == ("cpu",) and "device probe" not in report


def test_a_cuda_build_without_a_gpu_points_to_the_cpu_build(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    files = {"__version__": "2.14.1+cu130", "cuda": "13.0", "hip": None}
    monkeypatch.setattr(diagnostics, "torch_files", lambda: files)
    _keep(_probe(failed={"cuda": "no driver"}))
    assert "the CPU build is much smaller" in _report(None)["note"]
    files["cuda"] = None
    assert "note" not in _report(None)
    files["cuda"] = "13.0"
    _keep(_probe("cuda", failed={}))
    assert "note" not in _report(None)


def test_transformers_missing_says_which_extra_brings_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from importlib import metadata

    def missing(name: str) -> str:
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "version", missing)
    assert "pip install 'photoclip[multilingual]'" in _report(None)["transformers"]
