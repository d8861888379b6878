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
    DIR/fields.json  DIR/fields.lock          the experiment's persisted fields
    DIR/runs/<N>.json                         one engine session per run number
    DIR/runs/next                             where to start looking for a free number (hint)
    DIR/records/<sweep>/<kk>/<key>.json       one result per combination (authoritative)
    DIR/records/<sweep>/_log/<writer>.jsonl   one index log per writing process
    DIR/cache/<kk>/<key>/                     one artifact: metadata + data
    DIR/logs/  DIR/reports/  DIR/quarantine/
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import zlib
from collections.abc import Mapping
from typing import Any

from sweepstack.errors import CorruptEntryError, FormatVersionError, UnstorableValueError

__all__ = [
    "ATTEMPT_KEYS",
    "CACHE_DIR",
    "EXPERIMENT_FILE",
    "FIELDS_FILE",
    "FIELDS_LOCK",
    "FORMAT_VERSION",
    "KNOWN_TOP_LEVEL",
    "LOGS_DIR",
    "LOG_SUMMARY_KEYS",
    "QUARANTINE_DIR",
    "RECORDS_DIR",
    "RECORD_LOG_DIR",
    "RECORD_LOG_SUFFIX",
    "RECORD_SUFFIX",
    "REPORTS_DIR",
    "RUNS_DIR",
    "RUNS_HINT",
    "RUN_SUFFIX",
    "SWEEPER_JOURNAL",
    "SWEEPER_LOCK",
    "SWEEPER_MANIFEST",
    "SWEEPER_SNAPSHOT",
    "SWEEPER_SWEEPS",
    "SWEEPS_DIR",
    "attempt_entry",
    "check_format",
    "dumps",
    "encode_document",
    "encode_experiment",
    "encode_fields",
    "encode_log_header",
    "encode_log_line",
    "encode_record",
    "encode_run",
    "parse_experiment",
    "parse_fields",
    "parse_log",
    "parse_record",
    "parse_run",
    "record_summary",
    "shard",
    "type_name",
    "utc_now",
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
FIELDS_FILE = "fields.json"  # the experiment's fields, replaced atomically under FIELDS_LOCK
FIELDS_LOCK = "fields.lock"

# --- runs/ and records/<sweep>/ -----------------------------------------------------------
RUN_SUFFIX = ".json"  # runs/<N>.json
RUNS_HINT = "next"  # runs/next: a number to start from; only a hint, never trusted for uniqueness
RECORD_SUFFIX = ".json"  # records/<sweep>/<kk>/<key>.json
RECORD_LOG_DIR = "_log"  # records/<sweep>/_log/: never a shard (shards are two characters)
RECORD_LOG_SUFFIX = ".jsonl"

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
        FIELDS_FILE,
        FIELDS_LOCK,
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


# --- documents ---------------------------------------------------------------------------
# Each document type has one encode/parse pair. Encoders refuse values that are not JSON
# with UnstorableValueError naming where the value is; parsers refuse what is not a
# document of the type with CorruptEntryError, and a newer format with FormatVersionError.
# Parsers keep keys they do not know (records and runs carry whatever their writer gave).


def utc_now() -> str:
    """The current UTC time as sweepstack writes it: ``2026-11-22T10:00:03.123456Z``."""
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def encode_document(document: Mapping[str, Any], what: str) -> bytes:
    """A JSON document's bytes: :func:`dumps` and a newline.

    Raises:
        UnstorableValueError: a value is not JSON; ``what`` names the document.
    """
    try:
        return (dumps(document) + "\n").encode("utf-8")
    except (TypeError, ValueError, UnicodeEncodeError, RecursionError) as err:
        where, type_name = _first_unstorable(document)
        raise UnstorableValueError(what, where, type_name) from err


_JSON_SCALARS = (str, int, float, bool, type(None))


def _first_unstorable(value: Any, path: str = "", depth: int = 0) -> tuple[str, str]:
    """Where the first value json cannot write is, and its type (for error messages)."""
    if depth > 100:
        return path or "<document>", "structure nested too deep (or containing itself)"
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, _JSON_SCALARS):
                return f"{path}<key {k!r}>", type_name(k)
            found = _first_unstorable(v, f"{path}[{k!r}]", depth + 1)
            if found[0]:
                return found
        return "", ""
    if isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            found = _first_unstorable(v, f"{path}[{i}]", depth + 1)
            if found[0]:
                return found
        return "", ""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return path or "<document>", "str with unpaired surrogates"
        return "", ""
    if isinstance(value, _JSON_SCALARS):
        return "", ""
    return path or "<document>", type_name(value)


def type_name(value: Any) -> str:
    """``int``, ``numpy.ndarray``...: the name of a value's type, for error messages."""
    kind = type(value)
    return (
        kind.__qualname__
        if kind.__module__ == "builtins"
        else f"{kind.__module__}.{kind.__qualname__}"
    )


def _load(path: str, data: bytes) -> dict[str, Any]:
    if not data.strip():
        raise CorruptEntryError(path, "the file is empty")
    try:
        document = json.loads(data)
    except (ValueError, RecursionError) as err:
        raise CorruptEntryError(path, f"not valid JSON ({err})") from None
    if not isinstance(document, dict):
        raise CorruptEntryError(path, f"a JSON {type(document).__name__}, not an object")
    check_format(path, document)
    return document


def _require(path: str, document: dict[str, Any], name: str, kind: Any, label: str) -> Any:
    value = document.get(name)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise CorruptEntryError(path, f"{name!r} is missing or not {label}")
    return value


def encode_experiment(id_experiment: str, name: str, engine: str | None, created: str) -> bytes:
    """``experiment.json``: identity and format of an experiment directory."""
    return encode_document(
        {
            "created": created,
            "engine": engine,
            "format": FORMAT_VERSION,
            "id_experiment": id_experiment,
            "name": name,
        },
        EXPERIMENT_FILE,
    )


def parse_experiment(path: str, data: bytes) -> dict[str, Any]:
    """The known keys of ``experiment.json``: format, id_experiment, name, engine, created.

    Raises:
        CorruptEntryError: not an experiment document.
        FormatVersionError: written by a newer sweepstack.
    """
    document = _load(path, data)
    engine = document.get("engine")
    return {
        "format": document.get("format", 1),
        "id_experiment": _require(path, document, "id_experiment", str, "a string"),
        "name": _require(path, document, "name", str, "a string"),
        "engine": engine if isinstance(engine, str) else None,
        "created": _require(path, document, "created", str, "a string"),
    }


def encode_run(document: Mapping[str, Any]) -> bytes:
    """``runs/<N>.json``: one engine session (see ``docs/format.md``)."""
    return encode_document({**document, "format": FORMAT_VERSION}, f"run {document['number']}")


def parse_run(path: str, data: bytes) -> dict[str, Any]:
    """A run document, with every key it holds.

    Raises:
        CorruptEntryError: not a run document (no integer ``number``, no ``reference``).
        FormatVersionError: written by a newer sweepstack.
    """
    document = _load(path, data)
    _require(path, document, "number", int, "an integer")
    _require(path, document, "reference", str, "a string")
    _require(path, document, "status", str, "a string")
    return document


def encode_record(document: Mapping[str, Any]) -> bytes:
    """``records/<sweep>/<kk>/<key>.json``: one combination's result (see ``docs/format.md``)."""
    return encode_document({**document, "format": FORMAT_VERSION}, f"record {document['key']}")


def parse_record(path: str, data: bytes) -> dict[str, Any]:
    """A record document, with every key it holds.

    Raises:
        CorruptEntryError: not a record document (no ``key``).
        FormatVersionError: written by a newer sweepstack.
    """
    document = _load(path, data)
    _require(path, document, "key", str, "a string")
    return document


def encode_fields(fields: Mapping[str, Any]) -> bytes:
    """``fields.json``: the experiment's persisted fields."""
    return encode_document({"fields": dict(fields), "format": FORMAT_VERSION}, FIELDS_FILE)


def parse_fields(path: str, data: bytes) -> dict[str, Any]:
    """The fields held in ``fields.json``.

    Raises:
        CorruptEntryError: not a fields document.
        FormatVersionError: written by a newer sweepstack.
    """
    return dict(_require(path, _load(path, data), "fields", dict, "an object"))


# --- record index logs ---------------------------------------------------------------------
# records/<sweep>/_log/<writer>.jsonl: one file per writing process, appended by it alone.
# Each line is ``<compact JSON>\t<CRC-32 of the JSON, 8 hex digits>\n``, as in the
# sweeper's journal; the first line is a header. A line without its newline is a write in
# progress or cut by a crash and is ignored; a complete line whose checksum fails is
# reported. An entry is the summary of a record that results() needs, plus the inode
# number of the record file it describes (see docs/format.md, "Records").

LOG_SUMMARY_KEYS = (
    "attempt",
    "duration",
    "ended",
    "fields",
    "host",
    "key",
    "params",
    "run",
    "started",
    "status",
)
"""Keys of a record copied into its index entry, beside ``exception`` and ``ino``."""


def record_summary(document: Mapping[str, Any]) -> dict[str, Any]:
    """The part of a record that a results table shows (no stages, outputs or traceback)."""
    summary = {name: document.get(name) for name in LOG_SUMMARY_KEYS}
    exception = document.get("exception")
    if isinstance(exception, Mapping):
        exception = {"type": exception.get("type"), "message": exception.get("message")}
    summary["exception"] = exception
    return summary


ATTEMPT_KEYS = (
    "attempt",
    "duration",
    "ended",
    "fields",
    "host",
    "run",
    "started",
    "status",
    "written",
)
"""Keys of a record kept in its ``history`` when a later attempt replaces it."""


def attempt_entry(document: Mapping[str, Any]) -> dict[str, Any]:
    """What a record keeps of an earlier attempt: run, status, fields, times, stage codes.

    ``code`` maps each stage the attempt went through to its code fingerprint (its
    ``version=`` when it has one), so that a change of results can be traced to a
    change of code.
    """
    entry = {name: document.get(name) for name in ATTEMPT_KEYS}
    code: dict[str, Any] = {}
    stages = document.get("stages")
    if isinstance(stages, list):
        for stage in stages:
            if isinstance(stage, Mapping) and isinstance(stage.get("name"), str):
                version = stage.get("version")
                code[stage["name"]] = version if version is not None else stage.get("code")
    entry["code"] = code
    exception = document.get("exception")
    if isinstance(exception, Mapping):
        exception = {"type": exception.get("type"), "message": exception.get("message")}
    entry["exception"] = exception
    return entry


def encode_log_line(entry: Mapping[str, Any]) -> bytes:
    """One index-log line: compact JSON, a tab, its CRC-32 in hex, a newline."""
    payload = dumps(entry).encode("utf-8")
    return payload + b"\t%08x\n" % zlib.crc32(payload)


def encode_log_header(host: str, pid: int, created: str) -> bytes:
    """The first line of an index log: who writes it."""
    return encode_log_line(
        {"created": created, "format": FORMAT_VERSION, "host": host, "log": "records", "pid": pid}
    )


def parse_log(path: str, data: bytes) -> tuple[list[dict[str, Any]], list[CorruptEntryError]]:
    """The entries of an index log, and the complete lines that could not be read.

    Raises:
        FormatVersionError: the log's header is of a newer format.
    """
    lines = data.split(b"\n")
    lines.pop()  # after the last newline: nothing, or a line still being written or cut
    payloads: list[bytes] = []
    numbers: list[int] = []
    problems: list[CorruptEntryError] = []
    for number, line in enumerate(lines, 1):
        payload, tab, crc = line.rpartition(b"\t")
        try:
            valid = bool(tab) and len(crc) == 8 and zlib.crc32(payload) == int(crc, 16)
        except ValueError:
            valid = False
        if valid:
            payloads.append(payload)
            numbers.append(number)
        else:
            problems.append(CorruptEntryError(f"{path}, line {number}", "checksum mismatch"))
    try:  # one call for the whole log: several times faster than a loads() per line
        values = json.loads(b"[" + b",".join(payloads) + b"]")
    except (ValueError, RecursionError):
        values = [_loads_or_none(payload) for payload in payloads]
    entries = []
    for number, value in zip(numbers, values):
        if isinstance(value, dict) and "log" in value:
            check_format(path, value)
        elif (
            isinstance(value, dict)
            and isinstance(value.get("key"), str)
            and isinstance(value.get("ino"), int)
            and isinstance(value.get("attempt"), int)
        ):
            entries.append(value)
        else:
            problems.append(CorruptEntryError(f"{path}, line {number}", "not an index entry"))
    return entries, problems


def _loads_or_none(payload: bytes) -> Any:
    try:
        return json.loads(payload)
    except (ValueError, RecursionError):
        return None
