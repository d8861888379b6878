"""Engine: the class an experiment script subclasses (execo_engine's, with sweepstack's loop).

class PiSweep(Engine):
    def init(self):
        self.args_parser.add_argument("--max-n", type=int, default=100_000)

    def run(self):
        sweeper = self.sweeper(sweep({...}))
        for record in self.records(sweeper):
            estimate(draw(record))

if __name__ == "__main__":
    PiSweep().start()
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import logging
import os
import shlex
import sys
import time
import traceback
import warnings
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from sweepstack.dag import DAG, Record, RecordOptions
from sweepstack.dag._result import prepare_result, write_result
from sweepstack.engine._gpus import split_devices
from sweepstack.engine._logging import LogSetup
from sweepstack.engine._options import (
    SpaceOptions,
    add_engine_options,
    add_help,
    child_command,
    result_options,
    without_options,
)
from sweepstack.engine._outputs import copy_outputs, redirect_outputs
from sweepstack.engine._progress import Progress
from sweepstack.engine._signals import interrupts_as_exceptions
from sweepstack.engine._spread import spread_order
from sweepstack.engine._workers import run_workers
from sweepstack.errors import (
    CorruptEntryError,
    EngineMismatchError,
    OptionsChangedWarning,
    SpaceChangedError,
    SweepstackError,
    is_environment_error,
)
from sweepstack.store import AGGREGATES, ArtifactCache, ExperimentDir
from sweepstack.sweep import HashableDict, ParamSweeper, SpaceChange, param_key

__all__ = ["ENVIRONMENT_EXIT", "FAILED_EXIT", "USAGE_EXIT", "Engine"]

FAILED_EXIT = 1
"""Exit status of a run in which combinations failed (or a worker process failed)."""
USAGE_EXIT = 2
"""Exit status of a sweepstack error: refused, or bad input (one line says what to fix)."""
ENVIRONMENT_EXIT = 3
"""Exit status when the experiment directory could not be written (disk, permissions, NFS):
the combination in progress was left to do; fix the cause and continue with -c."""

_log = logging.getLogger("sweepstack.engine")


def _source_file(cls: type) -> str | None:
    """The file of the module defining ``cls``; for a script's class in a worker process
    (run by sweepstack.engine._child under ``__sweepstack_child__``), the script itself."""
    file = getattr(sys.modules.get(cls.__module__), "__file__", None)
    if file is None and cls.__module__ == "__sweepstack_child__" and sys.argv and sys.argv[0]:
        file = sys.argv[0]
    return file if isinstance(file, str) else None


def _run_on_ancestors(instance: Engine, method: str) -> None:
    """Call ``method`` as defined by each class of the hierarchy, ancestor first."""
    for cls in reversed(inspect.getmro(type(instance))):
        if isinstance(cls, type) and issubclass(cls, Engine):
            function = cls.__dict__.get(method)
            if function is not None:
                function(instance)


class _InFlight:
    """The combination a records() loop handed out and has not finished."""

    def __init__(
        self, sweeper: ParamSweeper, combination: HashableDict, key: str, record: Record
    ) -> None:
        self.sweeper = sweeper
        self.combination = combination
        self.key = key
        self.record = record


class _Pace:
    """How many combinations records() claims at once: enough to fill about
    ``WINDOW`` seconds of work, so that short combinations share lock acquisitions
    while a worker never holds back more than that from the others at the end."""

    WINDOW = 0.02
    LIMIT = 32

    def __init__(self) -> None:
        self.mean: float | None = None

    def took(self, seconds: float) -> None:
        self.mean = seconds if self.mean is None else 0.8 * self.mean + 0.2 * seconds

    def batch(self) -> int:
        if self.mean is None:
            return 1
        return max(1, min(self.LIMIT, int(self.WINDOW / max(self.mean, 1e-6))))


class Engine:
    """Base class of experiment engines, compatible with execo_engine's ``Engine``.

    Override :meth:`init` (add options to :attr:`args_parser`) and :meth:`run`; both are
    called for each class of the hierarchy, ancestor first. :meth:`start` parses the
    options, opens the experiment directory (:attr:`result_dir`, or ``-c DIR``),
    registers a run in its store, and calls them.

    Attributes:
        args_parser: the ``argparse.ArgumentParser``; add options in ``__init__`` or ``init``.
        args: the parsed options (those known so far in ``init``, all in ``run``).
        run_name: class name plus date and time (see :meth:`setup_run_name`).
        result_dir: the experiment directory.
        engine_dir: the folder of the engine's source file.
        experiment: the :class:`~sweepstack.store.ExperimentDir` (during ``run``).
        current_run: the :class:`~sweepstack.store.Run` of this session (during ``run``).
        config: the options added by the engine (they may change results).
        logger: a logger named after the engine class.
    """

    def __init__(self) -> None:
        file = _source_file(type(self))
        self.engine_dir: str | None = os.path.dirname(os.path.realpath(file)) if file else None
        self.args_parser = argparse.ArgumentParser(
            description=f"engine: {type(self).__name__}",
            formatter_class=argparse.RawDescriptionHelpFormatter,
            # options are parsed twice (before init adds the engine's own, then after):
            # abbreviations would match the wrong option in the first pass, and --help
            # (added after init, see add_help) would exit before init's options exist
            allow_abbrev=False,
            add_help=False,
        )
        add_engine_options(self.args_parser)
        self.args: argparse.Namespace | None = None
        self.run_name: str | None = None
        self.result_dir: str | None = None
        self.experiment: ExperimentDir | None = None
        self.current_run: Any = None
        self.config: dict[str, Any] = {}
        self.logger = logging.getLogger(type(self).__name__)
        self._argv: list[str] = []
        self._cache: ArtifactCache | None = None
        self._in_flight: _InFlight | None = None
        self._queue: list[HashableDict] = []  # claimed ahead by records(), not started
        self._finished: list[_InFlight] = []  # resolved, their done marks not yet written
        self._queue_sweeper: ParamSweeper | None = None
        self._progress: Progress | None = None
        self._dry_records: list[Record] = []
        self._aggregates: list[Record] = []
        self._waiting = False  # logged once that the loop waits for other processes' claims
        self._counts = {"done": 0, "failed": 0}
        self._record_options = RecordOptions()
        self._progress_shown = 0.0  # when the progress display was last updated
        self._outside: dict[str, list[str]] = {}  # sweeper -> done keys dropped with --force
        self._space_options: SpaceOptions | None = None  # --sweep, --sweep-file, --only

    # --- the hooks a subclass overrides --------------------------------------------------

    def init(self) -> None:
        """Initialise the engine (add options here); called before the options are parsed."""

    def run(self) -> None:
        """The experiment; called once the experiment directory and the run are set up."""

    def setup_run_name(self) -> None:
        """Set :attr:`run_name` (default: class name, date and time)."""
        self.run_name = f"{type(self).__name__}_{time.strftime('%Y%m%d_%H%M%S')}"

    def setup_result_dir(self) -> None:
        """Set :attr:`result_dir` when ``-c`` is not given (default: ``./<run_name>``)."""
        assert self.run_name is not None
        self.result_dir = os.path.abspath(self.run_name)

    # --- starting --------------------------------------------------------------------

    def start(
        self, argv: Iterable[str] | None = None, engineargs: Iterable[str] | None = None
    ) -> None:
        """Parse the options, set up the experiment, and call ``init`` and ``run``.

        ``argv`` (default ``sys.argv[1:]``) is also accepted under execo's name,
        ``engineargs``.

        Returns when every combination handed to this process is done. Otherwise exits
        (``SystemExit``) with status 1 when combinations failed (their records say why:
        ``sweepstack failures DIR``) or a worker process failed, 2 on a sweepstack error
        (refused or bad input: one line saying what to fix; ``--debug`` or
        ``SWEEPSTACK_DEBUG=1`` shows the traceback), 3 when the experiment directory could
        not be written (the combination in progress is left to do: fix it and continue
        with ``-c``), and 130 when interrupted (Ctrl-C, SIGTERM). Any other exception of
        ``run`` propagates after the run is recorded as failed.
        """
        if argv is None:
            argv = engineargs
        self._argv = list(sys.argv[1:] if argv is None else argv)
        try:
            self._start()
        except (SweepstackError, OSError) as err:
            environment = is_environment_error(err)
            if not (isinstance(err, SweepstackError) or environment) or self._debug():
                raise
            prog = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "engine"
            sys.stderr.write(f"{prog}: error: {err}\n")
            raise SystemExit(ENVIRONMENT_EXIT if environment else USAGE_EXIT) from None

    def _debug(self) -> bool:
        """--debug or SWEEPSTACK_DEBUG=1: show the traceback of sweepstack errors."""
        if os.environ.get("SWEEPSTACK_DEBUG", "").lower() in ("1", "true", "yes", "on"):
            return True
        return bool(getattr(self.args, "debug", False)) or "--debug" in self._argv

    def _start(self) -> None:
        self.args, _ = self.args_parser.parse_known_args(self._argv)  # what init() may read
        _run_on_ancestors(self, "init")
        add_help(self.args_parser)  # now --help lists the options init() added
        self.args = self.args_parser.parse_args(self._argv)
        self._space_options = SpaceOptions(self.args)  # a bad --sweep stops before any write
        self.setup_run_name()
        if self.args.use_dir:
            self.result_dir = os.path.abspath(self.args.use_dir)
        else:
            self.setup_result_dir()
        self.config = result_options(self.args)
        self._record_options = RecordOptions(
            overwrite=_overwrite(self.args.overwrite),
            dry=bool(self.args.dry),
            store_full=bool(self.args.store_full),
        )
        if self.args.gpus_per_worker and not self.args.workers and not self.args.worker_of:
            # one process: it takes the first K devices, before any CUDA library starts
            os.environ["CUDA_VISIBLE_DEVICES"] = split_devices(self.args.gpus_per_worker, 1)[0]
        if self.args.dry:
            self._start_dry()
        elif self.args.workers and not self.args.worker_of:
            self._launch()
        else:
            self._start_session()

    def _register(self, **run_options: Any) -> tuple[ExperimentDir, Any]:
        """Open (or create) the experiment directory and register this session as a run."""
        assert self.args is not None and self.result_dir is not None
        engine = self._engine_name()
        xd = ExperimentDir.create_or_open(self.result_dir, name=type(self).__name__, engine=engine)
        extra = dict(run_options.pop("extra", None) or {})
        if xd.engine is not None and xd.engine != engine:
            # the -c contract: checked before anything is written in the experiment
            if not self.args.force:
                raise EngineMismatchError(xd.path, xd.engine, engine)
            _log.warning(
                "--force: continuing %s, an experiment of %s, with %s", xd.path, xd.engine, engine
            )
            extra["forced"] = {"engine": [xd.engine, engine]}
        run = xd.start_run(
            type(self).__name__,
            argv=self._command_line(),
            notes=self.args.notes,
            store_full=self.args.store_full,
            config=self.config,
            extra=extra or None,
            **run_options,
        )
        return xd, run

    def _engine_name(self) -> str:
        """``module.Class``, or ``script.py:Class`` for a class defined in a script run directly."""
        cls = type(self)
        file = _source_file(cls)
        if cls.__module__ in ("__main__", "__sweepstack_child__") and isinstance(file, str):
            return f"{os.path.basename(file)}:{cls.__qualname__}"
        return f"{cls.__module__}.{cls.__qualname__}"

    def _command_line(self) -> list[str]:
        return [sys.argv[0] if sys.argv and sys.argv[0] else type(self).__name__, *self._argv]

    def _start_session(self) -> None:
        args = self.args
        assert args is not None and self.result_dir is not None
        logs = LogSetup(args.log_level, rich=not args.no_progress, quiet=bool(args.worker_of))
        self._progress = Progress(bar=not args.no_progress and not args.worker_of)
        try:
            self.experiment, run = self._register(parent=args.worker_of)
            xd = self.experiment
            self.current_run = run
            self._setup_outputs(xd, run.reference)
            logs.to_file(xd.log_path(run.reference))
            self._cache = ArtifactCache(xd.cache_dir, lease=args.lease)
            _log.info("run %s in %s", run.reference, xd.path)
            _log.info("command line: %s", " ".join(shlex.quote(a) for a in self._command_line()))
            self._run_hooks(run)
        finally:
            self._progress.close()
            logs.close()
        if self._counts["failed"]:
            raise SystemExit(FAILED_EXIT)

    def _setup_outputs(self, xd: ExperimentDir, reference: str) -> None:
        args = self.args
        assert args is not None
        if not args.output_mode:
            return
        # several workers: one pair of files each, never one file written by many
        out, err = xd.output_paths(reference, bool(args.worker_of), args.merge_outputs)
        (copy_outputs if args.output_mode == "copy" else redirect_outputs)(out, err)
        _log.info("%s stdout / stderr to %s and %s", args.output_mode, out, err)

    def _run_hooks(self, run: Any) -> None:
        with interrupts_as_exceptions():
            try:
                _run_on_ancestors(self, "run")
            except KeyboardInterrupt as err:
                self._give_back()
                _log.warning(
                    "interrupted (%s): the combination in progress was given back",
                    str(err) or "Ctrl-C",
                )
                self._finish_run(run, "interrupted", str(err) or "KeyboardInterrupt")
                raise SystemExit(130) from None
            except SystemExit as err:
                if err.code in (0, None):
                    self._give_back()
                    self._finish_run(run, "complete")
                    raise
                self._fail_in_flight(err)
                self._finish_run(run, "error", f"SystemExit({err.code})")
                raise
            except BaseException as err:
                if is_environment_error(err):
                    # not the combination's fault: it goes back to todo for the next -c
                    self._give_back()
                    _log.error(
                        "stopped: %s (the combination in progress was given back; "
                        "continue with -c once this is fixed)",
                        err,
                    )
                    self._finish_run(run, "error", str(err))
                    raise
                self._fail_in_flight(err)
                self._finish_run(
                    run,
                    "error",
                    "".join(traceback.format_exception(type(err), err, err.__traceback__)),
                )
                raise
            self._give_back()  # a loop left with break: its combination goes back to todo
            self._store_aggregates()
            self._finish_run(run, "complete")

    def _finish_run(self, run: Any, status: str, error: str | None = None) -> None:
        done, failed = self._counts["done"], self._counts["failed"]
        if done or failed:
            _log.log(
                logging.WARNING if failed else logging.INFO,
                "run %s %s: %d combination(s) done, %d failed%s",
                run.reference,
                status,
                done,
                failed,
                f"; exit status {FAILED_EXIT} (why: sweepstack failures {self.result_dir})"
                if failed
                else "",
            )
        try:
            run.update(combinations=dict(self._counts))
            run.finish(status, error=error)
        except SweepstackError as err:  # the store became unwritable: say so, keep the first error
            _log.error("could not record the end of run %s: %s", run.reference, err)

    # --- dry runs ------------------------------------------------------------------------

    def _start_dry(self) -> None:
        assert self.args is not None
        logs = LogSetup(self.args.log_level, rich=True)
        try:
            cache_dir = ExperimentDir.cache_path(self.result_dir or "")
            self._cache = ArtifactCache(cache_dir) if os.path.isdir(cache_dir) else None
            _run_on_ancestors(self, "run")
            if self._dry_records:
                DAG(self._dry_records).print_map()
            else:
                print("dry run: no combination left to run")
        finally:
            logs.close()

    # --- workers -----------------------------------------------------------------------

    def _worker_command(self, reference: str) -> list[str]:
        assert self.result_dir is not None
        argv = without_options(
            self._argv,
            self.args_parser,
            {
                "workers",
                "use_dir",
                "worker_of",
                "launcher",
                "slurm_options",
                "slurm_poll",
                "sge_options",
                "gpus_per_worker",
            },
        )
        return child_command(
            type(self), [*argv, "-c", self.result_dir, "--worker-of", reference, "--no-progress"]
        )

    def _launch(self) -> None:
        args = self.args
        assert args is not None and self.result_dir is not None
        devices = None
        if args.gpus_per_worker and args.launcher == "local":
            # refused before anything is written: no run is left "running"
            devices = split_devices(args.gpus_per_worker, args.workers)
        logs = LogSetup(args.log_level, rich=not args.no_progress)
        progress = Progress(bar=not args.no_progress)
        try:
            xd, run = self._register(
                extra={"role": "launcher", "launcher": args.launcher, "workers": args.workers}
            )
            logs.to_file(xd.log_path(run.reference))
            _log.info(
                "run %s: %d %s workers on %s", run.reference, args.workers, args.launcher, xd.path
            )
            command = self._worker_command(run.reference)
            if args.launcher == "slurm":
                from sweepstack.engine._slurm import run_slurm_workers

                code = run_slurm_workers(
                    command,
                    args.workers,
                    xd,
                    run,
                    progress,
                    args.slurm_options,
                    poll=args.slurm_poll,
                    gpus_per_task=args.gpus_per_worker,
                )
            elif args.launcher == "sge":
                from sweepstack.engine._sge import run_sge_workers

                code = run_sge_workers(
                    command,
                    args.workers,
                    xd,
                    run,
                    progress,
                    args.sge_options,
                    poll=args.slurm_poll,
                    gpus_per_task=args.gpus_per_worker,
                )
            else:
                if devices:
                    _log.info("GPUs of the workers: %s", "; ".join(devices))
                code = run_workers(
                    command,
                    args.workers,
                    xd.path,
                    progress,
                    parent=run.reference,
                    devices=devices,
                )
            status = {0: "complete", 130: "interrupted"}.get(code, "error")
            run.finish(
                status, error=None if code in (0, 130) else "a worker failed (see its run and log)"
            )
        finally:
            progress.close()
            logs.close()
        if code:
            raise SystemExit(code)

    # --- sweepers and the records loop ------------------------------------------------

    @property
    def _id_experiment(self) -> str | None:
        return None if self.experiment is None else self.experiment.id_experiment

    def sweeper(
        self,
        sweeps: Iterable[Mapping[str, Any]] | Mapping[str, Any],
        name: str = "main",
        **options: Any,
    ) -> ParamSweeper:
        """A :class:`~sweepstack.sweep.ParamSweeper` named ``name`` in the experiment directory.

        ``sweeps`` is a list of combinations, usually ``sweep({...})`` or
        ``sample({...}, n)``, or a space dict (swept as by ``sweep``). ``--sweep-file``
        and ``--sweep`` change the space such a list was made from, and the list is made
        again from the changed space; ``--only`` limits what :meth:`records` claims.

        Its combinations are saved, with a manifest of the parameter space and of the
        options that change results; continuing with other such options warns
        (:class:`~sweepstack.errors.OptionsChangedWarning`) and records the change in the
        run. ``options`` go to ParamSweeper (``order=``, ``lease=``...).
        """
        assert self.args is not None
        options.setdefault("lease", self.args.lease)
        options.setdefault("retry_failed", self.args.retry_failed)
        space_options = self._space_options or SpaceOptions(self.args)
        sweeps = space_options.combinations(sweeps)
        if self.args.worker_of:  # one of several workers: spread them over upstream keys
            options.setdefault("order", spread_order())
        if self.args.dry:
            path = ExperimentDir.sweeper_path(self.result_dir or "", name)
            sweeper = ParamSweeper(path, list(sweeps), name=name, readonly=True, **options)
        else:
            assert self.experiment is not None
            path = self.experiment.sweeper_dir(name)
            options.setdefault(
                "on_space_change", lambda change: self._space_changed(path, name, change)
            )
            sweeper = ParamSweeper(path, sweeps, save_sweeps=True, name=name, **options)
            self._check_manifest(sweeper)
            sweeper.attach_records(self.experiment.record_store)
        space_options.restrict(sweeper)
        return sweeper

    def _check_manifest(self, sweeper: ParamSweeper) -> None:
        assert self.experiment is not None
        digest, options_key = sweeper.fingerprint(), param_key(self.config)
        try:
            previous = self.experiment.read_manifest(sweeper.name)
        except CorruptEntryError as err:
            previous = None  # damaged: said, never silently replaced
            _log.warning(
                "sweeper %s: %s; writing a new one "
                "(`sweepstack check DIR --repair` quarantines a damaged manifest)",
                sweeper.name,
                err,
            )
        if (
            previous is not None
            and previous.get("digest") == digest
            and previous.get("options_key") == options_key
        ):
            return  # the usual continuation: nothing changed, nothing to write
        count = sweeper.counts()["total"]
        if previous is not None:
            changes: dict[str, Any] = {}
            if previous.get("options_key") != options_key:
                before, after = previous.get("options", {}), self.config
                changed = {
                    k: [before.get(k), after.get(k)]
                    for k in sorted(set(before) | set(after))
                    if before.get(k) != after.get(k)
                }
                changes["options_changed"] = changed
                warnings.warn(
                    f"sweeper {sweeper.name!r} continues with other options that may change results: "
                    + ", ".join(f"{k}: {a!r} -> {b!r}" for k, (a, b) in changed.items())
                    + "; done combinations keep their results (recorded in this run)",
                    OptionsChangedWarning,
                    stacklevel=3,
                )
            if previous.get("digest") != digest:
                changes["sweeps_changed"] = {"before": previous.get("count"), "after": count}
                _log.info(
                    "sweeper %s: the parameter space changed (%s -> %s combinations)",
                    sweeper.name,
                    previous.get("count"),
                    count,
                )
            if self.current_run is not None:
                self.current_run.update(**{f"{sweeper.name}_{k}": v for k, v in changes.items()})
        # done records outside the space (dropped with --force): kept, and shown as such
        outside = set((previous or {}).get("outside") or ()) | set(
            self._outside.get(sweeper.name, ())
        )
        manifest = {
            "count": count,
            "digest": digest,
            "factors": _factors(sweeper),
            "options": self.config,
            "options_key": options_key,
            "outside": sorted(k for k in outside if k not in sweeper),
        }
        self.experiment.write_manifest(sweeper.name, manifest)

    def _space_changed(self, path: str, name: str, change: SpaceChange) -> None:
        """The -c contract for a sweeper's parameter space: added combinations are only
        added; dropped ones are refused unless --force, and their records kept."""
        assert self.args is not None
        if change.added:
            _log.info(
                "sweeper %s: +%d combinations (%d before, %d now)",
                name,
                change.added,
                change.before,
                change.after,
            )
        if not change.removed:
            return
        done = set(ParamSweeper(path, name=name, readonly=True).keys("done"))
        removed_done = sorted(k for k in change.removed if k in done)
        if not self.args.force:
            example = repr(dict(self._saved_combination(path, change.removed[0])))
            raise SpaceChangedError(
                self.result_dir or path,
                name,
                len(change.removed),
                len(removed_done),
                change.before,
                example,
            )
        _log.warning(
            "--force: sweeper %s drops %d combination(s), %d of them done: their records are "
            "kept, outside the space",
            name,
            len(change.removed),
            len(removed_done),
        )
        self._outside[name] = removed_done
        if self.current_run is not None:
            self.current_run.update(
                **{
                    f"{name}_space_forced": {
                        "removed": len(change.removed),
                        "done": len(removed_done),
                    }
                }
            )

    @staticmethod
    def _saved_combination(path: str, key: str) -> Mapping[str, Any]:
        try:
            return ParamSweeper(path, readonly=True).combination(key)
        except (SweepstackError, KeyError):
            return {"key": key}

    def records(self, sweeper: ParamSweeper, *, eager: bool = False) -> Iterator[Record]:
        """Claim combinations one by one and yield each as a :class:`~sweepstack.dag.Record`.

        When the loop body returns, the record's stages are resolved, its record is
        written to the store and the combination is marked done. A failing stage is
        recorded with its traceback, the combination marked failed, one line logged, and
        the loop goes on (``--fail-fast`` stops instead). Ctrl-C or SIGTERM gives the
        combination back and ends the run as interrupted (exit status 130).

        An exception raised by the loop body itself (outside stages) ends the run; the
        combination is recorded as failed with it.
        """
        assert self.args is not None
        if self.args.dry:
            yield from self._dry_loop(sweeper)
            return
        claimed = 0
        pace = _Pace()
        queue = self._queue = []
        self._queue_sweeper = sweeper
        self._finished = []
        first_finished = 0.0
        try:
            while True:
                if not queue:
                    queue.extend(sweeper.get_next_batch(pace.batch()))
                if not queue:
                    if self._others_at_work(sweeper):
                        continue  # their claims come back by themselves if they died
                    if not claimed:
                        self._say_why_nothing_ran(sweeper)
                    break
                combination = queue.pop(0)
                claimed += 1
                key = sweeper.key_of(combination)
                record = self._record(combination, key, eager=eager)
                self._in_flight = _InFlight(sweeper, combination, key, record)
                self._show_progress(sweeper)  # this process is at work now: show it running
                started = time.monotonic()
                yield record
                # the body returned: if it raised or left the loop, start() deals with
                # _in_flight. Finished combinations are marked done together, with the
                # next claims, in one lock acquisition and one flush: at once when no
                # claim is left, else when the first waited a batch window (short
                # combinations share flushes; each counts as done once durable).
                if self._resolve(self._in_flight):
                    if not self._finished:
                        first_finished = time.monotonic()
                    self._finished.append(self._in_flight)
                self._in_flight = None
                if (
                    not queue
                    or len(self._finished) >= _Pace.LIMIT
                    or time.monotonic() - first_finished >= _Pace.WINDOW
                ):
                    queue.extend(self._mark_done(sweeper, 0 if queue else pace.batch()))
                pace.took(time.monotonic() - started)
        finally:
            try:
                self._mark_done(sweeper, 0)
            finally:
                self._release_queue()
        if self._progress is not None:
            self._progress.update(sweeper.name, _with_running(sweeper), force=True)

    def _release_queue(self) -> None:
        """Give back the combinations claimed ahead and not started (exit, error, Ctrl-C)."""
        queue, self._queue = self._queue, []
        if queue and self._queue_sweeper is not None:
            try:
                self._queue_sweeper.cancel_batch(queue)
            except (SweepstackError, OSError) as err:
                _log.error(
                    "could not give back %d combination(s) claimed ahead: %s (their claims "
                    "expire with the lease)",
                    len(queue),
                    err,
                )

    def _say_why_nothing_ran(self, sweeper: ParamSweeper) -> None:
        """A continued experiment with nothing to do: say how to do more, if anything."""
        counts = sweeper.counts()
        if not counts["total"]:
            return
        hints = []
        if counts["done"]:
            hints.append(
                f"{counts['done']} done are not recomputed (after editing a stage: "
                f"`sweepstack reset {self.result_dir} --done`, then continue; unchanged "
                "stages are cache hits)"
            )
        if counts["failed"]:
            hints.append(f"{counts['failed']} failed are not retried without --retry-failed")
        if hints:
            _log.info("%s: nothing to do: %s", sweeper.name, "; ".join(hints))

    def _others_at_work(self, sweeper: ParamSweeper) -> bool:
        """Wait a little while other processes hold claims; False when none is left.

        Nothing is todo, but other processes (here or on other hosts) still hold claims.
        If one of them died, its claims return to todo (at once if it ran on this
        machine, after its lease otherwise): waiting, rather than leaving, is what makes
        a crash near the end of a sweep need no relaunch. A live owner's claim finishes
        as done; the loop then ends with nothing in progress.
        """
        sweeper.update()
        only = self._space_options is not None and self._space_options.test is not None
        held = [
            c
            for c in sweeper.claims()
            # with --only, the claims on combinations of this process's part
            if not c.mine and not (only and c.combination is None)
        ]
        if not held:
            return False
        if not self._waiting:
            self._waiting = True
            _log.info(
                "%s: nothing left to claim; waiting for %d combination(s) in progress elsewhere "
                "(they come back here if their process died)",
                sweeper.name,
                len(held),
            )
        if self._progress is not None:
            self._progress.update(sweeper.name, _with_running(sweeper))
        time.sleep(min(0.5, max(0.05, sweeper.heartbeat_interval / 8)))
        return True

    def _dry_loop(self, sweeper: ParamSweeper) -> Iterator[Record]:
        for combination in sweeper.get_remaining():
            record = self._record(combination, sweeper.key_of(combination))
            yield record
            record.resolve()
            self._dry_records.append(record)

    def _resolve(self, flight: _InFlight) -> bool:
        """Resolve the in-flight record; on a stage failure record it (False)."""
        try:
            flight.record.resolve()
        except KeyboardInterrupt:
            raise  # start() gives the combination back
        except Exception as err:
            if is_environment_error(err):
                raise  # start() gives the combination back and stops: not its failure
            self._in_flight = None
            self._record_failure(flight, err)
            if self.args is not None and self.args.fail_fast:
                raise
            return False
        return True

    def _mark_done(self, sweeper: ParamSweeper, claim: int) -> list[HashableDict]:
        """Mark the finished combinations done with their records in one durable write,
        claiming up to ``claim`` more in the same lock acquisition; return those."""
        finished, self._finished = self._finished, []
        if not finished and not claim:
            return []
        # one durable write: each record travels with its done mark (None: unchanged)
        records = [self._prepare(flight, "done") for flight in finished]
        if finished:
            claimed = sweeper.done_batch_and_next(
                [f.combination for f in finished], claim, records=records
            )
        else:
            claimed = sweeper.get_next_batch(claim)
        self._counts["done"] += len(finished)
        if finished:
            self._show_progress(sweeper)
        return claimed

    def _show_progress(self, sweeper: ParamSweeper, force: bool = False) -> None:
        """Update the progress display, at most every half second unless ``force``: how
        many processes are at work needs the claims' owners, too much for every step."""
        if self._progress is None:
            return
        now = time.monotonic()
        if force or now - self._progress_shown >= 0.5:
            self._progress_shown = now
            self._progress.update(sweeper.name, _with_running(sweeper), force=force)

    def _record(self, params: Mapping[str, Any], key: str, *, eager: bool = False) -> Record:
        """A record of this session: its run, config, cache and options (dry in a dry run)."""
        options = self._record_options
        if eager:
            options = dataclasses.replace(options, eager=True)
        run = None if self.current_run is None else self.current_run.reference
        return Record(
            params,
            key,
            id_run=run,
            config=self.config,
            cache=self._cache,
            id_experiment=self._id_experiment,
            options=options,
        )

    def _prepare(self, flight: _InFlight, status: str) -> str | None:
        assert self.experiment is not None
        return prepare_result(
            self.experiment,
            flight.sweeper.name,
            flight.record,
            status,
            self.current_run.reference,
        )

    def _record_failure(self, flight: _InFlight, err: BaseException) -> None:
        if flight.record.exception is None:
            flight.record.exception = err
        flight.sweeper.fail(flight.combination, err, record=self._prepare(flight, "failed"))
        self._counts["failed"] += 1
        where = f" in stage {flight.record.failed_stage}" if flight.record.failed_stage else ""
        _log.error(
            "combination %s failed%s: %s: %s (traceback in its record %s)",
            dict(flight.combination),
            where,
            type(err).__name__,
            err,
            flight.key,
        )
        if self._progress is not None:
            self._progress.update(flight.sweeper.name, _with_running(flight.sweeper))

    def _give_back(self) -> None:
        if self._finished and self._queue_sweeper is not None:
            try:
                self._mark_done(self._queue_sweeper, 0)  # finished before the interrupt
            except (SweepstackError, OSError) as err:
                _log.error("could not mark finished combinations done: %s", err)
        self._release_queue()
        flight, self._in_flight = self._in_flight, None
        sweepers = {id(s): s for s in (flight and flight.sweeper, self._queue_sweeper) if s}
        for sweeper in sweepers.values():
            try:
                # the in-flight combination, and any claim an interrupt caught half-made
                sweeper.release_claims()
            except (SweepstackError, OSError) as err:
                _log.error(
                    "could not give back the claims of %s: %s (they expire with the lease)",
                    sweeper.name,
                    err,
                )

    def _fail_in_flight(self, err: BaseException) -> None:
        flight, self._in_flight = self._in_flight, None
        if flight is not None:
            try:
                flight.record.exception = err
                self._record_failure(flight, err)
            except (SweepstackError, OSError) as store_error:
                _log.error("could not record the failure of %s: %s", flight.key, store_error)

    def aggregate_record(
        self, name: str = "summary", params: Mapping[str, Any] | None = None
    ) -> Record:
        """A record for experiment-level ``@aggregate`` stages (a comparison over every record).

        It shares the run's cache and options; when ``run()`` returns it is resolved and
        stored like a combination's record (sweep ``"aggregates"``), so its fields and
        reportables appear in results and reports.

        >>> table = compare(self.aggregate_record("comparison"), self.done_records(sweeper))  # doctest: +SKIP
        """
        params = dict(params or {})
        record = self._record(params, param_key({"aggregate": name, **params}))
        record.vars["aggregate"] = name
        self._aggregates.append(record)
        return record

    def _store_aggregates(self) -> None:
        assert self.experiment is not None
        for record in self._aggregates:
            status = "done"
            try:
                record.resolve()
            except Exception as err:
                status = "failed"
                _log.error(
                    "aggregate %s failed: %s: %s",
                    record.vars.get("aggregate"),
                    type(err).__name__,
                    err,
                )
            write_result(
                self.experiment,
                AGGREGATES,
                record,
                status,
                self.current_run.reference,
                {"name": record.vars.get("aggregate")},
            )
        self._aggregates = []

    def finished(self, sweeper: ParamSweeper) -> bool:
        """True when nothing of ``sweeper`` is left to do or in progress, in any process or host.

        With several workers, each one finishing its loop reaches this point; only the
        last one sees the sweep finished, which makes it the one to run aggregates.
        """
        sweeper.update()
        counts = sweeper.counts()
        return counts["remaining"] == 0 and counts["inprogress"] == 0

    def done_records(self, sweeper: ParamSweeper) -> list[Record]:
        """Every done combination of ``sweeper`` as a Record, its outputs loadable (for aggregates)."""
        assert self.experiment is not None
        sweeper.update()
        done = {sweeper.key_of(c) for c in sweeper.get_done()}
        records = []
        for document in self.experiment.experiment().records(sweeper.name):
            if document.get("key") in done and document.get("status") == "done":
                records.append(
                    Record.from_document(
                        document,
                        self._cache,
                        id_run=self.current_run.reference,
                        config=self.config,
                        id_experiment=self._id_experiment,
                    )
                )
        return records


def _overwrite(value: list[str] | None) -> Any:
    if value is None:
        return None
    return True if not value else set(value)


def _with_running(sweeper: ParamSweeper) -> dict[str, int]:
    """The sweeper's counts, with ``running``: processes holding live claims now."""
    return {**sweeper.counts(), "running": sweeper.running()}


def _factors(sweeper: ParamSweeper, limit: int = 50) -> dict[str, list[Any]]:
    """Each factor's distinct levels (the first ``limit``), as JSON, for the manifest."""
    levels: dict[str, list[Any]] = {}
    seen: dict[str, set[str]] = {}
    for combination in sweeper.get_sweeps():
        for factor, level in combination.items():
            name = str(factor)
            text = repr(level)
            if text not in seen.setdefault(name, set()) and len(seen[name]) < limit:
                seen[name].add(text)
                levels.setdefault(name, []).append(
                    level if isinstance(level, (str, int, float, bool, type(None))) else text
                )
    return levels
