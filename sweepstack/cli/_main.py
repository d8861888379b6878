"""The ``sweepstack`` command: parsing, dispatch to one module per subcommand, exit statuses.

Exit statuses, the same for every subcommand:

- 0: done, and nothing wrong was found;
- 1: something is wrong in the experiment: ``status`` sees failed combinations or an
  unreadable sweeper, ``check`` found problems it did not repair, a file of the
  experiment is damaged beyond reading, or a write failed;
- 2: bad usage or input: an unknown option, a DIR that is not an experiment, one of a
  newer format, a bad ``--where`` or ``--columns``;
- 130: interrupted (Ctrl-C), except for ``status --watch``, which Ctrl-C ends.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import signal
import sys
import threading
from collections.abc import Iterator, Sequence

__all__ = ["build_parser", "main"]

_DESCRIPTION = """\
Watch, query and repair a sweepstack experiment directory (the DIR given to an
experiment script with -c DIR), from any host, while workers run or not.
"""

_EPILOG = """\
examples:
  sweepstack status results/pi --watch
  sweepstack results results/pi --where "error < 0.01" --csv > pi.csv
  sweepstack report results/pi

exit status: 0 ok, 1 problems found in the experiment, 2 bad usage or input.
"""

_WHERE_HELP = """\
--where EXPR keeps the rows for which EXPR is true. EXPR compares columns with
constants: == != < <= > >= in, not in, is None; joined by and, or, not; with
arithmetic + - * / // % ** on numbers and the functions abs round min max len str
int float lower upper contains startswith endswith. Nested parameters are dotted
(opt.lr). A missing value is None, and a comparison that cannot be made (None < 1)
is false: such rows are left out. Nothing else is evaluated.
"""

_COMMANDS: dict[str, dict[str, str]] = {
    "status": {
        "help": "todo / in progress / done / failed counts, per factor, per host",
        "description": (
            "Where every sweeper of DIR stands: counts of todo, in progress, done, failed "
            "and skipped combinations with a bar, counts per factor level, in-progress "
            "claims by host with their age and lease, the last errors, throughput per host "
            "over the last ten minutes and an ETA.\n\nRead-only: it takes no lock and "
            "writes nothing, so it works while workers run on any host. Exits 1 when a "
            "combination failed or a sweeper cannot be read."
        ),
        "examples": "sweepstack status results/pi\n  sweepstack status results/pi --watch 5\n"
        "  sweepstack status results/pi --json | jq '.sweeps[0].counts'",
    },
    "results": {
        "help": "the results table: params, fields, status... (table, CSV, JSON, SQLite)",
        "description": (
            "One row per combination: its parameters (nested ones dotted), its fields, "
            "status, run, host, attempt, start and end, duration and exception. A "
            "terminal gets a table of the interesting columns; --csv, --json and --sqlite "
            "give every column unless --columns picks some.\n\n" + _WHERE_HELP
        ),
        "examples": 'sweepstack results results/pi --where "error < 0.01 and estimator == '
        "'plain'\"\n  sweepstack results results/pi --columns n seed error --csv > pi.csv\n"
        "  sweepstack results results/pi --sort error:desc n\n"
        "  sweepstack results results/pi --sqlite pi.db && sqlite3 pi.db "
        "'select estimator, avg(error) from results group by estimator'\n"
        "  sweepstack results results/pi --parquet pi.parquet\n"
        "  sweepstack results results/pi --history --csv > attempts.csv",
    },
    "failures": {
        "help": "each failed combination: params, stage, exception, traceback",
        "description": (
            "Every failed combination: its parameters, the stage that failed, the "
            "exception, and its traceback starting at your code (sweepstack's own frames "
            "are folded into one line; --full shows them). --where and --sweep select as "
            "in results.\n\n" + _WHERE_HELP
        ),
        "examples": "sweepstack failures results/pi\n"
        "  sweepstack failures results/pi --where \"estimator == 'plain'\" --full\n"
        "  sweepstack failures results/pi --json | jq '.[].message'",
    },
    "compare": {
        "help": "the fields that changed between two runs, combination by combination",
        "description": (
            "For each combination done in both runs (by number or reference, as "
            "`sweepstack runs` lists them), compare the last done attempt of each and "
            "print one row per field whose value changed: the combination's parameters, "
            "the field, its value in RUN_A and in RUN_B, as MLflow compares two runs. "
            "Combinations done in one run only are counted. Earlier attempts are kept "
            "in each record (see `sweepstack results --history`)."
        ),
        "examples": "sweepstack compare results/pi 1 2\n"
        "  sweepstack compare results/pi 3 4 --csv > changed.csv",
    },
    "runs": {
        "help": "the run registry, with the line reproducing each run",
        "description": (
            "Every run (engine session) of DIR: number, reference, status, host, start, "
            "end, git commit (+dirty) and notes, then the command line reproducing each."
        ),
        "examples": "sweepstack runs results/pi\n  sweepstack runs results/pi --json",
    },
    "report": {
        "help": "write the self-contained HTML report",
        "description": (
            "Write one HTML file, viewable without network: overview (runs, progress), "
            "a sortable and filterable results table, failures with tracebacks, plots of "
            "numeric fields against numeric factors (with matplotlib), the stage graph with "
            "run and cache-hit counts, and the reportables of each combination. Reads "
            "without any lock: it can be made while workers run."
        ),
        "examples": "sweepstack report results/pi            # results/pi/reports/report.html\n"
        "  sweepstack report results/pi -o pi.html",
    },
    "reset": {
        "help": "return in-progress, failed or stale combinations to todo",
        "description": (
            "--stale returns the claims of processes that are dead (on this host) or "
            "silent for longer than their lease, by the heartbeat times they wrote (hosts' "
            "clocks must agree within the lease margin): safe while workers run. "
            "--inprogress returns every claim, also those of live workers, which then "
            "find their claim lost when they finish (their result still counts): use it "
            "when no worker runs. --failed makes failed combinations todo again, to be "
            "retried by the next run. --done makes done combinations todo again: after "
            "editing a stage, continue with -c and only what the edit changed is computed "
            "(the other stages are cache hits)."
        ),
        "examples": "sweepstack reset results/pi --stale\n  sweepstack reset results/pi --failed\n"
        "  sweepstack reset results/pi --done   # then continue with -c: only what changed runs",
    },
    "check": {
        "help": "verify journals, snapshots, records, artifacts; --repair quarantines",
        "description": (
            "Verify every file of DIR: each sweeper's journal (entry checksums, a torn "
            "tail), snapshot and saved combinations; every record, run and index log; every "
            "cached artifact against its checksum (all its data is read; --no-artifacts "
            "skips them); and that every combination done in a sweeper has a record.\n\n"
            "--repair moves what is damaged under DIR/quarantine/ (never deletes it) so "
            "that it is recomputed: a quarantined record's combination returns to todo, a "
            "quarantined artifact is made again when needed. A torn journal tail is cut and "
            "damaged entries compacted away, under the sweeper's lock: safe while workers "
            "run. Exits 1 when problems remain."
        ),
        "examples": "sweepstack check results/pi\n  sweepstack check results/pi --repair",
    },
    "cache": {
        "help": "what the artifact cache holds; clean unused or old artifacts",
        "description": (
            "Without options: artifacts and bytes per stage, with the oldest and newest. "
            "--unused lists artifacts no record refers to (made by stage code or "
            "parameters no longer used); --older-than AGE those made longer ago than AGE "
            "(90s, 30m, 12h, 7d, 2w). --clean removes what they list; --clean --unused "
            "keeps artifacts younger than an hour unless --older-than says otherwise, "
            "since a running combination writes its artifacts before its record."
        ),
        "examples": "sweepstack cache results/pi\n  sweepstack cache results/pi --unused\n"
        "  sweepstack cache results/pi --clean --unused --older-than 7d",
    },
}


class _Formatter(argparse.RawDescriptionHelpFormatter):
    def _fill_text(self, text: str, width: int, indent: str) -> str:
        import textwrap

        paragraphs = text.split("\n\n")
        filled = []
        for paragraph in paragraphs:
            if paragraph.startswith(("examples:", "  ")) or "\n  " in paragraph:
                filled.append(textwrap.indent(paragraph, indent))
            else:
                filled.append(
                    textwrap.fill(
                        " ".join(paragraph.split()),
                        width,
                        initial_indent=indent,
                        subsequent_indent=indent,
                    )
                )
        return "\n\n".join(filled)


def build_parser() -> argparse.ArgumentParser:
    """The ``sweepstack`` argument parser, one subparser per subcommand."""
    from sweepstack._version import __version__

    parser = argparse.ArgumentParser(
        prog="sweepstack",
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=_Formatter,
    )
    parser.add_argument("--version", action="version", version=f"sweepstack {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    sub: dict[str, argparse.ArgumentParser] = {}
    for name, text in _COMMANDS.items():
        sub[name] = commands.add_parser(
            name,
            help=text["help"],
            description=text["description"],
            epilog="examples:\n  " + text["examples"],
            formatter_class=_Formatter,
        )
        sub[name].add_argument("dir", metavar="DIR", help="the experiment directory")

    status = sub["status"]
    status.add_argument("--json", action="store_true", help="print one JSON document")
    status.add_argument(
        "--watch",
        nargs="?",
        const=2.0,
        type=float,
        metavar="SECONDS",
        help="refresh every SECONDS (default 2) until Ctrl-C",
    )
    status.add_argument(
        "-v", "--verbose", action="store_true", help="show every level of every factor"
    )

    results = sub["results"]
    form = results.add_mutually_exclusive_group()
    form.add_argument("--csv", action="store_true", help="CSV on stdout")
    form.add_argument("--json", action="store_true", help="a JSON array on stdout (NaN as null)")
    form.add_argument("--sqlite", metavar="FILE", help="write a SQLite table into FILE")
    form.add_argument(
        "--parquet",
        metavar="FILE",
        help="write a Parquet file (needs pyarrow: pip install sweepstack[parquet])",
    )
    results.add_argument(
        "--table",
        default=None,
        help="the table --sqlite replaces (default: results, or history with --history)",
    )
    results.add_argument("--where", metavar="EXPR", help="keep the rows where EXPR is true")
    results.add_argument(
        "--columns", nargs="+", metavar="COLUMN", help="these columns, in this order"
    )
    results.add_argument(
        "--sort",
        nargs="+",
        metavar="COLUMN",
        help="order the rows by these columns (COLUMN:desc, or --sort=-COLUMN, for "
        "descending; default: the parameters, then the fields, as the table shows them)",
    )
    results.add_argument("--sweep", metavar="NAME", help="only the records of this sweep")
    results.add_argument(
        "--verify", action="store_true", help="read every record file, not the index (slower)"
    )
    results.add_argument(
        "--history",
        action="store_true",
        help="one row per completed attempt of each combination, oldest first, with the "
        "code fingerprint of each stage (code.STAGE columns); --sqlite's table: history",
    )

    compare = sub["compare"]
    compare.add_argument("run_a", metavar="RUN_A", help="the earlier run: number or reference")
    compare.add_argument("run_b", metavar="RUN_B", help="the later run: number or reference")
    compare_form = compare.add_mutually_exclusive_group()
    compare_form.add_argument("--csv", action="store_true", help="CSV on stdout")
    compare_form.add_argument("--json", action="store_true", help="a JSON document on stdout")
    compare.add_argument("--sweep", metavar="NAME", help="only the records of this sweep")

    failures = sub["failures"]
    failures.add_argument("--where", metavar="EXPR", help="only the rows where EXPR is true")
    failures.add_argument("--sweep", metavar="NAME", help="only the records of this sweep")
    failures.add_argument(
        "--full", action="store_true", help="show sweepstack's own frames in the tracebacks"
    )
    failures.add_argument("--json", action="store_true", help="a JSON array of the failures")

    sub["runs"].add_argument("--json", action="store_true", help="the run documents as JSON")
    sub["report"].add_argument(
        "-o",
        "--output",
        metavar="PATH",
        help="a .html file, or a folder that gets report.html (default DIR/reports/report.html)",
    )

    reset = sub["reset"]
    reset.add_argument("--inprogress", action="store_true", help="every in-progress claim")
    reset.add_argument("--failed", action="store_true", help="every failed combination")
    reset.add_argument(
        "--stale", action="store_true", help="claims of dead or silent processes only"
    )
    reset.add_argument(
        "--done", action="store_true", help="every done combination (to recompute what changed)"
    )
    reset.add_argument("--sweep", metavar="NAME", help="only this sweeper")

    check = sub["check"]
    check.add_argument(
        "--repair", action="store_true", help="quarantine what is damaged, cut torn tails"
    )
    check.add_argument(
        "--no-artifacts", action="store_true", help="do not read and checksum cached artifacts"
    )
    check.add_argument("--json", action="store_true", help="the problems as JSON")

    from sweepstack.cli._cache import parse_age

    cache = sub["cache"]
    cache.add_argument("--unused", action="store_true", help="artifacts no record refers to")
    cache.add_argument(
        "--older-than", type=parse_age, metavar="AGE", help="artifacts made longer ago than AGE"
    )
    cache.add_argument(
        "--clean", action="store_true", help="remove the artifacts --unused/--older-than select"
    )
    parser._sweepstack_sub = sub  # type: ignore[attr-defined]
    return parser


def _validate(args: argparse.Namespace, sub: dict[str, argparse.ArgumentParser]) -> None:
    """Combinations of options argparse cannot express (exits 2 through ``error``)."""
    if args.command == "reset" and not (args.inprogress or args.failed or args.stale or args.done):
        sub["reset"].error("say what to reset: --stale, --inprogress, --failed and/or --done")
    if args.command == "cache" and args.clean and not args.unused and args.older_than is None:
        sub["cache"].error("--clean removes what --unused or --older-than AGE selects: give one")
    if args.command == "status" and args.watch is not None and args.watch <= 0:
        sub["status"].error("--watch takes a positive number of seconds")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``sweepstack`` command; its exit status (see the module's docstring)."""
    with _interruptible():
        return _main(argv)


@contextlib.contextmanager
def _interruptible() -> Iterator[None]:
    """Within the block Ctrl-C raises KeyboardInterrupt, whatever SIGINT disposition was
    inherited: ``nohup cmd &`` and some CI runners start processes with SIGINT ignored,
    and Python then keeps it ignored, so ``status --watch`` could never be stopped."""
    if threading.current_thread() is not threading.main_thread():
        yield  # handlers can only be set from the main thread
        return
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _validate(args, parser._sweepstack_sub)  # type: ignore[attr-defined]

    from sweepstack.cli._output import Output, error
    from sweepstack.errors import (
        ExperimentNotFoundError,
        FormatVersionError,
        QueryError,
        StoreValueError,
        SweepstackError,
        UnknownRunError,
    )
    from sweepstack.store import open as open_experiment

    out = Output()
    try:
        if not os.path.isdir(args.dir):
            what = "is not a directory" if os.path.exists(args.dir) else "does not exist"
            error(f"{args.dir} {what}: give the experiment directory (the -c DIR of the script)")
            return 2
        experiment = open_experiment(args.dir)
        command = importlib.import_module(f"sweepstack.cli._{args.command}")
        return int(command.run(args, experiment, out))
    except (
        ExperimentNotFoundError,
        FormatVersionError,
        QueryError,
        StoreValueError,
        UnknownRunError,
    ) as err:
        error(str(err))
        return 2
    except SweepstackError as err:
        error(str(err))
        return 1
    except BrokenPipeError:
        # the reader went away (| head): say nothing more, and keep Python from
        # complaining about stdout at exit
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except PermissionError as err:
        from sweepstack.store._atomic import reason_of

        error(f"{err.filename or args.dir}: {reason_of(err)}")
        return 2
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as err:
        error(f"{err.filename or args.dir}: {err.strerror or err}")  # an output path given
        return 2
    except OSError as err:
        error(f"{err.filename or args.dir}: {err.strerror or err}")
        return 1
    except KeyboardInterrupt:
        sys.stderr.write("\n")
        return 130
