"""One combination's result document, written one way for the engine, aggregates and the
:class:`~sweepstack.dag.ArtifactManager` alike."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from sweepstack.dag._record import Record
from sweepstack.store import ExperimentDir

__all__ = ["prepare_result", "result_document", "result_status", "write_result"]


def _utc(timestamp: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(timestamp))


def result_status(record: Record) -> str | None:
    """``done``, ``failed``, or None while the record is not resolved (stages pending)."""
    if record.exception is not None:
        return "failed"
    if all(s["status"] in ("run", "hit", "skipped") for s in record.stages):
        return "done"
    return None


UNCHANGED_IF_SAME = ("params", "fields", "exception", "outputs", "reportables")
"""A record whose stages were all cached and whose stored record has the same status
and these entries is not written again (a rerun that changes nothing writes no record)."""


def result_document(
    sweep: str,
    record: Record,
    status: str,
    run: str | None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The result document of ``record``: the record's own (:meth:`Record.to_document`:
    params, fields, exception, stages, outputs, reportables) with the sweep, ``status``,
    the ``run`` reference, and its times: started when the record was made, ended now."""
    document = record.to_document()
    document.update(
        sweep=sweep,
        status=status,
        run=run,
        started=_utc(record.created),
        ended=_utc(time.time()),
        duration=round(record.elapsed, 6),
        **(extra or {}),
    )
    return document


def prepare_result(
    experiment: ExperimentDir,
    sweep: str,
    record: Record,
    status: str,
    run: str | None,
) -> str | None:
    """The result of ``record`` as one line of JSON, for a sweeper to store with its done
    mark (:meth:`~sweepstack.sweep.ParamSweeper.done`); None when nothing changed: every
    stage was a cache hit and the stored record has the same status, params, fields,
    outputs and reportables.

    Raises:
        UnstorableValueError: a field is not JSON.
    """
    document = result_document(sweep, record, status, run)
    cached = bool(record.stages) and all(s["status"] in ("hit", "skipped") for s in record.stages)
    return experiment.record_store.prepare(
        sweep, record.key, document, unless_same=UNCHANGED_IF_SAME if cached else None
    )


def write_result(
    experiment: ExperimentDir,
    sweep: str,
    record: Record,
    status: str,
    run: str | None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Store ``record`` as the result of its combination in ``sweep``; return what was stored.

    The document is :func:`result_document`'s; the store adds the attempt number, host
    and pid.

    Raises:
        UnstorableValueError: a field is not JSON (nothing is written).
        StoreWriteError: the record cannot be written; the previous one is intact.
    """
    document = result_document(sweep, record, status, run, extra)
    return experiment.write_record(sweep, record.key, document)
