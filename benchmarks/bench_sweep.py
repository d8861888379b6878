"""sweep() generation: a 1,000,000-combination space, sweepstack vs execo_engine."""

from __future__ import annotations

import functools
from typing import Any

from benchmarks._common import Result, import_quietly, median_time
from sweepstack import sweep

SPACES: dict[str, dict[str, Any]] = {
    "flat 1e6 (3 factors x 100 levels)": {
        "a": list(range(100)),
        "b": [i / 10 for i in range(100)],
        "c": [f"s{i}" for i in range(100)],
    },
    "nested 1e6 (sub-sweeps)": {
        "seed": list(range(100)),
        "model": {
            "svm": {
                "C": [0.1, 1, 10, 100, 1000],
                "kernel": ["rbf", "linear"],
                "gamma": list(range(500)),
            },
            "tree": {"depth": list(range(1, 101)), "leaf": list(range(50))},
        },
    },
}


def run(quick: bool) -> list[Result]:
    execo_engine = import_quietly("execo_engine")
    repeats = 1 if quick else 3
    results = []
    for case, space in SPACES.items():
        count = len(sweep(space))
        ours = median_time(functools.partial(sweep, space), repeats)
        theirs = (
            median_time(functools.partial(execo_engine.sweep, space), repeats)
            if execo_engine
            else None
        )
        results.append(
            Result(
                "sweep() generation",
                f"{case}: {count:,} combinations",
                ours,
                theirs,
                competitor="execo_engine",
                goal="no slower than execo_engine",
            )
        )
    return results
