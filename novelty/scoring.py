"""The scorer interface, and the calibration that turns any scorer's output into a p-value.

A scorer turns a prompt's nearest training neighbours (and its vector) into one number, higher =
more novel. The calibration scores held-out training prompts against the rest, cross-fitted over
folds (stratified by label) so every calibration prompt is scored by a scorer that never saw it,
and turns any score into a conformal p-value: the share of in-distribution prompts that looked at
least as novel. ``is_novel`` is ``p_value <= alpha``, so the false-alarm rate on in-distribution
traffic is about ``alpha`` whatever the model or the data: no cosine cut-off is hard-coded anywhere.
"""

from __future__ import annotations

import hashlib
import itertools
import numbers
from contextvars import ContextVar

from dataclasses import dataclass
from typing import Callable, Sequence

import faiss
import numpy as np

from .errors import NoveltyError

MIN_CALIBRATION = 20
FOLDS = 5
MAX_CALIBRATION = 20_000

# A caller that shows progress (the CLI's bar) sets this: called with (fits done, fits in all) as
# calibrate cross-fits the scorer, most of an index build's time on a big training set.
CALIBRATION_PROGRESS: ContextVar[Callable[[int, int], None] | None] = ContextVar("calibration_progress",
                                                                                  default=None)
_FITTED: ContextVar[Callable[[], None] | None] = ContextVar("fitted", default=None)  # set by calibrate


def _fitted() -> None:
    tick = _FITTED.get()
    if tick is not None:
        tick()


class BaseScorer:
    """scikit-learn style: ``__init__`` stores parameters, ``fit`` learns attributes ending in ``_``."""

    name = "base"
    k = 1                 # neighbours the scorer needs from the index
    needs_labels = False

    def params(self) -> dict:
        return {}

    def fit(self, vectors: np.ndarray, labels: Sequence) -> "BaseScorer":
        self._fit(vectors, labels)
        self.fitted_ = True
        return self

    def score(self, similarities: np.ndarray, positions: np.ndarray | None,
              vectors: np.ndarray | None) -> np.ndarray:
        """Novelty of each prompt from its neighbours (sorted, best first) and its vector."""
        if not getattr(self, "fitted_", False):
            raise RuntimeError(f"{type(self).__name__}.score called before fit")
        return self._score(similarities, positions, vectors)

    def calibration_scores(self, vectors: np.ndarray, labels: Sequence, folds: list[np.ndarray]) -> np.ndarray:
        """Scores of the fold members, each fitted without its own fold."""
        return cross_fit(lambda: type(self)(**self.params()), vectors, labels, folds)

    def state(self) -> dict:
        return {}

    def load_state(self, state: dict, labels: Sequence) -> "BaseScorer":
        self.fitted_ = True
        return self

    def _fit(self, vectors, labels) -> None:
        raise NotImplementedError

    def _score(self, similarities, positions, vectors) -> np.ndarray:
        raise NotImplementedError


def make_scorer(name: str = "knn", **params) -> BaseScorer:
    from .scorers import SCORERS

    if name not in SCORERS:
        raise NoveltyError(f"unknown scorer {name!r}; choose one of {', '.join(SCORERS)}")
    try:
        return SCORERS[name](**params)
    except TypeError as exc:
        raise NoveltyError(f"bad parameters for scorer {name!r}: {exc}") from None


def fully_labelled(labels: Sequence) -> bool:
    """Every prompt has a label (None and NaN are none), and there are at least two labels.

    >>> fully_labelled(["a", "b"]), fully_labelled(["a", None]), fully_labelled(["a", "a"])
    (True, False, False)
    """
    present = [label for label in labels if label is not None and label == label]
    return len(present) == len(labels) and len(set(present)) >= 2


def default_scorer(labels: Sequence) -> str:
    """The ensemble when every prompt is labelled with at least two labels; else kNN."""
    return "ensemble" if fully_labelled(labels) else "knn"


@dataclass(frozen=True)
class Calibration:
    """Sorted novelty scores of held-out in-distribution prompts, and the false-alarm target."""

    scores: np.ndarray
    alpha: float
    method: str = f"conformal, cross-fitted over {FOLDS} folds of the training prompts"

    def __post_init__(self):
        if isinstance(self.alpha, numbers.Real) and not isinstance(self.alpha, bool):  # a numpy float32 was
            object.__setattr__(self, "alpha", float(self.alpha))  # stored by SQLite as a BLOB, breaking spikes
        if not 0 < self.alpha < 1:  # also refuses NaN
            raise NoveltyError(f"--alpha is a false-alarm rate between 0 and 1 (e.g. 0.05), not {self.alpha}")

    def p_values(self, novelty: np.ndarray) -> np.ndarray:
        """Conformal p-value: (1 + #calibration scores >= s) / (n + 1)."""
        n = len(self.scores)
        at_least = n - np.searchsorted(self.scores, novelty, side="left")
        return ((1 + at_least) / (n + 1)).astype(np.float64)

    def is_novel(self, p_values: np.ndarray, alpha: float | None = None) -> np.ndarray:
        return p_values <= (self.alpha if alpha is None else alpha)

    @property
    def threshold(self) -> float:
        """A prompt is novel when its novelty is above this value (same rule as p_value <= alpha)."""
        n = len(self.scores)
        allowed = int(np.floor(self.alpha * (n + 1) + 1e-9)) - 1
        if allowed < 0:
            return float("inf")
        return float(self.scores[n - 1 - allowed])

    def summary(self) -> dict:
        qs = [0.5, 0.9, 0.95, 0.99]
        return {"alpha": self.alpha, "size": int(len(self.scores)), "threshold": self.threshold,
                "method": self.method,
                "quantiles": {str(q): float(np.quantile(self.scores, q)) for q in qs}}


def calibrate(scorer: BaseScorer, vectors: np.ndarray, labels: Sequence, alpha: float,
              seed: int = 0, held_out: np.ndarray | None = None,
              texts: Sequence[str] | None = None, adapted: bool = True) -> Calibration:
    """Held-out scores of the training prompts, then ``scorer`` fitted on all of them.

    ``held_out`` (positions) restricts the folds to that slice: for an adapted encoder, whose own
    training prompts are not exchangeable with new traffic (see novelty/adapt.py), or without the
    prompts added from the queue (``adapted`` False), picked for looking novel. Each fold of the
    slice is scored against everything else, the rest of the slice included, so a calibration prompt
    meets nearly the reference set a new prompt meets (all of it). ``texts`` (the prompts) place each
    prompt in its fold by its text, not its row (see ``stratified_folds``).
    """
    if not 0 < alpha < 1:  # before the costly cross-fit (Calibration checks it again)
        raise NoveltyError(f"--alpha must be between 0 and 1 (got {alpha})")
    if held_out is None:
        n = len(vectors)
        if n < MIN_CALIBRATION + FOLDS:
            raise NoveltyError(f"calibration needs at least {MIN_CALIBRATION + FOLDS} training prompts; "
                               f"this index has {n}. Add more labelled prompts.")
        folds, method = stratified_folds(labels, FOLDS, MAX_CALIBRATION, seed, texts), Calibration.method
    else:
        held_out = np.asarray(held_out)
        if len(held_out) < MIN_CALIBRATION:
            raise NoveltyError(f"calibration needs at least {MIN_CALIBRATION} held-out prompts (got "
                               f"{len(held_out)})")
        inner = stratified_folds([labels[i] for i in held_out], FOLDS, MAX_CALIBRATION, seed,
                                 None if texts is None else [texts[i] for i in held_out])
        folds = [held_out[f] for f in inner]
        method = (f"conformal, cross-fitted over {FOLDS} folds of a held-out slice of the training "
                  "prompts the encoder was not tuned on") if adapted else (
            f"{Calibration.method} (those added from the queue, picked for being novel, are reference only)")
    check_reachable(alpha, sum(len(f) for f in folds))
    show = CALIBRATION_PROGRESS.get()
    total = len(getattr(scorer, "members", [scorer])) * len(folds) + 1  # each member per fold, then the whole
    done = itertools.count(1)
    token = _FITTED.set(None if show is None else lambda: show(next(done), total))
    try:
        if show is not None:
            show(0, total)
        scores = scorer.calibration_scores(vectors, labels, folds)
        scorer.fit(vectors, labels)
        _fitted()
    finally:
        _FITTED.reset(token)
    return Calibration(np.sort(scores).astype(np.float32), alpha, method)


def check_reachable(alpha: float, size: int) -> None:
    """The smallest conformal p-value is 1 / (size + 1): an alpha below it would never flag a prompt.

    >>> check_reachable(0.01, 99)
    >>> check_reachable(0.001, 200)
    Traceback (most recent call last):
    ...
    novelty.errors.NoveltyError: alpha 0.001 can never be reached with 200 calibration prompts (the smallest p-value is 1/201 = 0.005): use alpha 0.005 or more, or more training prompts (999 or more)
    """
    if alpha * (size + 1) < 1 - 1e-9:
        smallest = 1 / (size + 1)
        scale = 10 ** (1 - int(np.floor(np.log10(smallest))))  # two significant figures, rounded up
        reachable = np.ceil(smallest * scale - 1e-9) / scale
        raise NoveltyError(f"alpha {alpha:g} can never be reached with {size} calibration prompts (the smallest "
                           f"p-value is 1/{size + 1} = {smallest:.2g}): use alpha {reachable:g} or more, or more "
                           f"training prompts ({int(np.ceil(1 / alpha)) - 1} or more)")


def stratified_folds(labels: Sequence, folds: int, max_points: int, seed: int,
                     texts: Sequence[str] | None = None) -> list[np.ndarray]:
    """Disjoint folds over at most ``max_points`` prompts, each label spread evenly across folds.

    With ``texts``, each prompt's place comes from a hash of its text and label (and ``seed``), not
    from its row: the same training prompts in another order fall into the same folds, so a rebuild
    from a re-sorted export gives the same calibration.

    >>> texts = ["pin", "card", "fee", "atm", "loan", "pay"]
    >>> a = stratified_folds(["x"] * 6, 2, 6, 0, texts)
    >>> b = stratified_folds(["x"] * 6, 2, 6, 0, texts[::-1])  # reversed: position i is text 5 - i
    >>> [sorted(texts[i] for i in f) for f in a] == [sorted(texts[::-1][i] for i in f) for f in b]
    True
    """
    keys = np.asarray([str(label) for label in labels], dtype=object)
    if texts is None:
        order = np.random.default_rng(seed).permutation(len(keys))
    else:
        if len(texts) != len(keys):
            raise ValueError(f"{len(texts)} texts for {len(keys)} labels")
        ranks = np.fromiter((_rank(seed, text, key) for text, key in zip(texts, keys)), np.uint64, len(keys))
        order = np.argsort(ranks, kind="stable")
    order = order[: min(len(keys), max_points)]
    order = order[np.argsort(keys[order], kind="stable")]  # group by label, random within label
    return [np.sort(order[f::folds]) for f in range(folds)]


def _rank(seed: int, text, label: str) -> int:
    """A prompt's place in the folds' shuffle: the same for the same prompt, wherever its row."""
    data = f"{seed}\x1f{label}\x1f{text}".encode("utf-8", "surrogatepass")
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little")


def cross_fit(factory: Callable[[], BaseScorer], vectors: np.ndarray, labels: Sequence,
              folds: list[np.ndarray]) -> np.ndarray:
    """Concatenated scores of each fold, by a scorer fitted on every prompt outside it."""
    labels = list(labels)
    out = []
    for held_out, keep, reference, index in fold_references(vectors, folds):
        scorer = factory().fit(reference, [labels[i] for i in np.flatnonzero(keep)])
        queries = np.ascontiguousarray(vectors[held_out])
        similarities, positions = index.search(queries, min(scorer.k, len(reference)))
        out.append(scorer.score(similarities, positions, queries))
        _fitted()
    return np.concatenate(out)


def fold_references(vectors: np.ndarray, folds: list[np.ndarray]):
    """Per fold, in order: (its positions, a mask of the prompts outside it, their vectors, and an
    exact inner-product index of them), what a held-out prompt is scored against."""
    for held_out in folds:
        keep = np.ones(len(vectors), dtype=bool)
        keep[held_out] = False
        reference = np.ascontiguousarray(vectors[keep])
        index = faiss.IndexFlatIP(vectors.shape[1])
        index.add(reference)
        yield held_out, keep, reference, index
