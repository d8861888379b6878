"""ArtifactManager: records, cached stages and a live run without an Engine.

For a notebook or a plain script: the manager opens (or creates) an experiment
directory, registers a run in its registry, makes :class:`Record` objects from
parameter dicts with its options, and runs stages with the same cache, keys and DAG
rules as the engine. Records, reportables and the stage graph display inline in
Jupyter.

Differences from curifactory's manager of the same name: ``dry`` means what ``--dry``
means everywhere in sweepstack (map only: nothing runs, nothing is written), and
``prefix`` names a cache folder shared by the experiments next to this one.
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Iterable, Mapping
from typing import Any

from sweepstack.dag._graph import DAG
from sweepstack.dag._manager_names import CurifactoryNames
from sweepstack.dag._record import Record, RecordOptions, WithOptions
from sweepstack.dag._result import prepare_result, result_status
from sweepstack.errors import ExperimentNotFoundError
from sweepstack.store import ArtifactCache, ExperimentDir

__all__ = ["ArtifactManager"]


class HTML(str):
    """HTML text that Jupyter renders (without importing IPython)."""

    def _repr_html_(self) -> str:
        return str(self)


def _finish(run: Any) -> None:
    try:
        if run.status == "running":
            run.finish("complete")
    except Exception:  # at interpreter exit, the file system may already be gone
        pass


class ArtifactManager(CurifactoryNames, WithOptions):
    """Cached stages in a notebook or script, with a live run in an experiment directory.

    Args:
        experiment_name: the experiment's name, also the run name.
        path: the experiment directory (default: ``experiment_name`` in the working
            directory); created when missing.
        store_full: keep stage sources, and the environment in the run (``--store-full``).
        dry: map only: nothing runs, nothing is written, no run is registered.
        dry_cache: run stages without reading or writing the cache.
        prefix: share a cache with every experiment next to this one using the same
            prefix: ``<parent of path>/cache-<prefix>``.
        lazy: keep every output out of memory once cached.
        ignore_lazy: keep every output in memory, even those declared ``Lazy``.
        notes: a note stored with the run.
        cache_path: a cache folder of your choice (wins over ``prefix``).
        overwrite: True, or stage names: recompute them and what is downstream.
        eager: run stages as soon as they are called.
        config: fixed options stages may declare and read (``record.config``).
        sweep: the name under which records are stored (``records/<sweep>/``).
        curifactory_options: curifactory's other options, ``manager_cache_path`` (the
            directory, as ``path``), ``run_line``, ``parallel_lock``, ``parallel_mode``
            and the logging ones (see ``CurifactoryNames._take_curifactory_options``).

    Every documented name of curifactory's manager (``get_artifact_path``,
    ``run_info``, ``lock``, ``map_records``...) answers in sweepstack's terms: see
    :class:`~sweepstack.dag._manager_names.CurifactoryNames`.

    >>> manager = ArtifactManager("pi", path="results/pi")  # doctest: +SKIP
    >>> record = estimate(draw(manager.record({"n": 1000, "seed": 0, "estimator": "plain"})))  # doctest: +SKIP
    >>> record.state["pi"]  # doctest: +SKIP
    3.128
    >>> manager.map()  # the stage graph, inline  # doctest: +SKIP

    Raises:
        NotAnExperimentError: ``path`` holds files that are not an experiment.
        StoreWriteError: the directory cannot be created.
    """

    def __init__(
        self,
        experiment_name: str = "live",
        path: str | os.PathLike[str] | None = None,
        *,
        store_full: bool = False,
        dry: bool = False,
        dry_cache: bool = False,
        prefix: str | None = None,
        lazy: bool = False,
        ignore_lazy: bool = False,
        notes: str | None = None,
        cache_path: str | os.PathLike[str] | None = None,
        overwrite: Any = None,
        eager: bool = False,
        config: Mapping[str, Any] | None = None,
        sweep: str = "live",
        **curifactory_options: Any,
    ) -> None:
        path = self._take_curifactory_options(path, curifactory_options)
        self.experiment_name = experiment_name
        self.path = os.path.abspath(os.fspath(path if path is not None else experiment_name))
        self.options = RecordOptions(
            overwrite=overwrite,
            dry=dry,
            dry_cache=dry_cache,
            eager=eager,
            store_full=store_full,
            lazy=lazy,
            ignore_lazy=ignore_lazy,
        )
        self.prefix = prefix
        self.notes = notes
        self.cache_path = None if cache_path is None else os.path.abspath(os.fspath(cache_path))
        self.config = dict(config or {})
        self.sweep = sweep
        self.records: list[Record] = []
        # id(record) -> its document as last stored: store() writes a record again only
        # when it changed (resolve() then finish() writes each record once)
        self._written: dict[int, Any] = {}
        self.xd: Any = None
        self.run: Any = None
        self.cache: Any = None
        self._open(start_run=not dry)

    # --- the store ------------------------------------------------------------------

    def _cache_root(self) -> str | None:
        if self.cache_path is not None:
            return self.cache_path
        if self.prefix is not None:
            return ExperimentDir.shared_cache_path(self.path, self.prefix)
        if self.xd is None:
            return None
        return ExperimentDir.cache_path(self.xd.path) if self.dry else self.xd.cache_dir

    def _open(self, start_run: bool) -> None:
        if self.dry:
            try:  # plan against an existing cache, but create nothing
                self.xd = ExperimentDir.open(self.path)
            except ExperimentNotFoundError:
                self.xd = None
        else:
            self.xd = ExperimentDir.create_or_open(
                self.path, name=self.experiment_name, engine=type(self).__name__
            )
        root = self._cache_root()
        quarantine = ExperimentDir.cache_quarantine_path(self.path)
        self.cache = None if root is None else ArtifactCache(root, quarantine)
        if start_run:
            self.run = self.xd.start_run(
                self.experiment_name,
                argv=self.__dict__.get("_argv"),
                notes=self.notes,
                store_full=self.store_full,
                config=self.config,
                extra={"live": True},
            )
            weakref.finalize(self, _finish, self.run)
        for record in self.records:
            record.attach(self.cache)

    @property
    def id_run(self) -> str | None:
        """The reference of this manager's run (None in a dry manager)."""
        return None if self.run is None else str(self.run.reference)

    def attach(self) -> ArtifactManager:
        """Reopen the directory and cache after unpickling (no new run); return self."""
        self._open(start_run=False)
        return self

    # --- records --------------------------------------------------------------------

    def record(self, params: Mapping[str, Any] | None = None, **factors: Any) -> Record:
        """A new record of this manager for ``params`` (and/or keyword factors).

        >>> manager.record({"n": 100}, seed=0).params  # doctest: +SKIP
        {'n': 100, 'seed': 0}

        Raises:
            UnkeyableValueError: a value has no stable key.
        """
        combination = {**(params or {}), **factors}
        record = Record(
            combination,
            id_run=self.id_run,
            config=self.config,
            cache=self.cache,
            options=self.options,
            id_experiment=None if self.xd is None else self.xd.id_experiment,
        )
        record._all_records = lambda: list(self.records)
        self.records.append(record)
        return record

    def resolve(self) -> ArtifactManager:
        """Resolve every record, then store their documents; return self.

        Raises:
            Exception: the first stage failure (every record is still stored).
        """
        first_error: BaseException | None = None
        # aggregates first, the latest first: a member stage that only feeds an
        # aggregate found cached is then passed over, as the map predicts
        aggregating = [r for r in self.records if any(c.stage.is_aggregate for c in r._calls)]
        rest = [r for r in self.records if not any(r is a for a in aggregating)]
        for record in aggregating[::-1] + rest:
            try:
                record.resolve()
            except Exception as err:
                first_error = first_error or err
        self.store()
        if first_error is not None:
            raise first_error
        return self

    def store(self, records: Iterable[Record] | None = None) -> None:
        """Write the documents of resolved (or failed) records to ``records/<sweep>/``."""
        if self.xd is None or self.dry:
            return
        for record in self.records if records is None else records:
            status = result_status(record)  # a record with fields and no stage is done
            if status is None:
                continue  # not resolved yet
            stored = (status, record.to_document())
            if self._written.get(id(record)) == stored:
                continue
            # a record whose stages were all cache hits and that changed nothing is
            # not written again (a cached rerun writes no record)
            text = prepare_result(self.xd, self.sweep, record, status, self.id_run)
            if text is not None:
                self.xd.record_store.publish(text, fsync=True)
            self._written[id(record)] = stored

    def finish(self, status: str = "complete", error: BaseException | str | None = None) -> None:
        """Store the records and close the run (``complete``, ``error`` or ``interrupted``)."""
        self.store()
        if self.run is not None and self.run.status == "running":
            self.run.finish(status, error)

    def __enter__(self) -> ArtifactManager:
        return self

    def __exit__(self, kind: Any, error: Any, tb: Any) -> None:
        if error is None:
            self.finish("complete")
        elif isinstance(error, KeyboardInterrupt):
            self.finish("interrupted", error)
        else:
            self.finish("error", error)

    # --- the graph and displays -------------------------------------------------------

    def map(self) -> DAG:
        """The experiment map of every record (what runs, what is cached, why)."""
        return DAG(self.records)

    def print_map(self, console: Any = None) -> None:
        """Print the experiment map (a rich tree)."""
        self.map().print_map(console)

    @property
    def reportables(self) -> list[tuple[Record, dict[str, Any]]]:
        """Every ``(record, reportable entry)`` of the manager's records."""
        return [(r, e) for r in self.records for e in r.reportables]

    def display_info(self) -> HTML:
        """The experiment, run and options as HTML."""
        from html import escape

        rows = {
            "experiment": self.experiment_name,
            "directory": self.path,
            "run": self.id_run or "(dry: no run)",
            "cache": None if self.cache is None else self.cache.root,
            "records": len(self.records),
            "options": ", ".join(
                name
                for name in ("dry", "dry_cache", "lazy", "ignore_lazy", "eager", "store_full")
                if getattr(self, name)
            )
            or "-",
            "notes": self.notes or "",
        }
        body = "".join(f"<tr><th>{k}</th><td>{escape(str(v))}</td></tr>" for k, v in rows.items())
        return HTML(f"<table>{body}</table>")

    def display_record(self, record: Record) -> HTML:
        """One record: params, fields, stages, reportables."""
        from sweepstack.dag._display import record_html

        return HTML(record_html(record))

    def _reportables_html(self, keep: Any) -> HTML:
        from sweepstack.dag._display import reportable_bytes, reportable_html

        return HTML(
            "".join(
                reportable_html(entry, reportable_bytes(record, entry))
                for record, entry in self.reportables
                if keep(record, entry)
            )
        )

    def display_all_reportables(self) -> HTML:
        """Every reportable of every record."""
        return self._reportables_html(lambda record, entry: True)

    def display_record_reportables(self, record: Record) -> HTML:
        """The reportables of one record."""
        return self._reportables_html(lambda r, entry: r is record)

    def display_stage_reportables(self, stage_name: str) -> HTML:
        """The reportables made by one stage, over every record."""
        return self._reportables_html(lambda r, entry: entry.get("stage") == stage_name)

    def display_group_reportables(self, group: str) -> HTML:
        """The reportables of one group."""
        return self._reportables_html(lambda r, entry: entry.get("group") == group)

    def display_stage_graph(self) -> HTML:
        """The stage graph of every record: what runs, what is cached, and why."""
        from sweepstack.dag._display import dag_html

        return HTML(dag_html(self.map()))

    def _repr_html_(self) -> str:
        return str(self.display_info())

    def __repr__(self) -> str:
        return (
            f"<ArtifactManager {self.experiment_name!r} at {self.path} "
            f"run={self.id_run} records={len(self.records)}>"
        )

    # --- processes ------------------------------------------------------------------

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.update(xd=None, run=None, cache=None, _written={})  # no store handle
        state["_parallel_lock"] = None  # a multiprocessing lock pickles only when spawning
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        for record in self.records:
            record._all_records = lambda: list(self.records)
