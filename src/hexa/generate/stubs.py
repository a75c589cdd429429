"""Cell code for flowchart steps: the offline stub bodies, the comments and branch guards
around any body (stub or model-written), and the notebook that holds them."""

from __future__ import annotations

import html
import textwrap
from collections.abc import Mapping, Sequence

from hexa.generate.codegen import CellSource, build_notebook, one_line, py_str, py_string_literal
from hexa.generate.steps import Branch, StepInput, StepSpec


def stub_body(step: StepSpec) -> str:
    """A body that runs without error and reads every plain input (decision inputs are read
    by the guard)."""
    plain = [i.variable for i in step.inputs if not i.decision]
    if step.decision:
        lines = [f"_inputs = [{', '.join(plain)}]"] if plain else []
        first = step.branches[0] if step.branches else None
        if step.boolean_decision:
            taken = f' (takes "{one_line(first.name, 60)}")' if first else ""
            lines.append(f"{step.variable} = True  # stub condition{taken}")
        else:
            assert first is not None  # a non-boolean decision has three or more branches
            lines.append(f"{step.variable} = {py_str(first.name)}  # stub: always the first branch")
        return "\n".join(lines)
    value = f'{{"step": {py_str(step.label)}, "inputs": [{", ".join(plain)}]}}'
    if not plain:
        value = f'{{"step": {py_str(step.label)}}}'
    return f"{step.variable} = {value}"


def cell_code(step: StepSpec, body: str, steps: Sequence[StepSpec]) -> str:
    """`body` with comments naming the node, its inputs and edge labels, under the guard."""
    labels = {s.node_id: s.label for s in steps}
    comments = [f"# Step {step.node_id}: {one_line(step.label, 120)}"]
    if step.inputs:
        comments.append(f"# Reads: {'; '.join(_describe_input(i) for i in step.inputs)}")
    if step.decision and step.branches:
        comments.append(
            f"# Decision: {'; '.join(_describe_branch(step, b, labels) for b in step.branches)}"
        )
    body = body.strip("\n")
    if step.guard is None:
        return "\n".join([*comments, body])
    return "\n".join(
        [
            *comments,
            f"if {step.guard}:",
            textwrap.indent(body, "    ") if body.strip() else "    pass",
            "else:",
            f"    {step.variable} = None  # branch not taken",
        ]
    )


def chart_cell(chart_text: str, title: str) -> CellSource:
    """The first cell: a heading and the chart rendered by marimo."""
    heading = py_string_literal(f"# {html.escape(one_line(title), quote=False)}")
    chart = py_string_literal(chart_text.replace("\r\n", "\n").replace("\r", "\n").strip())
    code = f"import marimo as mo\n\nmo.vstack([mo.md({heading}), mo.mermaid({chart})])"
    return CellSource(code=code, hide_code=True)


def flowchart_notebook(
    chart_text: str, title: str, steps: Sequence[StepSpec], bodies: Mapping[str, str]
) -> str:
    """The notebook: the chart cell, then one cell per step (named after its variable), with
    `bodies[node_id]` or the stub body."""
    cells = [chart_cell(chart_text, title)]
    for step in steps:
        body = bodies.get(step.node_id)
        code = cell_code(step, stub_body(step) if body is None else body, steps)
        cells.append(CellSource(code=code, name=step.variable))
    return build_notebook(cells)


def _describe_input(item: StepInput) -> str:
    text = f"{item.variable} ({one_line(item.label, 60)})"
    if item.decision and item.branches:
        names = " or ".join(f'"{one_line(b.name, 60)}"' for b in item.branches)
        return f"{text} on branch {names}"
    if item.edge_labels:
        return f"{text} via {' / '.join(repr(one_line(x, 60)) for x in item.edge_labels)}"
    return text


def _describe_branch(step: StepSpec, branch: Branch, labels: Mapping[str, str]) -> str:
    targets = ", ".join(f"{t} ({one_line(labels.get(t, t), 40)})" for t in branch.targets)
    if step.boolean_decision:
        return f'{branch.value} takes "{one_line(branch.name, 60)}" -> {targets}'
    return f'"{one_line(branch.name, 60)}" -> {targets}'
