"""The HTML report without a browser: what it contains, that it asks for nothing, that user text is
escaped, and how it degrades. tests/test_report_browser.py opens the same file in Chromium."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import re
import sqlite3
from pathlib import Path
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest

from typer.testing import CliRunner

from novelty import charts
from novelty.cli import app
from novelty.errors import InputError
from novelty.report import gather, write_report
from novelty.spikes import SpikeSettings, detect_spikes
from novelty.store import Store

from conftest import XSS_FEATURE, XSS_IMG, XSS_LABEL, XSS_SCRIPT

ALLOWED_TAGS = {"html", "head", "meta", "link", "title", "style", "body", "header", "div", "h1", "h2", "h3", "span",
                "main", "nav", "a", "section", "p", "article", "code", "ul", "li", "details", "summary", "b", "i",
                "svg", "rect", "text", "line", "g", "path", "polyline", "table", "thead", "tbody", "tr", "th", "td",
                "br", "small", "input", "label", "select", "option", "footer", "script"}


def _tags(html: str) -> list[tuple[str, list[tuple[str, str | None]]]]:
    """Every start tag with its attributes, as a browser's tokenizer would see them."""
    found = []

    class Collect(HTMLParser):
        def handle_starttag(self, tag, attrs):
            found.append((tag, attrs))

        handle_startendtag = handle_starttag

    Collect().feed(html)
    return found


def test_the_verdict_comes_first_with_what_to_do(report_demo):
    html = report_demo["report"].read_text()
    verdict = html[html.index('id="verdict"'):html.index('id="rate"')]
    assert [c.cause for c in report_demo["result"].diagnosis.causes] == ["label_bias", "feature_recalibration",
                                                                          "offline_online_gap"]
    assert "3 things wrong" in verdict
    assert "fine-tune or online learning on the new queries" in verdict
    assert "refresh the golden set with post-launch data" in verdict and "novelty queue golden --db" in verdict
    assert "retrain with the correct feature version" in verdict
    assert "novelty queue add --db" in verdict
    assert verdict.index("label_bias") < verdict.index("feature_recalibration")


def test_nothing_leaves_the_page(report_demo):
    html = report_demo["report"].read_text()
    assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", html, re.I)
    tags = _tags(html)
    fetching = [(t, a, v) for t, attrs in tags for a, v in attrs
                if a in ("src", "href", "action", "formaction", "poster", "srcset", "data", "xlink:href")
                and not (v or "").startswith(("data:", "#"))]
    assert fetching == [], "attributes that would make a request"
    assert not [(t, a) for t, attrs in tags for a, _ in attrs if a.startswith("on")], "no inline handlers"
    assert {t for t, _ in tags} <= ALLOWED_TAGS
    assert "@import" not in html and "url(" not in html
    policy = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', html).group(1)
    assert "default-src 'none'" in policy
    script = re.search(r"<script>(.*?)</script>", html, re.S).group(1)
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    assert f"script-src 'sha256-{digest}'" in policy, "the page's own script must be the one allowed"


def test_user_text_is_escaped_everywhere(report_demo):
    html = report_demo["report"].read_text()
    assert html.count("<script") == 1, "only the report's own script"
    assert "<img" not in html and "<svg onload" not in html
    assert "&lt;script&gt;window.__xss = 1&lt;/script&gt;" in html
    assert "&#34;&gt;&lt;img src=x onerror=&#34;window.__xss = 2&#34;&gt;" in html
    for text in (XSS_SCRIPT, XSS_IMG, XSS_LABEL, XSS_FEATURE):
        assert text not in html


def test_sections_hold_the_data(report_demo):
    data = gather(report_demo["db"], reference=report_demo["tables"][0], current=report_demo["tables"][1],
                  index_dir=report_demo["index_dir"])
    assert [w["window_start"][:10] for w in data.windows if w["flagged"]] == ["2026-11-22", "2026-11-23", "2026-11-24"]
    assert len(data.rate_chart["bars"]) == 7 and len(data.rate_chart["bands"]) == 1
    assert len(data.incidents) == 3
    assert set(data.distribution["chart"]["paths"]) == {"production", "calibration"}
    assert data.distribution["above"] > data.distribution["alpha"]
    assert data.drift[0]["feature"] == "amount_gbp" and data.drift[0]["cause"] == "feature_recalibration"
    assert all(row["chart"] for row in data.drift)
    assert data.clusters and all(c["members"] and c["spark"] for c in data.clusters)
    assert data.labels["flagged"] and data.labels["rows"][0]["excess"] > 0


def test_without_the_index_production_is_shown_alone_and_the_page_says_why(report_demo, tmp_path):
    out = write_report(report_demo["db"], tmp_path / "r.html", index_dir=tmp_path / "nowhere")
    html = (tmp_path / "r.html").read_text()
    assert "is not available in" in html and "--index-dir" in html
    assert "(no such folder)" in html and "FileNotFoundError" not in html  # was: the exception's class name
    assert 'class="production"' in html and 'class="calibration"' not in html
    assert "pass --reference and --current" in html, "drift not given: said so, not shown as healthy"
    assert [c.cause for c in out.diagnosis.causes] == ["label_bias", "offline_online_gap"]


def test_an_empty_database_still_makes_a_page(tmp_path):
    Store(tmp_path / "empty.db").close()
    write_report(tmp_path / "empty.db", tmp_path / "empty.html")
    html = (tmp_path / "empty.html").read_text()
    assert "Nothing could be checked" in html and "No scored prompts yet" in html and "No clusters stored yet" in html


def test_an_empty_database_s_page_goes_to_standard_output_with_dash(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Store(tmp_path / "empty.db").close()
    out = CliRunner().invoke(app, ["report", "--db", "empty.db", "-o", "-"])
    assert out.exit_code == 0 and out.stdout.startswith("<!DOCTYPE html>") and out.stdout.rstrip().endswith("</html>")
    assert "standard output" in out.stderr and not (tmp_path / "-").exists()  # was: a file named '-'


def test_cli_writes_the_file_and_fails_on_cause(report_demo, tmp_path):
    runner = CliRunner()
    args = ["report", "--db", str(report_demo["db"]), "--index-dir", str(report_demo["index_dir"])]
    out = runner.invoke(app, [*args, "-o", str(tmp_path / "a.html"), "--json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["out"] == str(tmp_path / "a.html") and (tmp_path / "a.html").is_file()
    assert runner.invoke(app, [*args, "-o", str(tmp_path / "b.html"), "--fail-on", "cause"]).exit_code == 1
    bad = runner.invoke(app, [*args, "--reference", str(report_demo["tables"][0])])
    assert bad.exit_code == 2 and "go together" in bad.output
    # QA: '-o newdir/' wrote an HTML file called newdir; every -o that writes a file says it names a folder
    for command in (args, ["queue", "export", "--db", str(report_demo["db"])],
                    ["queue", "golden", "--db", str(report_demo["db"])], ["init", "--index", "x", "--logs", "l/{date}.jsonl"]):
        typo = runner.invoke(app, [*command, "-o", f"{tmp_path / 'newdir'}/"])
        assert typo.exit_code == 2 and f"-o {tmp_path / 'newdir'}/ names a folder (it ends with /)" in \
            " ".join(typo.output.split()), (command, typo.output)
        assert not (tmp_path / "newdir").exists()


def test_the_report_judges_the_feature_tables_and_the_window_as_diagnose_does(report_demo, tmp_path):
    header_only = tmp_path / "header.csv"
    header_only.write_text("foo,bar\n")
    args = ["--db", str(report_demo["db"]), "--reference", str(report_demo["tables"][0]), "--current",
            str(header_only), "--json"]
    page = CliRunner().invoke(app, ["report", *args, "-o", str(tmp_path / "r.html")])
    told = CliRunner().invoke(app, ["diagnose", *args])
    assert page.exit_code == told.exit_code == 2, page.output  # was: exit 0 and four feature_unavailable causes
    got = json.loads(page.stdout)
    assert not [c for c in got["causes"] if c["cause"] == "feature_unavailable"]
    assert any("no rows" in u["error"] for u in got["unreadable"]), got["unreadable"]
    out = CliRunner().invoke(app, ["report", "--db", str(report_demo["db"]), "-o", str(tmp_path / "w.html"),
                                   "--window", "0d"])
    assert out.exit_code == 2 and not (tmp_path / "w.html").exists()  # was: a page blaming the database


def test_chart_geometry():
    windows = [{"window_start": f"2026-11-{d:02d}T00:00:00Z", "novel_rate": r, "ci_low": r / 2, "ci_high": r * 1.5,
                "expected_rate": 0.05, "flagged": r > 0.1} for d, r in ((1, 0.05), (2, 0.3), (3, 0.4), (4, 0.05))]
    chart = charts.rate_chart(windows)
    assert [b["label"] for b in chart["bands"]] == ["2026-11-02"]
    assert chart["bars"][2]["h"] > chart["bars"][1]["h"] > chart["bars"][0]["h"] > 0
    gap = [*windows[:2], {**windows[1], "window_start": "2026-11-05T00:00:00Z", "novel_rate": 0.0, "ci_low": 0.0,
                          "ci_high": 1.0, "prompts": 0, "flagged": False}]  # a day without a log
    chart = charts.rate_chart(gap)
    assert chart["y_ticks"][-1]["text"] == "60%" and chart["bars"][2]["hi"] == chart["bars"][2]["lo"]  # was 150%
    # found by QA on a year of hourly windows of a dozen prompts: intervals up to 100 % drew a 150 % axis
    # and hid the bars, the last incident's label was cut ('incident fro'), and the ticks had no year
    start = __import__("datetime").datetime(2025, 6, 1)
    hours = [{"window_start": f"{start + __import__('datetime').timedelta(hours=h):%Y-%m-%dT%H:%M:%SZ}",
              "novel_rate": 0.1, "ci_low": 0.01, "ci_high": 0.99, "expected_rate": 0.05, "flagged": h >= 8750}
             for h in range(8760)]
    chart = charts.rate_chart(hours)
    assert chart["y_ticks"][-1]["text"] == "100%" and not chart["whiskers"]
    (band,) = chart["bands"]
    assert band["anchor"] == "end" and band["tx"] <= chart["right"]
    assert chart["x_labels"][0]["text"].startswith("2025-") and charts.rate_chart(windows)["whiskers"]
    hist = charts.histogram_chart({"production": [0.0, 1.0, 2.0, 5.0]}, threshold=1.5)
    assert hist["left"] < hist["threshold"]["x"] < hist["right"]
    mini = charts.mini_histogram({"kind": "categorical", "counts": {"a": 9, "b": 1}},
                                 {"kind": "categorical", "counts": {"a": 1, "b": 9}})
    assert len(mini["bars"]) == 4 and mini["caption"] == "a, b"
    empty = {"kind": "categorical", "counts": {}}  # a column of nulls on both sides (Parquet): was a ValueError
    assert charts.mini_histogram(empty, empty) is None


def test_a_stretch_spikes_leaves_unlisted_is_a_break_on_the_axis_not_two_neighbouring_bars():
    def day(d, rate=0.05, flagged=False, month=11):
        return {"window_start": f"2026-{month:02d}-{d:02d}T00:00:00Z", "novel_rate": rate,
                "window_end": f"2026-{month:02d}-{d:02d}T23:59:59Z", "ci_low": rate / 2,
                "ci_high": rate * 1.5, "expected_rate": 0.05, "flagged": flagged, "prompts": 100}

    windows = [day(1), day(2, 0.3, True), day(3), day(20, 0.3, True), day(21, 0.3, True), day(5, month=12)]
    chart = charts.rate_chart(windows)
    assert [(k["skipped"], k["after"][:10], k["before"][:10]) for k in chart["breaks"]] == [
        (16, "2026-11-03", "2026-11-20"), (13, "2026-11-21", "2026-12-05")]  # was: no breaks, bars side by side
    bars = chart["bars"]
    assert bars[3]["x"] - bars[2]["x"] > bars[2]["x"] - bars[1]["x"] and bars[-1]["x"] + bars[-1]["w"] < chart["right"]
    assert chart["bars"][2]["x"] < chart["breaks"][0]["x"] < chart["bars"][3]["x"]
    assert [b["label"] for b in chart["bands"]] == ["2026-11-02", "2026-11-20"]
    assert chart["expected"].count("M") == 3  # the expected line stops at each break instead of bridging it
    assert {t["text"] for t in chart["x_labels"]} >= {"11-01", "11-20", "12-05"}  # the date after a jump is named
    across = [day(1, 0.3, True), day(9, 0.3, True)]  # flagged on both sides of a break: two bands, not one
    assert len(charts.rate_chart(across)["bands"]) == 2 and charts.rate_chart(windows[:3])["breaks"] == []
    far = charts.rate_chart([day(1), day(2), {**day(23), "window_start": "2099-11-23T00:00:00Z"}])
    assert all(t["x"] + len(t["text"]) * 3.25 <= far["right"] for t in far["x_labels"])  # '2099-11-2' was cut


def test_the_headline_rate_is_the_latest_window_tested_not_a_stray_prompt(tmp_path, index, train_pairs):
    from conftest import write_jsonl
    from novelty import score_files

    db = tmp_path / "m.db"
    days = [{"prompt": train_pairs[i * 7][0], "timestamp": f"2026-11-{20 + i % 3}T{i % 24:02d}:00:00Z"}
            for i in range(120)]
    score_files([write_jsonl(tmp_path / "a.jsonl", days)], index, db)
    score_files([write_jsonl(tmp_path / "b.jsonl", [{"prompt": "zzz qqq xylophone banana",
                                                      "timestamp": "2099-11-23T10:00:00Z"}])], index, db)
    text = open(write_report(db, tmp_path / "r.html").out, encoding="utf-8").read()
    tile = text[text.index('<div class="tiles">'):]
    tile = tile[:tile.index("flagged window")]
    assert "novel in the latest window tested (2026-11-22)" in tile and "100.0%" not in tile  # was: 100.0 %
    assert text.count('class="break"') == 1 and "without prompts between 2026-1" in text
    assert "Long stretches without prompts are closed up" in text
    Store(tmp_path / "e.db").close()
    score_files([write_jsonl(tmp_path / "c.jsonl", days[:5])], index, tmp_path / "e.db")
    text = open(write_report(tmp_path / "e.db", tmp_path / "e.html").out, encoding="utf-8").read()
    assert "no window with enough prompts to test" in text and "closed up" not in text


def test_a_column_of_nulls_in_parquet_makes_a_page(tmp_path):
    rng = np.random.default_rng(0)
    for name in ("ref", "cur"):
        pd.DataFrame({"x": rng.normal(0, 1, 100), "empty": [None] * 100}).to_parquet(tmp_path / f"{name}.parquet")
    Store(tmp_path / "m.db").close()
    write_report(tmp_path / "m.db", tmp_path / "m.html", reference=tmp_path / "ref.parquet",
                 current=tmp_path / "cur.parquet")  # exit 3 before
    assert "no values to test" in (tmp_path / "m.html").read_text()


def test_direction_controls_long_prompts_untimed_prompts_since_and_quoted_paths(tmp_path):
    from novelty.clusters import find_clusters
    from novelty.diagnose import Cause
    from novelty.report import _card
    from test_clusters import novel_db

    db = novel_db(tmp_path / "m.db", {"bitcoin wallet": 40})
    store = Store(db)
    run = store.start_run(alpha=0.05)
    store.write_chunk([(f"x{i}", run, "s", i, None, "long " * 400 if i == 0 else f"untimed {i}", f"x{i}",
                        "evil\u202elabel\x00", 0.1, 0.9, 0.001, 1, "t", "card", "[]", "2026-11-24T12:00:00Z")
                       for i in range(5)], {f"x{i}": np.eye(32, dtype=np.float32)[i] for i in range(5)}, [])
    store.close()
    find_clusters(db)
    write_report(db, tmp_path / "r.html")
    html = (tmp_path / "r.html").read_text()
    assert "\u202e" not in html and "evil[U+202E]label[U+0000]" in html  # in the labels section: untimed count
    assert "\x00" not in html  # a NUL made the page a binary file to grep
    (tmp_path / "a-file").write_text("x")
    with pytest.raises(InputError, match="a-file is a file, not a folder"):  # was: '(File exists)', at the end
        write_report(db, tmp_path / "a-file" / "r.html")
    assert "long " * 100 not in html
    write_report(db, tmp_path / "later.html", since="2030-01-01")
    assert re.search(r"<b>0</b><span>clusters of novel prompts", (tmp_path / "later.html").read_text())
    card = _card(Cause("label_bias", None, "high", "", ""), "my db's.db", None)
    assert card["command"] == "novelty queue add --db 'my db'\"'\"'s.db' --max-p-value 0.01 --budget 200"


def test_a_skew_card_does_not_show_the_drift_tables_medians():
    from novelty.diagnose import Cause
    from novelty.report import _card

    feature = {"medians": (20.07, 19.86)}  # launch vs today: not the offline vs serving pair of the skew
    assert _card(Cause("training_serving_skew", "amount", "high", "", ""), "m.db", feature)["fact"] is None
    assert "Median 20.07" in _card(Cause("feature_drift", "amount", "high", "", ""), "m.db", feature)["fact"]


def test_until_shows_the_page_as_it_was_then(report_demo, tmp_path):
    out = CliRunner().invoke(app, ["report", "--db", str(report_demo["db"]), "--index-dir", str(report_demo["index_dir"]),
                                   "--until", "2026-11-20", "-o", str(tmp_path / "then.html")])
    assert out.exit_code == 0, out.output
    html = (tmp_path / "then.html").read_text()
    title = re.search(r"<title>.* · (\d{4}-\d\d-\d\d)</title>", html).group(1)
    starts = re.findall(r"<title>(\d{4}-\d\d-\d\dT[\d:]+Z):", html)
    assert title < "2026-11-20" and starts and max(starts) < "2026-11-20"


def test_the_page_leaves_out_remnants_smaller_than_a_cluster(tmp_path):
    # found by QA: 25 'clusters' of one prompt on the page (remnants a later run took most prompts from),
    # where `clusters` said 12, and its --until page showed none of them
    from novelty.clusters import find_clusters
    from test_clusters import novel_db

    db = novel_db(tmp_path / "m.db", {"bitcoin wallet": 60, "staking rewards": 30}, noise=0)
    found = find_clusters(db, min_size=5)
    with sqlite3.connect(db) as conn:
        conn.execute("INSERT INTO clusters (cluster_id, name, size, first_seen, last_seen) VALUES "
                     "('c0099', 'remnant', 2, '2026-11-23T10:00:00Z', '2026-11-23T10:05:00Z')")
        conn.execute("UPDATE cluster_members SET cluster_id = 'c0099' WHERE prompt_id IN ('p0-0', 'p0-1')")
    page = gather(db)
    assert [c["cluster_id"] for c in page.clusters] == [c.cluster_id for c in found]
    assert page.facts["clusters_total"] == len(found)


def test_until_counts_the_clusters_as_they_stood_then(tmp_path):
    from novelty.clusters import find_clusters
    from novelty.report import gather
    from test_clusters import novel_db

    db = novel_db(tmp_path / "m.db", {"bitcoin wallet": 60, "staking rewards": 30}, noise=0)  # a third on the 23rd
    find_clusters(db)  # the stored view counts both days
    now = {c["name"]: c for c in gather(db).clusters}
    then = {c["name"]: c for c in gather(db, until="2026-11-24").clusters}
    assert sorted(c["size"] for c in now.values()) == [30, 60]
    assert sorted(c["size"] for c in then.values()) == [10, 20]  # was 30 and 60: the 24th's prompts in the 23rd's page
    for c in then.values():
        assert c["last_seen"] < "2026-11-24" and set(c["daily"]) == {"2026-11-23"}
        for texts in (c["members"], c["examples"]):  # none from the 24th
            assert texts and all("question" in m and int(m.rsplit(" ", 1)[1]) < c["size"] for m in texts)
    assert gather(db, until="2026-11-23").clusters == []  # nothing before the first day
    store = Store(db)  # a cluster last seen on the 23rd, stored by a run whose days reached the 24th
    store.db.execute("UPDATE clusters SET last_seen = '2026-11-23T10:00:00Z', "
                     "daily = '{\"2026-11-23\": 10, \"2026-11-24\": 0}'")
    store.db.conn.commit()
    store.close()
    assert all(set(c["daily"]) == {"2026-11-23"} for c in gather(db, until="2026-11-24").clusters)  # was: the 24th
    find_clusters(db, min_size=15)  # a cluster with fewer prompts then than the run's --min-size was none yet
    assert [c["size"] for c in gather(db, until="2026-11-24").clusters] == [20]  # was [20, 10]


def test_a_database_of_rejected_rows_only_says_no_prompt_was_scored(tmp_path, index):
    from conftest import write_jsonl
    from novelty import score_files

    score_files([write_jsonl(tmp_path / "bad.jsonl", ["not json", "still not"])], index, tmp_path / "m.db")
    page = write_report(tmp_path / "m.db", tmp_path / "r.html").out
    text = open(page, encoding="utf-8").read()
    assert "no prompt scored yet" in text and "prompts from ?" not in text  # was: 'prompts from ? to ? UTC'
    # found by QA: a green 'No root cause found' over nothing checked, 'about - of prompts ... land there',
    # and 'the scored prompts have no timestamps' where there were no prompts at all
    assert "Nothing could be checked" in text and "No root cause found" not in text
    assert 'class="card verdict unknown"' in text and '<details class="notchecked" open>' in text
    assert "about - of prompts" not in text and "No scored prompts." in text and "no timestamps" not in text
    score_files([write_jsonl(tmp_path / "untimed.jsonl", [{"prompt": "hello"}, {"prompt": "hi there"}])], index,
                tmp_path / "m.db", columns=__import__("novelty.logs").logs.Columns(time=None))
    text = open(write_report(tmp_path / "m.db", tmp_path / "r.html").out, encoding="utf-8").read()
    assert "2 prompts logged without a time" in text and "no prompt scored yet" not in text


def test_until_counts_the_runs_and_rejects_of_its_own_prompts(tmp_path, index):
    from conftest import write_jsonl
    from novelty import score_files
    from novelty.report import gather

    db = tmp_path / "m.db"
    day = [{"prompt": f"where is my card {i}", "timestamp": f"2026-11-20T{i:02d}:00:00Z"} for i in range(10)]
    score_files([write_jsonl(tmp_path / "a.jsonl", day)], index, db)
    later = [{"prompt": f"late question {i}", "timestamp": "2026-11-22T08:00:00Z"} for i in range(3)] + ["not json"] * 7
    score_files([write_jsonl(tmp_path / "b.jsonl", later)], index, db)
    facts = gather(db, until="2026-11-21").facts
    assert (facts["prompts"], facts["rejected"], facts["runs"]) == (10, 0, 1)  # was: 7 rejected, 2 runs
    assert (gather(db).facts["rejected"], gather(db).facts["runs"]) == (7, 2)


def test_a_range_without_prompts_says_so_and_the_title_has_no_dangling_dot(tmp_path, index):
    from conftest import write_jsonl
    from novelty import score_files

    db = tmp_path / "m.db"
    Store(db).close()
    text = open(write_report(db, tmp_path / "e.html").out, encoding="utf-8").read()
    assert re.search(r"<title>novelty report · [^<]*[^· ]</title>", text)  # was: '... · </title>'
    score_files([write_jsonl(tmp_path / "a.jsonl", [{"prompt": "hi there", "timestamp": "2026-11-20T08:00:00Z"}])],
                index, db)
    text = open(write_report(db, tmp_path / "r.html", since="2026-11-25").out, encoding="utf-8").read()
    assert "no prompt scored in this range" in text and "no prompt scored yet" not in text
    assert "No scored prompts in this range." in text and "No scored prompts yet." not in text


def test_one_cause_an_unreadable_table_and_p_values_read_plainly(report_demo, tmp_path):
    from novelty.diagnose import Cause, Diagnosis
    from novelty.report import render

    data = gather(report_demo["db"], reference=tmp_path / "missing.csv", current=tmp_path / "missing.csv")
    text = render(data)
    assert "Not checked: the feature tables could not be read (" in text  # was: 'pass --reference and --current'
    assert "pass --reference and --current" not in text
    one = [c for c in data.causes if c["cause"] == "label_bias"]
    page = render(dataclasses.replace(data, causes=one, diagnosis=Diagnosis(
        [Cause("label_bias", None, "high", "", "")], [])))
    assert "1 thing wrong</p>" in page  # was: '1 thing wrong, most severe first'
    rows = [{"feature": "x", "kind": "numeric", "test": "ks", "p_value": 0.95, "q_value": 0.95, "effect": 0.01,
             "psi": None, "cause": None, "evidence": "", "chart": None, "medians": None}]
    assert ">0.95</td>" in render(dataclasses.replace(data, drift=rows))  # was 9.5e-01 beside 'p = 0.22'


def test_a_database_the_user_may_only_read_still_gets_its_page(report_demo, tmp_path, monkeypatch):
    import shutil

    from novelty import report as report_module

    db = tmp_path / "archive.db"
    shutil.copy(report_demo["db"], db)
    conn = sqlite3.connect(db)
    saved = conn.execute("SELECT COUNT(*) FROM windows").fetchone()[0]
    with conn:
        conn.execute("DELETE FROM windows")  # an archive whose windows were never saved
    conn.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["archive.db"]
    from novelty import store as store_module  # (the tests run as root: nothing is refused them)
    monkeypatch.setattr(store_module, "may_write", lambda path: False)
    monkeypatch.setattr(report_module, "may_write", lambda path: False)
    from novelty import diagnose as diagnose_module
    calls = []
    counted = lambda *a, **k: calls.append(k) or detect_spikes(*a, **k)  # noqa: E731
    detect_spikes = diagnose_module.detect_spikes
    monkeypatch.setattr(diagnose_module, "detect_spikes", counted)
    out = write_report(db, tmp_path / "r.html")
    assert len(calls) == 1  # was: once for the diagnosis, once more for the chart
    page = (tmp_path / "r.html").read_text()
    assert out.out and "label_bias" in page and "No windows" not in page  # was: 'cannot write archive.db'
    bars = re.findall(r'<g><title>(20\d\d-[^<]*)</title>', page)
    assert bars and bars == re.findall(r'<g><title>(20\d\d-[^<]*)</title>', report_demo["report"].read_text())
    # (the rate chart as computed, bar for bar the saved page's)
    # nothing beside it: SQLite made -wal and -shm files its owner could then neither write nor delete
    assert sorted(p.name for p in tmp_path.iterdir()) == ["archive.db", "r.html"]
    spikes = CliRunner().invoke(app, ["spikes", "--db", str(db)])  # tested as it stands, as the page is (was
    assert spikes.exit_code == 0 and "nothing was saved" in spikes.output, spikes.output  # exit 2 'cannot write')
    monkeypatch.undo()
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM windows").fetchone()[0] == 0  # nothing written
    assert saved


def test_until_inside_a_window_counts_only_the_prompts_before_it(report_demo, tmp_path):
    # found by QA: --window 7d --until 2026-11-21 drew the whole week (7,500 prompts, the topic of the
    # 22nd) and raised label_bias 'as it was then'; the saved row of the whole week must not change either
    import shutil

    db = tmp_path / "m.db"
    shutil.copy(report_demo["db"], db)
    weekly = SpikeSettings(window="7d")
    whole = detect_spikes(db, weekly)
    then = gather(db, window="7d", until="2026-11-21", spike_settings=weekly)
    assert [(w["window_start"], w["prompts"], w["flagged"]) for w in then.windows] == \
        [("2026-11-16T00:00:00Z", 4500, False)] and whole.windows[0].prompts == 7500
    assert "label_bias" not in {c.cause for c in then.diagnosis.causes}
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT prompts FROM windows WHERE window_size = '7d' ORDER BY window_start").fetchall() \
            == [(w.prompts,) for w in whole.windows]
    noon = detect_spikes(db, until="2026-11-22T12:00:00Z", save=False)
    assert noon.windows[-1].window_start == "2026-11-22T00:00:00Z" and 0 < noon.windows[-1].prompts < 1500
    (cut,) = [i for i in noon.incidents if i.window_start == "2026-11-22T00:00:00Z"]
    with sqlite3.connect(db) as conn:
        morning = {t for (t,) in conn.execute("SELECT text FROM scores WHERE ts >= '2026-11-22' AND ts < '2026-11-22T12'")}
    assert cut.details["top_novel"] and {e["text"] for e in cut.details["top_novel"]} <= morning
    assert sum(r["prompts"] for r in cut.details["absorbing_labels"]) <= noon.windows[-1].prompts


def test_a_card_dates_a_spike_from_its_first_flagged_window_before_since(report_demo):
    # found by QA: with --since 2026-11-23 the card said 'since 2026-11-23', its evidence '... since 2026-11-22'
    (card,) = [c for c in gather(report_demo["db"], since="2026-11-23").causes if c["cause"] == "label_bias"]
    assert card["since"] == "2026-11-22" and "since 2026-11-22" in card["evidence"]
    # and the count says which windows it counts (was "2 flagged window(s) since 2026-11-22", counting from the 23rd)
    assert re.search(r"flagged windows since 2026-11-22T00:00, \d+ of them since 2026-11-23T00:00", card["evidence"])


def test_since_moves_neither_the_absorbing_labels_baseline_nor_the_card_s_window(report_demo):
    # found by QA: with --since at the incident's start every 'before' was '-' (excess = every novel
    # prompt); with --since inside it, the incident's own hours were the baseline and another label led
    whole = gather(report_demo["db"])
    table = lambda page: [(r["label"], r["novel"], r["before_share"]) for r in page.labels["rows"]]  # noqa: E731
    for since in ("2026-11-22", "2026-11-22T12:00", "2026-11-23"):
        page = gather(report_demo["db"], since=since)
        assert page.labels["start"] == whole.labels["start"] and table(page) == table(whole), since
    assert all(before is not None for _, _, before in table(whole))
    (cause,) = [c for c in whole.diagnosis.causes if c.cause == "label_bias"]
    (card,) = [c for c in whole.causes if c["cause"] == "label_bias"]
    # the fact names the window the examples are of (it named the latest beside the worst's examples)
    assert f"window of {cause.details['worst_window'][:10]}" in card["fact"]
    assert f"{cause.details['novel_rate']:.1%} of prompts" in card["fact"]
    assert card["examples"] == cause.details["top_novel"][:3]


def test_the_absorbing_labels_are_those_of_the_run_the_verdict_names(tmp_path):
    # review: the card named the high spike of the 11th (absorbed by 'b'), the labels section the later
    # medium one (absorbed by 'c'); and the 'before' of the later one counted the earlier spike
    from test_spikes import fill

    db = fill(tmp_path / "m.db", [(500, 25, None)] * 10 + [(500, 200, "b")] + [(500, 25, None)] * 3
              + [(500, 60, "c")])
    page = gather(db)
    (cause,) = [c for c in page.diagnosis.causes if c.cause == "label_bias"]
    assert cause.details["worst_window"].startswith("2026-11-11")
    assert page.labels["start"].startswith("2026-11-11") and page.labels["rows"][0]["label"] == "b"


def test_a_label_bias_card_states_the_worst_window_its_examples_come_from():
    from novelty.diagnose import Cause
    from novelty.report import _card

    details = {"windows": ["2026-11-07T00:00:00Z", "2026-11-24T00:00:00Z"], "first_flagged": "2026-10-31T00:00:00Z",
               "worst_window": "2026-11-07T00:00:00Z", "novel_rate": 0.207, "expected_rate": 0.034,
               "top_novel": ["What's my Solana wallet address?"]}
    card = _card(Cause("label_bias", None, "high", "", "", details=details), "m.db", None)
    assert card["fact"].startswith("Since 2026-10-31: 20.7% of prompts were novel in the window of 2026-11-07, "
                                   "against 3.4% expected")  # was: the 24th's rate beside the 7th's examples
    hourly = _card(Cause("label_bias", None, "high", "", "", details={**details, "worst_window": "2026-11-07T13:00:00Z"}),
                   "m.db", None)
    assert "window of 2026-11-07 13:00," in hourly["fact"]


def test_a_page_without_the_spike_windows_still_shows_the_rest(report_demo, tmp_path, monkeypatch):
    # the diagnosis could not read them (it says why): the page was an error, computing them again
    from novelty import diagnose as diagnose_module

    def unreadable(*args, **kwargs):
        raise InputError("the scores cannot be read")
    monkeypatch.setattr(diagnose_module, "detect_spikes", unreadable)
    data = gather(report_demo["db"])
    assert data.windows == [] and data.incidents == []
    assert any("the scores cannot be read" in u["error"] for u in data.diagnosis.unreadable)


def test_a_pruned_database_says_so_in_the_header(report_demo, tmp_path):
    """After prune the header said 'prompts from <the cut-off>' while the charts and incidents went back
    further (from the counts prune keeps), and nothing on the page said prompts had been pruned."""
    import shutil
    from datetime import datetime, timezone

    from novelty.prune import prune

    db = tmp_path / "pruned.db"
    shutil.copy(report_demo["db"], db)
    prune(db, "3d", now=datetime(2026, 11, 25, tzinfo=timezone.utc))
    html = Path(write_report(db, tmp_path / "page.html").out).read_text()
    assert "(older prompts pruned before 2026-11-22 00:00; their counts, windows and incidents remain)" in html
    assert "pruned before" not in report_demo["report"].read_text()


def test_a_page_piped_to_a_reader_that_goes_away_is_exit_2_not_written(report_demo):
    # QA: `report -o - | head -c 100` said "Wrote the page to standard output", exit 0: a buffered write
    # to the pipe returned the bytes the pipe took, no error, and the rest of the page was dropped
    import subprocess
    import sys

    reader = "import os, sys; os.read(0, 100)"
    command = (f"{sys.executable} -m novelty report --db {report_demo['db']} --index-dir {report_demo['index_dir']} "
               f"-o - | {sys.executable} -c '{reader}'; echo ${{PIPESTATUS[0]}} >&2")
    done = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=300)
    assert done.stderr.split()[-1] == "2" and "writing to standard output failed (Broken pipe)" in done.stderr
    assert "Wrote the page" not in done.stderr


def test_whole_writes_write_every_byte_or_raise():
    from novelty.logs import _WholeWrites

    class Pipe:  # takes 3 bytes a call, then its reader goes away after 7
        def __init__(self):
            self.got = b""

        def write(self, data):
            if len(self.got) >= 7:
                raise BrokenPipeError(32, "Broken pipe")
            self.got += bytes(data[:3])
            return min(3, len(data))

        def flush(self):
            pass

    pipe = Pipe()
    assert _WholeWrites(pipe).write(b"abcdef") == 6 and pipe.got == b"abcdef"  # in short writes, all of it
    with pytest.raises(BrokenPipeError):
        _WholeWrites(pipe).write(b"ghijkl")


def test_the_model_regression_card_names_the_golden_files_compared():
    """QA: the card said `novelty golden --baseline GOLDEN_LAUNCH --current GOLDEN_TODAY` though the
    run had the files."""
    from novelty.diagnose import Cause
    from novelty.report import _card

    cause = Cause("model_regression", None, "high", "golden-set accuracy 92% -> 80%", "roll back", weight=0.12)
    card = _card(cause, "m.db", None, ("golden/launch.csv", "golden/my latest.csv", ("item", "label", "model")))
    assert card["command"] == ("novelty golden --baseline golden/launch.csv --current 'golden/my latest.csv' "
                               "--id-col item --pred-col model")
    assert "GOLDEN_LAUNCH" in _card(cause, "m.db", None)["command"]  # a page without the files


def test_the_label_bias_card_queues_the_topic_that_began_with_the_spike():
    """QA: the card named the fastest-growing cluster, which mixed the new topic with a known question
    asked since the first day, over larger clusters first seen with the spike."""
    from novelty.diagnose import Cause, Diagnosis
    from novelty.report import _causes

    cause = Cause("label_bias", None, "high", "", "", details={"first_flagged": "2026-03-12T00:00:00Z",
                                                              "worst_incident": "ab12cd"})
    clusters = [{"cluster_id": "c0013", "size": 14, "growth": 3.5, "first_seen": "2026-03-01"},
                {"cluster_id": "c0020", "size": 30, "growth": 2.0, "first_seen": "2026-03-12"},
                {"cluster_id": "c0021", "size": 8, "growth": 2.5, "first_seen": "2026-03-13"}]
    [card] = _causes(Diagnosis([cause], [], []), clusters, "m.db", None)
    assert "--cluster c0020 " in card["command"], card["command"]
    [card] = _causes(Diagnosis([cause], [], []), clusters[:1], "m.db", None)  # none began with it: as before
    assert "--cluster c0013 " in card["command"]
    # QA: two topics began with the spike (German and Spanish), the second as large: the card queued one;
    # the incident's window covers both
    clusters[2]["size"] = 12
    [card] = _causes(Diagnosis([cause], [], []), clusters, "m.db", None)
    assert "--incident ab12cd --budget 200" in card["command"], card["command"]


def test_the_label_bias_card_of_a_bot_or_another_language_says_so_and_queues_nothing():
    """Re-test: the card's title said 'New questions the model was never trained for' and its command
    queued the bot's cluster for labelling, under 'filter it out; do not train on it'."""
    from novelty.diagnose import Cause
    from novelty.report import _card

    profile = {"novel": 300, "read": 300, "distinct": 2, "most_copies": 290, "other_language_share": 0.0,
               "other_dominant": 0.0, "known_other_share": 0.0}
    cause = Cause("label_bias", None, "high", "", "", details={"first_flagged": "2026-03-09T00:00:00Z",
                                                              "novel_profile": profile})
    card = _card(cause, "m.db", None, clusters=[{"cluster_id": "c0009", "size": 300, "growth": -1,
                                                 "first_seen": "2026-03-09"}])
    assert card["title"] == "A flood of repeated prompts (automated traffic?)"
    assert card["command"] == "novelty clusters --db m.db --since 2026-03-09"
    profile.update(distinct=280, other_language_share=0.8, other_dominant=0.9, known_other_share=0.02)
    assert _card(cause, "m.db", None)["title"] == "Prompts in another language than the training set"
