"""Geometry of the report's charts: numbers in, coordinates out.

The SVG markup lives in the template, so every label drawn (a feature name, a predicted label) goes
through Jinja's escaping like any other text; nothing here builds markup.
"""

from __future__ import annotations

import math
from datetime import datetime

import numpy as np

WIDTH, HEIGHT = 960, 240
PAD = {"left": 46, "right": 14, "top": 14, "bottom": 30}
BREAK_WIDTH = 16  # a closed-up stretch of empty windows, in chart units
BAND_LABEL_WIDTH = 140  # "incident from 2026-11-24" at the band label's size, in chart units


def nice_ticks(top: float, count: int = 4) -> list[float]:
    """Round tick values from 0 to at least ``top``.

    >>> nice_ticks(0.37)
    [0.0, 0.1, 0.2, 0.3, 0.4]
    >>> nice_ticks(0.0)
    [0.0, 0.25, 0.5, 0.75, 1.0]
    """
    if top <= 0:
        return [0.0, 0.25, 0.5, 0.75, 1.0]
    raw = top / count
    step = 10 ** math.floor(math.log10(raw))
    step *= next(m for m in (1, 2, 2.5, 5, 10) if m * step >= raw)
    return [round(i * step, 10) for i in range(int(math.ceil(top / step - 1e-9)) + 1)]


def percent_labels(ticks: list[float]) -> list[str]:
    """The ticks as percentages with as few decimals as show each exactly (a 2.5 % step was labelled
    0% 2% 5% 8% 10%).

    >>> percent_labels([0.0, 0.025, 0.05, 0.075, 0.1]), percent_labels([0.0, 0.1, 0.2])
    (['0.0%', '2.5%', '5.0%', '7.5%', '10.0%'], ['0%', '10%', '20%'])
    """
    digits = next((d for d in range(4) if all(abs(round(t * 100, d) - t * 100) < 1e-9 for t in ticks)), 4)
    return [f"{t:.{digits}%}" for t in ticks]


def _frame(y_top: float) -> tuple[float, float, float, callable]:
    plot_w = WIDTH - PAD["left"] - PAD["right"]
    plot_h = HEIGHT - PAD["top"] - PAD["bottom"]
    return plot_w, plot_h, PAD["top"] + plot_h, lambda v: PAD["top"] + plot_h * (1 - v / y_top)


def rate_chart(windows: list[dict]) -> dict | None:
    """Bars of the novel rate per window with their 95 % intervals, the expected rate as a step line,
    and a shaded band over each run of flagged windows (an incident).

    Spikes lists long stretches without prompts only in part (a stray prompt stamped years ahead
    leaves months of empty windows unlisted); such a jump between two listed windows is drawn as a
    narrow break on the time axis (``breaks``), not as two neighbouring bars."""
    if not windows:
        return None
    # a window without prompts (a day without a log) has the interval [0, 1]: drawn as nothing, and
    # left out of the scale, which it stretched to 150 % over rates of a few percent
    empty = [not w.get("prompts", 1) for w in windows]
    ticks = nice_ticks(min(1.0, max(max(w["novel_rate"] if gap else w["ci_high"], w["expected_rate"] or 0)
                                    for w, gap in zip(windows, empty)) * 1.05))  # a rate ends at 100 %, not 150
    plot_w, plot_h, base, y = _frame(ticks[-1])
    jumps = _jumps(windows)
    break_w = min(BREAK_WIDTH, plot_w / 3 / len(jumps)) if jumps else 0.0
    slot = (plot_w - break_w * len(jumps)) / len(windows)
    bars, expected, bands, breaks, lefts = [], [], [], [], []
    x = float(PAD["left"])
    for i, w in enumerate(windows):
        if i in jumps:
            breaks.append({"x": x + break_w / 2, "w": min(8.0, break_w), "skipped": jumps[i],
                           "after": windows[i - 1]["window_start"], "before": w["window_start"]})
            x += break_w
        lefts.append(x)
        bars.append({"x": x + slot * 0.15, "w": max(slot * 0.7, 0.8), "y": y(w["novel_rate"]),
                     "h": base - y(w["novel_rate"]), "cx": x + slot / 2, "lo": y(w["ci_low"]),
                     "hi": y(w["ci_low"] if empty[i] else w["ci_high"]), "flagged": w["flagged"], "window": w})
        if w["expected_rate"] is not None:  # a new stroke after a break or a window without an expectation
            joined = expected and i not in jumps and windows[i - 1]["expected_rate"] is not None
            expected.append(f"{'L' if joined else 'M'}{x:.1f},{y(w['expected_rate']):.1f} "
                            f"L{x + slot:.1f},{y(w['expected_rate']):.1f}")
        if w["flagged"] and (i == 0 or i in jumps or not windows[i - 1]["flagged"]):
            bands.append({"x": x, "w": slot, "label": w["window_start"][:10]})
        elif w["flagged"]:
            bands[-1]["w"] += slot
        x += slot
    right = WIDTH - PAD["right"]
    for band in bands:  # a band near the right edge labels itself leftwards ('incident fro' was cut off)
        end = band["x"] + 3 + BAND_LABEL_WIDTH > right
        band.update(tx=band["x"] + band["w"] - 3 if end else band["x"] + 3, anchor="end" if end else "start")
    years = windows[0]["window_start"][:4] != windows[-1]["window_start"][:4]  # '11-25 ... 10-13' over a year
    texts = [short_stamp(w["window_start"], years) for w in windows]
    spots = [min(left + slot / 2, right - len(text) * 3.25) for left, text in zip(lefts, texts)]  # was cut off
    x_labels = [{"x": spots[i], "text": texts[i]} for i in _labelled(spots, jumps, max(map(len, texts)))]
    return {"width": WIDTH, "height": HEIGHT, "base": base, "left": PAD["left"], "right": right,
            "top": PAD["top"], "bars": bars, "expected": " ".join(expected), "bands": bands, "breaks": breaks,
            "whiskers": slot >= 3,  # thousands of hourly windows: the intervals hid the bars
            "y_ticks": [{"y": y(t), "text": text} for t, text in zip(ticks, percent_labels(ticks))],
            "x_labels": x_labels}


def _jumps(windows: list[dict]) -> dict[int, int]:
    """{index of a window: how many windows are left out before it} where the time between listed
    windows is more than their step (the shortest time between two neighbours).

    >>> _jumps([{"window_start": f"2026-11-{d:02d}T00:00:00Z"} for d in (1, 2, 3, 9, 10)])
    {3: 5}
    >>> _jumps([{"window_start": f"2026-11-{d:02d}T00:00:00Z", "window_end": f"2026-11-{d + 1:02d}T00:00:00Z"}
    ...         for d in (1, 9)])
    {1: 7}
    """
    def when(stamp: str) -> datetime:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00"))

    starts = [when(w["window_start"]) for w in windows]
    steps = [(b - a).total_seconds() for a, b in zip(starts, starts[1:])]
    lengths = [(when(w["window_end"]) - start).total_seconds() for w, start in zip(windows, starts) if "window_end" in w]
    step = min((s for s in steps + lengths[:1] if s > 0), default=0)  # a sliding window is longer than its step
    return {i + 1: round(s / step) - 1 for i, s in enumerate(steps) if step and s > step * 1.5}


def _labelled(centres: list[float], jumps: dict[int, int], chars: int, every: int = 8) -> list[int]:
    """Which windows get a date under the axis: the first after each break (the date jumps there), then
    about ``every`` evenly spaced ones, none overlapping a label already placed (``chars`` long at 11 px)."""
    step, room = max(1, math.ceil(len(centres) / every)), chars * 6.5 + 12
    placed: list[int] = []
    for i in [0, *sorted(jumps), *range(0, len(centres), step)]:
        if all(abs(centres[i] - centres[j]) >= room for j in placed):
            placed.append(i)
    return sorted(placed)


def short_stamp(stamp: str, year: bool = False) -> str:
    """A window start as a tick label: the date (with its year when the chart spans two), plus the time
    when it is not midnight."""
    day = stamp[:10] if year else stamp[5:10]
    return day if stamp[11:16] in ("", "00:00") else f"{day} {stamp[11:16]}"


def histogram_chart(series: dict[str, np.ndarray], threshold: float | None, bins: int = 40) -> dict | None:
    """Overlaid histograms (share of each series per bin, so sizes need not match) on one axis, with
    the novelty threshold. The axis spans the 0.5-99.5 % range; tails are counted in the end bins."""
    series = {k: np.asarray(v, dtype=float) for k, v in series.items() if len(v)}
    if not series:
        return None
    pooled = np.concatenate(list(series.values()))
    lo, hi = np.quantile(pooled, [0.005, 0.995])
    if threshold is not None and np.isfinite(threshold):
        lo, hi = min(lo, threshold), max(hi, threshold)
    hi = hi if hi > lo else lo + 1.0
    edges = np.linspace(lo, hi + (hi - lo) * 0.02, bins + 1)
    shares = {k: np.histogram(np.clip(v, edges[0], edges[-1]), edges)[0] / len(v) for k, v in series.items()}
    ticks = nice_ticks(max(s.max() for s in shares.values()) * 1.05)
    plot_w, plot_h, base, y = _frame(ticks[-1])
    x = lambda v: PAD["left"] + plot_w * (v - edges[0]) / (edges[-1] - edges[0])  # noqa: E731
    paths = {k: _step_path(s, edges, x, y, base) for k, s in shares.items()}
    x_ticks = np.linspace(edges[0], edges[-1], 6)
    return {"width": WIDTH, "height": HEIGHT, "base": base, "left": PAD["left"], "right": WIDTH - PAD["right"],
            "top": PAD["top"], "paths": paths,
            "threshold": {"x": x(threshold), "value": threshold} if threshold is not None
            and np.isfinite(threshold) else None,
            "y_ticks": [{"y": y(t), "text": text} for t, text in zip(ticks, percent_labels(ticks))],
            "x_labels": [{"x": x(t), "text": f"{t:.2f}"} for t in x_ticks]}


def _step_path(shares: np.ndarray, edges: np.ndarray, x, y, base: float) -> str:
    points = [f"M{x(edges[0]):.1f},{base:.1f}"]
    for share, left, right in zip(shares, edges[:-1], edges[1:]):
        points.append(f"L{x(left):.1f},{y(share):.1f} L{x(right):.1f},{y(share):.1f}")
    points.append(f"L{x(edges[-1]):.1f},{base:.1f} Z")
    return " ".join(points)


def mini_histogram(reference: dict, current: dict, width: int = 150, height: int = 36) -> dict | None:
    """A small reference-vs-current picture of one feature, from two drift profiles (their value
    samples for numbers, their counts for categories): paired bars of the share per bin."""
    if reference.get("kind") != current.get("kind") or reference.get("kind") == "time":
        return None
    if reference["kind"] == "numeric":
        ref, cur = np.asarray(reference["values"], float), np.asarray(current["values"], float)
        if not len(ref) or not len(cur):
            return None
        lo, hi = np.quantile(np.concatenate([ref, cur]), [0.01, 0.99])
        edges = np.linspace(lo, hi if hi > lo else lo + 1, 13)
        a = np.histogram(np.clip(ref, edges[0], edges[-1]), edges)[0] / len(ref)
        b = np.histogram(np.clip(cur, edges[0], edges[-1]), edges)[0] / len(cur)
        caption = f"{lo:.3g} .. {hi:.3g}"
    else:
        keys = sorted(set(reference["counts"]) | set(current["counts"]),
                      key=lambda k: (-(reference["counts"].get(k, 0) + current["counts"].get(k, 0)), k))[:8]
        if not keys:  # no values on either side (a column of nulls)
            return None
        a = np.array([reference["counts"].get(k, 0) for k in keys], float) / max(1, sum(reference["counts"].values()))
        b = np.array([current["counts"].get(k, 0) for k in keys], float) / max(1, sum(current["counts"].values()))
        caption = ", ".join(keys[:4]) + (" ..." if len(keys) > 4 else "")
    top = max(a.max(), b.max()) or 1.0
    slot = width / len(a)
    bars = [{"x": i * slot + slot * 0.1, "w": slot * 0.4, "h": height * ra / top, "which": "ref"}
            for i, ra in enumerate(a)] + \
           [{"x": i * slot + slot * 0.5, "w": slot * 0.4, "h": height * cb / top, "which": "cur"}
            for i, cb in enumerate(b)]
    return {"width": width, "height": height, "bars": bars, "caption": caption}


def sparkline(daily: dict[str, int], days: list[str], width: int = 110, height: int = 26) -> str:
    """Points of a polyline of counts per day over the report's days (0 where a day has none).

    >>> sparkline({"d2": 4}, ["d1", "d2"], width=10, height=4)
    '1.0,3.0 9.0,1.0'
    """
    if not days:
        return ""
    counts = [daily.get(d, 0) for d in days]
    top = max(counts) or 1
    step = (width - 2) / max(1, len(days) - 1)
    return " ".join(f"{1 + i * step:.1f},{1 + (height - 2) * (1 - c / top):.1f}" for i, c in enumerate(counts))
