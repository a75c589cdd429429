from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import delete, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.sql import Executable

from hexa.store import AuditEntry, AuditRepository, Decision, NotebookRepository, UserRepository

from .conftest import T0, Seed


async def _append(
    sessions: async_sessionmaker[AsyncSession], seed: Seed, n: int, notebook_id: str | None = None
) -> list[AuditEntry]:
    entries = []
    async with sessions.begin() as session:
        audit = AuditRepository(session)
        for i in range(n):
            entries.append(
                await audit.append(
                    user_id=seed.user_id,
                    user_name="alice",
                    notebook_id=notebook_id or seed.notebook_id,
                    turn_id=seed.turn_id,
                    prompt="tidy up",
                    tool_name="edit_cell",
                    args={"cell_id": f"c{i}", "code": "x = 1"},
                    code_before="x = 0",
                    code_after="x = 1",
                    decision=Decision.AUTO,
                    outcome="ok",
                    duration_ms=12.5,
                    at=T0 + timedelta(seconds=i),
                )
            )
    return entries


async def test_entries_are_listed_newest_first_with_a_limit(
    sessions: async_sessionmaker[AsyncSession], seed: Seed
) -> None:
    await _append(sessions, seed, 5)
    await _append(sessions, seed, 2, notebook_id="elsewhere")
    async with sessions() as session:
        audit = AuditRepository(session)
        page = await audit.list_for_notebook(seed.notebook_id, limit=3)
        assert [e.args_json for e in page] == [
            '{"cell_id":"c4","code":"x = 1"}',
            '{"cell_id":"c3","code":"x = 1"}',
            '{"cell_id":"c2","code":"x = 1"}',
        ]
        older = await audit.list_for_notebook(seed.notebook_id, before_id=page[-1].id)
        assert [e.at for e in older] == [T0 + timedelta(seconds=1), T0]
        first = older[-1]
        assert (first.decision, first.code_before, first.code_after, first.duration_ms) == (
            Decision.AUTO,
            "x = 0",
            "x = 1",
            12.5,
        )
        assert len(await audit.list_for_notebook("elsewhere")) == 2


@pytest.mark.parametrize(
    "statement",
    [
        text("UPDATE audit_log SET outcome = 'rewritten'"),
        update(AuditEntry).values(decision=Decision.APPROVED),
        text("DELETE FROM audit_log"),
        delete(AuditEntry),
    ],
    ids=["raw-update", "orm-update", "raw-delete", "orm-delete"],
)
async def test_the_database_refuses_to_change_or_delete_entries(
    sessions: async_sessionmaker[AsyncSession], seed: Seed, statement: Executable
) -> None:
    await _append(sessions, seed, 2)
    async with sessions() as session:
        with pytest.raises(IntegrityError, match="append-only"):
            await session.execute(statement)
    async with sessions() as session:
        entries = await AuditRepository(session).list_for_notebook(seed.notebook_id)
        assert [e.outcome for e in entries] == ["ok", "ok"]


@pytest.mark.postgres_only
async def test_postgres_refuses_truncate_too(
    sessions: async_sessionmaker[AsyncSession], seed: Seed
) -> None:
    """TRUNCATE fires no row triggers; PostgreSQL's statement trigger catches it."""
    await _append(sessions, seed, 1)
    async with sessions() as session:
        with pytest.raises(IntegrityError, match="append-only"):
            await session.execute(text("TRUNCATE audit_log"))
    async with sessions() as session:
        assert len(await AuditRepository(session).list_for_notebook(seed.notebook_id)) == 1


async def test_editing_a_loaded_entry_is_refused(
    sessions: async_sessionmaker[AsyncSession], seed: Seed
) -> None:
    await _append(sessions, seed, 1)
    async with sessions() as session:
        [entry] = await AuditRepository(session).list_for_notebook(seed.notebook_id)
        entry.outcome = "nothing happened"
        with pytest.raises(IntegrityError, match="append-only"):
            await session.flush()


async def test_the_log_outlives_its_notebook_and_user(
    sessions: async_sessionmaker[AsyncSession], seed: Seed
) -> None:
    await _append(sessions, seed, 3)
    async with sessions.begin() as session:
        assert await NotebookRepository(session).delete(seed.user_id, seed.notebook_id)
        assert await UserRepository(session).delete(seed.user_id)
    async with sessions() as session:
        entries = await AuditRepository(session).list_for_notebook(seed.notebook_id)
        assert [(e.user_id, e.user_name) for e in entries] == [(seed.user_id, "alice")] * 3


async def test_an_entry_is_written_with_its_state_change_or_not_at_all(
    sessions: async_sessionmaker[AsyncSession], seed: Seed
) -> None:
    async def rename_then_fail() -> None:
        async with sessions.begin() as session:
            await NotebookRepository(session).rename(seed.user_id, seed.notebook_id, name="New")
            await AuditRepository(session).append(
                user_id=seed.user_id,
                notebook_id=seed.notebook_id,
                tool_name="rename",
                args='{"name":"New"}',
                outcome="ok",
            )
            raise RuntimeError("the service failed before commit")

    with pytest.raises(RuntimeError):
        await rename_then_fail()
    async with sessions() as session:
        assert await AuditRepository(session).list_for_notebook(seed.notebook_id) == []
        notebook = await NotebookRepository(session).get(seed.user_id, seed.notebook_id)
        assert notebook is not None
        assert notebook.name == "Analysis"
