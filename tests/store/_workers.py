"""Functions run in spawned worker processes by the store's concurrency tests."""

from __future__ import annotations

import os
import time

from sweepstack.store import ExperimentDir


def create_or_open(path: str, start_at: float) -> str:
    """Open (or create) the experiment at the same moment as the other workers."""
    time.sleep(max(0.0, start_at - time.time()))
    return ExperimentDir.create_or_open(path, engine="Race").id_experiment


def add_runs_and_records(
    path: str, worker: int, runs: int, records: int, shared: list[str]
) -> dict:
    """Start runs and write records, some under keys that every worker writes too."""
    xd = ExperimentDir.create_or_open(path)
    numbers = []
    written = {}
    for i in range(runs):
        run = xd.start_run("Busy", argv=["busy.py", str(worker)], notes=f"worker {worker}")
        numbers.append(run.number)
        for j in range(records):
            key = f"{worker:02d}{i:04d}{j:04d}" + "0" * 22
            document = {
                "params": {"worker": worker, "i": i, "j": j},
                "status": "done",
                "fields": {"value": worker * 1000 + j},
                "run": run.reference,
            }
            written[key] = xd.write_record("main", key, document)["fields"]["value"]
        for key in shared:
            xd.write_record(
                "main", key, {"params": {"shared": key}, "status": "done", "run": run.reference}
            )
        run.finish("complete")
    return {"pid": os.getpid(), "numbers": numbers, "written": written}


def manager_store_writer(path: str, worker: int, start_at: float) -> dict:
    """Make a live manager, add its run through a ManagerStore, note it, and finish."""
    from sweepstack.dag import ArtifactManager
    from sweepstack.store import ManagerStore

    time.sleep(max(0.0, start_at - time.time()))
    manager = ArtifactManager("crowd", path)
    store = ManagerStore(path)
    block = store.add_run(manager)
    mine = store.get_run(block["reference"])[0]
    mine["notes"] = f"worker {worker}"
    store.save()
    manager.finish()
    return {"reference": block["reference"], "number": block["run_number"], "pid": os.getpid()}
