import json
import sqlite3
from collections import Counter

import numpy as np
import pytest
from typer.testing import CliRunner

from novelty.cli import app
from novelty.clusters import cluster_prompts, find_clusters, look_alikes
from novelty.errors import InputError
from novelty.render import format_clusters
from novelty.store import Store


def novel_db(path, groups, noise=10, seed=0, days=("2026-11-23", "2026-11-24")):
    """groups: {topic words: count}; each topic's prompts sit tightly around their own direction."""
    rng = np.random.default_rng(seed)
    store = Store(path)
    store.bind_model("m", "r", 32)
    run = store.start_run(alpha=0.05)
    rows, vectors = [], {}
    topics = list(groups.items()) + [(None, noise)]
    for t, (words, count) in enumerate(topics):
        centre = rng.normal(size=32)
        for i in range(count):
            text = f"{words} question {i}" if words else f"random thing {rng.integers(1e9)}"
            v = (centre + rng.normal(scale=0.15, size=32)) if words else rng.normal(size=32)
            h = f"h{t}-{i}"
            vectors[h] = (v / np.linalg.norm(v)).astype(np.float32)
            day = days[0] if i < count // 3 else days[1]
            rows.append((f"p{t}-{i}", run, "s", i, f"{day}T10:{i % 60:02d}:00Z", text, h, "exchange_rate",
                         0.3, 0.7, 0.01, 1, "t", "card_arrival", "[]", "now"))
    store.write_chunk(rows, vectors, [])
    store.finish_run(run)
    store.close()
    return path


def add_unflagged(db, rows):
    """rows: (prompt_id, ts, vector, training similarity); stored as scored, not novel."""
    store = Store(db)
    run = store.start_run(alpha=0.05)
    store.write_chunk([(pid, run, "s", 0, ts, f"text of {pid}", f"x-{pid}", "card_arrival", sim, 1 - sim, 0.5, 0,
                        "t", "card_arrival", "[]", "now") for pid, ts, _, sim in rows],
                      {f"x-{pid}": (v / np.linalg.norm(v)).astype(np.float32) for pid, _, v, _ in rows}, [])
    store.finish_run(run)
    store.close()


def beside(v, cosine=0.99, seed=1):
    """A vector at ``cosine`` to ``v``: a prompt whose training neighbour is at 0.999 is not the twin of
    one whose training neighbour is at 0.5 (a look-alike's look-alikes count, _nearer)."""
    v = np.asarray(v, np.float64) / np.linalg.norm(v)
    other = np.random.default_rng(seed).normal(size=len(v))
    other -= (other @ v) * v
    return cosine * v + np.sqrt(1 - cosine ** 2) * other / np.linalg.norm(other)


def test_a_database_the_user_may_only_read_is_exit_2_not_a_traceback(tmp_path, monkeypatch):
    db = novel_db(tmp_path / "m.db", {"bitcoin wallet": 40})
    opened = Store.__init__

    def read_only(self, path):  # what a file without write permission gives (the tests run as root)
        opened(self, path)
        self.db.execute("PRAGMA query_only = ON")

    monkeypatch.setattr(Store, "__init__", read_only)
    for args in (["clusters", "--db", str(db)], ["queue", "add", "--db", str(db), "--max-p-value", "0.05"]):
        out = CliRunner().invoke(app, args)
        assert out.exit_code == 2, out.output  # was: exit 3, sqlite3.OperationalError's traceback
        assert "readonly database" in out.output and "permissions" in out.output


def test_groups_are_found_named_and_noise_left_out(tmp_path):
    db = novel_db(tmp_path / "m.db", {"bitcoin wallet": 40, "staking rewards": 25})
    found = find_clusters(db)
    assert len(found) == 2 and "bitcoin" in found[0].name and "staking" in found[1].name
    for cluster, words, count in ((found[0], "bitcoin", 40), (found[1], "staking", 25)):
        members = [m["text"] for m in cluster_prompts(db, cluster.cluster_id)]
        assert sum(words in m for m in members) == count  # the whole topic, in one cluster
        assert all(words in m or m.startswith("random thing") for m in members)  # at most stray noise
    assert found[0].predicted_labels["exchange_rate"] == found[0].size
    assert len(found[0].examples) == 3 and all("bitcoin" in e for e in found[0].examples)
    assert found[0].daily["2026-11-24"] > found[0].daily["2026-11-23"] and found[0].growth > 1


def test_ids_are_stable_across_runs_and_new_topics_get_new_ids(tmp_path):
    db = novel_db(tmp_path / "m.db", {"bitcoin wallet": 40, "staking rewards": 25})
    first = {c.name: c.cluster_id for c in find_clusters(db)}
    again = {c.name: c.cluster_id for c in find_clusters(db)}
    assert first == again
    members = cluster_prompts(db, first[next(n for n in first if "bitcoin" in n)])
    assert sum("bitcoin" in m["text"] for m in members) == 40
    with pytest.raises(InputError, match="no cluster"):
        cluster_prompts(db, "c9999")


def test_the_same_prompts_keep_their_cluster_id_when_the_centroid_no_longer_matches(tmp_path):
    db = novel_db(tmp_path / "m.db", {"bitcoin wallet": 40, "staking rewards": 25})
    first = {c.name: c.cluster_id for c in find_clusters(db)}
    # what a browse with other options leaves: the stored centroids of a finer or coarser grouping
    far = np.full(32, 1 / np.sqrt(32), np.float32)
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE clusters SET centroid = ?", [far.tobytes()])
    again = {c.name: c.cluster_id for c in find_clusters(db)}
    assert again == first  # was: new ids (c0003, c0004), the daily view's ids gone for good
    assert find_clusters(db, min_size=40)[0].cluster_id == first[next(n for n in first if "bitcoin" in n)]


def test_empty_range_and_missing_db(tmp_path):
    db = novel_db(tmp_path / "m.db", {"bitcoin wallet": 40})
    assert find_clusters(db, since="2027-01-01") == []
    with pytest.raises(InputError, match="no such database"):
        find_clusters(tmp_path / "none.db")


def test_cli_clusters_json_and_show(tmp_path):
    db = novel_db(tmp_path / "m.db", {"bitcoin wallet": 40, "staking rewards": 25})
    runner = CliRunner()
    out = runner.invoke(app, ["clusters", "--db", str(db), "--json"])
    assert out.exit_code == 0, out.output
    payload = json.loads(out.output)
    assert len(payload) == 2 and "centroid" not in payload[0] and payload[0]["size"] >= payload[1]["size"]
    assert all(c["saved"] for c in payload)
    unsaved = json.loads(runner.invoke(app, ["clusters", "--db", str(db), "--json", "--no-save"]).output)
    assert [c["saved"] for c in unsaved] == [False, False]  # QA: the text says 'Not saved', the JSON said nothing
    shown = runner.invoke(app, ["clusters", "show", payload[1]["cluster_id"], "--db", str(db)])
    assert shown.exit_code == 0 and shown.output.count("staking rewards") == 25
    assert runner.invoke(app, ["clusters"]).exit_code == 2
    before = runner.invoke(app, ["clusters", "--db", str(db), "show", payload[1]["cluster_id"]])
    assert before.exit_code == 0 and before.output == shown.output  # was: "Missing option '--db'"
    assert runner.invoke(app, ["clusters", "show", payload[1]["cluster_id"]]).exit_code == 2


def test_clusters_count_their_look_alikes_and_the_labels_they_got(tmp_path):
    db = novel_db(tmp_path / "m.db", {"bitcoin wallet": 40, "staking rewards": 25})
    first = find_clusters(db)
    assert [c.look_alikes for c in first] == [0, 0]
    bitcoin = next(c for c in first if "bitcoin" in c.name)
    add_unflagged(db, [(f"passed{i}", "2026-11-24T12:00:00Z", bitcoin.centroid, 0.5) for i in range(3)]
                  + [("known", "2026-11-24T12:00:00Z", beside(bitcoin.centroid), 0.999),
                     ("later", "2026-11-30T12:00:00Z", bitcoin.centroid, 0.5)])  # after --until
    # a view of the past, not saved: counted up to its end, as `clusters show --until` lists them
    found = {c.name: c for c in find_clusters(db, until="2026-11-25", save=False)}
    assert found[bitcoin.name].look_alikes == 3 and found[bitcoin.name].look_alike_labels == {"card_arrival": 3}
    assert sum(c.look_alikes for c in found.values()) == 3
    assert "+ 3 look-alikes" in format_clusters(list(found.values()))
    # saved (no novel prompt after its end), it is the current view: its cards count up to now, as
    # `clusters show --look-alikes` without --until lists them (review: `novelty run` saves so daily)
    saved = {c.name: c for c in find_clusters(db, until="2026-11-25")}
    assert saved[bitcoin.name].look_alikes == 4
    stored = sqlite3.connect(db).execute("SELECT look_alikes, look_alike_labels FROM clusters WHERE cluster_id = ?",
                                         [bitcoin.cluster_id]).fetchone()
    assert stored == (4, '{"card_arrival": 4}')
    shown = CliRunner().invoke(app, ["clusters", "show", bitcoin.cluster_id, "--db", str(db), "--look-alikes",
                                     "--json"])
    assert shown.exit_code == 0, shown.output  # no --until here: the later one is a look-alike too
    assert sorted(p["prompt_id"] for p in json.loads(shown.output)) == ["later", "passed0", "passed1", "passed2"]
    for args in (["clusters", "show", bitcoin.cluster_id, "--until", "2026-11-25"],  # the card's 3, listed
                 ["clusters", "--until", "2026-11-25", "show", bitcoin.cluster_id]):
        bounded = CliRunner().invoke(app, [*args, "--db", str(db), "--look-alikes", "--json"])
        assert sorted(p["prompt_id"] for p in json.loads(bounded.output)) == ["passed0", "passed1", "passed2"]
    members = cluster_prompts(db, bitcoin.cluster_id, until="2026-11-24")
    assert members and {p["ts"][:10] for p in members} == {"2026-11-23"}


def test_a_database_from_before_look_alikes_gains_the_columns(tmp_path):
    conn = sqlite3.connect(tmp_path / "old.db")
    conn.execute("CREATE TABLE clusters (cluster_id TEXT PRIMARY KEY, name TEXT, size INTEGER, first_seen TEXT, "
                 "last_seen TEXT, growth REAL, daily TEXT, predicted_labels TEXT, nearest_labels TEXT, "
                 "examples TEXT, centroid BLOB, updated_at TEXT)")
    conn.close()
    novel_db(tmp_path / "old.db", {"bitcoin wallet": 40, "staking rewards": 25})
    assert [c.look_alikes for c in find_clusters(tmp_path / "old.db")] == [0, 0]


def test_a_look_alike_belongs_to_its_nearest_cluster_only(tmp_path):
    db = novel_db(tmp_path / "m.db", {"bitcoin wallet": 40, "staking rewards": 25})
    found = find_clusters(db)
    a, b = found[0], found[1]
    between = 0.6 * a.centroid + 0.4 * b.centroid  # nearer a, and nearer both than training (0.0)
    add_unflagged(db, [("between", "2026-11-24T12:00:00Z", between, 0.0)])
    counts = {c.cluster_id: c.look_alikes for c in find_clusters(db)}
    assert counts == {a.cluster_id: 1, b.cluster_id: 0}
    shown = {c: [p["prompt_id"] for p in cluster_prompts(db, c, similar=True)] for c in counts}
    assert shown == {a.cluster_id: ["between"], b.cluster_id: []}


def test_a_prompt_that_falls_back_to_noise_leaves_its_old_cluster(tmp_path):
    db = novel_db(tmp_path / "m.db", {"bitcoin wallet": 40, "staking rewards": 25})
    first = find_clusters(db)
    bitcoin, staking = first
    early = find_clusters(db, until="2026-11-24", min_size=10, save=True)  # day one: ~13 bitcoin, ~8 staking
    conn = sqlite3.connect(db)
    members = dict(conn.execute("SELECT cluster_id, COUNT(*) FROM cluster_members GROUP BY cluster_id"))
    assert [c.cluster_id for c in early] == [bitcoin.cluster_id]
    left = staking.size - staking.daily["2026-11-23"]
    assert members[staking.cluster_id] == left and set(members) == {bitcoin.cluster_id, staking.cluster_id}
    shown = {c.cluster_id: len(cluster_prompts(db, c.cluster_id)) for c in first}
    assert shown == members  # the second day's prompts keep the cluster they were last put in
    # the card of the cluster that lost its first day's prompts counts those left (it kept its old size)
    size, daily = conn.execute("SELECT size, daily FROM clusters WHERE cluster_id = ?", [staking.cluster_id]).fetchone()
    assert size == left < staking.size and json.loads(daily) == {"2026-11-24": left}
    assert find_clusters(db, min_size=500) == []  # a run that finds nothing leaves the stored view (was: wiped)
    assert dict(conn.execute("SELECT cluster_id, COUNT(*) FROM cluster_members GROUP BY cluster_id")) == members


def test_show_says_why_a_cluster_has_no_prompts_now(tmp_path):
    from typer.testing import CliRunner

    from novelty.cli import app

    db = novel_db(tmp_path / "m.db", {"bitcoin wallet": 40, "staking rewards": 25})
    first = find_clusters(db)
    assert [c.cluster_id for c in find_clusters(db, min_size=30)] == [first[0].cluster_id]  # staking is noise now
    with sqlite3.connect(db) as conn:  # superseded: no members, so no size (was: its old 25, counted twice by a SUM)
        assert conn.execute("SELECT size FROM clusters WHERE cluster_id = ?", [first[1].cluster_id]).fetchone() == (0,)
    out = CliRunner().invoke(app, ["clusters", "show", first[1].cluster_id, "--db", str(db)])
    assert out.exit_code == 0 and "No prompts in" in out.output and "noise" in out.output
    assert "pruned" in out.output  # prune deletes memberships too
    for limit in ("0", "-1"):  # were: 'No prompts in ... left them as noise', and every prompt
        out = CliRunner().invoke(app, ["clusters", "show", first[0].cluster_id, "--db", str(db), "--limit", limit])
        assert out.exit_code == 2 and "--limit" in out.output


def test_a_single_new_topic_alone_is_one_cluster(tmp_path):
    # the first day of a new topic, with nothing else novel: leaf selection needs a split to find any
    db = novel_db(tmp_path / "m.db", {"bitcoin wallet": 20}, noise=0)
    (found,) = find_clusters(db)  # was: "No clusters: too few novel prompts", even with --min-size 2
    assert "bitcoin" in found.name and found.size >= 5
    assert found.size + found.look_alikes >= 18  # HDBSCAN keeps the dense core; the rest count as look-alikes


def test_clusters_show_does_not_create_a_missing_database(tmp_path):
    missing = tmp_path / "nope.db"
    with pytest.raises(InputError, match="no such database"):
        cluster_prompts(missing, "c0001")
    assert not missing.exists()


def test_a_cluster_found_again_over_a_shorter_range_counts_its_earlier_members(tmp_path):
    db = novel_db(tmp_path / "m.db", {"bitcoin wallet": 40, "staking rewards": 25})
    whole = {c.name: c for c in find_clusters(db)}
    recent = {c.name: c for c in find_clusters(db, since="2026-11-24")}
    for name, c in recent.items():  # the same ids, and the card agrees with `clusters show`
        assert c.cluster_id == whole[name].cluster_id and abs(c.size - whole[name].size) <= 2  # noise may move
        assert c.first_seen.startswith("2026-11-23") and set(c.daily) == {"2026-11-23", "2026-11-24"}
        assert len(cluster_prompts(db, c.cluster_id, limit=1000)) == c.size


def test_a_range_ending_earlier_takes_no_members_from_after_it(tmp_path):
    db = novel_db(tmp_path / "m.db", {"bitcoin wallet": 40, "staking rewards": 25})
    find_clusters(db)
    for c in find_clusters(db, until="2026-11-24", min_size=3):
        assert set(c.daily) == {"2026-11-23"} and c.last_seen < "2026-11-24"


def test_a_view_of_the_past_is_not_saved_over_the_current_one(tmp_path):
    # found by QA: clusters --until two months back rewrote the growing topic's card to '6 prompts, last
    # seen' then, while its members stayed; quiet clusters kept the wrong card for good
    db = novel_db(tmp_path / "m.db", {"bitcoin wallet": 40, "staking rewards": 25})
    find_clusters(db)
    stored = lambda: sqlite3.connect(db).execute(  # noqa: E731
        "SELECT cluster_id, size, last_seen FROM clusters ORDER BY cluster_id").fetchall()
    members = lambda: sqlite3.connect(db).execute("SELECT * FROM cluster_members ORDER BY 1").fetchall()  # noqa: E731
    before, assigned = stored(), members()
    past = find_clusters(db, until="2026-11-24", min_size=3)
    assert past and stored() == before and members() == assigned
    out = CliRunner().invoke(app, ["clusters", "--db", str(db), "--until", "2026-11-24", "--min-size", "3"])
    assert out.exit_code == 0 and "Not saved (a view of the past" in out.output and stored() == before
    out = CliRunner().invoke(app, ["clusters", "--db", str(db), "--min-size", "30", "--no-save"])
    assert "Not saved: the stored clusters stay" in out.output and stored() == before and members() == assigned
    find_clusters(db, until="2026-11-24", min_size=3, save=True)  # asked for: saved
    assert stored() != before
    typo = CliRunner().invoke(app, ["clusters", "--db", str(tmp_path / "typo.db"), "--until", "2026-11-24"])
    assert typo.exit_code == 2 and not (tmp_path / "typo.db").exists()  # review: was created empty, exit 0


def test_quiet_days_count_as_zero_in_the_daily_counts_and_the_growth(tmp_path):
    # was: a topic with 10 prompts on day 20, none on 21 or 23, 20 on 22 showed growth 2.0 on the 23rd
    db = novel_db(tmp_path / "m.db", {"bitcoin wallet": 30, "staking rewards": 30}, noise=0,
                  days=("2026-11-20", "2026-11-22"))
    store = Store(db)
    run = store.start_run(alpha=0.05)
    store.write_chunk([("late", run, "s", 0, "2026-11-23T09:00:00Z", "something else", "h-late", "exchange_rate",
                        0.3, 0.7, 0.01, 1, "t", "card_arrival", "[]", "now")],
                      {"h-late": np.eye(32, dtype=np.float32)[0]}, [])
    store.finish_run(run)
    store.close()
    for found in find_clusters(db):
        assert list(found.daily) == ["2026-11-20", "2026-11-21", "2026-11-22", "2026-11-23"]
        assert found.daily["2026-11-21"] == found.daily["2026-11-23"] == 0 and found.growth == 0.0
    for c in find_clusters(db, until="2026-11-23"):  # the 22nd against the mean of the 20th and the 21st (0)
        assert list(c.daily) == ["2026-11-20", "2026-11-21", "2026-11-22"]
        assert c.growth == pytest.approx(c.daily["2026-11-22"] / (c.daily["2026-11-20"] / 2), abs=1e-3)


def test_a_prompt_stamped_years_ahead_is_not_the_clusters_last_day(tmp_path):
    # was: one novel prompt stamped 2099 (a mistyped year) made every cluster grow 0.0x and count each of
    # the 27,000 days up to it (35 MB of daily counts in the demo's database, clusters 12 s instead of 5)
    db = novel_db(tmp_path / "m.db", {"bitcoin wallet": 30, "staking rewards": 30}, noise=0,
                  days=("2026-11-20", "2026-11-22"))
    store = Store(db)
    run = store.start_run(alpha=0.05)
    store.write_chunk([("stray", run, "s", 0, "2099-11-23T09:00:00Z", "bitcoin wallet question 0", "h0-0",
                        "exchange_rate", 0.3, 0.7, 0.01, 1, "t", "card_arrival", "[]", "now")], {}, [])
    store.finish_run(run)
    store.close()
    found = {c.name.split(" / ")[0]: c for c in find_clusters(db)}
    for c in found.values():
        assert c.growth == pytest.approx(c.daily["2026-11-22"] / (c.daily["2026-11-20"] / 2), abs=1e-3)
        assert len(c.daily) <= 4
    wallet = next(c for c in found.values() if c.last_seen.startswith("2099"))
    assert list(wallet.daily) == ["2026-11-20", "2026-11-21", "2026-11-22", "2099-11-23"]  # counted, not filled
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT max(length(daily)) FROM clusters").fetchone()[0] < 200
    from novelty.clusters import _daily  # review: a cluster all of whose prompts come after the last day
    assert _daily(Counter({"2099-11-20": 1, "2099-11-23": 3}), "2026-11-22") == (
        {"2099-11-20": 1, "2099-11-21": 0, "2099-11-22": 0, "2099-11-23": 3}, 9.0)  # its quiet days 0, as before


def test_a_cluster_without_words_is_named_by_its_id(tmp_path):
    db = novel_db(tmp_path / "m.db", {"bitcoin": 30}, noise=0)
    with sqlite3.connect(db) as conn:  # no word to name it by
        conn.execute("UPDATE scores SET text = '#' || line || ' ?'")
    (found,) = find_clusters(db)
    assert found.name == f"{found.cluster_id} (no distinctive words)"  # was 'cluster 1', its place in the run


def test_clusters_in_other_scripts_are_named_by_their_words(tmp_path):
    db = novel_db(tmp_path / "m.db", {"arabic": 30, "japanese": 30}, noise=0)
    with sqlite3.connect(db) as conn:  # was: both '(no distinctive words)', or both named by an English suffix
        conn.execute("UPDATE scores SET text = 'كيف أشتري البيتكوين ' || line WHERE text LIKE 'arabic%'")
        conn.execute("UPDATE scores SET text = 'ビットコインを買いたい ' || line WHERE text LIKE 'japanese%'")
    names = sorted(c.name for c in find_clusters(db))
    assert "البيتكوين" in names[0] or "البيتكوين" in names[1]
    japanese = next(n for n in names if "البيتكوين" not in n)
    assert all(term in "ビットコインを買いたい" for term in japanese.split(" / "))  # pairs of its characters


def test_one_cluster_is_said_in_the_singular(tmp_path):
    db = novel_db(tmp_path / "m.db", {"bitcoin wallet": 40}, noise=0)
    found = find_clusters(db)
    assert format_clusters(found).startswith("1 cluster of novel prompts")  # was '1 clusters'


def test_the_terminal_table_clips_a_long_cluster_name():
    from novelty.clusters import Cluster

    long = Cluster("c0001", "a" * 15_000, 5, "2026-11-24", "2026-11-24", -1.0, {}, {}, {}, ["x"])
    assert max(map(len, format_clusters([long]).splitlines())) < 120  # was a 15,052-character line


def test_prompts_logged_without_a_time_count_when_they_were_scored(tmp_path):
    db = novel_db(tmp_path / "m.db", {"bitcoin wallet": 30}, noise=0)
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE scores SET ts = NULL, scored_at = '2026-11-25T08:00:00Z'")
    (found,) = find_clusters(db)  # was: first_seen '' and daily {'': 5}
    assert (found.first_seen, found.daily) == ("2026-11-25T08:00:00Z", {"2026-11-25": found.size})
    assert [c.size for c in find_clusters(db, since="2026-11-25")] == [found.size]  # was: none, left out
    assert find_clusters(db, until="2026-11-25") == []
    store = Store(db)
    members = [h for (h,) in store.db.execute("SELECT s.text_hash FROM scores s JOIN cluster_members m USING (prompt_id)")]
    centre = store.vectors(members).mean(axis=0)
    store.close()
    add_unflagged(db, [(f"near{i}", None, centre + 0.001 * i, 0.5) for i in range(3)])
    (again,) = find_clusters(db)  # untimed look-alikes of untimed members (a04ac5a bounded them away)
    assert again.look_alikes == found.look_alikes + 3 and again.look_alike_labels["card_arrival"] == 3


def test_names_keep_words_whole_in_scripts_with_combining_marks():
    from novelty.clusters import _terms

    # was: 'नमस', 'बट' (cut at every vowel sign) and Thai pieces of words
    assert _terms("नमस्ते दुनिया मेरा बटुआ") == ["नमस्ते", "दुनिया", "मेरा", "बटुआ"]
    assert _terms("كَيْفَ أَشْتَرِي") == ["كَيْفَ", "أَشْتَرِي"]
    assert _terms("ฉันลืม")[:2] == ["ฉั", "ัน"]  # Thai has no spaces: pairs of characters, as Chinese


def test_past_the_sample_size_noise_stays_noise_and_no_cluster_is_empty_or_too_small(tmp_path, monkeypatch):
    # 23,919 distinct novel texts: every text went to its nearest centroid, so noise vanished, an
    # empty cluster (NaN centroid) got a new id on every run and sampled members fell under --min-size
    import novelty.clusters as clusters

    monkeypatch.setattr(clusters, "MAX_POINTS", 80)
    db = novel_db(tmp_path / "m.db", {"bitcoin wallet": 40, "staking rewards": 30}, noise=60)
    found = find_clusters(db, min_size=5)
    assert all(c.size >= 5 for c in found)
    members = [m["text"] for c in found for m in cluster_prompts(db, c.cluster_id)]
    assert sum("bitcoin" in m or "staking" in m for m in members) >= 60  # the topics, sampled or not
    assert sum(m.startswith("random thing") for m in members) < 30  # most scattered ones left out (was: all 60)
    assert [c.cluster_id for c in find_clusters(db, min_size=5)] == [c.cluster_id for c in found]
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM clusters").fetchone()[0] == len(found)


def test_a_card_counts_the_look_alikes_its_listing_shows_and_ids_are_read_in_any_case(tmp_path):
    # the card counted from the earliest cluster's first prompt (+ 23), `show --look-alikes` from its own (21)
    db = novel_db(tmp_path / "m.db", {"bitcoin wallet": 40, "staking rewards": 25})
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE scores SET ts = '2026-11-28T10:00:00Z' WHERE text NOT LIKE 'bitcoin%'")
    staking = next(c for c in find_clusters(db) if "staking" in c.name)
    add_unflagged(db, [("early", "2026-11-25T12:00:00Z", staking.centroid, 0.5),
                       ("after", "2026-11-29T12:00:00Z", staking.centroid, 0.5)])
    card = next(c for c in find_clusters(db) if c.cluster_id == staking.cluster_id)
    listed = cluster_prompts(db, f" {staking.cluster_id.upper()} ", similar=True)
    assert card.look_alikes == len(listed) == 1 and listed[0]["prompt_id"] == "after"
    from novelty.clusters import look_alikes
    from novelty.store import Store

    store = Store(db)  # what `queue add --cluster all` queues: was 'early' too, from the bitcoin start
    assert [r["prompt_id"] for r in look_alikes(store, "all") if r["cluster_id"] == staking.cluster_id] == ["after"]
    store.close()


def test_a_database_the_user_may_only_read_is_a_clear_error_not_a_traceback(tmp_path, monkeypatch):
    # found by QA: novelty run's clusters step printed a traceback ('a bug?') on a read-only database
    from novelty import queue, store as store_module
    from novelty.errors import StorageError

    db = novel_db(tmp_path / "m.db", {"bitcoin wallet": 40})
    monkeypatch.setattr(store_module, "may_write", lambda path: False)  # (the tests run as root)
    with pytest.raises(StorageError, match="cannot write .*m.db .*readonly"):
        find_clusters(db, save=True)
    assert find_clusters(db)  # by default a read-only database is browsed, not saved (QA: was exit 2)
    out = CliRunner().invoke(app, ["clusters", "--db", str(db)])
    assert out.exit_code == 0 and f"Not saved (this user may only read {db})" in out.output, out.output
    assert json.loads(CliRunner().invoke(app, ["clusters", "--db", str(db), "--json"]).output)[0]["saved"] is False
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM clusters").fetchone()[0] == 0
    monkeypatch.undo()
    (found,) = find_clusters(db)
    monkeypatch.setattr(store_module, "may_write", lambda path: False)
    with pytest.raises(StorageError, match="cannot write"):
        queue.add(db, cluster=found.cluster_id)


def test_a_prune_leaves_a_clusters_history_as_it_was(tmp_path):
    # found by QA: after a prune, an old topic was 'new' (first seen moved to the cut-off) or grew 16x, not 5x
    from datetime import datetime, timezone

    from novelty.prune import prune

    db = novel_db(tmp_path / "m.db", {"bitcoin wallet": 40, "staking rewards": 25})
    before = {c.cluster_id: c for c in find_clusters(db)}
    prune(db, "1h", now=datetime(2026, 11, 24, 10, 30, tzinfo=timezone.utc))  # all of the 23rd, the 24th to 09:30
    after = {c.cluster_id: c for c in find_clusters(db)}
    for cid, then in before.items():  # (the 24th's prompts left are clustered afresh: one more or less)
        now = after[cid]
        assert (now.first_seen, now.daily["2026-11-23"]) == (then.first_seen, then.daily["2026-11-23"])
        assert abs(now.growth - then.growth) < 0.2 and abs(now.size - then.size) <= 2
    again = {c.cluster_id: c for c in find_clusters(db)}  # saved so, and kept by the next run
    assert {c: a.daily for c, a in again.items()} == {c: a.daily for c, a in after.items()}


def test_a_cluster_recounted_after_a_prune_keeps_its_pruned_days(tmp_path):
    # review: a cluster not found again (its recent prompts noise in a --since run) was recounted on the
    # members left, and its pruned days were gone for good: 10 prompts first seen 11-20, not 44 from 08-10
    from datetime import datetime, timezone

    from novelty.prune import prune

    rng = np.random.default_rng(0)
    store = Store(tmp_path / "m.db")
    store.bind_model("m", "r", 32)
    run = store.start_run(alpha=0.05)
    rows, vectors = [], {}
    for t, (words, days) in enumerate({"bitcoin wallet": {"2026-08-10": 30, "2026-11-20": 10, "2026-11-24": 4},
                                       "staking rewards": {"2026-11-24": 30}}.items()):
        centre, k = rng.normal(size=32), 0
        for day, count in days.items():
            for i in range(count):
                v = centre + rng.normal(scale=0.15, size=32)
                vectors[f"h{t}-{k}"] = (v / np.linalg.norm(v)).astype(np.float32)
                rows.append((f"p{t}-{k}", run, "s", k, f"{day}T10:{i:02d}:00Z", f"{words} q {k}", f"h{t}-{k}", "x",
                             0.3, 0.7, 0.01, 1, "t", "y", "[]", "now"))
                k += 1
    store.write_chunk(rows, vectors, [])
    store.finish_run(run)
    store.close()
    db = tmp_path / "m.db"
    (bitcoin,) = [c for c in find_clusters(db) if "bitcoin" in c.name]
    prune(db, "90d", now=datetime(2026, 11, 25, tzinfo=timezone.utc))
    find_clusters(db, since="2026-11-24")  # bitcoin's 4 of the 24th are noise here: recounted on the 10 left
    stored = sqlite3.connect(db).execute("SELECT size, first_seen, daily FROM clusters WHERE cluster_id = ?",
                                         [bitcoin.cluster_id]).fetchone()
    assert stored[:2] == (40, bitcoin.first_seen) and json.loads(stored[2])["2026-08-10"] == 30


def test_a_grown_topic_keeps_its_id_and_the_closest_new_group_takes_a_stored_one(tmp_path):
    # review: (a) a topic grown five-fold holds 25 of its 30 old members among 200 new prompts, under a
    # fifth of its group: a fragment with the other 5 took its id, and the topic itself got a new one;
    # (b) by centroid, groups took stored ids in the clustering's order: one at cosine 0.86 before one
    # at 0.99
    from novelty.clusters import _ids

    db = tmp_path / "m.db"
    Store(db).close()
    topic, other = np.eye(8, dtype=np.float32)[0], np.eye(8, dtype=np.float32)[1]
    old = [f"old{i}" for i in range(30)]
    with sqlite3.connect(db) as conn:
        conn.execute("INSERT INTO clusters (cluster_id, name, size, centroid) VALUES ('c0001', 'crypto', 30, ?)",
                     [topic.tobytes()])
        conn.executemany("INSERT INTO cluster_members VALUES (?, 'c0001')", [(p,) for p in old])
    store = Store(db)
    try:
        grown, fragment = old[:25] + [f"new{i}" for i in range(200)], old[25:] + [f"stray{i}" for i in range(5)]
        assert _ids(store, [grown, fragment], [topic, other]) == ["c0001", "c0002"]
        assert _ids(store, [fragment, grown], [other, topic]) == ["c0002", "c0001"]
        near = topic + np.float32(0.14) * np.eye(8, dtype=np.float32)[2]
        far = topic + np.float32(0.6) * other
        near, far = near / np.linalg.norm(near), far / np.linalg.norm(far)
        assert float(far @ topic) > 0.85  # both could continue c0001: the closer does
        assert _ids(store, [[f"a{i}" for i in range(10)], [f"b{i}" for i in range(10)]], [far, near]) == [
            "c0002", "c0001"]
    finally:
        store.close()


def _repeated_db(path, texts):
    """texts: (text, vector, times asked); each stored as that many novel prompts."""
    store = Store(path)
    store.bind_model("m", "r", 32)
    run = store.start_run(alpha=0.05)
    rows, vectors = [], {}
    for t, (text, v, times) in enumerate(texts):
        vectors[f"h{t}"] = (v / np.linalg.norm(v)).astype(np.float32)
        rows += [(f"p{t}-{i}", run, "s", i, f"2026-11-24T10:{i % 60:02d}:00Z", text, f"h{t}", "exchange_rate",
                  0.3, 0.7, 0.01, 1, "t", "card_arrival", "[]", "now") for i in range(times)]
    store.write_chunk(rows, vectors, [])
    store.finish_run(run)
    store.close()
    return path


def test_a_question_asked_verbatim_many_times_is_a_cluster(tmp_path):
    """Review: clustering ran once per distinct text, so 80 prompts in 2 texts (a suggested-prompt
    button, a bot) were 2 points: never a cluster of their own, merged with whatever else was there."""
    rng = np.random.default_rng(0)
    topic, far = rng.normal(size=32), rng.normal(size=32)
    texts = [("how do I stake ethereum", topic + rng.normal(scale=0.05, size=32), 40),
             ("can I stake solana", topic + rng.normal(scale=0.05, size=32), 40)]
    texts += [(f"random thing {i}", rng.normal(size=32), 1) for i in range(4)]
    found = find_clusters(_repeated_db(tmp_path / "a.db", texts), min_size=5)
    assert found and all("stake" in c.name for c in found) and sum(c.size for c in found) == 80, found
    # beside clusters of distinct texts, a question asked 12 times far from them is a cluster of its own
    other = rng.normal(size=32)
    texts = [(f"card declined at shop {i}", other + rng.normal(scale=0.1, size=32), 1) for i in range(12)]
    texts += [("where is my crypto refund", far, 12)] + [(f"random thing {i}", rng.normal(size=32), 1)
                                                       for i in range(6)]
    found = find_clusters(_repeated_db(tmp_path / "b.db", texts), min_size=5)
    assert len(found) == 2 and min(c.size for c in found) >= 12 and any("refund" in c.name for c in found), found


def test_one_text_asked_many_times_is_a_cluster(tmp_path):
    """QA: a quiet day whose novel prompts were one question asked 40 times raised HDBSCAN's
    'n_samples=1' (exit 3; novelty run's clusters step failed as a bug)."""
    found = find_clusters(_repeated_db(tmp_path / "a.db", [("what is the weather in Paris",
                                                             np.ones(32), 40)]), min_size=5)
    assert [c.size for c in found] == [40] and "weather" in found[0].name, found
    # asked fewer than twice the minimum size, it stays unclustered, as a rare text does
    assert find_clusters(_repeated_db(tmp_path / "b.db", [("weather in Paris", np.ones(32), 6)]), min_size=5) == []


def test_a_look_alike_of_a_look_alike_counts_a_few_rounds_deep(tmp_path, monkeypatch):
    """A chain walking away from the cluster: each link nearer the one before it than its own training
    neighbour. Three rounds take the first three links (the fourth is a round too far); one round took
    only the first, though the others sit nearer the new topic's prompts than anything trained."""
    import novelty.clusters as clusters

    db = novel_db(tmp_path / "m.db", {"bitcoin wallet": 40}, noise=0)
    (cluster,) = find_clusters(db)
    centre = np.asarray(cluster.centroid, np.float64)
    away = np.random.default_rng(5).normal(size=32)
    away -= (away @ centre) / (centre @ centre) * centre
    away *= np.linalg.norm(centre) / np.linalg.norm(away)

    def link(step):  # cos(link i, link i+1) = cos(0.5) = 0.88
        return np.cos(0.5 * step) * centre + np.sin(0.5 * step) * away

    add_unflagged(db, [(f"link{i}", "2026-11-24T12:00:00Z", link(i), 0.8) for i in (1, 2, 3, 4)])
    store = Store(db)
    vectors = store.cached_vectors([f"h0-{i}" for i in range(40)], 32)  # novel_db's hashes of the topic
    assert max(float(v @ (link(2) / np.linalg.norm(link(2)))) for v in vectors.values()) < 0.8  # not a first-round one
    links = lambda: [r["prompt_id"] for r in clusters.look_alikes(store) if r["prompt_id"].startswith("link")]  # noqa: E731
    assert links() == ["link1", "link2", "link3"]  # (the topic's prompts HDBSCAN left as noise are look-alikes too)
    monkeypatch.setattr(clusters, "LOOK_ALIKE_ROUNDS", 1)
    assert links() == ["link1"]
    store.close()


def _axis(i: int) -> np.ndarray:
    v = np.zeros(32)
    v[i] = 1
    return v


def two_topics_a_day_apart(db):
    """Bitcoin prompts from 11-20 and weather prompts from 11-24, each tight around its own axis."""
    return topics_db(db, [("bitcoin wallet", 0, [("2026-11-20", 40)]), ("weather paris", 1, [("2026-11-24", 40)])])


def test_a_look_alike_a_step_out_is_one_clusters_in_its_card_its_listing_and_all(tmp_path):
    # review: `look_alikes(store, c)` scanned from c's own start, so the step through a look-alike of an
    # earlier cluster was missing: P was listed under both clusters, and the later one's card said 1
    db = two_topics_a_day_apart(tmp_path / "m.db")
    find_clusters(db)
    add_unflagged(db, [("L1", "2026-11-22T12:00:00Z", 0.85 * _axis(0) + 0.53 * _axis(2), 0.5),  # bitcoin's
                       ("L2", "2026-11-25T12:00:00Z", 0.90 * _axis(1) + 0.436 * _axis(2), 0.5),  # weather's
                       ("P", "2026-11-25T13:00:00Z", _axis(2) + 0.05 * _axis(5), 0.3)])  # nearer L1 than L2
    cards = {("bitcoin" if "bitcoin" in c.name else "weather"): c for c in find_clusters(db)}
    store = Store(db)
    every = {r["prompt_id"]: r["cluster_id"] for r in look_alikes(store, "all")}
    assert every == {"L1": cards["bitcoin"].cluster_id, "L2": cards["weather"].cluster_id,
                     "P": cards["bitcoin"].cluster_id}
    for card in cards.values():
        listed = [r["prompt_id"] for r in look_alikes(store, card.cluster_id)]
        assert listed == sorted(p for p, c in every.items() if c == card.cluster_id) and card.look_alikes == len(listed)
    store.close()


def test_a_look_alike_whose_vector_goes_between_two_steps_is_kept_and_leads_nowhere(tmp_path, monkeypatch):
    # review: a score run's --cache-size may evict a never-novel prompt's vector while the steps run;
    # the next step looked it up and raised KeyError (clusters, clusters show, queue add)
    import novelty.clusters as clusters

    db = two_topics_a_day_apart(tmp_path / "m.db")
    find_clusters(db)
    add_unflagged(db, [("L1", "2026-11-22T12:00:00Z", 0.85 * _axis(0) + 0.53 * _axis(2), 0.5),
                       ("P", "2026-11-25T13:00:00Z", _axis(2) + 0.05 * _axis(5), 0.3)])
    once = clusters._nearer_once

    def evicting(store, *args):
        found = once(store, *args)
        for r in found:
            store.db.execute("DELETE FROM embeddings WHERE text_hash = ?", [r["text_hash"]])
        return found

    monkeypatch.setattr(clusters, "_nearer_once", evicting)
    store = Store(db)
    assert [r["prompt_id"] for r in look_alikes(store, "all")] == ["L1"]  # P was reachable only through L1
    store.close()


def topics_db(db, spec):
    """spec: (words, axis, [(day, count), ...]) per topic; prompts tight around their axis."""
    rng = np.random.default_rng(0)
    store = Store(db)
    store.bind_model("m", "r", 32)
    run = store.start_run(alpha=0.05)
    rows, vectors = [], {}
    for t, (words, axis, days) in enumerate(spec):
        for i, day in enumerate(d for d, n in days for _ in range(n)):
            v = _axis(axis) + rng.normal(scale=0.05, size=32)
            vectors[f"h{t}-{i}"] = (v / np.linalg.norm(v)).astype(np.float32)
            rows.append((f"p{t}-{i:02d}", run, "s", i, f"{day}T10:{i:02d}:00Z", f"{words} question {i}", f"h{t}-{i}",
                         "exchange_rate", 0.3, 0.7, 0.01, 1, "t", "card_arrival", "[]", "now"))
    store.write_chunk(rows, vectors, [])
    store.finish_run(run)
    store.close()
    return db


def test_clusters_show_until_compares_with_the_prompts_before_it_as_the_card_did(tmp_path):
    # review: `clusters show --until U --look-alikes` compared candidates with members logged after U too,
    # which the card of `clusters --until U` never saw: L was listed, the card said 0
    db = topics_db(tmp_path / "m.db", [("bitcoin wallet", 0, [("2026-11-23", 20), ("2026-11-24", 20)]),
                                       ("weather paris", 1, [("2026-11-23", 20), ("2026-11-24", 20)])])
    find_clusters(db)
    near = 0.8 * _axis(0) + 0.6 * _axis(2)
    near /= np.linalg.norm(near)
    store = Store(db)
    rows = list(store.db.query("SELECT ts, text_hash FROM scores WHERE prompt_id LIKE 'p0-%'"))
    vectors = store.cached_vectors([r["text_hash"] for r in rows], 32)
    store.close()
    before = max(float(vectors[r["text_hash"]] @ near) for r in rows if r["ts"] < "2026-11-24")
    after = max(float(vectors[r["text_hash"]] @ near) for r in rows if r["ts"] >= "2026-11-24")
    if not before < after:  # the draw puts the nearest bitcoin prompt after U (checked, so the test can fail)
        pytest.skip(f"this draw has the nearest prompt before U ({before:.3f} >= {after:.3f})")
    add_unflagged(db, [("L", "2026-11-23T12:00:00Z", near, (before + after) / 2)])
    cards = find_clusters(db, until="2026-11-24")
    for card in cards:
        listed = cluster_prompts(db, card.cluster_id, similar=True, until="2026-11-24")
        assert card.look_alikes == len(listed) == 0, (card.cluster_id, listed)


def test_past_the_sampling_cap_the_card_and_the_listing_compare_with_the_same_prompts(tmp_path, monkeypatch):
    # review: the card sampled the cluster prompts in logging order, the listing in prompt-id order
    import sqlite3

    import novelty.clusters as clusters

    monkeypatch.setattr(clusters, "LOOK_ALIKE_MEMBERS", 30)  # stands for 5,000
    db = topics_db(tmp_path / "m.db", [("bitcoin wallet", 0, [("2026-11-23", 40)]),
                                       ("weather paris", 1, [("2026-11-23", 40)])])
    with sqlite3.connect(db) as conn:  # ids that sort opposite to the order the prompts were logged in
        conn.execute("UPDATE scores SET prompt_id = 'q' || printf('%03d', 999 - line) || prompt_id")
    find_clusters(db)
    store = Store(db)
    hashes = [r[0] for r in store.db.execute("SELECT s.text_hash FROM cluster_members m JOIN scores s USING (prompt_id)")]
    members = np.stack(list(store.cached_vectors(hashes, 32).values()))
    store.close()
    rng = np.random.default_rng(3)
    candidates = []
    for k in range(60):
        v = _axis(k % 2) + rng.normal(scale=0.12, size=32)
        v /= np.linalg.norm(v)
        candidates.append((f"L{k:02d}", "2026-11-23T12:00:00Z", v, float((members @ v).max()) - 0.003))
    add_unflagged(db, candidates)
    store = Store(db)
    for card in find_clusters(db):
        assert card.look_alikes == len(look_alikes(store, card.cluster_id))
    store.close()


def stored_cards_match_their_listings(db):
    """Every stored card's look-alike count against what `clusters show C --look-alikes` lists for C."""
    with sqlite3.connect(db) as conn:
        cards = dict(conn.execute("SELECT cluster_id, look_alikes FROM clusters WHERE size > 0"))
    listed = {cid: len(cluster_prompts(db, cid, similar=True)) for cid in cards}
    assert cards == listed
    return cards


def test_after_a_since_run_every_stored_card_counts_what_its_listing_shows(tmp_path):
    # review: a `clusters --since` run (as `novelty run` does) compared candidates with its own range's
    # clusters only: L, nearest the bitcoin cluster of before the range, was counted on the weather card
    db = two_topics_a_day_apart(tmp_path / "m.db")
    find_clusters(db)
    between = 0.7 * _axis(0) + 0.6 * _axis(1) + 0.39 * _axis(2)
    add_unflagged(db, [("L", "2026-11-24T12:00:00Z", between, 0.5)])
    (weather,) = find_clusters(db, since="2026-11-23")
    cards = stored_cards_match_their_listings(db)
    assert cards[weather.cluster_id] == weather.look_alikes
    (bitcoin,) = set(cards) - {weather.cluster_id}
    # L sits nearer bitcoin (0.7) than weather (0.6): the bitcoin card, not found again by this run, counts it
    assert [r["prompt_id"] for r in cluster_prompts(db, bitcoin, similar=True)] == ["L"] and cards[bitcoin] == 1


def test_after_a_prune_a_card_counts_what_its_listing_shows(tmp_path):
    # review: the card began the cluster at its pruned first day, the listing at its first prompt left, so
    # L, logged between the two, was counted on the card and not listed
    from datetime import datetime, timezone

    from novelty.prune import prune

    db = topics_db(tmp_path / "m.db", [("bitcoin wallet", 0, [("2026-11-20", 10), ("2026-11-24", 30)]),
                                       ("weather paris", 1, [("2026-11-22", 40)])])
    find_clusters(db)
    prune(db, "3d", now=datetime(2026, 11, 24, tzinfo=timezone.utc))  # bitcoin's prompts of 11-20 go
    add_unflagged(db, [("L", "2026-11-23T12:00:00Z", 0.9 * _axis(0) + 0.436 * _axis(2), 0.5)])
    find_clusters(db)
    assert stored_cards_match_their_listings(db) is not None


def test_a_saved_run_with_an_end_counts_the_look_alikes_its_listing_shows(tmp_path):
    # review: `novelty run` saves with the end of its day as until; the count stopped there and the save
    # wrote 0 onto the weather card, while `clusters show --look-alikes` listed L, logged after it
    db = two_topics_a_day_apart(tmp_path / "m.db")
    add_unflagged(db, [("L", "2026-11-24T12:00:00Z", 0.9 * _axis(1) + 0.436 * _axis(2), 0.5)])  # near weather
    find_clusters(db)
    find_clusters(db, since="2026-11-16", until="2026-11-23", save=True)
    with sqlite3.connect(db) as conn:
        (weather,) = conn.execute("SELECT DISTINCT cluster_id FROM cluster_members WHERE prompt_id LIKE 'p1-%'").fetchone()
    assert stored_cards_match_their_listings(db)[weather] == 1


def test_a_since_run_that_finds_nothing_still_counts_new_look_alikes_on_the_stored_cards(tmp_path):
    # review: a quiet lookback saved nothing, so every card kept the count of before L was logged
    db = two_topics_a_day_apart(tmp_path / "m.db")
    find_clusters(db)
    add_unflagged(db, [("L", "2026-11-25T12:00:00Z", 0.9 * _axis(1) + 0.436 * _axis(2), 0.5)])
    assert find_clusters(db, since="2026-11-25") == []
    assert sorted(stored_cards_match_their_listings(db).values()) == [0, 1]
    assert find_clusters(db, since="2026-11-25", save=False) == []  # (not saved: nothing written)


def test_a_prune_of_every_member_leaves_no_look_alike_count_on_the_cards(tmp_path):
    # second review: with no member left, a saving run that found nothing skipped the recount, and the
    # weather card kept its 1 while its listing showed none
    from datetime import datetime, timezone

    from novelty.prune import prune

    db = two_topics_a_day_apart(tmp_path / "m.db")
    add_unflagged(db, [("L", "2026-11-26T12:00:00Z", 0.9 * _axis(1) + 0.436 * _axis(2), 0.5)])  # near weather
    find_clusters(db)
    assert sorted(stored_cards_match_their_listings(db).values()) == [0, 1]
    prune(db, "1d", now=datetime(2026, 11, 26, tzinfo=timezone.utc))  # every novel prompt goes, L stays
    assert find_clusters(db) == []
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT SUM(look_alikes) FROM clusters").fetchone() == (0,)
