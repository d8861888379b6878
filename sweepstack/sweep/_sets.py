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
        self._order = ordered if len(ordered) == set.__len__(self) else list(dict.fromkeys(ordered))
        self._dirty = False  # mutated since _order was right: recompute it on iteration

    @classmethod
    def _of(cls, members: set[Any], order: list[Any]) -> CombinationSet:
        """A set of ``members`` (hashes already computed: no hashing again) in ``order``."""
        made = cls.__new__(cls)
        set.update(made, members)
        made._order = order
        made._dirty = False
        return made

    def __iter__(self) -> Iterator[Any]:
        if self._dirty:
            has = set.__contains__
            kept = [item for item in self._order if has(self, item)]
            if len(kept) < set.__len__(self):  # added after creation: after the ordered ones
                known = set(kept)
                kept += [item for item in set.__iter__(self) if item not in known]
            self._order, self._dirty = kept, False
        return iter(self._order)

    def __repr__(self) -> str:
        if not self:
            return "CombinationSet()"
        return "{" + ", ".join(repr(item) for item in self) + "}"

    def __reduce__(self) -> tuple[Any, ...]:
        return (CombinationSet, (list(self),))

    def copy(self) -> CombinationSet:
        return self._of(self, list(self))

    # --- operators: a set's result, in order (left operand first) -------------------------

    def __or__(self, other: Any) -> Any:
        if not isinstance(other, (set, frozenset)):
            return NotImplemented
        return self._of(set.__or__(self, other), list(self) + [x for x in other if x not in self])

    def __ror__(self, other: Any) -> Any:
        if not isinstance(other, (set, frozenset)):
            return NotImplemented
        return self._of(set.__or__(self, other), list(other) + [x for x in self if x not in other])

    def __and__(self, other: Any) -> Any:
        if not isinstance(other, (set, frozenset)):
            return NotImplemented
        return self._of(set.__and__(self, other), [x for x in self if x in other])

    def __rand__(self, other: Any) -> Any:
        if not isinstance(other, (set, frozenset)):
            return NotImplemented
        return self._of(set.__and__(self, other), [x for x in other if x in self])

    def __sub__(self, other: Any) -> Any:
        if not isinstance(other, (set, frozenset)):
            return NotImplemented
        return self._of(set.__sub__(self, other), [x for x in self if x not in other])

    def __rsub__(self, other: Any) -> Any:
        if not isinstance(other, (set, frozenset)):
            return NotImplemented
        return self._of(set.__sub__(set(other), self), [x for x in other if x not in self])

    def __xor__(self, other: Any) -> Any:
        if not isinstance(other, (set, frozenset)):
            return NotImplemented
        order = [x for x in self if x not in other] + [x for x in other if x not in self]
        return self._of(set.__xor__(self, other), order)

    def __rxor__(self, other: Any) -> Any:
        if not isinstance(other, (set, frozenset)):
            return NotImplemented
        order = [x for x in other if x not in self] + [x for x in self if x not in other]
        return self._of(set.__xor__(self, other), order)

    def union(self, *others: Iterable[Any]) -> CombinationSet:
        result = self
        for other in others:
            result = result | (
                other if isinstance(other, (set, frozenset)) else CombinationSet(other)
            )
        return result if result is not self else self.copy()

    def intersection(self, *others: Iterable[Any]) -> CombinationSet:
        members = set.intersection(self, *others)
        return self._of(members, [x for x in self if x in members])

    def difference(self, *others: Iterable[Any]) -> CombinationSet:
        members = set.difference(self, *others)
        return self._of(members, [x for x in self if x in members])

    def symmetric_difference(self, other: Iterable[Any]) -> CombinationSet:
        return self ^ (other if isinstance(other, (set, frozenset)) else CombinationSet(other))


def _mutator(name: str) -> Any:
    method = getattr(set, name)

    def mutate(self: CombinationSet, *args: Any) -> Any:
        self._dirty = True
        return method(self, *args)

    mutate.__name__ = name
    mutate.__doc__ = method.__doc__
    return mutate


for _name in (
    "add", "discard", "remove", "pop", "clear", "update", "difference_update",
    "intersection_update", "symmetric_difference_update",
    "__ior__", "__iand__", "__isub__", "__ixor__",
):  # fmt: skip
    setattr(CombinationSet, _name, _mutator(_name))
del _name
