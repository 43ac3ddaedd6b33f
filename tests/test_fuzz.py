"""Property tests: whatever the input (log bytes, JSON values, column names, CLI options), the outcome is
a result or a NoveltyError / exit 2, never a traceback; every log row is scored or rejected; no name
from a file or an option can change the SQL. Modest example counts keep CI fast; scripts/chaos.py
runs a thousand mutated logs."""

from __future__ import annotations

import gzip
import json
import os
import sqlite3

import pytest
from hypothesis import HealthCheck, assume, given, settings, strategies as st
from typer.testing import CliRunner

from novelty.cli import app
from novelty.engines.local import score_files
from novelty.errors import NoveltyError
from novelty.logs import Columns, read_batches
from novelty.store import Store, quote

from conftest import write_csv

EXAMPLES = int(os.environ.get("NOVELTY_FUZZ_EXAMPLES", 40))  # raise it for a longer hunt
FAST = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
runner = CliRunner()
SUFFIXES = [".jsonl", ".csv", ".tsv", ".jsonl.gz", ".csv.gz", ".parquet", ".log", ""]
json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                                        max_size=3), max_leaves=8)


def read_all(path, columns=Columns()):
    batches = list(read_batches(path, columns, chunk_rows=4))
    return sum(len(b) for b in batches), sum(len(b.rejects) for b in batches)


@FAST
@given(data=st.binary(max_size=600), suffix=st.sampled_from(SUFFIXES), gz=st.booleans())
def test_any_bytes_give_rows_or_a_clear_error(tmp_path_factory, data, suffix, gz):
    path = tmp_path_factory.mktemp("fuzz") / f"log{suffix}"
    path.write_bytes(gzip.compress(data) if gz else data)
    try:
        read_all(path)
    except NoveltyError as exc:
        assert str(exc)


@FAST
@given(records=st.lists(st.one_of(json_values.map(json.dumps), st.text(max_size=40).filter(lambda t: "\n" not in t
                                                                                        and "\r" not in t)),
                        max_size=15),
       prompts=st.lists(st.text(max_size=30), max_size=15))
def test_every_jsonl_line_is_scored_or_rejected(tmp_path_factory, records, prompts):
    lines = records + [json.dumps({"prompt": p, "timestamp": "2026-11-25T08:00:00Z"}) for p in prompts]
    lines = [line for line in lines if line.lstrip("\ufeff").strip()]
    assume(lines)
    path = tmp_path_factory.mktemp("fuzz") / "log.jsonl"
    path.write_text("\n".join(lines), encoding="utf-8", errors="surrogatepass")  # no final newline either
    try:
        scored, rejected = read_all(path)
    except NoveltyError:  # e.g. the first object lacks the text column
        return
    assert scored + rejected == len(lines)


@FAST
@given(header=st.lists(st.text(min_size=1, max_size=12).filter(lambda t: "\x00" not in t), min_size=1,
                       max_size=4, unique=True),
       cells=st.lists(st.text(max_size=20).filter(lambda t: "\x00" not in t), max_size=12))
def test_hostile_column_names_are_data_not_sql(tmp_path_factory, index, header, cells):
    """A CSV header like `x"); DROP TABLE scores; --` and a --text-col of that name change no SQL."""
    folder = tmp_path_factory.mktemp("fuzz")
    rows = [[cells[(i + j) % len(cells)] if cells else "hello" for j in range(len(header))] for i in range(6)]
    log = write_csv(folder / "log.csv", header, rows)
    try:
        result = score_files([log], index, folder / "m.db", columns=Columns(text=header[0], time=header[-1],
                                                                            label=None))
    except NoveltyError:
        return
    conn = sqlite3.connect(folder / "m.db")
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"scores", "rejects", "runs", "embeddings"} <= tables
    assert conn.execute("SELECT COUNT(*) FROM scores").fetchone()[0] == result.scored
    assert result.scored + result.rejected == result.rows_read


@FAST
@given(name=st.text(min_size=1, max_size=30).filter(lambda t: "\x00" not in t))
def test_quote_makes_any_name_an_identifier(name):
    conn = sqlite3.connect(":memory:")
    conn.execute(f"CREATE TABLE t ({quote(name)} TEXT)")
    conn.execute(f"INSERT INTO t ({quote(name)}) VALUES (?)", ["v"])
    assert conn.execute(f"SELECT {quote(name)} FROM t").fetchall() == [("v",)]
    assert [r[1] for r in conn.execute("PRAGMA table_info(t)")] == [name]


OPTION_VALUES = st.one_of(st.text(max_size=12), st.integers(-5, 10**9).map(str), st.sampled_from(
    ["", "0", "-1", "nan", "inf", "1e309", "0d", "90d", "1x", "2026-13-45", "'; DROP TABLE scores; --", "\x00"]))


@pytest.fixture(scope="module")
def scored_db(tmp_path_factory, train_pairs):
    from novelty.demo_data import production_day
    from novelty.index import PromptIndex

    from conftest import FAKE_MODEL, write_jsonl

    folder = tmp_path_factory.mktemp("cli")
    train = write_csv(folder / "train.csv", ["text", "label"], train_pairs[:300])
    PromptIndex.build(train, "bot", index_dir=folder / "ix", model=FAKE_MODEL, scorer="knn")
    log = write_jsonl(folder / "day.jsonl", production_day(6, n=60, seed=3))
    score_files([log], "bot", folder / "m.db", index_dir=folder / "ix")
    return folder


COMMANDS = [
    ("spikes", ["--window", "--since", "--until", "--fdr", "--min-prompts", "--step"]),
    ("prune", ["--older-than"]),
    ("score", ["--text-col", "--time-col", "--id-col", "--alpha", "--chunk-rows", "--max-chars", "--fail-on"]),
    ("clusters", ["--since", "--min-size"]),
    ("queue list", ["--status"]),
]


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(command=st.sampled_from(COMMANDS), data=st.data())
def test_any_option_value_exits_0_1_or_2_without_a_traceback(scored_db, command, data):
    name, options = command
    chosen = data.draw(st.lists(st.sampled_from(options), min_size=1, max_size=3, unique=True))
    args = [*name.split(), "--db", str(scored_db / "copy.db")]
    if name == "score":
        args += [str(scored_db / "day.jsonl"), "--index", "bot", "--index-dir", str(scored_db / "ix")]
    if name == "prune":
        args += ["--dry-run"]
    for option in chosen:
        args += [option, data.draw(OPTION_VALUES)]
    (scored_db / "copy.db").write_bytes((scored_db / "m.db").read_bytes())
    result = runner.invoke(app, args)
    assert result.exit_code in (0, 1, 2), (args, result.output)
    assert result.exception is None or isinstance(result.exception, SystemExit), (args, repr(result.exception))


def test_store_refuses_a_file_that_is_not_sqlite(tmp_path):
    path = tmp_path / "m.db"
    path.write_bytes(b"not a database at all" * 100)
    with pytest.raises(NoveltyError, match="not a novelty SQLite database"):
        Store(path)


@settings(max_examples=EXAMPLES // 2, deadline=None, suppress_health_check=list(HealthCheck))
@given(names=st.lists(st.text(min_size=1, max_size=10).filter(lambda t: "\x00" not in t and t.strip()), min_size=2,
                      max_size=3, unique=True),
       values=st.lists(st.one_of(st.integers(-3, 3).map(str), st.text(max_size=5)), min_size=4, max_size=12))
def test_drift_skew_golden_take_any_column_names(tmp_path_factory, names, values):
    from novelty.drift import drift
    from novelty.golden import golden
    from novelty.skew import skew

    folder = tmp_path_factory.mktemp("tables")
    rows = [[values[(i + j) % len(values)] for j in range(len(names))] for i in range(len(values))]
    a = write_csv(folder / "a.csv", names, rows)
    b = write_csv(folder / "b.csv", names, rows[::-1])
    for call in (lambda: drift(a, b), lambda: skew(a, b, names[0]),
                 lambda: golden(a, b, names[0], names[1], names[-1])):
        try:
            call()
        except NoveltyError:
            pass
