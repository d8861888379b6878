"""``sweepstack check``: verify every file of an experiment; ``--repair`` quarantines.

The store checks its records, runs, index logs and artifacts
(:meth:`~sweepstack.store.Experiment.check`); the sweep layer checks each sweeper's
journal, snapshot and saved combinations (:func:`~sweepstack.sweep.check_sweeper`).
This command then compares the two: a combination done in its sweeper without a
record has lost its result, and a repair returns it to todo
(:meth:`~sweepstack.sweep.ParamSweeper.redo`) so that the next run computes it again.
"""

from __future__ import annotations

import json
import warnings
from argparse import Namespace

from sweepstack.cli._output import Output
from sweepstack.errors import JournalWarning, NoSweepsError, SweepstackError
from sweepstack.store import Experiment, Problem
from sweepstack.sweep import ParamSweeper, check_sweeper

__all__ = ["run"]


def _orphans(
    experiment: Experiment, name: str, path: str, known: set[str], repair: bool
) -> list[Problem]:
    """Combinations done in the sweeper whose record is missing (their result is lost)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", JournalWarning)
            sweeper = ParamSweeper(path, readonly=True, name=name)
    except NoSweepsError:
        return []
    except (SweepstackError, OSError):
        return []  # already reported by check_sweeper
    recorded = {row["key"] for row in experiment.results(sweep=name)} | known
    orphans = sorted(k for k in sweeper.keys("done") if k not in recorded)
    if not orphans:
        return []
    problem = Problem(
        "state",
        path,
        f"{len(orphans)} combination(s) done without a record (first {orphans[0]}): "
        "their results are lost",
        sweep=name,
    )
    if repair:
        changed = ParamSweeper(path, name=name).redo(orphans)
        problem = problem.fixed(f"{len(changed)} returned to todo, computed again by the next run")
    return [problem]


def run(args: Namespace, experiment: Experiment, out: Output) -> int:
    problems = experiment.check(repair=args.repair, artifacts=not args.no_artifacts)
    swept = experiment.sweeps()
    for name, path in experiment.directory.sweeper_dirs().items():
        done = None
        if args.repair and name in swept:
            done = [r["key"] for r in experiment.results(sweep=name) if r.get("status") == "done"]
        problems += check_sweeper(
            path,
            repair=args.repair,
            done=done,
            quarantine_dir=experiment.directory.quarantine_of("sweeps", name),
        )
        if name in swept:
            unreadable = {
                p.key
                for p in problems
                if p.kind == "record" and p.sweep == name and p.key and not p.repaired
            }
            problems += _orphans(experiment, name, path, unreadable, args.repair)
    left = [p for p in problems if not p.repaired]
    if args.json:
        out.stream.write(json.dumps([p.to_json() for p in problems], indent=2) + "\n")
        return 1 if left else 0
    for problem in problems:
        out.line(str(problem), "green" if problem.repaired else "bold red")
    if not problems:
        out.line(f"no problem found in {experiment.path}")
    elif left:
        hint = "" if args.repair else "; `sweepstack check DIR --repair` quarantines them"
        out.line(f"{len(problems)} problem(s), {len(left)} not repaired{hint}")
    else:
        out.line(f"{len(problems)} problem(s), all repaired")
    return 1 if left else 0
