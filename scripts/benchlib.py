"""Shared by the benchmarks: where Banking77 lives, reading it, and memoised embeddings."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from novelty.embed import DEFAULT_BACKEND, DEFAULT_POOLING, load_embedder  # noqa: E402

BANKING77 = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "banking77"


def read_banking77(split: str) -> list[tuple[str, str]]:
    """(text, intent) rows of ``train`` or ``test``; exits with a clear message when absent."""
    if not BANKING77.exists():
        sys.exit(f"Banking77 not found at {BANKING77}; it ships in ../shared/datasets beside the project.")
    with (BANKING77 / f"{split}.csv").open(newline="", encoding="utf-8") as fh:
        return [(row["text"], row["category"]) for row in csv.DictReader(fh)]


def memoise_embeddings(model: str, backend: str = DEFAULT_BACKEND, pooling: str = DEFAULT_POOLING) -> None:
    """Embed each text once per process: the repeated runs of a benchmark embed the same texts.
    (Per pooling: an index built with the default pooling loads that embedder.)

    Accuracy benchmarks only; speed is measured by bench_score.py without it.
    """
    embedder = load_embedder(model, backend=backend, pooling=pooling)
    memo: dict[str, np.ndarray] = {}
    real = embedder.embed

    def embed(texts):
        missing = [t for t in dict.fromkeys(texts) if t not in memo]
        if missing:
            memo.update(zip(missing, real(missing)))
        return np.stack([memo[t] for t in texts]) if len(texts) else real(texts)

    embedder.embed = embed
