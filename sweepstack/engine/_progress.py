"""Progress of sweeps over every process and host: a rich bar, or periodic log lines."""

from __future__ import annotations

import collections
import logging
import sys
import time
from typing import Any

__all__ = ["Progress", "describe"]

_log = logging.getLogger("sweepstack.progress")


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


class _Rate:
    """Combinations done per second over the last minute, as seen from here."""

    def __init__(self) -> None:
        self.samples: collections.deque[tuple[float, int]] = collections.deque()

    def add(self, done: int) -> float | None:
        now = time.monotonic()
        self.samples.append((now, done))
        while len(self.samples) > 2 and now - self.samples[0][0] > 60:
            self.samples.popleft()
        first_time, first_done = self.samples[0]
        if now - first_time < 1 or done <= first_done:
            return None
        return (done - first_done) / (now - first_time)


def describe(name: str, counts: dict[str, int], rate: float | None) -> str:
    """One line: "main: 120/960 done (12%) · 2 in progress · 2 running · 3.1/s · ETA 4m31s"."""
    total = counts.get("total", 0)
    done = counts.get("done", 0)
    parts = [
        f"{name}: {done}/{total} done ({100 * done / total:.0f}%)" if total else f"{name}: empty"
    ]
    parts.append(f"{counts.get('inprogress', 0)} in progress")
    if "running" in counts:
        parts.append(f"{counts['running']} running")
    if counts.get("failed"):
        parts.append(f"{counts['failed']} failed")
    if counts.get("skipped"):
        parts.append(f"{counts['skipped']} skipped")
    if rate:
        parts.append(f"{rate:.1f}/s")
        remaining = counts.get("remaining", 0) + counts.get("inprogress", 0)
        if remaining:
            parts.append(f"ETA {_duration(remaining / rate)}")
    return " · ".join(parts)


class Progress:
    """Shows the progress of named sweeps from the counts given to :meth:`update`.

    On a terminal (and unless ``bar=False``) a rich progress bar per sweep; otherwise a
    log line per sweep every ``interval`` seconds and at the end.
    """

    def __init__(self, bar: bool = True, interval: float = 10.0) -> None:
        self.bar = bar and sys.stderr.isatty()
        self.interval = interval
        self._rates: dict[str, _Rate] = {}
        self._last: dict[str, tuple[float, dict[str, int]]] = {}
        self._tasks: dict[str, Any] = {}
        self._live: Any = None

    def _start_bar(self) -> Any:
        if self._live is None:
            from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn
            from rich.progress import Progress as RichProgress

            from sweepstack.engine._logging import console

            self._live = RichProgress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[states]}"),
                TimeRemainingColumn(),
                console=console(),
                transient=False,
            )
            self._live.start()
        return self._live

    def update(self, name: str, counts: dict[str, int], force: bool = False) -> None:
        rate = self._rates.setdefault(name, _Rate()).add(counts.get("done", 0))
        if self.bar:
            live = self._start_bar()
            # the workers at work now: processes holding live claims (a stale claim of a
            # dead process is in progress but not running)
            states = f"{counts.get('running', counts.get('inprogress', 0))} running"
            if counts.get("failed"):
                states += f", {counts['failed']} failed"
            if rate:
                states += f", {rate:.1f}/s"
            if name not in self._tasks:
                self._tasks[name] = live.add_task(name, total=counts.get("total", 0), states=states)
            live.update(
                self._tasks[name],
                total=counts.get("total", 0),
                completed=counts.get("done", 0),
                states=states,
            )
            return
        now = time.monotonic()
        last = self._last.get(name)
        if force or last is None or now - last[0] >= self.interval:
            if last is None or last[1] != counts or force:
                _log.info(describe(name, counts, rate))
            self._last[name] = (now, dict(counts))

    def close(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None
