"""The engine layer: the Engine class experiment scripts subclass, its records loop and workers."""

from sweepstack.engine._engine import Engine
from sweepstack.engine._logging import logger
from sweepstack.engine._outputs import copy_outputs, redirect_outputs
from sweepstack.engine._signals import Interrupted

__all__ = ["Engine", "Interrupted", "copy_outputs", "logger", "redirect_outputs"]
