"""A turn's undo snapshot is what its first batch on a notebook found there, reported by
that batch before it applied anything: never a read of its own.

Fakes: the model (builtin or scripted) and marimo (FakeMarimoClient, which reports the
cells it finds the way the interpreter does); the store is real SQLite.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from hexa.agent import snapshots
from hexa.marimo.models import ApplyResult, BeforeHook, Op
from hexa.store import TurnRepository

from .conftest import World
from .fakes import FakeCell
from .test_turn_end_state import count_reads


async def stored_before(world: World, turn_id: str) -> dict[str, list[snapshots.CellState]]:
    async with world.sessions() as session:
        turn = await TurnRepository(session).get(turn_id)
    assert turn is not None
    return snapshots.decode(turn.cells_before_json)


async def test_a_turn_that_only_reads_costs_marimo_no_snapshot(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads = count_reads(monkeypatch, world)
    reply = await world.service().chat(world.alice, "nb1", "list cells")
    assert "Hbol" in reply.message
    assert reads == [0]
    assert world.nb.applied == []
    assert await stored_before(world, reply.turn_id) == {}


async def test_the_snapshot_is_the_document_the_first_change_applied_to(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cell the person added after the turn started, just before its change reached
    marimo, is in the snapshot: undoing the turn keeps it (a snapshot read when the turn
    started would not hold it, and undo would delete it)."""
    apply = world.nb.apply

    async def person_first(
        ops: Sequence[Op],
        *,
        timeout: float | None = None,
        with_cells: bool = False,
        on_before: BeforeHook | None = None,
    ) -> ApplyResult:
        if not any(c.cell_id == "mine" for c in world.nb.cells):
            world.nb.cells.append(FakeCell("mine", "note = 'mine'"))
        return await apply(ops, timeout=timeout, with_cells=with_cells, on_before=on_before)

    monkeypatch.setattr(world.nb, "apply", person_first)
    service = world.service()
    reply = await service.chat(world.alice, "nb1", "edit cell MJUe: ```python\nx = 3\n```")
    before = await stored_before(world, reply.turn_id)
    assert [(c.cell_id, c.code) for c in before["nb1"]] == [
        ("Hbol", "import math"),
        ("MJUe", "x = 2"),
        ("vblA", "x + 1"),
        ("mine", "note = 'mine'"),
    ]
    await service.undo(world.alice, "nb1")
    assert world.nb.saved == [(c.cell_id, c.code) for c in before["nb1"]]


async def test_a_batch_still_running_has_reported_its_snapshot(world: World) -> None:
    """The cells come first in the batch's stream: a run that outlasts the wait still
    leaves the turn its undo."""
    service = world.service()
    original = list(world.nb.saved)
    world.nb.gate = asyncio.Event()  # the batch holds until the test lets it go
    service._run_wait = 0.05  # the settings' run_wait, shortened for the test
    reply = await service.chat(world.alice, "nb1", "```python\ny = 5\n```")
    assert "still running" in reply.message
    assert [(c.cell_id, c.code) for c in (await stored_before(world, reply.turn_id))["nb1"]] == (
        original
    )
    world.nb.gate.set()
    async with asyncio.timeout(5):
        while len(world.nb.cells) == len(original):
            await asyncio.sleep(0)  # the background batch finishes on this loop


async def test_only_the_first_change_of_a_turn_sets_its_snapshot(world: World) -> None:
    service = world.service()
    original = list(world.nb.saved)
    reply = await service.chat(
        world.alice, "nb1", "```python\ny = 5\n```\n```python\nz = 6\n```"
    )
    assert [(c.cell_id, c.code) for c in (await stored_before(world, reply.turn_id))["nb1"]] == (
        original
    )
