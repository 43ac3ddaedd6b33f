"""Continuous evaluation on Banking77: online accuracy against the golden set as new intents arrive.

10 of the 77 intents are held out (seeded). The index holds the other intents' training prompts; a
logistic-regression classifier on the same embeddings is "the model" whose predictions are logged.
The golden set is half of the known intents' test prompts, with the classifier's predictions (at
launch and now: the model does not change). Production is 14 days x 400 prompts drawn from the other
half; from day 8 a share (default 20 %) comes from the held-out intents, which the classifier can
only force into a known label. True labels come back late: 60 % of each day's prompts are labelled
the next day. Every day runs ``novelty run`` on a generated monitor.toml (the whole daily job);
day 15 has no log, only the last labels.

Reported: golden-set accuracy; online accuracy per day on all / known / novel prompts; the day the
``offline_online_gap`` incident first fires and its evidence; whether ``diagnose`` names it.

    python scripts/bench_feedback.py            # the default model
    python scripts/bench_feedback.py --model hashing:256 --json
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import sys
import tempfile
from datetime import date, timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchlib import memoise_embeddings, read_banking77  # noqa: E402
from novelty.config import render_config  # noqa: E402
from novelty.embed import DEFAULT_MODEL, load_embedder  # noqa: E402
from novelty.feedback import online_accuracy  # noqa: E402
from novelty.index import PromptIndex  # noqa: E402
from novelty.run import run_monitor  # noqa: E402

START, DAYS, ONSET = date(2026, 11, 1), 14, 8


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=DEFAULT_MODEL)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--per-day", type=int, default=400)
    ap.add_argument("--novel-share", type=float, default=0.2)
    ap.add_argument("--held-out", type=int, default=10)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    memoise_embeddings(args.model)
    rng = random.Random(args.seed)
    train, test = read_banking77("train"), read_banking77("test")
    intents = sorted({c for _, c in train})
    novel = set(rng.sample(intents, args.held_out))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        result = run(folder, train, test, novel, args, rng)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print_table(result)


def run(folder: Path, train, test, novel: set[str], args, rng: random.Random) -> dict:
    known_train = [r for r in train if r[1] not in novel]
    known_test = [r for r in test if r[1] not in novel]
    rng.shuffle(known_test)
    golden_rows, pool_known = known_test[: len(known_test) // 2], known_test[len(known_test) // 2:]
    pool_novel = [r for r in train + test if r[1] in novel]
    write(folder / "train.csv", ("text", "label"), known_train)
    PromptIndex.build(folder / "train.csv", "b77", index_dir=folder / "indexes", model=args.model)
    predict = classifier(known_train, args.model)
    golden = [(f"g{i}", t, c, p) for i, ((t, c), p) in enumerate(zip(golden_rows, predict([t for t, _ in golden_rows])))]
    for name in ("golden_launch.csv", "golden_now.csv"):
        write(folder / name, ("id", "text", "label", "prediction"), golden)
    stream(folder, pool_known, pool_novel, predict, args, rng)
    (folder / "monitor.toml").write_text(render_config({
        "index.name": "b77", "logs.path": "logs/{date}.jsonl", "logs.id_col": "request_id",
        "golden.baseline": "golden_launch.csv", "golden.current": "golden_now.csv",
        "feedback.path": "feedback/{date}.csv", "feedback.period": "7d", "alert.causes": ["offline_online_gap"]}))
    days, first_alert = [], None
    for d in range(DAYS + 1):
        day = START + timedelta(days=d)
        summary = run_monitor(folder / "monitor.toml", day)
        fb = next(s for s in summary.steps if s.name == "feedback")
        gap = fb.facts.get("gap")
        if gap and gap["significant"] and first_alert is None:
            first_alert = {"run_date": day.isoformat(), **gap}
        days.append({"run_date": day.isoformat(), "exit_code": summary.exit_code, "feedback": fb.reason,
                     "causes": [c.cause for c in summary.diagnosis.causes] if summary.diagnosis else []})
    online = online_accuracy(folder / "monitor.db")
    g = sum(p == c for _, _, c, p in golden) / len(golden)
    return {"model": args.model, "seed": args.seed, "held_out": sorted(novel), "golden_items": len(golden),
            "golden_accuracy": g, "novel_share": args.novel_share, "onset": (START + timedelta(days=ONSET - 1)).isoformat(),
            "per_day": [{"day": w.window_start[:10], "labelled": w.all.labelled, "all": w.all.accuracy,
                         "known": w.known.accuracy, "novel": w.novel.accuracy, "novel_labelled": w.novel.labelled}
                        for w in online.windows],
            "by_truth": by_truth(folder), "first_gap_alert": first_alert, "runs": days,
            "novel_confusion": online.novel_confusion[:5]}


def classifier(rows, model: str):
    from sklearn.linear_model import LogisticRegression

    embed = load_embedder(model).embed
    clf = LogisticRegression(max_iter=2000, C=10.0).fit(embed([t for t, _ in rows]), [c for _, c in rows])
    return lambda texts: clf.predict(embed(texts)).tolist()


def stream(folder: Path, pool_known, pool_novel, predict, args, rng: random.Random) -> None:
    """Daily logs, and late labels: 60 % of each day's prompts labelled the next day."""
    (folder / "logs").mkdir()
    (folder / "feedback").mkdir()
    for d in range(DAYS):
        day = START + timedelta(days=d)
        share = args.novel_share if d + 1 >= ONSET else 0.0
        rows = [rng.choice(pool_novel if rng.random() < share else pool_known) for _ in range(args.per_day)]
        preds = predict([t for t, _ in rows])
        with (folder / "logs" / f"{day}.jsonl").open("w") as fh:
            for i, ((text, truth), pred) in enumerate(zip(rows, preds)):
                fh.write(json.dumps({"request_id": f"{day}-{i}", "timestamp": f"{day}T{i * 86399 // args.per_day // 3600:02d}:00:00Z",
                                     "prompt": text, "predicted_label": pred, "truth": truth}) + "\n")
        labelled = [(f"{day}-{i}", truth) for i, (_, truth) in enumerate(rows) if rng.random() < 0.6]
        write(folder / "feedback" / f"{day + timedelta(days=1)}.csv", ("prompt_id", "label"), labelled)


def by_truth(folder: Path) -> dict:
    """Online accuracy split by whether the prompt's true intent was held out (not by the novel flag)."""
    import sqlite3

    with sqlite3.connect(folder / "monitor.db") as conn:
        rows = conn.execute("SELECT f.label, s.predicted_label, s.is_novel FROM feedback f JOIN scores s USING (prompt_id)").fetchall()
    known_labels = {r[1] for r in csv.reader((folder / "train.csv").open())}
    held = [(t, p, n) for t, p, n in rows if t not in known_labels]
    kept = [(t, p, n) for t, p, n in rows if t in known_labels]
    acc = lambda rs: sum(t == p for t, p, _ in rs) / len(rs) if rs else None  # noqa: E731
    return {"held_out_intents": {"labelled": len(held), "accuracy": acc(held),
                                 "flagged_novel": sum(n for *_, n in held) / len(held) if held else None},
            "known_intents": {"labelled": len(kept), "accuracy": acc(kept)}}


def write(path: Path, header, rows) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)


def print_table(r: dict) -> None:
    print(f"Banking77, {len(r['held_out'])} intents held out (seed {r['seed']}), model {r['model']}; "
          f"{r['novel_share']:.0%} of traffic from the held-out intents from {r['onset']}")
    print(f"golden set: {r['golden_items']} items, accuracy {r['golden_accuracy']:.1%}")
    print(f"{'prompts of':<12}{'labelled':>9}{'online':>9}{'known':>9}{'novel':>9}{'(n novel)':>10}")
    fmt = lambda v: f"{v:8.1%}" if v is not None else "       -"  # noqa: E731
    for d in r["per_day"]:
        print(f"{d['day']:<12}{d['labelled']:>9}{fmt(d['all']):>9}{fmt(d['known']):>9}{fmt(d['novel']):>9}{d['novel_labelled']:>10}")
    t = r["by_truth"]
    print(f"by true intent: held-out {t['held_out_intents']['accuracy']:.1%} accurate on {t['held_out_intents']['labelled']} "
          f"labels ({t['held_out_intents']['flagged_novel']:.0%} flagged novel); known {t['known_intents']['accuracy']:.1%} "
          f"on {t['known_intents']['labelled']}")
    a = r["first_gap_alert"]
    if a:
        print(f"offline_online_gap first fired on the run of {a['run_date']}: online {a['online']['accuracy']:.1%} on "
              f"{a['online']['labelled']} labels ({a['period_start']} to {a['period_end']}) vs golden "
              f"{a['golden_accuracy']:.1%}, gap {a['gap']:.1%}, p = {a['p_value']:.2g}")
    else:
        print("offline_online_gap never fired")
    print("runs: " + "; ".join(f"{d['run_date'][5:]} exit {d['exit_code']}" for d in r["runs"]))
    print("last run's causes: " + ", ".join(r["runs"][-1]["causes"]))


if __name__ == "__main__":
    main()
