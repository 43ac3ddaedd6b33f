"""Shared fixtures. Unit tests use the weightless ``hashing:128`` embedder; tests marked
``integration`` load the real default model."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from novelty.demo_data import production_day, training_prompts
from novelty.index import PromptIndex

FAKE_MODEL = "hashing:128"
BANKING77 = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "banking77"


def write_csv(path: Path, header: list[str], rows) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def write_jsonl(path: Path, records) -> Path:
    with path.open("w", encoding="utf-8") as fh:
        for record in records:
            fh.write((record if isinstance(record, str) else json.dumps(record)) + "\n")
    return path


def new_db(path: Path) -> Path:
    """An empty monitor database at ``path``, as a first `novelty score` leaves one (feedback refuses a
    database that is not there: a mistyped path started one of labels alone)."""
    from novelty.store import Store

    Store(path).close()
    return path


@pytest.fixture(autouse=True)
def _the_dated_tests_have_begun(monkeypatch):
    """`run` refuses a date that has not begun; the tests' dates are in November 2026, so a machine
    whose clock is behind that still runs them (the refusal's own test moves past any clock)."""
    from datetime import date

    import novelty.run

    real = novelty.run._today
    monkeypatch.setattr(novelty.run, "_today", lambda: max(real(), date(2026, 11, 27)))


@pytest.fixture(scope="session")
def train_pairs() -> list[tuple[str, str]]:
    return training_prompts(n_per_intent=60, seed=1)


@pytest.fixture
def train_csv(tmp_path, train_pairs) -> Path:
    return write_csv(tmp_path / "train.csv", ["text", "label"], train_pairs)


@pytest.fixture
def index(tmp_path, train_csv) -> PromptIndex:
    """A kNN index (fast to build); the label-aware scorers have tests of their own."""
    return PromptIndex.build(train_csv, "bot", index_dir=tmp_path / "indexes", model=FAKE_MODEL, scorer="knn")


@pytest.fixture(scope="session")
def ensemble_index(tmp_path_factory, train_pairs) -> PromptIndex:
    folder = tmp_path_factory.mktemp("ensemble")
    path = write_csv(folder / "train.csv", ["text", "label"], train_pairs)
    return PromptIndex.build(path, "bot", index_dir=folder / "indexes", model=FAKE_MODEL)


@pytest.fixture
def day_log(tmp_path) -> Path:
    """Day 7 of the demo: a quarter of it is a topic the index never saw."""
    return write_jsonl(tmp_path / "day7.jsonl", production_day(7, n=400, seed=2))


# -- the HTML report: the demo's week plus prompts that try to inject markup ---------------------------
XSS_SCRIPT = "<script>window.__xss = 1</script> how do I buy bitcoin"
XSS_IMG = '"><img src=x onerror="window.__xss = 2"> where is my crypto'
XSS_LABEL = "<img src=x onerror=window.__xss=3>"
XSS_FEATURE = '"><svg onload=window.__xss=4>'


@pytest.fixture(scope="session")
def report_demo(tmp_path_factory) -> dict:
    """The demo (weightless embedder) with hostile prompts, a hostile predicted label and a hostile
    feature name scored into it and clustered, then the report written. Used by test_report*.py."""
    import pandas as pd

    from novelty.clusters import find_clusters
    from novelty.demo import INDEX_NAME, run_demo
    from novelty.engines.local import score_files
    from novelty.logs import Columns
    from novelty.report import write_report

    folder = tmp_path_factory.mktemp("report")
    demo = run_demo(folder / "demo", model="hashing:256")
    hostile = [{"timestamp": f"2026-11-24T{10 + i // 6:02d}:{i % 6 * 7:02d}:00Z", "predicted_label": XSS_LABEL,
                "prompt": (XSS_SCRIPT if i % 2 else XSS_IMG) + ("" if i < 2 else f" now {i}")} for i in range(24)]
    log = write_jsonl(folder / "hostile.jsonl", hostile)
    score_files([log], INDEX_NAME, demo.db, columns=Columns(), index_dir=folder / "demo" / "indexes")
    find_clusters(demo.db, since="2026-11-22", min_size=5)
    tables = []
    for path in demo.tables:
        frame = pd.read_csv(path)
        frame[XSS_FEATURE] = frame["failed_logins_7d"]
        tables.append(folder / Path(path).name)
        frame.to_csv(tables[-1], index=False)
    out = write_report(demo.db, folder / "report.html", reference=tables[0], current=tables[1],
                       index_dir=folder / "demo" / "indexes")
    return {"db": demo.db, "report": Path(out.out), "result": out, "tables": tables,
            "index_dir": folder / "demo" / "indexes", "folder": folder}
