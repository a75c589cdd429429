"""Notebooks from flowcharts: marimo's own dependency graph has exactly the chart's edges."""

from __future__ import annotations

from pathlib import Path

import pytest

from hexa.generate import (
    generate_from_mermaid,
    notebook_from_mermaid,
    parse_mermaid,
    plan_steps,
    validate_notebook,
)
from hexa.generate.steps import safe_identifier, variable_names
from tests.unit.generate.conftest import marimo_dependencies
from tests.unit.generate.mermaid_examples import ACYCLIC, Example


@pytest.mark.parametrize("example", ACYCLIC, ids=lambda e: e.name)
def test_marimo_graph_matches_the_chart(example: Example, tmp_path: Path) -> None:
    text = notebook_from_mermaid(example.text)
    assert validate_notebook(text).valid
    variables = {s.node_id: s.variable for s in plan_steps(parse_mermaid(example.text))}

    edges, order = marimo_dependencies(text, tmp_path)

    assert edges == {(variables[a], variables[b]) for a, b in example.edges}
    # The chart cell first, then one cell per node, named after its variable.
    assert order[0] == "_"
    assert sorted(order[1:]) == sorted(variables.values())
    # Cells are in a topological order.
    for parent, child in edges:
        assert order.index(parent) < order.index(child)


def test_chart_cell_shows_the_chart_and_title() -> None:
    chart = "---\ntitle: Order pipeline\n---\nflowchart LR\n  load --> clean\n"
    text = notebook_from_mermaid(chart)
    assert "mo.mermaid(" in text
    assert "load --> clean" in text
    assert "# Order pipeline" in text
    assert "# Other" in notebook_from_mermaid(chart, title="Other")


def test_boolean_decision_branches_show_the_edge_labels(tmp_path: Path) -> None:
    chart = (
        "flowchart TD\n  A[Start] --> B{Is it?}\n  B -->|Yes| C[OK]\n"
        "  B -->|No| E[End]\n  C --> E\n"
    )
    text = notebook_from_mermaid(chart)
    cells = text.split("@app.cell")
    (decision,) = [c for c in cells if "def B(" in c]
    (yes,) = [c for c in cells if "def C(" in c]
    (end,) = [c for c in cells if "def E(" in c]
    assert "B = True" in decision
    assert 'True takes "Yes"' in decision
    assert 'False takes "No"' in decision
    assert "if B is True:" in yes
    assert 'on branch "Yes"' in yes
    assert "C = None" in yes
    assert "if B is False or C is not None:" in end
    edges, _ = marimo_dependencies(text, tmp_path)
    assert edges == {("A", "B"), ("B", "C"), ("B", "E"), ("C", "E")}


def test_decision_with_three_branches_uses_the_branch_name(tmp_path: Path) -> None:
    chart = "flowchart LR\n  P{Pick} -->|One| X\n  P -->|Two| Y\n  P -- Three --> Z\n"
    text = notebook_from_mermaid(chart)
    assert 'P = "One"' in text
    assert 'if P == "Two":' in text
    assert 'if P == "Three":' in text
    edges, _ = marimo_dependencies(text, tmp_path)
    assert edges == {("P", "X"), ("P", "Y"), ("P", "Z")}


def test_unlabelled_decision_edges_are_named_after_their_targets() -> None:
    text = notebook_from_mermaid("flowchart LR\n  D{Check} --> Fix[Fix it]\n  D --> Ship\n")
    assert 'True takes "Fix it"' in text
    assert 'False takes "Ship"' in text


@pytest.mark.parametrize(
    ("node_id", "variable"),
    [
        ("load_data", "load_data"),
        ("A", "A"),
        ("1st", "step_1st"),
        ("class", "class_step"),
        ("match", "match_step"),
        ("print", "print_step"),
        ("id", "id_step"),
        ("mo", "mo_step"),
        ("app", "app_step"),
        ("_private", "private"),
        ("données", "donnees"),
        ("日本", "step"),
        ("a__b", "a_b"),
    ],
)
def test_safe_identifiers(node_id: str, variable: str) -> None:
    assert safe_identifier(node_id) == variable


def test_variable_names_are_unique() -> None:
    names = variable_names(["a_b", "a__b", "日本", "中国", "1", "step_1"])
    assert list(names.values()) == ["a_b", "a_b_2", "step", "step_2", "step_1", "step_1_2"]


def test_awkward_ids_and_labels_still_make_a_valid_notebook(tmp_path: Path) -> None:
    chart = (
        "flowchart LR\n"
        '  class["Label with \'\'\' and \\\\ backslash"] --> print{"Yes or #quot;no#quot;?"}\n'
        '  print -->|"it\'s quoted"| mo & app\n  日本 --> 中国\n'
    )
    text = notebook_from_mermaid(chart)
    assert validate_notebook(text).valid
    edges, _ = marimo_dependencies(text, tmp_path)
    assert edges == {
        ("class_step", "print_step"),
        ("print_step", "mo_step"),
        ("print_step", "app_step"),
        ("step", "step_2"),
    }


async def test_builtin_generation_reports_stub_cells() -> None:
    result = await generate_from_mermaid("flowchart LR\n  A --> B\n")
    assert result.source == "builtin"
    assert result.ok
    assert result.run is None
    assert result.model_calls == 0
    assert [(c.node_id, c.origin) for c in result.cells] == [("A", "stub"), ("B", "stub")]
    assert result.flowchart is not None
    assert [n.id for n in result.flowchart.nodes] == ["A", "B"]
    assert [s.variable for s in result.steps] == ["A", "B"]
