import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from novelty.cli import app
from novelty.logs import Columns

from conftest import FAKE_MODEL, write_csv

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def commands(group=app, prefix=()):
    import typer.main

    click_group = typer.main.get_command(group)
    def walk(cmd, path):
        if hasattr(cmd, "commands"):
            if path and cmd.invoke_without_command:  # a group that is a command too: novelty clusters
                yield path
            for name, sub in cmd.commands.items():
                yield from walk(sub, path + (name,))
        else:
            yield path
    return list(walk(click_group, prefix))


def test_build_info_score_round_trip(tmp_path, train_csv, day_log):
    ix = tmp_path / "ix"
    built = invoke("index", "build", train_csv, "--name", "bot", "--model", FAKE_MODEL, "--index-dir", ix)
    assert built.exit_code == 0, built.output
    assert "calibrated on 1,200 prompts, each scored while held out" in built.output and "false-alarm target 5%" in built.output
    info = invoke("index", "info", "bot", "--index-dir", ix, "--json")
    assert json.loads(info.output)["model"]["name"] == FAKE_MODEL
    scored = invoke("score", day_log, "--index", "bot", "--index-dir", ix, "--db", tmp_path / "m.db")
    assert scored.exit_code == 0, scored.output
    assert re.search(r"Scored 400 prompts", scored.output) and "Most novel prompts" in scored.output
    again = invoke("score", day_log, "--index", "bot", "--index-dir", ix, "--db", tmp_path / "m.db", "--json")
    payload = json.loads(again.output)
    assert payload["scored"] == 0 and payload["skipped"] == 400


def test_index_add_from_the_cli(tmp_path, train_csv):
    ix = tmp_path / "ix"
    invoke("index", "build", train_csv, "--name", "bot", "--model", FAKE_MODEL, "--index-dir", ix, "--scorer", "knn")
    extra = write_csv(tmp_path / "x.csv", ["text", "label"], [("how do I buy bitcoin", "crypto")] * 2)
    out = invoke("index", "add", "bot", extra, "--index-dir", ix, "--json")
    assert out.exit_code == 0 and json.loads(out.output)["added"] == 1
    again = invoke("index", "add", "bot", write_csv(tmp_path / "y.csv", ["text", "label"], [("stake eth", "crypto")] * 3),
                   "--index-dir", ix)  # was: 'Added 1 prompts (0 already there, 0 rejected)' from 3 rows
    assert "Added 1 prompt to" in again.output and "2 repeating an earlier row of the file" in again.output


@pytest.mark.parametrize("args, message", [
    (["score", "{missing}", "--index", "bot", "--db", "{db}"], "no such file"),
    (["score", "{log}", "--index", "nope", "--db", "{db}"], "no index 'nope'"),
    (["score", "{log}", "--index", "bot", "--db", "{db}", "--text-col", "question"], "no column 'question'"),
    (["index", "build", "{log}", "--name", "x", "--model", FAKE_MODEL], "no column 'text'"),
    (["index", "build", "{train}", "--name", "x", "--model", "/no/such/model"], "cannot load the embedding model"),
    # options of a mode that is off were ignored: the index built was not the one asked for
    (["index", "build", "{train}", "--name", "x", "--model", FAKE_MODEL, "--adapt-layers", "6",
      "--adapt-epochs", "2"], "--adapt-epochs, --adapt-layers only apply with --adapt"),
    (["index", "build", "{train}", "--name", "x", "--model", FAKE_MODEL, "--k", "5"], "--k only applies with --scorer knn"),
    (["index", "build", "{train}", "--name", "x", "--model", "hashing:999999999"], "from 1 to 4096"),  # 1 TiB
    (["report", "--db", "x" * 300 + ".db"], "File name too long"),  # was an OSError traceback, exit 1
    (["report", "--db", "{db}", "-o", "y" * 300 + ".html"], "File name too long"),
])
def test_input_errors_exit_2_with_a_message_and_no_traceback(tmp_path, train_csv, day_log, args, message):
    ix = tmp_path / "ix"
    invoke("index", "build", train_csv, "--name", "bot", "--model", FAKE_MODEL, "--index-dir", ix, "--scorer", "knn")
    filled = [a.format(missing=tmp_path / "missing.jsonl", db=tmp_path / "m.db", log=day_log,
                       train=train_csv) for a in args]
    result = invoke(*filled, "--index-dir", ix)
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output


def test_a_json_array_export_is_scored_and_a_log_of_rejects_alone_exits_2(tmp_path, train_csv):
    # found by QA: a pretty-printed JSON array (a common export) was 'invalid JSON: Extra data' on every
    # line, nothing scored, exit 0; a log every row of which was set aside exited 0 under cron
    ix = tmp_path / "ix"
    invoke("index", "build", train_csv, "--name", "bot", "--model", FAKE_MODEL, "--index-dir", ix)
    rows = [{"prompt": f"where is my card {i}", "timestamp": f"2026-11-20T0{i}:00:00Z"} for i in range(3)]
    (tmp_path / "export.json").write_text(json.dumps(rows, indent=2))
    out = invoke("score", tmp_path / "export.json", "--index", "bot", "--db", tmp_path / "m.db", "--index-dir", ix,
                 "--json")
    assert out.exit_code == 0 and json.loads(out.stdout)["scored"] == 3, out.output
    (tmp_path / "one-line.json").write_text(json.dumps(rows))
    out = invoke("score", tmp_path / "one-line.json", "--index", "bot", "--db", tmp_path / "n n.db", "--index-dir", ix)
    assert out.exit_code == 0 and "Scored 3 prompts" in out.output, out.output
    assert f"Query them: sqlite3 '{tmp_path / 'n n.db'}' " in out.output  # quoted for the shell (QA)
    (tmp_path / "one.json").write_text(json.dumps(rows[:1]))
    out = invoke("score", tmp_path / "one.json", "--index", "bot", "--db", tmp_path / "o.db", "--index-dir", ix)
    assert "Scored 1 prompt against" in out.output  # was 'Scored 1 prompts'
    (tmp_path / "cet.jsonl").write_text("".join(json.dumps({"prompt": "hi", "timestamp": "2026-11-27 10:00 CET"}) + "\n"
                                                for _ in range(4)))
    out = invoke("score", tmp_path / "cet.jsonl", "--index", "bot", "--db", tmp_path / "m.db", "--index-dir", ix)
    assert out.exit_code == 2 and "error: no row could be scored: all 4 were set aside" in out.output, out.output
    assert out.output.count("no row could be scored") == 1  # said once, as the error
    from novelty import PromptIndex, score_files  # the library says it in the result (QA: returned without a word)
    result = score_files([tmp_path / "cet.jsonl"], PromptIndex.load("bot", ix), tmp_path / "lib.db")
    assert result.scored == 0 and any(w.startswith("no row could be scored: all 4") for w in result.warnings)
    # review: a .jsonl whose first line is junk starting with '[' is read line by line (it lost the whole file)
    good = json.dumps({"prompt": "where is my card", "timestamp": "2026-11-20T08:00:00Z"})
    (tmp_path / "junk.jsonl").write_text(f"[2026-11-25 10:00:00] export started\n{good}\n")
    out = invoke("score", tmp_path / "junk.jsonl", "--index", "bot", "--db", tmp_path / "j.db", "--index-dir", ix,
                 "--json")
    assert out.exit_code == 0 and (json.loads(out.stdout)["scored"], json.loads(out.stdout)["rejected"]) == (1, 1)
    (tmp_path / "cut.json").write_text(f'[{{"prompt": "cut short"\n{good}\n')  # no array after all: by lines
    out = invoke("score", tmp_path / "cut.json", "--index", "bot", "--db", tmp_path / "c.db", "--index-dir", ix,
                 "--json")
    assert out.exit_code == 0 and (json.loads(out.stdout)["scored"], json.loads(out.stdout)["rejected"]) == (1, 1)
    # an array's columns spelt otherwise are matched as a JSONL log's are
    (tmp_path / "caps.json").write_text(json.dumps([{"Prompt": "where is my card", "Timestamp": "2026-11-20T08:00:00Z"}]))
    out = invoke("score", tmp_path / "caps.json", "--index", "bot", "--db", tmp_path / "caps.db", "--index-dir", ix)
    import sqlite3
    with sqlite3.connect(tmp_path / "caps.db") as conn:
        assert conn.execute("SELECT ts FROM scores").fetchall() == [("2026-11-20T08:00:00Z",)], out.output


def test_day_first_reads_slashed_dates_day_first(tmp_path, train_csv):
    # found by QA: a day-first CSV (01/11/2026 ... 30/11/2026) had 18 rows rejected and 12 stored from
    # January to December, with no way to say how the log writes its dates
    ix = tmp_path / "ix"
    invoke("index", "build", train_csv, "--name", "bot", "--model", FAKE_MODEL, "--index-dir", ix)
    write_csv(tmp_path / "eu.csv", ["prompt", "timestamp"], [[f"question {d}", f"{d:02d}/11/2026 09:30"]
                                                             for d in range(1, 31)])
    out = invoke("score", tmp_path / "eu.csv", "--index", "bot", "--db", tmp_path / "us.db", "--index-dir", ix,
                 "--json")
    assert json.loads(out.stdout)["rejected"] == 18
    assert "needs --day-first" in json.loads(out.stdout)["reject_reasons"][0]["reason"]
    out = invoke("score", tmp_path / "eu.csv", "--index", "bot", "--db", tmp_path / "eu.db", "--index-dir", ix,
                 "--day-first", "--json")
    assert out.exit_code == 0 and json.loads(out.stdout)["scored"] == 30, out.output
    import sqlite3
    with sqlite3.connect(tmp_path / "eu.db") as conn:
        days = [d for (d,) in conn.execute("SELECT DISTINCT substr(ts, 1, 7) FROM scores")]
    assert days == ["2026-11"]


def test_help_shows_bracketed_text_as_written():
    # rich reads [ray] as a markup tag and drops it unless escaped
    shown = " ".join(invoke("score", "--help").output.replace("│", " ").split())
    assert "pip install 'novelty[ray]'" in shown


def test_command_lists_show_each_summary_as_one_paragraph():
    # the lists print a docstring's first paragraph with its hard line breaks unless given as one line
    from novelty.cli import index_app, queue_app

    for group in (app, index_app, queue_app):
        for info in group.registered_commands:
            assert info.short_help and "\n" not in info.short_help, info.name
    listing = invoke("--help").output
    assert "unlabelled queue items, rejected rows" in listing  # was broken after "items,"


def test_usage_errors_exit_2():
    assert invoke("score").exit_code == 2
    assert invoke("index", "build", "x.csv").exit_code == 2


def test_every_command_has_help_with_an_example_and_is_in_the_readme():
    import typer.main

    readme = (ROOT / "README.md").read_text()
    root = typer.main.get_command(app)
    for path in commands():
        result = invoke(*path, "--help")
        assert result.exit_code == 0
        assert "Example: novelty " + " ".join(path) in " ".join(result.output.split()), path
        assert "novelty " + " ".join(path) in readme, f"`novelty {' '.join(path)}` missing from README"
        command = root
        for name in path:
            command = command.commands[name]
        for param in command.params:
            assert param.help, f"novelty {' '.join(path)}: {param.name} has no help text"
    for group in ("index", "queue"):  # the groups' own --help too (had none)
        assert f"Example: novelty {group} " in " ".join(invoke(group, "--help").output.split()), group


def test_every_option_help_shows_an_example_or_its_default():
    # DEVELOPERS.md: "--help that explains every option with an example"; 99 options had neither
    import typer.main

    from novelty.cli import EXAMPLES, EXAMPLES_USED

    root = typer.main.get_command(app)
    for path in [()] + [tuple(p) for p in commands()]:
        command = root
        for name in path:
            command = command.commands[name]
        for param in command.params:
            if getattr(param, "is_flag", False) or param.name == "help":
                continue
            shown = param.default not in (None, (), [])
            assert shown or "Example: " in param.help or "e.g." in param.help, (path, param.name)
    assert EXAMPLES_USED == set(EXAMPLES), set(EXAMPLES) - EXAMPLES_USED  # no example left unshown
    rendered = " ".join(invoke("spikes", "--help").output.replace("│", " ").split())
    assert "Example: --since 2026-11-01" in rendered and "Example: --fail-on new-incident" in rendered


def test_python_dash_m_and_version():
    for module in ("novelty", "novelty.cli"):  # novelty.cli ran nothing, exit 0: a cron line checking nothing (QA)
        out = subprocess.run([sys.executable, "-m", module, "--version"], capture_output=True, text=True)
        assert out.returncode == 0 and out.stdout.startswith("novelty "), module


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (Linux) for a device that is always full")
@pytest.mark.parametrize("args", [["--version"], ["index", "--help"]])
def test_standard_output_that_cannot_be_written_is_exit_2_not_a_bug(args):
    with open("/dev/full", "w") as full:  # `novelty ... --json > out.json` on a full disk
        out = subprocess.run([sys.executable, "-m", "novelty", *args], stdout=full, stderr=subprocess.PIPE, text=True)
    assert out.returncode == 2, out.stderr  # was: exit 3 and a traceback "failed on a bug" (or 120 at exit)
    assert out.stderr == "error: writing to standard output failed (No space left on device)\n"


def test_standard_output_to_a_file_is_written_whole_or_fails(tmp_path, monkeypatch):
    # QA: `spikes --json > s.json` on a disk that filled mid-write kept 8,192 of 14,836 bytes and exited 0:
    # CPython's buffered writer dropped what a partial write left, without an error
    import errno
    import os

    from novelty import cli

    real, room = os.write, [8192]

    def filling(fd, data):  # a disk with 8 KiB left: one partial write, then ENOSPC
        if room[0] <= 0:
            raise OSError(errno.ENOSPC, "No space left on device")
        n = real(fd, bytes(data[:room[0]]))
        room[0] -= n
        return n
    with open(tmp_path / "s.json", "w", encoding="utf-8") as given:
        stream = cli._whole_writes(given)
        assert stream is not given and stream.encoding == given.encoding
        monkeypatch.setattr(cli.os, "write", filling)
        with pytest.raises(OSError, match="No space left on device"):  # said, on the write or its flush
            stream.write("x" * 14836)
            stream.flush()
        monkeypatch.undo()
    assert (tmp_path / "s.json").stat().st_size == 8192
    read, write = os.pipe()  # a pipe (and a terminal) never writes part: left as it is
    with os.fdopen(read) as r, os.fdopen(write, "w") as w:
        assert cli._whole_writes(w) is w and r


def test_a_closed_pipe_is_exit_2_and_a_closed_standard_output_no_error(tmp_path):
    # exit 2 and said (`report -o - | head` too, in test_report); was 1 (click's closed-pipe exit, the code
    # of a finding), silently
    demo = tmp_path / "x.csv"
    demo.write_text("a\n" + "1\n" * 100)
    wide = ["drift", str(demo), str(demo), "--json"]
    reader_gone = subprocess.Popen([sys.executable, "-m", "novelty", *wide], stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)
    reader_gone.stdout.close()  # `| head -0`: gone before the command writes
    assert reader_gone.wait() == 2
    assert "writing to standard output failed (Broken pipe)" in reader_gone.stderr.read()
    helped = subprocess.Popen([sys.executable, "-m", "novelty", "index", "--help"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    helped.stdout.close()  # `--help | head`: the reader had what it wanted, and an error line was noise
    assert helped.wait() == 0 and helped.stderr.read() == ""
    both_gone = subprocess.Popen([sys.executable, "-m", "novelty", *wide], stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT)  # 2>&1 | head -0: the error has nowhere to go
    both_gone.stdout.close()
    assert both_gone.wait() == 2  # was 1, the code of a finding, from the traceback of the failed message
    closed = subprocess.run(f"{shlex.quote(sys.executable)} -m novelty --version >&-", shell=True,
                            capture_output=True, text=True)
    assert closed.returncode == 0 and "Traceback" not in closed.stderr  # was 120, AttributeError on None


def test_ci_runs_the_readme_commands():
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```(?:sh|bash)\n(.*?)```", readme, re.S)
    setup = [line for line in blocks[0].splitlines() if line.strip()]
    assert len(setup) == 2, "README starts with exactly two set-up commands"
    ci = (ROOT / ".ci" / "run").read_text()
    assert setup[0] in ci and setup[1] in ci


def test_fail_on_exits_1_only_when_found(tmp_path, train_csv, day_log):
    ix = tmp_path / "ix"
    invoke("index", "build", train_csv, "--name", "bot", "--model", FAKE_MODEL, "--index-dir", ix, "--scorer", "knn")
    base = ["score", day_log, "--index", "bot", "--index-dir", ix]
    novel = invoke(*base, "--db", tmp_path / "a.db", "--fail-on", "novel", "--json")
    assert novel.exit_code == 1 and json.loads(novel.output)["found"] == ["novel"]
    clean = invoke(*base, "--db", tmp_path / "b.db", "--fail-on", "rejects")
    assert clean.exit_code == 0, clean.output
    with day_log.open("a") as fh:
        fh.write("not json\n")
    assert invoke(*base, "--db", tmp_path / "c.db", "--fail-on", "rejects").exit_code == 1
    assert invoke(*base, "--db", tmp_path / "d.db", "--fail-on", "typo").exit_code == 2


def test_a_bug_exits_3_after_its_traceback_not_1_like_a_finding(tmp_path, monkeypatch, capsys):
    import novelty.cli as cli

    def broken(*args, **kwargs):
        raise ZeroDivisionError("a bug")
    monkeypatch.setattr("novelty.spikes.detect_spikes", broken)
    monkeypatch.setattr("sys.argv", ["novelty", "spikes", "--db", str(tmp_path / "m.db"), "--fail-on", "incident"])
    with pytest.raises(SystemExit) as stopped:
        cli.main()
    assert stopped.value.code == 3  # was 1: cron read the crash as "incident found"
    err = capsys.readouterr().err
    assert "ZeroDivisionError: a bug" in err and "failed on a bug" in err
    monkeypatch.undo()
    monkeypatch.setattr("sys.argv", ["novelty", "spikes", "--db", str(tmp_path / "m.db"), "--window", "x"])
    with pytest.raises(SystemExit) as stopped:
        cli.main()
    assert stopped.value.code == 2  # input errors keep their code


def test_an_approximate_index_type_on_a_small_index_says_it_is_flat(tmp_path):
    rows = [(f"question number {i} about topic {i % 5}", f"t{i % 5}") for i in range(60)]
    train = write_csv(tmp_path / "t.csv", ["text", "label"], rows)
    out = invoke("index", "build", train, "--name", "s", "--model", FAKE_MODEL, "--index-dir", tmp_path / "ix",
                 "--index-type", "hnsw")
    assert out.exit_code == 0 and "Index type flat, not hnsw: under 1,000 prompts" in out.output  # was silent


def test_an_unknown_pooling_is_refused_before_anything_is_embedded(tmp_path, train_csv):
    out = invoke("index", "build", train_csv, "--name", "bot", "--model", FAKE_MODEL, "--index-dir", tmp_path,
                 "--pooling", "max")
    assert out.exit_code == 2 and "pooling 'max' is not one of model, mean-max" in out.output
    assert not (tmp_path / "bot").exists()


def test_an_unknown_backend_is_refused_with_the_hashing_model_too(tmp_path, train_csv):
    out = invoke("index", "build", train_csv, "--name", "b", "--model", FAKE_MODEL, "--index-dir", tmp_path / "ix",
                 "--backend", "TORCH")
    assert out.exit_code == 2 and "backend 'TORCH' is not one of torch, onnx, onnx-int8" in out.output  # was exit 0


def test_listings_show_control_characters_instead_of_printing_them():
    from novelty.render import clip, one_line

    assert one_line("nul\x00here\u202eevil\x1b[31m  red\n") == "nul[U+0000]here[U+202E]evil[U+001B][31m red"
    assert "\x00" not in clip("a\x00" * 100)  # was: the NUL printed raw in the score summary


def test_importing_novelty_loads_nothing_heavy_and_ctrl_c_while_loading_is_exit_130(monkeypatch, capsys):
    # a Ctrl-C in the second numpy, pandas and FAISS take to load printed a KeyboardInterrupt traceback
    loaded = subprocess.run([sys.executable, "-c", "import sys, novelty; print(sorted({'numpy', 'pandas', 'faiss'} "
                             "& set(sys.modules)))"], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "[]"
    import novelty
    assert novelty.index.PromptIndex is novelty.PromptIndex  # submodules as attributes, as before the lazy names
    import types

    import novelty.__main__ as entry

    class Loading(types.ModuleType):
        def __getattr__(self, name):
            raise KeyboardInterrupt

    monkeypatch.setitem(sys.modules, "novelty.cli", Loading("novelty.cli"))
    with pytest.raises(SystemExit) as stopped:
        entry.main()
    assert stopped.value.code == 130 and "Interrupted while starting" in capsys.readouterr().err


def test_a_stop_that_ray_turns_into_exit_1_still_exits_128_plus_the_signal(monkeypatch):
    # found by QA: a SIGTERM landing inside ray.get came out as Ray's SystemExit(1), the code of a finding
    import signal as signals

    from novelty import cli

    def killed_in_ray_get(prog_name):
        previous = cli._exit_cleanly_on_sigterm()
        try:
            signals.getsignal(signals.SIGTERM)(signals.SIGTERM, None)
        except SystemExit:
            raise SystemExit(1) from None  # what ray.get makes of the handler's exit
        finally:
            for signum, handler in previous.items():
                signals.signal(signum, handler)

    monkeypatch.setattr(cli, "app", killed_in_ray_get)
    monkeypatch.setattr(cli, "_STOPPED_BY", [])
    with pytest.raises(SystemExit) as stopped:
        cli.main()
    assert stopped.value.code == 143


def test_a_sigterm_while_ray_starts_is_said_and_exits_143(monkeypatch):
    # ray.init's own handler (sys.exit(15)) was in place: exit 15, no word of what was kept
    import signal as signals

    from novelty import cli
    from novelty.engines.ray import _own_sigterm

    previous = cli._exit_cleanly_on_sigterm()
    monkeypatch.setattr(cli, "_STOPPED_BY", [])
    try:
        with pytest.raises(SystemExit) as stopped, _own_sigterm():
            raise SystemExit(signals.SIGTERM)  # Ray's handler, run by a kill during ray.init
    finally:
        for signum, handler in previous.items():
            signals.signal(signum, handler)
    assert stopped.value.code == 143 and cli._STOPPED_BY == [signals.SIGTERM]


def test_build_and_add_say_labels_spelt_alike_but_for_case(tmp_path, train_pairs):
    first = sorted({label for _, label in train_pairs})[0]
    cased = [(t, first.upper() if i % 3 == 0 and label == first else label) for i, (t, label) in enumerate(train_pairs)]
    path = write_csv(tmp_path / "train.csv", ["text", "label"], cased)
    ix = tmp_path / "ix"
    built = invoke("index", "build", path, "--name", "bot", "--model", FAKE_MODEL, "--index-dir", ix, "--scorer", "knn")
    assert built.exit_code == 0  # was: two intents, nothing said
    assert "label(s) spelt alike but for case or separators are separate intents" in built.output and repr(first.upper()) in built.output
    info = json.loads(invoke("index", "info", "bot", "--index-dir", ix, "--json").output)
    assert set(info["training"]["label_variants"][0]) == {first, first.upper()}
    assert info["training"]["label_variants_count"] == 1 and "\n1 label(s) spelt alike" in "\n" + built.output


def test_counts_of_one_read_as_one(tmp_path, index):
    # QA round 23: '1 windows so far', 'Wrote 1 prompts', '1 rows set aside'
    from conftest import write_csv, write_jsonl
    from novelty.engines.local import score_files
    from novelty.store import Store

    db = tmp_path / "m.db"
    score_files(write_jsonl(tmp_path / "d.jsonl", [{"prompt": "how do I buy bitcoin", "request_id": "r1",
                                                    "timestamp": "2026-11-24T10:00:00Z"}]),
                index, db, columns=Columns(id="request_id"))
    Store(db).close()
    labels = write_csv(tmp_path / "l.csv", ["prompt_id", "label"], [["r1", "crypto"], ["", ""]])
    out = invoke("feedback", labels, "--db", db)
    assert out.exit_code == 0 and "1 row without id or label skipped" in out.output, out.output
    invoke("queue", "add", "--db", db, "--max-p-value", "1")
    out = invoke("queue", "export", "--db", db, "-o", tmp_path / "q.csv")
    assert "Wrote 1 prompt to" in out.output, out.output


def test_a_file_name_that_is_not_utf8_is_exit_2_and_init_says_so(tmp_path, index):
    # QA: 'caf\xe9.jsonl' from a Latin-1 system stopped score, feedback and init with a traceback, exit 3
    import os

    from conftest import write_jsonl

    bad = write_jsonl(tmp_path / os.fsdecode(b"caf\xe9.jsonl"), [{"prompt": "hello there",
                                                                    "timestamp": "2026-11-20T10:00:00Z"}])
    db = tmp_path / "m.db"
    base = ["--index", "bot", "--index-dir", str(tmp_path / "indexes"), "--db", str(db)]
    out = CliRunner().invoke(app, ["score", str(bad), *base])
    assert out.exit_code == 2 and "file name is not valid UTF-8" in out.output and "caf\\xe9.jsonl" in out.output
    assert not db.exists()  # said before a database is made
    CliRunner().invoke(app, ["score", str(write_jsonl(tmp_path / "ok.jsonl", [{"prompt": "hi"}])), *base])
    labels = tmp_path / os.fsdecode(b"lab\xe9.csv")
    labels.write_text("prompt_id,label\nx,balance\n")
    out = CliRunner().invoke(app, ["feedback", str(labels), "--db", str(db)])
    assert out.exit_code == 2 and "file name is not valid UTF-8" in out.output
    (tmp_path / "logs").mkdir()
    bad.rename(tmp_path / "logs" / os.fsdecode(b"2026-11-20-\xe9.jsonl"))
    out = CliRunner().invoke(app, ["init", "--index", "bot", "--logs", str(tmp_path / "logs" / "{date}*.jsonl"),
                                   "-o", str(tmp_path / "monitor.toml")])
    assert out.exit_code == 0 and "not valid UTF-8" in out.output and (tmp_path / "monitor.toml").exists()


def test_standard_output_that_is_not_utf8_escapes_what_it_cannot_hold(tmp_path, index):
    # QA: with stdout in cp1252 (a Windows console, a Latin-1 locale), a novel prompt's emoji stopped
    # score after its run had finished: exit 3, where --fail-on novel means 0 or 1
    import os

    from conftest import write_jsonl

    log = write_jsonl(tmp_path / "day.jsonl", [{"prompt": "crypto wallet \U0001f680 café", "timestamp":
                                                "2026-11-20T10:00:00Z"}])
    env = {**os.environ, "PYTHONIOENCODING": "cp1252"}
    base = [sys.executable, "-m", "novelty", "score", str(log), "--index", "bot", "--index-dir",
            str(tmp_path / "indexes"), "--fail-on", "novel"]
    out = subprocess.run([*base, "--db", str(tmp_path / "a.db")], capture_output=True, env=env)
    assert out.returncode in (0, 1), out.stderr.decode("cp1252", "replace")
    assert b"wallet \\U0001f680 caf\xe9" in out.stdout  # escaped where cp1252 has no such character
    out = subprocess.run([*base, "--db", str(tmp_path / "b.db"), "--json"], capture_output=True, env=env)
    assert out.returncode in (0, 1) and "\U0001f680" in json.loads(out.stdout)["top_novel"][0]["text"]


def test_a_tilde_in_a_path_is_the_home_folder_as_in_monitor_toml(tmp_path, monkeypatch, capsys):
    """cron's /bin/sh (dash) leaves '--db=~/m.db' as it is, and Airflow passes arguments through no shell:
    'no such database' for a path monitor.toml reads (QA)."""
    import novelty.cli as cli
    from conftest import new_db

    monkeypatch.setenv("HOME", str(tmp_path))
    new_db(tmp_path / "m.db")
    monkeypatch.setattr("sys.argv", ["novelty", "spikes", "--db=~/m.db", "--json"])
    with pytest.raises(SystemExit) as stopped:
        cli.main()
    assert stopped.value.code == 0, capsys.readouterr().err
    assert "windows" in json.loads(capsys.readouterr().out)
    (tmp_path / "idx").mkdir()
    monkeypatch.setenv("NOVELTY_INDEX_DIR", "~/idx")
    from novelty.index import index_dir_default
    assert index_dir_default() == tmp_path / "idx"


def test_by_label_builds_the_ensemble_and_is_refused_with_another_scorer(tmp_path, train_csv):
    ix = tmp_path / "ix"
    built = invoke("index", "build", train_csv, "--name", "even", "--model", FAKE_MODEL, "--index-dir", ix,
                   "--by-label", "--json")
    assert built.exit_code == 0, built.output
    assert json.loads(built.output)["scorer"] == {
        "name": "ensemble", "params": {"components": ["knn", "class-topk", "class-spread", "logreg"], "label_shrink": 50.0}}
    refused = invoke("index", "build", train_csv, "--name", "x", "--model", FAKE_MODEL, "--index-dir", ix,
                     "--scorer", "knn", "--by-label")
    assert refused.exit_code == 2 and "--by-label only applies with --scorer ensemble" in refused.output
    # unlabelled prompts: the way out is not --scorer knn, which --by-label refuses (review: a loop)
    bare = write_csv(tmp_path / "bare.csv", ["text"], [(f"prompt number {i}",) for i in range(40)])
    unlabelled = invoke("index", "build", bare, "--name", "y", "--model", FAKE_MODEL, "--index-dir", ix, "--by-label")
    assert unlabelled.exit_code == 2 and "label every prompt, or leave out --by-label" in unlabelled.output
    assert "--scorer knn" not in unlabelled.output
