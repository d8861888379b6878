"""The engine's command-line options, and what they say about an experiment's results."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from sweepstack.errors import OverrideError, SweepSpecError
from sweepstack.sweep import Combinations, ParamSweeper, sweep
from sweepstack.sweep._overrides import (
    Override,
    apply_overrides,
    load_space,
    matches,
    parse_override,
)

__all__ = [
    "SpaceOptions",
    "add_engine_options",
    "add_help",
    "child_command",
    "result_options",
    "without_options",
]

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
        "force",
        "debug",
        "help",
        "sweep_overrides",
        "only",
        "sweep_file",
        "slurm_poll",
        "sge_options",
        "gpus_per_worker",
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
        choices=["local", "slurm", "sge"],
        default="local",
        help="where --workers run: here (local), as a SLURM job array (slurm) or as a "
        "Grid Engine array job (sge)",
    )
    group.add_argument(
        "--slurm-options",
        dest="slurm_options",
        default="",
        metavar="OPTS",
        help='extra sbatch options for --launcher slurm, e.g. "--time=1:00:00 -p short"',
    )
    group.add_argument(
        "--sge-options",
        dest="sge_options",
        default="",
        metavar="OPTS",
        help='extra qsub options for --launcher sge, e.g. "-q long.q -l h_rt=4:00:00"',
    )
    group.add_argument(
        "--slurm-poll",
        "--poll",
        dest="slurm_poll",
        type=_positive,
        default=30.0,
        metavar="SECONDS",
        help="seconds between two squeue (or qstat) calls of --launcher slurm (or sge), "
        "doubled while nothing "
        "changes up to 8 times (default 30); the end of the sweep is read from the "
        "experiment directory, not from the scheduler",
    )
    group.add_argument(
        "--gpus-per-worker",
        dest="gpus_per_worker",
        type=_positive_int,
        default=None,
        metavar="K",
        help="give each worker its own K GPUs: local workers split the visible ones "
        "(CUDA_VISIBLE_DEVICES, else nvidia-smi -L) into CUDA_VISIBLE_DEVICES; "
        "--launcher slurm asks for --gpus-per-task=K, --launcher sge for -l gpu=K",
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
    group.add_argument(
        "--force",
        action="store_true",
        help="continue -c DIR even if it was made by another engine, or if the parameter "
        "space lost combinations (their records are kept, outside the space)",
    )
    group.add_argument(
        "--debug",
        action="store_true",
        help="show the traceback of a sweepstack error (also: SWEEPSTACK_DEBUG=1)",
    )
    group.add_argument(
        "--sweep",
        dest="sweep_overrides",
        action="append",
        default=[],
        metavar="FACTOR=LEVELS",
        help="sweep these levels of FACTOR instead of the script's (repeatable; Hydra's "
        "grammar: 1,2,3  'a b',c  range(0,10,2)  geom(1,100,3)  igeom(10,1000,4); "
        "+FACTOR=... adds a factor; model.svm.C names a sub-sweep's factor)",
    )
    group.add_argument(
        "--sweep-file",
        dest="sweep_file",
        default=None,
        metavar="FILE",
        help="take the whole parameter space from FILE (.json, .toml; .yaml with PyYAML); "
        "--sweep options apply on top",
    )
    group.add_argument(
        "--only",
        dest="only",
        action="append",
        default=[],
        metavar="FACTOR=LEVELS",
        help="claim only the combinations whose FACTOR has one of LEVELS (repeatable); the "
        "space is unchanged, so several launches can split a sweep by hand",
    )
    group.add_argument("--worker-of", dest="worker_of", default=None, help=argparse.SUPPRESS)


def add_help(parser: argparse.ArgumentParser) -> None:
    """Add ``-h/--help`` first in the list of options, once the engine's own are added.

    The parser is made without it so that options added in ``init()`` (which runs after
    a first parse) are in the help: ``--help`` in that first parse would exit too early.
    """
    if any("-h" in action.option_strings for action in parser._actions):
        return
    action = parser.add_argument(
        "-h", "--help", action="help", help="show this help message and exit"
    )
    for container in (parser._actions, parser._optionals._group_actions):
        container.remove(action)
        container.insert(0, action)


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r}: give a positive number of seconds")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: give 1 or more")
    return value


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


class SpaceOptions:
    """What ``--sweep``, ``--sweep-file`` and ``--only`` ask of the script's sweepers.

    Parsed when the engine starts, so that a bad value stops it before anything is
    written; applied by ``Engine.sweeper`` (the space) and ``Engine.records`` (the claims).
    """

    def __init__(self, args: argparse.Namespace) -> None:
        self.file: str | None = getattr(args, "sweep_file", None)
        self.overrides: list[Override] = [
            parse_override(text, "--sweep") for text in getattr(args, "sweep_overrides", [])
        ]
        self.only: list[Override] = [
            parse_override(text, "--only") for text in getattr(args, "only", [])
        ]
        for override in self.only:
            if override.add:
                raise OverrideError("--only", override.text, "'+' adds factors only in --sweep")
        self.space: dict[Any, Any] | None = load_space(self.file) if self.file else None
        self.test: Callable[[Mapping[Any, Any]], bool] | None = (
            matches(self.only) if self.only else None
        )

    def combinations(self, sweeps: Any) -> Iterable[Mapping[str, Any]]:
        """The combinations of a sweeper: ``sweeps`` (a space, or a list from sweep() or
        sample()), its space replaced by ``--sweep-file`` and changed by ``--sweep``."""
        is_space = isinstance(sweeps, Mapping)
        if not (self.overrides or self.file):
            return sweep(sweeps) if is_space else sweeps
        remake: Callable[[Mapping[Any, Any]], Combinations]
        if is_space:
            space, remake = sweeps, sweep
        elif isinstance(sweeps, Combinations) and sweeps.space is not None:
            space, remake = sweeps.space, sweeps.remake
        else:
            option, text = (
                ("--sweep-file", self.file) if self.file else ("--sweep", self.overrides[0].text)
            )
            raise OverrideError(
                option,
                text or "",
                "this script gives its sweeper a list of combinations, not a space; give "
                "it sweep({...}) or sample({...}, n), or the space dict itself",
            )
        if self.space is not None:
            space = self.space
        try:
            return remake(apply_overrides(space, self.overrides))
        except SweepSpecError as err:  # e.g. a range given to a grid: name the option
            for override in self.overrides:
                if override.factor.split(".")[-1] == str(err.factor):
                    raise OverrideError(override.option, override.text, str(err)) from None
            if self.file:
                raise OverrideError("--sweep-file", self.file, str(err)) from None
            raise

    def restrict(self, sweeper: ParamSweeper) -> None:
        """With ``--only``, make ``sweeper`` hand out (and count) the matching combinations
        only; its saved space, which other processes and ``status`` read, stays whole.

        Raises:
            OverrideError: no combination of the sweeper matches.
        """
        if self.test is None:
            return
        # this instance's sweeps, not a get_next filter: a filter costs O(todo) per claim
        mine = [c for c in sweeper.get_sweeps() if self.test(c)]
        if not mine:
            raise OverrideError(
                "--only",
                " ".join(o.text for o in self.only),
                f"no combination of sweeper {sweeper.name!r} matches",
            )
        sweeper.set_sweeps(mine)
