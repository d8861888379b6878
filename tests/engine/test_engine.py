"""Engine end to end: runs, records, failures, interrupts, crashes, workers, outputs."""

from __future__ import annotations

import collections
import json
import os
import signal
import subprocess
import sys
import time

import pytest

import sweepstack
from sweepstack.errors import NotAnExperimentError, OptionsChangedWarning
from tests.engine import engines

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _engine(name, *args, **popen):
    return subprocess.Popen(
        [sys.executable, "-m", "tests.engine.engines", name, *map(str, args)],
        cwd=REPO,
        text=True,
        **popen,
    )


def run_engine(name, *args, timeout=120):
    proc = _engine(name, *args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def _marks(folder):
    """How many times each combination's stage ran, from the marks the stage leaves."""
    if not os.path.isdir(folder):
        return collections.Counter()
    return collections.Counter(int(name.split("-")[0]) for name in os.listdir(folder))


def _records(path):
    return {r["params"]["i"]: r for r in sweepstack.open(path).records()}


# --- execo's semantics, in process ---------------------------------------------------


def test_init_then_run_over_a_three_level_hierarchy_ancestor_first(tmp_path):
    engines.Base.order = []
    engines.Leaf().start(["-c", str(tmp_path / "exp"), "--flag"])
    assert engines.Base.order == [
        "init Base",
        "init Middle",
        "init Leaf",
        "run Base",
        "run Middle",
        "run Leaf flag=True",
    ]


def test_run_name_and_result_dir_default_to_class_name_and_time(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    engine = engines.Leaf()
    engine.start([])
    assert engine.run_name.startswith("Leaf_") and engine.result_dir == str(
        tmp_path / engine.run_name
    )
    assert os.path.isfile(os.path.join(engine.result_dir, "experiment.json"))


def test_every_start_registers_a_run_closed_with_its_status(tmp_path):
    path = str(tmp_path / "exp")
    engines.Counting().start(["-c", path, "--n", "4", "--notes", "first try"])
    engines.Counting().start(["-c", path, "--n", "4"])
    runs = sweepstack.open(path).runs
    assert [r.number for r in runs] == [1, 2]
    assert all(r.status == "complete" for r in runs)
    first = runs[0].document
    assert first["notes"] == "first try" and first["config"]["n"] == 4
    assert first["combinations"] == {"done": 4, "failed": 0}
    assert runs[1].document["combinations"] == {"done": 0, "failed": 0}  # nothing left to do


def test_records_are_written_with_stage_timings_fields_and_outputs(tmp_path):
    path = str(tmp_path / "exp")
    engines.Counting().start(["-c", path, "--n", "3"])
    records = _records(path)
    assert sorted(records) == [0, 1, 2]
    record = records[2]
    assert record["status"] == "done" and record["fields"]["half"] == 2.0
    assert [s["name"] for s in record["stages"]] == ["compute", "halve"]
    assert all(s["status"] == "run" and s["duration"] >= 0 for s in record["stages"])
    assert set(record["outputs"]) == {"value", "half"}
    assert record["run"].startswith("Counting_1_") and record["duration"] >= 0


def _start_with_failures(engine, argv):
    """start() of a run in which combinations fail: it exits with status 1."""
    with pytest.raises(SystemExit) as exited:
        engine.start(argv)
    assert exited.value.code == 1


def test_a_failing_combination_is_recorded_with_its_traceback_while_the_others_complete(
    tmp_path, caplog
):
    path = str(tmp_path / "exp")
    with caplog.at_level("INFO", logger="sweepstack.engine"):
        _start_with_failures(engines.Counting(), ["-c", path, "--n", "5", "--fail-on", "3"])
    # the run ends with a summary that says where the failures are
    (summary,) = [r for r in caplog.records if "combination(s) done" in r.getMessage()]
    assert summary.levelname == "WARNING"
    assert "4 combination(s) done, 1 failed" in summary.getMessage()
    assert f"exit status 1 (why: sweepstack failures {path})" in summary.getMessage()
    records = _records(path)
    assert [records[i]["status"] for i in range(5)] == ["done", "done", "done", "failed", "done"]
    failure = records[3]["exception"]
    assert failure["type"] == "builtins.ValueError" and "cursed" in failure["message"]
    assert "Traceback" in failure["traceback"] and "compute" in failure["traceback"]
    assert failure["stage"] == "compute"
    run = sweepstack.open(path).runs[0]
    assert run.status == "complete" and run.document["combinations"] == {"done": 4, "failed": 1}


def test_fail_fast_stops_at_the_first_failure(tmp_path):
    path = str(tmp_path / "exp")
    with pytest.raises(ValueError, match="cursed"):
        engines.Counting().start(["-c", path, "--n", "5", "--fail-on", "1", "--fail-fast"])
    records = _records(path)
    assert records[1]["status"] == "failed" and 2 not in records
    run = sweepstack.open(path).runs[0]
    assert run.status == "error" and "cursed" in run.document["error"]


def test_failed_combinations_run_again_with_retry_failed(tmp_path):
    path = str(tmp_path / "exp")
    _start_with_failures(engines.Counting(), ["-c", path, "--n", "3", "--fail-on", "1"])
    with pytest.warns(OptionsChangedWarning, match="fail_on: 1 -> 99"):
        engines.Counting().start(["-c", path, "--n", "3", "--fail-on", "99", "--retry-failed"])
    records = _records(path)
    assert records[1]["status"] == "done" and records[1]["attempt"] == 2


def test_an_exception_of_the_loop_body_fails_its_combination_and_the_run(tmp_path):
    path = str(tmp_path / "exp")
    with pytest.raises(RuntimeError, match="the body broke"):
        engines.BodyFails().start(["-c", path])
    records = _records(path)
    assert (
        records[2]["status"] == "failed"
        and "the body broke" in records[2]["exception"]["traceback"]
    )
    assert sweepstack.open(path).runs[0].status == "error"


def test_a_rerun_computes_nothing_and_overwrite_recomputes(tmp_path):
    path, marks = str(tmp_path / "exp"), str(tmp_path / "marks")
    engines.Counting().start(["-c", path, "--n", "3", "--marks", marks])
    sweeper = sweepstack.ParamSweeper(os.path.join(path, "sweeps", "main"))
    sweeper.reset()
    # a second experiment on the same cache folder would hit; here: overwrite recomputes
    engines.Counting().start(["-c", str(tmp_path / "exp2"), "--n", "3", "--marks", marks])
    assert _marks(marks) == {0: 2, 1: 2, 2: 2}  # another experiment: another cache
    with pytest.warns(OptionsChangedWarning, match="n: 3 -> 4"):
        engines.Counting().start(["-c", path, "--n", "4", "--marks", marks])
    assert _marks(marks)[3] == 1 and _marks(marks)[0] == 2  # only the new combination ran


def test_continuing_a_finished_experiment_says_how_to_recompute(tmp_path, caplog):
    path = str(tmp_path / "exp")
    _start_with_failures(engines.Counting(), ["-c", path, "--n", "3", "--fail-on", "1"])
    with caplog.at_level("INFO", logger="sweepstack.engine"):
        engines.Counting().start(["-c", path, "--n", "3", "--fail-on", "1"])
    (line,) = [r.getMessage() for r in caplog.records if "nothing to do" in r.getMessage()]
    assert "2 done are not recomputed" in line and f"sweepstack reset {path} --done" in line
    assert "1 failed are not retried without --retry-failed" in line


def test_dry_run_prints_the_map_and_writes_nothing(tmp_path, capsys):
    path = tmp_path / "exp"
    engines.Counting().start(["-c", str(path), "--n", "3", "--dry"])
    out = capsys.readouterr().out
    assert "compute" in out and "halve" in out
    assert not path.exists()


def test_continuing_with_other_result_options_warns_and_records_it(tmp_path):
    path = str(tmp_path / "exp")
    engines.Counting().start(["-c", path, "--n", "2"])
    with pytest.warns(OptionsChangedWarning, match="work: 0.0 -> 0.001"):
        engines.Counting().start(["-c", path, "--n", "2", "--work", "0.001"])
    second = sweepstack.open(path).runs[1].document
    assert second["main_options_changed"] == {"work": [0.0, 0.001]}


def _refused(engine, argv, capsys, status=2):
    """start() that stops on a sweepstack error: exit ``status`` and one line on stderr."""
    with pytest.raises(SystemExit) as exited:
        engine.start(argv)
    assert exited.value.code == status
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in lines[0], lines
    return lines[0]


def test_c_on_a_folder_of_other_files_is_a_clear_error(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("mine")
    line = _refused(engines.Counting(), ["-c", str(tmp_path), "--n", "1"], capsys)
    assert "notes.txt" in line and "not a sweepstack experiment" in line
    assert os.listdir(tmp_path) == ["notes.txt"]
    with pytest.raises(NotAnExperimentError, match=r"notes\.txt"):  # --debug: the exception
        engines.Counting().start(["-c", str(tmp_path), "--n", "1", "--debug"])


def test_c_under_a_regular_file_says_it_is_a_file_not_a_disk_problem(tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    line = _refused(engines.Counting(), ["-c", str(tmp_path / "file" / "exp"), "--n", "1"], capsys)
    assert "cannot write" in line and "not a file" in line and "free some space" not in line


def test_c_naming_a_regular_file_says_it_is_a_file(tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    line = _refused(engines.Counting(), ["-c", str(tmp_path / "file"), "--n", "1"], capsys)
    assert "not a file" in line and "free some space" not in line


def test_sweepstack_debug_environment_variable_shows_the_traceback(tmp_path, monkeypatch):
    (tmp_path / "notes.txt").write_text("mine")
    monkeypatch.setenv("SWEEPSTACK_DEBUG", "1")
    with pytest.raises(NotAnExperimentError):
        engines.Counting().start(["-c", str(tmp_path), "--n", "1"])


# --- outputs ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flags", "files"),
    [
        pytest.param(["-L"], {"stdout": "OUT hello", "stderr": "ERR hello"}, id="copy"),
        pytest.param(["-R"], {"stdout": "OUT hello", "stderr": "ERR hello"}, id="redirect"),
        pytest.param(["-L", "-M"], {"stdout+stderr": "OUT hello\nERR hello"}, id="copy-merged"),
        pytest.param(["-R", "-M"], {"stdout+stderr": "OUT hello\nERR hello"}, id="redirect-merged"),
    ],
)
def test_outputs_go_to_the_right_files(tmp_path, flags, files):
    path = tmp_path / "exp"
    code, out, err = run_engine("Counting", "-c", path, "--n", "1", "--say", "hello", *flags)
    assert code == 0, err
    for name, expected in files.items():
        content = (path / name).read_text()
        for line in expected.split("\n"):
            assert line in content, f"{line!r} missing from {name}"
    copied = "-L" in flags
    assert ("OUT hello" in out) is copied and ("ERR hello" in err) is copied


# --- interrupts, crashes, continuing -------------------------------------------------------


def _wait_for(predicate, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("timed out")


@pytest.mark.slow
@pytest.mark.timeout(180)
def _ignore_sigint():
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # as `nohup script &` leaves it


@pytest.mark.timeout(120)
def test_ctrl_c_stops_an_engine_that_inherited_sigint_ignored(tmp_path):
    path, marks = str(tmp_path / "exp"), str(tmp_path / "marks")
    proc = _engine(
        "Counting", "-c", path, "--n", "12", "--marks", marks, "--slow-on", "5",
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=_ignore_sigint,
    )  # fmt: skip
    try:
        assert proc.stdout.readline().strip() == "SLOW 5"
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == 130, err
    assert sweepstack.open(path).runs[0].status == "interrupted"


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupt_gives_the_claim_back_and_continuing_finishes_exactly_once(tmp_path, signum):
    path, marks = str(tmp_path / "exp"), str(tmp_path / "marks")
    proc = _engine(
        "Counting",
        "-c",
        path,
        "--n",
        "12",
        "--marks",
        marks,
        "--slow-on",
        "5",
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        line = proc.stdout.readline()
        assert line.strip() == "SLOW 5"
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == 130, err
    experiment = sweepstack.open(path)
    assert experiment.runs[0].status == "interrupted"
    sweeper = sweepstack.ParamSweeper(os.path.join(path, "sweeps", "main"))
    assert sweeper.counts()["inprogress"] == 0 and sweeper.counts()["done"] == 5
    code, _, err = run_engine("Counting", "-c", path, "--n", "12", "--marks", marks)
    assert code == 0, err
    records = _records(path)
    assert sorted(records) == list(range(12)) and all(
        r["status"] == "done" for r in records.values()
    )
    runs = _marks(marks)
    assert all(runs[i] == 1 for i in range(12) if i != 5) and runs[5] == 2  # 5 was in flight


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_sigkill_then_continue_does_every_combination_exactly_once(tmp_path):
    path, marks = str(tmp_path / "exp"), str(tmp_path / "marks")
    proc = _engine(
        "Counting",
        "-c",
        path,
        "--n",
        "40",
        "--marks",
        marks,
        "--work",
        "0.05",
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _wait_for(lambda: sum(_marks(marks).values()) >= 10)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    code, _, err = run_engine("Counting", "-c", path, "--n", "40", "--marks", marks)
    assert code == 0, err
    records = _records(path)
    assert sorted(records) == list(range(40)) and all(
        r["status"] == "done" for r in records.values()
    )
    repeated = [i for i, n in _marks(marks).items() if n > 1]
    assert len(repeated) <= 1, f"work repeated beyond the combination in flight: {repeated}"
    assert sweepstack.open(path).runs[0].status == "running"  # killed: it could not say more


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_processes_started_at_once_with_c_on_a_fresh_path_join_one_experiment(tmp_path):
    path, marks = str(tmp_path / "fresh" / "exp"), str(tmp_path / "marks")
    procs = [
        _engine(
            "Counting",
            "-c",
            path,
            "--n",
            "60",
            "--marks",
            marks,
            "--work",
            "0.01",
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for _ in range(4)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    experiment = sweepstack.open(path)
    assert len(experiment.runs) == 4 and len({r.number for r in experiment.runs}) == 4
    with open(os.path.join(path, "experiment.json")) as f:
        assert json.load(f)["id_experiment"] == experiment.id_experiment
    assert sorted(_records(path)) == list(range(60))
    assert max(_marks(marks).values()) == 1


# --- local workers --------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_three_workers_drain_a_sweep_without_duplicates(tmp_path):
    path, marks = str(tmp_path / "exp"), str(tmp_path / "marks")
    code, _, err = run_engine(
        "Counting",
        "-c",
        path,
        "--n",
        "60",
        "--marks",
        marks,
        "--workers",
        "3",
        "--no-progress",
        "--work",
        "0.02",
        timeout=200,
    )
    assert code == 0, err
    assert sorted(_records(path)) == list(range(60))
    assert max(_marks(marks).values()) == 1
    runs = sweepstack.open(path).runs
    launcher = [r for r in runs if r.get("role") == "launcher"]
    workers = [r for r in runs if r.get("parent")]
    assert len(launcher) == 1 and len(workers) == 3
    assert all(w.get("parent") == launcher[0].reference for w in workers)
    assert sum(1 for w in workers if w.document["combinations"]["done"]) >= 2
    assert all(r.status == "complete" for r in runs)


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_killing_a_worker_does_not_lose_its_combination(tmp_path):
    path, marks = str(tmp_path / "exp"), str(tmp_path / "marks")
    proc = _engine(
        "Counting",
        "-c",
        path,
        "--n",
        "40",
        "--marks",
        marks,
        "--workers",
        "3",
        "--no-progress",
        "--work",
        "0.05",
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    _wait_for(lambda: sum(_marks(marks).values()) >= 6)
    holders = collections.Counter(name.split("-")[1] for name in os.listdir(marks))
    victim = int(holders.most_common(1)[0][0])
    os.kill(victim, signal.SIGKILL)
    _, err = proc.communicate(timeout=200)
    assert proc.returncode == 0, err
    records = _records(path)
    assert sorted(records) == list(range(40)) and all(
        r["status"] == "done" for r in records.values()
    )
    assert sum(1 for n in _marks(marks).values() if n > 1) <= 1
    # the launcher closed the run the killed worker could not close itself
    (killed,) = [r for r in sweepstack.open(path).runs if r.get("pid") == victim]
    assert killed.status == "interrupted" and "SIGKILL" in killed.get("error")


def _two_workers_at_work(tmp_path, *options):
    """A launcher of 2 workers on 200 combinations, once they have done a few."""
    path, marks = str(tmp_path / "exp"), str(tmp_path / "marks")
    proc = _engine(
        "Counting",
        "-c",
        path,
        "--n",
        "200",
        "--marks",
        marks,
        "--workers",
        "2",
        "--no-progress",
        "--work",
        "0.05",
        *options,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    _wait_for(lambda: sum(_marks(marks).values()) >= 4)
    return path, proc


@pytest.mark.slow
@pytest.mark.timeout(180)
@pytest.mark.parametrize(
    "delivered",
    [
        pytest.param(1, id="once"),
        # `timeout` and other wrappers send it to their child and to their process group
        pytest.param(2, id="twice-at-once-by-a-wrapper"),
    ],
)
def test_ctrl_c_to_the_launcher_interrupts_every_worker(tmp_path, delivered):
    path, proc = _two_workers_at_work(tmp_path)
    for _ in range(delivered):
        proc.send_signal(signal.SIGINT)
        time.sleep(0.01)  # apart enough not to merge into one pending signal
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    runs = sweepstack.open(path).runs
    assert {r.status for r in runs} == {"interrupted"}
    assert "killing" not in err  # each worker ended by itself, none was killed
    sweeper = sweepstack.ParamSweeper(os.path.join(path, "sweeps", "main"))
    assert sweeper.counts()["inprogress"] == 0


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_a_second_ctrl_c_kills_the_workers_and_closes_their_runs(tmp_path):
    path, proc = _two_workers_at_work(tmp_path, "--ignore-interrupts")
    proc.send_signal(signal.SIGINT)
    time.sleep(1.0)  # a person pressing Ctrl-C again: the workers did not stop
    assert proc.poll() is None
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "second Ctrl-C: killing 2 worker(s)" in err
    runs = sweepstack.open(path).runs
    assert {r.status for r in runs} == {"interrupted"}
    workers = [r for r in runs if r.get("parent")]
    assert len(workers) == 2 and all("SIGKILL" in r.get("error") for r in workers)
    # their claims come back by themselves: dead owners on this host
    sweeper = sweepstack.ParamSweeper(os.path.join(path, "sweeps", "main"))
    # (a worker killed between marking a combination done and claiming the next holds
    # none: one or two owners come back, never a claim left in progress)
    recovered = sweeper.recover()
    assert 1 <= len(recovered) <= 2 and all(reason == "dead" for _, reason in recovered)
    assert sweeper.counts()["inprogress"] == 0


# --- progress -----------------------------------------------------------------------------


@pytest.mark.timeout(120)
def test_progress_is_a_rich_bar_on_a_terminal_and_log_lines_otherwise(tmp_path):
    import pty

    primary, secondary = pty.openpty()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.engine.engines",
            "Counting",
            "-c",
            str(tmp_path / "tty"),
            "--n",
            "30",
        ],
        cwd=REPO,
        stdin=secondary,
        stdout=secondary,
        stderr=secondary,
        env={**os.environ, "COLUMNS": "120"},
    )
    os.close(secondary)
    chunks = []
    while True:
        try:
            data = os.read(primary, 65536)
        except OSError:  # the terminal closed: the engine is done
            break
        if not data:
            break
        chunks.append(data)
    os.close(primary)
    assert proc.wait(60) == 0
    screen = b"".join(chunks).decode("utf-8", "replace")
    assert "30/30" in screen and "━" in screen, screen[-2000:]
    code, _, err = run_engine("Counting", "-c", tmp_path / "plain", "--n", "30")
    assert code == 0 and "main: 30/30 done (100%)" in err


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_the_last_worker_waits_and_takes_over_a_silent_processs_claim_by_lease(tmp_path):
    path = str(tmp_path / "exp")
    frozen = _engine(
        "Counting",
        "-c",
        path,
        "--n",
        "6",
        "--slow-on",
        "0",
        "--lease",
        "2",
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert frozen.stdout.readline().strip() == "SLOW 0"
        frozen.send_signal(signal.SIGSTOP)  # alive, holding combination 0, no heartbeat
        code, _, err = run_engine("Counting", "-c", path, "--n", "6", "--lease", "2")
    finally:
        frozen.kill()
        frozen.communicate()
    assert code == 0, err
    assert "waiting for 1 combination(s) in progress elsewhere" in err
    records = _records(path)
    assert sorted(records) == list(range(6)) and all(
        r["status"] == "done" for r in records.values()
    )
