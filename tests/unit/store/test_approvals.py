from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import Connection, event
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hexa.store import (
    Approval,
    ApprovalRepository,
    ApprovalStatus,
    NotebookRepository,
    UserRepository,
    args_sha256,
)

from .conftest import T0, Seed

ARGS = {"notebook_id": "nb-1", "cell_ids": ["c3", "c1"]}
TTL = timedelta(minutes=10)


async def _ask(sessions: async_sessionmaker[AsyncSession], seed: Seed) -> Approval:
    async with sessions.begin() as session:
        return await ApprovalRepository(session).create(
            turn_id=seed.turn_id,
            user_id=seed.user_id,
            notebook_id=seed.notebook_id,
            tool_call_id="call-1",
            tool_name="delete_cells",
            args=ARGS,
            description="Delete cells c3 and c1",
            expires_at=T0 + TTL,
            now=T0,
        )


async def _decide(
    sessions: async_sessionmaker[AsyncSession],
    approval_id: str,
    user_id: int,
    approve: bool,
    *,
    after: timedelta = timedelta(seconds=5),
) -> Approval | None:
    async with sessions.begin() as session:
        return await ApprovalRepository(session).decide(approval_id, user_id, approve, T0 + after)


async def _status(sessions: async_sessionmaker[AsyncSession], approval_id: str) -> Approval:
    async with sessions() as session:
        approval = await ApprovalRepository(session).get(approval_id)
    assert approval is not None
    return approval


async def test_stored_with_canonical_arguments_and_their_digest(
    sessions: async_sessionmaker[AsyncSession], seed: Seed
) -> None:
    approval = await _ask(sessions, seed)
    stored = await _status(sessions, approval.id)
    assert stored.status is ApprovalStatus.PENDING
    assert stored.args_json == '{"cell_ids":["c3","c1"],"notebook_id":"nb-1"}'
    assert stored.args_sha256 == args_sha256(dict(reversed(ARGS.items())))
    assert stored.expires_at == T0 + TTL
    with pytest.raises(ValueError, match="expire"):
        async with sessions() as session:
            await ApprovalRepository(session).create(
                turn_id=seed.turn_id,
                user_id=seed.user_id,
                notebook_id=seed.notebook_id,
                tool_call_id="call-2",
                tool_name="delete_cells",
                args=ARGS,
                description="x",
                expires_at=T0,
                now=T0,
            )


async def test_decided_once_only(sessions: async_sessionmaker[AsyncSession], seed: Seed) -> None:
    approval = await _ask(sessions, seed)

    approved = await _decide(sessions, approval.id, seed.user_id, True)
    assert approved is not None
    assert approved.status is ApprovalStatus.APPROVED
    assert approved.decided_by == seed.user_id
    assert approved.decided_at == T0 + timedelta(seconds=5)

    assert await _decide(sessions, approval.id, seed.user_id, False) is None
    assert await _decide(sessions, approval.id, seed.user_id, True) is None
    assert (await _status(sessions, approval.id)).status is ApprovalStatus.APPROVED


async def test_a_rejection_is_final_too(
    sessions: async_sessionmaker[AsyncSession], seed: Seed
) -> None:
    approval = await _ask(sessions, seed)
    rejected = await _decide(sessions, approval.id, seed.user_id, False)
    assert rejected is not None
    assert rejected.status is ApprovalStatus.REJECTED
    assert await _decide(sessions, approval.id, seed.user_id, True) is None
    assert (await _status(sessions, approval.id)).status is ApprovalStatus.REJECTED


async def test_two_concurrent_decisions_apply_exactly_once(
    sessions: async_sessionmaker[AsyncSession], seed: Seed
) -> None:
    for _ in range(10):
        approval = await _ask(sessions, seed)
        results = await asyncio.gather(
            _decide(sessions, approval.id, seed.user_id, True),
            _decide(sessions, approval.id, seed.user_id, False),
        )
        winners = [r for r in results if r is not None]
        assert len(winners) == 1
        assert (await _status(sessions, approval.id)).status is winners[0].status


async def test_many_concurrent_approvals_apply_exactly_once(
    sessions: async_sessionmaker[AsyncSession], seed: Seed
) -> None:
    approval = await _ask(sessions, seed)
    results = await asyncio.gather(
        *(_decide(sessions, approval.id, seed.user_id, True) for _ in range(8))
    )
    assert sum(r is not None for r in results) == 1


async def test_a_decision_waiting_on_another_sees_its_outcome(
    sessions: async_sessionmaker[AsyncSession], seed: Seed
) -> None:
    """Session B decides while A's decision is written but not committed: B waits for the
    write lock, then finds the row no longer pending, even though B read it as pending."""
    approval = await _ask(sessions, seed)
    async with sessions() as first, sessions() as second:
        seen = await ApprovalRepository(second).get(approval.id)
        assert seen is not None
        assert seen.status is ApprovalStatus.PENDING
        updating = asyncio.Event()

        def on_execute(conn: Connection, cursor: object, statement: str, *rest: object) -> None:
            if statement.lstrip().upper().startswith("UPDATE"):
                updating.set()

        connection = await second.connection()
        event.listen(connection.sync_connection, "before_cursor_execute", on_execute)

        won = await ApprovalRepository(first).decide(approval.id, seed.user_id, True, T0)
        assert won is not None
        waiting = asyncio.create_task(
            ApprovalRepository(second).decide(approval.id, seed.user_id, False, T0)
        )
        await updating.wait()  # B's UPDATE is sent, behind A's uncommitted write

        await first.commit()
        assert await waiting is None
        await second.commit()
    assert (await _status(sessions, approval.id)).status is ApprovalStatus.APPROVED


async def test_expired_approvals_cannot_be_approved(
    sessions: async_sessionmaker[AsyncSession], seed: Seed
) -> None:
    approval = await _ask(sessions, seed)
    assert await _decide(sessions, approval.id, seed.user_id, True, after=TTL) is None
    assert await _decide(sessions, approval.id, seed.user_id, True, after=TTL * 2) is None
    assert (await _status(sessions, approval.id)).status is ApprovalStatus.PENDING

    async with sessions.begin() as session:
        repo = ApprovalRepository(session)
        assert await repo.list_pending(seed.notebook_id, now=T0) != []
        assert await repo.list_pending(seed.notebook_id, now=T0 + TTL) == []
        assert await repo.expire_due(T0 + TTL - timedelta(seconds=1)) == 0
        assert await repo.expire_due(T0 + TTL) == 1
        assert await repo.expire_due(T0 + TTL) == 0
    assert (await _status(sessions, approval.id)).status is ApprovalStatus.EXPIRED
    # Even with a clock that went backwards, an expired approval stays unanswerable.
    assert await _decide(sessions, approval.id, seed.user_id, True, after=timedelta()) is None


async def test_only_the_asking_user_and_notebook_can_decide(
    sessions: async_sessionmaker[AsyncSession], seed: Seed
) -> None:
    approval = await _ask(sessions, seed)
    async with sessions.begin() as session:
        mallory = (await UserRepository(session).create("mallory")).user
        await NotebookRepository(session).create(mallory.id, "nb-m", "m.py", "M")
    assert await _decide(sessions, approval.id, mallory.id, True) is None
    assert await _decide(sessions, "no-such-approval", seed.user_id, True) is None
    async with sessions.begin() as session:
        repo = ApprovalRepository(session)
        assert await repo.decide(approval.id, seed.user_id, True, T0, notebook_id="nb-m") is None
        decided = await repo.decide(
            approval.id, seed.user_id, True, T0, notebook_id=seed.notebook_id
        )
        assert decided is not None
        assert decided.decided_by == seed.user_id


async def test_an_approved_call_runs_once_and_only_as_approved(
    sessions: async_sessionmaker[AsyncSession], seed: Seed
) -> None:
    approval = await _ask(sessions, seed)
    bound, other = args_sha256(ARGS), args_sha256({**ARGS, "cell_ids": ["c9"]})
    async with sessions.begin() as session:
        repo = ApprovalRepository(session)
        # Not yet approved: nothing to run.
        assert (
            await repo.consume(approval.id, tool_name="delete_cells", bound_sha256=bound, now=T0)
            is None
        )
    await _decide(sessions, approval.id, seed.user_id, True)
    async with sessions.begin() as session:
        repo = ApprovalRepository(session)
        assert (
            await repo.consume(approval.id, tool_name="delete_cells", bound_sha256=other, now=T0)
            is None
        )
        assert (
            await repo.consume(approval.id, tool_name="restart", bound_sha256=bound, now=T0) is None
        )
        used = await repo.consume(approval.id, tool_name="delete_cells", bound_sha256=bound, now=T0)
        assert used is not None
        assert used.consumed_at == T0
        assert (
            await repo.consume(approval.id, tool_name="delete_cells", bound_sha256=bound, now=T0)
            is None
        )
