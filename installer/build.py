"""Build the PhotoClip app for this platform, then smoke-test it; prints one JSON report.

    python3 -m pip install -e '.[installer]'
    python3 installer/build.py              # dist/PhotoClip/ (and dist/PhotoClip.app on macOS)

The smoke test runs `dist/PhotoClip/PhotoClip --self-test` offscreen with throw-away data
and cache folders: the window opens, indexes a generated folder with the test-shapes model,
searches and exits 0. A full build bundles torch (installer/README.md says which build to
install first) and takes many minutes, so CI runs only tests/installer (spec sanity); this
script is run by hand, like the benchmarks.
`--entry photoclip.cli:main` bundles another entry point (a build before the window exists).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from installer import bundle  # noqa: E402

SPEC = ROOT / "installer" / "photoclip.spec"
DIST = ROOT / "dist"
WORK = ROOT / "build" / "pyinstaller"
APP_DIR = DIST / bundle.NAME
SMOKE_TIMEOUT_S = 600


def program() -> Path:
    suffix = ".exe" if sys.platform.startswith("win") else ""
    return APP_DIR / f"{bundle.NAME}{suffix}"


def run_pyinstaller(entry: str | None) -> float:
    """Run PyInstaller on the spec; return the seconds it took."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if entry:
        env[bundle.ENTRY_ENV] = entry
    command = [sys.executable, "-m", "PyInstaller", "--noconfirm", "--clean"]
    command += ["--distpath", str(DIST), "--workpath", str(WORK), str(SPEC)]
    start = time.monotonic()
    subprocess.run(command, check=True, env=env, cwd=ROOT)
    return time.monotonic() - start


def add_linux_installer() -> None:
    """Put install.sh beside the program, so an unpacked bundle installs its own icon."""
    if sys.platform.startswith("linux"):
        shutil.copy2(ROOT / "installer" / "linux" / "install.sh", APP_DIR / "install.sh")


def size_of(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def largest_parts(count: int = 12) -> dict[str, float]:
    """The biggest folders and files in the bundle: where the bytes go."""
    internal = APP_DIR / "_internal"
    parts = [*internal.iterdir(), *(internal / "torch").glob("*")]
    parts += (internal / "torch" / "lib").glob("*")
    parts = [p for p in parts if p.name != "torch" and not p.is_symlink()]
    sizes = {str(p.relative_to(APP_DIR)): size_of(p) for p in parts}
    biggest = sorted(sizes.items(), key=lambda item: -item[1])[:count]
    return {name: round(size / 2**20, 1) for name, size in biggest}


def smoke_test(args: list[str]) -> dict[str, Any]:
    """Run the bundled program offscreen with throw-away data; report its exit and line."""
    with tempfile.TemporaryDirectory(prefix="photoclip-smoke-") as tmp:
        env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
        env.update(PHOTOCLIP_DATA_DIR=f"{tmp}/data", PHOTOCLIP_CACHE_DIR=f"{tmp}/cache")
        env.pop("PYTHONPATH", None)  # the bundle must run on what it carries
        start = time.monotonic()
        done = subprocess.run(
            [str(program()), *args],
            env=env,
            cwd=tmp,
            capture_output=True,
            text=True,
            timeout=SMOKE_TIMEOUT_S,
        )
    return {
        "command": [program().name, *args],
        "returncode": done.returncode,
        "seconds": round(time.monotonic() - start, 1),
        "stdout_tail": done.stdout.strip().splitlines()[-5:],
        "stderr_tail": done.stderr.strip().splitlines()[-8:],
    }


def self_test_passed(smoke: dict[str, Any]) -> bool:
    """Exit 0 and the self-test's own verdict line on stdout."""
    said_ok = any(line.startswith("self-test ok:") for line in smoke["stdout_tail"])
    return smoke["returncode"] == 0 and said_ok


def torch_build() -> str:
    import torch

    cuda = torch.version.cuda
    return f"torch {torch.__version__} ({f'CUDA {cuda}' if cuda else 'CPU'})"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entry", help="bundle this module:function instead of the window")
    parser.add_argument(
        "--smoke", help="the smoke run's arguments, one string (default: --self-test)"
    )
    parser.add_argument("--skip-build", action="store_true", help="smoke-test the last build")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    report: dict[str, Any] = {"platform": sys.platform, "torch": torch_build()}
    if not args.skip_build:
        report["build_seconds"] = round(run_pyinstaller(args.entry), 1)
        add_linux_installer()
    report["bundle_mib"] = round(size_of(APP_DIR) / 2**20, 1)
    report["largest_mib"] = largest_parts()
    smoke = smoke_test(shlex.split(args.smoke) if args.smoke is not None else ["--self-test"])
    report["smoke"] = smoke
    ok = self_test_passed(smoke) if args.smoke is None else smoke["returncode"] == 0
    report["ok"] = ok
    print(json.dumps(report, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
