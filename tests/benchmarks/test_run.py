"""benchmarks.run: a run of some scenarios keeps the figures of the others."""

from __future__ import annotations

from benchmarks._common import Result
from benchmarks.run import main, merge, render


def _table(results: list[Result]) -> str:
    return render(results, quick=False, elapsed=1.0)


def test_partial_run_replaces_only_its_sections():
    old = _table(
        [
            Result("sweep() generation", "flat", 1.0, 2.0, "execo_engine"),
            Result("Records", "write", 3.0),
        ]
    )
    new = _table([Result("sweep() generation", "flat", 0.5, 2.0, "execo_engine")])
    merged = merge(old, new, ["sweep"])
    assert merged.count("## sweep() generation") == 1
    assert "| flat | 500.0 ms |" in merged and "| flat | 1.00 s |" not in merged
    assert "## Records" in merged and "| write | 3.00 s |" in merged
    assert "rewritten by `--only sweep`" in merged
    assert "## Records\n\n| case |" in merged  # the layout of a kept section is kept


def test_partial_run_adds_new_sections_after_the_kept_ones():
    old = _table([Result("Records", "write", 3.0)])
    new = _table([Result("import time", "import", 0.1)])
    merged = merge(old, new, ["import"])
    assert merged.index("## Records") < merged.index("## import time")


def test_only_run_writes_into_an_existing_file(tmp_path, monkeypatch):
    output = tmp_path / "BENCHMARKS.md"
    output.write_text(_table([Result("Kept section", "kept case", 1.0)]))
    # bench_import is the cheapest scenario: two fresh interpreters per tool
    assert main(["--quick", "--only", "bench_import", "--output", str(output)]) == 0
    text = output.read_text()
    assert "## Kept section" in text and "## import time" in text
