"""The `photoclip` command: a thin front end over photoclip.core.

Exit codes: 0 success, 1 a condition the user can fix (the message says how), 2 bad usage
(a query that cannot be searched for included), 130 interrupted. No input gives a traceback:
an unexpected error prints one line, and its traceback goes to the log file
(`photoclip.log` in the cache folder). torch is imported only by commands that need the
model.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import math
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from functools import cache, partial
from pathlib import Path
from typing import Any

from photoclip import __version__
from photoclip.core.errors import KnownError, QueryError
from photoclip.core.paths import Locations
from photoclip.core.settings import Settings
from photoclip.core.workerstatus import read_status

log = logging.getLogger("photoclip")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _print_any_file_name()
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s: %(message)s",
    )
    if args.command is None:
        return _launch_app(["--self-test"] if args.self_test else [])
    if argv is None and args.command != "watch":
        # Run as the program, a command loads one model at most (`watch` follows a switch
        # of models): it may leave out the libraries that model never uses.
        from photoclip.core.footprint import one_model_per_process

        one_model_per_process()
    try:
        return _guarded(args, _start_log_file())
    finally:
        _export_loaded_models()


def _guarded(args: argparse.Namespace, log_path: Path | None) -> int:
    """Run the command; every way it can end becomes a message and an exit code."""
    try:
        return int(args.run(args) or 0)
    except QueryError as error:  # the query is what the user typed: bad usage
        print(f"photoclip: {error}", file=sys.stderr)
        return 2
    except KnownError as error:
        log.info("%s failed: %r", args.command, error)  # the type goes to the log file only
        print(f"photoclip: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("photoclip: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `photoclip search x | head`: the reader has what it wanted
        with contextlib.suppress(OSError, ValueError):  # (no flush error at exit either)
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except Exception as error:
        return _unexpected(error, args.command, log_path)


def _unexpected(error: Exception, command: str, log_path: Path | None) -> int:
    """A bug, not the user's doing: one line here, the traceback in the log file (at INFO,
    which the terminal shows only with -v)."""
    log.info("%s stopped on an unexpected error", command, exc_info=error)
    said = " ".join(str(error).split())[:300]  # one line, whatever the error holds
    where = f"The details are in {log_path}" if log_path else "No log file could be written"
    print(
        f"photoclip: unexpected error ({type(error).__name__}: {said}). "
        f"{where}; please report them.",
        file=sys.stderr,
    )
    return 1


def _print_any_file_name() -> None:
    """A file name that is not UTF-8 reaches Python with lone surrogates; printing it would
    raise. Results go out as the name's own bytes (as `ls` does, so a script gets the real
    path back); messages show such a byte as an escape (\\udcff) that anyone can read."""
    for stream, errors in ((sys.stdout, "surrogateescape"), (sys.stderr, "backslashreplace")):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors=errors)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="photoclip",
        description="Search your photos by what is in them. Run with no command for the app.",
    )
    parser.add_argument("--version", action="version", version=f"photoclip {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what happens")
    parser.add_argument(
        "--self-test",
        action="store_true",
        help="open the window offscreen, index generated photos, search, print one line",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_index(commands)
    _add_search(commands)
    _add_similar(commands)
    _add_tags(commands)
    _add_tag(commands)
    _add_sort(commands)
    _add_duplicates(commands)
    _add_status(commands)
    _add_watch(commands)
    _add_doctor(commands)
    _add_albums(commands)
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
    from photoclip.core.runs import recorded

    locations, settings = _environment()
    with _open_library(locations) as library, recorded(library.catalog, "index"):
        profile = args.model or _library_profile(library) or settings.model
        encoder = _lazy_encoder(library, profile, args.device or settings.device, settings)
        indexer = Indexer(
            library,
            encoder,
            batch_size=settings.batch_size or encoder.profile.batch_size,
            max_pixels=settings.max_megapixels * 1_000_000,
            after_commit=_auto_tagging(library, encoder),
        )
        with _ProgressBar(enabled=not args.json) as bar:
            report = indexer.index(list(args.paths), progress=bar.update)
        if encoder.loaded:  # else the device of the last run that used the model stands
            with library.catalog.transaction():
                library.catalog.set_meta("device", encoder.device)
    if args.json:
        _print_json(report.as_json())
    else:
        _print_index_report(report)
    return 0


def _library_profile(library: Any) -> str | None:
    """Re-indexing keeps the library's model; only --model switches it."""
    record = library.active_model
    return record.profile if record else None


def _add_search(commands: Any) -> None:
    command = commands.add_parser("search", help="find photos by a description")
    command.add_argument("query", help='e.g. "dog on a beach", "beach + sunset - people"')
    _add_result_options(command)
    command.add_argument("--min-score", type=_finite, help="hide results below this cosine score")
    command.add_argument("--folder", type=Path, help="only photos inside this folder")
    command.add_argument("--since", type=_date, help="taken on or after (YYYY-MM-DD)")
    command.add_argument("--until", type=_date, help="taken before (YYYY-MM-DD)")
    command.add_argument(
        "--tag", type=_tag_option, metavar="CATEGORY:LABEL", help="only photos with this tag"
    )
    command.add_argument("--sort", choices=("relevance", "date"), default="relevance")
    command.add_argument(
        "--textness",
        type=_textness,
        metavar="S",
        help="-2 ignores text written in photos, +2 favours it (default: settings, 0)",
    )
    command.set_defaults(run=run_search)


def run_search(args: argparse.Namespace) -> int:
    from photoclip.core.query import SearchOptions

    locations, settings = _environment()
    textness = args.textness if args.textness is not None else settings.textness
    options = SearchOptions(
        textness=textness,
        limit=args.n,
        min_score=args.min_score,
        folder=args.folder,
        since=args.since,
        until=args.until,
        tag=args.tag,
        sort=args.sort,
    )
    hits = _ask_worker(locations, args.query, options)
    if hits is None:
        with _searcher() as searcher:
            searcher.check_filters(options)
            results = searcher.search(args.query, options)
            if options.textness:
                _remember_textness(searcher, locations)
        hits = [_hit(result) for result in results]
    _print_hits(hits, args.json)
    return 0


def _ask_worker(locations: Locations, query: str, options: Any) -> list[Any] | None:
    """A running worker's answer (it has the library open and the model ready); None when
    none runs, or for a query with an image file in it, which this process reads itself."""
    from photoclip.core.query import parse_query
    from photoclip.core.searchservice import ask

    if any(term.image is not None for term in parse_query(query)):
        return None
    return ask(locations, query, options)


def _remember_textness(searcher: Any, locations: Locations) -> None:
    """Store a direction the search had to learn, so the next search finds it (the
    search itself reads the catalog read-only; a read-only data folder keeps nothing)."""
    from photoclip.core.catalog import Catalog
    from photoclip.core.textness import load_direction, save_direction

    direction = searcher.textness_direction()
    if load_direction(searcher.library.catalog, direction.model_key) is not None:
        return
    try:
        with Catalog.open(locations.catalog) as catalog:
            save_direction(catalog, direction)
    except KnownError as error:
        log.info("the textness direction is not kept: %s", error)


def _textness(text: str) -> float:
    from photoclip.core.query import check_scale

    try:
        return check_scale(float(text))
    except (ValueError, KnownError) as error:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number from -2 to 2") from error


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
        found = searcher.similar(args.path, SearchOptions(limit=args.n))
    _print_hits([_hit(result) for result in found], args.json)
    return 0


def _add_status(commands: Any) -> None:
    command = commands.add_parser("status", help="what is indexed, what failed and why")
    command.add_argument("--json", action="store_true", help="print the status as JSON")
    command.set_defaults(run=run_status)


def run_status(args: argparse.Namespace) -> int:
    from photoclip.core.library import Library

    locations, _ = _environment()
    if not locations.catalog.exists():
        status: dict[str, Any] = _empty_status()
    else:  # read-only: status works on a read-only or damaged data folder too
        with Library.open(locations, readonly=True) as library:
            status = _library_status(library)
    status.update(read_status(locations))
    if args.json:
        _print_json(status)
    else:
        _print_status(status)
    return 0


def _add_watch(commands: Any) -> None:
    command = commands.add_parser("watch", help="keep folders indexed as they change (Ctrl-C)")
    command.add_argument("paths", nargs="*", type=Path, metavar="PATH", help="folders to add")
    command.add_argument("--model", help="model profile; a new one re-embeds in the background")
    command.add_argument("--device", help="cuda, mps, cpu or auto (default: settings)")
    command.set_defaults(run=run_watch)


def run_watch(args: argparse.Namespace) -> int:
    from photoclip.core.library import recorded_profile
    from photoclip.core.profiles import resolve_profile
    from photoclip.core.worker import Worker, WorkerSettings, serve

    locations, settings = _environment()
    device = args.device or settings.device
    # As `index`: the library keeps its model; only --model switches it.
    profile = args.model or recorded_profile(locations) or settings.model
    worker = Worker(
        locations,
        lambda name: _watch_encoder(name, device, settings),
        resolve_profile(profile).name,
        WorkerSettings(
            batch_size=settings.batch_size, max_pixels=settings.max_megapixels * 1_000_000
        ),
        after_commit=_auto_tagging,
    )
    worker.subscribe(_WatchLine())
    with _run_marker(locations, "watch"):
        serve(worker, list(args.paths))
        if worker.failure is not None:  # kept as the run's reason for `status`
            raise KnownError(f"Watching stopped on an error: {worker.failure}")
    return 0


@contextmanager
def _run_marker(locations: Locations, command: str) -> Iterator[None]:
    """`status` tells of a run that did not finish (the worker writes its own catalog
    connection; this one holds only the marker)."""
    from photoclip.core.catalog import Catalog
    from photoclip.core.runs import recorded

    locations.ensure()
    with Catalog.open(locations.catalog) as catalog, recorded(catalog, command):
        yield


def _add_doctor(commands: Any) -> None:
    command = commands.add_parser(
        "doctor",
        help="check the installation, device and weights",
        description="Versions, the torch build, the device, folders and the model, without "
        "importing torch: the device is the one PhotoClip's last model load found (kept "
        "in the cache folder). --probe tries each device now (imports torch: seconds).",
    )
    command.add_argument("--model", help="the profile whose weights to check")
    command.add_argument(
        "--probe", action="store_true", help="try each device now (imports torch) and keep it"
    )
    command.add_argument("--json", action="store_true", help="print the report as JSON")
    command.set_defaults(run=run_doctor)


def run_doctor(args: argparse.Namespace) -> int:
    from photoclip.core.diagnostics import diagnose

    locations, settings = _environment()
    # The library's model first, as `status` shows it; --model asks about another.
    requested = args.model or settings.model
    lines = diagnose(
        locations, requested, settings.device, chosen=bool(args.model), fresh=args.probe
    )
    if args.json:
        _print_json(dict(lines))
        return 0
    for name, value in lines:
        print(f"{name:>18}: {value}")
    return 0


def _add_tags(commands: Any) -> None:
    command = commands.add_parser("tags", help="tag categories: list, add, edit, remove, ...")
    actions = command.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="the categories, labels and thresholds")
    add = actions.add_parser("add", help="create a category or add labels to one")
    add.add_argument("category")
    add.add_argument("labels", nargs="+", metavar="LABEL")
    add.add_argument("--multi", action="store_true", help="each label on its own threshold")
    add.add_argument("--counter", action="store_true", help="labels that never tag a photo")
    edit = actions.add_parser("edit", help="change a category, or one of its labels")
    edit.add_argument("category")
    edit.add_argument("label", nargs="?")
    edit.add_argument("--context", help='category: prompt context, e.g. "a type of pet"')
    edit.add_argument("--margin", type=_finite, help="single-choice lead over the runner-up")
    edit.add_argument("--kind", choices=("single", "multi"))
    edit.add_argument(
        "--other-words",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="category: also compete with other words of its labels' kind (on by default)",
    )
    edit.add_argument("--phrasing", action="append", help="label: an alternative phrasing")
    edit.add_argument("--threshold", type=_finite, help="label: your own threshold")
    edit.add_argument("--auto-threshold", action="store_true", help="label: calibrated again")
    edit.add_argument("--counter", action=argparse.BooleanOptionalAction, default=None)
    remove = actions.add_parser("remove", help="remove a category, or some of its labels")
    remove.add_argument("category")
    remove.add_argument("labels", nargs="*", metavar="LABEL")
    for name in ("import", "export"):
        io = actions.add_parser(name, help=f"{name} categories as TOML or JSON (by suffix)")
        io.add_argument("file", type=Path)
    calibration = actions.add_parser("calibration", help="each label's calibrated threshold")
    check = actions.add_parser("check", help="what each category does to the library")
    suggest = actions.add_parser(
        "suggest", help="the suggested categories, with how many photos each would tag"
    )
    suggest.add_argument("--add", nargs="*", metavar="CATEGORY", help="add them (all, or those)")
    for sub in (listing, add, edit, remove, actions.choices["import"], calibration, check, suggest):
        sub.add_argument("--json", action="store_true", help="print the result as JSON")
    for sub in (add, edit, remove, actions.choices["import"]):
        sub.add_argument("--no-retag", action="store_true", help="do not re-tag the library")
    command.set_defaults(run=run_tags)


def run_tags(args: argparse.Namespace) -> int:
    from photoclip.core import categories as cats
    from photoclip.core.tagstore import TagStore

    locations, _ = _environment()
    with _open_library(locations) as library:
        store = TagStore(library.catalog)
        if args.action == "check":
            _print_check(_tagger(library).check() if library.active_model else [], args.json)
            return 0
        if args.action == "suggest":
            _suggest(library, store, args)
            return 0
        if args.action == "export":
            cats.dump_categories(store.categories(), args.file)
            return 0
        changed = _edit_categories(store, args)
        if changed and not args.no_retag and library.active_model is not None:
            _retag(library, changed)
        _print_categories(store, library, args.json)
    return 0


def _edit_categories(store: Any, args: argparse.Namespace) -> list[str]:
    """Apply `tags add/edit/remove/import`; returns the categories that changed."""
    from photoclip.core import categories as cats

    if args.action == "import":
        found = cats.load_categories(args.file)
        for category in found:
            store.save_category(category)
        return [c.name for c in found]
    if args.action not in ("add", "edit", "remove"):
        return []
    category = store.category(args.category)
    if args.action == "add":
        new = cats.with_added_labels(
            category, args.category, args.labels, multi=args.multi, counter=args.counter
        )
        return [store.save_category(new).name]
    if category is None:
        raise KnownError(f"There is no tag category '{args.category}'. See: photoclip tags list")
    if args.action == "remove" and not args.labels:
        store.remove_category(category.name)
        return []
    store.save_category(_changed_category(category, args))
    return [category.name]


def _changed_category(category: Any, args: argparse.Namespace) -> Any:
    from dataclasses import replace

    from photoclip.core import categories as cats

    if args.action == "remove":
        return cats.without_labels(category, args.labels)
    if args.label:
        category = cats.with_edited_label(
            category,
            args.label,
            phrasings=args.phrasing,
            threshold=args.threshold,
            auto_threshold=args.auto_threshold,
            counter=args.counter,
        )
    changes = {"context": args.context, "margin": args.margin, "kind": args.kind,
               "other_words": args.other_words}  # fmt: skip
    return replace(category, **{k: v for k, v in changes.items() if v is not None})


def _print_categories(store: Any, library: Any, as_json: bool) -> None:
    from photoclip.core.tagging import calibration_warnings, others_for

    record = library.active_model
    calibrated = store.calibration(record.key) if record else {}
    rows = [_category_json(c, calibrated) for c in store.categories()]
    for row, category in zip(rows, store.categories(), strict=True):
        row["warnings"] = calibration_warnings(category, calibrated)
        found = others_for(category, record.key) if record else None
        row["other_words"] = {found.kind: found.names} if found else {}
    if as_json:
        _print_json({"categories": rows})
        return
    for row in rows:
        print(f"{row['name']} ({row['kind']}){': ' + row['context'] if row['context'] else ''}")
        for label in row["labels"]:
            threshold = label["threshold"]
            shown = "-" if threshold is None else f"{threshold:.3f} ({label['threshold_source']})"
            counter = "  [counter]" if label["counter"] else ""
            print(f"  {label['name']:<24} threshold {shown}{counter}")
        for kind, names in row["other_words"].items():
            print(f"  also compared with other {kind} (as 'none of these'): {', '.join(names)}")
        for warning in row["warnings"]:
            print(f"  warning: {warning}")


def _category_json(category: Any, calibrated: dict[int, Any]) -> dict[str, Any]:
    labels = []
    for label in category.labels:
        found = calibrated.get(label.id)
        threshold = label.threshold if label.threshold is not None else found and found.threshold
        labels.append(
            {
                "name": label.name,
                "phrasings": list(label.phrasings),
                "counter": label.counter,
                "threshold": threshold,
                "threshold_source": "user" if label.threshold is not None else "calibrated",
                "tag_rate": found.tag_rate if found else None,
                "calibrated_on": found.photos if found else None,
            }
        )
    keys = ("name", "kind", "context", "margin")
    return {**{k: getattr(category, k) for k in keys}, "labels": labels}


def _add_tag(commands: Any) -> None:
    command = commands.add_parser("tag", help="tag the library with the tag categories")
    command.add_argument("--category", action="append", help="only this category (repeatable)")
    command.add_argument("--explain", type=Path, metavar="PATH", help="why a photo got its tags")
    command.add_argument("--confirm", nargs=2, metavar=("PATH", "CATEGORY:LABEL"))
    command.add_argument("--reject", nargs=2, metavar=("PATH", "CATEGORY:LABEL"))
    command.add_argument("--undo", action="store_true", help="take back the last correction")
    command.add_argument("--json", action="store_true", help="print the result as JSON")
    command.set_defaults(run=run_tag)


def run_tag(args: argparse.Namespace) -> int:
    locations, _ = _environment()
    with _open_library(locations) as library:
        if library.active_model is None:
            raise KnownError("Nothing is indexed yet. Add a folder first: photoclip index FOLDER")
        tagger = _tagger(library)
        if args.explain:
            _print_explanation(tagger.explain(_photo_id(library, args.explain)), args.json)
            return 0
        changes = _corrections(library, tagger, args)
        # A correction re-tags its own category, and nothing else.
        results = [] if changes else tagger.retag(args.category)
        # Every photo's tags are read only for --json, which lists them.
        _print_tags(tagger.store.tags() if args.json else [], results, args.json, changes)
    return 0


def _corrections(library: Any, tagger: Any, args: argparse.Namespace) -> list[str]:
    """Apply --confirm, --reject and --undo; returns what each changed, in words."""
    said = []
    for verdict in ("confirm", "reject"):
        if getattr(args, verdict):
            path, tag = getattr(args, verdict)
            category, label = _tag_spec(tag)
            change = tagger.correct(_photo_id(library, Path(path)), category, label, verdict + "ed")
            said.append(f"{verdict}ed '{label}': {change.describe()}")
    if args.undo:
        undone = tagger.undo()
        if undone is None:
            raise KnownError("There is no correction to undo.")
        said.append(f"undid {undone[0]}: {undone[1].describe()}")
    return said


def _tagger(library: Any) -> Any:
    """The model is loaded only if a label's vector is not cached yet."""
    from photoclip.core.tagging import LazyClipTexts, Tagger

    _, settings = _environment()
    record = library.active_model
    load = cache(partial(_text_first_encoder, record, settings))
    return Tagger(library.catalog, LazyClipTexts(record.key, load))


def _auto_tagging(library: Any, encoder: Any) -> Callable[[list[int]], None]:
    """New photos are tagged as each batch commits."""
    from photoclip.core.tagging import ClipTexts, tag_photos

    texts = ClipTexts(encoder)
    return lambda ids: tag_photos(library.catalog, texts, ids)


def _retag(library: Any, categories: list[str]) -> None:
    _tagger(library).retag(categories)


def _photo_id(library: Any, path: Path) -> int:
    photo = library.catalog.photo_by_path(path.expanduser().resolve())
    if photo is None:
        raise KnownError(f"{path} is not in the library; index its folder first.")
    return int(photo.id)


def _tag_spec(text: str) -> tuple[str, str]:
    category, sep, label = text.partition(":")
    if not sep or not category or not label:
        raise KnownError(f"'{text}' is not CATEGORY:LABEL, e.g. Pets:dog")
    return category, label


def _tag_option(text: str) -> tuple[str, str]:
    try:
        return _tag_spec(text)
    except KnownError as error:
        raise argparse.ArgumentTypeError(str(error)) from error


def _print_tags(
    tags: list[Any], results: list[Any], as_json: bool, changes: Sequence[str] = ()
) -> None:
    if as_json:
        rows = [
            {
                "path": str(t.path),
                "category": t.category,
                "label": t.label,
                "score": round(t.score, 6),
                "source": t.source,
            }
            for t in tags
        ]
        summary = [
            {"category": r.category, "photos": r.photos, "tagged": r.tagged, "counts": r.counts,
             "warnings": r.warnings}
            for r in results
        ]  # fmt: skip
        _print_json({"tags": rows, "categories": summary, "changes": list(changes)})
        return
    for change in changes:
        print(change)
    for r in results:
        counts = ", ".join(f"{k} {v}" for k, v in r.counts.items() if v)
        print(f"{r.category}: {r.tagged} of {r.photos} photos tagged ({counts or 'none'})")
        for warning in r.warnings:
            print(f"  warning: {warning}")


def _print_explanation(explanations: list[Any], as_json: bool) -> None:
    if as_json:
        from dataclasses import asdict

        _print_json({"categories": [asdict(e) for e in explanations]})
        return
    for e in explanations:
        print(f"{e.category} ({e.kind}, margin {e.margin:g}, logit scale {e.logit_scale:.1f}):")
        for s in e.scores:
            mark = f"tagged ({s.source})" if s.tagged else s.reason
            counter = " [counter]" if s.counter else ""
            threshold = "-" if s.threshold is None else f"{s.threshold:.3f}"
            split = "" if s.split is None else f", library split {s.split:.3f}"
            print(
                f"  {s.label:<24} probability {s.probability:.3f}  threshold {threshold}"
                f"  (cosine {s.score:.3f}{split}){counter}  {mark}"
            )
        print(f"  {'none of these':<24} probability {e.background:.3f}")
        for note in e.notes:
            print(f"  {note}")


def _print_check(checks: list[Any], as_json: bool) -> None:
    if as_json:
        rows = [{"category": c.category, "photos": c.photos, "tagged": c.tagged,
                 "share": round(c.share, 4), "counts": c.counts, "warnings": c.warnings}
                for c in checks]  # fmt: skip
        _print_json({"categories": rows})
        return
    for c in checks:
        counts = ", ".join(f"{k} {v}" for k, v in c.counts.items())
        print(f"{c.category}: tags {c.share:.0%} of {c.photos} photos ({counts or 'no labels'})")
        for warning in c.warnings:
            print(f"  warning: {warning}")


def _suggest(library: Any, store: Any, args: argparse.Namespace) -> None:
    """Show the suggested categories with how many photos each would tag; add them only
    when asked (--add)."""
    from photoclip.core.categories import default_categories
    from photoclip.core.tagging import install_default_categories

    if args.add is not None:
        added = install_default_categories(store, args.add or None)
        if added and library.active_model is not None:
            _retag(library, added)
        _print_json({"added": added}) if args.json else print(
            f"added: {', '.join(added)}" if added else "nothing to add"
        )
        return
    tagger = _tagger(library) if library.active_model is not None else None
    have = {c.name.lower() for c in store.categories()}
    rows = []
    for category in default_categories():
        preview = tagger.preview(category) if tagger else None
        rows.append({"name": category.name, "installed": category.name.lower() in have,
                     "would_tag": preview.tagged if preview else None,
                     "photos": preview.photos if preview else 0})  # fmt: skip
    if args.json:
        _print_json({"suggested": rows})
        return
    for row in rows:
        would = "-" if row["would_tag"] is None else f"{row['would_tag']} of {row['photos']}"
        state = " (added)" if row["installed"] else ""
        print(f"{row['name']}{state}: would tag {would} photos")
    print("Add them: photoclip tags suggest --add [CATEGORY ...]")


def _add_albums(commands: Any) -> None:
    command = commands.add_parser("albums", help="virtual albums (sort rules album:NAME fill them)")
    command.add_argument("--json", action="store_true", help="print the albums as JSON")
    actions = command.add_subparsers(dest="action", metavar="ACTION")
    show = actions.add_parser("show", help="the photos in an album, one path a line")
    show.add_argument("name", metavar="NAME")
    show.add_argument("--json", action="store_true", default=argparse.SUPPRESS)
    command.set_defaults(run=run_albums, action=None)


def run_albums(args: argparse.Namespace) -> int:
    """Read-only: albums are listed and shown here, and made by `sort` rules."""
    from photoclip.core.albums import album_photos, albums
    from photoclip.core.library import Library

    locations, _ = _environment()
    if not locations.catalog.exists():  # nothing indexed yet: no albums (and no catalog made)
        if args.action == "show":
            raise KnownError(f"There is no album '{args.name}'. See: photoclip albums")
        return _print_albums([], args.json)
    with Library.open(locations, readonly=True) as library:
        if args.action == "show":
            return _print_album(args.name, album_photos(library.catalog, args.name), args.json)
        return _print_albums(albums(library.catalog), args.json)


def _print_albums(found: list[Any], as_json: bool) -> int:
    if as_json:
        _print_json({"albums": [{"name": a.name, "photos": a.photos} for a in found]})
        return 0
    for a in found:
        print(f"{a.name}: {a.photos} photo{'' if a.photos == 1 else 's'}")
    return 0


def _print_album(name: str, photos: list[Any], as_json: bool) -> int:
    if as_json:
        rows = [{"id": p.photo_id, "path": str(p.path)} for p in photos]
        _print_json({"album": name, "photos": rows})
        return 0
    for p in photos:
        print(p.path)
    return 0


def _add_sort(commands: Any) -> None:
    command = commands.add_parser("sort", help="sort photos by their tags: plan, apply, undo")
    step = command.add_mutually_exclusive_group(required=True)
    step.add_argument("--plan", action="store_true", help="show (and keep) what would go where")
    step.add_argument("--apply", action="store_true", help="carry out (or resume) the plan")
    step.add_argument("--undo", action="store_true", help="put everything back")
    command.add_argument(
        "--rule",
        action="append",
        default=[],
        metavar="CATEGORY:LABEL=DEST",
        help="DEST: album:NAME or a folder pattern with {category} {label} {year} {month}",
    )
    command.add_argument("--mode", default="copy", choices=("copy", "move", "hardlink", "symlink"))
    command.add_argument("--json", action="store_true", help="print the plan as JSON")
    command.set_defaults(run=run_sort)


def run_sort(args: argparse.Namespace) -> int:
    from photoclip.core.sorting import Rule, Sorter

    locations, _ = _environment()
    if args.plan and not args.rule:
        raise KnownError("Say what goes where: --rule 'Pets:dog=~/Pictures/{label}/{year}'")
    with _open_library(locations) as library:
        sorter = Sorter(library.catalog, locations.data / "sort")
        if args.plan:
            plan = sorter.plan([Rule.parse(text, args.mode) for text in args.rule])
        else:
            plan = sorter.apply() if args.apply else sorter.undo()
    if args.json:
        _print_json(plan.as_json())
        return 0
    if args.plan and not plan.steps:
        print("Nothing to sort: no photo has the tags these rules name.", file=sys.stderr)
    for s in plan.steps:
        print(f"{s.status:>8} {s.action:<8} {s.source} -> {s.destination} {s.note}".rstrip())
    for line in plan.conflicts + plan.problems:
        print(f"  note: {line}")
    return 0


def _launch_app(argv: list[str]) -> int:
    """No command: the desktop app (PySide6 is imported only here)."""
    from photoclip.gui.app import main as app_main

    return app_main(argv)


def _add_duplicates(commands: Any) -> None:
    command = commands.add_parser("duplicates", help="find near-duplicate photos")
    command.add_argument(
        "--threshold",
        type=_finite,
        help="cosine from which photos are compared (default 0.75; lower finds more)",
    )
    command.add_argument(
        "--json",
        action="store_true",
        help="print the groups as JSON, each with its pairs' kind and similarity",
    )
    action = command.add_mutually_exclusive_group()
    action.add_argument(
        "--trash",
        action="store_true",
        help="move each group's exact and near-exact copies to the system trash "
        "(crops, edits and similar shots stay)",
    )
    action.add_argument("--undo", action="store_true", help="take the last trashed batch back")
    command.add_argument("--yes", action="store_true", help="--trash without asking")
    command.set_defaults(run=run_duplicates)


def run_duplicates(args: argparse.Namespace) -> int:
    from photoclip.core.duplicates import DuplicateFinder

    locations, _ = _environment()
    if not locations.catalog.exists():
        raise KnownError("Nothing is indexed yet. Add a folder first: photoclip index FOLDER")
    with _open_library(locations) as library:
        if args.undo:
            return _undo_trash(library, locations)
        groups = DuplicateFinder(library, args.threshold).find()
        _print_groups(groups, args.json)
        if args.trash and groups:
            _trash_others(library, locations, groups, args.yes)
    return 0


def _print_groups(groups: list[Any], as_json: bool) -> None:
    if as_json:
        # One group a line, each by json's C encoder: indent=2 goes through its pure Python
        # one, 8.5 of 45 s for 16k groups (100k photos).
        lines = ",\n".join(json.dumps(g.as_json()) for g in groups)
        sys.stdout.write(f'{{"groups": [\n{lines}\n]}}\n' if groups else '{"groups": []}\n')
        return
    if not groups:
        print("No near-duplicate photos.")
    for group in groups:
        print(f"keep  {group.keep.path}")
        for photo in group.others:
            verb = "trash" if group.pre_ticked(photo) else "leave"
            match = group.why(photo)
            why = f"{match.kind}, similarity {match.similarity:.2f}" if match else "similar"
            print(f"{verb} {photo.path}  ({why})")


def _trash_others(library: Any, locations: Locations, groups: list[Any], yes: bool) -> None:
    """The list above was the preview; ask (or take --yes), then move the copies marked
    "trash" (exact and near-exact) and forget them."""
    from photoclip.core.trash import trash_photos

    others = [photo for group in groups for photo in group.others if group.pre_ticked(photo)]
    if not others:
        print("Nothing to move: no exact or near-exact copies.", file=sys.stderr)
        return
    if not yes:
        if not sys.stdin.isatty():
            raise KnownError("Add --yes to move photos to the trash without a question.")
        answer = input(f"Move {len(others)} photos to the trash? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("Nothing moved.", file=sys.stderr)
            return
    report = trash_photos(library, locations.data, [photo.path for photo in others])
    library.save_index()
    _print_trash_report("moved to the trash", report)


def _undo_trash(library: Any, locations: Locations) -> int:
    """Restore the last batch, then index the files again (their vectors are found by
    content, so the model rarely has to run)."""
    from photoclip.core.indexing import Indexer
    from photoclip.core.trash import Trash

    report = Trash(locations.data).undo()
    record = library.active_model
    if report.done and record is not None:
        _, settings = _environment()
        encoder = _lazy_encoder(library, record.profile, settings.device, settings)
        Indexer(library, encoder).index_files(list(report.done))
        library.save_index()
    _print_trash_report("restored", report)
    return 0


def _print_trash_report(verb: str, report: Any) -> None:
    print(f"{len(report.done)} photos {verb}.", file=sys.stderr)
    for path, reason in report.skipped:
        print(f"  skipped {path}: {reason}", file=sys.stderr)


# -- wiring: the CLI's composition root --------------------------------------------------------


def _start_log_file() -> Path | None:
    from photoclip.core.logfile import start_log_file

    return start_log_file(Locations.from_environment().cache)


def _environment() -> tuple[Locations, Settings]:
    locations = Locations.from_environment()
    return locations, Settings.load(locations.settings)


def _open_library(locations: Locations) -> Any:
    from photoclip.core.library import Library

    return Library.open(locations)


def _load_encoder(
    profile_name: str | None,
    device: str | None,
    settings: Settings,
    towers: frozenset[str] | None = None,
) -> Any:
    """The profile's model with both towers, or only `towers` (photoclip.core.towers)."""
    from photoclip.core.embedding import load_encoder
    from photoclip.core.profiles import resolve_profile
    from photoclip.core.towers import BOTH

    profile = resolve_profile(profile_name)
    locations, _ = _environment()
    with _ProgressBar(unit="B", title="Downloading the model's weights (once)...") as bar:
        encoder = load_encoder(
            profile,
            device=device,
            cache=_weights_folder(locations),
            progress=bar.advance,
            threads=settings.threads or None,
            towers=towers or BOTH,
        )
    if profile not in _loaded_profiles:
        _loaded_profiles.append(profile)
    return encoder


def _watch_encoder(profile_name: str | None, device: str | None, settings: Settings) -> Any:
    """`watch`'s model, as the window's model process serves it: the towers' exports where
    they serve (no torch; embedding.exported_towers), else the model with both towers."""
    from photoclip.core.embedding import exported_towers
    from photoclip.core.profiles import resolve_profile

    cache = Locations.from_environment().cache
    profile = resolve_profile(profile_name)
    exported = exported_towers(profile, device, cache, settings.threads or None)
    return exported or _load_encoder(profile_name, device, settings)


def _image_first(profile_name: str | None, device: str | None, settings: Settings) -> Any:
    """Indexing's model: the image tower alone, from its ONNX export when it runs on the
    CPU (no torch at all), else built with torch; texts (auto-tagging's new labels) from
    the text export or a text tower built when they come (embedding.ImageFirst)."""
    from photoclip.core.embedding import ImageFirst
    from photoclip.core.towers import IMAGE

    image = _image_export(profile_name, device, settings)
    image = image or _load_encoder(profile_name, device, settings, frozenset({IMAGE}))
    return ImageFirst(image, partial(_text_side, image.profile, device, settings))


def _image_export(profile_name: str | None, device: str | None, settings: Settings) -> Any:
    """The image tower's export (photoclip.core.imageexport), where torch would run the
    model on the CPU too; None where there is none, or a GPU would run it."""
    from photoclip.core.imageexport import image_export_on_cpu
    from photoclip.core.profiles import resolve_profile

    cache = Locations.from_environment().cache
    profile = resolve_profile(profile_name)
    return image_export_on_cpu(cache, profile, device, settings.threads or None)


def _text_side(profile: Any, device: str | None, settings: Settings) -> Any:
    from photoclip.core.textexport import open_export
    from photoclip.core.towers import TEXT

    text = open_export(Locations.from_environment().cache, profile.key)
    return text or _load_encoder(profile.name, device, settings, frozenset({TEXT}))


#: Profiles this command loaded with torch: their towers are exported when it ends.
_loaded_profiles: list[Any] = []


def _export_loaded_models() -> None:
    """Export the towers of each model this command loaded, in the background, once per
    model (photoclip.core.exports), so that the next cold search and the next indexing on
    the CPU need no torch.
    Only now: the export loads the model again, which must not slow the command itself."""
    if not _loaded_profiles:
        return  # (and the exports' imports, numpy among them, stay out of this process)
    from photoclip.core.exports import start_export

    while _loaded_profiles:
        start_export(_loaded_profiles.pop(), Locations.from_environment().cache)


def _text_first_encoder(record: Any, settings: Settings) -> Any:
    """The library's model, loaded with torch only for what its ONNX exports (if it has
    usable ones) cannot do: a text search or a label edit then imports no torch, nor does
    an image term where the model runs on the CPU."""
    from photoclip.core.embedding import LazyEncoder, LazyText
    from photoclip.core.errors import ModelError
    from photoclip.core.profiles import resolve_profile
    from photoclip.core.textexport import open_export
    from photoclip.core.towers import IMAGE, TEXT

    def loader(towers: frozenset[str]) -> Callable[[], Any]:
        return cache(partial(_load_encoder, record.profile, settings.device, settings, towers))

    try:
        profile = resolve_profile(record.profile)
    except ModelError:  # loading says why, in the user's words
        return loader(frozenset({IMAGE}))()
    # Without an export, torch builds the text tower alone; an image term takes the
    # image tower as indexing does (its export on the CPU, else torch builds it alone).
    text: Any = open_export(Locations.from_environment().cache, record.key)
    text = text or LazyText(profile, loader(frozenset({TEXT})))
    image = cache(partial(_image_first, record.profile, settings.device, settings))
    return LazyEncoder(profile, image, record, text=text)


def _lazy_encoder(
    library: Any, profile_name: str | None, device: str | None, settings: Settings
) -> Any:
    """The profile's encoder, built only when a photo needs embedding (torch and the model
    cost seconds; a rescan that finds nothing new needs neither), and then while the
    first photos are decoded (the hint: its input size and vector size, read without
    torch)."""
    from photoclip.core.embedding import LazyEncoder, model_hint
    from photoclip.core.profiles import resolve_profile

    profile = resolve_profile(profile_name)
    load = partial(_image_first, profile_name, device, settings)
    record = library.catalog.model(profile.key)
    return LazyEncoder(profile, load, record, hint=model_hint(profile))


def _weights_folder(locations: Locations) -> Path:
    """Made if it can be (a read-only cache still serves weights that are there)."""
    try:
        locations.weights.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        log.info("cannot make %s: %s", locations.weights, error)
    return locations.weights


class _searcher:
    """Context manager: a Searcher over the library, loading the library's own model."""

    def __enter__(self) -> Any:
        from photoclip.core.library import Library
        from photoclip.core.search import Searcher

        locations, settings = _environment()
        if not locations.catalog.exists():
            raise KnownError("Nothing is indexed yet. Add a folder first: photoclip index FOLDER")
        self.library = Library.open(locations, readonly=True)  # a search writes nothing
        record = self.library.active_model
        if record is None:
            raise KnownError("Nothing is indexed yet. Add a folder first: photoclip index FOLDER")
        load: Callable[[], Any] = cache(lambda: _text_first_encoder(record, settings))
        return Searcher(self.library, load)

    def __exit__(self, *exc: object) -> None:
        self.library.close()


# -- output ------------------------------------------------------------------------------------


def _add_result_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("-n", type=_count, default=20, help="how many results (default 20)")
    command.add_argument("--json", action="store_true", help="print the results as JSON")


def _hit(result: Any) -> Any:
    from photoclip.core.searchservice import Hit

    return Hit(result.photo.path, result.score, result.photo.id)


def _print_hits(hits: list[Any], as_json: bool) -> None:
    if as_json:
        rows = [{"path": str(h.path), "score": round(h.score, 6), "id": h.id} for h in hits]
        _print_json({"results": rows})
        return
    if not hits:
        print("No matching photos.")
    for hit in hits:
        print(f"{hit.score:.3f}  {hit.path}")


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
        "unfinished_runs": [],
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
        "unfinished_runs": _unfinished_runs(catalog),
    }


def _unfinished_runs(catalog: Any) -> list[dict[str, Any]]:
    from photoclip.core.runs import unfinished

    return [
        {"command": r.command, "pid": r.pid, "started_at": r.started_at, "reason": r.reason}
        for r in unfinished(catalog)
    ]


def _print_status(status: dict[str, Any]) -> None:
    print(f"{status['photos']} photos: {status['indexed']} indexed, {status['failed']} failed")
    print(f"model: {status['model'] or 'none yet'}   device: {status['device'] or '-'}")
    print(f"index: {status['index_size']} vectors ({status['index_health']})")
    print(f"worker: {status['worker']}   queue: {status['queue']}")
    for root in status["roots"]:
        print(f"folder: {root}")
    for run in status["unfinished_runs"]:
        started = datetime.fromtimestamp(run["started_at"]).strftime("%Y-%m-%d %H:%M:%S")
        why = run["reason"] or "killed, or the computer stopped; no reason was recorded"
        print(f"stopped early: `{run['command']}` started {started} did not finish ({why})")
    for failure in status["failures"]:
        print(f"  failed {failure['path']}: {failure['reason']}")


def _print_json(data: dict[str, Any]) -> None:
    json.dump(data, sys.stdout, indent=2)
    sys.stdout.write("\n")


def _finite(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"'{text}' is not a number")
    return value


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number of 1 or more")
    return value


def _date(text: str) -> float:
    try:
        return datetime.fromisoformat(text).timestamp()
    except (ValueError, OverflowError, OSError) as error:
        raise argparse.ArgumentTypeError(f"'{text}' is not a date like 2024-07-31") from error


class _WatchLine:
    """`photoclip watch`'s live line on stderr; lasting news (a root offline) on lines."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()

    def __call__(self, event: Any) -> None:
        from photoclip.core import worker as w

        if isinstance(event, w.JobProgress):
            done, total, rate = event.progress.done, event.progress.total, event.progress.rate
            self._show(f"{event.job}: {done}/{total} photos, {rate:.1f}/s")
        elif isinstance(event, w.StateChanged):
            self._show(f"{event.state}, {event.queue} waiting")
        elif isinstance(event, w.RootStatusChanged):
            self._say(f"{event.path} is {'back' if event.online else 'offline; photos kept'}")
        elif isinstance(event, w.WatchDegraded):
            self._say(event.reason)
        elif isinstance(event, w.JobFailed):
            self._say(f"{event.job} failed: {event.message}")

    def _show(self, text: str) -> None:
        if self.tty:
            sys.stderr.write(f"\r\033[K{text}")
            sys.stderr.flush()

    def _say(self, text: str) -> None:
        sys.stderr.write(("\r\033[K" if self.tty else "") + f"photoclip: {text}\n")
        sys.stderr.flush()


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
