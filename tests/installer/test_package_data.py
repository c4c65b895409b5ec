"""A wheel of photoclip carries its data files: what an installed (not editable) copy and
the app bundle read at run time."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile

import pytest

from installer import bundle


@pytest.mark.slow
def test_wheel_holds_the_default_categories_model_configs_and_demo_weights(tmp_path):
    source = tmp_path / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(bundle.ROOT / name, source / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(bundle.ROOT / "photoclip", source / "photoclip", ignore=ignore)
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation"]
    done = subprocess.run(
        [*command, "-q", "-w", str(tmp_path / "wheels"), str(source)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    (wheel,) = (tmp_path / "wheels").glob("photoclip-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "photoclip/resources/categories.toml" in names
    assert "photoclip/core/model_configs/PhotoClip-TestShapes.json" in names
    # The demo model and --self-test's, so that `pip install .` works offline too.
    assert "photoclip/resources/models/test-shapes.safetensors" in names
