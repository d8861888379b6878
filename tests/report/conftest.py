"""Fixtures of the report's tests: the experiments of the command's tests."""

from tests.cli.experiments import example, example_dir, grid, grid_dir, sweepstack

__all__ = ["example", "example_dir", "grid", "grid_dir", "sweepstack"]
