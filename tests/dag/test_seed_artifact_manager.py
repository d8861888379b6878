"""Every documented name of curifactory's ArtifactManager works, in sweepstack's terms.

NAMES is the list of attributes and methods on curifactory's manager page (the seed
page of issue 17); CHECKS calls each one on a live manager whose records went
through cached stages, and checks what it answers.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform

import pytest

from sweepstack.dag import ArtifactManager, stage
from sweepstack.errors import StoreValueError, UnknownOutputError
from sweepstack.store import ExperimentDir, ManagerStore
from tests.dag._pipeline import pipeline, reset_counts

NAMES = [
    "artifacts",
    "cache_path",
    "conda_env",
    "config",
    "current_stage_name",
    "dry",
    "dry_cache",
    "error",
    "error_thrown",
    "experiment_name",
    "experiment_run_number",
    "git_commit_hash",
    "git_workdir_dirty",
    "hostname",
    "ignore_lazy",
    "interactive",
    "lazy",
    "live_report_path_generated",
    "logs_path",
    "manager_cache_path",
    "map_mode",
    "mapped_artifacts",
    "notebooks_path",
    "notes",
    "os",
    "overwrite",
    "overwrite_stages",
    "parallel_lock",
    "parallel_mode",
    "param_file_param_sets",
    "parameter_files",
    "pip_freeze",
    "prefix",
    "records",
    "report_css_path",
    "reportables",
    "reports_path",
    "reproduction_line",
    "run_info",
    "run_line",
    "run_timestamp",
    "runs_path",
    "stage_active",
    "status",
    "store_full",
    "stored",
    "display_all_reportables",
    "display_group_reportables",
    "display_info",
    "display_record_reportables",
    "display_reportable",
    "display_stage_graph",
    "display_stage_reportables",
    "generate_report",
    "get_all_param_sets",
    "get_artifact_filename",
    "get_artifact_path",
    "get_grouped_reportables",
    "get_reference_name",
    "get_run_output_path",
    "get_str_timestamp",
    "get_ungrouped_reportables",
    "lock",
    "map_records",
    "store",
    "unlock",
    "update_map_progress",
    "write_run_env_output",
]

SEEN_DURING_STAGE: dict[str, object] = {}


@stage(inputs=["third"], outputs=["summary"], version="1")
def summarize(record, third):
    manager = record.vars["manager"]
    SEEN_DURING_STAGE.update(
        name=manager.current_stage_name,
        active=manager.stage_active,
        filename=manager.get_artifact_filename("summary", record),
    )
    record.report({"third": third}, name="summary-json", group="tables")
    record.report(f"third is {third}", name="note")
    return {"third": third}


@pytest.fixture
def live(tmp_path):
    reset_counts()
    SEEN_DURING_STAGE.clear()
    manager = ArtifactManager("pi", str(tmp_path / "exp"), notes="seed names", store_full=True)
    records = []
    for a in (1, 2):
        record = pipeline(manager.record({"a": a, "b": 2, "c": 3}))
        record.vars["manager"] = manager
        records.append(summarize(record))
    manager.resolve()
    yield manager, records
    manager.finish()


def _check_artifacts(m, records):
    found = {(a["record"], a["name"]): a for a in m.artifacts}
    assert set(found) == {(i, n) for i in (0, 1) for n in ("first", "second", "third", "summary")}
    entry = found[(0, "third")]
    assert entry["stage"] == "third" and entry["key"] == records[0].outputs()["third"]
    assert os.path.isdir(entry["path"])  # the artifact's folder in the cache


def _check_paths(m, records):
    xd = ExperimentDir.open(m.path)
    assert m.cache_path == os.path.join(xd.path, "cache") == m.cache.root
    assert (m.logs_path, m.reports_path, m.runs_path) == (xd.logs_dir, xd.reports_dir, xd.runs_dir)
    assert m.manager_cache_path == xd.path
    assert ManagerStore(m.manager_cache_path).get_run(m.get_reference_name())[0] is not None


def _check_nothing(value):
    def check(m, records):
        attribute = getattr(m, value)
        assert (attribute() if callable(attribute) else attribute) in (None, False, [], {})

    return check


def _check_artifact_filename(m, records):
    key = records[0].outputs()["second"]
    assert m.get_artifact_filename("second", records[0]) == os.path.join(key[:2], key)
    assert m.get_artifact_filename("second", records[0], stage_name="second").endswith(key)
    # asked inside the stage, for the record it runs on (the last one resolved)
    assert SEEN_DURING_STAGE["filename"].endswith(records[1].outputs()["summary"])
    with pytest.raises(UnknownOutputError, match="no output 'model'"):
        m.get_artifact_filename("model", records[0])


def _check_artifact_path(m, records):
    key = records[1].outputs()["first"]
    path = m.get_artifact_path("first", records[1])
    assert path == os.path.join(m.cache_path, key[:2], key) and os.path.isdir(path)
    assert m.get_artifact_path("first", records[1], store=True) == path
    shared = m.get_artifact_path("first", records[1], prefix="team")
    assert shared == os.path.join(os.path.dirname(m.path), "cache-team", key[:2], key)
    with pytest.raises(StoreValueError, match="subdir"):
        m.get_artifact_path("first", records[1], subdir="raw")


def _check_error(m, records):
    assert (m.error, m.error_thrown) == (None, False)

    @stage(outputs=["boom"], version="1")
    def explode(record):
        raise ValueError("bad input")

    failing = explode(m.record({"a": 9}))
    with pytest.raises(ValueError):
        failing.resolve()
    assert (m.error, m.error_thrown) == ("ValueError: bad input", True)
    m.records.remove(failing)


def _check_run_number(m, records):
    assert m.experiment_run_number == 1
    other = ArtifactManager("pi", m.path)
    assert other.experiment_run_number == 2
    other.finish()


def _check_git(m, records):
    document = ExperimentDir.open(m.path).run(m.experiment_run_number).get("git")
    assert m.git_commit_hash == document.get("commit")
    assert m.git_workdir_dirty == document.get("dirty")


def _check_map(m, records):
    assert m.map_mode is False
    ran = {(a["record"], a["name"]): a["key"] for a in (m.map_records().artifacts)}
    assert ran[(0, "summary")] == records[0].outputs()["summary"] and len(ran) == 8
    again = ArtifactManager("pi", m.path, dry=True)
    assert again.map_mode is True  # a dry manager only maps
    for a in (1, 2, 3):
        summarize(pipeline(again.record({"a": a, "b": 2, "c": 3})))
    dag = again.map_records()
    assert dag.execution_list == [(2, "first"), (2, "second"), (2, "third"), (2, "summarize")]
    mapped = {(a["record"], a["name"]): a["status"] for a in again.mapped_artifacts}
    assert mapped[(0, "summary")] == mapped[(1, "summary")] == "cached"
    assert mapped[(0, "first")] == "skipped"  # nothing downstream of it needs it
    assert mapped[(2, "first")] == "run" and len(mapped) == 12


def _check_reportables(m, records):
    assert {e["name"] for _, e in m.reportables} == {"summary-json", "note"}
    grouped = m.get_grouped_reportables()
    assert list(grouped) == ["tables"] and len(grouped["tables"]) == 2
    assert [e["name"] for e in m.get_ungrouped_reportables()] == ["note", "note"]
    html = m.display_reportable(grouped["tables"][0])
    assert "&quot;third&quot;: 123" in str(html) and "_repr_html_" in dir(html)
    assert "third is 223" in m.display_reportable((records[1], m.get_ungrouped_reportables()[1]))


def _check_displays(name):
    def check(m, records):
        html = {
            "display_all_reportables": lambda: m.display_all_reportables(),
            "display_group_reportables": lambda: m.display_group_reportables("tables"),
            "display_info": lambda: m.display_info(),
            "display_record_reportables": lambda: m.display_record_reportables(records[0]),
            "display_stage_graph": lambda: m.display_stage_graph(),
            "display_stage_reportables": lambda: m.display_stage_reportables("summarize"),
        }[name]()
        expected = {
            "display_all_reportables": "third is 223",
            "display_group_reportables": "summary-json",
            "display_info": "seed names",
            "display_record_reportables": "third is 123",
            "display_stage_graph": "summarize",
            "display_stage_reportables": "third is 123",
        }[name]
        assert expected in html and html._repr_html_() == str(html)

    return check


def _check_generate_report(m, records):
    path = m.generate_report()
    assert path == os.path.join(m.reports_path, m.get_reference_name() + ".html")
    with open(path, encoding="utf-8") as f:
        page = f.read()
    assert "third is 223" in page and m.get_reference_name() in page


def _check_run_info(m, records):
    info = m.run_info
    assert info["reference"] == m.get_reference_name() and info["run_number"] == 1
    assert (info["notes"], info["full_store"], info["status"]) == ("seed names", True, "running")


def _check_timestamps(m, records):
    started = m.run_timestamp
    assert isinstance(started, dt.datetime) and started.tzinfo is not None
    assert abs((dt.datetime.now(dt.timezone.utc) - started).total_seconds()) < 600
    assert m.get_str_timestamp() == started.strftime("%Y-%m-%d-T%H%M%S")
    assert m.get_reference_name() == f"pi_1_{m.get_str_timestamp()}"


def _check_lock(m, records):
    m.lock()
    try:
        assert ExperimentDir.open(m.path).runs_lock.held()
    finally:
        m.unlock()
    assert not ExperimentDir.open(m.path).runs_lock.held()
    with pytest.raises(RuntimeError):
        m.unlock()


def _check_store(m, records):
    m.store()
    stored = ExperimentDir.open(m.path).read_record("live", records[0].key)
    assert stored["status"] == "done" and stored["fields"]["total"] == 123


def _check_env(m, records):
    path = m.write_run_env_output()
    with open(path, encoding="utf-8") as f:
        document = json.load(f)
    assert document["reference"] == m.get_reference_name() and document["distributions"]
    assert "pytest==" in m.pip_freeze


def _check_overwrite(m, records):
    assert (m.overwrite, m.overwrite_stages) == (None, [])
    again = ArtifactManager("pi", m.path, overwrite={"second", "first"}, dry=True)
    assert again.overwrite_stages == ["first", "second"]


CHECKS = {
    "artifacts": _check_artifacts,
    "cache_path": _check_paths,
    "conda_env": _check_nothing("conda_env"),
    "config": lambda m, r: m.config == {} and isinstance(m.config, dict),
    "current_stage_name": lambda m, r: (
        (m.current_stage_name is None) and SEEN_DURING_STAGE["name"] == "summarize"
    ),
    "dry": lambda m, r: m.dry is False,
    "dry_cache": lambda m, r: m.dry_cache is False,
    "error": _check_error,
    "error_thrown": _check_error,
    "experiment_name": lambda m, r: m.experiment_name == "pi",
    "experiment_run_number": _check_run_number,
    "git_commit_hash": _check_git,
    "git_workdir_dirty": _check_git,
    "hostname": lambda m, r: m.hostname == ExperimentDir.open(m.path).run(1).get("host"),
    "ignore_lazy": lambda m, r: m.ignore_lazy is False,
    "interactive": lambda m, r: m.interactive is False,  # pytest is not an interactive shell
    "lazy": lambda m, r: m.lazy is False,
    "live_report_path_generated": _check_nothing("live_report_path_generated"),
    "logs_path": _check_paths,
    "manager_cache_path": _check_paths,
    "map_mode": _check_map,
    "mapped_artifacts": _check_map,
    "notebooks_path": _check_nothing("notebooks_path"),
    "notes": lambda m, r: m.notes == "seed names",
    "os": lambda m, r: m.os == platform.system(),
    "overwrite": _check_overwrite,
    "overwrite_stages": _check_overwrite,
    "parallel_lock": _check_nothing("parallel_lock"),
    "parallel_mode": _check_nothing("parallel_mode"),
    "param_file_param_sets": _check_nothing("param_file_param_sets"),
    "parameter_files": _check_nothing("parameter_files"),
    "pip_freeze": _check_env,
    "prefix": lambda m, r: m.prefix is None,
    "records": lambda m, r: m.records == r,
    "report_css_path": _check_nothing("report_css_path"),
    "reportables": _check_reportables,
    "reports_path": _check_paths,
    "reproduction_line": lambda m, r: (
        m.reproduction_line == ExperimentDir.open(m.path).run(1).get("reproduce")
        and "pytest" in m.reproduction_line
    ),
    "run_info": _check_run_info,
    "run_line": lambda m, r: "pytest" in m.run_line,
    "run_timestamp": _check_timestamps,
    "runs_path": _check_paths,
    "stage_active": lambda m, r: m.stage_active is False and SEEN_DURING_STAGE["active"] is True,
    "status": lambda m, r: m.status == "running",
    "store_full": lambda m, r: m.store_full is True,
    "stored": lambda m, r: (
        m.stored is True and ArtifactManager("x", m.path, dry=True).stored is False
    ),
    "display_all_reportables": _check_displays("display_all_reportables"),
    "display_group_reportables": _check_displays("display_group_reportables"),
    "display_info": _check_displays("display_info"),
    "display_record_reportables": _check_displays("display_record_reportables"),
    "display_reportable": _check_reportables,
    "display_stage_graph": _check_displays("display_stage_graph"),
    "display_stage_reportables": _check_displays("display_stage_reportables"),
    "generate_report": _check_generate_report,
    "get_all_param_sets": lambda m, r: (
        m.get_all_param_sets() == [{"a": 1, "b": 2, "c": 3}, {"a": 2, "b": 2, "c": 3}]
    ),
    "get_artifact_filename": _check_artifact_filename,
    "get_artifact_path": _check_artifact_path,
    "get_grouped_reportables": _check_reportables,
    "get_reference_name": _check_timestamps,
    "get_run_output_path": _check_nothing("get_run_output_path"),
    "get_str_timestamp": _check_timestamps,
    "get_ungrouped_reportables": _check_reportables,
    "lock": _check_lock,
    "map_records": _check_map,
    "store": _check_store,
    "unlock": _check_lock,
    "update_map_progress": lambda m, r: m.update_map_progress(r[0], "stage") is None,
    "write_run_env_output": _check_env,
}


def test_every_documented_name_has_a_check():
    assert sorted(CHECKS) == sorted(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_documented_name_answers_in_sweepstack_terms(live, name):
    manager, records = live
    result = CHECKS[name](manager, records)
    assert result is not False, f"{name} answered something else than documented"


def test_dry_manager_answers_none_for_what_a_run_would_have(tmp_path):
    manager = ArtifactManager("pi", str(tmp_path / "exp"), dry=True)
    record = pipeline(manager.record({"a": 1, "b": 2, "c": 3}))
    assert manager.map_records().execution_list == [(0, "first"), (0, "second"), (0, "third")]
    answers = [
        manager.run_info,
        manager.status,
        manager.experiment_run_number,
        manager.get_reference_name(),
        manager.get_str_timestamp(),
        manager.generate_report(),
        manager.logs_path,
        manager.get_artifact_path("first", record),
    ]
    assert answers == [None] * len(answers)
    assert not os.path.exists(tmp_path / "exp")  # a dry manager writes nothing
    manager.lock()  # nothing to guard: no file is written
    manager.unlock()


def test_curifactory_constructor_options_are_accepted_with_their_meaning(tmp_path):
    import multiprocessing

    lock = multiprocessing.get_context("spawn").Lock()
    manager = ArtifactManager(
        "pi",
        manager_cache_path=str(tmp_path / "exp"),
        run_line="experiment pi -p params",
        parallel_lock=lock,
        parallel_mode=True,
        status_override="LIVE",
        suppress_live_log=True,
        live_log_debug=False,
        disable_non_cf_loggers=True,
    )
    assert manager.path == manager.manager_cache_path == str(tmp_path / "exp")
    assert manager.run_line == "experiment pi -p params" == manager.run_info["cli"]
    assert (manager.parallel_lock, manager.parallel_mode) == (lock, True)
    manager.lock()
    assert not lock.acquire(block=False)  # lock() took the parallel lock too
    manager.unlock()
    assert lock.acquire(block=False)
    lock.release()
    manager.finish()


@pytest.mark.parametrize("option", ["runs_path", "logs_path", "reports_path", "notebooks_path"])
def test_a_folder_option_is_refused_since_the_store_lays_out_the_folders(tmp_path, option):
    with pytest.raises(StoreValueError, match="lays out"):
        ArtifactManager("pi", str(tmp_path / "exp"), **{option: str(tmp_path / "elsewhere")})
    assert not os.path.exists(tmp_path / "exp")


def test_manager_cache_path_and_another_path_are_refused(tmp_path):
    with pytest.raises(StoreValueError, match="same directory"):
        ArtifactManager("pi", str(tmp_path / "a"), manager_cache_path=str(tmp_path / "b"))


def test_an_unknown_option_is_a_type_error(tmp_path):
    with pytest.raises(TypeError, match="unexpected keyword argument 'colour'"):
        ArtifactManager("pi", str(tmp_path / "exp"), colour="blue")


def test_manager_with_a_parallel_lock_still_pickles(tmp_path):
    import multiprocessing
    import pickle

    manager = ArtifactManager(
        "pi", str(tmp_path / "exp"), parallel_lock=multiprocessing.get_context("spawn").Lock()
    )
    again = pickle.loads(pickle.dumps(manager))
    assert again.parallel_lock is None and again.experiment_name == "pi"
    manager.finish()
