"""The store layer: the experiment directory on disk, the one place that knows its layout.

:func:`open` gives the :class:`Experiment` a user queries; :class:`ExperimentDir` is
the handle the engine, the sweepers and the DAG write through.
"""

from sweepstack.store._cache import ArtifactCache
from sweepstack.store._check import Problem
from sweepstack.store._directory import ExperimentDir
from sweepstack.store._experiment import Experiment, open
from sweepstack.store._fields import FieldDict, validate_field
from sweepstack.store._format import AGGREGATES
from sweepstack.store._manager_store import ManagerStore
from sweepstack.store._names import HOST
from sweepstack.store._results import Results, changed_fields
from sweepstack.store._runs import Run

__all__ = [
    "AGGREGATES",
    "HOST",
    "ArtifactCache",
    "Experiment",
    "ExperimentDir",
    "FieldDict",
    "ManagerStore",
    "Problem",
    "Results",
    "Run",
    "changed_fields",
    "open",
    "validate_field",
]
