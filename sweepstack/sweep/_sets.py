"""CombinationSet: what ``ParamSweeper.get_*`` return, a set that iterates in sweep order.

execo_engine's getters return sets, and scripts combine them
(``get_remaining() | get_done()``, ``c in get_done()``, ``== set(...)``). A set
subclass keeps every one of those idioms (and ``isinstance(x, set)``) while
iteration, ``list()`` and ``repr`` follow the order of the sweep, which a plain set
would scramble.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

__all__ = ["CombinationSet"]


class CombinationSet(set):
    """A set of combinations that iterates in the order it was given (the sweep's).

    Membership, ``len``, ``|``, ``&``, ``-``, ``^``, comparisons and equality are a
    set's; the results of the operators iterate in order too (left operand first).

    >>> from sweepstack import HashableDict
    >>> a, b = HashableDict(n=1), HashableDict(n=2)
    >>> s = CombinationSet([b, a])
    >>> list(s), a in s, s == {a, b}
    ([{'n': 2}, {'n': 1}], True, True)
    """

    def __init__(self, ordered: Iterable[Any] = ()) -> None:
        ordered = list(ordered)
        super().__init__(ordered)
        self._order = ordered

    def __iter__(self) -> Iterator[Any]:
        yielded = 0
        has = set.__contains__
        for item in self._order:
            if has(self, item):
                yielded += 1
                yield item
        if yielded < set.__len__(self):  # added after creation: after the ordered ones
            known = set(self._order)
            yield from (item for item in set.__iter__(self) if item not in known)

    def __repr__(self) -> str:
        if not self:
            return "CombinationSet()"
        return "{" + ", ".join(repr(item) for item in self) + "}"

    def __reduce__(self) -> tuple[Any, ...]:
        return (CombinationSet, (list(self),))

    @staticmethod
    def _ordered(result: set[Any], *sources: Iterable[Any]) -> CombinationSet:
        order = []
        seen: set[Any] = set()
        for source in sources:
            for item in source:
                if item in result and item not in seen:
                    seen.add(item)
                    order.append(item)
        return CombinationSet(order)

    def __or__(self, other: Any) -> Any:
        if not isinstance(other, (set, frozenset)):
            return NotImplemented
        return self._ordered(set.__or__(self, other), self, other)

    def __ror__(self, other: Any) -> Any:
        if not isinstance(other, (set, frozenset)):
            return NotImplemented
        return self._ordered(set.__or__(set(other), self), other, self)

    def __and__(self, other: Any) -> Any:
        if not isinstance(other, (set, frozenset)):
            return NotImplemented
        return self._ordered(set.__and__(self, other), self)

    def __rand__(self, other: Any) -> Any:
        if not isinstance(other, (set, frozenset)):
            return NotImplemented
        return self._ordered(set.__and__(set(other), self), other)

    def __sub__(self, other: Any) -> Any:
        if not isinstance(other, (set, frozenset)):
            return NotImplemented
        return self._ordered(set.__sub__(self, other), self)

    def __rsub__(self, other: Any) -> Any:
        if not isinstance(other, (set, frozenset)):
            return NotImplemented
        return self._ordered(set.__sub__(set(other), self), other)

    def __xor__(self, other: Any) -> Any:
        if not isinstance(other, (set, frozenset)):
            return NotImplemented
        return self._ordered(set.__xor__(self, other), self, other)

    def __rxor__(self, other: Any) -> Any:
        if not isinstance(other, (set, frozenset)):
            return NotImplemented
        return self._ordered(set.__xor__(set(other), self), other, self)

    def union(self, *others: Iterable[Any]) -> CombinationSet:
        others_ = [list(o) for o in others]
        return self._ordered(set.union(self, *others_), self, *others_)

    def intersection(self, *others: Iterable[Any]) -> CombinationSet:
        return self._ordered(set.intersection(self, *others), self)

    def difference(self, *others: Iterable[Any]) -> CombinationSet:
        return self._ordered(set.difference(self, *others), self)

    def symmetric_difference(self, other: Iterable[Any]) -> CombinationSet:
        other_ = list(other)
        return self._ordered(set.symmetric_difference(self, other_), self, other_)

    def copy(self) -> CombinationSet:
        return CombinationSet(self)
