"""A real one-node SLURM cluster for the launcher tests, started once per test session.

``tools/slurm.sh up`` writes the whole configuration, state and logs under a
temporary folder and starts a private ``munged``, ``slurmctld`` and ``slurmd`` on
free loopback ports, so that several sessions can coexist; ``tools/slurm.sh down``
stops them (see ``tools/README.md``). Root and the Debian packages
(``.ci/setup.d/20-slurm.sh``) are needed: without them the tests skip and say so.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SLURM_TOOL = os.path.join(REPO, "tools", "slurm.sh")
SETUP = ".ci/setup.d/20-slurm.sh"


@dataclass
class Slurm:
    """A running test cluster: its folder and the environment that reaches it."""

    folder: str
    env: dict[str, str]

    def command(self, *args: str, check: bool = True) -> str:
        """Run a SLURM command (squeue, scancel, scontrol) against this cluster."""
        done = subprocess.run(args, env=self.env, capture_output=True, text=True, timeout=60)
        if check and done.returncode != 0:
            raise AssertionError(f"{' '.join(args)} failed: {done.stderr}")
        return done.stdout


def _free_ports(count: int) -> list[int]:
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _why_not() -> str | None:
    """Why SLURM cannot run on this machine, or None."""
    if os.geteuid() != 0:
        return "needs root to start slurmctld, slurmd and munged (see tools/README.md)"
    missing = [
        p
        for p in ("slurmctld", "slurmd", "sbatch", "squeue", "scancel", "munged")
        if shutil.which(p) is None and not os.path.exists(f"/usr/sbin/{p}")
    ]
    if missing:
        return f"SLURM is not installed ({', '.join(missing)} missing): run {SETUP}"
    if not os.path.exists(SLURM_TOOL):
        return f"{SLURM_TOOL} is missing from the checkout"
    host = socket.gethostname().split(".")[0]
    try:
        address = socket.gethostbyname(host)
    except OSError:
        address = ""
    if not address.startswith("127."):
        return f"{host} does not resolve to 127.x (slurmctld needs it): run {SETUP}"
    return None


@pytest.fixture(scope="session")
def slurm() -> Iterator[Slurm]:
    reason = _why_not()
    if reason:
        pytest.skip(reason)
    folder = tempfile.mkdtemp(prefix="sweepstack-slurm-")
    ctld, slurmd = _free_ports(2)
    env = {**os.environ, "SLURMCTLD_PORT": str(ctld), "SLURMD_PORT": str(slurmd)}
    up = subprocess.run(
        ["bash", SLURM_TOOL, "up", folder],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    try:
        if up.returncode != 0:
            raise AssertionError(f"tools/slurm.sh up failed:\n{up.stdout}\n{up.stderr}")
        conf = up.stdout.strip().splitlines()[-1].removeprefix("export SLURM_CONF=")
        env = {**os.environ, "SLURM_CONF": conf}
        yield Slurm(folder, env)
    finally:
        subprocess.run(
            ["bash", SLURM_TOOL, "down", folder],
            capture_output=True,
            timeout=120,
        )
        shutil.rmtree(folder, ignore_errors=True)
