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


def test_records_lost_with_a_reboot_are_put_back_from_the_journal(tmp_path):
    """Record files are written without fsync: after a crash of the machine they may be
    gone, while their documents are durable in the journal. A process that finds owners
    of its host from an earlier boot puts back every file they wrote."""
    import json

    from sweepstack.store._format import encode_journal_entry

    path = str(tmp_path / "exp")
    experiment = ExperimentDir.create_or_open(path)
    folder = experiment.sweeper_dir("main")
    writer = ParamSweeper(folder, [{"n": n} for n in range(3)], save_sweeps=True, name="main")
    writer.attach_records(experiment.record_store)
    keys = []
    for _ in range(3):
        combination = writer.get_next()
        key = writer.key_of(combination)
        text = experiment.record_store.prepare("main", key, {"status": "done", "fields": {}})
        writer.done(combination, record=text)
        keys.append(key)
    owner = writer._me()
    for key in keys:  # the machine crashed before the files reached the disk
        os.remove(experiment.record_path("main", key))
    declaration = {**owner.to_json(), "boot": "an-earlier-boot"}
    with open(os.path.join(folder, "journal"), "ab") as journal:
        journal.write(encode_journal_entry("O", owner.id, json.dumps(declaration)))

    # the next process of the experiment (another owner) opens it
    reader = (
        "import sys; from tests.sweep.test_durable_done import _reopen; "
        "_, s = _reopen(sys.argv[1]); print(sorted(s._state.record_writers))"
    )
    out = subprocess.run(
        [sys.executable, "-c", reader, path], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert all(experiment.read_record("main", key)["status"] == "done" for key in keys)
    assert owner.id not in out.stdout  # announced: `M <owner> *`
