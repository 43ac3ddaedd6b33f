"""Which FAISS index for how many training prompts: exact while it is cheap, approximate past that.

Exact inner-product search (``flat``) costs one pass over every vector per query: nothing beats it
up to about a hundred thousand prompts, where each query scans 150 MB. Past ``FLAT_MAX`` the
default is an inverted file (``ivf``: k-means lists, only the nearest ``nprobe`` lists are scanned);
``hnsw`` (a neighbour graph) is there too, faster to query and slower to build. Either way the
search-time knob (``nprobe`` or ``efSearch``) is tuned at build time until recall@1 against exact
search reaches ``RECALL_TARGET`` on probe queries near the training prompts and on training prompts
searched as if new (their nearest other prompt), and the lower recall goes into the manifest.
"""

from __future__ import annotations

import math

import faiss
import numpy as np

from .errors import InputError

INDEX_TYPES = ("auto", "flat", "ivf", "hnsw")
FLAT_MAX = 100_000
RECALL_TARGET = 0.97
PROBES = 1_000


def build(vectors: np.ndarray, kind: str = "auto", seed: int = 0) -> tuple[faiss.Index, dict]:
    """A FAISS index holding ``vectors`` (unit rows) and its manifest entry.

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
    queries = probe_queries(vectors, rng)
    exact = _exact_top1(vectors, queries)
    # and training prompts as if new: each one's nearest *other* prompt, as a fresh paraphrase meets it
    # (a nudged copy finds its own vector in its own list: recall 0.99 there was 0.37 on fresh queries)
    own = rng.choice(n, min(PROBES, n), replace=False)
    exact_other = _exact_other(vectors, own)
    for value in values:
        set_knob(index, knob, value)
        recall = min(recall_at_1(index, queries, exact), recall_of_others(index, vectors, own, exact_other))
        if recall >= RECALL_TARGET:
            break
    info = {"type": "hnsw" if kind == "hnsw" else "ivf", "metric": "inner_product", knob: value,
            "recall_at_1": round(recall, 4), "recall_probes": len(queries) + len(own)}
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


def recall_at_1(index: faiss.Index, queries: np.ndarray, exact: np.ndarray) -> float:
    """Share of queries whose approximate nearest neighbour is as close as the exact one."""
    found, _ = index.search(queries, 1)
    return float(np.mean(found[:, 0] >= exact - 1e-5))


def recall_of_others(index: faiss.Index, vectors: np.ndarray, own: np.ndarray, exact: np.ndarray) -> float:
    """Share of training prompts ``own`` whose nearest other prompt the index finds as close as the
    exact one (the prompt itself left out, as a new prompt has no copy in the index)."""
    sims, ids = index.search(vectors[own], 2)
    best = np.where(ids[:, 0] == own, sims[:, 1], sims[:, 0])
    return float(np.mean(best >= exact - 1e-5))


def _exact_other(vectors: np.ndarray, own: np.ndarray) -> np.ndarray:
    """Each of ``own``'s cosine to its nearest other training vector."""
    flat = faiss.IndexFlatIP(vectors.shape[1])
    flat.add(vectors)
    sims, ids = flat.search(vectors[own], 2)
    return np.where(ids[:, 0] == own, sims[:, 1], sims[:, 0])


def _exact_top1(vectors: np.ndarray, queries: np.ndarray) -> np.ndarray:
    flat = faiss.IndexFlatIP(vectors.shape[1])
    flat.add(vectors)
    return flat.search(queries, 1)[0][:, 0]


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
