"""Golden-set refresh: a stratified sample of recent production prompts to label as the next golden set.

A golden set drawn at launch ages: it under-represents what users ask now and has none of the new
topics. The refresh samples the recent traffic so every part of it is covered: the ordinary prompts
by the label the model predicted (proportionally, but at least one per label), the novel ones by
cluster (so each new topic is there), and a share reserved for edge cases, the most novel prompts.
The CSV it writes has the columns ``novelty golden`` reads (``id``, ``text``, ``label`` left blank to
fill in, ``prediction``), plus the stratum each prompt came from.
"""

from __future__ import annotations

import csv
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from .errors import InputError, check_argument
from .logs import is_stdout, open_output, output_file, refuse_overwrite, time_bounds
from .queue import csv_cell, extension, formula_rows
from .spikes import parse_range
from .store import Store, existing_db

COLUMNS = ("id", "text", "label", "prediction", "stratum", "p_value", "ts")


@dataclass(frozen=True)
class RefreshResult:
    candidates: int
    written: int
    strata: dict[str, int]   # stratum -> prompts sampled from it
    out: str
    left_out: list[str] = field(default_factory=list)  # strata with no prompt: --size was too small
    formula_like: int = 0          # rows with a cell a spreadsheet would run as a formula (= + - @ first)
    formulas_escaped: bool = False  # written with a ' before them (escape_formulas)
    edge_short: int = 0  # edge cases --edge-share asked for and not given: --size left room for one prompt
    #                      per predicted label alone (QA: 0 of 2 at --size 10, unsaid)
    excluded: int = 0    # prompts left out as in an ``exclude`` file (training, earlier golden sets)

    def to_dict(self) -> dict:
        """As ``--json`` prints it."""
        return asdict(self)


def golden_refresh(db: str | Path, out: str | Path, size: int = 300, since: str | None = None,
                   until: str | None = None, edge_share: float = 0.2, seed: int = 0,
                   escape_formulas: bool = False, exclude: Sequence[str | Path] = ()) -> RefreshResult:
    """Write a stratified sample of ``size`` distinct prompts logged in [since, until) to ``out`` (a
    prompt logged without a time counts at the time it was scored). The file goes to people with a
    spreadsheet: ``escape_formulas`` writes a ``'`` before a prompt starting with = + - @, as
    ``queue.export`` does (``novelty golden`` pairs by id; only ``--predict`` reads the text).
    ``exclude``: files (the training file, golden sets labelled before) whose texts and ids are not
    sampled: a training prompt in a golden set flatters the model (QA: 28 of 300), and a refresh that
    repeats the last one adds nothing."""
    check_argument("out", out, (str, Path), "a file path, or '-' for standard output")  # was: TypeError
    check_argument("size", size, int, "a whole number such as 300")
    check_argument("edge_share", edge_share, float, "a share between 0 and 1, such as 0.2")
    check_argument("seed", seed, int, "a whole number")
    if size < 1 or not 0 <= edge_share <= 1:
        raise InputError("--size must be at least 1 and --edge-share between 0 and 1")
    if seed < 0:
        raise InputError(f"--seed must be 0 or more, not {seed}")
    existing_db(db)
    texts, ids = _excluded(exclude)
    store = Store(db)
    try:
        rows = _recent(store, *parse_range(since, until))  # since after until: 'the range is empty', as clusters says
        logs = store.logged_sources()
    finally:
        store.close()
    if not rows:
        raise InputError(f"no scored prompts in {db} between {since or 'the start'} and {until or 'now'}")
    kept = [r for r in rows if (r["text"] or "").strip() not in texts and r["prompt_id"] not in ids]
    excluded = len({r["text"] for r in rows}) - len({r["text"] for r in kept})
    if not kept:
        raise InputError(f"every prompt of {db} in the range is in the --exclude files: nothing left to sample")
    rows = kept
    picked = sample(rows, size, edge_share, np.random.default_rng(seed))
    out = output_file(out, "golden-next.csv")
    if not is_stdout(out):
        refuse_overwrite(out, [db, *logs])  # first: the database typed as -o is no golden set
        if extension(out.name) in ("gz", "bz2", "xz", "zip", "parquet", "xlsx", "xls"):  # (.gz got a plain CSV;
            # any text name is read: golden.tsv too)
            raise InputError(f"-o {out}: the golden sample is written as a plain CSV, which `novelty golden` "
                             "and spreadsheets read; name the file .csv")
        _refuse_losing(out)
    with open_output(out, "golden-next.csv", inputs=[db, *logs]) as fh:
        writer = csv.writer(fh)
        writer.writerow(COLUMNS)
        writer.writerows([csv_cell(r["prompt_id"], escape_formulas), csv_cell(r["text"], escape_formulas), "",
                          csv_cell(r["predicted_label"] or "", escape_formulas), r["stratum"], r["p_value"],
                          r["ts"] or ""] for r in picked)  # (`golden` reads the id and prediction unescaped)
    formulas = formula_rows(picked, ("prompt_id", "text", "predicted_label"))
    counts: dict[str, int] = {}
    for r in picked:
        counts[r["stratum"]] = counts.get(r["stratum"], 0) + 1
    everything = {r["stratum"] for r in rows}
    covered = {r.get("origin", r["stratum"]) for r in picked}  # a stratum met through its edge cases counts
    sizes = Counter(r["stratum"] for r in rows)  # the largest left out first, as they were passed over
    left_out = sorted(everything - covered, key=lambda s: (-sizes[s], s)) if len(picked) < len(rows) else []
    asked = int(round(size * edge_share)) if len(picked) < len(rows) else 0
    return RefreshResult(len(rows), len(picked), dict(sorted(counts.items(), key=lambda kv: -kv[1])), str(out),
                         left_out, formulas, escape_formulas and bool(formulas),
                         max(0, asked - counts.get(EDGE, 0)), excluded)


def _excluded(paths: Sequence[str | Path]) -> tuple[set[str], set[str]]:
    """The texts ('text' column) and ids ('id') of ``paths``; a file with neither is an InputError."""
    from .drift import read_table
    from .queue import unescaped

    texts, ids = set(), set()
    for path in [paths] if isinstance(paths, (str, Path)) else paths:
        check_argument("exclude", path, (str, Path), "files such as train.csv, golden-launch.csv")
        table = read_table(path, ("id", "text"), words_as_written=True)
        named = [c for c in ("prompt", "utterance", "question", "query", "message", "sentence", "input")
                 if c in table.columns]
        if "text" not in table.columns and (named or "id" not in table.columns):  # (review: 'prompt' beside
            raise InputError(f"--exclude {path}: no 'text' column"  # an 'id' left nothing out, unsaid)
                             + (f"; its prompts look to be in {named[0]!r}: name that column 'text'" if named else
                                f" or 'id' (columns: {', '.join(map(str, table.columns[:8]))})"))
        for column, found in (("text", texts), ("id", ids)):
            if column in table.columns:
                found.update(str(unescaped(v)).strip() for v in table[column].dropna())
    return texts, ids


def _refuse_losing(out: Path) -> None:
    """An InputError unless ``out`` is absent, empty, or a sample as this writes it (CSV, whatever its
    name) with no label filled in: run again once the labelling began, the next golden set was gone,
    and a sample labelled in a column of its own ('gold'), or anything else named -o, was replaced."""
    try:
        if not out.is_file() or not out.stat().st_size:
            return
        with open(out, encoding="utf-8", errors="replace", newline="") as fh:
            rows = csv.reader(line.lstrip("\ufeff") if number == 0 else line for number, line in enumerate(fh))
            header = [h.strip() for h in next(rows, [])]
            if header != list(COLUMNS):
                begins = ",".join(header)[:40]
                raise InputError(f"{out} exists and is not a golden-set sample as novelty writes it (its header: "
                                 f"{begins!r}): writing there would replace that file; give another name")
            labelled = [row for row in rows if len(row) > 2 and row[2].strip()]
    except (OSError, csv.Error):  # unreadable: replaced, as before
        return
    if labelled:
        raise InputError(f"{out} holds {len(labelled):,} label{'s' * (len(labelled) != 1)} (id {labelled[0][0]!r}: "
                         f"{labelled[0][2]!r}), a golden set being labelled: writing the sample there would lose "
                         f"{'them' if len(labelled) != 1 else 'it'}; give another name")


UNCLUSTERED = "novel: unclustered"
EDGE = "edge: most novel"


def sample(rows: list[dict], size: int, edge_share: float, rng: np.random.Generator) -> list[dict]:
    """Edge cases first (lowest p-values), then every stratum in proportion, at least one each; when
    ``size`` is too small for all that, one prompt per predicted label comes before the edge cases.

    >>> rows = [dict(text=f"t{i}", p_value=i / 10, stratum="a" if i < 8 else "b") for i in range(10)]
    >>> sorted(r["text"] for r in sample(rows, 4, 0.25, np.random.default_rng(0)))[:1]
    ['t0']
    >>> sorted({r["stratum"] for r in sample(rows, 3, 0.0, np.random.default_rng(0))})
    ['a', 'b']
    """
    distinct = list({r["text"]: r for r in rows}.values())
    if len(distinct) <= size:
        return distinct
    labels = len({r["stratum"] for r in distinct if r["stratum"].startswith("label: ")})
    n_edge = min(int(round(size * edge_share)), max(0, size - labels))  # one per predicted label comes first
    # p-values bottom out at 1/(n+1), where many prompts tie: the novelty score orders those
    by_novelty = sorted(range(len(distinct)), key=lambda i: (distinct[i]["p_value"], -distinct[i].get("novelty", 0)))
    chosen = by_novelty[:n_edge]
    for i in chosen:
        distinct[i] = dict(distinct[i], stratum=EDGE, origin=distinct[i]["stratum"])
    strata: dict[str, list[int]] = {}
    for i in by_novelty[n_edge:]:
        strata.setdefault(distinct[i]["stratum"], []).append(i)
    chosen += _allocate(strata, size - n_edge, rng)
    return [distinct[i] for i in chosen]


def _allocate(strata: dict[str, list[int]], budget: int, rng: np.random.Generator) -> list[int]:
    """Proportional allocation with a floor of one per stratum. When there are more strata than
    prompts to give, the predicted labels come first (the bulk of the traffic the golden set must
    cover), then the clusters of novel prompts, largest first, then the novel prompts in no cluster
    (QA: they took the slot ahead of every cluster)."""
    if len(strata) > budget:
        kept = sorted(strata, key=lambda s: (not s.startswith("label: "), s == UNCLUSTERED, -len(strata[s]), s))[:budget]
        strata = {s: strata[s] for s in kept}
    order = sorted(strata, key=lambda s: (-len(strata[s]), s))
    total = sum(len(v) for v in strata.values())
    exact = {s: budget * len(strata[s]) / total for s in order}
    quota = {s: min(len(strata[s]), max(1, int(exact[s]))) for s in order}
    while sum(quota.values()) > budget:   # the floors overshot: trim the biggest quotas
        biggest = max(quota, key=quota.get)
        quota[biggest] -= 1
        if not quota[biggest]:
            del quota[biggest]
    while (spare := budget - sum(quota.values())) > 0:  # rounding left room: one more each to the strata
        room = [s for s in order if quota.get(s, 0) < len(strata[s])]  # furthest below their share (largest
        if not room:                                                  # remainder; QA: all of it went to the
            break                                                     # largest, 72 of 300 for one of 77 labels)
        room.sort(key=lambda s: -(exact[s] - quota.get(s, 0)))
        for s in room[:spare]:
            quota[s] = quota.get(s, 0) + 1
    return [int(i) for s, n in quota.items() for i in rng.choice(strata[s], n, replace=False)]


def _recent(store: Store, since: str | None, until: str | None) -> list[dict]:
    where, args = time_bounds("COALESCE(s.ts, s.scored_at)", since, until)
    rows = store.db.query(
        "SELECT s.prompt_id, s.text, s.predicted_label, s.nearest_label, s.p_value, s.novelty, s.is_novel, s.ts, "
        "m.cluster_id, c.name AS cluster_name FROM scores s LEFT JOIN cluster_members m USING (prompt_id) "
        "LEFT JOIN clusters c USING (cluster_id)" + (" WHERE " + " AND ".join(where) if where else "")
        + " ORDER BY s.ts, s.prompt_id", args)
    return [dict(r, stratum=_stratum(r)) for r in rows]


def _stratum(row: dict) -> str:
    if row["is_novel"]:
        return f"novel: {row['cluster_id']} {row['cluster_name']}" if row["cluster_id"] else UNCLUSTERED
    return f"label: {row['predicted_label'] or row['nearest_label'] or '?'}"
