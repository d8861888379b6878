"""The order of a results table's columns, shared by the report and ``sweepstack results``."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from typing import Any

__all__ = ["FIRST", "LAST", "cell", "order_columns", "sort_rows"]

FIRST = ("sweep", "key", "status")
"""Columns before the parameters and fields."""

LAST = ("run", "host", "attempt", "started", "ended", "duration", "exception")
"""Columns after them."""

_FIXED = frozenset(FIRST + LAST)


def order_columns(rows: Iterable[dict[str, Any]]) -> list[str]:
    """Every column of ``rows``: FIRST, then parameters and fields, then LAST.

    Parameters and fields keep the order they have in the rows; a name seen only in
    some rows (a factor of one sub-sweep) is placed after the name that precedes it
    in the first row that has it.

    >>> order_columns([{"sweep": "main", "n": 1, "error": 0.1},
    ...                {"sweep": "main", "n": 2, "pairs": True, "error": 0.2}])
    ['sweep', 'n', 'pairs', 'error']
    """
    extras: list[str] = []
    known: set[str] = set()
    fixed_seen: set[str] = set()
    layouts: set[tuple[str, ...]] = set()
    for row in rows:
        layout = tuple(row)
        if layout in layouts:
            continue  # the usual case: the same columns as an earlier row
        layouts.add(layout)
        previous: str | None = None
        for name in layout:
            if name in _FIXED:
                fixed_seen.add(name)
                continue
            if name not in known:
                known.add(name)
                extras.insert(extras.index(previous) + 1 if previous is not None else 0, name)
            previous = name
    return [c for c in FIRST if c in fixed_seen] + extras + [c for c in LAST if c in fixed_seen]


def cell(value: Any) -> Any:
    """A value as JSON can hold it: non-finite floats become None."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _order_key(value: Any) -> tuple[Any, ...]:
    """A key under which any two cells compare: numbers, then text, then other values,
    then missing ones (a factor of another sub-sweep) and NaN."""
    if isinstance(value, str):
        return (1, value)
    if isinstance(value, (int, float)):  # bool too: True sorts as 1
        return (3, 0) if value != value else (0, value)
    if value is None:
        return (3, 0)
    try:
        return (2, json.dumps(value, sort_keys=True, default=str))
    except (TypeError, ValueError):  # keys of mixed types cannot be sorted
        return (2, repr(value))


def _sortable(values: list[Any]) -> list[Any]:
    """The values of one column as sort keys: themselves when they are all text, or all
    numbers (the usual case, and the fast one), else :func:`_order_key` of each."""
    if all(type(v) is str for v in values):
        return values
    if all((type(v) is int or type(v) is float) and v == v for v in values):
        return values
    return [_order_key(v) for v in values]


def sort_rows(
    rows: list[dict[str, Any]], by: Sequence[tuple[str, bool]] | None = None
) -> list[dict[str, Any]]:
    """Sort ``rows`` in place by ``(column, descending)`` pairs and return them.

    By default: by the parameters and fields, in the order :func:`order_columns` gives
    them, so that a table reads like the sweep. Ties are broken by key, so the same
    rows always come in the same order whatever the order of the files.

    >>> [r["n"] for r in sort_rows([{"key": "b", "n": 2}, {"key": "a", "n": 1}])]
    [1, 2]
    """
    if not rows:
        return rows
    if by is None:
        by = [(name, False) for name in order_columns(rows) if name not in _FIXED]
    by = [*by, ("key", False)]
    # runs of columns in one direction sort together under one tuple key; runs are
    # sorted last first (sorts are stable), so that the first column decides first
    runs: list[tuple[list[str], bool]] = []
    for name, descending in by:
        if runs and runs[-1][1] == descending:
            runs[-1][0].append(name)
        else:
            runs.append(([name], descending))
    for names, descending in reversed(runs):
        columns = [_sortable([row.get(n) for row in rows]) for n in names]
        keys = list(zip(*columns))
        order = sorted(range(len(rows)), key=keys.__getitem__, reverse=descending)
        rows[:] = [rows[i] for i in order]
    return rows
