"""Logging for an engine session: rich on a terminal, plain lines otherwise, always a file."""

from __future__ import annotations

import logging
import os
import sys
import threading
from typing import Any

__all__ = ["LogSetup", "ScriptLogger", "console", "logger"]

_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"

_console: Any = None

# execo's extra levels, so that a ported script's logger.detail(...) and -l DETAIL work
IODEBUG, FDEBUG, TRACE, DETAIL = 3, 5, 12, 15
for _number, _name in (
    (IODEBUG, "IODEBUG"),
    (FDEBUG, "FDEBUG"),
    (TRACE, "TRACE"),
    (DETAIL, "DETAIL"),
):
    if logging.getLevelName(_number) == f"Level {_number}":
        logging.addLevelName(_number, _name)


class ScriptLogger(logging.Logger):
    """A logger with execo's extra levels: ``detail``, ``trace``, ``fdebug``, ``iodebug``."""

    def detail(self, message: str, *args: Any, **kwargs: Any) -> None:
        if self.isEnabledFor(DETAIL):
            self._log(DETAIL, message, args, **kwargs)

    def trace(self, message: str, *args: Any, **kwargs: Any) -> None:
        if self.isEnabledFor(TRACE):
            self._log(TRACE, message, args, **kwargs)

    def fdebug(self, message: str, *args: Any, **kwargs: Any) -> None:
        if self.isEnabledFor(FDEBUG):
            self._log(FDEBUG, message, args, **kwargs)

    def iodebug(self, message: str, *args: Any, **kwargs: Any) -> None:
        if self.isEnabledFor(IODEBUG):
            self._log(IODEBUG, message, args, **kwargs)


def _script_logger(name: str) -> ScriptLogger:
    # getLogger makes loggers of the registered class: swap it for this one name only
    with _logger_class_lock:
        previous = logging.getLoggerClass()
        logging.setLoggerClass(ScriptLogger)
        try:
            made = logging.getLogger(name)
        finally:
            logging.setLoggerClass(previous)
    if not isinstance(made, ScriptLogger):  # made before, as a plain logger: wrap nothing
        raise RuntimeError(f"logger {name!r} already exists and is not a ScriptLogger")
    return made


_logger_class_lock = threading.Lock()

#: The logger for experiment scripts, as ``execo_engine.logger``: its lines go where
#: the engine's go (terminal and ``DIR/logs/``), at the level ``-l`` sets.
logger: ScriptLogger = _script_logger("sweepstack.script")


def console() -> Any:
    """The rich console shared by log lines and the progress bar (on stderr)."""
    global _console
    if _console is None:
        from rich.console import Console

        _console = Console(stderr=True)
    return _console


def _level(value: str | None) -> int:
    if value is None:
        return logging.INFO
    try:
        return int(value)
    except ValueError:
        level = logging.getLevelName(value.upper())
        if not isinstance(level, int):
            raise ValueError(
                f"unknown log level {value!r}: use DEBUG, INFO, WARNING, ERROR or a number"
            ) from None
        return level


class LogSetup:
    """Handlers installed on the root logger for one engine session, removed by :meth:`close`."""

    def __init__(self, level: str | None, rich: bool, quiet: bool = False) -> None:
        """``level`` (``-l``) applies to the terminal and the file. Without it: INFO, and
        only warnings on the terminal when ``quiet`` (worker processes sharing a terminal
        with their launcher's progress display); the log file always has INFO."""
        self.level = _level(level)
        console_level = self.level if level is not None or not quiet else logging.WARNING
        self.root = logging.getLogger()
        self._saved_level = self.root.level
        self.handlers: list[logging.Handler] = []
        self.rich = rich and sys.stderr.isatty()
        if self.rich:
            from rich.logging import RichHandler

            handler: logging.Handler = RichHandler(
                console=console(), show_path=False, rich_tracebacks=False
            )
            handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
        else:
            handler = logging.StreamHandler(sys.stderr)
            handler.setFormatter(logging.Formatter(_FORMAT))
        self._add(handler, console_level)
        self.root.setLevel(min(self.level, self.root.level or logging.WARNING))

    def _add(self, handler: logging.Handler, level: int) -> None:
        handler.setLevel(level)
        self.root.addHandler(handler)
        self.handlers.append(handler)

    def to_file(self, path: str) -> None:
        """Also log everything at this level to ``path`` (appended)."""
        os.makedirs(os.path.dirname(path), exist_ok=True)
        handler = logging.FileHandler(path, encoding="utf-8")
        handler.setFormatter(logging.Formatter(_FORMAT))
        self._add(handler, self.level)

    def close(self) -> None:
        for handler in self.handlers:
            self.root.removeHandler(handler)
            handler.close()
        self.handlers = []
        self.root.setLevel(self._saved_level)
