"""Cache keys: made of stage, code, declared params and input keys; pinned forever."""

from __future__ import annotations

import hashlib
import importlib.util
import random
import textwrap

import pytest

from sweepstack.dag import Record, stage
from sweepstack.dag._fingerprint import normalised_source
from sweepstack.dag._keys import artifact_key
from sweepstack.errors import StageDefinitionError, UnkeyableValueError


@stage(outputs=["points"], params=["n", "seed"], version="1")
def draw(record):
    return [record.params["n"], record.params["seed"]]


@stage(inputs=["points"], outputs=["pi"], params=["estimator"], version="1")
def estimate(record, points):
    return 3.0


def _keys(params):
    record = estimate(draw(Record(params)))
    return [s["outputs"] for s in record.stages]


# Golden keys: a change to any of them orphans every user's cache. Never change them
# without a format migration of the cache.
GOLDEN_PARTS = [
    (
        {
            "stage": "draw",
            "code": "version:1",
            "outputs": ["points"],
            "params": {"n": 100, "seed": 0},
            "config": {},
            "missing": [],
            "inputs": {},
        },
        "points",
        "a7351e514f19354e00d75b0e8f573b60",
    ),
    (
        {
            "stage": "estimate",
            "code": "0123456789abcdef",
            "outputs": ["pi", "error"],
            "params": {"estimator": "antithetic", "pairs": True},
            "config": {"device": "cpu"},
            "missing": ["C"],
            "inputs": {"points": "a7351e514f19354e00d75b0e8f573b60"},
        },
        "error",
        "02e06a11826d5b669e23fe5969f427e4",
    ),
]

GOLDEN_PIPELINE = [
    (
        {"n": 100, "seed": 0, "estimator": "plain"},
        [
            {"points": "a7351e514f19354e00d75b0e8f573b60"},
            {"pi": "8aedfd863bfb4e99f69f84fe51017d33"},
        ],
    ),
    (
        {"n": 100, "seed": 0, "estimator": "antithetic", "pairs": True},
        [
            {"points": "a7351e514f19354e00d75b0e8f573b60"},
            {"pi": "7d27e9aa5fd847d83ab84ff3e83b1fe3"},
        ],
    ),
    (
        {"n": 1000, "seed": 2, "estimator": "plain"},
        [
            {"points": "fa2257b5f97b59d0304e194bc6df1c9b"},
            {"pi": "d32b4596377e31463f760225ca7ab53d"},
        ],
    ),
]


@pytest.mark.parametrize("parts,output,key", GOLDEN_PARTS, ids=["draw", "estimate"])
def test_golden_artifact_keys_never_change(parts, output, key):
    assert artifact_key(parts, output) == key


@pytest.mark.parametrize("params,keys", GOLDEN_PIPELINE, ids=["plain", "antithetic", "n1000"])
def test_golden_pipeline_keys_never_change_whatever_the_dict_order(params, keys):
    assert _keys(params) == keys
    items = list(params.items())
    for seed in range(5):
        random.Random(seed).shuffle(items)
        assert _keys(dict(items)) == keys


def test_stage_key_ignores_params_it_does_not_declare():
    plain, antithetic = (
        _keys({"n": 1, "seed": 0, "estimator": "plain"}),
        _keys({"n": 1, "seed": 0, "estimator": "antithetic"}),
    )
    assert plain[0] == antithetic[0] and plain[1] != antithetic[1]


def test_changing_a_declared_param_changes_the_key_downstream():
    one, two = (
        _keys({"n": 1, "seed": 0, "estimator": "p"}),
        _keys({"n": 2, "seed": 0, "estimator": "p"}),
    )
    assert one[0] != two[0] and one[1] != two[1]


@pytest.mark.parametrize("a,b", [(1, 1.0), (1, True), (0.0, -0.0), ("1", 1)], ids=repr)
def test_values_of_different_types_make_different_keys(a, b):
    assert _keys({"n": a, "seed": 0, "estimator": "p"}) != _keys(
        {"n": b, "seed": 0, "estimator": "p"}
    )


def test_declared_param_missing_from_a_combination_is_marked_not_dropped():
    @stage(outputs=["model"], params=["kind", "C"], version="1")
    def train(record):
        return record.params.get("C")

    svm = Record({"kind": "tree"})
    train(svm)
    (entry,) = svm.stages
    assert entry["missing"] == ["C"] and entry["params"] == {"kind": "tree"}
    assert svm.state["model"] is None


def test_stage_without_declared_params_is_keyed_by_every_param():
    @stage(outputs=["x"], version="1")
    def everything(record):
        return dict(record.params)

    one = everything(Record({"a": 1, "b": 2}))
    two = everything(Record({"a": 1, "b": 3}))
    assert one.stages[0]["outputs"] != two.stages[0]["outputs"]
    assert one.state["x"] == {"a": 1, "b": 2}


def test_declared_config_entry_is_part_of_the_key():
    @stage(outputs=["x"], params=["n", "device"], version="1")
    def on_device(record):
        return ((record.params["n"], record.config["device"]),)

    cpu = on_device(Record({"n": 1}, config={"device": "cpu", "other": 1}))
    gpu = on_device(Record({"n": 1}, config={"device": "gpu", "other": 1}))
    assert cpu.stages[0]["config"] == {"device": "cpu"}
    assert cpu.stages[0]["outputs"] != gpu.stages[0]["outputs"]
    assert gpu.state["x"] == (1, "gpu")


def test_version_stands_for_the_code():
    @stage(outputs=["x"], params=[], version="2")
    def draw(record):
        return "completely different code"

    assert draw(Record({})).stages[0]["code"] == "version:2"


def test_unkeyable_param_is_a_clear_error_naming_the_factor(tmp_path):
    @stage(outputs=["x"], params=["model"], version="1")
    def train(record):
        return 1

    record = train(Record({"model": 1}, key="k" * 32, cache=str(tmp_path)))
    record._params._data["model"] = object()
    with pytest.raises(UnkeyableValueError, match="'model'"):
        record.resolve()


# --- code fingerprints -------------------------------------------------------------------

BASE = '''
def step(record, x):
    """Scale x."""
    y = x * 2  # doubled
    return y + record.params["k"]
'''

SAME = [
    pytest.param(
        """
@stage(outputs=["z"])   # the decorator is declaration, not code
def step(record, x):
    y = x * 2
    return y + record.params["k"]
""",
        id="no-docstring-no-comment",
    ),
    pytest.param(
        """
def step(record,
         x):
    # a comment on its own line

    y = x*2
    return (y + record.params['k'])
""",
        id="reformatted",
    ),
    pytest.param(
        '''
def renamed_function(record, x):
    """Another docstring."""
    y = x * 2
    return y + record.params["k"]
''',
        id="renamed",
    ),
]

DIFFERENT = [
    pytest.param(BASE.replace("x * 2", "x * 3"), id="constant"),
    pytest.param(BASE.replace("y + ", "y - "), id="operator"),
    pytest.param(BASE.replace('"k"', '"j"'), id="param-name"),
    pytest.param(BASE.replace("y = x * 2", "y = x * 2\n    print(y)"), id="added-line"),
]


def _fp(source: str) -> str:
    name = "renamed_function" if "renamed_function" in source else "step"
    text = normalised_source(textwrap.dedent(source), name)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def test_golden_fingerprint_never_changes():
    assert _fp(BASE) == "91f3c04afebad7e9"


@pytest.mark.parametrize("source", SAME)
def test_comments_formatting_docstrings_and_names_do_not_change_the_fingerprint(source):
    assert _fp(source) == _fp(BASE)


@pytest.mark.parametrize("source", DIFFERENT)
def test_code_changes_change_the_fingerprint(source):
    assert _fp(source) != _fp(BASE)


def _load_module(tmp_path, name, source):
    path = tmp_path / f"{name}.py"
    path.write_text("from sweepstack.dag import stage\n" + source)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_editing_a_stage_recomputes_it_but_reformatting_does_not(tmp_path):
    from sweepstack.store._cache import ArtifactCache

    cache = ArtifactCache(str(tmp_path / "cache"))
    v1 = _load_module(
        tmp_path,
        "v1",
        '@stage(outputs=["y"], params=["k"])\ndef step(record):\n    return record.params["k"] + 1\n',
    )
    v2 = _load_module(
        tmp_path,
        "v2",
        '@stage(outputs=["y"], params=["k"])\ndef step(record):\n    """Doc."""\n    return (record.params["k"]+1)  # same\n',
    )
    v3 = _load_module(
        tmp_path,
        "v3",
        '@stage(outputs=["y"], params=["k"])\ndef step(record):\n    return record.params["k"] + 2\n',
    )
    assert v1.step(Record({"k": 1}, cache=cache)).state["y"] == 2
    reformatted = v2.step(Record({"k": 1}, cache=cache)).resolve()
    assert reformatted.stages[0]["status"] == "hit"
    edited = v3.step(Record({"k": 1}, cache=cache)).resolve()
    assert edited.stages[0]["status"] == "run" and edited.state["y"] == 3


def test_stage_without_readable_source_asks_for_a_version(tmp_path):
    namespace: dict = {}
    exec("def made(record):\n    return 1\n", namespace)
    made = stage(outputs=["x"], params=[])(namespace["made"])
    with pytest.raises(StageDefinitionError, match="version='1'"):
        made(Record({}, cache=str(tmp_path))).resolve()
    versioned = stage(outputs=["x"], params=[], version="1")(namespace["made"])
    assert versioned(Record({}, cache=str(tmp_path))).state["x"] == 1
