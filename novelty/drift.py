"""Tabular drift between a reference table and a current one, feature by feature.

Numeric features: two-sample KS (the classic default, p < 0.05) with the Wasserstein distance in units
of the reference's spread, PSI and Jensen-Shannon beside it. Categorical features: chi-square with PSI
and Jensen-Shannon. Benjamini-Hochberg controls the false-discovery rate across features, and a
feature only counts as drifted when its change is significant **and** large enough to matter
(``min_effect``): on a million rows KS finds a 1 % shift "significant", and nobody should be paged
for it. Before any of that, each feature is checked for the two causes that are not drift at all:
unavailability (missing column, type change, nulls or a default value taking over) and recalibration
(same shape, another unit or scale).
"""

from __future__ import annotations

import csv
import gzip
import io
import itertools
import json
import math
import re
import unicodedata
import warnings
import zlib
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pandas as pd
from scipy.stats import binomtest, chi2_contingency, fisher_exact, ks_2samp, wasserstein_distance

from .errors import InputError, check_argument
from .logs import (EARLIEST, EPOCH_MS_ABOVE, LATEST, NUMERIC_DATE, OPEN_QUOTE, check_file, csv_table, detect_format,
                   epoch_unit, field_separator, is_number, is_utf8, label_form, numbered_rows, numeric_date_as_iso, open_text,
                   parquet_source, refuse_overwrite, refuse_replacing, repeated_columns, whole_number, write_whole)
from .stats import benjamini_hochberg, p_text

PROFILE_FORMAT = "novelty-reference-profile/1"
SAMPLE = 20_000  # reference values kept per numeric feature in a saved profile


@dataclass(frozen=True)
class DriftSettings:
    """When a change counts. Defaults: documented in the README, chosen so that null tables stay
    quiet at any size while a tenth of a standard deviation of shift is caught."""

    fdr: float = 0.05             # Benjamini-Hochberg level across features
    min_effect: float = 0.1       # numeric: Wasserstein / reference spread
    min_psi: float = 0.1          # categorical: population stability index
    null_jump: float = 0.05       # extra share of nulls that makes a feature unavailable
    takeover: float = 0.2         # extra share of one value (a default) that makes it unavailable
    rescale: float = 2.0          # quantile slope beyond this factor (or below its inverse): recalibration

    def __post_init__(self) -> None:
        for name in ("fdr", "min_effect", "min_psi", "null_jump", "takeover", "rescale"):  # fdr='0.05': a TypeError
            check_argument(name, getattr(self, name), float, "a number")
        if not 0 < self.fdr < 1:
            raise InputError(f"--fdr is a false-discovery rate between 0 and 1 (e.g. 0.05), not {self.fdr}")
        for name, flag in (("min_effect", "--min-effect"), ("min_psi", "--min-psi"), ("null_jump", "null_jump"),
                           ("takeover", "takeover")):  # the one that is wrong, by the name it was given as
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise InputError(f"{flag} must be a finite number >= 0, not {value}")
        if not (math.isfinite(self.rescale) and self.rescale > 1):  # was blamed on --min-effect
            raise InputError(f"rescale is the slope factor that makes a recalibration, a finite number > 1 (e.g. "
                             f"2.0), not {self.rescale}")


@dataclass(frozen=True)
class DriftFinding:
    feature: str
    kind: str                      # numeric | categorical
    cause: str | None              # feature_drift | feature_recalibration | feature_unavailable | None
    test: str | None = None        # ks | chi2
    p_value: float | None = None
    q_value: float | None = None
    effect: float | None = None    # the gating effect size (normalised Wasserstein or PSI)
    psi: float | None = None
    js: float | None = None
    share_affected: float | None = None
    evidence: str = ""
    details: dict = field(default_factory=dict)


@dataclass(frozen=True)
class DriftReport:
    reference_rows: int
    current_rows: int
    findings: list[DriftFinding]
    not_checked: list[str]

    @property
    def drifted(self) -> list[DriftFinding]:
        return [f for f in self.findings if f.cause]

    def to_dict(self) -> dict:
        return {"reference_rows": self.reference_rows, "current_rows": self.current_rows,
                "drifted": [f.feature for f in self.drifted], "not_checked": self.not_checked,
                "findings": [asdict(f) for f in self.findings]}


# -- reading ------------------------------------------------------------------------------------------
def read_table(path: str | Path, text_columns: tuple[str, ...] = (), keep_inf: bool = False,
               words_as_written: bool = False) -> pd.DataFrame:
    """A whole feature table: CSV, TSV, JSONL or Parquet (gzip too). ``text_columns`` (keys, ids) are
    read from CSV as written, so 00123 stays 00123. Infinities count as missing unless ``keep_inf``
    (skew: inf on one side and null on the other is a difference). ``words_as_written``: a CSV cell
    reading 'None', 'NA' or 'null' stays that text, as JSON and Parquet keep it (golden: 'None' is
    the intent of every LUIS app); only a blank one (or \\N) is missing. Lines that cannot be a row (more
    fields than the header, invalid JSON) are set aside: ``set_aside(frame)`` says how many, and why.
    Parquet bytes (a hash, text stored without its UTF-8 annotation) come as text: UTF-8 where they
    decode, else hex."""
    path = check_file(Path(path), "a file inside it")  # (detect_format's words are for logs)
    kind = detect_format(path)
    aside: list[tuple[int, str]] = []
    try:
        twice = repeated_columns(path)  # pandas reads the second as 'x.1': golden scored the first of two
        if twice:                       # 'prediction' columns without a word; pyarrow dumps its schema
            raise InputError(f"{path}: the header names {', '.join(map(repr, twice))} more than once; keep one "
                             "of each (or rename the others)")
        if kind == "parquet":
            frame = _bytes_as_text(_read_parquet(path, text_columns))
        elif kind == "jsonl":
            frame = _read_jsonl(path, aside, text_columns)
        else:
            separator = field_separator(path)
            frame = _csv_table(path, separator, _as_written(path, separator, text_columns), aside,
                               words_as_written)
            frame = _commas(frame, separator, text_columns)
            names = [str(c).strip() for c in frame.columns]  # ' label ': as score and feedback read headers
            if len(set(names)) < len(names):
                raise InputError(f"{path}: the header names a column twice once the spaces around the names go "
                                 f"({', '.join(repr(c) for c in frame.columns)}); keep one of each")
            frame.columns = names
    except (ValueError, OSError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read it as a table ({str(exc).strip()})") from None
    if aside:
        aside.sort()
        frame.attrs["set_aside"] = {"rows": len(aside), "first": f"line {aside[0][0]}: {aside[0][1]}"}
    _nested_as_text(frame)
    # 'durée' typed composed in one file and decomposed in the other (macOS) is one column: they were
    # 'missing' and 'new with the same distribution: renamed?', two names that print alike
    names = [nfc(c) for c in frame.columns]
    twice = sorted(str(n) for n, count in Counter(names).items() if count > 1)  # (names.count: 12 s at 20k columns)
    if twice:
        raise InputError(f"{path}: the header names {', '.join(map(repr, twice))} twice, written two ways in "
                         "Unicode (composed and decomposed); keep one")
    frame.columns = names
    numeric = frame.select_dtypes("number").columns
    if len(numeric) and not keep_inf:  # an infinite value is a broken one: counted as missing, not averaged
        frame[numeric] = frame[numeric].replace([np.inf, -np.inf], np.nan)
    return frame


def _as_written(path: Path, separator: str, columns: tuple[str, ...]) -> tuple[str, ...]:
    """``columns`` (names without their spaces, as tables are read) as the CSV's header spells them
    (' zip '), so they are read as text too: a key or a code named with spaces lost its zeros."""
    if not columns:
        return columns
    with open_text(path) as fh:
        header = next(csv.reader(fh, delimiter=separator), [])
    spelt = {name.strip().lstrip("\ufeff"): name for name in header}
    return tuple(dict.fromkeys([*columns, *(spelt[c] for c in columns if c in spelt)]))


def nfc(name):
    """A column name (or one a user typed) in Unicode's composed form: 'dure\u0301e' is 'durée'."""
    return unicodedata.normalize("NFC", name) if isinstance(name, str) else name


def _nested_as_text(frame: pd.DataFrame) -> None:
    """Lists and objects in a column (Parquet's list<>, a JSONL array) as JSON text, in place: one value
    each, as a category (comparing them crashed drift: 'the truth value of an array is ambiguous').

    >>> f = pd.DataFrame({"a": [np.array([1, 2]), None, [{"label": "card"}]], "b": [1, 2, 3]}); _nested_as_text(f)
    >>> f["a"].tolist()
    ['[1, 2]', None, '[{"label": "card"}]']
    """
    for name in frame.columns[(frame.dtypes == object).to_numpy()]:
        column = frame[name]
        nested = column.map(lambda v: isinstance(v, (list, tuple, dict, np.ndarray))).to_numpy(bool)
        if nested.any():
            frame[name] = column.astype(object)
            frame.loc[nested, name] = [json.dumps(_plain(v), ensure_ascii=False, default=str, sort_keys=True)
                                       for v in column[nested]]


def _plain(value):
    """numpy arrays and scalars inside a value as Python ones, for JSON; a whole float as an int, so a
    Parquet list<double>'s [1.0, 2.0] is the [1, 2] a JSONL writer wrote (review: it was drift).

    >>> _plain([np.float64(1.0), 2.5, {"b": np.array([3.0])}])
    [1, 2.5, {'b': [3]}]
    """
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value.tolist()]
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    value = value.item() if isinstance(value, np.generic) else value
    return int(value) if isinstance(value, float) and value.is_integer() and abs(value) < 2 ** 63 else value


def _read_parquet(path: Path, text_columns: tuple[str, ...]) -> pd.DataFrame:
    """A Parquet table; integer ``text_columns`` (keys, ids) with a gap come as text, not as floats:
    through float64, 19-digit ids (snowflakes) lost their last digits and paired with the wrong rows."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(parquet_source(path))
    frame = table.to_pandas()
    for name in text_columns:
        if name in table.column_names and pa.types.is_integer(table[name].type) \
                and pd.api.types.is_float_dtype(frame[name]):  # (a nullable Int64 column of pandas' came whole)
            frame[name] = np.array(table[name].cast(pa.string()).to_pylist(), dtype=object)
    return frame


def _bytes_as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Bytes values as text: UTF-8 where they decode, else hex.

    >>> _bytes_as_text(pd.DataFrame({"h": [b"ab", b"\\xff", None]})).h.tolist()
    ['ab', 'ff', nan]
    """
    for column in frame.columns[(frame.dtypes == object).to_numpy()]:
        values = frame[column]
        if values.map(lambda v: isinstance(v, bytes)).any():
            frame[column] = values.map(lambda v: _decoded(v) if isinstance(v, bytes) else v)
    return frame


def _decoded(value: bytes) -> str:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return value.hex()


# 1,5 and 1.234,5, with an exponent (1,5e-07), and the words a number column holds (inf, NaN): their
# column was read as text, 'type changed from numeric to categorical'
_COMMA_DECIMAL = re.compile(r"[+-]?(?:(?:\d+|\d{1,3}(?:\.\d{3})+)(?:,\d+)?(?:e[+-]?\d+)?|inf(?:inity)?|nan)",
                            re.IGNORECASE)


def _decimal_commas(frame: pd.DataFrame, text_columns: tuple[str, ...]) -> pd.DataFrame:
    """Numbers written with a decimal comma (1,5 or 1.234,5), as a spreadsheet in a comma-decimal
    locale saves them beside its ';', read as numbers: a column converts only when every value is such a
    number and one has a comma (else 1.5 or 2024.01 could be misread), ids and keys stay text.

    >>> _decimal_commas(pd.DataFrame({"a": ["1,5", "2", None], "b": ["1.5", "x", "2,0"]}), ()).a.tolist()
    [1.5, 2.0, nan]
    >>> _decimal_commas(pd.DataFrame({"a": ["1,5e-07", "inf", "-Inf", "NaN", "2"]}), ()).a.tolist()
    [1.5e-07, inf, -inf, nan, 2.0]
    """
    return _numbers_with_commas(frame, text_columns, _COMMA_DECIMAL,
                                lambda t: t.str.replace(".", "", regex=False).str.replace(",", ".", regex=False))


_THOUSANDS = re.compile(r"[+-]?(?:[1-9]\d{0,2}(?:,\d{3})+|\d+)(?:\.\d+)?(?:e[+-]?\d+)?|inf(?:inity)?|nan",
                        re.IGNORECASE)


def _thousands_commas(frame: pd.DataFrame, text_columns: tuple[str, ...]) -> pd.DataFrame:
    """Numbers written with thousands separators (1,234.56, as Excel and BI tools export them), read as
    numbers: a column converts only when every value is such a number and one has a separator, ids and
    keys stay text. (Read as text, a reference of plain numbers against a day of such values lost every
    value over 999 as 'not a number': a false drift; both files so written were 'nearly every value
    distinct', not judged.)

    >>> _thousands_commas(pd.DataFrame({"a": ["1,234.5", "12", None], "b": ["1,2", "3", "4"]}), ()).a.tolist()
    [1234.5, 12.0, nan]
    >>> _thousands_commas(pd.DataFrame({"b": ["1,2", "3,456"]}), ()).b.tolist()  # 1,2 is no thousand
    ['1,2', '3,456']
    >>> _thousands_commas(pd.DataFrame({"b": ["0,262", "1,234"]}), ()).b.tolist()  # nor is 0,262
    ['0,262', '1,234']
    """
    return _numbers_with_commas(frame, text_columns, _THOUSANDS, lambda t: t.str.replace(",", "", regex=False))


# a number written with its currency or unit: '$1,386.00', 'USD 12', '12.3 ms', '45 %', '3,50 €'
_CURRENCY = r"[$€£¥₹¢]|(?:USD|EUR|GBP|JPY|CHF|CAD|AUD|NZD|INR|CNY|SEK|NOK|DKK|PLN|BRL|MXN|ZAR|SGD|HKD)"
_UNIT_NAMES = ("ms|s|sec|secs|min|mins|h|hr|hrs|d|days|us|µs|ns|b|kb|mb|gb|tb|kib|mib|gib|bytes|kg|g|mg|lb|lbs|"
               "km|m|cm|mm|mi|ft|px|pt|°c|°f|°|x|kwh|w|kw|v|hz|khz|mhz|ghz|rpm|bpm")
_UNIT = re.compile(rf"(?P<sign>[+-]?)(?P<pre>(?:{_CURRENCY}) ?|)(?P<num>[+-]?\d[\d,.]*)"
                   rf"(?P<post>|(?: ?(?:%|{_CURRENCY}|(?i:{_UNIT_NAMES}))))")


def unit_numbers(values: pd.Series) -> pd.Series:
    """``values`` (text) with the numbers written with one currency sign or unit ('$1,386.00', '12.3 ms',
    '3,50 €') as those numbers, when they are at least ``MOSTLY_NUMBERS`` of the values; the rest (a
    'FREE' among prices) left as written, to count as words as among plain numbers. Read as text,
    'cents became dollars' was feature drift among single price strings ('$1,386.00' 0.0% -> 0.2%), not
    a recalibration by 100 (QA). Any other column comes back as it is.

    >>> unit_numbers(pd.Series(["$1,386.00", "-$3.5", "$2"] * 4 + ["FREE"])).tolist()[:3] + ["..."]
    [1386.0, -3.5, 2.0, '...']
    >>> unit_numbers(pd.Series(["12 ms", "4 s", "INV 0001", "2nd", "v1"])).tolist()
    ['12 ms', '4 s', 'INV 0001', '2nd', 'v1']
    >>> unit_numbers(pd.Series(["3,50 €", "1.234,5 €", "12 €"])).tolist()
    [3.5, 1234.5, 12.0]
    >>> unit_numbers(pd.Series(["0.500 s", "1.234 s", "2.5 s"])).tolist()  # one reading for the column (review)
    [0.5, 1.234, 2.5]
    """
    if not len(values) or pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return values
    spread = values.iloc[np.unique(np.linspace(0, len(values) - 1, min(200, len(values))).astype(int))]
    head = pd.Series([v.strip() for v in spread if isinstance(v, str)], dtype=object)  # over the column: a table
    if not len(head) or head.str.fullmatch(_UNIT).mean() < MOSTLY_NUMBERS:  # sorted on it begins with its '-'
        return values  # (review); most columns (free text, codes) stop here, on 200 values
    texts = values.map(lambda v: v.strip() if isinstance(v, str) else None)
    parts = texts.str.extract(f"^{_UNIT.pattern}$")
    found = parts["num"].notna() & (parts["pre"].fillna("") + parts["post"].fillna("")).ne("")
    if not found.any():
        return values
    unit = (parts["pre"].str.strip().fillna("") + "|" + parts["post"].str.strip().str.lower().fillna(""))[found]
    common = unit.mode().iloc[0]
    same = found & unit.reindex(values.index, fill_value="").eq(common)
    if same.mean() < MOSTLY_NUMBERS:  # two units in one column ('12 ms', '4 s'): not one scale
        return values
    digits = parts["num"][same]
    point, other_way = _decimal_mark(digits)
    plain = digits.str.replace("," if point == "." else ".", "", regex=False).str.replace(point, ".", regex=False)
    numbers = pd.to_numeric(parts["sign"][same] + plain, errors="coerce").mask(other_way)
    out = values.astype(object).copy()
    out[same & numbers.reindex(values.index).notna()] = numbers.dropna()
    return out


def _decimal_mark(digits: pd.Series) -> tuple[str, pd.Series]:
    """The decimal mark of a column of numbers written with separators, and which values are written the
    other way: one reading for the column (review: value by value, '0.500 s' was 500 beside '2.5 s'),
    voted by the values that read one way only ('1,386.00'; '0,262', '6,49', '5.99', '1234,5': a mark no
    thousands grouping writes; '1.234.567': a mark written twice is a thousands one), the majority's. The
    others (a stray '$12,5' among '$5.99') stay text, as a word among numbers does; a point when no
    value votes.

    >>> [_decimal_mark(pd.Series(v))[0] for v in (["1,386.00", "3"], ["3,50", "1.234,5"], ["1,234", "12"],
    ...                                            ["5.99"] * 9 + ["12,5"], ["-1,234", "5.99"], ["1234,567"])]
    ['.', ',', '.', '.', '.', ',']
    >>> _decimal_mark(pd.Series(["5.99"] * 9 + ["12,5"]))[1].tolist()[-2:]
    [False, True]
    """
    bare = digits.str.lstrip("+-")
    commas, points = bare.str.count(","), bare.str.count(r"\.")  # (a pattern: '.' alone is any character)
    last_comma = bare.str.rfind(",") > bare.str.rfind(".")

    def alone(mark: str, count: pd.Series) -> pd.Series:  # one mark, once, where no grouping puts one
        at = bare.str.rfind(mark)
        return (count == 1) & ((bare.str.len() - at - 1 != 3) | (at > 3) | bare.str.startswith("0" + mark))

    comma_vote = ((commas > 0) & (points > 0) & last_comma) | ((points == 0) & alone(",", commas)) \
        | ((commas == 0) & (points > 1))
    point_vote = ((commas > 0) & (points > 0) & ~last_comma) | ((commas == 0) & alone(".", points)) \
        | ((points == 0) & (commas > 1))
    mark = "," if comma_vote.sum() > point_vote.sum() else "."
    return mark, (point_vote if mark == "," else comma_vote)


def _commas(frame: pd.DataFrame, separator: str, text_columns: tuple[str, ...]) -> pd.DataFrame:
    """A comma-decimal locale's CSV (1,5 beside ';'); elsewhere 1,234.5 is a thousand (Excel, BI exports).
    A quoted "0,262" there is no thousand (QA: it was read as 262, a 'recalibration by 10^3'): it stays
    text, as "6,49" does, since one file alone cannot tell decimals from lists of two ("3,12"; review:
    reading them by a value below 1 read two files of one column two ways).

    >>> _commas(pd.DataFrame({"a": ["0,262", "6,49"], "b": ["1,2", "3"], "c": ["1,234", "7"]}), ",", ()).to_dict("list")
    {'a': ['0,262', '6,49'], 'b': ['1,2', '3'], 'c': [1234.0, 7.0]}
    """
    if separator == ";":
        return _decimal_commas(frame, text_columns)
    return _thousands_commas(frame, text_columns)


def _numbers_with_commas(frame: pd.DataFrame, text_columns: tuple[str, ...], pattern: re.Pattern,
                         plain: Callable[[pd.Series], pd.Series]) -> pd.DataFrame:
    """Each text column (not ``text_columns``) whose every value fullmatches ``pattern``, one at least
    with a comma, as the numbers ``plain`` writes its texts as."""
    for column in frame.columns:
        if column in text_columns or pd.api.types.is_numeric_dtype(frame[column]):
            continue
        present = frame[column].dropna()
        texts = present.astype(str).str.strip()
        if len(texts) and texts.str.contains(",", regex=False).any() and texts.str.fullmatch(pattern).all():
            frame[column] = pd.Series(plain(texts).astype(float), index=present.index).reindex(frame.index)
    return frame


MYSQL_NULL = "\\N"  # how MySQL, Hive and PostgreSQL's COPY dump a null: missing, as NULL and NaN are
_SKIPPED = re.compile(r"Skipping line (\d+): ([^\n]*)")  # pandas' warning for a line with too many fields


def _read_csv(path: Path, separator: str, text_columns: tuple[str, ...], aside: list[tuple[int, str]],
              skip: tuple[int, ...] = (), blank: tuple[int, ...] = (), words_as_written: bool = False
              ) -> pd.DataFrame:
    """pandas' C parser; a line with more fields than the header goes into ``aside`` as (line, reason).
    pandas skips such lines with a warning, except when the first data line is one: then it keeps
    every long line cut to the header's width and warns once, so those lines are found with the csv
    module and the file read again without them. The lines ``blank`` (where a quote is left open) are
    read as blank ones, so the lines after them are rows again. Other warnings pass on to the caller."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", pd.errors.ParserWarning)
        frame = pd.read_csv(_blanked(path, blank) if blank else path, sep=separator, low_memory=False,
                            dtype={c: str for c in text_columns}, na_values=[MYSQL_NULL, *([""] * words_as_written)],
                            keep_default_na=not words_as_written,
                            on_bad_lines="warn", index_col=False, skiprows=list(skip) or None)
    for w in caught:
        skipped = _SKIPPED.findall(str(w.message))
        if skipped:
            aside += [(int(line), reason.strip()) for line, reason in skipped]
        elif "Length of header" in str(w.message) and not skip:
            long = _long_lines(path, separator)
            aside += [(line, f"expected {fields} fields, saw {found}") for line, fields, found in long]
            return _read_csv(path, separator, text_columns, [], tuple(line - 1 for line, *_ in long), blank,
                             words_as_written) \
                if long else frame
        elif not issubclass(w.category, pd.errors.ParserWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return frame


def _csv_table(path: Path, separator: str, text_columns: tuple[str, ...], aside: list[tuple[int, str]],
               words_as_written: bool = False) -> pd.DataFrame:
    """``_read_csv``; read again with the lines where a quote is left open blanked when pandas failed
    at the end of the file or placed fewer rows than the file has lines (a quote closed lines later
    by a stray one merges them). Only then is the file read line by line: ordinary quoted fields
    ('Paris, FR') cost no second pass."""
    try:
        frame = _read_csv(path, separator, text_columns, aside, words_as_written=words_as_written)
    except (UnicodeDecodeError, pd.errors.ParserError) as exc:  # "EOF inside string"; one line of Latin-1
        undecodable = _undecodable_lines(path)                   # ('M\xfcnchen') refused the whole file
        opened = _open_quotes(path, separator)
        if not undecodable and not opened:
            raise exc from None
        if undecodable:
            _not_utf8(path, undecodable, _rows_placed(path) + 1)
    else:
        if _rows_placed(path) == len(frame) + len(aside):
            return _short_rows(path, separator, frame)
        opened, undecodable = _open_quotes(path, separator), []
        if not opened:
            return _short_rows(path, separator, frame)
    aside.clear()
    aside += sorted([(line, NOT_UTF8) for line in undecodable] +
                    [(line, OPEN_QUOTE) for line in opened if line not in undecodable])
    blank = tuple(sorted(set(undecodable) | set(opened)))
    return _short_rows(path, separator, _read_csv(path, separator, text_columns, aside, blank=blank,
                                                  words_as_written=words_as_written))


NOT_UTF8 = "not UTF-8 text"


def _not_utf8(path: Path, lines: list[int], total: int, header: bool = True) -> None:
    """An InputError when the lines that are not UTF-8 are the header or more than one in a thousand:
    a file saved in another encoding (Latin-1), whose rows with an accent setting aside would bias
    every column (30,060 of 40,000 rows of a city column left 'Paris' alone: "a constant filling in").
    A stray damaged line is set aside instead."""
    head = header and bool(lines) and lines[0] == 1
    if lines and (head or len(lines) > max(1, total // 1000)):
        raise InputError(f"{path}: {'its header (line 1)' if head else f'{len(lines):,} of {total:,} lines'} "
                         f"{'is' if head else 'are'} not UTF-8 text (first: line {lines[0]}): saved in "
                         "another encoding, such as Latin-1? Save it as UTF-8")


def _undecodable_lines(path: Path) -> list[int]:
    """The lines of ``path`` (numbered from 1) whose bytes are not UTF-8."""
    with open_text(path) as fh:
        return [number for number, line in enumerate(fh, start=1) if not is_utf8(line)]


def _short_rows(path: Path, separator: str, frame: pd.DataFrame) -> pd.DataFrame:
    """``frame``, noting the rows with fewer fields than the header (a line cut short: pandas reads the
    fields it lacks as empty, which drift then took for a feature outage). They are kept, since some
    writers leave trailing empty fields out; the note says how many. Read line by line only when the
    last column has a gap."""
    if len(frame.columns) < 2 or not frame[frame.columns[-1]].isna().any():
        return frame
    header, short = _rows_where(path, separator, lambda row, header: isinstance(row, list) and
                                0 < len(row) < _named_width(header))
    if short:
        frame.attrs["short_rows"] = {"rows": len(short), "first": f"line {short[0][0]}: {len(short[0][1])} of "
                                                                  f"{_named_width(header)} fields"}
    return frame


def _named_width(header: list[str]) -> int:
    """The fields a header names: 'a,b,c,' ends in a separator that names nothing.

    >>> _named_width(["a", "b", "c", ""]), _named_width(["a", "", "c"])
    (3, 3)
    """
    width = len(header)
    while width and not header[width - 1].strip():
        width -= 1
    return width


def _rows_placed(path: Path) -> int:
    """The non-blank lines past the header: the rows pandas places when no field holds a line break."""
    with open_text(path) as fh:
        return sum(1 for line in fh if line.strip()) - 1


def _rows_where(path: Path, separator: str, keep) -> tuple[list[str], list[tuple[int, list[str] | str]]]:
    """The header of ``path`` and (line, fields or why the row cannot be read) of each row for which
    ``keep(row, header)`` holds, read line by line (``logs.numbered_rows``); no rows without a header."""
    with open_text(path) as fh:
        header, source = csv_table(fh, separator)
        return header or [], [(start, row) for start, row, _ in numbered_rows(source, separator)
                              if keep(row, header)] if header else []


def _long_lines(path: Path, separator: str) -> list[tuple[int, int, int]]:
    """(line, fields in the header, fields found) of the rows longer than the header."""
    header, long = _rows_where(path, separator, lambda row, header: isinstance(row, list) and len(row) > len(header))
    return [(start, len(header), len(row)) for start, row in long]


def _open_quotes(path: Path, separator: str) -> list[int]:
    """The lines where a quote is left open (``logs.numbered_rows``); pandas would read on to the next
    quote, or fail at the end of the file. A file without a quote is not read twice."""
    with open_text(path) as fh:
        if not any('"' in line for line in fh):
            return []
    return [start for start, _ in _rows_where(path, separator, lambda row, header: row == OPEN_QUOTE)[1]]


def _blanked(path: Path, lines: tuple[int, ...]) -> io.StringIO:
    """The text of ``path`` with ``lines`` (numbered from 1) left empty: the other lines keep their
    numbers."""
    drop = set(lines)
    with open_text(path) as fh:
        return io.StringIO("".join("\n" if number in drop else line for number, line in enumerate(fh, start=1)))


def no_rows(path: str | Path, frame: pd.DataFrame, what: str) -> InputError:
    """The error for a table without a row: only a header, or every line malformed."""
    aside = frame.attrs.get("set_aside")
    why = f"every line malformed: {aside['rows']:,}, first {aside['first']}" if aside else "only a header?"
    return InputError(f"{path}: no rows ({why}): {what}")


def set_aside(frame: pd.DataFrame, path: str | Path) -> str | None:
    """What ``read_table`` set aside of ``path``, as a sentence, or None."""
    aside, short = frame.attrs.get("set_aside"), frame.attrs.get("short_rows")
    said = ([f"{aside['rows']:,} malformed lines set aside (first: {aside['first']})"] if aside else []) + \
        ([f"{short['rows']:,} lines with fewer fields than the header, the missing ones read as empty (first: "
          f"{short['first']}): a file cut short?"] if short else [])
    return f"{path}: {'; '.join(said)}" if said else None


def _read_jsonl(path: Path, aside: list[tuple[int, str]], text_columns: tuple[str, ...] = ()) -> pd.DataFrame:
    """One object a line, values as written: no guessing that a column named *_at or date holds
    dates (pandas' read_json does, so the same rows in CSV and JSONL would differ). A line that is
    not a JSON object goes into ``aside`` as (line, reason). Integers in ``text_columns`` beyond
    float's 2**53 come as text (beside a null, pandas made the column float: 19-digit ids collided)."""
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    records = []
    number = 0
    with opener(path, "rt", encoding="utf-8", errors="surrogateescape") as fh:
        for number, line in enumerate(fh, start=1):
            if not is_utf8(line):
                aside.append((number, NOT_UTF8))
            elif line.strip():
                try:
                    record = json.loads(line.removeprefix("\ufeff"))
                except (json.JSONDecodeError, RecursionError):
                    aside.append((number, "invalid JSON"))
                    continue
                if isinstance(record, dict):
                    for name in text_columns:
                        value = record.get(name)
                        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 2 ** 53:
                            record[name] = str(value)
                    records.append(record)
                else:
                    aside.append((number, "not a JSON object"))
    _not_utf8(path, [line for line, why in aside if why == NOT_UTF8], number, header=False)
    if aside and not records:
        raise ValueError(f"no line is a JSON object (line {aside[0][0]}: {aside[0][1]})")
    return pd.DataFrame.from_records(records)


_WHOLE = re.compile(r"-?\d+(\.0+)?")


def as_text(values: pd.Series, each: bool = False) -> pd.Series:
    """Ids or labels as text, so 7 in one file pairs with "7" in another, and 7.0 (what a column of
    whole numbers with a gap is read as) with 7; missing values stay missing. A column of text keeps
    "7.0" as written unless every value is such a number, or ``each`` (labels: "1.0" is class 1 beside
    a new class "crypto", as ``logs.label_value`` stores it).

    >>> as_text(pd.Series([7.0, None, 12.0])).tolist(), as_text(pd.Series(["007", "a"])).tolist()
    (['7', None, '12'], ['007', 'a'])
    >>> as_text(pd.Series(["7.0", "012.0"])).tolist()  # read as text from a CSV pandas wrote
    ['7', '012']
    >>> as_text(pd.Series([" 12 ", "  "])).tolist()  # padding is not part of an id; a blank is none
    ['12', None]
    >>> as_text(pd.Series(["1.0", "crypto"])).tolist(), as_text(pd.Series(["1.0", "crypto"]), each=True).tolist()
    (['1.0', 'crypto'], ['1', 'crypto'])
    """
    present = values.dropna()
    if pd.api.types.is_float_dtype(values) and len(present) and (present % 1 == 0).all() \
            and (present.abs() < 2 ** 63).all():
        values = values.astype("Int64")
    texts = [None if pd.isna(v) or not str(v).strip() else str(v).strip() for v in values]  # ' 12 ' is 12
    if each:  # labels: one intent typed two ways is one label, as logs.label_value stores predictions
        texts = [label_form(t) if t is not None else t for t in texts]
    if each or (texts and all(t is None or _WHOLE.fullmatch(t) for t in texts)):
        texts = [t.split(".")[0] if t is not None and _WHOLE.fullmatch(t) else t for t in texts]
    return pd.Series(texts, index=values.index, dtype=object)


def join_keys(a: pd.Series, b: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Two key columns as text for a join. When one side holds numbers (Parquet, JSONL) and the other
    text (a CSV read as written), the text's digits drop their leading zeros, so 123 meets '00123'.

    >>> [s.tolist() for s in join_keys(pd.Series([123, 7]), pd.Series(["00123", "x7"]))]
    [['123', '7'], ['123', 'x7']]
    """
    left, right = as_text(a), as_text(b)
    numeric_a, numeric_b = (pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s) for s in (a, b))
    if numeric_a != numeric_b:
        def plain(s):
            return s.map(lambda v: str(int(v)) if isinstance(v, str) and v.isdigit() else v)
        left, right = (left, plain(right)) if numeric_a else (plain(left), right)
    return left, right


def no_pair_hint(sides: dict[str, Sequence], noun: str) -> str:
    """What to say when no key of two tables pairs: a few of each side's (``sides``: name -> its keys, in
    order; ``noun``: 'keys', 'ids'), and whether they would pair without their leading zeros ('00001000'
    in one CSV, '1000' in another: two codes as text, so not paired).

    >>> no_pair_hint({"offline": ["00001000", "00001001"], "serving": ["1000", "7"]}, "keys")
    " (offline keys such as '00001000', '00001001'; serving keys such as '1000', '7'); they pair once leading zeros go ('00001000' and '1000'): if the zeros are only padding, write the keys one way in both files"
    """
    def plain(k):
        return k.lstrip("0") or "0" if isinstance(k, str) and k.isdigit() else k

    examples = "; ".join(f"{name} {noun} such as {', '.join(map(repr, itertools.islice(keys, 3)))}"
                         for name, keys in sides.items() if len(keys))
    a, b = sides.values()
    first = {plain(k): k for k in a if k is not None}
    pair = next(((first[plain(k)], k) for k in b if k is not None and plain(k) in first), None)
    return (f" ({examples})" if examples else "") + (
        f"; they pair once leading zeros go ({pair[0]!r} and {pair[1]!r}): if the zeros are only padding, "
        "write the keys one way in both files" if pair else "")


def respelt_keys(a: Sequence, b: Sequence) -> dict:
    """Unpaired keys of two sides that are one number written with and without leading zeros (skew's
    offline and serving keys, golden's baseline and current ids): said, not paired, as '0007' and '7'
    may be two ids.

    >>> respelt_keys(["0007", "0008", "x"], ["7", "9"])
    {'keys': 1, 'examples': [['0007', '7']]}
    """
    def bare(key) -> str | None:
        text = str(key).strip()
        return text.lstrip("0") or "0" if text.isdigit() else None
    other = {}
    for key in b:
        other.setdefault(bare(key), key)  # None: not digits, never looked up
    pairs = [[key, other[plain]] for key in a if (plain := bare(key)) is not None and plain in other
             and str(key) != str(other[plain])]
    return {"keys": len(pairs), "examples": pairs[:5]} if pairs else {}


# the current table's sample is another draw than the reference's (seed 0): the same rank positions of two
# like tables made near-copies, and KS p-values near 1 for no drift past SAMPLE rows (QA: 24 of 24 >= 0.77)
CURRENT_SEED = 1


def profile(frame: pd.DataFrame, ignore: set[str] = frozenset(), seed: int = 0) -> dict:
    """What the drift tests need of a reference table: kinds, null rates, a value sample, counts."""
    columns = {}
    for name in frame.columns:
        if name in ignore:
            continue
        column = frame[name]
        if column.dtype == object or pd.api.types.is_string_dtype(column):  # a blank, and a dump's \N, is
            column = column.mask(_blank(column) | column.eq(MYSQL_NULL))      # missing in every format
        values = unit_numbers(column.dropna())  # '$1,386.00', '12.3 ms': numbers (an ISO time is none)
        numeric = _as_numeric(values)
        entry = {"rows": int(len(column)), "null_rate": float(column.isna().mean())}
        if looks_like_time(values, numeric):  # no mode (formatting 1M tz-aware times took 25 s): a default
            entry.update(kind="time", mode=None, mode_share=0.0,  # filling in is a time out of range
                         odd_time_rate=_odd_times(values) * (1 - entry["null_rate"]))
        elif numeric is not None:
            # the same sample whatever the order of the rows and of the other columns: sorted values, a
            # draw seeded by the column's name (one draw for all columns made shuffled rows, or another
            # --ignore, move an effect from 0.093 to 0.104, across the gate)
            rng = np.random.default_rng([seed, zlib.crc32(str(name).encode())])
            sample = numeric if len(numeric) <= SAMPLE else rng.choice(np.sort(numeric), SAMPLE, replace=False)
            words = len(values) - len(numeric)  # text among the numbers: a broken value, missing as a null is
            if words:
                parsed = _finite(pd.to_numeric(values, errors="coerce")).notna()
                entry.update(null_rate=entry["null_rate"] + words / len(column), not_numbers=words,
                             not_number_example=str(values[~parsed].iloc[0]))
                values = values[parsed]
            entry.update(kind="numeric", values=np.sort(sample).tolist(), **_mode(values))
        else:
            counts = {str(k): int(v) for k, v in values.astype(str).value_counts().items()}
            entry.update(kind="categorical", counts=counts, **_mode(values))
            _one_bool_spelling(entry)  # True/False, "true"/"FALSE": one spelling in every format
            _one_number_spelling(entry)  # 1.0 and 1 among words: one code
        columns[str(name)] = entry
    return {"format": PROFILE_FORMAT, "rows": int(len(frame)), "columns": columns}


def load_reference(path: str | Path, ignore: set[str] = frozenset()) -> dict:
    """A saved profile (``--save-reference``) or a table to profile now."""
    saved = _saved_profile(Path(path))
    if saved:  # a profile saved with the time column (or before --ignore) leaves them out now too
        columns = {nfc(k): v for k, v in saved["columns"].items() if nfc(k) not in ignore}  # (tables read NFC)
        for name, entry in columns.items():  # saved before booleans had one spelling: True/False as written
            entry = _mysql_nulls_missing(entry)
            _one_bool_spelling(entry)
            _one_number_spelling(entry)
            columns[name] = _numbers_with_words(entry)
        named = {key: [nfc(n) for n in saved[key]] for key in ("names", "ignored") if key in saved}
        return {**saved, **named, "columns": columns}
    frame = read_table(path)
    aside = set_aside(frame, path)  # said beside the verdict; not saved with the profile
    return {**profile(frame, ignore), "names": list(map(str, frame.columns)), **({"set_aside": aside} if aside else {})}


def _mysql_nulls_missing(entry: dict) -> dict:
    """A categorical entry saved before ``\\N`` was read as a null: its ``\\N`` count as missing, as
    the current table's are now (the first run after the upgrade said 'missing values rose to 20 %').

    >>> _mysql_nulls_missing({"kind": "categorical", "rows": 10, "null_rate": 0.0, "mode": "GB", "mode_share": 0.8,
    ...                       "counts": {"GB": 8, MYSQL_NULL: 2}})["null_rate"]
    0.2
    """
    counts = entry.get("counts") if entry.get("kind") == "categorical" else None
    if not counts or MYSQL_NULL not in counts or not entry.get("rows"):
        return entry
    nulls = counts[MYSQL_NULL]
    rest = {k: v for k, v in counts.items() if k != MYSQL_NULL}
    present = sum(rest.values())
    top = max(rest, key=rest.get) if rest else None
    entry = {**entry, "counts": rest, "null_rate": entry.get("null_rate", 0.0) + nulls / entry["rows"],
             "mode": top, "mode_share": rest[top] / present if top else 0.0}
    if rest and all(is_number(k) for k in rest):  # numbers but for \N: numeric now, as the table is profiled
        return _numeric_entry(entry, [(float(k), n) for k, n in rest.items()])
    return entry


def _saved_profile(path: Path) -> dict | None:
    """The profile saved in ``path`` (``--save-reference``), or None when it holds anything else."""
    if not (path.is_file() and _may_be_profile(path)):
        return None
    try:
        saved = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    if not isinstance(saved, dict) or not ("format" in saved and "columns" in saved):
        return None  # (a JSON table of one row, say)
    if saved["format"] != PROFILE_FORMAT:  # read as a one-row table, its keys were 'unavailable features'
        raise InputError(f"{path}: a reference profile of format {saved['format']!r}, which this version of "
                         f"novelty does not read (it reads {PROFILE_FORMAT!r}); save it again with "
                         "--save-reference, or upgrade novelty")
    problem = _profile_problem(saved)
    if problem:
        raise InputError(f"{path}: not a usable reference profile ({problem}); was it edited? Save it again "
                         "with --save-reference")
    return saved


def _replaceable_profile(path: Path) -> bool:
    """Whether ``path`` holds a profile saved before (of any format or state): saving again replaces it."""
    try:
        return _saved_profile(path) is not None
    except InputError:  # another format, or damaged: a profile all the same
        return True


def _words_now(ref: dict, cur: dict) -> str:
    """What turned a numeric column into text: its words' share and the commonest (QA: 40 % 'unknown'
    was said as 'type changed from numeric to categorical' alone).

    >>> _words_now({"kind": "numeric"}, {"kind": "categorical", "rows": 10, "counts": {"unknown": 4, "3.5": 6}})
    ": 40.0% of rows hold text, such as 'unknown' (4 rows)"
    """
    counts = cur.get("counts") if ref["kind"] == "numeric" and cur["kind"] == "categorical" else None
    words = {value: n for value, n in (counts or {}).items() if not is_number(str(value))}
    if not words or not cur.get("rows"):
        return ""
    top = max(words, key=words.get)
    return (f": {sum(words.values()) / cur['rows']:.1%} of rows hold text, such as {str(top)[:40]!r} "
            f"({words[top]:,} rows)")


def _profile_problem(saved: dict) -> str | None:
    """What makes a saved profile unusable (an edit, a truncation), or None.

    >>> _profile_problem({"rows": 10, "columns": {"age": None}})
    "column 'age' is not a profile entry"
    """
    def number(v) -> bool:
        return isinstance(v, (int, float)) and not isinstance(v, bool)

    if not (isinstance(saved.get("rows"), int) and not isinstance(saved["rows"], bool) and saved["rows"] >= 0):
        return "'rows' is not a count"
    if not isinstance(saved.get("columns"), dict):
        return "'columns' is not an object"
    for name, entry in saved["columns"].items():
        if not isinstance(entry, dict) or entry.get("kind") not in {"numeric", "categorical", "time"}:
            return f"column {name!r} is not a profile entry"
        if not number(entry.get("null_rate")) or not number(entry.get("mode_share")):
            return f"column {name!r} has no null rate or mode share"
        if entry["kind"] == "numeric" and not (isinstance(entry.get("values"), list)
                                               and all(map(number, entry["values"]))):
            return f"numeric column {name!r} has no list of values"
        if entry["kind"] == "categorical" and not (isinstance(entry.get("counts"), dict)
                                                   and all(map(number, entry["counts"].values()))):
            return f"categorical column {name!r} has no counts"
    return None


def _may_be_profile(path: Path) -> bool:
    """A .json file (any case), or a file of no table extension that starts like a JSON object."""
    suffix = path.suffix.lower()
    if suffix == ".json":
        return True
    if suffix in {".csv", ".tsv", ".jsonl", ".ndjson", ".parquet", ".pq", ".gz"}:
        return False
    with path.open("rb") as fh:
        return fh.read(1) == b"{"


def _as_numeric(values: pd.Series) -> np.ndarray | None:
    # true/false with a gap is read as objects, which to_numeric would turn into 1.0 and 0.0
    if values.dtype == bool or pd.api.types.infer_dtype(values, skipna=True) == "boolean":
        return None
    if pd.api.types.is_numeric_dtype(values):
        return values.to_numpy(dtype=float)
    parsed = pd.to_numeric(values, errors="coerce")
    parsed = parsed[~np.isinf(parsed.astype(float))]  # 'inf' among words: missing, as in a number column
    if len(parsed) and parsed.notna().mean() >= MOSTLY_NUMBERS:  # the rest ('abc', 'N/A') count as missing
        return parsed.dropna().to_numpy(dtype=float)
    return None


def _finite(numbers: pd.Series) -> pd.Series:
    """Infinities as missing: the text 'inf' in a column read as text (it holds a word too) became a
    real infinity, and a 15 % outage of them was 'effect nan < 0.1' (review).

    >>> _finite(pd.Series([1.0, float("inf"), -float("inf")])).tolist()
    [1.0, nan, nan]
    """
    return numbers.where(np.isfinite(numbers.astype(float)))


MOSTLY_NUMBERS = 0.9  # a column whose values are numbers but for up to a tenth ('unknown') is numeric


def _blank(column: pd.Series) -> pd.Series:
    """True where a value is text of spaces only (or empty); other values, numbers included, False.

    >>> _blank(pd.Series(["a", " ", "", None, 3, True])).tolist()
    [False, True, True, False, False, False]
    """
    try:
        stripped = column.str.strip()
    except AttributeError:  # no text at all (booleans in an object column)
        return pd.Series(False, index=column.index)
    return stripped.eq("").fillna(False).astype(bool)


def _odd_times(values: pd.Series) -> float:
    """The share of times outside 1990-2099 or unreadable: 1970-01-01, 1900-01-01, 9999-12-31 are what
    a pipeline writes when it has no time, and they count like nulls.

    >>> _odd_times(pd.Series(["2026-11-24T10:00:00Z", "1970-01-01T00:00:00Z", "9999-12-31", "soon"]))
    0.75
    """
    if not len(values):
        return 0.0
    if pd.api.types.is_datetime64_any_dtype(values):
        stamps = values if values.dt.tz is not None else values.dt.tz_localize("UTC")
    else:
        texts = values.astype(str)
        iso = _iso_times(texts)
        stamps = pd.to_datetime(texts if iso is None else iso, errors="coerce", utc=True, format="ISO8601")
    inside = (stamps >= pd.Timestamp(EARLIEST)) & (stamps < pd.Timestamp(LATEST))
    return float(1 - inside.mean())


def _time_not_tested(name: str) -> DriftFinding:
    return DriftFinding(name, "time", None, evidence="a time column: nulls checked, its distribution not tested "
                        "(times move on)")


def _epoch_nanoseconds(ref: dict) -> bool:
    """Parquet datetimes as an older version profiled them: epoch numbers in 1990-2099, in the
    milli-, micro- or nanoseconds of the file's resolution."""
    values = ref.get("values") or []
    if ref["kind"] != "numeric" or not values:
        return False
    return epoch_unit(float(np.median(values))) in (1e3, 1e6, 1e9)


def looks_like_time(values: pd.Series, numeric: np.ndarray | None) -> bool:
    """Datetimes (Parquet) or text that reads as ISO times (CSV, JSONL): one kind in every format.

    >>> looks_like_time(pd.Series(["2026-11-24T10:00:00Z", "2026-11-25 08:30"]), None)
    True
    >>> looks_like_time(pd.Series(["a"]), None)
    False
    """
    if pd.api.types.is_datetime64_any_dtype(values):
        return True
    if numeric is not None or not len(values) or pd.api.types.infer_dtype(values, skipna=True) != "string":
        return False
    head = _iso_times(values.head(200).astype(str))
    return head is not None and bool(pd.to_datetime(head, errors="coerce", utc=True, format="ISO8601").notna().all())


_ISO_START = re.compile(r"\s*\d{4}-\d{2}-\d{2}")
_YEAR_FIRST = re.compile(r"(\s*\d{4})[/.](\d{1,2})[/.](\d{1,2})")


def _iso_times(texts: pd.Series) -> pd.Series | None:
    """Dates and times as ISO text, or None when some are not: 2026-11-24 as it is, 2026/11/24 and
    2026.11.24 rewritten, and 11/24/2026 or 24.11.2026 as ``score`` reads them (slashes month first,
    else day first where month first cannot be). They were profiled as categories, and every new day
    was 'no current value was in the reference': feature_unavailable.

    >>> _iso_times(pd.Series(["2026/01/05", "2026.1.6 10:00"])).tolist()
    ['2026-01-05', '2026-01-06 10:00']
    >>> _iso_times(pd.Series(["03/01/2026", "25/01/2026"])).tolist(), _iso_times(pd.Series(["a"]))
    (['2026-01-03', '2026-01-25'], None)
    """
    if texts.str.match(_ISO_START).all():
        return texts
    if texts.str.match(_YEAR_FIRST).all():
        return texts.str.replace(_YEAR_FIRST, lambda m: f"{m[1]}-{int(m[2]):02d}-{int(m[3]):02d}", regex=True)
    if not texts.str.match(NUMERIC_DATE).all():
        return None
    for day_first in (False, True):
        mapped = texts.map(lambda v: numeric_date_as_iso(v, day_first))
        if mapped.notna().all():
            return mapped
    return None


def _mode(values: pd.Series) -> dict:
    if values.empty:
        return {"mode": None, "mode_share": 0.0}
    # numbers are counted as numbers: as text, 1M floats took 0.5 s a column (the mode is text either way)
    counts = (values if pd.api.types.is_numeric_dtype(values) else values.astype(str)).value_counts()
    return {"mode": str(counts.index[0]), "mode_share": float(counts.iloc[0] / len(values))}


# -- comparing ----------------------------------------------------------------------------------------
def compare(reference: dict, current: pd.DataFrame, settings: DriftSettings = DriftSettings(),
            ignore: set[str] = frozenset()) -> DriftReport:
    """Every reference feature against the current table."""
    return _decided([_tested(reference, current, settings, ignore)], settings)[0]


def _tested(reference: dict, current: pd.DataFrame, settings: DriftSettings, ignore: set[str],
            name: str = "current table") -> DriftReport:
    """The findings of one table with their p-values, not yet decided (see ``_decided``)."""
    now = profile(current, ignore, seed=CURRENT_SEED)
    few = min(reference["rows"], now["rows"])
    if few < MIN_ROWS:
        return _too_few(reference, now, few, name)
    columns = {name: _as_reference_booleans(ref, now["columns"].get(name))
               for name, ref in reference["columns"].items()}
    chance = chance_bar(len(reference["columns"]))
    findings = [_unavailable(name, ref, columns[name], settings, chance) or _test(name, ref, columns[name], settings)
                for name, ref in reference["columns"].items()]
    new = [n for n in now["columns"] if n not in reference["columns"]]
    gone = sum(f.evidence == _GONE for f in findings)  # each pair is a test: a schema renamed whole is no rename
    spelt = defaultdict(list)  # Snowflake upper-cases names, a dbt model snake-cases them: 6 'missing'
    for n in new:              # and 6 'new' columns with no word (QA), however many
        spelt[_bare(n)].append(n)
    missing = Counter(_bare(f.feature) for f in findings if f.evidence == _GONE)

    def respelt(f: DriftFinding) -> str | None:
        """The one new column spelt as ``f``'s gone one, of its kind (one on each side: no guess)."""
        bare = _bare(f.feature)
        if f.evidence != _GONE or missing[bare] != 1 or len(spelt[bare]) != 1:
            return None
        name = spelt[bare][0]
        return name if now["columns"][name]["kind"] == reference["columns"][f.feature]["kind"] else None
    findings = [_spelt_apart(f, name) if (name := respelt(f)) is not None
                else _renamed(f, reference["columns"][f.feature], {n: now["columns"][n] for n in new}, settings)
                if f.evidence == _GONE and gone * len(new) <= 25 else f for f in findings]
    findings += [DriftFinding(n, now["columns"][n]["kind"], None, evidence="new column, not in the reference"
                              + _index_hint(n)) for n in new]
    nothing = [] if reference["columns"] else [  # an empty table read as 'no drift'
        "no feature column to compare: the reference has none, or every one is ignored"]
    return DriftReport(reference["rows"], now["rows"], findings, nothing)


_GONE = "column missing from the current table"


def _bare(name) -> str:
    """A column name without case and separators: 'User_ID', 'user id' and 'userid' are one."""
    return re.sub(r"[\s_.-]+", "", str(name)).casefold()


def _spelt_apart(finding: DriftFinding, new: str) -> DriftFinding:
    return replace(finding, evidence=f"{finding.evidence}; {new!r} is new, the same name spelt otherwise: renamed? "
                                     "(rename it back, or compare the tables with one spelling)")


def _renamed(finding: DriftFinding, ref: dict, new: dict[str, dict], settings: DriftSettings) -> DriftFinding:
    """A column gone beside the one new column of its kind and distribution: said, as a rename (QA:
    'country' gone and 'country_code' new, with the same counts, read as two unrelated lines). Two
    such new columns say nothing (any two normal columns pass); nor are more than 25 pairs tested."""
    alike = []
    for name, cur in new.items():
        if cur["kind"] == ref["kind"] in ("numeric", "categorical") and cur["null_rate"] < 1 and ref["null_rate"] < 1:
            tested = _test(finding.feature, ref, cur, settings)
            if tested.p_value is not None and tested.p_value >= 0.01:
                alike.append((tested.p_value, name))
    hint = f"; {alike[0][1]!r} is new with the same distribution: renamed?" if len(alike) == 1 else ""  # else: which?
    return replace(finding, evidence=finding.evidence + hint + _index_hint(finding.feature))


def _index_hint(name: str) -> str:
    """What an 'Unnamed: N' column is: the first, the index pandas writes unless told to_csv(index=False);
    another, a column the header does not name (lines ending in a separator, as spreadsheets write them).

    >>> _index_hint("Unnamed: 0")[:42], _index_hint("Unnamed: 7")[:41], _index_hint("age")
    (" (a CSV's unnamed index column, written by", ' (a column the header does not name: line', '')
    """
    found = re.fullmatch(r"Unnamed: (\d+)", str(name))
    if not found:
        return ""
    if found[1] == "0":
        return " (a CSV's unnamed index column, written by pandas' to_csv without index=False: --ignore it)"
    return (" (a column the header does not name: lines ending in a separator, as a spreadsheet writes them? "
            "--ignore it)")


def _decided(reports: list[DriftReport], settings: DriftSettings) -> list[DriftReport]:
    """Benjamini-Hochberg over every test of every report together (the features of one table, or of
    all its windows: 24 hourly windows tested apart would raise a false alarm on most quiet days)."""
    tested = [(i, j) for i, r in enumerate(reports) for j, f in enumerate(r.findings)
              if f.test and f.p_value is not None]
    q_values = dict(zip(tested, benjamini_hochberg([reports[i].findings[j].p_value for i, j in tested])))
    return [DriftReport(r.reference_rows, r.current_rows,
                        [_decide(f, q_values.get((i, j)), settings) for j, f in enumerate(r.findings)], r.not_checked)
            for i, r in enumerate(reports)]


MIN_ROWS = 20  # fewer rows in either table: a share of nulls or of one value, or a type, says nothing yet


def _too_few(reference: dict, now: dict, few: int, current: str = "current table") -> DriftReport:
    """Only a column that is gone is evidence in a table this small; the rest is not judged."""
    which = current if now["rows"] == few else "reference table"
    rows = f"{few:,} row{'s' * (few != 1)}"
    findings = [DriftFinding(name, ref["kind"], "feature_unavailable", share_affected=1.0,
                             evidence="column missing from the current table") if name not in now["columns"]
                else DriftFinding(name, ref["kind"], None, evidence=f"not judged: {rows} in the {which}")
                for name, ref in reference["columns"].items()]
    return DriftReport(reference["rows"], now["rows"], findings,
                       [f"{rows} in the {which} (under {MIN_ROWS}): nulls, defaults, types and "
                        "distributions are not judged"])


_BOOLEANS = {"true", "false"}


def _bool_counts(counts: dict) -> dict | None:
    """Counts of a yes/no column spelled True/False in any case, keyed "true"/"false"; None otherwise."""
    if not counts or len(counts) > 8 or not {k.strip().lower() for k in counts} <= _BOOLEANS:
        return None
    merged: dict[str, int] = {}
    for key, count in counts.items():
        merged[key.strip().lower()] = merged.get(key.strip().lower(), 0) + count
    return merged


def _numbers_with_words(entry: dict, seed: int = 0) -> dict:
    """A categorical entry saved before a column of numbers with up to a tenth of words counted as
    numeric (at 99 % then): numeric now, as the current table is profiled, its words missing. Else
    the entry as it is (the type changed from categorical to numeric, said falsely otherwise).

    >>> saved = {"kind": "categorical", "rows": 100, "null_rate": 0.0, "counts": {"1.5": 95, "n/k": 5}}
    >>> _numbers_with_words(saved)["kind"]
    'numeric'
    """
    if entry.get("kind") != "categorical" or not entry.get("counts"):
        return entry
    keys = list(entry["counts"])  # saved before unit strings were numbers ('$1,386.00'): as a profile reads them
    total = max(1, sum(entry["counts"].values()))  # now, each key as often as its rows (up to 20,000 in all)
    weights = [max(1, round(entry["counts"][k] * min(1.0, 20_000 / total))) for k in keys]
    repeated = pd.Series(np.repeat(np.array(keys, dtype=object), weights), dtype=object)
    read = dict(zip(repeated.tolist(), unit_numbers(repeated).tolist()))
    numbers = [(float(read[value]), n) for value, n in entry["counts"].items()
               if not isinstance(read[value], str) or is_number(value)]
    texts = [(value, n) for value, n in entry["counts"].items() if isinstance(read[value], str) and not is_number(value)]
    words = sum(n for _, n in texts)
    present = sum(n for _, n in numbers) + words
    units = any(not isinstance(v, str) for v in read.values())
    if not numbers or not (words or units) or sum(n for _, n in numbers) / present < MOSTLY_NUMBERS:
        return entry
    return _numeric_entry(entry, numbers, words, texts[0][0] if texts else None, seed)


def _numeric_entry(entry: dict, numbers: list[tuple[float, int]], words: int = 0, example: str | None = None,
                   seed: int = 0) -> dict:
    """A saved categorical ``entry`` as the numeric one a profile makes now: a sample of its ``numbers``
    ((value, count) pairs), its ``words`` counted missing."""
    values = np.repeat([v for v, _ in numbers], [n for _, n in numbers])
    sample = values if len(values) <= SAMPLE else np.random.default_rng(seed).choice(values, SAMPLE, replace=False)
    rows = entry.get("rows") or len(values) + words
    return {**{k: v for k, v in entry.items() if k != "counts"}, "kind": "numeric", "values": np.sort(sample).tolist(),
            "null_rate": entry.get("null_rate", 0.0) + words / rows,
            **({"not_numbers": words, "not_number_example": example} if words else {}), **_mode(pd.Series(values))}


def _one_bool_spelling(entry: dict) -> None:
    """A categorical profile entry of True/False in any spelling, keyed and moded "true"/"false"."""
    flags = _bool_counts(entry["counts"]) if entry.get("kind") == "categorical" else None
    if flags:
        entry.update(counts=flags, mode=str(entry.get("mode")).strip().lower() if entry.get("mode") else None)


def _one_number_spelling(entry: dict) -> None:
    """A categorical entry's whole numbers keyed as integers: a code written 1.0 in one table (a column
    of numbers with a gap, as pandas saves it) and 1 in another is one value (PSI 8 'drift' before).

    >>> entry = {"kind": "categorical", "counts": {"1.0": 3, "1": 2, "unknown": 1, "007": 1}, "mode": "1.0"}
    >>> _one_number_spelling(entry); entry["counts"], entry["mode"]
    ({'1': 5, 'unknown': 1, '007': 1}, '1')
    """
    if entry.get("kind") != "categorical" or all(whole_number(k) == k for k in entry.get("counts") or {}):
        return
    counts: dict[str, int] = {}
    for key, n in entry["counts"].items():
        counts[whole_number(key)] = counts.get(whole_number(key), 0) + n
    entry["counts"] = counts
    if entry.get("mode") is not None and "mode_share" in entry:  # 1.0 and 1 together may outnumber the mode
        top = max(counts, key=counts.get)
        entry.update(mode=top, mode_share=counts[top] / sum(counts.values()))
    elif isinstance(entry.get("mode"), str):
        entry["mode"] = whole_number(entry["mode"])


def _as_reference_booleans(ref: dict, cur: dict | None) -> dict | None:
    """The current profile of a yes/no column in the reference's kind: Parquet's booleans, a CSV's 1/0
    and JSON's "true" are the same values (they were a type change or chi2 drift).

    >>> ref = {"kind": "categorical", "counts": {"True": 6, "False": 4}}
    >>> ones = {"kind": "numeric", "values": [0.0, 1.0, 1.0], "mode": "1", "mode_share": 0.67}
    >>> _as_reference_booleans(ref, ones)["counts"]
    {'false': 1, 'true': 2}
    """
    if cur is None or ref["kind"] == cur["kind"] or "time" in (ref["kind"], cur["kind"]):
        return cur
    if ref["kind"] == "categorical" and _bool_counts(ref["counts"]) and set(cur.get("values") or [2.0]) <= {0.0, 1.0}:
        values = np.asarray(cur["values"])
        counts = {"false": int((values == 0).sum()), "true": int((values == 1).sum())}
        mode = max(counts, key=counts.get)
        return {**cur, "kind": "categorical", "counts": counts, "mode": mode, "mode_share": counts[mode] / len(values)}
    flags = _bool_counts(cur.get("counts") or {})
    if ref["kind"] == "numeric" and flags and set(ref.get("values") or [2.0]) <= {0.0, 1.0}:
        total = sum(flags.values())
        ones = round(flags.get("true", 0) * min(1.0, SAMPLE / total))
        zeros = round(flags.get("false", 0) * min(1.0, SAMPLE / total))
        return {**cur, "kind": "numeric", "values": [0.0] * zeros + [1.0] * ones,
                "mode": "1" if cur["mode"] == "true" else "0"}
    return cur


CHANCE = 1e-4  # a share rising by the null jump is an outage when chance explains it this rarely or less


def _unavailable(name: str, ref: dict, cur: dict | None, s: DriftSettings, chance: float = CHANCE
                 ) -> DriftFinding | None:
    """An outage, a schema change or a default filling in; ``chance``: the bar of the tests that tell
    them from luck (``chance_bar``)."""
    if cur is None:
        return DriftFinding(name, ref["kind"], "feature_unavailable", share_affected=1.0, evidence=_GONE)
    if cur["null_rate"] - ref["null_rate"] >= s.null_jump and _more_than_chance(cur, ref, "null_rate", chance):
        # (before the type: a column of nulls has none)
        words = (f", or text among numbers such as {cur['not_number_example']!r}: {cur['not_numbers']:,} rows"
                 if cur.get("not_numbers") else "")
        return DriftFinding(name, ref["kind"], "feature_unavailable", share_affected=cur["null_rate"],
                            evidence=f"missing values (null, blank, NaN or infinite{words}) rose from "
                                     f"{ref['null_rate']:.1%} to {cur['null_rate']:.1%} of rows")
    if cur["null_rate"] == 1 and ref["null_rate"] < 1 and _more_than_chance(cur, ref, "null_rate", chance):  # a sparse
        # feature gone, under the null jump (not 20 rows of a feature missing in 90 % of the reference's)
        return DriftFinding(name, ref["kind"], "feature_unavailable", share_affected=1.0,
                            evidence=f"every row missing now ({ref['null_rate']:.1%} were before)")
    if ref["null_rate"] == 1:  # no value in the reference: no type to compare, nothing to test
        return DriftFinding(name, ref["kind"], None, evidence="no values to test (every row missing in the "
                            + ("reference and current tables)" if cur["null_rate"] == 1 else "reference table)"))
    if cur["null_rate"] == 1:  # every row missing, within chance of the reference's nulls: no value, no type
        # (None from JSON or Parquet reads as text: the type would have 'changed' to categorical)
        return DriftFinding(name, ref["kind"], None, evidence=f"no values to test (every row missing in the "
                            f"current table, {ref['null_rate']:.1%} in the reference's: within chance)")
    if cur["kind"] == "time" and (ref["kind"] == "categorical" or _epoch_nanoseconds(ref)):
        return _time_not_tested(name)  # a profile saved before times had a kind: ISO text, or Parquet's ns
    if cur["kind"] != ref["kind"]:
        return DriftFinding(name, ref["kind"], "feature_unavailable", share_affected=1.0,
                            evidence=f"type changed from {ref['kind']} to {cur['kind']}" + _words_now(ref, cur))
    if ref["kind"] == "time":  # event times move on by nature: their distribution is no evidence
        before, now = ref.get("odd_time_rate"), cur.get("odd_time_rate", 0.0)  # None: saved by an older version
        # judged where such times were rare (birth dates before 1990 are no default) and rows are enough
        if before is not None and before < s.null_jump and cur["rows"] >= MIN_ROWS and now - before >= s.null_jump \
                and _more_than_chance(cur, ref, "odd_time_rate", chance):
            return DriftFinding(name, "time", "feature_unavailable", share_affected=now,
                                evidence=f"times outside {EARLIEST[:4]}-{int(LATEST[:4]) - 1} or unreadable (an "
                                         f"unset default such as 1970-01-01?) rose from {before:.1%} to {now:.1%} "
                                         "of rows")
        return _time_not_tested(name)
    present = cur["rows"] * (1 - cur["null_rate"])
    if present < MIN_ROWS:  # a sparse column's 2 values in a window: one value "taking over" says nothing
        return None
    before = ref["mode_share"] if cur["mode"] == ref["mode"] else _share(ref, cur["mode"])
    # the most common value now, and the sentinel whose share rose most (a default filling in 30 % of a
    # column whose usual value stays the most common: -1 beside a count's 0, 'unknown' beside 'GB'; a
    # rare market growing is not one, unless it becomes the most common value, as before)
    risen = _risen(ref, cur)
    for value, now, was in dict.fromkeys([(cur["mode"], cur["mode_share"], before)]
                                         + ([risen] if risen[0] is not None else [])):
        # a sentinel the reference (nearly) never held is an outage from as few rows as nulls are (QA: -1
        # in 12 % of ages was drift, 'fine-tune with recent data', where 12 % of nulls was unavailable)
        bar = s.null_jump if _rare_sentinel_filling_in(value, now, was, present, ref) else s.takeover
        if now - was >= bar and _default_like(value, was) and _share_beyond_chance(now, was, present, chance) \
                and (_rest_unchanged(ref, cur, value, s) or (_id_like(ref) and _sentinel(value))):
            return DriftFinding(name, ref["kind"], "feature_unavailable", share_affected=now,
                                evidence=f"one value ({value!r}) took over {now:.1%} of rows, {was:.1%} before "
                                         "(a default or constant filling in)", details={"value": value})
    if cur["mode_share"] == 1 and before < 0.9 and before ** present < 1e-6:  # not a run of luck: 0.5 ** 20
        return DriftFinding(name, ref["kind"], "feature_unavailable", share_affected=1.0,
                            evidence=f"every row holds one value now ({cur['mode']!r}), {before:.1%} of the "
                                     "reference's rows (a constant filling in)", details={"value": cur["mode"]})
    if ref["kind"] == "categorical" and _distinct_share(ref["counts"]) < 0.5 \
            and not set(cur["counts"]) & set(ref["counts"]):
        return DriftFinding(name, ref["kind"], "feature_unavailable", share_affected=1.0,
                            evidence=f"no current value was in the reference: {_first_keys(cur['counts'])} where "
                                     f"there were {_first_keys(ref['counts'])} (recoded?)")
    return None


CHANCE_FEATURES = 100  # columns up to which CHANCE is each one's bar; past them it shrinks (Bonferroni)


def chance_bar(features: int) -> float:
    """The bar of the outage tests for a table of ``features`` columns: CHANCE up to 100 of them, then
    CHANCE * 100 / features, so a wide table is no likelier to show a false outage than a table of 100.
    At CHANCE alone, 2 of 10 quiet tables of 2,000 columns (10 % nulls, 5,000 rows against 200) had a
    'feature_unavailable (high)' (QA).

    >>> chance_bar(30), chance_bar(2_000)
    (0.0001, 5e-06)
    """
    return CHANCE * min(1.0, CHANCE_FEATURES / max(1, features))


def _more_than_chance(cur: dict, ref: dict, key: str, chance: float = CHANCE) -> bool:
    """Whether the current table's share ``key`` (of nulls, of odd times) is above the reference's by
    more than chance makes it: Fisher's exact test, one-sided, p < ``chance`` (``chance_bar``). The jump alone flagged
    quiet windows: hourly windows of 100 rows drawn like the reference, 10 % nulls in both, went over
    5 points in 57 of 480 (QA), each an outage to fix; at this bar a window drawn like the reference is
    about one in 20,000 (24 nulls of 100 for 10 %), and a real outage clears it, in small tables too (0 -> 10 % of 100 rows against
    10,000: p 1e-17; 10 -> 40 %: 3e-8; 50 rows against 50, 0 -> 30 %: 9e-6, which a bar of 1e-6 missed)."""
    rows, base = int(cur.get("rows") or 0), int(ref.get("rows") or 0)
    if not rows or not base:
        return True  # a profile without counts (saved by an older version): the jump alone, as before
    now, was = round(cur[key] * rows), round(ref[key] * base)
    return fisher_exact([[now, rows - now], [was, base - was]], alternative="greater")[1] < chance


def _share_beyond_chance(now: float, was: float, present: float, chance: float = CHANCE) -> bool:
    """Whether a value's share ``now`` of ``present`` rows is above its reference share ``was`` by more
    than chance makes it (binomial, one-sided, p < ``chance``, as nulls are judged). The jump alone
    called quiet windows an outage: 0 at 50 % of a 0/1/2 count went over 70 % in 1.9 % of windows of
    20 rows drawn like the reference, a 'fix the feature computation' of high severity (review).

    >>> _share_beyond_chance(0.70, 0.498, 20), _share_beyond_chance(0.90, 0.498, 100)
    (False, True)
    """
    return bool(binomtest(int(round(now * present)), max(1, int(round(present))), min(max(was, 0.0), 1.0),
                          alternative="greater").pvalue < chance)


def _rare_sentinel_filling_in(value, now: float, was: float, present: float, ref: dict) -> bool:
    """A sentinel the reference (nearly) never held (under 1 % of its rows) filling in enough rows that
    chance cannot (binomial p < 1e-6 at the reference's share, in 100 rows or more): judged by the bar of
    nulls. Not 0 but in a column of fractions (``_fractional``: counts have 0 as a value); not 'other',
    a category of its own; not in a small
    window, where two rows of -1 are 8 %."""
    if was >= 0.01 or present < 100 or _value_text(value) == "other" or not _sentinel(value) \
            or (_value_text(value) == "0" and not _fractional(ref)):
        return False
    floor = max(was, 1 / max(ref.get("rows", 1), 1))
    return binomtest(int(round(now * present)), int(present), floor, alternative="greater").pvalue < 1e-6


def _fractional(ref: dict) -> bool:
    """A numeric reference column of fractions (amounts, durations, scores: under 5 % of its values
    whole), where a 0 filling in is a default as -1 is; in counts 0 is a value, and a lower rate makes
    more of them (so 0 is no sentinel there). Zeros in 10 % of an amount that never held one were drift,
    'fine-tune with recent data' (QA)."""
    values = np.asarray(ref.get("values") or [], dtype=float) if ref.get("kind") == "numeric" else np.array([])
    values = values[np.isfinite(values)]
    return len(values) >= 100 and float((values == np.round(values)).mean()) < 0.05


def _first_keys(counts: dict, shown: int = 3) -> str:
    return ", ".join(repr(k) for k in list(counts)[:shown]) + (", ..." if len(counts) > shown else "")


def _id_like(ref: dict) -> bool:
    """A reference column of ids (not judged as a distribution): nearly every value distinct."""
    if ref["kind"] == "numeric":
        return _numeric_ids(ref)
    return ref["kind"] == "categorical" and _distinct_share(ref["counts"]) >= 0.95


EXPECTED_ROWS = 5  # a category expected fewer times in the smaller table is pooled for the chi-square test
RARE_COUNT = 10  # categories seen fewer times in both tables together are pooled when the rest is compared
_SENTINELS = {"", "0", "-1", "999", "9999", "99999", "unknown", "none", "null", "nan", "n/a", "na", "-", "?",
              "default", "missing", "undefined", "other", "not set"}


def _default_like(value, share_before: float) -> bool:
    """A value that filling in would be a default: one the reference (nearly) never held (under 1 % of
    rows), or a sentinel such as 0, -1, 'unknown'. A value already in use growing while the rest keep
    their proportions is a population shift (25 % of rows from Spain became 70 %; a market at 2.9 %
    taking 40 %, which under the 5 % of before was 'feature_unavailable: fix the feature computation',
    QA), left to the drift test.

    >>> _default_like("ES", 0.25), _default_like("IN", 0.029), _default_like("unknown", 0.25), _default_like("x", 0.005)
    (False, False, True, True)
    """
    return share_before < 0.01 or _sentinel(value)


def _sentinel(value) -> bool:
    """0, -1, 999, 'unknown', 'n/a', the nil UUID, ...: what a pipeline writes when it has no value.

    >>> _sentinel(-1.0), _sentinel("00000000-0000-0000-0000-000000000000"), _sentinel("N/A"), _sentinel("uk")
    (True, True, True, False)
    """
    text = _value_text(value)
    return text in _SENTINELS or re.fullmatch(r"0[0-]*", text) is not None


def _value_text(value) -> str:
    """A value as sentinels are matched: lower-case text, numbers in one spelling (-1.0 and -1 alike,
    -0.0 and 0)."""
    text = str(value).strip().lower()
    try:
        return format(float(text) + 0.0, "g")
    except ValueError:
        return text


def _rest_unchanged(ref: dict, cur: dict, value: str, s: DriftSettings) -> bool:
    """A default filling in leaves the other rows as they were; a real shift moves them too."""
    if ref["kind"] == "categorical":
        a = {k: v for k, v in ref["counts"].items() if k != value}
        b = {k: v for k, v in cur["counts"].items() if k != value}
        labels = sorted(set(a) | set(b))
        if not b:  # the value filled every row
            return True
        if len(a) < 2:  # a yes/no column: the one other value cannot show the rest unchanged
            return False
        x, y = np.array([a.get(k, 0) for k in labels], float), np.array([b.get(k, 0) for k in labels], float)
        rare = x + y < RARE_COUNT  # a merchant column's 3,000 values, two rows each: PSI 0.27 on the same draw
        x, y = np.append(x[~rare], x[rare].sum()), np.append(y[~rare], y[rare].sum())
        return _psi_js(x, y)[0] < s.min_psi
    try:
        target = float(value)
    except (TypeError, ValueError):
        return False
    a, b = np.asarray(ref["values"]), np.asarray(cur["values"])
    a, b = a[a != target], b[b != target]
    if len(b) < 2:
        return True
    if len(np.unique(a)) < 2:  # a 0/1 column, as above
        return False
    return wasserstein_distance(a, b) / _spread(a) < s.min_effect


def _risen(ref: dict, cur: dict) -> tuple[str | None, float, float]:
    """(value, share now, share before) of the sentinel (``_sentinel``) whose share of present rows
    rose most."""
    if cur["kind"] == "categorical":
        total = sum(cur["counts"].values()) or 1
        rises = [(k, n / total, _share(ref, k)) for k, n in cur["counts"].items() if _sentinel(k)]
    else:
        values, counts = np.unique(np.asarray(cur["values"], float), return_counts=True)
        common = counts / max(len(cur["values"]), 1) >= 0.05  # a sample: only values common enough to matter
        rises = [(str(v), n / len(cur["values"]), _share(ref, str(v))) for v, n in zip(values[common], counts[common])
                 if _sentinel(v)]
    return max(rises, key=lambda r: r[1] - r[2], default=(None, 0.0, 0.0))


def _share(ref: dict, value: str | None) -> float:
    if ref["kind"] == "categorical":
        total = sum(ref["counts"].values()) or 1
        return ref["counts"].get(value, 0) / total
    values = np.asarray(ref["values"])
    try:
        return float((values == float(value)).mean()) if len(values) else 0.0
    except (TypeError, ValueError):
        return 0.0


def _test(name: str, ref: dict, cur: dict, s: DriftSettings) -> DriftFinding:
    if ref["kind"] == "numeric":
        if _numeric_ids(ref) and not _rescaled_ids(ref, cur, s):  # ids go up every day: "drift" on each run
            return DriftFinding(name, "numeric", None, evidence="not judged: distinct whole numbers in a dense "
                                "range or of ten digits or more in a narrow band (a sequential id, a snowflake id, an epoch "
                                "time? --ignore it); nulls and defaults are still checked")
        return _numeric(name, np.asarray(ref["values"]), np.asarray(cur["values"]), s)
    if _distinct_share(ref["counts"]) >= 0.95:  # ids, free text (decided by the reference: a feature
        # whose values turn all distinct now is tested, and flagged)
        rows = sum(cur["counts"].values())
        if rows >= MIN_ROWS and max(cur["counts"].values()) >= 0.5 * rows:  # ids no more: one value fills half
            return DriftFinding(name, "categorical", "feature_unavailable", share_affected=1.0,
                                evidence=f"the reference's values were nearly all distinct (an id?); now "
                                         f"{len(cur['counts']):,} distinct values in {rows:,} rows")
        return DriftFinding(name, "categorical", None, evidence="not judged: nearly every value distinct "
                            "(an id or free text? --ignore it); nulls and defaults are still checked")
    return _categorical(name, ref["counts"], cur["counts"])


def _numeric_ids(ref: dict) -> bool:
    """Whole numbers, nearly all distinct, that fill a range at most twice their count (ids counting up)
    or all have ten digits or more within a narrow band (snowflake ids, epoch seconds: their spread is a
    sliver of their size): tomorrow's values lie past today's by design. Counts or amounts that happen
    to be distinct spread far wider, and start lower; amounts in micros or nanoseconds have ten digits
    but spread as widely as amounts do (QA: a 60 % rise in spend in micros went untested, exit 0).

    >>> _numeric_ids({"rows": 5000, "null_rate": 0.0, "values": list(range(1000, 6000))})
    True
    >>> _numeric_ids({"rows": 5000, "null_rate": 0.0, "values": list(range(0, 5_000_000, 1000))})  # sparse
    False
    >>> _numeric_ids({"rows": 5000, "null_rate": 0.0, "values": list(range(10**18, 10**18 + 5000 * 7919, 7919))})
    True
    >>> _numeric_ids({"rows": 5000, "null_rate": 0.0, "values": [round(5e9 * 1.0003 ** i) for i in range(5000)]})
    False
    """
    values = np.asarray(ref.get("values") or [], dtype=float)
    if ref.get("rows", 0) < 100 or len(values) < 100 or not np.all(values == np.round(values)):
        return False
    share = len(np.unique(values)) / len(values)  # of a sample: the distinct values of all rows, estimated
    with np.errstate(over="ignore"):  # 1e308 - (-1e308) is inf: neither dense nor narrow (it warned on stderr)
        dense = values.max() - values.min() + 1 <= 2 * share * ref["rows"] * (1 - ref["null_rate"])
        narrow = values.min() >= 1e9 and values.max() - values.min() <= 0.5 * np.median(values)
    return bool(share >= 0.95 and (dense or narrow))


def _rescaled_ids(ref: dict, cur: dict, s: DriftSettings) -> bool:
    """Ids or epoch times whose median moved by the rescaling factor or more: seconds became
    milliseconds (ids and clocks never double overnight), judged like any feature then."""
    a, b = np.median(ref["values"]) if ref["values"] else 0.0, np.median(cur["values"]) if cur.get("values") else 0.0
    return a >= 1e9 and b > 0 and not 1 / s.rescale < b / a < s.rescale


def _distinct_share(counts: dict) -> float:
    """Distinct values per row, for 20 rows or more (a short column is judged as it is)."""
    rows = sum(counts.values())
    return len(counts) / rows if rows >= MIN_ROWS else 0.0


def _single_precision(values: np.ndarray) -> bool:
    """Whether every value is a float32 one, not all of them whole numbers (counts are exact either way).

    >>> _single_precision(np.array([0.035], dtype=np.float32).astype(float)), _single_precision(np.array([0.035, 1]))
    (True, False)
    """
    finite = values[np.isfinite(values)]
    if not len(finite) or np.all(finite == np.round(finite)):
        return False
    with np.errstate(over="ignore"):
        return bool(np.all(finite.astype(np.float32).astype(np.float64) == finite))


def _as_single(values: np.ndarray) -> np.ndarray:
    """``values`` rounded to float32, back as float64 (beyond float32's range: left as they are)."""
    with np.errstate(over="ignore"):
        single = values.astype(np.float32).astype(np.float64)
    return np.where(np.isfinite(single) | ~np.isfinite(values), single, values)


def _numeric(name: str, ref: np.ndarray, cur: np.ndarray, s: DriftSettings) -> DriftFinding:
    if len(ref) < 2 or len(cur) < 2:
        return DriftFinding(name, "numeric", None, evidence="too few values to test")
    if _single_precision(ref) or _single_precision(cur):  # a float32 table (Parquet, a GPU pipeline) holds 0.035
        ref, cur = _as_single(ref), _as_single(cur)      # as 0.03500000015: compared at its precision, not drift
    finite = np.abs(np.concatenate([ref, cur]))
    peak = float(finite[np.isfinite(finite)].max(initial=0.0))
    unit = 2.0 ** (np.frexp(peak)[1] - 1) if peak > 1e150 else 1.0  # near the float limit (1e308) differences
    ref, cur = ref / unit, cur / unit                                 # overflow; a power of two rescales exactly
    spread = _spread(ref)
    with warnings.catch_warnings():  # "exact calculation unsuccessful": the asymptotic p-value is fine
        warnings.simplefilter("ignore", RuntimeWarning)
        p_value = float(ks_2samp(ref, cur).pvalue)
    # a reference of one value has no spread to measure a move in: the effect is the share of rows off
    # that value (a discount of 0 that became 0.15 on 30 % of rows moved 0.044 'spreads' of 1, unflagged)
    constant = ref[0] if ref.min() == ref.max() else None
    effect = float(np.mean(cur != constant) if constant is not None else wasserstein_distance(ref, cur) / spread)
    psi, js = _psi_js(*_binned(ref, cur, _edges(ref, cur)))
    rescale = _rescaling(ref, cur, s, unit)
    codes = _codes(ref, cur, unit)
    return DriftFinding(name, "numeric", None, "ks", p_value, None, effect, psi, js,
                        details={"reference_median": float(np.median(ref)) * unit,
                                 "current_median": float(np.median(cur)) * unit,
                                 **({"rescaling": rescale} if rescale else {}),
                                 **({"codes": codes[0], "moved": codes[1]} if codes else {}),
                                 **({"reference_constant": float(constant) * unit} if constant is not None else {})})


CODES = 50  # a whole-number column of at most this many values in the reference may be codes (MCC, region)


def _codes(ref: np.ndarray, cur: np.ndarray, unit: float = 1.0) -> tuple[int, list[dict]] | None:
    """(how many values, the ones that moved most) of a column of few whole numbers: merchant category,
    region or plan codes, whose traffic moving between neighbouring codes barely moves a distance
    measured along the number line (QA: 5411 falling from 20 % to 2 % of rows, KS p 9e-77, was
    'significant but small, effect 0.027'); ``_decide`` also judges them as categories, by PSI.

    >>> _codes(np.array([5411.0, 5412, 5411]), np.array([5412.0, 5412]))[0], _codes(np.array([0.5, 1.0]), np.array([1.0]))
    (2, None)
    """
    values = np.unique(ref)
    if unit != 1.0 or not 2 <= len(values) <= CODES or not np.all(values == np.round(values)) \
            or not np.all(cur == np.round(cur)):
        return None
    count = lambda v: {int(k): int(n) for k, n in zip(*np.unique(v, return_counts=True))}  # noqa: E731
    return len(values), _moved(count(ref), count(cur))


def _categorical(name: str, ref: dict, cur: dict) -> DriftFinding:
    labels = sorted(set(ref) | set(cur))
    table = np.array([[ref.get(k, 0) for k in labels], [cur.get(k, 0) for k in labels]], dtype=float)
    if len(labels) < 2 or table.sum(axis=1).min() == 0:
        return DriftFinding(name, "categorical", None, evidence="a single category: nothing to compare")
    table = _pooled(table)
    if table.shape[1] < 2:
        return DriftFinding(name, "categorical", None, evidence=f"not judged: its {len(labels):,} values are "
                            "each too rare in these rows to compare; nulls and defaults are still checked")
    p_value = _chi2_p(table)
    psi, js = _psi_js(table[0], table[1])
    # the effect gated is PSI less what chance gives k cells of these sizes, (k - 1)(1/n + 1/m): 200 bins of
    # 5 rows show PSI 0.11-0.25 between draws of the same postcodes, over --min-psi 0.1 every time
    chance = (table.shape[1] - 1) * (1 / table[0].sum() + 1 / table[1].sum())
    return DriftFinding(name, "categorical", None, "chi2", p_value, None, max(0.0, psi - chance), psi, js,
                        details={"moved": _moved(ref, cur)})


def _moved(ref: dict, cur: dict, shown: int = 3) -> list[dict]:
    """The categories whose share of rows moved most, a new one first among equals: which value the
    drift is about (a new device 'tv' in 15 % of rows), not only how much.

    >>> _moved({"ios": 50, "android": 50}, {"ios": 40, "android": 40, "tv": 20}, 2)[0]
    {'value': 'tv', 'reference_share': 0.0, 'current_share': 0.2}
    """
    a, b = sum(ref.values()) or 1, sum(cur.values()) or 1
    shares = {k: (ref.get(k, 0) / a, cur.get(k, 0) / b) for k in set(ref) | set(cur)}
    top = sorted(shares, key=lambda k: (-abs(shares[k][1] - shares[k][0]), shares[k][0] > 0, str(k)))[:shown]
    return [{"value": k, "reference_share": round(shares[k][0], 4), "current_share": round(shares[k][1], 4)}
            for k in top]


def _pooled(table: np.ndarray) -> np.ndarray:
    """A 2 x categories count table whose cells chi-square can judge: about 5 expected rows a cell in
    the smaller table. A category rarer than that joins the next rare ones in the table's (alphabetical)
    order until their bin holds 5, or all of them do (20,000 postcodes in 1,000 rows, each alone, flagged
    9 draws in 20 of the same data; pooled into one bin, 25 of 50 countries in 200 rows went unjudged). Not by frequency:
    bins of the categories the reference happened to count high against those it counted low differ by
    chance alone (the same postcodes, p = 1e-163).

    >>> _pooled(np.array([[90.0, 4, 3, 3, 2, 0, 0], [90.0, 3, 4, 2, 3, 4, 5]])).tolist()  # 3.4 3.4 2.4 2.4 1.9 2.4
    [[90.0, 7.0, 5.0], [90.0, 7.0, 14.0]]
    """
    expected = table.sum(axis=0) * table.sum(axis=1).min() / table.sum()
    own = expected >= EXPECTED_ROWS
    rest = np.flatnonzero(~own)
    if len(rest) < 2:
        return table
    bins, filling, filled = [], [], 0.0
    for k in rest:
        filling.append(k)
        filled += expected[k]
        if filled >= EXPECTED_ROWS:
            bins.append(filling)
            filling, filled = [], 0.0
    if filling:  # the last, short of 5, joins the bin before it
        bins = bins[:-1] + [bins[-1] + filling] if bins else [filling]
    return np.column_stack([table[:, own]] + [table[:, b].sum(axis=1) for b in bins])


def _chi2_p(table: np.ndarray, draws: int = 10_000) -> float:
    """The chi-square test's p-value; by simulation when a cell is still expected fewer than 5 times
    after pooling (a lone rare category, or rare ones that together make fewer than 5): the chi-square
    curve is too light-tailed there (one visit of a 0.2 % country in 50 rows gave p < 0.01 on 3.3 % of
    quiet days, not 1 %). The draws keep both tables' sizes and every category's total, as R's
    chisq.test(simulate.p.value = TRUE) does, so a new category seen only now keeps its full weight.

    >>> table = np.array([[5000.0, 2990, 10], [26, 23, 1]])  # the rare one seen once in 50 rows
    >>> round(_chi2_p(table), 3), round(float(chi2_contingency(table)[1]), 4)
    (0.016, 0.0007)
    """
    rows, cols = table.sum(axis=1), table.sum(axis=0)
    if (np.outer(rows, cols) / table.sum()).min() >= EXPECTED_ROWS:
        return float(chi2_contingency(table)[1])
    small, rng, beaten = int(np.argmin(rows)), np.random.default_rng(0), 0
    observed = _chi2_statistic(table) * (1 - 1e-9)
    chunk = max(100, 2_000_000 // table.shape[1])
    for start in range(0, draws, chunk):
        drawn = rng.multivariate_hypergeometric(cols.astype(np.int64), int(rows[small]), size=min(chunk, draws - start))
        pair = [drawn, cols - drawn] if small == 0 else [cols - drawn, drawn]
        beaten += int(np.sum(_chi2_statistic(np.stack(pair, axis=1)) >= observed))
    if beaten:
        return (1 + beaten) / (1 + draws)
    # beyond every draw, the simulation can only say p < 1 / (draws + 1): after the correction for
    # many features and windows that floor was never significant (744 tests: q 0.074 at best, and
    # a country whose traffic moved from the US to Germany in an hour was 'no significant change').
    # The test of the table with its rarest categories merged until each is expected often enough
    # is valid (or exact, on two columns) and reads how far beyond; taken only here, it stays valid
    return min(1 / (1 + draws), _merged_p(table))


def _merged_p(table: np.ndarray) -> float:
    """The chi-square test of ``table`` with its rarest categories merged, the smallest into the next,
    until every cell is expected ``EXPECTED_ROWS`` times; Fisher's exact test if that needs two columns.

    >>> _merged_p(np.array([[60.0, 30, 9, 1], [3, 6, 80, 0]])) < 1e-20
    True
    """
    columns = sorted(table.T.tolist(), key=sum)
    while len(columns) > 2:
        merged = np.array(columns).T
        if (np.outer(merged.sum(axis=1), merged.sum(axis=0)) / merged.sum()).min() >= EXPECTED_ROWS:
            return float(chi2_contingency(merged)[1])
        columns = sorted([[a + b for a, b in zip(columns[0], columns[1])]] + columns[2:], key=sum)
    return float(fisher_exact(np.array(columns).T)[1])


def _chi2_statistic(tables: np.ndarray) -> np.ndarray:
    """Pearson's statistic of each 2 x k table in tables (..., 2, k)."""
    expected = tables.sum(axis=-1, keepdims=True) * tables.sum(axis=-2, keepdims=True) \
        / tables.sum(axis=(-2, -1), keepdims=True)
    return (np.square(tables - expected) / np.where(expected > 0, expected, 1)).sum(axis=(-2, -1))


def _decide(f: DriftFinding, q: float | None, s: DriftSettings) -> DriftFinding:
    if f.cause or f.test is None:
        return f
    gate = s.min_effect if f.kind == "numeric" else s.min_psi
    significant = q is not None and q < s.fdr
    rescale, codes = f.details.get("rescaling"), _codes_moved(f, s)
    if significant and rescale and rescale.get("unit", True):
        cause, evidence = "feature_recalibration", rescale["evidence"]
    elif significant and (f.effect is not None and f.effect >= gate or codes):
        cause = "feature_drift"
        constant = f.details.get("reference_constant")
        if f.kind != "numeric":
            size = f"PSI {f.psi:.2f}"
        elif codes:
            size = (f"PSI {f.psi:.2f} over its {f.details['codes']} whole-number values (codes?); Wasserstein "
                    f"{f.effect:.3g} reference spreads")
        elif constant is None:
            size = f"Wasserstein {f.effect:.3g} reference spreads"
        else:
            size = f"{f.effect:.1%} of rows off the reference's one value {constant:g}"
        evidence = (f"{f.test.upper()} {p_text(q, 2, 'q')}; {size}; JS {f.js:.3f}" + _what_moved(f)
                    + (f"; {rescale['evidence']}" if rescale else ""))
    else:
        cause = None
        evidence = ("significant but small" if significant else "no significant change") + \
                   (f" (effect {_below(f.effect, gate)} < {gate})" if significant else "")
    return DriftFinding(**{**asdict(f), "cause": cause, "q_value": q, "evidence": evidence})


def _codes_moved(f: DriftFinding, s: DriftSettings) -> bool:
    """A numeric column of few whole numbers (``_codes``) whose values moved as much as a category
    column's must to be drift: PSI ``min_psi`` or more."""
    return f.kind == "numeric" and bool(f.details.get("codes")) and f.psi is not None and f.psi >= s.min_psi


def _what_moved(f: DriftFinding) -> str:
    """Where a drift lies: the categories that moved most, or the median's move."""
    if f.details.get("moved"):
        return "; most moved: " + ", ".join(f"{str(m['value'])[:30]!r} {m['reference_share']:.1%} -> "
                                            f"{m['current_share']:.1%}" for m in f.details["moved"])
    if "reference_median" in f.details:
        return f"; median {f.details['reference_median']:.4g} -> {f.details['current_median']:.4g}"
    return ""


def _below(effect: float, gate: float) -> str:
    """``effect`` to three decimals, or as many more as show it below ``gate`` (not '0.100 < 0.1').

    >>> _below(0.0444, 0.1), _below(0.09996, 0.1)
    ('0.044', '0.09996')
    """
    return next((text for text in (f"{effect:.{d}f}" for d in range(3, 10)) if float(text) < gate), f"{effect:g}")


def _spread(values: np.ndarray) -> float:
    """Robust spread: IQR / 1.349 (a standard deviation for normal data); falls back to std, then 1."""
    q75, q25 = np.quantile(values, [0.75, 0.25])
    spread = (q75 - q25) / 1.349
    return float(spread if spread > 0 else (values.std() or 1.0))


def _edges(ref: np.ndarray, cur: np.ndarray) -> np.ndarray:
    """PSI bins: the reference's deciles; for a (nearly) constant reference, whose deciles make one bin
    (PSI 0 beside 'Wasserstein 1 reference spread'), midway between the values both tables hold, or
    their pooled deciles.

    >>> _edges(np.full(10, 5.0), np.array([5.0, 7.0])).tolist()
    [5.0, 6.0, 7.0]
    """
    edges = np.unique(np.quantile(ref, np.linspace(0, 1, 11)))
    if len(edges) >= 3:
        return edges
    values = np.unique(np.concatenate([ref, cur]))
    if len(values) <= 11:
        return np.concatenate([values[:1], (values[:-1] + values[1:]) / 2, values[-1:]])
    return np.unique(np.quantile(np.concatenate([ref, cur]), np.linspace(0, 1, 11)))


def _binned(ref: np.ndarray, cur: np.ndarray, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    inner = edges[1:-1]
    return (np.bincount(np.searchsorted(inner, ref, side="right"), minlength=len(inner) + 1).astype(float),
            np.bincount(np.searchsorted(inner, cur, side="right"), minlength=len(inner) + 1).astype(float))


def _psi_js(ref_counts: np.ndarray, cur_counts: np.ndarray) -> tuple[float, float]:
    """Population stability index and Jensen-Shannon distance (base 2) of two histograms.

    >>> [round(x, 3) for x in _psi_js(np.array([50.0, 50.0]), np.array([50.0, 50.0]))]
    [0.0, 0.0]
    """
    p = (ref_counts + 0.5) / (ref_counts + 0.5).sum()
    q = (cur_counts + 0.5) / (cur_counts + 0.5).sum()
    psi = float(((q - p) * np.log(q / p)).sum())
    m = (p + q) / 2
    js = math.sqrt(max(0.0, 0.5 * (p * np.log2(p / m)).sum() + 0.5 * (q * np.log2(q / m)).sum()))
    return psi, js


def _rescaling(ref: np.ndarray, cur: np.ndarray, s: DriftSettings, unit: float = 1.0) -> dict | None:
    """``_rescaled``, else a mix of the reference's scale and one a power of ten away (a fix rolled
    out to part of the traffic): half the rows x100 fit no line, and were called drift."""
    found = _rescaled(ref, cur, s, unit)
    if found:  # a new unit, or every value x3: a real change, said with the drift
        return found
    with np.errstate(all="ignore"):
        high = np.quantile(np.abs(cur), 0.9) / np.quantile(np.abs(ref), 0.9)
    if not (np.isfinite(high) and (high >= s.rescale ** 2 or 0 < high <= 1 / s.rescale ** 2)):
        return None  # no tenth of the rows moved far: a shift, not a second scale
    sample = cur if len(cur) <= SAMPLE else np.random.default_rng(0).choice(cur, SAMPLE, replace=False)
    mix = _mixed_scales(ref, sample, [1, 2, 3, -1, -2, -3])
    if not mix:
        return None
    return {"slope": 10.0 ** mix["power"], "offset": 0.0, "r2": None, "squeezed_to_unit": False,
            "evidence": _mix_evidence(mix), "mixed": mix}


def _mix_evidence(mix: dict) -> str:
    return (f"a mix of two scales: about {mix['share']:.0%} of rows 10^{mix['power']} times the reference's, the "
            "rest as before (two pipelines, or a fix rolled out part way?)")


def _rescaled(ref: np.ndarray, cur: np.ndarray, s: DriftSettings, unit: float = 1.0) -> dict | None:
    """Same shape, other unit: current quantiles on a line against the reference's with a slope far
    from 1 (cents -> dollars, counts -> shares), or values squeezed into [0, 1]. ``ref`` and ``cur``
    come divided by ``unit`` (values near the float limit); the offset and the squeeze are judged
    on the values as given."""
    qs = np.linspace(0.05, 0.95, 19)
    a, b = np.quantile(ref, qs), np.quantile(cur, qs)
    with np.errstate(all="ignore"):  # values near the float limit (1e308) overflow: no fit, not a crash
        if not (np.ptp(a) > 0 and np.ptp(b) > 0 and np.isfinite(np.ptp(a)) and np.isfinite(np.ptp(b))):
            return None
        # each side scaled to about 1 first: LAPACK, given 1e-300 against 1e300, prints to stdout
        sa, sb = np.abs(a).max(), np.abs(b).max()
        try:
            slope, offset = np.polyfit(a / sa, b / sb, 1)
        except (np.linalg.LinAlgError, ValueError):
            return None
        r2 = 1 - ((b / sb - (slope * a / sa + offset)) ** 2).sum() / ((b / sb - (b / sb).mean()) ** 2).sum()
        slope, offset = slope * sb / sa, offset * sb * unit  # the offset in the values' own unit
    if not np.isfinite([slope, offset, r2]).all():
        return None
    # squeezed into [0, 1] by a normalisation, which narrows the scale: with a slope near 1 it is a shift
    squeezed = cur.min() >= 0 and cur.max() * unit <= 1 and ref.max() * unit > 1.5 and slope < 0.8  # as given
    if not (_far_from_one(slope, offset, s) or squeezed):
        return None
    if r2 < 0.97:  # a few distinct values (counts 0-9) step their quantiles off the line: match the
        if r2 < 0.8:  # moments instead, undo that line and see whether the reference's shape is back
            return None
        with np.errstate(all="ignore"):  # each side over its largest value first: 1e-200 squared is 0
            sa, sb = np.abs(ref).max() or 1.0, np.abs(cur).max() or 1.0
            slope = float((cur / sb).std() / (ref / sa).std() * (sb / sa)) if (ref / sa).std() > 0 else 0.0
            undone = (cur - (cur.mean() - slope * ref.mean())) / slope if slope > 0 else cur
            offset = float((cur.mean() - slope * ref.mean()) * unit)
        if not (_far_from_one(slope, offset, s) or squeezed) or not np.isfinite(undone).all() \
                or wasserstein_distance(ref, undone) / _spread(ref) >= s.min_effect:
            return None
    # judged on the line fitted last (the moments' for few values); a line through 0 is a new unit only at
    # a unit's factor: delivery times x3 keep their shape too, and 'retrain on the right feature version'
    # would not help
    named, scaled = _unit_factor(slope), _through_zero(offset, cur, unit) or _celsius(slope, offset)
    through = scaled and named is not None
    standardised = not squeezed and not through and _standardised(cur, unit)
    fit = f"quantile fit R² {r2:.3f}" if r2 >= 0.97 else f"once rescaled; quantile fit R² {r2:.3f}, few distinct values"
    if scaled and not (squeezed or through or standardised):
        return {"slope": float(slope), "offset": float(offset), "r2": float(r2), "squeezed_to_unit": False,
                "unit": False, "evidence": f"every value about x{slope:.3g}, same shape ({fit}); no unit's factor"}
    if not (squeezed or through or standardised):
        return None  # the spread alone changed around a level that stayed: drift, not a new unit
    power = round(math.log10(slope)) if slope > 0 else None
    near_power = power is not None and power != 0 and abs(math.log10(slope) - power) < 0.05
    unit = f"a factor of about 10^{power}" if near_power else f"a factor of {slope:.3g}" + (
        f" ({named}?)" if named and not standardised else "")  # (QA: 1/sd read as 'centimetres per inch?')
    evidence = (f"same shape ({fit}) on another scale: {unit}"
                + ("; values now lie in [0, 1] (normalised?)" if squeezed else "")
                + ("; values now centred on 0 with a spread of 1 (standardised?)" if standardised else ""))
    mix = _mixed_scales(ref, cur, [power - 1, power, power + 1]) if power else None
    if mix:  # half the rows x100 can fit a line of slope 74: the factor said alone would mislead
        evidence = _mix_evidence(mix)
    return {"slope": float(slope), "offset": float(offset), "r2": float(r2), "squeezed_to_unit": bool(squeezed),
            "evidence": evidence, **({"mixed": mix} if mix else {})}


# factors between units that a feature pipeline may switch between, each way round (slopes of 8 or more
# are taken as a unit's whatever they are: powers of ten, 24, 60, 1,000, 1,024, pounds to yen). None
# below 2: miles (1.609) and nautical miles (1.852) were listed, yet a slope under 2 is never fitted as
# a rescaling, and cannot be told from drift: a lognormal amount whose log moved by 0.5 grows x1.65,
# every value alike, and its quantile line's slope came out 1.625 (QA). Fahrenheit keeps its offset
# (_celsius), which drift does not fake.
UNIT_FACTORS = {2.54: "centimetres per inch", 2.2046: "pounds per kilogram", 3.2808: "feet per metre",
                1.8: "Fahrenheit degrees per Celsius degree", 3.6: "km/h per m/s", 4.184: "joules per calorie",
                7.0: "days per week", 4.345: "weeks per month"}
UNIT_SLOPE = 8.0


def _unit_factor(slope: float) -> str | None:
    """What a slope is when it is a change of unit: '' for one of 8 or more (or 1/8 or less), the
    units' names for a known factor within 3 %, else None (a real change: everything x3 longer).

    >>> _unit_factor(100.0), _unit_factor(1 / 2.56), _unit_factor(0.5), _unit_factor(3.0)
    ('', 'centimetres per inch', None, None)
    """
    if not (np.isfinite(slope) and slope > 0):
        return None
    factor = max(slope, 1 / slope)
    if factor >= UNIT_SLOPE:
        return ""
    return next((name for known, name in UNIT_FACTORS.items() if abs(factor / known - 1) <= 0.03), None)


def _far_from_one(slope: float, offset: float, s: DriftSettings) -> bool:
    """A slope a change of unit may have made: ``s.rescale`` (2) or more either way, or Celsius to
    Fahrenheit and back, whose 1.8 comes with its offset of 32.

    >>> s = DriftSettings()
    >>> _far_from_one(2.5, 0.0, s), _far_from_one(1.8, 32.0, s), _far_from_one(1.8, 0.0, s), _far_from_one(-3, 0, s)
    (True, True, False, False)
    """
    return slope >= s.rescale or 0 < slope <= 1 / s.rescale or _celsius(slope, offset)


def _celsius(slope: float, offset: float) -> bool:
    """Celsius to Fahrenheit (x1.8 + 32) or back (/1.8 - 17.8), the unit change whose line misses 0.

    >>> _celsius(1.8, 32.0), _celsius(1 / 1.8, -160 / 9), _celsius(1.8, 0.0)
    (True, True, False)
    """
    return (abs(slope / 1.8 - 1) <= 0.03 and abs(offset / 32 - 1) <= 0.1) or \
        (abs(slope * 1.8 - 1) <= 0.03 and abs(offset / (-160 / 9) - 1) <= 0.1)


def _through_zero(offset: float, cur: np.ndarray, unit: float) -> bool:
    """Whether the line from the reference's quantiles to the current ones passes near 0 (within half
    the current spread), as a new unit's does (cents -> dollars, counts -> shares: x * k). N(50, 10)
    becoming N(50, 30) fits a slope of 3 too, through -100: a spread that grew around the same level,
    which was called a recalibration ('retrain with the correct feature version', QA)."""
    return abs(offset) <= 0.5 * _spread(cur) * unit


def _standardised(cur: np.ndarray, unit: float) -> bool:
    """Values centred on 0 with a spread of about 1: a z-score normalisation (x - mean) / sd, the unit
    change whose line does not pass through 0."""
    with np.errstate(all="ignore"):
        mean, sd = float(cur.mean()) * unit, float(cur.std()) * unit
    return np.isfinite(mean) and np.isfinite(sd) and abs(mean) <= 0.25 and 0.75 <= sd <= 1.33


def _mixed_scales(ref: np.ndarray, cur: np.ndarray, powers: list[int]) -> dict | None:
    """{share, power} when the current values are a mix of the reference's and the reference's times
    10^power, for one of ``powers``: the mixture's CDF within a KS distance of 0.05 of the current
    one, at a share between 10 and 90 %, and twice as close as the whole column rescaled."""
    ordered, values = np.sort(ref), np.sort(cur)
    seen = np.arange(1, len(values) + 1) / len(values)

    def cdf(x: np.ndarray) -> np.ndarray:
        return np.searchsorted(ordered, x, side="right") / len(ordered)
    best = None
    for p in sorted(set(powers) - {0}):
        old, new = cdf(values), cdf(values / 10.0 ** p)
        for share in np.linspace(0.1, 0.9, 33):
            distance = float(np.abs(seen - ((1 - share) * old + share * new)).max())
            if best is None or distance < best[0]:
                best = (distance, share, p, float(np.abs(seen - new).max()))
    if best and best[0] < 0.05 and best[3] > 2 * best[0]:
        return {"share": round(float(best[1]), 3), "power": best[2]}
    return None


def drift(reference: str | Path, current: str | Path, settings: DriftSettings = DriftSettings(),
          ignore: set[str] = frozenset(), time_col: str | None = None, window: str | None = None,
          save_reference: str | Path | None = None, score_col: str | None = None,
          day_first: bool = False) -> list[tuple[str, DriftReport]]:
    """``novelty drift`` as a function: one report for the whole current table, or one per window.

    ``score_col`` names the model's score column: its finding comes first and says so. ``day_first``
    reads a ``time_col`` date with slashes day first (03/06/2026 is 3 June), as ``score`` does."""
    paths_given(reference=reference, current=current, save_reference=save_reference, required=2)
    check_argument("settings", settings, DriftSettings, "a novelty.drift.DriftSettings, e.g. DriftSettings(fdr=0.1)")
    time_col, score_col = nfc(time_col), nfc(score_col)  # as the tables' names are read
    if window is not None and not time_col:  # as the CLI says it: one report for all, window unsaid
        raise InputError("window only applies with time_col (the column of each row's time)")
    ignore = ignored(ignore)
    ref, table, malformed = _tables(reference, current, ignore, time_col, score_col, save_reference)
    ignore |= set(ref.get("ignored", []))  # a profile saved with --ignore keeps leaving them out
    if not time_col:
        return [("all", _score_first(_whole(ref, table, settings, ignore, malformed), score_col))]
    if time_col not in table.columns:
        raise InputError(f"{current}: no column {time_col!r} (--time-col); columns: {', '.join(map(str, table.columns))}")
    from .spikes import window_offset, window_seconds

    times = table[time_col]
    if pd.api.types.is_numeric_dtype(times) and not pd.api.types.is_bool_dtype(times):  # epoch seconds or ms
        unit = "ms" if times.abs().median() > EPOCH_MS_ABOVE else "s"  # the rule of novelty.logs.format_time
        stamps = pd.to_datetime(times, unit=unit, utc=True, errors="coerce")
    else:  # 06.03.2026 is March 6 here as in `score` (pandas alone read it as June 3)
        readings = {value: numeric_date_as_iso(value, day_first) for value in pd.unique(times.dropna())}
        if not day_first and _day_first_only(readings):  # (QA: 01/11 read as 11 January, 20/10 in no window)
            raise InputError(f"{current}: dates in column {time_col!r} put the day first "
                             f"({next(v for v, r in readings.items() if r is None and _day_first_date(v))}): "
                             "add --day-first (day_first=True), or every date up to the 12th lands on another month")
        stamps = pd.to_datetime(times.map(readings), utc=True, errors="coerce", format="mixed")
    # as `score` reads times: one before 1990 or after 2099 is an unset or misread clock (epoch 0,
    # seconds read as milliseconds), not a window of its own
    stamps = stamps.where((stamps >= pd.Timestamp(EARLIEST)) & (stamps < pd.Timestamp(LATEST)))
    if stamps.isna().all():
        flipped = not day_first and any(map(_day_first_date, pd.unique(times.dropna())[:50]))
        raise InputError(f"{current}: no readable time in column {time_col!r} (times must fall in 1990-2099)"
                         + ("; its dates put the day first (25/03/2026)? add --day-first" if flipped else ""))
    seconds = window_seconds(window or "1d")
    shift = pd.Timedelta(seconds=window_offset(seconds))  # weeks start on Monday, as spikes' do (were Thursdays)
    starts = (stamps + shift).dt.floor(f"{seconds}s") - shift
    body = table.drop(columns=[time_col])
    untimed = int(stamps.isna().sum())
    note = [f"{untimed:,} rows of {current} have no readable {time_col!r} and are in no window"] if untimed else []
    note += malformed
    windows = sorted(starts.dropna().unique())
    reports = _decided([_tested(ref, body[starts == start].reset_index(drop=True), settings, ignore, "window")
                        for start in windows], settings)
    return [(start.strftime("%Y-%m-%dT%H:%M:%SZ"),
             _score_first(DriftReport(r.reference_rows, r.current_rows, r.findings, r.not_checked + note), score_col))
            for start, r in zip(windows, reports)]


def drift_with_profiles(reference: str | Path, current: str | Path, settings: DriftSettings = DriftSettings(),
                        ignore: set[str] = frozenset()) -> tuple[DriftReport, tuple[dict, dict]]:
    """``drift`` of the whole current table, with the two tables' profiles (the report draws them): the
    same checks as ``drift``, so an empty or header-only table is refused by both (the report had
    named its columns missing, while diagnose refused the table)."""
    paths_given(reference=reference, current=current, required=2)
    check_argument("settings", settings, DriftSettings, "a novelty.drift.DriftSettings, e.g. DriftSettings(fdr=0.1)")
    ignore = ignored(ignore)
    ref, table, malformed = _tables(reference, current, ignore)
    ignore |= set(ref.get("ignored", []))
    return _whole(ref, table, settings, ignore, malformed), (ref, profile(table, ignore, seed=CURRENT_SEED))


def _day_first_date(value) -> bool:
    """A date with slashes that reads day first only (25/03/2026); a number or another text is none."""
    return isinstance(value, str) and numeric_date_as_iso(value) is None and \
        numeric_date_as_iso(value, True) not in (None, value)


def _day_first_only(readings: dict) -> bool:
    """Dates read month first (``readings``) of which some read day first only and none month first
    only: written day first, and those up to the 12th were misread.

    >>> _day_first_only({"01/11/2026": "2026-01-11", "20/10/2026": None})
    True
    >>> _day_first_only({"01/11/2026": "2026-01-11", "10/20/2026": "2026-10-20", "20/10/2026": None})
    False
    >>> _day_first_only({"2026-03-01T10:00:00Z": "2026-03-01T10:00:00Z", "25/03/2026": None})  # none misread
    False
    """
    def both_ways(v, r) -> bool:  # 01/11/2026: 11 January or 1 November
        return isinstance(v, str) and r is not None and r != v and numeric_date_as_iso(v, True) not in (None, v, r)
    return any(_day_first_date(v) for v, r in readings.items() if r is None) and \
        any(both_ways(v, r) for v, r in readings.items()) and \
        not any(isinstance(v, str) and r is not None and r != v and numeric_date_as_iso(v, True) is None
                for v, r in readings.items())


def paths_given(what: str = "the path of a table (CSV, JSONL or Parquet)", /, required: int = 0, **named) -> None:
    """Each named library argument that is not None is a path (a DataFrame reached Path() as a TypeError);
    the first ``required`` of them must be given (None reached Path() as a TypeError too)."""
    for i, (name, value) in enumerate(named.items()):
        if value is not None or i < required:
            check_argument(name, value, (str, Path), what)


def ignored(ignore) -> set[str]:
    """The columns to leave out as a set: a list or tuple is what a library caller passes (it was a
    TypeError, 'unsupported operand type(s) for |'); one name alone is refused, as its letters would be."""
    if isinstance(ignore, str) or not isinstance(ignore, (set, frozenset, list, tuple)):
        raise InputError(f"ignore is a set or list of column names, such as ['user_id'], not {ignore!r}")
    return {nfc(str(name)) for name in ignore}  # as the tables' names are read


def _tables(reference, current, ignore: set[str], time_col: str | None = None, score_col: str | None = None,
            save_reference: str | Path | None = None) -> tuple[dict, pd.DataFrame, list[str]]:
    """The reference profile, the current table and what was set aside in them, once each is known
    to be one that can be compared (``--save-reference`` written once the inputs are known good)."""
    ref = load_reference(reference, ignore | ({time_col} if time_col else set()))
    if score_col and score_col in ignore | set(ref.get("ignored", [])):
        where = f" (or left out of the saved profile {reference})" if score_col in ref.get("ignored", []) else ""
        raise InputError(f"--score-col {score_col!r} is also in --ignore{where}: leave it out of one of them")
    if score_col and score_col not in ref["columns"]:
        raise InputError(f"{reference}: no score column {score_col!r} (--score-col)")
    if _saved_profile(Path(current)):
        raise InputError(f"{current} is a saved profile (--save-reference): it can only be the REFERENCE; "
                         "give the current table itself")
    table = read_table(current)
    # a profile of an older version does not know the columns ignored when it was saved: not checked
    unknown = set(ignore) - set(ref["names"]) - set(map(str, table.columns)) if "names" in ref else set()
    if unknown:  # a typo ('ID' for 'id') would test the column it meant to leave out, silently
        raise InputError(f"--ignore: no column {', '.join(map(repr, sorted(unknown)))} in either table; "
                         f"columns: {', '.join(map(str, table.columns))}")
    if save_reference:  # once the inputs are known good
        refuse_overwrite(Path(save_reference), [current, *([] if _saved_profile(Path(reference)) else [reference])])
        if not _replaceable_profile(Path(save_reference)):  # a golden CSV or monitor.toml typed there was
            refuse_replacing(Path(save_reference), "profile")  # replaced, exit 0 (QA)
        try:
            saved = {k: v for k, v in ref.items() if k != "set_aside"}
            kept = sorted(set(ignore) & set(ref.get("names", [])))  # its later runs leave them out too (QA: listed as
            saved["ignored"] = sorted(set(saved.get("ignored", [])) | set(kept))  # 'new column' on every run)
            write_whole(Path(save_reference), json.dumps(saved))
        except OSError as exc:
            raise InputError(f"--save-reference {save_reference}: cannot write it ({exc.strerror})") from None
    if ref["rows"] == 0:
        raise InputError(f"{reference}: no rows ({ref.get('set_aside') or 'only a header?'}): nothing to compare")
    if table.empty:
        raise no_rows(current, table, "nothing to compare")
    malformed = [n for n in (ref.get("set_aside"), set_aside(table, current)) if n]
    return ref, table, malformed


def _whole(ref: dict, table: pd.DataFrame, settings: DriftSettings, ignore: set[str], malformed: list[str]
           ) -> DriftReport:
    whole = compare(ref, table, settings, ignore)
    return DriftReport(whole.reference_rows, whole.current_rows, whole.findings, whole.not_checked + malformed)


def _score_first(report: DriftReport, score_col: str | None) -> DriftReport:
    if not score_col:
        return report
    first = [DriftFinding(**{**asdict(f), "evidence": "model score distribution: " + f.evidence,
                             "details": {**f.details, "role": "model score"}})
             for f in report.findings if f.feature == score_col]
    return DriftReport(report.reference_rows, report.current_rows,
                       first + [f for f in report.findings if f.feature != score_col], report.not_checked)
