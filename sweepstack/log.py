"""execo_engine's ``log`` module name, for ported scripts: ``from sweepstack.log import logger``."""

from __future__ import annotations

from sweepstack.engine._logging import DETAIL, FDEBUG, IODEBUG, TRACE, ScriptLogger, logger

__all__ = ["DETAIL", "FDEBUG", "IODEBUG", "TRACE", "ScriptLogger", "logger"]
