"""param_key(): stable, order-independent, type-aware names of combinations."""

from __future__ import annotations

import enum
import json
import os
import random
import shutil
import subprocess
import sys
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sweepstack import HashableDict, canonical, param_key, register_key_type
from sweepstack.errors import UnkeyableValueError
from tests.strategies import combinations, keyable_values, typed

# Golden keys: a refactor that changes any of them would orphan every user's journals,
# records and cache. They must never change without a format migration.
GOLDEN = [
    ({"n": 100, "seed": 0}, "5a37a7dca42d3dee8bf139861b3382e4"),
    ({"n": 100, "seed": 0, "estimator": "plain"}, "bff81c5196a4e06358b774164e137b2a"),
    (
        {"n": 100, "seed": 1, "estimator": "antithetic", "pairs": True},
        "c44888e8e96d7bf1e688cb5cebc3537d",
    ),
    ({"x": 1}, "5e3e18d875250dffc2b2bcc32b5c4c06"),
    ({"x": 1.0}, "29ae863129097f0206c4fb512a6567bf"),
    ({"x": True}, "2fe60d18c3322bac69e49ac953d5932d"),
    ({"x": "1"}, "b7cb8e7277d69c96d743dda94f54dcc7"),
    ({"x": None}, "0b9bd99847cee3e93ce04a6818802845"),
    ({"x": [1, 2]}, "d34b896f89171399757a230cafd09c07"),
    ({"x": (1, 2)}, "7a7c19b8aadea0f2e0c7769d81f5f25f"),
    (
        {"model": "svm", "C": 0.1, "kernel": {"name": "rbf", "gamma": [0.5, "auto"]}},
        "d6a4d28f35792e7916ebd118c411d7dd",
    ),
    (
        {
            "lr": 1e-3,
            "layers": (64, 32),
            "dropout": 0.0,
            "opt": {"name": "adam", "betas": (0.9, 0.999)},
        },
        "b49d6ea1a543d15030b9168dd6b32e6f",
    ),
    (
        {"path": "../../etc", "unicode": "Élan ✓", "neg": -7, "big": 2**70},
        "8c22e66ab5b6648175b935b187347d2d",
    ),
    ({}, "84aa0347586ba29c839423085963e0d9"),
]


def _shuffled(value, rng):
    """The same value with every dict, at every depth, rebuilt in a random order."""
    if isinstance(value, dict):
        items = list(value.items())
        rng.shuffle(items)
        return type(value)((k, _shuffled(v, rng)) for k, v in items)
    if isinstance(value, (list, tuple)):
        return type(value)(_shuffled(v, rng) for v in value)
    return value


@pytest.mark.parametrize(("combination", "key"), GOLDEN, ids=[k[:8] for _, k in GOLDEN])
def test_golden_keys_do_not_change(combination, key):
    rng = random.Random(key)
    for _ in range(5):
        assert param_key(_shuffled(combination, rng)) == key
    assert param_key(HashableDict(combination)) == key


def test_keys_are_32_hex_digits():
    key = param_key({"a": 1})
    assert len(key) == 32 and int(key, 16) >= 0


def test_one_float_true_and_string_one_get_different_keys():
    keys = {
        param_key({"x": v})
        for v in (1, 1.0, True, "1", [1], (1,), {"1": 1}, None, 0, False, -0.0, 0.0)
    }
    assert len(keys) == 12


def test_list_and_tuple_nested_get_different_keys():
    assert param_key({"x": {"y": [1, (2, 3)]}}) != param_key({"x": {"y": [1, [2, 3]]}})


def test_nan_has_a_stable_key():
    assert param_key({"x": float("nan")}) == param_key({"x": float("nan")})
    assert param_key({"x": float("nan")}) != param_key({"x": float("inf")})


def test_string_length_prefix_prevents_concatenation_collisions():
    assert param_key({"a": "bc", "d": ""}) != param_key({"a": "b", "d": "c"})
    assert param_key({"ab": "c"}) != param_key({"a": "bc"})


@given(combinations, st.randoms())
def test_key_is_independent_of_dict_order(combination, rng):
    assert param_key(_shuffled(combination, rng)) == param_key(combination)


@given(keyable_values, keyable_values)
def test_canonical_text_is_equal_only_for_equal_typed_values(a, b):
    assert (canonical(a) == canonical(b)) == (typed(_sorted(a)) == typed(_sorted(b)))


def _sorted(value):
    if isinstance(value, dict):
        return {k: _sorted(value[k]) for k in sorted(value)}
    if isinstance(value, (list, tuple)):
        return type(value)(_sorted(v) for v in value)
    return value


# --- the same keys in another process, hash seed and Python version ------------------

_KEYS_SCRIPT = """
import json, sys
sys.path.insert(0, sys.argv[1])
from sweepstack._keys import param_key
cases = json.loads(sys.stdin.read())
print(json.dumps([param_key(_decode(c)) for c in cases]))
"""

_DECODE = """
def _decode(v):
    if isinstance(v, dict) and "__tuple__" in v:
        return tuple(_decode(x) for x in v["__tuple__"])
    if isinstance(v, dict):
        return {k: _decode(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_decode(x) for x in v]
    return v
"""


def _encode(value):
    if isinstance(value, tuple):
        return {"__tuple__": [_encode(v) for v in value]}
    if isinstance(value, dict):
        return {k: _encode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_encode(v) for v in value]
    return value


def _keys_in_subprocess(interpreter, env_extra):
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(env_extra)
    cases = json.dumps([_encode(c) for c, _ in GOLDEN])
    script = _DECODE + _KEYS_SCRIPT
    out = subprocess.run(
        [interpreter, "-c", script, repo],
        input=cases,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


@pytest.mark.parametrize("seed", ["0", "12345", "random"])
def test_keys_are_the_same_in_a_subprocess_with_another_hash_seed(seed):
    assert _keys_in_subprocess(sys.executable, {"PYTHONHASHSEED": seed}) == [k for _, k in GOLDEN]


def _runs(interpreter):
    try:
        return (
            subprocess.run([interpreter, "-c", "pass"], capture_output=True, timeout=20).returncode
            == 0
        )
    except (OSError, subprocess.TimeoutExpired):
        return False


def _other_pythons():
    """Other CPython 3.9+ interpreters installed here (pyenv, or on PATH), one per version."""
    candidates = {}
    pyenv = os.path.expanduser("~/.pyenv/versions")
    if os.path.isdir(pyenv):
        for name in sorted(os.listdir(pyenv)):
            version = ".".join(name.split(".")[:2])
            candidates.setdefault(version, os.path.join(pyenv, name, "bin", "python3"))
    for version in ("3.9", "3.10", "3.12", "3.13"):
        path = shutil.which(f"python{version}")
        if path and version not in candidates:
            candidates[version] = path
    current = f"{sys.version_info[0]}.{sys.version_info[1]}"
    found = [
        pytest.param(path, id=f"python{version}")
        for version, path in sorted(candidates.items())
        if version in ("3.9", "3.10", "3.11", "3.12", "3.13") and version != current and _runs(path)
    ]
    return found or [pytest.param(None, id="none-found")]


@pytest.mark.parametrize("interpreter", _other_pythons())
def test_keys_are_the_same_under_other_python_versions(interpreter):
    if interpreter is None:
        pytest.skip("no other Python 3.9-3.13 interpreter on this machine to compare with")
    assert _keys_in_subprocess(interpreter, {"PYTHONHASHSEED": "random"}) == [k for _, k in GOLDEN]


# --- other types: only through the hook --------------------------------------------


class Opaque:
    pass


def test_unkeyable_value_names_the_factor_and_the_type():
    with pytest.raises(UnkeyableValueError) as info:
        param_key({"model": {"params": [1, Opaque()]}})
    err = info.value
    assert isinstance(err, TypeError)
    assert err.factor == "model" and err.type_name.endswith("Opaque")
    assert "['model']['params'][1]" in str(err) and "register_key_type" in str(err)


def test_unkeyable_set_is_refused():
    with pytest.raises(UnkeyableValueError, match=r"builtins\.set"):
        param_key({"levels": {1, 2}})


def test_registered_type_gets_a_key_distinct_from_its_keyable_form():
    register_key_type(Fraction, lambda f: (f.numerator, f.denominator))
    assert param_key({"x": Fraction(1, 3)}) == param_key({"x": Fraction(2, 6)})
    assert param_key({"x": Fraction(1, 3)}) != param_key({"x": (1, 3)})


def test_sweepstack_key_method_is_used():
    class Point:
        def __init__(self, x, y):
            self.x, self.y = x, y

        def __sweepstack_key__(self):
            return (self.x, self.y)

    assert param_key({"p": Point(1, 2)}) == param_key({"p": Point(1, 2)})
    assert param_key({"p": Point(1, 2)}) != param_key({"p": Point(2, 1)})


def test_enum_and_numpy_scalars_key_as_their_values():
    class Size(enum.IntEnum):
        SMALL = 1

    assert param_key({"s": Size.SMALL}) == param_key({"s": 1})
    np = pytest.importorskip("numpy")
    assert param_key({"n": np.int64(7), "f": np.float64(0.5)}) == param_key({"n": 7, "f": 0.5})
