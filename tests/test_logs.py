import gzip
import json

import pandas as pd
import pytest

from novelty.errors import InputError, MissingColumnError
from novelty.logs import Columns, detect_format, format_time, read_batches

from conftest import write_csv, write_jsonl

COLS = Columns()


def read_all(path, columns=COLS, **kw):
    batches = list(read_batches(path, columns, **kw))
    rows = [(line, text) for b in batches for line, text in zip(b.lines, b.texts)]
    rejects = [r for b in batches for r in b.rejects]
    return batches, rows, rejects


def test_jsonl_bad_rows_are_set_aside_with_a_reason_and_nothing_is_lost(tmp_path):
    path = tmp_path / "log.jsonl"
    lines = [
        json.dumps({"prompt": "where is my card", "timestamp": "2026-11-25T08:00:00Z"}),
        '{"prompt": "truncated',
        "not json at all",
        json.dumps(["a", "list"]),
        json.dumps({"prompt": "", "timestamp": "2026-11-25T08:00:00Z"}),
        json.dumps({"prompt": 42, "timestamp": "2026-11-25T08:00:00Z"}),
        json.dumps({"text": "wrong key", "timestamp": "2026-11-25T08:00:00Z"}),
        json.dumps({"prompt": "x" * 1_000_000, "timestamp": "2026-11-25T08:00:00Z"}),
        json.dumps({"prompt": "no time", "timestamp": None}),
        json.dumps({"prompt": "bad time", "timestamp": "next tuesday"}),
        json.dumps({"prompt": "lone surrogate \ud800", "timestamp": "2026-11-25T08:00:00Z"}),
        json.dumps({"prompt": "fine too", "timestamp": 1764057600}),
    ]
    path.write_text("\n".join(lines) + "\n\n")
    _, rows, rejects = read_all(path)
    assert [text for _, text in rows] == ["where is my card", "fine too"]
    assert len(rows) + len(rejects) == len(lines)
    reasons = {r.line: r.reason for r in rejects}
    assert reasons[2].startswith("invalid JSON") and reasons[3].startswith("invalid JSON")
    assert "column" not in reasons[2]  # no position: alike lines are one reason in the summary (were one each)
    assert reasons[4] == "row is not a JSON object"
    assert reasons[5] == "'prompt' is empty"
    assert reasons[6] == "'prompt' is not text (got int)"
    assert reasons[7] == "no 'prompt' field"
    assert "over the 20,000 limit" in reasons[8]
    assert reasons[9] == "no timestamp in 'timestamp'"
    assert reasons[10].startswith("unreadable timestamp")
    assert reasons[11].startswith("'prompt' holds half of a character")  # a JSON escape, not a Latin-1 file
    assert next(r for r in rejects if r.line == 2).raw == '{"prompt": "truncated'


def test_an_id_or_label_that_is_a_json_object_or_list_is_set_aside(tmp_path):
    path = write_jsonl(tmp_path / "log.jsonl", [
        {"prompt": "a", "timestamp": "2026-11-25T08:00:00Z", "predicted_label": {"x": 1}, "id": "r1"},
        {"prompt": "b", "timestamp": "2026-11-25T08:00:00Z", "predicted_label": "card", "id": [1, 2]},
        {"prompt": "c", "timestamp": "2026-11-25T08:00:00Z", "predicted_label": 3, "id": 7}])
    _, rows, rejects = read_all(path, Columns(id="id"), training=True)
    assert [text for _, text in rows] == ["c"]  # a number is a label or an id written as one
    assert [r.reason for r in rejects] == ["'predicted_label' is a JSON object, not a label",
                                           "'id' is a JSON list, not an id"]
    top_k = write_jsonl(tmp_path / "topk.jsonl", [  # a log's top-k predictions: scored, the first is the label
        {"prompt": "a", "timestamp": "2026-11-25T08:00:00Z", "predicted_label": ["card", "fees"], "id": "r1"},
        {"prompt": "b", "timestamp": "2026-11-25T08:00:00Z", "predicted_label": {"x": 1}, "id": "r2"},
        # a text-classification pipeline's output, and one of its labels alone: the label (was: none)
        {"prompt": "c", "predicted_label": [{"label": "fees", "score": 0.9}, {"label": "card", "score": 0.1}]},
        {"prompt": "d", "predicted_label": {"Intent": "card", "confidence": 0.8}},
        {"prompt": "e", "predicted_label": {"label": "a", "intent": "b"}},  # which? none
        {"prompt": "f", "predicted_label": {"label": {"name": "a"}}}, {"prompt": "g", "predicted_label": [[]]},
        {"prompt": "h", "predicted_label": [{"label": "a", "score": 0.1}, {"label": "b", "score": 0.9}]}])
    batches, rows, rejects = read_all(top_k, Columns(id=None, time=None))
    assert len(rows) == 8 and not rejects  # was: both rejected, a day of them a missing log for run
    # a label object naming its label ('name', as Rasa's intent does) is read since QA found Rasa's NULL
    assert [label for b in batches for label in b.labels] == ["card", None, "fees", "card", None, "a", None, "b"]
    assert [b.unread_labels for b in batches] == [3]  # {"x": 1}, two label keys, [[]]: said by score
    as_text = tmp_path / "topk.csv"  # the same output held as JSON text by a CSV cell: was stored whole
    as_text.write_text('prompt,predicted_label\na,"[{""label"": ""fees"", ""score"": 0.9}]"\nb,"[""card"", ""fees""]"\n'
                       'c,[x]\nd,"{""intent"": ""card""}"\n')
    batches, rows, rejects = read_all(as_text, Columns(id=None, time=None))
    assert [label for b in batches for label in b.labels] == ["fees", "card", "[x]", "card"] and not rejects


def test_non_utf8_bytes_are_rejected_with_raw_content_kept(tmp_path):
    path = tmp_path / "log.jsonl"
    path.write_bytes(b'{"prompt": "caf\xe9 card"}\n{"prompt": "ok"}\n')
    _, rows, rejects = read_all(path, Columns(time=None))
    assert [t for _, t in rows] == ["ok"]
    assert rejects[0].reason.startswith("'prompt' is not valid UTF-8 (saved as Latin-1") and "caf\ufffd card" in rejects[0].raw


def test_last_line_without_newline_and_bom_are_read(tmp_path):
    path = tmp_path / "log.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"prompt": "a"}\n{"prompt": "b"}')
    _, rows, rejects = read_all(path, Columns(time=None))
    assert rows == [(1, "a"), (2, "b")] and not rejects


def test_csv_with_wrong_field_counts_and_multiline_quotes(tmp_path):
    path = tmp_path / "log.csv"
    path.write_text('prompt,timestamp\n"two\nlines",2026-11-25\nthree,fields,here\nok,2026-11-25\n')
    _, rows, rejects = read_all(path)
    assert rows == [(2, "two\nlines"), (5, "ok")]
    assert rejects[0].line == 4 and rejects[0].reason == "expected 2 fields, got 3"
    assert rejects[0].raw == "three,fields,here"


def test_missing_column_names_the_columns_found_and_the_flag(tmp_path):
    path = write_csv(tmp_path / "log.csv", ["text", "ts"], [["hi", "2026-11-25"]])
    with pytest.raises(MissingColumnError, match=r"no column 'prompt'.*Columns found: text, ts.*--text-col"):
        read_all(path)


def test_an_explicitly_asked_optional_column_must_exist(tmp_path):
    path = write_csv(tmp_path / "log.csv", ["prompt"], [["hi"]])
    assert read_all(path)[1] == [(2, "hi")]  # default time column absent: fine
    with pytest.raises(MissingColumnError, match="--time-col"):
        read_all(path, Columns(time="when", required=frozenset({"time"})))


def test_text_that_begins_like_an_archive_is_read_as_text(tmp_path):
    """Review: a CSV headed 'BZh_id' was refused as bzip2, and a JSONL with 'custard' at byte 256 as a tar."""
    from novelty.logs import detect_format

    (tmp_path / "a.csv").write_text("BZh_id,prompt\n1,where is my card\n")
    (tmp_path / "b.jsonl").write_text(json.dumps({"prompt": "x" * 245 + " custard pie"}) + "\n")
    assert detect_format(tmp_path / "a.csv") == "csv" and detect_format(tmp_path / "b.jsonl") == "jsonl"


def test_a_spreadsheet_is_asked_for_as_csv_and_an_unpack_command_is_quoted(tmp_path):
    """Review: an .xlsx (a zip) was told to 'unzip' itself, and a path with a space broke the command."""
    import zipfile

    with zipfile.ZipFile(tmp_path / "train.xlsx", "w") as z:
        z.writestr("xl/workbook.xml", "<workbook/>" * 50)
    with pytest.raises(InputError, match="is a spreadsheet file, not a CSV: save it as CSV"):
        read_all(tmp_path / "train.xlsx")
    (tmp_path / "my log.jsonl.bz2").write_bytes(__import__("bz2").compress(b'{"prompt": "hi"}\n' * 50))
    with pytest.raises(InputError, match="bunzip2 -k '.*my log.jsonl.bz2'"):
        read_all(tmp_path / "my log.jsonl.bz2")


@pytest.mark.parametrize("content, message", [
    (b"", "is empty"),
    (b"\x00\x01\x02binary\xff" * 10, "binary"),
    ("prompt\thi\n".encode("utf-16"), "is UTF-16 text .* iconv -f UTF-16"),  # was: 'looks like a binary file'
    ('{"prompt": "hi"}\n'.encode("utf-16-le"), "is UTF-16 text"),  # without a byte-order mark
    (bytes.fromhex("28b52ffd2000b90000") + b"\x00\xff" * 20, "is zstd-compressed, which novelty does not read "
     r"\(gzip it is\): unpack it first, e.g. zstd -d"),  # QA: was 'looks like a binary file'
    (__import__("bz2").compress(b'{"prompt": "hi"}\n' * 50), "is bzip2-compressed.* bunzip2 -k"),
    (__import__("lzma").compress(b'{"prompt": "hi"}\n' * 50), "is xz-compressed.* unxz -k"),
    (b"7z\xbc\xaf\x27\x1c\x00\x04" + b"prompt,hi\n" * 20, "is a 7-Zip archive.* 7z x"),  # re-test: 'save as UTF-8'
    (bytes.fromhex("28b52ffd") + b"prompt,hi there\n" * 20, "is zstd-compressed"),  # no NUL in a fast frame (review)
    (b"log.jsonl".ljust(257, b"\x00") + b"ustar\x0000" + b'{"prompt": "hi"}\n' * 20, "is a tar archive.* tar -xf"),
])
def test_whole_file_problems_are_input_errors(tmp_path, content, message):
    path = tmp_path / "log.jsonl"
    path.write_bytes(content)
    with pytest.raises(InputError, match=message):
        read_all(path)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        read_all(tmp_path / "nope.jsonl")
    with pytest.raises(InputError, match="is a folder"):
        read_all(tmp_path)


def test_gzip_jsonl_tsv_and_parquet(tmp_path):
    records = [{"prompt": f"p{i}", "timestamp": "2026-11-25T00:00:00Z"} for i in range(5)]
    gz = tmp_path / "log.jsonl.gz"
    with gzip.open(gz, "wt") as fh:
        fh.write("\n".join(json.dumps(r) for r in records))
    tsv = tmp_path / "log.tsv"
    tsv.write_text("prompt\ttimestamp\n" + "".join(f"p{i}\t2026-11-25\n" for i in range(5)))
    parquet = tmp_path / "log.parquet"
    frame = pd.DataFrame(records)
    frame["timestamp"] = pd.to_datetime(frame["timestamp"])
    frame.loc[2, "prompt"] = None
    frame.to_parquet(parquet)
    for path, expected in [(gz, 5), (tsv, 5), (parquet, 4)]:
        _, rows, rejects = read_all(path)
        assert len(rows) == expected and len(rows) + len(rejects) == 5, path


def test_broken_gzip_is_an_input_error(tmp_path):
    path = tmp_path / "log.jsonl.gz"
    path.write_bytes(b"\x1f\x8b\x08garbage")
    with pytest.raises(InputError, match="gzip"):
        read_all(path)


def test_chunks_bound_the_batch_size_and_keep_every_row(tmp_path):
    records = [{"prompt": f"p{i}"} if i % 7 else "bad" for i in range(100)]
    path = write_jsonl(tmp_path / "log.jsonl", records)
    batches, rows, rejects = read_all(path, Columns(time=None), chunk_rows=10)
    assert len(batches) == 10 and all(len(b) + len(b.rejects) <= 10 for b in batches)
    assert len(rows) + len(rejects) == 100 and len(rejects) == 15


@pytest.mark.parametrize("value, expected", [
    ("2026-11-25T08:00:00+01:00", "2026-11-25T07:00:00Z"),
    ("2026-11-25 08:00:00.250", "2026-11-25T08:00:00.250000Z"),
    (1764057600, "2025-11-25T08:00:00Z"),
    (1764057600123, "2025-11-25T08:00:00.123000Z"),
    ("now", None), (True, None), ("", None), ("32/13/2026", None),
    # outside 1990-2099: an unset default, a unit mix-up, or no date pandas can print (used to crash)
    (0, None), ("1970-01-01T00:00:00Z", None), ("0000-01-01T00:00:00Z", None), ("0000-01-01", None),
    (-99999999999999, None), ("-0100-01-01", None), ("2100-01-01", None), ("1990-01-01", "1990-01-01T00:00:00Z"),
])
def test_format_time(value, expected):
    assert format_time(value) == expected


def test_jsonl_columns_come_from_every_object_of_the_first_batch_not_the_first_line(tmp_path):
    # a first object without a timestamp or label (or a heartbeat without a prompt) used to decide the
    # columns for the whole file: later rows lost their time and label, or the file was refused
    path = write_jsonl(tmp_path / "log.jsonl", [
        {"event": "heartbeat"}, {"prompt": "hi"},
        {"prompt": "check balance", "timestamp": "2026-11-20T01:00:00Z", "predicted_label": "balance"}])
    batches, rows, rejects = read_all(path)
    assert [r.reason for r in rejects] == ["no 'prompt' field", "no timestamp in 'timestamp'"]
    assert rows == [(3, "check balance")]
    assert (batches[0].times, batches[0].labels) == (["2026-11-20T01:00:00Z"], ["balance"])
    with pytest.raises(MissingColumnError, match="no column 'prompt'"):  # no object has it: the file is wrong
        read_all(write_jsonl(tmp_path / "none.jsonl", [{"text": "hi"}, {"text": "yo"}]))


def test_a_jsonl_key_first_met_after_the_header_rows_counts_from_there(tmp_path, monkeypatch):
    import novelty.logs as logs

    monkeypatch.setattr(logs, "HEADER_ROWS", 1)
    path = write_jsonl(tmp_path / "log.jsonl", [{"prompt": "a"}, {"prompt": "b", "timestamp": "2026-11-20"},
                                                {"prompt": "c"}])
    batches, rows, rejects = read_all(path, chunk_rows=1)
    assert rows == [(1, "a"), (2, "b")] and [r.line for r in rejects] == [3]
    assert [t for b in batches for t in b.times] == [None, "2026-11-20T00:00:00Z"]


def test_a_jsonl_event_log_whose_first_prompt_comes_after_the_header_rows_is_read(tmp_path, monkeypatch):
    # QA: 5,000 heartbeat events before the first prompt refused the whole log as "no column 'prompt'"
    import novelty.logs as logs

    monkeypatch.setattr(logs, "HEADER_ROWS", 2)
    events = [{"event": "heartbeat", "timestamp": "2026-11-20T00:00:00Z"}] * 3
    path = write_jsonl(tmp_path / "events.jsonl", events + [{"prompt": "a", "timestamp": "2026-11-20T01:00:00Z"}])
    batches, rows, rejects = read_all(path)
    assert rows == [(4, "a")] and [r.line for r in rejects] == [1, 2, 3]
    assert [t for b in batches for t in b.times] == ["2026-11-20T01:00:00Z"]
    with pytest.raises(MissingColumnError, match="no column 'prompt'"):  # none at all: still the file's error
        read_all(write_jsonl(tmp_path / "none.jsonl", events))


@pytest.mark.parametrize("chunk_rows", [1, 5, 5000])
def test_what_a_jsonl_row_without_a_time_becomes_does_not_depend_on_chunk_rows(tmp_path, chunk_rows):
    # 12 rows without a time before 3 with one: rejected at 5,000 rows a chunk, scored untimed at 5
    path = write_jsonl(tmp_path / "log.jsonl", [{"prompt": f"q {i}"} for i in range(12)]
                       + [{"prompt": f"t {i}", "timestamp": "2026-11-20"} for i in range(3)])
    _, rows, rejects = read_all(path, chunk_rows=chunk_rows)
    assert [line for line, _ in rows] == [13, 14, 15] and len(rejects) == 12


def test_out_of_range_timestamps_are_rejected_with_a_reason(tmp_path):
    path = write_jsonl(tmp_path / "log.jsonl", [{"prompt": "x", "timestamp": "0000-01-01T00:00:00Z"},
                                                {"prompt": "y", "timestamp": 0},
                                                {"prompt": "z", "timestamp": "2026-11-20"}])
    _, rows, rejects = read_all(path)
    assert rows == [(3, "z")]
    assert "outside 1990-2099" in rejects[0].reason and "is 1970-01-01" in rejects[1].reason


def test_detect_format_closes_the_file_it_sniffs(tmp_path):
    import gc
    import warnings

    log = tmp_path / "a.jsonl"
    log.write_text('{"prompt": "hi"}\n')
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        assert detect_format(log) == "jsonl"
        gc.collect()
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)]


def test_day_and_month_are_read_in_one_order_for_every_row(tmp_path):
    path = tmp_path / "dmy.csv"
    path.write_text("prompt,timestamp\na,06/03/2026 10:00\nb,13/03/2026 10:00\nc,12/03/2026 23:00\n"
                    "d,06.03.2026 10:00\ne,31-12-2026\n")
    assert [format_time(v) for v in ("06.03.2026, 10:00:00", "13/03/2026, 10:00", "06.03.2026\t10:00")] == [
        "2026-03-06T10:00:00Z", None, "2026-03-06T10:00:00Z"]  # was June 3, March 13 and June 3: pandas again
    batches = list(read_batches(path, Columns(text="prompt")))
    times = dict(zip([t for b in batches for t in b.texts], [t for b in batches for t in b.times]))
    # was: 06/03 June 3 and 13/03 March 13 in the same file, and 06.03 June 3 too
    assert times == {"a": "2026-06-03T10:00:00Z", "c": "2026-12-03T23:00:00Z", "d": "2026-03-06T10:00:00Z",
                     "e": "2026-12-31T00:00:00Z"}
    (reject,) = [r for b in batches for r in b.rejects]
    assert reject.line == 3 and "does not read as month/day/year" in reject.reason and "ISO 8601" in reject.reason


def test_a_quote_left_open_costs_its_own_line_not_the_rest_of_the_file(tmp_path):
    path = tmp_path / "bad.csv"
    rows = [f"row {i},2026-03-06T10:{i:02d}:00Z" for i in range(50)]
    path.write_text("\n".join(["prompt,timestamp", "hello,2026-03-06T09:00:00Z",
                               '"unterminated quote about fees,2026-03-06T09:01:00Z', *rows,
                               '"two\nlines",2026-03-06T11:00:00Z', '"fine, quoted",2026-03-06T11:01:00Z']) + "\n")
    _, read, rejects = read_all(path)
    assert len(read) == 53 and read[1] == (4, "row 0") and read[-2:] == [(54, "two\nlines"), (56, "fine, quoted")]
    (reject,) = rejects  # was: 1 row read and one reject holding the 50 rows after it
    assert reject.line == 3 and "quote left open" in reject.reason and reject.raw.startswith('"unterminated')


def test_a_quoted_line_break_in_a_row_of_the_wrong_length_is_one_reject_not_a_row_per_line(tmp_path):
    path = tmp_path / "log.csv"
    path.write_text('prompt,timestamp,extra\n"first line\nrefund my card,2026-03-06T09:00:00Z\nthird"\n'
                    'fine,2026-03-06T09:01:00Z,x\n')
    _, read, rejects = read_all(path)
    assert read == [(5, "fine")]  # was: 'refund my card' scored as a row of its own, from inside a quote
    (reject,) = rejects
    assert reject.line == 2 and reject.reason == "expected 3 fields, got 1"


def test_predicted_labels_are_stored_as_training_labels_are_written(tmp_path):
    path = tmp_path / "log.jsonl"
    path.write_text('{"prompt": "a", "predicted_label": 1.0}\n{"prompt": "b", "predicted_label": NaN}\n'
                    '{"prompt": "c", "predicted_label": "NA"}\n{"prompt": "d", "predicted_label": " card "}\n'
                    '{"prompt": "e", "predicted_label": 2}\n')
    batches = list(read_batches(path, Columns(time=None)))
    # was: '1.0' against the training label '1', and a JSON NaN stored as the label 'nan'; the word 'NA' is
    # a label as written ('None' is an intent of its own in LUIS)
    assert [label for b in batches for label in b.labels] == ["1", None, "NA", "card", "2"]


def test_an_intent_named_none_stays_a_label_in_training_files(tmp_path):
    from novelty.index import read_training

    path = tmp_path / "train.csv"
    path.write_text("text,label\nbook me a flight,book_flight\nwhat is the weather,None\nhello there,null\n")
    training = read_training(path, Columns(text="text", time=None, label="label"))
    assert list(training.labels) == ["book_flight", "None"]  # was: the LUIS 'None' intent lost
    # 'null' says 'not labelled yet', as queue import and feedback read it: set aside, with why (was an intent)
    assert [(r.line, r.reason.split(",")[0]) for r in training.rejects] == [(4, "'label' is 'null'")]


@pytest.mark.parametrize("late", [False, True])
def test_a_stray_nul_sets_its_row_aside_wherever_it_is(tmp_path, late):
    # one NUL in the first 8 KB refused the whole file as binary; one after it was stored in the text
    rows = [[f"row {i} text"] for i in range(3000 if late else 2)]
    rows[-1 if late else 0] = ["hello\x00 there"]
    path = write_csv(tmp_path / "log.csv", ["prompt"], rows)
    _, kept, rejects = read_all(path)
    assert [r.reason for r in rejects] == ["'prompt' holds a NUL character (binary data or a damaged line?)"]
    assert len(kept) == len(rows) - 1


def test_padded_header_names_are_read_without_their_spaces(tmp_path):
    # ' prompt , timestamp' was "no column 'prompt'", listing the columns with invisible spaces
    path = tmp_path / "log.csv"
    path.write_text(" prompt , timestamp \nhello there,2026-11-20T10:00:00Z\n", encoding="utf-8")
    batches, rows, rejects = read_all(path)
    assert rows == [(2, "hello there")] and batches[0].times == ["2026-11-20T10:00:00Z"] and not rejects


def test_a_rejected_csv_row_keeps_its_text_as_written(tmp_path):
    # raw was rebuilt from the fields: '"x"y,z' was kept as 'xy,z', a quoted line break without its quotes
    path = tmp_path / "log.csv"
    path.write_text('prompt,extra\n"x"y,z,surplus\n"multi\nline",ok,more\nfine,row\n', encoding="utf-8")
    _, rows, rejects = read_all(path)
    assert [r.raw for r in rejects] == ['"x"y,z,surplus', '"multi\nline",ok,more'] and rows == [(5, "fine")]


def test_the_jsonl_header_pass_holds_no_rows(tmp_path, monkeypatch):
    # review: the first 5,000 objects were held whole before the first chunk (5,000 rows of 100 KB: 1 GB);
    # only their keys are kept now, and the first chunk comes after its own rows are read
    import novelty.logs as logs

    monkeypatch.setattr(logs, "HEADER_ROWS", 3)
    read = []

    def counted(path, columns, validator):
        for record in logs.jsonl_lines(path):
            read.append(record[0])
            yield record

    monkeypatch.setattr(logs, "_jsonl_records", counted)
    path = write_jsonl(tmp_path / "l.jsonl", [{"prompt": f"row {i}", **({"timestamp": "2026-11-20"} if i == 2 else {})}
                                              for i in range(6)])
    batches = read_batches(path, COLS, chunk_rows=1)
    first = next(batches)
    assert read == [1] and first.rejects[0].reason == "no timestamp in 'timestamp'"  # the key met in the first 3
    assert [line for b in [first, *batches] for line in b.lines] == [3]


def test_default_columns_spelt_otherwise_are_read(tmp_path):
    # found by QA: 'Timestamp' and 'Predicted_Label' were silently left out (every time and label NULL)
    path = tmp_path / "caps.csv"
    path.write_text("Prompt,Timestamp,Predicted Label\nwhere is my card,2026-11-27T10:00:00Z,card_arrival\n")
    (batch,) = read_batches(path, Columns())
    assert batch.texts == ["where is my card"] and batch.times == ["2026-11-27T10:00:00Z"]
    assert batch.labels == ["card_arrival"]
    both = tmp_path / "both.csv"  # two alike: neither is guessed
    both.write_text("prompt,Timestamp,TIMESTAMP\nhi,2026-11-27T10:00:00Z,2026-11-28T10:00:00Z\n")
    assert next(read_batches(both, Columns())).times == [None]
    with pytest.raises(InputError, match="no column 'timestamp'"):  # a column named on purpose keeps its name
        next(read_batches(path, Columns(required=frozenset({"time"}))))


@pytest.mark.parametrize("kind", ["jsonl", "csv"])
def test_a_log_cut_while_it_is_read_says_so_after_the_rows_read(tmp_path, kind):
    rows = [{"prompt": f"question number {i} about my card", "timestamp": "2026-11-20T10:00:00Z"} for i in range(5000)]
    path = (write_jsonl if kind == "jsonl" else lambda p, r: write_csv(p, ["prompt", "timestamp"],
            [(x["prompt"], x["timestamp"]) for x in r]))(tmp_path / f"live.{kind}", rows)
    batches = read_batches(path, Columns(), chunk_rows=100)
    got = len(next(batches))
    with path.open("r+") as fh:  # logrotate copytruncate: copied away, then cut to nothing
        fh.truncate(0)
    with pytest.raises(InputError, match="got shorter while it was read.*copytruncate"):
        for batch in batches:  # was: the read buffer's rows, then a silent end (exit 0, most rows never read)
            got += len(batch)
    assert 0 < got < 5000  # the rows read before the cut were handed out
    renamed = write_jsonl(tmp_path / "renamed.jsonl", rows)
    batches = read_batches(renamed, Columns(), chunk_rows=100)
    got = len(next(batches))
    renamed.rename(tmp_path / "renamed.jsonl.1")  # logrotate's default: the open file is read to its end
    write_jsonl(renamed, rows[:10])
    assert got + sum(len(b) for b in batches) == 5000


def test_a_json_nan_label_in_a_training_file_is_a_gap_not_a_rejected_row(tmp_path):
    """Review: NaN became the text 'nan', which the not-labelled-yet check set aside."""
    from novelty.index import read_training

    path = tmp_path / "train.jsonl"
    path.write_text('{"text": "hello there", "label": NaN}\n{"text": "book a flight", "label": "book_flight"}\n'
                    '{"text": "weather today", "label": "nan"}\n')
    training = read_training(path, Columns(text="text", time=None, label="label"))
    assert list(training.labels) == [None, "book_flight"] and [r.line for r in training.rejects] == [3]


def test_a_header_repeated_by_cat_is_set_aside_not_read_as_a_row(tmp_path):
    # QA: `cat a.csv b.csv` scored a prompt 'prompt' predicted 'predicted_label' (flagged novel), and
    # index build learnt a prompt 'text' of a new intent 'label'
    one = "prompt,predicted_label\nwhere is my card,card\n"
    path = tmp_path / "joined.csv"
    path.write_text(one + one.replace("where is my card", "reset my pin"))
    _, rows, rejects = read_all(path, Columns(time=None))
    assert [text for _, text in rows] == ["where is my card", "reset my pin"]
    assert [(r.line, r.reason) for r in rejects] == [(3, "the header again (files joined with cat?)")]
    bom = tmp_path / "joined-bom.csv"  # review: files Excel or pandas' utf-8-sig wrote each begin with a BOM
    bom.write_bytes(("\ufeff" + one + "\ufeff" + one).encode("utf-8"))
    assert [(r.line, r.reason) for r in read_all(bom, Columns(time=None))[2]] == [
        (3, "the header again (files joined with cat?)")]
    (tmp_path / "one.csv").write_text("prompt\nprompt\n")  # one column: a prompt may say its name
    assert [text for _, text in read_all(tmp_path / "one.csv", Columns(time=None))[1]] == ["prompt"]


def test_init_sniffs_no_time_column_from_a_name_alone_and_reads_parquet_by_its_first_rows(tmp_path):
    # review: a 'time' column of latencies was taken as the timestamp (every row rejected by run), and a
    # Parquet log was read whole to sniff 50 rows
    from novelty.starter import sniff_columns

    rows = [{"prompt": f"where is my card {i}", "time": 0.25 + i / 10, "created_at": f"2026-11-20T10:{i:02d}:00Z"}
            for i in range(60)]
    write_jsonl(tmp_path / "day.jsonl", rows)
    assert sniff_columns(tmp_path / "day.jsonl")["time"] == "created_at"
    pd.DataFrame(rows).to_parquet(tmp_path / "day.parquet", row_group_size=20)
    assert sniff_columns(tmp_path / "day.parquet") == {"text": "prompt", "time": "created_at"}
    native = pd.DataFrame(rows).assign(created_at=lambda f: pd.to_datetime(f.created_at))  # review: a Parquet
    native.to_parquet(tmp_path / "native.parquet")  # timestamp column was passed over once names needed times
    assert sniff_columns(tmp_path / "native.parquet") == {"text": "prompt", "time": "created_at"}


def test_a_one_line_json_array_with_a_stray_item_and_parquet_text_stored_as_binary(tmp_path):
    # QA: '[{...}, null, {...}]' on one line was one rejected row (pretty-printed, 2 scored and 1 set
    # aside); Parquet text written without the UTF8 annotation was 'not text (got bytes)' on every row
    import pyarrow as pa
    import pyarrow.parquet as pq

    one = tmp_path / "export.json"
    one.write_text('[{"prompt": "where is my card"}, null, {"prompt": "reset my pin"}]')
    _, rows, rejects = read_all(one, Columns(time=None))
    assert [text for _, text in rows] == ["where is my card", "reset my pin"]
    assert [(r.line, r.reason) for r in rejects] == [(2, "row is not a JSON object")]
    table = pa.table({"prompt": pa.array([b"where is my card", "caf\u00e9 ?".encode(), b"\xff\xfe bad"],
                                         type=pa.binary())})
    pq.write_table(table, tmp_path / "hive.parquet")
    _, rows, rejects = read_all(tmp_path / "hive.parquet", Columns(time=None))
    assert [text for _, text in rows] == ["where is my card", "caf\u00e9 ?"]
    assert len(rejects) == 1 and rejects[0].line == 3  # bytes that are not UTF-8: still set aside


def test_a_lone_surrogate_escape_is_not_called_a_latin1_file(tmp_path):
    # QA: '\ud83d' in a valid UTF-8 file was 'not valid UTF-8 ... iconv -f cp1252', advice that would
    # mangle the file's real accents; bytes that are not UTF-8 still get it
    path = tmp_path / "log.jsonl"
    path.write_bytes(b'{"prompt": "half \\ud83d emoji"}\n{"prompt": "caf\xe9"}\n{"prompt": "fine"}\n')
    _, rows, rejects = read_all(path, Columns(time=None))
    assert [text for _, text in rows] == ["fine"]
    assert "half of a character" in rejects[0].reason and "iconv" in rejects[1].reason


def test_a_read_that_fails_is_said_even_when_the_file_cannot_be_opened_again(tmp_path):
    # QA: _readable's handler opened the file again to tell a damaged gzip: a PermissionError (or the file
    # gone) escaped from the handler itself, and novelty run called it a bug
    from pathlib import Path

    from novelty.errors import DamagedFileError
    from novelty.logs import _readable

    gone = Path(tmp_path / "gone.jsonl")
    with pytest.raises(InputError, match="gone.jsonl: this user may not read it"):
        with _readable(gone):
            raise PermissionError(13, "Permission denied", str(gone))
    with pytest.raises(DamagedFileError, match="gone.jsonl: could not be read"):
        with _readable(gone):
            raise OSError(5, "Input/output error")


def _chat(*turns):
    return [{"role": role, "content": content} for role, content in turns]


def test_a_chat_log_scores_the_last_user_turn_in_jsonl_and_csv(tmp_path):
    """QA (an LLM gateway's export): a 'messages' list was rejected as 'not text (got list)' in
    JSONL, and in a CSV, as JSON text, the whole transcript, system prompt included, was scored."""
    rows = [{"id": "a", "messages": _chat(("system", "Be brief."), ("user", "hi"), ("assistant", "Hello!"),
                                          ("user", "where is my card"))},
            {"id": "b", "messages": _chat(("user", [{"type": "text", "text": "reset my"},
                                                    {"type": "image_url", "image_url": {"url": "x"}},
                                                    {"type": "text", "text": "password"}]))},
            {"id": "c", "messages": _chat(("system", "Be brief."))},
            {"id": "d", "messages": _chat(("user", " "))},
            {"id": "e", "messages": "a plain prompt"}]
    write_jsonl(tmp_path / "log.jsonl", rows)
    write_csv(tmp_path / "log.csv", ["id", "messages"], [[r["id"], r["messages"] if isinstance(r["messages"], str)
                                                         else json.dumps(r["messages"])] for r in rows])
    columns = Columns(text="messages", time=None, id="id", label=None)
    for name in ("log.jsonl", "log.csv"):
        _, got, rejects = read_all(tmp_path / name, columns)
        assert [text for _, text in got] == ["where is my card", "reset my\npassword", "a plain prompt"], name
        assert [r.reason for r in rejects] == ["'messages' is a chat without a user turn",
                                               "'messages' is a chat without a user turn that has text"]
        assert "Be brief" in rejects[0].raw  # the row as written is kept


def test_a_chat_fine_tuning_file_trains_on_its_user_turns_labelled_by_the_answers(tmp_path):
    """QA: novelty's own chat-jsonl export could not be added to the index ('no column text')."""
    write_jsonl(tmp_path / "chat.jsonl", [{"messages": _chat(("system", "s"), ("user", "block my card"),
                                                             ("assistant", "card_lost"))},
                                          {"messages": _chat(("user", "buy bitcoin"),  # (QA: kept as written)
                                                             ("assistant", '{"intent": "crypto"}'))}])
    with pytest.raises(MissingColumnError, match="Set --text-col to messages to read each row's last user turn "
                                                 ".and --label-col to messages to learn the assistant's answer"):
        read_all(tmp_path / "chat.jsonl", Columns(text="text", time=None, label="label"), training=True)
    batches, got, _ = read_all(tmp_path / "chat.jsonl", Columns(text="messages", time=None, label="messages"),
                               training=True)
    assert [text for _, text in got] == ["block my card", "buy bitcoin"]
    assert batches[0].labels == ["card_lost", "crypto"]


def test_init_reads_a_chat_column_and_never_guesses_the_model_reply(tmp_path):
    """QA: init wrote text_col = 'output' (the bot's answer) for a gateway log whose prompts were in
    'messages'; and took a Langfuse 'input' holding a message list by its name, rejecting every row."""
    from novelty.starter import sniff

    rows = [{"request_id": f"r{i}", "timestamp": "2026-03-10T10:00:00Z", "output": f"Sure, I can help with {i}.",
             "messages": _chat(("system", "You are a bank bot."), ("user", f"where is card {i}"))} for i in range(5)]
    write_jsonl(tmp_path / "gw.jsonl", rows)
    found, notes = sniff(tmp_path / "gw.jsonl")
    assert found["text"] == "messages" and any("last user turn" in n for n in notes), (found, notes)
    write_jsonl(tmp_path / "lf.jsonl", [{"input": {"answer": 1}, "output": r["output"]} for r in rows])
    found, notes = sniff(tmp_path / "lf.jsonl")
    assert "text" not in found and any("only the model's side (output)" in n for n in notes), (found, notes)


def test_init_finds_a_classifier_output_column_a_trace_id_and_a_start_time(tmp_path):
    """QA: 'Model Output' holding {"label", "score"}, 'trace_id' and 'start_time' were all passed over."""
    from novelty.starter import sniff

    rows = [{"trace_id": f"t{i}", "start_time": "2026-03-10T10:00:00Z", "input": f"where is my card {i}",
             "Model Output": {"label": "card", "score": 0.9}} for i in range(5)]
    write_jsonl(tmp_path / "mo.jsonl", rows)
    write_csv(tmp_path / "mo.csv", list(rows[0]), [[*list(r.values())[:3], json.dumps(r["Model Output"])] for r in rows])
    for name in ("mo.jsonl", "mo.csv"):
        found, notes = sniff(tmp_path / name)
        assert found == {"text": "input", "time": "start_time", "id": "trace_id", "pred": "Model Output"}, found
        assert "pred = 'Model Output' is a guess from its content (a classifier's output)" in notes[0], notes
    replies = [{**r, "Model Output": f"Sure, card {i} is on its way."} for i, r in enumerate(rows)]
    write_jsonl(tmp_path / "reply.jsonl", replies)  # an LLM's reply is no prediction
    assert "pred" not in sniff(tmp_path / "reply.jsonl")[0]


def test_epoch_micro_and_nanoseconds_are_times_as_drift_reads_them():
    """QA: 1793566364159000 (epoch microseconds) was rejected as 'is 58805-11-08 ... seconds and
    milliseconds mixed up?', nanoseconds as unreadable, while drift and skew read both."""
    assert format_time(1793566364159000) == format_time("1793566364159000000") == "2026-11-01T20:52:44.159000Z"
    assert format_time(1793566364159) == "2026-11-01T20:52:44.159000Z"
    assert format_time(99_999_999_999_999_999_999) is None  # past nanoseconds of 2099: still out of bounds


def test_chat_lists_as_pandas_writes_them_agents_write_them_and_gemini_writes_them(tmp_path):
    """QA: a chat list saved by pandas' to_csv (Python's repr) was scored as the whole transcript and
    raised label_bias; an agent's user turn holding only a tool result rejected the row ('is empty');
    Gemini's parts, a role 'User', the Assistants API's text value and the Responses API's role-less
    items were rejected."""
    question = {"role": "user", "content": "I want to dispute a transaction"}
    chats = [[{"role": "system", "content": "Be brief."}, question],
             [question, {"role": "assistant", "content": None, "tool_calls": [{"id": "t1"}]},
              {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "ok"}]}],
             [{"role": "User", "parts": [{"text": "I want to dispute"}, {"text": "a transaction"}]},
              {"role": "model", "parts": [{"text": "Sure."}]}],
             [{"role": "user", "content": [{"type": "text", "text": {"value": "I want to dispute a transaction"}}]}],
             [question, {"type": "function_call", "name": "lookup"}, {"type": "function_call_output", "output": "x"}]]
    pd.DataFrame({"id": range(len(chats)), "messages": chats}).to_csv(tmp_path / "pandas.csv", index=False)
    batches, got, rejects = read_all(tmp_path / "pandas.csv", Columns(text="messages", time=None, id="id", label=None))
    # the 2nd and the 5th end with a tool's turn: an agent's later calls, their question asked by the 1st
    assert [text for _, text in got] == ["I want to dispute a transaction", "I want to dispute\na transaction",
                                         "I want to dispute a transaction"] and not rejects, rejects
    assert sum(b.agent_steps for b in batches) == 2


def test_init_finds_a_parquet_chat_column_and_prefers_the_one_with_questions(tmp_path):
    """QA: a Parquet list<struct<role, content>> column was not found by init though score read it;
    a reply-only 'choices' column was taken before 'conversation'."""
    from novelty.starter import sniff

    ask = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "where is my card"}]
    pd.DataFrame({"ts": ["2026-11-18T10:00:00Z"] * 3, "messages": [ask] * 3,
                  "pred": [{"label": "card", "score": 0.9}] * 3}).to_parquet(tmp_path / "chat.parquet")
    found, _ = sniff(tmp_path / "chat.parquet")
    assert found["text"] == "messages" and found["pred"] == "pred", found
    write_jsonl(tmp_path / "q.jsonl", [{"choices": [{"role": "assistant", "content": "Sure."}], "conversation": ask}])
    assert sniff(tmp_path / "q.jsonl")[0]["text"] == "conversation"


def test_the_answers_of_nlu_services_are_read_as_their_labels():
    """QA: these were stored as NULL labels (warned): CLU's whole response, Lex's, Watson's, Dialogflow's,
    a batched pipeline's, Rasa's intent object alone, a {"category": ...}."""
    from novelty.logs import predicted_label

    shapes = {"clu": {"query": "q", "result": {"prediction": {"topIntent": "fees", "projectKind": "Conversation"}}},
              "lex": {"interpretations": [{"intent": {"name": "fees", "state": "x"}, "nluConfidence": 0.9}]},
              "watson": {"intents": [{"intent": "other", "confidence": 0.1}, {"intent": "fees", "confidence": 0.8}]},
              "dialogflow": {"queryResult": {"intent": {"name": "projects/a/agent/intents/9", "displayName": "fees"}}},
              "batched": json.dumps([[{"label": "fees", "score": 0.7}, {"label": "card", "score": 0.3}]]),
              "rasa": {"name": "fees", "confidence": 0.9}, "category": {"category": "fees"}}
    assert {name: predicted_label(v) for name, v in shapes.items()} == dict.fromkeys(shapes, "fees")
    assert predicted_label({"name": "Ann", "email": "a@b.c"}) is None  # a name alone is no label


@pytest.mark.parametrize("asked, replied", [("human", "ai"), ("in", "out"), ("msg", "llm"),
                                            ("llm_input", "llm_output"), ("ai_question", "ai_answer")])
def test_init_takes_the_human_side_of_a_log_named_the_langchain_way(tmp_path, asked, replied):
    """QA: with columns human/ai (LangChain's naming) or in/out, init took the longer one: the reply."""
    from novelty.starter import sniff

    write_jsonl(tmp_path / "d.jsonl", [{asked: f"where is my card {i}", replied: f"Your card {i} ships on Monday, "
                                        "tracked, and arrives within three to five working days."} for i in range(5)])
    assert sniff(tmp_path / "d.jsonl")[0]["text"] == asked


def test_chat_and_label_cells_that_nest_deep_or_hold_images_or_tools(tmp_path):
    """Review: '[' * 1200 in a prompt crashed the run (RecursionError); a last user turn of an image
    alone scored the question before it again; a list of tools was read as a prediction by init."""
    from novelty.logs import chat_turns, predicted_label, unreadable_label
    from novelty.starter import sniff

    write_jsonl(tmp_path / "deep.jsonl", [{"prompt": "[" * 1200 + " role", "timestamp": "2026-11-24T10:00:00Z",
                                           "predicted_label": "[" * 1200}])
    _, got, rejects = read_all(tmp_path / "deep.jsonl")
    assert len(got) == 1 and not rejects
    assert predicted_label("[" * 1200) == "[" * 1200 and not unreadable_label("{" * 1200)
    image = [{"role": "user", "content": "what is this charge"}, {"role": "assistant", "content": "Which?"},
             {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]
    assert chat_turns(image) == "whose last user turn has no text"
    write_jsonl(tmp_path / "tools.jsonl", [{"prompt": f"where is card {i}", "tools": [{"name": "lookup_card"}],
                                            "scores": [{"name": "helpfulness", "value": 0.8}]} for i in range(5)])
    assert "pred" not in sniff(tmp_path / "tools.jsonl")[0]
    assert predicted_label([{"name": "lookup_card", "description": "x"}]) is None


def test_chat_roles_and_contents_of_other_writers():
    """Review: LangChain's human/ai roles were 'without a user turn'; a content of one dict was scored
    as its Python repr; Gemini parts written as plain strings were rejected."""
    from novelty.logs import chat_turns

    assert chat_turns([{"role": "human", "content": "hi"}, {"role": "ai", "content": "Hello"}]) == ("hi", "Hello")
    assert chat_turns([{"role": "user", "content": {"type": "text", "text": "my card"}}]) == ("my card", None)
    assert chat_turns([{"role": "user", "parts": ["my card", "is lost"]}]) == ("my card\nis lost", None)


def test_a_header_again_in_another_order_reads_the_rows_after_it_by_it(tmp_path):
    """'predicted_label,prompt' after a 'prompt,predicted_label' file was scored as a prompt, and every
    row after it read with its columns swapped (QA)."""
    path = tmp_path / "cat.csv"
    path.write_text("prompt,predicted_label\nI lost my card,card_lost\npredicted_label,prompt\ntransfer,send money\n")
    (batch,) = read_batches(path, Columns(label="predicted_label", time=None), 100, 20_000)
    assert list(zip(batch.texts, batch.labels)) == [("I lost my card", "card_lost"), ("send money", "transfer")]
    assert [(r.line, r.reason.split(";")[0]) for r in batch.rejects] == [
        (3, "the header again, in another column order (files joined with cat?)")]


def test_times_with_a_gmt_offset_and_times_without_a_date(tmp_path):
    """'11:00:00 GMT+0100' was stored as 12:00Z (dateutil's POSIX sign), and '09:30' as today (QA)."""
    write_jsonl(tmp_path / "t.jsonl", [{"prompt": "balance", "timestamp": "Sun Mar 01 2026 11:00:00 GMT+0100"},
                                       {"prompt": "lost card", "timestamp": "2026-03-01 11:00:00 UTC+01:00"},
                                       {"prompt": "wire money", "timestamp": "09:30"}])
    (batch,) = read_batches(tmp_path / "t.jsonl", Columns(), 100, 20_000)
    assert batch.times == ["2026-03-01T10:00:00Z"] * 2
    assert [r.reason.split(" (")[0] for r in batch.rejects] == ["timestamp '09:30' in 'timestamp' has no whole date"]


def test_an_opentelemetry_genai_chat_reads_its_text_parts(tmp_path):
    """gen_ai.input.messages' parts hold their text under 'content': 'a chat without a user turn that has
    text' (QA)."""
    chat = [{"role": "system", "parts": [{"type": "text", "content": "be a bank"}]},
            {"role": "user", "parts": [{"type": "text", "content": "I lost my card"}]}]
    write_jsonl(tmp_path / "o.jsonl", [{"span_id": "s1", "gen_ai.input.messages": json.dumps(chat)}])
    (batch,) = read_batches(tmp_path / "o.jsonl", Columns(text="gen_ai.input.messages", time=None), 100, 20_000)
    assert batch.texts == ["I lost my card"] and not batch.rejects
