"""Tests for novelty.demo_data: determinism, the shape of the drift story, and the files on disk."""

from __future__ import annotations

import csv
import doctest
import json
import re
from collections import Counter
from datetime import date, datetime, timezone
from pathlib import Path

import pytest

from novelty import demo_data
from novelty.demo_data import (
    INTENTS,
    NEW_TOPICS,
    DemoFiles,
    production_day,
    request_id,
    training_prompts,
    write_demo_files,
)

DAYS = range(1, 8)


@pytest.fixture(scope="module")
def week() -> dict[int, list[dict]]:
    return {day: production_day(day) for day in DAYS}


@pytest.fixture(scope="module")
def train() -> list[tuple[str, str]]:
    return training_prompts()


def _share(rows: list[dict], topic: str) -> float:
    return sum(r["topic"] == topic for r in rows) / len(rows)


# --- constants and training set ------------------------------------------------------------------


def test_intents_and_new_topics_are_disjoint_and_complete():
    assert 18 <= len(INTENTS) <= 22
    assert len(set(INTENTS)) == len(INTENTS)
    assert "crypto" in NEW_TOPICS
    assert not set(NEW_TOPICS) & set(INTENTS)
    assert set(demo_data.INTENT_TEMPLATES) == set(INTENTS)
    assert set(demo_data.CONFUSABLE) == set(INTENTS)
    assert all(set(c) <= set(INTENTS) - {i} for i, c in demo_data.CONFUSABLE.items())


def test_crypto_has_at_least_40_templates():
    groups = demo_data.NEW_TOPIC_GROUPS["crypto"]
    assert sum(len(g.templates) for g in groups) >= 40


def test_every_template_slot_has_values():
    templates = [t for ts in demo_data.INTENT_TEMPLATES.values() for t in ts]
    templates += [t for gs in demo_data.NEW_TOPIC_GROUPS.values() for g in gs for t in g.templates]
    slots = {m.rstrip("0123456789") for t in templates for m in re.findall(r"\{(\w+)\}", t)}
    assert slots <= set(demo_data.SLOTS)


def test_training_is_deterministic_per_seed(train):
    assert training_prompts() == train
    assert training_prompts(seed=1) != train


def test_training_has_150_distinct_prompts_per_intent(train):
    counts = Counter(label for _, label in train)
    assert set(counts) == set(INTENTS)
    assert all(n == 150 for n in counts.values()), counts
    texts = [text for text, _ in train]
    assert len(set(texts)) == len(texts)
    assert all(isinstance(t, str) and t.strip() for t in texts)


def test_every_intent_supplies_at_least_100_distinct_prompts():
    counts = Counter(label for _, label in training_prompts(n_per_intent=100, seed=7))
    assert all(n == 100 for n in counts.values())


def test_training_never_mentions_the_new_topics(train):
    words = ("crypto", "bitcoin", "ethereum", "staking", "instalment", "pay later")
    assert not [t for t, _ in train if any(w in t.lower() for w in words)]


def test_training_rejects_nonsense_size():
    with pytest.raises(ValueError):
        training_prompts(n_per_intent=0)


# --- production days --------------------------------------------------------------------------


def test_production_is_deterministic_per_seed(week):
    assert production_day(5) == week[5]
    assert production_day(5, seed=1) != week[5]


def test_records_have_the_documented_keys(week):
    topics = set(INTENTS) | set(NEW_TOPICS)
    for rows in week.values():
        assert len(rows) == 1500
        for r in rows:
            assert set(r) == {"timestamp", "user_id", "prompt", "predicted_label", "topic"}
            assert re.fullmatch(r"u\d+", r["user_id"])
            assert isinstance(r["prompt"], str) and r["prompt"].strip()
            assert r["topic"] in topics


def test_timestamps_are_sorted_and_within_the_day(week):
    for day, rows in week.items():
        stamps = [r["timestamp"] for r in rows]
        assert stamps == sorted(stamps)
        parsed = [datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ") for s in stamps]
        assert {p.date() for p in parsed} == {date(2026, 11, 17 + day)}


def test_timestamps_follow_a_daily_cycle(week):
    hours = Counter(int(r["timestamp"][11:13]) for rows in week.values() for r in rows)
    assert hours[3] * 4 < hours[12]


def test_start_date_moves_the_timestamps():
    rows = production_day(2, n=50, start=date(2030, 1, 31))
    assert all(r["timestamp"].startswith("2030-02-01T") for r in rows)
    stamp = datetime.fromisoformat(rows[0]["timestamp"].replace("Z", "+00:00"))
    assert stamp.tzinfo == timezone.utc


def test_new_topics_absent_on_days_1_to_4(week):
    for day in (1, 2, 3, 4):
        assert not [r for r in week[day] if r["topic"] in NEW_TOPICS]


def test_crypto_share_rises_on_days_5_to_7(week):
    shares = [_share(week[day], "crypto") for day in (5, 6, 7)]
    assert shares[0] < shares[1] < shares[2]
    for share, expected in zip(shares, (0.06, 0.14, 0.25)):
        assert share == pytest.approx(expected, abs=0.02)


def test_bnpl_arrives_on_day_6(week):
    assert "bnpl" in NEW_TOPICS
    assert _share(week[5], "bnpl") == 0
    assert 0.02 <= _share(week[6], "bnpl") < _share(week[7], "bnpl") <= 0.10


def test_new_topic_prompts_are_forced_into_known_intents(week):
    crypto = [r for rows in week.values() for r in rows if r["topic"] == "crypto"]
    assert all(r["predicted_label"] in INTENTS for rows in week.values() for r in rows)
    main = sum(r["predicted_label"] in {"exchange_rate", "transfer_failed", "top_up_failed"}
               for r in crypto)
    assert main / len(crypto) > 0.5


def test_known_intent_accuracy_is_realistic(week):
    for rows in week.values():
        known = [r for r in rows if r["topic"] in INTENTS]
        accuracy = sum(r["predicted_label"] == r["topic"] for r in known) / len(known)
        assert 0.85 <= accuracy <= 0.97


def test_overlap_with_training_is_partial(week, train):
    texts = {t for t, _ in train}
    rows = [r for day_rows in week.values() for r in day_rows]
    overlap = sum(r["prompt"] in texts for r in rows) / len(rows)
    assert 0.05 <= overlap <= 0.35
    new = [r for r in rows if r["topic"] in NEW_TOPICS]
    assert not [r for r in new if r["prompt"] in texts]


def test_production_prompts_are_varied(week):
    rows = week[1]
    assert len({r["prompt"] for r in rows}) / len(rows) > 0.8
    assert any(r["prompt"] == r["prompt"].lower() for r in rows)
    assert any(not r["prompt"].endswith((".", "?", "!")) for r in rows)


def test_production_rejects_bad_day():
    with pytest.raises(ValueError):
        production_day(0)


# --- files ------------------------------------------------------------------------------------


def _classify(line: str) -> str:
    try:
        record = json.loads(line)
    except json.JSONDecodeError:
        return "not_json"
    if not isinstance(record, dict) or "prompt" not in record:
        return "missing_prompt"
    if not isinstance(record["prompt"], str):
        return "non_string"
    return "good" if record["prompt"].strip() else "empty"


def _kinds(path: Path) -> list[str]:
    return [_classify(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def demo_files(tmp_path_factory) -> DemoFiles:
    return write_demo_files(tmp_path_factory.mktemp("demo"), per_day=300, n_per_intent=100)


def test_files_are_named_by_date(demo_files):
    names = [p.name for p in demo_files.logs]
    assert names == [f"2026-11-{d:02d}.jsonl" for d in range(18, 25)]
    assert all(p.parent == demo_files.truth for p in demo_files.logs)


def test_train_csv_round_trips(demo_files):
    with demo_files.train.open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["text", "label"]
    assert [tuple(r) for r in rows[1:]] == training_prompts(n_per_intent=100)


def test_bad_lines_only_on_day_3(demo_files):
    for day, path in enumerate(demo_files.logs, start=1):
        kinds = _kinds(path)
        assert kinds.count("good") == 300
        if day != 3:
            assert set(kinds) == {"good"}
    kinds = _kinds(demo_files.logs[2])
    bad = Counter(k for k in kinds if k != "good")
    assert bad == {"not_json": 2, "non_string": 2, "empty": 1, "missing_prompt": 1}
    positions = [i for i, k in enumerate(kinds) if k != "good"]
    assert 0 < positions[0] and positions[-1] < len(kinds) - 1


def test_good_lines_match_production_day(demo_files):
    lines = demo_files.logs[2].read_text(encoding="utf-8").splitlines()
    good = [json.loads(line) for line in lines if _classify(line) == "good"]
    assert [g.pop("request_id") for g in good] == [request_id(date(2026, 11, 20), i) for i in range(300)]
    assert good == production_day(3, n=300)


def test_no_bad_lines_when_not_asked(tmp_path):
    files = write_demo_files(tmp_path, days=3, per_day=100, n_per_intent=100, with_bad_rows=False)
    assert len(files.logs) == 3
    assert all(set(_kinds(p)) == {"good"} for p in files.logs)


def test_files_are_byte_identical_for_a_seed(tmp_path):
    def write(name: str, seed: int) -> list[bytes]:
        files = write_demo_files(tmp_path / name, seed=seed, days=3, per_day=100,
                                 n_per_intent=100)
        return [p.read_bytes() for p in (files.train, *files.logs)]

    assert write("a", 0) == write("b", 0)
    assert write("a", 0) != write("c", 1)


def test_docstring_examples_run():
    result = doctest.testmod(demo_data)
    assert result.attempted >= 3
    assert result.failed == 0
