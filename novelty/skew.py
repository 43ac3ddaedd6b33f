"""Training-serving skew: the same request, two pipelines, different feature values.

With a key, offline and serving rows are joined and each feature's values compared row by row
(numbers within a relative tolerance, anything else exactly). Without a key, only distributions can
be compared, which is what ``drift`` does.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .drift import join_keys, looks_like_time, read_table
from .errors import InputError


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

    @property
    def skewed(self) -> list[SkewFinding]:
        return [f for f in self.findings if f.skewed]

    @property
    def warnings(self) -> list[str]:
        """What makes the comparison weaker than it looks: few keys paired, keys that repeat."""
        out = []
        smaller = min(self.offline_rows, self.serving_rows) - self.null_keys
        if smaller > 0 and self.joined < 0.5 * smaller:
            examples = "; ".join(f"{side} only: {', '.join(u['examples'][:3])}"
                                 for side, u in self.unmatched.items() if u["keys"])
            out.append(f"only {self.joined:,} of {smaller:,} keys are in both tables: "
                       f"are they written the same way on both sides? ({examples})")
        for side, r in self.repeated.items():
            if r["keys"]:
                out.append(f"{r['keys']:,} keys repeat with different values in the {side} table "
                           f"({r['rows']:,} rows left out, e.g. {', '.join(r['examples'][:3])}): which row is "
                           "the request's cannot be told")
        return out

    def to_dict(self) -> dict:
        return {"offline_rows": self.offline_rows, "serving_rows": self.serving_rows, "joined": self.joined,
                "null_keys": self.null_keys, "unmatched": self.unmatched, "repeated": self.repeated,
                "duplicate_rows": self.duplicate_rows, "malformed": self.malformed, "warnings": self.warnings,
                "skewed": [f.feature for f in self.skewed], "findings": [asdict(f) for f in self.findings]}


def skew(offline: str | Path, serving: str | Path, key: str, tolerance: float = 1e-3,
         min_mismatch: float = 0.01) -> SkewReport:
    """Per feature, the share of joined rows whose serving value differs from the offline one.

    Rows are paired by ``key``. Malformed lines, rows without a key, keys on one side only, and keys
    that repeat with different values (which row is the request's cannot be told) are left out of
    the comparison and counted in the report; exact copies of a row count once."""
    if not (math.isfinite(tolerance) and tolerance >= 0 and 0 <= min_mismatch <= 1):
        raise InputError(f"--tolerance must be a number >= 0 and --min-mismatch a share between 0 and 1 "
                         f"(got {tolerance}, {min_mismatch})")
    left, right = read_table(offline, (key,), keep_inf=True), read_table(serving, (key,), keep_inf=True)
    for name, frame, path in (("offline", left, offline), ("serving", right, serving)):
        if key not in frame.columns:
            raise InputError(f"{path}: no key column {key!r} (--key) in the {name} table")
        if frame.empty:
            raise InputError(f"{path}: no rows (only a header?): nothing to compare")
    left[key], right[key] = join_keys(left[key], right[key])  # as text: '00123' (CSV) meets 123 (Parquet)
    rows = len(left), len(right)
    malformed = {name: frame.attrs["set_aside"] for name, frame in (("offline", left), ("serving", right))
                 if frame.attrs.get("set_aside")}
    null_keys = int(left[key].isna().sum() + right[key].isna().sum())  # two rows without a key are no pair
    sides, repeated, copies = {}, {}, 0
    for name, frame in (("offline", left), ("serving", right)):
        frame = frame[frame[key].notna()]
        unique = frame[~_same_rows(frame)]  # a row delivered twice is one row
        copies += len(frame) - len(unique)
        twice = unique[key].duplicated(keep=False)
        repeated[name] = {"keys": int(unique.loc[twice, key].nunique()), "rows": int(twice.sum()),
                          "examples": unique.loc[twice, key].drop_duplicates().head(5).tolist()}
        sides[name] = unique[~twice].set_index(key)
    left, right = sides["offline"], sides["serving"]
    both = left.index.intersection(right.index, sort=False)
    unmatched = {name: {"keys": int((~mine.index.isin(other.index)).sum()),
                        "examples": mine.index[~mine.index.isin(other.index)][:5].tolist()}
                 for name, mine, other in (("offline", left, right), ("serving", right, left))}
    if not len(both):
        hint = "; ".join(f"{name} keys such as {', '.join(map(repr, u['examples'][:3]))}"
                         for name, u in unmatched.items() if u["examples"])
        raise InputError(f"no {key!r} value is in both tables: nothing to compare" + (f" ({hint})" if hint else ""))
    left, right = left.loc[both], right.loc[both]
    features = [c for c in left.columns if c in right.columns]
    findings = [_compare(left[f], right[f], both, str(f), tolerance, min_mismatch) for f in features]
    # a column on one side only is listed, never silently dropped; it is not called skew: an offline
    # table carries the label (and split or weight columns) that serving never has
    findings += [SkewFinding(str(c), 0, 0, 0.0, False, [], f"only in the {side} table: not compared (a feature "
                             "the serving pipeline does not compute, or a label?)" if side == "offline" else
                             f"only in the {side} table: not compared")
                 for side, mine, other in (("offline", left, right), ("serving", right, left))
                 for c in mine.columns if c not in other.columns]
    return SkewReport(*rows, len(both), findings, null_keys, unmatched, repeated, copies, malformed)


def _same_rows(frame: pd.DataFrame) -> pd.Series:
    """Rows that copy an earlier row exactly (lists and other unhashable values compared as text)."""
    try:
        return frame.duplicated()
    except TypeError:
        return frame.astype(str).duplicated()


def _numbers(values: pd.Series) -> np.ndarray:
    """The values as floats where they are numbers, written as numbers or as text ("3" in JSONL
    against 3.0 in CSV), or True/False (1/0); NaN where missing or not a number ('unknown')."""
    if pd.api.types.is_bool_dtype(values) or pd.api.types.infer_dtype(values, skipna=True) == "boolean":
        return values.map({True: 1.0, False: 0.0}).to_numpy(float)  # True against 1 is the same value
    words = values.dropna()
    if len(words) and pd.api.types.infer_dtype(words) == "string" and \
            words.str.strip().str.lower().isin(("true", "false")).all():  # JSON text "true", a CSV's TRUE
        return values.map(lambda v: v if pd.isna(v) else float(v.strip().lower() == "true")).to_numpy(float)
    if pd.api.types.is_numeric_dtype(values):
        return values.to_numpy(float)
    return np.array([_number(v) for v in values], dtype=float)


def _number(value) -> float:
    try:
        return float(value) if isinstance(value, (str, int, float, np.number)) else math.nan
    except ValueError:
        return math.nan


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


def _compare(a: pd.Series, b: pd.Series, keys: pd.Index, feature: str, tolerance: float,
             min_mismatch: float) -> SkewFinding:
    """Offline ``a`` against serving ``b``, row by row: numbers within the tolerance, times as instants,
    a value that is neither on one side (an 'unknown' among numbers) as text, and text as text."""
    na, nb = a.isna().to_numpy(), b.isna().to_numpy()
    as_text = (a.astype(str).to_numpy() == b.astype(str).to_numpy()) | (na & nb)
    # text against text stays text: a serving pipeline that drops the zeros of '00501' is skewed
    numeric = pd.api.types.is_numeric_dtype(a) or pd.api.types.is_numeric_dtype(b)
    x, y = (_numbers(a), _numbers(b)) if numeric else (None, None)
    times = (_times(a), _times(b)) if not numeric else (None, None)
    if numeric:
        read = ~np.isnan(x) & ~np.isnan(y)
        close = np.where(read, np.isclose(x, y, rtol=tolerance, atol=tolerance * 1e-3), as_text)
    elif times[0] is not None and times[1] is not None:  # one instant, however written ('Z', '-04:00')
        read = (times[0].notna() & times[1].notna()).to_numpy()
        close = np.where(read, (times[0] == times[1]).to_numpy(), as_text)
    else:
        close = as_text
    differ = ~close
    rate = float(differ.mean())
    examples = keys[differ][:5].astype(str).tolist()
    evidence = f"{differ.sum():,} of {len(keys):,} joined rows differ ({rate:.1%})"
    if differ.any() and numeric:
        with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # inf / inf: no ratio, said by the NaN
            ratio = np.nanmedian((y / x)[differ & (x != 0)]) if (differ & (x != 0)).any() else np.nan
        if np.isfinite(ratio) and abs(ratio - 1) > tolerance:
            evidence += f"; serving / offline is {ratio:.4g} at the median"
    if (na != nb).any():
        evidence += f"; null on one side only in {int((na != nb).sum()):,} rows"
    return SkewFinding(feature, len(keys), int(differ.sum()), rate, bool(differ.any()) and rate >= min_mismatch,
                       examples, evidence)
