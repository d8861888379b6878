"""Scale: a sweeper of 1,000,000 combinations, and 16 processes draining 20,000.

    python -m benchmarks.run --only scale [--quick]
    python -m benchmarks.bench_scale [--quick]          # this scenario alone

Every figure is measured in a fresh subprocess, so that peak RSS
(``resource.getrusage``) is that of the operation alone: creating a sweeper from the
list ``sweep()`` returns, reopening it from its folder, and what ``sweepstack status``
does (the read-only sweeper, its counts and per-factor counts; the command itself is
timed too). execo_engine does the same where it finishes in reasonable time.

The drain: 16 worker processes on one machine claim and finish 20,000 combinations
(no work: the sweeper's own cost). Each reports the time it spent waiting for the
sweeper's lock (``FileLock.wait_seconds``), which says whether the lock is the
bottleneck; duplicates and lost combinations are counted from what the workers
printed.
"""

from __future__ import annotations

import argparse
import collections
import importlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from typing import Any

from benchmarks._common import Result, import_quietly

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCENARIO = "Scale: 1,000,000 combinations; 16 processes"  # --quick: 250,000


def _space(n: int) -> list[Any]:
    """n combinations of four factors, as real sweeps have (n a multiple of 10,000)."""
    from sweepstack import sweep

    return sweep(
        {
            "a": list(range(100)),
            "b": [i / 10 for i in range(10)],
            "c": [f"s{i}" for i in range(10)],
            "d": list(range(n // 10_000)),
        }
    )


def _space_small(n: int) -> list[Any]:
    from sweepstack import sweep

    return sweep({"i": list(range(n))})


# --- one measured operation per subprocess -----------------------------------------------


def _peak_mb() -> float:
    """This process's peak RSS in MB since it started its program.

    ``getrusage``'s ``ru_maxrss`` would do, but Linux carries it over ``execve`` from the
    parent's memory when the child was vforked (as subprocess does): in a big parent
    (``benchmarks.run`` after other scenarios) every child would report the parent's
    size. ``VmHWM`` belongs to the new program's memory only.
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _phase(tool: str, phase: str, folder: str, n: int) -> dict[str, Any]:
    """Run one operation here and return its time and this process's peak RSS."""
    warnings.simplefilter("ignore")
    module = importlib.import_module("sweepstack" if tool == "ours" else "execo_engine")
    ParamSweeper = module.ParamSweeper  # the same name for both tools
    extra: dict[str, Any] = {}
    if phase == "create":
        combinations = _space(n)
        start = time.perf_counter()
        ParamSweeper(folder, combinations, save_sweeps=True)
    elif phase == "half":  # not measured: the state the next phases open
        sweeper = ParamSweeper(folder)
        sweeper.done_batch(list(sweeper.get_sweeps())[: n // 2])
        start = time.perf_counter()
    elif phase == "reopen":
        start = time.perf_counter()
        sweeper = ParamSweeper(folder)
        extra["remaining"] = (
            sweeper.counts()["remaining"] if tool == "ours" else len(sweeper.get_remaining())
        )
    elif phase == "status":
        start = time.perf_counter()
        if tool == "ours":
            sweeper = ParamSweeper(folder, readonly=True)
            counts = sweeper.counts()
            sweeper.level_counts()
            sweeper.claims()
            extra["remaining"] = counts["remaining"]
        else:  # execo's per-factor view: sweep_stats over stats()
            sweeper = ParamSweeper(folder)
            stats = sweeper.stats()
            module.sweep_stats(stats)
            extra["remaining"] = len(stats[1])
    else:
        raise ValueError(phase)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "rss_mb": _peak_mb(), **extra}


def _measure(tool: str, phase: str, folder: str, n: int, timeout: float = 600) -> dict[str, Any]:
    options = ["--phase", phase, "--tool", tool, "--dir", folder, "--n", str(n)]
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_scale", *options],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{tool} {phase} failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _command(args: list[str], timeout: float = 600) -> dict[str, Any]:
    """Wall time and peak RSS of ``sweepstack ARGS`` run in a fresh process."""
    code = (
        "import atexit, sys\n"
        "from benchmarks.bench_scale import _peak_mb\n"
        "atexit.register(lambda: print(f'PEAK {_peak_mb()}', file=sys.stderr))\n"
        "from sweepstack.cli import main\n"
        "sys.exit(main())\n"
    )
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        timeout=timeout,
    )
    seconds = time.perf_counter() - start
    if done.returncode not in (0, 1):  # status exits 1 while work is left
        raise RuntimeError(
            f"sweepstack {args} exited with {done.returncode}: {done.stderr[-2000:]}"
        )
    peak = [line for line in done.stderr.splitlines() if line.startswith("PEAK ")]
    return {"seconds": seconds, "rss_mb": float(peak[-1].split()[1])}


def _million(quick: bool, execo: Any) -> list[Result]:
    n = 250_000 if quick else 1_000_000  # --quick: a sanity pass; the full run is the figure
    label = f"N = {n:,}"
    folder = tempfile.mkdtemp(prefix="bench-scale-")
    results = []
    try:
        from sweepstack.store import ExperimentDir

        xd = ExperimentDir.create_or_open(os.path.join(folder, "exp"), name="scale")
        ours_dir, theirs_dir = xd.sweeper_dir("main"), os.path.join(folder, "execo")
        rows: dict[str, tuple[dict[str, Any], dict[str, Any] | None]] = {}
        for phase in ("create", "reopen"):
            ours = _measure("ours", phase, ours_dir, n)
            # execo_engine at 1e6 takes 10 s more: full runs only
            theirs = _measure("execo", phase, theirs_dir, n) if execo and not quick else None
            rows[phase] = (ours, theirs)
        _measure("ours", "half", ours_dir, n)
        if execo and not quick:
            _measure("execo", "half", theirs_dir, n)
        ours = _measure("ours", "reopen", ours_dir, n)
        theirs = _measure("execo", "reopen", theirs_dir, n) if execo and not quick else None
        rows["reopen, half done"] = (ours, theirs)
        ours = _measure("ours", "status", ours_dir, n)
        theirs = _measure("execo", "status", theirs_dir, n) if execo and not quick else None
        rows["status (counts per state and per factor), half done"] = (ours, theirs)
        command = _command(["status", xd.path])
        rows["`sweepstack status DIR`, half done"] = (command, None)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    goals = {"seconds": "a few seconds", "rss_mb": "a few hundred MB"}
    for case, (ours, theirs) in rows.items():
        for metric, unit in (("seconds", "s"), ("rss_mb", "MB")):
            results.append(
                Result(
                    SCENARIO,
                    f"{label}: {case}: {'time' if unit == 's' else 'peak RSS'}",
                    ours[metric],
                    theirs[metric] if theirs else None,
                    "execo_engine",
                    unit=unit,
                    goal=goals[metric],
                    notes="own process; RSS includes the interpreter"
                    + (" and the list from sweep()" if case == "create" else ""),
                )
            )
    return results


# --- 16 processes draining ------------------------------------------------------------------


def _drain_worker(folder: str, tool: str, work: float) -> None:
    """A worker: wait for "go", drain, then print what it claimed and its lock waits."""
    from sweepstack.sweep import param_key

    warnings.simplefilter("ignore")
    module = importlib.import_module("execo_engine" if tool == "execo" else "sweepstack")
    sweeper = module.ParamSweeper(folder)
    print("ready", flush=True)
    sys.stdin.readline()
    claimed, acked = [], 0
    start, cpu = time.perf_counter(), time.process_time()
    # what records() does with short combinations: a batch of claims, then their done
    # marks and the next batch in one lock acquisition and one flush
    batch = sweeper.get_next_batch(32) if tool == "ours-batched" else []
    while tool == "ours-batched":
        if not batch:
            break
        for combination in batch:
            claimed.append(param_key(combination))
            if work:
                time.sleep(work)
        acked += len(batch)
        batch = sweeper.done_batch_and_next(batch, 32)
    while tool != "ours-batched":
        combination = sweeper.get_next()
        if combination is None:
            break
        claimed.append(param_key(combination))
        if work:
            time.sleep(work)
        sweeper.done(combination)
        acked += 1
    lock = getattr(sweeper, "_lock", None)
    print(
        json.dumps(
            {
                "claimed": claimed,
                "acked": acked,
                "seconds": time.perf_counter() - start,
                "cpu": time.process_time() - cpu,
                "wait_seconds": getattr(lock, "wait_seconds", None),
                "contended": getattr(lock, "contended", None),
                "acquisitions": getattr(lock, "acquisitions", None),
            }
        ),
        flush=True,
    )


def _drain(tool: str, processes: int, n: int, work: float = 0.0) -> dict[str, Any]:
    folder = tempfile.mkdtemp(prefix=f"bench-scale-drain-{tool}-")
    try:
        path = os.path.join(folder, "sw")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            combinations = _space(n) if n >= 10_000 else _space_small(n)
            if tool != "execo":
                from sweepstack import ParamSweeper

                ParamSweeper(path, combinations, save_sweeps=True)
            else:
                import execo_engine

                execo_engine.ParamSweeper(path, combinations, save_sweeps=True)
        options = ["--tool", tool, "--work", str(work)]
        workers = [
            subprocess.Popen(
                [sys.executable, "-m", "benchmarks.bench_scale", "--drain-worker", path, *options],
                cwd=REPO,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            for _ in range(processes)
        ]
        for w in workers:  # every worker has opened the sweeper before any starts
            assert w.stdout is not None
            if w.stdout.readline().strip() != "ready":
                raise RuntimeError("a drain worker did not start")
        outputs: list[str] = [""] * processes

        def collect(i: int) -> None:
            outputs[i] = workers[i].communicate(timeout=1800)[0]

        start = time.perf_counter()
        for w in workers:
            assert w.stdin is not None
            w.stdin.write("go\n")
            w.stdin.flush()
        readers = [threading.Thread(target=collect, args=(i,)) for i in range(processes)]
        for r in readers:
            r.start()
        for r in readers:
            r.join()
        elapsed = time.perf_counter() - start
        reports = [json.loads(out.strip().splitlines()[-1]) for out in outputs]
        claimed = collections.Counter(k for r in reports for k in r["claimed"])
        waits = [r["wait_seconds"] for r in reports if r["wait_seconds"] is not None]
        return {
            "per_second": n / elapsed,
            "seconds": elapsed,
            "duplicates": sum(c - 1 for c in claimed.values()),
            "lost": n - len(claimed),
            "acked": sum(r["acked"] for r in reports),
            "wait_total": sum(waits) if waits else None,
            "wait_mean": sum(waits) / len(waits) if waits else None,
            "wait_max": max(waits) if waits else None,
            "cpu_total": sum(r["cpu"] for r in reports),
            "busiest_share": max(r["acked"] for r in reports) / n,
        }
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _processes(quick: bool, execo: Any) -> list[Result]:
    p, n = 16, 3_000 if quick else 20_000
    cores = os.cpu_count() or 1
    results = []
    # no work: every process spends its time in the sweeper, so this is the lock's capacity;
    # 20 ms of work: what share of a process's time goes to waiting for the lock
    for work, m in ((0.0, n), (0.02, n // 2 if quick else n)):
        ours = _drain("ours", p, m, work)
        share = ours["wait_mean"] / ours["seconds"]
        what = f"{p} processes drain N = {m:,}, " + (
            f"{work * 1000:.0f} ms of work each" if work else "no work"
        )
        results.append(
            Result(
                SCENARIO,
                f"{what}: combinations/s",
                ours["per_second"],
                unit="/s",
                higher_is_better=True,
                goal="0 duplicates, 0 lost" + (f"; ideal {p / work:,.0f}/s" if work else ""),
                notes=f"duplicates {ours['duplicates']}, lost {ours['lost']}; "
                f"CPU {ours['cpu_total']:.1f} s in {ours['seconds']:.1f} s on {cores} cores",
            )
        )
        results.append(
            Result(
                SCENARIO,
                f"{what}: lock wait per process",
                ours["wait_mean"],
                goal="the lock is not the bottleneck" if work else "",
                notes=f"{share:.0%} of the drain's {ours['seconds']:.1f} s (max "
                f"{ours['wait_max']:.2f} s, {ours['wait_total']:.1f} s in all)",
                extra={"share": share},
            )
        )
        results.append(
            Result(
                SCENARIO,
                f"{what}: duplicates + lost",
                ours["duplicates"] + ours["lost"],
                unit="",
                goal="0",
            )
        )
    if execo is not None:
        # execo_engine's get_next costs O(N) (every set pickled on each call): a smaller N
        m = 1_000 if quick else 2_000
        mine, theirs = _drain("ours", p, m), _drain("execo", p, m)
        results.append(
            Result(
                SCENARIO,
                f"{p} processes drain N = {m:,}, no work: combinations/s",
                mine["per_second"],
                theirs["per_second"],
                "execo_engine",
                unit="/s",
                higher_is_better=True,
                goal="≥ execo_engine, 0 dup, 0 lost",
                notes=f"duplicates/lost: ours {mine['duplicates']}/{mine['lost']}, "
                f"execo {theirs['duplicates']}/{theirs['lost']}",
            )
        )
    return results


def run(quick: bool) -> list[Result]:
    execo = import_quietly("execo_engine")
    return _million(quick, execo) + _processes(quick, execo)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    parser.add_argument("--tool", default="ours", help=argparse.SUPPRESS)
    parser.add_argument("--dir", help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, default=1_000_000, help=argparse.SUPPRESS)
    parser.add_argument("--drain-worker", dest="drain_worker", help=argparse.SUPPRESS)
    parser.add_argument("--work", type=float, default=0.0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        print(json.dumps(_phase(args.tool, args.phase, args.dir, args.n)))
    elif args.drain_worker:
        _drain_worker(args.drain_worker, args.tool, args.work)
    else:
        for result in run(args.quick):
            theirs = f"  {result.competitor} {result.theirs:.3g}" if result.theirs else ""
            print(f"{result.case}: {result.ours:.3g} {result.unit}{theirs}  {result.notes}")


if __name__ == "__main__":
    main()
