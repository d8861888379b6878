"""The ``sweepstack`` command (console script, and ``python -m sweepstack``).

    sweepstack status DIR [--json] [--watch [SECONDS]]
    sweepstack results DIR [--csv | --json | --sqlite FILE] [--where EXPR] [--columns ...]
    sweepstack runs DIR
    sweepstack report DIR [-o FILE]
    sweepstack reset DIR [--inprogress] [--failed] [--stale]
    sweepstack check DIR [--repair]
    sweepstack cache DIR [--unused] [--older-than AGE] [--clean]

Each subcommand is one private module; all of them read and write the experiment
through the public API only (``sweepstack.open``, ``ParamSweeper``...). See
``docs/cli.md``.
"""

from sweepstack.cli._main import main

__all__ = ["main"]
