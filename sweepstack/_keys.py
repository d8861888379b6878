"""Stable names for combinations: :func:`param_key`.

A key is the first 128 bits, in hex, of the SHA-256 of a canonical text of the
combination. The canonical text tags every value with its type, writes floats
exactly (``float.hex``), prefixes strings with their length and sorts dict items
by their canonical key, so a key depends on nothing but the values: not on dict
order, ``PYTHONHASHSEED``, the process, the host or the Python version. ``1``,
``1.0`` and ``True`` get different keys.

Keys name combinations in sweeper journals, records and the cache, so this text
must never change for existing values: golden keys are pinned in the tests.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Mapping
from typing import Any, Callable

from sweepstack.errors import UnkeyableValueError

__all__ = ["KEY_LENGTH", "canonical", "param_key", "register_key_type"]

KEY_LENGTH = 32
"""Hex digits in a key (128 bits)."""

_PREFIX = "sk1|"  # bumped only together with a format migration of every stored key

_key_types: dict[type, tuple[str, Callable[[Any], Any]]] = {}
_key_types_lock = threading.Lock()


def register_key_type(cls: type, to_keyable: Callable[[Any], Any], name: str | None = None) -> None:
    """Let values of ``cls`` appear in combinations.

    ``to_keyable(value)`` must return a keyable value (str, int, tuple...) that is
    equal for equal values. ``name`` (default: the class's qualified name) is part of
    the key, so that a value of ``cls`` never collides with its keyable form.

    >>> from fractions import Fraction
    >>> register_key_type(Fraction, lambda f: (f.numerator, f.denominator))
    >>> param_key({"x": Fraction(1, 3)}) == param_key({"x": Fraction(2, 6)})
    True

    A class may instead define ``__sweepstack_key__(self)`` returning a keyable value.
    """
    label = name or f"{cls.__module__}.{cls.__qualname__}"
    with _key_types_lock:
        _key_types[cls] = (label, to_keyable)


class _Unkeyable(Exception):
    """Raised inside the encoder; each container on the way up prepends its part of the path."""

    def __init__(self, type_name: str) -> None:
        self.type_name = type_name
        self.parts: list[Any] = []


def _encode(value: Any, out: list[str]) -> None:
    kind = type(value)
    if kind is str:
        out.append(f"s{len(value)}:")
        out.append(value)
    elif kind is int:
        out.append(f"i{value};")
    elif kind is float:
        out.append(f"f{value.hex()};")
    elif kind is bool:
        out.append("T" if value else "F")
    elif value is None:
        out.append("N")
    elif kind is tuple or kind is list:
        out.append("(" if kind is tuple else "[")
        for i, item in enumerate(value):
            try:
                _encode(item, out)
            except _Unkeyable as err:
                err.parts.insert(0, i)
                raise
        out.append(")" if kind is tuple else "]")
    elif isinstance(value, Mapping):
        out.append("{")
        out.extend(_encoded_items(value))
        out.append("}")
    else:
        _encode_other(value, out)


_SCALARS = (str, int, float, bool, type(None))
_PLAIN_BASES: tuple[Any, ...] = (bool, int, float, str, tuple, list)  # bool first: it is an int
_item_memo: dict[tuple[Any, type, Any], str] = {}
_ITEM_MEMO_SIZE = 100_000


def _encoded_items(mapping: Mapping[Any, Any]) -> list[str]:
    """The canonical text of each (key, value) item, sorted.

    The encoding is prefix-free, so sorting whole items sorts them by key. Items with a
    str key and a scalar value are memoised: a sweep of a million combinations has only
    as many distinct items as it has levels, and this is its hot path.
    """
    items = []
    for k, v in mapping.items():
        vkind = type(v)
        # floats equal to zero or NaN stay out: -0.0 == 0.0 but keys apart, and NaN != NaN
        if type(k) is str and vkind in _SCALARS and (vkind is not float or (v and v == v)):
            memo_key = (k, vkind, v)
            item = _item_memo.get(memo_key)
            if item is None:
                item = _encode_item(k, v)
                if len(_item_memo) >= _ITEM_MEMO_SIZE:
                    _item_memo.clear()
                _item_memo[memo_key] = item
        else:
            item = _encode_item(k, v)
        items.append(item)
    items.sort()
    return items


def _encode_item(k: Any, v: Any) -> str:
    if type(k) is str:  # the usual case, without the general encoder's calls
        kind = type(v)
        if kind is int:
            return f"s{len(k)}:{k}i{v};"
        if kind is str:
            return f"s{len(k)}:{k}s{len(v)}:{v}"
        if kind is float:
            return f"s{len(k)}:{k}f{v.hex()};"
        if kind is bool:
            return f"s{len(k)}:{k}{'T' if v else 'F'}"
        if v is None:
            return f"s{len(k)}:{k}N"
    parts: list[str] = []
    try:
        _encode(k, parts)
    except _Unkeyable as err:
        err.parts.insert(0, _KeyOf(k))
        raise
    try:
        _encode(v, parts)
    except _Unkeyable as err:
        err.parts.insert(0, k)
        raise
    return "".join(parts)


class _KeyOf:
    """Marks, in an error path, a dict key (rather than a value) that was unkeyable."""

    def __init__(self, key: Any) -> None:
        self.key = key


def _encode_other(value: Any, out: list[str]) -> None:
    kind = type(value)
    hook = _key_types.get(kind)
    if hook is not None:
        label, to_keyable = hook
        out.append(f"x{len(label)}:{label}")
        _encode(to_keyable(value), out)
        return
    method = getattr(value, "__sweepstack_key__", None)
    if method is not None:
        label = f"{kind.__module__}.{kind.__qualname__}"
        out.append(f"x{len(label)}:{label}")
        _encode(method(), out)
        return
    # subclasses of the plain types (IntEnum, numpy.float64, str enums) key as their value
    for base in _PLAIN_BASES:
        if isinstance(value, base):
            _encode(base(value), out)
            return
    if kind.__module__ == "numpy" and hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
        _encode(value.item(), out)  # numpy scalar: its Python value
        return
    raise _Unkeyable(f"{kind.__module__}.{kind.__qualname__}")


def _describe(parts: list[Any]) -> tuple[str, str]:
    """(factor, path) of an unkeyable value, from the path parts collected on the way up."""
    if not parts:
        return "<value>", ""
    first = parts[0]
    factor = repr(first.key) if isinstance(first, _KeyOf) else str(first)
    path = "".join(f"<key {p.key!r}>" if isinstance(p, _KeyOf) else f"[{p!r}]" for p in parts)
    return factor, path


def canonical(value: Any) -> str:
    """The canonical text that a key is the digest of (for debugging keys).

    >>> canonical({"b": 1.0, "a": [True, None]})
    '{s1:a[TN]s1:bf0x1.0000000000000p+0;}'
    """
    out: list[str] = []
    try:
        _encode(value, out)
    except _Unkeyable as err:
        factor, path = _describe(err.parts)
        raise UnkeyableValueError(factor, err.type_name, path) from None
    return "".join(out)


def param_key(combination: Mapping[str, Any]) -> str:
    """The stable hex name of a combination (a dict of factor -> level).

    >>> param_key({"n": 100, "seed": 0}) == param_key({"seed": 0, "n": 100})
    True
    >>> len({param_key({"x": 1}), param_key({"x": 1.0}), param_key({"x": True})})
    3

    Raises:
        UnkeyableValueError: a value (at any depth) has a type with no stable key; the
            error names the factor and the type.
    """
    if not isinstance(combination, Mapping):
        raise UnkeyableValueError("<combination>", type(combination).__name__, "a dict of factors")
    try:
        return key_of_items(_encoded_items(combination))
    except _Unkeyable as err:
        factor, path = _describe(err.parts)
        raise UnkeyableValueError(factor, err.type_name, path) from None


def key_of_items(items: list[str]) -> str:
    """The key of a combination from the sorted canonical texts of its items."""
    data = f"{_PREFIX}{{{''.join(items)}}}".encode("utf-8", "surrogatepass")
    return hashlib.sha256(data).hexdigest()[:KEY_LENGTH]


def item_text(factor: Any, value: Any) -> str:
    """The canonical text of one (factor, value) item of a combination.

    Raises:
        UnkeyableValueError: the value has no stable key.
    """
    try:
        return _encode_item(factor, value)
    except _Unkeyable as err:
        name, path = _describe(err.parts)
        raise UnkeyableValueError(name, err.type_name, path) from None
