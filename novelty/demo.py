"""``novelty demo``: a week of Lumen Bank support traffic, end to end, on generated data.

Generates the data (``demo_data``), builds the index, scores each day's log into SQLite and runs the
spike detection, exactly as a user's daily job would.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .demo_data import write_demo_files
from .embed import DEFAULT_MODEL
from .engines.local import ScoreResult, score_files
from .index import PromptIndex
from .logs import Columns
from .spikes import SpikeReport, detect_spikes

INDEX_NAME = "lumen-bank"


@dataclass(frozen=True)
class DemoResult:
    folder: str
    index: str
    db: str
    score: ScoreResult
    spikes: SpikeReport

    def to_dict(self) -> dict:
        return {"folder": self.folder, "index": self.index, "db": self.db, "score": self.score.to_dict(),
                "spikes": self.spikes.to_dict()}

    def flagged_days(self) -> list[str]:
        return [w.window_start[:10] for w in self.spikes.windows if w.flagged]


def run_demo(out: str | Path = "novelty-demo", *, model: str = DEFAULT_MODEL, seed: int = 0,
             per_day: int = 1500, progress: Callable[[int], None] | None = None) -> DemoResult:
    """Generate the data, build the index, score the week, detect spikes. Starts fresh each time."""
    out = Path(out)
    files = write_demo_files(out / "data", seed=seed, per_day=per_day)
    db = out / "demo.db"
    for stale in (db, db.with_name("demo.db-wal"), db.with_name("demo.db-shm")):
        stale.unlink(missing_ok=True)
    shutil.rmtree(out / "indexes" / INDEX_NAME, ignore_errors=True)
    index = PromptIndex.build(files.train, INDEX_NAME, index_dir=out / "indexes", model=model,
                              progress=progress)
    result = score_files(files.logs, index, db, columns=Columns(), progress=progress)
    return DemoResult(folder=str(out), index=str(index.path), db=str(db), score=result,
                      spikes=detect_spikes(db))
