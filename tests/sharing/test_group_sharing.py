"""Two real users of one group continue each other's sweeps in a shared folder.

Needs root (``useradd``, ``runuser``): two users and a group are made for the module
and removed after it. The users run this checkout with a Python they can execute:
the test's own interpreter if they may, else the system ``python3`` of the same
version with the test's site-packages on ``PYTHONPATH``.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import sysconfig
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

import sweepstack

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RUNUSER = shutil.which("runuser") or "/usr/sbin/runuser"


@dataclass
class Lab:
    group: str
    alice: str
    bob: str
    python: str
    pythonpath: str
    folder: str  # group-owned, setgid, where experiments are made

    def run(self, user: str, umask: str, *args: str) -> subprocess.CompletedProcess:
        """The test engine as ``user`` with ``umask``."""
        command = [self.python, "-m", "tests.engine.engines", *args]
        return subprocess.run(
            [RUNUSER, "-u", user, "--", "sh", "-c", f'umask {umask} && exec "$@"', "sh", *command],
            cwd=REPO,
            env={
                "PATH": "/usr/bin:/bin",
                "PYTHONPATH": self.pythonpath,
                "PYTHONDONTWRITEBYTECODE": "1",
                "HOME": self.folder,
            },
            capture_output=True,
            text=True,
            timeout=120,
        )


def _command(*args: str) -> None:
    subprocess.run(args, check=True, capture_output=True, timeout=60)


def _python_for(user: str) -> tuple[str, str] | None:
    """An interpreter ``user`` can run that imports sweepstack's dependencies, and its PYTHONPATH."""
    site = sysconfig.get_paths()["purelib"]
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    for python, path in (
        (sys.executable, REPO),
        (shutil.which(f"python{version}", path="/usr/bin") or "", REPO + os.pathsep + site),
    ):
        if not python:
            continue
        probe = subprocess.run(
            [RUNUSER, "-u", user, "--", python, "-c", "import fasteners, sweepstack"],
            env={"PATH": "/usr/bin:/bin", "PYTHONPATH": path, "PYTHONDONTWRITEBYTECODE": "1"},
            cwd=REPO,
            capture_output=True,
            timeout=60,
        )
        if probe.returncode == 0:
            return python, path
    return None


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    if os.geteuid() != 0:
        pytest.skip("needs root to make two users (useradd) and run as them (runuser)")
    missing = [
        t
        for t in ("useradd", "userdel", "groupadd", "groupdel", "runuser")
        if shutil.which(t) is None
    ]
    if missing:
        pytest.skip(f"{', '.join(missing)} missing (the passwd and util-linux packages)")
    tag = uuid.uuid4().hex[:6]
    group, alice, bob = f"sslab{tag}", f"ssa{tag}", f"ssb{tag}"
    made: list[tuple[str, ...]] = []
    base = tempfile.mkdtemp(prefix="sweepstack-sharing-")
    try:
        _command("groupadd", group)
        made.append(("groupdel", group))
        for user in (alice, bob):
            # each user's own primary group, and the lab as a supplementary one
            _command("useradd", "-M", "-U", "-G", group, "-s", "/bin/sh", user)
            made.insert(0, ("userdel", user))
        os.chmod(base, 0o755)
        folder = os.path.join(base, "lab")
        os.mkdir(folder)
        shutil.chown(folder, group=group)
        os.chmod(folder, 0o2775)
        found = _python_for(alice)
        if found is None:
            pytest.skip(f"no Python that {alice} can run imports sweepstack and its dependencies")
        yield Lab(group, alice, bob, found[0], found[1], folder)
    finally:
        for undo in made:
            subprocess.run(undo, capture_output=True, timeout=60)
        shutil.rmtree(base, ignore_errors=True)


def _every_path(path: str) -> Iterator[str]:
    for folder, _folders, files in os.walk(path):
        yield folder
        for name in files:
            yield os.path.join(folder, name)


@pytest.mark.timeout(120)
def test_with_umask_002_every_file_and_folder_is_the_groups_and_group_writable(lab):
    path = os.path.join(lab.folder, "shared")
    done = lab.run(lab.alice, "002", "Counting", "-c", path, "--n", "4", "--no-progress")
    assert done.returncode == 0, done.stderr
    import grp

    gid = grp.getgrnam(lab.group).gr_gid
    for item in _every_path(path):
        st = os.lstat(item)
        assert st.st_gid == gid, item  # not alice's own primary group
        assert st.st_mode & stat.S_IWGRP, (item, stat.filemode(st.st_mode))
        if stat.S_ISDIR(st.st_mode):
            assert st.st_mode & stat.S_ISGID, (item, stat.filemode(st.st_mode))


@pytest.mark.timeout(120)
def test_the_umask_is_respected_022_keeps_files_the_owners(lab):
    path = os.path.join(lab.folder, "private")
    done = lab.run(lab.alice, "022", "Counting", "-c", path, "--n", "2", "--no-progress")
    assert done.returncode == 0, done.stderr
    modes = {stat.S_IMODE(os.lstat(p).st_mode) & 0o777 for p in _every_path(path)}
    assert all(not mode & (stat.S_IWGRP | stat.S_IWOTH) for mode in modes), modes


@pytest.mark.timeout(180)
def test_a_member_of_the_group_continues_and_recomputes_anothers_sweep(lab):
    path = os.path.join(lab.folder, "continued")
    first = lab.run(lab.alice, "002", "Counting", "-c", path, "--n", "3", "--no-progress")
    assert first.returncode == 0, first.stderr
    more = lab.run(lab.bob, "002", "Counting", "-c", path, "--n", "6", "--no-progress")
    assert more.returncode == 0, more.stderr
    again = lab.run(
        lab.bob,
        "002",
        "Counting",
        "-c",
        path,
        "--n",
        "6",
        "--no-progress",
        "--overwrite",
        "--retry-failed",
    )
    assert again.returncode == 0, again.stderr
    rows = sweepstack.open(path).results()
    assert sorted(r["i"] for r in rows) == list(range(6))
    assert all(r["status"] == "done" for r in rows)


@pytest.mark.timeout(120)
def test_a_refused_write_names_the_file_and_the_missing_permission(lab):
    path = os.path.join(lab.folder, "refused")
    first = lab.run(lab.alice, "022", "Counting", "-c", path, "--n", "3", "--no-progress")
    assert first.returncode == 0, first.stderr
    before = sorted((r["key"], r["status"], r["attempt"]) for r in sweepstack.open(path).results())
    refused = lab.run(lab.bob, "002", "Counting", "-c", path, "--n", "5", "--no-progress")
    assert refused.returncode != 0
    err = refused.stderr
    assert "permission denied: the " in err, err
    assert path in err and f"user {lab.bob}" in err and "lacks write" in err, err
    assert f"{lab.alice}:{lab.group}" in err, err  # the owner and group of what refused
    assert "docs/security.md" in err
    after = sorted((r["key"], r["status"], r["attempt"]) for r in sweepstack.open(path).results())
    assert after == before  # nothing alice wrote was changed


@pytest.mark.timeout(120)
def test_a_lock_file_a_member_may_not_write_is_named_with_its_permissions(lab):
    # an experiment made before files were group-writable: folders shared, lock files not
    path = os.path.join(lab.folder, "old")
    first = lab.run(lab.alice, "002", "Counting", "-c", path, "--n", "3", "--no-progress")
    assert first.returncode == 0, first.stderr
    lock = os.path.join(path, "sweeps", "main", "lock")
    os.chmod(lock, 0o644)
    refused = lab.run(lab.bob, "002", "Counting", "-c", path, "--n", "5", "--no-progress")
    assert refused.returncode != 0
    assert f"permission denied: the file {lock} is -rw-r--r-- {lab.alice}:{lab.group}" in (
        refused.stderr
    ), refused.stderr
    assert "lacks write (w) permission" in refused.stderr
