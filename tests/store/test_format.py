"""The bytes of every file the store writes are pinned: a change here orphans users' data."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sweepstack.errors import CorruptEntryError, FormatVersionError, UnstorableValueError
from sweepstack.store._format import (
    FORMAT_VERSION,
    encode_experiment,
    encode_fields,
    encode_log_header,
    encode_log_line,
    encode_record,
    encode_run,
    parse_experiment,
    parse_fields,
    parse_log,
    parse_record,
    parse_run,
    record_summary,
)

KEY = "a3f0147564375aa02e3ef83d371f5492"

RECORD = {
    "key": KEY,
    "sweep": "main",
    "params": {"n": 100, "seed": 0, "estimator": "antithetic", "pairs": True},
    "status": "failed",
    "fields": {"error": 0.25},
    "exception": {"type": "ValueError", "message": "bad n", "traceback": "Traceback ..."},
    "stages": [
        {"name": "draw", "status": "hit", "duration": 0.5, "fingerprint": "f0", "key": "k0"}
    ],
    "outputs": {"points": "k0"},
    "host": "node1",
    "pid": 42,
    "run": "PiSweep_3_2026-11-22-T100003",
    "attempt": 2,
    "started": "2026-11-22T10:00:03.000000Z",
    "ended": "2026-11-22T10:00:04.500000Z",
    "duration": 1.5,
    "reportables": [],
    "written": "2026-11-22T10:00:04.600000Z",
}


def test_experiment_json_bytes_are_pinned():
    data = encode_experiment(
        "0b6f1c8e-6f0a-4d8e-9a51-2f3c4d5e6f70", "pi", "PiSweep", "2026-11-22T10:00:03.000000Z"
    )
    assert data == (
        b'{"created":"2026-11-22T10:00:03.000000Z","engine":"PiSweep","format":1,'
        b'"id_experiment":"0b6f1c8e-6f0a-4d8e-9a51-2f3c4d5e6f70","name":"pi"}\n'
    )
    assert parse_experiment("x", data)["id_experiment"] == "0b6f1c8e-6f0a-4d8e-9a51-2f3c4d5e6f70"


def test_run_document_bytes_are_pinned():
    document = {
        "number": 3,
        "reference": "PiSweep_3_2026-11-22-T100003",
        "name": "PiSweep",
        "status": "complete",
        "started": "2026-11-22T10:00:03.000000Z",
        "ended": "2026-11-22T10:05:00.000000Z",
        "argv": ["pi.py", "-c", "my exp"],
        "git": {"available": False, "reason": "not in a git repository"},
        "notes": "é",
    }
    assert encode_run(document) == (
        b'{"argv":["pi.py","-c","my exp"],"ended":"2026-11-22T10:05:00.000000Z","format":1,'
        b'"git":{"available":false,"reason":"not in a git repository"},"name":"PiSweep",'
        b'"notes":"\xc3\xa9","number":3,"reference":"PiSweep_3_2026-11-22-T100003",'
        b'"started":"2026-11-22T10:00:03.000000Z","status":"complete"}\n'
    )


def test_record_document_bytes_are_pinned():
    assert encode_record(RECORD) == (
        b'{"attempt":2,"duration":1.5,"ended":"2026-11-22T10:00:04.500000Z","exception":'
        b'{"message":"bad n","traceback":"Traceback ...","type":"ValueError"},"fields":'
        b'{"error":0.25},"format":1,"host":"node1","key":"a3f0147564375aa02e3ef83d371f5492",'
        b'"outputs":{"points":"k0"},"params":{"estimator":"antithetic","n":100,"pairs":true,'
        b'"seed":0},"pid":42,"reportables":[],"run":"PiSweep_3_2026-11-22-T100003","stages":'
        b'[{"duration":0.5,"fingerprint":"f0","key":"k0","name":"draw","status":"hit"}],'
        b'"started":"2026-11-22T10:00:03.000000Z","status":"failed","sweep":"main",'
        b'"written":"2026-11-22T10:00:04.600000Z"}\n'
    )


def test_index_log_lines_are_pinned():
    header = encode_log_header("node1", 42, "2026-11-22T10:00:00.000000Z")
    assert header == (
        b'{"created":"2026-11-22T10:00:00.000000Z","format":1,"host":"node1","log":"records",'
        b'"pid":42}\t07856fca\n'
    )
    line = encode_log_line({**record_summary(RECORD), "ino": 1234})
    assert line == (
        b'{"attempt":2,"duration":1.5,"ended":"2026-11-22T10:00:04.500000Z","exception":'
        b'{"message":"bad n","type":"ValueError"},"fields":{"error":0.25},"host":"node1",'
        b'"ino":1234,"key":"a3f0147564375aa02e3ef83d371f5492","params":{"estimator":'
        b'"antithetic","n":100,"pairs":true,"seed":0},"run":"PiSweep_3_2026-11-22-T100003",'
        b'"started":"2026-11-22T10:00:03.000000Z","status":"failed"}\t2cb59910\n'
    )


def test_fields_file_bytes_are_pinned():
    assert encode_fields({"dataset": "mnist", "n": 3}) == (
        b'{"fields":{"dataset":"mnist","n":3},"format":1}\n'
    )
    assert parse_fields("x", encode_fields({"a": [1]})) == {"a": [1]}


def test_parsers_keep_unknown_keys_and_read_older_documents():
    data = encode_record({**RECORD, "added_by_a_newer_minor": {"x": 1}})
    assert parse_record("x", data)["added_by_a_newer_minor"] == {"x": 1}
    no_format = json.dumps({"key": KEY, "status": "done"}).encode()
    assert parse_record("x", no_format)["status"] == "done"
    info = json.dumps(
        {"id_experiment": "i", "name": "n", "created": "c", "engine": None, "new": 1}
    ).encode()
    assert parse_experiment("x", info) == {
        "format": 1,
        "id_experiment": "i",
        "name": "n",
        "engine": None,
        "created": "c",
    }


@pytest.mark.parametrize(
    "parse, document",
    [
        pytest.param(parse_record, {"key": KEY}, id="record"),
        pytest.param(parse_run, {"number": 1, "reference": "r", "status": "running"}, id="run"),
        pytest.param(
            parse_experiment,
            {"id_experiment": "i", "name": "n", "created": "c"},
            id="experiment",
        ),
        pytest.param(parse_fields, {"fields": {}}, id="fields"),
    ],
)
def test_a_newer_format_is_refused_naming_both_versions(parse, document):
    data = json.dumps({**document, "format": FORMAT_VERSION + 1}).encode()
    with pytest.raises(FormatVersionError) as info:
        parse("/x/doc.json", data)
    assert f"format {FORMAT_VERSION + 1}" in str(info.value)
    assert f"format {FORMAT_VERSION}" in str(info.value)


@pytest.mark.parametrize(
    "data, problem",
    [
        pytest.param(b"", "empty", id="empty"),
        pytest.param(b'{"key": "ab', "not valid JSON", id="truncated"),
        pytest.param(b"[1, 2]", "not an object", id="list"),
        pytest.param(b'{"status": "done"}', "'key' is missing", id="no-key"),
        pytest.param(b'{"key": 3}', "'key' is missing or not a string", id="key-not-str"),
    ],
)
def test_a_damaged_record_is_a_corrupt_entry_naming_the_problem(data, problem):
    with pytest.raises(CorruptEntryError, match=problem) as info:
        parse_record("/x/records/main/ab/ab12.json", data)
    assert info.value.path == "/x/records/main/ab/ab12.json"


def test_run_number_must_be_an_integer_not_a_bool():
    data = json.dumps({"number": True, "reference": "r", "status": "running"}).encode()
    with pytest.raises(CorruptEntryError, match="'number'"):
        parse_run("x", data)


def test_encoding_a_non_json_value_names_where_it_is():
    document = {**RECORD, "fields": {"model": object()}}
    with pytest.raises(UnstorableValueError) as info:
        encode_record(document)
    assert info.value.where == "['fields']['model']"
    assert info.value.type_name == "object"
    assert "record a3f0147564375aa02e3ef83d371f5492" in str(info.value)


def test_a_document_containing_itself_is_refused():
    document = {**RECORD, "fields": {}}
    document["fields"]["self"] = document
    with pytest.raises(UnstorableValueError, match=r"contains itself|nested too deep"):
        encode_record(document)


def test_tuples_are_stored_as_lists_and_nan_round_trips():
    data = encode_record({**RECORD, "params": {"shape": (2, 3)}, "fields": {"loss": math.nan}})
    back = parse_record("x", data)
    assert back["params"]["shape"] == [2, 3]
    assert math.isnan(back["fields"]["loss"])


def _log(*entries: dict) -> bytes:
    return encode_log_header("h", 1, "t") + b"".join(encode_log_line(e) for e in entries)


def _entry(key: str, attempt: int = 1) -> dict:
    return {"key": key, "attempt": attempt, "ino": 7, "status": "done"}


def test_torn_tail_of_an_index_log_is_ignored_silently():
    data = _log(_entry("aa"), _entry("bb"))
    for cut in range(1, len(encode_log_line(_entry("bb")))):
        entries, problems = parse_log("log", data[:-cut])
        assert [e["key"] for e in entries] == ["aa"]
        assert problems == []


def test_damaged_complete_line_of_an_index_log_is_reported_and_the_rest_kept():
    good = _log(_entry("aa"), _entry("bb"), _entry("cc"))
    damaged = good.replace(b'"bb"', b'"bX"')
    entries, problems = parse_log("log", damaged)
    assert [e["key"] for e in entries] == ["aa", "cc"]
    assert len(problems) == 1 and "line 3" in problems[0].path
    assert "checksum" in str(problems[0])


def test_index_log_of_a_newer_format_is_refused():
    header = encode_log_line({"log": "records", "format": FORMAT_VERSION + 1})
    with pytest.raises(FormatVersionError):
        parse_log("log", header + encode_log_line(_entry("aa")))


json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False),
    st.text(max_size=8),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=15,
)


@given(
    extra=st.dictionaries(st.text(min_size=1, max_size=6), json_values, max_size=4),
    params=st.dictionaries(st.text(min_size=1, max_size=6), json_values, max_size=4),
)
def test_any_json_record_round_trips_through_its_file_and_index_line(extra, params):
    document = {**extra, **RECORD, "params": params}
    assert parse_record("x", encode_record(document)) == {**document, "format": FORMAT_VERSION}
    summary = {**record_summary(document), "ino": 9}
    entries, problems = parse_log("log", _log(summary))
    assert problems == [] and entries == [summary]
