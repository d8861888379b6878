"""The examples run as documented, in a quick mode."""

from __future__ import annotations

import collections
import os
import subprocess
import sys

import pytest

import sweepstack

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLES = os.path.join(REPO, "examples")


def run_example(name, *args, cwd, timeout=300):
    result = subprocess.run(
        [sys.executable, os.path.join(EXAMPLES, name), *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def _stage_statuses(records, name):
    return collections.Counter(
        s["status"] for r in records for s in r["stages"] if s["name"] == name
    )


@pytest.mark.timeout(300)
def test_pi_sweep_runs_each_draw_once_and_a_rerun_computes_nothing(tmp_path):
    run_example("pi_sweep.py", "-c", "pi", "--max-n", "2000", cwd=tmp_path)
    experiment = sweepstack.open(tmp_path / "pi")
    records = list(experiment.records())
    assert len(records) == 45 and {r["status"] for r in records} == {"done"}
    # draw is keyed by n and seed only: 5 x 3 distinct point sets, shared by the 3 estimators
    assert _stage_statuses(records, "draw")["run"] == 15
    # estimate declares "estimator" and "strata": every combination has its own
    assert _stage_statuses(records, "estimate") == {"run": 45}
    assert all(0 <= r["fields"]["error"] < 1 for r in records)
    results = experiment.results()
    assert {"n", "seed", "estimator", "error", "status"} <= set(results[0])
    # continuing with nothing left to do: a new run, and no stage runs
    run_example("pi_sweep.py", "-c", "pi", "--max-n", "2000", cwd=tmp_path)
    assert [r.status for r in sweepstack.open(tmp_path / "pi").runs] == ["complete", "complete"]
    assert sweepstack.open(tmp_path / "pi").runs[1].document["combinations"] == {
        "done": 0,
        "failed": 0,
    }


@pytest.mark.timeout(300)
def test_pi_sweep_each_factor_changes_the_result(tmp_path):
    run_example("pi_sweep.py", "-c", "pi", "--max-n", "2000", "--no-progress", cwd=tmp_path)
    rows = list(sweepstack.open(tmp_path / "pi").results())
    assert len(rows) == 45
    error = {(r["n"], r["seed"], r["estimator"], r.get("strata")): r["error"] for r in rows}
    settings = [("plain", None), ("stratified", 4), ("stratified", 16)]
    sizes, seeds = sorted({r["n"] for r in rows}), [0, 1, 2]

    def differs(vary):
        """How many groups, all else fixed, have distinct errors across ``vary``'s levels."""
        groups = collections.defaultdict(list)
        for (n, seed, estimator, strata), value in error.items():
            rest = {"n": n, "seed": seed, "setting": (estimator, strata)}
            rest.pop(vary)
            groups[tuple(rest.values())].append(value)
        return sum(len(set(values)) > 1 for values in groups.values()), len(groups)

    # each factor changes the result for most settings of the others (a coincidence, two
    # estimates with the same count of points inside, may tie a few)
    for vary, groups in (("setting", 15), ("n", 9), ("seed", 15)):
        changed, total = differs(vary)
        assert total == groups and changed >= total - 2, (vary, changed, total)
    # the three estimator settings give different errors overall, not one line in the plot
    means = {s: sum(error[(n, seed, *s)] for n in sizes for seed in seeds) / 15 for s in settings}
    assert len(set(means.values())) == 3


@pytest.mark.timeout(300)
def test_pi_sweep_with_two_workers_finishes_every_combination(tmp_path):
    run_example(
        "pi_sweep.py",
        "-c",
        "pi",
        "--max-n",
        "2000",
        "--workers",
        "2",
        "--no-progress",
        cwd=tmp_path,
    )
    records = list(sweepstack.open(tmp_path / "pi").records())
    assert len(records) == 45 and {r["status"] for r in records} == {"done"}


@pytest.mark.timeout(300)
def test_ml_sweep_quick_records_metrics_and_a_comparison(tmp_path):
    pytest.importorskip(
        "sklearn", reason="the ML example needs scikit-learn (pip install -e .[examples])"
    )
    run_example("ml_sweep.py", "-c", "ml", "--quick", cwd=tmp_path)
    experiment = sweepstack.open(tmp_path / "ml")
    records = list(experiment.records("main"))
    assert len(records) == 6 and all(0.5 < r["fields"]["accuracy"] <= 1 for r in records)
    # one data set and one seed: loaded and split once; later combinations hit the split
    # and so need the loaded data neither run nor read
    assert _stage_statuses(records, "split") == {"run": 1, "hit": 5}
    assert _stage_statuses(records, "load") == {"run": 1, "skipped": 5}
    (comparison,) = experiment.records("aggregates")
    assert comparison["status"] == "done" and comparison["name"] == "comparison"
    assert comparison["fields"]["best"]["wine"]
    assert any(r["kind"] == "figure" for r in comparison["reportables"])
    # a rerun: every stage is cached, the comparison too
    run_example("ml_sweep.py", "-c", "ml", "--quick", cwd=tmp_path)
    (again,) = sweepstack.open(tmp_path / "ml").records("aggregates")
    assert {s["status"] for s in again["stages"]} == {"hit"}


@pytest.mark.timeout(120)
def test_execo_port_runs_the_execo_loop_and_continues(tmp_path):
    run_example("execo_port.py", "-c", "port", "--sizes", "100", "1000", cwd=tmp_path)
    outputs = [n for n in os.listdir(tmp_path / "port") if n.endswith(".txt")]
    assert len(outputs) == 12
    sweeper = sweepstack.ParamSweeper(str(tmp_path / "port" / "sweeps"))
    assert sweeper.counts()["done"] == 12
    run_example("execo_port.py", "-c", "port", "--sizes", "100", "1000", "10000", cwd=tmp_path)
    assert sweepstack.ParamSweeper(str(tmp_path / "port" / "sweeps")).counts()["done"] == 18
