"""ManagerStore: curifactory's run database as a view of the run registry ``runs/``.

NAMES is what curifactory's store page documents (methods, attributes, the keys of a
metadata block); each is called here on real runs. Many writers are real processes.
"""

from __future__ import annotations

import multiprocessing
import os
import shlex
import subprocess
import sys
import time

import pytest

from sweepstack.dag import ArtifactManager
from sweepstack.errors import CorruptEntryWarning, ExperimentNotFoundError, StoreValueError
from sweepstack.store import ExperimentDir, ManagerStore
from sweepstack.store._manager_store import BLOCK_KEYS
from tests.store import _workers

NAMES = ["add_run", "get_experiment_runs", "get_run", "load", "save", "update_run", "path", "runs"]
DOCUMENTED_BLOCK_KEYS = [
    "reference",
    "experiment_name",
    "run_number",
    "timestamp",
    "commit",
    "params_files",
    "args",
    "full_store",
    "status",
    "cli",
    "hostname",
    "notes",
]


@pytest.fixture
def two_runs(tmp_path):
    path = str(tmp_path / "exp")
    first = ArtifactManager("alpha", path, notes="one")
    first.finish()
    second = ArtifactManager("beta", path, store_full=True)
    yield path, first, second
    second.finish()


def test_block_has_every_documented_key_with_its_meaning(two_runs):
    path, _, second = two_runs
    assert list(BLOCK_KEYS) == DOCUMENTED_BLOCK_KEYS
    block = ManagerStore(path).runs[1]
    assert set(DOCUMENTED_BLOCK_KEYS) <= set(block)
    document = ExperimentDir.open(path).run(2).document
    assert block["reference"] == second.get_reference_name() == document["reference"]
    assert (block["experiment_name"], block["run_number"]) == ("beta", 2)
    assert block["reference"] == f"beta_2_{block['timestamp']}"
    assert block["commit"] == ((document.get("git") or {}).get("commit") or "")
    assert (block["params_files"], block["args"]) == ([], {})  # no parameter files here
    assert (block["full_store"], block["status"], block["notes"]) == (True, "running", "")
    assert block["cli"] == shlex.join(document["argv"])
    assert block["hostname"] == document["host"]


def test_each_documented_name_reads_or_writes_the_registry(two_runs):
    path, first, second = two_runs
    store = ManagerStore(path)
    assert sorted(n for n in NAMES if hasattr(store, n)) == sorted(NAMES)
    # path and runs
    assert store.path == ExperimentDir.open(path).runs_dir
    assert [b["run_number"] for b in store.runs] == [1, 2]
    # get_run: the block and its index; an unknown reference has neither
    block, index = store.get_run(first.get_reference_name())
    assert (block["notes"], index) == ("one", 0)
    assert store.get_run("alpha_9_2026-01-01-T000000") == (None, None)
    # get_experiment_runs
    assert [b["reference"] for b in store.get_experiment_runs("beta")] == [
        second.get_reference_name()
    ]
    assert store.get_experiment_runs("gamma") == []
    # save writes the changed notes to the run's own document
    block["notes"] = "baseline"
    store.save()
    assert ExperimentDir.open(path).run(1).get("notes") == "baseline"
    # load reads what another process or store wrote
    third = ArtifactManager("alpha", path)
    store.load()
    assert [b["run_number"] for b in store.runs] == [1, 2, 3]
    # add_run: the manager's run is already registered; it is returned, never doubled
    added = store.add_run(third)
    assert added["reference"] == third.get_reference_name()
    assert len(ManagerStore(path).runs) == 3
    # update_run: the manager's status reaches the registry
    third.finish("error", ValueError("diverged"))
    updated = store.update_run(third)
    assert updated["status"] == "error" and "ValueError: diverged" in updated["error"]
    assert ManagerStore(path).get_run(third.get_reference_name())[0]["status"] == "error"


def test_add_run_registers_a_run_for_a_manager_that_has_none(tmp_path):
    path = str(tmp_path / "exp")
    manager = ArtifactManager("alpha", path)
    manager.finish()
    manager.run = None  # as after unpickling in another process
    block = ManagerStore(path).add_run(manager)
    assert block["run_number"] == 2 and manager.get_reference_name() == block["reference"]
    manager.finish()


def test_dry_manager_is_neither_added_nor_updated(tmp_path):
    path = str(tmp_path / "exp")
    ArtifactManager("alpha", path).finish()
    dry = ArtifactManager("alpha", path, dry=True)
    store = ManagerStore(path)
    assert (store.add_run(dry), store.update_run(dry)) == (None, None)
    assert len(ManagerStore(path).runs) == 1


def test_save_refuses_a_change_to_what_identifies_a_run(two_runs):
    path, _, _ = two_runs
    store = ManagerStore(path)
    store.runs[0]["run_number"] = 7
    with pytest.raises(StoreValueError, match="run_number"):
        store.save()
    assert ExperimentDir.open(path).run(1).number == 1


def test_save_refuses_a_block_that_is_not_a_stored_run(two_runs):
    path, _, _ = two_runs
    store = ManagerStore(path)
    store.runs.append({"reference": "made_up_1_2026-01-01-T000000", "notes": ""})
    with pytest.raises(StoreValueError, match="add_run"):
        store.save()


def test_save_refuses_an_unknown_status(two_runs):
    path, _, _ = two_runs
    store = ManagerStore(path)
    store.runs[0]["status"] = "incomplete"
    with pytest.raises(StoreValueError, match="interrupted"):
        store.save()


def test_manager_of_another_experiment_is_refused(two_runs, tmp_path):
    path, _, _ = two_runs
    other = ArtifactManager("alpha", str(tmp_path / "other"))
    with pytest.raises(StoreValueError, match="a manager of the experiment at"):
        ManagerStore(path).add_run(other)
    other.finish()


def test_missing_directory_is_a_clear_error(tmp_path):
    with pytest.raises(ExperimentNotFoundError):
        ManagerStore(str(tmp_path / "nowhere"))


def test_unreadable_run_file_is_skipped_with_a_warning(two_runs):
    path, _, _ = two_runs
    with open(os.path.join(ExperimentDir.open(path).runs_dir, "1.json"), "w") as f:
        f.write("{torn")
    with pytest.warns(CorruptEntryWarning, match="1.json"):
        store = ManagerStore(path)
    assert [b["run_number"] for b in store.runs] == [2]


def test_two_stores_saving_at_once_keep_both_changes(two_runs):
    path, _, _ = two_runs
    mine, theirs = ManagerStore(path), ManagerStore(path)
    mine.runs[0]["notes"] = "mine"
    theirs.runs[1]["notes"] = "theirs"
    mine.save()
    theirs.save()  # curifactory's whole-file save would put run 1's notes back here
    assert [b["notes"] for b in ManagerStore(path).runs] == ["mine", "theirs"]


@pytest.mark.timeout(120)
def test_many_processes_register_and_note_runs_without_losing_any(tmp_path):
    path = str(tmp_path / "exp")
    ExperimentDir.create_or_open(path)
    workers = 6
    start_at = time.time() + 1.5
    context = multiprocessing.get_context("spawn")
    with context.Pool(workers) as pool:
        results = pool.starmap(
            _workers.manager_store_writer, [(path, w, start_at) for w in range(workers)]
        )
    assert sorted(r["number"] for r in results) == list(range(1, workers + 1))
    blocks = ManagerStore(path).runs
    assert len(blocks) == workers
    by_reference = {b["reference"]: b for b in blocks}
    for worker, result in enumerate(results):
        block = by_reference[result["reference"]]
        assert (block["notes"], block["status"]) == (f"worker {worker}", "complete")


SAVE_NOTES = """
import sys, time
from sweepstack.store import ManagerStore
store = ManagerStore(sys.argv[1])
store.runs[0]["notes"] = "from the other process"
store.save()
print(repr(time.time()))
"""


@pytest.mark.timeout(60)
def test_manager_lock_holds_off_another_process_saving_the_store(two_runs, python_env):
    path, _, second = two_runs
    second.lock()
    try:
        other = subprocess.Popen(
            [sys.executable, "-c", SAVE_NOTES, path],
            env=python_env,
            stdout=subprocess.PIPE,
            text=True,
        )
        time.sleep(2.0)
        assert other.poll() is None  # waiting for the lock
        assert ExperimentDir.open(path).run(1).get("notes") == "one"
        released = time.time()
    finally:
        second.unlock()
    out, _ = other.communicate(timeout=30)
    assert other.returncode == 0 and float(out) >= released
    assert ExperimentDir.open(path).run(1).get("notes") == "from the other process"
