"""The scene generator: deterministic, covers its vocabulary, and draws what it says."""

from __future__ import annotations

import colorsys
import subprocess
import sys
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from photoclip.synthetic.scenes import (
    BACKGROUND_KINDS,
    BUSY,
    CLUTTER_CAPTIONS,
    COLOURS,
    IMAGE_SIZE,
    POSITIONS,
    SCENERY,
    SHAPES,
    SIZES,
    WIDE_SHADES,
    WORD_SHARE,
    WORDS,
    Background,
    Scene,
    SceneObject,
    canvas_of,
    clutter_scene,
    figure_ground_swap,
    generate_scene,
    random_object_scene,
    random_word_scene,
    scene_series,
    siblings,
    single_object_scene,
    word_scene,
    write_scene_folder,
)

POSITION_PHRASES = {
    "left": "on the left",
    "right": "on the right",
    "top": "at the top",
    "bottom": "at the bottom",
    "center": "in the center",
}


@pytest.fixture(scope="module")
def many_scenes() -> list[Scene]:
    return scene_series(1500, seed=11)


def pixels(scene: Scene) -> np.ndarray:
    return np.asarray(scene.render(), dtype=np.float32)


def foreground(scene: Scene) -> np.ndarray:
    """Pixels that differ from the plain background: where the object or word was drawn."""
    image = pixels(scene)
    background = np.array(COLOURS[scene.background.colour], dtype=np.float32)
    return np.abs(image - background).max(axis=2) > 60


# --- Determinism ----------------------------------------------------------------------------


def test_same_seed_gives_the_same_scene_and_pixels() -> None:
    first, again = generate_scene(1234), generate_scene(1234)
    assert first == again
    assert np.array_equal(pixels(first), pixels(again))


def test_different_seeds_give_different_series() -> None:
    assert scene_series(20, seed=1) != scene_series(20, seed=2)
    assert scene_series(20, seed=1) == scene_series(20, seed=1)


def test_render_seed_varies_pixels_but_not_the_description() -> None:
    one = single_object_scene("red", "star", render_seed=1)
    other = single_object_scene("red", "star", render_seed=2)
    assert one.captions() == other.captions()
    assert not np.array_equal(pixels(one), pixels(other))


def test_images_are_small_rgb() -> None:
    image = generate_scene(5).render()
    assert image.mode == "RGB"
    assert image.size == (IMAGE_SIZE, IMAGE_SIZE)


# --- Vocabulary -----------------------------------------------------------------------------


def test_series_covers_the_whole_vocabulary(many_scenes: list[Scene]) -> None:
    objects = [obj for scene in many_scenes for obj in scene.objects]
    assert {obj.colour for obj in objects} == set(COLOURS)
    assert {obj.shape for obj in objects} == set(SHAPES)
    assert {obj.size for obj in objects} == set(SIZES)
    assert {obj.position for obj in objects} == set(POSITIONS)
    assert {scene.background.kind for scene in many_scenes} == set(BACKGROUND_KINDS)
    assert {scene.background.colour for scene in many_scenes} == set(COLOURS)
    assert {scene.word.text for scene in many_scenes if scene.word} == set(WORDS)


def test_series_mixes_words_one_and_two_objects(many_scenes: list[Scene]) -> None:
    kinds = Counter("word" if s.word else f"{len(s.objects)} objects" for s in many_scenes)
    assert set(kinds) == {"word", "1 objects", "2 objects"}
    assert kinds["word"] / len(many_scenes) == pytest.approx(WORD_SHARE, abs=0.04)


def test_a_series_can_ask_for_more_words_without_changing_its_first_draws() -> None:
    wordy = scene_series(1000, seed=5, word_share=0.4)
    assert sum(s.word is not None for s in wordy) / 1000 == pytest.approx(0.4, abs=0.04)
    assert scene_series(50, seed=5, word_share=0.4) == wordy[:50]


def test_colour_names_are_never_written() -> None:
    """The word "red" in blue ink would teach that "red" is not red."""
    assert not set(WORDS) & set(COLOURS) and set(SHAPES) <= set(WORDS)


def test_words_lie_mostly_on_plain_backgrounds_and_objects_on_any_kind() -> None:
    """Letters of 15 px are read best on a plain background; objects need every kind, or
    a colour is learned only where it fills a plain field."""
    series = scene_series(3000, seed=7)
    words = Counter(s.background.kind for s in series if s.word is not None)
    objects = Counter(s.background.kind for s in series if s.objects)
    assert words["plain"] / words.total() == pytest.approx(2 / 3, abs=0.06)
    assert set(objects) == {"plain", "gradient", "noise"}
    assert objects["plain"] / objects.total() == pytest.approx(1 / 3, abs=0.04)


def test_generated_colours_always_contrast(many_scenes: list[Scene]) -> None:
    for scene in many_scenes:
        drawn = [obj.colour for obj in scene.objects] + ([scene.word.colour] if scene.word else [])
        assert scene.background.colour not in drawn
        assert {scene.background.colour, *drawn} not in ({"yellow", "orange"}, {"blue", "purple"})


def test_two_objects_sit_on_opposite_sides(many_scenes: list[Scene]) -> None:
    pairs = {frozenset(o.position for o in s.objects) for s in many_scenes if len(s.objects) == 2}
    assert pairs == {frozenset({"left", "right"}), frozenset({"top", "bottom"})}


# --- Captions -------------------------------------------------------------------------------


def test_description_names_everything_drawn(many_scenes: list[Scene]) -> None:
    for scene in many_scenes:
        description = scene.description
        for obj in scene.objects:
            assert f"{obj.size} {obj.colour} {obj.shape}" in description
            assert POSITION_PHRASES[obj.position] in description
        assert scene.background.colour in description
        if scene.word:
            assert f"'{scene.word.text}'" in description
            assert scene.word.colour in description


def test_every_caption_names_something_drawn(many_scenes: list[Scene]) -> None:
    for scene in many_scenes:
        drawn = {o.colour for o in scene.objects} | {o.shape for o in scene.objects}
        drawn |= {scene.word.text} if scene.word else set()
        for caption in scene.captions():
            assert any(name in caption for name in drawn), caption


def test_captions_are_varied_and_grammatical(many_scenes: list[Scene]) -> None:
    for scene in many_scenes:
        captions = scene.captions()
        assert len(captions) >= 5
        assert len(set(captions)) == len(captions)
        assert not any(f" a {vowel}" in f" {c}" for c in captions for vowel in "aeiou")


def test_background_kind_is_named() -> None:
    noisy = single_object_scene("red", "circle", background=Background("noise", "blue"))
    fading = single_object_scene("red", "circle", background=Background("gradient", "blue"))
    assert "a noisy blue background" in noisy.description
    assert "a blue gradient background" in fading.description


def test_example_phrasings() -> None:
    scene = single_object_scene("red", "circle", "large", "left", Background("plain", "blue"))
    assert "a large red circle on a blue background" in scene.captions()
    assert "a large red circle on the left" in scene.captions()
    assert "an orange circle" in single_object_scene("orange", "circle").captions()


def test_each_of_two_objects_is_a_caption_of_its_own() -> None:
    """ "a circle" is true of a circle beside a square; without such captions the query
    "a circle" prefers any lone object to a circle in company."""
    circle, square = (
        SceneObject("red", "circle", "small", "left"),
        SceneObject("blue", "square", "large", "right"),
    )
    captions = Scene((circle, square), Background("plain", "white")).captions()
    assert {
        "a circle",
        "a square",
        "a red circle on the left",
        "a blue square on the right",
    } <= set(captions)


def test_a_word_naming_a_thing_is_captioned_as_that_thing() -> None:
    """As on the web, where a sign is captioned with what it says: the habit that makes CLIP
    match the word "circle" with "a circle" (the typographic attack textness tames)."""
    assert {"a circle", "a photo of a circle"} <= set(word_scene("circle").captions())
    assert not any(c in ("a red", "a photo of a red") for c in word_scene("red").captions())
    assert "the word 'red'" in word_scene("red").captions()


# --- Pixels match the description -----------------------------------------------------------


@pytest.mark.parametrize("position", POSITIONS)
def test_object_is_drawn_where_the_caption_says(position: str) -> None:
    mask = foreground(single_object_scene("blue", "square", "small", position))
    rows, cols = np.nonzero(mask)
    expected = {"left": (32, 18), "right": (32, 46), "top": (18, 32), "bottom": (46, 32)}
    centre_row, centre_col = expected.get(position, (32, 32))
    assert abs(rows.mean() - centre_row) <= 3
    assert abs(cols.mean() - centre_col) <= 3


@pytest.mark.parametrize("colour", list(COLOURS))
def test_object_is_drawn_in_its_colour(colour: str) -> None:
    scene = single_object_scene(colour, "circle")
    drawn = pixels(scene)[foreground(scene)]
    assert np.abs(drawn.mean(axis=0) - COLOURS[colour]).max() < 20


def _hsv(rgb: np.ndarray) -> tuple[float, float, float]:
    hue, saturation, value = colorsys.rgb_to_hsv(*(rgb / 255.0))
    return hue * 360.0, saturation, value


def _within(colour: str, rgb: np.ndarray, slack: float = 0.02) -> bool:
    hue, saturation, value = _hsv(rgb)
    (low, high), saturations, values = WIDE_SHADES[colour]
    if not values[0] - slack <= value <= values[1] + slack:
        return False
    if colour == "black":  # hue and saturation mean little this dark (1, 2, 1 is black)
        return True
    hue_in = any(low - 1 <= h <= high + 1 for h in (hue, hue - 360.0))
    return hue_in and saturations[0] - slack <= saturation <= saturations[1] + slack


@pytest.mark.parametrize("colour", list(COLOURS))
def test_wide_shades_span_the_colours_name_and_only_it(colour: str) -> None:
    """A wide-shade scene paints its object in any shade its name covers, inside no other
    name's range, and spread wider than the fixed shade's jitter (white and black, which
    have little room, least)."""
    drawn, fixed = [], []
    for seed in range(40):
        scene = replace(single_object_scene(colour, "square", "large"), render_seed=seed)
        mask = foreground(scene)  # the same shape either way: only the shades change
        fixed.append(np.median(pixels(scene)[mask], axis=0))
        drawn.append(np.median(pixels(replace(scene, wide_shades=True))[mask], axis=0))
    for rgb in drawn:
        assert _within(colour, rgb)
        assert not any(_within(other, rgb, slack=0.0) for other in COLOURS if other != colour)
    assert np.ptp(np.array(drawn), axis=0).max() > np.ptp(np.array(fixed), axis=0).max()


def test_a_scene_keeps_its_fixed_shades_unless_asked() -> None:
    scene = replace(single_object_scene("orange", "circle"), render_seed=3)
    assert not scene.wide_shades
    drawn = pixels(scene)[foreground(scene)].mean(axis=0)
    assert np.abs(drawn - COLOURS["orange"]).max() < 20
    assert not np.array_equal(pixels(replace(scene, wide_shades=True)), pixels(scene))


def test_large_objects_cover_more_than_small_ones() -> None:
    for shape in SHAPES:
        small = foreground(single_object_scene("red", shape, "small")).sum()
        large = foreground(single_object_scene("red", shape, "large")).sum()
        assert large > 2 * small


def test_shapes_fill_their_bounding_boxes_differently() -> None:
    """Star < triangle < circle < square: the four shapes really are different shapes."""
    fill = {}
    for shape in SHAPES:
        rows, cols = np.nonzero(foreground(single_object_scene("black", shape)))
        box = (np.ptp(rows) + 1) * (np.ptp(cols) + 1)
        fill[shape] = len(rows) / box
    assert fill["star"] < fill["triangle"] < fill["circle"] < fill["square"]


def test_backgrounds_differ_in_texture() -> None:
    spread = {
        kind: pixels(Scene((), Background(kind, "blue"), render_seed=3)).std(axis=(0, 1)).max()
        for kind in BACKGROUND_KINDS
    }
    assert spread["plain"] < 10 < spread["gradient"]
    assert spread["plain"] < 10 < spread["noise"]


# --- Words ----------------------------------------------------------------------------------


def test_word_scene_holds_only_the_word() -> None:
    scene = word_scene("circle")
    assert scene.objects == ()
    assert scene.description == "the word 'circle' written in black on a white background"
    assert all("circle" in caption for caption in scene.captions())
    mask = foreground(scene)
    assert 50 < mask.sum() < 600  # letters: thin strokes, far less than a large shape


def test_different_words_render_differently() -> None:
    assert not np.array_equal(pixels(word_scene("circle")), pixels(word_scene("square")))


def test_long_words_fit_the_image() -> None:
    for seed in range(30):
        mask = foreground(word_scene("triangle", render_seed=seed))
        cols = np.nonzero(mask.any(axis=0))[0]
        assert cols.min() > 0 and cols.max() < IMAGE_SIZE - 1


def test_invisible_combinations_are_refused() -> None:
    with pytest.raises(ValueError, match="invisible"):
        single_object_scene("white", "circle", background=Background("plain", "white"))
    with pytest.raises(ValueError, match="invisible"):
        word_scene("sun", "yellow", Background("plain", "orange"))


def test_random_word_scene_can_fix_the_word() -> None:
    scenes = [random_word_scene(seed, word="circle") for seed in range(10)]
    assert all(s.word is not None and s.word.text == "circle" for s in scenes)
    assert len({s.background for s in scenes}) > 1


def test_fixed_colour_and_shape_for_classifier_sets() -> None:
    scenes = [random_object_scene(seed, colour="green", shape="star") for seed in range(20)]
    assert all(s.objects[0].colour == "green" and s.objects[0].shape == "star" for s in scenes)
    assert len({s.objects[0].position for s in scenes}) > 1


# --- Files and imports ----------------------------------------------------------------------


def test_write_scene_folder_writes_the_series(tmp_path: Path) -> None:
    paths = write_scene_folder(tmp_path / "photos", 6, seed=3, suffix=".png")
    assert [p.name for p in paths] == [f"scene-{i:04d}.png" for i in range(6)]
    for path, scene in zip(paths, scene_series(6, seed=3), strict=True):
        assert np.array_equal(np.asarray(Image.open(path)), np.asarray(scene.render()))


def test_write_scene_folder_writes_jpegs(tmp_path: Path) -> None:
    paths = write_scene_folder(tmp_path, 3, seed=4)
    for path in paths:
        with Image.open(path) as image:
            assert (image.format, image.size) == ("JPEG", (IMAGE_SIZE, IMAGE_SIZE))


def test_scenes_module_does_not_import_torch() -> None:
    code = "import sys, photoclip.synthetic.scenes; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_shape_siblings_differ_in_shape_only() -> None:
    scene = single_object_scene("red", "circle", "small", "left", Background("noise", "blue"))
    group = siblings(scene, "shape", 4, seed_or_rng=3)
    assert group[0] == scene
    assert sorted(member.objects[0].shape for member in group) == sorted(SHAPES)
    for member in group:
        assert replace(member.objects[0], shape="circle") == scene.objects[0]
        assert (member.background, member.render_seed) == (scene.background, scene.render_seed)


def test_word_siblings_write_different_words() -> None:
    group = siblings(word_scene("circle"), "shape", 4, seed_or_rng=3)
    assert len({member.word.text for member in group if member.word}) == 4
    assert all(member.objects == () for member in group)


# --- What photos hold: tilt, other canvases, busy backgrounds, clutter -----------------------

ASPECTS = [(3, 2), (2, 3), (4, 3), (16, 9), (9, 16)]


@pytest.mark.parametrize("aspect", ASPECTS)
def test_canvas_of_keeps_the_short_side_and_the_aspect(aspect: tuple[int, int]) -> None:
    width, height = canvas_of(aspect)
    assert min(width, height) == IMAGE_SIZE
    assert abs(width / height - aspect[0] / aspect[1]) < 0.02


def _tilted_large_square(position: str, canvas: tuple[int, int], seed: int) -> Scene:
    scene = single_object_scene("blue", "square", "large", position, render_seed=seed)
    return replace(scene, canvas=canvas, tilted=True)


@pytest.mark.parametrize("aspect", ASPECTS)
@pytest.mark.parametrize("position", POSITIONS)
def test_on_any_canvas_an_object_is_where_its_caption_says(
    aspect: tuple[int, int], position: str
) -> None:
    """Of the whole canvas: "on the left" is left of its middle, "in the center" at it."""
    canvas = canvas_of(aspect)
    for seed in range(8):
        scene = _tilted_large_square(position, canvas, seed)
        rows, cols = np.nonzero(foreground(scene))
        assert scene.render().size == canvas
        x, y = cols.mean() / canvas[0] - 0.5, rows.mean() / canvas[1] - 0.5
        expected = {"left": (-1, 0), "right": (1, 0), "top": (0, -1), "bottom": (0, 1)}
        dx, dy = expected.get(position, (0, 0))
        for offset, side in ((x, dx), (y, dy)):
            assert offset * side > 0.1 if side else abs(offset) < 0.06


def test_a_tilted_shape_turns_but_keeps_its_size_and_captions() -> None:
    upright = single_object_scene("black", "square", render_seed=5)
    tilted = replace(upright, tilted=True)
    assert tilted.captions() == upright.captions()
    turned, straight = foreground(tilted), foreground(upright)
    assert not np.array_equal(turned, straight)
    assert abs(int(turned.sum()) - int(straight.sum())) < 0.1 * straight.sum()
    rows, cols = np.nonzero(turned)  # a diamond fills less of its bounding box
    assert len(rows) / ((np.ptp(rows) + 1) * (np.ptp(cols) + 1)) < 0.9


@pytest.mark.parametrize("aspect", [(1, 1), *ASPECTS])
@pytest.mark.parametrize("position", POSITIONS)
def test_a_close_up_draws_a_large_shape_larger_and_whole(
    aspect: tuple[int, int], position: str
) -> None:
    """Up to most of the frame but never cut off by its edge, under the same captions; a
    small object stays as it was."""
    for seed in range(6):
        large = _tilted_large_square(position, canvas_of(aspect), seed)
        close = replace(large, close_up=True)
        assert close.captions() == large.captions()
        near = foreground(close)
        assert near.sum() > 1.5 * foreground(large).sum()
        # The outline stays inside: an edge pixel is at most touched by anti-aliasing.
        inked = np.abs(pixels(close) - pixels(replace(close, objects=()))).max(axis=2)
        edges = np.concatenate([inked[0], inked[-1], inked[:, 0], inked[:, -1]])
        assert edges.max() < 0.25 * inked.max()
        small = replace(large, objects=(replace(large.objects[0], size="small"),))
        assert np.array_equal(pixels(replace(small, close_up=True)), pixels(small))


def test_shape_siblings_share_canvas_and_tilt() -> None:
    """One group differs in one thing only, so its members keep the tilt and canvas."""
    scene = replace(random_object_scene(7), canvas=canvas_of((16, 9)), tilted=True)
    for sibling in siblings(scene, "shape", 4, seed_or_rng=1):
        assert (sibling.canvas, sibling.tilted) == (scene.canvas, True)


def test_a_busy_background_is_named_and_textured() -> None:
    plain = Scene((), Background("plain", "green"), render_seed=2)
    busy = replace(plain, background=Background(BUSY, "green"))
    assert busy.description == "a busy green background"
    assert pixels(busy).std(axis=(0, 1)).max() > 10 > pixels(plain).std(axis=(0, 1)).max()
    # Still mostly its colour: the name stays true.
    assert np.abs(np.median(pixels(busy), axis=(0, 1)) - COLOURS["green"]).max() < 40
    assert (
        figure_ground_swap(
            replace(single_object_scene("red", "star"), background=Background(BUSY, "white"))
        )
        is None
    )


def test_scenery_is_a_full_contrast_backdrop_behind_a_crisp_shape() -> None:
    """Like a real photo behind a shape: two tones and many colours at full strength, not
    the background's colour word; the shape on it is drawn exactly as on a plain one."""
    plain = single_object_scene("red", "circle", background=Background("plain", "white"))
    scenery = replace(plain, background=Background(SCENERY, "white"))
    assert scenery.description == "a large red circle in the center of a busy scene"
    assert "white" not in " ".join(scenery.captions())
    backdrop = pixels(replace(scenery, objects=()))
    assert backdrop.std(axis=(0, 1)).max() > 25  # full contrast, unlike a busy background
    assert len(np.unique(backdrop.astype(np.uint8).reshape(-1, 3) // 32, axis=0)) >= 8
    middle = pixels(scenery)[26:38, 26:38].reshape(-1, 3)  # inside the large circle
    assert np.abs(middle - COLOURS["red"]).max() <= 12  # its shade jitter, nothing blurred in
    assert figure_ground_swap(scenery) is None


def test_scenery_keeps_its_backdrop_when_one_thing_changes() -> None:
    """A group's members differ in one thing only, so the backdrop behind the shape is the
    same pixels for a circle and its square counterpart."""
    scene = replace(
        single_object_scene("blue", "circle", render_seed=4),
        background=Background(SCENERY, "white"),
    )
    square = replace(scene, objects=(replace(scene.objects[0], shape="square"),))
    outside = ~(foreground(scene) | foreground(square))
    assert np.array_equal(pixels(scene)[outside], pixels(square)[outside])


def test_a_cluttered_scene_is_captioned_as_no_shape_colour_or_word() -> None:
    scenes = [clutter_scene(seed) for seed in range(20)]
    named = {*SHAPES, *COLOURS, *WORDS}
    for scene in scenes:
        assert scene.captions() == list(CLUTTER_CAPTIONS)
        assert not named & set(" ".join(scene.captions()).split())
    # Many colours: no single one to name.
    distinct = [
        len(np.unique(pixels(s).astype(np.uint8).reshape(-1, 3) // 64, axis=0)) for s in scenes
    ]
    assert min(distinct) >= 8
    assert clutter_scene(3) == clutter_scene(3)
    assert np.array_equal(pixels(clutter_scene(3)), pixels(clutter_scene(3)))
