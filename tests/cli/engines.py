"""An experiment script for the command's tests (run as a file, in a real process).

``python tests/cli/engines.py -c DIR [--xs N] [--work SECONDS] [--fail-x X] [--hold FILE]``:
a grid of x in 1..N, two seeds and two models (one with a sub-factor); a stage that
sleeps ``--work`` seconds, waits while FILE exists (saying so in FILE.holding), and fails for x == ``--fail-x`` and
seed 0; a stage that sets numeric fields and reports a note and a small JSON table.
"""

from __future__ import annotations

import os
import time

from sweepstack import Engine, stage, sweep


@stage(outputs=["square"], params=["x", "seed", "work", "fail_x", "hold"])
def compute(record):
    x, seed = record.params["x"], record.params["seed"]
    time.sleep(record.config["work"])
    hold = record.config["hold"]
    if hold and os.path.exists(hold):
        # the test holds this combination in progress; say so (FILE.holding): the records
        # of the combinations before it are in place by now
        with open(hold + ".holding", "w"):
            pass
        while os.path.exists(hold):
            time.sleep(0.02)
    if x == record.config["fail_x"] and seed == 0:
        raise ValueError(f"x={x} is cursed")
    return x * x + seed


@stage(inputs=["square"], outputs=["score"], params=["model", "depth"])
def score(record, square):
    depth = record.params.get("depth") or 0
    value = square / (1 + depth) + (0.5 if record.params["model"] == "b" else 0.0)
    record.fields["score"] = value
    record.fields["loss"] = 1.0 / (1 + value)
    record.report(f"score {value:.3f}", name="note")
    record.report({"square": square, "score": value}, name="numbers")
    return value


class Grid(Engine):
    def init(self):
        self.args_parser.add_argument("--xs", type=int, default=4)
        self.args_parser.add_argument("--work", type=float, default=0.0)
        self.args_parser.add_argument("--fail-x", type=int, default=None)
        self.args_parser.add_argument("--hold", default="")

    def run(self):
        sweeper = self.sweeper(
            sweep(
                {
                    "x": list(range(1, self.args.xs + 1)),
                    "seed": [0, 1],
                    "model": {"a": {}, "b": {"depth": [1, 2]}},
                }
            )
        )
        for record in self.records(sweeper):
            score(compute(record))


if __name__ == "__main__":
    Grid().start()
