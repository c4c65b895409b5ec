"""The active model's text tower as ONNX: cold text searches and label edits without torch.

Importing torch and open_clip and building the model cost a cold `photoclip search` 6-9 s
and about 1.4 GB; onnxruntime with the text tower alone answers in a fraction of that. The
export is made once per model key, in a background process (`start_export`), after a
command that loaded the model with torch ends (the worker: once it is idle): exporting a
ViT-B/32 text tower takes 30 s or more and 2 GB at its peak, which must land neither on the
command that asked nor on an indexing run's time and memory. A failed export costs nothing:
without one, torch answers (and the failure is kept, so it is not tried at every load).

The graph is the trimmed text path of photoclip.core.texttower (token embedding through the
final projection, normalised) with the batch and the sequence length dynamic, so that a
query runs on the positions it uses. A bidirectional open_clip tower (MobileCLIP2's), which
trimming would change, is exported whole and runs on the full context (FULL). torch.onnx's
dynamo exporter is used because it keeps both dynamic; the TorchScript exporter bakes them
into the attention's reshapes (measured: any other length fails in onnxruntime), which
would force all 77 positions on every query.

Each export is checked against torch when made (cosine >= MIN_COSINE on PROBES, and equal
token ids from photoclip.core.tokenizer), and again each time it is opened (its vectors of
CHECKS against torch's, kept beside it): an export that fails either is refused with a log
line saying why, and torch answers instead.
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
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from photoclip.core.internal import command_line
from photoclip.core.tokenizer import ClipTokenizer

if TYPE_CHECKING:
    from photoclip.core.embedding import LocalEncoder
    from photoclip.core.profiles import ModelProfile

log = logging.getLogger(__name__)

FOLDER = "text-onnx"
#: "0" turns the background export off (the test suite does, but for its own tests).
EXPORT_ENV = "PHOTOCLIP_TEXT_EXPORT"
#: Bumped when the graph or the metadata change: an older export is then made again.
FORMAT = 1
MIN_COSINE = 0.9999
#: The pool type recorded for a tower that runs on the whole context, untrimmed.
FULL = "full context"
#: The fixed prompt set of the export's check: short and long, punctuation, unicode, and
#: a text over the context length.
PROBES = (
    "a dog",
    "a photo of a red circle on a white table, seen from above",
    "beach + sunset - people",
    "café crème brûlée",
    "東京の夜景",
    "x",
    "a photo of " + "many " * 90 + "words",
)
#: Embedded again at each open and compared with torch's vectors stored at export: a file
#: damaged or swapped since is refused (one short inference, not a hash of 250 MB).
CHECKS = ("a dog", "a photo of a red circle")


class ExportError(Exception):
    """The model's text tower cannot be exported, or its export is not usable."""


@dataclass(frozen=True)
class ExportInfo:
    """What is kept beside the .onnx file (as JSON, written last: its presence commits)."""

    format: int
    model_key: str
    context_length: int
    pool_type: str
    eos_id: int | None
    dim: int
    logit_scale: float
    #: sizes of the .onnx file and of its weights file
    onnx_bytes: int
    weights_bytes: int
    #: the lowest cosine to torch over PROBES, measured at export
    min_cosine: float
    #: torch's vectors of CHECKS
    checks: list[list[float]]


def export_paths(cache: Path, model_key: str) -> tuple[Path, Path]:
    """(model.onnx, info.json) of a model key, in the cache folder."""
    stem = hashlib.blake2b(model_key.encode(), digest_size=10).hexdigest()
    folder = cache / FOLDER
    return folder / f"{stem}.onnx", folder / f"{stem}.json"


def weights_path(onnx_file: Path) -> Path:
    """The graph's weights, apart from it: onnxruntime maps such a file into memory instead
    of parsing it (measured for ViT-B/32: a session in 0.5 s and 217 MB, against 1.4 s and
    408 MB with the weights inside the .onnx file)."""
    return onnx_file.with_name(f"{onnx_file.name}.data")


def failure_path(onnx_file: Path) -> Path:
    """Why the model's export failed: kept, so that every later load does not try again."""
    return onnx_file.with_name(f"{onnx_file.stem}.failed-{FORMAT}.txt")


# -- using an export (no torch) ----------------------------------------------------------------


class OnnxText:
    """The text side of an `Encoder`, from an export: encode_texts and embed_prompts."""

    def __init__(self, session: Any, info: ExportInfo) -> None:
        self.session, self.info = session, info
        self.tokenizer = ClipTokenizer(info.context_length)

    @property
    def model_key(self) -> str:
        return self.info.model_key

    @property
    def dim(self) -> int:
        return self.info.dim

    @property
    def logit_scale(self) -> float:
        return self.info.logit_scale

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        tokens = self.tokenizer(list(texts))
        tokens = tokens[:, : pooled_length(tokens, self.info.pool_type, self.info.eos_id)]
        (vectors,) = self.session.run(None, {"tokens": tokens})
        return np.asarray(vectors, dtype=np.float32)

    def embed_prompts(self, classnames: Sequence[str], templates: Sequence[str]) -> np.ndarray:
        """open_clip's build_zero_shot_classifier: each class's templates, normalised,
        averaged and normalised again; one row per class."""
        rows = []
        for name in classnames:
            vectors = self.encode_texts([template.format(name) for template in templates])
            mean = vectors.mean(axis=0)
            rows.append(mean / np.linalg.norm(mean))
        return np.stack(rows).astype(np.float32)


def pooled_length(tokens: np.ndarray, pool_type: str, eos_id: int | None) -> int:
    """texttower.CausalTextTower.pooled_length on numpy tokens (all of them for FULL)."""
    if pool_type == FULL:
        return int(tokens.shape[1])
    if pool_type == "first":
        return 1
    if pool_type == "eos" and eos_id is not None:
        return int((tokens == eos_id).argmax(axis=-1).max()) + 1
    return int(tokens.argmax(axis=-1).max()) + 1


def open_export(cache: Path, model_key: str) -> OnnxText | None:
    """The model's export if there is a usable one; else None, with the reason logged."""
    onnx_file, info_file = export_paths(cache, model_key)
    if not info_file.exists():
        log.info("no text export for %s yet: torch answers", model_key)
        return None
    try:
        return _checked(onnx_file, _read_info(info_file, model_key))
    except ExportError as error:
        log.warning("the text export %s is not used (torch answers instead): %s", onnx_file, error)
        # Thrown away, so that the next load of the model exports it again.
        _discard(onnx_file, weights_path(onnx_file), info_file)
        return None


def _discard(*files: Path) -> None:
    for file in files:
        with contextlib.suppress(OSError):  # a read-only cache keeps it; torch answers
            file.unlink(missing_ok=True)


def _read_info(info_file: Path, model_key: str) -> ExportInfo:
    try:
        info = ExportInfo(**json.loads(info_file.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError) as error:
        raise ExportError(f"its description {info_file.name} is unreadable ({error})") from error
    if info.format != FORMAT or info.model_key != model_key:
        raise ExportError(f"it is stale: made for {info.model_key}, format {info.format}")
    return info


def _checked(onnx_file: Path, info: ExportInfo) -> OnnxText:
    expected = {onnx_file: info.onnx_bytes, weights_path(onnx_file): info.weights_bytes}
    for file, size in expected.items():
        try:
            found = file.stat().st_size
        except OSError as error:
            raise ExportError(f"it cannot be read ({error})") from error
        if found != size:
            raise ExportError(f"{file.name} has {found} bytes, not the {size} it was made with")
    try:
        text = OnnxText(_session(onnx_file), info)
        cosines = _cosines(text.encode_texts(CHECKS), np.asarray(info.checks, dtype=np.float32))
    except Exception as error:  # onnxruntime's own errors: corrupt file, wrong graph
        raise ExportError(f"onnxruntime cannot run it ({type(error).__name__}: {error})") from error
    if not cosines.min() >= MIN_COSINE:  # (NaN too: garbage weights give NaN)
        raise ExportError(f"its vectors differ from torch's (cosine {cosines.min():.6f})")
    return text


def _session(onnx_file: Path) -> Any:
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3  # errors only: its warnings are about graph details
    return onnxruntime.InferenceSession(str(onnx_file), options, providers=["CPUExecutionProvider"])


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.linalg.norm(a, axis=-1, keepdims=True)
    b = b / np.linalg.norm(b, axis=-1, keepdims=True)
    return np.sum(a * b, axis=-1)


# -- making an export (torch) ------------------------------------------------------------------


def export_text(encoder: LocalEncoder, cache: Path) -> ExportInfo:
    """Export the encoder's text tower, check it against torch, keep it; ExportError if it
    cannot be exported or its vectors are not torch's."""
    from photoclip.core.texttower import causal_text_tower

    tower = causal_text_tower(encoder.model)
    _check_exportable(encoder, tower)
    pool = (tower.pool_type, tower.eos_id) if tower is not None else (FULL, None)
    onnx_file, info_file = export_paths(cache, encoder.model_key)
    # Made and checked under the final names in a folder of its own (the .onnx file names
    # its weights file), then moved beside the others; the description, written last, is
    # what makes it count.
    with tempfile.TemporaryDirectory(prefix="export-", dir=_made(onnx_file.parent)) as folder:
        draft = Path(folder) / onnx_file.name
        _write_onnx(_graph(encoder.model, tower), encoder, draft, pool)
        info = _verified(draft, pool, encoder)
        os.replace(weights_path(draft), weights_path(onnx_file))
        os.replace(draft, onnx_file)
    _write_atomically(info_file, json.dumps(asdict(info)))
    log.info("exported the text tower of %s (cosine to torch >= %.6f)", info.model_key,
             info.min_cosine)  # fmt: skip
    return info


def _made(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _check_exportable(encoder: LocalEncoder, tower: Any) -> None:
    if encoder.profile.random_weights:
        raise ExportError("random weights differ at every load; an export would be stale")
    if tower is None and not _whole_tower(encoder.model):
        raise ExportError("its text tower is not one of open_clip's own transformers")
    if encoder.device != "cpu":  # (the background export loads it there, in float32)
        raise ExportError(f"it runs on {encoder.device}; the export needs it on the CPU")
    tokenizer = encoder.tokenizer
    plain = (
        type(tokenizer).__name__ == "SimpleTokenizer"
        and getattr(tokenizer.clean_fn, "__name__", "") == "_clean_lower"
        and tokenizer.reduction_fn is None
        and tokenizer.vocab_size == 49408
    )
    if not plain:
        raise ExportError(f"its tokenizer ({type(tokenizer).__name__}) is not CLIP's plain one")
    ours = ClipTokenizer(tokenizer.context_length)(list(PROBES))
    if not np.array_equal(ours, tokenizer(list(PROBES)).numpy()):
        raise ExportError("photoclip's tokenizer does not give open_clip's token ids")


def _whole_tower(model: Any) -> bool:
    """A CustomTextCLIP's TextTransformer, whose forward is encode_text's whole path."""
    from open_clip.transformer import TextTransformer

    return isinstance(getattr(model, "text", None), TextTransformer)


def _write_onnx(graph: Any, encoder: LocalEncoder, path: Path, pool: tuple[str, Any]) -> None:
    import torch

    tokens = torch.from_numpy(_trimmed(encoder, PROBES[:2], pool))
    dims = {0: torch.export.Dim("batch")}
    if pool[0] != FULL:  # the query's own length
        dims[1] = torch.export.Dim("length", max=encoder.tokenizer.context_length)
    with torch.no_grad(), contextlib.redirect_stdout(sys.stderr):  # its progress lines
        program = torch.onnx.export(
            graph, (tokens,), dynamo=True, input_names=["tokens"], output_names=["vectors"],
            dynamic_shapes=(dims,), verbose=False,
        )  # fmt: skip
        assert program is not None  # (None only when exporting to a file name)
        program.save(str(path), external_data=True)  # the weights: path + ".data"


def _graph(model: Any, tower: Any) -> Any:
    """The tower as one module whose parameters are its own (torch.export lifts those)."""
    import torch
    import torch.nn.functional as F

    class WholeTextGraph(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.text = model.text

        def forward(self, tokens: torch.Tensor) -> torch.Tensor:
            return F.normalize(self.text(tokens), dim=-1)

    class TextGraph(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.token_embedding = tower.token_embedding
            self.transformer = tower.transformer
            self.ln_final = tower.ln_final
            self.positional_embedding = tower.positional_embedding
            self.register_buffer("attn_mask", tower.attn_mask, persistent=False)
            self.text_projection = tower.text_projection

        def forward(self, tokens: torch.Tensor) -> torch.Tensor:
            return F.normalize(tower.encode_trimmed(tokens), dim=-1)

    return (WholeTextGraph() if tower is None else TextGraph()).eval()


def _trimmed(encoder: LocalEncoder, texts: Sequence[str], pool: tuple[str, Any]) -> np.ndarray:
    tokens = encoder.tokenizer(list(texts)).numpy()
    return tokens[:, : pooled_length(tokens, *pool)]


def _verified(path: Path, pool: tuple[str, Any], encoder: LocalEncoder) -> ExportInfo:
    draft = ExportInfo(
        FORMAT, encoder.model_key, encoder.tokenizer.context_length, *pool, encoder.dim,
        encoder.logit_scale, path.stat().st_size, weights_path(path).stat().st_size, 0.0, [],
    )  # fmt: skip
    text = OnnxText(_session(path), draft)
    cosines = _cosines(text.encode_texts(PROBES), encoder.encode_texts(PROBES))
    if not cosines.min() >= MIN_COSINE:  # (NaN too: garbage weights give NaN)
        raise ExportError(f"its vectors differ from torch's (cosine {cosines.min():.6f})")
    checks = encoder.encode_texts(CHECKS).tolist()
    return ExportInfo(**{**asdict(draft), "min_cosine": float(cosines.min()), "checks": checks})


def _write_atomically(path: Path, text: str) -> None:
    temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


# -- in the background -------------------------------------------------------------------------


def start_export(profile: ModelProfile, cache: Path) -> bool:
    """Export the profile's text tower in a background process, unless there is an export
    already, one is being made, or it cannot be made; returns whether one was started.

    The process outlives the command (a search prints its results and exits meanwhile) and
    runs at low priority; it loads the model itself, on the CPU, with one thread."""
    if os.environ.get(EXPORT_ENV) == "0":
        return False
    if profile.random_weights:
        return False
    onnx_file, info_file = export_paths(cache, profile.key)
    if info_file.exists() or failure_path(onnx_file).exists() or _locked(_lock_path(onnx_file)):
        return False
    # (`python -m` from source; the app's own executable in a frozen app)
    command = command_line("text-export", profile.name, str(cache))
    try:
        onnx_file.parent.mkdir(parents=True, exist_ok=True)
        child = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, start_new_session=True, close_fds=True,
        )  # fmt: skip
        _write_atomically(_lock_path(onnx_file), str(child.pid))  # a second caller waits
    except OSError as error:
        log.info("the text export could not start: %s", error)
        return False
    log.info("exporting the text tower of %s in the background", profile.key)
    return True


def export_state(profile: ModelProfile, cache: Path) -> str:
    """In words, for `photoclip doctor`: whether cold text searches of this model run
    without torch, and if not, why not and what happens next. Reads files only."""
    if profile.random_weights:
        return "none (a model with random weights is never exported)"
    onnx_file, info_file = export_paths(cache, profile.key)
    if info_file.exists() and onnx_file.exists():
        return f"present: text searches start without torch ({onnx_file})"
    failed = failure_path(onnx_file)
    if failed.exists():
        reason = failed.read_text(errors="replace").strip().splitlines()[:1]
        return f"failed ({reason[0] if reason else 'no reason kept'}); searches use torch"
    if os.environ.get(EXPORT_ENV) == "0":
        return f"off ({EXPORT_ENV}=0); searches use torch"
    if _locked(_lock_path(onnx_file)):
        return "being made in the background; searches use torch until it is done"
    return "not made yet (made in the background once the model next loads); searches use torch"


def _lock_path(onnx_file: Path) -> Path:
    return onnx_file.with_suffix(".lock")


def _locked(lock: Path) -> bool:
    """Whether another live process holds the lock (a dead one's lock is taken over)."""
    from photoclip.core.workerstatus import process_alive

    try:
        holder = int(lock.read_text(encoding="ascii"))
    except (OSError, ValueError):
        return False
    return holder != os.getpid() and process_alive(holder)


@contextlib.contextmanager
def _holding(lock: Path) -> Any:
    _write_atomically(lock, str(os.getpid()))
    try:
        yield
    finally:
        lock.unlink(missing_ok=True)


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m photoclip.core.textexport PROFILE CACHE`: the background export (in a
    frozen app `PhotoClip --photoclip-internal text-export PROFILE CACHE`)."""
    from photoclip.core.embedding import load_encoder
    from photoclip.core.logfile import start_log_file
    from photoclip.core.profiles import resolve_profile
    from photoclip.core.towers import TEXT

    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 2:
        print("usage: python -m photoclip.core.textexport PROFILE CACHE", file=sys.stderr)
        return 2
    name, folder = args
    cache = Path(folder)
    start_log_file(cache)
    for chatty in ("onnx_ir", "onnxscript", "torch.onnx"):  # a line per graph pass
        logging.getLogger(chatty).setLevel(logging.WARNING)
    with contextlib.suppress(OSError, AttributeError):
        os.nice(10)  # a background job: the user's commands go first
    profile = resolve_profile(name)
    onnx_file = export_paths(cache, profile.key)[0]
    if _locked(_lock_path(onnx_file)):
        return 0  # another process is making it (two commands loaded the model at once)
    try:
        onnx_file.parent.mkdir(parents=True, exist_ok=True)
        with _holding(_lock_path(onnx_file)):
            text_only = frozenset({TEXT})  # the image tower's weights never load
            encoder = load_encoder(
                profile, "cpu", cache / "weights", threads=1, towers=text_only, keep_probe=False
            )
            export_text(encoder, cache)
    except Exception as error:  # any failure only means that torch answers
        log.warning("the text tower of %s was not exported: %s", profile.key, error,
                    exc_info=not isinstance(error, ExportError))  # fmt: skip
        with contextlib.suppress(OSError):
            failure_path(onnx_file).write_text(f"{type(error).__name__}: {error}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
