"""The cells a turn leaves (stored for undo) come from its last batch, which reports them;
a batch that reports none falls back to reading the notebook.

Fakes: the model (scripted) and marimo (FakeMarimoClient); the store is real SQLite.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import pytest

from hexa.agent import snapshots
from hexa.marimo.models import ApplyResult, BeforeHook, CellRuntimeData, Op
from hexa.store import TurnRepository

from .conftest import World
from .scripts import scripted


def count_reads(monkeypatch: pytest.MonkeyPatch, world: World) -> list[int]:
    """How often the notebook's cells are read through marimo's tools (in a list)."""
    reads = [0]
    read = world.nb.cell_runtime_data

    async def counted(cell_ids: Sequence[str]) -> list[CellRuntimeData]:
        reads[0] += 1
        return await read(cell_ids)

    monkeypatch.setattr(world.nb, "cell_runtime_data", counted)
    return reads


async def end_state(world: World, turn_id: str) -> list[tuple[str, str]]:
    async with world.sessions() as session:
        turn = await TurnRepository(session).get(turn_id)
    assert turn is not None
    return [(c.cell_id, c.code) for c in snapshots.decode(turn.cells_after_json)["nb1"]]


def two_adds() -> Any:
    return scripted(
        [("add_cell", '{"code": "y = 3"}')],
        [("add_cell", '{"code": "y + 100"}')],
        "added two",
    )


async def test_the_end_state_is_what_the_last_batch_reported(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads = count_reads(monkeypatch, world)
    reply = await world.service(two_adds()).chat(world.alice, "nb1", "add two")
    assert await end_state(world, reply.turn_id) == [(c.cell_id, c.code) for c in world.nb.cells]
    assert [code for _, code in await end_state(world, reply.turn_id)][-2:] == ["y = 3", "y + 100"]
    # Nothing is read: the snapshot before came from the first batch, the state after
    # from the last.
    assert reads == [0]


async def test_a_batch_that_reports_no_cells_is_read_after(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads = count_reads(monkeypatch, world)
    apply = world.nb.apply

    async def silent(
        ops: Sequence[Op],
        *,
        timeout: float | None = None,
        with_cells: bool = False,
        on_before: BeforeHook | None = None,
    ) -> ApplyResult:
        return replace(await apply(ops, timeout=timeout, on_before=on_before), cells=None)

    monkeypatch.setattr(world.nb, "apply", silent)
    reply = await world.service(two_adds()).chat(world.alice, "nb1", "add two")
    assert [code for _, code in await end_state(world, reply.turn_id)][-1] == "y + 100"
    assert await end_state(world, reply.turn_id) == [(c.cell_id, c.code) for c in world.nb.cells]
    assert reads == [2], "read after each change"
