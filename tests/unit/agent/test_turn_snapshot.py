"""A turn's undo snapshot is what its first batch on a notebook found there, reported by
that batch before it applied anything; a read stands in only when the batch has not
started by the time its call returns, and a later report still wins.

Fakes: the model (builtin or scripted) and marimo (FakeMarimoClient, which reports the
cells it finds the way the interpreter does); the store is real SQLite.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

import pytest
from pydantic_ai.messages import ModelMessage
from pydantic_ai.models.function import AgentInfo, DeltaToolCall, DeltaToolCalls, FunctionModel

from hexa.agent import ToolSpec, default_registry, snapshots
from hexa.agent.cell_access import apply_ops
from hexa.agent.models import ModelChoice
from hexa.agent.registry import Tier, ToolContext, ToolOutcome
from hexa.agent.tools_args import AddCellArgs
from hexa.agent.toolset import TurnState
from hexa.marimo.models import ApplyResult, BeforeHook, CreateCell, Op
from hexa.store import TurnRepository

from .conftest import World
from .fakes import FakeCell
from .scripts import scripted
from .test_turn_end_state import count_reads


async def stored_before(world: World, turn_id: str) -> dict[str, list[snapshots.CellState]]:
    async with world.sessions() as session:
        turn = await TurnRepository(session).get(turn_id)
    assert turn is not None
    return snapshots.decode(turn.cells_before_json)


async def a_turn_left_running(world: World) -> tuple[str, list[tuple[str, str]]]:
    """A builtin turn adding `y = 5` whose batch the fake holds (the caller set its `gate`
    or `queue`) past the tool's wait: the turn's id and the cells before it."""
    service = world.service()
    original = list(world.nb.saved)
    service._run_wait = 0.05  # the settings' run_wait, shortened for the test
    reply = await service.chat(world.alice, "nb1", "```python\ny = 5\n```")
    assert "still running" in reply.message
    return reply.turn_id, original


async def let_go(world: World, hold: asyncio.Event, original: list[tuple[str, str]]) -> None:
    """Release a held batch and see it finish (in the background, on this loop)."""
    hold.set()
    async with asyncio.timeout(5):
        while len(world.nb.cells) == len(original):
            await asyncio.sleep(0)


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


async def test_a_batch_still_running_has_reported_its_snapshot(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cells come first in the batch's stream: a run that outlasts the wait still
    leaves the turn its snapshot, from the report (not read)."""
    reads = count_reads(monkeypatch, world)
    world.nb.gate = asyncio.Event()  # the batch holds until the test lets it go
    turn_id, original = await a_turn_left_running(world)
    assert [(c.cell_id, c.code) for c in (await stored_before(world, turn_id))["nb1"]] == (original)
    assert reads == [1]  # the end state only (the batch has not left its cells yet)
    await let_go(world, world.nb.gate, original)


async def test_only_the_first_change_of_a_turn_sets_its_snapshot(world: World) -> None:
    service = world.service()
    original = list(world.nb.saved)
    reply = await service.chat(world.alice, "nb1", "```python\ny = 5\n```\n```python\nz = 6\n```")
    assert [(c.cell_id, c.code) for c in (await stored_before(world, reply.turn_id))["nb1"]] == (
        original
    )


async def test_a_batch_queued_behind_another_run_still_gets_a_snapshot(world: World) -> None:
    """A first batch that has not started when the tool stops waiting (it queues behind
    another run) reports nothing: a read as the call ends stands in."""
    world.nb.queue = asyncio.Event()  # the batch does not start until the test says
    turn_id, original = await a_turn_left_running(world)
    before = await stored_before(world, turn_id)
    assert [(c.cell_id, c.code) for c in before["nb1"]] == original
    await let_go(world, world.nb.queue, original)


async def test_a_call_that_fails_after_its_batch_applied_keeps_the_undo(world: World) -> None:
    """An unexpected exception after the batch applied ends the turn as failed; the
    snapshot the batch reported is stored with it, and undo takes the change back."""

    async def add_then_fail(ctx: ToolContext, args: AddCellArgs) -> ToolOutcome:
        await apply_ops(ctx, ctx.target(args), [CreateCell(args.code)], "add_then_fail")
        raise RuntimeError("a bug after the change")

    registry = default_registry()
    registry.register(
        ToolSpec(
            name="add_then_fail",
            description="Adds a cell, then fails.",
            args_model=AddCellArgs,
            tier=Tier.WRITE,
            run=add_then_fail,
            changes_cells=True,
        )
    )
    service = world.service(scripted(("add_then_fail", '{"code": "y = 5"}')), registry)
    original = list(world.nb.saved)
    reply = await service.chat(world.alice, "nb1", "add y")
    assert reply.status == "failed"
    assert world.nb.cells[-1].code == "y = 5"  # the change was made
    before = await stored_before(world, reply.turn_id)
    assert [(c.cell_id, c.code) for c in before["nb1"]] == original
    await service.undo(world.alice, "nb1")
    assert world.nb.saved == original


async def test_a_batch_that_reports_after_its_call_stopped_waiting_wins(world: World) -> None:
    """The batch starts just after the tool stopped waiting for it: the read that stood
    in is replaced by what the batch found (here a cell the person added meanwhile)."""
    world.nb.queue = asyncio.Event()
    calls = 0

    async def stream(
        messages: list[ModelMessage], info: AgentInfo
    ) -> AsyncIterator[str | DeltaToolCalls]:
        nonlocal calls
        calls += 1
        if calls == 1:
            yield {0: DeltaToolCall(name="add_cell", json_args='{"code": "y = 5"}')}
            return
        # The tool said "still running" and its stand-in read is taken: the person adds a
        # cell, then the batch starts and reports it.
        assert world.nb.queue is not None
        world.nb.cells.append(FakeCell("mine", "note = 'mine'"))
        world.nb.queue.set()
        await asyncio.wait_for(world.nb.started.wait(), 5)
        yield "it runs in the background"

    service = world.service(ModelChoice("test:late", FunctionModel(stream_function=stream)))
    service._run_wait = 0.05
    original = list(world.nb.saved)
    reply = await service.chat(world.alice, "nb1", "add y")
    assert "still running" in reply.tool_calls[0].summary
    before = await stored_before(world, reply.turn_id)
    assert [(c.cell_id, c.code) for c in before["nb1"]] == [*original, ("mine", "note = 'mine'")]


async def test_a_call_cancelled_before_its_batch_reported_still_gets_a_snapshot(
    world: World,
) -> None:
    """pydantic-ai cancels the other calls of a parallel group when one raises; a batch
    already sent may still apply. The cancelled call starts a read and does not wait for
    it; the turn's end does."""
    service = world.service()
    ledger = service._turns._ledger  # the service's own DbLedger
    state = TurnState(service._tools(world.alice, "nb1"), "t-cancel", "p")
    original = list(world.nb.saved)

    entered = asyncio.Event()

    async def call() -> None:
        async with ledger.snapshot(state, "nb1"):
            entered.set()
            await asyncio.Event().wait()  # a batch that never reports

    task = asyncio.create_task(call())
    await entered.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await ledger.take_late_reports(state)
    stored = snapshots.decode(ledger.snapshot_json("t-cancel"))
    assert [(c.cell_id, c.code) for c in stored["nb1"]] == original
    await ledger.forget("t-cancel")
