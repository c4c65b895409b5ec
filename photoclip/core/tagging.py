"""Zero-shot auto-tagging: label vectors from ensembled prompts, scores against the stored
photo vectors, per-label thresholds calibrated on the library, decisions, corrections.

A label's vector is the mean of its phrasings x prompt templates in embedding space
(open_clip's `build_zero_shot_classifier`), cached in the catalog per (model, phrasings,
templates). A photo's score for a label is the cosine of the two. Tagging never re-embeds
photos: it reads `Catalog.photo_vectors`, so editing a category re-tags the whole library
in a matrix product.

Decisions. Single-choice: the best label tags the photo if its score reaches its threshold
and leads the runner-up by the category's margin; a counter-label winning, or no label
qualifying, is an abstention ("none of these"). Multi-label: each label on its own
threshold, and ahead of the best counter-label by the margin.

Thresholds are calibrated per model on the library's scores (Otsu's split of each label's
score distribution: tagged vs. not, or Kittler and Illingworth's minimum-error split when a
tight group stands above a wide bulk), stored with the share of photos they tag, shown by
`photoclip tags calibration` and overridden per label by the user.

Corrections refine a label: its vector becomes label + ALPHA * o(confirmed) - BETA *
o(rejected) less its part along the label, renormalised. o(photos) is their mean less the
library's mean photo, shrunk by n / (n + 1) for n photos (one photo is mostly its own
quirks). Only what sets the rejected photos apart pushes the label away, not the label
itself: rejecting one red photo from "red" must not unlearn red. Similar photos follow.
A confirmed tag is never removed by re-tagging, and a rejected one never comes back.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from photoclip.core.catalog import Catalog
from photoclip.core.categories import SINGLE, Category, default_categories
from photoclip.core.errors import KnownError
from photoclip.core.tagstore import CONFIRMED, REJECTED, Calibration, TagRow, TagStore

if TYPE_CHECKING:
    from photoclip.core.embedding import Encoder

log = logging.getLogger(__name__)

#: Photo templates in the style of the CLIP paper's ImageNet ensemble.
DEFAULT_TEMPLATES: tuple[str, ...] = (
    "a photo of a {}.",
    "a close-up photo of a {}.",
    "a photo of the {}.",
    "a bright photo of a {}.",
    "a cropped photo of a {}.",
    "a good photo of a {}.",
    "itap of a {}.",
    "a picture of a {}.",
)
#: How far confirmed photos pull a label towards them, rejected ones push it away (only
#: along what sets them apart, not along the label itself; see _beside).
ALPHA = 0.5
BETA = 2.0
#: Otsu's split is trusted when it explains this share of the scores' variance (a single
#: normal bell gives 2/pi = 0.64, a uniform spread 0.75); below it, the threshold is the
#: mean + TAIL_STDS standard deviations (~2% of a bell).
MIN_SEPARATION = 0.8
TAIL_STDS = 2.0
#: A minimum-error split (a small tight group above a wide bulk) is trusted when two bells
#: describe the scores better than one by this many nats per photo. Measured: one normal
#: bell 0.000-0.005 (100 to 100k photos), a skewed (gamma) bell 0.06, a uniform spread
#: 0.04, test-shapes colour labels over generated scenes 0.11-0.52.
MIN_GAIN = 0.1
#: A single-choice label's winners all count when they score this many standard deviations
#: (of the photos it loses) above those.
SEPARATION_STDS = 2.0
#: A calibration is redone by incremental tagging once the library has grown this much.
RECALIBRATE_GROWTH = 2.0
#: A calibration that tags more than this share of the library is reported as suspect.
MAX_PLAUSIBLE_RATE = 0.9
_DEFAULTS_INSTALLED = "tag_defaults_installed"
#: The label-vector cache's key for the library's mean photo (see Tagger._centre).
_CENTRE = "library-centre"


class TextVectors(Protocol):
    """What the tagger needs of a model: its key and label vectors (rows, unit length)."""

    @property
    def model_key(self) -> str: ...

    def embed_labels(
        self, texts: Sequence[Sequence[str]], templates: Sequence[str]
    ) -> np.ndarray: ...


class ClipTexts:
    """Label vectors from an `Encoder`: every phrasing through every template, averaged."""

    def __init__(self, encoder: Encoder) -> None:
        self.encoder = encoder

    @property
    def model_key(self) -> str:
        return str(self.encoder.model_key)

    def embed_labels(self, texts: Sequence[Sequence[str]], templates: Sequence[str]) -> np.ndarray:
        flat = [text for phrasings in texts for text in phrasings]
        per_phrasing = self.encoder.embed_prompts(flat, list(templates))
        bounds = np.cumsum([0, *(len(p) for p in texts)])
        means = [per_phrasing[a:b].mean(axis=0) for a, b in itertools.pairwise(bounds)]
        return _normalise(np.stack(means).astype(np.float32))


class LazyClipTexts:
    """`ClipTexts` of a model loaded by `load` only when a label's vector is not cached yet:
    re-tagging after an edit of thresholds, or with labels embedded before, needs no model
    (a CLI run then skips importing torch and loading the weights).

    `load` is called each time labels need embedding and the encoder is not kept, so a
    long-lived tagger never holds a model its owner has unloaded: give a loader that is
    cheap when called again (memoized, or the worker's, which keeps a model while used)."""

    def __init__(self, model_key: str, load: Callable[[], Any]) -> None:
        self._model_key = model_key
        self._load = load

    @property
    def model_key(self) -> str:
        return self._model_key

    def embed_labels(self, texts: Sequence[Sequence[str]], templates: Sequence[str]) -> np.ndarray:
        texts_of = ClipTexts(self._load())
        if texts_of.model_key != self._model_key:
            raise KnownError(
                f"The model loaded ({texts_of.model_key}) is not the one the library's "
                f"vectors come from ({self._model_key}); index again with it."
            )
        return texts_of.embed_labels(texts, templates)


# -- prompts -------------------------------------------------------------------------------


def templates_for(category: Category, templates: Sequence[str] = DEFAULT_TEMPLATES) -> list[str]:
    """The templates with the category's context: "a photo of a {}, a type of pet."."""
    if not category.context:
        return list(templates)
    return [f"{t.rstrip('.')}, {category.context}." for t in templates]


def fingerprint(texts: Sequence[str], templates: Sequence[str]) -> str:
    payload = json.dumps([list(texts), list(templates)], ensure_ascii=False)
    return hashlib.blake2b(payload.encode(), digest_size=16).hexdigest()


# -- decisions (pure numpy) ------------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    """Photo rows [i] get label column [j], with the runner-up column and scores."""

    rows: np.ndarray
    labels: np.ndarray
    scores: np.ndarray
    runner_up: np.ndarray
    runner_up_scores: np.ndarray


def decide(
    category: Category,
    scores: np.ndarray,
    thresholds: np.ndarray,
    blocked: np.ndarray | None = None,
) -> Decision:
    """Which photos (rows of `scores`) get which labels (columns). `blocked` marks pairs the
    user rejected; they are out of the running."""
    if blocked is not None and blocked.any():
        scores = np.where(blocked, -np.inf, scores)
    counter = np.array([label.counter for label in category.labels], dtype=bool)
    # -inf - -inf (a blocked label against a blocked rival) is NaN, which decides nothing.
    with np.errstate(invalid="ignore"):
        if category.kind == SINGLE:
            return _decide_single(scores, thresholds, counter, category.margin)
        return _decide_multi(scores, thresholds, counter, category.margin)


def _decide_single(
    scores: np.ndarray, thresholds: np.ndarray, counter: np.ndarray, margin: float
) -> Decision:
    rows = np.arange(len(scores))
    if scores.shape[1] == 1:
        best, second = np.zeros(len(scores), dtype=np.int64), np.full(len(scores), -1)
        second_scores = np.full(len(scores), -np.inf)
    else:
        top2 = np.argpartition(-scores, 1, axis=1)[:, :2]
        swap = scores[rows, top2[:, 1]] > scores[rows, top2[:, 0]]
        best = np.where(swap, top2[:, 1], top2[:, 0])
        second = np.where(swap, top2[:, 0], top2[:, 1])
        second_scores = scores[rows, second]
    best_scores = scores[rows, best]
    ok = (best_scores >= thresholds[best]) & (best_scores - second_scores >= margin)
    ok &= ~counter[best] & np.isfinite(best_scores)
    return Decision(rows[ok], best[ok], best_scores[ok], second[ok], second_scores[ok])


def _decide_multi(
    scores: np.ndarray, thresholds: np.ndarray, counter: np.ndarray, margin: float
) -> Decision:
    rivals = scores[:, counter].max(axis=1) if counter.any() else np.full(len(scores), -np.inf)
    rows, labels = np.nonzero(
        (scores >= thresholds) & ~counter & (scores - rivals[:, None] >= margin)
    )
    # The runner-up shown for a multi-label tag is the best other label of the category.
    others = scores.copy()
    others[rows, labels] = -np.inf
    if scores.shape[1] > 1:
        runner_up = others[rows].argmax(axis=1)
        runner_scores = others[rows, runner_up]
    else:
        runner_up, runner_scores = np.full(len(rows), -1), np.full(len(rows), -np.inf)
    return Decision(rows, labels, scores[rows, labels], runner_up, runner_scores)


def calibrated_threshold(scores: np.ndarray) -> float:
    """Otsu's split of a label's scores (photos that show it vs. the rest) when the scores
    fall in two groups of similar spread; else the minimum-error split when a tight group
    stands above a wide bulk (the photos that do not show a label score in a wide spread:
    orange photos are half-red); else (one bell, as for a label no photo shows) a threshold
    in the upper tail, so that a label with no clear group tags few photos, not half."""
    ordered = np.sort(scores.astype(np.float64))
    threshold, separation = _otsu(ordered)
    if separation >= MIN_SEPARATION:
        return threshold
    threshold, gain = _minimum_error(ordered)
    if gain >= MIN_GAIN:
        return threshold
    return float(ordered.mean() + TAIL_STDS * ordered.std()) + 1e-6


def single_choice_threshold(scores: np.ndarray, won: np.ndarray) -> float:
    """A single-choice label competes with its siblings first, so it is calibrated on the
    photos it wins. Otsu splits them in two; the split is real (the label also wins photos
    of things outside the category) when the lower group lies nearer the photos it loses
    than the upper group, or the gap between the groups is wide.
    Else, if its winners stand out from the photos it loses (by
    SEPARATION_STDS of theirs), all of them count; else, as for a multi-label, the tail."""
    winning, losing = scores[won], scores[~won]
    if len(winning) < 2 or len(losing) < 2:
        return calibrated_threshold(scores)
    threshold, _ = otsu_threshold(winning)
    lower, upper = winning[winning < threshold], winning[winning >= threshold]
    if len(lower) and len(upper):
        nearer_losers = lower.mean() - losing.mean() < upper.mean() - lower.mean()
        # or a wide gap: twice the upper group's spread, a quarter of its lead over losers
        wide = max(2 * np.ptp(upper), (upper.mean() - losing.mean()) / 4)
        apart = len(upper) >= 2 and upper.min() - lower.max() >= wide
        if nearer_losers or apart:
            return threshold
    if winning.mean() - losing.mean() >= SEPARATION_STDS * max(losing.std(), 1e-6):
        return float(winning.min()) - 1e-6
    return calibrated_threshold(scores)


def otsu_threshold(scores: np.ndarray) -> tuple[float, float]:
    """The split of `scores` into two groups with the largest between-group variance, and
    that variance's share of the total (0.64 for one normal bell, near 1 for two groups)."""
    return _otsu(np.sort(scores.astype(np.float64)))


def _otsu(ordered: np.ndarray) -> tuple[float, float]:
    n = len(ordered)
    if n < 2 or ordered[-1] - ordered[0] < 1e-9:
        return (float(ordered[-1]) + 1e-6 if n else 1.0), 0.0
    k = np.arange(1, n)
    total = np.cumsum(ordered)
    below, above = total[:-1] / k, (total[-1] - total[:-1]) / (n - k)
    variance = (k / n) * (1 - k / n) * (below - above) ** 2
    split = int(np.argmax(variance)) + 1
    separation = float(variance[split - 1] / max(ordered.var(), 1e-12))
    return float((ordered[split - 1] + ordered[split]) / 2), separation


def minimum_error_threshold(scores: np.ndarray) -> tuple[float, float]:
    """Kittler and Illingworth's minimum-error split: the scores as two bells, each with its
    own share and spread, the upper one (the photos that show the label) at most half of
    them. Returns the threshold and how much better two bells describe the scores than one
    (average log-likelihood gain, nats per photo; 0 when there is nothing to split)."""
    return _minimum_error(np.sort(scores.astype(np.float64)))


def _minimum_error(ordered: np.ndarray) -> tuple[float, float]:
    n = len(ordered)
    if n < 4 or ordered[-1] - ordered[0] < 1e-9:
        return (float(ordered[-1]) + 1e-6 if n else 1.0), 0.0
    k = np.arange(n // 2, n - 1)  # the lower bell's size: at least half, leaving two above
    total, squares = np.cumsum(ordered), np.cumsum(ordered**2)
    floor = ordered.var() * 1e-4  # a group of equal scores has no spread, not -inf nats
    low_mean, high_mean = total[k - 1] / k, (total[-1] - total[k - 1]) / (n - k)
    low_var = np.maximum(squares[k - 1] / k - low_mean**2, floor)
    high_var = np.maximum((squares[-1] - squares[k - 1]) / (n - k) - high_mean**2, floor)
    p = k / n
    cost = p * np.log(low_var) + (1 - p) * np.log(high_var)
    cost -= 2 * (p * np.log(p) + (1 - p) * np.log(1 - p))
    best = int(np.argmin(cost))
    gain = (np.log(max(ordered.var(), floor)) - cost[best]) / 2
    split = int(k[best])
    return float((ordered[split - 1] + ordered[split]) / 2), float(gain)


# -- the tagger --------------------------------------------------------------------------------


@dataclass
class CategoryResult:
    category: str
    photos: int
    tagged: int
    #: label -> how many photos carry it
    counts: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def abstained(self) -> int:
        return self.photos - self.tagged


@dataclass(frozen=True)
class LabelScore:
    label: str
    score: float
    #: None until the label is calibrated (or given a threshold)
    threshold: float | None
    counter: bool
    tagged: bool
    source: str | None


@dataclass(frozen=True)
class Explanation:
    category: str
    kind: str
    margin: float
    scores: list[LabelScore]


class Tagger:
    """Tags the library's photos with the catalog's categories, using `texts`' model."""

    def __init__(
        self, catalog: Catalog, texts: TextVectors, templates: Sequence[str] = DEFAULT_TEMPLATES
    ) -> None:
        self.catalog = catalog
        self.store = TagStore(catalog)
        self.texts = texts
        self.templates = tuple(templates)
        self._vectors: tuple[int, np.ndarray, np.ndarray] | None = None

    @property
    def model_key(self) -> str:
        return self.texts.model_key

    def retag(
        self,
        categories: Sequence[str] | None = None,
        photo_ids: Sequence[int] | None = None,
        *,
        recalibrate: bool = True,
    ) -> list[CategoryResult]:
        """Tag every photo (or `photo_ids`) for every category (or those named). With
        `recalibrate`, thresholds are computed afresh from the whole library's scores."""
        chosen = self._categories(categories)
        if photo_ids is None:
            ids, vectors = self._library()
        else:
            ids, vectors = self.catalog.photo_vectors(self.model_key, photo_ids)
        size = (
            len(ids)
            if photo_ids is None
            else len(self.catalog.photo_ids_with_vectors(self.model_key))
        )
        results = []
        for category in chosen:
            matrix = self.label_matrix(category)
            scores = _scores(vectors, matrix)
            if recalibrate or self._stale(category, size):
                everyone = scores if photo_ids is None else _scores(self._library()[1], matrix)
                self._calibrate(category, everyone)
            results.append(self._tag(category, scores, ids, photo_ids is None))
        return results

    def calibrate(self, categories: Sequence[str] | None = None) -> None:
        _, vectors = self._library()
        for category in self._categories(categories):
            self._calibrate(category, _scores(vectors, self.label_matrix(category)))

    def _library(self) -> tuple[np.ndarray, np.ndarray]:
        """Every photo's vector, kept while the catalog's generation stands: a long-lived
        tagger (GUI, worker) re-tags after each edit without reading SQLite again."""
        generation = self.catalog.generation
        if self._vectors is None or self._vectors[0] != generation:
            self._vectors = (generation, *self.catalog.photo_vectors(self.model_key))
        return self._vectors[1], self._vectors[2]

    def thresholds(self, category: Category) -> np.ndarray:
        """The user's threshold where set, else the calibrated one (never calibrated: +inf,
        so nothing is tagged until a calibration ran)."""
        calibrated = self.store.calibration(self.model_key)
        values = []
        for label in category.labels:
            found = calibrated.get(int(label.id or -1))
            value = label.threshold if label.threshold is not None else None
            values.append(value if value is not None else found.threshold if found else np.inf)
        return np.array(values, dtype=np.float64)

    def explain(self, photo_id: int) -> list[Explanation]:
        ids, vectors = self.catalog.photo_vectors(self.model_key, [photo_id])
        if not len(ids):
            raise KnownError(f"Photo {photo_id} has no vector of {self.model_key}; index it.")
        sources = {(t.category, t.label): t.source for t in self.store.tags([photo_id])}
        found = []
        for category in self._categories(None):
            scores = vectors @ self.label_matrix(category).T
            thresholds = self.thresholds(category)
            rows = [
                LabelScore(
                    label.name,
                    float(scores[0, j]),
                    float(thresholds[j]) if np.isfinite(thresholds[j]) else None,
                    label.counter,
                    (category.name, label.name) in sources,
                    sources.get((category.name, label.name)),
                )
                for j, label in enumerate(category.labels)
            ]
            rows.sort(key=lambda r: r.score, reverse=True)
            found.append(Explanation(category.name, category.kind, category.margin, rows))
        return found

    def correct(self, photo_id: int, category_name: str, label_name: str, verdict: str) -> None:
        """Confirm or reject a label on a photo, then re-tag the library for its category."""
        category = self._category(category_name)
        label = category.label(label_name)
        if label is None or label.id is None:
            raise KnownError(f"'{category.name}' has no label '{label_name}'.")
        if verdict not in (CONFIRMED, REJECTED):
            raise ValueError(verdict)
        ids, vectors = self.catalog.photo_vectors(self.model_key, [photo_id])
        if not len(ids):
            raise KnownError(f"Photo {photo_id} has no vector of {self.model_key}; index it.")
        j = category.labels.index(label)
        score = float(vectors[0] @ self.label_matrix(category)[j])
        evidence = TagRow(photo_id, label.id, score, float(self.thresholds(category)[j]))
        self.store.correct(photo_id, label.id, verdict, evidence)
        self.retag([category.name])

    # -- label vectors -------------------------------------------------------------------

    def label_matrix(self, category: Category) -> np.ndarray:
        """One unit row per label: the prompt ensemble, refined by the user's corrections."""
        templates = templates_for(category, self.templates)
        prints = [fingerprint(label.texts, templates) for label in category.labels]
        cached = self.store.label_vectors(self.model_key, prints)
        missing = [i for i, p in enumerate(prints) if p not in cached]
        if missing:
            texts = [category.labels[i].texts for i in missing]
            fresh = self.texts.embed_labels(texts, templates)
            new = {prints[i]: vector for i, vector in zip(missing, fresh, strict=True)}
            self.store.put_label_vectors(self.model_key, new)
            cached.update(new)
        return self._refined(category, np.stack([cached[p] for p in prints]))

    def _refined(self, category: Category, matrix: np.ndarray) -> np.ndarray:
        ids = [int(label.id) for label in category.labels if label.id is not None]
        corrections = self.store.corrections(ids) if ids else {}
        if not corrections:
            return matrix
        matrix = matrix.copy()
        centre = self._centre()
        for j, label in enumerate(category.labels):
            votes = corrections.get(int(label.id or -1))
            if votes:
                confirmed = self._offset(votes[CONFIRMED], centre)
                rejected = _beside(self._offset(votes[REJECTED], centre), matrix[j])
                matrix[j] += ALPHA * confirmed - BETA * rejected
        return _normalise(matrix)

    def _centre(self) -> np.ndarray:
        """The library's mean photo, stored with the label vectors and renewed by every
        whole-library re-tag (incremental tagging must not read every vector per batch)."""
        found = self.store.label_vectors(self.model_key, [_CENTRE])
        if _CENTRE in found and self._vectors is None:
            return found[_CENTRE]
        centre = self._library()[1].mean(axis=0)
        self.store.put_label_vectors(self.model_key, {_CENTRE: centre})
        return centre

    def _offset(self, photo_ids: list[int], centre: np.ndarray) -> np.ndarray | float:
        """How these photos differ from the library's average photo. (Their raw mean would
        also carry what every photo shares, and move every score alike.)"""
        if not photo_ids:
            return 0.0
        _, vectors = self.catalog.photo_vectors(self.model_key, photo_ids)
        if not len(vectors):
            return 0.0
        # Shrunk by n / (n + 1): one photo's offset is mostly its own quirks (its shape, its
        # background); what several photos share is what the user meant.
        return (vectors.mean(axis=0) - centre) * len(vectors) / (len(vectors) + 1)

    # -- steps -----------------------------------------------------------------------------

    def _categories(self, names: Sequence[str] | None) -> list[Category]:
        if names is None:
            return self.store.categories()
        return [self._category(name) for name in names]

    def _category(self, name: str) -> Category:
        category = self.store.category(name)
        if category is None:
            raise KnownError(f"There is no tag category '{name}'. See: photoclip tags list")
        return category

    def _stale(self, category: Category, size: int) -> bool:
        """Never calibrated, or calibrated on a library much smaller than today's."""
        calibrated = self.store.calibration(self.model_key)
        counts = [calibrated[int(lab.id)].photos for lab in category.labels if lab.id in calibrated]
        if len(counts) < len(category.labels):
            return True
        return size > RECALIBRATE_GROWTH * max(1, min(counts))

    def _calibrate(self, category: Category, scores: np.ndarray) -> None:
        """Thresholds from `scores`: every photo of the library (rows) by label (columns)."""
        if not len(scores):
            return
        winners = scores.argmax(axis=1) if category.kind == SINGLE else None
        found = []
        for j, label in enumerate(category.labels):
            if winners is None:
                threshold = calibrated_threshold(scores[:, j])
            else:
                threshold = single_choice_threshold(scores[:, j], winners == j)
            rate = float((scores[:, j] >= threshold).mean())
            found.append(Calibration(int(label.id or -1), threshold, len(scores), rate))
        self.store.put_calibration(self.model_key, found)

    def _tag(
        self, category: Category, scores: np.ndarray, ids: np.ndarray, everything: bool
    ) -> CategoryResult:
        label_ids = [int(label.id or -1) for label in category.labels]
        blocked = self._blocked(category, ids, label_ids)
        thresholds = self.thresholds(category)
        decision = decide(category, scores, thresholds, blocked)
        rows = map(
            TagRow,
            ids[decision.rows].tolist(),
            np.array(label_ids)[decision.labels].tolist(),
            decision.scores.tolist(),
            thresholds[decision.labels].tolist(),
            _names(category, decision.runner_up),
            _finite(decision.runner_up_scores),
        )
        self.store.replace_auto_tags(label_ids, rows, None if everything else ids.tolist())
        return _summary(category, len(ids), decision, thresholds)

    def _blocked(self, category: Category, ids: np.ndarray, label_ids: list[int]) -> np.ndarray:
        """Rejected pairs; in a single-choice category, every label of a photo whose label
        the user confirmed (the confirmation is its answer)."""
        blocked = np.zeros((len(ids), len(label_ids)), dtype=bool)
        corrections = self.store.corrections(label_ids)
        if not corrections:
            return blocked
        row_of = {int(photo_id): i for i, photo_id in enumerate(ids.tolist())}
        for j, votes in _by_column(corrections, label_ids):
            for photo_id in votes[REJECTED]:
                if photo_id in row_of:
                    blocked[row_of[photo_id], j] = True
            for photo_id in votes[CONFIRMED]:
                if photo_id in row_of and category.kind == SINGLE:
                    blocked[row_of[photo_id], :] = True
        return blocked


def tag_photos(catalog: Catalog, texts: TextVectors, photo_ids: Sequence[int]) -> None:
    """The indexer's hook: tag photos just committed, with the stored thresholds
    (calibrated first where there are none yet or the library has grown a lot)."""
    if not photo_ids or not TagStore(catalog).categories():
        return
    Tagger(catalog, texts).retag(photo_ids=list(photo_ids), recalibrate=False)


def install_default_categories(store: TagStore) -> bool:
    """Put the shipped categories into a catalog the first time tags are used there (a user
    who later removes them all is not given them back)."""
    if store.catalog.get_meta(_DEFAULTS_INSTALLED) or store.categories():
        return False
    for category in default_categories():
        store.save_category(category)
    with store.catalog.transaction():
        store.catalog.set_meta(_DEFAULTS_INSTALLED, "1")
    return True


def calibration_warnings(category: Category, calibrated: dict[int, Calibration]) -> list[str]:
    """Say it when a label would tag nothing or nearly everything."""
    warnings = []
    for label in category.labels:
        found = calibrated.get(int(label.id or -1))
        if label.counter or label.threshold is not None or found is None:
            continue
        if found.tag_rate == 0:
            warnings.append(f"'{label.name}' is above its threshold on no photo")
        elif found.tag_rate > MAX_PLAUSIBLE_RATE:
            warnings.append(f"'{label.name}' is above its threshold on {found.tag_rate:.0%}")
    return warnings


def _summary(
    category: Category, photos: int, decision: Decision, thresholds: np.ndarray
) -> CategoryResult:
    counts = np.bincount(decision.labels, minlength=len(category.labels))
    tagged = int(np.count_nonzero(np.bincount(decision.rows, minlength=1)))
    result = CategoryResult(category.name, photos, tagged)
    result.counts = {lab.name: int(c) for lab, c in zip(category.labels, counts, strict=True)}
    if photos and not tagged:
        result.warnings.append(f"no photo was tagged in '{category.name}'")
    if photos >= 10 and tagged == photos and len(category.labels) > 1:
        result.warnings.append(f"every photo was tagged in '{category.name}'")
    for label, threshold in zip(category.labels, thresholds, strict=True):
        if not np.isfinite(threshold):
            result.warnings.append(f"'{label.name}' is not calibrated yet (no photos)")
    return result


def _scores(vectors: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Photos (rows) by labels (columns); an empty library has no vector width to match."""
    return vectors @ matrix.T if len(vectors) else np.zeros((0, len(matrix)), np.float32)


def _names(category: Category, columns: np.ndarray) -> list[str | None]:
    """Label names of these columns (-1: none)."""
    names = [label.name for label in category.labels]
    return [names[j] if j >= 0 else None for j in columns.tolist()]


def _finite(values: np.ndarray) -> list[float | None]:
    return [v if math.isfinite(v) else None for v in values.tolist()]


def _by_column(
    corrections: dict[int, dict[str, list[int]]], label_ids: list[int]
) -> list[tuple[int, dict[str, list[int]]]]:
    return [(label_ids.index(lid), votes) for lid, votes in corrections.items()]


def _beside(offset: np.ndarray | float, direction: np.ndarray) -> np.ndarray | float:
    """`offset` less its component along `direction` (a unit vector)."""
    if isinstance(offset, float):
        return offset
    return offset - float(offset @ direction) * direction


def _normalise(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return (matrix / np.maximum(norms, 1e-12)).astype(np.float32)
