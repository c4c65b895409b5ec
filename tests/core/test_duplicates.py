"""Near-duplicate groups: the pure parts on vectors, the fingerprint on generated images, and
the whole finder with the test-shapes model through the real indexing path."""

from __future__ import annotations

import io
import os
import random
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter

from photoclip.core.catalog import Photo
from photoclip.core.duplicates import (
    COPY_MAX,
    CROPPED,
    EDITED,
    MIRRORED,
    REENCODED,
    RESIZED,
    ROTATED,
    SAME,
    SIMILAR,
    DuplicateFinder,
    DuplicateGroup,
    Match,
    choose_keeper,
    connected_groups,
    group_vectors,
    hash_candidates,
    kind_of,
    one_path_per_file,
    whole_alignments,
)
from photoclip.core.fingerprints import Alignment, fingerprint, summaries
from photoclip.core.vectorindex import IndexSettings, VectorIndex


def photo_like(seed: int, size: tuple[int, int] = (240, 180)) -> Image.Image:
    """A gradient with blotches and a few shapes: texture at every scale, like a photo."""
    rng = random.Random(seed)
    width, height = size
    start, end = (np.array([rng.randrange(256) for _ in range(3)], float) for _ in range(2))
    ramp = np.linspace(0, 1, width)[None, :, None]
    pixels = np.broadcast_to(start + (end - start) * ramp, (height, width, 3)).copy()
    blotches = np.random.default_rng(seed).normal(0, 40, (6, 8, 3))
    pixels += np.asarray(Image.fromarray(blotches.astype(np.float32)[..., 0], "F").resize(size))[
        ..., None
    ]
    image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(image)
    for _ in range(rng.randint(3, 6)):
        x, y, r = rng.uniform(0, width), rng.uniform(0, height), rng.uniform(12, 60)
        colour = tuple(rng.randrange(256) for _ in range(3))
        shape = draw.ellipse if rng.random() < 0.5 else draw.rectangle
        shape((x - r, y - r * rng.uniform(0.5, 1.5), x + r, y + r), fill=colour)
    return image.filter(ImageFilter.GaussianBlur(0.6))


def copies(image: Image.Image, rng: random.Random) -> dict[str, Image.Image]:
    """Resized, re-encoded at JPEG quality 15, cropped by 10% (anywhere), rotated."""
    width, height = image.size
    encoded = io.BytesIO()
    image.save(encoded, "JPEG", quality=15)
    x, y = rng.choice((0, width // 20, width // 10)), rng.choice((0, height // 20, height // 10))
    return {
        "resized": image.resize((width // 2, height // 2), Image.Resampling.LANCZOS),
        "jpeg15": Image.open(io.BytesIO(encoded.getvalue())).convert("RGB"),
        "crop10": image.crop((x, y, x + width * 9 // 10, y + height * 9 // 10)),
        "rot90": image.rotate(90, expand=True),
        "rot180": image.rotate(180),
        "rot270": image.rotate(270, expand=True),
        "mirror": image.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
    }


# -- pure parts ---------------------------------------------------------------------------------


def test_union_find_joins_chains_and_orders_groups_by_size() -> None:
    groups = connected_groups([(5, 6), (1, 2), (2, 3), (3, 4), (9, 8)])
    assert groups == [[1, 2, 3, 4], [5, 6], [8, 9]]


def test_keeper_is_the_largest_then_the_oldest() -> None:
    base = Photo(1, Path("/a.jpg"), 1, 10, 5_000_000_000, "h", 100, 100, None, "indexed", None)
    small = replace(base, id=2, path=Path("/b.jpg"), width=50, taken_at=1.0)
    newer = replace(base, id=3, path=Path("/c.jpg"), taken_at=9.0)
    older = replace(base, id=4, path=Path("/d.jpg"), taken_at=2.0)
    assert choose_keeper([small, newer, older]) == older
    assert choose_keeper([small, newer]) == newer


@pytest.mark.parametrize("kind", ["exact", "hnsw"])
def test_vectors_group_planted_duplicates_through_either_index(kind: str) -> None:
    rng = np.random.default_rng(1)
    base = rng.normal(size=(300, 48))
    near = base[:100] + rng.normal(scale=0.05, size=(100, 48))  # cosine ~0.99 to their base
    vectors = np.vstack([base, near]).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = np.arange(400) + 1000
    settings = IndexSettings(exact_max_items=50, hnsw_min_items=60) if kind == "hnsw" else None
    index = VectorIndex.build(ids, vectors, model_key="m", settings=settings)
    assert index.kind == kind
    groups = group_vectors(ids, vectors, index, threshold=0.9)
    assert sorted(groups) == sorted([[1000 + i, 1300 + i] for i in range(100)])
    assert group_vectors(ids, vectors, index, threshold=0.9, confirm=lambda *_: False) == []


# -- kinds, candidates, one file ----------------------------------------------------------------


def photo(photo_id: int, digest: str = "h", size: tuple[int, int] = (400, 300)) -> Photo:
    return Photo(
        photo_id, Path(f"/p/{photo_id}.jpg"), 1, 10, 0, digest, *size, None, "indexed", None
    )


@pytest.mark.parametrize(
    ("alignment", "sizes", "digests", "kind"),
    [
        (Alignment(0, 1.0, 1.0, 0.3, 2.0, 24), ((400, 300), (400, 300)), ("x", "x"), SAME),
        (Alignment(0, 1.0, 1.0, 1.5, 9.0, 24), ((400, 300), (200, 150)), ("x", "y"), RESIZED),
        (Alignment(0, 1.0, 1.0, 2.2, 8.0, 24), ((400, 300), (400, 300)), ("x", "y"), REENCODED),
        (Alignment(1, 1.0, 1.0, 0.5, 3.0, 24), ((400, 300), (300, 400)), ("x", "y"), ROTATED),
        (Alignment(6, 1.0, 1.0, 0.5, 3.0, 24), ((400, 300), (400, 300)), ("x", "y"), MIRRORED),
        (Alignment(0, 0.9, 1.0, 4.0, 25.0), ((400, 300), (360, 270)), ("x", "y"), CROPPED),
        (Alignment(0, 1.0, 1.1, 2.0, 20.0, 24), ((400, 300), (400, 300)), ("x", "y"), EDITED),
        (Alignment(0, 1.0, 1.0, 2.0, 55.0, 24), ((400, 300), (400, 300)), ("x", "y"), None),
        (Alignment(0, 1.0, 1.0, 14.0, 25.0, 24), ((400, 300), (400, 300)), ("x", "y"), None),
        (Alignment(0, 0.85, 1.0, 4.0, 44.0), ((400, 300), (340, 255)), ("x", "y"), None),
        (Alignment(1, 0.9, 1.0, 3.0, 25.0), ((400, 300), (270, 360)), ("x", "y"), None),
        (Alignment(0, 1.0, 1.0, 0.3, 2.0), ((400, 300), (400, 300)), ("x", "y"), None),
    ],
)
def test_each_alignment_gets_its_kind_in_words(
    alignment: Alignment, sizes: Any, digests: Any, kind: str | None
) -> None:
    first, second = photo(1, digests[0], sizes[0]), photo(2, digests[1], sizes[1])
    assert kind_of(alignment, first, second) == kind


def test_only_exact_and_near_exact_copies_of_the_keeper_are_pre_ticked() -> None:
    keep, small, cropped, similar, far = (photo(i) for i in range(1, 6))
    pairs = (
        Match(1, 2, RESIZED, 0.97),
        Match(1, 3, CROPPED, 0.9),
        Match(1, 4, SIMILAR, 0.8),
        Match(4, 5, REENCODED, 0.95),
    )
    group = DuplicateGroup(keep, (small, cropped, similar, far), pairs)
    assert [group.pre_ticked(p) for p in group.others] == [True, False, False, False]
    assert group.why(far) == pairs[3]  # no match with the keeper: its closest one
    assert group.pre_ticked(far, keeper=similar)  # the user chose another keeper
    assert group.as_json()["pairs"][0] == {
        "a": "/p/1.jpg",
        "b": "/p/2.jpg",
        "kind": RESIZED,
        "similarity": 0.97,
    }


def test_small_shapes_that_differ_are_told_apart_on_the_whole_grid() -> None:
    """A small yellow circle and square on black: as close as copies on 16 cells (28.9 of
    441 in the worst cell, measured), far apart on fingerprints.WHOLE cells."""
    from photoclip.synthetic.scenes import Background, single_object_scene

    black = Background("plain", "black")

    def shape(name: str, seed: int = 3) -> Image.Image:
        scene = single_object_scene("yellow", name, "small", "center", black, seed)
        return scene.render().resize((256, 256), Image.Resampling.LANCZOS)

    circle, square, again = shape("circle"), shape("square"), shape("circle")
    blobs = [fingerprint(i).summary() for i in (circle, square, again.rotate(90))]
    hashes, small = summaries(blobs)
    different, turned = whole_alignments(hashes, small, np.array([0, 0]), np.array([1, 2]))
    assert different.max_error > COPY_MAX
    assert turned.max_error < COPY_MAX and turned.turned


def test_turned_and_mirrored_copies_become_candidates_by_their_hashes() -> None:
    originals = [photo_like(seed) for seed in range(20)]
    images, ids, truth = [], [], set()
    for number, image in enumerate(originals):
        variants = [
            image,
            image.rotate(90, expand=True),
            image.rotate(180),
            image.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
        ]
        for turns, variant in enumerate(variants):
            images.append(variant)
            ids.append(number * 10 + turns)
        truth |= {(number * 10 + a, number * 10 + b) for a in range(4) for b in range(a + 1, 4)}
    hashes = np.array([fingerprint(image).hashes for image in images])
    pairs = {(int(a), int(b)) for a, b in hash_candidates(np.array(ids), hashes)}
    assert truth <= pairs
    assert len(pairs - truth) <= len(truth) // 4  # few strangers for the alignment to veto


def test_a_symlink_or_hard_link_and_its_file_are_one_photo(tmp_path: Path) -> None:
    real = tmp_path / "real.jpg"
    real.write_bytes(b"pixels")
    (tmp_path / "link.jpg").symlink_to(real)
    os.link(real, tmp_path / "hard.jpg")
    (tmp_path / "copy.jpg").write_bytes(b"pixels")
    photos = [
        replace(photo(i), path=tmp_path / name)
        for i, name in enumerate(["link.jpg", "real.jpg", "hard.jpg", "copy.jpg"], 1)
    ]
    kept = one_path_per_file(photos)
    assert [p.path.name for p in kept] == ["real.jpg", "copy.jpg"]


# -- the finder, through indexing with the test-shapes model ---------------------------------------


@pytest.fixture(scope="module")
def shapes_encoder() -> Any:
    import torch

    from photoclip.core.embedding import load_encoder
    from photoclip.core.profiles import resolve_profile

    torch.set_num_threads(2)
    return load_encoder(resolve_profile("test-shapes"), device="cpu")


@pytest.mark.slow
def test_copies_are_grouped_with_their_original_and_different_photos_are_not(
    tmp_path: Path, shapes_encoder: Any
) -> None:
    from photoclip.core.indexing import Indexer
    from photoclip.core.library import Library
    from photoclip.core.paths import Locations

    folder, rng = tmp_path / "photos", random.Random(3)
    folder.mkdir()
    expected = []
    for seed in range(6):
        image = photo_like(seed)
        original = folder / f"photo{seed}.png"
        image.save(original)
        os.utime(original, (1_000_000, 1_000_000))  # the oldest of its group
        group = [original]
        for name, copy in copies(image, rng).items():
            path = folder / f"photo{seed}-{name}.jpg"
            copy.save(path, quality=90)
            group.append(path)
        expected.append(sorted(group))
    for seed in range(100, 106):
        photo_like(seed).save(folder / f"single{seed}.jpg", quality=90)
    read: list[Photo] = []
    with Library.open(Locations(tmp_path / "data", tmp_path / "cache")) as library:
        Indexer(library, shapes_encoder).index([folder])
        groups = DuplicateFinder(library, images=lambda p: read.append(p)).find()
        assert read == []  # the indexer kept every fingerprint: no thumbnail is read
        found = sorted(sorted(p.path for p in g.photos) for g in groups)
        assert found == sorted(expected)
        assert all(g.keep.path.name.endswith(".png") for g in groups)
        for group in groups:
            kinds = {p.path.name.split("-")[-1][:-4]: group.why(p).kind for p in group.others}
            assert kinds == {
                "resized": RESIZED,
                "jpeg15": REENCODED,
                "crop10": CROPPED,
                "rot90": ROTATED,
                "rot180": ROTATED,
                "rot270": ROTATED,
                "mirror": MIRRORED,
            }
            assert [group.pre_ticked(p) for p in group.others] == [
                "crop10" not in p.path.name for p in group.others
            ]
        # A model that embeds turned photos far apart (CLIP may): the hashes still find them.
        turned = DuplicateFinder(library, threshold=0.9999).find()
        for group in expected:
            rotated = [p for p in group if "-rot" in p.name or p.suffix == ".png"]
            assert any(set(rotated) <= {p.path for p in g.photos} for g in turned)
        # Fingerprints made before they were kept are made once from the thumbnails (the
        # drive may be unplugged), and kept for the next search.
        folder.rename(tmp_path / "elsewhere")
        with library.catalog.transaction() as db:
            db.execute("DELETE FROM fingerprints")
        offline = DuplicateFinder(library)
        assert sorted(sorted(p.path for p in g.photos) for g in offline.find()) == found
        assert offline.images_read == 54  # every photo, once
        again = DuplicateFinder(library)
        again.find()
        assert again.images_read == 0


def test_generated_shapes_on_one_background_are_never_grouped(
    tmp_path: Path, tiny_encoder: Any
) -> None:
    """A random model puts them all close; the alignment must tell them apart."""
    from photoclip.core.indexing import Indexer
    from photoclip.core.library import Library
    from photoclip.core.paths import Locations
    from photoclip.synthetic.scenes import COLOURS, SHAPES, Background, single_object_scene

    folder = tmp_path / "shapes"
    folder.mkdir()
    background = Background("plain", "purple")
    for colour in ("red", "orange", "yellow", "white", "green"):
        for shape in SHAPES:
            scene = single_object_scene(colour, shape, "large", "center", background, 1)
            scene.render().save(folder / f"{colour}-{shape}.jpg", quality=95)
    assert len(COLOURS) == 8
    with Library.open(Locations(tmp_path / "data", tmp_path / "cache")) as library:
        Indexer(library, tiny_encoder).index([folder])
        assert DuplicateFinder(library, threshold=0.01).find() == []


def test_the_thumbnails_of_the_settings_folder_give_the_fingerprints(
    tmp_path: Path, tiny_encoder: Any
) -> None:
    from photoclip.core.indexing import Indexer
    from photoclip.core.library import Library
    from photoclip.core.paths import Locations
    from photoclip.core.settings import Settings

    folder = tmp_path / "photos"
    folder.mkdir()
    for name in ("a.jpg", "b.jpg"):  # byte-identical copies: one vector, one thumbnail
        photo_like(7).save(folder / name, quality=90)
    locations = Locations(tmp_path / "data", tmp_path / "cache")
    Settings(thumbnail_cache=str(tmp_path / "thumbs")).save(locations.settings)
    with Library.open(locations) as library:
        Indexer(library, tiny_encoder).index([folder])
        folder.rename(tmp_path / "unplugged")  # only the thumbnails are left to read
        groups = DuplicateFinder(library).find()
    assert [sorted(p.path.name for p in g.photos) for g in groups] == [["a.jpg", "b.jpg"]]
    assert not list(locations.thumbnails.rglob("*.jpg"))


def test_links_to_a_photo_are_never_a_keep_and_trash_pair(
    tmp_path: Path, tiny_encoder: Any
) -> None:
    from photoclip.core.indexing import Indexer
    from photoclip.core.library import Library
    from photoclip.core.paths import Locations

    folder = tmp_path / "photos"
    folder.mkdir()
    photo_like(4).save(folder / "a.jpg", quality=90)
    (folder / "b-link.jpg").symlink_to(folder / "a.jpg")
    os.link(folder / "a.jpg", folder / "c-hard.jpg")
    with Library.open(Locations(tmp_path / "data", tmp_path / "cache")) as library:
        Indexer(library, tiny_encoder).index([folder])
        assert library.catalog.counts().indexed == 3
        assert DuplicateFinder(library).find() == []  # three paths, one file
        (folder / "d-copy.jpg").write_bytes((folder / "a.jpg").read_bytes())
        Indexer(library, tiny_encoder).index([folder])
        [group] = DuplicateFinder(library).find()
    assert sorted(p.path.name for p in group.photos) == ["a.jpg", "d-copy.jpg"]


def test_a_large_librarys_graph_links_find_the_groups_k_nn_finds(
    tmp_path: Path, tiny_encoder: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past the exact index's size the candidates are the graph's links, not a k-NN query
    per photo: the same groups come out."""
    from photoclip.core.indexing import Indexer
    from photoclip.core.library import Library
    from photoclip.core.paths import Locations

    folder, rng = tmp_path / "photos", random.Random(5)
    folder.mkdir()
    for seed in range(4):
        image = photo_like(seed)
        image.save(folder / f"photo{seed}.png")
        for name, copy in copies(image, rng).items():
            copy.save(folder / f"photo{seed}-{name}.jpg", quality=90)
    for seed in range(200, 230):
        photo_like(seed).save(folder / f"single{seed}.jpg", quality=90)
    with Library.open(Locations(tmp_path / "data", tmp_path / "cache")) as library:
        Indexer(library, tiny_encoder).index([folder])
        assert library.index().links() is None  # small: exact, k-NN queries
        by_queries = DuplicateFinder(library).find()
        ids, vectors = library.catalog.photo_vectors(str(library.catalog.active_model))
        graph = VectorIndex.build(
            ids, vectors, model_key="m", settings=IndexSettings(exact_max_items=0, hnsw_min_items=0)
        )
        assert graph.links() is not None
        monkeypatch.setattr(library, "index", lambda model_key=None: graph)
        by_links = DuplicateFinder(library).find()
    assert len(by_queries) == 4
    assert [sorted(p.path.name for p in g.photos) for g in by_links] == [
        sorted(p.path.name for p in g.photos) for g in by_queries
    ]


def burst(seed: int) -> tuple[Image.Image, Image.Image]:
    """Two frames of one generated scene: the second panned by a fifth of the frame."""
    scene = photo_like(seed, (400, 300))
    return scene.crop((0, 0, 320, 240)), scene.crop((64, 36, 384, 276))


@pytest.mark.slow
def test_a_burst_is_a_very_similar_shot_shown_unticked(tmp_path: Path, shapes_encoder: Any) -> None:
    from photoclip.core.indexing import Indexer
    from photoclip.core.library import Library
    from photoclip.core.paths import Locations

    folder = tmp_path / "photos"
    folder.mkdir()
    first, second = burst(11)
    first.save(folder / "frame1.jpg", quality=92)
    second.save(folder / "frame2.jpg", quality=70)
    for seed in range(300, 310):
        photo_like(seed, (320, 240)).save(folder / f"single{seed}.jpg", quality=90)
    with Library.open(Locations(tmp_path / "data", tmp_path / "cache")) as library:
        Indexer(library, shapes_encoder).index([folder])
        [group] = DuplicateFinder(library).find()
    assert sorted(p.path.name for p in group.photos) == ["frame1.jpg", "frame2.jpg"]
    [other] = group.others
    match = group.why(other)
    assert match is not None and match.kind == SIMILAR
    assert not group.pre_ticked(other)


def test_past_the_exact_limit_layout_neighbours_come_from_a_graph() -> None:
    """A large library's colour layouts are linked through a graph instead of compared all
    with all: each photo stays linked with its nearest, and an all-black one is left out."""
    from photoclip.core.duplicates import layout_links

    rng = np.random.default_rng(4)
    flat = rng.uniform(0, 1, (400, 48)).astype(np.float32)
    near = flat[:50] + rng.normal(0, 0.01, (50, 48)).astype(np.float32)
    layouts_ = np.vstack([flat, near, np.zeros((1, 48), np.float32)])
    layouts_[:-1] /= np.linalg.norm(layouts_[:-1], axis=1, keepdims=True)
    ids = np.arange(len(layouts_)) + 7
    linked = {(int(a), int(b)) for a, b in layout_links(ids, layouts_)}
    assert {(i + 7, i + 407) for i in range(50)} <= linked
    assert not any(ids[-1] in pair for pair in linked)


def test_the_layout_graph_links_the_same_photos_every_run() -> None:
    """The same library gives the same duplicate candidates every time it is searched (a
    graph built on several cores comes out different each time, even on two)."""
    from photoclip.core.duplicates import layout_links

    layouts_ = np.random.default_rng(4).uniform(0, 1, (2000, 48)).astype(np.float32)
    layouts_ /= np.linalg.norm(layouts_, axis=1, keepdims=True)
    ids = np.arange(len(layouts_)) + 7
    runs = {frozenset(map(tuple, layout_links(ids, layouts_).tolist())) for _ in range(4)}
    assert len(runs) == 1
