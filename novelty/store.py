"""The SQLite file of one monitored model: its schema and every write, in batched transactions.

Tables (stable names; the README's tour, step 3, queries them): ``runs``, ``scores``, ``rejects``,
``embeddings``, ``meta``, ``training_labels``, ``windows``, ``incidents``, ``clusters``, ``cluster_members``, ``queue``,
``feedback`` (true labels by ``prompt_id``, see feedback.py), ``pruned_counts`` (what ``prune``
deleted, counted by minute of event time, so windows counted again after a late log keep it),
``pruned_feedback`` (the labelled prompts it deleted, by minute, novel or not, predicted and true label,
'' both when right: online accuracy keeps its history) and ``alerted`` (the incidents a
``spikes --fail-on new-incident`` run failed on), all declared here so any SQLite browser sees the
whole schema from the first ``score``.

Embeddings are stored once per distinct text (keyed by ``text_hash``) as float16: 768 bytes at
d = 384 instead of 1,536, and the scorer always uses these rounded vectors, so a prompt embedded
today and the same prompt read back from the cache tomorrow get identical scores.

Every write of a run goes through ``Store.transaction``: ``BEGIN IMMEDIATE`` takes the write lock up
front (so a concurrent writer waits on the busy timeout instead of failing on a stale read snapshot),
a lock still held after the timeout is retried with backoff, and a full disk or read-only file becomes
a ``StorageError`` with a message, the transaction rolled back and the database left valid.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import re
import socket
import sqlite3
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Collection, Iterable, Mapping, Sequence, TypeVar

import numpy as np
import sqlite_utils

from .embed import split_pooling
from .errors import IncompatibleError, InputError, StorageError, check_argument
from .logs import label_form

SCHEMA_VERSION = 2  # 2: pruned_counts' alpha columns, pruned_feedback, alerted; a database of a newer one is refused
_IN_CHUNK = 500  # ids per "IN (...)" query, far below SQLite's variable limit
BUSY_TIMEOUT_MS = 30_000
_RETRIES = 6  # after the busy timeout: a lock held > 30 s is retried, with backoff, this many times
MAX_RAW_CHARS = 10_000  # a rejected 10 MB line keeps its head and its length, not all of it
T = TypeVar("T")

# the alphas whose novel counts ``prune`` keeps beside the scoring run's own (``pruned_counts.novel``),
# so a pruned day counts at the alpha spikes reads today when it is one of these
PRUNED_ALPHAS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2)


def pruned_novel_column(alpha: float) -> str:
    """The ``pruned_counts`` column of the novel count at ``alpha`` (one of PRUNED_ALPHAS).

    >>> pruned_novel_column(0.05)
    'novel_at_0_05'
    """
    return "novel_at_" + repr(float(alpha)).replace(".", "_")


_ALERTED = """CREATE TABLE IF NOT EXISTS alerted (
    incident_id TEXT PRIMARY KEY, window_size TEXT, window_start TEXT, window_end TEXT, alerted_at TEXT)"""
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS runs (
    run_id INTEGER PRIMARY KEY, started_at TEXT, finished_at TEXT, status TEXT, sources TEXT,
    index_name TEXT, index_checksum TEXT, model TEXT, model_revision TEXT, dimension INTEGER,
    scorer TEXT, alpha REAL, threshold REAL, rows_read INTEGER, rows_scored INTEGER,
    rows_skipped INTEGER, rows_rejected INTEGER, novel INTEGER, seconds REAL, params TEXT,
    novelty_version TEXT);
CREATE TABLE IF NOT EXISTS scores (
    prompt_id TEXT PRIMARY KEY, run_id INTEGER REFERENCES runs(run_id), source TEXT, line INTEGER,
    ts TEXT, text TEXT NOT NULL, text_hash TEXT NOT NULL, predicted_label TEXT, similarity REAL,
    novelty REAL, p_value REAL, is_novel INTEGER, nearest_id TEXT, nearest_label TEXT,
    neighbors TEXT, scored_at TEXT);
CREATE INDEX IF NOT EXISTS scores_ts ON scores(ts);
CREATE INDEX IF NOT EXISTS scores_novel_ts ON scores(is_novel, ts);
CREATE INDEX IF NOT EXISTS scores_run ON scores(run_id);
CREATE TABLE IF NOT EXISTS embeddings (text_hash TEXT PRIMARY KEY, vector BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS training_labels (
    index_checksum TEXT, label TEXT, prompts INTEGER, PRIMARY KEY (index_checksum, label));
CREATE TABLE IF NOT EXISTS windows (
    window_size TEXT, window_start TEXT, window_end TEXT, prompts INTEGER, novel INTEGER,
    novel_rate REAL, ci_low REAL, ci_high REAL, expected_rate REAL, baseline TEXT, p_value REAL,
    q_value REAL, cusum REAL, flagged INTEGER, updated_at TEXT, decided_at TEXT, detectors TEXT,
    tail_sum REAL, tail_sum_sq REAL, neighbour_p REAL, PRIMARY KEY (window_size, window_start));
CREATE TABLE IF NOT EXISTS incidents (
    incident_id TEXT PRIMARY KEY, kind TEXT NOT NULL, window_start TEXT, window_end TEXT,
    severity TEXT, p_value REAL, status TEXT, details TEXT, detected_at TEXT, updated_at TEXT);
CREATE INDEX IF NOT EXISTS incidents_kind ON incidents(kind, window_start);
CREATE TABLE IF NOT EXISTS clusters (
    cluster_id TEXT PRIMARY KEY, name TEXT, size INTEGER, first_seen TEXT, last_seen TEXT,
    growth REAL, daily TEXT, predicted_labels TEXT, nearest_labels TEXT, examples TEXT,
    centroid BLOB, updated_at TEXT, look_alikes INTEGER, look_alike_labels TEXT);
CREATE TABLE IF NOT EXISTS cluster_members (prompt_id TEXT PRIMARY KEY, cluster_id TEXT);
CREATE TABLE IF NOT EXISTS pruned_counts (
    minute INTEGER PRIMARY KEY, prompts INTEGER, novel INTEGER, tail_sum REAL, tail_sum_sq REAL,
    """ + ", ".join(f"{pruned_novel_column(a)} INTEGER" for a in PRUNED_ALPHAS) + """);
""" + _ALERTED + """;
CREATE TABLE IF NOT EXISTS pruned_feedback (
    minute INTEGER, is_novel INTEGER, predicted TEXT, label TEXT, n INTEGER,
    PRIMARY KEY (minute, is_novel, predicted, label));
CREATE INDEX IF NOT EXISTS cluster_members_cluster ON cluster_members(cluster_id);
CREATE TABLE IF NOT EXISTS queue (
    prompt_id TEXT PRIMARY KEY, text TEXT, text_hash TEXT, source TEXT, status TEXT,
    predicted_label TEXT, label TEXT, added_at TEXT, updated_at TEXT);
CREATE INDEX IF NOT EXISTS queue_status ON queue(status);
CREATE TABLE IF NOT EXISTS feedback (
    prompt_id TEXT PRIMARY KEY, label TEXT NOT NULL, labelled_at TEXT, source TEXT, imported_at TEXT);
CREATE TABLE IF NOT EXISTS rejects (
    reject_id TEXT PRIMARY KEY, run_id INTEGER, source TEXT, line INTEGER, reason TEXT, raw TEXT,
    rejected_at TEXT);
CREATE INDEX IF NOT EXISTS rejects_place ON rejects(source, line);
CREATE TABLE IF NOT EXISTS label_files (
    sha256 TEXT PRIMARY KEY, written TEXT, source TEXT, imported_at TEXT);
"""


# a labelled prompt (scores s joined to feedback f) as online accuracy groups it: its predicted and true
# label, both '' when they agree (a window's right answers in one group); prune keeps those of the
# prompts it deletes in ``pruned_feedback`` the same way
_RIGHT = "s.predicted_label = f.label"
GROUPED_LABELS = (f"CASE WHEN {_RIGHT} THEN '' ELSE s.predicted_label END",
                  f"CASE WHEN {_RIGHT} THEN '' ELSE f.label END")

_TABLES = dict(re.findall(r"CREATE TABLE IF NOT EXISTS (\w+) \(\s*(\w+)", _SCHEMA))  # table -> its first column

# (table, column, type) added since a table's first version, in the order added
_ADDED_COLUMNS = (("windows", "decided_at", "TEXT"), ("windows", "detectors", "TEXT"),
                  ("clusters", "look_alikes", "INTEGER"), ("clusters", "look_alike_labels", "TEXT"),
                  ("windows", "tail_sum", "REAL"), ("windows", "tail_sum_sq", "REAL"),
                  *(("pruned_counts", pruned_novel_column(a), "INTEGER") for a in PRUNED_ALPHAS),
                  ("windows", "neighbour_p", "REAL"))
SCORE_COLUMNS = ("prompt_id", "run_id", "source", "line", "ts", "text", "text_hash", "predicted_label",
                 "similarity", "novelty", "p_value", "is_novel", "nearest_id", "nearest_label",
                 "neighbors", "scored_at")
REJECT_COLUMNS = ("reject_id", "run_id", "source", "line", "reason", "raw", "rejected_at")
_TEXT = SCORE_COLUMNS.index("text")


def utc_now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def text_hash(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()


def stored_vectors(vectors: np.ndarray) -> np.ndarray:
    """The vectors as they come back from the store (float16, widened to float32)."""
    return np.asarray(vectors, dtype=np.float16).astype(np.float32)


def existing_db(db: str | Path) -> Path:
    """``db`` when it holds a database, else an InputError: missing, a folder, or an empty file (SQLite
    would take a zero-byte file as a new database, and a command that only reads would write a whole
    schema into it)."""
    check_argument("db", db, (str, Path), "the SQLite file's path, such as 'monitor.db'")  # not a TypeError
    path = Path(db)
    if not path.is_file():
        raise InputError(f"{db}: no such database; fill one with `novelty score` first")
    if path.stat().st_size == 0:
        raise InputError(f"{db}: an empty file, no database yet; fill it with `novelty score` first")
    return path


def _calibration_size(params: str | None) -> int | None:
    """The calibration size a run recorded in its ``params`` JSON (None: not recorded, or unreadable).

    >>> _calibration_size('{"calibration_size": 2000}'), _calibration_size('[]'), _calibration_size(None)
    (2000, None, None)
    """
    try:
        size = json.loads(params or "{}").get("calibration_size")
    except (ValueError, AttributeError):
        return None
    return size if isinstance(size, int) and size > 0 else None


def _take_along(conn: sqlite3.Connection, pairs: list[tuple[str, str]]) -> None:
    """A prompt's cluster membership, queue item and true label go from each old id to its new one
    (``(new, old)``), unless the new one has its own: of two true labels, the newer wins, as on import."""
    conn.executemany("DELETE FROM feedback WHERE prompt_id = ? AND coalesce(labelled_at, '') < "
                     "(SELECT coalesce(labelled_at, '') FROM feedback WHERE prompt_id = ?)", pairs)
    for table in ("cluster_members", "queue", "feedback"):
        conn.executemany(f"UPDATE OR IGNORE {table} SET prompt_id = ? WHERE prompt_id = ?", pairs)
        conn.executemany(f"DELETE FROM {table} WHERE prompt_id = ?", [(old,) for _, old in pairs])


class Store:
    """One SQLite database in WAL mode; writes go through ``write_chunk`` in one transaction each."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if self.path.exists() and self.path.is_dir():
            raise InputError(f"--db {self.path} is a folder; give a file name such as monitor.db")
        # a file (or folder) the user may only read, an archive or a shared copy, is opened read-only: SQLite
        # could not make its -wal file in a folder of its own (no page), and in another's folder it made
        # -wal and -shm files the owner could then neither write nor delete (their next `spikes` failed)
        self.read_only = self.path.is_file() and not may_write(self.path)
        try:
            self.db = sqlite_utils.Database(_read_only(self.path) if self.read_only else self.path)
            self.db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            _retry(self._prepare)
        except sqlite3.OperationalError as exc:
            raise storage_error(self.path, exc) from None
        except sqlite3.DatabaseError as exc:
            raise InputError(f"{self.path} is not a novelty SQLite database ({exc})") from None

    def _prepare(self) -> None:
        tables = {name for (name,) in self.db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        ours = tables & set(_TABLES)  # a name like runs or queue is common: its first column must be ours too
        if tables and (not ours or any(_TABLES[t] not in {c.name for c in self.db[t].columns} for t in ours)):
            raise InputError(f"{self.path} is a SQLite database of something else (tables: "
                             f"{', '.join(sorted(tables)[:5])}); give novelty a file of its own")
        if "meta" in tables:
            row = self.db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            if row and str(row[0]).isdigit() and int(row[0]) > SCHEMA_VERSION:
                raise InputError(f"{self.path} was written by a newer novelty (schema {row[0]}; this one knows "
                                 f"{SCHEMA_VERSION}): upgrade novelty to use it")
        if self.read_only:  # read as it is: a writing command says 'cannot write' when it comes to write
            for statement in _SCHEMA.split(";"):  # tables an older version had not made yet: empty, for this
                made = re.search(r"CREATE TABLE IF NOT EXISTS (\w+)", statement)  # connection only (temp)
                if made and made.group(1) not in tables:  # (was 'no such table: alerted', exit 3 'a bug')
                    self.db.conn.execute(statement.replace("CREATE TABLE IF NOT EXISTS", "CREATE TEMP TABLE", 1))
            return
        self.db.enable_wal()
        if "incidents" in tables and "alerted" not in tables:
            self._alerted_from_incidents()
        self.db.conn.executescript(_SCHEMA)
        for table, column, kind in _ADDED_COLUMNS:  # databases written by an older version
            if column not in {c.name for c in self.db[table].columns}:
                try:
                    self.db.conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
                except sqlite3.OperationalError as exc:  # another process opening it added it first
                    if "duplicate column" not in str(exc):
                        raise
        if tables and self.db.execute("SELECT 1 FROM meta WHERE key = 'schema_version' AND "
                                      "CAST(value AS INTEGER) < ?", [SCHEMA_VERSION]).fetchone():
            try:
                with self.db.conn:  # migrated above: the next version can tell
                    self.db.conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'",
                                         [str(SCHEMA_VERSION)])
            except sqlite3.OperationalError as exc:  # a database the user may only read still opens
                if not is_read_only(exc):
                    raise
        # older versions saved an unbounded rate ratio as Infinity, which SQLite's JSON functions refuse
        infinite = "details LIKE '%\"rate_ratio\": Infinity%'"
        if self.db.execute(f"SELECT 1 FROM incidents WHERE {infinite} LIMIT 1").fetchone():
            with self.db.conn:
                self.db.conn.execute("UPDATE incidents SET details = replace(details, '\"rate_ratio\": Infinity', "
                                     f"'\"rate_ratio\": null') WHERE {infinite}")

    def _alerted_from_incidents(self) -> None:
        """Create ``alerted`` for a database of an older version, holding the incidents it found: what
        it raised is no new incident (the first ``--fail-on new-incident`` run after upgrading raised
        them all again). One transaction, checked again inside: a process killed or beaten to it
        between the CREATE and the INSERT would leave the table empty for good."""
        conn = self.db.conn

        def work() -> None:
            if not conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alerted'").fetchone():
                conn.execute(_ALERTED)
                conn.execute("INSERT OR IGNORE INTO alerted SELECT incident_id, json_extract(details, "
                             "'$.window_size'), window_start, window_end, ? FROM incidents "
                             "WHERE kind = 'label_bias' AND json_valid(details)", [utc_now()])
        self.transaction(work)

    def close(self) -> None:
        self.db.close()

    def unchanged_by_prune(self, seen: str | None) -> None:
        """Inside a write transaction: an InputError when a ``prune`` committed since ``pruned_before``
        was ``seen``: what was read before it may hold prompts it deleted (their text queued again, or
        memberships of prompts that are gone, for good)."""
        if self.pruned_before() != seen:
            raise InputError(f"novelty prune deleted old prompts from {self.path} while this command read them: "
                             "nothing was written; run the same command again")

    def pruned_before(self) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = 'pruned_before'").fetchone()
        return row[0] if row else None

    def transaction(self, work: Callable[[], T]) -> T:
        """Run ``work`` in one write transaction: all of it or none, retried while the file is locked."""
        conn = self.db.conn

        def attempt() -> T:
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = work()
                conn.commit()
                return result
            except BaseException:
                if conn.in_transaction:
                    try:
                        conn.rollback()
                    except sqlite3.Error:
                        pass  # the connection is gone; SQLite rolls back from the journal on next open
                raise
        try:
            return _retry(attempt)
        except sqlite3.OperationalError as exc:
            raise storage_error(self.path, exc, self.read_only) from None

    # -- model compatibility --------------------------------------------------------------------
    def meta(self) -> dict[str, str]:
        return {row[0]: row[1] for row in self.db.execute("SELECT key, value FROM meta")}

    def redacted(self) -> bool:
        """Whether a run stored its prompts with ``--redact`` (or ``logs.redact``): what the database then
        holds of other files (a label file's rejected rows) is redacted too, unasked (QA: a label file's
        rejected row kept a card number in a database scored with --redact)."""
        return self.db.execute("SELECT 1 FROM runs WHERE json_valid(params) AND (json_extract(params, '$.redact') "
                               "OR json_extract(params, '$.redact_before_embed')) LIMIT 1").fetchone() is not None

    def bind_model(self, model: str, revision: str, dimension: int) -> None:
        """Record the embedding model on first use; refuse a different one later."""
        meta = self.meta()
        mine = {"model": model, "model_revision": revision, "dimension": str(dimension)}
        if "model_revision" not in meta:
            rows = [(k, v) for k, v in {**mine, "schema_version": str(SCHEMA_VERSION),
                                         "created_at": utc_now()}.items()]
            # OR IGNORE: when two first runs race, the one that commits first binds the model
            self.transaction(lambda: self._insert("meta", ("key", "value"), rows))
            meta = self.meta()
        differs = [f"{k}: database has {meta.get(k)!r}, this index has {v!r}"
                   for k, v in mine.items() if k != "model" and meta.get(k) != v]
        if differs and self._holds_nothing():  # a first run that failed before scoring bound it: no vector yet
            self.transaction(lambda: self.db.conn.executemany(
                "UPDATE meta SET value = ? WHERE key = ?", [(v, k) for k, v in mine.items()]))
            return
        if differs:
            same = "the same model run another way" if meta.get("model") == model else \
                f"model {model!r}"
            # the same weights, pooled another way (index build's default changed from the model's own to
            # mean-max): name the pooling the database's vectors have
            (weights, pooled), (mine_weights, _) = split_pooling(str(meta.get("model_revision"))), split_pooling(revision)
            hint = f" (index build --pooling {pooled})" if weights == mine_weights and \
                meta.get("model_revision") != revision else ""
            raise IncompatibleError(
                f"{self.path} holds embeddings of model {meta.get('model')!r}; this index embeds with "
                f"{same} ({'; '.join(differs)}). Use another --db, or an index built the way this "
                f"database's was{hint}.")

    def _holds_nothing(self) -> bool:
        """No run ever stored a prompt (a prune may have emptied the tables since: its clusters'
        centroids and windows are the model's still), no vector, no queue item: nothing the model
        binding protects."""
        return not any(self.db.execute(sql).fetchone() for sql in (
            "SELECT 1 FROM runs WHERE COALESCE(rows_scored, 0) > 0 OR status IN ('running', 'interrupted') LIMIT 1",
            *(f"SELECT 1 FROM {table} LIMIT 1" for table in ("scores", "embeddings", "queue", "clusters"))))

    def earlier_id_column(self) -> str | None:
        """The id column the latest run that named one and may have stored rows read ids from (--id-col)."""
        row = self.db.execute(  # a run stopped or killed midway may have stored rows too
            "SELECT json_extract(params, '$.columns.id') FROM runs WHERE (status IN ('done', 'running', 'interrupted') "
            "OR COALESCE(rows_scored, 0) > 0) AND json_valid(params) AND json_extract(params, '$.columns.id') "
            "IS NOT NULL AND json_extract(params, '$.columns.id') != '' ORDER BY run_id DESC LIMIT 1").fetchone()
        return row[0] if row else None

    # -- runs -------------------------------------------------------------------------------------
    def start_run(self, **fields) -> int:
        """A new run, 'running' until ``finish_run``. Its params record this process (host, pid), so a
        later run can mark it 'interrupted' when that process is gone (killed, or the machine rebooted)."""
        params = json.loads(fields.get("params") or "{}")
        fields["params"] = json.dumps({**params, "process": {"host": socket.gethostname(), "pid": os.getpid()}})
        fields = {"started_at": utc_now(), "status": "running", **fields}
        self._mark_interrupted()
        return self.transaction(lambda: int(self.db.conn.execute(
            f"INSERT INTO runs ({', '.join(map(quote, fields))}) VALUES ({', '.join('?' * len(fields))})",
            list(fields.values())).lastrowid))

    def _mark_interrupted(self) -> None:
        """Mark 'interrupted' the runs still 'running' whose process is gone: one of this host that is no
        longer alive, or one that has stored nothing for ``STALE_RUN_HOURS`` (QA: a Kubernetes pod killed
        mid-run left its run 'running' for ever, as each pod has a hostname of its own, and PID 1 again in
        a container looked alive). A run still alive after all writes its own status when it ends."""
        host = socket.gethostname()
        running = self.db.execute("SELECT run_id, params, started_at FROM runs WHERE status = 'running'").fetchall()
        gone = [run_id for run_id, params, started in running
                if _dead_here(_process(params), host) or self._silent_for(run_id, started) > STALE_RUN_HOURS * 3600]
        if gone:  # with the counts of what it stored (left NULL, they summed to 40,000 of 50,000 rows)
            self.transaction(lambda: self.db.conn.executemany(
                "UPDATE runs SET status = 'interrupted', rows_scored = :rows_scored, novel = :novel, "
                "rows_rejected = (SELECT COUNT(*) FROM rejects WHERE run_id = :run_id) "
                "WHERE run_id = :run_id AND status = 'running'",
                [{**self.run_counts(run_id), "run_id": run_id} for run_id in gone]))

    def _silent_for(self, run_id: int, started: str | None) -> float:
        """Seconds since run ``run_id`` last showed a sign of life: its start, or its newest stored row."""
        (last,) = self.db.execute("SELECT MAX(scored_at) FROM scores WHERE run_id = ?", [run_id]).fetchone()
        stamps = []
        for t in (started, last):
            try:
                stamps.append(datetime.strptime(str(t)[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc))
            except ValueError:  # not a stamp novelty writes: the other one still tells (review)
                continue
        if not stamps:  # unknown, so not judged gone
            return 0.0
        return (datetime.now(timezone.utc) - max(stamps)).total_seconds()

    def run_counts(self, run_id: int) -> dict:
        """The prompts run ``run_id`` stored, counted in the table: a run stopped between a chunk's commit
        and its tally (Ctrl-C) said 400 scored where 600 rows carry its id."""
        scored, novel = self.db.execute("SELECT COUNT(*), COALESCE(SUM(is_novel), 0) FROM scores WHERE run_id = ?",
                                        [run_id]).fetchone()
        return {"rows_scored": scored, "novel": novel}

    def forget_source(self, run_id: int, source: str) -> int:
        """Delete what run ``run_id`` stored from ``source``: scores and rejects of a damaged file, read
        before its damage showed (a flipped byte in a gzip decodes into wrong text until the CRC fails).
        Returns the rejects deleted."""
        def forget() -> int:
            self.db.conn.execute("DELETE FROM scores WHERE run_id = ? AND source = ?", [run_id, source])
            return self.db.conn.execute("DELETE FROM rejects WHERE run_id = ? AND source = ?",
                                        [run_id, source]).rowcount
        return self.transaction(forget)

    def finish_run(self, run_id: int, status: str = "done", **fields) -> None:
        fields = {"finished_at": utc_now(), "status": status, **fields}
        self.transaction(lambda: self.db.conn.execute(
            f"UPDATE runs SET {', '.join(f'{quote(k)} = ?' for k in fields)} WHERE run_id = ?",
            [*fields.values(), run_id]))

    def na_like_intents(self) -> frozenset[str]:
        """Training labels spelt as a label file says 'not labelled yet' ('None', LUIS's and CLU's intent for
        everything else): such a cell is that intent, not a gap (``is_na_label``)."""
        from .logs import is_na_label

        return frozenset(label for (label,) in self.db.execute("SELECT DISTINCT label FROM training_labels")
                         if isinstance(label, str) and is_na_label(label))

    def record_training_labels(self, index_checksum: str, counts: dict[str, int]) -> None:
        self.transaction(lambda: self._insert("training_labels", ("index_checksum", "label", "prompts"),
                                              [(index_checksum, label, n) for label, n in counts.items()]))

    def training_label_shares(self) -> dict[str, float]:
        """Label shares of the index used by the latest run (empty when it had no labels)."""
        rows = list(self.db.execute(
            "SELECT label, prompts FROM training_labels WHERE index_checksum = (SELECT index_checksum "
            "FROM runs WHERE status = 'done' ORDER BY run_id DESC LIMIT 1)"))
        total, shares = sum(n for _, n in rows), {}
        for label, n in rows:  # an index built before labels were normalised: 'cafe\u0301' is 'café' now
            shares[label_form(label)] = shares.get(label_form(label), 0.0) + n / total
        return shares

    def _latest_run(self, column: str):
        """``column`` of the latest finished run that stored prompts (None without one): a re-run that
        stored none (every row already scored) with another --alpha changed how every day was counted."""
        row = next(iter(self.db.execute(
            f"SELECT {column} FROM runs WHERE status = 'done' "
            "ORDER BY COALESCE(rows_scored, 1) > 0 DESC, run_id DESC LIMIT 1")), None)
        return row[0] if row else None

    def latest_alpha(self) -> float | None:
        """The alpha of the latest finished run that stored prompts (``_latest_run``)."""
        return self._latest_run("alpha")

    def latest_calibration_size(self) -> int | None:
        """How many calibration scores the p-values of ``latest_alpha``'s run rest on (None: a run from
        before it was recorded)."""
        return _calibration_size(self._latest_run("params"))

    def calibrations(self) -> tuple[dict[int, str], dict[str, int]]:
        """run_id -> the checksum of the index its p-values came from, and checksum -> how many calibration
        scores that index's p-values rest on (where a run recorded it). ``index add`` and rebuilds change
        the checksum, and with it the calibration: spikes keeps days scored under another apart."""
        runs, sizes = {}, {}
        for run_id, checksum, params in self.db.execute("SELECT run_id, index_checksum, params FROM runs"):
            if checksum is None:
                continue
            runs[run_id] = checksum
            if (size := _calibration_size(params)) is not None:
                sizes[checksum] = size
        return runs, sizes

    def run(self, run_id: int) -> dict:
        return self.db["runs"].get(run_id)

    # -- reads used while scoring -----------------------------------------------------------------
    def existing_ids(self, prompt_ids: Sequence[str]) -> dict[str, int]:
        """prompt_id -> run_id of those already in ``scores``."""
        return self._scored(prompt_ids, "run_id")

    def novel_among(self, prompt_ids: Sequence[str], like: set[int], unlike: set[int],
                    tally: dict[int, int] | None = None) -> tuple[int, int, int]:
        """How many of ``prompt_ids`` runs in ``like`` scored, how many of those were novel, and how many
        runs in ``unlike`` scored; ``tally`` counts the first per run."""
        rows = novel = other = 0
        for part in _chunks(list(dict.fromkeys(prompt_ids)), _IN_CHUNK):
            marks = ",".join("?" * len(part))
            for run_id, is_novel in self.db.execute(
                    f"SELECT run_id, is_novel FROM scores WHERE prompt_id IN ({marks})", part):
                if run_id in like:
                    rows += 1
                    novel += bool(is_novel)
                    if tally is not None:
                        tally[run_id] = tally.get(run_id, 0) + 1
                elif run_id in unlike:
                    other += 1
        return rows, novel, other

    def runs_like(self, index_checksum: str, alpha: float) -> tuple[set[int], set[int]]:
        """Runs against the index of ``index_checksum`` at ``alpha`` that never finished (killed, failed:
        their rows were never tested as a whole; a finished run's were, and a log re-read day after day
        by a glob must not dilute a new day's test), and runs against another index or alpha."""
        like, unlike, tested = set(), set(), set()
        for run_id, checksum, a, status, params in self.db.execute(
                "SELECT run_id, index_checksum, alpha, status, params FROM runs"):
            same = checksum == index_checksum and a is not None and abs(a - alpha) < 1e-12
            if not same:
                unlike.add(run_id)
            elif status != "done":
                like.add(run_id)
            elif params and "tested_runs" in params:
                with contextlib.suppress(ValueError, TypeError, AttributeError):
                    tested.update(int(r) for r in json.loads(params).get("tested_runs", ()))
        # an unfinished run whose every stored row a finished run counted in its test was tested then:
        # counted again, it made each later rerun of the same log alert on it, for good (QA)
        return like - tested, unlike

    def retire_tested(self, run_id: int, counted: dict[int, int]) -> None:
        """Record in finished run ``run_id`` the unfinished runs all of whose stored rows it counted in
        its novel test (``counted``: run -> rows), so later runs leave them out (``runs_like``)."""
        whole = [r for r, n in sorted(counted.items())
                 if n >= self.db.execute("SELECT COUNT(*) FROM scores WHERE run_id = ?", [r]).fetchone()[0]]
        if whole:
            self.transaction(lambda: self.db.conn.execute(
                "UPDATE runs SET params = json_set(COALESCE(params, '{}'), '$.tested_runs', json(?)) "
                "WHERE run_id = ?", [json.dumps(whole), run_id]))

    def other_runs(self, run_id: int, alpha: float) -> tuple[list[float], list[str]]:
        """The alphas other than ``alpha``, and the index names other than run ``run_id``'s, of the finished
        runs that stored rows, ``run_id`` aside. An index moved or renamed is the same index: another name
        with the same checksum is none (it warned daily after an index moved to another folder: QA)."""
        others = sorted({a for (a,) in self.db.execute(
            "SELECT DISTINCT alpha FROM runs WHERE status = 'done' AND run_id != ? AND alpha IS NOT NULL "
            "AND rows_scored > 0", [run_id]) if abs(a - alpha) > 1e-12})
        indexes = sorted({name for (name,) in self.db.execute(
            "SELECT DISTINCT index_name FROM runs WHERE status = 'done' AND run_id != ? AND rows_scored > 0 "
            "AND index_name IS NOT NULL AND index_name != (SELECT index_name FROM runs WHERE run_id = ?) "
            "AND index_checksum IS NOT (SELECT index_checksum FROM runs WHERE run_id = ?)",
            [run_id, run_id, run_id])})
        return others, indexes

    def queue_statuses(self, prompt_ids: Sequence[str]) -> dict[str, str]:
        """prompt_id -> status of those of ``prompt_ids`` in the queue."""
        found: dict[str, str] = {}
        for part in _chunks(list(dict.fromkeys(prompt_ids)), _IN_CHUNK):
            found.update(self.db.execute(
                f"SELECT prompt_id, status FROM queue WHERE prompt_id IN ({','.join('?' * len(part))})", part))
        return found

    def has_untimed(self, source: str | None) -> bool:
        """Whether ``scores`` holds rows of ``source`` (of any log, when None) stored without a time."""
        if source is None:  # (ts is indexed: no scan)
            return self.db.execute("SELECT 1 FROM scores WHERE ts IS NULL LIMIT 1").fetchone() is not None
        return self.db.execute("SELECT 1 FROM scores WHERE ts IS NULL AND source = ? LIMIT 1", [source]).fetchone() \
            is not None

    def move_ids(self, moves: list[tuple[str, str | None, str]]) -> None:
        """Store prompts under new ids (``(new id, time or None, old id)``), with their cluster membership,
        queue item and true label; a prompt stored without a time gains the one given. A new id already
        taken leaves that prompt where it is."""
        def work() -> None:
            conn = self.db.conn
            pairs = [(new, old) for new, ts, old in moves  # only the prompts that moved take the rest along
                     if conn.execute("UPDATE OR IGNORE scores SET prompt_id = ?, ts = coalesce(ts, ?) "
                                     "WHERE prompt_id = ?", (new, ts, old)).rowcount]
            _take_along(conn, pairs)
        self.transaction(work)

    def merge_ids(self, pairs: list[tuple[str, str]]) -> None:
        """Drop prompts stored twice (``(kept id, dropped id)``: the same request delivered twice, each
        stored under an id derived from its line before the log's ids were named); the dropped one's
        cluster membership, queue item and true label go to the kept one unless it has its own."""
        def work() -> None:
            _take_along(self.db.conn, pairs)
            self.db.conn.executemany("DELETE FROM scores WHERE prompt_id = ?", [(old,) for _, old in pairs])
        if pairs:
            self.transaction(work)

    def fill_times(self, times: list[tuple[str, str]]) -> None:
        """Give prompts stored without a time the one now logged (``(time, prompt id)``); a time stored
        stays as it is."""
        self.transaction(lambda: self.db.conn.executemany(
            "UPDATE scores SET ts = ? WHERE prompt_id = ? AND ts IS NULL", times))

    def fill_labels(self, labels: list[tuple[str, str]]) -> int:
        """Give prompts stored without a predicted label the one now logged (``(label, prompt id)``); a
        label stored stays as it is. Looked up first: a rerun, its labels all stored, writes nothing."""
        stored = self._scored([pid for _, pid in labels], "predicted_label")
        missing = [(label, pid) for label, pid in labels if pid in stored and stored[pid] is None]
        if missing:
            self.transaction(lambda: self.db.conn.executemany(
                "UPDATE scores SET predicted_label = ? WHERE prompt_id = ? AND predicted_label IS NULL", missing))
        return len({pid for _, pid in missing})  # each prompt once (a row delivered twice names it twice)

    def text_hashes(self, prompt_ids: Sequence[str]) -> dict[str, str]:
        """prompt_id -> text_hash of those already in ``scores``."""
        return self._scored(prompt_ids, "text_hash")

    def _scored(self, prompt_ids: Sequence[str], column: str) -> dict:
        found: dict = {}
        for part in _chunks(list(prompt_ids), _IN_CHUNK):
            marks = ",".join("?" * len(part))
            found.update(self.db.execute(
                f"SELECT prompt_id, {column} FROM scores WHERE prompt_id IN ({marks})", part))
        return found

    def cached_vectors(self, hashes: Sequence[str], dimension: int) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        for part in _chunks(list(dict.fromkeys(hashes)), _IN_CHUNK):
            marks = ",".join("?" * len(part))
            for key, blob in self.db.execute(
                    f"SELECT text_hash, vector FROM embeddings WHERE text_hash IN ({marks})", part):
                vector = np.frombuffer(blob, dtype=np.float16)
                if vector.size == dimension:
                    found[key] = vector.astype(np.float32)
        return found

    # -- the one write path -----------------------------------------------------------------------
    def write_chunk(self, scores: list[tuple], vectors: dict[str, np.ndarray],
                    rejects: list[dict], reread: Mapping[str, Collection[int]] | None = None) -> list[tuple]:
        """Scores (tuples in ``SCORE_COLUMNS`` order), new embeddings and rejects of one chunk, all or
        nothing; returns the scores written. Those another run wrote meanwhile (two runs over one
        file at once) are left out, checked under the write lock, so the caller's counts stay true.
        ``reread``: per source, the earlier runs that scored rows this run read from it (the same file
        read again): their rejects at the lines of this chunk's rows go (``_superseded``).
        Plain ``executemany``: sqlite-utils' ``insert_all`` is three times slower on this hot path."""
        def work() -> list[tuple]:
            taken = self.existing_ids([row[0] for row in scores]) if scores else {}
            fresh = [row for row in scores if row[0] not in taken]
            self._insert("scores", SCORE_COLUMNS, fresh)
            self._insert("embeddings", ("text_hash", "vector"),
                         [(k, np.asarray(v, dtype=np.float16).tobytes()) for k, v in vectors.items()])
            if (fresh or rejects) and self.db.execute("SELECT 1 FROM rejects WHERE run_id IS NOT NULL "
                                                      "LIMIT 1").fetchone():
                self.db.conn.executemany("DELETE FROM rejects WHERE reject_id = ?",
                                         [(key,) for key in self._superseded(fresh, rejects, reread or {})])
            self._insert("rejects", REJECT_COLUMNS, [tuple(r[c] for c in REJECT_COLUMNS) for r in rejects])
            return fresh
        return self.transaction(work)

    def _superseded(self, fresh: list[tuple], rejects: list[dict],
                    reread: Mapping[str, Collection[int]]) -> list[str]:
        """Rejects an earlier run stored at the lines of ``fresh`` and ``rejects`` that the same row
        replaces: scored now (its line completed, the file converted to UTF-8: else the report said '2
        prompts scored (1 rejected)' of 2 rows), or set aside again as it grew. The same row when the
        reject's run read this file as it is read now (it scored rows found again: ``reread``), or
        when its text is in the earlier reject's line (all of a log set aside for a wrong option, then
        scored). A log rotated under the same name holds other rows at those lines: the earlier day's
        rejects stay (review: keyed by file and line, they were lost)."""
        now: dict[tuple[str, int], tuple[str | None, str | None]] = {
            (row[2], row[3]): (row[_TEXT], None) for row in fresh}
        now.update({(r["source"], r["line"]): (None, r["raw"]) for r in rejects})
        keys, run_ids = {r["reject_id"] for r in rejects}, {row[1] for row in fresh} | {r["run_id"] for r in rejects}
        gone = []
        for source in {place[0] for place in now}:
            lines = [line for s, line in now if s == source]
            for key, run_id, line, raw in self.db.execute(
                    "SELECT reject_id, run_id, line, raw FROM rejects WHERE source = ? AND line BETWEEN ? AND ? "
                    "AND run_id IS NOT NULL", [source, min(lines), max(lines)]):
                if (source, line) not in now or key in keys or run_id in run_ids:
                    continue
                text, again = now[source, line]
                if run_id in reread.get(source, ()) or (text is not None and _holds(raw or "", text)) \
                        or (again is not None and again.startswith(raw or "\0")):
                    gone.append(key)
        return gone

    def scored_at_lines(self, source: str, run_ids: Collection[int], lines: Sequence[int]) -> bool:
        """Whether one of ``run_ids`` stored a row of ``source`` at one of ``lines``."""
        runs, lines = sorted(run_ids), list(lines)
        if not runs or not lines:
            return False
        return self.db.execute(
            f"SELECT 1 FROM scores WHERE run_id IN ({','.join('?' * len(runs))}) AND source = ? AND line IN "
            f"({','.join('?' * len(lines))}) LIMIT 1", [*runs, source, *lines]).fetchone() is not None

    def bound_embeddings(self, max_vectors: int) -> int:
        """Evict cached vectors past ``max_vectors``, least recently scored first; returns how many.

        Only vectors of prompts that were never novel, and not queued, go: clusters and the queue read
        the novel ones, and those are the few (alpha of in-distribution traffic)."""
        def work() -> int:
            (count,) = self.db.execute("SELECT COUNT(*) FROM embeddings").fetchone()
            if count <= max_vectors:
                return 0
            return self.db.conn.execute(
                "DELETE FROM embeddings WHERE text_hash IN (SELECT text_hash FROM scores GROUP BY text_hash "
                "HAVING MAX(is_novel) = 0 AND text_hash NOT IN (SELECT text_hash FROM queue WHERE text_hash "
                "IS NOT NULL) ORDER BY MAX(run_id), MAX(ts) LIMIT ?)", [count - max_vectors]).rowcount
        return self.transaction(work)

    def vectors(self, hashes: Sequence[str]) -> np.ndarray:
        """Stored vectors of ``hashes``, in order (as float32 rows)."""
        dimension = int(self.meta().get("dimension", 0))
        found = self.cached_vectors(hashes, dimension)
        return np.stack([found[h] for h in hashes]) if len(hashes) else np.zeros((0, dimension), np.float32)

    def _insert(self, table: str, columns: Sequence[str], rows: list[tuple]) -> None:
        if rows:
            marks = ", ".join("?" * len(columns))
            self.db.conn.executemany(
                f"INSERT OR IGNORE INTO {quote(table)} ({', '.join(map(quote, columns))}) VALUES ({marks})",
                rows)

    # -- reads for reports ------------------------------------------------------------------------
    def logged_sources(self) -> list[str]:
        """Every log file a run has scored (``runs.sources``), as the runs wrote them."""
        found: dict[str, None] = {}
        for (sources,) in self.db.execute("SELECT sources FROM runs WHERE sources IS NOT NULL"):
            try:
                found.update(dict.fromkeys(str(p) for p in json.loads(sources)))
            except (ValueError, TypeError):
                continue
        return list(found)

    def top_novel(self, run_id: int, limit: int = 5) -> list[dict]:
        """The run's most novel distinct texts (a question asked 40 times is one line, not the top 5)."""
        return [{k: r[k] for k in ("text", "similarity", "nearest_label", "predicted_label")} for r in self.db.query(
            "SELECT text, similarity, nearest_label, predicted_label, MAX(novelty) AS most FROM scores "
            "WHERE run_id = ? AND is_novel = 1 GROUP BY lower(text) ORDER BY most DESC LIMIT ?", [run_id, limit])]

    def clusters_of(self, prompt_ids: Iterable[str]) -> set[str]:
        """The clusters the given prompts are members of."""
        return set(self.cluster_of(prompt_ids).values())

    def cluster_of(self, prompt_ids: Iterable[str]) -> dict[str, str]:
        """The cluster each of the given prompts is a member of (those in none left out)."""
        found: dict[str, str] = {}
        for part in _chunks(list(prompt_ids), _IN_CHUNK):
            found.update(self.db.execute(
                f"SELECT prompt_id, cluster_id FROM cluster_members WHERE prompt_id IN ({','.join('?' * len(part))})",
                part).fetchall())
        return found

    def embeddings_for(self, prompt_ids: Iterable[str]) -> dict[str, np.ndarray]:
        """Stored vectors of scored prompts (for clustering and the queue)."""
        out: dict[str, np.ndarray] = {}
        for part in _chunks(list(prompt_ids), _IN_CHUNK):
            marks = ",".join("?" * len(part))
            for pid, blob in self.db.execute(
                    f"SELECT s.prompt_id, e.vector FROM scores s JOIN embeddings e USING (text_hash) "
                    f"WHERE s.prompt_id IN ({marks})", part):
                out[pid] = np.frombuffer(blob, dtype=np.float16).astype(np.float32)
        return out


STALE_RUN_HOURS = 6  # a run that stored nothing for this long is gone, whatever host it ran on (a chunk takes seconds)


def _process(params: str | None) -> dict:
    try:
        process = json.loads(params or "{}").get("process")
    except (ValueError, AttributeError):
        return {}
    return process if isinstance(process, dict) else {}


def _dead_here(process: dict, host: str) -> bool:
    """True when ``process`` ran on this host and is no longer alive (a run on another host: unknown)."""
    pid = process.get("pid")
    if process.get("host") != host or not isinstance(pid, int):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # alive, owned by someone else
        return False
    return False


def reject_key(source: str, line: int, raw: str) -> str:
    """A reject's id: its file, line and row as stored, so a rerun sets the same row aside once, and
    another row at that line (a log rotated under the same name) is kept beside it."""
    return hashlib.blake2b(f"{source}\x1f{line}\x1f{raw}".encode("utf-8", "replace"), digest_size=10).hexdigest()


def reject_row(run_id: int | None, source: str, line: int, reason: str, raw: str) -> dict:
    if len(raw) > MAX_RAW_CHARS:
        raw = f"{raw[:MAX_RAW_CHARS]}... [{len(raw):,} characters, cut at {MAX_RAW_CHARS:,}]"
    return {"reject_id": reject_key(source, line, raw), "run_id": run_id, "source": source, "line": line,
            "reason": reason, "raw": raw, "rejected_at": utc_now()}


def _holds(raw: str, text: str) -> bool:
    """Whether a rejected line ``raw`` holds the prompt ``text`` (as written, JSON- or CSV-escaped), or
    ends with the start of it (a line half-written when read)."""
    text = text.strip()
    if not text:
        return False
    for form in dict.fromkeys((text, json.dumps(text)[1:-1], text.replace('"', '""'))):
        start = form[:12]
        if start in raw or any(raw.endswith(start[:k]) for k in range(4, len(start))):
            return True
    return False


def quote(name: str) -> str:
    """An SQL identifier, double-quoted: a column or table name can never end the statement.

    >>> quote('prompt'), quote('x"); DROP TABLE scores; --')
    ('"prompt"', '"x""); DROP TABLE scores; --"')
    """
    return '"' + str(name).replace('"', '""') + '"'


def _retry(attempt: Callable[[], T]) -> T:
    """``attempt()``, again with backoff while SQLite says the file is locked or busy."""
    for tries in range(_RETRIES):
        try:
            return attempt()
        except sqlite3.OperationalError as exc:
            if not _is_busy(exc) or tries == _RETRIES - 1:
                raise
            time.sleep(min(2.0, 0.05 * 2 ** tries) * (0.5 + random.random()))
    raise AssertionError("unreachable")


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    return any(word in str(exc).lower() for word in ("locked", "busy"))


def may_write(path: Path) -> bool:
    """Whether this user may write ``path`` and make files beside it (SQLite's -wal and -shm)."""
    return os.access(path, os.W_OK) and os.access(path.resolve().parent, os.W_OK)


def _read_only(path: Path) -> sqlite3.Connection:
    """A read-only connection that makes no file beside ``path``: immutable while no -wal file with
    changes in it says a writer is at work or was (its -shm is then there to share), else SQLite's
    read-only mode.

    A -wal with changes and no -shm (a database copied with its -wal, ``cp monitor.db*``; a live writer
    always has both) can only be read by making the -shm: in a folder this user may not write that
    failed as 'cannot write ... (unable to open database file)', and in a shared (sticky) folder of
    another user's it made a -shm the owner could then not write (QA). Made only in a folder of this
    user's own; elsewhere an InputError says what to do."""
    from urllib.parse import quote

    wal, shm = Path(f"{path}-wal"), Path(f"{path}-shm")
    changes = wal.exists() and (shm.exists() or wal.stat().st_size > 0)  # an empty -wal holds nothing to read
    if changes and not shm.exists():
        folder = path.resolve().parent
        if not (os.access(folder, os.W_OK) and folder.stat().st_uid == os.geteuid()):
            raise InputError(f"{path}: its {wal.name} file holds changes not yet in the database file, and reading "
                             f"them needs a {shm.name} file beside it, which this user may not make in {folder} "
                             "(another user's folder): have its owner run any novelty command on it once (the "
                             f"changes then go into the database), or copy {path.name} and {wal.name} together into "
                             "a folder of your own")
    return sqlite3.connect(f"file:{quote(str(path.resolve()))}?{'mode=ro' if changes else 'immutable=1'}", uri=True)


def is_read_only(exc: sqlite3.OperationalError) -> bool:
    """SQLite's 'attempt to write a readonly database': a file (or folder) the user may only read."""
    return any(word in str(exc).lower() for word in ("readonly", "read-only"))


FULL_DISK_HINT = ("free some disk space (SQLite's temporary files go to SQLITE_TMPDIR, else /var/tmp or /tmp), "
                  "then run the same command again")


def storage_error(path: Path, exc: sqlite3.OperationalError, read_only: bool = False) -> StorageError:
    """A StorageError saying what to do about ``exc`` (full, locked, refused); ``read_only``: the file
    was opened read-only, as this user may not write it or its folder."""
    text = str(exc)
    if read_only and is_read_only(exc):
        folder = path.resolve().parent
        whose = "the file" if not os.access(path, os.W_OK) else \
            f"its folder {folder}" if not os.access(folder, os.W_OK) else "the file or its folder"
        hint = (f"this user may not write {whose} (SQLite makes -wal and -shm files beside the database), so it "
                "was opened read-only; run as a user who may, or on a copy")
    elif "full" in text.lower():
        # what committed stays, whatever the command (a score run's finished chunks); said for all, as the
        # hint was "finished chunks are kept" for spikes, queue and prune too, which have none
        hint = f"{FULL_DISK_HINT}; what was committed before stays (a score run's finished chunks)"
    elif _is_busy(exc):
        hint = (f"another process held it for more than {BUSY_TIMEOUT_MS // 1000} s, several times (another "
                "novelty command on the same database?); try again when it is done")
    elif "disk i/o" in text.lower():  # what SQLite says of a disk with no byte left (for its -shm file)
        hint = ("check the disk: a disk with no free space left makes SQLite say this; free some (or check the "
                "file's permissions and the device), then run the same command again")
    else:
        hint = "check the file's permissions and the disk, then run the same command again"
    return StorageError(f"cannot write {path} ({text}): {hint}. Nothing half-written was kept.", _is_busy(exc))


def params_json(params: dict) -> str:
    """Run parameters as JSON: a set as a sorted list (it was its Python repr, "frozenset({'id'})")."""
    return json.dumps(params, sort_keys=True,
                      default=lambda v: sorted(map(str, v)) if isinstance(v, (set, frozenset)) else str(v))


def _chunks(items: list, size: int):
    for start in range(0, len(items), size):
        yield items[start:start + size]
