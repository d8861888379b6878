"""The order in which several workers claim combinations: spread over upstream keys.

A sweep lists combinations with its last factor varying fastest, so the first
combinations share their first factors, and with them the artifacts of the stages
that read only those (a data set, a trained model). Workers that claim them together
would all need the same upstream artifact at once: one computes it under its stage
lease and the others wait. Claiming with the *first* factor varying fastest instead
hands the workers different upstream keys from the start, so they compute them side
by side; later claims find them cached. Every combination is still handed out once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Callable

__all__ = ["spread_order"]


def spread_order() -> Callable[[Mapping[str, Any]], tuple[int, ...]]:
    """A key function for ``ParamSweeper(order=...)``: first factor fastest.

    Levels are numbered in the order the key first sees them, which is the sweep's
    order (``sorted`` computes the keys of its input in order), so no pass over the
    sweep is needed first.

    >>> from sweepstack import sweep
    >>> space = sweep({"a": [0, 1], "b": ["x", "y"]})
    >>> [tuple(c.values()) for c in sorted(space, key=spread_order())]
    [(0, 'x'), (1, 'x'), (0, 'y'), (1, 'y')]
    """
    levels: dict[str, dict[str, int]] = {}

    def key(combination: Mapping[str, Any]) -> tuple[int, ...]:
        digits = []
        for factor, value in combination.items():
            seen = levels.setdefault(factor, {})
            level = f"{type(value).__name__}:{value!r}"  # 1, 1.0 and True are other levels
            digits.append(seen.setdefault(level, len(seen)))
        digits.reverse()
        return tuple(digits)

    return key
