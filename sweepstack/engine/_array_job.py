"""What the cluster launchers share: the job script, and watching an array job of workers.

``--launcher slurm`` and ``--launcher sge`` submit the workers as one array job and
then watch it the same way, through :func:`watch`: the progress and the end of the
sweep are read from the experiment directory every 2 s (a few small files, no load on
the scheduler); the scheduler is asked for its tasks' states rarely (every ``poll``
seconds while they change, backing off to 8 times that while they do not, since sites
throttle tools that poll the controller). Once the directory shows the sweep complete,
tasks still pending are dropped (they would only find nothing to do). Ctrl-C or SIGTERM
cancels the job (running tasks give their combinations back) and a second one kills
it. Each scheduler says how through an :class:`ArrayJob`.
"""

from __future__ import annotations

import logging
import os
import shlex
import shutil
import subprocess
import time
from typing import Any, Callable

from sweepstack.engine._progress import Progress
from sweepstack.engine._signals import CaughtSignals
from sweepstack.engine._workers import SweepWatcher
from sweepstack.errors import LauncherError, SweepstackError
from sweepstack.store import ExperimentDir

__all__ = [
    "ArrayJob",
    "absolute_command",
    "find_tool",
    "run_tool",
    "submit",
    "submit_job_script",
    "watch",
]

_log = logging.getLogger("sweepstack.engine")

DIR_EVERY = 2.0
"""Seconds between two reads of the experiment directory (progress, the end of the sweep)."""

MAX_BACKOFF = 8
"""The scheduler is asked at most every ``MAX_BACKOFF * poll`` seconds while nothing changes."""


def run_tool(args: list[str], timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    """Run a scheduler command (in its own session: a Ctrl-C on the terminal reaches
    this process only, not squeue or qdel)."""
    return subprocess.run(
        args, capture_output=True, text=True, timeout=timeout, start_new_session=True
    )


def find_tool(launcher: str, name: str, hint: str) -> str:
    """The path of the scheduler command ``name``, or a LauncherError saying where to run."""
    path = shutil.which(name)
    if path is None:
        raise LauncherError(launcher, f"{name} was not found on PATH", hint)
    return path


def submit(
    launcher: str,
    command: list[str],
    script: str,
    options: str,
    *,
    option: str,
    what: str,
    unreachable: str,
    job_of: Callable[[str], str],
) -> str:
    """Submit ``script`` with ``command`` and the user's extra ``options``; the job id.

    ``option`` names the user's option (for messages), ``what`` the job ("job
    array"), ``unreachable`` what to check when the scheduler does not answer, and
    ``job_of`` reads the job id from the scheduler's answer.

    Raises:
        LauncherError: the options cannot be parsed, the scheduler did not answer or
            rejected the job, or its answer names no job.
    """
    tool = os.path.basename(command[0])
    try:
        extra = shlex.split(options or "")
    except ValueError as err:
        raise LauncherError(
            launcher, f"{option} {options!r} cannot be parsed: {err}", "quote it as a shell would"
        ) from None
    try:
        done = run_tool([*command, *extra, script], timeout=120)
    except subprocess.TimeoutExpired:
        raise LauncherError(launcher, f"{tool} did not answer within 120 s", unreachable) from None
    if done.returncode != 0:
        message = " ".join(done.stderr.split()) or f"exit status {done.returncode}"
        raise LauncherError(
            launcher,
            f"{tool} rejected the {what}: {message}",
            f"check {option} {options!r}" if options else "check the script " + script,
        )
    job = job_of(done.stdout.strip())
    if not job.isdigit():
        raise LauncherError(launcher, f"{tool} answered {done.stdout.strip()!r}, not a job id")
    return job


def absolute_command(command: list[str]) -> list[str]:
    """The worker command with its program and script as absolute paths.

    Tasks start on other nodes, perhaps in another folder: a relative interpreter or
    ``--file`` path would name nothing there. (The experiment's ``-c DIR`` is absolute
    already.)
    """
    out = list(command)
    if out and os.sep in out[0] and not os.path.isabs(out[0]):
        out[0] = os.path.abspath(out[0])
    elif out and os.sep not in out[0]:
        out[0] = shutil.which(out[0]) or out[0]
    for i, token in enumerate(out[:-1]):
        if token == "--file":
            out[i + 1] = os.path.abspath(out[i + 1])
            break
    return out


def submit_job_script(
    xd: ExperimentDir,
    run: Any,
    count: int,
    launcher: str,
    suffix: str,
    tool: str,
    make_script: Callable[[str, str], str],
    submit: Callable[[str], str],
) -> tuple[str, str, str]:
    """Write the job script of ``run``'s ``count`` workers to ``logs/<launcher>/<run
    reference><suffix>`` (``make_script(logs folder, header)``), submit it; return the
    job id, the script's path and the logs folder. A user can read the script, submit it
    again by hand or adapt it."""
    logs = xd.launcher_logs_dir(launcher)
    script_path = os.path.join(logs, run.reference + suffix)
    header = (
        f"sweepstack --launcher {launcher}: {count} workers of run {run.reference} on "
        f"{xd.path}\nsubmit it again by hand with: {tool} {script_path}"
    )
    with open(script_path, "w") as f:
        f.write(make_script(logs, header))
    return submit(script_path), script_path, logs


class ArrayJob:
    """A submitted array job of workers, as :func:`watch` asks its scheduler about it.

    ``label`` names it in messages ("job array 12"), ``outputs`` is where its tasks'
    outputs are (a pattern), ``cancelling`` the scheduler's word for it ("cancelling",
    "deleting") and ``cancelled`` the state of a task stopped that way. ``reasons``
    are the scheduler's own words for failures, once :meth:`failed_tasks` was asked.
    """

    label = "array job"
    cancelling = "cancelling"
    cancelled = "cancelled"

    def __init__(self, job: str, outputs: str) -> None:
        self.job = job
        self.outputs = outputs
        self.reasons: list[str] = []

    def __str__(self) -> str:
        return f"{self.label} {self.job}"

    def first_poll(self, poll: float) -> float:
        """Seconds from submission to the first question to the scheduler."""
        return poll

    def states(self) -> dict[str, str] | None:
        """The state of each listed task; None when the scheduler cannot tell now."""
        raise NotImplementedError

    def active(self, state: str) -> bool:
        """True while a task in ``state`` may still run (or run again)."""
        raise NotImplementedError

    def cancel(self) -> None:
        """Stop the tasks gently: running ones get a signal and give their claims back."""
        raise NotImplementedError

    def kill(self) -> None:
        """Kill the tasks at once (a second Ctrl-C)."""
        raise NotImplementedError

    def drop_pending(self, states: dict[str, str] | None) -> None:
        """The sweep is complete: drop the tasks still pending. Called when that is seen
        (``states`` None) and with every answer of the scheduler after it."""
        raise NotImplementedError

    def note(self, states: dict[str, str]) -> None:
        """Keep what an answer of the scheduler tells of the tasks' ends."""

    def failed_tasks(self) -> list[str]:
        """The tasks that failed, each as "task ID (why)", once the job is over."""
        return []


def _summary(states: dict[str, str]) -> str:
    tally: dict[str, int] = {}
    for state in states.values():
        tally[state.lower()] = tally.get(state.lower(), 0) + 1
    return ", ".join(f"{n} {state}" for state, n in sorted(tally.items())) or "none listed"


def worker_runs(xd: ExperimentDir, reference: str) -> list[Any]:
    """The runs of the workers of the launcher's run ``reference``."""
    runs, _ = xd.runs()
    return [r for r in runs if r.get("parent") == reference]


def _sweep_complete(xd: ExperimentDir, run: Any, watcher: SweepWatcher) -> bool:
    """The shared directory says the work is over: nothing left, and no worker still at it.

    A worker run must have completed (the engine may have more sweeps to make after
    this one), and none may still be running; a worker killed before it could record
    its end keeps its run "running", and the scheduler tells that case.
    """
    if watcher.work_left():
        return False
    try:
        workers = worker_runs(xd, run.reference)
    except (SweepstackError, OSError):
        return False
    statuses = {w.status for w in workers}
    return "complete" in statuses and "running" not in statuses


def watch(job: ArrayJob, xd: ExperimentDir, run: Any, progress: Progress, poll: float) -> int:
    """Follow ``job`` until every task has ended; return the exit status to use.

    0 when the work is done; 130 when interrupted (the job is cancelled); 1 when a
    worker failed or the tasks ended with work left (time limits, cancelled tasks:
    the same command continues).
    """
    watcher = SweepWatcher(xd.path)
    cancelled = killed = finishing = False
    summary = ""
    now = time.monotonic()
    wait, next_ask, next_dir = poll, now + job.first_poll(poll), now
    with CaughtSignals() as signals:
        while True:
            if signals.received and not cancelled:
                cancelled = True
                _log.warning(
                    "interrupted: %s %s; its tasks give their combinations back "
                    "(Ctrl-C again to kill them at once)",
                    job.cancelling,
                    job,
                )
                job.cancel()
                wait, next_ask = 1.0, time.monotonic() + 1.0
            if signals.received > 1 and not killed:
                killed = True
                _log.warning("killing %s", job)
                job.kill()
            now = time.monotonic()
            if now >= next_dir:
                next_dir = now + min(poll, DIR_EVERY)
                for name, counts in watcher.counts().items():
                    progress.update(name, counts)
                if not cancelled and not finishing and _sweep_complete(xd, run, watcher):
                    finishing = True
                    _log.info("the sweep is complete (read from %s)", xd.path)
                    job.drop_pending(None)
                    # the running tasks find nothing to do and end in moments: confirm soon
                    wait, next_ask = 0.5, now
            if now >= next_ask:
                states = job.states()
                changed = False
                if states is not None:
                    if finishing:
                        job.drop_pending(states)
                    job.note(states)
                    if _summary(states) != summary:
                        changed, summary = True, _summary(states)
                        _log.info("%s: %s", job, summary)
                    if not any(job.active(s) for s in states.values()):
                        break
                if finishing or cancelled:
                    wait = min(wait * 2, poll)
                elif changed:
                    wait = poll
                else:
                    wait = min(wait * 2, MAX_BACKOFF * poll)
                next_ask = now + wait
            time.sleep(min(0.2, poll))
        for name, counts in watcher.counts().items():
            progress.update(name, counts, force=True)
    if cancelled:
        return 130
    return _outcome(job, xd, run, watcher)


def _outcome(job: ArrayJob, xd: ExperimentDir, run: Any, watcher: SweepWatcher) -> int:
    failed = job.failed_tasks()
    try:
        errors = [r.reference for r in worker_runs(xd, run.reference) if r.status == "error"]
    except (SweepstackError, OSError):
        errors = []
    if failed or errors:
        _log.error(
            "%s: %s failed%s; see %s and the workers' runs %s",
            job,
            ", ".join(failed) or "a worker",
            f" ({'; '.join(job.reasons)})" if job.reasons else "",
            job.outputs,
            ", ".join(errors) or "(none recorded)",
        )
        return 1
    left = {
        name: counts["remaining"] + counts["inprogress"]
        for name, counts in watcher.counts().items()
        if counts["remaining"] or counts["inprogress"]
    }
    if left:
        _log.error(
            "%s ended with combinations left (%s): time limits or %s tasks; "
            "run the same command again to continue",
            job,
            ", ".join(f"{name}: {n}" for name, n in left.items()),
            job.cancelled,
        )
        return 1
    return 0
