"""The novelty scorers. Each: ``fit`` on the training vectors (and labels), ``score`` new prompts from
their nearest neighbours and vectors, higher = more novel; ``state`` / ``load_state`` save what was
learned as plain arrays (``scorer.npz`` beside the index, no pickle).

Measured on Banking77 open intent (scripts/bench_open_intent.py): 1-NN alone is a strong baseline,
no single label-aware score beats it, but z-averaging it with label-aware views of the same prompt
(how well it fits its best class, the same in units of that class's own spread, how sure a linear
classifier is) does, on every split.
"""

from __future__ import annotations

import numbers
from typing import Callable

import numpy as np
from scipy.optimize import minimize
from scipy.special import logsumexp
from threadpoolctl import threadpool_limits

from .errors import NoveltyError
from .scoring import BaseScorer, cross_fit, fold_references


class KNNScorer(BaseScorer):
    """Novelty = 1 - the mean (or max, min) cosine similarity of the ``k`` nearest training prompts.

    >>> s = KNNScorer(k=2).fit(np.zeros((3, 4), np.float32), [None] * 3)
    >>> s.score(np.array([[0.9, 0.7], [0.2, 0.1]], np.float32), None, None).round(2)
    array([0.2 , 0.85], dtype=float32)
    """

    name = "knn"
    needs_labels = False

    def __init__(self, k: int = 1, aggregation: str = "mean"):
        if k < 1 or aggregation not in {"mean", "max", "min"}:
            raise NoveltyError("the kNN scorer needs k >= 1 and an aggregation of mean, max or min")
        self.k, self.aggregation = k, aggregation

    def params(self) -> dict:
        return {"k": self.k, "aggregation": self.aggregation}

    def _fit(self, vectors, labels) -> None:
        pass

    def _score(self, similarities, positions, vectors) -> np.ndarray:
        top = similarities[:, : self.k]
        return (1.0 - getattr(np, self.aggregation)(top, axis=1)).astype(np.float32)


class ClassTopKScorer(BaseScorer):
    """Novelty = 1 - max over classes of the mean of the class's ``top`` best similarities.

    Computed from the ``k`` nearest neighbours; a class with fewer than ``top`` of them there is
    padded with the k-th similarity (an upper bound of what is missing).

    >>> s = ClassTopKScorer(top=2, k=4).fit(np.zeros((4, 2), np.float32), ["a", "a", "b", "b"])
    >>> sims = np.array([[0.9, 0.8, 0.85, 0.1]], np.float32); pos = np.array([[0, 2, 1, 3]])
    >>> float(s.score(sims, pos, None)[0].round(3))
    0.125
    """

    name = "class-topk"
    needs_labels = True

    def __init__(self, top: int = 3, k: int = 64):
        if not all(isinstance(v, numbers.Real) and not isinstance(v, bool) and v >= 1 and float(v).is_integer()
                   for v in (top, k)):  # (top above k only pads: indexes were built so)
            raise NoveltyError("the class top-k scorers need whole numbers top >= 1 and k >= 1 "
                               f"(got top={top!r}, k={k!r})")
        self.top, self.k = int(top), int(k)

    def params(self) -> dict:
        return {"top": self.top, "k": self.k}

    def _fit(self, vectors, labels) -> None:
        self.classes_, self.label_ids_ = np.unique(np.asarray(labels, dtype=object).astype(str),
                                                  return_inverse=True)

    def _score(self, similarities, positions, vectors) -> np.ndarray:
        return (1.0 - self._class_means(similarities, positions).max(axis=1)).astype(np.float32)

    def _class_means(self, similarities, positions) -> np.ndarray:
        """(prompts, classes) mean of each class's ``top`` best similarities; -inf when absent."""
        labels = self.label_ids_[np.clip(positions, 0, None)]
        n, k = labels.shape
        rank = np.zeros((n, k), dtype=np.int32)  # rank of each neighbour within its own class
        for j in range(1, k):
            rank[:, j] = (labels[:, :j] == labels[:, j:j + 1]).sum(axis=1)
        keep = (rank < self.top) & (positions >= 0)
        sums = np.zeros((n, len(self.classes_)), dtype=np.float64)
        counts = np.zeros_like(sums)
        rows = np.broadcast_to(np.arange(n)[:, None], (n, k))
        np.add.at(sums, (rows[keep], labels[keep]), similarities[keep])
        np.add.at(counts, (rows[keep], labels[keep]), 1)
        floor = similarities[:, -1:].astype(np.float64)
        return np.where(counts > 0, (sums + (self.top - counts) * floor) / self.top, -np.inf)

    def state(self) -> dict:
        return {}

    def load_state(self, state: dict, labels) -> "ClassTopKScorer":
        self._fit(None, labels)
        self.fitted_ = True
        return self


class ClassSpreadScorer(ClassTopKScorer):
    """Class top-``top`` distance to the best-fitting class, in units of that class's own spread.

    A tight intent and a loose one get the same yardstick (the per-class radius of DOC, Shu et al.
    2017, and of adaptive decision boundaries, Zhang et al. 2021): the class's mean and standard
    deviation of the same distance for its own training prompts, each against the rest of its class.

    >>> x = np.array([[1, 0], [.96, .28], [0, 1], [.6, .8]], np.float32)
    >>> s = ClassSpreadScorer(top=1, k=4).fit(x, ["a", "a", "b", "b"])
    >>> s.mean_.astype(float).round(3).tolist(), s.std_.astype(float).round(3).tolist()  # own: .04 / .2
    ([0.04, 0.2], [0.001, 0.001])
    >>> sims = np.array([[0.98, 0.9, 0.3, 0.1]], np.float32); pos = np.array([[0, 1, 3, 2]])
    >>> float(s.score(sims, pos, None)[0].round(1))  # (1 - .98 - .04) / .001
    -20.0
    """

    name = "class-spread"

    def _fit(self, vectors, labels) -> None:
        super()._fit(vectors, labels)
        x = np.asarray(vectors, dtype=np.float32)
        own = np.full(len(x), np.nan)
        small = np.zeros(len(self.classes_), bool)
        for c in range(len(self.classes_)):
            members = np.flatnonzero(self.label_ids_ == c)
            sims = x[members] @ x[members].T
            np.fill_diagonal(sims, -np.inf)
            best = -np.sort(-sims, axis=1)[:, :self.top]
            if len(members) > self.top:
                own[members] = 1.0 - best.mean(axis=1)
                continue
            # a class of at most ``top`` prompts: scoring pads its missing neighbours with the k-th
            # similarity, so each member, held out, is measured so too (fitted on the others alone, a
            # class of two had a spread of ~0, and its own training prompts scored novelty 10-50)
            small[c] = True
            rest = x[members] @ x.T
            rest[np.arange(len(members)), members] = -np.inf
            floor = -np.partition(-rest, min(self.k, len(x) - 1) - 1, axis=1)[:, min(self.k, len(x) - 1) - 1] \
                if len(x) > 1 else np.zeros(len(members))
            # a member beyond the k nearest is not seen when scoring: its slot is the k-th similarity too
            found = np.maximum(best[:, :len(members) - 1], floor[:, None]).sum(axis=1) if len(members) > 1 else 0.0
            own[members] = 1.0 - (found + (self.top - (len(members) - 1)) * floor) / self.top
        large = np.isin(self.label_ids_, np.flatnonzero(~small))
        pool = own[large] if large.any() else own
        spread = float(np.nanstd(pool)) if np.isfinite(pool).any() else 0.0
        # a small class keeps its own (padded) distance but borrows the spread of the others: two or
        # three values give no spread worth dividing by
        stats = [(own[self.label_ids_ == c].mean(), spread if small[c] else own[self.label_ids_ == c].std())
                 for c in range(len(self.classes_))]
        # the floor keeps a class of near-duplicates from dividing by ~0
        self.mean_, self.std_ = (np.array(column, np.float32) for column in zip(*stats))
        self.std_ = self.std_ + np.float32(1e-3)

    def _score(self, similarities, positions, vectors) -> np.ndarray:
        means = self._class_means(similarities, positions)
        best = means.argmax(axis=1)
        distance = 1.0 - means[np.arange(len(best)), best]
        return ((distance - self.mean_[best]) / self.std_[best]).astype(np.float32)

    def state(self) -> dict:
        return {"mean": self.mean_, "std": self.std_}

    def load_state(self, state: dict, labels) -> "ClassSpreadScorer":
        ClassTopKScorer._fit(self, None, labels)
        self.mean_, self.std_ = state["mean"], state["std"]
        self.fitted_ = True
        return self


class LogRegScorer(BaseScorer):
    """Novelty = -(max softmax probability) of a multinomial logistic regression on the vectors.

    L2 strength ``l2`` on the weights (not the bias), fitted by L-BFGS from zero: deterministic.
    ``balanced`` weighs each class's prompts by ``n / (classes * n_class)``: a label just learned from
    a few dozen labelled queue prompts is then not drowned by labels with hundreds (measured on
    Banking77, 25 new prompts per new intent: the ensemble's novel rate on fresh prompts of those
    intents 0.16 unweighted, 0.125 balanced; open-intent AUROC unchanged or slightly higher).
    """

    name = "logreg"
    needs_labels = True
    k = 1

    def __init__(self, l2: float = 1e-5, max_iter: int = 200, balanced: bool = True):
        self.l2, self.max_iter, self.balanced = l2, max_iter, bool(balanced)

    def params(self) -> dict:
        return {"l2": self.l2, "max_iter": self.max_iter, "balanced": self.balanced}

    def _fit(self, vectors, labels) -> None:
        classes, y = np.unique(np.asarray(labels, dtype=object).astype(str), return_inverse=True)
        x = np.asarray(vectors, dtype=np.float64)
        n, d, c = len(x), x.shape[1], len(classes)
        weight = (n / (c * np.bincount(y, minlength=c)))[y][:, None] if self.balanced else np.ones((n, 1))
        target = np.eye(c)[y] * weight

        def loss(w):
            weights, bias = w[: d * c].reshape(d, c), w[d * c:]
            logits = x @ weights + bias
            log_z = logsumexp(logits, axis=1, keepdims=True)
            value = -(target * (logits - log_z)).sum() / n + self.l2 * (weights ** 2).sum()
            grad = (weight * np.exp(logits - log_z) - target) / n
            return value, np.concatenate([(x.T @ grad + 2 * self.l2 * weights).ravel(), grad.sum(axis=0)])

        # one BLAS thread: these matrices are small, and beside the encoder's threads a multi-threaded
        # BLAS spins on contention (measured: 19 s with the default pool, 1.5 s with one thread)
        with threadpool_limits(1):
            result = minimize(loss, np.zeros(d * c + c), jac=True, method="L-BFGS-B",
                              options={"maxiter": self.max_iter})
        self.weights_ = result.x[: d * c].reshape(d, c).astype(np.float32)
        self.bias_ = result.x[d * c:].astype(np.float32)

    def _score(self, similarities, positions, vectors) -> np.ndarray:
        logits = (np.asarray(vectors, np.float32) @ self.weights_ + self.bias_).astype(np.float64)
        return (-np.exp(logits.max(axis=1) - logsumexp(logits, axis=1))).astype(np.float32)

    def state(self) -> dict:
        return {"weights": self.weights_, "bias": self.bias_}

    def load_state(self, state: dict, labels) -> "LogRegScorer":
        self.weights_, self.bias_ = state["weights"], state["bias"]
        self.fitted_ = True
        return self


LABEL_SHRINK = 50.0  # --by-label: held-out prompts' worth of the pooled mean and spread a label's own are shrunk with


class EnsembleScorer(BaseScorer):
    """Mean of the components' z-scores; means and spreads come from held-out training folds.

    Default components: 1-NN, class top-3, the same class top-3 in units of the class's own spread,
    and logistic-regression confidence. Indexes built before ``class-spread`` existed list their
    three components in the manifest, so they load and score exactly as they did.

    ``label_shrink`` (``index build --by-label``, ``LABEL_SHRINK``; None, the default, is off): the
    combined score is then standardised once more, by the mean and spread of the held-out scores of
    the prompts whose nearest training prompt had the same label, each shrunk toward the pooled ones by
    ``label_shrink`` prompts' worth. An intent that borders another (a compromised card, a lost one)
    scores its own prompts high, and is flagged at several times alpha: measured on Banking77 (75 % of
    intents known, alpha 0.05, 5 draws), the most-flagged known intent had 18 % of its test prompts
    flagged, 14 % with it. The label is the nearest training prompt's, for a new prompt and for a
    held-out one (out of its fold) alike, so the p-values stay conformal. Not the default: AUROC
    -0.0008 / +0.0001 / +0.0015 at 25 / 50 / 75 % of Banking77 known, and 0.001-0.004 lower on every
    split of CLINC150 (README, "Measured").
    """

    name = "ensemble"
    needs_labels = True

    def __init__(self, components: tuple[str, ...] = ("knn", "class-topk", "class-spread", "logreg"),
                 label_shrink: float | None = None):
        unknown = [c for c in components if c not in COMPONENTS]
        if unknown or not components:
            raise NoveltyError(f"unknown ensemble components {unknown}; choose from {', '.join(COMPONENTS)}")
        if label_shrink is not None and not (isinstance(label_shrink, numbers.Real) and not isinstance(label_shrink, bool)
                                             and 0 < label_shrink < float("inf")):  # (0: a label seen once, spread 0)
            raise NoveltyError(f"the ensemble's label_shrink is a number of prompts > 0, or None (got {label_shrink!r})")
        self.components = tuple(components)
        self.label_shrink = None if label_shrink is None else float(label_shrink)
        self.members = [COMPONENTS[c]() for c in self.components]
        self.k = max(m.k for m in self.members)

    def params(self) -> dict:
        # no key when off: a default index's manifest reads as before it existed, and loads so
        return {"components": list(self.components),
                **({} if self.label_shrink is None else {"label_shrink": self.label_shrink})}

    def calibration_scores(self, vectors, labels, folds) -> np.ndarray:
        raw = np.stack([cross_fit(lambda m=m: type(m)(**m.params()), vectors, labels, folds)
                        for m in self.members], axis=1)
        self.mean_, self.std_ = raw.mean(axis=0), raw.std(axis=0) + 1e-9
        combined = self._combine(raw)
        if self.label_shrink is None:
            return combined
        nearest = _nearest_out_of_fold(vectors, labels, folds)
        self.label_names_, self.label_mean_, self.label_std_, self.pooled_ = _label_scales(
            combined, nearest, self.label_shrink)
        at = np.searchsorted(self.label_names_, nearest)
        return ((combined - self.label_mean_[at]) / self.label_std_[at]).astype(np.float32)

    def _fit(self, vectors, labels) -> None:
        if not hasattr(self, "mean_"):
            raise RuntimeError("EnsembleScorer needs calibration_scores before fit (it learns the z-scales)")
        for member in self.members:
            member.fit(vectors, labels)
        self._scales_of(labels)

    def _scales_of(self, labels) -> None:
        """Each training prompt's label's mean and spread (the pooled ones for a label no held-out prompt
        had as its nearest: one learned from the queue alone), looked up by neighbour position."""
        if self.label_shrink is None:
            return
        names = np.asarray(labels, dtype=object).astype(str)
        where = np.clip(np.searchsorted(self.label_names_, names), 0, len(self.label_names_) - 1)
        known = self.label_names_[where] == names
        self.row_mean_ = np.where(known, self.label_mean_[where], self.pooled_[0]).astype(np.float32)
        self.row_std_ = np.where(known, self.label_std_[where], self.pooled_[1]).astype(np.float32)

    def _score(self, similarities, positions, vectors) -> np.ndarray:
        raw = np.stack([m.score(similarities, positions, vectors) for m in self.members], axis=1)
        combined = self._combine(raw)
        if self.label_shrink is None:
            return combined
        nearest = np.clip(positions[:, 0], 0, None)
        return ((combined - self.row_mean_[nearest]) / self.row_std_[nearest]).astype(np.float32)

    def _combine(self, raw: np.ndarray) -> np.ndarray:
        return ((raw - self.mean_) / self.std_).mean(axis=1).astype(np.float32)

    def state(self) -> dict:
        out = {"mean": self.mean_, "std": self.std_}
        if self.label_shrink is not None:
            out.update({"label.names": self.label_names_, "label.mean": self.label_mean_,
                        "label.std": self.label_std_, "label.pooled": self.pooled_})
        for name, member in zip(self.components, self.members):
            out.update({f"{name}.{key}": value for key, value in member.state().items()})
        return out

    def load_state(self, state: dict, labels) -> "EnsembleScorer":
        self.mean_, self.std_ = state["mean"], state["std"]
        if self.label_shrink is not None:
            self.label_names_, self.label_mean_ = state["label.names"], state["label.mean"]
            self.label_std_, self.pooled_ = state["label.std"], state["label.pooled"]
            self._scales_of(labels)
        for name, member in zip(self.components, self.members):
            prefix = f"{name}."
            member.load_state({k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}, labels)
        self.fitted_ = True
        return self


def _nearest_out_of_fold(vectors, labels, folds) -> np.ndarray:
    """The label of each fold member's nearest prompt outside its fold, in ``cross_fit``'s order."""
    names = np.asarray(labels, dtype=object).astype(str)
    x = np.asarray(vectors, dtype=np.float32)
    out = [names[keep][index.search(np.ascontiguousarray(x[held_out]), 1)[1][:, 0]]
           for held_out, keep, _, index in fold_references(x, folds)]
    return np.concatenate(out) if out else np.zeros(0, str)


def _label_scales(scores: np.ndarray, nearest: np.ndarray, shrink: float):
    """Per label (sorted names): the mean and spread of ``scores`` of the prompts whose nearest
    prompt has it, each shrunk toward the pooled mean and spread by ``shrink`` prompts' worth; and
    the pooled (mean, spread).

    >>> names, mean, std, pooled = _label_scales(np.array([0., 2, 10, 10]), np.array(["a", "a", "b", "b"]), 2)
    >>> names.tolist(), [round(float(v), 2) for v in (*mean, *pooled)]  # a: (0 + 2 + 2 x 5.5) / (2 + 2)
    (['a', 'b'], [3.25, 7.75, 5.5, 4.56])
    """
    scores = np.asarray(scores, dtype=np.float64)
    pooled_mean, pooled_std = scores.mean(), max(scores.std(), 1e-6)
    names, inverse = np.unique(np.asarray(nearest).astype(str), return_inverse=True)
    count = np.bincount(inverse, minlength=len(names))
    mean = (np.bincount(inverse, scores, len(names)) + shrink * pooled_mean) / (count + shrink)
    spread = (np.bincount(inverse, (scores - mean[inverse]) ** 2, len(names)) + shrink * pooled_std ** 2) / (count + shrink)
    return (names.astype(str), mean.astype(np.float32), np.sqrt(np.maximum(spread, 1e-12)).astype(np.float32),
            np.array([pooled_mean, pooled_std], np.float32))


COMPONENTS: dict[str, Callable[..., BaseScorer]] = {
    "knn": KNNScorer, "class-topk": ClassTopKScorer, "class-spread": ClassSpreadScorer,
    "logreg": LogRegScorer}
SCORERS: dict[str, Callable[..., BaseScorer]] = {**COMPONENTS, "ensemble": EnsembleScorer}
