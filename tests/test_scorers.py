"""One contract, every scorer (scikit-learn style), plus the ensemble's index round trip."""

import faiss
import numpy as np
import pytest

from novelty.evaluation import auroc
from novelty.index import PromptIndex
from novelty.scorers import SCORERS
from novelty.scoring import calibrate, make_scorer, stratified_folds


def clusters(seed=0, n_known=6, n_new=3, per=60, d=24):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_known + n_new, d))
    def draw(c, n):
        x = centres[c] + rng.normal(scale=0.6, size=(n, d))
        return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)
    train = np.vstack([draw(c, per) for c in range(n_known)])
    labels = [f"c{c}" for c in range(n_known) for _ in range(per)]
    known_test = np.vstack([draw(c, 20) for c in range(n_known)])
    new_test = np.vstack([draw(c, 20) for c in range(n_known, n_known + n_new)])
    return train, labels, np.vstack([known_test, new_test]), np.r_[np.zeros(len(known_test)), np.ones(len(new_test))].astype(bool)


def search(train, queries, k):
    index = faiss.IndexFlatIP(train.shape[1])
    index.add(train)
    return index.search(queries, min(k, len(train)))


@pytest.mark.parametrize("name", sorted(SCORERS))
def test_scorer_contract(name):
    train, labels, test, is_new = clusters()
    scorer = make_scorer(name)
    with pytest.raises(RuntimeError, match="before fit"):
        scorer.score(*search(train, test, scorer.k), test)
    calibration = calibrate(scorer, train, labels, alpha=0.1)
    sims, positions = search(train, test, scorer.k)
    scores = scorer.score(sims, positions, test)
    assert scores.shape == (len(test),) and scores.dtype == np.float32 and np.isfinite(scores).all()
    assert auroc(scores, is_new) > 0.9, name  # higher = more novel
    assert len(calibration.scores) == len(train)
    reloaded = make_scorer(name, **scorer.params()).load_state(
        {k: np.asarray(v) for k, v in scorer.state().items()}, labels)
    assert np.allclose(reloaded.score(sims, positions, test), scores, atol=1e-6)


def test_stratified_folds_spread_every_label():
    labels = ["a"] * 10 + ["b"] * 5
    folds = stratified_folds(labels, 5, 1000, seed=0)
    assert sorted(np.concatenate(folds).tolist()) == list(range(15))
    assert all(sum(labels[i] == "b" for i in f) == 1 for f in folds)
    assert sum(len(f) for f in stratified_folds(labels, 5, 7, seed=0)) == 7


def test_ensemble_index_round_trip_scores_identically(ensemble_index):
    loaded = PromptIndex.load(ensemble_index.path)
    vectors = loaded.embedder().embed(["how do I buy bitcoin", "where is my card", "reset my pin"])
    a = ensemble_index.scorer.score(*ensemble_index.search(vectors, ensemble_index.scorer.k), vectors)
    b = loaded.scorer.score(*loaded.search(vectors, loaded.scorer.k), vectors)
    assert np.array_equal(a, b)
    assert loaded.manifest["scorer"]["name"] == "ensemble"


def test_unknown_scorer_and_bad_params():
    from novelty.errors import NoveltyError

    with pytest.raises(NoveltyError, match="unknown scorer"):
        make_scorer("magic")
    with pytest.raises(NoveltyError, match="bad parameters"):
        make_scorer("knn", q=3)


def test_class_spread_measures_distance_in_units_of_the_class_spread():
    from novelty.scorers import ClassSpreadScorer

    # class a: two prompts at cosine .96 (own distance .04); class b: at cosine .6 (own distance .4);
    # class c: a lone prompt, measured as scoring pads a class short of top members (with the k-th
    # similarity, 0 here: distance 1), and with the spread of the others
    x = np.array([[1, 0, 0], [.96, .28, 0], [0, 1, 0], [0, .6, .8], [0, 0, 1]], np.float32)
    scorer = ClassSpreadScorer(top=1, k=5).fit(x, ["a", "a", "b", "b", "c"])
    assert np.allclose(scorer.mean_, [.04, .4, 1.0], atol=1e-6)
    assert np.allclose(scorer.std_, [1e-3, 1e-3, .18 + 1e-3], atol=1e-6)
    # the same distance .1 to the best class: far out for tight a, well inside loose b
    sims = np.array([[.9, .8, .1, 0, 0], [.9, .8, .1, 0, 0]], np.float32)
    positions = np.array([[0, 1, 2, 3, 4], [2, 3, 0, 1, 4]])
    assert np.allclose(scorer.score(sims, positions, None), [60, -300], atol=1e-2)


def test_three_component_ensemble_of_older_indexes_loads_and_scores_as_before(tmp_path, train_pairs):
    from conftest import FAKE_MODEL, write_csv

    path = write_csv(tmp_path / "train.csv", ["text", "label"], train_pairs)
    old = ["knn", "class-topk", "logreg"]  # what every ensemble manifest said before class-spread
    built = PromptIndex.build(path, "old", index_dir=tmp_path / "indexes", model=FAKE_MODEL,
                              scorer="ensemble", scorer_params={"components": old})
    loaded = PromptIndex.load(built.path)
    assert loaded.manifest["scorer"]["params"] == {"components": old}
    assert loaded.scorer.components == tuple(old) and len(loaded.scorer.mean_) == 3
    vectors = loaded.embedder().embed(["how do I buy bitcoin", "where is my card"])
    sims, positions = loaded.search(vectors, loaded.scorer.k)
    members = np.stack([m.score(sims, positions, vectors) for m in loaded.scorer.members], axis=1)
    by_hand = ((members - loaded.scorer.mean_) / loaded.scorer.std_).mean(axis=1)
    assert np.allclose(loaded.scorer.score(sims, positions, vectors), by_hand, atol=1e-6)


def test_class_topk_refuses_a_top_it_cannot_use():
    for params in ({"top": 0}, {"k": 0}, {"top": 2.5}):
        with pytest.raises(Exception, match="top >= 1 and k >= 1"):
            make_scorer("class-topk", **params)
    # what indexes were built with still loads (review): a top above k pads, 2.0 is 2
    assert make_scorer("class-topk", top=5, k=3).params() == {"top": 5, "k": 3}
    assert make_scorer("class-spread", top=2.0).params()["top"] == 2


@pytest.mark.parametrize("scorer", ["ensemble", "class-spread"])
def test_a_training_prompt_of_a_class_of_two_is_not_novel(tmp_path, train_pairs, scorer):
    from conftest import write_csv
    four = sorted({label for _, label in train_pairs})[:4]
    base = [(t, label) for label in four for t in [t for t, x in train_pairs if x == label][:30]]
    pairs = base + [("buy bitcoin", "btc"), ("sell bitcoin", "btc")]
    path = write_csv(tmp_path / "train.csv", ["text", "label"], pairs)
    ix = PromptIndex.build(path, "bot", index_dir=tmp_path / "ix", model="hashing:64", scorer=scorer)
    scored = ix.score(["sell bitcoin", "buy bitcoin now", pairs[0][0]])
    # was novelty 10 and 25 (p 0.008, novel) for a class of two: fitted on one other member (spread ~0,
    # the 1e-3 floor), scored padded with the 64th neighbour's similarity
    assert [r["is_novel"] for r in scored] == [False, False, False], scored
    assert scored[0]["novelty"] <= scored[2]["novelty"] + 1.0


def test_by_label_evens_out_the_false_alarms_of_a_loose_intent():
    # three tight intents and one loose one: scored on one yardstick, the loose one's own prompts were
    # flagged at four times alpha and the tight ones' almost never
    rng = np.random.default_rng(0)
    centres, scales = rng.normal(size=(4, 24)), [0.4, 0.4, 0.4, 0.9]

    def draw(c, n):
        x = centres[c] + rng.normal(scale=scales[c], size=(n, 24))
        return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)

    train = np.vstack([draw(c, 150) for c in range(4)])
    labels = [f"l{c}" for c in range(4) for _ in range(150)]
    fresh = [draw(c, 400) for c in range(4)]
    rates = {}
    for shrink in (None, 50.0):
        scorer = make_scorer("ensemble", label_shrink=shrink)
        calibration = calibrate(scorer, train, labels, alpha=0.05)
        rates[shrink] = [float(calibration.is_novel(calibration.p_values(scorer.score(*search(train, t, scorer.k), t))).mean())
                         for t in fresh]
    assert rates[None][3] > 0.2 and max(rates[None][:3]) < 0.01
    assert rates[50.0][3] < 0.15 and min(rates[50.0][:3]) > 0.02


def test_by_label_is_saved_loaded_and_kept_by_an_add_and_a_label_no_prompt_was_held_out_near_scores_pooled(
        tmp_path, train_pairs):
    from conftest import FAKE_MODEL, write_csv

    path = write_csv(tmp_path / "train.csv", ["text", "label"], train_pairs)
    built = PromptIndex.build(path, "even", index_dir=tmp_path / "indexes", model=FAKE_MODEL,
                              scorer="ensemble", scorer_params={"label_shrink": 50.0})
    loaded = PromptIndex.load(built.path)
    assert loaded.manifest["scorer"]["params"]["label_shrink"] == 50.0
    texts = ["how do I buy bitcoin", "where is my card", "reset my password please"]
    assert [r["novelty"] for r in loaded.score(texts)] == [r["novelty"] for r in built.score(texts)]
    by_hand = loaded.scorer
    vectors = loaded.embedder().embed(texts)
    sims, positions = loaded.search(vectors, by_hand.k)
    members = np.stack([m.score(sims, positions, vectors) for m in by_hand.members], axis=1)
    combined = ((members - by_hand.mean_) / by_hand.std_).mean(axis=1)
    label = np.asarray(loaded.labels, dtype=object)[positions[:, 0]].astype(str)
    at = np.searchsorted(by_hand.label_names_, label)
    assert np.allclose(loaded.scorer.score(sims, positions, vectors),
                       (combined - by_hand.label_mean_[at]) / by_hand.label_std_[at], atol=1e-5)
    # a label learned from the queue (reference only): no held-out prompt has it nearest, so pooled
    queue = write_csv(tmp_path / "queue.csv", ["id", "text", "label"],
                      [("q1", "how do I stake ethereum", "crypto"), ("q2", "stake my eth for rewards", "crypto")])
    loaded.add(queue, reference_only=True)
    again = PromptIndex.load(built.path)
    assert again.manifest["scorer"]["params"]["label_shrink"] == 50.0
    crypto = np.flatnonzero(np.asarray(again.labels, dtype=object) == "crypto")
    assert "crypto" not in set(again.scorer.label_names_.tolist())
    assert np.allclose(again.scorer.row_mean_[crypto], again.scorer.pooled_[0])
    assert np.isfinite([r["novelty"] for r in again.score(["stake eth"])]).all()


def test_label_shrink_is_a_positive_number_or_none():
    for bad in (0, -1, float("inf"), float("nan"), True, "50"):
        with pytest.raises(Exception, match="label_shrink is a number of prompts > 0"):
            make_scorer("ensemble", label_shrink=bad)
    assert make_scorer("ensemble", label_shrink=20).params()["label_shrink"] == 20.0
    assert "label_shrink" not in make_scorer("ensemble").params()
