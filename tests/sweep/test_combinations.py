"""sweep(), geom(), igeom(), sweep_stats() and slugify(): execo_engine's semantics and order."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sweepstack import HashableDict, geom, igeom, slugify, sweep, sweep_stats
from sweepstack._keys import canonical
from sweepstack.errors import SweepSpecError
from tests._competitors import execo_engine
from tests.strategies import (
    branch_factors,
    deep_spaces,
    flat_spaces,
    keyable_values,
    nested_spaces,
    space_size,
    typed,
)
from tests.strategies import (
    combinations as combination_values,
)

needs_execo = pytest.mark.skipif(
    execo_engine is None, reason="execo_engine is not installed (pip install -e .[test])"
)


def _typed_list(combinations: list[dict]) -> list:
    return [typed(c) for c in combinations]


# --- the same result as execo_engine, element by element and in order ----------------


@needs_execo
@given(flat_spaces())
def test_flat_sweep_equals_execo(space):
    assert _typed_list(sweep(space)) == _typed_list(execo_engine.sweep(space))


@needs_execo
@given(nested_spaces())
def test_nested_sweep_equals_execo(space):
    assert _typed_list(sweep(space)) == _typed_list(execo_engine.sweep(space))


@needs_execo
@given(deep_spaces())
def test_deep_sweep_equals_execo(space):
    assert _typed_list(sweep(space)) == _typed_list(execo_engine.sweep(space))


@needs_execo
@pytest.mark.parametrize(
    "space",
    [
        pytest.param({}, id="empty-space"),
        pytest.param({"a": []}, id="only-empty-factor"),
        pytest.param({"a": [1], "b": [], "c": [2, 3]}, id="empty-factor-dropped"),
        pytest.param({"a": {}}, id="empty-subsweep-dict"),
        pytest.param({"m": {"x": {}, "y": {"k": [1, 2]}}}, id="level-without-subfactors"),
        pytest.param({"m": {"x": {"k": []}}}, id="subsweep-with-empty-factor"),
        pytest.param({"a": [1, 1.0, True, "1", None]}, id="mixed-types-one-factor"),
        pytest.param({"a": (1, 2), "b": range(3)}, id="tuple-and-range-levels"),
        pytest.param(
            {
                "p1": ["a", "b"],
                "p2": {1: {"p11": ["x", "y"], "p12": [0.0, 1.0]}, 2: {"p21": [-10, 10]}},
            },
            id="execo-docstring-example",
        ),
        pytest.param({"x": {1: {"x": [5, 6]}}}, id="subfactor-overrides-its-parent"),
        pytest.param({"a": {"u": {"b": {"v": {"c": {"w": {"d": [1, 2]}}}}}}}, id="depth-4"),
    ],
)
def test_known_spaces_equal_execo(space):
    assert _typed_list(sweep(space)) == _typed_list(execo_engine.sweep(space))


# --- properties, without execo --------------------------------------------------------


@given(flat_spaces())
def test_flat_count_is_product_of_level_counts(space):
    expected = math.prod(len(levels) for levels in space.values() if levels)
    assert len(sweep(space)) == expected


@given(flat_spaces())
def test_flat_combinations_are_distinct_and_cover_every_level(space):
    combinations = sweep(space)
    assert len({tuple(map(typed, c.items())) for c in combinations}) == len(combinations)
    for factor, levels in space.items():
        if levels:
            assert {typed(c[factor]) for c in combinations} == {typed(v) for v in levels}
        else:
            assert all(factor not in c for c in combinations)


@given(nested_spaces())
def test_every_combination_carries_exactly_the_factors_of_its_branch(space):
    for combination in sweep(space):
        assert set(combination) == branch_factors(space, combination)


@given(st.one_of(nested_spaces(), deep_spaces()))
def test_generated_spaces_stay_small(space):
    # execo_engine's sweep() of a space of millions of combinations fills the memory
    assert len(sweep(space)) <= space_size(space) <= 1000


@given(deep_spaces())
def test_deep_spaces_carry_their_branch_factors(space):
    combinations = sweep(space)
    for combination in combinations:
        assert set(combination) == branch_factors(space, combination)


def test_first_factor_varies_slowest():
    assert sweep({"a": [1, 2], "b": ["x", "y"]}) == [
        {"a": 1, "b": "x"},
        {"a": 1, "b": "y"},
        {"a": 2, "b": "x"},
        {"a": 2, "b": "y"},
    ]


def test_subsweep_factors_follow_their_parent_in_key_order():
    (first, *_) = sweep({"a": [0], "m": {"svm": {"C": [1]}}, "z": [9]})
    assert list(first) == ["a", "m", "C", "z"]


def test_sweep_returns_hashable_dicts():
    combinations = sweep({"a": [1, 2], "b": {"x": {"c": [3]}}})
    assert all(type(c) is HashableDict for c in combinations)
    assert len(set(combinations)) == len(combinations)


MUTATIONS = [
    ("setitem", lambda d: d.__setitem__("z", 1)),
    ("delitem", lambda d: d.__delitem__("a")),
    ("update", lambda d: d.update(z=[1])),
    ("ior", lambda d: d.__ior__({"z": 2})),
    ("pop", lambda d: d.pop("a")),
    ("popitem", lambda d: d.popitem()),
    ("setdefault", lambda d: d.setdefault("z", 3)),
    ("clear", lambda d: d.clear()),
]


@pytest.mark.parametrize("mutate", [m for _, m in MUTATIONS], ids=[n for n, _ in MUTATIONS])
def test_a_hashable_dict_mutated_after_hashing_hashes_as_its_new_value(mutate):
    # the hash is kept once computed (getters hash every combination they return);
    # a mutation must not leave the old one behind
    combination = HashableDict(a=1, b=[2, 3])
    hash(combination)
    mutate(combination)
    assert hash(combination) == hash(HashableDict(dict(combination)))
    assert combination in {HashableDict(dict(combination))}


@given(combination_values)
def test_hashable_dict_copies_and_pickles_hash_alike(combination):
    import copy
    import pickle

    original = HashableDict(combination)
    hash(original)
    for other in (copy.copy(original), copy.deepcopy(original), pickle.loads(pickle.dumps(original))):
        assert type(other) is HashableDict and other == original
        assert hash(other) == hash(original)


@pytest.mark.parametrize(
    ("space", "message"),
    [
        pytest.param({"a": "abc"}, "levels are a string", id="string-levels"),
        pytest.param({"a": 3}, "must be a list", id="scalar-levels"),
        pytest.param({"a": {"x": [1, 2]}}, "sub-sweep must be a dict", id="subsweep-not-dict"),
        pytest.param({"a": {"x": {"b": 5}}}, "must be a list", id="nested-scalar-levels"),
    ],
)
def test_malformed_space_is_a_clear_error(space, message):
    with pytest.raises(SweepSpecError, match=message) as info:
        sweep(space)
    assert isinstance(info.value, ValueError)


def test_nested_error_names_the_branch():
    with pytest.raises(SweepSpecError) as info:
        sweep({"model": {"svm": {"C": 10}}})
    assert info.value.factor == "C"
    assert info.value.path == ("model", "svm")
    assert "['model']['svm']" in str(info.value)


# --- progressions, stats, slugify --------------------------------------------------


@needs_execo
@given(st.floats(0.001, 1e6), st.floats(0.001, 1e6), st.integers(0, 40))
def test_geom_equals_execo(low, high, steps):
    assert geom(low, high, steps) == execo_engine.geom(low, high, steps)


@needs_execo
@given(st.integers(1, 10**6), st.integers(1, 10**6), st.integers(0, 40))
def test_igeom_equals_execo(low, high, steps):
    assert igeom(low, high, steps) == execo_engine.igeom(low, high, steps)


def test_geom_endpoints_and_ratio():
    values = geom(2, 2000, 4)
    assert values[0] == 2.0 and values[-1] == 2000.0
    assert values[1] == pytest.approx(20.0) and values[2] == pytest.approx(200.0)
    assert geom(5, 10, 0) == [] and geom(5, 10, 1) == [5.0]


def test_igeom_is_sorted_distinct_integers():
    assert igeom(100, 100_000, 5) == [100, 562, 3162, 17783, 100000]
    assert igeom(1, 3, 10) == [1, 2, 3]


def _stats_of(sweeps, done, inprogress=(), skipped=()):
    remaining = [c for c in sweeps if c not in done and c not in inprogress and c not in skipped]
    return (sweeps, remaining, list(skipped), list(inprogress), list(done))


@needs_execo
def test_sweep_stats_equals_execo():
    combinations = sweep({"a": [1, 2, 3], "b": {"x": {"c": [1, 2]}, "y": {}}})
    stats = _stats_of(
        combinations, done=combinations[:3], inprogress=combinations[3:4], skipped=combinations[4:5]
    )
    assert sweep_stats(stats) == execo_engine.sweep_stats(stats)


def test_sweep_stats_counts_and_ratios():
    combinations = sweep({"a": [1, 2], "b": ["x", "y"]})
    result = sweep_stats(_stats_of(combinations, done=combinations[:3]))
    assert result["total"] == {"a": {1: 2, 2: 2}, "b": {"x": 2, "y": 2}}
    assert result["done"] == {"a": {1: 2, 2: 1}, "b": {"x": 2, "y": 1}}
    assert result["done_ratio"]["a"] == {1: 1.0, 2: 0.5}
    assert result["remaining_ratio"]["b"] == {"x": 0.0, "y": 0.5}


_words = st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True).filter(
    lambda w: w not in ("true", "false", "none")
)
_ordinary_atoms = st.one_of(_words, st.integers(0, 10**9), st.booleans(), st.none())
_ordinary_values = st.one_of(
    _ordinary_atoms, st.dictionaries(_words, _ordinary_atoms, min_size=1, max_size=4)
)


@needs_execo
@given(_ordinary_values)
def test_slugify_of_an_ordinary_value_is_execos_name(value):
    assert slugify(value) == execo_engine.slugify(value)


@needs_execo
def test_slugify_of_a_sweep_combination_is_execos_name():
    for combination in sweep({"n": [100, 1000], "estimator": ["plain", "stratified"]}):
        assert slugify(combination) == execo_engine.slugify(combination)
        assert slugify(combination, "_") == execo_engine.slugify(combination, "_")


@given(st.lists(_ordinary_values, max_size=12, unique_by=canonical))
def test_slugify_of_distinct_ordinary_values_gives_distinct_names(values):
    assert len({slugify(v) for v in values}) == len(values)


@given(st.lists(st.one_of(combination_values, keyable_values), max_size=12, unique_by=canonical))
def test_slugify_of_distinct_values_gives_distinct_names(values):
    assert len({slugify(v) for v in values}) == len(values)
    assert len({slugify(v, "_") for v in values}) == len(values)


@given(st.one_of(combination_values, keyable_values))
def test_slugify_is_a_plain_file_name(value):
    name = slugify(value)
    assert name and not name.startswith(".")
    assert set(name) <= set("abcdefghijklmnopqrstuvwxyz0123456789_-.")


@pytest.mark.parametrize(
    "values",
    [
        pytest.param([{"name": ".."}, {"name": ""}, {"name": "."}], id="punctuation-only"),
        pytest.param([{"a": 5}, {"a": -5}], id="sign"),
        pytest.param([1, "1", 1.0, True, "true", None, "None"], id="types"),
        pytest.param([{"lr": 1.05}, {"lr": 10.5}], id="float-point"),
        pytest.param(["Model", "model"], id="case"),
        pytest.param([{"a": "1-b-x"}, {"a": 1, "b": "x"}], id="separator-in-value"),
        pytest.param([HashableDict(x=[1, 2]), HashableDict(x=(1, 2))], id="list-tuple"),
    ],
)
def test_slugify_tells_apart_values_whose_execo_names_collide(values):
    assert len({slugify(v) for v in values}) == len(values)


def test_slugify_is_the_same_for_the_same_combination():
    assert slugify({"lr": 0.1, "seed": 1}) == slugify(HashableDict(lr=0.1, seed=1))


def test_slugify_makes_a_file_name():
    assert slugify("model_svm_c10") == "model_svm_c10"
    assert slugify("Model: SVM (C=10)").startswith("model-svm-c10.")
    assert slugify("../../etc/passwd").startswith("etcpasswd.")
    assert slugify("Élan  vital", "_").startswith("elan_vital.")
