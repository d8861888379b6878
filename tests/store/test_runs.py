"""The run registry: unique numbers without a shared file, and what a run records."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys

import pytest

from sweepstack.errors import StoreValueError, UnstorableValueError
from sweepstack.store import ExperimentDir


@pytest.fixture
def xd(tmp_path):
    return ExperimentDir.create_or_open(tmp_path / "exp", engine="PiSweep")


def test_run_numbers_start_at_one_and_increase(xd):
    assert [xd.start_run("Pi").number for _ in range(5)] == [1, 2, 3, 4, 5]
    assert sorted(os.listdir(xd.runs_dir)) == [
        "1.json",
        "2.json",
        "3.json",
        "4.json",
        "5.json",
        "next",
    ]


def test_reference_is_name_number_and_utc_timestamp(xd):
    run = xd.start_run("PiSweep")
    assert re.fullmatch(r"PiSweep_1_\d{4}-\d\d-\d\d-T\d{6}", run.reference)
    assert run.id_run == run.reference
    stamp = run.get("started")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", stamp)
    assert run.reference.endswith(stamp[:10] + "-T" + stamp[11:19].replace(":", ""))


def test_run_records_who_where_and_how_to_reproduce(xd, tmp_path):
    argv = ["pi.py", "-c", "my exp", "--notes", "it's"]
    run = xd.start_run(
        "Pi", argv=argv, notes="first try", config={"lease": 30}, parent="Launch_1_x"
    )
    doc = run.document
    assert doc["status"] == "running" and run.status == "running"
    assert doc["ended"] is None and doc["error"] is None
    assert doc["pid"] == os.getpid() and doc["host"] and doc["user"]
    assert doc["python"] == ".".join(map(str, sys.version_info[:3]))
    assert doc["platform"] and doc["argv"] == argv
    assert (doc["notes"], doc["config"], doc["parent"]) == (
        "first try",
        {"lease": 30},
        "Launch_1_x",
    )
    assert doc["store_full"] is False and "distributions" not in doc
    # the reproduction line is a shell line that gives back the same words
    words = shlex.split(doc["reproduce"])
    assert words[:3] == ["cd", os.getcwd(), "&&"] and words[-5:] == argv


def test_argv_defaults_to_the_command_line(xd):
    assert xd.start_run("Pi").document["argv"] == sys.argv


def test_git_is_recorded_as_unavailable_outside_a_repository(xd, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run = xd.start_run("Pi", argv=["pi.py"])
    assert run.document["git"]["available"] is False
    assert "not in a git repository" in run.document["git"]["reason"]


def test_a_missing_git_program_is_recorded_not_raised(xd, tmp_path, monkeypatch):
    repo = _repository(tmp_path / "repo")
    monkeypatch.setenv("PATH", str(tmp_path / "no-programs-here"))
    run = xd.start_run("Pi", argv=[str(repo / "pi.py")])
    assert run.document["git"] == {
        "available": False,
        "reason": "git is not installed",
        "root": str(repo),
    }


def _git(repo, *args):
    env = dict(
        os.environ,
        GIT_AUTHOR_NAME="t",
        GIT_AUTHOR_EMAIL="t@example.org",
        GIT_COMMITTER_NAME="t",
        GIT_COMMITTER_EMAIL="t@example.org",
    )
    done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def _repository(repo):
    repo.mkdir()
    (repo / "pi.py").write_text("print('pi')\n")
    _git(repo, "init", "-q", "-b", "exp-branch")
    _git(repo, "add", "pi.py")
    _git(repo, "commit", "-q", "-m", "first")
    return repo


def test_git_commit_branch_and_dirty_flag_of_the_scripts_repository(xd, tmp_path, monkeypatch):
    repo = _repository(tmp_path / "repo")
    monkeypatch.chdir(tmp_path)  # the script's repository counts, not the working folder
    clean = xd.start_run("Pi", argv=[str(repo / "pi.py")]).document["git"]
    assert clean["available"] is True
    assert clean["commit"] == _git(repo, "rev-parse", "HEAD")
    assert (clean["branch"], clean["dirty"]) == ("exp-branch", False)
    assert "diff" not in clean
    (repo / "pi.py").write_text("print('tau / 2')\n")
    (repo / "untracked.csv").write_text("results do not make code dirty\n")
    dirty = xd.start_run("Pi", argv=[str(repo / "pi.py")], store_full=True).document
    assert dirty["git"]["dirty"] is True
    assert "+print('tau / 2')" in dirty["git"]["diff"] and dirty["git"]["diff_truncated"] is False


def test_store_full_records_installed_distributions(xd):
    document = xd.start_run("Pi", store_full=True).document
    assert document["store_full"] is True
    assert document["distributions"]["pytest"] == pytest.__version__


def test_update_rewrites_the_document_and_keeps_the_rest(xd):
    run = xd.start_run("Pi")
    run.update(config_changed=["--lease"], workers=4)
    stored = xd.run(run.number).document
    assert stored["config_changed"] == ["--lease"] and stored["workers"] == 4
    assert stored["reference"] == run.reference and stored["status"] == "running"


@pytest.mark.parametrize("entry", ["number", "reference", "name", "started", "format"])
def test_entries_that_identify_a_run_cannot_be_changed(xd, entry):
    run = xd.start_run("Pi")
    with pytest.raises(StoreValueError, match=entry):
        run.update(**{entry: 7})
    with pytest.raises(StoreValueError, match=entry):
        xd.start_run("Pi", extra={entry: 7})


def test_finish_records_status_end_time_and_error_traceback(xd):
    run = xd.start_run("Pi")
    try:
        raise ZeroDivisionError("no points")
    except ZeroDivisionError as err:
        run.finish("error", err)
    stored = xd.run(run.number)
    assert stored.status == "error" and stored.get("ended") >= stored.get("started")
    assert "ZeroDivisionError: no points" in stored.get("error")
    assert "Traceback" in stored.get("error")


def test_finish_refuses_an_unknown_status(xd):
    run = xd.start_run("Pi")
    with pytest.raises(StoreValueError, match="'complete', 'error', 'interrupted'"):
        run.finish("done")
    assert xd.run(run.number).status == "running"


def test_a_non_json_config_is_refused_and_takes_no_number(xd):
    with pytest.raises(UnstorableValueError, match=r"\['config'\]\['model'\]"):
        xd.start_run("Pi", config={"model": object()})
    assert xd.start_run("Pi").number == 1


@pytest.mark.parametrize("hint", [None, b"1\n", b"garbage", b"-5", b"3"])
def test_a_stale_or_missing_hint_never_gives_a_taken_number(xd, hint):
    for _ in range(40):
        xd.start_run("Pi")
    hint_path = os.path.join(xd.runs_dir, "next")
    if hint is None:
        os.unlink(hint_path)
    else:
        with open(hint_path, "wb") as f:
            f.write(hint)
    assert xd.start_run("Pi").number == 41
    assert xd.start_run("Pi").number == 42


def test_a_run_name_that_cannot_be_part_of_a_file_name_is_refused(xd):
    with pytest.raises(StoreValueError, match="run name"):
        xd.start_run("../Pi")


def test_missing_run_is_none(xd):
    assert xd.run(3) is None
