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
import subprocess
from typing import Any

from sweepstack.engine._array_job import (
    ArrayJob,
    absolute_command,
    find_tool,
    submit,
    submit_job_script,
    watch,
)
from sweepstack.engine._array_job import (
    run_tool as _run,
)
from sweepstack.engine._progress import Progress
from sweepstack.errors import LauncherError
from sweepstack.store import ExperimentDir

__all__ = ["batch_script", "run_slurm_workers"]

_log = logging.getLogger("sweepstack.engine")

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

_SLURM_HINT = (
    "run this on a host of a SLURM cluster (a login node) where sbatch and squeue work, "
    "or use --launcher local to run the workers here"
)


def _tool(name: str) -> str:
    return find_tool("slurm", name, _SLURM_HINT)


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


def _submit(sbatch: str, script: str, options: str) -> str:
    # --parsable prints "12" or "12;cluster"
    return submit(
        "slurm",
        [sbatch, "--parsable"],
        script,
        options,
        option="--slurm-options",
        what="job array",
        unreachable="check that the SLURM controller is up (sinfo)",
        job_of=lambda out: out.split(";")[0],
    )


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
                absolute_command(command), count, logs, run.name, os.getcwd(), header, gpus_per_task
            ),
            lambda path: _submit(sbatch, path, slurm_options),
        )
    except LauncherError as err:
        run.finish("error", error=str(err))
        raise
    run.update(slurm_job=job, slurm_script=script_path)
    outputs = os.path.join(logs, f"{job}_<task>.out")
    _log.info("submitted job array %s (%d tasks); outputs in %s", job, count, outputs)
    return watch(_SlurmArray(job, outputs, squeue, scancel), xd, run, progress, poll)


class _SlurmArray(ArrayJob):
    """A SLURM job array, as the watch loop asks about it (squeue, scancel)."""

    label = "job array"

    def __init__(self, job: str, outputs: str, squeue: str, scancel: str) -> None:
        super().__init__(job, outputs)
        self._squeue, self._scancel = squeue, scancel
        self._ended: dict[str, str] = {}  # task -> its end state, as squeue last showed it
        self._dropped = False

    def states(self) -> dict[str, str] | None:
        return _task_states(self._squeue, self.job)

    def active(self, state: str) -> bool:
        return state in _ACTIVE

    def cancel(self) -> None:
        _run([self._scancel, self.job])

    def kill(self) -> None:
        _run([self._scancel, "--signal=KILL", "--full", self.job])

    def drop_pending(self, states: dict[str, str] | None) -> None:
        if not self._dropped:  # one scancel of the pending ones is enough
            self._dropped = True
            _log.info("cancelling the tasks of job %s still pending", self.job)
            _run([self._scancel, "--state=PENDING", self.job])

    def note(self, states: dict[str, str]) -> None:
        self._ended.update((t, s) for t, s in states.items() if s not in _ACTIVE)

    def failed_tasks(self) -> list[str]:
        return [f"task {t} ({s.lower()})" for t, s in sorted(self._ended.items()) if s in _FAILED]
