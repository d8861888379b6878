"""Ranges of a factor for :func:`~sweepstack.sample`: uniform, log-uniform and integer.

They follow Optuna's distributions (``FloatDistribution(low, high, log=...)``,
``IntDistribution(low, high)``): both bounds are given, ``randint``'s are inclusive, and
a log-uniform range needs a positive low bound. Each maps a number ``u`` in [0, 1) to a
value, so that every sampling method (random, Sobol, Latin hypercube) draws ``u`` and
this module alone decides what a factor's value is.
"""

from __future__ import annotations

import math
from typing import Any, Union

from sweepstack.errors import SweepSpecError

__all__ = ["Distribution", "loguniform", "randint", "uniform"]

Number = Union[int, float]


def _number(name: str, value: Any, integral: bool = False) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SweepSpecError(
            name, f"bounds must be numbers, got {value!r} ({type(value).__name__})"
        )
    if integral and not (isinstance(value, int) or float(value).is_integer()):
        raise SweepSpecError(name, f"bounds must be integers, got {value!r}")
    if not math.isfinite(value):
        raise SweepSpecError(name, f"bounds must be finite, got {value!r}")
    return int(value) if integral else value


class Distribution:
    """A range of values of one factor, drawn by :func:`~sweepstack.sample`.

    Subclasses map ``u`` in [0, 1) to a value (:meth:`at`) and tell whether a value lies
    in the range (:meth:`contains`, used by ``--only``).
    """

    name = "distribution"
    __slots__ = ("high", "low")

    def __init__(self, low: Number, high: Number) -> None:
        self.low = low
        self.high = high
        if low > high:
            raise SweepSpecError(self.name, f"low bound {low!r} is above high bound {high!r}")

    def at(self, u: float) -> Any:
        """The value at ``u`` in [0, 1)."""
        raise NotImplementedError

    def contains(self, value: Any) -> bool:
        """Whether ``value`` is in the range (bounds included)."""
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        return self.low <= value <= self.high

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return False
        assert isinstance(other, Distribution)
        return (self.low, self.high) == (other.low, other.high)

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.low, self.high))

    def __repr__(self) -> str:
        return f"{self.name}({self.low!r}, {self.high!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.low, self.high))


class uniform(Distribution):
    """Floats spread evenly between ``low`` and ``high``.

    >>> uniform(0.0, 2.0).at(0.25)
    0.5
    """

    name = "uniform"
    __slots__ = ()

    def __init__(self, low: Number, high: Number) -> None:
        super().__init__(_number(self.name, low), _number(self.name, high))

    def at(self, u: float) -> float:
        return min(float(self.high), self.low + u * (self.high - self.low))


class loguniform(Distribution):
    """Floats whose logarithm is spread evenly: as many between 1e-4 and 1e-3 as
    between 1e-2 and 1e-1 (Optuna's ``log=True``).

    >>> round(loguniform(1e-4, 1e-2).at(0.5), 10)
    0.001
    """

    name = "loguniform"
    __slots__ = ()

    def __init__(self, low: Number, high: Number) -> None:
        low, high = _number(self.name, low), _number(self.name, high)
        if low <= 0:
            raise SweepSpecError(self.name, f"low bound must be above 0, got {low!r}")
        super().__init__(low, high)

    def at(self, u: float) -> float:
        lo, hi = math.log(self.low), math.log(self.high)
        return min(float(self.high), max(float(self.low), math.exp(lo + u * (hi - lo))))


class randint(Distribution):
    """Integers from ``low`` to ``high``, both included (Optuna's ``IntDistribution``).

    >>> [randint(1, 3).at(u) for u in (0.0, 0.5, 0.99)]
    [1, 2, 3]
    """

    name = "randint"
    __slots__ = ()

    def __init__(self, low: int, high: int) -> None:
        super().__init__(_number(self.name, low, True), _number(self.name, high, True))

    def at(self, u: float) -> int:
        return int(min(self.high, self.low + int(u * (self.high - self.low + 1))))

    def contains(self, value: Any) -> bool:
        return super().contains(value) and float(value).is_integer()
