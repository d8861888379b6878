"""sweepstack.open(DIR): the Experiment a user queries, in MLtraq's state model."""

from __future__ import annotations

import os
import pickle

import pytest

from sweepstack import param_key
from sweepstack.errors import CorruptEntryWarning, ExperimentNotFoundError, FieldValueError
from sweepstack.store import Experiment, ExperimentDir
from sweepstack.store import open as open_experiment


@pytest.fixture
def xd(tmp_path):
    return ExperimentDir.create_or_open(tmp_path / "exp", name="pi", engine="PiSweep")


def test_open_gives_identity_runs_and_records(xd):
    run = xd.start_run("PiSweep")
    xd.write_record(
        "main", param_key({"n": 1}), {"params": {"n": 1}, "status": "done", "run": run.reference}
    )
    exp = open_experiment(xd.path)
    assert isinstance(exp, Experiment)
    assert (exp.id_experiment, exp.name, exp.engine, exp.path) == (
        xd.id_experiment,
        "pi",
        "PiSweep",
        xd.path,
    )
    assert [r.reference for r in exp.runs] == [run.reference]
    assert exp.run(1).reference == run.reference
    assert [r["run"] for r in exp.results()] == [run.reference]


def test_opening_a_folder_that_is_not_an_experiment_is_a_clear_error(tmp_path):
    with pytest.raises(ExperimentNotFoundError):
        open_experiment(tmp_path)


def test_runs_are_listed_by_number_and_unreadable_ones_skipped_with_a_warning(xd):
    for _ in range(11):
        xd.start_run("PiSweep")
    with open(os.path.join(xd.runs_dir, "4.json"), "w") as f:
        f.write("{")
    exp = xd.experiment()
    with pytest.warns(CorruptEntryWarning, match="4.json"):
        numbers = [r.number for r in exp.runs]
    assert numbers == [1, 2, 3, 5, 6, 7, 8, 9, 10, 11]


def test_fields_are_persisted_and_seen_by_a_new_handle(xd):
    exp = xd.experiment()
    exp.fields["dataset"] = "mnist"
    exp.fields["split"] = {"train": 0.8}
    del exp.fields["dataset"]
    assert dict(open_experiment(xd.path).fields) == {"split": {"train": 0.8}}


def test_fields_set_by_two_processes_are_both_kept(xd):
    first, second = open_experiment(xd.path), open_experiment(xd.path)
    assert len(first.fields) == len(second.fields) == 0  # both loaded before either writes
    first.fields["a"] = 1
    second.fields["b"] = 2
    assert dict(open_experiment(xd.path).fields) == {"a": 1, "b": 2}
    assert dict(second.fields) == {"a": 1, "b": 2}


def test_a_bad_field_value_is_refused_and_not_persisted(xd):
    exp = xd.experiment()
    with pytest.raises(FieldValueError, match="'model'"):
        exp.fields["model"] = object()
    assert not os.path.exists(os.path.join(xd.path, "fields.json"))


def test_an_experiment_pickles_without_its_store_handle(xd):
    xd.write_record("main", param_key({"n": 1}), {"params": {"n": 1}, "status": "done"})
    exp = xd.experiment()
    exp.fields["note"] = "x"
    data = pickle.dumps(exp)
    assert b"RecordStore" not in data and b"ExperimentDir" not in data
    again = pickle.loads(data)
    assert (again.id_experiment, again.name, dict(again.fields)) == (
        exp.id_experiment,
        "pi",
        {"note": "x"},
    )
    assert again._directory is None
    assert [r["n"] for r in again.results()] == [1]  # reopened when first needed
    again.fields["more"] = 2
    assert dict(open_experiment(xd.path).fields) == {"note": "x", "more": 2}
