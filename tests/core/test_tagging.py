"""Auto-tagging: decisions, calibration, caching and corrections on known vectors; then the
project's test-shapes model on generated scenes (accuracy, abstention, ensembling)."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from photoclip.core.categories import (
    MULTI,
    Category,
    CategoryFileError,
    Label,
    default_categories,
    dump_categories,
    load_categories,
    parse_categories,
)
from photoclip.core.errors import KnownError
from photoclip.core.tagging import (
    BACKGROUND_PROMPTS,
    DEFAULT_TEMPLATES,
    DEFAULT_THRESHOLD,
    NEIGHBOUR_PULL,
    ClipTexts,
    LazyClipTexts,
    Tagger,
    check_warnings,
    confidence,
    decide,
    install_default_categories,
    learned_threshold,
    library_split,
    none_of_these,
    probabilities,
    reasons,
    single_choice_split,
    tag_photos,
    templates_for,
)
from photoclip.core.tagstore import CONFIRMED, REJECTED, TagStore
from photoclip.synthetic.scenes import COLOURS as SCENE_COLOURS
from photoclip.synthetic.scenes import HELD_OUT_SEED, SHAPES, random_object_scene
from tests.core.tagvectors import FakeTexts, catalog_with_vectors
from tests.photos import make_photo

#: Wide enough that random directions rarely come near a label (the noise check).
DIM = 32
BASIS = {name: np.eye(DIM, dtype=np.float32)[i] for i, name in enumerate(
    ("red", "green", "blue", "yellow", "purple", "crimson", "other", "spare")
)}  # fmt: skip
COLOURS = Category("Colour", (Label("red"), Label("green"), Label("blue")))


def _photos(counts: dict[str, int], seed: int = 0, noise: float = 0.15) -> np.ndarray:
    rng = np.random.default_rng(seed)
    rows = [BASIS[name] for name, n in counts.items() for _ in range(n)]
    # noise's total length as in 8 dimensions
    spread = noise * np.sqrt(8 / DIM)
    return np.stack(rows) + rng.normal(0, spread, (len(rows), DIM)).astype(np.float32)


def _tagger(
    tmp_path: Path, vectors: np.ndarray, templates: Sequence[str] = DEFAULT_TEMPLATES
) -> tuple[Tagger, list[int], FakeTexts]:
    catalog, ids = catalog_with_vectors(tmp_path, vectors)
    texts = FakeTexts({**BASIS, **{p: BASIS["spare"] for p in BACKGROUND_PROMPTS}})
    return Tagger(catalog, texts, templates), ids, texts


def _labels_of(tagger: Tagger, ids: list[int], category: str = "Colour") -> list[str | None]:
    found = {t.photo_id: t.label for t in tagger.store.tags() if t.category == category}
    return [found.get(i) for i in ids]


# -- probabilities and decisions ------------------------------------------------------------


def test_single_choice_probabilities_are_clips_softmax_over_labels_and_background() -> None:
    category = Category("C", (Label("a"), Label("b"), Label("x", counter=True)))
    scores, background = np.array([[0.3, 0.1, 0.2]]), np.array([[0.25, 0.05]])
    probs = probabilities(category, scores, background, scale=10.0)
    e = np.exp(10 * np.array([0.3, 0.1, 0.2, 0.25, 0.05]))
    assert probs[0] == pytest.approx(e[:3] / e.sum())  # "a photo" is a rival too
    assert none_of_these(probs)[0] == pytest.approx(e[3:].sum() / e.sum())
    # A rejected pair cannot be tagged, but its share is not handed to the others: the
    # photo still looks as it did, so what was the rejected label's is "none of these".
    blocked = probabilities(
        category, scores, background, 10.0, blocked=np.array([[True, False, False]])
    )
    assert blocked[0, 0] == 0 and blocked[0, 1:] == pytest.approx(probs[0, 1:])
    assert none_of_these(blocked)[0] == pytest.approx((e[0] + e[3:].sum()) / e.sum())
    shifted = probabilities(category, scores, background, 10.0, shift=np.array([[0, 2.0, 0]]))
    assert shifted[0, 1] == pytest.approx(np.exp(3) / (e.sum() - e[1] + np.exp(3)))
    # A similar photo's rejection lowers its label as if its logit alone had moved, and
    # what it loses is "none of these": the other labels keep their probabilities.
    pulled = probabilities(category, scores, background, 10.0, shift=np.array([[-2.0, 0, 0]]))
    assert pulled[0, 0] == pytest.approx(np.exp(1) / (e.sum() - e[0] + np.exp(1)))
    assert pulled[0, 1:] == pytest.approx(probs[0, 1:])


_PULLS = st.lists(st.floats(-1.0, 1.0, allow_nan=False), min_size=3, max_size=3)


@settings(max_examples=200, deadline=None)
@given(
    rows=st.lists(st.tuples(_PULLS, _PULLS), min_size=1, max_size=6),
    background=st.floats(-1.0, 1.0, allow_nan=False),
    scale=st.sampled_from([10.0, 30.0, 100.0]),
    threshold=st.floats(DEFAULT_THRESHOLD, 1.0),
)
def test_a_rejection_on_a_similar_photo_never_gives_a_photo_another_label(
    rows: list[tuple[list[float], list[float]]], background: float, scale: float, threshold: float
) -> None:
    """'Not white' is no evidence of blue: a rejection's pull on a photo (any amount, on any
    labels) lowers only the labels pulled, so the photo keeps its tag or loses it, never
    gains one (at any threshold from the default; a margin is the user's own)."""
    category = Category("C", (Label("a"), Label("b"), Label("c")))
    scores = np.array([row[0] for row in rows])
    pull = -NEIGHBOUR_PULL * np.abs(np.array([row[1] for row in rows]))
    rest = np.full((len(rows), 1), background)
    before = probabilities(category, scores, rest, scale)
    after = probabilities(category, scores, rest, scale, shift=pull)
    untouched = pull == 0
    assert np.allclose(after[untouched], before[untouched])
    assert (after <= before + 1e-12).all()
    thresholds = np.full(3, threshold)
    tagged = decide(category, before, thresholds)
    kept = set(zip(tagged.rows.tolist(), tagged.labels.tolist(), strict=True))
    now = decide(category, after, thresholds)
    assert set(zip(now.rows.tolist(), now.labels.tolist(), strict=True)) <= kept


def test_single_choice_abstains_where_none_of_these_is_more_likely() -> None:
    """The background prompts as an implicit "none of these": a photo that is more like "a
    photo" than like any label gets none, however far its best label leads the others
    (measured: real photos left without a shape 0.62 -> 0.87 on bench_tag_quality.py)."""
    category = Category("C", (Label("a"), Label("b")))
    scores, background = np.array([[0.30, 0.05], [0.30, 0.05]]), np.array([[0.2], [0.4]])
    probs = probabilities(category, scores, background, scale=10.0)
    assert probs[0, 0] > 0.6 and probs[1, 0] < none_of_these(probs)[1]
    low = np.array([0.1, 0.1])  # a user's threshold, which both photos' 'a' reach
    assert (probs[:, 0] >= low[0]).all()
    assert decide(category, probs, low).rows.tolist() == [0]
    said = reasons(category, probs[1], low, scores[1], np.full(2, -np.inf), [None, None])
    assert said == ["not tagged: 'none of these' is more likely", "not tagged: 'a' is more likely"]


def test_after_a_rejection_the_reason_says_none_of_these_holds_the_removed_label() -> None:
    """A rejected label's share stays in the photo's softmax as "none of these": the reason
    for the label left on top says so, rather than a bare 'none of these'."""
    category = Category("C", (Label("red"), Label("green"), Label("blue")))
    scores, background = np.array([[0.5, 0.0, -0.1]]), np.array([[0.1]])
    rejected = np.array([[True, False, False]])
    probs = probabilities(category, scores, background, 10.0, blocked=rejected)
    thresholds = np.full(3, 0.5)
    assert decide(category, probs, thresholds).rows.size == 0
    said = reasons(
        category, probs[0], thresholds, scores[0], np.full(3, -np.inf), [REJECTED, None, None]
    )
    assert said == [
        "not tagged: you removed it",
        "not tagged: 'none of these' is more likely (it holds what you removed: 'red')",
        "not tagged: 'green' is more likely",
    ]


def test_multi_label_probabilities_set_each_label_against_counters_and_background() -> None:
    category = Category("C", (Label("a"), Label("b"), Label("neither", counter=True)), MULTI)
    scores, background = np.array([[0.5, 0.5, 0.2]]), np.array([[0.1]])
    probs = probabilities(category, scores, background, scale=10.0)
    alone = np.exp(5.0) / (np.exp(5.0) + np.exp(2.0) + np.exp(1.0))
    assert probs[0, 0] == pytest.approx(alone) and probs[0, 1] == pytest.approx(alone)


def test_single_choice_takes_the_most_probable_label_at_threshold_and_margin() -> None:
    probs = np.array([[0.9, 0.05, 0.05], [0.45, 0.44, 0.0], [0.3, 0.2, 0.1], [0.1, 0.1, 0.8]])
    category = Category("C", (Label("a"), Label("b"), Label("x", counter=True)), margin=0.05)
    decision = decide(category, probs, np.array([0.4, 0.4, 0.4]))
    # row 1 leads by 0.01 < margin; row 2 is below the threshold; row 3: the counter wins
    assert decision.rows.tolist() == [0] and decision.labels.tolist() == [0]
    assert decision.runner_up.tolist() == [1] and decision.runner_up_scores[0] == 0.05


def test_multi_label_decides_each_label_on_its_own_threshold() -> None:
    category = Category("C", (Label("a"), Label("b"), Label("x", counter=True)), kind=MULTI)
    probs = np.array([[0.6, 0.5, 0.9], [0.6, 0.1, 0.7], [0.2, 0.5, 0.1]])
    decision = decide(category, probs, np.array([0.5, 0.5, 0.5]))
    pairs = zip(decision.rows.tolist(), decision.labels.tolist(), strict=True)
    assert sorted(pairs) == [(0, 0), (0, 1), (1, 0), (2, 1)]


def test_a_probability_threshold_is_what_noise_rarely_reaches_and_at_least_a_half() -> None:
    rng = np.random.default_rng(0)
    one_group = np.clip(rng.normal(0.8, 0.05, 50), 0, 1)
    assert learned_threshold(one_group) == DEFAULT_THRESHOLD
    assert learned_threshold(one_group, noise=0.7, floor=0.62) == 0.62
    assert learned_threshold(one_group[:2]) == DEFAULT_THRESHOLD  # too few to judge
    # No winner above what noise reaches: nothing stands out, the label tags nothing.
    assert learned_threshold(one_group, noise=0.95) == np.inf
    assert learned_threshold(one_group, noise=0.85) == DEFAULT_THRESHOLD


def test_a_category_of_random_vectors_tags_nothing_and_says_why(tmp_path: Path) -> None:
    """Noise: photos and labels that are random directions of a 64-d space (the
    test-shapes model's width) at its logit scale."""
    rng = np.random.default_rng(3)
    texts = {name: rng.normal(size=64) for name in ("a", "b", "c", *BACKGROUND_PROMPTS)}
    catalog, _ = catalog_with_vectors(tmp_path, rng.normal(size=(300, 64)))
    tagger = Tagger(catalog, FakeTexts(texts))
    tagger.store.save_category(Category("Noise", (Label("a"), Label("b"), Label("c"))))
    [result] = tagger.retag()
    assert result.tagged == 0
    assert "no photo stands out for 'a'" in result.warnings
    [check] = tagger.check()
    assert "no photo stands out for 'a'" in check.warnings and check.share == 0


def test_confidence_words() -> None:
    assert [confidence(p) for p in (0.95, 0.8, 0.55)] == ["sure", "likely", "unsure"]
    assert confidence(0.3, CONFIRMED) == "sure"


# -- the tagger over a catalog ----------------------------------------------------------------


def test_tags_colours_and_abstains_on_colours_not_in_the_category(tmp_path: Path) -> None:
    vectors = _photos({"red": 10, "green": 10, "blue": 10, "yellow": 10, "purple": 10})
    tagger, ids, _ = _tagger(tmp_path, vectors)
    tagger.store.save_category(COLOURS)
    [result] = tagger.retag()
    labels = _labels_of(tagger, ids)
    assert labels[:30] == ["red"] * 10 + ["green"] * 10 + ["blue"] * 10
    assert labels[30:] == [None] * 20
    assert (result.photos, result.tagged, result.abstained) == (50, 30, 20)
    assert result.counts == {"red": 10, "green": 10, "blue": 10} and not result.warnings


def test_a_photo_more_like_another_colour_than_any_label_gets_no_tag(tmp_path: Path) -> None:
    """Bluish purple photos: among red, green and blue alone they are blue. The model knows
    "purple", a colour the category lacks, so it competes as part of "none of these": they
    get no tag, and the explanation names the colour they look more like. (Blue has the
    user's own threshold, so no library split keeps them out: the other word does.)"""
    rng = np.random.default_rng(5)
    bluish_purple = BASIS["purple"] * 0.8 + BASIS["blue"] * 0.6
    photos = _photos({"red": 10, "green": 10, "blue": 10})
    vectors = np.concatenate([photos, bluish_purple + rng.normal(0, 0.02, (10, DIM))])
    tagger, ids, _ = _tagger(tmp_path, vectors.astype(np.float32))
    own = Category("Colour", (Label("red"), Label("green"), Label("blue", threshold=0.5)))
    tagger.store.save_category(own)
    tagger.retag()
    assert _labels_of(tagger, ids) == ["red"] * 10 + ["green"] * 10 + ["blue"] * 10 + [None] * 10
    [why] = tagger.explain(ids[30])
    blue = next(s for s in why.scores if s.label == "blue")
    assert blue.reason == "not tagged: it looks more like 'purple', which is not one of its labels"
    [note] = why.notes  # each other colour's share, most likely first
    prefix = "compared with other colours too, part of 'none of these': purple "
    assert note.startswith(prefix) and note.endswith(", yellow 0.000")
    assert 0.5 < float(note[len(prefix) :].split(",")[0]) <= why.background
    assert why.background > 0.5 > blue.probability
    # A model that never learned "purple" (a closed vocabulary) has only its labels: blue.
    knows_no_purple = lambda text: text in BASIS and text != "purple"  # noqa: E731
    tagger.texts.knows = knows_no_purple  # type: ignore[method-assign]
    tagger.retag()
    assert _labels_of(tagger, ids)[30:] == ["blue"] * 10
    # Each label of a multi-label category asks "is it there?" on its own: no other words.
    del tagger.texts.knows  # it knows "purple" again
    tagger.store.save_category(Category("Tint", own.labels, MULTI))
    tagger.retag(["Tint"])
    assert _labels_of(tagger, ids, "Tint")[30:] == ["blue"] * 10


def test_filter_ids_finds_photos_by_tag(tmp_path: Path) -> None:
    tagger, ids, _ = _tagger(tmp_path, _photos({"red": 3, "blue": 2}))
    tagger.store.save_category(COLOURS)
    tagger.retag()
    assert tagger.catalog.filter_ids(tag=("colour", "BLUE")) == set(ids[3:])
    assert tagger.catalog.filter_ids(tag=("Colour", "green")) == set()


def test_label_vectors_are_cached_per_phrasing_and_templates(tmp_path: Path) -> None:
    tagger, _, texts = _tagger(tmp_path, _photos({"red": 4, "blue": 4}))
    tagger.store.save_category(COLOURS)
    tagger.retag()
    # the labels, the background prompts, and the other colours the model knows
    assert texts.embedded == 3 + 3 + len(["yellow", "purple"])
    tagger.retag()
    assert texts.embedded == 8
    edited = COLOURS.with_labels((Label("red", ("crimson",)), Label("green"), Label("blue")))
    tagger.store.save_category(edited)
    tagger.retag()
    assert texts.embedded == 8 + 2  # only the edited label, with both its phrasings


def test_other_words_are_prompted_with_the_taggers_own_templates(tmp_path: Path) -> None:
    """The other words of a kind compete with the labels, so they are phrased as the labels
    are: a tagger given other templates uses them for both."""
    tagger, _, texts = _tagger(tmp_path, _photos({"red": 2, "blue": 2}), ("a drawing of a {}.",))
    asked: dict[str, list[str]] = {}
    embed = texts.embed_labels

    def recording(phrasings: Sequence[Sequence[str]], templates: Sequence[str]) -> np.ndarray:
        asked.update({t[0]: list(templates) for t in phrasings})
        return embed(phrasings, templates)

    texts.embed_labels = recording  # type: ignore[method-assign]
    tagger.store.save_category(COLOURS)
    tagger.retag()
    assert asked["red"] == asked["purple"] == asked["yellow"] == ["a drawing of a {}."]


def test_library_splits_are_made_only_where_the_scores_support_them() -> None:
    rng = np.random.default_rng(0)
    two = np.concatenate([rng.normal(0.1, 0.02, 900), rng.normal(0.5, 0.02, 100)])
    assert 0.2 < library_split(two) < 0.4
    assert library_split(rng.normal(0.2, 0.05, 10_000)) == -np.inf  # one bell: no split
    # A single-choice label that also wins photos of things outside the category.
    own, outsiders = rng.normal(0.6, 0.02, 12), rng.normal(0.3, 0.05, 10)
    scores = np.concatenate([own, outsiders, rng.normal(0.1, 0.1, 60)])
    won = np.arange(len(scores)) < 22
    assert outsiders.max() < single_choice_split(scores, won) <= own.min()
    only_own = np.arange(len(scores)) < 12  # its winners stand out: all count
    assert single_choice_split(scores, only_own) == -np.inf


def test_one_photo_far_above_the_rest_does_not_split_a_labels_winners() -> None:
    """An outlier is not a group: the other winners keep their tag (a split above them
    would take the label from every photo but one)."""
    rng = np.random.default_rng(1)
    winners = np.concatenate([[0.78], rng.normal(0.21, 0.05, 27)])
    scores = np.concatenate([winners, rng.normal(-0.18, 0.08, 190)])
    won = np.arange(len(scores)) < len(winners)
    assert single_choice_split(scores, won) < winners[1:].min()
    pair = np.concatenate([[0.78, 0.76], winners[2:]])
    scores[: len(pair)] = pair  # two such photos are a group: the split stands
    assert pair[2:].max() < single_choice_split(scores, won) <= pair[:2].min()


def test_calibration_is_stored_visible_and_a_user_threshold_wins(tmp_path: Path) -> None:
    tagger, ids, _ = _tagger(tmp_path, _photos({"red": 10, "blue": 10, "yellow": 10}))
    tagger.store.save_category(COLOURS)
    tagger.retag()
    calibrated = tagger.store.calibration(tagger.model_key)
    red = COLOURS.label("red")
    red_id = tagger.store.category("Colour").label("red").id  # type: ignore[union-attr]
    assert red is not None and red_id in calibrated
    assert calibrated[red_id].photos == 30 and calibrated[red_id].tag_rate == pytest.approx(1 / 3)
    strict = COLOURS.with_labels((Label("red", threshold=1.5), Label("green"), Label("blue")))
    tagger.store.save_category(strict)
    tagger.retag()
    assert _labels_of(tagger, ids)[:10] == [None] * 10
    assert tagger.thresholds(tagger.store.category("Colour"))[0] == 1.5  # type: ignore[arg-type]


def test_an_empty_library_calibrates_and_tags_nothing(tmp_path: Path) -> None:
    tagger, _, _ = _tagger(tmp_path, _photos({"red": 1}))
    tagger.store.save_category(COLOURS)
    with tagger.catalog.transaction():
        tagger.catalog.delete_photos(tagger.catalog.photo_ids_with_vectors(tagger.model_key))
    tagger.calibrate()
    [result] = tagger.retag()
    assert (result.photos, result.tagged) == (0, 0)
    assert tagger.retag(photo_ids=[1], recalibrate=False)[0].photos == 0


def test_new_photos_are_tagged_by_the_indexer_hook_with_stored_thresholds(tmp_path: Path) -> None:
    tagger, ids, texts = _tagger(tmp_path, _photos({"red": 6, "green": 6, "blue": 6}))
    tagger.store.save_category(COLOURS)
    tag_photos(tagger.catalog, texts, ids[:1])  # never calibrated: calibrates on the library
    assert _labels_of(tagger, ids)[:2] == ["red", None]
    tag_photos(tagger.catalog, texts, ids[1:])
    assert _labels_of(tagger, ids) == ["red"] * 6 + ["green"] * 6 + ["blue"] * 6


def test_explain_shows_every_score_threshold_and_the_decision(tmp_path: Path) -> None:
    tagger, ids, _ = _tagger(tmp_path, _photos({"red": 5, "blue": 5}))
    tagger.store.save_category(COLOURS)
    tagger.retag()
    [colour] = tagger.explain(ids[0])
    assert colour.scores[0].label == "red" and colour.scores[0].tagged
    threshold = colour.scores[0].threshold
    assert threshold is not None and colour.scores[0].score > threshold
    assert not any(s.tagged for s in colour.scores[1:])
    [row] = [t for t in tagger.store.tags([ids[0]])]
    assert row.runner_up in {"green", "blue"} and row.runner_up_score is not None
    assert row.score == pytest.approx(colour.scores[0].probability, abs=1e-6)
    assert colour.background < 0.01 and colour.logit_scale == 10.0


_UNIT = st.floats(0.0, 1.0, allow_nan=False)


@settings(max_examples=200, deadline=None)
@given(
    kind=st.sampled_from(["single", MULTI]),
    margin=st.sampled_from([0.0, 0.1]),
    rows=st.lists(
        st.tuples(
            _UNIT,  # probability
            st.one_of(_UNIT, st.just(float("inf"))),  # threshold (inf: tags nothing)
            st.floats(-1.0, 1.0, allow_nan=False),  # cosine
            st.one_of(st.floats(-1.0, 1.0, allow_nan=False), st.just(-float("inf"))),  # split
            st.booleans(),  # counter-label
        ),
        min_size=2,
        max_size=5,
    ),
)
def test_the_reason_says_tagged_exactly_when_decide_tags(
    kind: str, margin: float, rows: list[tuple[float, float, float, float, bool]]
) -> None:
    """Every decision explains itself: the words on the photo page and in `tag --explain`
    come from the same conditions as the decision, for any scores."""
    labels = tuple(Label(f"l{j}", counter=row[4]) for j, row in enumerate(rows))
    category = Category("C", labels, kind=kind, margin=margin)
    probs, thresholds, scores, splits = (np.array([[r[k] for r in rows]]) for k in range(4))
    decision = decide(category, probs, thresholds[0], scores, splits[0])
    tagged = set(decision.labels[decision.rows == 0].tolist())
    said = reasons(category, probs[0], thresholds[0], scores[0], splits[0], [None] * len(rows))
    assert {j for j, why in enumerate(said) if why == "tagged"} == tagged, said


def test_explain_gives_the_users_verdict_as_the_reason(tmp_path: Path) -> None:
    tagger, ids, _ = _tagger(tmp_path, _photos({"red": 5, "blue": 5}))
    tagger.store.save_category(COLOURS)
    tagger.retag()
    tagger.correct(ids[0], "Colour", "red", REJECTED)
    tagger.correct(ids[5], "Colour", "green", CONFIRMED)
    reason = {s.label: s.reason for s in tagger.explain(ids[0])[0].scores}
    assert reason["red"] == "not tagged: you removed it"
    assert {s.label: s.reason for s in tagger.explain(ids[5])[0].scores}["green"] == (
        "tagged: you confirmed it"
    )
    [other] = tagger.explain(ids[1])
    assert other.scores[0].reason == "tagged" and other.scores[0].tagged
    # "none of these" is what the labels leave, but on a photo whose every label the
    # user's confirmation ruled out, it is the photo's own share, not all of it.
    [confirmed] = tagger.explain(ids[5])
    assert other.background == pytest.approx(1 - sum(s.probability for s in other.scores))
    assert confirmed.background < 0.5
    assert all(s.reason.startswith("not tagged: 'red'") for s in other.scores[1:])


def test_confirmed_tags_stay_rejected_never_return_and_similar_photos_follow(
    tmp_path: Path,
) -> None:
    # Crimson photos sit between red and "other": zero-shot calls them red.
    crimson = BASIS["red"] * 0.8 + BASIS["crimson"] * 0.6
    base = _photos({"red": 10, "green": 10, "blue": 10}, noise=0.1)
    rng = np.random.default_rng(1)
    # near-duplicates of each other (cosine > 0.99): they look alike, and follow
    vectors = np.concatenate([base, crimson + rng.normal(0, 0.02, (10, DIM))])
    tagger, ids, _ = _tagger(tmp_path, vectors)
    tagger.store.save_category(COLOURS)
    tagger.retag()
    crimson_ids = ids[30:]
    assert _labels_of(tagger, crimson_ids).count("red") >= 8

    for photo_id in crimson_ids[:3]:
        tagger.correct(photo_id, "Colour", "red", REJECTED)
    tagger.correct(ids[0], "colour", "red", CONFIRMED)
    labels = _labels_of(tagger, ids)
    assert labels[30:33] == [None] * 3  # rejected: never back
    assert labels[33:].count("red") == 0  # similar photos followed
    assert labels[:10] == ["red"] * 10  # red photos still red

    strict = COLOURS.with_labels((Label("red", threshold=1.5), Label("green"), Label("blue")))
    tagger.store.save_category(strict)
    tagger.retag()
    sources = {t.photo_id: t.source for t in tagger.store.tags() if t.label == "red"}
    assert sources == {ids[0]: CONFIRMED}  # the confirmed tag survives any re-tag


def test_a_rejection_sends_similar_photos_to_none_of_these_not_to_the_runner_up(
    tmp_path: Path,
) -> None:
    """Olive photos sit between red and green, nearer red: zero-shot calls them red. The
    user says one is not red: its look-alikes lose 'red' too, and do not become 'green'
    (nobody said they were); each says why."""
    olive = BASIS["red"] * 0.75 + BASIS["green"] * 0.6
    rng = np.random.default_rng(3)
    base = _photos({"red": 10, "green": 10, "blue": 10}, noise=0.1)
    vectors = np.concatenate([base, olive + rng.normal(0, 0.01, (6, DIM))])
    tagger, ids, _ = _tagger(tmp_path, vectors.astype(np.float32))
    tagger.store.save_category(COLOURS)
    tagger.retag()
    before = _labels_of(tagger, ids)
    assert before == ["red"] * 10 + ["green"] * 10 + ["blue"] * 10 + ["red"] * 6
    change = tagger.correct(ids[30], "Colour", "red", REJECTED)
    assert _labels_of(tagger, ids) == before[:30] + [None] * 6
    assert change.gained == {} and change.lost == {"red": 5}
    nearby = [n for n in tagger.explain(ids[31])[0].notes if "similar photo" in n]
    assert nearby == [
        "'red' is less likely here: you removed it from a similar photo"
        " (what it lost went to 'none of these')"
    ]
    assert not [n for n in tagger.explain(ids[0])[0].notes if "similar photo" in n]  # unlike


def test_rejecting_one_photo_of_a_label_does_not_unlearn_the_label(tmp_path: Path) -> None:
    """The user says this red photo is not "red" (a crimson one, say): what sets it apart
    from the library is mostly red itself, so only its other traits may push the label away."""
    tagger, ids, _ = _tagger(tmp_path, _photos({"red": 4, "green": 4, "blue": 4}, noise=0.05))
    red = Category("Red", (Label("red"), Label("other", counter=True)), kind=MULTI)
    tagger.store.save_category(red)
    tagger.retag()
    assert _labels_of(tagger, ids, "Red") == ["red"] * 4 + [None] * 8
    tagger.correct(ids[0], "Red", "red", REJECTED)
    assert _labels_of(tagger, ids, "Red") == [None] + ["red"] * 3 + [None] * 8


def test_lazy_texts_load_the_model_only_for_labels_not_cached(
    tmp_path: Path, tiny_encoder: Any
) -> None:
    loads: list[str] = []

    def load() -> Any:
        loads.append("model")
        return tiny_encoder

    key = tiny_encoder.model_key
    vectors = np.random.default_rng(0).normal(size=(6, 32)).astype(np.float32)
    catalog, _ = catalog_with_vectors(tmp_path, vectors, model_key=key)
    Tagger(catalog, LazyClipTexts(key, load)).store.save_category(COLOURS)
    Tagger(catalog, LazyClipTexts(key, load)).retag()
    assert loads  # the labels were new
    loaded = len(loads)
    Tagger(catalog, LazyClipTexts(key, load)).retag()
    assert len(loads) == loaded  # labels, background and logit scale cached: no model
    with pytest.raises(KnownError, match="not the one the library"):
        Tagger(catalog, LazyClipTexts("other:model", load)).retag()


def test_suggested_categories_are_added_on_request_once(tmp_path: Path) -> None:
    tagger, _, _ = _tagger(tmp_path, _photos({"red": 1}))
    assert tagger.store.categories() == []  # nothing until asked for
    assert install_default_categories(tagger.store, ["pets"]) == ["Pets"]
    added = install_default_categories(tagger.store)
    assert "Pets" not in added  # only those not there yet
    names = [c.name for c in tagger.store.categories()]
    assert sorted(names) == sorted(c.name for c in default_categories())
    assert install_default_categories(tagger.store) == []


@pytest.mark.parametrize("suffix", [".toml", ".json"])
def test_categories_round_trip_through_files_and_the_catalog(tmp_path: Path, suffix: str) -> None:
    categories = default_categories()
    assert any(lab.counter for c in categories for lab in c.labels)
    categories[0] = replace(categories[0], other_words=False)  # the user turned them off
    path = tmp_path / f"categories{suffix}"
    dump_categories(categories, path)
    assert load_categories(path) == categories
    store = TagStore(catalog_with_vectors(tmp_path, _photos({"red": 1}))[0])
    for category in categories:
        store.save_category(category)
    assert store.categories() == categories


def test_a_category_file_with_other_words_not_true_or_false_is_refused() -> None:
    table = {"name": "Colour", "labels": ["red", "blue"], "other_words": "no"}
    with pytest.raises(CategoryFileError, match="other_words must be true or false"):
        parse_categories({"category": [table]})
    table["other_words"] = False
    assert not parse_categories({"category": [table]})[0].other_words


# -- the test-shapes model on generated scenes -------------------------------------------------


@pytest.fixture(scope="module")
def shapes_encoder() -> Any:
    from photoclip.core.embedding import load_encoder
    from photoclip.core.profiles import resolve_profile

    return load_encoder(resolve_profile("test-shapes"), device="cpu")


@pytest.fixture(scope="module")
def scene_library(shapes_encoder: Any) -> tuple[np.ndarray, list[str], list[str]]:
    """Held-out scenes, 3 of every colour and shape, varied in size, place and background:
    their vectors, colours and shapes."""
    rng = random.Random(HELD_OUT_SEED)
    scenes = [
        random_object_scene(rng, 1, colour=colour, shape=shape)
        for colour in SCENE_COLOURS
        for shape in SHAPES
        for _ in range(3)
    ]
    vectors = shapes_encoder.encode_pil([scene.render() for scene in scenes])
    return vectors, [s.objects[0].colour for s in scenes], [s.objects[0].shape for s in scenes]


def _shapes_tagger(
    tmp_path: Path, encoder: Any, vectors: np.ndarray, templates: Sequence[str] = DEFAULT_TEMPLATES
) -> tuple[Tagger, list[int]]:
    catalog, ids = catalog_with_vectors(tmp_path, vectors, model_key=encoder.model_key)
    return Tagger(catalog, ClipTexts(encoder), templates), ids


def _accuracy(tagger: Tagger, ids: list[int], truth: list[str], category: str) -> float:
    got = _labels_of(tagger, ids, category)
    return float(np.mean([g == t for g, t in zip(got, truth, strict=True)]))


@pytest.mark.slow
def test_colour_and_shape_categories_tag_generated_scenes(
    tmp_path: Path, shapes_encoder: Any, scene_library: tuple[np.ndarray, list[str], list[str]]
) -> None:
    vectors, colours, shapes = scene_library
    tagger, ids = _shapes_tagger(tmp_path, shapes_encoder, vectors)
    tagger.store.save_category(Category("Colour", tuple(Label(c) for c in SCENE_COLOURS)))
    tagger.store.save_category(Category("Shape", tuple(Label(s) for s in SHAPES)))
    tagger.retag()
    assert _accuracy(tagger, ids, colours, "Colour") >= 0.9
    assert _accuracy(tagger, ids, shapes, "Shape") >= 0.9


@pytest.mark.slow
def test_abstains_on_scenes_whose_colour_is_not_in_the_category(
    tmp_path: Path, shapes_encoder: Any, scene_library: tuple[np.ndarray, list[str], list[str]]
) -> None:
    vectors, colours, _ = scene_library
    tagger, ids = _shapes_tagger(tmp_path, shapes_encoder, vectors)
    tagger.store.save_category(COLOURS)  # red, green, blue of eight colours
    tagger.retag()
    got = _labels_of(tagger, ids)
    inside = [(g, c) for g, c in zip(got, colours, strict=True) if c in ("red", "green", "blue")]
    outside = [g for g, c in zip(got, colours, strict=True) if c not in ("red", "green", "blue")]
    assert np.mean([g == c for g, c in inside]) >= 0.9
    # Measured: 0.85 (51 of 60). The rest are white photos that "green" scores as high as
    # green ones: no threshold tells them apart (at most 0.9 with thresholds picked knowing
    # the answers). The interim test-shapes weights, which knew colours only, reached 0.9.
    assert np.mean([g is None for g in outside]) >= 0.8


@pytest.mark.slow
def test_multi_label_tags_most_photos_of_each_colour(
    tmp_path: Path, shapes_encoder: Any, scene_library: tuple[np.ndarray, list[str], list[str]]
) -> None:
    vectors, colours, _ = scene_library
    tagger, ids = _shapes_tagger(tmp_path, shapes_encoder, vectors)
    tagger.store.save_category(Category("Colours", tuple(Label(c) for c in SCENE_COLOURS), MULTI))
    others = Label("other", ("another colour",), counter=True)
    tagger.store.save_category(Category("Red", (Label("red"), others), kind=MULTI))
    tagger.retag()
    truth = set(zip(ids, colours, strict=True))
    tags = tagger.store.tags()
    found = {(t.photo_id, t.label) for t in tags if t.category == "Colours"}
    right = len(found & truth)
    # Measured: precision 1.0, recall 0.89 (run FS; run FM 0.99, 0.80; run FE 0.62, 0.82:
    # each label against the background and the counter-labels only, at what noise reaches 1
    # in 20; on tests/heldout.py's scenes FM's precision is 0.66-0.76). The old library calibration
    # measured 0.84 / 0.54 here; its bars were 0.8 / 0.5. With this model the background
    # prompts ("a photo", ...) mean little (it never saw a photo), so a multi-label
    # label's only opponent is weak: see MULTI_NOISE_FLOOR for the trade measured.
    assert right / len(found) >= 0.6 and right / len(truth) >= 0.8
    red = {t.photo_id for t in tags if t.category == "Red"}
    true_red = {i for i, c in truth if c == "red"}
    # Measured: 11 of the 12, and nothing else (run FM: all 12 and one orange shape; run E:
    # 9 of the 12, and nothing else).
    assert len(red & true_red) >= 9 and len(red & true_red) / len(red) >= 0.9


@pytest.mark.slow
def test_prompt_ensembling_is_not_worse_than_one_template(
    tmp_path: Path, shapes_encoder: Any, scene_library: tuple[np.ndarray, list[str], list[str]]
) -> None:
    vectors, colours, shapes = scene_library
    accuracy = {}
    for name, templates in (("one", ("a photo of a {}.",)), ("ensemble", DEFAULT_TEMPLATES)):
        texts = ClipTexts(shapes_encoder)
        correct = 0
        for labels, truth in ((list(SCENE_COLOURS), colours), (list(SHAPES), shapes)):
            category = Category("C", tuple(Label(label) for label in labels))
            matrix = texts.embed_labels(
                [[label] for label in labels], templates_for(category, templates)
            )
            predicted = np.array(labels)[(vectors @ matrix.T).argmax(axis=1)]
            correct += int((predicted == np.array(truth)).sum())
        accuracy[name] = correct / (2 * len(vectors))
    assert accuracy["ensemble"] >= accuracy["one"] - 0.01


def test_the_indexer_hook_receives_the_committed_photos(tmp_path: Path, tiny_encoder: Any) -> None:
    from photoclip.core.indexing import Indexer
    from photoclip.core.library import Library
    from photoclip.core.paths import Locations

    for i in range(5):
        make_photo(tmp_path / "photos" / f"p{i}.jpg", pattern=i)
    seen: list[int] = []
    with Library.open(Locations.from_environment()) as library:
        Indexer(library, tiny_encoder, batch_size=2, after_commit=seen.extend).index(
            [tmp_path / "photos"]
        )
        assert sorted(seen) == sorted(
            library.catalog.photo_ids_with_vectors(tiny_encoder.model_key)
        )
        assert len(seen) == 5


def test_check_warns_of_labels_that_never_tag_or_tag_nearly_everything() -> None:
    category = Category("C", (Label("a"), Label("b"), Label("c"), Label("x", counter=True)))
    thresholds = np.array([0.5, 0.5, np.inf, 0.5])
    warnings = check_warnings(category, thresholds, {"a": 95, "b": 0, "c": 0}, 100)
    assert warnings == [
        "'a' tags 95% of the library",
        "'b' tags no photo",
        "no photo stands out for 'c'",
    ]
    alone = Category("D", (Label("d"),))
    assert check_warnings(alone, np.array([0.5]), {"d": 3}, 100) == [
        "needs two labels, or a label and a counter-label, before it tags"
    ]


def test_a_category_of_one_label_tags_nothing_and_says_why(tmp_path: Path) -> None:
    tagger, _, _ = _tagger(tmp_path, _photos({"red": 5, "blue": 5}))
    tagger.store.save_category(Category("Red", (Label("red"),)))
    [result] = tagger.retag()
    assert result.tagged == 0
    assert result.warnings[-1] == "'Red' needs two labels, or a label and a counter-label"
    tagger.store.save_category(Category("Red", (Label("red"), Label("other", counter=True))))
    assert tagger.retag()[0].counts == {"red": 5, "other": 0}


# -- corrections of a selection ----------------------------------------------------------------


def test_a_selection_is_corrected_at_once_and_undone_at_once(tmp_path: Path) -> None:
    """Issue 19: confirm or remove a tag on every selected photo, with one undo."""
    tagger, ids, _ = _tagger(tmp_path, _photos({"red": 6, "green": 6, "blue": 6}, noise=0.05))
    tagger.store.save_category(COLOURS)
    tagger.retag()
    before = _labels_of(tagger, ids)
    greens = ids[6:12]

    tagger.correct_many(greens[:4], "Colour", "green", REJECTED)
    labels = _labels_of(tagger, ids)
    assert labels[6:10] == [None] * 4  # every selected photo lost it
    assert labels[:6] == before[:6]  # the others kept theirs

    tagger.correct_many(ids[12:15], "Colour", "red", CONFIRMED)
    confirmed = {t.photo_id for t in tagger.store.tags() if t.source == CONFIRMED}
    assert confirmed == set(ids[12:15])

    what, _ = tagger.undo() or ("", None)
    assert what == "confirmed 'red' on 3 photos"
    assert not any(t.source == CONFIRMED for t in tagger.store.tags())
    what, _ = tagger.undo() or ("", None)
    assert what == "rejected 'green' on 4 photos"
    assert _labels_of(tagger, ids) == before
    assert tagger.undo() is None


def test_correcting_photos_without_vectors_says_so(tmp_path: Path) -> None:
    tagger, ids, _ = _tagger(tmp_path, _photos({"red": 2, "green": 2, "blue": 2}))
    tagger.store.save_category(COLOURS)
    tagger.retag()
    with pytest.raises(KnownError, match="No such photo has a vector"):
        tagger.correct_many([max(ids) + 100], "Colour", "red", CONFIRMED)
    assert tagger.undo() is None  # nothing was journaled


def test_an_undo_entry_of_one_photo_from_before_selections_is_still_undone(
    tmp_path: Path,
) -> None:
    """Journals written before batch corrections name "photo", not "photos"."""
    import json

    tagger, ids, _ = _tagger(tmp_path, _photos({"red": 3, "green": 3, "blue": 3}, noise=0.05))
    tagger.store.save_category(COLOURS)
    tagger.retag()
    tagger.correct(ids[0], "Colour", "red", REJECTED)
    assert _labels_of(tagger, ids)[0] is None
    entry = json.loads(tagger.catalog.get_meta("tag_undo", "[]") or "[]")[0]
    old = {"photo": entry["photos"][0], "previous": entry["previous"][0],
           "label": entry["label"], "category": entry["category"], "what": "old"}  # fmt: skip
    with tagger.catalog.transaction():
        tagger.catalog.set_meta("tag_undo", json.dumps([old]))
    assert (tagger.undo() or ("", None))[0] == "old"
    assert _labels_of(tagger, ids)[0] == "red"
