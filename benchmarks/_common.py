"""Timing helpers shared by the benchmark scenarios."""

from __future__ import annotations

import gc
import os
import platform
import statistics
import sys
import time
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable


@dataclass
class Result:
    """One measured figure, ours next to a competitor's when it was measured in the same run."""

    scenario: str
    case: str
    ours: float
    theirs: float | None = None
    competitor: str = ""
    unit: str = "s"
    higher_is_better: bool = False
    goal: str = ""
    notes: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        """How many times better we are (>1 means sweepstack is better)."""
        if self.theirs is None or not self.ours or not self.theirs:
            return None
        return self.ours / self.theirs if self.higher_is_better else self.theirs / self.ours


def median_time(
    fn: Callable[[], Any],
    repeats: int,
    setup: Callable[[], Any] | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> float:
    """Median time of ``fn()`` over ``repeats`` runs, each after ``setup()``.

    ``clock`` is wall time by default; ``time.process_time`` measures CPU time.
    """
    times = []
    for _ in range(repeats):
        if setup is not None:
            setup()
        gc.collect()
        start = clock()
        fn()
        times.append(clock() - start)
    return statistics.median(times)


def median_cpu(
    fn: Callable[[], Any], repeats: int, setup: Callable[[], Any] | None = None
) -> float:
    """Median CPU time (user + system of this process) of ``fn()``."""
    return median_time(fn, repeats, setup, clock=time.process_time)


def import_quietly(name: str) -> Any:
    """Import a competitor if installed (None otherwise), silencing its own warnings."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return __import__(name, fromlist=["_"])
        except ImportError:
            return None


def machine() -> str:
    """A one-line description of this machine, for the report."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return (
        f"{cpu}, {os.cpu_count()} cores, Python {sys.version.split()[0]}, "
        f"{platform.system()} {platform.release()}"
    )
