"""``--launcher sge``: the workers as one Grid Engine array job, submitted with ``qsub``.

For sites without SLURM. Of the other scheduler families (PBS Pro/OpenPBS and Torque,
Grid Engine, LSF, HTCondor, OAR), Grid Engine (Son of Grid Engine, Univa/Altair Grid
Engine, the Debian ``gridengine`` packages) is the one whose ``qsub -t`` array jobs
and ``qstat``/``qdel`` are shared by all its variants, and the one that installs from
Debian's packages, so that it is tested here against a real scheduler.

It works as the SLURM launcher does (both are followed by
:func:`sweepstack.engine._array_job.watch`): a plain
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

__all__ = ["job_script", "run_sge_workers"]

_log = logging.getLogger("sweepstack.engine")

_HINT = (
    "run this on a submit host of a Grid Engine cluster, where qsub and qstat work "
    "(SGE_ROOT set, e.g. by sourcing $SGE_ROOT/$SGE_CELL/common/settings.sh), or use "
    "--launcher local to run the workers here"
)


def _tool(name: str) -> str:
    return find_tool("sge", name, _HINT)


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
    # -terse prints "12.1-4:1" for an array job
    return submit(
        "sge",
        [qsub, "-terse"],
        script,
        options,
        option="--sge-options",
        what="array job",
        unreachable="check that the qmaster is up (qstat -f)",
        job_of=lambda out: out.split(".")[0],
    )


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
                absolute_command(command), count, logs, run.name, os.getcwd(), header, gpus_per_task
            ),
            lambda path: _submit(qsub, path, sge_options),
        )
    except LauncherError as err:
        run.finish("error", error=str(err))
        raise
    run.update(sge_job=job, sge_script=script_path)
    _log.info("submitted array job %s (%d tasks); outputs in %s", job, count, logs)
    outputs = os.path.join(logs, f"{job}.<task>.out")
    return watch(_SgeArray(job, outputs, qstat, qdel), xd, run, progress, poll)


class _SgeArray(ArrayJob):
    """A Grid Engine array job, as the watch loop asks about it (qstat, qdel).

    qstat lists the tasks that have not ended; a task in an error state ("Eqw") waits
    for ever, so it counts as ended (failed) and is deleted once the others are over.
    """

    cancelling = "deleting"
    cancelled = "deleted"

    def __init__(self, job: str, outputs: str, qstat: str, qdel: str) -> None:
        super().__init__(job, outputs)
        self._qstat, self._qdel = qstat, qdel
        self._errored: set[str] = set()

    def first_poll(self, poll: float) -> float:
        return min(poll, 2.0)

    def states(self) -> dict[str, str] | None:
        return _task_states(self._qstat, self.job)

    def active(self, state: str) -> bool:
        return "E" not in state

    def cancel(self) -> None:
        _run([self._qdel, self.job])

    def kill(self) -> None:
        _run([self._qdel, "-f", self.job])

    def drop_pending(self, states: dict[str, str] | None) -> None:
        # pending tasks would only find nothing to do
        pending = [t for t, s in (states or {}).items() if "q" in s and "E" not in s]
        if pending:
            _run([self._qdel, *pending])

    def note(self, states: dict[str, str]) -> None:
        self._errored |= {t for t, s in states.items() if "E" in s}

    def failed_tasks(self) -> list[str]:
        """The tasks in an error state; also reads Grid Engine's reasons for them (into
        ``reasons``) and deletes them, since nothing else would ever clear them."""
        if not self._errored:
            return []
        self.reasons = _error_reasons(self._qstat, self.job)
        _run([self._qdel, *sorted(self._errored)])  # nothing else would ever clear them
        return [f"task {t} (error state)" for t in sorted(self._errored)]


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
