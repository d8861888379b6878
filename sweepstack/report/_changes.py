"""The report's "Changes" section: the fields that changed since the previous run.

A run here is a launch: the workers of ``--workers N`` or of a scheduler's array
count as their launcher's run. The latest launch that completed combinations is
compared with the launch before it that completed some, combination by combination,
from the attempts each record keeps (``history``).
"""

from __future__ import annotations

import html
from typing import Any

from sweepstack.report._columns import cell, sort_rows
from sweepstack.store import Run, changed_fields

__all__ = ["changes_section"]

MAX_ROWS = 500


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _launches(runs: list[Run]) -> tuple[dict[str, str], dict[str, int]]:
    """Each run's launch (its parent's reference, or its own), and each launch's number."""
    group = {r.reference: str(r.get("parent") or r.reference) for r in runs}
    numbers = {r.reference: r.number for r in runs}
    return group, {launch: numbers.get(launch, 0) for launch in set(group.values())}


def changes_section(documents: dict[str, list[dict[str, Any]]], runs: list[Run]) -> str:
    """HTML: the previous and latest launches, and a table of the fields that changed."""
    group, numbers = _launches(runs)
    completed: set[str] = set()
    for records in documents.values():
        for document in records:
            entries = [*(document.get("history") or []), document]
            for entry in entries:
                run = entry.get("run") if isinstance(entry, dict) else None
                if isinstance(run, str) and entry.get("status") == "done":
                    completed.add(group.get(run, run))
    ordered = sorted(completed, key=lambda launch: (numbers.get(launch, 0), launch))
    if len(ordered) < 2:
        return (
            '<p class="note">One run has completed combinations so far: nothing to compare. '
            "After a rerun (<code>sweepstack reset DIR --done</code>, <code>--overwrite</code>, "
            "an edited stage) this shows the fields that changed.</p>"
        )
    previous, latest = ordered[-2], ordered[-1]
    pairs = ((sweep, d) for sweep, records in documents.items() for d in records)
    changed, counts = changed_fields(pairs, previous, latest, group)
    rows = sort_rows(changed)
    summary = (
        f"<p>Run <code>{_e(latest)}</code> against the previous run <code>{_e(previous)}</code>: "
        f"{counts['changed']} of {counts['both']} combination(s) completed in both changed; "
        f"{counts['only_b']} completed only in the latest, {counts['only_a']} only in the "
        f"previous. <code>sweepstack compare DIR {_e(previous)} {_e(latest)}</code> lists "
        "them all.</p>"
    )
    if not rows:
        return summary
    params = [c for c in rows[0] if c not in ("sweep", "key", "field", "a", "b")]
    header = ["key", *params, "field", "previous", "latest"]
    body = "".join(
        "<tr>"
        + "".join(
            f"<td>{_e(cell(v))}</td>"
            for v in [str(r["key"])[:12], *(r.get(p) for p in params), r["field"], r["a"], r["b"]]
        )
        + "</tr>"
        for r in rows[:MAX_ROWS]
    )
    more = (
        f'<p class="note">{len(rows) - MAX_ROWS} more changed field(s) not shown.</p>'
        if len(rows) > MAX_ROWS
        else ""
    )
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    return (
        f'{summary}<div class="scroll"><table class="changes"><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table></div>{more}"
    )
