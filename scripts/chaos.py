"""Chaos run: malformed inputs, SIGKILL-and-resume, concurrent writers. Prints counts against targets.

    python scripts/chaos.py                      # the full set (a few minutes on 2 cores)
    python scripts/chaos.py --quick              # a smoke run
    python scripts/chaos.py --json               # the figures as JSON

* **malformed inputs**: valid JSONL / CSV / TSV / gzip / Parquet logs, then byte-level mutations of them
  (flips, cuts, inserted quotes, NULs, BOMs, invalid UTF-8, huge lines) and random garbage, each read by
  ``read_batches`` and scored by ``score_files``; a *crash* is any exception other than a NoveltyError,
  or a row that is neither scored nor rejected. Target: 0 crashes.
* **kill-and-resume**: a ``score`` run in a real child process is killed with SIGKILL at a random moment,
  re-run, killed again..., then run to the end; its database must hold exactly the rows a clean run
  holds (scores with identical values, embeddings, rejects) and pass ``PRAGMA integrity_check``.
  Target: 0 rows lost or duplicated over >= 50 kills.
* **concurrent writers**: two ``score`` runs (overlapping logs) and a ``spikes`` + read-only query loop
  on one database at once. Target: 0 failures ("database is locked" or other) and 0 rows lost.

The tests in tests/test_chaos.py run small subsets of the same functions. Children are forked from a
fresh forkserver (never from a process that has run OpenMP), with the weightless ``hashing:64``
embedder, so a cycle costs a fraction of a second.
"""

from __future__ import annotations

import argparse
import gzip
import json
import multiprocessing
import random
import sqlite3
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from novelty.demo_data import production_day, training_prompts  # noqa: E402
from novelty.engines.local import score_files  # noqa: E402
from novelty.errors import NoveltyError  # noqa: E402
from novelty.index import PromptIndex  # noqa: E402
from novelty.logs import Columns, read_batches  # noqa: E402
from novelty.spikes import SpikeSettings, detect_spikes  # noqa: E402

MODEL = "hashing:64"
COMPARED = "SELECT prompt_id, source, line, ts, text, text_hash, similarity, novelty, is_novel FROM scores"


# ------------------------------------------------------------------------------------------ fixtures
def build_index(folder: Path) -> Path:
    """A small kNN index of demo training prompts; returns its folder."""
    train = folder / "train.csv"
    lines = ["text,label"] + [f'"{t.replace(chr(34), chr(34) * 2)}",{label}'
                              for t, label in training_prompts(n_per_intent=20, seed=1)]
    train.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return PromptIndex.build(train, "chaos", index_dir=folder / "indexes", model=MODEL, scorer="knn").path


def write_log(path: Path, rows: int, seed: int, bad_every: int = 37) -> Path:
    """A JSONL log of demo traffic with a malformed line every ``bad_every`` rows."""
    records = production_day(6, n=rows, seed=seed)
    with path.open("w", encoding="utf-8") as fh:
        for i, record in enumerate(records, start=1):
            fh.write(json.dumps(record) + "\n")
            if i % bad_every == 0:
                fh.write('{"prompt": "cut off mid-rec\n')
    return path


ORPHANS = "SELECT prompt_id FROM scores WHERE text_hash NOT IN (SELECT text_hash FROM embeddings)"


def table(db: Path, sql: str = COMPARED) -> list[tuple]:
    """The rows of ``sql``, sorted; none when a killed run never got to create the database."""
    if not Path(db).exists():
        return []
    conn = sqlite3.connect(db)
    try:
        return sorted(conn.execute(sql).fetchall(), key=repr)
    except sqlite3.OperationalError:
        return []
    finally:
        conn.close()


def integrity(db: Path) -> str:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        conn.close()


# ------------------------------------------------------------------------------------------ malformed
@dataclass(frozen=True)
class MalformedReport:
    inputs: int
    crashed: int
    clear_errors: int  # whole-file problems reported as NoveltyError (exit 2)
    rows_unaccounted: int
    examples: list[str]


def malformed_inputs(folder: Path, index: Path, count: int, seed: int = 0) -> MalformedReport:
    """Read and score ``count`` mutated or random log files; count anything but a clear outcome."""
    rng = random.Random(seed)
    seeds = _seed_files(folder, rng)
    crashed = errors = unaccounted = 0
    examples: list[str] = []
    for n in range(count):
        name, data = _mutant(seeds, rng)
        path = folder / f"m{n}{name}"
        path.write_bytes(data)
        try:
            unaccounted += _check_reader(path)
            score_files([path], str(index), folder / "malformed.db", chunk_rows=rng.choice([1, 7, 5000]))
        except NoveltyError:
            errors += 1
        except Exception as exc:  # noqa: BLE001 - counting crashes is the point
            crashed += 1
            if len(examples) < 5:
                examples.append(f"{path.name}: {type(exc).__name__}: {exc}"[:300])
        path.unlink()
    return MalformedReport(count, crashed, errors, unaccounted, examples)


def _check_reader(path: Path) -> int:
    """JSONL: every non-blank line must come back scored-or-rejected (CSV rows may span lines)."""
    batches = list(read_batches(path, Columns(), chunk_rows=3))
    seen = sum(len(b) + len(b.rejects) for b in batches)
    if not path.name.endswith(".jsonl"):
        return 0
    raw = path.read_bytes()
    lines = [line for line in raw.split(b"\n") if line.decode("utf-8", "replace").lstrip("\ufeff").strip()]
    return abs(len(lines) - seen) if b"\r" not in raw else 0


def _seed_files(folder: Path, rng: random.Random) -> dict[str, bytes]:
    records = production_day(3, n=12, seed=rng.randrange(1000))
    jsonl = "".join(json.dumps(r) + "\n" for r in records).encode()
    csv_text = "timestamp,prompt,predicted_label\n" + "".join(
        f'{r["timestamp"]},"{r["prompt"].replace(chr(34), chr(34) * 2)}",{r["predicted_label"]}\n' for r in records)
    import pandas as pd

    parquet = folder / "seed.parquet"
    pd.DataFrame(records).to_parquet(parquet, index=False)
    return {".jsonl": jsonl, ".csv": csv_text.encode(), ".tsv": csv_text.replace(",", "\t").encode(),
            ".jsonl.gz": gzip.compress(jsonl), ".csv.gz": gzip.compress(csv_text.encode()),
            ".parquet": parquet.read_bytes(), ".log": jsonl}


_NASTY = [b"\x00", b'"', b"\n", b"\r", b"\r\n", b"\xff\xfe", b"\xef\xbb\xbf", b"\xc3", b"{", b"}", b",", b"\t",
          b'{"prompt": 1}', b'{"prompt": null}', b'{"prompt": ["x"]}', b"[1, 2]", b"NaN", b"\xed\xa0\x80",
          b'{"timestamp": 1e400, "prompt": "x"}', b'{"timestamp": "9999-99-99", "prompt": "x"}',
          b"[" * 5000, b'{"prompt": "' + b"a" * 30000 + b'"}', b'"prompt"', b"\x1f\x8b\x08"]


def _mutant(seeds: dict[str, bytes], rng: random.Random) -> tuple[str, bytes]:
    suffix = rng.choice(list(seeds))
    data = bytearray(seeds[suffix])
    kind = rng.random()
    if kind < 0.1:
        return suffix, bytes(rng.getrandbits(8) for _ in range(rng.randrange(1, 400)))
    if kind < 0.2:
        return suffix, bytes(data[:rng.randrange(len(data))])  # cut anywhere (truncated gzip, parquet...)
    for _ in range(rng.randrange(1, 6)):
        at = rng.randrange(len(data) + 1)
        if rng.random() < 0.5:
            data[at:at] = rng.choice(_NASTY)
        elif data:
            data[min(at, len(data) - 1)] = rng.getrandbits(8)
    return suffix, bytes(data)


# ------------------------------------------------------------------------------------------ kill / resume
@dataclass(frozen=True)
class KillReport:
    trials: int
    kills: int
    kills_mid_run: int
    rows_expected: int
    rows_lost: int
    rows_duplicated: int
    rows_differing: int
    rejects_differing: int
    scores_without_embedding: int
    integrity_failures: int
    child_failures: int


def _context():
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["novelty.engines.local", "novelty.spikes"])
    return context


def _start(context, log: Path, index: Path, db: Path, chunk_rows: int):
    child = context.Process(target=score_files, args=([str(log)], str(index), str(db)),
                            kwargs={"chunk_rows": chunk_rows}, daemon=True)
    child.start()
    return child


def kill_and_resume(folder: Path, index: Path, log: Path, trials: int, kills_per_trial: int,
                    seed: int = 0, chunk_rows: int = 20) -> KillReport:
    """Per trial: a fresh database, ``kills_per_trial`` SIGKILLs at random moments, then a full run."""
    rng, context = random.Random(seed), _context()
    clean = folder / "clean.db"
    started = time.perf_counter()
    score_files([log], str(index), clean, chunk_rows=chunk_rows)
    duration = time.perf_counter() - started
    started = time.perf_counter()
    score_files([log], str(index), clean, chunk_rows=chunk_rows)  # all skipped: start-up and reading
    overhead = time.perf_counter() - started
    # kill after the start-up plus a share of the work, so each run makes some progress and dies
    window = (duration - overhead) * 2 / kills_per_trial
    expected, expected_rejects = table(clean), table(clean, "SELECT line, reason FROM rejects")
    totals = dict(kills=0, mid=0, lost=0, dup=0, diff=0, rejects=0, orphans=0, integrity=0, failures=0)
    for trial in range(trials):
        db = folder / f"kill{trial}.db"
        for _ in range(kills_per_trial):
            child = _start(context, log, index, db, chunk_rows)
            time.sleep(rng.uniform(0.0, overhead + 0.1) + rng.uniform(0.0, window))
            totals["mid"] += child.is_alive()
            child.kill()
            child.join()
            totals["kills"] += 1
            totals["failures"] += child.exitcode not in (0, -9)
        child = _start(context, log, index, db, chunk_rows)
        child.join(120)
        totals["failures"] += child.exitcode != 0
        got = table(db)
        ids, want_ids = [r[0] for r in got], {r[0] for r in expected}
        totals["lost"] += len(want_ids - set(ids))
        totals["dup"] += len(ids) - len(set(ids)) + len(set(ids) - want_ids)
        totals["diff"] += len(set(got) ^ set(expected)) // 2
        totals["rejects"] += len(set(table(db, "SELECT line, reason FROM rejects")) ^ set(expected_rejects))
        totals["orphans"] += len(table(db, ORPHANS))
        totals["integrity"] += integrity(db) != "ok"
    return KillReport(trials, totals["kills"], totals["mid"], len(expected), totals["lost"], totals["dup"],
                      totals["diff"], totals["rejects"], totals["orphans"], totals["integrity"],
                      totals["failures"])


# ------------------------------------------------------------------------------------------ concurrency
@dataclass(frozen=True)
class ConcurrencyReport:
    rounds: int
    writer_runs: int
    reader_runs: int
    failures: int
    rows_lost: int
    rows_duplicated: int
    integrity_failures: int


def _reader(db: str, seconds: float) -> None:
    """spikes (which also writes windows) and a plain query, over and over, while the writers run."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if Path(db).exists() and Path(db).stat().st_size:  # a writer creates the file, then its schema
            detect_spikes(db, SpikeSettings(window="1h", min_prompts=5))
            conn = sqlite3.connect(db, timeout=30)
            conn.execute("SELECT COUNT(*), SUM(is_novel) FROM scores").fetchone()
            conn.close()
        time.sleep(0.02)


def concurrent_writers(folder: Path, index: Path, logs: list[Path], rounds: int,
                       chunk_rows: int = 25) -> ConcurrencyReport:
    """Per round: one writer per log plus a reader loop on one fresh database; then compare."""
    context = _context()
    clean = folder / "together.db"
    score_files([str(p) for p in logs], str(index), clean, chunk_rows=chunk_rows)
    expected = {r[0] for r in table(clean, "SELECT prompt_id FROM scores")}
    failures = lost = dup = bad = writers = readers = 0
    for n in range(rounds):
        db = folder / f"concurrent{n}.db"
        procs = [_start(context, log, index, db, chunk_rows) for log in logs]
        reader = context.Process(target=_reader, args=(str(db), 3.0), daemon=True)
        reader.start()
        for p in [*procs, reader]:
            p.join(300)
            failures += p.exitcode != 0
        writers, readers = writers + len(procs), readers + 1
        got = [r[0] for r in table(db, "SELECT prompt_id FROM scores")]
        lost += len(expected - set(got))
        dup += len(got) - len(set(got)) + len(set(got) - expected)
        bad += integrity(db) != "ok"
    return ConcurrencyReport(rounds, writers, readers, failures, lost, dup, bad)


# ------------------------------------------------------------------------------------------ main
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run: a tenth of the full set")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    scale = 0.1 if args.quick else 1.0
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        index = build_index(folder)
        log = write_log(folder / "day.jsonl", 1500, seed=args.seed)
        overlap = write_log(folder / "other.jsonl", 1000, seed=args.seed + 1)
        with overlap.open("a") as fh:  # the second writer also scores a slice of the first log
            fh.writelines(log.read_text().splitlines(keepends=True)[:300])
        started = time.perf_counter()
        malformed = malformed_inputs(folder, index, max(20, int(1000 * scale)), seed=args.seed)
        killed = kill_and_resume(folder, index, log, trials=max(1, int(10 * scale)), kills_per_trial=6,
                                 seed=args.seed)
        together = concurrent_writers(folder, index, [log, overlap], rounds=max(1, int(10 * scale)))
        seconds = round(time.perf_counter() - started, 1)
    figures = {"malformed": asdict(malformed), "kill_and_resume": asdict(killed),
               "concurrent": asdict(together), "seconds": seconds}
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    print(f"malformed inputs tried   {malformed.inputs:>5}   crashed {malformed.crashed} (target 0); "
          f"{malformed.clear_errors} refused with a clear error; rows unaccounted {malformed.rows_unaccounted}")
    for example in malformed.examples:
        print(f"    {example}")
    print(f"kill-and-resume cycles   {killed.kills:>5}   ({killed.kills_mid_run} landed mid-run, {killed.trials} "
          f"trials of {killed.rows_expected} rows): rows lost {killed.rows_lost}, duplicated "
          f"{killed.rows_duplicated}, differing {killed.rows_differing}, rejects differing "
          f"{killed.rejects_differing}, without embedding {killed.scores_without_embedding}, integrity "
          f"failures {killed.integrity_failures}, "
          f"child failures {killed.child_failures} (target 0)")
    print(f"concurrent writer runs   {together.writer_runs:>5}   (+{together.reader_runs} spikes/query "
          f"readers, {together.rounds} rounds): failures {together.failures}, rows lost {together.rows_lost}, "
          f"duplicated {together.rows_duplicated}, integrity failures {together.integrity_failures} (target 0)")
    print(f"{seconds} s")


if __name__ == "__main__":
    main()
