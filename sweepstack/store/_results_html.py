"""The results table as HTML for notebooks (``Results._repr_html_``).

One self-contained fragment: a ``<table>`` whose cells are escaped, a note when rows
were left out, and a few lines of script that sort the rows when a header is clicked
(numbers as numbers, the rest as text, empty cells last; a second click reverses). Where a notebook does
not run scripts (an untrusted notebook, a static render) the table shows, unsorted.
"""

from __future__ import annotations

import html
import json
import math
import uuid
from collections.abc import Sequence
from typing import Any

__all__ = ["MAX_ROWS", "results_html"]

MAX_ROWS = 200
"""Rows shown in a notebook; the others are left out, with a note saying how to see them."""

_QUIET = frozenset({"key", "started", "ended", "attempt"})
"""Columns left out of the notebook view (``to_dataframe()`` has them)."""

_SCRIPT = """<script>
(function () {
  var table = document.getElementById("%s");
  if (!table) return;
  var heads = table.tHead.rows[0].cells;
  Array.prototype.forEach.call(heads, function (head, column) {
    head.style.cursor = "pointer";
    head.title = "click to sort";
    head.addEventListener("click", function () {
      var ascending = head.getAttribute("data-order") !== "ascending";
      Array.prototype.forEach.call(heads, function (h) { h.removeAttribute("data-order"); });
      head.setAttribute("data-order", ascending ? "ascending" : "descending");
      var body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) {
        var x = a.cells[column].getAttribute("data-value");
        var y = b.cells[column].getAttribute("data-value");
        if (x === "" || y === "") return (x === "") - (y === "");  // empty cells last
        var nx = parseFloat(x), ny = parseFloat(y);
        var order = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : x.localeCompare(y);
        return ascending ? order : -order;
      });
      rows.forEach(function (row) { body.appendChild(row); });
    });
  });
})();
</script>"""


def _columns(rows: Sequence[dict[str, Any]]) -> list[str]:
    """Columns in the order they first appear, without the quiet ones (and ``sweep``
    when there is only one sweep)."""
    seen: dict[str, None] = {}
    layouts: set[tuple[str, ...]] = set()
    for row in rows:
        layout = tuple(row)
        if layout not in layouts:
            layouts.add(layout)
            seen.update(dict.fromkeys(layout))
    one_sweep = len({row.get("sweep") for row in rows}) <= 1
    return [c for c in seen if c not in _QUIET and not (c == "sweep" and one_sweep)]


def _shown(value: Any) -> tuple[str, str]:
    """What a cell shows, and the value it sorts by (numbers as their repr)."""
    if value is None:
        return "", ""
    if isinstance(value, bool):
        return str(value), str(int(value))
    if isinstance(value, int):
        return str(value), str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan", ""
        return f"{value:.6g}", repr(value)
    if isinstance(value, (list, dict, tuple)):
        text = json.dumps(value, ensure_ascii=False, default=str)
    else:
        text = str(value)
    return (text if len(text) <= 200 else text[:199] + "…"), text


def results_html(rows: Sequence[dict[str, Any]], unreadable: int = 0, limit: int = MAX_ROWS) -> str:
    """An HTML fragment of ``rows``: a sortable table of at most ``limit`` rows."""
    escape = html.escape
    if not rows:
        return "<p>Results: no rows yet.</p>"
    columns = _columns(rows[:limit])
    table_id = "sweepstack-results-" + uuid.uuid4().hex[:12]
    parts = [
        f"<style>#{table_id} th[data-order=ascending]::after {{content: ' \\25B2'}} "
        f"#{table_id} th[data-order=descending]::after {{content: ' \\25BC'}} "
        f"#{table_id} td {{text-align: left}} #{table_id} td.number {{text-align: right}}</style>",
        f'<div><table id="{table_id}" class="dataframe sweepstack-results">',
        "<thead><tr>" + "".join(f"<th>{escape(str(c))}</th>" for c in columns) + "</tr></thead>",
        "<tbody>",
    ]
    for row in rows[:limit]:
        cells = []
        for column in columns:
            raw = row.get(column)
            shown, value = _shown(raw)
            number = isinstance(raw, (int, float)) and not isinstance(raw, bool)
            kind = ' class="number"' if number else ""
            cells.append(f'<td{kind} data-value="{escape(value)}">{escape(shown)}</td>')
        parts.append("<tr>" + "".join(cells) + "</tr>")
    parts.append("</tbody></table>")
    notes = []
    if len(rows) > limit:
        notes.append(
            f"showing the first {limit} of {len(rows)} rows; all of them: "
            "<code>results.to_dataframe()</code> or <code>sweepstack results DIR</code>"
        )
    else:
        notes.append(f"{len(rows)} row(s); click a column to sort")
    if unreadable:
        notes.append(
            f"{unreadable} unreadable record(s) left out (<code>sweepstack check DIR</code>)"
        )
    parts.append("<p><small>" + "; ".join(notes) + "</small></p></div>")
    parts.append(_SCRIPT % table_id)
    return "\n".join(parts)
