"""Who holds a claim: the identity of a process, and whether it is provably dead.

An owner is one process. Its identity names the host it runs on precisely enough
to tell, from another process of the same machine, whether it is still alive: the
host name, the kernel's boot id (a pid is meaningless after a reboot), the pid
namespace (a container sees other pids), the pid, and the process's start time (a
pid is reused once its process is gone). From another host nothing is provable,
and a claim is judged by its lease only.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

from sweepstack.store._names import HOST

__all__ = ["Owner", "current_owner", "death", "is_dead", "is_parent"]


def _read(path: str) -> str | None:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def _process_start(pid: int) -> int | None:
    """Start time of a process in clock ticks since boot, or None if it has none (gone)."""
    stat = _read(f"/proc/{pid}/stat")
    if stat is None:
        return None
    # the command name (field 2) may hold spaces and parentheses: split after the last ')'
    fields = stat[stat.rfind(")") + 2 :].split()
    if fields[0] in ("Z", "X"):
        return None  # a zombie has exited; only its exit status is left to reap
    return int(fields[19])


def _machine() -> tuple[str, str, int]:
    boot = (_read("/proc/sys/kernel/random/boot_id") or "").strip()
    try:
        pidns = os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        pidns = 0
    return HOST, boot, pidns


@dataclass(frozen=True)
class Owner:
    """The identity of a process holding claims, as declared in a sweeper journal."""

    id: str
    host: str
    pid: int
    start: int | None
    boot: str
    pidns: int
    lease: float
    since: float  # wall-clock time of the declaration, for display only

    def to_json(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "pid": self.pid,
            "start": self.start,
            "boot": self.boot,
            "pidns": self.pidns,
            "lease": self.lease,
            "since": self.since,
        }

    @classmethod
    def from_json(cls, owner_id: str, data: dict[str, Any]) -> Owner:
        return cls(
            id=owner_id,
            host=str(data.get("host", "?")),
            pid=int(data.get("pid", 0)),
            start=data.get("start"),
            boot=str(data.get("boot", "")),
            pidns=int(data.get("pidns", 0)),
            lease=float(data.get("lease", 600.0)),
            since=float(data.get("since", 0.0)),
        )

    def same_machine(self, other: Owner) -> bool:
        """True if both processes see the same process table (so liveness can be checked)."""
        return (
            bool(self.boot)
            and self.boot == other.boot
            and self.host == other.host
            and self.pidns == other.pidns
        )


_current: tuple[int, str] | None = None
_current_lock = threading.Lock()


def current_owner(lease: float) -> Owner:
    """This process as an owner. The id is fixed per process (a forked child gets a new one)."""
    global _current
    pid = os.getpid()
    with _current_lock:
        if _current is None or _current[0] != pid:
            _current = (pid, uuid.uuid4().hex[:12])
        owner_id = _current[1]
    host, boot, pidns = _machine()
    return Owner(owner_id, host, pid, _process_start(pid), boot, pidns, float(lease), time.time())


def is_dead(owner: Owner, observer: Owner) -> bool:
    """True only if ``owner`` is provably gone: it ran on the observer's machine and has exited.

    A process on another machine, or one whose start time cannot be read, is never
    declared dead here; its lease decides.
    """
    return death(owner, observer) is not None


def death(owner: Owner, observer: Owner) -> str | None:
    """How ``owner`` is provably gone, for people ("process gone", "pid reused"), or None
    when it may be alive (another machine, an unknown start time, or alive)."""
    if not owner.same_machine(observer) or owner.start is None:
        return None
    start = _process_start(owner.pid)
    if start == owner.start:
        return None
    return "process gone" if start is None else "pid reused by another process"


def is_parent(owner: Owner, observer: Owner) -> bool:
    """True if ``owner`` is the live parent process of ``observer`` (same machine, the
    parent's pid, and the start time the owner declared: not a reused pid)."""
    if not owner.same_machine(observer) or owner.start is None:
        return False
    return owner.pid == os.getppid() and _process_start(owner.pid) == owner.start
