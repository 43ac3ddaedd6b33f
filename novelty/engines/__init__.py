"""Where scoring runs: ``local`` (the default) streams files through one process; ``ray`` embeds and
searches in a pool of Ray actors (``pip install 'novelty[ray]'``). Both share ``common``, so they give
the same results."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

ENGINES = ("local", "ray")


def score_files(paths: str | Path | Sequence[str | Path], index, db: str | Path | None, *, engine: str = "local",
                ray_address: str | None = None, workers: int | None = None, **options):
    """Score ``paths`` on ``engine``; ``options`` are those of ``novelty.engines.local.score_files``."""
    if engine == "ray":
        from .ray import score_files as on_ray

        _check_workers(workers)
        return on_ray(paths, index, db, address=ray_address, workers=workers, **options)
    _check(engine, ray_address, workers)
    from .local import score_files as on_local

    return on_local(paths, index, db, **options)


def embedding_function(engine: str = "local", ray_address: str | None = None, workers: int | None = None):
    """What ``PromptIndex.build(embed=...)`` should use on ``engine`` (None: the default, here)."""
    if engine == "ray":
        from functools import partial

        from .ray import embed_texts, require_ray

        require_ray()
        _check_workers(workers)
        return partial(embed_texts, address=ray_address, workers=workers)
    _check(engine, ray_address, workers)
    return None


def _check_workers(workers: int | None) -> None:
    from ..errors import InputError

    if workers is not None and workers < 1:  # 0 was read as 'every CPU', -2 a traceback from Ray
        raise InputError(f"--workers must be at least 1, not {workers} (leave it out for one per CPU)")


def _check(engine: str, ray_address: str | None, workers: int | None) -> None:
    from ..errors import InputError

    if engine not in ENGINES:
        raise InputError(f"--engine takes {' or '.join(ENGINES)}, not {engine!r}")
    if ray_address or workers is not None:
        raise InputError("--ray-address and --workers only apply with --engine ray")
