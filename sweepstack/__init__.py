"""sweepstack: parameter sweeps of experiments that survive crashes, restarts and many hosts.

Public names, by layer (imports go downward: engine -> sweep, dag -> store)::

    from sweepstack import Engine, sweep, igeom, stage
"""

from __future__ import annotations

# execo_engine's module names, for scripts ported from it (`from sweepstack.log import logger`)
from sweepstack import log, utils
from sweepstack._version import __version__

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
    NumpyCacher,
    PandasCacher,
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
from sweepstack.store import Experiment, ManagerStore, Results, Run, open
from sweepstack.store._experiment import set_notebook_view as _set_notebook_view

# sweep/: parameter spaces, combination keys, the persistent sweeper
from sweepstack.sweep import (
    HashableDict,
    ParamSweeper,
    canonical,
    geom,
    igeom,
    loguniform,
    param_key,
    randint,
    register_key_type,
    sample,
    slugify,
    sweep,
    sweep_stats,
    uniform,
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
    "ManagerStore",
    "NumpyCacher",
    "PandasCacher",
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
    "loguniform",
    "open",
    "param_key",
    "randint",
    "redirect_outputs",
    "register_key_type",
    "sample",
    "slugify",
    "stage",
    "sweep",
    "sweep_stats",
    "uniform",
    "utils",
    "write_report",
]


# report/: the HTML report, imported when first used (it is the heaviest layer to import);
# the notebook view of an experiment is the report's overview
def _overview(experiment: Experiment) -> str:
    from sweepstack.report import overview_html

    return overview_html(experiment)


_set_notebook_view(_overview)


def __getattr__(name: str) -> object:
    if name == "write_report":
        from sweepstack.report import write_report

        return write_report
    raise AttributeError(f"module 'sweepstack' has no attribute {name!r}")
