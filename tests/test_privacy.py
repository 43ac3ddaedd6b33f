"""score --redact / --redact-before-embed and novelty prune."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timezone

import pytest
from typer.testing import CliRunner

from novelty.cli import app
from novelty.engines.local import score_files
from novelty.prune import prune
from novelty.redact import redact
from novelty.store import text_hash

from conftest import write_jsonl

runner = CliRunner()
PRIVATE = "I'm jo.bloggs@mail.co.uk, card 5555 5555 5555 4444, IBAN GB82WEST12345698765432, tel 020 7946 0958"


def rows(db, sql):
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


@pytest.mark.parametrize("text, expected", [
    ("mail me at a.b-c+d@sub.example.org!", "mail me at [EMAIL]!"),
    ("card 4000-0566-5566-5556 declined", "card [CARD] declined"),
    ("amex 3782 822463 10005", "amex [CARD]"),
    ("call 0044 7700 900 123", "call [PHONE]"),
    ("NL91ABNA0417164300 is my account", "[IBAN] is my account"),
    ("ticket 4111111111111112", "ticket 4111111111111112"),  # fails Luhn: not a card; too long for a phone
    ("I paid £1,250.00 on 25/11/2026 at 14:05", "I paid £1,250.00 on 25/11/2026 at 14:05"),
    ("top up 20 euros, pin 4821", "top up 20 euros, pin 4821"),
])
def test_redact(text, expected):
    assert redact(text) == expected


def test_redact_stores_redacted_text_but_scores_the_original(tmp_path, index):
    records = [{"prompt": PRIVATE, "timestamp": "2026-11-25T08:00:00Z"}, '{"prompt": "broken jo@x.io']
    log = write_jsonl(tmp_path / "log.jsonl", records)
    plain = score_files([log], index, tmp_path / "plain.db")
    hidden = score_files([log], index, tmp_path / "hidden.db", redact=True)
    (text, hashed, similarity), = rows(tmp_path / "hidden.db", "SELECT text, text_hash, similarity FROM scores")
    assert text == "I'm [EMAIL], card [CARD], IBAN [IBAN], tel [PHONE]"
    assert hashed == text_hash(PRIVATE) and similarity == rows(tmp_path / "plain.db", "SELECT similarity FROM scores")[0][0]
    assert rows(tmp_path / "hidden.db", "SELECT raw FROM rejects") == [('{"prompt": "broken [EMAIL]',)]
    # a reason quoting the row is redacted too, in the table and in the result
    when = write_jsonl(tmp_path / "when.jsonl", [{"prompt": "hi there", "timestamp": "reach me at bob@example.com"}])
    result = score_files([when], index, tmp_path / "when.db", redact=True)
    stored = rows(tmp_path / "when.db", "SELECT reason || raw FROM rejects")[0][0]
    assert "bob@" not in stored + json.dumps(result.reject_reasons) and "[EMAIL]" in stored
    assert hidden.top_novel == [] or "[EMAIL]" in hidden.top_novel[0]["text"]
    assert plain.scored == hidden.scored == 1


def test_a_label_file_s_rejected_rows_are_redacted_in_a_redacted_database(tmp_path, index):
    """QA (security): score --redact kept its own rejected rows redacted, but feedback stored and printed
    a label file's rejected row with the e-mail and card number in it."""
    log = write_jsonl(tmp_path / "log.jsonl", [{"id": "p1", "prompt": PRIVATE, "timestamp": "2026-11-25T08:00:00Z"}])
    from novelty.logs import Columns

    labels = tmp_path / "labels.csv"
    labels.write_text("prompt_id,label,labelled_at\np1,card,2026-11-25T09:00:00Z\n"
                      "p2,card,reach ana.lopez@example.com or 4111 1111 1111 1111\n", encoding="utf-8")
    for name, redacting in (("plain.db", False), ("hidden.db", True)):
        score_files([log], index, tmp_path / name, columns=Columns(id="id"), redact=redacting)
        out = CliRunner().invoke(app, ["feedback", str(labels), "--db", str(tmp_path / name), "--time-col",
                                       "labelled_at"])
        stored = " ".join(r[0] for r in rows(tmp_path / name, "SELECT reason || raw FROM rejects"))
        said = out.output + stored
        assert out.exit_code == 0 and "set aside" in out.output, out.output
        assert (("ana.lopez" in said) and ("4111 1111" in said)) is not redacting, said
        assert ("[EMAIL]" in stored and "[CARD]" in stored) is redacting


def test_redact_before_embed_keeps_nothing_derived_from_the_original(tmp_path, index):
    log = write_jsonl(tmp_path / "log.jsonl", [{"prompt": PRIVATE, "timestamp": "2026-11-25T08:00:00Z"}])
    out = runner.invoke(app, ["score", str(log), "--index", str(index.path), "--db", str(tmp_path / "m.db"),
                              "--redact-before-embed", "--json"])
    assert out.exit_code == 0, out.output
    (text, hashed), = rows(tmp_path / "m.db", "SELECT text, text_hash FROM scores")
    assert "[CARD]" in text and hashed == text_hash(text)
    assert b"5555" not in b"".join(p.read_bytes() for p in tmp_path.glob("m.db*"))
    # nor its prompt id: a hash of the original text, time and line would confirm a guessed card number
    score_files([log], index, tmp_path / "plain.db")
    redacted_id, plain_id = (rows(tmp_path / db, "SELECT prompt_id FROM scores")[0][0] for db in ("m.db", "plain.db"))
    assert redacted_id != plain_id
    again = runner.invoke(app, ["score", str(log), "--index", str(index.path), "--db", str(tmp_path / "m.db"),
                                "--redact-before-embed", "--json"])
    assert json.loads(again.output)["scored"] == 0 and rows(tmp_path / "m.db", "SELECT COUNT(*) FROM scores") == [(1,)]


@pytest.fixture
def aged_db(tmp_path, index):
    """Prompts from January (old) and November (recent); one text appears in both months."""
    old = [{"prompt": f"old secret {i} of jan", "timestamp": f"2026-01-{i + 1:02d}T08:00:00Z"} for i in range(5)]
    new = [{"prompt": f"recent question {i}", "timestamp": f"2026-11-{i + 1:02d}T08:00:00Z"} for i in range(4)]
    shared = [{"prompt": "how do I reset my pin", "timestamp": t} for t in ("2026-01-20T08:00:00Z", "2026-11-20T08:00:00Z")]
    log = write_jsonl(tmp_path / "log.jsonl", old + new + shared + ["not json"])
    db = tmp_path / "m.db"
    score_files([log], index, db)
    conn = sqlite3.connect(db)
    with conn:
        ids = [r[0] for r in conn.execute("SELECT prompt_id FROM scores WHERE text LIKE 'old secret%' ORDER BY ts")]
        conn.executemany("INSERT INTO cluster_members VALUES (?, 'c0001')", [(i,) for i in ids])
        conn.execute("INSERT INTO clusters (cluster_id, examples) VALUES ('c0001', ?)",
                     [json.dumps(["old secret 0 of jan", "old secret 1 of jan"])])
        conn.executemany("INSERT INTO queue (prompt_id, text, text_hash, status) SELECT prompt_id, text, text_hash, ? "
                         "FROM scores WHERE prompt_id = ?", [("pending", ids[0]), ("labelled", ids[1])])
        conn.execute("UPDATE rejects SET rejected_at = '2026-01-02T00:00:00Z'")
        conn.execute("INSERT INTO incidents (incident_id, kind, window_end, details) VALUES ('i1', 'label_bias', "
                     "'2026-01-03T00:00:00Z', ?)", [json.dumps({"top_novel": [{"text": "old secret 2 of jan"}]})])
    conn.close()
    return db


NOW = datetime(2026, 11, 25, tzinfo=timezone.utc)


def test_prune_deletes_old_prompts_and_every_copy_of_their_text(aged_db, monkeypatch):
    dry = prune(aged_db, "90d", now=NOW, dry_run=True)
    from novelty import store as store_module  # a database the user may only read (the tests run as root)
    files = {p.name: p.read_bytes() for p in aged_db.parent.iterdir() if p.is_file()}
    monkeypatch.setattr(store_module, "may_write", lambda path: False)
    assert prune(aged_db, "90d", now=NOW, dry_run=True) == dry  # was 'cannot write': counted on a copy
    assert {p.name: p.read_bytes() for p in aged_db.parent.iterdir() if p.is_file()} == files
    monkeypatch.undo()
    assert rows(aged_db, "SELECT COUNT(*) FROM scores") == [(11,)]
    result = prune(aged_db, "90d", now=NOW)
    assert result.cutoff == "2026-08-27T00:00:00Z" and dry.to_dict() == {**result.to_dict(), "dry_run": True}
    assert (result.scores, result.cluster_members, result.queue, result.rejects) == (6, 5, 1, 1)
    # the shared text keeps its embedding (a recent prompt uses it), as does the labelled queue item
    assert result.embeddings == 4 and (result.incident_examples, result.cluster_examples) == (1, 1)
    assert rows(aged_db, "SELECT COUNT(*) FROM scores") == [(5,)]
    assert rows(aged_db, "SELECT status FROM queue") == [("labelled",)]
    assert rows(aged_db, "SELECT COUNT(*) FROM scores WHERE text_hash NOT IN (SELECT text_hash FROM embeddings)") == [(0,)]
    assert rows(aged_db, "SELECT examples FROM clusters") == [("[]",)]
    data = b"".join(p.read_bytes() for p in aged_db.parent.glob("m.db*"))
    assert b"old secret 2" not in data and b"old secret 1" in data  # the labelled queue item keeps its text
    assert prune(aged_db, "90d", now=NOW).scores == 0


def test_prune_from_the_cli(aged_db):
    out = runner.invoke(app, ["prune", "--db", str(aged_db), "--older-than", "10000d", "--json"])
    assert out.exit_code == 0 and json.loads(out.output)["scores"] == 0
    text = runner.invoke(app, ["prune", "--db", str(aged_db), "--older-than", "1d", "--dry-run"])
    assert text.exit_code == 0 and text.output.startswith("Would delete") and "11 scored prompts" in text.output
    for bad in (["--older-than", "90"], ["--older-than", "soon"]):
        out = runner.invoke(app, ["prune", "--db", str(aged_db), *bad])
        assert out.exit_code == 2 and "90d" in out.output
    missing = runner.invoke(app, ["prune", "--db", str(aged_db.with_name("nope.db")), "--older-than", "90d"])
    assert missing.exit_code == 2 and "no such database" in missing.output


def test_prune_clears_the_examples_of_a_window_the_cutoff_falls_in(aged_db):
    with sqlite3.connect(aged_db) as conn:  # a 7-day window from Jan 18: one old example, one that stays
        conn.execute("INSERT INTO incidents (incident_id, kind, window_start, window_end, details) VALUES "
                     "('i2', 'label_bias', '2026-01-18T00:00:00Z', '2026-01-25T00:00:00Z', ?)",
                     [json.dumps({"top_novel": [{"text": "old secret 4 of jan"}, {"text": "how do I reset my pin"}],
                                  "novel": 2})])
    assert prune(aged_db, "90d", now=NOW).incident_examples == 2
    details = json.loads(rows(aged_db, "SELECT details FROM incidents WHERE incident_id = 'i2'")[0][0])
    assert details == {"top_novel": [{"text": "how do I reset my pin"}], "novel": 2}


def test_prune_over_a_thousand_years_deletes_nothing(aged_db):
    result = prune(aged_db, "392000d", now=NOW)  # a cut-off in the year 953: not after 2026 as text
    assert result.cutoff.startswith("0953-") and result.scores == 0


def test_prune_takes_now_in_any_time_zone_as_the_instant_it_is(aged_db):
    # review: the cut-off was written from now's wall clock and labelled Z: noon in New York pruned to 07:00Z
    from datetime import timedelta

    new_york = NOW.astimezone(timezone(timedelta(hours=-5)))
    assert prune(aged_db, "1d", now=new_york, dry_run=True).cutoff == prune(aged_db, "1d", now=NOW, dry_run=True).cutoff
    assert prune(aged_db, "1d", now=NOW.replace(tzinfo=None), dry_run=True).cutoff == \
        prune(aged_db, "1d", now=NOW, dry_run=True).cutoff


def test_prune_keeps_examples_of_recent_prompts_that_moved_to_another_cluster(aged_db):
    conn = sqlite3.connect(aged_db)
    with conn:  # a later clustering run put the recent prompt in c0002; c0001 still shows it as an example
        recent = conn.execute("SELECT prompt_id FROM scores WHERE text = 'recent question 1'").fetchone()[0]
        conn.execute("INSERT INTO cluster_members VALUES (?, 'c0002')", [recent])
        conn.execute("UPDATE clusters SET examples = ? WHERE cluster_id = 'c0001'",
                     [json.dumps(["old secret 0 of jan", "recent question 1", "how do I reset my pin"])])
    conn.close()
    assert prune(aged_db, "90d", now=NOW).cluster_examples == 1
    assert json.loads(rows(aged_db, "SELECT examples FROM clusters")[0][0]) == ["recent question 1",
                                                                              "how do I reset my pin"]
    assert prune(aged_db, "90d", now=NOW).cluster_examples == 0


def test_prune_keeps_redacted_examples_of_stored_prompts(tmp_path, index):
    # under --redact the stored text is redacted but its hash is the original's: compare by text
    log = write_jsonl(tmp_path / "log.jsonl", [{"prompt": f"mail me at user{i}@example.com please",
                                                "timestamp": "2026-11-20T08:00:00Z"} for i in range(3)])
    db = tmp_path / "r.db"
    score_files([log], index, db, redact=True)
    conn = sqlite3.connect(db)
    with conn:
        conn.execute("INSERT INTO clusters (cluster_id, examples) VALUES ('c0001', ?)",
                     [json.dumps(["mail me at [EMAIL] please"])])
    conn.close()
    assert prune(db, "90d", now=NOW).cluster_examples == 0
    assert rows(db, "SELECT examples FROM clusters") == [('["mail me at [EMAIL] please"]',)]


def test_redact_before_embed_does_not_score_again_a_row_stored_under_its_original_id(tmp_path, index):
    # scored without the flag (or by a version that derived ids before redacting): the rerun skips it
    log = write_jsonl(tmp_path / "log.jsonl", [{"prompt": PRIVATE, "timestamp": "2026-11-25T08:00:00Z"},
                                               {"prompt": "plain question", "timestamp": "2026-11-25T09:00:00Z"}])
    db = tmp_path / "m.db"
    assert score_files([log], index, db).scored == 2
    again = score_files([log], index, db, redact_before_embed=True)
    assert (again.scored, again.skipped) == (0, 2) and rows(db, "SELECT COUNT(*) FROM scores") == [(2,)]


def test_turning_redaction_off_after_redact_before_embed_rejects_nothing(tmp_path, index):
    from novelty.logs import Columns
    log = write_jsonl(tmp_path / "log.jsonl", [{"id": "r1", "prompt": PRIVATE}, {"id": "r2", "prompt": "hello"}])
    db, columns = tmp_path / "m.db", Columns(id="id", time=None)
    score_files([log], index, db, columns=columns, redact_before_embed=True)
    for flags in ({"redact": True}, {}):
        again = score_files([log], index, db, columns=columns, **flags)
        assert (again.scored, again.skipped, again.rejected) == (0, 2, 0)


def test_a_prune_while_clusters_or_queue_add_read_the_prompts_brings_no_text_back(aged_db, monkeypatch):
    # found by QA: both read their prompts, prune committed, then they wrote back the memberships and the
    # queue items (with text) of deleted prompts, which no later prune removed
    from novelty import clusters, queue
    from novelty.errors import InputError

    def pruning(real):
        def meanwhile(*args, **kwargs):
            prune(aged_db, "90d", now=NOW)
            return real(*args, **kwargs)
        return meanwhile

    with sqlite3.connect(aged_db) as conn:
        conn.execute("DELETE FROM clusters")  # the fixture's, made by hand without a centroid
    conn.close()
    monkeypatch.setattr(clusters, "_labels", pruning(clusters._labels))
    with pytest.raises(InputError, match="prune deleted old prompts .* nothing was written; run the same command"):
        clusters.find_clusters(aged_db, min_size=2)
    monkeypatch.undo()
    with sqlite3.connect(aged_db) as conn:  # the fixture's own: then no old prompt is left in any of them
        conn.execute("INSERT INTO queue VALUES ('ghost', 'old secret x', 'h', 'p<=0.05', 'pending', NULL, NULL, "
                     "'now', 'now')")
        conn.execute("INSERT INTO cluster_members VALUES ('ghost', 'c0001')")
    conn.close()
    assert prune(aged_db, "90d", now=NOW).queue == 1  # a ghost left by an earlier race goes too
    assert rows(aged_db, "SELECT COUNT(*) FROM cluster_members WHERE prompt_id = 'ghost'") == [(0,)]
    monkeypatch.setattr(queue, "_pick", pruning(queue._pick))
    with sqlite3.connect(aged_db) as conn:
        conn.execute("UPDATE meta SET value = '2026-01-01T00:00:00Z' WHERE key = 'pruned_before'")  # (moves again)
    conn.close()
    with pytest.raises(InputError, match="nothing was written"):
        queue.add(aged_db, max_p_value=1.0)


@pytest.mark.parametrize("text, shown", [
    ("please write to françois.dupont@mail.fr about it", "please write to [EMAIL] about it"),  # was franç[EMAIL]
    ("my email is josé@exämple.es", "my email is [EMAIL]"),  # was stored whole
    ("card 4111.1111.1111.1111 was charged", "card [CARD] was charged"),
    ("card 4111  1111 1111 1111 was charged", "card [CARD] was charged"),  # was '4111  [PHONE]'
    ("send it to iban de89 3704 0044 0532 0130 00", "send it to iban [IBAN]"),
    ("pi is 3.14159, version 1.2.3, paid 1234.56", "pi is 3.14159, version 1.2.3, paid 1234.56"),
    ("franc\u0327ois@exemple.fr wrote", "[EMAIL] wrote"),  # decomposed, as macOS types it (review)
    ("राहुल@example.in", "[EMAIL]"),  # a vowel sign is a combining mark (review: 'राहु[EMAIL]')
    ("is flight ba16 from oslo late", "is flight ba16 from oslo late"),  # review: was 'is flight [IBAN]'
    ("job failed at 1764057600.123008", "job failed at 1764057600.123008"),  # an epoch time, not a card
    ("mail me at bob@example.com.", "mail me at [EMAIL]."),
])
def test_redaction_of_other_scripts_cases_and_separators(text, shown):
    # found by QA: each of these was stored as typed by score --redact, and named clusters
    from novelty.redact import redact

    assert redact(text) == shown


def test_prune_says_when_it_takes_queue_items_out_with_labellers(aged_db):
    """An exported item is pruned as a pending one is; its labels then came back as 'ids not in the
    queue', and neither the dry run nor the prune said so."""
    with sqlite3.connect(aged_db) as conn:
        conn.execute("UPDATE queue SET status = 'exported' WHERE status = 'pending'")
    dry = runner.invoke(app, ["prune", "--db", str(aged_db), "--older-than", "90d", "--dry-run"])
    assert dry.exit_code == 0 and "1 of those queue items are exported for labelling: labels for them could no " \
        "longer be imported; import them first (novelty queue import), or prune later." in dry.output
    done = runner.invoke(app, ["prune", "--db", str(aged_db), "--older-than", "90d", "--json"])
    assert json.loads(done.output)["queue"] == 1 and json.loads(done.output)["queue_exported"] == 1


def test_onnx_runtime_telemetry_is_off_unless_the_user_turns_it_on(tmp_path):
    # QA as a service user (HOME not writable): every command began with ONNX Runtime's coloured
    # 'Failed to persist telemetry device ID'. Runtime 1.29 and later collect telemetry on Linux too
    import os
    import subprocess
    import sys

    pytest.importorskip("onnxruntime")
    load = "from novelty.embed import _force_offline; _force_offline(); import onnxruntime, os; " \
           "print(os.environ['ORT_DISABLE_TELEMETRY'])"
    env = {k: v for k, v in os.environ.items() if k != "ORT_DISABLE_TELEMETRY"}
    done = subprocess.run([sys.executable, "-c", load], capture_output=True, text=True, timeout=120,
                          env={**env, "HOME": "/proc/no-such-home"}, cwd=tmp_path)  # unwritable, root too
    assert done.returncode == 0 and done.stdout.strip() == "1", done.stderr
    assert "telemetry" not in done.stderr and "\x1b[" not in done.stderr, done.stderr
    kept = subprocess.run([sys.executable, "-c", load], capture_output=True, text=True, timeout=120,
                          env={**env, "ORT_DISABLE_TELEMETRY": "0"}, cwd=tmp_path)
    assert kept.stdout.strip() == "0"  # the user's own setting stands
