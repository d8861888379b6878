"""What ``check`` passes find, and how damaged files are moved aside.

Every layer that verifies its files (the store's records, runs and artifacts, a
sweeper's journal and snapshot) reports a :class:`Problem` per damaged thing, and a
repair moves the file aside with :func:`quarantine_file` rather than deleting it:
nothing a user may want back is ever removed by a repair.
"""

from __future__ import annotations

import dataclasses
import errno
import os
import shutil
import uuid

from sweepstack.errors import StoreWriteError
from sweepstack.store._atomic import reason_of
from sweepstack.store._names import SHORT_HOST

__all__ = ["Problem", "quarantine_file"]


@dataclasses.dataclass(frozen=True)
class Problem:
    """One damaged or inconsistent thing found by a check.

    Attributes:
        kind: what it is: ``record``, ``run``, ``index``, ``artifact``, ``journal``,
            ``snapshot``, ``sweeps`` (a sweeper's saved combinations) or ``state`` (a
            sweeper's state disagreeing with the records).
        path: the file or folder concerned.
        problem: what is wrong, for people.
        key: the combination or artifact key, when there is one.
        sweep: the sweep (or sweeper) it belongs to, when there is one.
        repaired: what a repair did about it (None: not repaired).
    """

    kind: str
    path: str
    problem: str
    key: str | None = None
    sweep: str | None = None
    repaired: str | None = None

    def fixed(self, action: str) -> Problem:
        """A copy of this problem marked repaired by ``action``."""
        return dataclasses.replace(self, repaired=action)

    def to_json(self) -> dict[str, str | None]:
        return dataclasses.asdict(self)

    def __str__(self) -> str:
        what = f"{self.kind} {self.key}" if self.key else self.kind
        where = f" of sweep {self.sweep}" if self.sweep else ""
        done = f" [repaired: {self.repaired}]" if self.repaired else ""
        return f"{what}{where} ({self.path}): {self.problem}{done}"


def quarantine_file(path: str, quarantine_dir: str, name: str | None = None) -> str | None:
    """Move ``path`` (a file or folder) into ``quarantine_dir``; its new path, or None if gone.

    The new name is ``<name or basename>.<host>.<random>``, so that quarantining the
    same name twice keeps both copies.

    Raises:
        StoreWriteError: the quarantine folder cannot be made, or the move failed.
    """
    try:
        os.makedirs(quarantine_dir, exist_ok=True)
    except OSError as err:
        raise StoreWriteError(quarantine_dir, reason_of(err)) from err
    base = name or os.path.basename(path.rstrip(os.sep))
    target = os.path.join(quarantine_dir, f"{base}.{SHORT_HOST}.{uuid.uuid4().hex[:8]}")
    try:
        os.rename(path, target)
    except FileNotFoundError:
        return None  # moved or removed by another process meanwhile
    except OSError as err:
        if err.errno != errno.EXDEV:
            raise StoreWriteError(target, reason_of(err)) from err
        shutil.move(path, target)  # a quarantine on another file system
    return target
