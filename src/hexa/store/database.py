"""Engine and session factories for SQLite (aiosqlite) and PostgreSQL (asyncpg)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.ext.asyncio import create_async_engine as _create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

from hexa.store import sqlite_driver

# How long a SQLite writer waits for another writer's lock before "database is locked".
SQLITE_BUSY_TIMEOUT_MS = 5000


def is_sqlite(url: str | URL) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def create_engine(url: str, *, echo: bool = False) -> AsyncEngine:
    """An async engine for `url` (`sqlite+aiosqlite:///...` or `postgresql+asyncpg://...`).

    SQLite connections get foreign keys on (off by default in SQLite, and the cascades
    depend on them), WAL (readers do not block the writer) and a busy timeout (concurrent
    writers wait for each other instead of failing at once).

    pysqlite's own transaction handling is kept on purpose: it begins a transaction at the
    first write, not at the first read, so a read-then-write session does not hold a stale
    WAL snapshot that would make its write fail with SQLITE_BUSY instead of waiting. The
    cost is that SAVEPOINTs are unreliable, so the repositories never use them.
    Statements reach SQLite through `sqlite_driver` (one thread hand-off each).
    """
    if not is_sqlite(url):
        return _create_async_engine(url, echo=echo, pool_pre_ping=True)
    engine = _create_async_engine(url, echo=echo, module=sqlite_driver.dbapi())
    event.listen(engine.sync_engine, "connect", _on_sqlite_connect)
    return engine


def _on_sqlite_connect(dbapi_connection: Any, connection_record: ConnectionPoolEntry) -> None:
    cursor = dbapi_connection.cursor()
    try:
        # foreign_keys is a no-op inside a transaction; at connect time there is none.
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    finally:
        cursor.close()


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions for `engine`.

    `expire_on_commit=False` because touching an expired attribute would reload it with
    IO, which async sessions cannot do implicitly; rows stay usable after commit.
    """
    return async_sessionmaker(engine, expire_on_commit=False)
