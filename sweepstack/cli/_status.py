"""``sweepstack status``: where every sweeper of an experiment stands, read without any lock.

Each sweeper is opened read-only (no lock, nothing written), so the command works
while workers run on any host; ``--watch`` keeps it open and reads only what was
appended to its journal since. Throughput comes from the records written in the last
ten minutes (the ends of the index logs), never from reading every record.
"""

from __future__ import annotations

import datetime
import json
import sys
import time
import warnings
from argparse import Namespace
from collections import Counter
from typing import Any

from sweepstack.cli._output import Output, age
from sweepstack.errors import JournalWarning, NoSweepsError, SweepstackError
from sweepstack.store import Experiment
from sweepstack.sweep import ParamSweeper

__all__ = ["Status", "run"]

WINDOW = 600.0
"""Seconds of recent records that throughput is computed over."""

MAX_LEVELS = 12
MAX_ERRORS = 5


class Status:
    """The sweepers of an experiment, opened read-only once, and their state on demand."""

    def __init__(self, experiment: Experiment) -> None:
        self.experiment = experiment
        self.sweepers: dict[str, ParamSweeper | str] = {}
        for name, path in experiment.directory.sweeper_dirs().items():
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", JournalWarning)
                    self.sweepers[name] = ParamSweeper(path, readonly=True, name=name)
            except NoSweepsError:
                self.sweepers[name] = "no saved combinations: it was opened with sweeps only"
            except (SweepstackError, OSError) as err:
                self.sweepers[name] = str(err)

    def refresh(self) -> None:
        """Read what was appended to every journal since the last look."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", JournalWarning)
            for name, sweeper in self.sweepers.items():
                if isinstance(sweeper, ParamSweeper):
                    try:
                        sweeper.update()
                    except (SweepstackError, OSError) as err:
                        self.sweepers[name] = str(err)

    def document(self) -> dict[str, Any]:
        """Everything ``status`` shows, as JSON values."""
        now = time.time()
        recent = self.experiment.recent_results(WINDOW)
        sweeps = []
        for name, sweeper in self.sweepers.items():
            if isinstance(sweeper, str):
                sweeps.append({"name": name, "error": sweeper})
                continue
            rows = [r for r in recent if r.get("sweep") == name]
            sweeps.append(_sweep(self.experiment, name, sweeper, rows, now))
        exp = self.experiment
        return {
            "experiment": {
                "name": exp.name,
                "id_experiment": exp.id_experiment,
                "path": exp.path,
            },
            "time": now,
            "sweeps": sweeps,
            "stage_leases": _stage_leases(self.experiment, now),
        }


def _stage_leases(experiment: Experiment, now: float) -> list[dict[str, Any]]:
    """Stage outputs being computed (and by whom), waited for, or whose last attempt failed."""
    try:
        infos = experiment.cache.leases.active()
    except OSError:
        return []
    return [
        {
            "stage": info.stage,
            "key": info.key,
            "state": "computing" if info.state == "running" else info.state,
            "host": info.host,
            "pid": info.pid,
            "for": max(0.0, now - info.since),
            "renewed": max(0.0, now - info.renewed),
            "waits_for": info.holder,
            "error": info.error,
        }
        for info in sorted(infos, key=lambda i: (i.stage, i.key, i.state))
    ]


def _sweep(
    experiment: Experiment, name: str, sweeper: ParamSweeper, rows: list[dict[str, Any]], now: float
) -> dict[str, Any]:
    counts = sweeper.counts()
    levels = sweeper.level_counts()
    factors = []
    for factor, per_level in levels["total"].items():
        factors.append(
            {
                "factor": str(factor),
                "levels": [
                    {
                        "level": level
                        if isinstance(level, (str, int, float, bool))
                        else repr(level),
                        "total": total,
                        **{
                            state: levels[state].get(factor, {}).get(level, 0)
                            for state in ("done", "inprogress", "failed", "remaining")
                        },
                    }
                    for level, total in per_level.items()
                ],
            }
        )
    hosts: dict[str, dict[str, Any]] = {}
    stale: dict[str, dict[str, Any]] = {}
    claims = sweeper.claims()
    for claim in claims:
        news = max(claim.heartbeat_at, claim.claimed_at)
        silence = now - news
        claimed = now - claim.claimed_at
        if claim.stale is not None:
            # its owner is dead on this machine or silent past its lease: shown apart,
            # with its age, and left out of the workers at work and of the ETA
            owner = stale.setdefault(
                claim.owner,
                {
                    "host": claim.host,
                    "pid": claim.pid,
                    "reason": claim.stale,
                    "claims": 0,
                    "oldest_claim": 0.0,
                    "last_news": silence,
                    "lease": claim.lease,
                },
            )
            owner["claims"] += 1
            owner["oldest_claim"] = max(owner["oldest_claim"], claimed)
            owner["last_news"] = min(owner["last_news"], silence)
            continue
        entry = hosts.setdefault(
            claim.host,
            {
                "host": claim.host,
                "claims": 0,
                "processes": set(),
                "oldest_claim": None,
                "last_news": None,
                "lease": claim.lease,
            },
        )
        entry["claims"] += 1
        entry["processes"].add((claim.host, claim.pid))
        entry["oldest_claim"] = max(entry["oldest_claim"] or 0.0, claimed)
        entry["last_news"] = (
            silence if entry["last_news"] is None else min(entry["last_news"], silence)
        )
        entry["lease"] = max(entry["lease"], claim.lease)
    live = set()
    for entry in hosts.values():
        live |= entry["processes"]
        entry["processes"] = len(entry["processes"])
        entry["stale"] = False
    failures = sorted(
        sweeper.failures().items(), key=lambda item: item[1].get("time") or 0, reverse=True
    )
    errors = []
    for key, info in failures[:MAX_ERRORS]:
        try:
            record = experiment.record(key, name)
        except (SweepstackError, OSError):
            record = None
        exception = (record or {}).get("exception") or {}
        errors.append(
            {
                "key": key,
                "time": info.get("time"),
                "type": info.get("type"),
                "message": info.get("message"),
                "stage": exception.get("stage") if isinstance(exception, dict) else None,
                "host": (record or {}).get("host"),
                "params": (record or {}).get("params"),
            }
        )
    return {
        "name": name,
        "path": sweeper.persistence_dir,
        "counts": counts,
        "factors": factors,
        "hosts": sorted(hosts.values(), key=lambda h: h["host"]),
        "stale": sorted(stale.values(), key=lambda o: (o["host"], o["pid"])),
        "running": len(live),
        "errors": errors,
        "throughput": _throughput(rows, counts, now, live),
    }


def _throughput(
    rows: list[dict[str, Any]], counts: dict[str, int], now: float, live: set[tuple[str, int]]
) -> dict[str, Any]:
    """Combinations finished per minute over the window, per host, and the ETA.

    The ETA counts only the workers alive now (those holding a claim that is not stale),
    at the rate their hosts finished combinations over the window: a sweep whose
    workers all died has no ETA, however fast it went before.
    """
    starts = [t for t in (_seconds(r.get("started")) for r in rows) if t is not None]
    span = min(WINDOW, max(1.0, now - min(starts))) if starts else WINDOW
    per_host = Counter(str(r.get("host")) for r in rows)
    rate = len(rows) / span if rows else 0.0
    live_hosts = {host for host, _ in live}
    live_rate = sum(n for host, n in per_host.items() if host in live_hosts) / span
    left = counts["remaining"] + counts["inprogress"]
    return {
        "window": span,  # the time the rate is measured over: at most WINDOW
        "finished": len(rows),
        "per_minute": 60 * rate,
        "hosts": [
            {"host": host, "finished": n, "per_minute": 60 * n / span}
            for host, n in sorted(per_host.items())
        ],
        "eta": left / live_rate if live and live_rate and left else None,
    }


def _seconds(text: Any) -> float | None:
    """Epoch seconds of a UTC time as records hold it (``2026-11-22T10:00:03Z``), or None."""
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return moment.timestamp()


# --- printing --------------------------------------------------------------------------


def show(document: dict[str, Any], out: Output, verbose: bool = False) -> None:
    """Print a status document for people."""
    exp = document["experiment"]
    out.heading(f"{exp['name']}  ({exp['path']})")
    if not document["sweeps"]:
        out.line("no sweeper yet: start the experiment script with -c DIR")
    for sweep in document["sweeps"]:
        out.line()
        if "error" in sweep:
            out.line(f"{sweep['name']}: cannot be read: {sweep['error']}", "bold red")
            continue
        _show_sweep(sweep, out, verbose)
    _show_leases(document.get("stage_leases") or [], out)


def _show_leases(leases: list[dict[str, Any]], out: Output) -> None:
    if not leases:
        return
    out.line()
    rows = []
    for lease in leases:
        if lease["state"] == "waiting":
            what = f"waits for {lease['waits_for']}"
        elif lease["state"] == "failed":
            what = f"last attempt failed: {lease['error']}"
        else:
            what = f"renewed {age(lease['renewed'])} ago"
        rows.append(
            [
                lease["stage"],
                lease["key"][:12],
                lease["state"],
                f"pid {lease['pid']} on {lease['host']}",
                age(lease["for"]),
                what,
            ]
        )
    out.table(
        ["stage", "key", "state", "process", "for", ""],
        rows,
        title="stage leases (an output key is computed by one process; others wait)",
        numeric=[False, False, False, False, True, False],
    )


def _rate(per_minute: float) -> str:
    return f"{per_minute:.0f}/min" if per_minute >= 100 else f"{per_minute:.3g}/min"


def _show_sweep(sweep: dict[str, Any], out: Output, verbose: bool) -> None:
    c = sweep["counts"]
    percent = 100 * c["done"] / c["total"] if c["total"] else 0.0
    out.heading(f"{sweep['name']}: {c['done']}/{c['total']} done ({percent:.0f}%)")
    states = (
        f"todo {c['remaining']} · in progress {c['inprogress']} · done {c['done']} · "
        f"failed {c['failed']} · skipped {c['skipped']}"
    )
    out.print_bar_line(out.bar(c), states, "bold red" if c["failed"] else None)
    speed = sweep["throughput"]
    if speed["finished"]:
        hosts = ", ".join(f"{h['host']} {_rate(h['per_minute'])}" for h in speed["hosts"])
        if speed["eta"] is not None:
            eta = f" · ETA {age(speed['eta'])}"
        elif c["remaining"] or c["inprogress"]:
            eta = " · no worker at work: no ETA"
        else:
            eta = ""
        out.line(
            f"  throughput {_rate(speed['per_minute'])} over the last "
            f"{age(speed['window'])} ({hosts}){eta}"
        )
    elif c["remaining"] or c["inprogress"]:
        out.line(f"  no combination finished in the last {age(speed['window'])}")
    if sweep["factors"]:
        rows = []
        for factor in sweep["factors"]:
            levels = factor["levels"]
            shown = levels if verbose else levels[:MAX_LEVELS]
            for level in shown:
                rows.append(
                    [
                        factor["factor"],
                        level["level"],
                        level["done"],
                        level["inprogress"],
                        level["failed"],
                        level["remaining"],
                        level["total"],
                    ]
                )
            if len(shown) < len(levels):
                rows.append(
                    [
                        factor["factor"],
                        f"... {len(levels) - len(shown)} more",
                        None,
                        None,
                        None,
                        None,
                        None,
                    ]
                )
        out.table(
            ["factor", "level", "done", "in progress", "failed", "todo", "total"],
            rows,
            title="per factor",
            numeric=[False, False, True, True, True, True, True],
        )
    if sweep["hosts"]:
        out.table(
            ["host", "claims", "processes", "oldest claim", "last news", "lease"],
            [
                [
                    h["host"],
                    h["claims"],
                    h["processes"],
                    age(h["oldest_claim"]),
                    age(h["last_news"]) + " ago",
                    age(h["lease"]),
                ]
                for h in sweep["hosts"]
            ],
            title=f"in progress, by host ({sweep['running']} worker(s) at work)",
            numeric=[False, True, True, True, True, True],
        )
    if sweep.get("stale"):
        out.table(
            ["host", "pid", "claims", "why", "oldest claim", "last news", "lease"],
            [
                [
                    o["host"],
                    o["pid"],
                    o["claims"],
                    o["reason"],
                    age(o["oldest_claim"]),
                    age(o["last_news"]) + " ago",
                    age(o["lease"]),
                ]
                for o in sweep["stale"]
            ],
            title="stale claims: their process is gone (sweepstack reset DIR --stale returns "
            "them now; a worker takes them back by itself)",
            numeric=[False, True, True, False, True, True, True],
        )
    if sweep["errors"]:
        rows = []
        for error in sweep["errors"]:
            when = (
                time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(error["time"]))
                if error["time"]
                else ""
            )
            kind = str(error["type"] or "").rpartition(".")[2]
            where = f" in {error['stage']}" if error.get("stage") else ""
            rows.append(
                [
                    when,
                    error["key"][:12],
                    error.get("host") or "",
                    f"{kind}{where}: {error['message']}",
                ]
            )
        out.table(
            ["when", "key", "host", "error"],
            rows,
            title=f"last errors ({c['failed']} failed; sweepstack failures DIR shows their "
            "tracebacks)",
            numeric=[False, False, False, False],
        )


def exit_status(document: dict[str, Any]) -> int:
    """1 when a sweeper cannot be read or has failed combinations, else 0."""
    for sweep in document["sweeps"]:
        if "error" in sweep or sweep["counts"]["failed"]:
            return 1
    return 0


def run(args: Namespace, experiment: Experiment, out: Output) -> int:
    status = Status(experiment)
    if not args.watch:
        document = status.document()
        if args.json:
            out.stream.write(json.dumps(document, indent=2, default=str) + "\n")
        else:
            show(document, out, args.verbose)
        return exit_status(document)
    return _watch(status, args, out)


def _watch(status: Status, args: Namespace, out: Output) -> int:
    """Show the status every ``args.watch`` seconds until Ctrl-C."""
    document: dict[str, Any] = {"sweeps": []}
    try:
        while True:
            document = status.document()
            if args.json:  # one JSON document per line
                out.stream.write(json.dumps(document, default=str) + "\n")
            elif out.rich:
                out.console.clear()
                show(document, out, args.verbose)
                out.line(f"every {args.watch:g}s; Ctrl-C to stop", "dim")
            else:
                out.line(time.strftime("--- %Y-%m-%d %H:%M:%S"))
                show(document, out, args.verbose)
            out.stream.flush()
            time.sleep(args.watch)
            status.refresh()
    except KeyboardInterrupt:
        sys.stderr.write("\n")
        return exit_status(document)
