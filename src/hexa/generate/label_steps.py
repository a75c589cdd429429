"""Flowchart steps written from their labels, offline: "Load sales.csv", "Sum amount by
month", "Filter amount > 10", "Plot monthly totals", "Show table".

A step is written only when its label says clearly what to do and, for a step on a table,
when the table it reads comes from a step written this way (a stub's value is no table).
Every body meets the contract model-written cells meet (`check_cell_code`); one that does
not is left to its stub.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from hexa.generate.codegen import one_line
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
from hexa.generate.intent import (
    Intent,
    closest_column,
    fit_columns,
    is_time_like,
    read_intent,
)
from hexa.generate.steps import StepSpec
from hexa.generate.writers import check_cell_code

ColumnsOf = Callable[[str], tuple[str, ...] | None]

_SHOW_WORDS = frozenset({"show", "display", "view", "preview", "print", "output"})


@dataclass(frozen=True)
class LabelBody:
    """A step's body written from its label, and what it does in words."""

    code: str
    summary: str


@dataclass(frozen=True)
class _Held:
    """What a written step's variable holds, for the steps that read it."""

    kind: Literal["table", "other"]
    columns: tuple[str, ...] | None = None  # known names, when the file's header was read
    group: str | None = None
    value: str | None = None  # the aggregated column


def label_bodies(
    steps: Sequence[StepSpec], columns_of: ColumnsOf | None = None
) -> dict[str, LabelBody]:
    """node id -> body for each step whose label can be written as code. `columns_of(file)`
    gives a data file's columns when they can be read."""
    variables = [s.variable for s in steps]
    held: dict[str, _Held] = {}
    bodies: dict[str, LabelBody] = {}
    for step in steps:
        if step.decision:
            continue
        made = _write(step, read_intent(step.label), held, columns_of)
        if made is None:
            continue
        body, holds = made
        if check_cell_code(step, body.code, variables):
            continue  # the stub keeps the contract; a body that breaks it is not used
        bodies[step.node_id] = body
        held[step.node_id] = holds
    return bodies


def _write(
    step: StepSpec, intent: Intent, held: dict[str, _Held], columns_of: ColumnsOf | None
) -> tuple[LabelBody, _Held] | None:
    plain = [i.variable for i in step.inputs if not i.decision]
    if intent.file is not None and not (intent.group or intent.aggregation or intent.chart):
        lines = ["import pandas as _pd", f"{step.variable} = {read_call('_pd', intent.file)}"]
        columns = columns_of(intent.file) if columns_of is not None else None
        return _finish(step, lines, plain, f"reads {intent.file}"), _Held("table", columns)
    source = next(
        (i for i in step.inputs if not i.decision and _is_table(held.get(i.node_id))), None
    )
    if source is None:
        return None
    table = held[source.node_id]
    others = [v for v in plain if v != source.variable]
    fitted = _fit(intent, table.columns)
    if fitted is None:
        return None
    intent = fitted
    frame, var = source.variable, step.variable
    if intent.chart is not None:
        return _chart(step, intent, frame, table, others)
    if intent.group is not None or intent.aggregation is not None:
        how = intent.aggregation or "sum"
        made = aggregate(frame, intent.group, how, intent.measure)
        lines = [f"{var} = {made.expr}"]
        summary = describe_aggregate(intent.group, how, intent.measure)
        if not made.grouped:
            return _finish(step, lines, others, summary), _Held("other")
        value = made.value_column
        columns = (intent.group, value) if intent.group and value else None
        holds = _Held("table", columns, intent.group, made.value_column)
        return _finish(step, lines, others, summary), holds
    if intent.condition is not None:
        lines = [f"{var} = {filter_expr(frame, intent.condition)}"]
        summary = f"keeps the {describe_condition(intent.condition)}"
        return _finish(step, lines, others, summary), table
    words = step.label.lower().split()
    if words and words[0] in _SHOW_WORDS and not intent.unread:
        return _finish(step, [f"{var} = {frame}"], others, f"shows {frame}"), table
    return None


def _chart(
    step: StepSpec, intent: Intent, frame: str, table: _Held, others: list[str]
) -> tuple[LabelBody, _Held]:
    """A figure of the input table, grouped first when the label groups it differently."""
    assert intent.chart is not None
    lines = ["import matplotlib.pyplot as _plt"]
    data, x, y = frame, intent.x or table.group, intent.measure or table.value
    grouped = table.group is not None
    if intent.group is not None and intent.group != table.group:
        how = intent.aggregation or ("sum" if intent.measure else "count")
        made = aggregate(frame, intent.group, how, intent.measure)
        lines.append(f"_data = {made.expr}")
        data, x, y, grouped = "_data", intent.group, made.value_column, True
    kind = settle_chart(intent.chart, x, grouped=grouped, time_like=is_time_like(x))
    title = one_line(step.label, 80)
    lines += chart_lines(data, kind, x, y, title, plt="_plt", fig="_fig", ax="_ax")
    lines.append(f"{step.variable} = _fig")
    return _finish(step, lines, others, f"draws a {CHART_NAMES[kind]}"), _Held("other")


def _finish(step: StepSpec, lines: list[str], unused: list[str], summary: str) -> LabelBody:
    """The body, reading the inputs it does not use (the chart's edges stay the notebook's
    dependencies) and showing the step's value; the summary names the label's words that
    were left out."""
    if unused:
        lines = [f"_after = ({', '.join(unused)},)  # runs after these steps", *lines]
    unread = read_intent(step.label).unread
    if unread:
        summary += f" (left out: {', '.join(unread)})"
    return LabelBody("\n".join([*lines, step.variable]), summary)


def _is_table(held: _Held | None) -> bool:
    return held is not None and held.kind == "table"


def _fit(intent: Intent, columns: tuple[str, ...] | None) -> Intent | None:
    """The intent with the real column names, when they are known; None when a name
    matches no column (the step would fail, so it stays a stub)."""
    if columns is None:
        return intent
    if any(closest_column(name, columns) is None for name in intent.columns()):
        return None
    return fit_columns(intent, columns, "the table")


def label_notes(steps: Sequence[StepSpec], bodies: dict[str, LabelBody]) -> tuple[str, ...]:
    """Which steps were written from their labels (and what they do), and which are stubs
    to fill in, in sentences."""
    written = [
        f'{s.node_id} ("{one_line(s.label, 60)}") {bodies[s.node_id].summary}'
        for s in steps
        if s.node_id in bodies
    ]
    stubs = [
        f'{s.node_id} ("{one_line(s.label, 60)}"{", a decision" if s.decision else ""})'
        for s in steps
        if s.node_id not in bodies
    ]
    notes = []
    if written:
        notes.append(f"Written from their labels: {'; '.join(written)}.")
    if stubs:
        notes.append(
            f"Stubs to fill in (their labels say nothing this can write offline): "
            f"{'; '.join(stubs)}."
        )
    return tuple(notes)


def label_codes(bodies: dict[str, LabelBody]) -> dict[str, str]:
    """The code of each node's cell, by node id."""
    return {node_id: body.code for node_id, body in bodies.items()}
