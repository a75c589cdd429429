from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from hexa.store import (
    ChatRepository,
    ChatRole,
    Notebook,
    NotebookRepository,
    TurnRepository,
    UserRepository,
    create_engine,
    create_sessionmaker,
    is_sqlite,
)

from .conftest import Seed


async def test_sqlite_connections_enforce_foreign_keys_in_wal_mode(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        assert (await connection.exec_driver_sql("PRAGMA foreign_keys")).scalar() == 1
        assert (await connection.exec_driver_sql("PRAGMA journal_mode")).scalar() == "wal"
        assert (await connection.exec_driver_sql("PRAGMA busy_timeout")).scalar() == 5000


def test_backend_detection() -> None:
    assert is_sqlite("sqlite+aiosqlite:///x.db")
    assert not is_sqlite("postgresql+asyncpg://u:p@localhost/hexa")


async def test_data_survives_reopening_the_engine(db_url: str, engine: AsyncEngine) -> None:
    async with create_sessionmaker(engine).begin() as session:
        new = await UserRepository(session).create("alice")
        await NotebookRepository(session).create(new.user.id, "nb-1", "a.py", "A")
    await engine.dispose()

    reopened = create_engine(db_url)
    try:
        async with create_sessionmaker(reopened)() as session:
            user = await UserRepository(session).find_by_token(new.token)
            assert user is not None
            assert user.name == "alice"
            notebooks = await NotebookRepository(session).list_for_owner(user.id)
            assert [n.id for n in notebooks] == ["nb-1"]
    finally:
        await reopened.dispose()


async def test_foreign_keys_are_enforced(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session:
        with pytest.raises(IntegrityError, match="FOREIGN KEY"):
            await NotebookRepository(session).create(999, "nb-x", "x.py", "X")
        await session.rollback()
        with pytest.raises(IntegrityError, match="FOREIGN KEY"):
            await ChatRepository(session).add("no-such-notebook", ChatRole.USER, "hi")


async def test_deleting_a_user_cascades_to_their_rows(
    sessions: async_sessionmaker[AsyncSession], seed: Seed
) -> None:
    async with sessions.begin() as session:
        await ChatRepository(session).add(seed.notebook_id, ChatRole.USER, "hi")
    async with sessions.begin() as session:
        assert await UserRepository(session).delete(seed.user_id)
    async with sessions() as session:
        assert (await session.scalars(select(Notebook))).all() == []
        assert await TurnRepository(session).get(seed.turn_id) is None
        assert await ChatRepository(session).list_for_notebook(seed.notebook_id) == []


async def test_timestamps_come_back_aware_in_utc(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    paris = timezone(timedelta(hours=1))
    opened = datetime(2026, 3, 1, 13, 30, tzinfo=paris)
    async with sessions.begin() as session:
        user = (await UserRepository(session).create("alice")).user
        await NotebookRepository(session).create(user.id, "nb-1", "a.py", "A")
        await NotebookRepository(session).mark_opened(user.id, "nb-1", now=opened)
    async with sessions() as session:
        notebook = await NotebookRepository(session).get(user.id, "nb-1")
        assert notebook is not None
        assert notebook.last_opened_at == datetime(2026, 3, 1, 12, 30, tzinfo=UTC)
        assert notebook.last_opened_at.tzinfo is UTC
        assert notebook.created_at.tzinfo is UTC


async def test_naive_datetimes_are_refused(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session:
        user = (await UserRepository(session).create("alice")).user
        with pytest.raises(StatementError, match="naive datetime"):
            await NotebookRepository(session).create(
                user.id, "nb-1", "a.py", "A", now=datetime(2026, 1, 1)
            )


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE notebooks SET status = 'exploded'",
        "UPDATE turns SET status = 'maybe'",
        "INSERT INTO chat_messages (notebook_id, role, content, created_at) "
        "VALUES ('nb-1', 'hacker', 'x', '2026-01-01 00:00:00.000000')",
    ],
)
async def test_the_database_checks_enumerated_columns(
    sessions: async_sessionmaker[AsyncSession], seed: Seed, sql: str
) -> None:
    async with sessions() as session:
        with pytest.raises(IntegrityError, match="CHECK"):
            await session.execute(text(sql))
