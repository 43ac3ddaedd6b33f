"""Novelty scorers and their calibration to p-values.

A scorer turns a prompt's nearest training neighbours into one number, higher = more novel. The
calibration scores held-out training prompts against the rest (cross-fitted over folds, so every
calibration prompt is scored by a reference that never saw it) and turns any score into a conformal
p-value: the share of in-distribution prompts that looked at least as novel. ``is_novel`` is
``p_value <= alpha``, so the false-alarm rate on in-distribution traffic is about ``alpha`` by
construction, whatever the model or the data; there is no hard-coded cosine cut-off anywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Protocol

import faiss
import numpy as np

from .errors import NoveltyError

MIN_CALIBRATION = 20


class Scorer(Protocol):
    """``fit`` on the reference; ``score`` from each prompt's neighbour similarities (sorted, best first)."""

    name: str
    k: int

    def params(self) -> dict: ...

    def fit(self, vectors: np.ndarray, labels: list[str | None]) -> "Scorer": ...

    def score(self, similarities: np.ndarray, vectors: np.ndarray) -> np.ndarray: ...


class KNNScorer:
    """Novelty = 1 - the mean (or max, min) cosine similarity of the ``k`` nearest training prompts.

    >>> s = KNNScorer(k=2).fit(np.zeros((3, 4), np.float32), [None] * 3)
    >>> s.score(np.array([[0.9, 0.7], [0.2, 0.1]], np.float32), np.zeros((2, 4), np.float32)).round(2)
    array([0.2 , 0.85], dtype=float32)
    """

    name = "knn"

    def __init__(self, k: int = 1, aggregation: str = "mean"):
        if k < 1 or aggregation not in {"mean", "max", "min"}:
            raise NoveltyError("the kNN scorer needs k >= 1 and an aggregation of mean, max or min")
        self.k, self.aggregation = k, aggregation

    def params(self) -> dict:
        return {"k": self.k, "aggregation": self.aggregation}

    def fit(self, vectors: np.ndarray, labels: list[str | None]) -> "KNNScorer":
        self.fitted_ = True
        return self

    def score(self, similarities: np.ndarray, vectors: np.ndarray) -> np.ndarray:
        if not getattr(self, "fitted_", False):
            raise RuntimeError("KNNScorer.score called before fit")
        top = similarities[:, : self.k]
        return (1.0 - getattr(np, self.aggregation)(top, axis=1)).astype(np.float32)


SCORERS: dict[str, Callable[..., Scorer]] = {"knn": KNNScorer}


def make_scorer(name: str = "knn", **params) -> Scorer:
    if name not in SCORERS:
        raise NoveltyError(f"unknown scorer {name!r}; choose one of {', '.join(SCORERS)}")
    return SCORERS[name](**params)


@dataclass(frozen=True)
class Calibration:
    """Sorted novelty scores of held-out in-distribution prompts, and the false-alarm target."""

    scores: np.ndarray
    alpha: float

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
                "method": "conformal, cross-fitted over folds of the training prompts",
                "quantiles": {str(q): float(np.quantile(self.scores, q)) for q in qs}}


def calibrate(vectors: np.ndarray, labels: list[str | None], scorer_factory: Callable[[], Scorer],
              alpha: float, folds: int = 5, max_points: int = 20_000, seed: int = 0) -> Calibration:
    """Score held-out folds of the training prompts against the rest and keep their scores."""
    n = len(vectors)
    if n < MIN_CALIBRATION + folds:
        raise NoveltyError(f"calibration needs at least {MIN_CALIBRATION + folds} training prompts; "
                           f"this index has {n}. Add more labelled prompts.")
    if not 0 < alpha < 1:
        raise NoveltyError(f"--alpha must be between 0 and 1 (got {alpha})")
    rng = np.random.default_rng(seed)
    chosen = rng.permutation(n)[: min(n, max_points)]
    scores = [_score_fold(vectors, labels, fold, scorer_factory)
              for fold in np.array_split(chosen, folds)]
    return Calibration(np.sort(np.concatenate(scores)).astype(np.float32), alpha)


def _score_fold(vectors: np.ndarray, labels: list[str | None], held_out: np.ndarray,
                scorer_factory: Callable[[], Scorer]) -> np.ndarray:
    keep = np.ones(len(vectors), dtype=bool)
    keep[held_out] = False
    reference = np.ascontiguousarray(vectors[keep])
    scorer = scorer_factory().fit(reference, [labels[i] for i in np.flatnonzero(keep)])
    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(reference)
    similarities, _ = index.search(np.ascontiguousarray(vectors[held_out]), scorer.k)
    return scorer.score(similarities, vectors[held_out])
