"""Cached stages over a sweep: sweepstack's dag vs curifactory, on the workload of issue 9.

Three stages, load -> train -> evaluate, each ~0.1 ms of work, over K combinations
with 5 datasets, 10 models and K thresholds (K = 1,000; 200 with --quick):
``load`` declares ``dataset``, ``train`` ``dataset`` and ``model``, ``evaluate``
``threshold``. sweepstack runs each stage once per distinct declared params
(5, 10, K); curifactory keys every stage by the whole parameter set (K, K, K).
Both use pickle cachers. curifactory is driven through its ArtifactManager, as in a
notebook (no DAG), and measured once per phase: it is slow, and its parameter
registry grows with every run.
"""

from __future__ import annotations

import collections
import dataclasses
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

from benchmarks._common import Result, import_quietly, median_time
from sweepstack.dag import PickleCacher, Record, stage
from sweepstack.store._cache import ArtifactCache

SCENARIO = "dag: cached stages over a sweep"
COUNTS: collections.Counter[str] = collections.Counter()
WORK = 1e-4


def _work() -> None:
    end = time.perf_counter() + WORK
    while time.perf_counter() < end:
        pass


def _combinations(k: int, shift: float = 0.0) -> list[dict[str, Any]]:
    return [{"dataset": i % 5, "model": i % 10, "threshold": i / k + shift} for i in range(k)]


# --- sweepstack --------------------------------------------------------------------------


@stage(outputs=["data"], cachers=[PickleCacher], params=["dataset"])
def load(record):
    COUNTS["load"] += 1
    _work()
    return list(range(100 + record.params["dataset"]))


@stage(inputs=["data"], outputs=["model"], cachers=[PickleCacher], params=["dataset", "model"])
def train(record, data):
    COUNTS["train"] += 1
    _work()
    return {"weight": sum(data) * (record.params["model"] + 1)}


@stage(inputs=["model"], outputs=["score"], cachers=[PickleCacher], params=["threshold"])
def evaluate(record, model):
    COUNTS["evaluate"] += 1
    _work()
    score = model["weight"] * record.params["threshold"]
    record.fields["score"] = score
    return score


def _ours(root: str, combinations: list[dict[str, Any]], eager: bool = False) -> None:
    cache = ArtifactCache(root)
    for params in combinations:
        evaluate(train(load(Record(params, cache=cache, id_run="bench", eager=eager)))).resolve()


# --- curifactory -------------------------------------------------------------------------


def _curifactory(cf: Any) -> tuple[Any, Any]:
    from curifactory.caching import PickleCacher as CfPickle

    @dataclasses.dataclass
    class Params(cf.ExperimentParameters):
        dataset: int = 0
        model: int = 0
        threshold: float = 0.0

    @cf.stage(outputs=["data"], cachers=[CfPickle])
    def cf_load(record):
        COUNTS["load"] += 1
        _work()
        return list(range(100 + record.params.dataset))

    @cf.stage(inputs=["data"], outputs=["model"], cachers=[CfPickle])
    def cf_train(record, data):
        COUNTS["train"] += 1
        _work()
        return {"weight": sum(data) * (record.params.model + 1)}

    @cf.stage(inputs=["model"], outputs=["score"], cachers=[CfPickle])
    def cf_evaluate(record, model):
        COUNTS["evaluate"] += 1
        _work()
        return model["weight"] * record.params.threshold

    def run(root: str, combinations: list[dict[str, Any]]) -> float:
        os.makedirs(os.path.join(root, "manager"), exist_ok=True)
        manager = cf.ArtifactManager(
            "bench",
            cache_path=os.path.join(root, "cache"),
            manager_cache_path=os.path.join(root, "manager"),
            runs_path=os.path.join(root, "runs"),
            logs_path=os.path.join(root, "logs"),
            reports_path=os.path.join(root, "reports"),
            suppress_live_log=True,
        )
        start = time.perf_counter()
        for i, params in enumerate(combinations):
            record = cf.Record(manager, Params(name=f"p{i}", **params))
            cf_evaluate(cf_train(cf_load(record)))
        return time.perf_counter() - start

    return Params, run


# --- measuring ---------------------------------------------------------------------------


def _counted(fn: Any) -> tuple[float, tuple[int, int, int]]:
    COUNTS.clear()
    start = time.perf_counter()
    fn()
    elapsed = time.perf_counter() - start
    return elapsed, (COUNTS["load"], COUNTS["train"], COUNTS["evaluate"])


def _import_time(module: str, repeats: int) -> float:
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
    times = []
    for _ in range(repeats):
        out = subprocess.run(
            [sys.executable, "-W", "ignore", "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env=env,
        )
        times.append(float(out.stdout.strip().splitlines()[-1]))
    return min(times)


def run(quick: bool) -> list[Result]:
    k = 200 if quick else 1000
    repeats = 1 if quick else 3
    first = _combinations(k)
    changed = _combinations(k, shift=10.0)
    cf = import_quietly("curifactory")
    results: list[Result] = []
    work = f"K={k}, ~{WORK * 1e3:.1f} ms of work per stage"

    # sweepstack: the first run on fresh caches; the other phases on the last of them
    roots: list[str] = []
    first_times = []
    for _ in range(repeats):
        roots.append(tempfile.mkdtemp(prefix="bench-dag-"))
        elapsed, ours_first_counts = _counted(lambda: _ours(roots[-1], first))
        first_times.append(elapsed)
    ours_first = statistics.median(first_times)
    ours_root = roots[-1]
    _, ours_rerun_counts = _counted(lambda: _ours(ours_root, first))
    ours_rerun = median_time(lambda: _ours(ours_root, first), repeats)
    ours_eager = median_time(lambda: _ours(ours_root, first, eager=True), repeats)
    ours_change, ours_change_counts = _counted(lambda: _ours(ours_root, changed))

    theirs: dict[str, Any] = {}
    if cf is not None:
        _, cf_run = _curifactory(cf)
        cf_root = tempfile.mkdtemp(prefix="bench-dag-cf-")
        roots.append(cf_root)
        cwd = os.getcwd()
        os.chdir(cf_root)  # curifactory looks for its config in the working directory
        try:
            COUNTS.clear()
            theirs["first"] = cf_run(cf_root, first)
            theirs["first_counts"] = (COUNTS["load"], COUNTS["train"], COUNTS["evaluate"])
            COUNTS.clear()
            theirs["rerun"] = cf_run(cf_root, first)
            theirs["rerun_counts"] = (COUNTS["load"], COUNTS["train"], COUNTS["evaluate"])
            COUNTS.clear()
            theirs["change"] = cf_run(cf_root, changed)
            theirs["change_counts"] = (COUNTS["load"], COUNTS["train"], COUNTS["evaluate"])
        finally:
            os.chdir(cwd)

    def counts(case: str, ours: tuple[int, int, int], key: str, goal: str) -> None:
        their = theirs.get(key)
        results.append(
            Result(
                SCENARIO,
                f"stage executions, {case} (load, train, evaluate)",
                sum(ours),
                sum(their) if their else None,
                competitor="curifactory",
                unit="runs",
                goal=goal,
                notes=f"ours {ours}" + (f", curifactory {their}" if their else ""),
            )
        )

    counts("first run", ours_first_counts, "first_counts", f"(5, 10, {k})")
    counts("rerun", ours_rerun_counts, "rerun_counts", "(0, 0, 0)")
    counts("evaluation param changed", ours_change_counts, "change_counts", f"(0, 0, {k})")
    results.append(
        Result(
            SCENARIO,
            f"whole first run ({work})",
            ours_first,
            theirs.get("first"),
            competitor="curifactory",
            goal=">= 20x faster than curifactory",
        )
    )
    results.append(
        Result(
            SCENARIO,
            f"whole rerun, everything cached ({work})",
            ours_rerun,
            theirs.get("rerun"),
            competitor="curifactory",
        )
    )
    results.append(
        Result(
            SCENARIO,
            f"whole run after the evaluation param changed ({work})",
            ours_change,
            theirs.get("change"),
            competitor="curifactory",
        )
    )
    per_stage_theirs = theirs["rerun"] / (3 * k) if "rerun" in theirs else None
    results.append(
        Result(
            SCENARIO,
            "overhead per stage on a cache hit (rerun / stage calls)",
            ours_rerun / (3 * k),
            per_stage_theirs,
            competitor="curifactory",
            goal="<= 0.3 ms",
            notes="ours: the cached leaf alone is checked, upstream stages are skipped",
        )
    )
    results.append(
        Result(
            SCENARIO,
            "overhead per stage on a cache hit, every stage checked (eager mode)",
            ours_eager / (3 * k),
            per_stage_theirs,
            competitor="curifactory",
            goal="<= 0.3 ms",
            notes="one metadata read per stage, nothing loaded",
        )
    )
    results.append(
        Result(
            SCENARIO,
            "import time (fresh interpreter)",
            _import_time("sweepstack", 5),
            _import_time("curifactory", 3) if cf is not None else None,
            competitor="curifactory",
            goal="import sweepstack < 0.2 s",
        )
    )
    for root in roots:
        shutil.rmtree(root, ignore_errors=True)
    return results
