"""The `photoclip` command: a thin front end over photoclip.core.

Exit codes: 0 success, 1 a condition the user can fix (the message says how), 2 bad usage,
130 interrupted. torch is imported only by commands that need the model.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from photoclip import __version__
from photoclip.core.errors import KnownError
from photoclip.core.paths import Locations
from photoclip.core.settings import Settings

log = logging.getLogger("photoclip")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s: %(message)s",
    )
    if args.command is None:
        parser.print_help()
        return 0
    try:
        return int(args.run(args) or 0)
    except KnownError as error:
        print(f"photoclip: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("photoclip: interrupted", file=sys.stderr)
        return 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="photoclip",
        description="Search your photos by what is in them. Run with no command for the app.",
    )
    parser.add_argument("--version", action="version", version=f"photoclip {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what happens")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_index(commands)
    _add_search(commands)
    _add_similar(commands)
    _add_status(commands)
    _add_doctor(commands)
    return parser


# -- commands --------------------------------------------------------------------------------


def _add_index(commands: Any) -> None:
    command = commands.add_parser("index", help="add folders and index their photos")
    command.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    command.add_argument("--model", help="model profile (fast, quality, ... or ARCH:PRETRAINED)")
    command.add_argument("--device", help="cuda, mps, cpu or auto (default: settings)")
    command.add_argument("--json", action="store_true", help="print the result as JSON")
    command.set_defaults(run=run_index)


def run_index(args: argparse.Namespace) -> int:
    from photoclip.core.indexing import Indexer

    locations, settings = _environment()
    encoder = _load_encoder(args.model or settings.model, args.device or settings.device, settings)
    with _open_library(locations) as library:
        indexer = Indexer(
            library,
            encoder,
            batch_size=settings.batch_size,
            max_pixels=settings.max_megapixels * 1_000_000,
        )
        with _ProgressBar(enabled=not args.json) as bar:
            report = indexer.index(list(args.paths), progress=bar.update)
        with library.catalog.transaction():
            library.catalog.set_meta("device", encoder.device)
    if args.json:
        _print_json(report.as_json())
    else:
        _print_index_report(report)
    return 0


def _add_search(commands: Any) -> None:
    command = commands.add_parser("search", help="find photos by a description")
    command.add_argument("query", help='e.g. "dog on a beach", "beach + sunset - people"')
    _add_result_options(command)
    command.add_argument("--min-score", type=float, help="hide results below this cosine score")
    command.add_argument("--folder", type=Path, help="only photos inside this folder")
    command.add_argument("--since", type=_date, help="taken on or after (YYYY-MM-DD)")
    command.add_argument("--until", type=_date, help="taken before (YYYY-MM-DD)")
    command.add_argument("--sort", choices=("relevance", "date"), default="relevance")
    command.set_defaults(run=run_search)


def run_search(args: argparse.Namespace) -> int:
    from photoclip.core.search import SearchOptions

    options = SearchOptions(
        limit=args.n,
        min_score=args.min_score,
        folder=args.folder,
        since=args.since,
        until=args.until,
        sort=args.sort,
    )
    with _searcher() as searcher:
        _print_results(searcher.search(args.query, options), args.json)
    return 0


def _add_similar(commands: Any) -> None:
    command = commands.add_parser("similar", help="find photos that look like a photo")
    command.add_argument("path", type=Path, help="an indexed photo or any image file")
    _add_result_options(command)
    command.set_defaults(run=run_similar)


def run_similar(args: argparse.Namespace) -> int:
    from photoclip.core.search import SearchOptions

    if not args.path.exists():
        raise KnownError(f"{args.path} does not exist.")
    with _searcher() as searcher:
        _print_results(searcher.similar(args.path, SearchOptions(limit=args.n)), args.json)
    return 0


def _add_status(commands: Any) -> None:
    command = commands.add_parser("status", help="what is indexed, what failed and why")
    command.add_argument("--json", action="store_true", help="print the status as JSON")
    command.set_defaults(run=run_status)


def run_status(args: argparse.Namespace) -> int:
    locations, _ = _environment()
    if not locations.catalog.exists():
        status: dict[str, Any] = _empty_status()
    else:
        with _open_library(locations) as library:
            status = _library_status(library)
    if args.json:
        _print_json(status)
    else:
        _print_status(status)
    return 0


def _add_doctor(commands: Any) -> None:
    command = commands.add_parser("doctor", help="check the installation, device and weights")
    command.add_argument("--model", help="the profile whose weights to check")
    command.set_defaults(run=run_doctor)


def run_doctor(args: argparse.Namespace) -> int:
    from photoclip.core.diagnostics import diagnose

    locations, settings = _environment()
    for name, value in diagnose(locations, args.model or settings.model, settings.device):
        print(f"{name:>18}: {value}")
    return 0


# -- wiring: the CLI's composition root --------------------------------------------------------


def _environment() -> tuple[Locations, Settings]:
    locations = Locations.from_environment()
    return locations, Settings.load(locations.settings)


def _open_library(locations: Locations) -> Any:
    from photoclip.core.library import Library

    return Library.open(locations)


def _load_encoder(profile_name: str | None, device: str | None, settings: Settings) -> Any:
    from photoclip.core.embedding import load_encoder
    from photoclip.core.profiles import resolve_profile

    profile = resolve_profile(profile_name)
    locations, _ = _environment()
    with _ProgressBar(unit="B", title="Downloading the model's weights (once)...") as bar:
        return load_encoder(
            profile,
            device=device,
            cache=locations.ensure().weights,
            progress=bar.advance,
            threads=settings.threads or None,
        )


class _searcher:
    """Context manager: a Searcher over the library, loading the library's own model."""

    def __enter__(self) -> Any:
        from photoclip.core.search import Searcher

        locations, settings = _environment()
        if not locations.catalog.exists():
            raise KnownError("Nothing is indexed yet. Add a folder first: photoclip index FOLDER")
        self.library = _open_library(locations)
        record = self.library.active_model
        if record is None:
            raise KnownError("Nothing is indexed yet. Add a folder first: photoclip index FOLDER")
        load: Callable[[], Any] = cache(
            lambda: _load_encoder(record.profile, settings.device, settings)
        )
        return Searcher(self.library, load)

    def __exit__(self, *exc: object) -> None:
        self.library.close()


# -- output ------------------------------------------------------------------------------------


def _add_result_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("-n", type=int, default=20, help="how many results (default 20)")
    command.add_argument("--json", action="store_true", help="print the results as JSON")


def _print_results(results: list[Any], as_json: bool) -> None:
    if as_json:
        rows = [
            {"path": str(r.photo.path), "score": round(r.score, 6), "id": r.photo.id}
            for r in results
        ]
        _print_json({"results": rows})
        return
    if not results:
        print("No matching photos.")
    for result in results:
        print(f"{result.score:.3f}  {result.photo.path}")


def _print_index_report(report: Any) -> None:
    print(
        f"{report.embedded} embedded, {report.reused} recognised (moved or copied), "
        f"{report.unchanged} unchanged, {report.removed} removed, {report.failed} failed."
    )
    for path, reason in report.failures:
        print(f"  skipped {path}: {reason}")


def _empty_status() -> dict[str, Any]:
    return {
        "photos": 0,
        "indexed": 0,
        "failed": 0,
        "failures": [],
        "model": None,
        "device": None,
        "index_size": 0,
        "index_health": "empty",
        "roots": [],
    }


def _library_status(library: Any) -> dict[str, Any]:
    catalog = library.catalog
    counts = catalog.counts()
    record = library.active_model
    size, health = 0, "empty"
    if record is not None:
        size = len(library.index())
        expected = len(catalog.photo_ids_with_vectors(record.key))
        health = "ok" if size == expected else f"stale ({size} of {expected} photos)"
    return {
        "photos": counts.photos,
        "indexed": counts.indexed,
        "failed": counts.failed,
        "failures": [{"path": str(p), "reason": r} for p, r in catalog.failures()],
        "model": record.profile if record else None,
        "model_key": record.key if record else None,
        "device": catalog.get_meta("device"),
        "index_size": size,
        "index_health": health,
        "roots": [str(root.path) for root in catalog.roots()],
    }


def _print_status(status: dict[str, Any]) -> None:
    print(f"{status['photos']} photos: {status['indexed']} indexed, {status['failed']} failed")
    print(f"model: {status['model'] or 'none yet'}   device: {status['device'] or '-'}")
    print(f"index: {status['index_size']} vectors ({status['index_health']})")
    for root in status["roots"]:
        print(f"folder: {root}")
    for failure in status["failures"]:
        print(f"  failed {failure['path']}: {failure['reason']}")


def _print_json(data: dict[str, Any]) -> None:
    json.dump(data, sys.stdout, indent=2)
    sys.stdout.write("\n")


def _date(text: str) -> float:
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"'{text}' is not a date like 2024-07-31") from error


class _ProgressBar:
    """A tqdm bar on stderr, made on the first event (so nothing shows when nothing runs)."""

    def __init__(self, enabled: bool = True, unit: str = "photo", title: str = "") -> None:
        self.enabled = enabled and sys.stderr.isatty()
        self.unit, self.title = unit, title
        self.bar: Any = None

    def __enter__(self) -> _ProgressBar:
        return self

    def update(self, progress: Any) -> None:
        """An indexer progress event."""
        self.advance(progress.done, progress.total)

    def advance(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        if self.bar is None:
            from tqdm import tqdm

            if self.title:
                print(self.title, file=sys.stderr)
            scale = self.unit == "B"
            self.bar = tqdm(total=total or None, unit=self.unit, unit_scale=scale, file=sys.stderr)
        self.bar.update(done - self.bar.n)

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.close()
