"""--sweep / --only / --sweep-file: Hydra's value grammar and its application to spaces."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sweepstack import loguniform, randint, sample, sweep, uniform
from sweepstack.errors import OverrideError, SweepSpecError
from sweepstack.sweep._overrides import (
    apply_overrides,
    load_space,
    matches,
    parse_levels,
    parse_override,
)
from tests.strategies import flat_spaces, hydra_text, scalar_levels, typed


@pytest.mark.parametrize(
    ("text", "levels"),
    [
        pytest.param("1,2,3", [1, 2, 3], id="ints"),
        pytest.param("-1, +2, 1_000", [-1, 2, 1000], id="signed-and-underscored-ints"),
        pytest.param(
            "0.5, 1e-3, .5, 2., inf, -inf",
            [0.5, 1e-3, 0.5, 2.0, float("inf"), float("-inf")],
            id="floats",
        ),
        pytest.param("true, False, TRUE", [True, False, True], id="booleans-any-case"),
        pytest.param("null, NULL", [None, None], id="null"),
        pytest.param("adam, sgd with momentum", ["adam", "sgd with momentum"], id="bare-strings"),
        pytest.param("'a,b', \"c'd\", 'e\\'f'", ["a,b", "c'd", "e'f"], id="quoted-strings"),
        pytest.param("'1', '  x  '", ["1", "  x  "], id="quotes-keep-strings-as-is"),
        pytest.param("abc123, 1abc, 1.2.3", ["abc123", "1abc", "1.2.3"], id="words-not-numbers"),
        pytest.param("", [""], id="empty-is-the-empty-string"),
        pytest.param("[1, 2], []", [(1, 2), ()], id="bracket-list-is-a-tuple-level"),
        pytest.param("range(3)", None, id="range-needs-start-and-stop"),
        pytest.param("range(1, 4)", [1, 2, 3], id="range"),
        pytest.param("range(10, 0, -4)", [10, 6, 2], id="range-downward"),
        pytest.param("range(0, 1, 0.25)", [0.0, 0.25, 0.5, 0.75], id="range-float-step"),
        pytest.param("geom(1, 100, 3)", [1.0, 10.0, 100.0], id="geom"),
        pytest.param("igeom(1, 100, 5)", [1, 3, 10, 32, 100], id="igeom"),
        pytest.param("choice(a, 2)", ["a", 2], id="choice"),
        pytest.param("range(1,3), 10", [1, 2, 10], id="calls-and-values-together"),
        pytest.param("range(start=1, stop=4)", [1, 2, 3], id="range-named-arguments"),
        pytest.param("range(0, 2, step=0.5)", [0.0, 0.5, 1.0, 1.5], id="range-named-step"),
        pytest.param("igeom(lo=1, hi=100, n=3)", [1, 10, 100], id="igeom-named-arguments"),
    ],
)
def test_levels_follow_hydras_grammar(text, levels):
    if levels is None:
        with pytest.raises(OverrideError, match="range\\(\\) takes 2 or 3 arguments"):
            parse_levels(text)
    else:
        assert typed(parse_levels(text)) == typed(levels)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("uniform(0, 1)", uniform(0, 1)),
        ("interval(0.5, 2)", uniform(0.5, 2)),
        ("interval(start=0.5, end=2)", uniform(0.5, 2)),
        ("uniform(low=-1, high=1)", uniform(-1, 1)),
        ("loguniform(1e-4, 1e-1)", loguniform(1e-4, 1e-1)),
        ("randint(1, 6)", randint(1, 6)),
    ],
)
def test_a_range_function_gives_a_range_for_sample(text, expected):
    assert parse_levels(text) == expected


@given(st.lists(scalar_levels, min_size=1, max_size=6))
def test_any_levels_written_in_the_grammar_read_back_the_same(levels):
    text = ", ".join(hydra_text(v) for v in levels)
    assert typed(parse_levels(text)) == typed(levels)


@pytest.mark.parametrize(
    ("override", "problem"),
    [
        pytest.param("n", "no '='", id="no-equal"),
        pytest.param("=1,2", "is not a factor name", id="no-name"),
        pytest.param("a..b=1", "is not a factor name", id="empty-segment"),
        pytest.param("n='abc", "not closed", id="unclosed-quote"),
        pytest.param("n=1,(2", "not a function name", id="stray-parenthesis"),
        pytest.param("n=foo(1)", "unknown function foo()", id="unknown-function"),
        pytest.param("n=range(1, 5, 0)", "step must not be 0", id="zero-step"),
        pytest.param("n=geom(0, 10, 3)", "bounds must be above 0", id="geom-at-zero"),
        pytest.param("n=loguniform(0, 1)", "low bound must be above 0", id="loguniform-at-zero"),
        pytest.param("n=uniform(2, 1)", "above high bound", id="uniform-reversed"),
        pytest.param("n=uniform(0, 1), 3", "cannot be listed with levels", id="range-in-a-list"),
        pytest.param("n={a: 1}", "dict values", id="dict-value"),
        pytest.param("n=range(a, 3)", "takes numbers", id="range-of-words"),
        pytest.param("n=a=b", "unexpected '='", id="second-equal"),
        pytest.param("n=range(stop=5)", "misses its argument 'start'", id="named-missing"),
        pytest.param("n=range(1, start=2)", "got 'start' twice", id="named-twice"),
        pytest.param(
            "n=range(start=1, 5)", "positional argument after a named", id="named-then-positional"
        ),
        pytest.param("n=geom(x=1)", "no argument 'x' (arguments: lo, hi, n)", id="named-unknown"),
    ],
)
def test_a_bad_override_names_the_option_the_text_and_the_grammar(override, problem):
    with pytest.raises(OverrideError) as caught:
        parse_override(override, "--sweep")
    message = str(caught.value)
    assert problem in message
    assert message.startswith(f"--sweep {override!r}")
    assert "range(start,stop[,step])" in message  # the grammar, to fix it


SPACE = {"n": [1, 2], "model": {"svm": {"C": [1, 10]}, "tree": {}}, "opt.lr": [0.1]}


def _apply(*texts):
    return apply_overrides(SPACE, [parse_override(t) for t in texts])


def test_an_override_replaces_the_levels_of_a_factor_and_leaves_the_space_given_intact():
    before = json.dumps(SPACE)
    assert _apply("n=5,6")["n"] == [5, 6]
    assert json.dumps(SPACE) == before


def test_a_dotted_factor_changes_a_sub_sweep():
    assert _apply("model.svm.C=range(1,4)")["model"] == {"svm": {"C": [1, 2, 3]}, "tree": {}}


def test_a_factor_whose_name_holds_a_dot_is_found_before_sub_sweeps():
    assert _apply("opt.lr=0.5")["opt.lr"] == [0.5]


def test_levels_of_a_factor_with_sub_sweeps_keep_the_sub_sweeps_of_the_levels_named():
    assert _apply("model=svm")["model"] == {"svm": {"C": [1, 10]}}
    assert _apply("model=tree,forest")["model"] == {"tree": {}, "forest": {}}


def test_plus_adds_a_factor_and_refuses_an_existing_one():
    assert _apply("+seed=0,1")["seed"] == [0, 1]
    assert _apply("+model.tree.depth=2,4")["model"]["tree"] == {"depth": [2, 4]}
    with pytest.raises(OverrideError, match="already in the space"):
        _apply("+n=3")


@pytest.mark.parametrize(
    ("override", "problem"),
    [
        (
            "seed=1",
            "no factor 'seed' (factors: n, model, model.svm.C, opt.lr) (to add it, write +seed=...)",
        ),
        ("n.x.y=1", "factor 'n' has no sub-sweeps"),
        ("model.knn.k=1", "factor 'model' has no level starting 'knn.k'"),
    ],
)
def test_an_override_of_a_factor_the_space_lacks_is_refused_with_the_known_factors(
    override, problem
):
    with pytest.raises(OverrideError) as caught:
        _apply(override)
    assert problem in str(caught.value)


def test_a_changed_space_sweeps_as_the_same_space_written_in_code():
    combinations = sweep(SPACE)
    changed = combinations.remake(_apply("n=3", "model.svm.C=5"))
    assert changed == sweep({"n": [3], "model": {"svm": {"C": [5]}, "tree": {}}, "opt.lr": [0.1]})


def test_a_sampled_list_is_remade_with_the_same_n_method_and_seed():
    space = {"lr": loguniform(1e-3, 1e-1), "k": [1, 2]}
    drawn = sample(space, 5, "lhs", seed=3)
    changed = apply_overrides(space, [parse_override("k=7")])
    assert drawn.remake(changed) == sample(changed, 5, "lhs", seed=3)
    assert {c["k"] for c in drawn.remake(changed)} == {7}


def test_sweep_refuses_a_range_and_says_to_sample_it():
    with pytest.raises(SweepSpecError, match="sample\\(space, n\\)"):
        sweep({"lr": uniform(0, 1)})


def test_only_keeps_the_combinations_with_the_levels_named():
    combinations = sweep(SPACE)
    keep = matches([parse_override("n=2", "--only"), parse_override("model.svm.C=10", "--only")])
    assert [c for c in combinations if keep(c)] == [
        {"n": 2, "model": "svm", "C": 10, "opt.lr": 0.1}
    ]


def test_only_tells_true_from_one_and_accepts_a_range():
    assert not matches([parse_override("x=1", "--only")])({"x": True})
    inside = matches([parse_override("x=uniform(0, 0.5)", "--only")])
    assert inside({"x": 0.25}) and not inside({"x": 0.75}) and not inside({"x": "a"})


@pytest.mark.parametrize("ext", ["json", "toml", "yaml"])
def test_a_sweep_file_gives_a_whole_space_with_grammar_strings(tmp_path, ext):
    path = tmp_path / f"space.{ext}"
    if ext == "json":
        path.write_text(
            json.dumps(
                {
                    "n": "range(1,3)",
                    "tag": ["a", "b"],
                    "model": {"svm": {"C": [1, 10]}, "tree": {}},
                    "k": 4,
                }
            )
        )
    elif ext == "toml":
        path.write_text(
            'n = "range(1,3)"\ntag = ["a", "b"]\nk = 4\n[model.svm]\nC = [1, 10]\n[model.tree]\n'
        )
    else:
        path.write_text(
            "n: range(1,3)\ntag: [a, b]\nk: 4\nmodel:\n  svm: {C: [1, 10]}\n  tree: {}\n"
        )
    space = load_space(str(path))
    assert sweep(space) == sweep(
        {"n": [1, 2], "tag": ["a", "b"], "model": {"svm": {"C": [1, 10]}, "tree": {}}, "k": [4]}
    )


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [
        ("space.json", "[1, 2]", "must hold a mapping of factors"),
        ("space.json", "{", "not valid JSON"),
        ("space.toml", "a = ", "not valid TOML"),
        ("space.yaml", "a: [", "not valid YAML"),
        ("space.ini", "", "unknown extension '.ini'"),
        ("space.json", '{"n": "range(1"}', "expected ')'"),
        ("space.json", '{"m": {"a": 3}}', "m.a must be a table of sub-factors"),
    ],
)
def test_a_bad_sweep_file_is_a_clear_error(tmp_path, name, content, problem):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(OverrideError) as caught:
        load_space(str(path))
    assert problem in str(caught.value) and "--sweep-file" in str(caught.value)


def test_a_missing_sweep_file_is_a_clear_error(tmp_path):
    with pytest.raises(OverrideError, match="cannot read it"):
        load_space(str(tmp_path / "nowhere.json"))


@given(
    flat_spaces(max_factors=3, max_levels=3),
    st.lists(scalar_levels, min_size=1, max_size=3, unique_by=repr),
    st.data(),
)
def test_sweeping_new_levels_of_a_factor_equals_writing_them_in_the_space(space, levels, data):
    if not space:
        space = {"p0": [1]}
    factor = data.draw(st.sampled_from(sorted(space)))
    text = f"{factor}=" + ",".join(hydra_text(v) for v in levels)
    changed = apply_overrides(space, [parse_override(text)])
    assert typed(list(sweep(changed))) == typed(list(sweep({**space, factor: levels})))
