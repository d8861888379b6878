"""Stage leases: each output key is computed by one process at a time (real processes)."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import time

import pytest

from sweepstack.dag import Record
from sweepstack.store._cache import ArtifactCache
from sweepstack.store._lease import StageLeases
from tests.dag._lease_workers import (
    boom,
    executions,
    manager_needs_shared,
    need_boom,
    need_shared,
    need_summary,
    slow_shared,
    use,
)

EXPECTED = sum(range(100))


def _wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def _leftovers(root):
    folder = os.path.join(root, "leases")
    names = [n for n in os.listdir(folder) if n not in ("lock", "waiting")]
    return names + os.listdir(os.path.join(folder, "waiting"))


@pytest.mark.timeout(120)
def test_eight_processes_needing_one_stage_compute_it_once(tmp_path):
    root, marks = str(tmp_path / "cache"), str(tmp_path / "marks")
    os.makedirs(marks)
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    procs = [
        ctx.Process(target=need_shared, args=(root, marks, 1.0, i, 30.0, queue)) for i in range(8)
    ]
    for p in procs:
        p.start()
    results = sorted(queue.get(timeout=100) for _ in procs)
    for p in procs:
        p.join(10)
    assert [p.exitcode for p in procs] == [0] * 8
    assert [(i, total, err) for i, total, err, _ in results] == [
        (i, EXPECTED + i, None) for i in range(8)
    ]
    assert len(executions(marks, "slow_shared")) == 1
    assert sum(waits for *_, waits in results) >= 1  # the others waited for the one
    assert ArtifactCache(root).check() == []
    assert _leftovers(root) == []


@pytest.mark.timeout(150)
def test_sigkill_of_the_owner_mid_stage_lets_exactly_one_waiter_compute_it(tmp_path):
    root, marks = str(tmp_path / "cache"), str(tmp_path / "marks")
    os.makedirs(marks)
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    first = ctx.Process(target=need_shared, args=(root, marks, 10.0, 0, 30.0, queue))
    first.start()
    _wait_for(lambda: executions(marks, "slow_shared"), 60, "the first execution")
    assert executions(marks, "slow_shared") == [first.pid]
    others = [
        ctx.Process(target=need_shared, args=(root, marks, 10.0, i, 30.0, queue))
        for i in range(1, 8)
    ]
    for p in others:
        p.start()
    # every waiter is waiting (a waiting file each) before the owner dies mid-stage
    waiting = os.path.join(root, "leases", "waiting")
    _wait_for(lambda: len(os.listdir(waiting)) == 7, 60, "seven waiters")
    os.kill(first.pid, signal.SIGKILL)
    first.join(10)
    results = sorted(queue.get(timeout=100) for _ in others)
    for p in others:
        p.join(10)
    assert [p.exitcode for p in others] == [0] * 7
    assert [(i, total, err) for i, total, err, _ in results] == [
        (i, EXPECTED + i, None) for i in range(1, 8)
    ]
    ran = executions(marks, "slow_shared")
    assert len(ran) == 2 and ran[0] == first.pid and ran[1] in {p.pid for p in others}
    assert ArtifactCache(root).check() == []
    assert _leftovers(root) == []  # no lease stuck, no waiter left


@pytest.mark.timeout(120)
def test_a_stage_that_raises_fails_its_waiters_the_same_way_and_runs_once(tmp_path):
    root, marks = str(tmp_path / "cache"), str(tmp_path / "marks")
    os.makedirs(marks)
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=need_boom, args=(root, marks, 60.0, i, queue)) for i in range(4)]
    procs[0].start()
    _wait_for(lambda: executions(marks, "boom"), 60, "the first execution")
    for p in procs[1:]:
        p.start()
    waiting = os.path.join(root, "leases", "waiting")
    _wait_for(lambda: len(os.listdir(waiting)) == 3, 60, "three waiters")
    open(os.path.join(marks, "go"), "w").close()
    results = sorted(queue.get(timeout=100) for _ in procs)
    for p in procs:
        p.join(10)
    assert executions(marks, "boom") == [procs[0].pid]
    kinds = [kind for _, kind, _ in results]
    assert kinds[0] == "ValueError"
    assert kinds[1:] == ["StageFailedElsewhereError"] * 3
    for _, _, attrs in results[1:]:
        assert attrs["error_type"] == "ValueError"
        assert attrs["message"] == "size 7 is cursed"
        assert attrs["pid"] == procs[0].pid and attrs["stage"] == "boom"
    # a later attempt (a rerun with -c) runs the stage again rather than failing at once
    later = Record({"size": 7, "marks": marks, "seconds": 60.0, "offset": 9}, cache=root)
    with pytest.raises(ValueError, match="cursed"):
        use(boom(later)).state["total"]
    assert len(executions(marks, "boom")) == 2


def test_an_unrelated_key_does_not_wait_for_a_failed_or_running_one(tmp_path):
    root, marks = str(tmp_path / "cache"), str(tmp_path / "marks")
    os.makedirs(marks)
    leases = ArtifactCache(root).leases
    held = leases.acquire("ab" * 16, "other")
    record = Record({"size": 3, "marks": marks, "seconds": 0.0, "offset": 1}, cache=root)
    start = time.monotonic()
    assert use(slow_shared(record)).state["total"] == 4
    assert time.monotonic() - start < 5 and leases.waits == 0
    leases.release(held)


# --- the rules of a lease, one holder in another process ----------------------------------

_HOLD = """
import sys, time
from sweepstack.store._lease import StageLeases
leases = StageLeases(sys.argv[1], lease=float(sys.argv[2]))
lease = leases.acquire("cd" * 16, "hold")
print("held", flush=True)
time.sleep(float(sys.argv[3]))
leases.release(lease)
"""


def _holder(folder, lease, seconds):
    proc = subprocess.Popen(
        [sys.executable, "-c", _HOLD, folder, str(lease), str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout.readline().strip() == "held"
    proc.stdout.close()
    return proc


@pytest.mark.timeout(60)
def test_lease_of_a_live_owner_is_renewed_and_kept_beyond_its_duration(tmp_path):
    folder = str(tmp_path / "leases")
    proc = _holder(folder, 0.4, 2.5)  # renewed every 0.1 s for six leases
    leases = StageLeases(folder, lease=0.4)
    start = time.monotonic()
    lease = leases.acquire("cd" * 16, "hold")
    assert lease is not None and lease.taken_over is None
    assert time.monotonic() - start > 1.5  # it waited for the holder to finish
    leases.release(lease)
    assert proc.wait(20) == 0


@pytest.mark.timeout(60)
def test_lease_of_a_dead_owner_on_this_machine_is_taken_at_once(tmp_path):
    folder = str(tmp_path / "leases")
    proc = _holder(folder, 600.0, 60)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    leases = StageLeases(folder, lease=600.0)
    start = time.monotonic()
    lease = leases.acquire("cd" * 16, "hold")
    assert time.monotonic() - start < 5
    assert "is dead" in lease.taken_over
    leases.release(lease)


@pytest.mark.timeout(60)
def test_lease_of_a_frozen_owner_is_taken_after_lease_and_margin(tmp_path):
    folder = str(tmp_path / "leases")
    proc = _holder(folder, 1.0, 60)
    os.kill(proc.pid, signal.SIGSTOP)  # frozen: no heartbeat, and alive
    try:
        leases = StageLeases(folder, lease=1.0)
        start = time.monotonic()
        lease = leases.acquire("cd" * 16, "hold")
        waited = time.monotonic() - start
        assert 0.5 < waited < 10  # about lease + margin after the last renewal seen
        assert "did not renew" in lease.taken_over or "renewed it more than" in lease.taken_over
        leases.release(lease)
    finally:
        proc.kill()
        proc.wait(10)


@pytest.mark.timeout(120)
def test_two_artifact_managers_on_one_cache_share_the_stage_lease(tmp_path):
    cache, marks = str(tmp_path / "shared-cache"), str(tmp_path / "marks")
    os.makedirs(marks)
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    procs = [
        ctx.Process(
            target=manager_needs_shared, args=(str(tmp_path / f"nb{i}"), cache, marks, queue)
        )
        for i in range(2)
    ]
    procs[0].start()
    _wait_for(lambda: executions(marks, "slow_shared"), 60, "the first notebook's stage")
    procs[1].start()
    results = [queue.get(timeout=100) for _ in procs]
    for p in procs:
        p.join(10)
    assert [p.exitcode for p in procs] == [0, 0]
    assert len(executions(marks, "slow_shared")) == 1
    assert sorted(status for _, status, _ in results) == ["hit", "run"]
    assert all(total == EXPECTED for total, _, _ in results)


@pytest.mark.timeout(120)
def test_processes_resolving_one_aggregate_compute_it_and_its_members_stages_once(tmp_path):
    root, marks = str(tmp_path / "cache"), str(tmp_path / "marks")
    os.makedirs(marks)
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=need_summary, args=(root, marks, queue)) for _ in range(3)]
    for p in procs:
        p.start()
    results = [queue.get(timeout=100) for _ in procs]
    for p in procs:
        p.join(10)
    assert [p.exitcode for p in procs] == [0, 0, 0]
    assert results == [[45, 46, 47]] * 3
    assert len(executions(marks, "slow_shared")) == 1
    assert len(executions(marks, "summarize")) == 1
    assert _leftovers(root) == []
