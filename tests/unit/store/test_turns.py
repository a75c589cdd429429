from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hexa.store import (
    ChatRepository,
    ChatRole,
    NotebookRepository,
    TurnRepository,
    TurnStatus,
)

from .conftest import T0, Seed


async def test_a_turn_records_its_run(
    sessions: async_sessionmaker[AsyncSession], seed: Seed
) -> None:
    cells = json.dumps([{"cell_id": "c1", "code": "x = 1"}])
    async with sessions.begin() as session:
        turns = TurnRepository(session)
        turn = await turns.create(
            seed.notebook_id, seed.user_id, "add a plot", cells_before_json=cells, now=T0
        )
        assert turn.status is TurnStatus.RUNNING
        assert turn.finished_at is None
        await turns.update(turn.id, status=TurnStatus.WAITING_APPROVAL, messages_json="[1]")
        await turns.update(
            turn.id,
            status=TurnStatus.DONE,
            messages_json="[1, 2]",
            reply="Added the plot.",
            finished_at=T0 + timedelta(seconds=3),
        )
        assert await turns.update("no-such-turn", status=TurnStatus.DONE) is None
    async with sessions() as session:
        stored = await TurnRepository(session).get(turn.id)
        assert stored is not None
        assert (stored.status, stored.messages_json, stored.reply) == (
            TurnStatus.DONE,
            "[1, 2]",
            "Added the plot.",
        )
        assert stored.cells_before_json == cells
        assert stored.created_at == T0
        assert stored.finished_at == T0 + timedelta(seconds=3)


async def test_finishing_stamps_finished_at_once(
    sessions: async_sessionmaker[AsyncSession], seed: Seed
) -> None:
    async with sessions.begin() as session:
        turns = TurnRepository(session)
        failed = await turns.update(seed.turn_id, status=TurnStatus.FAILED)
        assert failed is not None
        assert failed.finished_at is not None
        finished = failed.finished_at
        undone = await turns.update(seed.turn_id, status=TurnStatus.UNDONE)
        assert undone is not None
        assert undone.finished_at == finished


async def test_ending_a_run_sets_what_is_given_in_one_update(
    sessions: async_sessionmaker[AsyncSession], seed: Seed
) -> None:
    async with sessions.begin() as session:
        turns = TurnRepository(session)
        # Waiting for approval: no finished_at, the snapshot kept while there is none new.
        assert await turns.end(
            seed.turn_id,
            TurnStatus.WAITING_APPROVAL,
            "asking",
            messages_json="[1]",
            cells_before_json="[]",
        )
        assert await turns.end(seed.turn_id, TurnStatus.DONE, "done", now=T0)
        assert await turns.end(  # a later end keeps the first finish time
            seed.turn_id, TurnStatus.FAILED, "failed", now=T0 + timedelta(hours=1)
        )
        assert not await turns.end("no-such-turn", TurnStatus.DONE, "x")
    async with sessions() as session:
        stored = await TurnRepository(session).get(seed.turn_id)
    assert stored is not None
    assert (stored.status, stored.reply, stored.messages_json) == (
        TurnStatus.FAILED,
        "failed",
        "[1]",
    )
    assert (stored.cells_before_json, stored.cells_after_json) == ("[]", None)
    assert stored.finished_at == T0


async def test_turns_are_listed_newest_first(
    sessions: async_sessionmaker[AsyncSession], seed: Seed
) -> None:
    async with sessions.begin() as session:
        await NotebookRepository(session).create(seed.user_id, "nb-2", "b.py", "B")
        turns = TurnRepository(session)
        for i in (0, 2, 1):
            await turns.create("nb-2", seed.user_id, f"p{i}", now=T0 + timedelta(minutes=i))
    async with sessions() as session:
        listed = await TurnRepository(session).list_for_notebook("nb-2", limit=2)
        assert [t.prompt for t in listed] == ["p2", "p1"]


async def test_chat_is_kept_per_notebook_in_order(
    sessions: async_sessionmaker[AsyncSession], seed: Seed
) -> None:
    async with sessions.begin() as session:
        await NotebookRepository(session).create(seed.user_id, "nb-2", "b.py", "B")
        chat = ChatRepository(session)
        await chat.add(seed.notebook_id, ChatRole.USER, "delete cell 3", turn_id=seed.turn_id)
        await chat.add(
            seed.notebook_id,
            ChatRole.TOOL,
            "delete_cells",
            turn_id=seed.turn_id,
            data_json='{"args": {"cell_ids": ["c3"]}}',
        )
        await chat.add(seed.notebook_id, ChatRole.ASSISTANT, "Asked to delete c3.")
        await chat.add("nb-2", ChatRole.USER, "other notebook")
    async with sessions() as session:
        chat = ChatRepository(session)
        messages = await chat.list_for_notebook(seed.notebook_id)
        assert [(m.role, m.content) for m in messages] == [
            (ChatRole.USER, "delete cell 3"),
            (ChatRole.TOOL, "delete_cells"),
            (ChatRole.ASSISTANT, "Asked to delete c3."),
        ]
        assert messages[1].data_json == '{"args": {"cell_ids": ["c3"]}}'
        assert messages[1].turn_id == seed.turn_id
        last_two = await chat.list_for_notebook(seed.notebook_id, limit=2)
        assert [m.content for m in last_two] == ["delete_cells", "Asked to delete c3."]
        after = await chat.list_for_notebook(seed.notebook_id, after_id=messages[0].id)
        assert [m.id for m in after] == [m.id for m in messages[1:]]
        assert [m.content for m in await chat.list_for_notebook("nb-2")] == ["other notebook"]


async def test_messages_added_together_keep_their_order(
    sessions: async_sessionmaker[AsyncSession], seed: Seed
) -> None:
    lines: list[tuple[ChatRole, str, str | None]] = [
        (ChatRole.TOOL, f"call {i}", f'{{"i": {i}}}') for i in range(5)
    ]
    lines.append((ChatRole.ASSISTANT, "done", None))
    async with sessions.begin() as session:
        await ChatRepository(session).add(seed.notebook_id, ChatRole.USER, "go")
        await ChatRepository(session).add_many(seed.notebook_id, lines, turn_id=seed.turn_id)
        await ChatRepository(session).add_many(seed.notebook_id, [], turn_id=seed.turn_id)
    async with sessions() as session:
        messages = await ChatRepository(session).list_for_notebook(seed.notebook_id)
    # list_for_notebook orders by id: the ids ascend in the order the lines were given
    assert [(m.role, m.content, m.data_json) for m in messages[1:]] == lines
    assert {m.turn_id for m in messages[1:]} == {seed.turn_id}
