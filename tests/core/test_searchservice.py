"""A running worker answers searches over its socket; bad requests never stop it; a dead
one never hangs a search."""

from __future__ import annotations

import json
import os
import socket
import stat
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from photoclip.core.errors import KnownError, QueryError
from photoclip.core.paths import Locations
from photoclip.core.search import SearchOptions
from photoclip.core.searchservice import (
    BAD_REQUEST,
    MAX_REQUEST,
    SearchService,
    ask,
    decode_request,
    encode_request,
    private_folder,
    same_user,
    socket_path,
)
from photoclip.core.worker import Worker, WorkerSettings
from tests.photos import make_photo

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(sys.platform == "win32", reason="no AF_UNIX service on Windows"),
]


def test_windows_has_no_service_and_searches_locally(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "win32")
    assert socket_path(Locations.from_environment()) is None
    assert ask(Locations.from_environment(), "dog", SearchOptions()) is None


FAST = WorkerSettings(batch_size=4, settle_seconds=0.05, unload_after=60.0)


@pytest.fixture
def worker(tmp_path: Path, tiny_encoder: Any) -> Iterator[Worker]:
    """A worker over four indexed photos, serving searches."""
    album = tmp_path / "album"
    for i in range(4):
        make_photo(album / f"p{i}.jpg", (60 * i, 90, 200 - 40 * i), pattern=i)
    running = Worker(
        Locations.from_environment(), lambda _: tiny_encoder, tiny_encoder.profile.name, FAST
    )
    running.start([album])
    assert running.wait_idle(120)
    yield running
    running.stop(30)


def raw(path: Path, request: bytes) -> dict[str, Any]:
    """Send bytes as they are; the worker's answer as JSON."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        client.settimeout(30)
        client.connect(str(path))
        client.sendall(request)
        client.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := client.recv(65536):
            chunks.append(chunk)
    answer: dict[str, Any] = json.loads(b"".join(chunks))
    return answer


def service_path() -> Path:
    path = socket_path(Locations.from_environment())
    assert path is not None
    return path


def test_the_worker_answers_as_a_search_of_its_own_would(worker: Worker) -> None:
    options = SearchOptions(limit=3)
    started = time.perf_counter()
    hits = ask(Locations.from_environment(), "a red circle", options)
    elapsed = time.perf_counter() - started
    with worker.searcher() as searcher:
        expected = searcher.search("a red circle", options)
    assert hits is not None
    assert [(h.path, h.id) for h in hits] == [(r.photo.path, r.photo.id) for r in expected]
    assert [h.score for h in hits] == pytest.approx([r.score for r in expected], abs=1e-6)
    assert elapsed < 1.0


def test_its_errors_come_back_as_the_same_errors(worker: Worker) -> None:
    locations = Locations.from_environment()
    with pytest.raises(QueryError):
        ask(locations, "inf:dog", SearchOptions())
    with pytest.raises(KnownError, match="no tag Nope:none"):
        ask(locations, "dog", SearchOptions(tag=("Nope", "none")))


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"",
        b"not json",
        b"[1, 2]",
        b'{"options": {}}',
        b'{"query": 5}',
        b'{"query": "dog", "options": {"bogus": 1}}',
        b'{"query": "dog", "options": {"limit": "many"}}',
        b'{"query": "dog", "options": {"textness": 9}}',
        b'{"query": "dog", "options": 7}',
        b"\xff\xfe garbage",
        b"x" * (MAX_REQUEST + 10),
    ],
    ids=lambda b: repr(b[:30]),
)
def test_a_malformed_request_gets_an_error_and_the_worker_goes_on(
    worker: Worker, request_bytes: bytes
) -> None:
    answer = raw(service_path(), request_bytes)
    assert answer["kind"] == BAD_REQUEST and answer["error"]
    assert ask(Locations.from_environment(), "a red circle", SearchOptions(limit=2))


def test_a_silent_client_does_not_block_others(worker: Worker) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as silent:
        silent.connect(str(service_path()))  # says nothing, holds the connection
        assert ask(Locations.from_environment(), "a red circle", SearchOptions(limit=2))


def test_the_socket_is_the_users_alone(worker: Worker) -> None:
    path = service_path()
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0
    assert path.parent.stat().st_uid == os.getuid()


def test_a_folder_others_can_enter_is_refused(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    shared.chmod(0o755)
    with pytest.raises(KnownError, match="not private"):
        private_folder(shared)


def test_the_peer_check_lets_the_same_user_in() -> None:
    ours, theirs = socket.socketpair(socket.AF_UNIX)
    with ours, theirs:
        assert same_user(ours)


def test_a_stopped_worker_leaves_no_socket_and_search_runs_locally(worker: Worker) -> None:
    path = service_path()
    worker.stop(30)
    assert not path.exists()
    assert ask(Locations.from_environment(), "dog", SearchOptions()) is None


def test_a_stale_socket_file_is_answered_by_nobody_at_once(tmp_path: Path) -> None:
    """A killed worker leaves its socket file: connecting is refused, not hung."""
    path = service_path()
    private_folder(path.parent)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as dead:
        dead.bind(str(path))  # bound, never listening, then closed: the file stays
    assert path.exists()
    started = time.perf_counter()
    assert ask(Locations.from_environment(), "dog", SearchOptions()) is None
    assert time.perf_counter() - started < 1.0
    path.unlink()


def test_a_new_worker_takes_over_a_stale_socket(tmp_path: Path) -> None:
    path = service_path()
    private_folder(path.parent)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as dead:
        dead.bind(str(path))
    service = SearchService(path, _no_searcher)
    service.start()
    try:
        assert raw(path, b'{"query": "dog"}')["kind"] == "unavailable"  # _no_searcher's
        with pytest.raises(KnownError, match="already answers"):
            SearchService(path, _no_searcher).start()  # a live one is not taken over
    finally:
        service.stop()
    assert not path.exists()


def _no_searcher() -> Any:
    raise RuntimeError("no library here")


def test_every_option_travels(tmp_path: Path) -> None:
    options = SearchOptions(
        limit=7, min_score=0.2, relative=0.5, folder=tmp_path, since=1.0, until=2e9,
        tag=("Pets", "dog"), sort="date", textness=-1.5,
    )  # fmt: skip
    assert decode_request(encode_request("dog + cat", options)) == ("dog + cat", options)
    assert decode_request(encode_request("x", SearchOptions())) == ("x", SearchOptions())


def test_a_socket_in_a_folder_others_can_enter_is_not_asked(worker: Worker) -> None:
    """Another user could have put it there to read the queries."""
    folder = service_path().parent
    folder.chmod(0o755)
    try:
        assert ask(Locations.from_environment(), "a red circle", SearchOptions()) is None
    finally:
        folder.chmod(0o700)
    assert ask(Locations.from_environment(), "a red circle", SearchOptions(limit=1))
