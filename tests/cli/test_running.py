"""The command while a real worker process runs the experiment: reads take no lock, repairs
are safe, and a killed worker's claims come back with ``reset --stale``."""

from __future__ import annotations

import contextlib
import glob
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import fasteners
import pytest

import sweepstack as sw
from sweepstack.sweep import ParamSweeper
from tests.cli.experiments import ENGINE, command, environment


@contextlib.contextmanager
def worker(path: str, log: str, *args: str) -> Iterator[subprocess.Popen]:
    """The test grid running in the background; stopped (SIGKILL) if still running at the end."""
    with open(log, "wb") as output:
        process = subprocess.Popen(
            [sys.executable, ENGINE, "-c", path, *args],
            stdout=output,
            stderr=subprocess.STDOUT,
            env=environment(),
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)


def _counts(path: str) -> dict[str, int]:
    folder = os.path.join(path, "sweeps", "main")
    if not os.path.exists(os.path.join(folder, "sweeps")):
        return {"done": 0, "inprogress": 0}
    return ParamSweeper(folder, readonly=True).counts()


def wait_for(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_commands_work_while_a_worker_runs_and_repair_is_safe(sweepstack, tmp_path):
    path = str(tmp_path / "grid")
    hold = str(tmp_path / "hold")
    log = str(tmp_path / "worker.log")
    with worker(path, log, "--xs", "8", "--work", "0.1", "--hold", hold) as process:
        wait_for(lambda: _counts(path)["done"] >= 3)
        with open(hold, "w"):
            pass  # the worker now stops at its next computation, its claim in progress
        wait_for(lambda: os.path.exists(hold + ".holding") and process.poll() is None)
        assert _counts(path)["inprogress"] == 1

        # status takes no lock: it finishes while this test holds the sweeper's lock
        lock = fasteners.InterProcessLock(os.path.join(path, "sweeps", "main", "lock"))
        assert lock.acquire(timeout=30)
        try:
            ran = command("status", path, "--json", timeout=30)
        finally:
            lock.release()
        assert ran.returncode == 0, ran.stderr
        (main,) = json.loads(ran.stdout)["sweeps"]
        assert main["counts"]["inprogress"] == 1 and main["counts"]["done"] >= 3
        (host,) = main["hosts"]
        assert host["claims"] == 1 and host["processes"] == 1 and not host["stale"]
        assert main["throughput"]["finished"] >= 3

        assert sweepstack("results", path, "--csv").code == 0
        assert sweepstack("runs", path).out.count("running") == 1
        assert sweepstack("report", path).code == 0
        assert sweepstack("cache", path).code == 0
        assert sweepstack("check", path, "--no-artifacts").code == 0

        # damage a finished record while the worker goes on: the repair gives it back to
        # the sweep, and the same worker computes it again before it ends
        done = [r for r in sw.open(path).results() if r["status"] == "done"]
        victim = done[0]["key"]
        record = sw.open(path).directory.record_path("main", victim)
        with open(record, "wb") as f:
            f.write(b"\0garbage")
        repaired = sweepstack("check", path, "--repair", "--no-artifacts")
        assert repaired.code == 0, repaired
        assert f"record {victim}" in repaired.out and "returned to todo" in repaired.out

        assert process.poll() is None  # the repair happened while the worker ran
        os.unlink(hold)
        assert process.wait(timeout=90) == 0
    counts = _counts(path)
    assert (counts["done"], counts["total"]) == (48, 48)
    assert sw.open(path).record(victim)["status"] == "done"
    assert len(sw.open(path).results()) == 48
    assert glob.glob(os.path.join(path, "quarantine", "records", "main", f"{victim}.json.*"))
    assert sweepstack("check", path).code == 0
    assert sweepstack("status", path).code == 0


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_reset_stale_returns_the_claim_of_a_killed_worker(sweepstack, tmp_path):
    path = str(tmp_path / "grid")
    with worker(path, str(tmp_path / "worker.log"), "--xs", "2", "--work", "30") as process:
        wait_for(lambda: _counts(path)["inprogress"] == 1)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    status = json.loads(sweepstack("status", path, "--json").out)["sweeps"][0]
    assert status["counts"]["inprogress"] == 1  # nobody took it back yet
    ran = sweepstack("reset", path, "--stale")
    assert ran.code == 0
    assert "1 stale claim(s) of 1 process(es) returned to todo (dead)" in ran.out
    status = json.loads(sweepstack("status", path, "--json").out)["sweeps"][0]
    assert status["counts"]["inprogress"] == 0 and status["hosts"] == []


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # as `nohup cmd &` leaves it


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    "inherited",
    [
        pytest.param(None, id="sigint-default"),
        pytest.param(_ignore_sigint, id="sigint-ignored-by-parent"),
    ],
)
def test_status_watch_refreshes_until_interrupted(example_dir, inherited):
    process = subprocess.Popen(
        [sys.executable, "-m", "sweepstack", "status", example_dir, "--watch", "0.1", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=environment(),
        preexec_fn=inherited,
    )
    try:
        assert process.stdout is not None
        first, second = process.stdout.readline(), process.stdout.readline()
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, err
    for line in (first, second):
        assert json.loads(line)["sweeps"][0]["counts"]["done"] == 45
