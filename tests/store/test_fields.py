"""Fields hold JSON scalars and small containers; anything else is refused when assigned."""

from __future__ import annotations

import enum
import math
import pickle

import numpy
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sweepstack.errors import FieldValueError
from sweepstack.store import FieldDict, validate_field
from sweepstack.store._fields import DELETED, MAX_DEPTH, MAX_ITEMS, MAX_STR


class Color(enum.IntEnum):
    RED = 1


class Mode(str, enum.Enum):
    FAST = "fast"


@pytest.mark.parametrize(
    "value, stored",
    [
        pytest.param(None, None, id="none"),
        pytest.param(True, True, id="bool"),
        pytest.param(3, 3, id="int"),
        pytest.param(0.25, 0.25, id="float"),
        pytest.param("svm", "svm", id="str"),
        pytest.param((1, 2), [1, 2], id="tuple-becomes-list"),
        pytest.param(
            {"f1": 0.5, "per_class": [0.1, 0.9]}, {"f1": 0.5, "per_class": [0.1, 0.9]}, id="dict"
        ),
        pytest.param(numpy.float64(0.5), 0.5, id="numpy-float"),
        pytest.param(numpy.int64(7), 7, id="numpy-int"),
        pytest.param(numpy.bool_(True), True, id="numpy-bool"),
        pytest.param(Color.RED, 1, id="int-enum"),
        pytest.param(Mode.FAST, "fast", id="str-enum"),
    ],
)
def test_json_scalars_and_small_containers_are_accepted_as_plain_values(value, stored):
    result = validate_field("score", value)
    assert result == stored and type(result) is type(stored)


def test_nan_and_infinity_are_numbers_too():
    assert math.isnan(validate_field("loss", float("nan")))
    assert validate_field("loss", float("inf")) == float("inf")


@pytest.mark.parametrize(
    "value, problem",
    [
        pytest.param(object(), "object", id="object"),
        pytest.param({1, 2}, "set", id="set"),
        pytest.param(b"raw", "bytes", id="bytes"),
        pytest.param(numpy.zeros(3), ".tolist()", id="numpy-array"),
        pytest.param({1: "a"}, "dict keys must be str", id="int-key"),
        pytest.param(list(range(MAX_ITEMS + 1)), f"more than {MAX_ITEMS} values", id="too-many"),
        pytest.param([[[[[1]]]]], f"nested more than {MAX_DEPTH} deep", id="too-deep"),
        pytest.param("x" * (MAX_STR + 1), "characters", id="too-long"),
    ],
)
def test_other_values_are_refused_naming_the_field(value, problem):
    with pytest.raises(FieldValueError, match=problem) as info:
        validate_field("model", value)
    assert info.value.field == "model" and isinstance(info.value, TypeError)
    assert "stage outputs" in str(info.value)


def test_a_list_containing_itself_is_refused():
    loop: list = []
    loop.append(loop)
    with pytest.raises(FieldValueError, match="model"):
        validate_field("model", loop)


@pytest.mark.parametrize("name", ["", 3, None])
def test_a_field_name_must_be_a_non_empty_string(name):
    with pytest.raises(FieldValueError, match="non-empty str"):
        validate_field(name, 1)


field_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20)
)


def _containers_of(inner):
    return st.one_of(
        inner,
        st.lists(inner, max_size=4),
        st.tuples(inner, inner),
        st.dictionaries(st.text(max_size=5), inner, max_size=4),
    )


field_values = field_scalars
for _ in range(MAX_DEPTH):  # as deep as a field may nest, no deeper
    field_values = _containers_of(field_values)


def _plain(value):
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


@given(field_values)
def test_any_small_json_value_is_accepted_unchanged_but_for_tuples(value):
    assert validate_field("f", value) == _plain(value)


def test_field_dict_refuses_on_assignment_and_keeps_the_old_value():
    fields = FieldDict({"acc": 0.5})
    with pytest.raises(FieldValueError, match="'acc'"):
        fields["acc"] = object()
    assert fields == {"acc": 0.5}
    fields["acc"] = (0.5, 0.6)
    assert fields["acc"] == [0.5, 0.6]


def test_field_dict_reports_changes_before_applying_them():
    seen = []
    fields = FieldDict(on_change=lambda name, value: seen.append((name, value)))
    fields["a"] = 1
    del fields["a"]
    assert seen == [("a", 1), ("a", DELETED)] and len(fields) == 0
    with pytest.raises(KeyError):
        del fields["a"]


def test_a_change_that_cannot_be_persisted_leaves_the_field_dict_unchanged():
    def fail(name, value):
        raise OSError("disk full")

    fields = FieldDict({"a": 1}, on_change=fail)
    with pytest.raises(OSError):
        fields["a"] = 2
    assert fields["a"] == 1


def test_field_dict_pickles_its_values_without_its_callback():
    fields = FieldDict({"a": [1, 2]}, on_change=print)
    again = pickle.loads(pickle.dumps(fields))
    assert again == fields and again._on_change is None
