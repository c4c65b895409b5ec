"""Cold one-shot commands against a bare `import torch, open_clip`, in one interleaved run.

    PYTHONPATH=$PWD python tests/benchmarks/bench_cli_startup.py [--rounds 5] [--photos 20] \
        [--baseline DIR]

Makes a library of generated photos in a temporary folder (indexed once with test-shapes),
then, round by round, runs each command in a fresh interpreter: `index DIR` with nothing
changed, `status`, `tags list`, a text `search`, and `python -c "import torch, open_clip"`;
with --baseline, the same commands again from another checkout (its folder goes first on
PYTHONPATH), interleaved with these. Prints JSON: the
median wall time of each and the median of its per-round ratio to the bare import (issue 17
asks <= 0.3 for the rescan). A loaded machine moves all of them; the ratios move less.

Measured (--rounds 5 --baseline /work/main, loaded 2-core box; import 6.4 s): rescan 0.31 s,
0.063x (baseline 7.4 s, 1.11x); status 0.042x; tags list 0.047x; text search 1.105x
(baseline 1.124x: it still imports torch and builds the model).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from photoclip.synthetic.scenes import single_object_scene

COLOURS = ("red", "blue", "green", "yellow", "purple", "orange")
SHAPES = ("circle", "square", "triangle", "star")


def make_photos(folder: Path, count: int) -> None:
    folder.mkdir(parents=True)
    for i in range(count):
        colour, shape = COLOURS[i % len(COLOURS)], SHAPES[i // len(COLOURS) % len(SHAPES)]
        single_object_scene(colour, shape).render().save(folder / f"{i:03d}-{colour}-{shape}.png")


def commands(photos: Path) -> dict[str, list[str]]:
    photoclip = [sys.executable, "-m", "photoclip"]
    return {
        "index (nothing changed)": [*photoclip, "index", str(photos)],
        "status": [*photoclip, "status"],
        "tags list": [*photoclip, "tags", "list"],
        "search (text)": [*photoclip, "search", "a red circle", "-n", "3"],
    }


def timed(command: list[str], env: dict[str, str], cwd: str) -> float:
    start = time.perf_counter()
    # Not in the checkout's folder: `-m` puts the working folder first on sys.path.
    subprocess.run(command, env=env, check=True, capture_output=True, cwd=cwd)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--photos", type=int, default=20)
    parser.add_argument("--baseline", type=Path, help="another checkout to compare with")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        photos = Path(home) / "photos"
        make_photos(photos, args.photos)
        env = {
            **os.environ,
            "PHOTOCLIP_DATA_DIR": f"{home}/data",
            "PHOTOCLIP_CACHE_DIR": f"{home}/cache",
            "PHOTOCLIP_MODEL": "test-shapes",
        }
        first_index = [sys.executable, "-m", "photoclip", "index", str(photos)]
        subprocess.run(first_index, env=env, check=True)
        runs = {"import torch, open_clip": ([sys.executable, "-c", "import torch, open_clip"], env)}
        runs.update({name: (command, env) for name, command in commands(photos).items()})
        if args.baseline:
            path = os.pathsep.join([str(args.baseline), env.get("PYTHONPATH", "")])
            other = {**env, "PYTHONPATH": path}
            runs.update({f"baseline {n}": (c, other) for n, c in commands(photos).items()})
        times: dict[str, list[float]] = {name: [] for name in runs}
        for _ in range(args.rounds):
            for name, (command, command_env) in runs.items():
                times[name].append(timed(command, command_env, home))
    bare = times["import torch, open_clip"]
    results = {
        name: {
            "median_s": round(statistics.median(runs), 3),
            "ratio_to_import": round(
                statistics.median(t / b for t, b in zip(runs, bare, strict=True)), 3
            ),
        }
        for name, runs in times.items()
    }
    print(json.dumps({"rounds": args.rounds, "photos": args.photos, **results}, indent=2))


if __name__ == "__main__":
    main()
