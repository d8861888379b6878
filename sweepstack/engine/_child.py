"""Run one engine class with given options: how launchers start worker processes.

    python -m sweepstack.engine._child (--module NAME | --file PATH) CLASS [engine options...]

The class is found by importing its module by name, or, for a script run as
``__main__``, by running the script's file without its ``if __name__ == "__main__"``
block. The command is made by :func:`sweepstack.engine._options.child_command`; this
module is imported by nothing else, so that ``-m`` runs it fresh.
"""

from __future__ import annotations

import importlib
import os
import runpy
import sys
from typing import Any

__all__ = ["main"]


def _find(kind: str, target: str, qualname: str) -> Any:
    if kind == "--module":
        namespace = vars(importlib.import_module(target))
    else:
        # as `python script.py` would: the script's folder first on the path
        sys.path.insert(0, os.path.dirname(os.path.abspath(target)))
        namespace = runpy.run_path(target, run_name="__sweepstack_child__")
    obj: Any = None
    for part in qualname.split("."):
        obj = namespace[part] if obj is None else getattr(obj, part)
    return obj


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    kind, target, qualname, *engine_argv = argv
    sys.argv = [target, *engine_argv]
    engine_class = _find(kind, target, qualname)
    engine_class().start(engine_argv)


if __name__ == "__main__":
    main()
