"""Stages shared by the dag tests: a 3-stage pipeline that counts its runs and loads.

Stage ``first`` reads factor ``a``, ``second`` reads ``b``, ``third`` reads ``c``.
Module-level, so that spawned processes import the same stages.
"""

from __future__ import annotations

import collections
import os
import time
from typing import Any

from sweepstack.dag import PickleCacher, Record, stage
from sweepstack.store._cache import ArtifactCache

CALLS: collections.Counter[str] = collections.Counter()
LOADS: collections.Counter[str] = collections.Counter()


class CountingCacher(PickleCacher):
    """Pickle, counting every load by a label."""

    def __init__(self, label: str = "") -> None:
        self.label = label

    def load(self, path: str) -> Any:
        LOADS[self.label] += 1
        return super().load(path)


def reset_counts() -> None:
    CALLS.clear()
    LOADS.clear()


@stage(outputs=["first"], params=["a"], cachers=[CountingCacher("first")])
def first(record):
    CALLS["first"] += 1
    return record.params["a"] * 100


@stage(inputs=["first"], outputs=["second"], params=["b"], cachers=[CountingCacher("second")])
def second(record, first):
    CALLS["second"] += 1
    record.fields["b_seen"] = record.params["b"]
    return first + record.params["b"] * 10


@stage(inputs=["second"], outputs=["third"], params=["c"], cachers=[CountingCacher("third")])
def third(record, second):
    CALLS["third"] += 1
    value = second + record.params["c"]
    record.fields["total"] = value
    return value


def pipeline(record: Record) -> Record:
    return third(second(first(record)))


def run_all(combinations, cache, **options) -> list[Record]:
    """Every combination through the pipeline, resolved one record at a time."""
    records = [pipeline(Record(c, cache=cache, **options)) for c in combinations]
    for record in records:
        record.resolve()
    return records


@stage(outputs=["slow"], params=["i"], version="1")
def slow(record):
    time.sleep(0.01)
    CALLS["slow"] += 1
    return {"i": record.params["i"], "pid": os.getpid()}


@stage(inputs=["slow"], outputs=["slower"], params=[], version="1")
def slower(record, slow):
    time.sleep(0.005)
    return slow["i"] * 2


def race(root: str, barrier, n: int, queue) -> None:
    """One of the processes racing on one cache: resolve n records, report values."""
    cache = ArtifactCache(root)
    barrier.wait()
    values = []
    for i in range(n):
        record = slower(slow(Record({"i": i}, cache=cache, id_run=f"pid{os.getpid()}")))
        values.append(record.state["slower"])
    queue.put((os.getpid(), values, CALLS["slow"]))
