"""Project-wide checks: layering, lint, types, and the README's commands."""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_core_never_imports_qt_the_gui_or_the_cli() -> None:
    offenders = {
        str(path.relative_to(ROOT)): name
        for path in (ROOT / "photoclip" / "core").rglob("*.py")
        for name in _imports(path)
        if name.split(".")[0] == "PySide6" or name.startswith(("photoclip.gui", "photoclip.cli"))
    }
    assert offenders == {}


def test_torch_and_open_clip_are_imported_lazily() -> None:
    """`photoclip --help` and the GUI's first paint must not wait for torch."""
    code = (
        "import photoclip.cli, photoclip.core.search, photoclip.core.indexing, sys; "
        "print(sorted(m for m in ('torch', 'open_clip') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_ci_runs_the_readme_test_command_word_for_word() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(r"^\s*\$ (.+?)\s+# runs the tests$", readme, re.MULTILINE)
    assert match, "README.md's Quick start has no test command"
    assert match.group(1) in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    "command",
    [
        ["ruff", "check", "photoclip", "installer", "tests"],
        ["ruff", "format", "--check", "photoclip", "installer", "tests"],
        ["mypy"],
        ["lint-imports"],
    ],
    ids=["ruff", "ruff-format", "mypy", "import-linter"],
)
def test_static_checks_are_clean(command: list[str]) -> None:
    if shutil.which(command[0]) is None:
        pytest.fail(f"{command[0]} is not installed: pip install -e '.[test]'")
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
