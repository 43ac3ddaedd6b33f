"""Delete scored prompts older than a retention period, with everything that holds their text.

What goes, for prompts whose event time (else scoring time) is before the cut-off:

* their ``scores`` rows and ``cluster_members`` entries;
* their ``queue`` items still ``pending`` or ``exported``; items a person ``labelled`` (or that were
  ``trained``) are kept: they are training data now, chosen on purpose;
* ``embeddings`` no longer used by any stored prompt or queue item (they are shared by text, so a
  vector goes only when its last user does);
* ``rejects`` (raw rows) set aside before the cut-off;
* the example texts of ``incidents`` (``details.top_novel``) and ``clusters`` whose text no stored
  prompt holds any more. Counts, windows, incidents and cluster ids (centroids) stay, so history and
  cluster identities survive.

``secure_delete`` overwrites the deleted content and the write-ahead log is truncated afterwards, so
the text does not linger in free pages of the file.
"""

from __future__ import annotations

import json
import sqlite3
import tempfile
from contextlib import closing
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from .errors import InputError, check_argument
from .logs import sql_bound
from .spikes import window_seconds
from .store import GROUPED_LABELS, PRUNED_ALPHAS, Store, existing_db, pruned_novel_column

KEEP_QUEUED = ("labelled", "trained")


@dataclass(frozen=True)
class PruneResult:
    """What ``prune`` deleted (or would delete, with ``dry_run``)."""

    db: str
    cutoff: str
    dry_run: bool
    scores: int
    embeddings: int
    cluster_members: int
    queue: int
    rejects: int
    incident_examples: int
    cluster_examples: int
    queue_exported: int = 0  # of ``queue``: items exported for labelling, whose labels can no longer be imported

    def to_dict(self) -> dict:
        return asdict(self)


def prune(db: str | Path, older_than: str, *, now: datetime | None = None,
          dry_run: bool = False) -> PruneResult:
    """Delete what ``db`` holds about prompts older than ``older_than`` (``90d``, ``12w``, ``36h``).

    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "m.db"); Store(path).close()
    >>> prune(path, "90d").scores
    0
    """
    check_argument("older_than", older_than, str, "a span such as '90d', '12w' or '36h'")
    check_argument("now", now, (datetime, type(None)), "a datetime in UTC, such as datetime.now(timezone.utc)")
    existing_db(db)
    if older_than.strip().lower().endswith("m"):  # 6m read as minutes: all gone
        raise InputError(f"--older-than {older_than!r}: m is minutes, too short a retention to be meant; give "
                         "days, weeks or hours (6 months: 180d)")
    # an aware time in another zone (New York's noon) is that instant in UTC, as the cut-off is written;
    # a naive one is taken as UTC, as the CLI's clock and stored times are (was: its wall clock, as UTC)
    now = (now.astimezone(timezone.utc) if now.tzinfo else now.replace(tzinfo=timezone.utc)) if now \
        else datetime.now(timezone.utc)
    try:
        span = timedelta(seconds=window_seconds(older_than.lower(), limit_days=0))  # 90D as 90d
        start = now - span
    except (InputError, OverflowError):
        raise InputError(f"--older-than {older_than!r} should look like 90d, 12w or 36h (within the "
                         "calendar)") from None
    cutoff = f"{start.year:04d}-{start:%m-%dT%H:%M:%S}Z"  # %Y leaves year 953 unpadded: it would sort after 2026
    store = Store(db)
    if dry_run and store.read_only:  # the dry run deletes and rolls back, which needs write: on a copy
        try:
            return PruneResult(str(db), cutoff, dry_run, **_counted_on_copy(store, cutoff))
        finally:
            store.close()
    try:
        store.db.execute("PRAGMA secure_delete = ON")
        try:
            counts = store.transaction(lambda: _delete(store.db.conn, cutoff, dry_run))
        except _Undo as undo:
            counts = undo.counts
        if not dry_run:
            store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        store.close()
    return PruneResult(str(db), cutoff, dry_run, **counts)


def _counted_on_copy(store: Store, cutoff: str) -> dict:
    """What a prune would delete from a database the user may only read: pruned on a copy in the temporary
    folder, which is then deleted."""
    try:
        with tempfile.TemporaryDirectory(prefix="novelty-prune-") as folder:
            with closing(sqlite3.connect(Path(folder) / "copy.db")) as copy:
                store.db.conn.backup(copy)
                return _delete(copy, cutoff, dry_run=False)  # never committed
    except (OSError, sqlite3.Error) as exc:  # a full temporary folder is an OperationalError of SQLite's
        raise InputError(f"{store.path}: a database you may only read is counted on a copy in "
                         f"{tempfile.gettempdir()}, which failed ({exc})" + ("; free space there or set TMPDIR"
                         if isinstance(exc, OSError) or "full" in str(exc).lower() else "")) from None


class _Undo(Exception):
    """Rolls a dry run back, carrying its counts out."""

    def __init__(self, counts: dict):
        self.counts = counts


def _delete(conn: sqlite3.Connection, cutoff: str, dry_run: bool) -> dict:
    conn.execute("DROP TABLE IF EXISTS temp.pruned")
    conn.execute("CREATE TEMP TABLE pruned AS SELECT prompt_id FROM scores "
                 "WHERE COALESCE(ts, scored_at) < ?", [sql_bound(cutoff)])
    gone = "(SELECT prompt_id FROM temp.pruned)"
    _keep_counts(conn, gone)
    # score stores nothing logged before the cut-off again (its text would be back, counted twice)
    conn.execute("INSERT INTO meta VALUES ('pruned_before', ?) ON CONFLICT(key) DO UPDATE SET "
                 "value = max(value, excluded.value)", [cutoff])
    counts = {"scores": conn.execute(f"DELETE FROM scores WHERE prompt_id IN {gone}").rowcount}
    # items out with labellers (exported) go too, as pending ones do: counted, so the user is told
    counts["queue_exported"] = conn.execute("SELECT COUNT(*) FROM queue WHERE status = 'exported' AND prompt_id "
                                            "NOT IN (SELECT prompt_id FROM scores)").fetchone()[0]
    counts |= {
        # with those of prompts already gone: a clusters or queue add run that read them before an earlier
        # prune committed wrote them back (found by QA), and nothing found them again
        "cluster_members": conn.execute("DELETE FROM cluster_members WHERE prompt_id NOT IN "
                                        "(SELECT prompt_id FROM scores)").rowcount,
        "queue": conn.execute("DELETE FROM queue WHERE prompt_id NOT IN (SELECT prompt_id FROM scores) "
                              "AND status NOT IN (?, ?)", KEEP_QUEUED).rowcount,
        "embeddings": conn.execute(
            "DELETE FROM embeddings WHERE text_hash NOT IN (SELECT text_hash FROM scores) "
            "AND text_hash NOT IN (SELECT text_hash FROM queue WHERE text_hash IS NOT NULL)").rowcount,
        "rejects": conn.execute("DELETE FROM rejects WHERE rejected_at < ?", [cutoff]).rowcount,
        "incident_examples": _prune_incident_examples(conn, cutoff),
        "cluster_examples": _prune_cluster_examples(conn)}
    conn.execute("DROP TABLE temp.pruned")
    if dry_run:
        raise _Undo(counts)
    return counts


def _minute(ts: str = "ts") -> str:
    """SQL for the epoch minute of the time column ``ts``."""
    return f"CAST(strftime('%s', {ts}) AS INTEGER) / 60"


def _keep_counts(conn: sqlite3.Connection, gone: str) -> None:
    """Add what goes to ``pruned_counts``, by minute of event time: a window counted again later (a
    late log added prompts to it) counts the pruned prompts too, not only those left (a day pruned at
    noon, then a late log for it, read 492 prompts where 700 were scored; 60 late ones went unseen)."""
    import numpy as np

    from .spikes import SpikeSettings
    from .stats import tail_weights

    tail = SpikeSettings().tail  # the tail test's default cut-off, as the windows' saved tail sums use
    found = np.array(conn.execute(f"SELECT {_minute()}, p_value FROM scores WHERE prompt_id IN {gone} "
                                  "AND ts IS NOT NULL AND p_value < ?", [tail]).fetchall(), dtype=float).reshape(-1, 2)
    minutes, where = np.unique(found[:, 0].astype(np.int64), return_inverse=True)
    weights = tail_weights(found[:, 1], tail)
    sums = dict(zip(minutes.tolist(), zip(np.bincount(where, weights, len(minutes)).tolist(),
                                          np.bincount(where, weights ** 2, len(minutes)).tolist())))
    # the novel count at the scoring run's alpha, and at each of PRUNED_ALPHAS, as spikes counts a day
    # at the latest run's alpha from the p-values (a day pruned at 0.05 had stayed at 0.05 after a
    # switch to 0.01: a 5x higher rate in the baseline of the days after it)
    at_alphas = [pruned_novel_column(a) for a in PRUNED_ALPHAS]
    rows = [(minute, n, k, *sums.get(minute, (0.0, 0.0)), *ladder) for minute, n, k, *ladder in conn.execute(
        f"SELECT {_minute()} AS minute, COUNT(*), SUM(is_novel), "
        f"{', '.join(f'SUM(p_value <= {a!r})' for a in PRUNED_ALPHAS)} FROM scores WHERE prompt_id IN {gone} "
        "AND ts IS NOT NULL GROUP BY minute")]
    columns = ["minute", "prompts", "novel", "tail_sum", "tail_sum_sq", *at_alphas]
    conn.executemany(
        f"INSERT INTO pruned_counts ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))}) "
        "ON CONFLICT(minute) DO UPDATE SET "
        + ", ".join(f"{c} = {c} + excluded.{c}" for c in columns[1:]), rows)
    # the online accuracy of the labelled ones, grouped as feedback.online_accuracy groups them: its table
    # kept showing those days (the demo's week lost 4 of its 7 days to a 5-day prune)
    predicted, label = GROUPED_LABELS
    conn.execute(
        f"INSERT INTO pruned_feedback SELECT {_minute('s.ts')} AS minute, s.is_novel AS novel, "
        f"{predicted} AS predicted, {label} AS label, COUNT(*) FROM feedback f JOIN scores s USING (prompt_id) "
        f"WHERE s.prompt_id IN {gone} AND s.ts IS NOT NULL AND s.predicted_label IS NOT NULL "
        "GROUP BY minute, novel, predicted, label "
        "ON CONFLICT(minute, is_novel, predicted, label) DO UPDATE SET n = n + excluded.n")


def _prune_incident_examples(conn: sqlite3.Connection, cutoff: str) -> int:
    """Drop the example prompts (``details.top_novel``) of incidents that began before the cut-off whose
    text no stored prompt holds any more; returns the incidents changed. A window the cut-off falls
    in keeps the examples of its prompts that stay."""
    incidents = [(incident_id, json.loads(details)) for incident_id, details in conn.execute(
        "SELECT incident_id, details FROM incidents WHERE COALESCE(window_start, window_end, '') < ? "
        "AND json_valid(details) "
        "AND json_type(details, '$.top_novel') = 'array' AND json_array_length(details, '$.top_novel') > 0",
        [cutoff])]
    stored = _stored_texts(conn, [e.get("text") for _, details in incidents for e in details["top_novel"]])
    changed = 0
    for incident_id, details in incidents:
        kept = [e for e in details["top_novel"] if e.get("text") in stored]
        if kept != details["top_novel"]:
            conn.execute("UPDATE incidents SET details = ? WHERE incident_id = ?",
                         [json.dumps({**details, "top_novel": kept}), incident_id])
            changed += 1
    return changed


def _stored_texts(conn: sqlite3.Connection, texts: list) -> set[str]:
    """Those of ``texts`` some row of ``scores`` holds: by the stored text, not its hash (under --redact
    the hash is the original's, the text redacted)."""
    conn.execute("DROP TABLE IF EXISTS temp.example_texts")
    conn.execute("CREATE TEMP TABLE example_texts (text TEXT PRIMARY KEY)")
    conn.executemany("INSERT OR IGNORE INTO temp.example_texts VALUES (?)",
                     [(text,) for text in texts if isinstance(text, str)])
    stored = {text for (text,) in conn.execute(
        "SELECT DISTINCT s.text FROM scores s JOIN temp.example_texts e ON s.text = e.text")}
    conn.execute("DROP TABLE temp.example_texts")
    return stored


def _prune_cluster_examples(conn: sqlite3.Connection) -> int:
    """Drop the cluster example texts that no stored prompt holds any more; returns the clusters changed.

    An example whose prompt was re-assigned to another cluster by a later run, or whose text another
    recent prompt shares, stays: only texts gone from ``scores`` go.
    """
    clusters = [(cluster_id, json.loads(examples or "[]"))
                for cluster_id, examples in conn.execute("SELECT cluster_id, examples FROM clusters")]
    stored = _stored_texts(conn, [text for _, texts in clusters for text in texts])
    changed = 0
    for cluster_id, texts in clusters:
        kept = [t for t in texts if t in stored]
        if kept != texts:
            conn.execute("UPDATE clusters SET examples = ? WHERE cluster_id = ?", [json.dumps(kept), cluster_id])
            if not kept:  # the name's words came from those prompts too
                conn.execute("UPDATE clusters SET name = ? WHERE cluster_id = ?",
                             [f"{cluster_id} (its prompts pruned)", cluster_id])
            changed += 1
    return changed
