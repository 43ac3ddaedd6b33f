"""novelty: why did my model get worse? Novel-prompt detection, drift and root-cause diagnosis.

The library is the product; the ``novelty`` command is a thin shell over it::

    from novelty import PromptIndex, score_files
    index = PromptIndex.build("train.csv", "support-bot")
    result = score_files(["logs/2026-11-25.jsonl"], index, "monitor.db")
    index.score(["can I pay with bitcoin?"])[0]["is_novel"]   # one request, in memory

The names below load on first use (PEP 562), so ``import novelty`` is instant and the command can
take a Ctrl-C while numpy, pandas and FAISS load.
"""

__version__ = "0.1.0"

_LAZY = {"NoveltyError": ".errors", "PromptIndex": ".index", "ScoreResult": ".engines.local",
         "score_files": ".engines.local"}
__all__ = ["NoveltyError", "PromptIndex", "ScoreResult", "score_files", "__version__"]


def __getattr__(name: str):
    import importlib

    if name not in _LAZY:  # a submodule (novelty.index, novelty.logs), as the eager imports made them before
        if not name.isidentifier():
            raise AttributeError(f"module 'novelty' has no attribute {name!r}")
        try:
            return importlib.import_module(f".{name}", __name__)
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise
            raise AttributeError(f"module 'novelty' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(_LAZY[name], __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
