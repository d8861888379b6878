"""MLtraq's experiment and run state: every documented attribute, with its meaning.

An experiment is :class:`sweepstack.Experiment`; a run of MLtraq's is a
:class:`sweepstack.Record` (one combination). Both refuse attributes that are not
part of their state, as MLtraq's slots do.
"""

from __future__ import annotations

import inspect
import pickle

import pytest

import sweepstack
from sweepstack import Engine, Record, stage, sweep
from sweepstack.dag import ArtifactManager
from sweepstack.errors import UnknownAttributeError
from sweepstack.store import ExperimentDir, Run

EXPERIMENT_STATE = ("id_experiment", "name", "fields", "runs", "db")
RUN_STATE = (
    "id_experiment",
    "id_run",
    "config",
    "params",
    "fields",
    "state",
    "exception",
    "vars",
    "steps",
)

SOURCES: list[str] = []


@stage(outputs=["square"], params=["x"])
def square(record):
    # a step reads the source of the steps, for lineage (MLtraq's tip)
    SOURCES.extend(inspect.getsource(step) for step in record.steps)
    record.vars["scratch"] = record.params["x"]
    record.fields["square"] = record.params["x"] ** 2
    return record.params["x"] ** 2


@stage(inputs=["square"], outputs=["root"], version="1")
def root(record, square):
    if square == 9:
        raise ValueError("three is cursed")
    return square**0.5


class Tiny(Engine):
    seen: list[tuple[str | None, list[str]]] = []
    done: list[str | None] = []

    def run(self):
        sweeper = self.sweeper(sweep({"x": [1, 2]}))
        for record in self.records(sweeper):
            root(square(record))
            Tiny.seen.append((record.id_experiment, [f.__name__ for f in record.steps]))
        Tiny.done = [r.id_experiment for r in self.done_records(sweeper)]


@pytest.fixture
def manager(tmp_path):
    SOURCES.clear()
    manager = ArtifactManager("state", str(tmp_path / "exp"), config={"device": "cpu"})
    yield manager
    manager.finish()


def test_experiment_state_has_each_documented_attribute(manager):
    experiment = sweepstack.open(manager.path)
    xd = ExperimentDir.open(manager.path)
    assert experiment.id_experiment == xd.id_experiment and len(experiment.id_experiment) == 36
    assert experiment.name == "state"
    experiment.fields["dataset"] = "mnist"
    assert sweepstack.open(manager.path).fields["dataset"] == "mnist"  # stored in the db
    assert [r.reference for r in experiment.runs] == [manager.get_reference_name()]
    assert all(isinstance(r, Run) for r in experiment.runs)
    assert experiment.db.path == xd.path and experiment.db.read_fields() == {"dataset": "mnist"}


def test_experiment_db_is_discarded_on_pickling_and_reopened(manager):
    experiment = sweepstack.open(manager.path)
    experiment.db  # noqa: B018 - opens the handle
    again = pickle.loads(pickle.dumps(experiment))
    assert again._directory is None  # the handler did not travel
    assert again.db.id_experiment == experiment.id_experiment


def test_experiment_refuses_an_attribute_outside_its_state(manager):
    experiment = sweepstack.open(manager.path)
    with pytest.raises(UnknownAttributeError) as refused:
        experiment.accuracy = 0.9
    assert refused.value.allowed[:2] == ("path", "id_experiment")
    assert "experiment.fields['accuracy']" in str(refused.value)
    assert isinstance(refused.value, AttributeError)
    assert not hasattr(experiment, "accuracy")


def test_run_state_has_each_documented_attribute(manager):
    record = root(square(manager.record({"x": 2})))
    record.resolve()
    assert record.id_experiment == ExperimentDir.open(manager.path).id_experiment
    assert record.id_run == manager.get_reference_name()
    assert dict(record.config) == {"device": "cpu"}
    assert dict(record.params) == {"x": 2}
    assert record.fields["square"] == 4
    assert record.state["root"] == 2.0
    assert record.exception is None
    assert record.vars["scratch"] == 2
    assert [step.__name__ for step in record.steps] == ["square", "root"]
    assert "def square(record)" in SOURCES[0] and "def root(record, square)" in SOURCES[1]


def test_exception_is_set_when_a_step_raises(manager):
    record = root(square(manager.record({"x": 3})))
    with pytest.raises(ValueError, match="cursed"):
        record.resolve()
    assert isinstance(record.exception, ValueError) and record.failed_stage == "root"


def test_pickled_record_keeps_its_state_but_not_its_vars(manager):
    record = root(square(manager.record({"x": 2}))).resolve()
    again = pickle.loads(pickle.dumps(record))
    assert (again.id_experiment, again.id_run) == (record.id_experiment, record.id_run)
    assert again.fields == {"square": 4} and again.vars == {}
    with pytest.raises(UnknownAttributeError):
        again.accuracy = 1.0  # the refusal survives pickling


@pytest.mark.parametrize("name", ["accuracy", "feilds", "id_experiments"])
def test_record_refuses_an_attribute_outside_its_state(name):
    record = Record({"x": 1})
    with pytest.raises(UnknownAttributeError) as refused:
        setattr(record, name, 0.9)
    assert set(RUN_STATE) <= set(refused.value.allowed)
    assert f"record.fields[{name!r}]" in str(refused.value) and "record.vars" in str(refused.value)
    assert name not in vars(record)


def test_record_state_attributes_stay_assignable():
    record = Record({"x": 1})
    record.exception = ValueError("set by the engine")
    record.id_experiment = "0" * 36
    record.vars = {"a": 1}
    assert (record.vars, record.id_experiment) == ({"a": 1}, "0" * 36)


def test_engine_records_carry_the_experiment_id_and_their_steps(tmp_path):
    Tiny.seen = []
    Tiny().start(["-c", str(tmp_path / "exp"), "--no-progress"])
    id_experiment = ExperimentDir.open(str(tmp_path / "exp")).id_experiment
    assert Tiny.seen == [(id_experiment, ["square", "root"])] * 2
    assert Tiny.done == [id_experiment] * 2  # records rebuilt from their documents too


def test_every_documented_name_is_exercised_above():
    record_names = set(dir(Record)) | set(vars(Record({"x": 1})))
    assert set(RUN_STATE) <= record_names
    assert set(EXPERIMENT_STATE) <= set(dir(sweepstack.Experiment)) | {
        "id_experiment",
        "name",
    }
