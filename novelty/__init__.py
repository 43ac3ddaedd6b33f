"""novelty: why did my model get worse? Novel-prompt detection, drift and root-cause diagnosis.

The library is the product; the ``novelty`` command is a thin shell over it::

    from novelty import PromptIndex, score_files
    index = PromptIndex.build("train.csv", "support-bot")
    result = score_files(["logs/2026-11-25.jsonl"], index, "monitor.db")
    index.score(["can I pay with bitcoin?"])[0]["is_novel"]   # one request, in memory
"""

__version__ = "0.1.0"

from .errors import NoveltyError  # noqa: E402
from .index import PromptIndex  # noqa: E402
from .engines.local import ScoreResult, score_files  # noqa: E402

__all__ = ["NoveltyError", "PromptIndex", "ScoreResult", "score_files", "__version__"]
