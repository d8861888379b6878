"""``--gpus-per-worker K``: each local worker sees its own K devices, or the launch is refused."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import sweepstack
from sweepstack.engine._gpus import split_devices, visible_devices
from sweepstack.errors import GpuAllocationError

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _engine(path: str, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.engine.engines",
            "Devices",
            "-c",
            path,
            "--no-progress",
            *args,
        ],
        cwd=REPO,
        env={**env, "PYTHONPATH": REPO},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.timeout(120)
def test_each_local_worker_gets_its_own_slice_of_the_visible_devices(tmp_path):
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "0,1,2,3,4"}
    path = str(tmp_path / "exp")
    done = _engine(path, "--n", "30", "--workers", "2", "--gpus-per-worker", "2", env=env)
    assert done.returncode == 0, done.stderr
    by_worker: dict[int, set[str]] = {}
    for r in sweepstack.open(path).results():
        by_worker.setdefault(r["pid"], set()).add(r["cuda"])
    assert all(len(seen) == 1 for seen in by_worker.values()), by_worker
    given = {next(iter(seen)) for seen in by_worker.values()}
    assert given <= {"0,1", "2,3"} and len(given) == len(by_worker)  # never the same twice


@pytest.mark.timeout(60)
def test_one_process_takes_the_first_k_devices(tmp_path):
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "GPU-aa,GPU-bb,GPU-cc"}
    path = str(tmp_path / "exp")
    done = _engine(path, "--n", "2", "--gpus-per-worker", "2", env=env)
    assert done.returncode == 0, done.stderr
    assert {r["cuda"] for r in sweepstack.open(path).results()} == {"GPU-aa,GPU-bb"}


@pytest.mark.timeout(60)
def test_too_few_devices_is_refused_before_anything_runs(tmp_path):
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "0,1,2,3"}
    path = str(tmp_path / "exp")
    done = _engine(path, "--n", "4", "--workers", "3", "--gpus-per-worker", "2", env=env)
    assert done.returncode != 0
    assert done.returncode == 2 and "error: --gpus-per-worker 2 for 3 worker(s)" in done.stderr, (
        done.stderr
    )
    assert "Traceback" not in done.stderr
    assert "needs 6 GPU(s), and 4 are visible (CUDA_VISIBLE_DEVICES=0,1,2,3)" in done.stderr
    assert not os.path.exists(os.path.join(path, "runs")) or not os.listdir(
        os.path.join(path, "runs")
    )


def test_a_negative_index_hides_the_devices_after_it_as_cuda_does():
    assert visible_devices({"CUDA_VISIBLE_DEVICES": "1,-1,2"})[0] == ["1"]
    assert visible_devices({"CUDA_VISIBLE_DEVICES": ""})[0] == []


def test_without_cuda_visible_devices_nvidia_smi_lists_them(tmp_path):
    # nvidia-smi does not run on this machine: a script answering as `nvidia-smi -L` does
    tool = tmp_path / "nvidia-smi"
    tool.write_text(
        "#!/bin/sh\necho 'GPU 0: NVIDIA A100 (UUID: GPU-1)'\necho 'GPU 1: NVIDIA A100 (UUID: GPU-2)'\n"
    )
    tool.chmod(0o755)
    env = {"PATH": str(tmp_path)}
    assert visible_devices(env) == (["0", "1"], "nvidia-smi -L")
    with pytest.raises(GpuAllocationError) as caught:
        split_devices(1, 3, env)
    assert "3 GPU(s), and 2 are visible (nvidia-smi -L)" in str(caught.value)


def test_no_devices_and_no_nvidia_smi_says_so(tmp_path):
    with pytest.raises(GpuAllocationError) as caught:
        split_devices(1, 1, {"PATH": str(tmp_path)})
    assert "no CUDA_VISIBLE_DEVICES and no nvidia-smi on PATH" in str(caught.value)
