"""Stage leases: each artifact key is computed by one process at a time, across hosts.

A process about to execute a stage (its inputs already resolved) takes the lease of
the stage's output key in the cache's ``leases/`` folder; a process that needs the
same key meanwhile waits, then finds the artifact in the cache and loads it. The
rules are those of sweeper claims (:mod:`sweepstack.store._owner`):

- a lease file names its owner (host, boot id, pid namespace, pid, process start
  time, a unique id), is renewed by the process's heartbeat thread every quarter of
  the lease, and is removed when the stage ends;
- a waiter takes over a lease whose owner is provably dead on its own machine at
  once, and any lease that it has not seen renewed for ``lease + margin`` seconds on
  its own monotonic clock (time it was blocked itself does not count; wall clocks of
  the hosts are never compared);
- every read and write of a lease file happens under the folder's lock file, so
  NFSv4 revalidates the file on lock; a lease file is written to a temporary name
  and renamed.

A stage that raises leaves a *failed* lease behind (the exception's type and
message). Only the processes that were waiting for that very attempt fail with it
(:class:`~sweepstack.errors.StageFailedElsewhereError`), without running the stage
again; a process that arrives later takes the lease and runs the stage itself. An
interrupt or an error of the environment releases the lease without a failure: a
waiter then computes the key.

A process holds at most one lease per thread, that of the stage it executes, and
never waits while holding one (inputs are resolved before the lease is taken), so
waits cannot form a cycle.

Layout (``<cache>/leases/``, next to the artifacts' two-character shards)::

    leases/lock                      the lock file; nothing else opens it
    leases/<key>.json                the lease of one key being computed (or failed)
    leases/waiting/<owner>.<thread>.json   what one waiting thread waits for
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Callable

from sweepstack.errors import StageFailedElsewhereError, StoreWriteError
from sweepstack.store import _heartbeat
from sweepstack.store._atomic import (
    atomic_create,
    atomic_write,
    is_temp_name,
    reason_of,
    refresh_dir,
)
from sweepstack.store._format import dumps
from sweepstack.store._locks import file_lock
from sweepstack.store._owner import Owner, current_owner, is_dead

__all__ = ["LEASES_DIR", "Lease", "LeaseInfo", "StageLeases", "read_leases"]

_log = logging.getLogger("sweepstack.dag")

LEASES_DIR = "leases"
"""The folder of stage leases inside a cache folder (never a shard: shards have two characters)."""
LEASE_LOCK = "lock"
LEASE_SUFFIX = ".json"
WAITING_DIR = "waiting"

RUNNING = "running"
FAILED = "failed"

_POLL_FIRST = 0.02  # first wait between two looks at a lease (a fast stage ends soon)
_POLL_MAX = 0.5  # longest wait between two looks: what a waiter may lose after a release
_SAY_EVERY = 60.0  # a long wait is logged again every minute


@dataclass
class Lease:
    """A lease this process holds: one key, one attempt (``token``)."""

    key: str
    token: str
    stage: str
    record: str | None
    taken_over: str | None = None  # whose expired or dead lease this one replaced
    lost: bool = False  # another process took it over (our heartbeat stopped too long)


@dataclass(frozen=True)
class LeaseInfo:
    """A lease or a waiter as ``sweepstack status`` shows it."""

    key: str
    stage: str
    record: str | None
    state: str  # running, failed or waiting
    host: str
    pid: int
    since: float  # wall-clock time the lease was taken (or the wait began)
    renewed: float  # wall-clock time of the owner's last renewal
    error: str | None = None  # "Type: message" of a failed attempt
    owner: str = ""
    holder: str | None = None  # a waiter's: "pid N on HOST", who computes what it waits for


def _doc_owner(doc: dict[str, Any]) -> Owner:
    owner = doc.get("owner") or {}
    return Owner.from_json(str(owner.get("id", "")), owner)


class StageLeases:
    """The stage leases of one cache folder.

    Args:
        folder: the leases folder (``<cache>/leases``); created on first use.
        lease: seconds a lease stays valid without renewal (renewed every quarter of it).
        margin: extra seconds a waiter waits beyond the lease before taking it over
            (default a quarter of the lease, at least half a second).

    >>> import tempfile
    >>> leases = StageLeases(tempfile.mkdtemp())
    >>> lease = leases.acquire("ab" * 16, "train")
    >>> [info.stage for info in leases.active()]
    ['train']
    >>> leases.release(lease)
    >>> leases.active()
    []
    """

    def __init__(self, folder: str, lease: float = 600.0, margin: float | None = None) -> None:
        self.folder = os.path.abspath(folder)
        self._margin_given = margin
        self.lease = lease
        self._held: dict[str, Lease] = {}
        self._held_pid = os.getpid()
        self._mutex = threading.Lock()
        self._file_lock: Any = None
        self._me: Owner | None = None
        self.waits = 0  # waits for another process's lease (for tests and benchmarks)
        self.wait_seconds = 0.0

    @property
    def lease(self) -> float:
        """Seconds a lease stays valid without renewal."""
        return self._lease

    @lease.setter
    def lease(self, seconds: float) -> None:
        self._lease = float(seconds)
        given = self._margin_given
        self.margin = float(given) if given is not None else max(0.5, self._lease / 4)
        self.heartbeat_interval = max(0.05, self._lease / 4)

    def __repr__(self) -> str:
        return f"StageLeases({self.folder!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (self.__class__, (self.folder, self._lease, self._margin_given))

    # --- files ------------------------------------------------------------------------

    def _path(self, key: str) -> str:
        return os.path.join(self.folder, key + LEASE_SUFFIX)

    def _lock(self) -> Any:
        if self._file_lock is None:
            waiting = os.path.join(self.folder, WAITING_DIR)
            try:
                os.makedirs(waiting, exist_ok=True)
            except OSError as err:  # read-only, no space: the store's, not the stage's
                raise StoreWriteError(waiting, reason_of(err)) from err
            # kept: the process's one lock object for the file (it survives a fork)
            self._file_lock = file_lock(os.path.join(self.folder, LEASE_LOCK))
        return self._file_lock

    def _owner(self) -> Owner:
        """This process as an owner; its identity is read once per process."""
        me = self._me
        if me is None or me.pid != os.getpid():
            me = self._me = current_owner(self._lease)
        return dataclasses.replace(me, lease=self._lease, since=time.time())

    def _read(self, key: str) -> dict[str, Any] | None:
        # called under the lock: on NFS the lock makes the client revalidate the file
        try:
            with open(self._path(key), "rb") as f:
                doc = json.loads(f.read())
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            return {"state": "unreadable"}  # torn by hand or by the disk: treated as expired
        return doc if isinstance(doc, dict) else {"state": "unreadable"}

    def _write(self, key: str, doc: dict[str, Any]) -> None:
        # no fsync: a lease lost in a crash of this machine only lets a waiter compute
        # the key too, and the cache keeps the first copy published
        atomic_write(self._path(key), dumps(doc), fsync=False)

    def _mine(self) -> dict[str, Lease]:
        if self._held_pid != os.getpid():  # a forked child holds none of its parent's leases
            self._held, self._held_pid = {}, os.getpid()
        return self._held

    # --- taking and giving back -------------------------------------------------------

    def acquire(
        self,
        key: str,
        stage: str,
        record: str | None = None,
        ready: Callable[[], bool] | None = None,
    ) -> Lease | None:
        """Take the lease of ``key``, waiting while another process holds it.

        Returns the lease, or None when ``ready()`` said, after a wait, that the key
        was computed meanwhile (nothing is held then).

        Raises:
            StageFailedElsewhereError: the attempt this call waited for failed in its
                stage; the key is not run again here.
            StoreWriteError: the lease file could not be written.
        """
        me = self._owner()
        token = uuid.uuid4().hex[:16]
        waited: set[str] = set()  # tokens of the attempts this call waited for
        seen: tuple[str, int] | None = None
        seen_at = 0.0
        delay = _POLL_FIRST
        started = said = last_read = 0.0
        try:
            while True:
                with self._lock():
                    now = time.monotonic()
                    if last_read and now - last_read > max(self._lease / 4, 2 * _POLL_MAX):
                        # this process was blocked itself (a file server outage, a frozen
                        # VM): nobody could renew meanwhile, so the silence proves nothing
                        seen = None
                    last_read = now
                    refresh_dir(self.folder)  # a lease another host created: not missing
                    doc = self._read(key)
                    exists = doc is not None
                    if doc is not None and doc.get("state") == FAILED:
                        if doc.get("token") in waited:
                            raise _failure(key, doc)
                        doc = None  # an earlier attempt failed: this one tries again
                    if doc is None and waited and ready is not None and ready():
                        return None
                    reason = (
                        None if doc is None else self._takeover_reason(key, doc, me, seen, seen_at)
                    )
                    if doc is None or reason is not None:
                        mine = Lease(key, token, stage, record, taken_over=reason)
                        document = self._document(mine, me, time.time(), 0)
                        lease: Lease | None = mine
                        if exists:  # replaced under the lock: readers see the old or the new
                            self._write(key, document)
                        elif not atomic_create(self._path(key), dumps(document), fsync=False):
                            # created meanwhile by another host (the server knows, even
                            # when this client still believed the name missing)
                            lease = None
                        if lease is not None:
                            with self._mutex:
                                self._mine()[key] = lease
                            break
                    if doc is not None:
                        beat = (str(doc.get("token")), int(doc.get("beat", 0)))
                        if beat != seen:
                            seen, seen_at = beat, time.monotonic()
                        if not waited:
                            started = said = time.monotonic()
                            self.waits += 1
                            self._say_waiting(key, stage, record, doc, me)
                        waited.add(str(doc.get("token")))
                if doc is not None and time.monotonic() - said > _SAY_EVERY:
                    said = time.monotonic()
                    self._say_waiting(key, stage, record, doc, me)
                time.sleep(delay)
                delay = min(delay * 1.5, _POLL_MAX, self._lease / 8)
        finally:
            if waited:
                self.wait_seconds += time.monotonic() - started
                self._unsay_waiting(me)
        assert lease is not None
        if lease.taken_over:
            _log.warning("stage %s: took over the lease of %s (%s)", stage, key, lease.taken_over)
        _heartbeat.register(self)
        return lease

    def _takeover_reason(
        self,
        key: str,
        doc: dict[str, Any],
        me: Owner,
        seen: tuple[str, int] | None,
        seen_at: float,
    ) -> str | None:
        if doc.get("state") != RUNNING:
            return f"its lease file {self._path(key)} was unreadable"
        owner = _doc_owner(doc)
        lease = float(doc.get("lease", self._lease))
        margin = float(self.margin)
        where = f"pid {owner.pid} on {owner.host}"
        if owner.id != me.id and is_dead(owner, me):
            return f"its owner, {where}, is dead"
        beat = (str(doc.get("token")), int(doc.get("beat", 0)))
        if seen == beat and time.monotonic() - seen_at > lease + margin:
            return f"its owner, {where}, did not renew it for {lease + margin:.0f} s"
        return None

    def _document(self, lease: Lease, me: Owner, renewed: float, beat: int) -> dict[str, Any]:
        owner = me.to_json()
        owner["id"] = me.id
        owner["thread"] = threading.get_ident()
        return {
            "key": lease.key,
            "token": lease.token,
            "stage": lease.stage,
            "record": lease.record,
            "state": RUNNING,
            "owner": owner,
            "lease": self._lease,
            "since": me.since,
            "renewed": renewed,
            "beat": beat,
        }

    def release(self, lease: Lease, error: BaseException | None = None) -> None:
        """Give the lease back; with ``error`` (the stage raised), leave a failed lease.

        A lease taken over by another process meanwhile is left alone.
        """
        with self._mutex:
            self._mine().pop(lease.key, None)
        with self._lock():
            doc = self._read(lease.key)
            if doc is None or doc.get("token") != lease.token:
                return
            if error is None:
                try:
                    os.unlink(self._path(lease.key))
                except FileNotFoundError:
                    pass
                return
            doc.update(
                state=FAILED,
                error_type=type(error).__name__,
                message=str(error)[:2000],
                failed=time.time(),
            )
            self._write(lease.key, doc)

    # --- renewal (the heartbeat thread) ------------------------------------------------

    def _heartbeat(self) -> bool:
        """Renew every lease this process holds; False when it holds none."""
        with self._mutex:
            held = list(self._mine().values())
        if not held:
            return False
        with self._lock():
            for lease in held:
                doc = self._read(lease.key)
                if doc is None or doc.get("token") != lease.token:
                    if not lease.lost:
                        lease.lost = True
                        _log.warning(
                            "stage %s: the lease of %s was taken over by another process "
                            "(this one could not renew it in time); both may compute it, "
                            "the cache keeps the first copy",
                            lease.stage,
                            lease.key,
                        )
                    continue
                doc["renewed"] = time.time()
                doc["beat"] = int(doc.get("beat", 0)) + 1
                self._write(lease.key, doc)
        return True

    # --- who waits for what ------------------------------------------------------------

    def _waiting_path(self, me: Owner) -> str:
        return os.path.join(self.folder, WAITING_DIR, f"{me.id}.{threading.get_ident()}.json")

    def _say_waiting(
        self, key: str, stage: str, record: str | None, doc: dict[str, Any], me: Owner
    ) -> None:
        owner = _doc_owner(doc)
        _log.info(
            "stage %s: waiting for artifact %s, computed by pid %d on %s for %.0f s",
            stage,
            key,
            owner.pid,
            owner.host,
            max(0.0, time.time() - float(doc.get("since", time.time()))),
        )
        waiter = me.to_json()
        waiter["id"] = me.id
        info: dict[str, Any] = {"key": key, "stage": stage, "record": record, "state": "waiting"}
        info.update(owner=waiter, since=time.time(), renewed=time.time(), holder=doc.get("owner"))
        try:
            atomic_write(self._waiting_path(me), dumps(info), fsync=False)
        except OSError:
            pass  # only shown by status: never a reason to fail the wait

    def _unsay_waiting(self, me: Owner) -> None:
        try:
            os.unlink(self._waiting_path(me))
        except OSError:
            pass

    # --- reading (status) --------------------------------------------------------------

    def active(self) -> list[LeaseInfo]:
        """Every lease (running or failed) and every waiter of this folder, by key."""
        return read_leases(self.folder)


def _failure(key: str, doc: dict[str, Any]) -> StageFailedElsewhereError:
    owner = _doc_owner(doc)
    return StageFailedElsewhereError(
        str(doc.get("stage", "?")),
        key,
        str(doc.get("error_type", "Exception")),
        str(doc.get("message", "")),
        owner.host,
        owner.pid,
    )


def _iter_docs(folder: str) -> Iterator[dict[str, Any]]:
    for sub in ("", WAITING_DIR):
        try:
            names = sorted(os.listdir(os.path.join(folder, sub)))
        except OSError:
            continue
        for name in names:
            if not name.endswith(LEASE_SUFFIX) or is_temp_name(name):
                continue
            try:
                with open(os.path.join(folder, sub, name), "rb") as f:
                    doc = json.loads(f.read())
            except (OSError, ValueError):
                continue  # removed meanwhile, or being replaced
            if isinstance(doc, dict):
                yield doc


def read_leases(folder: str) -> list[LeaseInfo]:
    """The leases and waiters of a leases folder, as last written (no lock taken)."""
    infos = []
    for doc in _iter_docs(folder):
        owner = _doc_owner(doc)
        error = holder = None
        if doc.get("state") == FAILED:
            error = f"{doc.get('error_type')}: {doc.get('message')}"
        if isinstance(doc.get("holder"), dict):
            other = Owner.from_json("", doc["holder"])
            holder = f"pid {other.pid} on {other.host}"
        infos.append(
            LeaseInfo(
                key=str(doc.get("key", "?")),
                stage=str(doc.get("stage", "?")),
                record=doc.get("record"),
                state=str(doc.get("state", "?")),
                host=owner.host,
                pid=owner.pid,
                since=float(doc.get("since", 0.0)),
                renewed=float(doc.get("renewed", 0.0)),
                error=error,
                owner=owner.id,
                holder=holder,
            )
        )
    return infos
