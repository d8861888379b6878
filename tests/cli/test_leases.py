"""``sweepstack status`` says which stage outputs are being computed, by whom, and who waits."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

_ACQUIRE = """
import sys, time
from sweepstack.store._lease import StageLeases
leases = StageLeases(sys.argv[1], lease=600.0)
print("start", flush=True)
lease = leases.acquire("ab" * 16, "draw", "combination-key")
print("held", flush=True)
time.sleep(60)
"""


def _process(folder):
    proc = subprocess.Popen(
        [sys.executable, "-c", _ACQUIRE, folder], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline().strip() == "start"
    return proc


@pytest.mark.timeout(90)
def test_status_shows_the_stage_being_computed_and_the_process_waiting_for_it(example, sweepstack):
    folder = os.path.join(example, "cache", "leases")
    owner = _process(folder)
    assert owner.stdout.readline().strip() == "held"
    waiter = _process(folder)
    try:
        deadline = time.monotonic() + 30
        while not os.listdir(os.path.join(folder, "waiting")):
            assert time.monotonic() < deadline, "the second process never waited"
            time.sleep(0.05)
        document = json.loads(sweepstack("status", example, "--json").out)
        leases = {lease["state"]: lease for lease in document["stage_leases"]}
        assert set(leases) == {"computing", "waiting"}
        assert leases["computing"]["pid"] == owner.pid
        assert leases["waiting"]["pid"] == waiter.pid
        assert leases["waiting"]["waits_for"].startswith(f"pid {owner.pid} on ")
        assert all(lease["stage"] == "draw" for lease in leases.values())
        text = sweepstack("status", example).out
        assert "stage leases" in text and f"waits for pid {owner.pid}" in text
    finally:
        for proc in (owner, waiter):
            proc.kill()
            proc.wait(10)
            proc.stdout.close()


def test_status_of_an_experiment_with_no_stage_running_lists_no_lease(example, sweepstack):
    document = json.loads(sweepstack("status", example, "--json").out)
    assert document["stage_leases"] == []
    assert "stage leases" not in sweepstack("status", example).out
