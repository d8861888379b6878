"""Many processes writing one store at once, and processes killed mid-write."""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import signal
import subprocess
import sys
import time

import pytest

from sweepstack.store import ExperimentDir
from sweepstack.store import open as open_experiment
from tests.store import _workers

SHARED = [f"f{i:x}" * 16 for i in range(5)]  # own keys are decimal digits: no overlap


def _every_document(root: str) -> list[str]:
    """Paths of every visible JSON document under ``root`` (temporary names excluded)."""
    found = []
    for folder, _, names in os.walk(root):
        found += [
            os.path.join(folder, n) for n in names if n.endswith(".json") and not n.startswith(".")
        ]
    return found


def _assert_all_parse(root: str) -> int:
    paths = _every_document(root)
    for path in paths:
        with open(path, "rb") as f:
            data = f.read()
        assert data.endswith(b"\n"), f"partial file {path}"
        json.loads(data)
    return len(paths)


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_eight_processes_adding_runs_and_records_at_once_lose_and_corrupt_nothing(tmp_path):
    path = str(tmp_path / "exp")
    jobs = [(path, worker, 3, 30, SHARED) for worker in range(8)]
    with multiprocessing.get_context("spawn").Pool(8) as pool:
        reports = pool.starmap(_workers.add_runs_and_records, jobs)

    numbers = sorted(n for report in reports for n in report["numbers"])
    assert numbers == list(range(1, 25)), "run numbers are unique and dense"

    exp = open_experiment(path)
    assert [r.status for r in exp.runs] == ["complete"] * 24
    results = exp.results()
    assert results.errors == []
    by_key = {row["key"]: row for row in results}
    written = {key: value for report in reports for key, value in report["written"].items()}
    assert len(written) == 8 * 3 * 30
    assert set(by_key) == set(written) | set(SHARED), "nothing lost, nothing invented"
    assert all(by_key[key]["value"] == value for key, value in written.items())
    # where writers raced on one key, the table shows what the file holds
    xd = ExperimentDir.open(path)
    for key in SHARED:
        assert by_key[key]["attempt"] == xd.read_record("main", key)["attempt"] <= 24
    assert results == exp.results(verify=True)
    assert _assert_all_parse(path) == 1 + 24 + len(by_key)
    assert len(os.listdir(os.path.join(path, "records", "main", "_log"))) == 8


_WRITER = r"""
import os, random, sys
sys.path.insert(0, sys.argv[2])
from sweepstack.store import ExperimentDir
xd = ExperimentDir.create_or_open(sys.argv[1])
rng = random.Random(os.getpid())
run = xd.start_run("Crash", argv=["crash.py"])
print("ready", flush=True)
i = 0
while True:
    key = "%02x" % rng.randrange(64) * 16
    fields = {"i": i, "pad": "x" * rng.randrange(1, 20000)}
    xd.write_record("main", key, {"params": {"k": key}, "status": "done", "fields": fields})
    if i % 7 == 0:
        run.update(progress=i, pad="y" * rng.randrange(1, 20000))
    if i % 25 == 0:
        run = xd.start_run("Crash", argv=["crash.py"])
    i += 1
"""


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_sigkill_during_writes_leaves_no_partial_file_visible(tmp_path, python_env):
    path = str(tmp_path / "exp")
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    rng = random.Random(1)
    for round_ in range(6):
        with subprocess.Popen(
            [sys.executable, "-c", _WRITER, path, repo],
            stdout=subprocess.PIPE,
            text=True,
            env=python_env,
        ) as proc:
            assert proc.stdout.readline().strip() == "ready"
            time.sleep(rng.uniform(0.05, 0.4))
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
        _assert_all_parse(path)
        exp = open_experiment(path)
        results = exp.results()
        assert results.errors == [], f"round {round_}: {results.errors}"
        assert results == exp.results(verify=True), "the index agrees with the files"
        numbers = [run.number for run in exp.runs]
        assert numbers == list(range(1, len(numbers) + 1))


_STEADY_WRITER = r"""
import sys
sys.path.insert(0, sys.argv[2])
from sweepstack.store import ExperimentDir
xd = ExperimentDir.create_or_open(sys.argv[1])
for i in range(int(sys.argv[3])):
    xd.write_record("main", "%032x" % (i + 1), {"params": {"i": i}, "status": "done"})
"""


@pytest.mark.timeout(120)
def test_results_can_be_read_while_records_are_being_written(tmp_path, python_env):
    path = str(tmp_path / "exp")
    exp = ExperimentDir.create_or_open(path).experiment()
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    counts = []
    with subprocess.Popen(
        [sys.executable, "-c", _STEADY_WRITER, path, repo, "400"], env=python_env
    ) as proc:
        while proc.poll() is None:
            results = exp.results()
            assert results.errors == []
            assert all(row["i"] == int(row["key"], 16) - 1 for row in results)
            counts.append(len(results))
    assert proc.returncode == 0
    assert counts == sorted(counts), "a reader never sees a record disappear"
    assert len(exp.results()) == 400
