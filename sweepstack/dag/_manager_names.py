"""curifactory's documented ArtifactManager names, answered in sweepstack's terms.

:class:`~sweepstack.dag.ArtifactManager` inherits these. Each name keeps its
documented meaning mapped onto sweepstack's design: the run metadata come from the
manager's run document (``runs/<N>.json``), the paths from the experiment directory
the store lays out, the artifacts from the records' stage calls. A name that has no
meaning here (a notebook folder, a conda environment, a parallel-mode lock object)
answers what is true, None or an empty value, and its docstring says why.
"""

from __future__ import annotations

import datetime as _dt
import os as _os
import platform
import shlex
import sys
from typing import TYPE_CHECKING, Any

from sweepstack.errors import StoreValueError, UnknownOutputError

if TYPE_CHECKING:
    from sweepstack.dag._graph import DAG
    from sweepstack.dag._record import Record

__all__ = ["CurifactoryNames"]


def _started(run: Any) -> _dt.datetime | None:
    started = None if run is None else run.get("started")
    if not started:
        return None
    return _dt.datetime.strptime(started, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=_dt.timezone.utc)


class CurifactoryNames:
    """The documented names of curifactory's ArtifactManager (a mixin)."""

    # set by ArtifactManager.__init__
    experiment_name: str
    path: str
    dry: bool
    prefix: str | None
    store_full: bool
    overwrite: Any
    records: list[Record]
    xd: Any
    run: Any
    cache: Any

    # --- curifactory's constructor options -------------------------------------------

    _LAYOUT_OPTIONS = (
        "runs_path",
        "logs_path",
        "reports_path",
        "notebooks_path",
        "report_css_path",
    )
    _QUIET_OPTIONS = (
        "status_override",
        "suppress_live_log",
        "live_log_debug",
        "disable_non_cf_loggers",
    )

    def _take_curifactory_options(self, path: Any, options: dict[str, Any]) -> Any:
        """Apply curifactory's constructor options; return the experiment path to use.

        ``manager_cache_path`` names the experiment directory (as ``path``);
        ``run_line`` is stored as the run's command line; ``parallel_lock`` is taken by
        :meth:`lock` too, and ``parallel_mode`` is kept. The logging options
        (``status_override``, ``suppress_live_log``, ``live_log_debug``,
        ``disable_non_cf_loggers``) change nothing: a manager starts no logger. The
        folders (``runs_path``, ``logs_path``, ``reports_path``, ``notebooks_path``,
        ``report_css_path``) are laid out by the experiment directory, so a value is
        refused.
        """
        unknown = sorted(
            set(options)
            - {"manager_cache_path", "run_line", "parallel_lock", "parallel_mode"}
            - set(self._LAYOUT_OPTIONS)
            - set(self._QUIET_OPTIONS)
        )
        if unknown:
            raise TypeError(f"ArtifactManager() got an unexpected keyword argument {unknown[0]!r}")
        for name in self._LAYOUT_OPTIONS:
            if options.get(name) is not None:
                raise StoreValueError(
                    name,
                    options[name],
                    "None: the experiment directory lays out runs/, logs/ and reports/ "
                    "itself; choose the directory with path= (or manager_cache_path=)",
                )
        chosen = options.get("manager_cache_path")
        if chosen is not None:
            if path is not None and _os.path.abspath(_os.fspath(path)) != _os.path.abspath(
                _os.fspath(chosen)
            ):
                raise StoreValueError(
                    "manager_cache_path", chosen, f"the same directory as path={path!r}, or no path"
                )
            path = chosen
        run_line = options.get("run_line")
        self.__dict__["_argv"] = shlex.split(run_line) if run_line else None
        self.__dict__["_parallel_lock"] = options.get("parallel_lock")
        self.__dict__["_parallel_mode"] = bool(options.get("parallel_mode", False))
        return path

    # --- paths, in the experiment directory's layout ---------------------------------------

    @property
    def cache_path(self) -> str | None:
        """The folder of the artifacts: the experiment's cache, the shared ``prefix``
        cache, or the ``cache_path`` given. None for a dry manager of a directory that
        does not exist yet (nothing is cached there)."""
        if self.cache is not None:
            return str(self.cache.root)
        return self.__dict__.get("_cache_path_arg")

    @cache_path.setter
    def cache_path(self, value: str | None) -> None:
        self.__dict__["_cache_path_arg"] = value

    @property
    def manager_cache_path(self) -> str:
        """The experiment directory: where the run registry (``runs/``) and the records
        live, curifactory's parameter registry and ``store.json``."""
        return self.path

    @property
    def runs_path(self) -> str | None:
        """The run registry, ``DIR/runs``: a ``--store-full`` run keeps its environment
        in its document there. None in a dry manager (nothing is written)."""
        return None if self.xd is None or self.dry else str(self.xd.runs_dir)

    @property
    def logs_path(self) -> str | None:
        """``DIR/logs``. None in a dry manager (no folder is made)."""
        return None if self.xd is None or self.dry else str(self.xd.logs_dir)

    @property
    def reports_path(self) -> str | None:
        """``DIR/reports``, where :meth:`generate_report` writes. None in a dry manager."""
        return None if self.xd is None or self.dry else str(self.xd.reports_dir)

    @property
    def notebooks_path(self) -> None:
        """None: sweepstack writes no notebooks; records display inline in Jupyter."""
        return None

    @property
    def report_css_path(self) -> None:
        """None: reports are self-contained HTML with their own style, no CSS file."""
        return None

    @property
    def live_report_path_generated(self) -> bool:
        """False: inline displays embed their figures, so no report folder is needed."""
        return False

    def get_artifact_filename(
        self,
        obj_name: str,
        record: Record,
        prefix: str | None = None,
        stage_name: str | None = None,
    ) -> str:
        """The artifact's folder relative to its cache folder: ``<kk>/<artifact key>``.

        An artifact is named by its key (stage, code, declared params, input keys),
        not by the experiment name; ``prefix`` chooses a cache folder, so it does not
        change this name. ``stage_name`` (default: the stage running now, else the
        last stage that output ``obj_name``) picks among several producers.

        Raises:
            UnknownOutputError: no such stage output on ``record``.
        """
        from sweepstack.store._cache import ArtifactCache

        return ArtifactCache.relative_path(self._artifact_key(obj_name, record, stage_name))

    def get_artifact_path(
        self,
        obj_name: str,
        record: Record,
        subdir: str | None = None,
        prefix: str | None = None,
        stage_name: str | None = None,
        store: bool = False,
    ) -> str | None:
        """The folder of a record's artifact in the cache (whether written yet or not).

        ``prefix`` answers for the cache shared under that prefix (see
        ``ArtifactManager(prefix=...)``). ``store=True`` gives the same path: a
        ``--store-full`` run keeps no copy of the cache. None when the manager has no
        cache (dry, for a directory that does not exist yet).

        >>> manager.get_artifact_path("points", record)  # doctest: +SKIP
        '.../pi/cache/3f/3f2a9c...'

        Raises:
            UnknownOutputError: no such stage output on ``record``.
            StoreValueError: ``subdir`` was given (artifacts live by key, a cacher writes
                inside the folder) or ``prefix`` cannot name a folder.
        """
        from sweepstack.store import ArtifactCache, ExperimentDir

        if subdir is not None:
            raise StoreValueError(
                "artifact subdir",
                subdir,
                "None: an artifact is the folder <cache>/<kk>/<key>; a cacher may make "
                "sub-folders inside it",
            )
        key = self._artifact_key(obj_name, record, stage_name)
        root = (
            ExperimentDir.shared_cache_path(self.path, prefix)
            if prefix is not None
            else self.cache_path
        )
        return None if root is None else ArtifactCache(root).path(key)

    def _artifact_key(self, obj_name: str, record: Record, stage_name: str | None) -> str:
        active = record._active
        if stage_name is None and active is not None and obj_name in active.stage.outputs:
            return str(active.key_of(obj_name))
        producers = [
            c
            for c in record._calls
            if obj_name in getattr(c.stage, "outputs", ())
            and (stage_name is None or c.stage.name == stage_name)
        ]
        if not producers:
            outputs = tuple(sorted(record._producers))
            raise UnknownOutputError(record.key[:12], obj_name, outputs, stage_name)
        return str(producers[-1].key_of(obj_name))

    def get_run_output_path(self, obj_name: str | None = None) -> None:
        """None: a ``--store-full`` run has no folder of its own here; its environment is
        in its run document (``runs_path``) and its artifacts stay in the cache."""
        return None

    # --- the run, from its document in the registry --------------------------------------

    def _run_entry(self, name: str, default: Any = None) -> Any:
        return default if self.run is None else self.run.get(name, default)

    @property
    def stored(self) -> bool:
        """True once the run is in the registry (at construction, unless dry)."""
        return self.run is not None

    @property
    def run_info(self) -> dict[str, Any] | None:
        """The run's metadata block, as :class:`~sweepstack.store.ManagerStore` shows it
        (None in a dry manager, which registers no run)."""
        from sweepstack.store._manager_store import block_of

        return None if self.run is None else block_of(self.run)

    @property
    def experiment_run_number(self) -> int | None:
        """The run number, unique in the experiment across hosts (None when dry)."""
        return None if self.run is None else int(self.run.number)

    def get_reference_name(self) -> str | None:
        """``[experiment_name]_[run_number]_[timestamp]`` (None when dry)."""
        return None if self.run is None else str(self.run.reference)

    @property
    def run_timestamp(self) -> _dt.datetime | None:
        """When the run started, in UTC (None when dry)."""
        return _started(self.run)

    def get_str_timestamp(self) -> str | None:
        """The run's start as in its reference: ``2026-11-22-T100003`` (None when dry)."""
        started = self.run_timestamp
        return None if started is None else started.strftime("%Y-%m-%d-T%H%M%S")

    @property
    def status(self) -> str | None:
        """``running``, ``complete``, ``error`` or ``interrupted`` (None when dry).

        curifactory says ``incomplete`` for a run not finished, and ``LIVE`` for a
        manager outside an experiment script; here every manager is live, and its run
        is ``running`` until :meth:`finish` (or the interpreter's exit) closes it.
        """
        return None if self.run is None else str(self.run.status)

    @property
    def error(self) -> str | None:
        """``"ExceptionType: message"`` of the first failure: the run's error as stored
        by :meth:`finish`, else the first record's failed stage. None without one."""
        stored = self._run_entry("error")
        if stored:
            lines = [line for line in str(stored).strip().splitlines() if line.strip()]
            return lines[-1] if lines else str(stored)
        for record in self.records:
            if record.exception is not None:
                err = record.exception
                return f"{type(err).__name__}: {err}"
        return None

    @property
    def error_thrown(self) -> bool:
        """True if a stage of a record, or the run, failed."""
        return self.error is not None

    @property
    def run_line(self) -> str:
        """The command line of the process that made the manager."""
        argv = self._run_entry("argv")
        return shlex.join(str(a) for a in (sys.argv if argv is None else argv))

    @property
    def reproduction_line(self) -> str | None:
        """The command that reruns this (working folder, interpreter, arguments), as
        stored with the run; None when dry."""
        return self._run_entry("reproduce")

    @property
    def hostname(self) -> str:
        """The host the run started on."""
        return str(self._run_entry("host") or platform.node())

    @property
    def git_commit_hash(self) -> str | None:
        """The commit of the script's repository at the start (None outside git, or dry)."""
        return (self._run_entry("git") or {}).get("commit")

    @property
    def git_workdir_dirty(self) -> bool | None:
        """True when the repository had uncommitted changes (None outside git, or dry)."""
        return (self._run_entry("git") or {}).get("dirty")

    @property
    def pip_freeze(self) -> str | None:
        """``name==version`` lines of the installed distributions, recorded on
        ``store_full`` (None otherwise)."""
        found = self._run_entry("distributions")
        if found is None:
            return None
        return "".join(f"{name}=={version}\n" for name, version in found.items())

    @property
    def conda_env(self) -> None:
        """None: sweepstack records the pip distributions (:attr:`pip_freeze`), not conda."""
        return None

    @property
    def os(self) -> str:
        """The operating system's name (``Linux``, ``Darwin``, ``Windows``)."""
        return platform.system()

    @property
    def interactive(self) -> bool:
        """True in an interactive interpreter or a Jupyter kernel."""
        return bool(hasattr(sys, "ps1") or sys.flags.interactive or "ipykernel" in sys.modules)

    def write_run_env_output(self) -> str | None:
        """Make sure the run's document holds the environment (installed distributions,
        git diff); return the document's path. A ``store_full`` run records it when it
        starts; None when there is no run or it is not ``store_full``.

        Raises:
            StoreWriteError: the run document cannot be rewritten.
        """
        if self.run is None or not self.store_full:
            return None
        if self.run.get("distributions") is None:
            from sweepstack.store._environment import distributions

            self.run.update(distributions=distributions())
        return str(self.run.path)

    # --- parameters ---------------------------------------------------------------------

    def get_all_param_sets(self) -> list[dict[str, Any]]:
        """The params of every record of the manager, in order."""
        return [dict(record._params) for record in self.records]

    @property
    def parameter_files(self) -> list[str]:
        """Empty: parameter spaces come from ``sweep()`` and records' params, not files."""
        return []

    @property
    def param_file_param_sets(self) -> dict[str, list[list[str]]]:
        """Empty: no parameter files (see :attr:`parameter_files`)."""
        return {}

    @property
    def overwrite_stages(self) -> list[str]:
        """The stage names given in ``overwrite`` (empty when None or True)."""
        overwrite = self.overwrite
        if isinstance(overwrite, str):
            return [overwrite]
        if overwrite is None or isinstance(overwrite, bool):
            return []
        return sorted(overwrite)

    # --- processes and locking ------------------------------------------------------------

    @property
    def parallel_lock(self) -> Any:
        """The ``parallel_lock`` given, else None: processes and hosts exclude each
        other with file locks the store takes (see :meth:`lock`), so none is needed."""
        return self.__dict__.get("_parallel_lock")

    @property
    def parallel_mode(self) -> bool:
        """The ``parallel_mode`` given, else False: the manager runs its records in this
        process (the engine's ``--workers`` runs combinations in worker processes)."""
        return bool(self.__dict__.get("_parallel_mode", False))

    def lock(self) -> None:
        """Take the experiment's run-registry lock (``DIR/runs/lock``), which every
        :class:`~sweepstack.store.ManagerStore` save, add_run and update_run takes: the
        read-modify-write that curifactory's lock guarded. Re-entrant; a no-op when dry
        (nothing is written). Pair with :meth:`unlock`.
        """
        lock = self.parallel_lock
        if lock is not None:
            lock.acquire()
        if self.xd is not None and not self.dry:
            self.xd.runs_lock.acquire()

    def unlock(self) -> None:
        """Release what :meth:`lock` took.

        Raises:
            RuntimeError: this thread does not hold the lock.
        """
        if self.xd is not None and not self.dry:
            self.xd.runs_lock.release()
        lock = self.parallel_lock
        if lock is not None:
            lock.release()

    # --- stages, artifacts and the map ------------------------------------------------

    @property
    def current_stage_name(self) -> str | None:
        """The stage running now on one of the manager's records, or None."""
        for record in self.records:
            if record._active is not None:
                return str(record._active.stage.name)
        return None

    @property
    def stage_active(self) -> bool:
        """True while a stage runs (a stage calling another is refused)."""
        return self.current_stage_name is not None

    @property
    def artifacts(self) -> list[dict[str, Any]]:
        """One entry per artifact a record has or can load: ``record`` (index), ``stage``,
        ``name``, ``key`` and ``path`` (None without a cache)."""
        found = []
        for index, record in enumerate(self.records):
            for name, key in record.outputs().items():
                producer = record._producers.get(name)
                found.append(
                    {
                        "record": index,
                        "stage": getattr(getattr(producer, "stage", None), "name", None),
                        "name": name,
                        "key": key,
                        "path": None if self.cache is None else self.cache.path(key),
                    }
                )
        return found

    @property
    def map_mode(self) -> bool:
        """True while :meth:`map_records` maps, and always in a dry manager: stages are
        planned, never run."""
        return bool(self.dry or self.__dict__.get("_map_mode", False))

    @property
    def mapped_artifacts(self) -> list[dict[str, Any]]:
        """The artifacts found by the last :meth:`map_records` (see ``DAG.artifacts``)."""
        return list(self.__dict__.get("_mapped_artifacts", []))

    def map_records(self) -> DAG:
        """Map every record: which stage runs, which is cached, and why; nothing runs
        and nothing is written. Sets :attr:`mapped_artifacts`; returns the DAG."""
        from sweepstack.dag._graph import DAG

        self.__dict__["_map_mode"] = True
        try:
            dag = DAG(self.records)
        finally:
            self.__dict__["_map_mode"] = False
        self.__dict__["_mapped_artifacts"] = dag.artifacts
        return dag

    def update_map_progress(self, record: Record, update_type: str = "") -> None:
        """Nothing: mapping here reads only cache metadata and shows no progress bar."""
        return None

    # --- reportables and the report -----------------------------------------------------

    def get_grouped_reportables(self) -> dict[str, list[dict[str, Any]]]:
        """``{group: [reportable entry, ...]}`` over every record."""
        groups: dict[str, list[dict[str, Any]]] = {}
        for record in self.records:
            for entry in record.reportables:
                if entry.get("group"):
                    groups.setdefault(entry["group"], []).append(entry)
        return groups

    def get_ungrouped_reportables(self) -> list[dict[str, Any]]:
        """The reportable entries without a group, over every record."""
        return [e for r in self.records for e in r.reportables if not e.get("group")]

    def display_reportable(self, reportable: Any) -> Any:
        """One reportable (its entry, or a ``(record, entry)`` pair) as HTML."""
        from sweepstack.dag._display import reportable_bytes, reportable_html
        from sweepstack.dag._manager import HTML

        if isinstance(reportable, tuple):
            record, entry = reportable
        else:
            entry = reportable
            record = next((r for r in self.records if entry in r.reportables), None)
        data = None if record is None else reportable_bytes(record, entry)
        return HTML(reportable_html(entry, data))

    def generate_report(self) -> str | None:
        """Write the run's report (info, stage graph, every reportable) to
        ``DIR/reports/<run reference>.html``, atomically; return its path (None when dry).

        Raises:
            StoreWriteError: the report cannot be written.
        """
        if self.run is None or self.xd is None or self.dry:
            return None
        from html import escape

        from sweepstack.store._atomic import atomic_write

        parts = [
            f"<h1>{escape(self.experiment_name)}: {escape(self.run.reference)}</h1>",
            str(self.display_info()),  # type: ignore[attr-defined]
            "<h2>Stages</h2>",
            str(self.display_stage_graph()),  # type: ignore[attr-defined]
            "<h2>Reportables</h2>",
            str(self.display_all_reportables()),  # type: ignore[attr-defined]
        ]
        page = '<!doctype html><html><head><meta charset="utf-8"></head><body>'
        page += "".join(parts) + "</body></html>"
        path = str(self.xd.live_report_path(self.run.reference))
        atomic_write(path, page)
        return path
