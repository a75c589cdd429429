"""Charts in words, from the descriptions the kernel gives (`describe_charts`)."""

from __future__ import annotations

from hexa.agent.chart_text import describe_chart
from hexa.marimo.models import Chart, ChartSeries


def test_a_line_chart_is_its_kind_title_axes_and_series() -> None:
    chart: Chart = {
        "library": "matplotlib",
        "title": "",
        "axes": [
            {
                "title": "Monthly totals",
                "xlabel": "month",
                "ylabel": "amount",
                "series": [{"kind": "line", "label": "amount", "points": 3}],
                "xticks": [],
            }
        ],
    }
    assert describe_chart("fig", chart) == (
        "`fig`: a matplotlib line chart; titled 'Monthly totals'; x axis 'month'; "
        "y axis 'amount'; series: 'amount' (3 points)"
    )


def test_subplots_and_unlabelled_series() -> None:
    bar: ChartSeries = {"kind": "bar", "label": "", "points": 2}
    chart: Chart = {
        "library": "matplotlib",
        "title": "Sales",
        "axes": [
            {"title": "", "xlabel": "", "ylabel": "", "series": [bar], "xticks": ["n", "s"]},
            {"title": "Share", "xlabel": "", "ylabel": "", "series": [], "xticks": []},
        ],
    }
    assert describe_chart("fig", chart) == (
        "`fig`: a matplotlib figure titled 'Sales' with 2 plots: "
        "(1) bar chart; series: bar (2 points); x ticks: n, s (2) empty plot; titled 'Share'"
    )
