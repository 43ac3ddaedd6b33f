"""Score log files on this machine: read a chunk, skip what is already scored, embed what is not
cached, search, write the chunk in one transaction. Memory is bounded by the chunk size; a re-run or
a run resumed after a crash writes no duplicate and embeds nothing twice."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from ..index import PromptIndex
from ..logs import Columns, MAX_CHARS
from ..stats import excess_over_rate as excess_p_value  # noqa: F401  (its name here before stats.py held it)
from .common import CACHE_SIZE, Progress, RowScorer, ScoreResult, derive_id, run_scoring  # noqa: F401


def score_files(paths: str | Path | Sequence[str | Path], index: PromptIndex | str, db: str | Path | None, *,
                columns: Columns = Columns(), alpha: float | None = None, chunk_rows: int = 5000,
                max_chars: int = MAX_CHARS, index_dir: str | Path | None = None,
                progress: Progress | None = None, out_parquet: str | Path | None = None,
                cache_size: int = CACHE_SIZE, redact: bool = False,
                redact_before_embed: bool = False) -> ScoreResult:
    """Score every prompt of ``paths`` (one file or several) against ``index`` and record the results
    in ``db`` (or in Parquet shards under ``out_parquet``).

    ``alpha`` overrides the index's calibrated false-alarm target for this run. A column named in
    ``columns`` is optional, so one call can read logs with and without it (ids derive from time, text
    and line where it is missing), but one named otherwise than its default (``Columns(time='ts')``)
    must be in one of the logs at least: in none, it is a misspelt name, an InputError.
    ``Columns(id='request_id', required=frozenset({'id'}))`` refuses each log without it, as ``--id-col``
    does.
    """
    return run_scoring("local", _engine, paths, index, db, out_parquet=out_parquet, columns=columns,
                       alpha=alpha, chunk_rows=chunk_rows, max_chars=max_chars, index_dir=index_dir,
                       progress=progress, cache_size=cache_size, redact=redact,
                       redact_before_embed=redact_before_embed)


def _engine(index: PromptIndex, scorer: RowScorer):
    embedder = index.embedder()

    def score(prepared, run_id: int):
        for pending, rejects in prepared:
            vectors, fresh = scorer.vectors(embedder, pending)
            yield scorer.rows(pending, vectors, run_id), fresh, rejects

    return score
