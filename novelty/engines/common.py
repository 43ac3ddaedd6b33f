"""What every engine shares: the run around the scoring (open the sink, record the run, count, sum up),
the gate that decides which rows of a chunk need scoring, and the one function that turns texts and
vectors into score rows. Engines differ only in where embedding and search run, so local and Ray
results are the same by construction."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import json
import sqlite3
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

import numpy as np

from .. import __version__
from ..errors import DamagedFileError, EmptyFileError, InputError, NoveltyError, check_argument
from ..index import SHOWN_NEIGHBORS, PromptIndex, label_text
from ..logs import (Batch, Columns, MAX_CHARS, as_paths, bare_name, canonical_id, check_file, detect_format,
                    header_names, log_columns, read_batches, reason_kind, sql_bound, without_rows)
from ..redact import redact as redact_text
from ..stats import excess_over_rate  # P(>= novel of total flagged) if all in-distribution
from ..render import plural
from ..store import SCORE_COLUMNS, Store, params_json, reject_key, reject_row, stored_vectors, text_hash, utc_now
from .sinks import open_sink

_IS_NOVEL = SCORE_COLUMNS.index("is_novel")
_TEXT = SCORE_COLUMNS.index("text")
_TS = SCORE_COLUMNS.index("ts")
FUTURE_SLACK = timedelta(days=1)  # a time further ahead than this is no clock skew: a misread zone or date order
Progress = Callable[[int], None]


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
    engine: str = "local"
    expired: int = 0        # rows logged before the retention cut-off of `prune`: not stored again
    empty_files: list[str] = field(default_factory=list)  # logs of no bytes (a day without traffic): nothing read
    future: int = 0         # prompts stamped more than a day after the run: stored, and said
    latest_future: str | None = None
    # the logs' rows an unfinished earlier run against this index at this alpha scored (skipped now: a
    # retry after a crash), and how many it found novel; with this run's they make the logs' test
    earlier: int = 0
    earlier_novel: int = 0
    logs_novel_p_value: float = 1.0
    earlier_other: int = 0  # skipped, scored before against another index or alpha: kept, not in the test
    warnings: list[str] = field(default_factory=list)  # this run against another index or alpha than earlier ones
    labelled_now: int = 0  # skipped prompts stored without a predicted label that gained the one logged now
    agent_steps: int = 0  # skipped: chat rows of an agent's calls after the question (logs.agent_step)
    truncated: int = 0  # scored prompts longer than the encoder reads: only their start was seen

    @property
    def logs_scored(self) -> int:
        return self.scored + self.earlier

    @property
    def logs_novel(self) -> int:
        return self.novel + self.earlier_novel

    def to_dict(self) -> dict:
        return {**asdict(self), "logs_scored": self.logs_scored, "logs_novel": self.logs_novel}


@dataclass
class Counts:
    read: int = 0
    scored: int = 0
    skipped: int = 0
    rejected: int = 0
    novel: int = 0
    expired: int = 0  # logged before prune's retention cut-off: not stored again
    earlier: int = 0        # skipped rows an earlier run scored against this index at this alpha...
    earlier_novel: int = 0  # ...and how many of them it found novel
    earlier_other: int = 0  # skipped rows an earlier run scored against another index or at another alpha
    future: int = 0   # stamped more than FUTURE_SLACK after the run began
    latest_future: str | None = None
    future_after: str = field(default_factory=lambda: (datetime.now(timezone.utc) + FUTURE_SLACK).strftime(
        "%Y-%m-%dT%H:%M:%SZ"))
    unread_labels: int = 0  # predictions logged in a shape read as no label
    labelled_now: int = 0  # stored prompts given the predicted label logged now (fill_labels)
    agent_steps: int = 0  # chat rows of an agent's calls after the question: skipped
    truncated: int = 0  # rows to score longer than the encoder reads
    unread_example: str | None = None
    reasons: Counter = field(default_factory=Counter)
    examples: dict = field(default_factory=dict)  # the first reason of each kind, as written

    def add_written(self, rows: list[tuple], rejects: list[dict]) -> None:
        self.scored += len(rows)
        self.rejected += len(rejects)
        self.novel += sum(row[_IS_NOVEL] for row in rows)
        ahead = [row[_TS] for row in rows if row[_TS] and row[_TS] > self.future_after]
        if ahead:  # a day/month order or a time zone read wrong puts them in windows that have not begun
            self.future += len(ahead)
            self.latest_future = max(ahead + [self.latest_future or ""])
        for r in rejects:
            kind = reason_kind(r["reason"])
            self.reasons[kind] += 1
            self.examples.setdefault(kind, r["reason"])

    def reject_reasons(self, limit: int = 10) -> list[dict]:
        """The run's rejects by reason, most common first (the ``limit`` commonest: a reason can quote
        the row's value), the ids in a reason left out so a day of ids that clash counts as one reason,
        with its first as ``example``: a row set aside again by a rerun counts (its stored reject, the
        first run's, is not written twice)."""
        return [{"reason": kind, "rows": rows, "example": self.examples[kind]}
                for kind, rows in self.reasons.most_common(limit)]


@dataclass
class Pending:
    """The rows of one chunk that need scoring, column by column, with the vectors already cached."""

    ids: list[str]
    sources: list[str]
    lines: list[int]
    times: list[str | None]
    texts: list[str]
    hashes: list[str]
    labels: list[str | None]
    cached: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.ids)


def derive_id(ts: str | None, text: str, line: int, source: str) -> str:
    """A stable id from the row's time, text and line; without a time, from the file too.

    Re-scoring the same file gives the same ids, so nothing is written twice.
    """
    key = f"{ts}\x1f{text}\x1f{line}" if ts else f"{source}\x1f{line}\x1f{text}"
    return hashlib.blake2b(key.encode("utf-8"), digest_size=10).hexdigest()


@dataclass
class _Keyless:
    """A log's rows without a time or an id (known by file, line and text alone): how many were found
    scored before, how many are new, and the lines of the first new ones."""

    skipped: int = 0
    new: int = 0
    new_lines: list[int] = field(default_factory=list)

    def add_new(self, line: int) -> None:
        self.new += 1
        if len(self.new_lines) < 1000:
            self.new_lines.append(line)


class Gate:
    """Decides, chunk by chunk, what to score: not scored by an earlier run, not an id repeated in
    this one. Ids of chunks handed out but not yet written are remembered until ``written``, so an
    engine may have many chunks in flight."""

    def __init__(self, sink, dimension: int, redact: bool = False, redact_before_embed: bool = False):
        self.sink, self.dimension, self.run_id = sink, dimension, 0
        # earlier unfinished runs whose novel flags mean what this run's do, and runs of another index or alpha
        self.runs_like: tuple[set[int], set[int]] = (set(), set())
        self.counted: set[str] = set()  # ids of skipped rows already looked up
        self.counted_from: dict[int, int] = {}  # unfinished earlier runs -> their rows counted in this test
        # per log (as rows name it), the earlier runs that scored rows of it as read now: it is read again
        self.reread: dict[str, set[int]] = {}
        self.keyless: dict[str, _Keyless] = {}  # per log, its rows without a time or an id
        self.in_flight: dict[str, int] = {}
        self.moved: set[str] = set()  # logged ids stored prompts moved to in this run (an earlier chunk's)
        self.in_flight_texts: dict[str, str] = {}  # their text hashes: the same row again is no conflict
        self.untimed: dict[str, bool] = {}
        self.redact = redact_text if redact or redact_before_embed else None
        self.redact_before_embed = redact_before_embed
        cutoff = sink.meta().get("pruned_before") if hasattr(sink, "meta") else None
        self.pruned_before = sql_bound(cutoff) if cutoff else None
        self.limit = None  # the encoder's ReadingLimit: prompts it cuts short are counted

    def _unexpired(self, batch: Batch, counts: Counts) -> Batch:
        """The rows logged at or after the retention cut-off of ``prune``: one before it is not stored
        again (a rerun of a pruned day, a late log for it): its text would be back, and the day's
        counts, which ``pruned_counts`` keeps, would count it twice."""
        keep = [i for i, ts in enumerate(batch.times) if not (ts and ts < self.pruned_before)]
        counts.expired += len(batch) - len(keep)
        if len(keep) == len(batch):
            return batch
        pick = lambda values: [values[i] for i in keep]  # noqa: E731
        return dataclasses.replace(batch, lines=pick(batch.lines), texts=pick(batch.texts), times=pick(batch.times),
                                   ids=pick(batch.ids), labels=pick(batch.labels))

    def prepare(self, batch: Batch, source: str, counts: Counts) -> tuple[Pending, list[dict]]:
        counts.read += len(batch) + len(batch.rejects) + batch.agent_steps
        counts.skipped += batch.agent_steps  # an agent's later calls: their question was scored with the first
        counts.agent_steps += batch.agent_steps
        if self.pruned_before:
            batch = self._unexpired(batch, counts)
        # with --redact-before-embed nothing derived from the original is kept, the id included (a hash
        # of the text, time and line would let anyone confirm a guessed card number); --redact alone
        # keeps the original's id, so turning it on or off never re-scores a row
        originals = batch.texts
        before: dict[int, list[str]] = {}  # other ids a row may be stored under by an earlier run
        if self.redact and self.redact_before_embed:
            batch.texts = [self.redact(t) for t in batch.texts]
            # ...yet a row already stored under its original's id (scored without the flag, or by a
            # version that derived ids before redacting) is looked up by that id, never kept, not rescored
            before = {i: [derive_id(batch.times[i], originals[i], batch.lines[i], source)]
                      for i in range(len(batch.texts)) if not batch.ids[i] and originals[i] != batch.texts[i]}
        ids = [canonical_id(given) or derive_id(ts, text, line, source)
               for given, ts, text, line in zip(batch.ids, batch.times, batch.texts, batch.lines)]
        # a database scored before ids were stored canonical (' 3 ', '12.0') holds the id as written
        for i, given in enumerate(batch.ids):
            if given and given != ids[i]:
                before.setdefault(i, []).append(given)

        def derived(i: int) -> list[str]:
            """Ids an earlier run may have derived for row ``i``: before the log's id column was named,
            or before its time column was (a row without a time is keyed by path, line and text)."""
            texts = (batch.texts[i],) if batch.texts[i] == originals[i] else (batch.texts[i], originals[i])
            times = (batch.times[i], None) if batch.times[i] else (None,)
            return [pid for ts in times for text in texts
                    if (pid := derive_id(ts, text, batch.lines[i], source)) != ids[i]]
        rejects = [reject_row(self.run_id, r.source, r.line, r.reason, r.raw) for r in batch.rejects]
        todo = self._new_rows(batch, ids, rejects, counts, before, originals, derived)
        if self.limit is not None:
            counts.truncated += self.limit.over([batch.texts[i] for i in todo])
        hashes = [self.in_flight_texts[ids[i]] for i in todo]  # hashed once, by _new_rows
        return Pending(ids=[ids[i] for i in todo], sources=[batch.source] * len(todo),
                       lines=[batch.lines[i] for i in todo],
                       times=[batch.times[i] or batch.default_time for i in todo],
                       texts=[batch.texts[i] for i in todo], hashes=hashes,
                       labels=[batch.labels[i] for i in todo],
                       cached=self.sink.cached_vectors(hashes, self.dimension)), rejects

    def reused_names(self) -> list[str]:
        """A warning per log whose rows without a time or an id matched rows an earlier run scored at
        the same lines, where that run also scored other rows at lines holding new rows now: a new log
        under a reused name (logrotate's app.jsonl.1; QA: day 2's 'hello' on line 1 was skipped as day
        1's, unsaid), not a rerun or a resumed run (whose new rows sit where the earlier run read none).
        Such rows are known by file, line and text alone."""
        warnings = []
        for source, rows in self.keyless.items():
            skipped, new, runs = rows.skipped, rows.new, self.reread.get(source)
            if not (skipped and new and runs and hasattr(self.sink, "scored_at_lines")) \
                    or not self.sink.scored_at_lines(source, runs, rows.new_lines):
                continue
            warnings.append(
                f"{source}: {plural(skipped, 'row')} without a time or an id {'was' if skipped == 1 else 'were'} "
                f"skipped as already scored, as an earlier run scored the same text at the same line of a file "
                f"of this name, which held other rows where this one holds {plural(new, 'new row')}: a new day's log "
                f"under a reused name (app.jsonl.1)? Then {'it is' if skipped == 1 else 'they are'} not counted; "
                "score each day's log under a name of its own (app-2026-11-25.jsonl), or log a time or an id "
                "(--id-col)")
        return warnings

    def written(self) -> None:
        self.in_flight.clear()
        self.in_flight_texts.clear()

    def _untimed(self, source: str | None) -> bool:
        """Whether an earlier run stored rows of ``source`` (of any log: None) without a time (asked once a run)."""
        if source not in self.untimed:
            self.untimed[source] = self.sink.has_untimed(source)
        return self.untimed[source]

    def as_stored(self, rows: list[tuple], rejects: list[dict]) -> tuple[list[tuple], list[dict]]:
        """Rows and rejects as stored: text redacted (the text hash stays that of the embedded text)."""
        if not self.redact:
            return rows, rejects
        if not self.redact_before_embed:  # else the batch's text is redacted already
            rows = [row[:_TEXT] + (self.redact(row[_TEXT]),) + row[_TEXT + 1:] for row in rows]
        # the reason may quote the row ("unreadable timestamp 'call me at ...'"): redacted as the raw row is,
        # and keyed by the redacted row (a hash of the original would confirm a guessed card number)
        redacted = [{**r, "raw": self.redact(r["raw"]), "reason": self.redact(r["reason"])} for r in rejects]
        return rows, [{**r, "reject_id": reject_key(r["source"], r["line"], r["raw"])} for r in redacted]

    def _new_rows(self, batch: Batch, ids: list[str], rejects: list[dict], counts: Counts,
                  original_ids: dict[int, list[str]], originals: list[str], derived) -> list[int]:
        earlier = self.sink.existing_ids(ids + [pid for alternates in original_ids.values() for pid in alternates])
        # rows with a logged id or a time found under no id yet: looked up again under the ids derived
        # without them (only those, so a rerun, where every id is found, pays nothing for it)
        untimed = self._untimed(batch.source)  # rows without a logged id look only for untimed rows of theirs
        unfound = {i: alternates for i in range(len(ids)) if (batch.ids[i] or (batch.times[i] and untimed))
                   and (ids[i] not in earlier and not any(other in earlier for other in original_ids.get(i, ()))
                        or ids[i] in self.moved)  # a copy of a row moved in an earlier chunk (review)
                   and (alternates := derived(i))}
        if unfound:
            earlier.update(self.sink.existing_ids([pid for alternates in unfound.values() for pid in alternates]))
            original_ids = {**original_ids, **{i: original_ids.get(i, []) + d for i, d in unfound.items()}}
        # such a row moves to the id it has now (and gains its time), so labels, queue items and later
        # runs keyed by that id find it, and windows count it
        moves, new_ids, old_ids, again = [], set(), set(), []  # each id moves once, to an id not moved to yet
        for i in unfound:
            old = next((o for o in original_ids[i] if earlier.get(o, self.run_id) != self.run_id), None)
            if old and ids[i] not in new_ids and ids[i] not in self.moved and ids[i] not in self.in_flight \
                    and old not in old_ids:
                moves.append((ids[i], batch.times[i], old))
                new_ids.add(ids[i])
                old_ids.add(old)
            elif old and (ids[i] in new_ids or ids[i] in self.moved) and old not in old_ids:
                again.append((i, old))  # the same delivery stored twice under derived ids: one moved already
        if moves:
            self.sink.move_ids(moves)
            earlier.update({new: earlier[old] for new, _, old in moves})
            self.moved.update(new for new, _, _ in moves)
        if again and hasattr(self.sink, "merge_ids"):  # (QA: with --id-col named after a first run, a
            # request delivered twice stayed twice) only a copy of the prompt now under that id goes: one id
            # logged for two texts keeps both (review: the other prompt was deleted, its label moved)
            hashes = self.sink.text_hashes([old for _, old in again] + [ids[i] for i, _ in again])
            self.sink.merge_ids([(ids[i], old) for i, old in again
                                 if hashes.get(old) is not None and hashes.get(old) == hashes.get(ids[i])])
        stored = self.sink.text_hashes([pid for pid in ids if earlier.get(pid, self.run_id) != self.run_id])
        this_run = self.sink.text_hashes([pid for pid in ids if earlier.get(pid) == self.run_id])

        def same_text(stored_hash: str | None, i: int) -> bool:
            """Whether ``stored_hash`` is row ``i``'s text: as read, as logged, or as --redact-before-embed
            stored it (the redaction, the dearest, only when the others differ: a rerun meets every row)."""
            return stored_hash is not None and (stored_hash == text_hash(batch.texts[i])
                                                or stored_hash == text_hash(originals[i])
                                                or stored_hash == text_hash(redact_text(originals[i])))
        first_line: dict[str, int] = {}
        first_text: dict[str, str] = {}
        todo, scored_before, timed, labelled = [], [], [], []
        for i, pid in enumerate(ids):
            if pid in stored and not same_text(stored[pid], i):
                # an id given by the log names another prompt than the one stored under it: setting the
                # row aside says so; skipping it as "already scored" would lose it without a trace
                rejects.append(reject_row(self.run_id, batch.source, batch.lines[i],
                                          f"id {pid!r} was scored before for another text", batch.texts[i]))
            elif found := next((k for k in (pid, *original_ids.get(i, ())) if earlier.get(k, self.run_id) != self.run_id),
                               None):
                counts.skipped += 1
                scored_before.append(found)
                self.reread.setdefault(batch.source, set()).add(earlier[found])
                if not batch.times[i] and not batch.ids[i]:
                    self.keyless.setdefault(batch.source, _Keyless()).skipped += 1
                if found == pid and batch.ids[i] and batch.times[i] and self._untimed(None):  # stored untimed
                    timed.append((batch.times[i], pid))  # under its logged id, from this log or another copy of it
                if batch.labels[i] is not None:
                    labelled.append((batch.labels[i], found))
            elif pid in earlier or pid in first_line or pid in self.in_flight:
                if same_text(first_text.get(pid) or self.in_flight_texts.get(pid) or this_run.get(pid), i):
                    counts.skipped += 1  # the same row again (a shipper delivering at least once): as a rerun skips it
                    continue
                where = f"on line {first_line[pid]}" if pid in first_line else "in an earlier chunk"
                rejects.append(reject_row(self.run_id, batch.source, batch.lines[i],
                                          f"duplicate id {pid!r} in this run (first {where})",
                                          batch.texts[i]))
            else:
                first_line[pid] = batch.lines[i]
                first_text[pid] = text_hash(batch.texts[i])
                todo.append(i)
                if not batch.times[i] and not batch.ids[i]:
                    self.keyless.setdefault(batch.source, _Keyless()).add_new(batch.lines[i])
        self.in_flight.update(first_line)
        self.in_flight_texts.update(first_text)
        if timed and hasattr(self.sink, "fill_times"):  # (QA: with --id-col, naming the time column after a
            self.sink.fill_times(timed)                 # run without it left every row untimed, for good)
        if labelled and hasattr(self.sink, "fill_labels"):  # (QA: --pred-col named after a first run
            counts.labelled_now += self.sink.fill_labels(labelled)  # without it was ignored: labels NULL)
        scored_before = [pid for pid in dict.fromkeys(scored_before) if pid not in self.counted]  # a row
        self.counted.update(scored_before)  # delivered twice counts once, as a clean run skips it
        if scored_before and hasattr(self.sink, "novel_among"):  # the log's rows an unfinished run scored count
            rows, novel, other = self.sink.novel_among(scored_before, *self.runs_like,  # in its novel test...
                                                       tally=self.counted_from)
            counts.earlier += rows
            counts.earlier_novel += novel
            counts.earlier_other += other  # ...unless against another index (a rebuild) or alpha: then said
        return todo


class RowScorer:
    """Pending rows + vectors -> score rows, against one loaded index. Both engines use it."""

    def __init__(self, index: PromptIndex, alpha: float | None = None):
        self.index = index
        self.calibration = index.calibration_at(alpha)  # before any row is read: checked once, used per chunk

    def vectors(self, embedder, pending: Pending) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Vectors of ``pending``: cached ones as given, the rest embedded (once per distinct text)."""
        missing = list({h: t for h, t in zip(pending.hashes, pending.texts) if h not in pending.cached}.items())
        fresh: dict[str, np.ndarray] = {}
        if missing:
            embedded = stored_vectors(embedder.embed([t for _, t in missing]))
            fresh = {h: v for (h, _), v in zip(missing, embedded)}
        known = {**pending.cached, **fresh}
        vectors = np.stack([known[h] for h in pending.hashes]) if len(pending) else \
            np.zeros((0, self.index.model["dimension"]), np.float32)
        return vectors, fresh

    def rows(self, pending: Pending, vectors: np.ndarray, run_id: int) -> list[tuple]:
        """One tuple per pending prompt, in ``SCORE_COLUMNS`` order."""
        if not len(pending):
            return []
        found = self.index.assess(vectors, self.calibration)
        now, train_ids, labels = utc_now(), self.index.ids, self.index.labels
        rows = []
        for j in range(len(pending)):
            near, sims = found.positions[j, :SHOWN_NEIGHBORS], found.similarities[j, :SHOWN_NEIGHBORS].tolist()
            neighbors = json.dumps([{"id": train_ids[p], "label": label_text(labels[p]), "similarity": round(s, 4)}
                                    for p, s in zip(near.tolist(), sims) if p >= 0])
            rows.append((pending.ids[j], run_id, pending.sources[j], pending.lines[j], pending.times[j],
                         pending.texts[j], pending.hashes[j], pending.labels[j], sims[0], float(found.novelty[j]),
                         float(found.p_values[j]), int(found.is_novel[j]), train_ids[near[0]],
                         label_text(labels[near[0]]), neighbors, now))
        return rows


# An engine turns prepared chunks into (score rows, fresh vectors, rejects) ready to write. It may hold
# several chunks in flight; the gate remembers their ids until the run has written what came back.
Prepared = Iterator[tuple[Pending, list[dict]]]
Engine = Callable[[Prepared, int], Iterable[tuple[list[tuple], dict, list[dict]]]]


CACHE_SIZE = 2_000_000  # stored vectors: ~1.5 GB at 384 float16 dimensions


def _named_somewhere(columns: Columns, paths: list[Path]) -> None:
    """A column named otherwise than its default (``Columns(time='ts')``) must be in one of the logs at
    least: one call may read logs with and without it, but in none it is a misspelt name (every prompt
    stored untimed and spikes finding no window; every prediction lost; ids derived that no label
    joins on), which the CLI's --time-col, --pred-col and --id-col refuse."""
    default = Columns()
    chosen = [role for role in ("time", "label", "id") if getattr(columns, role)
              and getattr(columns, role) != getattr(default, role) and role not in columns.required]
    headers = [header_names(p) for p in paths] if chosen else []
    if not any(headers):  # none could be read: reading them says why, not "no column"
        return
    for role in chosen:
        if not any(getattr(columns.matching(h), role) in h for h in headers if h):
            raise InputError(f"{', '.join(map(str, paths[:3]))}: no column {getattr(columns, role)!r} (the {role} "
                             f"column) in {'any of these logs' if len(paths) > 1 else 'this log'}; columns found: "
                             f"{', '.join(sorted(set().union(*headers))) or 'none'}. Name it as the logs spell it, "
                             f"or leave it out (Columns({role}=...))")


def unread_labels(counts: Counts, columns: Columns) -> list[str]:
    """A warning when predictions were logged in a shape read as no label (stored without one)."""
    if not counts.unread_labels:
        return []
    return [f"{plural(counts.unread_labels, 'prediction')} in {columns.label!r} held no label novelty can read "
            f"(e.g. {counts.unread_example}) and {'was' if counts.unread_labels == 1 else 'were'} stored without "
            "one: log the label as text, a top-k list, or {\"label\": ..., \"score\": ...}"]


def untimed_logs(columns: Columns, paths: list[Path], database: bool = True,
                 header: Callable[[Path], set[str]] = header_names) -> list[str]:
    """Logs without the time column whose rows hold times under another usual name ('created_at' where
    the default looks for 'timestamp'; its first values read as times): their prompts were stored
    untimed, so spikes, feedback windows and the report's chart leave them out, and nothing said so.
    ``database``: scored into SQLite, where scoring again gives the stored rows their time (Parquet
    output has no such memory: each run writes its rows). ``header``: how a log's column names are read
    (``run_scoring`` passes one reader that keeps them, for ``unkeyed_logs`` too)."""
    if not columns.time or columns.default_time:  # times not asked for, or a day's log stamped by its date
        return []
    from ..starter import NAMES, sniff_columns  # (the starter reads logs through this package's readers)

    said = []
    for path in paths:
        names = header(path)
        if not names or columns.matching(names).time in names:
            continue
        with contextlib.suppress(InputError, OSError, ValueError):
            found = sniff_columns(path).get("time")
            if found and found != columns.time and bare_name(found) in map(bare_name, NAMES["time"]):
                again = (f"score it again with {columns.option('time')} {found} (the stored prompts take their "
                         "time, none is scored twice)") if database else \
                    f"score it with {columns.option('time')} {found} into a new output"
                said.append(f"{path} has no column {columns.time!r}: its prompts were stored without a time, so "
                            f"windows over time leave them out; its column {found!r} holds times: {again}")
    return said


def _named_like(names: set[str], role: str, but: str | None = None) -> list[str]:
    """The column names among ``names`` that ``init`` would take for ``role`` (starter.NAMES, any
    spelling), in its order of preference (request_id before id), ``but`` left out.

    >>> _named_like({"ID", "request-id", "text"}, "id"), _named_like({"label", "Intent"}, "pred", but="label")
    (['request-id', 'ID'], ['Intent'])
    """
    from ..starter import NAMES

    usual = [bare_name(name) for name in NAMES[role] if name != but]
    return sorted((n for n in names if bare_name(n) in usual), key=lambda n: usual.index(bare_name(n)))


def unkeyed_logs(columns: Columns, paths: list[Path], header: Callable[[Path], set[str]] = header_names
                 ) -> list[str]:
    """Logs with a column named like a request id ('request_id', 'prompt_id', 'id'...) scored without
    ``--id-col``: their prompts were stored under ids derived from time, text and line, which labels
    keyed by the logged ids never join, and nothing said so (QA). ``--id-col ''`` is on purpose: unsaid."""
    if columns.id is not None:
        return []
    said = []
    for path in paths:
        found = _named_like(header(path), "id")
        if found:
            said.append(f"{path} has a column {found[0]!r}, but no {columns.option('id')} was given: its prompts "
                        f"were stored under ids derived from time, text and line, which labels keyed by "
                        f"{found[0]!r} do not join; score it again with {columns.option('id')} {found[0]} (the "
                        f"stored prompts move to their logged ids, none is scored twice), or {columns.option('id')} "
                        "'' to keep derived ids without this warning")
    return said


def unpredicted_logs(columns: Columns, paths: list[Path], header: Callable[[Path], set[str]] = header_names
                     ) -> list[str]:
    """Logs without the prediction column but with one named like it ('prediction', 'intent'...): the
    prompts were stored without the labels absorbing novel traffic, and nothing said so (QA)."""
    if not columns.label:
        return []
    said = []
    for path in paths:
        names = header(path)
        found = _named_like(names, "pred", but="label")  # a log's 'label' is often the true one
        if found and bare_name(columns.label) not in {bare_name(n) for n in names}:  # ('Predicted Label' is read
            # as predicted_label: review)
            said.append(f"{path} has no {columns.label!r} column but one named {found[0]!r}: its prompts were stored "
                        f"without a predicted label; if {found[0]!r} holds the model's prediction, score it again "
                        f"with {columns.option('label')} {found[0]} (the stored prompts gain their labels, none is "
                        "scored twice)")
    return said


def mixed_runs(store: Store, run_id: int, alpha: float) -> list[str]:
    """What is wrong with mixing this run with the database's earlier ones: `spikes` compares days by
    their novel flags, so a run at another alpha makes its days look different (a false spike, or a
    missed one); one against another index mixes scores of two scales. (Said by the CLI alone, a
    library caller mixed them unwarned.)"""
    others, indexes = store.other_runs(run_id, alpha)
    db = store.path
    said = []
    if indexes:  # QA: ensemble scores (standardised) and knn ones (1 - cosine) sorted as one
        said.append(f"earlier runs in {db} scored against {', '.join(map(repr, indexes))}, this one against "
                    "another index: their novelty scores and thresholds differ, and spikes, clusters and the queue "
                    "read them as one series; keep one index per database (`novelty index add` extends it)")
    if others:
        said.append(f"this run flagged prompts at alpha {alpha:g}, earlier runs in {db} at "
                    f"{', '.join(f'{a:g}' for a in others)}: `novelty spikes` now counts every day at {alpha:g} "
                    "from the stored p-values, but clusters, the queue and the novel counts of `score` and `report` "
                    "keep each run's flags; score every day at one alpha")
    return said


def run_scoring(engine_name: str, engine: Callable[[PromptIndex, RowScorer], Engine],
                paths: Sequence[str | Path], index: PromptIndex | str, db: str | Path | None, *,
                out_parquet: str | Path | None = None, columns: Columns = Columns(),
                alpha: float | None = None, chunk_rows: int = 5000, max_chars: int = MAX_CHARS,
                index_dir: str | Path | None = None, progress: Progress | None = None,
                params: dict | None = None, cache_size: int = CACHE_SIZE, redact: bool = False,
                redact_before_embed: bool = False) -> ScoreResult:
    """Read, gate and write on this process; ``engine(index, scorer)`` scores what the gate lets through.

    Past ``cache_size`` stored vectors, the least recently scored ones of never-novel prompts are
    evicted after the run (the vectors double as a cache: a text seen before is never re-embedded).
    ``redact`` stores text (and rejected rows) with private data replaced (see ``novelty.redact``);
    the embedding still sees the original unless ``redact_before_embed``.
    """
    # a library caller's wrong kind of value: said, not a TypeError from deep inside (and a numpy
    # float32 alpha was stored as a BLOB that every later spikes run failed on)
    check_argument("columns", columns, Columns, "a novelty.logs.Columns, e.g. Columns(text='prompt', id='request_id')")
    if db is not None:
        check_argument("db", db, (str, Path), "the SQLite file's path, such as 'monitor.db'")
    if alpha is not None:
        check_argument("alpha", alpha, float, "a number between 0 and 1, such as 0.05")
    for name, value in (("chunk_rows", chunk_rows), ("max_chars", max_chars), ("cache_size", cache_size)):
        check_argument(name, value, int, "a whole number")
    chunk_rows, max_chars, cache_size = int(chunk_rows), int(max_chars), int(cache_size)  # numpy's reach SQLite
    if progress is not None and not callable(progress):
        raise InputError(f"progress is a function called with the rows done, not {type(progress).__name__}")
    if chunk_rows < 1 or max_chars < 1 or cache_size < 0:  # before a database is made or a run recorded
        raise InputError(f"--chunk-rows and --max-chars must be at least 1 and --cache-size at least 0 "
                         f"(got {chunk_rows}, {max_chars}, {cache_size})")
    named: dict[Path, Path] = {}
    for path in map(Path, as_paths(paths)):  # a file named twice (two spellings, overlapping globs) is read once, as first named
        named.setdefault(path.resolve(), path)
    paths = list(named.values())
    if not paths:  # was a run of nothing recorded in the database (the CLI asks for a log itself)
        raise InputError("no log given: paths names one log file or several")
    empty = []
    for path in paths:  # binary, UTF-16: said before a database is made and a failed run recorded in it
        try:
            kind = detect_format(check_file(path, "the log files inside it"))
            if (why := without_rows(path, kind)) is not None:  # a header alone: as empty as no bytes
                raise EmptyFileError(f"{path} holds {why}: there is nothing to read")
        except EmptyFileError:  # a day without traffic: nothing to read, and no reason to stop the others
            if len(empty) == len(paths) - 1:  # ...but the last, after only empty ones: nothing at all to read
                raise
            empty.append(path)
    paths = [p for p in paths if p not in empty]
    _named_somewhere(columns, paths)
    index = index if isinstance(index, PromptIndex) else PromptIndex.load(index, index_dir)
    scorer = RowScorer(index, alpha)
    score_chunks = engine(index, scorer)  # a Ray cluster it cannot join: said before a database is made
    sink = open_sink(db, out_parquet)
    try:
        earlier = sink.earlier_id_column() if columns.id is None and hasattr(sink, "earlier_id_column") else None
        logged = [p for p in paths if earlier in log_columns(p)] if earlier else []
        if logged:  # derived ids would store again every row those runs keyed by the logged id
            raise InputError(f"{logged[0]} has the column {earlier!r}, which earlier runs in {db} read prompt ids "
                             "from; without it ids derive from time, text and line, and rows those runs scored "
                             f"would be stored a second time. Set {columns.option('id')} to {earlier!r}, or to '' "
                             "to derive ids anyway")
        sink.bind_model(index.model["name"], index.model["revision"], index.model["dimension"])
        gate = Gate(sink, index.model["dimension"], redact, redact_before_embed)
        gate.limit = index.reading_limit()
        gate.run_id = run_id = sink.start_run(
            sources=json.dumps([str(p) for p in paths]), index_name=index.name,
            index_checksum=index.checksum, model=index.model["name"],
            model_revision=index.model["revision"], dimension=index.model["dimension"],
            scorer=json.dumps(index.manifest["scorer"]), alpha=scorer.calibration.alpha,
            threshold=scorer.calibration.threshold, novelty_version=__version__,
            params=params_json({"columns": asdict(columns), "chunk_rows": chunk_rows, "max_chars": max_chars,
                                "engine": engine_name, "redact": redact,
                                "redact_before_embed": redact_before_embed,
                                "calibration_size": int(len(scorer.calibration.scores)), **(params or {})}))
        sink.record_training_labels(index.checksum, index.label_counts())
        if hasattr(sink, "runs_like"):
            like, unlike = sink.runs_like(index.checksum, scorer.calibration.alpha)
            gate.runs_like = (like - {run_id}, unlike - {run_id})
        started, counts = time.perf_counter(), Counts()

        broken: list[InputError] = []  # a log cut short or damaged: said once the others are scored

        def prepared() -> Prepared:
            for path in paths:  # (QA: a cut gzip second of three, the third never read)
                batches = read_batches(path, columns, chunk_rows, max_chars)
                while True:
                    try:
                        batch = next(batches)
                    except StopIteration:
                        break
                    except InputError as exc:
                        broken.append(exc)
                        break
                    counts.unread_labels += batch.unread_labels
                    counts.unread_example = counts.unread_example or batch.unread_example
                    yield gate.prepare(batch, str(path.resolve()), counts)

        try:
            shown = 0
            for rows, fresh, rejects in score_chunks(prepared(), run_id):
                rows, rejects = gate.as_stored(rows, rejects)
                written = sink.write_chunk(rows, fresh, rejects, gate.reread)
                counts.skipped += len(rows) - len(written)  # another run scored them meanwhile
                counts.add_written(written, rejects)
                gate.written()
                if progress:
                    progress(counts.read - shown)
                    shown = counts.read
            if broken:  # raised here, past the engine: Ray scores the chunks it gathered first (review)
                first = broken[0]
                if len(paths) > 1:
                    first.args = (f"{first}; the other logs of this run were read"
                                  + (f" ({len(broken) - 1} more failed: {'; '.join(map(str, broken[1:3]))})"
                                     if len(broken) > 1 else ""),)
                raise first
        except BaseException as exc:
            stopped = isinstance(exc, (KeyboardInterrupt, SystemExit))  # Ctrl-C, or kill (SIGTERM) unwinding
            if isinstance(exc, DamagedFileError) and not hasattr(sink, "forget_source"):  # Parquet shards stay
                exc.args = (str(exc).replace("nothing read from it was kept", "the rows read from it before the "
                                             "damage showed are in the Parquet output"),)
            with contextlib.suppress(NoveltyError, sqlite3.Error):  # a full disk must not hide the first error
                for damaged in dict.fromkeys([exc, *broken]):  # its rows may be garbage (as rows name it:
                    if isinstance(damaged, DamagedFileError) and hasattr(sink, "forget_source"):  # batch.source)
                        counts.rejected -= sink.forget_source(run_id, str(damaged.path))
                stored = sink.run_counts(run_id) if hasattr(sink, "run_counts") else {}  # the tables, not the tally
                # (rejects stay the tally's: it counts a rerun's rows set aside again, as a finished run does)
                sink.finish_run(run_id, "interrupted" if stopped else "failed", **{**_run_fields(counts, started),
                                                                                   **stored})
            raise
        sink.finish_run(run_id, "done", **_run_fields(counts, started))
        if gate.counted_from and hasattr(sink, "retire_tested"):
            sink.retire_tested(run_id, gate.counted_from)
        sink.bound_embeddings(cache_size)
        header = functools.cache(header_names)  # each log's column names read once, for the warnings
        stored = not out_parquet  # (a database remembers other runs; Parquet shards do not)
        said = [*unread_labels(counts, columns), *untimed_logs(columns, paths, stored, header),
                *(unkeyed_logs(columns, paths, header) if stored else []), *unpredicted_logs(columns, paths, header),
                *(mixed_runs(sink, run_id, scorer.calibration.alpha) if stored else [])] if counts.scored else []
        return ScoreResult(
            run_id=run_id, db=str(out_parquet or db), index=index.name, sources=[str(p) for p in paths],
            rows_read=counts.read, scored=counts.scored, skipped=counts.skipped, expired=counts.expired,
            rejected=counts.rejected, novel=counts.novel,
            novel_rate=counts.novel / counts.scored if counts.scored else 0.0,
            alpha=scorer.calibration.alpha,
            novel_p_value=excess_over_rate(counts.novel, counts.scored, scorer.calibration.alpha),
            seconds=round(time.perf_counter() - started, 3), top_novel=sink.top_novel(run_id),
            reject_reasons=counts.reject_reasons(), engine=engine_name, empty_files=[str(p) for p in empty],
            future=counts.future, latest_future=counts.latest_future, earlier=counts.earlier,
            earlier_novel=counts.earlier_novel, earlier_other=counts.earlier_other, labelled_now=counts.labelled_now,
            agent_steps=counts.agent_steps, truncated=counts.truncated,
            logs_novel_p_value=excess_over_rate(counts.novel + counts.earlier_novel, counts.scored + counts.earlier,
                                                scorer.calibration.alpha),
            warnings=gate.reused_names() + said + _cut_short(counts, gate.limit)
            + ([ALL_REJECTED.format(counts.rejected)]  # (QA: a notebook's
               if counts.read and counts.rejected == counts.read else []))
    finally:  # log of only bad rows returned without a word, where the CLI exits 2)
        sink.close()


def _cut_short(counts: Counts, limit) -> list[str]:
    """A warning when prompts were longer than the encoder reads (QA: 500-word e-mails with the question
    past token 256 were scored on their greeting alone, 100 % novel, and nothing said so)."""
    if not counts.truncated:
        return []
    share = counts.truncated / counts.scored if counts.scored else 1.0
    return [f"{counts.truncated:,} prompts ({share:.0%}) are longer than the encoder reads ({limit.tokens} tokens, "
            "about 1,000 characters of English): only their start was scored, so a question further in is "
            "unseen. If users paste long messages, score the question (or a summary) instead"]


ALL_REJECTED = ("no row could be scored: all {:,} were set aside (they are in the rejects table; the result's "
                "reject_reasons says why)")


def _run_fields(counts: Counts, started: float) -> dict:
    return {"rows_read": counts.read, "rows_scored": counts.scored, "rows_skipped": counts.skipped,
            "rows_rejected": counts.rejected, "novel": counts.novel,
            "seconds": round(time.perf_counter() - started, 3)}


