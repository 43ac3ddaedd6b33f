"""Fast subsets of scripts/chaos.py: malformed logs, SIGKILL-and-resume, concurrent writers.
The full set (>= 50 kills, 1,000 malformed logs, 10 concurrent rounds): python scripts/chaos.py"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))  # children forked for the chaos runs import it by name too
import chaos  # noqa: E402


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    folder = tmp_path_factory.mktemp("chaos")
    return folder, chaos.build_index(folder), chaos.write_log(folder / "day.jsonl", 800, seed=0)


def test_malformed_logs_never_crash(setup):
    folder, index, _ = setup
    report = chaos.malformed_inputs(folder, index, count=60, seed=7)
    assert report.crashed == 0 and report.rows_unaccounted == 0, report.examples


def test_sigkill_at_random_moments_then_resume_equals_a_clean_run(setup):
    folder, index, log = setup
    report = chaos.kill_and_resume(folder, index, log, trials=1, kills_per_trial=5, seed=3)
    assert report.kills == 5 and report.kills_mid_run >= 1
    assert (report.rows_lost, report.rows_duplicated, report.rows_differing, report.rejects_differing,
            report.scores_without_embedding, report.integrity_failures, report.child_failures) == (0,) * 7


def test_two_writers_and_a_reader_at_once_lose_nothing(setup):
    folder, index, log = setup
    other = chaos.write_log(folder / "other.jsonl", 600, seed=1)
    with other.open("a") as fh:  # overlap: both runs meet the same prompts
        fh.writelines(log.read_text().splitlines(keepends=True)[:200])
    report = chaos.concurrent_writers(folder, index, [log, other], rounds=1)
    assert (report.failures, report.rows_lost, report.rows_duplicated, report.integrity_failures) == (0, 0, 0, 0)


def test_the_cli_killed_with_sigkill_resumes_without_loss(setup, tmp_path):
    """The real `novelty score` process, killed mid-run, then run to the end."""
    _, index, log = setup
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    command = [sys.executable, "-m", "novelty", "score", str(log), "--index", str(index),
               "--db", str(tmp_path / "m.db"), "--chunk-rows", "10"]
    killed_mid_run = 0
    for _ in range(1):
        child = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and child.poll() is None and len(chaos.table(tmp_path / "m.db",
                "SELECT prompt_id FROM scores")) < 100 * (killed_mid_run + 1):
            time.sleep(0.02)
        killed_mid_run += child.poll() is None
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert killed_mid_run == 1
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    clean = tmp_path / "clean.db"
    chaos.score_files([log], str(index), clean, chunk_rows=10)
    assert chaos.table(tmp_path / "m.db") == chaos.table(clean)
    assert chaos.table(tmp_path / "m.db", chaos.ORPHANS) == [] and chaos.integrity(tmp_path / "m.db") == "ok"
