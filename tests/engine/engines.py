"""Engines used by the engine tests, importable so that worker processes can load them."""

from __future__ import annotations

import os
import signal
import sys
import time
import uuid

from sweepstack import Engine, stage, sweep


@stage(outputs=["value"], params=["i", "marks", "work", "fail_on", "slow_on"])
def compute(record):
    i = record.params["i"]
    options = record.config  # the engine's options, declared in params= like factors
    marks = options["marks"]
    if marks:  # one file per execution: the tests count them
        os.makedirs(marks, exist_ok=True)
        with open(os.path.join(marks, f"{i}-{os.getpid()}-{uuid.uuid4().hex[:6]}"), "w") as f:
            f.write(str(os.getpid()))
    if options["slow_on"] is not None and i == options["slow_on"]:
        print(f"SLOW {i}", flush=True)
        time.sleep(60)
    time.sleep(options["work"])
    if i == options["fail_on"]:
        raise ValueError(f"combination {i} is cursed")
    return i * i


@stage(inputs=["value"], outputs=["half"], params=[])
def halve(record, value):
    record.fields["half"] = value / 2
    return value / 2


class Options(Engine):
    """The options of the test engines (run() of every class of a hierarchy is called)."""

    def init(self):
        self.args_parser.add_argument("--n", type=int, default=10)
        self.args_parser.add_argument("--marks", default="")
        self.args_parser.add_argument("--work", type=float, default=0.0)
        self.args_parser.add_argument("--fail-on", type=int, default=None)
        self.args_parser.add_argument("--slow-on", type=int, default=None)
        self.args_parser.add_argument("--say", default=None)
        self.args_parser.add_argument(
            "--ignore-interrupts", action="store_true", help="a worker deaf to Ctrl-C"
        )


class Counting(Options):
    """Sweeps i in range(--n), computing i*i; --fail-on I fails one combination."""

    def run(self):
        if self.args.ignore_interrupts:
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        if self.args.say:
            print(f"OUT {self.args.say}", flush=True)
            print(f"ERR {self.args.say}", file=sys.stderr, flush=True)
        sweeper = self.sweeper(sweep({"i": list(range(self.args.n))}))
        for record in self.records(sweeper):
            halve(compute(record))


class OtherEngine(Options):
    """Another experiment script's engine: the same sweep, another class."""

    def run(self):
        sweeper = self.sweeper(sweep({"i": list(range(self.args.n))}))
        for record in self.records(sweeper):
            compute(record)


class ExecoStyle(Engine):
    """Options added in __init__, execo_engine's way, and in init()."""

    def __init__(self):
        super().__init__()
        self.args_parser.add_argument("--from-init-method", type=int, default=7)
        self.seen_in_init = None

    def init(self):
        self.seen_in_init = self.args.from_init_method
        self.args_parser.add_argument("--from-init-hook", default="x", help="added in init()")

    def run(self):
        pass


class BodyFails(Options):
    """The loop body itself raises on combination 2 (outside any stage)."""

    def run(self):
        sweeper = self.sweeper(sweep({"i": list(range(5))}))
        for record in self.records(sweeper):
            if record.params["i"] == 2:
                raise RuntimeError("the body broke")
            compute(record)


def _mark(record, name):
    """One line per execution of a stage in ``<marks>/<name>``: the tests count them."""
    marks = record.config["marks"]
    if marks:
        with open(os.path.join(marks, name), "a") as f:
            f.write(f"{os.getpid()}\n")


@stage(outputs=["sa"], params=["a", "marks", "work"])
def stage_a(record):
    _mark(record, "a")
    time.sleep(record.config["work"])
    return record.params["a"]


@stage(inputs=["sa"], outputs=["sb"], params=["b", "marks", "work"])
def stage_b(record, sa):
    _mark(record, "b")
    time.sleep(record.config["work"])
    return sa * 10 + record.params["b"]


@stage(inputs=["sb"], outputs=["sc"], params=["c", "marks", "work_c"])
def stage_c(record, sb):
    _mark(record, "c")
    time.sleep(record.config["work_c"])
    record.fields["value"] = sb * 10 + record.params["c"]
    return record.fields["value"]


class ThreeStages(Options):
    """a (2 levels) -> b (3) -> c (4): shared upstream stages (issue 13)."""

    def init(self):
        self.args_parser.add_argument("--work-c", type=float, default=0.0)

    def run(self):
        sweeper = self.sweeper(sweep({"a": [0, 1], "b": [0, 1, 2], "c": [0, 1, 2, 3]}))
        for record in self.records(sweeper):
            stage_c(stage_b(stage_a(record)))


class Base(Engine):
    order: list[str] = []

    def init(self):
        type(self).order.append("init Base")

    def run(self):
        type(self).order.append("run Base")


class Middle(Base):
    def init(self):
        type(self).order.append("init Middle")

    def run(self):
        type(self).order.append("run Middle")


class Leaf(Middle):
    def init(self):
        self.args_parser.add_argument("--flag", action="store_true")
        type(self).order.append("init Leaf")

    def run(self):
        type(self).order.append(f"run Leaf flag={self.args.flag}")


@stage(outputs=["devices"], params=["i"])
def devices(record):
    record.fields["cuda"] = os.environ.get("CUDA_VISIBLE_DEVICES")
    record.fields["pid"] = os.getpid()
    time.sleep(0.05)
    return record.fields["cuda"]


class Devices(Options):
    """Records in each combination the CUDA_VISIBLE_DEVICES its worker was given."""

    def run(self):
        sweeper = self.sweeper(sweep({"i": list(range(self.args.n))}))
        for record in self.records(sweeper):
            devices(record)


if __name__ == "__main__":
    engines = {
        "Counting": Counting,
        "BodyFails": BodyFails,
        "Devices": Devices,
        "ThreeStages": ThreeStages,
    }
    engines[sys.argv[1]]().start(sys.argv[2:])
