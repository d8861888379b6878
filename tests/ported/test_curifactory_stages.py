"""curifactory's stages, aggregates and manager, as its users port them, on sweepstack's API.

Behaviours of curifactory's own tests (aggregates over records' state, tuple outputs,
loading cached artifacts once, the manager storing records) restated in our own words.
"""

from __future__ import annotations

import collections
import os
import shutil

import pytest

import sweepstack
from sweepstack.dag import DAG, ArtifactManager, PickleCacher, Record, aggregate, stage
from sweepstack.errors import StageDefinitionError, StageOutputError
from sweepstack.store import ExperimentDir
from sweepstack.store._cache import ArtifactCache

RAN: collections.Counter[str] = collections.Counter()
LOADED: collections.Counter[str] = collections.Counter()


class CountingLoads(PickleCacher):
    def load(self, path):
        LOADED["data"] += 1
        return super().load(path)


@pytest.fixture
def cache(tmp_path):
    RAN.clear()
    LOADED.clear()
    return ArtifactCache(str(tmp_path / "cache"))


# --- an aggregate reading its members' record.state ----------------------------------------


def _members(cache, version, value, n=2):
    @stage(outputs=["input"], params=["i"], version=version)
    def make(record):
        RAN["make"] += 1
        return value

    return [make(Record({"i": i}, cache=cache)) for i in range(n)]


@aggregate(outputs=["total"], version="1")
def total(record, records):
    RAN["total"] += 1
    return sum(r.state["input"] for r in records)


def test_aggregate_reading_member_state_is_recomputed_when_a_member_stage_changes(cache):
    assert total(Record({}, key="t", cache=cache), _members(cache, "1", 1)).state["total"] == 2
    changed = total(Record({}, key="t", cache=cache), _members(cache, "2", 10))
    assert changed.state["total"] == 20
    assert changed.stages[0]["status"] == "run"


def test_aggregate_reading_unchanged_member_state_is_a_cache_hit_that_loads_no_member(cache):
    total(Record({}, key="t", cache=cache), _members(cache, "1", 1)).resolve()
    RAN.clear()
    again = total(Record({}, key="t", cache=cache), _members(cache, "1", 1))
    assert again.state["total"] == 2 and again.stages[0]["status"] == "hit"
    assert RAN == {}


def test_aggregate_reading_a_state_name_its_members_lack_is_a_clear_error(cache):
    @aggregate(outputs=["total"], version="1")
    def reads_missing(record, records):
        return [r.state["nope"] for r in records]

    summary = reads_missing(Record({}, key="t", cache=cache), _members(cache, "1", 1))
    with pytest.raises(StageDefinitionError, match="'nope'"):
        summary.resolve()


def test_a_stage_reading_another_records_state_is_refused(cache):
    other = _members(cache, "1", 1, n=1)[0]

    @stage(outputs=["x"], params=[], version="1")
    def peeks(record):
        return record.vars["other"].state["input"]

    record = Record({"j": 1}, cache=cache)
    record.vars["other"] = other
    with pytest.raises(StageDefinitionError, match="another record"):
        peeks(record).resolve()


# --- one output returned as a tuple ---------------------------------------------------------


@pytest.mark.parametrize(
    "returned, value",
    [
        pytest.param(((1, 2),), (1, 2), id="wrapped-tuple-is-the-value"),
        pytest.param([1, 2], [1, 2], id="list-is-the-value"),
        pytest.param(5, 5, id="scalar"),
        pytest.param((5,), 5, id="one-tuple-is-its-item"),
    ],
)
def test_single_output_follows_curifactorys_tuple_rule(cache, returned, value):
    @stage(outputs=["pair"], params=[], version="1")
    def make(record):
        return returned

    record = make(Record({}, cache=cache))
    assert record.state["pair"] == value
    assert make(Record({}, cache=cache)).state["pair"] == value  # and from the cache


def test_a_bare_tuple_for_one_output_is_an_error_naming_the_output(cache):
    @stage(outputs=["pair"], params=[], version="1")
    def make(record):
        return (1, 2)

    record = make(Record({}, cache=cache))
    with pytest.raises(StageOutputError, match=r"\['pair'\]") as info:
        record.resolve()
    assert "((a, b),)" in str(info.value) and list(cache.iter_artifacts()) == []


def test_wrong_output_count_names_the_declared_outputs(cache):
    @stage(outputs=["model", "score"], params=[], version="1")
    def train(record):
        return (1, 2, 3)

    with pytest.raises(StageOutputError) as info:
        train(Record({}, cache=cache)).resolve()
    assert info.value.outputs == ("model", "score") and "['model', 'score']" in str(info.value)


# --- a cached artifact is loaded into the record once -----------------------------------------


@stage(outputs=["data"], params=[], version="1", cachers=[CountingLoads])
def data(record):
    RAN["data"] += 1
    return [1, 2, 3]


@stage(inputs=["data"], outputs=["a"], params=[], version="1")
def first_use(record, data):
    return sum(data)


@stage(inputs=["data", "a"], outputs=[], params=[])
def second_use(record, data, a):
    record.fields["seen"] = len(data) + a


def test_a_cached_artifact_read_by_two_stages_and_the_state_is_loaded_once(cache):
    data(Record({}, cache=cache)).resolve()
    record = second_use(first_use(data(Record({}, cache=cache))))
    record.resolve()
    assert record.state["data"] == [1, 2, 3] and record.state["data"] == [1, 2, 3]
    assert RAN["data"] == 1 and LOADED["data"] == 1 and record.fields["seen"] == 9


def test_a_lazy_output_is_loaded_on_every_read_and_kept_out_of_memory(cache):
    from sweepstack.dag import Lazy

    @stage(outputs=[Lazy("big")], params=[], version="1", cachers=[CountingLoads])
    def big(record):
        return [0] * 10

    record = big(Record({}, cache=cache)).resolve()
    assert record.state["big"] == [0] * 10 and record.state["big"] == [0] * 10
    assert LOADED["data"] == 2


# --- the manager ------------------------------------------------------------------------------


def test_manager_stores_a_record_that_has_fields_and_no_stage(tmp_path):
    path = str(tmp_path / "exp")
    manager = ArtifactManager("trials", path)
    record = manager.record(trial=1)
    record.fields["accuracy"] = 0.87
    manager.finish()
    stored = ExperimentDir.open(path).read_record("live", record.key)
    assert stored["status"] == "done" and stored["fields"] == {"accuracy": 0.87}
    assert [r["fields"] for r in sweepstack.open(path).records()] == [{"accuracy": 0.87}]


@stage(outputs=["input"], params=["i"], version="1")
def member(record):
    RAN["member"] += 1
    return record.params["i"]


def test_manager_resolve_runs_no_member_stage_of_a_cached_aggregate(tmp_path, cache):
    path = str(tmp_path / "exp")
    with ArtifactManager("agg", path) as manager:
        members = [member(manager.record(i=i)) for i in range(3)]
        total(manager.record(kind="summary"), members)
        manager.resolve()
    assert RAN == {"member": 3, "total": 1}
    for record in members:  # the members' own artifacts go away; the aggregate's stays
        shutil.rmtree(manager.cache.path(record.stages[0]["outputs"]["input"]))
    RAN.clear()
    with ArtifactManager("agg", path) as again:
        members = [member(again.record(i=i)) for i in range(3)]
        summary = total(again.record(kind="summary"), members)
        planned = DAG(again.records)
        assert planned.execution_list == []
        again.resolve()
    assert RAN == {} and summary.stages[0]["status"] == "hit"
    assert [m.stages[0]["status"] for m in members] == ["skipped"] * 3
    stored = ExperimentDir.open(path)
    assert all(stored.read_record("live", m.key)["status"] == "done" for m in members)
    assert summary.state["total"] == 3


def test_reading_a_passed_over_member_output_afterwards_recomputes_it(tmp_path):
    RAN.clear()
    path = str(tmp_path / "exp")
    with ArtifactManager("agg", path) as manager:
        members = [member(manager.record(i=i)) for i in range(2)]
        total(manager.record(kind="summary"), members)
        manager.resolve()
    for record in members:
        shutil.rmtree(manager.cache.path(record.stages[0]["outputs"]["input"]))
    with ArtifactManager("agg", path) as again:
        members = [member(again.record(i=i)) for i in range(2)]
        total(again.record(kind="summary"), members)
        again.resolve()
        RAN.clear()
        assert members[1].state["input"] == 1  # still there when asked for
    assert RAN == {"member": 1}


# --- documented names import from where the reference says -----------------------------------


def test_every_name_in_the_api_reference_imports_from_where_it_says():
    import importlib
    import re

    here = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    with open(os.path.join(here, "docs", "api.md"), encoding="utf-8") as f:
        text = f.read()
    entries = re.split(r"^### ", text, flags=re.M)[1:]
    assert entries
    for entry in entries:
        qualified = re.match(r"`([\w.]+)`", entry).group(1)
        module, name = qualified.rsplit(".", 1)
        assert hasattr(importlib.import_module(module), name), qualified
        note = f"`from {module} import {name}`"
        assert hasattr(sweepstack, name) or note in entry, qualified
    assert sweepstack.PandasCacher and sweepstack.NumpyCacher


@stage(outputs=["unread"], params=["i"], version="1")
def unread(record):
    RAN["unread"] += 1
    return -record.params["i"]


@aggregate(inputs=["input"], outputs=["sum"], version="1")
def sums(record, records, input):
    RAN["sums"] += 1
    return sum(input.values())


def test_member_outputs_a_running_aggregate_does_not_read_are_still_made_and_stored(tmp_path):
    RAN.clear()
    path = str(tmp_path / "exp")
    with ArtifactManager("agg", path) as manager:
        members = [unread(member(manager.record(i=i))) for i in range(2)]
        summary = sums(manager.record(kind="summary"), members)
        manager.resolve()
    assert summary.state["sum"] == 1 and RAN == {"member": 2, "unread": 2, "sums": 1}
    stored = ExperimentDir.open(path)
    assert all(stored.read_record("live", m.key)["status"] == "done" for m in members)


@stage(outputs=["input"], params=["i"], version="1", cachers=[CountingLoads])
def counted(record):
    return record.params["i"]


@aggregate(inputs=["input"], outputs=["both"], version="1")
def both_ways(record, records, input):
    return ((sum(input.values()), sum(r.state["input"] for r in records)),)


def test_an_aggregate_reading_a_cached_member_output_twice_loads_it_once(cache):
    members = [counted(Record({"i": i}, cache=cache)) for i in range(3)]
    for member_record in members:
        member_record.resolve()
    LOADED.clear()
    members = [counted(Record({"i": i}, cache=cache)) for i in range(3)]
    summary = both_ways(Record({}, key="s", cache=cache), members)
    assert summary.state["both"] == (3, 3)
    assert LOADED["data"] == 3
