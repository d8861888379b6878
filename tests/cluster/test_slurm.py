"""``--launcher slurm`` against a real one-node SLURM: job arrays, cancels, requeues, Ctrl-C.

The cluster has two CPUs here, so two tasks of an array run at once and the others
wait, as on a busy cluster. SLURM's time limit cannot be shorter than a minute and is
enforced on a 30 s tick; ``scancel`` of a running task sends the same SIGTERM (then
SIGKILL after ``KillWait``) through the same code in ``slurmstepd``, so it stands
for a time limit here.
"""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import time

import pytest

import sweepstack
from tests.cluster.conftest import REPO, Slurm

pytestmark = pytest.mark.slurm


def _launch(slurm: Slurm, path: str, marks: str, *args: str, **popen) -> subprocess.Popen:
    """The launcher: tests.engine.engines' Counting engine with --launcher slurm."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.engine.engines",
            "Counting",
            "-c",
            path,
            "--marks",
            marks,
            "--launcher",
            "slurm",
            "--no-progress",
            *args,
        ],
        cwd=REPO,
        env=slurm.env,
        text=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        **popen,
    )


def _marks(folder: str) -> collections.Counter:
    """How many times each combination's stage ran (one file per execution)."""
    if not os.path.isdir(folder):
        return collections.Counter()
    return collections.Counter(int(name.split("-")[0]) for name in os.listdir(folder))


def _wait_for(predicate, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.1)


def _runs(path: str) -> tuple[sweepstack.Run, list]:
    runs = sweepstack.open(path).runs
    launcher = [r for r in runs if r.get("role") == "launcher"]
    assert len(launcher) == 1
    return launcher[0], [r for r in runs if r.get("parent") == launcher[0].reference]


def _job(path: str) -> str:
    """The job array id, once the launcher has recorded it in its run."""
    found: list[str] = []

    def recorded() -> bool:
        try:
            launcher, _ = _runs(path)
        except (AssertionError, sweepstack.SweepstackError, OSError):
            return False
        if launcher.get("slurm_job"):
            found.append(launcher.get("slurm_job"))
        return bool(found)

    _wait_for(recorded, 30)
    return found[0]


def _running_tasks(slurm: Slurm, job: str) -> list[str]:
    out = slurm.command("squeue", "-h", "-r", "-j", job, "-t", "running", "-o", "%i")
    return out.split()


def _all_done_once(path: str, n: int) -> dict:
    records = {r["params"]["i"]: r for r in sweepstack.open(path).records()}
    assert sorted(records) == list(range(n))
    assert all(r["status"] == "done" for r in records.values())
    counts = sweepstack.ParamSweeper(os.path.join(path, "sweeps", "main"), readonly=True).counts()
    assert counts["done"] == n and counts["inprogress"] == 0
    return records


@pytest.mark.timeout(90)
def test_slurm_workers_drain_the_sweep_exactly_once(slurm, tmp_path):
    path, marks = str(tmp_path / "exp"), str(tmp_path / "marks")
    proc = _launch(slurm, path, marks, "--n", "40", "--work", "0.05", "--workers", "3")
    _, err = proc.communicate(timeout=80)
    assert proc.returncode == 0, err
    _all_done_once(path, 40)
    assert max(_marks(marks).values()) == 1
    launcher, workers = _runs(path)
    assert launcher.status == "complete"
    assert workers and all(w.status == "complete" for w in workers)
    # the job is a plain batch script kept with the experiment, and each task has its output
    script = launcher.get("slurm_script")
    with open(script) as f:
        text = f.read()
    assert "#SBATCH --array=0-2" in text and "\nexec " in text
    job = launcher.get("slurm_job")
    outputs = os.listdir(os.path.dirname(script))
    assert f"{job}_0.out" in outputs and f"{job}_1.out" in outputs


@pytest.mark.timeout(90)
def test_a_cancelled_task_gives_its_claims_back_and_the_others_finish_the_sweep(slurm, tmp_path):
    # scancel sends the SIGTERM a time limit sends: the worker gives its combination back
    path, marks = str(tmp_path / "exp"), str(tmp_path / "marks")
    proc = _launch(slurm, path, marks, "--n", "50", "--work", "0.15", "--workers", "3")
    job = _job(path)
    _wait_for(lambda: sum(_marks(marks).values()) >= 6)
    victim = _running_tasks(slurm, job)[0]
    slurm.command("scancel", victim)
    _, err = proc.communicate(timeout=80)
    assert proc.returncode == 0, err
    _all_done_once(path, 50)
    # only the combination in flight when the SIGTERM came may have run twice
    assert sum(1 for n in _marks(marks).values() if n > 1) <= 1
    _, workers = _runs(path)
    assert "interrupted" in {w.status for w in workers}
    assert "complete" in {w.status for w in workers}


@pytest.mark.timeout(90)
def test_a_requeued_task_runs_again_and_every_combination_is_done_once(slurm, tmp_path):
    path, marks = str(tmp_path / "exp"), str(tmp_path / "marks")
    proc = _launch(slurm, path, marks, "--n", "50", "--work", "0.15", "--workers", "2")
    job = _job(path)
    _wait_for(lambda: sum(_marks(marks).values()) >= 6)
    victim = _running_tasks(slurm, job)[-1]
    requeued = time.time()
    slurm.command("scontrol", "requeue", victim)
    # SLURM holds a requeued job back (BeginTime, about two minutes) so that slurmd's
    # revocation of the killed task's credential, stamped to the second, has passed:
    # start it as soon as the clock has moved past that second, not later
    _wait_for(lambda: "PENDING" in slurm.command("squeue", "-h", "-j", victim, "-o", "%T"), 30)
    _wait_for(lambda: time.time() >= int(requeued) + 2, 5)
    slurm.command("scontrol", "update", f"JobId={victim}", "StartTime=now")
    _, err = proc.communicate(timeout=80)
    assert proc.returncode == 0, err
    _all_done_once(path, 50)
    assert sum(1 for n in _marks(marks).values() if n > 1) <= 1
    launcher, workers = _runs(path)
    with open(os.path.join(os.path.dirname(launcher.get("slurm_script")), f"{victim}.out")) as f:
        assert "restart 1" in f.read()  # the same task started again and joined the sweep
    assert len(workers) == 3 and "interrupted" in {w.status for w in workers}


@pytest.mark.timeout(90)
def test_ctrl_c_to_the_launcher_cancels_the_job_array_and_gives_claims_back(slurm, tmp_path):
    path, marks = str(tmp_path / "exp"), str(tmp_path / "marks")
    proc = _launch(slurm, path, marks, "--n", "200", "--work", "0.1", "--workers", "3")
    job = _job(path)
    _wait_for(lambda: sum(_marks(marks).values()) >= 4)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    active = slurm.command("squeue", "-h", "-r", "-j", job, "-o", "%i %T", check=False)
    assert active.strip() == "", active
    launcher, workers = _runs(path)
    assert launcher.status == "interrupted"
    assert workers and {w.status for w in workers} == {"interrupted"}
    counts = sweepstack.ParamSweeper(os.path.join(path, "sweeps", "main"), readonly=True).counts()
    assert counts["inprogress"] == 0 and 0 < counts["done"] < 200


@pytest.mark.timeout(60)
def test_a_rejected_submission_is_a_launcher_error_naming_sbatchs_reason(slurm, tmp_path):
    path, marks = str(tmp_path / "exp"), str(tmp_path / "marks")
    proc = _launch(slurm, path, marks, "--workers", "2", "--slurm-options=--cpus-per-task=4096")
    _, err = proc.communicate(timeout=50)
    assert proc.returncode == 2  # a sweepstack error: one line, no traceback
    assert "error: " in err and "sbatch rejected the job array" in err and "Traceback" not in err, (
        err
    )
    launcher, _ = _runs(path)
    assert launcher.status == "error" and "sbatch rejected" in launcher.get("error")


@pytest.mark.timeout(60)
def test_without_sbatch_the_launcher_says_where_to_run_it(tmp_path):
    # a PATH with the interpreter only: no SLURM commands, whether installed or not
    env = {**os.environ, "PATH": os.path.dirname(sys.executable)}
    proc = _launch(Slurm("", env), str(tmp_path / "exp"), str(tmp_path / "marks"), "--workers", "2")
    _, err = proc.communicate(timeout=50)
    assert proc.returncode != 0
    assert "sbatch was not found on PATH" in err and "--launcher local" in err, err


@pytest.mark.timeout(90)
def test_the_plain_batch_script_example_runs_srun_tasks_that_share_one_sweep(slurm, tmp_path):
    # examples/slurm/sweep.sbatch as a user submits it, scaled to this one-node cluster
    path = str(tmp_path / "exp")
    env = {
        **slurm.env,
        "RESULT_DIR": path,
        "PYTHON": sys.executable,
        "EXPERIMENT": os.path.join(REPO, "examples", "pi_sweep.py"),
    }
    script = os.path.join(REPO, "examples", "slurm", "sweep.sbatch")
    options = ["--nodes=1", "--ntasks-per-node=2", f"--output={tmp_path / 'job-%j.out'}"]
    submitted = subprocess.run(
        ["sbatch", "--parsable", *options, f"--chdir={tmp_path}", script, "--max-n", "1000"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert submitted.returncode == 0, submitted.stderr
    job = submitted.stdout.strip().split(";")[0]
    _wait_for(lambda: not slurm.command("squeue", "-h", "-j", job, check=False).strip(), 80)
    state = slurm.command("squeue", "-h", "-j", job, "-t", "all", "-o", "%T", check=False)
    output = (tmp_path / f"job-{job}.out").read_text()
    assert state.strip() in ("COMPLETED", ""), output
    records = list(sweepstack.open(path).records())
    assert len(records) == 45 and len({r["key"] for r in records}) == 45, output
    assert all(r["status"] == "done" for r in records)
    runs = sweepstack.open(path).runs
    assert len(runs) == 2 and {r.status for r in runs} == {"complete"}  # one per srun task


def _counting_squeue(folder, env: dict) -> dict:
    """A PATH in which squeue logs each call to ``folder/calls`` before running the real one."""
    real = subprocess.run(
        ["sh", "-c", "command -v squeue"], env=env, capture_output=True, text=True
    ).stdout.strip()
    tool = folder / "squeue"
    tool.write_text(
        f'#!/bin/sh\necho "$(date +%s.%N) $*" >> {folder / "calls"}\nexec {real} "$@"\n'
    )
    tool.chmod(0o755)
    return {**env, "PATH": f"{folder}{os.pathsep}{env['PATH']}"}


def _calls(folder) -> int:
    calls = folder / "calls"
    return len(calls.read_text().splitlines()) if calls.exists() else 0


@pytest.mark.timeout(90)
def test_the_launcher_learns_the_end_from_the_directory_and_calls_squeue_rarely(slurm, tmp_path):
    # the default --slurm-poll of 30 s: a sweep of a few seconds ends without waiting for it
    tools = tmp_path / "tools"
    tools.mkdir()
    env = _counting_squeue(tools, slurm.env)
    path, marks = str(tmp_path / "exp"), str(tmp_path / "marks")
    start = time.monotonic()
    proc = _launch(
        Slurm(slurm.folder, env), path, marks, "--n", "20", "--work", "0.1", "--workers", "3"
    )
    _, err = proc.communicate(timeout=80)
    elapsed = time.monotonic() - start
    assert proc.returncode == 0, err
    _all_done_once(path, 20)
    assert elapsed < 25, elapsed
    # a confirming call or two once the directory says the sweep is complete
    assert _calls(tools) <= 4, (tools / "calls").read_text()


@pytest.mark.timeout(90)
def test_squeue_calls_back_off_while_the_tasks_states_do_not_change(slurm, tmp_path):
    # 3 tasks on 2 CPUs: 2 run and 1 waits for the whole sweep, so nothing changes
    tools = tmp_path / "tools"
    tools.mkdir()
    env = _counting_squeue(tools, slurm.env)
    path, marks = str(tmp_path / "exp"), str(tmp_path / "marks")
    proc = _launch(
        Slurm(slurm.folder, env), path, marks,
        "--n", "40", "--work", "0.4", "--workers", "3", "--slurm-poll", "1",
    )  # fmt: skip
    _, err = proc.communicate(timeout=80)
    assert proc.returncode == 0, err
    times = [float(line.split()[0]) for line in (tools / "calls").read_text().splitlines()]
    gaps = [b - a for a, b in zip(times, times[1:])]
    # 1 s, then about 2, 4, 8... while the states stay the same, never more than 8 s
    assert len(gaps) >= 3, gaps
    growing = [later >= 1.5 * earlier for earlier, later in zip(gaps, gaps[1:3])]
    assert any(growing), gaps
    assert max(gaps) < 8 + 2, gaps


@pytest.mark.timeout(60)
def test_gpus_per_worker_asks_slurm_for_gpus_per_task(slurm, tmp_path):
    # this test cluster has no GPU: SLURM refuses the array, which shows what was asked
    path, marks = str(tmp_path / "exp"), str(tmp_path / "marks")
    proc = _launch(slurm, path, marks, "--workers", "2", "--gpus-per-worker", "2")
    _, err = proc.communicate(timeout=50)
    assert proc.returncode != 0
    assert "sbatch rejected the job array" in err, err
    launcher, _ = _runs(path)
    with open(
        launcher.get("slurm_script")
        or os.path.join(path, "logs", "slurm", f"{launcher.reference}.sbatch")
    ) as f:
        assert "#SBATCH --gpus-per-task=2" in f.read()
