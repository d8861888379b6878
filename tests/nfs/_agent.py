"""Programs the NFS scenarios start on the two hosts of the test VM (see ``_inside.py``).

    python -m tests.nfs._agent agent             # commands as JSON lines on stdin
    python -m tests.nfs._agent drain DIR --lease 4 --work 0.1
    python -m tests.nfs._agent die-in-session DIR     # SIGKILLed holding the lock
    python -m tests.nfs._agent one-done DIR           # one acknowledged done

Both print ``ready`` once started and wait for their orders on stdin, so that slow
process starts under emulation never decide an ordering; results go to stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import select
import signal
import socket
import sys
import time
import warnings
from typing import Any


def _say(*parts: Any) -> None:
    print(*parts, flush=True)


def locks(order: dict[str, Any]) -> dict[str, Any]:
    """Take the sweeper's lock ``count`` times; under it, append to a file as the journal does.

    The intervals when this process held the lock are returned (CLOCK_MONOTONIC: one
    kernel runs both hosts), to be checked for overlaps with the other host's. Under
    the lock the file is opened, read whole, and one line numbered after the lines
    read is written at the end read, then fsynced before the unlock: the journal's
    protocol. A stale read through either mount shows as a repeated or missing number.
    """
    from sweepstack.store._locks import file_lock

    lock = file_lock(order["lock"])
    host = socket.gethostname()
    intervals = []
    for _ in range(order["count"]):
        with lock:
            start = time.monotonic_ns()
            fd = os.open(order["file"], os.O_RDWR | os.O_CREAT, 0o644)
            try:
                end = os.fstat(fd).st_size
                lines = os.pread(fd, end, 0).count(b"\n")
                os.pwrite(fd, f"{lines + 1} {host}\n".encode(), end)
                os.fsync(fd)
            finally:
                os.close(fd)
            intervals.append((start, time.monotonic_ns()))
    return {
        "intervals": intervals,
        "contended": lock.contended,
        "wait_seconds": lock.wait_seconds,
    }


def runs(order: dict[str, Any]) -> dict[str, Any]:
    """Open (creating it if needed) the experiment and register ``count`` runs in it."""
    from sweepstack.store import ExperimentDir

    xd = ExperimentDir.create_or_open(order["dir"], name="nfs")
    numbers = [xd.start_run("nfs", argv=["agent"]).number for _ in range(order["count"])]
    return {"numbers": numbers}


def agent() -> None:
    _say("ready", socket.gethostname(), os.getpid())
    for line in sys.stdin:
        order = json.loads(line)
        if order["do"] == "quit":
            return
        result = {"locks": locks, "runs": runs}[order["do"]](order)
        _say("RESULT " + json.dumps(result))


class _Orders:
    """Lines the scenario sends on stdin, read without blocking (raw, no Python buffer)."""

    def __init__(self) -> None:
        self._pending = b""
        self._lines: list[str] = []

    def _read(self, timeout: float | None) -> None:
        if select.select([0], [], [], timeout)[0]:
            chunk = os.read(0, 4096)
            if not chunk:
                raise SystemExit("the scenario closed this worker's stdin")
            *lines, self._pending = (self._pending + chunk).split(b"\n")
            self._lines += [line.decode() for line in lines]

    def wait_for(self, order: str) -> None:
        while order not in self._lines:
            self._read(None)
        self._lines.remove(order)

    def received(self, order: str) -> bool:
        self._read(0)
        if order in self._lines:
            self._lines.remove(order)
            return True
        return False


def drain(args: argparse.Namespace) -> None:
    """Claim and finish combinations until none is left or in progress, saying what it did."""
    from sweepstack.sweep import ParamSweeper

    sweeper = ParamSweeper(args.dir, lease=args.lease)
    _say("ready", socket.gethostname(), os.getpid())
    orders = _Orders()
    orders.wait_for("go")
    with warnings.catch_warnings(record=True) as lost:
        warnings.simplefilter("always")
        while True:
            combination = sweeper.get_next()
            if combination is None:
                if not sweeper.counts()["inprogress"]:
                    break
                # claims of others are in progress: if their owner is dead, they come back
                # to todo when its lease expires, and this worker must be there to take them
                time.sleep(0.2)
                continue
            key = sweeper.key_of(combination)
            _say("CLAIM", key)
            if orders.received("hold"):
                # the scenario kills (or freezes) this worker while it holds this claim
                _say("HOLDING", key)
                while True:
                    time.sleep(3600)
            time.sleep(args.work)
            ok = sweeper.done(combination)
            _say("ACK", key, int(ok))
    lock = sweeper._lock
    assert lock is not None
    _say(
        "FINISHED "
        + json.dumps(
            {
                "warnings": [str(w.message) for w in lost],
                "wait_seconds": lock.wait_seconds,
                "contended": lock.contended,
                "acquisitions": lock.acquisitions,
            }
        )
    )


def die_in_session(args: argparse.Namespace) -> None:
    """Be SIGKILLed inside a write session, with ``--bytes`` written and not yet flushed.

    Whatever a killed process leaves in its NFS client's page cache is flushed by the
    kernel as the process exits, after the sweeper's lock may already be released:
    the journal's own lock must hold other writers back until that flush is done.
    """
    from sweepstack.sweep import ParamSweeper

    sweeper = ParamSweeper(args.dir, lease=args.lease)
    _say("ready", socket.gethostname(), os.getpid())
    sys.stdin.readline()  # "go"
    with sweeper._session():
        journal = sweeper._journal
        assert journal._fd is not None
        os.pwrite(journal._fd, b"x" * args.bytes, journal.offset)  # a torn entry, unflushed
        _say("inside")
        sys.stdin.readline()  # "die": the other host now waits for the lock
        os.kill(os.getpid(), signal.SIGKILL)


def one_done(args: argparse.Namespace) -> None:
    """Claim one combination and mark it done, saying which (an acknowledged done)."""
    from sweepstack.sweep import ParamSweeper

    sweeper = ParamSweeper(args.dir, lease=args.lease)
    _say("ready", socket.gethostname(), os.getpid())
    sys.stdin.readline()  # "go"
    combination = sweeper.get_next()
    assert combination is not None
    key = sweeper.key_of(combination)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        ok = sweeper.done(combination)
    lock = sweeper._lock
    assert lock is not None
    _say("ACK", key, int(ok))
    _say("WAITED", round(lock.wait_seconds, 3), len(seen))
    for warning in seen:
        _say("WARNING", str(warning.message))


def _rpc_calls() -> int:
    """NFS RPC calls made so far by this network namespace's NFS client."""
    with open("/proc/net/rpc/nfs") as f:
        for line in f:
            if line.startswith("rpc "):
                return int(line.split()[1])
    raise RuntimeError("/proc/net/rpc/nfs has no rpc line")


def rpc_drain(args: argparse.Namespace) -> None:
    """Drain alone, and report the NFS RPCs the client made per combination."""
    import importlib

    tool = args.tool
    module = importlib.import_module("execo_engine" if tool == "execo" else "sweepstack")
    sweeper = module.ParamSweeper(args.dir)
    _say("ready", socket.gethostname(), os.getpid())
    sys.stdin.readline()  # "go"
    before, count = _rpc_calls(), 0
    start = time.monotonic()
    if tool == "ours-batched":  # what records() does with short combinations
        batch = sweeper.get_next_batch(32)
        while batch:
            count += len(batch)
            batch = sweeper.done_batch_and_next(batch, 32)
    elif tool == "ours-merged":  # records() with long combinations: done + next claim at once
        claimed = sweeper.get_next_batch(1)
        while claimed:
            count += 1
            claimed = sweeper.done_and_next(claimed[0])
    else:
        while (combination := sweeper.get_next()) is not None:
            sweeper.done(combination)
            count += 1
    calls = _rpc_calls() - before
    seconds = time.monotonic() - start
    _say("RESULT " + json.dumps({"tool": tool, "count": count, "rpcs": calls, "seconds": seconds}))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "mode", choices=["agent", "drain", "die-in-session", "one-done", "rpc-drain"]
    )
    parser.add_argument("--tool", default="ours")
    parser.add_argument("dir", nargs="?")
    parser.add_argument("--lease", type=float, default=4.0)
    parser.add_argument("--work", type=float, default=0.1)
    parser.add_argument("--bytes", type=int, default=8 << 20)
    args = parser.parse_args()
    if args.mode == "agent":
        agent()
    elif args.mode == "drain":
        drain(args)
    elif args.mode == "die-in-session":
        die_in_session(args)
    elif args.mode == "rpc-drain":
        rpc_drain(args)
    else:
        one_done(args)


if __name__ == "__main__":
    main()
