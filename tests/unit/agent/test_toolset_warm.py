"""The tool definitions are made once (at start-up, from a thread) and reused by turns
until the registry changes (no model and no notebook: only the toolset); the message
history's schema is built at start-up too."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from typing import Any, cast

import pytest
from pydantic_ai import RunContext

from hexa.agent import ToolSpec, default_registry
from hexa.agent.toolset import RegistryToolset, TurnLedger, TurnState


class NoLedger:
    """Never reached: making definitions records nothing."""


async def test_warm_makes_the_definitions_that_turns_then_reuse(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    registry = default_registry()
    made: list[str] = []
    schema = ToolSpec.json_schema

    def counted(spec: ToolSpec[Any]) -> dict[str, Any]:
        made.append(spec.name)
        return schema(spec)

    monkeypatch.setattr(ToolSpec, "json_schema", counted)
    toolset = RegistryToolset(registry, cast(TurnLedger, NoLedger()))
    warmed = await asyncio.to_thread(toolset.warm)
    assert sorted(made) == sorted(spec.name for spec in registry)
    assert warmed["add_cell"].tool_def.parameters_json_schema["required"] == ["code"]

    ctx = cast(RunContext[TurnState], None)  # get_tools reads nothing from the run
    first = await toolset.get_tools(ctx)
    assert len(made) == len(registry)  # nothing made again
    assert {name: t.tool_def for name, t in first.items()} == {
        name: t.tool_def for name, t in warmed.items()
    }

    extra = registry.get("get_cells")
    assert extra is not None
    registry.register(
        ToolSpec("get_cells_again", extra.description, extra.args_model, extra.tier, extra.run)
    )
    again = await toolset.get_tools(ctx)
    assert "get_cells_again" in again
    assert len(made) == 2 * len(registry) - 1  # a change of the registry makes them anew


def test_warm_builds_the_history_schema_the_turns_end_needs() -> None:
    """pydantic-ai builds it on first use; a fresh interpreter shows the warm-up does."""
    code = (
        "from pydantic._internal._mock_val_ser import MockValSer\n"
        "from pydantic_ai.messages import ModelMessagesTypeAdapter as A\n"
        "assert isinstance(A.serializer, MockValSer), 'built at import now'\n"
        "from hexa.agent.turns import warm_history\n"
        "warm_history()\n"
        "assert not isinstance(A.serializer, MockValSer)\n"
        "assert not isinstance(A.validator, MockValSer)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
