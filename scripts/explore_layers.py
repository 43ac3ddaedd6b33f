"""Which of the encoder's layers to pool (research, not a gate): the default ensemble on Banking77
open intent with sentence vectors pooled from other layers of all-MiniLM-L6-v2 than the last.

The encoder's hidden states (torch fp32, the transformers model inside the sentence-transformers
folder, offline) are mean-pooled per layer and normalised; each variant below is fitted and
z-scaled as ``EnsembleScorer`` does (explore_scorers.raw_scores), on the draws of
bench_open_intent.py. "Holistic" sentence embeddings that average a fine-tuned encoder's layers
help out-of-distribution detection (Chen et al., EMNLP 2022 Findings); this checks the frozen one.

    python scripts/explore_layers.py                      # 5 seeds, 3 shares: ~10 min on 2 cores
    python scripts/explore_layers.py --seeds 1 --shares 0.25

Measured 2026-11-29 (5 seeds; ensemble AUROC / FPR at 95 % TPR at 25 / 50 / 75 % known):
- last layer (what sentence-transformers gives, torch fp32): 0.9641 / 0.156, 0.9477 / 0.208, 0.9350 / 0.235
- mean of layers 1-6 alone: 0.9553 / 0.197 at 25 %; layers 4-6: 0.9608 / 0.167 (lower layers alone lose)
- last layer and the mean of layers 1-6, concatenated (768 dimensions): 0.9663 / 0.151,
  0.9488 / 0.206, 0.9371 / 0.236: +0.0022 / +0.0011 / +0.0021 AUROC, FPR95 within 0.005
- last layer and layer 3, concatenated: 0.9656 / 0.153 at 25 %, 0.9480 / 0.210, 0.9348 / 0.255
Not adopted: the gain is about the spread between seeds, the ONNX export that scoring uses gives the
last layer only (a second export with every hidden state, and int8 quantisation of it, would be needed),
and index memory doubles. Also measured that day: ensemble weights learned per index by holding out
whole intents of the training set as pseudo-novel (logistic regression on the four z-scores, five
groups of intents) lowered AUROC at 25 % known on 4 of 5 draws (0.9618 against 0.9633) and left the
other shares within 0.001 (0.9462 / 0.9337 against 0.9469 / 0.9336): equal weights stay.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from explore_scorers import arguments, embedding_table  # noqa: E402
from novelty.embed import DEFAULT_MODEL, resolve_model_path  # noqa: E402


def layer_vectors(texts: list[str], batch: int = 64) -> np.ndarray:
    """(texts, layers + 1, dimension): each hidden state mean-pooled over the tokens, normalised."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    path = resolve_model_path(DEFAULT_MODEL)
    tokenizer, model = AutoTokenizer.from_pretrained(path), AutoModel.from_pretrained(path).eval()
    out = []
    with torch.inference_mode():
        for i in range(0, len(texts), batch):
            tokens = tokenizer(texts[i:i + batch], padding=True, truncation=True, max_length=256, return_tensors="pt")
            mask = tokens["attention_mask"].unsqueeze(-1).float()
            states = model(**tokens, output_hidden_states=True).hidden_states
            out.append(torch.stack([(h * mask).sum(1) / mask.sum(1) for h in states], 1).numpy())
    pooled = np.concatenate(out)
    return (pooled / np.linalg.norm(pooled, axis=-1, keepdims=True)).astype(np.float32)


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


VARIANTS = {
    "last": lambda layers: layers[:, -1],
    "mean 1-6": lambda layers: _unit(layers[:, 1:].mean(1)),
    "mean 4-6": lambda layers: _unit(layers[:, 4:].mean(1)),
    "last + mean 1-6": lambda layers: _unit(np.concatenate([layers[:, -1], _unit(layers[:, 1:].mean(1))], 1)),
    "last + layer 3": lambda layers: _unit(np.concatenate([layers[:, -1], layers[:, 3]], 1)),
}


def main() -> None:
    args, train, test = arguments(__doc__)
    embedding_table(args, train, test, VARIANTS, layer_vectors([t for t, _ in train]),
                    layer_vectors([t for t, _ in test]))


if __name__ == "__main__":
    main()
