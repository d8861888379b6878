"""Reading every record of a sweep at once: the results table.

Two sources are reconciled:

- a listing of the record files (``os.scandir`` of the 256 shard folders), which says
  which keys exist and, for free, the inode number of each file;
- the index logs, read in bulk, which hold a summary of each record version written,
  with the inode number of the file it was written to.

For each listed key, the summary with the highest attempt is used if its inode number
is the file's; otherwise (no index line: the writer died between the rename and the
append, or the directory was copied; or a newer version was renamed in meanwhile) the
file itself is read. So the files decide, and the logs only save reading them. A key
with index lines but no file (deleted or quarantined) is left out. Unreadable files
and index lines are skipped and returned as errors.

The one case the comparison cannot see: a version whose index line is missing, written
to a file whose inode number is that of an earlier indexed version of the same key
(freed by the rename, then reused). ``verify=True`` reads every file.
"""

from __future__ import annotations

import datetime as _dt
import os
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from sweepstack.errors import CorruptEntryError, OptionalDependencyError
from sweepstack.store._atomic import read_bytes, reason_of
from sweepstack.store._format import (
    RECORD_LOG_DIR,
    RECORD_LOG_SUFFIX,
    RECORD_SUFFIX,
    attempt_entry,
    parse_log,
    parse_record,
    record_summary,
)

__all__ = [
    "COLUMNS",
    "Results",
    "attempt_rows",
    "changed_fields",
    "iter_documents",
    "list_records",
    "recent",
    "row",
    "scan",
    "timestamp",
]

COLUMNS = (
    "sweep",
    "key",
    "status",
    "run",
    "host",
    "attempt",
    "started",
    "ended",
    "duration",
    "exception",
)
"""Columns of every row, besides the parameters and fields."""

_RESERVED = frozenset(COLUMNS)
_SUFFIX_LENGTH = len(RECORD_SUFFIX)


def list_records(sweep_dir: str) -> dict[str, tuple[int, str]]:
    """Every record file of a sweep: key -> (inode number, path)."""
    found: dict[str, tuple[int, str]] = {}
    try:
        shards = [e for e in os.scandir(sweep_dir) if len(e.name) == 2 and e.is_dir()]
    except (FileNotFoundError, NotADirectoryError):
        return found
    for folder in shards:
        try:
            entries = os.scandir(folder.path)
        except FileNotFoundError:
            continue
        with entries:
            for entry in entries:
                name = entry.name
                # a leading "." is a temporary file (or an NFS silly rename), never a record
                if name.endswith(RECORD_SUFFIX) and not name.startswith("."):
                    found[name[:-_SUFFIX_LENGTH]] = (entry.inode(), entry.path)
    return found


def _read_index(sweep_dir: str) -> tuple[dict[str, dict[str, Any]], list[CorruptEntryError]]:
    """The latest index entry of each key (highest attempt; the later line on a tie)."""
    latest: dict[str, dict[str, Any]] = {}
    errors: list[CorruptEntryError] = []
    folder = os.path.join(sweep_dir, RECORD_LOG_DIR)
    try:
        names = sorted(os.listdir(folder))
    except (FileNotFoundError, NotADirectoryError):
        return latest, errors
    for name in names:
        if not name.endswith(RECORD_LOG_SUFFIX) or name.startswith("."):
            continue
        path = os.path.join(folder, name)
        try:
            data = read_bytes(path)
        except FileNotFoundError:
            continue
        except OSError as err:
            errors.append(CorruptEntryError(path, f"cannot be read ({reason_of(err)})"))
            continue
        entries, problems = parse_log(path, data)
        errors.extend(problems)
        for entry in entries:
            key = entry["key"]
            seen = latest.get(key)
            if seen is None or entry["attempt"] >= seen["attempt"]:
                latest[key] = entry
    return latest, errors


def scan(
    sweep_dir: str, verify: bool = False
) -> tuple[list[dict[str, Any]], list[CorruptEntryError]]:
    """The summary of every record of a sweep, by key, and what could not be read.

    Raises:
        FormatVersionError: a record or log of a newer format.
    """
    files = list_records(sweep_dir)
    latest, errors = ({}, []) if verify else _read_index(sweep_dir)
    summaries = []
    for key in sorted(files):
        inode, path = files[key]
        entry = latest.get(key)
        if entry is not None and entry["ino"] == inode:
            summaries.append(entry)
            continue
        document = _read_record(path, key, errors)
        if document is not None:
            summaries.append(record_summary(document))
    return summaries, errors


def _read_record(path: str, key: str, errors: list[CorruptEntryError]) -> dict[str, Any] | None:
    try:
        document = parse_record(path, read_bytes(path))
    except FileNotFoundError:
        return None  # removed since the listing
    except CorruptEntryError as err:
        errors.append(err)
        return None
    except OSError as err:
        errors.append(CorruptEntryError(path, f"cannot be read ({reason_of(err)})"))
        return None
    if document["key"] != key:
        errors.append(CorruptEntryError(path, f"it holds the record of key {document['key']!r}"))
        return None
    return document


def iter_documents(sweep_dir: str, errors: list[CorruptEntryError]) -> Iterator[dict[str, Any]]:
    """Every whole record of a sweep, by key, read from the files (appends to ``errors``)."""
    files = list_records(sweep_dir)
    for key in sorted(files):
        document = _read_record(files[key][1], key, errors)
        if document is not None:
            yield document


def timestamp(text: Any) -> float | None:
    """Seconds since the epoch of a UTC time as the store and the engine write it, or None.

    >>> timestamp("1970-01-01T00:01:00Z"), timestamp("1970-01-01T00:00:01.500000Z")
    (60.0, 1.5)
    """
    if not isinstance(text, str) or not text.endswith("Z"):
        return None
    for layout in ("%Y-%m-%dT%H:%M:%S.%fZ", "%Y-%m-%dT%H:%M:%SZ"):
        try:
            moment = _dt.datetime.strptime(text, layout)
        except ValueError:
            continue
        return moment.replace(tzinfo=_dt.timezone.utc).timestamp()
    return None


_TAIL_CHUNK = 1 << 18


def recent(sweep_dir: str, since: float) -> list[dict[str, Any]]:
    """Index entries of the records of a sweep that ended at or after ``since`` (epoch seconds).

    Each index log is read backwards from its end, a chunk at a time, until an entry
    that ended before ``since``: the cost grows with the number of recent records, not
    with the size of the logs. Entries are versions written (a record written twice
    counts twice), as summaries; unreadable lines are skipped.
    """
    found: list[dict[str, Any]] = []
    folder = os.path.join(sweep_dir, RECORD_LOG_DIR)
    try:
        names = sorted(os.listdir(folder))
    except (FileNotFoundError, NotADirectoryError):
        return found
    for name in names:
        if not name.endswith(RECORD_LOG_SUFFIX) or name.startswith("."):
            continue
        path = os.path.join(folder, name)
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            continue
        try:
            found.extend(_recent_in_log(fd, path, since))
        finally:
            os.close(fd)
    return found


def _recent_in_log(fd: int, path: str, since: float) -> list[dict[str, Any]]:
    end = os.fstat(fd).st_size
    kept: list[dict[str, Any]] = []
    chunk = _TAIL_CHUNK
    while end > 0:
        start = max(0, end - chunk)
        data = os.pread(fd, end - start, start)
        if start > 0:
            first = data.find(b"\n")
            if first < 0:  # a line longer than the chunk: read a larger piece
                chunk *= 4
                continue
            data = data[first + 1 :]
            start += first + 1
        # after the last newline: a line being written, or cut by a crash
        entries, _ = parse_log(path, data[: data.rfind(b"\n") + 1])
        older = False
        for entry in entries:
            ended = timestamp(entry.get("ended"))
            if ended is not None and ended >= since:
                kept.append(entry)
            else:
                older = True
        if older or start == 0:
            break
        end = start
    return kept


def _flat_items(mapping: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """(dotted name, value) of every leaf of a dict; an empty dict is a leaf."""
    for name, value in mapping.items():
        if type(value) is dict and value:
            for inner, leaf in _flat_items(value):
                yield f"{name}.{inner}", leaf
        else:
            yield name, value


def row(sweep: str, summary: Mapping[str, Any]) -> dict[str, Any]:
    """One flat row of a results table.

    Nested dicts (of params or fields) become dotted names: ``{"opt": {"lr": 0.1}}``
    gives ``opt.lr``. A parameter named like a column gets the prefix ``params.``, a
    field named like a column or a parameter the prefix ``fields.``.

    >>> row("main", {"key": "ab12", "status": "done", "params": {"n": 10},
    ...              "fields": {"n": 1, "acc": 0.5}, "attempt": 1})["fields.n"]
    1
    """
    # the hot loop of results(): 100,000 calls, so plain type checks (summaries are
    # parsed JSON: plain dicts) and a fast path for the usual flat scalar values
    get = summary.get
    out: dict[str, Any] = {"sweep": sweep, "key": get("key"), "status": get("status")}
    params = get("params")
    if type(params) is dict:
        for name, value in params.items():
            if type(value) is dict and value:
                for dotted, leaf in _flat_items({name: value}):
                    out["params." + dotted if dotted in _RESERVED else dotted] = leaf
            elif name in _RESERVED:
                out["params." + name] = value
            else:
                out[name] = value
    fields = get("fields")
    if type(fields) is dict:
        for name, value in fields.items():
            if type(value) is dict and value:
                for dotted, leaf in _flat_items({name: value}):
                    out["fields." + dotted if dotted in _RESERVED or dotted in out else dotted] = (
                        leaf
                    )
            elif name in _RESERVED or name in out:
                out["fields." + name] = value
            else:
                out[name] = value
    exception = get("exception")
    if type(exception) is dict:
        exception = f"{exception.get('type')}: {exception.get('message')}"
    out["run"] = get("run")
    out["host"] = get("host")
    out["attempt"] = get("attempt")
    out["started"] = get("started")
    out["ended"] = get("ended")
    out["duration"] = get("duration")
    out["exception"] = exception
    return out


HISTORY_COLUMNS = ("written",)
"""Columns of a history row besides those of a results row (and ``code.<stage>``)."""


def attempt_rows(
    sweep: str, document: Mapping[str, Any], statuses: frozenset[str] = frozenset({"done"})
) -> list[dict[str, Any]]:
    """One row per attempt of a record whose status is in ``statuses``, oldest first.

    A row is a results row (:func:`row`) of that attempt, with the record's params,
    plus ``written`` and one ``code.<stage>`` column per stage: the code fingerprint
    (or ``version=``) that the attempt ran or found cached.
    """
    rows = []
    for entry in _attempts(document):
        if entry.get("status") not in statuses:
            continue
        out = row(sweep, {**entry, "key": document.get("key"), "params": document.get("params")})
        out["written"] = entry.get("written")
        code = entry.get("code")
        if isinstance(code, dict):
            for stage, fingerprint in sorted(code.items()):
                out[f"code.{stage}"] = fingerprint
        rows.append(out)
    return rows


def _attempts(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    history = document.get("history")
    entries = [e for e in history if isinstance(e, dict)] if isinstance(history, list) else []
    entries.append(attempt_entry(document))
    return entries


def changed_fields(
    documents: Iterable[tuple[str, Mapping[str, Any]]],
    run_a: str,
    run_b: str,
    group: Mapping[str, str] | None = None,
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """The fields that differ between the done attempts of two runs, per combination.

    ``documents`` are (sweep, whole record) pairs. For each combination the last done
    attempt of each run is compared, field by field (nested fields by dotted name), as
    MLflow compares the metrics of two runs. Returns one row per changed field
    (``sweep``, ``key``, the params, then ``field``, ``a`` and ``b``; a field missing
    from one side is None there) and counts of combinations: done in both runs
    (``both``), only in ``run_a`` (``only_a``), only in ``run_b`` (``only_b``), and
    with a changed field (``changed``). ``group`` maps a run to the one it belongs to
    (the workers of a launcher to the launcher's run), so that ``run_a`` and ``run_b``
    may name launches.
    """
    changed: list[dict[str, Any]] = []
    counts = {"both": 0, "only_a": 0, "only_b": 0, "changed": 0}
    for sweep, document in documents:
        found: dict[str, dict[str, Any]] = {}
        for entry in _attempts(document):
            run = entry.get("run")
            run = group.get(run, run) if group is not None and isinstance(run, str) else run
            if entry.get("status") == "done" and run in (run_a, run_b):
                found[run] = entry  # oldest first: the last one wins
        if run_a not in found or run_b not in found:
            if run_a in found:
                counts["only_a"] += 1
            elif run_b in found:
                counts["only_b"] += 1
            continue
        counts["both"] += 1
        fa, fb = (dict(_flat_items(found[r].get("fields") or {})) for r in (run_a, run_b))
        diffs = [name for name in sorted(set(fa) | set(fb)) if fa.get(name) != fb.get(name)]
        if not diffs:
            continue
        counts["changed"] += 1
        base = row(sweep, {"key": document.get("key"), "params": document.get("params")})
        base = {k: v for k, v in base.items() if k in ("sweep", "key") or k not in _RESERVED}
        for name in diffs:
            changed.append({**base, "field": name, "a": fa.get(name), "b": fb.get(name)})
    return changed, counts


class Results(list[dict[str, Any]]):
    """Rows of a results table: one flat dict per combination (see :func:`row`).

    ``errors`` lists the entries that could not be read (a
    :class:`~sweepstack.errors.CorruptEntryError` each, with its path); they are left
    out of the rows.
    """

    def __init__(
        self,
        rows: Iterable[dict[str, Any]] | None = None,
        errors: Iterable[CorruptEntryError] | None = None,
    ) -> None:
        super().__init__(rows or ())
        self.errors = list(errors or ())

    def to_dataframe(self) -> Any:
        """A pandas DataFrame with one row per combination.

        Raises:
            OptionalDependencyError: pandas is not installed.
        """
        try:
            import pandas
        except ImportError:
            raise OptionalDependencyError("pandas", "pandas", "Results.to_dataframe()") from None
        if not self:
            return pandas.DataFrame(columns=list(COLUMNS))
        return pandas.DataFrame(list(self))

    def __repr__(self) -> str:
        errors = f", {len(self.errors)} unreadable" if self.errors else ""
        return f"<Results: {len(self)} rows{errors}>"

    def _repr_html_(self) -> str:
        """A sortable HTML table for notebooks (the first rows of a large table, with a note)."""
        from sweepstack.store._results_html import results_html

        return results_html(self, len(self.errors))
