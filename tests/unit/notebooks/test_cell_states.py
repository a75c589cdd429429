"""Reading a notebook's cells for planning edits (a fake marimo client: the real one is
used by the API and agent integration tests)."""

from __future__ import annotations

import pytest

from hexa.marimo.errors import MarimoError
from hexa.notebooks.cell_states import CellState, read_state
from tests.unit.agent.fakes import FakeMarimoClient


async def test_cells_come_from_the_servers_document() -> None:
    client = FakeMarimoClient([("a1", "x = 1"), ("b2", "y = x + 1")])
    assert await read_state(client) == [
        CellState("a1", None, "x = 1"),
        CellState("b2", None, "y = x + 1"),
    ]


async def test_a_cell_made_a_moment_ago_is_read_from_the_kernel_instead() -> None:
    client = FakeMarimoClient([("a1", "x = 1"), ("new", "racer = 7")])
    client.unsettled.add("new")  # in the document, its notification not yet in
    with pytest.raises(MarimoError):
        await client.cell_runtime_data([])
    assert [c.code for c in await read_state(client)] == ["x = 1", "racer = 7"]


async def test_other_failures_are_not_hidden() -> None:
    client = FakeMarimoClient([("a1", "x = 1")])

    async def broken(cell_ids: object) -> list[object]:
        raise MarimoError("marimo is gone", code="SESSION_NOT_FOUND")

    client.cell_runtime_data = broken  # type: ignore[method-assign,assignment]
    with pytest.raises(MarimoError, match="gone"):
        await read_state(client)
