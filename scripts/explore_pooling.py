"""How to pool the default encoder's token vectors (research, not a gate): the default ensemble on
Banking77 open intent with sentence vectors pooled other ways from the last layer of the default
onnx-int8 all-MiniLM-L6-v2 than the model's own mean.

Each view comes from one forward pass (the model's pooling swapped for one that returns them all);
each variant is fitted and z-scaled as ``EnsembleScorer`` does (explore_scorers.raw_scores), on the
draws of bench_open_intent.py.

    python scripts/explore_pooling.py                      # 5 seeds, 3 shares
    python scripts/explore_pooling.py --seeds 5 --shares 0.25

Measured 2026-11-29 (5 seeds at 25 % known; ensemble AUROC / FPR at 95 % TPR, then each draw):
- mean (the model's own):                       0.9633 / 0.157  [0.9716 0.9633 0.9646 0.9587 0.9582]
- mean over the words ([CLS], [SEP] left out):  0.9642 / 0.156  [0.9733 0.9639 0.9660 0.9592 0.9586]
- mean and max over all tokens, concatenated:   0.9647 / 0.155  (as raw vectors, unnormalised: 0.9637)
- mean over the words, max over all tokens:     0.9654 / 0.151  (max weighted 0.7: 0.9650)
- mean and max over the words (``mean-max``):   0.9659 / 0.149  [0.9741 0.9651 0.9681 0.9616 0.9604]
On torch fp32 (explore_layers.py's hidden states): mean 0.9641, mean-max 0.9660, mean and [CLS]
0.9613; mean-max and the mean of layers 1-6 together 0.9672, but that needs every hidden state from
the ONNX export. ``mean-max`` became index build's default pooling (novelty/embed.py).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from explore_scorers import arguments, embedding_table  # noqa: E402
from novelty.embed import DEFAULT_MODEL, added_token_ids, load_embedder  # noqa: E402

VIEWS = ("mean", "words mean", "max", "words max")


def views(texts: list[str]) -> dict[str, np.ndarray]:
    """Each of VIEWS for ``texts``, unnormalised, from the default encoder's last layer."""
    import torch

    model = load_embedder(DEFAULT_MODEL).model  # (a private copy is not needed: the script ends after)
    special = torch.tensor(added_token_ids(model[0].tokenizer))  # [CLS], [SEP]: what mean-max leaves out

    class Views(torch.nn.Module):
        def forward(self, features: dict, **kwargs) -> dict:
            tokens, mask = features["token_embeddings"], features["attention_mask"].bool()
            words = mask & ~torch.isin(features["input_ids"], special)
            out = []
            for keep in (mask, words):
                weights = keep.unsqueeze(-1).to(tokens.dtype)
                out.append((tokens * weights).sum(1) / weights.sum(1).clamp(min=1))
            for keep in (mask, words):
                out.append(tokens.masked_fill(~keep.unsqueeze(-1), torch.finfo(tokens.dtype).min).amax(1))
            features["sentence_embedding"] = torch.cat([out[0], out[1], out[2], out[3]], 1)
            return features

    names = list(model._modules)
    model._modules[names[1]] = Views()
    for name in names[2:]:
        del model._modules[name]
    stacked = model.encode(texts, batch_size=64, convert_to_numpy=True)
    width = stacked.shape[1] // len(VIEWS)
    return {v: stacked[:, i * width:(i + 1) * width].astype(np.float32) for i, v in enumerate(VIEWS)}


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


def _joined(*parts: np.ndarray) -> np.ndarray:
    return _unit(np.concatenate(parts, 1))


VARIANTS = {
    "mean (the model's own)": lambda v: _unit(v["mean"]),
    "mean over the words": lambda v: _unit(v["words mean"]),
    "mean and max, all tokens": lambda v: _joined(_unit(v["mean"]), _unit(v["max"])),
    "mean and max, all tokens, raw": lambda v: _joined(v["mean"], v["max"]),
    "words mean, all-token max": lambda v: _joined(_unit(v["words mean"]), _unit(v["max"])),
    "words mean, all-token max x0.7": lambda v: _joined(_unit(v["words mean"]), 0.7 * _unit(v["max"])),
    "mean-max (over the words)": lambda v: _joined(_unit(v["words mean"]), _unit(v["words max"])),
}


def main() -> None:
    args, train, test = arguments(__doc__)
    embedding_table(args, train, test, VARIANTS, views([t for t, _ in train]), views([t for t, _ in test]),
                    each_draw=True)


if __name__ == "__main__":
    main()
