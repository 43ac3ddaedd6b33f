"""Engine choice and destinations that need no Ray: the missing-extra message, Parquet shards."""

import sys

import pandas as pd
import pytest
from typer.testing import CliRunner

from novelty.cli import app
from novelty.engines import score_files
from novelty.errors import InputError, MissingExtraError

from conftest import write_jsonl


def test_a_missing_ray_says_how_to_install_it(tmp_path, index, day_log, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray now raises ImportError
    with pytest.raises(MissingExtraError, match=r"pip install 'novelty\[ray\]'"):
        score_files([day_log], index, tmp_path / "m.db", engine="ray")
    out = CliRunner().invoke(app, ["score", str(day_log), "--index", str(index.path), "--db",
                                   str(tmp_path / "m.db"), "--engine", "ray"])
    assert out.exit_code == 2 and "pip install 'novelty[ray]'" in out.output and not (tmp_path / "m.db").exists()


def test_engine_and_destination_are_checked(tmp_path, index, day_log):
    with pytest.raises(InputError, match="--engine takes local or ray"):
        score_files([day_log], index, tmp_path / "m.db", engine="spark")
    with pytest.raises(InputError, match="only apply with --engine ray"):
        score_files([day_log], index, tmp_path / "m.db", workers=4)
    with pytest.raises(InputError, match="exactly one destination"):
        score_files([day_log], index, tmp_path / "m.db", out_parquet=tmp_path / "lake")


def test_local_engine_writes_parquet_shards(tmp_path, index, day_log):
    with day_log.open("a") as fh:
        fh.write("{oops\n")
    first = score_files([day_log], index, None, out_parquet=tmp_path / "lake", chunk_rows=150)
    second = score_files([day_log], index, None, out_parquet=tmp_path / "lake", chunk_rows=150)
    shards = pd.read_parquet(tmp_path / "lake" / "scores")
    assert (first.scored, first.rejected, second.run_id) == (400, 1, 2) and len(shards) == 800
    assert shards["prompt_id"].nunique() == 400  # the lake de-duplicates on the stable ids
    assert first.top_novel and first.reject_reasons[0]["rows"] == 1
    assert len(list((tmp_path / "lake" / "scores").glob("run-000001-part-*.parquet"))) == 3


@pytest.mark.parametrize("workers", [0, -2])
def test_workers_below_one_are_refused(tmp_path, index, day_log, workers):
    # were: 0 read as 'one per CPU', -2 a traceback from Ray and a failed run in the database
    with pytest.raises(InputError, match="--workers must be at least 1"):
        score_files([day_log], index, tmp_path / "m.db", engine="ray", workers=workers)
    assert not (tmp_path / "m.db").exists()


def test_a_ray_address_nothing_listens_at_fails_in_seconds():
    from novelty.engines.ray import _reachable

    with pytest.raises(InputError, match="cannot reach the Ray cluster at --ray-address '127.0.0.1:1'"):
        _reachable("127.0.0.1:1", timeout=5)  # was: ray.init retried for many minutes, no error
    _reachable("auto")  # left to Ray


def test_a_ray_cluster_it_cannot_reach_makes_no_database(tmp_path, index, day_log):
    # found by QA: the database was made, bound to the model and given a failed run before the error
    with pytest.raises(InputError, match="cannot reach the Ray cluster"):
        score_files([day_log], index, tmp_path / "m.db", engine="ray", ray_address="127.0.0.1:1")
    assert not (tmp_path / "m.db").exists()


def test_the_most_novel_prompts_are_distinct_texts_in_both_sinks(tmp_path, index):
    rows = [{"prompt": text} for text in ["Do you support ethereum", "do you support ethereum"] * 4 +
            ["how do I stake solana", "can I mint an nft", "where is my card", "what is dogecoin", "buy bitcoin now"]]
    log = write_jsonl(tmp_path / "d.jsonl", rows)
    for result in (score_files([log], index, tmp_path / "m.db"), score_files([log], index, None, out_parquet=tmp_path / "lake")):
        texts = [r["text"].lower() for r in result.top_novel]
        assert texts and len(texts) == len(set(texts)), texts  # was the same question 3-4 times


def test_ray_init_does_not_keep_its_own_sigterm_handler():
    import signal

    from novelty.engines.ray import _own_sigterm

    def ours(signum, frame):
        pass
    before = signal.signal(signal.SIGTERM, ours)
    try:
        with _own_sigterm():  # ray.init installs sys.exit(15) and a C++ stack dump: exit 15, not 143
            signal.signal(signal.SIGTERM, lambda signum, frame: None)
        assert signal.getsignal(signal.SIGTERM) is ours
    finally:
        signal.signal(signal.SIGTERM, before)


def test_a_shard_cut_short_by_a_killed_process_never_reaches_the_lake(tmp_path, index, day_log, monkeypatch):
    """A kill -9 while a shard was written left a 4-byte run-...parquet that every later read of the lake
    failed on ('Parquet file size is 4 bytes'); shards are now written under a hidden name and renamed."""
    import pyarrow.parquet as pq

    from novelty.engines import sinks

    written, write_table = [], pq.write_table

    def dies_half_way(table, where, **kwargs):
        if len(written) == 1:  # the second shard: its first bytes, then the process is gone
            with open(where, "wb") as fh:
                fh.write(b"PAR1")
            raise KeyboardInterrupt
        written.append(where)
        return write_table(table, where, **kwargs)

    monkeypatch.setattr(sinks.pq, "write_table", dies_half_way)
    with pytest.raises(KeyboardInterrupt):
        score_files([day_log], index, None, out_parquet=tmp_path / "lake", chunk_rows=150)
    monkeypatch.undo()
    score_files([day_log], index, None, out_parquet=tmp_path / "lake", chunk_rows=150)
    lake = pd.read_parquet(tmp_path / "lake" / "scores")
    assert lake["prompt_id"].nunique() == 400 and len(lake) == 400 + 150
    assert len(pd.read_parquet(tmp_path / "lake" / "embeddings")) > 0  # was: failed on the cut shard there
    assert all(p.stat().st_size > 100 for p in (tmp_path / "lake").rglob("*.parquet"))


def test_a_stopped_run_into_parquet_says_a_rerun_starts_over(tmp_path, index, day_log, monkeypatch):
    """Ctrl-C said 'run the same command again to go on'; with --out-parquet a rerun scores the whole log
    again and the lake holds the rows read so far twice."""
    import signal

    from novelty import cli, engines

    def stopped(*args, **kwargs):
        signal.getsignal(signal.SIGINT)(signal.SIGINT, None)

    monkeypatch.setattr(engines, "score_files", stopped)
    monkeypatch.setattr(cli, "_STOPPED_BY", [])
    base = ["score", str(day_log), "--index", str(index.path)]
    out = CliRunner().invoke(app, [*base, "--out-parquet", str(tmp_path / "lake")])
    assert out.exit_code == 130 and "shards are not resumed: running the same command again scores the whole " \
        f"log again, so de-duplicate the lake on prompt_id, or delete this run's shards in {tmp_path / 'lake'}" in out.output
    out = CliRunner().invoke(app, [*base, "--db", str(tmp_path / "m.db")])
    assert out.exit_code == 130 and "run the same command again to go on" in out.output
