"""``sweepstack check``: verify every file of an experiment; ``--repair`` quarantines.

The store checks its records, runs, index logs and artifacts
(:meth:`~sweepstack.store.Experiment.check`); the sweep layer checks each sweeper's
journal, snapshot and saved combinations (:func:`~sweepstack.sweep.check_sweeper`);
this module checks each engine sweeper's manifest (its parameter space and options),
which the engine writes again on its next run when it is missing.
This command then compares the two: a combination done in its sweeper without a
record has lost its result, and a repair returns it to todo
(:meth:`~sweepstack.sweep.ParamSweeper.redo`) so that the next run computes it again.
"""

from __future__ import annotations

import json
import warnings
from argparse import Namespace

from sweepstack.cli._output import Output
from sweepstack.errors import (
    CorruptEntryError,
    FormatVersionError,
    JournalWarning,
    NoSweepsError,
    SweepstackError,
)
from sweepstack.store import Experiment, Problem
from sweepstack.store._atomic import read_bytes
from sweepstack.store._check import quarantine_file
from sweepstack.store._format import manifest_path, parse_manifest
from sweepstack.sweep import ParamSweeper, check_sweeper, param_key

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


_MANIFEST_TYPES: dict[str, type] = {"factors": dict, "options": dict, "options_key": str}


def _manifest_damage(path: str, sweeper_path: str, name: str) -> tuple[str, bool] | None:
    """What is wrong with a sweeper's manifest, and whether moving it aside repairs it."""
    try:
        manifest = parse_manifest(path, read_bytes(path))
    except FileNotFoundError:
        return None  # a sweeper not made by an engine, or before its first run: nothing to check
    except FormatVersionError as err:
        return str(err), False  # not damaged: this sweepstack is too old
    except CorruptEntryError as err:
        return err.problem, True
    except OSError as err:
        return f"cannot be read ({err.strerror or err})", False
    for key, kind in _MANIFEST_TYPES.items():
        if not isinstance(manifest.get(key), kind):
            return (
                f"not a manifest: {key!r} is {manifest.get(key)!r}, expected a {kind.__name__}",
                True,
            )
    try:
        if param_key(manifest["options"]) != manifest["options_key"]:
            return "its options do not match its options_key (edited or damaged)", True
    except SweepstackError:
        return "its options cannot be keyed (edited or damaged)", True
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", JournalWarning)
            sweeper = ParamSweeper(sweeper_path, readonly=True, name=name)
    except (SweepstackError, OSError):
        return None  # no readable saved combinations to compare with (reported elsewhere)
    total = sweeper.counts()["total"]
    if manifest["digest"] != sweeper.fingerprint() or manifest["count"] != total:
        return (
            f"describes another parameter space ({manifest['count']} combinations) than the "
            f"sweeper's saved combinations ({total})",
            True,
        )
    return None


def _check_manifest(name: str, sweeper_path: str, repair: bool, quarantine: str) -> list[Problem]:
    path = manifest_path(sweeper_path)
    damage = _manifest_damage(path, sweeper_path, name)
    if damage is None:
        return []
    text, movable = damage
    problem = Problem("manifest", path, text, sweep=name)
    if repair and movable:
        moved = quarantine_file(path, quarantine)
        problem = problem.fixed(
            f"moved to {moved}; the engine writes a new manifest on its next run (-c DIR)"
            if moved
            else "replaced or removed meanwhile"
        )
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
        problems += _check_manifest(
            name, path, args.repair, experiment.directory.quarantine_of("sweeps", name)
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
