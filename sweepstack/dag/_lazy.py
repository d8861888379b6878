"""Lazy: an output kept out of memory, loaded from the cache only when read.

``Lazy("name")`` in a stage's ``outputs`` marks an output to be dropped from memory
as soon as it is cached. Every artifact found in the cache is a bound ``Lazy`` too
(its key, cacher and cache): reading ``record.state["name"]`` or passing it to a
stage loads it then. ``Lazy("name", resolve=False)`` hands the ``Lazy`` itself to
the stages that take it as input, so that they can pass its :attr:`Lazy.path` to
another program instead of loading it.
"""

from __future__ import annotations

import os
from typing import Any

from sweepstack.errors import CacheDetachedError, CacherError

__all__ = ["Lazy"]


class Lazy:
    """A stage output kept out of memory; also the handle of a cached artifact.

    Args:
        name: the output's name, as in ``outputs=[...]``.
        resolve: when False, stages taking this output get the ``Lazy`` itself.

    >>> from sweepstack.dag import stage
    >>> @stage(outputs=["small", Lazy("large")], version="1")
    ... def make(record):
    ...     return 1, list(range(10**6))
    """

    __slots__ = ("_cache", "cacher", "key", "meta", "name", "resolve", "stage")

    def __init__(self, name: str, resolve: bool = True) -> None:
        self.name = name
        self.resolve = resolve
        self.key: str | None = None
        self.stage: str = ""
        self.cacher: Any = None
        self.meta: dict[str, Any] | None = None
        self._cache: Any = None

    @classmethod
    def bound(
        cls,
        name: str,
        key: str,
        cacher: Any,
        cache: Any,
        stage: str,
        resolve: bool = True,
        meta: dict[str, Any] | None = None,
    ) -> Lazy:
        """The handle of artifact ``key`` in ``cache``, written by ``cacher``."""
        lazy = cls(name, resolve)
        lazy.key, lazy.cacher, lazy._cache, lazy.stage, lazy.meta = key, cacher, cache, stage, meta
        return lazy

    @property
    def path(self) -> str:
        """The artifact's folder in the cache.

        Raises:
            CacheDetachedError: not bound to a cache (an output declaration, or unpickled).
        """
        if self._cache is None or self.key is None:
            raise CacheDetachedError(str(self.key), self.name)
        return self._cache.path(self.key)

    @property
    def data_path(self) -> str:
        """The main data file of the artifact (what its cacher wrote)."""
        return os.path.join(self.path, "data" + self.cacher.extension)

    def attach(self, cache: Any) -> None:
        """Bind to ``cache`` (after unpickling, in another process)."""
        self._cache = cache

    def load(self) -> Any:
        """Verify the artifact's checksum and load it with its cacher.

        Raises:
            ArtifactCorruptError: the artifact is missing, truncated or corrupt.
            CacherError: the data is intact but the cacher could not read it.
            CacheDetachedError: no cache is attached.
        """
        if self._cache is None or self.key is None:
            raise CacheDetachedError(str(self.key), self.name)
        cacher = self.cacher

        def read(folder: str) -> Any:
            try:
                return cacher.load(os.path.join(folder, "data" + cacher.extension))
            except Exception as err:
                raise CacherError(
                    self.stage,
                    self.name,
                    type(cacher).__name__,
                    "load",
                    f"{type(err).__name__}: {err} (the data passed its checksum; rerun with "
                    f"--overwrite {self.stage} to recompute it)",
                ) from err

        try:
            return self._cache.load(self.key, read, self.meta)
        finally:
            self.meta = None  # verified once; a later load re-reads fresh metadata

    def __getstate__(self) -> dict[str, Any]:
        return {s: getattr(self, s) for s in self.__slots__ if s not in ("_cache", "meta")}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._cache = None
        self.meta = None
        for k, v in state.items():
            setattr(self, k, v)

    def __repr__(self) -> str:
        if self.key is None:
            return f"Lazy({self.name!r})" if self.resolve else f"Lazy({self.name!r}, resolve=False)"
        return f"<Lazy {self.name!r} of stage {self.stage!r}, artifact {self.key}>"

    def __str__(self) -> str:
        return self.name
