"""The engine's command-line options, and what they say about an experiment's results."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

__all__ = ["add_engine_options", "child_command", "result_options", "without_options"]

ENGINE_DESTS = frozenset(
    {
        "log_level",
        "output_mode",
        "merge_outputs",
        "use_dir",
        "workers",
        "launcher",
        "lease",
        "overwrite",
        "dry",
        "notes",
        "no_progress",
        "store_full",
        "retry_failed",
        "fail_fast",
        "worker_of",
        "slurm_options",
    }
)
"""Options of the engine itself: they never change what a combination computes."""


def add_engine_options(parser: argparse.ArgumentParser) -> None:
    """execo_engine's options (-l -L -R -M -c) and sweepstack's."""
    parser.add_argument(
        "-l",
        dest="log_level",
        default=None,
        metavar="LEVEL",
        help="log level (name or number, default INFO)",
    )
    parser.add_argument(
        "-L",
        dest="output_mode",
        action="store_const",
        const="copy",
        default=None,
        help="copy stdout and stderr to files in the result directory",
    )
    parser.add_argument(
        "-R",
        dest="output_mode",
        action="store_const",
        const="redirect",
        help="redirect stdout and stderr to files in the result directory",
    )
    parser.add_argument(
        "-M",
        dest="merge_outputs",
        action="store_true",
        help="with -L or -R, merge stdout and stderr into one file",
    )
    parser.add_argument(
        "-c",
        dest="use_dir",
        default=None,
        metavar="DIR",
        help="use and continue the experiment in DIR (created when missing)",
    )
    group = parser.add_argument_group("sweepstack")
    group.add_argument(
        "--workers",
        type=int,
        default=0,
        metavar="N",
        help="run N worker processes of this script on the same experiment",
    )
    group.add_argument(
        "--launcher",
        choices=["local", "slurm"],
        default="local",
        help="where --workers run: here (local) or as a SLURM job array (slurm)",
    )
    group.add_argument(
        "--slurm-options",
        dest="slurm_options",
        default="",
        metavar="OPTS",
        help='extra sbatch options for --launcher slurm, e.g. "--time=1:00:00 -p short"',
    )
    group.add_argument(
        "--lease",
        type=float,
        default=600.0,
        metavar="SECONDS",
        help=(
            "seconds after which the claims and stage leases of a silent process are "
            "taken back (default 600)"
        ),
    )
    group.add_argument(
        "--overwrite",
        nargs="*",
        default=None,
        metavar="STAGE",
        help="recompute every stage, or the named ones and what depends on them",
    )
    group.add_argument(
        "--dry",
        action="store_true",
        help="print the map of what would run and what is cached; write nothing",
    )
    group.add_argument("--notes", default=None, help="notes stored with this run")
    group.add_argument(
        "--no-progress",
        dest="no_progress",
        action="store_true",
        help="log progress lines instead of a progress bar",
    )
    group.add_argument(
        "--store-full",
        dest="store_full",
        action="store_true",
        help="store the environment (pip freeze, git diff) and stage sources",
    )
    group.add_argument(
        "--retry-failed",
        dest="retry_failed",
        action="store_true",
        help="run failed combinations again",
    )
    group.add_argument(
        "--fail-fast",
        dest="fail_fast",
        action="store_true",
        help="stop at the first failed combination",
    )
    group.add_argument("--worker-of", dest="worker_of", default=None, help=argparse.SUPPRESS)


def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value)
        return value
    except (TypeError, ValueError):
        return repr(value)


def result_options(args: argparse.Namespace) -> dict[str, Any]:
    """The options a user's engine added: they may change results (the engine's own do not)."""
    return {k: _jsonable(v) for k, v in sorted(vars(args).items()) if k not in ENGINE_DESTS}


def without_options(
    argv: Sequence[str], parser: argparse.ArgumentParser, dests: set[str]
) -> list[str]:
    """``argv`` without the options whose destinations are in ``dests`` (and their values)."""
    takes: dict[str, tuple[str, Any]] = {}
    for action in parser._actions:
        for option in action.option_strings:
            takes[option] = (action.dest, action.nargs)
    out: list[str] = []
    i = 0
    argv = list(argv)
    while i < len(argv):
        token = argv[i]
        name, _, inline = token.partition("=")
        if name in takes and takes[name][0] in dests:
            _dest, nargs = takes[name]
            i += 1
            if inline or nargs == 0:
                continue
            if nargs in (None, 1):
                i += 1  # one value follows
            elif nargs in ("*", "+", "?"):
                while i < len(argv) and not argv[i].startswith("-"):
                    i += 1
            continue
        out.append(token)
        i += 1
    return out


def child_command(engine_class: type, argv: list[str]) -> list[str]:
    """The command that runs ``engine_class().start(argv)`` in a new process."""
    module = sys.modules.get(engine_class.__module__)
    name = engine_class.__module__
    if name == "__main__" or module is None or getattr(module, "__spec__", None) is None:
        where = ["--file", getattr(module, "__file__", None) or sys.argv[0]]
    else:
        where = ["--module", name]
    return [
        sys.executable,
        "-m",
        "sweepstack.engine._child",
        *where,
        engine_class.__qualname__,
        *argv,
    ]
