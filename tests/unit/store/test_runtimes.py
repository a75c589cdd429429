"""Replicas' heartbeats and notebooks' claims, on SQLite and on a real PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hexa.store import (
    NotebookRepository,
    NotebookStatus,
    ReplicaRepository,
    RuntimeRepository,
    TurnRepository,
    TurnStatus,
)

from .conftest import T0, Seed


async def test_a_replica_is_live_until_its_heartbeat_is_older_than_the_timeout(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions.begin() as session:
        replicas = ReplicaRepository(session)
        await replicas.beat("a", now=T0)
        await replicas.beat("b", now=T0)
        await replicas.beat("a", now=T0 + timedelta(seconds=8))
    async with sessions.begin() as session:
        replicas = ReplicaRepository(session)
        assert await replicas.live(10, now=T0 + timedelta(seconds=9)) == {"a", "b"}
        assert await replicas.live(10, now=T0 + timedelta(seconds=11)) == {"a"}
        await replicas.forget("a")
        assert await replicas.live(10, now=T0 + timedelta(seconds=9)) == {"b"}


async def test_a_claim_passes_only_from_a_replica_that_is_gone(
    sessions: async_sessionmaker[AsyncSession], seed: Seed
) -> None:
    nb = seed.notebook_id
    async with sessions.begin() as session:
        runtimes = RuntimeRepository(session)
        first = await runtimes.claim(nb, "a", "bwrap", live={"a", "b"}, now=T0)
        assert first is not None
        assert first.replica_id == "a"
        assert first.origin is None
        assert await runtimes.publish(
            nb, "a", origin="http://127.0.0.1:1", token="t", session_id="s"
        )
        # A live holder keeps it; B's publish names a claim it does not have.
        assert await runtimes.claim(nb, "b", "bwrap", live={"a", "b"}) is None
        assert not await runtimes.publish(nb, "b", origin="x", token="x", session_id="x")
        # Its own claim again: kept (and what it published forgotten until it runs again).
        again = await runtimes.claim(nb, "a", "bwrap", live={"a", "b"})
        assert again is not None
        assert again.origin is None
        # A gone: B takes it.
        taken = await runtimes.claim(nb, "b", "docker", live={"b"})
        assert taken is not None
        assert (taken.replica_id, taken.sandbox) == ("b", "docker")
        # A, back, releases what it thinks it holds: B's claim stays.
        await runtimes.release(nb, "a")
        held = await runtimes.get(nb)
        assert held is not None
        assert held.replica_id == "b"
        assert await runtimes.release_all("b") == 1
        assert await runtimes.get(nb) is None


async def test_two_first_claims_at_once_have_one_winner(
    sessions: async_sessionmaker[AsyncSession], seed: Seed
) -> None:
    async def claim(replica: str) -> str | None:
        try:
            async with sessions.begin() as session:
                won = await RuntimeRepository(session).claim(
                    seed.notebook_id, replica, "bwrap", live={"a", "b"}
                )
                # Both look before either inserts: the race the primary key settles.
                await asyncio.sleep(0)
                return won.replica_id if won is not None else None
        except IntegrityError:
            return None

    results = await asyncio.gather(claim("a"), claim("b"))
    winners = [r for r in results if r is not None]
    assert len(winners) == 1, results
    async with sessions() as session:
        held = await RuntimeRepository(session).get(seed.notebook_id)
    assert held is not None
    assert held.replica_id == winners[0]


async def test_use_through_any_replica_is_recorded_for_the_holders_cull(
    sessions: async_sessionmaker[AsyncSession], seed: Seed
) -> None:
    async with sessions.begin() as session:
        runtimes = RuntimeRepository(session)
        await runtimes.claim(seed.notebook_id, "a", "bwrap", live={"a"}, now=T0)
        await runtimes.touch(seed.notebook_id, now=T0 + timedelta(minutes=5))
    async with sessions() as session:
        found = await RuntimeRepository(session).last_activity([seed.notebook_id, "none"])
    assert found == {seed.notebook_id: T0 + timedelta(minutes=5)}


async def test_at_start_only_notebooks_no_live_replica_runs_are_reset(
    sessions: async_sessionmaker[AsyncSession], seed: Seed
) -> None:
    async with sessions.begin() as session:
        notebooks = NotebookRepository(session)
        await notebooks.create(seed.user_id, "nb-2", "two.py", "Two")
        for nid in (seed.notebook_id, "nb-2"):
            await notebooks.set_status(nid, NotebookStatus.RUNNING)
        await RuntimeRepository(session).claim("nb-2", "b", "bwrap", live={"b"})
    async with sessions.begin() as session:
        assert await NotebookRepository(session).reset_statuses(keep_held_by={"b"}) == 1
    async with sessions() as session:
        notebooks = NotebookRepository(session)
        first = await notebooks.get(seed.user_id, seed.notebook_id)
        second = await notebooks.get(seed.user_id, "nb-2")
    assert first is not None
    assert first.status is NotebookStatus.STOPPED
    assert second is not None
    assert second.status is NotebookStatus.RUNNING


@pytest.mark.parametrize("replica", [None, "gone"])
async def test_only_turns_of_replicas_that_are_gone_are_interrupted(
    sessions: async_sessionmaker[AsyncSession], seed: Seed, replica: str | None
) -> None:
    async with sessions.begin() as session:
        turns = TurnRepository(session)
        await turns.update(seed.turn_id, status=TurnStatus.FAILED)
        mine = await turns.create(seed.notebook_id, seed.user_id, "x", replica_id=replica)
        theirs = await turns.create(seed.notebook_id, seed.user_id, "y", replica_id="alive")
    async with sessions.begin() as session:
        stopped = await TurnRepository(session).interrupt_running("gone", spare={"alive"})
    assert [t.id for t in stopped] == [mine.id]
    async with sessions() as session:
        kept = await TurnRepository(session).get(theirs.id)
    assert kept is not None
    assert kept.status is TurnStatus.RUNNING
