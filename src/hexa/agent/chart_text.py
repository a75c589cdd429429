"""Charts in words: what a person sees in a plot (its kind, title, axes and series), from
the chart objects the kernel holds (`NotebookClient.describe_charts`), since a PNG alone
tells a model nothing unless it takes images."""

from __future__ import annotations

from collections.abc import Mapping

from hexa.marimo.models import Chart, ChartAxes

# Variable types (marimo's `datatype`) that can hold a chart.
CHART_TYPES = frozenset(
    {"Figure", "Axes", "AxesSubplot", "Chart", "LayerChart", "HConcatChart", "VConcatChart"}
)
_KINDS = {
    "line": "line chart",
    "bar": "bar chart",
    "scatter": "scatter plot",
    "pie": "pie chart",
    "image": "image (heatmap)",
    "point": "scatter plot",
    "circle": "scatter plot",
    "area": "area chart",
    "histogram": "histogram",
}


def _kind(kind: str) -> str:
    return _KINDS.get(kind, f"{kind} chart")


def _axes(axes: ChartAxes) -> str:
    kinds = list(dict.fromkeys(_kind(s["kind"]) for s in axes["series"])) or ["empty plot"]
    parts = [" and ".join(kinds)]
    if axes["title"]:
        parts.append(f"titled '{axes['title']}'")
    if axes["xlabel"]:
        parts.append(f"x axis '{axes['xlabel']}'")
    if axes["ylabel"]:
        parts.append(f"y axis '{axes['ylabel']}'")
    series = []
    for s in axes["series"]:
        points = f"{s['points']} points" if s["points"] is not None else ""
        named = f"'{s['label']}'" if s["label"] else _kind(s["kind"]).split()[0]
        series.append(f"{named} ({points})" if points else named)
    if series:
        parts.append("series: " + ", ".join(series))
    if axes["xticks"]:
        parts.append("x ticks: " + ", ".join(axes["xticks"]))
    return "; ".join(parts)


def describe_chart(name: str, chart: Chart) -> str:
    """`fig`: a matplotlib line chart titled 'Monthly totals'; x axis 'month'; ..."""
    head = f"`{name}`: a {chart['library']} "
    if chart["title"]:
        head += f"figure titled '{chart['title']}' with "
    if len(chart["axes"]) == 1:
        return head + _axes(chart["axes"][0])
    shown = [f"({i}) {_axes(a)}" for i, a in enumerate(chart["axes"][:6], 1)]
    return head + f"{len(chart['axes'])} plots: " + " ".join(shown)


def describe_charts(charts: Mapping[str, Chart]) -> list[str]:
    return [describe_chart(name, chart) for name, chart in charts.items()]
