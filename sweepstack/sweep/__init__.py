"""The sweep layer: parameter spaces, combination keys and the persistent ParamSweeper."""

from sweepstack.sweep._combinations import HashableDict, geom, igeom, slugify, sweep, sweep_stats
from sweepstack.sweep._keys import canonical, param_key, register_key_type
from sweepstack.sweep._sets import CombinationSet
from sweepstack.sweep._sweeper import Claim, ParamSweeper, SweeperStats, check_sweeper

__all__ = [
    "Claim",
    "CombinationSet",
    "HashableDict",
    "ParamSweeper",
    "SweeperStats",
    "canonical",
    "check_sweeper",
    "geom",
    "igeom",
    "param_key",
    "register_key_type",
    "slugify",
    "sweep",
    "sweep_stats",
]
