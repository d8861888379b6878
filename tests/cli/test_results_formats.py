"""``sweepstack results --parquet``: a typed Parquet file of the results table."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys

import pytest

from sweepstack.cli._results import _parquet

pq = pytest.importorskip("pyarrow.parquet", reason="pyarrow: pip install -e '.[test]'")
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_results_parquet_writes_every_row_with_typed_columns(sweepstack, example_dir, tmp_path):
    path = str(tmp_path / "pi.parquet")
    ran = sweepstack("results", example_dir, "--parquet", path)
    assert ran.code == 0 and "wrote 45 rows" in ran.out
    table = pq.read_table(path)
    assert table.num_rows == 45
    types = {field.name: str(field.type) for field in table.schema}
    assert (types["n"], types["error"], types["estimator"]) == ("int64", "double", "string")
    by_csv = list(csv.DictReader(io.StringIO(sweepstack("results", example_dir, "--csv").out)))
    assert [r["key"] for r in by_csv] == table.column("key").to_pylist()
    assert [float(r["error"]) for r in by_csv] == table.column("error").to_pylist()


def test_results_parquet_replaces_the_file_and_follows_where_and_columns(
    sweepstack, example_dir, tmp_path
):
    path = str(tmp_path / "pi.parquet")
    assert sweepstack("results", example_dir, "--parquet", path).code == 0
    ran = sweepstack(
        "results",
        example_dir,
        "--parquet",
        path,
        "--where",
        "estimator == 'plain'",
        "--columns",
        "n",
        "seed",
        "error",
    )
    assert ran.code == 0 and "wrote 15 rows" in ran.out
    table = pq.read_table(path)
    assert table.column_names == ["n", "seed", "error"] and table.num_rows == 15
    assert [n for n in os.listdir(tmp_path)] == ["pi.parquet"]  # no temporary file left


def test_parquet_columns_of_mixed_or_nested_values_are_text_and_none_is_null(tmp_path):
    path = str(tmp_path / "t.parquet")
    rows = [
        {"a": 1, "b": 1.5, "mixed": 1, "nested": [1, 2], "flag": True, "big": 2**70},
        {"a": None, "b": 2, "mixed": "x", "nested": {"k": "v"}, "flag": None, "big": 1},
    ]
    assert _parquet(path, ["a", "b", "mixed", "nested", "flag", "big"], rows) == 2
    table = pq.read_table(path)
    assert table.to_pylist() == [
        {"a": 1, "b": 1.5, "mixed": "1", "nested": "[1, 2]", "flag": True, "big": str(2**70)},
        {"a": None, "b": 2.0, "mixed": "x", "nested": '{"k": "v"}', "flag": None, "big": "1"},
    ]


def test_results_parquet_into_a_missing_folder_is_a_clear_error(sweepstack, example_dir, tmp_path):
    ran = sweepstack("results", example_dir, "--parquet", str(tmp_path / "no" / "pi.parquet"))
    assert ran.code != 0 and "does not exist" in ran.err


def test_results_parquet_without_pyarrow_says_what_to_install(example_dir, tmp_path):
    code = (
        "import sys; sys.modules['pyarrow'] = None\n"
        "from sweepstack.cli import main\n"
        f"sys.exit(main(['results', {example_dir!r}, '--parquet', {str(tmp_path / 'x.parquet')!r}]))"
    )
    env = dict(os.environ, PYTHONPATH=REPO)
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert done.returncode != 0
    assert "pip install sweepstack[parquet]" in done.stderr
    assert not (tmp_path / "x.parquet").exists()
