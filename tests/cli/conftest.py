"""Fixtures of the command's tests (see experiments.py)."""

from tests.cli.experiments import example, example_dir, grid, grid_dir, sweepstack

__all__ = ["example", "example_dir", "grid", "grid_dir", "sweepstack"]
