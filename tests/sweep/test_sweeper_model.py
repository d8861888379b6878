"""A stateful model of ParamSweeper: every call, reopening, dropping and torn writes.

The model is a plain dict of states; after every step each live sweeper instance
must agree with it exactly, including the order in which todo combinations come.
"""

from __future__ import annotations

import itertools
import os
import random
import shutil
import tempfile
import threading
import warnings

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from sweepstack import sweep
from sweepstack.errors import ClaimLostWarning, JournalWarning
from sweepstack.store._format import encode_journal_entry
from sweepstack.store._records import RecordStore
from sweepstack.sweep import ParamSweeper
from sweepstack.sweep import _sweeper as sweeper_module

UNIVERSE = sweep({"a": [0, 1, 2], "b": ["x", "y"], "c": [None, True]})  # 12 combinations


class SweeperModel(RuleBasedStateMachine):
    instances = Bundle("instances")

    def __init__(self) -> None:
        super().__init__()
        self.folder = tempfile.mkdtemp(prefix="sweepstack-model-")
        self.saved_compact = sweeper_module.COMPACT_MIN_ENTRIES
        sweeper_module.COMPACT_MIN_ENTRIES = 8  # compact often: every path gets exercised
        self.warnings = warnings.catch_warnings()
        self.warnings.__enter__()
        warnings.simplefilter("ignore", JournalWarning)  # torn tails are expected here
        warnings.simplefilter("ignore", ClaimLostWarning)  # checked through return values
        self.state: dict[str, str] = {}  # key -> todo / inprogress / done / failed
        self.live: dict[
            int, tuple[ParamSweeper, list[str], set[str]]
        ] = {}  # id -> (sweeper, order, skipped)
        self.mine: dict[int, set[str]] = {}  # keys each instance claimed and has not finished
        self.next_id = 0
        self.keys = {}
        self.records = RecordStore(os.path.join(self.folder, "records"))
        self.published: dict[str, str] = {}  # key -> the record given with its done mark

    def teardown(self) -> None:
        self.live.clear()  # before the folder goes: their heartbeat would find it gone
        sweeper_module.COMPACT_MIN_ENTRIES = self.saved_compact
        self.warnings.__exit__(None, None, None)
        shutil.rmtree(self.folder, ignore_errors=True)

    def _state_of(self, key: str) -> str:
        return self.state.get(key, "todo")

    # --- instances ------------------------------------------------------------------

    @initialize(target=instances)
    def first_instance(self):
        return self.open_instance(list(range(len(UNIVERSE))))

    @precondition(lambda self: len(self.live) < 3)
    @rule(
        target=instances,
        subset=st.lists(st.integers(0, len(UNIVERSE) - 1), min_size=1, unique=True),
    )
    def open_instance(self, subset):
        combinations = [UNIVERSE[i] for i in sorted(subset)]
        sweeper = ParamSweeper(self.folder, combinations)
        sweeper.attach_records(self.records)
        order = [sweeper.key_of(c) for c in combinations]
        for c, k in zip(combinations, order):
            self.keys[k] = c
        ident = self.next_id
        self.next_id += 1
        self.live[ident] = (sweeper, order, set())
        self.mine[ident] = set()
        return ident

    @rule(ident=instances)
    def reopen(self, ident):
        if ident not in self.live:
            return
        _, order, _ = self.live[ident]
        sweeper = ParamSweeper(self.folder, [self.keys[k] for k in order])
        sweeper.attach_records(self.records)
        self.live[ident] = (sweeper, order, set())
        self.mine[ident] = set()

    @rule(ident=instances)
    def drop_without_cleanup(self, ident):
        self.live.pop(ident, None)
        self.mine.pop(ident, None)  # its claims stay in progress: this process is alive

    # --- calls -------------------------------------------------------------------------

    def _expected_next(self, ident):
        _, order, skipped = self.live[ident]
        for key in order:
            if self._state_of(key) == "todo" and key not in skipped:
                return key
        return None

    @rule(ident=instances)
    def get_next(self, ident):
        if ident not in self.live:
            return
        sweeper = self.live[ident][0]
        expected = self._expected_next(ident)
        got = sweeper.get_next()
        assert (sweeper.key_of(got) if got is not None else None) == expected
        if expected is not None:
            self.state[expected] = "inprogress"
            self.mine[ident].add(expected)

    def _finish(self, ident, key):
        """What done()/fail() must return: False only if this instance's claim was lost."""
        lost = key in self.mine[ident] and self._state_of(key) != "inprogress"
        self.mine[ident].discard(key)
        return not lost

    def _pick(self, ident, data):
        _, order, _ = self.live[ident]
        return data.draw(st.sampled_from(order))

    @rule(ident=instances, data=st.data())
    def done(self, ident, data):
        if ident not in self.live:
            return
        key = self._pick(ident, data)
        assert self.live[ident][0].done(self.keys[key]) == self._finish(ident, key)
        self.state[key] = "done"
        for _, _, skipped in self.live.values():
            skipped.discard(key)

    def _record(self, key):
        return self.records.prepare("model", key, {"status": "done", "fields": {"k": key}})

    def _mark_done(self, key, text):
        if self._state_of(key) != "done" and text is not None:
            self.published[key] = text
        self.state[key] = "done"
        for _, _, skipped in self.live.values():
            skipped.discard(key)

    @rule(ident=instances, data=st.data(), count=st.integers(1, 4), with_record=st.booleans())
    def done_and_next(self, ident, data, count, with_record):
        """Done and the next claims in one lock acquisition, with or without a record."""
        if ident not in self.live:
            return
        sweeper = self.live[ident][0]
        key = self._pick(ident, data)
        text = self._record(key) if with_record else None
        lost = not self._finish(ident, key)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ClaimLostWarning)
            got = sweeper.done_and_next(self.keys[key], count, record=text)
        assert bool(caught) == lost
        self._mark_done(key, text)
        expected = self._expected_batch(ident, count)
        assert [sweeper.key_of(c) for c in got] == expected
        self._claimed(ident, expected)

    @rule(ident=instances, data=st.data())
    def done_from_threads(self, ident, data):
        """Concurrent done()s of one instance share flushes; each returns once durable."""
        if ident not in self.live:
            return
        sweeper, order, _ = self.live[ident]
        keys = data.draw(st.lists(st.sampled_from(order), min_size=1, max_size=4, unique=True))
        expected = {k: self._finish(ident, k) for k in keys}
        texts = {k: self._record(k) for k in keys}
        results = {}

        def finish(key):
            results[key] = sweeper.done(self.keys[key], record=texts[key])

        threads = [threading.Thread(target=finish, args=(k,)) for k in keys]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert results == expected
        for key in keys:
            self._mark_done(key, texts[key])

    @rule(ident=instances)
    def release_claims(self, ident):
        """After Ctrl-C: every claim of this process (all instances here) goes back; the
        other instances' claims count as lost when they finish them."""
        if ident not in self.live:
            return
        self.live[ident][0].release_claims()
        for key, value in list(self.state.items()):
            if value == "inprogress":
                self.state[key] = "todo"
        self.mine[ident].clear()

    @rule(ident=instances, data=st.data())
    def fail(self, ident, data):
        if ident not in self.live:
            return
        key = self._pick(ident, data)
        assert self.live[ident][0].fail(self.keys[key], RuntimeError("model")) == self._finish(
            ident, key
        )
        if self._state_of(key) != "done":
            self.state[key] = "failed"

    @rule(ident=instances, data=st.data())
    def skip(self, ident, data):
        if ident not in self.live:
            return
        sweeper, _, skipped = self.live[ident]
        key = self._pick(ident, data)
        sweeper.skip(self.keys[key])
        self.mine[ident].discard(key)
        if self._state_of(key) == "inprogress":
            self.state[key] = "todo"
        if self._state_of(key) != "done":
            skipped.add(key)

    @rule(ident=instances, data=st.data())
    def cancel(self, ident, data):
        if ident not in self.live:
            return
        key = self._pick(ident, data)
        self.live[ident][0].cancel(self.keys[key])
        self.mine[ident].discard(key)
        if self._state_of(key) == "inprogress":
            self.state[key] = "todo"

    @rule(ident=instances, inprogress=st.booleans(), failed=st.booleans())
    def reset(self, ident, inprogress, failed):
        if ident not in self.live:
            return
        sweeper, _, skipped = self.live[ident]
        sweeper.reset(reset_inprogress=inprogress, reset_failed=failed)
        skipped.clear()
        if inprogress:
            self.mine[ident].clear()
        for key, value in list(self.state.items()):
            if (value == "inprogress" and inprogress) or (value == "failed" and failed):
                self.state[key] = "todo"

    # --- batches, iteration, claim(), set_sweeps, full_update ------------------------

    def _expected_batch(self, ident, count):
        _, order, skipped = self.live[ident]
        todo = [k for k in order if self._state_of(k) == "todo" and k not in skipped]
        return todo[:count]

    def _claimed(self, ident, keys):
        for key in keys:
            self.state[key] = "inprogress"
            self.mine[ident].add(key)

    @rule(ident=instances, count=st.integers(1, 4))
    def get_next_batch(self, ident, count):
        if ident not in self.live:
            return
        sweeper = self.live[ident][0]
        expected = self._expected_batch(ident, count)
        assert [sweeper.key_of(c) for c in sweeper.get_next_batch(count)] == expected
        self._claimed(ident, expected)

    @rule(ident=instances, count=st.integers(1, 3))
    def iterate(self, ident, count):
        if ident not in self.live:
            return
        sweeper = self.live[ident][0]
        expected = self._expected_batch(ident, count)
        got = [sweeper.key_of(c) for c in itertools.islice(iter(sweeper), count)]
        assert got == expected
        self._claimed(ident, expected)

    @rule(ident=instances, outcome=st.sampled_from(["done", "interrupt", "error"]))
    def claim_context(self, ident, outcome):
        if ident not in self.live:
            return
        sweeper = self.live[ident][0]
        expected = self._expected_next(ident)
        raised = {"done": None, "interrupt": KeyboardInterrupt, "error": ValueError}[outcome]
        try:
            with sweeper.claim() as combination:
                assert (
                    sweeper.key_of(combination) if combination is not None else None
                ) == expected
                if raised is not None and combination is not None:
                    raise raised()
        except (KeyboardInterrupt, ValueError):
            pass
        if expected is not None:
            self.mine[ident].discard(expected)  # claimed and finished (or given back) inside
            self.state[expected] = {"done": "done", "interrupt": "todo", "error": "failed"}[outcome]
            if outcome == "done":
                for _, _, skipped in self.live.values():
                    skipped.discard(expected)

    @rule(ident=instances, data=st.data())
    def done_batch(self, ident, data):
        if ident not in self.live:
            return
        _, order, _ = self.live[ident]
        keys = data.draw(st.lists(st.sampled_from(order), min_size=1, max_size=3, unique=True))
        expected = all([self._finish(ident, k) for k in keys])
        assert self.live[ident][0].done_batch([self.keys[k] for k in keys]) == expected
        for key in keys:
            self.state[key] = "done"
            for _, _, skipped in self.live.values():
                skipped.discard(key)

    @rule(ident=instances, data=st.data())
    def cancel_or_skip_batch(self, ident, data):
        if ident not in self.live:
            return
        sweeper, order, skipped = self.live[ident]
        keys = data.draw(st.lists(st.sampled_from(order), min_size=1, max_size=3, unique=True))
        skip = data.draw(st.booleans())
        (sweeper.skip_batch if skip else sweeper.cancel_batch)([self.keys[k] for k in keys])
        for key in keys:
            self.mine[ident].discard(key)
            if self._state_of(key) == "inprogress":
                self.state[key] = "todo"
            if skip and self._state_of(key) != "done":
                skipped.add(key)

    @rule(
        ident=instances, subset=st.lists(st.integers(0, len(UNIVERSE) - 1), min_size=1, unique=True)
    )
    def set_sweeps(self, ident, subset):
        if ident not in self.live:
            return
        sweeper, _, skipped = self.live[ident]
        combinations = [UNIVERSE[i] for i in sorted(subset)]
        sweeper.set_sweeps(combinations)
        order = [sweeper.key_of(c) for c in combinations]
        for c, k in zip(combinations, order):
            self.keys[k] = c
        self.live[ident] = (sweeper, order, skipped & set(order))

    @rule(ident=instances)
    def full_update(self, ident):
        if ident in self.live:
            self.live[ident][0].full_update()

    @rule(seed=st.integers(0, 2**32 - 1))
    def crash_mid_write(self, seed):
        """A writer killed mid-entry: a random prefix of an entry line ends the journal."""
        if not os.path.exists(f"{self.folder}/journal"):
            return  # the journal is created whole (rename): there is nothing to tear yet
        rng = random.Random(seed)
        line = encode_journal_entry(
            rng.choice("CDFR"), rng.choice(list(self.keys) or ["0" * 32]), "0123456789ab"
        )
        with open(f"{self.folder}/journal", "ab") as f:
            f.write(line[: rng.randrange(1, len(line) - 1)])

    # --- every instance agrees with the model ---------------------------------------------

    @invariant()
    def instances_agree_with_the_model(self):
        for sweeper, order, skipped in self.live.values():
            sweeper.update()
            mine = set(order)
            expect = {
                s: {k for k in order if self._state_of(k) == s}
                for s in ("done", "inprogress", "failed")
            }
            assert {sweeper.key_of(c) for c in sweeper.get_done()} == expect["done"]
            assert {sweeper.key_of(c) for c in sweeper.get_inprogress()} == expect["inprogress"]
            assert {sweeper.key_of(c) for c in sweeper.get_failed()} == expect["failed"]
            visible_skipped = {k for k in skipped & mine if self._state_of(k) == "todo"}
            assert {sweeper.key_of(c) for c in sweeper.get_skipped()} == visible_skipped
            remaining = [k for k in order if self._state_of(k) == "todo" and k not in skipped]
            assert [sweeper.key_of(c) for c in sweeper.get_remaining()] == remaining
            for key in expect["done"]:
                if key in self.published:  # a done given with its record has it in place
                    assert self.records.holds(self.published[key])
            counts = sweeper.counts()
            assert counts["remaining"] == len(remaining)
            assert counts["done"] == len(expect["done"]) and counts["failed"] == len(
                expect["failed"]
            )


SweeperModel.TestCase.settings = settings(
    max_examples=int(os.environ.get("SWEEPER_MODEL_EXAMPLES", "150")),
    stateful_step_count=50,
    deadline=None,
)
test_sweeper_agrees_with_a_plain_model = SweeperModel.TestCase
