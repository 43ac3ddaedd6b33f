"""Accuracy of a novelty score against ground truth: AUROC and the false-positive rate at a TPR."""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata


def auroc(scores: np.ndarray, is_novel: np.ndarray) -> float:
    """Probability that a novel prompt scores above a known one (ties count half).

    >>> auroc(np.array([0.1, 0.4, 0.35, 0.8]), np.array([False, False, True, True]))
    0.75
    """
    scores, is_novel = np.asarray(scores, float), np.asarray(is_novel, bool)
    positives, negatives = int(is_novel.sum()), int((~is_novel).sum())
    if not positives or not negatives:
        raise ValueError("AUROC needs both novel and known examples")
    ranks = rankdata(scores)
    return float((ranks[is_novel].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def fpr_at_tpr(scores: np.ndarray, is_novel: np.ndarray, tpr: float = 0.95) -> float:
    """Share of known prompts flagged when the threshold keeps ``tpr`` of the novel ones.

    The threshold is the highest novel prompt's score that keeps at least ``tpr`` of them at or above
    it (an order statistic: the interpolated quantile of 10 novel scores kept 9, a TPR of 0.90);
    known prompts at or above it count as false positives.

    >>> fpr_at_tpr(np.array([0.1, 0.2, 0.3, 0.9, 0.95]), np.array([False, False, False, True, True]))
    0.0
    >>> fpr_at_tpr(np.array([0.02, -0.1, *np.arange(10) / 10]), np.array([False, False] + [True] * 10))
    0.5
    """
    scores, is_novel = np.asarray(scores, float), np.asarray(is_novel, bool)
    novel = np.sort(scores[is_novel])
    threshold = novel[int(np.floor((1 - tpr) * len(novel) + 1e-9))]
    return float((scores[~is_novel] >= threshold).mean())
