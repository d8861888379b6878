"""Results over time: a record keeps its earlier attempts; history and compare read them."""

from __future__ import annotations

import json
import os
import sqlite3
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sweepstack
from sweepstack import param_key
from sweepstack.errors import UnknownRunError
from sweepstack.report import report_html
from sweepstack.store import ExperimentDir
from sweepstack.store._records import RecordStore
from tests.cli.experiments import command, run_script

KEYS = [param_key({"n": n}) for n in range(3)]


def _stage(name: str, code: str, version: str | None = None) -> dict:
    return {"name": name, "code": code, "version": version, "status": "run"}


def _write(xd, key, n, run, status="done", error=0.1, code="c0"):
    return xd.write_record(
        "main",
        key,
        {
            "params": {"n": n},
            "status": status,
            "run": run,
            "fields": {"error": error, "model": {"depth": n}},
            "stages": [_stage("fit", code), _stage("score", "s0", version="2")],
            "started": "2026-01-01T00:00:00Z",
            "ended": "2026-01-01T00:00:01Z",
            "exception": {"type": "ValueError", "message": "bad", "traceback": "..."}
            if status == "failed"
            else None,
        },
    )


@pytest.fixture
def xd(tmp_path):
    return ExperimentDir.create_or_open(tmp_path / "exp")


def _runs(xd, count):
    return [xd.start_run("E").reference for _ in range(count)]


def test_a_rewritten_record_keeps_its_earlier_attempts_with_run_fields_code_and_time(xd):
    _write(xd, KEYS[0], 0, "E_1", error=0.5, code="c0")
    _write(xd, KEYS[0], 0, "E_2", status="failed", code="c1")
    stored = _write(xd, KEYS[0], 0, "E_3", error=0.25, code="c1")
    assert stored["attempt"] == 3
    first, second = stored["history"]
    assert (first["attempt"], first["run"], first["status"]) == (1, "E_1", "done")
    assert first["fields"] == {"error": 0.5, "model": {"depth": 0}}
    assert first["code"] == {"fit": "c0", "score": "2"}  # version= replaces the fingerprint
    assert first["written"] and first["started"] == "2026-01-01T00:00:00Z"
    assert second["status"] == "failed"
    assert second["exception"] == {"type": "ValueError", "message": "bad"}  # no traceback
    assert xd.read_record("main", KEYS[0])["history"] == stored["history"]


_attempt = st.fixed_dictionaries(
    {
        "status": st.sampled_from(["done", "failed"]),
        "run": st.sampled_from(["E_1", "E_2", "E_3"]),
        "error": st.floats(allow_nan=False, allow_infinity=False, width=32),
        "code": st.sampled_from(["c0", "c1"]),
    }
)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(attempts=st.lists(_attempt, min_size=1, max_size=6))
def test_every_write_of_a_key_is_kept_in_order_and_history_lists_the_done_ones(
    tmp_path_factory, attempts
):
    xd = ExperimentDir.create_or_open(tmp_path_factory.mktemp("exp"))
    store = RecordStore(os.path.join(xd.path, "records"))  # no fsync: many examples
    for a in attempts:
        document = {
            "params": {"n": 0},
            "status": a["status"],
            "run": a["run"],
            "fields": {"error": a["error"]},
            "stages": [_stage("fit", a["code"])],
        }
        stored = store.write("main", KEYS[0], document, fsync=False)
    kept = [*stored["history"], stored]
    assert [(e["run"], e["status"], e["fields"]["error"]) for e in kept] == [
        (a["run"], a["status"], a["error"]) for a in attempts
    ]
    assert [e["attempt"] for e in kept] == list(range(1, len(attempts) + 1))
    rows = sweepstack.open(xd.path).history()
    done = [a for a in attempts if a["status"] == "done"]
    assert [(r["run"], r["error"], r["code.fit"]) for r in rows] == [
        (a["run"], a["error"], a["code"]) for a in done
    ]


def test_a_first_write_has_an_empty_history(xd):
    assert _write(xd, KEYS[0], 0, "E_1")["history"] == []


def test_a_rewrite_over_an_unreadable_record_starts_a_new_history(xd):
    _write(xd, KEYS[0], 0, "E_1")
    with open(xd.record_path("main", KEYS[0]), "w") as f:
        f.write("{torn")
    stored = _write(xd, KEYS[0], 0, "E_2")
    assert stored["attempt"] == 2 and stored["history"] == []


def test_history_gives_one_row_per_completed_attempt_oldest_first(xd):
    for run, error in (("E_1", 0.5), ("E_2", 0.4)):
        for n, key in enumerate(KEYS):
            _write(xd, key, n, run, error=error + n)
    _write(xd, KEYS[1], 1, "E_3", status="failed")
    rows = sweepstack.open(xd.path).history()
    assert len(rows) == 6  # the failed attempt is not a completed one
    by_key = {}
    for r in rows:
        by_key.setdefault(r["n"], []).append((r["run"], r["attempt"], r["error"]))
    assert by_key[0] == [("E_1", 1, 0.5), ("E_2", 2, 0.4)]
    assert by_key[1] == [("E_1", 1, 1.5), ("E_2", 2, 1.4)]
    assert rows[0]["code.fit"] == "c0" and rows[0]["model.depth"] == 0
    with_failed = sweepstack.open(xd.path).history(failed=True)
    assert [r["status"] for r in with_failed if r["n"] == 1][-1] == "failed"


def test_compare_lists_the_fields_that_changed_between_two_runs(xd):
    a, b, c = _runs(xd, 3)
    for n, key in enumerate(KEYS):
        _write(xd, key, n, a, error=0.5)
    _write(xd, KEYS[0], 0, b, error=0.5)  # unchanged
    _write(xd, KEYS[1], 1, b, error=0.25)  # changed
    rows, counts = sweepstack.open(xd.path).compare(1, b)
    assert counts == {"both": 2, "only_a": 1, "only_b": 0, "changed": 1}
    assert [(r["n"], r["field"], r["a"], r["b"]) for r in rows] == [(1, "error", 0.5, 0.25)]
    _, counts = sweepstack.open(xd.path).compare(a, c)
    assert counts == {"both": 0, "only_a": 3, "only_b": 0, "changed": 0}


def test_compare_of_an_unknown_run_names_the_known_ones(xd):
    a = _runs(xd, 1)[0]
    with pytest.raises(UnknownRunError) as caught:
        sweepstack.open(xd.path).compare(1, 9)
    assert "'9'" in str(caught.value) and a in str(caught.value)


def test_rewrite_cost_does_not_grow_with_the_number_of_records(tmp_path):
    # history rides in the record itself: a write reads and writes one record's file
    def cost(records: int) -> float:
        store = RecordStore(str(tmp_path / f"records{records}"))
        keys = [param_key({"n": n}) for n in range(records)]
        for n, key in enumerate(keys):
            store.write("main", key, {"params": {"n": n}, "status": "done"}, fsync=False)
        timings = []
        for _ in range(3):  # the fastest of three: a busy machine slows some, never speeds
            start = time.perf_counter()
            for key in keys[:100]:
                store.write("main", key, {"params": {}, "status": "done"}, fsync=False)
            timings.append(time.perf_counter() - start)
        return min(timings)

    small, large = cost(100), cost(2000)
    assert large < 3 * small + 0.05, (small, large)


@pytest.fixture
def rerun(tmp_path):
    """An engine run twice over the same combinations, with a field changed by an option."""
    path = str(tmp_path / "exp")
    script = os.path.join(os.path.dirname(__file__), "..", "engine", "engines.py")
    for extra in ((), ("--overwrite",)):
        run_script(script, "Counting", "-c", path, "--n", "3", "--no-progress", *extra)
        if not extra:
            assert command("reset", path, "--done").returncode == 0
    return path


def test_results_history_and_compare_commands(rerun, tmp_path):
    done = command("results", rerun, "--history", "--json")
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert sorted((r["i"], r["attempt"]) for r in rows) == [
        (i, a) for i in range(3) for a in (1, 2)
    ]
    assert all(r["code.compute"] and r["code.halve"] for r in rows)
    table = command("results", rerun, "--history")
    assert "attempt" in table.stdout and "6 row(s)" in table.stdout
    db = str(tmp_path / "h.db")
    assert command("results", rerun, "--history", "--sqlite", db).returncode == 0
    with sqlite3.connect(db) as connection:
        assert connection.execute("select count(*) from history").fetchone() == (6,)
    same = command("compare", rerun, "1", "2")
    assert same.returncode == 0, same.stderr
    assert "0 of 3 combination(s) done in both runs changed" in same.stdout
    unknown = command("compare", rerun, "1", "7")
    assert unknown.returncode == 2 and "no run '7'" in unknown.stderr


def test_the_report_shows_what_changed_since_the_previous_launch(tmp_path, monkeypatch):
    # a field that depends on the environment: CUDA_VISIBLE_DEVICES recorded by each worker
    path = str(tmp_path / "exp")
    script = os.path.join(os.path.dirname(__file__), "..", "engine", "engines.py")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "7")
    run_script(script, "Devices", "-c", path, "--n", "3", "--no-progress")
    assert command("reset", path, "--done").returncode == 0
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1")
    run_script(
        script, "Devices", "-c", path, "--n", "4", "--no-progress", "--overwrite",
        "--workers", "2", "--gpus-per-worker", "1",
    )  # fmt: skip
    page = report_html(path)
    runs = sweepstack.open(path).runs
    first = runs[0].reference
    launcher = next(r.reference for r in runs if r.get("role") == "launcher")
    # a launch with --workers is one run for compare too, named by any of its runs
    worker = next(r.number for r in runs if r.get("parent") == launcher)
    _, counts = sweepstack.open(path).compare(1, worker)
    assert counts == {"both": 3, "only_a": 0, "only_b": 1, "changed": 3}
    done = command("compare", path, "1", launcher, "--json")
    assert json.loads(done.stdout)["run_b"] == launcher, done.stderr
    assert "Changes since the previous run" in page
    assert f"Run <code>{launcher}</code> against the previous run <code>{first}</code>" in page
    assert "3 of 3 combination(s) completed in both changed; 1 completed only in the latest" in page
    assert (
        "<td>cuda</td><td>7</td><td>0</td>" in page or "<td>cuda</td><td>7</td><td>1</td>" in page
    )
