"""ArtifactManager: cached stages with a live run, without an Engine."""

from __future__ import annotations

import json
import os
import pickle

import pytest

from sweepstack.dag import ArtifactManager, Record, aggregate
from sweepstack.store import ExperimentDir
from tests.dag._pipeline import CALLS, pipeline, reset_counts


@pytest.fixture(autouse=True)
def _counts():
    reset_counts()


def _run_file(path, number=1):
    with open(os.path.join(path, "runs", f"{number}.json")) as f:
        return json.load(f)


def test_manager_registers_a_live_run_and_stores_records(tmp_path):
    path = str(tmp_path / "exp")
    manager = ArtifactManager("pi", path, notes="first try")
    record = pipeline(manager.record({"a": 1, "b": 2}, c=3))
    assert record.state["third"] == 123
    assert record.id_run == manager.id_run and manager.id_run.startswith("pi_1_")
    manager.finish()
    run = _run_file(path)
    assert (run["status"], run["notes"], run["live"]) == ("complete", "first try", True)
    stored = ExperimentDir.open(path).read_record("live", record.key)
    assert stored["status"] == "done" and stored["fields"] == {"b_seen": 2, "total": 123}
    assert stored["run"] == manager.id_run
    assert set(stored["outputs"]) == {"first", "second", "third"}


def test_second_manager_on_the_same_directory_reuses_the_cache_in_a_new_run(tmp_path):
    path = str(tmp_path / "exp")
    with ArtifactManager("pi", path) as manager:
        pipeline(manager.record({"a": 1, "b": 1, "c": 1}))
        manager.resolve()
    reset_counts()
    with ArtifactManager("pi", path) as again:
        record = pipeline(again.record({"a": 1, "b": 1, "c": 1}))
        again.resolve()
    assert CALLS == {} and record.stages[2]["status"] == "hit"
    assert again.id_run.startswith("pi_2_")
    assert record.stages[2]["cached_run"] == manager.id_run


def test_failed_stage_is_stored_and_the_run_marked_error(tmp_path):
    from sweepstack.dag import stage

    path = str(tmp_path / "exp")

    @stage(inputs=["third"], outputs=["x"], params=[], version="1")
    def fails(record, third):
        raise ValueError("bad third")

    with pytest.raises(ValueError), ArtifactManager("pi", path) as manager:
        fails(pipeline(manager.record({"a": 1, "b": 1, "c": 1})))
        manager.resolve()
    stored = ExperimentDir.open(path).read_record("live", manager.records[0].key)
    assert stored["status"] == "failed" and stored["exception"]["stage"] == "fails"
    run = _run_file(path)
    assert run["status"] == "error" and "bad third" in run["error"]


def test_prefix_shares_one_cache_between_experiments(tmp_path):
    with ArtifactManager("one", str(tmp_path / "one"), prefix="shared") as one:
        pipeline(one.record({"a": 1, "b": 1, "c": 1}))
        one.resolve()
    reset_counts()
    with ArtifactManager("two", str(tmp_path / "two"), prefix="shared") as two:
        pipeline(two.record({"a": 1, "b": 1, "c": 1}))
        two.resolve()
    assert CALLS == {}
    assert two.cache.root == str(tmp_path / "cache-shared")


def test_dry_manager_creates_nothing_and_maps(tmp_path):
    path = tmp_path / "exp"
    manager = ArtifactManager("pi", str(path), dry=True)
    pipeline(manager.record({"a": 1, "b": 1, "c": 1}))
    dag = manager.map()
    assert dag.execution_list == [(0, "first"), (0, "second"), (0, "third")]
    manager.resolve()
    assert not path.exists() and CALLS == {} and manager.id_run is None


def test_aggregate_without_records_takes_every_other_record_of_the_manager(tmp_path):
    @aggregate(inputs=["third"], outputs=["total"], params=[], version="1")
    def total(record, records, third):
        return sum(third.values())

    with ArtifactManager("pi", str(tmp_path / "exp")) as manager:
        for c in (1, 2):
            pipeline(manager.record({"a": 1, "b": 1, "c": c}))
        summary = total(manager.record({"summary": True}))
        assert summary.state["total"] == 111 + 112


def test_manager_pickles_without_its_store_handles(tmp_path):
    with ArtifactManager("pi", str(tmp_path / "exp")) as manager:
        record = pipeline(manager.record({"a": 1, "b": 1, "c": 1}))
        record.resolve()
        data = pickle.dumps(manager)
    copy = pickle.loads(data)
    assert copy.xd is None and copy.run is None and copy.cache is None
    assert copy.attach().records[0].state["third"] == 111
    assert copy.id_run is None  # attaching starts no new run


def test_notebook_displays_are_html(tmp_path):
    with ArtifactManager("pi", str(tmp_path / "exp")) as manager:
        record = pipeline(manager.record({"a": 1, "b": 1, "c": 1}))
        record.report("hello", name="greeting", group="g")
        record.resolve()
        assert "<table>" in manager._repr_html_()
        assert "third" in manager.display_stage_graph()._repr_html_()
        assert "hello" in manager.display_record(record)
        assert "hello" in manager.display_group_reportables("g")
        assert "hello" not in manager.display_stage_reportables("first")
        assert "third" in manager.map()._repr_html_()
        assert isinstance(Record({})._repr_html_(), str)


def _index_lines(path, sweep="live"):
    folder = os.path.join(path, "records", sweep, "_log")
    lines = []
    for name in os.listdir(folder):
        with open(os.path.join(folder, name)) as f:
            lines += [line for line in f if '"key"' in line and '"log"' not in line]
    return lines


def test_resolve_then_finish_writes_each_record_once(tmp_path):
    path = str(tmp_path / "exp")
    with ArtifactManager("pi", path) as manager:
        record = pipeline(manager.record({"a": 1, "b": 2, "c": 3}))
        manager.resolve()
    assert ExperimentDir.open(path).read_record("live", record.key)["attempt"] == 1
    assert len(_index_lines(path)) == 1


def test_a_record_changed_after_resolve_is_written_again_by_finish(tmp_path):
    path = str(tmp_path / "exp")
    with ArtifactManager("pi", path) as manager:
        record = pipeline(manager.record({"a": 1, "b": 2, "c": 3}))
        manager.resolve()
        record.fields["late"] = 1
    stored = ExperimentDir.open(path).read_record("live", record.key)
    assert (stored["attempt"], stored["fields"]["late"]) == (2, 1)


def test_a_cached_rerun_through_a_new_manager_writes_no_record(tmp_path):
    path = str(tmp_path / "exp")
    with ArtifactManager("pi", path) as manager:
        record = pipeline(manager.record({"a": 1, "b": 2, "c": 3}))
        manager.resolve()
    with ArtifactManager("pi", path) as again:
        pipeline(again.record({"a": 1, "b": 2, "c": 3}))
        again.resolve()
    stored = ExperimentDir.open(path).read_record("live", record.key)
    assert (stored["attempt"], stored["run"]) == (1, manager.id_run)
    assert len(_index_lines(path)) == 1
