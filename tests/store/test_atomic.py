"""atomic_write / atomic_create / publish_dir: readers never see a partial file."""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import signal
import subprocess
import sys
import time

import pytest

from sweepstack.errors import StoreWriteError
from sweepstack.store._atomic import (
    atomic_create,
    atomic_write,
    is_temp_name,
    publish_dir,
    read_bytes,
)


def _listing(folder):
    return sorted(os.listdir(folder))


def test_atomic_write_replaces_content_and_leaves_no_temp(tmp_path):
    target = tmp_path / "doc.json"
    atomic_write(str(target), "first")
    atomic_write(str(target), b"second")
    atomic_write(str(target), lambda fd: os.write(fd, b"third"))
    assert target.read_bytes() == b"third"
    assert _listing(tmp_path) == ["doc.json"]


def test_atomic_write_into_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(StoreWriteError, match="its folder does not exist") as info:
        atomic_write(str(tmp_path / "missing" / "doc.json"), "x")
    assert isinstance(info.value, OSError)


def test_failed_write_callback_leaves_old_content_and_no_temp(tmp_path):
    target = tmp_path / "doc"
    atomic_write(str(target), "old")

    def explode(fd):
        os.write(fd, b"partial")
        raise RuntimeError("serializer failed")

    with pytest.raises(RuntimeError):
        atomic_write(str(target), explode)
    assert target.read_text() == "old"
    assert _listing(tmp_path) == ["doc"]


def test_full_disk_is_a_clear_error_and_keeps_old_content(tiny_disk):
    target = tiny_disk / "doc"
    atomic_write(str(target), b"x" * 1000)
    with pytest.raises(StoreWriteError, match="no space left") as info:
        atomic_write(str(target), b"y" * 200_000)
    assert "free some space" in str(info.value)
    assert target.read_bytes() == b"x" * 1000
    assert _listing(tiny_disk) == ["doc"]


# --- crash safety with real processes ----------------------------------------------

_WRITER = r"""
import hashlib, os, random, sys
sys.path.insert(0, sys.argv[2])
from sweepstack.store._atomic import atomic_write
target = sys.argv[1]
rng = random.Random(os.getpid())
i = 0
print("ready", flush=True)
while True:
    body = os.urandom(rng.randrange(1, 300_000))
    atomic_write(target, hashlib.sha256(body).hexdigest().encode() + b"\n" + body, fsync=bool(i % 2))
    i += 1
"""


def _valid(data: bytes) -> bool:
    digest, _, body = data.partition(b"\n")
    return hashlib.sha256(body).hexdigest().encode() == digest


@pytest.mark.slow
def test_sigkill_during_writes_never_leaves_a_partial_file(tmp_path):
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    target = tmp_path / "doc"
    for attempt in range(8):
        with subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(target), repo], stdout=subprocess.PIPE, text=True
        ) as proc:
            assert proc.stdout.readline().strip() == "ready"
            time.sleep(0.05 + 0.04 * attempt)
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
        assert _valid(target.read_bytes()), f"partial or corrupt file after kill {attempt}"
        leftovers = [n for n in os.listdir(tmp_path) if n != "doc"]
        assert all(is_temp_name(n) for n in leftovers), leftovers


def _create_once(args):
    path, ident = args
    return atomic_create(path, f"winner {ident}\n")


def test_exactly_one_of_many_processes_creates_a_file(tmp_path):
    target = str(tmp_path / "claim.json")
    with multiprocessing.get_context("spawn").Pool(8) as pool:
        created = pool.map(_create_once, [(target, i) for i in range(32)])
    assert created.count(True) == 1
    winner = created.index(True)
    assert read_bytes(target) == f"winner {winner}\n".encode()
    assert _listing(tmp_path) == ["claim.json"]


def test_atomic_create_does_not_replace(tmp_path):
    target = str(tmp_path / "x")
    assert atomic_create(target, "a") is True
    assert atomic_create(target, "b") is False
    assert read_bytes(target) == b"a"


def test_publish_dir_first_wins_and_loser_is_cleaned(tmp_path):
    final = tmp_path / "artifact"
    for i in range(2):
        tmp = tmp_path / f"tmp{i}"
        tmp.mkdir()
        (tmp / "data").write_text(f"copy {i}")
        (tmp / "meta.json").write_text(f"meta {i}")
        assert publish_dir(str(tmp), str(final)) is (i == 0)
    assert (final / "data").read_text() == "copy 0"
    assert (final / "meta.json").read_text() == "meta 0"
    assert _listing(tmp_path) == ["artifact"]
