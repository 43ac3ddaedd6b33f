"""The ``monitor.toml`` of ``novelty run``: every setting declared once, with its default and help.

``SETTINGS`` is the one list: ``load_config`` checks a file against it (unknown keys, wrong types,
missing required ones), ``novelty init`` writes a commented starter file from it, and the README's
example (``docs/monitor.toml``) is that file, kept in sync by a test. Paths in the file are relative
to the file's own folder, so a crontab line works from any directory. ``{date}`` in a path becomes
the run date (``2026-11-25``); ``{date:%Y/%m/%d}`` takes any strftime format.
"""

from __future__ import annotations

import difflib
import glob
import re
import textwrap
import tomllib
from dataclasses import dataclass
from datetime import date as Date
from pathlib import Path
from typing import Any

from .errors import InputError

CAUSE_KINDS = ("model_regression", "data_drift", "feature_drift", "feature_recalibration",
               "feature_unavailable", "training_serving_skew", "label_bias", "offline_online_gap")
SEVERITIES = ("low", "medium", "high")


@dataclass(frozen=True)
class Setting:
    key: str            # "section.name"
    default: Any        # None: required; "" / 0 / []: not given (the step that needs it is skipped)
    help: str
    kind: type = str


SETTINGS: tuple[Setting, ...] = (
    Setting("index.name", None, "Name of the index built with `novelty index build` (in index.dir)."),
    Setting("index.dir", "indexes", "Folder holding indexes."),
    Setting("logs.path", None, "One day's production log (JSONL, CSV or Parquet, gzip too). {date} becomes "
            "the run date (2026-11-25), {date:%Y/%m/%d} any strftime format; * and ? match several files."),
    Setting("logs.text_col", "prompt", "Column holding the prompt text (a chat 'messages' list: its last user turn)."),
    Setting("logs.time_col", "timestamp", "Column holding the event time (ISO-8601 or epoch); set here, a log "
            "without it is refused. Empty, or the default and not in the log: its prompts count on the run date "
            "(00:00 UTC; day windows only)."),
    Setting("logs.day_first", False, "Dates written with slashes put the day first (03/06/2026 is 3 June); by "
            "default slashes are read month first, as in the US (dots and dashes are read day first).", bool),
    Setting("logs.id_col", "", "Column holding a unique prompt id; feedback labels join on it (set here, a "
            "log without it is refused). Empty: ids derive from time, text and line."),
    Setting("logs.pred_col", "predicted_label", "Column holding the model's predicted label (set here, a log "
            "without it is refused; the labels absorbing novel prompts and online accuracy need it)."),
    Setting("logs.redact", False, "Store the prompt text (and rejected rows) with e-mail addresses, phone, card "
            "and IBAN numbers, IPs and SSNs replaced by placeholders, as `score --redact`; the embedding still "
            "sees the original. Turn it on from the first run: rows stored before keep their text.", bool),
    Setting("logs.redact_before_embed", False, "Redact before embedding too (implies logs.redact): nothing "
            "derived from the original text is kept, as `score --redact-before-embed`.", bool),
    Setting("output.db", "monitor.db", "SQLite file the run fills (created on the first run)."),
    Setting("output.report", "report.html", "HTML report rewritten by every run ({date} allowed)."),
    Setting("output.summary", "", "Also write the run's JSON summary here ({date} allowed)."),
    Setting("spikes.window", "1d", "Window of the novel-rate spike test: 1h, 1d, 7d ..."),
    Setting("spikes.fdr", 0.005, "False-discovery rate across the windows decided in one run.", float),
    Setting("spikes.baseline_windows", 14, "Earlier unflagged windows pooled into the expected rate.", int),
    Setting("spikes.min_prompts", 30, "Windows with fewer prompts are shown but not tested.", int),
    Setting("spikes.neighbour_weight", 0.7, "Weight of the neighbour test (do a window's novel prompts sit near "
            "each other?) beside the tail test's; 0 leaves it out.", float),
    Setting("drift.reference", "", "Feature table at launch (or a profile saved by `novelty drift`)."),
    Setting("drift.current", "", "Current feature table ({date} allowed, and a * matching one file), compared "
            "with drift.reference."),
    Setting("drift.ignore", [], "Feature columns to leave out (ids, free text).", list),
    Setting("golden.baseline", "", "Golden-set predictions at launch: id, label, prediction columns."),
    Setting("golden.current", "", "Golden-set predictions of the model now ({date} allowed)."),
    Setting("golden.id_col", "id", "Column of the golden files holding the item id."),
    Setting("golden.label_col", "label", "Column of the golden files holding the true label."),
    Setting("golden.pred_col", "prediction", "Column of the golden files holding the model's prediction."),
    Setting("golden.accuracy", 0.0, "Offline accuracy to hold production to when no golden files are "
            "given (0: none).", float),
    Setting("golden.items", 0, "How many items golden.accuracy was measured on (0: treat it as exact).", int),
    Setting("feedback.path", "", "True labels arriving for scored prompts ({date} allowed; * and ? too): "
            "imported by every run, late and repeated labels included."),
    Setting("feedback.id_col", "prompt_id", "Column of the feedback file holding the prompt id (unset: a file "
                                            "keyed by logs.id_col's name and not prompt_id is read by that column)."),
    Setting("feedback.label_col", "label", "Column of the feedback file holding the true label."),
    Setting("feedback.time_col", "", "Column holding when each label was given; with it the newest label "
            "wins; without it a label is as old as its file (when the file was last written)."),
    Setting("feedback.day_first", False, "Dates with slashes in feedback.time_col put the day first (03/06/2026 "
            "is 3 June), as logs.day_first says of the logs; label files often come from another tool.", bool),
    Setting("feedback.window", "1d", "Window of the online-accuracy table."),
    Setting("feedback.period", "7d", "Online accuracy over this period, ending with the run date, is "
            "compared with the golden-set accuracy."),
    Setting("feedback.min_gap", 0.05, "Smallest accuracy gap (golden minus online) that counts.", float),
    Setting("feedback.max_p_value", 0.01, "The gap must also be significant at this level "
            "(two-proportion test).", float),
    Setting("feedback.min_labels", 30, "Fewer labelled prompts in the period than this: no gap test.", int),
    Setting("clusters.lookback", "14d", "Cluster the novel prompts of this period, ending with the run date."),
    Setting("clusters.min_size", 5, "Smallest group that counts as a cluster.", int),
    Setting("alert.causes", list(CAUSE_KINDS), "Root causes that make the run exit 1 (for the scheduler; run "
            "has no skew step: training_serving_skew comes from novelty skew or diagnose).", list),
    Setting("alert.min_severity", "medium", "Only causes of this severity or worse: low, medium or high."),
    Setting("alert.lookback", "7d", "Only evidence from this period, ending with the run date, alerts (and an older "
            "window a late log makes flagged, once); a spike alerts on each run of the period, its ALERT line "
            "naming its windows and when it ended."),
    Setting("alert.missing_log", True, "Also exit 1 when the day's log is missing, empty, or lost more than half "
            "its rows to rejects (a wrong logs.id_col, a changed format).", bool),
)
BY_KEY = {s.key: s for s in SETTINGS}
DATED = ("logs.path", "output.report", "output.summary", "drift.current", "golden.current", "feedback.path")
NOT_EMPTY = ("index.name", "logs.path", "logs.text_col")  # no default, or no run without them
EXAMPLE = {  # docs/monitor.toml, the README's example: a support bot with every input configured
    "index.name": "support-bot", "logs.path": "logs/{date}.jsonl", "logs.id_col": "request_id",
    "output.db": "monitor.db", "output.report": "reports/{date}.html", "output.summary": "runs/{date}.json",
    "drift.reference": "features/launch.parquet", "drift.current": "features/{date}.parquet",
    "drift.ignore": ["user_id"], "golden.baseline": "golden/launch.csv", "golden.current": "golden/latest.csv",
    "feedback.path": "feedback/{date}*.csv", "feedback.time_col": "labelled_at",
    "alert.causes": ["label_bias", "model_regression", "offline_online_gap", "feature_unavailable"],
}
SECTION_HELP = {
    "index": "The index of training prompts to score against.",
    "logs": "Where the day's production log is and which columns hold what.",
    "output": "Where the run writes.",
    "spikes": "Prediction-label bias: windows with more novel prompts than expected.",
    "drift": "Tabular drift of the classifier's feature inputs (skipped when not given).",
    "golden": "Offline evaluation (skipped when not given): the accuracy production is held to.",
    "feedback": "Continuous evaluation from true labels (skipped when not given).",
    "clusters": "Clusters of novel prompts: what the new questions are.",
    "alert": "What makes `novelty run` exit 1.",
}


@dataclass(frozen=True)
class MonitorConfig:
    values: dict
    folder: Path
    source: str
    given: frozenset = frozenset()  # keys the file or --set gave (the rest are defaults)

    def __getitem__(self, key: str) -> Any:
        return self.values[key]

    def path(self, key: str, day: Date | None = None) -> Path | None:
        """The setting as a path relative to the config's folder, ``{date}`` filled; None when empty."""
        value = self.values[key]
        if not value:
            return None
        try:
            text = value.format(date=day) if day is not None else value
        except (KeyError, ValueError, IndexError, TypeError, AttributeError) as exc:
            raise InputError(f"{self.source}: {key} = {value!r}: only {{date}} may be filled in ({exc})") from None
        return self.folder / Path(text).expanduser()

    def files(self, key: str, day: Date | None) -> tuple[Path | None, list[Path]]:
        """The pattern (filled) and the files it matches, sorted."""
        pattern = self.path(key, day)
        if pattern is None:
            return None, []
        wild = only_stars(str(pattern))
        if glob.has_magic(wild):
            return pattern, sorted(Path(p) for p in glob.glob(wild) if Path(p).is_file())
        return pattern, [pattern] if pattern.is_file() else []

    def table(self, key: str, day: Date | None = None) -> Path | None:
        """A setting that names one table (drift.*, golden.*): its path, or the one file its ``*``
        matches (features/{date}-*.csv); matching nothing, the pattern (not there: the step says so)."""
        pattern, found = self.files(key, day)
        if pattern is None or not glob.has_magic(only_stars(str(pattern))):
            return pattern
        if len(found) > 1:  # was: skipped every day, 'no feature table at .../2026-11-21-*.csv', exit 0
            raise InputError(f"{key} = {self.values[key]!r} in {self.source} matches {len(found)} files "
                             f"({', '.join(f.name for f in found[:3])}{', ...' if len(found) > 3 else ''}); it names "
                             "one table: narrow the pattern")
        return found[0] if found else pattern


def only_stars(pattern: str) -> str:
    """``pattern`` for ``glob`` with ``*`` and ``?`` as its only wildcards: a ``[`` in a folder name
    (``mon[1]``, ``logs [prod]``) is a character, not the start of a set that matches nothing.

    >>> only_stars("/srv/mon[1]/logs/*.jsonl")
    '/srv/mon[[]1]/logs/*.jsonl'
    """
    return pattern.replace("[", "[[]")


def load_config(path: str | Path, overrides: dict[str, Any] | None = None) -> MonitorConfig:
    """Read and check ``path`` against ``SETTINGS``; ``overrides`` ("section.key": value) win."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8-sig"))  # -sig: Notepad saves a BOM first
    except FileNotFoundError:
        raise InputError(f"{path}: no such config file; write one with `novelty init`") from None
    except IsADirectoryError:
        raise InputError(f"{path} is a folder; pass the monitor.toml inside it") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read it ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path}: not valid TOML ({exc})") from None
    given = _flatten(raw, path)
    for key in overrides or {}:  # as parse_override checks --set: a misspelt key must not pass unnoticed
        if key not in BY_KEY:
            raise InputError(f"override {key!r} is not a setting of monitor.toml; known: {', '.join(BY_KEY)}")
    given.update(overrides or {})
    values = {}
    for s in SETTINGS:
        if s.key in given:
            values[s.key] = _checked(s, given[s.key], "--set" if s.key in (overrides or {}) else path)
        elif s.default is None:
            tabular = s.key in ("index.name", "logs.path") and any(k.split(".")[0] in ("drift", "golden", "feedback")
                                                                 for k in given)
            raise InputError(f"{path}: {s.key} is required ({s.help})" + (
                "; novelty run monitors production prompts against an index: for feature tables and a golden "
                "set alone, put `novelty diagnose --reference REF --current CUR --golden-baseline B "
                "--golden-current C --fail-on cause` in cron" if tabular else ""))
        else:
            values[s.key] = s.default
    _check_values(values, path, set(overrides or {}))
    return MonitorConfig(values, path.resolve().parent, str(path), frozenset(given))


def _flatten(raw: dict, path: Path) -> dict:
    flat = {}
    for section, table in raw.items():
        if not isinstance(table, dict):
            owners = [k for k in BY_KEY if k.split(".", 1)[1] == section]  # 'name = ...' above [index]
            raise InputError(f"{path}: {section!r} should be a [section]" + (
                f"; did you mean {owners[0]!r} ({section} under [{owners[0].split('.')[0]}])?" if owners else
                f"; sections: {', '.join(SECTION_HELP)}"))
        for name, value in table.items():
            key = f"{section}.{name}"
            if key not in BY_KEY:  # the same name in another section first: [logs] db meant output.db
                elsewhere = [k for k in BY_KEY if k.split(".", 1)[1] == name]
                close = elsewhere or difflib.get_close_matches(key, BY_KEY, n=1)
                raise InputError(f"{path}: unknown setting {key!r}" + (f"; did you mean {close[0]!r}?" if close else ""))
            flat[key] = value
    return flat


def _checked(s: Setting, value: Any, path: Path | str) -> Any:
    if s.kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if s.kind is list and isinstance(value, str):
        value = [value]
    if not isinstance(value, s.kind) or (s.kind is not bool and isinstance(value, bool)):
        kind = {int: "a whole number", float: "a number", bool: "true or false", str: "text in quotes",
                list: "a list"}.get(s.kind, s.kind.__name__)
        raise InputError(f"{path}: {s.key} should be {kind}, not {value!r} ({s.help})")
    if s.kind is list and not all(isinstance(item, str) for item in value):
        raise InputError(f"{path}: {s.key} should be a list of strings, not {value!r} ({s.help})")
    if s.key in NOT_EMPTY and not value.strip():
        raise InputError(f"{path}: {s.key} is empty ({s.help})")
    return value


def _rate(value: float) -> bool:
    return 0 < value < 1  # NaN fails too


_RANGES = (  # checked when the config loads, so a run never gets half way and then fails on a setting
    ("spikes.fdr", _rate, "is a false-discovery rate between 0 and 1 (e.g. 0.005)"),
    ("spikes.baseline_windows", lambda v: v >= 1, "must be at least 1"),
    ("spikes.min_prompts", lambda v: v >= 0, "cannot be negative"),
    ("spikes.neighbour_weight", lambda v: v >= 0, "cannot be negative (0: the tail test alone)"),
    ("golden.accuracy", lambda v: 0 <= v <= 1, "is an accuracy between 0 and 1 (0: none)"),
    ("golden.items", lambda v: v >= 0, "cannot be negative (0: treat golden.accuracy as exact)"),
    ("feedback.min_gap", lambda v: 0 <= v < 1, "is an accuracy gap between 0 and 1 (e.g. 0.05)"),
    ("feedback.max_p_value", _rate, "is a significance level between 0 and 1 (e.g. 0.01)"),
    ("feedback.min_labels", lambda v: v >= 1, "must be at least 1"),
    ("clusters.min_size", lambda v: v >= 2, "must be at least 2 (a cluster of one is an outlier)"),
)


def _check_values(values: dict, path: Path, overridden: set[str] = frozenset()) -> None:
    def where(key: str) -> str:  # a bad value given with --set is not the file's fault
        return "--set" if key in overridden else str(path)

    unknown = set(values["alert.causes"]) - set(CAUSE_KINDS)
    if unknown:
        raise InputError(f"{where('alert.causes')}: alert.causes takes {', '.join(CAUSE_KINDS)}, "
                         f"not {', '.join(sorted(unknown))}")
    if values["alert.min_severity"] not in SEVERITIES:
        raise InputError(f"{where('alert.min_severity')}: alert.min_severity is low, medium or high, "
                         f"not {values['alert.min_severity']!r}")
    for key, ok, rule in _RANGES:
        value = values[key]
        if not ok(value):
            raise InputError(f"{where(key)}: {key} {rule}, not {value!r} ({BY_KEY[key].help})")
    from .spikes import window_seconds

    for key in ("spikes.window", "feedback.window", "feedback.period", "clusters.lookback", "alert.lookback"):
        try:
            window_seconds(values[key])
        except InputError as exc:
            raise InputError(f"{where(key)}: {key}: {exc}") from None
    for key, value in values.items():  # a {dat} typo fails now, in init, not at the first run
        if isinstance(value, str) and key not in DATED and re.search(r"\{[^{}]*\}", value):
            raise InputError(f"{where(key)}: {key} = {value!r}: {{date}} is filled in only in "
                             f"{', '.join(DATED)}; {key} is one path for every day")
        if isinstance(value, str) and key in DATED and "{" in value:
            try:
                value.format(date=Date(2026, 11, 25))
            except (KeyError, ValueError, IndexError, TypeError, AttributeError) as exc:
                raise InputError(f"{where(key)}: {key} = {value!r}: only {{date}} may be filled in ({exc})") from None


def parse_override(text: str) -> tuple[str, Any]:
    """``--set spikes.window=1h``: the value is read as TOML, or as a string when it is not.

    >>> parse_override("spikes.fdr=0.05"), parse_override("spikes.window=1h")
    (('spikes.fdr', 0.05), ('spikes.window', '1h'))
    """
    key, sep, value = text.partition("=")
    key = key.strip()
    if not sep or key not in BY_KEY:
        raise InputError(f"--set {text!r}: give section.key=value with a key of monitor.toml (e.g. spikes.window=1h)")
    try:
        return key, tomllib.loads(f"v = {value.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        return key, value.strip()


# -- writing a starter file ---------------------------------------------------------------------------
def render_config(values: dict[str, Any], notes: dict[str, str] | None = None) -> str:
    """A commented monitor.toml: every setting with its help; those left at their default commented out.

    >>> print(render_config({"index.name": "bot", "logs.path": "logs/{date}.jsonl"}).splitlines()[5])
    name = "bot"
    """
    notes = notes or {}
    lines = ["# monitor.toml for `novelty run --config monitor.toml` (one line in crontab runs it every day).",
             "# Paths are relative to this file. Settings commented out keep the default shown."]
    section = None
    for s in SETTINGS:
        head, name = s.key.split(".")
        if head != section:
            section = head
            lines += ["", f"[{head}]  # {SECTION_HELP[head]}"]
        lines += textwrap.wrap(s.help + (f" {notes[s.key]}" if s.key in notes else ""), 100,
                               initial_indent="# ", subsequent_indent="# ")
        value = values.get(s.key, s.default)
        given = s.key in values or s.default is None
        lines.append(("" if given else "# ") + f"{name} = {_toml(value if value is not None else '')}")
    return "\n".join(lines) + "\n"


def _toml(value: Any) -> str:
    """A value as TOML (strings in basic quotes, with JSON's escapes, which TOML shares)."""
    import json

    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return json.dumps(str(value), ensure_ascii=False)
