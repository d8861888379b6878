"""The NFS scenarios, run inside the test VM by ``tests/nfs/test_nfs.py``.

    tools/nfsvm.sh run --vers 4.2 -- .venv/bin/python -m tests.nfs._inside

In the VM, kernel nfsd exports a tmpfs (``/srv/nfs``, read here directly as the
server's truth) and two kernel NFS clients, each in its own network namespace, mount
it at ``$NFS_A`` and ``$NFS_B``. Processes run on "hostA" or "hostB" with
``$A_PREFIX``/``$B_PREFIX`` and, here, their own UTS namespace named after the host:
sweepstack then sees two machines (owners on the other host are judged by their
lease only, never as dead).

Only the exit status leaves the VM, and the console: each scenario prints
``NFS-RESULT <name> ok|FAIL <json>`` and the host side turns each into a test.
Orderings never rest on sleeps: every process says ``ready`` and waits for its
orders, and every wait is for a condition, with a deadline.
"""

from __future__ import annotations

import collections
import json
import math
import os
import random
import shlex
import signal
import subprocess
import sys
import threading
import time
import traceback
import uuid
from typing import Any, Callable

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SERVER = "/srv/nfs"  # the export as the server sees it
LEASE = 5.0  # short, so that claims of a "crashed host" come back within the suite's time


class ScenarioFailed(AssertionError):
    """A check of a scenario failed (the message says which)."""


def log(message: str) -> None:
    print(f"NFS-LOG {time.monotonic() - STARTED:6.1f}s {message}", flush=True)


STARTED = time.monotonic()


def check(condition: bool, message: str) -> None:
    if not condition:
        raise ScenarioFailed(message)


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise ScenarioFailed(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.005)


class Proc:
    """A process on one of the hosts, its output lines collected (with arrival times)."""

    def __init__(self, host: str, args: list[str]) -> None:
        prefix = shlex.split(os.environ["A_PREFIX" if host == "hostA" else "B_PREFIX"])
        # own UTS namespace named after the host: what socket.gethostname() says there
        uts = ["unshare", "--uts", "sh", "-c", 'hostname "$0" && exec "$@"', host]
        self.host = host
        self.proc = subprocess.Popen(
            [*prefix, *uts, sys.executable, *args],
            cwd=REPO,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[tuple[float, str]] = []
        self.errors: list[str] = []
        self.killed = False
        self._consumed = 0
        self._readers = [
            threading.Thread(target=self._read, args=(self.proc.stdout, self.lines), daemon=True),
            threading.Thread(target=self._read, args=(self.proc.stderr, None), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def _read(self, stream: Any, into: list[tuple[float, str]] | None) -> None:
        for line in stream:
            if into is None:
                self.errors.append(line.rstrip())
            else:
                into.append((time.monotonic(), line.rstrip()))

    @property
    def pid(self) -> int:
        return self.proc.pid  # ip netns exec, unshare and sh exec: the same process throughout

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def tagged(self, tag: str) -> list[str]:
        """The rest of each output line that starts with ``tag``."""
        return [line[len(tag) + 1 :] for _, line in self.lines if line.split(" ", 1)[0] == tag]

    def result(self, timeout: float) -> dict[str, Any]:
        """The next RESULT line the agent prints, as a dict."""

        def arrived() -> bool:
            if self.proc.poll() is not None:
                raise ScenarioFailed(f"the agent on {self.host} died: {self.errors[-5:]}")
            return len(self.tagged("RESULT")) > self._consumed

        wait_until(arrived, timeout, f"a result from {self.host}")
        self._consumed += 1
        return json.loads(self.tagged("RESULT")[self._consumed - 1])

    def ready(self) -> bool:
        if self.proc.poll() is not None:
            raise ScenarioFailed(
                f"a process on {self.host} exited with {self.proc.returncode}: "
                + " | ".join(self.errors[-5:])
            )
        return any(line.startswith("ready") for _, line in self.lines)

    def kill(self) -> None:
        """SIGKILL, then wait until every line it printed has been read."""
        self.killed = True
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)
        for reader in self._readers:
            reader.join(10)

    def diagnose(self) -> None:
        """Print where a stuck process is: its last lines, kernel wait, Python stacks."""
        now = time.monotonic()
        log(f"stuck process {self.pid} on {self.host}; its last lines:")
        for at, line in self.lines[-8:]:
            log(f"  {now - at:6.1f}s ago: {line[:160]}")
        for line in self.errors[-8:]:
            log(f"  stderr: {line[:160]}")
        try:
            threads = sorted(os.listdir(f"/proc/{self.pid}/task"), key=int)
        except OSError as err:
            threads = []
            log(f"  threads: {err}")
        for tid in threads:  # where each thread waits in the kernel (an NFS lock, a read...)
            for name in ("wchan", "stack"):
                try:
                    with open(f"/proc/{self.pid}/task/{tid}/{name}") as f:
                        text = f.read().strip().replace("\n", " | ")[:600]
                    log(f"  thread {tid} {name}: {text}")
                except OSError as err:
                    log(f"  thread {tid} {name}: {err}")
        spy = os.path.join(os.path.dirname(sys.executable), "py-spy")
        if os.path.exists(spy):  # not a test dependency: installed by hand to debug
            done = subprocess.run(
                [spy, "dump", "--pid", str(self.pid)], capture_output=True, text=True, timeout=60
            )
            for line in (done.stdout + done.stderr).splitlines()[:60]:
                log(f"  py-spy: {line}")

    def finish(self, timeout: float) -> int:
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.diagnose()
            self.proc.kill()
            raise ScenarioFailed(
                f"a process on {self.host} did not end within {timeout:.0f} s"
            ) from None
        for reader in self._readers:
            reader.join(10)
        return code


def both(path: str) -> tuple[str, str, str]:
    """``path`` (relative to the export) through hostA's mount, hostB's, and on the server."""
    return (
        os.path.join(os.environ["NFS_A"], path),
        os.path.join(os.environ["NFS_B"], path),
        os.path.join(SERVER, path),
    )


# --- 1. the sweeper's lock across the two mounts, and run numbers ---------------------------


def locks(agents: dict[str, Proc], base: str) -> dict[str, Any]:
    from sweepstack import ParamSweeper, sweep
    from sweepstack.store._format import SWEEPER_LOCK

    a_dir, b_dir, _ = both(f"{base}/locks/sweeps/main")
    ParamSweeper(a_dir, sweep({"i": [1, 2]}), save_sweeps=True)  # a real sweeper folder
    a_file, b_file, server_file = both(f"{base}/locks/appended")
    count = 150
    for host, folder, file in (("hostA", a_dir, a_file), ("hostB", b_dir, b_file)):
        order = {"do": "locks", "lock": os.path.join(folder, SWEEPER_LOCK), "file": file}
        agents[host].send(json.dumps({**order, "count": count}))
    results = {host: agents[host].result(240) for host in agents}
    intervals = sorted(
        (start, end, host) for host, r in results.items() for start, end in r["intervals"]
    )
    overlaps = [
        (a[2], b[2])
        for a, b in zip(intervals, intervals[1:])
        if b[0] < a[1]  # the next holder started before the previous one let go
    ]
    check(not overlaps, f"{len(overlaps)} overlapping holding periods: {overlaps[:3]}")
    hand_overs = sum(1 for a, b in zip(intervals, intervals[1:]) if a[2] != b[2])
    check(hand_overs >= 10, f"the hosts took turns only {hand_overs} times: no real contention")
    with open(server_file) as f:
        lines = f.read().splitlines()
    numbers = [int(line.split()[0]) for line in lines]
    check(
        numbers == list(range(1, 2 * count + 1)),
        f"appended lines are not numbered 1..{2 * count} (a stale read under the lock): "
        f"{[n for i, n in enumerate(numbers, 1) if n != i][:5]}",
    )
    per_host = collections.Counter(line.split()[1] for line in lines)
    check(per_host == {"hostA": count, "hostB": count}, f"lines per host: {dict(per_host)}")
    return {
        "acquisitions": 2 * count,
        "hand_overs": hand_overs,
        "contended": {h: r["contended"] for h, r in results.items()},
        "wait_seconds": {h: round(r["wait_seconds"], 3) for h, r in results.items()},
    }


def run_numbers(agents: dict[str, Proc], base: str) -> dict[str, Any]:
    from sweepstack.store._runs import read_runs

    a_dir, b_dir, server_dir = both(f"{base}/runs-exp")
    count = 25
    # both hosts create the experiment at once on a fresh path, then take numbers at once
    for host, folder in (("hostA", a_dir), ("hostB", b_dir)):
        agents[host].send(json.dumps({"do": "runs", "dir": folder, "count": count}))
    results = {host: agents[host].result(240) for host in agents}
    numbers = [n for r in results.values() for n in r["numbers"]]
    check(len(set(numbers)) == len(numbers), f"duplicate run numbers: {sorted(numbers)}")
    check(sorted(numbers) == list(range(1, 2 * count + 1)), f"numbers {sorted(numbers)}")
    runs, errors = read_runs(os.path.join(server_dir, "runs"))
    check(not errors and len(runs) == 2 * count, f"{len(runs)} runs stored, errors {errors}")
    by_host = collections.Counter(run.get("host") for run in runs)
    check(by_host == {"hostA": count, "hostB": count}, f"runs per host {dict(by_host)}")
    for host, r in results.items():
        stored = {run.number for run in runs if run.get("host") == host}
        check(stored == set(r["numbers"]), f"{host}'s runs are not the numbers it was given")
    return {"runs": len(numbers), "per_host": dict(by_host)}


# --- 2. six workers on two hosts drain one sweep; SIGKILLs; recovery by lease ---------------


class JournalView:
    """What a sweeper's journal on the server says: owners, claims, dones, take-backs."""

    def __init__(self, server_dir: str, workers: list[Proc]) -> None:
        from sweepstack.store._format import parse_journal_entry

        with open(os.path.join(server_dir, "journal"), "rb") as f:
            raw = f.read().split(b"\n")
        entries = [parse_journal_entry(line) for line in raw[1:] if line]
        check(None not in entries, f"{entries.count(None)} unreadable journal entries")
        self.entries = [e for e in entries if e is not None]
        owners = {e[1]: json.loads(e[2]) for e in self.entries if e[0] == "O"}
        self.host_of = {owner_id: o["host"] for owner_id, o in owners.items()}
        by_pid = {o["pid"]: owner_id for owner_id, o in owners.items()}
        self.owner_of = {w: by_pid[w.pid] for w in workers if w.pid in by_pid}
        self.done_by: dict[str, list[str]] = collections.defaultdict(list)
        self.claimed_by: dict[str, list[str]] = collections.defaultdict(list)
        self.expired: dict[str, str] = {}  # owner -> reason its claims were taken back
        for op, subject, argument in self.entries:
            if op == "D":
                self.done_by[subject].append(argument)
            elif op == "C":
                self.claimed_by[subject].append(argument.split()[0])
            elif op == "X":
                self.expired[subject] = argument

    def check_exactly_once(self, server_dir: str, n: int, workers: list[Proc]) -> None:
        """Every combination done once, none acknowledged and lost, no live owner's claim taken."""
        from sweepstack import ParamSweeper

        final = ParamSweeper(server_dir, readonly=True)
        keys = [final.key_of({"i": i}) for i in range(n)]
        twice = [k for k in keys if len(self.done_by[k]) != 1]
        check(not twice, f"{len(twice)} combinations not done exactly once: {twice[:3]}")
        counts = final.counts()
        check(
            counts["done"] == n and counts["inprogress"] == 0 and counts["remaining"] == 0,
            f"final counts {counts}",
        )
        acked = {a.split()[0] for w in workers for a in w.tagged("ACK")}
        lost = acked - set(self.done_by)
        check(not lost, f"{len(lost)} acknowledged combinations are not done")
        live = [w for w in workers if not w.killed]
        live_owners = {self.owner_of[w] for w in live}
        duplicates = [
            k for k in keys if len({o for o in self.claimed_by[k] if o in live_owners}) > 1
        ]
        check(not duplicates, f"{len(duplicates)} combinations claimed by two live workers")
        not_ok = [a for w in live for a in w.tagged("ACK") if a.split()[1] != "1"]
        check(not not_ok, f"live workers lost {len(not_ok)} claims (ClaimLostWarning)")
        taken = {self.host_of[o] + ":" + r for o, r in self.expired.items() if o in live_owners}
        check(not taken, f"claims of live workers were taken back: {sorted(taken)}")


def _held(worker: Proc) -> list[str]:
    """Keys the worker claimed and had not acknowledged."""
    acked = {line.split()[0] for line in worker.tagged("ACK")}
    return [key for key in worker.tagged("CLAIM") if key not in acked]


def _kill_while_holding(
    worker: Proc, timeout: float, freeze: bool = False, others: list[Proc] | None = None
) -> list[str]:
    """SIGKILL (or SIGSTOP) ``worker`` while it holds a claim it is working on.

    The worker is told to hold its next claim and says so: the kill lands between a
    claim and its done whatever the scheduling (no timing window to hit under emulation).
    """
    worker.send("hold")

    def holding() -> bool:
        return bool(worker.tagged("HOLDING")) or worker.proc.poll() is not None

    try:
        wait_until(holding, timeout, f"a worker on {worker.host} to hold a claim")
    except ScenarioFailed:
        for proc in [worker, *(others or [])]:
            if proc.proc.poll() is None:
                proc.diagnose()
        raise
    if freeze:
        _freeze_outside_sessions(worker, timeout)
        return []
    worker.kill()
    return _held(worker)


def _posix_locks_of(pid: int) -> int:
    """How many POSIX locks ``pid`` holds (``/proc/locks`` of this kernel, NFS files too)."""
    with open("/proc/locks") as f:
        rows = [line.split() for line in f]
    # "1: POSIX  ADVISORY  WRITE 207 00:2e:1234 0 EOF"; a waiter's row has "->" second
    return sum(1 for r in rows if len(r) > 4 and r[1] == "POSIX" and r[4] == str(pid))


def _all_stopped(pid: int) -> bool:
    """Whether every thread of ``pid`` is stopped (state T in its stat)."""
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        if state not in ("T", "t"):
            return False
    return True


def _freeze_outside_sessions(worker: Proc, timeout: float) -> None:
    """SIGSTOP ``worker`` at a moment none of its threads holds a lock.

    Its main thread holds its claim outside any session, but its heartbeat thread
    takes the sweeper's lock every quarter of the lease: frozen in there, it would hold
    the lock for ever and stop both hosts (a frozen process cannot be told from a slow
    one, so nobody may take a lock from it). A host that crashes releases its locks
    with its lease on the server; this freeze stands for the crash of the process, so
    it must not land inside a session: if it did, the worker runs on a moment and is
    frozen again.
    """
    deadline = time.monotonic() + timeout
    while True:
        worker.proc.send_signal(signal.SIGSTOP)
        wait_until(lambda: _all_stopped(worker.pid), 30, f"worker {worker.pid} to stop")
        if not _posix_locks_of(worker.pid):
            return
        log(f"drain: worker {worker.pid} was frozen holding a lock (a heartbeat); it runs on")
        worker.proc.send_signal(signal.SIGCONT)
        if time.monotonic() > deadline:
            raise ScenarioFailed(f"worker {worker.pid} on {worker.host} kept holding a lock")
        time.sleep(0.02)


def drain(base: str) -> dict[str, Any]:
    from sweepstack import ParamSweeper, sweep

    n, work = 240, 0.1
    a_dir, b_dir, server_dir = both(f"{base}/drain")
    ParamSweeper(a_dir, sweep({"i": list(range(n))}), save_sweeps=True)
    options = ["--lease", str(LEASE), "--work", str(work)]
    workers = [
        Proc(host, ["-m", "tests.nfs._agent", "drain", folder, *options])
        for host, folder in [("hostA", a_dir)] * 3 + [("hostB", b_dir)] * 3
    ]
    wait_until(lambda: all(w.ready() for w in workers), 180, "six workers to start")
    log("drain: 6 workers ready")
    started = time.monotonic()
    for w in workers:
        w.send("go")
    on_a, on_b = workers[:3], workers[3:]
    # a worker of hostB dies: its claim returns at once to its peers on hostB (provably dead)
    victim_b = on_b[0]
    wait_until(lambda: len(victim_b.tagged("ACK")) >= 3, 120, "hostB's first acknowledgements")
    held_b = _kill_while_holding(victim_b, 30, others=workers)
    log(f"drain: killed a worker on hostB holding {held_b}")
    others = [w for w in workers if w is not victim_b]
    wait_until(
        lambda: all(
            any(a.split()[0] == k for w in others for a in w.tagged("ACK")) for k in held_b
        ),
        60,
        "hostB's killed claim to be done by another worker",
    )
    # hostA "crashes": all its workers die at once (each is frozen while it holds a claim,
    # so that no hostA peer sees another one dead, then all are killed); hostB must take
    # their claims back by lease
    frozen_at = {}
    for w in on_a:
        _kill_while_holding(w, 30, freeze=True, others=workers)
        # its heartbeats stop here: for its claims, this is the crash (freezing the three
        # one after the other takes seconds in the VM, so the last kill is too late a mark)
        frozen_at[w.pid] = time.monotonic()
    for w in on_a:
        w.kill()
    held_a = {w.pid: _held(w) for w in on_a}
    spread = max(frozen_at.values()) - min(frozen_at.values())
    log(f"drain: killed hostA's workers holding {held_a} (frozen over {spread:.1f} s)")
    survivors = on_b[1:]
    for w in survivors:
        check(w.finish(240) == 0, f"a hostB worker failed: {w.errors[-5:]}")
    elapsed = time.monotonic() - started
    log(f"drain: hostB's survivors finished after {elapsed:.1f} s")

    # --- what the journal on the server says -------------------------------------------------
    journal = JournalView(server_dir, workers)
    host_of, owner_of = journal.host_of, journal.owner_of
    check(
        {host_of[owner_of[w]] for w in on_a} == {"hostA"}
        and {host_of[owner_of[w]] for w in on_b} == {"hostB"},
        f"owners' hosts {host_of}",
    )
    journal.check_exactly_once(server_dir, n, workers)
    expired, done_by = journal.expired, journal.done_by
    victim_b_owner = owner_of[victim_b]
    if held_b:
        check(expired.get(victim_b_owner) == "dead", f"hostB victim: {expired.get(victim_b_owner)}")
    recovered = 0
    for worker in on_a:
        owner, held, pid = owner_of[worker], held_a[worker.pid], worker.pid
        if not held:
            continue
        check(
            expired.get(owner) == "expired",
            f"hostA worker {pid}'s claims {held} came back as {expired.get(owner)!r}, not by lease",
        )
        for key in held:
            finishers = [host_of.get(o) for o in done_by[key]]
            check(finishers == ["hostB"], f"{key} held on hostA was done by {finishers}")
            recovered += 1
    check(recovered >= 2, f"only {recovered} claims of hostA's workers to recover by lease")
    finished = [json.loads(w.tagged("FINISHED")[0]) for w in survivors]
    check(not any(f["warnings"] for f in finished), f"warnings {finished}")
    holder = {key: pid for pid, keys in held_a.items() for key in keys}
    recovery_delays = [
        at - frozen_at[holder[line.split()[1]]]
        for w in survivors
        for at, line in w.lines
        if line.startswith("ACK") and line.split()[1] in holder
    ]
    return {
        "combinations": n,
        "seconds": round(elapsed, 1),
        "per_second": round(n / elapsed, 1),
        "killed": 4,
        "recovered_by_lease": recovered,
        "first_lease_recovery_after_kill": round(min(recovery_delays), 1)
        if recovery_delays
        else None,
        "lease": LEASE,
        "lock_wait_seconds_hostB": [round(f["wait_seconds"], 2) for f in finished],
        "journal_entries": len(journal.entries),
    }


# --- 3. the NFS server restarts while four workers drain a sweep ---------------------------


def _dump_journal(server_dir: str, count: int = 25) -> None:
    """The journal's last entries and the folder's files, as the server holds them."""
    from sweepstack.store._format import SWEEPER_JOURNAL

    log(f"files: {sorted(os.listdir(server_dir))}")
    try:
        with open(os.path.join(server_dir, SWEEPER_JOURNAL), "rb") as f:
            data = f.read()
    except OSError as err:
        log(f"journal: {err}")
        return
    log(f"journal: {len(data)} bytes; its last entries:")
    for line in data.split(b"\n")[-count:]:
        log(f"  {line[:150]!r}")


def server_restart(base: str) -> dict[str, Any]:
    """nfsd stops for three leases, then starts again (its grace period follows).

    Every client blocks meanwhile (hard mounts): no heartbeat gets through, and when the
    server is back the workers must not take each other's claims back as expired.
    """
    from sweepstack import ParamSweeper, sweep

    n, work, outage = 120, 0.1, 3 * LEASE
    a_dir, b_dir, server_dir = both(f"{base}/restart")
    ParamSweeper(a_dir, sweep({"i": list(range(n))}), save_sweeps=True)
    options = ["--lease", str(LEASE), "--work", str(work)]
    workers = [
        Proc(host, ["-m", "tests.nfs._agent", "drain", folder, *options])
        for host, folder in [("hostA", a_dir)] * 2 + [("hostB", b_dir)] * 2
    ]
    wait_until(lambda: all(w.ready() for w in workers), 180, "four workers to start")
    for w in workers:
        w.send("go")
    wait_until(lambda: sum(len(w.tagged("ACK")) for w in workers) >= 12, 120, "some progress")
    subprocess.run(["rpc.nfsd", "0"], check=True, timeout=60)
    stopped = time.monotonic()
    log(f"restart: nfsd stopped for {outage:.0f} s")
    time.sleep(outage)  # the outage's length is what is tested, not an ordering
    subprocess.run(["rpc.nfsd", "8"], check=True, timeout=60)
    restarted = time.monotonic()
    log("restart: nfsd started again (grace period follows)")
    try:
        for w in workers:
            check(w.finish(150) == 0, f"a worker failed: {w.errors[-5:]}")
    except ScenarioFailed:
        _dump_journal(server_dir)
        raise
    acks = sorted(at for w in workers for at, line in w.lines if line.startswith("ACK"))
    resumed = [at for at in acks if at > restarted]
    journal = JournalView(server_dir, workers)
    journal.check_exactly_once(server_dir, n, workers)
    finished = [json.loads(w.tagged("FINISHED")[0]) for w in workers]
    check(not any(f["warnings"] for f in finished), f"warnings {finished}")
    return {
        "combinations": n,
        "outage": round(restarted - stopped, 1),
        "lease": LEASE,
        "first_done_after_restart": round(resumed[0] - restarted, 1) if resumed else None,
        "done_during_outage": sum(1 for at in acks if stopped + 1 < at < restarted),
    }


# --- 3b. a writer SIGKILLed inside its session, with data its client has not flushed ----


UNFLUSHED = 64 << 20  # what the killed writer leaves to flush: slow enough to race with


def kill_in_session(base: str) -> dict[str, Any]:
    """hostA's writer dies holding the lock with 64 MB written but not flushed; hostB,
    waiting for the lock, then marks a combination done. The kernel flushes the dead
    writer's pages after its exit released the sweeper's lock: they must not land over
    hostB's acknowledged done (the journal's own lock waits for that flush)."""
    from sweepstack import ParamSweeper, sweep

    a_dir, b_dir, server_dir = both(f"{base}/killed")
    ParamSweeper(a_dir, sweep({"i": list(range(4))}), save_sweeps=True)
    options = ["--lease", str(LEASE)]
    victim = Proc(
        "hostA",
        ["-m", "tests.nfs._agent", "die-in-session", a_dir, *options, "--bytes", str(UNFLUSHED)],
    )
    writer = Proc("hostB", ["-m", "tests.nfs._agent", "one-done", b_dir, *options])
    wait_until(lambda: victim.ready() and writer.ready(), 180, "both processes to start")
    victim.send("go")
    wait_until(lambda: bool(victim.tagged("inside")), 60, "hostA's writer inside its session")
    writer.send("go")  # blocks on the lock that hostA holds
    time.sleep(1.0)  # not an ordering: the check below holds whenever hostB gets the lock
    victim.send("die")
    check(writer.finish(120) == 0, f"hostB's writer failed: {writer.errors[-5:]}")
    ((key, ok),) = [line.split() for line in writer.tagged("ACK")]
    check(ok == "1", "hostB's done was refused")
    victim.proc.wait(60)
    # the dead writer's pages would reach the server within dirty_expire_centisecs
    # (30 s); sync (one kernel runs both hosts) sends them now, if any is left
    subprocess.run(["sync"], check=True, timeout=120)
    from sweepstack.store._format import SWEEPER_JOURNAL

    size = os.path.getsize(os.path.join(server_dir, SWEEPER_JOURNAL))
    waited = writer.tagged("WAITED")
    log(f"kill-in-session: journal {size} bytes on the server; hostB waited {waited}")
    for line in writer.tagged("WARNING"):
        log(f"kill-in-session: hostB warned {line[:200]}")
    # hostB entered the journal's lock only once the dead writer's bytes had all landed or
    # were dropped: it read none of them, or all, never some with more still to come
    tails = [
        int(line.split(" tail of ")[1].split()[0])
        for line in writer.tagged("WARNING")
        if " tail of " in line
    ]
    check(
        all(size == UNFLUSHED for size in tails),
        f"hostB read {tails} bytes of the dead writer's {UNFLUSHED} while more were arriving",
    )
    seen = ParamSweeper(server_dir, readonly=True)
    done = {seen.key_of(c) for c in seen.get_done()}
    if key not in done:
        _dump_journal(server_dir, 8)
    check(key in done, f"hostB's acknowledged done {key} is not in the journal: {sorted(done)}")
    return {
        "unflushed_bytes": UNFLUSHED,
        "tail_seen_by_hostB": tails[0] if tails else 0,
        "acknowledged_done_kept": True,
        "journal_bytes": size,
    }


# --- 4. two engines share one experiment over NFS ----------------------------------------


def engines(base: str) -> dict[str, Any]:
    import sweepstack
    from sweepstack.store._cache import ArtifactCache
    from sweepstack.sweep import igeom, sweep

    a_dir, b_dir, server_dir = both(f"{base}/pi")
    args = ["-m", "tests.nfs._engine", "--no-progress", "--max-n", "3000", "--work", "0.05"]
    procs = [Proc("hostA", [*args, "-c", a_dir]), Proc("hostB", [*args, "-c", b_dir])]
    wait_until(lambda: all(p.ready() for p in procs), 180, "two engines to open the sweeper")
    for p in procs:
        p.send("go")
    for p in procs:
        check(p.finish(240) == 0, f"the engine on {p.host} failed: {p.errors[-8:]}")
    log("engines: both finished")
    experiment = sweepstack.open(server_dir)
    records = list(experiment.records("main"))
    expected = sweep(
        {
            "n": igeom(100, 3000, 5),
            "seed": [0, 1, 2],
            "estimator": {"plain": {}, "antithetic": {"pairs": [True, False]}},
        }
    )
    check(len(records) == len(expected), f"{len(records)} records for {len(expected)} combinations")
    check(
        len({r["key"] for r in records}) == len(records)
        and all(r["status"] == "done" for r in records),
        "records are not one done record per combination",
    )
    hosts = collections.Counter(r["host"] for r in records)
    check(set(hosts) == {"hostA", "hostB"}, f"records per host {dict(hosts)}")
    for r in records:
        rng = random.Random(r["params"]["seed"])
        points = [(rng.random(), rng.random()) for _ in range(r["params"]["n"])]
        pi = 4 * sum(x * x + y * y <= 1 for x, y in points) / len(points)
        check(
            math.isclose(r["fields"]["error"], abs(pi - math.pi), rel_tol=0, abs_tol=1e-12),
            f"record {r['key']} holds a wrong result",
        )
    cache = ArtifactCache(os.path.join(server_dir, "cache"))
    keys = {key for r in records for key in r["outputs"].values()}
    metas = [cache.verify(key) for key in keys]  # sizes and checksums of every artifact
    check(not cache.check(), f"corrupt artifacts: {cache.check()}")
    writers = collections.Counter(m.get("host") for m in metas)
    check(set(writers) <= {"hostA", "hostB"}, f"artifact writers {dict(writers)}")
    runs = experiment.runs
    check(
        len(runs) == 2
        and len({r.number for r in runs}) == 2
        and {r.get("host") for r in runs} == {"hostA", "hostB"}
        and {r.status for r in runs} == {"complete"},
        f"runs {[(r.number, r.get('host'), r.status) for r in runs]}",
    )
    # and hostB's client sees what the server holds
    seen_b = {r["key"] for r in sweepstack.open(b_dir).records("main")}
    check(seen_b == {r["key"] for r in records}, "hostB's mount shows other records")
    return {
        "records": len(records),
        "records_per_host": dict(hosts),
        "artifacts": len(keys),
        "artifacts_per_host": dict(writers),
        "runs": sorted(r.number for r in runs),
    }


# --- 5. two hosts need one expensive stage: computed once, under its stage lease ---------


def shared_stage(base: str) -> dict[str, Any]:
    from sweepstack.store._cache import ArtifactCache

    a_dir, b_dir, server_dir = both(f"{base}/stage")
    a_marks, b_marks, server_marks = both(f"{base}/stage-marks")
    os.makedirs(server_marks, exist_ok=True)
    procs = [
        Proc("hostA", ["-m", "tests.nfs._stage", a_dir, a_marks, str(LEASE)]),
        Proc("hostB", ["-m", "tests.nfs._stage", b_dir, b_marks, str(LEASE)]),
    ]
    wait_until(lambda: all(p.ready() for p in procs), 180, "both processes")
    for p in procs:
        p.send("go")
    for p in procs:
        check(p.finish(180) == 0, f"the process on {p.host} failed: {p.errors[-8:]}")
    results = [json.loads(p.tagged("RESULT")[-1]) for p in procs]
    expected = sum(i * i for i in range(1000))
    check(all(r["total"] == expected for r in results), f"wrong totals: {results}")
    ran = sorted(os.listdir(server_marks))
    logs = {p.host: p.errors[-6:] for p in procs}
    check(len(ran) == 1, f"the stage ran {len(ran)} times: {ran}; {results}; {logs}")
    statuses = sorted(r["expensive"] for r in results)
    check(statuses == ["hit", "run"], f"stage statuses {statuses}")
    waiter = next(r for r in results if r["expensive"] == "hit")
    check(waiter["waits"] == 1, f"the other host did not wait for the lease: {waiter}")
    cache = ArtifactCache(os.path.join(server_dir))
    check(not cache.check(), f"corrupt artifacts: {cache.check()}")
    left = [n for n in os.listdir(os.path.join(server_dir, "leases")) if n.endswith(".json")]
    left += os.listdir(os.path.join(server_dir, "leases", "waiting"))
    check(not left, f"lease files left behind: {left}")
    log(f"shared-stage: ran on {ran[0]}, the other host waited {waiter['seconds']} s")
    return {
        "executions": len(ran),
        "computed_by": ran[0].split("-")[0],
        "waiter": waiter["host"],
        "waiter_seconds": waiter["seconds"],
    }


def rpc_counts(base: str) -> dict[str, Any]:
    """NFS RPCs per combination of one process draining 150 alone (issue 16, point 5)."""
    from sweepstack import ParamSweeper, sweep

    n = 150
    figures: dict[str, Any] = {}
    for tool in ("ours", "ours-merged", "ours-batched", "execo"):
        a_dir, _, _ = both(f"{base}/rpc-{tool}")
        if tool == "execo":
            import execo_engine

            execo_engine.ParamSweeper(a_dir, sweep({"i": list(range(n))}), save_sweeps=True)
        else:
            ParamSweeper(a_dir, sweep({"i": list(range(n))}), save_sweeps=True)
        worker = Proc("hostA", ["-m", "tests.nfs._agent", "rpc-drain", a_dir, "--tool", tool])
        wait_until(worker.ready, 180, f"the {tool} drain to start")
        worker.send("go")
        result = worker.result(300)
        worker.finish(60)
        check(result["count"] == n, f"{tool} drained {result['count']} of {n}")
        figures[tool] = {
            "rpcs_per_combination": round(result["rpcs"] / n, 2),
            "combinations_per_second": round(n / result["seconds"], 1),
        }
        log(f"rpc-counts: {tool}: {figures[tool]}")
    return figures


def main() -> int:
    import warnings

    warnings.simplefilter("ignore")  # e.g. a JournalWarning when reading while workers write
    base = f"sweepstack-nfs-{uuid.uuid4().hex[:8]}"
    os.makedirs(os.path.join(os.environ["NFS_A"], base))
    log(f"hosts hostA ({os.environ['NFS_A']}) and hostB ({os.environ['NFS_B']}), folder {base}")
    agents = {h: Proc(h, ["-m", "tests.nfs._agent", "agent"]) for h in ("hostA", "hostB")}
    failed = 0
    scenarios: list[tuple[str, Callable[[], dict[str, Any]]]] = [
        ("lock-exclusion", lambda: locks(agents, base)),
        ("run-numbers", lambda: run_numbers(agents, base)),
        ("drain-with-kills", lambda: drain(base)),
        ("server-restart", lambda: server_restart(base)),
        ("kill-in-session", lambda: kill_in_session(base)),
        ("engines-records-artifacts", lambda: engines(base)),
        ("shared-stage", lambda: shared_stage(base)),
        ("rpc-counts", lambda: rpc_counts(base)),
    ]
    wanted = set(sys.argv[1:])  # names of scenarios to run (all by default), to debug one
    for name, scenario in scenarios:
        if wanted and name not in wanted:
            continue
        start = time.monotonic()
        try:
            if name in ("lock-exclusion", "run-numbers"):
                wait_until(lambda: all(a.ready() for a in agents.values()), 120, "the agents")
            details = scenario()
            details["time"] = round(time.monotonic() - start, 1)
            print(f"NFS-RESULT {name} ok {json.dumps(details)}", flush=True)
        except Exception as err:
            failed += 1
            text = "".join(traceback.format_exception_only(type(err), err)).strip()
            if not isinstance(err, ScenarioFailed):
                text += " | " + traceback.format_exc().replace("\n", " | ")
            details = {"error": text, "time": round(time.monotonic() - start, 1)}
            print(f"NFS-RESULT {name} FAIL {json.dumps(details)}", flush=True)
        if name == "run-numbers":
            for agent in agents.values():
                if agent.proc.poll() is None:
                    agent.send(json.dumps({"do": "quit"}))
    log(f"all scenarios: {time.monotonic() - STARTED:.1f} s, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
