"""Read prompt logs (JSONL, CSV, Parquet; gzip too) in chunks, validate each row, set bad rows aside.

Every input row ends up in exactly one of two places: a ``Batch`` row ready to score, or a ``Reject``
with the reason and the raw content. Nothing is dropped silently, and memory is bounded by the chunk
size, not the file size.
"""

from __future__ import annotations

import ast
import contextlib
import csv
import errno
import gzip
import io
import itertools
import json
import os
import re
import shlex
import stat
import sys
import tempfile
import unicodedata
import warnings
import zlib
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

import pandas as pd

from .errors import DamagedFileError, EmptyFileError, InputError, MissingColumnError, check_argument

MAX_CHARS = 20_000
_SNIFF_BYTES = 8192
HEADER_ROWS = 5000  # a JSONL log's first objects whose keys stand for its header
csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


@dataclass(frozen=True)
class Columns:
    """Which column holds what. Optional columns missing from a file are ignored, unless ``required``."""

    text: str = "prompt"
    time: str | None = "timestamp"
    id: str | None = None
    label: str | None = "predicted_label"
    required: frozenset[str] = frozenset()
    options: tuple[tuple[str, str], ...] = ()  # (role, the option or setting that names it) for messages
    default_time: str | None = None  # the time of every row when the file has no time column (a day's log)
    day_first: bool = False  # 03/06/2026 is 3 June (slashes are read month first otherwise, as in the US)

    def option(self, role: str) -> str:
        """What the user sets to name the ``role`` column (``--pred-col`` for score, ``logs.text_col``
        under ``novelty run``)."""
        named = {"text": "--text-col", "time": "--time-col", "id": "--id-col", "label": "--label-col",
                 **dict(self.options)}
        return named[role]

    def named(self, defaults: "Columns", roles: tuple[str, ...] = ("label",)) -> "Columns":
        """These columns, with the ``roles`` named otherwise than in ``defaults`` required: a library
        caller who names a training file's label or id column means it (``Columns(label='intent')`` on
        a file without it lost every label; a misspelt id gave ids 'train.csv:2'), as --label-col and
        --id-col are."""
        chosen = {role for role in roles if getattr(self, role) and getattr(self, role) != getattr(defaults, role)}
        return self if chosen <= self.required else replace(self, required=self.required | chosen)

    def matching(self, header: Iterable[str]) -> "Columns":
        """These columns with a name the file spells otherwise ('Timestamp', 'Predicted_Label', 'predicted
        label' for the defaults) replaced by the file's spelling, when exactly one column matches it. An
        optional column was silently left out (every time NULL, then 'no timestamped prompts' in spikes);
        a required one keeps its name, so its error lists the columns found."""
        header = [h.strip() for h in header]  # as the CSV reader names them (' prompt ' is prompt)
        found = {}
        for role in ("text", "time", "label"):
            name = getattr(self, role)
            if not name or name in header or role in self.required:
                continue
            alike = [h for h in header if bare_name(h) == bare_name(name)]
            if len(alike) == 1:
                found[role] = alike[0]
        return replace(self, **found) if found else self

    def optional(self) -> dict[str, str]:
        return {role: name for role, name in (("time", self.time), ("id", self.id),
                                              ("label", self.label)) if name}


def bare_name(name) -> str:
    """A column name to match by: 'requestId', 'Request-ID', 'request id' and 'request_id' are one.

    >>> bare_name("Predicted Label") == bare_name("predictedLabel") == bare_name("predicted_label")
    True
    """
    return re.sub(r"[\s_-]+", "", str(name)).casefold()


@dataclass(frozen=True)
class Reject:
    """A row that could not be used, with why and what it was."""

    source: str
    line: int
    reason: str
    raw: str


@dataclass
class Batch:
    """A chunk of valid rows, column by column, plus the rejects met while reading it."""

    source: str
    lines: list[int] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    times: list[str | None] = field(default_factory=list)
    ids: list[str | None] = field(default_factory=list)
    labels: list[str | None] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    unread_labels: int = 0  # predictions logged in a shape read as no label (unreadable_label)
    agent_steps: int = 0  # chat rows of an agent's calls after the question (agent_step): not scored again
    unread_example: str | None = None
    default_time: str | None = None  # stored as the time of rows without one (Columns.default_time); ids
                                     # still derive as for an untimed row, so a rerun on another date finds them

    def __len__(self) -> int:
        return len(self.texts)


def read_batches(path: str | Path, columns: Columns, chunk_rows: int = 5000,
                 max_chars: int = MAX_CHARS, too_long: str = "(--max-chars)", training: bool = False
                 ) -> Iterator[Batch]:
    """Yield validated batches of at most ``chunk_rows`` input rows from one log file.

    Raises ``InputError`` for problems with the file as a whole (missing, empty, binary, no such
    column); row-level problems become ``Reject`` entries. ``too_long`` ends the reason of a text over
    ``max_chars``: what the user can do about it. A log's prediction given as a list (top-k, multi-label)
    counts as its first entry, and one given as an object (``{"label": "card", "score": 0.93}``) as its
    label-like key, or none; a ``training`` file's label so given
    sets the row aside, as it would be a class of its own.
    """
    if chunk_rows < 1 or max_chars < 1:
        raise InputError(f"--chunk-rows and --max-chars must be at least 1 (got {chunk_rows}, {max_chars})")
    path = Path(path)
    kind = detect_format(path)
    records = {"jsonl": _jsonl_records, "csv": _csv_records, "parquet": _parquet_records}[kind]
    keys = _header_keys(path, columns.text) if kind == "jsonl" else {}  # JSONL's header: its first objects' keys
    columns = columns.matching(keys or log_columns(path))
    validator = _Validator(str(path), columns, max_chars, too_long, training)
    pending: list[tuple[int, Any, str]] = []
    opened = path.stat()
    try:
        if keys:
            validator.check_header(keys)
        for record in records(path, columns, validator):
            pending.append(record)
            if len(pending) >= chunk_rows:
                yield validator.batch(pending)
                pending = []
        _check_not_truncated(path, opened)
    except InputError as exc:
        if pending and not isinstance(exc, DamagedFileError):  # a file cut short: the rows read before the
            yield validator.batch(pending)                     # break are scored, as the error says
        raise
    if pending:
        yield validator.batch(pending)


def _check_not_truncated(path: Path, opened: os.stat_result) -> None:
    """A log cut to fewer bytes while it was read (logrotate's copytruncate on a live log): the reader
    met the end early and the rows past the cut were never read, so say it. A log renamed away and
    replaced by a new one is no such thing: the open file was the old one, read to its end."""
    try:
        now = path.stat()
    except OSError:  # deleted meanwhile: the open file was read to its end
        return
    if (now.st_ino, now.st_dev) == (opened.st_ino, opened.st_dev) and now.st_size < opened.st_size:
        raise InputError(f"{path} got shorter while it was read ({opened.st_size:,} bytes, then {now.st_size:,}): "
                         "cut by log rotation (copytruncate)? The rows past the cut were not read; they are in "
                         "the rotated copy: score that, and this file once it is complete (rows already stored "
                         "are not stored twice)")


def as_paths(paths) -> list:
    """One path (str or path-like) or several, as a list: a str would otherwise be read as its characters.

    >>> as_paths("log.jsonl"), as_paths(["a", "b"])
    (['log.jsonl'], ['a', 'b'])
    """
    if isinstance(paths, (str, os.PathLike)):
        return [paths]
    if hasattr(paths, "to_csv") and hasattr(paths, "columns"):  # iterated, a DataFrame gives its column names
        raise InputError("paths are log files, not a DataFrame: write it with to_csv or to_parquet first (or "
                         "score texts in memory with PromptIndex.score)")
    try:  # a glob's generator, a set, a pandas Series: any iterable of paths
        found = list(paths)
    except TypeError:
        raise InputError(f"paths is a log file's path, or several, not {paths!r} ({type(paths).__name__})") from None
    bad = [p for p in found if not isinstance(p, (str, os.PathLike))]
    if bad:  # None, 5: was a TypeError from pathlib
        raise InputError(f"paths holds {bad[0]!r} ({type(bad[0]).__name__}), not a file's path")
    return found


def file_in_the_way(path: Path) -> Path | None:
    """A file where a folder of ``path`` should be (``afile/out.html``), which makes writing it fail."""
    return next((p for p in path.parents if p.exists() and not p.is_dir()), None)


def check_name(path: str | Path) -> None:
    """An InputError when ``path``'s name is not valid UTF-8 ('caf\\xe9.jsonl', written by a Latin-1
    system): the database, the config and the JSON output keep file names as text, and such a name
    stopped score, feedback and init with a traceback (QA)."""
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        shown = str(path).encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        raise InputError(f"{shown}: the file name is not valid UTF-8 (written by a Latin-1 or Windows system?); "
                         "rename it, e.g. with convmv -f latin1 -t utf-8 --notest, or copy it to a plain name") from None


def check_file(path: str | Path, what: str = "the files inside it") -> Path:
    """``path`` if it names a regular file, else an InputError saying what it is instead."""
    path = Path(path)
    check_name(path)
    if path.is_file():
        if not os.access(path, os.R_OK):
            raise _not_readable(path)
        return path
    if path.is_dir():
        raise InputError(f"{path} is a folder; pass {what}")
    if path.exists():  # /dev/stdin, a pipe from <(...), a device: read once, they cannot be re-read or resumed
        raise InputError(f"{path} is not a regular file (a pipe or a device?); save it to a file first")
    raise InputError(f"{path}: no such file")


def _not_readable(path: Path) -> InputError:
    """A file of another user's, 0600: novelty run said 'a bug?' with a traceback in every step (QA)."""
    return InputError(f"{path}: this user may not read it (permission denied); give read access to the user "
                      "novelty runs as (chmod, or the file's group), or run as its owner")


def detect_format(path: Path) -> str:
    """'jsonl', 'csv' or 'parquet', from the extension, else from the first bytes."""
    check_file(path, "the log files inside it")
    with _readable(path), _open_bytes(path) as fh:
        head = fh.read(_SNIFF_BYTES)
    if not head:
        raise EmptyFileError(f"{path} is empty: there is nothing to read")
    suffixes = [s.lower() for s in path.suffixes if s.lower() != ".gz"]
    ext = suffixes[-1] if suffixes else ""
    if head.startswith(b"PAR1") or ext in {".parquet", ".pq"}:
        return "parquet"
    # archives by their magic, before the text checks (re-test: a .tar was 'binary', a .7z told to save itself
    # as UTF-8), but in files with a NUL or that look binary only: a CSV headed 'BZh_id' or a prompt with
    # 'custard' at byte 256 is text (review)
    packed = next((how for magic, how in _PACKED if head.startswith(magic)), None) or \
        ("a tar archive" if head[257:262] == b"ustar" else None)
    if packed in _WEAK_MAGIC and b"\x00" not in head[:512] and not _looks_binary(head):
        packed = None  # (the four- to six-byte magics stand: a fast zstd frame may hold no NUL, review)
    if is_utf16(head) and not packed:
        raise utf16_error(path)
    if packed or _looks_binary(head):
        if ext in _OFFICE:  # an .xlsx is a zip, an .xls an OLE file: not 'unzip it' (review)
            raise InputError(f"{path} is a spreadsheet file, not a CSV: save it as CSV (UTF-8) from the spreadsheet "
                             "program, or with pandas: pd.read_excel(path).to_csv(...)")
        raise InputError(f"{path} is {packed}, which novelty does not read (gzip it is): unpack it first, e.g. "
                         f"{_UNPACK[packed]} {shlex.quote(str(path))}" if packed else
                         f"{path} looks like a binary file, not a JSONL, CSV or Parquet log")
    if ext in {".jsonl", ".ndjson", ".json"}:
        return "jsonl"
    if ext in {".csv", ".tsv"}:
        return "csv"
    return "jsonl" if head.lstrip().startswith(b"{") else "csv"


# Other compressions than gzip, by their first bytes: named, so the user knows to unpack (QA: a .zst log
# was only 'a binary file')
_PACKED = ((b"\x28\xb5\x2f\xfd", "zstd-compressed"), (b"BZh", "bzip2-compressed"),
           (b"\xfd7zXZ\x00", "xz-compressed"), (b"PK\x03\x04", "a zip archive"), (b"\x04\x22\x4d\x18", "lz4-compressed"),
           (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"))
_WEAK_MAGIC = {"bzip2-compressed", "a tar archive"}  # 'BZh' and 'ustar' begin text too
_OFFICE = {".xlsx", ".xlsm", ".xls", ".ods", ".numbers"}
_UNPACK = {"zstd-compressed": "zstd -d", "bzip2-compressed": "bunzip2 -k", "xz-compressed": "unxz -k",
           "a zip archive": "unzip", "lz4-compressed": "lz4 -d", "a tar archive": "tar -xf",
           "a 7-Zip archive": "7z x"}


def is_utf16(head: bytes) -> bool:
    """Whether the first bytes of a file are UTF-16 text: its byte-order mark, or ASCII with a NUL
    beside every character.

    >>> is_utf16("id,label\\n".encode("utf-16")), is_utf16("id,label\\n".encode("utf-16-le")), is_utf16(b"id,label")
    (True, True, False)
    """
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return True
    sample = head[:64] if len(head) % 2 == 0 else head[:min(64, len(head) - 1)]
    return len(sample) >= 4 and (sample[1::2].count(0) == len(sample) // 2 or sample[0::2].count(0) == len(sample) // 2)


def utf16_error(path: Path) -> InputError:
    copy = path.with_name(f"{path.stem}-utf8{path.suffix}")
    return InputError(f"{path} is UTF-16 text (as Excel's 'Unicode Text' and Windows PowerShell's > save it): "
                      f"save it as UTF-8, e.g. iconv -f UTF-16 -t UTF-8 {path} > {copy}")


def repeated_columns(path: Path) -> list[str]:
    """The column names a CSV header or Parquet schema gives more than once (blank ones left out: a
    spreadsheet's trailing empty columns are no name); none for JSONL, whose objects cannot."""
    kind = detect_format(path)
    if kind == "jsonl":
        return []
    if kind == "parquet":
        import pyarrow.parquet as pq

        try:
            names = pq.read_schema(parquet_source(path)).names
        except Exception as exc:  # pyarrow raises ArrowInvalid, OSError... for a bad file (feedback: a traceback)
            raise InputError(f"{path}: not a readable Parquet file ({exc})") from None
    else:
        with open_text(path) as fh:
            names = csv_table(fh, field_separator(path))[0] or []
    return sorted({n for n in names if n.strip() and names.count(n) > 1})


def log_columns(path: Path, rows: int = 50) -> set[str]:
    """The columns of a log's header (CSV), schema (Parquet) or first ``rows`` objects (JSONL); empty
    when they cannot be read (reading the log then says why)."""
    try:
        kind = detect_format(path)
        if kind == "parquet":
            import pyarrow.parquet as pq

            return set(pq.read_schema(parquet_source(path)).names)
        with open_text(path) as fh:
            if kind == "csv":
                header = next(csv.reader(fh, delimiter=field_separator(path)), [])
                return {name.lstrip("\ufeff") for name in header}
        found: set[str] = set()
        for _, record, _ in itertools.islice(jsonl_lines(path), rows):  # a .json array too
            found.update(record if isinstance(record, dict) else ())
        return found
    except (InputError, OSError, UnicodeDecodeError, ValueError, zlib.error, EOFError):
        return set()


def field_separator(path: Path) -> str:
    """Tab for a .tsv (or .tsv.gz) file; else a comma, unless the header has none but a semicolon or
    a tab (a CSV saved by a spreadsheet in a comma-decimal locale writes ``a;b``)."""
    if ".tsv" in [s.lower() for s in path.suffixes]:
        return "\t"
    try:
        with _open_bytes(path) as fh:
            header = fh.readline(65_536).decode("utf-8", errors="replace")
    except (OSError, EOFError, InputError):
        return ","  # the reader says what is wrong with the file
    if "," not in header:
        for other in (";", "\t"):
            if other in header:
                return other
    return ","


_CONTROL = bytes(set(range(32)) - {9, 10, 12, 13})  # not tab, newline, form feed, carriage return


def _looks_binary(head: bytes) -> bool:
    """NUL bytes among many control bytes (a database, a zip, an image): a stray NUL in a text log is a
    damaged row, set aside with a reason wherever it is (one in the first 8 KB refused the whole file,
    one after it was stored).

    >>> _looks_binary(b"prompt\\nhello\\x00 there\\nsecond row\\n"), _looks_binary(b"SQLite format 3\\x00" + bytes(40))
    (False, True)
    """
    if b"\x00" not in head:
        return False
    return len(head) - len(head.translate(None, _CONTROL)) > 0.05 * len(head)


def _gzipped(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(2) == b"\x1f\x8b"


def _open_bytes(path: Path):
    if _gzipped(path):
        stream = gzip.open(path, "rb")
        try:
            stream.peek(1)
        except (OSError, EOFError) as exc:
            stream.close()
            raise InputError(f"{path}: not a readable gzip file ({exc})") from None
        return stream
    return path.open("rb")


@contextmanager
def _readable(path: Path, where: Callable[[], str] = lambda: ""):
    """A gzip stream that breaks part-way is an InputError. Cut short (a copy or an export that
    stopped): the rows read before the break are sound, and ``score`` keeps them, so completing the
    file and re-running finishes the job. Damaged (bad CRC, corrupt block): a ``DamagedFileError``,
    as what was read may be garbage (a flipped byte decoded into 632 rejects and wrong text, then
    failed the CRC at the end), and ``score`` keeps nothing of it."""
    try:
        yield
    except EOFError as exc:
        raise InputError(f"{path}: cut short{where()} ({exc}); complete or replace it and run the same command "
                         "again (rows already stored are not stored twice)") from None
    except (OSError, zlib.error) as exc:
        if isinstance(exc, gzip.BadGzipFile) and str(exc).startswith("Not a gzipped file"):
            # bytes after a whole, CRC-checked stream ('Not a gzipped file'): what was read is sound
            raise InputError(f"{path}: unreadable bytes after its gzip data{where()} ({exc}); the rows before "
                             "them were read; mend or replace it and run the same command again") from None
        if isinstance(exc, PermissionError):  # (its handler reopened the file: PermissionError again, 'a bug?')
            raise _not_readable(path) from None
        try:
            what = "a damaged gzip file" if _gzipped(path) else "could not be read"
        except OSError:
            what = "could not be read"
        raise DamagedFileError(f"{path}: {what}{where()} ({exc}); nothing read from it was kept. "
                               "Replace it and run the same command again", path) from None


def without_rows(path: Path, kind: str | None = None) -> str | None:
    r"""Why a log that has bytes holds no row, else None: blank lines only (a BOM, newlines), or a
    CSV header and nothing under it, or a Parquet file of no rows. Read only up to its first row.
    An export that broke and wrote its header alone was 'Scored 0 prompts', exit 0: a quiet day (QA).

    >>> import tempfile; folder = Path(tempfile.mkdtemp())
    >>> (folder / "a.csv").write_text("prompt,timestamp\n"); (folder / "b.jsonl").write_text("\n\n")
    17
    2
    >>> without_rows(folder / "a.csv"), without_rows(folder / "b.jsonl")
    ('a header and no rows', 'blank lines only')
    """
    kind = kind or detect_format(path)  # ``kind``: detect_format's answer, when the caller has it
    try:
        if kind == "parquet":
            import pyarrow.parquet as pq

            return "a Parquet file of no rows" if pq.ParquetFile(parquet_source(path)).metadata.num_rows == 0 \
                else None
        with open_text(path) as fh:
            if kind == "csv":
                rows = (row for row in csv.reader(fh, delimiter=field_separator(path))
                        if any(cell.strip("\ufeff \t") for cell in row))
                return None if next(rows, None) is not None and next(rows, None) is not None else \
                    "a header and no rows"
            while chunk := fh.read(65536):
                if chunk.strip("\ufeff \t\r\n"):
                    return None
        return "blank lines only"
    except (OSError, EOFError, ValueError, zlib.error, csv.Error):  # damaged: the reading says how
        return None


def open_text(path: Path) -> io.TextIOWrapper:
    # surrogateescape keeps undecodable bytes so the row can be rejected with its raw content
    return io.TextIOWrapper(_open_bytes(path), encoding="utf-8", errors="surrogateescape", newline="")


def header_names(path: Path) -> set[str]:
    """The column names the reader goes by: a JSONL log's keys of its first ``HEADER_ROWS`` objects, a
    CSV header's names stripped (' ts' is ts), a Parquet schema's; empty when they cannot be read."""
    try:
        keys = _header_keys(path) if detect_format(path) == "jsonl" else log_columns(path)
    except (InputError, OSError):
        return set()
    return {str(name).strip() for name in keys}


def _header_keys(path: Path, text: str | None = None) -> dict:
    """The keys of a JSONL log's first ``HEADER_ROWS`` objects, which stand for its header whatever
    --chunk-rows is (rows without a time before the first with one were rejected at the default 5,000
    rows a chunk, scored untimed at 5), and, when the ``text`` key is not among them, of the objects up
    to the first that has it (an event log's 5,000 heartbeats before the first prompt refused the file
    as having no column 'prompt'). Read in a pass of its own, one object at a time: the objects
    themselves are not held (5,000 rows of 100 KB took 1 GB). A break in the file is the main read's to say."""
    keys: dict = {}
    try:
        for number, (_, record, _) in enumerate(jsonl_lines(path), start=1):
            if number > HEADER_ROWS and (not text or text in keys):
                break
            if isinstance(record, dict) and (number <= HEADER_ROWS or text in record):
                keys.update(dict.fromkeys(record))
    except InputError:
        pass
    return keys


def _jsonl_records(path: Path, columns: Columns, validator: "_Validator") -> Iterator[tuple[int, Any, str]]:
    return jsonl_lines(path)


def jsonl_lines(path: Path) -> Iterator[tuple[int, Any, str]]:
    """(line number, parsed value or why it is no JSON, raw line) for each non-blank line of a JSONL
    file (gzip too, a BOM taken off)."""
    number, first = 0, True
    with open_text(path) as fh, _readable(path, lambda: f" after line {number}"):
        for number, line in enumerate(fh, start=1):
            if line.lstrip("\ufeff").strip():
                raw = line.rstrip("\r\n")
                if first and _opens_an_array(path, raw) and (items := _array_items(path)) is not None:
                    yield from items  # an export of one JSON array, not JSON Lines
                    return
                first = False
                try:
                    yield number, json.loads(raw.lstrip("\ufeff")), raw
                except json.JSONDecodeError as exc:  # without its column, so alike lines count as one reason
                    yield number, Unparsed(f"invalid JSON: {exc.msg}"), raw  # (the raw line is kept beside it)
                except RecursionError:
                    yield number, Unparsed("invalid JSON: nested too deeply"), raw


def _opens_an_array(path: Path, line: str) -> bool:
    """Whether a .json file's first line starts one JSON array of objects: '[' alone, '[{"a": 1},'
    (pretty or not), or a whole array of objects on one line; a JSONL row that is an array of values is
    not, and a .jsonl file is read by its lines whatever its first line is."""
    text = line.lstrip("\ufeff").strip()
    if not text.startswith("[") or not path.name.lower().removesuffix(".gz").endswith(".json"):
        return False
    try:
        value = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        return True  # begins an array that goes on past this line
    return isinstance(value, list) and any(isinstance(v, dict) for v in value)  # its other items rejected
    # one by one ('[{...}, null, {...}]' on one line was one rejected row, where pretty-printed it scored 2)


def _array_items(path: Path) -> list[tuple[int, Any, str]] | None:
    """The items of a file holding one JSON array (``[{...}, {...}]``, the usual .json export), numbered
    from 1 as lines are, each with its JSON as the raw line; None when the file is no such array (it is
    then read line by line, its bad lines rejected one by one). The array is read whole: it has no lines
    to stream by (it was 'invalid JSON: Extra data' on every line, and nothing scored)."""
    with open_text(path) as fh, _readable(path):
        try:
            items = json.loads(fh.read().lstrip("\ufeff"))
        except (json.JSONDecodeError, RecursionError):
            return None
    if not isinstance(items, list):
        return None
    return [(number, item, json.dumps(item, ensure_ascii=False)) for number, item in enumerate(items, start=1)]


OPEN_QUOTE = "malformed CSV: a quote left open ran over the lines after it (they are read again)"


def csv_table(lines: Iterable[str], delimiter: str, path: Path | None = None) -> tuple[list[str] | None, "_Lines"]:
    """The header of a CSV file (its BOM taken off; None for an empty file) and its lines past it, for
    ``numbered_rows``. With the file's ``path``, a file without a header, or one whose header is not
    UTF-8, is an InputError instead.

    >>> csv_table(io.StringIO('\\ufeff"id","label"\\nx,y\\n'), ",")[0]  # pandas' utf-8-sig with quoting
    ['id', 'label']
    >>> csv_table(io.StringIO(' prompt , timestamp\\nx,y\\n'), ",")[0]
    ['prompt', 'timestamp']
    """
    source = lines if isinstance(lines, _Lines) else _Lines(lines, 0)
    first = next(source, None)
    if first is None:
        if path is not None:
            raise InputError(f"{path}: no header row")
        return None, source
    source.read_again([first.lstrip("\ufeff")])  # before parsing: a BOM before "id" would keep its quotes
    header = next(csv.reader(source, delimiter=delimiter), None) or None
    if header:  # ' prompt , timestamp': a spreadsheet's padding is not part of the name ('prompt' missing)
        header = [name.strip() for name in header]
    if path is not None and not header:
        raise InputError(f"{path}: no header row")
    if path is not None and not all(is_utf8(name) for name in header):
        raise InputError(f"{path}: its header row is not valid UTF-8; save the file as UTF-8")
    return header, source


def numbered_rows(source: "_Lines", delimiter: str) -> Iterator[tuple[int, list[str] | str, str]]:
    """(the line each row starts on, its fields or why it cannot be read, its text as written: all its
    lines for a row, the first for one that cannot be read) of ``source`` past its header, blank lines left out. A row that runs over several lines with its quoting broken
    (``_quoted_badly``) is a quote left open: it comes as ``OPEN_QUOTE`` and the lines it swallowed
    are read again, so one stray quote costs one row, not every row after it. A properly quoted line
    break stays in its field, whatever the row's length (its lines are not rows of their own). The
    start, not ``line_num``: a quoted line break ends a row lines later.

    >>> _, rows = csv_table(io.StringIO('id,label\\nt1,"a\\nt2,b\\n\\nt3,"c\\nd"\\nt4,"e\\nt5,f\\nt6,"g\\n'), ",")
    >>> [(line, fields if isinstance(fields, list) else "open quote") for line, fields, _ in
    ...  numbered_rows(rows, ",")]
    [(2, 'open quote'), (3, ['t2', 'b']), (5, ['t3', 'c\\nd']), (7, 'open quote'), (8, ['t5', 'f']), (9, 'open quote')]
    """
    reader = csv.reader(source, delimiter=delimiter)
    while True:
        source.taken = []
        start = source.number + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            row = exc
        if isinstance(row, list) and not row:
            continue
        first = source.taken[0].rstrip("\r\n") if source.taken else ""
        if len(source.taken) > 1 and (isinstance(row, csv.Error) or _quoted_badly(source.taken, delimiter)) \
                or len(source.taken) == 1 and _open_at_the_end(row, source.taken[0], delimiter):
            yield start, OPEN_QUOTE, first
            source.read_again(source.taken[1:])
            reader = csv.reader(source, delimiter=delimiter)  # from a clean state
        elif isinstance(row, csv.Error):
            yield start, f"malformed CSV: {row}", first
        else:  # the row as written, quotes and line breaks kept (rebuilt from its fields, '"x"y,z' read 'xy,z')
            yield start, row, "".join(source.taken).rstrip("\r\n")


def _open_at_the_end(row, line: str, delimiter: str) -> bool:
    """Whether the file's last line leaves a quote open (``p106,"login``): its field then ends with the
    line break, or the line has none (only the last can lack one) and does not parse strictly."""
    if not isinstance(row, list) or not row or '"' not in line:
        return False
    if row[-1].endswith(("\n", "\r")):
        return True
    if line.endswith(("\n", "\r")):
        return False
    return "unexpected end of data" in (_strict_error([line], delimiter) or "")


def _quoted_badly(lines: list[str], delimiter: str) -> bool:
    """Whether a row read over ``lines`` breaks the quoting rules: its quote runs unclosed to the end
    of the file, or a later stray quote closed it mid-field (the lenient csv module reads on either way;
    a proper CSV writer's quoted line break passes)."""
    return _strict_error(lines, delimiter) is not None


def _strict_error(lines: list[str], delimiter: str) -> str | None:
    """What the csv module in strict mode says of ``lines``, or None when they parse."""
    try:
        list(csv.reader(lines, delimiter=delimiter, strict=True))
    except csv.Error as exc:
        return str(exc)
    return None


def _csv_records(path: Path, columns: Columns, validator: "_Validator") -> Iterator[tuple[int, Any, str]]:
    delimiter = field_separator(path)
    with open_text(path) as fh, _readable(path, lambda: f" after line {source.number}"):
        source = _Lines(fh, 0)
        header, source = csv_table(source, delimiter, path)
        validator.check_header(header)
        names = [str(name).strip() for name in header]
        for start, row, raw in numbered_rows(source, delimiter):
            if isinstance(row, str):
                yield start, Unparsed(row), raw
            elif len(row) != len(header):
                yield start, Unparsed(f"expected {len(header)} fields, got {len(row)}"), raw
            elif len(names) > 1 and [field.strip().lstrip("\ufeff") for field in row] == names:  # (a BOM
                # starts each file Excel or pandas' utf-8-sig wrote) (was scored as a prompt 'prompt'
                # predicted 'predicted_label', or trained as a prompt 'text' of an intent 'label'; with
                # a time column, 'unreadable timestamp' said nothing)
                yield start, Unparsed("the header again (files joined with cat?)"), raw
            elif len(names) > 1 and sorted(fields := [f.strip().lstrip("\ufeff") for f in row]) == sorted(names) \
                    and len(set(names)) == len(names):  # another file's header, its columns in another order:
                header = [header[names.index(f)] for f in fields]  # its rows are read by it (QA: each read
                names = fields                                      # with its columns swapped)
                yield start, Unparsed("the header again, in another column order (files joined with cat?); "
                                      "the rows after it are read by it"), raw
            else:
                yield start, dict(zip(header, row)), raw


class _Lines:
    """The lines a csv.reader reads, numbered, with those of its last row kept (``taken``) and a way
    to hand lines back to be read again."""

    def __init__(self, lines: Iterable[str], before: int):
        self.source, self.back, self.number, self.taken = iter(lines), [], before, []

    def __iter__(self):
        return self

    def __next__(self) -> str:
        line = self.back.pop() if self.back else next(self.source)
        self.number += 1
        self.taken.append(line)
        return line

    def read_again(self, lines: list[str]) -> None:
        self.back.extend(reversed(lines))
        self.number -= len(lines)


def parquet_source(path: Path) -> Path | io.BytesIO:
    """What pyarrow can read: the path, or for a gzipped Parquet file (the docs say gzip too) its
    bytes unzipped into memory, as Parquet needs to seek."""
    if not _gzipped(path):
        return path
    with _open_bytes(path) as fh:
        return io.BytesIO(fh.read())


def _parquet_records(path: Path, columns: Columns, validator: "_Validator") -> Iterator[tuple[int, Any, str]]:
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(parquet_source(path))
    except Exception as exc:  # pyarrow raises ArrowInvalid, OSError... for a bad file
        raise InputError(f"{path}: not a readable Parquet file ({exc})") from None
    validator.check_header(parquet.schema_arrow.names)
    wanted = [c for c in [columns.text, *columns.optional().values()] if c in parquet.schema_arrow.names]
    # text written as plain BINARY, without the UTF8 annotation (Hive, Impala, older Spark): each value
    # decoded, where every row was "'prompt' is not text (got bytes)"; bytes that are not UTF-8 stay bytes
    raw = [c for c in wanted if str(parquet.schema_arrow.field(c).type) in ("binary", "large_binary")]
    number = 0
    batches = parquet.iter_batches(batch_size=8192, columns=wanted)
    while True:
        try:
            table = next(batches, None)
            records = [] if table is None else table.to_pylist()
        except Exception as exc:  # a damaged page: OSError, ArrowInvalid, UnicodeDecodeError...
            raise InputError(f"{path}: damaged Parquet data after row {number} ({exc}); "
                             "the rows before it were scored") from None
        if table is None:
            return
        for record in records:
            number += 1
            for name in raw:
                if isinstance(record.get(name), bytes):
                    with contextlib.suppress(UnicodeDecodeError):
                        record[name] = record[name].decode("utf-8")
            yield number, record, ""


@dataclass(frozen=True)
class Unparsed:
    """A record the format reader could not parse."""

    reason: str


# zero-width and formatting characters that str.strip() keeps: a prompt of only these says nothing
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad\u180e"))


class _Validator:
    """Turns raw records into batches and rejects, one reason per rejected row."""

    def __init__(self, source: str, columns: Columns, max_chars: int, too_long: str = "(--max-chars)",
                 training: bool = False):
        self.source, self.columns, self.max_chars, self.too_long = source, columns, max_chars, too_long
        self.training = training
        self.rejects: list[Reject] = []
        self.header_checked = False
        self.present: set[str] = set()
        self.roles = {columns.text, *columns.optional().values()}  # the only names worth remembering

    def reject(self, line: int, reason: str, raw: str) -> None:
        self.rejects.append(Reject(self.source, line, reason, _printable(raw)))

    def check_header(self, names: Iterable[str]) -> None:
        names = list(names)
        twice = sorted({n for n in names if n in self.roles and names.count(n) > 1})
        if twice:  # which of the two holds the prompts? a guess would silently read the wrong one
            raise InputError(f"{self.source}: column {twice[0]!r} appears more than once in the header; "
                             "rename the copies so each column name is unique")
        self.present = self.roles & set(names)
        self.header_checked = True
        wanted = {"text": self.columns.text, **self.columns.optional()}
        for role, name in wanted.items():
            if name not in self.present and (role == "text" or role in self.columns.required):
                chat = "" if role != "text" or "messages" not in names else (
                    f" A chat log? Set {self.columns.option('text')} to messages to read each row's last user "
                    "turn" + (f" (and {self.columns.option('label')} to messages to learn the assistant's answer "
                              "as its label)" if self.training else "") + ".")
                raise MissingColumnError(
                    f"{self.source}: no column {name!r} (the {role} column). Columns found: "
                    f"{', '.join(names) or 'none'}. Set {self.columns.option(role)} to the right name.{chat}")

    def batch(self, records: list[tuple[int, Any, str]]) -> Batch:
        out = Batch(self.source, default_time=self.columns.default_time)
        if not self.header_checked:  # JSONL has no header: the keys of the first batch's objects stand for it
            keys = dict.fromkeys(key for _, record, _ in records if isinstance(record, dict) for key in record)
            if keys:
                self.check_header(keys)
        for line, record, raw in records:
            self._add(out, line, record, raw)
        out.rejects, self.rejects = self.rejects, []
        return out

    def _has(self, role: str) -> bool:
        name = self.columns.optional().get(role)
        return bool(name) and (not self.header_checked or name in self.present)

    def _add(self, out: Batch, line: int, record: Any, raw: str) -> None:
        if isinstance(record, Unparsed):
            return self.reject(line, record.reason, raw)
        if not isinstance(record, dict):
            return self.reject(line, "row is not a JSON object", raw)
        name = self.columns.text
        turns = chat_list(record.get(name))
        if turns is not None and not self.training and agent_step(turns):
            out.agent_steps += 1  # (QA: each of an agent's calls scored its question again: 4 prompts of one)
            return
        chat = _question(turns) if turns is not None else None
        if chat is not None:  # an LLM gateway's chat list: the user's last question is the prompt
            if isinstance(chat, str):
                return self.reject(line, f"{name!r} is a chat {chat}", raw or _as_json(record))
            record = {**record, name: chat[0]}
        # a chat fine-tuning file names its chats as the labels too: the answer after the question is one
        answered = chat is not None and self.training and self.columns.label == name
        if len(self.present) < len(self.roles):  # a JSONL column first met after the first batch counts from here
            self.present.update(name for name in self.roles if name in record)
        time = format_time(record.get(self.columns.time), self.columns.day_first) if self._has("time") else None
        reason = self._problem(record, time)
        if reason:
            return self.reject(line, reason, raw or _as_json(record))
        out.lines.append(line)
        out.texts.append(record[self.columns.text])
        out.times.append(time)
        out.ids.append(_cell(record, self.columns.id) if self._has("id") else None)
        label = record.get(self.columns.label) if self._has("label") else None
        if answered:
            label = predicted_label(chat[1])  # '{"intent": "x"}' is x (QA)
        value = top_label(label) if self.training else predicted_label(label)
        if value is None and label is not None and not self.training and unreadable_label(label):
            out.unread_labels += 1  # (read again only when no label came of it: the rare row)
            out.unread_example = out.unread_example or (label if isinstance(label, str) else _as_json(label))[:100]
        out.labels.append(label_value(value))

    def _problem(self, record: dict, time: str | None) -> str | None:
        name = self.columns.text
        if name not in record:
            return f"no {name!r} field"
        text = record[name]
        if not isinstance(text, str):
            return f"{name!r} is not text (got {type(text).__name__})"
        if is_blank(text):
            return f"{name!r} is empty" + (" but for invisible characters" if text.strip() else "")
        if len(text) > self.max_chars:
            return f"{name!r} is {len(text):,} characters, over the {self.max_chars:,} limit {self.too_long}"
        unstorable = _unstorable(name, text, self.training)
        if unstorable:
            return unstorable
        if self._has("time") and time is None:
            return time_problem(_cell(record, self.columns.time), self.columns.time, self.columns.day_first)
        if self._has("id") and _cell(record, self.columns.id) is None:
            return f"no id in {self.columns.id!r}"
        for role in ("id", "label"):
            if not self._has(role):
                continue
            column = self.columns.optional()[role]
            if isinstance(record.get(column), (dict, list)) and (role == "id" or self.training):  # was a label
                # "{'x': 1}", a class of its own; a log's list of predictions counts as its first (top_label)
                what = "object" if isinstance(record[column], dict) else "list"
                return f"{column!r} is a JSON {what}, not {'an id' if role == 'id' else 'a label'}"
            value = _cell(record, column)
            if isinstance(value, str) and (unstorable := _unstorable(column, value, self.training)):
                return unstorable
            if role == "label" and self.training and isinstance(record.get(column), str) and isinstance(value, str) \
                    and is_na_label(value) \
                    and value.strip().lower() != "none":  # ('None' is an intent of its own in LUIS and CLU; a
                # JSON NaN, text 'nan' by now, is a gap as label_value reads it: added unlabelled, as before)
                return (f"{column!r} is {value.strip()!r}, which says 'not labelled yet' (as queue import and "
                        "feedback read it): label the prompt, or leave it out")
        return None


def _unstorable(column: str, text: str, training: bool = False) -> str | None:
    """Why ``text`` of ``column`` cannot be stored as it is (undecodable bytes, a NUL), or None;
    ``training``: a training file's row (its rejects go to the index's rejects.jsonl, not a table)."""
    if not is_utf8(text):
        kept = "the index's rejects.jsonl" if training else "the rejects table"
        if any(not 0xDC80 <= ord(c) <= 0xDCFF for c in text if 0xD800 <= ord(c) <= 0xDFFF):  # not a byte, but a
            # JSON escape of half a character: iconv from cp1252 would have mangled the file's real accents
            return (f"{column!r} holds half of a character (a lone surrogate such as \\ud83d, from a writer that "
                    f"cut an emoji in two); these rows are in {kept}")
        return (f"{column!r} is not valid UTF-8 (saved as Latin-1 or Windows-1252? e.g. iconv -f cp1252 -t utf-8 "
                f"converts it; these rows are in {kept})")
    if "\x00" in text:  # binary data in a text column, or a damaged line
        return f"{column!r} holds a NUL character (binary data or a damaged line?)"
    return None


_LABEL_KEYS = ("label", "intent", "class", "predictedlabel", "prediction", "topintent", "classname",
               "predictedclass", "predictedintent", "category")  # bare_name spellings
# where NLU services nest their answer: CLU's result, Dialogflow's queryResult, Lex's interpretations,
# Watson's intents (a list of {"intent", "confidence"})
_CONTAINERS = ("result", "queryresult", "interpretations", "intents")


def top_label(value: Any, named: bool = False, depth: int = 0) -> Any:
    """A logged prediction as one label: a list's best-scored entry (or its first: top-k, best first);
    an object's one label-like key, as in a text-classification pipeline's
    ``[{"label": "card", "score": 0.93}]``, a zero-shot pipeline's ``{"labels": [...], "scores": [...]}``,
    Rasa's ``{"intent": {"name": ...}}``, CLU's ``{"topIntent": ...}`` or the answers of Dialogflow, Lex
    and Watson; none for an object with no such key or several.

    >>> top_label({"labels": ["b", "a"], "scores": [0.2, 0.7]}), top_label({"intent": {"name": "greet"}})
    ('a', 'greet')
    >>> top_label({"topIntent": "card", "intents": {}}), top_label({"label": "a", "intent": "b"})
    ('card', None)
    >>> top_label({"queryResult": {"intent": {"name": "projects/p/agent/intents/1", "displayName": "refund"}}})
    'refund'
    >>> top_label({"intents": [{"intent": "a", "confidence": 0.2}, {"intent": "b", "confidence": 0.8}]})
    'b'
    >>> top_label([[{"label": "x", "score": 0.9}]]), top_label({"name": "greet", "confidence": 0.9})
    ('x', 'greet')
    """
    if depth > 4:  # no service nests its answer deeper
        return None
    if isinstance(value, list):  # a pipeline's every label with its score comes in label order: the top one
        scored = [v for v in value if isinstance(v, dict) and isinstance(_score_of(v), (int, float))]
        value = max(scored, key=_ranked) if scored and len(scored) == len(value) else value[0] if value else None
        if isinstance(value, list) and depth:  # a batch of one prompt's list is read; deeper is no label
            return None
        return top_label(value, False, depth + 1) if isinstance(value, (list, dict)) else value
    if isinstance(value, dict):
        labels, scores = value.get("labels"), value.get("scores")
        if isinstance(labels, list) and isinstance(scores, list) and labels and len(labels) == len(scores) \
                and all(isinstance(v, (int, float)) for v in scores):
            return top_label(labels[max(range(len(scores)), key=lambda i: _ranked(scores[i]))], True, depth + 1)
        keys = {bare_name(k): v for k, v in value.items()}
        found, through = [v for k, v in keys.items() if k in _LABEL_KEYS], True
        # 'name' is a label only as the object a label key holds (Rasa's intent) or beside its score: a
        # list of tools or of named scores is no prediction (review: init took 'tools' for one)
        if not found and (named or _score_of(value) is not None):
            found = [keys[k] for k in ("displayname", "name") if k in keys][:1]  # Dialogflow's name is a path
        if not found:
            found, through = [keys[k] for k in _CONTAINERS if isinstance(keys.get(k), (dict, list))][:1], False
        value = top_label(found[0], through, depth + 1) if len(found) == 1 else None
    return None if isinstance(value, (list, dict)) else value


def _score_of(entry: dict) -> Any:
    return entry.get("score", entry.get("confidence"))


def _ranked(entry: Any) -> float:
    """A score (or an entry's) to take the best by: NaN, which compares false with everything and so
    made ``max`` keep whichever entry came first, ranks last (review).

    >>> top_label([{"label": "a", "score": float("nan")}, {"label": "b", "score": 0.4}])
    'b'
    """
    score = _score_of(entry) if isinstance(entry, dict) else entry
    return float("-inf") if score != score else score


def structured(value: Any) -> list | dict | None:
    """A cell holding a list or an object, as one: itself, a Parquet array pandas read (as a list), or
    JSON text of one (a CSV or Parquet cell, or a JSONL string); None for anything else, malformed JSON
    or JSON nested past Python's limit included ('[' * 1200: a crash of the run, review).

    >>> structured('[{"label": "card"}]'), structured("[x]"), structured("card"), structured({"a": 1})
    ([{'label': 'card'}], None, None, {'a': 1})
    """
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):
        value = value.tolist()
    if isinstance(value, str) and value[:64].lstrip()[:1] in ("[", "{"):
        try:
            value = json.loads(value)
        except (ValueError, RecursionError):
            return None
    return value if isinstance(value, (list, dict)) else None


def unreadable_label(value: Any) -> bool:
    """Whether a logged prediction holds something, a JSON object or list, but no label ``predicted_label``
    can read: stored without one, and said (QA: Rasa's and zero-shot outputs were NULL without a word)."""
    data = structured(value)
    return bool(data) and top_label(data) is None


def chat_turns(value: Any) -> tuple[str, str | None] | str | None:
    """A chat log's cell as (the last user turn with text, the assistant's answer after it or None); a
    reason when it is a chat without such a turn; None when it is no chat at all.

    A chat is a list of turns, each a dict with a ``role``: OpenAI's ``[{"role": ..., "content": ...}]``,
    Anthropic's content blocks, Gemini's ``{"role": ..., "parts": [...]}`` (its answers' role is
    ``model``), items without a role beside them (the Responses API's tool calls) left out; as a list
    (a Parquet array too), as JSON text, as the Python text pandas' ``to_csv`` writes, or inside
    ``{"messages": [...]}``. A turn's text parts are joined; a user turn without text (a tool's result)
    is not the question.

    >>> chat = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"},
    ...         {"role": "assistant", "content": "Hello!"}, {"role": "user", "content": [
    ...             {"type": "text", "text": "my card"}, {"type": "text", "text": "is lost"}]}]
    >>> chat_turns(chat), chat_turns(json.dumps(chat[:3])), chat_turns({"messages": chat[:1]})
    (('my card\\nis lost', None), ('hi', 'Hello!'), 'without a user turn')
    >>> chat_turns("[1, 2]"), chat_turns("where is my card"), chat_turns([{"role": "user", "content": " "}])
    (None, None, 'without a user turn that has text')
    >>> chat_turns([{"role": "user", "parts": [{"type": "text", "content": "lost card"}]}])  # OpenTelemetry GenAI
    ('lost card', None)
    >>> chat_turns(str(chat[1:3])), chat_turns([{"role": "User", "parts": [{"text": "hi"}]}, {"role": "model",
    ...     "parts": [{"text": "Hello"}]}, {"role": "user", "content": [{"type": "tool_result", "content": "42"}]}])
    (('hi', 'Hello!'), ('hi', 'Hello'))
    """
    value = chat_list(value)
    return None if value is None else _question(value)


def _question(chat: list[dict]) -> tuple[str, str | None] | str:
    """``chat_turns`` of a chat already read by ``chat_list``."""
    turns = [m for m in chat if isinstance(m.get("role"), str)]
    texts = [(_ROLES.get(str(m["role"]).lower(), str(m["role"]).lower()), _turn_text(m.get("content", m.get("parts"))))
             for m in turns]
    users = [i for i, (role, _) in enumerate(texts) if role == "user"]
    if not users:
        return "without a user turn"
    # the last user turn is the question; one of tool results alone is an agent's later call (agent_step),
    # else (an image, audio, a blank) it has no text to score: the question before it is not asked again
    asked = [i for i in users if texts[i][1].strip()]
    last = users[-1]
    if not asked or (asked[-1] != last and not _tool_results(turns[last].get("content"))):
        return "whose last user turn has no text" if asked else "without a user turn that has text"
    answer = next((text for role, text in texts[asked[-1] + 1:] if role in ("assistant", "model")), None)
    return texts[asked[-1]][1], answer


def chat_list(value: Any) -> list[dict] | None:
    """A cell as a chat's list of items (``chat_turns`` says which shapes), or None when it is no chat."""
    if isinstance(value, str):
        # past a size no chat of a question has, the text is left to --max-chars (review: 4 MB took seconds)
        if len(value) > _CHAT_CHARS or "role" not in value:
            return None
        text, value = value, structured(value)
        if value is None and "'role'" in text and len(text) <= _CHAT_CHARS // 10 \
                and text[:64].lstrip()[:1] in ("[", "{"):
            try:  # a list written by pandas' to_csv: Python's repr, single quotes (QA)
                value = ast.literal_eval(text)
            except (ValueError, SyntaxError, MemoryError, RecursionError):
                return None
    else:
        value = structured(value)
    if isinstance(value, dict) and hasattr(value.get("messages"), "__len__") and not isinstance(value["messages"], str):
        value = list(value["messages"])
    if not isinstance(value, list) or not value or not all(isinstance(m, dict) for m in value) \
            or not any(isinstance(m.get("role"), str) for m in value):
        return None
    return value


_ROLES = {"human": "user", "ai": "assistant", "bot": "assistant"}  # LangChain's message types as roles
_CHAT_CHARS = 2_000_000  # the longest text read as a chat (JSON; Python's repr, a tenth of it)
_TOOL_ITEMS = ("function_call", "function_call_output", "tool_call", "tool_result", "tool_use")


def agent_step(chat: list[dict]) -> bool:
    """Whether a chat (``chat_list``) is an agent's call after the question: it ends with a tool's result
    or the model's tool call, so its last question was asked, and logged, by an earlier call.

    >>> ask = {"role": "user", "content": "refund?"}
    >>> agent_step([ask]), agent_step([ask, {"role": "tool", "content": "ok"}])
    (False, True)
    >>> agent_step([ask, {"role": "assistant", "content": None, "tool_calls": [{}]}])
    True
    >>> agent_step([ask, {"role": "user", "content": [{"type": "tool_result", "content": "ok"}]}])
    True
    """
    last = chat[-1]
    if str(last.get("role", "")).lower() in ("tool", "function") or last.get("type") in _TOOL_ITEMS:
        return True
    if last.get("tool_calls") or last.get("function_call"):
        return True
    return _tool_results(last.get("content"))


def _tool_results(content: Any) -> bool:
    """Whether a turn's content is tool results (or calls) alone."""
    return isinstance(content, list) and bool(content) and all(
        isinstance(part, dict) and part.get("type") in _TOOL_ITEMS for part in content)


def _turn_text(content: Any) -> str:
    if not isinstance(content, str):  # (a Parquet array pandas read: a list)
        content = structured(content) or content
    if isinstance(content, dict):  # one part on its own
        content = [content]
    if isinstance(content, list):  # content parts: text, images, audio, tool results... (Gemini's may be text)
        return "\n".join(part if isinstance(part, str) else text for part in content
                         if isinstance(part, str) or isinstance(part, dict)
                         and part.get("type", "text") in ("text", "input_text", "output_text")
                         and isinstance(text := _part_text(part.get("text", part.get("content"))), str))
    return content if isinstance(content, str) else "" if content is None else str(content)


def _part_text(text: Any) -> Any:
    """A text part's text: a string, or the Assistants API's ``{"value": ...}``."""
    return text.get("value") if isinstance(text, dict) else text


def predicted_label(value: Any) -> Any:
    """A logged prediction as one label (``top_label``), also when a table holds the pipeline's output
    as JSON text (a CSV or Parquet cell, or a JSONL string: stored whole, it matched no label).

    >>> predicted_label('[{"label": "card", "score": 0.9}]'), predicted_label(["lost", "card"]), predicted_label("[x]")
    ('card', 'lost', '[x]')
    """
    data = structured(value)  # None: a label written with a bracket (or thousands of them) stays as it is
    return top_label(value if data is None else data)


def _cell(record: dict, name: str | None) -> Any:
    return _cell_value(record.get(name) if name else None)


def _cell_value(value: Any) -> Any:
    """A cell as read: None when missing or blank, text (or a time) as it is, anything else as text."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return value if isinstance(value, str) or hasattr(value, "isoformat") else str(value)


_WHOLE_FLOAT = re.compile(r"-?\d+\.0+")


# R, SQL, pandas, any case, and a labeller's dash or question mark: not labelled yet
NA_LABELS = {"na", "n/a", "#n/a", "<na>", "null", "none", "nan", "-", "--", "?", "n.a."}


def is_na_label(text: str, intents: frozenset[str] | set[str] = frozenset()) -> bool:
    """A label cell that says 'not labelled yet' ('NA', 'null', ' None '): feedback and queue import
    alike; not one spelt as an intent the index was trained on (``intents``: LUIS and CLU apps all have
    a 'None' intent, kept by index build, whose true labels feedback dropped: 100 % accuracy of 2/3).

    >>> is_na_label(" None "), is_na_label("None", {"None"}), is_na_label("none", {"None"})
    (True, False, True)
    """
    return text.strip().lower() in NA_LABELS and text.strip() not in intents


def canonical_id(value: str | None) -> str | None:
    """A prompt id as stored and joined on: without surrounding spaces, and a whole number written as
    a float ('12.0': a Parquet or pandas column of integer ids with a gap turns float) without its
    '.0'. Leading zeros stay ('007'). ``score`` stores ids so and ``feedback`` looks labels up so, so
    a label file and a log that write the same id differently still meet.

    >>> [canonical_id(v) for v in (" 3 ", "12.0", "007.00", "1.5", "a1 ", None)]
    ['3', '12', '007', '1.5', 'a1', None]
    """
    return None if value is None else whole_number(str(value).strip())


def whole_number(text: str) -> str:
    """A whole number written as a float without its '.0' ('12.0' is '12', '007.00' '007'); any other
    text as it is.

    >>> [whole_number(t) for t in ("12.0", "-3.00", "1.5", " 2.0", "a")]
    ['12', '-3', '1.5', ' 2.0', 'a']
    """
    return text.split(".")[0] if _WHOLE_FLOAT.fullmatch(text) else text


def label_value(value: Any) -> str | None:
    """A label cell as stored: None for a gap (missing, blank, a JSON NaN, a pandas NA), and a whole
    number written as a float ('2.0', from a column of integer labels with a gap) as '2', so it meets
    the training label '2'. Words stay labels: 'None' is an intent of its own in LUIS and CLU.

    >>> [label_value(v) for v in ("card_lost", " 2.0", float("nan"), 2.0, None, " ", "None", "1.5")]
    ['card_lost', '2', None, '2', None, None, 'None', '1.5']
    """
    if not isinstance(value, str) and value is not None and not hasattr(value, "isoformat"):
        try:
            if pd.isna(value):
                return None
        except (TypeError, ValueError):  # a list or another value pandas cannot call missing
            pass
    value = _cell_value(value)
    return canonical_id(label_form(value)) or None if isinstance(value, str) else canonical_id(value)


def spelling(label: str) -> str:
    """A label folded to how it reads: case and the separators between words ignored ('Card Arrival',
    'card_arrival' and 'CARD-ARRIVAL' are one), for saying labels spelt apart, never for comparing them
    (labels are identifiers: 'US' and 'us' may be two intents).

    >>> spelling("Card Arrival") == spelling("card_arrival") == spelling("CARD-ARRIVAL"), spelling("-1"), spelling("_other")
    (True, '-1', '_other')
    """
    return _WORD_SEPARATORS.sub(" ", label_form(label).casefold()).strip()


_WORD_SEPARATORS = re.compile(r"(?<=\w)[\s_-]+(?=\w)")  # between words only: '-1' is not '1', '_other' not 'other'


def label_form(text: str) -> str:
    """A label as stored and compared: NFKC, without zero-width characters, so one intent typed two
    ways is one label ('café' composed or not, 'cr\\u200bypto', a full-width 'Ｃｒｙｐｔｏ' from an IME
    became labels of their own, and a correct prediction counted wrong).

    >>> [label_form(t) for t in ("caf\\u00e9", "cafe\\u0301", "cr\\u200bypto", "\\uff43rypto", "card_lost")]
    ['café', 'café', 'crypto', 'crypto', 'card_lost']
    """
    if text.isascii():
        return text
    return unicodedata.normalize("NFKC", text).translate(_INVISIBLE)


def same_label(a: str | None, b: str | None) -> bool:
    """Labels equal as written, or as numbers written two ways ('2' and '2.0', ' 2'), or as one text
    typed two ways (a prediction stored before labels were normalised, 'cafe\\u0301', meets 'café').

    >>> same_label("2.0", " 2"), same_label("cafe\\u0301", "caf\\u00e9"), same_label("a", None)
    (True, True, False)
    """
    return a == b or (a is not None and b is not None and label_value(a) == label_value(b))


def is_blank(text: str) -> bool:
    """Nothing but white space and zero-width characters: a prompt that says nothing (score sets it
    aside, PromptIndex.score refuses it)."""
    return not text.translate(_INVISIBLE).strip()


def is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


def _printable(raw: str) -> str:
    """Raw content safe to store: undecodable bytes shown as U+FFFD."""
    return raw.encode("utf-8", "surrogateescape").decode("utf-8", "replace") if not is_utf8(raw) else raw


def _as_json(record: dict) -> str:
    return json.dumps(record, default=str, ensure_ascii=False)


# Times outside these bounds are an unset default (epoch 0), seconds read as milliseconds or the
# reverse, or a typo; kept, one of them would stretch every window series back to 1970.
EARLIEST, LATEST = "1990-01-01T00:00:00Z", "2100-01-01T00:00:00Z"
EPOCH_MS_ABOVE = 1e11  # an epoch number above this is milliseconds (1e11 s is the year 5138)


def epoch_unit(number: float) -> float | None:
    """The unit (1 for seconds, 1e3 milli-, 1e6 micro-, 1e9 nanoseconds) in which ``number`` is an
    epoch time of 1990-2099, else None.

    >>> epoch_unit(1.7e9), epoch_unit(1.7e18), epoch_unit(5e4)
    (1.0, 1000000000.0, None)
    """
    return next((unit for unit in (1.0, 1e3, 1e6, 1e9) if 6.3e8 * unit <= number < 4.1e9 * unit), None)


_EARLIEST, _LATEST = pd.Timestamp(EARLIEST), pd.Timestamp(LATEST)


def format_time(value: Any, day_first: bool = False) -> str | None:
    """An ISO-8601 UTC string (``2026-11-25T08:00:00Z``), or None when ``value`` is not a time
    between 1990 and 2099 (see ``time_problem`` for why).

    Epoch seconds, milli-, micro- and nanoseconds are understood; a time without a zone is UTC.

    >>> [format_time(v) for v in ["2026-11-25 08:00:00+01:00", 1764057600, "1764057600000", "soon", 0]]
    ['2026-11-25T07:00:00Z', '2025-11-25T08:00:00Z', '2025-11-25T08:00:00Z', None, None]
    >>> format_time(1764057600123456), format_time("1764057600000000000"), format_time("2026-11-25T08:00:00")
    ('2025-11-25T08:00:00.123456Z', '2025-11-25T08:00:00Z', '2026-11-25T08:00:00Z')
    """
    if isinstance(value, str) and len(value) == 20 and value[10] == "T" and value[19] == "Z":
        try:  # the common case, already canonical: skip pandas
            datetime.fromisoformat(value)
            return value if EARLIEST <= value < LATEST else None
        except ValueError:
            pass
    stamp = _parse_time(value, day_first)
    if stamp is None or pd.isna(stamp) or not _in_bounds(stamp):
        return None
    fraction = f".{stamp.microsecond:06d}" if stamp.microsecond else ""
    return stamp.strftime("%Y-%m-%dT%H:%M:%S") + fraction + "Z"


def time_problem(value: Any, column: str, day_first: bool = False,
                 misread: str = "so score it again into a fresh database", setting: str = "logs.day_first") -> str:
    """Why ``value`` of ``column`` is not a usable time: missing, unreadable or out of bounds;
    ``setting``: the config key that reads such files day first (label files have their own).

    >>> time_problem(0, "ts")
    "timestamp 0 in 'ts' is 1970-01-01, outside 1990-2099: an unset default, or seconds and milliseconds mixed up?"
    """
    if value is None:
        return f"no timestamp in {column!r}"
    stamp = _parse_time(value, day_first)
    if stamp is None and isinstance(value, str) and (numeric := NUMERIC_DATE.match(value)) \
            and _iso_date(numeric, day_first) is None:
        if numeric.group(2) == "/" and not day_first:
            return (f"timestamp {value[:60]!r} in {column!r} does not read as month/day/year (slashes are read "
                    f"month first): a file that writes the day first needs --day-first ({setting} = true "
                    f"under novelty run), and its rows already read month first are on wrong dates, {misread}; "
                    "or times in ISO 8601, e.g. 2026-03-13T10:00:00Z")
        return (f"timestamp {value[:60]!r} in {column!r} does not read as day/month/year (dots and dashes"
                f"{', and slashes with --day-first,' if day_first else ''} are read day first): write times as "
                "ISO 8601, e.g. 2026-03-13T10:00:00Z")
    if stamp is None and isinstance(value, str) and _dateless(value):
        return (f"timestamp {value[:60]!r} in {column!r} has no whole date (a missing day, month or year would "
                "be read as today's): log the date too, e.g. 2026-03-13T10:00:00Z")
    if stamp is None or pd.isna(stamp):
        return f"unreadable timestamp {str(value)[:60]!r} in {column!r}"
    return (f"timestamp {str(value)[:60]} in {column!r} is {_day(stamp)}, outside {EARLIEST[:4]}-"
            f"{int(LATEST[:4]) - 1}: an unset default, or seconds and milliseconds mixed up?")


# "id '0' was scored before ...", "duplicate id '7' in this run (first on line 3)": one reason, many ids.
# The first line goes whole ("first ..."), so the summary's example reads "'7', first on line 3", not
# "'7', line 3", which named the first row as the one set aside (QA)
_ID_IN_REASON = re.compile(r"^((?:duplicate )?id) (?:'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")"
                           r"|first (?:on line \d+|in an earlier chunk)")

# "unreadable timestamp '2026-11-27 10:00:00 CET' in 'ts'", "timestamp 0 in 'ts' is 1970-01-01, outside ...":
# one reason for a day of them, not ten lines of two rows and "4,980 more for other reasons"
_TIME_IN_REASON = re.compile(r"^(unreadable )?timestamp (?:'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|.*?) in "
                             r"('(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")( is [^,]*)?")


def reason_kind(reason: str) -> str:
    """A reject reason with the id or the time it quotes left out: the rows set aside for one cause
    count as one reason, however many values they quote.

    >>> reason_kind("unreadable timestamp 'soon' in 'ts'")
    "unreadable timestamp ... in 'ts'"
    >>> reason_kind("duplicate id 'A2' in this run (first on line 3)")
    'duplicate id ... in this run (...)'
    """
    kind = _ID_IN_REASON.sub(lambda m: f"{m.group(1)} ..." if m.group(1) else "...", reason)
    return _TIME_IN_REASON.sub(lambda m: f"{m.group(1) or ''}timestamp ... in {m.group(2)}"
                               + (" is ..." if m.group(3) else ""), kind)


SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")  # a database's live companions: writing over one corrupts it


def refuse_overwrite(out: Path, inputs: Sequence[str | Path | None]) -> None:
    """An InputError when ``out`` is one of ``inputs`` (a mistyped -o would replace the database), or
    the write-ahead log, shared memory or journal file beside one of them."""
    for other in inputs:
        if other is None:
            continue
        if out.exists() and Path(other).exists() and os.path.samefile(out, other):
            raise InputError(f"{out} is also what this command reads ({other}); write the output elsewhere")
        side = [Path(f"{other}{suffix}") for suffix in SQLITE_SIDE_FILES]
        if any(out.resolve() == s.resolve() for s in side):
            raise InputError(f"{out} belongs to the database {other} (SQLite's {out.name.rsplit('-', 1)[-1]} file); "
                             "write the output elsewhere")
    database = False  # another database (an export typed onto yesterday's monitor.db): no export is one
    if out.is_file():
        try:
            with out.open("rb") as fh:
                database = fh.read(16) == b"SQLite format 3\x00"
        except OSError:
            pass
    if database:
        raise InputError(f"{out} is a SQLite database: writing the output there would replace it; give another name")


def write_whole(out: Path, text: str) -> None:
    """``text`` into ``out`` whole or not at all, as ``open_output`` writes (beside it, then renamed
    over it): a full disk leaves the earlier file as it was (a report cut off mid-table replaced the
    last good page: QA). Errors come as the OSError they are, for the caller's message."""
    with _whole_file(out) as fh:
        fh.write(text)


def refuse_replacing(out: Path, kind: str) -> None:
    """An InputError when ``out`` is a file with something in it other than what this command writes
    there (``kind``: 'html', the report; 'summary', a run's JSON summary; 'profile', drift's saved
    reference): a report or summary path typed onto the database, the day's log or the config replaced
    it, exit 0. A page, summary or profile of an earlier run is replaced, as each day's run does."""
    try:
        if not out.is_file() or not out.stat().st_size:
            return
        with open(out, "rb") as fh:
            head = fh.read(1 << 20)
    except OSError:
        return  # unreadable or a name the system refuses: the write says why
    text = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    if kind == "html":
        ours, what = text[:15].lower() in (b"<!doctype html>", b"<!doctype html ") or text[:5].lower() == b"<html", \
            "an HTML page"
    else:
        try:
            found = json.loads(head) if len(head) < 1 << 20 else None
        except ValueError:
            found = None
        keys, what = ({"format", "columns"}, "a reference profile") if kind == "profile" else \
            ({"date", "steps"}, "a run summary")
        ours = isinstance(found, dict) and keys <= set(found)
    if not ours:
        begins = head[:20].decode("utf-8", "replace")
        raise InputError(f"{out} exists and is not {what} (it begins {begins!r}): writing it would replace that "
                         "file; give another name, or move the file away first")


STDOUT = "-"  # -o -: write to standard output


def output_file(out: str | Path, example: str) -> Path:
    """``out`` as a path to write a file to; typed with a trailing slash it names a folder, an error (the
    slash is lost in a Path: ``-o newdir/`` wrote a file called newdir). ``example`` names a file in it.

    >>> output_file("reports/", "report.html")
    Traceback (most recent call last):
    ...
    novelty.errors.InputError: -o reports/ names a folder (it ends with /); give the file's name, e.g. reports/report.html
    """
    check_argument("out", out, (str, Path), f"the path of the file to write, such as {example!r}")
    text = str(out)
    if isinstance(out, str) and text.endswith(("/", os.sep)) and len(text) > 1:
        raise InputError(f"-o {text} names a folder (it ends with {text[-1]}); give the file's name, e.g. {text}{example}")
    return Path(out)


def is_stdout(out: str | Path | None) -> bool:
    """Whether ``out`` names standard output (``-o -``)."""
    return out is not None and str(out) == STDOUT


class _WholeWrites(io.RawIOBase):
    """Writes to ``buffer`` that write everything or raise: a buffered write to a pipe whose reader
    went away returns the bytes the pipe took and no error (``report -o - | head`` said "Wrote the
    page", exit 0, with most of the page lost); writing the rest raises BrokenPipeError."""

    def __init__(self, buffer):
        super().__init__()
        self.buffer = buffer

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        view, done = memoryview(data).cast("B"), 0
        while done < len(view):
            written = self.buffer.write(view[done:])
            if not written:  # nothing taken and no error: said as the pipe's error it stands for
                raise BrokenPipeError(errno.EPIPE, "Broken pipe")
            done += written
        return done

    def flush(self) -> None:
        self.buffer.flush()

    def close(self) -> None:  # standard output stays open for what the command prints after
        pass


def _stdout_text() -> Iterator[io.TextIOBase]:
    """Standard output as UTF-8 text without newline translation, whatever the locale; left open. A
    reader that goes away (``| head``) is an InputError, so the caller does not mark rows as delivered."""
    buffer = getattr(sys.stdout, "buffer", None)
    stream = io.TextIOWrapper(io.BufferedWriter(_WholeWrites(buffer)), encoding="utf-8", newline="",
                              write_through=True) if buffer else sys.stdout  # (buffered: a row a write was 4x slower)
    try:
        yield stream
        stream.flush()
    except OSError as exc:  # BrokenPipeError included
        raise InputError(f"writing to standard output failed ({exc.strerror or exc})") from None
    finally:
        if buffer:
            try:
                stream.detach()  # flushes; standard output stays open for what the command prints after
            except (OSError, ValueError):
                pass


@contextmanager
def open_output(out: Path, example: str, inputs: Sequence[str | Path | None] = ()) -> Iterator[io.TextIOBase]:
    """``out`` opened for writing text (UTF-8, no newline translation), or an InputError saying why
    it cannot be (a folder, a missing folder, one of ``inputs``, a full disk); ``example`` is the
    file name the message suggests when ``out`` is a folder. ``-`` is standard output (UTF-8 too), for a
    pipe: ``novelty queue export --db monitor.db -o - | my-labelling-tool``."""
    if is_stdout(out):
        yield from _stdout_text()
        return
    if out.is_dir():
        raise InputError(f"{out}: is a folder; give the file to write, e.g. {out / example}")
    if not out.parent.is_dir():
        raise InputError(f"{out}: no folder {out.parent}; create it first")
    refuse_overwrite(out, inputs)
    opened = False
    try:
        with _whole_file(out) as fh:
            opened = True
            yield fh
    except OSError as exc:
        raise InputError(f"{out}: writing it failed ({exc.strerror or exc})" if opened else
                         f"{out}: cannot write it ({exc.strerror})") from None


@contextmanager
def _whole_file(out: Path) -> Iterator[io.TextIOBase]:
    """``out`` opened for writing text (UTF-8, no newline translation), written beside it under a hidden
    name, then renamed over it: a run stopped halfway (Ctrl-C, kill, a full disk) leaves the file that
    was there, not a partial one that looks complete. Where renaming is not the thing to do
    (``_replaceable``: /dev/stdout, a pipe, another user's file) it is written in place."""
    target = Path(os.path.realpath(out))
    fh = part = None
    if _replaceable(out, target):
        try:
            fd, part = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
            fh = os.fdopen(fd, "w", encoding="utf-8", newline="")
        except OSError:
            part = None
    fh = fh or out.open("w", encoding="utf-8", newline="")
    try:
        with fh:
            yield fh
        if part:
            os.chmod(part, stat.S_IMODE(target.stat().st_mode) if target.exists() else 0o666 & ~current_umask())
            os.replace(part, target)
            part = None
    finally:
        if part:
            Path(part).unlink(missing_ok=True)


_STREAMS = ("/dev/stdout", "/dev/stderr", "/dev/fd/", "/proc/")  # not /dev/shm, a plain tmpfs


def _replaceable(out: Path, target: Path) -> bool:
    """Whether ``target`` (``out`` with its links resolved) may be written by renaming a new file over it:
    a new file, or a plain one of ours with no other name. Else it is written in place, as a shell's
    ``>`` does: /dev/stdout (a redirected stdout resolves to the file, opened for appending, maybe),
    a device or pipe, a file another user owns (a sticky /tmp refuses the rename; a read-only one of
    root's must stay refused, not be replaced), and a hard-linked file (its other name kept the old text)."""
    hop = os.path.abspath(out)
    for _ in range(40):  # each link on the way: a link to /dev/stdout is stdout too
        if hop.startswith(_STREAMS):
            return False
        if not os.path.islink(hop):
            break
        hop = os.path.abspath(os.path.join(os.path.dirname(hop), os.readlink(hop)))
    try:
        info = target.stat()
    except FileNotFoundError:
        return True
    except OSError:
        return False
    return stat.S_ISREG(info.st_mode) and info.st_nlink == 1 and info.st_uid == os.geteuid() and \
        os.access(target, os.W_OK)


def current_umask() -> int:
    """This process's umask (read by setting it, then set back)."""
    umask = os.umask(0o022)
    os.umask(umask)
    return umask


def time_bounds(column: str, since: str | None, until: str | None) -> tuple[list[str], list[str]]:
    """The SQL conditions ``column`` in [since, until) for the bounds given (canonical times), and their
    arguments: none when both ends are open.

    >>> time_bounds("ts", "2026-11-24T00:00:00Z", None)
    (['ts >= ?'], ['2026-11-24T00:00:00'])
    """
    conditions, args = [], []
    for stamp, op in ((since, ">="), (until, "<")):
        if stamp:
            conditions.append(f"{column} {op} ?")
            args.append(sql_bound(stamp))
    return conditions, args


def sql_bound(stamp: str | None) -> str | None:
    """A canonical time as the bound of an SQL comparison with stored ``ts``, written without its 'Z':
    a stored time with a fraction of a second ('...T00:00:00.250Z') then compares after the whole
    second it falls in, as it should ('.' sorts before 'Z', so '...00.250Z' < '...00Z' as text).

    >>> "2026-11-25T00:00:00.250Z" >= sql_bound("2026-11-25T00:00:00Z") > "2026-11-24T23:59:59.999Z"
    True
    """
    return stamp.removesuffix("Z") if stamp else stamp


def format_bound(value: Any) -> str | None:
    """A --since / --until value as a canonical time; one outside 1990-2099 is clamped to those bounds,
    so ``--since 1970-01-01`` still means "from the start" (None when it is not a time at all).

    >>> format_bound("1970-01-01"), format_bound("2200-01-01"), format_bound("2026-11-25"), format_bound("soon")
    ('1990-01-01T00:00:00Z', '2100-01-01T00:00:00Z', '2026-11-25T00:00:00Z', None)
    """
    stamp = format_time(value)
    if stamp is not None:
        return stamp
    parsed = _parse_time(value)
    if parsed is None or pd.isna(parsed):
        return None
    try:
        return EARLIEST if parsed < _EARLIEST else LATEST
    except (TypeError, ValueError, OverflowError):
        return None


def _in_bounds(stamp: pd.Timestamp) -> bool:
    try:
        return _EARLIEST <= stamp < _LATEST
    except (TypeError, ValueError, OverflowError):
        return False


def _day(stamp: pd.Timestamp) -> str:
    return f"{stamp.year:04d}-{stamp.month:02d}-{stamp.day:02d}"


def _parse_time(value: Any, day_first: bool = False) -> pd.Timestamp | None:
    if value is None:
        return None
    if isinstance(value, bool) or (isinstance(value, str) and not any(c.isdigit() for c in value)):
        return None  # pandas reads words such as "now" or "today" as times
    try:
        if isinstance(value, (int, float)) or (isinstance(value, str) and is_number(value)):
            number = float(value)  # micro- and nanoseconds too, as drift reads them (QA: 'is 58805-11-08')
            unit = {1e6: "us", 1e9: "ns"}.get(epoch_unit(abs(number)) or 0.0)
            return pd.Timestamp(number, unit=unit or ("ms" if abs(number) > EPOCH_MS_ABOVE else "s"), tz="UTC")
        value = numeric_date_as_iso(value, day_first)
        if value is None:  # day and month that do not fit the one order they are read in
            return None
        stamp = pd.Timestamp(value)
        if isinstance(value, str) and _undated(value, stamp):
            return None  # '09:30' alone: pandas gives it today's date (QA), and a rerun on another day derived other ids
    except (ValueError, TypeError, OverflowError, pd.errors.OutOfBoundsDatetime):
        return None
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def _dateless(text: str) -> bool:
    """Whether pandas reads ``text`` as a time only by taking today's date (see ``_dated``)."""
    try:
        written = numeric_date_as_iso(text)
        return isinstance(written, str) and _undated(written, pd.Timestamp(written))
    except (ValueError, TypeError, OverflowError, pd.errors.OutOfBoundsDatetime):
        return False


def _undated(text: str, stamp: pd.Timestamp) -> bool:
    """Whether ``text`` (as ``numeric_date_as_iso`` writes it), read by pandas as ``stamp``, took its date
    from today: no ISO date at its start, nor a day, month and year of its own (``_dated``)."""
    return not _ISO_DAY.match(text) and not _dated(text, stamp)


_ISO_DAY = re.compile(r"\s*\d{4}-\d{2}-\d{2}")
_ODD_DAYS = (datetime(1901, 2, 3), datetime(1904, 1, 5))


def _dated(text: str, stamp: pd.Timestamp) -> bool:
    """Whether ``text``, read by pandas as ``stamp``, wrote its year, month and day: read again with an
    odd default date, none of them comes from it (pandas fills a missing one from today).

    >>> [format_time(t) for t in ("01-MAR-26", "Mar 1 26", "Sun, 1 Mar 26 11:00:00 +0100", "10:30:00.123456",
    ...                           "09:30 +0100", "10:30 2026", "Mar 1 11:00:00")]
    ['2026-03-01T00:00:00Z', '2026-03-01T00:00:00Z', '2026-03-01T10:00:00Z', None, None, None, None]
    >>> format_time("10:30 30"), format_time("10:30 12")  # a lone day, whatever its number (review)
    (None, None)
    """
    from dateutil import parser

    shape = _DIGIT.sub("9", text)  # which parts a text writes is its shape's: decided once a shape (a
    known = _DATED_SHAPES.get(shape)  # second parse of every row cost 70 s a million rows, review)
    if known is not None:
        return known
    for default in _ODD_DAYS:  # the second: a lone day 29-31 or 29 February, which the first cannot hold
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # UnknownTimezoneWarning for 'CET': pandas read it already
                odd = parser.parse(text, default=default)
        except (ValueError, OverflowError, TypeError):
            continue
        dated = (odd.year, odd.month, odd.day) == (stamp.year, stamp.month, stamp.day)
        if len(_DATED_SHAPES) > 10_000:
            _DATED_SHAPES.clear()
        _DATED_SHAPES[shape] = dated
        return dated
    return True  # pandas reads it where dateutil cannot: as pandas says (not kept for its shape)


_DIGIT = re.compile(r"\d")
_DATED_SHAPES: dict[str, bool] = {}


# 'GMT+0100', 'UTC+01:00', 'GMT+1' (JavaScript's Date.toString, .NET) mean an hour ahead of UTC; dateutil
# reads a sign after GMT or UTC the POSIX way, an hour behind (QA: 11:00 GMT+0100 stored as 12:00Z)
_GMT_OFFSET = re.compile(r"\s*(?<![A-Za-z])(?:GMT|UTC)\s*([+-])(\d{1,2})(?::?(\d{2}))?\b")


def _iso_offset(match: re.Match) -> str:
    """``_GMT_OFFSET``'s match as an ISO offset.

    >>> [format_time(t) for t in ("Sun Mar 01 2026 11:00:00 GMT+0100", "2026-03-01 11:00:00 UTC+01:00",
    ...                           "2026-03-01T11:00:00GMT-5", "2026-03-01 11:00 GMT", "09:30", "10:00:00Z")]
    ['2026-03-01T10:00:00Z', '2026-03-01T10:00:00Z', '2026-03-01T16:00:00Z', '2026-03-01T11:00:00Z', None, None]
    >>> format_time("Sun Mar 01 2026 11:00:00 GMT+0100 (Central European Standard Time)")  # JavaScript's whole
    '2026-03-01T10:00:00Z'
    """
    sign, hours, minutes = match.groups()
    return f" {sign}{int(hours):02d}:{minutes or '00'}"


# a date written with the day and the month first and the year last: 03/06/2026, 06.03.2026, 06-03-2026
NUMERIC_DATE = re.compile(r"\s*(\d{1,2})([/.-])(\d{1,2})\2(\d{4})(?=$|[\sT,])(?:,\s*|\s+)?(.*)$", re.S)


def numeric_date_as_iso(value: Any, day_first: bool = False) -> Any:
    """A date written day and month first as the ISO text pandas reads one way (None when it does not
    fit the order novelty reads it in); any other value as it is. ``drift --time-col`` uses it so its
    windows put a row on the day ``score`` does.

    >>> [numeric_date_as_iso(v) for v in ("06.03.2026 10:00", "13/03/2026", "2026-03-06", 5)]
    ['2026-03-06 10:00', None, '2026-03-06', 5]
    """
    if not isinstance(value, str):
        return value
    # JavaScript's Date.toString() ends with its zone's name: '(Central European Standard Time)'
    value = _GMT_OFFSET.sub(_iso_offset, _ZONE_NAME.sub("", value)) if "GMT" in value or "UTC" in value else value
    if numeric := NUMERIC_DATE.match(value):
        return _iso_date(numeric, day_first)
    return value


_ZONE_NAME = re.compile(r"(?<=\d)\s*\([A-Za-z][A-Za-z .'-]*\)\s*$")


def _iso_date(match: re.Match, day_first: bool = False) -> str | None:
    """One reading for every row: slashes month first (the US 03/06/2026 is March 6) unless
    ``day_first``, dots and dashes day first (06.03.2026 is March 6). pandas took 06/03 month first and
    13/03 day first, silently, in the same file. None when the numbers do not fit that order (13/03/2026)."""
    first, sep, second, year, rest = match.groups()
    month, day = (int(first), int(second)) if sep == "/" and not day_first else (int(second), int(first))
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return None
    return f"{year}-{month:02d}-{day:02d}" + (f" {rest}" if rest and not rest.startswith("T") else rest)


def is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False
