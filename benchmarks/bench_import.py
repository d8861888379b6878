"""`import` time of sweepstack, execo_engine and curifactory, each in a fresh interpreter."""

from __future__ import annotations

import statistics
import subprocess
import sys

from benchmarks._common import Result, import_quietly

_SCRIPT = (
    "import time, warnings; warnings.simplefilter('ignore'); t = time.perf_counter(); "
    "import {name}; print(time.perf_counter() - t)"
)


def _import_time(name: str, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        out = subprocess.run(
            [sys.executable, "-c", _SCRIPT.format(name=name)],
            capture_output=True,
            text=True,
            check=True,
        )
        times.append(float(out.stdout.strip().splitlines()[-1]))
    return statistics.median(times)


def run(quick: bool) -> list[Result]:
    repeats = 3 if quick else 7
    ours = _import_time("sweepstack", repeats)
    results = []
    for name in ("execo_engine", "curifactory"):
        theirs = _import_time(name, repeats) if import_quietly(name) is not None else None
        results.append(
            Result(
                "import time",
                f"import sweepstack vs import {name}",
                ours,
                theirs,
                name,
                goal="< 0.2 s",
            )
        )
    return results
