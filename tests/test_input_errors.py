"""Usage and input mistakes found by black-box QA: each is one line and exit 2, never a traceback."""

from __future__ import annotations

import json
import sqlite3

import pytest
from typer.testing import CliRunner

from conftest import FAKE_MODEL, write_csv, write_jsonl
from novelty.cli import app

runner = CliRunner()


def fails_cleanly(*args, message: str) -> None:
    result = runner.invoke(app, list(map(str, args)))
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output


def test_index_build_options(tmp_path, train_csv):
    ix = tmp_path / "ix"
    fails_cleanly("index", "build", train_csv, "--name", "a", "--model", "hashing:0", "--index-dir", ix,
                  message="dimension of at least 1")
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
