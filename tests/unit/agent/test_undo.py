"""Undo of a whole agent turn: the restore plan, and the service over fake notebooks."""

from __future__ import annotations

import asyncio
import random

import pytest

from hexa.agent.snapshots import CellState, plan_restore
from hexa.errors import ConflictError, NotFoundError
from hexa.store import AuditRepository, TurnRepository, TurnStatus

from .conftest import World, collector
from .fakes import FakeCell, FakeMarimoClient
from .scripts import scripted


def cells(*spec: str) -> list[CellState]:
    """`"a:code"` items (name-less)."""
    return [CellState(s.split(":", 1)[0], None, s.split(":", 1)[1]) for s in spec]


async def restore(target: list[CellState], current: list[CellState]) -> list[tuple[str, str]]:
    client = FakeMarimoClient([(c.cell_id, c.code) for c in current])
    for c in current:
        client.find(c.cell_id).name = c.name
    ops = plan_restore(target, current)
    if ops:
        await client.apply(ops)
    return [
        (c.cell_id if c.cell_id in {t.cell_id for t in target} else "new", c.code)
        for c in client.cells
    ]


def expected(target: list[CellState], current: list[CellState]) -> list[tuple[str, str]]:
    ids = {c.cell_id for c in current}
    return [(t.cell_id if t.cell_id in ids else "new", t.code) for t in target]


@pytest.mark.parametrize(
    ("target", "current"),
    [
        (cells("a:1", "b:2"), cells("a:1", "b:2")),  # nothing to do
        (cells("a:1", "b:2"), cells("a:1", "b:2", "c:3")),  # the turn added a cell
        (cells("a:1", "b:2", "c:3"), cells("a:1", "c:3")),  # it deleted one
        (cells("a:1", "b:2", "c:3"), cells("b:2", "c:3")),  # it deleted the first
        (cells("a:1", "b:2"), cells("a:10", "b:2")),  # it edited one
        (cells("a:1", "b:2", "c:3"), cells("c:3", "a:1", "b:2")),  # it moved one
        (cells("a:1", "b:2"), cells()),  # it deleted everything
        (cells("a:1", "b:2"), cells("x:9", "y:8")),  # replaced the notebook
        (cells(), cells("x:9")),  # the notebook was empty
        (cells("a:1", "b:2", "c:3", "d:4"), cells("d:44", "z:0", "b:2")),  # all at once
    ],
)
async def test_plan_restores_the_cells(target: list[CellState], current: list[CellState]) -> None:
    assert await restore(target, current) == expected(target, current)


async def test_plan_is_empty_when_nothing_changed() -> None:
    assert plan_restore(cells("a:1", "b:2"), cells("a:1", "b:2")) == []


async def test_plan_restores_names() -> None:
    target = [CellState("a", "loader", "1")]
    current = [CellState("a", None, "1")]
    client = FakeMarimoClient([("a", "1")])
    await client.apply(plan_restore(target, current))
    assert client.cells[0].name == "loader"


async def test_random_edits_are_undone() -> None:
    rng = random.Random(4)
    for _ in range(200):
        target = [CellState(f"c{i}", None, f"v{i} = {i}") for i in range(rng.randint(0, 6))]
        current = [c for c in target if rng.random() > 0.3]
        current = [
            CellState(c.cell_id, None, c.code + "0" if rng.random() < 0.3 else c.code)
            for c in current
        ]
        current += [CellState(f"n{i}", None, f"new{i} = 0") for i in range(rng.randint(0, 3))]
        rng.shuffle(current)
        assert await restore(target, current) == expected(target, current)


async def test_undo_puts_back_the_cells_of_the_last_turn(world: World) -> None:
    service = world.service()
    drain = collector(service, "nb1")
    original = list(world.nb.saved)
    await service.chat(world.alice, "nb1", "```python\ny = 5\n```")
    first = list(world.nb.saved)
    await service.chat(world.alice, "nb1", "edit cell MJUe: ```python\nx = 3\n```")
    await service.chat(world.alice, "nb1", "move cell vblA after Hbol")
    await service.chat(world.alice, "nb1", "list cells")  # changes nothing: not an undo step
    result = await service.undo(world.alice, "nb1")
    assert "move cell" in result.prompt
    assert result.notebooks == ["nb1"]
    assert world.nb.saved == [
        ("Hbol", "import math"),
        ("MJUe", "x = 3"),
        ("vblA", "x + 1"),
        first[-1],
    ]
    await service.undo(world.alice, "nb1")
    assert world.nb.saved == first
    await service.undo(world.alice, "nb1")
    assert world.nb.saved == original
    with pytest.raises(ConflictError, match="no agent change to undo"):
        await service.undo(world.alice, "nb1")
    assert [e["type"] for e in drain()].count("turn_undone") == 3
    async with world.sessions() as session:
        entries = await AuditRepository(session).list_for_notebook("nb1")
        turns = await TurnRepository(session).list_for_notebook("nb1")
    undos = [e for e in entries if e.tool_name == "undo_turn"]
    assert len(undos) == 3
    assert undos[0].outcome == "ok: undone by alice"
    assert undos[0].code_after is not None
    assert "x = 2" in undos[0].code_after
    assert sum(t.status is TurnStatus.UNDONE for t in turns) == 3


async def test_undo_of_an_approved_delete_brings_the_cell_back(world: World) -> None:
    service = world.service()
    reply = await service.chat(world.alice, "nb1", "delete cell MJUe")
    assert reply.pending_approval is not None
    await service.approve(world.alice, "nb1", reply.pending_approval.id)
    assert [c.cell_id for c in world.nb.cells] == ["Hbol", "vblA"]
    await service.undo(world.alice, "nb1")
    assert [c.code for c in world.nb.cells] == ["import math", "x = 2", "x + 1"]


async def test_undo_of_a_turn_waiting_for_approval_closes_the_approval(world: World) -> None:
    service = world.service(
        scripted(("add_cell", '{"code": "w = 1"}'), ("delete_cells", '{"cell_ids": ["Hbol"]}'))
    )
    reply = await service.chat(world.alice, "nb1", "add then delete")
    assert reply.pending_approval is not None
    assert len(world.nb.cells) == 4
    await service.undo(world.alice, "nb1")
    assert len(world.nb.cells) == 3
    with pytest.raises(ConflictError, match="already rejected"):
        await service.approve(world.alice, "nb1", reply.pending_approval.id)


async def test_undo_is_per_user_and_notebook(world: World) -> None:
    service = world.service()
    await service.chat(world.alice, "nb1", "```python\ny = 5\n```")
    with pytest.raises(NotFoundError):
        await service.undo(world.bob, "nb1")
    with pytest.raises(ConflictError):
        await service.undo(world.alice, "nb2")
    assert len(world.nb.cells) == 4


async def test_undo_waits_for_a_running_turn(world: World) -> None:
    service = world.service()
    world.nb.gate = asyncio.Event()
    chat = asyncio.create_task(service.chat(world.alice, "nb1", "```python\ny = 5\n```"))
    await world.nb.applying.wait()  # the turn is in the middle of its edit
    world.notebooks.looked_up = asyncio.Event()
    undo = asyncio.create_task(service.undo(world.alice, "nb1"))
    # The undo has checked the notebook is Alice's; next it waits for the turn to end.
    await world.notebooks.looked_up.wait()
    world.nb.gate.set()
    reply = await chat
    undone = await undo  # queued behind the turn, then undoes it
    assert len(world.nb.cells) == 3
    assert undone.turn_id == reply.turn_id


async def test_undo_leaves_what_the_person_changed_after_the_turn(world: World) -> None:
    service = world.service(
        scripted(
            [
                ("edit_cell", '{"cell_id": "MJUe", "code": "x = 3"}'),
                ("edit_cell", '{"cell_id": "vblA", "code": "x + 100"}'),
            ],
            "edited both",
        )
    )
    original = dict(world.nb.saved)
    await service.chat(world.alice, "nb1", "change both")
    # The person, in the editor: edits one of the agent's cells and adds one of theirs.
    world.nb.find("vblA").code = "x + 7"
    world.nb.cells.append(FakeCell("mine", "note = 'mine'"))
    result = await service.undo(world.alice, "nb1")
    assert world.nb.saved == [
        ("Hbol", original["Hbol"]),
        ("MJUe", original["MJUe"]),
        ("vblA", "x + 7"),
        ("mine", "note = 'mine'"),
    ]
    assert "`vblA`" in result.message
    assert "`mine`" in result.message


async def test_a_turn_that_changed_nothing_is_not_the_one_undone(world: World) -> None:
    service = world.service()
    original = list(world.nb.saved)
    await service.chat(world.alice, "nb1", "edit cell MJUe: ```python\nx = 3\n```")
    unchanged = dict(world.nb.saved)["vblA"]
    await service.chat(world.alice, "nb1", f"edit cell vblA: ```python\n{unchanged}\n```")
    result = await service.undo(world.alice, "nb1")
    assert "MJUe" in result.prompt
    assert world.nb.saved == original


async def test_undo_says_so_when_the_cell_a_turn_added_is_gone(world: World) -> None:
    service = world.service()
    original = list(world.nb.saved)
    reply = await service.chat(world.alice, "nb1", "add a cell: ```python\nz = 3\n```")
    added = world.nb.cells[-1].cell_id
    assert added in reply.message
    world.nb.cells.pop()  # the person deleted it in the editor
    result = await service.undo(world.alice, "nb1")
    assert world.nb.saved == original
    assert "nothing had changed" in result.message
    assert f"`{added}`" in result.message  # not a silent "nothing had changed"
