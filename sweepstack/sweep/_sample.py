"""Sampled designs: ``n`` combinations drawn from a space, instead of the full grid.

Each factor of the space (sub-sweep factors included) is one dimension of the unit
cube. A method draws ``n`` points ``u`` in [0, 1)^d and each factor turns its ``u``
into a value: a range (:class:`~sweepstack.sweep._distributions.uniform`, ``loguniform``,
``randint``) by itself, a list of levels by picking ``levels[floor(u * len)]`` (Optuna's
categorical distribution), a dict of sub-sweeps by picking a level the same way and
then the sub-factors of that level.

- ``random``: each ``u`` is a hash (BLAKE2b) of the seed, the factor's path and the
  point's number: the same in every process, host and Python version, and a point does
  not depend on ``n``, so a larger ``n`` keeps the first points (adding a factor leaves
  the others' values as they were, too).
- ``sobol``: scrambled Sobol' points from ``scipy.stats.qmc`` (the ``sample`` extra);
  the first ``n`` of the sequence, so a larger ``n`` keeps them too. Deterministic for a
  seed and a SciPy version.
- ``lhs``: a Latin hypercube of ``n`` points, on the same hash as ``random``: in each
  dimension exactly one point falls in each of the ``n`` strata [k/n, (k+1)/n). The
  design depends on ``n``.
"""

from __future__ import annotations

import functools
import hashlib
import math
from collections.abc import Iterable, Mapping
from typing import Any

from sweepstack.errors import OptionalDependencyError, SampleError, SweepSpecError
from sweepstack.sweep._combinations import Combinations, HashableDict, _levels
from sweepstack.sweep._distributions import Distribution

__all__ = ["METHODS", "sample"]

METHODS = ("random", "sobol", "lhs")

_SCALE = 1.0 / (1 << 53)


class _Factor:
    """One dimension: a factor at a path, with its levels, range, or sub-sweeps."""

    __slots__ = ("dim", "levels", "name", "path", "subs")

    def __init__(self, name: Any, path: str, levels: Any, dim: int) -> None:
        self.name = name
        self.path = path
        self.dim = dim
        self.levels = levels
        self.subs: dict[Any, list[_Factor]] | None = None


def _dimensions(
    space: Mapping[Any, Any], prefix: str, where: tuple[Any, ...], out: list[_Factor]
) -> list[_Factor]:
    """The factors of ``space`` in order, each numbered as a dimension in ``out``."""
    if not isinstance(space, Mapping):
        raise SweepSpecError(
            where[-1] if where else "<top>",
            f"a sub-sweep must be a dict of factors, not {type(space).__name__}",
            where[:-1],
        )
    factors = []
    for name, levels in space.items():
        path = f"{prefix}{name!r}"
        if not isinstance(levels, Distribution):
            levels = _levels(name, levels, where)
            if levels is None:
                continue  # an empty list drops the factor, as in sweep()
        factor = _Factor(name, path, levels, len(out))
        out.append(factor)
        if isinstance(levels, Mapping):
            factor.levels = list(levels)
            factor.subs = {
                level: _dimensions(sub, f"{path}.{level!r}.", (*where, name, level), out)
                for level, sub in levels.items()
            }
        elif not isinstance(levels, Distribution):
            factor.levels = list(levels)
        factors.append(factor)
    return factors


def _pick(levels: list[Any], u: float) -> Any:
    return levels[min(len(levels) - 1, int(u * len(levels)))]


def _combination(factors: list[_Factor], point: Any) -> HashableDict:
    items: list[tuple[Any, Any]] = []

    def walk(group: list[_Factor]) -> None:
        for factor in group:
            u = point[factor.dim]
            if isinstance(factor.levels, Distribution):
                items.append((factor.name, factor.levels.at(u)))
                continue
            level = _pick(factor.levels, u)
            items.append((factor.name, level))
            if factor.subs is not None:
                walk(factor.subs[level])

    walk(factors)
    return HashableDict(items)


def _stream(*parts: Any) -> Any:
    """``i ->`` a number in [0, 1) that depends only on ``parts`` and ``i``: the top 53
    bits of a BLAKE2b hash of them joined by \\x1f (the common prefix hashed once)."""
    prefix = hashlib.blake2b(digest_size=8)
    prefix.update(("\x1f".join(str(p) for p in parts) + "\x1f").encode("utf-8"))

    def unit(i: int) -> float:
        h = prefix.copy()
        h.update(str(i).encode("ascii"))
        return (int.from_bytes(h.digest(), "big") >> 11) * _SCALE

    return unit


def _random_points(dims: list[_Factor], n: int, seed: int) -> Iterable[list[float]]:
    columns = [list(map(_stream("random", seed, d.path), range(n))) for d in dims]
    return ([column[i] for column in columns] for i in range(n))


def _lhs_points(dims: list[_Factor], n: int, seed: int) -> list[list[float]]:
    columns = []
    for d in dims:
        strata = list(range(n))
        swap = _stream("lhs-perm", seed, d.path, n)
        for j in range(n - 1, 0, -1):  # Fisher-Yates, on the stable hash
            k = int(swap(j) * (j + 1))
            strata[j], strata[k] = strata[k], strata[j]
        jitter = _stream("lhs-jitter", seed, d.path, n)
        columns.append(
            [min((s + jitter(i)) / n, math.nextafter(1.0, 0.0)) for i, s in enumerate(strata)]
        )
    return [[column[i] for column in columns] for i in range(n)]


def _sobol_points(dims: list[_Factor], n: int, seed: int) -> Any:
    try:
        import numpy
        from scipy.stats import qmc
    except ImportError:
        raise OptionalDependencyError("scipy", "sample", 'sample(..., method="sobol")') from None
    rng = numpy.random.default_rng(seed)
    try:
        engine = qmc.Sobol(len(dims), scramble=True, rng=rng)
    except TypeError:  # SciPy < 1.15 names it seed
        engine = qmc.Sobol(len(dims), scramble=True, seed=rng)
    # a power of two keeps Sobol's balance (and SciPy's warning away); the first n of the
    # sequence are the same whatever the power, so a larger n keeps them
    return engine.random_base2(max(0, math.ceil(math.log2(n))))[:n].tolist()


def sample(space: Mapping[Any, Any], n: int, method: str = "random", seed: int = 0) -> Combinations:
    """``n`` combinations drawn from ``space``: a random, Sobol' or Latin-hypercube design.

    ``space`` is a :func:`sweep` space whose factors may also be ranges:
    :func:`uniform`, :func:`loguniform` and :func:`randint` (bounds included), as
    Optuna's ``FloatDistribution`` and ``IntDistribution``. A list of levels is drawn
    from uniformly, and so are the levels of a sub-sweep dict. Samples are ordinary
    combinations (:class:`HashableDict`) for a ParamSweeper, the engine, keys and
    results. A combination drawn twice (possible with lists and ``randint`` only) is
    kept once, so fewer than ``n`` may come back.

    >>> from sweepstack import loguniform, randint
    >>> points = sample({"lr": loguniform(1e-4, 1e-1), "depth": randint(2, 8),
    ...                  "opt": ["sgd", "adam"]}, 16, seed=1)
    >>> len(points), sorted(points[0])
    (16, ['depth', 'lr', 'opt'])
    >>> points[:4] == sample({"lr": loguniform(1e-4, 1e-1), "depth": randint(2, 8),
    ...                       "opt": ["sgd", "adam"]}, 4, seed=1)
    True

    Args:
        space: factors mapped to lists of levels, ranges, or dicts of sub-sweeps.
        n: how many points to draw.
        method: ``"random"`` (a larger ``n`` keeps the first points), ``"sobol"``
            (quasi-random, evenly spread; needs ``pip install sweepstack[sample]``; a
            larger ``n`` keeps the first points too) or ``"lhs"`` (a Latin hypercube:
            each factor's range cut in ``n`` strata, one point in each).
        seed: another seed gives another design.

    Raises:
        SampleError: ``n``, ``method`` or ``seed`` is unusable.
        SweepSpecError: the space is malformed (as for :func:`sweep`, or a bad range).
        OptionalDependencyError: ``method="sobol"`` without SciPy.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise SampleError("n", n, "is not a count (an int of 0 or more)")
    if method not in METHODS:
        raise SampleError("method", method, f"is not one of {', '.join(METHODS)}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise SampleError("seed", seed, "is not an int")
    dims: list[_Factor] = []
    factors = _dimensions(space, "", (), dims)
    if n == 0:
        points: Iterable[Any] = []
    elif not dims:
        points = [[]]  # nothing to draw: the one empty combination
    elif method == "random":
        points = _random_points(dims, n, seed)
    elif method == "lhs":
        points = _lhs_points(dims, n, seed)
    else:
        points = _sobol_points(dims, n, seed)
    seen: set[HashableDict] = set()
    out = []
    for point in points:
        combination = _combination(factors, point)
        size = len(seen)
        seen.add(combination)  # one hash per combination, not two
        if len(seen) > size:
            out.append(combination)
    return Combinations(out, space, functools.partial(sample, n=n, method=method, seed=seed))
