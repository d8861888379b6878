"""The error tree: every class inherits a built-in, keeps its inputs, and pickles."""

from __future__ import annotations

import inspect
import pickle

import pytest

from sweepstack import errors
from sweepstack.errors import SweepstackError, SweepstackWarning

# One example of each error, with the built-in a user would catch it as.
EXAMPLES = {
    errors.SweepSpecError: (
        errors.SweepSpecError("C", "levels must be a list, not int", ("model", "svm")),
        ValueError,
    ),
    errors.UnkeyableValueError: (
        errors.UnkeyableValueError("model", "builtins.object", "['model'][1]"),
        TypeError,
    ),
    errors.UnknownCombinationError: (
        errors.UnknownCombinationError({"a": 1}, "main", "done"),
        KeyError,
    ),
    errors.FormatVersionError: (errors.FormatVersionError("/x/exp", 3, 1), RuntimeError),
    errors.ForeignFormatError: (
        errors.ForeignFormatError("/x/sweeps", "an execo_engine ParamSweeper folder"),
        RuntimeError,
    ),
    errors.ExperimentNotFoundError: (errors.ExperimentNotFoundError("/x/exp"), FileNotFoundError),
    errors.EngineMismatchError: (
        errors.EngineMismatchError("/x/exp", "ml_sweep.py:MLSweep", "pi_sweep.py:PiSweep"),
        ValueError,
    ),
    errors.SpaceChangedError: (
        errors.SpaceChangedError("/x/exp", "main", 30, 12, 45, "{'n': 100}"),
        ValueError,
    ),
    errors.NotAnExperimentError: (
        errors.NotAnExperimentError("/x/home", ["a.txt", "b"]),
        FileExistsError,
    ),
    errors.StoreWriteError: (
        errors.StoreWriteError("/x/exp/runs/3.json", "no space left on the device"),
        OSError,
    ),
    errors.JournalCorruptError: (
        errors.JournalCorruptError("/x/journal", "bad header"),
        ValueError,
    ),
    errors.SnapshotCorruptError: (
        errors.SnapshotCorruptError("/x/snapshot", "checksum mismatch"),
        ValueError,
    ),
    errors.NoSweepsError: (errors.NoSweepsError("/x/sweeps/main"), FileNotFoundError),
    errors.FieldValueError: (errors.FieldValueError("model", "sklearn.svm.SVC"), TypeError),
    errors.CorruptEntryError: (
        errors.CorruptEntryError("/x/exp/records/main/ab/ab12.json", "not JSON"),
        ValueError,
    ),
    errors.UnstorableValueError: (
        errors.UnstorableValueError("record ab12", "['fields']['model']", "sklearn.svm.SVC"),
        TypeError,
    ),
    errors.StoreValueError: (
        errors.StoreValueError("sweeper name", "../etc", "a name without '/' or a leading '.'"),
        ValueError,
    ),
    errors.OptionalDependencyError: (
        errors.OptionalDependencyError("pandas", "pandas", "Results.to_dataframe()"),
        ImportError,
    ),
    errors.StageDefinitionError: (
        errors.StageDefinitionError(
            "train", 'outputs must be a list of names, got 3; write outputs=["model"]'
        ),
        TypeError,
    ),
    errors.UndeclaredParamError: (errors.UndeclaredParamError("train", "lr", ("n",)), KeyError),
    errors.StageOutputError: (
        errors.StageOutputError("train", 2, 1, ("model", "score")),
        ValueError,
    ),
    errors.StageFailedElsewhereError: (
        errors.StageFailedElsewhereError("train", "ab" * 16, "ValueError", "boom", "node1", 42),
        RuntimeError,
    ),
    errors.CacherError: (
        errors.CacherError("train", "model", "JsonCacher", "save", "not JSON"),
        RuntimeError,
    ),
    errors.ArtifactCorruptError: (
        errors.ArtifactCorruptError("ab12", "/x/cache/ab/ab12", "checksum mismatch"),
        ValueError,
    ),
    errors.AggregateError: (
        errors.AggregateError("compare", "no member has output 'pi'"),
        ValueError,
    ),
    errors.DryRunError: (errors.DryRunError("pi", "estimate"), RuntimeError),
    errors.CacheDetachedError: (
        errors.CacheDetachedError("3f2a9c0d1e4b5a6978c0d1e2f3a4b5c6", "points"),
        RuntimeError,
    ),
    errors.ReportableTypeError: (
        errors.ReportableTypeError("confusion", "builtins.object"),
        TypeError,
    ),
    errors.UnknownAttributeError: (
        errors.UnknownAttributeError("record", "accuracy", ("params", "fields", "vars")),
        AttributeError,
    ),
    errors.UnknownOutputError: (
        errors.UnknownOutputError("3f2a9c0d1e4b", "model", ("points", "pi"), "train"),
        KeyError,
    ),
    errors.GpuAllocationError: (
        errors.GpuAllocationError(2, 3, 4, "CUDA_VISIBLE_DEVICES=0,1,2,3"),
        ValueError,
    ),
    errors.LauncherError: (
        errors.LauncherError("slurm", "sbatch not found", "install slurm-client"),
        RuntimeError,
    ),
    errors.UnknownRunError: (
        errors.UnknownRunError("9", "/x/exp", ["E_1_2026-01-01-T000000"]),
        KeyError,
    ),
    errors.QueryError: (
        errors.QueryError("error < 0.01 and", "not an expression: invalid syntax at column 16"),
        ValueError,
    ),
    errors.OverrideError: (
        errors.OverrideError("--sweep", "n=1,(", "'' is not a function name (column 5)"),
        ValueError,
    ),
    errors.SampleError: (errors.SampleError("method", "grid", "is not one of random"), ValueError),
}


def _error_classes():
    return [
        cls
        for _, cls in inspect.getmembers(errors, inspect.isclass)
        if issubclass(cls, SweepstackError) and cls is not SweepstackError
    ]


def test_every_error_class_has_an_example():
    assert set(_error_classes()) == set(EXAMPLES), "add an example of each new error class here"


@pytest.mark.parametrize(
    "cls", sorted(EXAMPLES, key=lambda c: c.__name__), ids=lambda c: c.__name__
)
def test_error_round_trips_through_pickle(cls):
    err, _ = EXAMPLES[cls]
    again = pickle.loads(pickle.dumps(err))
    assert type(again) is cls
    assert str(again) == str(err)
    assert again.__dict__ == err.__dict__


@pytest.mark.parametrize(
    "cls", sorted(EXAMPLES, key=lambda c: c.__name__), ids=lambda c: c.__name__
)
def test_error_is_also_the_builtin_a_user_would_catch(cls):
    err, builtin = EXAMPLES[cls]
    assert isinstance(err, SweepstackError) and isinstance(err, builtin)
    with pytest.raises(builtin):
        raise err


@pytest.mark.parametrize(
    "cls", sorted(EXAMPLES, key=lambda c: c.__name__), ids=lambda c: c.__name__
)
def test_message_is_a_sentence_with_the_inputs(cls):
    err, _ = EXAMPLES[cls]
    text = str(err)
    assert len(text) > 40
    for value in err.args:
        if isinstance(value, str) and value and not value.startswith("["):
            assert value in text, f"{cls.__name__} does not show {value!r}"


def test_format_error_names_both_versions_and_the_fix():
    text = str(errors.FormatVersionError("/data/exp", 3, 1))
    assert "format 3" in text and "format 1" in text and "pip install --upgrade sweepstack" in text


def test_warnings_share_a_root():
    for cls in (
        errors.JournalWarning,
        errors.ClaimLostWarning,
        errors.OptionsChangedWarning,
        errors.ArtifactCorruptWarning,
    ):
        assert issubclass(cls, SweepstackWarning) and issubclass(cls, UserWarning)
