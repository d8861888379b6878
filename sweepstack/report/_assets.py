"""The style sheet and script inlined in every report (no network resource is ever loaded)."""

from __future__ import annotations

__all__ = ["CSS", "SCRIPT"]

CSS = """
.ssr { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1a2733; }
.ssr h1 { font-size: 22px; margin: 0 0 4px; }
.ssr h2 { font-size: 18px; margin: 28px 0 8px; border-bottom: 1px solid #d5dde5; padding-bottom: 4px; }
.ssr h3 { font-size: 15px; margin: 16px 0 6px; }
.ssr .meta { color: #52606d; margin: 0 0 4px; }
.ssr code, .ssr pre { font: 12px/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
.ssr pre { background: #f5f7f9; border: 1px solid #e1e6eb; padding: 8px; overflow-x: auto; white-space: pre-wrap; }
.ssr table { border-collapse: collapse; margin: 4px 0 10px; }
.ssr th, .ssr td { border-bottom: 1px solid #e1e6eb; padding: 3px 8px; text-align: left; vertical-align: top; }
.ssr th { background: #f0f3f6; white-space: nowrap; }
.ssr td.num { text-align: right; font-variant-numeric: tabular-nums; }
.ssr .st-done, .ssr .st-complete { color: #2e7d32; }
.ssr .st-failed, .ssr .st-error { color: #c62828; font-weight: 600; }
.ssr .st-running, .ssr .st-inprogress { color: #b26a00; }
.ssr .st-interrupted { color: #6a1b9a; }
.ssr .bar { display: flex; width: 360px; height: 14px; border: 1px solid #b0bec5; border-radius: 3px; overflow: hidden; background: #eceff1; }
.ssr .bar span { display: block; height: 100%; }
.ssr .bar .done { background: #43a047; }
.ssr .bar .inprogress { background: #fb8c00; }
.ssr .bar .failed { background: #e53935; }
.ssr .bar .skipped { background: #9e9e9e; }
.ssr .progress { display: flex; gap: 12px; align-items: center; margin: 4px 0; }
.ssr nav a { margin-right: 14px; }
.ssr .controls { display: flex; gap: 10px; align-items: center; margin: 6px 0; }
.ssr .controls input { width: 320px; padding: 4px 6px; }
.ssr .scroll { overflow: auto; max-height: 70vh; border: 1px solid #e1e6eb; }
.ssr #results-table th { cursor: pointer; position: sticky; top: 0; user-select: none; }
.ssr #results-table th[aria-sort="ascending"]::after { content: " \\25B2"; font-size: 10px; }
.ssr #results-table th[aria-sort="descending"]::after { content: " \\25BC"; font-size: 10px; }
.ssr .plots { display: flex; flex-wrap: wrap; gap: 12px; }
.ssr figure { margin: 0; border: 1px solid #e1e6eb; padding: 6px; background: #fff; }
.ssr figure svg { max-width: 100%; height: auto; }
.ssr figcaption { color: #52606d; font-size: 12px; }
.ssr .dag-box { overflow-x: auto; }
.ssr svg.dag { max-width: 100%; height: auto; }
.ssr details { margin: 4px 0; }
.ssr summary { cursor: pointer; }
.ssr .failure { border-left: 3px solid #c62828; padding-left: 10px; margin: 10px 0; }
.ssr .note { color: #52606d; font-style: italic; }
.ssr .reportable img { max-width: 100%; }
"""

SCRIPT = r"""
(function () {
  "use strict";
  var source = document.getElementById("results-data");
  var table = document.getElementById("results-table");
  if (!source || !table) { return; }
  var data = JSON.parse(source.textContent);
  var columns = data.columns, rows = data.rows, limit = data.limit;
  var body = table.tBodies[0];
  var filter = document.getElementById("results-filter");
  var statusChoice = document.getElementById("results-status");
  var counter = document.getElementById("results-count");
  var statusAt = columns.indexOf("status");
  var keyAt = columns.indexOf("key");
  var sortAt = -1, direction = 1;

  function number(value) {
    return Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(6)));
  }
  function show(value) {
    if (value === null || value === undefined) { return ""; }
    if (typeof value === "number") { return number(value); }
    if (typeof value === "object") { return JSON.stringify(value); }
    return String(value);
  }
  var texts = rows.map(function (row) { return row.map(show).join(" ").toLowerCase(); });
  var order = rows.map(function (row, i) { return i; });

  function compare(a, b) {
    if (typeof a === "number" && typeof b === "number") { return a - b; }
    if (typeof a === "boolean" && typeof b === "boolean") { return (a ? 1 : 0) - (b ? 1 : 0); }
    return show(a).localeCompare(show(b), undefined, { numeric: true });
  }
  function sort() {
    if (sortAt < 0) { return; }
    order.sort(function (i, j) {
      var a = rows[i][sortAt], b = rows[j][sortAt];
      var aNone = a === null || a === undefined, bNone = b === null || b === undefined;
      if (aNone || bNone) { return aNone === bNone ? i - j : (aNone ? 1 : -1); }
      return compare(a, b) * direction || i - j;
    });
  }
  function render() {
    var terms = filter.value.toLowerCase().split(/\s+/).filter(Boolean);
    var wanted = statusChoice.value;
    var fragment = document.createDocumentFragment();
    var matching = 0;
    order.forEach(function (i) {
      var row = rows[i];
      if (wanted && row[statusAt] !== wanted) { return; }
      for (var t = 0; t < terms.length; t++) {
        if (texts[i].indexOf(terms[t]) < 0) { return; }
      }
      matching += 1;
      if (matching > limit) { return; }
      var tr = document.createElement("tr");
      row.forEach(function (value, c) {
        var td = document.createElement("td");
        var text = show(value);
        if (typeof value === "number") { td.className = "num"; }
        if (c === statusAt) { td.className = "st-" + text; }
        if (c === keyAt && text) {
          td.title = text;
          text = text.slice(0, 12);
          if (row[statusAt] === "failed") {
            var link = document.createElement("a");
            link.href = "#failure-" + row[keyAt];
            link.textContent = text;
            td.appendChild(link);
            tr.appendChild(td);
            return;
          }
        } else if (text.length > 80) {
          td.title = text;
          text = text.slice(0, 77) + "...";
        }
        td.textContent = text;
        tr.appendChild(td);
      });
      fragment.appendChild(tr);
    });
    body.textContent = "";
    body.appendChild(fragment);
    counter.textContent = matching + " of " + rows.length + " combinations" +
      (matching > limit ? " (the first " + limit + " shown: filter or sort for others)" : "");
  }
  Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, c) {
    th.tabIndex = 0;
    th.title = "sort by " + columns[c];
    function click() {
      direction = sortAt === c ? -direction : 1;
      sortAt = c;
      Array.prototype.forEach.call(table.tHead.rows[0].cells, function (other) {
        other.removeAttribute("aria-sort");
      });
      th.setAttribute("aria-sort", direction > 0 ? "ascending" : "descending");
      sort();
      render();
    }
    th.addEventListener("click", click);
    th.addEventListener("keydown", function (event) {
      if (event.key === "Enter" || event.key === " ") { event.preventDefault(); click(); }
    });
  });
  filter.addEventListener("input", render);
  statusChoice.addEventListener("change", render);
  render();
})();
"""
