"""HTML views of records, reportables and the stage graph, for Jupyter notebooks.

Self-contained HTML (figures inlined as base64 PNG), so that a saved notebook shows
them without the cache next to it.
"""

from __future__ import annotations

import base64
import html
import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sweepstack.dag._graph import DAG, ExecutionNode
    from sweepstack.dag._record import Record

__all__ = ["dag_html", "record_html", "reportable_html"]

_COLORS = {
    "run": "#b58900",
    "cached": "#2e7d32",
    "hit": "#2e7d32",
    "skipped": "#888",
    "pending": "#b58900",
    "failed": "#c62828",
    "stored": "#1565c0",
}


def _e(value: Any) -> str:
    return html.escape(str(value))


def _status(status: str) -> str:
    return f'<span style="color:{_COLORS.get(status, "#000")};font-weight:bold">{_e(status)}</span>'


def reportable_html(entry: dict[str, Any], data: bytes | None) -> str:
    """One reportable as HTML (``data``: its bytes, or None when unavailable)."""
    title = f"<h4>{_e(entry['name'])}</h4>"
    if data is None:
        return title + "<p><i>not available (missing from the cache)</i></p>"
    kind = entry["kind"]
    if kind == "figure":
        encoded = base64.b64encode(data).decode("ascii")
        return title + f'<img src="data:image/png;base64,{encoded}"/>'
    if kind == "table":
        return title + data.decode("utf-8")  # pandas' own, escaped, HTML
    if kind == "json":
        text = json.dumps(json.loads(data), indent=2, ensure_ascii=False)
        return title + f"<pre>{_e(text)}</pre>"
    return title + f"<pre>{_e(data.decode('utf-8', 'replace'))}</pre>"


def reportable_bytes(record: Record, entry: dict[str, Any]) -> bytes | None:
    """The bytes of one of ``record``'s reportables, from memory or the cache."""
    data = record._reportable_data.get(entry["key"])
    if data is not None or record.cache is None:
        return data
    from sweepstack.dag._reportables import read_reportable
    from sweepstack.errors import ArtifactCorruptError

    try:
        return read_reportable(entry, record.cache)
    except (ArtifactCorruptError, OSError):
        return None


def record_html(record: Record, reportables: bool = True) -> str:
    """A record: params, fields, its stages (status, reason, keys), its reportables."""
    rows = "".join(
        f"<tr><td>{_e(k)}</td><td>{_e(repr(v))}</td></tr>" for k, v in record.params.items()
    )
    fields = "".join(
        f"<tr><td>{_e(k)}</td><td>{_e(repr(v))}</td></tr>" for k, v in record.fields.items()
    )
    stage_rows = []
    for entry in record.stages:
        duration = entry.get("duration")
        keys = ", ".join(
            f"{o}: <code>{_e(k[:12])}</code>" for o, k in (entry.get("outputs") or {}).items()
        )
        stage_rows.append(
            f"<tr><td>{_e(entry['name'])}</td><td>{_status(entry['status'])}</td>"
            f"<td>{_e(entry.get('reason', ''))}</td>"
            f"<td>{'' if duration is None else f'{duration * 1e3:.1f} ms'}</td><td>{keys}</td></tr>"
        )
    parts = [
        f"<div><b>Record</b> <code>{_e(record.key)}</code>",
        f"<table><tr><th>param</th><th>value</th></tr>{rows}</table>",
    ]
    if fields:
        parts.append(f"<table><tr><th>field</th><th>value</th></tr>{fields}</table>")
    if stage_rows:
        parts.append(
            "<table><tr><th>stage</th><th>status</th><th>why</th><th>time</th><th>outputs</th></tr>"
            + "".join(stage_rows)
            + "</table>"
        )
    if record.exception is not None:
        parts.append(
            f"<p style='color:#c62828'>failed in {_e(record.failed_stage)}: "
            f"{_e(type(record.exception).__name__)}: {_e(record.exception)}</p>"
        )
    if reportables:
        for entry in record.reportables:
            parts.append(reportable_html(entry, reportable_bytes(record, entry)))
    parts.append("</div>")
    return "".join(parts)


def _node_html(node: ExecutionNode) -> str:
    keys = ", ".join(f"{_e(o)} <code>{_e(k[:12])}</code>" for o, k in node.keys.items())
    children = "".join(_node_html(c) for c in node.dependencies)
    return (
        f"<li><b>{_e(node.stage_name)}</b> {_status(node.status)} "
        f"<span style='color:#666'>{_e(node.reason)}</span> {keys}"
        + (f"<ul>{children}</ul>" if children else "")
        + "</li>"
    )


def dag_html(dag: DAG) -> str:
    """The experiment map: counts per stage, then each record's execution trees."""
    counts = "".join(
        f"<li>{_e(stage)}: " + ", ".join(f"{n} {_status(s)}" for s, n in per.items()) + "</li>"
        for stage, per in dag.summary().items()
    )
    by_record: dict[int, list[ExecutionNode]] = {}
    for tree in dag.execution_trees:
        by_record.setdefault(tree.record_index, []).append(tree)
    records = "".join(
        f"<li>{_e(dag._record_title(dag.records[i]))}<ul>"
        + "".join(_node_html(t) for t in trees)
        + "</ul></li>"
        for i, trees in by_record.items()
    )
    return f"<div><b>{_e(dag._headline())}</b><ul>{counts}</ul><ul>{records}</ul></div>"
