"""Whole notebooks from a Mermaid flowchart or a prompt, offline or with a model.

Offline (no writer) the results are deterministic: for a flowchart, cells written from the
labels that say clearly what to do and stubs for the others; for a prompt, cells for the
table operation it names (see `intent`), else the nearest template. With a writer (a
`TextModel`), every reply is checked (contract, marimo's validator, an actual run) and the
errors go back to the model a bounded number of times; what still fails falls back to the
offline result, and the report says so.
"""

from __future__ import annotations

import asyncio
import html
from collections.abc import Coroutine, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from hexa.errors import InvalidNotebookError
from hexa.generate.codegen import one_line
from hexa.generate.data_files import read_columns
from hexa.generate.flowchart import Flowchart
from hexa.generate.importing import normalize_notebook_text
from hexa.generate.label_steps import label_bodies, label_codes, label_notes
from hexa.generate.mermaid import parse_mermaid
from hexa.generate.request_notebook import request_notebook
from hexa.generate.steps import StepSpec, plan_steps
from hexa.generate.stubs import flowchart_notebook
from hexa.generate.templates import get_template, match_template, render_template
from hexa.generate.trial_run import CellRunError, NotebookRunner, RunReport, SubprocessRunner
from hexa.generate.validation import ValidationResult, validate_notebook_async
from hexa.generate.writers import (
    CELL_SYSTEM,
    NOTEBOOK_SYSTEM,
    TextModel,
    ask,
    cell_prompt,
    cell_repair_prompt,
    check_cell_code,
    notebook_prompt,
    notebook_repair_prompt,
    strip_code_fence,
)

# "label": written offline from the node's label; "stub": to be filled in.
CellOrigin = Literal["stub", "label", "model", "fallback"]
ResultSource = Literal["builtin", "model", "fallback"]

DEFAULT_MODEL_TIMEOUT = 120.0
_CONCURRENT_CELL_REQUESTS = 4


@dataclass(frozen=True)
class CellReport:
    """How one flowchart step's cell was made: by the stub, from its label, by the model, or
    by the stub after the model's code kept failing (`errors` says why)."""

    node_id: str
    variable: str
    origin: CellOrigin
    attempts: int = 0  # model calls for this cell
    errors: tuple[str, ...] = ()


@dataclass(frozen=True)
class GenerationResult:
    """A generated notebook and how it came about.

    `source` is "builtin" (offline), "model", or "fallback" (the model's notebook never
    became valid, so this is the offline one). `remaining_errors` are problems left in
    `text` (run errors of a model notebook); for a flowchart, cells that failed were replaced
    by stubs, and `cells` tells which and why.
    """

    text: str
    source: ResultSource
    validation: ValidationResult
    run: RunReport | None = None
    flowchart: Flowchart | None = None
    steps: tuple[StepSpec, ...] = ()
    cells: tuple[CellReport, ...] = ()
    template: str | None = None
    model_calls: int = 0
    remaining_errors: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return self.validation.valid and not self.remaining_errors

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (without the parsed chart and steps)."""
        return {
            "text": self.text,
            "source": self.source,
            "ok": self.ok,
            "template": self.template,
            "model_calls": self.model_calls,
            "remaining_errors": list(self.remaining_errors),
            "notes": list(self.notes),
            "diagnostics": [d.to_dict() for d in self.validation.diagnostics],
            "run": self.run.to_dict() if self.run is not None else None,
            "cells": [asdict(c) for c in self.cells],
        }


# --- offline ------------------------------------------------------------------------------


def notebook_from_mermaid(text: str, title: str | None = None) -> str:
    """The offline notebook for a flowchart: the chart on top, one cell per node, written
    from its label where that is clear, else a stub.

    Raises MermaidSyntaxError or MermaidCycleError.
    """
    chart = parse_mermaid(text)
    steps = plan_steps(chart)
    bodies = label_bodies(steps)
    return flowchart_notebook(text, _chart_title(chart, title), steps, label_codes(bodies))


def notebook_from_prompt(prompt: str) -> tuple[str, str]:
    """The template notebook for a prompt: the nearest template, titled with the prompt and
    with a note on what a model would add. Returns (text, template id)."""
    template = match_template(prompt)
    request = html.escape(one_line(prompt, 1000), quote=False)
    note = (
        f"_Made offline from the **{template.title}** template, the closest match to the "
        "request. With a language model configured, Hexa writes the cells for the request "
        f"itself and checks that they run._\n\n> {request}"
    )
    return render_template(template.id, title=prompt, note=note), template.id


# --- from a flowchart ---------------------------------------------------------------------


async def generate_from_mermaid(
    text: str,
    writer: TextModel | None = None,
    *,
    max_repairs: int = 2,
    runner: NotebookRunner | None = None,
    title: str | None = None,
    model_timeout: float = DEFAULT_MODEL_TIMEOUT,
    folder: Path | None = None,
) -> GenerationResult:
    """A notebook for a Mermaid flowchart, one cell per node, dependencies = the edges.

    Without `writer`: cells written from the labels that say clearly what to do (reading
    the header of a CSV in `folder`, the notebook's folder, to match column names), stubs
    for the others; `notes` says which is which. With one: the model writes each cell's
    body (given the node's label, the variables it reads and the one it must define); each
    body is checked against that contract, then the notebook is validated and run (`runner`,
    by default a subprocess), and a failing cell's error is sent back up to `max_repairs`
    times before the cell falls back to its stub. Raises MermaidSyntaxError,
    MermaidCycleError, WriterError.
    """
    chart = parse_mermaid(text)
    steps = plan_steps(chart)
    heading = _chart_title(chart, title)
    if writer is None:
        columns_of = None if folder is None else (lambda name: read_columns(folder, name))
        bodies = await asyncio.to_thread(label_bodies, steps, columns_of)
        codes = label_codes(bodies)
        notebook = await asyncio.to_thread(flowchart_notebook, text, heading, steps, codes)
        return GenerationResult(
            text=notebook,
            source="builtin",
            validation=await validate_notebook_async(notebook),
            flowchart=chart,
            steps=steps,
            cells=tuple(
                CellReport(s.node_id, s.variable, "label" if s.node_id in bodies else "stub")
                for s in steps
            ),
            notes=label_notes(steps, bodies),
        )
    session = _FlowchartSession(writer, steps, heading, max_repairs, model_timeout)
    await session.write_all()
    run_with = runner or SubprocessRunner()
    notebook, validation, report = await session.settle(text, run_with)
    return GenerationResult(
        text=notebook,
        source="model",
        validation=validation,
        run=report,
        flowchart=chart,
        steps=steps,
        cells=session.reports(),
        model_calls=session.calls,
        remaining_errors=tuple(e.describe() for e in report.errors),
    )


@dataclass
class _CellState:
    step: StepSpec
    body: str | None = None  # None: the stub
    origin: CellOrigin = "stub"
    attempts: int = 0
    errors: list[str] = field(default_factory=list)


class _FlowchartSession:
    """The per-cell write/check/repair bookkeeping of one flowchart generation."""

    def __init__(
        self,
        writer: TextModel,
        steps: Sequence[StepSpec],
        title: str,
        max_repairs: int,
        timeout: float,
    ) -> None:
        self.writer = writer
        self.steps = steps
        self.title = title
        self.max_repairs = max(0, max_repairs)
        self.timeout = timeout
        self.calls = 0
        self.variables = [s.variable for s in steps]
        self.cells = {s.node_id: _CellState(s) for s in steps}
        self._limit = asyncio.Semaphore(_CONCURRENT_CELL_REQUESTS)

    async def write_all(self) -> None:
        await _all(self._write(state, problem=None) for state in self.cells.values())

    async def _write(self, state: _CellState, problem: str | None) -> None:
        """Ask for the cell (again, with `problem`) until it meets its contract, within the
        repair budget; otherwise the cell becomes its stub."""
        previous = state.body
        while True:
            if problem is None:
                prompt = cell_prompt(state.step, self.steps, self.title)
            else:
                state.errors.append(problem)
                prompt = cell_repair_prompt(
                    state.step, self.steps, self.title, previous or "", problem
                )
            async with self._limit:
                reply = await ask(self.writer, CELL_SYSTEM, prompt, self.timeout)
            self.calls += 1
            state.attempts += 1
            code = strip_code_fence(reply)
            # In a thread: the first check imports marimo (~2 s), which must not stall the loop.
            problems = await asyncio.to_thread(check_cell_code, state.step, code, self.variables)
            if not problems:
                state.body, state.origin = code, "model"
                return
            previous, problem = code, " ".join(problems)
            if state.attempts > self.max_repairs:
                self._fall_back(state, problem)
                return

    async def settle(
        self, chart_text: str, runner: NotebookRunner
    ) -> tuple[str, ValidationResult, RunReport]:
        """Validate and run until no model cell fails: failing model cells are repaired
        while their budget lasts, then replaced by stubs (which always run)."""
        while True:
            notebook = await asyncio.to_thread(
                flowchart_notebook, chart_text, self.title, self.steps, self._bodies()
            )
            validation = await validate_notebook_async(notebook)
            report = RunReport()
            failures = [(d.cell_index, d.describe()) for d in validation.errors]
            if not failures:
                report = await runner.run(notebook)
                failures = [(e.cell_index, _run_problem(e)) for e in report.errors]
            if not failures:
                return notebook, validation, report
            states = [self._state_at(cell_index) for cell_index, _ in failures]
            model_cells = self._model_cells()
            if any(state is None for state in states):
                # Not one cell's fault (a timeout, say): there is nothing precise to send
                # back, and no model cell can be trusted.
                if not model_cells:
                    return notebook, validation, report
                problem = next(p for st, (_, p) in zip(states, failures, strict=True) if st is None)
                for model_cell in model_cells:
                    self._fall_back(model_cell, problem)
                continue
            per_cell: dict[str, list[str]] = {}
            for at, (_, problem) in zip(states, failures, strict=True):
                assert at is not None  # checked just above
                per_cell.setdefault(at.step.node_id, []).append(problem)
            fixable = [n for n in per_cell if self.cells[n].origin == "model"]
            if not fixable:
                return notebook, validation, report
            await _all(self._retry(self.cells[n], "\n".join(per_cell[n])) for n in fixable)

    async def _retry(self, state: _CellState, problem: str) -> None:
        if state.attempts <= self.max_repairs:
            await self._write(state, problem)
        else:
            self._fall_back(state, problem)

    @staticmethod
    def _fall_back(state: _CellState, problem: str) -> None:
        state.errors.append(problem)
        state.body, state.origin = None, "fallback"

    def _state_at(self, cell_index: int | None) -> _CellState | None:
        # Cell 0 is the chart; cell i is step i-1.
        if cell_index is None or not 1 <= cell_index <= len(self.steps):
            return None
        return self.cells[self.steps[cell_index - 1].node_id]

    def _model_cells(self) -> list[_CellState]:
        return [s for s in self.cells.values() if s.origin == "model"]

    def _bodies(self) -> dict[str, str]:
        return {n: s.body for n, s in self.cells.items() if s.body is not None}

    def reports(self) -> tuple[CellReport, ...]:
        return tuple(
            CellReport(s.node_id, s.variable, st.origin, st.attempts, tuple(st.errors))
            for s in self.steps
            for st in [self.cells[s.node_id]]
        )


# --- from a prompt ------------------------------------------------------------------------


async def generate_from_prompt(
    prompt: str,
    writer: TextModel | None = None,
    *,
    max_repairs: int = 2,
    runner: NotebookRunner | None = None,
    model_timeout: float = DEFAULT_MODEL_TIMEOUT,
    folder: Path | None = None,
) -> GenerationResult:
    """A notebook for a request in words.

    Without `writer`: cells for the table operation the request names (reading the header
    of a CSV it names in `folder`, the notebook's folder, to match column names), else the
    nearest template (see `notebook_from_prompt`). With one: the model
    writes the whole notebook; it is normalised and validated, then run, and the problems go
    back to the model up to `max_repairs` times. The last notebook that marimo accepts is
    returned with its remaining run errors; if none was accepted, the offline notebook is
    returned (source "fallback") with the model's last problems. Raises WriterError.
    """
    if writer is None:
        return await _offline_result(prompt, folder=folder)
    run_with = runner or SubprocessRunner()
    calls = 0
    best: tuple[str, ValidationResult, RunReport] | None = None
    request = notebook_prompt(prompt)
    problems: list[str] = []
    for attempt in range(max(0, max_repairs) + 1):
        reply = await ask(writer, NOTEBOOK_SYSTEM, request, model_timeout)
        calls += 1
        try:
            text = await asyncio.to_thread(normalize_notebook_text, reply)
        except InvalidNotebookError as exc:
            problems = [d.describe() for d in exc.diagnostics if d.breaking]
            shown = exc.text if exc.text is not None else reply
        else:
            validation = await validate_notebook_async(text)
            report = await run_with.run(text)
            best = (text, validation, report)
            if report.ok:
                return _model_result(best, calls)
            problems = [_run_problem(e) for e in report.errors]
            shown = text
        if attempt < max_repairs:
            request = notebook_repair_prompt(prompt, shown, problems)
    if best is not None:
        return _model_result(best, calls)
    return await _offline_result(
        prompt,
        source="fallback",
        model_calls=calls,
        notes=tuple(f"model notebook rejected: {p}" for p in problems),
        folder=folder,
    )


async def _offline_result(
    prompt: str,
    *,
    source: ResultSource = "builtin",
    model_calls: int = 0,
    notes: tuple[str, ...] = (),
    folder: Path | None = None,
) -> GenerationResult:
    """The offline notebook for `prompt`: the result without a model, and the fallback
    when the model's notebooks were never accepted."""
    made = await asyncio.to_thread(request_notebook, prompt, folder)
    if made is not None:
        return GenerationResult(
            text=made.text,
            source=source,
            validation=await validate_notebook_async(made.text),
            model_calls=model_calls,
            notes=(*notes, *made.notes),
        )
    text, template_id = await asyncio.to_thread(notebook_from_prompt, prompt)
    why = (
        f"Made from the {get_template(template_id).title} template: the request names no "
        "data file, grouping or chart over columns that can be written offline."
    )
    return GenerationResult(
        text=text,
        source=source,
        validation=await validate_notebook_async(text),
        template=template_id,
        model_calls=model_calls,
        notes=(*notes, why),
    )


def _model_result(best: tuple[str, ValidationResult, RunReport], calls: int) -> GenerationResult:
    """The model's last accepted notebook, with what still failed when it ran."""
    text, validation, report = best
    return GenerationResult(
        text=text,
        source="model",
        validation=validation,
        run=report,
        model_calls=calls,
        remaining_errors=tuple(e.describe() for e in report.errors),
    )


async def _all(calls: Iterable[Coroutine[Any, Any, None]]) -> None:
    """Run concurrently; on the first failure cancel the rest (no orphaned model calls) and
    raise that failure itself rather than an ExceptionGroup."""
    try:
        async with asyncio.TaskGroup() as group:
            for call in calls:
                group.create_task(call)
    except BaseExceptionGroup as failed:
        raise failed.exceptions[0] from None


def _run_problem(error: CellRunError) -> str:
    text = error.describe()
    if error.traceback:
        text += f"\n{error.traceback[-1500:]}"
    return text


def _chart_title(chart: Flowchart, title: str | None) -> str:
    return (title or chart.title or "Flowchart").strip() or "Flowchart"
