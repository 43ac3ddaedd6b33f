"""``PromptIndex``: the training prompts, embedded into FAISS, with a manifest that says what they are.

An index folder (``indexes/NAME/``) holds:

* ``index.faiss``: the vectors (FAISS's own format, no pickle);
* ``prompts.parquet``: id, text and label of every training prompt, in index order;
* ``calibration.npy``: sorted novelty scores of held-out training prompts (loaded without pickle);
* ``manifest.json``: model, dimension, counts, scorer, calibration and the sha256 of each file,
  checked on every load so a tampered or half-written index is refused;
* ``model/`` (``--adapt`` only): the fine-tuned sentence-transformer, a plain sentence-transformers
  folder addressed relative to the index (so the folder can move); its weights are checked through the
  fingerprint in the manifest's model revision, and its ONNX exports are cached inside it.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import re
import shlex
import shutil
import sys
import tempfile
import time
import warnings
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterator, Sequence

import faiss
import numpy as np
import pandas as pd

from . import __version__, ann
from .adapt import AdaptOptions, calibration_slice, check_adaptable, fine_tune, options_record
from .embed import (DEFAULT_BACKEND, DEFAULT_MODEL, DEFAULT_POOLING, POOLINGS, Embedder, ReadingLimit, load_embedder,
                    model_fingerprint, reading_limit, resolve_model_path)
from .errors import IncompatibleError, IndexFileError, InputError, NoveltyError, NoveltyWarning, check_argument
from .logs import (MAX_CHARS, Columns, Reject, bare_name, current_umask, header_names, is_blank, is_utf8,
                   label_form, log_columns, read_batches)
from .queue import CSV_COLUMNS, unescaped
from .scoring import (FOLDS, MAX_CALIBRATION, MIN_CALIBRATION, BaseScorer, Calibration, calibrate,
                      check_reachable, default_scorer, fully_labelled, make_scorer)
from .store import stored_vectors, utc_now

DEFAULT_INDEX_DIR = "indexes"
FILES = ("index.faiss", "prompts.parquet", "calibration.npy", "scorer.npz")
MODEL_FOLDER = "model"  # the adapted encoder, inside the index folder
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
Progress = Callable[[int], None]
EmbedFn = Callable[[Embedder, Sequence[str], "Progress | None"], np.ndarray]


def index_dir_default() -> Path:
    return Path(os.environ.get("NOVELTY_INDEX_DIR", DEFAULT_INDEX_DIR)).expanduser()  # '~/indexes' in a crontab


SHOWN_NEIGHBORS = 3  # neighbours kept with each scored prompt


@dataclass(frozen=True)
class Assessment:
    """What the index says about embedded prompts: k neighbours (similarities, positions in the
    index), novelty, conformal p-value and the verdict at alpha."""
    similarities: np.ndarray
    positions: np.ndarray
    novelty: np.ndarray
    p_values: np.ndarray
    is_novel: np.ndarray


def label_text(value) -> str | None:
    """A training label as compared and reported: text (normalised as ``logs.label_form``: an index built
    before labels were, keeps 'cafe\\u0301' in its files), or None for an unlabelled prompt."""
    return None if value is None or (isinstance(value, float) and np.isnan(value)) else label_form(str(value))


@dataclass(frozen=True)
class TrainingRows:
    ids: list[str]
    texts: list[str]
    labels: list[str | None]
    rejects: list[Reject]
    duplicates: int
    renamed: dict[int, str] = field(default_factory=dict)  # position -> id as given, taken before: kept as id@file:line
    from_queue: bool = False  # a queue export (its columns): prompts picked for being novel

    @property
    def renamed_ids(self) -> int:
        return len(self.renamed)


TRAINING_COLUMNS = Columns(text="text", time=None, label="label", id="id")  # what build and add read by default


def training_columns(columns: Columns, source) -> Columns:
    """``columns`` for a training file: a role left at score's default (``Columns(text='text')`` has
    label 'predicted_label') that the file lacks is read from the training default when the file has
    that (QA: build refused 'no column predicted_label', a column the caller never named)."""
    scoring = Columns()
    if all(getattr(columns, role) != getattr(scoring, role) for role in ("text", "label", "id")):
        return columns  # nothing that could be swapped: the header is not read
    try:
        header = header_names(Path(source))
    except (TypeError, ValueError):
        return columns
    # a role at score's default the file lacks is the training default's, whether the file has that
    # or not (re-test: a file of text and intent failed on 'no column predicted_label' still; with the
    # training default, its missing label is said as build says it, the column 'intent' named)
    spelt = {bare_name(h) for h in header}  # 'Predicted Label' is predicted_label, as Columns.matching reads it
    swapped = {role: getattr(TRAINING_COLUMNS, role) for role in ("text", "label", "id")
               if role not in columns.required  # named on purpose (the CLI's --text-col prompt): it must exist
               and getattr(columns, role) == getattr(scoring, role) != getattr(TRAINING_COLUMNS, role)
               # the training default when the file has it (a file of 'label' and 'Predicted Label' is
               # learnt from its labels, not the model's predictions: review), or lacks score's
               and (bare_name(getattr(TRAINING_COLUMNS, role)) in spelt or bare_name(getattr(columns, role)) not in spelt)}
    return (replace(columns, **swapped) if swapped else columns).matching(header)  # 'Predicted Label' as spelt


def scorer_fallback(built: "PromptIndex") -> dict | None:
    """{scorer, reason, unlabelled} when the default scorer gave way to knn: a prompt without a label,
    or one label only; None when it did not."""
    if built.manifest["scorer"]["name"] == "ensemble":
        return None
    unlabelled = sum(not isinstance(label, str) for label in built.labels)
    why = (f"{unlabelled:,} prompt{' has' if unlabelled == 1 else 's have'} no label" if unlabelled
           else "the prompts carry one label only")
    return {"scorer": built.manifest["scorer"]["name"], "reason": why, "unlabelled": unlabelled}


def label_column_hint(path, label_col: str | None) -> str:
    """' Is the label column ...?' when the file has a column named like one (a file labelled in
    'intent' built a label-less index, saying only that the prompts had none)."""
    try:
        names = sorted(str(c) for c in log_columns(Path(path)))
    except (NoveltyError, TypeError, ValueError):
        return ""
    like = next((c for c in names if c != label_col and re.search(r"intent|label|class|category|topic", c, re.I)),
                None)
    return f" Is the label column {like!r}? Pass --label-col {shlex.quote(like)}." if like else ""


def fallback_note(built: "PromptIndex", source, label_col: str | None) -> str | None:
    """What to say when the default scorer gave way (``scorer_fallback``), or None."""
    fallback = scorer_fallback(built)
    if fallback is None:
        return None
    hint = label_column_hint(source, label_col) if fallback["unlabelled"] == len(built.labels) else ""
    return (f"Not the ensemble (the default, which ranks new topics better): {fallback['reason']}; label every "
            f"prompt with at least two labels for it.{hint}")


def _check_arguments(source=None, columns=None, alpha=0.05) -> None:
    """Library calls with the wrong kind of argument get an InputError that says what to pass (a
    DataFrame as the source, a string as the columns, alpha as text were TypeErrors from deep inside)."""
    if not isinstance(source, (str, Path)):
        raise InputError(f"the training prompts are a file path (CSV, JSONL or Parquet), not {type(source).__name__}"
                         + ("; write the DataFrame with to_csv or to_parquet first" if hasattr(source, "to_csv")
                            else ""))
    if not isinstance(columns, Columns):
        raise InputError("columns is a novelty.logs.Columns, e.g. Columns(text='text', label='intent', time=None), "
                         f"not {type(columns).__name__}")
    check_argument("alpha", alpha, float, "a number between 0 and 1, such as 0.05")  # numpy's floats too


def read_training(path: str | Path, columns: Columns, taken: set[str] = frozenset()) -> TrainingRows:
    """All valid rows of a training file, exact (text, label) duplicates skipped and counted. An id
    seen before (in the file, or in ``taken``) becomes ``id@file:line``: every stored id names one
    prompt, so a score's ``nearest_id`` is never ambiguous."""
    ids, texts, labels, rejects, seen, duplicates, renamed = [], [], [], [], set(), 0, {}
    used = set(taken)
    # a queue export (written with --escape-formulas for people, then labelled and added: the index learnt
    # "'=1+2 ..." and the label "'=evil", re-test) is read as before its escape; any other file as written
    # ("'@here' notifications ..." is a prompt: review)
    escaped = set(CSV_COLUMNS) <= header_names(Path(path))  # its columns, others added by a labeller too
    plain = unescaped if escaped else (lambda value: value)
    # index build has no --max-chars: score's limit holds, and the encoder reads only a prompt's start
    for batch in read_batches(path, columns, training=True,
                              too_long="(score's; the encoder reads only a prompt's start, 256 tokens for the "
                                       "default model: keep that part)"):
        rejects.extend(batch.rejects)
        for line, text, id_, label in zip(batch.lines, batch.texts, batch.ids, batch.labels):
            text, id_, label = plain(text), plain(id_), plain(label)
            if (text, label) in seen:
                duplicates += 1
                continue
            seen.add((text, label))
            where = f"{Path(path).name}:{line}"
            if id_ is None:  # derived from the file and line: another file of that name may have it
                id_ = where if where not in used else f"{where}@{len(used)}"
            elif id_ in used:
                renamed[len(ids)] = id_
                id_ = f"{id_}@{where}"
            used.add(id_)
            ids.append(id_)
            texts.append(text)
            labels.append(label)
    return TrainingRows(ids, texts, labels, rejects, duplicates, renamed, from_queue=escaped)


class PromptIndex:
    """Training prompts in FAISS plus the scorer and calibration that turn neighbours into p-values."""

    def __init__(self, path: Path, manifest: dict, index: faiss.Index, prompts: pd.DataFrame,
                 calibration: Calibration, scorer: BaseScorer):
        # absolute (not resolved: a symlinked folder keeps its name): an os.chdir later, in a notebook or
        # a service, no longer makes it name another folder
        self.path, self.manifest, self.index = Path(os.path.abspath(path)), manifest, index
        self.prompts, self.calibration, self.scorer = prompts, calibration, scorer
        self.ids = prompts["id"].astype(str).to_numpy(dtype=object)
        self.labels = prompts["label"].to_numpy(dtype=object)
        self._embedder: Embedder | None = None  # loaded by the first ``score``

    # -- facts ------------------------------------------------------------------------------------
    @property
    def name(self) -> str:
        """The folder's name: what ``--index`` and ``runs.index_name`` address it by (the manifest keeps
        the name it was built under; a copied or renamed folder was recorded under that one, and the
        report then looked for the old folder)."""
        return self.path.name  # the absolute folder's: `--index .` inside it gives its name, not ''

    @property
    def model(self) -> dict:
        return self.manifest["model"]

    @property
    def checksum(self) -> str:
        return self.manifest["checksum"]

    def __len__(self) -> int:
        return int(self.index.ntotal)

    def __repr__(self) -> str:  # what a notebook shows (QA: the default object repr said nothing)
        return (f"PromptIndex({self.name!r}, {len(self):,} prompts, {self.prompts['label'].dropna().nunique():,} labels, "
                f"model {self.model.get('name')!r}, scorer {self.scorer.name!r}, alpha {self.calibration.alpha:g})")

    def label_counts(self) -> dict[str, int]:
        return {str(k): int(v) for k, v in self.prompts["label"].dropna().map(label_text).value_counts().items()}

    def vectors(self) -> np.ndarray:
        return self.index.reconstruct_n(0, self.index.ntotal) if self.index.ntotal else \
            np.zeros((0, self.index.d), np.float32)

    @property
    def adapted(self) -> bool:
        return "folder" in self.model

    @property
    def model_name(self) -> str:
        """What loads this index's model: its name, or the adapted model's folder inside the index."""
        return str(self.path / self.model["folder"]) if self.adapted else self.model["name"]

    def reading_limit(self) -> "ReadingLimit | None":
        """How many tokens of a prompt this index's model reads (``embed.ReadingLimit``), or None."""
        return reading_limit(self.model_name)

    def embedder(self) -> Embedder:
        """The model this index was built with, checked to be the same weights."""
        name = self.model_name
        if self.adapted and not (self.path / self.model["folder"] / "modules.json").exists():
            raise IndexFileError(f"{self.path}: its adapted model folder {self.model['folder']!r} is missing; "
                                 "rebuild the index with --adapt")
        # (an index built before pooling was recorded has the model's own)
        embedder = load_embedder(name, backend=self.model.get("backend", "torch"),
                                 pooling=self.model.get("pooling", "model"))
        check_same_model(embedder, self.model, f"index {self.name!r}")
        return embedder

    # -- search and score -------------------------------------------------------------------------
    def search(self, vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        k = max(1, min(k, len(self)))
        return self.index.search(np.ascontiguousarray(vectors, dtype=np.float32), k)

    def calibration_at(self, alpha: float | None = None) -> Calibration:
        """The index's calibration, at another false-alarm target when ``alpha`` is given (checked to be
        one a p-value can reach)."""
        if alpha is None:
            return self.calibration
        calibration = Calibration(self.calibration.scores, alpha)
        check_reachable(alpha, len(calibration.scores))
        return calibration

    def assess(self, vectors: np.ndarray, calibration: Calibration | None = None,
               k: int = SHOWN_NEIGHBORS) -> Assessment:
        """Neighbours, novelty, p-value and verdict of embedded prompts (``score`` and the engines use it),
        against ``calibration`` (default: the index's own, see ``calibration_at``)."""
        calibration = self.calibration if calibration is None else calibration
        similarities, positions = self.search(vectors, max(k, self.scorer.k))
        novelty = self.scorer.score(similarities, positions, vectors)
        p_values = calibration.p_values(novelty)
        # float32 rounding puts a prompt's cosine to its own copy a hair over 1 (1.0000596): shown and
        # stored as the cosine it is; the scorer had the raw figures, as calibration did
        return Assessment(np.clip(similarities, -1.0, 1.0), positions, novelty, p_values,
                          calibration.is_novel(p_values))

    def score(self, texts: Sequence[str], alpha: float | None = None) -> list[dict]:
        """Score prompts in memory, without a log or a database: inside a service as each request
        arrives, or in a notebook. Each result has ``similarity`` (cosine to the nearest training
        prompt), ``novelty`` (higher = more novel), ``p_value``, ``is_novel`` (``p_value <= alpha``,
        the index's calibrated alpha unless given), ``nearest_id``, ``nearest_label`` and the
        ``neighbors`` shown by ``novelty score``: what ``score`` stores for the same text (exactly
        with an fp32 backend; with onnx-int8 a vector moves slightly with its batch, README
        "Speed choices").

        >>> index = PromptIndex.load("support-bot")                       # doctest: +SKIP
        >>> index.score(["can I pay in bitcoin?"])[0]["is_novel"]         # doctest: +SKIP
        True
        """
        if isinstance(texts, (str, bytes, dict)):
            raise InputError("PromptIndex.score takes a list of prompts, not one string or a dict: score([text])")
        if isinstance(texts, pd.DataFrame):  # iterated, a frame gives its column names: 'prompt' was scored
            raise InputError("PromptIndex.score takes a list or a column of prompts, not a DataFrame: "
                             "score(df['prompt'])")
        try:
            texts = [str(t) if isinstance(t, np.str_) else t for t in texts]
        except TypeError:
            raise InputError(f"PromptIndex.score takes a list of prompts, not {type(texts).__name__}") from None
        if alpha is not None:
            check_argument("alpha", alpha, float, "a number between 0 and 1, such as 0.05")
        for i, t in enumerate(texts):  # the rows novelty score would set aside are refused here
            if not isinstance(t, str) or is_blank(t):
                raise InputError(f"prompt {i} is {t!r}: every prompt must be non-empty text")
            if len(t) > MAX_CHARS:
                raise InputError(f"prompt {i} has {len(t):,} characters, over the {MAX_CHARS:,} that score reads")
            if not is_utf8(t):
                raise InputError(f"prompt {i} holds characters that are not valid UTF-8 (a lone surrogate)")
            if "\x00" in t:  # as score sets such a row aside
                raise InputError(f"prompt {i} holds a NUL character (binary data or a damaged line?)")
        if not texts:
            return []
        calibration = self.calibration_at(alpha)
        if self._embedder is None:
            self._embedder = self.embedder()
        vectors = stored_vectors(self._embedder.embed(texts))  # as score stores them: same figures
        found = self.assess(vectors, calibration)
        out = []
        for j, text in enumerate(texts):
            near = [(int(p), float(s)) for p, s in zip(found.positions[j, :SHOWN_NEIGHBORS],
                                                        found.similarities[j, :SHOWN_NEIGHBORS]) if p >= 0]
            out.append({"text": text, "similarity": near[0][1], "novelty": float(found.novelty[j]),
                        "p_value": float(found.p_values[j]), "is_novel": bool(found.is_novel[j]),
                        "nearest_id": self.ids[near[0][0]], "nearest_label": label_text(self.labels[near[0][0]]),
                        "neighbors": [{"id": self.ids[p], "label": label_text(self.labels[p]),
                                       "similarity": round(sim, 4)} for p, sim in near]})
        return out

    # -- build, add, load -------------------------------------------------------------------------
    @classmethod
    def build(cls, source: str | Path, name: str, *, index_dir: str | Path | None = None,
              columns: Columns = TRAINING_COLUMNS,
              model: str = DEFAULT_MODEL, backend: str = DEFAULT_BACKEND, pooling: str = DEFAULT_POOLING,
              alpha: float = 0.05, scorer: str | None = None, scorer_params: dict | None = None, index_type: str = "auto",
              force: bool = False, progress: Progress | None = None,
              embed: "EmbedFn | None" = None, adapt: "AdaptOptions | bool | None" = None) -> "PromptIndex":
        """Embed the training prompts of ``source`` and write ``index_dir/name``.

        ``embed(embedder, texts, progress)`` computes the vectors (default: here, in chunks; the Ray
        engine passes one that runs on a cluster). ``adapt`` (True or ``AdaptOptions``) first fine-tunes
        ``model`` on the labelled prompts, holding out a calibration slice (novelty/adapt.py); the tuned
        model keeps the pooling it was tuned with. ``pooling``: see novelty/embed.py.
        """
        _check_arguments(source=source, columns=columns, alpha=alpha)
        if not isinstance(name, str):
            raise InputError(f"name is the index's name as text, such as 'support-bot', not {type(name).__name__}")
        check_argument("force", force, bool, "True or False")  # force='no' replaced the index
        check_argument("model", model, str, f"a sentence-transformers model name or folder, such as {DEFAULT_MODEL!r}")
        if pooling not in POOLINGS:
            raise InputError(f"pooling {pooling!r} is not one of {', '.join(POOLINGS)}")
        if index_type not in ann.INDEX_TYPES:  # before minutes of embedding, not after
            raise InputError(f"index type {index_type!r} is not one of {', '.join(ann.INDEX_TYPES)}")
        folder = check_target(name, index_dir, force)
        columns = training_columns(columns, source)
        rows = read_training(source, columns.named(TRAINING_COLUMNS, ("label", "id")))
        if not rows.texts:
            raise InputError(f"{source}: no usable training prompts ({len(rows.rejects)} rejected)")
        if len(rows.texts) < MIN_CALIBRATION + FOLDS:  # before the embedding, and before --k's check (one
            raise InputError(f"calibration needs at least {MIN_CALIBRATION + FOLDS} training prompts; "  # prompt:
                             f"{source} has {len(rows.texts)} usable ({len(rows.rejects)} rejected). Add more "
                             "labelled prompts.")  # 'give --k 1 or less' to --k 1)
        if not adapt and 0 < alpha < 1 and len(rows.texts) >= MIN_CALIBRATION + FOLDS:  # before the embedding
            check_reachable(alpha, min(len(rows.texts), MAX_CALIBRATION))  # (an adapted slice: checked later)
        scorer_asked, scorer = scorer, scorer or default_scorer(rows.labels)
        chosen = make_scorer(scorer, **(scorer_params or {}))
        # a calibration prompt is scored against the others of its folds; neighbours past them were
        # FAISS's empty slots, built silently (--k 100000 on 62 prompts)
        reference = len(rows.texts) * (FOLDS - 1) // FOLDS
        if getattr(chosen, "name", "") == "knn" and chosen.k > reference:
            raise InputError(f"--k {chosen.k} is more neighbours than the index can give: each calibration prompt "
                             f"is scored against {reference:,} others; give --k {max(1, reference)} or less")
        if chosen.needs_labels and not fully_labelled(rows.labels):
            by_label = getattr(chosen, "label_shrink", None) is not None  # --by-label: knn is refused with it
            raise InputError(f"scorer {scorer!r}{' (--by-label)' if by_label else ''} needs every training prompt "
                             f"labelled, with at least two labels (column {columns.label!r}); "
                             + ("label every prompt, or leave out --by-label" if by_label else "use --scorer knn"))
        prompts = pd.DataFrame({"id": rows.ids, "text": rows.texts, "label": rows.labels})
        if isinstance(model, str) and not model.startswith("hashing:") and Path(model).expanduser().is_dir():
            model = str(Path(model).expanduser().resolve())  # a folder named from here: found from any folder
        if adapt:
            if embed is not None:
                raise InputError("--adapt fine-tunes and embeds on this machine; build it with --engine local")
            return _build_adapted(folder, source, name, rows, prompts, model, backend, alpha, chosen,
                                  index_type, progress, adapt if isinstance(adapt, AdaptOptions) else AdaptOptions(),
                                  force)
        embedder = load_embedder(model, backend=backend, pooling=pooling)
        vectors = (embed or embed_in_chunks)(embedder, rows.texts, progress)
        manifest = _manifest(name, {"name": model}, embedder, index_type, chosen, source, rows)
        built = _write_built(folder, force, manifest, vectors, prompts, alpha, rows.rejects)
        note = fallback_note(built, source, columns.label) if scorer_asked is None else None
        if note:  # the CLI prints it; a library caller is told too (QA: a notebook got knn without a word)
            warnings.warn(note, NoveltyWarning, stacklevel=2)
        return built

    def add(self, source: str | Path, columns: Columns = TRAINING_COLUMNS,
            progress: Progress | None = None, reference_only: bool | None = None) -> "AddResult":
        """Append labelled prompts not already in the index, then recalibrate.

        ``reference_only``: the prompts join the index, not its calibration (prompts picked for looking
        novel, as queue items are, raised the threshold add after add); None: so for a queue export (a
        file with its CSV columns), not for another file.

        A row with the id and text of a prompt already in the index but another label corrects that
        prompt's label (a relabelled queue item) instead of adding the text a second time. Adds to one
        index wait for each other, each adding to what the one before it wrote."""
        _check_arguments(source=source, columns=columns)
        if reference_only is False and self.adapted:  # its calibration is its held-out slice alone (review)
            raise InputError(f"index {self.name!r} has an adapted encoder, calibrated on a slice held out of its "
                             "tuning: prompts added to it are reference only (leave out --calibrate)")
        with writer_lock(self.path):
            self._catch_up()
            return self._add(source, columns, progress, reference_only)

    def _catch_up(self) -> None:
        """Reload the index when another process has written it since this one was loaded (four
        simultaneous adds of 30 prompts each left 90 of 180: the last one written won)."""
        try:
            written = json.loads((self.path / "manifest.json").read_text()).get("manifest_checksum")
        except (OSError, ValueError):
            written = None  # gone or damaged: load says which
        # the manifest's own checksum, not the data files': a rebuild of the same prompts at another alpha
        # keeps every file (and `checksum`), and an add here wrote the old alpha back over it (review)
        if written is None or written != self.manifest.get("manifest_checksum"):
            self.__dict__.update(PromptIndex.load(self.path).__dict__)

    def _add(self, source: str | Path, columns: Columns, progress: Progress | None,
             reference_only: bool | None = None) -> "AddResult":
        _check_replaceable(self.path)  # before the file is read and embedded
        columns = training_columns(columns, source)
        rows = read_training(source, columns.named(TRAINING_COLUMNS, ("label", "id")), taken=set(self.ids))
        if self.scorer.needs_labels and any(label is None for label in rows.labels):
            missing = sum(label is None for label in rows.labels)
            what = (f"no label in any row (is the column called {columns.label!r}? set --label-col)"
                    if missing == len(rows.labels) else f"{missing:,} prompts without one (column {columns.label!r})")
            raise InputError(f"index {self.name!r} uses the {self.scorer.name} scorer, which needs a label "
                             f"for every prompt; {source} has {what}")
        position = {pid: p for p, pid in enumerate(self.prompts["id"])}
        texts, labels = list(self.prompts["text"]), [label_text(v) for v in self.prompts["label"]]
        if columns.label and rows.texts and all(label is None for label in rows.labels) \
                and any(label is not None for label in labels):  # (--label-col '' adds them unlabelled on purpose)
            # a file whose label column is named otherwise: added without labels, said as '0 rejected' (QA)
            raise InputError(f"{source} has no label in any row (column {columns.label!r}; columns found: "
                             f"{', '.join(sorted(map(str, log_columns(Path(source))))) or 'none'}), and index "
                             f"{self.name!r} holds labelled prompts: name the label column with --label-col "
                             "(--label-col '' adds them without labels)")
        same = {i: position[given] for i, given in rows.renamed.items()  # the id and text of a stored prompt
                if given in position and texts[position[given]] == rows.texts[i]}
        corrected = {p: rows.labels[i] for i, p in same.items() if labels[p] != rows.labels[i]}
        relabelled = {i for i, p in same.items() if p in corrected}
        known = set(zip(texts, labels))
        fresh = [i for i, pair in enumerate(zip(rows.texts, rows.labels))
                 if pair not in known and i not in relabelled]
        if fresh or corrected:  # checked before the file is embedded: a large add was embedded, then refused
            after = [corrected.get(p, label) for p, label in enumerate(labels)] + [rows.labels[i] for i in fresh]
            if self.scorer.needs_labels and not fully_labelled(after):  # as build refuses it (QA: relabelled to
                # one label, the ensemble kept a one-class logistic regression, unlike a build of the same data)
                raise InputError(f"after this add index {self.name!r} would hold a single label "
                                 f"({sorted(set(after))[0]!r}), and its {self.scorer.name} scorer needs two or more; "
                                 "rebuild it with --scorer knn, or add prompts of another label")
            vectors = embed_in_chunks(self.embedder(), [rows.texts[i] for i in fresh], progress) if fresh else \
                np.zeros((0, self.model["dimension"]), np.float32)
            prompts = self.prompts.copy()
            prompts.loc[list(corrected), "label"] = list(corrected.values())
            added = pd.DataFrame({"id": [rows.ids[i] for i in fresh],
                                  "text": [rows.texts[i] for i in fresh],
                                  "label": [rows.labels[i] for i in fresh]})
            reference = rows.from_queue if reference_only is None else bool(reference_only)
            if reference or "calibration" in prompts:  # queue picks, picked for looking novel, each look novel
                if "calibration" not in prompts:       # scored held out: as calibration they raised the threshold
                    prompts["calibration"] = True      # add after add, known traffic flagged at 0.6 % for alpha
                # 0.05 (QA); an adapted index's held-out slice stays as it is, its new prompts reference
                added["calibration"] = not reference and not self.adapted
            was = self.manifest["training"]  # the counts of every file read, the build's and each add's
            manifest = dict(self.manifest, training=dict(
                was, sources=was["sources"] + [str(source)],
                duplicates_skipped=was.get("duplicates_skipped", 0) + rows.duplicates,
                ids_renamed=was.get("ids_renamed", 0) + sum(i in rows.renamed for i in fresh)))  # (a relabel keeps its id)
            updated = _write(self.path, manifest, np.vstack([self.vectors(), vectors]),
                             pd.concat([prompts, added], ignore_index=True),
                             self.calibration.alpha,
                             self._rejects_with(rows.rejects), self.path / MODEL_FOLDER if self.adapted else None)
            self.__dict__.update(updated.__dict__)
        elif rows.rejects:  # nothing to add, but the rows set aside keep their reasons (they were lost)
            _write_rejects(_pointed_to(self.path), self._rejects_with(rows.rejects))
        touched = {rows.texts[i] for i in fresh} | {texts[p] for p in corrected}
        conflicts = _several_labels(list(self.prompts["text"]), [label_text(v) for v in self.prompts["label"]],
                                    touched) if touched else []  # one pass over the index, only after a change
        return AddResult(added=len(fresh), already_present=len(rows.texts) - len(fresh) - len(relabelled),
                         rejected=len(rows.rejects), total=len(self),
                         ids_renamed=sum(i in rows.renamed for i in fresh), relabelled=len(corrected),
                         duplicates=rows.duplicates, several_labels=conflicts[:5], several_labels_count=len(conflicts),
                         first_reject=(f"{Path(rows.rejects[0].source).name} line {rows.rejects[0].line}: "
                                       f"{rows.rejects[0].reason}") if rows.rejects else None)

    def _rejects_with(self, new: list[Reject]) -> list[Reject]:
        """The rows set aside so far and ``new`` ones, once each by file and line (a rerun of an add)."""
        return list({(r.source, r.line): r for r in self.rejected_rows() + new}.values())

    def rejected_rows(self) -> list[Reject]:
        """The training rows set aside so far (by the build and earlier adds), kept across an add."""
        path = self.path / "rejects.jsonl"
        if not path.is_file():
            return []
        return [Reject(**json.loads(line)) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]

    @classmethod
    def load(cls, name: str | Path, index_dir: str | Path | None = None) -> "PromptIndex":
        """Load by name from ``index_dir`` (or by folder path), verifying every checksum."""
        if not isinstance(name, (str, Path)):
            raise InputError(f"PromptIndex.load takes an index name or folder, not {type(name).__name__}")
        folder = Path(name) if Path(name).is_dir() and not _NAME.match(str(name)) else \
            _folder(str(name), index_dir)
        for attempt in range(_LOAD_ATTEMPTS):  # a build --force or an add swapping the folder in meanwhile
            before = _identity(folder)
            try:
                return cls._load_folder(folder, name)
            except PermissionError as exc:  # (novelty run: 'a bug?' and a traceback, QA)
                raise IndexFileError(f"{folder}: this user may not read {exc.filename or 'its files'} (permission "
                                     "denied); give read access to the user novelty runs as") from None
            except (IndexFileError, FileNotFoundError) as exc:
                swapping = _identity(folder) != before or (
                    bool(folder.name) and folder.with_name(f".{folder.name}.old").exists())
                if attempt + 1 == _LOAD_ATTEMPTS or not swapping:
                    if isinstance(exc, FileNotFoundError):
                        raise IndexFileError(f"{folder}: {exc.strerror or exc} ({exc.filename}); is another "
                                             "process writing it? Else rebuild the index") from None
                    raise
                time.sleep(0.1 * (attempt + 1))

    @classmethod
    def _load_folder(cls, folder: Path, name) -> "PromptIndex":
        manifest_path = folder / "manifest.json"
        old = folder.with_name(f".{folder.name}.old") if folder.name else folder
        if not folder.exists() and (old / "manifest.json").is_file():  # a write killed between its two renames
            try:  # (or one swapping right now: the lock waits for it, and then there is nothing to put back)
                with writer_lock(folder):
                    restore_swapped(folder)
            except OSError:  # a folder this user may not write
                raise IndexFileError(f"no index {str(name)!r} in {folder.parent}, but its previous version is in "
                                     f"{old}: a build or add was stopped as it swapped the new one in; put it back "
                                     f"with: mv {old} {folder}") from None
        if not manifest_path.exists():
            raise IndexFileError(f"no index {str(name)!r} in {folder.parent} (no {manifest_path}); "
                                 "build one with `novelty index build FILE --name NAME`")
        try:
            manifest = json.loads(manifest_path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise IndexFileError(f"{manifest_path} is not valid JSON ({exc})") from None
        if not isinstance(manifest, dict):
            raise IndexFileError(f"{manifest_path} is not an index manifest")
        _verify(folder, manifest)
        try:
            return cls._read(folder, manifest)
        except NoveltyError:
            raise
        except Exception as exc:  # checksums match, yet the files do not make an index: forged or foreign
            raise IndexFileError(f"{folder}: its files do not form a usable index ({type(exc).__name__}: "
                                 f"{exc}); rebuild it with `novelty index build`") from None

    @classmethod
    def _read(cls, folder: Path, manifest: dict) -> "PromptIndex":
        index = ann.prepare(faiss.read_index(str(folder / "index.faiss")), manifest["index"])
        if index.d != manifest["model"]["dimension"]:
            raise IndexFileError(f"{folder}: index.faiss has dimension {index.d}, the manifest "
                                 f"says {manifest['model']['dimension']}")
        scores = np.load(folder / "calibration.npy", allow_pickle=False)  # never pickle: see module doc
        calibration = Calibration(scores, manifest["calibration"]["alpha"], manifest["calibration"]["method"])
        prompts = pd.read_parquet(folder / "prompts.parquet")
        with np.load(folder / "scorer.npz", allow_pickle=False) as state:
            scorer = make_scorer(manifest["scorer"]["name"], **manifest["scorer"]["params"]).load_state(
                dict(state), list(prompts["label"]))
        _check_figures(folder, manifest, index.ntotal, prompts, calibration)
        return cls(folder, manifest, index, prompts, calibration, scorer)


_LOAD_ATTEMPTS = 5


def _check_figures(folder: Path, manifest: dict, vectors: int, prompts: pd.DataFrame, calibration) -> None:
    """The manifest's figures against the files (cheap, once they are read): a manifest without its
    checksum (an index from before it, or one whose checksum was deleted with an edit) showed edited
    counts and a threshold `score` does not use as '(files verified)'."""
    said = {"prompts": manifest["index"].get("count"), "vectors": manifest["index"].get("count"),
            "labels": manifest["training"].get("labels"), "threshold": manifest["calibration"].get("threshold")}
    held = {"prompts": len(prompts), "vectors": vectors, "labels": int(prompts["label"].dropna().nunique()),
            "threshold": calibration.threshold}
    for what, value in said.items():
        same = value == held[what] or (what == "threshold" and isinstance(value, (int, float))
                                       and np.isclose(value, held[what], rtol=1e-6, atol=1e-9))
        if value is not None and not same:
            raise IndexFileError(f"{folder}/manifest.json says {what} {value}, its files {held[what]}: edited or "
                                 "damaged since it was built; rebuild the index")


def _identity(folder: Path) -> tuple | None:
    """The folder as it is now (a swap replaces it with another), or None when there is none."""
    try:
        stat = folder.stat()
        return stat.st_ino, stat.st_dev, stat.st_mtime_ns
    except OSError:
        return None


def _several_labels(texts: list[str], labels: list[str | None], touched: set[str]) -> list[dict]:
    """The texts of ``touched`` that ``texts`` holds with more than one label."""
    seen: dict[str, set[str]] = {}
    for text, label in zip(texts, labels):
        if text in touched and label is not None:
            seen.setdefault(text, set()).add(label)
    return [{"text": t, "labels": sorted(ls)} for t, ls in seen.items() if len(ls) > 1]


@dataclass(frozen=True)
class AddResult:
    added: int
    already_present: int
    rejected: int
    total: int
    ids_renamed: int = 0
    relabelled: int = 0    # prompts already in the index (same id and text) whose label the file corrected
    duplicates: int = 0    # rows repeating an earlier row of the file (text and label): skipped
    several_labels: list[dict] = field(default_factory=list)  # texts added that the index now holds with
    # more than one label (label noise the model cannot learn): {"text", "labels"}, at most 5
    several_labels_count: int = 0
    first_reject: str | None = None  # 'file line N: why', the first row set aside (all: rejects.jsonl)

    def to_dict(self) -> dict:
        """As ``--json`` prints it."""
        return asdict(self)


def check_same_model(embedder: Embedder, model: dict, what: str) -> None:
    if embedder.dimension != model["dimension"] or embedder.revision != model["revision"]:
        raise IncompatibleError(
            f"{what} was built with model {model['name']!r} (revision {model['revision']}, dimension "
            f"{model['dimension']}), but that name now loads revision {embedder.revision}, dimension "
            f"{embedder.dimension}. Rebuild the index with this model, or restore the original one.")


def embed_in_chunks(embedder: Embedder, texts: Sequence[str], progress: Progress | None = None,
                    chunk: int = 1024) -> np.ndarray:
    parts = []
    for start in range(0, len(texts), chunk):
        parts.append(embedder.embed(texts[start:start + chunk]))
        if progress:
            progress(len(parts[-1]))
    return np.vstack(parts) if parts else np.zeros((0, embedder.dimension), np.float32)


def _check_writable(parent: Path) -> None:
    """The index folder's parent can take a new folder: found out before minutes of embedding."""
    try:
        parent.mkdir(parents=True, exist_ok=True)
        os.rmdir(tempfile.mkdtemp(prefix=".novelty-write-test.", dir=parent))
    except OSError as exc:
        raise InputError(f"--index-dir {parent}: cannot write an index there "
                         f"({exc.strerror or type(exc).__name__})") from None


def _check_replaceable(folder: Path) -> None:
    """This user can swap the index in ``folder`` for an updated one: its parent takes a new folder, and
    the old folder's files can go. QA as another user, a folder of mode 555: the add swapped the new
    index in, could not remove the old one, said 'index.faiss: Permission denied' (exit 2), and every
    later add failed so, each leaving a copy of the index behind."""
    target = _pointed_to(folder)
    _check_writable(target.parent)
    for inside in (target, target / MODEL_FOLDER):
        if inside.is_dir() and not inside.is_symlink() and not os.access(inside, os.W_OK | os.X_OK):
            raise IndexFileError(f"{inside}: this user may not write this folder of the index, so cannot replace "
                                 "the index with an updated one (nothing was changed): run as the folder's owner, "
                                 "or have it given to this user")


def check_target(name: str, index_dir: str | Path | None, force: bool) -> Path:
    """The folder ``index build`` writes, or an InputError saying why it cannot (before any work)."""
    folder = _folder(name, index_dir)
    if folder.exists() and not (folder / "manifest.json").is_file():  # --force replaces indexes only
        raise InputError(f"{folder} exists and is not an index (no manifest.json): choose another --name "
                         "or --index-dir; nothing was changed")
    if folder.exists() and not force:
        raise InputError(f"index {name!r} already exists in {folder.parent}; use `novelty index "
                         "add` to append prompts, or --force to rebuild it")
    _check_replaceable(folder)
    return folder


def _folder(name: str, index_dir: str | Path | None) -> Path:
    if index_dir is not None:
        check_argument("index_dir", index_dir, (str, Path), "the folder of the indexes, such as 'indexes'")
    check_index_name(name)
    return Path(index_dir or index_dir_default()) / name


def check_index_name(name: str) -> None:
    """An InputError unless ``name`` can be an index's folder name (``init`` checks it as build does)."""
    if not _NAME.match(name):
        raise InputError(f"index name {name!r} must start with an ASCII letter or digit, then ASCII letters, "
                         "digits, '.', '_' or '-', at most 100 (it becomes a folder name)")


def _write_rejects(folder: Path, rejects: list[Reject]) -> None:
    """rejects.jsonl in ``folder``, written whole under a temporary name and renamed into place."""
    temporary = folder / "rejects.jsonl.tmp"
    temporary.write_text("".join(json.dumps(r.__dict__, ensure_ascii=False) + "\n" for r in rejects), encoding="utf-8")
    os.replace(temporary, folder / "rejects.jsonl")


def _write(folder: Path, manifest: dict, vectors: np.ndarray, prompts: pd.DataFrame, alpha: float,
           rejects: list[Reject], model: Path | None = None) -> PromptIndex:
    """Write every file into a fresh folder, then swap it in: a crash never leaves half an index.

    ``model`` (an adapted encoder's folder) is linked in as ``model/``; the prompts' ``calibration``
    column, when present, names the held-out slice the calibration must use.
    """
    scorer = make_scorer(manifest["scorer"]["name"], **manifest["scorer"]["params"])
    held_out = np.flatnonzero(prompts["calibration"].to_numpy(bool)) if "calibration" in prompts else None
    calibration = calibrate(scorer, vectors, list(prompts["label"]), alpha, held_out=held_out,
                            texts=list(prompts["text"]), adapted=model is not None)
    folder.parent.mkdir(parents=True, exist_ok=True)
    live = folder  # a symlinked index is written where it points, and keeps its link (the link itself was
    folder = _pointed_to(folder)  # swapped for a folder, then every write failed)
    sweep_staging(folder)
    staging = staging_dir(folder)
    try:
        if model is not None:  # hard links: no copy of the weights, and the live index is left untouched
            shutil.copytree(model, staging / MODEL_FOLDER, copy_function=os.link)
        index, chosen = ann.build(vectors, manifest["index"].get("requested", "auto"), k=scorer.k)
        faiss.write_index(index, str(staging / "index.faiss"))
        prompts.to_parquet(staging / "prompts.parquet", index=False)
        np.save(staging / "calibration.npy", calibration.scores, allow_pickle=False)
        np.savez(staging / "scorer.npz", **scorer.state())
        if rejects:
            _write_rejects(staging, rejects)
        files = {f: _sha256(staging / f) for f in FILES}
        labels = prompts["label"].dropna()
        manifest = dict(manifest, updated_at=utc_now(), files=files,
                        checksum="sha256:" + hashlib.sha256(json.dumps(files, sort_keys=True).encode())
                        .hexdigest()[:16],
                        calibration=calibration.summary())
        manifest["index"] = dict(chosen, requested=manifest["index"].get("requested", "auto"), count=len(prompts))
        training = {k: v for k, v in manifest["training"].items()
                    if k not in ("several_labels", "several_labels_examples", "label_variants")}
        manifest["training"] = dict(training, rows=len(prompts), labels=int(labels.nunique()), rejected=len(rejects),
                                    fingerprint=_fingerprint(prompts), **_conflicts(prompts))
        if model is not None:  # the exported ONNX files the encoder runs: they derive from the weights, but
            onnx = staging / MODEL_FOLDER / "onnx"  # an edited one would change every vector unnoticed
            manifest["model"] = dict(manifest["model"], onnx={
                f.relative_to(staging).as_posix(): _sha256(f) for f in sorted(onnx.glob("*.onnx"))})
        manifest.pop("manifest_checksum", None)
        manifest["manifest_checksum"] = _manifest_checksum(manifest)
        (staging / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    except BaseException as exc:  # a full disk (faiss raised it as a RuntimeError: a traceback, exit 3) or a
        shutil.rmtree(staging, ignore_errors=True)  # kill: the half-written folder goes, the live index stays
        if isinstance(exc, OSError) or (isinstance(exc, RuntimeError) and "write error" in str(exc)):
            why = re.search(r"\(([^()]*)\)\s*$", str(exc)) if isinstance(exc, RuntimeError) else None
            reason = why[1] if why else getattr(exc, "strerror", None) or str(exc)
            full = "space" in reason.lower() or "too large" in reason.lower() or "quota" in reason.lower()
            raise IndexFileError(f"{folder}: cannot write the index ({reason}); any index there is as it was"
                                 + (": free some disk space and run the same command again" if full else "")) \
                from None
        raise
    _swap(staging, folder)
    return PromptIndex(live, manifest, index, prompts, calibration, scorer)


def _manifest(name: str, model: dict, embedder: Embedder, index_type: str, scorer: BaseScorer, source,
              rows: "TrainingRows") -> dict:
    """What a new index records: ``model`` (name, and folder when adapted) completed from the embedder."""
    return {
        "format": 1, "name": name, "created_at": utc_now(), "novelty_version": __version__,
        "model": {**model, "backend": getattr(embedder, "backend", "none"),
                  **({"pooling": embedder.pooling} if hasattr(embedder, "pooling") else {}),  # (hashing has none)
                  "revision": embedder.revision, "dimension": embedder.dimension, "normalized": True},
        "index": {"requested": index_type},
        "scorer": {"name": scorer.name, "params": scorer.params()},
        "training": {"sources": [str(source)], "duplicates_skipped": rows.duplicates,
                     "ids_renamed": rows.renamed_ids},
    }


def _conflicts(prompts: pd.DataFrame) -> dict:
    """Texts the index holds with more than one label (index add said so; build did not), counted on
    the whole index each time it is written: an add that fixes a label clears them."""
    from collections import Counter

    from .queue import case_variants

    texts = list(prompts["text"])
    labels = [label_text(v) for v in prompts["label"]]
    conflicts = _several_labels(texts, labels, set(texts))
    # labels spelt alike but for case or separators ('Card', 'CARD', 'exchange rate' beside 'exchange_rate'):
    # each an intent of its own, unsaid
    variants = case_variants(Counter(label for label in labels if label is not None))
    return ({"several_labels": len(conflicts), "several_labels_examples": conflicts[:5]} if conflicts else {}) | \
        ({"label_variants": variants[:5], "label_variants_count": len(variants)} if variants else {})


def _build_adapted(folder: Path, source, name: str, rows: TrainingRows, prompts: pd.DataFrame, model: str,
                   backend: str, alpha: float, chosen: BaseScorer, index_type: str,
                   progress: Progress | None, options: AdaptOptions, force: bool = False) -> PromptIndex:
    """Fine-tune ``model`` on all prompts but a held-out slice, embed every prompt with the tuned model,
    calibrate on the slice (cross-fitted within it), and keep the slice in the index as reference
    prompts too (why, measured: README, "Adapting the encoder")."""
    check_adaptable(rows.labels, model, options)
    held_out = calibration_slice(rows.labels, options.held_out, options.seed, rows.texts)
    tuned = np.ones(len(rows.texts), dtype=bool)
    tuned[held_out] = False
    base = resolve_model_path(model)
    folder.parent.mkdir(parents=True, exist_ok=True)
    sweep_staging(folder)
    workdir = staging_dir(_pointed_to(folder), ".model")  # hard-linked in beside it
    try:
        stats = fine_tune(base, [rows.texts[i] for i in np.flatnonzero(tuned)],
                          [rows.labels[i] for i in np.flatnonzero(tuned)], workdir, options)
        started = time.perf_counter()
        embedder = load_embedder(str(workdir), backend=backend)  # exports ONNX into the folder, once
        plain_modes(workdir)  # sentence-transformers saves the weights 0600: no one else could score with them
        vectors = embed_in_chunks(embedder, rows.texts, progress)
        stats["embed_seconds"] = round(time.perf_counter() - started, 1)
        manifest = _manifest(name, {"name": f"{model} (adapted)", "folder": MODEL_FOLDER}, embedder, index_type,
                             chosen, source, rows)
        manifest["adapt"] = {"base": {"name": model, "revision": model_fingerprint(Path(base)) if Path(base).is_dir()
                                      else base}, **options_record(options), **stats,
                             "held_out_prompts": len(held_out)}
        return _write_built(folder, force, manifest, vectors, prompts.assign(calibration=~tuned), alpha,
                            rows.rejects, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


STALE_STAGING_SECONDS = 86_400


def _write_built(folder: Path, force: bool, *args) -> PromptIndex:
    """``_write`` of a build, under the writer lock, its target checked again there: another build of
    the name may have finished since the check before the embedding."""
    with writer_lock(folder):
        restore_swapped(folder)
        check_target(folder.name, folder.parent, force)
        return _write(folder, *args)


@contextmanager
def writer_lock(folder: Path, patience: float = 5.0) -> Iterator[None]:
    """Hold the lock every write of the index in ``folder`` holds (a hidden ``.NAME.lock`` file beside
    it): a second build or add waits for the first instead of overwriting what it wrote, and says on
    stderr that it waits when that takes more than ``patience`` seconds."""
    from filelock import FileLock, Timeout

    folder = _pointed_to(folder)  # one lock whatever name the index is written by
    folder.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(folder.parent / f".{folder.name}.lock")
    try:
        lock.acquire(timeout=patience)
    except Timeout:
        print(f"novelty: waiting for another build or add of index {folder.name!r} to finish (it holds "
              f"{lock.lock_file})", file=sys.stderr, flush=True)
        lock.acquire()
    try:
        yield
    finally:
        lock.release()


def staging_dir(folder: Path, kind: str = "") -> Path:
    """A fresh folder beside ``folder`` to write into before the swap, with the mode a plain mkdir
    gives (umask applied): mkdtemp's 0700 made every index unreadable to the service account that
    scores with it, when another user built it."""
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}{kind}.", dir=folder.parent))
    staging.chmod(0o777 & ~current_umask())
    return staging


def _pointed_to(folder: Path) -> Path:
    """The folder a symlinked index points to (where it is written and locked); any other as it is."""
    return folder.resolve() if folder.is_symlink() else folder


def plain_modes(folder: Path) -> None:
    """Give everything under ``folder`` the mode a plain mkdir or open gives (umask applied)."""
    umask = current_umask()
    for path in [folder, *folder.rglob("*")]:
        if not path.is_symlink():
            path.chmod((0o777 if path.is_dir() else 0o666) & ~umask)


def sweep_staging(folder: Path, older_than: float = STALE_STAGING_SECONDS) -> list[Path]:
    """Remove the hidden work folders (``.NAME.XXXX``, ``.NAME.model.XXXX``) that builds of this index
    killed outright (SIGKILL, power loss) left beside it; no command reads them, but an adapted
    encoder's weights make each one ~90 MB. Only those untouched for a day: a build of the same name
    running right now keeps its own."""
    cutoff, removed = time.time() - older_than, []
    for stale in folder.parent.glob(f".{glob.escape(folder.name)}.*"):
        if stale.is_dir() and not stale.is_symlink() and stale.stat().st_mtime < cutoff:
            shutil.rmtree(stale, ignore_errors=True)
            removed.append(stale)
    return removed


def restore_swapped(folder: Path) -> None:
    """Under the writer lock: put back the previous index a write killed between ``_swap``'s two renames
    left as ``.NAME.old`` with no ``NAME``."""
    target = _pointed_to(folder)
    old = target.with_name(f".{target.name}.old")
    if not target.exists() and not old.is_symlink() and (old / "manifest.json").is_file():
        old.rename(target)


def _swap(staging: Path, folder: Path) -> None:
    """Put ``staging`` in ``folder``'s place. Until the new index is in, a failure removes ``staging`` and
    leaves the index as it was; after, a previous version that cannot be removed stays hidden beside it
    (it was an error, exit 2, for an add that had been made)."""
    old = folder.with_name(f".{folder.name}.old")
    try:
        if old.is_symlink():  # left by a version that swapped a symlinked index's link away
            old.unlink()
        elif old.exists():
            shutil.rmtree(old)
        if folder.exists():
            folder.rename(old)
        staging.rename(folder)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        if not folder.exists() and old.is_dir():  # renamed away, the new one not in: the old one goes back
            old.rename(folder)
        raise IndexFileError(f"{folder}: cannot replace the index ({exc.strerror or exc}: {exc.filename}); it is "
                             "as it was") from None
    shutil.rmtree(old, ignore_errors=True)


def _manifest_checksum(manifest: dict) -> str:
    """sha256 of the manifest itself (all but this field): its alpha, threshold and counts are trusted."""
    body = {k: v for k, v in manifest.items() if k != "manifest_checksum"}
    return "sha256:" + hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def _verify(folder: Path, manifest: dict) -> None:
    expected = manifest.get("manifest_checksum")
    # indexes from before the manifest had a checksum have no `updated_at` either (both came in one change):
    # one with `updated_at` and no checksum was edited with the checksum deleted, and loaded unverified (review)
    if expected is None and "updated_at" in manifest:
        raise IndexFileError(f"{folder}/manifest.json has lost its checksum since the index was built, so "
                             "its settings cannot be trusted; rebuild the index")
    if expected is not None and expected != _manifest_checksum(manifest):
        raise IndexFileError(f"{folder}/manifest.json was changed since the index was built (its checksum "
                             "does not match); rebuild the index")
    files = manifest.get("files")
    # the list is checked first, so a forged manifest cannot point the hashing outside the folder
    if not isinstance(files, dict) or set(files) != set(FILES):
        raise IndexFileError(f"{folder}/manifest.json does not list the files of an index")
    for name, expected in files.items():
        path = folder / name
        if not path.exists():
            raise IndexFileError(f"{folder}: {name} is missing; rebuild the index")
        if not path.is_file():
            raise IndexFileError(f"{folder}: {name} is not a file; rebuild the index")
        if _sha256(path) != expected:
            raise IndexFileError(f"{folder}: {name} does not match the checksum in manifest.json "
                                 "(changed or damaged since it was built); rebuild the index")
    model = manifest.get("model") if isinstance(manifest.get("model"), dict) else {}
    if model.get("folder") == MODEL_FOLDER:
        _verify_model(folder, model)


def _verify_model(folder: Path, model: dict) -> None:
    """An adapted index's encoder: its weights by their fingerprint, and the ONNX exports it runs."""
    weights = folder / MODEL_FOLDER
    if not (weights / "modules.json").is_file():
        raise IndexFileError(f"{folder}: its adapted model folder {MODEL_FOLDER!r} is missing; rebuild the "
                             "index with --adapt")
    if model_fingerprint(weights) != str(model.get("revision", "")).split("+")[0]:
        raise IndexFileError(f"{folder}: the weights in {MODEL_FOLDER}/ changed since the index was built; "
                             "rebuild the index with --adapt")
    for name, expected in (model.get("onnx") or {}).items():
        path = folder / name
        if not name.startswith(f"{MODEL_FOLDER}/onnx/") or ".." in name:
            raise IndexFileError(f"{folder}/manifest.json lists an ONNX file outside {MODEL_FOLDER}/onnx/")
        if path.is_file() and _sha256(path) != expected:  # a missing export is made again from the weights
            raise IndexFileError(f"{folder}: {name} does not match its checksum in manifest.json (changed or "
                                 "damaged); delete it to export it again, or rebuild the index")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return "sha256:" + digest.hexdigest()


def _fingerprint(prompts: pd.DataFrame) -> str:
    """Order-independent hash of the (text, label) pairs: same data, same fingerprint."""
    rows = sorted(hashlib.sha256(f"{t}\x1f{l}".encode()).digest()
                  for t, l in zip(prompts["text"], prompts["label"]))
    return "sha256:" + hashlib.sha256(b"".join(rows)).hexdigest()[:16]
