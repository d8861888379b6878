"""``--launcher slurm``: the workers as one SLURM job array, submitted with ``sbatch``.

Each array task runs the same worker command a local worker runs (the engine with
``-c DIR --worker-of REF``); the tasks share the experiment through its sweepers, so
tasks may start late, be cancelled, hit their time limit or be requeued: the
sweepers hand every combination out until it is done, once.

Why ``sbatch`` with a plain batch script, and not submitit: the worker is already a
command line, so nothing needs pickling. The script is written to
``DIR/logs/slurm/<run>.sbatch`` before it is submitted; it is the whole job, which a
user can read, submit again by hand (``sbatch DIR/logs/slurm/<run>.sbatch``) or
adapt, and each task's output goes to a plain ``DIR/logs/slurm/<job>_<task>.out``. A
worker needs nothing but sweepstack and the experiment script on the nodes, not the
exact pickled callable and submitit's own job folder, and no ``sacct``: the state of
the tasks comes from ``squeue``, the outcome from the experiment's own runs.

While the jobs run, this process shows the combined progress of every sweeper
(read-only, as ``sweepstack status`` does), learns that the sweep is complete from the
experiment directory (the sweepers and the workers' runs), and calls ``squeue`` rarely:
every ``--slurm-poll`` seconds (30 by default), backing off to 8 times that while
nothing changes, since sites throttle tools that poll the controller. Ctrl-C or SIGTERM
cancels the array (``scancel``: running tasks get SIGTERM, give their combinations
back and end as interrupted) and waits for the tasks to end; a second Ctrl-C kills
them (SIGKILL; their claims come back when their leases expire).
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

__all__ = ["batch_script", "run_slurm_workers"]

_log = logging.getLogger("sweepstack.engine")

"""Folder of the batch scripts and task outputs, under the experiment's ``logs/``."""

_ACTIVE = frozenset(
    {
        "PENDING",
        "CONFIGURING",
        "RUNNING",
        "COMPLETING",
        "SUSPENDED",
        "REQUEUED",
        "REQUEUE_FED",
        "REQUEUE_HOLD",
        "RESIZING",
        "SIGNALING",
        "STAGE_OUT",
        "STOPPED",
        "RESV_DEL_HOLD",
    }
)
"""Task states in which a task may still run (or run again)."""

_FAILED = frozenset({"FAILED", "NODE_FAIL", "BOOT_FAIL", "OUT_OF_MEMORY", "DEADLINE"})
"""End states that mean a worker failed (not merely stopped: CANCELLED, TIMEOUT, PREEMPTED)."""

_DIR_EVERY = 2.0
"""Seconds between two reads of the experiment directory (progress, the end of the sweep)."""

_MAX_BACKOFF = 8
"""squeue is called at most every ``_MAX_BACKOFF * poll`` seconds while nothing changes."""

_SLURM_HINT = (
    "run this on a host of a SLURM cluster (a login node) where sbatch and squeue work, "
    "or use --launcher local to run the workers here"
)


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


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise LauncherError("slurm", f"{name} was not found on PATH", _SLURM_HINT)
    return path


def _absolute(command: list[str]) -> list[str]:
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


def batch_script(
    command: list[str],
    count: int,
    logs: str,
    job_name: str,
    cwd: str,
    header: str = "",
    gpus_per_task: int | None = None,
) -> str:
    """The batch script of an array of ``count`` tasks, each running ``command``.

    ``#SBATCH`` lines give the defaults; options given to ``sbatch`` on its command
    line (``--slurm-options``) override them. ``gpus_per_task`` asks SLURM for that
    many GPUs per task; SLURM then sets each task's ``CUDA_VISIBLE_DEVICES``.
    """
    lines = [
        "#!/bin/bash",
        *(f"# {line}" if line else "#" for line in header.splitlines()),
        f"#SBATCH --job-name={job_name}",
        f"#SBATCH --array=0-{count - 1}",
        "#SBATCH --ntasks=1",
        *([f"#SBATCH --gpus-per-task={gpus_per_task}"] if gpus_per_task else []),
        f"#SBATCH --output={os.path.join(logs, '%A_%a.out')}",
        # a requeued task (node failure, preemption, scontrol requeue) starts again and
        # joins the sweep; its output is appended to, not truncated
        "#SBATCH --open-mode=append",
        "#SBATCH --requeue",
        # the submitting environment (PATH, PYTHONPATH, a virtualenv, SLURM_CONF...) and
        # folder: relative paths among the experiment's own options keep their meaning
        "#SBATCH --export=ALL",
        f"#SBATCH --chdir={cwd}",
        "",
        'echo "sweepstack worker: task ${SLURM_ARRAY_TASK_ID} of job ${SLURM_ARRAY_JOB_ID}'
        ' on $(hostname), start $(date -Is), restart ${SLURM_RESTART_COUNT:-0}"',
        # exec: the worker itself receives SLURM's SIGTERM (time limit, scancel, requeue),
        # gives its combination back and exits 130 within SLURM's KillWait
        "exec " + shlex.join(command),
        "",
    ]
    return "\n".join(lines)


def _run(args: list[str], timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    # own session: a Ctrl-C on the terminal reaches this process only, not squeue/scancel
    return subprocess.run(
        args, capture_output=True, text=True, timeout=timeout, start_new_session=True
    )


def _submit(sbatch: str, script: str, options: str) -> str:
    try:
        extra = shlex.split(options or "")
    except ValueError as err:
        raise LauncherError(
            "slurm",
            f"--slurm-options {options!r} cannot be parsed: {err}",
            "quote it as a shell would",
        ) from None
    try:
        done = _run([sbatch, "--parsable", *extra, script], timeout=120)
    except subprocess.TimeoutExpired:
        raise LauncherError(
            "slurm",
            "sbatch did not answer within 120 s",
            "check that the SLURM controller is up (sinfo)",
        ) from None
    if done.returncode != 0:
        message = " ".join(done.stderr.split()) or f"exit status {done.returncode}"
        raise LauncherError(
            "slurm",
            f"sbatch rejected the job array: {message}",
            f"check --slurm-options {options!r}" if options else "check the batch script " + script,
        )
    job = done.stdout.strip().split(";")[0]
    if not job.isdigit():
        raise LauncherError("slurm", f"sbatch answered {done.stdout.strip()!r}, not a job id")
    return job


def _task_states(squeue: str, job: str) -> dict[str, str] | None:
    """State of each task ("12_3" -> "RUNNING"); {} once the job is gone, None if unknown now.

    ``-r`` lists pending tasks one by one (not as "12_[2-5]"); ``-t all`` keeps ended
    tasks listed for a while (``MinJobAge``), so their end states are seen.
    """
    try:
        done = _run([squeue, "-h", "-r", "-j", job, "-t", "all", "-o", "%i %T"], timeout=60)
    except subprocess.TimeoutExpired:
        return None
    if done.returncode != 0:
        if "invalid job id" in done.stderr.lower():
            return {}  # purged by the controller: every task ended a while ago
        _log.warning("squeue failed (%s); trying again", " ".join(done.stderr.split()))
        return None
    states = {}
    for line in done.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 2:
            states[parts[0]] = parts[1].rstrip("+")
    return states


def _summary(states: dict[str, str]) -> str:
    tally: dict[str, int] = {}
    for state in states.values():
        tally[state.lower()] = tally.get(state.lower(), 0) + 1
    return ", ".join(f"{n} {state}" for state, n in sorted(tally.items())) or "none listed"


def _worker_runs(xd: ExperimentDir, reference: str) -> list[Any]:
    runs, _ = xd.runs()
    return [r for r in runs if r.get("parent") == reference]


def run_slurm_workers(
    command: list[str],
    count: int,
    xd: ExperimentDir,
    run: Any,
    progress: Progress,
    slurm_options: str = "",
    poll: float = 30.0,
    gpus_per_task: int | None = None,
) -> int:
    """Run ``count`` workers of ``command`` as a SLURM job array; return the exit status to use.

    Returns when every task has ended: 0 when the work is done; 130 when interrupted
    (Ctrl-C or SIGTERM: the array is cancelled); 1 when a worker failed or the tasks
    ended with work left (time limits: continue with the same command). Once the
    experiment directory shows the sweep complete (nothing to do, a worker run
    complete, none running), tasks still pending are cancelled, since they would only
    find nothing to do, and squeue is asked until the running ones have ended.

    Args:
        command: the worker command (the engine with ``-c DIR --worker-of REF``).
        count: the number of array tasks.
        xd: the experiment.
        run: the launcher's run (the job id and script are recorded in it).
        progress: the progress display.
        slurm_options: extra ``sbatch`` options, e.g. ``"--time=1:00:00 -p short"``.
        poll: seconds between two ``squeue`` calls while the states change (``--slurm-poll``),
            doubled while they do not, up to 8 times. The end of the sweep is read from
            the experiment directory every 2 s (or ``poll`` if shorter).
        gpus_per_task: GPUs for each task (``--gpus-per-worker``): ``--gpus-per-task``.

    Raises:
        LauncherError: ``sbatch`` or ``squeue`` is missing, or the submission was
            rejected (the launcher's run is then marked as an error).
    """
    try:
        sbatch, squeue, scancel = _tool("sbatch"), _tool("squeue"), _tool("scancel")
        job, script_path, logs = submit_job_script(
            xd,
            run,
            count,
            "slurm",
            ".sbatch",
            "sbatch",
            lambda logs, header: batch_script(
                _absolute(command), count, logs, run.name, os.getcwd(), header, gpus_per_task
            ),
            lambda path: _submit(sbatch, path, slurm_options),
        )
    except LauncherError as err:
        run.finish("error", error=str(err))
        raise
    run.update(slurm_job=job, slurm_script=script_path)
    _log.info(
        "submitted job array %s (%d tasks); outputs in %s",
        job,
        count,
        os.path.join(logs, f"{job}_<task>.out"),
    )
    watcher = SweepWatcher(xd.path)
    states: dict[str, str] = {}
    seen_end: dict[str, str] = {}
    cancelled = killed = finishing = False
    summary = ""
    now = time.monotonic()
    # The experiment directory is read often (a few small files, no load on the
    # controller); squeue, which sites throttle, rarely: every `poll` seconds, doubled
    # while nothing changes, up to 8 * poll. It only matters when the directory cannot
    # tell (a task killed before it recorded its end) and to see tasks end.
    squeue_wait = poll
    next_squeue = now + poll
    next_dir = now
    with CaughtSignals() as signals:
        while True:
            if signals.received and not cancelled:
                cancelled = True
                _log.warning(
                    "interrupted: cancelling job array %s; its tasks give their combinations "
                    "back (Ctrl-C again to kill them at once)",
                    job,
                )
                _run([scancel, job])
                squeue_wait, next_squeue = 1.0, time.monotonic() + 1.0
            if signals.received > 1 and not killed:
                killed = True
                _log.warning("killing job array %s", job)
                _run([scancel, "--signal=KILL", "--full", job])
            now = time.monotonic()
            if now >= next_dir:
                next_dir = now + min(poll, _DIR_EVERY)
                for name, counts in watcher.counts().items():
                    progress.update(name, counts)
                if not cancelled and not finishing and _sweep_complete(xd, run, watcher):
                    finishing = True
                    _log.info(
                        "the sweep is complete (read from %s): cancelling the tasks of job %s "
                        "still pending",
                        xd.path,
                        job,
                    )
                    _run([scancel, "--state=PENDING", job])
                    # the running tasks find nothing to do and end in moments: confirm soon
                    squeue_wait, next_squeue = 0.5, now
            if now >= next_squeue:
                latest = _task_states(squeue, job)
                changed = False
                if latest is not None:
                    states = latest
                    for task, state in states.items():
                        if state not in _ACTIVE:
                            seen_end[task] = state
                    if _summary(states) != summary:
                        changed = True
                        summary = _summary(states)
                        _log.info("job array %s: %s", job, summary)
                    if not any(s in _ACTIVE for s in states.values()):
                        break
                if finishing or cancelled:
                    squeue_wait = min(squeue_wait * 2, poll)
                elif changed:
                    squeue_wait = poll
                else:
                    squeue_wait = min(squeue_wait * 2, _MAX_BACKOFF * poll)
                next_squeue = now + squeue_wait
            time.sleep(min(0.2, poll))
        for name, counts in watcher.counts().items():
            progress.update(name, counts, force=True)
    if cancelled:
        return 130
    return _outcome(job, seen_end, xd, run, watcher, logs)


def _sweep_complete(xd: ExperimentDir, run: Any, watcher: SweepWatcher) -> bool:
    """The shared directory says the work is over: nothing left, and no worker still at it.

    A worker run must have completed (the engine may have more sweeps to make after
    this one), and none may still be running; a worker killed before it could record
    its end keeps its run "running", and squeue tells that case.
    """
    if watcher.work_left():
        return False
    try:
        workers = _worker_runs(xd, run.reference)
    except (SweepstackError, OSError):
        return False
    statuses = {w.status for w in workers}
    return "complete" in statuses and "running" not in statuses


def _outcome(
    job: str,
    ended: dict[str, str],
    xd: ExperimentDir,
    run: Any,
    watcher: SweepWatcher,
    logs: str,
) -> int:
    failed = sorted(t for t, s in ended.items() if s in _FAILED)
    try:
        errors = [r.reference for r in _worker_runs(xd, run.reference) if r.status == "error"]
    except (SweepstackError, OSError):
        errors = []
    if failed or errors:
        _log.error(
            "job array %s: %s failed; see %s and the workers' runs %s",
            job,
            ", ".join(f"task {t} ({ended[t].lower()})" for t in failed) or "a worker",
            os.path.join(logs, f"{job}_<task>.out"),
            ", ".join(errors) or "",
        )
        return 1
    left = {
        name: counts["remaining"] + counts["inprogress"]
        for name, counts in watcher.counts().items()
        if counts["remaining"] or counts["inprogress"]
    }
    if left:
        _log.error(
            "job array %s ended with combinations left (%s): time limits or cancelled "
            "tasks; run the same command again to continue",
            job,
            ", ".join(f"{name}: {n}" for name, n in left.items()),
        )
        return 1
    return 0
