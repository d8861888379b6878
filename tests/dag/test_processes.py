"""Real processes sharing one cache: every one succeeds, one good copy of each artifact."""

from __future__ import annotations

import multiprocessing
import os

import pytest

from sweepstack.store._cache import ArtifactCache
from tests.dag._pipeline import race

N = 12


@pytest.mark.timeout(90)
def test_two_processes_computing_the_same_artifacts_both_succeed_and_leave_one_copy(tmp_path):
    root = str(tmp_path / "cache")
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(2)
    queue = ctx.Queue()
    procs = [ctx.Process(target=race, args=(root, barrier, N, queue)) for _ in range(2)]
    for p in procs:
        p.start()
    results = [queue.get(timeout=80) for _ in procs]
    for p in procs:
        p.join(10)
    assert [p.exitcode for p in procs] == [0, 0]
    expected = [2 * i for i in range(N)]
    assert [values for _, values, _ in results] == [expected, expected]
    # between them, each slow artifact was computed once (the other process waited for
    # its stage lease, then loaded it)
    assert sum(count for _, _, count in results) == N
    cache = ArtifactCache(root)
    keys = list(cache.iter_artifacts())
    assert len(keys) == 2 * N
    assert cache.check() == []
    shards = {os.path.dirname(cache.path(key)) for key in keys}
    assert sorted(name for shard in shards for name in os.listdir(shard)) == sorted(keys)
