"""The one-call SQLite adapter (`hexa.store.sqlite_driver`) on a real SQLite file.

Real parts: SQLite, aiosqlite's connection thread, SQLAlchemy's async engine and ORM. What
the adapter changes is how many times a statement crosses threads, so these tests check
what a statement must still report, and that a transaction ends exactly when it should.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from hexa.store import (
    AuditEntry,
    AuditRepository,
    ChatMessage,
    ChatRepository,
    ChatRole,
    sqlite_driver,
)
from hexa.store.models import Turn

from .conftest import Seed

pytestmark = pytest.mark.sqlite_only


@contextlib.contextmanager
def outside_writer(db_path: Path) -> Iterator[sqlite3.Connection]:
    """A writer of its own that does not wait: its BEGIN IMMEDIATE fails with "database
    is locked" while any connection holds SQLite's write lock."""
    outside = sqlite3.connect(db_path, timeout=0)
    try:
        outside.execute("BEGIN IMMEDIATE")
        yield outside
        outside.rollback()
    finally:
        outside.close()


async def test_the_engine_uses_the_one_call_adapter(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        raw = await connection.get_raw_connection()
        assert isinstance(raw.dbapi_connection, sqlite_driver.OneCallConnection)


async def test_a_statement_reports_rows_counts_and_new_ids(
    sessions: async_sessionmaker[AsyncSession], seed: Seed
) -> None:
    async with sessions.begin() as session:
        first = await AuditRepository(session).append(
            user_id=seed.user_id, notebook_id=seed.notebook_id, tool_name="a", args={}, outcome="ok"
        )
        second = await AuditRepository(session).append(
            user_id=seed.user_id, notebook_id=seed.notebook_id, tool_name="b", args={}, outcome="ok"
        )
        # The ORM reads each new row's id from the statement's lastrowid.
        assert second.id == first.id + 1
        # executemany: both rows land
        await ChatRepository(session).add_many(
            seed.notebook_id, [(ChatRole.TOOL, "t", None), (ChatRole.ASSISTANT, "r", None)]
        )
        changed = await session.execute(
            update(Turn).where(Turn.id == seed.turn_id).values(reply="changed")
        )
        assert changed.rowcount == 1  # type: ignore[attr-defined]
    async with sessions() as session:
        names = (await session.scalars(select(AuditEntry.tool_name).order_by(AuditEntry.id))).all()
        assert names == ["a", "b"]
        count = await session.scalar(select(func.count()).select_from(ChatMessage))
        assert count == 2
        assert (await session.get(Turn, seed.turn_id)) is not None


async def test_a_failed_first_write_is_rolled_back_and_frees_the_database(
    sessions: async_sessionmaker[AsyncSession], seed: Seed, db_path: Path
) -> None:
    # The failing INSERT is the transaction's first statement: pysqlite has begun a
    # transaction for it, which the adapter must roll back although no statement
    # before it succeeded; else the pooled connection keeps SQLite's write lock.
    with pytest.raises(IntegrityError):
        async with sessions.begin() as session:
            await ChatRepository(session).add("no-such-notebook", ChatRole.USER, "hi")
    with outside_writer(db_path):  # "database is locked" if the lock leaked
        pass


async def test_a_rolled_back_transaction_leaves_nothing(
    sessions: async_sessionmaker[AsyncSession], seed: Seed
) -> None:
    async with sessions() as session:
        await AuditRepository(session).append(
            user_id=seed.user_id, notebook_id=seed.notebook_id, tool_name="a", args={}, outcome="ok"
        )
        await session.rollback()
        assert await session.scalar(select(func.count()).select_from(AuditEntry)) == 0
        # A read opens no transaction: there is nothing to end, and the session is reusable.
        assert (await session.execute(text("SELECT 1"))).scalar() == 1


async def test_a_streamed_write_is_committed_and_frees_the_database(
    engine: AsyncEngine, seed: Seed, db_path: Path
) -> None:
    # A server-side cursor is aiosqlite's own: it cannot say that it began a
    # transaction, so the adapter must not skip the commit after it.
    async with engine.connect() as connection:
        streamed = await connection.stream(
            update(Turn).where(Turn.id == seed.turn_id).values(reply="streamed").returning(Turn.id)
        )
        assert [row[0] async for row in streamed] == [seed.turn_id]
        await connection.commit()
    with outside_writer(db_path) as outside:  # "database is locked" if the commit was skipped
        assert outside.execute("SELECT reply FROM turns").fetchall() == [("streamed",)]


async def test_fetchmany_without_a_size_takes_one_row_as_sqlite3_does(
    sessions: async_sessionmaker[AsyncSession], seed: Seed
) -> None:
    async with sessions() as session:
        result = await session.execute(text("SELECT 1 UNION ALL SELECT 2 ORDER BY 1"))
        assert result.fetchmany() == [(1,)]
        assert result.fetchmany() == [(2,)]
