import csv
from datetime import datetime, timezone
import sqlite3
import json

import numpy as np
import pytest
from typer.testing import CliRunner

from novelty import queue
from novelty.cli import app
from novelty.clusters import find_clusters, look_alikes
from novelty.engines.local import score_files
from novelty.errors import InputError
from novelty.logs import current_umask
from novelty.refresh import golden_refresh
from novelty.store import Store

from test_clusters import add_unflagged, beside, novel_db


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
    imported = queue.import_labels(db, tmp_path / "done.csv")
    assert (imported["labelled"], imported["unknown_ids"], imported["skipped"]) == (5, 1, {})
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
    none = runner.invoke(app, ["queue", "list", "--db", str(db), "--status", "labelled"])
    assert none.output.strip() == "No labelled items (the queue holds 3 pending)."  # was "The queue is empty."
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
                        ("known", "2026-11-24T12:00:00Z", beside(centre), 0.999),  # its training neighbour is nearer
                        ("earlier", "2026-11-01T12:00:00Z", centre, 0.5)])    # before the cluster began
    store = Store(db)
    found = look_alikes(store, cid)
    store.close()
    assert [(r["prompt_id"], r["cluster_id"]) for r in found] == [("passed", cid)]
    assert found[0]["cluster_similarity"] > 0.9 and found[0]["similarity"] == 0.5

    without = queue.add(db, cluster=cid, budget=100, dedupe=0.999, look_alikes=False)
    assert without.look_alikes == 0 and "passed" not in {r["prompt_id"] for r in queue.items(db)}
    with_them = queue.add(db, cluster=cid, budget=100, dedupe=0.999)  # on by default with a cluster
    assert with_them.look_alikes == 1 and with_them.look_alikes_added == 1
    assert {r["prompt_id"]: r["source"] for r in queue.items(db)}["passed"] == f"look-alike:{cid}"
    with pytest.raises(InputError, match="--look-alikes goes with --cluster"):
        queue.add(db, max_p_value=0.05, look_alikes=True)


def exported_ids(db, tmp_path, n=3):
    """Queue and export ``n`` prompts of the bitcoin cluster; their ids."""
    queue.add(db, cluster=bitcoin(db), budget=n, dedupe=0.999)
    queue.export(db, tmp_path / "todo.csv", "csv")
    return [r["id"] for r in csv.DictReader((tmp_path / "todo.csv").open(encoding="utf-8"))]


def write_labels(path, ids, label):
    path.write_text("id,label\n" + "".join(f"{i},{label}\n" for i in ids), encoding="utf-8")
    return path


def help_text(*command):
    """The --help of a command, box drawing and line wrapping removed."""
    out = CliRunner().invoke(app, [*command, "--help"], env={"COLUMNS": "200"}).output
    return " ".join(out.replace("│", " ").split())


def test_reimporting_labels_leaves_trained_items_trained(db, tmp_path):
    ids = exported_ids(db, tmp_path)
    labels = write_labels(tmp_path / "labels.csv", ids, "crypto")
    queue.import_labels(db, labels)
    assert queue.mark_trained(db) == 3
    again = queue.import_labels(db, labels)
    assert (again["labelled"], again["unchanged"], again["trained_relabelled"]) == (0, 3, 0)
    assert queue.stats(db)["trained"] == 3
    changed = queue.import_labels(db, write_labels(tmp_path / "fixed.csv", ids[:1], "crypto_wallet"))
    assert (changed["labelled"], changed["trained_relabelled"], changed["unchanged"]) == (1, 1, 0)
    assert {r["prompt_id"]: (r["status"], r["label"]) for r in queue.items(db)}[ids[0]] == ("labelled", "crypto_wallet")
    assert queue.stats(db)["trained"] == 2
    out = CliRunner().invoke(app, ["queue", "import", str(tmp_path / "fixed.csv"), "--db", str(db)])
    assert out.exit_code == 0 and "1 already had that label" in out.output  # labelled, same label: unchanged


def test_a_row_that_is_not_utf8_is_skipped_and_the_rest_imported(db, tmp_path):
    ids = exported_ids(db, tmp_path)
    (tmp_path / "latin1.csv").write_bytes(f"id,label\n{ids[0]},crypto\n{ids[1]},caf".encode() + b"\xe9\n")
    out = CliRunner().invoke(app, ["queue", "import", str(tmp_path / "latin1.csv"), "--db", str(db)])
    assert out.exit_code == 0 and "Labelled 1 prompt " in out.output  # was: exit 2, the whole file refused
    assert "Skipped 1 row: bytes that are not UTF-8 in the id or label" in out.output and "(line 3)" in out.output
    (tmp_path / "head.csv").write_bytes(b"id,lab\xe9l\n")
    out = CliRunner().invoke(app, ["queue", "import", str(tmp_path / "head.csv"), "--db", str(db)])
    assert out.exit_code == 2 and "header row is not valid UTF-8" in out.output
    assert queue.stats(db)["labelled"] == 1  # the first file's one row; nothing of the second


def test_import_reads_the_bom_of_excel_csv_utf8(db, tmp_path):
    ids = exported_ids(db, tmp_path)
    path = write_labels(tmp_path / "excel.csv", ids, "crypto")
    path.write_bytes("\ufeff".encode() + path.read_bytes())
    assert queue.import_labels(db, path)["labelled"] == 3
    quoted = tmp_path / "quoted.csv"  # pandas' to_csv(encoding='utf-8-sig', quoting=QUOTE_ALL), R with a BOM
    quoted.write_text("\ufeff" + '"id","label"\n' + "".join(f'"{i}","wallet"\n' for i in ids), encoding="utf-8")
    assert queue.import_labels(db, quoted)["labelled"] == 3  # was: "needs 'id' columns (found ['\"id\"', 'label'])"


def test_import_counts_every_skipped_row_by_reason(db, tmp_path):
    a, b, c = exported_ids(db, tmp_path)
    rows = ["id,note,label",  # (a 'text' column would be checked against the queued prompts' texts)
            f"{a},hello, world,crypto",       # 2: an unquoted comma: the label would be ' world'
            f"{b},no label",                  # 3: short
            f"{b},x,   ",                     # 4: blank label
            ",x,crypto",                      # 5: no id
            f"{c},x,crypto",                  # 6
            f"{c},x,crypto",                  # 7: the same again
            f"{a},x,crypto",                  # 8
            f"{a},x,wallet",                  # 9: a conflicts with itself: neither label applied
            f"{b},x,crypto"]                  # 10
    (tmp_path / "odd.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    result = queue.import_labels(db, tmp_path / "odd.csv")
    assert result["labelled"] == 2 and result["unknown_ids"] == 0
    assert result["skipped"] == {"extra_fields": 1, "short_row": 1, "blank_id": 1, "blank_label": 1,
                                 "duplicate_id": 1, "conflicting_labels": 2}
    assert result["skipped_lines"]["conflicting_labels"] == [8, 9] and result["skipped_lines"]["short_row"] == [3]
    assert {r["prompt_id"]: r["status"] for r in queue.items(db)} == {a: "exported", b: "labelled", c: "labelled"}
    runner = CliRunner()
    text = runner.invoke(app, ["queue", "import", str(tmp_path / "odd.csv"), "--db", str(db)])
    assert text.exit_code == 0 and "Skipped 2 rows: one id with different labels" in text.output
    assert "Skipped 1 row: more fields than the header" in text.output and "(line 2)" in text.output
    as_json = json.loads(runner.invoke(app, ["queue", "import", str(tmp_path / "odd.csv"), "--db", str(db),
                                             "--json"]).output)
    assert as_json["skipped"] == result["skipped"] and as_json["unchanged"] == 2


def test_export_to_a_missing_folder_or_a_folder_is_an_input_error(db, tmp_path):
    queue.add(db, cluster=bitcoin(db), budget=3, dedupe=0.999)
    runner = CliRunner()
    for out, message in ((tmp_path / "absent" / "x.csv", "no folder"), (tmp_path, "is a folder")):
        result = runner.invoke(app, ["queue", "export", "--db", str(db), "-o", str(out)])
        assert result.exit_code == 2 and message in result.output, result.output
    assert queue.stats(db)["pending"] == 3


def test_add_refuses_a_budget_below_1_and_a_dedupe_outside_0_1(db):
    runner = CliRunner()
    for option, value in (("--budget", "0"), ("--budget", "-2"), ("--dedupe", "5"), ("--dedupe", "0"),
                          ("--dedupe", "-0.5"), ("--dedupe", "nan")):
        out = runner.invoke(app, ["queue", "add", "--db", str(db), "--cluster", bitcoin(db), option, value])
        assert out.exit_code == 2 and option in out.output, (option, value, out.output)
    assert queue.stats(db)["pending"] == 0
    assert queue.add(db, cluster=bitcoin(db), budget=1, dedupe=1.0).added == 1
    assert "Each run adds to what is already queued" in help_text("queue", "add")


def test_unknown_status_is_refused(db, tmp_path):
    queue.add(db, cluster=bitcoin(db), budget=3, dedupe=0.999)
    runner = CliRunner()
    export = runner.invoke(app, ["queue", "export", "--db", str(db), "-o", str(tmp_path / "e.csv"), "--status", "foo"])
    assert export.exit_code == 2 and "pending, exported, labelled, trained" in export.output
    assert not (tmp_path / "e.csv").exists()
    listed = runner.invoke(app, ["queue", "list", "--db", str(db), "--status", "foo"])
    assert listed.exit_code == 2 and "'foo'" in listed.output
    for command in ("list", "export"):
        assert "pending, exported, labelled or trained" in help_text("queue", command)


def test_trained_prints_json(db, tmp_path):
    ids = exported_ids(db, tmp_path)
    queue.import_labels(db, write_labels(tmp_path / "labels.csv", ids, "crypto"))
    out = CliRunner().invoke(app, ["queue", "trained", "--db", str(db), "--json"])
    assert out.exit_code == 0 and json.loads(out.output) == {"trained": 3, "still_labelled": 0}


def test_trained_with_an_index_marks_only_what_the_index_holds(db, tmp_path, index):
    from novelty.index import PromptIndex

    ids = exported_ids(db, tmp_path, n=5)
    queue.import_labels(db, write_labels(tmp_path / "first.csv", ids[:3], "crypto"))
    queue.export(db, tmp_path / "learn.csv", "csv", status="labelled")
    queue.import_labels(db, write_labels(tmp_path / "late.csv", ids[3:], "staking"))  # after the export
    PromptIndex.load("bot", tmp_path / "indexes").add(tmp_path / "learn.csv")
    out = CliRunner().invoke(app, ["queue", "trained", "--db", str(db), "--index", "bot",
                                   "--index-dir", str(tmp_path / "indexes")])
    # was: all 5 marked trained, the 2 late labels never in the index and never exported again
    assert out.exit_code == 0 and "Marked 3 prompts trained; 2 labelled prompts are not in index 'bot'" in out.output
    assert {r["prompt_id"] for r in queue.items(db, "labelled")} == set(ids[3:])
    with Store(db).db.conn as conn:  # a NUL in the text: the export writes U+FFFD, the index holds that
        conn.execute("UPDATE queue SET text = ? WHERE prompt_id = ?", ["nul \x00 inside", ids[3]])
    queue.export(db, tmp_path / "learn2.csv", "csv", status="labelled")
    PromptIndex.load("bot", tmp_path / "indexes").add(tmp_path / "learn2.csv")
    assert queue.mark_trained(db, "bot", tmp_path / "indexes") == 2 and not queue.items(db, "labelled")


def test_jsonl_export_keeps_each_record_on_one_line_under_splitlines(db, tmp_path):
    queue.add(db, cluster=bitcoin(db), budget=2, dedupe=0.999)
    text = "first\u2028second\u2029third\x85fourth"
    store = Store(db)
    with store.db.conn:
        store.db.conn.execute("UPDATE queue SET text = ?", [text])
    store.close()
    for fmt in ("chat-jsonl", "batch-jsonl"):
        assert queue.export(db, tmp_path / f"{fmt}.jsonl", fmt, status="exported" if fmt == "batch-jsonl"
                            else "pending") == 2
        lines = (tmp_path / f"{fmt}.jsonl").read_text(encoding="utf-8").splitlines()
        assert len(lines) == 2
        record = json.loads(lines[0])
        assert (record["messages"][1]["content"] if fmt == "chat-jsonl" else record["text"]) == text


def test_add_survives_vectors_the_cache_evicted_and_eviction_spares_queued_ones(db):
    add_unflagged(db, [(f"u{i}", "2026-11-24T09:00:00Z", np.eye(32)[i % 32] + 0.01 * i, 0.9) for i in range(6)])
    first = queue.add(db, max_p_value=1, budget=500, dedupe=0.999)
    store = Store(db)
    try:
        assert store.bound_embeddings(0) == 0  # every unflagged vector is queued now: none may go
        store.db.execute("DELETE FROM queue WHERE prompt_id IN ('u0', 'u1')")
        store.db.conn.commit()
        assert store.bound_embeddings(0) == 2
    finally:
        store.close()
    again = queue.add(db, max_p_value=1, budget=500, dedupe=0.999)  # was a KeyError traceback
    assert (again.added, again.no_vector, again.already_queued) == (0, 2, first.added - 2)


def test_dedupe_1_still_skips_the_same_text_twice(tmp_path):
    path = novel_db(tmp_path / "d.db", {"bitcoin wallet": 6})
    store = Store(path)  # a second copy of each text, as another prompt: the same vector, stored as float16
    run = store.start_run(alpha=0.05)
    copies = [(f"copy{i}",) + row[1:] for i, row in enumerate(store.db.execute(
        "SELECT * FROM scores WHERE text LIKE 'bitcoin%'").fetchall())]
    store.write_chunk(copies, {}, [])
    store.close()
    result = queue.add(path, max_p_value=1, budget=500, dedupe=1)
    assert result.added == 6 + 10 and result.near_duplicates == 6  # six topic texts, ten noise texts, once each


def test_import_matches_an_id_with_stray_spaces(db, tmp_path):
    queue.add(db, cluster=bitcoin(db), budget=2, dedupe=0.999)
    first = queue.items(db)[0]["prompt_id"]
    (tmp_path / "l.csv").write_text(f"id,label\n{first}  ,crypto\n")
    assert queue.import_labels(db, tmp_path / "l.csv")["labelled"] == 1


def test_exports_never_write_over_the_database_nor_leave_a_traceback(db, tmp_path):
    queue.add(db, cluster=bitcoin(db), budget=2, dedupe=0.999)
    before = db.read_bytes()
    with pytest.raises(InputError, match="also what this command reads"):
        queue.export(db, db, "csv")
    assert db.read_bytes() == before and queue.stats(db)["pending"] == 2
    out = CliRunner().invoke(app, ["queue", "export", "--db", str(db), "-o", "/dev/full"])
    assert out.exit_code == 2 and "writing it failed" in out.output and queue.stats(db)["pending"] == 2
    with pytest.raises(InputError, match="from 0 to 1"):
        queue.add(db, max_p_value=float("nan"))
    log = tmp_path / "2026-11-23.jsonl"
    log.write_text('{"prompt": "hi"}\n')
    store = Store(db)
    store.finish_run(store.start_run(sources=json.dumps([str(log)])))
    store.close()
    for export in (lambda: queue.export(db, log), lambda: golden_refresh(db, log)):
        with pytest.raises(InputError, match="also what this command reads"):  # was: the log overwritten
            export()
    assert log.read_text() == '{"prompt": "hi"}\n'


def test_a_nul_in_a_prompt_does_not_make_the_csv_binary_and_unlabelled_exports_warn(db, tmp_path):
    queue.add(db, cluster=bitcoin(db), budget=2, dedupe=0.999)
    store = Store(db)
    store.db.execute("UPDATE queue SET text = ? WHERE rowid = 1", ["nul\x00in"])
    store.db.conn.commit()
    store.close()
    queue.export(db, tmp_path / "q.csv", "csv")
    assert b"\x00" not in (tmp_path / "q.csv").read_bytes() and "nul\ufffdin" in (tmp_path / "q.csv").read_text()
    out = CliRunner().invoke(app, ["queue", "export", "--db", str(db), "-o", str(tmp_path / "c.jsonl"),
                                   "--status", "exported"])
    assert out.exit_code == 0 and "2 of them have no label yet (an empty assistant answer)" in out.output


def test_clusters_whose_prompts_were_pruned_say_so_instead_of_no_clusters_yet(tmp_path):
    db = novel_db(tmp_path / "m.db", {"bitcoin wallet": 40})
    cluster = find_clusters(db)[0].cluster_id
    with Store(db).db.conn as conn:  # as prune does to old prompts
        conn.execute("DELETE FROM cluster_members")
    with pytest.raises(InputError, match="no prompts left"):
        queue.add(db, cluster=cluster)
    assert "no prompts left (pruned)" in queue.add(db, cluster="all").note  # all: nothing to add, not an error
    with pytest.raises(InputError, match="no cluster 'c9999'"):
        queue.add(db, cluster="c9999")


def test_queue_by_incident_takes_the_novel_prompts_of_its_window_and_says_when_none_are_left(tmp_path):
    db = novel_db(tmp_path / "m.db", {"bitcoin wallet": 30})
    with Store(db).db.conn as conn:
        conn.execute("INSERT INTO incidents (incident_id, kind, window_start, window_end) VALUES "
                     "('i1', 'label_bias', '2026-11-24T00:00:00Z', '2026-11-25T00:00:00Z')")
    result = queue.add(db, incident=" I1 ", budget=500)  # ids are lower-case hex: as typed from a mail, too
    assert result.candidates == 20 + 7  # the prompts of 11-24: two thirds of the topic, of the noise
    with pytest.raises(InputError, match="no incident 'i2'"):
        queue.add(db, incident="i2")
    with Store(db).db.conn as conn:  # as prune does
        conn.execute("DELETE FROM scores WHERE ts < '2026-11-25'")
    with pytest.raises(InputError, match="i1.*no novel prompts stored in its window: prune deleted them"):
        queue.add(db, incident="i1")  # was: "Queued 0 of 0 candidates", exit 0


def test_an_export_with_nothing_to_export_leaves_the_file_it_wrote(db, tmp_path):
    queue.add(db, cluster=bitcoin(db), budget=3, dedupe=0.999)
    args = ["queue", "export", "--db", str(db), "-o", str(tmp_path / "todo.csv"), "--format", "csv"]
    assert CliRunner().invoke(app, args).exit_code == 0
    written = (tmp_path / "todo.csv").read_text()
    again = CliRunner().invoke(app, args)  # was: "Wrote 0 prompts", the file emptied to its header
    assert again.exit_code == 0 and "No pending items to export (the queue holds 3 exported; --status exported" in again.output
    assert "left as it was" in again.output and (tmp_path / "todo.csv").read_text() == written
    refused = CliRunner().invoke(app, ["queue", "export", "--db", str(db), "-o", str(db), "--format", "csv"])
    assert refused.exit_code == 2 and "also what this command reads" in refused.output  # was: 'left as it was'


def test_import_reads_na_null_none_as_not_labelled_and_refuses_labels_with_line_breaks(db, tmp_path):
    ids = exported_ids(db, tmp_path, n=5)
    path = tmp_path / "labels.csv"
    path.write_text(f'id,label\n{ids[0]},NA\n{ids[1]},NULL\n{ids[2]},<NA>\n{ids[3]},"two\nlines"\n{ids[4]},crypto\n',
                    encoding="utf-8")
    got = queue.import_labels(db, path)  # was: NA, null, None and the two-line label stored, then learned
    assert got["labelled"] == 1 and got["skipped"] == {"not_labelled": 3, "label_line_break": 1}
    assert [r["label"] for r in queue.items(db, "labelled")] == ["crypto"]


@pytest.mark.parametrize("args, message", [
    (["queue", "golden", "-o", "g.csv", "--seed", "-1"], "--seed must be 0 or more"),  # was exit 3 (numpy)
    (["queue", "add", "--cluster", ""], "--cluster is empty"),                        # was 'Queued 0 of 0', exit 0
    (["queue", "add", "--incident", " "], "--incident is empty"),
])
def test_queue_refuses_odd_arguments_in_one_line(db, tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    out = CliRunner().invoke(app, [*args, "--db", str(db)])
    assert out.exit_code == 2 and message in out.output and "Traceback" not in out.output


def test_clusters_show_takes_a_limit_beyond_sqlite_integers(db):
    out = CliRunner().invoke(app, ["clusters", "show", bitcoin(db), "--db", str(db), "--limit", str(2 ** 63)])
    assert out.exit_code == 0 and "bitcoin" in out.output  # was: OverflowError, exit 3


def test_add_says_how_many_of_the_queued_prompts_are_look_alikes(db):
    cid = bitcoin(db)
    store = Store(db)
    hashes = [h for (h,) in store.db.execute(
        "SELECT s.text_hash FROM scores s JOIN cluster_members m USING (prompt_id) WHERE m.cluster_id = ?", [cid])]
    centre = store.vectors(hashes).mean(axis=0)
    store.close()
    add_unflagged(db, [(f"near{i}", "2026-11-24T12:00:00Z", centre + 0.001 * i, 0.5) for i in range(3)])
    out = CliRunner().invoke(app, ["queue", "add", "--db", str(db), "--cluster", cid, "--budget", "2"])
    queued = [r["source"] for r in queue.items(db)]
    similar = sum(s.startswith("look-alike:") for s in queued)
    # was: "(3 of them look-alikes; ...)" counting the candidates, whatever was queued
    assert out.exit_code == 0 and f"{2 - similar} of the cluster's prompts and {similar} of their 3 look-alikes" \
        in out.output
    result = queue.add(db, cluster=cid, budget=2, dedupe=0.999)  # QA: the rest past the budget went unsaid
    assert result.over_budget > 0 and result.to_dict()["over_budget"] == result.over_budget
    assert result.candidates == (result.added + result.near_duplicates + result.already_queued + result.no_vector
                                 + result.over_budget)
    out = CliRunner().invoke(app, ["queue", "add", "--db", str(db), "--cluster", "all", "--budget", "1"])
    assert "of the clusters' prompts" in out.output or "look-alikes" not in out.output
    assert "over the budget, left for a later add" in out.output


def test_listings_keep_one_prompt_a_line(db, tmp_path):
    store = Store(db)
    cid = bitcoin(db)
    store.db.execute("UPDATE scores SET text = 'bitcoin\nwallet\r\nstuck' WHERE prompt_id = "
                     "(SELECT prompt_id FROM cluster_members WHERE cluster_id = ? LIMIT 1)", [cid])
    store.db.conn.commit()
    store.close()
    queue.add(db, cluster=cid, budget=100, dedupe=0.999)
    for command in (["clusters", "show", cid], ["queue", "list"]):
        out = CliRunner().invoke(app, [*command, "--db", str(db)]).output
        raw = json.loads(CliRunner().invoke(app, [*command, "--db", str(db), "--json"]).output)
        assert "bitcoin\nwallet\r\nstuck" in {r["text"] for r in raw}  # --json keeps the text exact
        # was: the prompt's line breaks split it over three lines
        assert "bitcoin wallet stuck" in out and len(out.splitlines()) == len(raw)


def test_messages_say_what_is_missing(db, tmp_path, train_csv):
    from novelty.index import PromptIndex

    out = CliRunner().invoke(app, ["clusters", "show", "c9999", "--db", str(db)])
    assert out.exit_code == 2 and f"its clusters include {bitcoin(db)}" in out.output  # was: "run clusters first"
    quiet = novel_db(tmp_path / "quiet.db", {"bitcoin wallet": 5})
    with Store(quiet).db.conn as conn:
        conn.execute("UPDATE scores SET is_novel = 0")
    assert queue.add(quiet, cluster="all").note.startswith("no prompt was flagged novel")  # was: "run `novelty clusters` first"
    (tmp_path / "new.csv").write_text("id,text,intent\na1,some new question,crypto\n", encoding="utf-8")
    built = PromptIndex.build(train_csv, "lab", index_dir=tmp_path / "ix", model="hashing:64", scorer="ensemble")
    with pytest.raises(InputError, match="no label in any row .is the column called 'label'. set --label-col"):
        built.add(tmp_path / "new.csv")  # was: "has prompts without one (column 'label')"


@pytest.mark.parametrize("suffix", ["-wal", "-shm", "-journal"])
def test_export_refuses_to_write_over_the_database_s_own_files(db, suffix):
    out = CliRunner().invoke(app, ["queue", "export", "--db", str(db), "-o", f"{db}{suffix}", "--format", "csv"])
    # was: written over the live write-ahead log, which then vanished
    assert out.exit_code == 2 and "belongs to the database" in out.output


def test_import_reads_semicolon_and_tab_files_and_refuses_a_doubled_label_column(db, tmp_path):
    a, b, c = exported_ids(db, tmp_path)
    (tmp_path / "semi.csv").write_text(f"id;label\n{a};crypto\n", encoding="utf-8")
    (tmp_path / "tabs.tsv").write_text(f"id\tlabel\n{b}\tcrypto\n", encoding="utf-8")
    for name in ("semi.csv", "tabs.tsv"):  # was: "needs 'id' and 'label' columns (found ['id;label'])"
        assert queue.import_labels(db, tmp_path / name)["labelled"] == 1
    (tmp_path / "two.csv").write_text(f"id,label,label\n{c},crypto,wallet\n", encoding="utf-8")
    with pytest.raises(InputError, match="names 'label' more than once"):  # was: the last one taken, silently
        queue.import_labels(db, tmp_path / "two.csv")
    (tmp_path / "open.csv").write_text(f'id,label\n{c},"crypto\n{a},wallet\n{b},wallet\n', encoding="utf-8")
    got = queue.import_labels(db, tmp_path / "open.csv")  # a quote left open swallowed the rest of the file
    assert got["skipped_lines"] == {"open_quote": [2]}  # where it starts (was: short_row on the last line)
    assert got["labelled"] == 2  # the lines after it are read again (was: lost inside its label)


def test_import_and_the_other_readers_say_a_file_is_utf16(db, tmp_path):
    (tmp_path / "labels.csv").write_bytes("id,label\nx,crypto\n".encode("utf-16"))  # Excel's 'Unicode Text'
    with pytest.raises(InputError, match="UTF-16 text .* iconv -f UTF-16 -t UTF-8"):  # was: 'not UTF-8 (byte 0xff)'
        queue.import_labels(db, tmp_path / "labels.csv")
    labels = str(tmp_path / "labels.csv")
    for args in (["drift", labels, labels], ["feedback", labels, "--db", str(db)]):
        out = CliRunner().invoke(app, args, catch_exceptions=False, env={"COLUMNS": "200"})
        assert out.exit_code == 2 and "is UTF-16 text" in out.output, out.output


def test_import_reads_on_past_a_stray_quote(db, tmp_path):
    a, b, c = exported_ids(db, tmp_path)
    path = tmp_path / "stray.csv"  # the quote on line 2 is closed by the one on line 4: one long label
    path.write_text(f'id,label\n{a},"crypto\n{b},wallet\n{c},"wallet"\n', encoding="utf-8")
    got = queue.import_labels(db, path)
    assert got["skipped_lines"] == {"open_quote": [2]} and got["labelled"] == 2  # was: 0, one label_line_break
    assert {r["label"] for r in queue.items(db, "labelled")} == {"wallet"}


def test_import_counts_lines_past_blank_ones(db, tmp_path):
    a, b, c = exported_ids(db, tmp_path)
    (tmp_path / "gaps.csv").write_text(f"id,label\n\n\n{a},\n{b},crypto\n\n{c},NA\n", encoding="utf-8")
    got = queue.import_labels(db, tmp_path / "gaps.csv")  # was: lines 2 and 6, the blank lines before them
    assert got["skipped_lines"] == {"blank_label": [4], "not_labelled": [7]} and got["labelled"] == 1


def test_exports_write_to_standard_output_with_dash_and_their_messages_to_stderr(db, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    queue.add(db, cluster=bitcoin(db), budget=3, dedupe=0.999)
    out = CliRunner().invoke(app, ["queue", "export", "--db", str(db), "-o", "-", "--format", "csv"])
    rows = list(csv.DictReader(out.stdout.splitlines()))  # was: a file named '-' in the current folder
    assert out.exit_code == 0 and len(rows) == 3 and not (tmp_path / "-").exists()
    assert "Wrote 3 prompts to standard output" in out.stderr and queue.stats(db)["exported"] == 3
    golden = CliRunner().invoke(app, ["queue", "golden", "--db", str(db), "-o", "-", "--size", "5"])
    assert golden.exit_code == 0 and len(list(csv.DictReader(golden.stdout.splitlines()))) == 5
    assert "Wrote 5 of" in golden.stderr and not (tmp_path / "-").exists()
    both = CliRunner().invoke(app, ["queue", "export", "--db", str(db), "-o", "-", "--json"])
    assert both.exit_code == 2 and "both write to standard output" in both.output


def test_import_reads_the_batch_jsonl_export_parquet_gzip_and_named_columns(db, tmp_path):
    import gzip

    import pyarrow as pa
    import pyarrow.parquet as pq

    a, b, c = exported_ids(db, tmp_path)
    lines = [{"id": a, "note": "t", "label": "crypto"}, {"id": b, "note": "t", "label": None}, [1], {"id": c, "label": 7.0}]
    (tmp_path / "batch.jsonl").write_text("\n".join(json.dumps(r) for r in lines) + "\n{oops\n", encoding="utf-8")
    got = queue.import_labels(db, tmp_path / "batch.jsonl")  # was: "needs 'id' and 'label' columns (found ['{\"id\"...
    assert got["labelled"] == 2 and got["skipped_lines"] == {"blank_label": [2], "invalid_json": [3, 5]}
    assert {r["prompt_id"]: r["label"] for r in queue.items(db, "labelled")} == {a: "crypto", c: "7"}
    pq.write_table(pa.table({"prompt_id": [a], "intent": ["wallet"]}), tmp_path / "l.parquet")
    got = queue.import_labels(db, tmp_path / "l.parquet", label_col="intent")  # was: 'not UTF-8 text (byte 0x50)'
    assert got["labelled"] == 1
    with gzip.open(tmp_path / "l.csv.gz", "wt", encoding="utf-8") as fh:
        fh.write(f"request_id,label\n{b},fees\n")
    out = CliRunner().invoke(app, ["queue", "import", str(tmp_path / "l.csv.gz"), "--db", str(db), "--id-col",
                                   "request_id", "--json"])
    assert out.exit_code == 0 and json.loads(out.output)["labelled"] == 1, out.output
    with pytest.raises(InputError, match="needs the column 'id' .* --id-col"):
        queue.import_labels(db, tmp_path / "l.csv.gz")
    with pytest.raises(InputError, match="needs the column 'intent'"):  # was: 'Skipped 4 rows: blank label', exit 0
        queue.import_labels(db, tmp_path / "batch.jsonl", label_col="intent")
    with pytest.raises(InputError, match="needs the column 'request_id'"):
        queue.import_labels(db, tmp_path / "batch.jsonl", id_col="request_id")
    (tmp_path / "spaced.csv").write_text(f"id,label\n {a} ,fees\n", encoding="utf-8")
    assert queue.import_labels(db, tmp_path / "spaced.csv")["labelled"] == 1  # ids as score stores them


def test_cluster_all_on_a_day_without_clusters_queues_nothing_and_says_why(tmp_path):
    path = novel_db(tmp_path / "quiet.db", {"bitcoin wallet": 40})  # novel prompts, `clusters` never stored any
    out = CliRunner().invoke(app, ["queue", "add", "--db", str(path), "--cluster", "all"])
    assert out.exit_code == 0, out.output  # was: exit 2, 'no clusters yet', which broke set -e cron scripts
    assert "Queued nothing: no clusters stored: `novelty clusters` has not run, or found too few" in out.output
    got = queue.add(path, cluster="all")
    assert (got.added, got.candidates) == (0, 0) and got.note.startswith("no clusters stored")


def test_import_names_the_ids_not_in_the_queue_and_says_when_none_is(db, tmp_path):
    a, _, _ = exported_ids(db, tmp_path)
    (tmp_path / "l.csv").write_text(f"id,label\n{a},crypto\nnope-1,fees\nnope-2,fees\n", encoding="utf-8")
    out = CliRunner().invoke(app, ["queue", "import", str(tmp_path / "l.csv"), "--db", str(db)])
    assert "2 ids not in the queue, e.g. 'nope-1', 'nope-2'" in out.output  # was: counted only
    assert queue.import_labels(db, tmp_path / "l.csv")["unknown_id_examples"] == ["nope-1", "nope-2"]
    (tmp_path / "other.csv").write_text("id,label\n1.23E+15,fees\n", encoding="utf-8")
    out = CliRunner().invoke(app, ["queue", "import", str(tmp_path / "other.csv"), "--db", str(db)])
    assert out.exit_code == 2 and "None of the file's ids is in this database's queue" in out.stderr  # was: 0


def test_import_skips_rows_whose_text_is_another_prompt_s_and_exits_2_when_nothing_applies(db, tmp_path):
    """QA: a label file of another database whose ids repeat (request numbers) put its labels on this
    queue's prompts ('hello how to unlock my pin' became crypto), exit 0, and into the index next."""
    queue.add(db, cluster=bitcoin(db), budget=3, dedupe=0.999)
    queue.export(db, tmp_path / "todo.csv", "csv")
    with (tmp_path / "todo.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    with (tmp_path / "done.csv").open("w", newline="") as fh:  # as a spreadsheet saves it: CRLF, spaces
        writer = csv.writer(fh)
        writer.writerow(["id", "text", "label"])
        writer.writerow([rows[0]["id"], "  " + rows[0]["text"].replace(" ", "  ") + " ", "crypto"])
        writer.writerow([rows[1]["id"], "hello how to unlock my pin", "crypto"])  # another database's prompt
        writer.writerow([rows[2]["id"], "", "crypto"])  # no text given: not checked
    got = queue.import_labels(db, tmp_path / "done.csv")
    assert got["labelled"] == 2 and got["skipped"] == {"text_mismatch": 1} and got["skipped_lines"] == {
        "text_mismatch": [3]}
    assert {i["prompt_id"]: i["label"] for i in queue.items(db)}[rows[1]["id"]] is None
    out = CliRunner().invoke(app, ["queue", "import", str(tmp_path / "done.csv"), "--db", str(db)])
    assert out.exit_code == 0 and "Skipped 1 row: its text shares under half its words" in out.output
    (tmp_path / "todo-as-is.csv").write_text((tmp_path / "todo.csv").read_text())  # exported, not labelled
    for extra in ([], ["--json"]):
        out = CliRunner().invoke(app, ["queue", "import", str(tmp_path / "todo-as-is.csv"), "--db", str(db), *extra])
        assert out.exit_code == 2 and "no label in" in out.stderr  # was: 0, and a script went on to index add


def test_csv_export_warns_of_formula_prompts_and_escapes_them_when_asked(db, tmp_path):
    queue.add(db, cluster=bitcoin(db), budget=3)
    first = queue.items(db, "pending")[0]["prompt_id"]
    with Store(db).db.conn as conn:
        conn.execute("""UPDATE queue SET text = '=HYPERLINK("http://evil")' WHERE prompt_id = ?""", [first])
    out = CliRunner().invoke(app, ["queue", "export", "--db", str(db), "-o", str(tmp_path / "a.csv"), "--format", "csv",
                                   "--status", "pending"])
    assert "1 row has a cell starting with = + - or @ (prompt, id or label): a spreadsheet may run" in out.stderr
    assert '"=HYPERLINK(""http://evil"")"' in (tmp_path / "a.csv").read_text()  # as it was: index add reads this
    out = CliRunner().invoke(app, ["queue", "export", "--db", str(db), "-o", str(tmp_path / "b.csv"), "--format", "csv",
                                   "--status", "exported", "--escape-formulas", "--json"])
    assert json.loads(out.stdout)["formulas_escaped"] is True
    rows = list(csv.DictReader((tmp_path / "b.csv").open(encoding="utf-8")))
    assert [r["text"] for r in rows if r["id"] == first] == ["'=HYPERLINK(\"http://evil\")"]
    assert all(not r["text"].startswith("'") for r in rows if r["id"] != first)


def test_formula_ids_and_labels_are_counted_escaped_and_read_back(db, tmp_path):
    """QA (security): request ids are often the client's X-Request-Id and predicted labels model text,
    but only the prompt was counted and escaped: an export whose '=HYPERLINK' was in its id column
    said nothing. Read back, an escaped id and label are the queue's own."""
    queue.add(db, cluster=bitcoin(db), budget=3)
    first = queue.items(db, "pending")[0]["prompt_id"]
    with Store(db).db.conn as conn:
        for table in ("queue", "scores"):
            conn.execute(f"UPDATE {table} SET prompt_id = '=HYPERLINK(\"http://evil\")' WHERE prompt_id = ?", [first])
        conn.execute("UPDATE queue SET predicted_label = '@SUM(A1)'")
    out = CliRunner().invoke(app, ["queue", "export", "--db", str(db), "-o", str(tmp_path / "a.csv"), "--status",
                                   "pending", "--escape-formulas"])
    assert out.exit_code == 0 and "3 rows have cells starting with = + - or @ (prompt, id or label): " \
        "written with a ' before them" in out.stderr, out.output
    rows = list(csv.DictReader((tmp_path / "a.csv").open(encoding="utf-8")))
    assert {r["predicted_label"] for r in rows} == {"'@SUM(A1)"}
    assert "'=HYPERLINK(\"http://evil\")" in [r["id"] for r in rows]
    for r in rows:
        r["label"] = "-crypto-"  # a label a spreadsheet would run too, escaped by the labeller's tool
    with (tmp_path / "done.csv").open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, list(rows[0]))
        writer.writeheader()
        writer.writerows({**r, "label": "'" + r["label"]} for r in rows)
    got = queue.import_labels(db, tmp_path / "done.csv")
    assert got["labelled"] == 3 and got["unknown_ids"] == 0, got
    assert {i["label"] for i in queue.items(db, "labelled")} == {"-crypto-"}


@pytest.mark.parametrize("call, message", [
    (lambda db: queue.add(db, cluster=6), "cluster is a cluster id such as 'c0003', or 'all', not 6 (int)"),
    (lambda db: queue.add(db, cluster="all", budget="10"), "budget is a whole number such as 200, not '10'"),
    (lambda db: queue.add(db, cluster="all", budget=2.5), "budget is a whole number"),
    (lambda db: queue.import_labels(db, __import__("pandas").DataFrame({"id": ["a"]})), "write the DataFrame to a file"),
    (lambda db: find_clusters(db, min_size="5"), "min_size is a whole number such as 5"),
    (lambda db: __import__("novelty.clusters").clusters.cluster_prompts(db, "c0001", limit="3"), "limit is a whole"),
    (lambda db: __import__("novelty.prune").prune.prune(db, 90), "older_than is a span such as '90d'"),
])
def test_library_calls_with_the_wrong_kind_of_argument_say_what_to_pass(db, call, message):
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):  # was: TypeErrors
        call(db)


def test_library_calls_take_numpy_numbers_and_path_likes(db, tmp_path):
    import py

    assert queue.add(db, cluster=bitcoin(db), budget=np.int64(3), dedupe=np.float32(0.95)).added == 3
    path = write_labels(tmp_path / "l.csv", [queue.items(db, "pending")[0]["prompt_id"]], "crypto")
    assert queue.import_labels(db, py.path.local(path))["labelled"] == 1


def test_a_quote_left_open_on_the_last_line_is_set_aside_too(db, tmp_path):
    a, b, _ = exported_ids(db, tmp_path)
    for ending in ("\n", ""):
        (tmp_path / "l.csv").write_text(f'id,label\n{a},fees\n{b},"login{ending}', encoding="utf-8")
        got = queue.import_labels(db, tmp_path / "l.csv")  # was: b labelled 'login' (or 'login\n') silently
        assert got["skipped_lines"] == {"open_quote": [3]}


def test_every_result_a_library_call_returns_goes_to_json(tmp_path):
    import json as _json

    from novelty.feedback import FeedbackImport
    from novelty.index import AddResult
    from novelty.queue import QueueResult
    from novelty.starter import StarterResult

    for result in (AddResult(1, 0, 0, 1), QueueResult(0, 0, 0, 0), StarterResult("m.toml", None, {}),
                   FeedbackImport(**{name: 0 for name in FeedbackImport.__dataclass_fields__} | {"source": "f.csv"})):
        assert _json.loads(_json.dumps(result.to_dict()))  # had no to_dict: 'not JSON serializable'


def test_queue_import_refuses_an_empty_id_column_name(db, tmp_path):
    (tmp_path / "l.csv").write_text("id,label\nx,a\n", encoding="utf-8")
    out = CliRunner().invoke(app, ["queue", "import", str(tmp_path / "l.csv"), "--db", str(db), "--id-col", ""])
    assert out.exit_code == 2 and "--id-col is empty" in out.output  # was: the default column, silently


def test_imported_labels_take_the_form_the_index_stores_so_they_reach_trained(db, tmp_path, index):
    # 'ｃrypto' (full width) and 'cry\u200bpto' were stored as typed; index add stored 'crypto', so
    # queue trained never found them, and every import of the same file 'relabelled' them
    ids = exported_ids(db, tmp_path)
    typed = tmp_path / "typed.csv"
    typed.write_text(f"id,label\n{ids[0]},\uff43rypto\n{ids[1]},cry\u200bpto\n{ids[2]}, crypto\n", encoding="utf-8")
    assert queue.import_labels(db, typed)["labelled"] == 3
    assert {r["label"] for r in queue.items(db)} == {"crypto"}
    again = queue.import_labels(db, typed)
    assert (again["labelled"], again["unchanged"]) == (0, 3)
    empty = tmp_path / "empty.csv"  # review: normalised after the checks, these were stored as labels ''/'NA'
    empty.write_text(f"id,label\n{ids[0]},\u200b\n{ids[1]},\uff2e\uff21\n", encoding="utf-8")
    skipped = queue.import_labels(db, empty)
    assert skipped["labelled"] == 0 and set(skipped["skipped"]) == {"blank_label", "not_labelled"}
    assert {r["label"] for r in queue.items(db)} == {"crypto"}
    queue.export(db, tmp_path / "learn.csv", "csv", status="labelled")
    index.add(tmp_path / "learn.csv")
    assert queue.mark_trained(db, index.path) == 3 and queue.stats(db)["trained"] == 3


def test_an_export_stopped_halfway_leaves_the_earlier_file_and_no_part(db, tmp_path, monkeypatch):
    # it wrote straight into -o: Ctrl-C left 130,159 of 300,000 lines over the earlier export, each valid,
    # under "nothing half-written"
    queue.add(db, cluster=bitcoin(db), budget=5, dedupe=0.999)
    earlier = tmp_path / "to-label.jsonl"
    before = '{"id": "old", "text": "the earlier export", "label": null}\n'
    earlier.write_text(before)
    earlier.chmod(0o640)
    written = []

    def stop_at_the_third(record):
        if len(written) == 2:
            raise KeyboardInterrupt
        written.append(record)
        return json.dumps(record) + "\n"

    monkeypatch.setattr(queue, "_jsonl_line", stop_at_the_third)
    with pytest.raises(KeyboardInterrupt):
        queue.export(db, earlier, "batch-jsonl")
    assert earlier.read_text() == before and len(written) == 2
    assert not list(tmp_path.glob(".*.part")) and queue.stats(db)["pending"] == 5
    monkeypatch.undo()
    assert queue.export(db, earlier, "batch-jsonl") == 5
    assert len(earlier.read_text().splitlines()) == 5 and earlier.stat().st_mode & 0o777 == 0o640  # its mode kept
    fresh = tmp_path / "fresh.csv"
    queue.export(db, fresh, "csv", status="exported")
    assert fresh.stat().st_mode & 0o777 == 0o666 & ~current_umask()  # a plain open's mode, not mkstemp's 0600
    linked = tmp_path / "linked.csv"  # a hard link is written in place: both names hold the new export
    linked.hardlink_to(fresh)
    fresh.write_text("id,text,label,predicted_label\nold,an old export,,\n")
    queue.export(db, fresh, "csv", status="exported")
    assert linked.read_text() == fresh.read_text() and "old" not in fresh.read_text()


def test_an_export_typed_onto_another_database_is_refused(db, tmp_path):
    # queue golden -o m0.db replaced another monitoring database with CSV, exit 0 (report refused it)
    queue.add(db, cluster=bitcoin(db), budget=3, dedupe=0.999)
    other = novel_db(tmp_path / "other.db", {"refund": 5})
    before = other.read_bytes()
    for command in (["queue", "export", "--db", str(db), "-o", str(other), "--format", "csv"],
                    ["queue", "golden", "--db", str(db), "-o", str(other), "--size", "5"]):
        out = CliRunner().invoke(app, command)
        assert out.exit_code == 2 and "is a SQLite database" in out.output, command
    assert other.read_bytes() == before and queue.stats(db)["pending"] == 3


def test_streams_and_links_to_them_are_written_in_place_and_a_tmpfs_file_is_replaced(tmp_path):
    # review: a link to /dev/stdout (stdout redirected to a file) was renamed over, losing what the shell
    # had appended; every path under /dev/ was written in place, /dev/shm (a plain tmpfs) too
    import os
    from pathlib import Path

    from novelty.logs import _replaceable
    link = tmp_path / "out"
    link.symlink_to("/dev/stdout")
    assert not _replaceable(link, Path(os.path.realpath(link))) and not _replaceable(Path("/dev/stdout"), tmp_path)
    plain = tmp_path / "plain.csv"
    plain.write_text("x")
    assert _replaceable(plain, plain) and _replaceable(tmp_path / "new.csv", tmp_path / "new.csv")
    if Path("/dev/shm").is_dir() and os.access("/dev/shm", os.W_OK):
        shm = Path("/dev/shm") / f"novelty-test-{os.getpid()}.csv"
        shm.write_text("x")
        try:
            assert _replaceable(shm, shm)
        finally:
            shm.unlink()


def test_export_takes_its_format_from_the_file_name_and_refuses_a_name_saying_another(db, tmp_path):
    """QA: `-o to-label.csv` without --format wrote JSON lines and marked every item exported, so the
    corrected command found nothing left to export; .gz and .parquet names got plain text."""
    queue.add(db, cluster=bitcoin(db), budget=4, dedupe=0.999)
    for name, args in (("a.csv", ["--format", "chat-jsonl"]), ("b.jsonl", ["--format", "csv"]),
                       ("c.csv.gz", []), ("d.parquet", ["--format", "csv"])):
        out = CliRunner().invoke(app, ["queue", "export", "--db", str(db), "-o", str(tmp_path / name), *args])
        assert out.exit_code == 2 and not (tmp_path / name).exists(), (name, out.output)
    assert queue.stats(db)["pending"] == 4  # nothing marked exported
    out = CliRunner().invoke(app, ["queue", "export", "--db", str(db), "-o", str(tmp_path / "to-label.csv")])
    assert out.exit_code == 0 and next(csv.reader((tmp_path / "to-label.csv").open()))[:3] == ["id", "text", "label"]
    out = CliRunner().invoke(app, ["queue", "export", "--db", str(db), "-o", str(tmp_path / "again.csv")])
    assert "(the queue holds 4 exported; --status exported writes those exported again)" in out.output
    assert queue.export(db, tmp_path / "chat.jsonl", status="exported") == 4  # the library's default too
    assert "messages" in json.loads((tmp_path / "chat.jsonl").read_text().splitlines()[0])


def test_import_says_when_labels_differ_only_in_case(db, tmp_path):
    """QA: 'Crypto', 'CRYPTO' and 'crypto' were imported without a word and became three intents in the index."""
    a, b, c = exported_ids(db, tmp_path)
    write_labels(tmp_path / "l.csv", [a, b], "crypto")
    (tmp_path / "m.csv").write_text(f"id,label\n{c},Crypto\n", encoding="utf-8")
    assert queue.import_labels(db, tmp_path / "l.csv")["case_variants"] == []
    got = queue.import_labels(db, tmp_path / "m.csv")
    assert got["case_variants"] == [{"crypto": 2, "Crypto": 1}]
    out = CliRunner().invoke(app, ["queue", "import", str(tmp_path / "m.csv"), "--db", str(db)])
    assert "differ only in case or separators: 'crypto' x2, 'Crypto' x1" in out.stderr and out.exit_code == 0
    (tmp_path / "n.csv").write_text(f"id,label\n{c},Exchange-Rate\n{b},exchange_rate\n", encoding="utf-8")
    got = queue.import_labels(db, tmp_path / "n.csv")  # QA: 'exchange rate' beside 'exchange_rate' passed unsaid
    assert {"Exchange-Rate": 1, "exchange_rate": 1} in got["case_variants"]


def test_a_dash_or_question_mark_is_not_a_label(db, tmp_path):
    """QA: NA, null and #N/A were skipped as not labelled, but '-' and '?' went into the index as intents."""
    a, b, c = exported_ids(db, tmp_path)
    (tmp_path / "l.csv").write_text(f"id,label\n{a},-\n{b}, ? \n{c},crypto\n", encoding="utf-8")
    got = queue.import_labels(db, tmp_path / "l.csv")
    assert got["labelled"] == 1 and got["skipped"] == {"not_labelled": 2}


def test_chat_export_takes_a_system_message_and_escape_formulas_is_for_csv(db, tmp_path):
    queue.add(db, cluster=bitcoin(db), budget=2, dedupe=0.999)
    out = CliRunner().invoke(app, ["queue", "export", "--db", str(db), "-o", str(tmp_path / "a.jsonl"),
                                   "--escape-formulas"])
    assert out.exit_code == 2 and "--escape-formulas is for --format csv" in out.output  # was: ignored
    out = CliRunner().invoke(app, ["queue", "export", "--db", str(db), "-o", str(tmp_path / "a.jsonl"),
                                   "--system", "Route the question."])
    assert out.exit_code == 0
    first = json.loads((tmp_path / "a.jsonl").read_text().splitlines()[0])
    assert first["messages"][0] == {"role": "system", "content": "Route the question."}


def test_library_queue_calls_match_the_cli(tmp_path, index, day_log):
    # QA round 23: export(escape_formulas=True) to JSON lines was ignored without a word (the CLI refuses
    # it); mark_trained(index=<a loaded PromptIndex>) said 'PromptIndex.load takes an index name or
    # folder'; score_files([]) recorded a run of nothing
    from novelty import queue

    db = tmp_path / "m.db"
    score_files([day_log], index, db)
    with pytest.raises(InputError, match="--escape-formulas is for --format csv"):
        queue.export(db, tmp_path / "x.jsonl", escape_formulas=True)
    assert not (tmp_path / "x.jsonl").exists()
    assert queue.mark_trained(db, index=index) == queue.mark_trained(db, index="bot", index_dir=index.path.parent) == 0
    runs = sqlite3.connect(db).execute("SELECT count(*) FROM runs").fetchone()[0]
    with pytest.raises(InputError, match="no log given"):
        score_files([], index, db)
    assert sqlite3.connect(db).execute("SELECT count(*) FROM runs").fetchone()[0] == runs


def test_a_chat_export_waiting_for_labels_is_replaced_after_prune_deleted_its_items(db, tmp_path):
    # review: prune deletes exported items it can no longer import labels for; the next export to the
    # same chat file was then refused as "a fine-tuning set of your own?"
    from novelty.prune import prune

    queue.add(db, cluster=bitcoin(db), budget=5, dedupe=0.999)
    chat = tmp_path / "to-label.jsonl"
    assert queue.export(db, chat, "chat-jsonl") == 5
    prune(db, "1d", now=datetime(2100, 1, 1, tzinfo=timezone.utc))
    assert queue.stats(db)["exported"] == 0
    assert queue.export(db, chat, "chat-jsonl") == 0  # nothing pending: the file stays as it is
    answered = [json.loads(line) for line in chat.read_text().splitlines()]
    answered[0]["messages"][-1]["content"] = "crypto"  # an answer typed in is work to lose: refused
    chat.write_text("".join(json.dumps(r) + "\n" for r in answered))
    with sqlite3.connect(db) as conn:
        conn.execute("INSERT INTO queue (prompt_id, text, status) VALUES ('new', 'a new prompt', 'pending')")
    with pytest.raises(InputError, match="1 example that is not in this database's queue"):
        queue.export(db, chat, "chat-jsonl")
    answered[0]["messages"][-1]["content"] = ""
    chat.write_text("".join(json.dumps(r) + "\n" for r in answered))
    assert queue.export(db, chat, "chat-jsonl") == 1 and "a new prompt" in chat.read_text()


def test_an_export_never_replaces_a_file_that_is_not_one_or_labels_not_imported_yet(db, tmp_path):
    from novelty.refresh import golden_refresh

    queue.add(db, cluster=bitcoin(db), budget=5, dedupe=0.999)
    training = tmp_path / "train.csv"
    training.write_text("text,label\nwhere is my card,card_arrival\n" * 3)
    for write in (lambda: queue.export(db, training, "csv"), lambda: golden_refresh(db, training)):
        with pytest.raises(InputError, match="exists and is not a"):  # was: 3,000 training prompts replaced by 5
            write()
    assert training.read_text().count("card_arrival") == 3 and queue.stats(db)["pending"] == 5
    sheet = tmp_path / "to-label.csv"
    assert queue.export(db, sheet, "csv") == 5
    rows = list(csv.reader(sheet.open(encoding="utf-8")))
    rows[1][2] = "crypto"  # an annotator's label...
    with sheet.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(rows)
    with pytest.raises(InputError, match="1 label not imported yet .* import first"):
        queue.export(db, sheet, "csv", status="exported")  # ...was lost to an export again before the import
    assert "crypto" in sheet.read_text()
    queue.import_labels(db, sheet)
    rows[1][2] = "crypto_wallet"  # corrected after the import, by another file: not 'import first' again
    with sheet.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(rows)
    queue.import_labels(db, sheet)
    with sheet.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([*rows[:1], [rows[1][0], rows[1][1], "crypto", ""]])  # the older label
    assert queue.export(db, sheet, "csv", status="exported") == 4  # imported (and corrected): the file may go
    chat = tmp_path / "train.jsonl"
    for _ in range(2):  # a chat export of this queue replaces the one before it
        assert queue.export(db, chat, "chat-jsonl", status="labelled") == 1
    own = tmp_path / "finetune.jsonl"  # review: a fine-tuning set of one's own, 3,000 lines, became 6
    own.write_text(json.dumps({"messages": [{"role": "user", "content": "hi"},
                                            {"role": "assistant", "content": "greeting"}]}) + "\n")
    with pytest.raises(InputError, match="not in this database's queue .* fine-tuning set of your own"):
        queue.export(db, own, "chat-jsonl", status="labelled")
    annotated = tmp_path / "annotated.csv"  # review: labels typed into a column of the annotators' own
    annotated.write_text("id,text,label,predicted_label,intent\nx,a prompt,,,crypto\n")
    other = tmp_path / "other.csv"  # another database's labelled export
    other.write_text("id,text,label,predicted_label\nnot-here,a prompt,crypto,\n")
    for path, says in ((annotated, "is not a queue export"), (other, "another database's export")):
        with pytest.raises(InputError, match=says):
            queue.export(db, path, "csv", status="exported")
    golden = tmp_path / "golden-next.csv"
    golden_refresh(db, golden, size=5)
    golden_refresh(db, golden, size=5)  # not labelled yet: replaced
    rows = list(csv.reader(golden.open(encoding="utf-8")))
    rows[1][2] = "card_arrival"
    with golden.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(rows)
    with pytest.raises(InputError, match="a golden set being labelled"):
        golden_refresh(db, golden, size=5)
    named = tmp_path / "golden.tsv"  # review: CSV under another name was refused as not a sample, and a
    golden_refresh(db, named, size=5)  # labelled one named .jsonl replaced
    golden_refresh(db, named, size=5)
    gold = tmp_path / "gold.csv"
    gold.write_text(golden.read_text().replace("ts\n", "ts,gold\n", 1))  # labelled in a column of its own
    with pytest.raises(InputError, match="not a golden-set sample"):
        golden_refresh(db, gold, size=5)


def test_a_none_intent_is_a_true_label_for_feedback_and_queue_import(tmp_path, train_pairs):
    # QA: index build keeps 'None' as an intent (LUIS and CLU apps all have one) and score stores it as a
    # prediction, but feedback and queue import read a 'None' label as 'not labelled yet': labels a=None
    # (predicted None), b=None (predicted balance, wrong), c=balance gave 1 label and 100 % accuracy
    from conftest import FAKE_MODEL, write_csv, write_jsonl
    from novelty.feedback import import_feedback
    from novelty.index import PromptIndex
    from novelty.logs import Columns

    rows = list(train_pairs) + [("hello there", "None"), ("good morning", "None"), ("tell me a joke", "None")]
    index = PromptIndex.build(write_csv(tmp_path / "train.csv", ["text", "label"], rows), "luis",
                              index_dir=tmp_path / "indexes", model=FAKE_MODEL, scorer="knn")
    log = write_jsonl(tmp_path / "day.jsonl", [
        {"id": "a", "prompt": "hello there friend", "predicted_label": "None"},
        {"id": "b", "prompt": "tell me a joke now", "predicted_label": "balance"},
        {"id": "c", "prompt": "what is my balance", "predicted_label": "balance"}])
    db = tmp_path / "m.db"
    score_files([log], index, db, columns=Columns(time=None, id="id"))
    labels = tmp_path / "labels.csv"
    labels.write_text("prompt_id,label\na,None\nb,None\nc,balance\nd,NA\n")
    got = import_feedback(db, labels)
    assert (got.rows, got.blank) == (3, 1)  # 'NA' is still no label
    with sqlite3.connect(db) as conn:
        assert sorted(conn.execute("SELECT prompt_id, label FROM feedback")) == [("a", "None"), ("b", "None"),
                                                                                ("c", "balance")]
        conn.executemany("INSERT INTO queue (prompt_id, text, status, added_at) VALUES (?, ?, 'exported', 'now')",
                         [("a", "hello there friend"), ("b", "tell me a joke now")])
    sheet = tmp_path / "sheet.csv"  # review: the export guard read 'None' as no label, and replaced the file
    sheet.write_text("id,text,label,predicted_label\na,hello there friend,None,\nb,tell me a joke now,,\n")
    with pytest.raises(InputError, match="1 label not imported yet"):
        queue.export(db, sheet, "csv", status="exported")
    (tmp_path / "q.csv").write_text("id,label\na,None\nb,none\n")  # 'none' is no intent's spelling here
    result = queue.import_labels(db, tmp_path / "q.csv")
    assert result["labelled"] == 1 and result["skipped"] == {"not_labelled": 1}


def test_import_says_when_a_label_found_nowhere_else_is_one_typo_from_another(db, tmp_path):
    """QA: 'crpyto' beside 'crypto' was 'Labelled 8 prompts', no word: an intent of one prompt."""
    a, b, c = exported_ids(db, tmp_path)
    write_labels(tmp_path / "l.csv", [a, b], "crypto")
    assert queue.import_labels(db, tmp_path / "l.csv")["near_misses"] == []
    (tmp_path / "m.csv").write_text(f"id,label\n{c},crpyto\n", encoding="utf-8")
    assert queue.import_labels(db, tmp_path / "m.csv")["near_misses"] == [
        {"label": "crpyto", "items": 1, "close_to": "crypto"}]
    out = CliRunner().invoke(app, ["queue", "import", str(tmp_path / "m.csv"), "--db", str(db)])
    assert "Label 'crpyto' (1 item) is in neither the index nor other queue items, and one typo from 'crypto'" \
        in out.stderr and out.exit_code == 0
    (tmp_path / "n.csv").write_text(f"id,label\n{c},savings\n", encoding="utf-8")  # a new intent: no word
    assert queue.import_labels(db, tmp_path / "n.csv")["near_misses"] == []
