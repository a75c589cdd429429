"""Every store test runs on SQLite and on a real PostgreSQL (ids `sqlite`, `postgres`).

A test takes the backend through `db_url` (a fresh, empty database of its own) or `engine`
(one migrated to head). Tests marked `sqlite_only` look at what only SQLite has (the
database file, its backups, PRAGMAs) and run on SQLite alone; `postgres_only` ones test
what only PostgreSQL has (TRUNCATE).
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
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
from tests.support.postgres import PostgresCluster

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
BACKENDS = ("sqlite", "postgres")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" not in metafunc.fixturenames:
        return
    backends: tuple[str, ...] = BACKENDS
    if metafunc.definition.get_closest_marker("sqlite_only"):
        backends = ("sqlite",)
    elif metafunc.definition.get_closest_marker("postgres_only"):
        backends = ("postgres",)
    metafunc.parametrize("backend", backends)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """The SQLite file (sqlite_only tests read it directly)."""
    return tmp_path / "hexa.db"


@pytest.fixture
def db_url(backend: str, db_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh database of the test's backend, dropped after: a new SQLite file, or a new
    database in the run's PostgreSQL cluster (started on first use). Empty, unless the test
    takes `engine` too: then PostgreSQL's is a copy of a migrated template."""
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{db_path}"
        return
    cluster: PostgresCluster = request.getfixturevalue("postgres")
    template = "template0"
    if "engine" in request.fixturenames:
        template = request.getfixturevalue("postgres_template")
    name = cluster.create_database(template=template)
    try:
        yield cluster.url(name)
    finally:
        cluster.drop_database(name)


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database migrated to head once per run; tests get copies (migrating takes ~0.1 s)."""
    path = tmp_path_factory.mktemp("template") / "hexa.db"
    asyncio.run(upgrade_database(f"sqlite+aiosqlite:///{path}"))
    # The last connection closed checkpointed the WAL, so the one file is the database.
    assert not path.with_name("hexa.db-wal").exists()
    return path


@pytest.fixture(scope="session")
def postgres_template(postgres: PostgresCluster) -> str:
    """PostgreSQL's migrated template, made once per run (in a thread: an event loop may
    be running in this one); a copy costs less than migrating."""
    name = postgres.create_database("hexa_template")
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, upgrade_database(postgres.url(name))).result()
    return name


@pytest.fixture
async def engine(
    backend: str, db_path: Path, db_url: str, migrated_template: Path
) -> AsyncIterator[AsyncEngine]:
    """An engine on `db_url`, at head: SQLite's file is a copy of a migrated one (and
    PostgreSQL's database a copy of a migrated template, see `db_url`)."""
    if backend == "sqlite":
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
