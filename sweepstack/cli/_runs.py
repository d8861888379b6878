"""``sweepstack runs``: the run registry, with the line that reproduces each run."""

from __future__ import annotations

import json
from argparse import Namespace

from sweepstack.cli._output import Output, warn
from sweepstack.store import Experiment

__all__ = ["run"]


def _commit(git: object) -> str:
    if not isinstance(git, dict) or not git.get("available"):
        return ""
    commit = str(git.get("commit") or "")[:10]
    return commit + ("+dirty" if git.get("dirty") else "")


def run(args: Namespace, experiment: Experiment, out: Output) -> int:
    runs, errors = experiment.directory.runs()
    if args.json:
        out.stream.write(json.dumps([r.document for r in runs], indent=2, default=str) + "\n")
    elif not runs:
        out.line("no run yet")
    else:
        out.table(
            ["#", "run", "status", "host", "started", "ended", "commit", "notes"],
            [
                [
                    r.number,
                    r.reference,
                    r.status,
                    r.get("host"),
                    str(r.get("started") or "")[:19].replace("T", " "),
                    str(r.get("ended") or "")[:19].replace("T", " "),
                    _commit(r.get("git")),
                    r.get("notes"),
                ]
                for r in runs
            ],
        )
        out.line()
        out.heading("reproduce with:")
        for r in runs:
            out.line(f"  {r.number}: {r.get('reproduce') or '(not recorded)'}")
    for error in errors:
        warn(f"left out {error}")
    return 0
