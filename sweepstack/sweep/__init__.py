"""The sweep layer: parameter spaces, combination keys and the persistent ParamSweeper."""

from sweepstack._keys import canonical, param_key, register_key_type
from sweepstack.sweep._check import check_sweeper
from sweepstack.sweep._combinations import (
    Combinations,
    HashableDict,
    geom,
    igeom,
    slugify,
    sweep,
    sweep_stats,
)
from sweepstack.sweep._distributions import Distribution, loguniform, randint, uniform
from sweepstack.sweep._sample import sample
from sweepstack.sweep._sets import CombinationSet
from sweepstack.sweep._sweeper import Claim, ParamSweeper, SpaceChange, SweeperStats

__all__ = [
    "Claim",
    "CombinationSet",
    "Combinations",
    "Distribution",
    "HashableDict",
    "ParamSweeper",
    "SpaceChange",
    "SweeperStats",
    "canonical",
    "check_sweeper",
    "geom",
    "igeom",
    "loguniform",
    "param_key",
    "randint",
    "register_key_type",
    "sample",
    "slugify",
    "sweep",
    "sweep_stats",
    "uniform",
]
