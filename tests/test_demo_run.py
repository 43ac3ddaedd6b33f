"""The demo end to end with the weightless embedder (the real model runs in test_integration)."""

import json
from pathlib import Path

from typer.testing import CliRunner

from novelty.cli import app
from novelty.queue import stats


def test_demo_tells_the_whole_story(tmp_path):
    out = CliRunner().invoke(app, ["demo", "--out", str(tmp_path / "demo"), "--model", "hashing:256", "--json"])
    assert out.exit_code == 0, out.output
    result = json.loads(out.output)
    assert [c["cause"] for c in result["diagnosis"]["causes"]] == ["label_bias", "feature_recalibration", "offline_online_gap"]
    flagged = [w["window_start"][:10] for w in result["spikes"]["windows"] if w["flagged"]]
    assert flagged == ["2026-11-22", "2026-11-23", "2026-11-24"]
    assert result["clusters"] and result["queued"]["added"] > 0
    assert stats(result["db"])["pending"] == result["queued"]["added"]
    assert 0 < len(result["queued_examples"]) == min(3, result["queued"]["added"])
    # the command the demo prints beside its clusters shows the same clusters
    assert result["clusters_since"] == "2026-11-22"
    again = CliRunner().invoke(app, ["clusters", "--db", result["db"], "--since", result["clusters_since"],
                                     "--min-size", "10", "--json"])
    assert sorted(c["size"] for c in json.loads(again.output)) == \
        sorted(c["size"] for c in result["clusters"])
    assert result["score"]["rejected"] == 6
    assert "label_bias" in Path(result["report"]).read_text(), "the demo writes the HTML report"


def test_the_commands_the_demo_prints_can_be_pasted_from_a_folder_with_a_space(tmp_path):
    import re
    import shlex

    folder = tmp_path / "dé mo"
    out = CliRunner().invoke(app, ["demo", "--out", str(folder), "--model", "hashing:64"])
    assert out.exit_code == 0, out.output
    commands = [c for c in re.findall(r"\((novelty [^)]*)\)", out.output) if str(folder) in c]
    assert len(commands) >= 5, out.output
    for command in commands:  # was: --db dé mo/demo.db, two words to a shell
        words = shlex.split(command)
        assert all(w.startswith(str(folder)) for w in words if "dé" in w), command
    # QA: "Queued 10 prompts of the fastest-growing cluster" named none, and it was not among those listed
    queued = re.search(r"Queued \d+ diverse prompts of the fastest-growing cluster, (c\d+) '[^']+' \((\d+) prompts",
                       out.output)
    assert queued, out.output
    listed = CliRunner().invoke(app, ["clusters", "show", queued.group(1), "--db", str(folder / "demo.db")])
    assert listed.exit_code == 0 and len(listed.output.splitlines()) >= min(int(queued.group(2)), 5)


def test_demo_refuses_a_folder_it_did_not_make_and_bad_options_before_writing(tmp_path):
    """It overwrote a user's monitor.toml, replaced their database, and wiped the previous demo when
    --model turned out bad; --seed -1 and an --out that is a file were tracebacks."""
    runner = CliRunner()
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "monitor.toml").write_text("my config\n")
    out = runner.invoke(app, ["demo", "--out", str(mine), "--model", "hashing:64"])
    assert out.exit_code == 2 and "holds files the demo did not make" in out.output
    assert "an older version's demo" not in out.output  # monitor.toml is no demo's here
    older = tmp_path / "older"  # a demo folder of a version before monitor.toml and the marker
    for name in ("data", "indexes"):
        (older / name).mkdir(parents=True)
    (older / "demo.db").write_bytes(b"")
    out = runner.invoke(app, ["demo", "--out", str(older), "--model", "hashing:64"])
    assert out.exit_code == 2 and "or an older version's demo: delete the folder" in out.output
    assert (mine / "monitor.toml").read_text() == "my config\n" and sorted(p.name for p in mine.iterdir()) == ["monitor.toml"]
    (tmp_path / "afile").write_text("x")
    for args, message in ((["--out", str(tmp_path / "afile")], "is a file"),
                          (["--out", str(tmp_path / "new"), "--seed", "-1"], "--seed"),
                          (["--out", str(tmp_path / "new"), "--model", "hashing:abc"], "cannot load")):
        out = runner.invoke(app, ["demo", "--model", "hashing:64", *args])
        assert out.exit_code == 2 and message in out.output, (args, out.output)
        assert out.exception is None or isinstance(out.exception, SystemExit)
    assert not (tmp_path / "new").exists()  # nothing written before the options were checked
    from novelty.demo import run_demo
    from novelty.errors import InputError
    import pytest
    with pytest.raises(InputError, match="--out is empty"):  # the CLI reads "" as ".", refused above as not a demo's
        run_demo("", model="hashing:64")


def test_a_demo_rerun_refuses_to_replace_a_monitor_toml_the_user_edited(tmp_path):
    import pytest

    from novelty.config import render_config
    from novelty.demo import CONFIG, _demo_folder
    from novelty.errors import InputError

    out = _demo_folder(tmp_path / "dv", 0)
    (out / "monitor.toml").write_text(render_config(CONFIG), encoding="utf-8")  # as the demo writes it
    (out / "notes.txt").write_text("mine\n")
    assert _demo_folder(out, 0) == out  # a rerun goes ahead, the user's notes stay
    (out / "monitor.toml").write_text(render_config(CONFIG) + "[alert]\nmin_severity = \"high\"\n", encoding="utf-8")
    with pytest.raises(InputError, match="monitor.toml was changed since the demo wrote it"):
        _demo_folder(out, 0)  # was: replaced silently
    assert (out / "notes.txt").exists() and "min_severity" in (out / "monitor.toml").read_text()
    from novelty.demo import MARKER, _config_digest
    with (out / MARKER).open("a") as marker:  # written by an older demo whose template differed
        marker.write(f"monitor.toml sha256 {_config_digest(out / 'monitor.toml')}\n")
    assert _demo_folder(out, 0) == out  # its own file: replaced, not refused after an upgrade
