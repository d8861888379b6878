"""Engines for the stage lease benchmark, run as scripts with ``--workers N``.

``dag``: the dag benchmark's load -> train -> evaluate over K combinations (5 datasets,
10 models, K thresholds). ``three``: a (2 levels) -> b (3) -> c (4), the two upstream
stages sleeping ``--work`` seconds and ``c`` sleeping ``--work-c``. ``--sweep-order``
makes the workers claim in the sweep's order instead of spreading them.
"""

from __future__ import annotations

import sys
import time

from sweepstack import Engine, stage, sweep


def _spin(seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


@stage(outputs=["data"], params=["dataset"])
def load(record):
    _spin(1e-4)
    return list(range(100 + record.params["dataset"]))


@stage(inputs=["data"], outputs=["model"], params=["dataset", "model"])
def train(record, data):
    _spin(1e-4)
    return {"weight": sum(data) * (record.params["model"] + 1)}


@stage(inputs=["model"], outputs=["score"], params=["threshold"])
def evaluate(record, model):
    _spin(1e-4)
    record.fields["score"] = model["weight"] * record.params["threshold"]
    return record.fields["score"]


@stage(outputs=["sa"], params=["a", "work"])
def stage_a(record):
    time.sleep(record.config["work"])
    return record.params["a"]


@stage(inputs=["sa"], outputs=["sb"], params=["b", "work"])
def stage_b(record, sa):
    time.sleep(record.config["work"])
    return sa * 10 + record.params["b"]


@stage(inputs=["sb"], outputs=["sc"], params=["c", "work_c"])
def stage_c(record, sb):
    time.sleep(record.config["work_c"])
    return sb * 10 + record.params["c"]


class _Bench(Engine):
    def init(self):
        self.args_parser.add_argument("--k", type=int, default=200)
        self.args_parser.add_argument("--work", type=float, default=1.0)
        self.args_parser.add_argument("--work-c", type=float, default=0.0)
        self.args_parser.add_argument("--sweep-order", action="store_true")

    def _sweeper(self, space):
        options = {"order": None} if self.args.sweep_order else {}
        return self.sweeper(sweep(space), **options)


class DagSweep(_Bench):
    def run(self):
        k = self.args.k
        space = [{"dataset": i % 5, "model": i % 10, "threshold": i / k} for i in range(k)]
        sweeper = self.sweeper(space, **({"order": None} if self.args.sweep_order else {}))
        for record in self.records(sweeper):
            evaluate(train(load(record)))


class ThreeStages(_Bench):
    def run(self):
        sweeper = self._sweeper({"a": [0, 1], "b": [0, 1, 2], "c": [0, 1, 2, 3]})
        for record in self.records(sweeper):
            stage_c(stage_b(stage_a(record)))


if __name__ == "__main__":
    {"dag": DagSweep, "three": ThreeStages}[sys.argv[1]]().start(sys.argv[2:])
