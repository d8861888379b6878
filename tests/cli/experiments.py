"""Experiments the command and report tests run on, made once per session by real scripts.

Fixtures here are imported by ``tests/cli/conftest.py`` and ``tests/report/conftest.py``.
Tests that change an experiment get their own copy (``example``, ``grid``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from sweepstack.cli import main

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLE = os.path.join(REPO, "examples", "pi_sweep.py")
ENGINE = os.path.join(REPO, "tests", "cli", "engines.py")


def environment() -> dict[str, str]:
    """Environment for subprocesses running this checkout's sweepstack."""
    env = dict(os.environ)
    env["PYTHONPATH"] = REPO + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("COLUMNS", None)
    return env


def run_script(
    script: str, *args: str, timeout: float = 60, status: int = 0
) -> subprocess.CompletedProcess:
    """Run an experiment script to its end; fail the test if it exits other than ``status``
    (1: some combinations failed)."""
    done = subprocess.run(
        [sys.executable, script, *args],
        env=environment(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == status, done.stderr
    return done


def command(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """``python -m sweepstack ARGS`` in a real process."""
    return subprocess.run(
        [sys.executable, "-m", "sweepstack", *args],
        env=environment(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture(scope="session")
def example_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The example experiment of the docs, done: 45 combinations (do not change it)."""
    path = str(tmp_path_factory.mktemp("example") / "pi")
    run_script(EXAMPLE, "-c", path, "--max-n", "20000")
    return path


@pytest.fixture(scope="session")
def grid_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The test grid: 24 combinations, 3 failed (x=2, seed 0), reportables (do not change it)."""
    path = str(tmp_path_factory.mktemp("grid") / "grid")
    run_script(ENGINE, "-c", path, "--fail-x", "2", status=1)  # x=2 fails
    return path


@pytest.fixture
def example(example_dir: str, tmp_path) -> str:
    """A copy of the example experiment, for a test that changes it."""
    path = str(tmp_path / "pi")
    shutil.copytree(example_dir, path)
    return path


@pytest.fixture
def grid(grid_dir: str, tmp_path) -> str:
    """A copy of the test grid, for a test that changes it."""
    path = str(tmp_path / "grid")
    shutil.copytree(grid_dir, path)
    return path


class Ran:
    """What an in-process run of the command returned and printed."""

    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err

    def __repr__(self) -> str:
        return f"<exit {self.code}\nstdout:\n{self.out}\nstderr:\n{self.err}>"


@pytest.fixture
def sweepstack(capsys: pytest.CaptureFixture[str]):
    """Run ``sweepstack ARGS`` in this process: ``sweepstack("status", DIR)`` -> Ran."""

    def run(*args: str) -> Ran:
        capsys.readouterr()
        try:
            code = main(list(args))
        except SystemExit as exit:  # argparse: --help, usage errors
            code = int(exit.code or 0)
        captured = capsys.readouterr()
        return Ran(code, captured.out, captured.err)

    return run
