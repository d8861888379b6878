"""results(): one flat row per combination, from the index logs, the files deciding."""

from __future__ import annotations

import os
import shutil
import sys

import pytest

from sweepstack import param_key
from sweepstack.errors import CorruptEntryError, CorruptEntryWarning, OptionalDependencyError
from sweepstack.store import ExperimentDir, Results
from sweepstack.store._atomic import atomic_write
from sweepstack.store._format import encode_record


@pytest.fixture
def xd(tmp_path):
    return ExperimentDir.create_or_open(tmp_path / "exp")


def _write(xd, params, sweep="main", **extra):
    document = {"params": params, "status": "done", "fields": {"error": 0.5}, "run": "Pi_1_x"}
    document.update(extra)
    return xd.write_record(sweep, param_key(params), document)


def _rows(xd, **kwargs):
    return {r["key"]: r for r in xd.experiment().results(**kwargs)}


def test_one_flat_row_per_combination_with_params_fields_and_status(xd):
    _write(xd, {"n": 10, "seed": 0}, duration=1.5, host="node3")
    (row,) = xd.experiment().results()
    assert row == {
        "sweep": "main",
        "key": param_key({"n": 10, "seed": 0}),
        "status": "done",
        "n": 10,
        "seed": 0,
        "error": 0.5,
        "run": "Pi_1_x",
        "host": "node3",
        "attempt": 1,
        "started": None,
        "ended": None,
        "duration": 1.5,
        "exception": None,
    }


def test_nested_params_and_fields_get_dotted_names(xd):
    _write(xd, {"opt": {"name": "sgd", "lr": 0.1}, "tags": ["a"]}, fields={"scores": {"f1": 0.9}})
    (row,) = xd.experiment().results()
    assert (row["opt.name"], row["opt.lr"], row["tags"], row["scores.f1"]) == (
        "sgd",
        0.1,
        ["a"],
        0.9,
    )


def test_names_colliding_with_columns_or_params_get_a_prefix(xd):
    _write(xd, {"status": "on", "n": 1}, fields={"n": 2, "host": "x", "acc": 1.0})
    (row,) = xd.experiment().results()
    assert (row["status"], row["params.status"]) == ("done", "on")
    assert (row["n"], row["fields.n"], row["fields.host"], row["acc"]) == (1, 2, "x", 1.0)


def test_a_failure_shows_its_exception_type_and_message(xd):
    exception = {"type": "ValueError", "message": "n < 0", "traceback": "long"}
    _write(xd, {"n": -1}, status="failed", exception=exception)
    (row,) = xd.experiment().results()
    assert (row["status"], row["exception"]) == ("failed", "ValueError: n < 0")


def test_the_latest_attempt_of_a_key_is_shown(xd):
    _write(xd, {"n": 1}, status="failed")
    _write(xd, {"n": 1}, status="done", fields={"error": 0.25})
    (row,) = xd.experiment().results()
    assert (row["attempt"], row["status"], row["error"]) == (2, "done", 0.25)


def test_results_cover_every_sweep_or_the_one_asked_for(xd):
    _write(xd, {"n": 1})
    _write(xd, {"n": 2}, sweep="ablation")
    exp = xd.experiment()
    assert exp.sweeps() == ["ablation", "main"]
    assert [r["sweep"] for r in exp.results()] == ["ablation", "main"]
    assert [r["n"] for r in exp.results("ablation")] == [2]
    assert exp.results("never-written") == []


def test_a_record_whose_index_line_was_never_written_is_read_from_its_file(xd):
    # the crash window: the writer died after renaming the record, before appending
    for n in range(5):
        _write(xd, {"n": n})
    shutil.rmtree(os.path.join(xd.path, "records", "main", "_log"))
    rows = _rows(xd)
    assert sorted(r["n"] for r in rows.values()) == [0, 1, 2, 3, 4]


def test_a_newer_file_than_its_index_line_wins(xd):
    first = _write(xd, {"n": 1}, status="failed")
    newer = {**first, "status": "done", "attempt": 2}
    atomic_write(xd.record_path("main", first["key"]), encode_record(newer))  # no index line
    (row,) = xd.experiment().results()
    assert (row["status"], row["attempt"]) == ("done", 2)


def test_an_index_line_without_its_file_is_left_out(xd):
    gone = _write(xd, {"n": 1})
    _write(xd, {"n": 2})
    os.unlink(xd.record_path("main", gone["key"]))  # e.g. moved to quarantine
    assert [r["n"] for r in xd.experiment().results()] == [2]


def test_a_corrupt_record_is_skipped_and_reported_with_its_path(xd):
    _write(xd, {"n": 1})
    bad = _write(xd, {"n": 2})
    path = xd.record_path("main", bad["key"])
    atomic_write(path, b'{"key": "trunc')  # replaced from outside (a copy, a restore)
    results = xd.experiment().results()
    assert [r["n"] for r in results] == [1]
    (error,) = results.errors
    assert isinstance(error, CorruptEntryError) and error.path == path
    assert "not valid JSON" in str(error)


def test_a_damaged_index_line_is_reported_and_its_record_read_from_the_file(xd):
    for n in range(3):
        _write(xd, {"n": n})
    log_dir = os.path.join(xd.path, "records", "main", "_log")
    (log,) = os.listdir(log_dir)
    with open(os.path.join(log_dir, log), "r+b") as f:
        data = f.read()
        f.seek(data.index(b'"n":1') + 4)
        f.write(b"7")
    results = xd.experiment().results()
    assert sorted(r["n"] for r in results) == [0, 1, 2]
    (error,) = results.errors
    assert "line 3" in error.path and "checksum" in str(error)


def test_a_torn_index_tail_is_not_an_error(xd):
    for n in range(3):
        _write(xd, {"n": n})
    log_dir = os.path.join(xd.path, "records", "main", "_log")
    (log,) = os.listdir(log_dir)
    with open(os.path.join(log_dir, log), "r+b") as f:
        f.truncate(os.path.getsize(os.path.join(log_dir, log)) - 20)
    results = xd.experiment().results()
    assert sorted(r["n"] for r in results) == [0, 1, 2] and results.errors == []


def test_verify_reads_every_file_and_finds_damage_made_in_place(xd):
    for n in range(4):
        _write(xd, {"n": n})
    exp = xd.experiment()
    assert exp.results(verify=True) == exp.results()
    damaged = xd.record_path("main", param_key({"n": 3}))
    with open(damaged, "r+b") as f:  # same inode: the index cannot tell
        f.truncate(5)
    assert len(exp.results()) == 4
    checked = exp.results(verify=True)
    assert len(checked) == 3 and [e.path for e in checked.errors] == [damaged]


def test_records_gives_whole_documents_and_warns_about_unreadable_ones(xd):
    _write(xd, {"n": 1}, stages=[{"name": "draw", "status": "run", "duration": 0.1}])
    broken = _write(xd, {"n": 2})
    atomic_write(xd.record_path("main", broken["key"]), b"[]")
    exp = xd.experiment()
    with pytest.warns(CorruptEntryWarning, match="skipped 1 unreadable records"):
        records = list(exp.records())
    assert [r["stages"][0]["name"] for r in records] == ["draw"]
    assert exp.record(param_key({"n": 1}))["params"] == {"n": 1}
    assert exp.record(param_key({"n": 9})) is None


def test_to_dataframe_has_one_row_per_combination(xd):
    for n in range(3):
        _write(xd, {"n": n, "model": "svm"})
    frame = xd.experiment().results().to_dataframe()
    assert sorted(frame["n"]) == [0, 1, 2] and set(frame["model"]) == {"svm"}
    assert {"sweep", "key", "status", "run", "host", "duration", "error"} <= set(frame.columns)


def test_to_dataframe_of_no_results_has_the_columns(xd):
    frame = xd.experiment().results().to_dataframe()
    assert len(frame) == 0 and "status" in frame.columns


def test_to_dataframe_without_pandas_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)  # what an uninstalled package looks like
    with pytest.raises(OptionalDependencyError, match=r"pip install sweepstack\[pandas\]") as info:
        Results([{"n": 1}]).to_dataframe()
    assert isinstance(info.value, ImportError)


def test_results_pickle_with_their_errors():
    import pickle

    results = Results([{"n": 1}], [CorruptEntryError("/x", "not JSON")])
    again = pickle.loads(pickle.dumps(results))
    assert again == results and str(again.errors[0]) == str(results.errors[0])
