"""One family of errors, each with a message written for the person at the terminal.

The CLI prints a ``NoveltyError`` without a traceback and exits with code 2 (usage or input error);
anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import numbers
import os
from pathlib import Path


class NoveltyError(Exception):
    """Something the user can fix: the message says what went wrong and what to do next."""


class NoveltyWarning(UserWarning):
    """What the CLI says as a note beside a result (the library's ``warnings.warn``): the result stands,
    but may not be what was meant, e.g. an index built with the weaker scorer as no label was found."""


class InputError(NoveltyError):
    """An input file or option cannot be used as given."""


class UnreadableEvidenceError(InputError):
    """Evidence given to ``diagnose`` or ``write_report`` that could not be used (a misspelt path, a
    table without rows): the message says which and why, as the CLI does before exiting 2. ``partial``
    holds what the rest showed (the ``Diagnosis``, or the ``ReportResult`` of the page written), so a
    caller who wants it anyway has it; ``partial=True`` returns it instead of raising."""

    def __init__(self, message: str, partial):
        super().__init__(message)
        self.partial = partial


class EmptyFileError(InputError):
    """An input file of no bytes (or a gzip of none): nothing to read. ``score`` passes over such a log
    (a day without traffic) among others; a command needing the file's content refuses it."""


class MissingColumnError(InputError):
    """A column the command needs is not in the file."""


class DamagedFileError(InputError):
    """A compressed input whose data is damaged (bad CRC, corrupt block): what was read from it cannot be
    trusted, so ``score`` keeps none of it. ``path`` is the file."""

    def __init__(self, message: str, path: Path):
        super().__init__(message)
        self.path = path


class IndexFileError(NoveltyError):
    """An index on disk is missing, incomplete or does not match its manifest."""


class IncompatibleError(NoveltyError):
    """Two artefacts were made with different embedding models or dimensions."""


class ModelError(NoveltyError):
    """The embedding model cannot be loaded."""


class MissingExtraError(NoveltyError):
    """An optional dependency is not installed; the message names the pip extra that brings it."""


class StorageError(NoveltyError):
    """The SQLite database cannot be written (disk full, locked for too long, read-only); ``locked``:
    another process held its lock for the whole wait."""

    def __init__(self, message: str, locked: bool = False):
        super().__init__(message)
        self.locked = locked


def check_argument(name: str, value, kinds: type | tuple[type, ...], what: str) -> None:
    """An InputError saying what ``name`` takes when a library caller passed another kind of value (a
    text '10' for a count, a DataFrame for a file): a TypeError from deep inside says nothing useful.
    True and False are no numbers here.

    >>> check_argument("budget", "10", int, "a whole number such as 200")
    Traceback (most recent call last):
    ...
    novelty.errors.InputError: budget is a whole number such as 200, not '10' (str)
    >>> import numpy as np; check_argument("budget", np.int64(10), int, "a whole number")  # passes
    """
    kinds = kinds if isinstance(kinds, tuple) else (kinds,)
    # numpy's integers and floats, and any path-like (pytest's tmpdir), count as what they stand for
    kinds += tuple(abstract for given, abstract in ((int, numbers.Integral), (float, numbers.Real),
                                                    (Path, os.PathLike)) if given in kinds)
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        hint = ("; write the DataFrame to a file first (to_csv, to_parquet)"
                if hasattr(value, "to_csv") and "SQLite" not in what else "")
        raise InputError(f"{name} is {what}, not {_short(value)} ({type(value).__name__}){hint}")


def os_error_text(exc: OSError) -> str:
    """An OSError as one line for the user: the path the system refused, then why (the CLI's ``error:``
    line, and a ``novelty run`` step's).

    >>> os_error_text(PermissionError(13, "Permission denied", "logs/day.jsonl")), os_error_text(OSError("boom"))
    ('logs/day.jsonl: Permission denied', 'boom')
    """
    where = f"{exc.filename}: " if exc.filename else ""
    return f"{where}{exc.strerror or exc}"


def _short(value) -> str:
    if hasattr(value, "to_csv") and hasattr(value, "shape"):  # its repr is a page of rows
        return f"<{value.shape[0]:,} rows>"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
