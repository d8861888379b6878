"""sweepstack: parameter sweeps of experiments that survive crashes, restarts and many hosts.

Public names, by layer (imports go downward: engine -> sweep, dag -> store)::

    from sweepstack import Engine, sweep, igeom, stage
"""

from __future__ import annotations

__version__ = "0.1.0"

# execo_engine's module names, for scripts ported from it (`from sweepstack.log import logger`)
from sweepstack import log, utils

# errors: one tree rooted at SweepstackError
# dag/: records flowing through cached stages
from sweepstack.dag import (
    DAG,
    ArtifactManager,
    Cacher,
    DillCacher,
    ExecutionNode,
    JsonCacher,
    Lazy,
    PathCacher,
    PickleCacher,
    Record,
    aggregate,
    stage,
)

# engine/: the class experiment scripts subclass
from sweepstack.engine import Engine, Interrupted, copy_outputs, logger, redirect_outputs
from sweepstack.errors import SweepstackError, SweepstackWarning

# store/: the experiment directory, runs and results
from sweepstack.store import Experiment, Results, Run, open

# sweep/: parameter spaces, combination keys, the persistent sweeper
from sweepstack.sweep import (
    HashableDict,
    ParamSweeper,
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
    "DAG",
    "ArtifactManager",
    "Cacher",
    "DillCacher",
    "Engine",
    "ExecutionNode",
    "Experiment",
    "HashableDict",
    "Interrupted",
    "JsonCacher",
    "Lazy",
    "ParamSweeper",
    "PathCacher",
    "PickleCacher",
    "Record",
    "Results",
    "Run",
    "SweepstackError",
    "SweepstackWarning",
    "__version__",
    "aggregate",
    "canonical",
    "copy_outputs",
    "geom",
    "igeom",
    "log",
    "logger",
    "open",
    "param_key",
    "redirect_outputs",
    "register_key_type",
    "slugify",
    "stage",
    "sweep",
    "sweep_stats",
    "utils",
]
