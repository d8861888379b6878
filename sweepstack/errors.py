"""Every error sweepstack raises, in one tree rooted at :class:`SweepstackError`.

Each class also inherits the built-in exception a user would naturally catch
(``KeyError`` for a missing key, ``OSError`` for a file problem...), keeps what
went wrong as attributes, and builds its message in ``__str__``: what was found,
what was expected, and what to do about it.

The positional arguments given to ``__init__`` are passed on to
``Exception.__init__`` in the same order, so that every error pickles and
unpickles unchanged (they cross worker processes)::

    >>> import pickle
    >>> err = FormatVersionError("/data/exp", found=3, supported=1)
    >>> str(pickle.loads(pickle.dumps(err))) == str(err)
    True
"""

from __future__ import annotations

import errno
from typing import Any

__all__ = [
    "AggregateError",
    "ArtifactCorruptError",
    "ArtifactCorruptWarning",
    "CacheDetachedError",
    "CacherError",
    "ClaimLostWarning",
    "CorruptEntryError",
    "CorruptEntryWarning",
    "DryRunError",
    "EngineMismatchError",
    "ExperimentNotFoundError",
    "FieldValueError",
    "ForeignFormatError",
    "FormatVersionError",
    "GpuAllocationError",
    "JournalCorruptError",
    "JournalWarning",
    "LauncherError",
    "NoSweepsError",
    "NotAnExperimentError",
    "OptionalDependencyError",
    "OptionsChangedWarning",
    "OverrideError",
    "QueryError",
    "ReportableTypeError",
    "SampleError",
    "SnapshotCorruptError",
    "SpaceChangedError",
    "StageDefinitionError",
    "StageFailedElsewhereError",
    "StageOutputError",
    "StoreValueError",
    "StoreWriteError",
    "SweepSpecError",
    "SweepstackError",
    "SweepstackWarning",
    "UndeclaredParamError",
    "UnkeyableValueError",
    "UnknownAttributeError",
    "UnknownCombinationError",
    "UnknownOutputError",
    "UnknownRunError",
    "UnstorableValueError",
    "is_environment_error",
]

_UPGRADE = "pip install --upgrade sweepstack"


class SweepstackError(Exception):
    """Root of every error raised by sweepstack."""

    def __str__(self) -> str:  # subclasses build their own text
        return super().__str__()

    def __reduce__(self) -> tuple[Any, ...]:
        # Exception pickles as cls(*self.args) plus __dict__; every subclass passes its
        # __init__ arguments positionally to Exception.__init__, so this round-trips.
        return (self.__class__, self.args, self.__dict__)


class SweepstackWarning(UserWarning):
    """Root of the warnings sweepstack emits."""


class JournalWarning(SweepstackWarning):
    """A sweeper journal had a torn or garbage entry, which was ignored."""


class ClaimLostWarning(SweepstackWarning):
    """A combination was finished by a process whose claim had been taken over."""


class OptionsChangedWarning(SweepstackWarning):
    """An experiment was continued with options that change results."""


class ArtifactCorruptWarning(SweepstackWarning):
    """A cached artifact was corrupt: it was quarantined and is being recomputed."""


class CorruptEntryWarning(SweepstackWarning):
    """Unreadable records or runs were skipped while iterating an experiment's store."""


# --- parameters and keys -------------------------------------------------------------


class SweepSpecError(SweepstackError, ValueError):
    """A parameter space given to :func:`sweepstack.sweep` is malformed."""

    def __init__(self, factor: Any, problem: str, path: tuple[Any, ...] = ()) -> None:
        super().__init__(factor, problem, path)
        self.factor = factor
        self.problem = problem
        self.path = path

    def __str__(self) -> str:
        where = "".join(f"[{p!r}]" for p in self.path)
        return (
            f"factor {self.factor!r}{' in sub-sweep ' + where if where else ''}: {self.problem}. "
            "A factor maps to a list of levels, or to a dict {level: {sub-factor: levels}}."
        )


class UnkeyableValueError(SweepstackError, TypeError):
    """A parameter value has a type that :func:`param_key` cannot name stably."""

    def __init__(self, factor: Any, type_name: str, path: str = "") -> None:
        super().__init__(factor, type_name, path)
        self.factor = factor
        self.type_name = type_name
        self.path = path

    def __str__(self) -> str:
        where = f" (at {self.path})" if self.path else ""
        return (
            f"factor {self.factor!r} has a value of type {self.type_name}{where}, which has no "
            "stable key. Use str, int, float, bool, None, or tuples, lists and dicts of those; "
            "or give the type a key with sweepstack.register_key_type(type, to_keyable) "
            "or a __sweepstack_key__() method."
        )


class UnknownCombinationError(SweepstackError, KeyError):
    """A combination was passed to a sweeper that does not hold it."""

    def __init__(self, combination: Any, sweeper: str, operation: str) -> None:
        super().__init__(combination, sweeper, operation)
        self.combination = combination
        self.sweeper = sweeper
        self.operation = operation

    def __str__(self) -> str:
        return (
            f"{self.operation}() got a combination that is not in the sweeps of {self.sweeper}: "
            f"{self.combination!r}. Pass a combination obtained from get_next() or iteration, "
            "or add it with set_sweeps()."
        )


# --- the experiment directory ------------------------------------------------------------


class FormatVersionError(SweepstackError, RuntimeError):
    """A directory was written by a newer sweepstack than this one."""

    def __init__(self, path: str, found: int, supported: int) -> None:
        super().__init__(path, found, supported)
        self.path = path
        self.found = found
        self.supported = supported

    def __str__(self) -> str:
        return (
            f"{self.path} is in sweepstack format {self.found}, but this sweepstack reads "
            f"format {self.supported} at most. Upgrade sweepstack ({_UPGRADE}) on every host "
            "that uses this directory."
        )


class ForeignFormatError(FormatVersionError):
    """A folder holds files of another tool where sweepstack expected its own."""

    def __init__(self, path: str, what: str) -> None:
        SweepstackError.__init__(self, path, what)
        self.path = path
        self.what = what
        self.found = 0
        self.supported = 1

    def __str__(self) -> str:
        return (
            f"{self.path} is {self.what}, not a sweepstack file; sweepstack keeps its own "
            "format and does not read or repair it: give sweepstack a folder of its own"
        )


class ExperimentNotFoundError(SweepstackError, FileNotFoundError):
    """No experiment directory where one was expected."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path

    def __str__(self) -> str:
        return (
            f"no sweepstack experiment at {self.path} (no experiment.json). Check the path, or "
            "start the experiment script with -c DIR to create it."
        )


class NotAnExperimentError(SweepstackError, FileExistsError):
    """A directory exists and holds something other than a sweepstack experiment."""

    def __init__(self, path: str, found: list[str]) -> None:
        super().__init__(path, found)
        self.path = path
        self.found = found

    def __str__(self) -> str:
        shown = ", ".join(sorted(self.found)[:5]) + (" ..." if len(self.found) > 5 else "")
        return (
            f"{self.path} already holds files that are not a sweepstack experiment ({shown}). "
            "Give -c a new or empty directory, or the directory of an earlier sweepstack run."
        )


class StoreWriteError(SweepstackError, OSError):
    """A file of the experiment directory could not be written."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(path, reason)
        self.path = path
        self.reason = reason

    @property
    def is_environment(self) -> bool:
        """False when the path itself is wrong (a file where a folder should be): bad input."""
        return "in the way" not in self.reason

    def __str__(self) -> str:
        advice = next(
            (fix for cause, fix in _WRITE_ADVICE if cause in self.reason.lower()),
            "fix the file system (the reason above), then continue with -c",
        )
        return (
            f"cannot write {self.path}: {self.reason}. Nothing already written was changed; "
            f"{advice}."
        )


_WRITE_ADVICE = (
    ("no space", "free some space on that file system, then continue with -c"),
    ("quota", "free some space within your disk quota, then continue with -c"),
    ("permission denied", "make it writable by you (or ask who owns it), then continue with -c"),
    ("read-only", "the file system is mounted read-only: use a writable -c DIR"),
    ("in the way", "give -c a folder (or a path that does not exist yet), not a file"),
    ("stale", "the NFS server lost the file handle: remount or wait, then continue with -c"),
)


class EngineMismatchError(SweepstackError, ValueError):
    """``-c DIR`` names an experiment made by another engine."""

    def __init__(self, path: str, found: str, engine: str) -> None:
        super().__init__(path, found, engine)
        self.path = path
        self.found = found
        self.engine = engine

    def __str__(self) -> str:
        return (
            f"{self.path} is an experiment of {self.found}, not of {self.engine}: continue it "
            "with its own script, give this one another -c DIR, or add --force to continue it "
            "anyway (recorded in the run)"
        )


class SpaceChangedError(SweepstackError, ValueError):
    """Continuing would drop combinations of a sweeper's parameter space."""

    def __init__(
        self, path: str, sweeper: str, removed: int, removed_done: int, before: int, example: str
    ) -> None:
        super().__init__(path, sweeper, removed, removed_done, before, example)
        self.path = path
        self.sweeper = sweeper
        self.removed = removed
        self.removed_done = removed_done
        self.before = before
        self.example = example

    def __str__(self) -> str:
        return (
            f"sweeper {self.sweeper!r} of {self.path}: the new parameter space drops "
            f"{self.removed} of its {self.before} combinations ({self.removed_done} of them "
            f"done; e.g. {self.example}). Keep their levels and factors, use another -c DIR, "
            "or add --force to continue (their records are kept, shown outside the space)"
        )


class JournalCorruptError(SweepstackError, ValueError):
    """A sweeper journal cannot be read at all (not a torn tail, which is only a warning)."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(path, problem)
        self.path = path
        self.problem = problem

    def __str__(self) -> str:
        return (
            f"sweeper journal {self.path} is unreadable: {self.problem}. Run "
            "`sweepstack check DIR --repair` to set it aside and rebuild the state from the "
            "snapshot and the records."
        )


class SnapshotCorruptError(SweepstackError, ValueError):
    """A sweeper snapshot failed its checksum and could not be rebuilt."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(path, problem)
        self.path = path
        self.problem = problem

    def __str__(self) -> str:
        return (
            f"sweeper snapshot {self.path} is corrupt ({self.problem}) and no earlier "
            "generation could rebuild it. Run `sweepstack check DIR --repair` to quarantine it; "
            "done combinations are then recovered from the records."
        )


class NoSweepsError(SweepstackError, FileNotFoundError):
    """A sweeper was opened without sweeps, and none were saved in its directory."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path

    def __str__(self) -> str:
        return (
            f"no sweeps given and none saved in {self.path}. Pass sweeps=..., and "
            "save_sweeps=True once so that later instances can open it without them."
        )


class FieldValueError(SweepstackError, TypeError):
    """A value assigned to a persisted field is not a JSON scalar or small container."""

    def __init__(self, field: str, type_name: str, problem: str = "") -> None:
        super().__init__(field, type_name, problem)
        self.field = field
        self.type_name = type_name
        self.problem = problem

    def __str__(self) -> str:
        extra = f" ({self.problem})" if self.problem else ""
        return (
            f"field {self.field!r} got a value of type {self.type_name}{extra}; fields hold JSON "
            "scalars and small lists or dicts of them. Store large objects as stage outputs "
            "(they go to the cache) and put a summary number in the field."
        )


class CorruptEntryError(SweepstackError, ValueError):
    """A file of an experiment directory (record, run, index line...) cannot be read back."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(path, problem)
        self.path = path
        self.problem = problem

    def __str__(self) -> str:
        return (
            f"{self.path} is unreadable: {self.problem}. sweepstack writes its files "
            "atomically, so it was damaged from outside (disk, copy, hand edit). Restore it "
            "from a copy, or move it into the experiment's quarantine/ folder; readers such as "
            "results() skip it and list it in results().errors meanwhile."
        )


class UnstorableValueError(SweepstackError, TypeError):
    """A document given to the store holds a value that is not JSON."""

    def __init__(self, document: str, where: str, type_name: str) -> None:
        super().__init__(document, where, type_name)
        self.document = document
        self.where = where
        self.type_name = type_name

    def __str__(self) -> str:
        return (
            f"{self.document} cannot be stored: the value at {self.where} is a "
            f"{self.type_name}, which is not JSON. Convert it to str, int, float, bool, None, "
            "or a list or dict of those; large objects belong in stage outputs (the cache)."
        )


class StoreValueError(SweepstackError, ValueError):
    """A name, key or status given to the store is not one it accepts."""

    def __init__(self, what: str, value: Any, expected: str) -> None:
        super().__init__(what, value, expected)
        self.what = what
        self.value = value
        self.expected = expected

    def __str__(self) -> str:
        return f"invalid {self.what} {self.value!r}: expected {self.expected}."


class OptionalDependencyError(SweepstackError, ImportError):
    """A feature needs a package that is an optional extra of sweepstack."""

    def __init__(self, package: str, extra: str, feature: str) -> None:
        super().__init__(package, extra, feature)
        self.package = package
        self.extra = extra
        self.feature = feature

    def __str__(self) -> str:
        return (
            f"{self.feature} needs {self.package}, which is not installed. Install it with "
            f"`pip install sweepstack[{self.extra}]` (or `pip install {self.package}`)."
        )


# --- stages and the cache ---------------------------------------------------------------


class StageDefinitionError(SweepstackError, TypeError):
    """A stage or aggregate is declared or called in a way that cannot work."""

    def __init__(self, stage: str, problem: str) -> None:
        super().__init__(stage, problem)
        self.stage = stage
        self.problem = problem

    def __str__(self) -> str:
        return f"stage {self.stage!r}: {self.problem}"


class UndeclaredParamError(SweepstackError, KeyError):
    """A stage read a parameter it did not declare, so its cache key would be stale."""

    def __init__(self, stage: str, param: str, declared: tuple[str, ...]) -> None:
        super().__init__(stage, param, declared)
        self.stage = stage
        self.param = param
        self.declared = declared

    def __str__(self) -> str:
        names = ", ".join(repr(d) for d in self.declared) or "none"
        return (
            f"stage {self.stage!r} read parameter {self.param!r}, which it does not declare "
            f"(declared: {names}). Add it: @stage(params=[..., {self.param!r}]), so that "
            "changing it recomputes this stage."
        )


class StageOutputError(SweepstackError, ValueError):
    """A stage returned a different number of outputs than it declares."""

    def __init__(
        self, stage: str, expected: int, got: int, outputs: tuple[str, ...] | list[str] = ()
    ) -> None:
        super().__init__(stage, expected, got, tuple(outputs))
        self.stage = stage
        self.expected = expected
        self.got = got
        self.outputs = tuple(outputs)

    def __str__(self) -> str:
        names = f" {list(self.outputs)}" if self.outputs else ""
        if self.expected == 1:
            how = (
                "A stage with one output returns its value; a tuple is read as one value per "
                "output, so return a tuple value wrapped in another: return ((a, b),)."
            )
        elif self.expected == 0:
            how = "A stage with no outputs returns None; declare outputs=[...] to cache a value."
        else:
            how = "Return one value per name in outputs=[...], as a tuple."
        return (
            f"stage {self.stage!r} declares {self.expected} output(s){names} but returned "
            f"{self.got}. {how}"
        )


class StageFailedElsewhereError(SweepstackError, RuntimeError):
    """A stage this process waited for raised in the process computing it."""

    def __init__(
        self, stage: str, key: str, error_type: str, message: str, host: str, pid: int
    ) -> None:
        super().__init__(stage, key, error_type, message, host, pid)
        self.stage = stage
        self.key = key
        self.error_type = error_type
        self.message = message
        self.host = host
        self.pid = pid

    def __str__(self) -> str:
        return (
            f"stage {self.stage!r} raised {self.error_type}: {self.message} (in pid {self.pid} "
            f"on {self.host}, computing artifact {self.key}, which this process waited for; "
            "it was not run again here). Fix the stage, then continue with -c DIR: failed "
            "combinations run again."
        )


class CacherError(SweepstackError, RuntimeError):
    """A cacher failed to save or load an artifact."""

    def __init__(self, stage: str, output: str, cacher: str, operation: str, reason: str) -> None:
        super().__init__(stage, output, cacher, operation, reason)
        self.stage = stage
        self.output = output
        self.cacher = cacher
        self.operation = operation
        self.reason = reason

    def __str__(self) -> str:
        return (
            f"{self.cacher} could not {self.operation} output {self.output!r} of stage "
            f"{self.stage!r}: {self.reason}. Choose a cacher that handles this type with "
            "@stage(cachers=[...]); nothing already cached was changed."
        )


class ArtifactCorruptError(SweepstackError, ValueError):
    """A cached artifact failed its checksum or could not be read back."""

    def __init__(self, key: str, path: str, problem: str) -> None:
        super().__init__(key, path, problem)
        self.key = key
        self.path = path
        self.problem = problem

    def __str__(self) -> str:
        return (
            f"cached artifact {self.key} at {self.path} is corrupt: {self.problem}. It is "
            "recomputed on the next run; `sweepstack check DIR --repair` quarantines all such."
        )


class AggregateError(SweepstackError, ValueError):
    """An aggregate stage was given members it cannot use."""

    def __init__(self, stage: str, problem: str) -> None:
        super().__init__(stage, problem)
        self.stage = stage
        self.problem = problem

    def __str__(self) -> str:
        return f"aggregate {self.stage!r}: {self.problem}"


class DryRunError(SweepstackError, RuntimeError):
    """A stage output was read in a dry run, where no stage runs."""

    def __init__(self, output: str, stage: str) -> None:
        super().__init__(output, stage)
        self.output = output
        self.stage = stage

    def __str__(self) -> str:
        return (
            f"output {self.output!r} of stage {self.stage!r} was read in a dry run, where no "
            "stage runs and nothing is written. Read outputs only in real runs (check "
            "record.dry), or run without --dry."
        )


class CacheDetachedError(SweepstackError, RuntimeError):
    """A cached artifact was read through a record or Lazy that has no cache attached."""

    def __init__(self, key: str, output: str) -> None:
        super().__init__(key, output)
        self.key = key
        self.output = output

    def __str__(self) -> str:
        return (
            f"output {self.output!r} (artifact {self.key}) cannot be loaded: its record has no "
            "cache attached (records pickle without it). Call "
            "record.attach(ArtifactCache(DIR/cache)) in this process first."
        )


class ReportableTypeError(SweepstackError, TypeError):
    """An object given to ``record.report()`` is of a kind reports cannot show."""

    def __init__(self, name: str, type_name: str) -> None:
        super().__init__(name, type_name)
        self.name = name
        self.type_name = type_name

    def __str__(self) -> str:
        return (
            f"reportable {self.name!r} is a {self.type_name}, which a report cannot show. "
            "Report a matplotlib figure, a pandas DataFrame, a str (text), or a dict or list "
            "of JSON values; or turn it into one of those first."
        )


class UnknownAttributeError(SweepstackError, AttributeError):
    """An attribute that is not part of a record's or experiment's state was assigned.

    As in MLtraq, the state of a record or an experiment is a fixed set of names, so
    that a typo such as ``record.feilds = ...`` or ``record.accuracy = 0.9`` fails
    instead of vanishing when the record is stored.
    """

    def __init__(self, kind: str, name: str, allowed: tuple[str, ...]) -> None:
        super().__init__(kind, name, tuple(allowed))
        self.kind = kind
        self.name = name
        self.allowed = tuple(allowed)

    def __str__(self) -> str:
        return (
            f"{self.kind} has no attribute {self.name!r} to set: its state is "
            f"{', '.join(self.allowed)}. Keep a value to persist in "
            f"{self.kind}.fields[{self.name!r}] = value, or a scratch value in "
            + (
                f"record.vars[{self.name!r}]."
                if self.kind == "record"
                else "a variable of your own."
            )
        )


class UnknownOutputError(SweepstackError, KeyError):
    """An artifact was asked for by a name that no stage called on the record outputs."""

    def __init__(
        self, record: str, output: str, outputs: tuple[str, ...], stage: str | None = None
    ) -> None:
        super().__init__(record, output, tuple(outputs), stage)
        self.record = record
        self.output = output
        self.outputs = tuple(outputs)
        self.stage = stage

    def __str__(self) -> str:
        where = (
            f"stage {self.stage!r} of record {self.record}"
            if self.stage
            else f"record {self.record}"
        )
        return (
            f"{where} has no output {self.output!r} (outputs: {', '.join(self.outputs) or 'none'}); "
            "call the stage that returns it on the record first, or name one of those outputs."
        )


# --- the sweepstack command -------------------------------------------------------------


class QueryError(SweepstackError, ValueError):
    """A ``--where`` expression or a ``--columns`` list of ``sweepstack results`` is unusable."""

    def __init__(self, query: str, problem: str) -> None:
        super().__init__(query, problem)
        self.query = query
        self.problem = problem

    def __str__(self) -> str:
        return (
            f"cannot use {self.query!r}: {self.problem}. `sweepstack results --help` shows "
            "what --where and --columns accept, with examples."
        )


class UnknownRunError(SweepstackError, KeyError):
    """A run named by number or reference (``sweepstack compare``) is not in the experiment."""

    def __init__(self, run: str, path: str, known: list[str]) -> None:
        super().__init__(run, path, known)
        self.run = run
        self.path = path
        self.known = known

    def __str__(self) -> str:
        listed = ", ".join(self.known[-5:]) or "none"
        return (
            f"no run {self.run!r} in {self.path}: give a run number or reference "
            f"(the last runs: {listed}; `sweepstack status {self.path}` lists them)"
        )


# --- the engine ----------------------------------------------------------------------------


class GpuAllocationError(SweepstackError, ValueError):
    """``--gpus-per-worker`` asks for more devices than are visible here."""

    def __init__(self, per_worker: int, workers: int, visible: int, source: str) -> None:
        super().__init__(per_worker, workers, visible, source)
        self.per_worker = per_worker
        self.workers = workers
        self.visible = visible
        self.source = source

    def __str__(self) -> str:
        return (
            f"--gpus-per-worker {self.per_worker} for {self.workers} worker(s) needs "
            f"{self.per_worker * self.workers} GPU(s), and {self.visible} are visible "
            f"({self.source}): lower --workers or --gpus-per-worker, or set "
            "CUDA_VISIBLE_DEVICES to the devices to use"
        )


class LauncherError(SweepstackError, RuntimeError):
    """Workers could not be started, or ended in a way the launcher cannot recover from."""

    def __init__(self, launcher: str, problem: str, hint: str | None = None) -> None:
        super().__init__(launcher, problem, hint)
        self.launcher = launcher
        self.problem = problem
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.launcher} launcher: {self.problem}" + (f". {self.hint}" if self.hint else "")


_ENVIRONMENT_ERRNOS = frozenset(
    {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.ESTALE, errno.EIO, errno.ENOLCK}
)


def is_environment_error(err: BaseException | None) -> bool:
    """True if ``err`` (or an error it was raised from) is the environment's fault: a file
    of the experiment that could not be written, a full disk, a quota, a read-only file
    system, a stale NFS handle, an I/O error. Such an error never fails a combination: it
    stops the process and leaves the combination to do."""
    seen: set[int] = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        if isinstance(err, StoreWriteError):
            return err.is_environment
        if isinstance(err, OSError) and err.errno in _ENVIRONMENT_ERRNOS:
            return True
        err = err.__cause__ or err.__context__
    return False


class OverrideError(SweepstackError, ValueError):
    """A ``--sweep``, ``--only`` or ``--sweep-file`` value cannot be read or applied."""

    def __init__(self, option: str, text: str, problem: str) -> None:
        super().__init__(option, text, problem)
        self.option = option
        self.text = text
        self.problem = problem

    def __str__(self) -> str:
        return (
            f"{self.option} {self.text!r}: {self.problem}. Write FACTOR=LEVELS, LEVELS being "
            "values separated by commas (1,2.5,true,null,'a b',word) or one of range(start,stop"
            "[,step]), geom(lo,hi,n), igeom(lo,hi,n), choice(a,b,...); a dotted FACTOR "
            "(model.svm.C) names a factor of a sub-sweep (see docs/cli.md)"
        )


class SampleError(SweepstackError, ValueError):
    """An argument of :func:`sweepstack.sample` (``n``, ``method``, ``seed``) is unusable."""

    def __init__(self, argument: str, value: Any, problem: str) -> None:
        super().__init__(argument, value, problem)
        self.argument = argument
        self.value = value
        self.problem = problem

    def __str__(self) -> str:
        return (
            f"sample(): {self.argument}={self.value!r} {self.problem}; call it as "
            'sample(space, n, method="random"|"sobol"|"lhs", seed=0)'
        )
