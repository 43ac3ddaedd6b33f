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

    @property
    def skewed(self) -> list[SkewFinding]:
        return [f for f in self.findings if f.skewed]

    def to_dict(self) -> dict:
        return {"offline_rows": self.offline_rows, "serving_rows": self.serving_rows, "joined": self.joined,
                "null_keys": self.null_keys, "skewed": [f.feature for f in self.skewed],
                "findings": [asdict(f) for f in self.findings]}


def skew(offline: str | Path, serving: str | Path, key: str, tolerance: float = 1e-3,
         min_mismatch: float = 0.01) -> SkewReport:
    """Per feature, the share of joined rows whose serving value differs from the offline one."""
    if not (math.isfinite(tolerance) and tolerance >= 0 and 0 <= min_mismatch <= 1):
        raise InputError(f"--tolerance must be a number >= 0 and --min-mismatch a share between 0 and 1 "
                         f"(got {tolerance}, {min_mismatch})")
    left, right = read_table(offline, (key,), keep_inf=True), read_table(serving, (key,), keep_inf=True)
    for name, frame, path in (("offline", left, offline), ("serving", right, serving)):
        if key not in frame.columns:
            raise InputError(f"{path}: no key column {key!r} (--key) in the {name} table")
    left[key], right[key] = join_keys(left[key], right[key])  # as text: '00123' (CSV) meets 123 (Parquet)
    rows = len(left), len(right)
    null_keys = int(left[key].isna().sum() + right[key].isna().sum())  # two rows without a key are no pair
    left, right = left[left[key].notna()], right[right[key].notna()]
    for name, frame, path in (("offline", left, offline), ("serving", right, serving)):
        if frame[key].duplicated().any():
            raise InputError(f"{path}: key {key!r} repeats in the {name} table; pass a unique key")
    joined = left.merge(right, on=key, suffixes=("__offline", "__serving"))
    if joined.empty:
        raise InputError(f"no {key!r} value is in both tables: nothing to compare")
    features = [c for c in left.columns if c != key and c in right.columns]
    findings = [_compare(joined, key, f, tolerance, min_mismatch) for f in features]
    # a column on one side only is listed, never silently dropped; it is not called skew: an offline
    # table carries the label (and split or weight columns) that serving never has
    findings += [SkewFinding(str(c), 0, 0, 0.0, False, [], f"only in the {side} table: not compared (a feature "
                             "the serving pipeline does not compute, or a label?)" if side == "offline" else
                             f"only in the {side} table: not compared")
                 for side, mine, other in (("offline", left, right), ("serving", right, left))
                 for c in mine.columns if c != key and c not in other.columns]
    return SkewReport(*rows, len(joined), findings, null_keys)


def _numbers(values: pd.Series) -> np.ndarray | None:
    """The values as floats when they are numbers, written as numbers or as text ("3" in JSONL
    against 3.0 in CSV), or True/False (1/0), else None."""
    if pd.api.types.is_bool_dtype(values) or pd.api.types.infer_dtype(values, skipna=True) == "boolean":
        return values.map({True: 1.0, False: 0.0}).to_numpy(float)  # True against 1 is the same value
    words = values.dropna()
    if len(words) and pd.api.types.infer_dtype(words) == "string" and \
            words.str.strip().str.lower().isin(("true", "false")).all():  # JSON text "true", a CSV's TRUE
        return values.map(lambda v: v if pd.isna(v) else float(v.strip().lower() == "true")).to_numpy(float)
    if pd.api.types.is_numeric_dtype(values):
        return values.to_numpy(float)
    parsed = pd.to_numeric(values, errors="coerce")
    if parsed[values.notna()].notna().all():
        return parsed.to_numpy(float)
    return None


def _times(values: pd.Series) -> pd.Series | None:
    """The values as UTC instants when they are datetimes, or ISO text for 90 % of those given (an
    'unknown' here and there is compared as text), else None."""
    if pd.api.types.is_datetime64_any_dtype(values):
        return pd.to_datetime(values, utc=True)
    given = values.dropna()
    if not len(given) or pd.api.types.infer_dtype(given) != "string" or \
            not looks_like_time(given[given.str.match(r"\s*\d{4}-\d{2}-\d{2}")].head(200), None):
        return None
    instants = pd.to_datetime(values, utc=True, errors="coerce", format="ISO8601")
    return instants if instants[values.notna()].notna().mean() >= 0.9 else None


def _compare(joined: pd.DataFrame, key: str, feature: str, tolerance: float, min_mismatch: float) -> SkewFinding:
    a, b = joined[f"{feature}__offline"], joined[f"{feature}__serving"]
    na, nb = a.isna(), b.isna()
    x, y = _numbers(a), _numbers(b)
    # text against text stays text: a serving pipeline that drops the zeros of '00501' is skewed
    numeric = x is not None and y is not None and \
        (pd.api.types.is_numeric_dtype(a) or pd.api.types.is_numeric_dtype(b))
    times = (_times(a), _times(b)) if not numeric else (None, None)
    if numeric:
        close = np.isclose(x, y, rtol=tolerance, atol=tolerance * 1e-3, equal_nan=True)
    elif times[0] is not None and times[1] is not None:  # one instant, however written ('Z', '-04:00')
        unread = (times[0].isna() & a.notna()) | (times[1].isna() & b.notna())  # 'unknown': compared as text
        close = ((times[0] == times[1]) | (na & nb) | (unread & (a.astype(str) == b.astype(str)))).to_numpy()
    else:
        close = (a.astype(str) == b.astype(str)).to_numpy() | (na & nb).to_numpy()
    differ = ~close
    rate = float(differ.mean())
    examples = joined.loc[differ, key].astype(str).head(5).tolist()
    evidence = f"{differ.sum():,} of {len(joined):,} joined rows differ ({rate:.1%})"
    if differ.any() and numeric:
        with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # inf / inf: no ratio, said by the NaN
            ratio = np.nanmedian((y / x)[differ & (x != 0)]) if (differ & (x != 0)).any() else np.nan
        if np.isfinite(ratio) and abs(ratio - 1) > tolerance:
            evidence += f"; serving / offline is {ratio:.4g} at the median"
    if (na != nb).any():
        evidence += f"; null on one side only in {int((na != nb).sum()):,} rows"
    return SkewFinding(feature, len(joined), int(differ.sum()), rate, bool(differ.any()) and rate >= min_mismatch,
                       examples, evidence)
