"""The experiment graph over many records: leaves, execution trees, execution list, map.

Each stage call on a record is an :class:`ExecutionNode`; its dependencies are the
nodes that make its inputs. A *leaf* is a call whose outputs no other call takes
(the last stages of a pipeline, and stages without outputs); each leaf is the root
of an *execution tree*. Mapping plans every tree exactly as resolving would (see
:mod:`sweepstack.dag._call`), without running anything: a node is ``run`` (with the
reason: "no artifact with key ...", "overwrite ..."), ``hit`` (cached, with the run
that made it), or ``skipped`` (not needed: everything downstream of it is cached).
The *execution list* holds the nodes that run, dependencies first.

``--dry`` prints this map with :meth:`DAG.print_map`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sweepstack.dag._record import Record

__all__ = ["DAG", "ExecutionNode"]

_WORDS = {
    "run": "run",
    "pending": "run",
    "hit": "cached",
    "skipped": "skipped",
    "failed": "failed",
    "stored": "stored",
}
_STYLES = {
    "run": "bold yellow",
    "cached": "green",
    "skipped": "dim",
    "failed": "bold red",
    "stored": "blue",
}


class ExecutionNode:
    """One stage of one record in the experiment graph.

    Attributes:
        record: the record the stage runs in.
        stage_name: the stage's name.
        record_index: the record's index in :attr:`DAG.records` (-1 outside a DAG).
        parent: a node that takes this node's outputs (None for a tree's root).
        dependencies: the nodes making this node's inputs (its subtree).
    """

    def __init__(
        self,
        record: Record,
        call: Any,
        record_index: int | None = None,
        decisions: dict[int, tuple[str, str]] | None = None,
    ) -> None:
        if isinstance(call, str):  # curifactory's ExecutionNode(record, stage_name)
            call = _call_of(record, call)
        self.record = record
        self.call = call
        self.stage_name: str = call.stage.name
        # -1 for a node made outside a DAG (curifactory's ExecutionNode(record, stage_name))
        self.record_index: int = -1 if record_index is None else record_index
        self.parent: ExecutionNode | None = None
        self.dependencies: list[ExecutionNode] = []
        self._decisions = decisions if decisions is not None else {}

    @property
    def status(self) -> str:
        """``run``, ``cached``, ``skipped``, ``failed`` or ``stored``, as mapped."""
        raw = self._decisions.get(id(self.call), ("skipped", ""))[0]
        return _WORDS.get(raw, raw)

    @property
    def reason(self) -> str:
        """Why the stage runs, or which run cached it."""
        decision = self._decisions.get(id(self.call))
        return decision[1] if decision is not None else "nothing downstream needs it"

    @property
    def keys(self) -> dict[str, str]:
        """``{output: artifact key}``."""
        try:
            return dict(self.call.keys())
        except Exception:
            return {}

    def chain_rep(self) -> tuple[int, str]:
        """``(record index, stage name)``: this node in the execution list."""
        return (self.record_index, self.stage_name)

    def label(self) -> str:
        """One line: stage, status, reason, output keys."""
        keys = ", ".join(f"{o} {k[:12]}" for o, k in self.keys.items())
        return f"{self.stage_name}: {self.status} ({self.reason})" + (f" [{keys}]" if keys else "")

    def string_rep(self, level: int = 0) -> str:
        """This node and its subtree, indented, one node per line."""
        lines = ["  " * level + self.label()]
        lines.extend(child.string_rep(level + 1) for child in self.dependencies)
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.string_rep()

    def __repr__(self) -> str:
        return f"<ExecutionNode {self.chain_rep()} {self.status}>"


class DAG:
    """The mapped experiment: every stage call of ``records``, and which of them run.

    Building the map plans the records (reading only cache metadata) and runs nothing.

    >>> from sweepstack.dag import Record, stage
    >>> @stage(outputs=["x"], version="1")
    ... def make(record):
    ...     return 1
    >>> dag = DAG([make(Record({"a": 1}))])
    >>> dag.execution_list
    [(0, 'make')]
    """

    def __init__(self, records: Iterable[Record] = ()) -> None:
        self.records: list[Record] = list(records)
        self.execution_trees: list[ExecutionNode] = []
        self.execution_list: list[tuple[int, str]] = []
        self._decisions: dict[int, tuple[str, str]] = {}
        self.analyze()

    # --- building ---------------------------------------------------------------------

    def _index(self, record: Record) -> int:
        for i, r in enumerate(self.records):
            if r is record:
                return i
        self.records.append(record)  # a member of an aggregate, not given itself
        return len(self.records) - 1

    def _consumed(self) -> set[int]:
        consumed: set[int] = set()
        for record in self.records:
            for call in record.calls:
                if hasattr(call, "sources"):
                    consumed.update(id(p) for p in call.producers())
        return consumed

    def find_leaves(self) -> list[tuple[int, str]]:
        """``(record index, stage name)`` of every leaf: calls whose outputs nothing takes."""
        return [(n.record_index, n.stage_name) for n in self._leaf_calls()]

    def _leaf_calls(self) -> list[ExecutionNode]:
        consumed = self._consumed()
        leaves = []
        for i, record in enumerate(list(self.records)):
            for call in record.calls:
                if id(call) not in consumed and hasattr(call, "sources"):
                    leaves.append(ExecutionNode(record, call, i, self._decisions))
        return leaves

    def is_leaf(self, record: Record, stage_name: str) -> bool:
        """True if no call takes the outputs of ``stage_name`` on ``record``."""
        consumed = self._consumed()
        return any(c.stage.name == stage_name and id(c) not in consumed for c in record.calls)

    def _tree(self, node: ExecutionNode) -> ExecutionNode:
        for producer in _direct(node.call):
            child = ExecutionNode(
                producer.record, producer, self._index(producer.record), self._decisions
            )
            child.parent = node
            node.dependencies.append(self._tree(child))
        return node

    def build_execution_tree_recursive(self, record: Record, stage: str) -> ExecutionNode:
        """The tree rooted at ``record``'s (last) call of ``stage``: its dependencies,
        recursively, whatever the cache holds.

        Raises:
            StageDefinitionError: no stage of that name was called on ``record``.
        """
        node = ExecutionNode(record, _call_of(record, stage), self._index(record), self._decisions)
        return self._tree(node)

    def child_records(self, record: Record) -> list[Record]:
        """The records with a stage that takes an output of ``record`` (aggregates over it)."""
        children = []
        for other in self.records:
            if other is record:
                continue
            if any(p.record is record for call in other.calls for p in call.inputs()):
                children.append(other)
        return children

    def is_output_used_anywhere(
        self, record: Record, stage_search_start_index: int, output: str
    ) -> bool:
        """True if a stage takes ``output`` of ``record``: one of ``record``'s calls from
        index ``stage_search_start_index`` on, or a stage of another record."""
        for index, call in enumerate(record._calls):
            if index >= stage_search_start_index and _takes(call, record, output):
                return True
        return any(
            _takes(call, record, output)
            for other in self.records
            if other is not record
            for call in other._calls
        )

    def get_record_string(self, record_index: int) -> str:
        """The record's title, then each stage called on it, in call order: its status
        (run, cached, skipped...), why, and its output keys."""
        record = self.records[record_index]
        mapped = {id(n.call): n for n in self.nodes() if n.record is record}
        lines = [self._record_title(record)]
        for call in record._calls:
            node = mapped.get(id(call)) or ExecutionNode(
                record, call, record_index, self._decisions
            )
            lines.append("  " + node.label())
        return "\n".join(lines)

    def determine_execution_list_recursive(
        self, node: ExecutionNode, overwrite_check_only: bool = False
    ) -> bool:
        """Whether ``node`` runs, as mapped (``determine_execution_list`` decides for
        every node at once; this reads that decision). With ``overwrite_check_only``:
        whether an overwrite forces it or one of its dependencies to run."""
        if overwrite_check_only:
            return bool(
                getattr(node.call, "sources", None) and node.call.overwrite_reason()
            ) or any(self.determine_execution_list_recursive(d, True) for d in node.dependencies)
        if id(node.call) not in self._decisions:
            self.determine_execution_list()
        return node.status == "run"

    @property
    def artifacts(self) -> list[dict[str, Any]]:
        """One entry per output of every mapped node: ``record`` (index), ``stage``,
        ``name``, ``key``, ``status`` (of the node making it: run, cached, skipped...)."""
        found = []
        for node in self.nodes():
            for name, key in node.keys.items():
                found.append(
                    {
                        "record": node.record_index,
                        "stage": node.stage_name,
                        "name": name,
                        "key": key,
                        "status": node.status,
                    }
                )
        return found

    def build_execution_trees(self) -> None:
        """One tree per leaf, its subtrees the dependencies (nothing is planned here)."""
        self.execution_trees = [self._tree(leaf) for leaf in self._leaf_calls()]

    def determine_execution_list(self) -> None:
        """Decide every node as resolving would, and list those that run, dependencies first.

        The map is a snapshot: it decides from the cache as it is now and changes no
        record. A node whose artifacts an earlier node of the list makes (the same stage
        with the same key in another record) is shown cached, since it will be by then.
        """
        self._decisions.clear()
        self.execution_list = []
        made: dict[str, tuple[int, str]] = {}

        def walk(node: ExecutionNode) -> None:
            call = node.call
            if id(call) in self._decisions:
                return
            if call.done or call.status == "failed" or not hasattr(call, "sources"):
                self._decisions[id(call)] = (call.display_status(), str(call.reason))
                return
            status, reason, _, _ = call.decide()
            dedupe = not call.overwrite_reason() or call.record.id_run is not None
            if status == "run" and call.stage.outputs and dedupe:
                makers = [made.get(k) for k in call.keys().values()]
                if all(m is not None for m in makers):
                    index, name = min(m for m in makers if m is not None)
                    status = "hit"
                    reason = f"made earlier in this run by {name} of record {self.records[index].key[:12]}"
            self._decisions[id(call)] = (status, reason)
            if status == "run":
                for child in node.dependencies:
                    walk(child)
                self.execution_list.append(node.chain_rep())
                for key in call.keys().values() if call.stage.outputs else ():
                    made.setdefault(key, node.chain_rep())

        for tree in self.execution_trees:
            walk(tree)

    def analyze(self) -> None:
        """Build the execution trees and the execution list."""
        self.build_execution_trees()
        self.determine_execution_list()

    # --- reading ----------------------------------------------------------------------

    def nodes(self) -> list[ExecutionNode]:
        """Every node once (a node shared by several trees appears once)."""
        seen: set[int] = set()
        result = []

        def visit(node: ExecutionNode) -> None:
            if id(node.call) in seen:
                return
            seen.add(id(node.call))
            result.append(node)
            for child in node.dependencies:
                visit(child)

        for tree in self.execution_trees:
            visit(tree)
        return result

    def summary(self) -> dict[str, dict[str, int]]:
        """``{stage name: {status: count}}`` over every node."""
        counts: dict[str, dict[str, int]] = {}
        for node in self.nodes():
            per = counts.setdefault(node.stage_name, {})
            per[node.status] = per.get(node.status, 0) + 1
        return counts

    def _headline(self) -> str:
        totals: dict[str, int] = {}
        for per in self.summary().values():
            for status, n in per.items():
                totals[status] = totals.get(status, 0) + n
        parts = [
            f"{totals[s]} {s}"
            for s in ("run", "cached", "skipped", "failed", "stored")
            if s in totals
        ]
        return f"experiment map: {len(self.records)} record(s), stages: " + (
            ", ".join(parts) or "none"
        )

    def _record_title(self, record: Record) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in record.params.items())
        return f"record {record.key[:12]} ({params})"

    def __str__(self) -> str:
        lines = [self._headline()]
        for stage, per in self.summary().items():
            lines.append(f"  {stage}: " + ", ".join(f"{n} {s}" for s, n in per.items()))
        by_record: dict[int, list[ExecutionNode]] = {}
        for tree in self.execution_trees:
            by_record.setdefault(tree.record_index, []).append(tree)
        for index, trees in by_record.items():
            lines.append(self._record_title(self.records[index]))
            lines.extend(tree.string_rep(1) for tree in trees)
        return "\n".join(lines)

    def map(self, max_records: int | None = None) -> Any:
        """The experiment map as a rich Tree: per stage counts, then each record's trees."""
        from rich.tree import Tree

        root = Tree(f"[bold]{self._headline()}[/]")
        stages = root.add("[bold]by stage[/]")
        for stage, per in self.summary().items():
            counts = ", ".join(f"[{_STYLES.get(s, '')}]{n} {s}[/]" for s, n in per.items())
            stages.add(f"{stage}: {counts}")
        by_record: dict[int, list[ExecutionNode]] = {}
        for tree in self.execution_trees:
            by_record.setdefault(tree.record_index, []).append(tree)
        shown = list(by_record.items())
        if max_records is not None:
            shown = shown[:max_records]
        for index, trees in shown:
            branch = root.add(_escape(self._record_title(self.records[index])))
            for tree in trees:
                _add_rich(branch, tree)
        if len(shown) < len(by_record):
            root.add(f"[dim]... and {len(by_record) - len(shown)} more record(s)[/]")
        return root

    def print_map(self, console: Any = None, max_records: int | None = None) -> None:
        """Print :meth:`map` (to ``console``, a rich Console, default stdout)."""
        if console is None:
            from rich.console import Console

            console = Console()
        console.print(self.map(max_records))

    print_experiment_map = print_map

    def _repr_html_(self) -> str:
        from sweepstack.dag._display import dag_html

        return dag_html(self)


def _call_of(record: Record, stage_name: str) -> Any:
    calls = [c for c in record._calls if c.stage.name == stage_name and hasattr(c, "sources")]
    if not calls:
        from sweepstack.errors import StageDefinitionError

        raise StageDefinitionError(
            stage_name,
            f"was not called on record {record.key[:12]} (its stages: "
            f"{[c.stage.name for c in record._calls]}); call it on the record first",
        )
    return calls[-1]


def _takes(call: Any, record: Record, output: str) -> bool:
    """True if ``call`` takes ``output`` made in ``record``."""
    sources = getattr(call, "sources", None)
    if not sources or output not in sources:
        return False
    if call.stage.is_aggregate:
        return any(member is record for member, _, _ in sources[output])
    producer, _ = sources[output]
    return producer.record is record


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def _add_rich(parent: Any, node: ExecutionNode) -> None:
    style = _STYLES.get(node.status, "")
    keys = ", ".join(f"{o} {k[:12]}" for o, k in node.keys.items())
    label = (
        f"[bold]{node.stage_name}[/] [{style}]{node.status}[/] [dim]{_escape(node.reason)}[/]"
        + (f" [cyan]{_escape(keys)}[/]" if keys else "")
    )
    branch = parent.add(label)
    for child in node.dependencies:
        _add_rich(branch, child)


def _direct(call: Any) -> list[Any]:
    """The nodes ``call`` depends on directly: its producers, less those reachable through
    another of them (an aggregate's reads of its members' earlier outputs show under the
    member output it takes, not beside it)."""
    producers = list(call.producers())
    below: set[int] = set()
    for producer in producers:
        stack = list(producer.producers())
        while stack:
            node = stack.pop()
            if id(node) not in below:
                below.add(id(node))
                stack.extend(node.producers())
    return [p for p in producers if id(p) not in below]
