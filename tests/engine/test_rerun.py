"""Rerunning a sweep with one stage changed computes only what the change affects."""

from __future__ import annotations

import collections
import os
import subprocess
import sys

import pytest

import sweepstack

SCRIPT = """
import os, uuid
from sweepstack import Engine, stage, sweep

MARKS = os.environ["MARKS"]

def mark(stage_name):
    os.makedirs(MARKS, exist_ok=True)
    open(os.path.join(MARKS, f"{stage_name}-{uuid.uuid4().hex}"), "w").close()

@stage(outputs=["data"], params=["n"])
def load(record):
    mark("load")
    return list(range(record.params["n"]))

@stage(inputs=["data"], outputs=["total"], params=["scale"])
def total(record, data):
    mark("total")
    value = sum(data) * record.params["scale"]
    record.fields["total"] = value
    return value

class Rerun(Engine):
    def run(self):
        sweeper = self.sweeper(sweep({"n": [10, 20, 30], "scale": [1, 2]}))
        for record in self.records(sweeper):
            total(load(record))

if __name__ == "__main__":
    Rerun().start()
"""


def _counts(marks):
    return collections.Counter(name.split("-")[0] for name in os.listdir(marks))


def _run(args, env, cwd):
    result = subprocess.run(
        [sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result


@pytest.mark.timeout(180)
def test_editing_a_stage_then_reset_done_recomputes_only_that_stage(tmp_path):
    script, marks = tmp_path / "rerun.py", tmp_path / "marks"
    script.write_text(SCRIPT)
    env = {**os.environ, "MARKS": str(marks)}
    _run([str(script), "-c", "exp"], env, tmp_path)
    assert _counts(marks) == {"load": 3, "total": 6}

    # the user changes how totals are computed, asks for every combination again, continues
    script.write_text(SCRIPT.replace("sum(data) * record.params", "sum(data) * 10 * record.params"))
    _run(["-m", "sweepstack", "reset", "exp", "--done"], env, tmp_path)
    _run([str(script), "-c", "exp"], env, tmp_path)

    assert _counts(marks) == {"load": 3, "total": 12}  # load: all cache hits; total: rerun
    records = {
        (r["params"]["n"], r["params"]["scale"]): r
        for r in sweepstack.open(tmp_path / "exp").records()
    }
    assert records[(10, 2)]["fields"]["total"] == 900 and records[(10, 2)]["attempt"] == 2
    stages = {s["name"]: s["status"] for s in records[(10, 2)]["stages"]}
    assert stages == {"load": "hit", "total": "run"}


def _journal_ops(path):
    ops = collections.Counter()
    with open(os.path.join(path, "sweeps", "main", "journal"), "rb") as f:
        for line in f.read().splitlines()[1:]:
            ops[line.split(b" ", 1)[0].decode()] += 1
    return ops


@pytest.mark.timeout(180)
def test_a_rerun_with_every_stage_cached_and_nothing_changed_writes_only_done_marks(tmp_path):
    script, marks = tmp_path / "rerun.py", tmp_path / "marks"
    script.write_text(SCRIPT)
    env = {**os.environ, "MARKS": str(marks)}
    _run([str(script), "-c", "exp"], env, tmp_path)
    before = {r["key"]: r for r in sweepstack.open(tmp_path / "exp").records()}

    _run(["-m", "sweepstack", "reset", "exp", "--done"], env, tmp_path)
    _run([str(script), "-c", "exp"], env, tmp_path)

    assert _counts(marks) == {"load": 3, "total": 6}  # nothing ran again
    after = {r["key"]: r for r in sweepstack.open(tmp_path / "exp").records()}
    assert after == before  # no record rewritten: same attempt, run, times
    ops = _journal_ops(str(tmp_path / "exp"))
    assert ops["D"] == 6 and ops["W"] == 0  # the new generation: done marks, no records
