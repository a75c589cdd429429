"""The builtin model's command parsing and its answers to tool results."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic_ai.messages import BinaryContent, ModelRequest, ToolReturnPart, UserPromptPart

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
        ("Why is my cell failing?", "get_notebook_errors", {}),
        ("why is cell vblA failing", "get_notebook_errors", {}),
        ("why does my code fail?", "get_notebook_errors", {}),
        ("what's wrong with my notebook?", "get_notebook_errors", {}),
        ("explain the error", "get_notebook_errors", {}),
        ("What does this error mean?", "get_notebook_errors", {}),
        ("show rules", "get_marimo_rules", {}),
        ("marimo rules", "get_marimo_rules", {}),
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


def test_help_keeps_its_placeholders_in_code_spans_that_close() -> None:
    answer = parse_command("help")
    assert isinstance(answer, Say)
    # A command holding a fence needs a longer code span, or Markdown leaves it open and
    # drops `<id>` as an HTML tag.
    assert "- ```` edit cell <id>: ```python ...``` ````: replace" in answer.text
    assert "- `delete cell <id> [<id> ...]`: delete cells" in answer.text


@pytest.mark.parametrize(
    "message", ["make me a chart of sales by region", "why is my code slow?", "run", "delete"]
)
def test_anything_else_is_a_plain_answer_with_how_to_configure(message: str) -> None:
    answer = parse_command(message)
    assert isinstance(answer, Say)
    assert "HEXA_MODEL=openai:" in answer.text
    assert "Writing code from a description" in answer.text  # what needs a real model
    assert "help" in answer.text


def test_an_explanation_of_errors_says_what_offline_cannot_do() -> None:
    errors = ToolReturnPart("get_notebook_errors", "1 error(s) in 1 cell(s):\n- cell `a`", "c1")
    step = reply_to([ModelRequest(parts=[errors])])
    assert isinstance(step, Say)
    assert step.text.startswith("1 error(s) in 1 cell(s):\n- cell `a`\n\n")
    assert "a real model" in step.text
    clean = ToolReturnPart("get_notebook_errors", "No cell has an error.", "c1")
    assert reply_to([ModelRequest(parts=[clean])]) == Say("No cell has an error.")


def test_images_beside_tool_results_are_no_new_message() -> None:
    result = ToolReturnPart("get_cell_outputs", "cell `a`: [image/png image]", "c1")
    picture = BinaryContent(b"x", media_type="image/png")
    images = UserPromptPart(["The images of the outputs above:", picture])
    step = reply_to([ModelRequest(parts=[result, images])])
    assert step == Say("cell `a`: [image/png image]")


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
