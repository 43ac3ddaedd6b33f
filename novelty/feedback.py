"""Continuous evaluation: true labels joined to scored prompts, online accuracy, and the offline gap.

Labels arrive late (days after the prompt), partially (a sample of the traffic) and repeatedly (a
reviewer corrects an earlier label). The ``feedback`` table keeps one label per ``prompt_id``:
re-importing a file changes nothing; a newer label replaces an older one (newest ``labelled_at``: the
time the file gives for the label, else the time the file was last written, or first imported when
the same bytes came before (``label_files``), so importing an older file again, even a fresh copy of
it, never undoes a newer file's corrections); and a label whose prompt is not
scored yet is kept and counted, so it joins when that prompt's log is scored.

Online accuracy is the share of labelled prompts whose logged ``predicted_label`` equals the true
label, per window with a Wilson interval, split into novel and known prompts; the confusion of novel
prompts shows which labels the model forced them into. The offline/online gap compares it with the
golden-set accuracy by a one-sided two-proportion test (and Fisher's exact test on few errors), and a
significant gap of at least ``min_gap`` becomes an ``offline_online_gap`` incident that ``diagnose``
turns into a cause.

Ids and labels are read as text (``00123`` stays ``00123``). A row that cannot be used (more fields
than the header, invalid JSON, bytes that are not UTF-8, an unreadable time) is set aside, counted
by reason and kept in the ``rejects`` table; the rest of the file is imported. Only a file that cannot be read at all is an error.
"""

from __future__ import annotations

import glob
import json
import math
import os
import re
import sqlite3
import tempfile
import warnings
import zlib
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator, NamedTuple

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from scipy.stats import binomtest, fisher_exact, norm

from .errors import InputError, check_argument
from .redact import redact as redact_text
from .render import one_line
from .logs import (Unparsed, as_paths, canonical_id, check_file, csv_table, detect_format, field_separator,
                   format_time, is_na_label, is_utf8, jsonl_lines, label_form, numbered_rows, open_text, parquet_source,
                   reason_kind, repeated_columns, same_label, spelling, time_bounds, time_problem)
from .spikes import Incident, parse_range, window_offset, window_seconds
from .stats import wilson_interval
from .store import GROUPED_LABELS, REJECT_COLUMNS, Store, existing_db, reject_row, storage_error, utc_now

GAP_KIND = "offline_online_gap"


@dataclass(frozen=True)
class FeedbackImport:
    source: str
    rows: int            # ids with a label (an id on several rows counts once: its newest, else last, label)
    new: int             # prompts labelled for the first time
    changed: int         # a different label replaced an older one
    unchanged: int       # the same label again (re-imports, duplicates)
    stale: int           # older than the label already stored (with a time column): ignored
    unknown_ids: int     # not scored (yet): kept, they join when the prompt is scored
    blank: int           # rows without an id or a label: skipped
    rejected: int = 0    # rows set aside: malformed line, invalid JSON or UTF-8, unreadable time
    reject_reasons: list[dict] = field(default_factory=list)  # reason, rows, example; most common first
    conflicting: int = 0  # ids the file gives two labels at the same time (no time column: any two): the last kept
    read: int = 0        # rows read: rows (one per id) + repeated + blank + rejected
    repeated: int = 0    # rows of an id given on an earlier row of the file (its newest, else last, label kept)
    id_examples: dict | None = None  # no id scored: {"file": [...], "scored": [...]}, to see how they differ
    same_as: dict | None = None  # the same bytes were imported before: {"source", "written"}, the time its labels got

    def to_dict(self) -> dict:
        """As ``--json`` prints it."""
        return asdict(self)


@dataclass(frozen=True)
class Accuracy:
    labelled: int
    correct: int
    accuracy: float | None
    ci_low: float
    ci_high: float

    @classmethod
    def of(cls, correct: int, labelled: int) -> "Accuracy":
        low, high = wilson_interval(correct, labelled)
        return cls(labelled, correct, correct / labelled if labelled else None, low, high)


@dataclass(frozen=True)
class OnlineWindow:
    window_start: str
    window_end: str
    prompts: int
    all: Accuracy
    novel: Accuracy
    known: Accuracy


@dataclass(frozen=True)
class OnlineReport:
    window: str
    since: str | None
    until: str | None
    windows: list[OnlineWindow]
    total: OnlineWindow
    novel_confusion: list[dict] = field(default_factory=list)  # true label, predicted label, count
    feedback_rows: int = 0
    unmatched: int = 0  # labels whose prompt is not scored
    unjudged: int = 0   # labels whose prompt was scored without a predicted label or a time: no accuracy
    pruned_before: str | None = None  # prune deleted the prompts before it: their labels never match again
    case_only: list[dict] = field(default_factory=list)  # true labels that meet a prediction only with case ignored

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Gap:
    golden_accuracy: float
    golden_items: int            # 0: taken as exact
    online: Accuracy
    gap: float                   # golden minus online
    p_value: float
    significant: bool
    period_start: str
    period_end: str

    def to_dict(self) -> dict:
        return asdict(self)


# -- import -----------------------------------------------------------------------------------------
CHUNK_ROWS = 100_000  # rows read, checked and staged at a time: memory follows the chunk, not the file

_STAGE = """
CREATE TABLE IF NOT EXISTS staging.labels (prompt_id TEXT PRIMARY KEY, label TEXT NOT NULL, labelled_at TEXT NOT NULL,
                                           conflicts INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS staging.rejects AS SELECT * FROM main.rejects WHERE 0;
DELETE FROM staging.labels;
DELETE FROM staging.rejects;
"""
# Times compare without their 'Z', so a fraction of a second counts ('...00.5Z' sorts before '...00Z' as text).
# Within one file the newest row of an id wins, else the last (a row without a time is as old as the file);
# two labels of one id at the same time are a conflict, counted (the last kept). The right-hand sides
# all read the row as it was before the update.
_NEWER = "rtrim(excluded.labelled_at, 'Z') >= rtrim(labels.labelled_at, 'Z')"
_STAGE_LABEL = ("INSERT INTO staging.labels VALUES (?,?,?,0) ON CONFLICT(prompt_id) DO UPDATE SET "
                "conflicts = CASE WHEN rtrim(excluded.labelled_at, 'Z') > rtrim(labels.labelled_at, 'Z') THEN 0 "
                "ELSE conflicts + (excluded.label != labels.label AND "
                "rtrim(excluded.labelled_at, 'Z') = rtrim(labels.labelled_at, 'Z')) END, "  # a newer label settles it
                f"label = CASE WHEN {_NEWER} THEN excluded.label ELSE labels.label END, "
                f"labelled_at = CASE WHEN {_NEWER} THEN excluded.labelled_at ELSE labels.labelled_at END")
# a stored label newer than the file's is kept ('stale'); the rest is new, unchanged or changed. Labels of
# one time (two files written in the same second, timed by their mtime) go by the file's name, then its
# path, the later winning (2026-11-21.csv over 2026-11-20.csv, 2026-11-21/labels.csv over 2026-11-20/...),
# whatever folder a name was typed from: a rerun of the older file undid the newer's fixes
_SOURCE = "replace(coalesce(f.source, ''), '\\', '/')"
_NAME = f"replace({_SOURCE}, rtrim({_SOURCE}, replace({_SOURCE}, '/', '')), '')"  # what follows the last '/'
_COMPARED = f"""
WITH compared AS (
    SELECT s.prompt_id, s.label, s.labelled_at, f.prompt_id IS NULL AS new,
           coalesce(f.labelled_at, '') != '' AND (rtrim(s.labelled_at, 'Z') < rtrim(f.labelled_at, 'Z')
           OR (rtrim(s.labelled_at, 'Z') = rtrim(f.labelled_at, 'Z') AND (:name, :path) < ({_NAME}, {_SOURCE}))) AS stale,
           f.label = s.label AS same,
           rtrim(s.labelled_at, 'Z') > rtrim(coalesce(f.labelled_at, ''), 'Z') AS later
    FROM staging.labels s LEFT JOIN main.feedback f USING (prompt_id))
"""


def import_feedback(db: str | Path, path: str | Path, id_col: str = "prompt_id", label_col: str = "label",
                    time_col: str | None = None, settings: str = "--id-col, --label-col, --time-col",
                    day_first: bool = False) -> FeedbackImport:
    """Upsert the true labels of ``path`` (CSV, JSONL or Parquet) into the ``feedback`` table.

    Rows that cannot be used are set aside and counted by reason (``rejected``, ``reject_reasons``),
    and kept in the ``rejects`` table with their line and text (``run_id`` empty; re-importing the
    file replaces them). Only a file that cannot be read at all, or lacks a column, raises ``InputError``
    (``settings`` names what the user sets to fix a column: the CLI's flags, or monitor.toml's keys).
    The file is read ``CHUNK_ROWS`` rows at a time into a scratch database beside ``db`` (on its disk,
    not in a small /tmp; deleted after) and written to ``feedback`` in one transaction at the end: a
    file of millions of labels needs the memory of one chunk, and ``db`` is not locked while it is read.
    A label time more than a day ahead of now is set aside: it would outrank every later correction.
    ``day_first`` reads 03/06/2026 as 3 June, as ``score --day-first`` does.
    """
    check_argument("path", path, (str, Path), "one label file's path (import_files takes several)")  # was: TypeError
    path = check_file(path, "the label files inside it")  # before its time is read: an InputError, as the rest
    twice = [c for c in repeated_columns(path) if c in (id_col, label_col, time_col)]
    if twice:  # a CSV's second 'label' was read as 'label.1', and the first taken without a word
        raise InputError(f"{path}: more than one column is called {' and '.join(map(repr, twice))}; "
                         "keep one of each")
    existing_db(db)  # a mistyped db started a database of labels alone, and said "kept" (as the CLI refuses)
    store = Store(db)
    staging = None
    try:
        conn = store.db.conn
        intents = store.na_like_intents()  # a 'None' intent's true labels are labels, not gaps
        redacted = store.redacted()  # as score stored its own rejected rows
        if store.read_only:  # its folder too, maybe: the scratch file beside it failed, named (QA), not the db
            raise storage_error(Path(db), sqlite3.OperationalError("attempt to write a readonly database"), True)
        staging = _scratch(Path(db))
        conn.execute("ATTACH DATABASE ? AS staging", [str(staging)])
        conn.execute("PRAGMA staging.journal_mode = OFF")  # scratch: nothing to roll back to
        conn.execute("PRAGMA staging.synchronous = OFF")
        digest = _digest(path)  # the same content imported before keeps that time: a copy, or the file
        seen = conn.execute("SELECT written, source FROM label_files WHERE sha256 = ?", [digest]).fetchone()
        written = _file_time(path)
        same_as = None
        if seen and seen[0] < written:  # downloaded again, must not pass for a newer one: said
            written, same_as = seen[0], {"source": seen[1], "written": seen[0]}
        try:
            columns, blank, reasons, staged = _stage(conn, path, id_col, label_col, time_col, written, day_first,
                                                     intents=intents, redact=redacted)
        except _Reread:  # a line the fast CSV reader cannot place: start over, line by line
            columns, blank, reasons, staged = _stage(conn, path, id_col, label_col, time_col, written, day_first,
                                                     careful=True, intents=intents, redact=redacted)
        missing = [c for c in (id_col, label_col, time_col) if c and c not in columns]
        if missing:
            unread = f"; {reasons.total:,} rows could not be read ({reasons.first})" if reasons.total else ""
            raise InputError(f"{path}: no column(s) {', '.join(map(repr, missing))}; columns: "
                             f"{', '.join(_printable(c) for c in columns) or 'none'}{unread} "
                             f"(use {settings})")
        stamps = {"source": str(path), "name": path.name, "path": str(path).replace("\\", "/"), "now": utc_now()}

        def write() -> tuple:  # this file's rejects from an earlier import go: the file may have been mended
            conn.execute("INSERT INTO label_files VALUES (?,?,?,?) ON CONFLICT(sha256) DO UPDATE SET "
                         "written = min(written, excluded.written)", [digest, written, str(path), stamps["now"]])
            conn.executemany("DELETE FROM rejects WHERE run_id IS NULL AND source = ?",  # as typed before they
                             [(str(path),), (_where(path),)])  # were stored by their absolute path
            conn.execute("INSERT OR REPLACE INTO main.rejects SELECT * FROM staging.rejects")
            counts = conn.execute(
                f"{_COMPARED} SELECT count(*), total(new), total(NOT new AND stale AND NOT same), "  # the same label,
                "total(NOT new AND same), total(NOT new AND NOT stale AND NOT same) FROM compared",  # older: unchanged
                stamps).fetchone()
            conn.execute(  # the same label given again later moves its time on: an older file's other
                # label imported next must not replace it (which label stood then hung on the files' order)
                f"{_COMPARED} INSERT INTO feedback SELECT prompt_id, label, labelled_at, :source, :now FROM compared "
                "WHERE new OR NOT (stale OR (same AND NOT later)) ON CONFLICT(prompt_id) DO UPDATE SET label = excluded.label, "
                "labelled_at = excluded.labelled_at, source = excluded.source, imported_at = excluded.imported_at",
                stamps)
            (unknown,) = conn.execute("SELECT count(*) FROM staging.labels WHERE prompt_id NOT IN "
                                      "(SELECT prompt_id FROM main.scores)").fetchone()
            (conflicting,) = conn.execute("SELECT count(*) FROM staging.labels WHERE conflicts > 0").fetchone()
            return (*map(int, counts), unknown, conflicting)
        rows, new, stale, unchanged, changed, unknown, conflicting = store.transaction(write)
        examples = _id_examples(conn) if rows and unknown == rows else None
    finally:
        store.close()
        if staging is not None:
            staging.unlink(missing_ok=True)
    return FeedbackImport(str(path), rows, new, changed, unchanged, stale, unknown, blank, reasons.total,
                          reasons.listed(), conflicting, staged + blank + reasons.total, staged - rows, examples,
                          same_as)


def _id_examples(conn) -> dict | None:
    """A few of the file's ids beside a few scored ones, when none of the file's is scored: a database
    scored without --id-col holds derived ids, or the ids were written another way. None with no scores."""
    scored = [r[0] for r in conn.execute("SELECT prompt_id FROM main.scores ORDER BY ts DESC LIMIT 3")]
    if not scored:
        return None
    given = [r[0] for r in conn.execute("SELECT prompt_id FROM staging.labels LIMIT 3")]
    return {"file": given, "scored": scored}


def _where(path: Path) -> str:
    """A label file's absolute path, as its rejects are stored: re-importing it typed another way (a.csv
    from inside its folder, then f/a.csv) replaces them rather than adding them again (QA: 12 for 4)."""
    return os.path.abspath(path)


def _scratch(db: Path) -> Path:
    """A new empty file beside ``db`` for the staging database (SQLite's own temporary files go to
    /tmp, which a container may keep small: a 2 MB tmpfs failed a 200,000-label import). Its name holds
    the process id, so the next import removes the scratch files of imports that were killed."""
    folder, prefix = db.resolve().parent, f".{db.name}-feedback-"
    for stale in folder.glob(f"{glob.escape(prefix)}*.tmp"):
        pid = stale.name[len(prefix):].split("-", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            stale.unlink(missing_ok=True)
    handle, name = tempfile.mkstemp(dir=folder, prefix=f"{prefix}{os.getpid()}-", suffix=".tmp")
    os.close(handle)
    return Path(name)


def _alive(pid: int) -> bool:
    """Whether process ``pid`` runs on this machine (one we may not signal runs too). On Windows
    ``os.kill`` would end the process: every pid counts as alive there."""
    if os.name == "nt":
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def _stage(conn, path: Path, id_col: str, label_col: str, time_col: str | None, written: str,
           day_first: bool = False, careful: bool = False, intents: frozenset[str] = frozenset(),
           redact: bool = False) -> tuple[dict[str, None], int, "_Reasons", int]:
    """The file's labels and rejects into the staging database, a chunk at a time; its columns, its
    rows without id or label, the reasons rows were set aside, and the rows staged (an id repeated
    counts each time). ``redact``: rejected rows are kept, counted and shown redacted."""
    conn.executescript(_STAGE)
    columns: dict[str, None] = {}
    blank, reasons, staged = 0, _Reasons(), 0
    latest = _ahead(written)
    for frame, lines, rejects in _label_chunks(path, careful=careful):
        columns.update(dict.fromkeys(map(str, frame.columns)))  # a column named twice: refused before
        if all(c in frame.columns for c in (id_col, label_col)):  # a JSONL chunk may lack one: blank rows
            rows, chunk_blank, bad_rows = _rows(frame, lines, id_col, label_col,
                                                time_col if time_col in frame.columns else None, written,
                                                day_first, latest, intents)
            rejects += bad_rows
        else:
            rows, chunk_blank = [], len(frame)
        blank += chunk_blank
        staged += len(rows)
        if redact:
            rejects = [r._replace(raw=redact_text(r.raw), reason=redact_text(r.reason)) for r in rejects]
        reasons.add(rejects)
        with conn:  # the staging database only: the database itself is not locked while the file is read
            conn.executemany(_STAGE_LABEL, rows)
            conn.executemany(f"INSERT INTO staging.rejects VALUES ({','.join('?' * len(REJECT_COLUMNS))})",
                             [tuple(reject_row(None, _where(path), r.line, r.reason, _storable(r.raw)).values())
                              for r in rejects])
    return columns, blank, reasons, staged


def _ahead(written: str) -> str:
    """The latest label time taken: a day after now (clocks and time zones differ), or after the file's
    own time when that is later (a file written with a clock ahead)."""
    now = datetime.now(timezone.utc) + pd.Timedelta(days=1)
    return max(now.strftime("%Y-%m-%dT%H:%M:%SZ"), written)


def _digest(path: Path) -> str:
    """SHA-256 of the file's bytes, read a megabyte at a time."""
    import hashlib

    sha = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            sha.update(block)
    return sha.hexdigest()


def _file_time(path: Path) -> str:
    """When a file was last written (UTC): the time of its labels that carry none. So an older label
    file imported again (a re-run, a backfill) never undoes the corrections a newer one made."""
    return datetime.fromtimestamp(path.stat().st_mtime, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def import_files(db: str | Path, paths, id_col: str = "prompt_id", label_col: str = "label",
                 time_col: str | None = None, settings: str = "--id-col, --label-col, --time-col",
                 day_first: bool = False) -> tuple[list[FeedbackImport], list[tuple[str, str]]]:
    """``import_feedback`` for each file; a file that cannot be read (empty, no such column) is
    returned with its error instead of stopping the others: one bad file in a day's folder must not
    keep the good ones' labels out. A database that is not there is an InputError for them all."""
    existing_db(db)
    imported, failed = [], []
    for path in as_paths(paths):
        try:
            imported.append(import_feedback(db, path, id_col, label_col, time_col, settings, day_first))
        except InputError as exc:
            failed.append((str(path), str(exc)))
    return imported, failed


# -- reading --------------------------------------------------------------------------------------------
class Reject(NamedTuple):
    """A row set aside: where it starts in the file (a CSV or JSONL line, a Parquet row), why, and its text."""
    line: int
    reason: str
    raw: str


class _Chunk(NamedTuple):
    frame: pd.DataFrame  # text as read (ids keep their leading zeros)
    lines: list[int]     # the line (Parquet: row) each of the frame's rows starts on
    rejects: list[Reject]


class _Reread(Exception):
    """The fast CSV reader met a line it cannot place: the file is read again, line by line."""


def _label_chunks(path: Path, size: int = 0, careful: bool = False) -> Iterator[_Chunk]:
    """The file ``size`` rows at a time (``CHUNK_ROWS`` by default), the rows set aside while reading
    beside each chunk; at least one chunk, so an empty file still gives its columns. A CSV is read by
    pandas' C parser unless ``careful`` (the csv module, line by line), which raises ``_Reread``
    where it would misplace a line."""
    size = size or CHUNK_ROWS
    kind = detect_format(path)
    try:
        if kind == "parquet":
            yield from _parquet_chunks(path, size)
        elif kind == "jsonl":
            yield from _jsonl_chunks(path, size)
        else:
            yield from (_csv_lines if careful else _csv_chunks)(path, field_separator(path), size)
    except UnicodeError:  # the rows are decoded leniently, so only column names can fail
        raise InputError(f"{path}: its header row is not valid UTF-8; save the file as UTF-8") from None
    except (ValueError, OSError, EOFError, zlib.error, pa.ArrowException) as exc:
        raise InputError(f"{path}: cannot read it as a table ({_printable(str(exc).strip(), 200)})") from None


def _parquet_chunks(path: Path, size: int) -> Iterator[_Chunk]:
    table = pq.ParquetFile(parquet_source(path))  # gzipped too, as score reads it
    done = 0
    for batch in table.iter_batches(batch_size=size):
        frame = batch.to_pandas(integer_object_nulls=True)  # an int64 id with a null stays exact, not float
        yield _Chunk(frame, list(range(done + 1, done + len(frame) + 1)), [])
        done += len(frame)
    if not done:
        yield _Chunk(table.schema_arrow.empty_table().to_pandas(), [], [])


def _csv_chunks(path: Path, sep: str, size: int) -> Iterator[_Chunk]:
    """pandas' C parser, ``size`` rows at a time; ``_Reread`` on a line with more fields than the
    header, or when rows and lines do not match one to one (blank lines, which pandas skips, or quoted
    line breaks), where the line numbers it gives would be wrong. A file of only a header gives one
    empty chunk."""
    done = 0
    with pd.read_csv(path, sep=sep, dtype=object, keep_default_na=False, na_values=[""], index_col=False,
                     encoding="utf-8", encoding_errors="surrogateescape", chunksize=size) as reader:
        while True:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("error", pd.errors.ParserWarning)
                    frame = next(reader)
            except StopIteration:
                break
            except (pd.errors.ParserError, pd.errors.ParserWarning):
                raise _Reread from None
            frame.columns = [str(c).strip() for c in frame.columns]  # ' label ': as the careful reader reads it
            yield _Chunk(frame, list(range(done + 2, done + len(frame) + 2)), [])  # the header is line 1
            done += len(frame)
    with open_text(path) as fh:
        if sum(1 for _ in fh) != done + 1:
            raise _Reread


def _csv_lines(path: Path, sep: str, size: int) -> Iterator[_Chunk]:
    """Rows with more fields than the header are set aside (pandas would fail, or shift the columns of
    a first line that is too long); a short row is padded (a missing label counts as blank)."""
    with open_text(path) as fh:
        header, source = csv_table(fh, sep, path)
        names, seen = [], Counter()
        for column in header:  # duplicate names as pandas makes them: a, a.1
            names.append(f"{column}.{seen[column]}" if seen[column] else column)
            seen[column] += 1
        rows, lines, rejects = [], [], []
        for start, row, raw in numbered_rows(source, sep):
            if isinstance(row, str):
                rejects.append(Reject(start, row, raw))
            elif len(row) > len(header):
                rejects.append(Reject(start, f"expected {len(header)} fields, got {len(row)}", raw))
            else:
                rows.append(row + [None] * (len(header) - len(row)))
                lines.append(start)
            if len(rows) + len(rejects) >= size:  # rows set aside count: memory follows the chunk
                yield _Chunk(pd.DataFrame(rows, columns=names, dtype=object), lines, rejects)
                rows, lines, rejects = [], [], []
        yield _Chunk(pd.DataFrame(rows, columns=names, dtype=object), lines, rejects)


def _jsonl_chunks(path: Path, size: int) -> Iterator[_Chunk]:
    """One JSON object a line, read as is (a string id stays a string), through the reader score uses;
    bad lines are set aside."""
    records, lines, rejects = [], [], []
    for number, record, raw in jsonl_lines(path):
        if isinstance(record, Unparsed):
            rejects.append(Reject(number, record.reason, raw))
        elif not isinstance(record, dict):
            rejects.append(Reject(number, "row is not a JSON object", raw))
        elif not all(is_utf8(str(key)) for key in record):
            rejects.append(Reject(number, "not valid UTF-8", raw))
        else:
            records.append(record)
            lines.append(number)
        if len(records) + len(rejects) >= size:  # rows set aside count: memory follows the chunk
            yield _Chunk(pd.DataFrame(records, dtype=object), lines, rejects)
            records, lines, rejects = [], [], []
    yield _Chunk(pd.DataFrame(records, dtype=object), lines, rejects)


def _rows(frame, lines: list[int], id_col: str, label_col: str, time_col: str | None, written: str,
          day_first: bool = False, latest: str = "9999", intents: frozenset[str] = frozenset()
          ) -> tuple[list[tuple[str, str, str]], int, list[Reject]]:
    """(prompt_id, label, labelled_at) of each row, in file order, a row without a time being as old
    as its file (``written``); the rows without id or label, and the rows set aside (a time after
    ``latest`` among them)."""
    out: list[tuple[str, str, str]] = []
    blank, rejects = 0, []
    times = frame[time_col] if time_col else [None] * len(frame)
    labels = [None if isinstance(v, str) and is_na_label(v, intents) else _whole_number(v)
              for v in frame[label_col]]
    for position, (line, pid, label, stamp) in enumerate(zip(lines, frame[id_col], labels, times)):
        if _blank(pid) or _blank(label):
            blank += 1
            continue
        if not (_scalar(pid) and _scalar(label)):
            rejects.append(Reject(line, "id or label is not text or a number", _fields(frame, position)))
            continue
        pid, label = canonical_id(_text(pid)), _text(label)  # the id as `score` stores it
        if not is_utf8(f"{pid}{label}{stamp if isinstance(stamp, str) else ''}"):
            rejects.append(Reject(line, "not valid UTF-8", _fields(frame, position)))
            continue
        label = label_form(label).strip()  # as score stores the predictions: 'café' typed either way is one label
        if not label:
            blank += 1
            continue
        if "\n" in label or "\r" in label:  # a quote left open swallows the lines after it into one label
            rejects.append(Reject(line, "label with a line break (an unclosed quote?)", _fields(frame, position)))
            continue
        when = written
        if time_col and not _blank(stamp):
            when = format_time(stamp, day_first)
            if when is None:
                reason = time_problem(stamp, time_col, day_first, "so import the file again with it",
                                      "feedback.day_first")
                rejects.append(Reject(line, reason, _fields(frame, position)))
                continue
            if when > latest:  # a mistyped year would outrank every later correction of the label
                rejects.append(Reject(line, f"label time in {time_col!r} after tomorrow (a mistyped year, or "
                                      "seconds taken for milliseconds?)", _fields(frame, position)))
                continue
        out.append((pid, label, when))
    return out, blank, rejects


def _fields(frame: pd.DataFrame, position: int) -> str:
    """A row set aside, every field as read in the file's column order (was its id and label alone: the
    time, and any other column, were lost from ``rejects.raw``)."""
    return ", ".join("" if not isinstance(v, str) and _blank(v) else str(v) for v in frame.iloc[position])


_WHOLE = re.compile(r"-?\d+(\.0+)?")


def _whole_number(value):
    """A whole number written as a float ('12.0', as pandas writes a column with gaps) as '12', each
    value on its own (a file read in chunks must not depend on its other rows); leading zeros stay.

    >>> [_whole_number(v) for v in ("12.0", None, "7", "007.0", "1.5", "a")]
    ['12', None, '7', '007', '1.5', 'a']
    """
    return canonical_id(value) if isinstance(value, str) and _WHOLE.fullmatch(value.strip()) else value


def _blank(value) -> bool:
    if isinstance(value, str):  # the common case first: this runs twice a row
        return not value.strip()
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    return False


def _scalar(value) -> bool:
    """Text or a number, not a list, an object or an array (JSON and Parquet can hold those)."""
    return isinstance(value, (str, bytes)) or not hasattr(value, "__len__")


def _text(value) -> str:
    """An id or label as text (a number stays '12', not '12.0')."""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="surrogateescape").strip()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _printable(text: str, limit: int = 80) -> str:
    """A label file's text for a message: on one line, its control characters shown as [U+001B] (a
    label's escape sequence or carriage return wrote over the terminal's lines: QA)."""
    text = one_line(_storable(text))
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _storable(text: str) -> str:
    """Bytes that were not UTF-8 (read as surrogates) written as \\xff escapes."""
    try:
        return text.encode("utf-8", errors="surrogateescape").decode("utf-8", errors="backslashreplace")
    except UnicodeEncodeError:  # a lone surrogate that stands for no byte, e.g. from JSON's "\\ud800"
        return text.encode("utf-8", errors="backslashreplace").decode("utf-8")


class _Reasons:
    """Rows set aside, counted by reason with the first example of each, most common first; reasons
    that quote a value count as one (``reason_kind``)."""

    def __init__(self) -> None:
        self.counts: Counter = Counter()
        self.examples: dict[str, str] = {}

    def add(self, rejects: list[Reject]) -> None:
        for reject in rejects:
            kind = reason_kind(reject.reason)
            self.counts[kind] += 1
            self.examples.setdefault(kind, _printable(reject.raw))

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def first(self) -> str:
        return next(iter(self.counts), "")

    def listed(self) -> list[dict]:
        return [{"reason": r, "rows": n, "example": self.examples[r]} for r, n in self.counts.most_common()]


# -- online accuracy ----------------------------------------------------------------------------------
def online_accuracy(db: str | Path, window: str = "1d", since: str | None = None,
                    until: str | None = None) -> OnlineReport:
    """Accuracy of the logged predictions on labelled prompts, per window (by the prompt's time)."""
    existing_db(db)
    size = window_seconds(window)
    offset = window_offset(size)  # weeks start on Monday, as spikes' do
    store = Store(db)
    try:
        where, args = _range(since, until)
        # counted as they stream in (window, novel, predicted, true) groups, the right answers of a window in
        # one group: a few thousand where the labelled prompts are millions (a GROUP BY sorts: 50 % slower)
        groups = Counter(store.db.execute(
            f"SELECT (CAST(strftime('%s', s.ts) AS INTEGER) + ?) / ? AS bucket, s.is_novel, "
            f"{', '.join(GROUPED_LABELS)} FROM feedback f JOIN scores s USING (prompt_id) WHERE s.ts IS NOT NULL "
            f"AND s.predicted_label IS NOT NULL {where}", [offset, size, *args]))
        prompts = Counter(dict(store.db.execute(
            f"SELECT (CAST(strftime('%s', ts) AS INTEGER) + ?) / ? AS bucket, COUNT(*) FROM scores s "
            f"WHERE ts IS NOT NULL {where} GROUP BY bucket", [offset, size, *args]).fetchall()))
        # what prune deleted counts on: its labelled prompts' groups and its prompts, by minute
        kept, kept_args = _range(since, until, "strftime('%Y-%m-%dT%H:%M:%S', minute * 60, 'unixepoch')")
        for bucket, novel, pred, label, n in store.db.execute(
                f"SELECT (minute * 60 + ?) / ?, is_novel, predicted, label, n FROM pruned_feedback WHERE 1 {kept}",
                [offset, size, *kept_args]):
            groups[bucket, novel, pred, label] += n
        prompts.update(dict(store.db.execute(
            f"SELECT (minute * 60 + ?) / ? AS bucket, SUM(prompts) FROM pruned_counts WHERE 1 {kept} GROUP BY bucket",
            [offset, size, *kept_args]).fetchall()))
        rows = [(*group, n) for group, n in groups.items()]
        (total_rows,) = store.db.execute("SELECT COUNT(*) FROM feedback").fetchone()
        (unmatched,) = store.db.execute(
            "SELECT COUNT(*) FROM feedback WHERE prompt_id NOT IN (SELECT prompt_id FROM scores)").fetchone()
        (unjudged,) = store.db.execute(
            "SELECT COUNT(*) FROM feedback f JOIN scores s USING (prompt_id) "
            "WHERE s.ts IS NULL OR s.predicted_label IS NULL").fetchone()
        pruned = store.pruned_before()
    finally:
        store.close()
    by_bucket: dict[int, list] = {}
    for r in rows:  # one pass: filtering the rows once per window grew with windows x rows
        by_bucket.setdefault(r[0], []).append(r)
    buckets = sorted(by_bucket)
    windows = [_window(b * size - offset, size, by_bucket[b], prompts.get(b, 0)) for b in buckets]
    first, last = (buckets[0] * size - offset, (buckets[-1] + 1) * size - offset) if buckets else (0, 0)
    total = _window(first, last - first, rows, sum(prompts.get(b, 0) for b in buckets))
    confusion = Counter()
    for _, novel, pred, label, n in rows:
        if novel and not same_label(pred, label):
            confusion[label, pred] += n
    return OnlineReport(window, since, until, windows, total,
                        [{"label": t, "predicted": p, "count": n} for (t, p), n in confusion.most_common(10)],
                        total_rows, unmatched, unjudged, pruned, _case_only(rows))


def _case_only(rows: list) -> list[dict]:
    """True labels no prediction spells that one does but for case or word separators ('Balance' beside
    'balance', 'Card Arrival' beside 'card_arrival'): compared as written, every such prompt counts
    wrong (0 % online accuracy, a false gap, unsaid). They are not ignored, since labels are
    identifiers ('US' and 'us' may be two intents); it is said."""
    predicted = {pred for _, _, pred, _, _ in rows}
    folded: dict[str, str] = {}
    for pred in sorted(predicted):
        folded.setdefault(spelling(pred), pred)
    apart = {label: folded.get(spelling(label)) for label in {r[3] for r in rows}
             if not any(same_label(label, pred) for pred in predicted)}
    counts = Counter()
    for *_, label, n in rows:
        if apart.get(label) is not None:
            counts[label] += n
    return [{"label": label, "predicted": apart[label], "count": n} for label, n in counts.most_common(10)]


def _range(since: str | None, until: str | None, column: str = "s.ts") -> tuple[str, list]:
    conditions, args = time_bounds(column, *parse_range(since, until))  # refuses an empty range, as spikes does
    return "".join(f" AND {c}" for c in conditions), args


def _window(start: int, size: int, rows: list, prompts: int) -> OnlineWindow:
    """One window's accuracies from its (bucket, novel, predicted, true, count) groups."""
    def acc(subset) -> Accuracy:
        return Accuracy.of(sum(n for *_, pred, label, n in subset if same_label(pred, label)),
                           sum(r[-1] for r in subset))
    from .spikes import _iso

    return OnlineWindow(_iso(start), _iso(start + size), prompts, acc(rows),
                        acc([r for r in rows if r[1]]), acc([r for r in rows if not r[1]]))


# -- offline against online ---------------------------------------------------------------------------
def offline_online_gap(online: Accuracy, golden_accuracy: float, golden_items: int, period: tuple[str, str],
                       min_gap: float = 0.05, max_p_value: float = 0.01) -> Gap:
    """One-sided test that online accuracy is below the golden-set accuracy.

    With ``golden_items`` the golden accuracy has its own sampling noise (two-proportion z-test,
    pooled, and never below Fisher's exact test's p); without it, it is taken as exact (exact binomial
    test of the online count).

    >>> g = offline_online_gap(Accuracy.of(700, 1000), 0.92, 400, ("2026-11-18", "2026-11-25"))
    >>> round(g.gap, 2), g.significant
    (0.22, True)
    >>> [offline_online_gap(Accuracy.of(k, n), acc, m, ("a", "b")).significant
    ...  for k, n, acc, m in ((28, 30, 1.0, 100), (5200, 10000, 0.57, 10000))]  # Fisher's 0.052; a gap of 0.05
    [False, True]
    >>> better, worse = (offline_online_gap(Accuracy.of(24, 35), acc, 80, ("a", "b")).p_value for acc in (71 / 80, 70 / 80))
    >>> better < worse  # a better golden set, a stronger case for a gap
    True
    >>> offline_online_gap(Accuracy.of(24, 30), 0.934, 1340, ("a", "b")).significant  # Fisher 0.014 (review)
    False
    """
    n, k = online.labelled, online.correct
    if n == 0:
        raise InputError("no labelled prompts in the period: import feedback with `novelty feedback` first")
    p_online = k / n
    if golden_items:
        x = golden_accuracy * golden_items
        pooled = (x + k) / (golden_items + n)
        se = math.sqrt(max(pooled * (1 - pooled) * (1 / golden_items + 1 / n), 1e-12))
        right = round(x)  # and no smaller than Fisher's exact p: the normal approximation alone claimed
        # p = 0.005 for 28/30 against 100/100 (QA; Fisher 0.05); a switch between the two by counts or sizes
        # let a worse golden set, or one more wrong label, test weaker (review). The larger of two valid
        # p-values is one, and both fall as the evidence grows
        p_value = max(float(norm.sf((golden_accuracy - p_online) / se)),
                      float(fisher_exact([[right, golden_items - right], [k, n - k]], alternative="greater")[1]))
    else:
        p_value = float(binomtest(k, n, min(max(golden_accuracy, 1e-9), 1 - 1e-9), alternative="less").pvalue)
    gap = golden_accuracy - p_online
    # a gap of min_gap itself is one (0.57 - 0.52 is 0.0499999..., as golden.py allows for it)
    return Gap(golden_accuracy, golden_items, online, gap, p_value,
               gap >= min_gap - 1e-9 and p_value < max_p_value, *period)


def record_gap(db: str | Path, gap: Gap, novel_share: float | None = None) -> Incident | None:
    """Open (or update) the period's ``offline_online_gap`` incident. A period without a gap withdraws
    the open gaps of periods ending inside it that rested on no more labels than it does (a backfill run
    on the labels it had then no longer stands against the newer, larger evidence), or that were measured
    against another golden set (refreshed, as the gap's own advice says: the old bar alerted on)."""
    details = {"window_size": "period", **gap.to_dict(), "novel_share_of_errors": novel_share}
    severity = gap_severity(gap)
    incident = Incident(GAP_KIND, gap.period_start, gap.period_end, severity, gap.p_value, details)
    now = utc_now()
    store = Store(db)
    try:
        def work():
            if gap.significant:
                store.db.conn.execute(
                    "INSERT INTO incidents VALUES (?,?,?,?,?,?,'open',?,?,?) ON CONFLICT(incident_id) DO UPDATE SET "
                    "severity=excluded.severity, p_value=excluded.p_value, status='open', details=excluded.details, "
                    "window_end=excluded.window_end, updated_at=excluded.updated_at",
                    [incident.incident_id, GAP_KIND, gap.period_start, gap.period_end, severity, gap.p_value,
                     json.dumps(details, default=str), now, now])
            else:  # and the earlier gaps this period covers the end of, judged on no more labels than it
                stale = [incident_id for incident_id, details in store.db.execute(
                    "SELECT incident_id, details FROM incidents WHERE kind = ? AND status = 'open' "
                    "AND window_end > ? AND window_end <= ?", [GAP_KIND, gap.period_start, gap.period_end])
                    if _superseded(json.loads(details or "{}"), gap)]
                store.db.conn.executemany("UPDATE incidents SET status='withdrawn', updated_at=? WHERE incident_id=?",
                                          [(now, i) for i in stale])
        store.transaction(work)
    finally:
        store.close()
    return incident if gap.significant else None


def gap_severity(gap: Gap) -> str:
    return "high" if gap.gap >= 0.1 else "medium"


def _superseded(saved: dict, gap: Gap) -> bool:
    """Whether a saved gap's ``details`` give way to ``gap``, a later test that found none: it rested on
    no more labels, or on another golden set (its accuracy or size differs)."""
    bar = (saved.get("golden_accuracy"), saved.get("golden_items"))
    return saved.get("online", {}).get("labelled", 0) <= gap.online.labelled or \
        (bar[0] is not None and bar != (gap.golden_accuracy, gap.golden_items))


def open_gaps(store: Store, since: str | None = None, until: str | None = None) -> list[dict]:
    """Open gap incidents whose period ends after ``since`` and by ``until``, latest first: a run for an
    earlier date sees only the gaps known then (a period ending later was judged on later labels)."""
    rows = store.db.query(
        "SELECT * FROM incidents WHERE kind = ? AND status = 'open' AND (? IS NULL OR window_end > ?) "
        "AND (? IS NULL OR substr(window_end, 1, 10) <= substr(?, 1, 10)) ORDER BY window_end DESC",
        [GAP_KIND, since, since, until, until])
    return [{**r, "details": json.loads(r["details"] or "{}")} for r in rows]


def novel_error_share(report: OnlineReport) -> float | None:
    """Share of the wrong predictions that were on novel prompts."""
    wrong_novel = report.total.novel.labelled - report.total.novel.correct
    wrong = report.total.all.labelled - report.total.all.correct
    return wrong_novel / wrong if wrong else None
