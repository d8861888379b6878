"""``sweepstack compare DIR RUN_A RUN_B``: the fields that changed between two runs."""

from __future__ import annotations

import csv
import json
from argparse import Namespace

from sweepstack.cli._output import Output, warn
from sweepstack.errors import QueryError
from sweepstack.report._columns import cell, order_columns, sort_rows
from sweepstack.store import Experiment

__all__ = ["run"]


def run(args: Namespace, experiment: Experiment, out: Output) -> int:
    if args.sweep is not None and args.sweep not in experiment.sweeps():
        raise QueryError(
            f"--sweep {args.sweep}",
            f"no records of that sweep; sweeps: {', '.join(experiment.sweeps()) or 'none yet'}",
        )
    runs = {r.reference: r for r in experiment.runs}
    a, b = (experiment.run_reference(r) for r in (args.run_a, args.run_b))
    # a worker's run stands for its launch, as compare() counts it
    a, b = (str(runs[r].get("parent") or r) if r in runs else r for r in (a, b))
    changed, counts = experiment.compare(a, b, sweep=args.sweep)
    errors = changed.errors
    rows = sort_rows(list(changed))  # by the parameters, as `results` orders them
    head = [c for c in order_columns(rows) if c not in ("field", "a", "b")] if rows else []
    columns = [*head, "field", "a", "b"]
    if args.json:
        items = [{c: cell(r.get(c)) for c in columns if c in r} for r in rows]
        document = {"run_a": a, "run_b": b, "counts": counts, "changed": items}
        out.stream.write(json.dumps(document, ensure_ascii=False, default=str, indent=1) + "\n")
    elif args.csv:
        writer = csv.writer(out.stream, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([r.get(c) for c in columns] for r in rows)
    else:
        one_sweep = len({r.get("sweep") for r in rows}) <= 1
        shown = [c for c in columns if c != "key" and not (c == "sweep" and one_sweep)]
        names = {"a": a, "b": b}
        if rows:
            out.table([names.get(c, c) for c in shown], [[r.get(c) for c in shown] for r in rows])
        out.line(
            f"{counts['changed']} of {counts['both']} combination(s) done in both runs "
            f"changed ({len(rows)} field(s)); done only in {a}: {counts['only_a']}, "
            f"only in {b}: {counts['only_b']}"
        )
    if errors:
        warn(
            f"{len(errors)} unreadable record(s) left out; `sweepstack check "
            f"{experiment.path}` lists them"
        )
    return 0
