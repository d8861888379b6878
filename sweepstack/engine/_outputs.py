"""Copying and redirecting stdout and stderr to files (execo_engine's -L, -R and -M).

Copying (``tee``) needs no external program: a forked helper process reads what the
engine writes and writes it both to the original stream and to the file. Being a
separate process, it still copies what was written before a crash, and it ignores
Ctrl-C so that the last words of an interrupted engine reach the file.
"""

from __future__ import annotations

import os
import signal
import sys

__all__ = ["copy_outputs", "redirect_outputs"]


def _open_append(path: str) -> int:
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o666)


def _flush_std() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass


def redirect_outputs(stdout_filename: str, stderr_filename: str) -> None:
    """Send file descriptors 1 and 2 to files (the same file twice merges them)."""
    _flush_std()
    targets = {}
    for fd, path in ((1, stdout_filename), (2, stderr_filename)):
        if path not in targets:
            targets[path] = _open_append(path)
        os.dup2(targets[path], fd)
    for target in targets.values():
        os.close(target)
    _line_buffered()


def _line_buffered() -> None:
    # the streams now go to files or pipes: flush each line so nothing waits in a buffer
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            try:
                reconfigure(line_buffering=True)
            except (OSError, ValueError):
                pass


def _tee(fd: int, path: str) -> None:
    """Make ``fd`` write both where it did and to ``path``."""
    read_end, write_end = os.pipe()
    original = os.dup(fd)
    file_fd = _open_append(path)
    pid = os.fork()
    if pid == 0:  # the copier: read until every writer is gone, then exit
        try:
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            os.close(write_end)
            keep = {read_end, file_fd, original}
            for fd in range(3, 1024):
                if fd not in keep:
                    try:
                        os.close(fd)
                    except OSError:
                        pass
            while True:
                data = os.read(read_end, 65536)
                if not data:
                    break
                for target in (original, file_fd):
                    view = memoryview(data)
                    while view:
                        try:
                            view = view[os.write(target, view) :]
                        except OSError:
                            break
        finally:
            os._exit(0)
    os.close(read_end)
    os.close(file_fd)
    os.dup2(write_end, fd)
    os.close(write_end)
    os.close(original)


def copy_outputs(stdout_filename: str, stderr_filename: str) -> None:
    """Copy stdout and stderr to files, still showing them (the same file twice merges them).

    >>> copy_outputs("out.txt", "err.txt")  # doctest: +SKIP
    """
    _flush_std()
    _tee(1, stdout_filename)
    _tee(2, stderr_filename)  # merged: both copiers append to one file
    _line_buffered()
