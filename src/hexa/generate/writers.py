"""The seam to a language model: the protocol a model implements, the prompts Hexa sends
it, and the checks on what it writes back. No model lives here."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from typing import Protocol

from hexa.errors import WriterError
from hexa.generate.codegen import one_line
from hexa.generate.steps import StepSpec


class TextModel(Protocol):
    """A text model: given a system prompt and a user prompt, the reply text.

    Hexa's model providers (builtin, OpenAI, Anthropic, OpenAI-compatible) are wired to this
    by the agent layer; tests use scripted fakes.
    """

    async def complete(self, system: str, prompt: str) -> str: ...


async def ask(model: TextModel, system: str, prompt: str, timeout: float) -> str:
    """One model call with a deadline; failures become WriterError."""
    try:
        return await asyncio.wait_for(model.complete(system, prompt), timeout)
    except TimeoutError as exc:
        raise WriterError(f"the model did not answer within {timeout:g} s") from exc
    except WriterError:
        raise
    except Exception as exc:
        raise WriterError(f"the model failed: {exc!r}") from exc


CELL_SYSTEM = """\
You write the Python code of ONE cell of a marimo notebook. marimo runs cells as a dataflow \
graph: every top-level name a cell assigns is shared with the other cells, and a name may be \
assigned by only one cell.
Rules:
- Reply with the cell's Python code only, no explanation.
- Assign the variable you are asked to define, at the top level of the cell.
- Read only the input variables you are given (marimo itself is available as `mo`).
- Give every other top-level name a leading underscore, imports and loop variables too \
(`import pandas as _pd`, `for _i in ...`), so it stays private to the cell.
- Do not assign the input variables, and do not use `return` at the top level.
- The cell must run offline, without files or network, unless the step says otherwise."""

NOTEBOOK_SYSTEM = """\
You write complete marimo notebooks (marimo 0.25). Reply with the notebook file only, \
as Python source in this shape:

import marimo

app = marimo.App()


@app.cell
def _():
    import marimo as mo
    return (mo,)


@app.cell
def _(mo):
    mo.md("# Title")
    return


if __name__ == "__main__":
    app.run()

Rules: each `@app.cell` function is a cell; a top-level name may be assigned in only one \
cell (prefix cell-private names with `_`); cells read other cells' names as plain \
variables; imports go in cells; the last expression of a cell is its output; the \
notebook must run offline, without files or network."""


def cell_prompt(step: StepSpec, steps: Sequence[StepSpec], title: str) -> str:
    labels = {s.node_id: s.label for s in steps}
    lines = [
        f"Notebook: {one_line(title)}",
        f"Step {step.node_id}: {one_line(step.label)}",
        f"Define the variable `{step.variable}`.",
    ]
    if step.inputs:
        lines.append("Inputs (read these; they hold the results of earlier steps):")
        for item in step.inputs:
            text = f'- `{item.variable}`: the result of step "{one_line(item.label)}"'
            if item.decision:
                names = " or ".join(f'"{one_line(b.name)}"' for b in item.branches)
                text += (
                    f" (a decision; this step runs only on its branch {names}, "
                    "Hexa adds that check around your code)"
                )
            elif item.edge_labels:
                text += f" (edge: {', '.join(one_line(x) for x in item.edge_labels)})"
            lines.append(text)
    else:
        lines.append("Inputs: none; this is a first step.")
    if step.successors:
        used_by = ", ".join(f'"{one_line(labels.get(s, s))}"' for s in step.successors)
        lines.append(f"Used by the steps: {used_by}.")
    if step.decision and step.branches:
        if step.boolean_decision:
            choices = "; ".join(f'{b.value} takes "{one_line(b.name)}"' for b in step.branches)
            lines.append(f"This step is a decision: set `{step.variable}` to a bool. {choices}.")
        else:
            choices = ", ".join(f'"{b.name}"' for b in step.branches)
            lines.append(
                f"This step is a decision: set `{step.variable}` to one of {choices} "
                "(the branch to take)."
            )
    return "\n".join(lines)


def cell_repair_prompt(
    step: StepSpec, steps: Sequence[StepSpec], title: str, code: str, problem: str
) -> str:
    return (
        f"{cell_prompt(step, steps, title)}\n\n"
        f"Your previous code for this cell was:\n```python\n{code}\n```\n"
        f"It has this problem:\n{problem}\n\n"
        "Reply with the corrected code of the cell only."
    )


def notebook_prompt(request: str) -> str:
    return f"Write a marimo notebook for this request:\n\n{request}"


def notebook_repair_prompt(request: str, text: str, problems: Sequence[str]) -> str:
    listed = "\n".join(f"- {p}" for p in problems)
    return (
        f"{notebook_prompt(request)}\n\n"
        f"Your previous notebook was:\n```python\n{text}\n```\n"
        f"It has these problems:\n{listed}\n\n"
        "Reply with the whole corrected notebook file only."
    )


def strip_code_fence(reply: str) -> str:
    """The code inside the first ``` fence, or the reply itself when there is none."""
    match = re.search(r"^[ \t]*```[\w+-]*[^\n]*\n(.*?)^[ \t]*```", reply, re.M | re.S)
    if match:
        return match.group(1).strip("\n")
    return reply.strip("\n")


def check_cell_code(step: StepSpec, code: str, variables: Sequence[str]) -> list[str]:
    """What breaks the step's contract, in words a model can act on; [] when nothing does.

    Uses marimo's own compiler for the names a cell defines and reads, so the check agrees
    with the dependency graph marimo will build.
    """
    from marimo._ast.compiler import compile_cell

    if not code.strip():
        return [f"The cell is empty; it must assign `{step.variable}`."]
    try:
        cell = compile_cell(code, "hexa_check")
    except SyntaxError as exc:
        return [f"SyntaxError: {exc.msg} (line {exc.lineno})"]
    defs: set[str] = set(cell.defs)
    refs: set[str] = set(cell.refs)
    inputs = {item.variable for item in step.inputs}
    problems = []
    if step.variable not in defs:
        problems.append(f"The cell must assign `{step.variable}` at the top level.")
    if reassigned := sorted(defs & inputs):
        problems.append(f"The cell assigns its inputs {_names(reassigned)}; only read them.")
    if extra := sorted(d for d in defs - inputs - {step.variable} if not d.startswith("_")):
        problems.append(
            f"The cell also defines {_names(extra)} at the top level; other cells may define "
            "those too. Prefix them with an underscore to keep them private to the cell."
        )
    # Under a guard the `if` already reads every input; otherwise the body must, or marimo's
    # graph would miss the chart's edge.
    if step.guard is None and (unread := sorted(inputs - refs)):
        problems.append(
            f"The cell must read its inputs {_names(unread)}: the notebook's dependencies "
            "are the chart's edges."
        )
    foreign = set(variables) - inputs - {step.variable}
    if read := sorted(refs & foreign):
        problems.append(
            f"The cell reads {_names(read)}, which are not its inputs; use only "
            f"{_names(sorted(inputs)) if inputs else 'no other steps'}."
        )
    return problems


def _names(names: Sequence[str]) -> str:
    return ", ".join(f"`{n}`" for n in names)
