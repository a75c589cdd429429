"""The builtin model's command parsing and its answers to tool results."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic_ai.messages import ModelRequest, ToolReturnPart, UserPromptPart

from hexa.agent.builtin import CONFIGURE, Call, Say, parse_command, reply_to

CODE = "x = 1\nx + 1"


@pytest.mark.parametrize(
    ("message", "tool", "args"),
    [
        (f"add a cell:\n```python\n{CODE}\n```", "add_cell", {"code": CODE}),
        (f"```python\n{CODE}\n```", "add_cell", {"code": CODE}),
        (f"```\n{CODE}\n```", "add_cell", {"code": CODE}),
        ("please plot this ```py\nprint(1)```", "add_cell", {"code": "print(1)"}),
        (
            "add a cell after Hbol: ```python\ny = 2\n```",
            "add_cell",
            {"code": "y = 2", "after_cell_id": "Hbol"},
        ),
        (
            "add a cell before `MJUe`:\n```python\ny = 2\n```",
            "add_cell",
            {"code": "y = 2", "before_cell_id": "MJUe"},
        ),
        (f"edit cell MJUe: ```python\n{CODE}\n```", "edit_cell", {"cell_id": "MJUe", "code": CODE}),
        ("Edit `MJUe`:\n```python\nx = 3\n```", "edit_cell", {"cell_id": "MJUe", "code": "x = 3"}),
        ("run all", "run_cells", {"cell_ids": []}),
        ("Run all cells", "run_cells", {"cell_ids": []}),
        ("run cell Hbol", "run_cells", {"cell_ids": ["Hbol"]}),
        ("run cells Hbol, MJUe and vblA", "run_cells", {"cell_ids": ["Hbol", "MJUe", "vblA"]}),
        ("run stale", "run_stale_cells", {}),
        ("delete cell vblA", "delete_cells", {"cell_ids": ["vblA"]}),
        ("delete cells `a1` `b2`", "delete_cells", {"cell_ids": ["a1", "b2"]}),
        ("remove cell Hbol", "delete_cells", {"cell_ids": ["Hbol"]}),
        ("move cell vblA after Hbol", "move_cell", {"cell_id": "vblA", "after_cell_id": "Hbol"}),
        (
            "move cell vblA before cell Hbol",
            "move_cell",
            {"cell_id": "vblA", "before_cell_id": "Hbol"},
        ),
        ("show errors", "get_notebook_errors", {}),
        ("list cells", "get_notebook_map", {}),
        ("show variables", "get_variables", {}),
        ("show dataframes", "get_variables", {}),
        ("show cell Hbol", "get_cells", {"cell_ids": ["Hbol"]}),
        ("show outputs", "get_cell_outputs", {"cell_ids": []}),
        ("show output of cell vblA", "get_cell_outputs", {"cell_ids": ["vblA"]}),
        ("restart kernel", "restart_kernel", {}),
        ("Restart the kernel", "restart_kernel", {}),
        ("lint", "lint_notebook", {}),
        ("format", "format_cells", {"cell_ids": []}),
        ("interrupt", "interrupt_kernel", {}),
        ("docs slider", "search_marimo_docs", {"query": "slider"}),
        ("search docs for sql query", "search_marimo_docs", {"query": "sql query"}),
    ],
)
def test_commands(message: str, tool: str, args: dict[str, Any]) -> None:
    assert parse_command(message) == Call(tool, args)


def test_selected_cells_stand_in_for_this() -> None:
    assert parse_command("run selected", ["a", "b"]) == Call("run_cells", {"cell_ids": ["a", "b"]})
    assert parse_command("delete this cell", ["a"]) == Call("delete_cells", {"cell_ids": ["a"]})


@pytest.mark.parametrize("message", ["help", "Help", "what can you do?"])
def test_help_lists_the_commands(message: str) -> None:
    answer = parse_command(message)
    assert isinstance(answer, Say)
    assert "run all" in answer.text
    assert "delete cell" in answer.text
    assert CONFIGURE in answer.text


@pytest.mark.parametrize(
    "message", ["make me a chart of sales by region", "why is my code slow?", "run", "delete"]
)
def test_anything_else_is_a_plain_answer_with_how_to_configure(message: str) -> None:
    answer = parse_command(message)
    assert isinstance(answer, Say)
    assert "HEXA_MODEL=openai:" in answer.text
    assert "help" in answer.text


def test_after_a_tool_result_it_puts_the_result_into_words() -> None:
    result = ToolReturnPart("add_cell", "Added cell `abcd` and ran it.\noutput:\n2", "c1")
    assert reply_to([ModelRequest(parts=[result])]) == Say(
        "Added cell `abcd` and ran it.\noutput:\n2"
    )


def test_a_denied_call_is_acknowledged() -> None:
    denied = ToolReturnPart(
        "delete_cells", "The person rejected this call.", "c1", outcome="denied"
    )
    step = reply_to([ModelRequest(parts=[denied])])
    assert isinstance(step, Say)
    assert step.text.startswith("OK, I did not run `delete_cells`.")


def test_a_new_prompt_wins_over_carried_denials() -> None:
    denied = ToolReturnPart("delete_cells", "superseded", "c1", outcome="denied")
    step = reply_to([ModelRequest(parts=[denied, UserPromptPart("list cells")])])
    assert step == Call("get_notebook_map", {})
