"""Atomic file writes: the one way sweepstack writes a file that others may read.

A reader on any host sees either the old content or the new, never a part: the
data goes to a temporary name in the same folder (unique per host, process and
thread), is flushed and fsynced, then renamed over the target, and the folder is
fsynced so that the rename survives a crash. Rename is atomic on local file
systems and on NFS. For a file that must be created once and never replaced
(a run number, an experiment's identity) :func:`atomic_create` publishes the
content with ``link(2)``, which fails when the name exists.
"""

from __future__ import annotations

import errno
import grp
import os
import pwd
import shutil
import stat
import threading
import uuid
from typing import Callable, Union

from sweepstack.errors import StoreWriteError
from sweepstack.store._names import SHORT_HOST

__all__ = [
    "FILE_MODE",
    "TMP_SUFFIX",
    "atomic_create",
    "atomic_write",
    "fsync_dir",
    "is_temp_name",
    "publish_dir",
    "read_bytes",
    "reason_of",
    "refresh_dir",
    "temp_name",
    "write_all",
]

FILE_MODE = 0o666
"""Mode asked for every file created; the umask takes away what the user does not share.

With ``umask 002`` the group can write the files (and folders, created 0o777 less the
umask) so that a lab's members continue each other's sweeps; with the usual 022 only
the owner can. See docs/security.md.
"""

TMP_SUFFIX = ".sstmp"
"""Every temporary file or folder name ends with this, so that cleaners and readers skip it."""

Content = Union[bytes, memoryview, str, Callable[[int], None]]
"""What to write: bytes (or a memoryview of them), text (UTF-8), or a function writing to a file descriptor."""


def temp_name(path: str) -> str:
    """A temporary name next to ``path``, unique per host, process and thread."""
    folder, base = os.path.split(path)
    unique = f"{SHORT_HOST}.{os.getpid()}.{threading.get_ident()}.{uuid.uuid4().hex[:8]}"
    return os.path.join(folder, f".{base}.{unique}{TMP_SUFFIX}")


def is_temp_name(name: str) -> bool:
    """True for names made by :func:`temp_name` (left behind by a crash, or in flight)."""
    return name.startswith(".") and name.endswith(TMP_SUFFIX)


def fsync_dir(folder: str) -> None:
    """Make the creations and renames in ``folder`` durable."""
    try:
        fd = os.open(folder or ".", os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return  # some file systems do not open folders; the rename is still atomic
    try:
        os.fsync(fd)
    except OSError:
        pass  # EINVAL on file systems without directory fsync (some NFS servers, tmpfs)
    finally:
        os.close(fd)


def refresh_dir(folder: str) -> None:
    """Make the next lookups of names in ``folder`` see what the file server holds now.

    An NFS client caches the result of a lookup, a missing name included, for as long
    as it trusts the folder's cached attributes (up to ``acdirmax``, 60 s by default):
    a file another host created since may look missing. Opening the folder makes the
    client revalidate its attributes (close-to-open), and a changed folder drops the
    cached lookups. On a local file system this is one cheap open and close.
    """
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return  # missing: nothing in it to see
    os.close(fd)


def write_all(fd: int, content: Content) -> None:
    """Write all of ``content`` to ``fd`` (os.write may write less than asked)."""
    if callable(content):
        content(fd)
        return
    data = content.encode("utf-8") if isinstance(content, str) else content
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def reason_of(err: OSError) -> str:
    """A short human reason for an OS error (\"no space left on the device\"...)."""
    if err.errno == errno.ENOSPC:
        return "no space left on the device"
    if err.errno == errno.EDQUOT:
        return "disk quota exceeded"
    if err.errno in (errno.EACCES, errno.EPERM):
        return _permission_denied(err)
    if err.errno == errno.EROFS:
        return "read-only file system"
    if err.errno == errno.ENOENT:
        return "its folder does not exist"
    if err.errno in (errno.ENOTDIR, errno.EEXIST):
        return "a file is in the way (a part of the path is a file, not a folder)"
    return err.strerror or str(err)


def _user(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _group(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def _permission_denied(err: OSError) -> str:
    """Which file refused whom, and the permission that is missing.

    A file is created or replaced in its folder, so the folder's write permission is
    what counts, unless the file exists and is opened in place (locks, logs).
    """
    path = err.filename if isinstance(err.filename, str) else None
    if path is None:
        return "permission denied"
    target = path
    while target and not os.path.lexists(target):
        parent = os.path.dirname(target)
        if parent == target:
            break
        target = parent
    target = target or "."
    try:
        st = os.stat(target)
    except OSError:
        return f"permission denied on {path}"
    kind = "folder" if stat.S_ISDIR(st.st_mode) else "file"
    user = _user(os.geteuid())
    groups = sorted({_group(g) for g in (os.getegid(), *os.getgroups())})
    needed = "write and enter (w, x)" if kind == "folder" else "write (w)"
    return (
        f"permission denied: the {kind} {target} is {stat.filemode(st.st_mode)} "
        f"{_user(st.st_uid)}:{_group(st.st_gid)} and user {user} (groups "
        f"{', '.join(groups)}) lacks {needed} permission on it; a shared experiment needs "
        "its group to write every folder (chmod -R g+w, g+s on folders, umask 002: "
        "see docs/security.md)"
    )


def _write_temp(path: str, content: Content, fsync: bool, mode: int) -> str:
    tmp = temp_name(path)
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except OSError as err:
        raise StoreWriteError(path, reason_of(err)) from err
    try:
        write_all(fd, content)
        if fsync:
            os.fsync(fd)
    except BaseException as err:
        os.close(fd)
        _unlink_quietly(tmp)
        if isinstance(err, OSError):
            raise StoreWriteError(path, reason_of(err)) from err
        raise
    os.close(fd)  # on NFS, close flushes: the data is on the server before the rename
    return tmp


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def atomic_write(path: str, content: Content, *, fsync: bool = True, mode: int = FILE_MODE) -> None:
    """Replace ``path`` with ``content`` atomically.

    ``fsync=False`` skips the two fsyncs for files that may be lost in a crash (hints,
    caches that are checked on read); the rename is atomic either way.

    Raises:
        StoreWriteError: the file could not be written (full disk, permissions...); the
            old content, if any, is unchanged and no temporary file is left behind.
    """
    tmp = _write_temp(path, content, fsync, mode)
    try:
        os.replace(tmp, path)
    except OSError as err:
        _unlink_quietly(tmp)
        raise StoreWriteError(path, reason_of(err)) from err
    if fsync:
        fsync_dir(os.path.dirname(path))


def atomic_create(
    path: str, content: Content, *, mode: int = FILE_MODE, fsync: bool = True
) -> bool:
    """Create ``path`` with ``content`` unless it exists; True if this call created it.

    The content is complete from the moment the name appears. Over NFS a lost reply
    to ``link`` may turn a success into EEXIST; the link count of the temporary file
    tells the two apart. The server decides whether the name exists, so this is
    exclusive across hosts even when a client caches the name as missing.
    ``fsync=False`` skips the fsyncs, for a file that may be lost in a crash.

    Raises:
        StoreWriteError: the file could not be written for another reason than existing.
    """
    tmp = _write_temp(path, content, fsync, mode)
    try:
        try:
            os.link(tmp, path)
        except FileExistsError:
            return os.stat(tmp).st_nlink == 2  # our link did happen; only the reply was lost
        except OSError as err:
            raise StoreWriteError(path, reason_of(err)) from err
        if fsync:
            fsync_dir(os.path.dirname(path))
        return True
    finally:
        _unlink_quietly(tmp)


def publish_dir(tmp_dir: str, path: str, *, fsync: bool = True) -> bool:
    """Rename a fully written temporary folder to ``path``; False if ``path`` already exists.

    Used for artifacts made of several files: they appear together or not at all. When
    two processes publish the same folder, the first one wins and the loser's copy is
    removed. ``fsync=False`` skips making the rename durable, for content that is
    checked on read (a crash then costs a recomputation, never a wrong result).
    """
    try:
        os.rename(tmp_dir, path)
    except OSError as err:
        if err.errno in (errno.EEXIST, errno.ENOTEMPTY):
            shutil.rmtree(tmp_dir, ignore_errors=True)
            return False
        shutil.rmtree(tmp_dir, ignore_errors=True)
        raise StoreWriteError(path, reason_of(err)) from err
    if fsync:
        fsync_dir(os.path.dirname(path))
    return True


def read_bytes(path: str, limit: int | None = None) -> bytes:
    """The whole content of ``path`` (at most ``limit`` bytes), with few system calls."""
    fd = os.open(path, os.O_RDONLY)
    try:
        if limit is None:
            limit = os.fstat(fd).st_size + 1
        chunks = []
        while limit > 0:
            chunk = os.read(fd, min(limit, 1 << 24))
            if not chunk:
                break
            chunks.append(chunk)
            limit -= len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)
