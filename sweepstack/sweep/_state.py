"""The state of a sweeper: what its journal says about every key, and one instance's view.

Journal entries (see :mod:`sweepstack.sweep._journal` for the line format)::

    O <owner> <json>            an owner declares itself (host, pid, start, lease...)
    C <key> <owner> <time>      claim: the key is in progress, held by the owner
    D <key> <owner>             done (final: nothing takes a key out of done)
    F <key> <owner> <json>      failed, with the error's type and message
    R <key> <owner>             released (cancel, skip, Ctrl-C): back to todo
    H <owner> <time>            heartbeat: the owner is alive and renews its leases
    X <owner> <reason>          every claim of the owner goes back to todo (dead, expired)
    Z <what> <owner>            reset: every "inprogress" claim, or every "failed" key, to todo
    W <key> <owner> <record>    the result document of a finished key, written just before its
                                D or F in the same append (so durable with it; see format.md)
    M <owner> <key> [<key>...]  the owner's records of these keys are in place as files
    M <owner> *                 every record this owner wrote in this generation is in place

Times are wall-clock seconds, shown to people and never used to decide anything:
leases are judged on each observer's own monotonic clock, from when *it* last saw
news of an owner.

Each instance sees the whole state (instances with other sweeps share the folder)
and counts what belongs to its own sweeps. Its todo queue hands out combinations
in a fixed order at amortised O(1) per call: a cursor walks the order once, and
keys that come back to todo behind the cursor go on a small heap.
"""

from __future__ import annotations

import heapq
import json
import time
from collections.abc import Sequence
from typing import Any

from sweepstack.store._owner import Owner
from sweepstack.sweep._space import Space

__all__ = ["SweepState"]


class SweepState:
    """Apply journal entries; answer what is todo, in progress, done or failed."""

    def __init__(self) -> None:
        self.space = Space([], [])
        # rank -> position in the space; the identity is a range (8 bytes, not 36 MB at 1e6)
        self._order: Sequence[int] = range(0)
        self._rank: list[int] | None = None  # position -> rank (None: the identity)
        self.retry_failed = False
        self.reset()
        self._apply = {
            "O": self._on_owner,
            "C": self._on_claim,
            "D": self._on_done,
            "F": self._on_fail,
            "R": self._on_release,
            "H": self._on_heartbeat,
            "X": self._on_expire,
            "Z": self._on_reset,
            "W": self._on_record,
            "M": self._on_published,
        }

    # --- loading --------------------------------------------------------------------

    def reset(self) -> None:
        """Forget everything persisted (before a full reload); keep the sweeps and the skipped."""
        self.done: set[str] = set()
        self.failed: dict[str, dict[str, Any]] = {}
        self.claims: dict[str, str] = {}
        self.claimed_at: dict[str, float] = {}  # wall time, for display
        self.owner_claims: dict[str, set[str]] = {}
        self.owners: dict[str, Owner] = {}
        self.last_seen: dict[str, float] = {}  # owner -> this process's monotonic clock
        self.heartbeat_at: dict[str, float] = {}  # owner -> wall time of its last news
        self.expired: dict[str, str] = {}  # owner -> reason, for owners whose claims were taken
        # records written in the journal whose file their owner has not yet said is in
        # place: owner -> key -> the record's text; and the owners that wrote records in
        # this generation (after a reboot, their unsynced record files may be lost)
        self.pending: dict[str, dict[str, str]] = {}
        self.record_writers: set[str] = set()
        self.skipped: set[str] = getattr(self, "skipped", set())
        self._recount()

    def load(self, document: dict[str, Any] | None) -> None:
        """Replace the persisted state with a snapshot document (None: empty)."""
        self.reset()
        if not document:
            return
        now = time.monotonic()
        # keep the space's key objects (a million done keys are then stored once), looked
        # up with map() (a C loop) rather than key by key in Python
        done = document.get("done", ())
        keys = self.space.keys
        positions = list(map(self.space.index.get, done))
        self.done = {keys[p] for p in positions if p is not None}
        if len(self.done) < len(done):  # keys of other sweeps sharing the folder
            self.done.update(k for k, p in zip(done, positions) if p is None)
        self.failed = dict(document.get("failed", {}))
        for owner_id, data in document.get("owners", {}).items():
            self.owners[owner_id] = Owner.from_json(owner_id, data)
            self.last_seen[owner_id] = now
            self.heartbeat_at[owner_id] = float(data.get("heartbeat", data.get("since", 0.0)))
        for owner_id, records in document.get("pending", {}).items():
            if isinstance(records, dict) and records:
                self.pending[owner_id] = {str(k): str(v) for k, v in records.items()}
        for key, (owner_id, at) in document.get("claims", {}).items():
            self.claims[key] = owner_id
            self.claimed_at[key] = at
            self.owner_claims.setdefault(owner_id, set()).add(key)
            self.last_seen.setdefault(owner_id, now)
        self._recount()

    def document(self) -> dict[str, Any]:
        """The persisted state as a snapshot document."""
        live = set(self.claims.values()) | set(self.pending)
        owners = {}
        for owner_id in live:
            owner = self.owners.get(owner_id)
            if owner is not None:
                owners[owner_id] = {
                    **owner.to_json(),
                    "heartbeat": self.heartbeat_at.get(owner_id, 0.0),
                }
        return {
            "done": sorted(self.done),
            "failed": self.failed,
            "claims": {k: [o, self.claimed_at.get(k, 0.0)] for k, o in self.claims.items()},
            "owners": owners,
            "pending": {o: dict(r) for o, r in self.pending.items() if r},
        }

    def size(self) -> int:
        """How much a snapshot holds: decides when compaction pays."""
        return len(self.done) + len(self.failed) + len(self.claims)

    # --- this instance's sweeps -------------------------------------------------------

    def set_space(self, space: Space, order: list[int] | None) -> None:
        """Use ``space`` as this instance's sweeps, handed out in ``order`` (positions)."""
        self.space = space
        self._order = order if order is not None else range(len(space))
        if order is None:
            self._rank = None
        else:
            rank = [0] * len(space)
            for r, position in enumerate(order):
                rank[position] = r
            self._rank = rank
        # reuse the space's key objects: a million done keys are then stored once
        index, keys = space.index, space.keys
        self.done = {keys[index[k]] if k in index else k for k in self.done}
        self.skipped = {k for k in self.skipped if k in index}  # not a set of every key
        self._recount()

    def _recount(self) -> None:
        index = self.space.index
        self.n_done = sum(map(index.__contains__, self.done))  # no Python loop: 1e6 done keys
        self.n_failed = sum(1 for k in self.failed if k in index)
        self.n_inprogress = sum(1 for k in self.claims if k in index)
        self._cursor = 0
        self._returned: list[int] = []
        # the todo ranks as of the last todo_keys(), and the ranks that may have become
        # todo since: the next call filters these instead of walking every combination
        self._todo: list[int] | None = None
        self._retodo: list[int] = []

    def is_todo(self, key: str) -> bool:
        return not (
            key in self.done
            or key in self.claims
            or key in self.skipped
            or (key in self.failed and not self.retry_failed)
        )

    def next_todo(self) -> str | None:
        """The first todo key of this instance's sweeps in its order, or None."""
        keys, order, is_todo = self.space.keys, self._order, self.is_todo
        returned = self._returned
        while returned and not is_todo(keys[order[returned[0]]]):
            heapq.heappop(returned)
        cursor = self._cursor
        while cursor < len(order) and not is_todo(keys[order[cursor]]):
            cursor += 1
        self._cursor = cursor
        if returned and (cursor >= len(order) or returned[0] < cursor):
            return keys[order[heapq.heappop(returned)]]
        if cursor < len(order):
            self._cursor = cursor + 1
            return keys[order[cursor]]
        return None

    def todo_keys(self) -> list[str]:
        """Every todo key of this instance's sweeps, in order.

        O(todo) per call: the first call (after a load) walks the ranks from the cursor
        on, and those that came back behind it; later calls filter the previous answer
        plus the ranks that came back to todo since.
        """
        keys, order = self.space.keys, self._order
        return [keys[order[r]] for r in self.todo_ranks()]

    def todo_positions(self) -> list[int]:
        """Positions in the space of the todo keys, in order (see :meth:`todo_keys`)."""
        order = self._order
        return [order[r] for r in self.todo_ranks()]

    def todo_ranks(self) -> list[int]:
        keys, order = self.space.keys, self._order
        if self._todo is None:
            candidates = sorted(set(self._returned)) + list(range(self._cursor, len(order)))
        elif self._retodo:
            candidates = sorted(set(self._todo).union(self._retodo))
        else:
            candidates = self._todo
        done, claims, skipped = self.done, self.claims, self.skipped
        failed = () if self.retry_failed else self.failed
        ranks = [
            r
            for r in candidates
            if (k := keys[order[r]]) not in done
            and k not in claims
            and k not in skipped
            and k not in failed
        ]
        self._todo, self._retodo = ranks, []
        return ranks

    def _requeue(self, key: str) -> None:
        """``key`` may have become todo: make sure the queue will find it again."""
        position = self.space.index.get(key)
        if position is None:
            return
        rank = position if self._rank is None else self._rank[position]
        if rank < self._cursor:
            heapq.heappush(self._returned, rank)
        if self._todo is not None:
            self._retodo.append(rank)

    def visible_skipped(self) -> list[str]:
        """Skipped keys that would otherwise be todo (skipping only filters what is todo)."""
        return [
            k
            for k in self.skipped
            if not (
                k in self.done or k in self.claims or (k in self.failed and not self.retry_failed)
            )
        ]

    def counts(self) -> dict[str, int]:
        total = len(self.space)
        skipped = len(self.visible_skipped())
        failed_blocking = 0 if self.retry_failed else self.n_failed
        return {
            "total": total,
            "done": self.n_done,
            "inprogress": self.n_inprogress,
            "failed": self.n_failed,
            "skipped": skipped,
            "remaining": total - self.n_done - self.n_inprogress - failed_blocking - skipped,
        }

    # --- applying entries --------------------------------------------------------------

    def apply(self, entry: tuple[str, str, str]) -> None:
        handler = self._apply.get(entry[0])
        if handler is not None:  # an entry type from a newer writer: ignored
            handler(entry[1], entry[2])

    def _seen(self, owner_id: str) -> None:
        self.last_seen[owner_id] = time.monotonic()

    def _drop_claim(self, key: str) -> str | None:
        owner_id = self.claims.pop(key, None)
        if owner_id is not None:
            self.claimed_at.pop(key, None)
            held = self.owner_claims.get(owner_id)
            if held is not None:
                held.discard(key)
                if not held:
                    del self.owner_claims[owner_id]
            if key in self.space.index:
                self.n_inprogress -= 1
        return owner_id

    def _on_owner(self, owner_id: str, argument: str) -> None:
        try:
            self.owners[owner_id] = Owner.from_json(owner_id, json.loads(argument))
        except (ValueError, TypeError):
            return
        self.heartbeat_at[owner_id] = self.owners[owner_id].since
        self.expired.pop(owner_id, None)
        self._seen(owner_id)

    def _on_claim(self, key: str, argument: str) -> None:
        owner_id, _, at = argument.partition(" ")
        if key in self.done:
            return
        self._drop_claim(key)
        if self.failed.pop(key, None) is not None and key in self.space.index:
            self.n_failed -= 1
        self.claims[key] = owner_id
        self.claimed_at[key] = float(at or 0.0)
        self.owner_claims.setdefault(owner_id, set()).add(key)
        if key in self.space.index:
            self.n_inprogress += 1
        self._seen(owner_id)
        self.expired.pop(owner_id, None)

    def _on_done(self, key: str, owner_id: str) -> None:
        if owner_id:
            self._seen(owner_id)
        if key in self.done:
            return
        self._drop_claim(key)
        if self.failed.pop(key, None) is not None and key in self.space.index:
            self.n_failed -= 1
        self.skipped.discard(key)
        position = self.space.index.get(key)
        if position is not None:
            key = self.space.keys[position]
            self.n_done += 1
        self.done.add(key)

    def _on_fail(self, key: str, argument: str) -> None:
        owner_id, _, data = argument.partition(" ")
        self._seen(owner_id)
        holder = self.claims.get(key)
        if key in self.done or (holder is not None and holder != owner_id):
            return  # done wins; a lost claim's failure does not disturb the new holder
        self._drop_claim(key)
        try:
            info = json.loads(data) if data else {}
        except ValueError:
            info = {}
        info["owner"] = owner_id
        if key not in self.failed and key in self.space.index:
            self.n_failed += 1
        self.failed[key] = info
        self._requeue(key)  # retry_failed may hand it out again

    def _on_release(self, key: str, owner_id: str) -> None:
        self._seen(owner_id)
        if self.claims.get(key) == owner_id:
            self._drop_claim(key)
            self._requeue(key)

    def _on_heartbeat(self, owner_id: str, at: str) -> None:
        self._seen(owner_id)
        try:
            self.heartbeat_at[owner_id] = float(at)
        except ValueError:
            pass

    def _on_expire(self, owner_id: str, reason: str) -> None:
        for key in list(self.owner_claims.get(owner_id, ())):
            self._drop_claim(key)
            self._requeue(key)
        self.expired[owner_id] = reason or "expired"

    def _on_record(self, key: str, argument: str) -> None:
        owner_id, _, text = argument.partition(" ")
        self.pending.setdefault(owner_id, {})[key] = text
        self.record_writers.add(owner_id)

    def _on_published(self, owner_id: str, argument: str) -> None:
        if argument == "*":
            self.pending.pop(owner_id, None)
            self.record_writers.discard(owner_id)
            return
        records = self.pending.get(owner_id)
        if records is not None:
            for key in argument.split():
                records.pop(key, None)
            if not records:
                del self.pending[owner_id]

    def _on_reset(self, what: str, _owner_id: str) -> None:
        if what == "inprogress":
            for key in list(self.claims):
                self._drop_claim(key)
                self._requeue(key)
        elif what == "failed":
            for key in list(self.failed):
                del self.failed[key]
                if key in self.space.index:
                    self.n_failed -= 1
                self._requeue(key)
