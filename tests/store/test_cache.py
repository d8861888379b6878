"""ArtifactCache: atomic artifact folders, checksums on read, quarantine, listing."""

from __future__ import annotations

import json
import multiprocessing
import os

import pytest

from sweepstack.errors import ArtifactCorruptError, StoreWriteError
from sweepstack.store._cache import META_FILE, ArtifactCache

KEY = "ab" * 16
OTHER = "cd" * 16


def _text_writer(text: str):
    def write(folder: str) -> None:
        with open(os.path.join(folder, "data.txt"), "w") as f:
            f.write(text)

    return write


def _read_text(folder: str) -> str:
    with open(os.path.join(folder, "data.txt")) as f:
        return f.read()


@pytest.fixture
def cache(tmp_path):
    return ArtifactCache(str(tmp_path / "cache"))


def test_saved_artifact_loads_back_with_its_metadata(cache):
    assert cache.save(KEY, {"stage": "draw", "params": {"n": 1}}, _text_writer("hello"))
    meta = cache.read_meta(KEY)
    assert meta["stage"] == "draw" and meta["params"] == {"n": 1}
    assert meta["key"] == KEY and meta["files"] == {"data.txt": 5} and meta["size"] == 5
    assert meta["checksum"].startswith("sha256:") and meta["created"] and meta["host"]
    assert cache.load(KEY, _read_text) == "hello"


def test_artifact_lives_in_a_folder_named_by_its_key_under_its_shard(cache):
    cache.save(KEY, {}, _text_writer("x"))
    assert sorted(os.listdir(cache.path(KEY))) == ["data.txt", META_FILE]
    assert cache.path(KEY) == os.path.join(cache.root, KEY[:2], KEY)


def test_missing_artifact_has_no_metadata(cache):
    assert cache.read_meta(KEY) is None
    assert not cache.has(KEY)


def test_second_save_of_a_key_keeps_the_first_copy_and_succeeds(cache):
    assert cache.save(KEY, {"run": "first"}, _text_writer("one")) is True
    assert cache.save(KEY, {"run": "second"}, _text_writer("two")) is False
    assert cache.load(KEY, _read_text) == "one"
    assert os.listdir(os.path.dirname(cache.path(KEY))) == [KEY]  # no temp folder left


def test_replace_swaps_the_artifact_for_a_new_one(cache):
    cache.save(KEY, {"run": "first"}, _text_writer("one"))
    assert cache.save(KEY, {"run": "second"}, _text_writer("two"), replace=True) is True
    assert cache.load(KEY, _read_text) == "two"
    assert cache.read_meta(KEY)["run"] == "second"
    assert os.listdir(os.path.dirname(cache.path(KEY))) == [KEY]


def test_failing_writer_leaves_nothing_and_keeps_other_artifacts(cache):
    cache.save(OTHER, {}, _text_writer("kept"))

    def explode(folder):
        with open(os.path.join(folder, "data.txt"), "w") as f:
            f.write("partial")
        raise RuntimeError("serializer failed")

    with pytest.raises(RuntimeError, match="serializer failed"):
        cache.save(KEY, {}, explode)
    assert not os.path.exists(os.path.dirname(cache.path(KEY))) or not os.listdir(
        os.path.dirname(cache.path(KEY))
    )
    assert cache.load(OTHER, _read_text) == "kept"


def _truncate(path: str) -> None:
    os.truncate(path, 2)


def _garble(path: str) -> None:
    with open(path, "wb") as f:
        f.write(b"HELLO")


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(_truncate, id="truncated"),
        pytest.param(_garble, id="same-size-garbage"),
        pytest.param(os.remove, id="data-file-removed"),
    ],
)
def test_damaged_data_is_reported_corrupt_and_not_read(cache, damage):
    cache.save(KEY, {}, _text_writer("hello"))
    damage(os.path.join(cache.path(KEY), "data.txt"))
    read_calls = []
    with pytest.raises(ArtifactCorruptError) as info:
        cache.load(KEY, lambda folder: read_calls.append(folder))
    assert info.value.key == KEY and isinstance(info.value, ValueError)
    assert read_calls == []


def test_extra_file_in_an_artifact_is_corruption(cache):
    cache.save(KEY, {}, _text_writer("hello"))
    with open(os.path.join(cache.path(KEY), "intruder"), "w") as f:
        f.write("x")
    with pytest.raises(ArtifactCorruptError, match="unexpected data files"):
        cache.verify(KEY)


def test_unreadable_metadata_is_reported_corrupt(cache):
    cache.save(KEY, {}, _text_writer("hello"))
    with open(os.path.join(cache.path(KEY), META_FILE), "w") as f:
        f.write('{"checks')
    with pytest.raises(ArtifactCorruptError, match=r"unreadable meta\.json"):
        cache.read_meta(KEY)


def test_quarantine_moves_the_artifact_aside_for_inspection(cache):
    cache.save(KEY, {}, _text_writer("hello"))
    target = cache.quarantine(KEY)
    assert target is not None and os.path.basename(target).startswith(KEY)
    assert os.path.exists(os.path.join(target, "data.txt"))
    assert cache.read_meta(KEY) is None
    assert cache.quarantine(KEY) is None  # already gone: not an error


def test_default_quarantine_is_beside_the_cache_in_the_experiment_dir(tmp_path):
    cache = ArtifactCache(str(tmp_path / "cache"))
    assert cache.quarantine_dir == str(tmp_path / "quarantine" / "cache")


def test_listing_check_and_remove(cache):
    for key in (KEY, OTHER):
        cache.save(key, {}, _text_writer(key))
    os.mkdir(os.path.join(cache.root, KEY[:2], ".half-written.sstmp"))
    assert list(cache.iter_artifacts()) == [KEY, OTHER]
    with open(os.path.join(cache.path(OTHER), "data.txt"), "w") as f:
        f.write("changed")
    problems = cache.check()
    assert [p.key for p in problems] == [OTHER]
    assert cache.remove(OTHER) is True
    assert cache.remove(OTHER) is False
    assert list(cache.iter_artifacts()) == [KEY]
    assert cache.check() == []


def test_listing_an_absent_cache_is_empty(tmp_path):
    assert list(ArtifactCache(str(tmp_path / "nothing")).iter_artifacts()) == []


def test_unwritable_cache_is_a_store_write_error(tmp_path):
    blocker = tmp_path / "cache"
    blocker.write_text("a file where the cache folder should be")
    with pytest.raises(StoreWriteError):
        ArtifactCache(str(blocker)).save(KEY, {}, _text_writer("x"))


def test_metadata_is_one_json_document_with_format_number(cache):
    cache.save(KEY, {"stage": "s"}, _text_writer("x"))
    with open(os.path.join(cache.path(KEY), META_FILE)) as f:
        meta = json.load(f)
    assert meta["format"] == 1


def _save_many(root: str, barrier, index: int) -> None:
    cache = ArtifactCache(root)
    barrier.wait()
    for i in range(40):
        key = f"{i:02d}" + "0" * 30
        cache.save(key, {"writer": index}, _text_writer(f"value {i}"))


@pytest.mark.timeout(60)
def test_two_processes_saving_the_same_keys_leave_one_good_copy_each(tmp_path):
    root = str(tmp_path / "cache")
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(2)
    procs = [ctx.Process(target=_save_many, args=(root, barrier, i)) for i in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(50)
    assert [p.exitcode for p in procs] == [0, 0]
    cache = ArtifactCache(root)
    keys = list(cache.iter_artifacts())
    assert len(keys) == 40
    assert cache.check() == []
    for i, key in enumerate(keys):
        assert cache.load(key, _read_text) == f"value {i}"
        assert os.listdir(os.path.dirname(cache.path(key))) == [key]  # one key per shard here
