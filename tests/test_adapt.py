"""``index build --adapt``: the default model fine-tuned for one epoch on ~80 labelled demo prompts
(seconds), then its folder layout, reload after a move, scoring, and the refusals."""

import json
import os
import shutil

import numpy as np
import pytest

from typer.testing import CliRunner

from novelty.adapt import AdaptOptions
from novelty.cli import app
from novelty.demo_data import training_prompts
from novelty.embed import DEFAULT_MODEL
from novelty.engines.local import score_files
from novelty.errors import IncompatibleError, IndexFileError, InputError, ModelError
from novelty.index import PromptIndex
from novelty.logs import Columns

from conftest import FAKE_MODEL, write_csv, write_jsonl

pytestmark = pytest.mark.integration
TINY = AdaptOptions(epochs=1, held_out=0.34)  # 27 of the 80 prompts held out: calibration needs 20


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    folder = tmp_path_factory.mktemp("adapt")
    train = write_csv(folder / "train.csv", ["text", "label"], training_prompts(n_per_intent=4, seed=1))
    index = PromptIndex.build(train, "tuned", index_dir=folder / "ix", adapt=TINY)
    return {"folder": folder, "train": train, "index": index}


def test_the_adapted_model_lives_in_the_index_and_the_manifest_says_so(tiny):
    index = tiny["index"]
    m = json.loads((index.path / "manifest.json").read_text())
    model = index.path / "model"
    assert (model / "modules.json").exists() and (model / "model.safetensors").exists()
    assert list((model / "onnx").glob("model_*int8_*.onnx"))  # the int8 export, cached inside the index
    umask = os.umask(0o022)
    os.umask(umask)  # as a plain open gives, for the service account that scores (found by QA: weights 0600)
    assert {p.stat().st_mode & 0o777 for p in model.rglob("*") if p.is_file()} == {0o666 & ~umask}
    assert m["model"]["folder"] == "model" and m["model"]["backend"] == "onnx-int8"
    assert m["model"]["revision"].endswith("+onnx-int8") and m["model"]["name"] == f"{DEFAULT_MODEL} (adapted)"
    adapt = m["adapt"]
    assert adapt["base"]["name"] == DEFAULT_MODEL and adapt["base"]["revision"] not in m["model"]["revision"]
    assert adapt["epochs"] == 1 and adapt["tuned_prompts"] + adapt["held_out_prompts"] == len(index) == 80
    assert adapt["seconds"] > 0 and np.isfinite(adapt["last_epoch_loss"])
    held_out = index.prompts["calibration"].to_numpy(bool)
    assert held_out.sum() == adapt["held_out_prompts"] == m["calibration"]["size"] == 27
    assert "folds of a held-out slice" in m["calibration"]["method"]
    assert set(index.prompts.loc[held_out, "label"]) == set(index.prompts["label"])  # stratified: every label


def test_index_build_says_the_loss_of_one_epoch_once(tiny, monkeypatch):
    from typer.testing import CliRunner

    from novelty.cli import app

    monkeypatch.setattr(PromptIndex, "build", classmethod(lambda cls, *args, **kw: tiny["index"]))  # built above
    out = CliRunner().invoke(app, ["index", "build", str(tiny["train"]), "--name", "tuned", "--adapt",
                                   "--index-dir", str(tiny["folder"] / "elsewhere")])
    adapt = json.loads((tiny["index"].path / "manifest.json").read_text())["adapt"]
    assert out.exit_code == 0 and f"(loss {adapt['first_epoch_loss']:.3f}); " in out.output, out.output  # was 0.108 -> 0.108


def test_a_moved_index_loads_its_own_model_and_scores(tiny, tmp_path):
    moved = tmp_path / "elsewhere" / "tuned"
    shutil.copytree(tiny["index"].path, moved)
    index = PromptIndex.load(moved)
    embedder = index.embedder()
    assert embedder.revision == index.model["revision"] and str(moved) in embedder.name
    log = write_jsonl(tmp_path / "log.jsonl", [{"prompt": t, "timestamp": "2026-11-24T10:00:00Z"} for t in
                                               ("how do I reset my card pin", "can I buy bitcoin in the app")])
    result = score_files([log], index, tmp_path / "s.db", columns=Columns(text="prompt", time="timestamp"))
    assert result.scored == 2


def test_a_database_of_another_encoder_is_refused(tiny, tmp_path):
    frozen = PromptIndex.build(tiny["train"], "frozen", index_dir=tmp_path, scorer="knn")
    log = write_jsonl(tmp_path / "log.jsonl", [{"prompt": "where is my card", "timestamp": "2026-11-24T10:00:00Z"}])
    columns = Columns(text="prompt", time="timestamp")
    score_files([log], frozen, tmp_path / "s.db", columns=columns)
    with pytest.raises(IncompatibleError, match="model_revision"):
        score_files([log], tiny["index"], tmp_path / "s.db", columns=columns)


def test_changed_or_missing_weights_are_refused(tiny, tmp_path):
    copy = tmp_path / "tuned"
    shutil.copytree(tiny["index"].path, copy)
    config = copy / "model" / "config_sentence_transformers.json"
    config.write_text(config.read_text().replace("{", '{"note": "edited", ', 1))
    with pytest.raises(IndexFileError, match="the weights in model/ changed"):  # checked on load now
        PromptIndex.load(copy)
    shutil.rmtree(copy / "model")
    with pytest.raises(IndexFileError, match="adapted model folder 'model' is missing"):
        PromptIndex.load(copy)


def test_an_edited_onnx_export_is_refused(tiny, tmp_path):
    copy = tmp_path / "tuned"
    shutil.copytree(tiny["index"].path, copy)
    listed = PromptIndex.load(copy).manifest["model"]["onnx"]
    assert listed, "the build records the ONNX files it ran"
    with (copy / next(iter(listed))).open("ab") as fh:
        fh.write(b"\0")  # was: loaded, 'files verified', and every vector changed
    with pytest.raises(IndexFileError, match="does not match its checksum"):
        PromptIndex.load(copy)


def test_add_keeps_the_model_and_the_calibration_slice(tiny, tmp_path):
    copy = tmp_path / "tuned"
    shutil.copytree(tiny["index"].path, copy)
    index = PromptIndex.load(copy)
    extra = write_csv(tmp_path / "extra.csv", ["text", "label"], [("can I buy bitcoin in the app", "crypto")])
    assert index.add(extra).added == 1
    again = PromptIndex.load(copy)
    assert len(again) == 81 and again.manifest["calibration"]["size"] == 27
    assert again.model == tiny["index"].model and not again.prompts["calibration"].iloc[-1]


def test_adapt_needs_labels_and_real_weights(tmp_path):
    unlabelled = write_csv(tmp_path / "u.csv", ["text"], [(f"prompt {i} about cards",) for i in range(120)])
    with pytest.raises(InputError, match="every training prompt needs a label"):
        PromptIndex.build(unlabelled, "u", index_dir=tmp_path, adapt=True)
    labelled = write_csv(tmp_path / "l.csv", ["text", "label"], training_prompts(n_per_intent=6, seed=1))
    with pytest.raises(InputError, match="hashing embedder has no weights"):
        PromptIndex.build(labelled, "h", index_dir=tmp_path, model=FAKE_MODEL, adapt=True)
    with pytest.raises(InputError, match="too few"):
        PromptIndex.build(labelled, "f", index_dir=tmp_path, adapt=AdaptOptions(held_out=0.1))
    with pytest.raises(InputError, match="below the 20 labels"):  # some labels went untuned, without a word
        PromptIndex.build(labelled, "few", index_dir=tmp_path, adapt=AdaptOptions(max_prompts=10, held_out=0.34))
    (tmp_path / "empty-model").mkdir()
    for missing in (tmp_path / "no-such-model", tmp_path / "empty-model"):  # were tracebacks from the tuner
        with pytest.raises(ModelError, match="cannot load the embedding model"):
            PromptIndex.build(labelled, "m", index_dir=tmp_path / "ix", model=str(missing), adapt=True)
    assert not (tmp_path / "ix" / "m").exists()
    with pytest.raises(InputError, match="this model has 6 transformer layers"):  # was recorded as 7
        PromptIndex.build(labelled, "deep", index_dir=tmp_path / "ix", adapt=AdaptOptions(layers=7, held_out=0.34))
    assert not (tmp_path / "ix" / "deep").exists()
    with pytest.raises(InputError, match="--engine local"):
        PromptIndex.build(labelled, "r", index_dir=tmp_path, adapt=True, embed=lambda *a: None)


def test_the_ray_engine_refuses_an_adapted_index_before_starting_or_writing(tiny, tmp_path):
    pytest.importorskip("ray")
    from novelty.engines import score_files as on_engine

    log = write_jsonl(tmp_path / "p.jsonl", [{"prompt": "where is my card", "timestamp": "2026-11-24T10:00:00Z"}])
    with pytest.raises(InputError, match="--engine local"):
        on_engine([log], tiny["index"].path, tmp_path / "m.db", engine="ray")
    assert not (tmp_path / "m.db").exists()  # was: made, bound to the model, a failed run recorded


def test_adapt_on_an_existing_index_is_refused_before_it_says_it_will_take_minutes(tmp_path):
    labelled = write_csv(tmp_path / "l.csv", ["text", "label"], training_prompts(n_per_intent=6, seed=1))
    PromptIndex.build(labelled, "bot", index_dir=tmp_path / "ix", model=FAKE_MODEL, scorer="knn")
    out = CliRunner().invoke(app, ["index", "build", str(labelled), "--name", "bot", "--index-dir",
                                   str(tmp_path / "ix"), "--adapt"])
    assert out.exit_code == 2 and "already exists" in out.output
    assert "this takes minutes" not in out.output  # was said first
