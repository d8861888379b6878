"""The state objects a user queries: :func:`open` gives an :class:`Experiment`.

In MLtraq's model an experiment has an ``id_experiment``, a ``name``, persisted
``fields`` and its ``runs``; here it also has the records of its combinations and
their results table. Everything is read from the directory when asked for, so an
Experiment opened while a sweep runs shows the records written so far.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from typing import Any

from sweepstack.errors import CorruptEntryError, CorruptEntryWarning
from sweepstack.store._directory import ExperimentDir
from sweepstack.store._fields import FieldDict
from sweepstack.store._format import RECORDS_DIR
from sweepstack.store._names import check_name
from sweepstack.store._results import Results, gc_paused, iter_documents, row, scan
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


class Experiment:
    """An experiment directory as a user sees it.

    >>> exp = sweepstack.open("PiSweep_20261122_100003")  # doctest: +SKIP
    >>> exp.results().to_dataframe().groupby("estimator")["error"].mean()  # doctest: +SKIP

    Pickles without its store handle: the unpickled object has the same identity and
    fields, and reopens the directory at the same path when it next reads it.
    """

    def __init__(self, directory: ExperimentDir) -> None:
        self._directory: ExperimentDir | None = directory
        self.path = directory.path
        self.id_experiment = directory.id_experiment
        self.name = directory.name
        self.engine = directory.engine
        self.created = directory.created
        self._fields: FieldDict | None = None

    @property
    def directory(self) -> ExperimentDir:
        """The low-level handle (reopened after unpickling)."""
        if self._directory is None:
            self._directory = ExperimentDir.open(self.path)
        return self._directory

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
                rows.extend(row(name, summary) for summary in summaries)
                errors.extend(problems)
        return Results(rows, errors)

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


def open(path: str | os.PathLike[str]) -> Experiment:
    """Open the experiment directory at ``path`` for reading (writing only its fields).

    >>> exp = sweepstack.open("results/pi")  # doctest: +SKIP
    >>> exp.id_experiment, len(exp.runs), len(exp.results())  # doctest: +SKIP

    Raises:
        ExperimentNotFoundError: ``path`` is not an experiment directory.
        FormatVersionError: it was written by a newer sweepstack.
    """
    return ExperimentDir.open(path).experiment()
