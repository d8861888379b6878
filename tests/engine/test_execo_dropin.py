"""Scripts written for execo_engine run on sweepstack with only their import line changed.

Each script below follows execo_engine's documentation and common idioms; it is run
twice, as a real process, once importing from execo_engine (when installed) and once
from sweepstack, and both runs must print the same thing.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import textwrap

import pytest
from hypothesis import given
from hypothesis import strategies as st

import sweepstack
from sweepstack import HashableDict, ParamSweeper, sweep
from sweepstack.sweep._sets import CombinationSet
from tests._competitors import execo_engine

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

_SOURCES = [
    pytest.param("sweepstack", id="sweepstack"),
    pytest.param(
        "execo_engine",
        id="execo_engine",
        marks=pytest.mark.skipif(execo_engine is None, reason="execo_engine is not installed"),
    ),
]


_PRINTED = ("all ", "done ", "member ", "files ", "worked ", "remaining ", "inprogress ", "next ")


def _run(script: str, source: str, cwd: str, *args: str) -> list[str]:
    """Run ``script`` with ``{source}`` in its import line; the lines it printed (execo_engine
    logs to stdout too: those are left out). Fails on an exit status other than 0."""
    path = os.path.join(cwd, "script.py")
    with open(path, "w") as f:
        f.write(textwrap.dedent(script).replace("{source}", source))
    env = dict(os.environ, PYTHONPATH=REPO, PYTHONWARNINGS="ignore")
    ran = subprocess.run(
        [sys.executable, path, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )
    assert ran.returncode == 0, ran.stderr
    return [line for line in ran.stdout.splitlines() if line.startswith(_PRINTED)]


# --- every public name ------------------------------------------------------------------


@pytest.mark.skipif(execo_engine is None, reason="execo_engine is not installed")
def test_every_public_name_of_execo_engine_imports_from_sweepstack():
    names = [n for n in dir(execo_engine) if not n.startswith("_")]
    assert "logger" in names
    missing = [n for n in names if not hasattr(sweepstack, n)]
    assert missing == []


def test_execo_module_names_import_from_sweepstack():
    from sweepstack.log import logger
    from sweepstack.utils import copy_outputs, redirect_outputs, slugify

    assert logger is sweepstack.logger
    assert (copy_outputs, redirect_outputs, slugify) == (
        sweepstack.copy_outputs,
        sweepstack.redirect_outputs,
        sweepstack.slugify,
    )


def test_logger_has_execos_extra_levels(caplog):
    with caplog.at_level(5, logger=sweepstack.logger.name):
        sweepstack.logger.detail("a detail %d", 1)
        sweepstack.logger.trace("a trace")
        sweepstack.logger.fdebug("an fdebug")
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("DETAIL", "a detail 1"),
        ("TRACE", "a trace"),
        ("FDEBUG", "an fdebug"),
    ]


# --- the get_* collections are sets in sweep order -------------------------------------


@pytest.fixture
def sweeper(tmp_path):
    space = sweep({"a": [1, 2, 3], "b": ["x", "y"]})
    return ParamSweeper(str(tmp_path / "sweeper"), space), space


def test_getters_return_sets_that_iterate_in_sweep_order(sweeper):
    sweeper, space = sweeper
    claimed = sweeper.get_next_batch(4)
    sweeper.done(claimed[3])
    sweeper.done(claimed[0])
    sweeper.skip(claimed[2])
    for getter in ("get_sweeps", "get_remaining", "get_done", "get_skipped", "get_inprogress"):
        assert isinstance(getattr(sweeper, getter)(), set), getter
    assert list(sweeper.get_sweeps()) == space
    assert list(sweeper.get_done()) == [claimed[0], claimed[3]]  # sweep order, not done order
    assert sweeper.get_done() == {claimed[0], claimed[3]}
    assert {claimed[3], claimed[0]} == sweeper.get_done()
    assert sweeper.get_skipped() == {claimed[2]}
    assert list(sweeper.get_inprogress()) == [claimed[1]]
    assert list(sweeper.get_remaining()) == space[4:]


def test_set_operators_behave_as_sets_and_keep_sweep_order(sweeper):
    sweeper, space = sweeper
    for combination in sweeper.get_next_batch(3):
        sweeper.done(combination)
    sweeper.skip(sweeper.get_next())
    everything = sweeper.get_remaining() | sweeper.get_done() | sweeper.get_skipped()
    assert everything == set(space) and len(everything) == len(space)
    assert list(sweeper.get_done() | sweeper.get_skipped()) == space[:4]
    assert sweeper.get_sweeps() - sweeper.get_done() == set(space[3:])
    assert list(sweeper.get_sweeps() - sweeper.get_done()) == space[3:]
    assert sweeper.get_sweeps() & sweeper.get_skipped() == {space[3]}
    assert set(space) - sweeper.get_done() == set(space[3:])  # a plain set on the left
    assert space[0] in sweeper.get_done() and space[5] not in sweeper.get_done()


def test_combination_set_keeps_order_through_copies_and_pickles():
    a, b, c = HashableDict(n=1), HashableDict(n=2), HashableDict(n=3)
    s = CombinationSet([c, a, b])
    assert list(pickle.loads(pickle.dumps(s))) == [c, a, b]
    assert list(s.copy()) == [c, a, b]
    assert list(s | {HashableDict(n=4)}) == [c, a, b, HashableDict(n=4)]
    s.discard(a)
    s.add(HashableDict(n=0))
    assert list(s) == [c, b, HashableDict(n=0)]
    assert repr(CombinationSet([b, a])) == "{{'n': 2}, {'n': 1}}"


def test_combinations_holding_lists_and_dicts_are_set_members():
    space = sweep({"shape": [[1, 2], [2, 1]], "opt": [{"lr": 0.1}, {"lr": 0.2}]})
    assert len(set(space)) == 4
    assert HashableDict(shape=[1, 2], opt={"lr": 0.1}) in set(space)


# --- execo_engine's documented use and idioms, run unchanged but for the import -----------

_ENGINE_SCRIPT = """
    import os
    from {source} import Engine, ParamSweeper, sweep, slugify, logger

    class Sizes(Engine):
        def run(self):
            sweeps = sweep({"algo": ["a", "b"], "size": {1: {"depth": [0, 1]}, 2: {}}})
            sweeper = ParamSweeper(os.path.join(self.result_dir, "sweeps"), sweeps)
            logger.info("%d combinations", len(sweeps))
            out = os.path.join(self.result_dir, "out")
            os.makedirs(out, exist_ok=True)
            while True:
                comb = sweeper.get_next()
                if not comb:
                    break
                if comb["algo"] == "b" and comb["size"] == 2:
                    sweeper.skip(comb)
                    continue
                with open(os.path.join(out, slugify(comb)), "w") as f:
                    f.write(repr(sorted(comb.items())))
                sweeper.done(comb)
            every = sweeper.get_remaining() | sweeper.get_done() | sweeper.get_skipped()
            print("all", every == set(sweeps), len(every))
            print("done", len(sweeper.get_done()), "skipped", len(sweeper.get_skipped()),
                  "inprogress", len(sweeper.get_inprogress()))
            print("member", sweeps[0] in sweeper.get_done(), sweeps[-1] in sweeper.get_done())
            print("files", len(os.listdir(out)))
            logger.detail("done")

    if __name__ == "__main__":
        Sizes().start()
"""


@pytest.mark.timeout(120)
@pytest.mark.parametrize("source", _SOURCES)
def test_execo_engine_script_with_slugify_logger_and_set_idioms(tmp_path, source):
    out = _run(_ENGINE_SCRIPT, source, str(tmp_path), "-c", str(tmp_path / "exp"))
    assert out == [
        "all True 6",
        "done 5 skipped 1 inprogress 0",
        "member True False",
        "files 5",
    ]


_POOL_SCRIPT = """
    import multiprocessing
    import sys
    from {source} import ParamSweeper, sweep

    sweeper = None

    def work(comb):
        # a child calls the parent's (fork-copied) sweeper, as execo_engine allows
        if comb["n"] % 3 == 0:
            sweeper.skip(comb)
        else:
            sweeper.done(comb)
        return comb["n"]

    def main(path, claim_first):
        global sweeper
        sweeps = sweep({"n": list(range(12))})
        sweeper = ParamSweeper(path, sweeps)
        context = multiprocessing.get_context("fork")
        if claim_first:  # the children are forked after the claims
            combs = sweeper.get_next_batch(12)
            with context.Pool(3) as pool:
                print("worked", sorted(pool.map(work, combs)) == list(range(12)))
        else:  # the children are forked before any claim
            with context.Pool(3) as pool:
                combs = sweeper.get_next_batch(12)
                print("worked", sorted(pool.map(work, combs)) == list(range(12)))
        sweeper.full_update()
        print("remaining", sorted(c["n"] for c in sweeper.get_remaining()))
        print("done", sorted(c["n"] for c in sweeper.get_done()))
        print("inprogress", len(sweeper.get_inprogress()))
        again = ParamSweeper(path, sweeps)  # another process, or the next run
        print("next", len(again.get_inprogress()), again.get_next()["n"] in (0, 3, 6, 9))

    if __name__ == "__main__":
        main(sys.argv[1], sys.argv[2] == "claim-first")
"""


@pytest.mark.timeout(120)
@pytest.mark.parametrize("order", ["claim-first", "fork-first"])
@pytest.mark.parametrize("source", _SOURCES)
def test_fork_pool_children_done_and_skip_on_the_parents_sweeper(tmp_path, source, order):
    out = _run(_POOL_SCRIPT, source, str(tmp_path), str(tmp_path / "sweeper"), order)
    assert out == [
        "worked True",
        "remaining [0, 3, 6, 9]",  # a child's skip() gave its claim back
        "done [1, 2, 4, 5, 7, 8, 10, 11]",
        "inprogress 0",
        "next 0 True",
    ]


def test_combination_set_mutations_keep_the_order_of_what_stays():
    a, b, c, d = (HashableDict(n=i) for i in range(4))
    s = CombinationSet([a, b, c])
    s -= {b}
    s |= {d}
    s.update([HashableDict(n=9)])
    assert list(s)[:2] == [a, c]  # what stayed keeps its order; additions come after
    assert set(list(s)[2:]) == {d, HashableDict(n=9)} and len(list(s)) == 4
    s.clear()
    assert list(s) == [] and s == set()


def test_combination_set_named_operations_return_ordered_sets():
    a, b, c = (HashableDict(n=i) for i in range(3))
    s = CombinationSet([c, b, a])
    assert list(s.union([a], {HashableDict(n=5)})) == [c, b, a, HashableDict(n=5)]
    assert list(s.intersection({a, c})) == [c, a]
    assert list(s.difference([b])) == [c, a]
    assert list(s.symmetric_difference([a, HashableDict(n=7)])) == [c, b, HashableDict(n=7)]
    assert isinstance(s.union(), CombinationSet) and s.union() is not s


_items = st.lists(st.integers(0, 12).map(lambda i: HashableDict(n=i)), max_size=10)


@given(_items, _items)
def test_combination_set_operators_are_set_operators_in_order(left, right):
    a, b = CombinationSet(left), CombinationSet(right)
    for result, expected in (
        (a | b, set(left) | set(right)),
        (a & b, set(left) & set(right)),
        (a - b, set(left) - set(right)),
        (a ^ b, set(left) ^ set(right)),
        (set(left) - b, set(left) - set(right)),
    ):
        assert isinstance(result, CombinationSet) and result == expected
        assert len(list(result)) == len(expected)
    first_seen = list(dict.fromkeys(left + right))
    assert list(a | b) == first_seen
    assert list(a - b) == [c for c in dict.fromkeys(left) if c not in set(right)]
