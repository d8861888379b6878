"""The dag layer: records flowing through cached stages, and the graph that decides what runs.

Stages are declared with :func:`stage` and :func:`aggregate`; calling one on a
:class:`Record` registers a node; resolving the record runs only the stages whose
outputs are not cached, in dependency order. :class:`DAG` maps many records at once
(``--dry``), and :class:`ArtifactManager` does all of this in a notebook.
"""

from sweepstack.dag._cachers import (
    Cacher,
    DillCacher,
    JsonCacher,
    NumpyCacher,
    PandasCacher,
    PathCacher,
    PickleCacher,
)
from sweepstack.dag._graph import DAG, ExecutionNode
from sweepstack.dag._lazy import Lazy
from sweepstack.dag._manager import ArtifactManager
from sweepstack.dag._record import Record, RecordOptions
from sweepstack.dag._stage import Aggregate, Stage, aggregate, stage

__all__ = [
    "DAG",
    "Aggregate",
    "ArtifactManager",
    "Cacher",
    "DillCacher",
    "ExecutionNode",
    "JsonCacher",
    "Lazy",
    "NumpyCacher",
    "PandasCacher",
    "PathCacher",
    "PickleCacher",
    "Record",
    "RecordOptions",
    "Stage",
    "aggregate",
    "stage",
]
