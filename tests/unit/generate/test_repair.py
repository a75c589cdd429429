"""The repair loops of generate_from_mermaid / generate_from_prompt, driven by scripted fakes
of the model (tests/unit/generate/fakes.py) and a fake runner; no model, no subprocess."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from hexa.generate import (
    MermaidCycleError,
    WriterError,
    generate_from_mermaid,
    generate_from_prompt,
    validate_notebook,
)
from tests.unit.generate.conftest import marimo_dependencies
from tests.unit.generate.fakes import FakeRunner, ScriptedModel, cell_variable

CHART = (
    "flowchart TD\n  A[Load numbers] --> B{Any big?}\n  B -->|Yes| C[Sum them]\n"
    "  B -->|No| D[Count them]\n  C & D --> E[Report]\n"
)
EDGES = {("A", "B"), ("B", "C"), ("B", "D"), ("C", "E"), ("D", "E")}

GOOD = {
    "A": "A = [1, 20, 3]",
    "B": "B = any(_x > 10 for _x in A)",
    "C": "C = sum([1, 20, 3])",
    "D": "D = 3",
    "E": "E = f'{C} / {D}'",
}


def good_cells(system: str, prompt: str, n: int) -> str:
    return GOOD[cell_variable(prompt) or ""]


async def test_model_cells_are_used_when_they_pass(tmp_path: Path) -> None:
    model, runner = ScriptedModel(good_cells), FakeRunner()
    result = await generate_from_mermaid(CHART, model, runner=runner)
    assert result.source == "model"
    assert result.ok
    assert [(c.node_id, c.origin, c.attempts) for c in result.cells] == [
        (n, "model", 1) for n in "ABCDE"
    ]
    assert result.model_calls == 5
    assert len(runner.texts) == 1
    assert "B = any(_x > 10 for _x in A)" in result.text
    # A decision's successors get the branch check around the model's code.
    assert "if B is True:\n        C = sum([1, 20, 3])" in result.text
    edges, _ = marimo_dependencies(result.text, tmp_path)
    assert edges == EDGES


async def test_cell_prompt_names_label_inputs_and_variable() -> None:
    model = ScriptedModel(good_cells)
    await generate_from_mermaid(CHART, model, runner=FakeRunner())
    (prompt,) = model.prompts_for("C")
    assert "Step C: Sum them" in prompt
    assert "`B`" in prompt
    assert 'branch "Yes"' in prompt
    (decision,) = model.prompts_for("B")
    assert 'True takes "Yes"' in decision
    assert 'False takes "No"' in decision


async def test_contract_violation_is_sent_back_and_repaired() -> None:
    def script(system: str, prompt: str, n: int) -> str:
        if cell_variable(prompt) == "D" and n == 0:
            return "helper = 3\nD = helper"
        return good_cells(system, prompt, n)

    model = ScriptedModel(script)
    result = await generate_from_mermaid(CHART, model, runner=FakeRunner())
    _first, second = model.prompts_for("D")
    assert "helper = 3" in second
    assert "`helper`" in second
    assert "underscore" in second
    report = {c.node_id: c for c in result.cells}["D"]
    assert (report.origin, report.attempts, len(report.errors)) == ("model", 2, 1)
    assert result.ok


async def test_run_error_is_sent_back_with_the_traceback() -> None:
    def script(system: str, prompt: str, n: int) -> str:
        if cell_variable(prompt) == "A" and n == 0:
            return "```python\nA = [1 / 0]\n```"
        return good_cells(system, prompt, n)

    model, runner = ScriptedModel(script), FakeRunner()
    result = await generate_from_mermaid(CHART, model, runner=runner)
    _, repair = model.prompts_for("A")
    assert "ZeroDivisionError" in repair
    assert "A = [1 / 0]" in repair
    assert len(runner.texts) == 2
    assert {c.node_id: c.origin for c in result.cells}["A"] == "model"
    assert result.ok
    assert result.run is not None
    assert result.run.ok


@pytest.mark.parametrize("max_repairs", [0, 1, 2])
async def test_a_cell_that_keeps_failing_falls_back_to_its_stub(
    max_repairs: int, tmp_path: Path
) -> None:
    def script(system: str, prompt: str, n: int) -> str:
        return "C = 1 / 0" if cell_variable(prompt) == "C" else good_cells(system, prompt, n)

    model = ScriptedModel(script)
    result = await generate_from_mermaid(CHART, model, runner=FakeRunner(), max_repairs=max_repairs)
    report = {c.node_id: c for c in result.cells}["C"]
    assert report.origin == "fallback"
    assert report.attempts == 1 + max_repairs
    assert len(model.prompts_for("C")) == 1 + max_repairs
    assert "1 / 0" not in result.text
    assert '"step": "Sum them"' in result.text  # the stub
    assert result.ok
    assert not result.remaining_errors
    edges, _ = marimo_dependencies(result.text, tmp_path)
    assert edges == EDGES


async def test_a_persistent_contract_violation_falls_back() -> None:
    def script(system: str, prompt: str, n: int) -> str:
        return "E = 1" if cell_variable(prompt) == "E" else good_cells(system, prompt, n)

    model = ScriptedModel(script)
    result = await generate_from_mermaid(CHART, model, runner=FakeRunner(), max_repairs=2)
    report = {c.node_id: c for c in result.cells}["E"]
    assert report.origin == "fallback"
    assert report.attempts == 3
    assert all("must read its inputs" in e for e in report.errors)
    assert validate_notebook(result.text).valid


async def test_an_unattributable_failure_drops_every_model_cell() -> None:
    model, runner = ScriptedModel(good_cells), FakeRunner(timeout=True)
    result = await generate_from_mermaid(CHART, model, runner=runner)
    assert {c.origin for c in result.cells} == {"fallback"}
    assert model.counts == dict.fromkeys("ABCDE", 1)  # nothing precise to send back
    assert len(runner.texts) == 2
    # The stub notebook is the last thing run; the fake times out on it as well.
    assert result.remaining_errors


async def test_model_failures_become_writer_errors() -> None:
    class Broken:
        async def complete(self, system: str, prompt: str) -> str:
            raise ConnectionError("no route to model")

    class Slow:
        async def complete(self, system: str, prompt: str) -> str:
            await asyncio.sleep(5)
            return ""

    with pytest.raises(WriterError, match="no route"):
        await generate_from_mermaid(CHART, Broken(), runner=FakeRunner())
    with pytest.raises(WriterError, match="did not answer"):
        await generate_from_mermaid(CHART, Slow(), runner=FakeRunner(), model_timeout=0.05)


async def test_a_cycle_is_refused_before_asking_the_model() -> None:
    model = ScriptedModel(good_cells)
    with pytest.raises(MermaidCycleError):
        await generate_from_mermaid("flowchart LR\n  A --> B --> A\n", model, runner=FakeRunner())
    assert model.prompts == []


# --- whole notebooks from a prompt ---------------------------------------------------------

SLOPPY = """Here you go:

```python
import marimo
app = marimo.App()

@app.cell
def _():
    numbers = [1, 2, 3]

@app.cell
def _():
    total = sum(numbers)
    total
```
"""
BROKEN = SLOPPY.replace("total = sum", "total = = sum")
FAILING = SLOPPY.replace("[1, 2, 3]", "[1 / 0]")


def replies(*texts: str) -> ScriptedModel:
    return ScriptedModel(lambda system, prompt, n: texts[min(n, len(texts) - 1)])


async def test_prompt_reply_is_normalised_and_run() -> None:
    model, runner = replies(SLOPPY), FakeRunner()
    result = await generate_from_prompt("sum some numbers", model, runner=runner)
    assert result.source == "model"
    assert result.ok
    assert result.model_calls == 1
    assert "return (numbers,)" in result.text
    assert runner.texts == [result.text]


async def test_prompt_diagnostics_go_back_to_the_model() -> None:
    model = replies(BROKEN, SLOPPY)
    result = await generate_from_prompt("sum some numbers", model, runner=FakeRunner())
    assert result.ok
    assert result.model_calls == 2
    repair = model.prompts[1]
    assert "MB001" in repair
    assert "total = = sum" in repair


async def test_prompt_run_errors_go_back_to_the_model() -> None:
    model = replies(FAILING, SLOPPY)
    result = await generate_from_prompt("sum some numbers", model, runner=FakeRunner())
    assert result.ok
    assert "ZeroDivisionError" in model.prompts[1]


async def test_prompt_run_errors_that_remain_are_reported() -> None:
    model = replies(FAILING)
    result = await generate_from_prompt("sum", model, runner=FakeRunner(), max_repairs=1)
    assert result.source == "model"
    assert result.model_calls == 2
    assert not result.ok
    assert any("ZeroDivisionError" in e for e in result.remaining_errors)
    assert result.validation.valid


async def test_prompt_never_valid_falls_back_to_the_template() -> None:
    model = replies("I would rather not.")
    result = await generate_from_prompt("plot a chart", model, runner=FakeRunner(), max_repairs=2)
    assert result.source == "fallback"
    assert result.template == "plotting"
    assert result.model_calls == 3
    assert result.validation.valid
    assert result.notes
    assert result.to_dict()["source"] == "fallback"


async def test_a_failing_model_call_cancels_the_others() -> None:
    hanging: list[str] = []
    cancelled: list[str] = []

    class HalfBroken:
        """A fake of the model: fails for one cell, hangs for the rest."""

        async def complete(self, system: str, prompt: str) -> str:
            if cell_variable(prompt) == "A":
                raise ConnectionError("dropped")
            hanging.append(cell_variable(prompt) or "")
            try:
                await asyncio.sleep(30)
            except asyncio.CancelledError:
                cancelled.append(cell_variable(prompt) or "")
                raise
            return ""

    with pytest.raises(WriterError, match="dropped"):
        await generate_from_mermaid(CHART, HalfBroken(), runner=FakeRunner())
    # Every hanging call was cancelled, not left running (nor waited for).
    assert hanging
    assert sorted(cancelled) == sorted(hanging)
