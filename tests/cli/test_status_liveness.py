"""``status`` tells live claims from stale ones, and the ETA comes from live workers only."""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import subprocess
import sys
import time

import pytest

from sweepstack.store._owner import current_owner, death
from sweepstack.sweep import ParamSweeper
from tests.cli.experiments import environment
from tests.cli.test_running import _counts, wait_for, worker

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _held_worker(tmp_path, *extra: str):
    """A worker that finished a few combinations and now holds one claim (held by a file)."""
    path, hold = str(tmp_path / "grid"), str(tmp_path / "hold")
    context = worker(
        path, str(tmp_path / "log"), "--xs", "8", "--work", "0.05", "--hold", hold, *extra
    )
    process = context.__enter__()
    wait_for(lambda: _counts(path)["done"] >= 3)
    with open(hold, "w"):
        pass
    # holding: its earlier records are in place (a record is put in place just after its
    # done mark; a worker killed in between leaves it in the journal until another
    # worker republishes it, docs/format.md)
    wait_for(lambda: os.path.exists(hold + ".holding"))
    assert _counts(path)["inprogress"] == 1
    return path, process, context


def _status(sweepstack, path):
    ran = sweepstack("status", path, "--json")
    return json.loads(ran.out)["sweeps"][0]


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_status_shows_a_live_workers_claim_as_live_with_an_eta(sweepstack, tmp_path):
    path, _, context = _held_worker(tmp_path)
    try:
        main = _status(sweepstack, path)
        assert main["running"] == 1 and main["stale"] == []
        (host,) = main["hosts"]
        assert host["processes"] == 1 and host["claims"] == 1
        assert main["throughput"]["finished"] >= 3 and main["throughput"]["eta"] is not None
        assert "ETA" in sweepstack("status", path).out
    finally:
        context.__exit__(None, None, None)


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_status_shows_a_killed_workers_claim_as_stale_with_its_age_and_no_eta(sweepstack, tmp_path):
    path, process, context = _held_worker(tmp_path)
    try:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        main = _status(sweepstack, path)
    finally:
        context.__exit__(None, None, None)
    assert main["counts"]["inprogress"] == 1  # still claimed: nobody took it back yet
    assert main["hosts"] == [] and main["running"] == 0
    (owner,) = main["stale"]
    assert owner["pid"] == process.pid and owner["reason"] == "process gone"
    assert owner["claims"] == 1 and owner["oldest_claim"] >= 0
    assert main["throughput"]["finished"] >= 3  # it was fast...
    assert main["throughput"]["eta"] is None  # ...but nobody works now
    text = sweepstack("status", path).out
    assert "stale claims" in text and "process gone" in text and "ago" in text
    assert "no worker at work: no ETA" in text and "ETA " not in text.replace("no ETA", "")


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_status_shows_a_stopped_workers_claim_as_stale_once_its_lease_expired(sweepstack, tmp_path):
    path, process, context = _held_worker(tmp_path, "--lease", "1")
    try:
        process.send_signal(signal.SIGSTOP)  # alive, but its heartbeat stops
        time.sleep(2.5)  # past lease + margin (1 + 0.5 s)
        main = _status(sweepstack, path)
        process.send_signal(signal.SIGCONT)
    finally:
        context.__exit__(None, None, None)
    (owner,) = main["stale"]
    assert owner["reason"] == "lease expired" and owner["last_news"] > 1.5
    assert main["running"] == 0 and main["throughput"]["eta"] is None


def test_an_owner_whose_pid_was_reused_is_dead_and_says_so():
    me = current_owner(600)
    assert death(me, me) is None
    reused = type(me)(**{**me.__dict__, "start": (me.start or 0) + 12345})
    assert death(reused, me) == "pid reused by another process"
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    gone = type(me)(**{**me.__dict__, "pid": child.pid})
    assert death(gone, me) == "process gone"
    elsewhere = type(me)(**{**me.__dict__, "host": "another-host", "pid": child.pid})
    assert death(elsewhere, me) is None  # nothing is provable from another machine


def test_running_counts_processes_with_live_claims(tmp_path):
    sweeper = ParamSweeper(str(tmp_path / "s"), [{"i": i} for i in range(4)])
    assert sweeper.running() == 0
    sweeper.get_next()
    sweeper.get_next()
    assert sweeper.running() == 1  # one process, two claims
    assert [c.stale for c in sweeper.claims()] == [None, None]


# --- the progress bar of a single process -----------------------------------------------


@pytest.mark.timeout(120)
def test_single_process_progress_bar_counts_itself_running(tmp_path):
    """On a terminal, while the only process computes a combination, the bar says 1 running."""
    master, slave = pty.openpty()
    env = environment()
    env.update(COLUMNS="160", TERM="xterm")
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.engine.engines", "Counting", "-c", str(tmp_path / "e"),
         "--n", "4", "--slow-on", "2"],
        cwd=REPO, env=env, stdin=slave, stdout=slave, stderr=slave,
    )  # fmt: skip
    os.close(slave)
    seen = b""
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and b"SLOW 2" not in seen:
            if select.select([master], [], [], 0.5)[0]:
                seen += os.read(master, 65536)
        assert b"SLOW 2" in seen, seen[-2000:]
        end = time.monotonic() + 1.5  # the bar refreshes while combination 2 is in progress
        while time.monotonic() < end:
            if select.select([master], [], [], 0.2)[0]:
                seen += os.read(master, 65536)
    finally:
        process.kill()
        process.wait()
        os.close(master)
    after = seen[seen.index(b"SLOW 2") :]
    assert b"1 running" in after and b"0 running" not in after
