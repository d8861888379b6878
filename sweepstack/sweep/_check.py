"""Verification and repair of a sweeper's folder: ``sweepstack check [--repair]``.

Works from the files alone, on folders no :class:`~sweepstack.sweep.ParamSweeper` can
open, and reaches the sweeper only through :func:`restore_state` once the files are
mended.
"""

from __future__ import annotations

import os
import shutil
import warnings
from collections.abc import Iterable
from typing import Any

from sweepstack.errors import (
    FormatVersionError,
    JournalCorruptError,
    JournalWarning,
    StoreWriteError,
)
from sweepstack.store._atomic import reason_of
from sweepstack.store._check import Problem, quarantine_file
from sweepstack.store._format import (
    QUARANTINE_DIR,
    SWEEPER_JOURNAL,
    SWEEPER_LOCK,
    SWEEPER_SNAPSHOT,
    SWEEPER_SWEEPS,
)
from sweepstack.store._locks import file_lock
from sweepstack.sweep._journal import cut_tail, inspect, newest_snapshot, replace_snapshot, restart
from sweepstack.sweep._space import Space
from sweepstack.sweep._sweeper import ParamSweeper, restore_state

__all__ = ["check_sweeper"]


_EMPTY_STATE: dict[str, Any] = {"done": [], "failed": {}, "claims": {}, "owners": {}}


def check_sweeper(
    persistence_dir: str,
    *,
    repair: bool = False,
    done: Iterable[str] | None = None,
    quarantine_dir: str | None = None,
    lock: bool = True,
) -> list[Problem]:
    """Verify a sweeper folder's files; with ``repair``, fix what can be fixed.

    Works on folders no :class:`ParamSweeper` can open (an unreadable journal header or
    snapshot). Checked: the journal's header and every entry's checksum, a torn tail,
    the current snapshot, the saved sweeps. With ``lock`` (the default) the sweeper's
    lock is held meanwhile, so an incomplete last entry is known to be torn rather than
    being written; ``lock=False`` touches nothing (``sweepstack status``).

    Repairs, under the lock, are each what a writer does in its turn or a new
    generation that every process reloads, so they are safe while workers run:

    - a torn tail is cut (the next writer would overwrite it anyway);
    - damaged entries: a copy of the journal goes to the quarantine, then the state as
      read (without them) is compacted into a new generation;
    - an unreadable journal header: the journal is moved to the quarantine and a new
      generation starts from the newest readable snapshot;
    - an unreadable snapshot: rebuilt from the generation before when it can be; else
      moved to the quarantine and replaced by an empty one (the journal replays on it);
    - unreadable saved sweeps: moved to the quarantine (the engine saves them again
      when the experiment is continued).

    When transitions were lost (the last three cases and damaged entries), the keys in
    ``done`` (known done elsewhere: records whose status is done) that the state no
    longer has as done or in progress are marked done again.

    Args:
        persistence_dir: the sweeper's folder.
        repair: fix what was found (takes the lock even if ``lock`` is False).
        done: keys known to be done, to recover lost done transitions.
        quarantine_dir: where damaged files go (default ``<persistence_dir>/quarantine``).
        lock: hold the sweeper's lock while checking.

    Raises:
        StoreWriteError: with ``repair``, the folder cannot be written.
    """
    path = os.path.abspath(os.fspath(persistence_dir))
    if not os.path.isdir(path):
        return []
    held = None
    if lock or repair:
        held = file_lock(os.path.join(path, SWEEPER_LOCK))
        try:
            held.acquire()
        except OSError as err:
            if repair:
                raise StoreWriteError(held.path, reason_of(err)) from err
            held = None  # a read-only copy: check without the lock
    try:
        quarantine = quarantine_dir or os.path.join(path, QUARANTINE_DIR)
        return _check_files(path, repair, done, quarantine, locked=held is not None)
    finally:
        if held is not None:
            held.release()


def _plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _check_files(
    path: str, repair: bool, done: Iterable[str] | None, quarantine: str, locked: bool
) -> list[Problem]:
    name = os.path.basename(path)
    found = inspect(path)
    problems: list[Problem] = []
    lost = compact = reopen = False
    if not found.exists:
        generation, document = newest_snapshot(path)
        if generation:
            problem = Problem(
                "journal",
                found.path,
                "it is missing; the state continues from the newest snapshot, and the "
                "transitions after it are lost",
                sweep=name,
            )
            if repair:
                restart(path, generation + 1, document)
                lost = reopen = True
                problem = problem.fixed(f"started generation {generation + 1} from it")
            problems.append(problem)
    elif found.newer_format is not None:
        return [
            Problem(
                "journal",
                found.path,
                f"it is in journal format {found.newer_format}, newer than this sweepstack "
                "reads; upgrade sweepstack",
                sweep=name,
            )
        ]
    elif found.header_problem is not None:
        problem = Problem("journal", found.path, found.header_problem, sweep=name)
        if repair:
            moved = quarantine_file(found.path, quarantine)
            generation, document = newest_snapshot(path)
            restart(path, generation + 1, document)
            lost = reopen = True
            problem = problem.fixed(
                f"moved to {moved}; generation {generation + 1} starts from "
                + ("the newest snapshot" if document is not None else "an empty state")
            )
        problems.append(problem)
    else:
        generation = found.generation or 0
        if found.snapshot_problem is not None:
            snapshot = os.path.join(path, f"{SWEEPER_SNAPSHOT}.{generation}")
            if found.snapshot_rebuildable:
                problem = Problem(
                    "snapshot",
                    snapshot,
                    f"{found.snapshot_problem}; generation {generation - 1} can rebuild it",
                    sweep=name,
                )
                if repair:
                    reopen = True  # a writable open rebuilds and rewrites it
                    problem = problem.fixed(f"rebuilt from generation {generation - 1}")
            else:
                problem = Problem(
                    "snapshot",
                    snapshot,
                    f"{found.snapshot_problem}, and no earlier generation can rebuild it",
                    sweep=name,
                )
                if repair:
                    moved = (
                        quarantine_file(snapshot, quarantine) if os.path.exists(snapshot) else None
                    )
                    replace_snapshot(path, generation, _EMPTY_STATE)
                    lost = reopen = True
                    problem = problem.fixed(
                        (f"moved to {moved}; " if moved else "")
                        + "replaced by an empty state that the journal replays on"
                    )
            problems.append(problem)
        if found.corrupt:
            problem = Problem(
                "journal",
                found.path,
                f"{_plural(len(found.corrupt), 'damaged entry', 'damaged entries')} "
                f"(first at byte {found.corrupt[0]}): the transitions they held are lost",
                sweep=name,
            )
            if repair:
                os.makedirs(quarantine, exist_ok=True)
                copy = os.path.join(quarantine, f"{SWEEPER_JOURNAL}.{generation}.damaged")
                shutil.copyfile(found.path, copy)
                lost = compact = reopen = True
                problem = problem.fixed(f"copied to {copy}; compacted without them")
            problems.append(problem)
        if found.tail is not None:
            cause = (
                "a writer was killed mid-write"
                if locked
                else "a writer killed mid-write, or writing now"
            )
            problem = Problem(
                "journal",
                found.path,
                f"{found.tail_bytes} bytes of an incomplete or damaged entry after byte "
                f"{found.tail} ({cause}); readers ignore them",
                sweep=name,
            )
            if repair:
                problem = problem.fixed(f"cut {cut_tail(path, found.tail)} bytes")
            problems.append(problem)
    sweeps_path = os.path.join(path, SWEEPER_SWEEPS)
    has_sweeps = os.path.exists(sweeps_path)
    if has_sweeps:
        try:
            Space.load(sweeps_path)
        except FormatVersionError as err:
            # never repaired: a newer sweepstack's file is not damaged, this one is too old
            return [*problems, Problem("sweeps", sweeps_path, str(err), sweep=name)]
        except JournalCorruptError as err:
            has_sweeps = False
            problem = Problem("sweeps", sweeps_path, err.problem, sweep=name)
            if repair:
                moved = quarantine_file(sweeps_path, quarantine)
                problem = problem.fixed(
                    f"moved to {moved}; the experiment script saves them again when continued"
                )
            problems.append(problem)
    if repair and reopen:
        problems += _reload(path, has_sweeps, compact, done if lost else None)
    return problems


def _reload(
    path: str, has_sweeps: bool, compact: bool, done: Iterable[str] | None
) -> list[Problem]:
    """Open the repaired sweeper (rebuilding a snapshot), compact it, recover done keys."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", JournalWarning)
        sweeper = ParamSweeper(path, None if has_sweeps else [])
        missing = restore_state(sweeper, compact=compact, done=done or ())
    if not missing:
        return []
    return [
        Problem(
            "state",
            path,
            f"{_plural(len(missing), 'combination', 'combinations')} with a done record "
            "missing from the state",
            sweep=os.path.basename(path),
        ).fixed("marked done again")
    ]
