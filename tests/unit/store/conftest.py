from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from hexa.store import (
    NotebookRepository,
    TurnRepository,
    UserRepository,
    create_engine,
    create_sessionmaker,
    upgrade_database,
)

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "hexa.db"


@pytest.fixture
def db_url(db_path: Path) -> str:
    return f"sqlite+aiosqlite:///{db_path}"


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    await upgrade_database(db_url)
    engine = create_engine(db_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return create_sessionmaker(engine)


@dataclass
class Seed:
    user_id: int
    token: str
    notebook_id: str
    turn_id: str


@pytest.fixture
async def seed(sessions: async_sessionmaker[AsyncSession]) -> Seed:
    """One user with one notebook and one turn in it, committed."""
    async with sessions.begin() as session:
        new = await UserRepository(session).create("alice")
        notebook = await NotebookRepository(session).create(
            new.user.id, "nb-1", "analysis.py", "Analysis"
        )
        turn = await TurnRepository(session).create(notebook.id, new.user.id, "delete cell 3")
        return Seed(new.user.id, new.token, notebook.id, turn.id)
