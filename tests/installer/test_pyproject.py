"""pyproject.toml's entry points import, and the installer extra stays out of `test`."""

from __future__ import annotations

import importlib

import pytest

from installer import bundle

PROJECT = bundle.pyproject()["project"]
SCRIPTS = {**PROJECT["scripts"], **PROJECT.get("gui-scripts", {})}


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_entry_point_names_a_callable(name):
    module, _, function = SCRIPTS[name].partition(":")
    assert callable(getattr(importlib.import_module(module), function))


def test_pyinstaller_is_an_optional_extra_not_a_test_dependency():
    extras = PROJECT["optional-dependencies"]
    assert any(req.startswith("pyinstaller") for req in extras["installer"])
    assert not any(req.startswith("pyinstaller") for req in extras["test"])
