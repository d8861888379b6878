"""Write docs/api.md, the API reference, from the docstrings of sweepstack's public names.

python docs/gen_api.py          # rewrite docs/api.md
python docs/gen_api.py --check  # exit 1 if docs/api.md is out of date (the tests run this)
"""

from __future__ import annotations

import inspect
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import sweepstack  # noqa: E402  (fails early if the checkout is not importable)

SECTIONS = [
    ("Engine", "sweepstack.engine", ["Engine", "Interrupted", "redirect_outputs", "copy_outputs"]),
    (
        "Parameter spaces and the sweeper",
        "sweepstack.sweep",
        [
            "sweep",
            "Combinations",
            "sample",
            "uniform",
            "loguniform",
            "randint",
            "HashableDict",
            "geom",
            "igeom",
            "sweep_stats",
            "slugify",
            "param_key",
            "canonical",
            "register_key_type",
            "ParamSweeper",
            "SweeperStats",
            "SpaceChange",
            "Claim",
            "CombinationSet",
            "check_sweeper",
        ],
    ),
    (
        "Records and stages",
        "sweepstack.dag",
        [
            "Record",
            "RecordOptions",
            "stage",
            "aggregate",
            "Lazy",
            "Cacher",
            "DillCacher",
            "PickleCacher",
            "JsonCacher",
            "PathCacher",
            "NumpyCacher",
            "PandasCacher",
            "DAG",
            "ExecutionNode",
            "ArtifactManager",
        ],
    ),
    (
        "The store",
        "sweepstack.store",
        [
            "open",
            "Experiment",
            "Results",
            "Run",
            "ManagerStore",
            "ExperimentDir",
            "ArtifactCache",
            "FieldDict",
            "validate_field",
            "Problem",
        ],
    ),
    ("The report", "sweepstack.report", ["write_report", "report_html", "overview_html"]),
    ("Errors", "sweepstack.errors", None),
    ("Telling the environment's errors apart", "sweepstack.errors", ["is_environment_error"]),
]


def _annotation(value: object) -> str:
    return value if isinstance(value, str) else inspect.formatannotation(value)


def _signature(obj: object, returns: bool = True) -> str:
    """The signature as written in the source (annotations are strings here)."""
    try:
        signature = inspect.signature(obj)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return "(...)"
    parts = []
    star_done = False
    for parameter in signature.parameters.values():
        kind = parameter.kind
        if kind is parameter.KEYWORD_ONLY and not star_done:
            parts.append("*")
            star_done = True
        text = {parameter.VAR_POSITIONAL: "*", parameter.VAR_KEYWORD: "**"}.get(
            kind, ""
        ) + parameter.name
        star_done = star_done or kind is parameter.VAR_POSITIONAL
        if parameter.annotation is not parameter.empty:
            text += f": {_annotation(parameter.annotation)}"
        if parameter.default is not parameter.empty:
            text += (
                f" = {parameter.default!r}"
                if parameter.annotation is not parameter.empty
                else f"={parameter.default!r}"
            )
        parts.append(text)
    result = f"({', '.join(parts)})"
    if returns and signature.return_annotation is not signature.empty:
        result += f" -> {_annotation(signature.return_annotation)}"
    return result


def _doc(obj: object) -> str:
    """The docstring, with reStructuredText roles and double backquotes made Markdown."""
    text = inspect.cleandoc(obj.__doc__ or "").strip()
    text = re.sub(r":(?:class|meth|func|attr|data|mod|exc):`~?(?:[\w.]+\.)?([\w]+)`", r"`\1`", text)
    return text.replace("``", "`")


def _public_members(cls: type) -> list[tuple[str, object]]:
    members = []
    for name, value in cls.__dict__.items():
        if name.startswith("_") or not (_doc(value) or isinstance(value, property)):
            continue
        if inspect.isfunction(value) or isinstance(value, (property, classmethod, staticmethod)):
            members.append((name, value))
    return members


def _where(module: str, name: str) -> list[str]:
    """The note for a name that only its subpackage exports."""
    if hasattr(sweepstack, name):
        return []
    return [f"*Not in `sweepstack` itself: `from {module} import {name}`.*", ""]


def _entry(module: str, name: str, obj: object) -> list[str]:
    lines = []
    if inspect.isclass(obj):
        lines += [
            f"### `{module}.{name}`",
            "",
            f"```python\nclass {name}{_signature(obj, returns=False)}\n```",
            "",
        ]
        lines += _where(module, name)
        lines += [_doc(obj), ""]
        for member, value in _public_members(obj):
            if isinstance(value, property):
                lines += [
                    f"- **`{member}`** (property): {_doc(value).splitlines()[0] if _doc(value) else ''}"
                ]
                continue
            function = value.__func__ if isinstance(value, (classmethod, staticmethod)) else value
            summary = _doc(function).split("\n\n")[0].replace("\n", " ")
            lines += [f"- **`{member}{_signature(function)}`**: {summary}"]
        lines.append("")
    else:
        lines += [
            f"### `{module}.{name}`",
            "",
            f"```python\n{name}{_signature(obj)}\n```",
            "",
            *_where(module, name),
            _doc(obj),
            "",
        ]
    return lines


def render() -> str:
    out = [
        "# API reference",
        "",
        "Generated from the docstrings by `python docs/gen_api.py`; do not edit by hand.",
        "Everything listed here is also importable from `sweepstack` itself, except where noted.",
        "",
    ]
    for title, module_name, names in SECTIONS:
        module = sys.modules.get(module_name) or __import__(module_name, fromlist=["_"])
        out += [f"## {title}", ""]
        if names is None:  # the error tree: one line per class
            for name in module.__all__:
                obj = getattr(module, name)
                if not isinstance(obj, type):
                    continue  # a helper (is_environment_error): listed in its own section
                bases = ", ".join(b.__name__ for b in obj.__bases__)
                summary = _doc(obj).split("\n\n")[0].replace("\n", " ")
                out.append(f"- **`{name}`** ({bases}): {summary}")
            out.append("")
            continue
        for name in names:
            out += _entry(module_name, name, getattr(module, name))
    return "\n".join(out).rstrip() + "\n"


def main() -> int:
    path = os.path.join(HERE, "api.md")
    text = render()
    if "--check" in sys.argv:
        with open(path, encoding="utf-8") as f:
            if f.read() != text:
                print("docs/api.md is out of date: run python docs/gen_api.py", file=sys.stderr)
                return 1
        return 0
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
