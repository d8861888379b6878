"""Bad stages and bad artifacts: each a clear error or a recompute, nothing else lost."""

from __future__ import annotations

import os

import pytest

from sweepstack.dag import Cacher, JsonCacher, PickleCacher, Record, stage
from sweepstack.errors import (
    ArtifactCorruptWarning,
    CacherError,
    FieldValueError,
    StageDefinitionError,
    StageOutputError,
    UndeclaredParamError,
)
from sweepstack.store._cache import META_FILE, ArtifactCache
from tests.dag._pipeline import CALLS, LOADS, first, reset_counts, run_all, second


@pytest.fixture
def cache(tmp_path):
    reset_counts()
    return ArtifactCache(str(tmp_path / "cache"))


def _all_verify(cache):
    keys = list(cache.iter_artifacts())
    assert cache.check() == []
    return keys


# --- undeclared params -------------------------------------------------------------------


@stage(outputs=["x"], params=["n"], version="1")
def reads(record):
    return (record.vars["read"](record),)  # one output: a tuple value comes wrapped


@pytest.mark.parametrize(
    "read",
    [
        pytest.param(lambda r: r.params["seed"], id="getitem"),
        pytest.param(lambda r: r.params.get("seed"), id="get"),
        pytest.param(lambda r: "seed" in r.params, id="contains"),
        pytest.param(lambda r: r.config["device"], id="config"),
    ],
)
def test_reading_an_undeclared_param_is_a_clear_error(read):
    record = Record({"n": 1, "seed": 2}, config={"device": "cpu"})
    record.vars["read"] = read
    reads(record)
    with pytest.raises(UndeclaredParamError) as info:
        record.resolve()
    err = info.value
    assert isinstance(err, KeyError)
    assert err.stage == "reads" and err.declared == ("n",)
    assert "params=[..., " in str(err)
    assert record.failed_stage == "reads" and record.exception is err


def test_declared_params_read_normally_inside_and_everything_outside():
    record = Record({"n": 1, "seed": 2})
    record.vars["read"] = lambda r: (r.params["n"], r.params.get("n"), "n" in r.params)
    assert reads(record).state["x"] == (1, 1, True)
    assert dict(record.params) == {"n": 1, "seed": 2}  # outside a stage: everything


def test_params_inside_a_stage_are_a_mapping_of_exactly_the_declared_names():
    record = Record({"n": 1, "seed": 2, "lr": 0.1}, config={"device": "cpu", "seed": 9})

    @stage(outputs=["view"], params=["n", "lr", "missing"], version="1")
    def looks(record):
        p = record.params
        return {
            "list": list(p),
            "len": len(p),
            "keys": list(p.keys()),
            "items": sorted(p.items()),
            "dict": dict(p),
            "repr": repr(p),
            "printed": str(dict(p)),
            "config": dict(record.config),
        }

    view = looks(record).state["view"]
    assert view["list"] == view["keys"] == ["n", "lr"]
    assert view["len"] == 2
    assert view["items"] == [("lr", 0.1), ("n", 1)]
    assert view["dict"] == {"n": 1, "lr": 0.1}
    assert view["repr"] == view["printed"] == "{'n': 1, 'lr': 0.1}"
    assert view["config"] == {}  # no config entry is declared


def test_config_inside_a_stage_shows_only_the_declared_entries():
    record = Record({"n": 1}, config={"device": "cpu", "threads": 4})

    @stage(outputs=["view"], params=["n", "device"], version="1")
    def looks(record):
        return ((dict(record.config), len(record.config), repr(record.config)),)

    assert looks(record).state["view"] == ({"device": "cpu"}, 1, "{'device': 'cpu'}")


def test_stage_without_declared_params_sees_every_param():
    record = Record({"n": 1, "seed": 2})

    @stage(outputs=["view"], version="1")
    def looks(record):
        return ((dict(record.params), len(record.params)),)

    assert looks(record).state["view"] == ({"n": 1, "seed": 2}, 2)


def test_params_are_read_only():
    record = Record({"n": 1})
    with pytest.raises(TypeError):
        record.params["n"] = 2  # type: ignore[index]


# --- stage declarations and calls --------------------------------------------------------


@pytest.mark.parametrize(
    "declare,match",
    [
        pytest.param(lambda: stage(outputs="x"), "outputs must be a list", id="outputs-str"),
        pytest.param(
            lambda: stage(inputs=["y"]),
            "not parameters of the function",
            id="input-not-in-signature",
        ),
        pytest.param(lambda: stage(outputs=["x", "x"]), "twice", id="duplicate-output"),
        pytest.param(
            lambda: stage(outputs=["x"], cachers=[PickleCacher, JsonCacher]),
            "2 cacher",
            id="cachers-count",
        ),
        pytest.param(
            lambda: stage(outputs=["x"], cachers=[int]), "not a cacher", id="not-a-cacher"
        ),
        pytest.param(lambda: stage(params="n"), "params must be a list", id="params-str"),
        pytest.param(lambda: stage(version=1.5), "version must be", id="float-version"),
    ],
)
def test_bad_stage_declaration_is_reported_where_the_stage_is_defined(declare, match):
    def fn(record, x=None):
        return 1

    with pytest.raises(StageDefinitionError, match=match):
        declare()(fn)


def test_function_without_a_record_parameter_is_refused():
    with pytest.raises(StageDefinitionError, match="take the record first"):
        stage(outputs=["x"])(lambda: 1)


def test_stage_called_on_something_else_than_a_record_is_refused():
    with pytest.raises(StageDefinitionError, match="call it with a record"):
        first({"a": 1})


def test_input_not_made_by_an_earlier_stage_is_refused():
    with pytest.raises(StageDefinitionError, match="input 'first' is not an output"):
        second(Record({"a": 1, "b": 1}))


def test_stage_called_inside_another_stage_is_refused():
    @stage(outputs=["x"], params=[], version="1")
    def nested(record):
        first(record)

    with pytest.raises(StageDefinitionError, match="never from each other"):
        nested(Record({"a": 1})).resolve()


def test_state_read_of_a_non_input_inside_a_stage_is_refused(cache):
    @stage(inputs=["first"], outputs=["y"], params=[], version="1")
    def peeks(record, first):
        return record.state["second"]

    record = peeks(second(first(Record({"a": 1, "b": 1}, cache=cache))))
    with pytest.raises(StageDefinitionError, match="not one of its inputs"):
        record.resolve()


def test_state_cannot_be_assigned():
    with pytest.raises(StageDefinitionError, match=r"record\.vars"):
        Record({}).state["x"] = 1


@pytest.mark.parametrize(
    "outputs,returned,expected,got",
    [
        pytest.param(["a", "b"], (1,), 2, 1, id="too-few"),
        pytest.param(["a", "b"], 5, 2, 1, id="not-a-tuple"),
        pytest.param(["a", "b"], (1, 2, 3), 2, 3, id="too-many"),
        pytest.param([], 5, 0, 1, id="none-declared"),
    ],
)
def test_wrong_number_of_outputs_is_a_clear_error(cache, outputs, returned, expected, got):
    @stage(outputs=outputs, params=[], version="1")
    def makes(record):
        return returned

    record = makes(Record({}, cache=cache))
    with pytest.raises(StageOutputError) as info:
        record.resolve()
    assert (info.value.expected, info.value.got) == (expected, got)
    assert list(cache.iter_artifacts()) == []
    assert record.stages[0]["status"] == "failed"


def test_field_that_is_not_a_json_value_is_refused_on_assignment():
    record = Record({})
    with pytest.raises(FieldValueError, match="'model'"):
        record.fields["model"] = object()
    record.fields["ok"] = [1, 2.5, {"a": None}]
    assert record.fields == {"ok": [1, 2.5, {"a": None}]}


# --- artifacts that cannot be stored -----------------------------------------------------


class Unpicklable:
    def __reduce__(self):
        raise TypeError("cannot pickle a live connection")


class FailingCacher(Cacher):
    def save(self, obj, path):
        with open(path, "w") as f:
            f.write("half")
        raise OSError("the disk is on fire")


@pytest.mark.parametrize(
    "cachers,value,reason",
    [
        pytest.param(None, Unpicklable(), "cannot pickle", id="unpicklable-dill"),
        pytest.param(
            [PickleCacher], lambda: 1, "PicklingError|AttributeError|pickle", id="lambda-pickle"
        ),
        pytest.param([JsonCacher], {1, 2}, "not JSON serializable", id="set-json"),
        pytest.param([FailingCacher], 1, "disk is on fire", id="failing-cacher"),
    ],
)
def test_output_that_cannot_be_stored_fails_the_stage_and_loses_nothing(
    cache, cachers, value, reason
):
    run_all([{"a": 1, "b": 1, "c": 1}], cache)
    before = _all_verify(cache)

    @stage(inputs=["second"], outputs=["bad"], cachers=cachers, params=[], version="1")
    def bad(record, second):
        return value

    record = bad(second(first(Record({"a": 1, "b": 1, "c": 1}, cache=cache))))
    with pytest.raises(CacherError, match=reason) as info:
        record.resolve()
    assert info.value.operation == "save" and info.value.stage == "bad"
    assert record.failed_stage == "bad"
    assert _all_verify(cache) == before
    shards = [os.path.join(cache.root, s) for s in os.listdir(cache.root)]
    assert not any(n.endswith(".sstmp") for s in shards for n in os.listdir(s))


# --- corrupt artifacts -------------------------------------------------------------------


def _artifact(cache, record, stage_index):
    (key,) = record.stages[stage_index]["outputs"].values()
    return cache.path(key), key


def test_corrupt_artifact_is_quarantined_reported_and_recomputed(cache):
    (done,) = run_all([{"a": 1, "b": 2, "c": 3}], cache)
    folder, key = _artifact(cache, done, 2)
    with open(os.path.join(folder, "data.pkl"), "r+b") as f:
        f.truncate(3)
    reset_counts()
    (again,) = run_all([{"a": 1, "b": 2, "c": 3}], cache)
    with pytest.warns(ArtifactCorruptWarning, match=key):
        assert again.state["third"] == 123
    assert CALLS == {"third": 1} and LOADS == {"second": 1}  # the corrupt copy is never unpickled
    assert cache.check() == []
    (quarantined,) = os.listdir(cache.quarantine_dir)
    assert quarantined.startswith(key)


def test_corrupt_metadata_is_quarantined_and_recomputed_when_planning(cache):
    (done,) = run_all([{"a": 1, "b": 2, "c": 3}], cache)
    folder, key = _artifact(cache, done, 2)
    with open(os.path.join(folder, META_FILE), "w") as f:
        f.write("{not json")
    reset_counts()
    with pytest.warns(ArtifactCorruptWarning, match=key):
        (again,) = run_all([{"a": 1, "b": 2, "c": 3}], cache)
    assert CALLS == {"third": 1}
    assert "was corrupt" in again.stages[2]["reason"]
    assert again.state["third"] == 123


def test_corrupt_input_is_recomputed_before_the_stage_that_needs_it(cache):
    (done,) = run_all([{"a": 1, "b": 2, "c": 3}], cache)
    folder, key = _artifact(cache, done, 1)
    with open(os.path.join(folder, "data.pkl"), "wb") as f:
        f.write(b"garbage!")
    reset_counts()
    with pytest.warns(ArtifactCorruptWarning, match=key):
        (again,) = run_all([{"a": 1, "b": 2, "c": 9}], cache)
    assert CALLS == {"second": 1, "third": 1}
    assert again.state["third"] == 129


def test_artifact_written_by_another_cacher_is_recomputed(cache):
    @stage(outputs=["x"], params=[], version="1")
    def made(record):
        return 1

    made(Record({}, cache=cache)).resolve()

    @stage(outputs=["x"], cachers=[JsonCacher], params=[], version="1")
    def made(record):
        return 1

    record = made(Record({}, cache=cache)).resolve()
    assert record.stages[0]["status"] == "run"
    assert "JsonCacher" in record.stages[0]["reason"]


# --- names on disk -----------------------------------------------------------------------


@stage(outputs=["kept"], params=["a"], version="1")
def keep(record):
    return record.params["a"]


@stage(inputs=["kept"], outputs=["echo"], params=["a"], version="1")
def echo(record, kept):
    return ((kept, record.params["a"]),)


@pytest.mark.parametrize("value", ["../../x", "/etc/passwd", "a/b\\c", "..", "\x00nul", "é" * 300])
def test_parameter_values_never_become_file_names(tmp_path, value):
    root = tmp_path / "exp"
    cache = ArtifactCache(str(root / "cache"))
    record = echo(keep(Record({"a": value}, cache=cache, id_run="r")))
    assert record.state["echo"] == (value, value)
    hexdigits = set("0123456789abcdef")
    for folder, dirs, files in os.walk(tmp_path):
        for name in dirs + files:
            parts = os.path.relpath(os.path.join(folder, name), tmp_path).split(os.sep)
            assert parts[:2] == ["exp", "cache"][: len(parts)]
            for part in parts[2:]:
                # the leases folder holds its lock file, a waiting/ folder, <key>.json files
                known = (META_FILE, "data.dill", "leases", "lock", "waiting")
                assert set(part.removesuffix(".json")) <= hexdigits or part in known, parts
    meta = cache.read_meta(record.stages[0]["outputs"]["kept"])
    assert meta["params"] == {"a": value}
