"""One agent turn per notebook across replicas: advisory locks on a real PostgreSQL, and
the turn lock that combines them with the in-process one."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy.engine import make_url

from hexa.agent.turns import TurnLocks
from hexa.cluster.locks import PgAdvisoryLocks
from hexa.errors import ConflictError
from tests.support.postgres import PostgresCluster


@pytest.fixture
async def dsn(postgres: PostgresCluster) -> AsyncIterator[str]:
    name = postgres.create_database()
    url = make_url(postgres.url(name)).set(drivername="postgresql")
    yield url.render_as_string(hide_password=False)
    postgres.drop_database(name)


async def test_a_lock_held_on_one_replica_is_refused_on_another_until_released(
    dsn: str,
) -> None:
    replica_a, replica_b = PgAdvisoryLocks(dsn), PgAdvisoryLocks(dsn)
    async with replica_a.hold("turn:n1", 1.0) as held:
        assert held
        async with replica_b.hold("turn:n1", 0.3) as other:
            assert not other
        async with replica_b.hold("turn:n2", 0.3) as unrelated:
            assert unrelated
    async with replica_b.hold("turn:n1", 0.3) as after:
        assert after


async def test_a_waiting_turn_gets_the_lock_when_the_other_replicas_turn_ends(dsn: str) -> None:
    a, b = TurnLocks(PgAdvisoryLocks(dsn)), TurnLocks(PgAdvisoryLocks(dsn))
    order: list[str] = []
    release = asyncio.Event()
    entered = asyncio.Event()

    async def first() -> None:
        async with a.hold("n1"):
            order.append("a")
            entered.set()
            await release.wait()

    async def second() -> None:
        await entered.wait()
        async with b.hold("n1", wait=10):
            order.append("b")

    task_a = asyncio.create_task(first())
    task_b = asyncio.create_task(second())
    await entered.wait()
    release.set()  # A's turn ends; B, waiting on A's lock (see above), gets it after

    await asyncio.gather(task_a, task_b)
    assert order == ["a", "b"]


async def test_a_turn_held_elsewhere_past_the_wait_is_a_409(dsn: str) -> None:
    a, b = TurnLocks(PgAdvisoryLocks(dsn)), TurnLocks(PgAdvisoryLocks(dsn))
    async with a.hold("n1"):
        with pytest.raises(ConflictError, match="still working"):
            async with b.hold("n1", wait=0.3):
                pass
