"""sweepstack: parameter sweeps of experiments that survive crashes, restarts and many hosts.

Public names, by layer (imports go downward: engine -> sweep, dag -> store)::

    from sweepstack import Engine, sweep, igeom, stage
"""

from __future__ import annotations

__version__ = "0.1.0"

# errors: one tree rooted at SweepstackError
from sweepstack.errors import SweepstackError, SweepstackWarning

# sweep/: parameter spaces, combination keys
from sweepstack.sweep import (
    HashableDict,
    canonical,
    geom,
    igeom,
    param_key,
    register_key_type,
    slugify,
    sweep,
    sweep_stats,
)

__all__ = [
    "HashableDict",
    "SweepstackError",
    "SweepstackWarning",
    "__version__",
    "canonical",
    "geom",
    "igeom",
    "param_key",
    "register_key_type",
    "slugify",
    "sweep",
    "sweep_stats",
]
