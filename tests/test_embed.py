"""Where the ONNX encoder comes from, for a user who may not write the model's folder."""

import os
from pathlib import Path

import pytest

pytest.importorskip("onnxruntime")

import novelty.embed as embed  # noqa: E402
from novelty.errors import ModelError  # noqa: E402


@pytest.fixture
def read_only_model(tmp_path, monkeypatch) -> Path:
    """A model folder with its fp32 ONNX file exported, that this user may not write (the tests run as root)."""
    folder = tmp_path / "model"
    (folder / "onnx").mkdir(parents=True)
    (folder / "modules.json").write_text("[]")
    (folder / "onnx" / "model.onnx").write_bytes(b"exported by the package's owner")
    real = os.access
    monkeypatch.setattr(os, "access", lambda path, mode: not (mode & os.W_OK and Path(path) == folder)
                        and real(path, mode))
    monkeypatch.setattr(embed, "_quantisation_config", lambda: "avx2")
    return folder


def test_an_onnx_file_exported_beside_the_model_is_read_there(read_only_model, tmp_path, monkeypatch):
    # QA as a service user: a package folder holding model.onnx and model_quint8_avx2.onnx was copied
    # into each user's ~/.cache/novelty and exported again (109 MB each), and where HOME was
    # /nonexistent, score could not run at all
    monkeypatch.setenv("NOVELTY_CACHE", str(tmp_path / "cache"))
    assert embed.onnx_model(read_only_model, "onnx") == (read_only_model, "onnx/model.onnx")
    (read_only_model / "onnx" / "model_quint8_avx2.onnx").write_bytes(b"int8")
    assert embed.onnx_model(read_only_model, "onnx-int8") == (read_only_model, "onnx/model_quint8_avx2.onnx")
    assert not (tmp_path / "cache").exists()


def test_a_cache_it_cannot_write_says_what_to_do(read_only_model, monkeypatch):
    monkeypatch.setenv("NOVELTY_CACHE", "/proc/novelty-cache")  # unwritable, root too
    with pytest.raises(ModelError, match="under /proc/novelty-cache, which failed .*set NOVELTY_CACHE to a folder"):
        embed.onnx_model(read_only_model, "onnx-int8")  # int8 not exported yet: it must be, somewhere


def test_a_user_without_a_home_is_told_to_set_novelty_cache(read_only_model, monkeypatch):
    """QA (a pod's uid with no passwd entry, under env -i): Path.home() raised RuntimeError, which the
    loader reported as 'pass a folder holding a sentence-transformers model'."""
    monkeypatch.delenv("NOVELTY_CACHE", raising=False)
    monkeypatch.setattr(Path, "home", classmethod(lambda cls: (_ for _ in ()).throw(
        RuntimeError("Could not determine home directory."))))
    with pytest.raises(ModelError, match="this user has no home folder .*set NOVELTY_CACHE"):
        embed.onnx_model(read_only_model, "onnx-int8")


def test_threads_asking_for_one_model_at_once_load_it_once(monkeypatch):
    """QA (a service's first requests on four threads): the model was loaded four times, one per
    thread, as the cache filled only after the first load ended."""
    import threading
    import time

    loads = []
    real = embed.HashingEmbedder

    def slow(dimension):
        loads.append(dimension)
        time.sleep(0.2)  # a load takes seconds: the others ask meanwhile
        return real(dimension)

    monkeypatch.setattr(embed, "HashingEmbedder", slow)
    embed._load.cache_clear()
    got = []
    threads = [threading.Thread(target=lambda: got.append(embed.load_embedder("hashing:48"))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    embed._load.cache_clear()
    assert loads == [48] and len({id(e) for e in got}) == 1


def test_a_model_loading_keeps_no_thread_from_another_model(monkeypatch):
    """Review: one lock for every model made a thread asking for a loaded model wait for another
    thread's whole load of a different one (2.8 s for a cached lookup)."""
    import threading

    real, started, release = embed.HashingEmbedder, threading.Event(), threading.Event()

    def slow(dimension):
        if dimension == 40:
            started.set()
            release.wait(10)  # loading until the other thread's lookup is done, or 10 s
        return real(dimension)

    monkeypatch.setattr(embed, "HashingEmbedder", slow)
    embed._load.cache_clear()
    embed.load_embedder("hashing:24")  # loaded before
    loading = threading.Thread(target=lambda: embed.load_embedder("hashing:40"))
    loading.start()
    started.wait(10)
    embed.load_embedder("hashing:24")
    answered_during_the_load = loading.is_alive()
    release.set()
    loading.join()
    embed._load.cache_clear()
    assert answered_during_the_load
