"""The example's report opened in headless Chromium (Debian's ``chromium``, driven by
Playwright's python package; Playwright's own browsers are never downloaded).

``.ci/setup.d/10-browser.sh`` installs Chromium; this test skips, saying why, only when
Chromium is not installed or cannot be launched.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sweepstack.report import write_report

CHROMIUM = "/usr/bin/chromium"
ARGUMENTS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.skip(
            f"Chromium is not installed ({CHROMIUM} is missing): .ci/setup.d/10-browser.sh "
            "installs Debian's chromium with apt"
        )
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError:
        pytest.skip("Playwright's python package is not installed: pip install -e '.[test]'")
    with sync_playwright() as playwright:
        try:
            chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGUMENTS)
        except Error as err:
            pytest.skip(f"Chromium at {CHROMIUM} cannot be launched: {err.message.splitlines()[0]}")
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.mark.browser
@pytest.mark.timeout(120)
def test_report_of_the_example_works_in_chromium(browser, example, tmp_path):
    report = write_report(example)
    page = browser.new_page(viewport={"width": 1300, "height": 900})
    messages: list[str] = []
    requests: list[str] = []
    page.on("console", lambda m: messages.append(f"{m.type}: {m.text}"))
    page.on("pageerror", lambda err: messages.append(f"page error: {err}"))
    page.on("request", lambda request: requests.append(request.url))
    try:
        page.goto(Path(report).as_uri())

        # one table row per combination
        rows = page.locator("#results-table tbody tr")
        assert rows.count() == 45
        assert page.locator("#results-count").inner_text() == "45 of 45 combinations"

        # sorting by a column, both ways
        headers = page.locator("#results-table thead th")
        n = headers.all_inner_texts().index("n")
        cells = page.locator(f"#results-table tbody tr td:nth-child({n + 1})")
        headers.nth(n).click()
        ascending = [int(v) for v in cells.all_inner_texts()]
        assert ascending == sorted(ascending) and ascending[0] == 100
        assert headers.nth(n).get_attribute("aria-sort") == "ascending"
        headers.nth(n).click()
        descending = [int(v) for v in cells.all_inner_texts()]
        assert descending == sorted(descending, reverse=True) and descending[0] == 20000

        # filtering
        page.fill("#results-filter", "plain")
        assert rows.count() == 15
        assert page.locator("#results-count").inner_text() == "15 of 45 combinations"
        page.fill("#results-filter", "")
        assert rows.count() == 45

        # the stage graph and the plots are there, and drawn
        dag = page.locator("svg.dag")
        assert dag.is_visible() and dag.bounding_box()["width"] > 200
        stages = page.locator("svg.dag g.dag-node")
        assert sorted(stages.evaluate_all("nodes => nodes.map(n => n.dataset.stage)")) == [
            "draw",
            "estimate",
        ]
        plots = page.locator("figure.plot svg")
        assert plots.count() >= 1 and plots.first.is_visible()
        assert plots.first.bounding_box()["height"] > 100

        screenshot = tmp_path / "report.png"
        page.screenshot(path=str(screenshot), full_page=True)
        assert screenshot.stat().st_size > 10_000
    finally:
        page.close()
    assert messages == [], messages
    assert all(url.startswith(("file:", "data:")) for url in requests), requests
