"""The tool registry: every tool's schema, description and tier."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from hexa.agent import Tier, ToolRegistry, ToolSpec, default_registry
from hexa.agent.registry import ToolArgs, ToolOutcome
from hexa.agent.tools_args import AddCellArgs, MoveCellArgs

READ = {
    "get_notebook_map",
    "get_cells",
    "get_cell_outputs",
    "get_notebook_errors",
    "get_variables",
    "lint_notebook",
    "get_dependency_graph",
    "get_marimo_rules",
    "search_marimo_docs",
}
WRITE = {
    "add_cell",
    "edit_cell",
    "move_cell",
    "run_cells",
    "run_stale_cells",
    "format_cells",
    "interrupt_kernel",
}
DESTRUCTIVE = {"delete_cells", "clear_outputs", "restart_kernel", "replace_notebook"}


def test_tiers() -> None:
    registry = default_registry()
    tiers: dict[Tier, set[str]] = {t: set() for t in Tier}
    for spec in registry:
        tiers[spec.tier].add(spec.name)
    assert tiers == {Tier.READ: READ, Tier.WRITE: WRITE, Tier.DESTRUCTIVE: DESTRUCTIVE}


def test_unknown_operations_count_as_destructive() -> None:
    registry = default_registry()
    assert registry.tier_of("drop_database") is Tier.DESTRUCTIVE
    assert registry.get("drop_database") is None


@pytest.mark.parametrize("name", sorted(READ | WRITE | DESTRUCTIVE))
def test_every_tool_has_an_object_schema_and_a_description(name: str) -> None:
    spec = default_registry().get(name)
    assert spec is not None
    schema = spec.json_schema()
    assert schema["type"] == "object"
    assert schema.get("additionalProperties") is False  # unknown keys are refused
    assert len(spec.description) > 20
    if name != "search_marimo_docs":  # reads no notebook
        notebook = schema["properties"]["notebook_id"]
        assert "notebook_id" not in schema.get("required", [])
        assert "defaults to the notebook this chat belongs to" in notebook["description"].lower()


def test_schemas_say_what_is_required() -> None:
    registry = default_registry()
    required = {s.name: set(s.json_schema().get("required", [])) for s in registry}
    assert required["add_cell"] == {"code"}
    assert required["edit_cell"] == {"cell_id", "code"}
    assert required["delete_cells"] == {"cell_ids"}
    assert required["replace_notebook"] == {"cells"}
    assert required["search_marimo_docs"] == {"query"}


def test_arguments_are_validated() -> None:
    with pytest.raises(ValidationError):
        AddCellArgs.model_validate({"code": "1", "after_cell_id": "a", "before_cell_id": "b"})
    with pytest.raises(ValidationError):
        MoveCellArgs.model_validate({"cell_id": "a"})
    with pytest.raises(ValidationError):
        AddCellArgs.model_validate({"code": "1", "cell_id": "../x"})
    with pytest.raises(ValidationError):
        MoveCellArgs.model_validate({"cell_id": "a b", "after_cell_id": "c"})


def test_describe_lists_everything_as_json() -> None:
    described = default_registry().describe()
    assert {d["name"] for d in described} == READ | WRITE | DESTRUCTIVE
    assert all({"name", "tier", "description", "parameters"} <= d.keys() for d in described)


class EchoArgs(ToolArgs):
    text: str


async def _echo(ctx: Any, args: EchoArgs) -> ToolOutcome:
    return ToolOutcome(args.text, "echoed")


def test_custom_tools_plug_in_and_names_are_unique() -> None:
    registry = ToolRegistry()
    registry.register(
        ToolSpec("echo", "Echo the text back to the model.", EchoArgs, Tier.READ, _echo)
    )
    assert registry.tier_of("echo") is Tier.READ
    assert len(registry) == 1
    with pytest.raises(ValueError, match="already registered"):
        registry.register(ToolSpec("echo", "again", EchoArgs, Tier.READ, _echo))
    with pytest.raises(ValueError, match="identifiers"):
        registry.register(ToolSpec("rm -rf", "bad", EchoArgs, Tier.READ, _echo))
