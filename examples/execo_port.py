"""An execo_engine script ported to sweepstack by changing its imports.

The original script, written for execo_engine, started with:

    from execo_engine import Engine, ParamSweeper, sweep, slugify, logger

and nothing else below changes. This one runs the same get_next / done / skip loop;
what it gains: combinations claimed by a process that crashed come back by
themselves, failures can be persisted (``sweeper.fail``), several processes or
hosts share the sweep safely, and ``sweepstack status DIR`` shows where it is.

    python examples/execo_port.py                 # a new result directory
    python examples/execo_port.py -c DIR          # continue it
    sweepstack status DIR
"""

import os
import time

from sweepstack import Engine, ParamSweeper, logger, slugify, sweep


class Benchmark(Engine):
    def __init__(self):
        super().__init__()
        self.args_parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])

    def run(self):
        sweeps = sweep({
            "size": self.args.sizes,
            "algorithm": ["sorted", "heapq"],
            "repeat": [0, 1, 2],
        })
        sweeper = ParamSweeper(os.path.join(self.result_dir, "sweeps"), sweeps, save_sweeps=True)
        logger.info("%s", sweeper)
        while True:
            combination = sweeper.get_next()
            if not combination:
                break
            try:
                seconds = measure(combination["algorithm"], combination["size"], combination["repeat"])
                with open(os.path.join(self.result_dir, slugify(combination) + ".txt"), "w") as f:
                    f.write(f"{seconds}\n")
                sweeper.done(combination)
            except Exception:
                logger.exception("combination %s failed", combination)
                sweeper.skip(combination)
        logger.info("%s", sweeper)


def measure(algorithm, size, seed):
    import heapq
    import random

    data = random.Random(seed).sample(range(size * 10), size)
    start = time.perf_counter()
    if algorithm == "sorted":
        sorted(data)
    else:
        heapq.heapify(data)
        [heapq.heappop(data) for _ in range(len(data))]
    return time.perf_counter() - start


if __name__ == "__main__":
    Benchmark().start()
