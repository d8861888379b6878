"""Run every benchmark scenario and write BENCHMARKS.md.

python -m benchmarks.run            # all scenarios, several repeats each
python -m benchmarks.run --quick    # one short pass (under two minutes)
python -m benchmarks.run --only sweep --no-write
python -m benchmarks.run --only dag # rewrites the dag sections, keeps the others
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import os
import sys
import time

from benchmarks._common import Result, machine

SCENARIOS = [
    "bench_import",
    "bench_sweep",
    "bench_sweeper",
    "bench_dag",
    "bench_leases",
    "bench_store",
    "bench_scale",
    "bench_books",
]

HERE = os.path.dirname(os.path.abspath(__file__))


def _fmt(value: float, unit: str) -> str:
    if unit == "s":
        if value < 1e-3:
            return f"{value * 1e6:.1f} µs"
        if value < 1:
            return f"{value * 1e3:.1f} ms"
        return f"{value:.2f} s"
    return f"{value:,.0f} {unit}" if value >= 100 else f"{value:.3g} {unit}"


def render(results: list[Result], quick: bool, elapsed: float) -> str:
    lines = [
        "# Benchmarks",
        "",
        "Measured by `python -m benchmarks.run" + (" --quick" if quick else "") + "`, every figure "
        "the median of several repeats, sweepstack and the other tool in the same run on the "
        "same machine. Ratio > 1 means sweepstack is better (faster, or more throughput).",
        "",
        f"- Machine: {machine()}",
        f"- Date: {datetime.date.today().isoformat()}; whole run {elapsed:.0f} s",
        "",
    ]
    scenario = None
    for r in results:
        if r.scenario != scenario:
            scenario = r.scenario
            lines += [
                "",
                f"## {scenario}",
                "",
                "| case | sweepstack | other | ratio | goal | notes |",
                "|---|---|---|---|---|---|",
            ]
        theirs = f"{_fmt(r.theirs, r.unit)} ({r.competitor})" if r.theirs is not None else "—"
        ratio = f"**{r.ratio:.1f}x**" if r.ratio is not None else "—"
        lines.append(
            f"| {r.case} | {_fmt(r.ours, r.unit)} | {theirs} | {ratio} | {r.goal} | {r.notes} |"
        )
    return "\n".join(lines) + "\n"


def _sections(text: str) -> tuple[str, dict[str, str]]:
    """Split a BENCHMARKS.md into its header and its ``## title`` sections, in order."""
    head, *parts = text.split("\n## ")
    sections = {}
    for part in parts:
        title = part.partition("\n")[0].strip()
        sections[title] = "## " + part.rstrip("\n") + "\n"
    return head, sections


def merge(old: str, new: str, only: list[str]) -> str:
    """``new`` (from a run of some scenarios) laid over ``old``: its sections replace
    those of the same title, the sections it did not measure are kept, and the header
    says which ones were measured when."""
    _, kept = _sections(old)
    head, fresh = _sections(new)
    head = head.rstrip("\n") + (
        f"\n- Sections rewritten by `--only {' '.join(only)}` on "
        f"{datetime.date.today().isoformat()}: {', '.join(fresh)}; the others come from "
        "an earlier run\n"
    )
    merged = {title: fresh.get(title, body) for title, body in kept.items()}
    merged.update(fresh)
    return head + "\n\n" + "\n".join(merged.values())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="one short pass")
    parser.add_argument("--only", nargs="*", help="scenario names to run (e.g. sweep sweeper)")
    parser.add_argument("--no-write", action="store_true", help="print, do not write BENCHMARKS.md")
    parser.add_argument("--output", default=os.path.join(os.path.dirname(HERE), "BENCHMARKS.md"))
    args = parser.parse_args(argv)
    start = time.time()
    results: list[Result] = []
    for name in SCENARIOS:
        if args.only and not any(o in name for o in args.only):
            continue
        print(f"== {name}", flush=True)
        began = time.time()
        module = importlib.import_module(f"benchmarks.{name}")
        for result in module.run(args.quick):
            ratio = f"{result.ratio:.2f}x" if result.ratio is not None else "-"
            print(
                f"  {result.case}: ours {_fmt(result.ours, result.unit)}  ratio {ratio}", flush=True
            )
            results.append(result)
        print(f"   ({name}: {time.time() - began:.0f} s)", flush=True)
    text = render(results, args.quick, time.time() - start)
    if args.no_write:
        sys.stdout.write(text)
    else:
        if args.only and os.path.exists(args.output):
            # a partial run must not wipe the figures of the scenarios it did not run
            with open(args.output) as f:
                text = merge(f.read(), text, args.only)
        with open(args.output, "w") as f:
            f.write(text)
        print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
