"""ExperimentDir: one identity per directory, however many processes create it at once."""

from __future__ import annotations

import json
import multiprocessing
import os
import pickle
import time

import pytest

from sweepstack.errors import (
    CorruptEntryError,
    ExperimentNotFoundError,
    FormatVersionError,
    NotAnExperimentError,
    StoreValueError,
    StoreWriteError,
)
from sweepstack.store import ExperimentDir
from tests.store import _workers


def test_create_makes_the_layout_and_a_uuid4_identity(tmp_path):
    xd = ExperimentDir.create_or_open(tmp_path / "exp", engine="PiSweep")
    assert sorted(os.listdir(xd.path)) == [
        "cache",
        "experiment.json",
        "logs",
        "records",
        "reports",
        "runs",
        "sweeps",
    ]
    info = json.loads((tmp_path / "exp" / "experiment.json").read_text())
    assert info["id_experiment"] == xd.id_experiment and len(xd.id_experiment) == 36
    assert xd.id_experiment[14] == "4"  # uuid version 4
    assert (xd.name, xd.engine, info["format"]) == ("exp", "PiSweep", 1)
    assert xd.created.endswith("Z")


def test_reopening_keeps_the_identity_and_ignores_new_names(tmp_path):
    first = ExperimentDir.create_or_open(tmp_path / "exp", name="first", engine="A")
    again = ExperimentDir.create_or_open(tmp_path / "exp", name="second", engine="B")
    opened = ExperimentDir.open(str(tmp_path / "exp"))
    assert first.id_experiment == again.id_experiment == opened.id_experiment
    assert (again.name, again.engine) == ("first", "A")


def test_opening_a_missing_experiment_says_how_to_create_it(tmp_path):
    with pytest.raises(ExperimentNotFoundError, match="-c DIR") as info:
        ExperimentDir.open(tmp_path / "nothing")
    assert isinstance(info.value, FileNotFoundError)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ExperimentNotFoundError):
        ExperimentDir.open(tmp_path / "empty")


def test_a_folder_of_the_users_files_is_refused_and_left_untouched(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "thesis.tex").write_text("precious")
    with pytest.raises(NotAnExperimentError, match=r"thesis\.tex"):
        ExperimentDir.create_or_open(home)
    assert os.listdir(home) == ["thesis.tex"]


def test_a_folder_being_created_by_another_process_is_joined(tmp_path):
    path = tmp_path / "exp"
    (path / "runs").mkdir(parents=True)
    (path / "records").mkdir()
    (path / ".experiment.json.host.1.2.abcd.sstmp").write_text("{")  # in flight elsewhere
    xd = ExperimentDir.create_or_open(path)
    assert os.path.exists(os.path.join(xd.path, "experiment.json"))


def test_a_file_in_the_way_is_a_write_error(tmp_path):
    (tmp_path / "exp").write_text("not a folder")
    with pytest.raises(StoreWriteError, match="in the way"):
        ExperimentDir.create_or_open(tmp_path / "exp")


@pytest.fixture
def read_only_mount(tmpfs):
    """A real read-only file system (root ignores permission bits, but not this)."""
    return tmpfs("64k", read_only=True)


def test_an_unwritable_place_is_a_write_error(read_only_mount):
    with pytest.raises(StoreWriteError, match="read-only file system") as info:
        ExperimentDir.create_or_open(read_only_mount / "exp")
    assert isinstance(info.value, OSError)


def test_a_newer_format_is_refused(tmp_path):
    xd = ExperimentDir.create_or_open(tmp_path / "exp")
    info_path = tmp_path / "exp" / "experiment.json"
    info_path.write_text(json.dumps({**json.loads(info_path.read_text()), "format": 99}))
    for opener in (ExperimentDir.open, ExperimentDir.create_or_open):
        with pytest.raises(FormatVersionError, match="format 99"):
            opener(xd.path)


def test_a_damaged_experiment_json_is_a_corrupt_entry_not_a_new_identity(tmp_path):
    xd = ExperimentDir.create_or_open(tmp_path / "exp")
    (tmp_path / "exp" / "experiment.json").write_text('{"id_exp')
    with pytest.raises(CorruptEntryError, match="not valid JSON"):
        ExperimentDir.create_or_open(xd.path)


@pytest.mark.parametrize("name", ["main", "ablation-1", "ünïcode name"])
def test_sweeper_dir_is_created_under_sweeps(tmp_path, name):
    xd = ExperimentDir.create_or_open(tmp_path / "exp")
    folder = xd.sweeper_dir(name)
    assert folder == os.path.join(xd.path, "sweeps", name) and os.path.isdir(folder)


@pytest.mark.parametrize(
    "name", ["", "..", ".", "../etc", "a/b", ".hidden", "a\nb", " padded", "x" * 129, 3]
)
def test_sweeper_names_that_would_leave_the_folder_are_refused(tmp_path, name):
    xd = ExperimentDir.create_or_open(tmp_path / "exp")
    with pytest.raises(StoreValueError, match="sweeper name"):
        xd.sweeper_dir(name)
    assert os.listdir(os.path.join(xd.path, "sweeps")) == []


def test_folders_of_other_layers_are_created_on_demand(tmp_path):
    xd = ExperimentDir.create_or_open(tmp_path / "exp")
    for folder in ("cache", "logs", "reports"):
        os.rmdir(os.path.join(xd.path, folder))
    assert os.path.isdir(xd.cache_dir) and os.path.isdir(xd.logs_dir)
    assert os.path.isdir(xd.reports_dir)


def test_handle_pickles_as_its_path_and_identity(tmp_path):
    xd = ExperimentDir.create_or_open(tmp_path / "exp")
    xd.write_record("main", "ab" * 16, {"status": "done"})
    again = pickle.loads(pickle.dumps(xd))
    assert (again.path, again.id_experiment, again.created) == (
        xd.path,
        xd.id_experiment,
        xd.created,
    )
    assert again.read_record("main", "ab" * 16)["status"] == "done"


@pytest.mark.timeout(120)
def test_sixteen_processes_creating_one_directory_agree_on_its_identity(tmp_path):
    path = str(tmp_path / "shared" / "exp")
    start_at = time.time() + 2.0  # all spawned by then, so they really race
    with multiprocessing.get_context("spawn").Pool(16) as pool:
        ids = pool.starmap(_workers.create_or_open, [(path, start_at)] * 16)
    assert len(set(ids)) == 1
    assert ExperimentDir.open(path).id_experiment == ids[0]
    leftovers = [n for n in os.listdir(path) if n.startswith(".")]
    assert leftovers == []
