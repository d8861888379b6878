"""Record: the state of one combination as it flows through stages.

A record holds the combination's ``params`` (read-only), the engine's fixed
``config``, ``fields`` (persisted scalars), ``vars`` (scratch, never persisted), its
``state`` (stage outputs by name), and the graph of the stage calls made on it.
Calling a stage on a record only registers the call; :meth:`Record.resolve` (or
reading a value from ``state``) runs what is needed.

Params and config inside a stage: a stage sees only what it declares in
``params=[...]``, because only that is in its cache keys. A declared name is looked
up in ``record.params`` and in ``record.config``; reading any other name, in either,
raises :class:`~sweepstack.errors.UndeclaredParamError` (also through ``get``
and ``in``); iteration, ``len``, ``keys()``, ``items()``, ``repr`` and ``dict()``
show exactly the declared names, so a stage can log its params. A stage that declares nothing (``params=None``) sees, and is
keyed by, every param, and no config entry.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Callable

from sweepstack._keys import param_key
from sweepstack._tracebacks import fold, format_exception
from sweepstack.dag._call import Call, running_call
from sweepstack.dag._keys import jsonable
from sweepstack.dag._producer import Producer
from sweepstack.dag._reportables import store_reportable
from sweepstack.dag._stage import Stage
from sweepstack.dag._stored import StoredOutputs
from sweepstack.errors import (
    AggregateError,
    DryRunError,
    StageDefinitionError,
    UndeclaredParamError,
    UnknownAttributeError,
)
from sweepstack.store._fields import FieldDict

__all__ = ["Record", "RecordOptions"]


class ReadOnlyDict(Mapping):
    """A plain, picklable, read-only mapping."""

    __slots__ = ("_data",)

    def __init__(self, data: Mapping[str, Any] | None = None) -> None:
        self._data = dict(data or {})

    def __getitem__(self, name: str) -> Any:
        return self._data[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, name: object) -> bool:
        return name in self._data

    def __repr__(self) -> str:
        return repr(self._data)

    def __getstate__(self) -> dict[str, Any]:
        return self._data

    def __setstate__(self, data: dict[str, Any]) -> None:
        self._data = data


class DeclaredView(Mapping):
    """What a running stage sees of params or config: its declared names only."""

    __slots__ = ("_data", "_declared", "_stage")

    def __init__(self, data: Mapping[str, Any], stage: str, declared: tuple[str, ...]) -> None:
        self._data = data
        self._stage = stage
        self._declared = declared

    def _check(self, name: Any) -> None:
        if name not in self._declared:
            raise UndeclaredParamError(self._stage, str(name), self._declared)

    def __getitem__(self, name: str) -> Any:
        self._check(name)
        return self._data[name]

    def get(self, name: str, default: Any = None) -> Any:
        self._check(name)
        return self._data.get(name, default)

    def __contains__(self, name: object) -> bool:
        self._check(name)
        return name in self._data

    def __iter__(self) -> Iterator[str]:
        # only the declared names: logging or copying the params reads nothing undeclared
        return (name for name in self._data if name in self._declared)

    def __len__(self) -> int:
        return sum(1 for name in self._data if name in self._declared)

    def __repr__(self) -> str:
        return repr({name: self._data[name] for name in self})


class State(Mapping):
    """``record.state``: stage outputs by name; reading one resolves the record first."""

    __slots__ = ("_record",)

    def __init__(self, record: Record) -> None:
        self._record = record

    def __getitem__(self, name: str) -> Any:
        record = self._record
        active = record._active
        producer = record._producers.get(name)
        if active is None:
            running = running_call()
            if running is not None and running.record is not record:
                return _member_read(running, record, name, producer)
        if active is not None:
            if name not in active.stage.inputs:
                raise StageDefinitionError(
                    active.stage.name,
                    f"read record.state[{name!r}], which is not one of its inputs; take it as "
                    f"an input instead: @stage(inputs=[..., {name!r}]), so that it is in the "
                    "stage's cache keys",
                )
            producer, output = active.sources[name]
            return producer.input_value(output)
        if producer is None:
            raise KeyError(
                f"no stage output {name!r} on this record (outputs: {sorted(record._producers)})"
            )
        if record.dry:
            raise DryRunError(name, producer.stage.name)
        record.resolve()
        producer.materialize()
        return producer.input_value(name)

    def __contains__(self, name: object) -> bool:
        return name in self._record._producers

    def __iter__(self) -> Iterator[str]:
        return iter(self._record._producers)

    def __len__(self) -> int:
        return len(self._record._producers)

    def __setitem__(self, name: str, value: Any) -> None:
        raise StageDefinitionError(
            "<record.state>",
            f"state[{name!r}] cannot be assigned: state holds stage outputs; return the value "
            "from a stage with outputs=[...] (or keep scratch values in record.vars)",
        )

    def __repr__(self) -> str:
        return f"<state {sorted(self._record._producers)}>"


def _text(text: str) -> str:
    """``text`` made writable as UTF-8: a failure's message must never be unstorable."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def _member_read(running: Call, record: Record, name: str, producer: Any) -> Any:
    """``record.state[name]`` read while the stage ``running`` of another record runs."""
    stage = running.stage
    members = running.members or ()
    if not stage.is_aggregate or not any(m is record for m in members):
        raise StageDefinitionError(
            stage.name,
            f"read record.state[{name!r}] of another record ({record.key[:12]}); a stage "
            "reads only its own inputs, and an @aggregate the state of the records it is "
            "given",
        )
    readable = running.parts()["state"].get(record.key, {})
    if producer is None or name not in readable:
        raise StageDefinitionError(
            stage.name,
            f"read record.state[{name!r}] of member {record.key[:12]}, which had no such "
            f"output when the aggregate was keyed (its outputs: {sorted(readable)}); call "
            "the stage that makes it on the member before calling the aggregate",
        )
    producer.materialize()
    return producer.input_value(name)


def _overwrite_spec(overwrite: Any) -> bool | frozenset[str] | None:
    if overwrite is None or overwrite is False:
        return None
    if overwrite is True:
        return True
    if isinstance(overwrite, str):
        return frozenset({overwrite})
    if isinstance(overwrite, Iterable):
        names = frozenset(overwrite)
        if all(isinstance(n, str) for n in names):
            return names or None
    raise StageDefinitionError(
        "<overwrite>",
        f"overwrite must be None, True, or stage names, got {overwrite!r}; e.g. "
        'overwrite={"train"} recomputes train and every stage downstream of it',
    )


@dataclass(frozen=True)
class RecordOptions:
    """How records run their stages: one frozen value, made once and shared by every record
    of an engine session or an :class:`~sweepstack.dag.ArtifactManager`.

    Attributes:
        overwrite: None, True (every stage), or stage names: those and everything
            downstream of them are recomputed.
        dry: plan only: nothing runs, nothing is written, reading a value is an error.
        dry_cache: run what is needed but read and write no artifact.
        eager: run each stage as soon as it is called (for debugging).
        store_full: keep each stage's source text in its entry and metadata.
        lazy: keep every output out of memory once cached (as if declared ``Lazy``).
        ignore_lazy: keep every output in memory, even those declared ``Lazy``.

    >>> RecordOptions(overwrite=["train"]).overwrite
    frozenset({'train'})
    """

    overwrite: bool | frozenset[str] | None = None
    dry: bool = False
    dry_cache: bool = False
    eager: bool = False
    store_full: bool = False
    lazy: bool = False
    ignore_lazy: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "overwrite", _overwrite_spec(self.overwrite))


_DEFAULT_OPTIONS = RecordOptions()


def _option(name: str, doc: str) -> property:
    return property(lambda self: getattr(self.options, name), doc=doc)


class WithOptions:
    """The fields of :attr:`options` as read-only attributes (of records and managers)."""

    options: RecordOptions
    overwrite = _option("overwrite", "True, or the stage names recomputed; None: none.")
    dry = _option("dry", "Plan only: nothing runs, nothing is written.")
    dry_cache = _option("dry_cache", "Run stages without reading or writing the cache.")
    eager = _option("eager", "Run stages as soon as they are called.")
    store_full = _option("store_full", "Keep stage sources (and the run's environment).")
    lazy = _option("lazy", "Keep every output out of memory once cached.")
    ignore_lazy = _option("ignore_lazy", "Keep every output in memory, even declared Lazy.")


def _as_cache(cache: Any) -> Any:
    if cache is None or hasattr(cache, "read_meta"):
        return cache
    from sweepstack.store._cache import ArtifactCache

    return ArtifactCache(cache)


class Record(WithOptions):
    """The state of one combination flowing through stages.

    Args:
        params: the combination (factor -> level); read-only.
        key: the combination's key; default ``param_key(params)``.
        id_run: the reference of the run (engine session) making it; stored with artifacts.
        config: fixed options of the experiment that stages may read (declared in params).
        cache: an :class:`~sweepstack.store._cache.ArtifactCache` (or its folder); None
            keeps everything in memory.
        options: how stages run (:class:`RecordOptions`); its fields may also be given
            as keywords: ``Record(params, dry=True)``.
        id_experiment: the ``id_experiment`` of the experiment the record belongs to.

    As MLtraq's runs, a record refuses attributes that are not part of its state
    (:class:`~sweepstack.errors.UnknownAttributeError`): persist a value in
    ``record.fields``, keep a scratch one in ``record.vars``.

    >>> from sweepstack.dag import stage
    >>> @stage(outputs=["double"], params=["x"])
    ... def double(record):
    ...     return 2 * record.params["x"]
    >>> double(Record({"x": 21})).state["double"]
    42
    """

    # what __init__ puts in each instance (straight into its __dict__)
    id_experiment: str | None
    key: str
    _params: ReadOnlyDict
    _config: ReadOnlyDict
    id_run: str | None
    _cache: Any
    created: float
    _clock: float
    fields: FieldDict
    vars: dict[str, Any]
    exception: BaseException | None
    failed_stage: str | None
    state: State
    _calls: list[Producer]
    _producers: dict[str, Producer]
    _active: Call | None
    _reportables: list[dict[str, Any]]
    _restored_reportables: list[dict[str, Any]]
    _reportable_data: dict[str, bytes]
    _all_records: Callable[[], list[Record]] | None
    _stored_stages: list[dict[str, Any]] | None
    _sealed: bool

    def __init__(
        self,
        params: Mapping[str, Any] | None = None,
        key: str | None = None,
        *,
        id_run: str | None = None,
        config: Mapping[str, Any] | None = None,
        cache: Any = None,
        id_experiment: str | None = None,
        options: RecordOptions | None = None,
        **flags: Any,
    ) -> None:
        params = {} if params is None else params
        # straight into __dict__: the checking __setattr__ is for users' assignments
        d = self.__dict__
        d["id_experiment"] = id_experiment
        d["key"] = key if key is not None else param_key(params)
        d["_params"] = ReadOnlyDict(params)
        d["_config"] = ReadOnlyDict(config)
        d["id_run"] = id_run
        d["_cache"] = _as_cache(cache)
        if flags:  # Record(params, dry=True): the options' fields as keywords
            unknown = sorted(set(flags) - set(RecordOptions.__dataclass_fields__))
            if unknown:
                raise TypeError(f"Record() got unexpected keyword arguments {unknown}")
            options = dataclasses.replace(options or _DEFAULT_OPTIONS, **flags)
        d["options"] = options or _DEFAULT_OPTIONS
        d["created"] = time.time()  # when the record was made: its combination's start
        d["_clock"] = time.monotonic()
        d["fields"] = FieldDict(on_change=self._field_set)
        d["vars"] = {}
        d["exception"] = None
        d["failed_stage"] = None
        d["state"] = State(self)
        d["_calls"] = []
        d["_producers"] = {}
        d["_active"] = None
        d["_reportables"] = []
        d["_restored_reportables"] = []
        d["_reportable_data"] = {}
        d["_all_records"] = None
        d["_stored_stages"] = None  # from_document
        d["_sealed"] = True  # from here on, only the names above can be assigned

    def __setattr__(self, name: str, value: Any) -> None:
        # MLtraq's run state is __slots__; here pickling and the stage machinery rely on
        # __dict__, so the refusal is explicit: after __init__, a public name must exist
        # (the common case, an existing name, is tested first: this runs on every set)
        known = self.__dict__
        if name in known or name[0] == "_" or "_sealed" not in known or hasattr(type(self), name):
            object.__setattr__(self, name, value)
            return
        raise UnknownAttributeError("record", name, self._state_names())

    def _state_names(self) -> tuple[str, ...]:
        names = {n for n in self.__dict__ if not n.startswith("_")}
        names.update(("params", "config", "steps"))
        return tuple(sorted(names))

    @property
    def elapsed(self) -> float:
        """Seconds since the record was made (its combination's time so far)."""
        return time.monotonic() - self._clock

    # --- params and config ----------------------------------------------------------

    @property
    def params(self) -> Mapping[str, Any]:
        """The combination; inside a stage, only the params it declares."""
        active = self._active
        if active is not None and active.stage.params is not None:
            return DeclaredView(self._params, active.stage.name, active.stage.params)
        return self._params

    @property
    def config(self) -> Mapping[str, Any]:
        """Fixed experiment options; inside a stage, only the entries it declares."""
        active = self._active
        if active is not None:
            return DeclaredView(self._config, active.stage.name, active.stage.params or ())
        return self._config

    def _declared(
        self, declared: tuple[str, ...] | None
    ) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
        """``(params, config, missing)`` values of the declared names, for keys."""
        params = self._params._data
        if declared is None:
            return dict(params), {}, []
        config = self._config._data
        found: dict[str, Any] = {}
        from_config: dict[str, Any] = {}
        missing = []
        for name in declared:
            if name in params:
                found[name] = params[name]
            if name in config:
                from_config[name] = config[name]
            if name not in params and name not in config:
                missing.append(name)
        return found, from_config, sorted(missing)

    @property
    def steps(self) -> list[Callable[..., Any]]:
        """The stage functions called on this record, in call order (MLtraq's ``steps``).

        A stage may read their source for lineage:

        >>> import inspect
        >>> from sweepstack.dag import stage
        >>> @stage(outputs=["y"], version="1")
        ... def one(record):
        ...     return 1
        >>> [f.__name__ for f in one(Record({"a": 1})).steps]
        ['one']
        """
        return [
            call.stage.fn
            for call in self._calls
            if hasattr(call, "stage") and hasattr(call.stage, "fn")
        ]

    # --- the graph ------------------------------------------------------------------

    def _register(self, stage: Stage, members: Iterable[Record] | None) -> Record:
        if self._active is not None:
            raise StageDefinitionError(
                stage.name,
                f"called inside stage {self._active.stage.name!r}; call stages from the "
                "experiment body (e.g. estimate(draw(record))), never from each other",
            )
        if stage.is_aggregate:
            call = self._aggregate_call(stage, members)
        else:
            sources = {}
            for name in stage.inputs:
                producer = self._producers.get(name)
                if producer is None:
                    raise StageDefinitionError(
                        stage.name,
                        f"input {name!r} is not an output of any stage called on this record "
                        f"before it (outputs so far: {sorted(self._producers)}); call the stage "
                        f"that returns {name!r} first",
                    )
                sources[name] = (producer, name)
                if producer.record is self:
                    producer.consumed = True
            call = Call(self, stage, sources)
        for output in stage.outputs:
            self._producers[output] = call
        self._calls.append(call)
        if self.eager:
            self._resolve_calls([call])
        return self

    def _aggregate_call(self, stage: Stage, members: Iterable[Record] | None) -> Call:
        if members is None:
            if self._all_records is None:
                raise AggregateError(
                    stage.name,
                    f"no records given; call it with the records to aggregate: "
                    f"{stage.name}(record, records)",
                )
            members = [r for r in self._all_records() if r is not self]
        members = list(members)
        if not members:
            raise AggregateError(stage.name, "it was given no records to aggregate")
        sources: dict[str, list[tuple[Record, Any, str]]] = {name: [] for name in stage.inputs}
        for member in members:
            if not isinstance(member, Record):
                raise AggregateError(
                    stage.name, f"records must be Record objects, got a {type(member).__name__}"
                )
            if member is self:
                raise AggregateError(stage.name, "a record cannot aggregate over itself")
            for name in stage.inputs:
                producer = member._producers.get(name)
                if producer is None:
                    raise AggregateError(
                        stage.name,
                        f"record {member.key} has no output {name!r} (its outputs: "
                        f"{sorted(member._producers)}); pass only records that have it",
                    )
                sources[name].append((member, producer, name))
        call = Call(self, stage, sources, members)
        for producer in call.producers():
            consumers = getattr(producer, "consumers", None)
            if consumers is not None:
                consumers.append(call)
        return call

    def _leaves(self) -> list[Any]:
        # a call whose outputs only an already decided aggregate takes is not a leaf:
        # resolving its record must not run it when that aggregate was a cache hit
        return [
            c
            for c in self._calls
            if not c.consumed and not (hasattr(c, "needless") and c.needless())
        ]

    def resolve(self) -> Record:
        """Run what is needed for every stage called on this record; return the record.

        Idempotent; a failed stage is retried. In a dry record, only plans.

        Raises:
            Exception: the exception of the stage that failed (its name is then in
                :attr:`failed_stage`, the exception in :attr:`exception`).
        """
        if self._active is not None:
            raise StageDefinitionError(
                self._active.stage.name, "called record.resolve() inside a stage"
            )
        return self._resolve_calls(self._leaves())

    def _resolve_calls(self, calls: list[Any]) -> Record:
        try:
            for call in calls:
                call.materialize()
        except BaseException as err:
            failed = [c for c in self._calls if getattr(c, "status", None) == "failed"]
            self.failed_stage = failed[-1].stage.name if failed else None
            if self.failed_stage is None:  # failed in a member record of an aggregate
                self.failed_stage = calls[-1].stage.name if calls else None
            self.exception = err
            raise
        self.failed_stage = None
        self.exception = None
        return self

    # --- fields, reportables --------------------------------------------------------

    def _enter(self, call: Call) -> None:
        self._active = call

    def _leave(self) -> None:
        self._active = None

    def _field_set(self, name: str, value: Any) -> None:
        if self._active is not None:
            self._active.fields[name] = value

    def _restore(self, fields: dict[str, Any], reportables: list[dict[str, Any]]) -> None:
        active, self._active = self._active, None  # restored fields belong to no running stage
        try:
            for name, value in fields.items():
                if name not in self.fields:  # a value set by a stage run now is newer
                    self.fields[name] = value
        finally:
            self._active = active
        for entry in reportables:
            if entry not in self._restored_reportables:
                self._restored_reportables.append(entry)

    def report(self, obj: Any, name: str | None = None, group: str | None = None) -> None:
        """Attach a figure, table (DataFrame), text or JSON dict to this record's report.

        Made inside a stage, it is cached with the stage's outputs and comes back on a
        cache hit.

        Raises:
            ReportableTypeError: ``obj`` is none of those.
        """
        active = self._active
        stage = active.stage.name if active is not None else None
        if name is None:
            name = f"{stage or 'record'}_{len(self.reportables)}"
        cache = None if (self.dry or self.dry_cache) else self._cache
        entry, data = store_reportable(obj, name, group, stage, cache)
        if cache is None:
            self._reportable_data[entry["key"]] = data
        if active is not None:
            active.reportables.append(entry)
        else:
            self._reportables.append(entry)

    @property
    def reportables(self) -> list[dict[str, Any]]:
        """Every reportable of the record (name, group, stage, kind, key, file)."""
        seen: list[dict[str, Any]] = list(self._restored_reportables)
        for call in self._calls:
            for entry in call.reportables:
                if entry not in seen:
                    seen.append(entry)
        return seen + [e for e in self._reportables if e not in seen]

    # --- what happened --------------------------------------------------------------

    @property
    def stages(self) -> list[dict[str, Any]]:
        """One entry per stage call: name, status (run, hit, skipped, failed, pending),
        reason, duration, code, version, output keys, key parts (params, config,
        missing, inputs), and the source text on store_full."""
        if self._stored_stages is not None:
            return list(self._stored_stages)
        return [call.entry() for call in self._calls]

    def outputs(self) -> dict[str, str]:
        """``{state name: artifact key}`` of the outputs this record has (or can load):
        those made or found cached, and those of stages skipped because a stage
        downstream of them was cached. Nothing in a dry record."""
        result: dict[str, str] = {}
        if self.dry:
            return result
        for name, producer in self._producers.items():
            made = producer.done and producer.display_status() != "failed"
            if made or producer.display_status() in ("skipped", "stored"):
                try:
                    result[name] = producer.key_of(name)
                except Exception:
                    continue  # an unkeyable param: it has no artifact
        return result

    def to_document(self) -> dict[str, Any]:
        """The record as JSON values, for the store: key, params, fields, exception,
        stages, outputs, reportables."""
        exception = None
        if self.exception is not None:
            err = self.exception
            kind = type(err)
            full = format_exception(err)
            exception = {
                "type": f"{kind.__module__}.{kind.__qualname__}",
                "message": _text(str(err)),
                "stage": self.failed_stage,
                "traceback": _text(fold(full)),  # starts at the user's frame
                "traceback_full": _text(full),
            }
        return {
            "key": self.key,
            "params": jsonable(self._params._data),
            "fields": self.fields.to_dict(),
            "exception": exception,
            "stages": self.stages,
            "outputs": self.outputs(),
            "reportables": self.reportables,
        }

    @classmethod
    def from_document(
        cls,
        document: Mapping[str, Any],
        cache: Any,
        *,
        id_run: str | None = None,
        config: Mapping[str, Any] | None = None,
        id_experiment: str | None = None,
    ) -> Record:
        """A done record rebuilt from its stored document, its outputs loadable from
        ``cache`` (for aggregates over every done combination).

        >>> doc = {"key": "ab" * 16, "params": {"n": 1}, "fields": {"error": 0.1},
        ...        "outputs": {}, "stages": []}
        >>> Record.from_document(doc, None).fields["error"]
        0.1
        """
        record = cls(
            document.get("params") or {},
            document["key"],
            id_run=id_run,
            config=config,
            cache=cache,
            id_experiment=id_experiment,
        )
        record.fields.update(document.get("fields") or {})
        stages = list(document.get("stages") or [])
        record._stored_stages = stages
        outputs = dict(document.get("outputs") or {})
        by_stage: dict[str, dict[str, str]] = {}
        for name, key in outputs.items():
            stage = next(
                (s["name"] for s in stages if name in (s.get("outputs") or {})), "<stored>"
            )
            by_stage.setdefault(stage, {})[name] = key
        for stage, keys in by_stage.items():
            stored = StoredOutputs(record, stage, keys)
            record._calls.append(stored)
            for name in keys:
                record._producers[name] = stored
        record._restored_reportables = list(document.get("reportables") or [])
        return record

    # --- processes ------------------------------------------------------------------

    def attach(self, cache: Any) -> Record:
        """Give this record (unpickled in another process) its cache back; return it."""
        self._cache = _as_cache(cache)
        for call in self._calls:
            for lazy in call.lazies.values():
                lazy.attach(self._cache)
        return self

    @property
    def calls(self) -> tuple[Producer, ...]:
        """The stage calls of this record, in call order (and stored outputs, when rebuilt
        from a document): the nodes of its graph."""
        return tuple(self._calls)

    @property
    def cache(self) -> Any:
        """The artifact cache (None when detached or in memory only)."""
        return self._cache

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_cache"] = None  # a store handle never crosses processes
        state["_active"] = None
        state["_all_records"] = None
        state["vars"] = {}  # scratch
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.state = State(self)
        self.fields = FieldDict(self.fields, on_change=self._field_set)

    def __repr__(self) -> str:
        stages = ", ".join(f"{c.stage.name}:{c.display_status()}" for c in self._calls)
        return f"<Record {self.key[:12]} {dict(self._params._data)!r} [{stages}]>"

    def _repr_html_(self) -> str:
        from sweepstack.dag._display import record_html

        return record_html(self)
