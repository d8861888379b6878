"""ParamSweeper: hands out combinations exactly once to many processes on many hosts.

The API is execo_engine's ParamSweeper (same names, arguments and meanings), with
a persisted ``failed`` state, iteration, a ``claim()`` context manager, an order,
and claims that come back by themselves when their owner dies or stops renewing
its lease. The state lives in an append-only journal (:mod:`._journal`) written
under an inter-process lock (:mod:`sweepstack.store._locks`).
"""

from __future__ import annotations

import json
import os
import threading
import time
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Protocol, Union

from sweepstack._keys import param_key
from sweepstack.errors import (
    ClaimLostWarning,
    NoSweepsError,
    StoreWriteError,
    UnkeyableValueError,
    UnknownCombinationError,
)
from sweepstack.store import _heartbeat
from sweepstack.store._atomic import reason_of
from sweepstack.store._check import Problem
from sweepstack.store._format import (
    SWEEPER_LOCK,
    SWEEPER_SWEEPS,
)
from sweepstack.store._locks import file_lock
from sweepstack.store._owner import Owner, current_owner, death, is_dead, is_parent
from sweepstack.sweep._combinations import HashableDict
from sweepstack.sweep._journal import (
    Entry,
    Journal,
)
from sweepstack.sweep._sets import CombinationSet
from sweepstack.sweep._space import Space
from sweepstack.sweep._state import SweepState

__all__ = ["Claim", "ParamSweeper", "SpaceChange", "SweeperStats", "restore_state"]

COMPACT_MIN_ENTRIES = 50_000
"""Compaction runs when the journal holds more entries than this and than the state."""

Filter = Callable[[Iterable[HashableDict]], Iterable[HashableDict]]


class RecordSink(Protocol):
    """Where the result documents that travel with done marks are put as files
    (:class:`sweepstack.store.RecordStore` is one); a document is one line of JSON."""

    def publish(self, text: str, *, fsync: bool = False) -> None:
        """Put the document in place (atomically); fsync only when asked."""

    def holds(self, text: str) -> bool:
        """True if this document, or a later attempt of its key, is in place."""

    def publish_all(self, texts: list[str], *, fsync: bool = False) -> None:
        """:meth:`publish` several documents."""


@dataclass(frozen=True)
class Claim:
    """An in-progress combination, its owner and its lease, as this process sees them.

    ``seen_ago`` is how long ago, on this process's clock, it last saw news of the
    owner; the claim returns to todo when that exceeds ``lease + margin`` (or at once
    if the owner is provably dead on this machine). ``stale`` says why the claim will
    return to todo, when it will: its owner is dead on this machine ("process gone",
    "pid reused by another process"), or its lease expired ("lease expired"); None
    while its owner may be at work.
    """

    key: str
    combination: HashableDict | None
    owner: str
    host: str
    pid: int
    claimed_at: float
    heartbeat_at: float
    lease: float
    seen_ago: float
    mine: bool
    stale: str | None = None


@dataclass(frozen=True)
class SpaceChange:
    """How a sweeper's new combinations differ from its saved ones.

    Attributes:
        before: the number of saved combinations.
        after: the number of new ones.
        added: how many of the new ones were not saved.
        removed: the keys of saved combinations that are not in the new ones.
    """

    before: int
    after: int
    added: int
    removed: list[str]

    @classmethod
    def between(cls, saved: Space, new: Space) -> SpaceChange:
        old, now = saved.index, new.index
        removed = [key for key in saved.keys if key not in now]
        added = sum(1 for key in new.keys if key not in old)
        return cls(len(saved), len(new), added, removed)


class SweeperStats(tuple):
    """``(sweeps, remaining, skipped, inprogress, done)`` as in execo_engine, plus more.

    It unpacks and indexes like execo's 5-tuple, so :func:`sweep_stats` takes it; it
    also has ``failed`` (combinations), ``claims`` (:class:`Claim` list) and ``counts``.
    """

    failed: CombinationSet
    claims: list[Claim]
    counts: dict[str, int]

    def __new__(
        cls,
        parts: tuple[Any, ...],
        failed: CombinationSet,
        claims: list[Claim],
        counts: dict[str, int],
    ) -> SweeperStats:
        stats = super().__new__(cls, parts)
        stats.failed = failed
        stats.claims = claims
        stats.counts = counts
        return stats


def _error_info(error: Union[BaseException, str, None]) -> dict[str, Any]:
    info: dict[str, Any]
    if isinstance(error, BaseException):
        kind = type(error)
        info = {"type": f"{kind.__module__}.{kind.__qualname__}", "message": str(error)}
    else:
        info = {"type": "error", "message": "" if error is None else str(error)}
    info["message"] = info["message"][:2000]
    info["time"] = round(time.time(), 3)
    return info


class ParamSweeper:
    """A persistent, multi-process, multi-host container of combinations to process.

    Each combination is *todo*, *inprogress* (claimed by one process), *done*,
    *failed* (persisted, not handed out again unless ``retry_failed``) or *skipped*
    (this instance only, forgotten on the next run, as in execo_engine). Any number of
    instances, in threads, processes or hosts sharing ``persistence_dir`` (over NFS
    too), see one state.

    >>> from sweepstack import sweep
    >>> sweeper = ParamSweeper("/tmp/doctest-sweeper", sweep({"n": [1, 2, 3]}), save_sweeps=True)
    >>> for combination in sweeper:          # claims until nothing is left
    ...     ok = sweeper.done(combination)
    >>> sweeper.counts()["done"]
    3

    Args:
        persistence_dir: the sweeper's folder (created if missing).
        sweeps: the combinations (dicts) to hand out; None loads the ones saved there.
        save_sweeps: save ``sweeps`` in the folder, so that later instances, and
            ``sweepstack status``, can open it without them.
        name: a name for logs (default: the folder's name).
        lease: seconds a claim stays valid without news from its owner (renewed by a
            heartbeat every quarter of it while the claim is held).
        lease_margin: extra seconds an observer waits beyond the lease (default a
            quarter of the lease) before taking a claim back.
        order: a key function on combinations: todo combinations are handed out in
            increasing order of it (default: the order of ``sweeps``), at no extra
            cost per call.
        retry_failed: hand out failed combinations again.
        readonly: never lock or write (``status`` and reports, while workers run).
        on_space_change: with ``save_sweeps``, called with a :class:`SpaceChange` when
            ``sweeps`` differ from the saved ones, before they replace them; it may
            raise to refuse the change (the engine's ``-c`` contract).

    Raises:
        NoSweepsError: ``sweeps`` is None and none are saved in the folder.
        StoreWriteError: the folder cannot be created or written.
        UnkeyableValueError: a combination holds a value with no stable key.
    """

    def __init__(
        self,
        persistence_dir: str,
        sweeps: Iterable[Mapping[str, Any]] | None = None,
        save_sweeps: bool = False,
        name: str | None = None,
        *,
        lease: float = 600.0,
        lease_margin: float | None = None,
        order: Callable[[HashableDict], Any] | None = None,
        retry_failed: bool = False,
        readonly: bool = False,
        on_space_change: Callable[[SpaceChange], None] | None = None,
    ) -> None:
        self._dir = os.path.abspath(os.fspath(persistence_dir))
        self._readonly = readonly
        if not readonly:
            try:
                os.makedirs(self._dir, exist_ok=True)
            except OSError as err:
                raise StoreWriteError(self._dir, reason_of(err)) from err
        self._name = name or os.path.basename(self._dir)
        self._lease = float(lease)
        self._margin = (
            float(lease_margin) if lease_margin is not None else max(0.5, self._lease / 4)
        )
        self.heartbeat_interval = max(0.05, self._lease / 4)
        self._order_key = order
        self._state = SweepState()
        self._state.retry_failed = retry_failed
        self._journal = Journal(
            self._dir, self._state.apply, self._state.load, self._state.document, readonly=readonly
        )
        self._mutex = threading.RLock()  # this instance's memory, against getters in other threads
        self._lock = None if readonly else file_lock(os.path.join(self._dir, SWEEPER_LOCK))
        self._owner: Owner | None = None
        self._owner_pid = 0
        self._inherited: set[str] = set()  # owners this copy was forked from
        # what this instance claimed and has not finished: key -> the combination handed out,
        # and id(combination) -> key, so finishing it needs no key computation
        self._mine: dict[str, HashableDict] = {}
        self._handed: dict[int, str] = {}
        self._next_recovery = 0.0
        self._ticket = 0  # the pending flush of this session's durable write
        self._records: RecordSink | None = None
        self._published: list[str] = []  # keys whose record files are in place, to announce
        self._last_read = 0.0  # monotonic time of this instance's last journal read
        self._on_space_change = on_space_change
        self.set_sweeps(sweeps, save_sweeps)

    # --- the lock and the journal session -----------------------------------------------

    @contextmanager
    def _session(self) -> Iterator[SweepState]:
        """Hold the lock with the journal open and read up to date (no lock when read-only)."""
        entered = time.monotonic()
        ticket = 0
        if self._lock is not None:
            self._lock.acquire()
        try:
            with self._mutex:
                self._ticket = 0
                try:
                    self._journal.open()
                    self._discount_gap(entered)
                    try:
                        yield self._state
                    finally:
                        ticket, self._ticket = self._ticket, 0
                        self._journal.close()
                except OSError as err:
                    if isinstance(err, StoreWriteError):
                        raise
                    raise StoreWriteError(self._journal.path, reason_of(err)) from err
        finally:
            if self._lock is not None:
                self._lock.release()
        # a durable write becomes durable here, after the lock is released: other
        # processes append meanwhile, and concurrent flushes are merged (group commit)
        if ticket:
            try:
                self._journal.sync(ticket)
            except OSError as err:
                raise StoreWriteError(self._journal.path, reason_of(err)) from err

    def _discount_gap(self, entered: float) -> None:
        """Do not count as other owners' silence a long time this process could not read.

        Leases are judged from when this process last read news of an owner. When the
        file server restarts or is unreachable, every client blocks alike: nobody could
        write a heartbeat, and the silence proves nothing. Counting it would take the
        claims of live owners once the server is back (an outage longer than the lease
        would make every combination in progress run twice). So when this process has
        evidence that it was blocked itself, the time since its previous read is not
        counted: its own session took more than a quarter of the lease to get in (the
        lock, or the server, kept it waiting; when holding the lock another process
        could not heartbeat either), or it holds claims (its heartbeat reads every
        quarter of the lease) and more than half the lease passed since its last read.
        This can only delay taking back a dead owner's claims, never hasten it.
        """
        now = time.monotonic()
        previous, self._last_read = self._last_read, now
        gap = now - previous
        if not previous or gap <= self._lease / 4:
            return
        if now - entered > self._lease / 4 or (self._mine and gap > self._lease / 2):
            seen = self._state.last_seen
            for owner_id, at in seen.items():
                seen[owner_id] = min(now, at + gap)

    def _me(self) -> Owner:
        pid = os.getpid()
        if self._owner is None or self._owner_pid != pid:
            if self._owner is not None:
                self._forget(list(self._mine))  # a forked child: the claims are its parent's
                self._inherited.add(self._owner.id)
            self._owner = current_owner(self._lease)
            self._owner_pid = pid
        return self._owner

    def _write(self, lines: list[Entry], durable: bool) -> None:
        """Append entries (inside a session); durable ones are flushed when the session ends.

        The keys whose record files this process put in place since its last write are
        announced first (an ``M`` entry), at no extra write.
        """
        if self._readonly:
            raise StoreWriteError(self._dir, "this sweeper was opened read-only")
        if self._published:
            lines = [("M", self._me().id, " ".join(self._published)), *lines]
        ticket = self._journal.append(lines, durable)
        self._published = []
        if ticket:
            self._ticket = ticket
        if self._journal.entries_since_snapshot > max(COMPACT_MIN_ENTRIES, self._state.size()):
            self._compact(self._state.document())

    def _compact(self, document: dict[str, Any]) -> None:
        """Start a new generation from ``document`` (inside a session).

        The record documents in this generation's journal leave it: the record files
        put in place without fsync must be on disk first (one ``sync`` for all of them;
        compaction is rare). Records not yet in place stay in the snapshot's pending.
        """
        if self._state.record_writers:
            os.sync()
        self._journal.compact(document)
        self._state.record_writers.clear()

    def _claim_lines(self, keys: list[str]) -> list[Entry]:
        me = self._me()
        lines: list[Entry] = []
        if me.id not in self._state.owners:
            lines.append(("O", me.id, json.dumps(me.to_json(), separators=(",", ":"))))
        at = f"{me.id} {time.time():.3f}"
        lines += [("C", key, at) for key in keys]
        return lines

    # --- what the sweeper holds -----------------------------------------------------------

    def set_sweeps(
        self, sweeps: Iterable[Mapping[str, Any]] | None = None, save_sweeps: bool = False
    ) -> None:
        """Change what to iterate on (None: load the saved sweeps); optionally save them.

        Raises:
            NoSweepsError: ``sweeps`` is None and none are saved.
        """
        path = os.path.join(self._dir, SWEEPER_SWEEPS)
        if sweeps is not None:
            sweeps = list(sweeps)
        if sweeps:
            save = save_sweeps and not self._readonly
            space = Space.from_combinations(sweeps, columns=save)
            if save and Space.saved_digest(path) != space.digest():
                if self._on_space_change is not None and os.path.exists(path):
                    # before the new space replaces the saved one: the hook may refuse it
                    self._on_space_change(SpaceChange.between(Space.load(path), space))
                space.save(path)
        else:
            try:
                space = Space.load(path)
            except FileNotFoundError:
                if sweeps is None:
                    raise NoSweepsError(self._dir) from None
                space = Space([], [])
        order = None
        if self._order_key is not None:
            key = self._order_key
            order = sorted(range(len(space)), key=lambda p: key(space.combination(p)))
        with self._mutex:
            self._state.set_space(space, order)
        self.full_update()

    def get_sweeps(self) -> CombinationSet:
        """Every combination of this instance's sweeps: a set, iterating in sweep order."""
        with self._mutex:
            return CombinationSet(self._state.space.combinations())

    def _combinations(self, keys: Iterable[str]) -> list[HashableDict]:
        index = self._state.space.index
        return self._state.space.combinations(index[k] for k in keys if k in index)

    def _in_sweep_order(self, keys: Iterable[str]) -> CombinationSet:
        index = self._state.space.index
        return CombinationSet(
            self._state.space.combinations(sorted(index[k] for k in keys if k in index))
        )

    def get_remaining(self) -> CombinationSet:
        """The todo combinations: a set, iterating in the order they would be handed out
        (built from the todo positions: O(todo), not O(combinations))."""
        with self._mutex:
            return CombinationSet(self._state.space.combinations(self._state.todo_positions()))

    def get_inprogress(self) -> CombinationSet:
        """The combinations claimed by some process and not finished (a set, in sweep order)."""
        with self._mutex:
            return self._in_sweep_order(list(self._state.claims))

    def get_done(self) -> CombinationSet:
        """The done combinations of this instance's sweeps (a set, in sweep order)."""
        with self._mutex:
            return self._in_sweep_order(list(self._state.done))

    def get_failed(self) -> CombinationSet:
        """The failed combinations (persisted: not handed out unless ``retry_failed``)."""
        with self._mutex:
            return self._in_sweep_order(list(self._state.failed))

    def get_skipped(self) -> CombinationSet:
        """The combinations skipped by this instance (forgotten by the next run, as in execo)."""
        with self._mutex:
            return self._in_sweep_order(self._state.visible_skipped())

    def failures(self) -> dict[str, dict[str, Any]]:
        """The failure of each failed combination of this instance, by key: type, message, owner."""
        with self._mutex:
            index = self._state.space.index
            return {k: dict(v) for k, v in self._state.failed.items() if k in index}

    def counts(self) -> dict[str, int]:
        """Numbers of combinations per state: total, remaining, inprogress, done, failed, skipped."""
        with self._mutex:
            return self._state.counts()

    def claims(self) -> list[Claim]:
        """Every in-progress claim with its owner and lease, as seen by this process."""
        with self._mutex:
            state = self._state
            me = self._owner.id if self._owner is not None else None
            observer = current_owner(self._lease)
            now, wall_now = time.monotonic(), time.time()
            verdicts: dict[str, str | None] = {}
            result = []
            for key, owner_id in state.claims.items():
                owner = state.owners.get(owner_id)
                position = state.space.index.get(key)
                if owner_id not in verdicts:
                    verdicts[owner_id] = self._verdict(owner_id, owner, observer, now, wall_now)
                result.append(
                    Claim(
                        key=key,
                        combination=state.space.combination(position)
                        if position is not None
                        else None,
                        owner=owner_id,
                        host=owner.host if owner else "?",
                        pid=owner.pid if owner else 0,
                        claimed_at=state.claimed_at.get(key, 0.0),
                        heartbeat_at=state.heartbeat_at.get(owner_id, 0.0),
                        lease=owner.lease if owner else self._lease,
                        seen_ago=now - state.last_seen.get(owner_id, now),
                        mine=owner_id == me,
                        stale=None if owner_id == me else verdicts[owner_id],
                    )
                )
            return result

    def _verdict(
        self, owner_id: str, owner: Owner | None, observer: Owner, now: float, wall_now: float
    ) -> str | None:
        """Why the claims of ``owner_id`` are stale, or None while it may be at work."""
        state = self._state
        if owner is not None:
            gone = death(owner, observer)
            if gone is not None:
                return gone
        # the owner's lease with the default margin for it: a read-only observer (status)
        # opened with another lease must judge by the owner's own
        own = owner.lease if owner is not None else self._lease
        lease = own + max(0.5, own / 4)
        if now - state.last_seen.get(owner_id, now) > lease:
            return "lease expired"
        # the owner's last news by its own clock (hosts' clocks agree within the margin)
        news = max(
            [state.heartbeat_at.get(owner_id, 0.0)]
            + [state.claimed_at.get(k, 0.0) for k in state.owner_claims.get(owner_id, ())]
        )
        if wall_now - news > lease:
            return "lease expired"
        return None

    def running(self) -> int:
        """How many processes hold claims that are not stale: the workers at work now."""
        return len({c.owner for c in self.claims() if c.stale is None})

    def stats(self) -> SweeperStats:
        """Atomically, ``(sweeps, remaining, skipped, inprogress, done)`` with extras (see SweeperStats)."""
        with self._mutex:
            return SweeperStats(
                (
                    self.get_sweeps(),
                    self.get_remaining(),
                    self.get_skipped(),
                    self.get_inprogress(),
                    self.get_done(),
                ),
                failed=self.get_failed(),
                claims=self.claims(),
                counts=self.counts(),
            )

    def combination(self, key: str) -> HashableDict:
        """The combination of this instance's sweeps that has ``key``.

        Raises:
            UnknownCombinationError: no combination of the sweeps has that key.
        """
        position = self._state.space.index.get(key)
        if position is None:
            raise UnknownCombinationError(key, self._name, "combination")
        return self._state.space.combination(position)

    def __contains__(self, item: object) -> bool:
        """True if ``item`` (a key, or a combination) is one of this instance's sweeps."""
        if isinstance(item, Mapping):
            try:
                item = param_key(item)
            except UnkeyableValueError:
                return False
        return isinstance(item, str) and item in self._state.space.index

    def fingerprint(self) -> str:
        """A digest of this instance's sweeps (their keys, in order): equal sweeps, equal digests."""
        with self._mutex:
            return self._state.space.digest()

    def key_of(self, combination: Mapping[str, Any]) -> str:
        """The key of a combination of this sweeper.

        Raises:
            UnknownCombinationError: the combination is not in this instance's sweeps.
        """
        key = param_key(combination)
        if key not in self._state.space.index:
            raise UnknownCombinationError(dict(combination), self._name, "key_of")
        return key

    def _forget(self, keys: Iterable[str]) -> None:
        for key in keys:
            combination = self._mine.pop(key, None)
            if combination is not None:
                self._handed.pop(id(combination), None)

    def _keys_of(self, combinations: Iterable[Mapping[str, Any]], operation: str) -> list[str]:
        keys = []
        index = self._state.space.index
        for combination in combinations:
            key = self._handed.get(id(combination))
            if key is not None and self._mine.get(key) is combination:
                keys.append(key)  # handed out by this instance: its key is known
                continue
            key = param_key(combination)
            if key not in index:
                raise UnknownCombinationError(dict(combination), self._name, operation)
            keys.append(key)
        return keys

    # --- synchronising -------------------------------------------------------------------

    def update(self) -> None:
        """Read what other instances appended to the journal since the last read (fast)."""
        with self._session():
            pass

    def full_update(self) -> None:
        """Reload the whole state from disk."""
        with self._mutex:
            self._journal.generation = -1
            self._journal._identity = None
        with self._session():
            pass

    # --- handing out ---------------------------------------------------------------------

    def get_next(self, filtr: Filter | None = None) -> HashableDict | None:
        """Claim the next todo combination and return it; None when nothing is left to claim.

        Args:
            filtr: execo_engine's filter: takes the todo combinations, returns the ones to
                consider, in the order to consider them (costs O(todo) per call; prefer
                ``order=`` to only set an order).
        """
        batch = self.get_next_batch(1, filtr)
        return batch[0] if batch else None

    def get_next_batch(self, num_combs: int, filtr: Filter | None = None) -> list[HashableDict]:
        """Claim up to ``num_combs`` todo combinations at once (one journal write)."""
        with self._session() as state:
            self._recover_if_due()
            keys = self._pick(num_combs, filtr)
            if len(keys) < num_combs:
                # nothing left: perhaps claims of dead owners or expired leases can come back
                self._recover_if_due(force=True)
                keys += self._pick(num_combs - len(keys), filtr, exclude=set(keys))
            if not keys:
                return []
            try:
                self._write(self._claim_lines(keys), durable=False)
            except BaseException:
                state._recount()  # the picked keys left the todo queue: rebuild it
                raise
            combinations = self._hand_out(keys)
        _heartbeat.register(self)
        return combinations

    def _pick(self, count: int, filtr: Filter | None, exclude: set[str] | None = None) -> list[str]:
        """Up to ``count`` todo keys, taken from the todo queue (or chosen by ``filtr``)."""
        state = self._state
        if count <= 0:
            return []
        if filtr is None:
            keys: list[str] = []
            seen: set[str] = set()
            while len(keys) < count:
                key = state.next_todo()
                if key is None:
                    break
                if (exclude and key in exclude) or key in seen:
                    # being marked done in this same write; or a key that came back to
                    # todo twice (two entries in the queue of returned keys)
                    continue
                seen.add(key)
                keys.append(key)
            return keys
        todo = [k for k in state.todo_keys() if not exclude or k not in exclude]
        candidates = self._combinations(todo)
        by_id = {id(c): k for k, c in zip(todo, candidates)}
        picked = []
        for combination in filtr(candidates):
            key = by_id.get(id(combination)) or param_key(combination)
            if key in state.space.index and state.is_todo(key) and key not in picked:
                picked.append(key)
                if len(picked) >= count:
                    break
        return picked

    def __iter__(self) -> Iterator[HashableDict]:
        """Claim and yield combinations until none is left to claim; finish each with done()."""
        while True:
            combination = self.get_next()
            if combination is None:
                return
            yield combination

    @contextmanager
    def claim(self, filtr: Filter | None = None) -> Iterator[HashableDict | None]:
        """Claim one combination for the body of a ``with`` (None when nothing is left).

        The combination is marked done when the body returns, given back (cancelled) on
        KeyboardInterrupt or SystemExit, and failed on any other exception, which
        propagates.

        >>> with sweeper.claim() as combination:   # doctest: +SKIP
        ...     run_experiment(combination)
        """
        combination = self.get_next(filtr)
        if combination is None:
            yield None
            return
        try:
            yield combination
        except (KeyboardInterrupt, SystemExit, GeneratorExit):
            self.cancel(combination)
            raise
        except BaseException as err:
            self.fail(combination, err)
            raise
        else:
            self.done(combination)

    # --- finishing ----------------------------------------------------------------------

    def attach_records(self, sink: RecordSink | None) -> None:
        """Publish the result documents given to :meth:`done`/:meth:`fail` through ``sink``.

        A document travels in the journal with its done (or failed) mark, so both become
        durable with one flush; the record file is put in place right after, without
        fsync, and a process that finds a dead owner's document not in place puts it
        there (see docs/format.md, "One durable write per combination").
        """
        self._records = sink

    def done(self, combination: Mapping[str, Any], record: str | None = None) -> bool:
        """Mark a combination done, durably (fsynced) before returning.

        Returns False, with a :class:`ClaimLostWarning`, when this instance had claimed
        it but the claim had been taken over meanwhile (the done still counts unless
        the combination was done already).

        Args:
            combination: a combination of this sweeper.
            record: its result document (one line of JSON) to store with the done mark;
                needs :meth:`attach_records`.

        Raises:
            UnknownCombinationError: the combination is not in this instance's sweeps.
        """
        return self.done_batch([combination], None if record is None else [record])

    def done_batch(
        self, combinations: Iterable[Mapping[str, Any]], records: list[str] | None = None
    ) -> bool:
        """Mark several combinations done in one durable write; False if a claim was lost."""
        keys = self._keys_of(combinations, "done")
        return self._finish(keys, lambda me, key: ("D", key, me.id), "done", records)[0]

    def done_and_next(
        self,
        combination: Mapping[str, Any],
        num_combs: int = 1,
        record: str | None = None,
        filtr: Filter | None = None,
    ) -> list[HashableDict]:
        """Mark a combination done and claim up to ``num_combs`` more, in one lock
        acquisition and one durable write; returns the combinations claimed.

        The done mark is durable when this returns, as with :meth:`done`.
        """
        return self.done_batch_and_next(
            [combination], num_combs, None if record is None else [record], filtr
        )

    def done_batch_and_next(
        self,
        combinations: Iterable[Mapping[str, Any]],
        num_combs: int = 1,
        records: list[str | None] | None = None,
        filtr: Filter | None = None,
    ) -> list[HashableDict]:
        """:meth:`done_and_next` for several combinations (``records``: one per
        combination, or None for those with no record to store)."""
        keys = self._keys_of(combinations, "done")
        return self._finish(
            keys, lambda me, key: ("D", key, me.id), "done", records, num_combs, filtr
        )[1]

    def fail(
        self,
        combination: Mapping[str, Any],
        error: Union[BaseException, str, None] = None,
        record: str | None = None,
    ) -> bool:
        """Mark a combination failed (persisted), with the error's type and message.

        Failed combinations are not handed out again unless ``retry_failed=True`` or
        after ``reset()``. Returns False if this instance's claim had been lost.
        ``record`` is its result document, stored as with :meth:`done`.
        """
        return self.fail_batch([combination], error, None if record is None else [record])

    def fail_batch(
        self,
        combinations: Iterable[Mapping[str, Any]],
        error: Union[BaseException, str, None] = None,
        records: list[str] | None = None,
    ) -> bool:
        """Mark several combinations failed with the same error."""
        keys = self._keys_of(combinations, "fail")
        info = json.dumps(_error_info(error), separators=(",", ":"))
        return self._finish(keys, lambda me, key: ("F", key, f"{me.id} {info}"), "fail", records)[0]

    def _finish(
        self,
        keys: list[str],
        line: Callable[[Owner, str], Entry],
        operation: str,
        records: Sequence[str | None] | None = None,
        claim: int = 0,
        filtr: Filter | None = None,
    ) -> tuple[bool, list[HashableDict]]:
        if records is not None:
            if self._records is None:
                raise ValueError(
                    "done(record=...) needs a record store: call attach_records() first"
                )
            if len(records) != len(keys):
                raise ValueError(f"{len(records)} records for {len(keys)} combinations")
        lost = []
        claimed: list[HashableDict] = []
        published: list[tuple[str, str | None]] = []
        with self._session() as state:
            me = self._me()
            lines = []
            for i, key in enumerate(keys):
                holder = state.claims.get(key)
                if key in self._mine and holder != me.id:
                    lost.append(key)
                if key not in state.done:
                    if records is not None and records[i] is not None:
                        # the document first: a reader that sees the mark sees its record
                        lines.append(("W", key, f"{me.id} {records[i]}"))
                        published.append((key, records[i]))
                    lines.append(line(me, key))
            self._forget(keys)
            if claim:
                self._recover_if_due()
                picked = self._pick(claim, filtr, exclude=set(keys))
                if picked:
                    lines += self._claim_lines(picked)
            else:
                picked = []
            if lines:
                try:
                    self._write(lines, durable=True)
                except BaseException:
                    if picked:
                        state._recount()  # the picked keys left the todo queue: rebuild it
                    raise
            claimed = self._hand_out(picked)
        # durable now (the session flushed after releasing the lock): put the record files
        # in place; they are announced with this process's next write
        if published:
            assert self._records is not None
            self._records.publish_all([text for _, text in published if text is not None])
            self._published += [key for key, _ in published]
        if claimed:
            _heartbeat.register(self)
        if lost:
            warnings.warn(
                f"{self._name}: {len(lost)} combination(s) marked {operation} by this process had been "
                "taken over by another one (its lease expired, or a reset); "
                + (
                    "the result was still recorded"
                    if operation == "done"
                    else "nothing was changed"
                )
                + ". Raise lease= if work items take long and the heartbeat cannot keep up.",
                ClaimLostWarning,
                stacklevel=3,
            )
        return not lost, claimed

    def _hand_out(self, keys: list[str]) -> list[HashableDict]:
        space = self._state.space
        combinations = [space.combination(space.index[k]) for k in keys]
        for key, combination in zip(keys, combinations):
            self._mine[key] = combination
            self._handed[id(combination)] = key
        return combinations

    def skip(self, combination: Mapping[str, Any]) -> None:
        """Give a combination back and skip it for the rest of this instance's life (as execo)."""
        self.skip_batch([combination])

    def skip_batch(self, combinations: Iterable[Mapping[str, Any]]) -> None:
        keys = self._keys_of(combinations, "skip")
        self._release(keys)
        with self._mutex:
            # a filter on what this instance hands out: shown as skipped while it is todo
            self._state.skipped.update(k for k in keys if k not in self._state.done)

    def cancel(self, combination: Mapping[str, Any]) -> None:
        """Give a claimed combination back to todo (it is handed out again)."""
        self.cancel_batch([combination])

    def cancel_batch(self, combinations: Iterable[Mapping[str, Any]]) -> None:
        self._release(self._keys_of(combinations, "cancel"))

    def _release(self, keys: list[str]) -> None:
        with self._session() as state:
            me = self._me()
            lines = []
            for key in keys:
                holder = state.claims.get(key)
                if holder is not None and self._may_release(holder, me, state):
                    lines.append(("R", key, holder))
            if lines:
                self._write(lines, durable=False)
            self._forget(keys)

    def _may_release(self, holder: str, me: Owner, state: SweepState) -> bool:
        """Whether this process may give back a claim of ``holder``: its own, or (as in
        execo_engine, whose children share the in-progress file) a claim of the process
        this sweeper was forked from, such as a ``multiprocessing`` fork pool's parent."""
        if holder == me.id or holder in self._inherited:
            return True
        owner = state.owners.get(holder)
        return owner is not None and is_parent(owner, me)

    def release_claims(self) -> int:
        """Give back to todo every claim this process holds in this sweeper's folder,
        those handed out and those an interrupt caught between the write of a claim and
        its return; returns how many (after Ctrl-C, before exiting)."""
        with self._session() as state:
            me = self._me()
            keys = sorted(state.owner_claims.get(me.id, ()))
            if keys:
                self._write([("R", key, me.id) for key in keys], durable=False)
            self._forget(list(self._mine))
        return len(keys)

    def reset(self, reset_inprogress: bool = False, reset_failed: bool = True) -> None:
        """Start over: forget skipped and (by default) failed combinations; never done ones.

        Args:
            reset_inprogress: also return every claim, of every process, to todo.
            reset_failed: failed combinations become todo again (for every process).
        """
        with self._session() as state:
            me = self._me()
            lines = []
            if reset_inprogress and state.claims:
                lines.append(("Z", "inprogress", me.id))
            if reset_failed and state.failed:
                lines.append(("Z", "failed", me.id))
            if lines:
                self._write(lines, durable=True)
            state.skipped.clear()
            state._recount()
            if reset_inprogress:
                self._forget(list(self._mine))

    # --- crashed owners -----------------------------------------------------------------

    def _recover_if_due(
        self, force: bool = False, wall_clock: bool = False
    ) -> list[tuple[str, str]]:
        """Return to todo the claims of dead owners and of owners whose lease expired."""
        now = time.monotonic()
        if not force and now < self._next_recovery:
            return []
        self._next_recovery = now + min(1.0, self.heartbeat_interval)
        state = self._state
        me = self._me()
        wall_now = time.time()
        taken = []
        for owner_id in list(state.owner_claims):
            if owner_id == me.id:
                continue
            owner = state.owners.get(owner_id)
            lease = owner.lease if owner is not None else self._lease
            if owner is not None and is_dead(owner, me):
                taken.append((owner_id, "dead"))
            elif now - state.last_seen.get(owner_id, now) > lease + self._margin:
                taken.append((owner_id, "expired"))
            elif wall_clock:
                # the owner's last news by its own clock: a heartbeat, or its latest claim
                news = max(
                    [state.heartbeat_at.get(owner_id, 0.0)]
                    + [state.claimed_at.get(k, 0.0) for k in state.owner_claims[owner_id]]
                )
                if wall_now - news > lease + self._margin:
                    taken.append((owner_id, "expired"))
        if taken and not self._readonly:
            self._write([("X", o, reason) for o, reason in taken], durable=False)
        if (state.pending or state.record_writers) and self._records is not None:
            self._republish(me, now)
        return taken

    def _republish(self, me: Owner, now: float) -> None:
        """Put in place the records that dead owners wrote in the journal but maybe not as files.

        A writer killed between its durable append and putting the file in place leaves
        its last records pending; after a reboot of this host, the files its processes
        put in place without fsync may be lost too, so every record they wrote in this
        generation is checked. Rare: these files are fsynced.
        """
        assert self._records is not None
        state = self._state
        lines: list[Entry] = []
        for owner_id in sorted(state.record_writers | set(state.pending)):
            if owner_id == me.id:
                continue
            owner = state.owners.get(owner_id)
            rebooted = (
                owner is not None
                and owner.host == me.host
                and bool(owner.boot)
                and owner.boot != me.boot
            )
            lease = owner.lease if owner is not None else self._lease
            gone = rebooted or (owner is not None and is_dead(owner, me))
            if not gone and now - state.last_seen.get(owner_id, now) <= lease + self._margin:
                continue
            texts = dict(state.pending.get(owner_id, {}))
            if rebooted and owner_id in state.record_writers:
                prefix = owner_id + " "
                for _offset, entry in self._journal.raw_lines():
                    if entry is not None and entry[0] == "W" and entry[2].startswith(prefix):
                        texts[entry[1]] = entry[2][len(prefix) :]
            for text in texts.values():
                if not self._records.holds(text):
                    self._records.publish(text, fsync=True)
            if rebooted or (owner_id in state.record_writers and not state.pending.get(owner_id)):
                lines.append(("M", owner_id, "*"))
            elif texts:
                lines.append(("M", owner_id, " ".join(texts)))
        if lines:
            self._write(lines, durable=False)

    def recover(self, trust_wall_clock: bool = False) -> list[tuple[str, str]]:
        """Take back now the claims of dead owners and expired leases; returns (owner, reason).

        A lease expires when this process has had no news of the owner for the lease
        plus the margin, on its own clock, which a fresh process (``sweepstack reset
        --stale``) has not watched long enough to tell. ``trust_wall_clock=True`` also
        takes back the claims of owners whose last heartbeat or claim, as written by
        them, is older than that by this host's clock (clocks must agree within the
        margin).
        """
        with self._session():
            return self._recover_if_due(force=True, wall_clock=trust_wall_clock)

    def redo(self, keys: Iterable[str]) -> list[str]:
        """Return done or failed combinations to todo, so that they are computed again.

        For combinations whose results were lost, such as a record quarantined by
        ``sweepstack check --repair``. Done is final in the journal, so this starts a
        new generation (a compaction) whose snapshot leaves them out; every process
        reloads it on its next access. Safe while workers run. Returns the keys changed.

        Raises:
            StoreWriteError: the sweeper is read-only, or its folder cannot be written.
        """
        if self._readonly:
            raise StoreWriteError(self._dir, "this sweeper was opened read-only")
        wanted = set(keys)
        with self._session() as state:
            changed = sorted(k for k in wanted if k in state.done or k in state.failed)
            if changed:
                document = state.document()
                document["done"] = [k for k in document["done"] if k not in wanted]
                document["failed"] = {
                    k: v for k, v in document["failed"].items() if k not in wanted
                }
                self._compact(document)
                state.load(document)
        return changed

    def keys(self, state: str) -> list[str]:
        """Keys of this instance's combinations that are ``todo``, ``inprogress``, ``done``,
        ``failed`` or ``skipped`` (cheaper than the combinations themselves)."""
        with self._mutex:
            s = self._state
            index = s.space.index
            if state == "todo":
                return s.todo_keys()
            if state == "skipped":
                return s.visible_skipped()
            source = {"inprogress": s.claims, "done": s.done, "failed": s.failed}.get(state)
            if source is None:
                raise ValueError(
                    f"unknown state {state!r}: todo, inprogress, done, failed or skipped"
                )
            return [k for k in source if k in index]

    def level_counts(self) -> dict[str, dict[Any, dict[Any, int]]]:
        """Counts of each level of each factor per state, as :func:`sweep_stats` counts them.

        Returns ``{state: {factor: {level: count}}}`` for ``total``, ``done``,
        ``inprogress``, ``failed``, ``skipped`` and ``remaining``. Counted on the saved
        columns of the sweeps: a million combinations take about a second, where
        ``sweep_stats(stats())`` builds every combination.
        """
        with self._mutex:
            s = self._state
            space, index = s.space, s.space.index
            positions = {
                "done": [index[k] for k in s.done if k in index],
                "inprogress": [index[k] for k in s.claims if k in index],
                "failed": [index[k] for k in s.failed if k in index],
                "skipped": [index[k] for k in s.visible_skipped()],
            }
            counts = {"total": space.level_counts(range(len(space)))}
            for name, where in positions.items():
                counts[name] = space.level_counts(where)
            blocking = ["done", "inprogress", "skipped"] + ([] if s.retry_failed else ["failed"])
        remaining: dict[Any, dict[Any, int]] = {}
        for factor, levels in counts["total"].items():
            remaining[factor] = {}
            for level, n in levels.items():
                left = n - sum(counts[b].get(factor, {}).get(level, 0) for b in blocking)
                if left:
                    remaining[factor][level] = left
        counts["remaining"] = remaining
        return counts

    # --- verification and repair (sweepstack check) --------------------------------------

    def check(self) -> list[Problem]:
        """Verify this sweeper's journal, snapshot and saved sweeps (see :func:`check_sweeper`)."""
        from sweepstack.sweep._check import check_sweeper

        return check_sweeper(self._dir, lock=not self._readonly)

    def repair(
        self, done: Iterable[str] | None = None, quarantine_dir: str | None = None
    ) -> list[Problem]:
        """Repair this sweeper's files and reload its state (see :func:`check_sweeper`).

        Raises:
            StoreWriteError: the sweeper is read-only, or its folder cannot be written.
        """
        if self._readonly:
            raise StoreWriteError(self._dir, "this sweeper was opened read-only")
        from sweepstack.sweep._check import check_sweeper

        problems = check_sweeper(self._dir, repair=True, done=done, quarantine_dir=quarantine_dir)
        self.full_update()
        return problems

    def _heartbeat(self) -> bool:
        """Renew this process's leases (called by the heartbeat thread); False if none held."""
        if not os.path.isdir(self._dir):
            return False  # the sweeper's folder was removed: nothing left to renew
        with self._session() as state:
            me = self._me()
            if me.id not in state.owner_claims:
                return False
            self._write([("H", me.id, f"{time.time():.3f}")], durable=False)
            return True

    # --- display ------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self._name

    @property
    def persistence_dir(self) -> str:
        return self._dir

    def __str__(self) -> str:
        c = self.counts()
        return (
            f"{self._name} <{c['total']} total, {c['done']} done, {c['skipped']} skipped, "
            f"{c['inprogress']} in progress, {c['remaining']} remaining, {c['failed']} failed>"
        )

    def __repr__(self) -> str:
        return f"ParamSweeper({self._dir!r}, name={self._name!r})"

    def __getstate__(self) -> None:
        raise TypeError(
            "a ParamSweeper is not pickled: open ParamSweeper(persistence_dir) in each process instead"
        )


def restore_state(sweeper: ParamSweeper, *, compact: bool, done: Iterable[str]) -> list[str]:
    """Under the sweeper's lock: compact its state into a new generation when ``compact``,
    and mark done again the keys of ``done`` that the state has neither done nor in
    progress; return those keys, sorted (``sweepstack check --repair`` after a loss)."""
    with sweeper._session() as state:
        if compact:
            sweeper._compact(state.document())
        missing = sorted(k for k in done if k not in state.done and k not in state.claims)
        if missing:
            sweeper._write([("D", key, "") for key in missing], durable=True)
    return missing
