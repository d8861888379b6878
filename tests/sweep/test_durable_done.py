"""One durable write per combination: a writer killed between any two steps of done()
leaves neither a done without its record nor a record that is not done."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import sweepstack
from sweepstack.store import ExperimentDir
from sweepstack.sweep import ParamSweeper
from tests.sweep._finisher import STEPS

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _finish_and_die(path: str, step: str) -> tuple[str, bool]:
    """Run the finisher killed at ``step``; return the key and whether done() returned."""
    proc = subprocess.run(
        [sys.executable, "-m", "tests.sweep._finisher", path, step],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == -9, proc.stderr
    lines = proc.stdout.split()
    return lines[lines.index("KEY") + 1], "ACK" in lines


def _reopen(path: str) -> tuple[ExperimentDir, ParamSweeper]:
    """What the next process of the experiment does: open, attach the records, recover."""
    experiment = ExperimentDir.open(path)
    sweeper = ParamSweeper(experiment.sweeper_dir("main"), name="main")
    sweeper.attach_records(experiment.record_store)
    sweeper.recover()
    return experiment, sweeper


@pytest.mark.timeout(120)
@pytest.mark.parametrize("step", STEPS)
def test_writer_killed_at_any_step_leaves_done_and_record_together(tmp_path, step):
    path = str(tmp_path / "exp")
    key, acknowledged = _finish_and_die(path, step)
    experiment, sweeper = _reopen(path)
    done = key in sweeper.keys("done")
    record = experiment.read_record("main", key)
    assert done == (record is not None), (step, done, record)
    if acknowledged:
        assert done  # done() returned: the mark and its record survive
    if done:
        assert record["status"] == "done" and record["fields"] == {"x": 1}
        assert record["attempt"] == 1
        rows = sweepstack.open(path).results()
        assert [r["key"] for r in rows] == [key]
    else:
        assert key in sweeper.keys("todo")  # the dead owner's claim came back
    if step.startswith("before"):
        assert not done
    else:
        assert done  # from the append on, the mark and its record are written


@pytest.mark.timeout(120)
def test_a_record_put_back_by_another_process_is_announced_once(tmp_path):
    path = str(tmp_path / "exp")
    key, _ = _finish_and_die(path, "after-sync")
    _reopen(path)
    experiment, sweeper = _reopen(path)
    assert sweeper._state.pending == {}  # the first reopening announced it (M entry)
    assert experiment.read_record("main", key)["attempt"] == 1
