"""A worker that finishes one combination with its record and SIGKILLs itself at one step.

Run as ``python -m tests.sweep._finisher EXPERIMENT STEP``. The steps of the one durable
write are those of docs/format.md ("One durable write per combination"); the worker
wraps the real functions only to die at the named point, with a real SIGKILL.
"""

from __future__ import annotations

import os
import signal
import sys
import warnings

STEPS = (
    "before-append",  # the record is prepared, nothing is written
    "after-append",  # W and D are in the journal (page cache), the lock is still held
    "after-unlock",  # the lock is released, the flush not done
    "after-sync",  # W and D are durable, the record file not yet written
    "after-temp",  # the record's temporary file is written, not renamed
    "after-rename",  # the record file is in place, its index line not yet
    "after-index",  # the record is indexed; its M announcement is not written
    "after-return",  # done() returned; the process dies before its next write
)


def _die() -> None:
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def _after(owner: object, name: str, when: str, step: str) -> None:
    real = getattr(owner, name)

    def wrapper(*args: object, **kwargs: object) -> object:
        if step == when + "@before":
            _die()
        result = real(*args, **kwargs)
        if step == when:
            _die()
        return result

    setattr(owner, name, wrapper)


def main() -> None:
    path, step = sys.argv[1], sys.argv[2]
    warnings.simplefilter("ignore")
    import sweepstack.store._records as records_module
    from sweepstack.store import ExperimentDir
    from sweepstack.sweep import ParamSweeper
    from sweepstack.sweep._journal import Journal

    experiment = ExperimentDir.create_or_open(path)
    sweeper = ParamSweeper(
        experiment.sweeper_dir("main"), [{"n": 1}, {"n": 2}], save_sweeps=True, name="main"
    )
    sweeper.attach_records(experiment.record_store)
    combination = sweeper.get_next()
    key = sweeper.key_of(combination)
    text = experiment.record_store.prepare(
        "main", key, {"params": dict(combination), "status": "done", "fields": {"x": 1}}
    )
    print(f"KEY {key}", flush=True)
    if step == "before-append":
        _die()
    _after(Journal, "append", "after-append", step)
    _after(Journal, "sync", "after-sync", step)
    if step == "after-unlock":
        _after(Journal, "sync", "after-unlock", "after-unlock@before")
    _after(records_module, "atomic_write", "after-rename", step)
    if step == "after-temp":
        real_replace = os.replace

        def replace(source: str, target: str) -> None:
            if target.endswith(".json") and "records" in target:
                _die()
            real_replace(source, target)

        os.replace = replace  # type: ignore[assignment]
    _after(records_module.RecordStore, "_index", "after-index", step)
    sweeper.done(combination, record=text)
    print("ACK", flush=True)
    if step == "after-return":
        _die()


if __name__ == "__main__":
    main()
