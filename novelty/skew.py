"""Training-serving skew: the same request, two pipelines, different feature values.

With a key, offline and serving rows are joined and each feature's values compared row by row
(whole numbers exactly however stored, epoch times to the second, other numbers within a tolerance that
is a share of the feature's spread, anything else exactly). Without a key, only distributions can be
compared, which is what ``drift`` does.
"""

from __future__ import annotations

import json
import math
import re
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .drift import join_keys, looks_like_time, nfc, no_rows, no_pair_hint, paths_given, read_table, respelt_keys
from .errors import InputError, check_argument
from .logs import detect_format, epoch_unit, field_separator


@dataclass(frozen=True)
class SkewFinding:
    feature: str
    compared: int
    mismatches: int
    mismatch_rate: float
    skewed: bool
    example_keys: list[str] = field(default_factory=list)
    evidence: str = ""


@dataclass(frozen=True)
class SkewReport:
    offline_rows: int
    serving_rows: int
    joined: int
    findings: list[SkewFinding]
    null_keys: int = 0          # rows of either table without a key: they cannot be paired, so are left out
    unmatched: dict = field(default_factory=dict)  # side -> {"keys": n, "examples": [...]}: no row on the other side
    repeated: dict = field(default_factory=dict)   # side -> {"keys": n, "rows": n, "examples": [...]}: left out
    duplicate_rows: int = 0     # exact copies of a row (a log delivered twice): one of them is compared
    malformed: dict = field(default_factory=dict)  # side -> {"rows": n, "first": "line 3: ..."}: set aside unread
    keys: dict = field(default_factory=dict)        # side -> distinct keys it has
    shared_keys: int = 0        # distinct keys on both sides (repeated ones included)
    respelt: dict = field(default_factory=dict)  # {"keys": n, "examples": [[offline, serving], ...]}: unpaired
    # keys that pair once leading zeros go ('0007' against '7'), left unpaired: they may be other ids

    @property
    def skewed(self) -> list[SkewFinding]:
        return [f for f in self.findings if f.skewed]

    @property
    def warnings(self) -> list[str]:
        """What makes the comparison weaker than it looks: few keys paired, keys that repeat."""
        out = []
        smaller = min(self.keys.values(), default=0)
        if smaller > 0 and self.shared_keys < 0.5 * smaller:
            examples = "; ".join(f"{side} only: {', '.join(map(str, u['examples'][:3]))}"
                                 for side, u in self.unmatched.items() if u["keys"])
            out.append(f"only {self.shared_keys:,} of {smaller:,} keys are in both tables: "
                       f"are they written the same way on both sides? ({examples})")
        if self.respelt.get("keys"):
            shown = ", ".join(f"{a!r} offline and {b!r} serving" for a, b in self.respelt["examples"][:2])
            out.append(f"{self.respelt['keys']:,} unpaired keys would pair without their leading zeros (e.g. "
                       f"{shown}): one side writes them padded? They were left unpaired; write them one way")
        for side, r in self.repeated.items():
            if r["keys"]:
                out.append(f"{r['keys']:,} keys repeat with different values in the {side} table "
                           f"({r['rows']:,} rows left out, e.g. {', '.join(r['examples'][:3])}): which row is "
                           "the request's cannot be told")
        if not any(f.compared for f in self.findings):  # only the key in common: 'no skew' would be unchecked
            out.append("no feature column is in both tables: nothing was compared (are the serving columns "
                       "named as the offline ones?)")
        return out

    def to_dict(self) -> dict:
        return {"offline_rows": self.offline_rows, "serving_rows": self.serving_rows, "joined": self.joined,
                "null_keys": self.null_keys, "unmatched": self.unmatched, "repeated": self.repeated,
                "duplicate_rows": self.duplicate_rows, "malformed": self.malformed, "keys": self.keys,
                "shared_keys": self.shared_keys, "respelt": self.respelt, "warnings": self.warnings,
                "skewed": [f.feature for f in self.skewed], "findings": [asdict(f) for f in self.findings]}


# a share of the feature's spread (robust standard deviation): float32 against float64, or values written
# with 4 decimals, pass; a 3 km offset of a latitude, or an epoch time moved by an hour, do not (a share
# of the value itself, 1e-3 before, called both '0 rows differ': a 1-hour shift is 2e-6 of 1.7e9)
TOLERANCE = 1e-3
FLOAT32_ROUNDING = 2.0 ** -23  # the most a value's float32 copy moves, relatively (twice, to be safe)


def skew(offline: str | Path, serving: str | Path, key: str, tolerance: float = TOLERANCE,
         min_mismatch: float = 0.01) -> SkewReport:
    """Per feature, the share of joined rows whose serving value differs from the offline one.

    Rows are paired by ``key``. Malformed lines, rows without a key, keys on one side only, and keys
    that repeat with different values (which row is the request's cannot be told) are left out of
    the comparison and counted in the report; exact copies of a row count once."""
    paths_given(offline=offline, serving=serving, required=2)
    check_argument("key", key, str, "the name of the column both tables join on, such as 'request_id'")
    for name, value in (("tolerance", tolerance), ("min_mismatch", min_mismatch)):
        check_argument(name, value, float, "a number, such as 0.01")  # '0.1' was a TypeError from math.isfinite
    key = nfc(key)  # as the tables' names are read ('clé' typed decomposed)
    if not (math.isfinite(tolerance) and tolerance >= 0 and 0 <= min_mismatch <= 1):
        raise InputError(f"--tolerance must be a number >= 0 and --min-mismatch a share between 0 and 1 "
                         f"(got {tolerance}, {min_mismatch})")
    left, right = read_table(offline, (key,), keep_inf=True), read_table(serving, (key,), keep_inf=True)
    for name, frame, path in (("offline", left, offline), ("serving", right, serving)):
        if key not in frame.columns:
            raise InputError(f"{path}: no key column {key!r} (--key) in the {name} table")
        if frame.empty:
            raise no_rows(path, frame, "nothing to compare")
    left, right = _codes_as_written(left, right, offline, serving, key)
    left[key], right[key] = join_keys(left[key], right[key])  # as text: '00123' (CSV) meets 123 (Parquet)
    rows = len(left), len(right)
    malformed = {name: frame.attrs["set_aside"] for name, frame in (("offline", left), ("serving", right))
                 if frame.attrs.get("set_aside")}
    null_keys = int(left[key].isna().sum() + right[key].isna().sum())  # two rows without a key are no pair
    keyed = {"offline": left[left[key].notna()], "serving": right[right[key].notna()]}
    keys = {name: list(dict.fromkeys(frame[key].tolist())) for name, frame in keyed.items()}  # sets: Index.isin
    present = {name: set(k) for name, k in keys.items()}  # on Arrow strings took 5 s per million keys
    sides, repeated, unmatched, copies, alone = {}, {}, {}, 0, {}
    for (name, frame), other in zip(keyed.items(), ("serving", "offline")):
        alone[name] = [k for k in keys[name] if k not in present[other]]  # before repeated keys go: not 'missing'
        unmatched[name] = {"keys": len(alone[name]), "examples": alone[name][:5]}
        again = frame[key].duplicated(keep=False).to_numpy()  # only rows of a repeated key can be copies
        copy = np.zeros(len(frame), dtype=bool)
        if again.any():
            copy[again] = _same_rows(frame[again]).to_numpy()
        unique = frame[~copy]  # a row delivered twice is one row
        copies += len(frame) - len(unique)
        twice = unique[key].duplicated(keep=False)
        repeated[name] = {"keys": int(unique.loc[twice, key].nunique()), "rows": int(twice.sum()),
                          "examples": unique.loc[twice, key].drop_duplicates().head(5).tolist()}
        sides[name] = unique[~twice].set_index(key)
    left, right = sides["offline"], sides["serving"]
    both = left.index.intersection(right.index, sort=False)
    shared = len(present["offline"] & present["serving"])  # distinct keys on both sides, repeated ones too
    if not len(both):
        if shared:
            examples = dict.fromkeys(k for r in repeated.values() for k in r["examples"][:2])  # each key once
            raise InputError(f"no {key!r} value is in both tables once: the {shared:,} keys they share repeat with "
                             f"different values (e.g. {', '.join(map(repr, examples))})")
        raise InputError(f"no {key!r} value is in both tables: nothing to compare" + no_pair_hint(keys, "keys"))
    left, right = left.loc[both], right.loc[both]
    features = [c for c in left.columns if c in right.columns]
    csv = (detect_format(Path(offline)) == "csv", detect_format(Path(serving)) == "csv")
    findings = [_compare(left[f], right[f], both, str(f), tolerance, min_mismatch, csv) for f in features]
    # a column on one side only is listed, never silently dropped; it is not called skew: an offline
    # table carries the label (and split or weight columns) that serving never has
    findings += [SkewFinding(str(c), 0, 0, 0.0, False, [], f"only in the {side} table: not compared (a feature "
                             "the serving pipeline does not compute, or a label?)" if side == "offline" else
                             f"only in the {side} table: not compared")
                 for side, mine, other in (("offline", left, right), ("serving", right, left))
                 for c in mine.columns if c not in other.columns]
    return SkewReport(*rows, len(both), findings, null_keys, unmatched, repeated, copies, malformed,
                      {name: len(k) for name, k in keys.items()}, shared, respelt_keys(alone["offline"], alone["serving"]))


def _codes_as_written(left: pd.DataFrame, right: pd.DataFrame, offline, serving, key: str):
    """A CSV's columns read again as written where the other table holds them as text with leading
    zeros: '00123' from Parquet then meets the CSV's '00123', not the number 123 it was read as; or,
    between two CSVs, where either writes them as codes (``_csv_codes``: '00501' against '501' is
    skew, which both read as 501 hid). Only those columns, only then: every column as text cost skew
    4.7x its time, and a CSV's month 01 must still meet a Parquet 1."""
    out = {"offline": left, "serving": right}
    paths = {"offline": Path(offline), "serving": Path(serving)}
    csv = {name: detect_format(path) == "csv" for name, path in paths.items()}
    written = set()
    if all(csv.values()):
        shared = [c for c in left.columns if c != key and c in right.columns and
                  pd.api.types.is_numeric_dtype(left[c]) and pd.api.types.is_numeric_dtype(right[c])]
        written = {c for path in paths.values() for c in _csv_codes(path, shared)}
    for name, mine, other in (("offline", left, right), ("serving", right, left)):
        codes = tuple(c for c in mine.columns if c != key and c in other.columns
                      and pd.api.types.is_numeric_dtype(mine[c]) and (c in written or _padded_text(other[c])))
        if codes and csv[name]:
            again = read_table(paths[name], (key, *codes), keep_inf=True)
            out[name] = mine.assign(**{c: again[c] for c in codes})
    return out["offline"], out["serving"]


def _csv_codes(path: Path, columns: list[str], rows: int = 10_000) -> list[str]:
    """Of a CSV's number ``columns``, those written as codes in its first ``rows`` rows: with leading
    zeros, every such value of one width of at least 3 ('00501', not a month's '01')."""
    if not columns:
        return []
    try:
        head = pd.read_csv(path, sep=field_separator(path), dtype=str, nrows=rows, keep_default_na=False,
                           encoding="utf-8", encoding_errors="replace", on_bad_lines="skip", index_col=False)
    except (ValueError, OSError, pd.errors.ParserError):
        return []
    head.columns = [str(c).strip() for c in head.columns]  # ' zip ': as read_table names it
    columns = [c for c in columns if c in head.columns and head.columns.tolist().count(c) == 1]
    found = []
    for column in columns:
        padded = head[column].str.strip()
        padded = padded[padded.str.match(_PADDED)]
        widths = padded.str.len().unique()
        if len(padded) and len(widths) == 1 and widths[0] >= 3:
            found.append(column)
    return found


def _padded_text(values: pd.Series) -> bool:
    if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_datetime64_any_dtype(values):
        return False
    try:
        return bool(values.dropna().astype(str).str.match(_PADDED).any())
    except (TypeError, AttributeError):
        return False


def _same_rows(frame: pd.DataFrame) -> pd.Series:
    """Rows that copy an earlier row exactly (lists and other unhashable values compared as text)."""
    try:
        return frame.duplicated()
    except TypeError:
        return frame.astype(str).duplicated()


def _numbers(values: pd.Series) -> np.ndarray:
    """The values as floats where they are numbers, written as numbers or as text ("3" in JSONL
    against 3.0 in CSV), or True/False (1/0); NaN where missing or not a number ('unknown')."""
    if pd.api.types.is_datetime64_any_dtype(values) or pd.api.types.is_timedelta64_dtype(values):
        return np.full(len(values), np.nan)  # instants are compared as instants; as numbers the tolerance was weeks
    if pd.api.types.is_bool_dtype(values) or pd.api.types.infer_dtype(values, skipna=True) == "boolean":
        return values.map({True: 1.0, False: 0.0}).to_numpy(float)  # True against 1 is the same value
    words = values.dropna()
    if len(words) and pd.api.types.infer_dtype(words) == "string" and \
            words.str.strip().str.lower().isin(("true", "false")).all():  # JSON text "true", a CSV's TRUE
        return values.map(lambda v: v if pd.isna(v) else float(v.strip().lower() == "true")).to_numpy(float)
    if pd.api.types.is_numeric_dtype(values):
        return values.to_numpy(float)
    try:
        return pd.to_numeric(values, errors="coerce").to_numpy(float)
    except (TypeError, ValueError):  # a list or an object among the values: one at a time
        return np.array([_number(v) for v in values], dtype=float)


def _number(value) -> float:
    try:
        return float(value) if isinstance(value, (str, int, float, np.number)) else math.nan
    except ValueError:
        return math.nan


# what pandas reads as missing in a CSV, kept as text by Parquet and JSONL: Namibia's 'NA' in a CSV
# against the same 'NA' in Parquet is one value, not skew in 20 % of rows (only a CSV's missing value:
# a Parquet null against the text 'None' is the str(None) bug)
# pandas' list, and the empty text: a CSV cannot tell a blank cell from "", so "" in Parquet or JSON
# against a CSV's blank is one value (QA: a coupon column, 70 % blank, was 68 % skew between two copies)
_NA_WORDS = np.array(["", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
                      "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null", "\\N"], dtype=object)
_PADDED = r"\s*[+-]?0\d"  # '00501': a code whose zeros matter, not the number 501


def _texts(values: pd.Series) -> np.ndarray:
    """Values as text to compare; a list as JSON, however it was read ([1, 2] from JSONL, an array
    from Parquet, which str() writes '[1 2]')."""
    if values.dtype != object:
        return values.astype(str).to_numpy()
    return np.array([json.dumps(v.tolist() if isinstance(v, np.ndarray) else list(v), default=str)
                     if isinstance(v, (list, tuple, np.ndarray)) else str(v) for v in values], dtype=object)


def _times(values: pd.Series) -> pd.Series | None:
    """The values as UTC instants (NaT where one cannot be read: 'unknown') when they are datetimes or
    ISO times, else None."""
    if pd.api.types.is_datetime64_any_dtype(values):
        return pd.to_datetime(values, utc=True)
    given = values.dropna()
    if not len(given) or pd.api.types.infer_dtype(given) != "string":
        return None
    dated = given[given.str.match(r"\s*\d{4}-\d{2}-\d{2}")]
    if not len(dated) or not looks_like_time(dated.head(200), None):
        return None
    return pd.to_datetime(values, utc=True, errors="coerce", format="ISO8601")


def _epoch_times(values: pd.Series) -> pd.Series | None:
    """Numbers that are epoch times of 1990-2099 (seconds, or milli-, micro-, nanoseconds, by their
    median) as UTC instants, else None: 1772323200 against '2026-03-01T00:00:00Z' is one time, not the
    '100 % skew' it was (QA).

    >>> _epoch_times(pd.Series([1772323200, 1772323260])).dt.strftime("%H:%M").tolist(), _epoch_times(pd.Series([3, 4]))
    (['00:00', '00:01'], None)
    """
    if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values) or not values.notna().any():
        return None
    unit = epoch_unit(float(values.median()))
    if unit is None:
        return None
    return pd.to_datetime(values.astype(float) / unit, unit="s", utc=True, errors="coerce").dt.round("us")


def _rounded(u: np.ndarray, v: np.ndarray, allowed: float) -> np.ndarray:
    """Whether one value is the other written with fewer decimals, a unit of them within ``allowed``:
    a feature centred on 0 served with 4 decimals was skew in 2 % of rows (QA), 0.0123 for 0.012345 being
    0.4 % off; 0 for 0.9 stays skew (a unit of 0 decimals is 1) unless the spread makes 1 a trifle.

    >>> _rounded(np.array([0.012345, 0.9, 1e-7]), np.array([0.0123, 0.0, 0.0]), 1e-3).tolist()
    [True, False, True]
    """
    out = np.zeros(len(u), dtype=bool)
    for digits in range(10):
        if 0.5 * 10.0 ** -digits > allowed:
            continue
        for short, full in ((v, u), (u, v)):  # the side written with ``digits`` decimals, the other rounded
            written = np.abs(np.round(short, digits) - short) <= 1e-12 * np.maximum(1.0, np.abs(short))
            out |= written & (np.abs(np.round(full, digits) - short) <= 1e-12 * np.maximum(1.0, np.abs(short)))
    return out


def _compare(a: pd.Series, b: pd.Series, keys: pd.Index, feature: str, tolerance: float,
             min_mismatch: float, csv: tuple[bool, bool] = (False, False)) -> SkewFinding:
    """Offline ``a`` against serving ``b``, row by row: where both read as numbers, within the tolerance
    ('3' against 3.0); else where both read as times, as instants; else as text (an 'unknown' among
    numbers, a code with leading zeros: '00501' against '501' is skew)."""
    na, nb = a.isna().to_numpy(), b.isna().to_numpy()
    x, y = _numbers(a).copy(), _numbers(b).copy()  # to_numpy may hand back the frame's own (read-only) array
    for values, parsed in ((a, x), (b, y)):
        if not pd.api.types.is_numeric_dtype(values):
            try:
                parsed[values.str.match(_PADDED, na=False).to_numpy(bool)] = np.nan
            except AttributeError:  # no text in the column at all (lists, objects)
                pass
    read = ~np.isnan(x) & ~np.isnan(y)
    close = np.zeros(len(keys), dtype=bool)
    if _integers(a) and _integers(b):  # counts, codes, epoch seconds: 94105 against 94107 is skew, and
        close[read] = a.to_numpy()[read] == b.to_numpy()[read]  # ids past 2**53 are compared as integers
    elif _whole(x) and _whole(y):  # the same read as floats (a CSV column with a blank): zip + 2 was within
        u, v = x[read], y[read]  # 0.1 % of the spread of postcodes; float32's rounding of counts near 1e8 is not
        with np.errstate(invalid="ignore"):  # inf - inf: equal when both are the same infinity
            close[read] = (np.abs(u - v) <= FLOAT32_ROUNDING * np.maximum(np.abs(u), np.abs(v))) | (u == v)
    elif (second := _epoch_second(feature, x, y)) is not None:  # epoch times with fractions: 0.1 % of a
        with np.errstate(invalid="ignore"):  # year's spread is 6 hours, and an hour off passed
            close[read] = (np.abs(x[read] - y[read]) <= second) | (x[read] == y[read])
    else:
        # within the share of the spread, and of the values themselves (0 against 0.9 beside 2e6 is skew;
        # zero against float noise is not)
        spread, u, v = _spread(x[read]), x[read], y[read]
        with np.errstate(invalid="ignore", over="ignore"):  # inf - inf: equal when both are the same infinity
            gap = np.abs(u - v)
            near = gap <= tolerance * spread
            relative = gap <= tolerance * np.maximum(np.abs(u), np.abs(v)) + 1e-6 * tolerance * spread
            unsure = near & ~relative & (u != v)  # near zero: 0.00005 off is 0.4 % of 0.0123
            relative[unsure] = _rounded(u[unsure], v[unsure], tolerance * spread)
            close[read] = (near & relative) | (u == v)
    rest = ~read
    times = (_times(a[rest]), _times(b[rest])) if rest.any() else (None, None)
    if (times[0] is None) != (times[1] is None):  # epoch numbers on one side, ISO text on the other: one
        times = tuple(t if t is not None else _epoch_times(v) for t, v in zip(times, (a[rest], b[rest])))  # instant
    if times[0] is not None and times[1] is not None:  # one instant, however written ('Z', '-04:00')
        instants = (times[0].notna() & times[1].notna()).to_numpy()
        spots = np.flatnonzero(rest)[instants]
        t0, t1 = times[0][instants], times[1][instants]
        if any((t.dt.floor("s") == t).all() for t in (t0, t1)):  # one side to the second (epoch seconds, cut
            close[spots] = ((t1 - t0).abs() < pd.Timedelta(seconds=1)).to_numpy()  # or rounded): the other's
        else:                                                                    # fractions are no skew (QA: 100 %)
            close[spots] = (t0 == t1).to_numpy()
        rest[spots] = False
        gaps = (t1 - t0)[~close[spots]]
        shift = gaps.median() if len(gaps) else None  # a clock or time-zone bug moves every time alike
    else:
        shift = None
    worded = np.zeros(len(keys), dtype=bool)  # a CSV's missing 'NA' against the text 'NA': one value
    if rest.any():  # the rest as text, both missing alike
        ta, tb = _texts(a[rest]), _texts(b[rest])
        worded[rest] = (csv[0] & na[rest] & np.isin(tb, _NA_WORDS)) | (csv[1] & nb[rest] & np.isin(ta, _NA_WORDS))
        close[rest] = (ta == tb) | (na[rest] & nb[rest]) | worded[rest]
    numeric = bool(read.any())
    differ = ~close
    rate = float(differ.mean())
    examples = keys[differ][:5].astype(str).tolist()
    evidence = f"{differ.sum():,} of {len(keys):,} joined rows differ ({rate:.1%})"
    if differ.any() and numeric:
        with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # inf / inf: no ratio, said by the NaN
            ratio = np.nanmedian((y / x)[differ & (x != 0)]) if (differ & (x != 0)).any() else np.nan
            offset = np.nanmedian((y - x)[differ & read]) if (differ & read).any() else np.nan
        if np.isfinite(ratio) and f"{ratio:.4g}" != "1" and abs(ratio - 1) > tolerance:
            evidence += f"; serving / offline is {ratio:.4g} at the median"
        elif np.isfinite(offset) and offset:  # a shift, not a scale: 'is 1 at the median' said nothing
            evidence += f"; serving - offline is {offset:+.4g} at the median"
    if shift is not None:
        evidence += f"; serving is {_duration(shift)} at the median"
    if differ.any() and not numeric and shift is None:  # 'e.g. 0, 1, 2' alone: which values? (QA: True against 'yes')
        first = int(np.flatnonzero(differ)[0])
        evidence += f"; e.g. {_shown(a.iloc[first])} offline, {_shown(b.iloc[first])} serving (key {keys[first]})"
    if ((na != nb) & ~worded).any():
        evidence += f"; null on one side only in {int(((na != nb) & ~worded).sum()):,} rows"
    return SkewFinding(feature, len(keys), int(differ.sum()), rate, bool(differ.any()) and rate >= min_mismatch,
                       examples, evidence)


def _shown(value) -> str:
    """One value as a user would tell it from another: text quoted, a missing one as null."""
    try:
        if pd.isna(value):
            return "null"
    except (TypeError, ValueError):  # a list or an array: no single missing value
        pass
    return repr(value if not isinstance(value, np.generic) else value.item())[:60]


def _whole(numbers: np.ndarray) -> bool:
    """Whether every number read is a whole one, and some are: integers stored as floats.

    >>> _whole(np.array([94105.0, np.nan, 2.0])), _whole(np.array([1.0, 2.5])), _whole(np.array([np.nan]))
    (True, False, False)
    """
    finite = numbers[np.isfinite(numbers)]
    return bool(len(finite)) and bool(np.all(finite == np.round(finite)))


_TIME_NAME = re.compile(r"(time|date|stamp|epoch|(^|_)(ts|at)$)", re.IGNORECASE)


def _epoch_second(feature: str, x: np.ndarray, y: np.ndarray) -> float | None:
    """One second in the feature's unit when it is named as a time and both sides' middle values are
    epoch times of 1990-2099 in seconds, milli-, micro- or nanoseconds alike; else None.

    >>> _epoch_second("event_ts", np.array([1.7e12 + 0.5]), np.array([1.7e12]))
    1000.0
    >>> _epoch_second("revenue", np.array([1.7e9 + 0.5]), np.array([1.7e9])) is None
    True
    """
    if not _TIME_NAME.search(feature) or not (np.isfinite(x).any() and np.isfinite(y).any()):
        return None
    units = {epoch_unit(float(np.nanmedian(v))) for v in (x, y)}
    return units.pop() if len(units) == 1 else None


def _integers(values: pd.Series) -> bool:
    """Whether a column holds integers as read (an int or bool dtype, or Python ints among objects)."""
    if pd.api.types.is_bool_dtype(values) or pd.api.types.is_integer_dtype(values):
        return True
    return values.dtype == object and pd.api.types.infer_dtype(values, skipna=True) == "integer"


def _spread(values: np.ndarray) -> float:
    """The feature's spread offline: its robust standard deviation (IQR / 1.349), else its standard
    deviation, else its typical size (a constant column), else 1.

    >>> _spread(np.array([0.0, 1, 2, 3, 4])), _spread(np.array([2e-8, 2e-8])), _spread(np.zeros(3))
    (1.4825796886582654, 2e-08, 1.0)
    >>> _spread(np.full(1000, 0.035))  # its np.std is 1.4e-17
    0.035
    """
    finite = values[np.isfinite(values)]
    if not len(finite):
        return 1.0
    q1, q3 = np.percentile(finite, [25, 75])
    size = float(np.median(np.abs(finite)))
    # a constant 0.035 has a standard deviation of rounding noise (1e-17): a spread that small is none,
    # else float32 against float64 (1.5e-10 apart) was skew in every row
    for spread in ((q3 - q1) / 1.349, float(np.std(finite)), size):
        if spread > 1e-9 * size and spread > 0:
            return float(spread)
    return 1.0


def _duration(gap: pd.Timedelta) -> str:
    """A time shift in words.

    >>> [_duration(pd.Timedelta(**k)) for k in ({"hours": -1}, {"days": 10, "minutes": 3}, {"seconds": 0.25})]
    ['1 h earlier', '10 d 0 h 3 min later', '0.25 s later']
    """
    seconds = abs(gap.total_seconds())
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, rest = divmod(rest, 60)
    parts = [f"{int(days)} d" if days else "", f"{int(hours)} h" if hours or (days and (minutes or rest)) else "",
             f"{int(minutes)} min" if minutes else "", f"{rest:g} s" if rest else ""]
    return " ".join(p for p in parts if p) + (" earlier" if gap.total_seconds() < 0 else " later")
