"""The on-disk format of an experiment directory, in one place.

Every file name of an experiment directory is a constant here, and every document
type has one ``encode_*`` / ``parse_*`` pair. Parsers ignore keys they do not know,
so that a newer writer does not break an older reader; a document whose format
number is newer than :data:`FORMAT_VERSION` is refused with
:class:`~sweepstack.errors.FormatVersionError`. ``docs/format.md`` describes the
same for people; the two change together.

Layout::

    DIR/experiment.json                       identity and format (created once)
    DIR/sweeps/<name>/                        one ParamSweeper (see SWEEPER_*)
    DIR/runs/<N>.json                         one engine session per run number
    DIR/records/<sweep>/<kk>/<key>.json       one result per combination
    DIR/cache/<kk>/<key>/                     one artifact: metadata + data
    DIR/logs/  DIR/reports/  DIR/quarantine/
"""

from __future__ import annotations

import json
import os
from typing import Any

from sweepstack.errors import FormatVersionError

__all__ = [
    "CACHE_DIR",
    "EXPERIMENT_FILE",
    "FORMAT_VERSION",
    "KNOWN_TOP_LEVEL",
    "LOGS_DIR",
    "QUARANTINE_DIR",
    "RECORDS_DIR",
    "REPORTS_DIR",
    "RUNS_DIR",
    "SWEEPER_JOURNAL",
    "SWEEPER_LOCK",
    "SWEEPER_MANIFEST",
    "SWEEPER_SNAPSHOT",
    "SWEEPER_SWEEPS",
    "SWEEPS_DIR",
    "check_format",
    "dumps",
    "shard",
]

FORMAT_VERSION = 1
"""Format of everything below an experiment directory; readers refuse a newer one."""

# --- experiment directory -------------------------------------------------------------
EXPERIMENT_FILE = "experiment.json"
SWEEPS_DIR = "sweeps"
RUNS_DIR = "runs"
RECORDS_DIR = "records"
CACHE_DIR = "cache"
LOGS_DIR = "logs"
REPORTS_DIR = "reports"
QUARANTINE_DIR = "quarantine"

# --- one sweeper's folder (DIR/sweeps/<name>/, or any persistence_dir) -----------------
SWEEPER_LOCK = "lock"  # the inter-process lock file; nothing else opens it
SWEEPER_JOURNAL = "journal"  # append-only transitions since the snapshot
SWEEPER_SNAPSHOT = "snapshot"  # compacted state, replaced atomically
SWEEPER_SWEEPS = "sweeps"  # the saved combinations (save_sweeps=True)
SWEEPER_MANIFEST = "manifest.json"  # the parameter space and options of an engine's sweeper

KNOWN_TOP_LEVEL = frozenset(
    {
        EXPERIMENT_FILE,
        SWEEPS_DIR,
        RUNS_DIR,
        RECORDS_DIR,
        CACHE_DIR,
        LOGS_DIR,
        REPORTS_DIR,
        QUARANTINE_DIR,
        # outputs of the engine's -L / -R / -M options, next to the experiment
        "stdout",
        "stderr",
        "stdout+stderr",
    }
)
"""Names that may appear at the top of an experiment directory."""


def shard(key: str) -> str:
    """The sub-folder of a key-named file: its first two hex digits (256 folders)."""
    return key[:2]


def dumps(document: Any) -> str:
    """JSON text of a document as sweepstack writes it: sorted keys, UTF-8, one line."""
    return json.dumps(document, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def check_format(path: str, document: dict[str, Any], supported: int = FORMAT_VERSION) -> int:
    """Return the document's format number, refusing one newer than ``supported``.

    Raises:
        FormatVersionError: the document was written by a newer sweepstack.
    """
    found = document.get("format", 1)
    if not isinstance(found, int) or found > supported:
        raise FormatVersionError(os.fspath(path), found, supported)
    return found
