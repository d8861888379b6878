"""MLtraq's run and experiment ``fields``, as its users write them, on sweepstack's API.

Behaviours of MLtraq's own tests (attribute-style fields, nested values, what a store
round-trips) restated for sweepstack's persisted fields, in our own words.
"""

from __future__ import annotations

import datetime
import pickle

import numpy
import pytest
from hypothesis import given
from hypothesis import strategies as st

import sweepstack
from sweepstack import Engine, Record, stage, sweep
from sweepstack.errors import FieldValueError
from sweepstack.store import ExperimentDir, FieldDict, validate_field
from sweepstack.store._fields import MAX_ITEMS

# --- attribute style (MLtraq's run.fields.x = v) ----------------------------------------


def test_attribute_assignment_on_record_fields_is_persisted_in_the_document():
    record = Record({"n": 1})
    record.fields.accuracy = 0.87
    assert record.fields["accuracy"] == 0.87 and record.fields.accuracy == 0.87
    assert record.to_document()["fields"] == {"accuracy": 0.87}


def test_attribute_assignment_is_validated_like_an_item_assignment():
    record = Record({})
    with pytest.raises(FieldValueError, match="'model'"):
        record.fields.model = object()
    assert dict(record.fields) == {}


def test_an_attribute_that_is_a_method_name_is_refused_with_the_item_syntax_to_use():
    fields = FieldDict()
    with pytest.raises(AttributeError, match=r"fields\['items'\]"):
        fields.items = 3
    fields["items"] = 3  # by name it is an ordinary field
    assert fields.to_dict() == {"items": 3}


def test_reading_a_missing_field_as_an_attribute_is_an_attribute_error_naming_it():
    fields = FieldDict({"a": 1})
    with pytest.raises(AttributeError, match="'b'"):
        _ = fields.b
    assert getattr(fields, "b", None) is None
    del fields.a
    assert len(fields) == 0


def test_experiment_fields_set_as_attributes_are_on_disk(tmp_path):
    xd = ExperimentDir.create_or_open(tmp_path / "exp", name="e", engine="E")
    experiment = xd.experiment()
    experiment.fields.a = 100
    assert sweepstack.open(xd.path).fields.to_dict() == {"a": 100}


def test_fields_set_in_a_stage_as_attributes_come_back_from_the_cache(tmp_path):
    from sweepstack.store._cache import ArtifactCache

    cache = ArtifactCache(str(tmp_path / "cache"))

    @stage(outputs=["x"], params=[], version="1")
    def scored(record):
        record.fields.score = 0.5
        return 1

    scored(Record({}, cache=cache)).resolve()
    again = scored(Record({}, cache=cache)).resolve()
    assert again.stages[0]["status"] == "hit" and again.fields.score == 0.5


# --- nested values: changed in place, checked and persisted ------------------------------


def test_nested_in_place_change_of_an_experiment_field_reaches_the_disk(tmp_path):
    xd = ExperimentDir.create_or_open(tmp_path / "exp", name="e", engine="E")
    experiment = xd.experiment()
    experiment.fields["cfg"] = {"lr": 0.1, "layers": [1]}
    experiment.fields["cfg"]["lr"] = 0.2
    experiment.fields["cfg"]["layers"].append(2)
    assert sweepstack.open(xd.path).fields["cfg"] == {"lr": 0.2, "layers": [1, 2]}


def test_nested_in_place_change_to_a_refused_value_names_the_field_and_changes_nothing():
    record = Record({})
    record.fields["meta"] = {}
    with pytest.raises(FieldValueError, match="'meta'") as info:
        record.fields["meta"]["when"] = datetime.datetime(2020, 1, 1)
    assert "isoformat" in str(info.value)
    assert record.fields.to_dict() == {"meta": {}}
    record.fields["meta"]["when"] = "2020-01-01T00:00:00"
    assert record.to_document()["fields"] == {"meta": {"when": "2020-01-01T00:00:00"}}


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda v: v["l"].extend([3, 4]), id="extend"),
        pytest.param(lambda v: v["l"].insert(0, 9), id="insert"),
        pytest.param(lambda v: v["l"].pop(), id="pop"),
        pytest.param(lambda v: v["l"].sort(reverse=True), id="sort"),
        pytest.param(lambda v: v.update(k=2), id="update"),
        pytest.param(lambda v: v.setdefault("new", [1]), id="setdefault"),
        pytest.param(lambda v: v.pop("k"), id="dict-pop"),
        pytest.param(lambda v: v["d"].__setitem__("deep", {"x": 1}), id="deeper"),
    ],
)
def test_every_in_place_change_of_a_field_is_seen_by_the_store(change):
    persisted = {}
    fields = FieldDict(on_change=lambda name, value: persisted.__setitem__(name, value))
    fields["v"] = {"l": [1, 2], "k": 1, "d": {}}
    expected = {"l": [1, 2], "k": 1, "d": {}}
    change(fields["v"])
    change(expected)
    assert fields.to_dict()["v"] == expected == persisted["v"]


def test_a_field_read_back_pickles_and_copies_as_plain_values():
    fields = FieldDict({"v": {"l": [1]}})
    value = pickle.loads(pickle.dumps(fields["v"]))
    assert value == {"l": [1]} and type(value) is dict and type(value["l"]) is list


class NestedMutation(Engine):
    """Three combinations; the second puts a datetime inside a nested field."""

    def run(self):
        for record in self.records(self.sweeper(sweep({"i": [0, 1, 2]}))):
            stamped(record)  # the records() loop resolves it


@stage(outputs=["x"], params=["i"], version="1")
def stamped(record):
    record.fields["meta"] = {}
    i = record.params["i"]
    record.fields["meta"]["when"] = datetime.datetime(2020, 1, 1) if i == 1 else f"day {i}"
    return i


def test_a_refused_nested_field_fails_its_combination_and_the_session_goes_on(tmp_path):
    path = str(tmp_path / "exp")
    with pytest.raises(SystemExit) as exited:  # a run with a failed combination
        NestedMutation().start(["-c", path])
    assert exited.value.code == 1
    records = {r["params"]["i"]: r for r in sweepstack.open(path).records()}
    assert [records[i]["status"] for i in range(3)] == ["done", "failed", "done"]
    failure = records[1]["exception"]
    assert failure["type"].endswith("FieldValueError") and "'meta'" in failure["message"]
    assert records[2]["fields"] == {"meta": {"when": "day 2"}}
    assert sweepstack.open(path).runs[0].status == "complete"


# --- which types round-trip, which are refused ---------------------------------------------


@pytest.mark.parametrize(
    "value, stored",
    [
        pytest.param(numpy.longdouble(0.5), 0.5, id="longdouble"),
        pytest.param(numpy.float32(0.25), 0.25, id="float32"),
        pytest.param(numpy.uint8(7), 7, id="uint8"),
        pytest.param(numpy.str_("a"), "a", id="numpy-str"),
        pytest.param(list(range(MAX_ITEMS)), list(range(MAX_ITEMS)), id="exactly-max-items"),
        pytest.param({"a": [[1] * 10] * 99}, {"a": [[1] * 10] * 99}, id="990-values-nested"),
    ],
)
def test_numpy_scalars_and_containers_up_to_the_limit_round_trip(value, stored):
    result = validate_field("f", value)
    assert result == stored and type(result) is type(stored)


@pytest.mark.parametrize(
    "value, named",
    [
        pytest.param(
            numpy.datetime64("2024-01-02T17:16:15.123456789", "ns"), "datetime64", id="dt64-ns"
        ),
        pytest.param(numpy.datetime64("2024-01-02T17:16:15", "us"), "datetime64", id="dt64-us"),
        pytest.param(numpy.datetime64("2024-01-02", "s"), "datetime64", id="dt64-s"),
        pytest.param(numpy.timedelta64(5, "ns"), "timedelta64", id="td64-ns"),
        pytest.param(numpy.timedelta64(5, "s"), "timedelta64", id="td64-s"),
        pytest.param(numpy.complex128(1j), "complex128", id="complex"),
        pytest.param(datetime.datetime(2020, 1, 1), "datetime.datetime", id="datetime"),
        pytest.param(datetime.date(2020, 1, 1), "datetime.date", id="date"),
        pytest.param(datetime.timedelta(seconds=1), "datetime.timedelta", id="timedelta"),
    ],
)
def test_dates_times_and_numpy_time_types_are_refused_naming_their_type(value, named):
    with pytest.raises(FieldValueError) as info:
        validate_field("when", value)
    text = str(info.value)
    assert "'when'" in text and named in text
    assert "a structure that contains itself" not in text


def test_pandas_timestamp_is_refused_like_a_datetime():
    pandas = pytest.importorskip("pandas")
    with pytest.raises(FieldValueError, match="isoformat"):
        validate_field("when", pandas.Timestamp("2020-01-01"))


def test_a_field_with_too_many_values_names_the_container_not_one_item():
    with pytest.raises(FieldValueError) as info:
        validate_field("xs", list(range(MAX_ITEMS + 1)))
    assert info.value.type_name == "list" and f"more than {MAX_ITEMS}" in str(info.value)


# --- MLtraq's Bunch habits on fields ----------------------------------------------------------


def test_fields_keep_insertion_order_in_the_document():
    record = Record({})
    for name in ("c", "a", "b"):
        record.fields[name] = 1
    assert list(record.to_document()["fields"]) == ["c", "a", "b"]


def test_augmented_assignment_by_item_and_by_attribute_is_stored():
    fields = FieldDict()
    fields["a"] = 200
    fields["a"] += 10
    fields.b = 100
    fields.b += 10
    assert fields.to_dict() == {"a": 210, "b": 110}


def test_nested_dicts_read_and_change_by_attribute():
    persisted = {}
    fields = FieldDict(on_change=lambda name, value: persisted.__setitem__(name, value))
    fields["a"] = {"b": {"c": 123}}
    assert fields.a.b.c == 123
    fields.a.b.c = 124
    assert persisted["a"] == {"b": {"c": 124}} == fields.to_dict()["a"]
    with pytest.raises(AttributeError):
        _ = fields.a.x
    with pytest.raises(AttributeError):
        del fields.a.x


def test_a_deleted_field_as_attribute_that_does_not_exist_is_an_attribute_error():
    with pytest.raises(AttributeError):
        del FieldDict().x


# --- a property: in-place changes through a field equal the same changes on a plain dict --------

_scalars = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.text(max_size=3))
_keys = st.sampled_from(["a", "b", "c"])
_steps = st.lists(
    st.tuples(
        st.sampled_from(["set", "append", "delete", "nest", "refuse"]),
        st.lists(_keys, max_size=2),  # the path of dict keys to the container changed
        _keys,
        _scalars,
    ),
    max_size=12,
)


def _walk(value, path):
    for key in path:
        inner = value.get(key) if isinstance(value, dict) else None
        if not isinstance(inner, dict):
            return value
        value = inner
    return value


@given(_steps)
def test_in_place_changes_through_a_field_match_the_same_changes_on_a_plain_dict(steps):
    persisted = {}
    fields = FieldDict(on_change=lambda name, value: persisted.__setitem__(name, value))
    fields["f"] = {}
    model: dict = {}
    for op, path, key, value in steps:
        target, expected = _walk(fields["f"], path), _walk(model, path)
        if op == "set":
            target[key], expected[key] = value, value
        elif op == "nest":
            target[key], expected[key] = {}, {}
        elif op == "append":
            if isinstance(expected.get(key), list):
                target[key].append(value)
                expected[key].append(value)
            else:
                target[key], expected[key] = [value], [value]
        elif op == "delete" and key in expected:
            del target[key]
            del expected[key]
        elif op == "refuse":
            with pytest.raises(FieldValueError, match="'f'"):
                target[key] = {1, 2}  # a set: refused, and nothing changes
        assert fields.to_dict() == {"f": model} == {"f": persisted["f"]}


# --- fields as the columns of the results (MLtraq's runs.df()) ------------------------------------


class AttributeFields(Engine):
    """Fields set as attributes and changed in place, for the results table."""

    def run(self):
        for record in self.records(self.sweeper(sweep({"data": [100, 200, 300]}))):
            scores(record)


@stage(outputs=[], params=["data"])
def scores(record):
    record.fields.result1 = record.params["data"] + 5
    record.fields["opt"] = {"lr": 0.1}
    record.fields.opt.lr = record.params["data"] / 1000
    if record.params["data"] == 300:
        raise ValueError("error 123")  # after result1: a failed record keeps it
    record.fields.result2 = record.params["data"] + 10


def test_fields_set_as_attributes_and_changed_in_place_are_columns_of_the_results(tmp_path):
    path = str(tmp_path / "exp")
    with pytest.raises(SystemExit) as exited:  # a run with a failed combination
        AttributeFields().start(["-c", path])
    assert exited.value.code == 1
    rows = {row["data"]: row for row in sweepstack.open(path).results()}
    assert [rows[d]["result1"] for d in (100, 200, 300)] == [105, 205, 305]
    assert [rows[d]["opt.lr"] for d in (100, 200, 300)] == [0.1, 0.2, 0.3]
    assert [rows[d].get("result2") for d in (100, 200, 300)] == [110, 210, None]
    assert rows[300]["status"] == "failed" and "error 123" in rows[300]["exception"]


def test_a_nested_change_made_in_a_stage_comes_back_on_a_cache_hit(tmp_path):
    from sweepstack.store._cache import ArtifactCache

    cache = ArtifactCache(str(tmp_path / "cache"))

    @stage(outputs=["x"], params=[], version="1")
    def nested(record):
        record.fields["m"] = {"steps": []}
        record.fields["m"]["steps"].append(1)
        record.fields.m.done = True
        return 1

    nested(Record({}, cache=cache)).resolve()
    again = nested(Record({}, cache=cache)).resolve()
    assert again.stages[0]["status"] == "hit"
    assert again.fields.to_dict() == {"m": {"steps": [1], "done": True}}


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("bad \ud800", id="str"),
        pytest.param({"bad \udcff": 1}, id="dict-key"),
        pytest.param(["ok", "bad \udcff"], id="nested"),
    ],
)
def test_text_with_unpaired_surrogates_is_refused_when_set(value):
    with pytest.raises(FieldValueError, match="surrogates"):
        validate_field("name", value)


class SurrogateFailure(Engine):
    """The second combination fails with a message that is not valid text."""

    def run(self):
        for record in self.records(self.sweeper(sweep({"i": [0, 1, 2]}))):
            garbled(record)


@stage(outputs=[], params=["i"])
def garbled(record):
    record.fields["i"] = record.params["i"]
    if record.params["i"] == 1:
        raise ValueError("file b'\\xff' decoded as \udcff")


def test_a_failure_whose_message_is_not_text_is_recorded_and_the_session_goes_on(tmp_path):
    path = str(tmp_path / "exp")
    with pytest.raises(SystemExit) as exited:  # a run with a failed combination
        SurrogateFailure().start(["-c", path])
    assert exited.value.code == 1
    records = {r["params"]["i"]: r for r in sweepstack.open(path).records()}
    assert [records[i]["status"] for i in range(3)] == ["done", "failed", "done"]
    assert "\\udcff" in records[1]["exception"]["message"]
    assert sweepstack.open(path).runs[0].status == "complete"
