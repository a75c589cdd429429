"""A running turn's rows: written while it waits, in order, and never dropped.

Real SQLite (aiosqlite) and the real repositories; the turns through the real AgentService
and pydantic-ai with the builtin model over a fake marimo notebook (tests/unit/agent/fakes.py).
"""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from hexa.agent.turn_writes import TurnWrites, Write
from hexa.store import (
    AuditEntry,
    AuditRepository,
    ChatMessage,
    ChatRepository,
    Turn,
    TurnRepository,
    TurnStatus,
)

from .conftest import World


def entry(world: World, tool: str) -> Write:
    async def write(session: AsyncSession) -> None:
        await AuditRepository(session).append(
            user_id=world.alice.id, notebook_id="nb1", tool_name=tool, args={}, outcome="ok"
        )

    return write


def turn_row(world: World, turn_id: str) -> Write:
    async def write(session: AsyncSession) -> None:
        await TurnRepository(session).create("nb1", world.alice.id, "hi", turn_id=turn_id)

    return write


async def tools_logged(sessions: async_sessionmaker[AsyncSession]) -> list[str]:
    async with sessions() as session:
        rows = await session.scalars(select(AuditEntry.tool_name).order_by(AuditEntry.id))
        return list(rows)


async def count(sessions: async_sessionmaker[AsyncSession], table: type[Turn]) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(table)) or 0)


async def test_rows_wait_for_a_call_then_go_in_order_and_the_rest_with_the_end(
    world: World,
) -> None:
    writes = TurnWrites(world.sessions)
    writes.open("t1", turn_row(world, "t1"), at_calls=True)
    writes.add("t1", entry(world, "first"))
    assert len(await writes.settle("t1")) == 2  # nothing written yet: both still pending
    assert await count(world.sessions, Turn) == 0

    writes.write_now("t1")  # the run calls a tool: both go, in one transaction
    writes.add("t1", entry(world, "second"))  # after that call: waits for the end
    left = await writes.settle("t1")
    assert await count(world.sessions, Turn) == 1
    assert await tools_logged(world.sessions) == ["first"]

    assert len(left) == 1  # the end writes it in its own transaction
    async with world.sessions.begin() as session:
        for rows in left:
            await rows(session)
    writes.written("t1", left)
    await writes.close("t1")
    assert await tools_logged(world.sessions) == ["first", "second"]  # once each


async def test_each_write_waits_for_the_one_before(world: World) -> None:
    writes = TurnWrites(world.sessions)
    release = asyncio.Event()

    async def held(session: AsyncSession) -> None:
        await release.wait()  # before its first statement: no lock held yet
        await entry(world, "first")(session)

    writes.open("t1", held, at_calls=False)
    writes.add("t1", entry(world, "second"))  # would commit first if not chained
    release.set()
    assert await writes.settle("t1") == []
    assert await tools_logged(world.sessions) == ["first", "second"]
    await writes.close("t1")


async def test_rows_of_a_turn_that_waits_on_a_model_are_written_at_once(world: World) -> None:
    writes = TurnWrites(world.sessions)
    writes.open("t1", turn_row(world, "t1"), at_calls=False)
    writes.add("t1", entry(world, "first"))
    assert await writes.settle("t1") == []
    assert await count(world.sessions, Turn) == 1
    assert await tools_logged(world.sessions) == ["first"]
    await writes.close("t1")


async def test_rows_whose_write_failed_go_with_the_end(world: World) -> None:
    writes = TurnWrites(world.sessions)
    attempts: list[str] = []

    async def flaky(session: AsyncSession) -> None:
        attempts.append("try")
        if len(attempts) == 1:
            raise RuntimeError("database is locked")
        await turn_row(world, "t1")(session)

    writes.open("t1", flaky, at_calls=False)
    writes.add("t1", entry(world, "call"))  # written after the failed one
    left = await writes.settle("t1")
    assert left == [flaky]  # back in the queue, for the end
    assert await count(world.sessions, Turn) == 0
    async with world.sessions.begin() as session:
        for rows in left:
            await rows(session)
    writes.written("t1", left)
    await writes.close("t1")
    assert attempts == ["try", "try"]
    assert await count(world.sessions, Turn) == 1
    assert await tools_logged(world.sessions) == ["call"]


async def test_rows_left_when_the_end_failed_are_written_on_close(world: World) -> None:
    writes = TurnWrites(world.sessions)
    writes.open("t1", turn_row(world, "t1"), at_calls=True)
    writes.add("t1", entry(world, "call"))
    left = await writes.settle("t1")

    async def failing_end() -> None:
        async with world.sessions.begin() as session:
            for rows in left:
                await rows(session)
            raise RuntimeError("the end could not be stored")

    with pytest.raises(RuntimeError):
        await failing_end()
    await writes.close("t1")
    assert await count(world.sessions, Turn) == 1
    assert await tools_logged(world.sessions) == ["call"]


async def test_a_builtin_turn_stores_everything_before_it_answers(world: World) -> None:
    service = world.service()
    reply = await service.chat(world.alice, "nb1", "```python\n40 + 2\n```")
    async with world.sessions() as session:
        turn = await TurnRepository(session).get(reply.turn_id)
        lines = await ChatRepository(session).list_for_notebook("nb1")
        logged = await AuditRepository(session).list_for_notebook("nb1")
    assert turn is not None
    assert turn.status is TurnStatus.DONE
    assert [line.role for line in lines] == ["user", "tool", "assistant"]
    assert [(e.tool_name, e.turn_id) for e in logged] == [("add_cell", reply.turn_id)]


async def test_a_turn_whose_end_cannot_be_stored_keeps_its_audit_entry(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def refuse(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the database refused the turn's end")

    monkeypatch.setattr(TurnRepository, "end", refuse)
    service = world.service()
    with pytest.raises(RuntimeError, match="refused"):
        await service.chat(world.alice, "nb1", "```python\n40 + 2\n```")
    assert world.nb.cells[-1].code == "40 + 2"  # the change was made: it is in the log
    assert await tools_logged(world.sessions) == ["add_cell"]
    async with world.sessions() as session:
        turns = list(await session.scalars(select(Turn)))
        users = list(await session.scalars(select(ChatMessage.role)))
    assert [t.status for t in turns] == [TurnStatus.RUNNING]  # recovery marks it at start
    assert users == ["user"]


async def test_a_builtin_turn_stores_its_row_while_its_first_call_waits_on_marimo(
    world: World,
) -> None:
    committed = asyncio.Event()

    def on_commit(session: Session) -> None:
        committed.set()

    world.nb.gate = asyncio.Event()  # marimo holds the call's batch
    service = world.service()
    event.listen(Session, "after_commit", on_commit)
    try:
        chat = asyncio.create_task(service.chat(world.alice, "nb1", "```python\n1 + 1\n```"))
        await asyncio.wait_for(world.nb.applying.wait(), 10)
        await asyncio.wait_for(committed.wait(), 10)  # written while the batch waits
        async with world.sessions() as session:
            turns = list(await session.scalars(select(Turn)))
            roles = list(await session.scalars(select(ChatMessage.role)))
        assert [t.status for t in turns] == [TurnStatus.RUNNING]
        assert roles == ["user"]
        assert await tools_logged(world.sessions) == []  # the call is not done yet
        world.nb.gate.set()
        reply = await asyncio.wait_for(chat, 10)
    finally:
        event.remove(Session, "after_commit", on_commit)
        world.nb.gate.set()
    assert reply.status == "done"
    assert await tools_logged(world.sessions) == ["add_cell"]
