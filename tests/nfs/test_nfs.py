"""sweepstack on real NFSv4.2 between two hosts: each test is one scenario run in the NFS VM.

The machine's own kernel has no NFS, so ``../shared/tools/nfsvm.sh`` boots a VM
(qemu, software emulation) with kernel nfsd and two kernel NFS clients in their own
network namespaces, "hostA" and "hostB", mounting one export (see
``../shared/nfs-testing.md``). The scenarios of ``_inside.py`` run there in one VM
boot (about 110 s); only the console comes back, where each scenario prints its
verdict and figures, which the tests below assert. Needs root and
``.ci/setup.d/30-nfsvm.sh``; otherwise the tests skip and say why.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NFSVM = os.path.join(REPO, "..", "shared", "tools", "nfsvm.sh")
SETUP = ".ci/setup.d/30-nfsvm.sh"
VM_TIMEOUT = 480  # seconds; a run takes about 110 s here

pytestmark = [pytest.mark.nfs, pytest.mark.slow, pytest.mark.timeout(VM_TIMEOUT + 120)]


def _why_not(work: str) -> str | None:
    """Why the NFS VM cannot run on this machine, or None."""
    if os.geteuid() != 0:
        return "the NFS VM needs root (qemu, network namespaces, kernel nfsd in the guest)"
    if not os.path.exists(NFSVM):
        return f"{os.path.normpath(NFSVM)} is missing (the shared tools next to the repository)"
    if shutil.which("qemu-system-x86_64") is None:
        return f"qemu-system-x86_64 is not installed: run {SETUP}"
    if not (
        os.path.exists(os.path.join(work, "initrd.gz"))
        and os.path.isdir(os.path.join(work, "kroot"))
    ):
        return f"the NFS VM is not set up in {work}: run {SETUP}"
    return None


@pytest.fixture(scope="module")
def vm() -> Iterator[dict[str, tuple[bool, dict]]]:
    """Boot the VM once, run every scenario in it, and return each one's verdict and figures."""
    setup = os.environ.get("NFSVM_WORK", "/var/tmp/nfsvm")
    reason = _why_not(setup)
    if reason:
        pytest.skip(reason)
    # a private work folder (nfsvm.sh keeps the command and the result there) sharing the
    # kernel and initrd of the set-up one: concurrent test sessions do not collide
    work = tempfile.mkdtemp(prefix="sweepstack-nfsvm-", dir=os.path.dirname(os.path.abspath(setup)))
    try:
        for name in ("kroot", "initrd.gz"):
            os.symlink(os.path.join(os.path.abspath(setup), name), os.path.join(work, name))
        env = {**os.environ, "NFSVM_WORK": work, "NFSVM_TIMEOUT": str(VM_TIMEOUT)}
        command = [
            "bash",
            NFSVM,
            "run",
            "--vers",
            "4.2",
            "--",
            sys.executable,
            "-m",
            "tests.nfs._inside",
        ]
        done = subprocess.run(
            command,
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=VM_TIMEOUT + 60,
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    output = done.stdout
    for line in output.splitlines():
        if line.startswith(("NFS-", "NFSVM")):
            print(line)  # shown with the test's report
    tail = "\n".join(output.splitlines()[-40:])
    if "NFSVM ready" not in output:
        broken = [line for line in output.splitlines() if "failed" in line and "NFSVM" in line]
        pytest.skip(
            f"the NFS VM did not start (exit status {done.returncode}): "
            + ("; ".join(broken) or tail[-800:])
        )
    if done.returncode == 124:
        pytest.fail(f"the NFS VM timed out after {VM_TIMEOUT} s:\n{tail}")
    results = {}
    for line in output.splitlines():
        if line.startswith("NFS-RESULT "):
            _, name, verdict, details = line.split(" ", 3)
            results[name] = (verdict == "ok", json.loads(details))
    results["_output"] = (done.returncode == 0, {"tail": tail, "status": done.returncode})
    yield results


def _scenario(vm: dict[str, tuple[bool, dict]], name: str) -> dict:
    if name not in vm:
        pytest.fail(
            f"scenario {name} did not report (the VM run ended early):\n{vm['_output'][1]['tail']}"
        )
    ok, details = vm[name]
    assert ok, f"{name}: {details.get('error')}"
    return details


def test_the_sweepers_lock_excludes_processes_on_two_nfs_clients(vm):
    # 150 acquisitions per host; holding periods never overlap, and lines appended under
    # the lock through either mount read back numbered 1..300 on the server
    details = _scenario(vm, "lock-exclusion")
    assert details["hand_overs"] >= 10


def test_run_numbers_taken_at_once_from_two_hosts_are_unique(vm):
    details = _scenario(vm, "run-numbers")
    assert details["runs"] == 50


def test_two_hosts_drain_one_sweep_exactly_once_through_kills_recovering_by_lease(vm):
    # 3 workers per host; a hostB worker killed (its peers see it dead), then all of
    # hostA's (hostB takes their claims back when the lease expires): every combination
    # done once, none lost, no claim of a live worker taken, no ClaimLostWarning
    details = _scenario(vm, "drain-with-kills")
    assert details["recovered_by_lease"] >= 2
    assert details["first_lease_recovery_after_kill"] >= details["lease"]


def test_an_nfs_server_restart_longer_than_the_lease_takes_no_live_workers_claim(vm):
    # nfsd stops for three leases while 2 workers per host drain a sweep, then starts again
    # (grace period): the workers block, resume, and finish every combination once, with
    # no claim taken from a live worker and no ClaimLostWarning
    details = _scenario(vm, "server-restart")
    assert details["outage"] > 2 * details["lease"]
    assert details["done_during_outage"] == 0


def test_a_writer_killed_in_its_session_cannot_overwrite_the_next_writers_done(vm):
    # hostA's writer is SIGKILLed holding the lock, 64 MB written and not flushed; its
    # NFS client may still send them after the sweeper's lock is released. hostB, waiting
    # for the lock, must read the journal only once nothing more of them can arrive (the
    # journal's own lock), and its acknowledged done survives
    details = _scenario(vm, "kill-in-session")
    assert details["acknowledged_done_kept"]
    assert details["tail_seen_by_hostB"] in (0, details["unflushed_bytes"])


def test_engines_on_two_hosts_share_one_experiment_with_intact_records_and_artifacts(vm):
    details = _scenario(vm, "engines-records-artifacts")
    assert set(details["records_per_host"]) == {"hostA", "hostB"}


def test_one_process_makes_fewer_nfs_rpcs_per_combination_than_execo_engine(vm):
    figures = _scenario(vm, "rpc-counts")
    print(f"NFS RPCs per combination: {figures}")
    ours = figures["ours"]["rpcs_per_combination"]
    assert ours < figures["execo"]["rpcs_per_combination"], figures
    assert figures["ours-batched"]["rpcs_per_combination"] < ours, figures


def test_the_vm_run_ended_with_every_scenario_passed(vm):
    ok, info = vm["_output"]
    assert ok, f"the scenarios exited with {info['status']}:\n{info['tail']}"
