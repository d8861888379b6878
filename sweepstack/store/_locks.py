"""Inter-process locks on lock files: one lock object per file per process.

POSIX record locks (what ``fasteners`` takes on Linux, and what NFS forwards to the
server) belong to a *process*, not to a file descriptor: two descriptors of one file
in one process never exclude each other, and closing any descriptor of the file
drops the process's lock. So every user of a lock file in this process must share
one :class:`FileLock`, which pairs the ``fasteners`` inter-process lock with a thread
lock and keeps the lock file open for the life of the process. :func:`file_lock`
hands out that shared object.

The lock file is dedicated: nothing else in sweepstack opens it.
"""

from __future__ import annotations

import atexit
import errno
import fcntl
import os
import threading
import time
from types import TracebackType
from typing import Any

from sweepstack.errors import StoreWriteError
from sweepstack.store._atomic import reason_of

__all__ = ["FileLock", "file_lock"]


class FileLock:
    """A re-entrant lock that excludes other threads of this process and other processes.

    Do not make one directly; use :func:`file_lock`, which returns the process's one
    instance for a path. ``wait_seconds`` and ``acquisitions`` count the time spent
    waiting for other processes, for benchmarks and ``status``.

    >>> lock = file_lock("/tmp/sweepstack-doctest.lock")
    >>> with lock:
    ...     pass  # no other process or thread holds it here
    """

    def __init__(self, path: str) -> None:
        import fasteners  # imported here: it is not needed to import sweepstack

        self.path = path
        self._fasteners = fasteners.InterProcessLock(path)
        self._thread_lock = threading.RLock()
        self._depth = 0
        self.wait_seconds = 0.0
        self.acquisitions = 0
        self.contended = 0

    def acquire(self) -> None:
        """Take the lock, waiting as long as needed (re-entrant within a thread)."""
        self._thread_lock.acquire()
        if self._depth:
            self._depth += 1
            return
        try:
            if self._fasteners.lockfile is None:
                # opened once for the life of the process (fasteners' own acquire() would
                # re-create the folder on every call: a round trip each on NFS)
                try:
                    self._fasteners.lockfile = open(self.path, "ab", buffering=0)  # noqa: SIM115
                except OSError as err:  # a lock file of another member that we may not write
                    raise StoreWriteError(self.path, reason_of(err)) from err
            try:
                self._fasteners.trylock()
            except OSError as err:
                if err.errno not in (errno.EACCES, errno.EAGAIN):
                    raise
                # Contended: wait in the kernel, which wakes us the moment the lock is free,
                # rather than in fasteners' retry loop, whose back-off sleeps up to 0.1 s
                # and caps throughput when several processes contend.
                start = time.perf_counter()
                fcntl.lockf(self._fasteners.lockfile, fcntl.LOCK_EX)
                self.wait_seconds += time.perf_counter() - start
                self.contended += 1
            self._fasteners.acquired = True
        except BaseException:
            self._thread_lock.release()
            raise
        self.acquisitions += 1
        self._depth = 1

    def release(self) -> None:
        """Release one level; the file lock is dropped with the outermost level."""
        if self._depth <= 0:
            raise RuntimeError(f"release of {self.path}, which this thread does not hold")
        self._depth -= 1
        try:
            if self._depth == 0:
                # unlock but keep the file open: reopening it for every acquisition costs a
                # round trip on NFS, and no other descriptor of it exists in this process
                self._fasteners.unlock()
                self._fasteners.acquired = False
        finally:
            self._thread_lock.release()

    def held(self) -> bool:
        """True if the calling thread holds the lock."""
        if not self._thread_lock.acquire(blocking=False):
            return False
        try:
            return self._depth > 0
        finally:
            self._thread_lock.release()

    def __enter__(self) -> FileLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()

    def __repr__(self) -> str:
        return f"FileLock({self.path!r})"

    def __reduce__(self) -> Any:
        # a lock crossing into another process is that process's lock on the same file
        return (file_lock, (self.path,))


_locks: dict[tuple[int, int], FileLock] = {}
_registry_lock = threading.Lock()
_PURGE_EVERY = 64
_created = 0


def file_lock(path: str) -> FileLock:
    """The process's one :class:`FileLock` on ``path``, creating the file if needed.

    Paths that reach the same file (symlinks, relative paths, bind mounts) get the same
    object, since the file's device and inode number identify it.
    """
    global _created
    with _registry_lock:
        # stat, never open: closing a descriptor of a file that another thread holds
        # locked would drop that thread's lock. Creation is safe under the registry
        # lock: a file that did not exist cannot be locked by anyone in this process.
        try:
            st = os.stat(path)
        except FileNotFoundError:
            os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o666))
            st = os.stat(path)
        identity = (st.st_dev, st.st_ino)
        lock = _locks.get(identity)
        if lock is None:
            lock = _locks[identity] = FileLock(path)
            _created += 1
            if _created % _PURGE_EVERY == 0:
                _purge_deleted()
        return lock


def _purge_deleted() -> None:
    """Close the locks of lock files deleted since (a removed experiment): no fd leaks.

    The inode of a file we keep open is never reused, so a purged identity cannot
    come back as another file's; and a lock that some thread holds is kept.
    """
    for identity, lock in list(_locks.items()):
        handle = lock._fasteners.lockfile
        if handle is None or lock._depth or not lock._thread_lock.acquire(blocking=False):
            continue
        try:
            if os.fstat(handle.fileno()).st_nlink == 0:
                handle.close()
                lock._fasteners.lockfile = None
                del _locks[identity]
        finally:
            lock._thread_lock.release()


@atexit.register
def _close_all() -> None:
    # at exit no lock matters any more; closing here keeps interpreter shutdown quiet
    for lock in _locks.values():
        handle = lock._fasteners.lockfile
        if handle is not None and not lock._depth:
            handle.close()
            lock._fasteners.lockfile = None


def _reset_locks_after_fork() -> None:
    # A forked child holds none of its parent's POSIX locks, and a thread lock may have
    # been held by a thread that does not exist in the child. The objects are reset in
    # place rather than replaced: objects inherited by the child keep working, and their
    # open lock file is never closed (closing it would drop the child's own lock).
    global _registry_lock
    _registry_lock = threading.Lock()
    for lock in _locks.values():
        lock._thread_lock = threading.RLock()
        lock._depth = 0
        lock._fasteners.acquired = False


os.register_at_fork(after_in_child=_reset_locks_after_fork)
