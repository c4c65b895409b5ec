"""Searches answered by a running worker (the app's, or `photoclip watch`) over a local socket.

A worker has the library open, its index in memory and often the model loaded, so a
`photoclip search` that asks it skips all of that: the answer takes a few milliseconds
beyond the command's own start. The worker stays the single writer: the socket serves
searches only, each through `Worker.searcher()` (its own read-only catalog connection).

Only the same user can connect: the socket lives in a folder only its owner may enter
(0700, checked; the user's runtime folder), the socket itself is 0600, and on Linux the
peer's uid is checked as well. Platforms without AF_UNIX sockets (Windows' Python) have no
service; `search` there runs in its own process, as it does whenever nothing answers: no
socket file, a stale one (the worker was killed), a refused or a silent connection.

The protocol: one request per connection, a JSON object on one line
(`{"query": "...", "options": {...SearchOptions}}`), one JSON answer
(`{"results": [{"path", "score", "id"}]}` or `{"error": "...", "kind": "..."}`). A
request that is not valid is answered with an error; nothing a client sends stops it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import os
import socket
import stat
import struct
import sys
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from photoclip.core.errors import KnownError, QueryError
from photoclip.core.paths import APP_NAME, Locations

if TYPE_CHECKING:
    from photoclip.core.query import SearchOptions
    from photoclip.core.search import Searcher

log = logging.getLogger(__name__)

RUNTIME_DIR_ENV = "PHOTOCLIP_RUNTIME_DIR"
#: A live worker accepts at once; a stale socket file is refused at once.
CONNECT_TIMEOUT = 0.5
#: A search of a loaded model takes milliseconds; loading one (no text export yet) seconds.
ANSWER_TIMEOUT = 60.0
#: How long the worker waits for a client to send its request.
REQUEST_TIMEOUT = 5.0
MAX_REQUEST = 64 * 1024
#: sockaddr_un's sun_path holds 108 bytes on Linux, 104 on macOS.
MAX_SOCKET_PATH = 100

#: error kinds: the client raises QueryError / KnownError, or searches locally
QUERY, KNOWN, UNAVAILABLE, BAD_REQUEST = "query", "known", "unavailable", "bad request"


@dataclass(frozen=True)
class Hit:
    """A search result as the socket carries it."""

    path: Path
    score: float
    id: int


def socket_path(locations: Locations) -> Path | None:
    """Where the worker of this data folder listens; None where there is no service."""
    if not hasattr(socket, "AF_UNIX") or sys.platform == "win32":
        return None
    base = os.environ.get(RUNTIME_DIR_ENV) or _runtime_dir()
    name = hashlib.blake2b(str(locations.data.resolve()).encode(), digest_size=8).hexdigest()
    path = Path(base) / f"worker-{name}.sock"
    return path if len(os.fsencode(path)) <= MAX_SOCKET_PATH else None


def _runtime_dir() -> str:
    import warnings

    import platformdirs

    with warnings.catch_warnings():  # no XDG_RUNTIME_DIR: its /tmp fallback is checked below
        warnings.simplefilter("ignore")
        return platformdirs.user_runtime_dir(APP_NAME, appauthor=False)


def private_folder(folder: Path) -> Path:
    """Make the folder for the user alone, or refuse one that others can enter."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not is_private(folder):
        raise KnownError(f"{folder} is not private to this user; searches are not served.")
    return folder


def is_private(folder: Path) -> bool:
    """Owned by this user, and no one else may enter or change it: a socket in it is the
    user's own worker's, not one another user put there to read the queries."""
    info = folder.stat()
    return info.st_uid == os.getuid() and not stat.S_IMODE(info.st_mode) & 0o077


# -- the client (`photoclip search`) -----------------------------------------------------------


def ask(locations: Locations, query: str, options: SearchOptions) -> list[Hit] | None:
    """The running worker's answer; None when none answers (search here instead).
    QueryError and KnownError come back as what they were in the worker."""
    path = socket_path(locations)
    try:
        if path is None or not path.exists() or not is_private(path.parent):
            return None
        reply = _exchange(path, encode_request(query, options))
    except (OSError, ValueError) as error:  # refused (stale), timed out, cut off
        log.info("the worker did not answer at %s (%s); searching here", path, error)
        return None
    return _hits(reply)


def encode_request(query: str, options: SearchOptions) -> bytes:
    values = {f.name: getattr(options, f.name) for f in fields(options)}
    if options.folder is not None:  # the worker has another working folder
        values["folder"] = str(options.folder.expanduser().resolve())
    return _dumps({"query": query, "options": values})


def _exchange(path: Path, request: bytes) -> dict[str, Any]:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        client.settimeout(CONNECT_TIMEOUT)
        client.connect(str(path))
        client.settimeout(ANSWER_TIMEOUT)
        client.sendall(request)
        client.shutdown(socket.SHUT_WR)
        answer = _read_all(client, limit=None)
    reply = json.loads(answer)
    if not isinstance(reply, dict):
        raise ValueError("the answer is not a JSON object")
    return reply


def _hits(reply: dict[str, Any]) -> list[Hit] | None:
    if "error" in reply:
        kind, message = reply.get("kind"), str(reply["error"])
        if kind == QUERY:
            raise QueryError(message)
        if kind == KNOWN:
            raise KnownError(message)
        log.info("the worker did not search (%s: %s); searching here", kind, message)
        return None
    return [Hit(Path(r["path"]), float(r["score"]), int(r["id"])) for r in reply["results"]]


# -- the server (in the worker's process) ------------------------------------------------------


class SearchService:
    """Listens on the socket and answers each connection on its own thread."""

    def __init__(self, path: Path, searcher: Callable[[], AbstractContextManager[Searcher]]):
        self.path = path
        self._searcher = searcher
        self._listener: socket.socket | None = None
        self._inode: int | None = None

    def start(self) -> None:
        private_folder(self.path.parent)
        _remove_stale(self.path)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old_umask = os.umask(0o177)  # the socket is made 0600, with no moment at 0644
        try:
            listener.bind(str(self.path))
        finally:
            os.umask(old_umask)
        listener.listen(16)
        self._listener, self._inode = listener, self.path.stat().st_ino
        threading.Thread(target=self._accept, name="photoclip-search-service", daemon=True).start()
        log.info("answering searches at %s", self.path)

    def stop(self) -> None:
        if self._listener is None:
            return
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        self._listener = None
        with contextlib.suppress(OSError):  # only our own file: a newer worker's stays
            if self.path.stat().st_ino == self._inode:
                self.path.unlink()

    def _accept(self) -> None:
        while self._listener is not None:
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return  # closed by stop()
            threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def _serve(self, connection: socket.socket) -> None:
        with connection:
            try:
                if not same_user(connection):
                    return
                connection.settimeout(REQUEST_TIMEOUT)
                try:
                    reply = self.answer(_read_all(connection, limit=MAX_REQUEST))
                except _TooLong as error:
                    reply = _error(BAD_REQUEST, f"the request is too long ({error})")
                connection.sendall(reply)
            except OSError as error:  # the client went, or sent nothing in time
                log.info("a search request was dropped: %s", error)

    def answer(self, request: bytes) -> bytes:
        """The reply to one request; never raises."""
        try:
            query, options = decode_request(request)
            with self._searcher() as searcher:
                return _dumps({"results": _search(searcher, query, options)})
        except _BadRequest as error:
            return _error(BAD_REQUEST, str(error))
        except _Unavailable as error:
            return _error(UNAVAILABLE, str(error))
        except QueryError as error:
            return _error(QUERY, str(error))
        except KnownError as error:
            return _error(KNOWN, str(error))
        except Exception as error:  # a bug: the client searches itself, the worker goes on
            log.exception("a search request failed")
            return _error(UNAVAILABLE, f"{type(error).__name__}: {error}")


class _BadRequest(Exception):
    pass


class _Unavailable(Exception):
    """The worker cannot answer this one quickly (the client searches itself)."""


def decode_request(request: bytes) -> tuple[str, SearchOptions]:
    from photoclip.core.query import SearchOptions

    try:
        message = json.loads(request)
        query, values = message["query"], dict(message.get("options") or {})
        if not isinstance(query, str):
            raise TypeError("the query is not text")
        for name, value in values.items():
            _check_option(name, value)
        if values.get("folder") is not None:
            values["folder"] = Path(values["folder"])
        if values.get("tag") is not None:
            values["tag"] = tuple(values["tag"])
        return query, SearchOptions(**values)
    except (ValueError, TypeError, KeyError, AttributeError, KnownError) as error:
        raise _BadRequest(f"not a search request: {type(error).__name__}: {error}") from error


#: SearchOptions' fields as JSON carries them: a check for each (None allowed but for these)
_OPTION_CHECKS: dict[str, Callable[[Any], bool]] = {
    "limit": lambda v: type(v) is int and v >= 1,
    "min_score": lambda v: _number(v),
    "relative": lambda v: _number(v),
    "folder": lambda v: isinstance(v, str),
    "since": lambda v: _number(v),
    "until": lambda v: _number(v),
    "tag": lambda v: isinstance(v, list) and len(v) == 2 and all(isinstance(p, str) for p in v),
    "sort": lambda v: v in ("relevance", "date"),
    "textness": lambda v: _number(v),
}
_REQUIRED = ("limit", "sort", "textness")


def _check_option(name: str, value: Any) -> None:
    check = _OPTION_CHECKS.get(name)
    if check is None:
        raise KeyError(f"unknown option {name}")
    if not (value is None and name not in _REQUIRED) and not (value is not None and check(value)):
        raise ValueError(f"{name} cannot be {value!r}")


def _number(value: Any) -> bool:
    return type(value) in (int, float) and math.isfinite(value)


def _search(searcher: Searcher, query: str, options: SearchOptions) -> list[dict[str, Any]]:
    from photoclip.core.textness import load_direction

    searcher.check_filters(options)
    if options.textness:
        key = searcher.library.catalog.active_model
        if key is None or load_direction(searcher.library.catalog, key) is None:
            raise _Unavailable("the textness direction is not learned yet")
    results = searcher.search(query, options)
    return [{"path": str(r.photo.path), "score": r.score, "id": r.photo.id} for r in results]


def same_user(connection: socket.socket) -> bool:
    """The peer's uid where the system tells it (Linux); elsewhere the folder's 0700 is the
    guard."""
    option = getattr(socket, "SO_PEERCRED", None)
    if option is None:
        return True
    credentials = connection.getsockopt(socket.SOL_SOCKET, option, struct.calcsize("3i"))
    _, uid, _ = struct.unpack("3i", credentials)
    if uid != os.getuid():
        log.warning("refused a search request from uid %d", uid)
        return False
    return True


def _remove_stale(path: Path) -> None:
    """A socket file no one listens on (a killed worker's) is removed; a live one means
    another worker serves this library (KnownError)."""
    if not path.exists():
        return
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(CONNECT_TIMEOUT)
        try:
            probe.connect(str(path))
        except OSError:
            path.unlink(missing_ok=True)
            return
    raise KnownError(f"another worker already answers searches at {path}")


def _read_all(connection: socket.socket, limit: int | None) -> bytes:
    chunks, size = [], 0
    while chunk := connection.recv(65536):
        chunks.append(chunk)
        size += len(chunk)
        if limit is not None and size > limit:
            raise _TooLong(f"more than {limit} bytes")
    return b"".join(chunks)


class _TooLong(OSError):
    pass


def _error(kind: str, message: str) -> bytes:
    return _dumps({"error": message, "kind": kind})


def _dumps(message: dict[str, Any]) -> bytes:
    # ensure_ascii: a file name that is not UTF-8 travels as \udcxx escapes and comes back
    return (json.dumps(message, ensure_ascii=True) + "\n").encode("ascii")
