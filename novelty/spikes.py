"""Prediction-label bias: windows of novel rates, spike tests, and the labels that absorb new traffic.

One novel prompt is noise; a window with more novel prompts than expected is a new kind of user
question. Each window's novel count is tested against the expected rate with an exact one-sided test,
Benjamini-Hochberg keeps the false-discovery rate across windows, and a binomial CUSUM catches slow
rises that no single window shows. The expected rate comes from a trailing baseline of earlier,
unflagged windows (never the window itself), or from the calibration's alpha until enough history
exists.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from .errors import InputError
from .logs import format_time
from .stats import (benjamini_hochberg, excess_over_rate, excess_over_reference, goodness_of_fit,
                    wilson_interval)
from .store import Store, utc_now

_UNITS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_MONDAY = 3 * 86400  # the epoch was a Thursday: shift so weeks start on Monday


@dataclass(frozen=True)
class SpikeSettings:
    """How windows are cut and tested. Defaults suit a log of a few hundred prompts a day or more."""

    window: str = "1d"
    step: str | None = None          # smaller than window for sliding windows
    fdr: float = 0.01                # false-discovery rate across windows
    baseline_windows: int = 14       # trailing windows pooled into the expected rate
    min_baseline: int = 3            # fewer earlier windows than this: expect alpha instead
    min_prompts: int = 30            # smaller windows are reported but not tested
    cusum_ratio: float = 1.5         # the rise CUSUM is tuned to find (x the expected rate)
    cusum_limit: float = 6.0         # log-likelihood that raises a CUSUM alarm (about 1 per 400 null windows)


@dataclass(frozen=True)
class Window:
    window_start: str
    window_end: str
    prompts: int
    novel: int
    novel_rate: float
    ci_low: float
    ci_high: float
    expected_rate: float | None
    baseline: str
    p_value: float | None
    q_value: float | None = None
    cusum: float = 0.0
    flagged: bool = False
    detectors: tuple[str, ...] = ()


@dataclass(frozen=True)
class Incident:
    kind: str
    window_start: str
    window_end: str
    severity: str
    p_value: float
    details: dict = field(default_factory=dict)

    @property
    def incident_id(self) -> str:
        key = f"{self.kind}\x1f{self.details.get('window_size')}\x1f{self.window_start}"
        return hashlib.blake2b(key.encode(), digest_size=8).hexdigest()


@dataclass(frozen=True)
class SpikeReport:
    db: str
    window: str
    alpha: float | None
    windows: list[Window]
    incidents: list[Incident]

    def to_dict(self) -> dict:
        return {"db": self.db, "window": self.window, "alpha": self.alpha,
                "windows": [asdict(w) for w in self.windows],
                "incidents": [{"incident_id": i.incident_id, **asdict(i)} for i in self.incidents]}


def window_seconds(text: str) -> int:
    """'30m', '1h', '1d', '7d', '2w' -> seconds.

    >>> window_seconds("1d"), window_seconds("90m")
    (86400, 5400)
    """
    match = re.fullmatch(r"\s*(\d+)\s*([mhdw])\s*", text or "")
    if not match or int(match.group(1)) == 0:
        raise InputError(f"window {text!r} should look like 30m, 1h, 1d or 7d")
    return int(match.group(1)) * _UNITS[match.group(2)]


def detect_spikes(db: str | Path, settings: SpikeSettings = SpikeSettings(), since: str | None = None,
                  until: str | None = None, save: bool = True) -> SpikeReport:
    """Cut ``scores`` into windows, test each, and record windows and ``label_bias`` incidents."""
    if not Path(db).exists():
        raise InputError(f"{db}: no such database; fill one with `novelty score` first")
    since_ts, until_ts = parse_bound(since, "--since"), parse_bound(until, "--until")
    store = Store(db)
    try:
        alpha = store.latest_alpha()
        windows = _test(_count_windows(store, settings), settings, alpha)
        shown = [w for w in windows if (not since_ts or w.window_start >= since_ts)
                 and (not until_ts or w.window_start < until_ts)]
        incidents = [_incident(store, w, windows, settings) for w in shown if w.flagged]
        if save:
            _save(store, settings.window, shown, incidents)
        return SpikeReport(str(db), settings.window, alpha, shown, incidents)
    finally:
        store.close()


def parse_bound(value: str | None, flag: str) -> str | None:
    """A --since / --until value as a canonical UTC time string (None stays None)."""
    if value is None:
        return None
    stamp = format_time(value)
    if stamp is None:
        raise InputError(f"{flag} {value!r} is not a date or time (try 2026-11-25)")
    return stamp


# -- counting ---------------------------------------------------------------------------------------
def _count_windows(store: Store, settings: SpikeSettings) -> list[tuple[int, int, int]]:
    """(window start in epoch seconds, prompts, novel) for every window from the first to the last."""
    size = window_seconds(settings.window)
    step = window_seconds(settings.step) if settings.step else size
    if size % step:
        raise InputError(f"--step {settings.step} must divide --window {settings.window}")
    offset = _MONDAY if size % (7 * 86400) == 0 and step == size else 0
    rows = list(store.db.execute(
        "SELECT (CAST(strftime('%s', ts) AS INTEGER) + ?) / ? AS bucket, COUNT(*), SUM(is_novel) "
        "FROM scores WHERE ts IS NOT NULL GROUP BY bucket ORDER BY bucket", [offset, step]))
    if not rows:
        return []
    by_bucket = {b: (n, k) for b, n, k in rows}
    span = size // step
    out = []
    for first in range(rows[0][0] - span + 1 if span > 1 else rows[0][0], rows[-1][0] + 1):
        parts = [by_bucket.get(b, (0, 0)) for b in range(first, first + span)]
        out.append((first * step - offset, sum(n for n, _ in parts), sum(k for _, k in parts)))
    return out


# -- testing ----------------------------------------------------------------------------------------
def _test(counts: list[tuple[int, int, int]], settings: SpikeSettings, alpha: float | None) -> list[Window]:
    size = window_seconds(settings.window)
    step = window_seconds(settings.step) if settings.step else size
    span = size // step
    history: list[tuple[int, int]] = []  # (prompts, novel) of earlier windows that were not flagged
    drafts, cusum, cusum_rate = [], 0.0, None
    for start, prompts, novel in counts:
        # sliding windows overlap their neighbours: the baseline only uses windows that do not
        ref = history[: max(0, len(history) - (span - 1))][-settings.baseline_windows:]
        expected, label, p = _expectation(prompts, novel, ref, settings, alpha)
        if cusum == 0.0:  # a new excursion starts: compare it with the rate from before it began
            cusum_rate = expected
        statistic = _cusum_statistic(cusum, prompts, novel, cusum_rate, settings)
        alarm = statistic >= settings.cusum_limit
        cusum = 0.0 if alarm else statistic  # restart after an alarm
        drafts.append([start, prompts, novel, expected, label, p, statistic, alarm])
        if not (alarm or (p is not None and p < settings.fdr)):
            history.append((prompts, novel) if prompts >= settings.min_prompts else (0, 0))
        else:
            history.append((0, 0))
    tested = [d[5] for d in drafts if d[5] is not None]
    q_values = iter(benjamini_hochberg(tested))
    windows = []
    for start, prompts, novel, expected, label, p, score, alarm in drafts:
        q = next(q_values) if p is not None else None
        detectors = tuple(name for name, hit in (("binomial", q is not None and q < settings.fdr),
                                                 ("cusum", alarm)) if hit)
        low, high = wilson_interval(novel, prompts)
        windows.append(Window(_iso(start), _iso(start + size), prompts, novel,
                              novel / prompts if prompts else 0.0, low, high, expected, label, p, q,
                              round(score, 3), bool(detectors), detectors))
    return windows


def _expectation(prompts: int, novel: int, ref: list[tuple[int, int]], settings: SpikeSettings,
                 alpha: float | None) -> tuple[float | None, str, float | None]:
    """Expected novel rate, where it came from, and the window's one-sided p-value (None: untested)."""
    usable = [(n, k) for n, k in ref if n > 0]
    if len(usable) >= settings.min_baseline:
        ref_n, ref_k = sum(n for n, _ in usable), sum(k for _, k in usable)
        expected = ref_k / ref_n
        p = excess_over_reference(novel, prompts, ref_k, ref_n) if prompts >= settings.min_prompts else None
        return expected, f"trailing {len(usable)} windows", p
    if alpha is None:
        return None, "none", None
    p = excess_over_rate(novel, prompts, alpha) if prompts >= settings.min_prompts else None
    return alpha, "alpha", p


def _cusum_statistic(previous: float, prompts: int, novel: int, expected: float | None,
                     settings: SpikeSettings) -> float:
    """Binomial CUSUM: accumulated log-likelihood ratio of "the rate rose by ``cusum_ratio``".

    >>> s = SpikeSettings()
    >>> round(_cusum_statistic(0.0, 500, 40, 0.05, s), 2), _cusum_statistic(0.0, 500, 20, 0.05, s)
    (3.95, 0.0)
    """
    if expected is None or prompts < settings.min_prompts:
        return previous
    p0 = min(max(expected, 1e-4), 0.5)
    p1 = min(p0 * settings.cusum_ratio, 0.99)
    llr = novel * math.log(p1 / p0) + (prompts - novel) * math.log((1 - p1) / (1 - p0))
    return max(0.0, previous + llr)


# -- incidents --------------------------------------------------------------------------------------
def _incident(store: Store, window: Window, windows: list[Window], settings: SpikeSettings) -> Incident:
    expected = window.expected_rate or 0.0
    ratio = window.novel_rate / expected if expected else float("inf")
    excess = window.novel_rate - expected
    severity = "high" if ratio >= 3 or excess >= 0.10 else "medium" if ratio >= 1.5 else "low"
    details = {
        "window_size": settings.window, "prompts": window.prompts, "novel": window.novel,
        "novel_rate": window.novel_rate, "expected_rate": expected, "rate_ratio": ratio,
        "baseline": window.baseline, "detectors": list(window.detectors), "q_value": window.q_value,
        "cusum": window.cusum, "first_flagged": _first_flagged(window, windows),
        "top_novel": _top_novel(store, window), **_labels(store, window, expected)}
    return Incident("label_bias", window.window_start, window.window_end, severity,
                    window.p_value if window.p_value is not None else 1.0, details)


def _first_flagged(window: Window, windows: list[Window]) -> str:
    """Start of the run of consecutive flagged windows this one belongs to."""
    position = windows.index(window)
    while position > 0 and windows[position - 1].flagged:
        position -= 1
    return windows[position].window_start


def _top_novel(store: Store, window: Window, limit: int = 5) -> list[dict]:
    return list(store.db.query(
        "SELECT text, MIN(similarity) AS similarity, predicted_label, nearest_label FROM scores "
        "WHERE is_novel = 1 AND ts >= ? AND ts < ? GROUP BY lower(text) ORDER BY similarity LIMIT ?",
        [window.window_start, window.window_end, limit]))


def _labels(store: Store, window: Window, expected: float) -> dict:
    rows = list(store.db.execute(
        "SELECT predicted_label, COUNT(*), SUM(is_novel) FROM scores WHERE ts >= ? AND ts < ? "
        "AND predicted_label IS NOT NULL GROUP BY predicted_label",
        [window.window_start, window.window_end]))
    if not rows:
        return {"absorbing_labels": [], "label_shift": None,
                "note": "no predicted labels logged (pass --pred-col to score)"}
    novel_total = sum(k for _, _, k in rows) or 1
    absorbing = sorted(({"label": label, "prompts": n, "novel": k, "novel_share": k / n,
                         "share_of_novel": k / novel_total, "excess": k - expected * n}
                        for label, n, k in rows), key=lambda r: -r["excess"])
    shares = store.training_label_shares()
    shift = goodness_of_fit({label: n for label, n, _ in rows}, shares) if shares else None
    if shift:
        shift["against"] = "training label distribution"
    return {"absorbing_labels": [r for r in absorbing if r["excess"] > 0][:3], "label_shift": shift}


def _save(store: Store, size: str, windows: list[Window], incidents: list[Incident]) -> None:
    now = utc_now()
    flagged = {i.window_start for i in incidents}
    with store.db.conn:
        store.db.conn.executemany(
            "INSERT OR REPLACE INTO windows VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            [(size, w.window_start, w.window_end, w.prompts, w.novel, w.novel_rate, w.ci_low, w.ci_high,
              w.expected_rate, w.baseline, w.p_value, w.q_value, w.cusum, int(w.flagged), now)
             for w in windows])
        for incident in incidents:
            store.db.conn.execute(
                "INSERT INTO incidents VALUES (?,?,?,?,?,?,'open',?,?,?) ON CONFLICT(incident_id) DO "
                "UPDATE SET severity=excluded.severity, p_value=excluded.p_value, status='open', "
                "details=excluded.details, window_end=excluded.window_end, updated_at=excluded.updated_at",
                [incident.incident_id, incident.kind, incident.window_start, incident.window_end,
                 incident.severity, incident.p_value, json.dumps(incident.details, default=str), now, now])
        if windows:  # a window no longer flagged (more history changed its test) keeps its row, withdrawn
            store.db.conn.execute(
                "UPDATE incidents SET status = 'withdrawn', updated_at = ? WHERE kind = 'label_bias' "
                "AND json_extract(details, '$.window_size') = ? AND window_start >= ? AND window_start <= ? "
                f"AND window_start NOT IN ({','.join('?' * len(flagged)) or 'NULL'})",
                [now, size, windows[0].window_start, windows[-1].window_start, *sorted(flagged)])


def _iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
