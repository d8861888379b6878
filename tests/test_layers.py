"""The architecture as a claim: which package may import which, lazy imports included.

Read from the source (every ``import`` and ``from ... import`` anywhere in a module, inside
functions too), so that a lazy import cannot hide a cycle. The layers, bottom up:

- neutral modules (``errors``, ``_keys``, ``_gc``, ``_version``) import no other layer;
- ``store`` knows every name in the experiment folder and imports only neutral modules;
- ``sweep`` uses the store; ``dag`` uses the store, not ``sweep``;
- ``engine`` uses all three; ``report`` and ``cli`` read through them;
- nothing but the root package and the command imports ``engine``, and nothing inside
  the package imports the root package.
"""

from __future__ import annotations

import ast
import os
import re

import pytest

PACKAGE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "sweepstack")
NEUTRAL = {"errors", "_keys", "_gc", "_version", "_tracebacks"}
FACADES = {"log", "utils"}  # execo_engine's module names, re-exporting like the root package
ALLOWED = {
    "neutral": set(),
    "store": set(),
    "sweep": {"store"},
    "dag": {"store"},
    "engine": {"store", "sweep", "dag"},
    "report": {"store", "sweep", "dag"},
    "cli": {"store", "sweep", "dag", "report", "engine"},
}


def _layer(module: str) -> str | None:
    """``store`` for ``sweepstack.store._cache``; ``neutral`` for ``sweepstack.errors``."""
    parts = module.split(".")
    if parts[0] != "sweepstack":
        return None
    if len(parts) == 1:
        return "root"
    if parts[1] == "__main__":
        return "cli"  # python -m sweepstack: the command
    if parts[1] in FACADES:
        return "root"
    return "neutral" if parts[1] in NEUTRAL else parts[1]


def _modules() -> list[tuple[str, str]]:
    found = []
    for folder, _, files in os.walk(PACKAGE):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                relative = os.path.relpath(path, os.path.dirname(PACKAGE))[: -len(".py")]
                module = re.sub(r"\.__init__$", "", relative.replace(os.sep, "."))
                found.append((module, path))
    return sorted(found)


def _imports(path: str) -> list[tuple[str, int]]:
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), path)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.append((node.module, node.lineno))
            if node.module == "sweepstack":  # from sweepstack import store: a layer by name
                found += [(f"sweepstack.{alias.name}", node.lineno) for alias in node.names]
    return found


MODULES = _modules()


@pytest.mark.parametrize(("module", "path"), MODULES, ids=[m for m, _ in MODULES])
def test_module_imports_only_the_layers_below_it(module, path):
    layer = _layer(module)
    if layer == "root":
        return  # the root package re-exports every layer's public names
    allowed = ALLOWED[layer] | {layer, "neutral"}
    wrong = []
    for imported, line in _imports(path):
        target = _layer(imported)
        if target is None or target in allowed:
            continue
        if imported == "sweepstack":
            target = "root"
        wrong.append(f"line {line}: {imported} ({target})")
    assert not wrong, f"{module} ({layer}) imports what is above or beside it: {wrong}"


def test_the_layers_are_the_packages_on_disk():
    on_disk = {_layer(module) for module, _ in MODULES} - {"root"}
    assert on_disk == set(ALLOWED)


def test_only_the_store_joins_layout_names_to_paths():
    """No module outside store/ names a file or folder of the experiment directory."""
    names = (
        "cache",
        "logs",
        "sweeps",
        "records",
        "runs",
        "quarantine",
        "manifest.json",
        "experiment.json",
        "stdout",
        "stderr",
        "report.html",
    )
    pattern = re.compile(
        r"os\.path\.join\([^)]*[\"'](" + "|".join(re.escape(n) for n in names) + r")[\"']"
    )
    offenders = []
    for module, path in MODULES:
        if _layer(module) == "store":
            continue
        with open(path, encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                if pattern.search(line) or re.search(r"import .*\b(\w+_DIR|SWEEPER_\w+)\b", line):
                    offenders.append(f"{module}:{number}: {line.strip()}")
    assert not offenders, offenders
