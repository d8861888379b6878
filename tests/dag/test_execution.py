"""Which stages run over a sweep: exactly those whose outputs are not cached, and no more."""

from __future__ import annotations

import shutil
import tempfile

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sweepstack import sweep
from sweepstack.dag import DAG, Record, stage
from sweepstack.errors import DryRunError
from sweepstack.store._cache import ArtifactCache
from tests.dag._pipeline import CALLS, LOADS, pipeline, reset_counts, run_all

levels = st.lists(st.integers(0, 9), min_size=1, max_size=3, unique=True)


@pytest.fixture
def cache(tmp_path):
    reset_counts()
    return ArtifactCache(str(tmp_path / "cache"))


@settings(max_examples=15)
@given(a=levels, b=levels, c=levels)
def test_first_run_executes_each_stage_once_per_distinct_declared_params(a, b, c):
    reset_counts()
    root = tempfile.mkdtemp()
    try:
        run_all(sweep({"a": a, "b": b, "c": c}), ArtifactCache(root))
        assert {
            "first": len(a),
            "second": len(a) * len(b),
            "third": len(a) * len(b) * len(c),
        } == CALLS
    finally:
        shutil.rmtree(root)


def test_rerun_executes_nothing_and_loads_nothing(cache):
    space = {"a": [1, 2], "b": [1, 2, 3], "c": [1, 2]}
    run_all(sweep(space), cache)
    reset_counts()
    records = run_all(sweep(space), cache)
    assert CALLS == {} and LOADS == {}
    assert [r.stages[-1]["status"] for r in records] == ["hit"] * 12


def test_cached_leaf_neither_runs_nor_loads_upstream_stages(cache):
    run_all(sweep({"a": [1], "b": [2], "c": [3]}), cache)
    reset_counts()
    (record,) = run_all(sweep({"a": [1], "b": [2], "c": [3]}), cache)
    assert [(s["name"], s["status"]) for s in record.stages] == [
        ("first", "skipped"),
        ("second", "skipped"),
        ("third", "hit"),
    ]
    assert record.state["third"] == 100 + 20 + 3
    assert CALLS == {} and LOADS == {"third": 1}


def test_stages_are_pending_until_the_record_is_resolved(cache):
    run_all(sweep({"a": [1], "b": [2], "c": [3]}), cache)
    record = pipeline(Record({"a": 1, "b": 2, "c": 3}, cache=cache))
    assert [s["status"] for s in record.stages] == ["pending"] * 3  # nothing decided yet
    assert "first:pending" in repr(record)
    record.resolve()
    assert [s["status"] for s in record.stages] == ["skipped", "skipped", "hit"]


def test_new_level_of_last_factor_runs_only_the_last_stage_for_new_combinations(cache):
    run_all(sweep({"a": [1, 2], "b": [1, 2], "c": [1]}), cache)
    reset_counts()
    run_all(sweep({"a": [1, 2], "b": [1, 2], "c": [1, 5]}), cache)
    assert CALLS == {"third": 4}
    assert LOADS == {"second": 4}  # its input, from the cache; first is never touched


def test_new_level_of_middle_factor_runs_middle_and_last_stages(cache):
    run_all(sweep({"a": [1], "b": [1], "c": [1, 2]}), cache)
    reset_counts()
    run_all(sweep({"a": [1], "b": [1, 7], "c": [1, 2]}), cache)
    assert CALLS == {"second": 1, "third": 2}


def test_fields_set_by_stages_come_back_on_a_cache_hit(cache):
    (ran,) = run_all([{"a": 1, "b": 2, "c": 3}], cache)
    (hit,) = run_all([{"a": 1, "b": 2, "c": 3}], cache)
    assert ran.fields == hit.fields == {"b_seen": 2, "total": 123}


def test_reading_a_skipped_output_loads_it_without_running(cache):
    run_all([{"a": 1, "b": 2, "c": 3}], cache)
    reset_counts()
    (record,) = run_all([{"a": 1, "b": 2, "c": 3}], cache)
    assert record.state["first"] == 100
    assert CALLS == {} and LOADS == {"first": 1}


def test_resolve_is_idempotent(cache):
    (record,) = run_all([{"a": 1, "b": 1, "c": 1}], cache)
    before = dict(CALLS)
    record.resolve().resolve()
    assert before == CALLS


def test_reading_a_value_resolves_the_graph_first(cache):
    record = pipeline(Record({"a": 1, "b": 1, "c": 1}, cache=cache))
    assert CALLS == {}  # calling stages only registers them
    assert record.state["third"] == 111
    assert CALLS == {"first": 1, "second": 1, "third": 1}


def test_without_a_cache_everything_runs_in_memory():
    reset_counts()
    record = pipeline(Record({"a": 1, "b": 1, "c": 1}))
    assert record.state["third"] == 111
    assert CALLS == {"first": 1, "second": 1, "third": 1}


def test_eager_record_runs_each_stage_when_called(cache):
    from tests.dag._pipeline import first, second

    record = first(Record({"a": 1, "b": 1, "c": 1}, cache=cache, eager=True))
    assert CALLS == {"first": 1}
    second(record)
    assert CALLS == {"first": 1, "second": 1}


def test_overwrite_named_stage_reruns_it_and_everything_downstream(cache):
    run_all(sweep({"a": [1], "b": [1, 2], "c": [1]}), cache)
    reset_counts()
    records = run_all(sweep({"a": [1], "b": [1, 2], "c": [1]}), cache, overwrite={"second"})
    assert CALLS == {"second": 2, "third": 2}
    assert records[0].stages[1]["reason"] == "overwrite second"
    assert records[0].stages[2]["reason"] == "upstream stage second is overwritten"
    reset_counts()
    run_all(sweep({"a": [1], "b": [1, 2], "c": [1]}), cache)
    assert CALLS == {}  # overwritten artifacts are cached like any other


def test_overwrite_all_recomputes_shared_artifacts_once_per_run(cache):
    run_all(sweep({"a": [1], "b": [1, 2], "c": [1, 2]}), cache)
    reset_counts()
    run_all(sweep({"a": [1], "b": [1, 2], "c": [1, 2]}), cache, overwrite=True, id_run="run-2")
    assert CALLS == {"first": 1, "second": 2, "third": 4}


def test_dry_record_runs_nothing_writes_nothing_and_refuses_reads(tmp_path):
    reset_counts()
    cache = ArtifactCache(str(tmp_path / "cache"))
    record = pipeline(Record({"a": 1, "b": 1, "c": 1}, cache=cache, dry=True)).resolve()
    assert CALLS == {}
    assert not (tmp_path / "cache").exists()
    assert [s["status"] for s in record.stages] == ["run", "run", "run"]
    with pytest.raises(DryRunError, match="'third' of stage 'third'"):
        record.state["third"]


def test_dry_cache_runs_without_reading_or_writing_artifacts(tmp_path):
    reset_counts()
    cache = ArtifactCache(str(tmp_path / "cache"))
    record = pipeline(Record({"a": 1, "b": 1, "c": 1}, cache=cache, dry_cache=True))
    assert record.state["third"] == 111
    assert not (tmp_path / "cache").exists()


def test_stage_without_outputs_always_runs(cache):
    runs = []

    @stage(inputs=["third"], params=[], version="1")
    def show(record, third):
        runs.append(third)

    for _ in range(2):
        show(pipeline(Record({"a": 1, "b": 1, "c": 1}, cache=cache))).resolve()
    assert runs == [111, 111]


def test_map_of_a_sweep_lists_what_runs_dependencies_first(cache):
    run_all([{"a": 1, "b": 1, "c": 1}], cache)
    records = [pipeline(Record(c, cache=cache)) for c in sweep({"a": [1], "b": [1], "c": [1, 2]})]
    dag = DAG(records)
    assert dag.execution_list == [(1, "third")]
    assert dag.summary() == {
        "third": {"cached": 1, "run": 1},
        "second": {"skipped": 1, "cached": 1},
        "first": {"skipped": 2},
    }
    assert CALLS == {"first": 1, "second": 1, "third": 1}  # mapping ran nothing


def test_map_counts_a_shared_artifact_once(cache):
    records = [pipeline(Record(c, cache=cache)) for c in sweep({"a": [1], "b": [1], "c": [1, 2]})]
    dag = DAG(records)
    assert dag.execution_list == [(0, "first"), (0, "second"), (0, "third"), (1, "third")]
    text = str(dag)
    assert "made earlier in this run by second of record" in text
    assert "no artifact with key" in text


def test_map_is_a_snapshot_and_leaves_the_records_to_plan_when_they_run(cache):
    records = [pipeline(Record(c, cache=cache)) for c in sweep({"a": [1], "b": [1], "c": [1, 2]})]
    DAG(records)
    for record in records:
        record.resolve()
    assert CALLS == {"first": 1, "second": 1, "third": 2}


def test_document_of_a_dry_record_names_no_outputs(cache):
    record = pipeline(Record({"a": 1, "b": 1, "c": 1}, cache=cache, dry=True)).resolve()
    assert record.to_document()["outputs"] == {}
