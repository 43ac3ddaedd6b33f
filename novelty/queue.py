"""The fine-tuning / online-learning queue: the right novel prompts, deduplicated, diverse, in budget.

Statuses move pending -> exported -> labelled -> trained. Adding skips near-duplicates (cosine to a
queued prompt at or above ``dedupe``) and, under a budget, picks by farthest-point sampling so the
labelling effort covers the whole cluster instead of its most common phrasing.
"""

from __future__ import annotations

import csv
import json
import re
import unicodedata
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from . import clusters
from .errors import InputError, check_argument
from .logs import (OPEN_QUOTE, canonical_id, check_file, csv_table, detect_format, field_separator, is_na_label,
                   is_stdout, is_utf8, jsonl_lines, label_form, label_value, numbered_rows, open_output, open_text,
                   output_file, parquet_source, refuse_overwrite, spelling, sql_bound)
from .store import Store, existing_db, utc_now

STATUSES = ("pending", "exported", "labelled", "trained")
FORMATS = ("chat-jsonl", "csv", "batch-jsonl")
SKIP_REASONS = {  # rows of a label file that `import_labels` leaves out, and why
    "extra_fields": "more fields than the header (an unquoted comma?)",
    "short_row": "the row ends before its id or label column",
    "blank_id": "no id",
    "blank_label": "blank label",
    "not_labelled": "NA, null, None, - or ?: not labelled yet (as feedback reads them)",
    "label_line_break": "a label with a line break (an unclosed quote?)",
    "open_quote": "a quote left open ran over the next lines (they were read again)",
    "malformed_csv": "a line the CSV reader could not read",
    "invalid_json": "a JSONL line that is not a JSON object (or an id or label that is a list or object)",
    "not_utf8": "bytes that are not UTF-8 in the id or label (save the file as CSV UTF-8)",
    "duplicate_id": "the same id and label again",
    "conflicting_labels": "one id with different labels (none of them applied)",
    "text_mismatch": "its text shares under half its words with the queued prompt's (a file from another "
                     "database, or ids reused?): not applied",
}
# str.splitlines() also ends lines at these; json.dumps(ensure_ascii=False) leaves them raw
_LINE_BREAKS = {"\x85": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"}
SHOWN_LINES = 5  # line numbers of skipped rows reported per reason


@dataclass(frozen=True)
class QueueResult:
    candidates: int
    added: int
    near_duplicates: int
    already_queued: int
    look_alikes: int = 0   # of the candidates: prompts not flagged novel but nearer the cluster (see clusters.py)
    no_vector: int = 0     # candidates left out: `score --cache-size` evicted their vector (never flagged novel)
    look_alikes_added: int = 0  # of ``added``: look-alikes
    note: str = ""         # why there was nothing to add (--cluster all on a day without clusters)

    @property
    def over_budget(self) -> int:
        """Candidates left for a later add: past the budget (the most diverse went first)."""
        return self.candidates - self.added - self.near_duplicates - self.already_queued - self.no_vector

    def to_dict(self) -> dict:
        """As ``--json`` prints it."""
        return {**asdict(self), "over_budget": self.over_budget}


def add(db: str | Path, *, cluster: str | None = None, max_p_value: float | None = None,
        incident: str | None = None, budget: int = 200, dedupe: float = 0.95,
        look_alikes: bool | None = None) -> QueueResult:
    """Queue novel prompts of a cluster, of an incident's window, or below a p-value.

    With a cluster, the candidates include its look-alikes (``look_alikes``, on unless False): prompts
    in no cluster that sit nearer it than the training set (see clusters.py). Measured on Banking77
    (scripts/bench_clusters.py, three draws of five held-out intents, budget 200): the novel rate of
    fresh prompts of the learned intents fell by 61 / 81 / 75 % from the clusters alone, by
    69 / 90 / 88 % with their look-alikes, 96-98 % of which were prompts of the new intents; over
    five draws with look-alikes three steps deep and mean-max pooling, by 70 / 92 / 86 / 74 / 82 %.
    """
    for name, value, kinds, what in (("cluster", cluster, (str, type(None)), "a cluster id such as 'c0003', or 'all'"),
                                     ("incident", incident, (str, type(None)), "an incident id from novelty spikes"),
                                     ("max_p_value", max_p_value, (int, float, type(None)), "a p-value such as 0.01"),
                                     ("budget", budget, int, "a whole number such as 200"),
                                     ("dedupe", dedupe, (int, float), "a cosine similarity such as 0.95"),
                                     ("look_alikes", look_alikes, (bool, type(None)), "True, False or None")):
        check_argument(name, value, kinds, what)  # was: AttributeError and TypeError from inside
    if sum(x is not None for x in (cluster, max_p_value, incident)) != 1:
        raise InputError("say what to add: exactly one of --cluster, --max-p-value or --incident")
    for name, value in (("--cluster", cluster), ("--incident", incident)):
        if value is not None and not value.strip():  # was: 'Queued 0 of 0 candidates', exit 0
            what = "a cluster id, or all" if name == "--cluster" else "an incident id from novelty spikes"
            raise InputError(f"{name} is empty: give {what}")
    if cluster is not None:  # ids are written c0003: 'C0003', ' c0003 ' or 'ALL' meant the same
        cluster = cluster.strip().lower()
    if incident is not None:  # and incidents in lower-case hex: 'F66E6B86...' was 'no incident'
        incident = incident.strip().lower()
    if budget < 1:
        raise InputError(f"--budget is how many prompts to add at most: 1 or more, not {budget}")
    if max_p_value is not None and not 0 <= max_p_value <= 1:  # NaN fails too
        raise InputError(f"--max-p-value is a p-value: from 0 to 1, not {max_p_value}")
    if not 0 < dedupe <= 1:
        raise InputError(f"--dedupe is a cosine similarity: above 0 and at most 1, not {dedupe}")
    look_alikes = cluster is not None if look_alikes is None else look_alikes
    if look_alikes and cluster is None:
        raise InputError("--look-alikes goes with --cluster: they are the prompts nearer a cluster than the "
                         "training set")
    store = _open(db)
    try:
        pruned = store.pruned_before()
        try:
            rows = _candidates(store, cluster, max_p_value, incident)
        except _Nothing as nothing:  # not a usage error: a quiet day in a cron script queues nothing
            return QueueResult(0, 0, 0, 0, note=str(nothing))
        similar = [dict(r, source=f"look-alike:{r['cluster_id']}") for r in clusters.look_alikes(store, cluster)] \
            if look_alikes else []
        rows += similar
        queued = dict(store.db.execute("SELECT prompt_id, text_hash FROM queue").fetchall())
        new = [r for r in rows if r["prompt_id"] not in queued]
        dimension = int(store.meta().get("dimension", 0))
        queued_hashes = {h for h in queued.values() if h}
        found = store.cached_vectors([r["text_hash"] for r in new] + list(queued_hashes), dimension)
        # a vector `score --cache-size` evicted (a prompt never flagged novel) cannot be compared: left out, counted
        fresh = [r for r in new if r["text_hash"] in found]
        vectors = np.stack([found[r["text_hash"]] for r in fresh]) if fresh else np.zeros((0, dimension), np.float32)
        queued_vectors = [found[h] for h in queued_hashes if h in found]
        chosen, near = _pick([r["text_hash"] for r in fresh], vectors, queued_hashes,
                             np.stack(queued_vectors) if queued_vectors else vectors[:0], dedupe, budget)
        source = f"cluster:{cluster}" if cluster else f"incident:{incident}" if incident else f"p<={max_p_value}"
        now = utc_now()

        def work() -> None:  # a prune that committed meanwhile deleted some of them: its text came back for good
            store.unchanged_by_prune(pruned)
            store.db.conn.executemany(
                "INSERT OR IGNORE INTO queue VALUES (?,?,?,?,'pending',?,NULL,?,?)",
                [(fresh[i]["prompt_id"], fresh[i]["text"], fresh[i]["text_hash"], fresh[i].get("source", source),
                  fresh[i]["predicted_label"], now, now) for i in chosen])
        store.transaction(work)
        return QueueResult(len(rows), len(chosen), near, len(rows) - len(new), len(similar),
                           len(new) - len(fresh),
                           sum(fresh[i].get("source", "").startswith("look-alike:") for i in chosen))
    finally:
        store.close()


def items(db: str | Path, status: str | None = None) -> list[dict]:
    """Queue items, oldest first; only those of ``status`` when given."""
    _check_status(status)
    store = _open(db)
    try:
        where = "WHERE status = ?" if status else ""
        return list(store.db.query(f"SELECT * FROM queue {where} ORDER BY added_at, prompt_id",
                                   [status] if status else []))
    finally:
        store.close()


def stats(db: str | Path) -> dict[str, int]:
    """How many queue items have each status (``novelty queue stats``), every status named, 0 when none."""
    store = _open(db)
    try:
        counts = dict(store.db.execute("SELECT status, COUNT(*) FROM queue GROUP BY status"))
        return {s: counts.get(s, 0) for s in STATUSES}
    finally:
        store.close()


def extension(name: str) -> str:
    """A file name's last extension, lower case ('' when it has none): what it says its format is.

    >>> extension("Next.CSV.gz"), extension(".bashrc"), extension("labels")
    ('gz', '', '')
    """
    name = name.lower()
    return name.rsplit(".", 1)[1] if "." in name.strip(".") else ""


def export_format(out: str | Path, fmt: str | None = None, escape_formulas: bool = False) -> str:
    """The export format: ``fmt``, else what ``out``'s name says (``.csv``: csv, else chat-jsonl). A name
    that says another format is refused before anything is written or marked exported: JSON lines
    in ``to-label.csv`` were marked exported, so the corrected command found nothing left to export.
    ``escape_formulas`` is for CSV alone (it was ignored for JSON lines without a word).

    >>> export_format("to-label.csv"), export_format("-"), export_format("train.jsonl", "batch-jsonl")
    ('csv', 'chat-jsonl', 'batch-jsonl')
    >>> export_format("labels.txt", "csv"), export_format("LABELS.CSV")
    ('csv', 'csv')
    """
    if fmt is not None and fmt not in FORMATS:
        raise InputError(f"--format takes {', '.join(FORMATS)}, not {fmt!r}")
    name = "" if str(out) == "-" else Path(str(out)).name.lower()
    suffix = next((s for s in (".csv", ".jsonl", ".json", ".ndjson") if name.endswith(s)), None)
    if suffix is None and extension(name) in ("gz", "parquet", "tsv", "xlsx"):
        raise InputError(f"-o {out}: exports are written as plain CSV or JSON lines; name the file .csv "
                         "(--format csv) or .jsonl")
    if fmt is None:
        fmt = "csv" if suffix == ".csv" else "chat-jsonl"
    elif (suffix == ".csv") != (fmt == "csv") and suffix is not None:
        raise InputError(f"-o {out} names a {suffix} file but --format {fmt} writes "
                         f"{'CSV' if fmt == 'csv' else 'JSON lines'}: change one of them")
    if escape_formulas and fmt != "csv":
        raise InputError("--escape-formulas is for --format csv (a spreadsheet runs formulas; JSON lines "
                         "keep every prompt exact)")
    return fmt


def export(db: str | Path, out: str | Path, fmt: str | None = None, status: str = "pending",
           system: str = "Classify the customer's request into one intent label.",
           escape_formulas: bool = False) -> int:
    """Write queue items to ``out``; pending items become 'exported'. With no item of ``status`` an
    existing ``out`` is left as it is (the same export run twice would empty the file it wrote).
    ``fmt`` (``FORMATS``) defaults to what ``out``'s name says (``export_format``).

    ``escape_formulas`` (CSV): a cell starting with = + - @ (``formula_like``) gets a leading ``'``,
    so a spreadsheet shows it rather than runs it (a user can type ``=HYPERLINK(...)`` into the bot, and
    the file goes to annotators; ids and predicted labels are logged text too: QA). ``import_labels``
    reads the ids and labels without the quote. Not for a file `index add` reads: the index would learn
    the prompt's quote."""
    check_argument("out", out, (str, Path), "a file path, or '-' for standard output")  # was: TypeError
    fmt = export_format(out, fmt, escape_formulas)
    chosen = items(db, status)
    out = output_file(out, "queue.csv")
    inputs = [db, *logged_sources(db)]
    if not chosen and not is_stdout(out) and out.is_file() and out.stat().st_size:
        refuse_overwrite(out, inputs)  # the database itself is refused even with nothing to write
        return 0
    if not is_stdout(out):
        refuse_overwrite(out, inputs)  # first: the database typed as -o is no label file
        _refuse_losing(db, out)
    with open_output(out, "queue.csv", inputs=inputs) as fh:
        if fmt == "csv":
            writer = csv.writer(fh)
            writer.writerow(CSV_COLUMNS)
            writer.writerows([csv_cell(r[c] or "", escape_formulas) for c in ROW_CELLS] for r in chosen)
        for r in chosen if fmt != "csv" else []:
            record = {"messages": [{"role": "system", "content": system}, {"role": "user", "content": r["text"]},
                                   {"role": "assistant", "content": r["label"] or ""}]} if fmt == "chat-jsonl" \
                else {"id": r["prompt_id"], "text": r["text"], "label": r["label"]}
            fh.write(_jsonl_line(record))
    if status == "pending":
        _set_status(db, [r["prompt_id"] for r in chosen], "exported")
    return len(chosen)


CSV_COLUMNS = ["id", "text", "label", "predicted_label"]  # the CSV export's header
ROW_CELLS = ("prompt_id", "text", "label", "predicted_label")  # a queue item's, in that order


def _refuse_losing(db, out: Path) -> None:
    """An InputError when writing the export over ``out`` would lose work. Replaced: an earlier export of
    this queue as it was written. Refused: a file of another shape (``-o train.csv``, meant to add to the
    training data, replaced 3,000 training prompts with 10; a column an annotator added), a chat file
    whose examples are not this queue's (a fine-tuning set of one's own), an export with labels for
    items not labelled in the queue yet (exported again before `queue import`, the annotators' labels
    were gone), or one whose labels are all for ids this queue does not hold (another database's)."""
    try:
        if not out.is_file() or not out.stat().st_size:
            return
        kind = _export_kind(out)
    except OSError:  # unreadable (write-only): replaced, as before
        return
    if kind is None:
        _not_ours(out, "a queue export as novelty writes it")
    store = _open(db)
    try:
        if kind == "chat":
            # an example without an answer is one exported for labelling, labelled nowhere yet: nothing to
            # lose, though prune may have deleted its item (review: the next export was refused)
            queued = {text for (text,) in store.db.execute("SELECT text FROM queue")}
            foreign = [t for t, answer in _chat_examples(out) if answer and t not in queued]
            if foreign:
                raise InputError(f"{out} holds {len(foreign):,} example{'s' * (len(foreign) != 1)} that {'are' if len(foreign) != 1 else 'is'} "
                                 f"not in this database's queue (e.g. {foreign[0][:60]!r}): a fine-tuning set of "
                                 "your own? Writing the export there would replace it; give another name")
            return
        try:  # read as queue import reads it ('None' a label where the index has such an intent)
            labels = _label_rows(out, None, "label", store.na_like_intents())[0]
        except InputError:
            _not_ours(out, "a queue export as novelty writes it")
        status = store.queue_statuses(list(labels))
    finally:
        store.close()
    waiting = [pid for pid in labels if status.get(pid) in ("pending", "exported")]
    if waiting:
        raise InputError(f"{out} holds {len(waiting):,} label{'s' * (len(waiting) != 1)} not imported yet (id "
                         f"{waiting[0]!r}: {labels[waiting[0]]!r}): writing the export there would lose "
                         f"{'them' if len(waiting) != 1 else 'it'}; import first (novelty queue import {out} --db {db}), "
                         "or write the export elsewhere")
    if labels and not status:
        raise InputError(f"{out} holds {len(labels):,} label{'s' * (len(labels) != 1)} for ids this database's queue "
                         "does not hold (another database's export?): writing the export there would lose them; "
                         "give another name")


def _not_ours(out: Path, what: str) -> None:
    with open(out, "rb") as fh:
        begins = fh.read(40).decode("utf-8", "replace")
    raise InputError(f"{out} exists and is not {what} (it begins {begins!r}): writing there would replace that "
                     "file; give another name, or move the file away first")


def _export_kind(path: Path) -> str | None:
    """'csv', 'batch' or 'chat' when ``path`` begins as that export writes it (its header; its first
    object's keys), else None. Reads the first line only: a large file of another kind is told at once."""
    with open_text(path) as fh:
        first = next((line for line in fh if line.strip()), "").lstrip("\ufeff")
    if first.lstrip().startswith("{"):
        try:
            record = json.loads(first)
        except ValueError:
            return None
        if isinstance(record, dict) and set(record) == {"messages"} and isinstance(record["messages"], list):
            return "chat"
        return "batch" if isinstance(record, dict) and "id" in record and set(record) <= {"id", "text", "label"} \
            else None
    for sep in (",", ";", "\t"):  # as written, or saved again by a spreadsheet in a comma-decimal locale
        if [f.strip() for f in next(csv.reader([first], delimiter=sep), [])] == CSV_COLUMNS:
            return "csv"
    return None


def _chat_examples(path: Path) -> list[tuple[str, str]]:
    """The user messages of a chat-jsonl file, in order, each with the assistant's answer after it
    ('' when none)."""
    found = []
    for _, record, _ in jsonl_lines(path):
        messages = record.get("messages") if isinstance(record, dict) else None
        messages = [m for m in messages or [] if isinstance(m, dict)]
        for i, m in enumerate(messages):
            if m.get("role") == "user" and isinstance(m.get("content"), str):
                answer = next((a.get("content") for a in messages[i + 1:] if a.get("role") == "assistant"), "")
                found.append((m["content"], answer if isinstance(answer, str) else str(answer)))
    return found


def csv_cell(text: str, escape_formulas: bool = False) -> str:
    """A prompt as the CSV export writes it: a NUL would make the file binary to every CSV reader,
    `index add` included."""
    return ("'" if escape_formulas and formula_like(text) else "") + text.replace("\x00", "\ufffd")


def formula_rows(rows: list[dict], columns: tuple[str, ...]) -> int:
    """How many rows have a cell among ``columns`` that a spreadsheet would run (``formula_like``)."""
    return sum(any(isinstance(r[c], str) and formula_like(r[c]) for c in columns) for r in rows)


def unescaped(cell):
    """A cell as it was before ``escape_formulas``: '=1+1 read back is =1+1 (an id or label exported
    for people and imported again); any other value as it is.

    >>> unescaped("'=1+1"), unescaped("'tis"), unescaped("=1"), unescaped(None)
    ('=1+1', "'tis", '=1', None)
    """
    return cell[1:] if isinstance(cell, str) and cell[:1] == "'" and formula_like(cell[1:]) else cell


def formula_like(text: str) -> bool:
    """Whether a spreadsheet would read a cell of ``text`` as a formula (OWASP's CSV injection list).

    >>> [formula_like(t) for t in ("=1+1", "@SUM(A1)", "-5 dollars", "how do I pay?", "\\tx")]
    [True, True, True, False, True]
    """
    return text[:1] in ("=", "+", "-", "@", "\t", "\r")


def import_labels(db: str | Path, path: str | Path, id_col: str | None = None, label_col: str = "label") -> dict:
    """Read ids and labels back; known ids become 'labelled'. CSV (UTF-8 with or without a BOM, ``,``
    ``;`` or tab), JSONL (the batch-jsonl export's objects) or Parquet, gzip too; the id column is
    ``id_col``, else ``id``, else ``prompt_id``.

    Re-importing a label changes nothing (``unchanged``): a trained item stays trained. A changed label
    moves an item back to 'labelled' (``trained_relabelled`` counts the trained ones among ``labelled``)
    so the next training run takes it. Ids not in the queue are counted (``unknown_ids``, the first in
    ``unknown_id_examples``; ``pruned_before`` says when ``prune`` last deleted items, which may be
    theirs); rows that cannot be used are skipped and counted by reason (``SKIP_REASONS``), with their
    first line numbers. A file with a ``text`` column (as the exports write) has each row's text checked
    against the queued prompt's: a label written for another prompt under the same id (a file from
    another database, where ids such as request numbers repeat) is not applied.
    """
    check_argument("path", path, (str, Path), "the label file's path (CSV, JSONL or Parquet)")
    path = check_file(path, "the label file inside it")
    if id_col is not None and not id_col.strip():  # '' fell back to the default silently; --label-col '' is refused
        raise InputError("--id-col is empty: name the column holding the queue ids (default: id, else prompt_id)")
    store, unknown, mismatched = _open(db), [], []
    try:  # a 'None' intent's labels are labels, not 'not labelled yet'
        labels, skipped, texts = _label_rows(path, id_col, label_col, store.na_like_intents())
        counts = store.transaction(lambda: _apply_labels(store, labels, unknown, texts, mismatched))
        pruned = store.pruned_before()
        spellings = Counter(label for (label,) in store.db.execute("SELECT label FROM queue WHERE label IS NOT NULL"))
        trained = store.training_label_shares()
    finally:
        store.close()
    if mismatched:
        skipped["text_mismatch"] = sorted(texts[pid][0] for pid in mismatched)
        skipped = {reason: skipped[reason] for reason in SKIP_REASONS if reason in skipped}
    return {"labelled": counts["labelled"], "trained_relabelled": counts["trained_relabelled"],
            "unchanged": counts["unchanged"], "unknown_ids": len(unknown),
            "case_variants": [g for g in case_variants(spellings) if set(g) & set(labels.values())],
            "near_misses": near_misses(spellings, set(trained), set(labels.values())),
            "unknown_id_examples": unknown[:SHOWN_LINES], "pruned_before": pruned,
            "skipped": {reason: len(lines) for reason, lines in skipped.items()},
            "skipped_lines": {reason: lines[:SHOWN_LINES] for reason, lines in skipped.items()}}


def case_variants(counts: Counter) -> list[dict]:
    """Labels spelt alike but for case or word separators ('Crypto', 'CRYPTO' beside 'crypto';
    'exchange rate' beside 'exchange_rate' or 'exchange-rate'), each group most used first: the index
    would learn each as an intent of its own.

    >>> case_variants(Counter({"crypto": 110, "Crypto": 1, "fees": 3, "exchange_rate": 9, "exchange rate": 2}))
    [{'crypto': 110, 'Crypto': 1}, {'exchange_rate': 9, 'exchange rate': 2}]
    >>> case_variants(Counter({"1": 50, "-1": 40, "other": 5, "_other": 2}))
    []
    """
    groups: dict[str, dict[str, int]] = defaultdict(dict)
    for label, n in counts.most_common():
        groups[spelling(label)][label] = n
    return [group for group in groups.values() if len(group) > 1]


def near_misses(counts: Counter, trained: set[str], given: set[str]) -> list[dict]:
    """Labels of ``given`` found nowhere else, neither in the index (``trained``) nor on other queue
    items, that are one typo from a label that is ('crpyto' beside 'crypto', QA: imported without a
    word, it would become an intent of one prompt): each with the label it is close to.

    >>> near_misses(Counter({"crypto": 7, "crpyto": 1, "fees": 2}), {"card_lost"}, {"crypto", "crpyto", "fees"})
    [{'label': 'crpyto', 'items': 1, 'close_to': 'crypto'}]
    >>> near_misses(Counter({"card_lost": 1}), {"card_lost", "card_lots"}, {"card_lost"})  # a known label
    []
    """
    out = []
    for label in sorted(given):
        if label in trained or counts.get(label, 0) > 1 or len(label) < 4:
            continue
        others = sorted(o for o in set(counts) | trained if o != label and (o in trained or counts[o] > counts[label]))
        close = next((o for o in others if _one_typo(label, o)), None)
        if close and spelling(close) != spelling(label):  # case alone: case_variants says it
            out.append({"label": label, "items": counts.get(label, 0), "close_to": close})
    return out


def _one_typo(a: str, b: str) -> bool:
    """One letter added, dropped, changed or two swapped, not a digit (v1_refund, v2_refund are two
    intents; so are lock_card and unlock_card, two letters apart: review).

    >>> [_one_typo(*p) for p in (("crpyto", "crypto"), ("cryto", "crypto"), ("intent_13", "intent_12"),
    ...                           ("lock_card", "unlock_card"), ("refund", "refund_not_received"))]
    [True, True, False, False, False]
    """
    if abs(len(a) - len(b)) > 1 or a == b:
        return False
    i = 0
    while i < min(len(a), len(b)) and a[i] == b[i]:
        i += 1
    j = 0
    while j < min(len(a), len(b)) - i and a[-1 - j] == b[-1 - j]:
        j += 1
    ra, rb = a[i:len(a) - j], b[i:len(b) - j]  # what differs between the common start and end
    if any(c.isdigit() for c in ra + rb):
        return False
    return len(ra) <= 1 and len(rb) <= 1 or (len(ra) == len(rb) == 2 and ra == rb[::-1])


def _label_rows(path: Path, id_col: str | None, label_col: str, intents: frozenset[str] = frozenset()
                ) -> tuple[dict[str, str], dict[str, list[int]], dict[str, tuple[int, str]]]:
    """The label of each id in ``path``, the line numbers of the rows skipped, by reason, and the line
    and text of each labelled id whose row has a text (``intents``: training labels such as 'None' that
    a label cell may be, as ``is_na_label`` reads them)."""
    kind = detect_format(path)  # an empty, binary or UTF-16 file is named as such
    rows = {"csv": _csv_labels, "jsonl": _jsonl_labels, "parquet": _parquet_labels}[kind](path, id_col, label_col)
    found: dict[str, list[tuple[int, str]]] = defaultdict(list)
    skipped: dict[str, list[int]] = defaultdict(list)
    for line, row in rows:
        if not isinstance(row, str) and isinstance(row["label"], str) and is_utf8(row["label"]):
            # in the form index add stores it, before it is checked: a zero-width space alone is blank, 'ＮＡ' is
            # NA (a full-width 'ｃrypto' kept as typed was never found in the index, so never marked trained)
            row = {**row, "label": label_form(row["label"])}
        reason = row if isinstance(row, str) else _skip_reason(row, intents)
        if reason:
            skipped[reason].append(line)
        else:
            found[row["id"]].append((line, row["label"].strip(), row.get("text")))
    labels, texts = {}, {}
    for pid, rows in found.items():
        if len({label for _, label, _ in rows}) > 1:
            skipped["conflicting_labels"] += [line for line, _, _ in rows]
        else:
            labels[pid] = rows[0][1]
            if isinstance(rows[0][2], str) and rows[0][2].strip():
                texts[pid] = (rows[0][0], rows[0][2])
            skipped["duplicate_id"] += [line for line, _, _ in rows[1:]]
    return labels, {reason: sorted(skipped[reason]) for reason in SKIP_REASONS if skipped.get(reason)}, texts


def _columns(path: Path, names: list[str], id_col: str | None, label_col: str) -> str:
    """The id column (``_id_key``), after checking both columns are there once."""
    wanted = _id_key(names, id_col)
    missing = [c for c in (wanted, label_col) if c not in names]
    if missing:
        raise InputError(f"{path}: needs the column{'s' * (len(missing) > 1)} {' and '.join(map(repr, missing))} "
                         f"(found {names}); name others with --id-col and --label-col")
    twice = sorted({c for c in (wanted, label_col) if names.count(c) > 1})
    if twice:  # a dict of the row would keep the last one's value, silently
        raise InputError(f"{path}: the header names {' and '.join(map(repr, twice))} more than once; "
                         "keep one of each")
    return wanted


def _id_key(names, id_col: str | None) -> str:
    """``id_col``, else 'id', else 'prompt_id' (as ``queue list --json`` calls it)."""
    return id_col or next((c for c in ("id", "prompt_id") if c in names), "id")


def _csv_labels(path: Path, id_col: str | None, label_col: str) -> Iterator[tuple[int, dict | str]]:
    sep = field_separator(path)  # a spreadsheet in a comma-decimal locale saves 'id;label'
    with open_text(path) as fh:  # gzip too; bytes that are not UTF-8 cost their row, not the file
        header, source = csv_table(fh, sep, path)
        key = _columns(path, header, id_col, label_col)
        for start, fields, _ in numbered_rows(source, sep):
            if isinstance(fields, str):
                yield start, "open_quote" if fields == OPEN_QUOTE else "malformed_csv"
            elif len(fields) > len(header):
                yield start, "extra_fields"
            else:
                row = dict(zip(header, fields + [None] * (len(header) - len(fields))))  # as csv.DictReader
                ident = unescaped(row[key])  # an export written with --escape-formulas, read back
                yield start, {"id": ident if ident is None else canonical_id(ident), "label": unescaped(row[label_col]),
                              "text": row.get("text")}


def _jsonl_labels(path: Path, id_col: str | None, label_col: str) -> Iterator[tuple[int, dict | str]]:
    """One object a line, as the batch-jsonl export writes them ({"id", "text", "label"}); a file where
    no object has the id or the label key is refused, as a CSV without the column."""
    keys: set[str] = set()
    for number, record, _ in jsonl_lines(path):
        if not isinstance(record, dict):  # invalid JSON (logs' reason), or a value that is no object
            yield number, "invalid_json"
            continue
        keys.update(map(str, record))
        yield number, _record(record.get(_id_key(record, id_col)), record.get(label_col), record.get("text"))
    if keys:  # every line unreadable says so by its rows; else a mistyped --label-col labelled nothing, exit 0
        _columns(path, sorted(keys), id_col, label_col)


def _parquet_labels(path: Path, id_col: str | None, label_col: str) -> Iterator[tuple[int, dict | str]]:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(parquet_source(path))
    except Exception as exc:  # pyarrow raises ArrowInvalid, OSError... for a bad file
        raise InputError(f"{path}: not a readable Parquet file ({exc})") from None
    key = _columns(path, table.column_names, id_col, label_col)
    texts = table.column("text").to_pylist() if "text" in table.column_names else [None] * table.num_rows
    for number, (pid, label, text) in enumerate(zip(table.column(key).to_pylist(),
                                                    table.column(label_col).to_pylist(), texts), start=1):
        yield number, _record(pid, label, text)


def _record(pid, label, text=None) -> dict | str:
    """An id and a label as a CSV row holds them: text, a whole number without '.0', a gap as blank."""
    if isinstance(pid, (dict, list)) or isinstance(label, (dict, list)):
        return "invalid_json"
    label = label_value(label)
    return {"id": "" if pid is None else canonical_id(pid), "label": "" if label is None else label,
            "text": text if isinstance(text, str) else None}


def _skip_reason(row: dict, intents: frozenset[str] = frozenset()) -> str | None:
    """Why a row cannot give a label (a key of ``SKIP_REASONS``), or None."""
    if row["id"] is None or row["label"] is None:
        return "short_row"
    if not (is_utf8(row["id"]) and is_utf8(row["label"])):
        return "not_utf8"
    if not row["id"].strip():
        return "blank_id"
    label = row["label"].strip()
    if not label:
        return "blank_label"
    if is_na_label(label, intents):
        return "not_labelled"
    return "label_line_break" if "\n" in label or "\r" in label else None


def _apply_labels(store: Store, labels: dict[str, str], unknown: list[str],
                  texts: dict[str, tuple[int, str]], mismatched: list[str]) -> Counter:
    """Label the queue items of ``labels`` whose label is new or changed; count what happened, the ids
    not in the queue in ``unknown``, those whose ``texts`` are not the queued prompt's in ``mismatched``."""
    stored = {pid: (status, label, text) for pid, status, label, text in
              store.db.execute("SELECT prompt_id, status, label, text FROM queue")}
    counts, updates, now = Counter(), [], utc_now()
    for given, label in labels.items():
        pid = given
        if pid not in stored and pid.strip() in stored:  # a spreadsheet's stray space around the id
            pid = pid.strip()
        status, old, text = stored.get(pid, (None, None, None))
        if status is not None and given in texts and not _same_text(texts[given][1], text):
            mismatched.append(given)
        elif status is None:
            unknown.append(pid)
        elif old is not None and label_form(old) == label and status in ("labelled", "trained"):  # (stored before
            # labels were normalised: 'cafe\u0301' then is 'café' now, no relabel)
            counts["unchanged"] += 1
        else:
            counts["labelled"] += 1
            counts["trained_relabelled"] += status == "trained"
            updates.append((label, now, pid))
    store.db.conn.executemany("UPDATE queue SET label = ?, status = 'labelled', updated_at = ? WHERE prompt_id = ?",
                              updates)
    return counts


def _same_text(given: str, queued: str | None) -> bool:
    """Whether a label file's text can be the queued prompt's: their words overlap by half or more, in
    NFKC form without case or punctuation and numbers without leading zeros, so what a spreadsheet or a
    Mac does to a prompt (spaces, line breaks, a formula's apostrophe, NFD accents, 0012 as 12) and a
    redacted address still match; a text of fewer than three words is not judged. A label written for
    another prompt under the same id (another database's file) shares few words.

    >>> _same_text("'=1+1  is\\r\\nFINE ok", "=1+1 is\\nfine ok"), _same_text("mail jo at [EMAIL] now", "mail jo at jo@x.io now")
    (True, True)
    >>> _same_text("hello how to unlock my pin", "how do I buy crypto with my card"), _same_text("12", "0012")
    (False, True)
    """
    if queued is None:
        return True
    words = [_words(given), _words(queued)]
    if min(len(w) for w in words) < 3:
        return True
    return len(words[0] & words[1]) / len(words[0] | words[1]) >= 0.5


def _words(text: str) -> set[str]:
    found = re.findall(r"\w+", unicodedata.normalize("NFKC", text).casefold())
    return {w.lstrip("0") or "0" if w.isdigit() else w for w in found}


def mark_trained(db: str | Path, index: "str | Path | PromptIndex | None" = None,
                 index_dir: str | Path | None = None) -> int:
    """After ``novelty index add`` (or fine-tuning) took the labelled items: mark them trained.

    With ``index``, only the labelled items that index holds, text and label alike: an item labelled
    after the file for ``index add`` was exported (or relabelled since) stays labelled, to go in next
    time. Without it, every labelled item (a fine-tuning run elsewhere took them all)."""
    labelled = items(db, "labelled")
    if index is not None:
        from .index import PromptIndex

        held = (index if isinstance(index, PromptIndex) else PromptIndex.load(index, index_dir)).prompts
        labels = [None if lab is None else str(lab).strip() for lab in held["label"]]
        by_id = set(zip(held["id"].astype(str), labels))  # the export writes the queue's id as the index's
        by_text = {(csv_cell(str(t)).strip(), lab) for t, lab in zip(held["text"], labels)}
        labelled = [r for r in labelled if (r["prompt_id"], str(r["label"]).strip()) in by_id
                    or (csv_cell(str(r["text"])).strip(), str(r["label"]).strip()) in by_text]
    ids = [r["prompt_id"] for r in labelled]
    _set_status(db, ids, "trained")
    return len(ids)


def _set_status(db, ids: list[str], status: str) -> None:
    store = _open(db)
    try:
        store.transaction(lambda: store.db.conn.executemany(
            "UPDATE queue SET status = ?, updated_at = ? WHERE prompt_id = ?", [(status, utc_now(), i) for i in ids]))
    finally:
        store.close()


def _check_status(status: str | None) -> None:
    if status is not None and status not in STATUSES:
        raise InputError(f"--status takes {', '.join(STATUSES)}, not {status!r}")


def _jsonl_line(record: dict) -> str:
    """One JSON line, one line under str.splitlines() too: U+0085, U+2028 and U+2029 escaped."""
    text = json.dumps(record, ensure_ascii=False)
    for char, escape in _LINE_BREAKS.items():
        text = text.replace(char, escape)
    return text + "\n"


def logged_sources(db) -> list[str]:
    """The logs the database's runs scored: an export must not write over one (-o logs/2026-11-23.jsonl)."""
    store = _open(db)
    try:
        return store.logged_sources()
    finally:
        store.close()


def _open(db) -> Store:
    existing_db(db)
    return Store(db)


class _Nothing(Exception):
    """No candidate at all, and why."""


def _candidates(store: Store, cluster, max_p_value, incident) -> list[dict]:
    base = "SELECT s.prompt_id, s.text, s.text_hash, s.predicted_label FROM scores s "
    if cluster == "all":  # farthest-point sampling over the union spreads the budget over the clusters
        rows = list(store.db.query(
            "SELECT s.prompt_id, s.text, s.text_hash, s.predicted_label, 'cluster:' || m.cluster_id AS source "
            "FROM scores s JOIN cluster_members m USING (prompt_id) ORDER BY m.cluster_id, s.prompt_id"))
        if not rows:
            stored = store.db.execute("SELECT COUNT(*) FROM clusters").fetchone()[0]
            novel = store.db.execute("SELECT 1 FROM scores WHERE is_novel = 1 LIMIT 1").fetchone()
            raise _Nothing(f"the {stored} stored clusters have no prompts left (pruned); run `novelty clusters` "
                           "on recent prompts" if stored else "no clusters stored: `novelty clusters` has not run, "
                           "or found too few novel prompts to group" if novel else
                           "no prompt was flagged novel, so there are no clusters to add")
        return rows
    if cluster:
        rows = list(store.db.query(base + "JOIN cluster_members m USING (prompt_id) WHERE m.cluster_id = ?", [cluster]))
        if not rows:
            stored = store.db.execute("SELECT 1 FROM clusters WHERE cluster_id = ?", [cluster]).fetchone()
            raise InputError(f"cluster {cluster!r} has no prompts left: prune deleted them, or a later "
                             "`novelty clusters` run regrouped them (see `novelty clusters`)" if stored else
                             f"no cluster {cluster!r} (run `novelty clusters` first)")
        return rows
    if incident:
        found = store.db.execute("SELECT window_start, window_end, kind FROM incidents WHERE incident_id = ?",
                                 [incident]).fetchone()
        if not found:
            raise InputError(f"no incident {incident!r} (see `novelty spikes --json`)")
        rows = list(store.db.query(base + "WHERE is_novel = 1 AND ts >= ? AND ts < ?",
                                   [sql_bound(t) for t in found[:2]]))
        if not rows:
            raise InputError(f"incident {incident!r} ({found[2]}, {found[0]} to {found[1]}) has no novel prompts "
                             "stored in its window" + (": prune deleted them" if found[2] == "label_bias" else ""))
        return rows
    return list(store.db.query(base + "WHERE p_value <= ?", [max_p_value]))


def _pick(hashes: list[str], vectors: np.ndarray, queued_hashes: set[str], queued: np.ndarray, threshold: float,
          budget: int) -> tuple[list[int], int]:
    """Up to ``budget`` indices by greedy farthest-point sampling: each pick is the candidate least like
    those queued or picked, so the labels cover the whole topic rather than its most common phrasing;
    picking stops when the least alike is a near-duplicate (cosine >= ``threshold``) of one of them. A
    text queued or met before is not a candidate (float16 storage puts two copies of a text a shade
    under cosine 1, so ``threshold`` 1 alone would keep them). Also returned: how many candidates are
    near-duplicates of what is queued or picked, copies of a text included.

    Each pick compares once with every candidate: budget x candidates. (Removing every near-duplicate
    first, then sampling, compared each candidate with every one kept: 300,000 distinct prompts ran
    for more than 15 minutes.)

    >>> _pick(["a", "b", "c", "a"], np.eye(4, 3, dtype=np.float32), set(), np.zeros((0, 3), np.float32), 0.95, 2)
    ([0, 1], 1)
    """
    first: dict[str, int] = {}
    distinct = [i for i, h in enumerate(hashes) if h not in queued_hashes and first.setdefault(h, i) == i]
    candidates = vectors[distinct]
    closest = np.full(len(candidates), -np.inf, np.float32)
    step = max(1, (1 << 25) // max(1, len(queued)))  # candidates a block: 128 MB of cosines, not 12 GB at once
    for start in range(0, len(candidates) if len(queued) else 0, step):
        closest[start:start + step] = (candidates[start:start + step] @ queued.T).max(axis=1)
    picked: list[int] = []
    while len(picked) < min(budget, len(candidates)):
        nxt = int(np.argmin(closest)) if picked or len(queued) else 0
        if closest[nxt] >= threshold:
            break
        picked.append(nxt)
        np.maximum(closest, candidates @ candidates[nxt], out=closest)
        closest[nxt] = np.inf  # picked (its own cosine, from float16, can be a shade under 1)
    near = int((closest[np.isfinite(closest)] >= threshold).sum())  # picked ones are inf
    return [distinct[i] for i in picked], near + len(hashes) - len(distinct)
