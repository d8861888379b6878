"""Records: one file per combination key, written atomically, attempts counted."""

from __future__ import annotations

import os

import pytest

from sweepstack import param_key
from sweepstack.errors import (
    CorruptEntryError,
    StoreValueError,
    StoreWriteError,
    UnstorableValueError,
)
from sweepstack.store import ExperimentDir
from sweepstack.store._atomic import read_bytes

KEY = param_key({"n": 100, "seed": 0})


@pytest.fixture
def xd(tmp_path):
    return ExperimentDir.create_or_open(tmp_path / "exp")


def _done(**extra):
    return {"params": {"n": 100, "seed": 0}, "status": "done", "fields": {"error": 0.1}, **extra}


def test_record_is_one_file_per_key_in_a_shard_folder(xd):
    xd.write_record("main", KEY, _done())
    path = os.path.join(xd.path, "records", "main", KEY[:2], KEY + ".json")
    assert xd.record_path("main", KEY) == path
    assert os.path.isfile(path)
    assert sorted(os.listdir(os.path.dirname(path))) == [KEY + ".json"]


def test_write_fills_key_sweep_attempt_time_host_and_pid(xd):
    stored = xd.write_record("main", KEY, _done())
    assert (stored["key"], stored["sweep"], stored["attempt"]) == (KEY, "main", 1)
    assert stored["written"].endswith("Z") and stored["pid"] == os.getpid() and stored["host"]
    assert xd.read_record("main", KEY) == stored
    kept = xd.write_record("main", KEY, _done(host="node7", pid=12))
    assert (kept["host"], kept["pid"]) == ("node7", 12)


def test_each_rewrite_of_a_key_is_the_next_attempt(xd):
    attempts = [xd.write_record("main", KEY, _done())["attempt"] for _ in range(4)]
    assert attempts == [1, 2, 3, 4]
    assert xd.read_record("main", KEY)["attempt"] == 4


def test_a_rewrite_over_an_unreadable_record_counts_it_as_an_attempt(xd):
    path = xd.record_path("main", KEY)
    os.makedirs(os.path.dirname(path))
    with open(path, "w") as f:
        f.write("{garbage")
    assert xd.write_record("main", KEY, _done())["attempt"] == 2


def test_unknown_keys_of_a_document_are_stored_as_given(xd):
    stored = xd.write_record("main", KEY, _done(gpu={"name": "A100", "memory": [40, "GB"]}))
    assert stored["gpu"] == {"name": "A100", "memory": [40, "GB"]}


def test_a_document_naming_another_key_or_sweep_is_refused(xd):
    with pytest.raises(StoreValueError, match="record key"):
        xd.write_record("main", KEY, _done(key="ff" * 16))
    with pytest.raises(StoreValueError, match="record sweep"):
        xd.write_record("main", KEY, _done(sweep="other"))


def test_a_non_json_value_is_refused_and_the_previous_record_kept(xd):
    first = xd.write_record("main", KEY, _done())
    with pytest.raises(UnstorableValueError, match=r"\['fields'\]\['model'\]"):
        xd.write_record("main", KEY, _done(fields={"model": object()}))
    assert xd.read_record("main", KEY) == first
    assert os.listdir(os.path.dirname(xd.record_path("main", KEY))) == [KEY + ".json"]


@pytest.mark.parametrize(
    "sweep, key",
    [
        pytest.param("main", "../" + KEY, id="key-up"),
        pytest.param("main", "a/b" + KEY, id="key-slash"),
        pytest.param("main", "_log", id="key-index-folder"),
        pytest.param("main", ".hidden", id="key-dot"),
        pytest.param("main", "x", id="key-too-short"),
        pytest.param("..", KEY, id="sweep-up"),
        pytest.param("a/b", KEY, id="sweep-slash"),
    ],
)
def test_names_that_would_leave_the_records_folder_are_refused(xd, sweep, key):
    with pytest.raises(StoreValueError):
        xd.write_record(sweep, key, _done())
    with pytest.raises(StoreValueError):
        xd.read_record(sweep, key)
    assert os.listdir(os.path.join(xd.path, "records")) == []


def test_reading_a_missing_record_gives_none(xd):
    assert xd.read_record("main", KEY) is None


def test_reading_a_damaged_record_is_a_corrupt_entry_error(xd):
    xd.write_record("main", KEY, _done())
    with open(xd.record_path("main", KEY), "r+b") as f:
        f.truncate(10)
    with pytest.raises(CorruptEntryError, match="not valid JSON") as info:
        xd.read_record("main", KEY)
    assert info.value.path == xd.record_path("main", KEY)


def test_each_record_is_indexed_in_its_writers_own_log(xd):
    for n in range(3):
        xd.write_record("main", param_key({"n": n}), _done())
    xd.write_record("other", KEY, _done())
    logs = os.listdir(os.path.join(xd.path, "records", "main", "_log"))
    assert len(logs) == 1 and logs[0].startswith(
        f"{os.uname().nodename.split('.')[0]}-{os.getpid()}-"
    )
    lines = read_bytes(os.path.join(xd.path, "records", "main", "_log", logs[0])).splitlines()
    assert len(lines) == 4  # a header and one line per record
    assert len(os.listdir(os.path.join(xd.path, "records", "other", "_log"))) == 1


def test_a_forked_child_writes_to_its_own_log(xd):
    xd.write_record("main", KEY, _done())
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            xd.write_record("main", param_key({"child": True}), _done())
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    assert len(os.listdir(os.path.join(xd.path, "records", "main", "_log"))) == 2
    assert len(xd.experiment().results()) == 2


@pytest.fixture
def tiny_disk(tmpfs):
    """A real 128 KiB file system (a record and its index line need some room)."""
    return tmpfs("128k")


def test_a_full_disk_is_a_write_error_and_keeps_the_previous_record(tiny_disk):
    xd = ExperimentDir.create_or_open(tiny_disk / "exp")
    first = xd.write_record("main", KEY, _done())
    with pytest.raises(StoreWriteError, match="no space left"):
        xd.write_record("main", KEY, _done(fields={"log": "x" * 300_000}))
    assert xd.read_record("main", KEY) == first
    results = xd.experiment().results()
    assert [r["attempt"] for r in results] == [1] and results.errors == []
    leftovers = os.listdir(os.path.dirname(xd.record_path("main", KEY)))
    assert leftovers == [KEY + ".json"]


def test_threads_of_one_process_share_its_log_without_tearing_lines(xd):
    import threading

    def write(thread):
        for i in range(50):
            xd.write_record("main", param_key({"thread": thread, "i": i}), _done())

    threads = [threading.Thread(target=write, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(os.listdir(os.path.join(xd.path, "records", "main", "_log"))) == 1
    results = xd.experiment().results()
    assert len(results) == 200 and results.errors == []
    assert results == xd.experiment().results(verify=True)
