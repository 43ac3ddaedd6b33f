"""Memory and time of `novelty feedback` on a big label file, against a naive whole-file import.

A service with a few million prompts a day gets label files of that size. ``import_feedback`` reads
the file a chunk at a time into temporary SQLite tables and writes ``feedback`` in one transaction at
the end, so its memory follows the chunk, not the file. The naive baseline is what one writes first:
``pandas.read_csv`` of the whole file, the rows as Python tuples, one ``executemany`` upsert.

Each import runs in a child process of its own (a fresh interpreter with the same imports loaded),
twice: into an empty database, then again into the same one (a re-import: every label unchanged).
Printed per run: seconds and the peak resident memory above the child's memory before the import.

    python scripts/bench_feedback_import.py                 # 2,000,000 labels
    python scripts/bench_feedback_import.py --rows 200000   # quick look
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, resource, sqlite3, sys, time
sys.path.insert(0, sys.argv[4])
import pandas as pd
from novelty.feedback import import_feedback
from novelty.store import Store

def rss():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

def naive(db, path):
    frame = pd.read_csv(path, dtype=str)
    rows = [(pid, label, None, path, "now") for pid, label in zip(frame["prompt_id"], frame["label"])]
    conn = sqlite3.connect(db)
    with conn:
        conn.executemany("INSERT INTO feedback VALUES (?,?,?,?,?) ON CONFLICT(prompt_id) DO UPDATE SET "
                         "label = excluded.label", rows)
    conn.close()
    return len(rows)

way, db, path = sys.argv[1:4]
Store(db).close()
before, start = rss(), time.perf_counter()
rows = naive(db, path) if way == "naive" else import_feedback(db, path).rows
print(json.dumps({"seconds": time.perf_counter() - start, "mb": rss() - before, "rows": rows}))
"""


def run(way: str, db: Path, path: Path) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, way, str(db), str(path), str(ROOT)],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=2_000_000, help="labels in the file (default 2,000,000)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "labels.csv"
        rng = random.Random(0)
        with path.open("w") as fh:
            fh.write("prompt_id,label\n")
            fh.writelines(f"p{i:09d},intent_{rng.randrange(77)}\n" for i in range(args.rows))
        print(f"{args.rows:,} labels, {path.stat().st_size / 1e6:.0f} MB of CSV")
        print(f"{'import':<22}{'naive s':>9}{'MB':>7}{'novelty s':>11}{'MB':>7}{'time x':>8}{'memory x':>10}")
        results = {}
        for way in ("naive", "novelty"):
            db = Path(tmp) / f"{way}.db"
            results[way] = [run(way, db, path), run(way, db, path)]
        for i, name in enumerate(("into an empty database", "again (re-import)")):
            n, v = results["naive"][i], results["novelty"][i]
            print(f"{name:<22}{n['seconds']:>9.1f}{n['mb']:>7.0f}{v['seconds']:>11.1f}{v['mb']:>7.0f}"
                  f"{n['seconds'] / v['seconds']:>8.2f}{n['mb'] / max(v['mb'], 1):>10.1f}")
        print("time x and memory x: naive / novelty (above 1: novelty is faster, needs less). novelty also")
        print("checks every row (ids, labels, times, encodings), keeps the newest label per id and counts")
        print("new, changed, unchanged, stale and unknown ids; the naive import does none of that.")


if __name__ == "__main__":
    main()
