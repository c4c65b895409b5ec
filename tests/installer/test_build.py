"""installer/build.py around a fake bundle: the smoke test's verdict and the report.

The real build (PyInstaller over torch) takes many minutes and runs by hand; see build.py.
"""

from __future__ import annotations

import json
import os
import stat
import sys

import pytest

from installer import build


def fake_bundle(tmp_path, monkeypatch, script: str):
    """A dist/PhotoClip folder whose program is a shell script."""
    app = tmp_path / "PhotoClip"
    (app / "_internal" / "torch" / "lib").mkdir(parents=True)
    (app / "_internal" / "torch" / "lib" / "libtorch_cpu.so").write_bytes(b"x" * 3 * 2**20)
    program = app / "PhotoClip"
    program.write_text("#!/bin/sh\n" + script)
    program.chmod(program.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setattr(build, "APP_DIR", app)
    return app


pytestmark = pytest.mark.skipif(sys.platform.startswith("win"), reason="shell-script bundle")


def test_smoke_test_runs_offscreen_with_throw_away_data_and_no_checkout(tmp_path, monkeypatch):
    fake_bundle(
        tmp_path, monkeypatch, 'echo "$QT_QPA_PLATFORM $PHOTOCLIP_DATA_DIR ${PYTHONPATH:-none}"'
    )
    monkeypatch.setenv("PYTHONPATH", "/somewhere")
    smoke = build.smoke_test(["--self-test"])
    platform, data_dir, pythonpath = smoke["stdout_tail"][-1].split()
    assert (platform, pythonpath, smoke["returncode"]) == ("offscreen", "none", 0)
    assert "photoclip-smoke-" in data_dir and not os.path.exists(data_dir)


def test_report_is_ok_when_the_self_test_line_says_so(tmp_path, monkeypatch, capsys):
    noisy = 'for i in 1 2 3 4 5 6 7 8 9; do echo "warning $i" >&2; done; '
    fake_bundle(tmp_path, monkeypatch, noisy + 'echo "self-test ok: 6 photos, found 1"')
    assert build.main(["--skip-build"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is True and report["smoke"]["command"] == ["PhotoClip", "--self-test"]
    assert report["bundle_mib"] >= 3.0
    assert report["largest_mib"]["_internal/torch/lib/libtorch_cpu.so"] == 3.0


@pytest.mark.parametrize(
    "script",
    [
        'echo "self-test failed: no window"; exit 1',
        'echo "started"',
        'echo "self-test ok: (on stderr)" >&2',
        "exit 0",
    ],
)
def test_report_fails_on_a_non_zero_exit_or_without_the_ok_line(tmp_path, monkeypatch, script):
    fake_bundle(tmp_path, monkeypatch, script)
    assert build.main(["--skip-build"]) == 1


def test_other_smoke_arguments_are_split_like_a_shell(tmp_path, monkeypatch, capsys):
    fake_bundle(tmp_path, monkeypatch, 'echo "$#:$2"')
    assert build.main(["--skip-build", "--smoke", "search 'red circle'"]) == 0
    assert json.loads(capsys.readouterr().out)["smoke"]["stdout_tail"] == ["2:red circle"]
