"""Clusters of novel prompts: what the new questions are, how fast each grows, where they are forced.

Density-based (HDBSCAN from scikit-learn) on the stored embeddings of the distinct novel texts, so
noise stays unclustered and the number of clusters is not a guess. Each cluster is named by its
most distinctive words (class-based TF-IDF), shown by its medoids, and keeps its id across runs: a
new cluster takes the id of the stored one most of its prompts were in, else of one whose centroid
is close (``_ids``).

A cluster's *look-alikes* (``look_alikes``) are the prompts it did not take in, yet closer to one of its
prompts than to anything in the training index: novel prompts HDBSCAN left as noise on its fringe, and
prompts not flagged at all. Those are the quiet half of prediction-label bias, the same new question
phrased near enough a known intent to pass and be answered with that intent's label, and the examples
a model needs to learn where the new topic ends.
"""

from __future__ import annotations

import functools
import json
import re
import sys
import unicodedata
from collections import Counter
from dataclasses import asdict, dataclass, field, replace
from datetime import date as Date, datetime, timedelta, timezone
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from .errors import InputError, check_argument
from .logs import sql_bound, time_bounds
from .redact import PLACEHOLDERS
from .spikes import parse_range
from .store import Store, existing_db, utc_now

SAME_CLUSTER = 0.85   # centroid cosine above which a new cluster continues a stored one
MAX_POINTS = 20_000   # distinct texts clustered; the rest join their nearest cluster
MERGE_COSINE = 0.88  # HDBSCAN leaves whose centroids are closer than this are one topic (see _merge_close)
LOOK_ALIKE_MEMBERS = 5_000   # cluster prompts compared with each candidate look-alike (a sample past it)
LOOK_ALIKE_ROUNDS = 3        # a look-alike's own look-alikes count too, to this depth (see _nearer)
_LOOK_ALIKE_CHUNK = 20_000

@dataclass(frozen=True)
class Cluster:
    cluster_id: str
    name: str
    size: int
    first_seen: str
    last_seen: str
    growth: float                      # prompts on the last day / mean of the days before (quiet ones 0); -1: new
    daily: dict[str, int]
    predicted_labels: dict[str, int]   # what the model forced them into
    nearest_labels: dict[str, int]     # the training labels they sit closest to
    examples: list[str] = field(default_factory=list)
    centroid: np.ndarray | None = field(default=None, repr=False, compare=False)
    look_alikes: int = 0                                    # prompts in no cluster nearer it than training
    look_alike_labels: dict[str, int] = field(default_factory=dict)  # the labels they were answered with

    def to_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if k != "centroid"}


def find_clusters(db: str | Path, since: str | None = None, until: str | None = None,
                  min_size: int = 5, save: bool | None = None) -> list[Cluster]:
    """Cluster the novel prompts scored between ``since`` and ``until`` (all of them by default).
    ``save``: store the result as the current view (the report's, the queue's, ``clusters show``'s);
    by default unless ``until`` leaves out novel prompts logged after it (a view of the past saved
    over active clusters' cards: one browse left the fastest-growing topic at '6 prompts, last seen'
    two months back, and quiet clusters so for good), or this user may only read ``db``.

    A saving run also counts every stored card's look-alikes again, up to now (those its range did not
    touch too, and when it finds nothing), so each card says what ``clusters show --look-alikes``
    lists. That scans the prompts logged since the oldest stored cluster began, once a step
    (``LOOK_ALIKE_ROUNDS``, about 30 s per million prompts a step): ``prune`` bounds it."""
    check_argument("min_size", min_size, int, "a whole number such as 5")
    check_argument("save", save, (bool, type(None)), "True, False or None")
    existing_db(db)
    if min_size < 2:
        raise InputError(f"--min-size must be at least 2 (a cluster of one is an outlier), not {min_size}")
    since, until = parse_range(since, until)
    store = Store(db)
    try:
        pruned = store.pruned_before()
        if save is None:
            save = not (until and _novel_from(store, until)) and not store.read_only
        rows = _novel_rows(store, since, until)
        # look-alikes are counted on the view as this run leaves it, with the function `clusters show
        # --look-alikes` lists them with, so a card and its listing agree after a --since run or a prune
        # too (review). A saved view is the current one: counted up to now, not to ``until`` (`novelty run`
        # saves with the end of its day as ``until``, and wrote 0 where the listing showed prompts: review)
        reach = None if save else until
        clusters: list[Cluster] = []
        if rows:
            vectors = store.vectors([r["text_hash"] for r in rows])
            labels = _labels(vectors, min_size)
            last_day = last_day_of((r["ts"] or "")[:10] for r in rows)  # a cluster quiet that day has grown 0x
            clusters, members = _describe(store, rows, vectors, labels, last_day)
            clusters = _with_history(store, clusters, members, rows, vectors, since, last_day)
            clusters = _pruned_history(store, clusters, last_day)
        if clusters:
            counts = _look_alike_counts(store, _members_after(store, members, rows, reach), reach)
            clusters = [replace(c, **_look_alike_fields(counts, c.cluster_id)) for c in clusters]
            if save:
                _save(store, clusters, members, [r["prompt_id"] for r in rows], last_day, min_size, pruned, counts)
        elif save and store.db.execute("SELECT 1 FROM clusters WHERE look_alikes > 0 OR cluster_id IN "
                                       "(SELECT cluster_id FROM cluster_members) LIMIT 1").fetchone():
            # nothing found (a quiet lookback, a --min-size too big): the stored view stays, but prompts
            # logged since may be its clusters' look-alikes (review: every card kept its old count), and
            # a prune may have taken every member, leaving counts no listing shows (second review)
            counts = _look_alike_counts(store, _stored_members(store, None), None)

            def recount() -> None:  # one transaction, as _save's
                store.unchanged_by_prune(pruned)
                _write_look_alike_counts(store, counts)
            store.transaction(recount)
        return sorted(clusters, key=lambda c: -c.size)
    finally:
        store.close()


def cluster_prompts(db: str | Path, cluster_id: str, limit: int = 200, similar: bool = False,
                    until: str | None = None) -> list[dict]:
    """The prompts of one stored cluster, newest first; ``similar``: its look-alikes instead. ``until``:
    only those before it (as ``find_clusters(until=...)`` counted them on the cluster's card)."""
    check_argument("cluster_id", cluster_id, str, "a cluster id such as 'c0003'")
    check_argument("limit", limit, int, "a whole number such as 200")
    if limit < 1:
        raise InputError(f"--limit must be at least 1, not {limit}")
    limit = min(int(limit), 2 ** 62)  # SQLite's integers stop at 2**63 - 1: a bigger limit is 'all' anyway
    # (int: a numpy integer reached SQLite as a blob, 'datatype mismatch')
    existing_db(db)
    cluster_id = cluster_id.strip().lower()  # ids are written c0003: 'C0003' or ' c0003 ' meant it
    until = parse_range(None, until)[1]
    store = Store(db)
    try:
        if not store.db.execute("SELECT 1 FROM clusters WHERE cluster_id = ?", [cluster_id]).fetchone():
            ids = [c for (c,) in store.db.execute("SELECT cluster_id FROM clusters WHERE cluster_id IN "
                                                  "(SELECT cluster_id FROM cluster_members) ORDER BY size DESC LIMIT 5")]
            raise InputError(f"no cluster {cluster_id!r} in {db}; " + (
                f"its clusters include {', '.join(ids)} (see `novelty clusters --db {db}`)" if ids
                else f"run `novelty clusters --db {db}` first"))
        if similar:
            found = sorted(look_alikes(store, cluster_id, until), key=lambda r: r["ts"] or "", reverse=True)[:limit]
            return [{k: r[k] for k in ("prompt_id", "ts", "text", "similarity", "cluster_similarity",
                                       "predicted_label")} for r in found]
        return list(store.db.query(
            f"SELECT s.prompt_id, {_WHEN} AS ts, s.text, s.similarity, s.predicted_label, s.nearest_label "
            "FROM scores s JOIN cluster_members m USING (prompt_id) WHERE m.cluster_id = ? AND "
            f"({_WHEN} < ? OR ? IS NULL) ORDER BY 2 DESC LIMIT ?", [cluster_id, sql_bound(until), until, limit]))
    finally:
        store.close()


def look_alikes(store: Store, cluster: str = "all", until: str | None = None) -> list[dict]:
    """Prompts in no cluster, scored since the cluster's first prompt (and before ``until``, a canonical
    time), that sit nearer a prompt of
    the cluster than their nearest training prompt, and nearer it than any other cluster (``all``:
    the look-alikes of every stored cluster).

    Each row: prompt_id, ts, text, text_hash, predicted_label, similarity (to the training index, as
    scored), cluster_id (the cluster it sits nearest) and cluster_similarity; ordered by prompt_id.
    Measured on Banking77 (scripts/bench_clusters.py, five draws of five held-out intents, three
    steps deep): 94-97 % of look-alikes belong to a held-out intent. Prompts whose vectors were evicted
    (``score --cache-size``) are skipped. Cost: about 30 s per million prompts scanned, a scan a step.
    """
    return _look_alikes_of(store, _stored_members(store, until), cluster, until)


def _stored_members(store: Store, until: str | None) -> list[dict]:
    """The stored clusters' prompts (prompt_id, cluster_id, text_hash, ts) logged before ``until``, by
    prompt_id: a view of the past compares with the members it saw alone (review: `clusters show --until
    --look-alikes` compared with members logged after it, which the card of `clusters --until` never saw)."""
    return list(store.db.query(f"SELECT m.prompt_id, m.cluster_id, s.text_hash, {_WHEN} AS ts "
                               "FROM cluster_members m JOIN scores s USING (prompt_id) "
                               f"WHERE ({_WHEN} < ? OR ? IS NULL) ORDER BY s.prompt_id", [sql_bound(until), until]))


def _members_after(store: Store, members: list[tuple[str, str]], rows: list[dict], until: str | None) -> list[dict]:
    """``_stored_members`` as saving this run leaves them: every prompt of the run's range (``rows``)
    belongs to the cluster it was put in now (``members``), or to none; other prompts keep theirs."""
    ranged = {r["prompt_id"]: r for r in rows}
    kept = [m for m in _stored_members(store, until) if m["prompt_id"] not in ranged]
    now = [{"prompt_id": p, "cluster_id": c, "text_hash": ranged[p]["text_hash"], "ts": ranged[p]["ts"]}
           for p, c in members]
    return sorted(kept + now, key=lambda m: m["prompt_id"])


def _look_alikes_of(store: Store, members: list[dict], cluster: str, until: str | None) -> list[dict]:
    """``look_alikes`` of the clusters whose prompts are ``members`` (as ``_stored_members`` gives them)."""
    if not any(cluster in ("all", m["cluster_id"]) for m in members):
        return []
    # from every cluster's start, for one cluster too: a look-alike a step out may be reached through one
    # of another cluster's, logged before this one began (review: listed under two clusters)
    stamps = [m["ts"] for m in members]
    found = store.cached_vectors([m["text_hash"] for m in members], int(store.meta().get("dimension", 0)))
    usable = [m for m in members if m["text_hash"] in found]
    began: dict[str, str] = {}
    for m in members:
        if m["ts"] is not None:
            began[m["cluster_id"]] = min(m["ts"], began.get(m["cluster_id"], m["ts"]))
    similar = _nearer(store, np.stack([found[m["text_hash"]] for m in usable]) if usable else None,
                      [m["cluster_id"] for m in usable], {m["prompt_id"] for m in members},
                      min(stamps) if all(stamps) else None, until, began)
    return [r for r in similar if cluster in ("all", r["cluster_id"])]


def _nearer(store: Store, vectors: np.ndarray | None, cluster_ids: list[str], exclude: set[str],
            since: str | None, until: str | None = None, began: dict[str, str] | None = None) -> list[dict]:
    """Look-alikes of the clusters whose prompts are ``vectors``: prompts not in ``exclude``, scored in
    [since, until), nearer one of those prompts than their training neighbour, each given the cluster of
    the nearest; then, up to LOOK_ALIKE_ROUNDS rounds in all, the prompts nearer one of the last round's
    look-alikes than their training neighbour, given its cluster (``cluster_similarity`` is to that
    look-alike). A new topic reaches past the few dozen prompts HDBSCAN grouped: measured on Banking77
    (scripts/bench_clusters.py, five draws), three rounds found 1.6-3.0x the look-alikes of one (three draws), 94-97 %
    of them prompts of the new intents, and the novel rate of fresh prompts of those intents fell by
    more once the queue's labels were learned (README, "Measured"). Each round scans the range again.

    ``began`` (cluster id: its first prompt's time): a prompt logged before the cluster it sits nearest
    began is none of its look-alikes, nor leads to any (cards and listings count from there)."""
    out: list[dict] = []
    exclude = set(exclude)
    for _ in range(LOOK_ALIKE_ROUNDS):
        found = [r for r in _nearer_once(store, vectors, cluster_ids, exclude, since, until)
                 if not (began and r["ts"] and began.get(r["cluster_id"]) and r["ts"] < began[r["cluster_id"]])]
        out += found
        exclude |= {r["prompt_id"] for r in found}
        stored = store.cached_vectors([r["text_hash"] for r in found], vectors.shape[1]) if found else {}
        found = [r for r in found if r["text_hash"] in stored]  # evicted since (a score run's --cache-size)
        if not found:
            break
        vectors = np.stack([stored[r["text_hash"]] for r in found])
        cluster_ids = [r["cluster_id"] for r in found]
    return sorted(out, key=lambda r: r["prompt_id"])


def _nearer_once(store: Store, vectors: np.ndarray | None, cluster_ids: list[str], exclude: set[str],
                 since: str | None, until: str | None) -> list[dict]:
    """One round of ``_nearer``. Past LOOK_ALIKE_MEMBERS prompts a sample stands for each cluster."""
    if vectors is None or not len(vectors):
        return []
    keep = _sample(cluster_ids, LOOK_ALIKE_MEMBERS)
    vectors, cluster_ids = vectors[keep], [cluster_ids[i] for i in keep]
    import faiss

    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    # no ORDER BY: with a time bound SQLite can walk the ts index; the result is sorted below. A prompt
    # logged without a time counts when it was scored (as the clusters' own prompts do)
    cursor = store.db.execute(*_in_range("prompt_id, text, text_hash, predicted_label, similarity",
                                         "similarity IS NOT NULL", since, until))
    columns = [c[0] for c in cursor.description]
    out = []
    while chunk := cursor.fetchmany(_LOOK_ALIKE_CHUNK):
        chunk = [dict(zip(columns, row)) for row in chunk if row[0] not in exclude]
        found = store.cached_vectors([r["text_hash"] for r in chunk], index.d)
        chunk = [r for r in chunk if r["text_hash"] in found]
        if not chunk:
            continue
        sims, nearest = index.search(np.stack([found[r["text_hash"]] for r in chunk]), 1)
        # capped at 1: float32 sums gave 1.0001
        out += [dict(r, cluster_id=cluster_ids[j], cluster_similarity=round(min(1.0, float(sim)), 4))
                for r, (sim,), (j,) in zip(chunk, sims, nearest) if sim > r["similarity"]]
    return sorted(out, key=lambda r: r["prompt_id"])


def _sample(cluster_ids: list[str], cap: int) -> np.ndarray:
    """Positions of about ``cap`` cluster prompts, each cluster in proportion but keeping at least
    min(its size, 20), so a small cluster is not lost beside a large one.

    >>> picked = _sample(["a"] * 990 + ["b"] * 10, 100)
    >>> len(picked), int((picked >= 990).sum())  # 99 of a, all 10 of b
    (109, 10)
    """
    ids = np.asarray(cluster_ids)
    if len(ids) <= cap:
        return np.arange(len(ids))
    rng = np.random.default_rng(0)
    picks = []
    for c in np.unique(ids):
        where = np.flatnonzero(ids == c)
        quota = min(len(where), max(20, round(cap * len(where) / len(ids))))
        picks.append(rng.choice(where, quota, replace=False))
    return np.sort(np.concatenate(picks))


def _look_alike_counts(store: Store, members: list[dict], until: str | None) -> dict[str, Counter]:
    """Per cluster id, the labels its look-alikes up to ``until`` got, counted."""
    by_cluster: dict[str, Counter] = {}
    for r in _look_alikes_of(store, members, "all", until):
        by_cluster.setdefault(r["cluster_id"], Counter())[r["predicted_label"] or "-"] += 1
    return by_cluster


def _look_alike_fields(counts: dict[str, Counter], cluster_id: str) -> dict:
    """A card's ``look_alikes`` and ``look_alike_labels`` (its five most frequent) from ``counts``."""
    labels = counts.get(cluster_id, Counter())
    return {"look_alikes": sum(labels.values()), "look_alike_labels": dict(labels.most_common(5))}


def _write_look_alike_counts(store: Store, counts: dict[str, Counter], skip: set[str] = frozenset()) -> None:
    """Inside a transaction: every stored card but ``skip`` takes its look-alike fields from ``counts``."""
    others = [cid for (cid,) in store.db.execute("SELECT cluster_id FROM clusters") if cid not in skip]
    rows = [_look_alike_fields(counts, cid) for cid in others]
    store.db.conn.executemany("UPDATE clusters SET look_alikes = ?, look_alike_labels = ? WHERE cluster_id = ?",
                              [(r["look_alikes"], json.dumps(r["look_alike_labels"]), cid)
                               for r, cid in zip(rows, others)])


_WHEN = "COALESCE(s.ts, s.scored_at)"  # a prompt logged without a time counts when it was scored (as queue golden)


def _in_range(columns: str, condition: str, since: str | None, until: str | None) -> tuple[str, list]:
    """SQL (and its arguments) for ``columns`` and ``ts`` of the scored prompts meeting ``condition``,
    logged in [since, until), or scored then when logged without a time. Two queries joined, so the
    timed ones walk a ts index (one WHERE on COALESCE(ts, scored_at) scanned every prompt)."""
    timed, args = time_bounds("ts", since, until)
    untimed, _ = time_bounds("scored_at", since, until)
    return (f"SELECT {columns}, ts FROM scores WHERE {' AND '.join([condition, 'ts IS NOT NULL', *timed])} "
            f"UNION ALL SELECT {columns}, scored_at FROM scores WHERE "
            f"{' AND '.join([condition, 'ts IS NULL', *untimed])}", args + args)


def unsaved_view(db: str | Path, until: str | None) -> str | None:
    """Why ``find_clusters`` would not save by default, or None: ``until`` leaves out novel prompts
    logged after it ("past"), or this user may only read the database ("read-only": an archive or a
    colleague's copy is browsed, where saving failed with exit 2)."""
    existing_db(db)  # a mistyped --db was created empty (exit 0) by this look before find_clusters refused it
    until = parse_range(None, until)[1]
    store = Store(db)
    try:
        return "past" if until and _novel_from(store, until) else "read-only" if store.read_only else None
    finally:
        store.close()


def _novel_from(store: Store, since: str) -> bool:
    """Whether novel prompts were logged at or after ``since``."""
    sql, args = _in_range("1", "is_novel = 1", since, None)
    return bool(store.db.execute(f"SELECT EXISTS ({sql})", args).fetchone()[0])


def _novel_rows(store: Store, since: str | None, until: str | None) -> list[dict]:
    return list(store.db.query(*_in_range("prompt_id, text, text_hash, predicted_label, nearest_label",
                                          "is_novel = 1", since, until)))


def _labels(vectors: np.ndarray, min_size: int) -> np.ndarray:
    """HDBSCAN on the distinct vectors (a sample of them past MAX_POINTS); -1 = noise.

    Past MAX_POINTS, a text outside the sample joins the cluster of its nearest sampled text when it
    is no farther from it than that cluster's members are from their nearest sampled text (95th
    percentile); else it stays noise. (Every text went to the nearest centroid: noise vanished into clusters, a centroid
    that won no text made an empty cluster with a new id on every run, and sampled members moved.)"""
    from sklearn.cluster import HDBSCAN

    unique, inverse, counts = np.unique(vectors, axis=0, return_inverse=True, return_counts=True)
    rng = np.random.default_rng(0)
    sample = np.arange(len(unique)) if len(unique) <= MAX_POINTS else \
        np.sort(rng.choice(len(unique), MAX_POINTS, replace=False))
    fit = unique[sample]
    points = _weighted_points(counts[sample], min_size)
    if len(points) < max(min_size, 3):
        return np.full(len(vectors), -1)
    # leaf selection: the finest stable clusters. The default (excess of mass) prefers a parent when it
    # is stabler than its children, and on Banking77 it merged two new intents (ATM fees and pending
    # withdrawals: purity 0.58, 4 of 5 intents found) that leaf keeps apart (0.82, 5 of 5).
    project = _projection(fit)
    reduced = project(fit)
    common = dict(min_cluster_size=min_size, min_samples=max(2, min_size // 2), metric="euclidean", copy=True)
    fitted = np.full(len(fit), -1)
    if len(fit) > 1:  # (one text asked again and again is one point: HDBSCAN needs two, QA: it raised)
        fitted = HDBSCAN(cluster_selection_method="leaf", **common).fit_predict(reduced)
        if fitted.max() < 0 and len(points) > len(fit):  # a few texts, some asked many times: weighed by it
            fitted = HDBSCAN(cluster_selection_method="leaf", **common).fit_predict(reduced[points])[:len(fit)]
        if fitted.max() < 0:  # one topic and little else (a new topic's first day): leaves need a split
            fitted = HDBSCAN(allow_single_cluster=True, **common).fit_predict(reduced)
    fitted = _merge_close(_repeated_alone(fitted, reduced, counts[sample], min_size), fit)
    labels = np.full(len(unique), -1)
    labels[sample] = fitted
    rest = np.setdiff1d(np.arange(len(unique)), sample)
    if len(rest) and fitted.max() >= 0:
        labels[rest] = _nearest_member(np.ascontiguousarray(reduced, np.float32),
                                       np.ascontiguousarray(project(unique[rest]), np.float32), fitted)
    return labels[inverse.ravel()]


def _merge_close(fitted: np.ndarray, vectors: np.ndarray, cosine: float = MERGE_COSINE) -> np.ndarray:
    """``fitted`` with the clusters whose centroids are above ``cosine`` of each other
    joined, in chains: leaf selection keeps close topics apart, and splits one topic into several
    leaves too (Banking77, five new intents: 32-40 clusters; joined above 0.88, 17-27, with the same
    purity, 0.94-0.99, and every intent still a cluster's majority; above 0.85 two merged).

    >>> v = np.array([[1, 0], [1, .1], [.99, .2], [0, 1]], np.float32)
    >>> _merge_close(np.array([0, 0, 1, 2]), v / np.linalg.norm(v, axis=1, keepdims=True)).tolist()
    [0, 0, 0, 1]
    """
    ids = np.unique(fitted[fitted >= 0])
    if len(ids) < 2:
        return fitted
    from scipy.sparse.csgraph import connected_components

    centroids = np.stack([vectors[fitted == i].mean(axis=0) for i in ids])
    centroids /= np.maximum(np.linalg.norm(centroids, axis=1, keepdims=True), 1e-12)
    _, group = connected_components(centroids @ centroids.T > cosine, directed=False)
    out = fitted.copy()
    out[fitted >= 0] = group[np.searchsorted(ids, fitted[fitted >= 0])]
    return out


def _repeated_alone(fitted: np.ndarray, reduced: np.ndarray, counts: np.ndarray, min_size: int) -> np.ndarray:
    """``fitted`` with each text left as noise but asked twice ``min_size`` times or more put in the
    cluster whose members' reach it is within, else in a cluster of its own: one question asked
    verbatim 40 times (a suggested-prompt button, a bot) is a topic of 40 prompts, though one point.
    (At ``min_size`` times, Banking77's simulated month made 14 more clusters of 5, each a known
    intent's text drawn again and again.)

    >>> points = np.array([[0.0], [1], [1.5], [50], [90]])
    >>> _repeated_alone(np.array([0, 0, -1, -1, -1]), points, np.array([1, 1, 19, 19, 9]), 5).tolist()
    [0, 0, 0, 1, -1]
    """
    alone = np.flatnonzero((fitted < 0) & (counts >= 2 * min_size))
    if not len(alone):
        return fitted
    fitted = fitted.copy()
    if fitted.max() >= 0:
        members = np.flatnonzero(fitted >= 0)
        near = _nearest_member(np.ascontiguousarray(reduced[members], np.float32),
                               np.ascontiguousarray(reduced[alone], np.float32), fitted[members])
        fitted[alone] = near
        alone = alone[near < 0]
    fitted[alone] = fitted.max() + 1 + np.arange(len(alone))
    return fitted


def _weighted_points(counts: np.ndarray, min_size: int) -> np.ndarray:
    """Positions into the distinct texts to cluster: each once, then again for its repeats, up to
    ``min_size`` points in all per text (the most repeated first, MAX_POINTS // 2 extra points at most):
    the fit when the distinct texts alone make no cluster. Clustered once per distinct text, a
    question asked verbatim 80 times was one point, never a cluster (review).

    >>> _weighted_points(np.array([1, 40, 2]), 5).tolist()
    [0, 1, 2, 1, 1, 1, 1, 2]
    """
    extra = np.minimum(counts, min_size) - 1
    order = np.argsort(-counts, kind="stable")
    kept = np.cumsum(extra[order]) <= MAX_POINTS // 2
    extra[order[~kept]] = 0
    return np.concatenate([np.arange(len(counts)), np.repeat(np.arange(len(counts)), extra)])


def _nearest_member(fit: np.ndarray, rest: np.ndarray, fitted: np.ndarray) -> np.ndarray:
    """The cluster of each ``rest`` point's nearest ``fit`` point, when within the reach of that
    cluster's members (95th percentile of their distance to their nearest other ``fit`` point); else -1.

    >>> fit = np.array([[0, 0], [0, 1], [10, 0], [10, 1], [5, 20]], np.float32)
    >>> _nearest_member(fit, np.array([[0, 0.5], [10, 2], [5, 19], [50, 50]], np.float32), np.array([0, 0, 1, 1, -1]))
    array([ 0,  1, -1, -1])
    """
    import faiss

    index = faiss.IndexFlatL2(fit.shape[1])
    index.add(fit)
    own = np.sqrt(index.search(fit, 2)[0][:, 1])  # the first neighbour is the point itself
    reach = np.array([np.quantile(own[fitted == c], 0.95) for c in range(fitted.max() + 1)])
    distance, nearest = index.search(rest, 1)
    label = fitted[nearest[:, 0]]
    near = (label >= 0) & (np.sqrt(distance[:, 0]) <= reach[np.clip(label, 0, None)] + 1e-6)
    return np.where(near, label, -1)


def _projection(vectors: np.ndarray, dims: int = 20) -> Callable[[np.ndarray], np.ndarray]:
    """PCA to ``dims`` (fitted on ``vectors``) before HDBSCAN past a thousand points: its neighbour
    search is tree-based and degrades with dimension (measured: 65 s on 8,000 x 384, 1.5 s on 10,000
    x 20, same ARI); the identity below that."""
    if len(vectors) <= 1000 or vectors.shape[1] <= dims:
        return lambda x: x
    from sklearn.decomposition import PCA

    return PCA(dims, random_state=0).fit(vectors).transform


def _describe(store: Store, rows: list[dict], vectors: np.ndarray, labels: np.ndarray, last_day: str | None):
    names = _names([[rows[i]["text"] for i in np.flatnonzero(labels == c)] for c in range(labels.max() + 1)])
    groups = [np.flatnonzero(labels == c) for c in range(labels.max() + 1)]
    centroids = [vectors[idx].mean(axis=0) for idx in groups]
    centroids = [c / (np.linalg.norm(c) or 1) for c in centroids]
    ids = _ids(store, [[rows[i]["prompt_id"] for i in idx] for idx in groups], centroids)
    clusters, members = [], []
    for c, (idx, cid, centroid) in enumerate(zip(groups, ids, centroids)):
        name = names[c] or f"{cid} (no distinctive words)"  # was 'cluster N', N its place in this run
        clusters.append(_cluster(cid, name, [rows[i] for i in idx], vectors[idx], centroid, last_day))
        members += [(rows[i]["prompt_id"], cid) for i in idx]
    return clusters, members


def _ids(store: Store, groups: list[list[str]], centroids: list[np.ndarray]) -> list[str]:
    """The id of each cluster of this run (its prompt ids in ``groups``): that of the stored cluster
    most of its prompts were members of, largest overlap first, so the same prompts keep their id
    whatever the options (a finer browse with --min-size 5, then the daily view again, renamed every
    cluster of the daily view); else that of a stored centroid within SAME_CLUSTER (a topic's new
    prompts, or one back after a pause); else a new one."""
    stored = {cid: np.frombuffer(blob, np.float32) for cid, blob in
              store.db.execute("SELECT cluster_id, centroid FROM clusters")}
    was = store.cluster_of([pid for group in groups for pid in group])
    present = Counter(was.values())  # each stored cluster's members among this run's prompts
    pairs = []
    for c, group in enumerate(groups):
        overlap = Counter(was[pid] for pid in group if pid in was)
        # a fifth of the group, or half of the stored cluster's members here: a topic grown five-fold
        # holds 25 of its 30 old members among 200 new prompts, and kept its id no more (review: a
        # fragment with the other 5 took it)
        pairs += [(n, c, cid) for cid, n in overlap.items()
                  if n >= 2 and (n >= 0.2 * len(group) or n >= 0.5 * present[cid])]
    ids: list[str | None] = [None] * len(groups)
    for _, c, cid in sorted(pairs, key=lambda p: (-p[0], p[1], p[2])):
        if ids[c] is None and cid not in ids:
            ids[c] = cid
    taken = {cid for cid in ids if cid}
    # the rest by centroid, the closest pair first (in the clustering's order, a group at cosine 0.86
    # took a stored id before one at 0.99 was looked at)
    for _, c, cid in _nearest_pairs([centroids[c] if ids[c] is None else None for c in range(len(groups))],
                                    {cid: v for cid, v in stored.items() if cid not in taken}):
        if ids[c] is None and cid not in taken:
            ids[c] = cid
            taken.add(cid)
    for c in range(len(groups)):
        if ids[c] is None:
            ids[c] = _new_id(stored, taken)
            taken.add(ids[c])
    return ids


def _nearest_pairs(centroids: list[np.ndarray | None], stored: dict[str, np.ndarray]) -> list[tuple[float, int, str]]:
    """(cosine, group, stored id) of every group with a centroid and stored centroid of its length
    within SAME_CLUSTER, closest first."""
    by_length: dict[int, tuple[list[str], np.ndarray]] = {}  # stacked once per length (a model changed)
    pairs = []
    for c, centroid in enumerate(centroids):
        if centroid is None:
            continue
        if len(centroid) not in by_length:
            usable = [cid for cid, v in stored.items() if len(v) == len(centroid)]
            by_length[len(centroid)] = usable, (np.stack([stored[cid] for cid in usable]) if usable else None)
        usable, matrix = by_length[len(centroid)]
        if usable:
            sims = matrix @ centroid
            pairs += [(float(sims[j]), c, usable[j]) for j in np.flatnonzero(sims >= SAME_CLUSTER)]
    return sorted(pairs, key=lambda p: (-p[0], p[1], p[2]))


def _with_history(store: Store, clusters: list[Cluster], members: list[tuple[str, str]], rows: list[dict],
                  vectors: np.ndarray, since: str | None, last_day: str | None) -> list[Cluster]:
    """A cluster that keeps an id from an earlier run also keeps that run's members from before this
    run's range (a lookback): its size, first day, daily counts and growth count them too, so the
    card and ``clusters show`` tell one story."""
    if not since:  # the range starts at the beginning: no member can be from before it
        return clusters
    position = {r["prompt_id"]: i for i, r in enumerate(rows)}
    earlier: dict[str, list[dict]] = {}
    for r in store.db.query(
            "SELECT m.cluster_id, s.prompt_id, s.ts, s.text, s.text_hash, s.predicted_label, s.nearest_label "
            "FROM cluster_members m JOIN scores s USING (prompt_id) WHERE s.ts < ? UNION ALL "  # the ts index
            "SELECT m.cluster_id, s.prompt_id, s.scored_at, s.text, s.text_hash, s.predicted_label, s.nearest_label "
            "FROM cluster_members m JOIN scores s USING (prompt_id) WHERE s.ts IS NULL AND s.scored_at < ?",
            [sql_bound(since)] * 2):
        if r["prompt_id"] not in position:
            earlier.setdefault(r.pop("cluster_id"), []).append(r)
    mine: dict[str, list[int]] = {}
    for pid, cid in members:
        mine.setdefault(cid, []).append(position[pid])
    out = []
    for c in clusters:
        found = store.cached_vectors([r["text_hash"] for r in earlier.get(c.cluster_id, [])], len(c.centroid))
        old = [r for r in earlier.get(c.cluster_id, []) if r["text_hash"] in found]
        if not old:
            out.append(c)
            continue
        union = [rows[i] for i in mine[c.cluster_id]] + old
        stacked = np.vstack([vectors[mine[c.cluster_id]], np.stack([found[r["text_hash"]] for r in old])])
        out.append(_cluster(c.cluster_id, c.name, union, stacked, c.centroid, last_day))
    return out


def _new_id(stored: dict, taken: set[str]) -> str:
    used = {int(c[1:]) for c in set(stored) | taken if c[1:].isdigit()}
    return f"c{(max(used) + 1 if used else 1):04d}"


def _cluster(cid: str, name: str, rows: list[dict], vectors: np.ndarray, centroid: np.ndarray,
             last_day: str | None = None) -> Cluster:
    """``daily`` counts every day from the first prompt's to ``last_day`` (the newest of the range's
    novel prompts), quiet days as 0: a topic that stopped has not grown, and a day without it is part
    of the baseline."""
    order = np.argsort(-(vectors @ centroid))
    examples = list(dict.fromkeys(rows[i]["text"] for i in order))[:3]
    facts = summary(rows, last_day)
    return Cluster(cid, name, facts["size"], facts["first_seen"], facts["last_seen"], facts["growth"], facts["daily"],
                   facts["predicted_labels"], facts["nearest_labels"], examples, centroid.astype(np.float32))


def summary(rows: list[dict], last_day: str | None = None) -> dict:
    """What a cluster's card says of its prompts (``rows`` with ts, predicted_label, nearest_label):
    size, first and last seen, daily counts from the first day to ``last_day``, growth, and the labels
    it was forced into and sits nearest."""
    days, growth = _daily(Counter((r["ts"] or "")[:10] for r in rows), last_day)
    stamps = sorted(r["ts"] for r in rows if r["ts"])
    return {"size": len(rows), "first_seen": stamps[0] if stamps else "", "last_seen": stamps[-1] if stamps else "",
            "growth": growth, "daily": days,
            "predicted_labels": dict(Counter(r["predicted_label"] for r in rows if r["predicted_label"]).most_common(5)),
            "nearest_labels": dict(Counter(r["nearest_label"] for r in rows if r["nearest_label"]).most_common(5))}


def last_day_of(days: Iterable[str]) -> str | None:
    """The newest of ``days`` (ISO dates) that is not after tomorrow in UTC, else the newest: a prompt
    stamped in 2099 (a mistyped year) made it the clusters' "last day", so every cluster had grown 0.0x
    and counted each of the 27,000 days up to it (35 MB of daily counts in the database, from one prompt).

    >>> last_day_of(["2026-11-20", "2099-11-23", "", "2026-11-21"]), last_day_of(["2099-01-01"]), last_day_of([""])
    ('2026-11-21', '2099-01-01', None)
    """
    dated = sorted(d for d in days if d)
    tomorrow = (datetime.now(timezone.utc) + timedelta(days=1)).date().isoformat()
    return next((d for d in reversed(dated) if d <= tomorrow), dated[-1] if dated else None)


def _daily(days: Counter, last_day: str | None) -> tuple[dict[str, int], float]:
    """Counts by day, every day from the first to ``last_day`` (quiet ones 0; by default the newest day
    not in the future), and the growth: that day's count over the mean of the days before it (-1: new,
    no day before). Days after it (stamped ahead of the clock) are counted, not filled in between."""
    days = Counter(days)
    dated = sorted(d for d in days if d)
    end = (last_day or "")[:10] or last_day_of(dated)
    if dated and end < dated[0]:  # every prompt of it after the last day: its own days, quiet ones 0
        end = dated[-1]
    if dated:
        day, stop = Date.fromisoformat(dated[0]), Date.fromisoformat(end)
        while day <= stop:
            days.setdefault(day.isoformat(), 0)
            day += timedelta(days=1)
    ordered = sorted(days)
    at = end if dated else ordered[-1]
    before = [days[d] for d in ordered if d < at]
    growth = days[at] / (sum(before) / len(before)) if before else float("inf")
    return dict(sorted(days.items())), round(growth, 3) if np.isfinite(growth) else -1.0


def _pruned_history(store: Store, clusters: list[Cluster], last_day: str | None,
                    cut_off_day: bool = True) -> list[Cluster]:
    """Clusters that keep a stored id with the days ``prune`` took their prompts from counted as saved:
    counted from the prompts left, an old topic read as new ('first seen' moved to the cut-off, growth
    'new' or 16x where it was 5x), as windows and incidents never do. ``cut_off_day``: the day the cut-off
    falls in too, as saved when it counted more (not for a cluster members left: they may have moved)."""
    cutoff = store.pruned_before()
    if not cutoff or not clusters:
        return clusters
    stored = {cid: (json.loads(daily or "{}"), first) for cid, daily, first in store.db.execute(
        f"SELECT cluster_id, daily, first_seen FROM clusters WHERE cluster_id IN ({','.join('?' * len(clusters))})",
        [c.cluster_id for c in clusters])}
    out = []
    for c in clusters:
        daily, first = stored.get(c.cluster_id, ({}, None))
        kept = {d: n for d, n in daily.items() if (d <= cutoff[:10] if cut_off_day else d < cutoff[:10])
                and d <= (last_day or "9999")
                and isinstance(n, int) and n > c.daily.get(d, 0)}
        if not kept:
            out.append(c)
            continue
        days, growth = _daily(Counter({**c.daily, **kept}), last_day)
        out.append(replace(c, size=c.size + sum(n - c.daily.get(d, 0) for d, n in kept.items()), daily=days,
                           growth=growth, first_seen=min(c.first_seen or "9999", first or "9999")))
    return out


def members_before(store: Store, cluster_id: str, until: str) -> list[dict]:
    """The cluster's prompts logged (or, untimed, scored) before ``until``, newest first: what its card
    said then (``report --until``, a backfilled day of ``novelty run``)."""
    return list(store.db.query(
        f"SELECT s.text, {_WHEN} AS ts, s.predicted_label, s.nearest_label FROM cluster_members m "
        f"JOIN scores s USING (prompt_id) WHERE m.cluster_id = ? AND {_WHEN} < ? ORDER BY ts DESC",
        [cluster_id, sql_bound(until)]))


# written without spaces between words: Chinese, Japanese, Thai, Lao, Khmer, Myanmar (pairs of characters)
_UNSPACED = "\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"


@functools.cache
def _word_patterns() -> tuple[re.Pattern, re.Pattern]:
    """Words: a letter, then letters or combining marks (Devanagari's vowel signs, Arabic's harakat are
    marks: without them 'नमस्ते' splits at every sign); and the runs of unspaced scripts. The marks'
    ranges come from unicodedata (0.3 s, once)."""
    marks, start = [], None
    for point in range(sys.maxunicode + 2):
        is_mark = point <= sys.maxunicode and unicodedata.category(chr(point)).startswith("M")
        if is_mark and start is None:
            start = point
        elif not is_mark and start is not None:
            marks.append(f"{re.escape(chr(start))}-{re.escape(chr(point - 1))}")
            start = None
    letter = f"[^\\W\\d_{_UNSPACED}]"
    words = re.compile(f"{letter}(?:{letter}|[{''.join(marks)}])+")
    unspaced = re.compile(f"[{_UNSPACED}]+")  # their marks are in their blocks
    return words, unspaced


def _terms(text: str) -> list[str]:
    """The terms a cluster is named by: words of two letters or more in any script (English stop words
    left out), and for scripts written without spaces (Chinese, Japanese, Thai...), pairs of characters.

    >>> _terms("Where is my bitcoin wallet? محفظة 比特币钱包 नमस्ते")
    ['bitcoin', 'wallet', 'محفظة', 'नमस्ते', '比特', '特币', '币钱', '钱包']

    The placeholders of ``score --redact`` are no words (a cluster where 2 of 20 prompts had an address
    was named 'declined / transfer / email'):

    >>> _terms("declined transfer, write to [EMAIL] or [PHONE]")
    ['declined', 'transfer', 'write']
    """
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    words, unspaced = _word_patterns()
    text = PLACEHOLDERS.sub(" ", text).lower()
    found = [w for w in words.findall(unspaced.sub(" ", text)) if w not in ENGLISH_STOP_WORDS]
    return found + [run[i:i + 2] for run in unspaced.findall(text) for i in range(max(1, len(run) - 1))]


def _names(documents: list[list[str]], words: int = 3) -> list[str]:
    """Class-based TF-IDF: words frequent in one cluster and rare across the others."""
    if not documents:
        return []
    from sklearn.feature_extraction.text import CountVectorizer

    try:
        counts = CountVectorizer(analyzer=_terms).fit([" ".join(d) for d in documents])
    except ValueError:  # nothing but stop words: named by their ids
        return [""] * len(documents)
    matrix = counts.transform([" ".join(d) for d in documents]).toarray().astype(float)
    tf = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    idf = np.log(1 + matrix.sum(axis=1).mean() / np.maximum(matrix.sum(axis=0), 1))
    vocab = counts.get_feature_names_out()
    return [" / ".join(vocab[j] for j in np.argsort(-row)[:words] if row[j] > 0) for row in tf * idf]


MIN_SIZE_KEY = "clusters.min_size"  # meta: the --min-size of the run that saved the clusters


def _save(store: Store, clusters: list[Cluster], members: list[tuple[str, str]], clustered: list[str],
          last_day: str | None = None, min_size: int = 5, pruned: str | None = None,
          look_alike_counts: dict[str, Counter] | None = None) -> None:
    """Store the clusters; every prompt clustered in this run (``clustered``) belongs to the cluster
    this run put it in, or to none when it is noise now (an older run's membership is dropped).
    ``pruned``: prune's cut-off when the prompts were read (one that moved since refuses the save).
    ``look_alike_counts`` (``_look_alike_counts`` of the view saved): the stored clusters this run did
    not find keep their cards, with their look-alikes counted again (a new prompt may sit nearest one)."""
    now = utc_now()

    def work() -> None:  # one transaction, retried while locked; a read-only file is a StorageError
        store.unchanged_by_prune(pruned)  # (memberships and examples of deleted prompts were kept for good)
        store.db.conn.execute("INSERT INTO meta VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                              [MIN_SIZE_KEY, str(min_size)])
        losing = store.clusters_of(clustered)
        store.db.conn.executemany("DELETE FROM cluster_members WHERE prompt_id = ?", [(p,) for p in clustered])
        for c in clusters:
            store.db.conn.execute(
                "INSERT OR REPLACE INTO clusters (cluster_id, name, size, first_seen, last_seen, growth, daily, "
                "predicted_labels, nearest_labels, examples, centroid, updated_at, look_alikes, look_alike_labels) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                [c.cluster_id, c.name, c.size, c.first_seen, c.last_seen, c.growth, json.dumps(c.daily),
                 json.dumps(c.predicted_labels), json.dumps(c.nearest_labels), json.dumps(c.examples),
                 c.centroid.tobytes(), now, c.look_alikes, json.dumps(c.look_alike_labels)])
        store.db.conn.executemany("INSERT OR REPLACE INTO cluster_members VALUES (?, ?)", members)
        _recount(store, losing - {c.cluster_id for c in clusters}, now, last_day)
        if look_alike_counts is not None:
            _write_look_alike_counts(store, look_alike_counts, skip={c.cluster_id for c in clusters})
    store.transaction(work)


def _recount(store: Store, shrunk: set[str], now: str, last_day: str | None) -> None:
    """Clusters this run took members from but did not find again keep the members left to them; their
    size, days, growth, labels and examples are counted again on those (the card said 73 where 23 were
    left). One left with none is superseded and no longer shown: its size is 0 (a SUM(size) over the
    table counted it twice)."""
    for cid in sorted(shrunk):
        rows = list(store.db.query(
            f"SELECT s.prompt_id, {_WHEN} AS ts, s.text, s.text_hash, s.predicted_label, s.nearest_label "
            "FROM cluster_members m "
            "JOIN scores s USING (prompt_id) WHERE m.cluster_id = ?", [cid]))
        name, blob = store.db.execute("SELECT name, centroid FROM clusters WHERE cluster_id = ?", [cid]).fetchone()
        centroid = np.frombuffer(blob, dtype=np.float32)
        found = store.cached_vectors([r["text_hash"] for r in rows], len(centroid))
        rows = [r for r in rows if r["text_hash"] in found]
        if not rows:  # superseded: its centroid stays (a topic back later gets its id back), its counts go
            store.db.conn.execute("UPDATE clusters SET size = 0, growth = 0, daily = '{}', examples = '[]', "
                                  "predicted_labels = '{}', nearest_labels = '{}', look_alikes = 0, "
                                  "look_alike_labels = '{}', updated_at = ? WHERE cluster_id = ?", [now, cid])
            continue
        c = _cluster(cid, name, rows, np.stack([found[r["text_hash"]] for r in rows]), centroid, last_day)
        (c,) = _pruned_history(store, [c], last_day, cut_off_day=False)  # the pruned days as saved
        store.db.conn.execute(
            "UPDATE clusters SET size=?, first_seen=?, last_seen=?, growth=?, daily=?, predicted_labels=?, "
            "nearest_labels=?, examples=?, updated_at=? WHERE cluster_id=?",
            [c.size, c.first_seen, c.last_seen, c.growth, json.dumps(c.daily), json.dumps(c.predicted_labels),
             json.dumps(c.nearest_labels), json.dumps(c.examples), now, cid])


