"""sample(): random, Sobol' and Latin-hypercube designs over ranges, lists and sub-sweeps."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sweepstack import HashableDict, ParamSweeper, loguniform, param_key, randint, sample, uniform
from sweepstack.errors import SampleError, SweepSpecError
from sweepstack.sweep._distributions import Distribution
from tests.strategies import sample_spaces, typed

SPACE = {"lr": loguniform(1e-4, 1e-1), "depth": randint(2, 8), "opt": ["sgd", "adam"]}
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
methods = st.sampled_from(["random", "sobol", "lhs"])
seeds = st.integers(0, 2**32)


def _ranges(space, prefix=()):
    """(factor, range-or-levels) of every factor, sub-sweeps included."""
    for factor, levels in space.items():
        yield factor, levels
        if isinstance(levels, dict):
            for sub in levels.values():
                yield from _ranges(sub)


@given(sample_spaces(), st.integers(0, 40), methods, seeds)
def test_a_sample_is_the_same_for_the_same_arguments(space, n, method, seed):
    assert typed(list(sample(space, n, method, seed))) == typed(
        list(sample(space, n, method, seed))
    )


@pytest.mark.parametrize("method", ["random", "sobol"])
@given(space=sample_spaces(), n=st.integers(0, 30), more=st.integers(0, 30), seed=seeds)
def test_a_larger_n_keeps_the_first_combinations(method, space, n, more, seed):
    small = sample(space, n, method, seed)
    large = sample(space, n + more, method, seed)
    assert typed(list(large[: len(small)])) == typed(list(small))


@given(sample_spaces(), st.integers(1, 40), methods, seeds)
def test_every_value_is_in_its_range_or_among_its_levels(space, n, method, seed):
    factors = dict(_ranges(space))
    for combination in sample(space, n, method, seed):
        assert isinstance(combination, HashableDict)
        for factor, value in combination.items():
            levels = factors[factor]
            if isinstance(levels, Distribution):
                assert levels.contains(value)
                assert isinstance(value, int if type(levels) is randint else float)
            else:
                assert typed(value) in [typed(level) for level in levels]


@given(st.integers(1, 60), seeds, st.floats(-100, 100), st.floats(0.001, 100))
def test_lhs_puts_one_point_in_each_of_the_n_strata_of_each_range(n, seed, low, width):
    space = {"x": uniform(low, low + width), "y": uniform(0, 1)}
    points = sample(space, n, "lhs", seed)
    assert len(points) == n
    for factor in ("x", "y"):
        lo, hi = space[factor].low, space[factor].high
        strata = sorted(min(n - 1, int((p[factor] - lo) / (hi - lo) * n)) for p in points)
        # a point on a stratum's upper edge can round into the next: allow that, no more
        assert all(abs(s - k) <= 1 for k, s in enumerate(strata))
        assert len(set(strata)) >= n - 1 if n > 1 else True


def test_lhs_strata_are_exact_for_levels():
    points = sample({"k": list(range(12))}, 12, "lhs", seed=5)
    assert sorted(p["k"] for p in points) == list(range(12))


def test_randint_reaches_both_bounds_and_nothing_outside():
    values = {p["k"] for p in sample({"k": randint(1, 3), "x": uniform(0, 1)}, 200, seed=2)}
    assert values == {1, 2, 3}


def test_sub_sweep_levels_bring_only_their_own_factors():
    space = {"model": {"svm": {"C": loguniform(0.1, 10)}, "tree": {"depth": randint(1, 4)}}}
    points = sample(space, 50, seed=0)
    assert {p["model"] for p in points} == {"svm", "tree"}
    for p in points:
        assert set(p) == ({"model", "C"} if p["model"] == "svm" else {"model", "depth"})


def test_a_combination_drawn_twice_is_kept_once():
    points = sample({"k": [1, 2]}, 50, seed=0)
    assert sorted(p["k"] for p in points) == [1, 2]


def test_random_samples_are_pinned_so_that_keys_and_caches_survive_upgrades():
    # the hash-based draw must not change between versions: users' keys depend on it
    assert sample(SPACE, 3, seed=0) == [
        {"lr": 0.004060081068378865, "depth": 2, "opt": "sgd"},
        {"lr": 0.0009497773193847922, "depth": 5, "opt": "adam"},
        {"lr": 0.07752637935602533, "depth": 4, "opt": "sgd"},
    ]
    assert sample(SPACE, 2, "lhs", seed=0) == [
        {"lr": 0.004981684534730674, "depth": 5, "opt": "adam"},
        {"lr": 0.00017572161331108513, "depth": 3, "opt": "sgd"},
    ]


@pytest.mark.parametrize("method", ["random", "sobol", "lhs"])
def test_a_sample_is_the_same_in_another_process_with_another_hash_seed(method):
    code = (
        "import json, sys; from sweepstack import sample, loguniform, randint\n"
        "space = {'lr': loguniform(1e-4, 1e-1), 'depth': randint(2, 8), 'opt': ['sgd', 'adam'],"
        " 'm': {'a': {'x': randint(0, 9)}, 'b': {}}}\n"
        f"print(json.dumps(sample(space, 20, {method!r}, seed=11)))"
    )
    outputs = set()
    for hash_seed in ("1", "2"):
        env = dict(os.environ, PYTHONHASHSEED=hash_seed, PYTHONPATH=REPO)
        done = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )
        outputs.add(done.stdout)
    assert len(outputs) == 1
    assert len(json.loads(outputs.pop())) == 20


def test_samples_drive_a_param_sweeper_with_stable_keys(tmp_path):
    points = sample(SPACE, 10, "sobol", seed=1)
    sweeper = ParamSweeper(str(tmp_path / "s"), points, save_sweeps=True)
    done = []
    while (combination := sweeper.get_next()) is not None:
        sweeper.done(combination)
        done.append(param_key(combination))
    again = ParamSweeper(str(tmp_path / "s"), sample(SPACE, 15, "sobol", seed=1))
    assert sorted(param_key(c) for c in again.get_done()) == sorted(done)
    assert len(again.get_remaining()) == 5  # a larger n adds only the new points


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        ({"n": -1}, "n=-1 is not a count"),
        ({"n": 2.5}, "n=2.5 is not a count"),
        ({"n": 3, "method": "grid"}, "method='grid' is not one of random, sobol, lhs"),
        ({"n": 3, "seed": "x"}, "seed='x' is not an int"),
    ],
)
def test_bad_arguments_are_clear_errors(kwargs, problem):
    with pytest.raises(SampleError, match=problem.replace("(", "\\(")):
        sample(SPACE, **kwargs)


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (lambda: randint(1.5, 3), "bounds must be integers"),
        (lambda: uniform(float("nan"), 1), "bounds must be finite"),
        (lambda: loguniform(-1, 1), "low bound must be above 0"),
        (lambda: sample({"x": "abc"}, 3), "levels are a string"),
    ],
    ids=["randint-float", "uniform-nan", "loguniform-negative", "string-levels"],
)
def test_a_bad_range_or_space_is_a_clear_error(make, problem):
    with pytest.raises(SweepSpecError, match=problem):
        make()


def test_sobol_without_scipy_says_what_to_install():
    code = (
        "import sys; sys.modules['scipy'] = None\n"
        "from sweepstack import sample, uniform\n"
        "try:\n    sample({'x': uniform(0, 1)}, 4, 'sobol')\n"
        "except ImportError as err:\n    print(type(err).__name__, err)\n"
        "print(len(sample({'x': uniform(0, 1)}, 4, 'lhs')))"
    )
    env = dict(os.environ, PYTHONPATH=REPO)
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert "OptionalDependencyError" in done.stdout
    assert "pip install sweepstack[sample]" in done.stdout
    assert done.stdout.strip().endswith("4")  # random and lhs need no scipy


def test_ranges_pickle_and_compare_by_value():
    import pickle

    for value in (uniform(0, 1), loguniform(1e-3, 1), randint(0, 5)):
        assert pickle.loads(pickle.dumps(value)) == value
        assert repr(value).startswith(type(value).__name__ + "(")


@given(st.integers(1, 200), seeds, st.integers(1, 4))
def test_lhs_design_has_exactly_one_point_per_stratum_in_every_dimension(n, seed, d):
    from sweepstack.sweep._sample import _Factor, _lhs_points

    dims = [_Factor(f"x{i}", f"'x{i}'", uniform(0, 1), i) for i in range(d)]
    points = _lhs_points(dims, n, seed)
    for i in range(d):
        assert sorted(int(p[i] * n) for p in points) == list(range(n))
        assert all(0.0 <= p[i] < 1.0 for p in points)
