"""The model in a child process: the `Encoder` of the desktop app.

Importing torch and open_clip and loading weights hold the GIL for most of a second in C
extension initialisers (torch._C's PyInit, the dlopen of libtorch), so no thread of the
GUI's process could load a model without freezing its window. The model lives in a child
process instead, started with 'spawn' (the same on Linux, macOS and Windows; a frozen app
calls `multiprocessing.freeze_support()` first), which runs `load_encoder` and answers
requests over a Pipe. This side imports neither torch nor open_clip: it sends decoded RGB
pixels, and the child applies the model's own eval transform.

Where the model would run on the CPU and both towers' ONNX exports exist (the worker makes
them when idle: photoclip.core.exports), the child serves those instead and never imports
torch either (`load_model_or_exports`): with ViT-B-32 that is about a third of the memory,
as `photoclip index` found (issue 17).

Errors raised in the child arrive as the same PhotoClip error types with the same messages.
A child that dies, or does not answer in time, is a `ModelError`; the encoder is then dead
(`alive` is False) and the worker starts another.
"""

from __future__ import annotations

import builtins
import contextlib
import logging
import math
import multiprocessing
import signal
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
from PIL import Image

from photoclip.core import errors
from photoclip.core.embedding import Encoder, exported_towers, load_encoder
from photoclip.core.errors import ModelError
from photoclip.core.footprint import one_model_per_process
from photoclip.core.imageio import model_min_short
from photoclip.core.logfile import start_log_file
from photoclip.core.profiles import ModelProfile
from photoclip.core.weights import Progress

log = logging.getLogger(__name__)

#: Longest a request may take before the child counts as hung and is stopped (a batch
#: takes seconds on a slow CPU, not minutes).
REQUEST_TIMEOUT = 300.0
#: Longest loading may go without a word from the child (each progress report resets it).
LOAD_TIMEOUT = 600.0
#: How often a waiting parent checks that the child still runs.
_POLL_SECONDS = 0.25
#: How long a closing child gets to finish on its own before it is terminated.
_EXIT_SECONDS = 5.0
#: A batch is inferred in up to this many chunks of at least MIN_CHUNK images, so that
#: the transform of one overlaps the inference of another; CPU inference costs about the
#: same per image from 4 images a batch up.
CHUNKS = 4
MIN_CHUNK = 4

#: load(profile, device, cache, progress, threads) -> Encoder, run in the child.
Loader = Callable[..., Encoder]


def load_model_or_exports(
    profile: ModelProfile,
    device: str | None = None,
    cache: Path | None = None,
    progress: Progress | None = None,
    threads: int | None = None,
) -> Encoder:
    """The towers' exports where they serve (`exported_towers`), else the model
    (`load_encoder`). `cache` is the weights folder, inside the cache folder that holds the
    exports."""
    if cache is not None:
        exported = exported_towers(profile, device, cache.parent, threads)
        if exported is not None:
            return exported
    return load_encoder(profile, device, cache, progress, threads)


def start_encoder(
    profile: ModelProfile,
    device: str | None = None,
    cache: Path | None = None,
    progress: Progress | None = None,
    threads: int | None = None,
    *,
    timeout: float = REQUEST_TIMEOUT,
    load: Loader = load_model_or_exports,
) -> RemoteEncoder:
    """`load` (by default the towers' exports where they serve, else `load_encoder`) in a
    new child process; returns once the model is loaded there.

    `load` is what the child runs (a module-level function: it is pickled by name)."""
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    process = context.Process(
        target=serve,
        args=(theirs, load, profile, device, cache, threads),
        name=f"photoclip-model-{profile.name}",
        daemon=True,  # multiprocessing ends it when this process exits
    )
    process.start()
    theirs.close()  # the child holds its end; EOF here then means the child has gone
    channel = _Channel(process, ours)
    try:
        loaded = channel.wait_loaded(progress, LOAD_TIMEOUT)
    except BaseException:
        channel.stop()
        raise
    return RemoteEncoder(profile, channel, loaded, timeout)


@dataclass(frozen=True)
class _Loaded:
    """What the child reports of its model once loaded."""

    device: str
    dim: int
    input_size: tuple[int, int]
    open_clip_version: str
    #: which architecture and weights, and how the architecture was known
    origin: str
    logit_scale: float


class RemoteEncoder:
    """An `Encoder` whose model runs in a child process (`start_encoder` makes one).

    Any thread may call it; requests are answered one at a time, in the order they come."""

    def __init__(
        self, profile: ModelProfile, channel: _Channel, loaded: _Loaded, timeout: float
    ) -> None:
        self.profile = profile
        self.device, self.dim, self.input_size = loaded.device, loaded.dim, loaded.input_size
        self.open_clip_version = loaded.open_clip_version
        self.origin = loaded.origin
        self.logit_scale = loaded.logit_scale
        self._channel, self._timeout = channel, timeout
        self._lock = threading.Lock()

    @property
    def model_key(self) -> str:
        return self.profile.key

    @property
    def alive(self) -> bool:
        return self._channel.alive

    @property
    def pid(self) -> int | None:
        return self._channel.pid

    def prepare(self, image: Image.Image) -> np.ndarray:
        """The decoded pixels, for the child to apply the model's own transform to (which
        converts to RGB first, as done here, so that a palette survives the trip).

        An image larger than the model needs is first box-reduced by an integer factor
        while its short side keeps DRAFT_MARGIN times the model's input side, the bound
        JPEG drafts keep too (cosine >= 0.99999 to the full decode): the batches in flight
        then hold and send ~1 MB a photo, not 36 MB for 12 MP. A photo from `decode_photo`
        arrives reduced already (`imageio.box_reduce`, the one decode path of every
        encoder), so this changes nothing for it: the GUI's model sees the CLI's pixels."""
        factor = min(image.size) // model_min_short(self.input_size)
        if factor >= 2:
            image = image.reduce(factor)
        return np.asarray(image if image.mode == "RGB" else image.convert("RGB"))

    def encode_prepared(self, prepared: Sequence[np.ndarray]) -> np.ndarray:
        return self._request("encode_arrays", list(prepared))

    def encode_pil(self, images: Sequence[Image.Image]) -> np.ndarray:
        return self.encode_prepared([self.prepare(image) for image in images])

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        return self._request("encode_texts", list(texts))

    def embed_prompts(self, classnames: Sequence[str], templates: Sequence[str]) -> np.ndarray:
        return self._request("embed_prompts", list(classnames), list(templates))

    def close(self) -> None:
        """Stop the child (after the request in flight, if any); idempotent."""
        with self._lock:
            self._channel.stop()

    def _request(self, method: str, *args: Any) -> np.ndarray:
        with self._lock:
            return self._channel.request(method, args, self._timeout)


class _Channel:
    """The parent's end: one child process and the pipe to it. Not thread-safe."""

    def __init__(self, process: BaseProcess, connection: Connection) -> None:
        self._process, self._connection = process, connection
        #: why no request can be answered any more (None while the child serves)
        self._gone: str | None = None

    @property
    def alive(self) -> bool:
        return self._gone is None and self._process.is_alive()

    @property
    def pid(self) -> int | None:
        return self._process.pid

    def wait_loaded(self, progress: Progress | None, timeout: float) -> _Loaded:
        while True:
            kind, *body = self._receive(timeout)
            if kind == "progress" and progress is not None:
                progress(*body)
            elif kind == "loaded":
                device, dim, (height, width), version, origin, scale = body
                return _Loaded(device, dim, (height, width), version, origin, scale)
            elif kind == "error":
                raise _rebuilt(*body)

    def request(self, method: str, args: tuple[Any, ...], timeout: float) -> Any:
        if self._gone is not None:
            raise ModelError(self._gone)
        self._send((method, args), timeout)
        kind, *body = self._receive(timeout)
        if kind == "error":
            raise _rebuilt(*body)
        return body[0]

    def stop(self) -> None:
        """Ask the child to exit, then make sure it has."""
        if self._gone is None and self._process.is_alive():
            with contextlib.suppress(OSError):
                self._connection.send(("close", ()))
        self._gone = self._gone or "The model was unloaded; load it again."
        self._connection.close()
        self._process.join(_EXIT_SECONDS)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()

    def _send(self, message: tuple[Any, ...], timeout: float) -> None:
        """Send, or stop a child that has not read it in time: a batch larger than the
        pipe's buffer waits for the child to read it, and a hung child never would."""
        watchdog = threading.Timer(timeout, self._stop_hung, (timeout,))
        watchdog.start()
        try:
            self._connection.send(message)
        except OSError:
            self._lost()
        finally:
            watchdog.cancel()

    def _receive(self, timeout: float) -> tuple[Any, ...]:
        deadline = time.monotonic() + timeout
        while not self._connection.poll(_POLL_SECONDS):
            if not self._process.is_alive():
                break  # nothing more will come; recv() below reports it
            if time.monotonic() > deadline:
                self._stop_hung(timeout)
                self._fail(str(self._gone))
        try:
            return tuple(self._connection.recv())
        except (EOFError, OSError):
            self._lost()

    def _lost(self) -> NoReturn:
        if self._gone is not None:  # stopped for not answering: say that, not "killed"
            self._fail(self._gone)
        self._process.join(_EXIT_SECONDS)
        code = self._process.exitcode
        how = f"killed by signal {-code}" if code and code < 0 else f"exit code {code}"
        self._fail(f"The model process stopped unexpectedly ({how}). Try again to reload it.")

    def _stop_hung(self, timeout: float) -> None:
        self._gone = f"The model process did not answer within {timeout:g} s and was stopped."
        self._process.kill()

    def _fail(self, reason: str) -> NoReturn:
        self._gone = reason
        self._connection.close()
        self._process.join(_EXIT_SECONDS)
        raise ModelError(reason)


def _rebuilt(module: str, name: str, message: str, details: str) -> Exception:
    """The child's exception as this side can raise it: PhotoClip's and Python's own types
    as they were; any other (torch's, say) as a RuntimeError, since unpickling its type
    here would import its library."""
    source = {errors.__name__: errors, "builtins": builtins}.get(module)
    kind = getattr(source, name, None)
    if isinstance(kind, type) and issubclass(kind, Exception):
        with contextlib.suppress(Exception):
            return kind(message)
    log.error("the model process failed:\n%s", details)
    return RuntimeError(f"{name} in the model process: {message}")


# -- the child ---------------------------------------------------------------------------------


def serve(
    connection: Connection,
    load: Loader,
    profile: ModelProfile,
    device: str | None,
    cache: Path | None,
    threads: int | None,
) -> None:
    """The child process: load the model, then answer until asked to stop or the parent
    goes (its end of the pipe closes)."""
    # Ctrl-C in a terminal reaches the whole process group; stopping is the parent's call.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if cache is not None:  # the weights folder sits in the cache folder, beside the log
        start_log_file(cache.parent)
    sender = _Sender(connection)
    one_model_per_process()  # a child serves one model: a switch starts another child
    try:
        encoder = load(profile, device, cache, sender.progress, threads)
    except Exception as error:
        log.info("loading %s failed", profile.name, exc_info=error)
        sender.send(_failure(error))
        return
    loaded = (
        encoder.device, encoder.dim, encoder.input_size, encoder.open_clip_version,
        getattr(encoder, "origin", ""), encoder.logit_scale,
    )  # fmt: skip
    sender.send(("loaded", *loaded))
    _answer(connection, sender, encoder)


def _answer(connection: Connection, sender: _Sender, encoder: Encoder) -> None:
    while sender.open:
        try:
            method, args = connection.recv()
        except (EOFError, OSError):
            return
        if method == "close":
            return
        try:
            reply: tuple[Any, ...] = ("ok", _HANDLERS[method](encoder, *args))
        except Exception as error:
            reply = _failure(error)
        sender.send(reply)


def _encode_arrays(encoder: Encoder, arrays: list[np.ndarray]) -> np.ndarray:
    """The transform of the next chunk runs in a helper thread while the model infers this
    one: in this process, the indexer's decoding threads hide the transform the same way."""
    size = max(MIN_CHUNK, math.ceil(len(arrays) / CHUNKS))
    chunks = [arrays[i : i + size] for i in range(0, len(arrays), size)]
    vectors = []
    with ThreadPoolExecutor(1, thread_name_prefix="transform") as pool:
        pending = pool.submit(_transformed, encoder, chunks[0])
        for following in [*chunks[1:], None]:
            ready = pending.result()
            if following is not None:
                pending = pool.submit(_transformed, encoder, following)
            vectors.append(encoder.encode_prepared(ready))
    return np.concatenate(vectors)


def _transformed(encoder: Encoder, arrays: list[np.ndarray]) -> list[Any]:
    return [encoder.prepare(Image.fromarray(array)) for array in arrays]


_HANDLERS: dict[str, Callable[..., np.ndarray]] = {
    "encode_arrays": _encode_arrays,
    "encode_texts": lambda encoder, texts: encoder.encode_texts(texts),
    "embed_prompts": lambda encoder, names, templates: encoder.embed_prompts(names, templates),
}


class _Sender:
    """The child's sending end: one message at a time (a download may report progress
    from its own threads); a parent that has gone ends the serving."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._lock = threading.Lock()
        self.open = True

    def send(self, message: tuple[Any, ...]) -> None:
        with self._lock:
            try:
                self._connection.send(message)
            except OSError:
                self.open = False

    def progress(self, done: int, total: int) -> None:
        self.send(("progress", done, total))


def _failure(error: Exception) -> tuple[str, str, str, str, str]:
    kind = type(error)
    details = "".join(traceback.format_exception(error))
    return ("error", kind.__module__, kind.__name__, str(error), details)
