"""``novelty demo``: a week of Lumen Bank support traffic, end to end, on generated data.

Generates the data (``demo_data``), builds the index, scores each day's log into SQLite, runs the
spike detection and clustering, and writes the HTML report, exactly as a user's daily job would.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from .demo_data import write_demo_files
from .clusters import Cluster, find_clusters
from .diagnose import Diagnosis
from .queue import QueueResult, add as queue_add
from .embed import DEFAULT_MODEL
from .engines.local import ScoreResult, score_files
from .index import PromptIndex
from .logs import Columns
from .report import write_report
from .spikes import SpikeReport, detect_spikes

INDEX_NAME = "lumen-bank"


@dataclass(frozen=True)
class DemoResult:
    folder: str
    index: str
    db: str
    score: ScoreResult
    spikes: SpikeReport
    diagnosis: Diagnosis
    tables: tuple[str, str]
    clusters: list[Cluster]
    queued: QueueResult | None
    report: str

    def to_dict(self) -> dict:
        return {"folder": self.folder, "index": self.index, "db": self.db, "score": self.score.to_dict(),
                "spikes": self.spikes.to_dict(), "diagnosis": self.diagnosis.to_dict(),
                "tables": list(self.tables), "clusters": [c.to_dict() for c in self.clusters],
                "queued": self.queued.__dict__ if self.queued else None, "report": self.report}

    def flagged_days(self) -> list[str]:
        return [w.window_start[:10] for w in self.spikes.windows if w.flagged]


def run_demo(out: str | Path = "novelty-demo", *, model: str = DEFAULT_MODEL, seed: int = 0,
             per_day: int = 1500, progress: Callable[[int], None] | None = None) -> DemoResult:
    """Generate the data, build the index, score the week, detect spikes, cluster, queue and write the
    report. Starts fresh each time."""
    out = Path(out)
    files = write_demo_files(out / "data", seed=seed, per_day=per_day)
    db = out / "demo.db"
    for stale in (db, db.with_name("demo.db-wal"), db.with_name("demo.db-shm")):
        stale.unlink(missing_ok=True)
    shutil.rmtree(out / "indexes" / INDEX_NAME, ignore_errors=True)
    index = PromptIndex.build(files.train, INDEX_NAME, index_dir=out / "indexes", model=model,
                              progress=progress)
    result = score_files(files.logs, index, db, columns=Columns(), progress=progress)
    reference, current = write_feature_tables(out / "data", seed)
    spikes = detect_spikes(db)
    first_flagged = next((w.window_start for w in spikes.windows if w.flagged), None)
    clusters = find_clusters(db, since=first_flagged, min_size=10) if first_flagged else []
    growing = max(clusters, key=lambda c: (c.growth, c.size), default=None)
    queued = queue_add(db, cluster=growing.cluster_id, budget=50) if growing else None
    report = write_report(db, out / "report.html", reference=reference, current=current,
                          index_dir=out / "indexes")
    return DemoResult(folder=str(out), index=str(index.path), db=str(db), score=result,
                      spikes=spikes, diagnosis=report.diagnosis, tables=(str(reference), str(current)),
                      clusters=clusters, queued=queued, report=report.out)


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
