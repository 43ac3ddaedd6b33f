"""Plain-text rendering of results for the terminal; the CLI prints these, --json prints the data."""

from __future__ import annotations

import json
import math
import re
import shlex
from datetime import datetime, timezone
from pathlib import Path

from .stats import p_short, p_text


def to_json(payload, ascii_only: bool = False) -> str:
    """Strict JSON for scripts (``--json``, the run summary): NaN and infinities become null, as JSON
    has no such numbers and strict parsers (JavaScript's, jq's) refuse them; other objects as text.

    >>> to_json({"p": float("nan"), "rates": [0.5, float("inf")]}).replace("\\n", "").replace(" ", "")
    '{"p":null,"rates":[0.5,null]}'
    """
    return json.dumps(_finite(payload), indent=2, ensure_ascii=ascii_only, default=str, allow_nan=False)


def _finite(value):
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def plural(count: int, word: str) -> str:
    """'1 prompt', '2 prompts', '1,000 prompts' ('Scored 1 prompts' was the summary of a one-line log).

    >>> plural(1, "prompt"), plural(1000, "row")
    ('1 prompt', '1,000 rows')
    """
    return f"{count:,} {word}{'' if count == 1 else 's'}"


def _instance(reason: str, example: str) -> str:
    """What ``example`` puts where ``reason`` says '...': the example's own words, not the reason again
    (a 400-character reason was printed twice on one line).

    >>> _instance("unreadable timestamp ... in 'ts'", "unreadable timestamp 'noon CET' in 'ts'")
    "'noon CET'"
    >>> _instance("timestamp ... in 'ts' is ..., outside 1990-2099", "timestamp 0 in 'ts' is 1970-01-01, outside 1990-2099")
    '0, 1970-01-01'
    """
    found = re.fullmatch(re.escape(reason).replace(re.escape("..."), "(.+?)"), example, re.S)
    return ", ".join(found.groups()) if found and found.groups() else example


def format_score_summary(result) -> str:
    rate = result.scored / result.seconds if result.seconds else 0.0
    engine = f", on {result.engine}" if result.engine != "local" else ""
    lines = [f"Scored {plural(result.scored, 'prompt')} against {result.index!r} into {result.db} "
             f"(run {result.run_id}{engine}, {result.seconds:.1f} s, {rate:,.0f} prompts/s).",
             f"  novel     {result.novel:,} ({result.novel_rate:.1%}; about {result.alpha:.0%} expected "
             f"when nothing is new; {p_text(result.novel_p_value, 2)})"]
    if result.skipped:
        steps = getattr(result, "agent_steps", 0)
        lines.append(f"  skipped   {result.skipped:,} already scored (by an earlier run, or earlier in this one)"
                     + (f", {steps:,} of them an agent's calls after the question (the chat ends with a tool's "
                        "turn; the question is scored with the call that asked it)" if steps else "")
                     + (f"; {plural(result.labelled_now, 'stored prompt')} given the predicted label logged now"
                        if getattr(result, "labelled_now", 0) else ""))
    if getattr(result, "earlier", 0):  # a retry after a crash: this run's rows alone are not the day
        lines.append(f"  in all    {result.logs_scored:,} scored, counting the {result.earlier:,} an unfinished run "
                     f"stored (same index and alpha); {result.logs_novel:,} novel "
                     f"({result.logs_novel / result.logs_scored:.1%}; {p_text(result.logs_novel_p_value, 2)})")
    if getattr(result, "earlier_other", 0):  # a retry after `index build --force`: one log, two builds
        lines.append(f"  kept      {result.earlier_other:,} of the skipped were scored before against another build of "
                     "the index or at another alpha: kept as scored then (a rerun never scores a row again), and "
                     "left out of the novel test")
    if getattr(result, "empty_files", None):
        lines.append(f"  empty     {len(result.empty_files):,} log(s) with nothing in them, e.g. {result.empty_files[0]}")
    if getattr(result, "expired", 0):
        lines.append(f"  expired   {result.expired:,} logged before the retention cut-off of `novelty prune`: "
                     "not stored again")
    if getattr(result, "future", 0):
        lines.append(f"  future    {result.future:,} stamped more than a day from now (latest {result.latest_future}): "
                     "is the log's time zone or day/month order read right? Stored as stamped")
    listed = sum(r["rows"] for r in result.reject_reasons)
    others = f"; {result.rejected - listed:,} more for other reasons" if result.rejected > listed else ""
    lines.append(f"  rejected  {result.rejected:,}" + (" (see the rejects table): " + "; ".join(
        f"{r['reason']} x{r['rows']}" + (f" (e.g. {_instance(r['reason'], r['example'])})"
                                          if r.get("example", r["reason"]) != r["reason"] else "")
        for r in result.reject_reasons) + others if result.rejected else ""))
    if result.top_novel:
        lines.append("Most novel prompts (similarity to the nearest training prompt, its label):")
        lines += [f"  {r['similarity']:.2f}  {clip(r['text'])}  -> {one_line(r['nearest_label'] or '(unlabelled)')}"
                  for r in result.top_novel]
    shards = Path(result.db).is_dir()
    table = f"'{result.db}/scores/*.parquet'" if shards else "scores"
    lines.append(f"Query them: {'duckdb -c' if shards else 'sqlite3 ' + shlex.quote(str(result.db))} \"SELECT ts, text, similarity "
                 f"FROM {table} WHERE is_novel = 1 ORDER BY novelty DESC LIMIT 20\"")
    return "\n".join(lines)


# C0 controls (a NUL from a log), DEL, C1 and the bidi overrides that reorder what follows them: in a
# terminal or a page they hide or scramble text; shown as what they are instead
CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def visible_controls(text: str) -> str:
    """``text`` with its control characters written as [U+0000]."""
    return CONTROLS.sub(lambda m: f"[U+{ord(m.group()):04X}]", text)


def one_line(text: str) -> str:
    """A prompt on one line of a listing: its line breaks and runs of spaces as one space, control
    characters shown as [U+0000] (--json keeps the text exact)."""
    return visible_controls(" ".join(str(text).split()))


def clip(text: str, width: int = 70) -> str:
    """A text on one line, cut to ``width`` with an ellipsis."""
    text = one_line(text)
    return text if len(text) <= width else text[: width - 1] + "…"


def _times_expected(details: dict) -> str:
    if details.get("rate_ratio") is None:  # the baseline had no novel prompt at all
        return f"none expected: {details['expected_rate']:.1%} before"
    return f"{details['rate_ratio']:.1f}x the expected {details['expected_rate']:.1%}"


UNFINISHED = ("no score run has finished yet: nothing is tested or saved until one has (untested windows saved "
              "now would be the baseline later windows are judged against)")  # a note of spikes
READ_ONLY = ("this user may only read {db}: the windows were tested as it stands and nothing was saved, an alert "
             "raised now included (a run by a user who may write it keeps verdicts and alerts)")  # a note of spikes


def format_spikes(report) -> str:
    if not report.windows and report.span:
        return (f"No {report.window} window in this range: the windows of {report.db} run from {report.span[0]} "
                f"to {report.span[1]} (see --since / --until).")
    waiting = UNFINISHED in getattr(report, "notes", [])  # a first score run still going (or killed)
    if not report.windows and waiting:  # (QA: 'score logs with a --time-col first' of a log with times)
        return (f"No timestamped prompts in {report.db} yet: no score run has finished (one still going, or "
                "stopped before the end); run spikes once one has.")
    if not report.windows:
        return f"No timestamped prompts in {report.db}: score logs with a --time-col first."
    lines = [f"Novel rate per {report.window} window in {report.db} "
             f"(calibrated false-alarm rate {report.alpha if report.alpha is not None else '?'}):",
             "  window start          prompts  novel   rate  95% interval    expected  p-value  flag"]
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    for w in report.windows:
        expected = f"{w.expected_rate:7.1%}" if w.expected_rate is not None else "      -"
        p = p_short(w.p_value, 8)
        rate = f"{w.novel_rate:5.1%}  [{w.ci_low:5.1%}, {w.ci_high:5.1%}]" if w.prompts else \
            f"{'-':>5}  {'no prompts':<14}"  # was '0.0%  [0.0%, 100.0%]': a clean day to the eye
        going = " (in progress)" * (w.window_start <= now < w.window_end)  # (QA: today's looked like a whole day;
        # a window not begun, of rows stamped ahead, is not in progress: score counts those as 'future')
        lines.append(f"  {w.window_start}  {w.prompts:7,}  {w.novel:5,}  {rate}  {expected}  {p}  "
                     f"{'+'.join(w.detectors) if w.flagged else ''}{going}")
    lines += [f"Note: {note}." for note in getattr(report, "notes", [])]
    if not report.incidents and all(w.p_value is None for w in report.windows) and waiting:
        lines.append("No window was tested: no score run has finished yet. No verdict either way.")
    elif not report.incidents and all(w.p_value is None for w in report.windows):
        lines.append("No window was tested: each had fewer prompts than --min-prompts, or nothing to compare "
                     "it with yet. No verdict either way.")
    elif not report.incidents:
        tested = sum(w.p_value is not None for w in report.windows)
        among = "" if tested == len(report.windows) else f" in the {plural(tested, 'window')} tested"
        lines.append(f"No incident{among}: the novel rate stays within what the baseline explains.")
    for incident in report.incidents:
        d = incident.details
        lines += ["", f"INCIDENT {incident.incident_id} label_bias {incident.severity}: {incident.window_start} .. "
                      f"{incident.window_end}: {d['novel']} novel of {d['prompts']} ({d['novel_rate']:.1%}, "
                      f"{_times_expected(d)}); since {d['first_flagged']}"]
        if d.get("absorbing_labels"):
            lines.append("  labels absorbing the novel prompts: " + ", ".join(
                f"{one_line(r['label'])} ({r['novel']} novel, {r['novel_share']:.0%} of its traffic)"
                for r in d["absorbing_labels"]))
        shift = d.get("label_shift")
        if shift:
            lines.append(f"  predicted labels vs training labels: chi2 {shift['chi2']:.0f} (dof {shift['dof']}), "
                         f"p {p_short(shift['p_value'])}, Cramer's V {shift['cramers_v']:.2f}, "
                         f"{shift.get('total_variation', 0):.0%} of traffic moved")
        lines += [f"  e.g. {clip(r['text'])}  " + (f"(forced into {one_line(r['predicted_label'])})" if r["predicted_label"]
                                                     is not None else "(no predicted label logged)")
                  for r in d["top_novel"][:3]]
    if report.incidents:
        lines += ["", "What to do: see what they are (`novelty clusters`; `novelty diagnose` says when they are "
                      "a bot's repeats, another language or messages longer than the encoder reads). New questions "
                      "the model was never trained for: label a sample and fine-tune (or add them to the index "
                      "with `novelty index add`)."]
    return "\n".join(lines)


UNJUDGED = ("not judged", "no values to test", "too few values", "new column")  # evidence of a feature not tested


def format_drift(window: str, report) -> str:
    head = f"{'All rows' if window == 'all' else 'Window ' + window}: {plural(report.current_rows, 'current row')} " \
           f"against {plural(report.reference_rows, 'reference row')}"
    width = max([20, *(len(f.feature) for f in report.findings)])  # names in full: two may share 20 letters
    lines = [head] + ([f"  {'feature':<{width}}  kind         test  p-value   effect   PSI    JS     verdict"]
                      if report.findings else [])  # no empty table over 'not checked: nothing compared'
    for f in report.findings:
        p = p_short(f.p_value, 8)
        effect = (f"{f.effect:7.3f}" if f.effect < 1e3 else f"{f.effect:7.1e}") if f.effect is not None else "      -"
        psi = f"{f.psi:5.2f}" if f.psi is not None else "    -"
        js = f"{f.js:5.3f}" if f.js is not None else "    -"
        lines.append(f"  {f.feature:<{width}}  {f.kind:<11}  {(f.test or '-'):<4}  {p}  {effect}  {psi}  {js}  "
                     + (f"{f.cause}: {f.evidence}" if f.cause else f.evidence if f.evidence.startswith(UNJUDGED)
                        else f"ok: {f.evidence}"))  # 'ok: not judged: 1 row in the window' read as healthy
    lines += [f"  not checked: {note}" for note in report.not_checked]
    return "\n".join(lines)


def format_diagnosis(result) -> str:
    if result.causes:
        lines = [f"{len(result.causes)} root cause(s), most severe first:"]
        for i, c in enumerate(result.causes, 1):
            target = f" [{one_line(c.feature)}]" if c.feature else ""  # labels and names from the user's files:
            lines += [f"{i}. {c.cause}{target} ({c.severity})", f"   evidence: {one_line(c.evidence)}",  # on one line
                      f"   do this:  {c.mitigation}"]
    elif result.unreadable:  # 'No root cause found' over files that could not be read reads as healthy
        lines = [f"No root cause found in the evidence that could be read; {len(result.unreadable)} of the "
                 "evidence given could not be (under Not checked)."]
    else:
        lines = ["No root cause found in the evidence given."]
    if result.not_checked:  # (an empty heading read as a list cut off: QA)
        lines += ["Not checked:"] + [f"  {n['cause']}: {one_line(n['reason'])}" for n in result.not_checked]
    return "\n".join(lines)


def format_skew(report, key: str) -> str:
    lines = [f"{report.joined:,} rows joined on {key!r} ({report.offline_rows:,} offline, "
             f"{report.serving_rows:,} serving" + (f"; {report.null_keys:,} without a key left out" if report.null_keys
                                                    else "") + "):"]
    lines += [f"  {f.feature:<24} {'SKEWED' if f.skewed else 'ok' if f.compared else '-':<7} {f.evidence}"
              + (f"; e.g. {', '.join(map(str, f.example_keys[:3]))}" if f.skewed and f.example_keys else "")
              for f in report.findings]
    left_out = [f"{u['keys']:,} {side} keys have no {other} row" for (side, u), other
                in zip(report.unmatched.items(), ("serving", "offline")) if u["keys"]]
    if report.duplicate_rows:
        left_out.append(f"{report.duplicate_rows:,} exact copies of a row counted once")
    left_out += [f"{m['rows']:,} malformed {side} lines (first: {m['first']})" for side, m in report.malformed.items()]
    lines += [f"Left out: {'; '.join(left_out)}."] if left_out else []
    lines += [f"Warning: {w}" for w in report.warnings]
    return "\n".join(lines)


def format_golden(report) -> str:
    b, c = report.baseline, report.current
    unpaired = any(reasons.get("not in the other file") or reasons.get("no label in the other file")
                   for reasons in report.left_out.values())
    lines = [f"accuracy  {b.accuracy:.1%} [{b.accuracy_ci[0]:.1%}, {b.accuracy_ci[1]:.1%}] -> "
             f"{c.accuracy:.1%} [{c.accuracy_ci[0]:.1%}, {c.accuracy_ci[1]:.1%}]"
             + (" (on the items in both files)" if unpaired else ""),
             f"macro-F1  {b.macro_f1:.3f} [{b.macro_f1_ci[0]:.3f}, {b.macro_f1_ci[1]:.3f}] -> "
             f"{c.macro_f1:.3f} [{c.macro_f1_ci[0]:.3f}, {c.macro_f1_ci[1]:.3f}]",
             f"paired    {report.paired:,} items: {report.broken:,} broken, {report.fixed:,} fixed; "
             f"McNemar {p_text(report.mcnemar_p, 2)}",
             "verdict   " + ("model_regression: roll back or retrain; check the model artefact"
                             if report.regression else "no regression")]
    whole = report.current_file
    if whole is not None:  # the current file's new items (a refreshed golden set's new topic) count there
        lines.insert(2, f"current file, all {whole.items:,} items: accuracy {whole.accuracy:.1%} "
                        f"[{whole.accuracy_ci[0]:.1%}, {whole.accuracy_ci[1]:.1%}], macro-F1 {whole.macro_f1:.3f}")
    if report.relabelled:
        lines.append(f"relabelled {report.relabelled:,} paired items have another label in the current file: both "
                     "runs are judged against the current labels")
    lines += [f"no prediction  {name}: {n:,} items (counted as wrong)" for name, n in report.no_prediction.items()]
    lines += [f"spelt apart  {c['file']}: {c['items']:,} items predicted {clip(c['predicted'], 30)!r} for "
              f"{clip(c['label'], 30)!r}, counted wrong (labels compare as written; fix the spelling)"
              for c in report.case_only]
    lines += [f"left out  {name}: " + ", ".join(f"{n:,} {reason}" for reason, n in reasons.items())
              + (f" (first: {report.malformed[name]})" if name in report.malformed else "")
              for name, reasons in report.left_out.items() if reasons]
    if report.respelt:
        shown = ", ".join(f"{a!r} in the baseline and {b!r} now" for a, b in report.respelt["examples"][:2])
        lines.append(f"respelt   {report.respelt['keys']:,} unpaired ids would pair without their leading zeros "
                     f"(e.g. {shown}): one file writes them padded? They were left unpaired; write them one way")
    lines += [f"  {one_line(r['label']):<24} recall {r['recall_before']:.0%} -> {r['recall_now']:.0%}"
              for r in report.label_changes if r["change"] < 0]
    return "\n".join(lines)


def format_clusters(clusters) -> str:
    if not clusters:
        return ("No clusters: too few novel prompts in this range, or none close to each other. "
                "The stored clusters keep the prompts the last run that found some gave them; a saved run "
                "counts their look-alikes again.")
    lines = [f"{len(clusters)} cluster{'s' * (len(clusters) != 1)} of novel prompts, largest first:",
             "  id     size  growth  first seen  name / example -> labels it is forced into"]
    for c in clusters:
        growth = f"{c.growth:5.1f}x" if c.growth >= 0 else "   new"
        forced = ", ".join(map(one_line, list(c.predicted_labels)[:2])) or "-"
        lines.append(f"  {c.cluster_id}  {c.size:5,}  {growth}  {c.first_seen[:10]}  {clip(c.name, 60)}")
        lines.append(f"                              e.g. {clip(c.examples[0], 60) if c.examples else ''} -> {forced}")
        if c.look_alikes:
            passed = ", ".join(map(one_line, list(c.look_alike_labels)[:2]))
            lines.append(f"                              + {plural(c.look_alikes, 'look-alike')} (in no cluster, nearer this one "
                         f"than training) -> {passed}")
    return "\n".join(lines)


def _ids(ids) -> str:
    return "ids such as " + ", ".join(repr(clip(str(i), 30)) for i in ids)


def format_feedback(imports, report) -> str:
    lines = []
    pruned = getattr(report, "pruned_before", None)  # ids of prompts prune deleted look unscored: said (QA)
    unscored = f"not scored yet or pruned (kept; prune deleted the prompts before {pruned})" if pruned else \
        "not scored yet (kept)"
    for i in imports:
        lines.append(f"{i.source}: {plural(i.read, 'row')} read, {plural(i.rows, 'label')}: {i.new:,} new, {i.changed:,} changed, "
                     f"{i.unchanged:,} unchanged"
                     + (f", {i.stale:,} older than the stored label" if i.stale else "")
                     + (f"; {plural(i.unknown_ids, 'id')} {unscored}" if i.unknown_ids else "")
                     + (f"; {i.repeated:,} rows repeat an id of an earlier row (its newest label kept)"
                        if i.repeated else "")
                     + (f"; {plural(i.blank, 'row')} without id or label skipped" if i.blank else ""))
        if i.same_as:
            lines.append(f"  The same bytes as {i.same_as['source']}, imported before: its labels are as old as that "
                         f"file ({i.same_as['written']}), so a newer label stays")
        if i.id_examples:
            derived = all(re.fullmatch(r"[0-9a-f]{20}", str(p)) for p in i.id_examples["scored"])
            lines.append(f"  None of its ids is a scored prompt's yet: {_ids(i.id_examples['file'])} in the file, "
                         f"{_ids(i.id_examples['scored'])} scored. " + (
                             "Those are ids score derived (no --id-col), which never match a label file: score "
                             "with --id-col naming the log's request id" if derived else
                             "Labels of prompts not scored yet join when they are" + (
                                 f"; of prompts prune deleted (logged before {pruned}), never" if pruned else "")
                             + "; else the ids are written another way"))
        if i.conflicting:
            lines.append(f"  {i.conflicting:,} ids given two labels at once in the file (the same time, or no "
                         "time, to tell them apart): the last row's label kept; check them")
        if i.rejected:
            lines.append(f"  {plural(i.rejected, 'row')} set aside: " + "; ".join(
                f"{r['reason']} x{r['rows']:,} (e.g. '{r['example']}')" for r in i.reject_reasons))
    unjudged = "" if not report.unjudged else (
        f"{report.unjudged:,} labelled prompts were logged without a predicted label or a time, so their "
        "accuracy cannot be judged (score them with --pred-col and --time-col)")
    if not report.windows:
        return "\n".join(lines + [unjudged + "." if unjudged else "No labelled prompt matches a scored one yet."])

    def acc(a) -> str:
        return f"{a.accuracy:6.1%} [{a.ci_low:.0%}, {a.ci_high:.0%}]" if a.labelled else "     -"
    if unjudged:
        lines.append(unjudged + "; the table leaves them out.")
    span = (f"; prompts logged from {report.since or 'the first'} to {report.until or 'the last'}"
            if report.since or report.until else "")  # the counts before it are the whole database's
    pruned = (f": not scored yet, or pruned (prune deleted the prompts before {report.pruned_before})"
              if report.unmatched and report.pruned_before else "")
    lines += [f"Online accuracy of the logged predictions ({report.feedback_rows:,} labels in the database, "
              f"{report.unmatched:,} not matched to a scored prompt{pruned}{span}):",
              f"  {'window':<17} {'labelled':>8}  {'accuracy [95% CI]':<21} {'novel':<21} {'known':<21}"]
    whole_days = all(w.window_start[10:16] == "T00:00" for w in report.windows)  # 1h windows keep their hour
    for w in [*report.windows, report.total]:
        name = "all" if w is report.total else w.window_start[:10] if whole_days else w.window_start[:16]
        lines.append(f"  {name:<17} {w.all.labelled:>8,}  {acc(w.all):<21} {acc(w.novel):<21} {acc(w.known):<21}")
    if report.case_only:
        lines.append("True labels that match a predicted label only with case and word separators ignored, so "
                     "every such prompt counts wrong (labels are compared as written): fix their spelling in the "
                     "label files")
        lines += [f"  {c['count']:>5,}  {clip(c['label'], 40)} ~ {clip(c['predicted'], 40)}" for c in report.case_only]
    if report.novel_confusion:
        lines.append("Novel prompts forced into known labels (true -> predicted):")
        lines += [f"  {c['count']:>5,}  {clip(c['label'], 40)} -> {clip(c['predicted'], 40)}"
                  for c in report.novel_confusion]  # a label with a line break would break the table
    return "\n".join(lines)
