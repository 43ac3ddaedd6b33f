"""``novelty report``: everything a run found, in one self-contained HTML file.

This module gathers the data (the diagnosis, then the ``windows``, ``incidents``, ``clusters`` and
``scores`` tables, the index's calibration, the drift profiles); ``charts.py`` turns numbers into
coordinates and ``templates/report.html.j2`` draws them. The page makes no request of its own: CSS
and JavaScript are inline, charts are inline SVG, and a Content-Security-Policy allows nothing else,
so the file can be mailed or archived and opens the same offline. Prompts are user text: Jinja
escapes every value, and the policy's script hash keeps anything that slipped through from running.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shlex
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

from . import __version__, charts
from .clusters import MIN_SIZE_KEY, members_before, summary
from .diagnose import GOLDEN_COLUMNS, GOLDEN_OPTIONS, Cause, Diagnosis, diagnose, shift_kinds, unread_message
from .drift import DriftReport, drift_with_profiles
from .errors import InputError, UnreadableEvidenceError
from .index import index_dir_default
from .logs import (file_in_the_way, is_stdout, open_output, output_file, refuse_overwrite, refuse_replacing, sql_bound,
                   write_whole)
from .render import CONTROLS, visible_controls
from .spikes import SpikeReport, SpikeSettings, parse_bound, window_seconds
from .store import Store, existing_db, may_write
from .stats import p_short

CAUSE_TITLES = {
    "model_regression": "The model itself got worse",
    "data_drift": "The input population moved",
    "feature_drift": "A feature's distribution moved",
    "feature_recalibration": "A feature changed unit or scale",
    "feature_unavailable": "A feature is missing or filled with a default",
    "training_serving_skew": "Serving computes a feature differently from training",
    "label_bias": "New questions the model was never trained for",
    "offline_online_gap": "Production accuracy is below what the golden set promised",
}
SHIFT_TITLES = {"automated": "A flood of repeated prompts (automated traffic?)",
                "language": "Prompts in another language than the training set",
                "long": "Messages longer than the encoder reads"}
MAX_CLUSTERS, MEMBERS_SHOWN = 200, 12


@dataclass(frozen=True)
class ReportData:
    """What the template draws; built by ``gather``."""

    db: str
    generated_at: str
    facts: dict
    diagnosis: Diagnosis
    causes: list[dict]
    windows: list[dict]
    rate_chart: dict | None
    incidents: list[dict]
    distribution: dict
    drift: list[dict] | None
    clusters: list[dict]
    labels: dict
    nothing_checked: bool = False      # no cause found, and no evidence judged for any: not a green page
    drift_unreadable: str | None = None  # why the feature tables given could not be read
    alert_period: str | None = None      # novelty run's alert.lookback: causes before it are 'earlier'

    @property
    def current(self) -> list[dict]:
        return [c for c in self.causes if not c["earlier"]]


@dataclass(frozen=True)
class ReportResult:
    out: str
    diagnosis: Diagnosis

    def to_dict(self) -> dict:
        return {"out": self.out, **self.diagnosis.to_dict()}


def write_report(db: str | Path, out: str | Path = "report.html", partial: bool = False, **options) -> ReportResult:
    """Gather (``gather``'s options) and write the HTML report to ``out``. Evidence given that cannot
    be read is shown on the page as such; then ``UnreadableEvidenceError`` is raised (its ``partial``
    is this result), as the CLI exits 2, unless ``partial=True``."""
    out = output_file(out, "report.html")
    piped = is_stdout(out)  # -o -: the page on standard output
    if not piped:
        if out.is_dir():
            raise InputError(f"{out} is a folder; give the page's file name, e.g. {out / 'report.html'}")
        blocking = file_in_the_way(out)
        if blocking is not None:  # was: 'cannot write the report (File exists)', after all the work
            raise InputError(f"{out}: {blocking} is a file, not a folder")
        refuse_overwrite(out, [db, *(options.get(k) for k in ("reference", "current", "offline", "serving",
                                                              "golden_baseline", "golden_current"))])
        refuse_replacing(out, "html")  # a page of an earlier day is replaced; another database is not
    data = gather(db, **options)
    if piped:
        with open_output(out, "report.html") as fh:
            fh.write(render(data))
    else:
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            write_whole(out, render(data))  # a full disk keeps the last good page
        except OSError as exc:
            raise InputError(f"{out}: cannot write the report ({exc.strerror})") from None
    result = ReportResult(str(out), data.diagnosis)
    if data.diagnosis.unreadable and not partial:
        raise UnreadableEvidenceError(unread_message(data.diagnosis), result)
    return result


def gather(db: str | Path, reference: str | Path | None = None, current: str | Path | None = None,
           since: str | None = None, ignore: set[str] = frozenset(), offline: str | Path | None = None,
           serving: str | Path | None = None, key: str | None = None,
           golden_baseline: str | Path | None = None, golden_current: str | Path | None = None,
           index_dir: str | Path | None = None, window: str = "1d", until: str | None = None,
           spike_settings: SpikeSettings | None = None, clusters: list | None = None,
           golden_columns: tuple[str, str, str] = GOLDEN_COLUMNS,
           golden_options: str = GOLDEN_OPTIONS, alerting: set | None = None,
           alert_period: str | None = None) -> ReportData:
    """Run the diagnosis (as ``novelty diagnose`` would) and read what the report shows. ``until``
    ends the evidence, the verdict's and the charts' alike (``novelty run`` for an earlier date: its
    page shows that day as it was, not the newest). ``clusters``: the clusters to show instead of the
    stored ones (``find_clusters`` of a backfilled date, not saved: its page shows what its run found).
    ``alerting``: the (cause, feature) pairs ``novelty run`` alerted on, judged over ``alert_period``
    (alert.lookback): the page's other causes, found on the whole history, are shown as earlier ones,
    so the page's headline says what the run said (it said '1 thing wrong' beside 'No alert')."""
    existing_db(db)
    window_seconds(window)  # a bad --window is a usage error, not a page blaming the database
    since_ts, until_ts = parse_bound(since, "--since"), parse_bound(until, "--until")
    drift_report, profiles = None, None
    if reference and current:
        try:
            drift_report, profiles = drift_with_profiles(reference, current, ignore=ignore)
        except InputError:
            pass  # the diagnosis reads them again and says why they cannot be read; the page still shows the rest
    settings = spike_settings or SpikeSettings(window=window)  # novelty run passes monitor.toml's
    writable = may_write(Path(db))
    diagnosis = diagnose(reference, current, db, since, ignore, offline, serving, key, golden_baseline,
                         golden_current, spike_settings=settings, drift_report=drift_report, until=until,
                         golden_columns=golden_columns, golden_options=golden_options,
                         save_windows=writable, partial=True)  # saved as spikes saves them, when it may
    store = Store(db)
    try:
        # the windows the diagnosis judged (and saved, when it may): a window --until cuts counts the prompts
        # before it, as the saved row (the whole window) does not
        # (none when the diagnosis could not read them: it says why, and the page shows the rest)
        windows, incidents = _computed_windows(diagnosis.spikes) if diagnosis.spikes else ([], [])
        clusters, clusters_total = _clusters(store, since_ts, until_ts) if clusters is None else _found(clusters)
        drift_rows = _drift_rows(drift_report, profiles)
        unreadable = {u["evidence"]: u["error"] for u in diagnosis.unreadable}
        return ReportData(
            db=str(db), generated_at=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            facts={**_facts(store, since_ts, until_ts), "clusters_total": clusters_total}, diagnosis=diagnosis,
            causes=_causes(diagnosis, clusters, str(db), drift_rows, alerting,
                           (golden_baseline, golden_current, golden_columns)), windows=windows,
            rate_chart=charts.rate_chart(windows), incidents=incidents,
            distribution=_distribution(store, since_ts, until_ts, index_dir), drift=drift_rows,
            clusters=clusters, labels=_absorbing(store, incidents, windows, next(
                (c.details.get("windows", []) for c in diagnosis.causes if c.cause == "label_bias"), []),
                settings, since_ts, until_ts),
            nothing_checked=not diagnosis.causes and not _judged(diagnosis, drift_rows is not None, offline is not None),
            drift_unreadable=unreadable.get("the feature tables"), alert_period=alert_period)
    finally:
        store.close()


def _judged(diagnosis: Diagnosis, tables: bool, skew: bool) -> set[str]:
    """The causes some evidence was judged for: those not listed as not checked, and the tables' and the
    skew pair's when they were read (a note on a few features, or on weak pairing, lists them too). An
    empty set made a green 'no root cause found' of a page where every row was rejected."""
    unchecked = {name for n in diagnosis.not_checked for name in n["cause"].split(", ")}
    unread = {name for u in diagnosis.unreadable for name in u["cause"].split(", ")}
    return (set(CAUSE_TITLES) - unchecked) | ({"data_drift"} if tables else set()) \
        | ({"training_serving_skew"} if skew and "training_serving_skew" not in unread else set())


def _visible_controls(value):
    """A value of the page with its control characters shown as [U+0000] (``render.CONTROLS``): a bidi
    override in a prompt or label would draw the page's own text around it backwards, a NUL make the
    page a binary file."""
    from markupsafe import Markup

    if not isinstance(value, str) or not CONTROLS.search(value):
        return value
    shown = visible_controls(str(value))
    return Markup(shown) if isinstance(value, Markup) else shown


def render(data: ReportData) -> str:
    """The page. Script and style are our own files, inlined; only the script's hash may run."""
    from jinja2 import Environment, PackageLoader, is_undefined

    env = Environment(loader=PackageLoader("novelty", "templates"), autoescape=True, trim_blocks=True,
                      lstrip_blocks=True, finalize=_visible_controls)
    blank = lambda v: v is None or is_undefined(v)  # noqa: E731
    env.filters["pct"] = lambda v, digits=1: "-" if blank(v) else f"{v:.{digits}%}"
    env.filters["pval"] = lambda p: "-" if blank(p) else f"{p:.2g}" if p >= 0.001 else p_short(p)  # 0.95, not 9.5e-01
    env.filters["num"] = lambda v, fmt=",": "-" if blank(v) else format(v, fmt)
    env.filters["day"] = lambda stamp: charts.short_stamp(stamp, year=True)  # '2026-11-24', '2026-11-24 06:00'
    env.filters["shquote"] = lambda text: shlex.quote(str(text))
    env.filters["clip"] = lambda text, n=300: text if blank(text) or len(text) <= n else text[:n - 1] + "…"
    script = env.loader.get_source(env, "report.js")[0]
    style = env.loader.get_source(env, "report.css")[0]
    digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode()
    return env.get_template("report.html.j2").render(
        r=data, script=script, style=style, script_hash=f"sha256-{digest}", version=__version__)


# -- the verdict ------------------------------------------------------------------------------------
def _causes(diagnosis: Diagnosis, clusters: list[dict], db: str, drift_rows: list[dict] | None,
            alerting: set | None = None, golden: tuple = (None, None, GOLDEN_COLUMNS)) -> list[dict]:
    """Each cause as a card: a headline, one plain fact, and the command that starts the fix; one
    not in ``alerting`` (when given) is an earlier one, after the current ones. ``golden``: the golden
    files and their columns, for the command that compares them."""
    features = {r["feature"]: r for r in drift_rows or []}
    cards = [{**_card(c, db, features.get(c.feature), golden, clusters),
              "earlier": alerting is not None and (c.cause, c.feature) not in alerting} for c in diagnosis.causes]
    return sorted(cards, key=lambda card: card["earlier"])  # stable: most severe first within each


def _topic(clusters: list[dict], since: str) -> dict | None:
    """The cluster to queue for a spike since ``since``: the largest first seen since then, the new topic
    itself (QA: the fastest-growing one was named, which mixed the topic with a known question asked since
    the first day); else the fastest-growing. None when two or more began with it, the second at least a
    third of the largest: the spike is several topics (QA: the German cluster was queued, the Spanish one
    as large left out), and the incident's window covers them all."""
    fresh = sorted((c for c in clusters if since and (c.get("first_seen") or "")[:10] >= since),
                   key=lambda c: (c["size"], c["growth"]), reverse=True)
    if len(fresh) > 1 and fresh[1]["size"] * 3 >= fresh[0]["size"]:
        return None
    return fresh[0] if fresh else max(clusters, key=lambda c: (c["growth"], c["size"]), default=None)


def _card(c: Cause, db: str, feature: dict | None, golden: tuple = (None, None, GOLDEN_COLUMNS),
          clusters: list[dict] = ()) -> dict:
    flagged = c.details.get("windows") or []
    card = {"cause": c.cause, "title": CAUSE_TITLES.get(c.cause, c.cause), "feature": c.feature,
            "severity": c.severity, "evidence": c.evidence, "mitigation": c.mitigation, "fact": None,
            "command": None,
            "examples": c.details.get("top_novel", [])[:3],
            # since the run of flagged windows began, before --since too (the evidence says that date)
            "since": (c.details.get("first_flagged") or (flagged[0] if flagged else ""))[:10]}
    if c.cause == "label_bias":
        kinds = shift_kinds(c.details.get("novel_profile") or {})
        if kinds:  # not new topics, or not only: the title and the command say what the evidence says (re-test:
            # 'New questions...' and a queue command above 'filter the bot out, do not train on it')
            card["title"] = " and ".join(SHIFT_TITLES[k] for k in kinds)
            card["command"] = (f"novelty clusters --db {shlex.quote(db)}"
                               + (f" --since {card['since']}" if card["since"] else ""))
        else:
            topic = _topic(clusters, card["since"])
            stored = topic and topic.get("saved", True)  # a backfilled date's found clusters are not stored
            incident = c.details.get("worst_incident")
            target = f"--cluster {topic['cluster_id']}" if stored else \
                f"--incident {shlex.quote(incident)}" if incident and topic is None else "--max-p-value 0.01"
            card["command"] = f"novelty queue add --db {shlex.quote(db)} {target} --budget 200"
        if "worst_window" in c.details:  # the window the evidence and the examples are of (the latest was
            d = c.details                # named beside the worst one's examples)
            when = d["worst_window"][:16].replace("T", " ").removesuffix(" 00:00")  # an hour's window says its hour
            card["fact"] = (f"Since {card['since']}: {d['novel_rate']:.1%} of prompts were novel in the window "
                            f"of {when}, against {d['expected_rate']:.1%} expected. For example:")
    elif c.cause == "offline_online_gap":
        card["command"] = (f"novelty queue golden --db {shlex.quote(db)} --since {c.details['period'][0][:10]} "
                           "-o golden-next.csv")
    elif c.cause == "model_regression":
        (baseline, current, (id_col, label_col, pred_col)), q = golden, shlex.quote  # the files compared, not
        named = "".join(f" {flag} {q(name)}" for flag, name, default in (  # placeholders (QA)
            ("--id-col", id_col, "id"), ("--label-col", label_col, "label"), ("--pred-col", pred_col, "prediction"))
            if name != default)
        card["command"] = (f"novelty golden --baseline {q(str(baseline or 'GOLDEN_LAUNCH'))} "
                           f"--current {q(str(current or 'GOLDEN_TODAY'))}{named}")
    elif feature and feature["medians"] and c.cause != "training_serving_skew":  # the skew pair's are others
        card["fact"] = "Median {:,.4g} in the reference, {:,.4g} now.".format(*feature["medians"])
    return card


def _between(since: str | None, until: str | None) -> tuple[str, list]:
    """The WHERE clause of prompts logged in [since, until), either end open."""
    return "WHERE ts >= ? AND ts < ?", [sql_bound(since) or "", sql_bound(until) or "9999"]


def _facts(store: Store, since: str | None, until: str | None) -> dict:
    where, args = _between(since, until) if since or until else ("", [])
    prompts, novel, first, last = store.db.execute(
        f"SELECT COUNT(*), SUM(is_novel), MIN(ts), MAX(ts) FROM scores {where}", args).fetchone()
    # with a range, the runs that scored its prompts (and their rejects): a later run's rejects and runs
    # were counted on a page --until before them, failed runs too
    runs = f"AND run_id IN (SELECT DISTINCT run_id FROM scores {where})" if where else ""
    run = next(store.db.query(f"SELECT * FROM runs WHERE status = 'done' {runs} ORDER BY run_id DESC LIMIT 1", args),
               None) or next(store.db.query("SELECT * FROM runs WHERE status = 'done' ORDER BY run_id DESC LIMIT 1"), {})
    scorer = json.loads(run.get("scorer") or "{}").get("name") if run else None
    return {"prompts": prompts, "novel": novel or 0, "novel_rate": (novel or 0) / prompts if prompts else None,
            "first": (first or "")[:16].replace("T", " "), "last": (last or "")[:16].replace("T", " "),
            "rejected": store.db.execute(f"SELECT COUNT(*) FROM rejects WHERE run_id IS NOT NULL {runs}",
                                         args).fetchone()[0],
            "runs": store.db.execute(f"SELECT COUNT(*) FROM runs WHERE status = 'done' {runs}", args).fetchone()[0],
            "index": run.get("index_name"),
            "model": run.get("model"), "alpha": run.get("alpha"), "threshold": run.get("threshold"),
            "scorer": scorer, "index_checksum": run.get("index_checksum"), "ranged": bool(where),
            # prune took the prompts before it (their counts, windows and incidents stay, charted): the
            # header's 'prompts from' and the tiles' count start there, said (QA: they disagreed, unsaid)
            "pruned_before": (store.pruned_before() or "")[:16].replace("T", " ") or None}


# -- novel rate over time ------------------------------------------------------------------------------
def _computed_windows(report: SpikeReport) -> tuple[list[dict], list[dict]]:
    """The windows and open incidents of ``report`` (computed, not saved) in the shape of the windows
    and incidents tables' rows."""
    windows = [{**asdict(w), "window_size": report.key, "flagged": bool(w.flagged)} for w in report.windows]
    return windows, [{"incident_id": i.incident_id, **asdict(i)} for i in report.incidents]


def _absorbing(store: Store, incidents: list[dict], windows: list[dict], runs: list[str], settings: SpikeSettings,
               since: str | None, until: str | None, limit: int = 8) -> dict:
    """Predicted labels by the novel prompts they took in during the run of flagged windows the verdict
    names (``runs``: its windows' starts; from its first flagged window, before --since too), against each
    label's own novel share in the --baseline-windows windows before the run, flagged ones left out as
    spikes leaves them out, whatever --since is (a --since at the run's start left no 'before'; one inside
    it made the incident its own baseline); over the whole period when nothing is flagged."""
    named = set(runs)
    run = [i for i in incidents if i["window_start"] in named] or incidents[-1:]
    flagged = bool(run)
    skip: list = []
    if flagged:
        start = run[0]["details"].get("first_flagged") or run[0]["window_start"]
        end = min(max(i["window_end"] for i in run), until or "9999")
        back = timedelta(seconds=settings.baseline_windows * window_seconds(settings.window))
        began = (datetime.fromisoformat(sql_bound(start)) - back).strftime("%Y-%m-%dT%H:%M:%S")
        skip = [(sql_bound(w["window_start"]), sql_bound(w["window_end"])) for w in windows
                if w["flagged"] and sql_bound(w["window_end"]) > began and w["window_start"] < start]
    else:
        start, end = since or "", until or "9999"

    def by_label(low: str, high: str, left_out: list | tuple = ()) -> dict:
        """Prompts and novel prompts per predicted label logged in [low, high), the ``left_out`` spans
        excepted (a prompt logged without a time counts when it was scored)."""
        when = "COALESCE(ts, scored_at)"
        quiet = "".join(f" AND NOT ({when} >= ? AND {when} < ?)" for _ in left_out)
        return {r["label"]: r for r in store.db.query(
            "SELECT predicted_label AS label, COUNT(*) AS prompts, SUM(is_novel) AS novel FROM scores "
            f"WHERE predicted_label IS NOT NULL AND {when} >= ? AND {when} < ?{quiet} GROUP BY predicted_label",
            [low, high, *(bound for span in left_out for bound in span)])}

    during = by_label(sql_bound(start), sql_bound(end))
    before = by_label(began, sql_bound(start), skip) if flagged else {}
    total = sum(r["novel"] for r in during.values()) or 1
    rows = []
    for label, r in during.items():
        b = before.get(label)
        base_share = b["novel"] / b["prompts"] if b and b["prompts"] else None
        rows.append({**r, "novel_share": r["novel"] / r["prompts"], "before_share": base_share,
                     "share_of_novel": r["novel"] / total,
                     "excess": r["novel"] - (base_share or 0.0) * r["prompts"]})
    rows.sort(key=lambda r: -(r["excess"] if flagged else r["novel"]))
    top = max((r["novel"] for r in rows), default=0) or 1
    return {"flagged": bool(flagged), "start": start[:16].replace("T", " "),
            "end": end[:16].replace("T", " ") if flagged else "",
            "rows": [{**r, "bar": r["novel"] / top} for r in rows[:limit] if r["novel"]]}


# -- how familiar production looks --------------------------------------------------------------------
def _distribution(store: Store, since: str | None, until: str | None, index_dir: str | Path | None) -> dict:
    """Novelty scores of production against the index's held-out training prompts (its calibration),
    with the threshold the runs used. Without the index: production only, and a note saying why."""
    facts = next(store.db.query("SELECT index_name, index_checksum, threshold, alpha FROM runs WHERE "
                                "status = 'done' ORDER BY run_id DESC LIMIT 1"), None)
    where, args = _between(since, until) if since or until else ("WHERE 1", [])
    production = np.array([v for (v,) in store.db.execute(
        f"SELECT novelty FROM scores {where} AND novelty IS NOT NULL", args)], dtype=float)
    if facts is None or not len(production):
        return {"chart": None, "note": "No scored prompts in this range." if since or until else "No scored prompts yet.",
                "calibration": False}
    calibration, note = _calibration(facts, index_dir)
    series = {"production": production, **({"calibration": calibration} if calibration is not None else {})}
    threshold = facts["threshold"]
    return {"chart": charts.histogram_chart(series, threshold), "note": note, "calibration": calibration is not None,
            "threshold": threshold, "alpha": facts["alpha"], "index": facts["index_name"],
            "above": float((production > threshold).mean()) if threshold is not None else None,
            "production": len(production), "held_out": len(calibration) if calibration is not None else 0}


def _calibration(run: dict, index_dir: str | Path | None) -> tuple[np.ndarray | None, str | None]:
    folder = Path(index_dir or index_dir_default()) / str(run["index_name"])
    try:
        manifest = json.loads((folder / "manifest.json").read_text())
        scores = np.load(folder / "calibration.npy", allow_pickle=False)
    except (OSError, ValueError) as exc:
        why = "no such folder" if isinstance(exc, FileNotFoundError) else \
            getattr(exc, "strerror", None) or "unreadable files"
        return None, (f"The index {run['index_name']!r} is not available in {folder.parent} ({why}), "
                      "so only production is shown; pass --index-dir to compare with its calibration.")
    if manifest.get("checksum") != run["index_checksum"]:
        return scores, (f"The index {run['index_name']!r} changed after these prompts were scored "
                        "(prompts added?): its calibration now may differ from the one used.")
    return scores, None


# -- features ---------------------------------------------------------------------------------------
def _drift_rows(report: DriftReport | None, profiles: tuple[dict, dict] | None) -> list[dict] | None:
    if report is None:
        return None
    ref, cur = profiles
    rows = []
    for f in report.findings:
        a, b = ref["columns"].get(f.feature), cur["columns"].get(f.feature)
        rows.append({"feature": f.feature, "kind": f.kind, "test": f.test, "p_value": f.p_value,
                     "q_value": f.q_value, "effect": f.effect, "psi": f.psi, "cause": f.cause,
                     "evidence": f.evidence, "chart": charts.mini_histogram(a, b) if a and b else None,
                     "medians": (f.details["reference_median"], f.details["current_median"])
                     if "current_median" in f.details else None})
    return sorted(rows, key=lambda r: (r["cause"] is None, r["q_value"] if r["q_value"] is not None else 1.0))


# -- clusters ---------------------------------------------------------------------------------------
def _clusters(store: Store, since: str | None, until: str | None) -> tuple[list[dict], int]:
    """Stored clusters seen since ``since``, the largest MAX_CLUSTERS first, with their newest prompts
    and a sparkline over the same days; and how many there are in all. A cluster left without
    members was superseded by a later clustering run: not shown."""
    # a cluster a later run took most prompts from lives on, recounted, on the few left before its range:
    # under the --min-size the clusters were found at it is no cluster (the page showed 25 of one prompt)
    smallest = int(store.meta().get(MIN_SIZE_KEY, 1))
    where = ("WHERE cluster_id IN (SELECT cluster_id FROM cluster_members) AND COALESCE(last_seen, '') >= ? "
             "AND COALESCE(first_seen, '') < ? AND size >= ?", [sql_bound(since) or "", sql_bound(until) or "9999",
                                                                  smallest])
    total = store.db.execute(f"SELECT COUNT(*) FROM clusters {where[0]}", where[1]).fetchone()[0]
    rows = list(store.db.query(
        "SELECT cluster_id, name, size, first_seen, last_seen, growth, daily, predicted_labels, nearest_labels, "
        f"examples, COALESCE(look_alikes, 0) AS look_alikes, look_alike_labels FROM clusters {where[0]} "
        "ORDER BY size DESC LIMIT ?", [*where[1], -1 if until else MAX_CLUSTERS]))
    parsed = ("daily", "predicted_labels", "nearest_labels", "look_alike_labels")
    rows = [{**c, **{k: json.loads(c[k] or "{}") for k in parsed},
             "examples": json.loads(c["examples"] or "[]")} for c in rows]
    if until:
        rows = _as_of(store, rows, until)
        rows, total = rows[:MAX_CLUSTERS], len(rows)
    days = sorted({d for c in rows for d in c["daily"]})
    return [{**c, "spark": charts.sparkline(c["daily"], days), "members": c.get("members") or [
        r["text"] for r in store.db.query(
            "SELECT DISTINCT s.text FROM scores s JOIN cluster_members m USING (prompt_id) "
            "WHERE m.cluster_id = ? ORDER BY s.ts DESC LIMIT ?", [c["cluster_id"], MEMBERS_SHOWN])]}
            for c in rows], total


def _found(clusters: list) -> tuple[list[dict], int]:
    """Cards of clusters found but not stored (``clusters.Cluster``): no member list beside their
    examples, and no --cluster command, since the stored cluster of that id holds a later view."""
    rows = sorted((c.to_dict() for c in clusters), key=lambda c: -c["size"])
    days = sorted({d for c in rows[:MAX_CLUSTERS] for d in c["daily"]})
    return [{**c, "spark": charts.sparkline(c["daily"], days), "members": [], "saved": False}
            for c in rows[:MAX_CLUSTERS]], len(rows)


def _as_of(store: Store, rows: list[dict], until: str) -> list[dict]:
    """The clusters as they stood before ``until``: the stored ones are the latest run's, and a later day
    clustered (or a backfill run after it) counts its prompts in them. Each card is counted again from
    its prompts before then; a cluster with none goes. Look-alike counts stay the stored ones."""
    (newest,) = store.db.execute("SELECT max(ts) FROM scores WHERE is_novel = 1 AND ts < ?",
                                 [sql_bound(until)]).fetchone()
    smallest = int(store.meta().get(MIN_SIZE_KEY, 1))  # the --min-size the stored clusters were found at
    out = []
    for c in rows:  # every card: one last seen before then still drew its days up to the stored run's
        members = members_before(store, c["cluster_id"], until)
        if len(members) < smallest:  # not yet a cluster then (26 cards of 1 or 2 prompts, the run said 4)
            continue
        texts = list(dict.fromkeys(m["text"] for m in members))
        known = set(texts)
        examples = [t for t in c["examples"] if t in known] or texts[:3]
        out.append({**c, **summary(members, newest), "examples": examples, "members": texts[:MEMBERS_SHOWN]})
    return sorted(out, key=lambda c: -c["size"])
