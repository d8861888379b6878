"""``sweepstack failures``: each failed combination's params, stage, exception and traceback.

The traceback starts at the user's frame: sweepstack's own frames are folded into one
line (``--full`` shows them). ``--where`` and ``--sweep`` select as in ``results``.
Combinations failed in a sweeper without a record (``ParamSweeper.fail`` called
directly, or a record lost) are listed too, with the type and message the sweeper
keeps and no traceback.
"""

from __future__ import annotations

import json
import warnings
from argparse import Namespace
from typing import Any

from sweepstack._tracebacks import fold
from sweepstack.cli._output import Output, fmt, warn
from sweepstack.cli._where import Where
from sweepstack.dag._keys import jsonable
from sweepstack.errors import CorruptEntryError, JournalWarning, QueryError, SweepstackError
from sweepstack.report._columns import order_columns
from sweepstack.store import Experiment
from sweepstack.store._results import row
from sweepstack.sweep import ParamSweeper

__all__ = ["run"]

_NOT_PARAMS = frozenset(
    {"sweep", "key", "status", "run", "host", "pid", "attempt", "started", "ended", "duration",
     "exception"}
)  # fmt: skip


def _failure(experiment: Experiment, row: dict[str, Any], full: bool) -> dict[str, Any]:
    """What to show of one failed row, from its whole record (the index has no traceback)."""
    try:
        document = experiment.record(row["key"], row["sweep"]) or {}
    except CorruptEntryError:
        document = {}
    exception = document.get("exception") or row.get("exception") or {}
    if not isinstance(exception, dict):  # a results row's "type: message"
        kind, _, message = str(exception).partition(": ")
        exception = {"type": kind, "message": message}
    text = exception.get("traceback_full") if full else None
    if text is None:
        text = exception.get("traceback") or ""
        text = text if full else fold(text)  # records written before folding existed
    params = document.get("params")
    if not isinstance(params, dict):
        params = {k: v for k, v in row.items() if k not in _NOT_PARAMS}
    return {
        "sweep": row.get("sweep"),
        "key": row.get("key"),
        "params": params,
        "stage": exception.get("stage"),
        "type": exception.get("type"),
        "message": exception.get("message"),
        "run": row.get("run"),
        "host": row.get("host"),
        "ended": row.get("ended"),
        "traceback": text,
    }


def _sweeper_only(
    experiment: Experiment, sweep: str | None, seen: set[tuple[Any, Any]]
) -> list[dict[str, Any]]:
    """Rows of the combinations failed in a sweeper that have no record."""
    rows = []
    for name, path in experiment.directory.sweeper_dirs().items():
        if sweep is not None and name != sweep:
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", JournalWarning)
                sweeper = ParamSweeper(path, readonly=True, name=name)
        except (SweepstackError, OSError):
            continue  # `sweepstack status` and `check` say what is wrong with it
        for key, info in sweeper.failures().items():
            if (name, key) in seen:
                continue
            summary = {
                "key": key,
                "status": "failed",
                "params": jsonable(dict(sweeper.combination(key))),
                "exception": {"type": info.get("type"), "message": info.get("message")},
            }
            rows.append(row(name, summary))
    return rows


def run(args: Namespace, experiment: Experiment, out: Output) -> int:
    sweeps = set(experiment.sweeps()) | set(experiment.directory.sweeper_dirs())
    if args.sweep is not None and args.sweep not in sweeps:
        raise QueryError(
            f"--sweep {args.sweep}",
            f"no such sweep; sweeps: {', '.join(sorted(sweeps)) or 'none yet'}",
        )
    results = experiment.results(sweep=args.sweep if args.sweep in experiment.sweeps() else None)
    rows = [r for r in results if args.sweep is None or r.get("sweep") == args.sweep]
    rows += _sweeper_only(experiment, args.sweep, {(r.get("sweep"), r.get("key")) for r in rows})
    if args.where:
        keep = Where(args.where, order_columns(rows) if rows else None)
        rows = [r for r in rows if keep(r)]
    failures = [_failure(experiment, r, args.full) for r in rows if r.get("status") == "failed"]
    if args.json:
        out.stream.write(json.dumps(failures, indent=2, ensure_ascii=False, default=str) + "\n")
    else:
        _show(failures, out, len({f["sweep"] for f in failures}) > 1)
    if results.errors:
        warn(
            f"{len(results.errors)} unreadable record(s) left out; `sweepstack check "
            f"{experiment.path}` lists them"
        )
    return 0


def _show(failures: list[dict[str, Any]], out: Output, sweeps: bool) -> None:
    for failure in failures:
        params = ", ".join(f"{name}={fmt(value)}" for name, value in failure["params"].items())
        where = f" (sweep {failure['sweep']})" if sweeps else ""
        out.heading(f"── {failure['key']}{where}: {params}")
        facts = [
            f"stage {failure['stage']}" if failure["stage"] else "outside any stage",
            f"run {failure['run']}" if failure["run"] else None,
            f"host {failure['host']}" if failure["host"] else None,
            failure["ended"],
        ]
        out.line("   " + " · ".join(f for f in facts if f))
        kind = (failure["type"] or "?").rpartition(".")[2]
        out.line(f"   {kind}: {failure['message']}", "bold red")
        text = failure["traceback"] or "(no traceback recorded: no record of this combination)"
        for line in text.rstrip("\n").split("\n"):
            out.line("   " + line)
        out.line()
    out.line(f"{len(failures)} failed combination(s)")
