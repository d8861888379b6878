"""``sweepstack failures``, and tracebacks that start at the user's frame."""

from __future__ import annotations

import json
import os
import re

import pytest

from sweepstack import Record, stage
from sweepstack._tracebacks import fold, format_exception, is_sweepstack_file

_FILE = re.compile(r'File "([^"]+)", line \d+, in (\S+)')


def _frames(text: str) -> list[tuple[str, str]]:
    return _FILE.findall(text)


# --- the command -------------------------------------------------------------------------


def test_failures_shows_each_failed_combination_from_the_users_frame(sweepstack, grid_dir):
    ran = sweepstack("failures", grid_dir)
    assert ran.code == 0, ran.err
    assert "3 failed combination(s)" in ran.out
    blocks = [b for b in ran.out.split("── ")[1:]]
    assert len(blocks) == 3
    for block in blocks:
        assert "x=2" in block and "seed=0" in block and "model=" in block
        assert "stage compute" in block
        assert "ValueError: x=2 is cursed" in block
        frames = _frames(block)
        assert frames and frames[0][0].endswith(os.path.join("tests", "cli", "engines.py"))
        assert frames[0][1] == "compute"
        assert not any(is_sweepstack_file(path) for path, _ in frames)
        assert "sweepstack frames folded" in block


def test_failures_full_shows_sweepstacks_own_frames(sweepstack, grid_dir):
    ran = sweepstack("failures", grid_dir, "--full")
    assert ran.code == 0, ran.err
    frames = _frames(ran.out)
    assert any(is_sweepstack_file(path) for path, _ in frames)
    assert "folded" not in ran.out


def test_failures_where_selects_as_in_results(sweepstack, grid_dir):
    ran = sweepstack("failures", grid_dir, "--where", "model == 'b' and depth == 2")
    assert ran.code == 0, ran.err
    assert "1 failed combination(s)" in ran.out and "depth=2" in ran.out
    none = sweepstack("failures", grid_dir, "--where", "x == 3")
    assert none.code == 0 and "0 failed combination(s)" in none.out
    bad = sweepstack("failures", grid_dir, "--where", "x ==")
    assert bad.code == 2 and "Traceback" not in bad.err


def test_failures_json_lists_params_stage_exception_and_traceback(sweepstack, grid_dir):
    ran = sweepstack("failures", grid_dir, "--json")
    failures = json.loads(ran.out)
    assert len(failures) == 3
    for failure in failures:
        assert failure["params"]["x"] == 2 and failure["params"]["seed"] == 0
        assert failure["stage"] == "compute" and failure["type"] == "builtins.ValueError"
        assert failure["message"] == "x=2 is cursed"
        assert _frames(failure["traceback"])[0][1] == "compute"


def test_failures_of_an_experiment_without_any_is_empty(sweepstack, example_dir):
    ran = sweepstack("failures", example_dir)
    assert ran.code == 0 and ran.out.strip() == "0 failed combination(s)"


def test_stored_traceback_starts_at_the_users_frame_and_the_full_one_is_kept(grid_dir):
    import sweepstack as sw

    records = [r for r in sw.open(grid_dir).records() if r["status"] == "failed"]
    assert len(records) == 3
    exception = records[0]["exception"]
    assert _frames(exception["traceback"])[0][1] == "compute"
    assert exception["traceback"].startswith("Traceback (most recent call last):\n  [")
    full = _frames(exception["traceback_full"])
    assert is_sweepstack_file(full[0][0]) and ("compute" in [name for _, name in full])


# --- folding -------------------------------------------------------------------------------


def _user_error(record):
    raise KeyError("the user's bug")


@stage(outputs=["out"], version="1")
def breaks(record):
    return _user_error(record)


def test_fold_keeps_user_frames_and_the_exception_line():
    record = Record({"n": 1})
    breaks(record)
    with pytest.raises(KeyError) as info:
        record.resolve()
    full = format_exception(info.value)
    folded = fold(full)
    users = [name for path, name in _frames(full) if not is_sweepstack_file(path)]
    assert [name for _, name in _frames(folded)] == users
    assert users[-2:] == ["breaks", "_user_error"]
    assert folded.rstrip().endswith('KeyError: "the user\'s bug"')
    assert fold(folded) == folded


def test_fold_handles_chained_exceptions():
    def inner():
        raise ValueError("first")

    try:
        try:
            inner()
        except ValueError as err:
            raise RuntimeError("second") from err
    except RuntimeError as err:
        text = format_exception(err)
    assert fold(text) == text  # no sweepstack frame: nothing folded
    assert "The above exception was the direct cause" in fold(text)


@pytest.mark.parametrize(
    "path,ours",
    [
        pytest.param("/usr/lib/python3/site-packages/sweepstack/dag/_call.py", True, id="dag"),
        pytest.param("/opt/sweepstack/errors.py", True, id="errors"),
        pytest.param("/home/me/sweepstack/experiment.py", False, id="users-folder"),
        pytest.param("/home/me/project/tests/cli/engines.py", False, id="user-script"),
    ],
)
def test_sweepstack_files_are_told_from_user_files(path, ours):
    assert is_sweepstack_file(path) is ours


def test_fold_keeps_a_traceback_with_only_sweepstack_frames_whole():
    text = (
        "Traceback (most recent call last):\n"
        '  File "/lib/sweepstack/engine/_engine.py", line 9, in start\n'
        "    self._loop()\n"
        '  File "/lib/sweepstack/store/_atomic.py", line 3, in write\n'
        "    os.fsync(fd)\n"
        "OSError: [Errno 5] Input/output error\n"
    )
    assert fold(text) == text  # a bug or an environment error of sweepstack's: nothing hidden


def test_failures_lists_combinations_failed_in_a_sweeper_without_a_record(sweepstack, example):
    from sweepstack.sweep import ParamSweeper

    sweeper = ParamSweeper(
        os.path.join(example, "sweeps", "direct"), [{"a": 1}, {"a": 2}], save_sweeps=True
    )
    sweeper.fail(sweeper.get_next(), ValueError("a=1 is bad"))
    ran = sweepstack("failures", example)
    assert ran.code == 0, ran.err
    assert "1 failed combination(s)" in ran.out and "a=1" in ran.out
    assert "ValueError: a=1 is bad" in ran.out and "no traceback recorded" in ran.out
    assert sweepstack("failures", example, "--sweep", "direct").out.endswith(
        "1 failed combination(s)\n"
    )
    assert "0 failed" in sweepstack("failures", example, "--where", "a == 2").out
    (failure,) = json.loads(sweepstack("failures", example, "--json").out)
    assert failure["params"] == {"a": 1} and failure["sweep"] == "direct"
    bad = sweepstack("failures", example, "--sweep", "nope")
    assert bad.code == 2 and "no such sweep" in bad.err
