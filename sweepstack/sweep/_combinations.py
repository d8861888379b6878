"""Parameter spaces: full factorial sweeps with sub-sweeps, progressions, statistics.

The semantics and the output order are execo_engine's, so that a script ported
from it sweeps the very same combinations in the very same order.
"""

from __future__ import annotations

import hashlib
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping
from itertools import chain, product
from typing import Any

from sweepstack._gc import gc_paused
from sweepstack.errors import SweepSpecError
from sweepstack.sweep._distributions import Distribution

__all__ = ["Combinations", "HashableDict", "geom", "igeom", "slugify", "sweep", "sweep_stats"]


class HashableDict(dict):
    """A dict usable as a set member or dict key: one combination of a sweep.

    Equality is a dict's; the hash is computed from the items, lists, sets and
    dicts among the values taken as their frozen equivalents (so a combination
    holding a list is a set member too). Do not mutate one after using it as a key.

    >>> {HashableDict(a=1, b="x"): "done"}[HashableDict(b="x", a=1)]
    'done'
    """

    # the hash, once computed (a combination is hashed again by every getter's set);
    # every mutating method forgets it
    __slots__ = ("_hash",)
    _hash: int

    def __hash__(self) -> int:  # type: ignore[override]
        try:
            return self._hash
        except AttributeError:
            pass
        try:
            value = hash(frozenset(self.items()))
        except TypeError:
            # equal values freeze to equal values, so equal dicts still hash alike
            value = hash(frozenset((k, _frozen(v)) for k, v in self.items()))
        self._hash = value
        return value

    def _forget_hash(self) -> None:
        try:
            del self._hash
        except AttributeError:
            pass

    def __setitem__(self, key: Any, value: Any) -> None:
        self._forget_hash()
        dict.__setitem__(self, key, value)

    def __delitem__(self, key: Any) -> None:
        self._forget_hash()
        dict.__delitem__(self, key)

    def __ior__(self, other: Any) -> HashableDict:  # type: ignore[misc]
        self._forget_hash()
        dict.update(self, other)
        return self

    def update(self, *args: Any, **kwargs: Any) -> None:
        self._forget_hash()
        dict.update(self, *args, **kwargs)

    def pop(self, *args: Any) -> Any:
        self._forget_hash()
        return dict.pop(self, *args)

    def popitem(self) -> tuple[Any, Any]:
        self._forget_hash()
        return dict.popitem(self)

    def setdefault(self, key: Any, default: Any = None) -> Any:
        self._forget_hash()
        return dict.setdefault(self, key, default)

    def clear(self) -> None:
        self._forget_hash()
        dict.clear(self)

    def __reduce__(self) -> tuple[Any, ...]:
        return (HashableDict, (dict(self),))


class Combinations(list):
    """The list :func:`sweep` and :func:`~sweepstack.sample` return: it remembers its space.

    It is an ordinary list of :class:`HashableDict`; besides, ``space`` is the parameter
    space it was made from and :meth:`remake` makes the same kind of list from another
    space. That is how ``--sweep`` and ``--sweep-file`` change the space of a script's
    ``self.sweeper(sweep({...}))``: the engine remakes the list from the changed space.
    """

    def __init__(
        self,
        combinations: Iterable[HashableDict] = (),
        space: Mapping[Any, Any] | None = None,
        maker: Any = None,
    ) -> None:
        super().__init__(combinations)
        self.space = space
        self.maker = maker

    def remake(self, space: Mapping[Any, Any]) -> Combinations:
        """The combinations of ``space``, made as this list was (by sweep() or sample())."""
        if self.maker is None:
            raise TypeError("this list of combinations does not know how it was made")
        return self.maker(space)


def _frozen(value: Any) -> Any:
    """A hashable stand-in for ``value``, equal for equal values."""
    if isinstance(value, (list, tuple)):
        return tuple(_frozen(v) for v in value)
    if isinstance(value, dict):
        return frozenset((k, _frozen(v)) for k, v in value.items())
    if isinstance(value, (set, frozenset)):
        return frozenset(value)
    return value


def _levels(factor: Any, levels: Any, path: tuple[Any, ...]) -> Any:
    """Check one factor's levels; return them, or None when the factor is dropped."""
    if isinstance(levels, Distribution):
        raise SweepSpecError(
            factor,
            f"{levels!r} is a range, not a list of levels: draw combinations from it with "
            "sample(space, n), or list its levels",
            path,
        )
    if isinstance(levels, (str, bytes)):
        raise SweepSpecError(
            factor, f"levels are a string ({levels!r}); write [{levels!r}] for one level", path
        )
    try:
        count = len(levels)
    except TypeError:
        raise SweepSpecError(
            factor, f"levels must be a list, tuple or dict, not {type(levels).__name__}", path
        ) from None
    return levels if count else None


def _choices(parameters: Mapping[Any, Any], path: tuple[Any, ...]) -> list[list[tuple[Any, ...]]]:
    """For each kept factor, the list of its choices; a choice is a tuple of (factor, level) items.

    A plain factor has one item per choice; a factor with sub-sweeps adds, after its own
    item, the items of one combination of the sub-sweep of that level.
    """
    if not isinstance(parameters, Mapping):
        raise SweepSpecError(
            path[-1] if path else "<top>",
            f"a sub-sweep must be a dict of factors, not {type(parameters).__name__}",
            path[:-1],
        )
    per_factor = []
    for factor, levels in parameters.items():
        levels = _levels(factor, levels, path)
        if levels is None:
            continue  # an empty list of levels drops the factor, as in execo
        if isinstance(levels, Mapping):
            choices = []
            for level, sub in levels.items():
                own = (factor, level)
                for sub_items in _combination_items(sub, (*path, factor, level)):
                    choices.append((own, *sub_items))
        else:
            choices = [((factor, level),) for level in levels]
        per_factor.append(choices)
    return per_factor


def _combination_items(
    parameters: Mapping[Any, Any], path: tuple[Any, ...]
) -> list[tuple[Any, ...]]:
    """Every combination of a (sub-)space, each as a flat tuple of (factor, level) items."""
    return [tuple(chain.from_iterable(picked)) for picked in product(*_choices(parameters, path))]


def sweep(parameters: Mapping[Any, Any]) -> Combinations:
    """Every combination of a parameter space: a full factorial design.

    ``parameters`` maps each factor to its levels. A list (or tuple, range...) of
    levels is swept as is; a dict maps each level to a sub-space swept only with
    that level; an empty list of levels drops the factor. Combinations come in
    execo_engine's order: the first factor varies slowest.

    >>> sweep({"n": [10, 100], "mode": ["a", "b"]})
    [{'n': 10, 'mode': 'a'}, {'n': 10, 'mode': 'b'}, {'n': 100, 'mode': 'a'}, {'n': 100, 'mode': 'b'}]
    >>> sweep({"model": {"svm": {"C": [1, 10]}, "tree": {}}})
    [{'model': 'svm', 'C': 1}, {'model': 'svm', 'C': 10}, {'model': 'tree'}]

    The list returned remembers ``parameters`` (see :class:`Combinations`), so that
    ``--sweep`` options can change it.

    Raises:
        SweepSpecError: a factor's levels are neither a sized collection nor a dict, or
            a sub-space is not a dict.
    """
    with gc_paused():
        if all(not isinstance(levels, Mapping) for levels in parameters.values()):
            kept = [(f, lv) for f, lv in parameters.items() if _levels(f, lv, ()) is not None]
            factors = [factor for factor, _ in kept]
            # a list comprehension, then one copy of its pointers: faster than a generator
            combinations = [
                HashableDict(zip(factors, picked)) for picked in product(*(lv for _, lv in kept))
            ]
        else:
            combinations = [HashableDict(items) for items in _combination_items(parameters, ())]
        return Combinations(combinations, parameters, sweep)


def geom(range_min: float, range_max: float, num_steps: int) -> list[float]:
    """``num_steps`` floats in geometric progression from ``range_min`` to ``range_max``.

    >>> geom(1, 100, 3)
    [1.0, 10.0, 100.0]
    """
    num_steps = int(num_steps)
    if num_steps <= 0:
        return []
    low = float(range_min)
    if num_steps == 1:
        return [low]
    ratio = math.pow(float(range_max) / low, 1.0 / (num_steps - 1))
    return [low] + [low * math.pow(ratio, i) for i in range(1, num_steps - 1)] + [float(range_max)]


def igeom(range_min: int, range_max: int, num_steps: int) -> list[int]:
    """Distinct integers in roughly geometric progression, sorted; may be fewer than asked.

    >>> igeom(1, 100, 5)
    [1, 3, 10, 32, 100]
    """
    num_steps = int(num_steps)
    if num_steps <= 0:
        return []
    if num_steps == 1:
        return [int(range_min)]
    values = {int(range_min), int(range_max)}
    values.update(round(x) for x in geom(range_min, range_max, num_steps))
    return sorted(values)


def _count_levels(combinations: Iterable[Mapping[Any, Any]]) -> dict[Any, Counter]:
    counts: dict[Any, Counter] = {}
    for combination in combinations:
        for factor, level in combination.items():
            counter = counts.get(factor)
            if counter is None:
                counter = counts[factor] = Counter()
            counter[level] += 1
    return counts


def sweep_stats(stats: tuple[Any, ...]) -> dict[str, dict[Any, dict[Any, Any]]]:
    """Counts and ratios of each state per factor level, from :meth:`ParamSweeper.stats`.

    Returns a dict with keys ``total``, and ``remaining``, ``skipped``, ``inprogress``,
    ``done`` with their ``*_ratio`` companions, each mapping factor -> level -> count (or
    fraction of that level's total), as execo_engine's ``sweep_stats``.
    """
    sweeps, remaining, skipped, inprogress, done = tuple(stats)[:5]
    total = _count_levels(sweeps)
    result: dict[str, dict[Any, dict[Any, Any]]] = {
        "total": {factor: dict(counter) for factor, counter in total.items()}
    }
    for name, combinations in (
        ("remaining", remaining),
        ("skipped", skipped),
        ("inprogress", inprogress),
        ("done", done),
    ):
        counts = _count_levels(combinations)
        result[name] = {factor: dict(counter) for factor, counter in counts.items()}
        result[name + "_ratio"] = {
            factor: {
                level: counts.get(factor, Counter())[level] / float(n)
                for level, n in levels.items()
            }
            for factor, levels in total.items()
        }
    return result


def slugify(value: Any, separator: str = "-") -> str:
    """A lowercase ASCII name for any value, fit for a file name; distinct values get
    distinct names.

    An ordinary value gets execo_engine's name: a lowercase identifier, a
    non-negative int, a bool, None, or a flat combination of those under lowercase
    identifier factors. Any other value (floats, negative numbers, punctuation,
    upper case, nesting...), whose plain name could be another value's, gets that
    plain name followed by ``.`` and 12 hex digits of its key, so two different
    combinations can never write to the same file.

    >>> slugify({"n": 100, "estimator": "plain"})
    'n-100-estimator-plain'
    >>> slugify("..") != slugify("")
    True
    """
    plain = _execo_slug(value, separator)
    if _slug_is_exact(value, separator):
        return plain
    # "." never occurs in a plain name (it is stripped), so a suffixed name is never
    # an exact one; two suffixed names differ unless their 48-bit digests collide
    return f"{plain or '_'}.{_value_digest(value)}"


_SLUG_WORD = re.compile(r"[a-z][a-z0-9_]*\Z")
_SLUG_WORD_NO_UNDERSCORE = re.compile(r"[a-z][a-z0-9]*\Z")
_SLUG_RESERVED = frozenset({"true", "false", "none"})  # the names of True, False, None


def _execo_slug(value: Any, separator: str) -> str:
    text = unicodedata.normalize("NFKD", str(value)).encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"[^\w\s-]", "", text).strip().lower()
    return re.sub("[" + re.escape(separator) + r"\s]+", separator, text)


def _slug_is_exact(value: Any, separator: str) -> bool:
    """Whether the plain name of ``value`` names no other value that this also accepts.

    Accepted atoms have pairwise distinct names without the separator: a word starting
    with a letter (not "true", "false", "none"), digits, or one of those three words.
    A flat dict of atoms under word keys becomes "key-atom-key-atom", which always holds
    the separator and splits back into its tokens.
    """
    if separator == "-":
        word = _SLUG_WORD
    elif separator == "_":
        word = _SLUG_WORD_NO_UNDERSCORE
    else:
        return False  # another separator may be a letter or occur in a word: suffix all
    if isinstance(value, dict):
        if type(value).__repr__ is not dict.__repr__ or type(value).__str__ is not dict.__str__:
            return False  # its text may not be the "{'key': atom, ...}" read above
        return bool(value) and all(
            isinstance(k, str) and word.match(k) and _atom_is_exact(v, word)
            for k, v in value.items()
        )
    return _atom_is_exact(value, word)


def _atom_is_exact(value: Any, word: re.Pattern[str]) -> bool:
    if value is None or isinstance(value, bool):
        return True
    if type(value) is int:
        return value >= 0  # "-5" and "5" both slug to "5" inside a dict
    if type(value) is str:
        return bool(word.match(value)) and value not in _SLUG_RESERVED
    return False


def _value_digest(value: Any) -> str:
    from sweepstack._keys import canonical

    try:
        text = canonical(value)
    except (TypeError, ValueError):  # no stable key: its type and repr name it
        text = f"{type(value).__module__}.{type(value).__qualname__}:{value!r}"
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:12]
