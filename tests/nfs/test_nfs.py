"""sweepstack on real NFSv4.2 between two hosts: each test is one scenario run in the NFS VM.

The machine's own kernel has no NFS, so ``tools/nfsvm.sh`` boots a VM (qemu,
software emulation) with kernel nfsd and two kernel NFS clients in their own
network namespaces, "hostA" and "hostB", mounting one export (see
``tools/README.md``). The scenarios of ``_inside.py`` run there in one VM
boot; only the console comes back, where each scenario prints its
verdict and figures, which the tests below assert. Needs root and
``.ci/setup.d/30-nfsvm.sh``; otherwise the tests skip and say why.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NFSVM = os.path.join(REPO, "tools", "nfsvm.sh")
SETUP = ".ci/setup.d/30-nfsvm.sh"
# seconds; the scenarios take ~4 VM-minutes, much longer on a machine busy with other
# work (qemu emulates the CPU): NFSVM_TIMEOUT raises the limit there
VM_TIMEOUT = int(os.environ.get("NFSVM_TIMEOUT", "480"))

pytestmark = [pytest.mark.nfs, pytest.mark.slow, pytest.mark.timeout(VM_TIMEOUT + 120)]


def _why_not() -> str | None:
    """Why the NFS VM cannot run on this machine, or None (``tools/nfsvm.sh check`` says)."""
    if not os.path.exists(NFSVM):
        return f"{NFSVM} is missing from the checkout"
    check = subprocess.run(["bash", NFSVM, "check"], capture_output=True, text=True, timeout=60)
    if check.returncode != 0:
        return f"{(check.stdout + check.stderr).strip()} (or run {SETUP})"
    return None


@pytest.fixture(scope="module")
def vm() -> Iterator[dict[str, tuple[bool, dict]]]:
    """Boot the VM once, run every scenario in it, and return each one's verdict and figures."""
    reason = _why_not()
    if reason:
        pytest.skip(reason)
    # each run of tools/nfsvm.sh has its own folder: concurrent test sessions do not collide
    done = subprocess.run(
        ["bash", NFSVM, "run", "--vers", "4.2", "--", sys.executable, "-m", "tests.nfs._inside"],
        cwd=REPO,
        env={**os.environ, "NFSVM_TIMEOUT": str(VM_TIMEOUT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=VM_TIMEOUT + 60,
    )
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


def test_two_hosts_needing_one_expensive_stage_compute_it_once(vm):
    # both start together; one takes the stage lease and computes, the other waits
    # (renewals every quarter of a 5 s lease) and then loads the artifact
    details = _scenario(vm, "shared-stage")
    assert details["executions"] == 1
    assert details["computed_by"] != details["waiter"]


def test_one_process_makes_fewer_nfs_rpcs_per_combination_than_execo_engine(vm):
    figures = _scenario(vm, "rpc-counts")
    print(f"NFS RPCs per combination: {figures}")
    ours = figures["ours"]["rpcs_per_combination"]
    assert ours < figures["execo"]["rpcs_per_combination"], figures
    merged = figures["ours-merged"]["rpcs_per_combination"]
    assert merged < ours, figures  # done + next claim: one session, not two
    assert figures["ours-batched"]["rpcs_per_combination"] < merged, figures


def test_the_vm_run_ended_with_every_scenario_passed(vm):
    ok, info = vm["_output"]
    assert ok, f"the scenarios exited with {info['status']}:\n{info['tail']}"
