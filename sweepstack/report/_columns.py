"""The order of a results table's columns, shared by the report and ``sweepstack results``."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

__all__ = ["FIRST", "LAST", "cell", "order_columns"]

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
