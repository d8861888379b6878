"""Persisted fields: JSON scalars and small containers, checked when assigned.

A field is a summary of a result (an error, an accuracy, a small dict of scores) that
shows in the results table. Anything else is refused at the assignment, with the
field's name, rather than when the record is written at the end of a long stage.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator, Mapping, MutableMapping
from typing import Any, Callable

from sweepstack.errors import FieldValueError
from sweepstack.store._format import type_name

__all__ = ["DELETED", "MAX_DEPTH", "MAX_ITEMS", "MAX_STR", "FieldDict", "validate_field"]

MAX_ITEMS = 1000
"""Most scalar values (at every depth, containers not counted) in one field."""
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


_WHOLE: Any = object()
"""Stands for the whole field's value in a refusal (its size, not one item, is at fault)."""


def _numpy_scalar(value: Any) -> Any:
    kind = type(value)
    name = kind.__name__
    if name in ("datetime64", "timedelta64"):
        # .item() gives an int for ns units and a datetime for others: neither round-trips
        raise _Refused(
            value,
            f"a numpy {name}; store str(value) (ISO text) or a number in a unit you name, "
            "e.g. value / numpy.timedelta64(1, 's')",
        )
    item = value.item()
    if type(item) is kind:  # longdouble, clongdouble: .item() keeps the numpy type
        import numpy

        if isinstance(value, numpy.floating):
            return float(value)
        if isinstance(value, numpy.integer):
            return int(value)
        raise _Refused(value, f"a numpy {name} has no JSON equivalent")
    if type(item) in (bool, int, float, str):
        return _scalar(item)
    raise _Refused(value, f"a numpy {name} (its Python value is a {type_name(item)})")


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
        _check_text(value)
        return str.__str__(value)
    kind = type(value)
    if kind.__module__ == "numpy" and getattr(value, "ndim", None) == 0 and hasattr(value, "item"):
        return _numpy_scalar(value)
    if kind.__module__ == "numpy" and hasattr(value, "tolist"):
        raise _Refused(value, "a numpy array; put a small one in a field with .tolist()")
    if isinstance(value, (datetime.date, datetime.time, datetime.timedelta)):
        # pandas.Timestamp is a datetime too; none of them is JSON, and a str read back
        # would not equal what was assigned
        raise _Refused(
            value,
            "dates and times are not stored as fields; store value.isoformat() (a str) "
            "or a number such as a timestamp in seconds, or return it from a stage",
        )
    raise _Refused(value, "")


def _check_text(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        # lone surrogates (from os.fsdecode of bad bytes, say) cannot be written as UTF-8
        raise _Refused(
            text,
            "a str with unpaired surrogates, which is not text; decode its bytes with "
            "errors='replace', or store text.encode('utf-8', 'surrogateescape').hex()",
        ) from None


def _normalize(value: Any, depth: int, count: list[int]) -> Any:
    kind = type(value)
    if kind is str or kind is int or kind is float or kind is bool or value is None:
        count[0] += 1
        if count[0] > MAX_ITEMS:
            raise _Refused(_WHOLE, f"more than {MAX_ITEMS} values in all")
        if kind is str:
            return _scalar(value)  # checks its length and that it is text
        return value
    if isinstance(value, (list, tuple, Mapping)):
        if depth >= MAX_DEPTH:
            raise _Refused(value, f"lists and dicts nested more than {MAX_DEPTH} deep")
        if isinstance(value, Mapping):
            out = {}
            for k, v in value.items():
                if not isinstance(k, str):
                    raise _Refused(k, f"a dict key of type {type_name(k)}; dict keys must be str")
                _check_text(k)
                out[str.__str__(k)] = _normalize(v, depth + 1, count)
            return out
        return [_normalize(v, depth + 1, count) for v in value]
    count[0] += 1
    if count[0] > MAX_ITEMS:
        raise _Refused(_WHOLE, f"more than {MAX_ITEMS} values in all")
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
    found = value if refused.value is _WHOLE else refused.value
    raise FieldValueError(name, type_name(found), refused.problem) from None


class _TrackedDict(dict[str, Any]):
    """A field's dict as read from a FieldDict: changing it in place sets the field again.

    So ``fields["cfg"]["lr"] = 0.2`` is checked and persisted like ``fields["cfg"] = ...``;
    a refused change is undone here and raises :class:`~sweepstack.errors.FieldValueError`.
    """

    __slots__ = ("_commit",)

    def __init__(self, data: Mapping[str, Any], commit: Callable[[], None]) -> None:
        super().__init__((k, _track(v, commit)) for k, v in data.items())
        self._commit = commit

    def _change(self, apply: Callable[[], Any]) -> Any:
        before = dict(self)
        result = apply()
        try:
            self._commit()
        except BaseException:
            dict.clear(self)
            dict.update(self, before)
            raise
        return result

    def __setitem__(self, key: Any, value: Any) -> None:
        self._change(lambda: dict.__setitem__(self, key, _track(value, self._commit)))

    def __delitem__(self, key: Any) -> None:
        self._change(lambda: dict.__delitem__(self, key))

    def update(self, *args: Any, **kwargs: Any) -> None:
        new = dict(*args, **kwargs)
        self._change(
            lambda: dict.update(self, {k: _track(v, self._commit) for k, v in new.items()})
        )

    def __ior__(self, other: Any) -> _TrackedDict:  # type: ignore[misc,override]
        self.update(other)
        return self

    def setdefault(self, key: Any, default: Any = None) -> Any:
        if key in self:
            return dict.__getitem__(self, key)
        self[key] = default
        return dict.__getitem__(self, key)

    def pop(self, key: Any, *default: Any) -> Any:
        if key not in self and default:
            return default[0]
        return self._change(lambda: dict.pop(self, key))

    def popitem(self) -> tuple[Any, Any]:
        return self._change(lambda: dict.popitem(self))

    def clear(self) -> None:
        self._change(lambda: dict.clear(self))

    # attribute access on nested dicts too, as MLtraq's Bunch: fields.cfg.lr = 0.2
    def __getattr__(self, name: str) -> Any:
        if not name.startswith("_") and name in self:
            return dict.__getitem__(self, name)
        raise AttributeError(f"no key {name!r} (keys: {sorted(map(str, self))})")

    def __setattr__(self, name: str, value: Any) -> None:
        if name.startswith("_"):
            object.__setattr__(self, name, value)
        elif hasattr(dict, name):
            raise AttributeError(f"{name!r} is a dict method; assign it by key: [{name!r}] = ...")
        else:
            self[name] = value

    def __delattr__(self, name: str) -> None:
        if name.startswith("_") or name not in self:
            raise AttributeError(name)
        del self[name]

    def __reduce__(self) -> tuple[Any, ...]:
        return (dict, (_plain(self),))


class _TrackedList(list[Any]):
    """A field's list as read from a FieldDict; see :class:`_TrackedDict`."""

    __slots__ = ("_commit",)

    def __init__(self, data: Any, commit: Callable[[], None]) -> None:
        super().__init__(_track(v, commit) for v in data)
        self._commit = commit

    def _change(self, apply: Callable[[], Any]) -> Any:
        before = list(self)
        result = apply()
        try:
            self._commit()
        except BaseException:
            list.__setitem__(self, slice(None), before)
            raise
        return result

    def __setitem__(self, index: Any, value: Any) -> None:
        if isinstance(index, slice):
            value = [_track(v, self._commit) for v in value]
        else:
            value = _track(value, self._commit)
        self._change(lambda: list.__setitem__(self, index, value))

    def __delitem__(self, index: Any) -> None:
        self._change(lambda: list.__delitem__(self, index))

    def append(self, value: Any) -> None:
        self._change(lambda: list.append(self, _track(value, self._commit)))

    def extend(self, values: Any) -> None:
        values = [_track(v, self._commit) for v in values]
        self._change(lambda: list.extend(self, values))

    def __iadd__(self, values: Any) -> _TrackedList:  # type: ignore[misc]
        self.extend(values)
        return self

    def __imul__(self, n: Any) -> _TrackedList:  # type: ignore[misc]
        self._change(lambda: list.__imul__(self, n))
        return self

    def insert(self, index: Any, value: Any) -> None:
        self._change(lambda: list.insert(self, index, _track(value, self._commit)))

    def pop(self, index: Any = -1) -> Any:
        return self._change(lambda: list.pop(self, index))

    def remove(self, value: Any) -> None:
        self._change(lambda: list.remove(self, value))

    def clear(self) -> None:
        self._change(lambda: list.clear(self))

    def sort(self, *args: Any, **kwargs: Any) -> None:
        self._change(lambda: list.sort(self, *args, **kwargs))

    def reverse(self) -> None:
        self._change(lambda: list.reverse(self))

    def __reduce__(self) -> tuple[Any, ...]:
        return (list, (_plain(self),))


def _track(value: Any, commit: Callable[[], None]) -> Any:
    if isinstance(value, (_TrackedDict, _TrackedList)):
        value = _plain(value)
    if type(value) is dict:
        return _TrackedDict(value, commit)
    if type(value) is list:
        return _TrackedList(value, commit)
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


class FieldDict(MutableMapping[str, Any]):
    """A dict of persisted fields that checks every value with :func:`validate_field`.

    Fields can also be set and read as attributes (``fields.accuracy = 0.87``, as in
    MLtraq). A list or dict read from a field changes the field when changed in place
    (``fields["cfg"]["lr"] = 0.2``): it is checked and persisted like an assignment.

    ``on_change(name, value)`` is called before a change is applied (``value`` is
    :data:`DELETED` for a deletion); if it raises, the dict is unchanged. It is not
    pickled: an unpickled FieldDict holds the same values and persists nothing.

    >>> fields = FieldDict()
    >>> fields["error"] = 0.01
    >>> fields.accuracy = 0.87
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
        object.__setattr__(self, "_data", {})
        for name, value in (data or {}).items():
            self._data[name] = validate_field(name, value)
        object.__setattr__(self, "_on_change", on_change)

    def __getitem__(self, name: str) -> Any:
        value = self._data[name]
        if type(value) is dict or type(value) is list:
            # a copy whose in-place changes come back through __setitem__, checked
            root: list[Any] = []
            tracked = _track(value, lambda: self.__setitem__(name, root[0]))
            root.append(tracked)
            return tracked
        return value

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

    # --- attribute access, MLtraq's idiom ----------------------------------------------

    def __getattr__(self, name: str) -> Any:
        # only called when normal lookup fails: methods and private names win
        if not name.startswith("_"):
            data = self.__dict__.get("_data")
            if data is not None and name in data:
                return self[name]
        raise AttributeError(
            f"no field {name!r} (fields: {sorted(self.__dict__.get('_data', {}))})"
        )

    def __setattr__(self, name: str, value: Any) -> None:
        if name.startswith("_"):
            object.__setattr__(self, name, value)
            return
        if hasattr(type(self), name):
            raise AttributeError(
                f"{name!r} is a method of fields and cannot be set as an attribute; "
                f"assign it by name: fields[{name!r}] = ..."
            )
        self[name] = value

    def __delattr__(self, name: str) -> None:
        if name.startswith("_") or name not in self._data:
            raise AttributeError(name)
        del self[name]

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | {n for n in self._data if n.isidentifier()})

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
