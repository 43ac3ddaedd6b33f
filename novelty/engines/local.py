"""Score log files on this machine: read a chunk, skip what is already scored, embed what is not
cached, search, write the chunk in one transaction. Memory is bounded by the chunk size; a re-run or
a run resumed after a crash writes no duplicate and embeds nothing twice."""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
from scipy.stats import binomtest

from .. import __version__
from ..errors import InputError, NoveltyError
from ..index import PromptIndex
from ..logs import Batch, Columns, MAX_CHARS, read_batches
from ..redact import redact as redact_text
from ..scoring import Calibration
from ..store import SCORE_COLUMNS, Store, params_json, reject_row, stored_vectors, text_hash, utc_now

SHOWN_NEIGHBORS = 3
_IS_NOVEL = SCORE_COLUMNS.index("is_novel")
_TEXT = SCORE_COLUMNS.index("text")


@dataclass(frozen=True)
class ScoreResult:
    """What one ``score`` run did."""

    run_id: int
    db: str
    index: str
    sources: list[str]
    rows_read: int
    scored: int
    skipped: int
    rejected: int
    novel: int
    novel_rate: float
    alpha: float
    novel_p_value: float  # one-sided binomial test: more novel prompts than alpha explains?
    seconds: float
    top_novel: list[dict] = field(default_factory=list)
    reject_reasons: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class _Counts:
    read: int = 0
    scored: int = 0
    skipped: int = 0
    rejected: int = 0
    novel: int = 0


def score_files(paths: Sequence[str | Path], index: PromptIndex | str, db: str | Path, *,
                columns: Columns = Columns(), alpha: float | None = None, chunk_rows: int = 5000,
                max_chars: int = MAX_CHARS, index_dir: str | Path | None = None,
                progress: Callable[[int], None] | None = None, redact: bool = False,
                redact_before_embed: bool = False) -> ScoreResult:
    """Score every prompt of ``paths`` against ``index`` and record the results in ``db``.

    ``alpha`` overrides the index's calibrated false-alarm target for this run. ``redact`` stores
    text (and rejected rows) with private data replaced (see ``novelty.redact``); the embedding still
    sees the original unless ``redact_before_embed``.
    """
    paths = [Path(p) for p in paths]
    for path in paths:
        if not path.is_file():
            raise InputError(f"{path}: no such file")
    index = index if isinstance(index, PromptIndex) else PromptIndex.load(index, index_dir)
    calibration = Calibration(index.calibration.scores, alpha or index.calibration.alpha)
    store = Store(db)
    try:
        store.bind_model(index.model["name"], index.model["revision"], index.model["dimension"])
        scorer = _Chunks(index, index.embedder(), calibration, store)
        scorer.redact = redact_text if redact or redact_before_embed else None
        scorer.redact_before_embed = redact_before_embed
        run_id = store.start_run(
            sources=json.dumps([str(p) for p in paths]), index_name=index.name,
            index_checksum=index.checksum, model=index.model["name"],
            model_revision=index.model["revision"], dimension=index.model["dimension"],
            scorer=json.dumps(index.manifest["scorer"]), alpha=calibration.alpha,
            threshold=calibration.threshold, novelty_version=__version__,
            params=params_json({"columns": asdict(columns), "chunk_rows": chunk_rows,
                                "max_chars": max_chars, "redact": redact,
                                "redact_before_embed": redact_before_embed}))
        scorer.run_id = run_id
        store.record_training_labels(index.checksum, index.label_counts())
        started, counts = time.perf_counter(), _Counts()
        try:
            for path in paths:
                for batch in read_batches(path, columns, chunk_rows, max_chars):
                    scorer.score(batch, _source_key(path), counts)
                    if progress:
                        progress(len(batch) + len(batch.rejects))
        except BaseException:
            with contextlib.suppress(NoveltyError):  # a full disk must not hide the first error
                store.finish_run(run_id, "failed", **_run_fields(counts, started))
            raise
        store.finish_run(run_id, "done", **_run_fields(counts, started))
        return ScoreResult(
            run_id=run_id, db=str(db), index=index.name, sources=[str(p) for p in paths],
            rows_read=counts.read, scored=counts.scored, skipped=counts.skipped,
            rejected=counts.rejected, novel=counts.novel,
            novel_rate=counts.novel / counts.scored if counts.scored else 0.0, alpha=calibration.alpha,
            novel_p_value=excess_p_value(counts.novel, counts.scored, calibration.alpha),
            seconds=round(time.perf_counter() - started, 3), top_novel=store.top_novel(run_id),
            reject_reasons=store.reject_reasons(run_id))
    finally:
        store.close()


def excess_p_value(novel: int, total: int, alpha: float) -> float:
    """P(at least ``novel`` of ``total`` flagged) if every prompt were in-distribution.

    >>> round(excess_p_value(5, 100, 0.05), 2), excess_p_value(0, 0, 0.05)
    (0.56, 1.0)
    """
    if not total:
        return 1.0
    return float(binomtest(novel, total, alpha, alternative="greater").pvalue)


def _run_fields(counts: _Counts, started: float) -> dict:
    return {"rows_read": counts.read, "rows_scored": counts.scored, "rows_skipped": counts.skipped,
            "rows_rejected": counts.rejected, "novel": counts.novel,
            "seconds": round(time.perf_counter() - started, 3)}


def _source_key(path: Path) -> str:
    return str(path.resolve())


def derive_id(ts: str | None, text: str, line: int, source: str) -> str:
    """A stable id from the row's time, text and line; without a time, from the file too.

    Re-scoring the same file gives the same ids, so nothing is written twice.
    """
    key = f"{ts}\x1f{text}\x1f{line}" if ts else f"{source}\x1f{line}\x1f{text}"
    return hashlib.blake2b(key.encode("utf-8"), digest_size=10).hexdigest()


class _Chunks:
    """Scores one batch at a time against a loaded index; owns no state across batches but counts."""

    def __init__(self, index: PromptIndex, embedder, calibration: Calibration, store: Store):
        self.index, self.embedder, self.calibration, self.store = index, embedder, calibration, store
        self.k = max(index.scorer.k, SHOWN_NEIGHBORS)
        self.run_id = 0
        self.redact: Callable[[str], str] | None = None
        self.redact_before_embed = False

    def score(self, batch: Batch, source: str, counts: _Counts) -> None:
        # ids come from the original text, so turning --redact on or off never re-scores a row
        ids = [given or derive_id(ts, text, line, source)
               for given, ts, text, line in zip(batch.ids, batch.times, batch.texts, batch.lines)]
        if self.redact and self.redact_before_embed:
            batch.texts = [self.redact(t) for t in batch.texts]
        rejects = [reject_row(self.run_id, r.source, r.line, r.reason, r.raw) for r in batch.rejects]
        todo = self._new_rows(batch, ids, rejects, counts)
        hashes = [text_hash(batch.texts[i]) for i in todo]
        vectors, fresh = self._vectors(hashes, [batch.texts[i] for i in todo])
        rows = self._rows(batch, ids, todo, hashes, vectors) if todo else []
        if self.redact:
            rows, rejects = self._redacted(rows, rejects)
        written = self.store.write_chunk(rows, fresh, rejects)
        counts.skipped += len(rows) - len(written)  # another run scored them meanwhile
        rows = written
        counts.read += len(batch) + len(batch.rejects)
        counts.scored += len(rows)
        counts.rejected += len(rejects)
        counts.novel += sum(row[_IS_NOVEL] for row in rows)

    def _redacted(self, rows: list[tuple], rejects: list[dict]) -> tuple[list[tuple], list[dict]]:
        """Rows and rejects as stored: text redacted (the text hash stays that of the embedded text)."""
        if not self.redact_before_embed:  # else the batch's text is redacted already
            rows = [row[:_TEXT] + (self.redact(row[_TEXT]),) + row[_TEXT + 1:] for row in rows]
        return rows, [{**r, "raw": self.redact(r["raw"])} for r in rejects]

    def _new_rows(self, batch: Batch, ids: list[str], rejects: list[dict], counts: _Counts) -> list[int]:
        """Rows to score: not scored by an earlier run, not a repeated id within this one."""
        earlier = self.store.existing_ids(ids)
        first_line: dict[str, int] = {}
        todo = []
        for i, pid in enumerate(ids):
            if earlier.get(pid, self.run_id) != self.run_id:
                counts.skipped += 1
            elif pid in earlier or pid in first_line:
                where = f"line {first_line[pid]}" if pid in first_line else "an earlier chunk"
                rejects.append(reject_row(self.run_id, batch.source, batch.lines[i],
                                          f"duplicate id {pid!r} in this run (first on {where})",
                                          batch.texts[i]))
            else:
                first_line[pid] = batch.lines[i]
                todo.append(i)
        return todo

    def _vectors(self, hashes: list[str], texts: list[str]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Vectors for ``texts``: from the store's cache when there, embedded (once per text) if not."""
        cached = self.store.cached_vectors(hashes, self.embedder.dimension)
        missing = list({h: t for h, t in zip(hashes, texts) if h not in cached}.items())
        fresh: dict[str, np.ndarray] = {}
        if missing:
            embedded = stored_vectors(self.embedder.embed([t for _, t in missing]))
            fresh = {h: v for (h, _), v in zip(missing, embedded)}
        known = {**cached, **fresh}
        vectors = np.stack([known[h] for h in hashes]) if hashes else \
            np.zeros((0, self.embedder.dimension), np.float32)
        return vectors, fresh

    def _rows(self, batch: Batch, ids: list[str], todo: list[int], hashes: list[str],
              vectors: np.ndarray) -> list[tuple]:
        """One tuple per scored prompt, in ``SCORE_COLUMNS`` order."""
        similarities, positions = self.index.search(vectors, self.k)
        novelty = self.index.scorer.score(similarities, positions, vectors)
        p_values = self.calibration.p_values(novelty)
        novel = self.calibration.is_novel(p_values)
        now, train_ids, labels = utc_now(), self.index.ids, self.index.labels
        rows = []
        for j, i in enumerate(todo):
            near, sims = positions[j, :SHOWN_NEIGHBORS], similarities[j, :SHOWN_NEIGHBORS].tolist()
            neighbors = json.dumps([{"id": train_ids[p], "label": _label(labels[p]), "similarity": round(s, 4)}
                                    for p, s in zip(near.tolist(), sims) if p >= 0])
            rows.append((ids[i], self.run_id, batch.source, batch.lines[i], batch.times[i], batch.texts[i],
                         hashes[j], batch.labels[i], sims[0], float(novelty[j]), float(p_values[j]),
                         int(novel[j]), train_ids[near[0]], _label(labels[near[0]]), neighbors, now))
        return rows


def _label(value) -> str | None:
    return None if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)
