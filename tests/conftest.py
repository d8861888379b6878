"""Shared fixtures and settings for the whole test suite."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, settings

# CI machines are shared and slow: no deadline, fewer examples unless asked for more.
settings.register_profile(
    "default", deadline=None, suppress_health_check=[HealthCheck.too_slow], max_examples=100
)
settings.register_profile(
    "thorough", deadline=None, suppress_health_check=[HealthCheck.too_slow], max_examples=1000
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def python_env() -> dict[str, str]:
    """Environment for subprocesses running this checkout's sweepstack."""
    env = dict(os.environ)
    env["PYTHONPATH"] = REPO + os.pathsep + env.get("PYTHONPATH", "")
    return env


@pytest.fixture
def python() -> str:
    return sys.executable


@pytest.fixture
def tmpfs(tmp_path):
    """Mount real, small tmpfs folders: ``tmpfs("64k")``, ``tmpfs("64k", read_only=True)``.

    A full disk and a read-only file system for real (root ignores permission bits, but
    not these). Skips, saying why, where mounting is not allowed.
    """
    mounted = []

    def mount(size: str = "64k", read_only: bool = False, at=None):
        point = at if at is not None else tmp_path / f"tmpfs{len(mounted)}"
        point.mkdir(exist_ok=True)
        options = ("ro," if read_only else "") + f"size={size}"
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(point)],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            pytest.skip(f"cannot mount a small tmpfs (needs root): {done.stderr.strip()}")
        mounted.append(point)
        return point

    yield mount
    for point in reversed(mounted):
        subprocess.run(["umount", "-l", str(point)], check=False)


@pytest.fixture
def tiny_disk(tmpfs):
    """A real 64 KiB file system: writes beyond it fail with ENOSPC."""
    return tmpfs("64k")
