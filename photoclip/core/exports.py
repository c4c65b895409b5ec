"""A model's towers as ONNX files, made once per model key in the background; what the
text export (photoclip.core.textexport) and the image export (photoclip.core.imageexport)
share: where they live, how one is made, checked, opened or refused, and the background
process that makes them.

Importing torch and open_clip and building the model cost a one-shot command seconds and
most of its memory; onnxruntime with one tower's export needs neither. The exports are
made in a background process (`start_export`), after a command that loaded the model with
torch ends (the worker: once it is idle): exporting a ViT-B/32 tower takes 30 s or more
and 1.8 GB at its peak, which must land neither on the command that asked nor on an
indexing run's time and memory. A failed export costs nothing: without one, torch answers
(and the failure is kept per tower, so it is not tried at every load).

Each export is made and checked against torch in a folder of its own, then moved beside
the others; its description (JSON, written last) is what makes it count. It is checked
again each time it is opened (vectors of a few fixed inputs against torch's, kept in the
description): an export that fails is thrown away with a log line saying why, and torch
answers instead.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from photoclip.core.device import last_device
from photoclip.core.footprint import one_model_per_process
from photoclip.core.internal import command_line
from photoclip.core.towers import IMAGE, TEXT

if TYPE_CHECKING:
    from photoclip.core.profiles import ModelProfile

log = logging.getLogger(__name__)

#: "0" turns the background export off (the test suite does, but for its own tests).
EXPORT_ENV = "PHOTOCLIP_TEXT_EXPORT"
MIN_COSINE = 0.9999

T = TypeVar("T")


class ExportError(Exception):
    """A model's tower cannot be exported, or its export is not usable."""


@dataclass(frozen=True)
class ExportKind:
    """One tower's exports: the folder in the cache folder that holds them, and the format
    (bumped when the graph or the description change: an older export is made again)."""

    tower: str
    folder: str
    format: int

    def paths(self, cache: Path, model_key: str) -> tuple[Path, Path]:
        """(model.onnx, info.json) of a model key."""
        stem = hashlib.blake2b(model_key.encode(), digest_size=10).hexdigest()
        folder = cache / self.folder
        return folder / f"{stem}.onnx", folder / f"{stem}.json"

    def failure(self, onnx_file: Path) -> Path:
        """Why the model's export failed: kept, so that every later load does not try again."""
        return onnx_file.with_name(f"{onnx_file.stem}.failed-{self.format}.txt")

    def lock(self, onnx_file: Path) -> Path:
        return onnx_file.with_suffix(".lock")


@dataclass(frozen=True)
class ExportFacts:
    """What every export's description holds (as JSON beside the .onnx file, written
    last: its presence commits); each tower's description adds its own fields."""

    format: int
    model_key: str
    #: sizes of the .onnx file and of its weights file
    onnx_bytes: int
    weights_bytes: int
    #: the lowest cosine to torch over the tower's probes, measured at export
    min_cosine: float
    #: torch's vectors of the tower's checks, compared at every open
    checks: list[list[float]]


def draft_facts(kind: ExportKind, model_key: str, onnx_file: Path) -> dict[str, Any]:
    """ExportFacts' fields of a graph just written, before its check against torch."""
    onnx_bytes, weights_bytes = onnx_file.stat().st_size, weights_path(onnx_file).stat().st_size
    return {"format": kind.format, "model_key": model_key, "onnx_bytes": onnx_bytes,
            "weights_bytes": weights_bytes, "min_cosine": 0.0, "checks": []}  # fmt: skip


TEXT_EXPORT = ExportKind(TEXT, "text-onnx", 1)
IMAGE_EXPORT = ExportKind(IMAGE, "image-onnx", 1)
#: In the order the background process makes them: cold searches first.
KINDS = (TEXT_EXPORT, IMAGE_EXPORT)


def weights_path(onnx_file: Path) -> Path:
    """The graph's weights, apart from it: onnxruntime maps such a file into memory instead
    of parsing it (measured for ViT-B/32's text tower: a session in 0.5 s and 217 MB,
    against 1.4 s and 408 MB with the weights inside the .onnx file)."""
    return onnx_file.with_name(f"{onnx_file.name}.data")


# -- using an export (no torch) ----------------------------------------------------------------


def open_checked(
    kind: ExportKind, cache: Path, model_key: str, opened: Callable[[Path, dict[str, Any]], T]
) -> T | None:
    """`opened(onnx_file, description)` (its fields, read_info's) if the model has an
    export of this kind that it accepts; else None, with the reason logged, and a refused
    export thrown away (the next load makes it again)."""
    onnx_file, info_file = kind.paths(cache, model_key)
    if not info_file.exists():
        log.info("no %s export for %s yet: torch answers", kind.tower, model_key)
        return None
    try:
        return opened(onnx_file, read_info(info_file, kind, model_key))
    except ExportError as error:
        log.warning("the %s export %s is not used (torch answers instead): %s",
                    kind.tower, onnx_file, error)  # fmt: skip
        discard(onnx_file, weights_path(onnx_file), info_file)
        return None


def discard(*files: Path) -> None:
    for file in files:
        with contextlib.suppress(OSError):  # a read-only cache keeps it; torch answers
            file.unlink(missing_ok=True)


def read_info(info_file: Path, kind: ExportKind, model_key: str) -> dict[str, Any]:
    """The description's fields, if it is this kind's current format for this model."""
    try:
        info = json.loads(info_file.read_text(encoding="utf-8"))
        made_for = (info["format"], info["model_key"])
    except (OSError, ValueError, TypeError, KeyError) as error:
        raise ExportError(f"its description {info_file.name} is unreadable ({error})") from error
    if made_for != (kind.format, model_key):
        raise ExportError(f"it is stale: made for {made_for[1]}, format {made_for[0]}")
    return dict(info)


def described(kind: type[T], fields: dict[str, Any]) -> T:
    """The description as its dataclass; ExportError if its fields are not that class's."""
    try:
        return kind(**fields)
    except (TypeError, ValueError) as error:
        raise ExportError(f"its description is unreadable ({error})") from error


def checked_side(
    onnx_file: Path,
    info: ExportFacts,
    side: Callable[[Any], T],
    vectors: Callable[[T], np.ndarray],
    threads: int | None = None,
) -> T:
    """`side(session)` of an export whose files are as `info` (its description) says and
    whose `vectors` of the side are torch's kept in `info.checks`; else ExportError."""
    check_sizes(onnx_file, info.onnx_bytes, info.weights_bytes)
    with runtime_errors():
        made = side(session(onnx_file, threads))
        found = vectors(made)
    agreement(found, np.asarray(info.checks, dtype=np.float32))
    return made


def check_sizes(onnx_file: Path, onnx_bytes: int, weights_bytes: int) -> None:
    """Both files there, with the sizes they were made with."""
    for file, size in {onnx_file: onnx_bytes, weights_path(onnx_file): weights_bytes}.items():
        try:
            found = file.stat().st_size
        except OSError as error:
            raise ExportError(f"it cannot be read ({error})") from error
        if found != size:
            raise ExportError(f"{file.name} has {found} bytes, not the {size} it was made with")


@contextlib.contextmanager
def runtime_errors() -> Iterator[None]:
    """onnxruntime's own errors (a corrupt file, a wrong graph) as ExportErrors."""
    try:
        yield
    except ExportError:
        raise
    except Exception as error:
        raise ExportError(f"onnxruntime cannot run it ({type(error).__name__}: {error})") from error


def session(onnx_file: Path, threads: int | None = None) -> Any:
    """An onnxruntime session on the CPU, with `threads` intra-op threads (None: its default,
    one per core). Its threads sleep when idle instead of spinning: indexing's decoding
    threads need those cores between batches."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3  # errors only: its warnings are about graph details
    if threads:
        options.intra_op_num_threads = threads
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return onnxruntime.InferenceSession(str(onnx_file), options, providers=["CPUExecutionProvider"])


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.linalg.norm(a, axis=-1, keepdims=True)
    b = b / np.linalg.norm(b, axis=-1, keepdims=True)
    return np.sum(a * b, axis=-1)


def agreement(ours: np.ndarray, torchs: np.ndarray) -> float:
    """The lowest cosine of the export's vectors to torch's; ExportError under MIN_COSINE."""
    lowest = cosines(ours, torchs).min()
    if not lowest >= MIN_COSINE:  # (NaN too: garbage weights give NaN)
        raise ExportError(f"its vectors differ from torch's (cosine {lowest:.6f})")
    return float(lowest)


# -- making an export (torch) ------------------------------------------------------------------


def check_exportable(encoder: Any) -> None:
    """What every export needs of the loaded model (a LocalEncoder)."""
    if encoder.profile.random_weights:
        raise ExportError("random weights differ at every load; an export would be stale")
    if encoder.device != "cpu":  # (the background export loads it there, in float32)
        raise ExportError(f"it runs on {encoder.device}; the export needs it on the CPU")


def release_weights(encoder: Any) -> None:
    """Free a LocalEncoder's weights (it cannot embed after this): before the check loads
    the export's own copy of them into onnxruntime, where the two copies made the export
    process's peak (ViT-B-32: 1.89 GB before, 1.80 GB since; the export's graph keeps some
    of the weights alive: onnxscript's rewrite rules hold the last graph they matched)."""
    import gc

    from photoclip.core.towers import drop_others

    drop_others(encoder.model, frozenset())
    gc.collect()


def save_export(
    kind: ExportKind,
    cache: Path,
    model_key: str,
    write: Callable[[Path], None],
    verified: Callable[[Path], Any],
) -> Any:
    """`write(draft)` the graph, `verified(draft)` its description (a dataclass; ExportError
    if it is not torch's), then put both where `kind.paths` says, the description last."""
    onnx_file, info_file = kind.paths(cache, model_key)
    onnx_file.parent.mkdir(parents=True, exist_ok=True)
    # Made under the final names in a folder of its own (the .onnx file names its weights
    # file), then moved beside the others.
    with tempfile.TemporaryDirectory(prefix="export-", dir=onnx_file.parent) as folder:
        draft = Path(folder) / onnx_file.name
        write(draft)
        info = verified(draft)
        os.replace(weights_path(draft), weights_path(onnx_file))
        os.replace(draft, onnx_file)
    write_atomically(info_file, json.dumps(asdict(info)))
    return info


def write_onnx(graph: Any, example: Any, name: str, dims: dict[int, Any], path: Path) -> None:
    """torch.onnx's dynamo exporter, input `name` with the dynamic `dims`, the weights in
    a file of their own (weights_path). Dynamo, because it keeps the dimensions dynamic;
    the TorchScript exporter bakes them into reshapes (measured on the text tower: any
    other length fails in onnxruntime)."""
    import torch

    with torch.no_grad(), contextlib.redirect_stdout(sys.stderr):  # its progress lines
        program = torch.onnx.export(
            graph, (example,), dynamo=True, input_names=[name], output_names=["vectors"],
            dynamic_shapes=(dims,), verbose=False,
        )  # fmt: skip
        assert program is not None  # (None only when exporting to a file name)
        program.save(str(path), external_data=True)  # the weights: path + ".data"


def write_atomically(path: Path, text: str) -> None:
    temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


# -- in the background -------------------------------------------------------------------------


def start_export(profile: ModelProfile, cache: Path) -> bool:
    """Export the profile's towers that have no export yet in a background process, unless
    each is there, being made, or failed before; returns whether one was started.

    The process outlives the command (a search prints its results and exits meanwhile) and
    runs at low priority; it loads the model itself, on the CPU, with one thread."""
    if os.environ.get(EXPORT_ENV) == "0" or profile.random_weights:
        return False
    wanted = _wanted(profile, cache)
    if not wanted:
        return False
    # (`python -m` from source; the app's own executable in a frozen app)
    command = command_line("export", profile.name, str(cache))
    try:
        for kind in wanted:
            kind.paths(cache, profile.key)[0].parent.mkdir(parents=True, exist_ok=True)
        child = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, start_new_session=True, close_fds=True,
        )  # fmt: skip
        for kind in wanted:  # a second caller waits
            write_atomically(kind.lock(kind.paths(cache, profile.key)[0]), str(child.pid))
    except OSError as error:
        log.info("the export could not start: %s", error)
        return False
    log.info("exporting the %s tower(s) of %s in the background",
             "+".join(kind.tower for kind in wanted), profile.key)  # fmt: skip
    return True


def _wanted(profile: ModelProfile, cache: Path) -> list[ExportKind]:
    """The kinds with no export, no kept failure, and no live process making them."""
    wanted = []
    for kind in KINDS:
        onnx_file, info_file = kind.paths(cache, profile.key)
        done = info_file.exists() or kind.failure(onnx_file).exists()
        if not done and not locked(kind.lock(onnx_file)) and _useful(kind, cache):
            wanted.append(kind)
    return wanted


def _useful(kind: ExportKind, cache: Path) -> bool:
    """The image export serves indexing on the CPU alone: where the model's last load
    found a GPU, it would cost a background export and the tower's size on disk (350 MB
    for ViT-B-32, 1.2 GB for ViT-L-14) for nothing."""
    return kind is not IMAGE_EXPORT or last_device(cache) == "cpu"


def export_state(profile: ModelProfile, cache: Path) -> str:
    """In words, for `photoclip doctor`: whether cold text searches (the text export) and
    indexing (the image export) of this model run without torch, and if not, why not and
    what happens next. Reads files only."""
    if profile.random_weights:
        return "none (a model with random weights is never exported)"
    return "; ".join(_state(kind, cache, profile.key) for kind in KINDS)


#: What each export spares torch: (with it, without it)
_SPARED = {
    TEXT_EXPORT.tower: ("text searches start without torch", "text searches use torch"),
    IMAGE_EXPORT.tower: ("indexing on the CPU runs without torch", "indexing uses torch"),
}


def _state(kind: ExportKind, cache: Path, model_key: str) -> str:
    onnx_file, info_file = kind.paths(cache, model_key)
    spared, torch = _SPARED[kind.tower]
    if info_file.exists() and onnx_file.exists():
        return f"{kind.tower}: present, {spared} ({onnx_file})"
    failed = kind.failure(onnx_file)
    if failed.exists():
        reason = failed.read_text(errors="replace").strip().splitlines()[:1]
        return f"{kind.tower}: failed ({reason[0] if reason else 'no reason kept'}), {torch}"
    if os.environ.get(EXPORT_ENV) == "0":
        return f"{kind.tower}: off ({EXPORT_ENV}=0), {torch}"
    if locked(kind.lock(onnx_file)):
        return f"{kind.tower}: being made in the background, {torch} until it is done"
    if not _useful(kind, cache):
        ran = last_device(cache) or "a device not probed yet"
        return f"{kind.tower}: not made (the model's last load ran on {ran}), {torch}"
    return f"{kind.tower}: not made yet (made in the background once the model next loads), {torch}"


def locked(lock: Path) -> bool:
    """Whether another live process holds the lock (a dead one's lock is taken over)."""
    from photoclip.core.workerstatus import process_alive

    try:
        holder = int(lock.read_text(encoding="ascii"))
    except (OSError, ValueError):
        return False
    return holder != os.getpid() and process_alive(holder)


@contextlib.contextmanager
def holding(lock: Path) -> Iterator[None]:
    write_atomically(lock, str(os.getpid()))
    try:
        yield
    finally:
        lock.unlink(missing_ok=True)


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m photoclip.core.exports PROFILE CACHE`: the background export of each
    tower with none yet (in a frozen app `PhotoClip --photoclip-internal export PROFILE
    CACHE`). Exit code 1 when one failed."""
    from photoclip.core.logfile import start_log_file
    from photoclip.core.profiles import resolve_profile

    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 2:
        print("usage: python -m photoclip.core.exports PROFILE CACHE", file=sys.stderr)
        return 2
    name, folder = args
    cache = Path(folder)
    start_log_file(cache)
    for chatty in ("onnx_ir", "onnxscript", "torch.onnx"):  # a line per graph pass
        logging.getLogger(chatty).setLevel(logging.WARNING)
    with contextlib.suppress(OSError, AttributeError):
        os.nice(10)  # a background job: the user's commands go first
    profile = resolve_profile(name)
    results = [_export_tower(kind, profile, cache) for kind in _wanted(profile, cache)]
    return 0 if all(results) else 1


def _export_tower(kind: ExportKind, profile: ModelProfile, cache: Path) -> bool:
    """Load the model with this tower alone (the other's weights never load), export it;
    a failure is kept in words. Returns whether it was exported."""
    from photoclip.core.embedding import load_encoder

    onnx_file = kind.paths(cache, profile.key)[0]
    try:
        onnx_file.parent.mkdir(parents=True, exist_ok=True)
        with holding(kind.lock(onnx_file)):
            towers = frozenset({kind.tower})
            encoder = load_encoder(
                profile, "cpu", cache / "weights", threads=1, towers=towers, keep_probe=False
            )
            _exporter(kind)(encoder, cache, last_use=True)
    except Exception as error:  # any failure only means that torch answers
        log.warning("the %s tower of %s was not exported: %s", kind.tower, profile.key, error,
                    exc_info=not isinstance(error, ExportError))  # fmt: skip
        with contextlib.suppress(OSError):
            kind.failure(onnx_file).write_text(f"{type(error).__name__}: {error}\n")
        return False
    return True


def _exporter(kind: ExportKind) -> Callable[..., Any]:
    if kind is TEXT_EXPORT:
        from photoclip.core.textexport import export_text

        return export_text
    from photoclip.core.imageexport import export_image

    return export_image


if __name__ == "__main__":
    one_model_per_process()  # (photoclip.core.internal does the same in a frozen app)
    sys.exit(main())
