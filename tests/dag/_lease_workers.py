"""Processes that need the same stage output at once, for the stage lease tests.

Module-level, so that spawned processes import the same stages. Each execution of
``slow_shared`` appends a line ``<pid>`` to ``<marks>/slow_shared`` (read by the
tests), then sleeps ``seconds``; ``boom`` raises after at most ``seconds``, as soon as
the file ``<marks>/go`` exists.
"""

from __future__ import annotations

import os
import time
import traceback
from typing import Any

from sweepstack.dag import Record, aggregate, stage
from sweepstack.store._cache import ArtifactCache


def mark(marks: str, name: str) -> None:
    """Append this process's pid to ``<marks>/<name>``: one line per execution."""
    with open(os.path.join(marks, name), "a") as f:
        f.write(f"{os.getpid()}\n")
        f.flush()
        os.fsync(f.fileno())


def executions(marks: str, name: str) -> list[int]:
    """The pids of the executions of stage ``name``, in order."""
    try:
        with open(os.path.join(marks, name)) as f:
            return [int(line) for line in f if line.strip()]
    except FileNotFoundError:
        return []


@stage(outputs=["shared"], params=["size", "marks", "seconds"])
def slow_shared(record):
    p = record.params
    mark(p["marks"], "slow_shared")
    time.sleep(p["seconds"])
    return list(range(p["size"]))


@stage(inputs=["shared"], outputs=["total"], params=["offset"])
def use(record, shared):
    return sum(shared) + record.params["offset"]


@stage(outputs=["shared"], params=["size", "marks", "seconds"])
def boom(record):
    p = record.params
    mark(p["marks"], "boom")
    deadline = time.monotonic() + p["seconds"]
    while time.monotonic() < deadline and not os.path.exists(os.path.join(p["marks"], "go")):
        time.sleep(0.02)  # until the test says go (its waiters are waiting), at most seconds
    raise ValueError(f"size {p['size']} is cursed")


def need_shared(
    root: str, marks: str, seconds: float, offset: int, lease: float, queue: Any
) -> None:
    """Compute ``use(slow_shared(...))`` for one offset; put (offset, total or error) on queue."""
    cache = ArtifactCache(root, lease=lease)
    params = {"size": 100, "marks": marks, "seconds": seconds, "offset": offset}
    try:
        record = use(slow_shared(Record(params, cache=cache, id_run="r")))
        queue.put((offset, record.state["total"], None, cache.leases.waits))
    except BaseException as err:
        queue.put((offset, None, f"{type(err).__name__}: {err}", cache.leases.waits))
        traceback.print_exc()


def need_boom(root: str, marks: str, seconds: float, offset: int, queue: Any) -> None:
    """Run the failing stage ``boom``; put (offset, error type, error attributes) on queue."""
    cache = ArtifactCache(root, lease=30.0)
    params = {"size": 7, "marks": marks, "seconds": seconds, "offset": offset}
    try:
        use(boom(Record(params, cache=cache, id_run="r"))).state["total"]
        queue.put((offset, None, {}))
    except Exception as err:
        queue.put((offset, type(err).__name__, dict(getattr(err, "__dict__", {}))))


def manager_needs_shared(path: str, cache_path: str, marks: str, queue: Any) -> None:
    """A notebook: an ArtifactManager on a shared cache computing ``use(slow_shared(...))``."""
    from sweepstack.dag import ArtifactManager

    with ArtifactManager("notebook", path=path, cache_path=cache_path) as manager:
        params = {"size": 100, "marks": marks, "seconds": 3.0, "offset": 0}
        record = use(slow_shared(manager.record(params)))
        queue.put((record.state["total"], record.stages[0]["status"], manager.cache.leases.waits))


@aggregate(inputs=["total"], outputs=["summary"], params=["marks"], version="1")
def summarize(record, records, total):
    mark(record.params["marks"], "summarize")
    time.sleep(2.0)
    return sorted(total.values())


def need_summary(root: str, marks: str, queue: Any) -> None:
    """Three members sharing ``slow_shared``, then an aggregate over them; put its value."""
    cache = ArtifactCache(root, lease=30.0)
    members = [
        use(
            slow_shared(
                Record({"size": 10, "marks": marks, "seconds": 1.0, "offset": i}, cache=cache)
            )
        )
        for i in range(3)
    ]
    summary = summarize(Record({"marks": marks}, key="summary", cache=cache), members)
    queue.put(summary.state["summary"])
