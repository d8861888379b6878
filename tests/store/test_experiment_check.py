"""Experiment.check(), the artifacts records use, and recent results from the index tails."""

from __future__ import annotations

import glob
import json
import os
import time

import pytest

from sweepstack import param_key
from sweepstack.errors import CorruptEntryError
from sweepstack.store import ExperimentDir
from sweepstack.store import _results as results_module


def _utc(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


@pytest.fixture
def xd(tmp_path):
    xd = ExperimentDir.create_or_open(tmp_path / "exp", name="pi", engine="PiSweep")
    cache = xd.experiment().cache
    for n in range(4):
        key = param_key({"n": n})
        artifact = f"{n:02d}" + "a" * 30

        def write(folder: str, n: int = n) -> None:
            with open(os.path.join(folder, "data.json"), "w") as f:
                f.write(str(n))

        cache.save(artifact, {"stage": "draw"}, write)
        xd.write_record(
            "main",
            key,
            {
                "params": {"n": n},
                "status": "done",
                "outputs": {"points": artifact},
                "stages": [{"name": "draw", "status": "run", "outputs": {"points": artifact}}],
                "ended": _utc(time.time()),
            },
        )
    return xd


def test_healthy_experiment_has_no_problem(xd):
    assert xd.experiment().check() == []


def test_corrupt_record_is_listed_by_key_and_repair_moves_it_aside(xd):
    key = param_key({"n": 2})
    path = xd.record_path("main", key)
    with open(path, "w") as f:
        f.write("{nope")
    exp = xd.experiment()
    (problem,) = exp.check()
    assert (problem.kind, problem.key, problem.sweep, problem.path) == ("record", key, "main", path)
    assert "not valid JSON" in problem.problem and problem.repaired is None
    (repaired,) = exp.check(repair=True)
    assert repaired.repaired.startswith("moved to ") and not os.path.exists(path)
    (moved,) = glob.glob(os.path.join(xd.path, "quarantine", "records", "main", f"{key}.json.*"))
    with open(moved) as f:
        assert f.read() == "{nope"
    assert exp.check() == []
    assert sorted(r["n"] for r in exp.results()) == [0, 1, 3]


def test_record_of_a_newer_format_is_reported_but_never_moved(xd):
    path = xd.record_path("main", param_key({"n": 1}))
    with open(path) as f:
        document = json.load(f)
    document["format"] = 7
    with open(path, "w") as f:
        json.dump(document, f)
    (problem,) = xd.experiment().check(repair=True)
    assert "format 7" in problem.problem and problem.repaired is None
    assert os.path.exists(path)


def test_record_holding_another_key_is_a_problem(xd):
    source = xd.record_path("main", param_key({"n": 1}))
    target = xd.record_path("main", param_key({"n": 9}))
    os.makedirs(os.path.dirname(target), exist_ok=True)
    with open(source, "rb") as f, open(target, "wb") as g:
        g.write(f.read())
    (problem,) = xd.experiment().check()
    assert problem.key == param_key({"n": 9}) and "holds the record of key" in problem.problem


def test_damaged_index_line_is_reported_and_repair_sets_the_log_aside(xd):
    (log,) = glob.glob(os.path.join(xd.path, "records", "main", "_log", "*.jsonl"))
    with open(log, "r+b") as f:
        data = f.read()
        f.seek(data.index(b'"n":2') + 4)
        f.write(b"7")  # the line's checksum fails now
    exp = xd.experiment()
    (problem,) = exp.check()
    assert problem.kind == "index" and "1 damaged line(s)" in problem.problem
    (repaired,) = exp.check(repair=True)
    assert "results() reads the record files" in repaired.repaired and not os.path.exists(log)
    assert sorted(r["n"] for r in exp.results()) == [0, 1, 2, 3]


def test_corrupt_run_and_fields_files_are_reported_and_set_aside(xd):
    run = xd.start_run("PiSweep")
    with open(run.path, "w") as f:
        f.write("")
    with open(os.path.join(xd.path, "fields.json"), "w") as f:
        f.write("[")
    exp = xd.experiment()
    assert sorted(p.kind for p in exp.check()) == ["fields", "run"]
    assert all(p.repaired for p in exp.check(repair=True))
    assert exp.check() == [] and dict(exp.fields) == {}


def test_corrupt_artifact_is_quarantined_by_key(xd):
    exp = xd.experiment()
    key = "01" + "a" * 30
    with open(os.path.join(exp.cache.path(key), "data.json"), "w") as f:
        f.write("9")
    (problem,) = exp.check()
    assert (problem.kind, problem.key) == ("artifact", key)
    assert exp.check(artifacts=False) == []
    (repaired,) = exp.check(repair=True)
    assert "recomputed when needed" in repaired.repaired and not exp.cache.has(key)


def test_unused_artifacts_are_those_no_record_refers_to(xd):
    exp = xd.experiment()
    assert exp.unused_artifacts() == []
    assert len(exp.artifacts_in_use()) == 4

    def write(folder: str) -> None:
        with open(os.path.join(folder, "data.json"), "w") as f:
            f.write("0")

    exp.cache.save("ff" * 16, {"stage": "old"}, write)
    assert exp.unused_artifacts() == ["ff" * 16]


def test_unused_artifacts_are_unknown_while_a_record_is_unreadable(xd):
    with open(xd.record_path("main", param_key({"n": 0})), "w") as f:
        f.write("")
    with pytest.raises(CorruptEntryError):
        xd.experiment().unused_artifacts()


def test_recent_results_read_only_the_ends_of_the_index_logs(tmp_path, monkeypatch):
    monkeypatch.setattr(results_module, "_TAIL_CHUNK", 300)  # a few lines per read
    xd = ExperimentDir.create_or_open(tmp_path / "log")
    old = _utc(time.time() - 3600)
    for n in range(30):
        xd.write_record("main", param_key({"n": n}), {"params": {"n": n}, "ended": old})
    now = _utc(time.time())
    for n in range(30, 33):
        xd.write_record("main", param_key({"n": n}), {"params": {"n": n}, "ended": now})
    recent = xd.experiment().recent_results(600)
    assert sorted(r["n"] for r in recent) == [30, 31, 32]
    assert len(xd.experiment().recent_results(7200)) == 33
