"""The run registry: one document per engine session, ``runs/<N>.json``.

A run number is taken by creating ``runs/<N>.json`` with ``link(2)``, which fails when
the name exists, on a local file system and on NFS alike: two processes or hosts can
never take the same number, and no shared file is rewritten to allocate one. Where to
start looking is read from ``runs/next``, a hint each new run rewrites (a stale or lost
hint costs a few ``stat`` calls, found by galloping then bisecting, never a duplicate).
After creation a run document is rewritten (atomically) by the process that owns the
run, and by a user's :class:`~sweepstack.store.ManagerStore` (its notes, its status):
each rewrite holds ``runs/lock``, reads the document, applies its changes and replaces
it, so neither undoes the other's changes.
"""

from __future__ import annotations

import datetime as _dt
import os
import re
from collections.abc import Mapping, Sequence
from typing import Any

from sweepstack.errors import CorruptEntryError, StoreValueError, StoreWriteError
from sweepstack.store._atomic import atomic_create, atomic_write, read_bytes
from sweepstack.store._format import (
    RUN_SUFFIX,
    RUNS_HINT,
    RUNS_LOCK,
    encode_run,
    parse_run,
    utc_now,
)
from sweepstack.store._names import check_name

__all__ = ["FINAL_STATUSES", "Run", "read_run", "read_runs", "start_run"]

FINAL_STATUSES = ("complete", "error", "interrupted")
"""What :meth:`Run.finish` accepts; a run is ``running`` until then."""

_FIXED = frozenset({"format", "number", "reference", "name", "started"})
_RUN_FILE = re.compile(r"([1-9][0-9]*)" + re.escape(RUN_SUFFIX))


class Run:
    """One engine session as stored in ``runs/<N>.json``.

    ``number``, ``reference`` (``[name]_[number]_[timestamp]``, also ``id_run``) and
    ``status`` are read from ``document``, a copy of the whole stored document.
    :meth:`update` and :meth:`finish` rewrite the file; only the process that started
    the run should call them.
    """

    def __init__(self, document: dict[str, Any], path: str) -> None:
        self._document = document
        self.path = path

    @property
    def number(self) -> int:
        return int(self._document["number"])

    @property
    def reference(self) -> str:
        return str(self._document["reference"])

    id_run = reference

    @property
    def name(self) -> str:
        return str(self._document.get("name", ""))

    @property
    def status(self) -> str:
        return str(self._document["status"])

    @property
    def document(self) -> dict[str, Any]:
        """A copy of the stored document (change it with :meth:`update`)."""
        return dict(self._document)

    def get(self, name: str, default: Any = None) -> Any:
        """One entry of the document (``started``, ``host``, ``git``, ``config``...)."""
        return self._document.get(name, default)

    def update(self, **changes: Any) -> None:
        """Set entries of the document and rewrite ``runs/<N>.json`` atomically.

        >>> run.update(config_changed=["--lease"])  # doctest: +SKIP

        Raises:
            StoreValueError: a change to ``number``, ``reference``, ``name``, ``started``
                or ``format``, which identify the run.
            UnstorableValueError: a value is not JSON.
            StoreWriteError: the file could not be written; it is unchanged.
        """
        fixed = sorted(_FIXED.intersection(changes))
        if fixed:
            raise StoreValueError(
                "run entry", fixed[0], "an entry other than " + ", ".join(sorted(_FIXED))
            )
        from sweepstack.store._locks import file_lock

        with file_lock(os.path.join(os.path.dirname(self.path), RUNS_LOCK)):
            try:  # another writer's entries (a ManagerStore's notes) are kept
                current = parse_run(self.path, read_bytes(self.path))
            except (OSError, CorruptEntryError):
                current = self._document  # unreadable: ours is the best copy there is
            document = {**current, **changes}
            atomic_write(self.path, encode_run(document))
        self._document = document

    def finish(self, status: str, error: BaseException | str | None = None) -> None:
        """Record the end of the run: its status, end time and error text.

        ``error`` may be an exception, whose traceback is stored as text.

        Raises:
            StoreValueError: ``status`` is not "complete", "error" or "interrupted".
            StoreWriteError: the file could not be written.
        """
        if status not in FINAL_STATUSES:
            raise StoreValueError("run status", status, ", ".join(map(repr, FINAL_STATUSES)))
        if isinstance(error, BaseException):
            import traceback

            error = "".join(traceback.format_exception(type(error), error, error.__traceback__))
        self.update(status=status, ended=utc_now(), error=error)

    def __repr__(self) -> str:
        return f"Run({self.number}, {self.reference!r}, status={self.status!r})"


def _exists(runs_dir: str, number: int) -> bool:
    return os.path.exists(os.path.join(runs_dir, f"{number}{RUN_SUFFIX}"))


def _first_free(runs_dir: str, start: int) -> int:
    """A number >= ``start`` without a file: the first one when the numbers are dense.

    Gallops up from ``start`` then bisects, so a hint that is far behind costs
    O(log gap) ``stat`` calls. The answer is only a candidate: ``link(2)`` decides.
    """
    if not _exists(runs_dir, start):
        return start
    low, step = start, 1  # low exists
    while _exists(runs_dir, low + step):
        low += step
        step *= 2
    high = low + step  # high does not exist
    while high - low > 1:
        middle = (low + high) // 2
        if _exists(runs_dir, middle):
            low = middle
        else:
            high = middle
    return high


def _read_hint(runs_dir: str) -> int:
    try:
        return max(1, int(read_bytes(os.path.join(runs_dir, RUNS_HINT), 32)))
    except (OSError, ValueError):
        return 1


def _stamp(started: str) -> str:
    moment = _dt.datetime.strptime(started, "%Y-%m-%dT%H:%M:%S.%fZ")
    return moment.strftime("%Y-%m-%d-T%H%M%S")


def start_run(
    runs_dir: str,
    name: str,
    argv: Sequence[str] | None = None,
    notes: str | None = None,
    store_full: bool = False,
    config: Mapping[str, Any] | None = None,
    parent: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Run:
    """Register a new run with the next free number (see the module's docstring).

    Raises:
        StoreValueError: ``name`` cannot be part of a file name, or ``extra`` tries to
            set an entry that identifies the run.
        UnstorableValueError: ``config`` or ``extra`` holds a value that is not JSON.
        StoreWriteError: ``runs/`` cannot be written.
    """
    check_name("run name", name)
    extra = dict(extra or {})
    fixed = sorted(_FIXED.intersection(extra))
    if fixed:
        raise StoreValueError(
            "run entry", fixed[0], "an entry other than " + ", ".join(sorted(_FIXED))
        )
    from sweepstack.store._environment import session  # git, getpass...: only when a run starts

    started = utc_now()
    base = {
        "name": name,
        "status": "running",
        "started": started,
        "ended": None,
        "error": None,
        "notes": notes,
        "config": dict(config or {}),
        "parent": parent,
        "store_full": bool(store_full),
        **session(argv, store_full),
        **extra,
    }
    number = _first_free(runs_dir, _read_hint(runs_dir))
    while True:
        document = {**base, "number": number, "reference": f"{name}_{number}_{_stamp(started)}"}
        path = os.path.join(runs_dir, f"{number}{RUN_SUFFIX}")
        if atomic_create(path, encode_run(document)):
            break
        number = _first_free(runs_dir, number + 1)  # another process took it first
    try:
        # only a hint: a lost or late write (another process's hint landing after ours)
        # costs the next run a few stat calls, never a duplicate, so no fsync
        atomic_write(os.path.join(runs_dir, RUNS_HINT), f"{number + 1}\n", fsync=False)
    except StoreWriteError:
        pass
    return Run(parse_run(path, encode_run(document)), path)


def read_run(runs_dir: str, number: int) -> Run | None:
    """The run with this number, or None.

    Raises:
        CorruptEntryError: its file is unreadable.
    """
    path = os.path.join(runs_dir, f"{int(number)}{RUN_SUFFIX}")
    try:
        data = read_bytes(path)
    except FileNotFoundError:
        return None
    return Run(parse_run(path, data), path)


def read_runs(runs_dir: str) -> tuple[list[Run], list[CorruptEntryError]]:
    """Every run, by number, and the run files that could not be read."""
    try:
        names = os.listdir(runs_dir)
    except FileNotFoundError:
        return [], []
    numbered = sorted((int(m.group(1)), n) for n in names if (m := _RUN_FILE.fullmatch(n)))
    runs, errors = [], []
    for _, file_name in numbered:
        path = os.path.join(runs_dir, file_name)
        try:
            runs.append(Run(parse_run(path, read_bytes(path)), path))
        except FileNotFoundError:
            continue
        except CorruptEntryError as err:
            errors.append(err)
        except OSError as err:
            errors.append(CorruptEntryError(path, f"cannot be read ({err.strerror or err})"))
    return runs, errors
