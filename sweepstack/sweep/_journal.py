"""A sweeper's journal and snapshots: the files, read incrementally, appended under the lock.

Files of a sweeper folder (names in :mod:`sweepstack.store._format`)::

    journal            header "SSJ1 <generation>", then one entry per line, each with a CRC-32
    journal.<g>        the journal of generation g, kept after compaction (rebuilds snapshot g+1)
    snapshot.<g>       the whole state at the start of generation g (g >= 1), checksummed

A process reads only what was appended since its last read: it keeps the offset of
the end of the last valid entry. Compaction writes ``snapshot.<g+1>`` and then
replaces ``journal`` by a new file of generation g+1 (both by rename), so a reader
notices it by the journal's file identity and generation and reloads. A crash
between the two steps leaves generation g fully valid (the new snapshot is then an
unused file). A line whose checksum fails is skipped with a warning; an incomplete
or invalid tail (a writer killed mid-write) is ignored, and overwritten by the next
writer, who writes at the end of the last valid entry, never after garbage.

All of this relies on the caller holding the sweeper's lock for anything but
read-only use, and on reopening the journal after taking it: over NFS, opening a
file revalidates its cached data (close-to-open consistency), and a writer's data
reaches the server when it closes or fsyncs the file, before the lock is released.

A writer also locks the journal itself for its session (after the sweeper's lock):
the flush barrier for a writer that dies inside its session. A killed process's
descriptors close in number order, the sweeper's lock file (opened first) before
the journal, so the sweeper's lock is released while the NFS client may still be
sending what the dead writer had written: the next writer could read the journal
before those bytes arrive and write where they then land (seen in the NFS test VM:
a writer entered its session while a killed writer's bytes were still arriving).
Releasing a POSIX lock makes the NFS client flush the file and wait for its
outstanding writes first, so a writer waiting for the journal's lock reads a
journal that no dead writer will still change. Read-only readers take no lock.
"""

from __future__ import annotations

import errno
import fcntl
import os
import threading
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Callable

from sweepstack.errors import (
    JournalCorruptError,
    JournalWarning,
    SnapshotCorruptError,
)
from sweepstack.store._atomic import atomic_write, fsync_dir, read_bytes
from sweepstack.store._format import (
    JOURNAL_MAGIC,
    SWEEPER_JOURNAL,
    SWEEPER_SNAPSHOT,
    JournalEntry,
    encode_journal_entry,
    encode_journal_header,
    encode_snapshot,
    parse_journal_entry,
    parse_journal_header,
    parse_snapshot,
)

__all__ = [
    "Inspection",
    "Journal",
    "cut_tail",
    "inspect",
    "newest_snapshot",
    "replace_snapshot",
    "restart",
]

Entry = JournalEntry


class Journal:
    """The journal files of one sweeper folder, and this process's position in them.

    ``apply(entry)`` is called for every valid entry read, in order; ``load(document)``
    with a snapshot document (None for an empty state) whenever the state must be
    rebuilt from scratch; ``document()`` returns the current state as a snapshot
    document.
    """

    def __init__(
        self,
        folder: str,
        apply: Callable[[Entry], None],
        load: Callable[[dict[str, Any] | None], None],
        document: Callable[[], dict[str, Any]],
        readonly: bool = False,
    ) -> None:
        self.folder = folder
        self.path = os.path.join(folder, SWEEPER_JOURNAL)
        self._apply = apply
        self._load = load
        self._document = document
        self.readonly = readonly
        self.generation = -1
        self._identity: tuple[int, int] | None = None
        self.offset = 0  # end of the last valid entry read
        self.entries_since_snapshot = 0
        self._fd: int | None = None
        # group commit: entries are appended under the lock without fsync; the session's
        # owner flushes after releasing it, through a descriptor kept for that. One fsync
        # covers every entry appended to the file before it, by any process, so a thread
        # whose entries a later fsync already covered returns without one.
        self._sync_fd: int | None = None
        self._sync_identity: tuple[int, int] | None = None
        self._sync_lock = threading.Lock()  # one fsync at a time in this process
        self._count_lock = threading.Lock()  # the two numbers below, never held across I/O
        self._appended = 0  # sequence number of this process's latest append
        self._synced = 0  # the latest append covered by a finished fsync
        self._garbage_end = 0  # end of an invalid tail seen under the lock, to cut on append
        self._warned: set[tuple[Any, ...]] = set()

    # --- a session: open after the lock, read what is new, append, close ---------------

    def open(self) -> None:
        """Open the journal (after taking the lock) and read every entry not yet applied."""
        for _attempt in range(10):
            try:
                self._fd = os.open(self.path, os.O_RDWR if not self.readonly else os.O_RDONLY)
            except FileNotFoundError:
                if self.readonly:
                    self._reset_to(None, 0)
                    return
                self._create()
                continue
            try:
                if not self.readonly:
                    self._lock_file()
                self._read_new()
                return
            except FileNotFoundError:
                # read-only: a compaction removed the snapshot we wanted; start again
                self.close()
            except BaseException:
                # a corrupt header, a newer format, an I/O error: no descriptor (and no
                # journal lock) is left behind for the next session to trip over
                self.close()
                raise
        raise JournalCorruptError(self.path, "the journal kept changing while being read")

    def _lock_file(self) -> None:
        """Lock the open journal for this session: waits only for a dead writer's flush
        (every live writer holds the sweeper's lock first); released by close().

        A read-only instance in this process that closes its own descriptor of the
        journal meanwhile drops this lock early (POSIX locks belong to the process):
        only this barrier is lost then, never the sweeper's lock, on its own file.
        """
        assert self._fd is not None
        try:
            fcntl.lockf(self._fd, fcntl.LOCK_EX)
        except OSError as err:
            if err.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.EINVAL):
                raise
            # a file system without POSIX locks (some FUSE mounts): the sweeper's lock,
            # on its own file, already excludes live writers

    def close(self) -> None:
        if self._fd is not None and self._appended > self._synced:
            self._keep_for_sync()
        if self._fd is not None:
            fd, self._fd = self._fd, None
            # over NFS, close flushes what was written to the server, then unlocks
            os.close(fd)

    def __del__(self) -> None:
        fd, self._sync_fd = getattr(self, "_sync_fd", None), None
        if fd is not None:
            try:
                os.close(fd)
            except Exception:  # noqa: BLE001  (at interpreter exit os.close may be gone)
                pass

    def __enter__(self) -> Journal:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _keep_for_sync(self) -> None:
        """Keep a descriptor of the current journal file for the flush after the session."""
        assert self._fd is not None
        identity = self._identity
        if self._sync_fd is not None and self._sync_identity == identity:
            return
        fd = os.dup(self._fd)
        old, self._sync_fd, self._sync_identity = self._sync_fd, fd, identity
        if old is not None:
            os.close(old)

    def append(self, entries: list[Entry], durable: bool) -> int:
        """Write entries at the end of the valid journal; return a ticket for :meth:`sync`.

        The caller holds the lock and has opened the journal in this session. Nothing is
        fsynced here: a durable append is made durable by :meth:`sync` after the lock is
        released (0 is returned for a non-durable one). The entries are applied to the
        state only once written.
        """
        assert self._fd is not None and not self.readonly
        data = b"".join([encode_journal_entry(*entry) for entry in entries])
        written = os.pwrite(self._fd, data, self.offset)
        end = self.offset + written
        if written < len(data):  # the disk filled up in the middle of the entries
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        if self._garbage_end > end:
            os.ftruncate(self._fd, end)  # cut the rest of a torn tail left by a crashed writer
        self._garbage_end = 0
        ticket = 0
        if durable:
            with self._count_lock:
                self._appended += 1
                ticket = self._appended
        # apply, then advance: if an interrupt (Ctrl-C, SIGTERM) lands in between, the
        # next read applies these entries again, which every entry type tolerates
        for entry in entries:
            self._apply(entry)
        self.offset = end
        self.entries_since_snapshot += len(entries)
        return ticket

    def sync(self, ticket: int) -> None:
        """Return once the append of ``ticket`` is durable (call it without the lock).

        Threads of this process share flushes: one fsync covers every append before it,
        and the kernel merges the flushes of concurrent processes into one commit of the
        file system's journal. Over NFS the data already reached the server when the
        session closed the file; the fsync makes the server commit it to disk.
        """
        if ticket <= 0:
            return
        with self._sync_lock:
            with self._count_lock:
                if self._synced >= ticket:
                    return  # another thread's fsync, started after this append, covered it
                target, fd = self._appended, self._sync_fd
            if fd is not None:
                os.fsync(fd)
            with self._count_lock:
                self._synced = max(self._synced, target)

    # --- reading ----------------------------------------------------------------------

    def _read_new(self) -> None:
        assert self._fd is not None
        st = os.fstat(self._fd)
        identity = (st.st_dev, st.st_ino)
        if identity != self._identity:
            header = os.pread(self._fd, 64, 0)
            newline = header.find(b"\n")
            generation = parse_journal_header(self.path, header[: max(newline, 0)])
            if generation != self.generation:
                self._reset_to(self._load_snapshot(generation), generation)
                self.offset = newline + 1
            self._identity = identity
        if st.st_size > self.offset:
            self._read_range(self.offset, st.st_size)

    def _read_range(self, start: int, end: int) -> None:
        assert self._fd is not None
        data = os.pread(self._fd, end - start, start)
        position = 0
        valid_end = 0
        skipped = []
        apply = self._apply
        count = 0
        while True:
            newline = data.find(b"\n", position)
            if newline < 0:
                break  # an incomplete last line: torn, or still being written (read-only)
            entry = parse_journal_entry(data[position:newline])
            if entry is None:
                skipped.append(start + position)
            else:
                if skipped:
                    self._warn_skipped(skipped)
                    skipped = []
                apply(entry)
                count += 1
                valid_end = newline + 1
            position = newline + 1
        self.entries_since_snapshot += count
        self.offset = start + valid_end
        if len(data) > valid_end and not self.readonly:
            # holding the lock, nobody is writing: the tail is garbage from a crashed writer
            self._garbage_end = start + len(data)
            key = ("tail", self._identity, self.offset)
            if key not in self._warned:
                self._warned.add(key)
                warnings.warn(
                    f"{self.path}: ignored an incomplete or corrupt tail of {len(data) - valid_end} "
                    "bytes (a writer was killed mid-write); it is overwritten by the next entry",
                    JournalWarning,
                    stacklevel=5,
                )

    def _warn_skipped(self, offsets: list[int]) -> None:
        key = ("skip", self._identity, offsets[0])
        if key in self._warned:
            return
        self._warned.add(key)
        warnings.warn(
            f"{self.path}: skipped {len(offsets)} corrupt entr{'y' if len(offsets) == 1 else 'ies'} "
            f"at byte {offsets[0]} (checksum mismatch); later entries are intact",
            JournalWarning,
            stacklevel=6,
        )

    def _reset_to(self, snapshot: dict[str, Any] | None, generation: int) -> None:
        self._load(snapshot)
        self.generation = generation
        self.entries_since_snapshot = 0
        self.offset = 0
        self._identity = None

    # --- snapshots ------------------------------------------------------------------

    def _snapshot_path(self, generation: int) -> str:
        return os.path.join(self.folder, f"{SWEEPER_SNAPSHOT}.{generation}")

    def _old_journal_path(self, generation: int) -> str:
        return os.path.join(self.folder, f"{SWEEPER_JOURNAL}.{generation}")

    def _load_snapshot(self, generation: int) -> dict[str, Any] | None:
        if generation == 0:
            return None
        path = self._snapshot_path(generation)
        try:
            return _read_snapshot(path)
        except FileNotFoundError:
            if self.readonly:
                raise  # perhaps compacted meanwhile: open() starts again
            problem = "it is missing"
        except ValueError as err:
            problem = str(err)
        document = self._rebuild_snapshot(generation)
        if document is None:
            raise SnapshotCorruptError(path, problem)
        warnings.warn(
            f"{path}: {problem}; rebuilt it from generation {generation - 1} "
            "(snapshot and journal), nothing was lost",
            JournalWarning,
            stacklevel=6,
        )
        if not self.readonly:
            _write_snapshot(path, document)
        return document

    def _rebuild_snapshot(self, generation: int) -> dict[str, Any] | None:
        """Snapshot g from snapshot g-1 and journal g-1, or None if they cannot give it."""
        try:
            previous = (
                None if generation == 1 else _read_snapshot(self._snapshot_path(generation - 1))
            )
            data = read_bytes(self._old_journal_path(generation - 1))
        except (OSError, ValueError):
            return None
        lines = data.split(b"\n")
        header = parse_journal_entry(lines[0])
        if header is None or header[0] != JOURNAL_MAGIC or int(header[1]) != generation - 1:
            return None
        collected: list[Entry] = []
        for line in lines[1:]:
            entry = parse_journal_entry(line)
            if entry is not None:
                collected.append(entry)
        # replay into the live state (it is reloaded from the result right after)
        self._load(previous)
        for entry in collected:
            self._apply(entry)
        return self._document()

    def compact(self, snapshot: dict[str, Any]) -> None:
        """Start generation g+1 from ``snapshot`` (the current state); the caller holds the lock."""
        assert self._fd is not None and not self.readonly
        generation = self.generation + 1
        _write_snapshot(self._snapshot_path(generation), snapshot)
        old = self._old_journal_path(self.generation)
        temporary = old + ".link"
        try:
            os.unlink(temporary)
        except FileNotFoundError:
            pass
        try:
            os.link(self.path, temporary)  # keep generation g's journal: it rebuilds snapshot g+1
            os.replace(temporary, old)
        except OSError:  # a file system without hard links: keep a copy instead
            atomic_write(old, read_bytes(self.path))
        atomic_write(self.path, encode_journal_header(generation))
        for stale in (self._snapshot_path(generation - 2), self._old_journal_path(generation - 2)):
            try:
                os.unlink(stale)
            except FileNotFoundError:
                pass
        fsync_dir(self.folder)
        self.close()
        self._fd = os.open(self.path, os.O_RDWR)
        self._lock_file()
        st = os.fstat(self._fd)
        self._identity = (st.st_dev, st.st_ino)
        self.generation = generation
        self.offset = st.st_size
        self.entries_since_snapshot = 0
        with self._count_lock:
            self._synced = self._appended  # the fsynced snapshot holds every entry appended

    def _create(self) -> None:
        """Create an empty journal (under the lock), continuing the newest snapshot if any."""
        generation = 0
        for name in os.listdir(self.folder):
            prefix = SWEEPER_SNAPSHOT + "."
            if name.startswith(prefix) and name[len(prefix) :].isdigit():
                generation = max(generation, int(name[len(prefix) :]))
        if generation:
            warnings.warn(
                f"{self.path} was missing; continuing from snapshot generation {generation} "
                "(entries after it, if any, are lost)",
                JournalWarning,
                stacklevel=5,
            )
        atomic_write(self.path, encode_journal_header(generation))

    def raw_lines(self) -> Iterator[tuple[int, Entry | None]]:
        """Every line of the current journal file with its offset (for ``check``)."""
        data = read_bytes(self.path)
        position = 0
        while position < len(data):
            newline = data.find(b"\n", position)
            if newline < 0:
                yield position, None
                return
            yield position, parse_journal_entry(data[position:newline])
            position = newline + 1


# --- verification and repair (``sweepstack check``) ---------------------------------------


@dataclass
class Inspection:
    """What :func:`inspect` found in a sweeper folder's journal and current snapshot.

    ``tail`` is the end of the last valid entry when invalid bytes follow it (torn by a
    killed writer); ``corrupt`` the offsets of damaged entries followed by valid ones
    (their transitions are lost).
    """

    path: str
    exists: bool = True
    generation: int | None = None
    header_problem: str | None = None
    newer_format: int | None = None
    corrupt: list[int] = field(default_factory=list)
    tail: int | None = None
    tail_bytes: int = 0
    snapshot_problem: str | None = None
    snapshot_rebuildable: bool = False


def inspect(folder: str) -> Inspection:
    """Verify the journal of a sweeper folder line by line, and its current snapshot.

    Without the sweeper's lock, an incomplete last entry may be one being written.
    """
    journal = Journal(folder, lambda entry: None, lambda document: None, dict, readonly=True)
    found = Inspection(journal.path)
    try:
        lines = list(journal.raw_lines())
    except FileNotFoundError:
        found.exists = False
        return found
    header = lines[0][1] if lines else None
    if header is None or not header[0].startswith("SSJ") or not header[1].isdigit():
        found.header_problem = "its first line is not a sweepstack journal header"
        return found
    if header[0] != JOURNAL_MAGIC:
        found.newer_format = int(header[0][3:]) if header[0][3:].isdigit() else 0
        return found
    found.generation = int(header[1])
    valid_end = lines[1][0] if len(lines) > 1 else None  # where the first entry starts
    for number, (_, entry) in enumerate(lines[1:], 1):
        if entry is not None:
            valid_end = lines[number + 1][0] if number + 1 < len(lines) else None
    damaged = [position for position, entry in lines[1:] if entry is None]
    if valid_end is None:  # the last line is a valid entry (or there are none)
        found.corrupt = damaged
    else:
        found.corrupt = [position for position in damaged if position < valid_end]
        if any(position >= valid_end for position in damaged):
            found.tail = valid_end
            try:
                found.tail_bytes = os.path.getsize(journal.path) - valid_end
            except OSError:
                pass
    if found.generation:
        try:
            _read_snapshot(journal._snapshot_path(found.generation))
        except FileNotFoundError:
            found.snapshot_problem = "it is missing"
        except ValueError as err:
            found.snapshot_problem = str(err)
        if found.snapshot_problem is not None:
            found.snapshot_rebuildable = journal._rebuild_snapshot(found.generation) is not None
    return found


def cut_tail(folder: str, offset: int) -> int:
    """Cut the journal at ``offset`` (the end of its last valid entry); the bytes cut.

    The caller holds the sweeper's lock: no writer is in the middle of an entry, so
    the bytes after ``offset`` are garbage from a killed one (which the next writer
    would overwrite anyway).
    """
    path = os.path.join(folder, SWEEPER_JOURNAL)
    fd = os.open(path, os.O_RDWR)
    try:
        size = os.fstat(fd).st_size
        if size <= offset:
            return 0
        os.ftruncate(fd, offset)
        os.fsync(fd)
        return size - offset
    finally:
        os.close(fd)


def newest_snapshot(folder: str) -> tuple[int, dict[str, Any] | None]:
    """The highest generation number among the folder's snapshots and old journals, and
    the document of its newest readable snapshot (None when there is none)."""
    generations = []
    for name in os.listdir(folder):
        for prefix in (SWEEPER_SNAPSHOT + ".", SWEEPER_JOURNAL + "."):
            suffix = name[len(prefix) :]
            if name.startswith(prefix) and suffix.isdigit():
                generations.append((int(suffix), prefix == SWEEPER_SNAPSHOT + "."))
    document = None
    for generation, is_snapshot in sorted(generations, reverse=True):
        if is_snapshot and document is None:
            try:
                document = _read_snapshot(os.path.join(folder, f"{SWEEPER_SNAPSHOT}.{generation}"))
            except (OSError, ValueError):
                continue
    return max((g for g, _ in generations), default=0), document


def restart(folder: str, generation: int, document: dict[str, Any] | None) -> None:
    """Start the journal afresh at ``generation`` (> every one in use), from ``document``.

    The caller holds the lock and has moved the old journal aside. Every process sees
    a new generation on its next access and reloads from its snapshot.
    """
    if generation > 0:
        _write_snapshot(
            os.path.join(folder, f"{SWEEPER_SNAPSHOT}.{generation}"),
            document or {"done": [], "failed": {}, "claims": {}, "owners": {}},
        )
    atomic_write(os.path.join(folder, SWEEPER_JOURNAL), encode_journal_header(generation))


def replace_snapshot(folder: str, generation: int, document: dict[str, Any]) -> None:
    """Write the snapshot of ``generation`` (the caller holds the lock and moved the old aside)."""
    _write_snapshot(os.path.join(folder, f"{SWEEPER_SNAPSHOT}.{generation}"), document)


def _write_snapshot(path: str, document: dict[str, Any]) -> None:
    atomic_write(path, encode_snapshot(document))


def _read_snapshot(path: str) -> dict[str, Any]:
    """The snapshot document at ``path``; ValueError if it is damaged."""
    return parse_snapshot(path, read_bytes(path))
