"""The experiment directory: :class:`ExperimentDir`, the handle every layer writes through.

Many processes on many hosts may create the same directory at once (``-c DIR`` given
to every node of a cluster job). Its identity is ``experiment.json``, published once
with ``link(2)``: whoever links first wins, every other process reads the winner's
file, so all of them agree on one ``id_experiment``. Until that file exists the folder
may only hold sweepstack's own names and temporary files; anything else means the user
pointed ``-c`` at a folder of theirs, which is refused rather than filled.
"""

from __future__ import annotations

import os
import stat
import uuid
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sweepstack.errors import (
    CorruptEntryError,
    ExperimentNotFoundError,
    NotAnExperimentError,
    StoreWriteError,
)
from sweepstack.store._atomic import (
    atomic_create,
    atomic_write,
    is_temp_name,
    read_bytes,
    reason_of,
)
from sweepstack.store._fields import DELETED
from sweepstack.store._format import (
    CACHE_DIR,
    ERR_SUFFIX,
    EXPERIMENT_FILE,
    FIELDS_FILE,
    FIELDS_LOCK,
    KNOWN_TOP_LEVEL,
    LIVE_REPORT_SUFFIX,
    LOG_SUFFIX,
    LOGS_DIR,
    MERGED_OUTPUT_FILE,
    OUT_SUFFIX,
    QUARANTINE_DIR,
    RECORDS_DIR,
    REPORT_FILE,
    REPORTS_DIR,
    RUNS_DIR,
    RUNS_LOCK,
    SHARED_CACHE_PREFIX,
    STDERR_FILE,
    STDOUT_FILE,
    SWEEPER_JOURNAL,
    SWEEPS_DIR,
    encode_experiment,
    encode_fields,
    encode_manifest,
    manifest_path,
    parse_experiment,
    parse_fields,
    parse_manifest,
    utc_now,
)
from sweepstack.store._locks import FileLock, file_lock
from sweepstack.store._names import check_name
from sweepstack.store._records import RecordStore
from sweepstack.store._runs import Run, read_run, read_runs, start_run

if TYPE_CHECKING:
    from sweepstack.store._experiment import Experiment

__all__ = ["ExperimentDir"]

_CREATED_FOLDERS = (RUNS_DIR, RECORDS_DIR, SWEEPS_DIR, CACHE_DIR, LOGS_DIR, REPORTS_DIR)


def _read_info(path: str) -> dict[str, Any] | None:
    """The parsed ``experiment.json`` of ``path``, or None if it has none."""
    file_path = os.path.join(path, EXPERIMENT_FILE)
    try:
        data = read_bytes(file_path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    return parse_experiment(file_path, data)


def _strangers(path: str) -> list[str]:
    """Names in ``path`` that sweepstack did not make."""
    try:
        names = os.listdir(path)
    except OSError as err:
        raise StoreWriteError(path, reason_of(err)) from err
    return [
        name
        for name in names
        if name not in KNOWN_TOP_LEVEL and not is_temp_name(name) and not name.startswith(".nfs")
    ]


def _make_folder(path: str) -> None:
    try:
        os.makedirs(path, exist_ok=True)
    except FileExistsError as err:
        raise StoreWriteError(
            path, "a file is in the way (a part of the path is a file, not a folder)"
        ) from err
    except OSError as err:
        raise StoreWriteError(path, reason_of(err)) from err


def _set_group_inherited(path: str) -> None:
    """Set the setgid bit of a new experiment folder: everything made below it is of its group.

    Without it, each member's files would belong to their own primary group and the
    others could not replace them. Which group may write is left to the folder's group
    and to each member's umask (docs/security.md). A folder we do not own keeps its mode.
    """
    try:
        st = os.stat(path)
        if st.st_uid == os.geteuid() and not st.st_mode & stat.S_ISGID:
            os.chmod(path, stat.S_IMODE(st.st_mode) | stat.S_ISGID)
    except OSError:
        pass  # a file system without setgid folders (some NFS exports): groups as they come


class ExperimentDir:
    """An experiment directory on disk: identity, runs, records, and the folders of others.

    Make one with :meth:`create_or_open` (the engine's ``-c DIR``) or :meth:`open`.
    Pickles as its path and identity (it crosses into worker processes).

    >>> xd = ExperimentDir.create_or_open("results/pi", engine="PiSweep")  # doctest: +SKIP
    >>> run = xd.start_run("PiSweep", argv=sys.argv)  # doctest: +SKIP
    >>> xd.write_record("main", key, {"params": {...}, "status": "done", ...})  # doctest: +SKIP
    """

    def __init__(self, path: str, info: Mapping[str, Any]) -> None:
        self.path = path
        self.id_experiment: str = info["id_experiment"]
        self.name: str = info["name"]
        self.engine: str | None = info["engine"]
        self.created: str = info["created"]
        self.format: int = info["format"]
        self._records = RecordStore(os.path.join(path, RECORDS_DIR))
        self._made: set[str] = set()

    # --- creating and opening -------------------------------------------------------------

    @classmethod
    def create_or_open(
        cls, path: str | os.PathLike[str], name: str | None = None, engine: str | None = None
    ) -> ExperimentDir:
        """Open the experiment at ``path``, creating it (and the folder) if needed.

        ``name`` (default: the folder's name) and ``engine`` are recorded at creation
        only. Safe to call from many processes and hosts at once.

        Raises:
            NotAnExperimentError: ``path`` holds files that are not sweepstack's.
            FormatVersionError: it was made by a newer sweepstack.
            CorruptEntryError: its ``experiment.json`` is unreadable.
            StoreWriteError: it cannot be created (permissions, full disk, a file in the way).
        """
        path = os.path.abspath(os.fspath(path))
        info = _read_info(path)
        if info is not None:
            return cls(path, info)
        _make_folder(path)
        strangers = _strangers(path)
        if strangers:
            info = _read_info(path)  # created meanwhile by another process
            if info is not None:
                return cls(path, info)
            raise NotAnExperimentError(path, strangers)
        _set_group_inherited(path)
        for folder in _CREATED_FOLDERS:
            _make_folder(os.path.join(path, folder))
        document = encode_experiment(
            str(uuid.uuid4()), name or os.path.basename(path), engine, utc_now()
        )
        atomic_create(os.path.join(path, EXPERIMENT_FILE), document)
        # created by this call or by a process that won the race: the same file either way
        info = _read_info(path)
        if info is None:  # pragma: no cover - removed right after creation
            raise ExperimentNotFoundError(path)
        return cls(path, info)

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> ExperimentDir:
        """Open an existing experiment; nothing is written.

        Raises:
            ExperimentNotFoundError: ``path`` has no ``experiment.json``.
            FormatVersionError: it was made by a newer sweepstack.
            CorruptEntryError: its ``experiment.json`` is unreadable.
        """
        path = os.path.abspath(os.fspath(path))
        info = _read_info(path)
        if info is None:
            raise ExperimentNotFoundError(path)
        return cls(path, info)

    # --- folders of the other layers -------------------------------------------------------

    def _folder(self, *parts: str) -> str:
        folder = os.path.join(self.path, *parts)
        if folder not in self._made:
            _make_folder(folder)
            self._made.add(folder)
        return folder

    def sweeper_dir(self, name: str) -> str:
        """``DIR/sweeps/<name>``, created if needed.

        Raises:
            StoreValueError: ``name`` cannot name a folder (``/``, a leading ``.``...).
            StoreWriteError: the folder cannot be created.
        """
        return self._folder(SWEEPS_DIR, check_name("sweeper name", name))

    def sweeper_dirs(self) -> dict[str, str]:
        """Every sweeper folder of the experiment, by name (nothing is created).

        The engine's sweepers are ``DIR/sweeps/<name>``; a script ported from
        execo_engine often keeps its one ParamSweeper in ``DIR/sweeps`` itself, which
        is listed under the name ``"sweeps"``.
        """
        folder = os.path.join(self.path, SWEEPS_DIR)
        found = {}
        if os.path.exists(os.path.join(folder, SWEEPER_JOURNAL)):
            found[SWEEPS_DIR] = folder
        try:
            names = sorted(os.listdir(folder))
        except (FileNotFoundError, NotADirectoryError):
            return found
        for name in names:
            path = os.path.join(folder, name)
            if not name.startswith(".") and os.path.exists(os.path.join(path, SWEEPER_JOURNAL)):
                found[name] = path
        return found

    @property
    def cache_dir(self) -> str:
        """``DIR/cache``, created if needed."""
        return self._folder(CACHE_DIR)

    @property
    def logs_dir(self) -> str:
        """``DIR/logs``, created if needed."""
        return self._folder(LOGS_DIR)

    def launcher_logs_dir(self, launcher: str) -> str:
        """``DIR/logs/<launcher>``: a scheduler's job scripts and task outputs (created)."""
        return self._folder(LOGS_DIR, check_name("launcher", launcher))

    @property
    def reports_dir(self) -> str:
        """``DIR/reports``, created if needed."""
        return self._folder(REPORTS_DIR)

    @property
    def quarantine_dir(self) -> str:
        """``DIR/quarantine`` (not created: a check that finds nothing makes no folder)."""
        return os.path.join(self.path, QUARANTINE_DIR)

    def quarantine_of(self, *parts: str) -> str:
        """Where ``check --repair`` puts damaged files of one part (``sweeps``, ``<name>``)."""
        return os.path.join(self.quarantine_dir, *(check_name("folder", p) for p in parts))

    def log_path(self, reference: str) -> str:
        """``DIR/logs/<run reference>.log``: the log file of one run (folder created)."""
        return os.path.join(self.logs_dir, check_name("run reference", reference) + LOG_SUFFIX)

    def output_paths(self, reference: str, per_run: bool, merge: bool) -> tuple[str, str]:
        """Where the engine's ``-L``/``-R`` options send stdout and stderr (folders created).

        ``per_run`` (worker processes): one pair per run under ``logs/``, never one
        file written by many processes; else ``DIR/stdout`` and ``DIR/stderr``, or one
        ``DIR/stdout+stderr`` with ``merge``.
        """
        if per_run:
            base = os.path.join(self.logs_dir, check_name("run reference", reference))
            return base + OUT_SUFFIX, base + (OUT_SUFFIX if merge else ERR_SUFFIX)
        if merge:
            merged = os.path.join(self.path, MERGED_OUTPUT_FILE)
            return merged, merged
        return os.path.join(self.path, STDOUT_FILE), os.path.join(self.path, STDERR_FILE)

    @property
    def report_path(self) -> str:
        """``DIR/reports/report.html``, the default report (folder created)."""
        return os.path.join(self.reports_dir, REPORT_FILE)

    @staticmethod
    def cache_path(path: str | os.PathLike[str]) -> str:
        """The cache folder of the experiment at ``path``, whether it exists or not."""
        return os.path.join(os.path.abspath(os.fspath(path)), CACHE_DIR)

    @staticmethod
    def shared_cache_path(path: str | os.PathLike[str], prefix: str) -> str:
        """``<parent of path>/cache-<prefix>``: a cache shared by the experiments next to
        ``path`` that use the same ``prefix``.

        Raises:
            StoreValueError: ``prefix`` cannot be part of a folder name.
        """
        folder = os.path.dirname(os.path.abspath(os.fspath(path)))
        return os.path.join(folder, SHARED_CACHE_PREFIX + check_name("cache prefix", prefix))

    @staticmethod
    def cache_quarantine_path(path: str | os.PathLike[str]) -> str:
        """Where the artifacts of the experiment at ``path`` that fail their checksum go."""
        return os.path.join(os.path.abspath(os.fspath(path)), QUARANTINE_DIR, CACHE_DIR)

    @staticmethod
    def sweeper_path(path: str | os.PathLike[str], name: str) -> str:
        """``<path>/sweeps/<name>``, whether it exists or not (nothing is created)."""
        return os.path.join(
            os.path.abspath(os.fspath(path)), SWEEPS_DIR, check_name("sweeper name", name)
        )

    # --- sweeper manifests -------------------------------------------------------------

    def read_manifest(self, name: str) -> dict[str, Any] | None:
        """The manifest of sweeper ``name`` (its parameter space and options), or None.

        Raises:
            CorruptEntryError: the manifest is unreadable.
            FormatVersionError: it was written by a newer sweepstack.
        """
        path = manifest_path(self.sweeper_path(self.path, name))
        try:
            return parse_manifest(path, read_bytes(path))
        except FileNotFoundError:
            return None

    def write_manifest(self, name: str, manifest: Mapping[str, Any]) -> None:
        """Replace the manifest of sweeper ``name`` (atomically).

        Raises:
            UnstorableValueError: a value is not JSON.
            StoreWriteError: it cannot be written.
        """
        path = manifest_path(self.sweeper_dir(name))
        atomic_write(path, encode_manifest(manifest))

    @property
    def runs_dir(self) -> str:
        """``DIR/runs`` (not created: reading must work on a read-only copy)."""
        return os.path.join(self.path, RUNS_DIR)

    @property
    def records_dir(self) -> str:
        """``DIR/records`` (not created)."""
        return os.path.join(self.path, RECORDS_DIR)

    @property
    def runs_lock(self) -> FileLock:
        """The inter-process lock ``DIR/runs/lock`` (re-entrant; created when taken).

        Numbering runs needs no lock (see :mod:`sweepstack.store._runs`); rewriting a
        run document takes this one, so that :class:`~sweepstack.store.ManagerStore`
        and a run's owner never undo each other's changes. ``ArtifactManager.lock()``
        takes it too.
        """
        return file_lock(os.path.join(self._folder(RUNS_DIR), RUNS_LOCK))

    def live_report_path(self, reference: str) -> str:
        """``DIR/reports/<reference>.html``, the report of a live run (folder created).

        Raises:
            StoreValueError: ``reference`` cannot name a file.
        """
        name = check_name("run reference", reference)
        return os.path.join(self.reports_dir, name + LIVE_REPORT_SUFFIX)

    # --- runs ----------------------------------------------------------------------------

    def start_run(
        self,
        name: str,
        argv: Sequence[str] | None = None,
        notes: str | None = None,
        store_full: bool = False,
        config: Mapping[str, Any] | None = None,
        parent: str | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> Run:
        """Register an engine session as a new run, with the next free run number.

        The document records the UTC start, host, pid, user, Python and platform,
        ``argv`` (default ``sys.argv``) and a reproduction line, the git commit, branch
        and dirty flag (and diff with ``store_full``, as well as the installed
        distributions), ``notes``, ``config`` (the engine's options that change
        results), ``parent`` (the reference of a launching run) and ``extra``.

        Raises:
            StoreValueError: ``name`` cannot be part of a file name.
            UnstorableValueError: ``config`` or ``extra`` holds a value that is not JSON.
            StoreWriteError: ``runs/`` cannot be written.
        """
        return start_run(
            self._folder(RUNS_DIR), name, argv, notes, store_full, config, parent, extra
        )

    def run(self, number: int) -> Run | None:
        """The run with this number, or None.

        Raises:
            CorruptEntryError: its file is unreadable.
        """
        return read_run(self.runs_dir, number)

    def runs(self) -> tuple[list[Run], list[CorruptEntryError]]:
        """Every readable run, by number, and the run files that could not be read."""
        return read_runs(self.runs_dir)

    # --- records -------------------------------------------------------------------------

    def write_record(self, sweep: str, key: str, document: Mapping[str, Any]) -> dict[str, Any]:
        """Store the record of combination ``key`` of ``sweep``; return what was stored.

        One file per key (``records/<sweep>/<kk>/<key>.json``), replaced atomically;
        ``attempt`` becomes the stored attempt + 1, ``written`` the time, ``host`` and
        ``pid`` are filled when missing. O(1) in the number of records.

        Raises:
            StoreValueError: ``sweep`` or ``key`` cannot name a file.
            UnstorableValueError: a value of ``document`` is not JSON (nothing is written).
            StoreWriteError: the record cannot be written; the previous one is intact.
        """
        return self._records.write(sweep, key, document)

    @property
    def record_store(self) -> RecordStore:
        """The records (``records/``): :meth:`RecordStore.prepare` a record, then
        :meth:`RecordStore.publish` it, or hand it to a sweeper with its done mark."""
        return self._records

    def read_record(self, sweep: str, key: str) -> dict[str, Any] | None:
        """The stored record of ``key`` in ``sweep``, or None.

        Raises:
            StoreValueError: ``sweep`` or ``key`` cannot name a file.
            CorruptEntryError: the record file is unreadable.
        """
        return self._records.read(sweep, key)

    def record_path(self, sweep: str, key: str) -> str:
        """Where the record of ``key`` in ``sweep`` is stored (whether it exists or not)."""
        return self._records.path(sweep, key)

    # --- experiment fields -----------------------------------------------------------------

    def read_fields(self) -> dict[str, Any]:
        """The experiment's persisted fields (empty if none were set).

        Raises:
            CorruptEntryError: ``fields.json`` is unreadable.
        """
        path = os.path.join(self.path, FIELDS_FILE)
        try:
            return parse_fields(path, read_bytes(path))
        except FileNotFoundError:
            return {}

    def change_field(self, name: str, value: Any) -> dict[str, Any]:
        """Set (or, with :data:`DELETED`, remove) one field; return all fields after it.

        The value must be valid already (see ``validate_field``). Other processes'
        changes to other fields are kept: the file is re-read and replaced under a lock.

        Raises:
            StoreWriteError: ``fields.json`` cannot be written.
        """
        with file_lock(os.path.join(self.path, FIELDS_LOCK)):
            try:
                fields = self.read_fields()
            except CorruptEntryError:
                fields = {}  # damaged from outside: rewriting it is the repair
            if value is DELETED:
                fields.pop(name, None)
            else:
                fields[name] = value
            atomic_write(os.path.join(self.path, FIELDS_FILE), encode_fields(fields))
        return fields

    # --- the user's view -------------------------------------------------------------------

    def experiment(self) -> Experiment:
        """The :class:`~sweepstack.store.Experiment` state object of this directory."""
        from sweepstack.store._experiment import Experiment

        return Experiment(self)

    def __getstate__(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "info": {
                "id_experiment": self.id_experiment,
                "name": self.name,
                "engine": self.engine,
                "created": self.created,
                "format": self.format,
            },
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["path"], state["info"])  # type: ignore[misc]

    def __repr__(self) -> str:
        return f"ExperimentDir({self.path!r}, id_experiment={self.id_experiment!r})"
