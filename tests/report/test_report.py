"""The HTML report: sections, data, plots, the stage graph, reportables, no network."""

from __future__ import annotations

import json
import re
import sys

import pytest

import sweepstack as sw
from sweepstack.report import overview_html, report_html, write_report
from sweepstack.report._dag import dag_svg, stage_graph, stage_layers
from sweepstack.report._plots import MAX_LINES, plan_plots


def _table_data(page: str) -> dict:
    match = re.search(
        r'<script type="application/json" id="results-data">(.*?)</script>', page, re.S
    )
    assert match is not None
    return json.loads(match.group(1).replace("<\\/", "</"))


@pytest.fixture(scope="module")
def grid_page(grid_dir: str) -> str:
    return report_html(grid_dir)


def test_report_has_every_section(grid_page):
    for section in ("overview", "results", "failures", "plots", "stages", "reportables"):
        assert f'<section id="{section}">' in grid_page


def test_results_table_has_one_row_per_combination_with_params_and_fields(grid_page):
    data = _table_data(grid_page)
    assert len(data["rows"]) == 24
    assert {"status", "key", "x", "seed", "model", "depth", "score", "loss"} <= set(data["columns"])
    status = data["columns"].index("status")
    assert sorted({row[status] for row in data["rows"]}) == ["done", "failed"]


def test_failures_show_the_exception_and_traceback_of_each(grid_page):
    assert "3 failed combination(s)" in grid_page
    assert grid_page.count('class="failure"') == 3
    assert "x=2 is cursed" in grid_page and "Traceback (most recent call last)" in grid_page
    assert "in stage <b>compute</b>" in grid_page


def test_plots_draw_each_numeric_field_against_each_numeric_factor(grid_page):
    figures = re.findall(r'<figure class="plot" data-field="(\w+)" data-factor="(\w+)">', grid_page)
    # seed is a replicate: averaged over when needed, never on an x axis
    assert sorted(figures) == [("loss", "depth"), ("loss", "x"), ("score", "depth"), ("score", "x")]
    assert grid_page.count("<svg") >= 5  # the plots and the stage graph, inline


def test_stage_graph_counts_runs_and_cache_hits(grid_page):
    assert '<svg xmlns="http://www.w3.org/2000/svg" class="dag"' in grid_page
    node = re.search(r'<g class="dag-node" data-stage="compute">(.*?)</g>', grid_page).group(1)
    assert "7 ran" in node and "14 cached" in node and "3 failed" in node
    assert "<title>compute → score: square</title>" in grid_page


def test_reportables_are_shown_per_combination(grid_page):
    assert grid_page.count('<details class="reportable"') == 21
    assert "<h4>note</h4>" in grid_page and "<h4>numbers</h4>" in grid_page
    assert re.search(r"<pre>score \d+\.\d{3}</pre>", grid_page)


def test_report_loads_nothing_from_the_network(grid_page):
    for pattern in (r'(src|href)="(https?:)?//', r"url\((https?:)?//", r"@import"):
        assert not re.search(pattern, grid_page), pattern


def test_write_report_replaces_the_file_in_reports(example):
    path = write_report(example)
    assert path.endswith("/reports/report.html")
    assert write_report(sw.open(example)) == path


def test_without_matplotlib_the_report_says_how_to_get_plots(example_dir, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib raises ImportError
    page = report_html(example_dir)
    assert "pip install sweepstack[report]" in page and "<figure" not in page


def test_experiment_shows_its_overview_in_a_notebook(grid_dir):
    view = sw.open(grid_dir)._repr_html_()
    assert view == overview_html(grid_dir)
    assert "<h1>Grid</h1>" in view and "21/24 done (88%)" in view
    assert "Grid_1_" in view and "<style>" in view


# --- the pieces --------------------------------------------------------------------------


def _stage(name, status, inputs=(), outputs=()):
    return {
        "name": name,
        "status": status,
        "inputs": {i: "k" for i in inputs},
        "outputs": {o: "k" for o in outputs},
    }


def test_stage_graph_links_stages_by_the_outputs_they_take():
    documents = [
        {
            "stages": [
                _stage("load", "hit", outputs=["data"]),
                _stage("left", "run", ["data"], ["a"]),
                _stage("right", "run", ["data"], ["b"]),
                _stage("join", "failed", ["a", "b"], ["c"]),
            ]
        },
        {"stages": [_stage("load", "skipped", outputs=["data"])]},
    ]
    graph = stage_graph(documents)
    assert graph.stages == ["load", "left", "right", "join"]
    assert set(graph.edges) == {
        ("load", "left"),
        ("load", "right"),
        ("left", "join"),
        ("right", "join"),
    }
    assert dict(graph.counts["load"]) == {"hit": 1, "skipped": 1}
    svg = dag_svg(graph)
    assert svg.count('class="dag-node"') == 4 and svg.count('class="dag-edge"') == 4
    assert dag_svg(stage_graph([])) == ""


def test_stage_layers_put_upstream_first_whatever_order_records_saw_them_in():
    # an aggregate seen first (its record is written before the others are read)
    documents = [
        {"stages": [_stage("compare", "run", ["metrics"], ["table"])]},
        {
            "stages": [
                _stage("load", "run", outputs=["data"]),
                _stage("evaluate", "run", ["data"], ["metrics"]),
            ]
        },
    ]
    assert stage_layers(stage_graph(documents)) == [["load"], ["evaluate"], ["compare"]]


def test_plots_average_over_factors_when_lines_would_be_too_many():
    documents = [
        {"status": "done", "params": {"n": n, "a": a, "b": b}, "fields": {"y": n + a + b}}
        for n in (1, 2, 3)
        for a in range(4)
        for b in range(5)
    ]
    (by_n,) = [p for p in plan_plots("main", documents) if p.factor == "n"]
    assert len(by_n.lines) <= MAX_LINES and by_n.averaged == ["b"]
    assert by_n.lines["a=0"] == [(1.0, 3.0), (2.0, 4.0), (3.0, 5.0)]  # mean over b = 2
