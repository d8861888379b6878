"""Signals, in one place: SIGTERM handled like Ctrl-C in a session (a cluster's time limit
or scancel gives claims back), and SIGINT/SIGTERM caught by launchers that forward them."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any, Callable

__all__ = ["CaughtSignals", "Interrupted", "interrupts_as_exceptions"]


class Interrupted(KeyboardInterrupt):
    """The engine received SIGTERM (a time limit, ``scancel``, ``kill``)."""

    def __init__(self, signum: int = signal.SIGTERM) -> None:
        super().__init__(signum)
        self.signum = signum

    def __str__(self) -> str:
        return f"received {signal.Signals(self.signum).name}"


def _raise(signum: int, frame: FrameType | None) -> None:
    raise Interrupted(signum)


@contextmanager
def interrupts_as_exceptions() -> Iterator[None]:
    """Within the block, SIGTERM raises :class:`Interrupted` (Ctrl-C raises KeyboardInterrupt)."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set from the main thread
        return
    previous = signal.signal(signal.SIGTERM, _raise)
    # A Grid Engine job submitted with -notify gets SIGUSR2 before qdel's SIGKILL
    grid_engine = "SGE_ROOT" in os.environ and "JOB_ID" in os.environ
    previous_usr2 = signal.signal(signal.SIGUSR2, _raise) if grid_engine else None
    previous_int = signal.getsignal(signal.SIGINT)
    if previous_int in (signal.SIG_IGN, signal.SIG_DFL):
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
        if previous_usr2 is not None:
            signal.signal(signal.SIGUSR2, previous_usr2)
        signal.signal(signal.SIGINT, previous_int)


class CaughtSignals:
    """Within the block, SIGINT and SIGTERM call ``on_signal(signum, count)`` instead of
    raising; :attr:`received` counts them (a launcher decides what to forward or cancel).

    A second SIGINT sooner than :attr:`SAME_SIGNAL_WINDOW` after the previous signal is
    the same Ctrl-C delivered twice (``timeout`` and other wrappers send it to their child
    and to its whole process group), not a person asking to stop now: it is not counted.

    >>> with CaughtSignals(lambda signum, count: print(signum, count)) as caught:  # doctest: +SKIP
    ...     wait_for_workers()
    """

    SAME_SIGNAL_WINDOW = 0.5

    def __init__(self, on_signal: Callable[[int, int], None] | None = None) -> None:
        self.on_signal = on_signal
        self.received = 0
        self.first: int | None = None
        self._last = 0.0
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> CaughtSignals:
        for signum in (signal.SIGINT, signal.SIGTERM):
            self._previous[signum] = signal.signal(signum, self._caught)
        return self

    def _caught(self, signum: int, frame: FrameType | None) -> None:
        now = time.monotonic()
        if self.received and signum == signal.SIGINT and now - self._last < self.SAME_SIGNAL_WINDOW:
            return
        self.received += 1
        self._last = now
        if self.first is None:
            self.first = signum
        if self.on_signal is not None:
            self.on_signal(signum, self.received)

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
