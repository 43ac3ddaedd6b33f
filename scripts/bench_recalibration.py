"""Spike false alarms after `index add` or a rebuild recalibrates the index, on quiet traffic.

A calibration of n scores makes every prompt scored with it novel a little more or less often than
alpha, by one error all of them share (sd sqrt(alpha (1 - alpha) / n)). After a recalibration the
days are scored under a new calibration with an error of its own, while the trailing baseline holds
days of the old one. Here: conformal p-values from two independent calibrations of n standard-normal
scores; 14 quiet days under the first, then 7 quiet days under the second (the same traffic
throughout), tested by ``spikes``' own window tests and CUSUM. Reported: the share of runs with a
false alarm in those 7 days, against the same 7 days of runs that never recalibrate. ``--blind``
leaves out which calibration scored each window, as ``spikes`` could not tell before it read
``runs.index_checksum`` (the before figure).

    python scripts/bench_recalibration.py                # 300 runs per cell, about 2 minutes
    python scripts/bench_recalibration.py --runs 100 --blind --json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from novelty.scoring import Calibration  # noqa: E402
from novelty.spikes import SpikeSettings, _drafts  # noqa: E402
from novelty.stats import tail_weights  # noqa: E402

DAY = 86_400


def window(start: int, p_values: np.ndarray, key: str | None, settings: SpikeSettings, alpha: float) -> tuple:
    """A window as ``spikes`` counts it; ``key`` the calibration that scored it (None: not known)."""
    weights = tail_weights(p_values, settings.tail)
    row = (start, len(p_values), int((p_values <= alpha).sum()), float(weights.sum()), float((weights ** 2).sum()))
    return row if key is None else row + ({key: len(p_values)},)


def false_alarms(n_calibration: int, per_day: int, runs: int, blind: bool, rng: np.random.Generator,
                 alpha: float = 0.05) -> tuple[float, float]:
    """Share of runs with a false alarm in the 7 days after recalibrating, and without recalibrating."""
    settings, sizes = SpikeSettings(), {"A": n_calibration, "B": n_calibration}
    hits = {True: 0, False: 0}
    for _ in range(runs):
        calibrations = [Calibration(np.sort(rng.normal(size=n_calibration)).astype(np.float32), alpha)
                        for _ in range(2)]
        for recalibrated in (True, False):
            days = []
            for d in range(21):
                which = int(recalibrated and d >= 14)
                p = calibrations[which].p_values(rng.normal(size=per_day).astype(np.float32))
                days.append(window(d * DAY, p, None if blind else "AB"[which], settings, alpha))
            drafts = _drafts(days, settings, alpha, {}, n_calibration, None if blind else sizes)
            hits[recalibrated] += any(d.alarm or (d.p is not None and d.p < settings.fdr) for d in drafts[14:])
    return hits[True] / runs, hits[False] / runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=300, help="simulated runs per cell")
    parser.add_argument("--blind", action="store_true", help="windows do not say which calibration scored them")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rng, rows = np.random.default_rng(args.seed), []
    for n_calibration in (2_000, 10_000):
        for per_day in (1_000, 5_000, 20_000):
            after, without = false_alarms(n_calibration, per_day, args.runs, args.blind, rng)
            rows.append({"calibration_scores": n_calibration, "prompts_a_day": per_day,
                         "after_recalibrating": after, "without_recalibrating": without})
            if not args.json:
                print(f"{n_calibration:>6,} calibration scores, {per_day:>6,} prompts a day: false alarm in the "
                      f"7 days after recalibrating {after:5.1%} (without recalibrating {without:5.1%})", flush=True)
    if args.json:
        print(json.dumps({"runs": args.runs, "blind": args.blind, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
