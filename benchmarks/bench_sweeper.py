"""ParamSweeper vs execo_engine's: throughput, opening, concurrent processes, crashes."""

from __future__ import annotations

import collections
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import warnings

from benchmarks._common import Result, import_quietly, median_time
from sweepstack import sweep
from sweepstack.sweep import ParamSweeper

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _space(n: int) -> list:
    return sweep({"i": list(range(n))})


def _throughput(make, combinations, ops: int) -> tuple[float, float]:
    """(combinations per second, CPU seconds per combination) of get_next + done, one process.

    Measured from the middle of the sweep (half of it marked done first): the average
    cost over a whole run, for a tool whose cost grows with what is done.
    """
    sweeper = make(combinations)
    sweeper.done_batch(combinations[: len(combinations) // 2])
    start, cpu = time.perf_counter(), time.process_time()
    for _ in range(ops):
        combination = sweeper.get_next()
        sweeper.done(combination)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    return ops / wall, cpu / ops


def _fsync_floor(folder: str, ops: int) -> tuple[float, float]:
    """(wall, CPU) seconds of appending one journal-sized line and fsyncing it, here.

    A durable ``done()`` cannot cost less: it is the floor of the per-combination cost,
    and the part of the ratio to execo_engine (four fsyncs per combination) that only
    the disk decides.
    """
    path = os.path.join(folder, "floor")
    fd = os.open(path, os.O_RDWR | os.O_CREAT)
    try:
        offset = 0
        start, cpu = time.perf_counter(), time.process_time()
        for _ in range(ops):
            offset += os.pwrite(fd, b"D " + b"0" * 54 + b"\n", offset)
            os.fsync(fd)
        return (time.perf_counter() - start) / ops, (time.process_time() - cpu) / ops
    finally:
        os.close(fd)


def _one_process(quick: bool, execo) -> list[Result]:
    results = []
    folder = tempfile.mkdtemp(prefix="bench-sweeper-")
    try:
        floor_wall, floor_cpu = _fsync_floor(folder, 300 if quick else 1000)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    results.append(
        Result(
            "ParamSweeper, one process: get_next + done",
            "the floor: one journal line appended and fsynced, wall time",
            floor_wall,
            goal="",
            notes=f"CPU {floor_cpu * 1e6:.0f} µs; what a durable done() costs on this disk at least",
        )
    )
    sizes = [1_000, 10_000] if quick else [1_000, 10_000, 100_000]
    for n in sizes:
        combinations = _space(n)
        ops = min(n // 2, 1500 if quick else 3000)
        ours_rates, ours_cpu, theirs_rates, theirs_cpu = [], [], [], []
        for _ in range(1 if quick else 3):
            folder = tempfile.mkdtemp(prefix="bench-sweeper-")
            try:
                rate, cpu = _throughput(
                    lambda c, f=folder: ParamSweeper(f + "/ours", c), combinations, ops
                )
                ours_rates.append(rate)
                ours_cpu.append(cpu)
                if execo is not None:
                    # a shorter window for execo: it is slower, and its cost is measured at the same point
                    rate, cpu = _throughput(
                        lambda c, f=folder: execo.ParamSweeper(f + "/execo", c),
                        combinations,
                        min(ops, 600),
                    )
                    theirs_rates.append(rate)
                    theirs_cpu.append(cpu)
            finally:
                shutil.rmtree(folder, ignore_errors=True)
        goal = (
            "≥ 5x execo_engine"
            if n == 10_000
            else "≥ 10x execo_engine"
            if n == 100_000
            else "flat per combination"
        )
        results.append(
            Result(
                "ParamSweeper, one process: get_next + done",
                f"N = {n:,}: combinations/s",
                statistics.median(ours_rates),
                statistics.median(theirs_rates) if theirs_rates else None,
                "execo_engine",
                unit="/s",
                higher_is_better=True,
                goal=goal,
            )
        )
        results.append(
            Result(
                "ParamSweeper, one process: get_next + done",
                f"N = {n:,}: CPU per combination",
                statistics.median(ours_cpu),
                statistics.median(theirs_cpu) if theirs_cpu else None,
                "execo_engine",
                goal="≤ 1/5 of execo_engine's",
                notes=f"of which the fsync floor: {floor_cpu * 1e6:.0f} µs",
            )
        )
    return results


def _open(quick: bool, execo) -> list[Result]:
    n = 20_000 if quick else 100_000
    # four factors, as real sweeps have (a single factor of N distinct values is in the test suite)
    combinations = sweep(
        {
            "a": list(range(10)),
            "b": [i / 10 for i in range(10)],
            "c": [f"s{i}" for i in range(10)],
            "d": list(range(n // 1000)),
        }
    )
    results = []
    folder = tempfile.mkdtemp(prefix="bench-sweeper-open-")
    try:

        def create_ours():
            shutil.rmtree(folder + "/ours", ignore_errors=True)
            ParamSweeper(folder + "/ours", combinations, save_sweeps=True)

        def create_execo():
            shutil.rmtree(folder + "/execo", ignore_errors=True)
            execo.ParamSweeper(folder + "/execo", combinations, save_sweeps=True)

        ours = median_time(create_ours, 1 if quick else 3)
        theirs = median_time(create_execo, 1 if quick else 3) if execo else None
        results.append(
            Result(
                "ParamSweeper: create and reopen",
                f"create with save_sweeps, N = {n:,}",
                ours,
                theirs,
                "execo_engine",
                goal="no slower than execo_engine",
            )
        )
        # half done, then reopen without the sweeps (loaded from the folder)
        sweeper = ParamSweeper(folder + "/ours")
        sweeper.done_batch(combinations[: n // 2])
        if execo:
            theirs_sweeper = execo.ParamSweeper(folder + "/execo")
            theirs_sweeper.done_batch(combinations[: n // 2])
        ours = median_time(lambda: ParamSweeper(folder + "/ours"), 1 if quick else 3)
        theirs = (
            median_time(lambda: execo.ParamSweeper(folder + "/execo"), 1 if quick else 3)
            if execo
            else None
        )
        results.append(
            Result(
                "ParamSweeper: create and reopen",
                f"reopen, N = {n:,}, half done",
                ours,
                theirs,
                "execo_engine",
                goal="no slower than execo_engine",
            )
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return results


class _Worker:
    def __init__(self, tool: str, path: str, work: float) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks._sweeper_workers", tool, path, "--work", str(work)],
            stdout=subprocess.PIPE,
            text=True,
            cwd=REPO,
        )
        self.lines: list[list[str]] = []
        self.killed = False
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.split())

    def wait(self) -> None:
        self.proc.wait()
        self.reader.join()
        assert self.proc.stdout is not None
        self.proc.stdout.close()

    def keys(self, tag: str) -> list[str]:
        return [parts[1] for parts in self.lines if parts[0] == tag]


def _prepare(tool: str, path: str, combinations, execo) -> None:
    if tool == "ours":
        ParamSweeper(path, combinations, save_sweeps=True)
    else:
        execo.ParamSweeper(path, combinations, save_sweeps=True)


def _drain(tool: str, processes: int, n: int, work: float, execo) -> tuple[float, int, int]:
    """(combinations/s, duplicates, lost) for P processes draining N combinations."""
    folder = tempfile.mkdtemp(prefix=f"bench-drain-{tool}-")
    try:
        combinations = _space(n)
        _prepare(tool, folder + "/sw", combinations, execo)
        workers = [_Worker(tool, folder + "/sw", work) for _ in range(processes)]
        while not all(
            any(parts == ["ready"] for parts in w.lines) or w.proc.poll() is not None
            for w in workers
        ):
            time.sleep(0.01)
        start = time.perf_counter()
        for w in workers:
            w.wait()
        elapsed = time.perf_counter() - start
        claims = collections.Counter(k for w in workers for k in w.keys("CLAIM"))
        acked = {k for w in workers for k in w.keys("ACK")}
        duplicates = sum(c - 1 for c in claims.values())
        lost = n - len(acked)
        return len(acked) / elapsed, duplicates, lost
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _processes(quick: bool, execo) -> list[Result]:
    results = []
    n = 1000 if quick else 2000
    repeats = 1 if quick else 3

    def median_of(tool: str, p: int) -> tuple[float, int, int]:
        """Median throughput over the repeats; duplicates and lost summed over all of them."""
        runs = [_drain(tool, p, n, 0.001, execo) for _ in range(repeats)]
        rates = sorted(r[0] for r in runs)
        return rates[len(rates) // 2], sum(r[1] for r in runs), sum(r[2] for r in runs)

    for p in (1, 2, 4, 8):
        ours, dup, lost = median_of("ours", p)
        theirs = t_dup = t_lost = None
        if execo:
            theirs, t_dup, t_lost = median_of("execo", p)
        notes = f"duplicates/lost over {repeats} run(s): ours {dup}/{lost}" + (
            f", execo {t_dup}/{t_lost}" if execo else ""
        )
        goal = "≥ 2x execo_engine, 0 dup, 0 lost" if p == 8 else "≥ execo_engine, 0 dup, 0 lost"
        results.append(
            Result(
                "ParamSweeper: P processes draining, 1 ms of work each",
                f"P = {p}, N = {n:,}: combinations/s",
                ours,
                theirs,
                "execo_engine",
                unit="/s",
                higher_is_better=True,
                goal=goal,
                notes=notes,
            )
        )
    return results


def _crash(tool: str, kills: int, n: int, execo) -> dict[str, int]:
    folder = tempfile.mkdtemp(prefix=f"bench-crash-{tool}-")
    path = folder + "/sw"
    try:
        combinations = _space(n)
        _prepare(tool, path, combinations, execo)
        rng = random.Random(11)
        running = [_Worker(tool, path, 0.01) for _ in range(4)]
        finished: list[_Worker] = []
        done_kills = 0
        while done_kills < kills:
            time.sleep(rng.uniform(0.02, 0.25))
            victim = rng.choice(running)
            if victim.proc.poll() is None:
                victim.killed = True
                victim.proc.send_signal(signal.SIGKILL)
                done_kills += 1
            running.remove(victim)
            victim.wait()
            finished.append(victim)
            running.append(_Worker(tool, path, 0.01))
        for w in running:
            w.wait()
            finished.append(w)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if tool == "ours":
                final = ParamSweeper(path)
                done = {final.key_of(c) for c in final.get_done()}
                stale = final.counts()["inprogress"]
            else:
                from sweepstack.sweep import param_key

                final = execo.ParamSweeper(path)
                done = {param_key(c) for c in final.get_done()}
                stale = len(final.get_inprogress())
        acked = collections.Counter(k for w in finished for k in w.keys("ACK"))
        return {
            "acknowledged lost": len(set(acked) - done),
            "stale claims": stale,
            "completed twice": sum(1 for c in acked.values() if c > 1),
            "not done": n - len(done),
        }
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _crashes(quick: bool, execo) -> list[Result]:
    kills = 10 if quick else 30
    ours = _crash("ours", kills, 2000, execo)
    theirs = _crash("execo", kills, 2000, execo) if execo else None
    results = []
    for metric in ("acknowledged lost", "stale claims", "completed twice", "not done"):
        results.append(
            Result(
                f"ParamSweeper: {kills} SIGKILLs while 4 workers drain 2,000",
                metric,
                ours[metric],
                theirs[metric] if theirs else None,
                "execo_engine",
                unit="",
                goal="0" if metric != "not done" else "0 (no manual step)",
                notes=f"ours {ours[metric]}" + (f", execo {theirs[metric]}" if theirs else ""),
            )
        )
    return results


def run(quick: bool) -> list[Result]:
    execo = import_quietly("execo_engine")
    return (
        _one_process(quick, execo)
        + _open(quick, execo)
        + _processes(quick, execo)
        + _crashes(quick, execo)
    )
