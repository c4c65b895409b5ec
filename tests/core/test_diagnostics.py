"""`photoclip doctor`'s report: the torch build, the device, and the library's model (the one
`photoclip status` shows), not only the one settings name."""

from __future__ import annotations

import pytest

from photoclip.core import diagnostics
from photoclip.core.catalog import Catalog, ModelRecord
from photoclip.core.paths import Locations
from photoclip.core.profiles import BUILTIN_PROFILES


def _report(profile: str | None, *, chosen: bool = False) -> dict[str, str]:
    locations = Locations.from_environment().ensure()
    return dict(diagnostics.diagnose(locations, profile, "cpu", chosen=chosen))


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


def test_without_a_library_the_model_that_would_be_used() -> None:
    assert _report(None)["model"].startswith("fast (ViT-B-32:")


def test_the_torch_build_and_the_device_are_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    report = _report(None)
    assert report["torch"] == f"{torch.__version__} ({diagnostics.torch_build()})"
    assert report["device in use"] == "cpu"
    monkeypatch.setattr(torch.version, "cuda", None)
    monkeypatch.setattr(torch.version, "hip", None)
    assert diagnostics.torch_build() == "CPU build"
    monkeypatch.setattr(torch.version, "cuda", "13.0")
    assert diagnostics.torch_build() == "CUDA 13.0 build"


def test_a_cuda_build_without_a_gpu_points_to_the_cpu_build(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import torch

    from photoclip.core import device

    monkeypatch.setattr(torch.version, "cuda", "13.0")
    monkeypatch.setattr(device, "device_works", lambda name: name == "cpu")
    assert "the CPU build is much smaller" in _report(None)["note"]
    monkeypatch.setattr(torch.version, "cuda", None)
    assert "note" not in _report(None)


def test_transformers_missing_says_which_extra_brings_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from importlib import metadata

    def missing(name: str) -> str:
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "version", missing)
    assert "pip install 'photoclip[multilingual]'" in _report(None)["transformers"]
