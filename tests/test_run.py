"""novelty run / init / feedback: the daily job from one config, true labels, and the offline gap."""

from __future__ import annotations

import json
import re
import sqlite3
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import new_db, write_csv, write_jsonl
from novelty.cli import app
from novelty.config import load_config, render_config
from novelty.demo_data import production_day, request_id
from novelty.errors import InputError, NoveltyError
from novelty.feedback import Accuracy, import_feedback, import_files, offline_online_gap, online_accuracy
from novelty.engines.local import score_files
from novelty.logs import OPEN_QUOTE, Columns
from novelty.run import STEPS, format_run, run_monitor
from novelty.store import Store

TABLES = ("scores", "windows", "incidents", "clusters", "cluster_members", "feedback", "rejects")


def _day_log(folder: Path, day: int, n: int = 200) -> list[dict]:
    when = date(2026, 11, 17 + day)
    rows = [{"request_id": request_id(when, i), **r} for i, r in enumerate(production_day(day, n=n, seed=3))]
    (folder / "logs").mkdir(exist_ok=True)
    write_jsonl(folder / "logs" / f"{when}.jsonl", rows)
    return rows


@pytest.fixture
def monitor(tmp_path, index) -> Path:
    """Days 1, 2 and 7 of the demo's traffic (day 7: a quarter of it about crypto) and a config."""
    logs = {day: _day_log(tmp_path, day) for day in (1, 2, 7)}
    labels = [(r["request_id"], r["topic"]) for r in logs[7][::2]]  # half of day 7, labelled late
    (tmp_path / "labels").mkdir()
    write_csv(tmp_path / "labels" / "2026-11-25.csv", ["prompt_id", "label"], labels)
    config = tmp_path / "monitor.toml"
    config.write_text(render_config({
        "index.name": "bot", "logs.path": "logs/{date}.jsonl", "logs.id_col": "request_id",
        "feedback.path": "labels/{date}.csv", "golden.accuracy": 0.92, "golden.items": 400,
        "clusters.min_size": 5, "alert.causes": ["label_bias"]}), encoding="utf-8")
    return config


def _snapshot(db) -> dict:
    with sqlite3.connect(db) as conn:
        return {t: conn.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall() for t in TABLES}


def _strip(rows: list, skip: set[int]) -> list:
    return [tuple(v for i, v in enumerate(row) if i not in skip) for row in rows]


def test_rerunning_a_date_changes_nothing(monitor):
    for day in ("2026-11-18", "2026-11-19", "2026-11-24", "2026-11-25"):
        run_monitor(monitor, day)
    before = _snapshot(monitor.parent / "monitor.db")
    again = run_monitor(monitor, "2026-11-25")
    after = _snapshot(monitor.parent / "monitor.db")
    # timestamps of the last update move; nothing else may (no duplicate rows, same values)
    stamps = {"windows": {14}, "incidents": {8, 9}, "clusters": {11}, "feedback": {4}}
    for table in TABLES:
        assert _strip(after[table], stamps.get(table, set())) == _strip(before[table], stamps.get(table, set())), table
    assert len(before["incidents"]) >= 2  # label_bias and offline_online_gap both recorded once
    assert again.steps[0].reason.startswith("no log for 2026-11-25")


def test_a_backfilled_date_leaves_the_newest_clusters_stored(monitor):
    _day_log(monitor.parent, 8)  # 2026-11-25: crypto again
    for day in ("2026-11-24", "2026-11-25"):
        run_monitor(monitor, day)
    db = monitor.parent / "monitor.db"
    before = _snapshot(db)
    assert before["clusters"] and before["cluster_members"]
    again = run_monitor(monitor, "2026-11-24")  # e.g. a late log of an older day arrived
    clusters = next(s for s in again.steps if s.name == "clusters")
    assert "not saved, as a later date has run" in clusters.reason and clusters.facts["saved"] is False
    after = _snapshot(db)
    # was: the older date's clustering replaced the newest one's sizes and memberships
    assert after["clusters"] == before["clusters"] and after["cluster_members"] == before["cluster_members"]
    # and the page stays the newest date's: was overwritten with the 24th's "no root cause" beside the 25th's charts
    report = next(s for s in again.steps if s.name == "report")
    assert report.status == "skipped" and "a later date has run" in report.reason and again.report is None
    from novelty.clusters import find_clusters
    find_clusters(db, min_size=2)  # a finer browse since: the stored view is its
    dated = run_monitor(load_config(monitor, {"output.report": "report-{date}.html"}), "2026-11-24")
    assert dated.report and dated.report.endswith("report-2026-11-24.html")  # a page per date: written
    page = Path(dated.report).read_text()  # and it shows that day as it was (was the newest day's charts)
    assert "· 2026-11-24</title>" in page and "2026-11-25T00:00:00Z:" not in page
    found = next(s for s in dated.steps if s.name == "clusters").facts["clusters"]
    shown = set(re.findall(r'data-cluster="(c\d{4})"', page)) or set(re.findall(r"\b(c\d{4})\b", page))
    assert shown == set(found)  # was: the stored (browsed) clusters as of the 24th, not what its run found
    assert "Found for this date, not stored" in page and "--cluster c0" not in page  # a stored id holds another view


def test_a_date_not_begun_or_not_scored_never_becomes_the_newest_view(monitor, tmp_path):
    from datetime import datetime, timedelta, timezone

    later = max(datetime.now(timezone.utc).date(), date(2026, 11, 27)) + timedelta(days=400)
    for day in (later.isoformat(), "2096-02-29"):  # (a leap day once broke the message)
        out = CliRunner().invoke(app, ["run", "--config", str(monitor), "--date", day])
        assert out.exit_code == 2 and "has not begun yet" in out.output  # was: run, the newest date for a year
    run_monitor(monitor, "2026-11-18")
    (tmp_path / "logs" / "2026-11-25.jsonl").write_bytes(b"\x00\x01 not a log")  # the export went wrong
    broken = run_monitor(monitor, "2026-11-25")
    assert broken.steps[0].status == "failed"
    again = run_monitor(monitor, "2026-11-19")  # was: 'not saved, as a later date has run', page skipped
    assert next(s for s in again.steps if s.name == "clusters").facts.get("saved", True) is True
    assert next(s for s in again.steps if s.name == "report").status == "ran"


@pytest.mark.parametrize("key", ["logs.redact", "logs.redact_before_embed"])
def test_the_daily_run_redacts_what_it_stores_when_asked(monitor, tmp_path, key):
    rows = _day_log(tmp_path, 1, n=40)
    rows[3]["prompt"] = "my card 4111 1111 1111 1111 was charged twice, mail me at jo.doe@example.co.uk"
    write_jsonl(tmp_path / "logs" / "2026-11-18.jsonl", rows)
    summary = run_monitor(load_config(monitor, {key: True}), "2026-11-18")  # was: 'give section.key=value ...'
    assert summary.steps[0].status == "ran", summary.steps[0]
    with sqlite3.connect(tmp_path / "monitor.db") as conn:
        stored = " ".join(text for (text,) in conn.execute("SELECT text FROM scores"))
    assert "jo.doe@example.co.uk" not in stored and "4111 1111" not in stored and "[EMAIL]" in stored
    page = Path(summary.report).read_text()
    assert "jo.doe@example.co.uk" not in page


def test_a_backfilled_date_is_judged_on_the_evidence_up_to_its_day(monitor):
    first = run_monitor(monitor, "2026-11-18")
    assert first.exit_code == 0
    assert run_monitor(monitor, "2026-11-24").alerts == ["label_bias (high): window 2026-11-24T00:00"]
    again = run_monitor(monitor, "2026-11-18")  # was: alerted on the 24th's spike, exit 1
    assert again.exit_code == 0 and not again.alerts
    assert [s.facts for s in again.steps if s.name == "spikes"] == [{"flagged": []}]
    assert not [c for c in again.diagnosis.causes if c.cause == "label_bias"]


def test_an_alert_on_a_spike_says_which_window_and_that_it_ended(monitor):
    """Every run in alert.lookback alerts on a spike: the line says which window (was: 'label_bias (high)'
    each day, so on-call could not tell a new spike from last week's)."""
    for day in ("2026-11-18", "2026-11-19", "2026-11-24"):
        run_monitor(monitor, day)
    quiet = [{**r, "request_id": r["request_id"] + "-26", "timestamp": r["timestamp"].replace("2026-11-19", "2026-11-26")}
             for r in _day_log(monitor.parent, 2)]
    write_jsonl(monitor.parent / "logs" / "2026-11-26.jsonl", quiet)
    later = run_monitor(monitor, "2026-11-26")
    assert later.exit_code == 1, later.steps
    assert later.alerts == ["label_bias (high): window 2026-11-24T00:00, ended 2026-11-25T00:00"]
    assert "ALERT: label_bias (high): window 2026-11-24T00:00, ended" in format_run(later)


def test_clusters_are_saved_when_the_logs_are_not_in_utc(monitor):
    log = monitor.parent / "logs" / "2026-11-24.jsonl"
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    for r in rows:  # the same local times two hours behind UTC: the evening lands on the 25th in UTC
        r["timestamp"] = r["timestamp"].replace("Z", "-02:00")
    log.write_text("".join(json.dumps(r) + "\n" for r in rows))
    clusters = next(s for s in run_monitor(monitor, "2026-11-24").steps if s.name == "clusters")
    assert clusters.facts["saved"] is True, clusters.reason  # was: never saved, 'later days are scored'
    with sqlite3.connect(monitor.parent / "monitor.db") as conn:
        assert conn.execute("SELECT COUNT(*) FROM cluster_members").fetchone()[0] > 0


def test_a_day_scores_and_alerts_on_label_bias_and_the_gap(monitor):
    first = run_monitor(monitor, "2026-11-18")
    assert first.exit_code == 0 and not first.alerts, first.steps
    assert [s.status for s in first.steps][:2] == ["ran", "ran"]
    skipped = {s.name: s.reason for s in first.steps if s.status == "skipped"}
    assert set(skipped) == {"drift", "feedback"} and "not configured" in skipped["drift"]
    run_monitor(monitor, "2026-11-19")
    week = run_monitor(monitor, "2026-11-24")
    assert week.exit_code == 1 and week.alerts == ["label_bias (high): window 2026-11-24T00:00"]
    late = run_monitor(monitor, "2026-11-25")  # no log that day, but the labels of the 24th arrive
    feedback = next(s for s in late.steps if s.name == "feedback")
    assert "significant gap" in feedback.reason and feedback.facts["gap"]["significant"]
    points = round(feedback.facts["gap"]["gap"] * 100, 1)  # (QA: '+10.8%' read as online doing better)
    assert f"significant gap (online {points} points below it, p" in feedback.reason, feedback.reason
    assert feedback.facts["online"]["total"]["novel"]["accuracy"] < 0.3
    causes = [c.cause for c in late.diagnosis.causes]
    assert "offline_online_gap" in causes
    gap = next(c for c in late.diagnosis.causes if c.cause == "offline_online_gap")
    assert "novelty queue golden" in gap.mitigation
    assert "report.html" in late.report and Path(late.report).is_file()
    # why the gap was not checked is the feedback step's, not flags run does not have; a gap tested and
    # not found is checked (QA: listed as 'not checked', 'no --golden-baseline and --golden-current')
    unchecked = {n["cause"]: n["reason"] for n in first.diagnosis.not_checked}
    assert unchecked["offline_online_gap"].startswith("the feedback step: no labelled prompts"), unchecked
    level = run_monitor(load_config(monitor, {"feedback.min_gap": 0.99}), "2026-11-26")
    feedback = next(s for s in level.steps if s.name == "feedback")
    assert "no significant gap" in feedback.reason, feedback.reason
    assert "offline_online_gap" not in {n["cause"] for n in level.diagnosis.not_checked}
    # a backfill of a day before the gap's period ended alerts as it would have then (was: the later gap too)
    again = run_monitor(monitor, "2026-11-19")
    assert "offline_online_gap" not in [c.cause for c in again.diagnosis.causes] and again.exit_code == 0


def test_missing_day_is_reported_and_alerts_only_if_asked(monitor):
    runner = CliRunner()
    out = runner.invoke(app, ["run", "--config", str(monitor), "--date", "2026-11-20"])
    assert out.exit_code == 1, out.output
    assert "no log for 2026-11-20" in out.output and "missing log" in out.output
    out = runner.invoke(app, ["run", "--config", str(monitor), "--date", "2026-11-20", "--set",
                              "alert.missing_log=false", "--json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["missing"][0].endswith("2026-11-20.jsonl")
    (monitor.parent / "logs" / "2026-11-20.jsonl.gz").write_bytes(b"")  # delivered gzipped: was no hint
    gz = run_monitor(monitor, "2026-11-20").steps[0].reason
    assert "2026-11-20.jsonl.gz: widen logs.path, e.g. to end in '*'" in gz


def test_exit_codes_and_summary_file(monitor, tmp_path):
    runner = CliRunner()
    base = ["run", "--config", str(monitor)]
    assert runner.invoke(app, base + ["--date", "2026-11-18"]).exit_code == 0
    assert runner.invoke(app, base + ["--date", "2026-11-19"]).exit_code == 0
    summary = tmp_path / "out" / "summary.json"
    out = runner.invoke(app, base + ["--date", "2026-11-24", "--summary", str(summary)])
    assert out.exit_code == 1 and "ALERT: label_bias" in out.output, out.output
    assert json.loads(summary.read_text())["exit_code"] == 1
    quiet = runner.invoke(app, base + ["--date", "2026-11-24", "--set", "alert.causes=[]"])
    assert quiet.exit_code == 0, quiet.output
    assert runner.invoke(app, base + ["--set", "spikes.windw=1h"]).exit_code == 2
    assert runner.invoke(app, base + ["--date", "24/11/2026"]).exit_code == 2
    monitor.write_text(monitor.read_text() + '\n[oops]\nname = "x"\n')
    bad = runner.invoke(app, base)
    assert bad.exit_code == 2 and "unknown setting 'oops.name'; did you mean 'index.name'?" in bad.output
    # QA: '[logs] db' suggested 'logs.redact'; a top-level 'name =' did not point at [index]
    for text, said in (('[logs]\ndb = "m.db"\n', "unknown setting 'logs.db'; did you mean 'output.db'?"),
                       ('name = "bot"\n', "'name' should be a [section]; did you mean 'index.name' (name under [index])?")):
        (tmp_path / "typo.toml").write_text(text)
        with pytest.raises(InputError) as caught:
            load_config(tmp_path / "typo.toml")
        assert said in str(caught.value)


def test_a_report_or_summary_path_onto_the_database_a_log_or_the_config_replaces_nothing(monitor, tmp_path):
    runner = CliRunner()
    base = ["run", "--config", str(monitor), "--date", "2026-11-18"]
    assert runner.invoke(app, base).exit_code == 0
    db, log = tmp_path / "monitor.db", tmp_path / "logs" / "2026-11-18.jsonl"
    kept = {path: path.read_bytes() for path in (log, monitor)}
    for args in (["--summary", str(db)], ["--set", "output.summary=logs/{date}.jsonl"],
                 ["--set", "output.report=monitor.toml"], ["--set", "output.report=logs/{date}.jsonl"]):
        out = runner.invoke(app, base + args)
        assert out.exit_code == 2 and "exists and is not a" in out.output, (args, out.output)  # was: exit 0
    assert {path: path.read_bytes() for path in kept} == kept
    assert db.read_bytes().startswith(b"SQLite format 3") and _snapshot(db)["scores"]  # was: the summary's JSON
    summary = tmp_path / "summary.json"  # the summary and the page of an earlier run are replaced, as each day's are
    for _ in range(2):
        assert runner.invoke(app, base + ["--summary", str(summary), "--set", "output.report=page.html"]).exit_code == 0
    assert json.loads(summary.read_text())["date"] == "2026-11-18"


def test_a_step_failing_on_its_input_exits_2_and_the_others_still_run(monitor, tmp_path):
    write_csv(tmp_path / "ref.csv", ["x"], [[1], [2]])
    (tmp_path / "cur.csv").write_text("not,a\ntable\n\x00\x00")
    result = run_monitor(load_config(monitor, {"drift.reference": "ref.csv", "drift.current": "nope-{date}.csv",
                                               "logs.path": "logs/*.jsonl"}), "2026-11-24")
    assert result.exit_code == 1  # drift skipped (the day's file absent), not failed
    assert next(s for s in result.steps if s.name == "drift").status == "skipped"
    # a path without {date} names one file: absent, it is a typo, and the step fails (QA: a misspelt
    # drift.reference skipped drift every day with exit 0)
    typo = run_monitor(load_config(monitor, {"drift.reference": "lanch.csv", "drift.current": "cur.csv",
                                             "logs.path": "logs/*.jsonl"}), "2026-11-24")
    drift = next(s for s in typo.steps if s.name == "drift")
    assert typo.exit_code == 2 and drift.status == "failed" and "drift.reference = 'lanch.csv'" in drift.reason
    assert "no such file" in drift.reason and "a typo?" in drift.reason
    broken = run_monitor(load_config(monitor, {"index.name": "no-such-index"}), "2026-11-18")
    assert broken.exit_code == 2 and broken.steps[0].status == "failed"
    assert broken.steps[-1].name == "report"


def test_files_the_user_may_not_read_fail_their_steps_in_one_line_not_as_a_bug(monitor, tmp_path, monkeypatch,
                                                                              capsys):
    # QA as a service user, the logs 0600 to another: every step said 'PermissionError ... (a bug? the
    # traceback is on stderr; please report it)', and an unreadable golden file failed diagnose too
    import os

    from novelty import run as run_module

    run_monitor(monitor, "2026-11-18")
    real = os.access
    log = tmp_path / "logs" / "2026-11-24.jsonl"
    monkeypatch.setattr(os, "access", lambda path, mode: not (mode & os.R_OK and Path(path) == log) and real(path, mode))
    capsys.readouterr()
    summary = run_monitor(monitor, "2026-11-24")
    score = next(s for s in summary.steps if s.name == "score")
    assert score.status == "failed" and score.reason.startswith(f"{log}: this user may not read it"), score
    assert summary.exit_code == 2 and "Traceback" not in capsys.readouterr().err
    assert next(s for s in summary.steps if s.name == "diagnose").status == "ran"
    monkeypatch.undo()

    def refused(self):  # any other path the system refuses in a step: one line, as the CLI gives it
        raise PermissionError(13, "Permission denied", str(tmp_path / "features.csv"))
    monkeypatch.setattr(run_module._Job, "drift", refused)
    drift = next(s for s in run_monitor(monitor, "2026-11-24").steps if s.name == "drift")
    assert drift.status == "failed" and drift.reason == f"{tmp_path / 'features.csv'}: Permission denied", drift
    assert "Traceback" not in capsys.readouterr().err


def test_the_lookback_holds_the_windows_that_overlap_it_not_the_one_ending_as_it_begins(monitor):
    # QA: '2026-10-15T00:00:00Z' > '2026-10-15' as text, so the window of the day before the 7-day lookback
    # counted in the spikes step but not in the diagnosis: a spike a late log made flagged there fell
    # between 'flagged in the last 7d' and 'earlier flagged now', and no run alerted on it (exit 0)
    config = load_config(monitor, {"alert.lookback": "2d"})
    first = run_monitor(config, "2026-11-24")
    assert "2026-11-24T00:00:00Z" in next(s for s in first.steps if s.name == "spikes").facts["flagged"]
    inside = next(s for s in run_monitor(config, "2026-11-25").steps if s.name == "spikes")
    assert inside.facts["flagged"] == ["2026-11-24T00:00:00Z"]  # the lookback is 11-24 .. 11-25
    after = next(s for s in run_monitor(config, "2026-11-26").steps if s.name == "spikes")
    assert after.facts["flagged"] == [] and "0 flagged in the last 2d" in after.reason, after


def test_the_run_says_when_the_day_s_windows_were_too_small_to_test(monitor):
    # QA: spikes.window = 1h on a bot of ~12 prompts an hour: every window untested, 'No alert.', exit 0,
    # said only as '(4 with a test)'
    hourly = run_monitor(load_config(monitor, {"spikes.window": "1h", "output.report": ""}), "2026-11-18")
    spikes = next(s for s in hourly.steps if s.name == "spikes")
    assert "21 of the 21 windows of 2026-11-18 with prompts had fewer than spikes.min_prompts (30) and were not " \
           "tested" in spikes.reason, spikes
    # QA: a week of 'No alert.' with every hour untested: the verdict line says so, not only the step
    assert "No alert. But 2026-11-18 was not spike-tested" in format_run(hourly)
    day = run_monitor(monitor, "2026-11-19")
    assert "were not tested" not in next(s for s in day.steps if s.name == "spikes").reason
    assert "spike-tested" not in format_run(day)


def test_one_unreadable_feedback_file_leaves_out_only_itself(monitor, tmp_path):
    """An empty file beside the day's labels failed the whole feedback step: the good file's labels
    were not imported, the gap not tested, the alert missed."""
    (tmp_path / "labels" / "2026-11-25-0empty.csv").write_text("")
    (tmp_path / "labels" / "2026-11-25-1blank.csv").write_text("\ufeff\r\n")  # review: failed the step
    config = load_config(monitor, {"feedback.path": "labels/{date}*.csv"})
    run_monitor(config, "2026-11-24")
    late = run_monitor(config, "2026-11-25")
    feedback = next(s for s in late.steps if s.name == "feedback")
    assert feedback.status == "ran" and "significant gap" in feedback.reason, feedback
    assert "2 feedback file(s) left out" in feedback.reason and "is empty" in feedback.reason
    assert [f["source"] for f in feedback.facts["unreadable"]] == [
        str(tmp_path / "labels" / f"2026-11-25-{name}.csv") for name in ("0empty", "1blank")]
    assert late.exit_code == 1  # an empty file is labels not in yet: said, no failure
    # a file that is there but cannot be used fails the step, after the others were judged (found by QA: exit 0)
    write_csv(tmp_path / "labels" / "2026-11-25-late.csv", ["request_id", "true_intent"], [["r1", "card_lost"]])
    again = run_monitor(config, "2026-11-25")
    feedback = next(s for s in again.steps if s.name == "feedback")
    assert feedback.status == "failed" and "significant gap" in feedback.reason and "3 feedback file(s) left out" \
        in feedback.reason and again.exit_code == 2
    (tmp_path / "labels" / "2026-11-25-late.csv").unlink()  # a file whose every row is set aside fails it too
    _written(tmp_path / "labels" / "2026-11-25-odd.csv", "prompt_id,label\nr1,a,b\n")
    odd = next(s for s in run_monitor(config, "2026-11-25").steps if s.name == "feedback")
    assert odd.status == "failed" and "odd.csv: no row gave a usable label (1 of its 1 rows set aside: expected 2" in odd.reason, odd
    # the CLI imports the readable files, says which were not, and exits 2
    db = tmp_path / "cli.db"
    typo = CliRunner().invoke(app, ["feedback", str(tmp_path / "labels" / "2026-11-25.csv"), "--db", str(db)])
    assert typo.exit_code == 2 and "no such database" in typo.output and not db.exists()  # was made, exit 0
    Store(db).close()
    out = CliRunner().invoke(app, ["feedback", str(tmp_path / "labels" / "2026-11-25-0empty.csv"),
                                   str(tmp_path / "labels" / "2026-11-25.csv"), "--db", str(db), "--json"])
    assert out.exit_code == 2
    assert "is empty" in out.stderr and "the other files were imported" in out.stderr
    payload = json.loads(out.stdout)
    assert payload["imported"][0]["new"] == 100 and len(payload["unreadable"]) == 1
    alone = CliRunner().invoke(app, ["feedback", str(tmp_path / "labels" / "2026-11-25-0empty.csv"), "--db", str(db)])
    assert alone.exit_code == 2 and "is empty" in alone.output


def test_a_step_that_breaks_unexpectedly_fails_alone_and_the_run_exits_3(monitor, tmp_path, monkeypatch):
    from novelty import run as run_module

    def broken(self):
        raise RuntimeError("boom")

    monkeypatch.setattr(run_module._Job, "golden", broken)
    result = run_monitor(load_config(monitor, {"output.report": ""}), "2026-11-18")
    steps = {s.name: s for s in result.steps}
    assert steps["golden"].status == "failed" and "RuntimeError: boom" in steps["golden"].reason
    assert steps["report"].status == "skipped" and steps["clusters"].status == "ran"
    assert result.exit_code == 3 and "FAILED: golden (exit 3)" in format_run(result)  # a bug, as commands say it
    (tmp_path / "summary-dir").mkdir()  # was an error alone: the steps' findings and the alert were lost
    monkeypatch.undo()
    unwritten = run_monitor(load_config(monitor, {"output.summary": "summary-dir"}), "2026-11-18")
    assert unwritten.steps[-1].name == "summary" and "cannot write it" in unwritten.steps[-1].reason
    assert unwritten.exit_code == 2 and len(unwritten.steps) == 9
    assert "FAILED: summary" in format_run(unwritten) and "No alert." not in format_run(unwritten)


def test_golden_files_with_their_own_column_names(monitor, tmp_path):
    rows = [[f"g{i}", "card" if i % 4 else "fees", "card"] for i in range(40)]
    write_csv(tmp_path / "g.csv", ["item", "truth", "model"], rows)
    settings = {"golden.baseline": "g.csv", "golden.current": "g.csv"}
    bad = run_monitor(load_config(monitor, settings), "2026-11-18")
    step = next(s for s in bad.steps if s.name == "golden")  # was: '(use --id-col, --label-col, --pred-col)'
    assert step.status == "failed" and "(set golden.id_col, golden.label_col, golden.pred_col in " in step.reason
    assert "golden.id_col" in bad.diagnosis.unreadable[0]["error"]  # the diagnosis and the page said the flags
    good = run_monitor(load_config(monitor, {**settings, "golden.id_col": "item", "golden.label_col": "truth",
                                             "golden.pred_col": "model"}), "2026-11-18")
    step = next(s for s in good.steps if s.name == "golden")
    assert step.status == "ran" and step.facts["current"] == 0.75, step
    assert not good.diagnosis.unreadable  # the diagnosis and the page read them with the same columns
    assert not any(n["cause"] == "model_regression" and "no --golden" in n["reason"] for n in good.diagnosis.not_checked)


def test_a_golden_file_that_cannot_be_read_fails_its_step_and_hides_no_other_cause(monitor, tmp_path):
    for day in ("2026-11-18", "2026-11-19", "2026-11-24"):
        run_monitor(monitor, day)
    (tmp_path / "golden_now.csv").write_text("id,label,prediction\n")  # only a header
    write_csv(tmp_path / "golden_launch.csv", ["id", "label", "prediction"], [(1, "a", "a")])
    config = load_config(monitor, {"golden.baseline": "golden_launch.csv", "golden.current": "golden_now.csv",
                                   "golden.accuracy": 0.0})
    result = run_monitor(config, "2026-11-25")
    steps = {s.name: s for s in result.steps}
    assert steps["golden"].status == "failed" and "only a header" in steps["golden"].reason
    # was: diagnose and report failed on the golden file too, and the label_bias alert was lost
    assert steps["diagnose"].status == "ran" and "label_bias" in steps["diagnose"].reason
    assert "the golden files could not be used" in steps["diagnose"].reason
    assert steps["report"].status == "ran" and any(a.startswith("label_bias") for a in result.alerts)
    assert result.exit_code == 2


def test_init_writes_a_config_that_run_accepts(tmp_path, index):
    _day_log(tmp_path, 1)
    out = tmp_path / "monitor.toml"
    result = CliRunner().invoke(app, ["init", "--index", "bot", "--logs", "logs/{date}.jsonl", "--db", "m.db",
                                      "-o", str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert 'id_col = "request_id"' in text and "# text_col" not in text and "Sniffed from 2026-11-18.jsonl" in text
    run = CliRunner().invoke(app, ["run", "--config", str(out), "--date", "2026-11-18", "--json"])
    assert run.exit_code == 0, run.output
    assert json.loads(run.output)["steps"][0]["facts"]["scored"] == 200
    dash = CliRunner().invoke(app, ["init", "--index", "bot", "--logs", "x", "-o", "-"])
    assert dash.exit_code == 2 and "-o - is not supported here" in dash.output  # was: a file named '-'
    again = CliRunner().invoke(app, ["init", "--index", "bot", "--logs", "x", "-o", str(out)])
    assert again.exit_code == 2 and "--force" in again.output


def test_init_sniffs_the_user_s_side_a_unique_id_and_a_prediction_and_says_what_to_check(tmp_path):
    from novelty.starter import sniff

    chat = [{"conv_id": f"c{i}", "user_said": f"where is card {i}", "ts_epoch_ms": 1764057600000 + i,
             "assistant_said": f"Your card {i} is on its way; it usually takes three to five working days.",
             "intent_pred": "card_arrival"} for i in range(20)]
    columns, notes = sniff(write_jsonl(tmp_path / "chat.jsonl", chat))
    assert columns["text"] == "user_said" and columns["pred"] == "intent_pred"  # was: assistant_said, no pred
    assert columns["time"] == "ts_epoch_ms" and any("text = 'user_said' is a guess" in n for n in notes)
    users = [{"id": f"user{i % 5}", "timestamp": "2026-11-25T08:00:00Z", "text": "hi", "label": "x"} for i in range(20)]
    columns, notes = sniff(write_jsonl(tmp_path / "users.jsonl", users))
    assert "id" not in columns and any("column 'id' repeats" in n for n in notes)  # was: id = 'id', 95 % rejected
    (tmp_path / "logs").mkdir()
    write_jsonl(tmp_path / "logs" / "2026-11-25.jsonl", [{"prompt": "hi", "timestamp": "2026-11-25T08:00:00Z"}])
    out = CliRunner().invoke(app, ["init", "--index", "bot", "--logs", "logs/2026-11-25.jsonl",
                                   "-o", str(tmp_path / "m.toml")])
    assert out.exit_code == 0 and "Check: no prediction column found" in out.output
    assert "Check: logs.path 'logs/2026-11-25.jsonl' has no {date}: every run reads the same file(s)" in out.output


def test_init_reads_past_a_bom_and_guesses_text_and_prediction_with_a_note(tmp_path):
    from novelty.starter import sniff

    excel = tmp_path / "excel.csv"  # Excel's "CSV UTF-8": the BOM became part of the first name
    excel.write_bytes(b"\xef\xbb\xbfprompt,timestamp,predicted_label,request_id\n"
                      b"where is my card,2026-11-25T08:00:00Z,card_arrival,r1\n")
    assert sniff(excel)[0]["text"] == "prompt"  # was: '\ufeffprompt', which run then could not find
    japanese = [{"content": f"カードをなくしました{i}", "ts": "2026-11-25T08:00:00Z", "intent": "lost_card"}
                for i in range(20)]
    columns, notes = sniff(write_jsonl(tmp_path / "ja.jsonl", japanese))
    assert columns["text"] == "content" and any("text = 'content' is a guess" in n for n in notes)  # was: none
    both = [{"ts": "2026-11-25T08:00:00Z", "user_id": "u1", "text": f"question {i}", "label": "a",
             "model_pred": "b"} for i in range(20)]
    columns, notes = sniff(write_jsonl(tmp_path / "both.jsonl", both))
    assert columns["pred"] == "model_pred"  # was: 'label', often the true label
    columns, notes = sniff(write_jsonl(tmp_path / "label.jsonl", [{**r, "model_pred": None} for r in both]))
    assert columns["pred"] == "label" and any("not the true label" in n for n in notes)
    numbers = [{"ts": "2026-11-25T08:00:00Z", "n": i} for i in range(20)]
    assert any(n.startswith("no text column found") for n in sniff(write_jsonl(tmp_path / "n.jsonl", numbers))[1])


def test_init_checks_what_run_would_refuse_and_sniffs_the_feedback_file(tmp_path):
    (tmp_path / "logs").mkdir()
    write_jsonl(tmp_path / "logs" / "2026-11-25.jsonl", [{"prompt": "hi", "timestamp": "2026-11-25T08:00:00Z"}])
    (tmp_path / "labels").mkdir()
    write_csv(tmp_path / "labels" / "2026-11-25.csv", ["request_id", "true_intent"], [["r1", "card"]])
    base = ["init", "--index", "nope", "--logs", str(tmp_path / "logs" / "{date}.jsonl"), "-o", str(tmp_path / "m.toml")]
    out = CliRunner().invoke(app, base + ["--db", str(tmp_path / "logs")])
    assert out.exit_code == 2 and "is a folder" in out.output and not (tmp_path / "m.toml").exists()  # was written
    for bad in ("../esc", 'bad name"x'):  # was written, then index build --name and every run refused it
        out = CliRunner().invoke(app, [*base[:1], "--index", bad, *base[3:]])
        assert out.exit_code == 2 and f"index name {bad!r} must start with" in out.output, out.output
        assert not (tmp_path / "m.toml").exists()
    out = CliRunner().invoke(app, base + ["--feedback", str(tmp_path / "labels" / "{date}.csv"),
                                          "--report", "logs/{date}.csv"])
    assert out.exit_code == 0, out.output
    assert "Check: no index 'nope' in " in out.output  # was: silent, then run's 'no index' every morning
    assert "is not an .html file" in out.output
    cfg = load_config(tmp_path / "m.toml")
    assert (cfg["feedback.id_col"], cfg["feedback.label_col"]) == ("request_id", "true_intent")  # was prompt_id, label
    assert cfg["feedback.time_col"] == ""  # none told by its name; a prompt's own timestamp would not do
    from novelty.starter import _sniff_feedback
    stamped = write_csv(tmp_path / "stamped.csv", ["prompt_id", "label", "timestamp", "Labelled_At"], [["r1", "a", "x", "y"]])
    assert _sniff_feedback(stamped)[0]["feedback.time_col"] == "Labelled_At"  # was never set: mtimes tie
    (tmp_path / "labels" / "2026-11-26.csv").write_text("")  # today's labels not in yet
    out = CliRunner().invoke(app, base + ["--feedback", str(tmp_path / "labels" / "{date}.csv"), "--force"])
    assert out.exit_code == 0 and "no columns could be read from 2026-11-26.csv" in out.output  # was: csv.Error
    (tmp_path / "labels" / "2026-11-26.csv").write_text("request_id\n")
    out = CliRunner().invoke(app, base + ["--feedback", str(tmp_path / "labels" / "{date}.csv"), "--force"])
    assert "(columns: request_id); set feedback.label_col" in out.output  # was 'columns: r, qu, st_id'


def test_init_sniffs_an_earlier_log_when_the_newest_cannot_be_read(tmp_path):
    import gzip

    (tmp_path / "logs").mkdir()
    with gzip.open(tmp_path / "logs" / "2026-11-24.jsonl.gz", "wt") as fh:
        fh.write('{"utterance": "where is my card", "ts": "2026-11-24T08:00:00Z"}\n')
    (tmp_path / "logs" / "2026-11-25.jsonl.gz").write_bytes(b"\x1f\x8b\x08 cut short by the export")
    out = CliRunner().invoke(app, ["init", "--index", "bot", "--logs", str(tmp_path / "logs" / "{date}.jsonl.gz"),
                                   "-o", str(tmp_path / "m.toml")])
    assert out.exit_code == 0, out.output  # was: zlib.error's traceback on the newest file alone
    assert "could not be read: the columns come from 2026-11-24.jsonl.gz" in out.output
    assert load_config(tmp_path / "m.toml")["logs.text_col"] == "utterance"
    (tmp_path / "quiet").mkdir()
    (tmp_path / "quiet" / "2026-11-25.csv").write_text("")  # the only log, empty: was csv.Error's traceback
    out = CliRunner().invoke(app, ["init", "--index", "bot", "--logs", str(tmp_path / "quiet" / "{date}.csv"),
                                   "-o", str(tmp_path / "q.toml")])
    assert out.exit_code == 0 and "the default column names are written" in out.output, out.output


def test_init_sniffs_a_log_the_date_pattern_names_not_a_stray_file_beside_it(tmp_path):
    # QA: logs/r.jsonl beside logs/2026-11-25.jsonl was 'the newest log' of 'logs/{date}.jsonl' (last in name
    # order), though run never reads it for any date
    (tmp_path / "logs" / "2026" / "11").mkdir(parents=True)
    (tmp_path / "logs" / "2026-11-25.jsonl").write_text('{"utterance": "where is my card", "ts": "2026-11-25T08:00:00Z"}\n')
    (tmp_path / "logs" / "r.jsonl").write_text('{"other": "a summary", "n": 3}\n')
    out = CliRunner().invoke(app, ["init", "--index", "bot", "--logs", str(tmp_path / "logs" / "{date}.jsonl"),
                                   "-o", str(tmp_path / "m.toml")])
    assert out.exit_code == 0 and "sniffed from " + str(tmp_path / "logs" / "2026-11-25.jsonl") in out.output, out.output
    assert load_config(tmp_path / "m.toml")["logs.text_col"] == "utterance"
    (tmp_path / "logs" / "2026" / "11" / "25.csv").write_text("question,when\nwhere is my card,2026-11-25\n")
    (tmp_path / "logs" / "2026" / "11" / "latest.csv").write_text("other\nx\n")
    out = CliRunner().invoke(app, ["init", "--index", "bot", "--logs", str(tmp_path / "logs" / "{date:%Y/%m/%d}.csv"),
                                   "-o", str(tmp_path / "d.toml")])
    assert out.exit_code == 0 and load_config(tmp_path / "d.toml")["logs.text_col"] == "question", out.output


def test_init_says_when_slashed_dates_read_either_way(tmp_path):
    # QA: '01/10/2026 00:12' (1 October) in chat_01-10-2026.csv: init set nothing and said nothing, and each
    # run filed the day under 10 January, exit 0
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "chat_01-10-2026.csv").write_text("message,when\nwhere is my card,01/10/2026 00:12\n"
                                                           "hello,01/10/2026 09:40\n")
    out = CliRunner().invoke(app, ["init", "--index", "bot", "--logs", str(tmp_path / "logs" / "chat_{date:%d-%m-%Y}.csv"),
                                   "-o", str(tmp_path / "m.toml")])
    assert out.exit_code == 0 and "Check: times such as '01/10/2026 00:12' in chat_01-10-2026.csv read either way" \
        in out.output and "set logs.day_first = true" in out.output, out.output
    (tmp_path / "logs" / "chat_25-10-2026.csv").write_text("message,when\nwhere is my card,25/10/2026 00:12\n")
    out = CliRunner().invoke(app, ["init", "--index", "bot", "--logs", str(tmp_path / "logs" / "chat_{date:%d-%m-%Y}.csv"),
                                   "-o", str(tmp_path / "n.toml")])  # (the newest in name order: 25-10)
    assert "read either way" not in out.output and load_config(tmp_path / "n.toml")["logs.day_first"] is True


@pytest.mark.parametrize("newest", [b"", b"\x00\x01binary\n"])
def test_init_sniffs_yesterday_s_log_when_today_s_jsonl_has_no_row(tmp_path, newest):
    # found by QA: an empty or garbage newest JSONL wrote the default names (text_col = "prompt")
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "2026-11-24.jsonl").write_text('{"utterance": "where is my card", "ts": "2026-11-24T08:00:00Z"}\n')
    (tmp_path / "logs" / "2026-11-25.jsonl").write_bytes(newest)
    out = CliRunner().invoke(app, ["init", "--index", "bot", "--logs", str(tmp_path / "logs" / "{date}.jsonl"),
                                   "-o", str(tmp_path / "m.toml")])
    assert out.exit_code == 0 and "the columns come from 2026-11-24.jsonl" in out.output, out.output
    assert load_config(tmp_path / "m.toml")["logs.text_col"] == "utterance"


def test_init_does_not_take_a_row_number_of_each_file_for_the_id(tmp_path):
    # found by QA: "id": 0..N restarting in each daily file became logs.id_col, and from the second day
    # 98 % of the rows were rejected as ids scored before for another text
    (tmp_path / "logs").mkdir()
    for day in (24, 25):
        write_jsonl(tmp_path / "logs" / f"2026-11-{day}.jsonl",
                    [{"id": i, "utterance": f"question {i} of day {day}", "ts": f"2026-11-{day}T08:00:00Z"}
                     for i in range(20)])
    out = CliRunner().invoke(app, ["init", "--index", "bot", "--logs", str(tmp_path / "logs" / "{date}.jsonl"),
                                   "-o", str(tmp_path / "m.toml")])
    assert out.exit_code == 0, out.output
    assert "column 'id' repeats across days (2026-11-24.jsonl and 2026-11-25.jsonl both have 0, 1, 2)" in \
        " ".join(out.output.split())
    assert not load_config(tmp_path / "m.toml")["logs.id_col"]
    write_jsonl(tmp_path / "logs" / "2026-11-25.jsonl",  # ids unique across days: taken
                [{"id": f"r{25 * 100 + i}", "utterance": f"question {i}", "ts": "2026-11-25T08:00:00Z"} for i in range(20)])
    out = CliRunner().invoke(app, ["init", "--index", "bot", "--logs", str(tmp_path / "logs" / "{date}.jsonl"),
                                   "-o", str(tmp_path / "m.toml"), "--force"])
    assert load_config(tmp_path / "m.toml")["logs.id_col"] == "id" and "repeats across days" not in out.output


def test_init_notes_an_undated_input_that_is_not_there(tmp_path):
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "2026-11-25.jsonl").write_text('{"utterance": "where is my card"}\n')
    (tmp_path / "launch.csv").write_text("x\n1\n")
    out = CliRunner().invoke(app, ["init", "--index", "bot", "--logs", str(tmp_path / "logs" / "{date}.jsonl"),
                                   "--reference", str(tmp_path / "lanch.csv"), "--current", "features/{date}.csv",
                                   "--golden-baseline", str(tmp_path / "launch.csv"), "-o", str(tmp_path / "m.toml")])
    said = " ".join(out.output.split())
    assert out.exit_code == 0 and f"drift.reference: no such file {tmp_path / 'lanch.csv'};" in said, out.output
    assert "golden.baseline" not in said and "drift.current" not in said  # there, and dated


def test_init_finds_camel_case_column_names(tmp_path):
    (tmp_path / "logs").mkdir()
    write_jsonl(tmp_path / "logs" / "2026-11-25.jsonl", [{"requestId": f"r{i}", "userMessage": "where is my card",
                                                           "createdAt": "2026-11-25T08:00:00Z", "predictedIntent": "x"}
                                                          for i in range(3)])
    out = CliRunner().invoke(app, ["init", "--index", "bot", "--logs", str(tmp_path / "logs" / "{date}.jsonl"),
                                   "-o", str(tmp_path / "m.toml")])
    config = load_config(tmp_path / "m.toml")
    assert out.exit_code == 0 and config["logs.id_col"] == "requestId" and config["logs.time_col"] == "createdAt"
    assert (config["logs.text_col"], config["logs.pred_col"]) == ("userMessage", "predictedIntent")


def test_init_says_why_it_cannot_write_its_config(tmp_path):
    (tmp_path / "logs").mkdir()
    write_jsonl(tmp_path / "logs" / "2026-11-25.jsonl", [{"prompt": "hi", "timestamp": "2026-11-25T08:00:00Z"}])
    (tmp_path / "afile").write_text("x")
    base = ["init", "--index", "bot", "--logs", str(tmp_path / "logs" / "{date}.jsonl"), "-o"]
    out = CliRunner().invoke(app, base + [str(tmp_path / "afile" / "m.toml")])
    assert out.exit_code == 2 and "afile is a file, not a folder" in out.output  # was: 'afile: File exists'
    out = CliRunner().invoke(app, base + ["/proc/m.toml"])
    assert out.exit_code == 2 and "/proc/m.toml: cannot write it" in out.output and ".draft" not in out.output


def test_feedback_late_partial_and_repeated(tmp_path, index, monkeypatch):
    from novelty.engines.local import score_files
    from novelty.logs import Columns

    rows = _day_log(tmp_path, 7, n=120)
    db = tmp_path / "m.db"
    cols = Columns(id="request_id")
    score_files([tmp_path / "logs" / "2026-11-24.jsonl"], index, db, columns=cols)
    ids = [r["request_id"] for r in rows]
    first = write_csv(tmp_path / "a.csv", ["prompt_id", "label", "at"],
                      [(i, r["topic"], "2026-11-25T09:00:00Z") for i, r in zip(ids[:60], rows)]
                      + [("r-not-yet-scored", "card_lost", "2026-11-25T09:00:00Z"), ("", "x", ""), ("r1", "", "")])
    got = import_feedback(db, first, time_col="at")
    assert (got.new, got.unknown_ids, got.blank) == (61, 1, 2)
    assert import_feedback(db, first, time_col="at").unchanged == 61  # re-import: nothing changes
    fixes = write_csv(tmp_path / "b.csv", ["prompt_id", "label", "at"],
                      [(ids[0], "card_lost", "2026-11-26T09:00:00Z"),     # a later correction wins
                       (ids[1], "card_lost", "2026-11-24T09:00:00Z"),     # an older label does not
                       (ids[2], "card_lost", "2026-11-26T09:00:00Z"), (ids[2], rows[2]["topic"], "2026-11-27T00:00:00Z")])
    got = import_feedback(db, fixes, time_col="at")
    assert (got.changed, got.stale, got.unchanged) == (1, 1, 1)
    older = write_csv(tmp_path / "older.csv", ["prompt_id", "label", "at"],  # the labels stored, given earlier:
                      [(i, r["topic"], "2026-11-20T09:00:00Z") for i, r in zip(ids[3:13], rows[3:13])])
    got = import_feedback(db, older, time_col="at")  # was 10 'older than the stored label', as if in conflict
    assert (got.unchanged, got.stale, got.changed) == (10, 0, 0)
    # two files of one time (written in the same second): the later name wins, whichever ran last (found by QA:
    # a rerun of the older date's file undid the newer's corrections)
    older, newer = (write_csv(tmp_path / f"2026-11-2{d}.csv", ["prompt_id", "label", "at"],
                              [(ids[3], label, "2026-11-28T09:00:00Z")]) for d, label in ((5, "pin"), (6, "card_lost")))
    monkeypatch.chdir(tmp_path)  # named another way (review: a relative path sorted after '/' and won)
    relative = older.name
    (tmp_path / "d20").mkdir(), (tmp_path / "d21").mkdir()  # dated folders, one file name (review)
    in20, in21 = (write_csv(tmp_path / folder / "labels.csv", ["prompt_id", "label", "at"],
                            [(ids[4], label, "2026-11-28T09:00:00Z")]) for folder, label in (("d20", "pin"), ("d21", "card_lost")))
    for order in ([older, newer, older], [newer, older], [newer, relative], [in21, in20]):
        assert [import_feedback(db, f, time_col="at").changed for f in order][-1] == 0
        for pid in (ids[3], ids[4]) if in21 in order else (ids[3],):
            assert sqlite3.connect(db).execute("SELECT label FROM feedback WHERE prompt_id = ?", [pid]).fetchone() \
                == ("card_lost",), (order, pid)
    report = online_accuracy(db)
    assert report.total.all.labelled == 60 and report.unmatched == 1
    assert report.total.novel.accuracy is not None and report.total.novel.accuracy < report.total.known.accuracy
    assert report.novel_confusion and report.novel_confusion[0]["label"] in ("crypto", "bnpl")
    # the unknown id joins once its prompt is scored
    write_jsonl(tmp_path / "late.jsonl", [{"request_id": "r-not-yet-scored", "prompt": "I lost my card",
                                           "timestamp": "2026-11-24T12:00:00Z", "predicted_label": "card_lost"}])
    score_files([tmp_path / "late.jsonl"], index, db, columns=cols)
    assert online_accuracy(db).total.all.labelled == 61
    out = CliRunner().invoke(app, ["feedback", "--db", str(db), "--json"])
    assert out.exit_code == 0 and json.loads(out.output)["total"]["all"]["labelled"] == 61
    out = CliRunner().invoke(app, ["feedback", str(tmp_path / "a.csv"), "--db", str(db), "--label-col", "nope"])
    assert out.exit_code == 2 and "no column(s) 'nope'" in out.output
    with pytest.raises(InputError, match="range is empty"):  # was: accepted, "no labelled prompt"
        online_accuracy(db, since="2026-11-25", until="2026-11-24")
    out = CliRunner().invoke(app, ["feedback", "--db", str(db), "--since", "2026-11-24", "--until", "2026-11-25"])
    # the header's counts are the database's: it says so, and which prompts the table covers
    assert "(61 labels in the database, 0 not matched to a scored prompt; prompts logged from 2026-11-24 to " \
           "2026-11-25)" in out.output


def _stored_feedback(db: Path) -> dict:
    with sqlite3.connect(db) as conn:
        return {pid: (label, at) for pid, label, at in conn.execute("SELECT prompt_id, label, labelled_at FROM feedback")}


def test_feedback_into_a_database_in_a_folder_the_user_may_not_write_names_the_database(tmp_path, monkeypatch):
    # QA as user nobody, the database root's in a root folder: 'error: .../.m.db-feedback-8930-u3235ozi.tmp:
    # Permission denied', a scratch file the user never named
    import tempfile

    from novelty import store as store_module

    db = new_db(tmp_path / "m.db")
    path = write_csv(tmp_path / "a.csv", ["prompt_id", "label"], [("r1", "card_lost")])
    monkeypatch.setattr(store_module, "may_write", lambda path: False)  # (the tests run as root)

    def refused(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(tmp_path / ".m.db-feedback-1-x.tmp"))
    monkeypatch.setattr(tempfile, "mkstemp", refused)
    out = CliRunner().invoke(app, ["feedback", str(path), "--db", str(db)])
    assert out.exit_code == 2 and f"cannot write {db}" in out.output and "may not write" in out.output, out.output
    assert ".tmp" not in out.output and sorted(p.name for p in tmp_path.iterdir()) == ["a.csv", "m.db"]


def test_feedback_keeps_every_field_of_a_row_it_sets_aside(tmp_path):
    # QA: a label row with a byte that is not UTF-8 was kept as 'r2, cr\xffypto', its time lost
    db = new_db(tmp_path / "m.db")
    path = tmp_path / "labels.csv"
    path.write_bytes(b"prompt_id,label,labelled_at,labeller\nr1,crypto,2026-11-25T10:00:00Z,ann\n"
                     b"r2,cr\xffypto,2026-11-25T10:00:00Z,bob\n")
    got = import_feedback(db, path, time_col="labelled_at")
    assert got.rejected == 1
    with sqlite3.connect(db) as conn:
        (line, raw), = conn.execute("SELECT line, raw FROM rejects")
    assert line == 3 and raw.startswith("r2, cr") and raw.endswith("ypto, 2026-11-25T10:00:00Z, bob"), raw


def test_feedback_sets_aside_rows_whose_time_is_unreadable(tmp_path):
    db = new_db(tmp_path / "m.db")
    before = [(f"r{i}", "balance", "2026-11-20T09:00:00Z") for i in range(1, 5)]
    import_feedback(db, write_csv(tmp_path / "before.csv", ["prompt_id", "label", "at"], before), time_col="at")
    path = write_csv(tmp_path / "a.csv", ["prompt_id", "label", "at"],
                     [("r1", "card_lost", "2026-11-25T09:00:00Z"), ("r2", "card_lost", "notatime"),
                      ("r3", "crypto", "-99999999999999"), ("r4", "crypto", "1e300"), ("r5", "crypto", "")])
    got = import_feedback(db, path, time_col="at")  # was: TypeError comparing a float with a str
    assert (got.rows, got.new, got.changed, got.rejected, got.blank) == (2, 1, 1, 3, 0)
    assert got.reject_reasons == [  # a day of one cause is one reason, whatever time each row quotes
        {"reason": "unreadable timestamp ... in 'at'", "rows": 2, "example": "r2, card_lost, notatime"},
        {"reason": "timestamp ... in 'at' is ..., outside 1990-2099: an unset default, or seconds and milliseconds "
                   "mixed up?", "rows": 1, "example": "r3, crypto, -99999999999999"}]
    stored = _stored_feedback(db)
    assert stored["r1"] == ("card_lost", "2026-11-25T09:00:00Z") and stored["r2"][0] == "balance"
    assert "r5" in stored  # no time given: not an error
    alone = write_csv(tmp_path / "b.csv", ["prompt_id", "label", "at"], [("r6", "crypto", "notatime")])
    got = import_feedback(db, alone, time_col="at")  # was: silently stored without its time
    assert (got.rows, got.rejected) == (0, 1) and "r6" not in _stored_feedback(db)
    out = CliRunner().invoke(app, ["feedback", str(path), "--db", str(db), "--time-col", "at"])
    assert out.exit_code == 0, out.output
    assert "3 rows set aside: unreadable timestamp ... in 'at' x2 (e.g. 'r2, card_lost, notatime')" in out.output


def test_feedback_ids_and_labels_stay_text(tmp_path, index):
    from novelty.engines.local import score_files
    from novelty.logs import Columns

    db = tmp_path / "m.db"
    log = write_csv(tmp_path / "log.csv", ["request_id", "prompt", "timestamp", "predicted_label"],
                    [("00123", "I lost my card", "2026-11-24T10:00:00Z", "card_lost")])
    score_files([log], index, db, columns=Columns(id="request_id"))
    labels = write_csv(tmp_path / "labels.csv", ["prompt_id", "label"],
                       [("00123", "card_lost"), ("0042", "NA"), ("0043", "null"), ("0044", "fees")])
    got = import_feedback(db, labels)
    assert got.unknown_ids == 1 and online_accuracy(db).total.all.labelled == 1  # was: stored as 123, never joined
    assert got.blank == 2 and "0042" not in _stored_feedback(db)  # R's NA, SQL's null: not labelled yet
    lines = write_jsonl(tmp_path / "labels.jsonl", [{"prompt_id": "00123", "label": "00"}, {"prompt_id": 7, "label": 1.0}])
    assert import_feedback(db, lines).changed == 1
    assert {k: v[0] for k, v in _stored_feedback(db).items()} == {"00123": "00", "0044": "fees", "7": "1"}
    # whole numbers that pandas wrote as floats (a column with gaps) join like the JSONL ones
    floats = tmp_path / "floats.csv"
    floats.write_text("prompt_id,label\n101,12.0\n102,\n103.0,7.0\n")
    import_feedback(db, floats)
    assert {k: v[0] for k, v in _stored_feedback(db).items() if k.startswith("10")} == {"101": "12", "103": "7"}



def test_feedback_meets_ids_and_predictions_the_log_wrote_another_way(tmp_path, index):
    """An id ' 3 ' or '3.0' in the log and '3' in the label file (and the reverse), a prediction '2.0'
    against a label '2': score stored the id as written and feedback compared labels as text, so the
    labels never joined (or counted right as wrong)."""
    from novelty.engines.local import score_files
    from novelty.logs import Columns

    db = tmp_path / "m.db"
    log = write_csv(tmp_path / "log.csv", ["request_id", "prompt", "timestamp", "predicted_label"],
                    [(" 3 ", "I lost my card", "2026-11-24T10:00:00Z", "2.0"),
                     ("4.0", "where is my parcel", "2026-11-24T11:00:00Z", "1"),
                     ("5", "how do I pay", "2026-11-24T12:00:00Z", "2")])
    assert score_files(log, index, db, columns=Columns(id="request_id")).scored == 3
    labels = write_csv(tmp_path / "labels.csv", ["prompt_id", "label"], [("3", "2"), ("4", "1.0"), ("5.0", "3")])
    assert import_feedback(db, labels).unknown_ids == 0
    total = online_accuracy(db).total.all
    assert (total.labelled, total.correct) == (3, 2)
    # a database scored before ids were stored canonical: the rerun finds the row as written, scores nothing
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE scores SET prompt_id = ' 3 ' WHERE prompt_id = '3'")
    again = score_files(log, index, db, columns=Columns(id="request_id"))
    assert (again.scored, again.skipped) == (0, 3)


def test_feedback_says_when_labelled_prompts_were_logged_without_a_prediction(tmp_path, index):
    """It said "No labelled prompt matches a scored one yet" though the labels had matched."""
    from novelty.engines.local import score_files
    from novelty.logs import Columns

    db = tmp_path / "m.db"
    log = write_jsonl(tmp_path / "log.jsonl", [
        {"request_id": "a", "prompt": "I lost my card", "timestamp": "2026-11-24T10:00:00Z"},
        {"request_id": "b", "prompt": "where is my parcel", "timestamp": "2026-11-24T11:00:00Z"}])
    score_files(log, index, db, columns=Columns(id="request_id"))
    labels = write_csv(tmp_path / "labels.csv", ["prompt_id", "label"], [("a", "card_lost"), ("b", "delivery")])
    out = CliRunner().invoke(app, ["feedback", str(labels), "--db", str(db)])
    assert out.exit_code == 0 and "2 labelled prompts were logged without a predicted label" in out.output
    assert "No labelled prompt matches" not in out.output
    assert online_accuracy(db).unjudged == 2


def test_an_older_label_file_imported_again_does_not_undo_a_newer_one(tmp_path):
    """Without a time column the last import won, so a re-run or a backfill that imported last week's
    file again put back the labels this week's file had corrected."""
    import os

    db = new_db(tmp_path / "m.db")
    old = write_csv(tmp_path / "old.csv", ["prompt_id", "label"], [("r3", "billing"), ("r4", "fees")])
    newer = write_csv(tmp_path / "newer.csv", ["prompt_id", "label"], [("r3", "account")])
    os.utime(old, (1_790_000_000, 1_790_000_000))  # written in 2026-09, the newer one now
    import_feedback(db, old)
    assert import_feedback(db, newer).changed == 1
    again = import_feedback(db, old)
    assert (again.stale, again.unchanged, again.changed) == (1, 1, 0)
    assert {k: v[0] for k, v in _stored_feedback(db).items()} == {"r3": "account", "r4": "fees"}
    copy = tmp_path / "old-downloaded-again.csv"  # QA: a fresh copy is written now, and undid the correction
    copy.write_bytes(old.read_bytes())
    again = import_feedback(db, copy)
    assert again.changed == 0 and _stored_feedback(db)["r3"][0] == "account"
    assert again.same_as == {"source": str(old), "written": "2026-09-21T14:13:20Z"}  # said, not silent (review)
    # a timed correction older than the file's own time loses; a newer one wins
    soon = (datetime.now(timezone.utc) + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")  # after the file
    fix = write_csv(tmp_path / "fix.csv", ["prompt_id", "label", "at"],
                    [("r4", "card", "2026-08-01T00:00:00Z"), ("r3", "card", soon)])
    got = import_feedback(db, fix, time_col="at")
    assert (got.stale, got.changed) == (1, 1)


def test_feedback_sets_aside_malformed_csv_lines(tmp_path):
    db = new_db(tmp_path / "m.db")
    middle = tmp_path / "a.csv"
    middle.write_text("prompt_id,label\nr1,crypto\nr2,crypto,extra\nr3,crypto\n")
    got = import_feedback(db, middle)  # was: the whole file refused, "Expected 2 fields in line 3, saw 3"
    assert (got.rows, got.rejected) == (2, 1) and set(_stored_feedback(db)) == {"r1", "r3"}
    assert got.reject_reasons == [{"reason": "expected 2 fields, got 3", "rows": 1, "example": "r2,crypto,extra"}]
    first = tmp_path / "b.csv"  # pandas would shift the columns of a first line that is too long
    first.write_text("prompt_id,label\nr4,crypto,extra\nr5,card_lost\n")
    got = import_feedback(db, first)
    assert (got.rows, got.rejected) == (1, 1) and _stored_feedback(db)["r5"][0] == "card_lost"
    out = CliRunner().invoke(app, ["feedback", str(middle), "--db", str(db), "--json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["imported"][0]["reject_reasons"][0]["rows"] == 1
    out = CliRunner().invoke(app, ["feedback", str(middle), "--db", str(db)])
    assert out.exit_code == 0 and "1 row set aside: expected 2 fields, got 3 x1" in out.output


def test_feedback_keeps_the_rows_it_sets_aside_in_the_rejects_table(tmp_path, monkeypatch):
    db = new_db(tmp_path / "m.db")
    path = tmp_path / "a.csv"
    path.write_bytes(b'prompt_id,label,at\nr1,crypto,2026-11-25\nr2,crypto,extra,x\n'
                     b'r3,bal\xffance,2026-11-25\nr4,"two\nlines",notatime\nr5,fees,2026-11-25\n')
    for _ in range(2):  # a re-import replaces, never duplicates
        got = import_feedback(db, path, time_col="at")
        assert (got.rows, got.rejected) == (2, 3)
    with sqlite3.connect(db) as conn:
        kept = conn.execute("SELECT run_id, source, line, reason, raw FROM rejects ORDER BY line").fetchall()
    assert kept == [(None, str(path), 3, "expected 3 fields, got 4", "r2,crypto,extra,x"),
                    (None, str(path), 4, "not valid UTF-8", "r3, bal\\xffance, 2026-11-25"),  # every field (QA)
                    (None, str(path), 5, "label with a line break (an unclosed quote?)", "r4, two\nlines, notatime")]
    lines = tmp_path / "a.jsonl"
    lines.write_text('{"prompt_id": "r6", "label": "x"}\nnot json\n')
    import_feedback(db, lines)
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT line, reason FROM rejects WHERE source = ?", [str(lines)]).fetchall() == [
            (2, "invalid JSON: Expecting value")]

    monkeypatch.chdir(tmp_path)  # QA: the same file typed another way added its rejects again (12 for 4)
    import_feedback(db, "a.csv", time_col="at")
    import_feedback(db, f"{tmp_path.name}/../{tmp_path.name}/a.csv".replace(tmp_path.name, str(tmp_path), 1),
                    time_col="at")
    monkeypatch.chdir(tmp_path.parent)  # review: a relative source stored first was matched from here
    import_feedback(db, f"{tmp_path.name}/a.csv", time_col="at")
    other = tmp_path / "other"
    other.mkdir()
    (other / "a.csv").write_text("prompt_id,label\nr9,x,extra\n")  # another file of that name keeps its rejects
    import_feedback(db, other / "a.csv")
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM rejects WHERE line BETWEEN 3 AND 5").fetchone() == (3,)
        assert conn.execute("SELECT count(*) FROM rejects WHERE source = ?", [str(other / "a.csv")]).fetchone() == (1,)


def test_feedback_reads_a_file_a_chunk_at_a_time_with_the_same_result(tmp_path, monkeypatch):
    import pandas as pd
    from novelty import feedback

    def imported(path, **kw):  # the counts, the stored labels and the rejects, in a database of its own
        db = new_db(tmp_path / f"{path.name}.{feedback.CHUNK_ROWS}.db")
        import_feedback(db, path, **kw)
        got = import_feedback(db, path, **kw)  # a re-import in the same database changes nothing
        with sqlite3.connect(db) as conn:
            kept = conn.execute("SELECT line, reason FROM rejects ORDER BY line").fetchall()
        return {k: v for k, v in got.__dict__.items() if k != "source"}, _stored_feedback(db), kept

    csv_file = tmp_path / "a.csv"  # a repeated id across chunks (the newest wins), a blank, and a line
    csv_file.write_text("prompt_id,label,at\nr1,old,2026-11-25\nr2,x,2026-11-20\n,y,2026-11-20\n"  # too long
                        "r3,z,2026-11-21\nr1,new,2026-11-26\nr6,u,2026-11-21\nr1,older,2026-11-24\n"
                        "r4,w,2026-11-22,extra\nr5,v,notatime\n")  # in the last chunk, which sends the fast reader back to the start
    jsonl = tmp_path / "a.jsonl"  # the first chunk has no label column at all
    jsonl.write_text('{"prompt_id": "r1"}\n{"prompt_id": "r2"}\n{"prompt_id": "r3", "label": "a"}\n'
                     'not json\n{"prompt_id": "r1", "label": "b"}\n')
    parquet = tmp_path / "a.parquet"
    pd.DataFrame({"prompt_id": [f"r{i % 4}" for i in range(9)], "label": list("abcdefghi")}).to_parquet(parquet)
    whole = [imported(csv_file, time_col="at"), imported(jsonl), imported(parquet)]
    monkeypatch.setattr(feedback, "CHUNK_ROWS", 2)
    assert [imported(csv_file, time_col="at"), imported(jsonl), imported(parquet)] == whole
    counts, stored, kept = whole[0]
    assert {pid: label for pid, (label, _) in stored.items()} == {"r1": "new", "r2": "x", "r3": "z", "r6": "u"}
    assert (counts["rows"], counts["blank"], counts["unchanged"], counts["rejected"]) == (4, 1, 4, 2)
    assert kept == [(9, "expected 3 fields, got 4"), (10, "unreadable timestamp 'notatime' in 'at'")]
    assert whole[1][0]["blank"] == 2 and whole[1][1]["r1"][0] == "b"
    assert {pid: label for pid, (label, _) in whole[2][1].items()} == {"r0": "i", "r1": "f", "r2": "g", "r3": "h"}


def test_feedback_bom_invalid_utf8_and_blank_rows(tmp_path):
    db = new_db(tmp_path / "m.db")
    path = tmp_path / "a.csv"
    path.write_bytes(b"\xef\xbb\xbfprompt_id,label\nr1,crypto\nr2,bal\xffance\n,crypto\nr3,\n  ,x\n")
    got = import_feedback(db, path)  # was: "cannot read it as a table ('utf-8' codec can't decode ...)"
    assert (got.rows, got.blank, got.rejected) == (1, 3, 1)
    assert got.reject_reasons[0]["reason"] == "not valid UTF-8" and set(_stored_feedback(db)) == {"r1"}
    lines = tmp_path / "a.jsonl"
    lines.write_bytes(b'\xef\xbb\xbf{"prompt_id": "r4", "label": "crypto"}\nnot json\n[1]\n'
                      b'{"prompt_id": "r5", "label": "x\xff"}\n{"prompt_id": null, "label": "x"}\n')
    got = import_feedback(db, lines)
    assert (got.rows, got.blank, got.rejected) == (1, 1, 3) and "r4" in _stored_feedback(db)
    assert {r["reason"] for r in got.reject_reasons} == {"invalid JSON: Expecting value", "row is not a JSON object", "not valid UTF-8"}
    header = tmp_path / "b.csv"
    header.write_bytes(b"prompt_id,lab\xffel\nr1,x\n")
    out = CliRunner().invoke(app, ["feedback", str(header), "--db", str(db)])
    assert out.exit_code == 2 and "header row is not valid UTF-8" in out.output and "Traceback" not in out.output


def test_gap_test():
    assert not offline_online_gap(Accuracy.of(90, 100), 0.92, 400, ("a", "b")).significant  # within noise
    assert not offline_online_gap(Accuracy.of(9_000, 10_000), 0.92, 0, ("a", "b")).significant  # < min_gap
    assert offline_online_gap(Accuracy.of(8_000, 10_000), 0.92, 0, ("a", "b")).significant
    with pytest.raises(InputError):
        offline_online_gap(Accuracy.of(0, 0), 0.9, 10, ("a", "b"))


def test_a_period_without_a_gap_withdraws_the_gaps_it_covers_the_end_of(tmp_path, index):
    from novelty.diagnose import gap_causes
    from novelty.feedback import record_gap

    db = tmp_path / "m.db"
    score_files([write_jsonl(tmp_path / "l.jsonl", [{"prompt": "hi", "timestamp": "2026-11-20T10:00:00Z"}])],
                index, db)
    days = [f"2026-11-{d}" for d in (10, 16, 17, 23, 24)]
    record_gap(db, offline_online_gap(Accuracy.of(800, 1000), 0.92, 0, (days[0], days[2])))  # ends before
    record_gap(db, offline_online_gap(Accuracy.of(800, 1000), 0.92, 0, (days[1], days[3])))  # partial labels
    assert gap_causes(db, days[2], days[4])[0][0].details["period"][1] == days[3]
    record_gap(db, offline_online_gap(Accuracy.of(95, 100), 0.92, 0, (days[2], days[4])))  # fewer labels so far
    assert gap_causes(db, days[2], days[4])[0][0].details["period"][1] == days[3]  # not enough to withdraw it
    record_gap(db, offline_online_gap(Accuracy.of(915, 1000), 0.92, 0, (days[2], days[4])))  # all of them: no gap
    assert gap_causes(db, days[2], days[4])[0] == []  # was: the partial period's gap alerted on, stale
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT window_end, status FROM incidents ORDER BY 1").fetchall() == [
            (days[2], "open"), (days[3], "withdrawn")]


def test_a_refreshed_golden_set_that_finds_no_gap_withdraws_the_gap_the_old_one_found(tmp_path, index):
    # QA: following the gap's advice (refresh the golden set) left it open, alerting daily with the old
    # 92 % while the new set's test said "no significant gap": the old test had more labels
    from novelty.diagnose import gap_causes
    from novelty.feedback import record_gap

    db = tmp_path / "m.db"
    score_files([write_jsonl(tmp_path / "l.jsonl", [{"prompt": "hi", "timestamp": "2026-11-20T10:00:00Z"}])],
                index, db)
    days = ["2026-11-14", "2026-11-21", "2026-11-22"]
    record_gap(db, offline_online_gap(Accuracy.of(480, 700), 0.92, 500, (days[0], days[1])))
    assert gap_causes(db, days[0], days[2])[0]
    record_gap(db, offline_online_gap(Accuracy.of(450, 680), 0.68, 300, (days[0], days[2])))  # refreshed set
    assert gap_causes(db, days[0], days[2])[0] == []
    record_gap(db, offline_online_gap(Accuracy.of(480, 700), 0.92, 500, (days[0], days[1])))
    assert not record_gap(db, offline_online_gap(Accuracy.of(630, 690), 0.92, 500, (days[0], days[2])))  # no gap
    assert gap_causes(db, days[0], days[2])[0]  # still open: the same bar, on fewer labels


def test_the_documented_example_config_is_the_rendered_one():
    """docs/monitor.toml comes from the settings list; regenerate it with
    python -c "from novelty.config import EXAMPLE, render_config; print(render_config(EXAMPLE), end='')" > docs/monitor.toml"""
    from novelty.config import EXAMPLE

    docs = Path(__file__).resolve().parents[1] / "docs" / "monitor.toml"
    assert docs.read_text(encoding="utf-8") == render_config(EXAMPLE)
    load_config(docs)


@pytest.mark.parametrize("setting, message", [
    ("golden.accuracy = 1.5", "golden.accuracy is an accuracy between 0 and 1"),
    ("golden.items = -5", "golden.items cannot be negative"),
    ("spikes.fdr = 5.0", "spikes.fdr is a false-discovery rate between 0 and 1"),
    ("spikes.min_prompts = -1", "spikes.min_prompts cannot be negative"),
    ("spikes.neighbour_weight = -0.5", "spikes.neighbour_weight cannot be negative"),
    ("clusters.min_size = 1", "clusters.min_size must be at least 2"),
])
def test_settings_out_of_range_are_refused_when_the_config_loads(tmp_path, setting, message):
    # was: golden.accuracy 1.5 alerted a +61 % gap; spikes.fdr 5 failed half way, naming --fdr
    section, assignment = setting.split(".", 1)
    config = tmp_path / "m.toml"
    config.write_text(f'[index]\nname = "bot"\n[logs]\npath = "logs/{{date}}.jsonl"\n[{section}]\n{assignment}\n')
    with pytest.raises(InputError, match=message):
        load_config(config)


def test_the_spike_settings_of_monitor_toml_reach_the_spike_test(tmp_path):
    from datetime import date as day

    from novelty.run import _Job

    config = tmp_path / "m.toml"
    config.write_text('[index]\nname = "bot"\n[logs]\npath = "logs/{date}.jsonl"\n[spikes]\nneighbour_weight = 0\n'
                      'min_prompts = 50\n')
    settings = _Job(load_config(config), day(2026, 11, 18), None).spike_settings()
    assert settings.neighbour_weight == 0.0 and settings.min_prompts == 50
    assert _Job(load_config(config, {"spikes.neighbour_weight": 0.7}), day(2026, 11, 18), None) \
        .spike_settings().neighbour_weight == 0.7


def test_errors_name_the_setting_the_user_can_change(monitor):
    with pytest.raises(InputError, match="--set: spikes.fdr should be a number, not"):
        load_config(monitor, {"spikes.fdr": "abc"})
    with pytest.raises(InputError, match="clusters.min_size should be a whole number, not 2.5"):  # was 'a int'
        load_config(monitor, {"clusters.min_size": 2.5})
    score = run_monitor(load_config(monitor, {"logs.text_col": "question"}), "2026-11-18").steps[0]
    assert score.status == "failed" and "Set logs.text_col in" in score.reason  # was: "Pass --text-col"
    run_monitor(monitor, "2026-11-24")
    feedback = next(s for s in run_monitor(load_config(monitor, {"feedback.label_col": "intent"}),
                                           "2026-11-25").steps if s.name == "feedback")
    assert feedback.status == "failed" and "use feedback.id_col, feedback.label_col" in feedback.reason


def test_a_log_stamped_days_away_from_its_date_alerts_like_a_missing_one(monitor):
    # QA: a backfilled day whose log a clock or zone mistake stamped two days later was scored into other
    # days' windows, its own left empty: 'No alert.', exit 0
    log = monitor.parent / "logs" / "2026-11-18.jsonl"
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    write_jsonl(log, [{**r, "timestamp": r["timestamp"].replace("2026-11-18", "2026-11-21")} for r in rows])
    summary = run_monitor(monitor, "2026-11-18")
    assert summary.exit_code == 1 and summary.alerts[-1].startswith("missing log: "), summary.alerts
    assert f"none of its {len(rows)} new rows is stamped on 2026-11-18 or within 12 hours after it: they run " \
        "from 2026-11-21" in summary.alerts[-1]
    assert run_monitor(monitor, "2026-11-19").missing == []  # a day stamped as it should be: unsaid


def test_a_log_of_the_day_before_s_late_rows_alone_alerts_like_a_missing_one(monitor):
    """QA: the bot was down on the 19th; its log held 5 prompts of the 18th's evening, logged late:
    '5 new prompts scored ... No alert.', exit 0. Rows the day before and on the day stay unsaid."""
    log = monitor.parent / "logs" / "2026-11-19.jsonl"
    rows = [json.loads(line) for line in log.read_text().splitlines()][:5]
    write_jsonl(log, [{**r, "prompt": f"{r['prompt']} (late {i})", "timestamp": f"2026-11-18T23:5{i}:00Z"}
                      for i, r in enumerate(rows)])
    run_monitor(monitor, "2026-11-18")
    summary = run_monitor(monitor, "2026-11-19")
    assert summary.exit_code == 1 and summary.alerts[-1].startswith("missing log: "), summary.alerts
    assert "5 new rows are all stamped before 2026-11-19, from 2026-11-18T23:50:00Z" in summary.alerts[-1]
    write_jsonl(log, [{**r, "prompt": f"{r['prompt']} (late {i})", "timestamp": f"2026-11-1{8 + i % 2}T23:5{i}:00Z"}
                      for i, r in enumerate(rows)])
    assert run_monitor(monitor, "2026-11-19").missing == []
    # review: a quiet bot in UTC+13 whose morning is the evening before in UTC is on its own day
    write_jsonl(log, [{**r, "request_id": f"nz{i}", "prompt": f"{r['prompt']} (nz {i})",
                       "timestamp": f"2026-11-19T0{8 + i}:00:00+13:00"} for i, r in enumerate(rows)])
    assert run_monitor(monitor, "2026-11-19").missing == []


@pytest.mark.parametrize("content", [b"", b"not json\n{broken\n"])
def test_an_empty_or_unreadable_log_alerts_like_a_missing_one(monitor, content):
    log = monitor.parent / "logs" / "2026-11-18.jsonl"
    log.write_bytes(content)  # was: 0 bytes failed the step (exit 2); all rows rejected ran quietly (exit 0)
    summary = run_monitor(monitor, "2026-11-18")
    assert summary.exit_code == 1 and summary.alerts and summary.alerts[-1].startswith("missing log: ")
    assert all(s.status != "failed" for s in summary.steps), summary.steps
    if content:  # the reason at 100 % too (it was dropped there)
        assert "rows rejected, most for: " in summary.alerts[-1] and "rows rejected, most for: " in summary.steps[0].reason


def test_a_run_date_outside_the_years_logs_may_have_is_refused(monitor):
    with pytest.raises(NoveltyError, match="outside 1990-2099"):
        run_monitor(monitor, "1980-01-01")  # was: 'clusters failed --since 1979-12-19 is not before ...'


def test_init_elsewhere_keeps_the_typed_paths_pointing_at_the_same_files(tmp_path, index, monkeypatch):
    _day_log(tmp_path, 7)
    (tmp_path / "logs" / "2026" / "11" / "24").mkdir(parents=True)
    (tmp_path / "logs" / "2026" / "11" / "24" / "log.csv").write_text("when,utterance\n2026-11-24T10:00:00Z,hi\n")
    monkeypatch.chdir(tmp_path)
    out = CliRunner().invoke(app, ["init", "--index", "bot", "--logs", "logs/{date}.jsonl", "--index-dir",
                                   str(index.path.parent), "-o", "sub/deep/m.toml"])
    assert out.exit_code == 0 and "columns sniffed from" in out.output  # was: 'no log found yet'
    config = load_config(tmp_path / "sub" / "deep" / "m.toml")
    assert [p.resolve() for p in config.files("logs.path", date(2026, 11, 24))[1]] == [
        (tmp_path / "logs" / "2026-11-24.jsonl").resolve()]
    assert run_monitor(config, "2026-11-24").steps[0].status == "ran"  # was: missing log under sub/deep/
    dated = CliRunner().invoke(app, ["init", "--index", "bot", "--logs", "logs/{date:%Y/%m/%d}/log.csv", "-o", "d.toml"])
    assert "utterance" in dated.output  # was: {date:%Y/%m/%d} never matched, default columns
    empty = CliRunner().invoke(app, ["init", "--index", "bot", "--logs", "", "-o", "e.toml"])
    assert empty.exit_code == 2 and "--logs is empty" in empty.output
    ops = CliRunner().invoke(app, ["init", "--index", "bot", "--logs", "logs/{date}.jsonl", "-o", "ops/m.toml",
                                   "--db", "ops/mon.db", "--report", "ops/reports/{date}.html"])
    ops = load_config(tmp_path / "ops" / "m.toml")  # both beside the config, as typed from here
    assert ops.path("output.db") == (tmp_path / "ops" / "mon.db").resolve()
    assert ops.path("output.report", date(2026, 11, 24)) == (tmp_path / "ops" / "reports" / "2026-11-24.html").resolve()


def test_review_fixes_for_feedback_and_run(monitor, tmp_path):
    import gzip

    db = new_db(tmp_path / "fb.db")
    path = tmp_path / "a.csv"
    path.write_text("prompt_id,label,at\nr1,x,2026-11-25\n\n\nr2,y,notatime\n")
    import_feedback(db, path, time_col="at")
    with sqlite3.connect(db) as conn:  # was: line 3, pandas skips the blank lines
        assert conn.execute("SELECT line FROM rejects").fetchall() == [(5,)]
    path.write_text("prompt_id,label,at\nr1,x,2026-11-25\nr2,y,2026-11-25\n")
    assert import_feedback(db, path, time_col="at").rejected == 0
    with sqlite3.connect(db) as conn:  # was: the mended line's reject stayed
        assert conn.execute("SELECT COUNT(*) FROM rejects").fetchone() == (0,)
    (monitor.parent / "logs" / "2026-11-18.jsonl").unlink()
    log = monitor.parent / "logs" / "2026-11-18.jsonl.gz"
    with gzip.open(log, "wb"):
        pass  # an empty gzipped export: about 20 bytes, no character
    text = monitor.read_text().replace("logs/{date}.jsonl", "logs/{date}.jsonl*")
    monitor.write_text(text)
    summary = run_monitor(monitor, "2026-11-18")  # was: score failed on 'is empty', exit 2
    assert summary.exit_code == 1 and "(empty)" in summary.alerts[-1]
    with pytest.raises(InputError, match="^--set: spikes.fdr"):
        load_config(monitor, {"spikes.fdr": 2.0})


def test_a_label_with_a_line_break_keeps_the_confusion_table_one_line_a_row():
    from novelty.feedback import OnlineReport, OnlineWindow
    from novelty.render import format_feedback

    acc = Accuracy.of(0, 1)
    window = OnlineWindow("2026-11-24T00:00:00Z", "2026-11-25T00:00:00Z", 1, acc, acc, Accuracy.of(0, 0))
    report = OnlineReport("1d", None, None, [window], window,
                          [{"label": "card\nlost", "predicted": "fees", "count": 1}], 1, 0)
    text = format_feedback([], report)
    assert text.splitlines()[-1] == "      1  card lost -> fees"
    hours = [OnlineWindow(f"2026-11-24T0{h}:00:00Z", f"2026-11-24T0{h + 1}:00:00Z", 1, acc, acc, acc) for h in (0, 1)]
    rows = format_feedback([], OnlineReport("1h", None, None, hours, window)).splitlines()
    assert [r.split()[0] for r in rows[-3:]] == ["2026-11-24T00:00", "2026-11-24T01:00", "all"]  # midnight kept its hour


def test_a_bracket_in_a_folder_name_is_a_character_not_a_glob(tmp_path, index):
    folder = tmp_path / "mon[1]"  # was: no log ever found (a set matching '1'), a missing-log alert a day
    folder.mkdir()
    _day_log(folder, 1)
    out = CliRunner().invoke(app, ["init", "--index", "bot", "--logs", "logs/{date}.jsonl", "--index-dir",
                                   str(index.path.parent), "-o", str(folder / "monitor.toml")])
    assert "columns sniffed from" in out.output, out.output
    summary = run_monitor(folder / "monitor.toml", "2026-11-18")
    assert summary.steps[0].status == "ran" and summary.exit_code == 0


def test_init_says_when_no_id_column_was_found_and_quotes_its_hint(tmp_path, index):
    folder = tmp_path / "cfg dir"
    folder.mkdir()
    rows = [{k: v for k, v in r.items() if k != "request_id"} for r in _day_log(folder, 1)]
    write_jsonl(folder / "logs" / "2026-11-18.jsonl", rows)
    out = CliRunner().invoke(app, ["init", "--index", "bot", "--logs", "logs/{date}.jsonl", "-o",
                                   str(folder / "mon itor.toml")])
    shown = " ".join(out.output.split())
    assert "No id column found: feedback labels join on one" in shown  # was: not a word
    assert f"--config '{folder / 'mon itor.toml'}'" in shown  # was unquoted: a copied hint split in two


def test_a_configured_time_or_id_column_missing_from_the_log_fails_the_step(monitor):
    # was: scored without times (outside every window, exit 0), and naming the column later stored it twice
    for setting, role in (("logs.time_col", "time"), ("logs.id_col", "id")):
        score = run_monitor(load_config(monitor, {setting: "created"}), "2026-11-18").steps[0]
        assert score.status == "failed" and f"no column 'created' (the {role} column)" in score.reason
        assert f"Set {setting} in" in score.reason
        with sqlite3.connect(monitor.parent / "monitor.db") as conn:
            assert conn.execute("SELECT COUNT(*) FROM scores").fetchone() == (0,)
    assert run_monitor(load_config(monitor, {"logs.time_col": ""}), "2026-11-18").steps[0].status == "ran"
    # the default time column, never set, stays optional: a config init wrote for an untimed log runs
    untimed = monitor.parent / "logs" / "2026-11-19.jsonl"
    write_jsonl(untimed, [{k: v for k, v in r.items() if k != "timestamp"} for r in _day_log(monitor.parent, 2)])
    assert "logs.time_col" not in load_config(monitor).given
    assert run_monitor(monitor, "2026-11-19").steps[0].status == "ran"


def test_a_date_without_a_log_does_not_become_the_newest_clustered_view(monitor):
    for day in ("2026-11-18", "2026-11-19", "2026-11-26", "2026-11-24"):  # the 26th: no log (a typo for 2026-11-20)
        summary = run_monitor(monitor, day)
    clusters = next(s for s in summary.steps if s.name == "clusters")
    assert clusters.facts.get("saved") is True, clusters  # was: 'not saved, as a later date has run' until the 26th


def test_a_database_of_another_program_fails_every_step_with_one_line(monitor):
    (monitor.parent / "other.db").write_text("not a database")
    summary = run_monitor(load_config(monitor, {"output.db": "other.db"}), "2026-11-18")
    failed = [s for s in summary.steps if s.status == "failed"]
    assert failed and all("a bug?" not in s.reason for s in failed), failed  # clusters was a DatabaseError
    (monitor.parent / "a-file").write_text("x")
    with pytest.raises(InputError, match="a-file is a file, not a folder"):  # was: FileExistsError, 'a bug?'
        run_monitor(load_config(monitor, {"output.db": "a-file/monitor.db"}), "2026-11-18")
    (monitor.parent / "a-folder").mkdir()
    with pytest.raises(InputError, match="^output.db .*a-folder is a folder"):  # was: '--db ... is a folder'
        run_monitor(load_config(monitor, {"output.db": "a-folder"}), "2026-11-18")


@pytest.mark.parametrize("override, message", [
    ({"alert.causes": ["label_bias", 3]}, "alert.causes should be a list of strings"),  # was a TypeError
    ({"drift.ignore": [1, 2]}, "drift.ignore should be a list of strings"),
    ({"output.db": "dbs/{date}.db"}, "one path for every day"),  # was: a file named '{date}.db'
    ({"index.dir": "ix/{dat}"}, "one path for every day"),  # a {dat} typo
    ({"golden.baseline": "golden_{date}.csv"}, "{date} is filled in only in"),
    ({"index.name": " "}, "index.name is empty"),  # was: "no index '' in ."
    ({"spikes.window": "banana"}, "^--set: spikes.window"),  # was: blamed the file
    ({"alert.min_severity": "dire"}, "^--set: alert.min_severity"),
])
def test_bad_settings_are_refused_with_where_they_came_from(monitor, override, message):
    with pytest.raises(InputError, match=message):
        load_config(monitor, override)


def test_a_config_saved_with_a_byte_order_mark_loads(monitor):
    monitor.write_bytes(b"\xef\xbb\xbf" + monitor.read_bytes())  # Notepad's UTF-8; was 'not valid TOML'
    assert load_config(monitor)["index.name"] == "bot"


def test_a_config_of_feature_tables_alone_points_to_diagnose(tmp_path):
    """[drift] and [golden] without an index: 'index.name is required', and nothing on what to run (QA)."""
    config = tmp_path / "monitor.toml"
    config.write_text('[drift]\nreference = "ref.csv"\ncurrent = "cur.csv"\n[golden]\nbaseline = "a.csv"\n')
    with pytest.raises(InputError, match=r"index.name is required .*for feature tables and a golden set alone, "
                                         r"put `novelty diagnose"):
        load_config(config)
    config.write_text('[output]\ndb = "m.db"\n')
    with pytest.raises(InputError, match=r"index.name is required \(Name of the index[^;]*$"):
        load_config(config)


def test_library_calls_given_a_datetime_one_path_or_an_int_date(monitor, tmp_path):
    from datetime import datetime

    from novelty.feedback import import_files
    from novelty.spikes import parse_bound

    summary = run_monitor(monitor, datetime(2026, 11, 18, 7, 0))  # was: looked for 'logs/2026-11-18 07:00:00.jsonl'
    assert summary.date == "2026-11-18" and summary.steps[0].status == "ran"
    with pytest.raises(NoveltyError, match="should be a date"):
        run_monitor(monitor, 20261118)  # was a TypeError
    imported, failed = import_files(monitor.parent / "monitor.db", monitor.parent / "labels" / "2026-11-25.csv")
    assert len(imported) == 1 and not failed  # was: the path read character by character, 36 errors
    assert parse_bound(20261124, "since") == "2026-11-24T00:00:00Z"  # was: seconds after 1970, no filter


def test_prune_refuses_minutes_and_renames_clusters_named_from_pruned_prompts(monitor):
    from novelty.clusters import find_clusters
    from novelty.prune import prune

    run_monitor(monitor, "2026-11-24")
    db = monitor.parent / "monitor.db"
    with pytest.raises(InputError, match="m is minutes"):  # 6m meant months, and deleted every prompt
        prune(db, "6m")
    with pytest.raises(InputError, match="m is minutes"):
        prune(db, "6M")
    assert prune(db, "3650D").scores == 0  # any case, as 90D was refused
    assert find_clusters(db)
    prune(db, "1h")
    with sqlite3.connect(db) as conn:
        names = [n for (n,) in conn.execute("SELECT name FROM clusters")]
    assert names and all(n.endswith("(its prompts pruned)") for n in names)  # were the deleted prompts' words
    again = next(s for s in run_monitor(monitor, "2026-11-24").steps if s.name == "score")
    # was "0 new prompts scored (0 already scored, 0 rejected)" for a day's 200 rows
    assert "200 logged before the retention cut-off" in again.reason


def test_init_reads_the_files_the_run_writes_from_the_working_folder_like_its_inputs(tmp_path, index, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ops").mkdir()
    _day_log(tmp_path / "ops", 1)
    out = CliRunner().invoke(app, ["init", "--index", "bot", "--logs", "ops/logs/{date}.jsonl", "--db", "ops/monitor.db",
                                   "--index-dir", str(index.path.parent), "-o", "ops/monitor.toml"])
    assert out.exit_code == 0, out.output
    config = load_config(tmp_path / "ops" / "monitor.toml")
    assert config.values["output.db"] == "monitor.db" and config.values["logs.path"] == "logs/{date}.jsonl"
    run_monitor(config, "2026-11-18")
    assert (tmp_path / "ops" / "monitor.db").is_file() and not (tmp_path / "ops" / "ops").exists()  # was ops/ops/
    fresh = CliRunner().invoke(app, ["init", "--index", "bot", "--logs", "logs/{date}.jsonl", "--db", "m.db",
                                     "-o", "new/monitor.toml"])  # a plain name stays beside a config in a new folder
    assert fresh.exit_code == 0 and load_config(tmp_path / "new" / "monitor.toml").values["output.db"] == "m.db"


def test_each_step_line_is_echoed_as_the_step_ends(monitor):
    seen = []

    def echo(line):  # the database exists once the score step has ended: its line comes before spikes runs
        seen.append((line, (monitor.parent / "monitor.db").is_file()))

    summary = run_monitor(monitor, "2026-11-18", echo=echo)
    lines = [line for line, _ in seen]
    assert lines == format_run(summary).splitlines()[:9]  # header and eight steps, as the summary prints them
    assert seen[1][0].startswith("  score") and seen[1][1]  # was: nothing on stdout until the whole run ended
    assert format_run(summary, echoed=True) == "\n".join(format_run(summary).splitlines()[9:])
    out = CliRunner().invoke(app, ["run", "--config", str(monitor), "--date", "2026-11-18"]).output.splitlines()
    assert out[0] == lines[0] and [line.split()[0] for line in out[1:9]] == list(STEPS)  # each step once, in order
    assert out[9:] == ["No alert.", f"Report: {Path(summary.report).resolve()}"]


def test_a_killed_import_s_scratch_file_is_removed_by_the_next_import(tmp_path):
    import os
    import subprocess
    import sys

    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    killed = tmp_path / f".m.db-feedback-{int(gone.stdout)}-abc123.tmp"  # SIGKILL mid-import left it
    running = tmp_path / f".m.db-feedback-{os.getppid()}-def456.tmp"   # another import, still running
    other = tmp_path / f".other.db-feedback-{int(gone.stdout)}-ghi789.tmp"
    for scratch in (killed, running, other):
        scratch.write_bytes(b"x" * 100)
    labels = tmp_path / "labels.csv"
    labels.write_text("prompt_id,label\np1,x\n")
    import_feedback(new_db(tmp_path / "m.db"), labels)
    assert not killed.exists() and running.exists() and other.exists()  # was: each kill left one for good
    assert not [p for p in tmp_path.iterdir() if "feedback-" in p.name and p not in (running, other)]


def test_feedback_import_edge_cases_from_a_qa_round(tmp_path, monkeypatch):
    import pyarrow as pa
    import pyarrow.parquet as pq
    from novelty import feedback

    db = new_db(tmp_path / "m.db")
    mixed = tmp_path / "mixed.csv"  # the same id timed, untimed (as old as the file), then timed and older
    mixed.write_text("prompt_id,label,at\nf1,x,2026-11-20\nr1,L1,2026-11-20\nr1,L2,\nr1,L3,2026-11-19\n")
    winners = set()
    for size in (1, 2, 3, 100):  # was: L1 or L3 depending on where a chunk ended
        monkeypatch.setattr(feedback, "CHUNK_ROWS", size)
        import_feedback(new_db(tmp_path / f"m{size}.db"), mixed, time_col="at")
        winners.add(_stored_feedback(tmp_path / f"m{size}.db")["r1"][0])
    assert winners == {"L2"}
    assert not [p for p in tmp_path.iterdir() if "feedback-" in p.name]  # the staging files are gone
    chunks = list(feedback._label_chunks(_written(tmp_path / "bad.jsonl", "not json\n" * 7), size=2))
    assert max(len(c.rejects) + len(c.frame) for c in chunks) <= 2  # was: every rejected line in one chunk
    two = pa.Table.from_arrays([pa.array(["a", "b"]), pa.array(["x", "y"]), pa.array(["v", "w"])],
                               names=["prompt_id", "label", "label"])
    pq.write_table(two, tmp_path / "two.parquet")
    with pytest.raises(InputError, match="more than one column is called 'label'"):  # was: the word 'label' stored
        import_feedback(db, tmp_path / "two.parquet")
    pq.write_table(pa.table({"prompt_id": pa.array([1234567890123456789, 1234567890123456790, None], pa.int64()),
                             "label": ["a", "b", "c"]}), tmp_path / "big.parquet")
    import_feedback(db, tmp_path / "big.parquet")  # was: both read as 1234567890123456768.0, one label lost
    assert {"1234567890123456789", "1234567890123456790"} <= set(_stored_feedback(db))
    fine = _written(tmp_path / "ms.csv", "prompt_id,label,t\nm1,old,1764000000000\nm1,new,1764000000500\n")
    import_feedback(db, fine, time_col="t")  # was: 'old' (a fraction of a second sorted before the whole one)
    assert _stored_feedback(db)["m1"][0] == "new"
    quote = _written(tmp_path / "q.csv", 'prompt_id,label\nq1,a\nq2,"abc\nq3,b\nq4,c\n')
    got = import_feedback(db, quote)  # was: q2's label 'abc\\nq3,b\\nq4,c' stored, q3 and q4 gone unsaid
    assert got.reject_reasons == [{"reason": OPEN_QUOTE, "rows": 1, "example": 'q2,"abc'}]
    assert "q2" not in _stored_feedback(db) and {"q3", "q4"} <= set(_stored_feedback(db))  # was: lost (rejected)


def test_feedback_counts_an_id_the_file_labels_twice_at_once(tmp_path):
    db = new_db(tmp_path / "m.db")
    path = _written(tmp_path / "dup.csv", "prompt_id,label\nd1,a\nd1,b\nd2,x\nd2,x\nd3,y\n")
    got = import_feedback(db, path)  # was: 'b' kept, the conflict neither counted nor said
    assert (got.rows, got.conflicting) == (3, 1) and _stored_feedback(db)["d1"][0] == "b"
    timed = _written(tmp_path / "t.csv", "prompt_id,label,at\nd4,a,2026-11-20T10:00:00Z\nd4,b,2026-11-21T10:00:00Z\n"
                                         "d5,a,2026-11-21T10:00:00Z\nd5,b,2026-11-20T10:00:00Z\n")
    got = import_feedback(db, timed, time_col="at")  # a later correction is no conflict; the newest wins
    assert got.conflicting == 0 and {k: v[0] for k, v in _stored_feedback(db).items() if k in ("d4", "d5")} == \
        {"d4": "b", "d5": "a"}
    settled = _written(tmp_path / "s.csv", "prompt_id,label,at\nd6,a,2026-11-20T10:00:00Z\nd6,b,2026-11-20T10:00:00Z\n"
                                           "d6,c,2026-11-21T10:00:00Z\n")
    assert import_feedback(db, settled, time_col="at").conflicting == 0  # was: 1, though the newer c settled it
    out = CliRunner().invoke(app, ["feedback", str(path), "--db", str(db)])
    assert "1 ids given two labels at once in the file" in out.output


def _written(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_feedback_and_drift_read_gzipped_parquet_as_score_does(tmp_path):
    import gzip

    import pandas as pd

    from novelty.drift import read_table

    pd.DataFrame({"prompt_id": ["a", "b"], "label": ["x", "y"]}).to_parquet(tmp_path / "l.parquet")
    (tmp_path / "l.parquet.gz").write_bytes(gzip.compress((tmp_path / "l.parquet").read_bytes()))
    got = import_feedback(new_db(tmp_path / "m.db"), tmp_path / "l.parquet.gz")  # was: 'Parquet magic bytes not found'
    assert got.new == 2 and read_table(tmp_path / "l.parquet.gz").shape == (2, 2)


def test_a_log_without_times_counts_on_its_day_and_missing_columns_are_said(monitor):
    logs = monitor.parent / "logs"
    rows = json.loads("[" + ",".join((logs / "2026-11-24.jsonl").read_text().splitlines()) + "]")
    write_jsonl(logs / "2026-11-24.jsonl", [{k: v for k, v in r.items() if k not in ("timestamp",)} for r in rows])
    summary = run_monitor(monitor, "2026-11-24")
    score = summary.steps[0]
    assert "no 'timestamp' column (logs.time_col): its prompts count on 2026-11-24" in score.reason
    with sqlite3.connect(monitor.parent / "monitor.db") as conn:
        assert conn.execute("SELECT DISTINCT ts FROM scores").fetchall() == [("2026-11-24T00:00:00Z",)]
        (tested,) = conn.execute("SELECT count(*) FROM windows WHERE prompts > 0").fetchone()
    assert tested == 1  # was: ts NULL, no window, and the day's page said '0 prompts scored'
    clusters = next(s for s in summary.steps if s.name == "clusters")
    assert "no clusters" not in clusters.reason  # was: 'no clusters of novel prompts in the last 14d'
    again = run_monitor(monitor, "2026-11-24")
    assert "0 new prompts scored" in again.steps[0].reason  # a rerun adds nothing
    write_jsonl(logs / "2026-11-25.jsonl", [{k: v for k, v in r.items() if k != "predicted_label"} for r in rows])
    assert "no 'predicted_label' column (logs.pred_col)" in run_monitor(monitor, "2026-11-25").steps[0].reason
    monitor.write_text(monitor.read_text() + '\n[logs]\npred_col = "model_intent"\n' if "[logs]" not in
                       monitor.read_text() else monitor.read_text().replace("[logs]", '[logs]\npred_col = "model_intent"'))
    failed = run_monitor(monitor, "2026-11-25").steps[0]
    assert failed.status == "failed" and "model_intent" in failed.reason  # was: stored without labels, silently


def test_logs_day_first_reads_the_log_s_slashed_dates_day_first(monitor):
    logs = monitor.parent / "logs"
    rows = json.loads("[" + ",".join((logs / "2026-11-24.jsonl").read_text().splitlines()) + "]")
    write_jsonl(logs / "2026-11-24.jsonl", [{**r, "timestamp": "24/11/2026 08:00"} for r in rows])
    summary = run_monitor(load_config(monitor, {"logs.day_first": True}), "2026-11-24")
    assert "0 rejected" in summary.steps[0].reason, summary.steps[0]
    with sqlite3.connect(monitor.parent / "monitor.db") as conn:
        assert conn.execute("SELECT DISTINCT ts FROM scores WHERE ts LIKE '2026-11-24%'").fetchall() == \
            [("2026-11-24T08:00:00Z",)]


def test_a_day_mostly_rejected_is_said_in_the_score_line(monitor):
    logs = monitor.parent / "logs"
    rows = json.loads("[" + ",".join((logs / "2026-11-24.jsonl").read_text().splitlines()) + "]")
    write_jsonl(logs / "2026-11-24.jsonl", [{**r, "request_id": "same"} if i % 4 else r for i, r in enumerate(rows)])
    score = run_monitor(monitor, "2026-11-24").steps[0]
    assert "148 rejected" in score.reason and "74% of rows rejected, most for: duplicate id" in score.reason
    summary = run_monitor(monitor, "2026-11-24")  # and alerts (QA: a per-file row counter as the id lost 98 %
    assert summary.exit_code == 1  # of each day after the first, with 'No alert')
    assert summary.alerts[-1].startswith("missing log: ") and "74% of 200 rows rejected, most for: " \
        in summary.alerts[-1]


def test_labels_of_prompts_logged_without_a_prediction_say_so(monitor):
    logs = monitor.parent / "logs"
    rows = json.loads("[" + ",".join((logs / "2026-11-24.jsonl").read_text().splitlines()) + "]")
    write_jsonl(logs / "2026-11-24.jsonl", [{k: v for k, v in r.items() if k != "predicted_label"} for r in rows])
    run_monitor(monitor, "2026-11-24")
    feedback = next(s for s in run_monitor(monitor, "2026-11-25").steps if s.name == "feedback")
    assert feedback.status == "skipped"  # was: '100 labels in 1 file(s), none for a prompt scored in the period'
    assert "100 labelled prompts were logged without a predicted label (logs.pred_col 'predicted_label')" \
        in feedback.reason


def test_an_untimed_log_read_on_another_date_is_not_stored_again(monitor):
    logs = monitor.parent / "logs"
    rows = json.loads("[" + ",".join((logs / "2026-11-24.jsonl").read_text().splitlines()) + "]")
    write_jsonl(logs / "same.jsonl", [{k: v for k, v in r.items() if k not in ("timestamp", "request_id")}
                                       for r in rows])
    fixed = load_config(monitor, {"logs.path": "logs/same.jsonl", "logs.id_col": ""})  # ids derived
    for day in ("2026-11-24", "2026-11-25", "2026-11-26"):  # a fixed path: the same file each day
        run_monitor(fixed, day)
    with sqlite3.connect(monitor.parent / "monitor.db") as conn:
        assert conn.execute("SELECT count(*) FROM scores").fetchone() == (200,)  # was 600: ids had the date in them
        assert conn.execute("SELECT DISTINCT ts FROM scores").fetchall() == [("2026-11-24T00:00:00Z",)]


def test_run_derives_ids_when_logs_id_col_is_set_empty(monitor):
    run_monitor(monitor, "2026-11-24")  # logs.id_col = request_id
    derived = load_config(monitor, {"logs.id_col": ""})
    step = run_monitor(derived, "2026-11-18").steps[0]
    assert step.status == "ran", step.reason  # was: refused, and the message's '' escape did not help


def test_init_does_not_take_a_true_label_for_the_prediction_nor_an_id_for_the_text(tmp_path):
    from novelty.starter import sniff

    rows = [{"content": f"where is card {i}", "true_label": "card_arrival", "bot_intent": "card_arrival",
             "user_id": f"u{i}", "session_id": f"s{i}"} for i in range(20)]
    columns, notes = sniff(write_jsonl(tmp_path / "log.jsonl", rows))
    assert columns["text"] == "content" and columns["pred"] == "bot_intent"  # was: user_id and true_label
    assert any("pred = 'bot_intent' is a guess" in n for n in notes)


def test_feedback_refuses_a_csv_naming_its_label_column_twice_and_blank_names_are_no_names(tmp_path):
    db = new_db(tmp_path / "m.db")
    with pytest.raises(InputError, match="more than one column is called 'label'"):  # was: the first taken silently
        import_feedback(db, _written(tmp_path / "two.csv", "prompt_id,label,label\na1,x,y\n"))
    assert import_feedback(db, _written(tmp_path / "xl.csv", "prompt_id,label,,\na1,x,,\n")).rows == 1
    (tmp_path / "f.csv").write_text("x,y,,\n" + "".join(f"{i},{i},,\n" for i in range(30)))
    out = CliRunner().invoke(app, ["drift", str(tmp_path / "f.csv"), str(tmp_path / "f.csv")])
    assert out.exit_code == 0, out.output  # a spreadsheet's trailing empty columns: no repeated name


def test_feedback_with_a_missing_file_after_a_good_one_reports_what_it_imported(tmp_path):
    db = tmp_path / "m.db"
    Store(db).close()
    good = _written(tmp_path / "good.csv", "prompt_id,label\na1,x\n")
    out = CliRunner().invoke(app, ["feedback", str(good), str(tmp_path / "missing.csv"), "--db", str(db)])
    assert out.exit_code == 2 and "good.csv: 1 row read, 1 label:" in out.stdout  # was: only the error, as if nothing imported
    assert "missing.csv: no such file (the other files were imported)" in out.stderr


def test_feedback_says_labels_of_pruned_prompts_will_not_match_again(tmp_path, index):
    from datetime import datetime, timezone

    from novelty.prune import prune

    rows = [{"request_id": f"r{i}", "prompt": f"question {i}", "predicted_label": "card_lost",
             "timestamp": f"2026-{1 if i < 3 else 11}-0{i + 1}T10:00:00Z"} for i in range(6)]
    db = tmp_path / "m.db"
    score_files([write_jsonl(tmp_path / "log.jsonl", rows)], index, db, columns=Columns(id="request_id"))
    import_feedback(db, write_csv(tmp_path / "l.csv", ["prompt_id", "label"], [(f"r{i}", "card_lost") for i in range(6)]))
    prune(db, "90d", now=datetime(2026, 11, 25, tzinfo=timezone.utc))
    out = CliRunner().invoke(app, ["feedback", "--db", str(db)])
    assert "3 not matched to a scored prompt: not scored yet, or pruned (prune deleted the prompts before" \
        in out.output  # was: '3 not matched', which the README says join once scored
    report = online_accuracy(db)
    assert report.pruned_before.startswith("2026-08-27")
    assert report.total.all.labelled == 6 and report.total.all.accuracy == 1.0  # was: 3, January's days gone
    assert [w.window_start[:10] for w in report.windows][:3] == ["2026-01-01", "2026-01-02", "2026-01-03"]
    assert online_accuracy(db, since="2026-06-01").total.all.labelled == 3  # the range bounds them too
    import_feedback(db, write_csv(tmp_path / "l2.csv", ["prompt_id", "label"], [("r0", "card_lost")]))
    prune(db, "90d", now=datetime(2026, 11, 25, tzinfo=timezone.utc))  # again: nothing counted twice
    assert online_accuracy(db).total.all.labelled == 6
    # QA: a label file of pruned prompts alone said '2 ids not scored yet (kept)' and that they 'join when
    # they are', which they never will
    late = write_csv(tmp_path / "l3.csv", ["prompt_id", "label"], [("r1", "card_lost"), ("r2", "card_lost")])
    out = CliRunner().invoke(app, ["feedback", str(late), "--db", str(db)])
    assert "2 ids not scored yet or pruned (kept; prune deleted the prompts before 2026-08-27" in out.output, out.output
    assert "join when they are; of prompts prune deleted (logged before 2026-08-27" in out.output


def test_a_true_label_typed_another_way_is_the_same_label():
    # a feedback 'café' decomposed, or 'card_lost\u200b', counted a right prediction as wrong
    import pandas as pd
    from novelty.feedback import _rows

    frame = pd.DataFrame({"id": ["1", "2", "3"], "label": ["cafe\u0301", "card_lost\u200b", "\u200b"]}, dtype=object)
    rows, blank, rejects = _rows(frame, [2, 3, 4], "id", "label", None, "2026-11-20T00:00:00Z")
    assert [label for _, label, _ in rows] == ["caf\u00e9", "card_lost"] and blank == 1 and not rejects


def test_predictions_stored_before_labels_were_normalised_meet_the_new_true_labels(tmp_path):
    # a database scored by an older version holds 'cafe\u0301'; a label imported now is 'café': 0/40 correct
    from novelty.store import Store

    db = tmp_path / "m.db"
    store = Store(db)
    store.bind_model("m", "r", 4)
    run = store.start_run(alpha=0.05, index_checksum="idx")
    store.write_chunk([(f"p{i}", run, "s", i, f"2026-11-20T10:{i:02d}:00Z", f"text {i}", f"h{i}", "cafe\u0301",
                        0.8, 0.2, 0.5, 0, "t", "cafe\u0301", "[]", "now") for i in range(40)], {}, [])
    store.record_training_labels("idx", {"cafe\u0301": 10, "tea": 10})
    store.finish_run(run)
    store.close()
    (tmp_path / "l.csv").write_text("prompt_id,label\n" + "".join(f"p{i},caf\u00e9\n" for i in range(40)),
                                    encoding="utf-8")
    import_feedback(db, tmp_path / "l.csv")
    assert online_accuracy(db).total.all.correct == 40
    assert set(Store(db).training_label_shares()) == {"caf\u00e9", "tea"}


def test_init_writes_an_absolute_novelty_index_dir_into_the_config(tmp_path, monkeypatch, index):
    # found by QA: folder / an absolute path is that path, so it "was" beside the config and not written;
    # the first run then looked in ./indexes beside the config: 'no index'
    monkeypatch.setenv("NOVELTY_INDEX_DIR", str(tmp_path / "indexes"))
    (tmp_path / "ops").mkdir()
    out = CliRunner().invoke(app, ["init", "--index", "bot", "--logs", "logs/{date}.jsonl",
                                   "-o", str(tmp_path / "ops" / "m.toml")])
    assert out.exit_code == 0 and "Check: no index" not in out.output, out.output
    assert load_config(tmp_path / "ops" / "m.toml").path("index.dir") == tmp_path / "indexes"


def test_a_step_set_up_halfway_names_the_setting_missing(monitor, tmp_path):
    # found by QA: 'drift.reference and drift.current not configured' with the reference set; golden
    # 'files not found (launch.csv, None)' with the baseline there
    (tmp_path / "launch.csv").write_text("id,label,prediction\n1,a,a\n")
    config = load_config(monitor, {"drift.reference": "launch.csv", "golden.baseline": "launch.csv",
                                   "golden.accuracy": 0.0})
    steps = {s.name: s for s in run_monitor(config, "2026-11-18").steps}
    assert steps["drift"].reason.startswith("drift.current is not set (drift.reference is)")
    assert steps["golden"].reason.startswith("golden.current is not set (golden.baseline is)")
    config = load_config(monitor, {"golden.baseline": "launch.csv", "golden.current": "later.csv",
                                   "golden.accuracy": 0.0})
    steps = {s.name: s for s in run_monitor(config, "2026-11-18").steps}
    assert steps["golden"].status == "failed" and "golden.current = 'later.csv'" in steps["golden"].reason
    recorded = load_config(monitor, {"golden.baseline": "launch.csv", "golden.current": "later.csv",
                                     "golden.accuracy": 0.9})  # review: the recorded accuracy stands in
    steps = {s.name: s for s in run_monitor(recorded, "2026-11-18").steps}
    assert steps["golden"].status == "ran" and "as recorded in the config" in steps["golden"].reason
    config = load_config(monitor, {"golden.baseline": "launch.csv", "golden.current": "later-{date}.csv",
                                   "golden.accuracy": 0.0})
    steps = {s.name: s for s in run_monitor(config, "2026-11-18").steps}
    assert steps["golden"].reason == f"golden files not found: {tmp_path / 'later-2026-11-18.csv'}"


def test_which_label_stands_does_not_hang_on_the_order_the_files_are_imported(tmp_path):
    """QA: a file giving the stored label again, later, left its time as it was, so an older file's other
    label imported after it replaced it ('balance' on the 25th and the 27th lost to 'transfer' on the 26th)."""
    files = {day: write_csv(tmp_path / f"{day}.csv", ["prompt_id", "label", "at"],
                            [("r1", label, f"2026-11-{day}T10:00:00Z")])
             for day, label in (("25", "balance"), ("27", "balance"), ("26", "transfer"))}
    stood = set()
    for order in (("25", "27", "26"), ("25", "26", "27"), ("26", "27", "25")):
        db = new_db(tmp_path / f"{''.join(order)}.db")
        for day in order:
            import_feedback(db, files[day], time_col="at")
        stood.add(_stored_feedback(db)["r1"])
    assert stood == {("balance", "2026-11-27T10:00:00Z")}


def test_feedback_sets_aside_label_times_in_the_future_and_reads_day_first_dates(tmp_path):
    db = new_db(tmp_path / "m.db")
    typo = write_csv(tmp_path / "typo.csv", ["prompt_id", "label", "at"],
                     [("r1", "crypto", "2062-11-25T10:00:00Z"), ("r2", "card", "2026-11-25T10:00:00Z")])
    got = import_feedback(db, typo, time_col="at")  # was: stored, and every later correction of r1 'stale'
    assert (got.rows, got.rejected) == (1, 1) and "r1" not in _stored_feedback(db)
    assert got.reject_reasons[0]["reason"].startswith("label time in 'at' after tomorrow (a mistyped year")
    slashes = write_csv(tmp_path / "eu.csv", ["prompt_id", "label", "at"],
                        [("r3", "a", "05/11/2026 10:00"), ("r4", "b", "25/11/2026 10:00")])
    got = import_feedback(db, slashes, time_col="at")  # month first: 11 May, and the 25th month refused
    assert got.rejected == 1 and "needs --day-first" in got.reject_reasons[0]["reason"]
    assert "import the file again with it" in got.reject_reasons[0]["reason"]
    assert "(feedback.day_first = true under novelty run)" in got.reject_reasons[0]["reason"]  # QA: logs.day_first
    out = CliRunner().invoke(app, ["feedback", str(slashes), "--db", str(db), "--time-col", "at", "--day-first"])
    assert out.exit_code == 0, out.output
    stored = _stored_feedback(db)
    assert (stored["r3"][1], stored["r4"][1]) == ("2026-11-05T10:00:00Z", "2026-11-25T10:00:00Z")


def test_feedback_says_rows_read_repeats_and_unmatched_ids_and_exits_2_on_a_file_of_rejects(tmp_path, index):
    """QA: 5 rows of which one repeated an id exactly were '3 labels' with the fifth unsaid; ids that
    matched no scored prompt (a database scored without --id-col) gave no hint; a file none of whose
    rows could be used exited 0."""
    from novelty.engines.local import score_files

    log = write_jsonl(tmp_path / "log.jsonl", [{"prompt": f"card payment {i}", "timestamp": "2026-11-20T10:00:00Z",
                                                "predicted_label": "card"} for i in range(4)])
    db = tmp_path / "m.db"
    score_files([log], index, db)
    labels = _written(tmp_path / "l.csv", "prompt_id,label\nreq-1,a\nreq-1,a\nreq-2,b\n,c\nreq-3,d,extra\n")
    got = import_feedback(db, labels)
    assert (got.read, got.rows, got.repeated, got.blank, got.rejected) == (5, 2, 1, 1, 1)
    assert got.id_examples["file"] == ["req-1", "req-2"] and len(got.id_examples["scored"]) == 3
    out = CliRunner().invoke(app, ["feedback", str(labels), "--db", str(db)])
    assert out.exit_code == 0 and "5 rows read, 2 labels" in out.output
    assert "1 rows repeat an id" in out.output and "None of its ids is a scored prompt's yet: ids such as 'req-1'" in out.output
    assert "Those are ids score derived" in out.output
    bad = _written(tmp_path / "bad.csv", "prompt_id,label,at\nr1,a,yesterday\nr2,b,0\n")
    out = CliRunner().invoke(app, ["feedback", str(bad), str(labels), "--db", str(db), "--time-col", "at"])
    assert out.exit_code == 2 and "bad.csv: no row gave a usable label (2 of its 2 rows set aside" in out.stderr  # was: exit 0


def test_run_s_golden_line_names_the_whole_file_s_bar_and_predictions_wrong_by_case(monitor, tmp_path):
    """QA: the golden line said 94.0% now while the feedback line compared with 71.2%, the whole current
    file (it holds items the baseline lacks), without saying whence; case-only misses went unsaid."""
    base = [(f"g{i}", "card_lost", "card_lost") for i in range(40)]
    write_csv(tmp_path / "base.csv", ["id", "label", "prediction"], base)
    write_csv(tmp_path / "cur.csv", ["id", "label", "prediction"],
              [(i, label, "CARD_LOST" if n < 2 else pred) for n, (i, label, pred) in enumerate(base)]
              + [(f"n{i}", "crypto", "card_lost") for i in range(20)])
    config = load_config(monitor, {"golden.baseline": "base.csv", "golden.current": "cur.csv"})
    line = next(s for s in run_monitor(config, "2026-11-25").steps if s.name == "golden").reason
    assert "95.0% now; the whole current file's 60 items 63.3%, the bar online accuracy is held to" in line, line
    assert "2 predictions of the current file wrong only by case or separators ('CARD_LOST' for 'card_lost')" in line


def test_init_sets_day_first_when_the_log_writes_the_day_first(tmp_path):
    """Left alone in session 19: init did not look at how the log writes its dates, so run rejected
    every day past the 12th of a day-first log and misdated the rest."""
    (tmp_path / "logs").mkdir()
    write_jsonl(tmp_path / "logs" / "2026-11-25.jsonl", [{"prompt": f"hi {i}", "when": f"{d:02d}/11/2026 08:00"}
                                                         for i, d in enumerate((3, 11, 25))])
    write_jsonl(tmp_path / "logs" / "2026-11-24.jsonl", [{"prompt": "hi", "when": "11/24/2026 08:00"}])
    out = CliRunner().invoke(app, ["init", "--index", "bot", "--logs", "logs/{date}.jsonl",
                                   "-o", str(tmp_path / "m.toml")])
    assert out.exit_code == 0, out.output
    cfg = load_config(tmp_path / "m.toml")
    assert cfg["logs.time_col"] == "when" and cfg["logs.day_first"] is True
    assert "'25/11/2026 08:00' puts the day first" in (tmp_path / "m.toml").read_text()
    write_jsonl(tmp_path / "logs" / "2026-11-26.jsonl", [{"prompt": "hi", "when": "11/26/2026 08:00"}])
    CliRunner().invoke(app, ["init", "--index", "bot", "--logs", "logs/{date}.jsonl", "-o", str(tmp_path / "m.toml"),
                             "--force"])
    assert load_config(tmp_path / "m.toml")["logs.day_first"] is False  # a US log stays month first


def test_feedback_day_first_is_its_own_setting_and_needs_a_time_column(monitor, tmp_path):
    """Review: run read label times with logs.day_first (which init now sets from the log), so a label
    tool writing US dates was misread; feedback --day-first without --time-col was ignored."""
    write_csv(tmp_path / "labels" / "2026-11-25.csv", ["prompt_id", "label", "at"], [("r1", "x", "11/25/2026 10:00")])
    config = load_config(monitor, {"logs.day_first": True, "feedback.time_col": "at"})
    run_monitor(config, "2026-11-24")
    step = next(s for s in run_monitor(config, "2026-11-25").steps if s.name == "feedback")
    assert step.status != "failed" and step.facts["imported"][0]["rows"] == 1, step.reason
    out = CliRunner().invoke(app, ["feedback", "--db", str(tmp_path / "x.db"), "--day-first"])
    assert out.exit_code == 2 and "--day-first only applies with --time-col" in out.output


def test_a_run_on_a_database_it_may_only_read_leaves_no_file_beside_it(monitor, monkeypatch):
    import novelty.store as store_module

    run_monitor(monitor, "2026-11-24")
    db = monitor.parent / "monitor.db"
    assert not Path(f"{db}-wal").exists() and not Path(f"{db}-shm").exists()
    monkeypatch.setattr(store_module, "may_write", lambda path: False)  # chmod 444 (the tests run as root)
    again = run_monitor(monitor, "2026-11-24")
    # was: the clusters step's own connection made -wal and -shm files with the database's read-only mode,
    # which refused the owner's later writes once the file was writable again
    assert not Path(f"{db}-wal").exists() and not Path(f"{db}-shm").exists()
    score = next(s for s in again.steps if s.name == "score")
    assert score.status == "failed" and "this user may not write" in score.reason  # was: "check the
    # file's permissions and the disk", for the folder's too
    from novelty.run import _Job
    job = _Job(load_config(monitor), date(2026, 11, 24), None)
    assert job.newest_run_date()
    with job._meta() as conn, pytest.raises(sqlite3.OperationalError, match="readonly"):
        conn.execute("CREATE TABLE probe (a)")  # opened as Store opens it: read-only, no file made beside it


def test_a_full_disk_met_by_the_clusters_and_report_steps_is_said_as_one(monitor, monkeypatch):
    """QA (a full data volume): SQLite's 'disk I/O error' there was 'demo.db is not a novelty SQLite
    database', which could send someone to restore a healthy database; the other steps said 'cannot
    write'. It is a storage error now, whose hint names a full disk."""
    from datetime import date

    from novelty.errors import StorageError
    from novelty.run import _Job

    run_monitor(monitor, "2026-11-24")
    job = _Job(load_config(monitor), date(2026, 11, 24), None)
    real = sqlite3.connect

    def full(*args, **kwargs):
        conn = real(*args, **kwargs)
        conn.close()
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(sqlite3, "connect", full)
    with pytest.raises(StorageError, match=r"cannot write .*monitor.db \(disk I/O error\): check the disk: a disk "
                                           "with no free space left"):
        with job._meta():
            pass


def test_an_old_window_a_late_log_makes_flagged_alerts_once(tmp_path, index):
    (tmp_path / "logs").mkdir()
    first = date(2026, 11, 1)
    for k in range(12):  # twelve quiet days
        day = first + timedelta(days=k)
        rows = [{"request_id": request_id(day, i), **r} for i, r in enumerate(production_day(1, n=200, seed=k, start=day))]
        if k == 11:  # the last day's log brings 60 crypto prompts of the 3rd, shipped late
            crypto = [r for r in production_day(7, n=400, seed=9) if r["topic"] == "crypto"][:60]
            rows += [{**r, "request_id": f"late-{i}", "timestamp": f"2026-11-03T10:{i:02d}:00Z"}
                     for i, r in enumerate(crypto)]
        write_jsonl(tmp_path / "logs" / f"{day}.jsonl", rows)
    config = tmp_path / "monitor.toml"
    config.write_text(render_config({"index.name": "bot", "logs.path": "logs/{date}.jsonl",
                                     "logs.id_col": "request_id", "alert.causes": ["label_bias"]}), encoding="utf-8")
    for k in range(11):
        assert not run_monitor(config, (first + timedelta(days=k)).isoformat()).alerts
    late = run_monitor(config, "2026-11-12")
    spikes = next(s for s in late.steps if s.name == "spikes")
    # was: "0 flagged in the last 7d", no alert: the window was re-tested and flagged, outside the lookback
    assert spikes.facts["flagged_late"] == ["2026-11-03T00:00:00Z"] and "1 earlier flagged now" in spikes.reason
    assert any("in the window of 2026-11-03T00:00, flagged now by prompts logged late" in a for a in late.alerts)
    assert '<span class="pill">earlier</span>' not in Path(late.report).read_text()  # review: the page said
    # "Nothing wrong in the last 7d" beside the run's alert
    assert not run_monitor(config, "2026-11-12").alerts  # once: a rerun finds it decided flagged


def test_the_page_of_a_run_says_what_the_run_said(monitor):
    run_monitor(monitor, "2026-11-24")
    later = run_monitor(load_config(monitor, {"alert.lookback": "2d"}), "2026-11-27")  # the spike is before it
    assert not [c for c in later.diagnosis.causes if c.cause == "label_bias"] and later.report
    page = Path(later.report).read_text()
    # was "1 thing wrong" with the spike's card, beside the run's "no root cause found"
    assert "Nothing wrong in the last 2d" in page and " thing wrong" not in page
    assert re.search(r'data-cause="label_bias">\s*<div class="title"><span class="pill high">high</span>'
                     r'<span class="pill">earlier</span>', page)
    now = Path(run_monitor(monitor, "2026-11-24").report).read_text()  # within the lookback: as before
    assert "1 thing wrong" in now and '<span class="pill">earlier</span>' not in now


def test_a_table_setting_with_a_star_takes_its_one_match_and_refuses_several(monitor, tmp_path):
    """drift.current = 'features/{date}-*.csv' skipped drift every day ('no feature table at
    .../2026-11-24-*.csv', exit 0) though the file was there."""
    (tmp_path / "features").mkdir()
    rows = [[i % 7, i % 3] for i in range(200)]
    write_csv(tmp_path / "features" / "launch.csv", ["x", "y"], rows)
    write_csv(tmp_path / "features" / "2026-11-24-eu.csv", ["x", "y"], rows)
    settings = {"drift.reference": "features/launch*.csv", "drift.current": "features/{date}-*.csv"}
    drift = next(s for s in run_monitor(load_config(monitor, settings), "2026-11-24").steps if s.name == "drift")
    assert drift.status == "ran", drift.reason
    write_csv(tmp_path / "features" / "2026-11-24-us.csv", ["x", "y"], rows)
    again = run_monitor(load_config(monitor, settings), "2026-11-24")
    drift = next(s for s in again.steps if s.name == "drift")
    assert again.exit_code == 2 and drift.status == "failed"
    assert "matches 2 files (2026-11-24-eu.csv, 2026-11-24-us.csv); it names one table" in drift.reason
    (tmp_path / "golden").mkdir()
    for name in ("launch.csv", "2026-11-24-a.csv", "2026-11-24-b.csv"):
        write_csv(tmp_path / "golden" / name, ["id", "label", "prediction"], [(i, "card", "card") for i in range(30)])
    golden = run_monitor(load_config(monitor, {"golden.baseline": "golden/launch.csv",
                                               "golden.current": "golden/{date}-?.csv"}), "2026-11-24")
    steps = {s.name: s for s in golden.steps}  # review: the diagnosis and the page failed on the pattern too
    assert steps["golden"].status == "failed" and "matches 2 files" in steps["golden"].reason
    assert steps["diagnose"].status == "ran" and steps["report"].status == "ran" and golden.report
    assert any(a.startswith("label_bias") for a in golden.alerts)
    (tmp_path / "features" / "2026-11-24-us.csv").unlink()
    typo = run_monitor(load_config(monitor, {**settings, "drift.ignore": ["nope"]}), "2026-11-24")
    drift = next(s for s in typo.steps if s.name == "drift")  # was '--ignore: ...', a flag run does not have
    assert drift.status == "failed" and drift.reason.startswith(f"drift.ignore in {monitor}: no column 'nope'")


def test_library_feedback_refuses_a_database_that_is_not_there_and_makes_none(tmp_path):
    # QA: import_feedback('nope.db', ...) made a database of labels alone and said 1,600 'new' (all of
    # them unknown ids); `novelty feedback --db nope.db` exits 2
    labels = write_csv(tmp_path / "labels.csv", ["prompt_id", "label"], [["p1", "card"]])
    for call in (lambda db: import_feedback(db, labels),
                 lambda db: import_files(db, [labels])):
        with pytest.raises(InputError, match="no such database"):
            call(tmp_path / "nope.db")
        assert not (tmp_path / "nope.db").exists()
    assert import_feedback(new_db(tmp_path / "m.db"), labels).rows == 1
    out = CliRunner().invoke(app, ["feedback", str(labels), "--db", str(tmp_path / "nope.db")])
    assert out.exit_code == 2 and "no such database" in out.output and not (tmp_path / "nope.db").exists()


def test_a_run_against_another_index_than_the_days_before_says_so_in_its_score_line(monitor, tmp_path):
    from novelty.index import PromptIndex

    run_monitor(monitor, "2026-11-18")
    _day_log(tmp_path, 3)  # logs/2026-11-20.jsonl, the prompts of another index
    PromptIndex.build(tmp_path / "logs" / "2026-11-20.jsonl", "bot2", index_dir=tmp_path / "indexes",
                      model="hashing:128", scorer="knn", columns=Columns(text="prompt"))
    monitor.write_text(monitor.read_text().replace('name = "bot"', 'name = "bot2"'), encoding="utf-8")
    step = next(s for s in run_monitor(monitor, "2026-11-19").steps if s.name == "score")
    assert "earlier runs in" in step.reason and "scored against 'bot', this one against another index" in step.reason


def test_library_starter_refuses_a_setting_it_does_not_know_instead_of_dropping_it(tmp_path):
    # QA: write_starter(..., {"spikes.windw": "1h"}) wrote window = "1d" and said nothing
    from novelty.starter import write_starter

    base = {"index.name": "bot", "logs.path": "logs/{date}.jsonl"}
    with pytest.raises(InputError, match="'spikes.windw' is not a setting of monitor.toml; did you mean 'spikes.window'"):
        write_starter(tmp_path / "m.toml", {**base, "spikes.windw": "1h"})
    with pytest.raises(InputError, match="settings is"):  # was: AttributeError, 'NoneType' object has no attribute 'get'
        write_starter(tmp_path / "m.toml", None)
    assert not (tmp_path / "m.toml").exists()
    write_starter(tmp_path / "m.toml", {**base, "spikes.window": "1h"})
    assert load_config(tmp_path / "m.toml")["spikes.window"] == "1h"


def test_a_database_locked_by_another_process_is_waited_for_once_not_at_every_step(monitor, monkeypatch):
    # QA: a lock held by another process cost ~188 s at each of four writing steps (751 s in all)
    import novelty.store as store_module

    run_monitor(monitor, "2026-11-18")
    db = monitor.parent / "monitor.db"
    monkeypatch.setattr(store_module, "BUSY_TIMEOUT_MS", 20)
    monkeypatch.setattr(store_module, "_RETRIES", 2)
    gave_up, real = [], store_module._retry

    def waited(attempt):
        try:
            return real(attempt)
        except sqlite3.OperationalError as exc:
            gave_up.append(str(exc))
            raise
    monkeypatch.setattr(store_module, "_retry", waited)
    holder = sqlite3.connect(db, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("INSERT INTO meta VALUES ('holder', 'x')")
    try:
        summary = run_monitor(monitor, "2026-11-19")
    finally:
        holder.rollback()
        holder.close()
    steps = {s.name: s for s in summary.steps}
    assert steps["score"].status == "failed" and "another novelty command" in steps["score"].reason
    for name in ("spikes", "feedback", "clusters", "report"):
        assert steps[name].status == "skipped" and "locked by another process, which the score step waited" \
            in steps[name].reason, name
    assert steps["golden"].status == steps["diagnose"].status == "ran"
    assert gave_up == ["database is locked"]  # the whole wait once, not at each step


def test_run_goes_on_to_its_last_step_when_its_reader_goes_away(monitor, tmp_path):
    # QA: `novelty run ... | head -2` stopped after the score step ("writing to standard output failed"),
    # exit 2, the report not rewritten and the --summary file never written
    import os
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(Path(__file__).parents[1]),
                                                                      os.environ.get("PYTHONPATH")]))}
    job = subprocess.Popen([sys.executable, "-m", "novelty", "run", "--config", str(monitor), "--date", "2026-11-25",
                            "--summary", "s.json"], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
    job.stdout.close()  # `| head -0`: gone before the job writes
    code, said = job.wait(), job.stderr.read()
    summary = json.loads((tmp_path / "s.json").read_text())
    assert code == summary["exit_code"] and code in (0, 1), said
    assert [s["name"] for s in summary["steps"]] == list(STEPS)  # every step, not just the score
    assert "writing to standard output failed (Broken pipe); the run went on to its last step" in said
    merged = subprocess.Popen([sys.executable, "-m", "novelty", "run", "--config", str(monitor), "--date",
                               "2026-11-25", "--summary", "t.json"], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT)  # `2>&1 | head -0`: the error line is lost too
    merged.stdout.close()
    assert merged.wait() == json.loads((tmp_path / "t.json").read_text())["exit_code"]  # (QA: was 2)


def test_labels_keyed_by_the_log_s_id_column_join_without_feedback_id_col(monitor, tmp_path):
    """QA: with logs.id_col = 'request_id', a label file keyed 'request_id' failed the feedback step
    ("no column(s) 'prompt_id'") though the README's config says labels join on it. A file keyed
    prompt_id, or a feedback.id_col given, is read as before."""
    labels = tmp_path / "labels" / "2026-11-25.csv"
    rows = [line.split(",") for line in labels.read_text().splitlines()[1:]]
    write_csv(labels, ["request_id", "label"], rows)
    run_monitor(monitor, "2026-11-24")
    step = next(s for s in run_monitor(monitor, "2026-11-25").steps if s.name == "feedback")
    assert step.status == "ran" and step.facts["imported"][0]["new"] == len(rows), step
    named = next(s for s in run_monitor(load_config(monitor, {"feedback.id_col": "prompt_id"}), "2026-11-25").steps
                 if s.name == "feedback")
    assert named.status == "failed" and "prompt_id" in named.reason  # named on purpose: as it says


def test_labels_keyed_by_the_log_s_id_column_are_found_past_an_unreadable_first_file(monitor, tmp_path):
    """Review: only the first label file's header was looked at, so an empty file sorted first (a
    labeller's export that failed) made the log's id column go unseen and every other file fail."""
    labels = tmp_path / "labels" / "2026-11-25.csv"
    rows = [line.split(",") for line in labels.read_text().splitlines()[1:]]
    labels.unlink()
    (tmp_path / "labels" / "2026-11-25-a.csv").write_bytes(b"")
    write_csv(tmp_path / "labels" / "2026-11-25-b.csv", ["request_id", "label"], rows)
    cfg = load_config(monitor, {"feedback.path": "labels/{date}-*.csv"})
    run_monitor(cfg, "2026-11-24")
    step = next(s for s in run_monitor(cfg, "2026-11-25").steps if s.name == "feedback")
    assert sum(i["new"] for i in step.facts["imported"]) == len(rows), step


def test_a_feedback_period_of_hours_is_that_many_hours(monitor):
    """QA: feedback.period = 36h tested from midnight two days back (48 hours), 12h a whole day."""
    for day in ("2026-11-18", "2026-11-19", "2026-11-24"):
        run_monitor(monitor, day)
    late = run_monitor(load_config(monitor, {"feedback.period": "36h"}), "2026-11-25")
    feedback = next(s for s in late.steps if s.name == "feedback")
    assert feedback.facts["gap"]["period_start"] == "2026-11-24T12:00:00Z", feedback.facts["gap"]
