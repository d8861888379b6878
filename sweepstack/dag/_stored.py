"""The outputs of a record rebuilt from its stored document (``Record.from_document``).

Such a record has no stage functions, only the keys of its outputs: each stage's
outputs behave like a call that was a cache hit, loaded (and verified) on read. A
missing or corrupt artifact cannot be recomputed here and is an error.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from sweepstack.dag._call import HIT
from sweepstack.dag._lazy import Lazy
from sweepstack.errors import ArtifactCorruptError, CacheDetachedError

if TYPE_CHECKING:
    from sweepstack.dag._record import Record

__all__ = ["StoredOutputs", "cacher_from_meta"]


def cacher_from_meta(meta: dict[str, Any]) -> Any:
    """The cacher named in an artifact's metadata, rebuilt with its recorded arguments."""
    import importlib

    from sweepstack.dag._cachers import DillCacher

    name = str(meta.get("cacher") or "")
    module, _, qualname = name.rpartition(".")
    try:
        obj: Any = importlib.import_module(module)
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError, ValueError):
        return DillCacher()  # unknown: the checksum still guards what is read
    try:
        return obj(**(meta.get("cacher_args") or {}))
    except TypeError:
        return obj()


class _StoredStage:
    is_aggregate = False
    version = None

    def __init__(self, name: str, outputs: tuple[str, ...]) -> None:
        self.name = name
        self.outputs = outputs


class StoredOutputs:
    """The outputs of one stage of a record rebuilt from its stored document.

    They behave like a call that was a cache hit; a corrupt or missing artifact cannot
    be recomputed here (the stage's function is not known) and is an error.
    """

    status: str | None = HIT
    done = True
    consumed = True
    reason = "stored"
    lineage = None
    duration: float | None = None

    def __init__(self, record: Record, name: str, keys: dict[str, str]) -> None:
        self.record = record
        self.stage = _StoredStage(name, tuple(keys))
        self._keys = dict(keys)
        self.lazies: dict[str, Lazy] = {}
        self.reportables: list[dict[str, Any]] = []  # restored with the record instead

    def producers(self) -> Iterator[Any]:
        return iter(())

    def inputs(self) -> Iterator[Any]:
        return iter(())

    def key_of(self, output: str) -> str:
        return self._keys[output]

    def keys(self) -> dict[str, str]:
        return dict(self._keys)

    def overwrite_reason(self) -> str | None:
        return None

    def decide(self) -> tuple[str, str, dict[str, dict[str, Any]], bool]:
        return HIT, self.reason, {}, False

    def plan(self) -> None:
        pass

    def materialize(self) -> None:
        pass

    def display_status(self) -> str:
        return "stored"

    def passed_over(self, seen: frozenset[int] = frozenset()) -> bool:
        return False  # nothing consumes stored outputs in a way that skips them

    def entry(self) -> dict[str, Any]:
        return {"name": self.stage.name, "status": "stored", "outputs": self.keys()}

    def input_value(self, output: str) -> Any:
        """Load ``output`` from the cache (verified).

        Raises:
            ArtifactCorruptError: the artifact is missing or corrupt.
            CacheDetachedError: the record has no cache.
        """
        lazy = self.lazies.get(output)
        if lazy is None:
            key = self._keys[output]
            cache = self.record.cache
            if cache is None:
                raise CacheDetachedError(key, output)
            meta = cache.read_meta(key)
            if meta is None:
                raise ArtifactCorruptError(key, cache.path(key), "it is missing from the cache")
            lazy = Lazy.bound(
                output, key, cacher_from_meta(meta), cache, self.stage.name, True, meta
            )
            self.lazies[output] = lazy
        return lazy.load()

    def __getstate__(self) -> dict[str, Any]:
        return {
            "record": self.record,
            "stage": self.stage,
            "_keys": self._keys,
            "lazies": {},
            "reportables": [],
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
