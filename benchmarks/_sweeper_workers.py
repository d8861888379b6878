"""Worker processes for the sweeper benchmarks: one loop, for sweepstack or execo_engine.

    python -m benchmarks._sweeper_workers {ours|execo} DIR --work SECONDS
prints "CLAIM <key>" and "ACK <key>" lines (keys from sweepstack's param_key for both).
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings

from sweepstack.sweep import param_key


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("tool", choices=["ours", "execo"])
    parser.add_argument("dir")
    parser.add_argument("--work", type=float, default=0.0)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    if args.tool == "ours":
        from sweepstack.sweep import ParamSweeper

        sweeper = ParamSweeper(args.dir)
    else:
        import execo_engine

        sweeper = execo_engine.ParamSweeper(args.dir)
    out = sys.stdout
    print("ready", flush=True)
    while True:
        combination = sweeper.get_next()
        if combination is None:
            break
        key = param_key(combination)
        out.write(f"CLAIM {key}\n")
        out.flush()
        if args.work:
            time.sleep(args.work)
        sweeper.done(combination)
        out.write(f"ACK {key}\n")
        out.flush()


if __name__ == "__main__":
    main()
