"""Every documented name of execo_engine (but ``logger`` and the ``get_*`` sets, which
the ``-c`` contract tests cover) works with execo's meaning, each called once here.

The detailed behaviour of each is tested in tests/sweep and tests/engine; this file
walks the seed page's list so that no documented name goes missing.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import sweepstack
from sweepstack import Engine, HashableDict, ParamSweeper, sweep

SWEEPER_METHODS = [
    "cancel",
    "cancel_batch",
    "done",
    "done_batch",
    "full_update",
    "get_done",
    "get_inprogress",
    "get_next",
    "get_next_batch",
    "get_remaining",
    "get_skipped",
    "get_sweeps",
    "reset",
    "set_sweeps",
    "skip",
    "skip_batch",
    "stats",
    "update",
]
ENGINE_NAMES = [
    "args",
    "args_parser",
    "engine_dir",
    "init",
    "result_dir",
    "run",
    "run_name",
    "setup_result_dir",
    "setup_run_name",
    "start",
]
FUNCTIONS = [
    "sweep",
    "sweep_stats",
    "geom",
    "igeom",
    "slugify",
    "HashableDict",
    "redirect_outputs",
    "copy_outputs",
]


def test_module_level_names():
    assert all(callable(getattr(sweepstack, n)) for n in FUNCTIONS)
    space = sweep({"a": [1, 2], "b": {"x": {"c": [0]}, "y": {}}})
    assert space == [
        {"a": 1, "b": "x", "c": 0},
        {"a": 1, "b": "y"},
        {"a": 2, "b": "x", "c": 0},
        {"a": 2, "b": "y"},
    ]
    assert all(isinstance(c, HashableDict) for c in space)
    assert len({HashableDict({"a": 1}): 1, HashableDict({"a": 1}): 2}) == 1
    assert sweepstack.geom(1, 100, 3) == [1.0, 10.0, 100.0]
    assert sweepstack.igeom(1, 100, 3) == [1, 10, 100]
    assert sweepstack.slugify({"n": 100, "mode": "plain"}) == "n-100-mode-plain"  # execo's name
    # a lossy name ("Hello, World 2" and "hello world 2" read alike) gets a key suffix
    assert sweepstack.slugify("Hello, World 2").startswith("hello-world-2.")
    assert sweepstack.slugify("Hello, World 2") != sweepstack.slugify("hello world 2")


def test_every_param_sweeper_method_with_its_meaning(tmp_path):
    space = sweep({"n": list(range(8))})
    sweeper = ParamSweeper(str(tmp_path / "sweeps"), space, save_sweeps=True, name="main")
    called = set()

    def did(name):
        called.add(name)

    first = sweeper.get_next()
    did("get_next")
    assert first in space and list(sweeper.get_inprogress()) == [first]
    did("get_inprogress")
    sweeper.done(first)
    did("done")
    assert list(sweeper.get_done()) == [first]
    did("get_done")
    batch = sweeper.get_next_batch(3)
    did("get_next_batch")
    sweeper.done_batch(batch[:1])
    did("done_batch")
    sweeper.skip(batch[1])
    did("skip")
    assert list(sweeper.get_skipped()) == [batch[1]]
    did("get_skipped")
    sweeper.cancel(batch[2])
    did("cancel")
    assert batch[2] in sweeper.get_remaining()
    did("get_remaining")
    more = sweeper.get_next_batch(2)
    sweeper.skip_batch(more[:1])
    did("skip_batch")
    sweeper.cancel_batch(more[1:])
    did("cancel_batch")
    stats = sweeper.stats()
    did("stats")
    sweeps, remaining, skipped, inprogress, done = stats  # execo's tuple, atomically
    assert (len(sweeps), len(remaining), len(skipped), len(inprogress), len(done)) == (
        8,
        4,
        2,
        0,
        2,
    )
    assert set(sweeper.get_sweeps()) == set(space)
    did("get_sweeps")
    other = ParamSweeper(str(tmp_path / "sweeps"), name="main")  # another process's view
    other.done(other.get_next())
    sweeper.update()
    did("update")
    sweeper.full_update()
    did("full_update")
    assert len(sweeper.get_done()) == 3
    sweeper.reset(reset_inprogress=True)
    did("reset")
    assert not sweeper.get_inprogress() and not sweeper.get_skipped()
    sweeper.set_sweeps(space + sweep({"n": [8]}), save_sweeps=True)
    did("set_sweeps")
    assert len(sweeper.get_sweeps()) == 9
    assert called == set(SWEEPER_METHODS)


class Recorder(Engine):
    seen: dict[str, object] = {}

    def init(self):
        Recorder.seen["args_in_init"] = self.args is not None
        self.args_parser.add_argument("--size", type=int, default=3)

    def setup_run_name(self):
        self.run_name = "recorder"

    def run(self):
        Recorder.seen.update(
            size=self.args.size,
            run_name=self.run_name,
            result_dir=self.result_dir,
            engine_dir=self.engine_dir,
        )


def test_every_engine_name_with_its_meaning(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert all(hasattr(Engine(), n) for n in ENGINE_NAMES)
    Recorder.seen = {}
    Recorder().start(engineargs=["--size", "5", "--no-progress"])
    seen = Recorder.seen
    assert (seen["size"], seen["run_name"]) == (5, "recorder")
    assert os.path.dirname(seen["result_dir"]) == str(tmp_path)  # setup_result_dir: here
    assert seen["engine_dir"] == os.path.dirname(os.path.abspath(__file__))
    assert seen["args_in_init"] is True  # init() may read the options known so far


HELPER = """
import sys, sweepstack
getattr(sweepstack, sys.argv[1])(sys.argv[2], sys.argv[3])
print("hello out")
print("hello err", file=sys.stderr)
"""


@pytest.mark.parametrize("helper", ["redirect_outputs", "copy_outputs"])
def test_output_helpers_write_the_files(tmp_path, helper, python_env):
    out, err = str(tmp_path / "out"), str(tmp_path / "err")
    shown = subprocess.run(
        [sys.executable, "-c", HELPER, helper, out, err],
        env=python_env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    with open(out, encoding="utf-8") as f:
        assert "hello out" in f.read()
    with open(err, encoding="utf-8") as f:
        assert "hello err" in f.read()
    # redirect: the terminal sees nothing; copy: it sees both too
    assert ("hello out" in shown.stdout) == (helper == "copy_outputs")
