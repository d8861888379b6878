"""execo_engine's ``utils`` module name, for ported scripts: ``from sweepstack.utils import slugify``."""

from __future__ import annotations

from sweepstack.engine import copy_outputs, redirect_outputs
from sweepstack.sweep import HashableDict, slugify

__all__ = ["HashableDict", "copy_outputs", "redirect_outputs", "slugify"]
