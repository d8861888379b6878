"""file_lock(): one lock per file per process, excluding threads and processes."""

from __future__ import annotations

import multiprocessing
import os
import threading
import time

import pytest

from sweepstack.store._locks import file_lock


def test_same_file_gives_the_same_lock_object(tmp_path):
    path = tmp_path / "lock"
    link = tmp_path / "link"
    first = file_lock(str(path))
    link.symlink_to(path)
    assert file_lock(str(link)) is first
    assert file_lock(os.path.relpath(path)) is first


def test_lock_is_reentrant_within_a_thread(tmp_path):
    lock = file_lock(str(tmp_path / "lock"))
    with lock, lock:
        assert lock.held()
    assert not lock.held()


def test_release_without_acquire_is_an_error(tmp_path):
    with pytest.raises(RuntimeError, match="does not hold"):
        file_lock(str(tmp_path / "lock")).release()


def _hold_many_times(path, rounds, out):
    intervals = []
    lock = file_lock(path)
    for _ in range(rounds):
        with lock:
            start = time.monotonic_ns()
            time.sleep(0.0005)
            intervals.append((start, time.monotonic_ns()))
    with open(out, "w") as f:
        f.write("\n".join(f"{a} {b}" for a, b in intervals))
    return lock.contended


def _overlaps(intervals):
    intervals = sorted(intervals)
    return [(a, b) for a, b in zip(intervals, intervals[1:]) if b[0] < a[1]]


@pytest.mark.timeout(120)
def test_no_two_processes_hold_the_lock_at_once(tmp_path):
    path = str(tmp_path / "lock")
    ctx = multiprocessing.get_context("spawn")
    outs = [str(tmp_path / f"intervals{i}") for i in range(6)]
    with ctx.Pool(6) as pool:
        contended = pool.starmap(_hold_many_times, [(path, 150, out) for out in outs])
    intervals = []
    for out in outs:
        with open(out) as f:
            intervals += [tuple(map(int, line.split())) for line in f]
    assert len(intervals) == 6 * 150
    assert _overlaps(intervals) == []
    assert sum(contended) > 0, "the processes never contended: the test proved nothing"


def test_threads_of_one_process_exclude_each_other(tmp_path):
    path = str(tmp_path / "lock")
    counter = {"value": 0}

    def bump():
        for _ in range(200):
            with file_lock(path):
                value = counter["value"]
                time.sleep(0)  # let another thread run inside the critical section if it can
                counter["value"] = value + 1

    threads = [threading.Thread(target=bump) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert counter["value"] == 800


def _try_lock_in_child(path, result_path):
    start = time.monotonic()
    with file_lock(path):
        waited = time.monotonic() - start
    with open(result_path, "w") as f:
        f.write(str(waited))


@pytest.mark.timeout(60)
def test_forked_child_waits_for_the_parent_and_does_not_deadlock(tmp_path):
    path = str(tmp_path / "lock")
    result = str(tmp_path / "waited")
    lock = file_lock(path)
    lock.acquire()  # held by this thread while forking: the child must not inherit the hold
    child = multiprocessing.get_context("fork").Process(
        target=_try_lock_in_child, args=(path, result)
    )
    child.start()
    time.sleep(0.5)
    lock.release()
    child.join(30)
    assert child.exitcode == 0
    with open(result) as f:
        assert float(f.read()) >= 0.4, "the child got the lock while the parent held it"


def test_closing_another_descriptor_of_the_file_is_not_done_by_file_lock(tmp_path):
    # file_lock() on a held lock file must not open and close it (which would drop the lock)
    path = str(tmp_path / "lock")
    lock = file_lock(path)
    with lock:
        for _ in range(3):
            assert file_lock(path) is lock
        ctx = multiprocessing.get_context("spawn")
        proc = ctx.Process(target=_try_lock_in_child, args=(path, str(tmp_path / "w")))
        proc.start()
        time.sleep(0.5)
        assert not os.path.exists(tmp_path / "w"), "another process took the lock we hold"
    proc.join(30)
    assert proc.exitcode == 0
