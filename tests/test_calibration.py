import numpy as np
import pytest

from novelty.scorers import KNNScorer
from novelty.scoring import Calibration, calibrate


def test_p_values_are_conformal():
    cal = Calibration(np.sort(np.array([0.1, 0.2, 0.3, 0.4], np.float32)), alpha=0.2)
    p = cal.p_values(np.array([0.05, 0.2, 0.35, 0.5]))
    assert p.tolist() == pytest.approx([1.0, 4 / 5, 2 / 5, 1 / 5])


def test_threshold_agrees_with_p_values():
    rng = np.random.default_rng(0)
    cal = Calibration(np.sort(rng.random(999).astype(np.float32)), alpha=0.05)
    scores = rng.random(10_000).astype(np.float32)
    assert np.array_equal(cal.is_novel(cal.p_values(scores)), scores > cal.threshold)


def test_too_small_a_calibration_never_flags():
    cal = Calibration(np.sort(np.random.default_rng(0).random(10).astype(np.float32)), alpha=0.05)
    assert cal.threshold == float("inf") and not cal.is_novel(cal.p_values(np.array([9.0]))).any()


def test_false_alarm_rate_on_exchangeable_data_is_alpha():
    """Prompts from the same distribution as the training ones are flagged at about alpha."""
    rng = np.random.default_rng(1)
    centres = rng.normal(size=(10, 16))
    def sample(n):
        x = centres[rng.integers(0, 10, n)] + rng.normal(scale=0.8, size=(n, 16))
        return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)
    train, test = sample(3000), sample(4000)
    for alpha in (0.01, 0.05, 0.1):
        scorer = KNNScorer(k=1)
        cal = calibrate(scorer, train, [None] * len(train), alpha)
        import faiss
        index = faiss.IndexFlatIP(16)
        index.add(train)
        sims, positions = index.search(test, 1)
        novelty = scorer.score(sims, positions, test)
        rate = cal.is_novel(cal.p_values(novelty)).mean()
        assert abs(rate - alpha) < 0.02, (alpha, rate)


def test_scorer_checks_it_was_fitted():
    with pytest.raises(RuntimeError, match="before fit"):
        KNNScorer().score(np.zeros((1, 1), np.float32), None, np.zeros((1, 2), np.float32))
