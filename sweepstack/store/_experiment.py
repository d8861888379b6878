"""The state objects a user queries: :func:`open` gives an :class:`Experiment`.

In MLtraq's model an experiment has an ``id_experiment``, a ``name``, persisted
``fields`` and its ``runs``; here it also has the records of its combinations and
their results table. Everything is read from the directory when asked for, so an
Experiment opened while a sweep runs shows the records written so far.
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Iterator
from typing import Any, Callable

from sweepstack._gc import gc_paused
from sweepstack.errors import (
    ArtifactCorruptError,
    CorruptEntryError,
    CorruptEntryWarning,
    FormatVersionError,
    SweepstackError,
    UnknownAttributeError,
    UnknownRunError,
)
from sweepstack.store._atomic import read_bytes, reason_of
from sweepstack.store._cache import ArtifactCache
from sweepstack.store._check import Problem, quarantine_file
from sweepstack.store._directory import ExperimentDir
from sweepstack.store._fields import FieldDict
from sweepstack.store._format import (
    CACHE_DIR,
    FIELDS_FILE,
    QUARANTINE_DIR,
    RECORD_LOG_DIR,
    RECORD_LOG_SUFFIX,
    RECORDS_DIR,
    RUNS_DIR,
    parse_fields,
    parse_log,
    parse_record,
)
from sweepstack.store._names import check_name
from sweepstack.store._results import (
    Results,
    attempt_rows,
    changed_fields,
    iter_documents,
    list_records,
    recent,
    row,
    scan,
)
from sweepstack.store._runs import Run

__all__ = ["Experiment", "open"]


def _warn_skipped(errors: list[CorruptEntryError], what: str) -> None:
    if errors:
        shown = "; ".join(str(e.path) for e in errors[:3]) + (" ..." if len(errors) > 3 else "")
        warnings.warn(
            f"skipped {len(errors)} unreadable {what}: {shown}. They are listed with their "
            "problem in experiment.results().errors.",
            CorruptEntryWarning,
            stacklevel=3,
        )


_notebook_view: Callable[[Experiment], str] | None = None


def set_notebook_view(render: Callable[[Experiment], str] | None) -> None:
    """Let a layer above the store (the report) render experiments in notebooks.

    ``sweepstack.report`` registers its overview (runs, progress of every sweeper) when it
    is imported, as ``import sweepstack`` does; without it a plain table is shown.
    """
    global _notebook_view
    _notebook_view = render


class Experiment:
    """An experiment directory as a user sees it.

    >>> exp = sweepstack.open("PiSweep_20261122_100003")  # doctest: +SKIP
    >>> exp.results().to_dataframe().groupby("estimator")["error"].mean()  # doctest: +SKIP

    Pickles without its store handle: the unpickled object has the same identity and
    fields, and reopens the directory at the same path when it next reads it.

    As MLtraq's experiments, it refuses attributes that are not part of its state
    (:class:`~sweepstack.errors.UnknownAttributeError`): persist a value in ``fields``.
    """

    _STATE = ("path", "id_experiment", "name", "engine", "created", "fields", "runs", "db")

    def __init__(self, directory: ExperimentDir) -> None:
        self._directory: ExperimentDir | None = directory
        self.path = directory.path
        self.id_experiment = directory.id_experiment
        self.name = directory.name
        self.engine = directory.engine
        self.created = directory.created
        self._fields: FieldDict | None = None

    def __setattr__(self, name: str, value: Any) -> None:
        if name.startswith("_") or name in self._STATE[:5]:
            object.__setattr__(self, name, value)
            return
        raise UnknownAttributeError("experiment", name, self._STATE)

    @property
    def directory(self) -> ExperimentDir:
        """The low-level handle (reopened after unpickling)."""
        if self._directory is None:
            self._directory = ExperimentDir.open(self.path)
        return self._directory

    @property
    def db(self) -> ExperimentDir:
        """MLtraq's database handler: here the experiment directory's store handle.

        As MLtraq's, it is discarded on pickling (and reopened when next used).
        """
        return self.directory

    # --- fields ----------------------------------------------------------------------------

    @property
    def fields(self) -> FieldDict:
        """The experiment's persisted fields: assigning one writes it at once.

        >>> exp.fields["dataset"] = "mnist-v2"  # doctest: +SKIP

        Raises:
            FieldValueError: on assignment of a value that is not a field value.
            StoreWriteError: on assignment, if ``fields.json`` cannot be written.
        """
        if self._fields is None:
            self._fields = FieldDict(self.directory.read_fields(), on_change=self._persist)
        return self._fields

    def _persist(self, name: str, value: Any) -> None:
        merged = self.directory.change_field(name, value)
        if self._fields is not None:
            # take other processes' fields too; the FieldDict then applies this change
            self._fields._replace_all(merged)

    # --- runs ------------------------------------------------------------------------------

    @property
    def runs(self) -> list[Run]:
        """Every run (engine session) of the experiment, by number.

        Unreadable run files are skipped with a :class:`~sweepstack.errors.CorruptEntryWarning`.
        """
        runs, errors = self.directory.runs()
        _warn_skipped(errors, "run files")
        return runs

    def run(self, number: int) -> Run | None:
        """The run with this number, or None."""
        return self.directory.run(number)

    # --- records and results ---------------------------------------------------------------

    def sweeps(self) -> list[str]:
        """Names of the sweeps that have records."""
        folder = os.path.join(self.path, RECORDS_DIR)
        try:
            names = os.listdir(folder)
        except FileNotFoundError:
            return []
        return sorted(
            n for n in names if not n.startswith(".") and os.path.isdir(os.path.join(folder, n))
        )

    def _sweep_names(self, sweep: str | None) -> list[str]:
        return self.sweeps() if sweep is None else [check_name("sweep name", sweep)]

    def record(self, key: str, sweep: str = "main") -> dict[str, Any] | None:
        """The whole record of combination ``key`` (its ``param_key``), or None.

        Raises:
            CorruptEntryError: the record file is unreadable.
        """
        return self.directory.read_record(sweep, key)

    def records(self, sweep: str | None = None) -> Iterator[dict[str, Any]]:
        """Every whole record (stages, outputs, traceback...), by sweep and key.

        Reads one file per record; :meth:`results` is much faster for a table.
        Unreadable records are skipped with a :class:`~sweepstack.errors.CorruptEntryWarning`
        once the iteration ends.
        """
        errors: list[CorruptEntryError] = []
        for name in self._sweep_names(sweep):
            yield from iter_documents(os.path.join(self.path, RECORDS_DIR, name), errors)
        _warn_skipped(errors, "records")

    def results(self, sweep: str | None = None, verify: bool = False) -> Results:
        """One flat dict per combination: params, fields, status, run, host, duration...

        Works while sweeps are running (it shows what is written so far). Unreadable
        entries are left out and listed in ``results.errors``. ``verify=True`` reads
        every record file instead of the index (slower; see ``docs/format.md``).

        >>> df = exp.results().to_dataframe()  # doctest: +SKIP
        """
        rows: list[dict[str, Any]] = []
        errors: list[CorruptEntryError] = []
        with gc_paused():
            for name in self._sweep_names(sweep):
                summaries, problems = scan(os.path.join(self.path, RECORDS_DIR, name), verify)
                made = [row(name, summary) for summary in summaries]
                outside = self.outside_space(name)
                for r in made if outside else ():
                    if r["key"] in outside:
                        r["in_space"] = False  # dropped from the space with --force: kept
                rows.extend(made)
                errors.extend(problems)
        return Results(rows, errors)

    def outside_space(self, sweep: str) -> set[str]:
        """Keys of ``sweep``'s done records that its parameter space no longer holds (a
        continuation with ``--force`` dropped them); their records are kept, and their
        rows in :meth:`results` have ``in_space`` False."""
        try:
            manifest = self.directory.read_manifest(sweep)
        except (SweepstackError, ValueError):
            return set()
        return set((manifest or {}).get("outside") or ())

    def history(self, sweep: str | None = None, failed: bool = False) -> Results:
        """One row per completed attempt of every combination, oldest first per combination.

        Recomputing a combination (``reset --done``, ``--overwrite``, an edited stage)
        keeps its earlier attempts in its record. A row is a :meth:`results` row of
        that attempt (its run, status, fields, times) plus ``written`` and a
        ``code.<stage>`` column per stage with the code fingerprint it ran or found
        cached. ``failed=True`` adds the failed attempts. Reads one file per record.

        >>> exp.history().to_dataframe().groupby("run")["error"].mean()  # doctest: +SKIP
        """
        statuses = frozenset({"done", "failed"} if failed else {"done"})
        rows: list[dict[str, Any]] = []
        errors: list[CorruptEntryError] = []
        with gc_paused():
            for name in self._sweep_names(sweep):
                for document in iter_documents(os.path.join(self.path, RECORDS_DIR, name), errors):
                    rows.extend(attempt_rows(name, document, statuses))
        return Results(rows, errors)

    def run_reference(self, run: int | str) -> str:
        """The reference of a run given by number (``3`` or ``"3"``) or by reference.

        Raises:
            UnknownRunError: no such run.
        """
        runs = self.runs
        for r in runs:
            if str(run) in (r.reference, str(r.number)):
                return r.reference
        raise UnknownRunError(str(run), self.path, [r.reference for r in runs])

    def compare(
        self, run_a: int | str, run_b: int | str, sweep: str | None = None
    ) -> tuple[Results, dict[str, int]]:
        """The fields that changed between two runs, combination by combination.

        Each combination done in both runs compares its last done attempt of each
        (MLflow's run comparison, per combination). A launch with ``--workers`` or a
        scheduler's launcher is one run: its workers' attempts count as its own, and
        naming one of its workers names the launch. Returns one row per changed field
        (``sweep``, ``key``, the params, ``field``, ``a``, ``b``) and counts of
        combinations: ``both``, ``only_a``, ``only_b``, ``changed``.

        Raises:
            UnknownRunError: a run is not in this experiment.

        >>> rows, counts = exp.compare(1, 2)  # doctest: +SKIP
        """
        runs = self.runs
        group = {r.reference: str(r.get("parent") or r.reference) for r in runs}
        a, b = (group.get(ref, ref) for ref in map(self.run_reference, (run_a, run_b)))
        errors: list[CorruptEntryError] = []

        def documents() -> Iterator[tuple[str, dict[str, Any]]]:
            for name in self._sweep_names(sweep):
                for document in iter_documents(os.path.join(self.path, RECORDS_DIR, name), errors):
                    yield name, document

        with gc_paused():
            rows, counts = changed_fields(documents(), a, b, group)
        return Results(rows, errors), counts

    def recent_results(self, seconds: float, sweep: str | None = None) -> Results:
        """Rows of the records that ended in the last ``seconds`` (by the writers' clocks).

        Read from the ends of the index logs, so the cost grows with recent activity
        only (``sweepstack status`` computes throughput per host from it). A record
        written twice in the window appears twice: rows are versions written, from
        the index (see ``docs/format.md``), not re-read from the record files.
        """
        since = time.time() - seconds
        rows: list[dict[str, Any]] = []
        for name in self._sweep_names(sweep):
            entries = recent(os.path.join(self.path, RECORDS_DIR, name), since)
            rows.extend(row(name, entry) for entry in entries)
        return Results(rows)

    # --- the artifact cache ----------------------------------------------------------------

    @property
    def cache(self) -> ArtifactCache:
        """The experiment's artifact cache (``DIR/cache``)."""
        return ArtifactCache(os.path.join(self.path, CACHE_DIR))

    def artifacts_in_use(self) -> set[str]:
        """Keys of every artifact a record refers to: stage outputs and inputs, reportables.

        Reads every record file.

        Raises:
            CorruptEntryError: a record is unreadable, so what it uses is unknown.
        """
        used: set[str] = set()
        errors: list[CorruptEntryError] = []
        for name in self.sweeps():
            for document in iter_documents(os.path.join(self.path, RECORDS_DIR, name), errors):
                _collect_keys(document.get("outputs"), used)
                for stage in document.get("stages") or ():
                    if isinstance(stage, dict):
                        _collect_keys(stage.get("outputs"), used)
                        _collect_keys(stage.get("inputs"), used)
                for entry in document.get("reportables") or ():
                    if isinstance(entry, dict) and isinstance(entry.get("key"), str):
                        used.add(entry["key"])
        if errors:
            raise errors[0]
        return used

    def unused_artifacts(self) -> list[str]:
        """Keys of the cached artifacts that no record refers to (see :meth:`artifacts_in_use`).

        They were made by stage code or parameters no longer in use, or by combinations
        whose record was never written (a run killed meanwhile, or still running: an
        artifact is published before its record). ``sweepstack cache --unused`` lists
        them and, with ``--clean``, removes those old enough.

        Raises:
            CorruptEntryError: a record is unreadable, so what it uses is unknown.
        """
        used = self.artifacts_in_use()
        return [key for key in self.cache.iter_artifacts() if key not in used]

    # --- verification ----------------------------------------------------------------------

    def check(self, repair: bool = False, artifacts: bool = True) -> list[Problem]:
        """Verify every record, run, index log and (with ``artifacts``) cached artifact.

        Records and runs must parse; artifacts must match their checksums, which reads
        all of their data. Works while sweeps run: files are replaced atomically, so a
        file is either whole or damaged from outside. With ``repair=True`` each damaged
        file is moved under ``DIR/quarantine/`` (never deleted) and the returned problem
        says where; a quarantined artifact is recomputed when next needed, and a
        quarantined record's combination must be returned to todo in its sweeper
        (``sweepstack check --repair`` does, with ``ParamSweeper.redo``). Records of a
        newer format are reported, never moved. The sweepers' own files are checked by
        :meth:`sweepstack.ParamSweeper.check`.

        >>> [str(p) for p in exp.check()]  # doctest: +SKIP
        ['record 83e2... of sweep main (.../83/83e2....json): not valid JSON (...)']

        Raises:
            StoreWriteError: with ``repair``, a file could not be moved.
        """
        quarantine = os.path.join(self.path, QUARANTINE_DIR)
        problems = self._check_records(repair, quarantine)
        problems += self._check_runs(repair, quarantine)
        problems += self._check_fields(repair, quarantine)
        if artifacts:
            problems += self._check_artifacts(repair)
        return problems

    def _check_records(self, repair: bool, quarantine: str) -> list[Problem]:
        problems: list[Problem] = []
        for name in self.sweeps():
            sweep_dir = os.path.join(self.path, RECORDS_DIR, name)
            for key, (_, path) in sorted(list_records(sweep_dir).items()):
                found = _record_problem(path, key)
                if found is None:
                    continue
                problem = Problem("record", path, found[0], key=key, sweep=name)
                if repair and found[1] and _record_problem(path, key) is None:
                    # its writer replaced it meanwhile (a retry): the new file is whole
                    problem = problem.fixed("replaced meanwhile by a readable record")
                elif repair and found[1]:
                    moved = quarantine_file(
                        path, os.path.join(quarantine, RECORDS_DIR, name), f"{key}.json"
                    )
                    if moved is not None:
                        problem = problem.fixed(f"moved to {moved}")
                problems.append(problem)
            problems += _check_index(sweep_dir, name, repair, quarantine)
        return problems

    def _check_runs(self, repair: bool, quarantine: str) -> list[Problem]:
        problems = []
        for error in self.directory.runs()[1]:
            problem = Problem("run", error.path, error.problem)
            if repair:
                moved = quarantine_file(error.path, os.path.join(quarantine, RUNS_DIR))
                if moved is not None:
                    problem = problem.fixed(f"moved to {moved}")
            problems.append(problem)
        return problems

    def _check_fields(self, repair: bool, quarantine: str) -> list[Problem]:
        path = os.path.join(self.path, FIELDS_FILE)
        try:
            parse_fields(path, read_bytes(path))
        except FileNotFoundError:
            return []
        except FormatVersionError as err:
            return [Problem("fields", path, str(err))]
        except (CorruptEntryError, OSError) as err:
            text = err.problem if isinstance(err, CorruptEntryError) else reason_of(err)
            problem = Problem("fields", path, text)
            if repair:
                moved = quarantine_file(path, quarantine)
                if moved is not None:
                    problem = problem.fixed(f"moved to {moved}; the experiment has no fields now")
            return [problem]
        return []

    def _check_artifacts(self, repair: bool) -> list[Problem]:
        cache = self.cache
        problems = []
        for error in cache.check():
            problem = Problem("artifact", error.path, error.problem, key=error.key)
            if repair:
                try:
                    cache.verify(error.key)  # replaced meanwhile (an --overwrite)?
                except ArtifactCorruptError:
                    moved = cache.quarantine(error.key)
                    if moved is not None:
                        problem = problem.fixed(f"moved to {moved}; recomputed when needed")
                else:
                    problem = problem.fixed("replaced meanwhile by a valid copy")
            problems.append(problem)
        return problems

    # --- notebooks -------------------------------------------------------------------------

    def _repr_html_(self) -> str:
        if _notebook_view is not None:
            return _notebook_view(self)
        from html import escape

        rows = {
            "experiment": self.name,
            "id_experiment": self.id_experiment,
            "directory": self.path,
            "sweeps": ", ".join(self.sweeps()) or "-",
        }
        body = "".join(f"<tr><th>{k}</th><td>{escape(str(v))}</td></tr>" for k, v in rows.items())
        return f"<table>{body}</table>"

    # --- pickling --------------------------------------------------------------------------

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_directory"] = None
        state["_fields"] = None if self._fields is None else self._fields.to_dict()
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        fields = state.pop("_fields")
        self.__dict__.update(state)
        self._fields = None if fields is None else FieldDict(fields, on_change=self._persist)

    def __repr__(self) -> str:
        return (
            f"Experiment({self.path!r}, name={self.name!r}, id_experiment={self.id_experiment!r})"
        )


def _collect_keys(value: Any, keys: set[str]) -> None:
    """Add the artifact keys in ``{name: key}`` (or ``{name: {member: key}}``) to ``keys``."""
    if isinstance(value, dict):
        for item in value.values():
            if isinstance(item, str):
                keys.add(item)
            elif isinstance(item, dict):
                _collect_keys(item, keys)


def _record_problem(path: str, key: str) -> tuple[str, bool] | None:
    """What is wrong with a record file, and whether moving it aside is a repair."""
    try:
        document = parse_record(path, read_bytes(path))
    except FileNotFoundError:
        return None  # replaced or removed since the listing
    except FormatVersionError as err:
        return str(err), False  # a newer sweepstack's: not damaged, never moved
    except CorruptEntryError as err:
        return err.problem, True
    except OSError as err:
        return f"cannot be read ({reason_of(err)})", False
    if document["key"] != key:
        return f"it holds the record of key {document['key']!r}", True
    return None


def _check_index(sweep_dir: str, sweep: str, repair: bool, quarantine: str) -> list[Problem]:
    """Index logs with damaged lines; a repair moves the whole log aside (it is only an index)."""
    folder = os.path.join(sweep_dir, RECORD_LOG_DIR)
    try:
        names = sorted(os.listdir(folder))
    except (FileNotFoundError, NotADirectoryError):
        return []
    problems = []
    for name in names:
        if not name.endswith(RECORD_LOG_SUFFIX) or name.startswith("."):
            continue
        path = os.path.join(folder, name)
        try:
            _, errors = parse_log(path, read_bytes(path))
        except FileNotFoundError:
            continue
        except FormatVersionError as err:
            problems.append(Problem("index", path, str(err), sweep=sweep))
            continue
        except OSError as err:
            problems.append(Problem("index", path, reason_of(err), sweep=sweep))
            continue
        if not errors:
            continue
        lines = ", ".join(e.path.rpartition("line ")[2] for e in errors[:5])
        more = " ..." if len(errors) > 5 else ""
        problem = Problem(
            "index", path, f"{len(errors)} damaged line(s) (line {lines}{more})", sweep=sweep
        )
        if repair:
            moved = quarantine_file(path, os.path.join(quarantine, RECORDS_DIR, sweep, "_log"))
            if moved is not None:
                problem = problem.fixed(f"moved to {moved}; results() reads the record files")
        problems.append(problem)
    return problems


def open(path: str | os.PathLike[str]) -> Experiment:
    """Open the experiment directory at ``path`` for reading (writing only its fields).

    >>> exp = sweepstack.open("results/pi")  # doctest: +SKIP
    >>> exp.id_experiment, len(exp.runs), len(exp.results())  # doctest: +SKIP

    Raises:
        ExperimentNotFoundError: ``path`` is not an experiment directory.
        FormatVersionError: it was written by a newer sweepstack.
    """
    return ExperimentDir.open(path).experiment()
