"""Every subcommand on an experiment with a corrupt record and a torn journal tail; repairs."""

from __future__ import annotations

import glob
import json
import os

import pytest

import sweepstack as sw
from tests.cli.experiments import EXAMPLE, run_script

TORN = b"D 0123456789abcdef0123456789abcdef ow"  # a done entry cut mid-write: no checksum


def _damage(path: str) -> tuple[str, int]:
    """Corrupt one record in place and tear the journal's tail; (the record's key, journal size)."""
    records = sorted(glob.glob(os.path.join(path, "records", "main", "??", "*.json")))
    record = records[7]
    with open(record, "r+b") as f:  # damaged in place: the same file, other bytes
        f.seek(0)
        f.write(b'{"key": "trunc')
        f.truncate()
    journal = os.path.join(path, "sweeps", "main", "journal")
    size = os.path.getsize(journal)
    with open(journal, "ab") as f:
        f.write(TORN)
    return os.path.basename(record)[: -len(".json")], size


@pytest.fixture
def damaged(example):
    key, size = _damage(example)
    return example, key, size


def test_status_runs_and_reads_past_a_torn_tail(sweepstack, damaged):
    path, _, _ = damaged
    ran = sweepstack("status", path)
    assert ran.code == 0
    assert "done 45" in ran.out


def test_results_leave_out_the_corrupt_record_and_say_so(sweepstack, damaged):
    path, key, _ = damaged
    ran = sweepstack("results", path, "--csv")
    assert ran.code == 0
    assert len(ran.out.splitlines()) == 1 + 44 and key not in ran.out
    assert "1 unreadable record(s) left out" in ran.err


def test_runs_report_cache_and_reset_work_on_a_damaged_experiment(sweepstack, damaged):
    path, key, _ = damaged
    assert sweepstack("runs", path).code == 0
    assert sweepstack("cache", path).code == 0
    reset = sweepstack("reset", path, "--failed", "--stale")
    assert reset.code == 0 and "0 failed combination(s) to todo" in reset.out
    ran = sweepstack("report", path)
    assert ran.code == 0
    with open(os.path.join(path, "reports", "report.html"), encoding="utf-8") as f:
        page = f.read()
    assert "Unreadable entries" in page and key in page


def test_check_lists_the_record_by_key_and_the_torn_tail_and_exits_1(sweepstack, damaged):
    path, key, _ = damaged
    ran = sweepstack("check", path)
    assert ran.code == 1
    assert f"record {key} of sweep main" in ran.out
    assert f"{len(TORN)} bytes of an incomplete or damaged entry" in ran.out
    assert "2 problem(s), 2 not repaired" in ran.out
    problems = json.loads(sweepstack("check", path, "--json").out)
    assert sorted(p["kind"] for p in problems) == ["journal", "record"]


@pytest.mark.timeout(120)
def test_check_repair_quarantines_the_record_cuts_the_tail_and_the_next_run_recomputes_it(
    sweepstack, damaged
):
    path, key, size = damaged
    ran = sweepstack("check", path, "--repair")
    assert ran.code == 0, ran
    assert "all repaired" in ran.out
    assert f"cut {len(TORN)} bytes" in ran.out
    # returning the combination to todo started a new generation; the old journal is kept
    assert os.path.getsize(os.path.join(path, "sweeps", "main", "journal.0")) == size
    (moved,) = glob.glob(os.path.join(path, "quarantine", "records", "main", f"{key}.json.*"))
    with open(moved, "rb") as f:
        assert f.read() == b'{"key": "trunc'  # kept as it was, for inspection
    assert "1 returned to todo" in ran.out
    counts = json.loads(sweepstack("status", path, "--json").out)["sweeps"][0]["counts"]
    assert (counts["done"], counts["remaining"]) == (44, 1)
    again = sweepstack("check", path)
    assert again.code == 0 and "no problem found" in again.out

    run_script(EXAMPLE, "-c", path, "--max-n", "20000")
    counts = json.loads(sweepstack("status", path, "--json").out)["sweeps"][0]["counts"]
    assert counts["done"] == 45
    assert sw.open(path).record(key)["status"] == "done"
    assert sweepstack("check", path).code == 0


def test_check_repair_quarantines_a_corrupt_artifact(sweepstack, example):
    cache = sw.open(example).cache
    key = next(iter(cache.iter_artifacts()))
    meta = cache.read_meta(key)
    data = os.path.join(cache.path(key), sorted(meta["files"])[0])
    with open(data, "r+b") as f:
        f.write(b"\0\0\0")
    ran = sweepstack("check", example)
    assert ran.code == 1 and f"artifact {key}" in ran.out and "checksum mismatch" in ran.out
    repaired = sweepstack("check", example, "--repair")
    assert repaired.code == 0 and not cache.has(key)
    assert glob.glob(os.path.join(example, "quarantine", "cache", f"{key}.*"))
    assert sweepstack("check", example).code == 0


# --- sweepers' manifests -----------------------------------------------------------------


def _manifest(path: str) -> str:
    return os.path.join(path, "sweeps", "main", "manifest.json")


def _write_manifest(path: str, text: str) -> None:
    with open(_manifest(path), "w") as f:
        f.write(text)


def _edit_manifest(path: str, change) -> None:
    with open(_manifest(path)) as f:
        manifest = json.load(f)
    change(manifest)
    with open(_manifest(path), "w") as f:
        json.dump(manifest, f)


@pytest.mark.parametrize(
    "damage,problem",
    [
        pytest.param(lambda p: _write_manifest(p, "garbage"), "not valid JSON", id="garbage"),
        pytest.param(lambda p: _write_manifest(p, "[1, 2]"), "a JSON list, not an object", id="array"),
        pytest.param(
            lambda p: _edit_manifest(p, lambda m: m.update(count="45")),
            "'count' is missing or not an integer",
            id="wrong-type",
        ),
        pytest.param(
            lambda p: _edit_manifest(p, lambda m: m.pop("digest")), "'digest' is missing or not a string", id="missing-key"
        ),
        pytest.param(
            lambda p: _edit_manifest(p, lambda m: m["options"].update(max_n=5)),
            "options do not match",
            id="edited-options",
        ),
        pytest.param(
            lambda p: _edit_manifest(p, lambda m: m.update(count=6, digest="0" * 64)),
            "another parameter space (6 combinations)",
            id="other-space",
        ),
    ],
)  # fmt: skip
def test_check_finds_a_damaged_manifest_and_repair_quarantines_it(
    sweepstack, example, damage, problem
):
    damage(example)
    ran = sweepstack("check", example, "--no-artifacts")
    assert ran.code == 1
    assert f"manifest of sweep main ({_manifest(example)}): " in ran.out and problem in ran.out
    repaired = sweepstack("check", example, "--no-artifacts", "--repair")
    assert repaired.code == 0, repaired.out
    assert "the engine writes a new manifest on its next run" in repaired.out
    assert not os.path.exists(_manifest(example))
    assert glob.glob(os.path.join(example, "quarantine", "sweeps", "main", "manifest.json.*"))
    assert sweepstack("check", example, "--no-artifacts").code == 0
    # the next run writes it again, and it is whole
    run_script(EXAMPLE, "-c", example, "--max-n", "20000", "--no-progress")
    with open(_manifest(example)) as f:
        assert json.load(f)["count"] == 45
    assert sweepstack("check", example, "--no-artifacts").out.startswith("no problem found")


def test_check_reports_a_newer_manifest_and_never_moves_it(sweepstack, example):
    _edit_manifest(example, lambda m: m.update(format=99))
    ran = sweepstack("check", example, "--no-artifacts", "--repair")
    assert (
        ran.code == 1
        and "is in sweepstack format 99" in ran.out
        and "Upgrade sweepstack" in ran.out
    )
    assert os.path.exists(_manifest(example))


def test_check_of_a_whole_manifest_finds_nothing(sweepstack, example):
    assert os.path.exists(_manifest(example))
    ran = sweepstack("check", example, "--no-artifacts")
    assert ran.code == 0 and ran.out.startswith("no problem found")


@pytest.mark.parametrize("text", ["garbage", "[1, 2]"], ids=["garbage", "array"])
def test_continuing_with_a_damaged_manifest_says_so_and_writes_a_new_one(example, text):
    _write_manifest(example, text)
    ran = run_script(EXAMPLE, "-c", example, "--max-n", "20000", "--no-progress")
    assert "manifest" in ran.stderr and "is unreadable" in ran.stderr
    with open(_manifest(example)) as f:
        assert json.load(f)["count"] == 45
