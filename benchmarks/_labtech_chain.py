"""labtech task types for bench_books (labtech needs them at the top level of a module)."""

from __future__ import annotations

import labtech


@labtech.task
class Load:
    i: int

    def run(self) -> list[int]:
        return list(range(self.i % 7 + 3))


@labtech.task
class Total:
    load: Load

    def run(self) -> int:
        return sum(self.load.result)
