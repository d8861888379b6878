"""A deferred stage call: one node of a record's graph, and how it is resolved.

Resolving a node makes its outputs available, doing as little as possible:

1. *plan*: decide whether it runs or is a cache hit. It runs when it has no outputs,
   when an output's artifact is missing (or was written by another cacher, or is
   corrupt), or when it is overwritten (``--overwrite`` names it or a stage upstream
   of it) and its artifacts were not already rewritten in this run. Only a node that
   runs plans the nodes it takes inputs from, so the upstream of a cache hit is never
   looked at: neither run nor loaded.
2. *materialize*: a hit becomes bound :class:`~sweepstack.dag._lazy.Lazy` handles
   (nothing is read but the metadata); a run first materializes its producers, loads
   its inputs, calls the function, splits and stores its outputs.

A Lazy found corrupt when loaded is quarantined, reported with an
:class:`~sweepstack.errors.ArtifactCorruptWarning`, and its node runs again.

Fields and reportables made by a stage are stored in the metadata of its outputs
together with those of the stages upstream of it (its *lineage*), so a cache hit on
the last stage of a pipeline restores every field the pipeline set.
"""

from __future__ import annotations

import os
import threading
import time
import warnings
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from sweepstack.dag._cachers import cacher_name
from sweepstack.dag._keys import artifact_key, jsonable, key_base
from sweepstack.dag._lazy import Lazy
from sweepstack.errors import (
    ArtifactCorruptError,
    ArtifactCorruptWarning,
    CacherError,
    StageOutputError,
    StoreWriteError,
)

if TYPE_CHECKING:
    from sweepstack.dag._record import Record
    from sweepstack.dag._stage import Stage

__all__ = ["FAILED", "HIT", "RUN", "Call"]

RUN = "run"
HIT = "hit"
FAILED = "failed"

_UNSET: Any = object()
_COMPUTED: Any = object()  # the outputs were computed by another process while this one waited

_running = threading.local()


def running_call() -> Call | None:
    """The stage call executing in this thread (its function is running), or None."""
    stack = getattr(_running, "stack", None)
    return stack[-1] if stack else None


def _report_corrupt(err: ArtifactCorruptError) -> None:
    warnings.warn(f"{err} Recomputing it now.", ArtifactCorruptWarning, stacklevel=4)


class Call:
    """One call of a stage on a record."""

    __slots__ = (
        "_base",
        "_keys",
        "_overwrite",
        "_parts",
        "_recovered",
        "consumed",
        "consumers",
        "done",
        "duration",
        "fields",
        "lazies",
        "lineage",
        "members",
        "metas",
        "reason",
        "record",
        "replace",
        "reportables",
        "saved",
        "sources",
        "stage",
        "status",
        "values",
    )

    def __init__(
        self,
        record: Record,
        stage: Stage,
        sources: dict[str, Any],
        members: list[Record] | None = None,
    ) -> None:
        self.record = record
        self.stage = stage
        # stage: {input: (producer, output)}; aggregate: {input: [(member, producer, output)]}
        self.sources = sources
        self.members = members
        self.consumed = False  # a later call of the same record takes one of its outputs
        self.consumers: list[Call] = []  # aggregates of other records taking its outputs
        self.reset()

    def reset(self) -> None:
        """Forget what was decided and computed (before a retry or a recompute)."""
        self.status: str | None = None
        self.reason = ""
        self.done = False
        self.replace = False
        self.values: dict[str, Any] = {}
        self.lazies: dict[str, Lazy] = {}
        self.metas: dict[str, dict[str, Any]] = {}
        self.saved: set[str] = set()
        self.fields: dict[str, Any] = {}
        self.reportables: list[dict[str, Any]] = []
        self.lineage: tuple[dict[str, Any], list[dict[str, Any]]] | None = None
        self.duration: float | None = None
        self._recovered = False
        if not hasattr(self, "_parts"):
            self._parts: dict[str, Any] | None = None
            self._base: bytes | None = None
            self._keys: dict[str, str] | None = None
            self._overwrite: Any = _UNSET

    # --- the graph ------------------------------------------------------------------

    def producers(self) -> Iterator[Any]:
        """The nodes whose outputs this one takes, in input order.

        An aggregate also depends on every output of its members (it may read their
        ``record.state``, and their keys are in its own), so those come after its inputs.
        """
        if self.stage.is_aggregate:
            seen: set[int] = set()
            for entries in self.sources.values():
                for _, producer, _ in entries:
                    if id(producer) not in seen:
                        seen.add(id(producer))
                        yield producer
            for member in self.members or ():
                for producer in member._producers.values():
                    if id(producer) not in seen:
                        seen.add(id(producer))
                        yield producer
        else:
            for producer, _ in self.sources.values():
                yield producer

    def inputs(self) -> Iterator[Any]:
        """The nodes whose outputs are this one's declared inputs (the tree of the map;
        an aggregate's other reads of its members are in :meth:`producers`)."""
        seen: set[int] = set()
        if self.stage.is_aggregate:
            pairs = (producer for entries in self.sources.values() for _, producer, _ in entries)
        else:
            pairs = (producer for producer, _ in self.sources.values())
        for producer in pairs:
            if id(producer) not in seen:
                seen.add(id(producer))
                yield producer

    # --- keys -----------------------------------------------------------------------

    def parts(self) -> dict[str, Any]:
        """What this call's output keys are made of (see :mod:`sweepstack.dag._keys`).

        Raises:
            UnkeyableValueError: a declared param has a value with no stable key.
            StageDefinitionError: the stage has no version and its source is unreadable.
        """
        if self._parts is None:
            stage = self.stage
            params, config, missing = self.record._declared(stage.params)
            parts: dict[str, Any] = {
                "stage": stage.name,
                "code": stage.code,
                "outputs": list(stage.outputs),
                "params": params,
                "config": config,
                "missing": missing,
            }
            if stage.is_aggregate:
                assert self.members is not None
                parts["members"] = sorted({m.key for m in self.members})
                parts["inputs"] = {
                    name: {m.key: p.key_of(o) for m, p, o in entries}
                    for name, entries in self.sources.items()
                }
                # an aggregate may read its members' record.state: every output a member
                # has counts in the key, so such a read can never make the cache stale
                parts["state"] = {m.key: _state_keys(m) for m in self.members}
            else:
                parts["inputs"] = {name: p.key_of(o) for name, (p, o) in self.sources.items()}
            self._base = key_base(parts)
            self._parts = parts
        return self._parts

    def key_of(self, output: str) -> str:
        """The artifact key of ``output``."""
        if self._keys is None:
            parts = self.parts()
            self._keys = {o: artifact_key(parts, o, self._base) for o in self.stage.outputs}
        return self._keys[output]

    def keys(self) -> dict[str, str]:
        """``{output: artifact key}`` of every output."""
        return {o: self.key_of(o) for o in self.stage.outputs}

    # --- deciding -------------------------------------------------------------------

    def overwrite_reason(self) -> str | None:
        """Why this call is overwritten, or None (own name, or a stage upstream of it)."""
        if self._overwrite is _UNSET:
            spec = self.record.options.overwrite
            reason = None
            if spec is True:
                reason = "overwrite (every stage)"
            elif spec and self.stage.name in spec:
                reason = f"overwrite {self.stage.name}"
            else:
                for producer in self.producers():
                    if producer.overwrite_reason():
                        reason = f"upstream stage {producer.stage.name} is overwritten"
                        break
            self._overwrite = reason
        return self._overwrite

    def decide(self) -> tuple[str, str, dict[str, dict[str, Any]], bool]:
        """``(status, reason, metadata of the cached outputs, replace)``, from the cache.

        Reads only metadata. A corrupt artifact is reported and quarantined, except in a
        dry record, which writes nothing.
        """
        record = self.record
        cache = record.cache
        stage = self.stage
        if not stage.outputs:
            return RUN, "it has no outputs, so it always runs", {}, False
        if cache is None:
            return RUN, "no cache", {}, False
        if record.dry_cache:
            return RUN, "dry_cache: the cache is not used", {}, False
        metas: dict[str, dict[str, Any]] = {}
        for output, cacher in zip(stage.outputs, stage.cachers):
            key = self.key_of(output)
            try:
                meta = cache.read_meta(key)
            except ArtifactCorruptError as err:
                if record.dry:
                    return RUN, f"artifact {key} ({output}) is corrupt: {err.problem}", {}, False
                _report_corrupt(err)
                cache.quarantine(key)
                return RUN, f"artifact {key} ({output}) was corrupt: {err.problem}", {}, False
            if meta is None:
                return RUN, f"no artifact with key {key} ({output})", {}, False
            if meta.get("cacher") != cacher_name(cacher):
                return (
                    RUN,
                    f"artifact {key} ({output}) was written by {meta.get('cacher')}, the "
                    f"stage now uses {cacher_name(cacher)}",
                    {},
                    False,
                )
            metas[output] = meta
        overwrite = self.overwrite_reason()
        if overwrite:
            if record.id_run is not None and all(
                m.get("run") == record.id_run for m in metas.values()
            ):
                return HIT, f"{overwrite}, already rewritten in this run", metas, False
            return RUN, overwrite, {}, True
        runs = sorted({str(m.get("run")) for m in metas.values()})
        return HIT, f"cached by run {', '.join(runs)}", metas, False

    def plan(self) -> None:
        """Decide whether this call runs or is a cache hit, and plan what it needs."""
        if self.status is not None:
            return
        self.status, self.reason, self.metas, self.replace = self.decide()
        if self.status == RUN:
            for producer in self.producers():
                producer.plan()

    # --- doing ----------------------------------------------------------------------

    def materialize(self) -> None:
        """Make this call's outputs available: bind its cache hits, or run it."""
        if self.done:
            return
        self.plan()
        if self.record.dry:
            return
        if self.status == HIT:
            self._bind_hits()
        else:
            self._execute()

    def _bind_hits(self) -> None:
        stage, record = self.stage, self.record
        for i, output in enumerate(stage.outputs):
            self.lazies[output] = Lazy.bound(
                output,
                self.key_of(output),
                stage.cachers[i],
                record.cache,
                stage.name,
                stage.resolve[i],
                self.metas[output],
            )
        first = self.metas[stage.outputs[0]]
        self.lineage = (dict(first.get("fields") or {}), list(first.get("reportables") or []))
        record._restore(*self.lineage)
        self.done = True

    def _gather(self) -> dict[str, Any]:
        inputs: dict[str, Any] = {}
        if self.stage.is_aggregate:
            for name, entries in self.sources.items():
                values = {}
                for member, producer, output in entries:
                    producer.materialize()
                    values[member] = producer.input_value(output)
                inputs[name] = values
        else:
            for name, (producer, output) in self.sources.items():
                producer.materialize()
                inputs[name] = producer.input_value(output)
        return inputs

    def _execute(self) -> None:
        record, stage = self.record, self.stage
        self.status = RUN
        inputs = self._gather()  # before the lease: a process never waits while holding one
        lease = self._take_lease()
        if lease is _COMPUTED:
            self._bind_hits()
            return
        record._enter(self)
        stack = _running.__dict__.setdefault("stack", [])
        stack.append(self)
        start = time.perf_counter()
        failure: BaseException | None = None
        try:
            try:
                if stage.is_aggregate:
                    result = stage.fn(record, list(self.members or ()), **inputs)
                else:
                    result = stage.fn(record, **inputs)
                values = self._split(result)
            except BaseException as err:
                self.status = FAILED
                failure = err
                raise
            finally:
                self.duration = time.perf_counter() - start
                stack.pop()
                record._leave()
            try:
                self._store(values)
            except BaseException as err:
                self.status = FAILED
                failure = err
                raise
        finally:
            if lease is not None:
                self._release(lease, failure)
        self.done = True

    def _take_lease(self) -> Any:
        """The lease of this call's outputs, None (no cache), or ``_COMPUTED``.

        ``_COMPUTED`` means another process computed the outputs while this one waited
        (or just before it took the lease): they are cache hits now.
        """
        record, stage = self.record, self.stage
        leases = getattr(record.cache, "leases", None)
        if leases is None or record.dry_cache or not stage.outputs:
            return None

        def computed() -> bool:
            refresh = getattr(record.cache, "refresh", None)
            if refresh is not None:  # another host's artifact is not hidden by a cached miss
                for output in stage.outputs:
                    refresh(self.key_of(output))
            status, reason, metas, replace = self.decide()
            if status != HIT:
                return False
            self.status, self.metas, self.replace = status, metas, replace
            self.reason = f"computed meanwhile by another process ({reason})"
            return True

        lease = leases.acquire(self.key_of(stage.outputs[0]), stage.name, record.key, computed)
        if lease is None:
            return _COMPUTED
        # published between this call's plan and its lease: a hit after all
        if computed():
            leases.release(lease)
            return _COMPUTED
        return lease

    def _release(self, lease: Any, failure: BaseException | None) -> None:
        # Waiters fail with the stage's own failure (they would compute the same key);
        # an interrupt or an environment error only gives the lease back, and a waiter
        # computes the key itself.
        if not isinstance(failure, Exception) or isinstance(failure, StoreWriteError):
            failure = None
        self.record.cache.leases.release(lease, failure)

    def _split(self, result: Any) -> tuple[Any, ...]:
        # curifactory's rule: a tuple is one value per output, anything else is the
        # single output's value; so a tuple value of a one-output stage comes wrapped,
        # ((a, b),), and a bare (a, b) there is an error rather than a silent pair
        names = self.stage.outputs
        n = len(names)
        if n == 0:
            if result is not None:
                raise StageOutputError(self.stage.name, 0, 1, names)
            return ()
        if n == 1:
            if isinstance(result, tuple):
                if len(result) != 1:
                    raise StageOutputError(self.stage.name, 1, len(result), names)
                return (result[0],)
            return (result,)
        if not isinstance(result, (tuple, list)):
            raise StageOutputError(self.stage.name, n, 1, names)
        if len(result) != n:
            raise StageOutputError(self.stage.name, n, len(result), names)
        return tuple(result)

    def _lineage(self) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        if self.lineage is None:
            fields: dict[str, Any] = {}
            reportables: list[dict[str, Any]] = []
            for producer in self.producers():
                # an aggregate's members are other records: their fields are theirs
                if producer.record is self.record and producer.lineage is not None:
                    fields.update(producer.lineage[0])
                    reportables.extend(r for r in producer.lineage[1] if r not in reportables)
            fields.update(self.fields)
            reportables.extend(self.reportables)
            self.lineage = (fields, reportables)
        return self.lineage

    def _store(self, values: tuple[Any, ...]) -> None:
        record, stage = self.record, self.stage
        fields, reportables = self._lineage()
        cache = record.cache
        if cache is None or record.dry_cache or not stage.outputs:
            self.values = dict(zip(stage.outputs, values))
            return
        parts = self.parts()
        base_meta = {
            "stage": stage.name,
            "code": stage.code,
            "version": stage.version,
            "params": jsonable(parts["params"]),
            "config": jsonable(parts["config"]),
            "missing": parts["missing"],
            "inputs": parts["inputs"],
            "outputs": parts["outputs"],
            "run": record.id_run,
            "record": record.key,
            "fields": fields,
            "reportables": reportables,
        }
        if stage.is_aggregate:
            base_meta["members"] = parts["members"]
            base_meta["state"] = parts["state"]
        if record.store_full:
            base_meta["source"] = stage.source
        for i, (output, value) in enumerate(zip(stage.outputs, values)):
            cacher = stage.cachers[i]
            key = self.key_of(output)
            meta = dict(base_meta, output=output, cacher=cacher_name(cacher))
            meta["cacher_args"] = (
                jsonable(dict(vars(cacher))) if hasattr(cacher, "__dict__") else {}
            )
            cache.save(key, meta, _writer(stage.name, output, cacher, value), replace=self.replace)
            self.saved.add(output)
            lazy = stage.lazy[i] or record.lazy or not getattr(cacher, "keep_value", True)
            if lazy and not record.ignore_lazy:
                self.lazies[output] = Lazy.bound(
                    output, key, cacher, cache, stage.name, stage.resolve[i]
                )
            else:
                self.values[output] = value

    def input_value(self, output: str) -> Any:
        """The value of ``output`` as a stage input or a state read (loading a Lazy).

        A corrupt artifact is quarantined, reported, and recomputed once.

        Raises:
            ArtifactCorruptError: still corrupt after recomputing it.
            CacherError: the cacher could not read intact data.
        """
        if output in self.values:
            return self.values[output]
        lazy = self.lazies.get(output)
        if lazy is None:
            self.materialize()
            if output in self.values:
                return self.values[output]
            lazy = self.lazies[output]
        if not lazy.resolve:
            return lazy
        try:
            value = lazy.load()
        except ArtifactCorruptError as err:
            if self._recovered or self.record.cache is None:
                raise
            _report_corrupt(err)
            self.record.cache.quarantine(lazy.key)
            self.reset()
            self._recovered = True
            self.materialize()
            return self.input_value(output)
        if self._keeps(output):
            self.values[output] = value  # loaded once, as curifactory loads into the record
        return value

    def _keeps(self, output: str) -> bool:
        """True if ``output``, once loaded, stays in memory (it is not Lazy)."""
        stage, record = self.stage, self.record
        i = stage.outputs.index(output)
        lazy = stage.lazy[i] or record.lazy or not getattr(stage.cachers[i], "keep_value", True)
        return not lazy or record.ignore_lazy

    # --- describing -----------------------------------------------------------------

    def display_status(self) -> str:
        """run, hit, skipped (not needed), failed, or pending (planned, not reached)."""
        if self.status is None:
            # not needed because a stage downstream was found cached (or was itself not
            # needed); until the record's graph is resolved that far, it is only pending
            return "skipped" if self.record.dry or self.passed_over() else "pending"
        if self.status == FAILED:
            return FAILED
        if self.done or self.record.dry:
            return self.status
        return "pending"

    def passed_over(self, seen: frozenset[int] = frozenset()) -> bool:
        """True if a consumer of this call's outputs, in its record, was decided
        (run, found cached, failed) or was itself passed over."""
        seen = seen | {id(self)}
        for call in self.record.calls:
            if id(call) in seen or not any(p is self for p in call.producers()):
                continue
            if call.status is not None or call.passed_over(seen):
                return True
        return not self.consumed and self.needless()

    def needless(self) -> bool:
        """True if only aggregates of other records take this call's outputs and each of
        them was found cached, so nothing needs them (an aggregate that runs reads what it
        needs; what it did not read is still made when this call's record is resolved)."""
        return bool(self.consumers) and all(c.status == HIT for c in self.consumers)

    def entry(self) -> dict[str, Any]:
        """What happened to this call, as JSON values (one item of ``record.stages``)."""
        stage = self.stage
        entry: dict[str, Any] = {
            "name": stage.name,
            "status": self.display_status(),
            "reason": self.reason,
            "duration": self.duration,
            "code": None,
            "version": stage.version,
            "outputs": {},
        }
        try:
            parts = self.parts()
        except Exception as err:  # an unkeyable param: the entry says so instead of keys
            entry["reason"] = entry["reason"] or f"no keys: {err}"
        else:
            entry.update(
                code=parts["code"],
                outputs=self.keys(),
                params=jsonable(parts["params"]),
                config=jsonable(parts["config"]),
                missing=parts["missing"],
                inputs=parts["inputs"],
            )
            if "members" in parts:
                entry["members"] = parts["members"]
        if self.status == HIT and self.metas:
            entry["cached_run"] = next(iter(self.metas.values())).get("run")
        if self.record.store_full:
            entry["source"] = stage.source
        return entry

    # --- pickling -------------------------------------------------------------------

    def __getstate__(self) -> dict[str, Any]:
        state = {s: getattr(self, s) for s in self.__slots__}
        # values cross processes as Lazy handles to their artifacts, never as data
        state["values"] = {}
        state["consumers"] = []  # other records' aggregates stay in this process
        lazies = dict(self.lazies)
        for output in self.saved:
            if output in self.values and self._keys is not None:
                i = self.stage.outputs.index(output)
                lazies[output] = Lazy.bound(
                    output, self._keys[output], self.stage.cachers[i], None, self.stage.name
                )
        state["lazies"] = lazies
        state["metas"] = {}
        if self.status == RUN and self.done and len(lazies) < len(self.stage.outputs):
            state["status"], state["done"] = None, False  # unsaved values: recompute if read
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        for k, v in state.items():
            setattr(self, k, v)


def _writer(stage: str, output: str, cacher: Any, value: Any) -> Any:
    def write(folder: str) -> None:
        path = os.path.join(folder, "data" + cacher.extension)
        try:
            cacher.save(value, path)
        except Exception as err:
            raise CacherError(
                stage, output, type(cacher).__name__, "save", f"{type(err).__name__}: {err}"
            ) from err

    return write


def _state_keys(member: Record) -> dict[str, str]:
    """``{output: key}`` of every output of ``member`` that has a key."""
    keys = {}
    for name, producer in member._producers.items():
        try:
            keys[name] = producer.key_of(name)
        except Exception:
            continue  # unkeyable: not readable by the aggregate (a read says so)
    return keys
