"""queue add's picking: farthest-point sampling that stops at the first near-duplicate, against the
naive way (remove every near-duplicate first, each candidate against every one kept, then sample).

Candidates are unit vectors around 50 topics (the default encoder's 384 dimensions), a tenth of them
near-copies of another; both ways pick ``--budget`` of them at cosine ``--dedupe``, in this process.
Printed per size: seconds each way, the ratio, and that neither set holds two near-duplicates.
``--queued N``: N vectors already queued, which every candidate is compared with first (the naive
way is then left out: it only ever ran with an empty queue here).

    python scripts/bench_queue.py                        # 2,000 and 5,000 candidates, budget 200
    python scripts/bench_queue.py --sizes 300000 --skip-naive --queued 10000
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from novelty.queue import _pick  # noqa: E402


def naive(vectors: np.ndarray, budget: int, threshold: float) -> list[int]:
    """The picking of queue add before 2026-11-28: dedupe all, then farthest-point sampling."""
    keep: list[int] = []
    for i, v in enumerate(vectors):
        if keep and float((vectors[keep] @ v).max()) >= threshold:
            continue
        keep.append(i)
    kept = vectors[keep]
    if len(kept) <= budget:
        return keep
    picked, closest = [0], kept @ kept[0]
    for _ in range(budget - 1):
        nxt = int(np.argmin(closest))
        picked.append(nxt)
        closest = np.maximum(closest, kept @ kept[nxt])
    return [keep[i] for i in picked]


def candidates(n: int, seed: int = 0, dim: int = 384) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(50, dim))
    x = centres[rng.integers(0, 50, n)] * 0.35 + rng.normal(size=(n, dim))
    copies = rng.random(n) < 0.1
    x[copies] = x[rng.integers(0, n, copies.sum())] + rng.normal(scale=0.01, size=(copies.sum(), dim))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def spread(vectors: np.ndarray, picked: list[int]) -> float:
    """The largest cosine between two picked vectors."""
    sims = vectors[picked] @ vectors[picked].T
    np.fill_diagonal(sims, -1)
    return float(sims.max())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="2000,5000")
    parser.add_argument("--budget", type=int, default=200)
    parser.add_argument("--dedupe", type=float, default=0.95)
    parser.add_argument("--skip-naive", action="store_true")
    parser.add_argument("--queued", type=int, default=0, help="vectors already in the queue (random ones)")
    args = parser.parse_args()
    print("| candidates | naive s | novelty s | ratio | max cosine picked (naive / novelty) |\n|---|---|---|---|---|")
    for n in [int(s) for s in args.sizes.split(",")]:
        x = candidates(n)
        hashes = [str(i) for i in range(n)]
        start = time.perf_counter()
        queued = candidates(args.queued, seed=1) if args.queued else x[:0]
        picked, _ = _pick(hashes, x, set(), queued, args.dedupe, args.budget)
        ours = time.perf_counter() - start
        if args.skip_naive or args.queued:
            print(f"| {n:,} | - | {ours:.2f} | - | - / {spread(x, picked):.3f} |")
            continue
        start = time.perf_counter()
        theirs = naive(x, args.budget, args.dedupe)
        base = time.perf_counter() - start
        print(f"| {n:,} | {base:.2f} | {ours:.2f} | {base / ours:.1f}x | {spread(x, theirs):.3f} / "
              f"{spread(x, picked):.3f} |", flush=True)


if __name__ == "__main__":
    main()
