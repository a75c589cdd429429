from __future__ import annotations

import asyncio
import shutil
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


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database migrated to head once per run; tests get copies (migrating takes ~0.1 s)."""
    path = tmp_path_factory.mktemp("template") / "hexa.db"
    asyncio.run(upgrade_database(f"sqlite+aiosqlite:///{path}"))
    # The last connection closed checkpointed the WAL, so the one file is the database.
    assert not path.with_name("hexa.db-wal").exists()
    return path


@pytest.fixture
async def engine(db_path: Path, db_url: str, migrated_template: Path) -> AsyncIterator[AsyncEngine]:
    shutil.copyfile(migrated_template, db_path)
    await upgrade_database(db_url)  # at head already: a cheap check, and no backup
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
