"""Whole `photoclip` processes, as a user runs them: peak RSS, wall time, and the start-up
of `index` until its first photo is decoded (issue 17).

    python tests/benchmarks/bench_index_process.py [--photos 64] [--rounds 2]
        [--baseline SRC] [--source ../shared/data/coco-mini/val2017] [--arch ViT-B-32]

Makes N 4032x3024 JPEGs (bench_indexing.make_camera_photos) and a ViT-B-32 (--arch) with random
weights saved to a safetensors file, loaded as a local checkpoint (`ViT-B-32:FILE`, the
path of a file the user picked). Then, per round and per source tree (this one, and
--baseline, another checkout's folder that holds `photoclip/`, interleaved):
  index    `photoclip index` of the folder into a fresh library: peak RSS (wait4's
           ru_maxrss of the process), wall time, and seconds from the process's start to
           the end of its first photo decode (decode_photo wrapped in the child);
  rescan   the same again: nothing changed, so no model (start-up to the end of the run);
  tags     `tags edit Pets dog --phrasing NEW` with no text export, so that the new
           phrasing needs torch's text tower: wall time and peak RSS;
  test-shapes the same `tags edit` with the tiny test-shapes model.
The text export is switched off (PHOTOCLIP_TEXT_EXPORT=0): no background process runs,
and label edits go through torch. Prints JSON: medians per tree, and after/before ratios.
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

HERE = Path(__file__).resolve()
REPO = HERE.parents[2]

#: Run in the child: times the end of the first decode_photo, then runs the CLI.
PROBE = """
import os, sys, time
import photoclip.core.imageio as imageio
import photoclip.core.indexing as indexing
first = []
decode = imageio.decode_photo
def timed(*args, **kwargs):
    result = decode(*args, **kwargs)
    if not first:
        first.append(time.monotonic())
        with open(os.environ["BENCH_FIRST_DECODE"], "w") as out:
            out.write(repr(first[0]))
    return result
indexing.decode_photo = timed
from photoclip.cli import main
sys.exit(main())  # as the program does: main(argv) would be a caller inside a process
"""


def make_camera_photos(folder: Path, count: int, source: Path) -> None:
    """bench_indexing's photos, made in a child: that module imports torch, and this
    process stays small."""
    script = (
        "import sys; from pathlib import Path; sys.path.insert(0, sys.argv[1])\n"
        "from bench_indexing import make_camera_photos\n"
        "make_camera_photos(Path(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4]))\n"
    )
    arguments = [str(HERE.parent), str(folder), str(count), str(source)]
    subprocess.run([sys.executable, "-c", script, *arguments], check=True)


def make_weights(path: Path, arch: str = "ViT-B-32") -> None:
    """Random weights (seeded), as a user's checkpoint file."""
    script = (
        "import torch, open_clip, sys\n"
        "from safetensors.torch import save_file\n"
        "torch.manual_seed(0)\n"
        "m = open_clip.create_model(sys.argv[2], pretrained=None)\n"
        "save_file({k: v.contiguous() for k, v in m.state_dict().items()}, sys.argv[1])\n"
    )
    command = [sys.executable, "-c", script, str(path), arch]
    subprocess.run(command, check=True, capture_output=True)


def run(tree: Path, argv: list[str], env: dict[str, str], work: Path) -> dict[str, float]:
    """One `photoclip` process from `tree`: wall seconds, peak RSS (MB), first decode."""
    marker = work / "first-decode"
    marker.unlink(missing_ok=True)
    env = {**env, "PYTHONPATH": str(tree), "BENCH_FIRST_DECODE": str(marker)}
    # /usr/bin/time (GNU time's %M, as `time -v` reports it) forks the command from a tiny
    # process: a child forked from this one would count this one's pages in its peak.
    command = ["/usr/bin/time", "-f", "maxrss_kb=%M", sys.executable, "-c", PROBE, *argv]
    start = time.monotonic()
    # cwd: `python -c` puts the working folder first on sys.path, before PYTHONPATH.
    done = subprocess.run(
        command, env=env, cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    wall = time.monotonic() - start
    errors = done.stderr.decode(errors="replace")
    if done.returncode != 0:
        raise SystemExit(f"{argv} from {tree} failed: {errors[-2000:]}")
    peak_kb = int(errors.rsplit("maxrss_kb=", 1)[1].split()[0])
    result = {"seconds": round(wall, 3), "peak_rss_mb": round(peak_kb / 1024, 1)}
    if marker.exists():
        result["first_decode_s"] = round(float(marker.read_text()) - start, 3)
    return result


def round_of(tree: Path, env: dict[str, str], work: Path, photos: Path, model: str, tag: int):
    """index, rescan and one label edit (a new phrasing each round) in a fresh library."""
    data = work / f"data-{tag}"
    env = {**env, "PHOTOCLIP_DATA_DIR": str(data), "PHOTOCLIP_CACHE_DIR": str(work / "cache")}
    index = run(tree, ["index", str(photos), "--model", model], env, work)
    rescan = run(tree, ["index", str(photos)], env, work)
    run(tree, ["tags", "add", "Pets", "dog", "cat", "--no-retag"], env, work)
    tags = run(tree, ["tags", "edit", "Pets", "dog", "--phrasing", f"a puppy {tag}"], env, work)
    return {"index": index, "rescan": rescan, "tags": tags}


def shapes_round(tree: Path, env: dict[str, str], work: Path, photos: Path, tag: int):
    data = work / f"shapes-{tag}"
    env = {**env, "PHOTOCLIP_DATA_DIR": str(data), "PHOTOCLIP_CACHE_DIR": str(work / "cache")}
    run(tree, ["index", str(photos), "--model", "test-shapes"], env, work)
    run(tree, ["tags", "add", "Shapes", "circle", "square", "--no-retag"], env, work)
    return run(tree, ["tags", "edit", "Shapes", "circle", "--phrasing", f"a ring {tag}"], env, work)


def medians(rounds: list[dict]) -> dict:
    out: dict = {}
    for key in rounds[0]:
        if isinstance(rounds[0][key], dict):
            out[key] = medians([r[key] for r in rounds])
        else:
            out[key] = round(statistics.median(r[key] for r in rounds), 3)
    return out


def ratios(after: dict, before: dict) -> dict:
    return {
        k: ratios(v, before[k]) if isinstance(v, dict) else round(v / before[k], 3)
        for k, v in after.items()
        if k in before
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--photos", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--baseline", type=Path, help="a source tree to compare against")
    parser.add_argument("--skip", nargs="*", default=[], choices=["shapes"])
    parser.add_argument("--arch", default="ViT-B-32", help="ViT-B-32-256: issue 17's model")
    parser.add_argument(
        "--source", type=Path, default=REPO.parent / "shared/data/coco-mini/val2017"
    )
    args = parser.parse_args()
    trees = {"after": REPO} | ({"before": args.baseline.resolve()} if args.baseline else {})
    env = {**os.environ, "PHOTOCLIP_TEXT_EXPORT": "0", "PHOTOCLIP_ALLOW_RANDOM_WEIGHTS": "1"}
    with tempfile.TemporaryDirectory(prefix="bench-process-") as temp:
        work = Path(temp)
        (work / "photos").mkdir()
        make_camera_photos(work / "photos", args.photos, args.source)
        weights = work / f"{args.arch}-random.safetensors"
        make_weights(weights, args.arch)
        model = f"{args.arch}:{weights}"
        found: dict[str, list] = {name: [] for name in trees}
        shapes: dict[str, list] = {name: [] for name in trees}
        tag = 0
        for _ in range(args.rounds):
            for name, tree in (reversed if tag % 2 else iter)(list(trees.items())):
                tag += 1
                found[name].append(round_of(tree, env, work, work / "photos", model, tag))
                if "shapes" not in args.skip:
                    shapes[name].append(
                        {"tags": shapes_round(tree, env, work, work / "photos", tag)}
                    )
    result: dict = {"photos": args.photos, "rounds": args.rounds, "arch": args.arch}
    for name in trees:
        result[name] = medians(found[name])
        if shapes[name]:
            result[name]["test_shapes"] = medians(shapes[name])
    if args.baseline:
        result["after_over_before"] = ratios(result["after"], result["before"])
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
