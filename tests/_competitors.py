"""The tools sweepstack is compared with, imported quietly when installed.

execo (2.8) warns about its own deprecated calls when imported; that is not ours to
fix, and warnings are errors in this test suite.
"""

from __future__ import annotations

import warnings

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    try:
        import execo_engine
    except ImportError:  # pragma: no cover - the test extra installs it
        execo_engine = None

__all__ = ["execo_engine"]
