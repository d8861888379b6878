"""``sweepstack reset``: return in-progress, failed, stale or done combinations to todo."""

from __future__ import annotations

import warnings
from argparse import Namespace

from sweepstack.cli._output import Output, warn
from sweepstack.errors import JournalWarning, NoSweepsError, SweepstackError
from sweepstack.store import Experiment
from sweepstack.sweep import ParamSweeper

__all__ = ["run"]


def run(args: Namespace, experiment: Experiment, out: Output) -> int:
    sweepers = experiment.directory.sweeper_dirs()
    if args.sweep is not None:
        sweepers = {k: v for k, v in sweepers.items() if k == args.sweep}
    if not sweepers:
        out.line("no sweeper to reset")
        return 0
    status = 0
    for name, path in sweepers.items():
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", JournalWarning)
                sweeper = ParamSweeper(path, name=name)
        except NoSweepsError:
            warn(f"{name}: no saved combinations, nothing to reset")
            continue
        except (SweepstackError, OSError) as err:
            warn(f"{name}: cannot be opened: {err}")
            status = 1
            continue
        before = sweeper.counts()
        said = []
        if args.stale:
            taken = sweeper.recover(trust_wall_clock=True)
            returned = before["inprogress"] - sweeper.counts()["inprogress"]
            reasons = sorted({reason for _, reason in taken})
            said.append(
                f"{returned} stale claim(s) of {len(taken)} process(es) returned to todo"
                + (f" ({', '.join(reasons)})" if reasons else "")
            )
        if args.inprogress or args.failed:
            middle = sweeper.counts()
            sweeper.reset(reset_inprogress=args.inprogress, reset_failed=args.failed)
            after = sweeper.counts()
            if args.inprogress:
                said.append(
                    f"{middle['inprogress'] - after['inprogress']} in-progress claim(s) returned "
                    "to todo"
                )
            if args.failed:
                said.append(f"{middle['failed'] - after['failed']} failed combination(s) to todo")
        if args.done:
            redone = sweeper.redo(sweeper.keys("done"))
            said.append(f"{len(redone)} done combination(s) to todo (their cached stages stay)")
        out.line(f"{name}: " + "; ".join(said))
    return status
