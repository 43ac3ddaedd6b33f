"""Prediction-label bias: windows of novel rates, spike tests, and the labels that absorb new traffic.

One novel prompt is noise; a window with more novel prompts than expected is a new kind of user
question. Each window is tested two ways against its expectation: an exact one-sided test of its
novel count, and a tail test that weighs how novel its prompts are (``-log(p / tail)`` summed over the
p-values below ``tail``); the two combine by weighted Bonferroni (``tail_share`` of the level to the
tail test), and Benjamini-Hochberg keeps the false-discovery rate across the windows decided in a run.
A Gaussian CUSUM on the tail test's z-score catches slow rises that no single window shows. The
expectation comes from a trailing baseline of earlier windows (never the window itself), or from the
calibration until ``min_baseline`` such windows exist.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import math
import numbers
import re
import sqlite3
from dataclasses import asdict, dataclass, field, replace
from typing import NamedTuple
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from scipy.stats import norm

from .errors import InputError, check_argument
from .logs import format_bound, label_form, sql_bound
from .render import READ_ONLY, UNFINISHED
from .stats import (benjamini_hochberg, common_sample, excess_over_rate, excess_over_reference, excess_tail,
                    goodness_of_fit, neighbour_test, tail_weights, wilson_interval)
from .store import PRUNED_ALPHAS, Store, existing_db, pruned_novel_column, storage_error, utc_now

_UNITS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_MONDAY = 3 * 86400  # the epoch was a Thursday: shift so weeks start on Monday


def window_key(window: str, step: str | None) -> str:
    """How windows of ``window`` (sliding by ``step``) are keyed: '1d', or '1d/12h'."""
    return f"{window}/{step}" if step else window


def window_seconds(text: str, limit_days: int | None = None, what: str = "window") -> int:
    """'30m', '1h', '1d', '7d', '2w' -> seconds; a window is at most ``limit_days`` long (ten years unless
    said; 0: no limit, for an age such as prune's --older-than). ``what`` the span is, for its error.

    >>> window_seconds("1d"), window_seconds("90m")
    (86400, 5400)
    """
    check_argument(what, text, str, "a span such as 30m, 1h, 1d or 7d")  # 3600 was a TypeError from re
    match = re.fullmatch(r"\s*(\d+)\s*([mhdw])\s*", text)
    if not match or int(match.group(1)) == 0:
        raise InputError(f"{what} {text!r} should look like 30m, 1h, 1d or 7d")
    seconds = int(match.group(1)) * _UNITS[match.group(2)]
    limit = MAX_WINDOW_DAYS if limit_days is None else limit_days
    if limit and seconds > limit * 86_400:  # SQLite's integers and Python's dates end not far beyond
        raise InputError(f"{what} {text!r} is longer than {limit:,} days")
    return seconds


MAX_WINDOW_DAYS = 3_653


@dataclass(frozen=True)
class SpikeSettings:
    """How windows are cut and tested. Defaults suit a log of a few hundred prompts a day or more."""

    window: str = "1d"
    step: str | None = None          # smaller than window for sliding windows
    fdr: float = 0.005               # false-discovery rate across the windows decided in one run
    baseline_windows: int = 14       # trailing windows pooled into the expected rate
    min_baseline: int = 3            # fewer earlier windows than this: expect alpha instead
    min_prompts: int = 30            # smaller windows are reported but not tested
    tail: float = 0.1                # p-values below this feed the tail test
    tail_share: float = 0.8          # share of the window's level given to the tail test (the rest: count)
    cusum_drift: float = 1.0         # z-score a quiet window may add to the CUSUM without raising it
    cusum_limit: float = 2.5         # CUSUM value that raises an alarm (alone about 1 per 275-400 quiet windows:
    # neighbours share a baseline, so their z-scores are not independent; with the window tests under 1 per 100)
    neighbour_weight: float = 0.7    # weight of the neighbour test beside the tail test's (Stouffer); 0: tail alone

    @property
    def key(self) -> str:
        """The ``window_size`` that windows and incidents are saved under: sliding windows ('1d/12h')
        never share rows or incident ids with the fixed windows of the same size."""
        return window_key(self.window, self.step)

    def __post_init__(self) -> None:
        check_argument("window", self.window, str, "a span such as '1d', '6h' or '7d'")  # window=1: a TypeError
        check_argument("step", self.step, (str, type(None)), "None or a span shorter than window, such as '6h'")
        for name, kind in (("fdr", float), ("baseline_windows", int), ("min_baseline", int), ("min_prompts", int),
                           ("tail", float), ("tail_share", float), ("cusum_drift", float), ("cusum_limit", float),
                           ("neighbour_weight", float)):
            check_argument(name, getattr(self, name), kind, "a whole number" if kind is int else "a number")
        for name in ("window", "step"):  # ' 1d' and '1d' are one key
            if isinstance(getattr(self, name), str):
                object.__setattr__(self, name, getattr(self, name).strip())
        if self.step == "":  # no step, as the rest of the code reads an empty one (review)
            object.__setattr__(self, "step", None)
        checks = [(0 < self.fdr < 1, "--fdr is a false-discovery rate between 0 and 1 (e.g. 0.005)", self.fdr),
                  (self.baseline_windows >= 1, "--baseline-windows must be at least 1", self.baseline_windows),
                  (self.min_baseline >= 1, "the minimum baseline must be at least 1 window", self.min_baseline),
                  (self.min_prompts >= 0, "--min-prompts cannot be negative", self.min_prompts),
                  (0 < self.tail < 1, "--tail is a p-value cut-off between 0 and 1 (e.g. 0.1)", self.tail),
                  (0 < self.tail_share < 1, "the tail test's share of the level is between 0 and 1", self.tail_share),
                  (self.cusum_drift >= 0 and self.cusum_limit > 0,
                   "the CUSUM needs a drift >= 0 and a limit > 0", (self.cusum_drift, self.cusum_limit)),
                  (self.neighbour_weight >= 0, "the neighbour test's weight cannot be negative", self.neighbour_weight)]
        for ok, message, value in checks:
            if not ok:
                raise InputError(f"{message} (got {value})")
        # a window or step that is no span, or a step that does not divide the window: said here, not when
        # detect_spikes first reads them (QA: SpikeSettings(step='1x') blamed the window)
        size = window_seconds(self.window)
        if self.step is not None and size % window_seconds(self.step, what="step"):
            raise InputError(f"--step {self.step} must divide --window {self.window}")


@dataclass(frozen=True)
class Window:
    window_start: str
    window_end: str
    prompts: int
    novel: int
    novel_rate: float
    ci_low: float
    ci_high: float
    expected_rate: float | None
    baseline: str
    p_value: float | None
    q_value: float | None = None
    cusum: float = 0.0
    flagged: bool = False
    detectors: tuple[str, ...] = ()
    count_p: float | None = None     # the two tests behind p_value (weighted Bonferroni)
    tail_p: float | None = None
    decided: bool = False            # decided by an earlier run; kept as it was
    tail_sum: float = 0.0            # the tail test's statistic: sum (and sum of squares) of the window's
    tail_sum_sq: float = 0.0         # tail weights, saved so a pruned window still counts in baselines
    neighbour_p: float | None = None  # the neighbour test's (stats.neighbour_test), folded into the tail test's


@dataclass(frozen=True)
class Incident:
    kind: str
    window_start: str
    window_end: str
    severity: str
    p_value: float
    details: dict = field(default_factory=dict)

    @property
    def incident_id(self) -> str:
        key = f"{self.kind}\x1f{self.details.get('window_size')}\x1f{self.window_start}"
        return hashlib.blake2b(key.encode(), digest_size=8).hexdigest()


@dataclass(frozen=True)
class SpikeReport:
    db: str
    window: str
    alpha: float | None
    windows: list[Window]
    incidents: list[Incident]
    span: tuple[str, str] | None = None  # first start and last end of all windows, the range aside
    new_incidents: list[str] = field(default_factory=list)  # ids of incidents no alert was raised for yet
    notes: list[str] = field(default_factory=list)  # what the counts rest on that the user should know
    step: str | None = None  # of sliding windows
    flagged_late: list[str] = field(default_factory=list)  # ids of incidents of windows an earlier run decided
    # quiet, flagged now as a late log added prompts to them
    read_only: bool = False  # this user may only read the database: nothing was saved, no alert recorded

    @property
    def key(self) -> str:
        """The ``window_size`` its windows and incidents are saved under."""
        return window_key(self.window, self.step)

    def to_dict(self) -> dict:
        return {"db": self.db, "window": self.window, "step": self.step, "alpha": self.alpha,
                "windows": [asdict(w) for w in self.windows],
                "incidents": [{"incident_id": i.incident_id, **asdict(i)} for i in self.incidents],
                "new_incidents": self.new_incidents, "flagged_late": self.flagged_late, "notes": self.notes,
                "read_only": self.read_only}




def detect_spikes(db: str | Path, settings: SpikeSettings = SpikeSettings(), since: str | None = None,
                  until: str | None = None, save: bool = True, retest: bool = False) -> SpikeReport:
    """Cut ``scores`` into windows, test each, and record windows and ``label_bias`` incidents.

    A window is decided once: when it has ended, the saved verdict is final, so a daily run tests
    only the new day and yesterday's alert never flips. The false-discovery rate is controlled
    across the windows decided together (one a day under cron; all of them in a first run over a
    backfill). ``retest`` forgets the saved verdicts of the reported range and decides it afresh.
    """
    existing_db(db)
    check_argument("settings", settings, SpikeSettings, "a novelty.spikes.SpikeSettings, e.g. SpikeSettings(window='1h')")
    since_ts, until_ts = parse_range(since, until)

    def in_range(start: str) -> bool:
        return (not since_ts or start >= since_ts) and (not until_ts or start < until_ts)

    store = Store(db)
    try:
        settings = saved_spelling(store, settings)
        since_ts = since_ts and _window_start(since_ts, settings)
        alpha = store.latest_alpha()
        unfinished = alpha is None and store.db.execute(  # a first score still running (or killed): windows
            "SELECT count(*) FROM runs WHERE status IN ('running', 'interrupted')").fetchone()[0] > 0  # untested
        save = save and not unfinished and not store.read_only  # unfinished: saved now, they would be the
        # trailing baseline later windows were judged against; read-only: an archive or a colleague's copy is
        # tested as it stands (saving failed with exit 2, and a run that saves nothing new saves nothing)
        # --until inside a window, with prompts after it (a backfill, a page 'as it was then'): the window
        # counts the prompts before it only, and is neither read nor saved as decided (it counted the
        # whole week, later prompts and examples included, and flagged it)
        cut = until_ts if until_ts and _logged_since(store, until_ts) else None
        size = window_seconds(settings.window)
        whole = lambda start: not cut or _epoch(start) + size <= _moment(cut)  # noqa: E731
        decided = {} if retest else _decided(store, settings, lambda start: in_range(start) and whole(start))
        runs, sizes = store.calibrations()
        now = _moment(until_ts) if until_ts else datetime.now(timezone.utc).timestamp()
        conn = store.db.conn
        began = not conn.in_transaction
        if began:  # one snapshot for the counts and the neighbour test's prompts: a score run writing meanwhile
            conn.execute("BEGIN")  # must not add prompts to one and not the other
        try:
            counts, pruned = _count_windows(store, settings, alpha, cut, runs)
            neighbours = _neighbour_reader(store, settings, alpha, cut, _saved_neighbours(store, settings, retest,
                                                                                          in_range)) \
                if settings.neighbour_weight else None
            windows = _test(counts, settings, alpha, decided, in_range, store.latest_calibration_size(), now, sizes,
                            neighbours)
        finally:
            if began and conn.in_transaction:
                conn.execute("COMMIT")
        shown = [w for w in windows if in_range(w.window_start)]
        # a window that began before prune's cut-off may have lost prompts even when pruned_counts gives its
        # count back: its examples and labels are read as saved, not from the few rows left (a --retest or a
        # late log rebuilt them from them: 'no predicted labels logged', other absorbing labels)
        cutoff = store.pruned_before()
        incidents = [_incident(store, w, windows, settings, w.decided or w.window_start in pruned
                               or bool(cutoff and w.window_start < cutoff), alpha, cut)
                     for w in shown if w.flagged]
        # new: touching no window an alert was raised for (``mark_alerted``); a window in progress is
        # flagged on every run, a sliding one under a new start each step, an ongoing spike day after day
        raised = list(store.db.execute("SELECT window_start, window_end FROM alerted WHERE window_size = ?",
                                       [settings.key]))
        earlier = list(store.db.execute(
            "SELECT window_start, window_end FROM incidents WHERE kind = 'label_bias' AND status = 'open' "
            "AND json_valid(details) AND json_extract(details, '$.window_size') = ? AND window_start IS NOT NULL "
            "AND window_end IS NOT NULL", [settings.key]))
        quiet = {w.window_start for w in shown if not w.flagged}  # withdrawn by this run: no link any more
        new = _unalerted(incidents, raised, [span for span in earlier if span[0] not in quiet])
        # decided quiet by an earlier run, flagged now that a late log added prompts to it: a window of any
        # age (`novelty run` alerts on those outside alert.lookback too, once: next run it is decided flagged)
        late = [i.incident_id for i in incidents if i.window_start in decided and not decided[i.window_start][3]]
        if save:  # a window --until cut is not saved: its row holds (or will hold) the whole window
            _save(store, settings, [w for w in shown if whole(w.window_start)],
                  [i for i in incidents if whole(i.window_start)])
        span = (windows[0].window_start, windows[-1].window_end) if windows else None
        notes = [UNFINISHED] if unfinished else []
        notes += [READ_ONLY.format(db=db)] if store.read_only else []
        notes += [] if alpha is None or _pruned_novel(alpha) != "novel" or not pruned_any(store) else [
            f"days prune deleted count their novel prompts at the alpha they were scored at: it keeps counts at "
            f"{', '.join(map(str, PRUNED_ALPHAS))}, not at {alpha}"]
        notes += _skipped(shown, settings) + _too_small(shown, settings)
        return SpikeReport(str(db), settings.window, alpha, shown, incidents, span, new, notes, settings.step, late,
                           store.read_only)
    finally:
        store.close()


def _unalerted(incidents: list[Incident], raised: list[tuple], earlier: list[tuple]) -> list[str]:
    """Ids of the ``incidents`` whose spike no alert was raised for: a run of windows (these incidents
    and those stored, ``earlier``) holding no ``raised`` window, where one quiet window between two
    flagged ones does not end the run (a slow rise's quieter Sunday alerted its Monday again as a new
    spike). Touching only the raised window itself made every other day of an ongoing spike 'new'.

    >>> day = lambda d: Incident("label_bias", f"2026-03-{d:02d}", f"2026-03-{d + 1:02d}", "high", 0.0)
    >>> new = _unalerted([day(18), day(25)], [("2026-03-16", "2026-03-17")], [("2026-03-17", "2026-03-18")])
    >>> new == [day(25).incident_id]  # the 18th continues the spike alerted on the 16th, through the 17th
    True
    >>> _unalerted([day(19), day(21)], [("2026-03-17", "2026-03-18")], [])  # one quiet day each: one spike
    []
    """
    spans = sorted([(start, end, None) for start, end in raised + earlier]
                   + [(i.window_start, i.window_end, i.incident_id) for i in incidents], key=lambda span: span[:2])
    new, group, group_end, alerted = [], [], None, False
    for start, end, incident_id in spans + [(None, None, None)]:
        if start is None or (group_end is not None and _moment(start) - _moment(group_end) > _moment(end) -
                             _moment(start)):  # more than one quiet window between: the spike before ended
            new += [] if alerted else [i for i in group if i]
            group, group_end, alerted = [], None, False
            if start is None:
                break
        group.append(incident_id)
        group_end = end if group_end is None else max(group_end, end)
        alerted = alerted or (start, end) in raised and incident_id is None
    return [i.incident_id for i in incidents if i.incident_id in set(new)]


def saved_spelling(store: Store, settings: SpikeSettings) -> SpikeSettings:
    """``settings`` with the window (and step) spelled as ``store`` already saves them (the first such
    key in sort order, should there be several): 24h, 1440m and 1d cut the same windows, so they share
    saved verdicts, incidents and alerts instead of each spelling testing and alerting on its own
    (``--window 24h`` after a cron of ``1d`` raised every incident again)."""
    def seconds(window: str, step: str | None) -> tuple:
        return window_seconds(window), window_seconds(step) if step else None

    wanted = seconds(settings.window, settings.step)
    keys = [key for (key,) in store.db.execute(
        "SELECT window_size FROM windows GROUP BY window_size UNION SELECT window_size FROM alerted "
        "UNION SELECT json_extract(details, '$.window_size') FROM incidents WHERE kind = 'label_bias' "
        "AND json_valid(details)") if isinstance(key, str)]
    if settings.key in keys:
        return settings
    for key in sorted(keys):
        window, _, step = key.partition("/")
        try:
            if seconds(window, step or None) == wanted:
                return replace(settings, window=window, step=step or None)
        except InputError:  # a key this version cannot read: not ours
            continue
    return settings


def mark_alerted(db: str | Path, report: SpikeReport) -> None:
    """Record that an alert was raised for ``report``'s new incidents (``spikes --fail-on
    new-incident`` does, when it fails): they, and windows touching theirs, are not new again."""
    store = Store(db)
    try:
        now = utc_now()
        store.transaction(lambda: store.db.conn.executemany(
            "INSERT OR IGNORE INTO alerted VALUES (?, ?, ?, ?, ?)",
            [(i.incident_id, i.details.get("window_size"), i.window_start, i.window_end, now)
             for i in report.incidents if i.incident_id in report.new_incidents]))
    finally:
        store.close()


def _too_small(shown: list[Window], settings: SpikeSettings) -> list[str]:
    """A note on the windows with prompts too few to test (under --min-prompts): hourly windows of a
    quiet bot were all but one untested, a day 31 % novel among them, under "No incident" (QA)."""
    small = [w for w in shown if 0 < w.prompts < settings.min_prompts]
    if not small:
        return []
    held, total = sum(w.prompts for w in small), sum(w.prompts for w in shown)
    return [f"{len(small):,} of the {sum(1 for w in shown if w.prompts):,} windows with prompts had fewer than "
            f"--min-prompts ({settings.min_prompts}) and were not tested ({held:,} of {total:,} prompts, "
            f"{held / total:.1%}): their rates are shown, not judged; a longer --window pools them"]


def parse_range(since: str | None, until: str | None) -> tuple[str | None, str | None]:
    """--since and --until as canonical times; an empty range (since at or after until) is an error."""
    since_ts, until_ts = parse_bound(since, "--since"), parse_bound(until, "--until")
    if since_ts and until_ts and since_ts >= until_ts:
        raise InputError(f"--since {since} is not before --until {until}: the range is empty")
    return since_ts, until_ts


def parse_bound(value: str | None, flag: str) -> str | None:
    """A --since / --until value as a canonical UTC time string (None stays None). Digits alone are a
    date written without dashes (``20261124``) or epoch seconds / milliseconds (10 / 13 digits); any
    other count of digits (``2026``) is refused, not read as seconds after 1970 and clamped to 1990.

    >>> parse_bound("20261124", "--since"), parse_bound("1764028800", "--since")
    ('2026-11-24T00:00:00Z', '2025-11-25T00:00:00Z')
    >>> parse_bound("-7", "--since")
    Traceback (most recent call last):
    novelty.errors.InputError: --since '-7' is not a date or time: give a date such as 2026-11-25 (a count of days back is not taken)
    """
    if value is None:
        return None
    if isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_)):  # the library's since=20261124,
        if not float(value).is_integer():  # as the CLI's; numpy's too (df['day'].max() was read as 1990)
            raise InputError(f"{flag} {value!r} is not a date or time: give a date such as 2026-11-25")  # (3.5: 1990)
        value = str(int(value))
    if isinstance(value, str) and re.fullmatch(r"\s*[+-]\s*\d+(\.\d*)?\s*", value):  # -7 meant 7 days back,
        raise InputError(f"{flag} {value!r} is not a date or time: give a date such as 2026-11-25 "  # read as
                         "(a count of days back is not taken)")  # epoch seconds, it was 1990: every window
    digits = isinstance(value, str) and value.strip().isdigit()
    if digits and len(value.strip()) == 8:
        value = f"{value.strip()[:4]}-{value.strip()[4:6]}-{value.strip()[6:]}"
    elif digits and len(value.strip()) not in (10, 13):
        raise InputError(f"{flag} {value!r} is not a date or time (try 2026-11-25)")
    stamp = format_bound(value)
    if stamp is None:
        raise InputError(f"{flag} {value!r} is not a date or time (try 2026-11-25)")
    return stamp


# -- counting ---------------------------------------------------------------------------------------
def _novel(alpha: float | None) -> str:
    """SQL for 'novel at ``alpha``' (the latest run's): from the stored p-value, so days scored at
    another alpha count alike (is_novel at 0.01 against 0.05 made a quiet day a 5.6x spike)."""
    return "is_novel" if alpha is None else f"(p_value <= {float(alpha)!r})"


def _pruned_novel(alpha: float | None) -> str:
    """SQL for a pruned minute's novel count at ``alpha``: kept for each of PRUNED_ALPHAS; at another
    alpha, or for a minute pruned before they were kept, the count at the alpha it was scored at."""
    kept = next((a for a in PRUNED_ALPHAS if alpha is not None and math.isclose(a, alpha)), None)
    return "novel" if kept is None else f"COALESCE({pruned_novel_column(kept)}, novel)"


def pruned_any(store: Store) -> bool:
    return store.db.execute("SELECT 1 FROM pruned_counts LIMIT 1").fetchone() is not None


def _logged_since(store: Store, stamp: str) -> bool:
    """Whether any prompt (kept, or counted by prune) is logged at or after ``stamp``."""
    return store.db.execute(
        "SELECT EXISTS (SELECT 1 FROM scores WHERE ts >= ?) OR EXISTS (SELECT 1 FROM pruned_counts WHERE "
        "minute * 60 >= ?)", [sql_bound(stamp), _moment(stamp)]).fetchone()[0] == 1


def _grid(settings: SpikeSettings) -> tuple[int, int]:
    """Where windows start: every ``step`` seconds (the window, when fixed) after the epoch moved back
    by the offset (weeks start on Monday)."""
    size = window_seconds(settings.window)  # (a step that divides it: SpikeSettings checks that when made)
    step = window_seconds(settings.step) if settings.step else size
    return step, window_offset(size) if step == size else 0


def window_offset(size: int) -> int:
    """Seconds the epoch moves back so windows of ``size`` seconds start where a reader expects: weeks on
    Monday (spikes, drift and feedback windows alike; drift's and feedback's began on Thursdays: QA).

    >>> window_offset(7 * 86400), window_offset(86400)
    (259200, 0)
    """
    return _MONDAY if size % (7 * 86400) == 0 else 0


def _window_start(stamp: str, settings: SpikeSettings) -> str:
    """The start of the window ``stamp`` (a canonical time) falls in: ``--since`` inside a window shows
    it, as ``--until`` inside one counts it (a --since at noon hid the day's incident)."""
    step, offset = _grid(settings)
    return _iso(int((_moment(stamp) + offset) // step * step - offset))


def _count_windows(store: Store, settings: SpikeSettings, alpha: float | None = None, cut: str | None = None,
                   runs: dict[int, str] | None = None
                   ) -> tuple[list[tuple[int, int, int, float, float, dict[str, int]]], set[str]]:
    """(start in epoch seconds, prompts, novel at ``alpha``, sum and sum of squares of the tail
    weights, prompts per calibration) for every window from the first to the last; and the starts of
    the windows counted as saved. ``cut``: count only the prompts logged before it (a canonical time);
    ``runs``: run_id -> the index checksum that scored it (``Store.calibrations``), read when not given.

    What ``prune`` deleted counts on from ``pruned_counts``, so pruning old prompts deletes text, not
    history: the listed counts and the baseline of later windows stay the same, and a late log for a
    pruned day adds to them. A saved window with more prompts than that (pruned before
    ``pruned_counts`` was kept) counts as it was saved."""
    size, (step, offset) = window_seconds(settings.window), _grid(settings)
    bucket = "(CAST(strftime('%s', ts) AS INTEGER) + ?) / ?"
    before = sql_bound(cut) or "9999"  # ts < before; minute * 60 < end
    end = _moment(cut) if cut else 2.0 ** 62
    conn = store.db.conn
    began = not conn.in_transaction
    if began:  # one snapshot for the queries: a score run writing meanwhile must not add a bucket between
        conn.execute("BEGIN")
    try:
        # what prune deleted is counted on from pruned_counts (by minute), so a window a late log adds
        # prompts to is counted whole again, its pruned prompts too
        kept_bucket = "(minute * 60 + ?) / ?"
        # by run too: which calibration each prompt's p-value came from (pruned ones: not known, NULL)
        rows = list(conn.execute(
            f"SELECT bucket, run_id, SUM(n), SUM(k) FROM (SELECT {bucket} AS bucket, run_id, COUNT(*) AS n, "
            f"SUM({_novel(alpha)}) AS k FROM scores WHERE ts IS NOT NULL AND ts < ? GROUP BY bucket, run_id UNION ALL "
            f"SELECT {kept_bucket} AS bucket, NULL, SUM(prompts), SUM({_pruned_novel(alpha)}) FROM pruned_counts "
            "WHERE minute * 60 < ? GROUP BY bucket) "
            "GROUP BY bucket, run_id ORDER BY bucket", [offset, step, before, offset, step, end]))
        runs = store.calibrations()[0] if runs is None else runs
        tail = np.array(list(conn.execute(  # only the prompts in the tail: a small share of the table
            f"SELECT {bucket}, p_value FROM scores WHERE ts IS NOT NULL AND p_value < ? AND ts < ?",
            [offset, step, settings.tail, before])), dtype=float).reshape(-1, 2)
        kept_tail = np.array(list(conn.execute(
            f"SELECT {kept_bucket} AS bucket, SUM(tail_sum), SUM(tail_sum_sq) FROM pruned_counts "
            "WHERE minute * 60 < ? GROUP BY bucket", [offset, step, end])), dtype=float).reshape(-1, 3)
        saved = {_epoch(start): row for start, *row in conn.execute(  # those whole before the cut
            "SELECT window_start, prompts, novel, tail_sum, tail_sum_sq FROM windows "
            "WHERE window_size = ? AND prompts > 0", [settings.key]) if not cut or _epoch(start) + size <= end}
    except sqlite3.OperationalError as exc:  # a full disk for SQLite's sort files: said, not a traceback
        if "full" not in str(exc).lower():
            raise
        raise storage_error(store.path, exc) from None
    finally:
        if began and conn.in_transaction:  # SQLite rolled back a failed one: COMMIT would hide why
            conn.execute("COMMIT")
    span = size // step
    # a window starts at each bucket from span - 1 before the first stored one to the last, and at
    # each saved window's start; it sums the span buckets from its start
    data = sorted({b for b, *_ in rows})
    starts = [(start + offset) // step for start in saved]
    if not data and not starts:
        return [], set()
    spans = _spans(sorted({(b - span + 1, b) for b in data} | {(start, start) for start in starts}), settings, span,
                   step)
    # the windows' buckets laid end to end, each stretch followed by the span - 1 buckets its last windows reach
    los = np.array([lo for lo, _ in spans], dtype=np.int64)
    base = np.cumsum([0] + [hi - lo + span for lo, hi in spans])
    def at(buckets: np.ndarray) -> np.ndarray:  # where each bucket lies in the stretches laid end to end
        stretch = np.searchsorted(los, buckets, "right") - 1
        return base[stretch] + buckets - los[stretch]
    keys = sorted({runs[run] for _, run, *_ in rows if run in runs})  # the calibrations, by index checksum
    column = {key: 4 + i for i, key in enumerate(keys)}
    counts = np.zeros((int(base[-1]), 4 + len(keys)))  # prompts, novel, tail sums; prompts per calibration
    weights = tail_weights(tail[:, 1], settings.tail)
    if rows:
        placed = at(np.array([b for b, *_ in rows], dtype=np.int64))
        np.add.at(counts[:, 0], placed, [n for *_, n, _ in rows])
        np.add.at(counts[:, 1], placed, [k or 0 for *_, k in rows])
        known = [(i, column[runs[run]], n) for i, (_, run, n, _) in zip(placed, rows) if run in runs]
        if known:
            at_row, at_column, n = map(list, zip(*known))
            np.add.at(counts, (at_row, at_column), n)
    where = at(tail[:, 0].astype(np.int64))
    np.add.at(counts[:, 2], where, weights)
    np.add.at(counts[:, 3], where, weights ** 2)
    kept_at = at(kept_tail[:, 0].astype(np.int64))  # summed at the default tail cut-off when pruned
    np.add.at(counts[:, 2], kept_at, kept_tail[:, 1])
    np.add.at(counts[:, 3], kept_at, kept_tail[:, 2])
    sums = np.cumsum(np.vstack([np.zeros((1, counts.shape[1])), counts]), axis=0)
    out, pruned = [], set()
    for i, bucket in ((int(base[j]) + b - lo, b) for j, (lo, hi) in enumerate(spans) for b in range(lo, hi + 1)):
        start = bucket * step - offset
        n, k, s1, s2, *per_key = sums[i + span] - sums[i]
        mix = {key: int(round(m)) for key, m in zip(keys, per_key) if round(m)}
        kept = saved.get(start)
        if kept and kept[0] > round(n):  # pruned since it was saved
            if kept[2] is not None:
                s1, s2 = kept[2], kept[3]
            elif n:  # saved before the tail sums were: the prompts left stand for the pruned ones
                s1, s2 = s1 * kept[0] / n, s2 * kept[0] / n
            else:  # none left: what a window of uniform p-values holds (weights of mean t, E[w^2] = 2t)
                s1, s2 = kept[0] * settings.tail, kept[0] * 2 * settings.tail
            n, k = kept[0], kept[1]
            pruned.add(_iso(start))
        out.append((start, int(round(n)), int(round(k)), float(s1), float(s2), mix))
    return out, pruned


def _skipped(shown: list[Window], settings: SpikeSettings) -> list[str]:
    """A note on the empty windows ``_spans`` left out between the listed ones, naming the longest gap."""
    step = window_seconds(settings.step or settings.window)
    gaps = [(a, b, (_epoch(b.window_start) - _epoch(a.window_start)) // step - 1)
            for a, b in zip(shown, shown[1:]) if _epoch(b.window_start) - _epoch(a.window_start) > step]
    if not gaps:
        return []
    a, b, count = max(gaps, key=lambda gap: gap[2])
    far = " (a prompt stamped far from the rest: a mistyped year?)" if count * step > 365 * 86_400 else ""
    return [f"{sum(g[2] for g in gaps):,} empty windows of long stretches without prompts are not listed, the most "
            f"from {a.window_end} to {b.window_start} ({count:,}){far}"]


def _spans(marks: list[tuple[int, int]], settings: SpikeSettings, span: int, step: int) -> list[tuple[int, int]]:
    """The stretches of window starts (in buckets) to count. ``marks``: (the first window to count,
    the bucket after which empty windows follow) for each bucket holding prompts (the span windows
    holding it) and each saved window (itself). After a mark come its empty windows until a trailing
    baseline of empty windows alone, ``(baseline_windows + 1) * span``, the longest reach of
    ``_drafts``' ref: a window after more empty ones is decided as it would be after those alone. So a
    prompt stamped 2099 (a typo) is one more window, not every empty hour until then (640,000 windows
    `spikes` never finished testing; with 1d windows 27,000 empty days saved and listed). With
    --min-prompts 0 an empty window is tested, so every one is counted. A week of empty windows is kept
    at least (quiet nights stay on the hourly chart), and _BRIDGED more (a flagged window after a gap
    joined the run of flagged ones before it, at --baseline-windows 1: review)."""
    gap = max((max(settings.baseline_windows, _BRIDGED) + 1) * span, 7 * 86_400 // step) \
        if settings.min_prompts >= 1 else None
    out: list[list[int]] = []
    for lo, mark in marks:
        if out and (gap is None or lo <= out[-1][1] + 1):
            out[-1][1] = max(out[-1][1], mark + (gap or 0))
        else:
            out.append([lo, mark + (gap or 0)])
    out[-1][1] = max(mark for _, mark in marks)  # windows end with the last bucket (none after it)
    return [(lo, hi) for lo, hi in out]


# -- testing ----------------------------------------------------------------------------------------
# the conformal null joins a trailing reference as this many prompts: a reference of three night hours
# of 25 prompts each, two of them in the tail, made a usual hour look extreme (mean z -1.1, sd 2.6 on
# quiet 1h windows: 1.9 false alarms per 100, mostly the CUSUM's); with 30 (a window of the default
# --min-prompts) 0.5, while 14 days of 500 prompts barely notice it (bench_spikes: same delays, 0.57 per 100)
NULL_PROMPTS = 30


QUIET_P = 1e-4  # a baseline window this unlikely to be as quiet as the others are together...
QUIET_RATIO = 0.5  # ...and at under this share of their rate is left out


def _quiet_outliers(windows: list[tuple]) -> set[int]:
    """The positions of ``windows`` ((prompts, novel, ...) each) whose novel count is far below what the
    others' pooled rate makes likely (one-sided binomial, ``QUIET_P``): a window of small counts never is.

    >>> sorted(_quiet_outliers([(350, 18), (350, 17), (3376, 17), (350, 19), (3376, 16), (350, 18)]))
    [2, 4]
    >>> _quiet_outliers([(5000, 350)] * 3 + [(5000, 250)] * 3)  # usual days beside a launch's hot ones: kept
    set()
    """
    from scipy.stats import binom

    total_n, total_k = sum(w[0] for w in windows), sum(w[1] for w in windows)
    out = set()
    for i, (n, k, *_) in enumerate(windows):
        rest_n, rest_k = total_n - n, total_k - k
        # at under half the others' rate, not only unlikely: a usual day beside a few hot ones (a launch's,
        # or windows just under the level) is unlikely too at 5,000 prompts, and was left out (review)
        if rest_n > 0 and rest_k > 0 and k / n < QUIET_RATIO * rest_k / rest_n \
                and binom.cdf(k, n, rest_k / rest_n) < QUIET_P:
            out.add(i)
    return out


@dataclass
class _Null:
    """What a window is compared with: the pooled earlier windows, or the calibration when too few."""

    label: str
    prompts: int = 0
    novel: int = 0
    s1: float = 0.0
    s2: float = 0.0
    calibration: int | None = None  # the alpha null's: calibration scores the p-values rest on

    @classmethod
    def pooled(cls, ref: list[tuple], settings: SpikeSettings, alpha: float | None, calibration: int | None = None,
               mix: dict[str, int] | None = None, sizes: dict[str, int] | None = None):
        """``ref``: the earlier windows' (prompts, novel, s1, s2, prompts per calibration); ``mix``: the
        tested window's prompts per calibration, ``sizes`` each calibration's scores."""
        usable = [r for r in ref if r[0] > 0]
        if len(usable) < settings.min_baseline:
            return cls("alpha", calibration=calibration) if alpha is not None else None
        # a window far quieter than the others is another population (a load test's or a bot's known prompts
        # by the thousand): it leaves the baseline, which it would drag down (QA: one such day of 3,376
        # prompts outweighed 7 usual ones, the expected rate halved and an ordinary day two days later raised
        # an alert; three took it from 5.1 % to 2.9 %). Weighing each window at most twice the median one,
        # tried first, moved the expected rate of hourly windows towards the night's (review: three times the
        # false alarms where day and night differ); a window of small counts is never far quieter
        quiet = _quiet_outliers(usable)
        if quiet and len(usable) - len(quiet) >= settings.min_baseline:
            usable = [r for i, r in enumerate(usable) if i not in quiet]
        else:
            quiet = set()
        prompts, novel, s1, s2 = (sum(r[i] for r in usable) for i in range(4))
        label = f"trailing {len(usable)} windows" + (
            f", {len(quiet)} far quieter one{'s' * (len(quiet) > 1)} left out" if quiet else "")
        pooled: dict[str, int] = {}
        for r in usable:
            for key, n in r[4].items():
                pooled[key] = pooled.get(key, 0) + n
        extra = _mismatch(pooled, mix or {}, sizes or {}, calibration)
        if extra:  # scored under other calibrations than this window: a reference of fewer prompts
            keep = 1 / (1 + prompts * extra)  # n_eff / n, 1 / n_eff = 1 / n + extra
            prompts, novel, s1, s2 = prompts * keep, novel * keep, s1 * keep, s2 * keep
            label += f" ({len(set(pooled) | set(mix or {}))} calibrations)"
        return cls(label, prompts, novel, s1, s2)

    def expected_rate(self, alpha: float | None) -> float | None:
        if self.prompts:
            return self.novel / self.prompts
        if alpha is not None and self.calibration:
            novel, prompts = self.reachable(alpha)
            return novel / prompts
        return alpha

    def reachable(self, alpha: float) -> tuple[int, int]:
        """The alpha null as a reference sample: n + 1 prompts for n calibration scores, floor(alpha (n + 1))
        of them novel, the rate p <= alpha reaches."""
        n = self.calibration + 1
        return math.floor(alpha * n + 1e-9), n

    def tail_p(self, prompts: int, s1: float, tail: float) -> float:
        if not self.prompts:  # a valid conformal p-value is uniform: weights have mean t, E[w^2] 2t; around
            # that, the calibration's own n scores err alike for every prompt (see count_p)
            return excess_tail(s1, prompts, tail, 2 * tail, self.calibration + 1 if self.calibration else None)
        # prompts of the conformal null (NULL_PROMPTS) steady a reference of few prompts, or none in its tail
        n = self.prompts + NULL_PROMPTS
        mean, second = (self.s1 + NULL_PROMPTS * tail) / n, (self.s2 + NULL_PROMPTS * 2 * tail) / n
        return excess_tail(s1, prompts, mean, second, n)

    def count_p(self, prompts: int, novel: int, alpha: float) -> float:
        if not self.prompts and self.calibration:
            # every prompt is judged against the same n calibration scores, so a day's rate is alpha plus
            # an error all its prompts share (sd sqrt(alpha (1 - alpha) / n)): the calibration is a
            # reference sample of n + 1, not a known rate. Against alpha itself, 30 % of fresh deployments
            # of 2,000 training prompts and 20,000 prompts a day raised a false alarm in their first 3 days
            return excess_over_reference(novel, prompts, *self.reachable(alpha))
        if not self.prompts:  # a database from before the calibration's size was recorded
            return excess_over_rate(novel, prompts, alpha)
        return excess_over_reference(novel, prompts, round(self.novel), self.prompts)  # fewer, after _mismatch


def _mismatch(reference: dict[str, int], window: dict[str, int], sizes: dict[str, int],
              default: int | None = None) -> float:
    """How much less a reference tells about a window when their p-values came from other calibrations,
    as the 1 / n it adds to the reference's 1 / prompts.

    A calibration of n scores gives every prompt scored with it a share of novel prompts off alpha by
    an error of variance alpha (1 - alpha) / n, one error for all of them; the reference's rate and the
    window's differ by sum_k (f_k - g_k) e_k over the calibrations' shares f (reference) and g (window).
    Its variance, in units of alpha (1 - alpha), is what a reference of that many fewer prompts would
    add. After ``index add`` or a rebuild, 14 quiet days under the old calibration against days under the
    new one raised a false alarm within 7 days in 20 / 36 / 43 % of cases (2,000 calibration scores;
    1k / 5k / 20k prompts a day). Prompts whose calibration is not known (pruned) are left out of the
    shares; a calibration of unrecorded size counts as ``default``, or adds nothing without one.

    >>> _mismatch({"a": 900}, {"a": 100}, {"a": 1000}), _mismatch({"a": 900}, {"b": 100}, {"a": 1000, "b": 500})
    (0.0, 0.003)
    >>> round(_mismatch({"a": 500, "b": 500}, {"b": 100}, {"a": 1000, "b": 1000}), 6)
    0.0005
    """
    ref_total, own_total = sum(reference.values()), sum(window.values())
    if not ref_total or not own_total:
        return 0.0
    extra = 0.0
    for key in set(reference) | set(window):
        n = sizes.get(key, default)
        if n:
            extra += (reference.get(key, 0) / ref_total - window.get(key, 0) / own_total) ** 2 / n
    return extra


def _neighbour_column(store: Store) -> str:
    """``neighbour_p``, or NULL in a database an older version wrote, opened read-only (none was tested)."""
    return "neighbour_p" if "neighbour_p" in {c.name for c in store.db["windows"].columns} else "NULL"


def _saved_neighbours(store: Store, settings: SpikeSettings, retest: bool, in_range) -> dict[int, tuple]:
    """start -> (prompts, novel, neighbour_p) of decided windows of this size (a --retest range aside)."""
    if _neighbour_column(store) == "NULL" or settings.step:  # sliding windows are never decided: a late
        return {}  # log into a baseline window would leave theirs stale (review)
    # decided windows only, whose verdict stands as saved too; a p-value of 1 was 'nothing to test' before
    rows = store.db.execute("SELECT window_start, prompts, novel, neighbour_p FROM windows WHERE window_size = ? "
                            "AND neighbour_p IS NOT NULL AND neighbour_p < 1 AND decided_at IS NOT NULL",
                            [settings.key])
    return {_epoch(start): (prompts, novel, p) for start, prompts, novel, p in rows
            if not (retest and in_range(start))}


def _decided(store: Store, settings: SpikeSettings, in_range) -> dict[str, tuple]:
    """Saved verdicts of ended windows of this size: start -> (start, p, q, flagged, cusum, detectors,
    prompts, expected_rate, baseline, novel, neighbour_p). A window saved untested (too few prompts then)
    is not decided: it is tested when it has enough. Sliding windows are decided afresh each run."""
    if settings.step:
        return {}
    rows = store.db.execute(
        "SELECT window_start, p_value, q_value, flagged, cusum, detectors, prompts, expected_rate, baseline, novel, "
        f"{_neighbour_column(store)} FROM windows WHERE window_size = ? AND decided_at IS NOT NULL "
        "AND p_value IS NOT NULL", [settings.key])
    return {row[0]: row for row in rows if in_range(row[0])}


class _Draft(NamedTuple):
    start: int
    prompts: int
    novel: int
    null: _Null | None
    p: float | None
    p_count: float | None
    p_tail: float | None
    cusum: float
    alarm: bool
    stored: tuple | None  # the saved verdict of a window decided by an earlier run
    s1: float
    s2: float
    p_neighbour: float | None = None


def _test(counts, settings: SpikeSettings, alpha: float | None, decided: dict[str, tuple],
          in_range=lambda start: True, calibration: int | None = None, now: float | None = None,
          sizes: dict[str, int] | None = None, neighbours=None) -> list[Window]:
    """Test every window against the windows before it; ``decided`` windows keep their saved verdict.
    ``calibration``: how many calibration scores the p-values rest on (the null before a baseline);
    ``now`` (epoch seconds): a window that has not ended by then is judged at a level spent as it fills;
    ``sizes``: calibration scores per index checksum, for windows that say which calibrations scored them;
    ``neighbours(start, baseline starts, prompts, novel)``: the neighbour test's p-value of a window, None
    when it cannot be run."""
    drafts = _drafts(counts, settings, alpha, decided, calibration, sizes, neighbours)
    # false-discovery control across the windows decided in this run; decided ones are final
    family = [d.p is not None and d.stored is None and in_range(_iso(d.start)) for d in drafts]
    q_values = iter(benjamini_hochberg([d.p for d, member in zip(drafts, family) if member]))
    size = window_seconds(settings.window)
    return [_window(d, next(q_values) if member else None, settings, alpha, _elapsed(d.start, size, now))
            for d, member in zip(drafts, family)]


def _elapsed(start: int, size: int, now: float | None) -> float:
    """The share of a window in progress that has passed by ``now``; 1 for an ended one, for one not
    begun yet (prompts stamped ahead of the clock, judged as they are), or with no ``now``.

    >>> _elapsed(0, 86_400, 21_600), _elapsed(0, 86_400, 90_000), _elapsed(0, 86_400, None), _elapsed(0, 60, -5)
    (0.25, 1.0, 1.0, 1.0)
    """
    return 1.0 if now is None or now < start else min(1.0, (now - start) / size)


def _drafts(counts, settings: SpikeSettings, alpha: float | None, decided: dict[str, tuple],
            calibration: int | None = None, sizes: dict[str, int] | None = None, neighbours=None) -> list[_Draft]:
    """Each window's tests against the unflagged windows before it, and the CUSUM through them."""
    size = window_seconds(settings.window)
    span = size // (window_seconds(settings.step) if settings.step else size)
    history: list[tuple] = []  # every earlier window: a flagged or too small one as (0, 0, 0.0, 0.0, {})
    eligible: list[int] = []  # the positions in history of the others, the baseline's candidates
    drafts, cusum, frozen, frozen_mix, sizes = [], 0.0, None, {}, sizes or {}
    for start, prompts, novel, s1, s2, *rest in counts:
        mix = rest[0] if rest else {}  # prompts per calibration, when known
        ref = _reference(history, eligible, settings.baseline_windows, span)
        null = _Null.pooled(ref, settings, alpha, calibration, mix, sizes)
        tested = null is not None and prompts >= settings.min_prompts
        p_count = null.count_p(prompts, novel, alpha) if tested else None
        p_tail = null.tail_p(prompts, s1, settings.tail) if tested else None
        stored = decided.get(_iso(start))
        if stored and prompts > stored[6]:  # a late log added prompts: test the window again
            stored = None                   # (fewer prompts, after a prune, keep the verdict)
        elif stored and prompts == stored[6] and novel != stored[9]:  # counted at another alpha now (a run
            stored = None  # at another --alpha): its saved p-value and expected rate were of the old count, shown
            # beside the new one ('19 novel, 3.8 %, expected 1.0 %, p 1.0, not flagged': QA)
        # the neighbour test, against the baseline windows that have prompts (the far quieter ones the tail
        # test leaves out too: a window's novel prompts are chosen alike); a decided window's is saved
        p_neighbour = neighbours(start, [r[5] for r in ref if r[0] > 0], prompts, novel) \
            if tested and neighbours and not stored and null.prompts else None
        p_joint = _joint(p_tail, p_neighbour, settings) if tested else None
        p = min(1.0, *_weighted(p_joint, p_count, settings)) if tested else None
        # the CUSUM sums a small excess day after day, so it compares a window with windows scored under the
        # same calibration only: another's error is shared by every day after an `index add` or a rebuild,
        # and summed it rose to an alarm within 7 quiet days in 9-19 % of cases (widening each day's
        # reference, as the tests above do, does not stop a steady excess adding up). A new calibration
        # starts the excursion afresh, against the windows of its own once there are enough of them.
        if cusum == 0.0 or _mismatch(frozen_mix, mix, sizes, calibration):
            cusum, frozen_mix = 0.0, mix  # a new excursion starts: compare it with what came before it began
            frozen = _Null.pooled([r for r in ref if not _mismatch(r[4], mix, sizes, calibration)],
                                  settings, alpha, calibration)
        # sliding: on the windows of the fixed grid alone (clock-aligned: a backfill does not shift them)
        if tested and frozen is not None and frozen.prompts and (span == 1 or start % size == 0):
            cusum = _cusum_statistic(cusum, frozen.tail_p(prompts, s1, settings.tail), settings)
        # only a tested window can alarm: an untested one adds nothing to the CUSUM it would be flagged by
        alarm = tested and cusum >= settings.cusum_limit
        draft = _Draft(start, prompts, novel, null, p, p_count, p_tail, cusum, alarm, stored, s1, s2, p_neighbour)
        # a window whose own p-value passed the level is set apart before the false-discovery control
        # decides it (that needs every window's p-value): its excursion restarts, and it leaves the
        # baseline. A decided window does the same from its saved p-value, so later runs replay the
        # CUSUM its decision saw (replayed without the restart, a window q left unflagged carried its
        # excursion on, and a later 10-prompt window with no novel prompt was flagged by it)
        p_then = draft.stored[1] if draft.stored else p
        apart = draft.alarm or bool(draft.stored and draft.stored[3]) or (p_then is not None and p_then < settings.fdr)
        if apart:
            cusum = 0.0  # restart after a detection, so one excursion raises one alarm
        # ...but one set apart against the calibration alone (no baseline yet) joins it: a model whose
        # p-values run a little hot (7 % novel at alpha 0.05) had every window flagged so, none clean
        # to make a baseline of, and an incident every day for good (review)
        joins = not apart or (null is not None and not null.prompts)
        if joins and prompts >= settings.min_prompts:
            eligible.append(len(history))
            history.append((prompts, novel, s1, s2, mix, start))
        else:
            history.append((0, 0, 0.0, 0.0, {}, start))
        drafts.append(draft)
    return drafts


def _neighbour_reader(store: Store, settings: SpikeSettings, alpha: float | None, cut: str | None,
                      saved: dict[int, tuple[int, int, float]]):
    """``(start, baseline starts, prompts, novel) -> p-value`` of the neighbour test
    (``stats.neighbour_test``) on the windows' novel prompts, from their stored vectors; None when it
    cannot be run: fewer than ``min_baseline`` baseline windows still hold novel prompts (pruned), no
    vectors stored, or too few novel texts. ``saved``: start -> (prompts, novel, neighbour_p) of decided
    windows, whose p-value stands while their counts do, as their verdict does (a --since run tests the
    windows before the range again, for the baseline, without paying for this test again).

    Every pooled window is read at one cut-off: p-values at or below the smallest alpha any of their
    prompts was scored at, so every vector is stored (`score --cache-size` evicts only those of prompts
    never novel) and every window's novel prompts are chosen alike after an alpha change."""
    size, dimension = window_seconds(settings.window), int(store.meta().get("dimension") or 0)
    read: dict[int, tuple[list[tuple[str, float]], float]] = {}
    vectors: dict[str, np.ndarray] = {}

    def novel(start: int) -> tuple[list[tuple[str, float]], float]:  # (hash, p-value) rows, lowest run alpha
        if start not in read:
            rows = list(store.db.execute(  # as _bounds: those logged before --until's cut
                f"SELECT s.text_hash, s.p_value, r.alpha FROM scores AS s LEFT JOIN runs AS r ON r.run_id = s.run_id "
                f"WHERE {_novel(alpha)} AND s.ts >= ? AND s.ts < ? AND s.text_hash IS NOT NULL",
                [sql_bound(_iso(start)), sql_bound(min(_iso(start + size), cut or "9999"))]))
            lowest = min([a for *_, a in rows if a is not None], default=alpha if alpha is not None else 1.0)
            read[start] = [(h, p if p is not None else 0.0) for h, p, _ in rows], lowest
        return read[start]

    def p_value(start: int, baseline: list[int], prompts: int, count: int) -> float | None:
        if start in saved and saved[start][:2] == (prompts, count):
            return saved[start][2]
        pool = [novel(start)] + [w for w in map(novel, baseline) if w[0]]
        if not dimension or len(pool) - 1 < settings.min_baseline:
            return None
        level = min(a for _, a in pool) if alpha is not None else 1.0
        windows = common_sample([{h for h, p in rows if p <= level} for rows, _ in pool])  # before any vector
        vectors.update(store.cached_vectors([h for w in windows for h in w if h not in vectors], dimension))
        return neighbour_test(windows, vectors, seed=start)[1]

    return p_value


def _reference(history: list[tuple], eligible: list[int], windows: int, span: int) -> list[tuple]:
    """The baseline of the next window: the ``windows`` latest earlier windows that were neither flagged
    nor too small, however far back (oldest first). Taken from the last ``windows`` positions alone, a
    topic that stayed for two weeks left none: its days were then judged against the calibration,
    flagged, joined the baseline as such, and the next day at the same 35 % novel was 'expected' and the
    spike 'ended' (QA). Sliding windows overlap their neighbours: the baseline only uses windows that
    overlap neither this one nor each other, at least ``span`` positions apart (14 windows 6 h apart each
    counted a prompt about 4 times, a baseline 4x surer than it was: 6 false alarms a hundred quiet
    days, not 1).

    >>> history = [(10, 1, 0, 0, {}), (0, 0, 0, 0, {}), (10, 2, 0, 0, {}), (10, 3, 0, 0, {})]
    >>> [r[1] for r in _reference(history, [0, 2, 3], 2, 1)]  # the flagged one at 1 skipped
    [2, 3]
    >>> [r[1] for r in _reference(history, [0, 2, 3], 5, 2)]  # span 2: not 3, which overlaps the next
    [1, 2]
    """
    out, bound = [], len(history) - span  # the latest position that does not overlap the next window
    while len(out) < windows and bound >= 0:
        at = bisect.bisect_right(eligible, bound) - 1
        if at < 0:
            break
        out.append(history[eligible[at]])
        bound = eligible[at] - span
    return out[::-1]


def _window(d: _Draft, q: float | None, settings: SpikeSettings, alpha: float | None,
            elapsed: float = 1.0) -> Window:
    p, score, neighbour = d.p, d.cusum, d.p_neighbour
    if d.stored:  # as decided: a backfilled day since changes the baseline, not the verdict it rested on
        _, p, q, flagged, score, saved, _, expected, baseline, _, neighbour = d.stored
        detectors = tuple(json.loads(saved or "[]")) if flagged else ()
        flagged = bool(flagged)
    else:
        expected, baseline = (d.null.expected_rate(alpha), d.null.label) if d.null else (None, "none")
        # a window in progress is looked at on every run (hourly, by cron): each look may alert, so its
        # level is spent as it fills, fdr x (share passed)^2 (O'Brien-Fleming-like): tested at each of 24
        # hourly runs, a quiet day was flagged at some look 1.15 % of the time, 0.45 % when tested once (review)
        hit = q is not None and q < settings.fdr * elapsed ** 2
        joint = _joint(d.p_tail, neighbour, settings) if hit else 1.0
        weighted_tail, weighted_count = _weighted(joint, d.p_count, settings) if hit else (0.0, 0.0)
        tail_won = hit and weighted_tail < weighted_count
        detectors = tuple(name for name, fired in (("binomial", hit and not tail_won), ("tail", tail_won),
                                                   ("neighbours", tail_won and joint < d.p_tail),  # it added
                                                   ("cusum", d.alarm and elapsed >= 1)) if fired)  # the CUSUM
        # sums ended windows: a part of one, looked at hourly, would add its z-score again at every look
        flagged = bool(detectors)
    size = window_seconds(settings.window)
    low, high = wilson_interval(d.novel, d.prompts)
    return Window(_iso(d.start), _iso(d.start + size), d.prompts, d.novel, d.novel / d.prompts if d.prompts else 0.0,
                  low, high, expected, baseline, p, q, round(score, 3), flagged, detectors, d.p_count, d.p_tail,
                  d.stored is not None, d.s1, d.s2, neighbour)


def _joint(p_tail: float, p_neighbour: float | None, settings: SpikeSettings) -> float:
    """The tail test's p-value with the neighbour test's folded in (weighted Stouffer: z-scores summed,
    the neighbour's times ``neighbour_weight``); the tail test's alone when the neighbour test was not run.
    Two tests each at p 0.01 are stronger evidence together; a neighbour test at 0.5 weakens the tail's.

    >>> s = SpikeSettings()
    >>> round(_joint(0.01, None, s), 4), round(_joint(0.01, 0.01, s), 5), round(_joint(0.01, 0.5, s), 3)
    (0.01, 0.0006, 0.028)
    """
    if p_neighbour is None:
        return p_tail
    w = settings.neighbour_weight
    z = (norm.isf(min(max(p_tail, 1e-300), 1 - 1e-12)) + w * norm.isf(min(max(p_neighbour, 1e-300), 1 - 1e-12))) \
        / math.sqrt(1 + w * w)
    return float(norm.sf(z))


def _weighted(p_tail: float, p_count: float, settings: SpikeSettings) -> tuple[float, float]:
    """The two tests' p-values scaled by their shares of the level (weighted Bonferroni: most of it to
    the tail test, the stronger of the two); the window's p-value is the smaller, capped at 1."""
    return p_tail / settings.tail_share, p_count / (1 - settings.tail_share)


def _cusum_statistic(previous: float, p_value: float, settings: SpikeSettings) -> float:
    """Gaussian CUSUM on the window's tail-test z-score: sums the evidence of windows that are each a
    little high (``cusum_drift`` standard deviations is what one quiet window may add by chance).

    >>> s = SpikeSettings()
    >>> round(_cusum_statistic(0.0, 0.01, s), 2), _cusum_statistic(1.0, 0.5, s)
    (1.33, 0.0)
    """
    z = float(norm.isf(min(max(p_value, 1e-12), 1 - 1e-12)))
    return max(0.0, previous + min(z, 6.0) - settings.cusum_drift)


# -- incidents --------------------------------------------------------------------------------------
def _incident(store: Store, window: Window, windows: list[Window], settings: SpikeSettings,
              as_saved: bool = False, alpha: float | None = None, cut: str | None = None) -> Incident:
    """The incident of a flagged window. ``as_saved``: a decided window's incident as it was saved, and
    a retested one's examples and labels as saved, since its prompts may be pruned."""
    saved = _saved_incident(store, window, settings) if as_saved else None
    if saved and window.decided:
        return saved
    expected = window.expected_rate or 0.0
    ratio = window.novel_rate / expected if expected else None  # None: nothing novel was expected (JSON has no inf)
    excess = window.novel_rate - expected
    severity = "high" if ratio is None or ratio >= 3 or excess >= 0.10 else "medium" if ratio >= 1.5 else "low"
    details = {
        "window_size": settings.key, "prompts": window.prompts, "novel": window.novel,
        "novel_rate": window.novel_rate, "expected_rate": expected, "rate_ratio": ratio,
        "baseline": window.baseline, "detectors": list(window.detectors), "q_value": window.q_value,
        "cusum": window.cusum, "first_flagged": _first_flagged(window, windows),
        **({key: saved.details[key] for key in _FROM_PROMPTS if key in saved.details} if saved else
           {"top_novel": _top_novel(store, window, alpha, cut=cut),
            **_labels(store, window, expected, alpha, cut, _baseline_spans(window, windows, settings))})}
    return Incident("label_bias", window.window_start, window.window_end, severity,
                    window.p_value if window.p_value is not None else 1.0, details)


_FROM_PROMPTS = ("top_novel", "absorbing_labels", "label_shift", "note")  # incident details read from scores


def _saved_incident(store: Store, window: Window, settings: SpikeSettings) -> Incident | None:
    """The incident of a decided window as it was saved: its prompts (top novel, labels) may be pruned since."""
    blank = Incident("label_bias", window.window_start, window.window_end, "", 0.0, {"window_size": settings.key})
    row = store.db.execute("SELECT severity, p_value, details FROM incidents WHERE incident_id = ?",
                           [blank.incident_id]).fetchone()
    return Incident(blank.kind, blank.window_start, blank.window_end, row[0], row[1], json.loads(row[2])) \
        if row else None


_BRIDGED = 2  # untested windows in a row that may sit inside one run of flagged windows


def _first_flagged(window: Window, windows: list[Window]) -> str:
    """Start of the run of consecutive flagged windows this one belongs to. Up to _BRIDGED windows
    without a test between two flagged ones (a weekend without logs, too few prompts) do not end the
    run: they are no evidence that the topic went away; a longer gap does."""
    position, earlier, untested = windows.index(window), windows.index(window) - 1, 0
    while earlier >= 0 and untested <= _BRIDGED and (windows[earlier].flagged or windows[earlier].p_value is None):
        if windows[earlier].flagged:
            position, untested = earlier, 0
        else:
            untested += 1
        earlier -= 1
    return windows[position].window_start


def _bounds(window: Window, cut: str | None) -> list[str]:
    """The SQL bounds of ``window``'s prompts, those logged before ``cut`` only (``--until`` inside it)."""
    return [sql_bound(window.window_start), sql_bound(min(window.window_end, cut or "9999"))]


def _top_novel(store: Store, window: Window, alpha: float | None = None, limit: int = 5,
               cut: str | None = None) -> list[dict]:
    return list(store.db.query(
        # the most novel first, as `score` lists them (the least similar is not always), each text's labels
        # from its most novel row (SQLite takes bare columns from the row of the MAX)
        "SELECT text, similarity, predicted_label, nearest_label, MAX(novelty) AS novelty FROM scores "
        f"WHERE {_novel(alpha)} AND ts >= ? AND ts < ? GROUP BY lower(text) ORDER BY novelty DESC, text LIMIT ?",
        [*_bounds(window, cut), limit]))


LABEL_PRIOR = 50  # prompts at the window's expected rate a label's own baseline rate is shrunk with


def _baseline_spans(window: Window, windows: list[Window], settings: SpikeSettings) -> list[tuple[str, str]]:
    """The time spans of the unflagged windows before ``window`` its trailing baseline is made of
    (none when it was judged against the calibration), overlapping ones merged."""
    if not (window.baseline or "").startswith("trailing") or window not in windows:
        return []
    before = [w for w in windows[:windows.index(window)] if not w.flagged and w.prompts > 0]
    spans: list[list[str]] = []
    for w in sorted(before[-settings.baseline_windows:], key=lambda w: w.window_start):
        if spans and w.window_start <= spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], w.window_end)
        else:
            spans.append([w.window_start, w.window_end])
    return [(a, b) for a, b in spans]


def _label_counts(store: Store, alpha: float | None, where: str, args: list) -> dict[str, list[int]]:
    grouped: dict[str, list[int]] = {}
    for label, n, k in store.db.execute(
            f"SELECT predicted_label, COUNT(*), SUM({_novel(alpha)}) FROM scores WHERE ({where}) "
            "AND predicted_label IS NOT NULL GROUP BY predicted_label", args):
        both = grouped.setdefault(label_form(label), [0, 0])  # one label whether scored before labels were
        both[0], both[1] = both[0] + n, both[1] + k             # normalised ('cafe\u0301') or after ('café')
    return grouped


def _labels(store: Store, window: Window, expected: float, alpha: float | None = None,
            cut: str | None = None, baseline: list[tuple[str, str]] = ()) -> dict:
    """The labels absorbing the window's novel prompts: those with the most novel prompts beyond their
    own usual rate, from the baseline windows (shrunk toward the window's expected rate by LABEL_PRIOR
    prompts; the expected rate alone without a baseline). Against the overall rate alone, a broad intent
    whose prompts are often novel (12 % on quiet days) was named first every time (review)."""
    grouped = _label_counts(store, alpha, "ts >= ? AND ts < ?", _bounds(window, cut))
    rows = [(label, n, k) for label, (n, k) in grouped.items()]
    if not rows:
        return {"absorbing_labels": [], "label_shift": None,
                "note": "no predicted labels logged (pass --pred-col to score)"}
    usual = _label_counts(store, alpha, " OR ".join(["(ts >= ? AND ts < ?)"] * len(baseline)),
                          [sql_bound(t) for span in baseline for t in span]) if baseline else {}
    rate = {label: (k + LABEL_PRIOR * expected) / (n + LABEL_PRIOR) for label, (n, k) in usual.items()}
    novel_total = sum(k for _, _, k in rows) or 1
    absorbing = sorted(({"label": label, "prompts": n, "novel": k, "novel_share": k / n,
                         "share_of_novel": k / novel_total, "usual_novel_share": rate.get(label, expected),
                         "excess": k - rate.get(label, expected) * n}
                        for label, n, k in rows), key=lambda r: -r["excess"])
    shares = store.training_label_shares()
    shift = goodness_of_fit({label: n for label, n, _ in rows}, shares) if shares else None
    if shift:
        shift["against"] = "training label distribution"
    return {"absorbing_labels": [r for r in absorbing if r["excess"] > 0][:3], "label_shift": shift}


def _save(store: Store, settings: SpikeSettings, windows: list[Window], incidents: list[Incident]) -> None:
    now, size = utc_now(), settings.key
    flagged = {i.window_start for i in incidents}

    def work() -> None:  # one transaction, retried while locked; a read-only file is a StorageError
        store.db.conn.executemany(
            f"INSERT INTO windows ({', '.join(_WINDOW_COLUMNS)}) VALUES ({', '.join('?' * len(_WINDOW_COLUMNS))}) "
            "ON CONFLICT DO UPDATE SET "
            + ", ".join(f"{c} = excluded.{c}" for c in _WINDOW_COLUMNS[2:] if c != "decided_at")
            # decided again when a late log changed a tested window's count; else as first decided
            + ", decided_at = CASE WHEN windows.p_value IS NOT NULL AND windows.prompts != excluded.prompts "
              "THEN coalesce(excluded.decided_at, windows.decided_at) "
              "ELSE coalesce(windows.decided_at, excluded.decided_at) END",
            [(size, w.window_start, w.window_end, w.prompts, w.novel, w.novel_rate, w.ci_low, w.ci_high,
              w.expected_rate, w.baseline, w.p_value, w.q_value, w.cusum, int(w.flagged), now,
              now if w.window_end <= now and not settings.step else None, json.dumps(list(w.detectors)),
              w.tail_sum, w.tail_sum_sq, w.neighbour_p)
             for w in windows if not w.decided])  # a decided window keeps its row, even after a prune
        decided = {w.window_start for w in windows if w.decided}
        for incident in incidents:  # the incident of a decided window stays as saved, like its window
            store.db.conn.execute(
                "INSERT INTO incidents VALUES (?,?,?,?,?,?,'open',?,?,?) ON CONFLICT(incident_id) DO "
                + ("NOTHING" if incident.window_start in decided else
                   "UPDATE SET severity=excluded.severity, p_value=excluded.p_value, status='open', "
                   "details=excluded.details, window_end=excluded.window_end, updated_at=excluded.updated_at"),
                [incident.incident_id, incident.kind, incident.window_start, incident.window_end,
                 incident.severity, incident.p_value, json.dumps(incident.details, default=str), now, now])
        if windows:  # a window no longer flagged (more history changed its test) keeps its row, withdrawn
            store.db.conn.execute(
                "UPDATE incidents SET status = 'withdrawn', updated_at = ? WHERE kind = 'label_bias' "
                "AND json_extract(details, '$.window_size') = ? AND window_start >= ? AND window_start <= ?"
                # NOT IN (NULL) matches nothing: with no window flagged now, nothing was ever withdrawn
                + (f" AND window_start NOT IN ({','.join('?' * len(flagged))})" if flagged else ""),
                [now, size, windows[0].window_start, windows[-1].window_start, *sorted(flagged)])

    store.transaction(work)


_WINDOW_COLUMNS = ("window_size", "window_start", "window_end", "prompts", "novel", "novel_rate", "ci_low",
                   "ci_high", "expected_rate", "baseline", "p_value", "q_value", "cusum", "flagged", "updated_at",
                   "decided_at", "detectors", "tail_sum", "tail_sum_sq", "neighbour_p")


def _epoch(iso: str) -> int:
    return int(datetime.strptime(iso, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp())


def _moment(stamp: str) -> float:
    """A canonical time ('...T10:00:00Z', '...T10:00:00.500000Z') in epoch seconds."""
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def _iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
