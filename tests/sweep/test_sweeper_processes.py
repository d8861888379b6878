"""ParamSweeper with real processes: concurrent draining, SIGKILLs, threads."""

from __future__ import annotations

import collections
import os
import random
import signal
import subprocess
import sys
import threading
import time

import pytest

from sweepstack import sweep
from sweepstack.store._records import RecordStore
from sweepstack.store._results import list_records
from sweepstack.sweep import ParamSweeper

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class Worker:
    """A draining worker process whose output lines are collected as they come."""

    def __init__(
        self, path: str, work: float = 0.0, lease: float = 600.0, records: str | None = None
    ) -> None:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.sweep._workers",
                "drain",
                path,
                "--work",
                str(work),
                "--lease",
                str(lease),
                *(["--records", records] if records else []),
            ],
            stdout=subprocess.PIPE,
            text=True,
            cwd=REPO,
        )
        self.lines: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.killed = False

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line.strip())

    def kill(self) -> None:
        self.killed = True
        self.proc.send_signal(signal.SIGKILL)

    def wait(self, timeout: float = 120) -> int:
        code = self.proc.wait(timeout)
        self.reader.join(10)
        self.proc.stdout.close()
        return code

    def keys(self, tag: str) -> list[str]:
        return [line.split()[1] for line in self.lines if line.startswith(tag + " ")]


def _make(path, n):
    combinations = sweep({"i": list(range(n))})
    ParamSweeper(path, combinations, save_sweeps=True)
    return combinations


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_eight_processes_drain_without_duplicates_or_losses(tmp_path):
    path = str(tmp_path / "sw")
    _make(path, 2000)
    workers = [Worker(path, work=0.0) for _ in range(8)]
    assert all(w.wait() == 0 for w in workers)
    claimed = collections.Counter(k for w in workers for k in w.keys("CLAIM"))
    acked = collections.Counter(k for w in workers for k in w.keys("ACK"))
    assert len(claimed) == 2000 and max(claimed.values()) == 1, (
        "a combination went to two live owners"
    )
    assert acked == claimed
    assert sum(1 for w in workers if w.keys("ACK")) >= 2, (
        "only one worker got work: no concurrency tested"
    )
    final = ParamSweeper(path)
    assert final.counts() == {
        "total": 2000,
        "done": 2000,
        "inprogress": 0,
        "failed": 0,
        "skipped": 0,
        "remaining": 0,
    }


@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.parametrize(
    "records",
    [
        pytest.param(False, id="done"),
        pytest.param(True, id="done-and-next-with-records"),
    ],
)
def test_sigkilled_workers_lose_no_acknowledged_done_and_leave_nothing_to_clean(tmp_path, records):
    path = str(tmp_path / "sw")
    folder = str(tmp_path / "records") if records else None
    _make(path, 2000)
    rng = random.Random(7)
    running = [Worker(path, work=0.01, records=folder) for _ in range(4)]
    finished: list[Worker] = []
    kills = 0
    while kills < 30:
        time.sleep(rng.uniform(0.02, 0.25))
        victim = rng.choice(running)
        # at a random moment of its loop, not while Python starts (slow on a busy machine)
        deadline = time.monotonic() + 10
        while not victim.keys("CLAIM") and victim.proc.poll() is None:
            if time.monotonic() > deadline:
                break
            time.sleep(0.01)
        if victim.proc.poll() is None:
            victim.kill()
            kills += 1
        running.remove(victim)
        victim.wait()
        finished.append(victim)
        running.append(Worker(path, work=0.01, records=folder))
    # no manual step: plain workers finish the rest, taking back the claims of the dead
    running.append(Worker(path, records=folder))
    for worker in running:
        assert worker.wait() == 0
        finished.append(worker)
    acked = collections.Counter(k for w in finished for k in w.keys("ACK"))
    claimed = collections.Counter(k for w in finished for k in w.keys("CLAIM"))
    final = ParamSweeper(path)
    done = {final.key_of(c) for c in final.get_done()}
    assert set(acked) <= done, "an acknowledged done was lost"
    assert len(done) == 2000 and final.counts()["inprogress"] == 0, (
        "claims were left for a person to clean up"
    )
    assert max(acked.values()) == 1, "a combination was completed twice"
    for key, times in claimed.items():
        if times > 1:  # handed out again only after its earlier holders were killed unacknowledged
            holders = [w for w in finished if key in w.keys("CLAIM")]
            assert sum(1 for w in holders if key in w.keys("ACK")) <= 1
            assert all(w.killed for w in holders if key not in w.keys("ACK"))
    if records:  # every done has its record, in place (a dead writer's put back by others)
        store = RecordStore(folder)
        final.attach_records(store)
        final.recover()
        assert all(store.read("main", key)["status"] == "done" for key in done)
        assert len(list_records(os.path.join(folder, "main"))) == 2000
    in_flight = [w for w in finished if w.killed and set(w.keys("CLAIM")) - set(w.keys("ACK"))]
    assert len(in_flight) >= 15, (
        "most kills must hit a worker holding a claim, or the test proves little"
    )


@pytest.mark.timeout(120)
def test_instances_in_threads_of_one_process_never_share_a_combination(tmp_path):
    """execo_engine hands out hundreds of duplicates here: POSIX locks are per process."""
    path = str(tmp_path / "sw")
    combinations = _make(path, 1000)
    claimed: list[str] = []
    guard = threading.Lock()

    def drain():
        sweeper = ParamSweeper(path, combinations)  # one instance per thread
        for combination in sweeper:
            with guard:
                claimed.append(sweeper.key_of(combination))
            sweeper.done(combination)

    threads = [threading.Thread(target=drain) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(claimed) == 1000 and len(set(claimed)) == 1000


@pytest.mark.timeout(120)
def test_one_instance_shared_by_threads_hands_out_each_once(tmp_path):
    path = str(tmp_path / "sw")
    sweeper = ParamSweeper(path, sweep({"i": list(range(500))}))
    claimed: list[str] = []

    def drain():
        for combination in sweeper:
            claimed.append(sweeper.key_of(combination))
            sweeper.done(combination)

    threads = [threading.Thread(target=drain) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(claimed) == sorted(set(claimed)) and len(claimed) == 500


def _hold_lock_intervals(path, rounds, out):
    from sweepstack.store._locks import file_lock

    lock = file_lock(os.path.join(path, "lock"))
    with open(out, "w") as f:
        for _ in range(rounds):
            with lock:
                start = time.monotonic_ns()
                time.sleep(0.0002)
                f.write(f"{start} {time.monotonic_ns()}\n")


@pytest.mark.timeout(120)
def test_sweeper_lock_is_held_by_one_process_at_a_time(tmp_path):
    import multiprocessing

    path = str(tmp_path / "sw")
    ParamSweeper(path, [{"a": 1}])
    outs = [str(tmp_path / f"out{i}") for i in range(4)]
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_hold_lock_intervals, args=(path, 200, out)) for out in outs]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    intervals = []
    for out in outs:
        with open(out) as f:
            intervals += [tuple(map(int, line.split())) for line in f]
    intervals.sort()
    assert len(intervals) == 800
    assert all(b[0] >= a[1] for a, b in zip(intervals, intervals[1:])), (
        "two processes held the lock at once"
    )
