"""SIGTERM handled like Ctrl-C: a cluster's time limit or scancel gives claims back."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

__all__ = ["Interrupted", "interrupts_as_exceptions"]


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
