"""Bookkeeping at the physical floor (issue 16), side by side with execo_engine, MLtraq
and labtech: what one finished combination costs to keep.

Each figure is measured in fresh processes (``python -m benchmarks.bench_books --case
NAME DIR``), timed inside them, so interpreter start-up is left out for every tool
alike. ``--before PATH`` also runs our cases against another checkout of sweepstack
(for "x times faster than before").
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from typing import Any

from benchmarks._common import Result, import_quietly
from sweepstack import stage

SCENARIO = "Bookkeeping: one durable write per combination"
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = 10_000
K = 1_000


# --- the cases, each run in a fresh process --------------------------------------------------


def _ours_tiny(folder: str, n: int) -> float:
    """An Engine sweep of n steps setting 3 fields; reopen, query, DataFrame."""
    import pandas  # noqa: F401  (imported before the clock, as MLtraq imports it)

    from sweepstack import Engine, sweep
    from sweepstack import open as open_experiment

    class Tiny(Engine):
        def run(self) -> None:
            sweeper = self.sweeper(sweep({"i": list(range(n))}))
            for record in self.records(sweeper):
                i = record.params["i"]
                record.fields["a"] = i
                record.fields["b"] = i * 2.0
                record.fields["c"] = str(i)

    start = time.perf_counter()
    Tiny().start(["-c", os.path.join(folder, "exp"), "--no-progress", "-l", "WARNING"])
    frame = open_experiment(os.path.join(folder, "exp")).results().to_dataframe()
    assert len(frame[frame["a"] >= n // 2]) == n - n // 2
    return time.perf_counter() - start


def _mltraq_tiny(folder: str, n: int) -> float:
    """MLtraq: execute the same steps, persist, reload, query, DataFrame."""
    os.environ["TQDM_DISABLE"] = "1"
    import mltraq

    def step(run: Any) -> None:
        i = run.params.i
        run.fields.a = i
        run.fields.b = i * 2.0
        run.fields.c = str(i)

    start = time.perf_counter()
    session = mltraq.create_session(f"sqlite:///{folder}/mltraq.db")
    experiment = session.create_experiment("tiny")
    experiment.add_runs(i=range(n))
    experiment.execute(step, n_jobs=1)
    experiment.persist()
    frame = session.load_experiment("tiny").runs.df()
    assert len(frame[frame["a"] >= n // 2]) == n - n // 2
    return time.perf_counter() - start


@stage(outputs=["data"], params=["i"])
def load(record: Any) -> list[int]:
    return list(range(record.params["i"] % 7 + 3))


@stage(inputs=["data"], outputs=["total"])
def total(record: Any, data: list[int]) -> int:
    record.fields["total"] = sum(data)
    return sum(data)


def _ours_rerun(folder: str, k: int) -> float:
    """A fully cached rerun of an Engine sweep of k two-stage combinations (after reset --done)."""
    from sweepstack import Engine, sweep

    class Chain(Engine):
        def run(self) -> None:
            sweeper = self.sweeper(sweep({"i": list(range(k))}))
            for record in self.records(sweeper):
                total(load(record))

    path = os.path.join(folder, "exp")
    argv = ["-c", path, "--no-progress", "-l", "WARNING"]
    if not os.path.isdir(path):
        Chain().start(argv)  # the first run computes everything
        return 0.0
    # every combination to do again, as after `sweepstack reset DIR --done`
    subprocess.run(
        [sys.executable, "-m", "sweepstack", "reset", path, "--done"],
        check=True,
        capture_output=True,
    )
    start = time.perf_counter()
    Chain().start(argv)
    return time.perf_counter() - start


def _ours_manager(folder: str, k: int) -> float:
    """A two-stage chain over k records through the ArtifactManager (cached on the rerun)."""
    from sweepstack import ArtifactManager

    start = time.perf_counter()
    with ArtifactManager("chain", os.path.join(folder, "exp")) as manager:
        for i in range(k):
            total(load(manager.record({"i": i})))
        manager.resolve()
    return time.perf_counter() - start


def _labtech_chain(folder: str, k: int) -> float:
    """labtech: the same chain as two task types (cached on the rerun)."""
    import labtech

    from benchmarks._labtech_chain import Load, Total

    start = time.perf_counter()
    lab = labtech.Lab(storage=os.path.join(folder, "labtech"), max_workers=1, notebook=False)
    results = lab.run_tasks([Total(load=Load(i=i)) for i in range(k)], disable_progress=True)
    assert len(results) == k
    return time.perf_counter() - start


CASES = {
    "ours_tiny": _ours_tiny,
    "mltraq_tiny": _mltraq_tiny,
    "ours_rerun": _ours_rerun,
    "ours_manager": _ours_manager,
    "labtech_chain": _labtech_chain,
}


def _case(name: str, folder: str, size: int, pythonpath: str = REPO) -> float:
    # run as a script (not -m from REPO), so that sweepstack is imported from
    # ``pythonpath`` first: another checkout for the "before" figures
    path = pythonpath if pythonpath == REPO else os.pathsep.join([pythonpath, REPO])
    env = {**os.environ, "PYTHONPATH": path, "TQDM_DISABLE": "1"}
    script = os.path.join(REPO, "benchmarks", "bench_books.py")
    out = subprocess.run(
        [sys.executable, script, "--case", name, folder, str(size)],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if out.returncode != 0:
        raise RuntimeError(f"{name} failed: {out.stderr[-2000:]}")
    return float(json.loads(out.stdout.strip().splitlines()[-1])["seconds"])


def _fresh(name: str, size: int, repeats: int, pythonpath: str = REPO, warm: bool = False) -> float:
    """Median over ``repeats`` fresh folders; ``warm``: run once first, time the rerun."""
    times = []
    for _ in range(repeats):
        folder = tempfile.mkdtemp(prefix=f"bench-books-{name}-")
        try:
            if warm:
                _case(name, folder, size, pythonpath)
            times.append(_case(name, folder, size, pythonpath))
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    return statistics.median(times)


# --- the figures --------------------------------------------------------------------------


def _tiny(quick: bool) -> list[Result]:
    n = 2_000 if quick else TINY
    if import_quietly("mltraq") is None:
        return []
    repeats = 1 if quick else 3
    ours = _fresh("ours_tiny", n, repeats)
    theirs = _fresh("mltraq_tiny", n, repeats)
    return [
        Result(
            SCENARIO,
            f"Engine sweep of {n:,} tiny steps setting 3 fields, reopen, query, DataFrame",
            ours,
            theirs,
            "MLtraq",
            goal="no slower than MLtraq",
            notes="ours: every done durable (fsynced) when acknowledged; MLtraq persists once at the end",
        )
    ]


def _reruns(quick: bool, before: str | None) -> list[Result]:
    k = 200 if quick else K
    repeats = 1 if quick else 3
    results = []
    ours = _fresh("ours_rerun", k, repeats, warm=True)
    if before:
        previous = _fresh("ours_rerun", k, repeats, before, warm=True)
        results.append(
            Result(
                SCENARIO,
                f"fully cached Engine rerun (reset --done), K = {k:,}",
                ours,
                previous,
                "sweepstack before issue 16",
                goal="≥ 5x faster than before",
                notes="now: only done marks are written",
            )
        )
    if import_quietly("labtech") is not None:
        ours = _fresh("ours_manager", k, repeats, warm=True)
        theirs = _fresh("labtech_chain", k, repeats, warm=True)
        results.append(
            Result(
                SCENARIO,
                f"cached two-stage chain over {k:,} records, rerun in a fresh process",
                ours,
                theirs,
                "labtech",
                goal="no slower than labtech",
                notes="ArtifactManager: each record written once per run",
            )
        )
    return results


def _sweeper_figures(quick: bool) -> list[Result]:
    execo = import_quietly("execo_engine")
    if execo is None:
        return []
    from benchmarks.bench_scale import _drain
    from benchmarks.bench_sweeper import _fsync_floor
    from sweepstack import sweep
    from sweepstack.sweep import ParamSweeper

    results = []
    for p, n, work, goal in ((16, 3_000, 0.0, "≥ 8x"), (8, 2_000, 0.001, "≥ 4x")):
        if quick:
            n //= 3
        theirs = _drain("execo", p, n, work)
        what = f"{p} processes, " + (f"{work * 1000:.0f} ms of work each" if work else "no work")
        for tool, how in (
            ("ours", "get_next + done"),
            ("ours-batched", "batches of 32 claims, done + next claims in one write"),
        ):
            ours = _drain(tool, p, n, work)
            results.append(
                Result(
                    SCENARIO,
                    f"{what}, N = {n:,}, {how}: combinations/s",
                    ours["per_second"],
                    theirs["per_second"],
                    "execo_engine",
                    unit="/s",
                    higher_is_better=True,
                    goal=f"{goal} execo_engine, 0 dup, 0 lost",
                    notes=f"dup/lost: ours {ours['duplicates']}/{ours['lost']}, "
                    f"execo {theirs['duplicates']}/{theirs['lost']}",
                )
            )
    folder = tempfile.mkdtemp(prefix="bench-books-one-")
    try:
        ops = 300 if quick else 1_500
        floor, _ = _fsync_floor(folder, ops)
        combinations = sweep({"i": list(range(ops * 4))})
        sweeper = ParamSweeper(os.path.join(folder, "s"), combinations)
        start = time.perf_counter()
        for _ in range(ops):
            sweeper.done(sweeper.get_next())
        per_op = (time.perf_counter() - start) / ops
        combination = sweeper.get_next()
        start = time.perf_counter()
        for _ in range(ops - 1):
            combination = sweeper.done_and_next(combination)[0]
        per_op_merged = (time.perf_counter() - start) / (ops - 1)
        sweeper.done(combination)
        batch, count = sweeper.get_next_batch(32), 0
        start = time.perf_counter()
        while batch and count < ops:
            count += len(batch)
            batch = sweeper.done_batch_and_next(batch, 32)
        per_op_batched = (time.perf_counter() - start) / count
        floor_again, _ = _fsync_floor(folder, ops)
        floor = min(floor, floor_again)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    results.append(
        Result(
            SCENARIO,
            "one process, get_next + done, vs one append + fsync",
            per_op,
            floor,
            "the fsync floor",
            goal="within 1.3x of the floor (ratio ≥ 0.77)",
            notes="the floor is measured before and after, the lower kept",
        )
    )
    results.append(
        Result(
            SCENARIO,
            "one process, done_and_next (what records() does), vs one append + fsync",
            per_op_merged,
            floor,
            "the fsync floor",
            goal="within 1.3x of the floor (ratio ≥ 0.77)",
            notes="one lock acquisition and one flush per combination",
        )
    )
    results.append(
        Result(
            SCENARIO,
            "one process, batches of 32 (records() with short combinations), per combination",
            per_op_batched,
            floor,
            "the fsync floor",
            goal="within 1.3x of the floor (ratio ≥ 0.77)",
            notes="one lock acquisition and one flush per batch",
        )
    )
    results += _getters(quick, execo)
    return results


def _getters(quick: bool, execo: Any) -> list[Result]:
    from benchmarks._common import median_cpu
    from sweepstack import sweep
    from sweepstack.sweep import ParamSweeper

    results = []
    n = 20_000 if quick else 100_000
    space = sweep({"i": list(range(n))})
    folder = tempfile.mkdtemp(prefix="bench-books-get-")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ours = ParamSweeper(os.path.join(folder, "o"), space, save_sweeps=True)
            theirs = execo.ParamSweeper(os.path.join(folder, "e"), space, save_sweeps=True)
        ours.done_batch(space[: n - 200])
        theirs.done_batch(space[: n - 200])
        ours.get_remaining()  # the first call after a load walks once
        for what, fn_ours, fn_theirs in (
            ("get_remaining()", ours.get_remaining, theirs.get_remaining),
            (
                "get_next(filtr) + cancel",
                lambda: ours.cancel(ours.get_next(lambda c: list(c)[::-1])),
                lambda: theirs.cancel(theirs.get_next(lambda c: list(c)[::-1])),
            ),
        ):

            def per_call(fn: Any, calls: int = 50) -> float:
                return median_cpu(lambda: [fn() for _ in range(calls)], 5) / calls

            results.append(
                Result(
                    SCENARIO,
                    f"{what} with 200 todo of {n:,}",
                    per_call(fn_ours),
                    per_call(fn_theirs),
                    "execo_engine",
                    goal="O(todo): no slower than execo_engine",
                    notes="CPU time per call, over 50 calls",
                )
            )
        sizes = (20_000,) if quick else (100_000, 1_000_000)
        for size in sizes:
            combos = sweep({"i": list(range(size))})
            repeats = 3 if size < 1_000_000 else 1

            def create(
                make: Any, prefix: str, combos: list[Any] = combos, made: Any = iter(range(99))
            ) -> None:
                make(os.path.join(folder, f"{prefix}{next(made)}"), combos, save_sweeps=True)

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                mine = median_cpu(lambda: create(ParamSweeper, "co"), repeats)
                theirs_time = median_cpu(lambda: create(execo.ParamSweeper, "ce"), repeats)
            results.append(
                Result(
                    SCENARIO,
                    f"create a ParamSweeper of {size:,} (save_sweeps)",
                    mine,
                    theirs_time,
                    "execo_engine",
                    goal="no slower than execo_engine",
                    notes="CPU time",
                )
            )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return results


def run(quick: bool, before: str | None = None) -> list[Result]:
    before = before or os.environ.get("SWEEPSTACK_BEFORE")
    return _tiny(quick) + _reruns(quick, before) + _sweeper_figures(quick)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--case", nargs=3, metavar=("NAME", "DIR", "SIZE"))
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    name, folder, size = args.case
    import sweepstack

    seconds = CASES[name](folder, int(size))
    print(json.dumps({"seconds": seconds, "sweepstack": sweepstack.__file__}), flush=True)


if __name__ == "__main__":
    main()
