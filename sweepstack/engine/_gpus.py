"""``--gpus-per-worker K``: each local worker gets its own K devices.

The visible devices are those of ``CUDA_VISIBLE_DEVICES`` when it is set (as a job
scheduler sets it: indices or UUIDs, kept as given), else those ``nvidia-smi -L``
lists. Worker ``i`` gets the ``i``-th slice of K of them in its own
``CUDA_VISIBLE_DEVICES``, so that CUDA, PyTorch, JAX or TensorFlow in that worker
see only those, numbered from 0. A worker started to replace a killed one takes the
slice of the worker it replaces. Under ``--launcher slurm`` SLURM gives each task its
devices (``--gpus-per-task``) and sets ``CUDA_VISIBLE_DEVICES`` itself.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Mapping

from sweepstack.errors import GpuAllocationError

__all__ = ["split_devices", "visible_devices"]

_NVIDIA_SMI_LINE = re.compile(r"^GPU (\d+):", re.MULTILINE)


def visible_devices(environ: Mapping[str, str] | None = None) -> tuple[list[str], str]:
    """The devices this process may use, and where that was learnt.

    >>> visible_devices({"CUDA_VISIBLE_DEVICES": "0,2"})
    (['0', '2'], 'CUDA_VISIBLE_DEVICES=0,2')
    """
    env = os.environ if environ is None else environ
    if "CUDA_VISIBLE_DEVICES" in env:
        value = env["CUDA_VISIBLE_DEVICES"]
        devices = [d.strip() for d in value.split(",") if d.strip()]
        # CUDA stops at the first invalid entry; -1 (or any negative index) hides every device
        kept: list[str] = []
        for device in devices:
            if device.lstrip("-").isdigit() and int(device) < 0:
                break
            kept.append(device)
        return kept, f"CUDA_VISIBLE_DEVICES={value}"
    smi = shutil.which("nvidia-smi", path=env.get("PATH", os.defpath))
    if smi is None:
        return [], "no CUDA_VISIBLE_DEVICES and no nvidia-smi on PATH"
    try:
        done = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as err:
        return [], f"nvidia-smi -L failed ({err})"
    if done.returncode != 0:
        return [], f"nvidia-smi -L failed ({' '.join(done.stderr.split()) or done.returncode})"
    return _NVIDIA_SMI_LINE.findall(done.stdout), "nvidia-smi -L"


def split_devices(
    per_worker: int, workers: int, environ: Mapping[str, str] | None = None
) -> list[str]:
    """The ``CUDA_VISIBLE_DEVICES`` value of each of ``workers`` workers, K devices each.

    Raises:
        GpuAllocationError: fewer than ``per_worker * workers`` devices are visible.

    >>> split_devices(2, 2, {"CUDA_VISIBLE_DEVICES": "0,1,2,3,4"})
    ['0,1', '2,3']
    """
    devices, source = visible_devices(environ)
    needed = per_worker * max(workers, 1)
    if len(devices) < needed:
        raise GpuAllocationError(per_worker, max(workers, 1), len(devices), source)
    return [
        ",".join(devices[i * per_worker : (i + 1) * per_worker]) for i in range(max(workers, 1))
    ]
