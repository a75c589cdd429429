"""pandas and matplotlib code for the table operations a request or a label asks for:
reading a file, one filter, a grouped aggregation, a chart. Shared by the prompt notebook
and the flowchart steps, which differ only in the names they give things."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath

from hexa.generate.codegen import one_line, py_str
from hexa.generate.intent import AGGREGATION_WORDS, Aggregation, ChartKind, Condition

CHART_NAMES: dict[ChartKind, str] = {
    "bar": "bar chart",
    "line": "line chart",
    "scatter": "scatter plot",
    "hist": "histogram",
    "pie": "pie chart",
    "plot": "chart",
}


def read_call(pd: str, file: str) -> str:
    """`pd.read_csv("sales.csv")`, or the reader for the file's suffix."""
    suffix = PurePosixPath(file).suffix.lower()
    if suffix == ".tsv":
        return f'{pd}.read_csv({py_str(file)}, sep="\\t")'
    reader = {".parquet": "read_parquet", ".json": "read_json"}.get(suffix, "read_csv")
    return f"{pd}.{reader}({py_str(file)})"


def filter_expr(frame: str, condition: Condition) -> str:
    value = condition.value
    literal = py_str(value) if isinstance(value, str) else repr(value)
    return f"{frame}[{frame}[{py_str(condition.column)}] {condition.operator} {literal}]"


def describe_condition(condition: Condition) -> str:
    return f"rows where {condition.column} {condition.operator} {condition.value}"


@dataclass(frozen=True)
class Aggregate:
    """A grouped or whole-table aggregation: its expression, and the column holding the
    result (None when every numeric column is aggregated)."""

    expr: str
    value_column: str | None
    grouped: bool


def aggregate(frame: str, group: str | None, how: Aggregation, measure: str | None) -> Aggregate:
    if group is not None:
        by = f"{frame}.groupby({py_str(group)})"
        if how == "count":
            return Aggregate(f'{by}.size().reset_index(name="count")', "count", True)
        if measure is not None:
            return Aggregate(f"{by}[{py_str(measure)}].{how}().reset_index()", measure, True)
        return Aggregate(f"{by}.{how}(numeric_only=True).reset_index()", None, True)
    if how == "count":
        return Aggregate(f"len({frame})", None, False)
    if measure is not None:
        return Aggregate(f"{frame}[{py_str(measure)}].{how}()", measure, False)
    return Aggregate(f"{frame}.{how}(numeric_only=True)", None, False)


def describe_aggregate(group: str | None, how: Aggregation, measure: str | None) -> str:
    if how == "count":
        return f"count of rows per {group}" if group else "count of rows"
    what = f"{AGGREGATION_WORDS[how]} {measure}" if measure else f"{AGGREGATION_WORDS[how]}s"
    return f"{what} by {group}" if group else what


def chart_lines(
    frame: str,
    kind: ChartKind,
    x: str | None,
    y: str | None,
    title: str,
    *,
    plt: str = "plt",
    fig: str = "fig",
    ax: str = "ax",
) -> list[str]:
    """Code that draws `frame` as a `kind` chart of `y` against `x` on a new figure. A
    missing `y` plots every numeric column (through pandas); a missing `x`, the index."""
    xs = f"{frame}[{py_str(x)}]" if x is not None else f"{frame}.index"
    lines = [f"{fig}, {ax} = {plt}.subplots()"]
    if y is None:
        pandas_kind = {"hist": "hist", "bar": "bar", "pie": "bar", "scatter": "line"}.get(
            kind, "line"
        )
        x_arg = f"x={py_str(x)}, " if x is not None else ""
        lines.append(f"{frame}.plot({x_arg}kind={py_str(pandas_kind)}, ax={ax})")
    else:
        ys = f"{frame}[{py_str(y)}]"
        if kind == "hist":
            lines.append(f"{ax}.hist({ys}.dropna(), bins=20)")
        elif kind == "scatter":
            lines.append(f"{ax}.scatter({xs}, {ys})")
        elif kind == "pie":
            lines.append(f'{ax}.pie({ys}, labels={xs}.astype(str), autopct="%1.0f%%")')
        elif kind == "bar":
            lines.append(f"{ax}.bar({xs}.astype(str), {ys})")
        else:
            lines.append(f'{ax}.plot({xs}, {ys}, marker="o")')
    lines.append(f"{ax}.set_title({py_str(one_line(title, 80))})")
    if kind == "hist":
        lines += [f"{ax}.set_xlabel({py_str(y or 'value')})", f'{ax}.set_ylabel("rows")']
    elif kind != "pie":
        if x is not None:
            lines.append(f"{ax}.set_xlabel({py_str(x)})")
        if y is not None:
            lines.append(f"{ax}.set_ylabel({py_str(y)})")
    return lines


def settle_chart(kind: ChartKind, x: str | None, *, grouped: bool, time_like: bool) -> ChartKind:
    """The concrete chart for a bare "plot": over groups, a line in time and bars otherwise;
    over raw rows, points against another column, else a line along the rows."""
    if kind != "plot":
        return kind
    if grouped:
        return "line" if time_like else "bar"
    return "scatter" if x is not None else "line"
