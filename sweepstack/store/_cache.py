"""The artifact cache: one folder per artifact, published atomically, checked on read.

Layout (``DIR/cache`` by default; a cache may also be shared between experiments)::

    cache/<kk>/<key>/meta.json      what made the key, checksum, sizes, run, created
    cache/<kk>/<key>/data.<ext>     the data file(s) written by a cacher
    cache/leases/                   stage leases of keys being computed (:mod:`._lease`)

``<kk>`` is the first two hex digits of the key (:func:`~sweepstack.store._format.shard`).
Names come from keys only, never from parameter values.

An artifact is written into a temporary folder next to its final place, and the
folder is renamed into place with :func:`~sweepstack.store._atomic.publish_dir`:
readers see all of it or nothing, and when two processes compute the same artifact
at once the first rename wins and the other copy is dropped, both calls succeeding.
Data files are not fsynced: a crash may leave a published folder whose data never
reached the disk, and the checksum in ``meta.json`` catches that on read, after
which the artifact is quarantined and recomputed. So every read of data goes
through :meth:`ArtifactCache.load`, which checks sizes and the checksum first.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import shutil
from collections.abc import Iterator
from typing import Any, Callable, TypeVar

from sweepstack.errors import ArtifactCorruptError, StoreWriteError
from sweepstack.store._atomic import is_temp_name, publish_dir, reason_of, refresh_dir, temp_name
from sweepstack.store._check import quarantine_file
from sweepstack.store._format import CACHE_DIR, FORMAT_VERSION, QUARANTINE_DIR, dumps, shard
from sweepstack.store._lease import LEASES_DIR, StageLeases
from sweepstack.store._names import SHORT_HOST

__all__ = ["META_FILE", "ArtifactCache", "checksum_folder"]

META_FILE = "meta.json"
"""The metadata file of an artifact folder; every other file in the folder is data."""

_CHUNK = 1 << 20

T = TypeVar("T")


def checksum_folder(folder: str) -> tuple[str, dict[str, int]]:
    """``("sha256:<hex>", {relative path: size})`` over every data file of ``folder``.

    Files are hashed in sorted order of their relative paths, each preceded by its path
    and size, so that renaming or moving bytes between files changes the checksum.
    """
    files: dict[str, int] = {}
    _list_files(folder, "", files)
    files.pop(META_FILE, None)
    digest = hashlib.sha256()
    for rel in sorted(files):
        digest.update(f"{rel}\0{files[rel]}\0".encode())
        with open(os.path.join(folder, rel), "rb") as f:
            while True:
                chunk = f.read(_CHUNK)
                if not chunk:
                    break
                digest.update(chunk)
    return "sha256:" + digest.hexdigest(), files


def _list_files(folder: str, prefix: str, files: dict[str, int]) -> None:
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                _list_files(entry.path, f"{prefix}{entry.name}/", files)
            else:
                files[prefix + entry.name] = entry.stat(follow_symlinks=False).st_size


class ArtifactCache:
    """The artifacts of one cache folder, by key.

    Args:
        root: the cache folder (``DIR/cache``); created when missing, on first write.
        quarantine: where corrupt artifacts are moved; default ``<root>/../quarantine/cache``.
        lease: seconds a stage lease of this cache stays valid without renewal
            (see :attr:`leases`).

    >>> import tempfile
    >>> cache = ArtifactCache(tempfile.mkdtemp())
    >>> key = "ab" * 16
    >>> def write(folder):
    ...     with open(os.path.join(folder, "data.txt"), "w") as f:
    ...         f.write("hello")
    >>> cache.save(key, {"stage": "greet"}, write)
    True
    >>> cache.load(key, lambda folder: open(os.path.join(folder, "data.txt")).read())
    'hello'
    """

    def __init__(self, root: str, quarantine: str | None = None, lease: float = 600.0) -> None:
        self.root = os.path.abspath(os.fspath(root))
        self.quarantine_dir = os.path.abspath(
            quarantine or os.path.join(os.path.dirname(self.root), QUARANTINE_DIR, CACHE_DIR)
        )
        self._shards: set[str] = set()
        self.leases = StageLeases(os.path.join(self.root, LEASES_DIR), lease)
        """Who computes which key now: a stage takes its output key's lease to run."""

    def __repr__(self) -> str:
        return f"ArtifactCache({self.root!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (self.__class__, (self.root, self.quarantine_dir, self.leases.lease))

    # --- reading ---------------------------------------------------------------------

    def path(self, key: str) -> str:
        """The folder of artifact ``key`` (whether or not it exists)."""
        return os.path.join(self.root, shard(key), key)

    @staticmethod
    def relative_path(key: str) -> str:
        """The folder of artifact ``key`` relative to the cache folder: ``<kk>/<key>``."""
        return os.path.join(shard(key), key)

    def read_meta(self, key: str) -> dict[str, Any] | None:
        """The metadata of artifact ``key``, or None when there is no such artifact.

        This is the whole cost of a cache hit: one small file read.

        Raises:
            ArtifactCorruptError: the artifact exists but its metadata is unreadable.
        """
        path = os.path.join(self.root, key[:2], key, META_FILE)
        try:
            with open(path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            return None
        except NotADirectoryError:
            raise ArtifactCorruptError(key, self.path(key), "it is a file, not a folder") from None
        try:
            meta = json.loads(data)
        except ValueError as err:
            raise ArtifactCorruptError(
                key, self.path(key), f"unreadable {META_FILE}: {err}"
            ) from None
        if not isinstance(meta, dict) or not isinstance(meta.get("checksum"), str):
            raise ArtifactCorruptError(key, self.path(key), f"{META_FILE} has no checksum")
        return meta

    def refresh(self, key: str) -> None:
        """Make the next :meth:`read_meta` of ``key`` see an artifact another host just
        published (NFS clients cache missing names; see :func:`._atomic.refresh_dir`).

        The cache folder first: the shard folder itself may be a name cached as missing.
        """
        refresh_dir(self.root)
        refresh_dir(os.path.join(self.root, key[:2]))

    def has(self, key: str) -> bool:
        """True when artifact ``key`` exists (its data is not checked)."""
        return os.path.exists(os.path.join(self.path(key), META_FILE))

    def verify(self, key: str, meta: dict[str, Any] | None = None) -> dict[str, Any]:
        """Check the files of artifact ``key`` against its metadata; return the metadata.

        Raises:
            ArtifactCorruptError: the artifact is missing, truncated, or fails its checksum.
        """
        folder = self.path(key)
        if meta is None:
            meta = self.read_meta(key)
            if meta is None:
                raise ArtifactCorruptError(key, folder, "it does not exist (removed meanwhile?)")
        expected = meta.get("files") or {}
        for rel, size in expected.items():
            try:
                found = os.path.getsize(os.path.join(folder, rel))
            except OSError:
                raise ArtifactCorruptError(key, folder, f"data file {rel} is missing") from None
            if found != size:
                raise ArtifactCorruptError(
                    key, folder, f"data file {rel} has {found} bytes, {size} were written"
                )
        checksum, files = checksum_folder(folder)
        if set(files) != set(expected):
            extra = sorted(set(files) - set(expected))
            raise ArtifactCorruptError(key, folder, f"unexpected data files {extra}")
        if checksum != meta["checksum"]:
            raise ArtifactCorruptError(
                key, folder, f"checksum mismatch ({checksum[:19]}..., {meta['checksum'][:19]}...)"
            )
        return meta

    def load(self, key: str, read: Callable[[str], T], meta: dict[str, Any] | None = None) -> T:
        """Verify artifact ``key``, then return ``read(folder)``.

        Raises:
            ArtifactCorruptError: the artifact is missing, truncated or fails its checksum
                (``read`` is not called). Errors raised by ``read`` itself pass through.
        """
        self.verify(key, meta)
        return read(self.path(key))

    # --- writing ---------------------------------------------------------------------

    def save(
        self,
        key: str,
        meta: dict[str, Any],
        write: Callable[[str], None],
        *,
        replace: bool = False,
    ) -> bool:
        """Write artifact ``key``: ``write(folder)`` fills a fresh folder with data files.

        ``meta`` (JSON values) is completed with the checksum, sizes, key, creation time
        and host, and written next to the data. Returns True if this call published the
        artifact, False if another process published the same key first (its copy is
        kept, ours dropped). ``replace=True`` (an overwrite) replaces an existing copy.

        Raises:
            StoreWriteError: the folder could not be written (full disk, permissions).
            Exception: whatever ``write`` raised; nothing is left behind in the cache.
        """
        final = self.path(key)
        parent = os.path.dirname(final)
        if parent not in self._shards:
            _makedirs(parent)
            self._shards.add(parent)
        tmp = temp_name(final)
        try:
            try:
                os.mkdir(tmp)
            except FileNotFoundError:  # the shard was removed behind our back
                _makedirs(parent)
                os.mkdir(tmp)
        except OSError as err:  # read-only, no space, permissions: the store's, not the stage's
            raise StoreWriteError(final, reason_of(err)) from err
        try:
            write(tmp)
            checksum, files = checksum_folder(tmp)
            document = dict(meta)
            document.update(
                format=FORMAT_VERSION,
                key=key,
                checksum=checksum,
                files=files,
                size=sum(files.values()),
                created=datetime.datetime.now(datetime.timezone.utc).isoformat(
                    timespec="milliseconds"
                ),
                host=SHORT_HOST,
            )
            # The folder is private until publish_dir renames it into place, so its files
            # need neither a temporary name nor an fsync of their own: a crash leaves a
            # folder whose checksum fails, which is then quarantined and recomputed.
            with open(os.path.join(tmp, META_FILE), "w", encoding="utf-8") as f:
                f.write(dumps(document))
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        if replace:
            self._set_aside(final)
        # no fsync: the data files are not fsynced either, and a lost or torn artifact fails
        # its checksum on read and is recomputed; the rename alone keeps it atomic
        return publish_dir(tmp, final, fsync=False)

    def _set_aside(self, final: str) -> None:
        aside = temp_name(final)
        try:
            os.rename(final, aside)
        except OSError:
            return  # nothing to replace
        shutil.rmtree(aside, ignore_errors=True)

    # --- maintenance (sweepstack check / cache) ----------------------------------------

    def iter_artifacts(self) -> Iterator[str]:
        """Keys of every artifact of the cache, skipping folders still being written."""
        try:
            shards = sorted(os.listdir(self.root))
        except FileNotFoundError:
            return
        for kk in shards:
            folder = os.path.join(self.root, kk)
            if len(kk) != 2 or not os.path.isdir(folder):
                continue
            for name in sorted(os.listdir(folder)):
                if not is_temp_name(name) and name.startswith(kk):
                    yield name

    def check(self) -> list[ArtifactCorruptError]:
        """Verify every artifact; the problems found, one error per corrupt artifact."""
        problems = []
        for key in self.iter_artifacts():
            try:
                self.verify(key)
            except ArtifactCorruptError as err:
                problems.append(err)
        return problems

    def quarantine(self, key: str) -> str | None:
        """Move artifact ``key`` out of the cache; its new path, or None if it was gone.

        The next run recomputes it. Quarantined folders are kept for inspection under
        ``quarantine/cache/<key>.<host>.<unique>``.
        """
        return quarantine_file(self.path(key), self.quarantine_dir)

    def remove(self, key: str) -> bool:
        """Delete artifact ``key``; False if it did not exist."""
        final = self.path(key)
        aside = temp_name(final)
        try:
            os.rename(final, aside)  # atomic: readers see it or not, never half-deleted
        except FileNotFoundError:
            return False
        shutil.rmtree(aside, ignore_errors=True)
        return True


def _makedirs(path: str) -> None:
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as err:
        raise StoreWriteError(path, reason_of(err)) from err
