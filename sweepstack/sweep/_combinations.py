"""Parameter spaces: full factorial sweeps with sub-sweeps, progressions, statistics.

The semantics and the output order are execo_engine's, so that a script ported
from it sweeps the very same combinations in the very same order.
"""

from __future__ import annotations

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

    Equality is a dict's; the hash is computed from the items, so the values must
    be hashable. Do not mutate one after using it as a key.

    >>> {HashableDict(a=1, b="x"): "done"}[HashableDict(b="x", a=1)]
    'done'
    """

    __slots__ = ()

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(frozenset(self.items()))

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
    """A lowercase ASCII name for any value, fit for a file name.

    >>> slugify("Model: SVM (C=10)")
    'model-svm-c10'
    """
    text = unicodedata.normalize("NFKD", str(value)).encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"[^\w\s-]", "", text).strip().lower()
    return re.sub("[" + re.escape(separator) + r"\s]+", separator, text)
