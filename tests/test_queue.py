import csv
import json

import pytest
from typer.testing import CliRunner

from novelty import queue
from novelty.cli import app
from novelty.clusters import find_clusters, look_alikes
from novelty.errors import InputError
from novelty.store import Store

from test_clusters import add_unflagged, novel_db


@pytest.fixture
def db(tmp_path):
    path = novel_db(tmp_path / "m.db", {"bitcoin wallet": 40, "staking rewards": 25})
    find_clusters(path)
    return path


def bitcoin(db):
    return next(c.cluster_id for c in find_clusters(db) if "bitcoin" in c.name)


def test_add_dedupes_and_respects_the_budget(db):
    loose = queue.add(db, cluster=bitcoin(db), budget=10, dedupe=0.999)
    assert loose.added == 10 and loose.candidates >= 40
    again = queue.add(db, cluster=bitcoin(db), budget=10, dedupe=0.999)
    assert again.already_queued == 10 and again.added == 10  # the next 10 most diverse
    tight = queue.add(db, max_p_value=0.05, budget=500, dedupe=0.5)  # near-duplicates of queued ones skipped
    assert tight.near_duplicates > 0 and queue.stats(db)["pending"] == 20 + tight.added
    with pytest.raises(InputError, match="exactly one"):
        queue.add(db, budget=5)


def test_cluster_all_spreads_the_budget_over_every_cluster(db):
    result = queue.add(db, cluster="all", budget=12, dedupe=0.999)
    sources = [item["source"] for item in queue.items(db)]
    assert result.added == 12 and result.candidates >= 65
    assert len(set(sources)) == 2 and all(s.startswith("cluster:c") for s in sources)  # both clusters, by id
    assert min(sources.count(s) for s in set(sources)) >= 3


def test_export_label_import_and_train_round_trip(db, tmp_path):
    queue.add(db, cluster=bitcoin(db), budget=5, dedupe=0.999)
    assert queue.export(db, tmp_path / "todo.csv", "csv") == 5
    assert queue.stats(db) == {"pending": 0, "exported": 5, "labelled": 0, "trained": 0}
    with (tmp_path / "todo.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    with (tmp_path / "done.csv").open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "text", "label"])
        writer.writerows([r["id"], r["text"], "crypto_wallet"] for r in rows)
        writer.writerow(["unknown-id", "x", "y"])
    assert queue.import_labels(db, tmp_path / "done.csv") == {"labelled": 5, "unknown_ids": 1}
    assert queue.export(db, tmp_path / "chat.jsonl", "chat-jsonl", status="labelled") == 5
    record = json.loads((tmp_path / "chat.jsonl").read_text().splitlines()[0])
    assert [m["role"] for m in record["messages"]] == ["system", "user", "assistant"]
    assert record["messages"][2]["content"] == "crypto_wallet"
    assert queue.mark_trained(db) == 5 and queue.stats(db)["trained"] == 5


def test_labelled_items_teach_the_index(db, tmp_path, index):
    queue.add(db, cluster=bitcoin(db), budget=5, dedupe=0.999)
    queue.export(db, tmp_path / "todo.csv", "csv")
    rows = list(csv.DictReader((tmp_path / "todo.csv").open()))
    with (tmp_path / "done.csv").open("w", newline="") as fh:
        csv.writer(fh).writerows([["id", "label"], *[[r["id"], "crypto"] for r in rows]])
    queue.import_labels(db, tmp_path / "done.csv")
    queue.export(db, tmp_path / "learn.csv", "csv", status="labelled")
    result = index.add(tmp_path / "learn.csv")
    assert result.added == 5 and "crypto" in set(index.labels)


def test_cli_queue(db, tmp_path):
    runner = CliRunner()
    out = runner.invoke(app, ["queue", "add", "--db", str(db), "--cluster", bitcoin(db), "--budget", "3", "--json"])
    assert out.exit_code == 0 and json.loads(out.output)["added"] == 3
    assert runner.invoke(app, ["queue", "stats", "--db", str(db), "--json"]).output.count('"pending": 3') == 1
    assert runner.invoke(app, ["queue", "export", "--db", str(db), "-o", str(tmp_path / "x"), "--format", "xml"]).exit_code == 2
    assert runner.invoke(app, ["queue", "add", "--db", str(db), "--cluster", "c9999"]).exit_code == 2
    wrong = runner.invoke(app, ["queue", "add", "--db", str(db), "--max-p-value", "0.05", "--look-alikes"])
    assert wrong.exit_code == 2 and "goes with --cluster" in wrong.output
    plain = runner.invoke(app, ["queue", "add", "--db", str(db), "--max-p-value", "0.05", "--json"])
    assert plain.exit_code == 0 and json.loads(plain.output)["look_alikes"] == 0


def test_look_alikes_are_prompts_nearer_a_cluster_than_the_training_set(db):
    cid = bitcoin(db)
    store = Store(db)
    hashes = [r[0] for r in store.db.execute(
        "SELECT s.text_hash FROM scores s JOIN cluster_members m USING (prompt_id) WHERE m.cluster_id = ?", [cid])]
    centre = store.vectors(hashes).mean(axis=0)
    store.close()
    add_unflagged(db, [("passed", "2026-11-24T12:00:00Z", centre, 0.5),      # nearer the cluster: a look-alike
                        ("known", "2026-11-24T12:00:00Z", centre, 0.999),     # its training neighbour is nearer
                        ("earlier", "2026-11-01T12:00:00Z", centre, 0.5)])    # before the cluster began
    store = Store(db)
    found = look_alikes(store, cid)
    store.close()
    assert [(r["prompt_id"], r["cluster_id"]) for r in found] == [("passed", cid)]
    assert found[0]["cluster_similarity"] > 0.9 and found[0]["similarity"] == 0.5

    without = queue.add(db, cluster=cid, budget=100, dedupe=0.999, look_alikes=False)
    assert without.look_alikes == 0 and "passed" not in {r["prompt_id"] for r in queue.items(db)}
    with_them = queue.add(db, cluster=cid, budget=100, dedupe=0.999)  # on by default with a cluster
    assert with_them.look_alikes == 1
    assert {r["prompt_id"]: r["source"] for r in queue.items(db)}["passed"] == f"look-alike:{cid}"
    with pytest.raises(InputError, match="--look-alikes goes with --cluster"):
        queue.add(db, max_p_value=0.05, look_alikes=True)
