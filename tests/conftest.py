"""Shared fixtures and settings for the whole test suite."""

from __future__ import annotations

import os
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
