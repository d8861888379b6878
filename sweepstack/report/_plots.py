"""Plots of numeric fields against numeric factors, drawn with matplotlib as inline SVG.

For a field ``y`` and a factor ``x``: one line per level of the other factors, each
point the mean of ``y`` over the done records at that ``x``. When the other factors
make too many lines, the factor with the most levels is averaged over (and named in
the caption) until few enough remain.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

__all__ = ["MAX_LINES", "MAX_PLOTS", "Plot", "plan_plots", "render_svg"]

MAX_LINES = 8
"""Most lines in one plot."""

MAX_PLOTS = 24
"""Most plots in one report (fields x factors beyond it are left out, and said so)."""

_MISSING = object()


@dataclass
class Plot:
    """One plot: ``lines`` maps a label to its points ``[(x, mean y)]``, sorted by x."""

    sweep: str
    field: str
    factor: str
    lines: dict[str, list[tuple[float, float]]]
    averaged: list[str]
    log_x: bool
    log_y: bool


def _number(value: Any) -> bool:
    kind = type(value)  # documents are parsed JSON: exact types, and True is not a number here
    return kind is float or kind is int


def _flat(mapping: Any, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    if isinstance(mapping, dict):
        for name, value in mapping.items():
            if isinstance(value, dict) and value:
                out.update(_flat(value, f"{prefix}{name}."))
            else:
                out[f"{prefix}{name}"] = value
    return out


def _level_text(value: Any) -> str:
    return "-" if value is _MISSING else str(value)


REPLICATES = frozenset(
    {
        "seed",
        "seeds",
        "rep",
        "reps",
        "repeat",
        "repetition",
        "trial",
        "trials",
        "fold",
        "folds",
        "run",
        "runs",
        "replicate",
    }
)
"""Words that make a factor a replicate (``seed``, ``random_seed``, ``trial``...): it is
averaged over first, and never put on an x axis."""


def _replicate(name: str) -> bool:
    words = re.split(r"[^a-z0-9]+", name.lower())
    return any(word in REPLICATES for word in words) or name.lower().endswith("seed")


def plan_plots(sweep: str, documents: Sequence[dict[str, Any]]) -> list[Plot]:
    """The plots of one sweep's done records (params and fields as stored)."""
    points = [
        (_flat(d.get("params")), _flat(d.get("fields")))
        for d in documents
        if d.get("status") == "done"
    ]
    if len(points) < 2:
        return []
    factors: dict[str, set[Any]] = {}
    for params, _ in points:
        for name, value in params.items():
            try:
                factors.setdefault(name, set()).add(value)
            except TypeError:
                factors.setdefault(name, set()).add(repr(value))
    varying = [f for f, levels in factors.items() if len(levels) > 1]
    numeric_factors = [
        f for f in varying if not _replicate(f) and all(_number(p[f]) for p, _ in points if f in p)
    ]
    fields: list[str] = []
    for _, values in points:
        for name, value in values.items():
            if name not in fields and _number(value) and math.isfinite(value):
                fields.append(name)
    plots = []
    for field_name in fields:
        for factor in numeric_factors:
            others = [f for f in varying if f != factor]
            plot = _plot(sweep, field_name, factor, others, points)
            if plot is not None:
                plots.append(plot)
    return plots


def _level(params: dict[str, Any], name: str) -> Any:
    """The level of factor ``name`` in a row, hashable (``_MISSING`` when it has none)."""
    value = params.get(name, _MISSING)
    if type(value) in (str, int, float, bool) or value is None or value is _MISSING:
        return value
    try:
        hash(value)
    except TypeError:
        return repr(value)
    return value


def _plot(
    sweep: str,
    field_name: str,
    factor: str,
    others: list[str],
    points: list[tuple[dict[str, Any], dict[str, Any]]],
) -> Plot | None:
    usable = [
        (p, f)
        for p, f in points
        if factor in p and _number(f.get(field_name)) and math.isfinite(f[field_name])
    ]
    if len(usable) < 2:
        return None

    # each other factor's level in each usable row, computed once (100,000 rows: a second)
    column_of = {name: [_level(p, name) for p, _ in usable] for name in others}
    widths = {name: len(set(column)) for name, column in column_of.items()}
    # factors constant among these rows say nothing (a sub-factor's parent, say)
    kept = [name for name in others if widths[name] > 1]
    averaged: list[str] = []
    while kept and len(set(zip(*(column_of[name] for name in kept)))) > MAX_LINES:
        widest = max(kept, key=lambda name: (_replicate(name), widths[name]))
        kept.remove(widest)
        averaged.append(widest)
    groups = list(zip(*(column_of[name] for name in kept))) if kept else [()] * len(usable)
    sums: dict[tuple[Any, ...], dict[float, list[float]]] = {}
    for (params, values), group in zip(usable, groups):
        sums.setdefault(group, {}).setdefault(float(params[factor]), []).append(
            float(values[field_name])
        )
    lines: dict[str, list[tuple[float, float]]] = {}
    for group in sorted(sums, key=lambda g: tuple(_level_text(v) for v in g)):
        label = ", ".join(
            f"{name}={_level_text(value)}"
            for name, value in zip(kept, group)
            if value is not _MISSING
        )
        lines[label or field_name] = sorted((x, sum(ys) / len(ys)) for x, ys in sums[group].items())
    xs = [x for line in lines.values() for x, _ in line]
    ys = [y for line in lines.values() for _, y in line]
    if len(set(xs)) < 2:
        return None
    return Plot(
        sweep,
        field_name,
        factor,
        lines,
        averaged,
        log_x=min(xs) > 0 and max(xs) / min(xs) >= 20,
        log_y=min(ys) > 0 and max(ys) / min(ys) >= 100,
    )


def render_svg(plot: Plot, number: int) -> str:
    """The plot as an inline ``<svg>`` element (text kept as text, ids unique per plot).

    Raises:
        ImportError: matplotlib is not installed.
    """
    import matplotlib
    from matplotlib.figure import Figure

    settings: dict[str, Any] = {"svg.fonttype": "none", "svg.hashsalt": f"sweepstack-plot-{number}"}
    with matplotlib.rc_context(cast(Any, settings)):
        figure = Figure(figsize=(5.6, 3.5))
        axes = figure.add_subplot()
        for label, line in plot.lines.items():
            axes.plot([x for x, _ in line], [y for _, y in line], marker="o", ms=3, label=label)
        if plot.log_x:
            axes.set_xscale("log")
        if plot.log_y:
            axes.set_yscale("log")
        axes.set_xlabel(plot.factor)
        axes.set_ylabel(plot.field)
        axes.grid(True, alpha=0.3)
        if len(plot.lines) > 1:
            axes.legend(fontsize=7, loc="best")
        figure.tight_layout()
        buffer = io.StringIO()
        figure.savefig(buffer, format="svg", metadata={"Date": None})
    text = buffer.getvalue()
    return text[text.find("<svg") :]
