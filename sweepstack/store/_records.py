"""Per-combination records: one file per key, and one index log per writing process.

``records/<sweep>/<kk>/<key>.json`` is the record, authoritative, replaced atomically
at each attempt. After writing it, the writer appends a summary of it (what a results
table shows) to its own index log ``records/<sweep>/_log/<host>-<pid>-<random>.jsonl``,
with the inode number of the file it wrote. A log has one writer, so appending to it
needs no lock and no O_APPEND atomicity between NFS clients; the log is opened, appended
and closed for each record, and closing flushes it to the server (close-to-open).

The log is only an index, read by :mod:`sweepstack.store._results` to build a table of
100,000 records without opening 100,000 files. It may lag behind the files (a writer
killed between the rename and the append) but never wins over them: see that module.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from typing import Any

from sweepstack.errors import CorruptEntryError, StoreValueError, StoreWriteError
from sweepstack.store._atomic import atomic_write, read_bytes, reason_of, write_all
from sweepstack.store._format import (
    RECORD_LOG_DIR,
    RECORD_LOG_SUFFIX,
    RECORD_SUFFIX,
    attempt_entry,
    dumps,
    encode_log_header,
    encode_log_line,
    encode_record,
    parse_record,
    record_summary,
    shard,
    utc_now,
)
from sweepstack.store._names import HOST, check_key, check_name, writer_tag

__all__ = ["RecordStore"]


def _attempt_of(previous: dict[str, Any] | bool) -> int:
    attempt = previous.get("attempt") if isinstance(previous, dict) else None
    return attempt if isinstance(attempt, int) and attempt > 0 else 1


def _same(a: Any, b: Any) -> bool:
    """Equal as stored: JSON turns tuples into lists and keys into strings."""
    if a == b:
        return True
    try:
        return dumps(a) == dumps(b)
    except (TypeError, ValueError):
        return False


class _IndexLog:
    """This process's index log of one sweep; created on first append."""

    def __init__(self, folder: str) -> None:
        self.folder = folder
        self.path = os.path.join(folder, writer_tag() + RECORD_LOG_SUFFIX)
        self.created = False

    def append(self, line: bytes) -> None:
        flags = os.O_WRONLY | os.O_APPEND
        if not self.created:
            os.makedirs(self.folder, exist_ok=True)
            flags |= os.O_CREAT | os.O_EXCL
        fd = os.open(self.path, flags, 0o666)
        try:
            if not self.created:
                self.created = True
                line = encode_log_header(HOST, os.getpid(), utc_now()) + line
            write_all(fd, line)
        finally:
            os.close(fd)


class RecordStore:
    """The records of one experiment directory (``DIR/records``).

    Safe to share between threads; after a fork the child writes its own logs. Pickles
    as its folder only.
    """

    def __init__(self, records_dir: str) -> None:
        self.folder = records_dir
        self._lock = threading.Lock()
        self._made: set[str] = set()
        self._logs: dict[str, _IndexLog] = {}
        self._prepared: dict[str, dict[str, Any]] = {}  # text -> record, until published
        self._pid = os.getpid()

    def path(self, sweep: str, key: str) -> str:
        """Where the record of ``key`` in ``sweep`` is (whether it exists or not).

        Raises:
            StoreValueError: ``sweep`` or ``key`` cannot name a file.
        """
        check_name("sweep name", sweep)
        check_key(key)
        return os.path.join(self.folder, sweep, shard(key), key + RECORD_SUFFIX)

    def read(self, sweep: str, key: str) -> dict[str, Any] | None:
        """The record of ``key``, or None if there is none.

        Raises:
            StoreValueError: ``sweep`` or ``key`` cannot name a file.
            CorruptEntryError: the record file is unreadable.
            FormatVersionError: it was written by a newer sweepstack.
        """
        path = self.path(sweep, key)
        try:
            data = read_bytes(path)
        except FileNotFoundError:
            return None
        except OSError as err:
            raise CorruptEntryError(path, f"cannot be read ({reason_of(err)})") from err
        return parse_record(path, data)

    def write(
        self, sweep: str, key: str, document: Mapping[str, Any], *, fsync: bool = True
    ) -> dict[str, Any]:
        """Write the record of ``key``, as its next attempt; return what was written.

        Fills ``key``, ``sweep``, ``attempt`` (the stored one + 1), ``written``,
        ``history`` (the stored record's history followed by a summary of the stored
        record itself: see :func:`~sweepstack.store._format.attempt_entry`) and, when
        missing, ``host`` and ``pid``. Cost: one read, one atomic write and one append,
        whatever the number of records. ``fsync=False`` is for benchmarks and tests.

        Raises:
            StoreValueError: ``sweep`` or ``key`` cannot name a file, or the document
                names another key or sweep.
            UnstorableValueError: a value of the document is not JSON.
            StoreWriteError: the record could not be written; the previous one is intact.
        """
        text = self.prepare(sweep, key, document)
        assert text is not None  # only unless_same= makes prepare() write nothing
        self.publish(text, fsync=fsync)
        return parse_record(self.path(sweep, key), text.encode("utf-8"))

    def prepare(
        self,
        sweep: str,
        key: str,
        document: Mapping[str, Any],
        *,
        unless_same: tuple[str, ...] | None = None,
    ) -> str | None:
        """The record of ``key`` as its next attempt, as one line of JSON, written nowhere.

        Fills what :meth:`write` fills. With ``unless_same`` (names of entries), returns
        None instead when the stored record has the same status and the same values of
        those entries: a rerun that changed nothing writes no record.

        Raises:
            StoreValueError: ``sweep`` or ``key`` cannot name a file, or the document
                names another key or sweep.
            UnstorableValueError: a value of the document is not JSON.
        """
        path = self.path(sweep, key)
        for name, expected in (("key", key), ("sweep", sweep)):
            if document.get(name, expected) != expected:
                raise StoreValueError(
                    f"record {name}", document.get(name), f"{expected!r}, as passed to write_record"
                )
        previous = self._previous(path)
        if (
            unless_same is not None
            and isinstance(previous, dict)
            and previous.get("status") == document.get("status")
            and all(_same(previous.get(name), document.get(name)) for name in unless_same)
        ):
            return None
        attempt = 0 if previous is None else _attempt_of(previous)
        record = dict(document)
        record.update(key=key, sweep=sweep, attempt=attempt + 1, written=utc_now())
        # the earlier attempts ride along in the record itself: one document, one write,
        # whatever the number of records (its size grows with this key's attempts only)
        history: list[Any] = []
        if isinstance(previous, dict):
            stored = previous.get("history")
            history = list(stored) if isinstance(stored, list) else []
            history.append(attempt_entry(previous))
        record["history"] = history
        record.setdefault("host", HOST)
        record.setdefault("pid", os.getpid())
        text = encode_record(record).decode("utf-8").rstrip("\n")
        if len(self._prepared) >= 4096:  # prepared and never published (a failed write)
            self._prepared.clear()
        self._prepared[text] = record  # publish() then needs not parse it again
        return text

    def publish(self, text: str, *, fsync: bool = False) -> None:
        """Put a record made by :meth:`prepare` in place (temporary name, rename), and
        index it. Without ``fsync`` the file may be lost in a crash of the machine: the
        caller keeps the text durable elsewhere (the sweeper's journal).

        Raises:
            StoreWriteError: the record could not be written; the previous one is intact.
        """
        self.publish_all([text], fsync=fsync)

    def publish_all(self, texts: list[str], *, fsync: bool = False) -> None:
        """:meth:`publish` several records, indexed with one append per sweep."""
        entries: dict[str, list[dict[str, Any]]] = {}
        for text in texts:
            data = (text + "\n").encode("utf-8")
            record = self._prepared.pop(text, None) or parse_record("record", data)
            sweep, key = record["sweep"], record["key"]
            path = self.path(sweep, key)
            self._make_folder(os.path.dirname(path))
            inode = [0]

            def write(fd: int, data: bytes = data, inode: list[int] = inode) -> None:
                write_all(fd, data)
                inode[0] = os.fstat(fd).st_ino  # the file's number once renamed to its key

            atomic_write(path, write, fsync=fsync)
            entries.setdefault(sweep, []).append({**record_summary(record), "ino": inode[0]})
        # Crash window: the records are in place, their index lines not yet. Readers
        # compare the inode in the index with the one in the folder listing and read the
        # file itself when they differ, so the window costs them one read, never a stale row.
        for sweep, summaries in entries.items():
            self._index(sweep, summaries)

    def holds(self, text: str) -> bool:
        """True if the record made by :meth:`prepare` as ``text``, or a later attempt of
        its key, is in place."""
        data = (text + "\n").encode("utf-8")
        record = parse_record("record", data)
        path = self.path(record["sweep"], record["key"])
        try:
            stored = read_bytes(path)
        except FileNotFoundError:
            return False
        if stored == data:
            return True
        try:
            previous = parse_record(path, stored)
        except CorruptEntryError:
            return False
        return _attempt_of(previous) > _attempt_of(record)

    def _previous(self, path: str) -> dict[str, Any] | bool | None:
        """The stored record at ``path``; None if there is none, True if it is unreadable."""
        try:
            return parse_record(path, read_bytes(path))
        except FileNotFoundError:
            return None
        except (CorruptEntryError, OSError):
            return True  # there was an attempt, whose number is lost with the file

    def _make_folder(self, folder: str) -> None:
        if folder in self._made:
            return
        try:
            os.makedirs(folder, exist_ok=True)
        except OSError as err:
            raise StoreWriteError(folder, reason_of(err)) from err
        self._made.add(folder)

    def _index(self, sweep: str, entries: list[dict[str, Any]]) -> None:
        line = b"".join(encode_log_line(entry) for entry in entries)
        with self._lock:
            if self._pid != os.getpid():  # forked: the parent's logs are the parent's
                self._pid = os.getpid()
                self._logs.clear()
            log = self._logs.get(sweep)
            if log is None:
                log = self._logs[sweep] = _IndexLog(
                    os.path.join(self.folder, sweep, RECORD_LOG_DIR)
                )
            try:
                log.append(line)
            except OSError:
                # The record itself is stored; only its index line is missing, which
                # readers make up for by reading the file. A log that failed mid-line is
                # abandoned so that no later line is glued to the torn one.
                del self._logs[sweep]

    def __getstate__(self) -> dict[str, Any]:
        return {"folder": self.folder}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["folder"])  # type: ignore[misc]
