"""ManagerStore: curifactory's database of runs, as a view of the run registry.

curifactory keeps one ``store.json`` holding a metadata block per run, loaded,
changed in memory and saved whole. Here each run already has its own document
(``runs/<N>.json``, see :mod:`sweepstack.store._runs`), written by the process that
owns it. A :class:`ManagerStore` reads those documents as curifactory's blocks, and
:meth:`ManagerStore.save` writes back only the entries a user changed, one run file
at a time, atomically and under ``DIR/runs/lock`` (which a run's owner takes too to
rewrite its document): two stores saving at once, on two hosts, or a store and the
run's owner, never undo each other's changes, and no run is ever lost by a save.
"""

from __future__ import annotations

import os
import shlex
import warnings
from typing import Any

from sweepstack.errors import CorruptEntryWarning, StoreValueError
from sweepstack.store._directory import ExperimentDir
from sweepstack.store._runs import FINAL_STATUSES, Run, read_run

__all__ = ["BLOCK_KEYS", "ManagerStore", "block_of"]

BLOCK_KEYS = (
    "reference",
    "experiment_name",
    "run_number",
    "timestamp",
    "commit",
    "params_files",
    "args",
    "full_store",
    "status",
    "cli",
    "hostname",
    "notes",
)
"""The keys of curifactory's metadata block, in its order (each block also has ``error``)."""

_WRITABLE = {"status": "status", "notes": "notes", "error": "error"}
_STATUSES = ("running", *FINAL_STATUSES)


def _stamp(started: str) -> str:
    # curifactory's timestamp format, the one in a run's reference
    return f"{started[:10]}-T{started[11:13]}{started[14:16]}{started[17:19]}"


def block_of(run: Run) -> dict[str, Any]:
    """The curifactory metadata block of a run.

    ``params_files`` and ``args`` are empty: sweepstack has no parameter files (the
    combinations come from ``sweep()``, and are in ``sweeps/``, not in a run).
    ``status`` is the run's own word: ``running``, ``complete``, ``error`` or
    ``interrupted`` (curifactory says ``incomplete`` for the first and last).
    """
    document = run.document
    argv = [str(a) for a in document.get("argv") or []]
    return {
        "reference": run.reference,
        "experiment_name": run.name,
        "run_number": run.number,
        "timestamp": _stamp(str(document.get("started", ""))),
        "commit": (document.get("git") or {}).get("commit") or "",
        "params_files": [],
        "args": {},
        "full_store": bool(document.get("store_full")),
        "status": run.status,
        "cli": shlex.join(argv),
        "hostname": str(document.get("host") or ""),
        "notes": document.get("notes") or "",
        "error": document.get("error"),
    }


class ManagerStore:
    """The runs of an experiment directory as curifactory's metadata blocks.

    Args:
        manager_cache_path: the experiment directory (an ArtifactManager's
            ``manager_cache_path``).

    Attributes:
        manager_cache_path: the experiment directory.
        path: the run registry it reads, ``DIR/runs`` (curifactory's ``store.json``).
        runs: the metadata blocks, by run number, as of the last :meth:`load`.

    >>> store = ManagerStore("results/pi")  # doctest: +SKIP
    >>> block = store.runs[-1]  # doctest: +SKIP
    >>> block["notes"] = "baseline"; store.save()  # doctest: +SKIP

    Raises:
        ExperimentNotFoundError: ``manager_cache_path`` is not an experiment directory.
    """

    def __init__(self, manager_cache_path: str | os.PathLike[str]) -> None:
        self._xd = ExperimentDir.open(manager_cache_path)
        self.manager_cache_path = self._xd.path
        self.path = self._xd.runs_dir
        self.runs: list[dict[str, Any]] = []
        self._loaded: dict[str, dict[str, Any]] = {}
        self.load()

    def load(self) -> None:
        """Read every run into :attr:`runs` (changes not saved are dropped).

        Unreadable run files are skipped with a
        :class:`~sweepstack.errors.CorruptEntryWarning`; ``sweepstack check`` lists them.
        """
        runs, errors = self._xd.runs()
        if errors:
            warnings.warn(
                f"skipped {len(errors)} unreadable run file(s): "
                + "; ".join(str(e.path) for e in errors[:3])
                + ". `sweepstack check DIR` lists them.",
                CorruptEntryWarning,
                stacklevel=2,
            )
        self.runs = [block_of(run) for run in runs]
        self._loaded = {b["reference"]: dict(b) for b in self.runs}

    def save(self) -> None:
        """Write back the ``status``, ``notes`` and ``error`` changed in :attr:`runs`.

        Each changed run file is rewritten atomically under ``DIR/runs/lock``, with the
        other entries of its document as they are on disk now; runs nobody changed are
        not written.

        Raises:
            StoreValueError: a block is not a stored run (add runs with
                :meth:`add_run`), an entry that identifies a run was changed, or a
                status is not ``running``, ``complete``, ``error`` or ``interrupted``.
            StoreWriteError: a run file cannot be written; it is unchanged.
        """
        pending: list[tuple[int, dict[str, Any]]] = []
        for block in self.runs:
            loaded = self._loaded.get(block.get("reference"))  # type: ignore[arg-type]
            if loaded is None:
                raise StoreValueError(
                    "run block",
                    str(block.get("reference")),
                    "a block of a stored run; register a new run with add_run(manager)",
                )
            changed = {k for k in set(loaded) | set(block) if block.get(k) != loaded.get(k)}
            fixed = sorted(changed - set(_WRITABLE))
            if fixed:
                raise StoreValueError(
                    "run block entry", fixed[0], "a change to " + ", ".join(sorted(_WRITABLE))
                )
            if "status" in changed and block["status"] not in _STATUSES:
                raise StoreValueError("run status", block["status"], ", ".join(_STATUSES))
            if changed:
                pending.append((loaded["run_number"], {_WRITABLE[k]: block[k] for k in changed}))
        if not pending:
            return
        with self._xd.runs_lock:
            for number, changes in pending:
                run = read_run(self.path, number)
                if run is not None:
                    run.update(**changes)
                    self._refresh(run)

    def _refresh(self, run: Run) -> dict[str, Any]:
        block = block_of(run)
        self._loaded[block["reference"]] = dict(block)
        for i, old in enumerate(self.runs):
            if old.get("reference") == block["reference"]:
                self.runs[i] = block
                break
        else:
            self.runs.append(block)
            self.runs.sort(key=lambda b: b["run_number"])
        return block

    def add_run(self, mngr: Any) -> dict[str, Any] | None:
        """The block of ``mngr``'s run, registering the run if it has none yet.

        An ArtifactManager registers its run when it is made, so this usually only
        returns its block (never a second run); a manager unpickled in another process
        gets a new run. A dry manager writes nothing: None.

        Raises:
            StoreValueError: ``mngr`` belongs to another experiment directory.
            StoreWriteError: ``runs/`` cannot be written.
        """
        if getattr(mngr, "dry", False):
            return None
        self._check_manager(mngr)
        with self._xd.runs_lock:
            run = getattr(mngr, "run", None)
            if run is None:
                run = self._xd.start_run(
                    mngr.experiment_name,
                    notes=mngr.notes,
                    store_full=mngr.store_full,
                    config=mngr.config,
                    extra={"live": True},
                )
                mngr.run = run
        return self._refresh(run)

    def update_run(self, mngr: Any) -> dict[str, Any] | None:
        """Write ``mngr``'s run status and error to the registry; return its block.

        None when the manager has no stored run (dry, or not found in ``runs/``).

        Raises:
            StoreValueError: ``mngr`` belongs to another experiment directory.
            StoreWriteError: the run file cannot be written.
        """
        run = getattr(mngr, "run", None)
        if run is None or getattr(mngr, "dry", False):
            return None
        self._check_manager(mngr)
        with self._xd.runs_lock:
            stored = read_run(self.path, run.number)
            if stored is None:
                return None
            changes = {
                k: run.get(k) for k in ("status", "error", "ended") if run.get(k) != stored.get(k)
            }
            if changes:
                stored.update(**changes)
        return self._refresh(stored)

    def get_run(self, ref_name: str) -> tuple[dict[str, Any] | None, int | None]:
        """``(block, index in runs)`` of the run with this reference, or ``(None, None)``."""
        for i, block in enumerate(self.runs):
            if block.get("reference") == ref_name:
                return block, i
        return None, None

    def get_experiment_runs(self, experiment_name: str) -> list[dict[str, Any]]:
        """Every block whose ``experiment_name`` is this name."""
        return [b for b in self.runs if b.get("experiment_name") == experiment_name]

    def _check_manager(self, mngr: Any) -> None:
        theirs = getattr(mngr, "manager_cache_path", None)
        if theirs is not None and os.path.abspath(theirs) != self.manager_cache_path:
            raise StoreValueError(
                "manager", str(theirs), f"a manager of the experiment at {self.manager_cache_path}"
            )

    def __repr__(self) -> str:
        return f"ManagerStore({self.manager_cache_path!r}, runs={len(self.runs)})"
