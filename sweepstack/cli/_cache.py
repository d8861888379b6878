"""``sweepstack cache``: what the artifact cache holds, and cleaning it."""

from __future__ import annotations

import argparse
import datetime
import re
import time
from argparse import Namespace
from dataclasses import dataclass
from typing import Any

from sweepstack.cli._output import Output, age, error, size
from sweepstack.errors import ArtifactCorruptError, CorruptEntryError
from sweepstack.store import Experiment

__all__ = ["UNUSED_GRACE", "parse_age", "run"]

UNUSED_GRACE = 3600.0
"""``--clean --unused`` keeps unused artifacts younger than this (unless ``--older-than``):
a running combination publishes its artifacts before its record, which names them."""

_AGE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_age(text: str) -> float:
    """Seconds of an age such as ``90s``, ``30m``, ``12h``, ``7d``, ``2w`` (argparse type)."""
    match = _AGE.fullmatch(text)
    if match is None:
        raise argparse.ArgumentTypeError(
            f"invalid age {text!r}: a number and a unit, s m h d or w (30m, 12h, 7d, 2w)"
        )
    return float(match.group(1)) * _UNITS[match.group(2)]


@dataclass
class _Artifact:
    key: str
    stage: str
    size: int
    created: float | None


def _created(meta: dict[str, Any]) -> float | None:
    try:
        moment = datetime.datetime.fromisoformat(str(meta.get("created")).replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return moment.timestamp()


def _artifacts(experiment: Experiment) -> list[_Artifact]:
    cache = experiment.cache
    found = []
    for key in cache.iter_artifacts():
        try:
            meta = cache.read_meta(key)
        except ArtifactCorruptError:
            found.append(_Artifact(key, "(unreadable meta.json)", 0, None))
            continue
        if meta is None:
            continue  # removed meanwhile
        stage = str(meta.get("stage") or "?")
        if meta.get("kind") == "reportable":
            stage = f"{stage} (reportables)"
        found.append(_Artifact(key, stage, int(meta.get("size") or 0), _created(meta)))
    return found


def run(args: Namespace, experiment: Experiment, out: Output) -> int:
    now = time.time()
    artifacts = _artifacts(experiment)
    if not args.unused and args.older_than is None:
        _summary(artifacts, now, out)
        return 0
    selected = artifacts
    if args.unused:
        try:
            unused = set(experiment.unused_artifacts())
        except CorruptEntryError as err:
            error(
                f"cannot tell which artifacts are unused: {err.path} is unreadable, so what it "
                f"uses is unknown. Run `sweepstack check {experiment.path} --repair` first."
            )
            return 1
        selected = [a for a in selected if a.key in unused]
    least = args.older_than
    if least is None and args.clean:
        least = UNUSED_GRACE
    if least is not None:
        selected = [a for a in selected if a.created is not None and now - a.created >= least]
    what = (
        ("unused " if args.unused else "")
        + "artifact(s)"
        + (f" older than {age(least)}" if least is not None else "")
    )
    if selected:
        out.table(
            ["key", "stage", "size", "age"],
            [
                [a.key, a.stage, size(a.size), age(now - a.created if a.created else None)]
                for a in selected
            ],
            numeric=[False, False, True, True],
        )
    total = sum(a.size for a in selected)
    if not args.clean:
        out.line(f"{len(selected)} {what} ({size(total)}); add --clean to remove them")
        return 0
    cache = experiment.cache
    removed = [a for a in selected if cache.remove(a.key)]
    out.line(f"removed {len(removed)} {what} ({size(sum(a.size for a in removed))})")
    return 0


def _summary(artifacts: list[_Artifact], now: float, out: Output) -> None:
    stages: dict[str, list[_Artifact]] = {}
    for artifact in artifacts:
        stages.setdefault(artifact.stage, []).append(artifact)
    rows = []
    for stage, items in sorted(stages.items()):
        times = [a.created for a in items if a.created is not None]
        rows.append(
            [
                stage,
                len(items),
                size(sum(a.size for a in items)),
                age(now - min(times)) if times else "",
                age(now - max(times)) if times else "",
            ]
        )
    out.table(
        ["stage", "artifacts", "size", "oldest", "newest"],
        rows,
        numeric=[False, True, True, True, True],
    )
    out.line(f"{len(artifacts)} artifact(s), {size(sum(a.size for a in artifacts))}")
