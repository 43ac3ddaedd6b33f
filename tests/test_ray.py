"""The Ray engine gives the local engine's results: same ids, similarities within 1e-5, same novel
flags and rejects, nothing twice on a re-run. One local Ray with 2 CPUs for the whole module (start-up
takes seconds); logs are small and, except for one integration test, the embedder is weightless."""

import json
import sqlite3

import numpy as np
import pandas as pd
import pytest

ray = pytest.importorskip("ray.data", reason="Ray is an optional extra: pip install 'novelty[ray]'")

from novelty.demo_data import production_day  # noqa: E402
from novelty.embed import DEFAULT_MODEL  # noqa: E402
from novelty.engines import embedding_function, ray as ray_engine, score_files  # noqa: E402
from novelty.index import PromptIndex  # noqa: E402
from novelty.logs import Columns  # noqa: E402

from conftest import FAKE_MODEL, write_csv, write_jsonl  # noqa: E402

COLUMNS = Columns(id="id")  # ids given in one log, derived in the other


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    import ray as ray_core

    ray_engine.connect(num_cpus=2)
    yield
    ray_core.shutdown()


@pytest.fixture(scope="module")
def logs(tmp_path_factory):
    """Two logs: one with derived ids, rejects and blank text; one with given ids, repeated within a
    chunk and across chunks."""
    folder = tmp_path_factory.mktemp("logs")
    derived = [json.dumps(r) for r in production_day(7, n=300, seed=2)] + ["{oops", '{"prompt": ""}']
    given = [dict(r, id=f"p{i}") for i, r in enumerate(production_day(6, n=200, seed=3))]
    given += [dict(given[3], prompt="same id, same chunk"), dict(given[10], prompt="same id, later chunk")]
    given.insert(5, given.pop())
    return [write_jsonl(folder / "derived.jsonl", derived), write_jsonl(folder / "given.jsonl", given)]


def scores(db):
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        return {r["prompt_id"]: dict(r) for r in conn.execute("SELECT * FROM scores")}


def rejects(db):
    with sqlite3.connect(db) as conn:
        return sorted(conn.execute("SELECT source, line, reason FROM rejects"))


def assert_same(local: dict, other: dict):
    assert local.keys() == other.keys()
    for pid, row in local.items():
        assert abs(row["similarity"] - other[pid]["similarity"]) < 1e-5
        assert row["is_novel"] == other[pid]["is_novel"]
        assert row["nearest_id"] == other[pid]["nearest_id"] and row["line"] == other[pid]["line"]


def test_ray_matches_local_and_rerun_adds_nothing(tmp_path, index, logs):
    # four chunks in one window: the repeated id of the last chunk is still in flight, not yet written
    local = score_files(logs, index, tmp_path / "local.db", columns=COLUMNS, chunk_rows=200)
    on_ray = score_files(logs, index, tmp_path / "ray.db", engine="ray", columns=COLUMNS, chunk_rows=200)
    assert (on_ray.scored, on_ray.rejected, on_ray.novel) == (local.scored, local.rejected, local.novel) \
        == (500, 4, local.novel)
    assert on_ray.engine == "ray" and on_ray.top_novel == local.top_novel
    assert_same(scores(tmp_path / "local.db"), scores(tmp_path / "ray.db"))
    assert rejects(tmp_path / "ray.db") == rejects(tmp_path / "local.db")
    assert sum("duplicate id" in r[2] for r in rejects(tmp_path / "ray.db")) == 2
    again = score_files(logs, index, tmp_path / "ray.db", engine="ray", columns=COLUMNS, chunk_rows=200)
    # the repeated ids' second rows are set aside again (now as ids scored before for another text)
    assert (again.scored, again.skipped, again.rejected) == (0, 500, 4) and len(scores(tmp_path / "ray.db")) == 500
    assert rejects(tmp_path / "ray.db") == rejects(tmp_path / "local.db")


def test_ray_writes_parquet_shards_for_a_lake(tmp_path, index, logs):
    local = score_files(logs, index, tmp_path / "local.db", columns=COLUMNS, chunk_rows=100)
    result = score_files(logs, index, None, engine="ray", out_parquet=tmp_path / "lake", columns=COLUMNS,
                         chunk_rows=100)
    shards = pd.read_parquet(tmp_path / "lake" / "scores")
    assert len(shards) == result.scored == local.scored and shards["prompt_id"].is_unique
    assert_same(scores(tmp_path / "local.db"),
                {r["prompt_id"]: r for r in shards.to_dict("records")})
    assert len(pd.read_parquet(tmp_path / "lake" / "rejects")) == 4
    assert json.loads((tmp_path / "lake" / "runs" / "run-000001.json").read_text())["status"] == "done"


def test_index_build_on_ray_embeds_what_local_does(tmp_path, train_csv):
    build = dict(index_dir=tmp_path, model=FAKE_MODEL, scorer="knn")
    here = PromptIndex.build(train_csv, "here", **build)
    there = PromptIndex.build(train_csv, "there", embed=embedding_function("ray", workers=2), **build)
    assert np.array_equal(here.vectors(), there.vectors())
    assert here.manifest["files"] == there.manifest["files"]


@pytest.mark.integration
def test_real_model_on_ray_matches_local(tmp_path, train_pairs):
    train = write_csv(tmp_path / "train.csv", ["text", "label"], train_pairs[::12])
    index = PromptIndex.build(train, "real", index_dir=tmp_path, model=DEFAULT_MODEL, scorer="knn")
    log = write_jsonl(tmp_path / "day.jsonl", production_day(7, n=120, seed=4))
    score_files([log], index, tmp_path / "local.db")
    score_files([log], index, tmp_path / "ray.db", engine="ray", workers=1)
    assert_same(scores(tmp_path / "local.db"), scores(tmp_path / "ray.db"))


def test_ray_stores_the_logs_after_a_broken_one(tmp_path, index, logs):
    """Review: the error of a broken log, raised from the reading, went through the Ray engine's loop and
    dropped the chunks it had gathered: the logs after it were 'read' but not stored."""
    (tmp_path / "nocol.jsonl").write_text('{"text": "no prompt column"}\n')
    with pytest.raises(Exception, match="the other logs of this run were read"):
        score_files([logs[0], tmp_path / "nocol.jsonl", logs[1]], index, tmp_path / "r.db", engine="ray",
                    columns=COLUMNS, chunk_rows=200)
    with sqlite3.connect(tmp_path / "r.db") as conn:
        sources = dict(conn.execute("SELECT source, COUNT(*) FROM scores GROUP BY source"))
    assert sources == {str(logs[0].resolve()): 300, str(logs[1].resolve()): 200}, sources
