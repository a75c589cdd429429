"""The offline notebook for a request that names a table operation (see `intent`): cells
that load the data, filter, aggregate and chart exactly what was asked, with notes that
say what was understood and what was not."""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path

from hexa.generate.codegen import CellSource, build_notebook, markdown_cell, one_line, py_str
from hexa.generate.data_files import read_columns
from hexa.generate.frame_code import (
    CHART_NAMES,
    aggregate,
    chart_lines,
    describe_aggregate,
    describe_condition,
    filter_expr,
    read_call,
    settle_chart,
)
from hexa.generate.intent import Aggregation, Intent, fit_columns, is_time_like, read_intent

# Variable names of the aggregate cell: grouped (a table) and whole-table (one value).
_GROUPED_NAMES: dict[Aggregation, str] = {
    "sum": "totals",
    "mean": "averages",
    "count": "counts",
    "max": "maxima",
    "min": "minima",
    "median": "medians",
}
_SINGLE_NAMES: dict[Aggregation, str] = {
    "sum": "total",
    "mean": "average",
    "count": "row_count",
    "max": "maximum",
    "min": "minimum",
    "median": "median",
}
_SAMPLE_NUMBERS = (120, 98, 143, 87, 135, 110, 150, 95)


@dataclass(frozen=True)
class RequestNotebook:
    text: str
    notes: tuple[str, ...]


def request_notebook(prompt: str, folder: Path | None = None) -> RequestNotebook | None:
    """The notebook for `prompt` when it names a data file, or a grouping or chart over
    named columns; None when it asks for nothing this can read (a template fits better).

    With `folder` (the notebook's own folder, where a relative file name points), the
    header of a CSV named in the prompt is read to match the columns it names.
    """
    intent = read_intent(prompt)
    if not intent.actionable:
        return None
    if folder is not None and intent.file is not None:
        columns = read_columns(folder, intent.file)
        if columns is not None:
            intent = fit_columns(intent, columns, intent.file)
    return _Writer(prompt, intent).write()


class _Writer:
    def __init__(self, prompt: str, intent: Intent) -> None:
        self.prompt = prompt
        self.intent = intent
        self.understood: list[str] = []
        self.chosen: list[str] = []  # defaults picked where the request said nothing
        self.cells: list[CellSource] = []

    def write(self) -> RequestNotebook:
        intent = self.intent
        frame = self._load()
        if intent.condition is not None:
            self.cells.append(_show("filtered", filter_expr(frame, intent.condition)))
            self.understood.append(describe_condition(intent.condition))
            frame = "filtered"
        data, x, y, grouped = self._aggregate(frame)
        if intent.chart is not None:
            self._chart(frame, data, x, y, grouped)
        notes = self._notes()
        heading = markdown_cell(f"# {html.escape(one_line(self.prompt), quote=False)}")
        request = html.escape(one_line(self.prompt, 1000), quote=False)
        explained = " ".join(notes)
        imports = ["import pandas as pd"]
        if intent.chart is not None:
            imports.append("import matplotlib.pyplot as plt")
        cells = [
            heading,
            markdown_cell(f"_{html.escape(explained, quote=False)}_\n\n> {request}"),
            CellSource(code="import marimo as mo", hide_code=True),
            CellSource(code="\n".join(imports)),
            *self.cells,
        ]
        return RequestNotebook(build_notebook(cells), tuple(notes))

    def _load(self) -> str:
        intent = self.intent
        if intent.file is not None:
            self.cells.append(_show("df", read_call("pd", intent.file)))
            self.understood.append(f"read {intent.file}")
            return "df"
        columns = intent.columns()
        self.chosen.append(
            "No data file was named, so the notebook starts from sample rows with the "
            f"columns {', '.join(columns)}; replace them with your own data."
        )
        code = (
            "# Sample rows with the columns the request names; replace with your own data,\n"
            '# e.g. df = pd.read_csv("data.csv") for a file in this notebook\'s folder.\n'
            f"df = pd.DataFrame({_sample_columns(intent)})\ndf"
        )
        self.cells.append(CellSource(code=code))
        return "df"

    def _aggregate(self, frame: str) -> tuple[str, str | None, str | None, bool]:
        """The aggregate cell, if any; returns the table to chart, its x and y columns, and
        whether it is the grouped table."""
        intent = self.intent
        how = intent.aggregation
        if intent.group is not None and how is None:
            if intent.measure is not None:
                how = "sum"
                self.chosen.append(f"No aggregation was named, so {intent.measure} is summed.")
            else:
                how = "count"
                self.chosen.append("Nothing to aggregate was named, so rows are counted.")
        if how is None:
            if intent.chart is None:
                self.cells.append(CellSource(code=f"{frame}.describe()"))
                self.understood.append("a summary of the table")
            return frame, intent.x, intent.measure, False
        made = aggregate(frame, intent.group, how, intent.measure)
        self.understood.append(describe_aggregate(intent.group, how, intent.measure))
        if not made.grouped:
            self.cells.append(_show(_SINGLE_NAMES[how], made.expr))
            return frame, intent.x, intent.measure, False
        name = _GROUPED_NAMES[how]
        self.cells.append(_show(name, made.expr))
        return name, intent.group, made.value_column, True

    def _chart(self, rows: str, data: str, x: str | None, y: str | None, grouped: bool) -> None:
        """The chart cell: of the grouped table, or of the rows for a histogram or a scatter
        (which show single rows, not groups)."""
        intent = self.intent
        assert intent.chart is not None
        kind = settle_chart(intent.chart, x, grouped=grouped, time_like=is_time_like(x))
        if intent.chart == "plot":
            self.chosen.append(f"No chart kind was named, so it is a {CHART_NAMES[kind]}.")
        if kind in ("hist", "scatter") and grouped:
            data, x, y = rows, intent.x, intent.measure
        what = CHART_NAMES[kind]
        if kind == "hist" and y is not None:
            what = f"histogram of {y}"
        elif kind == "scatter" and y is not None and x is not None:
            what = f"scatter plot of {y} against {x}"
        self.understood.append(what)
        title = self._title(kind, x, y)
        lines = chart_lines(data, kind, x, y, title)
        self.cells.append(CellSource(code="\n".join([*lines, "fig"])))

    def _title(self, kind: str, x: str | None, y: str | None) -> str:
        intent = self.intent
        if kind == "hist":
            return f"Distribution of {y}" if y else "Distribution"
        if intent.group is not None and intent.aggregation == "count":
            return f"Rows per {intent.group}"
        if intent.group is not None:
            how = intent.aggregation or "sum"
            return describe_aggregate(intent.group, how, intent.measure).capitalize()
        if y is not None and x is not None:
            return f"{y} against {x}"
        return y or "Chart"

    def _notes(self) -> list[str]:
        intent = self.intent
        notes = [f"Written offline from the request: {'; '.join(self.understood)}."]
        notes += self.chosen
        notes += intent.notes
        if intent.file is not None and not any(intent.file in n for n in intent.notes):
            columns = ", ".join(intent.columns())
            if columns:
                notes.append(
                    f"The columns {columns} were not checked against {intent.file}; "
                    "the cells fail until its columns match."
                )
        if intent.unread:
            words = ", ".join(f'"{w}"' for w in intent.unread[:12])
            notes.append(f"Not understood, so left out: {words}.")
        return notes


def _show(name: str, expr: str) -> CellSource:
    """A cell that defines `name` and shows it."""
    return CellSource(code=f"{name} = {expr}\n{name}")


def _sample_columns(intent: Intent) -> str:
    """A dict literal of eight sample rows: numbers for measured columns, labels for the
    ones grouped or compared with text."""
    numeric = {intent.measure, intent.x} - {None}
    condition = intent.condition
    if condition is not None and not isinstance(condition.value, str):
        numeric.add(condition.column)
    items = []
    for k, column in enumerate(intent.columns()):
        if column in numeric and column != intent.group:
            values = [n * (k + 1) for n in _SAMPLE_NUMBERS]
            items.append(f"{py_str(column)}: {values}")
            continue
        labels = ["A", "B", "C", "D"]
        if is_time_like(column):
            labels = ["2024-01", "2024-02", "2024-03", "2024-04"]
        if condition is not None and condition.column == column:
            labels[0] = str(condition.value)
        listed = ", ".join(py_str(labels[i % 4]) for i in range(8))
        items.append(f"{py_str(column)}: [{listed}]")
    return "{" + ", ".join(items) + "}"
