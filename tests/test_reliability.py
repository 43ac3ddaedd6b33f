"""Limits and failures: a full disk, a database locked by someone else, a 10 MB prompt, 0-row logs,
and index files that were tampered with or forged."""

from __future__ import annotations

import json
import sqlite3
import threading
import time

import numpy as np
import pytest
from typer.testing import CliRunner

import novelty.store as store_module
from novelty.cli import app
from novelty.engines.local import score_files
from novelty.errors import IndexFileError, StorageError
from novelty.index import PromptIndex
from novelty.logs import Columns
from novelty.store import Store

from conftest import write_csv, write_jsonl

runner = CliRunner()
KEY = "SELECT prompt_id, similarity, is_novel FROM scores ORDER BY prompt_id"


def rows(db, sql=KEY):
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def integrity(db):
    return rows(db, "PRAGMA integrity_check") == [("ok",)]


# ------------------------------------------------------------------------------ a disk that fills up
def cap_database_size(monkeypatch, extra_pages: int):
    """Real SQLITE_FULL errors: SQLite refuses to grow the file past max_page_count."""
    real_init = Store.__init__

    def capped(self, path):
        real_init(self, path)
        pages = self.db.execute("PRAGMA page_count").fetchone()[0]
        self.db.execute(f"PRAGMA max_page_count = {pages + extra_pages}")
    monkeypatch.setattr(Store, "__init__", capped)


def test_a_disk_that_fills_mid_run_fails_cleanly_and_a_rerun_completes(tmp_path, index, day_log, monkeypatch):
    clean = score_files([day_log], index, tmp_path / "clean.db", chunk_rows=40)
    db = tmp_path / "m.db"
    Store(db).close()
    cap_database_size(monkeypatch, extra_pages=12)
    with pytest.raises(StorageError, match="database or disk is full.*free some disk space"):
        score_files([day_log], index, db, chunk_rows=40)
    partial = len(rows(db))
    assert 0 < partial < clean.scored and integrity(db)
    monkeypatch.undo()
    resumed = score_files([day_log], index, db, chunk_rows=40)
    assert resumed.skipped == partial and rows(db) == rows(tmp_path / "clean.db")
    assert integrity(db)


def test_the_cli_says_the_disk_is_full_and_exits_2(tmp_path, index, day_log, monkeypatch):
    Store(tmp_path / "m.db").close()
    cap_database_size(monkeypatch, extra_pages=12)
    out = runner.invoke(app, ["score", str(day_log), "--index", str(index.path), "--db", str(tmp_path / "m.db"),
                              "--chunk-rows", "40"])
    assert out.exit_code == 2 and "disk is full" in out.output and "Traceback" not in out.output


# ------------------------------------------------------------------------------ locks
def hold_write_lock(db, seconds):
    conn = sqlite3.connect(db, check_same_thread=False)
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("INSERT INTO meta VALUES ('holder', 'x')")

    def release():
        time.sleep(seconds)
        conn.rollback()
        conn.close()
    thread = threading.Thread(target=release)
    thread.start()
    return thread


def test_a_lock_held_longer_than_the_busy_timeout_is_retried(tmp_path, index, day_log, monkeypatch):
    db = tmp_path / "m.db"
    Store(db).close()
    monkeypatch.setattr(store_module, "BUSY_TIMEOUT_MS", 100)
    holder = hold_write_lock(db, 0.6)
    result = score_files([day_log], index, db)
    holder.join()
    assert result.scored == 400


def test_a_lock_that_never_goes_is_a_storage_error(tmp_path, monkeypatch):
    db = tmp_path / "m.db"
    Store(db).close()
    monkeypatch.setattr(store_module, "BUSY_TIMEOUT_MS", 20)
    monkeypatch.setattr(store_module, "_RETRIES", 2)
    holder = hold_write_lock(db, 1.0)
    store = Store(db)
    with pytest.raises(StorageError, match="locked.*try again"):
        store.start_run(sources="[]")
    store.close()
    holder.join()


# ------------------------------------------------------------------------------ limits
def test_a_10_mb_prompt_is_rejected_with_its_size_and_a_bounded_raw(tmp_path, index):
    log = write_jsonl(tmp_path / "big.jsonl", [{"prompt": "x" * 10_000_000, "timestamp": "2026-11-25T08:00:00Z"},
                                               {"prompt": "how do I reset my pin", "timestamp": "2026-11-25T08:01:00Z"}])
    result = score_files([log], index, tmp_path / "m.db")
    assert (result.scored, result.rejected) == (1, 1)
    reason, raw = rows(tmp_path / "m.db", "SELECT reason, length(raw) FROM rejects")[0]
    assert "10,000,000 characters, over the 20,000 limit" in reason and raw < 11_000


def test_a_last_line_without_newline_is_scored(tmp_path, index):
    path = tmp_path / "log.jsonl"
    path.write_text('{"prompt": "first"}\n{"prompt": "no newline after me"}')
    assert score_files([path], index, tmp_path / "m.db").scored == 2


def test_a_row_rejected_then_scored_when_its_line_is_complete_leaves_no_reject(tmp_path, index):
    # QA: a log read while its last line was half-written, then again when complete: the row was in
    # both scores and rejects, and the page said '2 prompts scored (1 rejected)' of a 2-row log
    import sqlite3

    path = tmp_path / "log.jsonl"
    path.write_text('{"prompt": "first", "timestamp": "2026-11-20T10:00:00Z"}\n{"prompt": "I lost my ca')
    db = tmp_path / "m.db"
    assert score_files([path], index, db).rejected == 1
    with path.open("a") as fh:
        fh.write('rd", "timestamp": "2026-11-20T10:01:00Z"}\n{"prompt": ""}\n')
    again = score_files([path], index, db)
    assert (again.scored, again.rejected) == (1, 1)
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT line, reason FROM rejects").fetchall() == [(3, "'prompt' is empty")]
        assert conn.execute("SELECT count(*) FROM scores").fetchone() == (2,)


def test_a_log_name_reused_the_next_day_keeps_both_days_rejects(tmp_path, index):
    # review: rejects were keyed by file and line only, so a log rotated under one name lost a day's
    # rejects: yesterday's line 2, now a good row, deleted it; today's bad line 3 was not stored beside
    # yesterday's line 3 (INSERT OR IGNORE of the same key)
    import sqlite3

    path, db = tmp_path / "app.jsonl", tmp_path / "m.db"
    path.write_text('{"prompt": "first", "timestamp": "2026-11-20T10:00:00Z"}\n{oops\n{"prompt": ""}\n')
    assert score_files([path], index, db).rejected == 2
    path.write_text('{"prompt": "next day", "timestamp": "2026-11-21T10:00:00Z"}\n'
                    '{"prompt": "a good row now", "timestamp": "2026-11-21T10:01:00Z"}\n[1, 2]\n')
    assert score_files([path], index, db).rejected == 1
    with sqlite3.connect(db) as conn:
        assert sorted(conn.execute("SELECT line, raw FROM rejects").fetchall()) == [
            (2, "{oops"), (3, "[1, 2]"), (3, '{"prompt": ""}')]
    assert score_files([path], index, db).rejected == 1  # a rerun of today's file stores nothing twice
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM rejects").fetchone() == (3,)

    # the same rows still replace their rejects: a line growing while half-written, then complete...
    grown, db = tmp_path / "grown.jsonl", tmp_path / "g.db"
    grown.write_text('{"prompt": "first", "timestamp": "2026-11-20T10:00:00Z"}\n{"prompt": "I lo')
    for more in ('st my ca', 'rd", "timestamp": "2026-11-20T10:01:00Z"}\n'):
        score_files([grown], index, db)
        with grown.open("a") as fh:
            fh.write(more)
        with sqlite3.connect(db) as conn:
            assert conn.execute("SELECT count(*) FROM rejects").fetchone() == (1,)
    assert (score_files([grown], index, db).scored, len(rows(db, "SELECT * FROM rejects"))) == (1, 0)
    # ...and every row of a log set aside for a wrong option, scored once it is right (no row found again)
    slashed, db = tmp_path / "slashed.csv", tmp_path / "s.db"
    slashed.write_text('prompt,when\n"say ""hi"" please",25/11/2026 10:00\nhello there,26/11/2026 10:00\n')
    assert score_files([slashed], index, db, columns=Columns(time="when")).rejected == 2
    assert score_files([slashed], index, db, columns=Columns(time="when", day_first=True)).scored == 2
    assert rows(db, "SELECT * FROM rejects") == []


def test_a_new_log_under_a_reused_name_is_said_when_rows_without_a_time_match_the_old_ones(tmp_path, index):
    # QA: rows without a time are known by file, line and text: day 2's 'hello' on line 1 of a log
    # rotated under the same name was skipped as day 1's, unsaid; a rerun or a grown log must not warn
    path, db = tmp_path / "app.jsonl", tmp_path / "m.db"
    path.write_text('{"prompt": "hello"}\n{"prompt": "can I buy bitcoin day one"}\n')
    assert score_files([path], index, db).warnings == []
    assert score_files([path], index, db).warnings == []  # a rerun
    with path.open("a") as fh:
        fh.write('{"prompt": "hello"}\n')
    grown = score_files([path], index, db)
    assert (grown.scored, grown.warnings) == (1, [])  # appended to since: not a new log
    path.write_text('{"prompt": "hello"}\n{"prompt": "can I buy bitcoin day two"}\n')
    rotated = score_files([path], index, db)
    assert (rotated.scored, rotated.skipped) == (1, 1)
    assert len(rotated.warnings) == 1 and "1 row without a time or an id was skipped" in rotated.warnings[0]
    assert "a new day's log under a reused name" in rotated.warnings[0]


@pytest.mark.parametrize("content", ["prompt,timestamp\n", "\n\n  \n"])
def test_a_log_of_zero_rows_is_empty_as_a_file_of_no_bytes_is(tmp_path, index, content):
    # QA: it was 'Scored 0 prompts', exit 0, where a file of no bytes is exit 2: an export that broke
    # after its header looked like a quiet day to cron
    path = tmp_path / ("log.csv" if "," in content else "log.jsonl")
    path.write_text(content)
    out = runner.invoke(app, ["score", str(path), "--index", str(index.path), "--db", str(tmp_path / "m.db"), "--json"])
    assert out.exit_code == 2 and "there is nothing to read" in out.output


def test_an_empty_file_is_a_clear_error(tmp_path, index):
    (tmp_path / "log.jsonl").write_text("")
    out = runner.invoke(app, ["score", str(tmp_path / "log.jsonl"), "--index", str(index.path), "--db",
                              str(tmp_path / "m.db")])
    assert out.exit_code == 2 and "is empty" in out.output


# ------------------------------------------------------------------------------ integrity
def forge(index: PromptIndex, name: str, data: bytes) -> None:
    """Replace a file AND its checksum: what an attacker with write access to indexes/ can do."""
    from novelty.index import _manifest_checksum, _sha256

    (index.path / name).write_bytes(data)
    manifest = json.loads((index.path / "manifest.json").read_text())
    manifest["files"][name] = _sha256(index.path / name)
    manifest["manifest_checksum"] = _manifest_checksum(manifest)  # a forger who knows the scheme
    (index.path / "manifest.json").write_text(json.dumps(manifest))


@pytest.mark.parametrize("name", ["index.faiss", "calibration.npy", "scorer.npz"])
def test_a_changed_file_is_refused(index, name):
    with (index.path / name).open("ab") as fh:
        fh.write(b"\x00")
    with pytest.raises(IndexFileError, match=f"{name} does not match the checksum"):
        PromptIndex.load(index.path)


def test_a_pickled_object_with_a_forged_checksum_is_refused_not_loaded(index, tmp_path):
    import io

    buffer = io.BytesIO()
    np.save(buffer, np.array([{"__reduce__": "os.system"}], dtype=object), allow_pickle=True)
    forge(index, "calibration.npy", buffer.getvalue())
    with pytest.raises(IndexFileError, match="do not form a usable index.*pickle"):
        PromptIndex.load(index.path)


@pytest.mark.parametrize("change", [
    lambda m: m.update(files={**m["files"], "../../etc/passwd": "sha256:0"}),
    lambda m: m.update(files=["index.faiss"]),
    lambda m: m.pop("model"),
    lambda m: m.update(scorer={"name": "no-such-scorer", "params": {}}),
])
@pytest.mark.parametrize("resign", [False, True])
def test_a_forged_manifest_is_refused(index, change, resign):
    manifest = json.loads((index.path / "manifest.json").read_text())
    change(manifest)
    if resign:  # the deeper checks hold even when the manifest's own checksum is forged too
        from novelty.index import _manifest_checksum

        manifest["manifest_checksum"] = _manifest_checksum(manifest)
    (index.path / "manifest.json").write_text(json.dumps(manifest))
    out = runner.invoke(app, ["index", "info", str(index.path)])
    assert out.exit_code == 2 and out.output.startswith("error: ") and "Traceback" not in out.output


def test_a_garbage_faiss_file_with_a_matching_checksum_is_refused(index):
    forge(index, "index.faiss", b"IxF2" + bytes(200))
    with pytest.raises(IndexFileError, match="index.faiss has dimension 0"):
        PromptIndex.load(index.path)


def test_hostile_header_and_text_column_change_no_sql(tmp_path, index):
    name = 'p"); DROP TABLE scores; --'
    log = write_csv(tmp_path / "log.csv", [name, "timestamp"], [("reset my pin", "2026-11-25T08:00:00Z")])
    out = runner.invoke(app, ["score", str(log), "--index", str(index.path), "--db", str(tmp_path / "m.db"),
                              "--text-col", name, "--json"])
    assert out.exit_code == 0 and json.loads(out.output)["scored"] == 1
    assert rows(tmp_path / "m.db", "SELECT text FROM scores") == [("reset my pin",)]


def test_a_report_cut_short_by_a_full_disk_leaves_the_last_good_page(tmp_path, monkeypatch):
    """write_text over the old page left 20 KB of a cut-off page on a full disk (QA): written beside it
    and renamed, the old page stays whole, and nothing is left beside it."""
    import errno
    import os

    from novelty import logs

    page = tmp_path / "report.html"
    page.write_text("<!doctype html><p>yesterday</p></html>")
    link = tmp_path / "latest.html"
    link.symlink_to(page)

    class Full:  # the disk fills after 100 characters
        def __init__(self, fd, *args, **kwargs):
            self.fh = open(fd, *args, **kwargs)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.fh.close()

        def write(self, text):
            self.fh.write(text[:100])
            self.fh.flush()
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(logs.os, "fdopen", Full)  # the file written beside the page
    with pytest.raises(OSError):
        logs.write_whole(page, "<!doctype html>" + "x" * 100_000)
    monkeypatch.undo()
    assert page.read_text() == "<!doctype html><p>yesterday</p></html>" and sorted(os.listdir(tmp_path)) == [
        "latest.html", "report.html"]
    logs.write_whole(link, "<!doctype html><p>today</p></html>")  # a link keeps pointing where it did
    assert link.is_symlink() and page.read_text() == "<!doctype html><p>today</p></html>"
