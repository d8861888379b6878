"""``sweepstack failures``: each failed combination's params, stage, exception and traceback.

The traceback starts at the user's frame: sweepstack's own frames are folded into one
line (``--full`` shows them). ``--where`` and ``--sweep`` select as in ``results``.
"""

from __future__ import annotations

import json
from argparse import Namespace
from typing import Any

from sweepstack._tracebacks import fold
from sweepstack.cli._output import Output, fmt, warn
from sweepstack.cli._results import _select
from sweepstack.errors import CorruptEntryError, QueryError
from sweepstack.store import Experiment

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


def run(args: Namespace, experiment: Experiment, out: Output) -> int:
    if args.sweep is not None and args.sweep not in experiment.sweeps():
        raise QueryError(
            f"--sweep {args.sweep}",
            f"no records of that sweep; sweeps: {', '.join(experiment.sweeps()) or 'none yet'}",
        )
    args.sort = None
    args.verify = False
    rows, unreadable = _select(args, experiment)
    failures = [_failure(experiment, r, args.full) for r in rows if r.get("status") == "failed"]
    if args.json:
        out.stream.write(json.dumps(failures, indent=2, ensure_ascii=False, default=str) + "\n")
    else:
        _show(failures, out, len({f["sweep"] for f in failures}) > 1)
    if unreadable:
        warn(
            f"{unreadable} unreadable record(s) left out; `sweepstack check {experiment.path}` "
            "lists them"
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
        for line in (failure["traceback"] or "(no traceback recorded)").rstrip("\n").split("\n"):
            out.line("   " + line)
        out.line()
    out.line(f"{len(failures)} failed combination(s)")
