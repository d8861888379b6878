"""The report page: one self-contained HTML file, its sections built from :class:`ReportData`."""

from __future__ import annotations

import base64
import datetime as _dt
import html
import json
import os
from typing import Any

from sweepstack._version import __version__
from sweepstack.errors import ArtifactCorruptError
from sweepstack.report._assets import CSS, SCRIPT
from sweepstack.report._changes import changes_section
from sweepstack.report._collect import ReportData, SweeperProgress
from sweepstack.report._columns import FIRST, cell, order_columns, sort_rows
from sweepstack.report._dag import dag_svg, stage_graph, stage_layers
from sweepstack.report._plots import MAX_PLOTS, plan_plots, render_svg
from sweepstack.store import AGGREGATES, Experiment, Run

__all__ = ["overview_section", "page"]

ROW_LIMIT = 5000
"""Rows the results table shows at once (the filter and sorting see them all)."""

MAX_FAILURES = 100
MAX_REPORTABLE_BYTES = 50 << 20
_HIDDEN = ("started", "ended", "run")  # in the data for filtering, not worth a column


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _table(header: list[str], rows: list[list[str]], attrs: str = "") -> str:
    """An HTML table; cells are HTML already (escape them first)."""
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table{attrs}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _when(text: Any) -> str:
    return _e(str(text).replace("T", " ").rstrip("Z")[:19]) if text else ""


# --- overview ------------------------------------------------------------------------------


def _bar(counts: dict[str, int]) -> str:
    total = counts.get("total") or 0
    if not total:
        return '<div class="bar"></div>'
    parts = "".join(
        f'<span class="{state}" style="width:{100 * counts.get(state, 0) / total:.2f}%" '
        f'title="{counts.get(state, 0)} {state}"></span>'
        for state in ("done", "failed", "inprogress", "skipped")
        if counts.get(state)
    )
    return f'<div class="bar">{parts}</div>'


def _progress(sweepers: list[SweeperProgress]) -> str:
    if not sweepers:
        return '<p class="note">No sweeper in this experiment yet.</p>'
    lines = []
    for sweeper in sweepers:
        if sweeper.counts is None:
            lines.append(
                f'<div class="progress"><b>{_e(sweeper.name)}</b>'
                f'<span class="note">{_e(sweeper.error)}</span></div>'
            )
            continue
        c = sweeper.counts
        percent = 100 * c["done"] / c["total"] if c["total"] else 0.0
        states = " · ".join(
            # a zero is not news: only counts above zero take their state's colour
            (f'<span class="st-{s}">{c[s]} {label}</span>' if c[s] else f"<span>0 {label}</span>")
            for s, label in (
                ("remaining", "todo"),
                ("inprogress", "in progress"),
                ("done", "done"),
                ("failed", "failed"),
                ("skipped", "skipped"),
            )
        )
        lines.append(
            f'<div class="progress" data-sweeper="{_e(sweeper.name)}"><b>{_e(sweeper.name)}</b>'
            f"{_bar(c)}<span>{c['done']}/{c['total']} done ({percent:.0f}%)</span>"
            f"<span>{states}</span></div>"
        )
    return "".join(lines)


def _commit(run: Run) -> str:
    git = run.get("git") or {}
    if not isinstance(git, dict) or not git.get("available"):
        return ""
    commit = str(git.get("commit") or "")[:10]
    return _e(commit) + (" <b>(dirty)</b>" if git.get("dirty") else "")


def _runs(runs: list[Run]) -> str:
    if not runs:
        return '<p class="note">No run yet.</p>'
    rows = [
        [
            str(run.number),
            _e(run.reference),
            f'<span class="st-{_e(run.status)}">{_e(run.status)}</span>',
            _e(run.get("host")),
            _when(run.get("started")),
            _when(run.get("ended")),
            _commit(run),
            f"<code>{_e(run.get('reproduce'))}</code>",
        ]
        for run in runs
    ]
    header = ["#", "run", "status", "host", "started", "ended", "commit", "reproduce with"]
    return _table(header, rows, ' class="runs"')


def overview_section(
    experiment: Experiment, runs: list[Run], sweepers: list[SweeperProgress]
) -> str:
    """Name, identity and place of the experiment, its runs, the progress of its sweepers."""
    return (
        f"<h1>{_e(experiment.name)}</h1>"
        f'<p class="meta">experiment <code>{_e(experiment.id_experiment)}</code> · '
        f"engine {_e(experiment.engine or '-')} · created {_when(experiment.created)} · "
        f"<code>{_e(experiment.path)}</code></p>"
        f"<h3>Progress</h3>{_progress(sweepers)}"
        f"<h3>Runs</h3>{_runs(runs)}"
    )


# --- results and failures ----------------------------------------------------------------


def _results(data: ReportData) -> str:
    rows = sort_rows([r for r in data.results if r.get("sweep") != AGGREGATES])
    columns = [c for c in order_columns(rows) if c not in _HIDDEN]
    if len({r.get("sweep") for r in rows}) <= 1:
        columns = [c for c in columns if c != "sweep"]
    # status and key first, then parameters and fields, then the rest
    columns = [c for c in FIRST if c in columns and c != "sweep"] + [
        c for c in columns if c not in FIRST or c == "sweep"
    ]
    payload = {
        "columns": columns,
        "rows": [[cell(r.get(c)) for c in columns] for r in rows],
        "limit": ROW_LIMIT,
    }
    # JSON inside <script>: only "</" could end the element early
    text = json.dumps(payload, ensure_ascii=False, default=str).replace("</", "<\\/")
    statuses = sorted({str(r.get("status")) for r in rows})
    options = "".join(f'<option value="{_e(s)}">{_e(s)}</option>' for s in statuses)
    head = "".join(f'<th data-column="{_e(c)}">{_e(c)}</th>' for c in columns)
    return (
        '<div class="controls"><input id="results-filter" type="search" '
        'placeholder="filter: words that every shown row contains" aria-label="filter">'
        f'<select id="results-status" aria-label="status"><option value="">any status</option>'
        f'{options}</select><span id="results-count"></span></div>'
        f'<div class="scroll"><table id="results-table"><thead><tr>{head}</tr></thead>'
        "<tbody></tbody></table></div>"
        f'<script type="application/json" id="results-data">{text}</script>'
        "<noscript><p>The table needs JavaScript; "
        "<code>sweepstack results DIR</code> prints it.</p></noscript>"
    )


def _params_text(document: dict[str, Any]) -> str:
    params = document.get("params") or {}
    return ", ".join(f"{k}={v!r}" for k, v in params.items()) if isinstance(params, dict) else ""


def _failures(data: ReportData) -> str:
    failed = [
        (sweep, d)
        for sweep, documents in data.documents.items()
        for d in documents
        if d.get("status") == "failed"
    ]
    if not failed:
        return '<p class="note">No failure.</p>'
    parts = []
    for sweep, document in failed[:MAX_FAILURES]:
        exception = document.get("exception") or {}
        if not isinstance(exception, dict):
            exception = {"message": str(exception)}
        key = str(document.get("key"))
        where = f" in stage <b>{_e(exception['stage'])}</b>" if exception.get("stage") else ""
        parts.append(
            f'<div class="failure" id="failure-{_e(key)}"><h3><code>{_e(key[:12])}</code> '
            f"{_e(_params_text(document))}</h3>"
            f"<p><b>{_e(str(exception.get('type') or '').removeprefix('builtins.'))}</b>: "
            f"{_e(exception.get('message'))}{where} · "
            f"sweep {_e(sweep)} · host {_e(document.get('host'))} · run {_e(document.get('run'))} "
            f"· attempt {_e(document.get('attempt'))}</p>"
            + (
                f"<details><summary>traceback</summary><pre>{_e(exception['traceback'])}</pre>"
                "</details>"
                if exception.get("traceback")
                else ""
            )
            + "</div>"
        )
    if len(failed) > MAX_FAILURES:
        parts.append(
            f'<p class="note">{len(failed) - MAX_FAILURES} more failures: '
            "<code>sweepstack results DIR --where \"status == 'failed'\"</code> lists them.</p>"
        )
    return f"<p>{len(failed)} failed combination(s).</p>" + "".join(parts)


# --- plots, stages, reportables ------------------------------------------------------------


def _plots(data: ReportData) -> str:
    plans = [
        plot
        for sweep, documents in data.documents.items()
        if sweep != AGGREGATES
        for plot in plan_plots(sweep, documents)
    ]
    if not plans:
        return (
            '<p class="note">Nothing to plot: plots need numeric fields and a numeric factor '
            "with several levels among done combinations.</p>"
        )
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return (
            f'<p class="note">{len(plans)} plot(s) of numeric fields against numeric factors '
            "need matplotlib: <code>pip install sweepstack[report]</code>.</p>"
        )
    several = len({p.sweep for p in plans}) > 1
    figures = []
    for number, plot in enumerate(plans[:MAX_PLOTS]):
        title = f"{plot.field} vs {plot.factor}" + (f" ({plot.sweep})" if several else "")
        caption = title + (f"; mean over {', '.join(plot.averaged)}" if plot.averaged else "")
        figures.append(
            f'<figure class="plot" data-field="{_e(plot.field)}" data-factor="{_e(plot.factor)}">'
            f"{render_svg(plot, number)}<figcaption>{_e(caption)}</figcaption></figure>"
        )
    more = (
        f'<p class="note">{len(plans) - MAX_PLOTS} more plot(s) left out.</p>'
        if len(plans) > MAX_PLOTS
        else ""
    )
    return f'<div class="plots">{"".join(figures)}</div>{more}'


def _stages(data: ReportData) -> str:
    graph = stage_graph(d for documents in data.documents.values() for d in documents)
    if not graph.stages:
        return '<p class="note">No record went through a stage yet.</p>'
    rows = []
    # in the picture's order: layer by layer, upstream first
    for stage in (s for layer in stage_layers(graph) for s in layer):
        counts = graph.counts[stage]
        runs = counts["run"]
        rows.append(
            [
                _e(stage),
                *(str(counts[s]) for s in ("run", "hit", "skipped", "failed")),
                f"{graph.seconds[stage] / runs:.3g} s" if runs else "",
            ]
        )
    table = _table(["stage", "ran", "cached", "skipped", "failed", "mean run time"], rows)
    return f'<div class="dag-box">{dag_svg(graph)}</div>{table}'


def _reportable(entry: dict[str, Any], experiment: Experiment) -> str:
    title = f"<h4>{_e(entry.get('name'))}</h4>"
    file_name = str(entry.get("file") or "")
    if os.sep in file_name or file_name.startswith("."):
        return title + '<p class="note">unreadable entry</p>'

    def read(folder: str) -> bytes:
        with open(os.path.join(folder, file_name), "rb") as f:
            return f.read()

    try:
        data = experiment.cache.load(str(entry.get("key")), read)
    except (ArtifactCorruptError, OSError):
        return title + '<p class="note">missing from the cache (or corrupt)</p>'
    kind = entry.get("kind")
    if kind == "figure":
        encoded = base64.b64encode(data).decode("ascii")
        return title + f'<img alt="{_e(entry.get("name"))}" src="data:image/png;base64,{encoded}">'
    if kind == "table":
        return title + data.decode("utf-8", "replace")  # pandas' to_html output, escaped by it
    if kind == "json":
        try:
            text = json.dumps(json.loads(data), indent=2, ensure_ascii=False)
        except ValueError:
            text = data.decode("utf-8", "replace")
        return title + f"<pre>{_e(text)}</pre>"
    return title + f"<pre>{_e(data.decode('utf-8', 'replace'))}</pre>"


def _reportables(data: ReportData) -> str:
    parts = []
    budget = MAX_REPORTABLE_BYTES
    for sweep, documents in data.documents.items():
        for document in documents:
            entries = [e for e in document.get("reportables") or () if isinstance(e, dict)]
            if not entries:
                continue
            if budget <= 0:
                parts.append('<p class="note">More reportables left out (the report is large).</p>')
                break
            shown = "".join(_reportable(e, data.experiment) for e in entries)
            budget -= len(shown)
            label = (
                f"aggregate {document.get('name') or ''}"
                if sweep == AGGREGATES
                else _params_text(document)
            )
            fields = document.get("fields") or {}
            fields_text = (
                f"<p>{_e(', '.join(f'{k}={v!r}' for k, v in fields.items()))}</p>"
                if isinstance(fields, dict) and fields and sweep == AGGREGATES
                else ""
            )
            parts.append(
                f'<details class="reportable"{" open" if sweep == AGGREGATES else ""}>'
                f"<summary><code>{_e(str(document.get('key'))[:12])}</code> {_e(label)} "
                f"({len(entries)})</summary>{fields_text}{shown}</details>"
            )
    if not parts:
        return '<p class="note">No stage reported a figure, table or text (record.report()).</p>'
    return "".join(parts)


# --- the page ---------------------------------------------------------------------------


def page(data: ReportData) -> str:
    """The whole report as one HTML document."""
    experiment = data.experiment
    generated = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    sections = [
        ("overview", "Overview", overview_section(experiment, data.runs, data.sweepers)),
        ("results", "Results", _results(data)),
        ("failures", "Failures", _failures(data)),
        ("changes", "Changes since the previous run", changes_section(data.documents, data.runs)),
        ("plots", "Plots", _plots(data)),
        ("stages", "Stages", _stages(data)),
        ("reportables", "Reportables", _reportables(data)),
    ]
    if data.problems:
        items = "".join(f"<li>{_e(p)}</li>" for p in data.problems[:200])
        sections.append(
            (
                "unreadable",
                "Unreadable entries",
                f"<p>Left out of this report; <code>sweepstack check DIR</code> tells more.</p>"
                f"<ul>{items}</ul>",
            )
        )
    nav = "".join(f'<a href="#{anchor}">{_e(title)}</a>' for anchor, title, _ in sections)
    body = "".join(
        f'<section id="{anchor}">'
        + (f"<h2>{_e(title)}</h2>" if anchor != "overview" else "")
        + f"{content}</section>"
        for anchor, title, content in sections
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<link rel="icon" href="data:,">'
        f"<title>{_e(experiment.name)} · sweepstack report</title>"
        f"<style>body {{ margin: 20px; }}{CSS}</style></head>"
        f'<body class="ssr"><nav>{nav}</nav>{body}'
        f'<p class="meta">Made by sweepstack {_e(__version__)} on {generated}.</p>'
        f"<script>{SCRIPT}</script></body></html>\n"
    )
