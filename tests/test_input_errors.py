"""Usage and input mistakes found by black-box QA: each is one line and exit 2, never a traceback."""

from __future__ import annotations

import json
import sqlite3

import pytest
from typer.testing import CliRunner

from conftest import FAKE_MODEL, new_db, write_csv, write_jsonl
from novelty.cli import app

runner = CliRunner()


def fails_cleanly(*args, message: str) -> None:
    result = runner.invoke(app, list(map(str, args)))
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output


def test_index_build_options(tmp_path, train_csv):
    ix = tmp_path / "ix"
    fails_cleanly("index", "build", train_csv, "--name", "a", "--model", "hashing:0", "--index-dir", ix,
                  message="dimension from 1 to 4096")
    fails_cleanly("index", "build", train_csv, "--name", "b", "--model", FAKE_MODEL, "--index-type", "foo",
                  "--index-dir", ix, message="index type 'foo' is not one of")
    # a column named on purpose must exist; the default label column may be absent
    fails_cleanly("index", "build", train_csv, "--name", "c", "--model", FAKE_MODEL, "--label-col", "intent",
                  "--index-dir", ix, message="no column 'intent' (the label column)")
    unlabelled = write_csv(tmp_path / "u.csv", ["text"], [[f"prompt number {i}"] for i in range(40)])
    built = runner.invoke(app, ["index", "build", str(unlabelled), "--name", "d", "--model", FAKE_MODEL,
                                "--index-dir", str(ix)])
    assert built.exit_code == 0, built.output


def test_config_and_output_paths_that_are_folders(tmp_path):
    fails_cleanly("run", "--config", tmp_path, message="is a folder")
    ref = write_csv(tmp_path / "ref.csv", ["x"], [[i] for i in range(50)])
    fails_cleanly("drift", ref, ref, "--save-reference", tmp_path, message="--save-reference")


def test_score_a_folder_and_the_same_file_twice(tmp_path, index):
    log = write_jsonl(tmp_path / "log.jsonl", [{"prompt": f"how do I reset my pin {i}"} for i in range(5)])
    db = tmp_path / "m.db"
    fails_cleanly("score", tmp_path, "--index", index.path, "--db", db, message="is a folder")
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "link.jsonl").symlink_to(log)  # the same file under a second spelling
    twice = runner.invoke(app, ["score", str(log), str(tmp_path / "logs" / ".." / "log.jsonl"),
                                str(tmp_path / "logs" / "link.jsonl"), "--index", str(index.path),
                                "--db", str(db), "--json", "--fail-on", "rejects"])
    assert twice.exit_code == 0, twice.output
    result = json.loads(twice.output)
    assert (result["scored"], result["rejected"], result["sources"]) == (5, 0, [str(log)])
    assert sqlite3.connect(db).execute("SELECT COUNT(*) FROM rejects").fetchone() == (0,)


def test_golden_reports_a_failing_predict_function_in_one_line(tmp_path):
    base = write_csv(tmp_path / "b.csv", ["id", "label", "prediction", "text"],
                     [[i, "a", "a", "x"] for i in range(30)])
    fails_cleanly("golden", "--baseline", base, "--current", base, "--predict", "os:getcwd",
                  message="--predict 'os:getcwd' failed on the texts")


@pytest.mark.parametrize("ids", [["1", "2"], ["1.0", "2.0"]])
def test_golden_ids_read_as_numbers_in_one_file_and_text_in_the_other(tmp_path, ids):
    base = tmp_path / "b.csv"
    base.write_text("id,label,prediction\n" + "".join(f"{i},a,a\n" for i in ids) + ",a,a\n")
    current = tmp_path / "c.csv"
    current.write_text("id,label,prediction\n" + "".join(f"{i}x,a,a\n" for i in range(3)) + "1,a,b\n2,a,a\n")
    out = runner.invoke(app, ["golden", "--baseline", str(base), "--current", str(current), "--json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["paired"] == 2


def test_out_of_range_settings_are_refused(tmp_path, index):
    log = write_jsonl(tmp_path / "l.jsonl", [{"prompt": "reset my pin", "timestamp": "2026-11-20T00:00:00Z"}])
    db = tmp_path / "m.db"
    fails_cleanly("score", log, "--index", index.path, "--db", db, "--alpha", "0",
                  message="--alpha is a false-alarm rate")  # 0 used to fall back to the index's alpha
    assert runner.invoke(app, ["score", str(log), "--index", str(index.path), "--db", str(db)]).exit_code == 0
    for option, value in [("--fdr", "5"), ("--fdr", "0"), ("--baseline-windows", "0"), ("--min-prompts", "-1")]:
        fails_cleanly("spikes", "--db", db, option, value, message=option)
    table = write_csv(tmp_path / "t.csv", ["x"], [[i] for i in range(50)])
    fails_cleanly("drift", table, table, "--fdr", "7", message="--fdr")


def test_golden_numeric_labels_with_a_blank_are_not_a_regression(tmp_path):
    base = tmp_path / "b.csv"
    base.write_text("id,label,prediction\n" + "".join(f"{i},{i % 3},{i % 3}\n" for i in range(60)))
    current = tmp_path / "c.csv"  # one unlabelled row makes pandas read the labels as 0.0, 1.0...
    current.write_text(base.read_text() + "60,,1\n")
    out = runner.invoke(app, ["golden", "--baseline", str(base), "--current", str(current), "--json",
                              "--fail-on", "regression"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["current"]["accuracy"] == 1.0


def test_skew_joins_a_parquet_key_with_the_same_key_in_csv(tmp_path):
    import pandas as pd

    pd.DataFrame({"rid": ["00123", "00124"], "x": [1.5, 2.5]}).to_parquet(tmp_path / "offline.parquet")
    (tmp_path / "serving.csv").write_text("rid,x\n00123,1.5\n00124,2.5\n")
    out = runner.invoke(app, ["skew", "--offline", str(tmp_path / "offline.parquet"),
                              "--serving", str(tmp_path / "serving.csv"), "--key", "rid", "--json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["joined"] == 2


def test_drift_same_rows_in_csv_and_jsonl_and_a_saved_profile_with_its_time_column(tmp_path):
    rows = [{"created_at": 1764057600 + 3600 * i, "amount": float(i % 7), "ts": f"2026-11-{1 + i % 20:02d}"}
            for i in range(200)]
    csv_path = write_csv(tmp_path / "t.csv", list(rows[0]), [list(r.values()) for r in rows])
    jsonl_path = write_jsonl(tmp_path / "t.jsonl", rows)
    same = runner.invoke(app, ["drift", str(csv_path), str(jsonl_path), "--json", "--fail-on", "drift"])
    assert same.exit_code == 0, same.output  # read_json took created_at for dates: a 10^6 "recalibration"
    profile = tmp_path / "p.json"
    assert runner.invoke(app, ["drift", str(csv_path), str(csv_path), "--save-reference", str(profile)]).exit_code == 0
    windows = runner.invoke(app, ["drift", str(profile), str(csv_path), "--time-col", "ts", "--window", "7d",
                                  "--fail-on", "drift"])
    assert windows.exit_code == 0, windows.output  # the saved profile's ts is not 'missing' from each window


def test_drift_treats_infinities_as_missing_and_prints_valid_json(tmp_path):
    table = tmp_path / "inf.csv"
    table.write_text("a\n" + "\n".join(["1", "inf", "3", "-inf", "5"] * 20) + "\n")
    out = runner.invoke(app, ["drift", str(table), str(table), "--json"])
    assert out.exit_code == 0 and "Traceback" not in out.output, out.output
    json.loads(out.output, parse_constant=lambda c: pytest.fail(f"{c} is not JSON"))


def test_report_and_init_outputs_that_are_folders(tmp_path, index):
    log = write_jsonl(tmp_path / "l.jsonl", [{"prompt": "reset my pin", "timestamp": "2026-11-20T00:00:00Z"}])
    db = tmp_path / "m.db"
    assert runner.invoke(app, ["score", str(log), "--index", str(index.path), "--db", str(db)]).exit_code == 0
    (tmp_path / "out").mkdir()
    fails_cleanly("report", "--db", db, "-o", tmp_path / "out", message="is a folder")
    fails_cleanly("init", "-o", tmp_path / "out", "--force", "--index", "bot", "--logs", "logs/{date}.jsonl",
                  message="is a folder")


def test_more_out_of_range_options(tmp_path, index):
    log = write_jsonl(tmp_path / "l.jsonl", [{"prompt": "reset my pin", "timestamp": "2026-11-20T00:00:00Z"}])
    db = tmp_path / "m.db"
    assert runner.invoke(app, ["score", str(log), "--index", str(index.path), "--db", str(db)]).exit_code == 0
    fails_cleanly("prune", "--db", db, "--older-than", "99999999d", message="--older-than")
    for command in ("spikes", "clusters"):
        fails_cleanly(command, "--db", db, "--since", "2026-11-22", "--until", "2026-11-20", message="empty")
    table = write_csv(tmp_path / "t.csv", ["k", "x"], [[i, i] for i in range(20)])
    fails_cleanly("skew", "--offline", table, "--serving", table, "--key", "k", "--min-mismatch", "-1",
                  message="--min-mismatch")
    fails_cleanly("skew", "--offline", table, "--serving", table, "--key", "k", "--tolerance", "nan",
                  message="--tolerance")
    fails_cleanly("drift", table, table, "--min-psi", "nan", message="--min-psi")


def test_drift_windows_from_an_epoch_time_column_in_csv_and_jsonl(tmp_path):
    rows = [{"created_at": 1_700_000_000 + 600 * i, "x": float(i % 5)} for i in range(1000)]
    for path in (write_csv(tmp_path / "t.csv", ["created_at", "x"], [list(r.values()) for r in rows]),
                 write_jsonl(tmp_path / "t.jsonl", rows)):
        out = runner.invoke(app, ["drift", str(path), str(path), "--time-col", "created_at", "--json"])
        assert out.exit_code == 0, out.output
        starts = [w["window_start"] for w in json.loads(out.output)["windows"]]
        assert len(starts) == 8 and all(s.startswith("2023-11-") for s in starts), starts  # not all in 1970


def test_skew_sees_inf_against_null_and_joins_numeric_keys_with_zero_padded_text(tmp_path):
    import pandas as pd

    pd.DataFrame({"rid": [123, 124, 125], "x": [float("inf"), 1.0, float("inf")]}).to_parquet(tmp_path / "off.parquet")
    (tmp_path / "srv.csv").write_text("rid,x\n00123,-inf\n00124,1.0\n00125,\n")
    out = runner.invoke(app, ["skew", "--offline", str(tmp_path / "off.parquet"), "--serving",
                              str(tmp_path / "srv.csv"), "--key", "rid", "--json"])
    assert out.exit_code == 0, out.output
    result = json.loads(out.output)
    assert result["joined"] == 3 and [f["feature"] for f in result["findings"] if f["skewed"]] == ["x"]


def test_init_refuses_a_path_pattern_run_could_not_fill(tmp_path):
    fails_cleanly("init", "-o", tmp_path / "m.toml", "--index", "bot", "--logs", "logs/{dat}.jsonl",
                  message="only {date} may be filled in")
    assert not (tmp_path / "m.toml").exists() or "dat" not in (tmp_path / "m.toml").read_text()


def test_index_add_refuses_a_named_column_that_is_not_there(tmp_path, index):
    extra = tmp_path / "extra.csv"
    extra.write_text("text,label\nhow do I stake ether,crypto\n")
    result = CliRunner().invoke(app, ["index", "add", "bot", str(extra), "--label-col", "nope",
                                      "--index-dir", str(index.path.parent)])
    assert result.exit_code == 2 and "no column 'nope'" in result.output  # was: added without labels


def test_score_options_are_checked_before_a_database_is_made(tmp_path, index):
    log = write_jsonl(tmp_path / "l.jsonl", [{"prompt": "reset my pin"}, {"prompt": "\u200b \u200d"}])
    db = tmp_path / "m.db"
    for option in (["--chunk-rows", "0"], ["--cache-size", "-1"]):
        fails_cleanly("score", log, "--index", index.path, "--db", db, *option, message=option[0])
        assert not db.exists()
    out = runner.invoke(app, ["score", str(log), "--index", str(index.path), "--db", str(db), "--json"])
    assert json.loads(out.output)["reject_reasons"] == [
        {"reason": "'prompt' is empty but for invisible characters", "rows": 1,
         "example": "'prompt' is empty but for invisible characters"}]


def test_report_never_writes_over_its_inputs_nor_into_another_tools_database(tmp_path, index):
    log = write_jsonl(tmp_path / "l.jsonl", [{"prompt": "reset my pin", "timestamp": "2026-11-20T00:00:00Z"}])
    db = tmp_path / "m.db"
    assert runner.invoke(app, ["score", str(log), "--index", str(index.path), "--db", str(db)]).exit_code == 0
    before = db.read_bytes()
    fails_cleanly("report", "--db", db, "-o", db, message="also what this command reads")
    assert db.read_bytes() == before
    table = write_csv(tmp_path / "t.csv", ["x"], [[i] for i in range(30)])
    fails_cleanly("report", "--db", db, "--reference", table, "--current", table, "-o", table,
                  message="also what this command reads")
    crm = tmp_path / "crm.db"
    with sqlite3.connect(crm) as conn:
        conn.execute("CREATE TABLE customers (id)")
        conn.execute("CREATE TABLE runs (run_uuid TEXT)")  # MLflow's store has a runs table too
    for command in (["report", "-o", str(tmp_path / "r.html")], ["spikes"], ["queue", "stats"]):
        fails_cleanly(*command, "--db", crm, message="a SQLite database of something else")
    with sqlite3.connect(crm) as conn:
        assert conn.execute("SELECT name FROM sqlite_master").fetchall() == [("customers",), ("runs",)]


def test_a_misspelt_override_is_refused_by_the_library_too(tmp_path, index):
    from novelty.config import load_config
    from novelty.errors import InputError
    config = tmp_path / "m.toml"
    config.write_text('[index]\nname = "x"\n[logs]\npath = "logs/{date}.jsonl"\n')
    with pytest.raises(InputError, match="spikes.windw"):
        load_config(config, {"spikes.windw": "1h"})


@pytest.mark.parametrize("command", [["spikes"], ["clusters"], ["queue", "list"], ["report", "-o", "r.html"],
                                     ["prune", "--older-than", "1d"], ["feedback"]])
def test_an_empty_file_as_the_database_is_refused_and_left_empty(tmp_path, monkeypatch, command):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "m.db").touch()
    out = runner.invoke(app, [*command, "--db", "m.db"])
    assert out.exit_code == 2 and "an empty file, no database yet" in out.output
    assert (tmp_path / "m.db").stat().st_size == 0  # was: a read-only command wrote the schema into it


def test_a_damaged_parquet_file_is_an_input_error_in_every_command(tmp_path, index):
    """feedback read a truncated or non-Parquet .parquet file's schema unguarded: a traceback, exit 3
    (drift, golden, skew, score and queue import said it in one line) (QA)."""
    import pandas as pd

    pd.DataFrame({"prompt_id": ["a"], "label": ["x"]}).to_parquet(tmp_path / "ok.parquet")
    (tmp_path / "cut.parquet").write_bytes((tmp_path / "ok.parquet").read_bytes()[:100])
    (tmp_path / "text.parquet").write_text("not parquet\n")
    db = new_db(tmp_path / "m.db")
    for bad in ("cut.parquet", "text.parquet"):
        fails_cleanly("feedback", tmp_path / bad, "--db", db, message=f"{bad}: not a readable Parquet file")
        fails_cleanly("drift", tmp_path / "ok.parquet", tmp_path / bad, message=bad)
