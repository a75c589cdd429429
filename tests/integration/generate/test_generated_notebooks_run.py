"""Every kind of notebook this package produces passes marimo's validator and runs in a real
marimo process without an error: templates, flowchart stubs, imports, normalised model text,
and a repair loop whose fake model (a script, not a model) first writes a failing cell."""

from __future__ import annotations

import json

import pytest

from hexa.generate import (
    SubprocessRunner,
    generate_from_mermaid,
    import_notebook,
    list_templates,
    normalize_notebook_text,
    notebook_from_mermaid,
    notebook_from_prompt,
    render_template,
    validate_notebook,
)
from tests.unit.generate.fakes import ScriptedModel, cell_variable
from tests.unit.generate.mermaid_examples import ACYCLIC

pytestmark = [pytest.mark.integration, pytest.mark.slow]


async def assert_runs(runner: SubprocessRunner, text: str) -> None:
    assert validate_notebook(text).valid
    report = await runner.run(text)
    assert report.ok, [e.describe() + "\n" + e.traceback for e in report.errors]


@pytest.mark.parametrize("template_id", [t["id"] for t in list_templates()])
async def test_templates_run(template_id: str, runner: SubprocessRunner) -> None:
    await assert_runs(runner, render_template(template_id, title="A fresh notebook"))


EXAMPLES = {e.name: e for e in ACYCLIC}


@pytest.mark.parametrize(
    "name", ["decision", "direction-in-subgraphs", "all-shapes", "markdown-strings"]
)
async def test_flowchart_stub_notebooks_run(name: str, runner: SubprocessRunner) -> None:
    await assert_runs(runner, notebook_from_mermaid(EXAMPLES[name].text))


async def test_branchy_flowchart_runs(runner: SubprocessRunner) -> None:
    chart = (
        "flowchart TD\n  A[Start] --> B{Is it?}\n  B -->|Yes| C[OK]\n  B -->|No| E[End]\n"
        "  C --> F{Pick one}\n  F -->|One| G\n  F -->|Two| H\n  F -->|Three| I\n"
        "  G & H & I --> E\n"
    )
    await assert_runs(runner, notebook_from_mermaid(chart))


async def test_offline_prompt_notebook_runs(runner: SubprocessRunner) -> None:
    text, _ = notebook_from_prompt("Query my orders with SQL")
    await assert_runs(runner, text)


async def test_imported_ipynb_runs(runner: SubprocessRunner) -> None:
    notebook = {
        "cells": [
            {"cell_type": "markdown", "metadata": {}, "source": "# Imported"},
            {
                "cell_type": "code",
                "metadata": {},
                "execution_count": 1,
                "outputs": [],
                "source": "import pandas as pd\ndf = pd.DataFrame({'a': [1, 2, 3]})",
            },
            {
                "cell_type": "code",
                "metadata": {},
                "execution_count": 2,
                "outputs": [],
                "source": "%matplotlib inline\ndf = df[df.a > 1]\nprint(len(df))",
            },
        ],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    await assert_runs(runner, import_notebook("imported.ipynb", json.dumps(notebook).encode()))


async def test_imported_script_runs(runner: SubprocessRunner) -> None:
    script = (
        b"import math\n\ndef area(r):\n    return math.pi * r**2\n\n"
        b"if __name__ == '__main__':\n    print(area(2))\n"
    )
    await assert_runs(runner, import_notebook("script.py", script))


async def test_normalised_model_text_runs(runner: SubprocessRunner) -> None:
    reply = (
        "Here is the notebook:\n```python\nimport marimo\nimport pandas as pd\n\n"
        "app = marimo.App()\n\n@app.cell\ndef _():\n    df = pd.DataFrame({'a': [1, 2]})\n\n"
        "@app.cell\ndef _():\n    total = int(df['a'].sum())\n    total\n```\n"
    )
    await assert_runs(runner, normalize_notebook_text(reply))


async def test_repair_loop_with_a_real_run(runner: SubprocessRunner) -> None:
    chart = "flowchart LR\n  load[Load table] --> total[Sum column a]\n"

    def script(system: str, prompt: str, n: int) -> str:
        if cell_variable(prompt) == "load":
            return "import pandas as _pd\nload = _pd.DataFrame({'a': [1, 2, 3]})"
        if n == 0:
            return "total = int(load['missing'].sum())"  # a KeyError only a run reveals
        assert "KeyError" in prompt
        return "total = int(load['a'].sum())"

    model = ScriptedModel(script)
    result = await generate_from_mermaid(chart, model, runner=runner)
    assert result.ok
    assert [(c.node_id, c.origin, c.attempts) for c in result.cells] == [
        ("load", "model", 1),
        ("total", "model", 2),
    ]
    assert "load['a'].sum()" in result.text
    assert result.run is not None
    assert result.run.ok
