"""The documentation stays true: the API reference is current, every link resolves,
copies of files shown in the docs equal the files, and the site builds strictly."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCS = os.path.join(REPO, "docs")
LINK = re.compile(r"\[[^\]]+\]\(([^)#\s]+)(?:#[^)]*)?\)")
# a file of the repository shown in a page: the marker line, then a fenced code block
FILE_COPY = re.compile(r"^<!-- file: (\S+)[^\n]*-->\n```[^\n]*\n(.*?)^```$", re.M | re.S)


def _markdown_files():
    files = [os.path.join(REPO, "README.md")]
    for folder, _, names in os.walk(DOCS):
        files += [os.path.join(folder, n) for n in names if n.endswith(".md")]
    return sorted(files)


def test_api_reference_is_generated_from_the_current_docstrings():
    result = subprocess.run(
        [sys.executable, os.path.join(DOCS, "gen_api.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("path", _markdown_files(), ids=lambda p: os.path.relpath(p, REPO))
def test_relative_links_resolve(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    broken = []
    for target in LINK.findall(text):
        if "://" in target or target.startswith("mailto:"):
            continue
        if not os.path.exists(os.path.normpath(os.path.join(os.path.dirname(path), target))):
            broken.append(target)
    assert not broken, f"broken links in {os.path.relpath(path, REPO)}: {broken}"


def _file_copies():
    copies = []
    for path in _markdown_files():
        with open(path, encoding="utf-8") as f:
            text = f.read()
        for target, shown in FILE_COPY.findall(text):
            copies.append(
                pytest.param(path, target, shown, id=f"{os.path.relpath(path, REPO)}:{target}")
            )
    return copies


@pytest.mark.parametrize("page, target, shown", _file_copies())
def test_a_file_shown_in_the_docs_is_shown_as_it_is_in_the_repository(page, target, shown):
    # a page shows a file's text where a link to it would leave the site (mkdocs only
    # serves docs/); the copy must not drift from the file
    with open(os.path.join(REPO, target), encoding="utf-8") as f:
        assert shown == f.read(), (
            f"{os.path.relpath(page, REPO)}: the copy of {target} differs from it"
        )


def _nav_pages(nav) -> list[str]:
    """The markdown files named in mkdocs.yml's nav, at any depth."""
    if isinstance(nav, str):
        return [nav] if nav.endswith(".md") else []
    items = nav.values() if isinstance(nav, dict) else nav
    return [page for item in items for page in _nav_pages(item)]


def _built_page(site: str, page: str) -> str:
    """Where mkdocs (use_directory_urls) writes the HTML of a page."""
    stem = page[: -len(".md")]
    if os.path.basename(stem) in ("index", "README"):
        return os.path.join(site, os.path.dirname(stem), "index.html")
    return os.path.join(site, stem, "index.html")


def test_the_site_builds_with_strict_checks_and_no_warning(tmp_path):
    pytest.importorskip("mkdocs", reason="mkdocs is in the test extra: pip install -e .[test]")
    import yaml  # a dependency of mkdocs

    site = tmp_path / "site"
    build = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=240,
    )
    output = build.stdout + build.stderr
    warnings = [line for line in output.splitlines() if line.startswith(("WARNING", "ERROR"))]
    assert build.returncode == 0 and not warnings, f"mkdocs build --strict:\n{output}"
    # every page of the nav, however many are added, was built
    with open(os.path.join(REPO, "mkdocs.yml"), encoding="utf-8") as f:
        pages = _nav_pages(yaml.safe_load(f)["nav"])
    assert "index.md" in pages
    missing = [p for p in pages if not os.path.exists(_built_page(str(site), p))]
    assert not missing, f"pages of the nav not built: {missing}"
