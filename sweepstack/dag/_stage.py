"""``@stage`` and ``@aggregate``: functions of a record whose outputs are cached.

Decorating checks the declaration against the function's signature, so that a
mistake is reported where the stage is defined rather than in the middle of a
sweep. Calling a stage on a record only registers a node of the record's graph
(:mod:`sweepstack.dag._call`); the graph runs when the record is resolved.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, Callable, NoReturn, TypeVar, Union

from sweepstack.dag._cachers import as_cacher
from sweepstack.dag._fingerprint import fingerprint, source_of
from sweepstack.dag._lazy import Lazy
from sweepstack.errors import StageDefinitionError

if TYPE_CHECKING:
    from sweepstack.dag._record import Record

__all__ = ["Aggregate", "Stage", "aggregate", "stage"]

F = TypeVar("F", bound=Callable[..., Any])
Output = Union[str, Lazy]

_CO_VARKEYWORDS = 0x08


class Stage:
    """A function of a record whose outputs are cached artifacts; made by :func:`stage`.

    Attributes:
        name: the function's name, part of every key of its outputs.
        inputs: names of the outputs of earlier stages it takes, as keyword arguments.
        outputs: names of what it returns.
        params: the params (and config entries) it reads; None: every param.
        version: stands for the code in keys when given.
    """

    is_aggregate = False

    def __init__(
        self,
        fn: Callable[..., Any],
        inputs: Sequence[str] | None,
        outputs: Sequence[Output] | None,
        cachers: Sequence[Any] | None,
        params: Sequence[str] | None,
        version: str | int | None,
    ) -> None:
        self.fn = fn
        self.name: str = getattr(fn, "__name__", type(fn).__name__)
        self._module: str = getattr(fn, "__module__", None) or "__main__"
        self._qualname: str = getattr(fn, "__qualname__", self.name)
        functools.update_wrapper(self, fn)
        self.inputs: tuple[str, ...] = self._names(inputs, "inputs")
        declared = self._outputs(outputs)
        self.outputs: tuple[str, ...] = tuple(str(o) for o in declared)
        self.lazy: tuple[bool, ...] = tuple(isinstance(o, Lazy) for o in declared)
        self.resolve: tuple[bool, ...] = tuple(
            o.resolve if isinstance(o, Lazy) else True for o in declared
        )
        self.cachers: tuple[Any, ...] = self._cachers(cachers)
        self.params: tuple[str, ...] | None = (
            None if params is None else self._names(params, "params")
        )
        if version is not None and type(version) not in (str, int):
            self._fail(f"version must be a str or an int, got {type(version).__name__}")
        self.version = version
        self._code: str | None = None if version is None else f"version:{version}"
        self._fingerprint: str | None = None
        self._source: str | None = None
        self._check_signature()

    # --- declaration checks ---------------------------------------------------------

    def _fail(self, problem: str) -> NoReturn:
        raise StageDefinitionError(self.name, problem)

    def _names(self, names: Any, what: str) -> tuple[str, ...]:
        if names is None:
            return ()
        if isinstance(names, str) or not isinstance(names, Iterable):
            self._fail(f'{what} must be a list of names, got {names!r}; write {what}=["..."]')
        result = tuple(names)
        for name in result:
            if not isinstance(name, str) or not name:
                self._fail(f"{what} must hold non-empty str names, got {name!r}")
        if len(set(result)) != len(result):
            self._fail(f"{what} names a value twice: {list(result)}")
        return result

    def _outputs(self, outputs: Any) -> tuple[Output, ...]:
        if outputs is None:
            return ()
        if isinstance(outputs, (str, Lazy)) or not isinstance(outputs, Iterable):
            self._fail(f'outputs must be a list of names, got {outputs!r}; write outputs=["..."]')
        result = tuple(outputs)
        for output in result:
            if not isinstance(output, (str, Lazy)) or not str(output):
                self._fail(f"outputs must hold names or Lazy(name), got {output!r}")
        names = [str(o) for o in result]
        if len(set(names)) != len(names):
            self._fail(f"outputs names a value twice: {names}")
        return result

    def _cachers(self, cachers: Any) -> tuple[Any, ...]:
        if cachers is None:
            return tuple(as_cacher(None) for _ in self.outputs)
        if not isinstance(cachers, (list, tuple)):
            self._fail(f"cachers must be a list with one cacher per output, got {cachers!r}")
        if len(cachers) != len(self.outputs):
            self._fail(
                f"{len(cachers)} cacher(s) for {len(self.outputs)} output(s); give one per "
                "output, in order (None for the default, DillCacher)"
            )
        result = []
        for spec in cachers:
            cacher = as_cacher(spec)
            if cacher is None:
                self._fail(
                    f"{spec!r} is not a cacher; give a Cacher class or instance (an object "
                    "with save(obj, path) and load(path))"
                )
            result.append(cacher)
        return tuple(result)

    def _leading(self) -> int:
        return 1  # the record

    def _check_signature(self) -> None:
        code = getattr(self.fn, "__code__", None)
        if code is None:
            return  # a callable object: its call is checked when it runs
        positional = code.co_varnames[: code.co_argcount]
        keyword = code.co_varnames[: code.co_argcount + code.co_kwonlyargcount]
        leading = self._leading()
        if code.co_argcount < leading and not code.co_flags & 0x04:
            takes = "(record, records, ...)" if leading == 2 else "(record, ...)"
            self._fail(f"the function must take the record first: def {self.name}{takes}")
        if code.co_flags & _CO_VARKEYWORDS:
            return
        missing = [i for i in self.inputs if i not in keyword[leading:]]
        if missing:
            self._fail(
                f"inputs {missing} are not parameters of the function; each input is passed "
                f"by name: def {self.name}(record, {', '.join(self.inputs)})"
            )
        required = [
            p
            for p in positional[leading : code.co_argcount - len(self.fn.__defaults__ or ())]
            if p not in self.inputs
        ]
        if required:
            self._fail(f"parameters {required} are not declared inputs and have no default")

    # --- identity -------------------------------------------------------------------

    @property
    def code(self) -> str:
        """What stands for the code in keys: ``version:<v>`` or the code fingerprint.

        Raises:
            StageDefinitionError: no version and the source cannot be read.
        """
        if self._code is None:
            self._code = self.fingerprint
        return self._code

    @property
    def fingerprint(self) -> str:
        """The digest of the stage's normalised source (computed once)."""
        if self._fingerprint is None:
            self._fingerprint = fingerprint(self.fn, self.name)
        return self._fingerprint

    @property
    def source(self) -> str | None:
        """The stage's source text (read once), or None when it cannot be read."""
        if self._source is None:
            try:
                self._source = source_of(self.fn, self.name)
            except StageDefinitionError:
                return None
        return self._source

    # --- calling --------------------------------------------------------------------

    def __call__(self, record: Record) -> Record:
        """Register this stage on ``record`` (run it now in eager mode); return the record.

        Raises:
            StageDefinitionError: not called with a record, called inside another stage,
                or an input is not an output of a stage called before on this record.
        """
        register = getattr(record, "_register", None)
        if register is None:
            self._fail(
                f"called with a {type(record).__name__}; call it with a record: {self.name}(record)"
            )
        return register(self, None)

    def __reduce__(self) -> tuple[Any, ...]:
        # by reference, like a function: records pickle their graph to cross processes
        try:
            found = _import_stage(self._module, self._qualname)
        except (ImportError, AttributeError):
            found = None
        if found is not self:
            import pickle

            raise pickle.PicklingError(
                f"stage {self.name!r} cannot be pickled: it is not reachable as "
                f"{self._module}.{self._qualname}. Define stages at module level so that "
                "records can cross processes."
            )
        return (_import_stage, (self._module, self._qualname))

    def __repr__(self) -> str:
        kind = "aggregate" if self.is_aggregate else "stage"
        return f"<{kind} {self.name} {list(self.inputs)} -> {list(self.outputs)}>"


class Aggregate(Stage):
    """A stage over many records: ``def f(record, records, *inputs)``; made by :func:`aggregate`.

    Each input is a dict ``{member record: value}`` of that output of every member.
    """

    is_aggregate = True

    def _leading(self) -> int:
        return 2  # the record, then the members

    def __call__(self, record: Record, records: Iterable[Record] | None = None) -> Record:
        """Register this aggregate on ``record`` over ``records``; return ``record``.

        Raises:
            AggregateError: no records, or a member lacks one of the inputs.
        """
        register = getattr(record, "_register", None)
        if register is None:
            self._fail(
                f"called with a {type(record).__name__}; call it with a record and the "
                f"records to aggregate: {self.name}(record, records)"
            )
        return register(self, records)


def _import_stage(module: str, qualname: str) -> Stage:
    obj: Any = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


def stage(
    inputs: Sequence[str] | None = None,
    outputs: Sequence[Output] | None = None,
    cachers: Sequence[Any] | None = None,
    params: Sequence[str] | None = None,
    version: str | int | None = None,
) -> Callable[[Callable[..., Any]], Stage]:
    """Make a function ``f(record, *inputs) -> outputs`` a cached stage.

    Args:
        inputs: outputs of earlier stages on the same record, passed by name.
        outputs: names of the returned values (a tuple when several); ``Lazy(name)``
            keeps one out of memory once cached.
        cachers: one per output (class or instance); default :class:`DillCacher`.
        params: the params it reads, and the config entries; only those make its keys,
            and reading any other is an :class:`~sweepstack.errors.UndeclaredParamError`.
            None (the default) means every param, and no config entry.
        version: stands for the code in keys; without it, editing the function's code
            (not its comments or formatting) recomputes its outputs.

    >>> @stage(outputs=["points"], params=["n", "seed"])
    ... def draw(record):
    ...     import random
    ...     rng = random.Random(record.params["seed"])
    ...     return [(rng.random(), rng.random()) for _ in range(record.params["n"])]

    Raises:
        StageDefinitionError: the declaration does not match the function.
    """

    def decorate(fn: Callable[..., Any]) -> Stage:
        return Stage(fn, inputs, outputs, cachers, params, version)

    if callable(inputs) and not isinstance(inputs, (list, tuple)):  # bare @stage
        fn, inputs = inputs, None
        return decorate(fn)
    return decorate


def aggregate(
    inputs: Sequence[str] | None = None,
    outputs: Sequence[Output] | None = None,
    cachers: Sequence[Any] | None = None,
    params: Sequence[str] | None = None,
    version: str | int | None = None,
) -> Callable[[Callable[..., Any]], Aggregate]:
    """Make ``f(record, records, *inputs) -> outputs`` a cached stage over many records.

    Each input is a dict ``{member record: its value}``. Keys of the outputs are made of
    the members' keys and the keys of their inputs, so adding a member recomputes it.

    >>> @aggregate(inputs=["pi"], outputs=["table"], params=[])
    ... def compare(record, records, pi):
    ...     return {r.key: value for r, value in pi.items()}

    Raises:
        StageDefinitionError: the declaration does not match the function.
    """

    def decorate(fn: Callable[..., Any]) -> Aggregate:
        return Aggregate(fn, inputs, outputs, cachers, params, version)

    return decorate
