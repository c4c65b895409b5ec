"""Shared fixtures: isolated PhotoClip folders, generated photos, a tiny random CLIP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.modelconfigs import register

TINY_ARCH = "PhotoClip-Tiny-Test"
TINY_CONFIG = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 64, "layers": 1, "width": 64, "patch_size": 16},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
}


@pytest.fixture(scope="session")
def runtime_dir() -> Iterator[Path]:
    """Where workers put their search sockets: short (a socket's path has ~100 bytes)."""
    import shutil
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="pc-run-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(autouse=True)
def isolated_locations(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, runtime_dir: Path) -> Path:
    """No test ever reads or writes the real user's PhotoClip folders."""
    home = tmp_path / "photoclip-home"
    monkeypatch.setenv("PHOTOCLIP_DATA_DIR", str(home / "data"))
    monkeypatch.setenv("PHOTOCLIP_CACHE_DIR", str(home / "cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    # No background text export after every model load (tests of it turn it back on).
    monkeypatch.setenv("PHOTOCLIP_TEXT_EXPORT", "0")
    monkeypatch.setenv("PHOTOCLIP_RUNTIME_DIR", str(runtime_dir))
    monkeypatch.delenv("PHOTOCLIP_MODEL", raising=False)
    return home


@pytest.fixture(scope="session")
def tiny_arch(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A real open_clip architecture, tiny, registered the way open_clip's own tests do."""
    register(tmp_path_factory, {TINY_ARCH: TINY_CONFIG})
    return TINY_ARCH


@pytest.fixture(scope="session")
def tiny_encoder(tiny_arch: str) -> Iterator[object]:
    """Random weights: real mechanics (shapes, batching, preprocessing), no semantics."""
    import os

    from photoclip.core.embedding import load_encoder
    from photoclip.core.profiles import RANDOM_WEIGHTS_ENV, resolve_profile

    os.environ[RANDOM_WEIGHTS_ENV] = "1"
    try:
        profile = resolve_profile(tiny_arch)
    finally:  # only this fixture may build random weights; other tests check the refusal
        os.environ.pop(RANDOM_WEIGHTS_ENV, None)
    yield load_encoder(profile, device="cpu")
