"""Persisted fields: JSON scalars and small containers, checked when assigned.

A field is a summary of a result (an error, an accuracy, a small dict of scores) that
shows in the results table. Anything else is refused at the assignment, with the
field's name, rather than when the record is written at the end of a long stage.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, MutableMapping
from typing import Any, Callable

from sweepstack.errors import FieldValueError
from sweepstack.store._format import type_name

__all__ = ["DELETED", "MAX_DEPTH", "MAX_ITEMS", "MAX_STR", "FieldDict", "validate_field"]

MAX_ITEMS = 1000
"""Most values (scalars and containers, at every depth) in one field."""
MAX_DEPTH = 4
"""Most nesting levels of lists and dicts in one field."""
MAX_STR = 65536
"""Longest string, in characters, anywhere in a field."""

DELETED: Any = object()
"""Passed to a :class:`FieldDict`'s ``on_change`` for a deleted field."""


class _Refused(Exception):
    def __init__(self, value: Any, problem: str) -> None:
        self.value = value
        self.problem = problem


def _scalar(value: Any) -> Any:
    """The plain Python scalar for ``value``, or raise _Refused."""
    # subclasses (IntEnum, numpy.float64, str enums) are stored as their plain value, so
    # that what is read back equals what was assigned
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        if len(value) > MAX_STR:
            raise _Refused(value, f"a string of {len(value):,} characters, more than {MAX_STR:,}")
        return str.__str__(value)
    kind = type(value)
    if kind.__module__ == "numpy" and getattr(value, "ndim", None) == 0 and hasattr(value, "item"):
        return _scalar(value.item())
    if kind.__module__ == "numpy" and hasattr(value, "tolist"):
        raise _Refused(value, "a numpy array; put a small one in a field with .tolist()")
    raise _Refused(value, "")


def _normalize(value: Any, depth: int, count: list[int]) -> Any:
    count[0] += 1
    if count[0] > MAX_ITEMS:
        raise _Refused(value, f"more than {MAX_ITEMS} values in all")
    kind = type(value)
    if kind is str or kind is int or kind is float or kind is bool or value is None:
        if kind is str and len(value) > MAX_STR:
            return _scalar(value)  # raises with the length
        return value
    if isinstance(value, (list, tuple, Mapping)):
        if depth >= MAX_DEPTH:
            raise _Refused(value, f"lists and dicts nested more than {MAX_DEPTH} deep")
        if isinstance(value, Mapping):
            out = {}
            for k, v in value.items():
                if not isinstance(k, str):
                    raise _Refused(k, f"a dict key of type {type_name(k)}; dict keys must be str")
                out[str.__str__(k)] = _normalize(v, depth + 1, count)
            return out
        return [_normalize(v, depth + 1, count) for v in value]
    return _scalar(value)


def validate_field(name: str, value: Any) -> Any:
    """Check a field's value and return it as plain JSON types (tuples become lists).

    >>> validate_field("scores", {"f1": 0.5, "per_class": (0.25, 0.75)})
    {'f1': 0.5, 'per_class': [0.25, 0.75]}

    Raises:
        FieldValueError: ``name`` is not a non-empty str, or ``value`` is not None, a
            bool, int, float or str, or a small list or dict of those (at most
            :data:`MAX_ITEMS` values, :data:`MAX_DEPTH` levels, strings of at most
            :data:`MAX_STR` characters). The error names the field.
    """
    if not isinstance(name, str) or not name:
        raise FieldValueError(repr(name), type_name(value), "a field name is a non-empty str")
    try:
        return _normalize(value, 0, [0])
    except _Refused as refused:
        return _raise(name, value, refused)
    except RecursionError:
        raise FieldValueError(name, type_name(value), "a structure that contains itself") from None


def _raise(name: str, value: Any, refused: _Refused) -> Any:
    raise FieldValueError(name, type_name(refused.value), refused.problem) from None


class FieldDict(MutableMapping[str, Any]):
    """A dict of persisted fields that checks every value with :func:`validate_field`.

    ``on_change(name, value)`` is called before a change is applied (``value`` is
    :data:`DELETED` for a deletion); if it raises, the dict is unchanged. It is not
    pickled: an unpickled FieldDict holds the same values and persists nothing.

    >>> fields = FieldDict()
    >>> fields["error"] = 0.01
    >>> fields["model"] = object()  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    sweepstack.errors.FieldValueError: field 'model' got a value of type object; ...

    Raises:
        FieldValueError: on assignment of a value that is not a field value.
    """

    def __init__(
        self,
        data: Mapping[str, Any] | None = None,
        on_change: Callable[[str, Any], None] | None = None,
    ) -> None:
        self._data: dict[str, Any] = {}
        for name, value in (data or {}).items():
            self._data[name] = validate_field(name, value)
        self._on_change = on_change

    def __getitem__(self, name: str) -> Any:
        return self._data[name]

    def __setitem__(self, name: str, value: Any) -> None:
        value = validate_field(name, value)
        if self._on_change is not None:
            self._on_change(name, value)
        self._data[name] = value

    def __delitem__(self, name: str) -> None:
        if name not in self._data:
            raise KeyError(name)
        if self._on_change is not None:
            self._on_change(name, DELETED)
        self._data.pop(name, None)  # on_change may have reloaded the dict already

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def to_dict(self) -> dict[str, Any]:
        """A plain dict copy of the fields."""
        return dict(self._data)

    def _replace_all(self, data: Mapping[str, Any]) -> None:
        """Take the values another process persisted (already checked when written)."""
        self._data = dict(data)

    def __repr__(self) -> str:
        return f"FieldDict({self._data!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (FieldDict, (self._data,))
