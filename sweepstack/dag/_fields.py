"""Persisted fields of a record: JSON scalars and small containers, checked on assignment.

The store layer owns the rule of what a field may hold; until it provides
``validate_field`` this module applies the same rule itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Callable

from sweepstack.errors import FieldValueError

__all__ = ["FieldDict", "validate_field"]

_MAX_ITEMS = 10_000


def _plain(name: str, value: Any, depth: int, budget: list[int]) -> Any:
    budget[0] -= 1
    if budget[0] < 0:
        raise FieldValueError(name, type(value).__name__, f"more than {_MAX_ITEMS} values")
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return value
    if kind is float:
        return value  # NaN and inf too: valid results, written as JSON's NaN / Infinity
    if depth < 4 and isinstance(value, (list, tuple)):
        return [_plain(name, v, depth + 1, budget) for v in value]
    if depth < 4 and isinstance(value, Mapping):
        out = {}
        for k, v in value.items():
            if type(k) is not str:
                raise FieldValueError(name, type(value).__name__, "dict keys must be str")
            out[k] = _plain(name, v, depth + 1, budget)
        return out
    for base in (bool, int, float, str):  # numpy.float64, IntEnum...: their plain value
        if isinstance(value, base):
            return base(value)
    item = getattr(value, "item", None)
    if item is not None and getattr(value, "ndim", None) == 0:  # numpy scalar
        return _plain(name, item(), depth, budget)
    problem = "nested too deep" if isinstance(value, (list, tuple, Mapping)) else ""
    raise FieldValueError(name, f"{kind.__module__}.{kind.__qualname__}", problem)


def validate_field(name: Any, value: Any) -> Any:
    """``value`` as plain JSON values if it may be a field, else a :class:`FieldValueError`.

    >>> validate_field("error", 0.25)
    0.25

    Raises:
        FieldValueError: not a JSON scalar, or a list or dict of them (4 levels, 10,000
            values at most), or ``name`` is not a str.
    """
    if type(name) is not str:
        raise FieldValueError(repr(name), type(name).__name__, "field names must be str")
    return _plain(name, value, 0, [_MAX_ITEMS])


class FieldDict(dict):
    """A dict whose values are checked by :func:`validate_field` when assigned.

    ``on_set(name, value)`` is called after each assignment (the record uses it to
    remember which stage set which field, so that cache hits restore them).
    """

    def __init__(
        self, *args: Any, on_set: Callable[[str, Any], None] | None = None, **kwargs: Any
    ) -> None:
        super().__init__()
        self._on_set = on_set
        self.update(*args, **kwargs)

    def __setitem__(self, name: str, value: Any) -> None:
        plain = validate_field(name, value)
        super().__setitem__(name, plain)
        if self._on_set is not None:
            self._on_set(name, plain)

    def update(self, *args: Any, **kwargs: Any) -> None:
        items: Iterable[Any] = dict(*args, **kwargs).items()
        for k, v in items:
            self[k] = v

    def setdefault(self, name: str, value: Any = None) -> Any:
        if name not in self:
            self[name] = value
        return self[name]

    def __reduce__(self) -> tuple[Any, ...]:
        return (FieldDict, (dict(self),))
