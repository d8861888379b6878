"""What a node of a record's graph is: a stage call (:class:`~sweepstack.dag._call.Call`)
or the stored outputs of a record rebuilt from its document
(:class:`~sweepstack.dag._stored.StoredOutputs`). Both answer this protocol, which the
record, the graph and the displays use instead of guessing attributes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from sweepstack.dag._lazy import Lazy
    from sweepstack.dag._record import Record

__all__ = ["Producer"]


class Producer(Protocol):
    """A node of a record's graph: one stage's outputs, computed, cached or stored."""

    record: Record
    stage: Any  # the Stage (name, outputs, is_aggregate, version)
    status: str | None  # run, hit, skipped, failed, or None while undecided
    reason: str
    done: bool
    consumed: bool  # a later call of the same record takes one of its outputs
    duration: float | None
    lazies: dict[str, Lazy]
    reportables: list[dict[str, Any]]
    lineage: Any

    def producers(self) -> Iterator[Producer]:
        """The nodes whose outputs this one takes."""
        ...

    def inputs(self) -> Iterator[Producer]:
        """The nodes whose outputs are this one's declared inputs."""
        ...

    def key_of(self, output: str) -> str:
        """The artifact key of one output."""
        ...

    def keys(self) -> dict[str, str]:
        """The artifact keys of every output."""
        ...

    def overwrite_reason(self) -> str | None: ...

    def decide(self) -> tuple[str, str, dict[str, dict[str, Any]], bool]: ...

    def plan(self) -> None: ...

    def materialize(self) -> None:
        """Run or load what is needed so that every output can be read."""
        ...

    def display_status(self) -> str: ...

    def passed_over(self, seen: frozenset[int] = ...) -> bool:
        """True if a consumer of this node's outputs was decided or itself passed over."""
        ...

    def entry(self) -> dict[str, Any]:
        """What ``record.stages`` shows of this node."""
        ...

    def input_value(self, output: str) -> Any:
        """The value of ``output``, for a consumer or a state read."""
        ...
