import csv
import json

import numpy as np
import pytest
from typer.testing import CliRunner

from novelty.cli import app
from novelty.clusters import find_clusters
from novelty.errors import InputError
from novelty.refresh import golden_refresh
from novelty.store import Store

from test_clusters import novel_db


@pytest.fixture
def db(tmp_path):
    """65 novel prompts in two topics plus 10 noise; 200 ordinary prompts over four predicted labels."""
    path = novel_db(tmp_path / "m.db", {"bitcoin wallet": 40, "staking rewards": 25})
    find_clusters(path)
    store = Store(path)
    run = store.start_run(alpha=0.05)
    labels = ["card_arrival"] * 150 + ["exchange_rate"] * 40 + ["top_up"] * 9 + ["pin_blocked"]
    store.write_chunk([(f"k{i}", run, "s", i, f"2026-11-2{3 + i % 2}T09:00:00Z", f"ordinary {i}", f"k{i}", label,
                        0.8, 0.1, 0.2 + i / 1000, 0, "t", label, "[]", "now") for i, label in enumerate(labels)],
                      {}, [])
    store.close()
    return path


def read(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_every_label_every_cluster_and_the_edge_cases_are_covered(db, tmp_path):
    result = golden_refresh(db, tmp_path / "next.csv", size=40, edge_share=0.25)
    rows = read(tmp_path / "next.csv")
    assert result.written == len(rows) == 40 and result.candidates == 275
    assert len({r["text"] for r in rows}) == 40 and all(r["label"] == "" for r in rows)
    for label in ("card_arrival", "exchange_rate", "top_up", "pin_blocked"):  # even a label with one prompt
        assert f"label: {label}" in {r["stratum"] for r in rows}
    assert len({r["stratum"].split()[1] for r in rows if r["stratum"].startswith("novel: c")}) == 2  # both topics
    edge = [r for r in rows if r["stratum"] == "edge: most novel"]
    assert len(edge) == 10 and max(float(r["p_value"]) for r in edge) <= min(
        float(r["p_value"]) for r in rows if r["stratum"] != "edge: most novel")
    card = sum(r["stratum"] == "label: card_arrival" for r in rows)
    assert card > sum(r["stratum"] == "label: top_up" for r in rows)  # proportional beyond the floor


def test_the_file_reads_back_as_a_golden_set_once_labelled(db, tmp_path):
    golden_refresh(db, tmp_path / "next.csv", size=20)
    rows = read(tmp_path / "next.csv")
    with open(tmp_path / "labelled.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(dict(r, label=r["prediction"]) for r in rows)
    out = CliRunner().invoke(app, ["golden", "--baseline", str(tmp_path / "labelled.csv"),
                                   "--current", str(tmp_path / "labelled.csv"), "--json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["current"]["accuracy"] == 1.0


def test_small_windows_take_everything_and_bad_input_is_a_clear_error(db, tmp_path):
    result = golden_refresh(db, tmp_path / "all.csv", size=10_000, since="2026-11-24")
    assert result.written == len(read(tmp_path / "all.csv")) == result.candidates < 275
    with pytest.raises(InputError, match="no scored prompts"):
        golden_refresh(db, tmp_path / "none.csv", since="2030-01-01")
    with pytest.raises(InputError, match="--size"):
        golden_refresh(db, tmp_path / "x.csv", size=0)
    out = CliRunner().invoke(app, ["queue", "golden", "--db", str(tmp_path / "absent.db"), "-o", "x.csv"])
    assert out.exit_code == 2 and "no such database" in out.output


def test_a_size_smaller_than_the_strata_keeps_labels_first_and_says_what_is_left_out(db, tmp_path):
    result = golden_refresh(db, tmp_path / "small.csv", size=4, edge_share=0.25)
    strata = {r["stratum"] for r in read(tmp_path / "small.csv")}
    # the four predicted labels, one each (was: an edge case took the place of one, though labels come first)
    assert len(strata) == 4 and all(s.startswith("label: ") for s in strata)
    five = {r["stratum"] for r in read(golden_refresh(db, tmp_path / "five.csv", size=5, edge_share=0.2).out)}
    assert len(five) == 5 and "edge: most novel" in five  # room for one edge case after the labels
    assert result.left_out and not set(result.left_out) & strata
    assert any(s.startswith("novel: ") for s in result.left_out)
    out = CliRunner().invoke(app, ["queue", "golden", "--db", str(db), "-o", str(tmp_path / "s.csv"), "--size", "4"])
    assert out.exit_code == 0 and "is too small to give every stratum a prompt" in out.output
    # QA: the edge cases --edge-share asked for went unsaid (0 of 2 at --size 10 over 30 strata)
    assert result.edge_short == 1 and golden_refresh(db, tmp_path / "five.csv", size=5, edge_share=0.2).edge_short == 0
    assert "--size 4 left no room for 1 edge case of --edge-share 0.2 (the most novel prompts)" in out.output


@pytest.mark.parametrize("where", ["missing/next.csv", "."])
def test_an_output_that_cannot_be_written_is_a_clear_error(db, tmp_path, where):
    out = CliRunner().invoke(app, ["queue", "golden", "--db", str(db), "-o", str(tmp_path / where)])
    assert out.exit_code == 2 and "Traceback" not in out.output  # was: FileNotFoundError / IsADirectoryError
    assert ("no folder" if "/" in where else "is a folder") in out.output


@pytest.mark.parametrize("name", ["next.csv.gz", "next.parquet", "next.xlsx"])
def test_a_golden_sample_named_as_another_format_is_refused_before_anything_is_written(db, tmp_path, name):
    # QA: -o next.csv.gz wrote a plain CSV under a gzip name, which no reader of .gz opens
    out = CliRunner().invoke(app, ["queue", "golden", "--db", str(db), "-o", str(tmp_path / name)])
    assert out.exit_code == 2 and "name the file .csv" in out.output and not (tmp_path / name).exists()


def test_cli_prints_the_strata(db, tmp_path):
    out = CliRunner().invoke(app, ["queue", "golden", "--db", str(db), "-o", str(tmp_path / "g.csv"), "--size", "30"])
    assert out.exit_code == 0, out.output
    assert "Wrote 30 of 275 prompts" in out.output and "label: card_arrival" in out.output


def test_a_stratum_sampled_through_its_edge_cases_is_not_left_out(db, tmp_path):
    result = golden_refresh(db, tmp_path / "e.csv", size=30, edge_share=0.9)
    edge = [r for r in read(tmp_path / "e.csv") if r["stratum"] == "edge: most novel"]
    assert edge and not any(s.startswith("novel: ") for s in result.left_out)  # was: listed as left out


def test_since_counts_a_prompt_without_a_time_when_it_was_scored_and_ties_go_to_the_most_novel(db, tmp_path):
    store = Store(db)
    run = store.start_run(alpha=0.05)
    store.write_chunk([(f"n{i}", run, "s", i, None, f"untimed {i}", f"n{i}", "card_arrival", 0.1, 0.5 + i / 100,
                        0.001, 1, "t", "card_arrival", "[]", "2099-01-01T00:00:00Z") for i in range(30)], {}, [])
    store.close()
    result = golden_refresh(db, tmp_path / "g.csv", size=2, since="2099-01-01", edge_share=0.5)
    assert result.candidates == 30
    assert [r["id"] for r in read(tmp_path / "g.csv") if r["stratum"].startswith("edge")] == ["n29"]


def test_queue_golden_prints_its_result_as_json(db, tmp_path):
    out = CliRunner().invoke(app, ["queue", "golden", "--db", str(db), "--size", "20", "-o", str(tmp_path / "n.csv"),
                                   "--json"])
    assert out.exit_code == 0, out.output
    got = json.loads(out.output)
    assert got["written"] == 20 and got["out"] == str(tmp_path / "n.csv")


def test_the_golden_sample_warns_of_formula_prompts_and_escapes_them_when_asked(db, tmp_path):
    # the file goes to annotators' spreadsheets; queue export warned and escaped, queue golden wrote =HYPERLINK raw
    with Store(db).db.conn as conn:
        conn.execute("""UPDATE scores SET text = '=HYPERLINK("http://evil")' WHERE prompt_id = 'k0'""")
    out = CliRunner().invoke(app, ["queue", "golden", "--db", str(db), "-o", str(tmp_path / "a.csv"), "--size", "300"])
    assert out.exit_code == 0 and "1 row has a cell starting with = + - or @ (prompt, id or label): a spreadsheet " \
        "may run them" in out.stderr
    assert [r["text"] for r in read(tmp_path / "a.csv") if r["id"] == "k0"] == ['=HYPERLINK("http://evil")']
    out = CliRunner().invoke(app, ["queue", "golden", "--db", str(db), "-o", str(tmp_path / "b.csv"), "--size", "300",
                                   "--escape-formulas", "--json"])
    assert json.loads(out.stdout)["formulas_escaped"] is True
    rows = read(tmp_path / "b.csv")
    assert [r["text"] for r in rows if r["id"] == "k0"] == ["'=HYPERLINK(\"http://evil\")"]
    assert all(not r["text"].startswith("'") for r in rows if r["id"] != "k0")
    with Store(db).db.conn as conn:  # a formula id and prediction (QA): escaped too, and golden reads them back
        conn.execute("UPDATE scores SET prompt_id = '+1+cmd', predicted_label = '-cmd' WHERE prompt_id = 'k0'")
    out = CliRunner().invoke(app, ["queue", "golden", "--db", str(db), "-o", str(tmp_path / "c.csv"), "--size", "300",
                                   "--escape-formulas"])
    rows = read(tmp_path / "c.csv")
    assert [(r["text"][:3], r["prediction"]) for r in rows if r["id"] == "'+1+cmd"] == [("'=H", "'-cmd")]
    for r in rows:
        r["label"] = r["prediction"]  # the model judged right on every item
    with (tmp_path / "labelled.csv").open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    from novelty.golden import golden
    report = golden(tmp_path / "labelled.csv", tmp_path / "labelled.csv")
    assert report.current.accuracy == 1.0 and report.current.items == len(rows)


@pytest.mark.parametrize("call, message", [
    (lambda db, tmp: golden_refresh(db, tmp / "g.csv", size="10"), "size is a whole number"),
    (lambda db, tmp: golden_refresh(db, tmp / "g.csv", edge_share=None), "edge_share is a share"),
    (lambda db, tmp: golden_refresh(db, None), "out is a file path"),
    (lambda db, tmp: __import__("novelty.queue").queue.export(db, 5), "out is a file path"),
    (lambda db, tmp: __import__("novelty.feedback").feedback.import_feedback(db, [tmp / "l.csv"]),
     "path is one label file's path"),
])
def test_library_callers_passing_the_wrong_kind_get_an_input_error(db, tmp_path, call, message):
    with pytest.raises(InputError, match=message):  # was: TypeError from inside
        call(db, tmp_path)


def test_a_golden_range_ending_before_it_starts_is_said_as_empty(db, tmp_path):
    with pytest.raises(InputError, match="is not before --until .*the range is empty"):  # was: 'no scored prompts'
        golden_refresh(db, tmp_path / "g.csv", since="2026-03-05", until="2026-03-02")


def test_clusters_come_before_the_unclustered_novel_prompts_when_slots_are_few():
    """QA: --size 8 gave a slot to 'novel: unclustered' ahead of every real cluster."""
    from novelty.refresh import _allocate

    strata = {"label: a": [0, 1], "novel: unclustered": list(range(2, 40)), "novel: c0001 x": [40, 41, 42],
              "novel: c0002 y": [43, 44]}
    rng = np.random.default_rng(0)
    picked = _allocate(strata, 3, rng)
    assert {i for i in picked} & {40, 41, 42} and {i for i in picked} & {43, 44} and not set(picked) & set(range(2, 40))


def test_leftover_slots_go_one_each_to_the_strata_furthest_below_their_share():
    """QA: every slot rounding left went to the largest stratum: 72 of 300 for one of 77 labels of about
    equal size (proportionally 4)."""
    from collections import Counter

    from novelty.refresh import sample

    rows = [dict(text=f"l{j}-{i}", p_value=0.5, stratum=f"label: L{j:02d}")
            for j in range(77) for i in range(101 if j == 0 else 100)]
    counts = Counter(r["stratum"] for r in sample(rows, 300, 0.0, np.random.default_rng(0)))
    assert sum(counts.values()) == 300 and max(counts.values()) - min(counts.values()) <= 1, counts.most_common(3)


def test_the_sample_leaves_out_training_prompts_and_earlier_golden_sets(db, tmp_path):
    """QA: 28 of 300 refreshed prompts were training prompts, 5 the launch golden set's, and week 2's
    sample repeated 65 of week 1's."""
    (tmp_path / "train.csv").write_text("text,label\n" + "".join(f"ordinary {i},card_arrival\n" for i in range(100)))
    first = golden_refresh(db, tmp_path / "week1.csv", size=40, exclude=[tmp_path / "train.csv"])
    assert first.excluded == 100 and not {r["text"] for r in read(tmp_path / "week1.csv")} & \
        {f"ordinary {i}" for i in range(100)}
    golden_refresh(db, tmp_path / "week2.csv", size=40, exclude=[tmp_path / "train.csv", tmp_path / "week1.csv"])
    assert not {r["id"] for r in read(tmp_path / "week1.csv")} & {r["id"] for r in read(tmp_path / "week2.csv")}
    out = CliRunner().invoke(app, ["queue", "golden", "--db", str(db), "-o", str(tmp_path / "w3.csv"), "--size", "40",
                                   "--exclude", str(tmp_path / "train.csv")])
    assert out.exit_code == 0 and "100 prompts left out as in the --exclude files" in out.output
    (tmp_path / "other.csv").write_text("a,b\n1,2\n")
    with pytest.raises(InputError, match="no 'text' column or 'id'"):
        golden_refresh(db, tmp_path / "w4.csv", exclude=[tmp_path / "other.csv"])
    (tmp_path / "prompts.csv").write_text("id,prompt,label\nx1,ordinary 1,card_arrival\n")  # review: left nothing out
    with pytest.raises(InputError, match="its prompts look to be in 'prompt': name that column 'text'"):
        golden_refresh(db, tmp_path / "w5.csv", exclude=[tmp_path / "prompts.csv"])
