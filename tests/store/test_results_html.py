"""``Results._repr_html_``: the notebook view of a results table."""

from __future__ import annotations

import html
import re

import pytest

import sweepstack as sw
from sweepstack.store import Results
from sweepstack.store._results_html import MAX_ROWS
from tests.cli.experiments import example_dir  # noqa: F401 - fixtures
from tests.report.test_browser import browser  # noqa: F401

HOSTILE = '<script>alert("x")</script> & "quotes"'


def _rows(n, **extra):
    return [
        {"sweep": "main", "key": f"k{i}", "status": "done", "n": i, "name": f"r{i}", **extra}
        for i in range(n)
    ]


def test_every_value_and_column_name_is_escaped():
    text = Results([{"sweep": "main", "status": "done", HOSTILE: HOSTILE, "x": [HOSTILE]}])
    page = text._repr_html_()
    assert HOSTILE not in page and "<script>alert" not in page
    assert html.escape(HOSTILE) in page
    assert len(re.findall("<script>", page)) == 1  # the table's own sorting script only


def test_a_large_table_shows_its_first_rows_and_says_how_to_see_all():
    page = Results(_rows(MAX_ROWS + 50))._repr_html_()
    assert page.count("<tr>") == MAX_ROWS + 1  # the header and the rows shown
    assert f"showing the first {MAX_ROWS} of {MAX_ROWS + 50} rows" in page
    assert "to_dataframe()" in page


def test_a_small_table_shows_every_row_without_the_quiet_columns():
    page = Results(_rows(3), errors=[])._repr_html_()
    assert page.count("<tr>") == 4 and "3 row(s)" in page
    headers = re.findall(r"<th>(.*?)</th>", page)
    assert headers == ["status", "n", "name"]  # one sweep: no sweep column; no key


def test_an_empty_table_says_so():
    assert "no rows" in Results([])._repr_html_()


def test_the_results_of_an_experiment_render_with_their_parameters_and_fields(
    example_dir,  # noqa: F811
):
    page = sw.open(example_dir).results()._repr_html_()
    headers = re.findall(r"<th>(.*?)</th>", page)
    assert {"status", "n", "seed", "estimator", "error"} <= set(headers)
    assert "45 row(s)" in page


@pytest.mark.browser
@pytest.mark.timeout(120)
def test_clicking_a_column_sorts_the_rows_by_it_numbers_as_numbers(browser):  # noqa: F811
    rows = [
        {"sweep": "main", "status": "done", "n": n, "word": w}
        for n, w in [(10, "b"), (9, "c"), (100, "a"), (None, "d")]
    ]
    page = browser.new_page()
    page.set_content("<html><body>" + Results(rows)._repr_html_() + "</body></html>")

    def column(index):
        return page.eval_on_selector_all(
            "tbody tr", f"rows => rows.map(r => r.cells[{index}].textContent)"
        )

    page.click("th:nth-child(2)")  # n, ascending: numbers as numbers, the empty cell apart
    assert column(1) == ["9", "10", "100", ""]
    page.click("th:nth-child(2)")  # again: descending, the empty cell still last
    assert column(1) == ["100", "10", "9", ""]
    page.click("th:nth-child(3)")
    assert column(2) == ["a", "b", "c", "d"]
    page.close()
