"""Worker programs run as real processes by the sweeper tests (python -m tests.sweep._workers ...)."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
import warnings


def drain(args: argparse.Namespace) -> None:
    """Claim and finish combinations until none is left, printing what was acknowledged."""
    from sweepstack.sweep import ParamSweeper

    warnings.simplefilter("ignore")
    sweeper = ParamSweeper(args.dir, lease=args.lease)
    print("ready", flush=True)
    out = sys.stdout
    if args.records:
        drain_with_records(args, sweeper)
        return
    while True:
        combination = sweeper.get_next()
        if combination is None:
            break
        key = sweeper.key_of(combination)
        print(f"CLAIM {key}", file=out, flush=True)
        if args.work:
            time.sleep(args.work)
        ok = sweeper.done(combination)
        print(f"ACK {key} {int(ok)}", file=out, flush=True)
    print("finished", flush=True)


def drain_with_records(args: argparse.Namespace, sweeper: object) -> None:
    """As the engine does: each done carries its record and claims the next combination."""
    from sweepstack.store._records import RecordStore

    store = RecordStore(args.records)
    sweeper.attach_records(store)  # type: ignore[attr-defined]
    combination = sweeper.get_next()  # type: ignore[attr-defined]
    while combination is not None:
        key = sweeper.key_of(combination)  # type: ignore[attr-defined]
        print(f"CLAIM {key}", flush=True)
        if args.work:
            time.sleep(args.work)
        text = store.prepare("main", key, {"params": dict(combination), "status": "done"})
        claimed = sweeper.done_and_next(combination, 1, record=text)  # type: ignore[attr-defined]
        print(f"ACK {key} 1", flush=True)
        combination = claimed[0] if claimed else sweeper.get_next()  # type: ignore[attr-defined]
    print("finished", flush=True)


def hold(args: argparse.Namespace) -> None:
    """Claim one combination, say which, then wait to be killed or told to finish."""
    from sweepstack.sweep import ParamSweeper

    warnings.simplefilter("ignore")
    sweeper = ParamSweeper(args.dir, lease=args.lease)
    combination = sweeper.get_next()
    print(f"CLAIM {sweeper.key_of(combination)}", flush=True)
    line = sys.stdin.readline()  # "done" or EOF
    if line.strip() == "done":
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            ok = sweeper.done(combination)
        print(f"DONE {int(ok)} {len(caught)}", flush=True)
    elif line.strip() == "exit":
        os._exit(0)  # die without any cleanup, holding the claim


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["drain", "hold"])
    parser.add_argument("dir")
    parser.add_argument("--lease", type=float, default=600.0)
    parser.add_argument("--work", type=float, default=0.0)
    parser.add_argument(
        "--records", default=None, help="a records folder: done_and_next with records"
    )
    args = parser.parse_args()
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    {"drain": drain, "hold": hold}[args.mode](args)


if __name__ == "__main__":
    main()
