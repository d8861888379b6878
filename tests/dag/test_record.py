"""Record: state, fields, vars, stage entries, documents, pickling, reportables, Lazy."""

from __future__ import annotations

import json
import os
import pickle

import pytest

from sweepstack.dag import Lazy, PathCacher, Record, stage
from sweepstack.errors import CacheDetachedError, ReportableTypeError
from sweepstack.store._cache import ArtifactCache
from tests.dag._pipeline import CALLS, LOADS, pipeline, reset_counts, run_all


@pytest.fixture
def cache(tmp_path):
    reset_counts()
    return ArtifactCache(str(tmp_path / "cache"))


def test_key_defaults_to_the_combination_key():
    from sweepstack import param_key

    assert Record({"n": 1}).key == param_key({"n": 1})
    assert Record({"n": 1}, key="given").key == "given"


def test_stage_entries_say_what_happened_and_why(cache):
    (ran,) = run_all([{"a": 1, "b": 2, "c": 3}], cache, id_run="run-1")
    (hit,) = run_all([{"a": 1, "b": 2, "c": 3}], cache, id_run="run-2")
    entry = ran.stages[1]
    assert entry["name"] == "second" and entry["status"] == "run"
    assert entry["reason"].startswith("no artifact with key ")
    assert entry["duration"] >= 0 and len(entry["code"]) == 16
    assert entry["params"] == {"b": 2} and entry["missing"] == []
    assert entry["inputs"] == {"first": ran.stages[0]["outputs"]["first"]}
    last = hit.stages[2]
    assert (last["status"], last["reason"], last["cached_run"]) == (
        "hit",
        "cached by run run-1",
        "run-1",
    )
    assert "source" not in last


def test_store_full_keeps_the_source_text_of_each_stage(cache):
    (record,) = run_all([{"a": 1, "b": 2, "c": 3}], cache, store_full=True)
    assert "def third(record, second):" in record.stages[2]["source"]
    meta = cache.read_meta(record.stages[2]["outputs"]["third"])
    assert "def third(record, second):" in meta["source"]


def test_metadata_next_to_an_artifact_says_what_made_its_key(cache):
    (record,) = run_all([{"a": 1, "b": 2, "c": 3}], cache, id_run="run-1")
    entry = record.stages[2]
    meta = cache.read_meta(entry["outputs"]["third"])
    assert meta["stage"] == "third" and meta["output"] == "third"
    assert meta["code"] == entry["code"] and meta["params"] == {"c": 3}
    assert meta["inputs"] == entry["inputs"] and meta["run"] == "run-1"
    assert meta["cacher"] == "tests.dag._pipeline.CountingCacher"
    assert meta["fields"] == {"b_seen": 2, "total": 123}


def test_document_is_json_and_names_the_artifacts(cache):
    (record,) = run_all([{"a": 1, "b": 2, "c": 3}], cache)
    document = json.loads(json.dumps(record.to_document()))
    assert document["key"] == record.key
    assert document["params"] == {"a": 1, "b": 2, "c": 3}
    assert document["fields"] == {"b_seen": 2, "total": 123}
    assert document["exception"] is None
    assert set(document["outputs"]) == {"first", "second", "third"}
    assert [s["status"] for s in document["stages"]] == ["run", "run", "run"]


def test_document_of_a_failed_record_names_the_stage_and_exception(cache):
    @stage(inputs=["second"], outputs=["boom"], params=[], version="1")
    def boom(record, second):
        raise ZeroDivisionError("nothing to divide")

    record = boom(pipeline(Record({"a": 1, "b": 1, "c": 1}, cache=cache)))
    with pytest.raises(ZeroDivisionError):
        record.resolve()
    document = json.loads(json.dumps(record.to_document()))
    assert document["exception"]["type"] == "builtins.ZeroDivisionError"
    assert document["exception"]["stage"] == "boom"
    assert "nothing to divide" in document["exception"]["traceback"]
    assert "boom" not in document["outputs"]


def test_failed_stage_is_retried_by_the_next_resolve(cache):
    attempts = []

    @stage(outputs=["x"], params=[], version="1")
    def flaky(record):
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("first try fails")
        return 7

    record = flaky(Record({}, cache=cache))
    with pytest.raises(RuntimeError):
        record.resolve()
    assert record.state["x"] == 7 and record.exception is None and record.failed_stage is None


def test_record_rebuilt_from_its_document_loads_outputs_from_the_cache(cache):
    (record,) = run_all([{"a": 1, "b": 2, "c": 3}], cache)
    document = json.loads(json.dumps(record.to_document()))
    reset_counts()
    again = Record.from_document(document, cache)
    assert again.key == record.key and again.fields == record.fields
    assert again.state["third"] == 123 and again.state["first"] == 100
    assert CALLS == {} and LOADS == {"third": 1, "first": 1}
    assert again.stages == document["stages"]


@stage(outputs=["big"], params=[], version="1")
def big(record):
    return b"x" * 1_000_000


def test_record_pickles_without_its_cache_and_without_its_data(cache):
    record = big(Record({}, cache=cache, id_run="r"))
    record.vars["scratch"] = lambda: None  # scratch, not even picklable
    assert len(record.state["big"]) == 1_000_000
    data = pickle.dumps(record)
    assert len(data) < 20_000 and b"ArtifactCache" not in data
    copy = pickle.loads(data)
    assert copy.cache is None and copy.vars == {} and copy.key == record.key
    with pytest.raises(CacheDetachedError, match=r"record\.attach"):
        copy.state["big"]
    assert copy.attach(cache).state["big"] == b"x" * 1_000_000


def test_unresolved_record_pickles_with_its_graph_and_resolves_elsewhere(cache):
    record = pipeline(Record({"a": 1, "b": 1, "c": 1}))
    copy = pickle.loads(pickle.dumps(record)).attach(cache)
    assert copy.state["third"] == 111
    assert CALLS == {"first": 1, "second": 1, "third": 1}


def test_record_with_a_stage_defined_in_a_function_says_why_it_cannot_pickle():
    @stage(outputs=["x"], params=[], version="1")
    def local(record):
        return 1

    with pytest.raises(pickle.PicklingError, match="module level"):
        pickle.dumps(local(Record({})))


def test_vars_are_scratch_and_fields_are_checked():
    record = Record({})
    record.vars["model"] = object()
    record.fields["n"] = 3
    assert "model" not in record.to_document()["fields"]


def test_lazy_output_is_dropped_from_memory_once_cached(cache):
    @stage(outputs=["small", Lazy("large")], params=[], version="1")
    def make(record):
        return 1, list(range(1000))

    record = make(Record({}, cache=cache)).resolve()
    call = record._calls[0]
    assert "large" not in call.values and "small" in call.values
    assert record.state["large"] == list(range(1000))


def test_lazy_without_resolve_hands_the_handle_to_the_next_stage(cache):
    @stage(outputs=[Lazy("data", resolve=False)], params=[], version="1")
    def produce(record):
        return {"x": 1}

    @stage(inputs=["data"], outputs=["path"], params=[], version="1")
    def consume(record, data):
        assert isinstance(data, Lazy)
        return ((data.key, os.path.exists(data.data_path), data.load()),)

    key, exists, loaded = consume(produce(Record({}, cache=cache))).state["path"]
    assert exists and loaded == {"x": 1} and len(key) == 32


def test_path_cacher_keeps_a_copy_of_the_file_a_stage_wrote(cache, tmp_path):
    @stage(outputs=["report"], cachers=[PathCacher], params=["n"], version="1")
    def write(record):
        path = tmp_path / f"report-{record.params['n']}.txt"
        path.write_text(f"n={record.params['n']}")
        return str(path)

    path = write(Record({"n": 3}, cache=cache)).state["report"]
    assert path.startswith(cache.root)
    with open(path) as f:
        assert f.read() == "n=3"
    again = write(Record({"n": 3}, cache=cache)).resolve()
    assert again.stages[0]["status"] == "hit" and again.state["report"] == path


def test_numpy_and_pandas_cachers_round_trip(cache):
    import numpy as np
    import pandas as pd

    from sweepstack.dag import NumpyCacher, PandasCacher

    @stage(
        outputs=["array", "frame", "csv"],
        cachers=[NumpyCacher, PandasCacher, PandasCacher(format="csv")],
        params=[],
        version="1",
    )
    def tables(record):
        frame = pd.DataFrame({"a": [1, 2], "b": [0.5, 1.5]})
        return np.arange(6).reshape(2, 3), frame, frame

    tables(Record({}, cache=cache)).resolve()
    again = tables(Record({}, cache=cache)).resolve()
    assert again.stages[0]["status"] == "hit"
    assert again.state["array"].tolist() == [[0, 1, 2], [3, 4, 5]]
    pd.testing.assert_frame_equal(
        again.state["frame"], pd.DataFrame({"a": [1, 2], "b": [0.5, 1.5]})
    )
    pd.testing.assert_frame_equal(again.state["csv"], pd.DataFrame({"a": [1, 2], "b": [0.5, 1.5]}))


# --- reportables -------------------------------------------------------------------------


@stage(outputs=["summary"], params=["n"], version="1")
def summarise(record):
    record.report(f"n is {record.params['n']}", name="text")
    record.report({"n": record.params["n"]}, name="json", group="numbers")
    return record.params["n"]


def test_reportables_are_stored_and_come_back_on_a_cache_hit(cache):
    ran = summarise(Record({"n": 4}, cache=cache)).resolve()
    hit = summarise(Record({"n": 4}, cache=cache)).resolve()
    assert hit.stages[0]["status"] == "hit"
    assert (
        [r["name"] for r in hit.reportables]
        == ["text", "json"]
        == [r["name"] for r in ran.reportables]
    )
    entry = hit.reportables[0]
    assert (entry["kind"], entry["stage"], entry["file"]) == ("text", "summarise", "data.txt")
    with open(os.path.join(cache.path(entry["key"]), entry["file"])) as f:
        assert f.read() == "n is 4"


def test_figures_and_tables_are_rendered_when_reported(cache):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    record = Record({}, cache=cache)
    figure, axes = plt.subplots()
    axes.plot([1, 2, 3])
    record.report(figure, name="curve")
    plt.close(figure)
    record.report(pd.DataFrame({"a": [1]}), name="table")
    kinds = [(r["kind"], r["file"]) for r in record.reportables]
    assert kinds == [("figure", "data.png"), ("table", "data.html")]
    with open(os.path.join(cache.path(record.reportables[0]["key"]), "data.png"), "rb") as f:
        assert f.read(4) == b"\x89PNG"
    html = record._repr_html_()
    assert "data:image/png;base64," in html and "<table" in html


def test_reporting_something_a_report_cannot_show_is_a_clear_error():
    with pytest.raises(ReportableTypeError, match="'thing'"):
        Record({}).report(object(), name="thing")


def test_stored_record_with_a_missing_artifact_is_a_clear_error(cache):
    from sweepstack.errors import ArtifactCorruptError

    (record,) = run_all([{"a": 1, "b": 2, "c": 3}], cache)
    document = record.to_document()
    cache.remove(document["outputs"]["third"])
    again = Record.from_document(document, cache)
    with pytest.raises(ArtifactCorruptError, match="missing from the cache"):
        again.state["third"]
    assert again.state["second"] == 120  # the rest is intact


@stage(outputs=["plain", Lazy("declared")], params=[], version="1")
def two_kinds(record):
    return [1], [2]


@pytest.mark.parametrize(
    "options,in_memory",
    [
        pytest.param({}, {"plain"}, id="default"),
        pytest.param({"lazy": True}, set(), id="lazy-everything"),
        pytest.param({"ignore_lazy": True}, {"plain", "declared"}, id="ignore-lazy"),
    ],
)
def test_lazy_options_decide_what_stays_in_memory(cache, options, in_memory):
    record = two_kinds(Record({}, cache=cache, **options)).resolve()
    assert set(record._calls[0].values) == in_memory
    assert (record.state["plain"], record.state["declared"]) == ([1], [2])
