"""The store: adding a run as the registry grows (vs curifactory), writing records, results().

curifactory keeps every run of every experiment in one ``store.json`` that each new run
loads, extends and rewrites (``ManagerStore(path).add_run(manager)``, as its
``ArtifactManager`` does); sweepstack creates one ``runs/<N>.json``. Both are measured
from a folder outside any git repository, so that neither runs git; a separate line
shows sweepstack's ``start_run`` inside a git checkout (one ``git status``).

Stores are filled with the documents the measured calls write, without fsync, to keep
the set-up short; the measured calls fsync as they always do.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from benchmarks._common import Result, import_quietly, median_time
from sweepstack import param_key
from sweepstack.store import ExperimentDir
from sweepstack.store._atomic import atomic_write
from sweepstack.store._format import encode_run

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@contextlib.contextmanager
def _folder(prefix: str) -> Iterator[str]:
    folder = tempfile.mkdtemp(prefix=prefix)
    previous = os.getcwd()
    os.chdir(folder)  # outside any git repository: no git call on either side
    try:
        yield folder
    finally:
        os.chdir(previous)
        shutil.rmtree(folder, ignore_errors=True)


# --- runs ------------------------------------------------------------------------------------


def _fill_ours(xd: ExperimentDir, count: int) -> None:
    template = xd.start_run("bench", argv=["bench.py"]).document
    for number in range(2, count + 1):
        document = {**template, "number": number, "reference": f"bench_{number}_2026-01-01-T000000"}
        atomic_write(os.path.join(xd.runs_dir, f"{number}.json"), encode_run(document), fsync=False)
    atomic_write(os.path.join(xd.runs_dir, "next"), f"{count + 1}\n", fsync=False)


def _curifactory_manager(number: int) -> Any:
    """The attributes of an ArtifactManager that ManagerStore.add_run reads."""
    timestamp = datetime.now()
    manager = SimpleNamespace(
        experiment_name="bench",
        experiment_run_number=number,
        parameter_files=["params"],
        param_file_param_sets={"params": [["p", "44b5e428e7165975a3e4f0d1674dbe5f"]]},
        store_full=False,
        run_line="experiment bench -p params",
        hostname="host",
        notes="",
        git_commit_hash="",
        git_workdir_dirty=False,
    )
    manager.get_str_timestamp = lambda: timestamp.strftime("%Y-%m-%d-T%H%M%S")
    manager.get_reference_name = lambda: f"bench_{manager.experiment_run_number}_x"
    return manager


def _fill_theirs(folder: str, count: int) -> None:
    runs = []
    for number in range(1, count + 1):
        manager = _curifactory_manager(number)
        runs.append(
            {
                "reference": manager.get_reference_name(),
                "experiment_name": "bench",
                "run_number": number,
                "timestamp": manager.get_str_timestamp(),
                "commit": "",
                "workdir_dirty": False,
                "param_files": manager.parameter_files,
                "params": manager.param_file_param_sets,
                "full_store": False,
                "status": "complete",
                "cli": manager.run_line,
                "hostname": "host",
                "notes": "",
            }
        )
    with open(os.path.join(folder, "store.json"), "w") as f:
        json.dump(runs, f, indent=4)


def _runs(quick: bool) -> list[Result]:
    curifactory_store = import_quietly("curifactory.store")
    results = []
    for stored in (100, 10_000):
        with _folder("bench-store-runs-") as folder:
            path = os.path.join(folder, "exp")
            xd = ExperimentDir.create_or_open(path)
            _fill_ours(xd, stored)
            ours = median_time(functools.partial(_add_our_run, path), 10 if quick else 40)
            assert ExperimentDir.open(path).run(stored + 1) is not None
        theirs = None
        if curifactory_store is not None:
            with _folder("bench-store-curifactory-") as folder:
                _fill_theirs(folder, stored)
                theirs = median_time(
                    functools.partial(_add_their_run, curifactory_store, folder),
                    1 if quick and stored > 1000 else 3 if stored > 1000 else 10,
                )
        results.append(
            Result(
                "Run registry: add a run",
                f"{stored:,} runs already stored",
                ours,
                theirs,
                competitor="curifactory ManagerStore",
                goal="≤ 5 ms, flat in the number of runs",
                notes="both outside a git repository",
            )
        )
    with _folder("bench-store-git-") as folder:
        xd = ExperimentDir.create_or_open(os.path.join(folder, "exp"))
        os.chdir(REPO)
        script = os.path.join(REPO, "benchmarks", "bench_store.py")
        ours = median_time(lambda: xd.start_run("bench", argv=[script]), 5 if quick else 20)
    results.append(
        Result(
            "Run registry: add a run",
            "in a git checkout (commit, branch, dirty flag)",
            ours,
            notes="one `git status` call per run; no competitor figure",
        )
    )
    return results


# --- records and results -------------------------------------------------------------------


def _document(i: int) -> dict[str, Any]:
    params = {"n": 100 * (i % 50), "seed": i // 50, "estimator": "antithetic", "pairs": i % 2 == 0}
    return {
        "params": params,
        "status": "done",
        "fields": {"error": 1.0 / (i + 1), "inside": i},
        "exception": None,
        "stages": [
            {
                "name": "draw",
                "status": "run",
                "duration": 0.01,
                "fingerprint": "ab" * 16,
                "key": "cd" * 16,
            },
            {
                "name": "estimate",
                "status": "hit",
                "duration": 0.001,
                "fingerprint": "ef" * 16,
                "key": "12" * 16,
            },
        ],
        "outputs": {"points": "cd" * 16, "pi": "34" * 16},
        "run": "bench_1_2026-01-01-T000000",
        "started": "2026-01-01T00:00:00.000000Z",
        "ended": "2026-01-01T00:00:01.000000Z",
        "duration": 1.0,
        "reportables": [],
    }


def _fill_records(xd: ExperimentDir, start: int, stop: int) -> None:
    records = xd._records  # the same writer as write_record, without fsync for the set-up
    for i in range(start, stop):
        document = _document(i)
        records.write("main", param_key(document["params"]), document, fsync=False)


def _write_time(xd: ExperimentDir, first: int, repeats: int) -> float:
    times = []
    for i in range(first, first + repeats):
        document = _document(i)
        key = param_key(document["params"])
        start = time.perf_counter()
        xd.write_record("main", key, document)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _records(quick: bool) -> list[Result]:
    total = 20_000 if quick else 100_000
    results = []
    with _folder("bench-store-records-") as folder:
        xd = ExperimentDir.create_or_open(os.path.join(folder, "exp"))
        _fill_records(xd, 0, 1_000)
        small = _write_time(xd, 10_000_000, 100 if quick else 300)
        _fill_records(xd, 1_000, total)
        large = _write_time(xd, 20_000_000, 100 if quick else 300)
        results.append(
            Result(
                "Records",
                f"write_record with {total:,} records stored",
                large,
                small,
                competitor="same, 1,000 stored",
                goal="ratio ≈ 1 (O(1) in the number of records)",
                notes="one fsynced atomic write + one index line",
            )
        )
        exp = xd.experiment()
        rows = len(exp.results())
        assert rows == total + (200 if quick else 600), rows
        ours = median_time(exp.results, 1 if quick else 3)
        naive = median_time(lambda: exp.results(verify=True), 1)
        results.append(
            Result(
                "Records",
                f"results() over {rows:,} records",
                ours,
                naive,
                competitor="reading every record file",
                goal="≤ 3 s for 100,000",
                notes="index logs + listing; page cache warm",
            )
        )
        table = exp.results()
        frame = median_time(table.to_dataframe, 1 if quick else 3)
        results.append(
            Result("Records", f".to_dataframe() of {rows:,} rows", frame, notes="pandas")
        )
    return results


def _add_our_run(path: str) -> None:
    ExperimentDir.open(path).start_run("bench", argv=["bench.py"])


def _add_their_run(curifactory_store: Any, folder: str) -> None:
    curifactory_store.ManagerStore(folder).add_run(_curifactory_manager(0))


def run(quick: bool) -> list[Result]:
    return _runs(quick) + _records(quick)
