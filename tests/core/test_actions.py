"""The GUI's jobs on a real worker, with the test-shapes CLIP (it knows colours)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from photoclip.core.actions import (
    Action,
    AddSuggestedCategories,
    ApplySort,
    ChooseModel,
    CorrectTag,
    CorrectTags,
    ExplainTags,
    LoadModel,
    PlanSort,
    PreviewSuggestedCategories,
    RemoveFolder,
    SaveCategories,
    UndoCorrection,
    UndoSort,
    UpdateSettings,
    weights_file_profile,
)
from photoclip.core.catalog import Catalog
from photoclip.core.categories import Category, Label
from photoclip.core.embedding import Encoder, load_encoder
from photoclip.core.errors import KnownError
from photoclip.core.paths import Locations
from photoclip.core.profiles import resolve_profile
from photoclip.core.settings import Settings
from photoclip.core.sorting import Rule
from photoclip.core.tagstore import TagStore
from photoclip.core.worker import (
    Event,
    IndexFiles,
    JobFailed,
    JobProgress,
    Worker,
    WorkerSettings,
)
from photoclip.synthetic.scenes import single_object_scene

COLOURS = ("red", "green", "blue", "yellow", "purple", "orange")
SETTINGS = WorkerSettings(batch_size=4, settle_seconds=0.1, min_slice=0.0)


@pytest.fixture(scope="module")
def shapes_encoder() -> Encoder:
    return load_encoder(resolve_profile("test-shapes"), device="cpu", threads=1)


@pytest.fixture
def scenes(tmp_path: Path) -> Path:
    folder = tmp_path / "scenes"
    folder.mkdir()
    for i, colour in enumerate(COLOURS):
        single_object_scene(colour, "circle", render_seed=i).render().save(folder / f"{colour}.png")
    return folder.resolve()


class Answers:
    """Replies and failures of the actions sent to one worker."""

    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self.failed: list[JobFailed] = []
        self._done = threading.Event()
        worker.subscribe(self._on_event)

    def _on_event(self, event: Event) -> None:
        if isinstance(event, JobFailed):
            self.failed.append(event)
            self._done.set()

    def ask(self, make: Callable[..., Action], *args: Any) -> Any:
        box: list[Any] = []
        self._done.clear()
        self.worker.submit(make(*args, reply=lambda result: (box.append(result), self._done.set())))
        assert self._done.wait(60), "no answer"
        if not box:
            raise AssertionError(self.failed[-1].message)
        return box[0]


@pytest.fixture
def worker(shapes_encoder: Encoder, scenes: Path) -> Iterator[Answers]:
    models = {"test-shapes": shapes_encoder}
    started = Worker(Locations.from_environment(), models.__getitem__, "test-shapes", SETTINGS)
    answers = Answers(started)
    started.start([scenes])
    assert started.wait_idle(60)
    yield answers
    started.stop(timeout=30)


def catalog() -> Catalog:
    return Catalog.open(Locations.from_environment().catalog, readonly=True)


def tags_by_name() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    with catalog() as opened:
        for tag in TagStore(opened).tags():
            found.setdefault(tag.path.name, set()).add(f"{tag.category}:{tag.label}")
    return found


def colours_category() -> Category:
    return Category("Colours", tuple(Label(c) for c in COLOURS), context="a colour")


def test_load_model_replies_with_the_profile(worker: Answers) -> None:
    assert worker.ask(LoadModel) == "test-shapes"


def test_a_model_loaded_before_any_photo_leaves_the_worker_working(
    shapes_encoder: Encoder, scenes: Path
) -> None:
    models = {"test-shapes": shapes_encoder}
    started = Worker(Locations.from_environment(), models.__getitem__, "test-shapes", SETTINGS)
    answers = Answers(started)
    started.start()
    try:
        assert answers.ask(LoadModel) == "test-shapes"
        started.add_roots([scenes])
        assert started.wait_idle(60)
        with started.searcher() as searcher:
            assert searcher.search("something red")[0].photo.path.name == "red.png"
    finally:
        started.stop(timeout=30)


def test_remove_folder_forgets_its_photos_and_keeps_the_files(
    worker: Answers, scenes: Path
) -> None:
    assert worker.ask(RemoveFolder, scenes) == len(COLOURS)
    with catalog() as opened:
        assert opened.roots() == [] and opened.counts().photos == 0
    assert sorted(p.name for p in scenes.iterdir()) == sorted(f"{c}.png" for c in COLOURS)
    with worker.worker.searcher() as searcher:
        assert len(searcher.library.index()) == 0


def test_removing_an_unknown_folder_fails_with_a_reason(worker: Answers, tmp_path: Path) -> None:
    with pytest.raises(AssertionError, match="not one of PhotoClip's folders"):
        worker.ask(RemoveFolder, tmp_path)


def test_saved_categories_tag_the_library_and_removed_ones_go(worker: Answers) -> None:
    names = worker.ask(SaveCategories, (colours_category(),), ())
    assert "Colours" in names
    tags = tags_by_name()
    assert len(tags) >= 3  # calibration on six photos may abstain on a few
    assert all(found == {f"Colours:{name[:-4]}"} for name, found in tags.items())
    assert "Colours" not in worker.ask(SaveCategories, (), ("Colours",))
    assert not any(t.startswith("Colours:") for found in tags_by_name().values() for t in found)


def test_a_rejected_tag_leaves_the_photo(worker: Answers) -> None:
    worker.ask(SaveCategories, (colours_category(),), ())
    name = sorted(tags_by_name())[0]
    colour = name[:-4]
    with catalog() as opened:
        photo = opened.photo_by_path(next(p for p in _paths(opened) if p.name == name))
    assert photo is not None
    corrected, said = worker.ask(CorrectTag, photo.id, "Colours", colour, "rejected")
    assert corrected == photo.id and said  # e.g. "no other photo changed"
    assert f"Colours:{colour}" not in tags_by_name().get(name, set())
    assert worker.ask(UndoCorrection).startswith(f"Undid rejected '{colour}'")
    assert f"Colours:{colour}" in tags_by_name()[name]
    assert worker.ask(UndoCorrection) is None


def test_a_tag_is_confirmed_on_a_selection_and_removed_from_it_with_one_undo(
    worker: Answers,
) -> None:
    """Issue 19: batch actions on the grid's selection."""
    worker.ask(SaveCategories, (colours_category(),), ())
    with catalog() as opened:
        ids = {p.name: opened.photo_by_path(p).id for p in _paths(opened)}  # type: ignore[union-attr]
    chosen = tuple(ids[f"{c}.png"] for c in ("red", "green", "blue"))
    said = worker.ask(CorrectTags, chosen, "Colours", "purple", "confirmed")
    assert said.startswith("Confirmed 'Colours: purple' on 3 photos; ")
    tags = tags_by_name()
    assert all("Colours:purple" in tags[f"{c}.png"] for c in ("red", "green", "blue"))
    assert worker.ask(UndoCorrection).startswith("Undid confirmed 'purple' on 3 photos")
    tags = tags_by_name()
    assert not any("Colours:purple" in tags.get(f"{c}.png", set()) for c in ("red", "green"))

    tagged = [name for name, found in tags.items() if found]
    said = worker.ask(CorrectTags, tuple(ids[n] for n in tagged), "Colours", "red", "rejected")
    assert said.startswith(f"Removed 'Colours: red' on {len(tagged)} photo")
    assert not any("Colours:red" in found for found in tags_by_name().values())


def test_applying_a_sort_reports_its_steps_as_progress(worker: Answers, tmp_path: Path) -> None:
    """Issue 19: the status bar counts a sort's photos, with a time left."""
    seen: list[JobProgress] = []
    worker.worker.subscribe(lambda e: seen.append(e) if isinstance(e, JobProgress) else None)
    worker.ask(SaveCategories, (colours_category(),), ())
    assert [e.progress.total for e in seen if e.job == "SaveCategories"][-1] == 1  # a category
    with catalog() as opened:
        every = tuple(opened.filter_ids())
    rule = Rule.parse(f"Colours:*={tmp_path / 'sorted'}/{{label}}", "copy")
    plan = worker.ask(PlanSort, (rule,), every[:2])
    assert len(plan.steps) <= 2 and {s.photo_id for s in plan.steps} <= set(every[:2])
    worker.ask(ApplySort)
    counts = [(e.progress.done, e.progress.total) for e in seen if e.job == "ApplySort"]
    assert counts == [(n, len(plan.steps)) for n in range(1, len(plan.steps) + 1)]


def test_suggested_categories_are_previewed_then_added_only_on_request(worker: Answers) -> None:
    with catalog() as opened:
        assert TagStore(opened).categories() == []  # nothing installed silently
    previews = worker.ask(PreviewSuggestedCategories)
    assert "Pets" in [name for name, _, _ in previews]
    with catalog() as opened:
        indexed = len(opened.photo_ids_with_vectors(opened.get_meta("active_model") or ""))
    assert indexed and all(0 <= tagged <= total == indexed for _, tagged, total in previews)
    assert tags_by_name() == {}  # a preview tags nothing
    assert worker.ask(AddSuggestedCategories, ("Pets",)) == ["Pets"]
    assert "Pets" not in [name for name, _, _ in worker.ask(PreviewSuggestedCategories)]


def test_a_photo_s_tags_are_explained_label_by_label(worker: Answers) -> None:
    worker.ask(SaveCategories, (colours_category(),), ())
    with catalog() as opened:
        photo = opened.photo_by_path(next(p for p in _paths(opened) if p.name == "blue.png"))
    assert photo is not None
    photo_id, explained = worker.ask(ExplainTags, photo.id)
    colours = next(e for e in explained if e.category == "Colours")
    assert photo_id == photo.id and colours.scores[0].label == "blue"
    assert len(colours.scores) == len(COLOURS)


def whole_library_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every read of all the photo vectors (what a cold Tagger does first), by model key."""
    reads: list[str] = []
    original = Catalog.photo_vectors

    def spy(self: Catalog, model_key: str, ids: Any = None, *, newer_than: Any = None) -> Any:
        if ids is None and newer_than is None:
            reads.append(model_key)
        return original(self, model_key, ids, newer_than=newer_than)

    monkeypatch.setattr(Catalog, "photo_vectors", spy)
    return reads


def test_a_second_tag_job_reuses_the_tagger_until_the_photos_change(
    worker: Answers, scenes: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads = whole_library_reads(monkeypatch)
    worker.ask(SaveCategories, (colours_category(),), ())
    first = len(reads)
    assert first >= 1
    worker.ask(SaveCategories, (colours_category(),), ())
    assert len(reads) == first  # warm: the vectors were kept from the first job
    new = scenes / "late.png"
    single_object_scene("red", "square", render_seed=9).render().save(new)
    worker.worker.submit(IndexFiles((new,)))
    assert worker.worker.wait_idle(60)
    worker.ask(SaveCategories, (colours_category(),), ())
    assert len(reads) == first + 1  # a new photo: read again, never a stale copy


def test_the_next_tag_job_follows_saved_categories(worker: Answers) -> None:
    worker.ask(SaveCategories, (colours_category(),), ())
    fewer = Category("Colours", (Label("red"), Label("blue")), context="a colour")
    worker.ask(SaveCategories, (fewer,), ())
    with catalog() as opened:
        photo = opened.photo_by_path(next(p for p in _paths(opened) if p.name == "blue.png"))
    assert photo is not None
    _, explained = worker.ask(ExplainTags, photo.id)
    colours = next(e for e in explained if e.category == "Colours")
    assert sorted(s.label for s in colours.scores) == ["blue", "red"]
    tagged = {t for found in tags_by_name().values() for t in found if t.startswith("Colours:")}
    assert tagged <= {"Colours:red", "Colours:blue"}


def test_the_next_tag_job_follows_the_model_switched_to(
    shapes_encoder: Encoder, tiny_encoder: Any, scenes: Path
) -> None:
    models = {"test-shapes": shapes_encoder, tiny_encoder.profile.name: tiny_encoder}
    started = Worker(Locations.from_environment(), models.__getitem__, "test-shapes", SETTINGS)
    answers = Answers(started)
    started.start([scenes])
    try:
        assert started.wait_idle(60)
        answers.ask(SaveCategories, (colours_category(),), ())
        started.switch_model(tiny_encoder.profile.name)
        assert started.wait_idle(60)
        answers.ask(SaveCategories, (colours_category(),), ())
    finally:
        started.stop(timeout=30)
    with catalog() as opened:
        assert opened.active_model == tiny_encoder.model_key
        calibrated = TagStore(opened).calibration(tiny_encoder.model_key)
        assert len(calibrated) == len(COLOURS)  # the new model's scores, not the old ones


def test_an_idle_tagger_is_dropped_with_the_model(
    shapes_encoder: Encoder, scenes: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    models = {"test-shapes": shapes_encoder}
    quick = replace(SETTINGS, unload_after=0.2)
    started = Worker(Locations.from_environment(), models.__getitem__, "test-shapes", quick)
    answers = Answers(started)
    started.start([scenes])
    try:
        assert started.wait_idle(60)
        reads = whole_library_reads(monkeypatch)
        answers.ask(SaveCategories, (colours_category(),), ())
        first = len(reads)
        time.sleep(0.6)  # the worker wakes for the drop on its own
        answers.ask(SaveCategories, (colours_category(),), ())
        assert len(reads) == first + 1
    finally:
        started.stop(timeout=30)


def test_a_label_renamed_by_save_categories_keeps_its_confirmed_tag(worker: Answers) -> None:
    worker.ask(SaveCategories, (colours_category(),), ())
    with catalog() as opened:
        stored = TagStore(opened).category("Colours")
        photo = opened.photo_by_path(next(p for p in _paths(opened) if p.name == "blue.png"))
    assert stored is not None and photo is not None
    worker.ask(CorrectTag, photo.id, "Colours", "blue", "confirmed")
    labels = tuple(
        replace(lab, name="navy") if lab.name == "blue" else lab for lab in stored.labels
    )
    worker.ask(SaveCategories, (stored.with_labels(labels),), ())
    with catalog() as opened:
        mine = [(t.category, t.label, t.source) for t in TagStore(opened).tags([photo.id])]
    assert ("Colours", "navy", "confirmed") in mine


def test_sort_plans_applies_and_undoes(worker: Answers, tmp_path: Path) -> None:
    worker.ask(SaveCategories, (colours_category(),), ())
    name = sorted(tags_by_name())[0]
    target = tmp_path / "sorted"
    rule = Rule.parse(f"Colours:{name[:-4]}={target}/{{label}}", "copy")
    plan = worker.ask(PlanSort, (rule,))
    assert [Path(s.destination).name for s in plan.steps] == [name]
    assert not target.exists()
    worker.ask(ApplySort)
    assert (target / name[:-4] / name).is_file()
    worker.ask(UndoSort)
    assert not (target / name[:-4] / name).exists()


def test_choosing_a_model_saves_it_and_a_bad_name_changes_nothing(worker: Answers) -> None:
    assert worker.ask(ChooseModel, "test-shapes") == "test-shapes"
    settings = Settings.load(Locations.from_environment().settings)
    assert settings.model == "test-shapes"
    with pytest.raises(AssertionError, match="does not exist"):
        worker.ask(ChooseModel, "ViT-B-32:/no/such/weights.safetensors")
    assert worker.worker.profile == "test-shapes"


def test_settings_change_only_what_is_asked(worker: Answers) -> None:
    path = Locations.from_environment().settings
    Settings(model="test-shapes", threads=2).save(path)
    changed = worker.ask(UpdateSettings, (("speeds", {"test-shapes": 40.0}),))
    assert changed == Settings.load(path)
    assert (changed.model, changed.threads, changed.speeds) == (
        "test-shapes",
        2,
        {"test-shapes": 40.0},
    )


def test_a_new_thumbnail_folder_is_written_from_then_on_and_the_old_one_kept(
    worker: Answers, scenes: Path, tmp_path: Path
) -> None:
    locations = Locations.from_environment()
    old = sorted(locations.thumbnails.rglob("*.jpg"))
    assert len(old) == len(COLOURS)
    chosen = tmp_path / "elsewhere" / "thumbs"
    saved = worker.ask(UpdateSettings, (("thumbnail_cache", str(chosen)),))
    assert saved.thumbnail_cache == Settings.load(locations.settings).thumbnail_cache
    assert worker.worker.wait_idle(60)
    assert len(list(chosen.rglob("*.jpg"))) == len(COLOURS)  # filled in the background
    new = scenes / "new.png"
    single_object_scene("red", "square", render_seed=9).render().save(new)
    worker.worker.submit(IndexFiles((new,)))
    assert worker.worker.wait_idle(60)
    assert len(list(chosen.rglob("*.jpg"))) == len(COLOURS) + 1
    assert sorted(locations.thumbnails.rglob("*.jpg")) == old  # never deleted
    with worker.worker.searcher() as searcher:
        assert searcher.library.thumbnails.folder == chosen  # readers (duplicates) look there


def test_a_thumbnail_folder_that_cannot_be_used_changes_nothing(
    worker: Answers, tmp_path: Path
) -> None:
    path = Locations.from_environment().settings
    before = Settings.load(path)
    (tmp_path / "a-file").write_text("a file, not a folder")
    unusable = tmp_path / "a-file" / "thumbs"
    with pytest.raises(AssertionError, match=r"Thumbnails cannot be kept in .*a-file"):
        worker.ask(UpdateSettings, (("thumbnail_cache", str(unusable)), ("textness", 1.5)))
    assert Settings.load(path) == before
    with worker.worker.searcher() as searcher:
        assert searcher.library.thumbnails.folder == Locations.from_environment().thumbnails


def test_a_weights_file_is_a_profile_of_its_own(tmp_path: Path) -> None:
    """The file alone, absolute: its architecture is read from the file when it loads."""
    weights = tmp_path / "w.safetensors"
    weights.write_bytes(b"weights")
    assert weights_file_profile(weights) == str(weights.resolve())
    with pytest.raises(KnownError, match="does not exist"):
        weights_file_profile(tmp_path / "gone.safetensors")


def _paths(opened: Catalog) -> list[Path]:
    return [p.path for p in opened.photos(sorted(opened.filter_ids())).values()]
