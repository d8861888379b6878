"""Checking and repairing a sweeper's files; redo, keys, level counts, wall-clock recovery."""

from __future__ import annotations

import glob
import json
import os
import time
import warnings

import pytest

from sweepstack import sweep, sweep_stats
from sweepstack.errors import JournalWarning, StoreWriteError
from sweepstack.store._format import encode_journal_entry
from sweepstack.sweep import ParamSweeper, check_sweeper

SPACE = {"a": [1, 2, 3], "b": {"x": {"c": [True, False]}, "y": {}}}


@pytest.fixture
def folder(tmp_path):
    return str(tmp_path / "sw")


@pytest.fixture
def sweeper(folder):
    sweeper = ParamSweeper(folder, sweep(SPACE), save_sweeps=True)
    for _ in range(5):
        sweeper.done(sweeper.get_next())
    sweeper.fail(sweeper.get_next(), ValueError("boom"))
    return sweeper


def _journal(folder: str) -> str:
    return os.path.join(folder, "journal")


def _append(folder: str, data: bytes) -> None:
    with open(_journal(folder), "ab") as f:
        f.write(data)


def test_healthy_sweeper_has_no_problem(sweeper, folder):
    assert sweeper.check() == []
    assert check_sweeper(folder, lock=False) == []


def test_torn_tail_is_reported_and_cut_under_the_lock(sweeper, folder):
    size = os.path.getsize(_journal(folder))
    _append(folder, b"D 0123456789abcdef0123")
    (problem,) = sweeper.check()
    assert problem.kind == "journal" and "22 bytes" in problem.problem and not problem.repaired
    (repaired,) = sweeper.repair()
    assert repaired.repaired == "cut 22 bytes"
    assert os.path.getsize(_journal(folder)) == size
    assert sweeper.check() == []


def test_damaged_entry_is_compacted_away_and_a_copy_kept(sweeper, folder, tmp_path):
    with open(_journal(folder), "rb") as f:
        lines = f.read().split(b"\n")
    claim = next(i for i, line in enumerate(lines) if line.startswith(b"C "))
    lines[claim] = lines[claim][:-2] + b"zz"  # its checksum fails now
    with open(_journal(folder), "wb") as f:
        f.write(b"\n".join(lines))
    (problem,) = check_sweeper(folder)
    assert "1 damaged entry" in problem.problem
    quarantine = str(tmp_path / "quarantine")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", JournalWarning)
        (repaired,) = check_sweeper(folder, repair=True, quarantine_dir=quarantine)
    assert "compacted" in repaired.repaired
    assert os.listdir(quarantine) == ["journal.0.damaged"]
    assert check_sweeper(folder) == []
    again = ParamSweeper(folder, readonly=True)
    assert again.counts()["done"] == 5 and again.counts()["failed"] == 1


def test_unreadable_journal_is_set_aside_and_done_keys_recovered(sweeper, folder, tmp_path):
    done = sweeper.keys("done")
    with open(_journal(folder), "r+b") as f:
        f.write(b"garbage!")
    (problem,) = check_sweeper(folder)
    assert "not a sweepstack journal header" in problem.problem
    quarantine = str(tmp_path / "quarantine")
    problems = check_sweeper(folder, repair=True, done=done, quarantine_dir=quarantine)
    assert [p.kind for p in problems] == ["journal", "state"]
    assert "5 combinations with a done record" in problems[1].problem
    assert len(glob.glob(os.path.join(quarantine, "journal.*"))) == 1
    reopened = ParamSweeper(folder, readonly=True)
    assert sorted(reopened.keys("done")) == sorted(done)
    assert reopened.counts()["failed"] == 0  # lost with the journal: it runs again


def test_snapshot_is_rebuilt_from_the_generation_before(sweeper, folder):
    sweeper.redo([])  # nothing to redo: still generation 0
    sweeper.redo(sweeper.keys("failed"))  # a new generation: snapshot.1 and journal.0
    snapshot = os.path.join(folder, "snapshot.1")
    with open(snapshot, "r+b") as f:
        f.seek(40)
        f.write(b"XX")
    (problem,) = check_sweeper(folder)
    assert "generation 0 can rebuild it" in problem.problem
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", JournalWarning)
        (repaired,) = check_sweeper(folder, repair=True)
    assert repaired.repaired == "rebuilt from generation 0"
    assert check_sweeper(folder) == []
    assert ParamSweeper(folder, readonly=True).counts()["done"] == 5


def test_snapshot_nothing_rebuilds_is_replaced_and_done_keys_recovered(sweeper, folder):
    done = sweeper.keys("done")
    sweeper.redo(sweeper.keys("failed"))
    os.unlink(os.path.join(folder, "journal.0"))
    with open(os.path.join(folder, "snapshot.1"), "wb") as f:
        f.write(b"nonsense")
    problems = check_sweeper(folder, repair=True, done=done)
    assert [p.kind for p in problems] == ["snapshot", "state"]
    assert ParamSweeper(folder, readonly=True).counts()["done"] == 5


def test_damaged_saved_sweeps_are_quarantined(sweeper, folder):
    with open(os.path.join(folder, "sweeps"), "r+b") as f:
        f.seek(-3, os.SEEK_END)
        f.write(b"\x01\x02\x03")
    (problem,) = check_sweeper(folder, repair=True)
    assert problem.kind == "sweeps" and "moved to" in problem.repaired
    assert not os.path.exists(os.path.join(folder, "sweeps"))


def test_read_only_sweeper_cannot_repair_or_redo(sweeper, folder):
    reader = ParamSweeper(folder, readonly=True)
    with pytest.raises(StoreWriteError):
        reader.repair()
    with pytest.raises(StoreWriteError):
        reader.redo(sweeper.keys("done"))


def test_redo_returns_done_combinations_to_todo_for_every_process(sweeper, folder):
    other = ParamSweeper(folder)
    key = sweeper.keys("done")[0]
    assert sweeper.redo([key, "not-a-key"]) == [key]
    other.update()
    assert key in other.keys("todo") and other.counts()["done"] == 4
    handed = other.get_next()
    assert other.key_of(handed) == key  # the first todo in order again


def test_keys_by_state_match_the_counts(sweeper):
    counts = sweeper.counts()
    for state, name in (("todo", "remaining"), ("done", "done"), ("failed", "failed")):
        assert len(sweeper.keys(state)) == counts[name]
    with pytest.raises(ValueError):
        sweeper.keys("finished")


@pytest.mark.parametrize("saved", [True, False], ids=["columns", "combinations"])
def test_level_counts_agree_with_sweep_stats(folder, saved):
    writer = ParamSweeper(folder, sweep(SPACE), save_sweeps=True)
    writer.done(writer.get_next())
    writer.fail(writer.get_next(), "boom")
    writer.get_next()
    sweeper = ParamSweeper(folder, readonly=True) if saved else writer
    counts = sweeper.level_counts()
    stats = sweep_stats(sweeper.stats())
    for state in ("total", "done", "inprogress"):
        assert counts[state] == {f: v for f, v in stats[state].items() if v}, state
    failed: dict = {}
    for combination in sweeper.get_failed():
        for factor, level in combination.items():
            failed.setdefault(factor, {})[level] = failed.get(factor, {}).get(level, 0) + 1
    assert counts["failed"] == failed and failed
    total = sum(counts["remaining"]["a"].values())
    assert total == sweeper.counts()["remaining"]


def test_recover_by_wall_clock_takes_back_claims_of_silent_owners(sweeper, folder):
    key = sweeper.keys("todo")[0]
    owner = {
        "host": "elsewhere",
        "pid": 1,
        "start": None,
        "boot": "",
        "pidns": 0,
        "lease": 10.0,
        "since": time.time() - 3600,
    }
    _append(folder, encode_journal_entry("O", "0wner0000000", json.dumps(owner)))
    _append(folder, encode_journal_entry("C", key, f"0wner0000000 {time.time() - 3600:.3f}"))
    fresh = ParamSweeper(folder)
    assert fresh.counts()["inprogress"] == 1
    assert fresh.recover() == []  # this process just met the owner: no lease has run out
    assert fresh.recover(trust_wall_clock=True) == [("0wner0000000", "expired")]
    assert fresh.counts()["inprogress"] == 0


def test_recover_by_wall_clock_keeps_recent_claims(sweeper, folder):
    key = sweeper.keys("todo")[0]
    owner = {
        "host": "elsewhere",
        "pid": 1,
        "start": None,
        "boot": "",
        "pidns": 0,
        "lease": 600.0,
        "since": time.time() - 3600,
    }
    _append(folder, encode_journal_entry("O", "0wner0000001", json.dumps(owner)))
    _append(folder, encode_journal_entry("C", key, f"0wner0000001 {time.time():.3f}"))
    fresh = ParamSweeper(folder)
    assert fresh.recover(trust_wall_clock=True) == []
    assert fresh.counts()["inprogress"] == 1
