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
    DIR/sweeps/<name>/manifest.json           an engine sweeper's parameter space and options
    DIR/logs/<run>.log  DIR/logs/<run>.out|.err   a run's log; a worker's -L / -R outputs
    DIR/stdout  DIR/stderr  DIR/stdout+stderr  one process's -L / -R outputs
    DIR/reports/report.html                   the default report
    DIR/quarantine/                           what check --repair moved aside
    <parent>/cache-<prefix>/                  a cache shared by sibling experiments
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import struct
import zlib
from collections.abc import Mapping
from typing import Any

from sweepstack.errors import (
    CorruptEntryError,
    ForeignFormatError,
    FormatVersionError,
    JournalCorruptError,
    UnstorableValueError,
)

__all__ = [
    "AGGREGATES",
    "ATTEMPT_KEYS",
    "CACHE_DIR",
    "ERR_SUFFIX",
    "EXPERIMENT_FILE",
    "FIELDS_FILE",
    "FIELDS_LOCK",
    "FORMAT_VERSION",
    "JOURNAL_FORMAT",
    "JOURNAL_MAGIC",
    "KNOWN_TOP_LEVEL",
    "LIVE_REPORT_SUFFIX",
    "LOGS_DIR",
    "LOG_SUFFIX",
    "LOG_SUMMARY_KEYS",
    "MANIFEST_KEYS",
    "MERGED_OUTPUT_FILE",
    "OUT_SUFFIX",
    "QUARANTINE_DIR",
    "RECORDS_DIR",
    "RECORD_LOG_DIR",
    "RECORD_LOG_SUFFIX",
    "RECORD_SUFFIX",
    "REPORTS_DIR",
    "REPORT_FILE",
    "RUNS_DIR",
    "RUNS_HINT",
    "RUNS_LOCK",
    "RUN_SUFFIX",
    "SHARED_CACHE_PREFIX",
    "SNAPSHOT_MAGIC",
    "STDERR_FILE",
    "STDOUT_FILE",
    "SWEEPER_JOURNAL",
    "SWEEPER_LOCK",
    "SWEEPER_MANIFEST",
    "SWEEPER_SNAPSHOT",
    "SWEEPER_SWEEPS",
    "SWEEPS_DIR",
    "SWEEPS_FORMAT",
    "SWEEPS_MAGIC",
    "JournalEntry",
    "attempt_entry",
    "check_format",
    "dumps",
    "encode_checked_line",
    "encode_document",
    "encode_experiment",
    "encode_fields",
    "encode_journal_entry",
    "encode_journal_header",
    "encode_log_header",
    "encode_log_line",
    "encode_manifest",
    "encode_record",
    "encode_run",
    "encode_snapshot",
    "encode_sweeps_head",
    "manifest_path",
    "parse_checked_line",
    "parse_experiment",
    "parse_fields",
    "parse_journal_entry",
    "parse_journal_header",
    "parse_log",
    "parse_manifest",
    "parse_record",
    "parse_run",
    "parse_snapshot",
    "parse_sweeps",
    "read_sweeps_header",
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
STDOUT_FILE = "stdout"  # the engine's -L / -R outputs of a single process
STDERR_FILE = "stderr"
MERGED_OUTPUT_FILE = "stdout+stderr"  # ... with -M
SHARED_CACHE_PREFIX = "cache-"  # <parent of DIR>/cache-<prefix>: ArtifactManager(prefix=...)

# --- logs/ and reports/ -------------------------------------------------------------------
LOG_SUFFIX = ".log"  # logs/<run reference>.log
OUT_SUFFIX = ".out"  # logs/<run reference>.out and .err: a worker's -L / -R outputs
ERR_SUFFIX = ".err"
REPORT_FILE = "report.html"  # reports/report.html, the default report
LIVE_REPORT_SUFFIX = ".html"  # reports/<run reference>.html: ArtifactManager.generate_report()

# --- runs/ and records/<sweep>/ -----------------------------------------------------------
RUN_SUFFIX = ".json"  # runs/<N>.json
RUNS_HINT = "next"  # runs/next: a number to start from; only a hint, never trusted for uniqueness
RUNS_LOCK = "lock"  # runs/lock: held to rewrite a run document (read, merge, replace)
RECORD_SUFFIX = ".json"  # records/<sweep>/<kk>/<key>.json
RECORD_LOG_DIR = "_log"  # records/<sweep>/_log/: never a shard (shards are two characters)
RECORD_LOG_SUFFIX = ".jsonl"
AGGREGATES = "aggregates"  # records/aggregates/: the records of experiment-level aggregates

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
    return encode_checked_line(dumps(entry).encode("utf-8"))


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
        payload = parse_checked_line(line)
        if payload is not None:
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


# --- checksummed lines ---------------------------------------------------------------------
# The sweeper's journal and the record index logs are append-only files of lines
# ``<payload>\t<CRC-32 of the payload, 8 hex digits>\n``. A payload never holds a raw tab
# or newline (compact JSON escapes them; journal subjects are hex). A line cut by a crash
# or damaged on disk fails its checksum and is skipped, never misread.


def encode_checked_line(payload: bytes) -> bytes:
    """``payload``, a tab, its CRC-32 in hex and a newline."""
    return payload + b"\t%08x\n" % zlib.crc32(payload)


def parse_checked_line(line: bytes) -> bytes | None:
    """The payload of one line (without its newline), or None if its checksum fails."""
    payload, tab, crc = line.rpartition(b"\t")
    if not tab or len(crc) != 8:
        return None
    try:
        return payload if zlib.crc32(payload) == int(crc, 16) else None
    except ValueError:
        return None


# --- a sweeper's journal and snapshots (DIR/sweeps/<name>/) --------------------------------
# journal:      a header line ``SSJ1 <generation>``, then one entry per line:
#               ``<op> <subject>[ <argument>]`` (see sweep/_journal.py for the operations)
# snapshot.<g>: ``SSS1 <sha256 of body> <length of body>\n`` then the body, a JSON object

JOURNAL_MAGIC = "SSJ1"
JOURNAL_FORMAT = 1
SNAPSHOT_MAGIC = b"SSS1"

JournalEntry = tuple[str, str, str]  # (operation, subject, argument)


def encode_journal_entry(op: str, subject: str, argument: str = "") -> bytes:
    """One journal line: ``<op> <subject>[ <argument>]``, checksummed.

    ``subject`` is a key or an owner id (hex), ``argument`` an owner id or compact JSON
    (which never holds a raw tab or newline).
    """
    payload = f"{op} {subject} {argument}" if argument else f"{op} {subject}"
    return encode_checked_line(payload.encode("utf-8"))


def parse_journal_entry(line: bytes) -> JournalEntry | None:
    """The entry of one journal line (without its newline), or None if it is damaged."""
    payload = parse_checked_line(line)
    if payload is None:
        return None
    try:
        op, _, rest = payload.decode("utf-8").partition(" ")
    except UnicodeDecodeError:
        return None
    subject, _, argument = rest.partition(" ")
    return op, subject, argument


def encode_journal_header(generation: int) -> bytes:
    """The first line of a journal of ``generation``."""
    return encode_journal_entry(JOURNAL_MAGIC, str(generation))


def parse_journal_header(path: str, line: bytes) -> int:
    """The generation named by a journal's first line (without its newline).

    Raises:
        JournalCorruptError: the line is not a sweepstack journal header.
        FormatVersionError: the journal was written by a newer sweepstack.
    """
    entry = parse_journal_entry(line)
    if entry is None or not entry[0].startswith("SSJ") or not entry[1].isdigit():
        raise JournalCorruptError(path, "its first line is not a sweepstack journal header")
    if entry[0] != JOURNAL_MAGIC:
        version = entry[0][3:]
        raise FormatVersionError(path, int(version) if version.isdigit() else 0, JOURNAL_FORMAT)
    return int(entry[1])


def encode_snapshot(document: Mapping[str, Any]) -> bytes:
    """A snapshot file: its magic, the body's SHA-256 and length, then the JSON body."""
    body = json.dumps({"format": JOURNAL_FORMAT, **document}, separators=(",", ":")).encode("utf-8")
    digest = hashlib.sha256(body).hexdigest().encode("ascii")
    return SNAPSHOT_MAGIC + b" " + digest + b" %d\n" % len(body) + body


def parse_snapshot(path: str, data: bytes) -> dict[str, Any]:
    """The document of a snapshot file.

    Raises:
        ValueError: the file is not a whole, intact snapshot (the text says why).
        FormatVersionError: it was written by a newer sweepstack.
    """
    newline = data.find(b"\n")
    parts = data[:newline].split(b" ")
    if newline < 0 or len(parts) != 3 or parts[0] != SNAPSHOT_MAGIC:
        raise ValueError("not a sweepstack snapshot")
    body = data[newline + 1 :]
    if len(body) != int(parts[2]):
        raise ValueError(f"truncated: {len(body)} of {int(parts[2])} bytes")
    if hashlib.sha256(body).hexdigest().encode("ascii") != parts[1]:
        raise ValueError("checksum mismatch")
    document = json.loads(body)
    if not isinstance(document, dict):
        raise ValueError("its body is not a JSON object")
    check_format(path, document, JOURNAL_FORMAT)
    return document


# --- saved sweeps (DIR/sweeps/<name>/sweeps) ------------------------------------------------
# ``SSW1\n``, the length of the header (8 bytes, little-endian), the header (JSON: format,
# count, factors, levels, digest, body_sha256), then the body: the keys, then one int32
# column of level codes per factor (sweep/_space.py reads and writes the columns).

SWEEPS_MAGIC = b"SSW1\n"
SWEEPS_FORMAT = 1


def encode_sweeps_head(header: Mapping[str, Any]) -> bytes:
    """What precedes the body of a saved-sweeps file (the body's SHA-256 is in ``header``)."""
    head = json.dumps({**header, "format": SWEEPS_FORMAT}, separators=(",", ":")).encode("utf-8")
    return SWEEPS_MAGIC + struct.pack("<Q", len(head)) + head


def parse_sweeps(path: str, data: bytes) -> tuple[dict[str, Any], memoryview]:
    """The header and the body of a saved-sweeps file, its checksum verified.

    Raises:
        JournalCorruptError: the file is damaged.
        FormatVersionError: it was written by a newer sweepstack.
        ForeignFormatError: it is another tool's file (execo_engine's pickles).
    """
    if data.startswith(b"\x80"):  # a pickle: execo_engine keeps its ParamSweeper's sweeps so
        raise ForeignFormatError(path, "an execo_engine ParamSweeper file (a pickle)")
    try:
        if not data.startswith(SWEEPS_MAGIC):
            raise ValueError("not a sweepstack sweeps file")
        (length,) = struct.unpack_from("<Q", data, len(SWEEPS_MAGIC))
        start = len(SWEEPS_MAGIC) + 8
        header = json.loads(data[start : start + length])
        if not isinstance(header, dict):
            raise ValueError("its header is not a JSON object")
    except (ValueError, struct.error, UnicodeDecodeError, RecursionError) as err:
        raise JournalCorruptError(path, f"saved sweeps unreadable: {err}") from None
    check_format(path, header, SWEEPS_FORMAT)  # a newer file is no damage: never repaired
    body = memoryview(data)[start + length :]
    if hashlib.sha256(body).hexdigest() != header.get("body_sha256"):
        raise JournalCorruptError(path, "saved sweeps unreadable: checksum mismatch")
    return header, body


def read_sweeps_header(path: str) -> dict[str, Any] | None:
    """The header of the saved-sweeps file at ``path`` (its body unread); None if unreadable."""
    try:
        with open(path, "rb") as f:
            if f.read(len(SWEEPS_MAGIC)) != SWEEPS_MAGIC:
                return None
            (length,) = struct.unpack("<Q", f.read(8))
            header = json.loads(f.read(length))
    except (OSError, ValueError, struct.error):
        return None
    return header if isinstance(header, dict) else None


# --- an engine sweeper's manifest (DIR/sweeps/<name>/manifest.json) --------------------------

MANIFEST_KEYS = ("count", "digest", "factors", "options", "options_key")


def manifest_path(sweeper_folder: str) -> str:
    """The manifest of the sweeper in ``sweeper_folder``."""
    return os.path.join(sweeper_folder, SWEEPER_MANIFEST)


def encode_manifest(manifest: Mapping[str, Any]) -> bytes:
    """``manifest.json``: the parameter space (count, digest, factors) and the options of
    the runs of one engine sweeper."""
    return encode_document({**manifest, "format": FORMAT_VERSION}, SWEEPER_MANIFEST)


def parse_manifest(path: str, data: bytes) -> dict[str, Any]:
    """A sweeper's manifest.

    Raises:
        CorruptEntryError: not a manifest (no ``digest`` string, no integer ``count``).
        FormatVersionError: written by a newer sweepstack.
    """
    document = _load(path, data)
    _require(path, document, "digest", str, "a string")
    _require(path, document, "count", int, "an integer")
    return document
