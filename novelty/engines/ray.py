"""Score and embed on Ray: an actor pool of ``workers`` processes, each loading the model and the index
once, runs embedding and FAISS search through Ray Data's ``map_batches``; this process reads the logs,
decides what to score and is the single writer.

Reading stays here because the log readers of ``novelty.logs`` give every bad row its line and reason
(Ray Data's JSON and CSV readers fail or drop whole files instead), and reading is cheap beside
embedding: one reader (~19,000 rows/s) feeds dozens of encoder processes (~250 prompts/s per core), see
docs/scale-out.md.
The scoring itself is ``RowScorer``, the very code the local engine runs, so results are the same.

Chunks go to Ray in windows of ``CHUNKS_PER_WORKER`` chunks per worker: memory stays bounded, and each
window's pool loads the model once per actor (a few seconds, against about 40 s of embedding per actor
and window at the defaults).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Sequence

import numpy as np
import pyarrow as pa

from ..embed import Embedder, load_embedder
from ..errors import IndexFileError, InputError, MissingExtraError
from ..index import FILES, PromptIndex, check_same_model
from ..logs import Columns, MAX_CHARS
from ..store import SCORE_COLUMNS
from .common import CACHE_SIZE, Pending, Progress, RowScorer, ScoreResult, run_scoring
from .sinks import arrow_schema

INSTALL = "pip install 'novelty[ray]'"
CHUNKS_PER_WORKER = 8
_PENDING = arrow_schema(["prompt_id", "source", "line", "ts", "text", "text_hash", "predicted_label", "cached"])
_SCORED = arrow_schema([*SCORE_COLUMNS, "fresh"])
_HASH = SCORE_COLUMNS.index("text_hash")


def require_ray():
    """The ``ray`` module, or a message saying how to install it."""
    try:
        import ray
        import ray.data  # noqa: F401 (the Data extra is a separate install)
    except ImportError:
        raise MissingExtraError(f"the Ray engine needs Ray Data, which is not installed: {INSTALL}") from None
    return ray


@contextmanager
def _own_sigterm():
    """Keep this process's SIGTERM handler across ``ray.init``, which installs its own (sys.exit(15),
    and a C++ stack dump on stderr): a killed --engine ray run then unwinds as the local engine's does,
    exit 143 and 'run the same command again'."""
    main = threading.current_thread() is threading.main_thread()
    previous = signal.getsignal(signal.SIGTERM) if main else None
    try:
        yield
    except SystemExit as exc:  # killed while ray.init's handler was in place: sys.exit(15), unsaid
        if exc.code == signal.SIGTERM and callable(previous):
            previous(signal.SIGTERM, None)  # novelty's own: says so, exit 143
        raise
    finally:
        if main and callable(previous):  # novelty's (or a caller's) own; SIG_DFL would drop Ray's cleanup
            signal.signal(signal.SIGTERM, previous)


def _reachable(address: str, timeout: float = 10.0) -> None:
    """Fail in seconds on a HOST:PORT nothing listens at: ray.init retries such an address for many
    minutes, printing warnings about other addresses, without an error. 'auto' and 'local' pass."""
    import socket

    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not sep or not port.isdigit():
        return  # 'auto', 'local' or a malformed address: ray.init says what it makes of it
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot reach the Ray cluster at --ray-address {address!r} "
                         f"({getattr(exc, 'strerror', None) or exc}); is its head node up?") from None


def connect(address: str | None = None, num_cpus: int | None = None) -> int:
    """Join the Ray cluster at ``address``, or start a local Ray, unless connected already; returns the
    cluster's CPUs (the default number of workers)."""
    ray = require_ray()
    if not ray.is_initialized():
        quiet = {"logging_level": logging.WARNING, "log_to_driver": False}
        if address:
            _reachable(address)
            try:
                with _own_sigterm():
                    ray.init(address=address, **quiet)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise InputError(f"cannot join the Ray cluster at --ray-address {address!r} ({exc}); "
                                 "give HEAD:6379, or 'auto' on a node of the cluster") from None
        else:
            with _own_sigterm():
                ray.init(num_cpus=num_cpus, include_dashboard=False, **quiet)
    logging.getLogger("ray.data").setLevel(logging.ERROR)  # per-dataset chatter; failures raise anyway
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    context.print_on_execution_start = False
    context.raise_original_map_exception = True  # a NoveltyError in a worker reaches the user as one
    return max(1, int(ray.cluster_resources().get("CPU", 1)))


def score_files(paths: str | Path | Sequence[str | Path], index: PromptIndex | str, db: str | Path | None, *,
                address: str | None = None, workers: int | None = None, columns: Columns = Columns(),
                alpha: float | None = None, chunk_rows: int = 5000, max_chars: int = MAX_CHARS,
                index_dir: str | Path | None = None, progress: Progress | None = None,
                out_parquet: str | Path | None = None, cache_size: int = CACHE_SIZE, redact: bool = False,
                redact_before_embed: bool = False) -> ScoreResult:
    """Score ``paths`` like ``novelty.engines.local.score_files``, embedding and searching on Ray.

    ``address`` joins an existing cluster (else a local Ray starts); ``workers`` is the size of the actor
    pool (default: one per CPU of the cluster).
    """
    require_ray()
    index = index if isinstance(index, PromptIndex) else PromptIndex.load(index, index_dir)
    _refuse_adapted(index)  # before Ray starts or a database is made and bound to the model

    def engine(loaded: PromptIndex, scorer: RowScorer):
        cpus = connect(address)
        return _RayEngine(loaded, scorer.calibration.alpha, workers or cpus).score

    return run_scoring("ray", engine, paths, index, db, out_parquet=out_parquet, columns=columns,
                       alpha=alpha, chunk_rows=chunk_rows, max_chars=max_chars, index_dir=index_dir,
                       progress=progress, params={"ray_address": address, "workers": workers},
                       cache_size=cache_size, redact=redact,
                       redact_before_embed=redact_before_embed)


def _refuse_adapted(index: PromptIndex) -> None:
    if index.adapted:  # the payload carries the index files, not a model folder to export ONNX into
        raise InputError(f"index {index.name!r} has an adapted encoder (built with --adapt), which the ray "
                         "engine does not ship to its workers yet; score it with --engine local")


class _RayEngine:
    def __init__(self, index: PromptIndex, alpha: float, workers: int):
        import ray

        files = {name: (index.path / name).read_bytes() for name in (*FILES, "manifest.json")}
        if json.loads(files["manifest.json"])["checksum"] != index.checksum:
            raise IndexFileError(f"index {index.name!r} changed on disk since it was loaded; load it again")
        self.payload = ray.put(files)
        self.alpha, self.workers = alpha, workers

    def score(self, prepared, run_id: int):
        size = CHUNKS_PER_WORKER * self.workers
        window: list[pa.Table] = []
        rejects: list[dict] = []
        for pending, chunk_rejects in prepared:
            rejects.extend(chunk_rejects)
            if len(pending):
                window.append(_pending_table(pending))
            if len(window) == size:
                yield from self._window(window, rejects, run_id)
                window, rejects = [], []
        yield from self._window(window, rejects, run_id)

    def _window(self, tables: list[pa.Table], rejects: list[dict], run_id: int):
        import ray

        if rejects:
            yield [], {}, rejects
        if not tables:
            return
        dataset = ray.data.from_arrow(tables).map_batches(
            _ScoreActor, fn_constructor_args=({"index": self.payload}, self.alpha, run_id),
            batch_format="pyarrow", batch_size=None, num_cpus=1, zero_copy_batch=True,
            compute=ray.data.ActorPoolStrategy(size=min(self.workers, len(tables))))
        for table in dataset.iter_batches(batch_format="pyarrow", batch_size=None):
            yield _scored_rows(table)


def _pending_table(pending: Pending) -> pa.Table:
    cached = [pending.cached[h].astype(np.float16).tobytes() if h in pending.cached else None
              for h in pending.hashes]
    return pa.Table.from_arrays(
        [pa.array(v, type=f.type) for v, f in zip(
            (pending.ids, pending.sources, pending.lines, pending.times, pending.texts, pending.hashes,
             pending.labels, cached), _PENDING)], schema=_PENDING)


def _scored_rows(table: pa.Table) -> tuple[list[tuple], dict[str, np.ndarray], list]:
    columns = {name: table.column(name).to_pylist() for name in table.column_names}
    rows = list(zip(*(columns[name] for name in SCORE_COLUMNS)))
    fresh = {h: np.frombuffer(v, dtype=np.float16) for h, v in zip(columns["text_hash"], columns["fresh"]) if v}
    return rows, fresh, []


def _load_payload(payload: dict) -> PromptIndex:
    """Write the index files into a private folder and load them, checksums verified as always: workers
    of a cluster need no shared file system. (The object reference travels inside a dict so that Ray
    passes it as is and the actor fetches it once.)"""
    import ray

    files = ray.get(payload["index"])
    with tempfile.TemporaryDirectory(prefix="novelty-index-") as folder:
        for name, data in files.items():
            Path(folder, name).write_bytes(data)
        return PromptIndex.load(folder)


class _ScoreActor:
    """One Ray actor: loads the index and its model once, then scores chunk after chunk."""

    def __init__(self, payload, alpha: float, run_id: int):
        index = _load_payload(payload)
        self.scorer, self.embedder, self.run_id = RowScorer(index, alpha), index.embedder(), run_id

    def __call__(self, table: pa.Table) -> pa.Table:
        c = {name: table.column(name).to_pylist() for name in table.column_names}
        cached = {h: np.frombuffer(v, dtype=np.float16).astype(np.float32)
                  for h, v in zip(c["text_hash"], c["cached"]) if v}
        pending = Pending(c["prompt_id"], c["source"], c["line"], c["ts"], c["text"], c["text_hash"],
                          c["predicted_label"], cached)
        vectors, fresh = self.scorer.vectors(self.embedder, pending)
        rows = self.scorer.rows(pending, vectors, self.run_id)
        sent: set[str] = set()
        out = [row + (_once(fresh, row[_HASH], sent),) for row in rows]
        return pa.Table.from_pylist([dict(zip(_SCORED.names, row)) for row in out], schema=_SCORED)


def _once(fresh: dict[str, np.ndarray], key: str, sent: set[str]) -> bytes | None:
    """A fresh vector's bytes on the first row of its text only: each is stored once."""
    if key not in fresh or key in sent:
        return None
    sent.add(key)
    return fresh[key].astype(np.float16).tobytes()


# ------------------------------------------------------------------------------------- index build
def embed_texts(embedder: Embedder, texts: Sequence[str], progress: Progress | None = None, *,
                address: str | None = None, workers: int | None = None, chunk: int = 1024) -> np.ndarray:
    """``embedder``'s vectors of ``texts``, computed by a pool of Ray actors each loading the model once."""
    import ray

    cpus = connect(address)
    pool = workers or cpus
    tables = [pa.table({"position": np.arange(start, min(start + chunk, len(texts))),
                        "text": list(texts[start:start + chunk])}) for start in range(0, len(texts), chunk)]
    model = {"name": embedder.name, "backend": getattr(embedder, "backend", "none"), "revision": embedder.revision,
             "dimension": embedder.dimension, "pooling": getattr(embedder, "pooling", "model")}
    dataset = ray.data.from_arrow(tables).map_batches(
        _EmbedActor, fn_constructor_args=(model,), batch_format="pyarrow", batch_size=None,
        compute=ray.data.ActorPoolStrategy(size=max(1, min(pool, len(tables)))), num_cpus=1, zero_copy_batch=True)
    vectors = np.zeros((len(texts), embedder.dimension), np.float32)
    for table in dataset.iter_batches(batch_format="pyarrow", batch_size=None):
        positions = table.column("position").to_numpy()
        vectors[positions] = np.stack([np.frombuffer(v, np.float32) for v in table.column("vector").to_pylist()])
        if progress:
            progress(len(positions))
    return vectors


class _EmbedActor:
    def __init__(self, model: dict):
        self.embedder = load_embedder(model["name"], backend=model["backend"], pooling=model["pooling"])
        check_same_model(self.embedder, model, f"the model on Ray node {os.uname().nodename}")

    def __call__(self, table: pa.Table) -> pa.Table:
        vectors = self.embedder.embed(table.column("text").to_pylist())
        return pa.table({"position": table.column("position"),
                         "vector": pa.array([v.tobytes() for v in vectors], pa.binary())})
