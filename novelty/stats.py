"""Small statistics shared by the detectors: intervals, exact tests, multiple-testing control."""

from __future__ import annotations

import math

import numpy as np
from scipy.stats import binomtest, chisquare, gamma


def wilson_interval(successes: int, trials: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a proportion (sane at 0 and n, unlike the normal approximation).

    >>> [round(x, 3) for x in wilson_interval(5, 100)]
    [0.022, 0.112]
    >>> wilson_interval(0, 500)[0], wilson_interval(500, 500)[1]  # exactly, not 8.7e-19 from rounding
    (0.0, 1.0)
    """
    if trials == 0:
        return 0.0, 1.0
    from scipy.stats import norm

    z = norm.ppf(0.5 + level / 2)
    p = successes / trials
    centre = (p + z * z / (2 * trials)) / (1 + z * z / trials)
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / (1 + z * z / trials)
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    return float(low), float(1.0 if successes == trials else min(1.0, centre + half))


def excess_over_rate(successes: int, trials: int, rate: float) -> float:
    """One-sided exact binomial p-value: P(X >= successes) when X ~ Bin(trials, rate).

    >>> round(excess_over_rate(10, 100, 0.05), 4)
    0.0282
    """
    if trials == 0:
        return 1.0
    return float(binomtest(successes, trials, min(max(rate, 1e-12), 1 - 1e-12), alternative="greater").pvalue)


def excess_over_reference(successes: int, trials: int, ref_successes: int, ref_trials: int) -> float:
    """One-sided exact test that a window's rate exceeds a reference rate, both estimated.

    Conditioning on the total count, the window's count is Bin(total, n / (n + m)) when both rates
    are equal, so the reference's own sampling noise is accounted for (a plain binomial test
    against the reference's point estimate is over-confident).

    >>> round(excess_over_reference(30, 500, 200, 5000), 3), excess_over_reference(0, 10, 0, 10)
    (0.029, 1.0)
    """
    total = successes + ref_successes
    if total == 0 or trials == 0:
        return 1.0
    return float(binomtest(successes, total, trials / (trials + ref_trials), alternative="greater").pvalue)


def tail_weights(p_values, tail: float) -> np.ndarray:
    """How deep each prompt's p-value falls into the tail: ``-log(p / tail)`` below ``tail``, else 0.

    Under the null a conformal p-value is uniform, so a weight is 0 with probability ``1 - tail`` and
    standard exponential otherwise: mean ``tail``, second moment ``2 * tail``.

    >>> tail_weights([0.5, 0.1, 0.01], 0.1).round(3).tolist()
    [0.0, 0.0, 2.303]
    """
    p = np.clip(np.asarray(p_values, dtype=float), 1e-12, 1.0)
    return np.where(p < tail, -np.log(p / tail), 0.0)


def excess_tail(total: float, trials: int, mean: float, second: float, ref_trials: float | None = None) -> float:
    """One-sided p-value that a window's summed tail weights exceed the null.

    The null is the per-prompt ``mean`` and ``second`` moment of the weights, from a reference of
    ``ref_trials`` prompts (None: known exactly, e.g. the uniform conformal null). The sum is
    approximated by a gamma with the null sum's mean and variance; the variance grows by
    ``1 + trials / ref_trials`` for the reference's own sampling noise. (The gamma keeps the right
    skew of a sum of a few dozen exponentials, which a normal approximation would miss.)

    Every prompt in the deepest tail counts, not just those under one cut-off, which is what makes
    this test stronger than the count test when novel prompts get very small p-values.

    >>> round(excess_tail(5.0, 50, 0.1, 0.2), 2), round(excess_tail(30.0, 100, 0.1, 0.2), 4)
    (0.42, 0.0007)
    """
    if trials == 0:
        return 1.0
    variance = max(second - mean * mean, 1e-12) * trials * (1 + trials / ref_trials if ref_trials else 1)
    expected = max(mean, 1e-12) * trials
    return float(gamma.sf(total, expected * expected / variance, scale=variance / expected))


NEIGHBOUR_SAMPLE = 250         # distinct novel texts per window the neighbour test takes at most (a sample)
NEIGHBOUR_PERMUTATIONS = 2000  # label shuffles behind its p-value; 200 when those show it is far from significant
NEIGHBOUR_PRIOR = 1            # windows' worth of a z-score of 0 the baseline windows' own excess is shrunk with
NEIGHBOUR_BLIND = 2.0          # the baseline's excess (z) past which the test is left out


def common_sample(windows: list[set[str]], size: int = NEIGHBOUR_SAMPLE) -> list[list[str]]:
    """At most ``size`` texts of each window, by one hash cut-off for all: the lowest of the windows'
    ``size``-th hashes, so a text is kept in every window it is in or in none (each window's own lowest
    ``size`` kept a text that recurs daily on a quiet day and cut it from the busier days before: it
    looked new, and half of such quiet days read p < 0.05; review).

    >>> common_sample([{"a", "c", "d"}, {"b", "c"}], size=2)  # cut-off 'c', the lower of 'c' and 'c'
    [['a', 'c'], ['b', 'c']]
    >>> common_sample([{"a", "b", "x"}, {"c", "x", "y"}], size=2)  # cut-off 'b': x is in both or in none
    [['a', 'b'], []]
    """
    ordered = [sorted(w) for w in windows]
    full = [w[size - 1] for w in ordered if len(w) >= size]
    if not full or all(len(w) <= size for w in ordered):
        return ordered
    cut = min(full)
    return [[h for h in w if h <= cut] for w in ordered]


def neighbour_test(windows: list[list[str]], vectors: dict[str, np.ndarray], seed: int = 0
                   ) -> tuple[float, float | None]:
    """Do the first window's novel texts sit nearer each other than the other windows' do?

    ``windows``: the text hashes of each window's novel prompts, the tested window first, then its baseline
    windows; ``vectors``: hash -> vector. A text asked again in the same window counts once (a user who asks
    the same odd thing twice is not two prompts side by side); past ``NEIGHBOUR_SAMPLE`` distinct texts in a
    window, every window keeps those below one hash cut-off (``common_sample``). Every text of the pooled
    windows looks for its nearest *other* text (when that text is in several windows, it is shared among
    them). The statistic is how many of the first window's texts have theirs in the same window; its null
    comes from shuffling which window each text belongs to (the sizes kept): a new topic's prompts find
    their fellows on the day it arrives, a known intent's outliers are as near to another day's as to their
    own day's. The baseline windows are tested alike, and their own excess over the shuffles, when they have
    one (users who rephrase an odd question in a session), is taken off the first window's z-score first.
    Returns (statistic, one-sided p-value), with None for the p-value when there is nothing to test: fewer
    than 2 texts in the first window, or in the others together, or baseline windows that gather so far past
    the shuffles themselves (z above ``NEIGHBOUR_BLIND``) that no window could stand out.

    >>> rng = np.random.default_rng(0)
    >>> vectors = {f"b{i}": v for i, v in enumerate(rng.normal(size=(16, 8)))}  # scattered outliers...
    >>> vectors |= {"x1": np.eye(8)[0], "x2": np.eye(8)[0] + 0.1 * np.eye(8)[1]}  # ...and a pair alike
    >>> baseline = [[f"b{i}", f"b{i + 1}"] for i in range(0, 16, 2)]
    >>> statistic, p = neighbour_test([["x1", "x2"], *baseline], vectors)
    >>> statistic, p < 0.05  # both have their nearest in their own window
    (2.0, True)
    >>> neighbour_test([["b0", "x2"], *baseline[1:], ["x1", "b1"]], vectors)[1] > 0.2  # the pair split
    True
    >>> neighbour_test([["x1", "x1", "x1"], *baseline], vectors)  # one text, asked three times: nothing to test
    (0.0, None)
    """
    from scipy.stats import norm

    rng = np.random.default_rng(seed)
    kept = common_sample([{h for h in w if h in vectors} for w in windows])
    if len(kept[0]) < 2 or sum(map(len, kept[1:])) < 2:
        return 0.0, None
    labels = np.concatenate([np.full(len(w), g) for g, w in enumerate(kept)])
    unique = list(dict.fromkeys(h for w in kept for h in w))
    where = {h: i for i, h in enumerate(unique)}
    text = np.array([where[h] for w in kept for h in w])
    groups, distinct = len(kept), len(unique)
    x = np.stack([np.asarray(vectors[h], dtype=np.float32) for h in unique])
    x /= np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    nearest = np.zeros(distinct, dtype=np.int64)
    for lo in range(0, distinct, 1024):  # the nearest other text, a block of rows at a time
        sims = x[lo:lo + 1024] @ x.T
        sims[np.arange(len(sims)), np.arange(lo, lo + len(sims))] = -np.inf
        nearest[lo:lo + len(sims)] = sims.argmax(axis=1)
    other = nearest[text]
    copies = np.bincount(text, minlength=distinct)  # the windows each text is in

    def same_window(label: np.ndarray) -> np.ndarray:  # per window: texts whose nearest is in it
        counts = np.bincount(text * groups + label, minlength=distinct * groups).reshape(distinct, groups)
        return np.bincount(label, weights=counts[other, label] / copies[other], minlength=groups)

    observed = same_window(labels)
    above = ties = done = 0
    while done < NEIGHBOUR_PERMUTATIONS:
        for _ in range(200):
            shuffled = same_window(rng.permutation(labels))
            above, ties = above + (shuffled > observed + 1e-9), ties + (np.abs(shuffled - observed) <= 1e-9)
        done += 200
        if (above[0] + 0.5 * ties[0]) / done > 0.2:  # far from significant: spare the other shuffles
            break
    z = norm.isf(np.clip((above + 0.5 * ties) / done, 0.5 / done, 1 - 0.5 / done))  # mid-p
    baseline = z[1:]
    shift = max(0.0, float(baseline.sum()) / (len(baseline) + NEIGHBOUR_PRIOR))
    if shift > NEIGHBOUR_BLIND:  # the baseline windows gather far past the shuffles themselves (paraphrases in
        return float(observed[0]), None  # sessions): this window cannot stand out (review), so no test
    spread = max(1.0, math.sqrt((float(((baseline - shift) ** 2).sum()) + NEIGHBOUR_PRIOR)
                                / (len(baseline) + NEIGHBOUR_PRIOR)))
    return float(observed[0]), float(norm.sf((z[0] - shift) / spread))


def benjamini_hochberg(p_values: list[float]) -> list[float]:
    """BH-adjusted p-values (q-values): flag q < level to keep the false-discovery rate at level.

    >>> benjamini_hochberg([0.01, 0.04, 0.03, 0.5])
    [0.04, 0.0533..., 0.0533..., 0.5]
    """
    p = np.asarray(p_values, dtype=float)
    if p.size == 0:
        return []
    order = np.argsort(p)
    ranked = p[order] * p.size / np.arange(1, p.size + 1)
    adjusted = np.minimum.accumulate(ranked[::-1])[::-1].clip(max=1.0)
    out = np.empty_like(adjusted)
    out[order] = adjusted
    return out.tolist()


def goodness_of_fit(observed: dict[str, int], expected_shares: dict[str, float]) -> dict:
    """Chi-square of observed label counts against expected shares, with two effect sizes.

    Labels missing from ``expected_shares`` are pooled into one '(unseen)' cell with a small share,
    so a never-seen label counts as a strong shift instead of a division by zero. ``cramers_v`` is
    sqrt(chi2 / (n (k - 1))), capped at 1 (it can pass 1 when the expected shares are uneven, and
    always with unseen labels); ``total_variation`` is the share of traffic that would have to move
    for the observed mix to match the expected one (0 to 1).

    >>> round(goodness_of_fit({"a": 90, "b": 10}, {"a": 0.5, "b": 0.5})["total_variation"], 2)
    0.4
    """
    seen = {label: count for label, count in observed.items() if label in expected_shares}
    unseen = sum(count for label, count in observed.items() if label not in expected_shares)
    n = sum(observed.values())
    labels = sorted(expected_shares)
    if n == 0 or len(labels) + (unseen > 0) < 2:
        return {"chi2": 0.0, "dof": 0, "p_value": 1.0, "cramers_v": 0.0, "total_variation": 0.0}
    floor = 0.5 / n
    shares = np.array([max(expected_shares[label], floor) for label in labels] + ([floor] if unseen else []))
    shares = shares / shares.sum()
    counts = np.array([seen.get(label, 0) for label in labels] + ([unseen] if unseen else []), dtype=float)
    chi2, p_value = chisquare(counts, shares * n)
    dof = len(counts) - 1
    return {"chi2": float(chi2), "dof": dof, "p_value": float(p_value),
            "cramers_v": float(min(1.0, math.sqrt(chi2 / (n * dof)))),
            "total_variation": float(0.5 * np.abs(counts / n - shares).sum())}


FLOAT_FLOOR = 1e-300  # below it a p-value is 0 or subnormal: floating point ran out, not the evidence


def p_text(p_value: float, digits: int = 1, name: str = "p") -> str:
    """'p = 0.003', 'p = 1e-269', or 'p < 1e-300' where floating point runs out (0 or subnormal): the
    same figure as the tables beside it (``p_short``). ``name``: 'q' for a q-value.

    >>> p_text(0.0031), p_text(0.0), p_text(3e-20, 2), p_text(2.2e-321), p_text(0.0, 2, "q")
    ('p = 0.003', 'p < 1e-300', 'p = 3e-20', 'p < 1e-300', 'q < 1e-300')
    """
    return f"{name} < {FLOAT_FLOOR:g}" if p_value < FLOAT_FLOOR else f"{name} = {p_value:.{digits}g}"


def p_short(p_value: float | None, width: int = 0) -> str:
    """A p-value for a table column: '3.9e-65', '< 1e-300' (0 or subnormal), '-' when none.

    >>> p_short(3.9e-65), p_short(0.0), p_short(None, 8)
    ('3.9e-65', '< 1e-300', '       -')
    """
    text = "-" if p_value is None else f"< {FLOAT_FLOOR:g}" if p_value < FLOAT_FLOOR else f"{p_value:.1e}"
    return text.rjust(width)
