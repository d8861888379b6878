"""HTML reports of an experiment: one self-contained file, and the notebook overview.

>>> path = write_report("results/pi")  # doctest: +SKIP
>>> path
'.../results/pi/reports/report.html'

The report reads the experiment through the public API (``sweepstack.open`` and the
read-only :class:`~sweepstack.ParamSweeper`), takes no lock, and can be made while
workers run. It holds no reference to the network: styles, script, plots (SVG, made
with matplotlib when it is installed) and reportables are inlined.
"""

from __future__ import annotations

import os
import uuid

from sweepstack.report._collect import collect, runs_of, sweeper_progress
from sweepstack.report._html import page
from sweepstack.store import Experiment
from sweepstack.store import open as open_experiment

__all__ = ["REPORT_FILE", "overview_html", "report_html", "write_report"]

REPORT_FILE = "report.html"
"""The report's name in ``DIR/reports/`` when no other path is given."""


def _experiment(experiment: Experiment | str | os.PathLike[str]) -> Experiment:
    return experiment if isinstance(experiment, Experiment) else open_experiment(experiment)


def report_html(experiment: Experiment | str | os.PathLike[str]) -> str:
    """The whole report of an experiment (or of the experiment directory at a path).

    Raises:
        ExperimentNotFoundError: the path is not an experiment directory.
        FormatVersionError: it was written by a newer sweepstack.
    """
    return page(collect(_experiment(experiment)))


def write_report(
    experiment: Experiment | str | os.PathLike[str], output: str | os.PathLike[str] | None = None
) -> str:
    """Write the report to ``output`` (default ``DIR/reports/report.html``); its path.

    An ``output`` that is a folder, or whose name does not end in ``.html`` (or
    ``.htm``), names a folder, created when missing, that gets ``report.html``: a
    browser would show an HTML file named without the suffix as text.

    The file is replaced atomically: a browser reloading it never sees half a report.

    Raises:
        ExperimentNotFoundError: the path is not an experiment directory.
        FormatVersionError: it was written by a newer sweepstack.
        OSError: the file cannot be written.
    """
    exp = _experiment(experiment)
    text = report_html(exp)
    path = os.path.abspath(
        os.fspath(output)
        if output is not None
        else os.path.join(exp.directory.reports_dir, REPORT_FILE)
    )
    if os.path.isdir(path) or not path.lower().endswith((".html", ".htm")):
        path = os.path.join(path, REPORT_FILE)
    folder = os.path.dirname(path)
    os.makedirs(folder, exist_ok=True)
    temporary = os.path.join(folder, f".{os.path.basename(path)}.{uuid.uuid4().hex[:8]}.sstmp")
    try:
        with open(temporary, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise
    return path


def overview_html(experiment: Experiment | str | os.PathLike[str]) -> str:
    """The report's overview (identity, progress of every sweeper, runs) as an HTML fragment,
    styled on its own: what ``Experiment._repr_html_`` shows in a notebook."""
    from sweepstack.report._assets import CSS
    from sweepstack.report._html import overview_section

    exp = _experiment(experiment)
    runs, _ = runs_of(exp)
    scoped = CSS.replace(".ssr", ".ssr-overview")
    return (
        f'<div class="ssr-overview"><style>{scoped}</style>'
        f"{overview_section(exp, runs, sweeper_progress(exp))}</div>"
    )
