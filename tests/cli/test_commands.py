"""Every subcommand on the example experiment: output, formats and exit statuses."""

from __future__ import annotations

import csv
import glob
import io
import json
import os
import sqlite3

import pytest

import sweepstack as sw
from sweepstack.cli._main import _COMMANDS
from tests.cli.experiments import command

COMMANDS = sorted(_COMMANDS)


# --- the command as a whole ---------------------------------------------------------------


@pytest.mark.parametrize("name", COMMANDS)
def test_help_of_every_subcommand_shows_an_example(sweepstack, name):
    ran = sweepstack(name, "--help")
    assert ran.code == 0
    assert "examples:" in ran.out and f"sweepstack {name} " in ran.out


@pytest.mark.timeout(60)
def test_python_m_sweepstack_runs_the_command_in_a_new_process(example_dir):
    ran = command("status", example_dir)
    assert ran.returncode == 0, ran.stderr
    assert "main: 45/45 done (100%)" in ran.stdout
    assert "\x1b[" not in ran.stdout  # not a terminal: plain text


def test_missing_directory_is_one_line_and_exit_2(sweepstack, tmp_path):
    ran = sweepstack("status", str(tmp_path / "nowhere"))
    assert ran.code == 2
    assert ran.err.count("\n") == 1 and "does not exist" in ran.err
    assert "Traceback" not in ran.err


def test_folder_that_is_not_an_experiment_is_exit_2(sweepstack, tmp_path):
    ran = sweepstack("results", str(tmp_path))
    assert ran.code == 2
    assert "no sweepstack experiment at" in ran.err and ran.err.count("\n") == 1


def test_experiment_of_a_newer_format_is_refused_with_exit_2(sweepstack, example):
    path = os.path.join(example, "experiment.json")
    with open(path) as f:
        document = json.load(f)
    document["format"] = 99
    with open(path, "w") as f:
        json.dump(document, f)
    ran = sweepstack("status", example)
    assert ran.code == 2
    assert "format 99" in ran.err and "Upgrade sweepstack" in ran.err


def test_unknown_option_is_a_usage_error(sweepstack, example_dir):
    assert sweepstack("status", example_dir, "--bogus").code == 2


# --- status --------------------------------------------------------------------------------


def test_status_shows_counts_factor_levels_and_exit_0_when_all_done(sweepstack, example_dir):
    ran = sweepstack("status", example_dir)
    assert ran.code == 0
    assert "todo 0 · in progress 0 · done 45 · failed 0 · skipped 0" in ran.out
    lines = ran.out.splitlines()
    assert any(line.split()[:3] == ["estimator", "stratified", "30"] for line in lines)
    assert any(line.split()[:3] == ["n", "20000", "9"] for line in lines)


def test_status_json_has_counts_levels_and_throughput(sweepstack, example_dir):
    ran = sweepstack("status", example_dir, "--json")
    document = json.loads(ran.out)
    (main,) = document["sweeps"]
    assert main["counts"]["done"] == 45 and main["counts"]["total"] == 45
    seeds = next(f for f in main["factors"] if f["factor"] == "seed")
    assert {level["level"]: level["done"] for level in seeds["levels"]} == {0: 15, 1: 15, 2: 15}
    assert main["hosts"] == [] and main["errors"] == []
    speed = main["throughput"]
    assert speed["eta"] is None
    # the rate is over the time since the first record, when that is shorter than 10 min
    assert 1 <= speed["window"] <= 600
    assert speed["per_minute"] == pytest.approx(60 * speed["finished"] / speed["window"])


def test_status_exits_1_and_shows_last_errors_when_combinations_failed(sweepstack, grid_dir):
    ran = sweepstack("status", grid_dir)
    assert ran.code == 1
    assert "failed 3" in ran.out
    assert "ValueError in compute: x=2 is cursed" in ran.out


# --- results -------------------------------------------------------------------------------


def test_results_table_shows_params_fields_and_status(sweepstack, example_dir):
    ran = sweepstack("results", example_dir)
    assert ran.code == 0
    header = ran.out.splitlines()[0].split()
    assert header[:6] == ["status", "estimator", "n", "seed", "strata", "error"]
    assert "45 row(s)" in ran.out


def test_results_csv_has_one_row_per_combination_and_every_column(sweepstack, example_dir):
    ran = sweepstack("results", example_dir, "--csv")
    rows = list(csv.DictReader(io.StringIO(ran.out)))
    assert len(rows) == 45
    assert len({r["key"] for r in rows}) == 45
    assert {"sweep", "key", "status", "n", "seed", "estimator", "strata", "error", "run"} <= set(
        rows[0]
    )


def test_results_where_and_columns_select_rows_and_columns(sweepstack, example_dir):
    ran = sweepstack(
        "results",
        example_dir,
        "--where",
        "n >= 5000 and estimator == 'plain'",
        "--columns",
        "n,seed",
        "error",
        "--csv",
    )
    rows = list(csv.DictReader(io.StringIO(ran.out)))
    assert list(rows[0]) == ["n", "seed", "error"]
    assert len(rows) == 6 and all(int(r["n"]) >= 5000 for r in rows)


def test_results_json_is_strict_json_with_nan_as_null(sweepstack, grid):
    exp = sw.open(grid)
    exp.fields["note"] = "x"  # an experiment field does not enter the table
    ran = sweepstack("results", grid, "--json", "--where", "status == 'failed'")
    rows = json.loads(ran.out, parse_constant=lambda name: pytest.fail(f"{name} in JSON"))
    assert len(rows) == 3
    assert all(r["status"] == "failed" and "cursed" in r["exception"] for r in rows)


def test_results_sqlite_writes_a_table_to_query_with_sql(sweepstack, example_dir, tmp_path):
    database = str(tmp_path / "pi.db")
    ran = sweepstack("results", example_dir, "--sqlite", database)
    assert ran.code == 0 and "wrote 45 rows" in ran.out
    again = sweepstack("results", example_dir, "--sqlite", database)  # replaces the table
    assert again.code == 0
    connection = sqlite3.connect(database)
    try:
        count, plain = connection.execute(
            "select count(*), sum(estimator = 'plain') from results"
        ).fetchone()
        types = {row[1]: row[2] for row in connection.execute("pragma table_info(results)")}
        big = connection.execute("select count(*) from results where n > 5000").fetchone()[0]
    finally:
        connection.close()
    assert (count, plain, big) == (45, 15, 18)
    assert types["n"] == "INTEGER" and types["error"] == "REAL" and types["estimator"] == "TEXT"


def _csv_rows(ran):
    return list(csv.DictReader(io.StringIO(ran.out)))


def test_results_come_in_the_order_of_their_parameters(sweepstack, example_dir):
    rows = _csv_rows(sweepstack("results", example_dir, "--csv"))
    # parameters in the table's order (estimator, n, seed, strata), numbers as numbers,
    # a missing value (strata of a plain estimator) after the present ones
    order = [
        (r["estimator"], int(r["n"]), int(r["seed"]), r["strata"] == "", int(r["strata"] or 0))
        for r in rows
    ]
    assert order == sorted(order)
    assert rows[0]["estimator"] == "plain" and rows[0]["n"] == "100"
    assert [r["strata"] for r in rows if r["estimator"] == "stratified"][:2] == ["4", "16"]


@pytest.mark.parametrize(
    "sort",
    [
        pytest.param(["--sort", "error:desc", "n"], id="colon-desc"),
        pytest.param(["--sort=-error,n"], id="minus-prefix"),
    ],
)
def test_results_sort_by_columns_ascending_or_descending(sweepstack, example_dir, sort):
    rows = _csv_rows(sweepstack("results", example_dir, "--csv", *sort))
    order = [(-float(r["error"]), int(r["n"])) for r in rows]
    assert len(rows) == 45 and order == sorted(order)


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["--sort", "bogus"], id="unknown-sort-column"),
        pytest.param(["--where", "erorr < 1"], id="unknown-column-in-where"),
        pytest.param(["--where", "__import__('os')"], id="unsafe-where"),
        pytest.param(["--columns", "n", "nope"], id="unknown-column"),
        pytest.param(["--sweep", "other"], id="unknown-sweep"),
        pytest.param(["--csv", "--json"], id="two-formats"),
    ],
)
def test_results_bad_query_is_exit_2_with_one_line(sweepstack, example_dir, args):
    ran = sweepstack("results", example_dir, *args)
    assert ran.code == 2
    assert "Traceback" not in ran.err and ran.out == ""


# --- runs, report --------------------------------------------------------------------------


def test_runs_lists_each_run_with_its_reproduction_line(sweepstack, example_dir):
    ran = sweepstack("runs", example_dir)
    assert ran.code == 0
    assert "PiSweep_1_" in ran.out and "complete" in ran.out
    assert "pi_sweep.py -c" in ran.out and "--max-n 20000" in ran.out
    document = json.loads(sweepstack("runs", example_dir, "--json").out)
    assert document[0]["number"] == 1


def test_report_writes_one_html_file_in_reports_or_where_asked(sweepstack, example, tmp_path):
    ran = sweepstack("report", example)
    assert ran.code == 0
    default = os.path.join(example, "reports", "report.html")
    assert f"wrote {default}" in ran.out and os.path.getsize(default) > 10_000
    other = str(tmp_path / "pi.html")
    assert sweepstack("report", example, "-o", other).code == 0
    assert os.path.exists(other)


@pytest.mark.parametrize("name", ["rep", "nested/rep", "rep.d"])
def test_report_output_without_html_suffix_is_a_folder_that_gets_report_html(
    sweepstack, example, tmp_path, name
):
    target = tmp_path / name
    ran = sweepstack("report", example, "-o", str(target))
    assert ran.code == 0
    assert target.is_dir()
    written = target / "report.html"
    assert f"wrote {written}" in ran.out
    assert written.read_text(encoding="utf-8").lstrip().lower().startswith("<!doctype html")


def test_report_output_naming_an_existing_folder_writes_report_html_in_it(
    sweepstack, example, tmp_path
):
    folder = tmp_path / "reports.html"
    folder.mkdir()
    assert sweepstack("report", example, "-o", str(folder)).code == 0
    assert (folder / "report.html").is_file()


# --- reset ---------------------------------------------------------------------------------


def test_reset_failed_returns_failed_combinations_to_todo(sweepstack, grid):
    ran = sweepstack("reset", grid, "--failed")
    assert ran.code == 0 and "3 failed combination(s) to todo" in ran.out
    status = json.loads(sweepstack("status", grid, "--json").out)["sweeps"][0]["counts"]
    assert (status["failed"], status["remaining"]) == (0, 3)


def test_reset_needs_to_be_told_what_to_reset(sweepstack, grid_dir):
    ran = sweepstack("reset", grid_dir)
    assert ran.code == 2 and "--stale" in ran.err


# --- cache ---------------------------------------------------------------------------------


def test_cache_summary_counts_artifacts_per_stage(sweepstack, example_dir):
    ran = sweepstack("cache", example_dir)
    assert ran.code == 0
    by_stage = {line.split()[0]: line.split()[1] for line in ran.out.splitlines()[2:-1]}
    assert by_stage == {"draw": "15", "estimate": "45"}


def test_cache_unused_lists_artifacts_no_record_uses_and_clean_removes_them(sweepstack, example):
    cache = sw.open(example).cache
    stray = "ab" * 16

    def write(folder: str) -> None:
        with open(os.path.join(folder, "data.bin"), "wb") as f:
            f.write(b"old")

    cache.save(stray, {"stage": "draw"}, write)
    listed = sweepstack("cache", example, "--unused")
    assert stray in listed.out and "1 unused artifact(s)" in listed.out
    young = sweepstack("cache", example, "--clean", "--unused")
    assert "removed 0" in young.out and cache.has(stray)  # younger than an hour: kept
    removed = sweepstack("cache", example, "--clean", "--unused", "--older-than", "0s")
    assert "removed 1 unused" in removed.out and not cache.has(stray)
    assert len(list(cache.iter_artifacts())) == 60


def test_cache_clean_needs_a_selection(sweepstack, example_dir):
    assert sweepstack("cache", example_dir, "--clean").code == 2
    assert sweepstack("cache", example_dir, "--older-than", "soon").code == 2


# --- a terminal -----------------------------------------------------------------------------


@pytest.mark.timeout(60)
def test_a_terminal_gets_rich_tables(example_dir):
    import pty
    import subprocess
    import sys

    from tests.cli.experiments import environment

    leader, follower = pty.openpty()
    try:
        env = environment()
        env.update(COLUMNS="120", TERM="xterm-256color")
        process = subprocess.run(
            [sys.executable, "-m", "sweepstack", "status", example_dir],
            stdout=follower,
            stderr=subprocess.PIPE,
            env=env,
            timeout=60,
            check=False,
        )
        os.close(follower)
        follower = -1
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        if follower >= 0:
            os.close(follower)
        os.close(leader)
    text = b"".join(chunks).decode("utf-8", "replace")
    assert process.returncode == 0, process.stderr
    assert "█" in text and "per factor" in text
    assert "---------" not in text  # rich's table, not the plain one


def test_cache_unused_refuses_to_decide_while_a_record_is_unreadable(sweepstack, example):
    record = sorted(glob.glob(os.path.join(example, "records", "main", "??", "*.json")))[0]
    with open(record, "w") as f:
        f.write("{")
    ran = sweepstack("cache", example, "--clean", "--unused", "--older-than", "0s")
    assert ran.code == 1 and "check" in ran.err and "--repair" in ran.err
    assert len(list(sw.open(example).cache.iter_artifacts())) == 60
