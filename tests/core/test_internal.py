"""Internal commands: started as `python -m` from source, as the app's own executable with
an internal argument in a frozen app, and dispatched by that argument."""

from __future__ import annotations

import sys

import pytest

from photoclip.core import exports, internal
from photoclip.core.internal import FLAG, command_line, run_internal


def test_from_source_an_internal_command_runs_its_module() -> None:
    assert command_line("export", "fast", "/c") == [
        sys.executable, "-m", "photoclip.core.exports", "fast", "/c",
    ]  # fmt: skip


def test_a_frozen_app_runs_itself_with_the_internal_argument(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", "/Applications/PhotoClip.app/Contents/MacOS/PhotoClip")
    assert command_line("export", "fast", "/c") == [
        "/Applications/PhotoClip.app/Contents/MacOS/PhotoClip", FLAG, "export", "fast", "/c",
    ]  # fmt: skip


def test_the_internal_argument_runs_the_command_with_the_rest(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[list[str]] = []
    monkeypatch.setattr(exports, "main", lambda argv: calls.append(argv) or 7)
    assert run_internal([FLAG, "export", "fast", "/c"]) == 7
    assert calls == [["fast", "/c"]]


@pytest.mark.parametrize("argv", [[], ["--self-test"], ["Pictures", FLAG]])
def test_anything_else_starts_the_app(argv: list[str]) -> None:
    assert run_internal(argv) is None


@pytest.mark.parametrize("argv", [[FLAG], [FLAG, "format-disk"]])
def test_an_unknown_internal_command_says_which_are_known(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_internal(argv) == 2
    assert "known: export" in capsys.readouterr().err


def test_every_internal_commands_module_has_a_main() -> None:
    import importlib

    for module in internal.COMMANDS.values():
        assert callable(importlib.import_module(module).main)
