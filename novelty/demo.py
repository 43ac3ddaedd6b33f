"""``novelty demo``: a week of Lumen Bank support traffic, end to end, on generated data.

Generates the data (``demo_data``: logs, delayed true labels, a golden set, feature tables), builds
the index, writes a ``monitor.toml`` and runs ``novelty run`` on it once per day of the week, exactly
as a user's crontab line would; then queues the fastest-growing cluster for labelling.
"""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from .clusters import Cluster, find_clusters
from .config import render_config
from .demo_data import DEFAULT_START, write_demo_files, write_feedback_files, write_golden_files
from .diagnose import Diagnosis
from .embed import DEFAULT_MODEL, load_embedder
from .errors import InputError
from .engines.local import ScoreResult
from .feedback import OnlineReport, online_accuracy
from .index import PromptIndex
from .queue import QueueResult, add as queue_add, items as queue_items
from .run import RunSummary, run_monitor
from .spikes import SpikeReport, SpikeSettings, detect_spikes

INDEX_NAME = "lumen-bank"
CONFIG = {  # the demo's monitor.toml (paths relative to the demo folder)
    "index.name": INDEX_NAME, "index.dir": "indexes", "logs.path": "data/logs/{date}.jsonl",
    "logs.id_col": "request_id", "output.db": "demo.db", "output.report": "report.html",
    "output.summary": "runs/{date}.json",
    "drift.reference": "data/features_launch.csv", "drift.current": "data/features_this_week.csv",
    "golden.baseline": "data/golden_launch.csv", "golden.current": "data/golden_now.csv",
    "feedback.path": "data/feedback/{date}.csv", "feedback.time_col": "labelled_at", "feedback.period": "3d",
    "clusters.lookback": "3d", "clusters.min_size": 10,
}


@dataclass(frozen=True)
class DemoResult:
    folder: str
    index: str
    db: str
    config: str
    score: ScoreResult
    runs: list[RunSummary]
    spikes: SpikeReport
    online: OnlineReport
    diagnosis: Diagnosis
    tables: tuple[str, str]
    clusters: list[Cluster]
    queued: QueueResult | None
    report: str
    clusters_since: str | None = None    # the day `clusters` ran from: the first flagged window
    queued_examples: tuple[str, ...] = ()
    queued_cluster: str | None = None    # the id of the cluster queued (the fastest-growing)

    def to_dict(self) -> dict:
        return {"folder": self.folder, "index": self.index, "db": self.db, "config": self.config,
                "score": self.score.to_dict(), "runs": [r.to_dict() for r in self.runs],
                "spikes": self.spikes.to_dict(), "online": self.online.to_dict(),
                "diagnosis": self.diagnosis.to_dict(), "tables": list(self.tables),
                "clusters": [c.to_dict() for c in self.clusters],
                "queued": self.queued.__dict__ if self.queued else None, "report": self.report,
                "clusters_since": self.clusters_since, "queued_examples": list(self.queued_examples),
                "queued_cluster": self.queued_cluster}

    def flagged_days(self) -> list[str]:
        return [w.window_start[:10] for w in self.spikes.windows if w.flagged]


def run_demo(out: str | Path = "novelty-demo", *, model: str = DEFAULT_MODEL, seed: int = 0,
             per_day: int = 1500, progress: Callable[[int], None] | None = None) -> DemoResult:
    """Generate the data, build the index, write monitor.toml, ``novelty run`` each day of the week,
    and queue the fastest-growing cluster. Starts fresh each time."""
    load_embedder(model)  # a model that will not load fails here, before the folder is touched (cached)
    out = _demo_folder(out, seed)
    files = write_demo_files(out / "data", seed=seed, per_day=per_day)
    write_feedback_files(out / "data", seed=seed, days=len(files.logs), per_day=per_day)
    write_golden_files(out / "data", seed=seed)
    reference, current = write_feature_tables(out / "data", seed)
    db = out / "demo.db"
    for stale in (db, db.with_name("demo.db-wal"), db.with_name("demo.db-shm")):
        stale.unlink(missing_ok=True)
    shutil.rmtree(out / "indexes" / INDEX_NAME, ignore_errors=True)
    shutil.rmtree(out / "runs", ignore_errors=True)
    index = PromptIndex.build(files.train, INDEX_NAME, index_dir=out / "indexes", model=model,
                              progress=progress)
    config = out / "monitor.toml"
    config.write_text(render_config(CONFIG), encoding="utf-8")
    with (out / MARKER).open("a", encoding="utf-8") as marker:  # a rerun tells the user's edits from ours
        marker.write(f"monitor.toml sha256 {_config_digest(config)}\n")
    runs = [run_monitor(config, DEFAULT_START + pd.Timedelta(days=day).to_pytimedelta(), progress=progress)
            for day in range(len(files.logs))]
    last = runs[-1]
    spikes = detect_spikes(db, SpikeSettings(), save=False)
    first_flagged = next((w.window_start for w in spikes.windows if w.flagged), None)
    clusters = find_clusters(db, since=first_flagged, min_size=CONFIG["clusters.min_size"], save=False) \
        if first_flagged else []
    growing = max(clusters, key=lambda c: (c.growth, c.size), default=None)
    queued = queue_add(db, cluster=growing.cluster_id, budget=50) if growing else None
    examples = tuple(item["text"] for item in queue_items(db, "pending")[:3]) if queued else ()
    return DemoResult(folder=str(out), index=str(index.path), db=str(db), config=str(config),
                      score=_total(runs), runs=runs, spikes=spikes, online=online_accuracy(db),
                      diagnosis=last.diagnosis, tables=(str(reference), str(current)), clusters=clusters,
                      queued=queued, report=last.report,
                      clusters_since=first_flagged[:10] if first_flagged else None, queued_examples=examples,
                      queued_cluster=growing.cluster_id if queued else None)


MARKER = ".novelty-demo"  # in a folder the demo made: the next demo may replace what it holds
_DEMO_ENTRIES = {MARKER, "data", "indexes", "demo.db", "demo.db-wal", "demo.db-shm", "monitor.toml", "report.html",
                 "runs"}


def _demo_folder(out: str | Path, seed: int) -> Path:
    """``out``, checked before anything is written: the demo replaces its own files (data, index,
    database, monitor.toml), so it refuses a folder that holds anything else, e.g. a real monitoring
    folder with its own monitor.toml."""
    if not str(out).strip():
        raise InputError("--out is empty; give the demo a folder, e.g. --out novelty-demo")
    if not 0 <= seed < 2**32:
        raise InputError(f"--seed should be between 0 and {2**32 - 1}, not {seed}")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out} is a file; give the demo a folder of its own")
    if out.is_dir() and not (out / MARKER).exists():
        entries = {p.name for p in out.iterdir()}
        config = out / "monitor.toml"
        made_by_demo = entries <= _DEMO_ENTRIES and config.is_file() and \
            f'name = "{INDEX_NAME}"' in config.read_text(encoding="utf-8", errors="replace")  # before the marker
        if entries and not made_by_demo:
            older = " (or an older version's demo: delete the folder to run it again)" \
                if "demo.db" in entries and entries <= _DEMO_ENTRIES - {"monitor.toml"} else ""  # (it wrote none)
            raise InputError(f"--out {out} holds files the demo did not make ({', '.join(sorted(entries)[:4])}"
                             f"{', ...' if len(entries) > 4 else ''}){older}; the demo replaces its monitor.toml, "
                             "data/, indexes/ and demo.db, so give it an empty or new folder")
    config = out / "monitor.toml"
    if (out / MARKER).exists() and config.is_file() and _config_digest(config) not in (
            _written_digest(out), hashlib.sha256(render_config(CONFIG).encode()).hexdigest()):
        raise InputError(f"{config} was changed since the demo wrote it, and a rerun would replace it: move it, "
                         "or give the demo another --out")
    try:
        out.mkdir(parents=True, exist_ok=True)
        (out / MARKER).write_text("made by `novelty demo`: a rerun replaces this folder's demo files\n",
                                  encoding="utf-8")
    except OSError as exc:
        raise InputError(f"--out {out}: cannot write there ({exc.strerror or exc})") from None
    return out


def _config_digest(config: Path) -> str:
    return hashlib.sha256(config.read_bytes()).hexdigest()


def _written_digest(out: Path) -> str | None:
    """The digest of the monitor.toml the last demo wrote, as its marker records it."""
    lines = (out / MARKER).read_text(encoding="utf-8", errors="replace").splitlines()
    return next((line.split()[-1] for line in reversed(lines) if line.startswith("monitor.toml sha256 ")), None)


def _total(runs: list[RunSummary]) -> ScoreResult:
    """The week's scoring runs added up into one result."""
    done = [s.facts for r in runs for s in r.steps if s.name == "score" and s.status == "ran"]
    total = {f.name: done[-1][f.name] for f in fields(ScoreResult)}
    for key in ("rows_read", "scored", "skipped", "rejected", "novel", "seconds"):
        total[key] = sum(d[key] for d in done)
    total["sources"] = [src for d in done for src in d["sources"]]
    total["novel_rate"] = total["novel"] / max(1, total["scored"])
    total["reject_reasons"] = [r for d in done for r in d["reject_reasons"]]
    return ScoreResult(**total)


def write_feature_tables(folder: Path, seed: int = 0, rows: int = 5000) -> tuple[Path, Path]:
    """The classifier's tabular side inputs at launch and this week. One thing broke: after a
    payments "bug fix" the serving pipeline sends the transaction amount in pence, not pounds."""
    rng = np.random.default_rng(seed)

    def table() -> pd.DataFrame:
        return pd.DataFrame({
            "amount_gbp": rng.lognormal(3.2, 1.0, rows).round(2),
            "account_age_days": rng.gamma(2.0, 300, rows).round(),
            "app_version": rng.choice(["5.1", "5.2", "5.3"], rows, p=[0.2, 0.3, 0.5]),
            "failed_logins_7d": rng.poisson(0.3, rows)})

    reference, current = table(), table()
    current["amount_gbp"] = (current["amount_gbp"] * 100).round()
    folder.mkdir(parents=True, exist_ok=True)
    reference.to_csv(folder / "features_launch.csv", index=False)
    current.to_csv(folder / "features_this_week.csv", index=False)
    return folder / "features_launch.csv", folder / "features_this_week.csv"
