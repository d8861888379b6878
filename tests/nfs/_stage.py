"""A process that needs one expensive stage, for the NFS stage lease scenario.

    python -m tests.nfs._stage CACHE MARKS LEASE

Prints ``ready``, waits for a line on stdin (so that processes on two hosts start
together), then computes ``use(expensive(...))`` and prints ``RESULT {json}``: the
value, how often it waited for another process's lease, and how long it took. Each
execution of ``expensive`` leaves a file ``MARKS/<host>-<pid>`` (one file per
execution: appends from two NFS clients to one file are not atomic).
"""

from __future__ import annotations

import json
import logging
import os
import socket
import sys
import time

from sweepstack.dag import Record, stage
from sweepstack.store._cache import ArtifactCache

MARKS = ""  # where this host sees the marks folder: not a param, the hosts' paths differ


@stage(outputs=["table"], params=["rows"])
def expensive(record):
    p = record.params
    with open(os.path.join(MARKS, f"{socket.gethostname()}-{os.getpid()}"), "w") as f:
        f.write("ran\n")
    time.sleep(4.0)  # long enough for the other host to arrive and wait
    return [i * i for i in range(p["rows"])]


@stage(inputs=["table"], outputs=["total"], params=[])
def use(record, table):
    return sum(table)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    global MARKS
    root, MARKS, lease = sys.argv[1], sys.argv[2], float(sys.argv[3])
    cache = ArtifactCache(root, lease=lease)
    print("ready", flush=True)
    sys.stdin.readline()
    start = time.monotonic()
    record = use(expensive(Record({"rows": 1000}, cache=cache, id_run="nfs")))
    total = record.state["total"]
    result = {
        "host": socket.gethostname(),
        "total": total,
        "waits": cache.leases.waits,
        "seconds": round(time.monotonic() - start, 2),
        "expensive": record.stages[0]["status"],
        "reason": record.stages[0]["reason"],
    }
    print("RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
