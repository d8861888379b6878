"""--sweep, --sweep-file and --only on an engine script: the space it sweeps, what it claims."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time

import pytest

import sweepstack
from sweepstack.errors import OptionsChangedWarning, OverrideError
from tests.engine import space_engines

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _params(path):
    rows = sweepstack.open(str(path)).records()
    return sorted(json.dumps(r["params"], sort_keys=True) for r in rows if r["status"] == "done")


def _as_rows(*combinations):
    return sorted(json.dumps(c, sort_keys=True) for c in combinations)


def test_sweep_replaces_the_levels_of_the_scripts_factors(tmp_path):
    space_engines.Grid().start(
        [
            "-c",
            str(tmp_path / "x"),
            "--no-progress",
            "--sweep",
            "n=3",
            "--sweep",
            "model.svm.C=range(1,3)",
        ]
    )
    assert _params(tmp_path / "x") == _as_rows(
        {"n": 3, "model": "svm", "C": 1},
        {"n": 3, "model": "svm", "C": 2},
        {"n": 3, "model": "tree"},
    )


def test_a_space_given_by_sweep_options_continues_like_a_space_changed_in_code(tmp_path):
    path = str(tmp_path / "x")
    space_engines.Grid().start(["-c", path, "--no-progress", "--sweep", "model=tree"])
    assert len(_params(path)) == 2
    # levels added later only add combinations: the done ones stay done
    engine = space_engines.Grid()
    engine.start(["-c", path, "--no-progress", "--sweep", "model=tree", "--sweep", "n=1,2,3"])
    assert _params(path) == _as_rows(*({"n": n, "model": "tree"} for n in (1, 2, 3)))
    second = sweepstack.open(path).runs[1].document
    assert second["main_sweeps_changed"] == {"before": 2, "after": 3}


def test_sweep_changes_a_sampled_space_and_keeps_n_method_and_seed(tmp_path):
    space_engines.Sampled().start(
        ["-c", str(tmp_path / "x"), "--no-progress", "--samples", "5", "--sweep", "k=7"]
    )
    expected = sweepstack.sample({"lr": sweepstack.loguniform(1e-3, 1e-1), "k": [7]}, 5, seed=4)
    assert _params(tmp_path / "x") == _as_rows(*expected)


def test_continuing_a_sampled_sweep_with_a_larger_n_runs_only_the_new_combinations(tmp_path):
    path = str(tmp_path / "x")
    space_engines.Sampled().start(["-c", path, "--no-progress", "--samples", "4"])
    first = _params(path)
    with pytest.warns(OptionsChangedWarning, match="samples: 4 -> 9"):  # an option of the script
        space_engines.Sampled().start(["-c", path, "--no-progress", "--samples", "9"])
    records = list(sweepstack.open(path).records())
    assert len(records) == 9 and set(first) <= set(_params(path))
    assert sorted(r["attempt"] for r in records) == [1] * 9  # none of the first four redone
    assert len({r["run"] for r in records}) == 2


def test_a_space_dict_given_to_the_sweeper_is_swept_and_can_be_overridden(tmp_path):
    space_engines.SpaceDict().start(["-c", str(tmp_path / "a"), "--no-progress"])
    assert _params(tmp_path / "a") == _as_rows({"n": 1}, {"n": 2}, {"n": 3})
    space_engines.SpaceDict().start(
        ["-c", str(tmp_path / "b"), "--no-progress", "--sweep", "n=igeom(1,100,3)"]
    )
    assert _params(tmp_path / "b") == _as_rows({"n": 1}, {"n": 10}, {"n": 100})


def test_a_sweep_file_gives_the_whole_space_and_sweep_options_apply_on_top(tmp_path):
    spec = tmp_path / "space.toml"
    spec.write_text('n = "range(5, 7)"\n[model.knn]\nk = [3]\n')
    space_engines.Grid().start(
        [
            "-c",
            str(tmp_path / "x"),
            "--no-progress",
            "--sweep-file",
            str(spec),
            "--sweep",
            "model.knn.k=1,3",
        ]
    )
    assert _params(tmp_path / "x") == _as_rows(
        *({"n": n, "model": "knn", "k": k} for n in (5, 6) for k in (1, 3))
    )


def test_a_bad_sweep_value_is_one_line_and_exit_2_without_debug(tmp_path, capsys):
    with pytest.raises(SystemExit) as exited:
        space_engines.Grid().start(["-c", str(tmp_path / "x"), "--sweep", "n=1,2,("])
    assert exited.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "error: --sweep 'n=1,2,('" in err[0]
    assert not (tmp_path / "x").exists()


def test_a_bad_sweep_value_stops_the_engine_before_anything_is_written(tmp_path):
    with pytest.raises(OverrideError, match="--sweep 'n=1,2,\\('"):
        space_engines.Grid().start(["-c", str(tmp_path / "x"), "--sweep", "n=1,2,(", "--debug"])
    assert not (tmp_path / "x").exists()


def test_a_sweep_of_a_factor_the_script_lacks_names_the_factors_it_has(tmp_path):
    with pytest.raises(
        OverrideError, match=re.escape("no factor 'seed' (factors: n, model, model.svm.C)")
    ):
        space_engines.Grid().start(["-c", str(tmp_path / "x"), "--sweep", "seed=1,2", "--debug"])


def test_a_range_swept_on_a_grid_names_the_option_and_says_to_sample(tmp_path):
    with pytest.raises(OverrideError) as caught:
        space_engines.Grid().start(
            ["-c", str(tmp_path / "x"), "--sweep", "n=uniform(0,1)", "--debug"]
        )
    assert str(caught.value).startswith("--sweep 'n=uniform(0,1)'")
    assert "sample(space, n)" in str(caught.value)


def test_sweep_on_a_hand_made_list_says_to_give_a_space(tmp_path):
    with pytest.raises(OverrideError, match=re.escape("give it sweep({...})")):
        space_engines.PlainList().start(["-c", str(tmp_path / "x"), "--sweep", "n=3", "--debug"])


def test_only_claims_the_matching_combinations_and_leaves_the_space_unchanged(tmp_path):
    path = str(tmp_path / "x")
    space_engines.Grid().start(["-c", path, "--no-progress", "--only", "model.svm.C=10"])
    assert _params(path) == _as_rows(
        {"n": 1, "model": "svm", "C": 10}, {"n": 2, "model": "svm", "C": 10}
    )
    sweeper = sweepstack.ParamSweeper(os.path.join(path, "sweeps", "main"), readonly=True)
    assert sweeper.counts()["total"] == 6 and sweeper.counts()["done"] == 2


def test_only_with_levels_no_combination_has_is_refused(tmp_path):
    with pytest.raises(OverrideError, match="no combination of sweeper 'main' matches"):
        space_engines.Grid().start(["-c", str(tmp_path / "x"), "--only", "n=7", "--debug"])


def test_only_in_a_dry_run_maps_only_the_matching_combinations(tmp_path, capsys):
    space_engines.Grid().start(["-c", str(tmp_path / "x"), "--dry", "--only", "model=tree"])
    out = capsys.readouterr().out
    assert "tree" in out and "svm" not in out


def _launch(path, *options, env_extra=None):
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.engine.space_engines",
            "Grid",
            "-c",
            path,
            "--no-progress",
            *options,
        ],
        cwd=REPO,
        env=dict(os.environ, PYTHONPATH=REPO, **(env_extra or {})),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


@pytest.mark.timeout(180)
def test_launches_split_by_only_do_every_combination_once_between_them(tmp_path):
    path = str(tmp_path / "x")
    procs = [_launch(path, "--only", "n=1"), _launch(path, "--only", "n=2")]
    for proc in procs:
        out, _ = proc.communicate(timeout=150)
        assert proc.returncode == 0, out
    records = list(sweepstack.open(path).records())
    assert sorted(r["params"]["n"] for r in records) == [1, 1, 1, 2, 2, 2]
    by_n = {n: {r["fields"]["pid"] for r in records if r["params"]["n"] == n} for n in (1, 2)}
    assert all(len(pids) == 1 for pids in by_n.values()) and by_n[1] != by_n[2], by_n


@pytest.mark.timeout(180)
def test_a_launch_with_only_ends_without_waiting_for_the_claims_of_another_part(tmp_path):
    path = str(tmp_path / "x")
    slow = _launch(path, "--only", "n=1", env_extra={"SLOW_N": "1", "SLOW_SECONDS": "4"})
    try:
        deadline = time.monotonic() + 60
        while not os.path.isdir(os.path.join(path, "sweeps", "main")):  # the slow one claims
            assert time.monotonic() < deadline, "the first launch did not start"
            time.sleep(0.1)
        fast = _launch(path, "--only", "n=2")
        out, _ = fast.communicate(timeout=60)
        assert fast.returncode == 0, out
        assert slow.poll() is None  # still at work on its part: the fast one did not wait
        assert "waiting for" not in out
    finally:
        out, _ = slow.communicate(timeout=120)
    assert slow.returncode == 0, out
    assert len(list(sweepstack.open(path).records())) == 6


@pytest.mark.timeout(180)
def test_workers_get_the_sweep_options_of_their_launcher(tmp_path):
    path = str(tmp_path / "x")
    proc = _launch(path, "--workers", "2", "--sweep", "n=4,5", "--sweep", "model=tree")
    out, _ = proc.communicate(timeout=150)
    assert proc.returncode == 0, out
    assert _params(path) == _as_rows({"n": 4, "model": "tree"}, {"n": 5, "model": "tree"})


def test_sweep_options_are_in_the_help():
    text = subprocess.run(
        [sys.executable, "-m", "tests.engine.space_engines", "Grid", "--help"],
        cwd=REPO,
        env=dict(os.environ, PYTHONPATH=REPO),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for option in ("--sweep FACTOR=LEVELS", "--sweep-file FILE", "--only FACTOR=LEVELS"):
        assert option in text
