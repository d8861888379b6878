"""Workers share upstream stages: each stage output key is executed once (issue 13)."""

from __future__ import annotations

import os

import pytest

import sweepstack
from tests.engine.test_engine import run_engine


def _executions(marks, name):
    try:
        with open(os.path.join(marks, name)) as f:
            return [int(line) for line in f if line.strip()]
    except FileNotFoundError:
        return []


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_four_workers_execute_each_shared_stage_key_once(tmp_path):
    path, marks = str(tmp_path / "exp"), str(tmp_path / "marks")
    os.makedirs(marks)
    args = ["-c", path, "--marks", marks, "--work", "0.3", "--workers", "4", "--no-progress"]
    code, _, err = run_engine("ThreeStages", *args, timeout=200)
    assert code == 0, err
    counts = {name: len(_executions(marks, name)) for name in "abc"}
    assert counts == {"a": 2, "b": 6, "c": 24}  # the ideal: one per key, as one worker does
    assert len(set(_executions(marks, "b"))) >= 2  # and the workers shared the work
    records = list(sweepstack.open(path).records())
    assert len(records) == 24 and all(r["status"] == "done" for r in records)
    values = sorted(r["fields"]["value"] for r in records)
    assert values == sorted(
        100 * a + 10 * b + c for a in (0, 1) for b in (0, 1, 2) for c in range(4)
    )
    assert os.listdir(os.path.join(path, "cache", "leases", "waiting")) == []
    assert [
        n for n in os.listdir(os.path.join(path, "cache", "leases")) if n.endswith(".json")
    ] == []
