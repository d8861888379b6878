"""``sweepstack report``: write the self-contained HTML report."""

from __future__ import annotations

import time
from argparse import Namespace

from sweepstack.cli._output import Output
from sweepstack.report import write_report
from sweepstack.store import Experiment

__all__ = ["run"]


def run(args: Namespace, experiment: Experiment, out: Output) -> int:
    started = time.monotonic()
    path = write_report(experiment, args.output)
    out.line(f"wrote {path} ({time.monotonic() - started:.1f}s)")
    return 0
