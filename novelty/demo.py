"""``novelty demo``: a week of Lumen Bank support traffic, end to end, on generated data.

Generates the data (``demo_data``), builds the index, scores each day's log into SQLite, then reads
the database back the way a user would: the novel rate per day against what calibration expects,
the most novel prompts of the latest day and the labels the model forced them into.
"""

from __future__ import annotations

import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

from scipy.stats import binomtest

from .demo_data import write_demo_files
from .embed import DEFAULT_MODEL
from .engines.local import score_files
from .index import PromptIndex
from .logs import Columns
from .store import Store

INDEX_NAME = "lumen-bank"


@dataclass(frozen=True)
class DayRow:
    day: str
    prompts: int
    novel: int
    novel_rate: float
    p_value: float  # one-sided binomial test of the novel count against alpha


@dataclass(frozen=True)
class DemoResult:
    folder: str
    index: str
    db: str
    alpha: float
    scored: int
    rejected: int
    days: list[DayRow]
    top_novel: list[dict]
    absorbing_labels: list[dict]

    def to_dict(self) -> dict:
        return asdict(self)

    def flagged_days(self, level: float = 0.01) -> list[DayRow]:
        """Days whose novel rate is above alpha beyond chance (Bonferroni over the days)."""
        return [d for d in self.days if d.p_value < level / max(1, len(self.days))]

    def render(self) -> str:
        lines = [f"Demo in {self.folder}: index {self.index!r}, {self.scored:,} prompts scored into "
                 f"{self.db} ({self.rejected} malformed rows set aside in the rejects table).", "",
                 f"Novel prompts per day (calibrated to about {self.alpha:.0%} when nothing is new):",
                 "  day         prompts  novel  rate    p-value"]
        flagged = {d.day for d in self.flagged_days()}
        for d in self.days:
            mark = "  <-- more novel prompts than chance" if d.day in flagged else ""
            lines.append(f"  {d.day}  {d.prompts:7,}  {d.novel:5,}  {d.novel_rate:5.1%}  "
                         f"{d.p_value:8.1e}{mark}")
        if self.top_novel:
            lines += ["", f"Most novel prompts on {self.days[-1].day}:"]
            lines += [f"  {r['similarity']:.2f}  {r['text'][:70]}" for r in self.top_novel]
        if self.absorbing_labels:
            lines += ["", "Labels the model forced those novel prompts into (predicted_label):"]
            lines += [f"  {r['predicted_label']:<24} {r['novel']:4} novel of {r['total']:5} "
                      f"({r['novel_share']:.0%})" for r in self.absorbing_labels]
        lines += ["", "What to look at: the days marked above, and the prompts behind them:",
                  f"  sqlite3 {self.db} \"SELECT ts, text, predicted_label FROM scores "
                  "WHERE is_novel = 1 ORDER BY ts DESC LIMIT 20\""]
        return "\n".join(lines)


def run_demo(out: str | Path = "novelty-demo", *, model: str = DEFAULT_MODEL, seed: int = 0,
             per_day: int = 1500, progress: Callable[[int], None] | None = None) -> DemoResult:
    """Generate the data, build the index, score the week and summarise it. Starts fresh each time."""
    out = Path(out)
    files = write_demo_files(out / "data", seed=seed, per_day=per_day)
    db = out / "demo.db"
    for stale in (db, db.with_name("demo.db-wal"), db.with_name("demo.db-shm")):
        stale.unlink(missing_ok=True)
    shutil.rmtree(out / "indexes" / INDEX_NAME, ignore_errors=True)
    index = PromptIndex.build(files.train, INDEX_NAME, index_dir=out / "indexes", model=model,
                              progress=progress)
    result = score_files(files.logs, index, db, columns=Columns(), progress=progress)
    store = Store(db)
    try:
        days = _days(store, index.calibration.alpha)
        latest = days[-1].day if days else ""
        top = list(store.db.query(
            "SELECT text, MIN(similarity) AS similarity, predicted_label FROM scores "
            "WHERE is_novel = 1 AND substr(ts, 1, 10) = ? GROUP BY lower(text) "
            "ORDER BY similarity LIMIT 8", [latest]))
        absorbing = _absorbing_labels(store, latest)
    finally:
        store.close()
    return DemoResult(folder=str(out), index=str(index.path), db=str(db), alpha=index.calibration.alpha,
                      scored=result.scored, rejected=result.rejected, days=days, top_novel=top,
                      absorbing_labels=absorbing)


def _days(store: Store, alpha: float) -> list[DayRow]:
    rows = store.db.query("SELECT substr(ts, 1, 10) AS day, COUNT(*) AS n, SUM(is_novel) AS novel "
                          "FROM scores GROUP BY day ORDER BY day")
    return [DayRow(r["day"], r["n"], r["novel"], r["novel"] / r["n"],
                   binomtest(r["novel"], r["n"], alpha, alternative="greater").pvalue) for r in rows]


def _absorbing_labels(store: Store, day: str, limit: int = 5) -> list[dict]:
    rows = store.db.query(
        "SELECT predicted_label, SUM(is_novel) AS novel, COUNT(*) AS total FROM scores "
        "WHERE substr(ts, 1, 10) = ? AND predicted_label IS NOT NULL GROUP BY predicted_label "
        "ORDER BY novel DESC LIMIT ?", [day, limit])
    return [{**r, "novel_share": r["novel"] / r["total"]} for r in rows if r["novel"]]
