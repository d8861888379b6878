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

from sweepstack.report._collect import collect, runs_of, sweeper_progress
from sweepstack.report._html import page
from sweepstack.store import Experiment
from sweepstack.store import open as open_experiment
from sweepstack.store._atomic import atomic_write
from sweepstack.store._experiment import set_notebook_view
from sweepstack.store._format import REPORT_FILE

__all__ = ["REPORT_FILE", "overview_html", "report_html", "write_report"]


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
    path = os.path.abspath(os.fspath(output)) if output is not None else exp.directory.report_path
    if os.path.isdir(path) or not path.lower().endswith((".html", ".htm")):
        path = os.path.join(path, REPORT_FILE)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    atomic_write(path, text)
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


# the notebook view of an experiment (Experiment._repr_html_): the store, below every other
# layer, cannot import the report; the report registers its overview with the store instead
set_notebook_view(overview_html)
