"""The stage graph of an experiment, counted over its records and drawn as SVG.

Each record stores one entry per stage it went through (name, status, inputs and
outputs by name). Over all records, a stage is a node with how often it ran, was a
cache hit, was skipped (not needed) or failed; an edge goes from the stage making
an output to each stage taking it as an input. The picture is laid out here, in
layers from left to right (no graphviz): a stage's layer is the length of the
longest path reaching it, and stages are ordered within a layer by the mean
position of their neighbours, a few passes each way.
"""

from __future__ import annotations

import html
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["StageGraph", "dag_svg", "stage_graph", "stage_layers"]

_STATUSES = ("run", "hit", "skipped", "failed")
_LABELS = {"run": "ran", "hit": "cached", "skipped": "skipped", "failed": "failed"}
_COLORS = {"run": "#b26a00", "hit": "#2e7d32", "skipped": "#757575", "failed": "#c62828"}


@dataclass
class StageGraph:
    """Stages (in order of first appearance), their counts, and edges labelled by output."""

    stages: list[str] = field(default_factory=list)
    counts: dict[str, Counter] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)  # total time of the runs
    edges: dict[tuple[str, str], set[str]] = field(default_factory=dict)

    def add(self, stage: str) -> None:
        if stage not in self.counts:
            self.stages.append(stage)
            self.counts[stage] = Counter()
            self.seconds[stage] = 0.0


def stage_graph(documents: Iterable[dict[str, Any]]) -> StageGraph:
    """Count the stage entries of every record and link stages by their outputs."""
    graph = StageGraph()
    producer: dict[str, str] = {}
    wanted: list[tuple[str, str]] = []  # (input name, consuming stage)
    for document in documents:
        for entry in document.get("stages") or ():
            if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
                continue
            name = entry["name"]
            graph.add(name)
            graph.counts[name][str(entry.get("status"))] += 1
            duration = entry.get("duration")
            if entry.get("status") == "run" and isinstance(duration, (int, float)):
                graph.seconds[name] += float(duration)
            for output in entry.get("outputs") or ():
                producer.setdefault(output, name)
            for given in entry.get("inputs") or ():
                wanted.append((given, name))
    for given, consumer in wanted:
        source = producer.get(given)
        if source is not None and source != consumer:
            graph.edges.setdefault((source, consumer), set()).add(given)
    return graph


def stage_layers(graph: StageGraph) -> list[list[str]]:
    """The stages by depth (sources first), each layer ordered to keep edges short."""
    parents: dict[str, list[str]] = {s: [] for s in graph.stages}
    for source, target in graph.edges:
        parents[target].append(source)
    layer: dict[str, int] = {}

    def depth(stage: str, visiting: frozenset[str]) -> int:
        if stage not in layer:
            above = [p for p in parents[stage] if p not in visiting]  # ignore a cycle
            layer[stage] = 1 + max((depth(p, visiting | {stage}) for p in above), default=-1)
        return layer[stage]

    for stage in graph.stages:
        depth(stage, frozenset())
    layers: list[list[str]] = [[] for _ in range(max(layer.values(), default=-1) + 1)]
    for stage in graph.stages:
        layers[layer[stage]].append(stage)
    neighbours: dict[str, list[str]] = {s: [] for s in graph.stages}
    for source, target in graph.edges:
        neighbours[source].append(target)
        neighbours[target].append(source)
    for sweep in range(4):  # barycentre ordering, down then up
        order = layers[1:] if sweep % 2 == 0 else layers[-2::-1]
        for current in order:
            index = {s: i for layer_ in layers for i, s in enumerate(layer_)}

            def centre(stage: str, index: dict[str, int] = index) -> float:
                near = [index[n] for n in neighbours[stage]]
                return sum(near) / len(near) if near else index[stage]

            current.sort(key=centre)
    return layers


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def dag_svg(graph: StageGraph) -> str:
    """The graph as an inline SVG element (empty string when there are no stages)."""
    if not graph.stages:
        return ""
    layers = stage_layers(graph)
    char, height, gap_x, gap_y, pad = 7.2, 58, 90, 26, 16
    lines: dict[str, str] = {}
    for stage in graph.stages:
        counts = graph.counts[stage]
        lines[stage] = " · ".join(
            f"{counts[s]} {_LABELS[s]}" for s in _STATUSES if counts[s] or s in ("run", "hit")
        )
    width = max(150.0, max(char * max(len(s) + 2, len(lines[s])) for s in graph.stages) + 24)
    tallest = max(len(layer) for layer in layers)
    total_height = tallest * height + (tallest - 1) * gap_y + 2 * pad
    total_width = len(layers) * width + (len(layers) - 1) * gap_x + 2 * pad
    where: dict[str, tuple[float, float]] = {}
    for column, layer in enumerate(layers):
        span = len(layer) * height + (len(layer) - 1) * gap_y
        top = (total_height - span) / 2
        for row, stage in enumerate(layer):
            where[stage] = (pad + column * (width + gap_x), top + row * (height + gap_y))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="dag" role="img" '
        f'aria-label="stage graph" width="{total_width:.0f}" height="{total_height:.0f}" '
        f'viewBox="0 0 {total_width:.0f} {total_height:.0f}">',
        '<defs><marker id="dag-arrow" viewBox="0 0 10 10" refX="10" refY="5" '
        'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
        '<path d="M0,0 L10,5 L0,10 z" fill="#607d8b"/></marker></defs>',
    ]
    for (source, target), names in sorted(graph.edges.items()):
        (x1, y1), (x2, y2) = where[source], where[target]
        x1, y1, y2 = x1 + width, y1 + height / 2, y2 + height / 2
        bend = max(30.0, (x2 - x1) / 2)
        label = ", ".join(sorted(names))
        parts.append(
            f'<g class="dag-edge"><title>{_e(source)} → {_e(target)}: {_e(label)}</title>'
            f'<path d="M{x1:.1f},{y1:.1f} C{x1 + bend:.1f},{y1:.1f} {x2 - bend:.1f},{y2:.1f} '
            f'{x2:.1f},{y2:.1f}" fill="none" stroke="#607d8b" stroke-width="1.5" '
            'marker-end="url(#dag-arrow)"/>'
            f'<text x="{(x1 + x2) / 2:.1f}" y="{(y1 + y2) / 2 - 5:.1f}" text-anchor="middle" '
            f'font-size="11" fill="#455a64">{_e(label)}</text></g>'
        )
    for stage in graph.stages:
        x, y = where[stage]
        counts = graph.counts[stage]
        failed = counts["failed"] > 0
        runs = counts["run"]
        mean = f", {graph.seconds[stage] / runs:.3g} s per run" if runs else ""
        tip = ", ".join(f"{counts[s]} {_LABELS[s]}" for s in _STATUSES) + mean
        parts.append(
            f'<g class="dag-node" data-stage="{_e(stage)}"><title>{_e(stage)}: {_e(tip)}</title>'
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{width:.1f}" height="{height}" rx="8" '
            f'fill="{"#ffebee" if failed else "#eef4fb"}" '
            f'stroke="{_COLORS["failed"] if failed else "#5c7fa3"}" stroke-width="1.5"/>'
            f'<text x="{x + width / 2:.1f}" y="{y + 23:.1f}" text-anchor="middle" '
            f'font-size="14" font-weight="bold" fill="#1a2733">{_e(stage)}</text>'
            f'<text x="{x + width / 2:.1f}" y="{y + 43:.1f}" text-anchor="middle" font-size="12">'
        )
        shown = [s for s in _STATUSES if counts[s] or s in ("run", "hit")]
        for i, status in enumerate(shown):
            separator = " · " if i else ""
            parts.append(
                f'<tspan fill="#333">{separator}</tspan>'
                f'<tspan fill="{_COLORS[status]}">{counts[status]} {_LABELS[status]}</tspan>'
            )
        parts.append("</text></g>")
    parts.append("</svg>")
    return "".join(parts)
