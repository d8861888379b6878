"""examples/pi_sweep.py for the NFS scenarios: the same stages, and a start line.

    python -m tests.nfs._engine -c DIR --max-n 4000 --work 0.05

Once its sweeper is open the engine prints ``ready`` and waits for a line on stdin, so
that engines started on two hosts (whose Python starts take seconds under
emulation) begin claiming together and both write records and artifacts.
"""

from __future__ import annotations

import random
import sys
import time

from sweepstack import Engine, igeom, stage, sweep


@stage(outputs=["points"], params=["n", "seed"])
def draw(record):
    rng = random.Random(record.params["seed"])
    return [(rng.random(), rng.random()) for _ in range(record.params["n"])]


@stage(inputs=["points"], outputs=["pi"], params=["estimator", "work"])
def estimate(record, points):
    inside = sum(x * x + y * y <= 1 for x, y in points)
    pi = 4 * inside / len(points)
    record.fields["error"] = abs(pi - 3.141592653589793)
    time.sleep(record.config["work"])
    return pi


class NfsPiSweep(Engine):
    def init(self):
        self.args_parser.add_argument("--max-n", type=int, default=4000)
        self.args_parser.add_argument("--work", type=float, default=0.05)

    def run(self):
        assert self.args is not None
        sweeper = self.sweeper(
            sweep(
                {
                    "n": igeom(100, self.args.max_n, 5),
                    "seed": [0, 1, 2],
                    "estimator": {"plain": {}, "antithetic": {"pairs": [True, False]}},
                }
            )
        )
        print("ready", flush=True)
        sys.stdin.readline()
        for record in self.records(sweeper):
            estimate(draw(record))


if __name__ == "__main__":
    NfsPiSweep().start()
