"""@aggregate: stages over many records, keyed by their members' keys."""

from __future__ import annotations

import json

import pytest

from sweepstack import sweep
from sweepstack.dag import DAG, Record, aggregate
from sweepstack.errors import AggregateError
from sweepstack.store._cache import ArtifactCache
from tests.dag._pipeline import CALLS, LOADS, reset_counts, run_all

RUNS: list[int] = []


@aggregate(inputs=["third"], outputs=["table"], params=[], version="1")
def tabulate(record, records, third):
    RUNS.append(len(records))
    return sorted((r.params["c"], value) for r, value in third.items())


@pytest.fixture
def cache(tmp_path):
    reset_counts()
    RUNS.clear()
    return ArtifactCache(str(tmp_path / "cache"))


def test_aggregate_gets_each_members_value(cache):
    members = run_all(sweep({"a": [1], "b": [1], "c": [1, 2, 3]}), cache)
    summary = tabulate(Record({}, key="summary", cache=cache), members)
    assert summary.state["table"] == [(1, 111), (2, 112), (3, 113)]


def test_aggregate_over_the_same_members_is_a_cache_hit(cache):
    members = run_all(sweep({"a": [1], "b": [1], "c": [1, 2]}), cache)
    tabulate(Record({}, key="summary", cache=cache), members).resolve()
    again = tabulate(Record({}, key="summary", cache=cache), members).resolve()
    assert RUNS == [2] and again.stages[0]["status"] == "hit"


def test_adding_a_member_recomputes_the_aggregate(cache):
    members = run_all(sweep({"a": [1], "b": [1], "c": [1, 2]}), cache)
    tabulate(Record({}, key="summary", cache=cache), members).resolve()
    more = run_all(sweep({"a": [1], "b": [1], "c": [1, 2, 3]}), cache)
    record = tabulate(Record({}, key="summary", cache=cache), more).resolve()
    assert RUNS == [2, 3] and "no artifact" in record.stages[0]["reason"]
    assert record.stages[0]["members"] == sorted(m.key for m in more)


def test_aggregate_key_is_made_of_member_keys_and_their_input_keys(cache):
    members = run_all(sweep({"a": [1], "b": [1], "c": [1, 2]}), cache)
    (entry,) = tabulate(Record({}, key="summary", cache=cache), members).stages
    assert entry["inputs"] == {"third": {m.key: m.stages[2]["outputs"]["third"] for m in members}}


def test_aggregate_over_records_rebuilt_from_documents_loads_only_their_outputs(cache):
    members = run_all(sweep({"a": [1], "b": [1], "c": [1, 2]}), cache)
    documents = [json.loads(json.dumps(m.to_document())) for m in members]
    reset_counts()
    stored = [Record.from_document(d, cache) for d in documents]
    summary = tabulate(Record({}, key="summary", cache=cache), stored)
    assert summary.state["table"] == [(1, 111), (2, 112)]
    assert CALLS == {} and LOADS == {"third": 2}


def test_aggregate_needing_a_skipped_member_output_loads_it(cache):
    run_all(sweep({"a": [1], "b": [1], "c": [1, 2]}), cache)
    members = run_all(sweep({"a": [1], "b": [1], "c": [1, 2]}), cache)  # all hits
    reset_counts()

    @aggregate(inputs=["first"], outputs=["firsts"], params=[], version="1")
    def firsts(record, records, first):
        return sorted(first.values())

    assert firsts(Record({}, key="f", cache=cache), members).state["firsts"] == [100, 100]
    assert CALLS == {} and LOADS == {"first": 2}


def test_map_of_an_aggregate_includes_its_members(cache):
    members = [Record(c, cache=cache) for c in sweep({"a": [1], "b": [1], "c": [1, 2]})]
    from tests.dag._pipeline import pipeline

    for m in members:
        pipeline(m)
    summary = tabulate(Record({}, key="summary", cache=cache), members)
    dag = DAG([summary])
    assert len(dag.records) == 3
    assert dag.execution_list[-1] == (0, "tabulate")
    assert sum(1 for _, name in dag.execution_list if name == "third") == 2


@pytest.mark.parametrize(
    "records,match",
    [
        pytest.param([], "no records", id="empty"),
        pytest.param([{"c": 1}], "must be Record objects", id="not-records"),
        pytest.param(None, "no records given", id="none"),
    ],
)
def test_aggregate_with_unusable_members_is_a_clear_error(records, match):
    with pytest.raises(AggregateError, match=match):
        tabulate(Record({}, key="summary"), records)


def test_aggregate_over_a_member_without_the_input_names_it(cache):
    (member,) = run_all([{"a": 1, "b": 1, "c": 1}], cache)
    bare = Record({"a": 2}, cache=cache)
    with pytest.raises(AggregateError, match=f"record {bare.key} has no output 'third'"):
        tabulate(Record({}, key="summary"), [member, bare])
