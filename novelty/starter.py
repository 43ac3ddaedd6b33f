"""``novelty init``: a commented starter ``monitor.toml`` from the user's own files.

The log's columns are sniffed from the newest file the log pattern matches (its first rows): the
text, time, id and predicted-label columns are found by their usual names, else by their content
(the longest text column; the column that parses as times).
"""

from __future__ import annotations

import csv
import difflib
import glob
import itertools
import json
import os
import re
import zlib
from datetime import date, datetime
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from .config import BY_KEY, load_config, only_stars, render_config
from .errors import InputError, check_argument
from .logs import (bare_name, chat_turns, check_name, file_in_the_way, format_time, is_stdout, jsonl_lines,
                   label_value, log_columns, output_file, parquet_source, structured, top_label)

NAMES = {
    "text": ("prompt", "text", "query", "utterance", "message", "question", "input", "user_message"),
    "time": ("timestamp", "ts", "time", "created_at", "created", "datetime", "event_time", "logged_at", "start_time",
             "date"),
    "id": ("prompt_id", "request_id", "req_id", "query_id", "message_id", "event_id", "trace_id", "uuid", "id"),
    "pred": ("predicted_label", "prediction", "predicted_intent", "pred", "intent", "label"),
}
_SETTING = {"text": "logs.text_col", "time": "logs.time_col", "id": "logs.id_col", "pred": "logs.pred_col"}


_REPLY_NAME = re.compile(r"repl|respon|answer|assistant|bot|output|completion|generated", re.I)  # the model's side
_REPLY_WORD = re.compile(r"(^|[\W_])(ai|out|llm)($|[\W_])", re.I)  # LangChain's human/ai, in/out: alone
_ASKED = re.compile(r"user|customer|query|question|message|utterance|prompt|input|request|said|text|human", re.I)
_PREDICTED = (re.compile(r"pred", re.I), re.compile(r"intent", re.I), re.compile(r"label|class|category", re.I))
_TRUTH = re.compile(r"true|truth|gold|actual|human|correct|expected|reference|annotat", re.I)  # labels, not guesses
_ID_NAME = re.compile(r"(?i:(^|[_\- ])id)$|[a-z](Id|ID)$")  # user_id, id, userId; not user_said


@dataclass(frozen=True)
class StarterResult:
    out: str
    sniffed_from: str | None
    columns: dict[str, str]
    notes: list[str] = field(default_factory=list)  # what to check in the config: guesses, columns passed over

    def to_dict(self) -> dict:
        """As ``--json`` prints it."""
        return asdict(self)


def write_starter(out: str | Path, settings: dict[str, Any], force: bool = False) -> StarterResult:
    """Write a starter config to ``out`` with ``settings`` ("section.key": value) filled in and the log
    columns sniffed; check that it loads."""
    check_argument("settings", settings, dict, '{"section.key": value}, e.g. {"index.name": "support-bot"}')
    unknown = [key for key in settings if key not in BY_KEY]
    if unknown:  # was dropped without a word: 'spikes.windw' left the windows at 1d
        close = difflib.get_close_matches(str(unknown[0]), BY_KEY, n=1)
        raise InputError(f"{unknown[0]!r} is not a setting of monitor.toml" + (f"; did you mean {close[0]!r}?" if close
                         else f"; known: {', '.join(BY_KEY)}"))
    out = output_file(out, "monitor.toml")
    if is_stdout(out):  # not standard output: the config's paths are written relative to where it lives
        raise InputError("-o - is not supported here: the config's paths are relative to its own folder; give "
                         "its file name, e.g. monitor.toml")
    if out.is_dir():
        raise InputError(f"{out} is a folder; give the config's file name, e.g. {out / 'monitor.toml'}")
    if out.exists() and not force:
        raise InputError(f"{out} exists; pass --force to replace it")
    blocking = file_in_the_way(out)
    if blocking is not None:  # was: 'afile: File exists'
        raise InputError(f"{out}: {blocking} is a file, not a folder")
    from .index import check_index_name

    name = settings.get("index.name")
    if isinstance(name, str) and not Path(name).is_dir():  # (an index's folder may be named instead, as run loads it)
        check_index_name(name)  # was written, then `index build --name` and every run refused it
    if not str(settings.get("logs.path", "")).strip():
        raise InputError("--logs is empty: give the day's log location, e.g. 'logs/{date}.jsonl'")
    settings = _relative_to(out.resolve().parent, settings)
    sample, columns, sniffed_notes = _sniff_newest(settings.get("logs.path", ""), out.resolve().parent)
    values = {**{_SETTING[role]: name for role, name in columns.items()}, **settings}
    notes = {_SETTING[role]: f"(Sniffed from {sample.name}.)" for role in columns}
    dates = _slashed_dates(sample, columns.get("time")) if sample is not None else []
    example = _day_first_example(dates)
    if example and "logs.day_first" not in settings:  # run would reject the days past the 12th, and misdate the rest
        values["logs.day_first"] = True
        notes["logs.day_first"] = f"(Sniffed from {sample.name}: {example!r} puts the day first.)"
    either = None if example or "logs.day_first" in settings else _either_way_example(dates)
    labels = _newest_log(settings.get("feedback.path", ""), out.resolve().parent)
    feedback_columns, feedback_notes = _sniff_feedback(labels) if labels else ({}, [])
    values.update(feedback_columns)
    notes.update({key: f"(Sniffed from {labels.name}.)" for key in feedback_columns})
    draft = out.with_name(f".{out.name}.draft")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        draft.write_text(render_config(values, notes), encoding="utf-8")
    except OSError as exc:  # was the hidden draft's name: '/proc/.m.toml.draft: No such file or directory'
        raise InputError(f"{out}: cannot write it ({exc.strerror or exc})") from None
    try:
        cfg = load_config(draft)  # what init writes, run accepts; a config run would refuse is not written
        if cfg.path("output.db").is_dir():  # was written, and every run then refused it
            raise InputError(f"--db {settings['output.db']}: {cfg.path('output.db')} is a folder; give a file "
                             "name such as monitor.db")
    except InputError as exc:
        draft.unlink()
        raise InputError(str(exc).replace(str(draft), str(out))) from None
    draft.replace(out)
    notes = list(sniffed_notes) + feedback_notes
    if either:  # QA: '01/10/2026 00:12' (1 October) filed under 10 January, every day of the month up to the 12th
        notes.append(f"times such as {either!r} in {sample.name} read either way; they are read month first (US): "
                     "if the day comes first, set logs.day_first = true")
    if not (cfg.path("index.dir") / cfg["index.name"] / "manifest.json").is_file():
        notes.append(f"no index {cfg['index.name']!r} in {cfg.path('index.dir')} yet: build it with `novelty index "
                     f"build TRAINING_FILE --name {cfg['index.name']}` before the first run")
    report = cfg.path("output.report", date.today())
    if report is not None and report.suffix.lower() not in (".html", ".htm"):
        notes.append(f"output.report {settings.get('output.report', report.name)!r} is not an .html file: the "
                     "run replaces only an HTML page there")
    for key in ("drift.reference", "drift.current", "golden.baseline", "golden.current"):
        if "{date" in str(cfg[key]):
            continue
        try:
            path = cfg.table(key)  # (a '*' takes its one match)
        except InputError as exc:
            notes.append(f"{exc}; each run fails its step until it does")
            continue
        if path is not None and not path.exists():  # a typo: every run fails on it
            notes.append(f"{key}: no such file {path}; each run fails its step until it is there")
    if "{date" not in str(settings.get("logs.path", "")):
        notes.append(f"logs.path {settings['logs.path']!r} has no {{date}}: every run reads the same file(s)")
    return StarterResult(str(out), str(sample) if sample else None, columns, notes)


PATH_SETTINGS = ("index.dir", "logs.path", "output.db", "output.report", "output.summary", "feedback.path",
                 "drift.reference", "drift.current", "golden.baseline", "golden.current")


def _relative_to(folder: Path, settings: dict[str, Any]) -> dict[str, Any]:
    """``novelty run`` reads paths relative to the config. A path typed here that names files from
    the working folder but not from the config's folder (init -o elsewhere/m.toml) is rewritten so it
    still names them, and so is a file the run will write in a folder named from here (--db ops/m.db
    -o ops/m.toml is m.db beside the config, not ops/ops/m.db); the others are kept as typed, relative
    to the config (--db m.db -o elsewhere/m.toml: elsewhere/m.db). The index folder is
    written too when the config goes elsewhere and only the working folder has ./indexes."""
    from .index import index_dir_default

    out = dict(settings)
    default = index_dir_default()  # an absolute NOVELTY_INDEX_DIR is no ./indexes beside the config: written
    if "index.dir" not in out and default.is_dir() and (default.is_absolute() or not (folder / default).is_dir()):
        out["index.dir"] = str(default)
    for key in PATH_SETTINGS:
        value = out.get(key)
        if not isinstance(value, str) or not value or Path(value).expanduser().is_absolute():
            continue
        if _names_files(Path.cwd(), value) and not _names_files(folder, value) or \
                key.startswith("output.") and _names_folder_from_here(value, folder):
            out[key] = Path(os.path.relpath(Path.cwd() / value, folder)).as_posix()
    return out


def _names_folder_from_here(value: str, folder: Path) -> bool:
    """A file the run will write, typed in a folder that exists from here, or is the config's own or
    one under it (ops/monitor.db, ops/reports/{date}.html beside -o ops/monitor.toml), but not from
    the config's folder (ops/ops/)."""
    there, here = (folder / value).parent.resolve(), (Path.cwd() / value).parent.resolve()
    if there == folder.resolve():  # a plain file name: beside the config, whether its folder exists yet or not
        return False
    inside = here == folder.resolve() or folder.resolve() in here.parents  # ops/reports/ beside ops/m.toml
    return not there.is_dir() and (here.is_dir() or inside)


def _names_files(base: Path, pattern: str) -> bool:
    return bool(glob.glob(only_stars(os.path.normpath(base / _wildcards(pattern)))))  # '..' through folders not made yet


def _wildcards(pattern: str) -> str:
    """{date} as *, and {date:%Y/%m/%d} as one * per strftime field."""
    return re.sub(r"\{date(:[^}]*)?\}", lambda m: re.sub(r"%-?[A-Za-z]", "*", m.group(1)[1:]) if m.group(1)
                  else "*", pattern)


def _newest_log(pattern: str, folder: Path) -> Path | None:
    """The last file (in name order, so the newest dated one) the pattern matches, {date} (or
    {date:%Y/%m/%d}: one * per strftime field) as a wildcard."""
    found = _logs(pattern, folder)
    return found[-1] if found else None


def _logs(pattern: str, folder: Path) -> list[Path]:
    """The files the pattern matches, in name order; those whose {date} part reads as a date only, when
    any does (QA: a stray logs/r.jsonl beside logs/2026-11-25.jsonl was sniffed as 'the newest log', a
    file `run` never reads for any date)."""
    if not pattern:
        return []
    wild = _wildcards(pattern)
    base = Path(wild) if Path(wild).is_absolute() else folder / wild
    found = [Path(p) for p in sorted(glob.glob(only_stars(os.path.normpath(base)))) if Path(p).is_file()]
    full = pattern if Path(pattern).is_absolute() else str(folder / pattern)
    dated = re.compile(_date_regex(os.path.normpath(full)))
    return [p for p in found if dated.fullmatch(str(p))] or found


_FIELDS = {"Y": r"\d{4}", "y": r"\d{2}", "m": r"\d{1,2}", "d": r"\d{1,2}", "j": r"\d{1,3}", "H": r"\d{1,2}",
           "b": "[A-Za-z]+", "B": "[A-Za-z]+", "a": "[A-Za-z]+", "A": "[A-Za-z]+"}


def _date_regex(pattern: str) -> str:
    r"""The paths ``pattern`` names for some date: {date} an ISO date, {date:FORMAT} its strftime fields.

    >>> bool(re.fullmatch(_date_regex("logs/{date}.jsonl"), "logs/2026-11-25.jsonl"))
    True
    >>> bool(re.fullmatch(_date_regex("logs/{date}.jsonl"), "logs/r.jsonl"))
    False
    >>> bool(re.fullmatch(_date_regex("logs/{date:%Y/%m/%d}/*.csv"), "logs/2026/11/25/app-1.csv"))
    True
    """
    def date(match) -> str:
        if not match.group(1):
            return r"\d{4}-\d{2}-\d{2}"
        return "".join(_FIELDS.get(part[-1], ".+?") if part.startswith("%") else re.escape(part)
                       for part in re.split(r"(%-?[A-Za-z])", match.group(1)[1:]) if part)
    parts = re.split(r"(\{date(?::[^}]*)?\})", pattern)
    return "".join(date(re.fullmatch(r"\{date(:[^}]*)?\}", part)) if part.startswith("{date") else
                   ".*".join(map(re.escape, re.split(r"\*+", part))) for part in parts if part)


def _sniff_newest(pattern: str, folder: Path, tries: int = 3) -> tuple[Path | None, dict[str, str], list[str]]:
    """The columns of the newest log that can be read, of the last ``tries`` (today's export may be
    half-written or damaged: init failed on it, though yesterday's was fine); when none can, a note
    saying why, and the default column names."""
    found = _logs(pattern, folder)[::-1][:tries]
    errors = []
    for sample in found:
        try:
            check_name(sample)  # the config names the log it was sniffed from: text, written as UTF-8
            columns, notes = sniff(sample)
        except InputError as exc:
            errors.append(str(exc))
            continue
        if sample != found[0]:
            notes = [f"the newest log, {found[0].name}, could not be read: the columns come from {sample.name}"] + notes
        shared = _ids_shared(sample, columns.get("id"), [f for f in found if f != sample][:1])
        if shared:
            notes.append(f"column {columns.pop('id')!r} repeats across days ({shared}): a row number of each file? It "
                         "is not used as the id (each day after the first would be rejected as ids scored before); "
                         "set logs.id_col to an id unique across days, or leave it out to derive ids")
        return sample, columns, notes
    return None, {}, [f"{errors[0]}: the default column names are written; check [logs]"] if errors else []


def _ids_shared(sample: Path, id_col: str | None, others: list[Path], rows: int = 50) -> str:
    """Ids of ``sample``'s first rows found in another day's log too, as text for a note ('' when none)."""
    if not id_col:
        return ""
    ids = set(_head(sample, rows).get(id_col, pd.Series(dtype=object)).dropna().astype(str))
    for other in others:
        try:
            theirs = set(_head(other, rows).get(id_col, pd.Series(dtype=object)).dropna().astype(str))
        except InputError:
            continue
        if ids & theirs:
            return f"{other.name} and {sample.name} both have {', '.join(sorted(ids & theirs, key=_natural)[:3])}"
    return ""


def _natural(text: str) -> tuple:
    return (0, int(text), "") if text.isdigit() else (1, 0, text)


def sniff_columns(path: str | Path, rows: int = 50) -> dict[str, str]:
    """Which columns of a log hold the text, time, id and predicted label (those it can tell).

    >>> import tempfile, os
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     p = Path(tmp) / "day.jsonl"
    ...     _ = p.write_text('{"ts": "2026-11-25T08:00:00Z", "rid": "a1", "utterance": "where is my card", '
    ...                      '"intent": "card_arrival"}\\n')
    ...     sniff_columns(p)
    ...     _ = p.write_text('{"at": 1764057600, "n": 3, "utterance": "where is my card"}\\n')
    ...     sniff_columns(p)
    ...     _ = p.write_text('{"rid": 1764057600, "when": "2026-11-25T08:00:00Z", "utterance": "my card"}\\n')
    ...     sniff_columns(p)
    {'text': 'utterance', 'time': 'ts', 'pred': 'intent'}
    {'text': 'utterance', 'time': 'at'}
    {'text': 'utterance', 'time': 'when'}
    """
    return sniff(path, rows)[0]


def sniff(path: str | Path, rows: int = 50) -> tuple[dict[str, str], list[str]]:
    """``sniff_columns``, and notes on what to check: a column guessed from its content, an id column
    passed over because it repeats, no prediction column."""
    frame = _head(Path(path), rows)
    found: dict[str, str] = {}
    notes: list[str] = []
    for role, names in NAMES.items():
        if role == "pred" and any(_PREDICTED[0].search(str(c)) and not _TRUTH.search(str(c)) for c in frame.columns):
            names = names[:-2]  # model_pred beside label: 'label' in a log is often the true label
        match = next((c for n in names for c in frame.columns if bare_name(c) == bare_name(n) and c not in found.values()),
                     None)
        if match is not None and role == "time" and not frame[match].dropna().head(10).map(_a_time).all():
            match = None  # a 'time' of latencies (0.25 s) is no timestamp: run rejected every row (review)
        if match is not None and role == "text" and not frame[match].dropna().map(_prose_or_chat).all():
            match = None  # an 'input' holding a list or object (QA: Langfuse's; run rejected every row)
        if match is not None and role == "id" and frame[match].dropna().astype(str).duplicated().any():
            notes.append(f"column {str(match)!r} repeats within the first rows, so it is not used as the id "
                         "(rows with a repeated id are rejected); set logs.id_col to a unique one")
            continue
        if match is not None:
            found[role] = str(match)
    chats = [c for c in frame.columns if c not in found.values()
             and frame[c].map(lambda v: chat_turns(v) is not None).mean() > 0.9]
    if "text" not in found and chats:  # an LLM gateway's OpenAI-style messages (QA: its 'output' was taken),
        # the one whose rows have a user's question most often (QA: a reply-only 'choices' came first)
        asked = max(chats, key=lambda c: frame[c].map(lambda v: isinstance(chat_turns(v), tuple)).mean())
        found["text"] = str(asked)
        notes.append(f"text = {found['text']!r} holds chat turns: each row's last user turn is scored")
    strings = [c for c in frame.columns if frame[c].map(lambda v: isinstance(v, str)).mean() > 0.9
               and c not in found.values() and c not in chats]
    # prose: not an id column, and values with spaces in them (user_id matched 'user')
    prose = [c for c in strings if not _ID_NAME.search(str(c)) and frame[c].str.contains(" ", na=False).mean() > 0.5]
    if "text" not in found and prose:  # the user's side, not the model's reply, which is often longer
        asked = [c for c in prose if _ASKED.search(str(c)) and not _replying(str(c))]
        pool = asked or [c for c in prose if not _replying(str(c))]
        if pool:  # never the model's reply alone (QA: 'output' was scored, every row novel)
            found["text"] = str(max(pool, key=lambda c: frame[c].str.len().mean()))
            notes.append(f"text = {found['text']!r} is a guess from the columns' content; check logs.text_col")
    if "pred" not in found:  # 'pred' in the name first, then 'intent', then label-like; never a true label
        free = [c for c in strings if c not in found.values() and not _TRUTH.search(str(c))]
        guess = next((c for pattern in _PREDICTED for c in free if pattern.search(str(c))), None)
        by = "its name"
        if guess is None:  # a column of classifier outputs, whatever its name (QA: 'Model Output' of {"label", "score"})
            guess, by = next((c for c in frame.columns if c not in found.values() and not _TRUTH.search(str(c))
                              and frame[c].dropna().size and frame[c].dropna().map(_prediction_object).all()),
                             None), "its content (a classifier's output)"
        if guess is not None:
            found["pred"] = str(guess)
            if str(guess).lower() != "label":  # (said below)
                notes.append(f"pred = {found['pred']!r} is a guess from {by}; check logs.pred_col")
        else:
            notes.append("no prediction column found: the labels absorbing novel prompts and online accuracy "
                         "need one; set logs.pred_col if the log has it")
    if found.get("pred", "").lower() == "label":
        notes.append("pred = 'label': check that it holds the model's prediction, not the true label "
                     "(feedback takes those); else set logs.pred_col")
    if "text" not in found:  # no sentences with spaces (Japanese, one-word queries): the most varied text
        rest = [c for c in strings if c not in found.values() and not _ID_NAME.search(str(c))
                and not _replying(str(c)) and not frame[c].head(10).map(_a_time).all()]
        replies = [str(c) for c in prose if _replying(str(c))]
        if replies:
            notes.append(f"no column of the user's prompts found, only the model's side ({', '.join(replies)}), "
                         "which is not scored; set logs.text_col to the column holding the user's prompt")
        elif rest:
            found["text"] = str(max(rest, key=lambda c: (frame[c].nunique(), frame[c].str.len().mean())))
            notes.append(f"text = {found['text']!r} is a guess (no column of sentences); check logs.text_col")
        else:
            notes.append(f"no text column found: set logs.text_col (now {BY_KEY['logs.text_col'].default!r}) "
                         "to the column holding the user's prompt")
    if "time" not in found:
        free = [c for c in frame.columns if c not in found.values()]
        timed = next((c for c in free if frame[c].head(10).map(lambda v: isinstance(v, str) and _a_time(v)).all()),
                     None)  # ISO text first: a numeric id can look like epoch seconds
        timed = timed or next((c for c in free if not str(c).lower().endswith("id")
                               and frame[c].head(10).map(_a_time).all()), None)
        if timed is not None:
            found["time"] = str(timed)
    return found, notes


_FEEDBACK_NAMES = {"feedback.id_col": NAMES["id"],
                   "feedback.label_col": ("label", "true_label", "true_intent", "gold_label", "truth", "gold",
                                          "correct_label", "annotation", "intent")}


def _sniff_feedback(path: Path) -> tuple[dict[str, str], list[str]]:
    """The id and label columns of a true-label file, by name (a file written as `request_id,true_intent`
    left feedback.id_col = prompt_id, and every run failed until the config was edited)."""
    columns = sorted(log_columns(path))  # its header as feedback reads it (empty when it cannot be read)
    if not columns:
        return {}, [f"no columns could be read from {path.name} (no labels in it yet?): check feedback.id_col "
                    "and feedback.label_col once there are"]
    found, notes = {}, []
    for key, names in _FEEDBACK_NAMES.items():
        match = next((c for n in names for c in columns if bare_name(c) == bare_name(n)), None)
        if match is not None:
            found[key] = match
        else:
            notes.append(f"no {key.split('_')[0].split('.')[1]} column of {path.name} told by its name "
                         f"(columns: {', '.join(columns)}); set {key}")
    # optional: when each label was given, so the newest wins (without it, the file's mtime, which files
    # written in the same second share); not a prompt's own time, which says nothing of its label
    stamped = next((c for n in _LABELLED_AT for c in columns if bare_name(c) == bare_name(n)), None)
    if stamped is not None:
        found["feedback.time_col"] = stamped
    return found, notes


_LABELLED_AT = ("labelled_at", "labeled_at", "label_time", "labelled_time", "labeled_time", "annotated_at",
                "reviewed_at", "corrected_at")


def first_values(path: Path, column: str | None, rows: int = 200) -> list:
    """The values of ``column`` in the log's first ``rows`` rows, blanks left out; none when the column
    is not named, not there, or the log cannot be read (what reads it says why)."""
    if not column:
        return []
    try:
        return _head(Path(path), rows).get(column, pd.Series(dtype=object)).dropna().tolist()
    except InputError:
        return []


def _slashed_dates(sample: Path, column: str | None, rows: int = 200) -> list[tuple[str, int, int]]:
    """The times of ``column`` in the log's first rows written with slashes (25/11/2026), each with its
    first two numbers."""
    return [(v, int(m.group(1)), int(m.group(2))) for v in map(str, first_values(sample, column, rows))
            if (m := re.match(r"\s*(\d{1,2})/(\d{1,2})/\d{4}", v))]


def _day_first_example(dates: list[tuple[str, int, int]]) -> str | None:
    """A time of ``dates`` (``_slashed_dates``) that can only be read day first (25/11/2026), when none
    can only be read month first (11/25/2026); else None."""
    if any(b > 12 for _, _, b in dates):
        return None
    return next((v for v, a, _ in dates if a > 12), None)


def _either_way_example(dates: list[tuple[str, int, int]]) -> str | None:
    """A time of ``dates`` (``_slashed_dates``) that reads as two dates (01/10/2026), when every one
    could be either; else None.

    >>> _either_way_example([("01/10/2026 00:12", 1, 10), ("01/10/2026 09:40", 1, 10)])
    '01/10/2026 00:12'
    >>> _either_way_example([("01/10/2026", 1, 10), ("25/10/2026", 25, 10)]), _either_way_example([("01/01/2026", 1, 1)])
    (None, None)
    """
    if any(a > 12 or b > 12 for _, a, b in dates):
        return None
    return next((v for v, a, b in dates if a != b), None)


def _a_time(value) -> bool:
    """A time as logs write them: ISO text, epoch seconds / milliseconds (not a flag), or a time value
    itself (a Parquet timestamp column: 'created_at' was passed over once names had to hold times)."""
    return isinstance(value, (str, int, float, datetime)) and not isinstance(value, bool) and \
        (format_time(value) is not None or format_time(value, day_first=True) is not None)


def _replying(name: str) -> bool:
    """A column named for the model's side: 'output', 'bot_reply'; 'ai', 'out' or 'llm' only with no
    word of the user's beside it ('llm_input' and 'ai_question' are the prompt: review).

    >>> [_replying(n) for n in ("output", "ai", "llm_input", "ai_question", "ai_answer", "human")]
    [True, True, False, False, True, False]
    """
    return bool(_REPLY_NAME.search(name) or (_REPLY_WORD.search(name) and not _ASKED.search(name)))


def _prediction_object(value) -> bool:
    """A classifier's output as logged (an object or list, or its JSON text) with a label score reads."""
    data = structured(value)
    return data is not None and chat_turns(data) is None and label_value(top_label(data)) is not None


def _prose_or_chat(value) -> bool:
    return isinstance(value, str) or chat_turns(value) is not None


def _head(path: Path, rows: int) -> pd.DataFrame:
    name = path.name.lower().removesuffix(".gz")
    try:
        if name.endswith(".parquet"):  # the first rows, not the whole file (3 M rows took 790 MB, review)
            import pyarrow.parquet as pq

            first = next(pq.ParquetFile(parquet_source(path)).iter_batches(batch_size=rows), None)
            return first.to_pandas() if first is not None else pd.DataFrame()
        if name.endswith((".jsonl", ".json", ".ndjson")):  # (a .json array of objects too)
            records = list(itertools.islice((record for _, record, _ in jsonl_lines(path)
                                             if isinstance(record, dict)), rows))
            if not records:  # an empty or damaged export of today: said, so yesterday's log is sniffed instead
                raise ValueError("no JSON object in it")  # (it wrote the default column names)
            return pd.DataFrame(records)
        return pd.read_csv(path, nrows=rows, sep=None, engine="python", encoding="utf-8-sig")  # Excel's BOM
    except (OSError, ValueError, EOFError, zlib.error, csv.Error) as exc:  # a gzip cut short, a file the CSV
        # sniffer could not split (empty): each had been a traceback
        raise InputError(f"{path}: cannot read its first rows to find the columns ({exc})") from None
