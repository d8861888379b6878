"""ParamSweeper: execo_engine's API and meanings, plus failed state, claims, order, bad input."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import time
import warnings

import pytest

from sweepstack import sweep, sweep_stats
from sweepstack.errors import (
    ClaimLostWarning,
    ForeignFormatError,
    FormatVersionError,
    JournalCorruptError,
    JournalWarning,
    NoSweepsError,
    SnapshotCorruptError,
    StoreWriteError,
    UnkeyableValueError,
    UnknownCombinationError,
)
from sweepstack.sweep import HashableDict, ParamSweeper, SweeperStats, check_sweeper
from sweepstack.sweep import _sweeper as sweeper_module
from tests._competitors import execo_engine

SPACE = {"a": [1, 2, 3], "b": ["x", "y"]}
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def space():
    return sweep(SPACE)


@pytest.fixture
def sweeper(tmp_path, space):
    return ParamSweeper(str(tmp_path / "sw"), space, save_sweeps=True)


def _keys(combinations):
    return sorted(tuple(sorted(c.items())) for c in combinations)


# --- execo_engine's API and meanings ------------------------------------------------


def test_get_next_hands_out_every_combination_once_in_order(sweeper, space):
    got = []
    while (c := sweeper.get_next()) is not None:
        got.append(c)
    assert got == space
    assert sweeper.get_next() is None
    assert _keys(sweeper.get_inprogress()) == _keys(space)


def test_done_skip_cancel_move_combinations_between_states(sweeper, space):
    first, second, third = sweeper.get_next(), sweeper.get_next(), sweeper.get_next()
    sweeper.done(first)
    sweeper.skip(second)
    sweeper.cancel(third)
    assert list(sweeper.get_done()) == [first]
    assert list(sweeper.get_skipped()) == [second]
    assert list(sweeper.get_inprogress()) == []
    assert third in sweeper.get_remaining()
    assert sweeper.get_next() == third  # cancelled: handed out again, first in order
    assert str(sweeper) == "sw <6 total, 1 done, 1 skipped, 1 in progress, 3 remaining, 0 failed>"


def test_state_persists_across_instances_but_skipped_does_not(tmp_path, space):
    path = str(tmp_path / "sw")
    one = ParamSweeper(path, space, save_sweeps=True)
    done, skipped, claimed = one.get_next(), one.get_next(), one.get_next()
    one.done(done)
    one.skip(skipped)
    two = ParamSweeper(path)  # sweeps loaded from the folder
    assert list(two.get_sweeps()) == space
    assert list(two.get_done()) == [done]
    assert list(two.get_inprogress()) == [claimed]
    assert list(two.get_skipped()) == []
    assert skipped in two.get_remaining()


def test_batches_claim_and_finish_several_at_once(sweeper, space):
    batch = sweeper.get_next_batch(4)
    assert batch == space[:4]
    sweeper.done_batch(batch[:2])
    sweeper.skip_batch(batch[2:3])
    sweeper.cancel_batch(batch[3:])
    assert sweeper.counts() == {
        "total": 6,
        "done": 2,
        "inprogress": 0,
        "failed": 0,
        "skipped": 1,
        "remaining": 3,
    }
    assert sweeper.get_next_batch(10) == [space[3], space[4], space[5]]


def test_instances_with_different_sweeps_share_states(tmp_path):
    path = str(tmp_path / "sw")
    small = ParamSweeper(path, sweep({"a": [1, 2]}))
    large = ParamSweeper(path, sweep({"a": [1, 2, 3]}))
    small.done(small.get_next())
    large.update()
    assert list(large.get_done()) == [{"a": 1}]
    assert large.get_next() == {"a": 2}
    small.update()
    assert list(small.get_inprogress()) == [{"a": 2}]
    assert small.get_next() is None
    assert str(small) == "sw <2 total, 1 done, 0 skipped, 1 in progress, 0 remaining, 0 failed>"


def test_set_sweeps_changes_what_is_handed_out_and_keeps_states(sweeper):
    first = sweeper.get_next()
    sweeper.done(first)
    sweeper.set_sweeps(sweep({"a": [1, 9], "b": ["x"]}))
    assert list(sweeper.get_done()) == [first]
    assert sweeper.get_next() == {"a": 9, "b": "x"}


def test_reset_forgets_skipped_keeps_done_and_optionally_claims(sweeper):
    done, skipped, claimed = sweeper.get_next(), sweeper.get_next(), sweeper.get_next()
    sweeper.done(done)
    sweeper.skip(skipped)
    sweeper.reset()
    assert list(sweeper.get_skipped()) == [] and skipped in sweeper.get_remaining()
    assert list(sweeper.get_done()) == [done] and list(sweeper.get_inprogress()) == [claimed]
    sweeper.reset(reset_inprogress=True)
    assert list(sweeper.get_inprogress()) == []
    assert sweeper.counts()["remaining"] == 5


def test_stats_work_with_sweep_stats(sweeper, space):
    sweeper.done(sweeper.get_next())
    stats = sweeper.stats()
    assert isinstance(stats, SweeperStats) and len(stats) == 5
    sweeps, _remaining, _skipped, _inprogress, done = stats
    assert list(sweeps) == space and list(done) == [space[0]]
    per_factor = sweep_stats(stats)
    assert per_factor["done"] == {"a": {1: 1}, "b": {"x": 1}}
    assert per_factor["done_ratio"]["a"] == {1: 0.5, 2: 0.0, 3: 0.0}


@pytest.mark.skipif(execo_engine is None, reason="execo_engine is not installed")
def test_stats_per_factor_equal_execo_engine_for_the_same_states(tmp_path, space):
    ours = ParamSweeper(str(tmp_path / "ours"), space)
    theirs = execo_engine.ParamSweeper(str(tmp_path / "theirs"), space)
    for sweeper_ in (ours, theirs):
        # execo hands out in set order: pick the same combinations in both with a filter
        combinations = [
            sweeper_.get_next(filtr=lambda todo, t=target: [c for c in todo if c == t])
            for target in space[1:4]
        ]
        sweeper_.done(combinations[0])
        sweeper_.skip(combinations[1])
    ours_stats = sweep_stats(ours.stats())
    theirs_stats = sweep_stats(theirs.stats())
    assert ours_stats == theirs_stats


def test_name_defaults_to_the_folder_name(tmp_path, space):
    assert ParamSweeper(str(tmp_path / "my-sweep"), space).name == "my-sweep"
    assert ParamSweeper(str(tmp_path / "x"), space, name="custom").name == "custom"


def test_update_sees_what_another_instance_did(tmp_path, space):
    path = str(tmp_path / "sw")
    one, two = ParamSweeper(path, space), ParamSweeper(path, space)
    one.done(one.get_next())
    assert list(two.get_done()) == []  # not read yet, as in execo: getters do not touch the disk
    two.update()
    assert list(two.get_done()) == [space[0]]
    two.full_update()
    assert list(two.get_done()) == [space[0]]


def test_duplicate_combinations_are_one(tmp_path):
    sweeper = ParamSweeper(str(tmp_path / "sw"), [{"a": 1}, {"a": 1}, {"a": 2}])
    assert list(sweeper.get_sweeps()) == [{"a": 1}, {"a": 2}]


def test_plain_dicts_become_hashable_dicts(tmp_path):
    sweeper = ParamSweeper(str(tmp_path / "sw"), [{"a": 1}])
    assert type(sweeper.get_next()) is HashableDict


# --- added: failed, iteration, claim(), order ----------------------------------------


def test_failed_is_persisted_and_not_handed_out_again(tmp_path, space):
    path = str(tmp_path / "sw")
    one = ParamSweeper(path, space)
    first = one.get_next()
    one.fail(first, ValueError("diverged"))
    two = ParamSweeper(path, space)
    assert list(two.get_failed()) == [first]
    assert first not in list(two)
    (info,) = two.failures().values()
    assert info["type"] == "builtins.ValueError" and info["message"] == "diverged"


def test_failed_comes_back_with_retry_failed_or_reset(tmp_path, space):
    path = str(tmp_path / "sw")
    one = ParamSweeper(path, space)
    first = one.get_next()
    one.fail(first, "oops")
    retrying = ParamSweeper(path, space, retry_failed=True)
    assert retrying.get_next() == first
    retrying.cancel(first)
    one.reset()
    assert list(one.get_failed()) == [] and one.get_next() == first


def test_iteration_claims_until_nothing_is_left(sweeper, space):
    seen = []
    for combination in sweeper:
        seen.append(combination)
        sweeper.done(combination)
    assert seen == space
    assert sweeper.counts()["done"] == 6


def test_claim_context_marks_done_on_normal_exit(sweeper, space):
    with sweeper.claim() as combination:
        assert combination == space[0]
    assert list(sweeper.get_done()) == [space[0]]


def test_claim_context_gives_back_on_keyboard_interrupt(sweeper, space):
    with pytest.raises(KeyboardInterrupt), sweeper.claim():
        raise KeyboardInterrupt
    assert list(sweeper.get_inprogress()) == [] and sweeper.get_next() == space[0]


def test_claim_context_fails_on_other_exceptions(sweeper, space):
    with pytest.raises(ZeroDivisionError), sweeper.claim():
        1 / 0  # noqa: B018
    assert list(sweeper.get_failed()) == [space[0]]
    assert next(iter(sweeper.failures().values()))["type"] == "builtins.ZeroDivisionError"


def test_claim_context_yields_none_when_nothing_is_left(tmp_path):
    empty = ParamSweeper(str(tmp_path / "sw"), [{"a": 1}])
    empty.done({"a": 1})
    with empty.claim() as combination:
        assert combination is None


def test_order_hands_out_in_key_order(tmp_path, space):
    sweeper = ParamSweeper(str(tmp_path / "sw"), space, order=lambda c: (-c["a"], c["b"]))
    first = sweeper.get_next()
    assert first == {"a": 3, "b": "x"}
    assert sweeper.get_next() == {"a": 3, "b": "y"}
    sweeper.cancel(first)
    assert sweeper.get_next() == first  # back to todo: first in order again
    assert [c["a"] for c in sweeper.get_remaining()] == [2, 2, 1, 1]


def test_execo_filter_still_works(sweeper, space):
    last_first = sweeper.get_next(
        filtr=lambda todo: sorted(todo, key=lambda c: (c["a"], c["b"]), reverse=True)
    )
    assert last_first == {"a": 3, "b": "y"}


def test_claims_show_owner_and_lease(tmp_path, space):
    sweeper = ParamSweeper(str(tmp_path / "sw"), space, lease=30)
    combination = sweeper.get_next()
    (claim,) = sweeper.claims()
    assert claim.combination == combination and claim.mine
    assert claim.pid == os.getpid() and claim.lease == 30
    assert claim.host and abs(claim.claimed_at - time.time()) < 60
    assert [c.key for c in sweeper.stats().claims] == [claim.key]


def test_done_is_durable_in_the_journal_when_it_returns(tmp_path, space):
    path = str(tmp_path / "sw")
    sweeper = ParamSweeper(path, space)
    sweeper.done(sweeper.get_next())
    with open(os.path.join(path, "journal"), "rb") as f:
        assert b"\nD " in f.read()


# --- claims of other processes --------------------------------------------------------


def _hold(path, lease=600.0):
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.sweep._workers", "hold", path, "--lease", str(lease)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    line = proc.stdout.readline().split()
    assert line[0] == "CLAIM", line
    return proc, line[1]


@pytest.mark.timeout(60)
def test_claim_of_live_owner_is_kept(tmp_path, space):
    path = str(tmp_path / "sw")
    ParamSweeper(path, space, save_sweeps=True)
    proc, key = _hold(path)
    try:
        observer = ParamSweeper(path)
        handed = [observer.key_of(c) for c in observer]
        assert key not in handed and len(handed) == 5
        assert [c.owner for c in observer.claims() if c.key == key]
    finally:
        proc.communicate("done\n", timeout=30)


@pytest.mark.timeout(60)
def test_claim_of_dead_owner_returns_to_todo(tmp_path, space):
    path = str(tmp_path / "sw")
    ParamSweeper(path, space, save_sweeps=True)
    proc, key = _hold(path)
    proc.communicate("exit\n", timeout=30)  # dies holding the claim, without cleanup
    observer = ParamSweeper(path)
    handed = [observer.key_of(c) for c in observer]
    assert key in handed and len(handed) == 6


@pytest.mark.timeout(60)
def test_expired_lease_returns_a_frozen_owners_claim(tmp_path, space):
    path = str(tmp_path / "sw")
    ParamSweeper(path, space, save_sweeps=True)
    proc, key = _hold(path, lease=1.0)
    try:
        proc.send_signal(19)  # SIGSTOP: alive, but its heartbeat no longer runs
        observer = ParamSweeper(path, lease=1.0)
        assert key not in [observer.key_of(c) for c in observer]  # lease not yet expired
        deadline = time.monotonic() + 20
        taken = []
        while key not in taken and time.monotonic() < deadline:
            time.sleep(0.2)
            taken += [observer.key_of(c) for c in observer]
        assert key in taken
        observer.done(observer.combination(key))
    finally:
        proc.send_signal(18)  # SIGCONT
    out, _ = proc.communicate("done\n", timeout=30)
    assert out.split() == ["DONE", "0", "1"]  # learns it lost the claim (False + one warning)


def test_owner_whose_claim_was_taken_still_gets_its_done_counted(tmp_path, space):
    path = str(tmp_path / "sw")
    holder = ParamSweeper(path, space)
    combination = holder.get_next()
    ParamSweeper(path, space).reset(reset_inprogress=True)  # someone takes every claim back
    with pytest.warns(ClaimLostWarning, match="taken over"):
        assert holder.done(combination) is False
    assert list(holder.get_done()) == [combination]


# --- bad input ------------------------------------------------------------------------


def test_missing_folder_without_sweeps_is_a_clear_error(tmp_path):
    with pytest.raises(NoSweepsError, match="save_sweeps=True"):
        ParamSweeper(str(tmp_path / "nothing"))


def test_done_of_a_combination_not_in_the_sweeps_is_refused(sweeper):
    with pytest.raises(UnknownCombinationError, match="not in the sweeps") as info:
        sweeper.done({"a": 42})
    assert isinstance(info.value, KeyError)
    assert sweeper.counts()["done"] == 0


def test_unkeyable_values_are_refused_with_the_factor(tmp_path):
    with pytest.raises(UnkeyableValueError, match="factor 'model'"):
        ParamSweeper(str(tmp_path / "sw"), [{"model": object()}])


def test_folder_under_a_file_is_a_clear_error(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(StoreWriteError):
        ParamSweeper(str(tmp_path / "file" / "sw"), [{"a": 1}])


def test_newer_journal_format_is_refused(tmp_path, space):
    path = tmp_path / "sw"
    ParamSweeper(str(path), space)
    from sweepstack.store._format import encode_journal_entry

    (path / "journal").write_bytes(encode_journal_entry("SSJ2", "0"))
    with pytest.raises(FormatVersionError, match="format 2"):
        ParamSweeper(str(path), space)


def test_a_refused_journal_leaves_no_descriptor_open(tmp_path, space):
    path = tmp_path / "sw"
    ParamSweeper(str(path), space)
    from sweepstack.store._format import encode_journal_entry

    (path / "journal").write_bytes(encode_journal_entry("SSJ2", "0"))
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(5):  # each attempt opened (and locked) the journal, then refused it
        with pytest.raises(FormatVersionError):
            ParamSweeper(str(path), space)
    assert len(os.listdir("/proc/self/fd")) <= before + 1  # the process's one lock file


def test_torn_tail_is_ignored_with_a_warning_and_nothing_earlier_is_lost(tmp_path, space):
    path = tmp_path / "sw"
    sweeper = ParamSweeper(str(path), space)
    for _ in range(3):
        sweeper.done(sweeper.get_next())
    journal = path / "journal"
    size = journal.stat().st_size
    with open(journal, "ab") as f:
        f.write(b"D 0123456789abcdef")  # a writer killed mid-entry
    with pytest.warns(JournalWarning, match="incomplete or corrupt tail"):
        reopened = ParamSweeper(str(path), space)
    assert reopened.counts()["done"] == 3
    reopened.done(reopened.get_next())  # written over the garbage (warned once, above)
    assert ParamSweeper(str(path), space).counts()["done"] == 4
    assert journal.stat().st_size > size


def test_corrupt_middle_entry_is_skipped_and_later_entries_are_kept(tmp_path, space):
    path = tmp_path / "sw"
    sweeper = ParamSweeper(str(path), space)
    for _ in range(3):
        sweeper.done(sweeper.get_next())
    journal = path / "journal"
    lines = journal.read_bytes().split(b"\n")
    # flip a byte of the first D entry (line 0 is the header, then O, C, D...)
    target = next(i for i, line in enumerate(lines) if line.startswith(b"D "))
    lines[target] = lines[target][:3] + b"X" + lines[target][4:]
    journal.write_bytes(b"\n".join(lines))
    with pytest.warns(JournalWarning, match="skipped 1 corrupt entry"):
        reopened = ParamSweeper(str(path), space)
    assert reopened.counts()["done"] == 2


def test_compaction_is_seen_by_an_instance_holding_an_old_offset(tmp_path, space, monkeypatch):
    monkeypatch.setattr(sweeper_module, "COMPACT_MIN_ENTRIES", 5)
    path = tmp_path / "sw"
    writer = ParamSweeper(str(path), space)
    reader = ParamSweeper(str(path), space)
    for _ in range(5):
        writer.done(writer.get_next())
    assert (path / "snapshot.1").exists()
    reader.update()
    assert reader.counts()["done"] == 5
    assert ParamSweeper(str(path), space).counts()["done"] == 5


def test_corrupt_snapshot_is_rebuilt_from_the_previous_generation(tmp_path, space, monkeypatch):
    monkeypatch.setattr(sweeper_module, "COMPACT_MIN_ENTRIES", 5)
    path = tmp_path / "sw"
    writer = ParamSweeper(str(path), space)
    for _ in range(4):
        writer.done(writer.get_next())
    snapshot = next(p for p in path.iterdir() if p.name.startswith("snapshot."))
    data = bytearray(snapshot.read_bytes())
    data[-3] ^= 0xFF
    snapshot.write_bytes(bytes(data))
    with pytest.warns(JournalWarning, match="rebuilt it"):
        reopened = ParamSweeper(str(path), space)
    assert reopened.counts()["done"] == 4


def test_corrupt_snapshot_without_a_previous_generation_is_a_clear_error(
    tmp_path, space, monkeypatch
):
    monkeypatch.setattr(sweeper_module, "COMPACT_MIN_ENTRIES", 5)
    path = tmp_path / "sw"
    writer = ParamSweeper(str(path), space)
    for _ in range(4):
        writer.done(writer.get_next())
    snapshot = next(p for p in path.iterdir() if p.name.startswith("snapshot."))
    snapshot.write_bytes(b"garbage")
    (path / "journal.0").unlink()
    with pytest.raises(SnapshotCorruptError, match="sweepstack check"):
        ParamSweeper(str(path), space)


def test_corrupt_saved_sweeps_is_a_clear_error(tmp_path, space):
    path = tmp_path / "sw"
    ParamSweeper(str(path), space, save_sweeps=True)
    data = bytearray((path / "sweeps").read_bytes())
    data[-1] ^= 0xFF
    (path / "sweeps").write_bytes(bytes(data))
    with pytest.raises(Exception, match="checksum mismatch"):
        ParamSweeper(str(path))


def test_full_disk_is_a_clear_error_and_nothing_done_is_lost(tiny_disk):
    path = str(tiny_disk / "sw")
    combinations = [{"i": i} for i in range(3000)]
    sweeper = ParamSweeper(path, combinations)
    filler = tiny_disk / "filler"
    filler.write_bytes(b"f" * 32 * 1024)
    acknowledged = []
    with pytest.raises(StoreWriteError, match="no space left") as info:
        for combination in sweeper:
            sweeper.done(combination)
            acknowledged.append(combination)
    assert isinstance(info.value, OSError) and len(acknowledged) > 10
    filler.unlink()  # space again: the sweep goes on, and every acknowledged done is there
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", JournalWarning)  # the entry cut short by the full disk
        reopened = ParamSweeper(path, combinations)
        done = reopened.get_done()
        assert all(c in done for c in acknowledged)
        reopened.reset(reset_inprogress=True)
        for _ in range(5):
            reopened.done(reopened.get_next())
        assert ParamSweeper(path, combinations).counts()["done"] == len(done) + 5


def test_execo_folder_is_recognised(tmp_path):
    path = tmp_path / "execo"
    path.mkdir()
    (path / "sweeps").write_bytes(b"\x80\x04" + struct.pack("<I", 0))
    (path / "inprogress").write_bytes(b"\x80\x04")
    with pytest.raises(FormatVersionError, match="execo_engine ParamSweeper") as info:
        ParamSweeper(str(path))
    assert isinstance(info.value, ForeignFormatError)
    assert not isinstance(info.value, JournalCorruptError)
    assert "check --repair" not in str(info.value)
    before = (path / "sweeps").read_bytes()
    problems = check_sweeper(str(path), repair=True)
    assert [p.kind for p in problems] == ["sweeps"] and not problems[0].repaired
    assert (path / "sweeps").read_bytes() == before


def _saved_sweeps_of_format(path, version):
    """Rewrite the saved sweeps of ``path`` as a newer sweepstack would (same body)."""
    from sweepstack.store._atomic import read_bytes
    from sweepstack.store._format import SWEEPS_MAGIC, parse_sweeps

    sweeps = path / "sweeps"
    header, body = parse_sweeps(str(sweeps), read_bytes(str(sweeps)))
    head = json.dumps({**header, "format": version}).encode()
    sweeps.write_bytes(SWEEPS_MAGIC + struct.pack("<Q", len(head)) + head + bytes(body))


def test_saved_sweeps_of_a_newer_format_raise_format_version_error(tmp_path):
    path = tmp_path / "s"
    ParamSweeper(str(path), sweep({"a": [1, 2]}), save_sweeps=True)
    _saved_sweeps_of_format(path, 2)
    with pytest.raises(FormatVersionError) as info:
        ParamSweeper(str(path))
    assert not isinstance(info.value, JournalCorruptError)
    assert info.value.found == 2 and "upgrade" in str(info.value).lower()


def test_repair_never_quarantines_saved_sweeps_of_a_newer_format(tmp_path):
    path = tmp_path / "s"
    ParamSweeper(str(path), sweep({"a": [1, 2]}), save_sweeps=True)
    _saved_sweeps_of_format(path, 2)
    before = (path / "sweeps").read_bytes()
    problems = check_sweeper(str(path), repair=True)
    assert [p.kind for p in problems] == ["sweeps"]
    assert not problems[0].repaired and "format 2" in problems[0].problem
    assert (path / "sweeps").read_bytes() == before
    assert not (path / "quarantine").exists()


def test_sweeper_is_not_pickled(sweeper):
    import pickle

    with pytest.raises(TypeError, match="open ParamSweeper"):
        pickle.dumps(sweeper)


def test_a_combination_given_back_twice_is_handed_out_once_in_a_batch(tmp_path):
    """Found by the stateful model: a reset, then a cancel, queued the same key twice."""
    combinations = sweep({"a": [1, 2, 3]})
    everything = ParamSweeper(str(tmp_path), combinations)
    first_only = ParamSweeper(str(tmp_path), combinations[:1])
    assert first_only.get_next_batch(1) == combinations[:1]
    everything.reset(reset_inprogress=True)
    claimed = everything.get_next()
    everything.cancel(claimed)
    assert first_only.get_next_batch(2) == combinations[:1]
