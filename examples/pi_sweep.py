"""Estimate pi over a sweep of sample sizes, seeds and estimators.

    python examples/pi_sweep.py                     # a new result directory PiSweep_<date>_<time>/
    python examples/pi_sweep.py -c DIR              # continue: only what is not done runs
    python examples/pi_sweep.py -c DIR --workers 4  # four local worker processes
    sweepstack results DIR                          # the table; sweepstack report DIR for HTML

`draw` is cached under a key made of `n` and `seed` only, so both estimators share
its points; once `estimate` is cached for a combination, `draw` is neither run nor
loaded.
"""

import random

from sweepstack import Engine, igeom, stage, sweep


@stage(outputs=["points"], params=["n", "seed"])
def draw(record):
    rng = random.Random(record.params["seed"])
    return [(rng.random(), rng.random()) for _ in range(record.params["n"])]


@stage(inputs=["points"], outputs=["pi"], params=["estimator", "strata"])
def estimate(record, points):
    p = record.params
    s = p["strata"] if p["estimator"] == "stratified" else 1   # s x s cells, one point each in turn
    cells = [((i % s + x) / s, ((i // s) % s + y) / s) for i, (x, y) in enumerate(points)]
    inside = sum(x * x + y * y <= 1 for x, y in cells)
    pi = 4 * inside / len(points)
    record.fields["error"] = abs(pi - 3.141592653589793)   # persisted, shows in results
    return pi


class PiSweep(Engine):
    def init(self):
        self.args_parser.add_argument("--max-n", type=int, default=100_000)

    def run(self):
        sweeper = self.sweeper(sweep({
            "n": igeom(100, self.args.max_n, 5),
            "seed": [0, 1, 2],
            "estimator": {"plain": {}, "stratified": {"strata": [4, 16]}},
        }))
        for record in self.records(sweeper):   # claims, retries, marks done, shows progress
            estimate(draw(record))


if __name__ == "__main__":
    PiSweep().start()
