"""One verdict from all the evidence: ranked root causes, each with its evidence and its fix.

Evidence the user did not give is listed under ``not_checked``, never counted as healthy. Evidence
given that cannot be read (a golden file of only a header, a skew table without its key column) is listed
there too, with its error, and in ``unreadable``: the rest of the evidence is still judged, so one bad
file never hides the causes the others show.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .drift import DriftReport, DriftSettings, drift, ignored, paths_given
from .errors import InputError, NoveltyError, UnreadableEvidenceError, check_argument
from .golden import golden
from .skew import skew
from .spikes import SpikeReport, SpikeSettings, detect_spikes, parse_range
from .render import plural
from .stats import p_text

GOLDEN_COLUMNS = ("id", "label", "prediction")  # golden's --id-col, --label-col and --pred-col defaults

MITIGATIONS = {
    "model_regression": "roll back or retrain; check the model artefact",
    "data_drift": "fine-tune with recent data",
    "feature_drift": "fine-tune with recent data; check the feature's source",
    "feature_recalibration": "retrain with the correct feature version",
    "feature_unavailable": "fix the feature computation",
    "training_serving_skew": "patch the serving pipeline",
    "label_bias": "fine-tune or online learning on the new queries",
    "offline_online_gap": "refresh the golden set with post-launch data (novelty queue golden)",
}
_RANK = {"high": 3, "medium": 2, "low": 1}
DATA_DRIFT_SHARE = 0.3  # this share of the features drifting at once (and at least 3) is the population moving


@dataclass(frozen=True)
class Cause:
    cause: str
    feature: str | None
    severity: str
    evidence: str
    mitigation: str
    weight: float = 0.0  # orders causes of equal severity
    details: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Diagnosis:
    causes: list[Cause]
    not_checked: list[dict]
    unreadable: list[dict] = field(default_factory=list)  # evidence given that could not be read: its error
    spikes: SpikeReport | None = field(default=None, repr=False, compare=False)  # the windows judged (drawn by report)

    def to_dict(self) -> dict:
        """``not_checked`` and ``unreadable`` entries name their cause as text ('data_drift,
        feature_drift, ...' for the four the feature tables decide) and as a list (``causes``) to match on."""
        def listed(entries: list[dict]) -> list[dict]:
            return [{**e, "causes": e["cause"].split(", ")} for e in entries]
        return {"causes": [asdict(c) for c in self.causes], "not_checked": listed(self.not_checked),
                "unreadable": listed(self.unreadable)}


# where the golden files' columns are named, for diagnose's messages (it has no flags for them)
GOLDEN_OPTIONS = ("the columns id, label and prediction in both files, or compare them with `novelty golden "
                  "--id-col --label-col --pred-col`")


def diagnose(reference: str | Path | None = None, current: str | Path | None = None,
             db: str | Path | None = None, since: str | None = None, ignore: set[str] = frozenset(),
             offline: str | Path | None = None, serving: str | Path | None = None, key: str | None = None,
             golden_baseline: str | Path | None = None, golden_current: str | Path | None = None,
             drift_settings: DriftSettings = DriftSettings(),
             spike_settings: SpikeSettings = SpikeSettings(),
             drift_report: DriftReport | None = None, until: str | None = None,
             save_windows: bool = False, golden_columns: tuple[str, str, str] = GOLDEN_COLUMNS,
             golden_options: str = GOLDEN_OPTIONS, gap_test: bool = True,
             gap_untested: str | None = "the gap test was left to the caller", partial: bool = False) -> Diagnosis:
    """Collect the causes the given evidence supports, most severe first.

    ``since`` / ``until`` bound the scored evidence (windows, gap incidents): a run for an earlier
    date sees nothing after it. ``drift_report``: the comparison of ``reference`` and ``current``
    when the caller already made it (the HTML report draws it too), so big tables are not read and
    tested twice. ``save_windows``: record the spike windows it tests (``novelty spikes`` does); a
    diagnosis alone decides nothing. ``gap_test``: with no gap recorded, test the feedback labels in
    ``db`` against the golden set given (``novelty run`` tests and records it in its feedback step);
    without it, ``gap_untested`` says why the caller did not test it, None when it did and found no gap
    (run's summary listed a gap it had tested as 'not checked', naming flags run does not have: QA).

    Evidence given that cannot be read raises ``UnreadableEvidenceError`` once the rest is judged (its
    ``partial`` is the diagnosis), as the CLI exits 2; no evidence at all is an ``InputError``. With
    ``partial=True`` the diagnosis is returned with the unread evidence in ``unreadable`` and
    ``not_checked`` (the CLI, the report and ``novelty run`` show the rest; QA: a notebook's misspelt
    path returned ``causes == []``, which reads as nothing wrong)."""
    paths_given(reference=reference, current=current, offline=offline, serving=serving,
                golden_baseline=golden_baseline, golden_current=golden_current)
    paths_given("the SQLite file's path, such as 'monitor.db'", db=db)
    check_argument("drift_settings", drift_settings, DriftSettings, "a novelty.drift.DriftSettings")  # not an
    check_argument("spike_settings", spike_settings, SpikeSettings, "a novelty.spikes.SpikeSettings")  # unread db
    for a, b, names in ((reference, current, "--reference and --current"),
                        (offline, serving, "--offline and --serving"),
                        (golden_baseline, golden_current, "--golden-baseline and --golden-current")):
        if (a is None) != (b is None):
            raise InputError(f"{names} go together")
    if not partial and all(v is None for v in (reference, offline, db, golden_baseline)):
        # "no root cause found" with nothing checked would pass a misconfigured job quietly
        raise InputError("no evidence given: pass --reference/--current, --db, --offline/--serving/--key "
                         "or --golden-baseline/--golden-current (see novelty diagnose --help)")
    if offline is not None and not key:
        raise InputError("--offline and --serving need --key to pair the rows")
    if db is not None:
        parse_range(since, until)  # a usage error, not unreadable evidence
    ignore = ignored(ignore)  # (a list is fine; one name alone is a usage error too)
    causes, not_checked, unreadable = [], [], []

    def read(cause: str, evidence: str, work):
        """``work()``, or None when its input cannot be read: noted, and the other evidence still judged."""
        try:
            return work()
        except InputError as exc:
            unreadable.append({"cause": cause, "evidence": evidence, "error": str(exc)})
            not_checked.append({"cause": cause, "reason": f"{evidence} could not be used: {exc}"})
            return None

    golden_report = None
    if golden_baseline is not None:
        golden_report = read("model_regression", "the golden files",
                             lambda: golden(golden_baseline, golden_current, *golden_columns, options=golden_options))
        causes += golden_causes(golden_report) if golden_report is not None else []
    else:
        not_checked.append({"cause": "model_regression", "reason": "no --golden-baseline and --golden-current given"})
    if offline is not None:
        paired = read("training_serving_skew", "the offline and serving tables", lambda: skew(offline, serving, key))
        if paired is not None:
            causes += skew_causes(paired)
            not_checked += [{"cause": "training_serving_skew", "reason": w} for w in paired.warnings]  # weak pairing
    else:
        not_checked.append({"cause": "training_serving_skew", "reason": "no --offline, --serving and --key given"})
    tabular = "data_drift, feature_drift, feature_recalibration, feature_unavailable"
    if reference is not None:
        report = drift_report or read(tabular, "the feature tables",
                                      lambda: drift(reference, current, drift_settings, ignore)[0][1])
        if report is not None:
            causes += tabular_causes(report)
            not_checked += [{"cause": tabular, "reason": reason} for reason in report.not_checked]  # e.g. few rows
    else:
        not_checked.append({"cause": tabular, "reason": "no --reference and --current feature tables given"})
    if db is not None:
        spikes = read("label_bias", "the database", lambda: detect_spikes(db, spike_settings, since=since,
                                                                          until=until, save=save_windows))
        if spikes is not None:
            causes += label_bias_causes(spikes, db)
            untested = _untested(spikes, spike_settings)
            if untested:
                not_checked.append({"cause": "label_bias", "reason": untested})
            whole = golden_report and (golden_report.current_file or golden_report.current)
            gaps, reason = gap_causes(db, since, until, (whole.accuracy, whole.items) if whole and gap_test else None)
            causes += gaps
            if reason and golden_baseline is not None and golden_report is None and gap_test \
                    and reason.startswith("no gap recorded"):  # given, but unusable: not 'no --golden-... given'
                reason = ("no gap recorded, and the golden files given could not be used (see model_regression) "
                          "to test the feedback labels against")
            if reason and not gap_test:  # the caller's word for it
                reason = gap_untested
            if reason:
                not_checked.append({"cause": "offline_online_gap", "reason": reason})
        else:  # the same database holds the feedback: unread, the gap went unlisted
            not_checked.append({"cause": "offline_online_gap", "reason": not_checked[-1]["reason"]})
    else:
        not_checked += [{"cause": "label_bias", "reason": "no --db of scored prompts given"},
                        {"cause": "offline_online_gap", "reason": "no --db of scored prompts given"}]
    causes.sort(key=lambda c: (-_RANK[c.severity], -c.weight))
    found = Diagnosis(causes, not_checked, unreadable, spikes if db is not None else None)
    if unreadable and not partial:
        raise UnreadableEvidenceError(unread_message(found), found)
    return found


def unread_message(diagnosis: Diagnosis) -> str:
    """The evidence that could not be used, one 'X could not be used: why' a line (the CLI's lines)."""
    return "\n".join(f"{u['evidence']} could not be used: {u['error']}" for u in diagnosis.unreadable)


def golden_causes(report) -> list[Cause]:
    if not report.regression:
        return []
    drop = -report.accuracy_change
    drops = [r for r in report.label_changes if round(r["recall_before"] * 100) > round(r["recall_now"] * 100)]
    worst = ", ".join(f"{r['label']} {r['recall_before']:.0%}->{r['recall_now']:.0%}" for r in drops[:3])  # not 95%->95%
    evidence = (f"golden-set accuracy {report.baseline.accuracy:.1%} -> {report.current.accuracy:.1%} "
                f"(McNemar {p_text(report.mcnemar_p, 2)} on {report.paired} paired items: {report.broken} broken, "
                f"{report.fixed} fixed); biggest drops: {worst or 'n/a'}")
    details = {"accuracy_before": report.baseline.accuracy, "accuracy_now": report.current.accuracy,
               "accuracy_change": report.accuracy_change, "mcnemar_p": report.mcnemar_p, "paired": report.paired,
               "broken": report.broken, "fixed": report.fixed, "label_changes": report.label_changes[:5]}
    # what golden says besides the drop, which may be all of it (QA: predictions exported in capitals
    # read as a model at 0 %, with 'roll back or retrain'; `golden` alone said to fix the spelling)
    spelt = report.case_only_items.get("current", 0) - report.case_only_items.get("baseline", 0)
    empty = report.no_prediction.get("current", 0) - report.no_prediction.get("baseline", 0)
    mitigation, lost = MITIGATIONS["model_regression"], report.broken - report.fixed
    if spelt > 0:
        c = next(c for c in report.case_only if c["file"] == "current")
        evidence += (f"; {spelt:,} more items wrong only by the label's spelling now ({c['predicted']!r} for "
                     f"{c['label']!r})")
        details["spelt_apart"] = spelt
    if empty > 0:
        evidence += f"; {empty:,} more items with no prediction (counted wrong)"
        details["no_prediction"] = empty
    if spelt > 0 and spelt >= 0.8 * lost:
        mitigation = ("fix the predicted labels' spelling (case, separators) in the export or the model's label "
                      "map, then compare again: the model itself may not be worse")
    elif empty > 0 and empty >= 0.8 * lost:
        mitigation = ("find why predictions are missing (a serving timeout or error, a gap in the label map), "
                      "then compare again: the model itself may not be worse")
    return [Cause("model_regression", None, "high" if drop >= 0.05 else "medium", evidence,
                  mitigation, weight=drop, details=details)]


def skew_causes(report) -> list[Cause]:
    return [Cause("training_serving_skew", f.feature, "high" if f.mismatch_rate >= 0.1 else "medium",
                  f.evidence + (f"; e.g. keys {', '.join(f.example_keys[:3])}" if f.example_keys else ""),
                  MITIGATIONS["training_serving_skew"], weight=f.mismatch_rate,
                  details={"compared": f.compared, "mismatches": f.mismatches, "mismatch_rate": f.mismatch_rate,
                           "example_keys": f.example_keys}) for f in report.skewed]


def tabular_causes(report: DriftReport) -> list[Cause]:
    out = []
    drifted = [f for f in report.findings if f.cause == "feature_drift"]
    tested = [f for f in report.findings if f.test]
    for f in report.findings:
        if f.cause in ("feature_unavailable", "feature_recalibration"):
            out.append(Cause(f.cause, f.feature, "high", f.evidence, MITIGATIONS[f.cause],
                             weight=f.share_affected or 1.0, details=_finding_details(f)))
    if len(drifted) >= 3 and len(drifted) >= DATA_DRIFT_SHARE * max(1, len(tested)):
        strongest = max(f.effect or 0 for f in drifted)
        out.append(Cause("data_drift", None, "high" if strongest >= 0.5 else "medium",
                         f"{len(drifted)} of {len(tested)} features moved: " + ", ".join(
                             f"{f.feature} ({f.effect:.2f})" for f in drifted), MITIGATIONS["data_drift"],
                         weight=len(drifted) / max(1, len(tested)),
                         details={"features_tested": len(tested),
                                  "features": {f.feature: _finding_details(f) for f in drifted}}))
        return out
    for f in drifted:
        severity = "high" if f.effect >= 0.5 else "medium" if f.effect >= 0.2 else "low"
        # weighed by Jensen-Shannon (at most 1), as the other feature causes by a share of rows: an effect
        # in spreads or a PSI of 1.47 outranked a column 100 % null (QA)
        out.append(Cause("feature_drift", f.feature, severity, f.evidence, MITIGATIONS["feature_drift"],
                         weight=f.js if f.js is not None else min(f.effect or 0.0, 1.0), details=_finding_details(f)))
    return out


def _finding_details(f) -> dict:
    """The numbers behind a feature's evidence, for scripts: the test, its p- and q-value, the effect
    sizes, the share of rows affected, and what the drift check measured (e.g. the rescale slope)."""
    numbers = {"test": f.test, "p_value": f.p_value, "q_value": f.q_value, "effect": f.effect, "psi": f.psi,
               "js": f.js, "share_affected": f.share_affected}
    return {**{k: v for k, v in numbers.items() if v is not None}, **f.details}


def _ratio(details: dict) -> float:
    """Novel rate over the expected one; a window where none was expected (saved as null, or as
    Infinity by versions before 0.1) weighs as its novel rate over one novel prompt in a thousand."""
    ratio = details.get("rate_ratio")
    return details["novel_rate"] / 0.001 if ratio is None or ratio == float("inf") else ratio


def label_bias_causes(report, db=None) -> list[Cause]:
    """The most severe run of flagged windows in the range as one cause (the latest of equally severe
    ones; its worst window as evidence): a newer, milder run no longer hid a stronger one of the same
    alert.lookback, turning the alert off as evidence grew. Says when the run has ended (windows tested
    quiet after it) and when only the sequential detector flagged it. With ``db``, what the worst
    window's novel prompts are (``novel_profile``) can name another shift than new topics, and its fix."""
    if not report.incidents:
        return []
    runs: dict[str, list] = {}
    for i in report.incidents:
        runs.setdefault(i.details.get("first_flagged") or i.window_start, []).append(i)
    severity = lambda r: max(_RANK[i.severity] for i in r)  # noqa: E731
    top = max(map(severity, runs.values()))
    run = [r for r in runs.values() if severity(r) == top][-1]  # the latest of the most severe
    worst = max(run, key=lambda i: (_RANK[i.severity], _ratio(i.details)))
    d = worst.details
    labels = ", ".join(r["label"] for r in d.get("absorbing_labels", [])) or "not logged"
    how = (f"the sequential detector (CUSUM {d['cusum']:.1f}) saw a slow rise; the window alone: {p_text(worst.p_value)}"
           if d.get("detectors") == ["cusum"] and d.get("cusum") is not None else p_text(worst.p_value))
    # tested windows after the run, up to the next run of flagged windows (which does not undo this one's end)
    stop = min((i.window_start for i in report.incidents if i.window_start >= run[-1].window_end), default="9999")
    after = [w for w in report.windows if run[-1].window_end <= w.window_start < stop and w.p_value is not None]
    ended = run[-1].window_end if after else None
    evidence = (f"novel prompts at {d['novel_rate']:.1%} against {d['expected_rate']:.1%} expected in "
                f"{worst.window_start[:16]} ({_flagged_since(run, d['first_flagged'])}, {how}); "
                f"labels absorbing them: {labels}"
                + (f"; ended {ended[:16]}: {len(after)} window(s) tested quiet since" if ended else ""))
    profile = novel_profile(db, worst.window_start, worst.window_end, report.alpha) if db is not None else {}
    said, mitigation = _shift_said(profile)
    return [Cause("label_bias", None, worst.severity, evidence + said, mitigation,
                  weight=_ratio(d), details={"windows": [i.window_start for i in run],
                                                   "first_flagged": d["first_flagged"],
                                                   "worst_window": worst.window_start,
                                                   "worst_incident": worst.incident_id,
                                                   "prompts": d["prompts"],
                                                   "novel": d["novel"], "novel_rate": d["novel_rate"],
                                                   "expected_rate": d["expected_rate"], "p_value": worst.p_value,
                                                   "detectors": d.get("detectors", []), "ended": ended,
                                                   "absorbing_labels": d.get("absorbing_labels", []),
                                                   "top_novel": [r["text"] for r in d["top_novel"]],
                                                   **({"novel_profile": profile} if profile else {})})]


# what a spike's novel prompts are, past which another shift than new topics is named (QA: a language
# shift, a bot's flood and pasted e-mails were each told 'fine-tune on the new queries')
REPEATS = 0.2     # distinct texts per novel prompt at or below this: the same few texts sent again and again
LANGUAGE = 0.5    # this share of the novel prompts in another language than the known prompts' own
LONG = 0.5        # this share of them longer than the encoder reads
_SAMPLE = 60      # distinct texts of each kind whose language is detected (a few ms each)
_READ = 5_000     # novel prompts of the window read for it
_DIGITS = re.compile(r"\d+")
# scripts written without spaces between words (Chinese, Japanese, Thai...): a question is one 'word' there
# (re-test: 110 Chinese and Japanese prompts were never read, as texts of fewer than three words)
_UNSPACED = re.compile("[\u0e00-\u0eff\u1000-\u109f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")


def novel_profile(db, start: str, end: str, alpha: float | None = None) -> dict:
    """What the novel prompts (at ``alpha``, as the spike test counts them; ``is_novel`` without) of the
    window [start, end) are, read from up to ``_READ`` of them: how many distinct texts with their numbers
    folded (and the commonest one's copies), the share in another language than the window's known
    prompts (``langdetect`` on up to ``_SAMPLE`` distinct texts of each, confident answers only), and the
    share longer than the encoder reads (the database's model's tokenizer). {} when the window holds
    none, or the database cannot be read."""
    from .logs import sql_bound
    from .store import Store

    novel_sql = "is_novel = 1" if alpha is None else "p_value <= ?"
    where = f"{novel_sql} AND ts >= ? AND ts < ?"
    bounds = [*([] if alpha is None else [float(alpha)]), sql_bound(start), sql_bound(end)]
    try:
        store = Store(db)
    except NoveltyError:
        return {}
    try:  # bounded: a day of 400,000 novel prompts took 93 s and 548 MB read whole (review)
        (count,) = store.db.execute(f"SELECT COUNT(*) FROM scores WHERE {where}", bounds).fetchone()
        # spread over the window, not its first rows (review: a bot that began after 5,000 new-topic
        # prompts went unseen): rows in an order the rowid scrambles, the same on every run
        read = [t for (t,) in store.db.execute(
            f"SELECT text FROM scores WHERE rowid IN (SELECT rowid FROM scores WHERE {where} AND text IS NOT NULL "
            "ORDER BY ((rowid % 2147483648) * 2654435761) % 4294967296 LIMIT ?)", [*bounds, _READ])]  # (in 64 bits)
        (most,) = store.db.execute(f"SELECT COALESCE(MAX(n), 0) FROM (SELECT COUNT(*) AS n FROM scores WHERE {where} "
                                   "GROUP BY text_hash)", bounds).fetchone()
        known = [t for (t,) in store.db.execute(
            f"SELECT DISTINCT text FROM scores WHERE NOT ({novel_sql}) AND ts >= ? AND ts < ? LIMIT ?",
            [*bounds, 20 * _SAMPLE])]
        model = store.meta().get("model")
    finally:
        store.close()
    if not count or not read:
        return {}
    # a bot's templates with a number that changes ('order 1234 status') are one text each (re-test)
    shapes = Counter(_DIGITS.sub("0", t) for t in read)
    profile = {"novel": count, "read": len(read), "distinct": len(shapes),
               "most_copies": max(most, shapes.most_common(1)[0][1])}  # one text's copies in the window
    ours, theirs = _languages(list(dict.fromkeys(read))), _languages(known)
    if sum(ours.values()) >= 10 and theirs:
        usual = theirs.most_common(1)[0][0]
        other = Counter({lang: n for lang, n in ours.items() if lang != usual})
        total = sum(ours.values())
        profile.update(usual_language=usual, other_language_share=round(sum(other.values()) / total, 3),
                       other_languages=[lang for lang, n in other.most_common(3) if n >= 0.1 * total],
                       # one language, or a few, not a scatter of misreadings of short text (review)
                       other_dominant=round(other.most_common(1)[0][1] / sum(other.values()), 3) if other else 0.0,
                       known_other_share=round(1 - theirs[usual] / sum(theirs.values()), 3))
    limit = _reading_limit(model)
    if limit is not None:
        profile.update(longer_than_read=round(limit.over(read) / len(read), 3), read_tokens=limit.tokens)
    return profile


def _reading_limit(model: str | None):
    from .embed import reading_limit

    try:
        return reading_limit(model) if model else None
    except Exception:  # a model no longer on this machine: the share is not said
        return None


def _languages(texts: list[str]) -> Counter:
    """The languages of up to ``_SAMPLE`` of ``texts`` long enough to tell (three words and 20 characters,
    or four characters of a script written without spaces), counting only answers langdetect gives with
    a probability of 0.9 or more: it read 13 of 24 short English queries as Romanian, Tagalog... (review)."""
    from langdetect import DetectorFactory, LangDetectException, detect_langs

    DetectorFactory.seed = 0  # its guesses are random otherwise
    found: Counter = Counter()
    tried = 0
    for text in texts:
        if tried >= 5 * _SAMPLE:  # few confident answers (pasted e-mails, a bot's gibberish): 5,000 took 77 s
            break
        if not text or not ((len(text.split()) >= 3 and len(text) >= 20) or (len(text.strip()) >= 4
                                                                             and _UNSPACED.search(text))):
            continue
        tried += 1
        try:
            best = detect_langs(text)[0]
        except LangDetectException:  # no letters to go by
            continue
        if best.prob >= 0.9:
            found[best.lang] += 1
        if sum(found.values()) >= _SAMPLE:
            break
    return found


def shift_kinds(profile: dict) -> list[str]:
    """What else than new topics the novel prompts of ``novel_profile`` are: 'automated' (a few texts
    sent again and again), 'language' (another language than the known prompts'), 'long' (longer than
    the encoder reads); [] for new topics."""
    if not profile:
        return []
    kinds = []
    if profile["read"] >= 20 and profile["distinct"] <= REPEATS * profile["read"]:
        kinds.append("automated")
    if profile.get("other_language_share", 0) >= LANGUAGE and profile.get("known_other_share", 1) <= LANGUAGE / 5 \
            and profile.get("other_dominant", 0) >= 0.5:
        kinds.append("language")
    if profile.get("longer_than_read", 0) >= LONG:
        kinds.append("long")
    return kinds


def _shift_said(profile: dict) -> tuple[str, str]:
    """The evidence a novel profile adds, and the fix it calls for when the novel prompts are not new
    topics: automated traffic, another language, or messages longer than the encoder reads."""
    kinds = shift_kinds(profile)
    if not kinds:
        return "", MITIGATIONS["label_bias"]
    said, fixes = [], []
    if "automated" in kinds:
        of = "" if profile["read"] == profile["novel"] else f" in the {profile['read']:,} read"
        said.append(f"the {profile['novel']:,} novel prompts are {plural(profile['distinct'], 'distinct text')} "
                    f"(numbers aside){of}, one sent {profile['most_copies']:,} times (automated traffic?)")
        fixes.append("if it is a bot, a load test or a health check, filter it out before scoring; do not train on it")
    other = profile.get("other_language_share", 0)
    if "language" in kinds:
        said.append(f"{other:.0%} of them are in {', '.join(profile['other_languages'])}, not "
                    f"{profile['usual_language']} as the known prompts ({profile['known_other_share']:.0%} other)")
        fixes.append("a new language, not new topics: route it to a model for it, or build the index and the "
                     "classifier on a multilingual encoder with prompts in it")
    if "long" in kinds:
        said.append(f"{profile['longer_than_read']:.0%} of them are longer than the encoder reads "
                    f"({profile['read_tokens']} tokens): only their start was scored")
        fixes.append("score the user's question (or a summary), not the whole message, then look again")
    return "; " + "; ".join(said), "; ".join(fixes) + "; new topics among them: " + MITIGATIONS["label_bias"]


def _flagged_since(run: list, first_flagged: str) -> str:
    """How many windows of ``run`` (those in the range) were flagged since when: a run that began
    before --since (or alert.lookback) says so, rather than counting the range's windows from its start.

    >>> class W: window_start = "2026-03-01T00:00:00Z"
    >>> _flagged_since([W()], "2026-02-22T00:00:00Z")
    'flagged windows since 2026-02-22T00:00, 1 of them since 2026-03-01T00:00'
    >>> _flagged_since([W()], "2026-03-01T00:00:00Z")
    '1 flagged window(s) since 2026-03-01T00:00'
    """
    if first_flagged < run[0].window_start:  # was "36 flagged window(s) since 02-22", counting from 03-01
        return f"flagged windows since {first_flagged[:16]}, {len(run)} of them since {run[0].window_start[:16]}"
    return f"{len(run)} flagged window(s) since {first_flagged[:16]}"


def _untested(report, settings: SpikeSettings) -> str | None:
    """Why no window could show label bias, when none was tested."""
    if report.incidents or any(w.p_value is not None for w in report.windows):
        return None
    if not report.windows:
        return "no scored prompts with a time in the range"
    return (f"no {report.window} window had enough prompts to test ({settings.min_prompts}, --min-prompts) "
            "and something to compare it with")


def gap_causes(db, since: str | None = None, until: str | None = None,
               golden: tuple[float, int] | None = None) -> tuple[list[Cause], str | None]:
    """The latest open offline/online gap (recorded by ``novelty run`` from feedback labels); else,
    with ``golden`` (the current golden set's accuracy and items), the feedback labels of the range
    tested against it here; or why none could be checked (it was left out, as if healthy)."""
    from .config import BY_KEY
    from .feedback import gap_severity, novel_error_share, offline_online_gap, online_accuracy, open_gaps
    from .spikes import parse_bound
    from .store import Store

    since, until = parse_bound(since, "--since"), parse_bound(until, "--until")
    store = Store(db)
    try:
        (labels,) = store.db.execute("SELECT COUNT(*) FROM feedback").fetchone()
        gaps = open_gaps(store, since, until)
    finally:
        store.close()
    recorded = [g for g in gaps if golden is None or _same_golden(g["details"], golden)]
    if recorded:  # a gap recorded against another golden set than the one given (refreshed, as its advice
        return [_gap_cause(recorded[0]["details"], recorded[0]["severity"])], None  # says) is tested anew (QA)
    if not labels:
        return [], "no feedback labels in --db (import them with `novelty feedback`)"
    if golden is None:
        return [], ("no gap recorded (`novelty run` tests one daily) and no --golden-baseline and --golden-current "
                    f"to test the {labels:,} feedback labels against")
    # at monitor.toml's defaults for the test novelty run makes (feedback.min_labels, min_gap, max_p_value)
    min_labels, min_gap, max_p = (BY_KEY[f"feedback.{k}"].default for k in ("min_labels", "min_gap", "max_p_value"))
    online = online_accuracy(db, "1d", since, until)
    if online.total.all.labelled < min_labels:
        return [], (f"{online.total.all.labelled:,} labelled prompts in the range, under the {min_labels} a gap "
                    "test needs")
    period = (since or online.windows[0].window_start, until or online.windows[-1].window_end)
    gap = offline_online_gap(online.total.all, *golden, period, min_gap, max_p)
    if not gap.significant:
        return [], None
    return [_gap_cause({**gap.to_dict(), "novel_share_of_errors": novel_error_share(online)}, gap_severity(gap))], None


def _same_golden(details: dict, golden: tuple[float, int]) -> bool:
    """Whether a recorded gap was measured against the golden set of this accuracy and size."""
    return abs(float(details.get("golden_accuracy", -1)) - golden[0]) < 1e-9 and details.get("golden_items") == golden[1]


def _gap_cause(d: dict, severity: str) -> Cause:
    """The cause of a gap test's figures (``Gap.to_dict`` and ``novel_share_of_errors``), in its
    evidence and in ``details``."""
    online, novel = d["online"], d.get("novel_share_of_errors")
    evidence = (f"online accuracy {online['accuracy']:.1%} [{online['ci_low']:.1%}, {online['ci_high']:.1%}] on "
                f"{online['labelled']:,} labelled prompts from {d['period_start'][:10]} until {d['period_end'][:10]}, "
                f"against {d['golden_accuracy']:.1%} on the golden set ({p_text(d['p_value'])})"
                + (f"; {novel:.0%} of the errors are on novel prompts" if novel is not None else "")
                + ": the golden set no longer looks like production")
    return Cause("offline_online_gap", None, severity, evidence, MITIGATIONS["offline_online_gap"], weight=d["gap"],
                 details={"period": [d["period_start"], d["period_end"]], "online_accuracy": online["accuracy"],
                          "online_interval": [online["ci_low"], online["ci_high"]], "labelled": online["labelled"],
                          "golden_accuracy": d["golden_accuracy"], "gap": d["gap"], "p_value": d["p_value"],
                          "novel_share_of_errors": novel})


def to_json(diagnosis: Diagnosis) -> str:
    return json.dumps(diagnosis.to_dict(), indent=2, default=str)
