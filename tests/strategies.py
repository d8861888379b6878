"""Hypothesis strategies for parameter spaces and values, shared by every test module."""

from __future__ import annotations

import itertools
from typing import Any

from hypothesis import strategies as st

# Level values of mixed types. NaN is left out: NaN != NaN, so two equal sweeps would
# compare unequal; param_key's handling of NaN has a test of its own.
scalar_levels = st.one_of(
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=False, allow_infinity=True, width=64),
    st.text(max_size=6),
    st.booleans(),
    st.none(),
)
level_values = st.one_of(scalar_levels, st.tuples(scalar_levels, scalar_levels))

# Values a combination may hold, nested (for keys): the types param_key supports.
keyable_values = st.recursive(
    scalar_levels,
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.lists(children, max_size=3).map(tuple),
        st.dictionaries(st.text(max_size=4), children, max_size=3),
    ),
    max_leaves=12,
)

combinations = st.dictionaries(st.text(min_size=1, max_size=8), keyable_values, max_size=6)

_names = (f"f{i}" for i in itertools.count())


def _fresh_name() -> str:
    return next(_names)


@st.composite
def flat_spaces(draw: Any, max_factors: int = 4, max_levels: int = 4) -> dict[str, list[Any]]:
    """A flat parameter space; some factors may have a single level or none at all."""
    n = draw(st.integers(0, max_factors))
    space = {}
    for i in range(n):
        space[f"p{i}"] = draw(st.lists(level_values, max_size=max_levels, unique_by=repr))
    return space


def space_size(space: dict[str, Any]) -> int:
    """How many combinations ``sweep(space)`` gives, at most (an empty factor counts 1)."""
    size = 1
    for levels in space.values():
        if isinstance(levels, dict):
            size *= max(1, sum(space_size(sub) for sub in levels.values()))
        else:
            size *= max(1, len(levels))
    return size


@st.composite
def nested_spaces(draw: Any, depth: int = 3, budget: int = 200) -> dict[str, Any]:
    """A parameter space with sub-sweeps down to ``depth`` levels, of at most ``budget``
    combinations.

    Factor names are unique across the whole tree, so that each combination's factors
    can be predicted from its branch (see :func:`branch_factors`). The budget matters:
    without it, three factors of three sub-sweeps of three factors... reach millions of
    combinations, and execo_engine's sweep() of such a space fills the memory.
    """
    space: dict[str, Any] = {}
    remaining = budget
    for _ in range(draw(st.integers(0, 3))):
        name = draw(st.builds(_fresh_name))
        width = min(3, remaining)
        if depth > 0 and draw(st.booleans()):
            levels = draw(st.lists(scalar_levels, max_size=width, unique_by=lambda v: (type(v), v)))
            share = max(1, remaining // max(1, len(levels)))
            space[name] = {level: draw(nested_spaces(depth - 1, share)) for level in levels}
        else:
            space[name] = draw(st.lists(level_values, max_size=width, unique_by=repr))
        remaining //= space_size({name: space[name]})
    return space


@st.composite
def deep_spaces(draw: Any) -> dict[str, Any]:
    """A space guaranteed to nest at least three sub-sweeps deep, with other branches random.

    Kept small (a few hundred combinations at most): execo_engine's sweep() recomputes a
    sub-sweep for every partial combination before it, so its time and memory grow
    exponentially with depth.
    """
    inner = draw(nested_spaces(1, budget=16))
    for _ in range(3):
        level = draw(scalar_levels)
        branch: dict[Any, Any] = {level: inner}
        if draw(st.booleans()):
            other = draw(scalar_levels)
            if typed(other) != typed(level) and other != level:
                branch[other] = draw(flat_spaces(max_factors=2, max_levels=2))
        inner = {
            draw(st.builds(_fresh_name)): branch,
            **draw(flat_spaces(max_factors=1, max_levels=2)),
        }
    return inner


def branch_factors(space: dict[str, Any], combination: dict[str, Any]) -> set[str]:
    """The factors a combination of ``space`` must carry: those of the branch it took."""
    factors = set()
    for factor, levels in space.items():
        if len(levels) == 0:
            continue
        factors.add(factor)
        if isinstance(levels, dict):
            chosen = combination[factor]
            sub = next(
                s for level, s in levels.items() if type(level) is type(chosen) and level == chosen
            )
            factors |= branch_factors(sub, combination)
    return factors


def typed(value: Any) -> Any:
    """A structure equal for two values only if they are equal with the same types (1 != True)."""
    if isinstance(value, dict):
        return ("dict", tuple((typed(k), typed(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, tuple(typed(v) for v in value))
    if isinstance(value, float):
        return ("float", value.hex())
    return (type(value).__name__, value)


# --- sample() spaces and --sweep values -------------------------------------------------


@st.composite
def ranges(draw: Any) -> Any:
    """One of sample()'s ranges, with finite bounds in order."""
    from sweepstack import loguniform, randint, uniform

    kind = draw(st.sampled_from(["uniform", "loguniform", "randint"]))
    if kind == "randint":
        low = draw(st.integers(-1000, 1000))
        return randint(low, low + draw(st.integers(0, 50)))
    if kind == "loguniform":
        low = draw(st.floats(1e-6, 1e3))
        return loguniform(low, low * draw(st.floats(1.0, 1e4)))
    low = draw(st.floats(-1e6, 1e6))
    return uniform(low, low + draw(st.floats(0.0, 1e6)))


@st.composite
def sample_spaces(draw: Any, max_factors: int = 4) -> dict[str, Any]:
    """A space for sample(): ranges, lists of levels, and maybe one sub-sweep of ranges."""
    space: dict[str, Any] = {}
    for i in range(draw(st.integers(1, max_factors))):
        if draw(st.booleans()):
            space[f"r{i}"] = draw(ranges())
        else:
            space[f"l{i}"] = draw(st.lists(scalar_levels, min_size=1, max_size=4, unique_by=repr))
    if draw(st.booleans()):
        space["branch"] = {"a": {"ra": draw(ranges())}, "b": {}}
    return space


def hydra_text(value: Any) -> str:
    """``value`` written in the --sweep grammar (strings quoted, escapes doubled)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, tuple):
        return "[" + ", ".join(hydra_text(v) for v in value) + "]"
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
