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
