"""``--launcher sge`` against a real one-node Grid Engine: array jobs, qdel, rejections.

The cluster is the one ``.ci/setup.d/40-gridengine.sh`` sets up (Debian's gridengine:
this host as qmaster and execution host, one slot per core, a 1 s scheduler tick).
Grid Engine's configuration is global to the machine, so the daemons are shared by
the tests, not started per session. Without root or the packages the tests skip.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

import sweepstack
from tests.cluster.conftest import REPO

pytestmark = pytest.mark.sge

SETUP = os.path.join(REPO, ".ci", "setup.d", "40-gridengine.sh")


def _qstat_works() -> bool:
    try:
        done = subprocess.run(["qstat", "-f"], capture_output=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


@pytest.fixture(scope="module")
def sge() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to run the Grid Engine daemons and jobs as root")
    if shutil.which("qsub") is None or not os.path.exists("/usr/sbin/sge_qmaster"):
        pytest.skip("Grid Engine is not installed: run .ci/setup.d/40-gridengine.sh")
    if not _qstat_works():
        # installed but not running (a new session on this machine): start it
        subprocess.run(["bash", SETUP], capture_output=True, timeout=180)
    if not _qstat_works():
        pytest.skip("the Grid Engine qmaster does not answer: run .ci/setup.d/40-gridengine.sh")


def _launch(path: str, marks: str, *args: str, env: dict | None = None) -> subprocess.Popen:
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
            "sge",
            "--no-progress",
            *args,
        ],
        cwd=REPO,
        env={**(env or os.environ), "PYTHONPATH": REPO},
        text=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _runs(path: str):
    runs = sweepstack.open(path).runs
    launcher = [r for r in runs if r.get("role") == "launcher"]
    assert len(launcher) == 1
    return launcher[0], [r for r in runs if r.get("parent") == launcher[0].reference]


def _marks(folder: str) -> int:
    return len(os.listdir(folder)) if os.path.isdir(folder) else 0


def _listed(job: str) -> str:
    out = subprocess.run(["qstat", "-u", "*", "-g", "d"], capture_output=True, text=True).stdout
    return "\n".join(line for line in out.splitlines() if line.split()[:1] == [job])


@pytest.mark.timeout(90)
def test_sge_workers_drain_the_sweep_exactly_once_with_few_qstat_calls(sge, tmp_path):
    tools = tmp_path / "tools"
    tools.mkdir()
    real = shutil.which("qstat")
    (tools / "qstat").write_text(f'#!/bin/sh\necho "$@" >> {tools / "calls"}\nexec {real} "$@"\n')
    (tools / "qstat").chmod(0o755)
    env = {**os.environ, "PATH": f"{tools}{os.pathsep}{os.environ['PATH']}"}
    path, marks = str(tmp_path / "exp"), str(tmp_path / "marks")
    start = time.monotonic()
    proc = _launch(path, marks, "--n", "30", "--work", "0.05", "--workers", "3", env=env)
    _, err = proc.communicate(timeout=80)
    assert proc.returncode == 0, err
    assert time.monotonic() - start < 25  # not the 30 s of the default --poll
    records = {r["params"]["i"]: r for r in sweepstack.open(path).records()}
    assert sorted(records) == list(range(30))
    assert all(r["status"] == "done" for r in records.values())
    names = os.listdir(marks)
    assert len(names) == 30 and len({n.split("-")[0] for n in names}) == 30  # each ran once
    launcher, workers = _runs(path)
    assert launcher.status == "complete"
    assert workers and all(w.status == "complete" for w in workers)
    with open(launcher.get("sge_script")) as f:
        script = f.read()
    assert "#$ -t 1-3" in script and "#$ -notify" in script and "\nexec " in script
    job = launcher.get("sge_job")
    assert f"{job}.1.out" in os.listdir(os.path.dirname(launcher.get("sge_script")))
    assert len((tools / "calls").read_text().splitlines()) <= 4
    assert _listed(job) == ""


@pytest.mark.timeout(90)
def test_ctrl_c_to_the_launcher_deletes_the_array_job_and_gives_claims_back(sge, tmp_path):
    path, marks = str(tmp_path / "exp"), str(tmp_path / "marks")
    proc = _launch(path, marks, "--n", "200", "--work", "0.1", "--workers", "2", "--poll", "2")
    deadline = time.monotonic() + 60
    while _marks(marks) < 4:
        assert time.monotonic() < deadline, "no combination ran"
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    launcher, workers = _runs(path)
    assert _listed(launcher.get("sge_job")) == ""
    assert launcher.status == "interrupted"
    # qdel's SIGUSR2 (-notify) reached the workers: they gave their combinations back
    assert workers and {w.status for w in workers} == {"interrupted"}
    counts = sweepstack.ParamSweeper(os.path.join(path, "sweeps", "main"), readonly=True).counts()
    assert counts["inprogress"] == 0 and 0 < counts["done"] < 200


@pytest.mark.timeout(60)
def test_a_rejected_submission_is_a_launcher_error_naming_qsubs_reason(sge, tmp_path):
    path, marks = str(tmp_path / "exp"), str(tmp_path / "marks")
    proc = _launch(path, marks, "--workers", "2", "--gpus-per-worker", "2")
    _, err = proc.communicate(timeout=50)
    assert proc.returncode == 2  # a sweepstack error: one line, no traceback
    assert "error: " in err and "qsub rejected the array job" in err and "Traceback" not in err, err
    launcher, _ = _runs(path)
    assert launcher.status == "error"
    script = os.path.join(path, "logs", "sge", f"{launcher.reference}.sh")
    with open(script) as f:
        assert "#$ -l gpu=2" in f.read()  # no such resource on this test cluster


@pytest.mark.timeout(30)
def test_without_qsub_the_launcher_says_where_to_run_it(tmp_path):
    env = {**os.environ, "PATH": os.path.dirname(sys.executable)}
    proc = _launch(str(tmp_path / "exp"), str(tmp_path / "marks"), "--workers", "2", env=env)
    _, err = proc.communicate(timeout=25)
    assert proc.returncode != 0
    assert "qsub was not found on PATH" in err and "--launcher local" in err, err


@pytest.mark.timeout(60)
def test_tasks_in_an_error_state_fail_the_launch_with_grid_engines_reason(sge, tmp_path):
    # a working folder that does not exist on the node: Grid Engine holds the tasks in Eqw
    path, marks = str(tmp_path / "exp"), str(tmp_path / "marks")
    proc = _launch(path, marks, "--workers", "2", "--poll", "2", "--sge-options=-wd /nonexistent")
    _, err = proc.communicate(timeout=50)
    assert proc.returncode == 1, err
    assert "(error state)" in err and "can't chdir to /nonexistent" in err, err
    launcher, _ = _runs(path)
    assert launcher.status == "error"
    assert _listed(launcher.get("sge_job")) == ""  # deleted, not left waiting for ever
