"""What a report shows, read from an experiment through the public API only."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

from sweepstack.errors import (
    CorruptEntryWarning,
    JournalWarning,
    NoSweepsError,
    SweepstackError,
)
from sweepstack.store import Experiment, Results, Run
from sweepstack.sweep import ParamSweeper

__all__ = ["ReportData", "SweeperProgress", "collect", "sweeper_progress"]

"""The sweep the engine stores aggregate records in (``Engine.aggregate_record``)."""


@dataclass
class SweeperProgress:
    """The counts of one sweeper (``counts`` is None when it cannot be read: see ``error``)."""

    name: str
    counts: dict[str, int] | None
    error: str | None = None


@dataclass
class ReportData:
    """Everything a report shows, read once."""

    experiment: Experiment
    runs: list[Run]
    sweepers: list[SweeperProgress]
    results: Results
    documents: dict[str, list[dict[str, Any]]]
    problems: list[str] = field(default_factory=list)


def sweeper_progress(experiment: Experiment) -> list[SweeperProgress]:
    """The counts of every sweeper of the experiment, read without any lock."""
    progress = []
    for name, path in experiment.directory.sweeper_dirs().items():
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", JournalWarning)
                sweeper = ParamSweeper(path, readonly=True, name=name)
            progress.append(SweeperProgress(name, sweeper.counts()))
        except NoSweepsError:
            progress.append(SweeperProgress(name, None, "no saved combinations"))
        except (SweepstackError, OSError) as err:
            progress.append(SweeperProgress(name, None, str(err)))
    return progress


def runs_of(experiment: Experiment) -> tuple[list[Run], list[str]]:
    """The readable runs, and a line per unreadable run file."""
    runs, errors = experiment.directory.runs()
    return runs, [str(e) for e in errors]


def collect(experiment: Experiment) -> ReportData:
    """Read runs, sweeper progress, the results table and every record document."""
    runs, problems = runs_of(experiment)
    results = experiment.results()
    problems += [str(e) for e in results.errors]
    documents: dict[str, list[dict[str, Any]]] = {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", CorruptEntryWarning)
        for name in experiment.sweeps():
            documents[name] = list(experiment.records(name))
    if not results.errors:  # the same files, when the index had them as readable
        problems += [str(w.message) for w in caught if w.category is CorruptEntryWarning]
    return ReportData(experiment, runs, sweeper_progress(experiment), results, documents, problems)
