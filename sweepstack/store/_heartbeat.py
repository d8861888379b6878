"""One thread per process renews the leases it holds: sweeper claims and stage leases.

A holder (a sweeper, or the stage leases of a cache) registers itself and is called
every ``heartbeat_interval`` seconds until it says it holds nothing. A sweeper renews
its claims by an ``H`` entry in its journal every quarter of the lease; a stage lease
is renewed by rewriting its lease file. Observers judge a lease on their own clocks
from when they last saw news of its owner, so a process whose heartbeat stops
(killed, frozen, cut off from the file server) loses its leases about one lease
after its last heartbeat.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import weakref
from typing import Any

__all__ = ["register"]

_log = logging.getLogger("sweepstack.store")

_due: weakref.WeakKeyDictionary[Any, float] = weakref.WeakKeyDictionary()  # sweeper -> next beat
_lock = threading.Lock()
_wake = threading.Event()
_thread: threading.Thread | None = None


def register(sweeper: Any) -> None:
    """Renew ``sweeper``'s leases from now on, until it holds none.

    ``sweeper`` (any holder) has ``heartbeat_interval`` (seconds) and ``_heartbeat() -> bool``
    (False once it holds no claim). Registering again is cheap and changes nothing.
    """
    global _thread
    with _lock:
        if sweeper in _due:
            return
        _due[sweeper] = time.monotonic() + sweeper.heartbeat_interval
        if _thread is None or not _thread.is_alive():
            _thread = threading.Thread(target=_run, name="sweepstack-heartbeat", daemon=True)
            _thread.start()
    _wake.set()  # a new sweeper may be due sooner than the thread planned


def _run() -> None:
    while True:
        with _lock:
            next_due = min(_due.values(), default=None)
        if next_due is None:
            _wake.wait(60.0)
        else:
            _wake.wait(max(0.0, next_due - time.monotonic()))
        _wake.clear()
        now = time.monotonic()
        with _lock:
            due = [s for s, t in _due.items() if t <= now]
        for sweeper in due:
            try:
                holding = sweeper._heartbeat()
            except Exception:  # a full disk or a lost server must not kill the heartbeat
                _log.warning("heartbeat of %s failed", sweeper, exc_info=True)
                holding = True
            with _lock:
                if holding:
                    _due[sweeper] = time.monotonic() + sweeper.heartbeat_interval
                else:
                    _due.pop(sweeper, None)


def _reset_after_fork() -> None:
    # the thread does not exist in a forked child, whose claims are its own anyway
    global _thread, _lock
    _thread = None
    _lock = threading.Lock()
    _due.clear()


os.register_at_fork(after_in_child=_reset_after_fork)
