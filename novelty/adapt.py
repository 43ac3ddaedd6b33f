"""Adapt the encoder to the training labels: ``novelty index build --adapt``.

The sentence-transformer is fine-tuned (torch, CPU) to sort the labelled training prompts into their
intents: a cosine classifier over its normalised embeddings (scale 20, cross-entropy), started from the
class means so the first steps do not scramble the geometry. Only the top ``layers`` transformer
layers (and the pooling on top) learn: the word embeddings and lower layers stay frozen, which measured
about three times faster per step than tuning everything and keeps the model's general knowledge of
text. The head is thrown away; the index keeps the tuned encoder, and the scorers (kNN, class top-k,
logistic regression) run on its vectors as on any other.

A stratified slice of the prompts is held out *before* tuning and never seen by it: the calibration
scores come from that slice, because prompts the encoder was trained on sit closer to their class than
new in-distribution traffic will, and calibrating on them would raise the false-alarm rate past alpha.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from .embed import load_error
from .errors import InputError
from .scoring import MIN_CALIBRATION, fully_labelled, stratified_folds

SCALE = 20.0       # logit scale of the cosine classifier (the measured probe's, see module doc)
HEAD_LR = 1e-3     # the head starts from class means and needs to move faster than the encoder


@dataclass(frozen=True)
class AdaptOptions:
    """How to fine-tune. ``max_prompts`` bounds the time (a stratified sample of the tuned part);
    ``held_out`` is the share of prompts kept out of tuning for calibration; ``layers`` the number
    of top transformer layers that learn (0 = all, embeddings included)."""

    epochs: int = 1
    max_prompts: int | None = None
    held_out: float = 0.2
    layers: int = 3
    batch_size: int = 32
    lr: float = 4e-5
    seed: int = 0

    def __post_init__(self):
        if self.epochs < 1 or self.batch_size < 2 or self.layers < 0 or not self.lr > 0:
            raise InputError("--adapt-epochs must be >= 1 and --adapt-layers >= 0")
        if not 0.05 <= self.held_out <= 0.5:
            raise InputError(f"the held-out calibration share must be between 0.05 and 0.5, not {self.held_out}")
        if self.max_prompts is not None and self.max_prompts < 2:
            raise InputError("--adapt-max-prompts must be at least 2")


def calibration_slice(labels: Sequence, share: float, seed: int, texts: Sequence[str] | None = None) -> np.ndarray:
    """Sorted positions of a stratified ``share`` of the prompts (each label split evenly); with
    ``texts``, the same prompts whatever their rows' order.

    >>> texts = [f"t{i}" for i in range(20)]
    >>> [texts[i] for i in calibration_slice(["a"] * 10 + ["b"] * 10, 0.2, 0, texts)]  # 2 of each label
    ['t4', 't6', 't11', 't13']
    """
    return stratified_folds(labels, max(2, round(1 / share)), len(labels), seed, texts)[0]


def check_adaptable(labels: Sequence, model: str, options: AdaptOptions) -> None:
    if not fully_labelled(labels):
        raise InputError("--adapt fine-tunes the encoder on the labels: every training prompt needs a label, "
                         "with at least two distinct labels (see --label-col)")
    if model.startswith("hashing:"):
        raise InputError("--adapt fine-tunes a sentence-transformers model; the hashing embedder has no weights")
    share = options.held_out
    if len(labels) * share < MIN_CALIBRATION:
        raise InputError(f"--adapt holds out {share:.0%} of the prompts for calibration, which must be at least "
                         f"{MIN_CALIBRATION}; {len(labels)} prompts are too few")
    distinct = len(set(map(str, labels)))
    if options.max_prompts is not None and options.max_prompts < distinct:  # some labels would go untuned
        raise InputError(f"--adapt-max-prompts {options.max_prompts} is below the {distinct} labels: "
                         "the tuning needs a prompt of each")


def fine_tune(base: str, texts: Sequence[str], labels: Sequence[str], out: Path,
              options: AdaptOptions = AdaptOptions()) -> dict:
    """Fine-tune the model at ``base`` on (text, label) pairs; save it as a sentence-transformers folder
    at ``out``. Returns what the manifest records (prompts, steps, loss, seconds)."""
    import torch
    from sentence_transformers import SentenceTransformer

    started, cpu = time.perf_counter(), time.process_time()
    texts, labels = _sample(list(texts), [str(x) for x in labels], options)
    torch.manual_seed(options.seed)
    try:
        model = SentenceTransformer(base, device="cpu")
    except Exception as exc:  # a missing or broken model: the same one line as without --adapt
        raise load_error(base, "torch", exc) from None
    _freeze(model, options.layers)
    classes, y = np.unique(np.asarray(labels, dtype=object), return_inverse=True)
    head = torch.nn.Parameter(_class_means(model, texts, y, len(classes)))
    optimiser = torch.optim.AdamW([{"params": [p for p in model.parameters() if p.requires_grad]},
                                   {"params": [head], "lr": HEAD_LR}], lr=options.lr, weight_decay=0.01)
    steps = options.epochs * math.ceil(len(texts) / options.batch_size)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimiser, _warmup_then_decay(steps))
    losses = _train(model, head, optimiser, schedule, texts, torch.as_tensor(y), options)
    model.eval()
    model.save(str(out), create_model_card=False)  # no model card: it would describe a hub upload
    return {"epochs": options.epochs, "layers": options.layers, "batch_size": options.batch_size,
            "lr": options.lr, "seed": options.seed, "tuned_prompts": len(texts), "labels": len(classes),
            "steps": steps, "first_epoch_loss": losses[0], "last_epoch_loss": losses[-1],
            "seconds": round(time.perf_counter() - started, 1),
            "cpu_seconds": round(time.process_time() - cpu, 1)}


def _sample(texts: list[str], labels: list[str], options: AdaptOptions) -> tuple[list[str], list[str]]:
    """At most ``max_prompts`` of the pairs, each label keeping its share, and every label at least one.

    >>> _, kept = _sample([f"t{i}" for i in range(101)], ["a"] * 100 + ["b"], AdaptOptions(max_prompts=10))
    >>> len(kept), kept.count("b")  # b was skipped by the stride of 11 (it kept 10 a)
    (10, 1)
    """
    if options.max_prompts is None or len(texts) <= options.max_prompts:
        return texts, labels
    folds = stratified_folds(labels, math.ceil(len(texts) / options.max_prompts), len(texts), options.seed, texts)
    keep = list(folds[0][: options.max_prompts])
    # a label rarer than the stride may fall between the picks: it gets its first prompt, and as many
    # picks of labels kept twice or more go, from the end (max_prompts is at least the number of
    # labels, see check_adaptable)
    kept = Counter(labels[i] for i in keep)
    first = {}
    for i, label in enumerate(labels):
        first.setdefault(label, i)
    missing = [first[label] for label in first if label not in kept]
    over = len(keep) + len(missing) - options.max_prompts
    for position in range(len(keep) - 1, -1, -1):
        if over <= 0:
            break
        if kept[labels[keep[position]]] > 1:
            kept[labels[keep[position]]] -= 1
            keep[position] = -1
            over -= 1
    keep = sorted([i for i in keep if i >= 0] + missing)
    return [texts[i] for i in keep], [labels[i] for i in keep]


def _freeze(model, layers: int) -> None:
    """Leave only the top ``layers`` transformer layers trainable (all of them when 0)."""
    if layers == 0:
        return
    transformer = model[0].auto_model
    blocks = getattr(getattr(transformer, "encoder", None), "layer", None)
    if blocks is None:  # not a BERT-like model: tune everything rather than guess
        return
    if layers > len(blocks):  # recorded as asked, it would claim a depth the model does not have
        raise InputError(f"--adapt-layers {layers}: this model has {len(blocks)} transformer layers "
                         "(0 tunes them all)")
    for parameter in transformer.parameters():
        parameter.requires_grad_(False)
    for block in list(blocks)[-layers:]:
        for parameter in block.parameters():
            parameter.requires_grad_(True)


def _class_means(model, texts: list[str], y: np.ndarray, classes: int):
    import torch

    with torch.no_grad():
        vectors = model.encode(texts, batch_size=64, convert_to_tensor=True, normalize_embeddings=True,
                               show_progress_bar=False)
    means = torch.zeros(classes, vectors.shape[1]).index_add_(0, torch.as_tensor(y), vectors)
    return torch.nn.functional.normalize(means, dim=1)


def _warmup_then_decay(steps: int):
    warmup = max(1, steps // 10)
    return lambda step: min(1.0, (step + 1) / warmup) * max(0.0, (steps - step) / steps)


def _train(model, head, optimiser, schedule, texts: list[str], y, options: AdaptOptions) -> list[float]:
    import torch
    import torch.nn.functional as F

    rng = np.random.default_rng(options.seed)
    tokenise = getattr(model, "preprocess", None) or model.tokenize
    lengths = np.array([len(t) for t in texts])
    model.train()
    losses = []
    for _ in range(options.epochs):
        total = 0.0
        for batch in _batches(rng, lengths, options.batch_size):
            embedded = model(tokenise([texts[i] for i in batch]))["sentence_embedding"]
            logits = SCALE * F.normalize(embedded, dim=1) @ F.normalize(head, dim=1).T
            loss = F.cross_entropy(logits, y[batch])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
            total += loss.item() * len(batch)
        losses.append(round(total / len(texts), 4))
    return losses


def _batches(rng: np.random.Generator, lengths: np.ndarray, size: int) -> list[np.ndarray]:
    """Random batches of prompts of similar length (less padding: each step is cheaper), in random order.

    >>> batches = _batches(np.random.default_rng(0), np.arange(70), 32)
    >>> sorted(len(b) for b in batches), sorted(np.concatenate(batches).tolist()) == list(range(70))
    ([6, 32, 32], True)
    """
    order = rng.permutation(len(lengths))
    pool = size * 16  # sort within pools of 16 batches: batches stay random, padding shrinks
    batches = []
    for start in range(0, len(order), pool):
        chunk = order[start:start + pool]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        batches.extend(chunk[i:i + size] for i in range(0, len(chunk), size))
    return [batches[i] for i in rng.permutation(len(batches))]


def options_record(options: AdaptOptions) -> dict:
    return asdict(options)
