"""Which FAISS index for how many training prompts: exact while it is cheap, approximate past that.

Exact inner-product search (``flat``) costs one pass over every vector per query: nothing beats it
up to about a hundred thousand prompts, where each query scans 150 MB. Past ``FLAT_MAX`` the
default is an inverted file (``ivf``: k-means lists, only the nearest ``nprobe`` lists are scanned);
``hnsw`` (a neighbour graph) is there too, faster to query and slower to build. Either way the
search-time knob (``nprobe`` or ``efSearch``) is tuned at build time until recall against exact
search reaches ``RECALL_TARGET`` on probe queries near the training prompts and on training prompts
searched as if new (their nearest other prompts), and the lower recall goes into the manifest.
Recall counts all ``k`` neighbours the scorer reads, rank by rank: the calibration scores its folds
by exact search, so an index that finds the first neighbour but misses the 40th scores production
prompts more novel than the calibration did (review: the ensemble's false alarms at alpha 0.05 went
0.0438 -> 0.0468 tuned on the first neighbour alone).
"""

from __future__ import annotations

import math

import faiss
import numpy as np

from .errors import InputError

INDEX_TYPES = ("auto", "flat", "ivf", "hnsw")
FLAT_MAX = 100_000
RECALL_TARGET = 0.99
PROBES = 1_000


def build(vectors: np.ndarray, kind: str = "auto", seed: int = 0, k: int = 1) -> tuple[faiss.Index, dict]:
    """A FAISS index holding ``vectors`` (unit rows) and its manifest entry, tuned to find the ``k``
    nearest neighbours.

    >>> index, info = build(np.eye(4, dtype=np.float32))
    >>> info["type"], index.ntotal
    ('flat', 4)
    """
    if kind not in INDEX_TYPES:
        raise InputError(f"index type {kind!r} is not one of {', '.join(INDEX_TYPES)}")
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    n, d = vectors.shape
    if kind == "flat" or (kind == "auto" and n <= FLAT_MAX) or n < 1_000:
        index = faiss.IndexFlatIP(d)
        index.add(vectors)
        return index, {"type": "flat", "metric": "inner_product"}
    rng = np.random.default_rng(seed)
    if kind == "hnsw":
        index = faiss.IndexHNSWFlat(d, 32, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 80
        index.add(vectors)
        knob, values = "efSearch", [16, 32, 64, 128, 256, 512]
    else:
        nlist = _nlist(n)
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(d), d, nlist, faiss.METRIC_INNER_PRODUCT)
        index.train(vectors[rng.choice(n, min(n, 64 * nlist), replace=False)])
        index.add(vectors)
        index.make_direct_map()  # so vectors can be read back (index add rebuilds from them)
        knob, values = "nprobe", [v for v in (1, 2, 4, 8, 16, 32, 64, 128, 256) if v <= nlist] + [nlist]
    k = max(1, min(int(k), n - 1))
    queries = probe_queries(vectors, rng)
    flat = _flat(vectors)  # one copy of the vectors for both exact searches (1.5 GB at a million prompts)
    exact = exact_top(vectors, queries, k, flat)
    # and training prompts as if new: each one's nearest *other* prompts, as a fresh paraphrase meets them
    # (a nudged copy finds its own vector in its own list: recall 0.99 there was 0.37 on fresh queries)
    own = rng.choice(n, min(PROBES, n), replace=False)
    exact_other = _exact_other(vectors, own, k, flat)
    del flat
    for value in values:
        set_knob(index, knob, value)
        recall = min(recall_at(index, queries, exact), recall_of_others(index, vectors, own, exact_other))
        if recall >= RECALL_TARGET:
            break
    info = {"type": "hnsw" if kind == "hnsw" else "ivf", "metric": "inner_product", knob: value,
            "recall": round(recall, 4), "recall_k": k, "recall_probes": len(queries) + len(own)}
    if knob == "nprobe":
        info["nlist"] = nlist
    return index, info


def prepare(index: faiss.Index, info: dict) -> faiss.Index:
    """Set the tuned search knob after loading (FAISS files do not keep it)."""
    if info.get("type") == "ivf":
        set_knob(index, "nprobe", info["nprobe"])
        faiss.extract_index_ivf(index).make_direct_map()
    elif info.get("type") == "hnsw":
        set_knob(index, "efSearch", info["efSearch"])
    return index


def set_knob(index: faiss.Index, knob: str, value: int) -> None:
    if knob == "nprobe":
        faiss.extract_index_ivf(index).nprobe = int(value)
    else:
        index.hnsw.efSearch = int(value)


def probe_queries(vectors: np.ndarray, rng: np.random.Generator, n: int = PROBES,
                  cosine: float = 0.9) -> np.ndarray:
    """Training vectors nudged to ``cosine`` of where they were: stand-ins for production prompts."""
    picks = vectors[rng.choice(len(vectors), min(n, len(vectors)), replace=False)]
    sigma = math.sqrt((1 / cosine**2 - 1) / vectors.shape[1])
    noisy = picks + rng.normal(scale=sigma, size=picks.shape).astype(np.float32)
    return np.ascontiguousarray(noisy / np.linalg.norm(noisy, axis=1, keepdims=True), dtype=np.float32)


def recall_at(index: faiss.Index, queries: np.ndarray, exact: np.ndarray) -> float:
    """Share of the exact search's neighbours (``exact``: each query's similarities, best first) the
    index finds, rank by rank: its i-th neighbour at least as close as the exact i-th (ties count)."""
    found, _ = index.search(queries, exact.shape[1])
    return float(np.mean(found >= exact - 1e-5))


def recall_of_others(index: faiss.Index, vectors: np.ndarray, own: np.ndarray, exact: np.ndarray) -> float:
    """``recall_at`` for training prompts ``own`` searched as if new: the prompt itself left out, as a
    new prompt has no copy in the index."""
    sims, ids = index.search(vectors[own], exact.shape[1] + 1)
    return float(np.mean(_others(sims, ids, own, exact.shape[1]) >= exact - 1e-5))


def _flat(vectors: np.ndarray) -> faiss.Index:
    flat = faiss.IndexFlatIP(vectors.shape[1])
    flat.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return flat


def exact_top(vectors: np.ndarray, queries: np.ndarray, k: int = 1, flat: faiss.Index | None = None) -> np.ndarray:
    """Each query's similarities to its ``k`` nearest vectors, best first, by exact search (in ``flat``,
    an exact index of ``vectors``, when given)."""
    return (flat if flat is not None else _flat(vectors)).search(queries, k)[0]


def _exact_other(vectors: np.ndarray, own: np.ndarray, k: int = 1, flat: faiss.Index | None = None) -> np.ndarray:
    """Each of ``own``'s similarities to its ``k`` nearest other training vectors."""
    sims, ids = (flat if flat is not None else _flat(vectors)).search(vectors[own], k + 1)
    return _others(sims, ids, own, k)


def _others(sims: np.ndarray, ids: np.ndarray, own: np.ndarray, k: int) -> np.ndarray:
    """Each row's first ``k`` similarities leaving out its own vector (or the last one, when its own
    vector is not among them)."""
    self_at = np.where(ids == own[:, None], np.arange(ids.shape[1]), ids.shape[1] - 1).min(axis=1)
    keep = np.ones(ids.shape, dtype=bool)
    keep[np.arange(len(ids)), self_at] = False
    return sims[keep].reshape(len(ids), ids.shape[1] - 1)[:, :k]


def _nlist(n: int) -> int:
    """About 4 sqrt(n) lists, a power of two (FAISS's guidance is 4 to 16 sqrt(n)), with at least the
    39 training points per list k-means asks for (it warned on stderr below that).

    >>> _nlist(1_000_000), _nlist(6_000)
    (4096, 128)
    """
    lists = int(2 ** round(math.log2(4 * math.sqrt(n))))
    while lists > 1 and n < 39 * lists:
        lists //= 2
    return lists
