"""How fast is `golden` on a labelled set? The macro-F1 bootstrap against a loop per draw.

A golden set of Banking77's test prompts (3,080 items, 77 labels; ``--items`` repeats it to size)
with a model's predictions at launch (90 % right) and now (85 % right), written as two CSV files.
``golden`` reads both, pairs the items and gives accuracy and macro-F1 with their 95 % intervals;
macro-F1's interval is a bootstrap of 200 draws per file (a fifth of ``--bootstrap``). The naive
baseline is the same call with each draw's macro-F1 counted by a loop over draws and labels (as
novelty did until it counted all draws at once); the two must give the same report.

    python scripts/bench_golden.py                  # 3,080 items, 3 repeats
    python scripts/bench_golden.py --items 20000 --json
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from unittest import mock

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchlib import read_banking77  # noqa: E402
from novelty import golden as golden_module  # noqa: E402


def naive_macro_f1s(labels: np.ndarray, preds: np.ndarray, draws: np.ndarray) -> np.ndarray:
    """Each draw's macro-F1, one draw and one label at a time."""
    out = []
    for d in draws:
        y, p, scores = labels[d], preds[d], []
        for label in np.unique(np.concatenate([y, p[p != ""]])):  # held or predicted, as scikit-learn
            tp = float(((p == label) & (y == label)).sum())
            fp, fn = float(((p == label) & (y != label)).sum()), float(((p != label) & (y == label)).sum())
            scores.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
        out.append(float(np.mean(scores)))
    return np.array(out)


def golden_files(folder: Path, items: int, seed: int) -> tuple[Path, Path]:
    rng = np.random.default_rng(seed)
    test = read_banking77("test")
    rows = [test[i % len(test)] for i in range(items)]
    labels = np.array([label for _, label in rows], dtype=object)
    names = np.unique(labels)

    def predicted(right: float) -> np.ndarray:
        wrong = rng.random(items) >= right
        return np.where(wrong, rng.choice(names, items), labels)

    paths = []
    for name, right in (("golden_launch.csv", 0.90), ("golden_now.csv", 0.85)):
        pd.DataFrame({"id": range(items), "text": [t for t, _ in rows], "label": labels,
                      "prediction": predicted(right)}).to_csv(folder / name, index=False)
        paths.append(folder / name)
    return paths[0], paths[1]


def rounded(value):
    """``value`` with every float to 9 places, for comparing two reports."""
    if isinstance(value, float):
        return round(value, 9)
    if isinstance(value, dict):
        return {k: rounded(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [rounded(v) for v in value]
    return value


def timed(call, repeats: int) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = call()
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=3080, help="golden items per file (default 3080)")
    parser.add_argument("--bootstrap", type=int, default=1000, help="golden's bootstrap (default 1000)")
    parser.add_argument("--repeats", type=int, default=3, help="timed calls each, the fastest kept (default 3)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        launch, now = golden_files(Path(tmp), args.items, args.seed)

        def call():
            return golden_module.golden(launch, now, pred_col="prediction", bootstrap=args.bootstrap)

        fast, report = timed(call, args.repeats)
        with mock.patch.object(golden_module, "_macro_f1s", naive_macro_f1s):
            slow, naive = timed(call, args.repeats)
    same = rounded(report.to_dict()) == rounded(naive.to_dict())  # sums in another order: 1e-16 apart
    figures = {"items": args.items, "bootstrap": args.bootstrap, "golden_s": round(fast, 3),
               "naive_s": round(slow, 3), "speedup": round(slow / fast, 1), "same_report": same,
               "macro_f1_now": round(report.current.macro_f1, 4),
               "macro_f1_interval_now": [round(v, 4) for v in report.current.macro_f1_ci]}
    if args.json:
        print(json.dumps(figures))
    else:
        print(f"golden on {args.items:,} items per file, bootstrap {args.bootstrap}: {fast:.3f} s against "
              f"{slow:.3f} s with a loop per draw ({slow / fast:.1f}x); same report: {same}")
        print(f"macro-F1 now {figures['macro_f1_now']} {figures['macro_f1_interval_now']}")
    if not same:
        sys.exit(1)


if __name__ == "__main__":
    main()
