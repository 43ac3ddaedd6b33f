"""Where a scoring run writes: the SQLite ``Store`` (default) or Parquet shards for a data lake.

Both offer the few calls the run needs (``bind_model``, ``start_run``, ``existing_ids``,
``text_hashes``, ``cached_vectors``, ``write_chunk``, ``finish_run``, ``top_novel``). Parquet shards
have no memory of earlier runs: ids are stable, so the lake de-duplicates on ``prompt_id`` (a MERGE, or
keep the first row, as the SQLite store does) instead of the run skipping them.
"""

from __future__ import annotations

import heapq
import json
import os
from pathlib import Path
from typing import Collection, Mapping, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ..errors import InputError
from ..store import REJECT_COLUMNS, SCORE_COLUMNS, Store, utc_now

_NOVELTY, _IS_NOVEL, _TEXT, _HASH = (SCORE_COLUMNS.index(c) for c in ("novelty", "is_novel", "text", "text_hash"))
_TYPES = {"run_id": pa.int64(), "line": pa.int64(), "is_novel": pa.int8(), "similarity": pa.float64(),
          "novelty": pa.float64(), "p_value": pa.float64(), "vector": pa.binary(), "cached": pa.binary(),
          "fresh": pa.binary()}
_SHOWN = {"text": "text", "similarity": "similarity", "nearest_label": "nearest_label",
          "predicted_label": "predicted_label"}


def arrow_schema(columns: Sequence[str]) -> pa.Schema:
    """Arrow types of the store's columns (text unless numeric or a vector): a shard whose column happens
    to be all null keeps the column's type."""
    return pa.schema([(c, _TYPES.get(c, pa.string())) for c in columns])


def open_sink(db: str | Path | None, out_parquet: str | Path | None):
    """The Store for ``db``, or a ParquetSink for ``out_parquet``: exactly one of them."""
    if (db is None) == (out_parquet is None):
        raise InputError("give exactly one destination: --db FILE (SQLite) or --out-parquet DIR (shards)")
    return Store(db) if db is not None else ParquetSink(out_parquet)


class ParquetSink:
    """``DIR/scores``, ``DIR/embeddings`` and ``DIR/rejects`` hold one shard per written chunk, named
    ``run-000001-part-000001.parquet``; ``DIR/runs/run-000001.json`` holds the run's row."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        if self.folder.exists() and not self.folder.is_dir():
            raise InputError(f"--out-parquet {self.folder} is a file; give a folder")
        for part in ("scores", "embeddings", "rejects", "runs"):
            (self.folder / part).mkdir(parents=True, exist_ok=True)
        self.run: dict = {}
        self.parts = 0
        self.ids: dict[str, str] = {}  # ids this run wrote -> text hash, to judge repeats as the Store does
        self.top: list[tuple] = []
        self.top_texts: set[str] = set()

    def close(self) -> None:
        pass

    def bind_model(self, model: str, revision: str, dimension: int) -> None:
        self.run.update(model=model, model_revision=revision, dimension=dimension)

    def start_run(self, **fields) -> int:
        done = [int(p.stem.split("-")[1]) for p in (self.folder / "runs").glob("run-*.json")]
        run_id = max(done, default=0) + 1
        self.run.update(fields, run_id=run_id, started_at=utc_now(), status="running")
        self._save_run()
        return run_id

    def finish_run(self, run_id: int, status: str = "done", **fields) -> None:
        self.run.update(fields, finished_at=utc_now(), status=status)
        self._save_run()

    def record_training_labels(self, index_checksum: str, counts: dict[str, int]) -> None:
        self.run["training_labels"] = counts

    def existing_ids(self, prompt_ids: Sequence[str]) -> dict[str, int]:
        return {pid: self.run["run_id"] for pid in prompt_ids if pid in self.ids}

    def has_untimed(self, source: str) -> bool:
        return False  # no earlier run

    def move_ids(self, moves: list[tuple[str, str | None, str]]) -> None:
        pass  # never called: existing_ids knows no earlier run

    def text_hashes(self, prompt_ids: Sequence[str]) -> dict[str, str]:
        """Of this run's rows (no earlier run to compare with): a row delivered twice is skipped, an id
        given another text set aside, as with SQLite."""
        return {pid: self.ids[pid] for pid in prompt_ids if pid in self.ids}

    def cached_vectors(self, hashes: Sequence[str], dimension: int) -> dict[str, np.ndarray]:
        return {}

    def bound_embeddings(self, max_vectors: int) -> int:
        return 0  # shards are the lake's to keep; nothing here is a cache

    def write_chunk(self, scores: list[tuple], vectors: dict[str, np.ndarray], rejects: list[dict],
                    reread: Mapping[str, Collection[int]] | None = None) -> list[tuple]:  # (a shard is never rewritten: rejects stay)
        self.parts += 1
        self._shard("scores", SCORE_COLUMNS, scores)
        self._shard("embeddings", ("text_hash", "vector"),
                    [(k, np.asarray(v, dtype=np.float16).tobytes()) for k, v in vectors.items()])
        self._shard("rejects", REJECT_COLUMNS, [tuple(r[c] for c in REJECT_COLUMNS) for r in rejects])
        self.ids.update((row[0], row[_HASH]) for row in scores)
        for row in scores:
            text = row[_TEXT].lower() if row[_IS_NOVEL] else None
            if text is not None and text not in self.top_texts:  # distinct texts, as the SQLite store lists
                heapq.heappush(self.top, (row[_NOVELTY], row[0], row))
                self.top_texts.add(text)
                if len(self.top) > 5:
                    self.top_texts.discard(heapq.heappop(self.top)[2][_TEXT].lower())
        return scores

    def top_novel(self, run_id: int, limit: int = 5) -> list[dict]:
        best = sorted(self.top, reverse=True)[:limit]
        return [{name: row[SCORE_COLUMNS.index(name)] for name in _SHOWN} for _, _, row in best]

    def _shard(self, table: str, columns: Sequence[str], rows: list[tuple]) -> None:
        if rows:
            data = pa.table({c: list(values) for c, values in zip(columns, zip(*rows))},
                            schema=arrow_schema(columns))
            _replace_whole(self.folder / table / f"run-{self.run['run_id']:06d}-part-{self.parts:06d}.parquet",
                           lambda temporary: pq.write_table(data, temporary))

    def _save_run(self) -> None:
        path = self.folder / "runs" / f"run-{self.run['run_id']:06d}.json"
        _replace_whole(path, lambda temporary: temporary.write_text(json.dumps(self.run, indent=2, default=str) + "\n"))


def _replace_whole(path: Path, write) -> None:
    """``write`` a hidden temporary file beside ``path``, then rename it into place: a process killed
    mid-write (kill -9, out of memory) left a 4-byte shard that every read of the lake then failed on.
    Readers skip the dot-named temporary (pyarrow datasets, a '*.parquet' glob)."""
    temporary = path.with_name(f".{path.name}.tmp")
    write(temporary)
    os.replace(temporary, path)
