import json
import sqlite3

import numpy as np
import pytest
from typer.testing import CliRunner

from novelty.cli import app
from novelty.errors import InputError
from novelty.spikes import SpikeSettings, _cusum_statistic, detect_spikes, window_seconds
from novelty.stats import (benjamini_hochberg, excess_over_rate, excess_over_reference, excess_tail, goodness_of_fit,
                           tail_weights, wilson_interval)
from novelty.store import SCORE_COLUMNS, Store, utc_now


def fill(db, days, alpha=0.05, labels=("a", "b", "c"), start_day=1, hour_step=1):
    """days: list of (prompts, novel, forced_label) per day; novel prompts go to forced_label."""
    store = Store(db)
    store.bind_model("m", "r", 4)
    run = store.start_run(alpha=alpha, index_checksum="ck", status="done")
    store.record_training_labels("ck", {label: 10 for label in labels})
    rows = []
    for d, (prompts, novel, forced) in enumerate(days):
        for i in range(prompts):
            is_novel = int(i < novel)
            ts = f"2026-11-{start_day + d:02d}T{(i * hour_step) % 24:02d}:{i % 60:02d}:00Z"
            label = forced if is_novel and forced else labels[i % len(labels)]
            rows.append((f"d{start_day + d}-{i}", run, "src", i, ts, f"new thing {i}" if is_novel else f"known {i}",
                         f"h{d}-{i}", label, 0.2 if is_novel else 0.8, 0.8 if is_novel else 0.2,
                         0.01 if is_novel else 0.5, is_novel, "t1", labels[0], "[]", "now"))
    store.write_chunk(rows, {}, [])
    store.finish_run(run)
    store.close()
    return db


def test_hand_checked_statistics():
    assert [round(x, 4) for x in wilson_interval(0, 10)] == [0.0, 0.2775]
    # P(X >= 3 | n=10, p=0.1) = 1 - P(X <= 2) = 1 - (0.9^10 + 10*0.1*0.9^9 + 45*0.01*0.9^8)
    assert excess_over_rate(3, 10, 0.1) == pytest.approx(1 - (0.9**10 + 0.9**9 + 0.45 * 0.9**8))
    # conditional test: 4 of 4 events in a window that is half the exposure -> 0.5^4
    assert excess_over_reference(4, 100, 0, 100) == pytest.approx(0.0625)
    assert benjamini_hochberg([0.001, 0.2, 0.03]) == pytest.approx([0.003, 0.2, 0.045])
    shift = goodness_of_fit({"a": 50, "b": 50}, {"a": 0.5, "b": 0.5})
    assert shift["chi2"] == 0 and shift["p_value"] == 1
    skewed = goodness_of_fit({"a": 90, "b": 10}, {"a": 0.5, "b": 0.5})
    assert skewed["chi2"] == pytest.approx(64) and skewed["cramers_v"] == pytest.approx(0.8)


def test_cusum_accumulates_small_rises_and_forgets_quiet_windows():
    s = SpikeSettings()
    small = _cusum_statistic(0.0, 0.02, s)  # z = 2.054: adds 1.054 over the drift of 1
    assert small == pytest.approx(1.054, abs=1e-3) and small < s.cusum_limit
    assert _cusum_statistic(small, 0.02, s) == pytest.approx(2 * small)
    assert _cusum_statistic(small, 0.6, s) == 0.0


def test_quiet_days_raise_nothing(tmp_path):
    db = fill(tmp_path / "m.db", [(500, 25, None)] * 20)
    report = detect_spikes(db)
    assert len(report.windows) == 20 and not report.incidents
    assert report.windows[0].baseline == "alpha" and report.windows[5].baseline == "trailing 5 windows"
    assert report.windows[0].expected_rate == 0.05


def test_a_spike_is_found_on_its_day_with_the_absorbing_label(tmp_path):
    days = [(500, 25, None)] * 10 + [(500, 90, "b"), (500, 140, "b")]
    db = fill(tmp_path / "m.db", days)
    report = detect_spikes(db)
    flagged = [w.window_start[:10] for w in report.windows if w.flagged]
    assert flagged == ["2026-11-11", "2026-11-12"]
    first = report.incidents[0]
    assert first.kind == "label_bias" and first.p_value < 1e-10
    assert first.details["absorbing_labels"][0]["label"] == "b"
    assert first.details["label_shift"]["p_value"] < 1e-6
    assert report.incidents[1].details["first_flagged"] == "2026-11-11T00:00:00Z"
    assert report.incidents[1].severity == "high"  # 28 % against 5 %


def test_a_slow_rise_is_caught_by_cusum(tmp_path):
    days = [(500, 25, None)] * 10 + [(500, 34, None)] * 6  # +1.8 points a day: no single day stands out
    report = detect_spikes(fill(tmp_path / "m.db", days))
    late = report.windows[10:]
    assert any("cusum" in w.detectors for w in late)
    assert not any(w.flagged for w in report.windows[:10])


def test_rerunning_updates_without_duplicates_and_since_limits_the_report(tmp_path):
    db = fill(tmp_path / "m.db", [(500, 25, None)] * 10 + [(500, 100, "b")])
    detect_spikes(db)
    detect_spikes(db)
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT COUNT(*) FROM windows").fetchone()[0] == 11
    assert conn.execute("SELECT COUNT(*) FROM incidents WHERE status = 'open'").fetchone()[0] == 1
    details = json.loads(conn.execute("SELECT details FROM incidents").fetchone()[0])
    assert details["novel"] == 100 and details["top_novel"]
    conn.close()
    later = detect_spikes(db, since="2026-11-09")
    assert [w.window_start[:10] for w in later.windows] == ["2026-11-09", "2026-11-10", "2026-11-11"]
    assert later.windows[-1].baseline.startswith("trailing")  # history before --since still counts


def test_sliding_and_hourly_windows(tmp_path):
    db = fill(tmp_path / "m.db", [(480, 24, None)] * 3)
    hourly = detect_spikes(db, SpikeSettings(window="1h", min_prompts=5), save=False)
    assert len(hourly.windows) == 72 and sum(w.prompts for w in hourly.windows) == 1440
    sliding = detect_spikes(db, SpikeSettings(window="1d", step="6h"), save=False)
    assert len(sliding.windows) == 3 * 4 + 3 and max(w.prompts for w in sliding.windows) == 480
    with pytest.raises(InputError, match="must divide"):
        detect_spikes(db, SpikeSettings(window="1d", step="7h"))


def test_weeks_start_on_monday(tmp_path):
    db = fill(tmp_path / "m.db", [(50, 2, None)] * 14)
    weekly = detect_spikes(db, SpikeSettings(window="7d"), save=False)
    assert weekly.windows[0].window_start == "2026-10-26T00:00:00Z"  # the Monday before Nov 1


def test_bad_window_and_dates(tmp_path):
    db = fill(tmp_path / "m.db", [(50, 2, None)])
    for bad in ("0d", "1y", "d"):
        with pytest.raises(InputError):
            window_seconds(bad)
    with pytest.raises(InputError, match="--since"):
        detect_spikes(db, since="last week")
    with pytest.raises(InputError, match="no such database"):
        detect_spikes(tmp_path / "none.db")


def test_cli_fail_on_and_json(tmp_path):
    db = fill(tmp_path / "m.db", [(500, 25, None)] * 10 + [(500, 100, "b")])
    runner = CliRunner()
    out = runner.invoke(app, ["spikes", "--db", str(db), "--json", "--fail-on", "incident"])
    assert out.exit_code == 1
    payload = json.loads(out.output)
    assert len(payload["incidents"]) == 1 and payload["incidents"][0]["kind"] == "label_bias"
    text = runner.invoke(app, ["spikes", "--db", str(db)])  # the id `queue add --incident` takes
    assert f"INCIDENT {payload['incidents'][0]['incident_id']} label_bias" in text.output
    quiet = runner.invoke(app, ["spikes", "--db", str(db), "--until", "2026-11-10", "--fail-on", "incident"])
    assert quiet.exit_code == 0 and "No incident" in quiet.output
    assert runner.invoke(app, ["spikes", "--db", str(db), "--fail-on", "nope"]).exit_code == 2


def test_tail_test_is_calibrated_on_uniform_p_values_and_finds_deep_tails():
    rng = np.random.default_rng(7)
    sums = tail_weights(rng.uniform(size=(20000, 500)), 0.1).sum(axis=1)
    p = np.array([excess_tail(s, 500, 0.1, 0.2) for s in sums[:4000]])
    assert abs((p < 0.01).mean() - 0.01) < 0.004 and abs((p < 0.05).mean() - 0.05) < 0.01
    # 20 prompts at p = 0.001 among 480 uniform ones: 20 * log(100) = 92 extra weight
    spiked = tail_weights(np.r_[rng.uniform(size=480), np.full(20, 0.001)], 0.1).sum()
    assert excess_tail(spiked, 500, 0.1, 0.2) < 1e-6


def test_ended_windows_are_decided_once_and_retest_reopens_them(tmp_path):
    db = fill(tmp_path / "m.db", [(500, 25, None)] * 10)
    first = detect_spikes(db)
    assert all(not w.decided for w in first.windows)
    fill(db, [(500, 100, "b")], start_day=11)
    second = detect_spikes(db)
    assert [w.decided for w in second.windows] == [True] * 10 + [False]
    assert [w.p_value for w in second.windows[:10]] == [w.p_value for w in first.windows]
    assert second.windows[-1].flagged and second.windows[-1].q_value == second.windows[-1].p_value  # alone
    third = detect_spikes(db)
    assert third.windows[-1].decided and third.windows[-1].detectors == second.windows[-1].detectors
    assert len(third.incidents) == 1
    again = detect_spikes(db, retest=True)
    assert not any(w.decided for w in again.windows) and again.windows[-1].flagged


def test_a_window_still_open_is_not_decided(tmp_path):
    db = fill(tmp_path / "m.db", [(500, 25, None)] * 3, start_day=1)
    store = Store(db)  # one more prompt, now: today's window has not ended
    store.write_chunk([("late", 1, "src", 0, utc_now(), "t", "h", None, 0.8, 0.2, 0.5, 0, "t1",
                        "a", "[]", "now")], {}, [])
    store.close()
    detect_spikes(db)
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT COUNT(*) FROM windows WHERE decided_at IS NULL").fetchone()[0] == 1
    conn.close()


def test_a_database_from_before_decisions_gains_the_new_columns(tmp_path):
    conn = sqlite3.connect(tmp_path / "old.db")
    conn.execute("CREATE TABLE windows (window_size TEXT, window_start TEXT, window_end TEXT, prompts INTEGER, "
                 "novel INTEGER, novel_rate REAL, ci_low REAL, ci_high REAL, expected_rate REAL, baseline TEXT, "
                 "p_value REAL, q_value REAL, cusum REAL, flagged INTEGER, updated_at TEXT, "
                 "PRIMARY KEY (window_size, window_start))")
    conn.close()
    fill(tmp_path / "old.db", [(500, 25, None)] * 4)
    assert len(detect_spikes(tmp_path / "old.db").windows) == 4


def test_a_decided_window_keeps_its_saved_row_when_its_prompts_are_pruned_later(tmp_path):
    db = fill(tmp_path / "m.db", [(300, 15, None)] * 8)
    detect_spikes(db)
    with sqlite3.connect(db) as conn:
        before = conn.execute("SELECT * FROM windows ORDER BY window_start").fetchall()
        conn.execute("DELETE FROM scores WHERE ts < '2026-11-04'")  # as prune --older-than does
    detect_spikes(db)
    with sqlite3.connect(db) as conn:
        after = conn.execute("SELECT * FROM windows ORDER BY window_start").fetchall()
    assert after == before


def test_the_incident_of_a_decided_window_stays_as_saved_after_a_partial_prune(tmp_path):
    db = fill(tmp_path / "m.db", [(500, 25, None)] * 10 + [(500, 150, "b")] + [(500, 25, None)] * 2)
    first = detect_spikes(db)
    assert len(first.incidents) == 1
    with sqlite3.connect(db) as conn:
        saved = conn.execute("SELECT * FROM incidents").fetchall()
        conn.execute("DELETE FROM scores WHERE ts >= '2026-11-11' AND ts < '2026-11-11T20:00:00Z'")
    detect_spikes(db)
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT * FROM incidents").fetchall() == saved
