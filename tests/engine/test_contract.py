"""The -c contract and failure semantics (what a user can rely on when things go wrong).

- another engine's experiment is refused before anything is written; --force continues it;
- a parameter space that only grows only adds combinations; one that loses combinations
  is refused unless --force, and then their records are kept, shown outside the space;
- options added in __init__ or init() show in --help;
- a sweepstack error is one line and exit 2; the environment (a read-only cache) stops the
  process with exit 3 and leaves the combination to do; failed combinations exit 1.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import sweepstack
from sweepstack.errors import OptionsChangedWarning
from sweepstack.store import ExperimentDir
from tests.conftest import REPO
from tests.engine import engines


def _exit(engine, argv, capsys=None):
    """start() that exits: (status, stderr lines of this start, log lines left out)."""
    if capsys is not None:
        capsys.readouterr()
    with pytest.raises(SystemExit) as exited:
        engine.start(argv)
    err = capsys.readouterr().err.strip().splitlines() if capsys is not None else []
    err = [line for line in err if not line[:4].isdigit()]  # timestamped log lines
    return exited.value.code, err


def _files(path):
    return sorted(
        os.path.relpath(os.path.join(folder, name), path)
        for folder, _, names in os.walk(path)
        for name in names
    )


# --- another engine ---------------------------------------------------------------------


def test_another_engines_experiment_is_refused_before_anything_is_written(tmp_path, capsys):
    path = str(tmp_path / "exp")
    engines.Counting().start(["-c", path, "--n", "2"])
    before = _files(path)
    code, err = _exit(engines.OtherEngine(), ["-c", path, "--n", "2"], capsys)
    assert code == 2 and len(err) == 1
    assert "engines.py:Counting" in err[0] or "engines.Counting" in err[0]
    assert "OtherEngine" in err[0] and "--force" in err[0]
    assert _files(path) == before  # no run registered, nothing written
    assert len(sweepstack.open(path).runs) == 1


def test_force_continues_another_engines_experiment_and_records_it(tmp_path):
    path = str(tmp_path / "exp")
    engines.Counting().start(["-c", path, "--n", "2"])
    engines.OtherEngine().start(["-c", path, "--n", "2", "--force"])
    runs = sweepstack.open(path).runs
    forced = runs[-1].get("forced")
    assert forced["engine"][1].endswith("OtherEngine") and "Counting" in forced["engine"][0]


def test_the_same_engine_continues_without_force(tmp_path):
    path = str(tmp_path / "exp")
    engines.Counting().start(["-c", path, "--n", "2"])
    engines.Counting().start(["-c", path, "--n", "2"])
    assert [r.status for r in sweepstack.open(path).runs] == ["complete", "complete"]


# --- the parameter space ------------------------------------------------------------------


def test_added_levels_only_add_combinations(tmp_path, caplog):
    path, marks = str(tmp_path / "exp"), str(tmp_path / "marks")
    engines.Counting().start(["-c", path, "--n", "3", "--marks", marks])
    with caplog.at_level("INFO", logger="sweepstack.engine"), pytest.warns(OptionsChangedWarning):
        engines.Counting().start(["-c", path, "--n", "5", "--marks", marks])
    assert any("+2 combinations (3 before, 5 now)" in r.getMessage() for r in caplog.records)
    assert sorted(int(n.split("-")[0]) for n in os.listdir(marks)) == [0, 1, 2, 3, 4]


def test_a_space_that_loses_combinations_is_refused_and_nothing_changes(tmp_path, capsys):
    path = str(tmp_path / "exp")
    engines.Counting().start(["-c", path, "--n", "5"])
    saved_path = os.path.join(path, "sweeps", "main", "sweeps")
    with open(saved_path, "rb") as f:
        saved = f.read()
    code, err = _exit(engines.Counting(), ["-c", path, "--n", "3"], capsys)
    assert code == 2 and len(err) == 1
    assert "drops 2 of its 5 combinations (2 of them done" in err[0] and "--force" in err[0]
    # the saved space is the old one: status still shows the 5 combinations
    with open(saved_path, "rb") as f:
        assert f.read() == saved
    assert sweepstack.ParamSweeper(os.path.join(path, "sweeps", "main")).counts()["done"] == 5


def test_force_drops_combinations_but_keeps_their_records_shown_outside_the_space(tmp_path):
    path = str(tmp_path / "exp")
    engines.Counting().start(["-c", path, "--n", "5"])
    with pytest.warns(OptionsChangedWarning):
        engines.Counting().start(["-c", path, "--n", "3", "--force"])
    experiment = sweepstack.open(path)
    rows = {r["i"]: r for r in experiment.results()}
    assert sorted(rows) == [0, 1, 2, 3, 4]  # nothing deleted
    assert [rows[i].get("in_space", True) for i in range(5)] == [True, True, True, False, False]
    assert experiment.runs[-1].get("main_space_forced") == {"removed": 2, "done": 2}
    # growing the space again brings them back in: done, not recomputed
    with pytest.warns(OptionsChangedWarning):
        engines.Counting().start(["-c", path, "--n", "5"])
    rows = {r["i"]: r for r in sweepstack.open(path).results()}
    assert all(rows[i].get("in_space", True) for i in range(5))
    assert all(rows[i]["attempt"] == 1 for i in range(5))


# --- --help ---------------------------------------------------------------------------------


def test_help_lists_options_added_in_init_and_in_dunder_init(capsys):
    engine = engines.ExecoStyle()
    with pytest.raises(SystemExit) as exited:
        engine.start(["--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert "--from-init-hook" in out and "added in init()" in out
    assert "--from-init-method" in out and "--workers" in out
    options = out[out.index("-h, --help") :]  # help comes first in the list of options
    assert "--from-init-method" in options and "--from-init-hook" in options


def test_init_still_sees_the_parsed_arguments(tmp_path):
    engine = engines.ExecoStyle()
    engine.start(["-c", str(tmp_path / "exp"), "--from-init-method", "3"])
    assert engine.seen_in_init == 3


def test_the_main_examples_help_shows_its_max_n_option():
    done = subprocess.run(
        [sys.executable, os.path.join(REPO, "examples", "pi_sweep.py"), "--help"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0 and "--max-n" in done.stdout


# --- failures of the environment and of combinations --------------------------------------


def test_a_read_only_cache_stops_the_run_leaves_the_combination_to_do_and_c_finishes_it(
    tmp_path, tmpfs, capsys
):
    path = tmp_path / "exp"
    ExperimentDir.create_or_open(path)  # made beforehand: no engine recorded
    tmpfs("64k", read_only=True, at=path / "cache")
    code, err = _exit(engines.Counting(), ["-c", str(path), "--n", "4"], capsys)
    assert code == 3
    line = [e for e in err if "error:" in e][-1]
    assert "read-only" in line and "free some space" not in line
    sweeper = sweepstack.ParamSweeper(str(path / "sweeps" / "main"))
    counts = sweeper.counts()
    assert (counts["done"], counts["failed"], counts["inprogress"]) == (0, 0, 0)
    assert not list(sweepstack.open(path).records())  # no combination blamed
    assert sweepstack.open(path).runs[-1].status == "error"
    subprocess.run(["umount", "-l", str(path / "cache")], check=True)
    engines.Counting().start(["-c", str(path), "--n", "4"])  # a plain -c finishes it
    assert sweepstack.ParamSweeper(str(path / "sweeps" / "main")).counts()["done"] == 4


def test_a_run_whose_combinations_all_fail_exits_1(tmp_path, capsys):
    path = str(tmp_path / "exp")
    code, _ = _exit(engines.Counting(), ["-c", path, "--n", "1", "--fail-on", "0"], capsys)
    assert code == 1
    run = sweepstack.open(path).runs[-1]
    assert run.status == "complete" and run.document["combinations"] == {"done": 0, "failed": 1}


def test_exit_statuses_from_a_real_script(tmp_path):
    """The statuses a shell (or a scheduler) sees, from a subprocess."""
    script = os.path.join(REPO, "tests", "engine", "engines.py")
    env = {**os.environ, "PYTHONPATH": REPO}
    path = str(tmp_path / "exp")

    def run(*argv):
        return subprocess.run(
            [sys.executable, script, *argv], capture_output=True, text=True, timeout=120, env=env
        )

    assert run("Counting", "-c", path, "--n", "2", "--no-progress").returncode == 0
    failed = run(
        "Counting", "-c", str(tmp_path / "f"), "--n", "2", "--fail-on", "1", "--no-progress"
    )
    assert failed.returncode == 1 and "exit status 1" in failed.stderr
    refused = run("BodyFails", "-c", path, "--no-progress")
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert refused.stderr.strip().splitlines()[-1].startswith("engines.py: error: ")
