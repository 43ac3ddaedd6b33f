"""One family of errors, each with a message written for the person at the terminal.

The CLI prints a ``NoveltyError`` without a traceback and exits with code 2 (usage or input error);
anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class NoveltyError(Exception):
    """Something the user can fix: the message says what went wrong and what to do next."""


class InputError(NoveltyError):
    """An input file or option cannot be used as given."""


class MissingColumnError(InputError):
    """A column the command needs is not in the file."""


class IndexFileError(NoveltyError):
    """An index on disk is missing, incomplete or does not match its manifest."""


class IncompatibleError(NoveltyError):
    """Two artefacts were made with different embedding models or dimensions."""


class ModelError(NoveltyError):
    """The embedding model cannot be loaded."""


class MissingExtraError(NoveltyError):
    """An optional dependency is not installed; the message names the pip extra that brings it."""


class StorageError(NoveltyError):
    """The SQLite database cannot be written (disk full, locked for too long, read-only)."""
