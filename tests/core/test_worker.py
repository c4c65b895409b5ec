"""The background worker with real watchdog observers, SQLite, hnswlib and a tiny CLIP."""

from __future__ import annotations

import dataclasses
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from photoclip.core.catalog import Catalog
from photoclip.core.indexing import IndexReport
from photoclip.core.paths import Locations
from photoclip.core.profiles import ModelProfile
from photoclip.core.search import SearchOptions
from photoclip.core.worker import (
    BULK,
    PAUSED,
    USER,
    Event,
    Job,
    JobFailed,
    JobFinished,
    JobProgress,
    ModelActivated,
    RootStatusChanged,
    Work,
    Worker,
    WorkerSettings,
)
from photoclip.core.workerstatus import read_status
from tests.conftest import TINY_ARCH
from tests.photos import make_photo

FAST = WorkerSettings(batch_size=4, settle_seconds=0.15, offline_recheck=0.2, min_slice=0.0)


def eventually(check: Callable[[], Any], timeout: float = 10.0) -> Any:
    """Poll `check` until it returns something truthy; fail at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not true after {timeout} s: {check}")
        time.sleep(0.03)


def catalog() -> Catalog:
    return Catalog.open(Locations.from_environment().catalog, readonly=True)


def ids_by_name() -> dict[str, int]:
    with catalog() as opened:
        photos = opened.photos(sorted(opened.filter_ids()))
    return {p.path.name: p.id for p in photos.values()}


def paths() -> set[Path]:
    with catalog() as opened:
        return {p.path for p in opened.photos(sorted(opened.filter_ids())).values()}


class Recorder:
    def __init__(self) -> None:
        self.events: list[Event] = []

    def __call__(self, event: Event) -> None:
        self.events.append(event)

    def of(self, kind: type) -> list[Any]:
        return [e for e in list(self.events) if isinstance(e, kind)]

    @property
    def embedded(self) -> int:
        return sum(e.report.embedded for e in self.of(JobFinished) if e.report)

    @property
    def files_read(self) -> int:
        return sum(e.progress.total for e in self.of(JobProgress))


@pytest.fixture
def encoders(tiny_encoder: Any) -> dict[str, Any]:
    other = dataclasses.replace(
        tiny_encoder, profile=ModelProfile("tiny-b", TINY_ARCH, pretrained="b")
    )
    return {tiny_encoder.profile.name: tiny_encoder, "tiny-b": other}


@pytest.fixture
def album(tmp_path: Path) -> Path:
    folder = tmp_path / "album"
    for i in range(8):
        make_photo(folder / f"sub{i % 2}" / f"photo{i}.jpg", (40 * i, 90, 200 - 20 * i), pattern=i)
    return folder.resolve()


@pytest.fixture
def start(encoders: dict[str, Any]) -> Iterator[Callable[..., tuple[Worker, Recorder]]]:
    workers: list[Worker] = []

    def start(
        *roots: Path, profile: str = TINY_ARCH, settings: WorkerSettings = FAST, idle: bool = True
    ) -> tuple[Worker, Recorder]:
        worker = Worker(Locations.from_environment(), encoders.__getitem__, profile, settings)
        recorder = Recorder()
        worker.subscribe(recorder)
        workers.append(worker)
        worker.start(list(roots))
        if idle:
            assert worker.wait_idle(30)
        return worker, recorder

    yield start
    for worker in workers:
        worker.stop(timeout=30)


def test_start_indexes_and_a_new_file_becomes_searchable(start: Any, album: Path) -> None:
    worker, _ = start(album)
    assert len(ids_by_name()) == 8
    new = make_photo(album / "sub0" / "new.jpg", (10, 250, 10))
    eventually(lambda: new in paths())
    with worker.searcher() as searcher:
        photo = searcher.library.catalog.photo_by_path(new)
        eventually(lambda: photo.id in searcher.library.index())
        assert any(r.photo.path == new for r in searcher.search("green", None))


def test_a_new_library_s_first_model_is_announced_once(start: Any, album: Path) -> None:
    """The first model is recorded before its first vector (a first run killed early
    keeps it); listeners still hear that it is the one searches use, once."""
    worker, recorder = start(album)
    assert [e.model_key for e in recorder.of(ModelActivated)] == [worker.encoder().model_key]
    make_photo(album / "sub0" / "new.jpg", (10, 250, 10))
    eventually(lambda: album / "sub0" / "new.jpg" in paths())
    assert worker.wait_idle(30)
    assert len(recorder.of(ModelActivated)) == 1


def test_a_root_another_process_adds_is_picked_up_and_watched(
    start: Any, album: Path, tmp_path: Path
) -> None:
    """Reported: a `watch` started before a concurrent `index` added a root never picked
    that root up (40 files never indexed while status said idle)."""
    start(album)
    other = tmp_path / "other"
    for i in range(3):
        make_photo(other / f"o{i}.jpg", (20, 40 * i, 90), pattern=20 + i)
    elsewhere = Catalog.open(Locations.from_environment().catalog)
    with elsewhere, elsewhere.transaction():  # as an `index` killed just after this
        elsewhere.add_root(other.resolve())
    eventually(lambda: {p.name for p in paths()} >= {"o0.jpg", "o1.jpg", "o2.jpg"})
    later = make_photo(other / "later.jpg", (250, 250, 0), pattern=30)
    eventually(lambda: later.resolve() in paths())


def test_hidden_folders_are_ignored_like_the_scanner_does(start: Any, album: Path) -> None:
    worker, _ = start(album)
    make_photo(album / ".cache" / "thumb.jpg")
    visible = make_photo(album / "visible.jpg")
    eventually(lambda: visible in paths())
    assert worker.wait_idle(10)
    assert album / ".cache" / "thumb.jpg" not in paths()


def test_a_modified_file_is_embedded_again_under_its_id(start: Any, album: Path) -> None:
    start(album)
    before = ids_by_name()
    target = album / "sub1" / "photo3.jpg"

    def content_hash() -> str | None:
        with catalog() as opened:
            photo = opened.photo_by_path(target)
            return photo.content_hash if photo else None

    old_hash = content_hash()
    make_photo(target, (255, 255, 0), pattern=77)

    def rehashed() -> bool:
        return content_hash() not in (old_hash, None)

    eventually(rehashed)
    assert ids_by_name() == before


def test_rename_and_move_between_folders_keep_ids(start: Any, album: Path) -> None:
    _, recorder = start(album)
    before, embedded = ids_by_name(), recorder.embedded
    (album / "sub0" / "photo0.jpg").rename(album / "sub0" / "renamed.jpg")
    (album / "sub1" / "photo1.jpg").rename(album / "sub0" / "photo1.jpg")
    eventually(lambda: album / "sub0" / "renamed.jpg" in paths())
    eventually(lambda: album / "sub0" / "photo1.jpg" in paths())
    after = ids_by_name()
    assert after["renamed.jpg"] == before["photo0.jpg"]
    assert after["photo1.jpg"] == before["photo1.jpg"]
    assert len(after) == 8
    assert recorder.embedded == embedded


def test_a_renamed_folder_costs_no_embedding_and_no_hashing(start: Any, album: Path) -> None:
    (album / "sub0b").mkdir()  # a sibling whose name starts like the moved folder's
    make_photo(album / "sub0b" / "keep.jpg", (1, 2, 3))
    worker, recorder = start(album)
    before, embedded, read = ids_by_name(), recorder.embedded, recorder.files_read
    (album / "sub0").rename(album / "renamed")
    eventually(lambda: album / "renamed" / "photo0.jpg" in paths())
    assert worker.wait_idle(10)
    assert ids_by_name() == before
    assert album / "sub0b" / "keep.jpg" in paths()
    assert (recorder.embedded, recorder.files_read) == (embedded, read)


def test_deleted_file_and_folder_leave_the_catalog_and_the_index(start: Any, album: Path) -> None:
    worker, _ = start(album)
    (album / "sub0" / "photo0.jpg").unlink()
    shutil.rmtree(album / "sub1")
    eventually(lambda: len(paths()) == 3)
    assert worker.wait_idle(10)
    with worker.searcher() as searcher:
        assert len(searcher.library.index()) == 3


def test_files_added_while_a_batch_is_indexing(start: Any, tmp_path: Path) -> None:
    big = tmp_path / "big"
    for i in range(40):
        make_photo(big / f"p{i}.jpg", (i * 6, 80, 120), pattern=i)
    landed = threading.Event()

    def land_during_the_first_batch(event: Event) -> None:
        if isinstance(event, JobProgress) and not landed.is_set():
            landed.set()
            for i in range(5):
                make_photo(big / "late" / f"late{i}.jpg", (250, i * 40, 0), pattern=i)

    worker, _ = start()
    worker.subscribe(land_during_the_first_batch)
    worker.add_roots([big])
    eventually(lambda: len(paths()) == 45, timeout=30)
    assert worker.wait_idle(30)
    with worker.searcher() as searcher:
        assert len(searcher.library.index()) == 45


def test_search_during_indexing_returns_consistent_results(
    start: Any, album: Path, tmp_path: Path
) -> None:
    big = tmp_path / "big"
    for i in range(40):
        make_photo(big / f"p{i}.jpg", (i * 6, 80, 120), pattern=i)
    worker, recorder = start(album)
    scans = len(recorder.of(JobFinished))
    worker.add_roots([big])
    problems, sizes = [], []
    with worker.searcher() as searcher:
        while len(recorder.of(JobFinished)) == scans:
            results = searcher.search("red", SearchOptions(limit=100))
            ids = [r.photo.id for r in results]
            sizes.append(len(ids))
            if len(ids) != len(set(ids)):
                problems.append(f"duplicates: {ids}")
            problems += [str(r.photo.path) for r in results if not r.photo.path.exists()]
    assert worker.wait_idle(30)
    assert sizes and not problems
    assert sizes == sorted(sizes) and sizes[0] >= 8  # only ever grows, never loses photos
    with worker.searcher() as searcher:
        assert len(searcher.search("red", SearchOptions(limit=100))) == 48


def test_an_unplugged_root_goes_offline_and_comes_back_unchanged(
    start: Any, album: Path, tmp_path: Path
) -> None:
    worker, recorder = start(album)
    before, embedded = ids_by_name(), recorder.embedded
    away = tmp_path / "unplugged"
    album.rename(away)
    eventually(lambda: [e for e in recorder.of(RootStatusChanged) if not e.online])
    assert ids_by_name() == before  # nothing deleted
    with catalog() as opened:
        assert [r.online for r in opened.roots()] == [False]
    away.rename(album)
    eventually(lambda: [e for e in recorder.of(RootStatusChanged) if e.online])
    assert worker.wait_idle(10)
    assert ids_by_name() == before
    assert recorder.embedded == embedded


def test_a_deleted_root_goes_offline_and_stays_known(start: Any, album: Path) -> None:
    _, recorder = start(album)
    shutil.rmtree(album)  # files deleted one by one may go; the root itself stays known
    eventually(lambda: [e for e in recorder.of(RootStatusChanged) if not e.online])
    with catalog() as opened:
        assert [(r.path, r.online) for r in opened.roots()] == [(album, False)]


def test_cancel_stops_the_running_scan_and_a_rescan_finishes_it(
    start: Any, tmp_path: Path, tiny_encoder: Any
) -> None:
    big = tmp_path / "big"
    for i in range(40):
        make_photo(big / f"p{i}.jpg", (i * 6, 80, 120), pattern=i)
    worker = Worker(Locations.from_environment(), lambda name: tiny_encoder, TINY_ARCH, FAST)
    recorder = Recorder()
    worker.subscribe(recorder)

    def cancel_on_progress(event: Event) -> None:
        if isinstance(event, JobProgress):
            worker.cancel()

    worker.subscribe(cancel_on_progress)
    worker.start([big])
    try:
        assert worker.wait_idle(30)
    finally:
        worker.stop()
    finished = recorder.of(JobFinished)
    assert finished[0].report.cancelled and not finished[0].yielded
    assert len(paths()) < 40
    start(big)
    assert len(paths()) == 40


def test_a_root_missing_at_start_is_offline_not_deleted(
    start: Any, album: Path, tmp_path: Path
) -> None:
    worker, _ = start(album)
    before = ids_by_name()
    worker.stop()
    album.rename(tmp_path / "away")
    album.mkdir()  # an empty mount point
    start()
    with catalog() as opened:
        assert [r.online for r in opened.roots()] == [False]
    assert ids_by_name() == before


def test_switching_models_searches_the_old_vectors_until_done(
    start: Any, album: Path, encoders: dict[str, Any]
) -> None:
    worker, recorder = start(album)
    old_key, new_key = encoders[TINY_ARCH].model_key, encoders["tiny-b"].model_key
    before = ids_by_name()
    seen_active: list[str | None] = []

    def during(event: Event) -> None:
        if isinstance(event, JobProgress):
            with catalog() as opened:
                seen_active.append(opened.active_model)

    worker.subscribe(during)
    worker.switch_model("tiny-b")
    eventually(lambda: recorder.of(ModelActivated)[-1].model_key == new_key)
    assert seen_active and set(seen_active) == {old_key}
    with catalog() as opened:
        assert opened.active_model == new_key
        assert opened.embedded_hashes(old_key) == set()
        assert len(opened.photo_ids_with_vectors(new_key)) == 8
    assert ids_by_name() == before


def test_an_interrupted_switch_resumes_at_the_next_start(
    start: Any, album: Path, encoders: dict[str, Any]
) -> None:
    worker, _ = start(album)
    old_key, new_key = encoders[TINY_ARCH].model_key, encoders["tiny-b"].model_key
    stopped = threading.Event()

    def stop_after_first_batch(event: Event) -> None:
        if isinstance(event, JobProgress) and event.progress.done and not stopped.is_set():
            stopped.set()
            threading.Thread(target=worker.stop).start()

    worker.subscribe(stop_after_first_batch)
    worker.switch_model("tiny-b")
    eventually(lambda: worker.state == "stopped")
    with catalog() as opened:
        assert opened.active_model == old_key
        assert 0 < len(opened.photo_ids_with_vectors(new_key)) < 8
    _, recorder = start(profile="tiny-b")
    eventually(lambda: recorder.of(ModelActivated))
    with catalog() as opened:
        assert opened.active_model == new_key
        assert len(opened.photo_ids_with_vectors(new_key)) == 8


def test_a_library_embedded_with_the_old_framing_is_re_embedded_while_searches_answer(
    start: Any, album: Path, encoders: dict[str, Any], tmp_path: Path
) -> None:
    """Issue 20: vectors of the centre crop (the framing before whole-frame embedding) are
    another model's. The same profile at the next start re-embeds them in the background
    (the model-switch path); searches answer from the old vectors all the while."""
    import open_clip

    from photoclip.core.imageio import read_photo
    from photoclip.core.profiles import LEGACY_FRAMING

    whole = encoders[TINY_ARCH]
    legacy = dataclasses.replace(
        whole,
        profile=dataclasses.replace(whole.profile, framing=LEGACY_FRAMING),
        preprocess=open_clip.image_transform(whole.input_size, is_train=False),
    )
    for i in range(24):  # enough batches that searches happen mid-way
        make_photo(album / "more" / f"p{i}.jpg", (i * 9, 60, 150), pattern=i, size=(320, 180))
    encoders[TINY_ARCH] = legacy
    before, _ = start(album)
    before.stop(timeout=30)
    with catalog() as opened:
        assert opened.active_model == legacy.model_key != whole.model_key
    encoders[TINY_ARCH] = whole
    answers: list[int] = []

    def search_now(event: Event) -> None:
        if isinstance(event, JobProgress) and event.progress.done < event.progress.total:
            with worker.searcher() as searcher:
                answers.append(len(searcher.search("red", SearchOptions(limit=100))))

    worker = Worker(Locations.from_environment(), encoders.__getitem__, TINY_ARCH, FAST)
    recorder = Recorder()
    worker.subscribe(recorder)
    worker.subscribe(search_now)
    worker.start()
    try:
        eventually(lambda: recorder.of(ModelActivated), timeout=60)
    finally:
        worker.stop(timeout=30)
    assert answers and set(answers) == {32}  # every photo found, before and during
    with catalog() as opened:
        assert opened.active_model == whole.model_key
        assert opened.embedded_hashes(legacy.model_key) == set()
        ids, vectors = opened.photo_vectors(whole.model_key)
        wide = opened.photos(sorted(int(i) for i in ids))
    assert len(ids) == 32
    for photo_id, vector in zip(ids, vectors, strict=True):  # the whole frame, as read now
        path = wide[int(photo_id)].path
        expected = whole.encode_prepared([read_photo(path, whole.input_size, whole.prepare).tensor])
        assert float(vector @ expected[0]) > 0.999


class Note(Job):
    """A custom job (the extension point a re-tag job will use)."""

    log: ClassVar[list[str]] = []

    def __init__(self, label: str, priority: int) -> None:
        self.label, self.priority = label, priority  # type: ignore[misc]

    def run(self, work: Work) -> IndexReport | None:
        Note.log.append(self.label)
        return None


def test_user_jobs_run_before_bulk_work_and_pause_holds_the_queue(start: Any, album: Path) -> None:
    worker, _ = start(album)
    Note.log.clear()
    worker.pause()
    worker.submit(Note("bulk", BULK))
    worker.submit(Note("user", USER))
    time.sleep(0.2)  # paused: nothing may run (a negative check needs a wait)
    assert Note.log == []
    worker.resume()
    eventually(lambda: len(Note.log) == 2)
    assert Note.log == ["user", "bulk"]


def test_a_resume_that_lands_just_before_the_worker_sleeps_is_not_slept_through(
    start: Any, album: Path
) -> None:
    worker, _ = start(album)
    next_wakeup = worker._next_wakeup

    def resume_between_publishing_and_sleeping() -> float | None:
        if worker.state == PAUSED and worker._paused:
            worker.resume()  # after the worker read its state, before it takes the lock
        return next_wakeup()

    worker._next_wakeup = resume_between_publishing_and_sleeping  # type: ignore[method-assign]
    worker.pause()
    eventually(lambda: not worker._paused)
    eventually(lambda: worker.state != PAUSED, timeout=5)


def test_the_idle_model_is_unloaded_and_loaded_again_on_demand(start: Any, album: Path) -> None:
    settings = dataclasses.replace(FAST, unload_after=0.2)
    worker, _ = start(album, settings=settings)
    eventually(lambda: worker._models.loaded == [])
    new = make_photo(album / "again.jpg", (0, 0, 0))
    eventually(lambda: new in paths())  # indexing it needed the model: loaded again
    eventually(lambda: worker._models.loaded == [])


def test_the_status_file_tells_another_process_the_state(start: Any, album: Path) -> None:
    locations = Locations.from_environment()
    worker, _ = start(album)
    status = read_status(locations)
    assert (status["worker"], status["queue"]) == ("idle", 0)
    worker.stop()
    assert read_status(locations)["worker"] == "stopped"


def test_the_after_commit_hook_sees_every_committed_photo(album: Path, tiny_encoder: Any) -> None:
    committed: list[int] = []

    def hook(library: Any, encoder: Any) -> Callable[[list[int]], None]:
        assert encoder is tiny_encoder
        return committed.extend

    worker = Worker(
        Locations.from_environment(), lambda name: tiny_encoder, TINY_ARCH, FAST, after_commit=hook
    )
    worker.start([album])
    try:
        assert worker.wait_idle(30)
    finally:
        worker.stop()
    assert sorted(committed) == sorted(ids_by_name().values())


class _Broken(Job):
    """A job with a bug in it."""

    def run(self, work: Work) -> None:
        raise ZeroDivisionError("division by zero")


def test_a_job_with_a_bug_fails_in_words_and_the_worker_goes_on(start: Any, album: Path) -> None:
    worker, recorder = start(album)
    worker.submit(_Broken())
    failed = eventually(lambda: recorder.of(JobFailed))
    assert failed[0].message == (
        "_Broken stopped on an unexpected problem: division by zero. "
        "The log file (photoclip.log) has the details."
    )
    assert "ZeroDivisionError" not in failed[0].message
    assert worker.wait_idle(10)


def test_a_data_folder_inside_a_watched_root_does_not_feed_itself(
    start: Any, album: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 16: thumbnails written into a watched data folder were indexed as photos,
    whose thumbnails were indexed in turn; the queue grew without end."""
    data = album / "PhotoClip"
    monkeypatch.setenv("PHOTOCLIP_DATA_DIR", str(data))
    worker, recorder = start(album)
    new = make_photo(album / "sub0" / "new.jpg", (10, 250, 10))
    eventually(lambda: new in paths())
    make_photo(data / "thumbnails" / "stray.jpg")  # as if PhotoClip wrote it
    time.sleep(4 * FAST.settle_seconds)
    assert worker.wait_idle(10)
    assert worker.queue_length == 0
    assert len(paths()) == 9
    assert not [p for p in paths() if p.is_relative_to(data)]
    assert recorder.embedded == 9


def test_with_a_text_export_searches_and_label_edits_never_load_the_model(
    album: Path, tmp_path: Path
) -> None:
    """A worker whose model is not loaded (unloaded, or not yet) answers text searches and
    embeds new labels from the model's ONNX export (photoclip.core.textexport)."""
    from photoclip.core.actions import SaveCategories
    from photoclip.core.categories import Category, Label
    from photoclip.core.embedding import load_encoder
    from photoclip.core.profiles import resolve_profile
    from photoclip.core.tagstore import TagStore
    from photoclip.core.textexport import export_text

    locations = Locations.from_environment()
    shapes = load_encoder(resolve_profile("test-shapes"), device="cpu")
    indexing = Worker(locations, lambda _: shapes, "test-shapes", FAST)
    indexing.start([album])
    assert indexing.wait_idle(60)
    with indexing.searcher() as searcher:
        by_torch = searcher.search("a red circle", SearchOptions(limit=3))
    indexing.stop(30)
    export_text(shapes, locations.cache)

    def no_model(name: str) -> Any:
        raise AssertionError(f"the model {name} was loaded")

    worker = Worker(locations, no_model, "test-shapes", FAST)
    worker.start()
    try:
        assert worker.wait_idle(60)
        with worker.searcher() as searcher:
            by_onnx = searcher.search("a red circle", SearchOptions(limit=3))
        assert [r.photo.id for r in by_onnx] == [r.photo.id for r in by_torch]
        replies: list[Any] = []
        shapes_category = Category("Shapes", (Label("star"), Label("circle", ("ring",))))
        worker.submit(SaveCategories((shapes_category,), reply=replies.append))
        assert worker.wait_idle(60)
        assert replies == [["Shapes"]]  # embedded, calibrated and tagged without the model
        with Catalog.open(locations.catalog, readonly=True) as catalog:
            assert TagStore(catalog).category("Shapes") is not None
    finally:
        worker.stop(30)


def test_a_loaded_model_is_exported_once_the_worker_is_idle(
    start: Any, album: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import photoclip.core.worker as worker_module

    exported: list[tuple[str, Path]] = []
    monkeypatch.setattr(
        worker_module, "start_export", lambda profile, cache: exported.append((profile.key, cache))
    )
    worker, _ = start(album)  # indexes: loads the model
    assert worker.wait_idle(30)
    key = worker.encoder().model_key
    eventually(lambda: exported)
    assert exported == [(key, Locations.from_environment().cache)]


@pytest.mark.parametrize("setting, expected", [(0, 3), (5, 5)])
def test_batches_are_the_profiles_size_unless_the_settings_say(
    tiny_encoder: Any, album: Path, setting: int, expected: int
) -> None:
    profile = dataclasses.replace(tiny_encoder.profile, batch_size=3)
    encoder = dataclasses.replace(tiny_encoder, profile=profile)
    settings = dataclasses.replace(FAST, batch_size=setting)
    worker = Worker(Locations.from_environment(), lambda _: encoder, profile.name, settings)
    recorder = Recorder()
    worker.subscribe(recorder)
    worker.start([album])
    try:
        assert worker.wait_idle(30)
    finally:
        worker.stop(30)
    done = [e.progress.done for e in recorder.of(JobProgress) if e.progress.done]
    assert done[0] == expected  # the first batch (of 8 photos)
