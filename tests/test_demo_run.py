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
