"""Local worker processes (``--workers N``): N copies of the engine on one experiment.

Each worker is the same engine started with ``-c DIR``, exactly as N hosts would be:
they share the experiment through its sweepers. The parent shows one progress display
for all of them, forwards Ctrl-C and SIGTERM, replaces a worker that dies from a signal
it did not send while work remains (its claims come back to todo by themselves), and
exits non-zero if a worker failed.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import time
from typing import Any

from sweepstack.engine._progress import Progress
from sweepstack.engine._signals import CaughtSignals
from sweepstack.errors import NoSweepsError, SweepstackError
from sweepstack.store import HOST, ExperimentDir
from sweepstack.sweep import ParamSweeper

__all__ = ["SweepWatcher", "run_workers"]

_log = logging.getLogger("sweepstack.engine")


class SweepWatcher:
    """Read-only views of every sweeper of an experiment, for progress from outside."""

    def __init__(self, result_dir: str) -> None:
        self.result_dir = result_dir
        self.sweepers: dict[str, ParamSweeper] = {}

    def counts(self) -> dict[str, dict[str, int]]:
        try:
            folders = ExperimentDir.open(self.result_dir).sweeper_dirs()
        except (SweepstackError, OSError):
            folders = {}
        for name, path in folders.items():
            if name not in self.sweepers:
                try:
                    self.sweepers[name] = ParamSweeper(path, readonly=True)
                except (NoSweepsError, SweepstackError, OSError):
                    continue  # being created by a worker: next time
        result = {}
        for name, sweeper in self.sweepers.items():
            try:
                sweeper.update()
            except (SweepstackError, OSError):
                continue
            # "running": the processes holding live claims, for the progress display
            result[name] = {**sweeper.counts(), "running": sweeper.running()}
        return result

    def work_left(self) -> bool:
        return any(c["remaining"] or c["inprogress"] for c in self.counts().values())


def _forwarder(procs: list[subprocess.Popen[Any]]) -> CaughtSignals:
    """Forward SIGINT and SIGTERM to the workers (they run in their own sessions); a second
    Ctrl-C kills them."""

    def forward(signum: int, count: int) -> None:
        alive = [proc for proc in procs if proc.poll() is None]
        if count == 1:
            for proc in alive:
                proc.send_signal(signum)
            return
        if alive:  # a second Ctrl-C: stop now
            _log.warning(
                "second Ctrl-C: killing %d worker(s); their claims return to todo by themselves",
                len(alive),
            )
        for proc in alive:
            proc.kill()

    return CaughtSignals(forward)


def _close_runs_of_killed(result_dir: str, parent: str, killed: dict[int, int]) -> None:
    """Record as interrupted the runs of workers that a signal ended before they could.

    A worker killed by SIGKILL (a second Ctrl-C, the OOM killer, ``kill -9``) leaves
    its run "running" for ever; its claims come back by themselves, its run does not.
    The worker is gone, so the launcher may write its run document.
    """
    try:
        runs, _ = ExperimentDir.open(result_dir).runs()
    except (SweepstackError, OSError):
        return
    for run in runs:
        signum = killed.get(run.get("pid"))
        if (
            signum is not None
            and run.status == "running"
            and run.get("parent") == parent
            and run.get("host") == HOST
        ):
            with contextlib.suppress(SweepstackError, OSError):
                run.finish(
                    "interrupted",
                    f"worker killed by {signal.Signals(signum).name}, its run "
                    "closed by the launcher",
                )


def run_workers(
    command: list[str],
    count: int,
    result_dir: str,
    progress: Progress,
    poll: float = 0.5,
    parent: str | None = None,
    devices: list[str] | None = None,
) -> int:
    """Run ``count`` workers of ``command`` until they end; return the exit status to use.

    0 when every worker completed; 130 when interrupted; 1 when a worker failed.
    ``parent``, the launcher's run reference, lets it close the runs of workers killed
    by a signal. ``devices``, one ``CUDA_VISIBLE_DEVICES`` value per worker
    (``--gpus-per-worker``), gives each its own GPUs; a replacement takes those of the
    worker it replaces.
    """
    watcher = SweepWatcher(result_dir)
    procs: list[subprocess.Popen[Any]] = []
    slots: dict[int, int] = {}  # pid -> worker slot (its devices)

    def spawn(slot: int) -> subprocess.Popen[Any]:
        env = None
        if devices is not None:
            env = {**os.environ, "CUDA_VISIBLE_DEVICES": devices[slot]}
        # own session: a Ctrl-C on the terminal reaches the parent only, which forwards it once
        proc = subprocess.Popen(command, start_new_session=True, env=env)
        procs.append(proc)
        slots[proc.pid] = slot
        return proc

    for slot in range(count):
        spawn(slot)
    replacements = 0
    failed = False
    killed: dict[int, int] = {}  # pid -> signal of the workers that a signal ended
    with _forwarder(procs) as forwarder:
        running = list(procs)
        while running:
            time.sleep(poll)
            for name, counts in watcher.counts().items():
                progress.update(name, counts)
            for proc in list(running):
                code = proc.poll()
                if code is None:
                    continue
                running.remove(proc)
                if code < 0:
                    killed[proc.pid] = -code
                if code == 0 or forwarder.received:
                    continue
                if code < 0 and replacements < 2 * count and watcher.work_left():
                    # killed by someone else (OOM killer, a kill -9): its claims return to todo
                    _log.warning(
                        "worker %d was killed by %s; starting a replacement",
                        proc.pid,
                        signal.Signals(-code).name,
                    )
                    replacements += 1
                    running.append(spawn(slots[proc.pid]))
                    continue
                _log.error("worker %d exited with status %d", proc.pid, code)
                failed = True
        for name, counts in watcher.counts().items():
            progress.update(name, counts, force=True)
    if killed and parent is not None:
        _close_runs_of_killed(result_dir, parent, killed)
    if forwarder.received:
        return 130
    return 1 if failed else 0
