"""Stage leases: stage executions and wall time with N local workers (issue 13).

Each figure runs an engine script with ``--workers N`` on a fresh experiment folder
and counts, from the records, the stages each combination *executed* (a stage that
another process computed while this one waited counts as a hit). Ideal counts are
one execution per output key, what a single worker does:

- the dag benchmark's workload (K combinations, 5 datasets, 10 models): (5, 10, K);
- ``examples/pi_sweep.py`` (45 combinations): draw 15, estimate 30;
- three stages a (2 levels) -> b (3) -> c (4) with a and b sleeping 1 s: (2, 6, 24).

Before stage leases, 4 workers executed the three-stage experiment's a 8 times and b
24 times, and 2 workers ran pi_sweep's draw 30-31 times (issue 13).
"""

from __future__ import annotations

import collections
import os
import shutil
import subprocess
import sys
import tempfile
import time

from benchmarks._common import Result

SCENARIO = "stage leases: N workers share upstream stages"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run(argv: list[str], timeout: float = 600) -> float:
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, *argv, "--no-progress"],
        check=True,
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        timeout=timeout,
    )
    return time.perf_counter() - start


def _executions(path: str) -> collections.Counter[str]:
    import sweepstack

    counts: collections.Counter[str] = collections.Counter()
    for record in sweepstack.open(path).records():
        for entry in record.get("stages") or ():
            if entry.get("status") == "run":
                counts[entry["name"]] += 1
    return counts


def _working(path: str) -> float:
    """Seconds from the first worker's start to the last one's end (no launcher, no exit)."""
    import datetime

    import sweepstack

    def seconds(text: str) -> float:
        return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()

    runs = [r.document for r in sweepstack.open(path).runs if r.get("role") != "launcher"]
    return max(seconds(r["ended"]) for r in runs) - min(seconds(r["started"]) for r in runs)


def _measure(
    script: list[str], workers: int, *options: str
) -> tuple[float, collections.Counter[str], float]:
    """Wall time of the whole command, stage executions, and the workers' working time."""
    folder = tempfile.mkdtemp(prefix="bench-leases-")
    try:
        path = os.path.join(folder, "exp")
        argv = [*script, "-c", path, *options]
        if workers > 1:
            argv += ["--workers", str(workers)]
        elapsed = _run(argv)
        return elapsed, _executions(path), _working(path)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _load() -> str:
    return f"load {os.getloadavg()[0]:.1f}"


def run(quick: bool) -> list[Result]:
    results: list[Result] = []
    k = 100 if quick else 200
    dag = [os.path.join("benchmarks", "_lease_engines.py"), "dag", "--k", str(k)]
    pi = [os.path.join("examples", "pi_sweep.py"), "--max-n", "20000"]
    counts_of = {
        "dag": (dag, ("load", "train", "evaluate"), (5, 10, k)),
        "pi_sweep": (pi, ("draw", "estimate"), (15, 30)),
    }
    for label, (script, stages, ideal) in counts_of.items():
        for workers in (1, 2, 4, 8, 16) if not quick else (1, 4, 16):
            elapsed, counts, _ = _measure(script, workers)
            ours = tuple(counts[s] for s in stages)
            results.append(
                Result(
                    SCENARIO,
                    f"{label}, {workers} worker(s): stage executions ({', '.join(stages)})",
                    sum(ours),
                    sum(ideal),
                    competitor="ideal",
                    unit="runs",
                    goal=f"= ideal {ideal}",
                    notes=f"ours {ours}; whole run {elapsed:.1f} s, {_load()}",
                )
            )

    three = [os.path.join("benchmarks", "_lease_engines.py"), "three", "--work", "1"]
    for work_c in ("0", "1"):
        one, _, one_working = _measure(three, 1, "--work-c", work_c)
        for order in ("spread", "sweep order"):
            extra = ["--sweep-order"] if order == "sweep order" else []
            four, counts4, working = _measure(three, 4, "--work-c", work_c, *extra)
            runs = tuple(counts4[s] for s in ("stage_a", "stage_b", "stage_c"))
            results.append(
                Result(
                    SCENARIO,
                    f"three stages (a, b sleep 1 s; c {work_c} s), 4 workers claiming in "
                    f"{order} vs 1 worker: wall time",
                    four,
                    one,
                    competitor="1 worker",
                    goal="<= 1/3 of one worker's time (ratio >= 3)",
                    notes=f"executions {runs}; working time (first worker start to last "
                    f"worker end) {working:.1f} s vs {one_working:.1f} s; {_load()}",
                )
            )
    return results
