"""``--launcher sge``: the workers as one Grid Engine array job, submitted with ``qsub``.

For sites without SLURM. Of the other scheduler families (PBS Pro/OpenPBS and Torque,
Grid Engine, LSF, HTCondor, OAR), Grid Engine (Son of Grid Engine, Univa/Altair Grid
Engine, the Debian ``gridengine`` packages) is the one whose ``qsub -t`` array jobs
and ``qstat``/``qdel`` are shared by all its variants, and the one that installs from
Debian's packages, so that it is tested here against a real scheduler.

It works as the SLURM launcher does (see :mod:`sweepstack.engine._slurm`): a plain
job script kept in ``DIR/logs/sge/<run>.sh``, one task per worker, each running the
worker command; the end of the sweep read from the experiment directory; ``qstat``
asked rarely (``--slurm-poll``/``--poll``, backing off while nothing changes).
Tasks are submitted with ``-notify``: ``qdel`` (and Ctrl-C to the launcher, which
calls it) first sends SIGUSR2, which a worker in a Grid Engine job treats like
SIGTERM (it gives its combination back and ends as interrupted), then, after the
queue's ``notify`` time, SIGKILL.
"""

from __future__ import annotations

import logging
import os
import shlex
import shutil
import subprocess
import time
from typing import Any

from sweepstack.engine._progress import Progress
from sweepstack.engine._signals import CaughtSignals
from sweepstack.engine._slurm import (
    _DIR_EVERY,
    _MAX_BACKOFF,
    _absolute,
    _run,
    _summary,
    _sweep_complete,
    _worker_runs,
    submit_job_script,
)
from sweepstack.engine._workers import SweepWatcher
from sweepstack.errors import LauncherError, SweepstackError
from sweepstack.store import ExperimentDir

__all__ = ["job_script", "run_sge_workers"]

_log = logging.getLogger("sweepstack.engine")

"""Folder of the job scripts and task outputs, under the experiment's ``logs/``."""

_HINT = (
    "run this on a submit host of a Grid Engine cluster, where qsub and qstat work "
    "(SGE_ROOT set, e.g. by sourcing $SGE_ROOT/$SGE_CELL/common/settings.sh), or use "
    "--launcher local to run the workers here"
)


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise LauncherError("sge", f"{name} was not found on PATH", _HINT)
    return path


def job_script(
    command: list[str],
    count: int,
    logs: str,
    job_name: str,
    cwd: str,
    header: str = "",
    gpus_per_task: int | None = None,
) -> str:
    """The job script of an array of ``count`` tasks, each running ``command``.

    ``#$`` lines give the defaults; options given to ``qsub`` on its command line
    (``--sge-options``) override them. ``gpus_per_task`` asks for ``-l gpu=K``, the
    consumable that Grid Engine sites define for GPUs (its name is the site's choice:
    change it with ``--sge-options``).
    """
    lines = [
        "#!/bin/bash",
        *(f"# {line}" if line else "#" for line in header.splitlines()),
        f"#$ -N {job_name}",
        f"#$ -t 1-{count}",
        "#$ -S /bin/bash",
        # task outputs side by side, named by job and task (Grid Engine's own variables)
        f"#$ -o {os.path.join(logs, '$JOB_ID.$TASK_ID.out')}",
        "#$ -j y",
        # the submitting environment (PATH, PYTHONPATH, a virtualenv...) and folder
        "#$ -V",
        f"#$ -wd {cwd}",
        # a task whose node fails runs again and joins the sweep
        "#$ -r y",
        # qdel sends SIGUSR2 first: the worker gives its combination back
        "#$ -notify",
        *([f"#$ -l gpu={gpus_per_task}"] if gpus_per_task else []),
        "",
        'echo "sweepstack worker: task ${SGE_TASK_ID} of job ${JOB_ID} on $(hostname),'
        ' start $(date -Is)"',
        "exec " + shlex.join(command),
        "",
    ]
    return "\n".join(lines)


def _submit(qsub: str, script: str, options: str) -> str:
    try:
        extra = shlex.split(options or "")
    except ValueError as err:
        raise LauncherError(
            "sge", f"--sge-options {options!r} cannot be parsed: {err}", "quote it as a shell would"
        ) from None
    try:
        done = _run([qsub, "-terse", *extra, script], timeout=120)
    except subprocess.TimeoutExpired:
        raise LauncherError(
            "sge", "qsub did not answer within 120 s", "check that the qmaster is up (qstat -f)"
        ) from None
    if done.returncode != 0:
        message = " ".join(done.stderr.split()) or f"exit status {done.returncode}"
        raise LauncherError(
            "sge",
            f"qsub rejected the array job: {message}",
            f"check --sge-options {options!r}" if options else "check the job script " + script,
        )
    # -terse prints "12.1-4:1" for an array job
    job = done.stdout.strip().split(".")[0]
    if not job.isdigit():
        raise LauncherError("sge", f"qsub answered {done.stdout.strip()!r}, not a job id")
    return job


def _task_states(qstat: str, job: str) -> dict[str, str] | None:
    """State of each listed task ("12.3" -> "r", "qw", "Eqw"...); None if unknown now.

    ``-g d`` lists the tasks of an array one per line; without ``-u`` only this user's
    jobs are listed, which keeps the answer small on a busy cluster. Ended tasks are
    not listed.
    """
    try:
        done = _run([qstat, "-g", "d"], timeout=60)
    except subprocess.TimeoutExpired:
        return None
    if done.returncode != 0:
        _log.warning("qstat failed (%s); trying again", " ".join(done.stderr.split()))
        return None
    states = {}
    for line in done.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 5 and parts[0] == job:
            task = parts[-1] if parts[-1].isdigit() else "?"
            states[f"{job}.{task}"] = parts[4]
    return states


def run_sge_workers(
    command: list[str],
    count: int,
    xd: ExperimentDir,
    run: Any,
    progress: Progress,
    sge_options: str = "",
    poll: float = 30.0,
    gpus_per_task: int | None = None,
) -> int:
    """Run ``count`` workers of ``command`` as a Grid Engine array job; the exit status to use.

    0 when the work is done; 130 when interrupted (Ctrl-C or SIGTERM: the job is
    deleted); 1 when a worker failed, a task is in an error state, or the tasks ended
    with work left.

    Raises:
        LauncherError: ``qsub`` or ``qstat`` is missing, or the submission was rejected
            (the launcher's run is then marked as an error).
    """
    try:
        qsub, qstat, qdel = _tool("qsub"), _tool("qstat"), _tool("qdel")
        job, script_path, logs = submit_job_script(
            xd,
            run,
            count,
            "sge",
            ".sh",
            "qsub",
            lambda logs, header: job_script(
                _absolute(command), count, logs, run.name, os.getcwd(), header, gpus_per_task
            ),
            lambda path: _submit(qsub, path, sge_options),
        )
    except LauncherError as err:
        run.finish("error", error=str(err))
        raise
    run.update(sge_job=job, sge_script=script_path)
    _log.info("submitted array job %s (%d tasks); outputs in %s", job, count, logs)
    watcher = SweepWatcher(xd.path)
    errored: set[str] = set()
    cancelled = killed = finishing = False
    summary = ""
    now = time.monotonic()
    wait, next_qstat, next_dir = poll, now + min(poll, 2.0), now
    with CaughtSignals() as signals:
        while True:
            if signals.received and not cancelled:
                cancelled = True
                _log.warning(
                    "interrupted: deleting array job %s; its tasks give their combinations "
                    "back (Ctrl-C again to kill them at once)",
                    job,
                )
                _run([qdel, job])
                wait, next_qstat = 1.0, time.monotonic() + 1.0
            if signals.received > 1 and not killed:
                killed = True
                _run([qdel, "-f", job])
            now = time.monotonic()
            if now >= next_dir:
                next_dir = now + min(poll, _DIR_EVERY)
                for name, counts in watcher.counts().items():
                    progress.update(name, counts)
                if not cancelled and not finishing and _sweep_complete(xd, run, watcher):
                    finishing = True
                    _log.info("the sweep is complete (read from %s)", xd.path)
                    wait, next_qstat = 0.5, now
            if now >= next_qstat:
                states = _task_states(qstat, job)
                changed = False
                if states is not None:
                    if finishing:
                        # pending tasks would only find nothing to do
                        pending = [t for t, s in states.items() if "q" in s and "E" not in s]
                        if pending:
                            _run([qdel, *pending])
                    errored |= {t for t, s in states.items() if "E" in s}
                    if _summary(states) != summary:
                        changed, summary = True, _summary(states)
                        _log.info("array job %s: %s", job, summary)
                    if not any("E" not in s for s in states.values()):
                        break
                if finishing or cancelled:
                    wait = min(wait * 2, poll)
                elif changed:
                    wait = poll
                else:
                    wait = min(wait * 2, _MAX_BACKOFF * poll)
                next_qstat = now + wait
            time.sleep(min(0.2, poll))
        for name, counts in watcher.counts().items():
            progress.update(name, counts, force=True)
    reasons: list[str] = []
    if errored:
        reasons = _error_reasons(qstat, job)
        _run([qdel, *sorted(errored)])  # a task in error waits for ever; nothing will clear it
    if cancelled:
        return 130
    return _outcome(job, errored, reasons, xd, run, watcher, logs)


def _error_reasons(qstat: str, job: str) -> list[str]:
    """Grid Engine's own words for tasks in an error state (``qstat -j``'s error reasons)."""
    try:
        done = _run([qstat, "-j", job], timeout=60)
    except subprocess.TimeoutExpired:
        return []
    reasons = []
    for line in done.stdout.splitlines():
        if line.startswith("error reason"):
            text = line.split(":", 1)[-1].strip()
            # "12/02/2026 06:09:03 [0:16711]: error: can't chdir to ...": keep the message
            reasons.append(text.split("]: ", 1)[-1])
    return sorted(set(reasons))


def _outcome(
    job: str,
    errored: set[str],
    reasons: list[str],
    xd: ExperimentDir,
    run: Any,
    watcher: SweepWatcher,
    logs: str,
) -> int:
    try:
        errors = [r.reference for r in _worker_runs(xd, run.reference) if r.status == "error"]
    except (SweepstackError, OSError):
        errors = []
    if errored or errors:
        _log.error(
            "array job %s: %s failed%s; see %s and the workers' runs %s",
            job,
            ", ".join(f"task {t} (error state)" for t in sorted(errored)) or "a worker",
            f" ({'; '.join(reasons)})" if reasons else "",
            os.path.join(logs, f"{job}.<task>.out"),
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
            "array job %s ended with combinations left (%s): time limits or deleted tasks; "
            "run the same command again to continue",
            job,
            ", ".join(f"{name}: {n}" for name, n in left.items()),
        )
        return 1
    return 0
