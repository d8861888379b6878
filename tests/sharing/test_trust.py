"""What docs/security.md promises a shared experiment: the report escapes, --where runs nothing."""

from __future__ import annotations

import os

from sweepstack import param_key
from sweepstack.report import report_html
from sweepstack.store import ExperimentDir
from tests.cli.experiments import command

HOSTILE = "<script>alert('x')</script>"


def _hostile_experiment(path: str) -> None:
    xd = ExperimentDir.create_or_open(path)
    run = xd.start_run("E", notes=HOSTILE)
    for n in range(2):
        xd.write_record(
            "main",
            param_key({"model": HOSTILE, "n": n}),
            {
                "params": {"model": HOSTILE, "n": n},
                "status": "failed" if n else "done",
                "run": run.reference,
                "fields": {"comment": HOSTILE, HOSTILE: 1},
                "exception": {"type": "ValueError", "message": HOSTILE, "traceback": HOSTILE}
                if n
                else None,
            },
        )
    run.finish("complete")


def test_the_report_escapes_every_value_a_writer_of_the_folder_controls(tmp_path):
    path = str(tmp_path / "exp")
    _hostile_experiment(path)
    page = report_html(path)
    assert HOSTILE not in page
    assert "&lt;script&gt;" in page  # shown as text


def test_where_evaluates_no_code(tmp_path):
    path = str(tmp_path / "exp")
    _hostile_experiment(path)
    marker = tmp_path / "ran"
    for expression in (
        f"__import__('os').system('touch {marker}')",
        f"n.__class__.__init__.__globals__['os'].system('touch {marker}')",
        "[x for x in ().__class__.__base__.__subclasses__()]",
    ):
        done = command("results", path, "--where", expression)
        assert done.returncode == 2, (expression, done.stdout)
        assert "cannot use" in done.stderr
    assert not os.path.exists(marker)
