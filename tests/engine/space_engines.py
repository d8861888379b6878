"""Engines for the --sweep / --sweep-file / --only tests, importable by worker processes."""

from __future__ import annotations

import os
import sys
import time

from sweepstack import Engine, loguniform, sample, stage, sweep


@stage(outputs=["seen"])
def look(record):
    record.fields["pid"] = os.getpid()
    if os.environ.get("SLOW_N") == str(record.params.get("n")):  # a slow part, for --only
        time.sleep(float(os.environ["SLOW_SECONDS"]))
    return dict(record.params)


class _Options(Engine):
    def init(self):
        self.args_parser.add_argument("--samples", type=int, default=6)


class Grid(_Options):
    """A grid with a sub-sweep, given as sweep({...})."""

    def run(self):
        space = {"n": [1, 2], "model": {"svm": {"C": [1, 10]}, "tree": {}}}
        for record in self.records(self.sweeper(sweep(space))):
            look(record)


class Sampled(_Options):
    """A random design of --samples points."""

    def run(self):
        space = {"lr": loguniform(1e-3, 1e-1), "k": [1, 2, 3]}
        for record in self.records(self.sweeper(sample(space, self.args.samples, seed=4))):
            look(record)


class SpaceDict(_Options):
    """The space dict itself given to self.sweeper."""

    def run(self):
        for record in self.records(self.sweeper({"n": [1, 2, 3]})):
            look(record)


class PlainList(_Options):
    """A hand-made list of combinations: no space for --sweep to change."""

    def run(self):
        for record in self.records(self.sweeper([{"n": 1}, {"n": 2}])):
            look(record)


if __name__ == "__main__":
    globals()[sys.argv[1]]().start(sys.argv[2:])
