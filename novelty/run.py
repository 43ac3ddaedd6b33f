"""``novelty run``: the whole daily job from one ``monitor.toml``, for one line in crontab.

Steps, in order: score the day's log, spike test, drift, golden set, feedback (online accuracy and
its gap to the golden set), clusters, diagnose, report. A step whose input is not configured or not
there is skipped with the reason; a step that fails on bad input is recorded as failed and the others
still run. Re-running a date changes nothing: prompts are keyed by ``prompt_id``, windows, incidents
and clusters by stable ids, feedback labels by ``prompt_id``.

Exit status (``RunSummary.exit_code``): 0 = ran, nothing to alert on; 1 = a cause named in
``alert.causes`` of at least ``alert.min_severity`` (or, with ``alert.missing_log``, no log for the
day); 2 = a step failed on its input; 3 = a step failed on a bug in novelty (its traceback on stderr).
"""

from __future__ import annotations

import glob
import sqlite3
import sys
import traceback
from contextlib import closing, contextmanager
from dataclasses import asdict, dataclass, field, replace
from datetime import date as Date, datetime, timedelta, timezone
from functools import cached_property
from pathlib import Path
from typing import Callable, Iterator

from .config import MonitorConfig, load_config
from .diagnose import Diagnosis, diagnose
from .errors import EmptyFileError, InputError, NoveltyError, StorageError, check_argument, os_error_text
from .logs import file_in_the_way, header_names, refuse_replacing, without_rows, write_whole
from .render import plural, to_json
from .spikes import window_seconds
from .stats import p_text

_RANK = {"low": 1, "medium": 2, "high": 3}


@dataclass(frozen=True)
class Step:
    name: str
    status: str           # ran, skipped or failed
    reason: str = ""      # why skipped or failed; for ran, one line of what it found
    facts: dict = field(default_factory=dict)


@dataclass(frozen=True)
class RunSummary:
    date: str
    config: str
    steps: list[Step]
    alerts: list[str]
    diagnosis: Diagnosis | None
    report: str | None
    missing: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        if any(s.status == "failed" and s.facts.get("bug") for s in self.steps):
            return 3  # as every command says a bug (QA: a clusters crash inside run was exit 2, bad input)
        if any(s.status == "failed" for s in self.steps):
            return 2
        return 1 if self.alerts else 0

    def to_dict(self) -> dict:
        return {"date": self.date, "config": self.config, "exit_code": self.exit_code, "alerts": self.alerts,
                "missing": self.missing, "report": self.report,
                "steps": [asdict(s) for s in self.steps],
                "diagnosis": self.diagnosis.to_dict() if self.diagnosis else None}


def _half_pair(first: str, a, second: str, b, purpose: str) -> str:
    """Why a step of two settings was skipped: neither set, or which one is missing."""
    if a is None and b is None:
        return f"{first} and {second} not configured"
    missing, given = (second, first) if a is not None else (first, second)
    return f"{missing} is not set ({given} is): set both {purpose}"


def default_date() -> Date:
    """Yesterday (UTC): a morning run scores the day that just ended."""
    return datetime.now(timezone.utc).date() - timedelta(days=1)


STEPS = ("score", "spikes", "drift", "golden", "feedback", "clusters", "diagnose", "report")  # _Job's, in order
_WRITES_DB = {"score", "spikes", "feedback", "clusters", "report"}  # the steps that write output.db


def run_monitor(config: str | Path | MonitorConfig, day: Date | str | None = None,
                progress: Callable[[int], None] | None = None,
                echo: Callable[[str], None] | None = None) -> RunSummary:
    """Run every step for ``day`` (default: yesterday) and write the report and, if configured, the
    JSON summary. ``echo`` gets the summary's first line and each step's line as the step ends (a run
    killed midway still leaves what it did in cron's log); ``format_run(summary, echoed=True)`` is the rest."""
    check_argument("config", config, (str, Path, MonitorConfig), "a monitor.toml's path, or load_config(path, "
                   "overrides) for settings changed in code")  # a dict: was a TypeError from pathlib
    cfg = config if isinstance(config, MonitorConfig) else load_config(config)
    day = _day(day)
    job = _Job(cfg, day, progress)
    if job.db.is_dir():
        raise InputError(f"output.db {job.db} is a folder; give a file name such as monitor.db ({cfg.source})")
    blocking = file_in_the_way(job.db)
    if blocking is not None:  # was a FileExistsError's traceback from the score step's mkdir
        raise InputError(f"output.db {job.db}: {blocking} is a file, not a folder ({cfg.source})")
    echo = echo or (lambda line: None)
    echo(_run_header(day.isoformat(), cfg.source))
    locked_in = None  # the step that waited out another process's lock on the database
    for name in STEPS:
        try:
            if locked_in and name in _WRITES_DB:  # each would wait 3 minutes more for the same lock
                job.steps.append(Step(name, "skipped", f"{job.db} is locked by another process, which the "
                                                       f"{locked_in} step waited for; run again when it is done"))
            else:
                job.steps.append(getattr(job, name)())
        except StorageError as exc:
            job.steps.append(Step(name, "failed", str(exc)))
            locked_in = locked_in or (name if exc.locked else None)
        except NoveltyError as exc:
            job.steps.append(Step(name, "failed", str(exc)))
        except OSError as exc:  # a path the system refused (permissions, a name too long): input, as the CLI says
            job.steps.append(Step(name, "failed", os_error_text(exc)))
        except Exception as exc:  # a cron job goes on with the next step, and says what broke (exit 3)
            traceback.print_exc(file=sys.stderr)
            job.steps.append(Step(name, "failed", f"{type(exc).__name__}: {exc} (a bug? the traceback is on "
                                                  "stderr; please report it)", {"bug": True}))
        echo(_step_line(job.steps[-1]))
    summary = RunSummary(day.isoformat(), cfg.source, job.steps, job.alerts(), job.diagnosis, job.report_path,
                         job.missing)
    out = cfg.path("output.summary", day)
    if out is not None:
        try:
            refuse_replacing(out, "summary")  # a summary typed onto the database or the day's log replaced it
            out.parent.mkdir(parents=True, exist_ok=True)
            write_whole(out, to_json(summary.to_dict()))
        except OSError as exc:  # a step of its own: the run's findings and alerts are still printed
            job.steps.append(Step("summary", "failed", f"output.summary {out}: cannot write it ({exc.strerror})"))
        except InputError as exc:
            job.steps.append(Step("summary", "failed", f"output.summary {exc}"))
    return summary


_NEWEST_CLUSTERED = "run.newest_clustered_date"


def _empty(path: Path) -> bool:
    """A log with no row in it, gzipped or not (an export that ran and wrote nothing, or its header
    alone): blank lines or a BOM alone are nothing too (a feedback step failed on a file of one newline)."""
    try:
        return without_rows(path) is not None
    except EmptyFileError:
        return True
    except (OSError, EOFError, ValueError, NoveltyError):  # unreadable: score says why
        return False


def _day(day: Date | str | None) -> Date:
    if day is None:
        return default_date()
    if isinstance(day, datetime):  # a datetime is a date too, but its str has the time: no log matched
        day = day.date()
    if not isinstance(day, (Date, str)):
        raise NoveltyError(f"--date {day!r} should be a date or text like 2026-11-25")
    if not isinstance(day, Date):
        try:
            day = Date.fromisoformat(day)
        except ValueError:
            raise NoveltyError(f"--date {day!r} should look like 2026-11-25") from None
    if not 1990 <= day.year <= 2099:  # the years a log's times may have (novelty.logs)
        raise NoveltyError(f"--date {day} is outside 1990-2099, the years novelty reads log times in")
    today = _today()
    if day > today + timedelta(days=1):  # tomorrow: a day that has begun east of UTC
        raise NoveltyError(f"--date {day} has not begun yet (today is {today} in UTC); a typo? A run for it "
                           "would stand as the newest date until that day came")
    return day


def _today() -> Date:
    return datetime.now(timezone.utc).date()


class _Job:
    """The state one run passes from step to step."""

    def __init__(self, cfg: MonitorConfig, day: Date, progress):
        self.cfg, self.day, self.progress = cfg, day, progress
        self.db = cfg.path("output.db")
        self.steps: list[Step] = []
        self.missing: list[str] = []
        self.drift_report = None
        self.golden_accuracy: tuple[float, int] | None = None
        self.gap_untested: str | None = "the feedback step did not run, or failed"  # None: it tested the gap
        self.diagnosis: Diagnosis | None = None
        self.report_path: str | None = None
        self.flagged_late: list = []  # incidents of windows before alert.lookback flagged now (a late log)
        self.found_clusters: list | None = None  # a backfilled date's clusters, not saved: its page shows them
        self.end = datetime.combine(day + timedelta(days=1), datetime.min.time())
        self.until = self.end.strftime("%Y-%m-%d")  # evidence ends with the run date

    def since(self, key: str) -> str:
        """Start of the period ``key`` names (e.g. 7d), ending with the run date."""
        start = self.end - timedelta(seconds=window_seconds(self.cfg[key]))  # 36h is 36 hours, not 48 (QA)
        return start.strftime("%Y-%m-%d" if (start.hour, start.minute, start.second) == (0, 0, 0) else "%Y-%m-%dT%H:%M:%SZ")

    def has_scores(self) -> bool:
        return self.db.is_file()

    def newest_run_date(self) -> bool:
        """Whether this run's date is the newest a run has clustered in this database (recorded in
        ``meta``, so logs in another time zone, whose evening falls on the next UTC day, do not make
        the newest day look old)."""
        with self._meta() as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = ?", [_NEWEST_CLUSTERED]).fetchone()
            if row is None:  # a database from before the key: the stored clusters' newest prompt decides
                row = conn.execute("SELECT substr(MAX(last_seen), 1, 10) FROM clusters").fetchone()
        return row is None or row[0] is None or row[0] <= self.day.isoformat()

    def record_clustered(self) -> None:
        scored = next((s.status for s in self.steps if s.name == "score"), None)
        if self.missing or scored != "ran":  # a date without a log (a typo, 2027 for 2026), or whose log
            return                            # failed to score, must not become the newest view
        with self._meta() as conn, conn:
            conn.execute("INSERT INTO meta VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value "
                         "WHERE excluded.value > meta.value", [_NEWEST_CLUSTERED, self.day.isoformat()])

    @contextmanager
    def _meta(self) -> Iterator[sqlite3.Connection]:
        from .store import _read_only, may_write, storage_error

        try:  # a database this user may only read is opened as Store opens it: a plain connection to a WAL
            # file made -wal and -shm files beside it with the file's read-only mode, which then refused
            # the owner's next writes (QA: `run` on a chmod 444 database, clusters step)
            connect = (lambda: sqlite3.connect(self.db, timeout=30)) if may_write(self.db) else \
                (lambda: _read_only(self.db))
            with closing(connect()) as conn:  # Store's busy wait
                yield conn
        except sqlite3.DatabaseError as exc:  # as Store says it for the other steps
            if isinstance(exc, sqlite3.OperationalError):  # contention, a full disk: not what the file is (busy
                raise storage_error(self.db, exc) from None  # was a traceback; a full disk's 'disk I/O error'
            raise InputError(f"{self.db} is not a novelty SQLite database ({exc})") from None  # 'not a novelty
            # database', QA)

    # -- the steps --------------------------------------------------------------------------------
    def score(self) -> Step:
        from .engines.common import ALL_REJECTED
        from .engines.local import score_files
        from .logs import Columns, log_columns

        pattern, files = self.cfg.files("logs.path", self.day)
        if not files:
            self.missing.append(str(pattern))
            near = sorted(glob.glob(glob.escape(str(pattern)) + ".*"))[:3]  # today's log, gzipped or renamed
            hint = f" (but {', '.join(near)}: widen logs.path, e.g. to end in '*')" if near else ""
            return Step("score", "skipped", f"no log for {self.day}: nothing at {pattern}{hint}")
        c = self.cfg
        readable = [f for f in files if not _empty(f)]
        if not readable:  # the export ran but wrote nothing: as good as no log, and said as such
            self.missing.append(f"{pattern} (empty)")
            return Step("score", "skipped", f"the log for {self.day} is empty: {', '.join(map(str, files))}")
        # a time, id or prediction column named in the config must be there: scored without them, the
        # day's prompts would sit outside every window or lose their labels, and naming the column later
        # would store them a second time
        names = {"time": "logs.time_col", "id": "logs.id_col", "label": "logs.pred_col"}
        present = log_columns(readable[0])
        spelt = Columns(time=c["logs.time_col"] or None, label=c["logs.pred_col"] or None).matching(present)
        untimed = bool(present) and spelt.time not in present  # ('Timestamp' for timestamp is read as it)
        id_col = c["logs.id_col"] if "logs.id_col" in c.given else c["logs.id_col"] or None  # '' set: derive ids
        columns = Columns(text=c["logs.text_col"], time=c["logs.time_col"] or None, id=id_col,
                          label=c["logs.pred_col"] or None,
                          required=frozenset(role for role, key in names.items() if c[key] and key in c.given),
                          options=tuple((role, f"{names.get(role, 'logs.text_col')} in {c.source}")
                                        for role in ("text", "time", "id", "label")),
                          # the day's log without times: its prompts count on its day, so the day's
                          # windows, clusters and page hold them (logged untimed, they counted when scored)
                          default_time=f"{self.day.isoformat()}T00:00:00Z" if untimed else None,
                          day_first=c["logs.day_first"])
        self.db.parent.mkdir(parents=True, exist_ok=True)
        r = score_files(readable, c["index.name"], self.db, columns=columns, index_dir=c.path("index.dir"),
                        progress=self.progress, redact=c["logs.redact"] or c["logs.redact_before_embed"],
                        redact_before_embed=c["logs.redact_before_embed"])
        why = f", most for: {r.reject_reasons[0]['reason']}" if r.reject_reasons else ""
        if r.rows_read and r.rejected == r.rows_read:  # a day of unreadable rows is a day without a log
            self.missing.append(f"{pattern} (all {r.rejected:,} rows rejected{why})")
        elif r.rows_read and r.rejected > r.rows_read / 2:  # one that lost most of them nearly so (a per-file
            # row number as logs.id_col lost 98 % of each day after the first under 'No alert')
            self.missing.append(f"{pattern} ({r.rejected / r.rows_read:.0%} of {r.rows_read:,} rows rejected{why})")
        elif not r.rows_read:
            self.missing.append(f"{pattern} (no rows)")
        elif r.scored and not untimed:
            self.missing += self._stamped_elsewhere(r.run_id, pattern, readable, spelt.time)
        notes = [f"no {c['logs.time_col']!r} column (logs.time_col): its prompts count on {self.day}"] \
            if untimed and c["logs.time_col"] else []
        if present and c["logs.pred_col"] and spelt.label not in present:
            notes.append(f"no {c['logs.pred_col']!r} column (logs.pred_col): the labels absorbing novel prompts "
                         "and online accuracy need the logged prediction")
        if r.future:
            notes.append(f"{r.future:,} stamped more than a day from now (latest {r.latest_future}): is "
                         "logs.time_col's time zone or day/month order read right?")
        if r.rows_read and r.rejected > r.rows_read / 2:  # the reason, at 100 % too
            notes.append(f"{r.rejected / r.rows_read:.0%} of rows rejected{why}")
        # index.name or the index's alpha changed since earlier days (all rows rejected: said above)
        notes += [w for w in r.warnings if w != ALL_REJECTED.format(r.rejected)]
        in_all = f" ({r.logs_novel:,} of the day's {r.logs_scored:,} scored)" if r.earlier else ""
        if r.expired:  # was "0 new prompts scored (0 already scored...)" for a day prune had deleted
            notes.insert(0, f"{r.expired:,} logged before the retention cut-off of `novelty prune`: not stored again")
        return Step("score", "ran", f"{r.scored:,} new prompts scored ({r.skipped:,} already scored, "
                    f"{r.rejected} rejected), {r.novel:,} novel{in_all}" + "".join(f"; {n}" for n in notes),
                    r.to_dict())

    def _stamped_elsewhere(self, run_id: int, pattern: str, files: list[Path] = (), time_col: str | None = None
                           ) -> list[str]:
        """The day's log as missing when none of the rows this run stored is stamped on the run date or in
        the 12 hours after it (a log kept by a day west of UTC): a clock or zone mistake put the day's
        prompts in other days' windows and left its own empty, and the run said nothing, exit 0 (QA). Rows
        all stamped the day before are that day's, logged late, with none of the day's own (QA: the bot
        was down and its log held 5 stragglers of the evening before: 'No alert.')."""
        lo, hi = (f"{(self.day + timedelta(days=d)).isoformat()}T{t}Z" for d, t in ((0, "00:00:00"), (1, "12:00:00")))
        with self._meta() as conn:
            stamped, near, first, last = conn.execute(
                "SELECT COUNT(*), SUM(ts >= ? AND ts < ?), MIN(ts), MAX(ts) FROM scores WHERE run_id = ? AND ts IS "
                "NOT NULL", [lo, hi, run_id]).fetchone()
        if not stamped or near:
            return []
        if last < lo and self.day.isoformat() in _written_days(files, time_col):  # stamped with an offset east
            return []  # of UTC, on the day where they were written (review: a UTC+13 bot's morning alerted)
        if last < lo:
            return [f"{pattern} (its {plural(stamped, 'new row')} {'is' if stamped == 1 else 'are all'} stamped "
                    f"before {self.day}, from {first} to {last}: prompts of earlier days logged late, none of "
                    f"the day's own; is the log complete, and logs.time_col's time zone right?)"]
        return [f"{pattern} (none of its {stamped:,} new rows is stamped on {self.day} or within 12 hours after "
                f"it: they run from {first} to {last}; is logs.time_col's time zone or clock right?)"]

    def spikes(self) -> Step:
        from .spikes import detect_spikes

        if not self.has_scores():
            return Step("spikes", "skipped", f"{self.db} does not exist yet: no day scored")
        # windows after the run date are neither shown nor re-decided: a backfill sees what its day saw
        report = detect_spikes(self.db, self.spike_settings(), until=self.until)
        # a window that overlaps the lookback counts, as diagnose's --since takes the window it falls in; one
        # that ends as it begins does not ('2026-10-15T00:00:00Z' > '2026-10-15' as text: the day before the
        # lookback counted here, not in the diagnosis, and a late log's spike on it was never alerted: QA)
        begins = f"{self.since('alert.lookback')}T00:00:00Z"
        recent = [i for i in report.incidents if i.window_end > begins]
        # older windows a late log made flagged: the diagnosis reads the lookback only, so they alert here
        self.flagged_late = [i for i in report.incidents if i.incident_id in report.flagged_late and i not in recent]
        late = ", ".join(i.window_start[:16] for i in self.flagged_late[:3]) + ", ..." * (len(self.flagged_late) > 3)
        tested = sum(w.p_value is not None for w in report.windows)
        # the run date's windows too small to test: a quiet bot's 1h windows left the day unjudged, said only
        # as '(4 with a test)' beside 'No alert.' (QA)
        day = [w for w in report.windows if w.window_start[:10] == self.day.isoformat() and w.prompts]
        small = [w for w in day if w.p_value is None and w.prompts < self.cfg["spikes.min_prompts"]]
        return Step("spikes", "ran", f"{plural(len(report.windows), 'window')} so far ({tested} with a test), {len(recent)} "
                    f"flagged in the last {self.cfg['alert.lookback']}"
                    + (f"; {len(self.flagged_late)} earlier flagged now, as prompts logged late came in: {late}"
                       if self.flagged_late else "")
                    + (f"; {len(small)} of the {len(day)} windows of {self.day} with prompts had fewer than "
                       f"spikes.min_prompts ({self.cfg['spikes.min_prompts']}) and were not tested: a longer "
                       "spikes.window pools them" if small else ""),
                    {"flagged": [i.window_start for i in recent],
                     **({"flagged_late": [i.window_start for i in self.flagged_late]} if self.flagged_late else {}),
                     **({"untested": len(small), "windows": len(day)} if small else {})})

    def spike_settings(self):
        from .spikes import SpikeSettings

        c = self.cfg
        return SpikeSettings(window=c["spikes.window"], fdr=c["spikes.fdr"],
                             baseline_windows=c["spikes.baseline_windows"], min_prompts=c["spikes.min_prompts"],
                             neighbour_weight=c["spikes.neighbour_weight"])

    def drift(self) -> Step:
        from .drift import drift

        reference, current = self.cfg.table("drift.reference"), self.cfg.table("drift.current", self.day)
        self.must_exist(("drift.reference", reference), ("drift.current", current))
        if reference is None or current is None:
            return Step("drift", "skipped", _half_pair("drift.reference", reference, "drift.current", current,
                                                       "to compare the day's features with the reference"))
        for path in (reference, current):
            if not path.is_file():
                return Step("drift", "skipped", f"no feature table at {path}")
        try:
            self.drift_report = drift(reference, current, ignore=set(self.cfg["drift.ignore"]))[0][1]
        except InputError as exc:  # the setting to mend is the config's, not the command's flag
            raise InputError(str(exc).replace("--ignore:", f"drift.ignore in {self.cfg.source}:", 1)) from None
        moved = [f.feature for f in self.drift_report.findings if f.cause]
        return Step("drift", "ran", f"{len(moved)} of {len(self.drift_report.findings)} features moved",
                    {"moved": moved})

    def golden(self) -> Step:
        from .golden import golden

        baseline, current = self.cfg.table("golden.baseline"), self.cfg.table("golden.current", self.day)
        if not self.cfg["golden.accuracy"]:  # else the recorded accuracy stands in until the files are there
            self.must_exist(("golden.baseline", baseline), ("golden.current", current))
        if baseline and current and baseline.is_file() and current.is_file():
            report = golden(baseline, current, *self.golden_columns(), options=self.golden_options())
            whole = report.current_file or report.current  # production is held to the whole current golden set
            self.golden_accuracy = (whole.accuracy, whole.items)
            extra = "" if report.current_file is None else (  # the feedback line's 'golden' figure: say whence
                f"; the whole current file's {whole.items:,} items {whole.accuracy:.1%}, the bar online accuracy "
                "is held to")
            case = report.case_only_items.get("current", 0)
            first = next((c for c in report.case_only if c["file"] == "current"), None)
            extra += f"; {case:,} predictions of the current file wrong only by case or separators ({first['predicted']!r} " \
                     f"for {first['label']!r})" if case else ""
            return Step("golden", "ran", f"golden-set accuracy {report.baseline.accuracy:.1%} at launch, "
                        f"{report.current.accuracy:.1%} now" + (" (regression)" if report.regression else "")
                        + extra,
                        {"baseline": report.baseline.accuracy, "current": report.current.accuracy,
                         "items": report.current.items, "regression": report.regression})
        if self.cfg["golden.accuracy"]:
            self.golden_accuracy = (self.cfg["golden.accuracy"], self.cfg["golden.items"])
            return Step("golden", "ran", f"golden-set accuracy {self.golden_accuracy[0]:.1%} as recorded in the "
                        "config", {"current": self.golden_accuracy[0], "items": self.golden_accuracy[1]})
        if baseline and current:
            return Step("golden", "skipped", "golden files not found: " + ", ".join(
                str(p) for p in (baseline, current) if not p.is_file()))
        if baseline or current:
            return Step("golden", "skipped", _half_pair("golden.baseline", baseline, "golden.current", current,
                                                        "to compare the golden set with its launch run"))
        return Step("golden", "skipped", "golden.baseline / golden.current or golden.accuracy not configured")

    @cached_property
    def evidence_files(self) -> tuple[tuple[Path | None, Path | None], tuple[Path | None, Path | None]]:
        """The drift pair (when the drift step ran) and the golden pair the diagnosis and the page read:
        resolved once a run, after the drift step (each pattern was globbed by both)."""
        return (self.tables("drift.reference", "drift.current") if self.drift_report else (None, None),
                self.tables("golden.baseline", "golden.current"))

    def tables(self, reference: str, current: str) -> tuple[Path | None, Path | None]:
        """The two files of a step's pair for the diagnosis and the page, or (None, None) when either is
        not there or its pattern matches several: that step failed and said why, and these steps go on
        (a golden '*' matching two files lost the diagnosis and the report too)."""
        try:
            pair = (self.cfg.table(reference), self.cfg.table(current, self.day))
        except InputError:
            return None, None
        return pair if all(p is not None and p.is_file() for p in pair) else (None, None)

    def must_exist(self, *settings: tuple[str, Path | None]) -> None:
        """A path without {date} names one file: not there, it is a typo in the config, not a day without
        data (a misspelt drift.reference skipped drift every day, with exit 0). The step fails on it."""
        for key, path in settings:
            if path is not None and not path.exists() and "{date" not in str(self.cfg[key]):
                raise InputError(f"{key} = {self.cfg[key]!r} in {self.cfg.source}: no such file ({path}); a path "
                                 "without {date} names one file, which must be there (a typo?)")

    def golden_columns(self) -> tuple[str, str, str]:
        return self.cfg["golden.id_col"], self.cfg["golden.label_col"], self.cfg["golden.pred_col"]

    def golden_options(self) -> str:
        return f"golden.id_col, golden.label_col, golden.pred_col in {self.cfg.source}"

    def feedback(self) -> Step:
        """The labels' step; a file that is there but cannot be used (a column not found, not a table)
        fails it, after the others were imported and judged: the run said 'No alert' and exit 0 while
        `novelty feedback` on the same files exits 2. An empty file (labels not in yet) is only said."""
        step = self._feedback()
        # why no gap was tested, for the diagnosis's 'not checked' (none when it was)
        self.gap_untested = None if "gap" in step.facts else f"the feedback step: {step.reason}"
        broken = [u for u in step.facts.get("unreadable", []) if not _empty(Path(u["source"]))]
        unusable = [i for i in step.facts.get("imported", []) if not i["rows"] and i["rejected"]]  # all set aside
        if unusable:
            step = replace(step, reason="; ".join(f"{i['source']}: no row gave a usable label ({i['rejected']:,} of "
                                                  f"its {i['read']:,} rows set aside: {i['reject_reasons'][0]['reason']})"
                                                  for i in unusable)
                           + "; " + step.reason)
        return replace(step, status="failed") if (broken or unusable) and step.status != "failed" else step

    def _feedback_id_col(self, files: list[Path]) -> str:
        """feedback.id_col, or when it is not set, logs.id_col for label files keyed by the log's own id
        column (QA: a config with logs.id_col = 'request_id' failed on labels keyed 'request_id', as
        feedback.id_col's default is prompt_id); a file with a prompt_id column keeps the default. Every
        readable file is looked at, not the first alone (review), as they are all read by one column."""
        c = self.cfg
        if "feedback.id_col" in c.given or not c["logs.id_col"] or not files:
            return c["feedback.id_col"]
        headers = [names for names in map(header_names, files) if names]  # one unreadable file is no say
        keyed = [names for names in headers if c["logs.id_col"] in names and c["feedback.id_col"] not in names]
        return c["logs.id_col"] if keyed and len(keyed) == len(headers) else c["feedback.id_col"]

    def _feedback(self) -> Step:
        from .feedback import import_files, novel_error_share, offline_online_gap, online_accuracy, record_gap

        if not self.has_scores():
            return Step("feedback", "skipped", f"{self.db} does not exist yet: no day scored")
        c = self.cfg
        pattern, files = c.files("feedback.path", self.day)
        imports, failed = import_files(self.db, files, self._feedback_id_col(files), c["feedback.label_col"],
                                       c["feedback.time_col"] or None,
                                       "feedback.id_col, feedback.label_col, feedback.time_col in the config",
                                       c["feedback.day_first"])
        if failed and not imports:  # nothing readable: the step fails on its input, as a bad log does
            raise InputError("; ".join(error for _, error in failed))
        start = self.since("feedback.period")
        online = online_accuracy(self.db, c["feedback.window"], since=start, until=self.until)
        facts = {"imported": [asdict(i) for i in imports], "online": online.to_dict(),
                 "unreadable": [{"source": source, "error": error} for source, error in failed]}
        skipped = (f"{len(failed)} feedback file(s) left out ({'; '.join(e for _, e in failed)}); "
                   if failed else "")
        if not online.total.all.labelled:
            if not pattern:
                why = "feedback.path not configured"
            elif not files:
                why = f"no feedback file at {pattern}"
            else:
                got = sum(i.rows for i in imports)
                why = (f"{got:,} labels in {len(files)} file(s), none for a prompt scored in the period"
                       if got else f"no usable label in {', '.join(map(str, files))}")
                if online.unjudged:  # the labels did join: the prompts were logged without a prediction
                    why = (f"{online.unjudged:,} labelled prompts were logged without a predicted label "
                           f"(logs.pred_col {c['logs.pred_col']!r}) or a time: nothing to judge")
            return Step("feedback", "skipped", f"{skipped}no labelled prompts in the last {c['feedback.period']} "
                        f"({why})", facts)
        line = skipped + _online_line(online, imports)
        if self.golden_accuracy is None:
            return Step("feedback", "ran", line + "; no golden accuracy to compare with", facts)
        if online.total.all.labelled < c["feedback.min_labels"]:
            return Step("feedback", "ran", line + f"; under {c['feedback.min_labels']} labels, no gap test", facts)
        gap = offline_online_gap(online.total.all, *self.golden_accuracy, (start, self.until),
                                 c["feedback.min_gap"], c["feedback.max_p_value"])
        record_gap(self.db, gap, novel_error_share(online))
        facts["gap"] = gap.to_dict()
        verdict = "significant gap" if gap.significant else "no significant gap"
        side = "below" if gap.gap >= 0 else "above"  # (QA: '+10.8%' read as online doing better)
        return Step("feedback", "ran", f"{line}; golden {gap.golden_accuracy:.1%}: {verdict} "
                    f"(online {abs(gap.gap) * 100:.1f} points {side} it, {p_text(gap.p_value)})", facts)

    def clusters(self) -> Step:
        from .clusters import find_clusters

        if not self.has_scores():
            return Step("clusters", "skipped", f"{self.db} does not exist yet: no day scored")
        # A date run after later dates (a backfill) shows its clusters but leaves the stored ones as
        # the newest date's run left them: the report and the queue follow the newest view.
        later = not self.newest_run_date()
        found = find_clusters(self.db, since=self.since("clusters.lookback"), until=self.until,
                              min_size=self.cfg["clusters.min_size"], save=not later)
        if not later:
            self.record_clustered()
        else:  # the date's page shows what this run found (the stored view is a later date's)
            self.found_clusters = found
        kept = "; not saved, as a later date has run (the stored clusters are its)" if later else ""
        if not found:
            return Step("clusters", "ran",
                        f"no clusters of novel prompts in the last {self.cfg['clusters.lookback']}{kept}")
        return Step("clusters", "ran", f"{len(found)} cluster{'s' * (len(found) != 1)} of novel prompts, largest: "
                    f"{found[0].name} ({found[0].size}){kept}",
                    {"clusters": [c.cluster_id for c in found], "saved": not later})

    def diagnose(self) -> Step:
        c = self.cfg
        drift_files, golden_files = self.evidence_files
        self.diagnosis = diagnose(*drift_files, self.db if self.has_scores() else None, self.since("alert.lookback"),
                                  set(c["drift.ignore"]), golden_baseline=golden_files[0],
                                  golden_current=golden_files[1], spike_settings=self.spike_settings(),
                                  drift_report=self.drift_report, until=self.until,
                                  golden_columns=self.golden_columns(), golden_options=self.golden_options(),
                                  gap_test=False, gap_untested=self.gap_untested,  # the feedback step tests it,
                                  partial=True)  # what cannot be read is said in the step's line
        # at feedback.* settings
        causes = ", ".join(f"{x.cause} ({x.severity})" for x in self.diagnosis.causes) or "no root cause found"
        unread = ", ".join(u["evidence"] for u in self.diagnosis.unreadable)  # its step's line says why
        return Step("diagnose", "ran",
                    causes + (f"; {unread} could not be used, the rest was judged" if unread else ""))

    def report(self) -> Step:
        from .report import write_report

        if not self.has_scores():
            return Step("report", "skipped", f"{self.db} does not exist yet: no day scored")
        c = self.cfg
        drift_files, golden_files = self.evidence_files
        out = c.path("output.report", self.day)
        if out is None:
            return Step("report", "skipped", "output.report is empty: no page written")
        if out == c.path("output.report", self.day + timedelta(days=1)) and not self.newest_run_date():
            return Step("report", "skipped", f"a later date has run and {out.name} is its page (put {{date}} in "
                        "output.report to keep a page per date)")  # a backfill would overwrite it with an old verdict
        result = write_report(self.db, out, reference=drift_files[0], current=drift_files[1],
                              ignore=set(c["drift.ignore"]), golden_baseline=golden_files[0],
                              golden_current=golden_files[1], index_dir=c.path("index.dir"), window=c["spikes.window"],
                              until=self.until, spike_settings=self.spike_settings(),
                              clusters=self.found_clusters, golden_columns=self.golden_columns(),
                              golden_options=self.golden_options(), alert_period=c["alert.lookback"],
                              alerting=({(x.cause, x.feature) for x in self.diagnosis.causes}
                                        | ({("label_bias", None)} if self.flagged_late else set()))
                              if self.diagnosis else None,  # a late-flagged window alerts: not 'earlier' (review)
                              partial=True)
        self.report_path = result.out
        return Step("report", "ran", f"wrote {result.out}")

    def alerts(self) -> list[str]:
        c = self.cfg
        out = [f"{x.cause}{f' [{x.feature}]' if x.feature else ''} ({x.severity}){_when(x)}"
               for x in (self.diagnosis.causes if self.diagnosis else [])
               if x.cause in c["alert.causes"] and _RANK[x.severity] >= _RANK[c["alert.min_severity"]]]
        if "label_bias" in c["alert.causes"]:  # once: the next run finds the window decided flagged
            out += [f"label_bias ({i.severity}) in the window of {i.window_start[:16]}, flagged now by prompts "
                    "logged late" for i in self.flagged_late if _RANK[i.severity] >= _RANK[c["alert.min_severity"]]]
        if c["alert.missing_log"] and self.missing:
            out.append(f"missing log: {self.missing[0]}")
        return out


def _when(cause) -> str:
    """Which windows a label_bias alert is about: every run in alert.lookback alerts on a spike, so the
    line says when it began, its latest flagged window and whether it has ended (on-call tells a new
    spike from one already seen). Other causes are judged on the run's own period: nothing to add.

    >>> class C: cause = "label_bias"; details = {"first_flagged": "2026-11-22T00:00:00Z", "ended": None,
    ...     "windows": ["2026-11-22T00:00:00Z", "2026-11-23T06:00:00Z"]}
    >>> _when(C())
    ': flagged since 2026-11-22T00:00, latest window 2026-11-23T06:00'
    >>> C.details = {"first_flagged": "2026-11-23T06:00:00Z", "ended": "2026-11-23T12:00:00Z",
    ...              "windows": ["2026-11-23T06:00:00Z"]}
    >>> _when(C())
    ': window 2026-11-23T06:00, ended 2026-11-23T12:00'
    """
    d = cause.details or {}
    if cause.cause != "label_bias" or not d.get("windows"):
        return ""
    first, last = (d.get("first_flagged") or d["windows"][0])[:16], d["windows"][-1][:16]
    return ((f": window {last}" if first == last else f": flagged since {first}, latest window {last}")
            + (f", ended {d['ended'][:16]}" if d.get("ended") else ""))


def _online_line(online, imports) -> str:
    t = online.total
    got = sum(i.new + i.changed for i in imports)
    aside = sum(i.rejected for i in imports)
    novel = f", {t.novel.accuracy:.1%} on novel prompts" if t.novel.labelled else ""
    cased = online.case_only and (f" (true labels such as {online.case_only[0]['label']!r} match predictions "
                                  f"such as {online.case_only[0]['predicted']!r} only with case and separators ignored: they "
                                  "count wrong; fix their spelling)")
    return (f"{got:,} labels imported" + (f" ({aside:,} rows set aside: see novelty feedback)" if aside else "")
            + f"; online accuracy {t.all.accuracy:.1%} [{t.all.ci_low:.1%}, {t.all.ci_high:.1%}] "
            f"on {t.all.labelled:,} labelled prompts{novel}{cased or ''}")


def _run_header(date: str, config: str) -> str:
    return f"novelty run {date} ({config})"


def _step_line(step: Step) -> str:
    return f"  {step.name:<9} {step.status:<8} {step.reason}"


def _written_days(files: list[Path], time_col: str | None, rows: int = 200) -> set[str]:
    """The dates the logs' first times are written on in their own offsets ('2026-11-24T08:00+13:00' is
    the 24th, though 2026-11-23 in UTC); times without an offset (UTC) or unreadable give none.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     log = Path(tmp) / "d.jsonl"
    ...     _ = log.write_text('{"t": "2026-11-24T08:00:00+13:00"}\\n{"t": "2026-11-23T23:50:00Z"}\\n{"t": 5}\\n')
    ...     sorted(_written_days([log], "t"))
    ['2026-11-24']
    """
    import pandas as pd

    from .starter import first_values

    days = set()
    for path in list(files)[:3]:
        for value in first_values(path, time_col, rows):
            if isinstance(value, str) and value[-1:] not in ("Z", "z"):
                try:
                    stamp = pd.Timestamp(value)
                except (ValueError, TypeError, OverflowError):
                    continue
                if stamp.tzinfo is not None and stamp.utcoffset():
                    days.add(stamp.date().isoformat())
    return days


def _untested(summary: RunSummary) -> str:
    """' But ...' when the spike test judged none of the run date's windows: too few prompts in each
    (QA: with 1h windows a quiet bot's new topic went 'No alert.' for a week, said only in the step)."""
    spikes = next((s for s in summary.steps if s.name == "spikes"), None)
    if spikes is None or not spikes.facts.get("untested") or spikes.facts["untested"] < spikes.facts["windows"]:
        return ""
    return (f" But {summary.date} was not spike-tested: each of its windows had fewer than spikes.min_prompts "
            "prompts (see the spikes line).")


def format_run(summary: RunSummary, echoed: bool = False) -> str:
    """The short summary printed to stdout (cron mails it); ``echoed``: without the lines ``echo`` gave
    as the run went (the header and the eight steps)."""
    lines = [] if echoed else [_run_header(summary.date, summary.config)]
    lines += [_step_line(s) for s in summary.steps[len(STEPS) if echoed else 0:]]
    failed = [s.name for s in summary.steps if s.status == "failed"]
    if summary.alerts:
        lines.append("ALERT: " + "; ".join(summary.alerts))
    if failed:
        lines.append(f"FAILED: {', '.join(failed)} (exit {summary.exit_code}); the reason is on its line above"
                     + ("" if summary.alerts else "; no alert from the steps that ran"))
    elif not summary.alerts:
        lines.append("No alert." + _untested(summary))
    if summary.report:
        lines.append(f"Report: {Path(summary.report).resolve()}")
    return "\n".join(lines)
