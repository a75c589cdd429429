from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from hexa.store import (
    AuditEntry,
    AuditRepository,
    ChatMessage,
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


@pytest.mark.sqlite_only
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
        with pytest.raises(IntegrityError, match=r"(?i)FOREIGN KEY"):
            await NotebookRepository(session).create(999, "nb-x", "x.py", "X")
        await session.rollback()
        with pytest.raises(IntegrityError, match=r"(?i)FOREIGN KEY"):
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


async def test_row_ids_are_64_bit(sessions: async_sessionmaker[AsyncSession], seed: Seed) -> None:
    """The API takes `after_id`/`before_id` up to 2**63 - 1: a bound past every row, never
    an error (PostgreSQL's SERIAL ids were 32-bit until migration 0004)."""
    largest = 2**63 - 1
    async with sessions.begin() as session:
        said = await ChatRepository(session).add(seed.notebook_id, ChatRole.USER, "hi")
        logged = await AuditRepository(session).append(
            user_id=seed.user_id, notebook_id=seed.notebook_id, tool_name="t", args={}, outcome="ok"
        )
    async with sessions() as session:
        chat = ChatRepository(session)
        assert await chat.list_for_notebook(seed.notebook_id, after_id=largest) == []
        assert [m.id for m in await chat.list_for_notebook(seed.notebook_id, after_id=0)] == [
            said.id
        ]
        audit = AuditRepository(session)
        entries = await audit.list_for_notebook(seed.notebook_id, before_id=largest)
        assert [e.id for e in entries] == [logged.id]


@pytest.mark.postgres_only
@pytest.mark.parametrize("table", ["chat_messages", "audit_log"])
async def test_postgres_gives_out_ids_past_32_bits(
    sessions: async_sessionmaker[AsyncSession], seed: Seed, table: str
) -> None:
    """Column and sequence were both widened: the id after 2**40 is 2**40 + 1."""
    async with sessions.begin() as session:
        await session.execute(
            text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), {2**40})")
        )
        if table == "chat_messages":
            row: ChatMessage | AuditEntry = await ChatRepository(session).add(
                seed.notebook_id, ChatRole.USER, "hi"
            )
        else:
            row = await AuditRepository(session).append(
                user_id=seed.user_id, notebook_id="nb", tool_name="t", args={}, outcome="ok"
            )
    assert row.id == 2**40 + 1


@pytest.mark.parametrize(
    "odd", ["a\x00b", "\x00", "\uffff", "\uffff0", "\uffff\x00\uffff1", "plain"]
)
async def test_any_text_round_trips_nul_included(
    sessions: async_sessionmaker[AsyncSession], seed: Seed, odd: str
) -> None:
    """PostgreSQL's text refuses NUL, which a message, a name or an output may carry."""
    async with sessions.begin() as session:
        await NotebookRepository(session).rename(seed.user_id, seed.notebook_id, name=odd)
        said = await ChatRepository(session).add(seed.notebook_id, ChatRole.USER, odd)
        logged = await AuditRepository(session).append(
            user_id=seed.user_id, notebook_id="nb-odd", tool_name="t", args=odd, outcome=odd
        )
    async with sessions() as session:
        [notebook] = (await session.scalars(select(Notebook).where(Notebook.name == odd))).all()
        assert notebook.name == odd
        [message] = await ChatRepository(session).list_for_notebook(seed.notebook_id)
        assert (message.id, message.content) == (said.id, odd)
        [entry] = await AuditRepository(session).list_for_notebook("nb-odd")
        assert (entry.id, entry.args_json, entry.outcome) == (logged.id, odd, odd)


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
        with pytest.raises(IntegrityError, match=r"(?i)CHECK"):
            await session.execute(text(sql))
